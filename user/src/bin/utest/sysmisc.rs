//! The syscalls glibc's start-up and runtime need beyond fork and exit: mprotect,
//! madvise, getrandom, prlimit64, rt_sigaction, rt_sigprocmask, set_robust_list; and
//! the affinity syscalls and getcpu.

use crate::util::{child, expect_killed_by, expect_ok, map, PAGE, RW, T};
use forkos_user::sys::{
    self, nr, Rlimit, EFAULT, EINVAL, ENOMEM, ESRCH, MADV_DONTNEED, RLIMIT_NOFILE, RLIMIT_STACK,
    RLIM_INFINITY, SIGSEGV, SIGTERM, SIG_IGN,
};

/// An address never mapped in a test process.
const BAD: usize = 0x10;

fn call(n: usize, a: [usize; 4]) -> isize {
    // SAFETY: the callers pass pointers to their own live buffers, or bad pointers the
    // kernel must reject; the kernel writes only through the given pointers.
    unsafe { sys::syscall6(n, a[0], a[1], a[2], a[3], 0, 0) }
}

fn peek(a: usize) -> u8 {
    // SAFETY: tests read addresses they mapped (or expect the read to kill a child).
    unsafe { (a as *const u8).read_volatile() }
}

fn poke(a: usize, v: u8) {
    // SAFETY: as in peek.
    unsafe { (a as *mut u8).write_volatile(v) }
}

/// A page made PROT_NONE keeps its contents but cannot be touched; PROT_READ allows
/// reads only; PROT_READ|PROT_WRITE gives it back whole.
pub fn mprotect_none_read_write() -> T {
    let p = map(PAGE, RW, sys::MAP_PRIVATE)?;
    poke(p, 0x5a);
    check_eq!(
        call(nr::MPROTECT, [p, PAGE, sys::PROT_NONE, 0]),
        0,
        "mprotect NONE"
    );
    expect_killed_by(SIGSEGV, || {
        peek(p);
    })?;
    check_eq!(
        call(nr::MPROTECT, [p, PAGE, sys::PROT_READ, 0]),
        0,
        "mprotect READ"
    );
    check_eq!(peek(p), 0x5a, "contents after PROT_NONE and back");
    expect_killed_by(SIGSEGV, || poke(p, 1))?;
    check_eq!(call(nr::MPROTECT, [p, PAGE, RW, 0]), 0, "mprotect RW");
    poke(p, 0x77);
    check_eq!(peek(p), 0x77, "write after PROT_READ|PROT_WRITE");
    Ok(())
}

/// mprotect of the middle page splits the mapping; errors as Linux.
pub fn mprotect_split_and_errors() -> T {
    let p = map(3 * PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(
        call(nr::MPROTECT, [p + PAGE, PAGE, sys::PROT_READ, 0]),
        0,
        "mprotect middle page"
    );
    poke(p, 1);
    poke(p + 2 * PAGE, 1);
    expect_killed_by(SIGSEGV, || poke(p + PAGE, 1))?;
    check_eq!(
        call(nr::MPROTECT, [p + 1, PAGE, RW, 0]),
        -EINVAL,
        "unaligned"
    );
    check_eq!(
        call(nr::MPROTECT, [p, PAGE, 0x10, 0]),
        -EINVAL,
        "unknown prot bit"
    );
    check_eq!(call(nr::MPROTECT, [p, 0, RW, 0]), 0, "length 0");
    sys::munmap(p + 2 * PAGE, PAGE);
    check_eq!(
        call(nr::MPROTECT, [p, 3 * PAGE, RW, 0]),
        -ENOMEM,
        "range with a hole"
    );
    sys::munmap(p, 2 * PAGE);
    Ok(())
}

/// A child that write-protects and re-enables a page it shares copy-on-write with its
/// parent, then writes it, gets its own copy: the parent's value stays.
pub fn mprotect_after_fork_keeps_cow() -> T {
    let p = map(PAGE, RW, sys::MAP_PRIVATE)?;
    poke(p, 10);
    let pid = child(|| {
        check_eq!(call(nr::MPROTECT, [p, PAGE, sys::PROT_READ, 0]), 0, "RO");
        check_eq!(call(nr::MPROTECT, [p, PAGE, RW, 0]), 0, "RW");
        poke(p, 20);
        check_eq!(peek(p), 20, "child's write");
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(peek(p), 10, "parent's page after the child wrote its copy");
    Ok(())
}

/// MADV_DONTNEED drops private pages (they read back as zero) but not the contents of
/// shared memory; unknown advice is EINVAL.
pub fn madvise_dontneed() -> T {
    let p = map(2 * PAGE, RW, sys::MAP_PRIVATE)?;
    let s = map(PAGE, RW, sys::MAP_SHARED)?;
    poke(p, 9);
    poke(p + PAGE, 9);
    poke(s, 9);
    check_eq!(
        call(nr::MADVISE, [p, 2 * PAGE, MADV_DONTNEED, 0]),
        0,
        "private"
    );
    check_eq!(
        (peek(p), peek(p + PAGE)),
        (0, 0),
        "private pages after DONTNEED"
    );
    check_eq!(call(nr::MADVISE, [s, PAGE, MADV_DONTNEED, 0]), 0, "shared");
    check_eq!(peek(s), 9, "shared page after DONTNEED");
    check_eq!(
        call(nr::MADVISE, [p, PAGE, 999, 0]),
        -EINVAL,
        "unknown advice"
    );
    check_eq!(call(nr::MADVISE, [p + 1, PAGE, 0, 0]), -EINVAL, "unaligned");
    sys::munmap(p, 2 * PAGE);
    sys::munmap(s, PAGE);
    Ok(())
}

/// getrandom fills the buffer; bad flags and bad pointers fail.
pub fn getrandom_works() -> T {
    let mut buf = [0u8; 64];
    let r = call(nr::GETRANDOM, [buf.as_mut_ptr() as usize, 64, 0, 0]);
    check_eq!(r, 64, "getrandom(64)");
    check!(buf.iter().any(|&b| b != 0), "64 random bytes all zero");
    check_eq!(
        call(nr::GETRANDOM, [buf.as_mut_ptr() as usize, 8, 0x100, 0]),
        -EINVAL,
        "unknown flag"
    );
    check_eq!(call(nr::GETRANDOM, [8, 8, 0, 0]), -EFAULT, "bad pointer");
    Ok(())
}

/// prlimit64 reads Linux's defaults, sets a limit, refuses soft > hard, and children
/// inherit what the parent set.
pub fn prlimit_get_set_inherit() -> T {
    let rlim = |cur, max| Rlimit { cur, max };
    let ptr = |r: &Rlimit| r as *const Rlimit as usize;
    let mut old = rlim(0, 0);
    check_eq!(
        call(
            nr::PRLIMIT64,
            [0, RLIMIT_STACK, 0, &mut old as *mut _ as usize]
        ),
        0,
        "get STACK"
    );
    check_eq!(old, rlim(8 << 20, RLIM_INFINITY), "RLIMIT_STACK");
    let new = rlim(512, 1024);
    check_eq!(
        call(nr::PRLIMIT64, [0, RLIMIT_NOFILE, ptr(&new), 0]),
        0,
        "set NOFILE"
    );
    let bad = rlim(2048, 1024);
    check_eq!(
        call(nr::PRLIMIT64, [0, RLIMIT_NOFILE, ptr(&bad), 0]),
        -EINVAL,
        "soft above hard"
    );
    check_eq!(call(nr::PRLIMIT64, [0, 99, 0, 0]), -EINVAL, "resource 99");
    let pid = child(|| {
        let mut got = rlim(0, 0);
        call(
            nr::PRLIMIT64,
            [0, RLIMIT_NOFILE, 0, &mut got as *mut _ as usize],
        );
        check_eq!(got, rlim(512, 1024), "child's NOFILE");
        Ok(())
    })?;
    expect_ok(pid)
}

/// rt_sigaction: SIGKILL's action cannot change, the set size must be 8; an ignored
/// SIGTERM does not kill; a child inherits the ignored action.
pub fn sigaction_ignore_and_rules() -> T {
    let ign = [SIG_IGN, 0, 0, 0u64];
    let mut old = [7u64; 4];
    let p = ign.as_ptr() as usize;
    check_eq!(call(nr::RT_SIGACTION, [9, p, 0, 8]), -EINVAL, "SIGKILL");
    check_eq!(call(nr::RT_SIGACTION, [0, p, 0, 8]), -EINVAL, "signal 0");
    check_eq!(call(nr::RT_SIGACTION, [65, p, 0, 8]), -EINVAL, "signal 65");
    check_eq!(
        call(nr::RT_SIGACTION, [15, p, 0, 4]),
        -EINVAL,
        "sigsetsize 4"
    );
    let pid = child(|| {
        let o = old.as_mut_ptr() as usize;
        check_eq!(call(nr::RT_SIGACTION, [15, p, o, 8]), 0, "ignore SIGTERM");
        check_eq!(old[0], 0, "SIGTERM's old handler (SIG_DFL)");
        check_eq!(call(nr::RT_SIGACTION, [15, 0, o, 8]), 0, "read SIGTERM");
        check_eq!(old[0], SIG_IGN, "SIGTERM's handler read back");
        let me = sys::getpid() as i32;
        check_eq!(sys::kill(me, SIGTERM), 0, "kill(self, SIGTERM)");
        // Inherited by a grandchild, which SIGTERM does not kill either.
        let pid = child(|| {
            sys::kill(sys::getpid() as i32, SIGTERM);
            Ok(())
        })?;
        expect_ok(pid)
    })?;
    expect_ok(pid)
}

/// rt_sigprocmask returns the old mask, never blocks SIGKILL or SIGSTOP, and checks
/// `how` and the set size.
pub fn sigprocmask_rules() -> T {
    let set: u64 = u64::MAX;
    let mut old: u64 = 1;
    let (s, o) = (&set as *const u64 as usize, &mut old as *mut u64 as usize);
    check_eq!(call(nr::RT_SIGPROCMASK, [2, s, 0, 8]), 0, "SETMASK all");
    check_eq!(call(nr::RT_SIGPROCMASK, [0, 0, o, 8]), 0, "read");
    check_eq!(
        old,
        !((1u64 << 8) | (1 << 18)),
        "mask without SIGKILL and SIGSTOP"
    );
    check_eq!(call(nr::RT_SIGPROCMASK, [5, s, 0, 8]), -EINVAL, "how 5");
    check_eq!(
        call(nr::RT_SIGPROCMASK, [0, s, 0, 16]),
        -EINVAL,
        "sigsetsize 16"
    );
    let zero: u64 = 0;
    check_eq!(
        call(nr::RT_SIGPROCMASK, [2, &zero as *const u64 as usize, 0, 8]),
        0,
        "SETMASK none"
    );
    Ok(())
}

/// set_robust_list checks the head's size; get_robust_list returns what was set.
pub fn robust_list_round_trip() -> T {
    let head = [0u64; 3];
    let h = head.as_ptr() as usize;
    check_eq!(call(nr::SET_ROBUST_LIST, [h, 23, 0, 0]), -EINVAL, "len 23");
    check_eq!(call(nr::SET_ROBUST_LIST, [h, 24, 0, 0]), 0, "len 24");
    let (mut got, mut len) = (0usize, 0usize);
    let r = call(
        nr::GET_ROBUST_LIST,
        [
            0,
            &mut got as *mut usize as usize,
            &mut len as *mut usize as usize,
            0,
        ],
    );
    check_eq!((r, got, len), (0, h, 24), "get_robust_list");
    Ok(())
}

/// `sched_getaffinity`, `sched_setaffinity` and `getcpu` answer as Linux does: the
/// length rules and errors, a mask that always holds the caller's CPU, a set mask read
/// back (cut to CPUs that are up) and inherited by a child, and a mask with no usable
/// CPU refused.
pub fn affinity_and_getcpu() -> T {
    let (get, set) = (nr::SCHED_GETAFFINITY, nr::SCHED_SETAFFINITY);
    let mut m = [0u64; 4];
    let mp = m.as_mut_ptr() as usize;
    check_eq!(
        call(get, [0, 0, mp, 0]),
        -EINVAL,
        "sched_getaffinity(len 0)"
    );
    check_eq!(
        call(get, [0, 4, mp, 0]),
        -EINVAL,
        "sched_getaffinity(len 4)"
    );
    check_eq!(
        call(get, [0, 12, mp, 0]),
        -EINVAL,
        "sched_getaffinity(len 12)"
    );
    check_eq!(
        call(get, [0, 8, BAD, 0]),
        -EFAULT,
        "sched_getaffinity(bad pointer)"
    );
    check_eq!(
        call(get, [99_999, 8, mp, 0]),
        -ESRCH,
        "sched_getaffinity(no such pid)"
    );
    check_eq!(
        call(get, [usize::MAX, 8, mp, 0]),
        -ESRCH,
        "sched_getaffinity(pid -1)"
    );
    check_eq!(call(get, [0, 8, mp, 0]), 8, "sched_getaffinity(len 8)");
    let online = m[0];
    let r = call(get, [0, 32, mp, 0]);
    check!(
        r >= 8 && r % 8 == 0,
        "sched_getaffinity(len 32) returned {r}"
    );
    let (mut cpu, mut node) = (u32::MAX, u32::MAX);
    let (cp, np) = (
        &mut cpu as *mut u32 as usize,
        &mut node as *mut u32 as usize,
    );
    check_eq!(call(nr::GETCPU, [cp, np, 0, 0]), 0, "getcpu");
    check_eq!(node, 0, "getcpu's node");
    check!(
        online & (1 << cpu) != 0,
        "getcpu's CPU {cpu} is not in the mask {online:#x}"
    );
    check_eq!(call(nr::GETCPU, [0, 0, 0, 0]), 0, "getcpu(NULL, NULL)");
    check_eq!(
        call(nr::GETCPU, [BAD, np, 0, 0]),
        -EFAULT,
        "getcpu(bad pointer)"
    );
    check_eq!(
        call(nr::GETCPU, [cp, BAD, 0, 0]),
        -EFAULT,
        "getcpu(, bad pointer)"
    );

    let pid = crate::util::child(|| {
        let mut m = [0u64; 4];
        let mp = m.as_mut_ptr() as usize;
        let none = 1u64 << 63; // a CPU that is not up
        check_eq!(
            call(set, [0, 8, BAD, 0]),
            -EFAULT,
            "sched_setaffinity(bad pointer)"
        );
        check_eq!(
            call(set, [99_999, 8, mp, 0]),
            -ESRCH,
            "sched_setaffinity(no such pid)"
        );
        check_eq!(
            call(set, [0, 8, mp, 0]),
            -EINVAL,
            "sched_setaffinity(empty mask)"
        );
        m[0] = none;
        check_eq!(
            call(set, [0, 8, mp, 0]),
            -EINVAL,
            "sched_setaffinity(CPU 63 only)"
        );
        // Only this CPU: a 4-byte mask is zero-extended.
        let mut cpu = 0u32;
        check_eq!(
            call(nr::GETCPU, [&mut cpu as *mut u32 as usize, 0, 0, 0]),
            0,
            "getcpu"
        );
        m[0] = (1 << cpu) | none;
        check_eq!(call(set, [0, 4, mp, 0]), 0, "sched_setaffinity(this CPU)");
        m[0] = 0;
        check_eq!(call(get, [0, 8, mp, 0]), 8, "sched_getaffinity");
        check_eq!(m[0], 1 << cpu, "the mask read back");
        let grandchild = crate::util::child(|| {
            let mut m = [0u64; 1];
            check_eq!(
                call(get, [0, 8, m.as_mut_ptr() as usize, 0]),
                8,
                "sched_getaffinity"
            );
            check_eq!(m[0], 1 << cpu, "the mask a child inherits");
            Ok(())
        })?;
        expect_ok(grandchild)?;
        m[0] = u64::MAX;
        check_eq!(call(set, [0, 32, mp, 0]), 0, "sched_setaffinity(all)");
        check_eq!(call(get, [0, 8, mp, 0]), 8, "sched_getaffinity");
        check_eq!(m[0], online, "all CPUs, cut to those that are up");
        Ok(())
    })?;
    expect_ok(pid)
}
