//! Creating tasks: one path for everything (Linux `kernel/fork.c`).
//!
//! `fork`, `vfork`, `clone`, `clone3`, kernel threads and the first user process all go
//! through [`do_fork`] (Linux 6's `kernel_clone`, called `do_fork` before 5.10):
//!
//! ```text
//! do_fork
//!   copy_process                check the flags, then build the child:
//!     dup_task_struct           a new Task with a fresh kernel stack (never copied)
//!     copy_files                CLONE_FILES: share the descriptor table; else dup_fd (same files)
//!     copy_fs                   CLONE_FS: share cwd and umask; else a copy
//!     copy_mm                   CLONE_VM: share the mm; else dup_mm -> dup_mmap -> copy_page_range
//!     copy_thread               child's pt_regs and cpu_context (arch/aarch64/process.rs)
//!   wake_up_new_task            put it on the run queue
//!   ptrace_event_pid            a traced parent stops: its tracer hears of the child
//!   (CLONE_VFORK) wait until the child exits or execs (then PTRACE_EVENT_VFORK_DONE)
//! ```
//!
//! When the parent is traced and its tracer asked for the fork's event
//! (`PTRACE_O_TRACEFORK`, `TRACEVFORK`, `TRACECLONE`), or the caller passed
//! `CLONE_PTRACE`, the child starts traced by the same tracer with `SIGSTOP` pending
//! (`ptrace_init_task`, in `ptrace.rs`), unless `CLONE_UNTRACED`.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::arch::memory::MAX_THREADS;
use crate::arch::mmu_context::flush_tlb_mm;
use crate::arch::process::{copy_thread, ChildStart};
use crate::errno::*;
use crate::mm::kstack::KernelStack;
use crate::mm::memory::{copy_page_range, CopyCount};
use crate::mm::uaccess::UserPtr;
use crate::mm::Mm;
use crate::pid::{PID_MAX, PID_TABLE};
use crate::sched::wait::Completion;
use crate::sched::wake_up_new_task;
use crate::signal::SIGCHLD;
use crate::sync::{lock_class, IrqSpinLock};
use crate::task::*;
use crate::trace;
use forkos_lib::uapi::ptrace::{
    PTRACE_EVENT_CLONE, PTRACE_EVENT_FORK, PTRACE_EVENT_VFORK, PTRACE_EVENT_VFORK_DONE,
};

pub use forkos_lib::uapi::clone::*;
/// Namespace flags: creating namespaces needs privileges forkos does not model.
const CLONE_NAMESPACES: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET;

/// What to create (Linux `struct kernel_clone_args`).
#[derive(Clone, Copy, Default)]
pub struct KernelCloneArgs {
    /// `CLONE_*` flags without the exit signal.
    pub flags: u64,
    /// Signal sent to the parent at exit (Linux `exit_signal`).
    pub exit_signal: i32,
    /// New user stack pointer (0: the parent's).
    pub stack: u64,
    pub parent_tid: UserPtr<i32>,
    pub child_tid: UserPtr<i32>,
    pub tls: u64,
    /// A kernel thread's function and argument.
    pub kthread_fn: Option<(extern "C" fn(u64) -> u64, u64)>,
    /// A kernel thread (never runs user code).
    pub kthread: bool,
    /// clone3's `set_tid`: the pid to give the child in each pid namespace from the
    /// innermost out; forkos has one, so only the first is read.
    pub set_tid: [Pid; 1],
    /// How many `set_tid` entries the caller gave (0: allocate as usual).
    pub set_tid_size: u64,
}

/// Count of tasks, for the thread limit (Linux `nr_threads`).
static NR_THREADS: IrqSpinLock<usize, { lock_class::NR_THREADS }> = IrqSpinLock::new(0);

/// The most tasks there may be (Linux `max_threads`), set once at boot by
/// [`fork_init`].
static MAX_THREADS_LIMIT: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(20);

/// Size the task limit once the page allocator knows the memory (Linux `fork_init` ->
/// `set_max_threads`): as many tasks as an eighth of memory holds kernel stacks, at
/// least 20, and no more than forkos has kernel stack slots (less the idle task's).
pub fn fork_init() {
    let pages = crate::mm::page_alloc::nr_managed_pages();
    let per_thread = 8 * crate::arch::memory::THREAD_SIZE / forkos_lib::pgtable::PAGE_SIZE;
    let n = (pages / per_thread).clamp(20, MAX_THREADS - 1);
    MAX_THREADS_LIMIT.store(n, Ordering::Relaxed);
}

/// The most tasks there may be (Linux `max_threads`).
pub fn max_threads() -> usize {
    MAX_THREADS_LIMIT.load(Ordering::Relaxed)
}

/// The clone-flag combinations Linux refuses with `EINVAL`, checked before anything is
/// allocated (Linux `copy_process`, first block).
pub fn check_clone_flags(flags: u64) -> Result<(), Errno> {
    if flags & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS) {
        return Err(EINVAL);
    }
    if flags & (CLONE_NEWUSER | CLONE_FS) == (CLONE_NEWUSER | CLONE_FS) {
        return Err(EINVAL);
    }
    // Threads share signal handlers, and shared handlers need shared memory.
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_THREAD != 0 && flags & (CLONE_NEWUSER | CLONE_NEWPID) != 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_PIDFD != 0 && flags & (CLONE_DETACHED | CLONE_THREAD) != 0 {
        return Err(EINVAL);
    }
    // A pidfd is a file descriptor of a kind forkos has no file operations for yet:
    // refused, where ignoring it would leave the caller's pidfd unwritten.
    if flags & CLONE_PIDFD != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

/// Allocate the child's task with a fresh kernel stack (Linux `dup_task_struct`). The
/// stack is new and empty: nothing of the parent's kernel stack is copied.
fn dup_task_struct(
    pid: Pid,
    tgid: Pid,
    kthread: bool,
    signal: Arc<SignalStruct>,
    sighand: Arc<SigHand>,
) -> Result<Arc<Task>, Errno> {
    let stack = KernelStack::alloc().ok_or(ENOMEM)?;
    let comm = *current().comm.lock();
    // TASK_NEW: not runnable until wake_up_new_task.
    let task = Arc::new(Task::new(pid, tgid, kthread, stack, signal, sighand, comm));
    // Linux dup_task_struct copies cpus_mask, and sched_fork puts the child on the
    // parent's CPU until wake_up_new_task chooses one.
    let parent = current();
    task.cpus_mask
        .store(parent.cpus_mask.load(Ordering::Relaxed), Ordering::Relaxed);
    task.cpu
        .store(parent.cpu.load(Ordering::Relaxed), Ordering::Relaxed);
    trace::dup_task_struct(&task);
    Ok(task)
}

/// Copy every mapping of `oldmm` into a new address space (Linux `dup_mmap`).
fn dup_mmap(mm: &Mm, oldmm: &Mm) -> Result<(), Errno> {
    let old = oldmm.lock();
    let mut new = mm.lock();
    new.start_brk = old.start_brk;
    new.brk = old.brk;
    (new.arg_start, new.arg_end) = (old.arg_start, old.arg_end);
    (new.env_start, new.env_end) = (old.env_start, old.env_end);
    new.start_stack = old.start_stack;
    // Linux `dup_mm_exe_file`.
    new.exe_file = old.exe_file.clone();
    // The VMAs go in first, so that if copying fails half-way, tearing the new mm down
    // drops the references already taken.
    new.vmas = old.vmas.clone();
    let mut count = CopyCount::default();
    let mut result = Ok(());
    for mpnt in old.vmas.iter() {
        if copy_page_range(mm, oldmm, mpnt, &mut count).is_err() {
            result = Err(ENOMEM);
            break;
        }
    }
    // The parent's entries may just have lost write permission: drop them from the TLB,
    // once for the whole address space (Linux `flush_tlb_mm` at the end of `dup_mmap`).
    // Some may have been write-protected before a failure too.
    if count.cow > 0 || result.is_err() {
        flush_tlb_mm(&oldmm.context);
    }
    trace::dup_mmap(old.vmas.len(), count.ptes, count.cow);
    result
}

/// A copy of `oldmm` (Linux `dup_mm`).
fn dup_mm(oldmm: &Mm) -> Result<Arc<Mm>, Errno> {
    let mm = Mm::new_shared().ok_or(ENOMEM)?;
    // On failure, dropping mm frees whatever was copied so far.
    dup_mmap(&mm, oldmm)?;
    Ok(mm)
}

/// The child's address space (Linux `copy_mm`): none for a kernel thread, the parent's
/// own with `CLONE_VM` (one more user), otherwise a copy.
fn copy_mm(flags: u64, kthread: bool) -> Result<Option<Arc<Mm>>, Errno> {
    let Some(oldmm) = current().get_task_mm() else {
        return Ok(None); // from a kernel thread
    };
    if kthread {
        return Ok(None);
    }
    if flags & CLONE_VM != 0 {
        trace::copy_mm_shared();
        return Ok(Some(oldmm));
    }
    dup_mm(&oldmm).map(Some)
}

/// Build the child, but do not start it (Linux `copy_process`); `trace` is the ptrace
/// event `do_fork` will report, 0 for none.
fn copy_process(args: &KernelCloneArgs, trace: i32) -> Result<Arc<Task>, Errno> {
    let flags = args.flags;
    check_clone_flags(flags)?;
    // EXERCISE clone_parent: begin
    let cur = &current();
    // The init process may not make siblings (Linux: SIGNAL_UNKILLABLE and CLONE_PARENT).
    if flags & CLONE_PARENT != 0 && cur.tgid == 1 {
        return Err(EINVAL);
    }
    // EXERCISE clone_parent: end
    if flags & CLONE_NAMESPACES != 0 {
        return Err(EPERM);
    }
    {
        let mut n = NR_THREADS.lock();
        if *n >= max_threads() {
            return Err(EAGAIN);
        }
        *n += 1;
    }
    let result = copy_process_counted(args, trace);
    if result.is_err() {
        *NR_THREADS.lock() -= 1;
    }
    result
}

fn copy_process_counted(args: &KernelCloneArgs, trace: i32) -> Result<Arc<Task>, Errno> {
    let flags = args.flags;
    let cur = &current();
    let pid = alloc_pid(args)?;
    let release_pid = |e| {
        let _ = PID_TABLE.lock().free(pid);
        e
    };
    // The signal actions (Linux `copy_sighand`): shared with CLONE_SIGHAND (always so for
    // threads), else a copy of the parent's; CLONE_CLEAR_SIGHAND resets handlers, but
    // not ignored signals.
    let sighand = {
        let parent = cur.inner.lock().sighand.clone();
        if flags & CLONE_SIGHAND != 0 {
            parent
        } else {
            let sighand = SigHand::copy_of(&parent);
            if flags & CLONE_CLEAR_SIGHAND != 0 {
                crate::signal::reset_handlers(&mut sighand.lock());
            }
            sighand
        }
    };
    let (tgid, signal) = if flags & CLONE_THREAD != 0 {
        (cur.tgid, cur.signal.clone())
    } else {
        // A new process: its own group state, with the parent's resource limits
        // (Linux `copy_signal`).
        // It is in the parent's process group and session (Linux `copy_process`:
        // `init_task_pid(p, PIDTYPE_PGID, task_pgrp(current))`), read under the
        // task-list lock, so that a `setpgid` is seen before or after, never half.
        let signal = SignalStruct::new(&cur.signal.inner.lock().rlim);
        {
            let _tasklist = TASKLIST_LOCK.lock();
            let cs = cur.signal.inner.lock();
            let mut s = signal.inner.lock();
            s.pgrp = cs.pgrp;
            s.session = cs.session;
            // Linux `copy_signal`: `sig->tty = tty_kref_get(current->signal->tty)`.
            s.tty = cs.tty;
            s.forknoexec = true;
        }
        (pid, signal)
    };
    let p = dup_task_struct(pid, tgid, args.kthread, signal, sighand).map_err(release_pid)?;
    // Linux `rseq_fork`.
    if args.flags & CLONE_VM == 0 {
        p.rseq.inherit(&current().rseq);
        crate::rseq::rseq_set_notify_resume(&p);
    }
    // The descriptor table and the working directory (Linux `copy_files`, `copy_fs`).
    {
        let (files, fs) = {
            let ci = cur.inner.lock();
            (ci.files.clone(), ci.fs.clone())
        };
        let parent_had_files = files.is_some();
        let files = crate::fs::fdtable::copy_files(flags, files.as_ref());
        let fs = crate::fs::fs_struct::copy_fs(flags, fs.as_ref());
        trace::copy_files(&p, flags, &files, parent_had_files);
        let mut pi = p.inner.lock();
        pi.files = Some(files);
        pi.fs = Some(fs);
    }
    let mm = copy_mm(flags, args.kthread).map_err(release_pid)?;
    let start = match args.kthread_fn {
        Some((f, arg)) => ChildStart::KernelThread { f, arg },
        None => ChildStart::User {
            stack: args.stack,
            tls: (flags & CLONE_SETTLS != 0).then_some(args.tls),
        },
    };
    // SAFETY: p is new and has never run.
    unsafe { copy_thread(&p, start) };
    trace::copy_thread(&p);

    // From here on nothing can fail: link the child in (Linux: under tasklist_lock).
    // The child's parent, and the signal it sends that parent at exit: the caller and
    // the signal asked for, unless...
    let mut parent_and_signal = (Arc::downgrade(&current_arc()), args.exit_signal);
    // EXERCISE clone_parent: begin
    // ... CLONE_PARENT or CLONE_THREAD re-use the caller's parent (Linux: "CLONE_PARENT
    // re-uses the old parent").
    if flags & (CLONE_PARENT | CLONE_THREAD) != 0 {
        let exit_signal = if flags & CLONE_THREAD != 0 {
            -1
        } else {
            // CLONE_PARENT: the group leader's exit signal, not the requested one.
            group_leader_exit_signal(cur)
        };
        parent_and_signal = (cur.inner.lock().parent.clone(), exit_signal);
    }
    // EXERCISE clone_parent: end
    p.set_new_task_mm(mm);
    {
        let mut pi = p.inner.lock();
        pi.parent = parent_and_signal.0.clone();
        pi.exit_signal = parent_and_signal.1;
        pi.blocked = cur.inner.lock().blocked;
        pi.set_child_tid = if flags & CLONE_CHILD_SETTID != 0 {
            args.child_tid
        } else {
            UserPtr::default()
        };
        pi.clear_child_tid = if flags & CLONE_CHILD_CLEARTID != 0 {
            args.child_tid
        } else {
            UserPtr::default()
        };
    }
    {
        // A process that is dying (exit_group or a fatal signal arrived meanwhile)
        // makes no new task that could outlive the kill (Linux: "fatal_signal_pending"
        // in copy_process, -ERESTARTNOINTR; the caller dies before it could retry).
        let parent_dying = cur.fatal_signal_pending();
        let mut s = p.signal.inner.lock();
        if s.group_exit_code.is_some() || parent_dying {
            drop(s);
            p.set_new_task_mm(None);
            crate::fs::fdtable::exit_files(&p);
            crate::fs::fs_struct::exit_fs(&p);
            let _ = PID_TABLE.lock().free(pid);
            return Err(EINTR);
        }
        s.live += 1;
        s.threads.push(Arc::downgrade(&p));
    }
    if flags & CLONE_THREAD == 0 {
        if let Some(parent) = parent_and_signal.0.upgrade() {
            parent.inner.lock().children.push(p.clone());
        }
    }
    let ptrace = flags & CLONE_PTRACE != 0 || trace != 0;
    if ptrace {
        // The child of a traced parent may start traced (Linux: under tasklist_lock,
        // where the tracer's exit cannot cross it; an untraced fork has nothing to do).
        let tasklist = TASKLIST_LOCK.lock();
        crate::ptrace::ptrace_init_task(&p, ptrace, &tasklist);
    }
    PID_TABLE.lock().attach(pid, &p);
    Ok(p)
}

/// The child's pid (Linux `alloc_pid`): the next free one, or the one clone3's
/// `set_tid` chose — which must be in `1..pid_max` (`EINVAL`) and free (`EEXIST`).
/// forkos has only the initial pid namespace (level 0), so `set_tid` names one pid.
fn alloc_pid(args: &KernelCloneArgs) -> Result<Pid, Errno> {
    if args.set_tid_size > 1 {
        return Err(EINVAL);
    }
    let mut table = PID_TABLE.lock();
    if args.set_tid_size == 0 {
        return table.alloc().ok_or(EAGAIN);
    }
    let tid = args.set_tid[0];
    if !(1..PID_MAX).contains(&tid) {
        return Err(EINVAL);
    }
    // Choosing a pid needs CAP_CHECKPOINT_RESTORE, which root (all forkos runs as) has.
    table.alloc_nr(tid).ok_or(EEXIST)
}

/// The exit signal of `t`'s thread-group leader.
fn group_leader_exit_signal(t: &Task) -> i32 {
    if t.is_group_leader() {
        return t.inner.lock().exit_signal;
    }
    PID_TABLE
        .lock()
        .find(t.tgid)
        .map_or(SIGCHLD, |l| l.inner.lock().exit_signal)
}

/// Create a task as `args` says and start it; returns its pid (Linux `kernel_clone`).
pub fn do_fork(args: &KernelCloneArgs) -> Result<Pid, Errno> {
    trace::do_fork(args);
    // The event a traced parent reports (Linux 6.1 `kernel_clone`): none with
    // CLONE_UNTRACED; a vfork, a "clone" (a child that will not signal SIGCHLD, such
    // as a thread) or a fork, if the tracer asked for that one.
    let mut trace = 0;
    if args.flags & CLONE_UNTRACED == 0 {
        trace = if args.flags & CLONE_VFORK != 0 {
            PTRACE_EVENT_VFORK
        } else if args.exit_signal != SIGCHLD {
            PTRACE_EVENT_CLONE
        } else {
            PTRACE_EVENT_FORK
        };
        if !crate::ptrace::ptrace_event_enabled(&current(), trace) {
            trace = 0;
        }
    }
    let p = copy_process(args, trace)?;
    let nr = p.pid;
    if args.flags & CLONE_PARENT_SETTID != 0 {
        // In the parent's memory; Linux ignores a bad pointer here.
        let _ = args.parent_tid.write(&nr);
    }
    // EXERCISE vfork: begin
    let vfork = (args.flags & CLONE_VFORK != 0).then(|| {
        let done = Arc::new(Completion::new());
        p.inner.lock().vfork_done = Some(done.clone());
        done
    });
    // EXERCISE vfork: end
    wake_up_new_task(p);
    trace::wake_up_new_task(nr);
    // The child runs; tell the tracer (the seed's `ptrace_notify((trace << 8) | SIGTRAP)`).
    if trace != 0 {
        crate::ptrace::ptrace_event_pid(trace, nr);
    }
    // EXERCISE vfork: begin
    if let Some(done) = vfork {
        trace::vfork_wait(nr);
        // Killable: a fatal signal ends the wait; the child goes on.
        let _ = done.wait();
        trace::vfork_done(nr);
    }
    // EXERCISE vfork: end
    // The vfork child let go of the memory: tell the tracer, unless a fatal signal cut
    // the wait short (Linux: `if (!wait_for_vfork_done(p, &vfork))`).
    if args.flags & CLONE_VFORK != 0 && !current().fatal_signal_pending() {
        crate::ptrace::ptrace_event_pid(PTRACE_EVENT_VFORK_DONE, nr);
    }
    Ok(nr)
}

/// Start a kernel thread running `f(arg)` (Linux `kernel_thread`): it shares the kernel's
/// (lack of a) user address space and starts in `ret_from_fork` with `f` in x19.
pub fn kernel_thread(f: extern "C" fn(u64) -> u64, arg: u64) -> Result<Pid, Errno> {
    do_fork(&KernelCloneArgs {
        flags: CLONE_VM | CLONE_UNTRACED,
        exit_signal: -1,
        kthread_fn: Some((f, arg)),
        kthread: true,
        ..Default::default()
    })
}

/// Start a task that runs `f(arg)` in the kernel and then returns to user space with the
/// context `f` set up (Linux `user_mode_thread`; how init starts).
pub fn user_mode_thread(f: extern "C" fn(u64) -> u64, arg: u64) -> Result<Pid, Errno> {
    do_fork(&KernelCloneArgs {
        flags: 0,
        exit_signal: SIGCHLD,
        kthread_fn: Some((f, arg)),
        kthread: false,
        ..Default::default()
    })
}

/// `clone(flags, newsp, parent_tid, tls, child_tid)`, arm64 argument order (Linux
/// `sys_clone` with CONFIG_CLONE_BACKWARDS). The legacy call checks neither unknown flag
/// bits nor the signal number.
pub fn sys_clone(
    flags: u64,
    newsp: u64,
    parent_tid: UserPtr<i32>,
    tls: u64,
    child_tid: UserPtr<i32>,
) -> SysResult {
    trace::syscall_enter(forkos_lib::uapi::nr::CLONE as u64);
    let flags32 = flags & 0xffff_ffff;
    // The legacy call passes the pidfd pointer in parent_tid: both cannot be asked for.
    if flags32 & CLONE_PIDFD != 0 && flags32 & CLONE_PARENT_SETTID != 0 {
        return Err(EINVAL);
    }
    do_fork(&KernelCloneArgs {
        flags: flags32 & !CSIGNAL,
        exit_signal: (flags32 & CSIGNAL) as i32,
        stack: newsp,
        parent_tid,
        child_tid,
        tls,
        ..Default::default()
    })
    .map(i64::from)
}

/// `fork()` (Linux `sys_fork`): arm64 has no such syscall number; the in-kernel helper
/// shows what it means.
pub fn sys_fork() -> SysResult {
    sys_clone(SIGCHLD as u64, 0, UserPtr::default(), 0, UserPtr::default())
}

/// `vfork()` (Linux `sys_vfork`), likewise only an in-kernel helper on arm64.
pub fn sys_vfork() -> SysResult {
    let none = UserPtr::default();
    sys_clone(CLONE_VM | CLONE_VFORK | SIGCHLD as u64, 0, none, 0, none)
}

/// The most nested pid namespaces, and so the longest `set_tid` (Linux
/// `MAX_PID_NS_LEVEL`).
const MAX_PID_NS_LEVEL: u64 = 32;

/// Read a `struct clone_args` of `user_size` bytes at `src` into `dst` (Linux
/// `copy_struct_from_user`): bytes beyond what this kernel knows are checked first and
/// must be zero (`E2BIG`), then only the known part is read; a shorter struct leaves
/// the fields it lacks zero.
fn copy_struct_from_user(dst: &mut [u8], src: UserPtr<u8>, user_size: u64) -> Result<(), Errno> {
    let src = src.addr();
    let ksize = dst.len() as u64;
    if user_size > ksize {
        // Linux `check_zeroed_user`.
        let mut buf = [0u8; 64];
        let mut at = ksize;
        while at < user_size {
            let n = (user_size - at).min(buf.len() as u64) as usize;
            let at_src = UserPtr::new(src.checked_add(at).ok_or(EFAULT)?);
            crate::mm::uaccess::copy_from_user(&mut buf[..n], at_src)?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(E2BIG);
            }
            at += n as u64;
        }
    }
    let size = user_size.min(ksize) as usize;
    crate::mm::uaccess::copy_from_user(&mut dst[..size], UserPtr::new(src))
}

/// `clone3(uargs, size)` (Linux `sys_clone3`: `copy_clone_args_from_user`,
/// `clone3_args_valid`, then `kernel_clone`).
pub fn sys_clone3(uargs: UserPtr<CloneArgs>, size: u64) -> SysResult {
    trace::syscall_enter(forkos_lib::uapi::nr::CLONE3 as u64);
    // copy_clone_args_from_user
    if size > forkos_lib::pgtable::PAGE_SIZE as u64 {
        return Err(E2BIG);
    }
    if size < CLONE_ARGS_SIZE_VER0 as u64 {
        return Err(EINVAL);
    }
    // `struct clone_args` as big as Linux 6.1 knows it (VER2).
    let mut raw = [0u8; CLONE_ARGS_SIZE_VER2];
    copy_struct_from_user(&mut raw, uargs.cast(), size)?;
    let CloneArgs {
        flags,
        pidfd: _,
        child_tid,
        parent_tid,
        exit_signal,
        stack,
        stack_size,
        tls,
        set_tid,
        set_tid_size,
        cgroup,
    } = CloneArgs::from_bytes(&raw);
    if set_tid_size > MAX_PID_NS_LEVEL || (set_tid == 0) != (set_tid_size == 0) {
        return Err(EINVAL);
    }
    if exit_signal & !CSIGNAL != 0 || exit_signal > 64 {
        return Err(EINVAL);
    }
    if flags & CLONE_INTO_CGROUP != 0
        && (cgroup > i32::MAX as u64 || size < CLONE_ARGS_SIZE_VER2 as u64)
    {
        return Err(EINVAL);
    }
    // The whole set_tid array is read, though only its first pid can be used here.
    let mut kset_tid = [0u8; 4 * MAX_PID_NS_LEVEL as usize];
    if set_tid != 0 {
        let set_tid = UserPtr::new(set_tid);
        crate::mm::uaccess::copy_from_user(&mut kset_tid[..4 * set_tid_size as usize], set_tid)?;
    }
    // clone3_args_valid
    if flags & !(0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
        return Err(EINVAL);
    }
    if flags & (CSIGNAL | CLONE_DETACHED) != 0 {
        return Err(EINVAL);
    }
    if flags & (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) == (CLONE_SIGHAND | CLONE_CLEAR_SIGHAND) {
        return Err(EINVAL);
    }
    if flags & (CLONE_THREAD | CLONE_PARENT) != 0 && exit_signal != 0 {
        return Err(EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(EINVAL);
    }
    let sp = if stack != 0 {
        let top = stack.checked_add(stack_size).ok_or(EINVAL)?;
        if top > crate::mm::TASK_SIZE {
            return Err(EINVAL);
        }
        top
    } else {
        0
    };
    if flags & CLONE_INTO_CGROUP != 0 {
        return Err(EBADF); // no cgroup file descriptors exist
    }
    do_fork(&KernelCloneArgs {
        flags: flags & !CLONE_INTO_CGROUP,
        exit_signal: exit_signal as i32,
        stack: sp,
        parent_tid: UserPtr::new(parent_tid),
        child_tid: UserPtr::new(child_tid),
        tls,
        set_tid: [i32::from_le_bytes(
            kset_tid[..4].try_into().expect("4 bytes"),
        )],
        set_tid_size,
        ..Default::default()
    })
    .map(i64::from)
}

/// A task went away for good: give its slot back (called from `release_task`).
pub fn release_thread_count() {
    let mut n = NR_THREADS.lock();
    *n = n.saturating_sub(1);
}

/// Let go of the address space (Linux `exit_mm` -> `mm_release`): clear and wake the
/// `CLONE_CHILD_CLEARTID` word, release a vfork parent, drop our reference.
pub fn mm_release(tsk: &Task) {
    // What the task itself set up, taken in one look: only it changes these fields.
    let (robust, clear_tid, vfork_done, mm_users) = {
        let mut i = tsk.inner.lock();
        let users = i.mm().map_or(0, Arc::strong_count);
        (
            core::mem::take(&mut i.robust_list),
            core::mem::take(&mut i.clear_child_tid),
            i.vfork_done.take(),
            users,
        )
    };
    // Robust mutexes the thread still holds are marked as orphaned (Linux
    // `futex_exit_release`).
    crate::futex::exit_robust_list(robust, tsk.pid as u32);
    // Only if others still use the memory (Linux checks mm_users > 1).
    if !clear_tid.is_null() && mm_users > 1 && clear_tid.write(&0).is_ok() {
        crate::futex::futex_wake(clear_tid.cast(), 1);
    }
    if let Some(done) = vfork_done {
        crate::trace::mm_release_vfork(tsk.pid);
        done.complete();
    }
}

/// `set_tid_address(tidptr)`: remember where to clear and wake at exit; returns the tid.
pub fn sys_set_tid_address(tidptr: UserPtr<i32>) -> SysResult {
    let t = &current();
    t.inner.lock().clear_child_tid = tidptr;
    Ok(t.pid as i64)
}

/// A CPU's idle task: pid 0, a kernel thread named `swapper` (`swapper/N` on CPU N) on
/// `stack`, with signal state of its own. The boot CPU's turns the boot context into
/// one (Linux's static `init_task`); the others get a fresh stack ([`fork_idle`]).
pub fn idle_task(cpu: usize, stack: KernelStack) -> Arc<Task> {
    let signal = SignalStruct::new(&crate::resource::INIT_RLIMITS);
    signal.inner.lock().live = 1;
    let mut comm = *b"swapper\0\0\0\0\0\0\0\0\0";
    if cpu > 0 {
        comm[7] = b'/';
        let mut n = cpu;
        let digits = if cpu >= 10 { 2 } else { 1 };
        for i in (0..digits).rev() {
            comm[8 + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    Arc::new(Task::new(0, 0, true, stack, signal, SigHand::new(), comm))
}

/// The idle task of secondary CPU `cpu`, on a stack of its own with the guard below it
/// like any task's (Linux `fork_idle`); `None` when memory runs out.
pub fn fork_idle(cpu: usize) -> Option<Arc<Task>> {
    Some(idle_task(cpu, KernelStack::alloc()?))
}
