//! The signal syscalls: sending (`kill`, `tkill`, `tgkill`), actions (`rt_sigaction`) and
//! masks (`rt_sigprocmask`) (the `SYSCALL_DEFINE`s of Linux `kernel/signal.c`). Delivery
//! itself is in the parent module.

use alloc::sync::Arc;

use super::*;
use crate::mm::uaccess::UserPtr;

/// Send `sig` from the current task to the process `leader` leads.
fn send_from_current(leader: &Arc<Task>, sig: i32, code: i32, group: bool) {
    let info = KSigInfo {
        signo: sig,
        code,
        pid: current().tgid,
        ..KSigInfo::default()
    };
    send_signal(leader, info, group, false);
}

fn send_signal_to_process(leader: &Arc<Task>, sig: i32) {
    if sig != 0 {
        send_from_current(leader, sig, SI_USER, true);
    }
}

/// The leader of process `pid`, if it exists (zombies count, as in Linux).
fn find_process(pid: Pid) -> Option<Arc<Task>> {
    PID_TABLE
        .lock()
        .find(pid)
        .filter(|t| t.is_group_leader() && !t.kthread)
}

/// `kill(pid, sig)` (Linux `kill_something_info`): `pid` > 0 is one process, 0 the
/// caller's process group, -1 every process but init and the caller, and below -1 the
/// process group `-pid`. As in Linux, the targets are found first (`ESRCH` if there are
/// none) and the signal number checked for each (`EINVAL`).
pub fn sys_kill(pid: i64, sig: i64) -> SysResult {
    let (pid, sig) = (pid as i32, sig as i32);
    if pid == i32::MIN {
        return Err(ESRCH);
    }
    let me = current().tgid;
    let targets: Vec<Arc<Task>> = match pid {
        p if p > 0 => find_process(p).into_iter().collect(),
        // Every process but init and the caller.
        -1 => PID_TABLE
            .lock()
            .all()
            .into_iter()
            .filter(|t| t.is_group_leader() && !t.kthread && t.tgid != 1 && t.tgid != me)
            .collect(),
        // A process group (Linux `__kill_pgrp_info`): the caller's, or `-pid`.
        p => {
            let pgrp = if p == 0 {
                current().signal.inner.lock().pgrp
            } else {
                -p
            };
            crate::pid::pgrp_tasks(pgrp)
        }
    };
    if targets.is_empty() {
        return Err(ESRCH);
    }
    if !(0..=NSIG).contains(&sig) {
        return Err(EINVAL);
    }
    for t in &targets {
        send_signal_to_process(t, sig);
    }
    Ok(0)
}

/// `tgkill(tgid, tid, sig)` and, with `tgid` -1, `tkill(tid, sig)` (Linux
/// `do_tkill`): the signal is pending on that one thread.
pub fn sys_tgkill(tgid: i64, tid: i64, sig: i64) -> SysResult {
    let (tgid, tid, sig) = (tgid as i32, tid as i32, sig as i32);
    if tid <= 0 || (tgid != -1 && tgid <= 0) {
        return Err(EINVAL);
    }
    let t = PID_TABLE
        .lock()
        .find(tid)
        .filter(|t| !t.kthread)
        .filter(|t| !matches!(t.state(), TaskState::Dead | TaskState::Zombie))
        .filter(|t| tgid == -1 || t.tgid == tgid)
        .ok_or(ESRCH)?;
    if !(0..=NSIG).contains(&sig) {
        return Err(EINVAL);
    }
    if sig != 0 {
        send_from_current(&t, sig, SI_TKILL, false);
    }
    Ok(0)
}

pub fn sys_tkill(tid: i64, sig: i64) -> SysResult {
    sys_tgkill(-1, tid, sig)
}

/// Linux's sigset is 8 bytes on arm64; any other size is refused.
fn check_sigsetsize(size: u64) -> Result<(), Errno> {
    if size != 8 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `rt_sigaction(sig, act, oact, sigsetsize)` (Linux `do_sigaction`): read and set what
/// a signal does. SIGKILL and SIGSTOP cannot be changed.
pub fn sys_rt_sigaction(
    sig: u64,
    act: UserPtr<SigAction>,
    oact: UserPtr<SigAction>,
    sigsetsize: u64,
) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    // Linux copies the new action in before it looks at the signal number.
    let new = if !act.is_null() {
        Some(act.read()?)
    } else {
        None
    };
    let sig = sig as i32;
    if !(1..=NSIG).contains(&sig) || (new.is_some() && sigmask(sig) & UNBLOCKABLE != 0) {
        return Err(EINVAL);
    }
    let t = &current();
    let old = {
        let sighand = t.inner.lock().sighand.clone();
        let mut action = sighand.lock();
        let old = action[sig as usize - 1];
        if let Some(mut a) = new {
            a.mask &= !UNBLOCKABLE;
            action[sig as usize - 1] = a;
        }
        old
    };
    // POSIX: an action that ignores the signal discards it where it is pending, blocked
    // or not: on the process and on every thread.
    if new.is_some_and(|a| sig_handler_ignored(a.handler, sig)) {
        t.signal.inner.lock().shared_pending.flush(sig);
        for th in t.signal.threads() {
            th.inner.lock().pending.flush(sig);
        }
        recalc_sigpending(t);
    }
    if !oact.is_null() {
        oact.write(&old)?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, oset, sigsetsize)` (Linux `sigprocmask`): read and change
/// the calling thread's blocked signals. SIGKILL and SIGSTOP are never blocked.
pub fn sys_rt_sigprocmask(
    how: u64,
    set: UserPtr<u64>,
    oset: UserPtr<u64>,
    sigsetsize: u64,
) -> SysResult {
    check_sigsetsize(sigsetsize)?;
    let t = &current();
    let old = t.inner.lock().blocked;
    if !set.is_null() {
        let s = set.read()?;
        let new = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        };
        t.inner.lock().blocked = new & !UNBLOCKABLE;
        // A signal just unblocked is taken on the way out of this syscall.
        recalc_sigpending(t);
    }
    if !oset.is_null() {
        oset.write(&old)?;
    }
    Ok(0)
}
