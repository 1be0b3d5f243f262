//! Signals (Linux `kernel/signal.c`).
//!
//! A signal is first made *pending* — on one thread (`tkill`, `tgkill`, a fault) or on
//! the whole process (`kill`, a child's exit) — together with its siginfo, unless the
//! process ignores it. Then a thread that does not block it is woken with
//! `TIF_SIGPENDING` set (Linux `complete_signal`); a signal whose default action kills
//! ends the whole process at once. On its way back to user space, the thread takes the
//! signal (the arm64 `do_signal` in `arch/aarch64/signal.rs` calls [`get_signal`]):
//! ignored, default action, or a handler, run through a frame on the user stack and left
//! with `rt_sigreturn`. A syscall that a signal interrupted is restarted or fails with
//! `EINTR`, as `SA_RESTART` says (also in the arm64 half).
//!
//! The syscalls that send signals and set actions and masks are in [`syscalls`].
//!
//! Job control as Linux does it: SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU (default action)
//! stop every thread of the process ([`do_signal_stop`], `TASK_STOPPED`), and the parent
//! is told with SIGCHLD `CLD_STOPPED`; SIGCONT wakes them all (in [`send_signal`], Linux
//! `prepare_signal`) and the parent gets `CLD_CONTINUED`; SIGKILL ends a stopped
//! process. SIGTSTP, SIGTTIN and SIGTTOU are discarded in an orphaned process group.
//!
//! A traced task shows its tracer every signal but SIGKILL before taking it (the
//! signal-delivery stop, `ptrace_signal` in `ptrace.rs`), and its group stop is a ptrace
//! stop.
//!
//! Not modelled: real-time signal queues (one instance of each signal is pending at a
//! time), `sigaltstack`, core dumps.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::errno::*;
use crate::exit::do_group_exit;
use crate::pid::PID_TABLE;
use crate::sched::try_to_wake_up;
use crate::task::*;

pub use forkos_lib::uapi::siginfo::*;
pub use forkos_lib::uapi::signal::*;

pub mod syscalls;

/// Is the default action of `sig` to do nothing (Linux `sig_kernel_ignore`)?
fn default_ignored(sig: i32) -> bool {
    matches!(sig, SIGCHLD | SIGCONT | SIGURG | SIGWINCH)
}

/// Is the default action of `sig` to stop the process (Linux `sig_kernel_stop`)?
pub fn sig_kernel_stop(sig: i32) -> bool {
    matches!(sig, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
}

/// The stop signals as a set (Linux `SIG_KERNEL_STOP_MASK`).
const STOP_MASK: u64 = sigmask(SIGSTOP) | sigmask(SIGTSTP) | sigmask(SIGTTIN) | sigmask(SIGTTOU);

/// Does `handler` ignore `sig`: `SIG_IGN`, or `SIG_DFL` for a signal whose default is to
/// do nothing (Linux `sig_handler_ignored` with `sig_kernel_ignore`: SIGCONT, SIGCHLD,
/// SIGWINCH and SIGURG; the stop signals stop, and are not in it).
fn sig_handler_ignored(handler: u64, sig: i32) -> bool {
    handler == SIG_IGN
        || (handler == SIG_DFL && matches!(sig, SIGCONT | SIGCHLD | SIGWINCH | SIGURG))
}

/// What the receiver learns about one signal (Linux `kernel_siginfo`, the fields forkos
/// fills).
#[derive(Clone, Copy, Debug, Default)]
pub struct KSigInfo {
    pub signo: i32,
    /// `SI_USER`, `SI_TKILL`, `CLD_EXITED`, `SEGV_MAPERR`, ...
    pub code: i32,
    /// A fault: `addr` is the faulting address; otherwise `pid` and `uid` name the sender
    /// (or, for SIGCHLD, the child, with its `status`).
    pub fault: bool,
    pub addr: u64,
    pub pid: i32,
    pub uid: u32,
    pub status: i32,
}

/// Signals waiting to be taken (Linux `struct sigpending`): a set, and the siginfo of
/// each (one instance per signal).
#[derive(Default)]
pub struct SigPending {
    pub set: u64,
    pub queue: Vec<KSigInfo>,
}

impl SigPending {
    /// Queue `info` unless that signal is already pending.
    pub(crate) fn add(&mut self, info: KSigInfo) {
        let m = sigmask(info.signo);
        if self.set & m == 0 {
            self.set |= m;
            self.queue.push(info);
        }
    }

    /// Discard `sig` if it is pending (Linux `flush_sigqueue_mask` for one signal).
    fn flush(&mut self, sig: i32) {
        self.flush_mask(sigmask(sig));
    }

    /// Discard every pending signal of `mask` (Linux `flush_sigqueue_mask`).
    fn flush_mask(&mut self, mask: u64) {
        self.set &= !mask;
        self.queue.retain(|q| sigmask(q.signo) & mask == 0);
    }

    /// Take the lowest pending signal not in `blocked` (Linux `__dequeue_signal`).
    fn take(&mut self, blocked: u64) -> Option<KSigInfo> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        self.set &= !sigmask(sig);
        let i = self.queue.iter().position(|q| q.signo == sig)?;
        Some(self.queue.swap_remove(i))
    }
}

/// Restart codes a syscall returns when a signal interrupted it (Linux
/// `include/linux/errno.h`); never seen by user space.
pub const ERESTARTSYS: Errno = Errno(512);
pub const ERESTARTNOHAND: Errno = Errno(514);
/// "Restart with `restart_syscall`, which finishes what the task's restart block
/// describes, unless a handler runs" (Linux `ERESTART_RESTARTBLOCK`): an interrupted
/// sleep goes on for the time that was left, not from the start.
pub const ERESTART_RESTARTBLOCK: Errno = Errno(516);

/// Is `x0` (a syscall's return value) one of the restart codes?
pub fn is_restart_code(x0: u64) -> bool {
    let r = x0 as i64;
    r == -(ERESTARTSYS.0 as i64)
        || r == -(ERESTARTNOHAND.0 as i64)
        || r == -(ERESTART_RESTARTBLOCK.0 as i64)
}

pub(crate) fn action_of(t: &Task, sig: i32) -> SigAction {
    t.inner.lock().sighand.lock()[sig as usize - 1]
}

pub(crate) fn blocks(t: &Task, sig: i32) -> bool {
    t.inner.lock().blocked & sigmask(sig) != 0
}

/// Does the process drop `sig` on arrival (Linux `sig_ignored`)? Blocked signals are
/// kept: the action may change before they are unblocked.
fn sig_ignored(t: &Task, sig: i32) -> bool {
    if blocks(t, sig) {
        return false;
    }
    // A tracer may want to know even of an ignored signal, SIGKILL aside.
    if t.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0 && sig != SIGKILL {
        return false;
    }
    sig_handler_ignored(action_of(t, sig).handler, sig)
}

/// Does taking `sig` end the process (Linux `sig_fatal`)?
fn sig_fatal(t: &Task, sig: i32) -> bool {
    sig == SIGKILL
        || (action_of(t, sig).handler == SIG_DFL && !default_ignored(sig) && !sig_kernel_stop(sig))
}

/// Send `sig` to every process of group `pgrp` (Linux `kill_pgrp`): from the kernel
/// (`SI_KERNEL`) with `priv_`, as the tty's signal characters and job control do; else
/// as the current process (`SI_USER`).
pub fn kill_pgrp(pgrp: crate::task::Pid, sig: i32, priv_: bool) {
    let (code, pid) = if priv_ {
        (SI_KERNEL, 0)
    } else {
        (SI_USER, crate::task::current().tgid)
    };
    for p in crate::pid::pgrp_tasks(pgrp) {
        let info = KSigInfo {
            signo: sig,
            code,
            pid,
            ..KSigInfo::default()
        };
        send_signal(&p, info, true, false);
    }
}

/// Set `TIF_SIGPENDING` on `t` and wake it from an interruptible sleep, and with
/// `resume` (a fatal signal) from a stop too, a ptrace stop included unless its tracer
/// has it frozen; if it was not asleep, it may be running on another CPU, which is made
/// to look now (Linux `signal_wake_up_state`). With `resume`, the caller must not hold
/// `t`'s group lock.
fn signal_wake_up(t: &Arc<Task>, resume: bool) {
    let woken = if resume {
        // Under the group's lock from the flag to the wake-up, as Linux's runs under
        // siglock. It orders this against `ptrace_check_attach` freezing the task and
        // its unfreezing, which looks for a fatal signal, and against the task's own
        // `ptrace_stop`, which enters TASK_TRACED under the lock: a task that sees the
        // flag and takes this very signal (a SIGKILL, say) before the wake-up is done
        // cannot stop in between (its PTRACE_EVENT_EXIT stop) and be woken from that
        // stop by it. Lock order: the group's lock, then `pi_lock` (in try_to_wake_up).
        let _s = t.signal.inner.lock();
        t.set_flag(TIF_SIGPENDING);
        if t.jobctl.load(core::sync::atomic::Ordering::SeqCst) & JOBCTL_PTRACE_FROZEN != 0 {
            try_to_wake_up(t, &[TaskState::Interruptible, TaskState::Stopped])
        } else {
            t.jobctl
                .fetch_and(!JOBCTL_TRACED, core::sync::atomic::Ordering::SeqCst);
            try_to_wake_up(
                t,
                &[
                    TaskState::Interruptible,
                    TaskState::Stopped,
                    TaskState::Traced,
                ],
            )
        }
    } else {
        t.set_flag(TIF_SIGPENDING);
        try_to_wake_up(t, &[TaskState::Interruptible])
    };
    if !woken {
        crate::sched::kick_process(t);
    }
}

/// Set the stop flags of a group, keeping the others (Linux `signal_set_stop_flags`).
fn signal_set_stop_flags(s: &mut SignalInner, flags: u32) {
    s.flags = (s.flags & !SIGNAL_STOP_MASK) | flags;
}

/// What arriving `sig` does before it is queued (Linux `prepare_signal`): a stop signal
/// discards a pending SIGCONT; SIGCONT discards pending stop signals, wakes every
/// stopped thread, and leaves its parent a `CLD_CONTINUED` (or, if the stop was not
/// complete, `CLD_STOPPED`) to be told by the first thread that runs, even when SIGCONT
/// itself is ignored.
fn prepare_signal(t: &Task, sig: i32) {
    if sig_kernel_stop(sig) {
        let mut s = t.signal.inner.lock();
        s.shared_pending.flush(SIGCONT);
        drop(s);
        for th in t.signal.threads() {
            th.inner.lock().pending.flush(SIGCONT);
        }
    } else if sig == SIGCONT {
        let mut s = t.signal.inner.lock();
        s.shared_pending.flush_mask(STOP_MASK);
        let threads: Vec<Arc<Task>> = s
            .threads
            .iter()
            .filter_map(alloc::sync::Weak::upgrade)
            .collect();
        for th in threads {
            th.inner.lock().pending.flush_mask(STOP_MASK);
            th.jobctl.fetch_and(
                !(JOBCTL_STOP_PENDING | JOBCTL_STOP_DEQUEUED),
                core::sync::atomic::Ordering::Relaxed,
            );
            try_to_wake_up(&th, &[TaskState::Stopped]);
        }
        let why = if s.flags & SIGNAL_STOP_STOPPED != 0 {
            SIGNAL_CLD_CONTINUED
        } else if s.group_stop_count != 0 {
            SIGNAL_CLD_STOPPED
        } else {
            0
        };
        if why != 0 {
            signal_set_stop_flags(&mut s, why | SIGNAL_STOP_CONTINUED);
            s.group_stop_count = 0;
            s.group_stop_code = 0;
        }
    }
}

/// Tell the parent of `tsk`'s process that it stopped or continued, or, `for_ptracer`,
/// tell `tsk`'s tracer that it stopped for it (Linux `do_notify_parent_cldstop`):
/// SIGCHLD with `why` (`CLD_STOPPED`, `CLD_CONTINUED`, `CLD_TRAPPED`) unless the parent
/// ignores SIGCHLD or set `SA_NOCLDSTOP`, and a wake-up of its waits.
pub fn do_notify_parent_cldstop(
    tsk: &Task,
    for_ptracer: bool,
    why: i32,
    _tasklist: &TasklistGuard,
) {
    let status = match why {
        CLD_CONTINUED => SIGCONT,
        CLD_TRAPPED => tsk.inner.lock().exit_code & 0x7f,
        _ => tsk.signal.inner.lock().group_stop_code & 0x7f,
    };
    let (parent, pid) = if for_ptracer {
        (tsk.inner.lock().ptrace_parent.upgrade(), tsk.pid)
    } else {
        (tsk.real_parent(), tsk.tgid)
    };
    let Some(parent) = parent else { return };
    let a = action_of(&parent, SIGCHLD);
    if a.handler != SIG_IGN && a.flags & SA_NOCLDSTOP == 0 {
        let info = KSigInfo {
            signo: SIGCHLD,
            code: why,
            pid,
            status,
            ..KSigInfo::default()
        };
        send_signal(&parent, info, true, false);
    }
    parent.signal.wait_chldexit.wake_up_all();
}

/// Take part in the group stop, starting it if `signr` is the stop signal this thread
/// just took, then sleep in `TASK_STOPPED` until SIGCONT or SIGKILL (Linux
/// `do_signal_stop`). The thread that completes the stop tells the parent. Returns
/// false when there is nothing to stop for (a SIGCONT came in between, or the process
/// is dying).
fn do_signal_stop(t: &Task, signr: i32) -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    let mut s = t.signal.inner.lock();
    if t.jobctl.load(Relaxed) & JOBCTL_STOP_PENDING == 0 {
        if t.jobctl.load(Relaxed) & JOBCTL_STOP_DEQUEUED == 0
            || s.group_exit_code.is_some()
            || s.group_exec_task.is_some()
        {
            return false;
        }
        if s.flags & SIGNAL_STOP_STOPPED == 0 {
            s.group_stop_code = signr;
        }
        // Every thread that is not stopped or gone takes part (this one too).
        s.group_stop_count = 1;
        t.jobctl.fetch_or(JOBCTL_STOP_PENDING, Relaxed);
        let others = s.threads.iter().filter_map(alloc::sync::Weak::upgrade);
        let others: Vec<Arc<Task>> = others.collect();
        for th in others {
            if core::ptr::eq(&*th, t)
                || matches!(
                    th.state(),
                    TaskState::Stopped | TaskState::Zombie | TaskState::Dead
                )
            {
                continue;
            }
            if th.jobctl.fetch_or(JOBCTL_STOP_PENDING, Relaxed) & JOBCTL_STOP_PENDING == 0 {
                s.group_stop_count += 1;
            }
            signal_wake_up(&th, false);
        }
    }
    // Linux `task_participate_group_stop`: the last thread in makes the stop complete.
    t.jobctl
        .fetch_and(!(JOBCTL_STOP_PENDING | JOBCTL_STOP_DEQUEUED), Relaxed);
    s.group_stop_count = s.group_stop_count.saturating_sub(1);
    let notify = s.group_stop_count == 0 && s.flags & SIGNAL_STOP_STOPPED == 0;
    if notify {
        signal_set_stop_flags(&mut s, SIGNAL_STOP_STOPPED);
    }
    if t.ptrace.load(Relaxed) != 0 {
        // While traced, the group stop is a ptrace stop: a trap the caller takes
        // (Linux `task_set_jobctl_pending(current, JOBCTL_TRAP_STOP)`). The real
        // parent still hears of a completed stop if someone else traces us.
        t.jobctl.fetch_or(JOBCTL_TRAP_STOP, Relaxed);
        drop(s);
        if notify && crate::ptrace::ptrace_reparented(t) {
            let tasklist = TASKLIST_LOCK.lock();
            do_notify_parent_cldstop(t, false, CLD_STOPPED, &tasklist);
        }
        return false;
    }
    // Set under the group's lock, where SIGCONT looks for stopped threads to wake, and
    // as a special state (Linux `set_special_state(TASK_STOPPED)`): a waker that saw us
    // asleep a moment ago cannot undo it.
    t.set_special_state(TaskState::Stopped);
    drop(s);
    if notify {
        let tasklist = TASKLIST_LOCK.lock();
        do_notify_parent_cldstop(t, false, CLD_STOPPED, &tasklist);
    }
    crate::sched::schedule();
    true
}

/// Recompute `TIF_SIGPENDING` for `t` (Linux `recalc_sigpending`): set if a signal it
/// does not block is pending, or its process is dying.
pub fn recalc_sigpending(t: &Task) {
    let (blocked, mine) = {
        let i = t.inner.lock();
        (i.blocked, i.pending.set)
    };
    let (shared, dying) = {
        let s = t.signal.inner.lock();
        let exec_other = s.group_exec_task.is_some_and(|p| p != t.pid);
        (
            s.shared_pending.set,
            s.group_exit_code.is_some() || exec_other,
        )
    };
    if (mine | shared) & !blocked != 0 || dying {
        t.set_flag(TIF_SIGPENDING);
    } else {
        t.clear_flag(TIF_SIGPENDING);
    }
}

/// Kill every other thread of `tsk`'s group (Linux `zap_other_threads`).
pub fn zap_other_threads(tsk: &Task) {
    for t in tsk.signal.threads() {
        if !core::ptr::eq(&*t, tsk) {
            sigaddset_sigkill(&t);
            signal_wake_up(&t, true);
        }
    }
}

/// Mark SIGKILL pending on thread `t` of a dying group (Linux
/// `sigaddset(&t->pending.signal, SIGKILL)` in `complete_signal` and
/// `zap_other_threads`): it never gets to take it, but it is how a ptrace stop knows
/// that the thread is being killed (Linux `__fatal_signal_pending`), rather than being
/// the one that chose to exit.
fn sigaddset_sigkill(t: &Task) {
    t.inner.lock().pending.add(KSigInfo {
        signo: SIGKILL,
        code: SI_KERNEL,
        ..KSigInfo::default()
    });
}

/// Make `info.signo` pending on thread `t` (`group` false) or on its process, and wake
/// a thread to take it (Linux `__send_signal_locked` + `complete_signal`). `forced`:
/// a fault's signal, which can be neither ignored nor blocked (`force_sig_info`).
pub fn send_signal(t: &Arc<Task>, info: KSigInfo, group: bool, forced: bool) {
    let sig = info.signo;
    if !(1..=NSIG).contains(&sig) {
        return;
    }
    if forced {
        let mut i = t.inner.lock();
        let blocked = i.blocked & sigmask(sig) != 0;
        let sighand = i.sighand.clone();
        let a = &mut sighand.lock()[sig as usize - 1];
        if a.handler == SIG_IGN || blocked {
            a.handler = SIG_DFL;
            i.blocked &= !sigmask(sig);
        }
    } else {
        prepare_signal(t, sig);
        if sig_ignored(t, sig) {
            return;
        }
        // init is never killed by a signal it has no handler for (SIGNAL_UNKILLABLE).
        if t.tgid == 1 && action_of(t, sig).handler == SIG_DFL {
            return;
        }
    }
    if group {
        t.signal.inner.lock().shared_pending.add(info);
    } else {
        t.inner.lock().pending.add(info);
    }
    // Who takes it: the target if it does not block it, else (for the process) any
    // thread that does not; if all block it, it waits for one to unblock.
    let taker = if !blocks(t, sig) {
        Some(t.clone())
    } else if group {
        t.signal.threads().into_iter().find(|th| {
            !blocks(th, sig) && !matches!(th.state(), TaskState::Zombie | TaskState::Dead)
        })
    } else {
        None
    };
    let Some(taker) = taker else { return };
    // A traced process first shows its tracer any signal but SIGKILL.
    let traced = t.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0;
    if sig_fatal(t, sig) && (sig == SIGKILL || !traced) {
        // The whole process dies now, whichever thread would have taken it.
        {
            let mut s = t.signal.inner.lock();
            if s.group_exit_code.is_none() {
                s.group_exit_code = Some(sig);
            }
        }
        for th in t.signal.threads() {
            sigaddset_sigkill(&th);
            signal_wake_up(&th, true);
        }
        return;
    }
    signal_wake_up(&taker, false);
}

/// A name for the fault report line.
fn signame(sig: i32) -> &'static str {
    match sig {
        SIGILL => "SIGILL",
        SIGTRAP => "SIGTRAP",
        SIGBUS => "SIGBUS",
        SIGSEGV => "SIGSEGV",
        SIGKILL => "SIGKILL",
        _ => "signal",
    }
}

/// The current task faulted: send it `sig` with the fault's address and `code` (Linux
/// `arm64_force_sig_fault`). With a handler, it runs on the way back to user space; with
/// none, the process dies, and the kernel prints one line as Linux's
/// `show_unhandled_signals` does.
pub fn force_sig_fault(sig: i32, code: i32, what: &str, addr: u64, pc: u64) {
    let t = current_arc();
    // A tracee's tracer decides what becomes of it (Linux `unhandled_signal`).
    let traced = t.ptrace.load(core::sync::atomic::Ordering::Relaxed) != 0;
    if !traced && (sig == SIGKILL || action_of(&t, sig).handler == SIG_DFL || blocks(&t, sig)) {
        crate::println!(
            "{}[{}]: unhandled {} ({}) at {:#x}, pc {:#x}",
            Comm(&t),
            t.pid,
            signame(sig),
            what,
            addr,
            pc
        );
    }
    let info = KSigInfo {
        signo: sig,
        code,
        fault: true,
        addr,
        ..KSigInfo::default()
    };
    send_signal(&t, info, false, true);
}

/// Take the next signal that needs doing something: a handler to run, or a default
/// action that kills (which does not return). Ignored signals are dropped on the way
/// (Linux `get_signal`).
pub fn get_signal(t: &Task) -> Option<(KSigInfo, SigAction)> {
    loop {
        if t.fatal_signal_pending() {
            // Taken: no longer pending (Linux `sigdelset(&current->pending.signal,
            // SIGKILL)`), so that a tracee still stops for PTRACE_EVENT_EXIT.
            t.inner.lock().pending.flush(SIGKILL);
            let (code, exec) = {
                let s = t.signal.inner.lock();
                (s.group_exit_code, s.group_exec_task)
            };
            match (code, exec) {
                // Another thread is in execve: only this thread goes (Linux
                // `de_thread` kills the others with SIGKILL, which ends a thread).
                (None, Some(pid)) if pid != t.pid => crate::exit::do_exit(SIGKILL),
                (code, _) => do_group_exit(code.unwrap_or(SIGKILL)),
            }
        }
        // Another thread started a group stop: take part.
        if t.jobctl.load(core::sync::atomic::Ordering::Relaxed) & JOBCTL_STOP_PENDING != 0
            && do_signal_stop(t, 0)
        {
            continue;
        }
        // SIGCONT woke the group: tell the parent now that the locks are free.
        let why = {
            let mut s = t.signal.inner.lock();
            let why = s.flags & SIGNAL_CLD_MASK;
            s.flags &= !SIGNAL_CLD_MASK;
            why
        };
        if why != 0 {
            let code = if why & SIGNAL_CLD_CONTINUED != 0 {
                CLD_CONTINUED
            } else {
                CLD_STOPPED
            };
            let tasklist = TASKLIST_LOCK.lock();
            do_notify_parent_cldstop(t, false, code, &tasklist);
            continue;
        }
        // A stop trap for the tracer: PTRACE_INTERRUPT, a new seized child, or our
        // group's stop while traced (Linux `do_jobctl_trap`).
        if t.jobctl.load(core::sync::atomic::Ordering::SeqCst) & JOBCTL_TRAP_STOP != 0 {
            t.jobctl
                .fetch_and(!JOBCTL_TRAP_STOP, core::sync::atomic::Ordering::SeqCst);
            if t.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0 {
                crate::ptrace::do_jobctl_trap(t);
            }
            continue;
        }
        let blocked = t.inner.lock().blocked;
        let info = t.inner.lock().pending.take(blocked);
        let mut info = match info {
            Some(i) => i,
            None => t.signal.inner.lock().shared_pending.take(blocked)?,
        };
        // The tracer sees the signal first, and may cancel or change it (Linux
        // `ptrace_signal`, the signal-delivery stop).
        if t.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0 && info.signo != SIGKILL {
            let me = current_arc();
            if crate::ptrace::ptrace_signal(&me, &mut info) == 0 {
                continue;
            }
        }
        let sig = info.signo;
        let action = action_of(t, sig);
        match action.handler {
            SIG_IGN => continue,
            SIG_DFL if default_ignored(sig) || t.tgid == 1 => continue,
            SIG_DFL if sig_kernel_stop(sig) => {
                // Linux `dequeue_signal` marks the stop as taken, under the lock that
                // SIGCONT clears the mark under.
                {
                    let _s = t.signal.inner.lock();
                    if sigmask(sig) & STOP_MASK != 0 {
                        t.jobctl
                            .fetch_or(JOBCTL_STOP_DEQUEUED, core::sync::atomic::Ordering::Relaxed);
                    }
                }
                // The terminal's stop signals mean nothing to a process group no
                // terminal job control can continue (POSIX 3.255).
                if sig != SIGSTOP && crate::exit::is_current_pgrp_orphaned(t) {
                    continue;
                }
                do_signal_stop(t, sig);
            }
            SIG_DFL => do_group_exit(sig),
            _ => return Some((info, action)),
        }
    }
}

/// A handler's frame is on the user stack: block the handler's mask and, unless
/// `SA_NODEFER`, the signal itself while it runs; forget a one-shot handler (Linux
/// `signal_setup_done` -> `signal_delivered`).
pub fn signal_setup_done(t: &Task, sig: i32, action: &SigAction) {
    let blocked = t.inner.lock().blocked;
    let mut more = action.mask;
    if action.flags & SA_NODEFER == 0 {
        more |= sigmask(sig);
    }
    t.inner.lock().blocked = (blocked | more) & !UNBLOCKABLE;
    if action.flags & SA_RESETHAND != 0 {
        t.inner.lock().sighand.lock()[sig as usize - 1] = SigAction::default();
    }
}

/// No room on the user stack for a handler's frame: the process dies of SIGSEGV (Linux
/// `force_sigsegv` from `signal_setup_done`).
pub fn force_sigsegv(t: &Task, sp: u64) -> ! {
    crate::println!(
        "{}[{}]: cannot write a signal frame at sp {sp:#x}: SIGSEGV",
        Comm(t),
        t.pid
    );
    do_group_exit(SIGSEGV)
}

/// Set the current thread's blocked signals (Linux `set_current_blocked`): never
/// SIGKILL or SIGSTOP; a signal just unblocked is taken on the way out.
pub fn set_current_blocked(set: u64) {
    let t = &current();
    t.inner.lock().blocked = set & !UNBLOCKABLE;
    recalc_sigpending(t);
}

/// The signals no one can catch, block or ignore.
const UNBLOCKABLE: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

// SAFETY: `struct sigaction` is four u64 fields, no padding; every bit pattern is valid.
unsafe impl crate::mm::uaccess::Pod for SigAction {}

/// Handlers go back to the default action; ignored signals stay ignored (Linux
/// `flush_signal_handlers` at exec, and `CLONE_CLEAR_SIGHAND`).
pub fn reset_handlers(action: &mut [SigAction; NSIG as usize]) {
    for a in action.iter_mut() {
        if a.handler != SIG_IGN {
            *a = SigAction::default();
        } else {
            a.flags = 0;
            a.mask = 0;
            a.restorer = 0;
        }
    }
}

/// A new program keeps no handler of the old one (Linux `flush_signal_handlers`).
/// A table shared with another process (`CLONE_SIGHAND` without `CLONE_THREAD`) is
/// first replaced by a copy, so that the other keeps its handlers (Linux
/// `unshare_sighand` in `de_thread`).
pub fn flush_signal_handlers(tsk: &Task) {
    let mut i = tsk.inner.lock();
    if Arc::strong_count(&i.sighand) > 1 {
        i.sighand = crate::task::SigHand::copy_of(&i.sighand);
    }
    reset_handlers(&mut i.sighand.lock());
}
