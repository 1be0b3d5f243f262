//! Job control: process groups and sessions (`setpgid`, `getpgid`, `getsid`, `setsid`),
//! and the syscalls that name a process group (`kill(0)`, `kill(-pgrp)`, `wait4(0)`,
//! `wait4(-pgrp)`, `waitid(P_PGID)`). This program is init, in process group 0 and
//! session 0 as on Linux; every check runs in a forked child.

use crate::util::{child, child_code, expect_ok, killed, wait, T};
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
        let s = crate::util::Shared::new()?;
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
        let s = crate::util::Shared::new()?;
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
