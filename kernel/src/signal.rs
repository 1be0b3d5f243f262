//! Signals, as far as forkos has them (Linux `kernel/signal.c`).
//!
//! forkos does not run signal handlers yet: `rt_sigaction` and `rt_sigprocmask` keep
//! each process's actions and each thread's mask as Linux does (inherited at fork, reset
//! at exec), and `SIG_IGN` drops a signal, but every other signal takes its default
//! action: most terminate the whole process, a few are ignored. Delivery follows Linux: the signal is marked pending on the threads of the
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
    // An ignored signal is dropped on sending (Linux `sig_ignored`); a fault's signal
    // cannot be ignored (`force_sig_info` resets the action).
    if !forced && leader.signal.inner.lock().action[sig as usize - 1].handler == SIG_IGN {
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
        let (code, exec) = {
            let s = t.signal.inner.lock();
            (s.group_exit_code, s.group_exec_task)
        };
        match (code, exec) {
            // Another thread is in execve: only this thread goes (Linux `de_thread`
            // kills the others with SIGKILL, which ends a thread, not the group).
            (None, Some(pid)) if pid != t.pid => crate::exit::do_exit(SIGKILL),
            (code, _) => do_group_exit(code.unwrap_or(SIGKILL)),
        }
    }
}

/// `sa_handler` values that are not functions.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
/// The signals no one can catch, block or ignore.
const UNBLOCKABLE: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);

/// The bit of `sig` in a signal set.
pub const fn sigmask(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// What a signal does (Linux `struct sigaction` as arm64's `rt_sigaction` passes it).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

// SAFETY: four u64 fields, no padding; every bit pattern is valid.
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
pub fn flush_signal_handlers(tsk: &Task) {
    reset_handlers(&mut tsk.signal.inner.lock().action);
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
pub fn sys_rt_sigaction(sig: u64, act: u64, oact: u64, sigsetsize: u64) -> SysResult {
    use crate::mm::uaccess::UserPtr;
    check_sigsetsize(sigsetsize)?;
    let sig = sig as i32;
    if !(1..=NSIG).contains(&sig) {
        return Err(EINVAL);
    }
    let new = if act != 0 {
        let mut a = UserPtr::<SigAction>::new(act).read()?;
        if sigmask(sig) & UNBLOCKABLE != 0 {
            return Err(EINVAL);
        }
        a.mask &= !UNBLOCKABLE;
        Some(a)
    } else {
        None
    };
    let t = current();
    let old = {
        let mut s = t.signal.inner.lock();
        let old = s.action[sig as usize - 1];
        if let Some(a) = new {
            s.action[sig as usize - 1] = a;
        }
        old
    };
    if oact != 0 {
        UserPtr::<SigAction>::new(oact).write(&old)?;
    }
    Ok(0)
}

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

/// `rt_sigprocmask(how, set, oset, sigsetsize)` (Linux `sigprocmask`): read and change
/// the calling thread's blocked signals. SIGKILL and SIGSTOP are never blocked.
pub fn sys_rt_sigprocmask(how: u64, set: u64, oset: u64, sigsetsize: u64) -> SysResult {
    use crate::mm::uaccess::UserPtr;
    check_sigsetsize(sigsetsize)?;
    let t = current();
    let old = t.inner.lock().blocked;
    if set != 0 {
        let s = UserPtr::<u64>::new(set).read()?;
        let new = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        };
        t.inner.lock().blocked = new & !UNBLOCKABLE;
    }
    if oset != 0 {
        UserPtr::<u64>::new(oset).write(&old)?;
    }
    Ok(0)
}
