//! wait4 and waitid: which children they see, what they report, and their errors.

use crate::util::{
    child, child_code, exited, expect_ok, expect_status, killed, wait, wait_opts, Shared, Status, T,
};
use forkos_user::sys::{self, SigInfo, ECHILD, EFAULT, EINVAL, ESRCH};

/// wait4 for a specific pid reaps exactly that child, whatever the others do.
pub fn wait4_specific_pid() -> T {
    let mut pids = [0; 3];
    for (i, p) in pids.iter_mut().enumerate() {
        *p = child_code(move || 10 + i as i32)?;
    }
    for i in (0..3).rev() {
        expect_status(pids[i], exited(10 + i as i32))?;
    }
    Ok(())
}

/// wait4(-1) returns each child exactly once, with that child's status.
pub fn wait4_any_child() -> T {
    const N: usize = 5;
    let mut pids = [0; N];
    for (i, p) in pids.iter_mut().enumerate() {
        *p = child_code(move || 20 + i as i32)?;
    }
    let mut seen = [false; N];
    for _ in 0..N {
        let mut status = 0;
        let r = sys::wait4(-1, &mut status, 0);
        let Some(i) = pids.iter().position(|&p| p as isize == r) else {
            check!(
                false,
                "wait4(-1) returned {r}, not one of the children {pids:?}"
            );
            unreachable!()
        };
        check!(!seen[i], "wait4(-1) returned child {r} twice");
        seen[i] = true;
        check_eq!(Status(status), exited(20 + i as i32), "status of child {r}");
    }
    check_eq!(
        sys::wait4(-1, core::ptr::null_mut(), 0),
        -ECHILD,
        "wait4(-1) once all were reaped"
    );
    Ok(())
}

/// wait4 blocks until the child exits (the child's last write is visible after it).
pub fn wait4_blocks_until_exit() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        sys::sleep_ms(50);
        s.set(0, 1);
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(
        s.get(0),
        1,
        "the child's last write, seen after wait4 returned"
    );
    Ok(())
}

/// WNOHANG returns 0 while the child runs and its pid once it has exited.
pub fn wait4_wnohang() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        s.wait_for(0);
        Ok(())
    })?;
    let mut status = -1;
    check_eq!(
        sys::wait4(pid, &mut status, sys::WNOHANG),
        0,
        "wait4(running child, WNOHANG)"
    );
    check_eq!(
        status,
        -1,
        "status word after WNOHANG found nothing (untouched)"
    );
    check_eq!(
        sys::wait4(-1, &mut status, sys::WNOHANG),
        0,
        "wait4(-1, WNOHANG)"
    );
    s.set(0, 1);
    let mut r = 0;
    for _ in 0..5000 {
        r = sys::wait4(pid, &mut status, sys::WNOHANG);
        if r != 0 {
            break;
        }
        sys::sleep_ms(1);
    }
    check_eq!(r, pid as isize, "wait4(WNOHANG) after the child exited");
    check_eq!(Status(status), exited(0), "status");
    Ok(())
}

/// Exit statuses: exit(n) is (n & 0xff) << 8, so exit(42) is 0x2a00 and exit(0x1ff) 0xff00.
pub fn wait4_exit_status() -> T {
    for (code, want) in [
        (0, 0),
        (1, 0x100),
        (42, 0x2a00),
        (255, 0xff00),
        (256 + 3, 0x300),
        (-1, 0xff00),
    ] {
        let pid = child_code(move || code)?;
        check_eq!(wait(pid)?, Status(want), "status of exit({code})");
    }
    Ok(())
}

/// A child killed by SIGKILL has status 9 (WIFSIGNALED, no core flag).
pub fn wait4_killed_status() -> T {
    let pid = child(|| {
        sys::sleep_ms(10_000);
        Ok(())
    })?;
    check_eq!(sys::kill(pid, sys::SIGKILL), 0, "kill(child, SIGKILL)");
    expect_status(pid, killed(sys::SIGKILL))
}

/// With no children, wait4 fails with ECHILD (pid -1, any pid, 0, with WNOHANG too).
pub fn wait4_no_children() -> T {
    let mut status = 0;
    for pid in [-1, 0, 1, 2, 300, 32767] {
        check_eq!(
            sys::wait4(pid, &mut status, 0),
            -ECHILD,
            "wait4({pid}) without children"
        );
    }
    check_eq!(
        sys::wait4(-1, &mut status, sys::WNOHANG),
        -ECHILD,
        "wait4(-1, WNOHANG) without children"
    );
    Ok(())
}

/// wait4 for a pid that is not our child (our own, a grandchild, a free pid) is ECHILD.
pub fn wait4_not_a_child() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        let g = child(|| {
            s.wait_for(1);
            Ok(())
        })?;
        s.set(0, g as i64);
        expect_ok(g)
    })?;
    s.wait_for(0);
    let g = s.get(0) as i32;
    let mut status = 0;
    check_eq!(sys::wait4(g, &mut status, 0), -ECHILD, "wait4(grandchild)");
    check_eq!(sys::wait4(1, &mut status, 0), -ECHILD, "wait4(own pid)");
    check_eq!(
        sys::wait4(g + 1000, &mut status, 0),
        -ECHILD,
        "wait4(unused pid)"
    );
    s.set(1, 1);
    expect_ok(pid)
}

/// A child is reaped exactly once: a second wait4 for it is ECHILD.
pub fn wait4_reaps_once() -> T {
    let pid = child(|| Ok(()))?;
    expect_ok(pid)?;
    let mut status = 0;
    check_eq!(
        sys::wait4(pid, &mut status, 0),
        -ECHILD,
        "second wait4({pid})"
    );
    check_eq!(
        sys::wait4(-1, &mut status, sys::WNOHANG),
        -ECHILD,
        "wait4(-1, WNOHANG) afterwards"
    );
    Ok(())
}

/// Unknown wait4 options are EINVAL, checked before anything else (even with no
/// children); WEXITED and WNOWAIT are waitid-only options.
pub fn wait4_bad_options() -> T {
    let mut status = 0;
    for opt in [-1, 0x10, 0x20, sys::WEXITED, sys::WNOWAIT, 0x1000_0000] {
        check_eq!(
            sys::wait4(-1, &mut status, opt),
            -EINVAL,
            "wait4(-1, options {opt:#x}) without children"
        );
    }
    let pid = child(|| Ok(()))?;
    check_eq!(
        sys::wait4(pid, &mut status, 0x10),
        -EINVAL,
        "wait4(child, options 0x10)"
    );
    expect_ok(pid)
}

/// wait4(INT_MIN) is ESRCH (-INT_MIN has no process group).
pub fn wait4_int_min() -> T {
    let mut status = 0;
    check_eq!(
        sys::wait4(i32::MIN, &mut status, 0),
        -ESRCH,
        "wait4(INT_MIN) without children"
    );
    let pid = child(|| Ok(()))?;
    check_eq!(
        sys::wait4(i32::MIN, &mut status, 0),
        -ESRCH,
        "wait4(INT_MIN) with a child"
    );
    expect_ok(pid)
}

/// A bad status pointer makes wait4 return EFAULT, but the child is reaped anyway.
pub fn wait4_bad_status_pointer() -> T {
    let pid = child(|| Ok(()))?;
    check_eq!(
        sys::wait4(pid, 0x10 as *mut i32, 0),
        -EFAULT,
        "wait4(child, bad status pointer)"
    );
    let mut status = 0;
    check_eq!(
        sys::wait4(pid, &mut status, 0),
        -ECHILD,
        "wait4(child) after the EFAULT"
    );
    Ok(())
}

/// A NULL status pointer is allowed: wait4 reaps and returns the pid.
pub fn wait4_null_status() -> T {
    let pid = child_code(|| 3)?;
    check_eq!(
        sys::wait4(pid, core::ptr::null_mut(), 0),
        pid as isize,
        "wait4(child, NULL)"
    );
    Ok(())
}

/// A SIGCHLD child is invisible to __WCLONE and seen by __WALL.
pub fn wait4_wclone_skips_sigchld_child() -> T {
    let pid = child_code(|| 5)?;
    let mut status = 0;
    check_eq!(
        sys::wait4(pid, &mut status, sys::WCLONE),
        -ECHILD,
        "wait4(child, __WCLONE)"
    );
    check_eq!(
        sys::wait4(-1, &mut status, sys::WCLONE),
        -ECHILD,
        "wait4(-1, __WCLONE)"
    );
    check_eq!(
        wait_opts(pid, sys::WALL)?,
        exited(5),
        "wait4(child, __WALL)"
    );
    Ok(())
}

fn waitid(idtype: i32, id: i32, options: i32) -> (isize, SigInfo) {
    let mut info = sys::siginfo_unset();
    let r = sys::waitid(idtype, id, &mut info, options);
    (r, info)
}

/// Check the siginfo waitid filled for child `pid`.
fn check_info(info: &SigInfo, pid: i32, code: i32, status: i32) -> T {
    check_eq!(info.si_signo, sys::SIGCHLD, "si_signo");
    check_eq!(info.si_errno, 0, "si_errno");
    check_eq!(info.si_code, code, "si_code");
    check_eq!(info.si_pid, pid, "si_pid");
    check_eq!(info.si_uid, 0, "si_uid");
    check_eq!(info.si_status, status, "si_status");
    Ok(())
}

/// waitid(P_PID, WEXITED) fills si_signo SIGCHLD, CLD_EXITED, the exit code and the pid.
pub fn waitid_exited() -> T {
    let pid = child_code(|| 123)?;
    let (r, info) = waitid(sys::P_PID, pid, sys::WEXITED);
    check_eq!(r, 0, "waitid(P_PID, child, WEXITED)");
    check_info(&info, pid, sys::CLD_EXITED, 123)?;
    check_eq!(
        waitid(sys::P_PID, pid, sys::WEXITED).0,
        -ECHILD,
        "second waitid (reaped)"
    );
    Ok(())
}

/// waitid(P_ALL) reports a SIGKILLed child as CLD_KILLED with si_status 9.
pub fn waitid_killed() -> T {
    let pid = child(|| {
        sys::sleep_ms(10_000);
        Ok(())
    })?;
    check_eq!(sys::kill(pid, sys::SIGKILL), 0, "kill(child, SIGKILL)");
    let (r, info) = waitid(sys::P_ALL, 0, sys::WEXITED);
    check_eq!(r, 0, "waitid(P_ALL, WEXITED)");
    check_info(&info, pid, sys::CLD_KILLED, sys::SIGKILL)
}

/// waitid options must include WEXITED, WSTOPPED or WCONTINUED, and no unknown bit;
/// P_PID with id <= 0 and an unknown idtype are EINVAL.
pub fn waitid_bad_arguments() -> T {
    for opt in [
        0,
        sys::WNOHANG,
        sys::WNOWAIT,
        sys::WALL,
        sys::WEXITED | 0x10,
        sys::WEXITED | 0x1000,
    ] {
        check_eq!(
            waitid(sys::P_ALL, 0, opt).0,
            -EINVAL,
            "waitid(P_ALL, options {opt:#x})"
        );
    }
    check_eq!(
        waitid(sys::P_PID, 0, sys::WEXITED).0,
        -EINVAL,
        "waitid(P_PID, 0)"
    );
    check_eq!(
        waitid(sys::P_PID, -5, sys::WEXITED).0,
        -EINVAL,
        "waitid(P_PID, -5)"
    );
    check_eq!(waitid(7, 0, sys::WEXITED).0, -EINVAL, "waitid(idtype 7)");
    Ok(())
}

/// waitid with no (matching) children is ECHILD: P_ALL, P_PID of a non-child.
pub fn waitid_no_children() -> T {
    check_eq!(
        waitid(sys::P_ALL, 0, sys::WEXITED).0,
        -ECHILD,
        "waitid(P_ALL) without children"
    );
    check_eq!(
        waitid(sys::P_ALL, 0, sys::WEXITED | sys::WNOHANG).0,
        -ECHILD,
        "waitid(P_ALL, WNOHANG) without children"
    );
    let pid = child(|| Ok(()))?;
    check_eq!(
        waitid(sys::P_PID, pid + 1000, sys::WEXITED).0,
        -ECHILD,
        "waitid(P_PID, not a child)"
    );
    expect_ok(pid)
}

/// waitid(WNOHANG) with a running child returns 0 and zeroes si_signo and si_pid.
pub fn waitid_wnohang() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        s.wait_for(0);
        Ok(())
    })?;
    let (r, info) = waitid(sys::P_ALL, 0, sys::WEXITED | sys::WNOHANG);
    check_eq!(r, 0, "waitid(WNOHANG) with a running child");
    check_eq!(info.si_signo, 0, "si_signo");
    check_eq!(info.si_pid, 0, "si_pid");
    check_eq!(info.si_code, 0, "si_code");
    check_eq!(info.si_status, 0, "si_status");
    s.set(0, 1);
    expect_ok(pid)
}

/// WNOWAIT reports a zombie but leaves it waitable; wait4 then reaps it.
pub fn waitid_wnowait() -> T {
    let pid = child_code(|| 7)?;
    for _ in 0..2 {
        let (r, info) = waitid(sys::P_PID, pid, sys::WEXITED | sys::WNOWAIT);
        check_eq!(r, 0, "waitid(WNOWAIT)");
        check_info(&info, pid, sys::CLD_EXITED, 7)?;
    }
    expect_status(pid, exited(7))
}
