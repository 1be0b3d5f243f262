//! What the kernel does with user memory it is handed: a whole buffer is checked before
//! anything moves (zero bytes included), an iovec array is read and checked whole
//! before any of it is written, counts are cut where Linux cuts them, a buffer that
//! runs into an unmapped page part way gives Linux's result, futex timeouts are read
//! first, and nothing the kernel writes back holds a kernel address.
//!
//! The figures are Linux 6.1's: a terminal takes a write 2048 bytes at a time and drops
//! a chunk it cannot read whole; `getrandom` returns the bytes it wrote before a bad
//! page; `copy_to_user` leaves what it wrote before the fault.

use crate::util::{child, expect_ok, map, now_ns, Fail, PAGE, RW, T};
use forkos_user::sys::{
    self, nr, Timespec, EAGAIN, EBADF, EFAULT, EINVAL, ENOENT, ENOSYS, ETIMEDOUT,
};

/// An address in the kernel half.
const KERNEL: usize = 0xffff_0000_0000_1000;

fn call(n: usize, a: [usize; 6]) -> isize {
    // SAFETY: the tests pass pointers into their own mappings, or bad pointers the
    // kernel must reject; the kernel writes only through the given pointers.
    unsafe { sys::syscall6(n, a[0], a[1], a[2], a[3], a[4], a[5]) }
}

fn fill(a: usize, n: usize, v: u8) {
    // SAFETY: callers pass a range inside a read-write mapping of theirs.
    unsafe { core::ptr::write_bytes(a as *mut u8, v, n) }
}

fn peek(a: usize) -> u8 {
    // SAFETY: callers read addresses they mapped readable.
    unsafe { (a as *const u8).read_volatile() }
}

fn put(a: usize, v: usize) {
    // SAFETY: callers write inside a read-write mapping of theirs, 8-byte aligned.
    unsafe { (a as *mut usize).write_volatile(v) }
}

/// One read-write page followed by an unmapped one (whose address nothing else maps
/// while the test runs: it maps nothing afterwards). Returns the first byte past the
/// readable page, filled with spaces (harmless on the console).
fn edge() -> Result<usize, Fail> {
    let p = map(2 * PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(sys::munmap(p + PAGE, PAGE), 0, "munmap the second page");
    fill(p, PAGE, b' ');
    Ok(p + PAGE)
}

/// write() checks the whole buffer first (even for zero bytes), then the console takes
/// it 2048 bytes at a time: a buffer unmapped part way writes the whole chunks before
/// the hole, or fails with EFAULT if the first chunk is not whole.
pub fn write_checks_whole_range() -> T {
    let e = edge()?;
    let w = |buf: usize, len: usize| call(nr::WRITE, [1, buf, len, 0, 0, 0]);
    check_eq!(
        w(e - 100, 200),
        -EFAULT,
        "write of 100 good bytes then 100 unmapped"
    );
    check_eq!(
        w(e - 3000, 4000),
        2048,
        "write of 3000 good bytes then 1000 unmapped"
    );
    check_eq!(
        w(e - 2100, 4000),
        2048,
        "write of 2100 good bytes then 1900 unmapped"
    );
    sys::write(1, b"\n");
    check_eq!(w(KERNEL, 0), -EFAULT, "write(1, kernel address, 0)");
    check_eq!(w(0, 0), 0, "write(1, NULL, 0)");
    check_eq!(w(e, 0), 0, "write(1, unmapped, 0)");
    check_eq!(w(1 << 48, 0), 0, "write(1, end of user space, 0)");
    check_eq!(
        w(e - 10, usize::MAX),
        -EFAULT,
        "write of a count reaching past user space (refused, not cut)"
    );
    check_eq!(
        call(nr::WRITE, [5, KERNEL, 0, 0, 0, 0]),
        -EBADF,
        "write(5, kernel address, 0): the fd first"
    );
    Ok(())
}

/// writev() reads the whole iovec array and checks every segment before it writes
/// anything: a negative length anywhere is EINVAL, a bad range anywhere (a zero-length
/// one too) is EFAULT; the count is an unsigned int at most UIO_MAXIOV (1024).
pub fn writev_checks_every_iovec_first() -> T {
    let e = edge()?;
    let iov = e - PAGE + 2048;
    let text = e - PAGE + 1024;
    let set = |i: usize, base: usize, len: usize| {
        put(iov + 16 * i, base);
        put(iov + 16 * i + 8, len);
    };
    let wv = |cnt: usize| call(nr::WRITEV, [1, iov, cnt, 0, 0, 0]);
    set(0, text, 2);
    set(1, KERNEL, 2);
    check_eq!(wv(2), -EFAULT, "writev [good, kernel]");
    set(1, 0x7_0000_0000, 2);
    check_eq!(wv(2), -EFAULT, "writev [good, unmapped]");
    set(1, text, usize::MAX);
    check_eq!(wv(2), -EINVAL, "writev [good, length -1]");
    set(0, KERNEL, 2);
    check_eq!(wv(2), -EINVAL, "writev [kernel, length -1]: lengths first");
    set(0, text, 1 << 62);
    set(1, text, 1 << 62);
    check_eq!(wv(2), -EFAULT, "writev [2^62 bytes, 2^62 bytes]");
    set(0, text, 2);
    set(1, text, 0);
    set(2, KERNEL, 0);
    check_eq!(
        wv(3),
        -EFAULT,
        "writev [good, empty, empty at a kernel address]"
    );
    set(2, 0, 0);
    check_eq!(wv(3), 2, "writev [good, empty, empty at NULL]");
    set(1, e - 1, 2);
    check_eq!(wv(2), -EFAULT, "writev [good, straddling the hole]");
    set(0, e - 3000, 2048);
    set(1, e - 100, 200);
    check_eq!(wv(2), 2048, "writev [2048 good, straddling]");
    sys::write(1, b"\n");
    set(0, text, 1);
    check_eq!(wv(0), 0, "writev count 0");
    check_eq!(wv(1 << 32), 0, "writev count 1<<32 (an unsigned int: 0)");
    check_eq!(
        wv((1 << 32) + 1),
        1,
        "writev count 1<<32 + 1 (an unsigned int: 1)"
    );
    sys::write(1, b"\n");
    check_eq!(wv(1025), -EINVAL, "writev count 1025");
    check_eq!(wv(usize::MAX), -EINVAL, "writev count -1");
    check_eq!(
        wv(1024),
        -EFAULT,
        "writev of 1024 iovecs running into the hole"
    );
    check_eq!(
        call(nr::WRITEV, [5, iov, 2000, 0, 0, 0]),
        -EBADF,
        "writev(5, count 2000): the fd first"
    );
    check_eq!(
        call(nr::WRITEV, [1, KERNEL, 0, 0, 0, 0]),
        0,
        "writev(kernel array, count 0)"
    );
    check_eq!(
        call(nr::WRITEV, [1, e - 16, 2, 0, 0, 0]),
        -EFAULT,
        "writev of an array straddling the hole"
    );
    set(127, text, usize::MAX); // the array at e - 16 is entry 127 of this one
    check_eq!(
        call(nr::WRITEV, [1, e - 16, 2, 0, 0, 0]),
        -EFAULT,
        "writev [length -1, unreadable]: the array is read whole first"
    );
    Ok(())
}

/// getrandom() checks the whole buffer first (zero bytes included), then returns the
/// bytes it wrote before a page it cannot write.
pub fn getrandom_partial_buffer() -> T {
    let e = edge()?;
    let g = |buf: usize, len: usize| call(nr::GETRANDOM, [buf, len, 0, 0, 0, 0]);
    check_eq!(g(e - 8, 16), 8, "getrandom of 8 good bytes then 8 unmapped");
    check_eq!(
        g(e - 40, 64),
        40,
        "getrandom of 40 good bytes then 24 unmapped"
    );
    check_eq!(g(e - 1, 2), 1, "getrandom of 1 good byte then 1 unmapped");
    check_eq!(g(e, 16), -EFAULT, "getrandom into the hole");
    check_eq!(g(e, 0), 0, "getrandom(unmapped, 0)");
    check_eq!(g(KERNEL, 0), -EFAULT, "getrandom(kernel address, 0)");
    fill(e - 64, 64, 0);
    check_eq!(g(e - 64, 64), 64, "getrandom of the page's last 64 bytes");
    check!(
        (0..64).any(|i| peek(e - 64 + i) != 0),
        "getrandom wrote nothing"
    );
    Ok(())
}

/// A result buffer that runs into an unmapped page gives EFAULT, with what fitted
/// before the hole written (Linux's `copy_to_user`); prlimit64 has set the new limit
/// by then.
pub fn copy_to_user_straddling() -> T {
    let e = edge()?;
    check_eq!(call(nr::UNAME, [e - 100, 0, 0, 0, 0, 0]), -EFAULT, "uname");
    check_eq!(peek(e - 100), b'L', "uname's first byte, before the hole");
    check_eq!(
        call(nr::SYSINFO, [e - 50, 0, 0, 0, 0, 0]),
        -EFAULT,
        "sysinfo"
    );
    for clock in [sys::CLOCK_REALTIME, sys::CLOCK_MONOTONIC].map(|c| c as usize) {
        check_eq!(
            call(nr::CLOCK_GETTIME, [clock, e - 8, 0, 0, 0, 0]),
            -EFAULT,
            "clock_gettime({clock})"
        );
    }
    let root = b"/\0";
    check_eq!(
        call(
            nr::NEWFSTATAT,
            [
                sys::AT_FDCWD as usize,
                root.as_ptr() as usize,
                e - 64,
                0,
                0,
                0
            ]
        ),
        -EFAULT,
        "newfstatat(\"/\")"
    );
    check_eq!(
        call(nr::FSTAT, [1, e - 64, 0, 0, 0, 0]),
        -EFAULT,
        "fstat(1)"
    );
    check_eq!(
        call(nr::IOCTL, [1, sys::TCGETS as usize, e - 20, 0, 0, 0]),
        -EFAULT,
        "ioctl(1, TCGETS)"
    );
    // RLIMIT_CORE: set {4096, inf} with the old value's buffer straddling the hole.
    const CORE: usize = sys::RLIMIT_CORE;
    let lim = e - PAGE;
    put(lim, 4096);
    put(lim + 8, usize::MAX);
    check_eq!(
        call(nr::PRLIMIT64, [0, CORE, lim, e - 8, 0, 0]),
        -EFAULT,
        "prlimit64(CORE, new, old straddling)"
    );
    check_eq!(
        call(nr::PRLIMIT64, [0, CORE, 0, lim + 64, 0, 0]),
        0,
        "prlimit64(CORE, get)"
    );
    // SAFETY: lim + 64 is in the mapped page, 8-byte aligned.
    let cur = unsafe { ((lim + 64) as *const u64).read_volatile() };
    check_eq!(
        cur,
        4096,
        "RLIMIT_CORE after the failed call (set all the same)"
    );
    put(lim, 0);
    check_eq!(
        call(nr::PRLIMIT64, [0, CORE, lim, 0, 0, 0]),
        0,
        "prlimit64(CORE) put back"
    );
    Ok(())
}

/// getrandom's flags are an unsigned int: bits above 31 are not looked at.
pub fn getrandom_flags_unsigned_int() -> T {
    let mut buf = [0u8; 8];
    let p = buf.as_mut_ptr() as usize;
    check_eq!(
        call(nr::GETRANDOM, [p, 8, 1 << 32, 0, 0, 0]),
        8,
        "getrandom(flags 1<<32)"
    );
    check_eq!(
        call(nr::GETRANDOM, [p, 8, (1 << 32) | 8, 0, 0, 0]),
        -EINVAL,
        "getrandom(flags 1<<32 | 8)"
    );
    Ok(())
}

extern "C" fn on_signal(_sig: i32) {}

/// A sleep cut short by a handler writes the time left to `rem`; when `rem` cannot be
/// written the call fails with EFAULT instead of EINTR (Linux `nanosleep_copyout`).
pub fn nanosleep_interrupted_bad_rem() -> T {
    let e = edge()?;
    for (call_nr, rem) in [
        (nr::NANOSLEEP, KERNEL),
        (nr::NANOSLEEP, e - 8),
        (nr::CLOCK_NANOSLEEP, e - 8),
    ] {
        expect_ok(child(|| {
            check_eq!(
                sys::set_handler(sys::SIGUSR1, on_signal as *const () as usize, 0),
                0,
                "sigaction(SIGUSR1)"
            );
            let me = sys::getpid() as i32;
            let sender = child(|| {
                sys::sleep_ms(50);
                sys::kill(me, sys::SIGUSR1);
                Ok(())
            })?;
            let req = Timespec {
                tv_sec: 5,
                tv_nsec: 0,
            };
            let req = &req as *const Timespec as usize;
            let args = if call_nr == nr::NANOSLEEP {
                [req, rem, 0, 0, 0, 0]
            } else {
                [1, 0, req, rem, 0, 0]
            };
            check_eq!(
                call(call_nr, args),
                -EFAULT,
                "syscall {call_nr} interrupted, rem at {rem:#x}"
            );
            expect_ok(sender)
        })?)?;
    }
    Ok(())
}

/// readlinkat's size is an int: 1<<32 is 0 and 1<<31 negative (EINVAL); (1<<32) + 5
/// is 5, so the path is looked up.
pub fn readlinkat_size_is_an_int() -> T {
    let mut buf = [0u8; 16];
    let mut r = |path: &[u8], size: usize| {
        call(
            nr::READLINKAT,
            [
                sys::AT_FDCWD as usize,
                path.as_ptr() as usize,
                buf.as_mut_ptr() as usize,
                size,
                0,
                0,
            ],
        )
    };
    check_eq!(r(b"/\0", 1 << 32), -EINVAL, "readlinkat(size 1<<32)");
    check_eq!(
        r(b"/nonexistent\0", 1 << 31),
        -EINVAL,
        "readlinkat(size 1<<31)"
    );
    check_eq!(
        r(b"/nonexistent\0", (1 << 32) + 5),
        -ENOENT,
        "readlinkat(size 1<<32 + 5)"
    );
    Ok(())
}

// The futex operations and flags, as the `usize` arguments `call` takes.
const WAIT: usize = sys::FUTEX_WAIT as usize;
const WAKE: usize = sys::FUTEX_WAKE as usize;
const LOCK_PI: usize = sys::FUTEX_LOCK_PI as usize;
const WAIT_BITSET: usize = sys::FUTEX_WAIT_BITSET as usize;
const WAKE_BITSET: usize = sys::FUTEX_WAKE_BITSET as usize;
const WAIT_REQUEUE_PI: usize = sys::FUTEX_WAIT_REQUEUE_PI as usize;
const LOCK_PI2: usize = sys::FUTEX_LOCK_PI2 as usize;
const PRIVATE: usize = sys::FUTEX_PRIVATE_FLAG as usize;
const REALTIME: usize = sys::FUTEX_CLOCK_REALTIME as usize;

fn futex(uaddr: usize, op: usize, val: usize, ts: usize) -> isize {
    call(nr::FUTEX, [uaddr, op, val, ts, 0, u32::MAX as usize])
}

/// futex reads and checks its timeout before anything else, for every operation that
/// has one: before the futex address, before FUTEX_CLOCK_REALTIME is refused, before
/// the operation itself.
pub fn futex_timeout_read_first() -> T {
    let e = edge()?;
    let word = e - PAGE;
    put(word, 0);
    let bad = e - PAGE + 64; // {-1, 0}
    put(bad, usize::MAX);
    put(bad + 8, 0);
    let badns = e - PAGE + 128; // {0, -1}
    put(badns, 0);
    put(badns + 8, usize::MAX);
    check_eq!(
        futex(word, WAIT | REALTIME, 1, badns),
        -EINVAL,
        "WAIT|CLOCK_REALTIME, bad timeout"
    );
    check_eq!(
        futex(word, WAIT | REALTIME, 1, KERNEL),
        -EFAULT,
        "WAIT|CLOCK_REALTIME, kernel timeout"
    );
    check_eq!(
        futex(word, WAIT | REALTIME, 1, 0),
        -ENOSYS,
        "WAIT|CLOCK_REALTIME, no timeout"
    );
    check_eq!(
        futex(word, WAKE | REALTIME, 1, KERNEL),
        -ENOSYS,
        "WAKE|CLOCK_REALTIME (no timeout read)"
    );
    check_eq!(
        futex(KERNEL, WAIT, 1, bad),
        -EINVAL,
        "WAIT at a kernel address, bad timeout"
    );
    check_eq!(
        futex(KERNEL, WAIT, 1, KERNEL),
        -EFAULT,
        "WAIT at a kernel address, kernel timeout"
    );
    check_eq!(
        futex(word + 1, WAIT, 1, KERNEL),
        -EFAULT,
        "WAIT misaligned, kernel timeout"
    );
    check_eq!(
        futex(word, WAIT, 1, e - 8),
        -EFAULT,
        "WAIT, timeout straddling the hole"
    );
    check_eq!(
        futex(word, WAIT, 1, bad),
        -EINVAL,
        "WAIT, timeout {{-1, 0}}"
    );
    check_eq!(
        futex(word, LOCK_PI, 1, KERNEL),
        -EFAULT,
        "LOCK_PI, kernel timeout"
    );
    check_eq!(
        futex(word, LOCK_PI, 1, badns),
        -EINVAL,
        "LOCK_PI, bad timeout"
    );
    check_eq!(
        futex(word, LOCK_PI2 | REALTIME, 1, badns),
        -EINVAL,
        "LOCK_PI2|CLOCK_REALTIME, bad timeout"
    );
    check_eq!(
        futex(word, WAIT_REQUEUE_PI | REALTIME, 1, badns),
        -EINVAL,
        "WAIT_REQUEUE_PI|CLOCK_REALTIME, bad timeout"
    );
    check_eq!(
        futex(word, 99, 1, KERNEL),
        -ENOSYS,
        "op 99, kernel timeout (not read)"
    );
    check_eq!(
        call(nr::FUTEX, [word, WAIT_BITSET, 1, badns, 0, 0]),
        -EINVAL,
        "WAIT_BITSET with bitset 0 and a bad timeout"
    );
    Ok(())
}

/// FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME waits until an absolute CLOCK_REALTIME
/// deadline; one in the past times out at once.
pub fn futex_clock_realtime_deadline() -> T {
    let word = 0u32;
    let w = &word as *const u32 as usize;
    let mut now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    check_eq!(
        sys::clock_gettime(0, &mut now),
        0,
        "clock_gettime(REALTIME)"
    );
    for op in [WAIT_BITSET | REALTIME, WAIT_BITSET | REALTIME | PRIVATE] {
        let t0 = now_ns();
        check_eq!(
            futex(w, op, 0, &now as *const Timespec as usize),
            -ETIMEDOUT,
            "op {op:#x} until a past realtime deadline"
        );
        let dt = now_ns() - t0;
        check!(
            dt < 100_000_000,
            "op {op:#x}: a past deadline waited {dt} ns"
        );
    }
    check_eq!(
        sys::clock_gettime(0, &mut now),
        0,
        "clock_gettime(REALTIME)"
    );
    let mut deadline = now;
    deadline.tv_nsec += 20_000_000;
    if deadline.tv_nsec >= 1_000_000_000 {
        deadline.tv_nsec -= 1_000_000_000;
        deadline.tv_sec += 1;
    }
    let t0 = now_ns();
    check_eq!(
        futex(
            w,
            WAIT_BITSET | REALTIME | PRIVATE,
            0,
            &deadline as *const Timespec as usize
        ),
        -ETIMEDOUT,
        "WAIT_BITSET|CLOCK_REALTIME until now + 20 ms"
    );
    let dt = now_ns() - t0;
    check!(
        (15_000_000..2_000_000_000).contains(&dt),
        "WAIT_BITSET|CLOCK_REALTIME until now + 20 ms returned after {dt} ns"
    );
    Ok(())
}

/// Which pages a futex may be on: a private futex is only an address (a wake looks at
/// no memory; a wait reads the word); a shared one needs the page, and a read-only
/// page of private memory is refused (EFAULT) since it can never change, while a
/// read-only shared page is fine.
pub fn futex_page_access() -> T {
    let ro = map(PAGE, sys::PROT_READ, sys::MAP_PRIVATE)?;
    let none = map(PAGE, sys::PROT_NONE, sys::MAP_PRIVATE)?;
    let sro = map(PAGE, sys::PROT_READ, sys::MAP_SHARED)?;
    let gone = map(PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(sys::munmap(gone, PAGE), 0, "munmap");
    let cases: [(&str, usize, [isize; 5]); 4] = [
        // WAIT, WAIT|PRIVATE, WAKE, WAKE|PRIVATE, WAKE_BITSET
        (
            "private read-only",
            ro,
            [-EFAULT, -EAGAIN, -EFAULT, 0, -EFAULT],
        ),
        ("PROT_NONE", none, [-EFAULT, -EFAULT, -EFAULT, 0, -EFAULT]),
        ("shared read-only", sro, [-EAGAIN, -EAGAIN, 0, 0, 0]),
        ("unmapped", gone, [-EFAULT, -EFAULT, -EFAULT, 0, -EFAULT]),
    ];
    for (what, a, want) in cases {
        let ops = [WAIT, WAIT | PRIVATE, WAKE, WAKE | PRIVATE, WAKE_BITSET];
        for (op, want) in ops.iter().zip(want) {
            check_eq!(
                futex(a, *op, 1, 0),
                want,
                "futex op {op:#x} on a {what} page"
            );
        }
    }
    for a in [ro, none, sro] {
        sys::munmap(a, PAGE);
    }
    Ok(())
}

/// The `st_ino` `newfstatat` reports for `path`.
fn stat_ino(path: &[u8]) -> Result<u64, Fail> {
    let mut st = sys::Stat::default();
    check_eq!(
        call(
            nr::NEWFSTATAT,
            [
                sys::AT_FDCWD as usize,
                path.as_ptr() as usize,
                &mut st as *mut sys::Stat as usize,
                0,
                0,
                0
            ]
        ),
        0,
        "newfstatat({:?})",
        core::str::from_utf8(path).unwrap_or("?")
    );
    Ok(st.st_ino)
}

/// Inode numbers are small numbers, the same for every stat of one file, different
/// for different files: never a kernel address.
pub fn stat_ino_not_a_kernel_address() -> T {
    let me = crate::util::self_path();
    let a = stat_ino(me)?;
    let b = stat_ino(me)?;
    let root = stat_ino(b"/\0")?;
    check_eq!(a, b, "st_ino of one file, twice");
    for (what, ino) in [("this program", a), ("/", root)] {
        check!(
            ino != 0 && ino < 1 << 32,
            "st_ino of {what} is {ino:#x}: not a small number"
        );
    }
    check!(a != root, "this program and / share st_ino {a}");
    let mut st = sys::Stat::default();
    check_eq!(
        call(
            nr::FSTAT,
            [1, &mut st as *mut sys::Stat as usize, 0, 0, 0, 0]
        ),
        0,
        "fstat(1)"
    );
    check!(st.st_ino < 1 << 32, "fstat(1)'s st_ino is {:#x}", st.st_ino);
    Ok(())
}
