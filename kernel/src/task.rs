//! Tasks: what Linux's `struct task_struct` holds for forkos (Linux
//! `include/linux/sched.h`, `kernel/pid.c`).
//!
//! A task is a thread of execution with its own kernel stack. Tasks that share an address
//! space ([`Mm`]) are threads of one process when they also share a thread group
//! ([`SignalStruct`], Linux `signal_struct`): `getpid()` returns the group's `tgid`,
//! `gettid()` the task's own `pid`.
//!
//! Fields that never change after creation are plain; the rest are behind locks or atomics,
//! so it is clear from the type what needs a lock.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering,
};

use crate::arch::percpu;
use crate::arch::process::ThreadStruct;
use crate::arch::ptrace::PtRegs;
use crate::mm::kstack::KernelStack;
use crate::mm::uaccess::UserPtr;
use crate::mm::Mm;
use crate::sched::wait::{Completion, WaitQueue};
use crate::sync::{lock_class, IrqSpinLock};

/// A process or thread id.
pub type Pid = i32;

/// Scheduling state (Linux `TASK_*`, `EXIT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum TaskState {
    Running = 0,
    Interruptible = 1,
    Uninterruptible = 2,
    /// Exited, waiting for its parent to reap it (`EXIT_ZOMBIE`).
    Zombie = 3,
    /// Reaped or self-reaped; never runs again (`EXIT_DEAD`/`TASK_DEAD`).
    Dead = 4,
    /// Made by `copy_process`, not started yet: only `wake_up_new_task` makes it
    /// runnable, no other wakeup (Linux `TASK_NEW`).
    New = 5,
    /// Stopped by SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU until SIGCONT or SIGKILL
    /// (Linux `TASK_STOPPED`; `T` in `ps`).
    Stopped = 6,
    /// Stopped for its tracer until a ptrace request resumes it, or SIGKILL (Linux
    /// `TASK_TRACED`; `t` in `ps`).
    Traced = 7,
}

/// `signal->flags`: the group stop is complete (Linux `SIGNAL_STOP_STOPPED`).
pub const SIGNAL_STOP_STOPPED: u32 = 0x1;
/// `signal->flags`: SIGCONT ended a stop, for `WCONTINUED` (Linux `SIGNAL_STOP_CONTINUED`).
pub const SIGNAL_STOP_CONTINUED: u32 = 0x2;
/// `signal->flags`: the parent is still to be told of a stop (Linux `SIGNAL_CLD_STOPPED`).
pub const SIGNAL_CLD_STOPPED: u32 = 0x10;
/// `signal->flags`: the parent is still to be told of a continue (Linux
/// `SIGNAL_CLD_CONTINUED`).
pub const SIGNAL_CLD_CONTINUED: u32 = 0x20;
/// The two "tell the parent" flags (Linux `SIGNAL_CLD_MASK`).
pub const SIGNAL_CLD_MASK: u32 = SIGNAL_CLD_STOPPED | SIGNAL_CLD_CONTINUED;
/// Every stop flag (Linux `SIGNAL_STOP_MASK`).
pub const SIGNAL_STOP_MASK: u32 = SIGNAL_CLD_MASK | SIGNAL_STOP_STOPPED | SIGNAL_STOP_CONTINUED;

/// `task->jobctl`: this thread took a stop signal off a queue (Linux
/// `JOBCTL_STOP_DEQUEUED`); a SIGCONT since then clears it and voids the stop.
pub const JOBCTL_STOP_DEQUEUED: u32 = 1 << 16;
/// `task->jobctl`: this thread is to stop for the group stop (Linux
/// `JOBCTL_STOP_PENDING`, always with `JOBCTL_STOP_CONSUME` here).
pub const JOBCTL_STOP_PENDING: u32 = 1 << 17;
/// `task->jobctl`: a seized tracee is to stop in a `PTRACE_EVENT_STOP` trap (Linux
/// `JOBCTL_TRAP_STOP`): set by `PTRACE_INTERRUPT` and for a new seized child.
pub const JOBCTL_TRAP_STOP: u32 = 1 << 19;
/// `task->jobctl`: the tracer is working on this stopped tracee, so only the tracer
/// may wake it, not even SIGKILL (Linux `JOBCTL_PTRACE_FROZEN`).
pub const JOBCTL_PTRACE_FROZEN: u32 = 1 << 24;
/// `task->jobctl`: in a ptrace stop, for the tracer to see (Linux `JOBCTL_TRACED`).
pub const JOBCTL_TRACED: u32 = 1 << 27;

// The `thread_info.flags` bits. They are numbered so that each test the syscall path
// makes is one instruction: all five are the low bits, so "any work on the way out?" is
// one `tst` with an immediate; Linux numbers its arm64 flags to the same end
// (`_TIF_WORK_MASK` bits 0-6, `_TIF_SYSCALL_WORK` bits 8-12). The numbers are forkos's.

/// `thread_info.flags` bit: a signal is pending (Linux `TIF_SIGPENDING`).
pub const TIF_SIGPENDING: u64 = 1 << 0;
/// `thread_info.flags` bit: the scheduler should run soon (Linux `TIF_NEED_RESCHED`).
pub const TIF_NEED_RESCHED: u64 = 1 << 1;
/// `thread_info.flags` bit: work on the way back to user space outside signals and
/// scheduling; in forkos, rseq's (Linux arm64 `TIF_NOTIFY_RESUME`).
pub const TIF_NOTIFY_RESUME: u64 = 1 << 2;
/// `thread_info.flags` bit: single-step in user space (Linux arm64 `TIF_SINGLESTEP`, set
/// by `PTRACE_SINGLESTEP`).
pub const TIF_SINGLESTEP: u64 = 1 << 3;
/// `thread_info.flags` bit: stop for the tracer at syscall entry and exit (Linux
/// arm64 `TIF_SYSCALL_TRACE`, set by `PTRACE_SYSCALL`).
pub const TIF_SYSCALL_TRACE: u64 = 1 << 4;
/// Every flag above: what a return from a syscall tests (see `el0_svc`).
pub const TIF_ALL: u64 =
    TIF_SIGPENDING | TIF_NEED_RESCHED | TIF_NOTIFY_RESUME | TIF_SINGLESTEP | TIF_SYSCALL_TRACE;
const _: () = assert!(
    TIF_ALL == (1 << 5) - 1,
    "the flags are the low bits, one mask"
);

/// Low-level per-task state kept at the start of the task (Linux `struct thread_info`).
#[repr(C)]
pub struct ThreadInfo {
    pub flags: AtomicU64,
    /// Non-zero: this task must not be preempted (Linux `preempt_count`).
    pub preempt_count: AtomicU32,
}

/// Held while children move between parents, while a task becomes a zombie and its
/// parent is told, and while a `wait` looks for a zombie and claims it, so that none
/// sees another half done (Linux `tasklist_lock`). Lock order: this lock, then a task's
/// or its group's own locks, then the run queue.
pub static TASKLIST_LOCK: IrqSpinLock<Tasklist, { lock_class::TASKLIST }> =
    IrqSpinLock::new(Tasklist(()));

/// What [`TASKLIST_LOCK`] guards: nothing but the right to change who is whose child and
/// who is a zombie. Only that lock makes one, so a `&TasklistGuard` parameter proves the
/// caller holds it.
pub struct Tasklist(());

/// Proof that [`TASKLIST_LOCK`] is held.
pub type TasklistGuard<'a> =
    crate::sync::IrqSpinLockGuard<'a, Tasklist, { crate::sync::lock_class::TASKLIST }>;

/// State shared by the threads of one process (Linux `struct signal_struct`).
pub struct SignalStruct {
    /// Parents sleep here in `wait4` (Linux `wait_chldexit`).
    pub wait_chldexit: WaitQueue,
    pub inner: IrqSpinLock<SignalInner>,
}

pub struct SignalInner {
    /// The group's threads that have not exited yet (Linux `live`).
    pub live: u32,
    /// Set by `exit_group` or a fatal signal: the status the whole group exits with.
    pub group_exit_code: Option<i32>,
    /// Every thread of the group, leader first.
    pub threads: Vec<Weak<Task>>,
    /// A thread calling `execve` while the others must go (Linux `group_exec_task`).
    pub group_exec_task: Option<Pid>,
    /// Signals sent to the whole process (Linux `shared_pending`).
    pub shared_pending: crate::signal::SigPending,
    /// Resource limits, (soft, hard) (Linux `signal_struct.rlim`).
    pub rlim: [crate::resource::Rlimit; crate::resource::RLIM_NLIMITS],
    /// The process group (Linux `task_pgrp`, `signal->pids[PIDTYPE_PGID]`): changed
    /// only with [`TASKLIST_LOCK`] held as well.
    pub pgrp: Pid,
    /// The session (Linux `task_session`, `signal->pids[PIDTYPE_SID]`): as `pgrp`.
    pub session: Pid,
    /// This process made its session with `setsid` (Linux `signal->leader`).
    pub leader: bool,
    /// The console is this process's controlling terminal (Linux `signal->tty`; forkos
    /// has one terminal): changed with [`TASKLIST_LOCK`] held as well.
    pub tty: bool,
    /// No `execve` since `fork` (Linux `PF_FORKNOEXEC` of the group leader): the parent
    /// may still move it to another process group.
    pub forknoexec: bool,
    /// `SIGNAL_STOP_*` and `SIGNAL_CLD_*` (Linux `signal->flags`).
    pub flags: u32,
    /// Threads still to stop for the group stop (Linux `group_stop_count`).
    pub group_stop_count: u32,
    /// The signal that stopped the group, until a wait reports it (Linux keeps it in
    /// `group_exit_code`, which forkos keeps for the exit alone).
    pub group_stop_code: i32,
    /// CPU time of the group's threads that are gone, in nanoseconds (Linux
    /// `signal->utime`, `stime`, added up in `__exit_signal`).
    pub utime: u64,
    pub stime: u64,
    /// CPU time of the reaped children and their reaped children (Linux `cutime`,
    /// `cstime`, added up in `wait_task_zombie`).
    pub cutime: u64,
    pub cstime: u64,
}

impl SignalStruct {
    /// The shared state of a new thread group with no threads yet, and resource limits
    /// `rlim` (Linux `copy_signal`'s `memcpy` of the parent's, straight into the new
    /// object). The list has room for the group's first thread.
    pub fn new(
        rlim: &[crate::resource::Rlimit; crate::resource::RLIM_NLIMITS],
    ) -> Arc<SignalStruct> {
        Arc::new(SignalStruct {
            wait_chldexit: WaitQueue::new(),
            inner: IrqSpinLock::new(SignalInner {
                live: 0,
                group_exit_code: None,
                threads: Vec::with_capacity(1),
                group_exec_task: None,
                shared_pending: crate::signal::SigPending::default(),
                rlim: *rlim,
                // Init and kernel threads: process group 0, session 0 (Linux
                // `init_struct_pid`).
                pgrp: 0,
                session: 0,
                leader: false,
                tty: false,
                forknoexec: false,
                flags: 0,
                group_stop_count: 0,
                group_stop_code: 0,
                utime: 0,
                stime: 0,
                cutime: 0,
                cstime: 0,
            }),
        })
    }

    /// The CPU time of the whole group, user and system, in nanoseconds: the threads
    /// gone and the threads here (Linux `thread_group_cputime`).
    pub fn thread_group_cputime(&self) -> (u64, u64) {
        // One look under the lock: `release_task` moves a thread's time into the
        // group's and takes it off the list under the same lock.
        let i = self.inner.lock();
        let (mut u, mut s) = (i.utime, i.stime);
        for t in i.threads.iter().filter_map(Weak::upgrade) {
            u += t.utime.load(Ordering::Relaxed);
            s += t.stime.load(Ordering::Relaxed);
        }
        (u, s)
    }

    /// The group's threads that have not been released yet.
    pub fn threads(&self) -> Vec<Arc<Task>> {
        self.inner
            .lock()
            .threads
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

/// The signal actions, one per signal, index `sig - 1`.
pub type SigActions = [crate::signal::SigAction; crate::signal::NSIG as usize];

/// What each signal does, shared by the tasks cloned with `CLONE_SIGHAND` (every thread
/// of a process, and more) (Linux `struct sighand_struct`): the actions and the lock
/// that guards them, side by side as in Linux, so that a copy writes the actions
/// straight into the new object.
pub struct SigHand {
    /// Guards `action` (Linux `siglock`).
    siglock: IrqSpinLock<()>,
    /// Linux `sighand_struct.action`: read and written only under `siglock`.
    action: UnsafeCell<SigActions>,
}

// SAFETY: `action` is reached only through `SigHand::lock`, under `siglock`.
unsafe impl Sync for SigHand {}

/// The actions of a [`SigHand`], its lock held.
pub struct SigHandGuard<'a> {
    _siglock: crate::sync::IrqSpinLockGuard<'a, ()>,
    action: &'a mut SigActions,
}

impl core::ops::Deref for SigHandGuard<'_> {
    type Target = SigActions;
    fn deref(&self) -> &SigActions {
        self.action
    }
}

impl core::ops::DerefMut for SigHandGuard<'_> {
    fn deref_mut(&mut self) -> &mut SigActions {
        self.action
    }
}

impl SigHand {
    /// Every signal at its default action.
    pub fn new() -> Arc<SigHand> {
        Arc::new(SigHand {
            siglock: IrqSpinLock::new(()),
            action: UnsafeCell::new(
                [crate::signal::SigAction::default(); crate::signal::NSIG as usize],
            ),
        })
    }

    /// Take `siglock`, for the actions (Linux `spin_lock_irq(&sighand->siglock)`).
    pub fn lock(&self) -> SigHandGuard<'_> {
        let siglock = self.siglock.lock();
        SigHandGuard {
            _siglock: siglock,
            // SAFETY: siglock is held for as long as the guard lives, and only a guard
            // reaches the actions.
            action: unsafe { &mut *self.action.get() },
        }
    }

    /// A copy of `src` (Linux `copy_sighand`): a new object whose lock is initialised
    /// and whose actions are copied in with one `memcpy`, never built on the stack
    /// and moved.
    pub fn copy_of(src: &SigHand) -> Arc<SigHand> {
        let mut new = Arc::<SigHand>::new_uninit();
        let slot = Arc::get_mut(&mut new)
            .expect("a new Arc has no other user")
            .as_mut_ptr();
        let action = src.lock();
        // SAFETY: slot is the new, unshared, aligned object; the lock is written as a
        // whole, and the actions (plain data; UnsafeCell has its value's layout) are
        // copied from the source's, which is a different object, under its lock.
        unsafe {
            core::ptr::addr_of_mut!((*slot).siglock).write(IrqSpinLock::new(()));
            let dst = UnsafeCell::raw_get(core::ptr::addr_of!((*slot).action));
            core::ptr::copy_nonoverlapping::<SigActions>(&*action, dst, 1);
        }
        drop(action);
        // SAFETY: both fields were written just above.
        unsafe { new.assume_init() }
    }
}

/// Mutable state of a task, behind its lock.
pub struct TaskInner {
    /// Who `getppid` names and who reaps us (Linux `real_parent`).
    pub parent: Weak<Task>,
    /// Children we created (and orphans reparented to us).
    pub children: Vec<Arc<Task>>,
    /// The wait status we exit with (Linux `exit_code`): `code << 8`, or a signal.
    pub exit_code: i32,
    /// Sent to the parent when we exit; -1 for threads (Linux `exit_signal`).
    pub exit_signal: i32,
    /// The address space; `None` for kernel threads. Private: it changes only through
    /// [`Current::set_mm`] and [`Task::set_new_task_mm`], which keep `Task::mm_ptr` its
    /// mirror.
    mm: Option<Arc<Mm>>,
    /// What `restart_syscall` finishes (Linux `restart_block`): an interrupted sleep.
    pub restart_block: crate::time::RestartBlock,
    /// CLONE_CHILD_SETTID: write our tid here when we first run.
    pub set_child_tid: UserPtr<i32>,
    /// CLONE_CHILD_CLEARTID / set_tid_address: zero and futex-wake here when we exit.
    pub clear_child_tid: UserPtr<i32>,
    /// A vfork parent waiting for us to exit or exec.
    pub vfork_done: Option<Arc<Completion>>,
    /// Signals this thread blocks (Linux `blocked`).
    pub blocked: u64,
    /// The mask to put back once a signal interrupted `ppoll` or `rt_sigsuspend`
    /// (Linux `saved_sigmask` with `TIF_RESTORE_SIGMASK`): the handler's frame saves it.
    pub saved_sigmask: Option<u64>,
    /// Signals sent to this thread only (Linux `pending`).
    pub pending: crate::signal::SigPending,
    /// The user's list of robust futexes (Linux `robust_list`, set by `set_robust_list`).
    pub robust_list: UserPtr<crate::futex::RobustListHead>,
    /// What each signal does (Linux `sighand`): replaced only by `execve` unsharing it.
    pub sighand: Arc<SigHand>,
    /// Open file descriptors (Linux `files`): shared with `CLONE_FILES`; `None` once
    /// the task has exited (and for the idle task).
    pub files: Option<Arc<crate::fs::fdtable::FilesStruct>>,
    /// Root, working directory and umask (Linux `fs`): shared with `CLONE_FS`.
    pub fs: Option<Arc<crate::fs::fs_struct::FsStruct>>,
    /// Our tracer, who sees our stops in its `wait` (Linux `parent`, which is
    /// `real_parent` unless traced): changed only under [`TASKLIST_LOCK`].
    pub ptrace_parent: Weak<Task>,
    /// The tasks we trace (Linux `ptraced`): changed only under [`TASKLIST_LOCK`].
    pub ptraced: Vec<Arc<Task>>,
    /// What `PTRACE_GETEVENTMSG` reads at our current stop (Linux `ptrace_message`).
    pub ptrace_message: u64,
    /// The siginfo of the signal or trap we are stopped for, for `PTRACE_GETSIGINFO`
    /// (Linux `last_siginfo`); `None` outside such a stop.
    pub last_siginfo: Option<crate::signal::KSigInfo>,
}

/// A task (Linux `struct task_struct`).
#[repr(C)]
pub struct Task {
    /// First, as in Linux: entry code finds it at offset 0.
    pub thread_info: ThreadInfo,
    /// Arch state: `cpu_context`, TLS, FP/SIMD. Only the task itself (or the scheduler
    /// switching it) touches it.
    pub thread: UnsafeCell<ThreadStruct>,
    pub pid: Pid,
    pub tgid: Pid,
    /// Kernel threads never run user code (Linux `PF_KTHREAD`).
    pub kthread: bool,
    /// A fresh kernel stack, never copied from the parent.
    pub stack: KernelStack,
    /// Shared with the other threads of the group.
    pub signal: Arc<SignalStruct>,
    /// `JOBCTL_*` (Linux `task->jobctl`): changed under the group's `signal.inner` lock
    /// (Linux `siglock`).
    pub jobctl: AtomicU32,
    /// `TaskState` as a number; changed under the run-queue rules in `sched`.
    pub state: AtomicU32,
    /// On a run queue or running (Linux `on_rq`): 0, `TASK_ON_RQ_QUEUED`, or
    /// `TASK_ON_RQ_MIGRATING` while `move_queued_task` carries it between run queues.
    pub on_rq: AtomicU8,
    /// Serializes wake-ups and affinity changes of this task (Linux `p->pi_lock`); taken
    /// before any run queue's lock (`sched` has the lock order).
    pub pi_lock: IrqSpinLock<()>,
    /// Running on a CPU, or still switching away from it (Linux `on_cpu`): set by
    /// `__schedule` before the switch to it, cleared by `finish_task_switch` on the CPU
    /// it left, once its stack and registers are no longer in use there.
    pub on_cpu: AtomicBool,
    /// The CPU whose run queue the task is on, or last ran on (Linux `task_cpu`, `p->cpu`).
    pub cpu: AtomicU32,
    /// The CPUs the task may run on, one bit each (Linux `cpus_mask`); inherited by
    /// children, set by `sched_setaffinity`.
    pub cpus_mask: AtomicU64,
    /// `PT_*` (Linux `task->ptrace`): traced, seized, and the options as
    /// `PTRACE_O_* << PT_OPT_FLAG_SHIFT`; changed under [`TASKLIST_LOCK`] (and the
    /// options by the tracer while we are stopped for it).
    pub ptrace: AtomicU32,
    /// Exit status kept after the inner lock's data is gone.
    pub exit_status: AtomicI32,
    /// The `Mm` that `inner.mm` holds (null for none), for [`Task::mm_unlocked`]: the
    /// scheduler reads it without the lock, as Linux reads `next->mm`.
    mm_ptr: AtomicPtr<Mm>,
    /// A short name for reports (the program's name).
    pub comm: IrqSpinLock<[u8; 16]>,
    /// CPU time in user space and in the kernel, in nanoseconds, counted a tick at a
    /// time (Linux `utime`, `stime`, from `account_process_tick`).
    pub utime: AtomicU64,
    pub stime: AtomicU64,
    /// When the task was made, in nanoseconds since boot (Linux `start_time`).
    pub start_time: u64,
    /// The restartable-sequence area it registered (Linux `task->rseq` and friends).
    pub rseq: crate::rseq::Rseq,
    pub inner: IrqSpinLock<TaskInner>,
}

// SAFETY: the UnsafeCell `thread` is only accessed by the task itself or by the scheduler
// while the task is not running (see `arch::process::switch_to`); everything else is
// behind locks or atomics.
unsafe impl Sync for Task {}
// SAFETY: as above; a task can be handed between CPUs.
unsafe impl Send for Task {}

/// Task structures that exist (created, not yet freed): shown when a leak check fails.
pub static TASKS_ALLOCATED: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

impl Drop for Task {
    fn drop(&mut self) {
        TASKS_ALLOCATED.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Task {
    /// A task that has never run ([`TaskState::New`] until `wake_up_new_task`), with no
    /// parent, children or mm yet.
    pub fn new(
        pid: Pid,
        tgid: Pid,
        kthread: bool,
        stack: KernelStack,
        signal: Arc<SignalStruct>,
        sighand: Arc<SigHand>,
        comm: [u8; 16],
    ) -> Task {
        TASKS_ALLOCATED.fetch_add(1, Ordering::Relaxed);
        Task {
            thread_info: ThreadInfo {
                flags: AtomicU64::new(0),
                preempt_count: AtomicU32::new(0),
            },
            thread: UnsafeCell::new(ThreadStruct::default()),
            pid,
            tgid,
            kthread,
            stack,
            signal,
            jobctl: AtomicU32::new(0),
            state: AtomicU32::new(TaskState::New as u32),
            on_rq: AtomicU8::new(0),
            pi_lock: IrqSpinLock::new(()),
            on_cpu: AtomicBool::new(false),
            cpu: AtomicU32::new(0),
            cpus_mask: AtomicU64::new(u64::MAX),
            ptrace: AtomicU32::new(0),
            exit_status: AtomicI32::new(0),
            mm_ptr: AtomicPtr::new(core::ptr::null_mut()),
            comm: IrqSpinLock::new(comm),
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
            start_time: crate::time::ktime_get_ns(),
            rseq: crate::rseq::Rseq::default(),
            inner: IrqSpinLock::new(TaskInner {
                parent: Weak::new(),
                children: Vec::new(),
                exit_code: 0,
                exit_signal: 0,
                mm: None,
                restart_block: crate::time::RestartBlock::None,
                set_child_tid: UserPtr::default(),
                clear_child_tid: UserPtr::default(),
                vfork_done: None,
                blocked: 0,
                saved_sigmask: None,
                pending: crate::signal::SigPending::default(),
                robust_list: UserPtr::default(),
                sighand,
                files: None,
                fs: None,
                ptrace_parent: Weak::new(),
                ptraced: Vec::new(),
                ptrace_message: 0,
                last_siginfo: None,
            }),
        }
    }

    pub fn state(&self) -> TaskState {
        match self.state.load(Ordering::Acquire) {
            0 => TaskState::Running,
            1 => TaskState::Interruptible,
            2 => TaskState::Uninterruptible,
            3 => TaskState::Zombie,
            4 => TaskState::Dead,
            6 => TaskState::Stopped,
            7 => TaskState::Traced,
            _ => TaskState::New,
        }
    }

    /// Set the state; going to sleep, with a full barrier after it (Linux
    /// `set_current_state`'s `smp_store_mb`): the condition the sleeper checks next is
    /// read after a waker on another CPU can see the new state, so one of the two sees
    /// the other (the waker's half is `try_to_wake_up`'s barrier).
    pub fn set_state(&self, s: TaskState) {
        self.state.store(s as u32, Ordering::Release);
        if s != TaskState::Running {
            core::sync::atomic::fence(Ordering::SeqCst);
        }
    }

    /// Set a state that no wake-up may undo, the running task's own (Linux
    /// `set_special_state`, for `TASK_DEAD`, the exit states, `TASK_STOPPED` and
    /// `TASK_TRACED`): under `pi_lock` (taken after the group's signal lock, as Linux
    /// takes it under `siglock`), which a waker holds from its look at the state to its
    /// enqueue, so that a waker that saw the task asleep a moment ago finishes first (and
    /// finds it still queued), and one that comes later sees the new state. Without it, such a waker could put an
    /// exited task back on a run queue once `schedule` has taken it off.
    pub fn set_special_state(&self, s: TaskState) {
        let _pi = self.pi_lock.lock();
        self.set_state(s);
    }

    /// Is this the leader of its thread group?
    pub fn is_group_leader(&self) -> bool {
        self.pid == self.tgid
    }

    /// The process's parent, which `getppid` names and `wait` reports to, kept on the
    /// group leader (Linux `tsk->group_leader->real_parent`); a thread whose leader is
    /// gone reads its own.
    pub fn real_parent(&self) -> Option<Arc<Task>> {
        let leader = if self.is_group_leader() {
            None
        } else {
            crate::pid::PID_TABLE.lock().find(self.tgid)
        };
        match &leader {
            Some(l) => l.inner.lock().parent.upgrade(),
            None => self.inner.lock().parent.upgrade(),
        }
    }

    /// The name, for messages.
    pub fn comm(&self) -> ([u8; 16], usize) {
        let c = *self.comm.lock();
        let n = c.iter().position(|&b| b == 0).unwrap_or(16);
        (c, n)
    }

    pub fn set_comm(&self, name: &str) {
        self.set_comm_bytes(name.as_bytes());
    }

    /// Name the task, keeping 15 bytes (Linux `__set_task_comm`): bytes as given, for
    /// `prctl(PR_SET_NAME)` and `/proc/PID/comm`.
    pub fn set_comm_bytes(&self, name: &[u8]) {
        let mut c = [0u8; 16];
        let n = name.len().min(15);
        c[..n].copy_from_slice(&name[..n]);
        *self.comm.lock() = c;
    }

    /// All of the thread flags at once (Linux `read_thread_flags`).
    #[inline(always)]
    pub fn read_thread_flags(&self) -> u64 {
        self.thread_info.flags.load(Ordering::Relaxed)
    }

    pub fn test_flag(&self, f: u64) -> bool {
        self.thread_info.flags.load(Ordering::Relaxed) & f != 0
    }

    pub fn set_flag(&self, f: u64) {
        self.thread_info.flags.fetch_or(f, Ordering::Relaxed);
    }

    pub fn clear_flag(&self, f: u64) {
        self.thread_info.flags.fetch_and(!f, Ordering::Relaxed);
    }

    /// The task's `pt_regs` (its user context while in the kernel).
    pub fn pt_regs(&self) -> *mut PtRegs {
        crate::arch::process::task_pt_regs(self)
    }

    /// Is a fatal signal (one that kills the task) pending?
    pub fn fatal_signal_pending(&self) -> bool {
        // Linux: SIGKILL pending. Here: the process is exiting (exit_group or a fatal
        // signal), or another thread's execve wants this one gone.
        if !self.test_flag(TIF_SIGPENDING) {
            return false;
        }
        let s = self.signal.inner.lock();
        s.group_exit_code.is_some() || s.group_exec_task.is_some_and(|p| p != self.pid)
    }

    /// Is a signal waiting for this thread (Linux `signal_pending`)?
    pub fn signal_pending(&self) -> bool {
        self.test_flag(TIF_SIGPENDING)
    }

    /// A counted reference to the task's address space (Linux `get_task_mm`, which takes
    /// `task_lock`); `None` for kernel threads and exited tasks.
    #[inline]
    pub fn get_task_mm(&self) -> Option<Arc<Mm>> {
        self.inner.lock().mm.clone()
    }

    /// The address space's pointer, read without a lock, as Linux's `context_switch`
    /// reads `next->mm`; null for none. Only the task itself changes its mm
    /// ([`Current::set_mm`]: exec, exit), or `copy_process` before the task first runs
    /// ([`Task::set_new_task_mm`]), so while the task is not running the pointer stays,
    /// and the task's own reference keeps the `Mm` alive. A raw pointer: what makes it
    /// safe to use is the caller's to show.
    #[inline]
    pub fn mm_unlocked(&self) -> *const Mm {
        self.mm_ptr.load(Ordering::Relaxed)
    }

    /// Replace the address space, keeping the lock-free mirror in step: both change
    /// together under the task's lock.
    fn replace_mm(&self, mm: Option<Arc<Mm>>) -> Option<Arc<Mm>> {
        let mut inner = self.inner.lock();
        let ptr = mm.as_ref().map_or(core::ptr::null(), Arc::as_ptr);
        self.mm_ptr.store(ptr as *mut Mm, Ordering::Relaxed);
        core::mem::replace(&mut inner.mm, mm)
    }

    /// Give a task that has never run its address space, or take it back if the task
    /// is not started after all (Linux `copy_mm` setting `tsk->mm`); returns the old one.
    pub fn set_new_task_mm(&self, mm: Option<Arc<Mm>>) -> Option<Arc<Mm>> {
        assert_eq!(self.state(), TaskState::New, "the mm of a task that ran");
        self.replace_mm(mm)
    }
}

impl TaskInner {
    /// The address space (`None` for kernel threads), under the task's lock.
    pub fn mm(&self) -> Option<&Arc<Mm>> {
        self.mm.as_ref()
    }
}

/// Print every task: pid, tgid, parent, state, name, address space (the `Mm`, shared by
/// threads and a vfork child; 0 for kernel threads), kernel stack, where it stopped in
/// the kernel, for user tasks the user pc, and the CPU it runs or last ran on (`task_cpu`)
/// (Linux SysRq `t`, `show_state`). Runs from the
/// timer interrupt, so it only takes locks that are never held with interrupts on.
pub fn show_tasks() {
    crate::println!("  pid  tgid  ppid state                comm             mm                 kernel stack       cpu_context.pc     user pc    cpu");
    let me = crate::arch::percpu::current_ptr();
    for t in crate::pid::PID_TABLE.lock().all() {
        let (ppid, mm) = match t.inner.try_lock() {
            Some(i) => (
                i.parent.upgrade().map_or(0, |p| p.tgid),
                i.mm.as_ref().map_or(0, |m| Arc::as_ptr(m) as u64),
            ),
            None => (-1, 0),
        };
        let has_mm = mm != 0;
        // SAFETY: a racy read of another task's saved context, for display only.
        let kpc = unsafe { (*t.thread.get()).cpu_context.pc };
        // The pt_regs of a user task hold its user pc while it is in the kernel or
        // switched out.
        let upc = if has_mm {
            // SAFETY: as above, a racy read for display only.
            unsafe { (*t.pt_regs()).pc }
        } else {
            0
        };
        let running = if core::ptr::eq(&*t, me) {
            " (current)"
        } else {
            ""
        };
        crate::println!(
            "{:5} {:5} {:5} {:<20} {:<16} {:<#18x} {:#x} {:#x} {:<#10x} {}",
            t.pid,
            t.tgid,
            ppid,
            alloc::format!("{:?}{}", t.state(), running),
            Comm(&t),
            mm,
            t.stack.base(),
            kpc,
            upc,
            t.cpu.load(Ordering::Relaxed)
        );
    }
}

/// Write a task's name into a formatter.
pub struct Comm<'a>(pub &'a Task);

impl core::fmt::Display for Comm<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (c, n) = self.0.comm();
        f.pad(core::str::from_utf8(&c[..n]).unwrap_or("?"))
    }
}

/// The running task (Linux `current`): a token on the caller's stack that derefs to the
/// [`Task`]. A task's memory is never freed while it runs, and the token cannot outlive
/// the code that runs as that task: it is neither `Send` nor `Sync` (so no static, no
/// other task, no other CPU gets it), and what it derefs to borrows the token. Code that
/// keeps the task beyond that holds an `Arc` ([`current_arc`]).
pub struct Current {
    task: *const Task,
    /// Not `Send`, not `Sync` (the raw pointer alone makes it so; this says it).
    _not_send: PhantomData<*const ()>,
}

impl core::ops::Deref for Current {
    type Target = Task;
    #[inline(always)]
    fn deref(&self) -> &Task {
        // SAFETY: sp_el0 held this task when the token was made, on this task's own
        // stack; the scheduler keeps a reference to a task while it runs (see
        // sched::Rq::curr), and a task that is freed never runs the code holding the
        // token again.
        unsafe { &*self.task }
    }
}

impl Current {
    /// Install a new address space in the running task, returning the old one for the
    /// caller to drop once TTBR0 no longer points at it (Linux `exec_mmap`, and
    /// `exit_mm`'s `current->mm = NULL`). Only the task itself changes its mm once it
    /// has run: that is what lets the scheduler read it without a lock.
    pub fn set_mm(&self, mm: Option<Arc<Mm>>) -> Option<Arc<Mm>> {
        self.replace_mm(mm)
    }
}

/// The running task (Linux `current`), from `sp_el0`.
#[inline(always)]
pub fn current() -> Current {
    Current {
        task: percpu::current_ptr(),
        _not_send: PhantomData,
    }
}

/// A counted reference to the running task.
pub fn current_arc() -> Arc<Task> {
    let p = percpu::current_ptr();
    // SAFETY: p came from Arc::as_ptr of a live Arc<Task> (the run queue holds one while
    // the task runs); we add a count before making a second Arc from it.
    unsafe {
        Arc::increment_strong_count(p);
        Arc::from_raw(p)
    }
}

/// The running task's `pt_regs` (Linux `current_pt_regs`).
pub fn current_pt_regs() -> *mut PtRegs {
    current().pt_regs()
}
