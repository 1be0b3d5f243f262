//! fork(): return values, identities, CLONE_CHILD_SETTID and copy-on-write isolation.

use crate::util::{
    child, child_code, exited, expect_ok, expect_status, map, spin_until, Fail, Shared, PAGE, RW, T,
};
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use forkos_user::sys;

/// fork returns 0 in the child and the child's pid (> 0) in the parent; wait4 agrees.
pub fn fork_returns_pid_and_zero() -> T {
    let s = Shared::new()?;
    s.set(0, -1);
    let pid = sys::fork();
    if pid == 0 {
        s.set(0, pid as i64);
        sys::exit_group(0);
    }
    check!(pid > 1, "fork in parent: expected a pid > 1, got {pid}");
    expect_ok(pid as i32)?;
    check_eq!(s.get(0), 0, "fork's return value in the child");
    Ok(())
}

/// The child's getpid() and gettid() equal the pid fork returned to the parent.
pub fn fork_child_getpid() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        s.set(0, sys::getpid() as i64);
        s.set(1, sys::gettid() as i64);
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(s.get(0), pid as i64, "getpid() in the child");
    check_eq!(s.get(1), pid as i64, "gettid() in the child");
    Ok(())
}

/// The child's getppid() is the parent's pid (a grandchild's is the child's pid).
pub fn fork_child_getppid() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        s.set(0, sys::getppid() as i64);
        let me = sys::getpid();
        let g = child(|| {
            check_eq!(sys::getppid(), me, "getppid() in the grandchild");
            Ok(())
        })?;
        expect_ok(g)
    })?;
    expect_ok(pid)?;
    check_eq!(s.get(0), 1, "getppid() in init's child");
    Ok(())
}

/// glibc's fork passes CLONE_CHILD_SETTID: the tid is written in the child's memory
/// only, never in the parent's.
pub fn fork_child_settid() -> T {
    check_eq!(sys::fork_tid(), 0, "tid word before fork");
    let pid = child(|| {
        check_eq!(
            sys::fork_tid() as isize,
            sys::getpid(),
            "tid word in the child"
        );
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(sys::fork_tid(), 0, "tid word in the parent after fork");
    Ok(())
}

/// Writes to `x` after fork are private to the writer, in both directions.
fn isolation(x: &AtomicU64) -> T {
    let s = Shared::new()?;
    x.store(1, SeqCst);
    let pid = child(|| {
        check_eq!(x.load(SeqCst), 1, "child's copy right after fork");
        x.store(2, SeqCst);
        s.set(0, 1);
        check!(spin_until(5000, || s.get(1) == 1), "the parent never wrote");
        check_eq!(x.load(SeqCst), 2, "child's copy after the parent wrote 3");
        Ok(())
    })?;
    check!(spin_until(5000, || s.get(0) == 1), "the child never wrote");
    check_eq!(x.load(SeqCst), 1, "parent's copy after the child wrote 2");
    x.store(3, SeqCst);
    s.set(1, 1);
    expect_ok(pid)?;
    check_eq!(x.load(SeqCst), 3, "parent's copy after the child exited");
    Ok(())
}

static DATA: AtomicU64 = AtomicU64::new(7);
static BSS: AtomicU64 = AtomicU64::new(0);

/// Parent and child do not see each other's writes to a static in .data.
pub fn fork_isolates_data() -> T {
    isolation(&DATA)
}

/// Parent and child do not see each other's writes to a static in .bss.
pub fn fork_isolates_bss() -> T {
    isolation(&BSS)
}

/// Parent and child do not see each other's writes to the stack.
pub fn fork_isolates_stack() -> T {
    let x = AtomicU64::new(0);
    isolation(&x)
}

/// `len` bytes of fresh private anonymous memory as words.
pub fn map_words(len: usize) -> Result<&'static [AtomicU64], Fail> {
    let p = map(len, RW, sys::MAP_PRIVATE)?;
    // SAFETY: a fresh zero-filled RW mapping of len bytes, never unmapped while used
    // (callers unmap it only when done with the slice).
    Ok(unsafe { core::slice::from_raw_parts(p as *const AtomicU64, len / 8) })
}

/// Parent and child do not see each other's writes to a private anonymous mapping.
pub fn fork_isolates_mmap() -> T {
    let w = map_words(PAGE)?;
    isolation(&w[0])?;
    sys::munmap(w.as_ptr() as usize, PAGE);
    Ok(())
}

/// A child sees every page of a 64-page private mapping as the parent wrote it; its
/// writes to every page stay invisible to the parent.
pub fn fork_copies_many_pages() -> T {
    const N: usize = 64;
    let w = map_words(N * PAGE)?;
    let idx = |i: usize, j: usize| i * PAGE / 8 + j * 64;
    for i in 0..N {
        for j in 0..8 {
            w[idx(i, j)].store((i * 8 + j) as u64, SeqCst);
        }
    }
    let pid = child(|| {
        for i in 0..N {
            for j in 0..8 {
                check_eq!(
                    w[idx(i, j)].load(SeqCst),
                    (i * 8 + j) as u64,
                    "child: page {i} word {j}"
                );
                w[idx(i, j)].store(!0, SeqCst);
            }
        }
        Ok(())
    })?;
    expect_ok(pid)?;
    for i in 0..N {
        for j in 0..8 {
            let v = w[idx(i, j)].load(SeqCst);
            check_eq!(
                v,
                (i * 8 + j) as u64,
                "parent: page {i} word {j} after the child wrote"
            );
        }
    }
    sys::munmap(w.as_ptr() as usize, N * PAGE);
    Ok(())
}

/// After the child exited, the parent can still write its (formerly shared) pages, and
/// a second child sees the new values.
pub fn fork_write_after_child_exit() -> T {
    DATA.store(10, SeqCst);
    expect_ok(child(|| Ok(()))?)?;
    DATA.store(11, SeqCst);
    check_eq!(
        DATA.load(SeqCst),
        11,
        "value written after the child exited"
    );
    let pid = child(|| {
        check_eq!(DATA.load(SeqCst), 11, "second child's copy");
        Ok(())
    })?;
    expect_ok(pid)
}

/// A chain of 8 processes, each forked by the previous one: each waits for its child
/// and exits with the child's code + 1; the last exits 0, so init sees 7.
pub fn fork_nested_chain() -> T {
    fn level(depth: i32) -> i32 {
        if depth == 0 {
            return 0;
        }
        let Ok(pid) = child_code(|| level(depth - 1)) else {
            return 100;
        };
        let mut status = 0;
        if sys::wait4(pid, &mut status, 0) != pid as isize || status & 0x7f != 0 {
            return 101;
        }
        ((status >> 8) & 0xff) + 1
    }
    let pid = child_code(|| level(7))?;
    expect_status(pid, exited(7))
}
