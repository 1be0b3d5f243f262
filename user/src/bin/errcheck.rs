//! `errcheck SEED N [verbose]`: a differential syscall fuzzer. One process issues N
//! seeded random calls of the syscalls forkos implements, with arguments drawn from
//! the classes that matter — NULL, kernel and unmapped pointers, misaligned ones, good
//! buffers; valid, invalid and unknown flags; sizes that are zero, odd, huge — and only
//! calls that leave the process as it was (no exit, no new program, no unmapping of
//! itself). It prints a digest of the results (the errno, or just "success") every 250
//! calls. The same binary run on Linux must print the same digests; `verbose` prints
//! every call instead, to find where they part.
//!
//! `scripts/errcheck-on-linux` compares the two; the test suite compares forkos with
//! digests recorded from Linux 6.1.
#![no_std]
#![no_main]

use forkos_user::rng::Rng;
use forkos_user::sys::{self, nr};

/// The terminal requests, the `*at` directory and flags, as the `usize` arguments are.
const TCGETS: usize = sys::TCGETS as usize;
const TCSETS: usize = sys::TCSETS as usize;
const TIOCGWINSZ: usize = sys::TIOCGWINSZ as usize;
const AT_FDCWD: usize = sys::AT_FDCWD as usize;
const AT_SYMLINK_NOFOLLOW: usize = sys::AT_SYMLINK_NOFOLLOW as usize;
const AT_NO_AUTOMOUNT: usize = sys::AT_NO_AUTOMOUNT as usize;
const AT_EMPTY_PATH: usize = sys::AT_EMPTY_PATH as usize;
use forkos_user::{entry, println};

/// Buffers the calls may read and write: 16 KiB of zeroes, refilled before every call.
#[repr(C, align(4096))]
struct Scratch([u8; 16384]);
static mut SCRATCH: Scratch = Scratch([0; 16384]);

fn scratch() -> usize {
    core::ptr::addr_of_mut!(SCRATCH) as usize
}

/// Strings for path arguments, NUL-terminated, in the scratch area's last page.
const PATHS: &[&[u8]] = &[
    b"\0",
    b"/errcheck\0",
    b"/no/such/file\0",
    b"/dev\0",
    b"errcheck\0",
    b"/errcheck/x\0",
    b"//errcheck\0",
    b"/dev/../errcheck\0",
];

/// A pointer argument.
fn ptr(r: &mut Rng) -> usize {
    match r.below(8) {
        0 => 0,
        1 => 0xffff_0000_0000_1000,                 // kernel
        2 => 0x10,                                  // near NULL
        3 => 0x7_0000_0000,                         // unmapped
        4 => scratch() + 1,                         // misaligned
        5 => usize::MAX - 7,                        // wraps around
        _ => scratch() + 64 * r.below(16) as usize, // good
    }
}

/// A path argument: one of PATHS, or a bad pointer.
fn path(r: &mut Rng) -> usize {
    if r.below(4) == 0 {
        return ptr(r);
    }
    let i = r.below(PATHS.len() as u64) as usize;
    let at = scratch() + 12288 + 64 * i;
    // SAFETY: the last page of SCRATCH holds the paths, 64 bytes each.
    unsafe { core::ptr::copy_nonoverlapping(PATHS[i].as_ptr(), at as *mut u8, PATHS[i].len()) };
    at
}

/// A flags argument: 0, a small set, a random word, or all bits.
fn flags(r: &mut Rng) -> usize {
    match r.below(5) {
        0 => 0,
        1 => r.below(16) as usize,
        2 => 1 << r.below(32),
        3 => r.next_u64() as usize,
        _ => usize::MAX,
    }
}

/// A size or count argument.
fn size(r: &mut Rng) -> usize {
    r.pick(&[
        0,
        1,
        7,
        8,
        16,
        24,
        64,
        88,
        4096,
        1 << 20,
        usize::MAX,
        0x8000_0000,
    ])
}

/// A small integer (fds, signal numbers, clock ids, resources, "how").
fn small(r: &mut Rng) -> usize {
    (r.below(80) as i64 - 10) as usize
}

/// A pid argument (never one that names a real other process: there is none).
fn pid(r: &mut Rng) -> usize {
    r.pick(&[
        0,
        1,
        99999,
        (-99999i64) as usize,
        0x7fff_ffff,
        (-2i64) as usize,
    ])
}

/// A timespec: {0, 0}, or an invalid one, or a bad pointer.
fn timespec(r: &mut Rng) -> usize {
    let t = scratch() + 8192;
    let (s, ns): (i64, i64) = r.pick(&[(0, 0), (-1, 0), (0, 1_000_000_000), (0, -1)]);
    // SAFETY: inside SCRATCH.
    unsafe {
        (t as *mut i64).write(s);
        ((t + 8) as *mut i64).write(ns);
    }
    if r.below(4) == 0 {
        ptr(r)
    } else {
        t
    }
}

/// A directory argument of the `*at` calls: the working directory, the console, a
/// closed descriptor, or -1.
fn dirfd(r: &mut Rng) -> usize {
    r.pick(&[AT_FDCWD, AT_FDCWD, 0, 5, usize::MAX])
}

/// Two timespecs for `utimensat`: now, omitted, a time, or an invalid one each.
fn timespec2(r: &mut Rng) -> usize {
    let t = scratch() + 8192;
    for i in 0..2 {
        let ns: i64 = r.pick(&[(1 << 30) - 1, (1 << 30) - 2, 5, 1_000_000_000, -1]);
        // SAFETY: inside SCRATCH.
        unsafe {
            ((t + 16 * i) as *mut i64).write(1000);
            ((t + 16 * i + 8) as *mut i64).write(ns);
        }
    }
    t
}

/// A mapping the calls may change: 4 pages at a fixed address.
const AREA: usize = 0x60_0000_0000;

/// One call: its number and arguments, or None to skip this draw.
fn draw(r: &mut Rng) -> (usize, [usize; 6]) {
    if r.below(6) == 0 {
        return draw_uaccess(r);
    }
    let mut a = [0usize; 6];
    // Any implemented call but those that would end or unmake this process.
    let n = loop {
        let n = r.pick(sys::IMPLEMENTED);
        if ![
            nr::EXIT,
            nr::EXIT_GROUP,
            nr::CLONE,
            nr::MUNMAP,
            nr::BRK,
            nr::RT_SIGRETURN,
            nr::SET_TID_ADDRESS,
        ]
        .contains(&n)
        {
            break n;
        }
    };
    match n {
        nr::IOCTL => {
            a = [
                small(r),
                r.pick(&[TCGETS, TIOCGWINSZ, TCSETS, 0x1234, 0]),
                ptr(r),
                0,
                0,
                0,
            ];
            // Never change the console's settings (a zero termios would hang it up).
            if a[1] == TCSETS && a[0] <= 2 {
                a[0] = 3;
            }
        }
        nr::READLINKAT | nr::NEWFSTATAT => {
            let dirfd = r.pick(&[AT_FDCWD, 0, 1, 5, usize::MAX]);
            a = [
                dirfd,
                path(r),
                ptr(r),
                r.pick(&[
                    0,
                    AT_EMPTY_PATH,
                    AT_SYMLINK_NOFOLLOW,
                    AT_NO_AUTOMOUNT,
                    1,
                    0x2000,
                ]),
                0,
                0,
            ];
            if n == nr::READLINKAT {
                a[3] = size(r);
            }
        }
        nr::FSTAT => a = [small(r), ptr(r), 0, 0, 0, 0],
        // Files (issue 14). Never one that could wait for the console's input, and
        // every new descriptor is closed again after the call.
        nr::OPENAT => {
            let fl = r.pick(&[0, 0o40000, 0o100000, 0o10000000, 0o2000000, 0o400000]);
            a = [dirfd(r), path(r), fl, 0, 0, 0];
        }
        nr::CLOSE => {
            a = [
                r.pick(&[3, 7, 1000, usize::MAX, (1 << 32) | 9]),
                0,
                0,
                0,
                0,
                0,
            ]
        }
        nr::DUP => a = [r.pick(&[1, 5, usize::MAX, (1 << 32) | 1]), 0, 0, 0, 0, 0],
        nr::DUP3 => {
            a = [
                r.pick(&[1, 5, usize::MAX]),
                r.pick(&[1, 7, 4096, (1 << 32) | 8, usize::MAX]),
                r.pick(&[0, 0o2000000, 1, usize::MAX]),
                0,
                0,
                0,
            ]
        }
        nr::FCNTL => {
            // F_DUPFD, F_GETFD, F_GETFL, F_DUPFD_CLOEXEC, and unknown commands.
            let cmd = r.pick(&[0, 1, 3, 1030, 9999, usize::MAX]);
            a = [
                r.pick(&[1, 5, usize::MAX]),
                cmd,
                r.pick(&[0, 3, 4096]),
                0,
                0,
                0,
            ];
        }
        nr::GETCWD => a = [ptr(r), size(r), 0, 0, 0, 0],
        nr::GETDENTS64 => a = [r.pick(&[0, 1, 5, usize::MAX]), ptr(r), size(r), 0, 0, 0],
        nr::LSEEK => {
            a = [
                r.pick(&[1, 5, usize::MAX]),
                r.pick(&[0, 1, usize::MAX]),
                r.pick(&[0, 1, 2, 3, 4, 5, usize::MAX]),
                0,
                0,
                0,
            ]
        }
        nr::READV => a = [3 + r.below(8) as usize, ptr(r), size(r), 0, 0, 0],
        nr::PREAD64 | nr::PWRITE64 => {
            a = [
                r.pick(&[1, 5, usize::MAX]),
                ptr(r),
                size(r),
                r.pick(&[0, 8, usize::MAX]),
                0,
                0,
            ]
        }
        nr::SENDFILE => {
            // Never from the console, which would wait for input.
            let off = ptr(r);
            a = [
                r.pick(&[1, 5]),
                r.pick(&[5, usize::MAX, (1 << 32) | 5]),
                r.pick(&[0, off]),
                size(r),
                0,
                0,
            ]
        }
        nr::CHDIR => a = [path(r), 0, 0, 0, 0, 0],
        nr::FCHDIR => a = [r.pick(&[0, 1, 5, usize::MAX]), 0, 0, 0, 0, 0],
        nr::UMASK => a = [flags(r), 0, 0, 0, 0, 0],
        nr::MKDIRAT => {
            a = [
                dirfd(r),
                path(r),
                r.pick(&[0o755, 0o7777, usize::MAX]),
                0,
                0,
                0,
            ]
        }
        nr::UNLINKAT => {
            let fl = r.pick(&[0, 0x200, 0x200, 1, usize::MAX]);
            a = [dirfd(r), path(r), fl, 0, 0, 0];
        }
        nr::SYMLINKAT => a = [path(r), dirfd(r), path(r), 0, 0, 0],
        nr::LINKAT => {
            let fl = r.pick(&[0, 0x400, AT_EMPTY_PATH, 1]);
            a = [dirfd(r), path(r), dirfd(r), path(r), fl, 0];
        }
        nr::RENAMEAT | nr::RENAMEAT2 => {
            let fl = r.pick(&[0, 0, 1, 2, 4, 3, 8]);
            a = [dirfd(r), path(r), dirfd(r), path(r), fl, 0];
        }
        nr::FTRUNCATE => {
            a = [
                r.pick(&[0, 1, 5, usize::MAX]),
                r.pick(&[0, 100, usize::MAX]),
                0,
                0,
                0,
                0,
            ]
        }
        nr::FACCESSAT => {
            a = [
                dirfd(r),
                path(r),
                r.pick(&[0, 1, 2, 4, 7, 8, usize::MAX]),
                0,
                0,
                0,
            ]
        }
        nr::FCHMOD => a = [r.pick(&[5, usize::MAX]), 0o644, 0, 0, 0, 0],
        nr::FCHMODAT => a = [dirfd(r), path(r), r.pick(&[0o755, 0o644]), 0, 0, 0],
        nr::FCHOWN => a = [r.pick(&[5, usize::MAX]), 0, 0, 0, 0, 0],
        nr::UTIMENSAT => {
            let p = if r.below(3) == 0 { 0 } else { path(r) };
            let (t, bad) = (timespec2(r), ptr(r));
            let times = r.pick(&[0, t, bad]);
            let fl = r.pick(&[0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, 1]);
            a = [dirfd(r), p, times, fl, 0, 0];
        }
        nr::STATX => {
            let fl = r.pick(&[0, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, 0x6000, 0x2000, 1]);
            let mask = r.pick(&[0, 0x7ff, 0x8000_0000, usize::MAX]);
            a = [dirfd(r), path(r), fl, mask, ptr(r), 0];
        }
        // Not the console: a read would wait for input.
        nr::READ => a = [3 + r.below(8) as usize, ptr(r), size(r), 0, 0, 0],
        // Never to the console: the output would differ in the log, not in the digest.
        nr::WRITE | nr::WRITEV => a = [3 + r.below(8) as usize, ptr(r), size(r), 0, 0, 0],
        nr::WAITID => a = [small(r), pid(r), ptr(r), flags(r), ptr(r), 0],
        nr::WAIT4 => a = [pid(r), ptr(r), flags(r), ptr(r), 0, 0],
        // Not a head at the very top of memory: Linux's get_robust_list then answers
        // oddly (it returned -8, the head, where EFAULT was due).
        nr::SET_ROBUST_LIST => a = [ptr(r).min(1 << 48), size(r), 0, 0, 0, 0],
        nr::GET_ROBUST_LIST => a = [pid(r), ptr(r), ptr(r), 0, 0, 0],
        nr::FUTEX => {
            // Never a wait that could block: the word is 0 and WAIT expects 1, or the
            // timeout is zero or invalid.
            // Not REQUEUE, WAKE_OP or the PI operations, which forkos lacks (ENOSYS).
            let op = r.pick(&[0, 1, 9, 10, 128, 129, 137, 138, 256 + 9, 256 + 1, 99]);
            a = [ptr(r), op, 1, timespec(r), ptr(r), flags(r)];
        }
        nr::NANOSLEEP => a = [timespec(r), ptr(r), 0, 0, 0, 0],
        nr::CLOCK_GETTIME => a = [small(r), ptr(r), 0, 0, 0, 0],
        nr::CLOCK_NANOSLEEP => {
            a = [small(r), r.pick(&[0, 2, 3]), timespec(r), ptr(r), 0, 0];
            // An absolute sleep to time 0 returns at once; any other clock's is refused.
        }
        nr::KILL => a = [pid(r), small(r), 0, 0, 0, 0],
        nr::TGKILL => a = [pid(r), pid(r), small(r), 0, 0, 0],
        nr::TKILL => a = [pid(r), small(r), 0, 0, 0, 0],
        nr::RT_SIGACTION => {
            // Only SIG_DFL or SIG_IGN as the new action: no handler ever runs.
            let act = scratch() + 9216;
            // SAFETY: inside SCRATCH.
            unsafe {
                (act as *mut u64).write(r.below(2));
                ((act + 8) as *mut u64).write(r.next_u64() & 0x0000_00ff);
                ((act + 24) as *mut u64).write(r.next_u64());
            }
            let new = if r.below(3) == 0 { ptr(r) } else { act };
            a = [small(r), new, ptr(r), r.pick(&[8, 8, 8, 4, 16]), 0, 0];
        }
        nr::RT_SIGPROCMASK => a = [small(r), ptr(r), ptr(r), r.pick(&[8, 8, 4]), 0, 0],
        nr::UNAME | nr::SYSINFO => a = [ptr(r), 0, 0, 0, 0, 0],
        nr::MMAP => {
            // Not PROT_WRITE|PROT_EXEC, which forkos refuses on purpose.
            let prot = r.pick(&[0, 1, 2, 3, 4, 5, 8]);
            // Not MAP_HUGETLB: Linux's hugetlbfs is not modelled.
            let fl = flags(r) & 0x1f_ffff & !sys::MAP_HUGETLB;
            let fd = r.pick(&[usize::MAX, 3, 0]);
            a = [
                r.pick(&[0, AREA + 1, 1 << 40]),
                size(r),
                prot,
                fl,
                fd,
                r.pick(&[0, 1, 4096]),
            ];
        }
        nr::MPROTECT | nr::MADVISE => {
            let at = AREA + r.pick(&[0, 1, 4096, 8192, 0x10000]);
            // Not PROT_WRITE|PROT_EXEC, which forkos refuses on purpose, and only the
            // madvise advice forkos knows (plus some that no kernel knows).
            let third = if n == nr::MPROTECT {
                r.pick(&[0, 1, 2, 3, 4, 5, 8, 0x1000000, 0x3000000])
            } else {
                r.pick(&[0, 1, 2, 3, 4, 8, 12, 13, 14, 15, 16, 17, 20, 21, 99, 1000])
            };
            a = [
                at,
                r.pick(&[0, 1, 4096, 12288, 16384, 1 << 30]),
                third,
                0,
                0,
                0,
            ];
        }
        nr::PRLIMIT64 => {
            let lim = scratch() + 10240;
            // SAFETY: inside SCRATCH.
            // Only limits that are refused (soft above hard): a limit that took effect
            // would change what later calls do on Linux, which enforces them.
            unsafe {
                (lim as *mut u64).write(r.pick(&[4096, u64::MAX]));
                ((lim + 8) as *mut u64).write(r.pick(&[0, 1024]));
            }
            let new = if r.below(2) == 0 { 0 } else { lim };
            a = [pid(r), small(r), new, ptr(r), 0, 0];
        }
        nr::GETRANDOM => a = [ptr(r), r.pick(&[0, 1, 16, 4096]), flags(r) & 0xff, 0, 0, 0],
        nr::CLONE3 => {
            a = [
                r.pick(&[0, 0x10, 0xffff_0000_0000_1000]),
                size(r),
                0,
                0,
                0,
                0,
            ]
        }
        nr::EXECVE => {
            // Never a real program (that would replace this one): no path to /errcheck.
            let mut p = path(r);
            let area = scratch() + 12288;
            if (area..area + 4096).contains(&p) && [1, 4, 6, 7].contains(&((p - area) / 64)) {
                p = area + 64 * 2; // "/no/such/file"
                                   // SAFETY: inside SCRATCH.
                unsafe {
                    core::ptr::copy_nonoverlapping(PATHS[2].as_ptr(), p as *mut u8, PATHS[2].len())
                };
            }
            a = [p, ptr(r), ptr(r), 0, 0, 0];
        }
        // Issue 14's small calls. mount never names a file system that exists (no
        // "proc" among the strings), so nothing is ever mounted; rseq never has the
        // one length that registers.
        nr::MOUNT => {
            let data = ptr(r);
            a = [
                path(r),
                path(r),
                path(r),
                r.pick(&[0, 1 << 31, 0xC0ED_0000]),
                r.pick(&[0, data]),
                0,
            ]
        }
        // Nothing is ever mounted (above), and no path names "/": umount2 only fails.
        nr::UMOUNT2 => {
            a = [
                path(r),
                r.pick(&[0, 1, 2, 4, 6, 8, 16, usize::MAX]),
                0,
                0,
                0,
                0,
            ]
        }
        nr::TIMES => a = [ptr(r), 0, 0, 0, 0, 0],
        nr::GETRUSAGE => {
            a = [
                r.pick(&[0, 1, usize::MAX, 2, (-2i64) as usize, 1 << 32]),
                ptr(r),
                0,
                0,
                0,
                0,
            ]
        }
        nr::GETGROUPS => a = [r.pick(&[0, 1, 16, usize::MAX, 1 << 32]), ptr(r), 0, 0, 0, 0],
        nr::PRCTL => {
            a = [
                r.pick(&[15, 16, 0, 1000, 0x7fff_ffff, usize::MAX]),
                ptr(r),
                0,
                0,
                0,
                0,
            ]
        }
        nr::RSEQ => {
            a = [
                ptr(r),
                r.pick(&[0, 16, 33, 64]),
                r.pick(&[0, 1, 2, 3]),
                r.pick(&[0, 0x5305_3053]),
                0,
                0,
            ]
        }
        _ => {}
    }
    (n, a)
}

/// The first byte past [`AREA`]: the page there is never mapped, so a buffer ending
/// past it runs into a hole part way.
const EDGE: usize = AREA + 4 * 4096;

/// Bytes the console may print: a transfer that succeeds on fd 1 prints only empty
/// lines, which leave the digest lines alone.
static NEWLINES: [u8; 256] = [b'\n'; 256];

/// A pointer that is bad whatever the length: NULL, near NULL, a kernel address,
/// unmapped, or one whose range wraps around.
fn bad_ptr(r: &mut Rng) -> usize {
    r.pick(&[
        0,
        0x10,
        0xffff_0000_0000_1000,
        0x7_0000_0000,
        usize::MAX - 7,
    ])
}

/// A user buffer and a length, for a transfer that is wholly good (at most 64 of the
/// empty lines), has a bad pointer (with lengths from zero to past user space), runs
/// into the hole after [`EDGE`], or reaches past user space from a good start. None of
/// them prints anything but empty lines, whichever kernel and address layout.
fn ubuf(r: &mut Rng) -> (usize, usize) {
    let good = NEWLINES.as_ptr() as usize;
    match r.below(4) {
        0 => (good + r.below(64) as usize, r.pick(&[0, 1, 8, 64])),
        1 => (
            bad_ptr(r),
            r.pick(&[0, 1, 8, 4096, 1 << 47, 1 << 62, usize::MAX]),
        ),
        2 => {
            let back = r.pick(&[1, 8, 100]);
            (EDGE - back, back + r.pick(&[0, 1, 100]))
        }
        _ => (good, r.pick(&[1 << 48, 1 << 62, usize::MAX])),
    }
}

/// Calls about the ranges of user memory (issue 11): write and writev to the console
/// with good, bad, straddling and huge buffers and iovec arrays and odd iovec counts,
/// zero-length transfers with bad pointers, getrandom into a buffer that runs into a
/// hole, result buffers straddling the hole, and futex timeouts that are bad in every
/// way (never a valid one for the PI operations, which forkos lacks: Linux would run
/// them).
fn draw_uaccess(r: &mut Rng) -> (usize, [usize; 6]) {
    // The last page of AREA holds the console's empty lines too, in case a write
    // reads it.
    // SAFETY: AREA is mapped read-write whenever a call is drawn (mprotect and madvise
    // calls put it back at once).
    unsafe { core::ptr::write_bytes((EDGE - 4096) as *mut u8, b'\n', 4096) };
    match r.below(5) {
        0 => {
            let (buf, len) = ubuf(r);
            (nr::WRITE, [1, buf, len, 0, 0, 0])
        }
        1 => {
            // Up to four iovecs in the scratch area (zeroed before every call).
            let n = r.below(5) as usize;
            let vec = scratch() + 11264;
            for i in 0..n {
                let (mut base, mut len) = ubuf(r);
                if r.below(6) == 0 {
                    // Negative as a ssize_t.
                    len = r.pick(&[usize::MAX, 1 << 63]);
                }
                if r.below(6) == 0 {
                    len = 0;
                    base = r.pick(&[base, 0]);
                }
                // SAFETY: inside SCRATCH, 16 bytes per iovec.
                unsafe {
                    ((vec + 16 * i) as *mut usize).write(base);
                    ((vec + 16 * i + 8) as *mut usize).write(len);
                }
            }
            let iov = match r.below(6) {
                0 => bad_ptr(r),
                1 => {
                    // An array whose second iovec is in the hole.
                    // SAFETY: inside AREA, mapped read-write.
                    unsafe {
                        ((EDGE - 16) as *mut usize).write(NEWLINES.as_ptr() as usize);
                        ((EDGE - 8) as *mut usize).write(8);
                    }
                    EDGE - 16
                }
                _ => vec,
            };
            let count = r.pick(&[n, n, n, 0, 1025, (1 << 32) | n, usize::MAX, 1 << 32]);
            (nr::WRITEV, [1, iov, count, 0, 0, 0])
        }
        2 => {
            let (buf, len) = if r.below(2) == 0 {
                (bad_ptr(r), 0)
            } else {
                let back = r.pick(&[1, 8, 40, 64]);
                (EDGE - back, back + r.pick(&[0, 1, 64]))
            };
            (nr::GETRANDOM, [buf, len, 0, 0, 0, 0])
        }
        3 => {
            // A result buffer running into the hole, a byte to a page before it.
            let at = EDGE - r.pick(&[1, 8, 20, 64, 100]);
            match r.below(7) {
                0 => (nr::UNAME, [at, 0, 0, 0, 0, 0]),
                1 => (nr::SYSINFO, [at, 0, 0, 0, 0, 0]),
                2 => (nr::CLOCK_GETTIME, [r.below(2) as usize, at, 0, 0, 0, 0]),
                3 => (nr::FSTAT, [1, at, 0, 0, 0, 0]),
                4 => (nr::IOCTL, [1, r.pick(&[TCGETS, TIOCGWINSZ]), at, 0, 0, 0]),
                5 => (
                    nr::PRLIMIT64,
                    [0, r.below(sys::RLIM_NLIMITS as u64) as usize, 0, at, 0, 0],
                ),
                _ => {
                    let p = scratch() + 12288 + 64;
                    // SAFETY: the last page of SCRATCH holds the paths.
                    unsafe {
                        core::ptr::copy_nonoverlapping(
                            PATHS[1].as_ptr(),
                            p as *mut u8,
                            PATHS[1].len(),
                        )
                    };
                    (nr::NEWFSTATAT, [AT_FDCWD, p, at, 0, 0, 0])
                }
            }
        }
        _ => {
            const RT: usize = 256;
            let op = r.pick(&[0, RT, 9, 9 | RT, 6, 13, 13 | RT, 11, 11 | RT, 1 | RT, 99])
                | r.pick(&[0, 128]);
            // A timeout that is never valid, or (for WAIT and WAIT_BITSET only, which
            // cannot block: the word is 0 and they expect 1) a valid {0, 0}.
            let t = scratch() + 8192;
            let (s, ns): (i64, i64) = r.pick(&[(-1, 0), (0, 1_000_000_000), (0, -1), (0, 0)]);
            let blocks = [6, 13, 11].contains(&(op & 15));
            let (s, ns) = if blocks && (s, ns) == (0, 0) {
                (-1, 0)
            } else {
                (s, ns)
            };
            // SAFETY: inside SCRATCH.
            unsafe {
                (t as *mut i64).write(s);
                ((t + 8) as *mut i64).write(ns);
            }
            let ts = match r.below(4) {
                0 => r.pick(&[0xffff_0000_0000_1000, EDGE - 8, 0x10]),
                1 if !blocks => 0,
                _ => t,
            };
            let word = scratch() + 9000;
            let uaddr = if r.below(3) == 0 { bad_ptr(r) } else { word };
            (
                nr::FUTEX,
                [uaddr, op, 1, ts, 0, r.pick(&[0, u32::MAX as usize])],
            )
        }
    }
}

fn main(args: &[&str]) -> i32 {
    let mut it = args.iter().skip_while(|a| a.parse::<u64>().is_err());
    let seed: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let count: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let verbose = args.last() == Some(&"verbose");
    println!("errcheck: seed {seed}, {count} calls");
    // The area mprotect and madvise work on.
    let area = sys::mmap(
        AREA,
        4 * 4096,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED,
        -1,
        0,
    );
    if area != AREA as isize {
        println!("errcheck: cannot map the work area: {area}");
        return 1;
    }
    let mut rng = Rng(seed);
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..count {
        // SAFETY: SCRATCH is ours; zero it so every call starts from the same bytes.
        unsafe { core::ptr::write_bytes(core::ptr::addr_of_mut!(SCRATCH) as *mut u8, 0, 12288) };
        let (n, a) = draw(&mut rng);
        // SAFETY: fuzzing: the kernel must reject whatever is wrong; the calls drawn
        // never end this process or unmap its own memory.
        let ret = unsafe { sys::syscall6(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
        // Addresses and counts differ between kernels; errors must not.
        let outcome = if ret < 0 { ret } else { 0 };
        // A new mapping goes again (it may be at address 0: root may map there).
        if n == nr::MMAP && ret >= 0 && ret as usize != AREA {
            sys::munmap(ret as usize, a[1]);
        }
        if n == nr::MPROTECT || n == nr::MADVISE {
            // Put the area back as it was.
            sys::mmap(
                AREA,
                4 * 4096,
                sys::PROT_READ | sys::PROT_WRITE,
                sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED,
                -1,
                0,
            );
        }
        // A new descriptor goes again (its number may differ: fds are not compared).
        if [nr::OPENAT, nr::DUP, nr::DUP3, nr::FCNTL].contains(&n) && ret > 2 {
            sys::syscall(nr::CLOSE, [ret as usize, 0, 0, 0, 0, 0]);
        }
        if n == nr::RT_SIGPROCMASK {
            sys::sigprocmask(sys::SIG_SETMASK, Some(0), None);
        }
        if verbose {
            println!(
                "{i}: {n}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {outcome}",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
        }
        digest = (digest ^ (n as u64) ^ ((outcome as u64) << 16)).wrapping_mul(0x100_0000_01b3);
        if (i + 1) % 250 == 0 {
            println!(
                "errcheck: calls {}-{}: digest {digest:016x}",
                i - 248,
                i + 1
            );
        }
    }
    println!("errcheck: done");
    0
}

entry!(main);
