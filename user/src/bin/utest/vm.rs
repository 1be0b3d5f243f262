//! The address space's edges: the signal trampoline that every process maps (it must
//! stay the kernel's, whatever one process does to its mapping), `brk` against other
//! mappings, `mprotect` over holes, `mmap` hints and `MAP_HUGETLB`.

use crate::util::{
    child, child_code, exited, expect_ok, expect_status, self_path, Shared, PAGE, RW, T,
};
use forkos_user::sys::{
    self, nr, EINVAL, ENOMEM, MADV_DONTNEED, MAP_HUGETLB, MAP_HUGE_SHIFT, RLIMIT_DATA, SIGUSR1,
};

/// `syscall(nr, a, b, c)`.
fn call(nr: usize, a: usize, b: usize, c: usize) -> isize {
    // SAFETY: the memory calls here only read their arguments or change mappings the
    // test owns; the caller runs them where a fault is expected or harmless.
    unsafe { sys::syscall6(nr, a, b, c, 0, 0, 0) }
}

fn mprotect(addr: usize, len: usize, prot: usize) -> isize {
    call(nr::MPROTECT, addr, len, prot)
}

fn peek(addr: usize) -> u8 {
    // SAFETY: callers pass mapped, readable addresses (or run in a child a fault may kill).
    unsafe { (addr as *const u8).read_volatile() }
}

fn poke(addr: usize, v: u8) {
    // SAFETY: as in peek, for writable addresses.
    unsafe { (addr as *mut u8).write_volatile(v) }
}

/// Install the probe for SIGUSR1 without SA_RESTORER (as glibc does on arm64).
fn install_probe() -> T {
    let act = sys::SigAction {
        handler: forkos_user::sigprobe::handler(),
        ..Default::default()
    };
    check_eq!(sys::sigaction(SIGUSR1, Some(&act), None), 0, "rt_sigaction");
    Ok(())
}

/// Send ourselves SIGUSR1 and check that the handler ran and returned through the
/// trampoline at `want_lr` (0: any), and that the trampoline is still
/// `mov x8, #139; svc #0` (rt_sigreturn) on both kernels. Returns the trampoline.
fn signal_round_trip(want_lr: usize) -> Result<usize, crate::util::Fail> {
    let before = forkos_user::sigprobe::hits();
    sys::kill(sys::getpid() as i32, SIGUSR1);
    check_eq!(
        forkos_user::sigprobe::hits(),
        before + 1,
        "the handler ran once and came back"
    );
    let lr = forkos_user::sigprobe::return_address();
    check!(
        lr != 0 && lr.is_multiple_of(4),
        "trampoline address {lr:#x}"
    );
    if want_lr != 0 {
        check_eq!(lr, want_lr, "trampoline address");
    }
    // SAFETY: the trampoline is mapped readable and executable in every program.
    let code = unsafe {
        [
            (lr as *const u32).read_volatile(),
            ((lr + 4) as *const u32).read_volatile(),
        ]
    };
    check_eq!(code, [0xd280_1168, 0xd400_0001], "trampoline instructions");
    Ok(lr)
}

/// What the scribblers write: `brk #0` twice.
const SCRIBBLE: u64 = 0xd420_0000_d420_0000;

/// How many words of the page at `page` hold [`SCRIBBLE`].
fn scribbled_words(page: usize) -> usize {
    (page..page + PAGE)
        .step_by(8)
        // SAFETY: the caller's page is mapped readable.
        .filter(|&a| unsafe { (a as *const u64).read_volatile() } == SCRIBBLE)
        .count()
}

/// Scribble over the trampoline page at `page` from this process: make it writable,
/// write every byte (by hand and through the kernel), and check the writes stuck here.
fn scribble(page: usize, touch_first: bool, dontneed: bool) -> T {
    if touch_first {
        peek(page);
    }
    check_eq!(mprotect(page, PAGE, RW), 0, "mprotect(trampoline, RW)");
    if dontneed {
        check_eq!(
            call(nr::MADVISE, page, PAGE, MADV_DONTNEED),
            0,
            "madvise(trampoline, MADV_DONTNEED)"
        );
    }
    for a in (page..page + PAGE).step_by(8) {
        // SAFETY: the page is now mapped read-write in this process.
        unsafe { (a as *mut u64).write_volatile(SCRIBBLE) };
    }
    // The kernel writes into it too (copy_to_user).
    let mut ts = sys::Timespec::default();
    let r = call(
        nr::CLOCK_GETTIME,
        sys::CLOCK_MONOTONIC as usize,
        page + 64,
        0,
    );
    check_eq!(r, 0, "clock_gettime into the trampoline page");
    // SAFETY: as above.
    unsafe {
        core::ptr::copy_nonoverlapping((page + 64) as *const u8, &mut ts as *mut _ as *mut u8, 16)
    };
    check!(
        ts.tv_sec != 0 || ts.tv_nsec != 0,
        "clock_gettime wrote nothing"
    );
    check_eq!(scribbled_words(page), PAGE / 8 - 2, "scribbled words");
    if dontneed {
        // Dropping the private copy brings the original back.
        check_eq!(
            call(nr::MADVISE, page, PAGE, MADV_DONTNEED),
            0,
            "madvise(trampoline, MADV_DONTNEED) after writing"
        );
        check!(
            peek(page + 4) != 0x20,
            "the scribble survived MADV_DONTNEED"
        );
    }
    Ok(())
}

/// Format `v` in decimal into `buf`, NUL-terminated.
fn decimal(mut v: usize, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len() - 1;
    buf[i] = 0;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// execve this program as `utest sigpage MODE ADDR` (see [`sigpage_helper`]).
fn exec_helper(mode: &core::ffi::CStr, tramp: usize) -> isize {
    let path = self_path();
    let mut buf = [0u8; 24];
    let addr = decimal(tramp, &mut buf);
    let argv: [*const u8; 5] = [
        path.as_ptr(),
        c"sigpage".as_ptr(),
        mode.as_ptr(),
        addr.as_ptr(),
        core::ptr::null(),
    ];
    let envp: [*const u8; 1] = [core::ptr::null()];
    call(
        nr::EXECVE,
        path.as_ptr() as usize,
        argv.as_ptr() as usize,
        envp.as_ptr() as usize,
    )
}

/// The exec'd halves of [`sigpage_write_stays_private`]: `scribble` writes the
/// trampoline of a fresh program that never touched it; `check` takes a signal through
/// it. Exit status 0 when all went as expected.
pub fn sigpage_helper(mode: &str, addr: &str) -> i32 {
    let Ok(tramp) = addr.parse::<usize>() else {
        return 2;
    };
    let r = match mode {
        "scribble" => scribble(tramp & !(PAGE - 1), false, false),
        "check" => install_probe().and_then(|()| signal_round_trip(tramp).map(|_| ())),
        _ => return 2,
    };
    r.is_err() as i32
}

/// The signal trampoline is one kernel page in every process (Linux: the vDSO). A
/// process that makes its mapping writable and writes it (having read it first, after
/// MADV_DONTNEED, or never having touched it since execve; by hand and through a
/// syscall) changes only its own private copy: its parent, a sibling forked before,
/// and a program exec'd after still return from handlers through the original code.
pub fn sigpage_write_stays_private() -> T {
    expect_ok(child(|| {
        install_probe()?;
        let tramp = signal_round_trip(0)?;
        let page = tramp & !(PAGE - 1);
        let mut orig = [0u8; PAGE];
        // SAFETY: the trampoline page is readable.
        unsafe { core::ptr::copy_nonoverlapping(page as *const u8, orig.as_mut_ptr(), PAGE) };
        let s = Shared::new()?;
        // A sibling forked before anyone writes, checking after they all did.
        let sibling = child(|| {
            s.wait_for(0);
            signal_round_trip(tramp)?;
            // SAFETY: as above.
            let now = unsafe { core::slice::from_raw_parts(page as *const u8, PAGE) };
            check!(now == orig, "the sibling's trampoline page changed");
            Ok(())
        })?;
        expect_ok(child(|| scribble(page, true, false))?)?;
        expect_ok(child(|| scribble(page, false, true))?)?;
        let fresh = child_code(|| {
            exec_helper(c"scribble", tramp);
            99
        })?;
        expect_status(fresh, exited(0))?;
        // SAFETY: as above.
        let now = unsafe { core::slice::from_raw_parts(page as *const u8, PAGE) };
        check!(now == orig, "the parent's trampoline page changed");
        signal_round_trip(tramp)?;
        s.set(0, 1);
        expect_ok(sibling)?;
        let later = child_code(|| {
            exec_helper(c"check", tramp);
            99
        })?;
        expect_status(later, exited(0))?;
        // And the writer's own handlers: its copy is private, but it is its own.
        expect_ok(child(|| {
            check_eq!(mprotect(page, PAGE, RW), 0, "mprotect(trampoline, RW)");
            poke(page + PAGE - 1, peek(page + PAGE - 1));
            check_eq!(
                mprotect(page, PAGE, sys::PROT_READ | sys::PROT_EXEC),
                0,
                "mprotect(trampoline, RX)"
            );
            signal_round_trip(tramp).map(|_| ())
        })?)
    })?)
}

/// `brk` grows only the heap and keeps a free page below the next mapping (Linux's
/// `brk` checks `next->vm_start` against `newbrk + PAGE_SIZE`): with a mapping two pages
/// above the break, the break may move one page up, not into the page below the
/// mapping nor across it; the mapping is untouched.
pub fn brk_stops_below_next_mapping() -> T {
    expect_ok(child(|| {
        let b = sys::brk(0) as usize;
        let above = b + 3 * PAGE;
        let r = sys::mmap(
            above,
            PAGE,
            RW,
            sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED,
            -1,
            0,
        );
        check_eq!(r as usize, above, "mmap(MAP_FIXED) above the break");
        poke(above, 7);
        for want in [b + 3 * PAGE, b + 2 * PAGE + 1, b + 8 * PAGE, b + 64 * PAGE] {
            check_eq!(
                sys::brk(want) as usize,
                b,
                "brk({want:#x}) into the mapping"
            );
        }
        check_eq!(
            sys::brk(b + 2 * PAGE) as usize,
            b + 2 * PAGE,
            "brk(+2 pages)"
        );
        poke(b + 2 * PAGE - 1, 1);
        check_eq!(peek(above), 7, "the mapping above after brk");
        check_eq!(
            sys::brk(b + 3 * PAGE) as usize,
            b + 2 * PAGE,
            "brk(+3 pages)"
        );
        check_eq!(sys::brk(b) as usize, b, "brk(back)");
        check_eq!(peek(above), 7, "the mapping above after shrinking");
        // Once it is gone, the heap may grow over its place.
        check_eq!(sys::munmap(above, PAGE), 0, "munmap");
        check_eq!(
            sys::brk(b + 8 * PAGE) as usize,
            b + 8 * PAGE,
            "brk(+8 pages)"
        );
        check_eq!(peek(above), 0, "new heap where the mapping was");
        Ok(())
    })?)
}

/// `brk` after part of the heap was unmapped: growing adds a new heap mapping at the
/// old break and leaves the hole a hole; shrinking unmaps the whole range again; a
/// shrink with nothing mapped in the range is refused (Linux 6.1's `brk`).
pub fn brk_after_munmap_of_heap() -> T {
    expect_ok(child(|| {
        let b = sys::brk(0) as usize;
        check_eq!(
            sys::brk(b + 4 * PAGE) as usize,
            b + 4 * PAGE,
            "brk(+4 pages)"
        );
        poke(b, 1);
        poke(b + 3 * PAGE, 3);
        check_eq!(
            sys::munmap(b + PAGE, 3 * PAGE),
            0,
            "munmap(top 3 heap pages)"
        );
        check_eq!(
            sys::brk(b + 6 * PAGE) as usize,
            b + 6 * PAGE,
            "brk(+6 pages)"
        );
        check_eq!(peek(b + 4 * PAGE), 0, "new heap page");
        poke(b + 5 * PAGE, 5);
        let hole = child_code(|| {
            peek(b + 2 * PAGE);
            0
        })?;
        expect_status(hole, crate::util::killed(sys::SIGSEGV))?;
        check_eq!(
            sys::brk(b + PAGE) as usize,
            b + PAGE,
            "brk(shrink to +1 page)"
        );
        let gone = child_code(|| {
            peek(b + 5 * PAGE);
            0
        })?;
        expect_status(gone, crate::util::killed(sys::SIGSEGV))?;
        check_eq!(peek(b), 1, "the first heap page");
        // Nothing left to unmap between the first page and the break: refused.
        check_eq!(sys::munmap(b, PAGE), 0, "munmap(first heap page)");
        check_eq!(sys::brk(b) as usize, b + PAGE, "brk(shrink over nothing)");
        Ok(())
    })?)
}

/// `RLIMIT_DATA` bounds the heap: with a 16 MiB limit the break may grow by 64 KiB but
/// not by 32 MiB; with 0 it may not grow at all (Linux's `check_data_rlimit`; Linux also
/// counts the rest of the private writable memory, `data_vm`, here this program's
/// 8.5 MiB of .bss, which forkos does not).
pub fn brk_respects_rlimit_data() -> T {
    expect_ok(child(|| {
        let set = |cur: u64| {
            let lim = sys::Rlimit {
                cur,
                max: sys::RLIM_INFINITY,
            };
            // SAFETY: prlimit64 reads lim.
            unsafe {
                sys::syscall6(
                    nr::PRLIMIT64,
                    0,
                    RLIMIT_DATA,
                    &lim as *const sys::Rlimit as usize,
                    0,
                    0,
                    0,
                )
            }
        };
        let b = sys::brk(0) as usize;
        check_eq!(set(16 << 20), 0, "prlimit64(RLIMIT_DATA, 16 MiB)");
        check_eq!(
            sys::brk(b + (64 << 10)) as usize,
            b + (64 << 10),
            "brk(+64 KiB)"
        );
        check_eq!(
            sys::brk(b + (32 << 20)) as usize,
            b + (64 << 10),
            "brk(+32 MiB)"
        );
        check_eq!(sys::brk(b) as usize, b, "brk(back)");
        check_eq!(set(0), 0, "prlimit64(RLIMIT_DATA, 0)");
        check_eq!(
            sys::brk(b + PAGE) as usize,
            b,
            "brk(+1 page) with no data allowed"
        );
        Ok(())
    })?)
}

/// `mprotect` over a range that ends in a hole changes the mapped part and then fails
/// with ENOMEM, as Linux's does; one that starts in a hole changes nothing.
pub fn mprotect_partial_then_enomem() -> T {
    expect_ok(child(|| {
        let p = crate::util::map(4 * PAGE, RW, sys::MAP_PRIVATE)?;
        check_eq!(sys::munmap(p + 2 * PAGE, PAGE), 0, "munmap(third page)");
        poke(p, 1);
        poke(p + 3 * PAGE, 4);
        check_eq!(
            mprotect(p, 4 * PAGE, sys::PROT_READ),
            -ENOMEM,
            "mprotect over the hole"
        );
        // The two pages before the hole are read-only now, the one after is not.
        poke(p + 3 * PAGE, 5);
        let ro = child_code(|| {
            poke(p + PAGE, 1);
            0
        })?;
        expect_status(ro, crate::util::killed(sys::SIGSEGV))?;
        check_eq!(
            mprotect(p + 2 * PAGE, 2 * PAGE, sys::PROT_READ),
            -ENOMEM,
            "mprotect starting in the hole"
        );
        poke(p + 3 * PAGE, 6);
        check_eq!(mprotect(p, 2 * PAGE, RW), 0, "mprotect(RW) back");
        poke(p + PAGE, 2);
        sys::munmap(p, 4 * PAGE);
        Ok(())
    })?)
}

/// `mmap` places a mapping at a free hint (page-aligned down) anywhere in user space;
/// a hint below `mmap_min_addr` (32 KiB: Debian's `CONFIG_LSM_MMAP_MIN_ADDR`) is raised
/// to it (Linux `round_hint_to_min`); a hint over a mapping is ignored, and the mapping
/// goes elsewhere.
pub fn mmap_hint_honoured() -> T {
    let anon = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS;
    let try_at = |hint: usize| sys::mmap(hint, PAGE, RW, anon, -1, 0) as usize;
    let high = 0x7000_0000_0000;
    check_eq!(try_at(high), high, "mmap(hint far above the mmap area)");
    check_eq!(
        try_at(high + PAGE + 0x800),
        high + PAGE,
        "mmap(unaligned hint)"
    );
    let taken = try_at(high + 0x10);
    check!(
        taken != high && taken != high + PAGE,
        "mmap(hint over a mapping) = {taken:#x}"
    );
    check_eq!(try_at(0x1000), 0x8000, "mmap(hint below mmap_min_addr)");
    let low = try_at(0x7000);
    check!(
        low != 0x7000 && low != 0x8000,
        "mmap(hint below mmap_min_addr, taken) = {low:#x}"
    );
    check_eq!(sys::munmap(0x8000, PAGE), 0, "munmap");
    check_eq!(try_at(0x8000), 0x8000, "mmap(hint = mmap_min_addr)");
    for a in [high, high + PAGE, taken, 0x8000, low] {
        sys::munmap(a, PAGE);
    }
    Ok(())
}

/// `MAP_HUGETLB` without huge pages reserved (Linux's default, and forkos has none)
/// fails with ENOMEM; an unsupported huge page size is EINVAL.
pub fn mmap_hugetlb_fails() -> T {
    let anon = sys::MAP_PRIVATE | sys::MAP_ANONYMOUS;
    let len = 2 << 20;
    for (flags, want, what) in [
        (anon | MAP_HUGETLB, -ENOMEM, "default size"),
        (
            anon | MAP_HUGETLB | (21 << MAP_HUGE_SHIFT),
            -ENOMEM,
            "2 MiB",
        ),
        (
            sys::MAP_SHARED | sys::MAP_ANONYMOUS | MAP_HUGETLB,
            -ENOMEM,
            "shared",
        ),
        (
            anon | MAP_HUGETLB | (20 << MAP_HUGE_SHIFT),
            -EINVAL,
            "1 MiB",
        ),
    ] {
        check_eq!(
            sys::mmap(0, len, RW, flags, -1, 0),
            want,
            "mmap(MAP_HUGETLB, {what})"
        );
    }
    Ok(())
}
