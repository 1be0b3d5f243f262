//! kill and tgkill: default actions, existence probes, errors, and init's immunity.

use crate::util::{child, expect_ok, expect_status, killed, Shared, Thread, T};
use core::ptr::null_mut;
use forkos_user::sys::{self, EINVAL, ESRCH};

fn sleeper() -> Result<i32, crate::util::Fail> {
    child(|| {
        sys::sleep_ms(10_000);
        Ok(())
    })
}

/// SIGKILL ends a child sleeping in nanosleep: wait status 9.
pub fn kill_sigkill_sleeping() -> T {
    let pid = sleeper()?;
    sys::sleep_ms(10);
    check_eq!(sys::kill(pid, sys::SIGKILL), 0, "kill(child, SIGKILL)");
    expect_status(pid, killed(sys::SIGKILL))
}

/// SIGTERM on a child without a handler kills it (default action): status 15.
pub fn kill_sigterm_default() -> T {
    let pid = sleeper()?;
    check_eq!(sys::kill(pid, sys::SIGTERM), 0, "kill(child, SIGTERM)");
    expect_status(pid, killed(sys::SIGTERM))
}

/// kill(pid, 0) probes existence: 0 for a live child and for a zombie, ESRCH once it
/// was reaped.
pub fn kill_zero_probe() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        s.wait_for(0);
        Ok(())
    })?;
    check_eq!(sys::kill(pid, 0), 0, "kill(live child, 0)");
    s.set(0, 1);
    let mut info = sys::siginfo_unset();
    check_eq!(
        sys::waitid(sys::P_PID, pid, &mut info, sys::WEXITED | sys::WNOWAIT),
        0,
        "waitid(WNOWAIT)"
    );
    check_eq!(sys::kill(pid, 0), 0, "kill(zombie, 0)");
    expect_ok(pid)?;
    check_eq!(sys::kill(pid, 0), -ESRCH, "kill(reaped pid, 0)");
    Ok(())
}

/// kill errors: a pid nobody has is ESRCH, a signal number above 64 or negative EINVAL.
pub fn kill_errors() -> T {
    check_eq!(sys::kill(30000, 0), -ESRCH, "kill(30000, 0)");
    check_eq!(
        sys::kill(30000, sys::SIGKILL),
        -ESRCH,
        "kill(30000, SIGKILL)"
    );
    check_eq!(sys::kill(1, 65), -EINVAL, "kill(1, 65)");
    check_eq!(sys::kill(1, -1), -EINVAL, "kill(1, -1)");
    Ok(())
}

/// tgkill checks that the tid belongs to the tgid: a wrong tgid or tid is ESRCH,
/// tgid or tid <= 0 EINVAL.
pub fn tgkill_checks_tgid() -> T {
    let s = Shared::new()?;
    let f = || {
        s.wait_for(0);
        0
    };
    let t = Thread::spawn(&f)?;
    let tid = t.tid;
    let r = (|| {
        check_eq!(sys::tgkill(1, tid, 0), 0, "tgkill(1, thread, 0)");
        check_eq!(sys::tgkill(1, 1, 0), 0, "tgkill(1, 1, 0)");
        check_eq!(
            sys::tgkill(tid, tid, 0),
            -ESRCH,
            "tgkill(thread's tid as tgid, thread, 0)"
        );
        check_eq!(sys::tgkill(2, tid, 0), -ESRCH, "tgkill(2, thread, 0)");
        check_eq!(sys::tgkill(1, 30000, 0), -ESRCH, "tgkill(1, 30000, 0)");
        check_eq!(sys::tgkill(0, tid, 0), -EINVAL, "tgkill(0, thread, 0)");
        check_eq!(sys::tgkill(1, 0, 0), -EINVAL, "tgkill(1, 0, 0)");
        check_eq!(sys::tgkill(1, tid, 65), -EINVAL, "tgkill(1, thread, 65)");
        Ok(())
    })();
    s.set(0, 1);
    drop(t);
    r
}

/// SIGKILL sent to one thread with tgkill kills the whole process.
pub fn tgkill_sigkill_kills_group() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        let f = || {
            s.set(1, sys::gettid() as i64);
            loop {
                sys::sleep_ms(1000);
            }
        };
        let _t = Thread::spawn(&f)?;
        loop {
            sys::sleep_ms(1000);
        }
    })?;
    s.wait_for(1);
    let tid = s.get(1) as i32;
    check_eq!(
        sys::tgkill(pid, tid, sys::SIGKILL),
        0,
        "tgkill(child, its thread, SIGKILL)"
    );
    expect_status(pid, killed(sys::SIGKILL))
}

/// init ignores signals it has no handler for, even SIGKILL, from itself or a child.
pub fn init_ignores_signals() -> T {
    for sig in [sys::SIGTERM, sys::SIGUSR1, sys::SIGSEGV, sys::SIGKILL] {
        check_eq!(sys::kill(1, sig), 0, "kill(1, {sig}) in init");
    }
    let pid = child(|| {
        check_eq!(sys::kill(1, sys::SIGKILL), 0, "kill(1, SIGKILL) in a child");
        check_eq!(sys::kill(1, sys::SIGTERM), 0, "kill(1, SIGTERM) in a child");
        Ok(())
    })?;
    expect_ok(pid)?;
    sys::sleep_ms(20);
    check_eq!(sys::getpid(), 1, "init is still alive");
    check_eq!(
        sys::wait4(-1, null_mut(), sys::WNOHANG),
        -sys::ECHILD,
        "no children left"
    );
    Ok(())
}
