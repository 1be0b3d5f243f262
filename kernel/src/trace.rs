//! The fork trace: with `trace=fork` on the kernel command line (`make run
//! TRACE=fork`), forkos narrates every process creation as it happens. Off, each hook is
//! one load and a branch.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::process::task_pt_regs;
use crate::arch::ptrace::PtRegs;
use crate::fork::KernelCloneArgs;
use crate::println;
use crate::task::{current, Comm, Pid, Task};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turn tracing on or off from the command line.
pub fn init(cmdline: &str) {
    let on = forkos_lib::cmdline::get(cmdline, "trace")
        .is_some_and(|v| v.split(',').any(|w| w == "fork"));
    ENABLED.store(on, Ordering::Relaxed);
}

#[inline(always)]
fn on() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `svc` of a process-creating syscall (`clone`, `clone3`, which call this first): where
/// kernel_entry saved the frame. Other syscalls are not narrated and pay nothing.
pub fn syscall_enter(scno: u64) {
    if on() {
        let t = &current();
        // SAFETY: in a syscall, the current task's pt_regs hold its user context.
        let regs = unsafe { &*t.pt_regs() };
        println!(
            "[trace] {}[{}]: svc #0 at pc {:#x}, x8 = {scno} ({}), x0 = {:#x}; kernel_entry saved pt_regs at {:#x}",
            Comm(t),
            t.pid,
            regs.pc - 4,
            crate::syscall::syscall_name(scno),
            regs.orig_x0,
            regs as *const PtRegs as u64
        );
    }
}

pub fn do_fork(args: &KernelCloneArgs) {
    if on() {
        println!(
            "[trace]   do_fork(flags {:#x}, exit_signal {}, stack {:#x}){}",
            args.flags,
            args.exit_signal,
            args.stack,
            if args.kthread_fn.is_some() {
                " for a kernel-mode start"
            } else {
                ""
            }
        );
    }
}

pub fn dup_task_struct(p: &Task) {
    if on() {
        let cur = &current();
        println!(
            "[trace]     copy_process -> dup_task_struct: new task pid {}, fresh kernel stack {:#x}-{:#x} (parent's: {:#x}-{:#x}), nothing copied",
            p.pid,
            p.stack.base(),
            p.stack.top(),
            cur.stack.base(),
            cur.stack.top()
        );
    }
}

/// `copy_files` and `copy_fs`: shared or copied, and how many descriptors the child has.
pub fn copy_files(
    p: &Task,
    flags: u64,
    files: &crate::fs::fdtable::FilesStruct,
    parent_had_files: bool,
) {
    if on() {
        let open = files.fdt.lock().fd.iter().filter(|f| f.is_some()).count();
        let files_how = if !parent_had_files {
            "a new, empty descriptor table (the idle task has none)"
        } else if flags & crate::fork::CLONE_FILES != 0 {
            "CLONE_FILES, sharing the parent's descriptor table"
        } else {
            "dup_fd, a copy of the parent's table whose entries share each open file (and its offset)"
        };
        let fs_how = if flags & crate::fork::CLONE_FS != 0 {
            "CLONE_FS, sharing cwd and umask"
        } else {
            "a copy of cwd and umask"
        };
        println!(
            "[trace]     copy_files: {files_how}; pid {} has {open} open descriptors; copy_fs: {fs_how}",
            p.pid
        );
    }
}

/// `execve`'s half of the descriptor story (Linux `begin_new_exec`: `unshare_files`,
/// `do_close_on_exec`): which descriptors the new program lost, and which it keeps.
pub fn exec_files(
    t: &Task,
    files: &crate::fs::fdtable::FilesStruct,
    unshared: bool,
    closed: &[usize],
) {
    if on() {
        let open: alloc::vec::Vec<usize> = {
            let fdt = files.fdt.lock();
            (0..fdt.fd.len())
                .filter(|&fd| fdt.fd[fd].is_some())
                .collect()
        };
        println!(
            "[trace] pid {}: execve -> begin_new_exec: {}do_close_on_exec closed {} (FD_CLOEXEC); {} stay open",
            t.pid,
            if unshared {
                "unshare_files copied the table shared with CLONE_FILES; "
            } else {
                ""
            },
            fd_list(closed),
            fd_list(&open)
        );
    }
}

/// `fds 3, 10`, `fd 1`, or `no descriptor`.
fn fd_list(fds: &[usize]) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    match fds.len() {
        0 => s.push_str("no descriptor"),
        1 => s.push_str("fd "),
        _ => s.push_str("fds "),
    }
    for (i, fd) in fds.iter().enumerate() {
        let _ = write!(s, "{}{fd}", if i > 0 { ", " } else { "" });
    }
    s
}

pub fn copy_mm_shared() {
    if on() {
        println!("[trace]     copy_mm: CLONE_VM, sharing the parent's mm (one more user)");
    }
}

pub fn dup_mmap(vmas: usize, ptes: usize, cow: usize) {
    if on() {
        println!("[trace]     copy_mm -> dup_mm -> dup_mmap: {vmas} VMAs, copy_page_range shared {ptes} pages, {cow} of them copy-on-write (read-only in both address spaces)");
    }
}

pub fn cow_fault(va: u64, old: crate::arch::memory::PhysAddr, new: crate::arch::memory::PhysAddr) {
    if on() {
        let pid = crate::task::current().pid;
        if old == new {
            println!("[trace] pid {pid}: write fault at {va:#x}: do_wp_page -> wp_page_reuse (last user of page {:#x}, made writable)", old.0);
        } else {
            println!("[trace] pid {pid}: write fault at {va:#x}: do_wp_page -> wp_page_copy (page {:#x} copied to {:#x})", old.0, new.0);
        }
    }
}

pub fn copy_thread(p: &Task) {
    if on() {
        // SAFETY: p is new and not running; reading its thread struct is race-free.
        let ctx = unsafe { (*p.thread.get()).cpu_context };
        let regs = task_pt_regs(p);
        // SAFETY: copy_thread just initialised the child's pt_regs.
        let x0 = unsafe { (*regs).regs[0] };
        println!(
            "[trace]     copy_thread: childregs at {:#x}, regs[0] = {x0}, x19 = {:#x}, x20 = {:#x}, pc = ret_from_fork, sp = childregs",
            regs as u64,
            ctx.x19,
            ctx.x20
        );
    }
}

pub fn wake_up_new_task(pid: Pid) {
    if on() {
        println!("[trace]   wake_up_new_task({pid}); the parent's clone returns {pid}");
    }
}

pub fn vfork_wait(pid: Pid) {
    if on() {
        println!("[trace]   CLONE_VFORK: parent sleeps on its completion until child {pid} exits or execs");
    }
}

pub fn vfork_done(pid: Pid) {
    if on() {
        println!("[trace]   CLONE_VFORK: parent woken, child {pid} released the mm");
    }
}

pub fn mm_release_vfork(pid: Pid) {
    if on() {
        println!("[trace] mm_release: pid {pid} completes vfork_done, waking its parent");
    }
}

/// `schedule_tail` has finished the switch to a new task; `ret_from_fork` tests x19 next.
/// The CPU is named: the child's first instructions run on whichever CPU picked it.
pub fn ret_from_fork(t: &Task) {
    if on() {
        println!(
            "[trace] pid {}: ret_from_fork -> schedule_tail, on cpu {}",
            t.pid,
            crate::arch::percpu::smp_processor_id()
        );
    }
}

/// `ret_from_fork` found x19 = 0 (or, with `x19` the function of a kernel thread, that
/// function returned, having exec'd a program) and is about to run `kernel_exit`: what
/// it will restore, read from the live `pt_regs` frame.
#[no_mangle]
extern "C" fn trace_ret_from_fork_to_user(regs: &PtRegs, x19: u64) {
    if on() {
        let how: alloc::string::String = if x19 == 0 {
            "x19 = 0".into()
        } else {
            alloc::format!("the function in x19 ({x19:#x}) returned")
        };
        println!(
            "[trace] pid {}: ret_from_fork: {how} -> ret_to_user -> kernel_exit, which erets to pc {:#x} with x0 = {}",
            current().pid,
            regs.pc,
            regs.regs[0]
        );
    }
}

pub fn do_exit(t: &Task, code: i32) {
    if on() {
        println!("[trace] pid {}: do_exit({code:#x})", t.pid);
    }
}

/// `copy_process` made the child of a traced parent traced too (`ptrace_init_task`).
pub fn ptrace_init_task(child: &Task, tracer: &Task, seized: bool) {
    if on() {
        let how = if seized {
            "a PTRACE_EVENT_STOP trap pending"
        } else {
            "SIGSTOP pending"
        };
        println!(
            "[trace]   ptrace_init_task: child {} traced by {} too, with {how}",
            child.pid, tracer.pid
        );
    }
}

/// `kernel_clone` tells the tracer of the new child (`ptrace_event_pid`).
pub fn ptrace_event_pid(event: i32, pid: Pid) {
    if on() {
        let name = match event {
            1 => "PTRACE_EVENT_FORK",
            2 => "PTRACE_EVENT_VFORK",
            3 => "PTRACE_EVENT_CLONE",
            5 => "PTRACE_EVENT_VFORK_DONE",
            _ => "PTRACE_EVENT",
        };
        println!("[trace]   ptrace_event_pid({name}, {pid}): the parent stops for its tracer");
    }
}

/// A tracee stops for its tracer (`ptrace_stop`); only the fork trace's events.
pub fn ptrace_stop(t: &Task, exit_code: i32) {
    if on() && exit_code >> 8 != 0 && exit_code & 0x7f == crate::signal::SIGTRAP {
        println!(
            "[trace]   ptrace_stop: pid {} in TASK_TRACED, wait status {:#x}",
            t.pid,
            (exit_code << 8) | 0x7f
        );
    }
}
