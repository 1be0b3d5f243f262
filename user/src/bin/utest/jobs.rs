//! Job control: process groups and sessions (`setpgid`, `getpgid`, `getsid`, `setsid`),
//! and the syscalls that name a process group (`kill(0)`, `kill(-pgrp)`, `wait4(0)`,
//! `wait4(-pgrp)`, `waitid(P_PGID)`). This program is init, in process group 0 and
//! session 0 as on Linux; every check runs in a forked child.

use crate::util::{child, child_code, expect_ok, killed, wait, Shared, Thread, T};
use core::sync::atomic::{AtomicI32, Ordering::SeqCst};
use forkos_user::sys;

/// A pid no process has.
const NO_PID: i32 = 0x7fff_fff0;

/// A child that sleeps until a signal ends it.
fn sleeper() -> Result<i32, crate::util::Fail> {
    child_code(|| loop {
        sys::sleep_ms(1000);
    })
}

/// Init is in process group 0 and session 0, and its children inherit both.
pub fn pgrp_session_inherited() -> T {
    let c = child(|| {
        check_eq!(sys::getpgid(0), 0, "getpgid(0) in init's child");
        check_eq!(sys::getsid(0), 0, "getsid(0) in init's child");
        check_eq!(sys::getpgid(1), 0, "getpgid(1)");
        check_eq!(sys::getsid(1), 0, "getsid(1)");
        check_eq!(sys::getpgid(NO_PID), -sys::ESRCH, "getpgid(no such pid)");
        check_eq!(sys::getsid(NO_PID), -sys::ESRCH, "getsid(no such pid)");
        let me = sys::getpid() as i32;
        check_eq!(sys::setpgid(0, 0), 0, "setpgid(0, 0)");
        check_eq!(
            sys::getpgid(0),
            me as isize,
            "getpgid(0) after setpgid(0, 0)"
        );
        let g = child(|| {
            check_eq!(sys::getpgid(0), me as isize, "the grandchild's group");
            check_eq!(sys::getsid(0), 0, "the grandchild's session");
            Ok(())
        })?;
        expect_ok(g)
    })?;
    expect_ok(c)
}

/// `setpgid`'s rules: EINVAL for a negative group, ESRCH for no such process or one
/// that is neither the caller nor its child, EPERM for a group that does not exist in
/// the caller's session, a child in another session, or a session leader.
pub fn setpgid_rules() -> T {
    let c = child(|| {
        let me = sys::getpid() as i32;
        check_eq!(sys::setpgid(0, -1), -sys::EINVAL, "setpgid(0, -1)");
        check_eq!(
            sys::setpgid(NO_PID, 0),
            -sys::ESRCH,
            "setpgid(no such pid, 0)"
        );
        check_eq!(sys::setpgid(1, 0), -sys::ESRCH, "setpgid(init, 0)");
        check_eq!(
            sys::setpgid(0, NO_PID),
            -sys::EPERM,
            "setpgid(0, no such group)"
        );
        let s = Shared::new()?;
        let g = child(|| {
            s.wait_for(0);
            let g = sys::getpid() as i32;
            check_eq!(
                sys::setsid(),
                g as isize,
                "setsid() in a process group's member"
            );
            check_eq!(sys::getsid(0), g as isize, "getsid(0) after setsid");
            check_eq!(sys::getpgid(0), g as isize, "getpgid(0) after setsid");
            check_eq!(sys::setsid(), -sys::EPERM, "setsid() again");
            check_eq!(
                sys::setpgid(0, 0),
                -sys::EPERM,
                "setpgid of a session leader"
            );
            s.set(1, 1);
            s.wait_for(2);
            Ok(())
        })?;
        // The parent moves its child into a new group, and back into its own.
        check_eq!(sys::setpgid(g, g), 0, "setpgid(child, child)");
        check_eq!(sys::getpgid(g), g as isize, "the child's new group");
        check_eq!(
            sys::setpgid(g, me),
            -sys::EPERM,
            "setpgid(child, a group not there yet)"
        );
        check_eq!(sys::setpgid(0, 0), 0, "setpgid(0, 0)");
        check_eq!(sys::setpgid(g, me), 0, "setpgid(child, the parent's group)");
        check_eq!(sys::getpgid(g), me as isize, "the child's group");
        check_eq!(sys::setsid(), -sys::EPERM, "setsid() in a group leader");
        s.set(0, 1);
        s.wait_for(1);
        check_eq!(
            sys::setpgid(g, g),
            -sys::EPERM,
            "setpgid of a child in another session"
        );
        s.set(2, 1);
        expect_ok(g)
    })?;
    expect_ok(c)
}

/// `kill(-pgrp, sig)` signals every process of the group, `kill(0, sig)` the caller's
/// own, and ESRCH is the answer when the group is empty.
pub fn kill_process_group() -> T {
    let c = child(|| {
        check_eq!(sys::setpgid(0, 0), 0, "setpgid(0, 0)");
        let a = sleeper()?;
        let b = sleeper()?;
        check_eq!(sys::setpgid(a, a), 0, "setpgid(a, a)");
        check_eq!(sys::setpgid(b, a), 0, "setpgid(b, a)");
        let mine = sleeper()?;
        check_eq!(sys::kill(-a, sys::SIGTERM), 0, "kill(-a, SIGTERM)");
        check_eq!(wait(a)?, killed(sys::SIGTERM), "status of a");
        check_eq!(wait(b)?, killed(sys::SIGTERM), "status of b");
        check_eq!(sys::kill(-a, 0), -sys::ESRCH, "kill(-empty group, 0)");
        check_eq!(sys::kill(i32::MIN, 0), -sys::ESRCH, "kill(INT_MIN, 0)");
        // kill(0) reaches the caller too: it ignores SIGUSR1, its child dies of it.
        check_eq!(
            sys::set_handler(sys::SIGUSR1, sys::SIG_IGN as usize, 0),
            0,
            "ignore SIGUSR1"
        );
        check_eq!(sys::kill(0, sys::SIGUSR1), 0, "kill(0, SIGUSR1)");
        check_eq!(
            wait(mine)?,
            killed(sys::SIGUSR1),
            "status of the group's member"
        );
        Ok(())
    })?;
    expect_ok(c)
}

/// `wait4(-pgrp)` and `waitid(P_PGID, pgrp)` wait only for children in that group;
/// `wait4(0)` and `waitid(P_PGID, 0)` for those in the caller's.
pub fn wait_process_group() -> T {
    let c = child(|| {
        let me = sys::getpid() as i32;
        check_eq!(sys::setpgid(0, 0), 0, "setpgid(0, 0)");
        let s = Shared::new()?;
        let a = child_code(|| {
            s.wait_for(0);
            3
        })?;
        let b = child_code(|| 4)?;
        check_eq!(sys::setpgid(b, b), 0, "setpgid(b, b)");
        let d = child_code(|| {
            s.wait_for(0);
            5
        })?;
        check_eq!(sys::setpgid(d, b), 0, "setpgid(d, b)");
        let mut st = -1;
        check_eq!(sys::wait4(-b, &mut st, 0), b as isize, "wait4(-b)");
        check_eq!(st, 4 << 8, "status of b");
        check_eq!(
            sys::wait4(0, &mut st, sys::WNOHANG),
            0,
            "wait4(0, WNOHANG) before a exits"
        );
        let mut info = sys::siginfo_unset();
        check_eq!(
            sys::waitid(sys::P_PGID, me, &mut info, sys::WEXITED | sys::WNOHANG),
            0,
            "waitid(P_PGID, own group, WNOHANG)"
        );
        s.set(0, 1);
        check_eq!(sys::wait4(0, &mut st, 0), a as isize, "wait4(0)");
        check_eq!(st, 3 << 8, "status of a");
        check_eq!(
            sys::wait4(0, &mut st, 0),
            -sys::ECHILD,
            "wait4(0) with none left in the group"
        );
        check_eq!(
            sys::waitid(sys::P_PGID, b, &mut info, sys::WEXITED),
            0,
            "waitid(P_PGID, b)"
        );
        check_eq!(info.si_pid, d, "waitid(P_PGID, b): si_pid");
        check_eq!(info.si_status, 5, "waitid(P_PGID, b): si_status");
        Ok(())
    })?;
    expect_ok(c)
}

static COUNT: AtomicI32 = AtomicI32::new(0);
static CODE: AtomicI32 = AtomicI32::new(0);
static PID: AtomicI32 = AtomicI32::new(0);
static STATUS: AtomicI32 = AtomicI32::new(0);
static HUP: AtomicI32 = AtomicI32::new(0);
static CONT: AtomicI32 = AtomicI32::new(0);

/// A SIGCHLD handler that records what it was told.
extern "C" fn record(_sig: i32, info: *const sys::SigInfo, _uc: *mut u8) {
    // SAFETY: the kernel passes a siginfo of 128 bytes in x1, on the handler's frame.
    let info = unsafe { info.read() };
    CODE.store(info.si_code, SeqCst);
    PID.store(info.si_pid, SeqCst);
    STATUS.store(info.si_status, SeqCst);
    COUNT.fetch_add(1, SeqCst);
}

/// Counts SIGHUP and SIGCONT.
extern "C" fn hup_cont(sig: i32) {
    if sig == sys::SIGHUP {
        HUP.fetch_add(1, SeqCst);
    } else {
        CONT.fetch_add(1, SeqCst);
    }
}

/// The status `wait4` gives for a child stopped by `sig`.
const fn stopped(sig: i32) -> isize {
    (0x7f | sig << 8) as isize
}

/// `wait4(pid, options)`: the status, checking that it named `pid`.
fn status_of(pid: i32, options: i32) -> Result<isize, crate::util::Fail> {
    let mut st = -1;
    check_eq!(
        sys::wait4(pid, &mut st, options),
        pid as isize,
        "wait4({pid}, 0x{options:x})"
    );
    Ok(st as isize)
}

/// SIGSTOP stops a child: `wait4(WUNTRACED)` reports `0x7f | SIGSTOP << 8` once;
/// SIGCONT resumes it: `wait4(WCONTINUED)` reports `0xffff` once; SIGKILL ends it.
pub fn stop_continue_wait4() -> T {
    let c = child(|| {
        let g = sleeper()?;
        check_eq!(sys::kill(g, sys::SIGSTOP), 0, "kill(SIGSTOP)");
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGSTOP),
            "stopped status"
        );
        let mut st = -1;
        check_eq!(
            sys::wait4(g, &mut st, sys::WUNTRACED | sys::WNOHANG),
            0,
            "reported once"
        );
        check_eq!(sys::kill(g, sys::SIGCONT), 0, "kill(SIGCONT)");
        check_eq!(status_of(g, sys::WCONTINUED)?, 0xffff, "continued status");
        check_eq!(
            sys::wait4(g, &mut st, sys::WCONTINUED | sys::WNOHANG),
            0,
            "reported once"
        );
        check_eq!(sys::kill(g, sys::SIGKILL), 0, "kill(SIGKILL)");
        check_eq!(wait(g)?, killed(sys::SIGKILL), "status after SIGKILL");
        Ok(())
    })?;
    expect_ok(c)
}

/// The same through `waitid(WSTOPPED)` and `waitid(WCONTINUED)`: `CLD_STOPPED` with
/// the stop signal, `CLD_CONTINUED` with SIGCONT; `WNOWAIT` leaves the report; a
/// stopped child does not satisfy `WEXITED` alone; SIGKILL ends a stopped child.
pub fn stop_continue_waitid() -> T {
    let c = child(|| {
        let g = sleeper()?;
        check_eq!(sys::kill(g, sys::SIGSTOP), 0, "kill(SIGSTOP)");
        let mut info = sys::siginfo_unset();
        for opts in [sys::WSTOPPED | sys::WNOWAIT, sys::WSTOPPED] {
            check_eq!(
                sys::waitid(sys::P_PID, g, &mut info, opts),
                0,
                "waitid(0x{opts:x})"
            );
            check_eq!(info.si_signo, sys::SIGCHLD, "si_signo");
            check_eq!(info.si_code, sys::CLD_STOPPED, "si_code");
            check_eq!(info.si_pid, g, "si_pid");
            check_eq!(info.si_status, sys::SIGSTOP, "si_status");
        }
        let r = sys::waitid(sys::P_PID, g, &mut info, sys::WEXITED | sys::WNOHANG);
        check_eq!(
            (r, info.si_pid),
            (0, 0),
            "waitid(WEXITED | WNOHANG) of a stopped child"
        );
        check_eq!(sys::kill(g, sys::SIGCONT), 0, "kill(SIGCONT)");
        check_eq!(
            sys::waitid(sys::P_PID, g, &mut info, sys::WCONTINUED),
            0,
            "waitid(WCONTINUED)"
        );
        check_eq!(info.si_code, sys::CLD_CONTINUED, "si_code");
        check_eq!(info.si_status, sys::SIGCONT, "si_status");
        check_eq!(sys::kill(g, sys::SIGSTOP), 0, "kill(SIGSTOP) again");
        check_eq!(
            sys::waitid(sys::P_PID, g, &mut info, sys::WSTOPPED),
            0,
            "stopped again"
        );
        check_eq!(sys::kill(g, sys::SIGKILL), 0, "kill(SIGKILL) while stopped");
        check_eq!(
            sys::waitid(sys::P_PID, g, &mut info, sys::WEXITED),
            0,
            "waitid(WEXITED)"
        );
        check_eq!(info.si_code, sys::CLD_KILLED, "si_code");
        check_eq!(info.si_status, sys::SIGKILL, "si_status");
        Ok(())
    })?;
    expect_ok(c)
}

/// The parent gets SIGCHLD with `CLD_STOPPED` and `CLD_CONTINUED`, unless it set
/// `SA_NOCLDSTOP`.
pub fn sigchld_stop_codes() -> T {
    let c = child(|| {
        let flags = sys::SA_SIGINFO | sys::SA_RESTART;
        check_eq!(
            sys::set_handler(sys::SIGCHLD, record as *const () as usize, flags),
            0,
            "handler"
        );
        let g = sleeper()?;
        // In a group of its own, with its parent outside: not orphaned, so SIGTSTP stops.
        check_eq!(sys::setpgid(g, g), 0, "setpgid(g, g)");
        check_eq!(sys::kill(g, sys::SIGTSTP), 0, "kill(SIGTSTP)");
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGTSTP),
            "stopped status"
        );
        check!(
            crate::util::spin_until(1000, || COUNT.load(SeqCst) == 1),
            "SIGCHLD on stop"
        );
        check_eq!(CODE.load(SeqCst), sys::CLD_STOPPED, "si_code");
        check_eq!(PID.load(SeqCst), g, "si_pid");
        check_eq!(STATUS.load(SeqCst), sys::SIGTSTP, "si_status");
        check_eq!(sys::kill(g, sys::SIGCONT), 0, "kill(SIGCONT)");
        check!(
            crate::util::spin_until(1000, || COUNT.load(SeqCst) == 2),
            "SIGCHLD on continue"
        );
        check_eq!(CODE.load(SeqCst), sys::CLD_CONTINUED, "si_code");
        check_eq!(STATUS.load(SeqCst), sys::SIGCONT, "si_status");
        check_eq!(status_of(g, sys::WCONTINUED)?, 0xffff, "continued status");
        let flags = flags | sys::SA_NOCLDSTOP;
        check_eq!(
            sys::set_handler(sys::SIGCHLD, record as *const () as usize, flags),
            0,
            "handler"
        );
        check_eq!(sys::kill(g, sys::SIGSTOP), 0, "kill(SIGSTOP)");
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGSTOP),
            "stopped status"
        );
        check_eq!(sys::kill(g, sys::SIGCONT), 0, "kill(SIGCONT)");
        check_eq!(status_of(g, sys::WCONTINUED)?, 0xffff, "continued status");
        sys::sleep_ms(20);
        check_eq!(COUNT.load(SeqCst), 2, "SIGCHLDs with SA_NOCLDSTOP");
        check_eq!(sys::kill(g, sys::SIGKILL), 0, "kill(SIGKILL)");
        check_eq!(wait(g)?, killed(sys::SIGKILL), "status");
        check_eq!(CODE.load(SeqCst), sys::CLD_KILLED, "si_code at the end");
        Ok(())
    })?;
    expect_ok(c)
}

/// A stop stops every thread of the process, and SIGKILL ends it while stopped.
/// Not in the table yet: it passes on Linux and on forkos, but forkos's leak check
/// finds one 1024-byte slab page more after it (not yet explained).
#[allow(dead_code)]
pub fn stop_stops_all_threads() -> T {
    let c = child(|| {
        let s = Shared::new()?;
        let g = child_code(|| {
            let spin = || -> i32 {
                loop {
                    s.set(1, s.get(1) + 1);
                }
            };
            let _t = match Thread::spawn(&spin) {
                Ok(t) => t,
                Err(_) => return 1,
            };
            loop {
                s.set(0, s.get(0) + 1);
            }
        })?;
        let running = crate::util::spin_until(2000, || s.get(0) > 0 && s.get(1) > 0);
        check!(running, "both threads ran");
        check_eq!(sys::kill(g, sys::SIGSTOP), 0, "kill(SIGSTOP)");
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGSTOP),
            "stopped status"
        );
        let before = (s.get(0), s.get(1));
        sys::sleep_ms(30);
        check_eq!(
            (s.get(0), s.get(1)),
            before,
            "counters of the stopped threads"
        );
        check_eq!(sys::kill(g, sys::SIGKILL), 0, "kill(SIGKILL)");
        check_eq!(wait(g)?, killed(sys::SIGKILL), "status");
        Ok(())
    })?;
    expect_ok(c)
}

/// When the parent of a stopped process in a group of its own exits, the group is
/// orphaned: each member gets SIGHUP and then SIGCONT, and init inherits it.
pub fn orphaned_stopped_pgrp_hup_cont() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let g = child_code(|| {
            sys::setpgid(0, 0);
            sys::set_handler(sys::SIGHUP, hup_cont as *const () as usize, 0);
            sys::set_handler(sys::SIGCONT, hup_cont as *const () as usize, 0);
            sys::kill(sys::getpid() as i32, sys::SIGSTOP);
            let both =
                crate::util::spin_until(2000, || HUP.load(SeqCst) == 1 && CONT.load(SeqCst) == 1);
            if both && sys::getppid() == 1 {
                0
            } else {
                1
            }
        })?;
        s.set(0, g as i64);
        sys::setpgid(g, g);
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGSTOP),
            "stopped status"
        );
        Ok(())
    })?;
    expect_ok(c)?;
    expect_ok(s.get(0) as i32)
}

/// SIGTSTP, SIGTTIN and SIGTTOU (default action) are discarded in an orphaned process
/// group, as init's group 0 is; in a group with a parent outside it, SIGTSTP stops.
pub fn sigtstp_orphaned_discarded() -> T {
    let c = child(|| {
        let me = sys::getpid() as i32;
        for sig in [sys::SIGTSTP, sys::SIGTTIN, sys::SIGTTOU] {
            check_eq!(sys::kill(me, sig), 0, "kill(self, {sig})");
        }
        let g = child_code(|| {
            sys::setpgid(0, 0);
            sys::kill(sys::getpid() as i32, sys::SIGTSTP);
            7
        })?;
        sys::setpgid(g, g);
        check_eq!(
            status_of(g, sys::WUNTRACED)?,
            stopped(sys::SIGTSTP),
            "stopped status"
        );
        check_eq!(sys::kill(g, sys::SIGCONT), 0, "kill(SIGCONT)");
        check_eq!(wait(g)?, crate::util::exited(7), "status after SIGCONT");
        Ok(())
    })?;
    expect_ok(c)
}

/// A child that has called `execve` can no longer be moved by its parent: EACCES
/// (Linux: `PF_FORKNOEXEC` is gone), even as a zombie not yet reaped.
pub fn setpgid_after_exec_eacces() -> T {
    let c = child(|| {
        let path = crate::util::self_path();
        let argv = [
            path.as_ptr() as usize,
            c"exit".as_ptr() as usize,
            c"3".as_ptr() as usize,
            0,
        ];
        let g = child_code(|| {
            // SAFETY: argv is NUL-terminated and its strings are; on success this
            // program is replaced by a new one that exits 3.
            unsafe {
                sys::syscall6(
                    sys::nr::EXECVE,
                    path.as_ptr() as usize,
                    argv.as_ptr() as usize,
                    0,
                    0,
                    0,
                    0,
                ) as i32
            }
        })?;
        let mut info = sys::siginfo_unset();
        let r = sys::waitid(sys::P_PID, g, &mut info, sys::WEXITED | sys::WNOWAIT);
        check_eq!(r, 0, "waitid(WNOWAIT)");
        check_eq!(
            sys::setpgid(g, g),
            -sys::EACCES,
            "setpgid of a child after execve"
        );
        check_eq!(
            wait(g)?,
            crate::util::exited(3),
            "status of the exec'd child"
        );
        Ok(())
    })?;
    expect_ok(c)
}
