//! After boot: the first processes (Linux `init/main.c`: `rest_init`, `kernel_init`,
//! `run_init_process`).
//!
//! `start_kernel` ends in [`rest_init`], which starts pid 1 with `user_mode_thread` (so
//! it goes through `do_fork` like every other task), shows a kernel thread taking the
//! `x19` branch of `ret_from_fork`, and becomes the idle task. Pid 1 runs
//! [`kernel_init`] in the kernel, which `execve`s the init program and *returns*:
//! `ret_from_fork` then carries it to user space through `ret_to_user`.
//!
//! forkos departs from Linux in one place: when init exits, Linux panics; forkos powers
//! QEMU off with init's exit status (128 + n if signal n killed it), after checking that
//! every page used since init started came back.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::arch::semihosting;
use crate::exec::kernel_execve;
use crate::fork::{kernel_thread, user_mode_thread};
use crate::mm::page_alloc;
use crate::pid::PID_TABLE;
use crate::println;
use crate::sched::cpu_idle;
use crate::task::current;

/// The user programs built into the kernel image (from the `user/` crate): the root file
/// system when there is no initrd.
pub static PROGRAMS: &[(&str, &[u8])] = &[
    (
        "init",
        include_bytes!(concat!(env!("FORKOS_USER_DIR"), "/init")),
    ),
    (
        "utest",
        include_bytes!(concat!(env!("FORKOS_USER_DIR"), "/utest")),
    ),
    (
        "sysfuzz",
        include_bytes!(concat!(env!("FORKOS_USER_DIR"), "/sysfuzz")),
    ),
];

/// The kernel command line, kept for init's arguments.
static CMDLINE: spin::Once<String> = spin::Once::new();
/// Wait status of init once it has exited; -1 while it runs.
static INIT_STATUS: AtomicI32 = AtomicI32::new(-1);
/// Free pages before init started.
static PAGES_AT_INIT: AtomicUsize = AtomicUsize::new(0);
/// Slab pages per size class before init started.
static SLABS_AT_INIT: spin::Once<[(usize, usize); crate::mm::slab::NR_CLASSES]> = spin::Once::new();

/// The kernel thread of the demo: it runs here, called from `ret_from_fork` through x19
/// with its argument from x20.
extern "C" fn kthread_demo(arg: u64) -> u64 {
    let t = &current();
    println!(
        "kthread: pid {} running fn(arg = {arg:#x}) through ret_from_fork's x19 branch, kernel stack {:#x}-{:#x}",
        t.pid,
        t.stack.base(),
        t.stack.top()
    );
    crate::exit::do_exit(0)
}

/// Start pid 1 and a demo kernel thread, then become the idle task (Linux `rest_init`).
pub fn rest_init(cmdline: &str) -> ! {
    CMDLINE.call_once(|| String::from(cmdline));
    // Everything allocated from here on (init, the kernel thread, all processes) must
    // be given back by the time init has exited and been reaped.
    crate::mm::slab::shrink();
    SLABS_AT_INIT.call_once(crate::mm::slab::pages_per_class);
    PAGES_AT_INIT.store(page_alloc::nr_free_pages(), Ordering::Relaxed);
    // Create both before either can run, so that init is pid 1 and the kernel thread
    // pid 2 (Linux's kthreadd), whichever gets the CPU first.
    let flags = crate::arch::irqflags::local_irq_save();
    let pid = user_mode_thread(kernel_init, 0).expect("cannot start init");
    assert_eq!(pid, 1, "init must be pid 1");
    kernel_thread(kthread_demo, 0xf0f0).expect("cannot start a kernel thread");
    crate::arch::irqflags::local_irq_restore(flags);
    cpu_idle()
}

/// Pid 1 in the kernel: run the init program (Linux `kernel_init` -> `run_init_process`).
extern "C" fn kernel_init(_arg: u64) -> u64 {
    let cmdline = CMDLINE.get().map(String::as_str).unwrap_or("");
    // Linux: `init=` names the program; words after `--` are its arguments.
    let path = forkos_lib::cmdline::get(cmdline, "init").unwrap_or("/init");
    let after = forkos_lib::cmdline::init_args(cmdline);
    let mut argv: Vec<&str> = alloc::vec![path];
    argv.extend(after.split_ascii_whitespace());
    let envp = ["HOME=/", "TERM=linux"];
    // Linux `kernel_init_freeable` -> `console_on_rootfs`: init's fds 0, 1, 2.
    if let Err(e) = crate::fs::console_on_rootfs() {
        println!(
            "Warning: unable to open an initial console (error {}).",
            e.0
        );
    }
    if let Err(e) = kernel_execve(path, &argv, &envp) {
        panic!(
            "Requested init {path} failed (error {}). No working init found.",
            e.0
        );
    }
    0 // back through ret_from_fork into the new program
}

/// Called by `do_exit` when the last thread of init exits.
pub fn init_exited(status: i32) {
    INIT_STATUS.store(status, Ordering::Release);
}

/// Run by the idle task between interrupts: once init has exited and been released,
/// report the page count and power off.
pub fn idle_work() {
    let status = INIT_STATUS.load(Ordering::Acquire);
    if status < 0 {
        return;
    }
    // Reap init ourselves (its parent, the idle task, never waits).
    let init = PID_TABLE.lock().find(1);
    if let Some(init) = init {
        if init.state() == crate::task::TaskState::Zombie {
            crate::exit::reap_init(&init);
        } else {
            return;
        }
    }
    // The idle task's list of children held init and the kernel thread: give its room
    // back too, as it was before they existed.
    current().inner.lock().children.shrink_to_fit();
    crate::sched::wait_for_finished_switches();
    // And the kernel stacks kept for reuse.
    crate::mm::kstack::drain_cache();
    // The mounts go with the last process of their namespace (Linux `put_mnt_ns`).
    crate::fs::namespace::put_mnt_ns();
    // Last, the empty slabs the caches keep, now that nothing more is freed.
    crate::mm::slab::shrink();
    let before = PAGES_AT_INIT.load(Ordering::Relaxed);
    let after = page_alloc::nr_free_pages();
    println!("forkos: free pages before init started {before}, after it exited {after}");
    if crate::arch::mmu_context::asid_bits_limited() {
        println!(
            "forkos: ASID rollovers {}",
            crate::arch::mmu_context::asid_rollovers()
        );
    }
    if before != after {
        println!(
            "forkos: slab pages (object size, pages) before {:?}, after {:?}; {} task structures, {} open files and {} inodes exist",
            SLABS_AT_INIT.get(),
            crate::mm::slab::pages_per_class(),
            crate::task::TASKS_ALLOCATED.load(Ordering::Relaxed),
            crate::fs::file::FILES_ALLOCATED.load(Ordering::Relaxed),
            crate::fs::inode::INODES_ALLOCATED.load(Ordering::Relaxed)
        );
        for t in PID_TABLE.lock().all() {
            println!(
                "forkos: still alive: pid {} ({}) state {:?}, {} references",
                t.pid,
                crate::task::Comm(&t),
                t.state(),
                alloc::sync::Arc::strong_count(&t) - 1
            );
        }
    }
    let code = if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    };
    println!("forkos: init exited with status {status:#x}; power off, exit status {code}");
    semihosting::exit(code as u32)
}
