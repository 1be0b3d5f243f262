//! Process tracing: `ptrace(2)` (Linux `kernel/ptrace.c`, `include/linux/ptrace.h`, and
//! the ptrace stops of `kernel/signal.c`).
//!
//! A tracer attaches to a task (`PTRACE_ATTACH`, `PTRACE_SEIZE`, or the task's own
//! `PTRACE_TRACEME`) and becomes its *ptrace parent* ([`TaskInner::ptrace_parent`],
//! Linux `p->parent`) while `getppid` keeps naming the real parent. The tracee then
//! stops in `TASK_TRACED` ([`ptrace_stop`]) instead of taking a signal
//! (signal-delivery stop), when its group stops (group stop), at syscall entry and
//! exit after `PTRACE_SYSCALL` (the arm64 half is `arch/aarch64/ptrace.rs`), and at the
//! events its tracer asked for with `PTRACE_SETOPTIONS` ([`ptrace_event`]): fork, vfork,
//! clone (a new child starts traced, with `SIGSTOP` pending, from `copy_process`'s
//! [`ptrace_init_task`]), exec, vfork done and exit. The tracer sees each stop in
//! `wait4`/`waitid` (`exit.rs`) as `status >> 8 == SIGTRAP | event << 8` and so on,
//! works on the stopped tracee (memory, registers) and resumes it with a request.
//!
//! A tracee stopped for its tracer is *frozen* while a request works on it
//! ([`TracedTask`], Linux `ptrace_freeze_traced`): not even SIGKILL wakes it then, which
//! is what makes it sound to read and write its saved registers.
//!
//! Next: `arch/aarch64/ptrace.rs` (`arch_ptrace`, the regsets, syscall stops), and
//! `do_fork` in `fork.rs` for the trace events of a fork.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering::{Relaxed, SeqCst};

use forkos_lib::uapi::ptrace::*;

use crate::errno::*;
use crate::mm::memory::Access;
use crate::mm::uaccess::UserPtr;
use crate::pid::PID_TABLE;
use crate::signal::{
    do_notify_parent_cldstop, send_signal, KSigInfo, CLD_STOPPED, CLD_TRAPPED, SIGKILL, SIGSTOP,
    SIGTRAP, SI_USER,
};
use crate::task::*;

/// `task->ptrace`: traced (Linux `PT_PTRACED`).
pub const PT_PTRACED: u32 = 0x1;
/// `task->ptrace`: attached with `PTRACE_SEIZE` (Linux `PT_SEIZED`).
pub const PT_SEIZED: u32 = 0x10000;
/// The options sit this far up in `task->ptrace` (Linux `PT_OPT_FLAG_SHIFT`).
pub const PT_OPT_FLAG_SHIFT: u32 = 3;
/// `PTRACE_O_TRACESYSGOOD` in `task->ptrace` (Linux `PT_TRACESYSGOOD`).
pub const PT_TRACESYSGOOD: u32 = (PTRACE_O_TRACESYSGOOD as u32) << PT_OPT_FLAG_SHIFT;
/// `PTRACE_O_EXITKILL` in `task->ptrace` (Linux `PT_EXITKILL`).
pub const PT_EXITKILL: u32 = (PTRACE_O_EXITKILL as u32) << PT_OPT_FLAG_SHIFT;

/// The `task->ptrace` bit of an event's option (Linux `PT_EVENT_FLAG`).
pub const fn pt_event_flag(event: i32) -> u32 {
    1 << (PT_OPT_FLAG_SHIFT + event as u32)
}

/// Does `t`'s tracer want to hear of `event` (Linux `ptrace_event_enabled`)?
pub fn ptrace_event_enabled(t: &Task, event: i32) -> bool {
    t.ptrace.load(Relaxed) & pt_event_flag(event) != 0
}

/// Is `t` traced by someone outside its real parent's thread group (Linux
/// `ptrace_reparented`)?
pub fn ptrace_reparented(t: &Task) -> bool {
    let i = t.inner.lock();
    match (i.ptrace_parent.upgrade(), i.parent.upgrade()) {
        (Some(tracer), Some(parent)) => tracer.tgid != parent.tgid,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The task whose `wait` sees `t`'s stops and exit (Linux `t->parent`): its tracer,
/// or else its real parent.
pub fn ptrace_parent_or_parent(t: &Task) -> Option<Arc<Task>> {
    let i = t.inner.lock();
    i.ptrace_parent.upgrade().or_else(|| i.parent.upgrade())
}

/// Make `new_parent` the tracer of `child` (Linux `__ptrace_link`).
fn __ptrace_link(child: &Arc<Task>, new_parent: &Arc<Task>, _tasklist: &TasklistGuard) {
    child.inner.lock().ptrace_parent = Arc::downgrade(new_parent);
    new_parent.inner.lock().ptraced.push(child.clone());
}

/// Wake a tracee from its ptrace stop (Linux `ptrace_signal_wake_up` with `resume`):
/// with `TIF_SIGPENDING` it looks at its job control state again on the way out.
fn ptrace_signal_wake_up(t: &Arc<Task>) {
    t.jobctl.fetch_and(!JOBCTL_TRACED, SeqCst);
    t.set_flag(TIF_SIGPENDING);
    crate::sched::try_to_wake_up(t, &[TaskState::Traced, TaskState::Interruptible]);
}

/// Stop tracing `child` (Linux `__ptrace_unlink`): its ptrace parent is its real parent
/// again, its options and pending traps go, and a stopped tracee goes back to the group
/// stop, if its group is stopped, or runs.
pub fn __ptrace_unlink(child: &Arc<Task>, _tasklist: &TasklistGuard) {
    let tracer = core::mem::take(&mut child.inner.lock().ptrace_parent);
    if let Some(tracer) = tracer.upgrade() {
        tracer
            .inner
            .lock()
            .ptraced
            .retain(|t| !Arc::ptr_eq(t, child));
    }
    child.ptrace.store(0, SeqCst);
    child.clear_flag(TIF_SYSCALL_TRACE);
    let s = child.signal.inner.lock();
    child.jobctl.fetch_and(!JOBCTL_TRAP_STOP, SeqCst);
    let exiting = matches!(child.state(), TaskState::Zombie | TaskState::Dead);
    if !exiting && (s.flags & SIGNAL_STOP_STOPPED != 0 || s.group_stop_count != 0) {
        child.jobctl.fetch_or(JOBCTL_STOP_PENDING, SeqCst);
    }
    if child.jobctl.load(SeqCst) & JOBCTL_STOP_PENDING == 0 || child.state() == TaskState::Traced {
        drop(s);
        ptrace_signal_wake_up(child);
    }
}

/// Start tracing a child at its creation (Linux `ptrace_init_task`, from
/// `copy_process`): when `ptrace` (the fork's trace event is enabled, or
/// `CLONE_PTRACE`) and the parent is traced, the child gets the parent's tracer and
/// options, and starts with `SIGSTOP` pending (a seized child: a `PTRACE_EVENT_STOP`
/// trap), so that its tracer sees it stop before it runs any user code.
pub fn ptrace_init_task(child: &Arc<Task>, ptrace: bool, tasklist: &TasklistGuard) {
    let cur = crate::task::current();
    let flags = cur.ptrace.load(Relaxed);
    if !ptrace || flags == 0 {
        return;
    }
    let Some(tracer) = cur.inner.lock().ptrace_parent.upgrade() else {
        return;
    };
    child.ptrace.store(flags, SeqCst);
    __ptrace_link(child, &tracer, tasklist);
    if flags & PT_SEIZED != 0 {
        child.jobctl.fetch_or(JOBCTL_TRAP_STOP, SeqCst);
    } else {
        // Linux `sigaddset` with no queue entry: dequeued with a zero siginfo.
        child.inner.lock().pending.add(KSigInfo {
            signo: SIGSTOP,
            code: SI_USER,
            ..KSigInfo::default()
        });
    }
    child.set_flag(TIF_SIGPENDING);
    crate::trace::ptrace_init_task(child, &tracer, flags & PT_SEIZED != 0);
}

/// Tell the tracer of the current task about `event` with `message` (the new child's
/// pid, for a fork) (Linux `ptrace_event_pid`).
pub fn ptrace_event_pid(event: i32, pid: Pid) {
    if ptrace_event_enabled(&crate::task::current(), event) {
        crate::trace::ptrace_event_pid(event, pid);
    }
    ptrace_event(event, pid as u64);
}

/// Stop for the tracer at `event` if it asked for it (Linux `ptrace_event`); an
/// old-style tracee (attached without `PTRACE_SEIZE`, no `PTRACE_O_TRACEEXEC`) gets a
/// `SIGTRAP` after exec instead.
pub fn ptrace_event(event: i32, message: u64) {
    let t = crate::task::current();
    if ptrace_event_enabled(&t, event) {
        ptrace_notify((event << 8) | SIGTRAP, message);
    } else if event == PTRACE_EVENT_EXEC
        && t.ptrace.load(Relaxed) & (PT_PTRACED | PT_SEIZED) == PT_PTRACED
    {
        let me = crate::task::current_arc();
        let info = KSigInfo {
            signo: SIGTRAP,
            code: SI_USER,
            pid: me.tgid,
            ..KSigInfo::default()
        };
        send_signal(&me, info, false, false);
    }
}

/// Stop for the tracer with `exit_code` (`SIGTRAP` and an event or 0x80), with a
/// siginfo that says so (Linux `ptrace_notify` -> `ptrace_do_notify`). Returns the
/// signal the tracer resumed us with.
pub fn ptrace_notify(exit_code: i32, message: u64) -> i32 {
    ptrace_do_notify(SIGTRAP, exit_code, CLD_TRAPPED, message)
}

/// Stop with a siginfo of `signr` and `exit_code` as its code (Linux `ptrace_do_notify`).
fn ptrace_do_notify(signr: i32, exit_code: i32, why: i32, message: u64) -> i32 {
    let info = KSigInfo {
        signo: signr,
        code: exit_code,
        pid: crate::task::current().pid,
        ..KSigInfo::default()
    };
    ptrace_stop(exit_code, why, message, Some(info))
}

/// Is `t` being killed: SIGKILL pending on it (a fatal signal, or another thread's
/// `exit_group`), or another thread's `execve` taking over, read with its group's lock
/// held (Linux `__fatal_signal_pending`)? The thread that calls `exit_group` itself, or
/// takes a fatal signal its tracer passed on, is not: it still stops for
/// `PTRACE_EVENT_EXIT`.
fn fatal_pending_locked(t: &Task, s: &SignalInner) -> bool {
    t.inner.lock().pending.set & crate::signal::sigmask(SIGKILL) != 0
        || s.group_exec_task.is_some_and(|p| p != t.pid)
}

/// Stop in `TASK_TRACED` until the tracer resumes us (Linux `ptrace_stop`): the wait
/// status is `exit_code << 8 | 0x7f`, `info` what `PTRACE_GETSIGINFO` reads, `message`
/// what `PTRACE_GETEVENTMSG` reads; `why` (`CLD_TRAPPED`, `CLD_STOPPED`) goes with the
/// tracer's SIGCHLD. Returns the signal the tracer resumed us with (its `data`), or
/// `exit_code` at once when we are not traced or are dying.
pub fn ptrace_stop(exit_code: i32, why: i32, message: u64, info: Option<KSigInfo>) -> i32 {
    let t = crate::task::current_arc();
    {
        let s = t.signal.inner.lock();
        if t.ptrace.load(SeqCst) == 0 || fatal_pending_locked(&t, &s) {
            return exit_code;
        }
        {
            let mut i = t.inner.lock();
            i.last_siginfo = info;
            i.exit_code = exit_code;
            i.ptrace_message = message;
        }
        t.jobctl.fetch_and(!JOBCTL_TRAP_STOP, SeqCst);
        t.jobctl.fetch_or(JOBCTL_TRACED, SeqCst);
        // Under the group's lock, where a fatal signal looks for traced tasks to wake,
        // and as a special state (Linux `set_special_state(TASK_TRACED)`).
        t.set_special_state(TaskState::Traced);
    }
    {
        let tasklist = TASKLIST_LOCK.lock();
        do_notify_parent_cldstop(&t, true, why, &tasklist);
    }
    crate::trace::ptrace_stop(&t, exit_code);
    crate::sched::schedule();
    // Resumed (or killed): what the tracer said is in exit_code.
    let s = t.signal.inner.lock();
    t.jobctl
        .fetch_and(!(JOBCTL_TRACED | JOBCTL_PTRACE_FROZEN), SeqCst);
    let code = {
        let mut i = t.inner.lock();
        i.last_siginfo = None;
        i.ptrace_message = 0;
        core::mem::take(&mut i.exit_code)
    };
    drop(s);
    crate::signal::recalc_sigpending(&t);
    code
}

/// A stop trap is pending (`PTRACE_INTERRUPT`, a seized child, or a group stop of a
/// traced task): take it (Linux `do_jobctl_trap`). A seized tracee reports
/// `PTRACE_EVENT_STOP`; an old-style one the group stop's signal.
pub fn do_jobctl_trap(t: &Task) {
    let (stopped, code) = {
        let s = t.signal.inner.lock();
        (
            s.group_stop_count != 0 || s.flags & SIGNAL_STOP_STOPPED != 0,
            s.group_stop_code,
        )
    };
    if t.ptrace.load(Relaxed) & PT_SEIZED != 0 {
        let signr = if stopped && code != 0 { code } else { SIGTRAP };
        ptrace_do_notify(signr, signr | (PTRACE_EVENT_STOP << 8), CLD_STOPPED, 0);
    } else {
        let signr = if code != 0 { code } else { SIGSTOP };
        t.jobctl.fetch_and(!JOBCTL_TRAP_STOP, SeqCst);
        ptrace_stop(signr, CLD_STOPPED, 0, None);
    }
}

/// The tracer sees signal `info` before it is delivered, and may cancel or change it
/// (Linux `ptrace_signal`, the signal-delivery stop). Returns the signal to deliver
/// (0: none), with `info` updated if the tracer chose another.
pub fn ptrace_signal(t: &Arc<Task>, info: &mut KSigInfo) -> i32 {
    t.jobctl.fetch_or(JOBCTL_STOP_DEQUEUED, SeqCst);
    let signr = ptrace_stop(info.signo, CLD_TRAPPED, 0, Some(*info));
    if signr == 0 {
        return 0;
    }
    if signr != info.signo {
        let tracer = t.inner.lock().ptrace_parent.upgrade();
        *info = KSigInfo {
            signo: signr,
            code: SI_USER,
            pid: tracer.map_or(0, |p| p.tgid),
            ..KSigInfo::default()
        };
    }
    // Blocked now, or dying: back in the queue.
    let blocked = t.inner.lock().blocked & crate::signal::sigmask(signr) != 0;
    if blocked || t.fatal_signal_pending() {
        send_signal(t, *info, false, false);
        return 0;
    }
    signr
}

/// `PTRACE_TRACEME`: the caller's real parent becomes its tracer (Linux
/// `ptrace_traceme`); `EPERM` if it is traced already.
fn ptrace_traceme() -> SysResult {
    let me = crate::task::current_arc();
    let tasklist = TASKLIST_LOCK.lock();
    if me.ptrace.load(SeqCst) != 0 {
        return Err(EPERM);
    }
    let Some(parent) = me.inner.lock().parent.upgrade() else {
        return Err(EPERM);
    };
    me.ptrace.store(PT_PTRACED, SeqCst);
    __ptrace_link(&me, &parent, &tasklist);
    Ok(0)
}

/// `PTRACE_ATTACH` and `PTRACE_SEIZE` (Linux `ptrace_attach`): refused (`EPERM`) for a
/// kernel thread, a thread of our own process, an exiting or an already traced task.
/// ATTACH stops the tracee with SIGSTOP; SEIZE leaves it running, with the options in
/// `flags`, and a stopped one traps in `PTRACE_EVENT_STOP`.
fn ptrace_attach(task: &Arc<Task>, request: i64, addr: u64, flags: u64) -> SysResult {
    let seize = request == PTRACE_SEIZE;
    let flags = if seize {
        if addr != 0 || flags & !PTRACE_O_MASK != 0 {
            return Err(EIO);
        }
        PT_PTRACED | PT_SEIZED | ((flags as u32) << PT_OPT_FLAG_SHIFT)
    } else {
        PT_PTRACED
    };
    let me = crate::task::current_arc();
    if task.kthread || task.tgid == me.tgid {
        return Err(EPERM);
    }
    {
        let tasklist = TASKLIST_LOCK.lock();
        if matches!(task.state(), TaskState::Zombie | TaskState::Dead)
            || task.ptrace.load(SeqCst) != 0
        {
            return Err(EPERM);
        }
        task.ptrace.store(flags, SeqCst);
        __ptrace_link(task, &me, &tasklist);
    }
    if !seize {
        let info = KSigInfo {
            signo: SIGSTOP,
            code: crate::signal::SI_KERNEL,
            ..KSigInfo::default()
        };
        send_signal(task, info, false, false);
    }
    // A stopped task re-traps as traced, so that its tracer sees the stop.
    let s = task.signal.inner.lock();
    if task.state() == TaskState::Stopped {
        task.jobctl.fetch_or(JOBCTL_TRAP_STOP, SeqCst);
        task.set_flag(TIF_SIGPENDING);
        drop(s);
        crate::sched::try_to_wake_up(task, &[TaskState::Stopped]);
    }
    Ok(0)
}

/// A tracee stopped for its tracer and frozen there while a request works on it (Linux
/// `ptrace_check_attach` -> `ptrace_freeze_traced`, undone by `ptrace_unfreeze_traced`
/// when this is dropped). While it lives the tracee is off every CPU and nothing but
/// its tracer can wake it, not even SIGKILL: so its saved registers may be read and
/// written through [`TracedTask::regs`].
pub struct TracedTask {
    task: Arc<Task>,
    /// Still to unfreeze when dropped (not after `PTRACE_DETACH`, which woke it).
    frozen: bool,
}

impl TracedTask {
    /// The tracee.
    pub fn task(&self) -> &Arc<Task> {
        &self.task
    }

    /// The tracee's user registers: the `pt_regs` that `kernel_entry` saved when it
    /// entered the kernel on its way to this stop.
    pub fn regs(&mut self) -> &mut crate::arch::ptrace::PtRegs {
        // SAFETY: the tracee is frozen in a ptrace stop and off every CPU (checked in
        // `ptrace_check_attach`), so nothing else reads or writes its pt_regs until
        // this guard (borrowed mutably here) unfreezes it.
        unsafe { &mut *self.task.pt_regs() }
    }

    /// The tracee's thread state (FP/SIMD registers, saved when it was switched out).
    pub fn thread(&mut self) -> &mut crate::arch::process::ThreadStruct {
        // SAFETY: as for `regs`: the task is switched out and cannot run, and only the
        // task itself or the scheduler switching it touches `thread`.
        unsafe { &mut *self.task.thread.get() }
    }

    /// Let the tracee go without unfreezing it: `PTRACE_DETACH` woke it already.
    fn detached(mut self) {
        self.frozen = false;
    }
}

impl Drop for TracedTask {
    /// Linux `ptrace_unfreeze_traced`: a SIGKILL that came meanwhile wakes it now.
    fn drop(&mut self) {
        if !self.frozen {
            return;
        }
        let t = &self.task;
        let s = t.signal.inner.lock();
        t.jobctl.fetch_and(!JOBCTL_PTRACE_FROZEN, SeqCst);
        let fatal = fatal_pending_locked(t, &s);
        drop(s);
        if fatal {
            t.jobctl.fetch_and(!JOBCTL_TRACED, SeqCst);
            crate::sched::try_to_wake_up(t, &[TaskState::Traced]);
        }
    }
}

/// Is `child` traced, by us (Linux `ptrace_check_attach`'s `child->ptrace &&
/// child->parent == current`)?
fn traced_by_current(child: &Task) -> bool {
    child.ptrace.load(SeqCst) != 0
        && child
            .inner
            .lock()
            .ptrace_parent
            .upgrade()
            .is_some_and(|p| core::ptr::eq(&*p, &*crate::task::current()))
}

/// Is `child` traced by us and stopped for us (Linux `ptrace_check_attach`)? `ESRCH`
/// if not. Freezes it in its stop and waits until it is off its CPU.
fn ptrace_check_attach(child: &Arc<Task>) -> Result<TracedTask, Errno> {
    {
        let _tasklist = TASKLIST_LOCK.lock();
        if !traced_by_current(child) {
            return Err(ESRCH);
        }
        // Linux `ptrace_freeze_traced`.
        let s = child.signal.inner.lock();
        if child.jobctl.load(SeqCst) & JOBCTL_TRACED == 0
            || child.state() != TaskState::Traced
            || fatal_pending_locked(child, &s)
        {
            return Err(ESRCH);
        }
        child.jobctl.fetch_or(JOBCTL_PTRACE_FROZEN, SeqCst);
    }
    let traced = TracedTask {
        task: child.clone(),
        frozen: true,
    };
    // Linux `wait_task_inactive`: the stop is set before the task leaves its CPU.
    while child.on_rq.load(SeqCst) != 0 || child.on_cpu.load(SeqCst) {
        if child.state() != TaskState::Traced {
            return Err(ESRCH);
        }
        crate::sched::yield_now();
    }
    Ok(traced)
}

/// Read or write `buf.len()` bytes at `addr` of `tsk`'s memory (Linux
/// `ptrace_access_vm` -> `__access_remote_vm` with `FOLL_FORCE`): page by page through
/// its own address space, faulting pages in, so a write into a copy-on-write page gives
/// the tracee its own copy and leaves the other sharers theirs; the write may go into a
/// read-only private mapping (a breakpoint into program text), never into a read-only
/// shared one. Returns how many bytes were done.
fn ptrace_access_vm(tsk: &Task, addr: u64, buf: &mut [u8], write: bool) -> usize {
    let Some(mm) = tsk.get_task_mm() else {
        return 0;
    };
    if addr
        .checked_add(buf.len() as u64)
        .is_none_or(|e| e > crate::mm::TASK_SIZE)
    {
        return 0;
    }
    let access = if write {
        Access::ForceWrite
    } else {
        Access::ForceRead
    };
    let mut lock = mm.lock();
    let mut at = 0;
    crate::mm::uaccess::walk_user_pages(&mut lock, addr, buf.len(), access, |kva, n| {
        let part = &mut buf[at..at + n];
        // SAFETY: `kva` is `n` bytes of one page of the tracee's, mapped in its
        // address space and linear mapped here, valid while we hold its mm's lock;
        // `part` is our own buffer.
        unsafe {
            if write {
                core::ptr::copy_nonoverlapping(part.as_ptr(), kva, n);
                crate::arch::page::flush_ptrace_access(kva as u64, n);
            } else {
                core::ptr::copy_nonoverlapping(kva, part.as_mut_ptr(), n);
            }
        }
        at += n;
        ControlFlow::Continue(())
    })
}

/// `PTRACE_PEEKTEXT`/`PEEKDATA` (Linux `generic_ptrace_peekdata`): the word at `addr`
/// of the tracee to `*data`; `EIO` if it cannot be read, `EFAULT` if `data` is bad.
fn generic_ptrace_peekdata(tsk: &Task, addr: u64, data: u64) -> SysResult {
    let mut word = [0u8; 8];
    if ptrace_access_vm(tsk, addr, &mut word, false) != 8 {
        return Err(EIO);
    }
    UserPtr::<u64>::new(data).write(&u64::from_le_bytes(word))?;
    Ok(0)
}

/// `PTRACE_POKETEXT`/`POKEDATA` (Linux `generic_ptrace_pokedata`): `data` to the word
/// at `addr` of the tracee; `EIO` if it cannot be written.
fn generic_ptrace_pokedata(tsk: &Task, addr: u64, data: u64) -> SysResult {
    let mut word = data.to_le_bytes();
    if ptrace_access_vm(tsk, addr, &mut word, true) != 8 {
        return Err(EIO);
    }
    Ok(0)
}

/// `PTRACE_SETOPTIONS` (Linux `ptrace_setoptions`): `EINVAL` for unknown bits.
fn ptrace_setoptions(child: &Task, data: u64) -> SysResult {
    if data & !PTRACE_O_MASK != 0 {
        return Err(EINVAL);
    }
    let mask = (PTRACE_O_MASK as u32) << PT_OPT_FLAG_SHIFT;
    let flags = child.ptrace.load(SeqCst);
    child.ptrace.store(
        (flags & !mask) | ((data as u32) << PT_OPT_FLAG_SHIFT),
        SeqCst,
    );
    Ok(0)
}

// SAFETY: `siginfo_t` is 32 ints with its padding spelled out (`_pad`, `_rest`), as
// forkos-lib's layout asserts pin; every bit pattern is valid.
unsafe impl crate::mm::uaccess::Pod for forkos_lib::uapi::siginfo::SigInfo {}

/// Is `sig` a signal number (0 included: none) (Linux `valid_signal`)?
fn valid_signal(sig: u64) -> bool {
    sig <= crate::signal::NSIG as u64
}

/// `PTRACE_CONT`, `PTRACE_SYSCALL` and `PTRACE_SINGLESTEP` (Linux `ptrace_resume`):
/// run on, stopping at the next syscall entry or exit for `PTRACE_SYSCALL`, after one
/// instruction for `PTRACE_SINGLESTEP`, and taking signal `data` (0: none).
fn ptrace_resume(mut child: TracedTask, request: i64, data: u64) -> SysResult {
    if !valid_signal(data) {
        return Err(EIO);
    }
    if request == PTRACE_SINGLESTEP {
        crate::arch::debug_monitors::user_enable_single_step(&mut child);
    } else {
        crate::arch::debug_monitors::user_disable_single_step(child.task());
    }
    let t = child.task();
    if request == PTRACE_SYSCALL {
        t.set_flag(TIF_SYSCALL_TRACE);
    } else {
        t.clear_flag(TIF_SYSCALL_TRACE);
    }
    let s = t.signal.inner.lock();
    t.inner.lock().exit_code = data as i32;
    t.jobctl.fetch_and(!JOBCTL_TRACED, SeqCst);
    drop(s);
    crate::sched::try_to_wake_up(t, &[TaskState::Traced]);
    Ok(0)
}

/// `PTRACE_DETACH` (Linux `ptrace_detach`): stop tracing; the tracee resumes with
/// signal `data`.
fn ptrace_detach(child: TracedTask, data: u64) -> SysResult {
    if !valid_signal(data) {
        return Err(EIO);
    }
    // Linux `ptrace_disable`.
    crate::arch::debug_monitors::user_disable_single_step(child.task());
    {
        let tasklist = TASKLIST_LOCK.lock();
        child.task().inner.lock().exit_code = data as i32;
        __ptrace_unlink(child.task(), &tasklist);
    }
    child.detached();
    Ok(0)
}

/// The requests every architecture shares (Linux `ptrace_request`); unknown ones are
/// `EIO`.
pub fn ptrace_request(mut child: TracedTask, request: i64, addr: u64, data: u64) -> SysResult {
    match request {
        PTRACE_PEEKTEXT | PTRACE_PEEKDATA => generic_ptrace_peekdata(child.task(), addr, data),
        PTRACE_POKETEXT | PTRACE_POKEDATA => generic_ptrace_pokedata(child.task(), addr, data),
        PTRACE_SETOPTIONS => ptrace_setoptions(child.task(), data),
        PTRACE_GETEVENTMSG => {
            let msg = child.task().inner.lock().ptrace_message;
            UserPtr::<u64>::new(data).write(&msg)?;
            Ok(0)
        }
        PTRACE_GETSIGINFO => {
            let info = child.task().inner.lock().last_siginfo.ok_or(EINVAL)?;
            UserPtr::new(data).write(&crate::arch::signal::siginfo(&info))?;
            Ok(0)
        }
        PTRACE_DETACH => ptrace_detach(child, data),
        PTRACE_CONT | PTRACE_SYSCALL | PTRACE_SINGLESTEP => ptrace_resume(child, request, data),
        PTRACE_GETREGSET | PTRACE_SETREGSET => {
            let uiov = UserPtr::<[u64; 2]>::new(data);
            let [base, len] = uiov.read()?;
            let len = crate::arch::ptrace::ptrace_regset(&mut child, request, addr, base, len)?;
            uiov.add(0).cast::<u64>().add(1).write(&len)?;
            Ok(0)
        }
        _ => Err(EIO),
    }
}

/// `ptrace(request, pid, addr, data)` (Linux `sys_ptrace`).
pub fn sys_ptrace(request: i64, pid: i64, addr: u64, data: u64) -> SysResult {
    if request == PTRACE_TRACEME {
        return ptrace_traceme();
    }
    let pid = pid as i32;
    let child = (pid > 0)
        .then(|| PID_TABLE.lock().find(pid))
        .flatten()
        .ok_or(ESRCH)?;
    if request == PTRACE_ATTACH || request == PTRACE_SEIZE {
        return ptrace_attach(&child, request, addr, data);
    }
    // KILL and INTERRUPT need a tracee of ours, stopped or not.
    if request == PTRACE_KILL || request == PTRACE_INTERRUPT {
        if !traced_by_current(&child) {
            return Err(ESRCH);
        }
        if request == PTRACE_KILL {
            let info = KSigInfo {
                signo: SIGKILL,
                code: SI_USER,
                pid: crate::task::current().tgid,
                ..KSigInfo::default()
            };
            send_signal(&child, info, false, false);
            return Ok(0);
        }
        // PTRACE_INTERRUPT: only for a seized tracee.
        if child.ptrace.load(SeqCst) & PT_SEIZED == 0 {
            return Err(EIO);
        }
        let _s = child.signal.inner.lock();
        child.jobctl.fetch_or(JOBCTL_TRAP_STOP, SeqCst);
        child.set_flag(TIF_SIGPENDING);
        drop(_s);
        crate::sched::try_to_wake_up(&child, &[TaskState::Interruptible]);
        return Ok(0);
    }
    let traced = ptrace_check_attach(&child)?;
    crate::arch::ptrace::arch_ptrace(traced, request, addr, data)
}

/// Stop at a syscall's entry or exit for a tracer that asked with `PTRACE_SYSCALL`,
/// with `message` for `PTRACE_GETEVENTMSG` (Linux `ptrace_report_syscall`): a signal
/// the tracer resumes with is sent to us. Returns whether we are to die (then the
/// syscall is not run).
fn ptrace_report_syscall(message: u64) -> bool {
    let t = crate::task::current_arc();
    let ptrace = t.ptrace.load(SeqCst);
    if ptrace & PT_PTRACED == 0 {
        return false;
    }
    let sysgood = if ptrace & PT_TRACESYSGOOD != 0 {
        0x80
    } else {
        0
    };
    let signr = ptrace_notify(SIGTRAP | sysgood, message);
    if signr != 0 && valid_signal(signr as u64) {
        let info = KSigInfo {
            signo: signr,
            code: crate::signal::SI_KERNEL,
            ..KSigInfo::default()
        };
        send_signal(&t, info, false, false);
    }
    t.fatal_signal_pending()
}

/// The syscall-enter stop (Linux `ptrace_report_syscall_entry`).
pub fn ptrace_report_syscall_entry() -> bool {
    ptrace_report_syscall(PTRACE_EVENTMSG_SYSCALL_ENTRY)
}

/// The syscall-exit stop (Linux `ptrace_report_syscall_exit`).
pub fn ptrace_report_syscall_exit() {
    ptrace_report_syscall(PTRACE_EVENTMSG_SYSCALL_EXIT);
}

/// Detach `p` from its exiting `tracer` (Linux `__ptrace_detach`). A zombie tracee is
/// then its real parent's to reap (who is told now), or nobody's: returns true when it
/// is to be released, claimed already.
fn __ptrace_detach(tracer: &Task, p: &Arc<Task>, tasklist: &TasklistGuard) -> bool {
    __ptrace_unlink(p, tasklist);
    if p.state() != TaskState::Zombie {
        return false;
    }
    let mut dead = !p.is_group_leader();
    if !dead && crate::exit::thread_group_empty(&p.signal.inner.lock(), p) {
        let real_parent = p.inner.lock().parent.upgrade();
        if real_parent.is_none_or(|rp| rp.tgid != tracer.tgid) {
            let sig = p.inner.lock().exit_signal;
            dead = crate::exit::do_notify_parent(p, sig, tasklist);
        } else if crate::exit::ignoring_children(tracer) {
            tracer.signal.wait_chldexit.wake_up_all();
            dead = true;
        }
    }
    if dead {
        p.set_state(TaskState::Dead);
    }
    dead
}

/// A stepped task's syscall has returned: a SIGTRAP stands for the step (Linux's generic
/// `user_single_step_report`: `SI_USER`, no sender).
pub fn user_single_step_report() {
    let me = crate::task::current_arc();
    let info = KSigInfo {
        signo: SIGTRAP,
        code: SI_USER,
        ..KSigInfo::default()
    };
    send_signal(&me, info, false, true);
}

/// The tracer `tracer` is exiting: let every tracee go, killing those that asked for
/// `PTRACE_O_EXITKILL` (Linux `exit_ptrace`). Returns the zombies nobody waits for now,
/// for the caller to release once the task-list lock is dropped.
pub fn exit_ptrace(tracer: &Task, tasklist: &TasklistGuard) -> Vec<Arc<Task>> {
    let tracees: Vec<Arc<Task>> = tracer.inner.lock().ptraced.clone();
    let mut dead = Vec::new();
    for p in tracees {
        if p.ptrace.load(SeqCst) & PT_EXITKILL != 0 {
            let info = KSigInfo {
                signo: SIGKILL,
                code: crate::signal::SI_KERNEL,
                ..KSigInfo::default()
            };
            send_signal(&p, info, false, false);
        }
        if __ptrace_detach(tracer, &p, tasklist) {
            dead.push(p);
        }
    }
    dead
}
