//! vfork (glibc's `clone(CLONE_VM|CLONE_VFORK|SIGCHLD, sp)`) and CLONE_VFORK alone.

use crate::util::{exited, expect_ok, expect_status, killed, Shared, T};
use core::sync::atomic::{AtomicI64, Ordering::SeqCst};
use forkos_user::sys;

/// What vfork children write: they share the parent's memory (CLONE_VM).
static STEP: AtomicI64 = AtomicI64::new(0);
static PID: AtomicI64 = AtomicI64::new(0);
static PPID: AtomicI64 = AtomicI64::new(0);

fn vfork(child: extern "C" fn() -> !) -> isize {
    // SAFETY: the children below only touch statics and their own frames, then exit.
    unsafe { sys::vfork_run(child) }
}

/// The parent stays suspended until the vfork child exits: it sees the child's last
/// write, made 50 ms after its first.
pub fn vfork_suspends_parent() -> T {
    extern "C" fn body() -> ! {
        STEP.store(1, SeqCst);
        sys::sleep_ms(50);
        STEP.store(2, SeqCst);
        sys::exit(0)
    }
    STEP.store(0, SeqCst);
    let pid = vfork(body);
    check!(pid > 0, "vfork: expected a pid, got {pid}");
    check_eq!(
        STEP.load(SeqCst),
        2,
        "the child's progress when the parent resumed"
    );
    expect_ok(pid as i32)
}

/// The vfork child writes the parent's memory; it has its own pid and the caller as
/// its parent.
pub fn vfork_shares_memory() -> T {
    extern "C" fn body() -> ! {
        PID.store(sys::getpid() as i64, SeqCst);
        PPID.store(sys::getppid() as i64, SeqCst);
        sys::exit(0)
    }
    PID.store(0, SeqCst);
    let pid = vfork(body);
    check!(pid > 0, "vfork: expected a pid, got {pid}");
    check_eq!(
        PID.load(SeqCst),
        pid as i64,
        "the child's getpid(), written to shared memory"
    );
    check_eq!(PPID.load(SeqCst), 1, "the child's getppid()");
    expect_ok(pid as i32)
}

/// The vfork child's exit code reaches wait4 (exit_group(7) → 0x700).
pub fn vfork_exit_status() -> T {
    extern "C" fn body() -> ! {
        sys::exit_group(7)
    }
    let pid = vfork(body);
    check!(pid > 0, "vfork: expected a pid, got {pid}");
    expect_status(pid as i32, exited(7))
}

/// A vfork child killed by a signal (SIGILL) also releases the parent.
pub fn vfork_child_killed() -> T {
    extern "C" fn body() -> ! {
        // SAFETY: an undefined instruction: the kernel kills this child with SIGILL.
        unsafe { core::arch::asm!("udf #0", options(noreturn)) }
    }
    let pid = vfork(body);
    check!(pid > 0, "vfork: expected a pid, got {pid}");
    expect_status(pid as i32, killed(sys::SIGILL))
}

/// CLONE_VFORK without CLONE_VM: the child has a private copy, and the parent still
/// waits for it to exit.
pub fn vfork_without_vm() -> T {
    let s = Shared::new()?;
    STEP.store(5, SeqCst);
    let pid = sys::clone(
        sys::CLONE_VFORK | sys::SIGCHLD as u64,
        0,
        core::ptr::null_mut(),
        0,
        core::ptr::null_mut(),
    );
    if pid == 0 {
        STEP.store(6, SeqCst);
        sys::sleep_ms(50);
        s.set(0, 2);
        sys::exit_group(0);
    }
    check!(
        pid > 0,
        "clone(CLONE_VFORK|SIGCHLD): expected a pid, got {pid}"
    );
    check_eq!(
        s.get(0),
        2,
        "the child's last write (shared page) when the parent resumed"
    );
    check_eq!(
        STEP.load(SeqCst),
        5,
        "the parent's private static after the child wrote its copy"
    );
    expect_ok(pid as i32)
}

/// vfork many times in a row: each child exits with its index, all reaped.
pub fn vfork_repeated() -> T {
    extern "C" fn body() -> ! {
        sys::exit((STEP.load(SeqCst) & 0xff) as i32)
    }
    for i in 0..50 {
        STEP.store(i, SeqCst);
        let pid = vfork(body);
        check!(pid > 0, "vfork #{i}: expected a pid, got {pid}");
        expect_status(pid as i32, exited(i as i32))?;
    }
    Ok(())
}
