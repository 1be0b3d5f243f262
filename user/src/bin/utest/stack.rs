//! The user stack grows down on demand, as Linux's `VM_GROWSDOWN` stack mapping does: a
//! new program's stack mapping covers its arguments and 128 KiB below them; an access
//! below it grows it, by the program or by the kernel on its behalf, up to
//! `RLIMIT_STACK`, and never closer than the guard gap (1 MiB) to the mapping beneath.

use core::arch::asm;

use crate::util::{child_code, expect_killed_by, expect_ok, PAGE, RW, T};
use forkos_user::sys::{self, nr, Timespec, RLIMIT_STACK, SIGSEGV};

/// The stack pointer of the caller, roughly.
fn sp() -> usize {
    let sp: usize;
    // SAFETY: reads a register.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack)) };
    sp
}

/// Store `v` at `addr` and read it back, with plain instructions the compiler cannot
/// drop or move.
fn store_load(addr: usize, v: u64) -> u64 {
    let got: u64;
    // SAFETY: the address is below the stack; the access either grows the stack or
    // kills the child this runs in.
    unsafe {
        asm!("str {v}, [{a}]", "ldr {g}, [{a}]", a = in(reg) addr, v = in(reg) v,
            g = out(reg) got, options(nostack))
    };
    got
}

/// Set the soft and hard `RLIMIT_STACK` of this process.
fn set_stack_limit(bytes: u64) -> isize {
    let lim = sys::Rlimit {
        cur: bytes,
        max: bytes,
    };
    sys::syscall(
        nr::PRLIMIT64,
        [
            0,
            RLIMIT_STACK,
            &lim as *const sys::Rlimit as usize,
            0,
            0,
            0,
        ],
    )
}

/// Touching the stack 4 MiB below sp, far beyond what exec mapped, grows the stack.
pub fn stack_grows_on_demand() -> T {
    let pid = child_code(|| {
        let a = (sp() - (4 << 20)) & !7;
        (store_load(a, 42) != 42) as i32
    })?;
    expect_ok(pid)
}

/// The kernel's own accesses grow it too: `clock_gettime` writing 2 MiB below sp
/// succeeds (Linux's fault handler expands the stack for `copy_to_user` as well).
pub fn stack_grows_for_the_kernel() -> T {
    let pid = child_code(|| {
        let a = (sp() - (2 << 20)) & !15;
        (sys::clock_gettime(1, a as *mut Timespec) != 0) as i32
    })?;
    expect_ok(pid)
}

/// Beyond `RLIMIT_STACK` (8 MiB by default, or less if lowered) it does not: SIGSEGV.
pub fn stack_limited_by_rlimit() -> T {
    expect_killed_by(SIGSEGV, || {
        store_load((sp() - (9 << 20)) & !7, 1);
    })?;
    expect_killed_by(SIGSEGV, || {
        if set_stack_limit(1 << 20) == 0 {
            store_load((sp() - (2 << 20)) & !7, 1);
        }
    })
}

/// The stack never grows closer than 1 MiB to an accessible mapping below it (Linux
/// `stack_guard_gap`), but it does grow down to that distance.
pub fn stack_guard_gap() -> T {
    // A page 6 MiB below sp; its end is `below`.
    let place = || -> Option<usize> {
        let m = (sp() - (6 << 20)) & !(PAGE - 1);
        let flags = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED_NOREPLACE;
        (sys::mmap(m, PAGE, RW, flags, -1, 0) == m as isize).then_some(m + PAGE)
    };
    let pid = child_code(|| match place() {
        Some(below) => (store_load(below + (3 << 19), 7) != 7) as i32,
        None => 2,
    })?;
    expect_ok(pid)?;
    expect_killed_by(SIGSEGV, || {
        if let Some(below) = place() {
            store_load(below + (1 << 19), 7);
        }
    })
}
