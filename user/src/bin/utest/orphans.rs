//! Orphans: when a process exits, its children are reparented to init (pid 1, this
//! program), which must reap them.

use crate::util::{child, child_code, exited, expect_ok, expect_status, Shared, T};
use core::ptr::null_mut;
use forkos_user::sys;

/// A grandchild whose parent exited sees getppid() become 1, and init reaps it.
pub fn orphan_reparented_to_init() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let me = sys::getpid() as i64;
        let g = child(|| {
            check_eq!(
                sys::getppid() as i64,
                me,
                "getppid() before the parent exits"
            );
            s.set(1, 1);
            let mut ok = false;
            for _ in 0..5000 {
                if sys::getppid() == 1 {
                    ok = true;
                    break;
                }
                sys::sleep_ms(1);
            }
            check!(
                ok,
                "getppid() is still {} after the parent exited",
                sys::getppid()
            );
            Ok(())
        })?;
        s.set(0, g as i64);
        s.wait_for(1);
        Ok(())
    })?;
    expect_ok(c)?;
    expect_ok(s.get(0) as i32)
}

/// A zombie grandchild (exited, not reaped) becomes init's when its parent exits.
pub fn orphan_zombie_reaped_by_init() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let g = child_code(|| 9)?;
        s.set(0, g as i64);
        let mut info = sys::siginfo_unset();
        let r = sys::waitid(sys::P_PID, g, &mut info, sys::WEXITED | sys::WNOWAIT);
        check_eq!(r, 0, "waitid(grandchild, WNOWAIT)");
        Ok(())
    })?;
    expect_ok(c)?;
    expect_status(s.get(0) as i32, exited(9))
}

/// An orphan's exit signal is reset to SIGCHLD: a grandchild created with exit signal
/// 0 is reaped by init's plain wait4.
pub fn orphan_exit_signal_reset() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let g = sys::clone(0, 0, null_mut(), 0, null_mut());
        if g == 0 {
            while sys::getppid() != 1 {
                sys::sleep_ms(1);
            }
            sys::exit_group(8);
        }
        check!(g > 0, "clone(exit signal 0): expected a pid, got {g}");
        s.set(0, g as i64);
        Ok(())
    })?;
    expect_ok(c)?;
    expect_status(s.get(0) as i32, exited(8))
}

/// Many orphans at once: 10 children each leave a grandchild behind; init reaps all 20.
pub fn orphans_many() -> T {
    let mut n = 0;
    for _ in 0..10 {
        child(|| {
            child(|| {
                sys::sleep_ms(5);
                Ok(())
            })?;
            Ok(())
        })?;
    }
    loop {
        let mut status = 0;
        let r = sys::wait4(-1, &mut status, 0);
        if r < 0 {
            check_eq!(r, -sys::ECHILD, "wait4(-1) once all were reaped");
            break;
        }
        check_eq!(status, 0, "status of {r}");
        n += 1;
    }
    check_eq!(n, 20, "processes reaped by init");
    Ok(())
}
