//! Signals (Linux `kernel/signal.c`).
//!
//! A signal is first made *pending* — on one thread (`tkill`, `tgkill`, a fault) or on
//! the whole process (`kill`, a child's exit) — together with its siginfo, unless the
//! process ignores it. Then a thread that does not block it is woken with
//! `TIF_SIGPENDING` set (Linux `complete_signal`); a signal whose default action kills
//! ends the whole process at once. On its way back to user space, the thread takes the
//! signal ([`do_signal`] -> `get_signal`): ignored, default action, or a handler, run
//! through a frame on the user stack (`arch/aarch64/signal.rs`) and left with
//! `rt_sigreturn`. A syscall that a signal interrupted is restarted or fails with
//! `EINTR`, as `SA_RESTART` says.
//!
//! Not modelled: stopping and continuing (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT
//! are accepted and otherwise ignored), real-time signal queues (one instance of each
//! signal is pending at a time), `sigaltstack`, core dumps.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::arch::ptrace::{PtRegs, NO_SYSCALL};
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

/// `si_code`s (Linux `include/uapi/asm-generic/siginfo.h`).
pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const ILL_ILLOPC: i32 = 1;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const BUS_ADRALN: i32 = 1;
pub const TRAP_BRKPT: i32 = 1;

/// Signals waiting to be taken (Linux `struct sigpending`): a set, and the siginfo of
/// each (one instance per signal).
#[derive(Default)]
pub struct SigPending {
    pub set: u64,
    pub queue: Vec<KSigInfo>,
}

impl SigPending {
    /// Queue `info` unless that signal is already pending.
    fn add(&mut self, info: KSigInfo) {
        let m = sigmask(info.signo);
        if self.set & m == 0 {
            self.set |= m;
            self.queue.push(info);
        }
    }

    /// Discard `sig` if it is pending (Linux `flush_sigqueue_mask` for one signal).
    fn flush(&mut self, sig: i32) {
        self.set &= !sigmask(sig);
        self.queue.retain(|q| q.signo != sig);
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

/// Is `x0` (a syscall's return value) one of the restart codes?
pub fn is_restart_code(x0: u64) -> bool {
    let r = x0 as i64;
    r == -(ERESTARTSYS.0 as i64) || r == -(ERESTARTNOHAND.0 as i64)
}

fn action_of(t: &Task, sig: i32) -> SigAction {
    t.inner.lock().sighand.action.lock()[sig as usize - 1]
}

fn blocks(t: &Task, sig: i32) -> bool {
    t.inner.lock().blocked & sigmask(sig) != 0
}

/// Does the process drop `sig` on arrival (Linux `sig_ignored`)? Blocked signals are
/// kept: the action may change before they are unblocked.
fn sig_ignored(t: &Task, sig: i32) -> bool {
    if blocks(t, sig) {
        return false;
    }
    let h = action_of(t, sig).handler;
    h == SIG_IGN || (h == SIG_DFL && default_ignored(sig))
}

/// Does taking `sig` end the process (Linux `sig_fatal`)?
fn sig_fatal(t: &Task, sig: i32) -> bool {
    sig == SIGKILL || (action_of(t, sig).handler == SIG_DFL && !default_ignored(sig))
}

/// Set `TIF_SIGPENDING` on `t` and wake it from an interruptible sleep (Linux
/// `signal_wake_up`).
fn signal_wake_up(t: &Arc<Task>) {
    t.set_flag(TIF_SIGPENDING);
    try_to_wake_up(t, &[TaskState::Interruptible]);
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
            signal_wake_up(&t);
        }
    }
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
        let a = &mut sighand.action.lock()[sig as usize - 1];
        if a.handler == SIG_IGN || blocked {
            a.handler = SIG_DFL;
            i.blocked &= !sigmask(sig);
        }
    } else {
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
    if sig_fatal(t, sig) {
        // The whole process dies now, whichever thread would have taken it.
        {
            let mut s = t.signal.inner.lock();
            if s.group_exit_code.is_none() {
                s.group_exit_code = Some(sig);
            }
        }
        for th in t.signal.threads() {
            signal_wake_up(&th);
        }
        return;
    }
    signal_wake_up(&taker);
}

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

/// `kill(pid, sig)` (Linux `kill_something_info`). As in Linux, the targets are found
/// first (`ESRCH` if there are none) and the signal number checked for each
/// (`EINVAL`).
pub fn sys_kill(pid: i64, sig: i64) -> SysResult {
    let (pid, sig) = (pid as i32, sig as i32);
    let me = current().tgid;
    let targets: Vec<Arc<Task>> = match pid {
        p if p > 0 => find_process(p).into_iter().collect(),
        // Every process but init and, for -1, the caller.
        -1 => PID_TABLE
            .lock()
            .all()
            .into_iter()
            .filter(|t| t.is_group_leader() && !t.kthread && t.tgid != 1 && t.tgid != me)
            .collect(),
        // Process group 0 holds every process (forkos has no setpgid), the caller too.
        0 => PID_TABLE
            .lock()
            .all()
            .into_iter()
            .filter(|t| t.is_group_leader() && !t.kthread && (t.tgid != 1 || me == 1))
            .collect(),
        // No other process group exists.
        _ => Vec::new(),
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
    if sig == SIGKILL || action_of(&t, sig).handler == SIG_DFL || blocks(&t, sig) {
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
fn get_signal(t: &Task) -> Option<(KSigInfo, SigAction)> {
    loop {
        if t.fatal_signal_pending() {
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
        let blocked = t.inner.lock().blocked;
        let info = t.inner.lock().pending.take(blocked);
        let info = match info {
            Some(i) => i,
            None => t.signal.inner.lock().shared_pending.take(blocked)?,
        };
        let sig = info.signo;
        let action = action_of(t, sig);
        match action.handler {
            SIG_IGN => continue,
            SIG_DFL if default_ignored(sig) || t.tgid == 1 => continue,
            SIG_DFL => do_group_exit(sig),
            _ => return Some((info, action)),
        }
    }
}

/// On the way back to user space: restart or fail an interrupted syscall, and take
/// pending signals, running a handler if one is set (Linux `do_signal`).
pub fn do_signal(regs: &mut PtRegs) {
    let t = current();
    let taken = if t.test_flag(TIF_SIGPENDING) {
        get_signal(t)
    } else {
        None
    };
    // A syscall that a signal interrupted (Linux arm64 `do_signal`).
    if regs.syscallno != NO_SYSCALL {
        let r = regs.regs[0] as i64;
        let restart = if r == -(ERESTARTSYS.0 as i64) {
            taken.is_none_or(|(_, a)| a.flags & SA_RESTART != 0)
        } else if r == -(ERESTARTNOHAND.0 as i64) {
            taken.is_none()
        } else {
            false
        };
        if restart {
            // Run the svc again: x0 as it came in, pc back on the svc instruction.
            regs.regs[0] = regs.orig_x0;
            regs.pc -= 4;
        } else if r == -(ERESTARTSYS.0 as i64) || r == -(ERESTARTNOHAND.0 as i64) {
            regs.regs[0] = -(EINTR.0 as i64) as u64;
        }
        regs.syscallno = NO_SYSCALL;
    }
    if let Some((info, action)) = taken {
        handle_signal(t, regs, &info, &action);
    }
    recalc_sigpending(t);
}

/// Run the handler for `info` (Linux `handle_signal`): build the frame, then block the
/// handler's mask and, unless `SA_NODEFER`, the signal itself while it runs.
fn handle_signal(t: &Task, regs: &mut PtRegs, info: &KSigInfo, action: &SigAction) {
    let sig = info.signo;
    let blocked = t.inner.lock().blocked;
    if crate::arch::signal::setup_rt_frame(regs, info, action, blocked).is_err() {
        // No room for the frame: Linux's `force_sigsegv`.
        crate::println!(
            "{}[{}]: cannot write a signal frame at sp {:#x}: SIGSEGV",
            Comm(t),
            t.pid,
            regs.sp
        );
        do_group_exit(SIGSEGV);
    }
    let mut more = action.mask;
    if action.flags & SA_NODEFER == 0 {
        more |= sigmask(sig);
    }
    t.inner.lock().blocked = (blocked | more) & !UNBLOCKABLE;
    if action.flags & SA_RESETHAND != 0 {
        t.inner.lock().sighand.action.lock()[sig as usize - 1] = SigAction::default();
    }
}

/// `rt_sigreturn()`: back from a handler to the interrupted context, saved in the frame
/// at the user sp (Linux `sys_rt_sigreturn`). A bad frame gets SIGSEGV at the sp, as a
/// fault does (Linux `arm64_notify_segfault`): catchable, with whatever of the frame was
/// already read in place.
pub fn sys_rt_sigreturn() -> SysResult {
    let t = current();
    // SAFETY: in a syscall, the current task's pt_regs are its user context.
    let regs = unsafe { &mut *t.pt_regs() };
    // Whatever x0 holds now must not look like a syscall to restart.
    regs.syscallno = NO_SYSCALL;
    match crate::arch::signal::restore_sigframe(regs) {
        Ok(()) => Ok(regs.regs[0] as i64),
        Err(_) => {
            let addr = regs.sp;
            // SEGV_MAPERR if no mapping lies at or above the address (Linux `find_vma`).
            let mm = t.inner.lock().mm.clone();
            let mapped = mm.is_some_and(|mm| mm.inner.lock().vmas.iter().any(|v| v.end > addr));
            let code = if mapped { SEGV_ACCERR } else { SEGV_MAPERR };
            force_sig_fault(SIGSEGV, code, "bad frame in rt_sigreturn", addr, regs.pc);
            Ok(0)
        }
    }
}

/// Set the current thread's blocked signals (Linux `set_current_blocked`): never
/// SIGKILL or SIGSTOP; a signal just unblocked is taken on the way out.
pub fn set_current_blocked(set: u64) {
    let t = current();
    t.inner.lock().blocked = set & !UNBLOCKABLE;
    recalc_sigpending(t);
}

/// `sa_flags` (Linux `include/uapi/asm-generic/signal-defs.h`).
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;

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
/// A table shared with another process (`CLONE_SIGHAND` without `CLONE_THREAD`) is
/// first replaced by a copy, so that the other keeps its handlers (Linux
/// `unshare_sighand` in `de_thread`).
pub fn flush_signal_handlers(tsk: &Task) {
    let mut i = tsk.inner.lock();
    if Arc::strong_count(&i.sighand) > 1 {
        i.sighand = crate::task::SigHand::copy_of(&i.sighand);
    }
    reset_handlers(&mut i.sighand.action.lock());
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
    // Linux copies the new action in before it looks at the signal number.
    let new = if act != 0 {
        Some(UserPtr::<SigAction>::new(act).read()?)
    } else {
        None
    };
    let sig = sig as i32;
    if !(1..=NSIG).contains(&sig) || (new.is_some() && sigmask(sig) & UNBLOCKABLE != 0) {
        return Err(EINVAL);
    }
    let t = current();
    let old = {
        let sighand = t.inner.lock().sighand.clone();
        let mut action = sighand.action.lock();
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
        // A signal just unblocked is taken on the way out of this syscall.
        recalc_sigpending(t);
    }
    if oset != 0 {
        UserPtr::<u64>::new(oset).write(&old)?;
    }
    Ok(0)
}
