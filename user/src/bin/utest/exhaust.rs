//! Running out: of tasks (fork fails with EAGAIN, and the same number of processes fits
//! every time, so nothing leaked) and of memory (the process whose page fault finds no
//! memory is killed with SIGKILL; the kernel and everyone else go on).

use crate::util::{child_code, expect_ok, expect_status, killed, map, Shared, PAGE, RW, T};
use core::ptr::null;
use forkos_user::sys::{self, EAGAIN, ENOMEM, SIGKILL};

const WAIT: i32 = sys::FUTEX_WAIT;
const WAKE: i32 = sys::FUTEX_WAKE;

/// Fork children that sleep until released, until fork fails; returns how many.
fn fork_until_failure(s: &Shared) -> Result<usize, crate::util::Fail> {
    let w = s.addr(0) as *const i32;
    let mut n = 0usize;
    loop {
        let pid = sys::fork();
        if pid == 0 {
            while s.get(0) == 0 {
                sys::futex(w, WAIT, 0, null());
            }
            sys::exit_group(0);
        }
        if pid < 0 {
            check!(
                pid == -EAGAIN || pid == -ENOMEM,
                "fork failed with {pid}, not EAGAIN or ENOMEM"
            );
            break;
        }
        n += 1;
        check!(n < 100_000, "fork never fails");
    }
    // Release them all and reap them all.
    s.set(0, 1);
    sys::futex(w, WAKE, i32::MAX, null());
    for _ in 0..n {
        let mut status = 0;
        let r = sys::wait4(-1, &mut status, 0);
        check!(
            r > 0 && status == 0,
            "reaping: wait4 = {r}, status {status:#x}"
        );
    }
    s.set(0, 0);
    Ok(n)
}

/// A fork bomb ends in EAGAIN (the thread limit, Linux `max_threads`), not a crash; after
/// everything is reaped, a second round fits exactly as many processes.
pub fn fork_until_eagain_twice() -> T {
    let s = Shared::new()?;
    let first = fork_until_failure(&s)?;
    check!(first > 10, "only {first} processes fit");
    let second = fork_until_failure(&s)?;
    check_eq!(second, first, "processes in the second round");
    Ok(())
}

/// A process that touches more memory than there is is killed with SIGKILL when a page
/// fault finds none (Linux's OOM killer picks the biggest process: this one); the
/// kernel lives on, and the next fork works.
pub fn oom_kills_the_hog() -> T {
    let pid = child_code(|| {
        // Two mappings of 200 MiB: each alone passes the overcommit check (it is less
        // than all memory), together they are more than the 256 MiB machine has.
        let len = 200 << 20;
        for _ in 0..2 {
            let Ok(p) = map(len, RW, sys::MAP_PRIVATE) else {
                return 2;
            };
            for a in (p..p + len).step_by(PAGE) {
                // SAFETY: inside the mapping just made.
                unsafe { (a as *mut u8).write_volatile(1) };
            }
        }
        3 // there was enough memory after all
    })?;
    expect_status(pid, killed(SIGKILL))?;
    let pid = child_code(|| 0)?;
    expect_ok(pid)
}
