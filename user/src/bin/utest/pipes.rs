//! Pipes (Linux `fs/pipe.c`) and waiting on them (`fs/select.c`): `pipe2` and its flags,
//! end of file after the last writer, `SIGPIPE`/`EPIPE` after the last reader, the 64 KiB
//! buffer, `O_NONBLOCK`, atomic writes of up to `PIPE_BUF` bytes, `ppoll`, interrupted
//! reads, and a three-process pipeline. Every test closes what it opened.

use core::sync::atomic::{AtomicI32, Ordering::SeqCst};

use forkos_user::sys::{self, nr, *};

use crate::util::*;

const ESPIPE: isize = 29;
const EPIPE: isize = 32;
const SIGPIPE: i32 = 13;
const S_IFIFO: u32 = 0o010000;
const F_SETPIPE_SZ: usize = 1031;
const F_GETPIPE_SZ: usize = 1032;
const EBUSY: isize = 16;
const FIONREAD: usize = 0x541B;
const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const POLLNVAL: i16 = 0x20;

fn call(n: usize, a: [usize; 6]) -> isize {
    sys::syscall(n, a)
}

/// `pipe2(fds, flags)`: the raw result and the two descriptors.
fn pipe2(flags: u32) -> (isize, [i32; 2]) {
    let mut fds = [-1i32; 2];
    let r = call(
        nr::PIPE2,
        [fds.as_mut_ptr() as usize, flags as usize, 0, 0, 0, 0],
    );
    (r, fds)
}

/// A pipe, which must be made: `[read end, write end]`.
fn pipe(flags: u32) -> Result<[i32; 2], Fail> {
    let (r, fds) = pipe2(flags);
    check_eq!(r, 0, "pipe2(0x{flags:x})");
    Ok(fds)
}

use forkos_user::sys::{close, fcntl, read, write};
fn nread(fd: i32) -> isize {
    let mut n = -1i32;
    let r = call(
        nr::IOCTL,
        [fd as usize, FIONREAD, &mut n as *mut i32 as usize, 0, 0, 0],
    );
    if r < 0 {
        r
    } else {
        n as isize
    }
}
fn dup3(old: i32, new: i32) -> isize {
    call(nr::DUP3, [old as usize, new as usize, 0, 0, 0, 0])
}

/// Write all of `buf`, in as many writes as it takes; the bytes written.
fn write_all(fd: i32, buf: &[u8]) -> isize {
    let mut done = 0;
    while done < buf.len() {
        let r = write(fd, &buf[done..]);
        if r <= 0 {
            return r;
        }
        done += r as usize;
    }
    done as isize
}

/// Read until end of file, handing each piece to `f`; the total, or a negative error.
fn read_to_end(fd: i32, mut f: impl FnMut(&[u8])) -> isize {
    let mut buf = [0u8; 3000];
    let mut total = 0;
    loop {
        let r = read(fd, &mut buf);
        if r < 0 {
            return r;
        }
        if r == 0 {
            return total;
        }
        f(&buf[..r as usize]);
        total += r;
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

/// `ppoll(fds, n, timeout, sigmask, 8)`.
fn ppoll(fds: &mut [PollFd], ts: Option<&mut Timespec>, mask: Option<&u64>) -> isize {
    call(
        nr::PPOLL,
        [
            fds.as_mut_ptr() as usize,
            fds.len(),
            ts.map_or(0, |t| t as *mut Timespec as usize),
            mask.map_or(0, |m| m as *const u64 as usize),
            8,
            0,
        ],
    )
}

fn pfd(fd: i32, events: i16) -> PollFd {
    PollFd {
        fd,
        events,
        revents: -1,
    }
}

/// The last writer's close is end of file, after the bytes still in the pipe; also when
/// the writer is a child that exits.
pub fn pipe_eof_after_last_writer() -> T {
    let [r, w] = pipe(0)?;
    check_eq!(write(w, b"abc"), 3, "write");
    check_eq!(close(w), 0, "close write end");
    let mut buf = [0u8; 8];
    check_eq!(read(r, &mut buf), 3, "read the bytes left");
    check_eq!(&buf[..3], b"abc", "bytes");
    check_eq!(read(r, &mut buf), 0, "end of file");
    close(r);

    let [r, w] = pipe(0)?;
    let pid = child_code(|| {
        close(r);
        sys::sleep_ms(20);
        (write(w, b"hello") != 5) as i32
    })?;
    close(w);
    let mut got = [0u8; 16];
    let mut n = 0;
    let total = read_to_end(r, |b| {
        got[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    });
    check_eq!(
        total,
        5,
        "bytes read until the child's exit closed the last writer"
    );
    check_eq!(&got[..5], b"hello", "bytes");
    close(r);
    expect_ok(pid)
}

/// Without readers, a write raises SIGPIPE, which kills by default; ignored, the write
/// fails with EPIPE.
pub fn pipe_sigpipe_and_epipe() -> T {
    let [r, w] = pipe(0)?;
    close(r);
    expect_killed_by(SIGPIPE, || {
        write(w, b"x");
    })?;
    let pid = child_code(|| {
        let ign = SigAction {
            handler: SIG_IGN,
            ..SigAction::default()
        };
        sys::sigaction(SIGPIPE, Some(&ign), None);
        (write(w, b"x") == -EPIPE) as i32 + 10
    })?;
    check_eq!(wait(pid)?, exited(11), "write with SIGPIPE ignored: EPIPE");
    close(w);
    Ok(())
}

/// O_NONBLOCK: reading an empty pipe and writing a full one are EAGAIN; the buffer
/// holds 64 KiB (F_GETPIPE_SZ, FIONREAD).
pub fn pipe_nonblock_eagain() -> T {
    let [r, w] = pipe(O_NONBLOCK)?;
    check_eq!(
        fcntl(r, F_GETFL as usize, 0) as u32 & O_NONBLOCK,
        O_NONBLOCK,
        "F_GETFL"
    );
    check_eq!(fcntl(w, F_GETPIPE_SZ, 0), 65536, "F_GETPIPE_SZ");
    let mut buf = [0u8; 4096];
    check_eq!(read(r, &mut buf), -EAGAIN, "read of an empty pipe");
    let mut total = 0;
    loop {
        let n = write(w, &buf);
        if n < 0 {
            check_eq!(n, -EAGAIN, "write to a full pipe");
            break;
        }
        total += n;
        check!(total <= 65536, "wrote {total} bytes into a 64 KiB pipe");
    }
    check_eq!(total, 65536, "bytes that fit");
    check_eq!(nread(r), 65536, "FIONREAD");
    check_eq!(write(w, b"x"), -EAGAIN, "one byte more");
    check_eq!(read(r, &mut buf[..100]), 100, "read some");
    check_eq!(nread(r), 65436, "FIONREAD after reading");
    close(r);
    close(w);
    // A longer write takes what fits.
    let [r, w] = pipe(O_NONBLOCK)?;
    static BIG: [u8; 70000] = [7u8; 70000];
    check_eq!(
        write(w, &BIG),
        65536,
        "a 70000-byte write into an empty pipe"
    );
    close(r);
    close(w);
    Ok(())
}

/// The buffer is 16 pages: small writes share a page, a write that does not fit in
/// the last page takes a new one, and a page frees only when read whole. With O_DIRECT
/// each write is a packet: a read takes one, and drops what does not fit.
/// F_SETPIPE_SZ changes the number of pages.
pub fn pipe_packets_and_pages() -> T {
    let [r, w] = pipe(O_NONBLOCK)?;
    let page = [5u8; 4096];
    for i in 0..16 {
        check_eq!(write(w, &page), 4096, "page {i}");
    }
    let mut b = [0u8; 4096];
    check_eq!(read(r, &mut b[..1]), 1, "read one byte");
    check_eq!(
        write(w, b"x"),
        -EAGAIN,
        "no page free after reading one byte"
    );
    check_eq!(read(r, &mut b[..4095]), 4095, "the rest of the first page");
    check_eq!(write(w, b"xy"), 2, "a page free");
    close(r);
    close(w);

    let [r, w] = pipe(O_NONBLOCK)?;
    check_eq!(write(w, &page[..4000]), 4000, "4000 bytes");
    check_eq!(write(w, &page[..96]), 96, "96 more fill the page");
    check_eq!(write(w, &page[..100]), 100, "100 more take a new page");
    check_eq!(nread(r), 4196, "FIONREAD");
    close(r);
    close(w);

    // F_SETPIPE_SZ: a power of two of pages; not below what is in use.
    let [r, w] = pipe(O_NONBLOCK)?;
    check_eq!(fcntl(w, F_SETPIPE_SZ, 5000), 8192, "F_SETPIPE_SZ 5000");
    check_eq!(fcntl(r, F_GETPIPE_SZ, 0), 8192, "F_GETPIPE_SZ");
    check_eq!(write(w, &page), 4096, "page 1");
    check_eq!(write(w, &page), 4096, "page 2");
    check_eq!(write(w, b"x"), -EAGAIN, "two pages fill it");
    check_eq!(
        fcntl(w, F_SETPIPE_SZ, 0),
        -EBUSY,
        "one page with two in use"
    );
    check_eq!(fcntl(w, F_SETPIPE_SZ, (1 << 31) + 1), -EINVAL, "past 2 GiB");
    check_eq!(fcntl(w, F_SETPIPE_SZ, 65536), 65536, "back to 64 KiB");
    check_eq!(write(w, b"x"), 1, "room again");
    check_eq!(fcntl(1, F_GETPIPE_SZ, 0), -EBADF, "not a pipe");
    close(r);
    close(w);

    let [r, w] = pipe(O_DIRECT | O_NONBLOCK)?;
    check_eq!(
        fcntl(w, F_GETFL as usize, 0) as u32 & O_DIRECT,
        O_DIRECT,
        "write end"
    );
    check_eq!(
        fcntl(r, F_GETFL as usize, 0) as u32 & O_DIRECT,
        0,
        "read end"
    );
    check_eq!(write(w, b"ab"), 2, "packet 1");
    check_eq!(write(w, b"cde"), 3, "packet 2");
    check_eq!(write(w, b"hello"), 5, "packet 3");
    check_eq!(read(r, &mut b[..100]), 2, "one packet a read");
    check_eq!(&b[..2], b"ab", "packet 1");
    check_eq!(read(r, &mut b[..100]), 3, "packet 2");
    check_eq!(read(r, &mut b[..2]), 2, "the start of packet 3");
    check_eq!(&b[..2], b"he", "bytes");
    check_eq!(
        read(r, &mut b[..100]),
        -EAGAIN,
        "the rest of packet 3 was dropped"
    );
    for i in 0..16 {
        check_eq!(write(w, b"p"), 1, "one-byte packet {i}");
    }
    check_eq!(write(w, b"p"), -EAGAIN, "16 packets fill the pipe");
    close(r);
    close(w);
    Ok(())
}

/// A blocking writer fills the 64 KiB buffer and waits until a reader drains it.
pub fn pipe_fills_then_blocks() -> T {
    const N: usize = 65536 + 5 * 4096 + 123;
    let [r, w] = pipe(0)?;
    let pid = child_code(|| {
        close(r);
        let mut buf = [0u8; 8192];
        let mut done = 0;
        while done < N {
            let n = (N - done).min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = ((done + i) % 251) as u8;
            }
            let k = write(w, &buf[..n]);
            if k != n as isize {
                return 1;
            }
            done += n;
        }
        0
    })?;
    close(w);
    check!(
        spin_until(2000, || nread(r) == 65536),
        "the pipe filled: FIONREAD {}",
        nread(r)
    );
    sys::sleep_ms(20);
    check_eq!(nread(r), 65536, "the writer waits while the pipe is full");
    let mut at = 0usize;
    let mut bad = None;
    let total = read_to_end(r, |b| {
        for &x in b {
            if bad.is_none() && x != (at % 251) as u8 {
                bad = Some(at);
            }
            at += 1;
        }
    });
    check_eq!(total, N as isize, "bytes through the pipe");
    check_eq!(bad, None, "first wrong byte");
    close(r);
    expect_ok(pid)
}

/// Writes of PIPE_BUF (4096) bytes from two writers are never interleaved.
pub fn pipe_atomic_writes() -> T {
    const BLOCKS: usize = 48;
    let [r, w] = pipe(0)?;
    let writer = |id: u8| {
        move || {
            close(r);
            let buf = [id; 4096];
            for _ in 0..BLOCKS {
                if write(w, &buf) != 4096 {
                    return 1;
                }
            }
            0
        }
    };
    let a = child_code(writer(b'a'))?;
    let b = child_code(writer(b'b'))?;
    close(w);
    let mut at = 0usize;
    let mut first = 0u8;
    let mut mixed = None;
    let mut counts = [0usize; 2];
    let total = read_to_end(r, |buf| {
        for &x in buf {
            if at.is_multiple_of(4096) {
                first = x;
                counts[(x == b'b') as usize] += 1;
            } else if x != first && mixed.is_none() {
                mixed = Some(at);
            }
            at += 1;
        }
    });
    check_eq!(total, (2 * BLOCKS * 4096) as isize, "bytes");
    check_eq!(
        mixed,
        None,
        "first byte of another writer inside a 4096-byte record"
    );
    check_eq!(counts, [BLOCKS, BLOCKS], "records of each writer");
    close(r);
    expect_ok(a)?;
    expect_ok(b)
}

/// ppoll: what each end is ready for, POLLHUP/POLLERR, POLLNVAL, negative fds, a
/// timeout, a wake-up by a writer, and EINVAL for bad arguments.
pub fn ppoll_pipe_readiness() -> T {
    let [r, w] = pipe(0)?;
    let mut zero = Timespec::default();
    let mut fds = [
        pfd(r, POLLIN),
        pfd(w, POLLOUT),
        pfd(-1, POLLIN),
        pfd(999, POLLIN),
    ];
    check_eq!(ppoll(&mut fds, Some(&mut zero), None), 2, "ready entries");
    check_eq!(
        [
            fds[0].revents,
            fds[1].revents,
            fds[2].revents,
            fds[3].revents
        ],
        [0, POLLOUT, 0, POLLNVAL],
        "revents: empty, writable, negative fd, closed fd"
    );
    write(w, b"x");
    let mut fds = [pfd(r, POLLIN | POLLOUT)];
    check_eq!(ppoll(&mut fds, Some(&mut zero), None), 1, "readable");
    check_eq!(fds[0].revents, POLLIN, "revents of the read end");
    close(w);
    let mut fds = [pfd(r, POLLIN)];
    check_eq!(ppoll(&mut fds, None, None), 1, "readable after close");
    check_eq!(fds[0].revents, POLLIN | POLLHUP, "bytes and hang-up");
    let mut c = [0u8; 1];
    read(r, &mut c);
    let mut fds = [pfd(r, 0)];
    check_eq!(ppoll(&mut fds, None, None), 1, "hang-up is always reported");
    check_eq!(fds[0].revents, POLLHUP, "revents");
    close(r);

    let [r, w] = pipe(0)?;
    close(r);
    let mut fds = [pfd(w, POLLOUT)];
    check_eq!(ppoll(&mut fds, None, None), 1, "write end without readers");
    check_eq!(fds[0].revents, POLLOUT | POLLERR, "revents");
    close(w);

    // A timeout on an empty pipe, then a wake-up by a writer.
    let [r, w] = pipe(0)?;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let t0 = now_ns();
    let mut fds = [pfd(r, POLLIN)];
    check_eq!(ppoll(&mut fds, Some(&mut ts), None), 0, "timed out");
    check!(
        now_ns() - t0 >= 50_000_000,
        "slept {} ns of 50 ms",
        now_ns() - t0
    );
    check_eq!((ts.tv_sec, ts.tv_nsec), (0, 0), "time left written back");
    check_eq!(fds[0].revents, 0, "revents");
    let pid = child_code(|| {
        sys::sleep_ms(30);
        (write(w, b"y") != 1) as i32
    })?;
    let mut fds = [pfd(r, POLLIN)];
    check_eq!(ppoll(&mut fds, None, None), 1, "woken by the writer");
    check_eq!(fds[0].revents, POLLIN, "revents");
    expect_ok(pid)?;

    // /dev/null is always ready (Linux's default mask); the console is writable.
    let p = b"/dev/null\0";
    let null = call(
        nr::OPENAT,
        [
            AT_FDCWD as usize,
            p.as_ptr() as usize,
            O_RDWR as usize,
            0,
            0,
            0,
        ],
    );
    let mut fds = [pfd(null as i32, POLLIN | POLLOUT), pfd(1, POLLOUT)];
    check_eq!(
        ppoll(&mut fds, Some(&mut zero), None),
        2,
        "/dev/null and the console"
    );
    check_eq!(
        [fds[0].revents, fds[1].revents],
        [POLLIN | POLLOUT, POLLOUT],
        "revents"
    );
    close(null as i32);

    // Bad arguments.
    let mut bad = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    check_eq!(
        ppoll(&mut fds, Some(&mut bad), None),
        -EINVAL,
        "tv_nsec of a second"
    );
    let mut bad = Timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    check_eq!(
        ppoll(&mut fds, Some(&mut bad), None),
        -EINVAL,
        "negative tv_sec"
    );
    let r2 = call(nr::PPOLL, [fds.as_mut_ptr() as usize, 1 << 30, 0, 0, 8, 0]);
    check_eq!(r2, -EINVAL, "nfds past RLIMIT_NOFILE");
    let mask = 0u64;
    let r3 = call(
        nr::PPOLL,
        [
            fds.as_mut_ptr() as usize,
            1,
            0,
            &mask as *const u64 as usize,
            4,
            0,
        ],
    );
    check_eq!(r3, -EINVAL, "sigsetsize 4");
    let r4 = call(nr::PPOLL, [8, 1, 0, 0, 8, 0]);
    check_eq!(r4, -EFAULT, "fds at a bad address");
    close(r);
    close(w);
    Ok(())
}

/// `pselect6(n, in, out, ex, ts, NULL)`.
fn pselect(n: i32, sets: [Option<&mut u64>; 3], ts: Option<&mut Timespec>) -> isize {
    let [a, b, c] = sets.map(|s| s.map_or(0, |p| p as *mut u64 as usize));
    call(
        nr::PSELECT6,
        [
            n as usize,
            a,
            b,
            c,
            ts.map_or(0, |t| t as *mut Timespec as usize),
            0,
        ],
    )
}

/// pselect6: the ready bits of each set, a timeout, EBADF for a descriptor that is not
/// open, EINVAL for a negative count or a bad timeout.
pub fn pselect6_pipe_readiness() -> T {
    let [r, w] = pipe(0)?;
    let bit = |fd: i32| 1u64 << fd;
    let mut zero = Timespec::default();
    let (mut rd, mut wr) = (bit(r) | bit(w), bit(r) | bit(w));
    check_eq!(
        pselect(64, [Some(&mut rd), Some(&mut wr), None], Some(&mut zero)),
        1,
        "empty pipe"
    );
    check_eq!(
        (rd, wr),
        (0, bit(w)),
        "only the write end is ready, to write"
    );
    write(w, b"x");
    let (mut rd, mut wr) = (bit(r), bit(w));
    check_eq!(
        pselect(64, [Some(&mut rd), Some(&mut wr), None], None),
        2,
        "both ready"
    );
    check_eq!((rd, wr), (bit(r), bit(w)), "sets");
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 30_000_000,
    };
    let mut b = [0u8; 4];
    read(r, &mut b);
    let mut rd = bit(r);
    let t0 = now_ns();
    check_eq!(
        pselect(64, [Some(&mut rd), None, None], Some(&mut ts)),
        0,
        "timeout"
    );
    check!(
        now_ns() - t0 >= 30_000_000,
        "slept {} ns of 30 ms",
        now_ns() - t0
    );
    check_eq!(rd, 0, "set cleared");
    let mut rd = bit(r) | bit(40);
    check_eq!(
        pselect(64, [Some(&mut rd), None, None], Some(&mut zero)),
        -EBADF,
        "fd 40 not open"
    );
    check_eq!(
        pselect(-1, [None, None, None], Some(&mut zero)),
        -EINVAL,
        "negative count"
    );
    let mut bad = Timespec {
        tv_sec: 0,
        tv_nsec: -1,
    };
    check_eq!(
        pselect(1, [None, None, None], Some(&mut bad)),
        -EINVAL,
        "negative tv_nsec"
    );
    close(w);
    let mut rd = bit(r);
    check_eq!(
        pselect(64, [Some(&mut rd), None, None], None),
        1,
        "end of file is readable"
    );
    close(r);
    Ok(())
}

static HANDLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn count_signal(_sig: i32) {
    HANDLED.fetch_add(1, SeqCst);
}

/// A signal interrupts a blocking pipe read: EINTR with a handler without SA_RESTART,
/// restarted with one; ppoll's mask lets a blocked signal in and comes back after the
/// handler (EINTR, never restarted).
pub fn pipe_read_interrupted() -> T {
    let pid = child_code(|| {
        let body = || -> T {
            let [r, w] = pipe(0)?;
            let me = sys::getpid() as i32;
            sys::set_handler(SIGUSR1, count_signal as *const () as usize, 0);
            let k = child_code(|| {
                sys::sleep_ms(30);
                sys::kill(me, SIGUSR1);
                0
            })?;
            let mut b = [0u8; 4];
            check_eq!(read(r, &mut b), -EINTR, "read interrupted, no SA_RESTART");
            check_eq!(HANDLED.load(SeqCst), 1, "handler ran");
            expect_ok(k)?;

            sys::set_handler(SIGUSR1, count_signal as *const () as usize, SA_RESTART);
            let k = child_code(|| {
                sys::sleep_ms(30);
                sys::kill(me, SIGUSR1);
                sys::sleep_ms(30);
                (write(w, b"z") != 1) as i32
            })?;
            check_eq!(read(r, &mut b), 1, "read restarted under SA_RESTART");
            check_eq!(HANDLED.load(SeqCst), 2, "handler ran");
            expect_ok(k)?;

            // ppoll with a mask that unblocks a pending signal.
            sys::sigprocmask(SIG_BLOCK, Some(sigbit(SIGUSR1)), None);
            sys::kill(me, SIGUSR1);
            let mask = 0u64;
            let mut fds = [pfd(r, POLLIN)];
            check_eq!(
                ppoll(&mut fds, None, Some(&mask)),
                -EINTR,
                "ppoll interrupted"
            );
            check_eq!(HANDLED.load(SeqCst), 3, "handler ran under ppoll's mask");
            let mut now = 0u64;
            sys::sigprocmask(SIG_BLOCK, None, Some(&mut now));
            check_eq!(now, sigbit(SIGUSR1), "the mask from before ppoll");

            // rt_sigsuspend, the same way.
            sys::kill(me, SIGUSR1);
            let s = call(
                nr::RT_SIGSUSPEND,
                [&mask as *const u64 as usize, 8, 0, 0, 0, 0],
            );
            check_eq!(s, -EINTR, "rt_sigsuspend");
            check_eq!(
                HANDLED.load(SeqCst),
                4,
                "handler ran under sigsuspend's mask"
            );
            sys::sigprocmask(SIG_BLOCK, None, Some(&mut now));
            check_eq!(now, sigbit(SIGUSR1), "the mask from before rt_sigsuspend");
            close(r);
            close(w);
            Ok(())
        };
        body().is_err() as i32
    })?;
    expect_ok(pid)
}

/// A blocking write interrupted by a signal after some of its bytes went in returns
/// their count, with or without SA_RESTART.
pub fn pipe_write_interrupted_partial() -> T {
    let [r, w] = pipe(0)?;
    let pid = child_code(|| {
        close(r);
        sys::set_handler(SIGUSR1, count_signal as *const () as usize, SA_RESTART);
        static BIG: [u8; 100_000] = [1u8; 100_000];
        let n = write(w, &BIG);
        (n != 65536) as i32 + 2 * (HANDLED.load(SeqCst) != 1) as i32
    })?;
    check!(
        spin_until(2000, || nread(r) == 65536),
        "the pipe filled: FIONREAD {}",
        nread(r)
    );
    sys::sleep_ms(20);
    check_eq!(sys::kill(pid, SIGUSR1), 0, "kill");
    check_eq!(
        wait(pid)?,
        exited(0),
        "the write returned 65536 and the handler ran"
    );
    close(r);
    close(w);
    Ok(())
}

/// FNV-1a over `data`, continued from `h`.
fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// parent -> child1 -> child2, with dup3 onto 0 and 1: 4 MiB through two pipes, each
/// byte changed by the middle process, the checksum sent back on a third pipe.
pub fn pipe_three_process_pipeline() -> T {
    const SIZE: usize = 4 << 20;
    const FNV0: u64 = 0xcbf2_9ce4_8422_2325;
    let [a_r, a_w] = pipe(0)?;
    let [b_r, b_w] = pipe(0)?;
    let [c_r, c_w] = pipe(0)?;
    // child1: stdin a, stdout b; adds 1 to each byte.
    let c1 = child_code(|| {
        dup3(a_r, 0);
        dup3(b_w, 1);
        for fd in [a_r, a_w, b_r, b_w, c_r, c_w] {
            close(fd);
        }
        let mut buf = [0u8; 5000];
        loop {
            let n = read(0, &mut buf);
            if n <= 0 {
                return (n < 0) as i32;
            }
            for b in &mut buf[..n as usize] {
                *b = b.wrapping_add(1);
            }
            if write_all(1, &buf[..n as usize]) != n {
                return 2;
            }
        }
    })?;
    // child2: stdin b, stdout c; writes the checksum and count.
    let c2 = child_code(|| {
        dup3(b_r, 0);
        dup3(c_w, 1);
        for fd in [a_r, a_w, b_r, b_w, c_r, c_w] {
            close(fd);
        }
        let mut h = FNV0;
        let n = read_to_end(0, |b| h = fnv(h, b));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&h.to_le_bytes());
        out[8..].copy_from_slice(&(n as u64).to_le_bytes());
        (write(1, &out) != 16) as i32
    })?;
    for fd in [a_r, b_r, b_w, c_w] {
        close(fd);
    }
    let mut want = FNV0;
    let mut chunk = [0u8; 7000];
    let mut sent = 0;
    while sent < SIZE {
        let n = (SIZE - sent).min(chunk.len());
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            let x = (sent + i) as u64;
            *b = (x ^ (x >> 8) ^ (x >> 16)) as u8;
        }
        check_eq!(write_all(a_w, &chunk[..n]), n as isize, "write at {sent}");
        for b in &mut chunk[..n] {
            *b = b.wrapping_add(1);
        }
        want = fnv(want, &chunk[..n]);
        sent += n;
    }
    close(a_w);
    let mut out = [0u8; 16];
    let mut got = 0;
    let total = read_to_end(c_r, |b| {
        out[got..got + b.len()].copy_from_slice(b);
        got += b.len();
    });
    check_eq!(total, 16, "checksum bytes");
    check_eq!(
        u64::from_le_bytes(out[8..].try_into().unwrap()),
        SIZE as u64,
        "bytes at the end"
    );
    check_eq!(
        u64::from_le_bytes(out[..8].try_into().unwrap()),
        want,
        "checksum"
    );
    close(c_r);
    expect_ok(c1)?;
    expect_ok(c2)
}

/// A pipe has no offset (lseek, pread: ESPIPE), is a FIFO to fstat, takes only
/// O_CLOEXEC, O_NONBLOCK and O_DIRECT, and O_CLOEXEC closes both ends at execve.
pub fn pipe_lseek_fstat_cloexec() -> T {
    let [r, w] = pipe(0)?;
    check_eq!(
        call(nr::LSEEK, [r as usize, 0, 0, 0, 0, 0]),
        -ESPIPE,
        "lseek"
    );
    check_eq!(
        call(nr::LSEEK, [w as usize, 0, 1, 0, 0, 0]),
        -ESPIPE,
        "lseek write end"
    );
    let mut b = [0u8; 4];
    let pr = call(
        nr::PREAD64,
        [r as usize, b.as_mut_ptr() as usize, 4, 0, 0, 0],
    );
    check_eq!(pr, -ESPIPE, "pread64");
    let mut st = Stat::default();
    check_eq!(
        call(
            nr::FSTAT,
            [r as usize, &mut st as *mut Stat as usize, 0, 0, 0, 0]
        ),
        0,
        "fstat"
    );
    check_eq!(st.st_mode, S_IFIFO | 0o600, "st_mode");
    check_eq!(st.st_size, 0, "st_size");
    check_eq!(read(w, &mut b), -EBADF, "read from the write end");
    check_eq!(write(r, b"x"), -EBADF, "write to the read end");
    check_eq!(
        fcntl(r, F_GETFL as usize, 0),
        O_RDONLY as isize,
        "F_GETFL read end"
    );
    check_eq!(
        fcntl(w, F_GETFL as usize, 0),
        O_WRONLY as isize,
        "F_GETFL write end"
    );
    check_eq!(fcntl(r, F_GETFD as usize, 0), 0, "no FD_CLOEXEC");
    check_eq!(pipe2(O_RDWR).0, -EINVAL, "pipe2(O_RDWR)");
    check_eq!(pipe2(O_APPEND).0, -EINVAL, "pipe2(O_APPEND)");
    check_eq!(
        call(nr::PIPE2, [8, 0, 0, 0, 0, 0]),
        -EFAULT,
        "pipe2 at a bad address"
    );
    let [cr, cw] = pipe(O_CLOEXEC)?;
    check_eq!(
        fcntl(cr, F_GETFD as usize, 0),
        FD_CLOEXEC as isize,
        "O_CLOEXEC read end"
    );
    check_eq!(
        fcntl(cw, F_GETFD as usize, 0),
        FD_CLOEXEC as isize,
        "O_CLOEXEC write end"
    );
    let pid = exec_fdopen(cw, w)?;
    check_eq!(
        wait(pid)?,
        exited(11),
        "after execve: the O_CLOEXEC end closed, the other open"
    );
    for fd in [r, w, cr, cw] {
        close(fd);
    }
    Ok(())
}
