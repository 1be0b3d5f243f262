//! Process identity and the error returns of simple syscalls.

use crate::util::{child, expect_ok, now_ns, T};
use forkos_user::sys::{self, Timespec, EBADF, EFAULT, EINVAL, ENOSYS};

/// An address no process has mapped (the first page is never mapped).
const BAD: usize = 0x10;

/// init is pid 1, its only thread has tid 1, and its parent is "pid 0".
pub fn init_ids() -> T {
    check_eq!(sys::getpid(), 1, "getpid() in init");
    check_eq!(sys::gettid(), 1, "gettid() in init");
    check_eq!(sys::getppid(), 0, "getppid() in init");
    Ok(())
}

/// set_tid_address returns the caller's tid (in init and in a forked child).
pub fn set_tid_address_returns_tid() -> T {
    let mut word = 0i32;
    check_eq!(
        sys::set_tid_address(&mut word),
        1,
        "set_tid_address in init"
    );
    expect_ok(child(|| {
        let mut word = 0i32;
        check_eq!(
            sys::set_tid_address(&mut word),
            sys::gettid(),
            "set_tid_address in a child"
        );
        check_eq!(
            sys::gettid(),
            sys::getpid(),
            "gettid() == getpid() in a one-thread child"
        );
        Ok(())
    })?)
}

/// Syscall numbers without a handler return -ENOSYS (6.1 has 451 syscalls: 0..=450).
pub fn unknown_syscall_enosys() -> T {
    for nr in [451usize, 452, 1000, 9999, 0x7fff_ffff, usize::MAX] {
        check_eq!(sys::syscall(nr, [0; 6]), -ENOSYS, "syscall({nr:#x})");
    }
    Ok(())
}

/// The syscall number is the low 32 bits of x8 (`int scno`): 1<<32 | getpid is getpid.
pub fn syscall_nr_truncated() -> T {
    check_eq!(
        sys::syscall((1 << 32) | sys::nr::GETPID, [0; 6]),
        1,
        "syscall(1<<32 | 172)"
    );
    Ok(())
}

/// write() to fds 1 and 2 (the console) works; unopened fds give -EBADF.
pub fn write_fds() -> T {
    let msg = b"utest write_fds: (a line on fd 1)\n";
    check_eq!(sys::write(1, msg), msg.len() as isize, "write(1)");
    let msg = b"utest write_fds: (a line on fd 2)\n";
    check_eq!(sys::write(2, msg), msg.len() as isize, "write(2)");
    check_eq!(sys::write(1, b""), 0, "write(1, len 0)");
    for fd in [3, 9, 1000, -1] {
        check_eq!(sys::write(fd, b"x"), -EBADF, "write({fd})");
    }
    Ok(())
}

/// write() from an unmapped or kernel buffer gives -EFAULT.
pub fn write_bad_pointer() -> T {
    for addr in [BAD, 0xffff_8000_0000_0000] {
        let r = sys::syscall(sys::nr::WRITE, [1, addr, 8, 0, 0, 0]);
        check_eq!(r, -EFAULT, "write(1, {addr:#x}, 8)");
    }
    Ok(())
}

/// clock_gettime: a bad pointer gives -EFAULT, an unknown clock -EINVAL.
pub fn clock_gettime_errors() -> T {
    check_eq!(
        sys::clock_gettime(sys::CLOCK_MONOTONIC, BAD as *mut Timespec),
        -EFAULT,
        "clock_gettime(MONOTONIC, bad)"
    );
    let mut ts = Timespec::default();
    check_eq!(
        sys::clock_gettime(100, &mut ts),
        -EINVAL,
        "clock_gettime(100)"
    );
    check_eq!(
        sys::clock_gettime(sys::CLOCK_REALTIME, &mut ts),
        0,
        "clock_gettime(REALTIME)"
    );
    check!(
        ts.tv_nsec >= 0 && ts.tv_nsec < 1_000_000_000,
        "CLOCK_REALTIME tv_nsec out of range: {ts:?}"
    );
    Ok(())
}

/// CLOCK_MONOTONIC advances by at least the time slept in nanosleep(50 ms).
pub fn clock_monotonic_advances() -> T {
    let t0 = now_ns();
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    check_eq!(
        sys::nanosleep(&req, core::ptr::null_mut()),
        0,
        "nanosleep(50 ms)"
    );
    let t1 = now_ns();
    check!(
        t1 - t0 >= 50_000_000,
        "slept 50 ms but CLOCK_MONOTONIC advanced {} ns",
        t1 - t0
    );
    check!(
        t1 - t0 < 5_000_000_000,
        "nanosleep(50 ms) took {} ns",
        t1 - t0
    );
    Ok(())
}

/// nanosleep: a bad request pointer gives -EFAULT, an out-of-range time -EINVAL; `rem`
/// is only written when the sleep is interrupted, so a bad `rem` is harmless.
pub fn nanosleep_errors() -> T {
    let null = core::ptr::null_mut();
    let r = sys::syscall(sys::nr::NANOSLEEP, [BAD, 0, 0, 0, 0, 0]);
    check_eq!(r, -EFAULT, "nanosleep(bad pointer)");
    for (s, ns) in [(0, 1_000_000_000), (0, -1), (-1, 0)] {
        let req = Timespec {
            tv_sec: s,
            tv_nsec: ns,
        };
        check_eq!(
            sys::nanosleep(&req, null),
            -EINVAL,
            "nanosleep({{{s}, {ns}}})"
        );
    }
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    check_eq!(sys::nanosleep(&req, null), 0, "nanosleep(0)");
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    check_eq!(
        sys::nanosleep(&req, BAD as *mut Timespec),
        0,
        "nanosleep(1 ms, bad rem)"
    );
    Ok(())
}

/// EL0 may read the virtual counter CNTVCT_EL0 directly (Linux sets
/// CNTKCTL_EL1.EL0VCTEN), and it moves forward.
pub fn cntvct_readable_at_el0() -> T {
    let read = || -> u64 {
        let v: u64;
        // SAFETY: reading a counter register has no side effects.
        unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v) };
        v
    };
    let a = read();
    sys::sleep_ms(10);
    let b = read();
    check!(a != 0 && b > a, "CNTVCT_EL0 went from {a} to {b}");
    Ok(())
}
