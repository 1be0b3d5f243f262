//! clone(): CLONE_VM, CLONE_PARENT, the tid words, CLONE_SETTLS, the exit signal, and
//! the flag combinations Linux rejects.

use crate::util::{
    child, exited, expect_ok, expect_status, now_ns, wait_opts, Shared, Stack, Thread, T,
};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI32, AtomicI64, Ordering::SeqCst};
use forkos_user::sys::{self, ECHILD, EINVAL};

/// CLONE_SIGHAND shares the signal actions even between two processes (with CLONE_VM,
/// without CLONE_THREAD): the action the child sets is the parent's too. Without it the
/// child changes only its own copy.
pub fn clone_sighand_shares_actions() -> T {
    let dfl = sys::SigAction::default();
    for (share, expected) in [(true, sys::SIG_IGN), (false, sys::SIG_DFL)] {
        check_eq!(
            sys::sigaction(sys::SIGUSR2, Some(&dfl), None),
            0,
            "sigaction(SIGUSR2, SIG_DFL)"
        );
        let f = || {
            let ign = sys::SigAction {
                handler: sys::SIG_IGN,
                ..Default::default()
            };
            (sys::sigaction(sys::SIGUSR2, Some(&ign), None) != 0) as i32
        };
        let sighand = if share { sys::CLONE_SIGHAND } else { 0 };
        let flags = sys::CLONE_VM | sighand | sys::CLONE_CHILD_CLEARTID | sys::SIGCHLD as u64;
        let t = Thread::spawn_flags(flags, 0, &f)?;
        expect_ok(t.tid)?;
        drop(t);
        let mut now = sys::SigAction::default();
        check_eq!(
            sys::sigaction(sys::SIGUSR2, None, Some(&mut now)),
            0,
            "sigaction(SIGUSR2, NULL, &old)"
        );
        check_eq!(
            now.handler,
            expected,
            "the parent's SIGUSR2 action after the child set SIG_IGN (CLONE_SIGHAND: {share})"
        );
    }
    check_eq!(sys::sigaction(sys::SIGUSR2, Some(&dfl), None), 0, "reset");
    Ok(())
}

/// A fork-like clone (no new stack, no CLONE_VM).
fn clone_fork(flags: u64, ptid: *mut i32, tls: usize) -> isize {
    sys::clone(flags, 0, ptid, tls, null_mut())
}

fn read_tls() -> u64 {
    let v: u64;
    // SAFETY: reading TPIDR_EL0 has no side effect.
    unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) v) };
    v
}

fn write_tls(v: u64) {
    // SAFETY: TPIDR_EL0 is a free-for-all user register; nothing in this program uses it.
    unsafe { core::arch::asm!("msr tpidr_el0, {}", in(reg) v) };
}

static SEEN: AtomicI64 = AtomicI64::new(0);

/// A CLONE_VM child on its own stack shares memory: it sees the parent's writes and
/// the parent sees its writes (to the parent's stack and a static).
pub fn clone_vm_shares_memory() -> T {
    let local = AtomicI64::new(41);
    let ids = [AtomicI64::new(0), AtomicI64::new(0)];
    SEEN.store(0, SeqCst);
    let f = || {
        SEEN.store(local.load(SeqCst), SeqCst);
        local.store(42, SeqCst);
        ids[0].store(sys::getpid() as i64, SeqCst);
        ids[1].store(sys::getppid() as i64, SeqCst);
        0
    };
    let flags = sys::CLONE_VM | sys::CLONE_CHILD_CLEARTID | sys::SIGCHLD as u64;
    let t = Thread::spawn_flags(flags, 0, &f)?;
    expect_ok(t.tid)?;
    drop(t);
    check_eq!(
        SEEN.load(SeqCst),
        41,
        "the parent's value, read by the child"
    );
    check_eq!(
        local.load(SeqCst),
        42,
        "the child's write to the parent's stack"
    );
    check!(
        ids[0].load(SeqCst) > 1,
        "the child's getpid() {}",
        ids[0].load(SeqCst)
    );
    check_eq!(ids[1].load(SeqCst), 1, "the child's getppid()");
    Ok(())
}

/// CLONE_PARENT makes the new process a sibling: its getppid() is the caller's parent
/// (init), the caller cannot wait for it, and init reaps it.
pub fn clone_parent() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let g = clone_fork(sys::CLONE_PARENT | sys::SIGCHLD as u64, null_mut(), 0);
        if g == 0 {
            s.set(1, sys::getppid() as i64);
            sys::exit_group(0);
        }
        check!(
            g > 0,
            "clone(CLONE_PARENT|SIGCHLD) in a child: expected a pid, got {g}"
        );
        s.set(0, g as i64);
        check_eq!(
            sys::wait4(g as i32, null_mut(), 0),
            -ECHILD,
            "the caller's wait4(sibling)"
        );
        Ok(())
    })?;
    expect_ok(c)?;
    let g = s.get(0) as i32;
    check!(g > 0, "no sibling pid reported");
    expect_ok(g)?;
    check_eq!(s.get(1), 1, "the sibling's getppid()");
    Ok(())
}

/// CLONE_PARENT ignores the requested exit signal (0 here) and uses the caller's
/// (SIGCHLD), so a plain wait4 in init finds the sibling.
pub fn clone_parent_exit_signal() -> T {
    let s = Shared::new()?;
    let c = child(|| {
        let g = clone_fork(sys::CLONE_PARENT, null_mut(), 0);
        if g == 0 {
            sys::exit_group(3);
        }
        check!(
            g > 0,
            "clone(CLONE_PARENT) in a child: expected a pid, got {g}"
        );
        s.set(0, g as i64);
        Ok(())
    })?;
    expect_ok(c)?;
    let g = s.get(0) as i32;
    check!(g > 0, "no sibling pid reported");
    expect_status(g, exited(3))
}

/// init may not use CLONE_PARENT: EINVAL.
pub fn clone_parent_from_init() -> T {
    let r = clone_fork(sys::CLONE_PARENT | sys::SIGCHLD as u64, null_mut(), 0);
    if r == 0 {
        sys::exit_group(0);
    }
    if r > 0 {
        let _ = wait_opts(r as i32, sys::WALL);
    }
    check_eq!(r, -EINVAL, "clone(CLONE_PARENT|SIGCHLD) in init");
    Ok(())
}

/// CLONE_PARENT_SETTID stores the child's tid in the parent's memory; the (already
/// copied) child's memory keeps the old value.
pub fn clone_parent_settid() -> T {
    let mut ptid: i32 = -1;
    let pid = clone_fork(sys::CLONE_PARENT_SETTID | sys::SIGCHLD as u64, &mut ptid, 0);
    if pid == 0 {
        // SAFETY: a volatile read of a local of this (copied) frame.
        let v = unsafe { core::ptr::read_volatile(&ptid) };
        sys::exit_group(if v == -1 { 0 } else { 10 });
    }
    check!(
        pid > 0,
        "clone(CLONE_PARENT_SETTID|SIGCHLD): expected a pid, got {pid}"
    );
    // SAFETY: as above; the kernel wrote it before clone returned.
    let v = unsafe { core::ptr::read_volatile(&ptid) };
    check_eq!(v as isize, pid, "parent_tid in the parent");
    check_eq!(
        wait_opts(pid as i32, 0)?,
        exited(0),
        "child (exit 10: its parent_tid word changed)"
    );
    Ok(())
}

static CTID: AtomicI32 = AtomicI32::new(0);

/// CLONE_CHILD_SETTID writes the tid in the (shared) memory before the child runs;
/// CLONE_CHILD_CLEARTID sets it to 0 at exit.
pub fn clone_child_settid_cleartid() -> T {
    extern "C" fn body(_: usize) -> i32 {
        SEEN.store(CTID.load(SeqCst) as i64, SeqCst);
        SEEN2.store(sys::gettid() as i64, SeqCst);
        0
    }
    CTID.store(-1, SeqCst);
    let stack = Stack::new()?;
    let flags =
        sys::CLONE_VM | sys::CLONE_CHILD_SETTID | sys::CLONE_CHILD_CLEARTID | sys::SIGCHLD as u64;
    let ctid = CTID.as_ptr();
    // SAFETY: the child runs body on its own stack, which lives until it was reaped.
    let pid = unsafe { sys::clone_run(flags, stack.top(), null_mut(), 0, ctid, body, 0) };
    check!(pid > 0, "clone: expected a pid, got {pid}");
    expect_ok(pid as i32)?;
    check_eq!(SEEN2.load(SeqCst), pid as i64, "the child's gettid()");
    check_eq!(
        SEEN.load(SeqCst),
        pid as i64,
        "child_tid word as the child first saw it"
    );
    check_eq!(
        CTID.load(SeqCst),
        0,
        "child_tid word after the child exited"
    );
    Ok(())
}

static SEEN2: AtomicI64 = AtomicI64::new(0);

/// CLONE_CHILD_CLEARTID also FUTEX_WAKEs the word: a FUTEX_WAIT on it returns (0)
/// when the child exits, long before its 5 s timeout.
pub fn clone_child_cleartid_wakes() -> T {
    let f = || {
        sys::sleep_ms(50);
        0
    };
    let t = Thread::spawn(&f)?;
    let word = t.tid_word();
    let t0 = now_ns();
    let timeout = sys::Timespec {
        tv_sec: 5,
        tv_nsec: 0,
    };
    let r = sys::futex(word.as_ptr(), sys::FUTEX_WAIT, t.tid, &timeout);
    let dt = now_ns() - t0;
    check_eq!(
        r,
        0,
        "FUTEX_WAIT(tid word, tid) while the thread sleeps (0: woken at its exit)"
    );
    check!(
        dt < 2_000_000_000,
        "FUTEX_WAIT returned after {dt} ns: the exit did not wake it"
    );
    check_eq!(word.load(SeqCst), 0, "tid word after the thread's exit");
    Ok(())
}

/// CLONE_SETTLS sets the child's TPIDR_EL0; the parent's is unchanged.
pub fn clone_settls() -> T {
    write_tls(0x1111);
    let tls = 0x0000_7654_3210_fed0;
    let pid = clone_fork(sys::CLONE_SETTLS | sys::SIGCHLD as u64, null_mut(), tls);
    if pid == 0 {
        sys::exit_group(if read_tls() == tls as u64 { 0 } else { 10 });
    }
    let parent_tls = read_tls();
    write_tls(0);
    check!(
        pid > 0,
        "clone(CLONE_SETTLS|SIGCHLD): expected a pid, got {pid}"
    );
    check_eq!(
        wait_opts(pid as i32, 0)?,
        exited(0),
        "child (exit 10: wrong TPIDR_EL0)"
    );
    check_eq!(parent_tls, 0x1111, "the parent's TPIDR_EL0");
    Ok(())
}

/// Without CLONE_SETTLS the child inherits the parent's current TPIDR_EL0 (fork).
pub fn fork_inherits_tls() -> T {
    write_tls(0xabcd_ef01_2345);
    let pid = sys::fork();
    if pid == 0 {
        sys::exit_group(if read_tls() == 0xabcd_ef01_2345 {
            0
        } else {
            10
        });
    }
    write_tls(0);
    check!(pid > 0, "fork: expected a pid, got {pid}");
    check_eq!(
        wait_opts(pid as i32, 0)?,
        exited(0),
        "child (exit 10: wrong TPIDR_EL0)"
    );
    Ok(())
}

/// A child with exit signal 0 is a "clone" child: plain wait4 does not see it
/// (ECHILD); __WCLONE and __WALL do.
pub fn clone_exit_signal_zero() -> T {
    for opt in [sys::WCLONE, sys::WALL] {
        let pid = clone_fork(0, null_mut(), 0);
        if pid == 0 {
            sys::exit_group(4);
        }
        check!(pid > 0, "clone(0): expected a pid, got {pid}");
        let pid = pid as i32;
        let mut st = 0;
        check_eq!(
            sys::wait4(-1, &mut st, 0),
            -ECHILD,
            "wait4(-1, 0) with only an exit-signal-0 child"
        );
        check_eq!(
            sys::wait4(pid, &mut st, 0),
            -ECHILD,
            "wait4(pid, 0) of an exit-signal-0 child"
        );
        check_eq!(wait_opts(pid, opt)?, exited(4), "wait4(pid, {opt:#x})");
    }
    Ok(())
}

/// Any exit signal other than SIGCHLD (SIGUSR1 here) also makes a "clone" child.
pub fn clone_exit_signal_other() -> T {
    let pid = clone_fork(sys::SIGUSR1 as u64, null_mut(), 0);
    if pid == 0 {
        sys::exit_group(5);
    }
    check!(pid > 0, "clone(SIGUSR1): expected a pid, got {pid}");
    let pid = pid as i32;
    check_eq!(
        sys::wait4(pid, null_mut(), 0),
        -ECHILD,
        "wait4(pid, 0) of a SIGUSR1 child"
    );
    check_eq!(
        wait_opts(pid, sys::WCLONE)?,
        exited(5),
        "wait4(pid, __WCLONE)"
    );
    Ok(())
}

/// Legacy clone does not validate the exit signal (100 > _NSIG) nor unknown or upper
/// flag bits (CLONE_DETACHED, bits 32 and 40 are dropped).
pub fn clone_unchecked_bits() -> T {
    let pid = clone_fork(100, null_mut(), 0);
    if pid == 0 {
        sys::exit_group(6);
    }
    check!(pid > 0, "clone(exit signal 100): expected a pid, got {pid}");
    check_eq!(
        wait_opts(pid as i32, sys::WALL)?,
        exited(6),
        "wait4(__WALL) of the exit-signal-100 child"
    );
    let flags = 1 << 40 | 1 << 32 | sys::CLONE_DETACHED | sys::SIGCHLD as u64;
    let pid = clone_fork(flags, null_mut(), 0);
    if pid == 0 {
        sys::exit_group(7);
    }
    check!(pid > 0, "clone({flags:#x}): expected a pid, got {pid}");
    expect_status(pid as i32, exited(7))
}

/// Flag combinations Linux rejects with EINVAL before creating anything.
pub fn clone_invalid_flags() -> T {
    use sys::*;
    extern "C" fn body(_: usize) -> i32 {
        99
    }
    let thread = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    let cases = [
        (
            CLONE_THREAD | CLONE_VM,
            "CLONE_THREAD without CLONE_SIGHAND",
        ),
        (CLONE_SIGHAND, "CLONE_SIGHAND without CLONE_VM"),
        (
            CLONE_SIGHAND | CLONE_THREAD,
            "CLONE_SIGHAND|CLONE_THREAD without CLONE_VM",
        ),
        (CLONE_NEWNS | CLONE_FS, "CLONE_NEWNS|CLONE_FS"),
        (CLONE_NEWUSER | CLONE_FS, "CLONE_NEWUSER|CLONE_FS"),
        (thread | CLONE_NEWUSER, "CLONE_THREAD|CLONE_NEWUSER"),
        (thread | CLONE_NEWPID, "CLONE_THREAD|CLONE_NEWPID"),
        (
            CLONE_PIDFD | CLONE_DETACHED | SIGCHLD as u64,
            "CLONE_PIDFD|CLONE_DETACHED",
        ),
        (CLONE_PIDFD | thread, "CLONE_PIDFD|CLONE_THREAD"),
        (
            CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD as u64,
            "CLONE_PIDFD|CLONE_PARENT_SETTID (same pointer)",
        ),
    ];
    let stack = Stack::new()?;
    let mut word = 0i32;
    for (flags, what) in cases {
        // SAFETY: should the kernel create a child, it runs body on its own stack and exits.
        let r = unsafe { clone_run(flags, stack.top(), &mut word, 0, &mut word, body, 0) };
        if r > 0 {
            sys::sleep_ms(20);
            let _ = sys::wait4(r as i32, null_mut(), WALL);
        }
        check_eq!(r, -EINVAL, "clone({flags:#x}): {what}");
    }
    Ok(())
}
