//! The terminal and job control (Linux `drivers/tty/tty_jobctrl.c`): which session a
//! terminal controls and which of its process groups is in the foreground; the check
//! that stops a background reader (`SIGTTIN`) or a background process changing the
//! terminal (`SIGTTOU`); and the `ioctl`s of both (`TIOCSCTTY`, `TIOCNOTTY`,
//! `TIOCGPGRP`, `TIOCSPGRP`, `TIOCGSID`).
//!
//! A process's controlling terminal is its `signal.tty` (one terminal: a flag); the
//! terminal's side is [`TtyCtrl`](super::TtyCtrl)'s `session` and `pgrp`. Both change
//! under [`TASKLIST_LOCK`], as sessions and groups do.

use super::TtyStruct;
use crate::errno::*;
use crate::fs::file::{File, FMODE_READ};
use crate::mm::uaccess::UserPtr;
use crate::pid::PID_TABLE;
use crate::signal::{kill_pgrp, ERESTARTSYS, SIGCONT, SIGHUP, SIGTTIN, SIGTTOU, SIG_IGN};
use crate::task::Pid;
use crate::task::{current, TASKLIST_LOCK, TIF_SIGPENDING};

/// Has the current process a controlling terminal (Linux `get_current_tty() != NULL`)?
pub fn current_has_tty() -> bool {
    current().signal.inner.lock().tty
}

/// Is `sig` blocked or ignored by the current task (Linux `is_ignored`)?
fn is_ignored(sig: i32) -> bool {
    let me = current();
    crate::signal::blocks(&me, sig) || crate::signal::action_of(&me, sig).handler == SIG_IGN
}

/// May the current process use its terminal as if in the foreground (Linux
/// `__tty_check_change`)? Not its terminal, or no foreground group, or in it: yes. In
/// the background: `sig` goes to its whole group and the call is restarted after the
/// stop (`ERESTARTSYS`); but if `sig` is ignored or blocked, `SIGTTIN` fails with `EIO`
/// and `SIGTTOU` lets it through; an orphaned group, which nobody could continue,
/// gets `EIO`.
pub fn __tty_check_change(tty: &TtyStruct, sig: i32) -> Result<(), Errno> {
    let me = current();
    let (mine, pgrp) = {
        let s = me.signal.inner.lock();
        (s.tty, s.pgrp)
    };
    if !mine {
        return Ok(());
    }
    let tty_pgrp = tty.ctrl.lock().pgrp;
    if tty_pgrp == 0 || tty_pgrp == pgrp {
        return Ok(());
    }
    if is_ignored(sig) {
        if sig == SIGTTIN {
            return Err(EIO);
        }
        return Ok(());
    }
    if crate::exit::is_current_pgrp_orphaned(&me) {
        return Err(EIO);
    }
    kill_pgrp(pgrp, sig, true);
    me.set_flag(TIF_SIGPENDING);
    Err(ERESTARTSYS)
}

/// [`__tty_check_change`] with `SIGTTOU` (Linux `tty_check_change`): for a change of
/// settings, a flush, a new foreground group, or a write under `TOSTOP`.
pub fn tty_check_change(tty: &TtyStruct) -> Result<(), Errno> {
    __tty_check_change(tty, SIGTTOU)
}

/// The check before a read (Linux `job_control`): [`__tty_check_change`] with
/// `SIGTTIN`.
pub fn job_control(tty: &TtyStruct) -> Result<(), Errno> {
    __tty_check_change(tty, SIGTTIN)
}

/// Make `tty` the current process's controlling terminal, its group the foreground
/// (Linux `__proc_set_tty`). Called with the task-list lock held.
fn __proc_set_tty(tty: &TtyStruct) {
    let me = current();
    let mut s = me.signal.inner.lock();
    let mut c = tty.ctrl.lock();
    c.session = s.session;
    c.pgrp = s.pgrp;
    s.tty = true;
}

/// Opening the terminal (Linux `tty_open_proc_set_tty`): a session leader without a
/// controlling terminal acquires this one if no session has it and the file is open
/// for reading.
pub fn tty_open_proc_set_tty(tty: &TtyStruct, f_mode: u32) {
    let _tasklist = TASKLIST_LOCK.lock();
    let me = current();
    let (leader, has) = {
        let s = me.signal.inner.lock();
        (s.leader, s.tty)
    };
    if leader && !has && tty.ctrl.lock().session == 0 && f_mode & FMODE_READ != 0 {
        __proc_set_tty(tty);
    }
}

/// Every process of session `session` loses its controlling terminal (Linux
/// `session_clear_tty`). Called with the task-list lock held.
fn session_clear_tty(session: Pid) {
    for p in PID_TABLE.lock().all() {
        if p.is_group_leader() && !p.kthread {
            let mut s = p.signal.inner.lock();
            if s.session == session {
                s.tty = false;
            }
        }
    }
}

/// A session leader gives up its terminal (Linux `disassociate_ctty`), on `TIOCNOTTY`
/// or, `on_exit`, when it exits: the foreground group gets `SIGHUP`, and `SIGCONT` on
/// `TIOCNOTTY` (on exit Linux hangs the terminal up, `tty_vhangup_session`, which
/// sends the group `SIGHUP` alone, and hangs up every file open on the terminal), and
/// the session loses the terminal. Not a session leader: nothing.
pub fn disassociate_ctty(on_exit: bool) {
    let tty = &super::CONSOLE_TTY;
    let me = current();
    let (leader, has, session) = {
        let s = me.signal.inner.lock();
        (s.leader, s.tty, s.session)
    };
    if !leader || !has {
        return;
    }
    let pgrp = tty.ctrl.lock().pgrp;
    if pgrp != 0 {
        kill_pgrp(pgrp, SIGHUP, on_exit);
        if !on_exit {
            kill_pgrp(pgrp, SIGCONT, on_exit);
        }
    }
    if on_exit {
        super::tty_vhangup_session(tty);
    }
    let _tasklist = TASKLIST_LOCK.lock();
    {
        let mut c = tty.ctrl.lock();
        c.session = 0;
        c.pgrp = 0;
    }
    session_clear_tty(session);
}

/// `TIOCSCTTY` (Linux `tiocsctty`): make the terminal the controlling terminal of the
/// caller's session. Already its: nothing. Not a session leader, or one with a
/// terminal: `EPERM`. Another session's terminal: `EPERM`, unless `arg` is 1 (forkos
/// runs everything with `CAP_SYS_ADMIN`, as root): then it is taken from that session.
pub fn tiocsctty(tty: &TtyStruct, _file: &File, arg: u64) -> SysResult {
    let _tasklist = TASKLIST_LOCK.lock();
    let me = current();
    let (leader, has, session) = {
        let s = me.signal.inner.lock();
        (s.leader, s.tty, s.session)
    };
    let tty_session = tty.ctrl.lock().session;
    if leader && session == tty_session {
        return Ok(0);
    }
    if !leader || has {
        return Err(EPERM);
    }
    if tty_session != 0 {
        if arg == 1 {
            session_clear_tty(tty_session);
        } else {
            return Err(EPERM);
        }
    }
    // Linux refuses a file not open for reading unless CAP_SYS_ADMIN: always allowed.
    __proc_set_tty(tty);
    Ok(0)
}

/// `TIOCNOTTY` (Linux `tty_jobctrl_ioctl` -> `no_tty`): not the caller's terminal:
/// `ENOTTY`; else a session leader disassociates the session, and the caller loses it.
pub fn tiocnotty() -> SysResult {
    if !current_has_tty() {
        return Err(ENOTTY);
    }
    let leader = current().signal.inner.lock().leader;
    if leader {
        disassociate_ctty(false);
    }
    let _tasklist = TASKLIST_LOCK.lock();
    current().signal.inner.lock().tty = false;
    Ok(0)
}

/// `TIOCGPGRP` (Linux `tiocgpgrp`): the foreground group (0 for none); `ENOTTY` if this
/// is not the caller's controlling terminal.
pub fn tiocgpgrp(tty: &TtyStruct, arg: u64) -> SysResult {
    if !current_has_tty() {
        return Err(ENOTTY);
    }
    let pgrp = tty.ctrl.lock().pgrp;
    UserPtr::<i32>::new(arg).write(&pgrp)?;
    Ok(0)
}

/// The session of the process group or process `nr` (Linux `find_vpid` then
/// `session_of_pgrp`: a group's session, or that of the process with that pid), or
/// `None` if no such id is in use.
fn session_of_pgrp(nr: Pid) -> Option<Pid> {
    if let Some(p) = crate::pid::pgrp_tasks(nr).first() {
        return Some(p.signal.inner.lock().session);
    }
    let p = PID_TABLE.lock().find(nr)?;
    let s = p.signal.inner.lock().session;
    Some(s)
}

/// `TIOCSPGRP` (Linux `tiocspgrp`): a new foreground group. From the background:
/// [`tty_check_change`] (its `EIO` becomes `ENOTTY`); then `EFAULT`, `EINVAL` for a
/// negative id, `ENOTTY` unless this is the caller's terminal and its session's,
/// `ESRCH` for an id not in use, `EPERM` for a group of another session.
pub fn tiocspgrp(tty: &TtyStruct, arg: u64) -> SysResult {
    match tty_check_change(tty) {
        Err(EIO) => return Err(ENOTTY),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let nr = UserPtr::<i32>::new(arg).read()?;
    if nr < 0 {
        return Err(EINVAL);
    }
    let _tasklist = TASKLIST_LOCK.lock();
    let me = current();
    let (has, session) = {
        let s = me.signal.inner.lock();
        (s.tty, s.session)
    };
    if !has || tty.ctrl.lock().session != session {
        return Err(ENOTTY);
    }
    if nr == 0 {
        return Err(ESRCH);
    }
    match session_of_pgrp(nr) {
        None => Err(ESRCH),
        Some(s) if s != session => Err(EPERM),
        Some(_) => {
            tty.ctrl.lock().pgrp = nr;
            Ok(0)
        }
    }
}

/// `TIOCGSID` (Linux `tiocgsid`): the session the terminal controls; `ENOTTY` if it is
/// not the caller's terminal or controls none.
pub fn tiocgsid(tty: &TtyStruct, arg: u64) -> SysResult {
    if !current_has_tty() {
        return Err(ENOTTY);
    }
    let sid = tty.ctrl.lock().session;
    if sid == 0 {
        return Err(ENOTTY);
    }
    UserPtr::<i32>::new(arg).write(&sid)?;
    Ok(0)
}
