//! futex FUTEX_WAIT / FUTEX_WAKE, private and shared.

use crate::util::{child, expect_ok, now_ns, Shared, Thread, T};
use core::ptr::null;
use core::sync::atomic::{AtomicI32, AtomicI64, Ordering::SeqCst};
use forkos_user::sys::{
    self, Timespec, EAGAIN, EFAULT, EINVAL, ENOSYS, ETIMEDOUT, FUTEX_PRIVATE_FLAG as P,
};
use sys::{FUTEX_WAIT as WAIT, FUTEX_WAKE as WAKE};

/// FUTEX_WAIT with a value other than the word's returns EAGAIN at once.
pub fn futex_wait_value_mismatch() -> T {
    let w = AtomicI32::new(5);
    for op in [WAIT, WAIT | P] {
        check_eq!(
            sys::futex(w.as_ptr(), op, 6, null()),
            -EAGAIN,
            "FUTEX_WAIT(op {op}, word 5, val 6)"
        );
    }
    Ok(())
}

/// FUTEX_WAIT with a 20 ms relative timeout returns ETIMEDOUT after at least 20 ms.
pub fn futex_wait_timeout() -> T {
    let w = AtomicI32::new(0);
    let ts = Timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    for op in [WAIT, WAIT | P] {
        let t0 = now_ns();
        check_eq!(
            sys::futex(w.as_ptr(), op, 0, &ts),
            -ETIMEDOUT,
            "FUTEX_WAIT(op {op}, 20 ms)"
        );
        let dt = now_ns() - t0;
        check!(
            dt >= 20_000_000,
            "FUTEX_WAIT(op {op}, 20 ms) returned after {dt} ns"
        );
    }
    Ok(())
}

/// FUTEX_WAKE with no waiter returns 0.
pub fn futex_wake_nobody() -> T {
    let w = AtomicI32::new(0);
    check_eq!(
        sys::futex(w.as_ptr(), WAKE, 1, null()),
        0,
        "FUTEX_WAKE without waiters"
    );
    check_eq!(
        sys::futex(w.as_ptr(), WAKE | P, 1, null()),
        0,
        "FUTEX_WAKE|PRIVATE without waiters"
    );
    Ok(())
}

/// Wake one thread sleeping in FUTEX_WAIT (op `op`): FUTEX_WAKE returns 1 once it is
/// asleep, and the thread's FUTEX_WAIT returns 0.
fn wake_one(op: i32) -> T {
    let w = AtomicI32::new(0);
    let r = AtomicI64::new(1);
    let f = || {
        r.store(sys::futex(w.as_ptr(), WAIT | op, 0, null()) as i64, SeqCst);
        0
    };
    let mut t = Thread::spawn(&f)?;
    let mut woken = 0;
    for _ in 0..5000 {
        woken = sys::futex(w.as_ptr(), WAKE | op, 1, null());
        if woken != 0 {
            break;
        }
        sys::sleep_ms(1);
    }
    check_eq!(woken, 1, "FUTEX_WAKE(op {op}) with a thread waiting");
    t.join();
    check_eq!(r.load(SeqCst), 0, "the thread's FUTEX_WAIT(op {op})");
    Ok(())
}

/// FUTEX_WAKE wakes a thread (CLONE_VM) sleeping in FUTEX_WAIT and returns 1.
pub fn futex_wake_thread() -> T {
    wake_one(0)
}

/// The FUTEX_PRIVATE_FLAG variants work between threads.
pub fn futex_wake_thread_private() -> T {
    wake_one(P)
}

/// FUTEX_WAKE returns how many it woke: with 3 waiters, wake(2) → 2, then wake(10) → 1.
pub fn futex_wake_count() -> T {
    let w = AtomicI32::new(0);
    let ready = AtomicI64::new(0);
    // Each waits once: a woken thread must not wait again before the second wake, or
    // that one would find it there too (preemption can run it in between).
    let f = || {
        ready.fetch_add(1, SeqCst);
        sys::futex(w.as_ptr(), WAIT, 0, null());
        while w.load(SeqCst) == 0 {
            sys::sleep_ms(1);
        }
        0
    };
    let ts = [Thread::spawn(&f)?, Thread::spawn(&f)?, Thread::spawn(&f)?];
    while ready.load(SeqCst) < 3 {
        sys::sleep_ms(1);
    }
    sys::sleep_ms(50);
    let r2 = sys::futex(w.as_ptr(), WAKE, 2, null());
    let r3 = sys::futex(w.as_ptr(), WAKE, 10, null());
    w.store(1, SeqCst);
    sys::futex(w.as_ptr(), WAKE, i32::MAX, null());
    drop(ts);
    check_eq!(r2, 2, "FUTEX_WAKE(2) with 3 waiters");
    check_eq!(r3, 1, "FUTEX_WAKE(10) with 1 waiter left");
    Ok(())
}

/// A (non-private) futex in a MAP_SHARED page works between processes.
pub fn futex_shared_between_processes() -> T {
    let s = Shared::new()?;
    let w = s.addr(0) as *const i32;
    let pid = child(|| {
        let r = sys::futex(w, WAIT, 0, null());
        check_eq!(r, 0, "FUTEX_WAIT in the child");
        Ok(())
    })?;
    let mut woken = 0;
    for _ in 0..5000 {
        woken = sys::futex(w, WAKE, 1, null());
        if woken != 0 {
            break;
        }
        sys::sleep_ms(1);
    }
    check_eq!(woken, 1, "FUTEX_WAKE from the parent");
    expect_ok(pid)
}

/// futex errors: misaligned address EINVAL, bad address EFAULT, bad timeout EINVAL,
/// unknown op ENOSYS.
pub fn futex_errors() -> T {
    let w = [AtomicI32::new(0), AtomicI32::new(0)];
    let odd = (w.as_ptr() as usize + 1) as *const i32;
    check_eq!(
        sys::futex(odd, WAIT, 0, null()),
        -EINVAL,
        "FUTEX_WAIT(misaligned)"
    );
    check_eq!(
        sys::futex(odd, WAKE, 1, null()),
        -EINVAL,
        "FUTEX_WAKE(misaligned)"
    );
    check_eq!(
        sys::futex(0x10 as *const i32, WAIT, 0, null()),
        -EFAULT,
        "FUTEX_WAIT(unmapped)"
    );
    let bad = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    check_eq!(
        sys::futex(w[0].as_ptr(), WAIT, 0, &bad),
        -EINVAL,
        "FUTEX_WAIT(tv_nsec 1e9)"
    );
    check_eq!(
        sys::futex(w[0].as_ptr(), 99, 0, null()),
        -ENOSYS,
        "futex(op 99)"
    );
    Ok(())
}
