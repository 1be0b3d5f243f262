//! Signals, as far as forkos has them (Linux `kernel/signal.c`).
//!
//! forkos has no signal handlers yet (`rt_sigaction` comes with real C programs), so
//! every signal takes its default action: most terminate the whole process, a few are
//! ignored. Delivery follows Linux: the signal is marked pending on the threads of the
//! target process and they are woken; each one ends itself (`do_group_exit`) on its way
//! back to user space or out of an interruptible sleep. Faults (a bad access, an undefined
//! instruction) force their signal on the faulting process.
//!
//! Stop and continue signals (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT) are accepted
//! and ignored: forkos cannot stop processes yet.

use alloc::sync::Arc;

use crate::errno::*;
use crate::exit::do_group_exit;
use crate::sched::try_to_wake_up;
use crate::task::*;

pub use forkos_lib::uapi::signal::*;

/// Is the default action of `sig` to do nothing (here including stop/continue)?
fn default_ignored(sig: i32) -> bool {
    matches!(
        sig,
        SIGCHLD | SIGCONT | SIGURG | SIGWINCH | SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU
    )
}

/// Mark `t` as having a fatal signal and wake it if it sleeps interruptibly.
fn signal_wake_up(t: &Arc<Task>) {
    t.set_flag(TIF_SIGPENDING);
    try_to_wake_up(t, &[TaskState::Interruptible]);
}

/// Kill every other thread of `tsk`'s group (Linux `zap_other_threads`).
pub fn zap_other_threads(tsk: &Task) {
    for t in tsk.signal.threads() {
        if !core::ptr::eq(&*t, tsk) {
            signal_wake_up(&t);
        }
    }
}

/// Deliver `sig` to the process `leader` leads, taking the default action (Linux
/// `send_signal` + `complete_signal`). `forced` signals (faults) reach even init.
fn send_signal_to_process(leader: &Arc<Task>, sig: i32, forced: bool) {
    if sig == 0 || default_ignored(sig) {
        return;
    }
    // init cannot be killed by signals it has no handler for (SIGNAL_UNKILLABLE).
    if leader.tgid == 1 && !forced {
        return;
    }
    {
        let mut s = leader.signal.inner.lock();
        if s.group_exit_code.is_none() {
            s.group_exit_code = Some(sig);
        }
    }
    for t in leader.signal.threads() {
        signal_wake_up(&t);
    }
}

/// The leader of process `pid`, if it exists (zombies count, as in Linux).
fn find_process(pid: Pid) -> Option<Arc<Task>> {
    PID_TABLE
        .lock()
        .find(pid)
        .filter(|t| t.is_group_leader() && !t.kthread)
}

/// `kill(pid, sig)` (Linux `kill_something_info`).
pub fn sys_kill(pid: i64, sig: i64) -> SysResult {
    let (pid, sig) = (pid as i32, sig as i32);
    if !(0..=NSIG).contains(&sig) {
        return Err(EINVAL);
    }
    match pid {
        p if p > 0 => {
            let t = find_process(p).ok_or(ESRCH)?;
            send_signal_to_process(&t, sig, false);
            Ok(0)
        }
        // Process group 0 (everyone's, as forkos has no setpgid), or -1: every process
        // but init (and, for -1, the caller).
        0 | -1 => {
            let me = current().tgid;
            let all = PID_TABLE.lock().all();
            let mut found = false;
            for t in all
                .iter()
                .filter(|t| t.is_group_leader() && !t.kthread && t.tgid != 1)
            {
                if pid == -1 && t.tgid == me {
                    continue;
                }
                found = true;
                send_signal_to_process(t, sig, false);
            }
            if pid == 0 && me != 1 {
                found = true;
                if let Some(t) = find_process(me) {
                    send_signal_to_process(&t, sig, false);
                }
            }
            if found {
                Ok(0)
            } else {
                Err(ESRCH)
            }
        }
        i32::MIN => Err(ESRCH),
        _ => Err(ESRCH), // no process group other than 0 exists
    }
}

/// `tgkill(tgid, tid, sig)` and, with `tgid` -1, `tkill(tid, sig)` (Linux
/// `do_tkill`). With default actions only, a fatal signal to a thread ends its process.
pub fn sys_tgkill(tgid: i64, tid: i64, sig: i64) -> SysResult {
    let (tgid, tid, sig) = (tgid as i32, tid as i32, sig as i32);
    if tid <= 0 || (tgid != -1 && tgid <= 0) || !(0..=NSIG).contains(&sig) {
        return Err(EINVAL);
    }
    let t = PID_TABLE
        .lock()
        .find(tid)
        .filter(|t| !t.kthread)
        .ok_or(ESRCH)?;
    if tgid != -1 && t.tgid != tgid {
        return Err(ESRCH);
    }
    if matches!(t.state(), TaskState::Dead) {
        return Err(ESRCH);
    }
    let leader = PID_TABLE.lock().find(t.tgid).unwrap_or(t);
    send_signal_to_process(&leader, sig, false);
    Ok(0)
}

pub fn sys_tkill(tid: i64, sig: i64) -> SysResult {
    sys_tgkill(-1, tid, sig)
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

/// The current task faulted: print one line and end its process with `sig`, as the
/// default action of an unhandled fault signal does (Linux `arm64_force_sig_fault` with
/// `show_unhandled_signals`).
pub fn force_sig_fault(sig: i32, what: &str, addr: u64, pc: u64) -> ! {
    let t = current();
    crate::println!(
        "{}[{}]: unhandled {} ({}) at {:#x}, pc {:#x}",
        Comm(t),
        t.pid,
        signame(sig),
        what,
        addr,
        pc
    );
    let leader = find_process(t.tgid);
    if let Some(l) = leader {
        send_signal_to_process(&l, sig, true);
    }
    do_group_exit(sig)
}

/// On the way back to user space: act on a pending fatal signal (Linux `do_signal`).
pub fn do_signal() {
    let t = current();
    if t.fatal_signal_pending() {
        let code = t.signal.inner.lock().group_exit_code.unwrap_or(SIGKILL);
        do_group_exit(code);
    }
}
