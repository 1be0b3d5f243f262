//! The console as a terminal: the termios `ioctl`s, the controlling terminal of a
//! session and its foreground process group, and what a background process meets
//! (Linux `drivers/tty/tty_io.c`, `tty_jobctrl.c`, `n_tty.c`). Each test matches Linux
//! 6.1 under QEMU, where the console is `ttyAMA0`. What needs typing on the console is
//! tested from the host (`tests/tests/tty.rs`).

use crate::util::{child, expect_ok, wait_opts, Status, T};
use forkos_lib::uapi::termbits::*;
use forkos_user::sys;

const ENXIO: isize = 6;
const EIO: isize = 5;
const ENOTTY: isize = 25;

fn ioctl(fd: i32, cmd: u64, arg: usize) -> isize {
    sys::syscall(sys::nr::IOCTL, [fd as usize, cmd as usize, arg, 0, 0, 0])
}

fn open(path: &[u8], flags: u32) -> isize {
    let mut p = [0u8; 64];
    p[..path.len()].copy_from_slice(path);
    sys::syscall(
        sys::nr::OPENAT,
        [
            sys::AT_FDCWD as usize,
            p.as_ptr() as usize,
            flags as usize,
            0,
            0,
            0,
        ],
    )
}

fn tcgets(fd: i32) -> Result<Termios, isize> {
    let mut t = Termios::STD;
    let r = ioctl(fd, sys::TCGETS, &mut t as *mut Termios as usize);
    if r < 0 {
        Err(r)
    } else {
        Ok(t)
    }
}

fn getpgrp_of_tty(fd: i32) -> isize {
    let mut pgrp = -1i32;
    let r = ioctl(fd, sys::TIOCGPGRP, &mut pgrp as *mut i32 as usize);
    if r < 0 {
        r
    } else {
        pgrp as isize
    }
}

fn setpgrp_of_tty(fd: i32, pgrp: i32) -> isize {
    ioctl(fd, sys::TIOCSPGRP, &pgrp as *const i32 as usize)
}

fn getsid_of_tty(fd: i32) -> isize {
    let mut sid = -1i32;
    let r = ioctl(fd, sys::TIOCGSID, &mut sid as *mut i32 as usize);
    if r < 0 {
        r
    } else {
        sid as isize
    }
}

/// The terminal is free for the next session: a new session leader that opens it gets
/// it as its controlling terminal.
fn next_session_gets_tty() -> T {
    let c = child(|| {
        check_eq!(sys::setsid(), sys::getpid(), "setsid");
        let fd = open(b"/dev/ttyAMA0", sys::O_RDWR) as i32;
        check!(fd >= 0, "open /dev/ttyAMA0: {fd}");
        check_eq!(
            getsid_of_tty(fd),
            sys::getpid(),
            "the terminal of the next session"
        );
        Ok(())
    })?;
    expect_ok(c)
}

/// The console's termios are Linux's defaults for a terminal (`tty_std_termios`:
/// canonical mode, echo, signal characters, `ICRNL`, `OPOST|ONLCR`, the usual control
/// characters); `TCSETS*` set them, a bad pointer is `EFAULT`; the window size of a
/// serial line is 0 by 0 until `TIOCSWINSZ`; `FIONREAD` is 0 with nothing typed;
/// `TCFLSH` takes `TCIFLUSH`/`TCOFLUSH`/`TCIOFLUSH` only (`EINVAL`); an unknown
/// request, or a terminal request on `/dev/null`, is `ENOTTY`.
pub fn tty_termios_ioctls() -> T {
    let t =
        tcgets(0).map_err(|e| crate::util::fail(format_args!("TCGETS {e}"), file!(), line!()))?;
    let std = Termios::STD;
    check_eq!(t.c_lflag, std.c_lflag, "c_lflag");
    check_eq!(t.c_oflag, std.c_oflag, "c_oflag");
    check_eq!(t.c_iflag & (ICRNL | IXON), ICRNL | IXON, "c_iflag");
    check_eq!(&t.c_cc[..17], &std.c_cc[..17], "c_cc");
    let mut changed = t;
    changed.c_lflag &= !ECHO;
    changed.c_cc[VMIN] = 5;
    for cmd in [sys::TCSETS, sys::TCSETSW, sys::TCSETSF] {
        check_eq!(
            ioctl(0, cmd, &changed as *const Termios as usize),
            0,
            "TCSETS*"
        );
        let got = tcgets(0).unwrap_or(std);
        check_eq!(got.c_lflag, changed.c_lflag, "c_lflag after TCSETS*");
        check_eq!(got.c_cc[VMIN], 5, "VMIN after TCSETS*");
        check_eq!(
            ioctl(0, sys::TCSETS, &t as *const Termios as usize),
            0,
            "TCSETS back"
        );
    }
    check_eq!(
        ioctl(0, sys::TCSETS, 8),
        -sys::EFAULT,
        "TCSETS from a bad pointer"
    );
    check_eq!(
        ioctl(0, sys::TCGETS, 8),
        -sys::EFAULT,
        "TCGETS to a bad pointer"
    );
    check_eq!(tcgets(0).map(|x| x.c_lflag), Ok(t.c_lflag), "termios kept");

    let mut ws = [0xffffu16; 4];
    check_eq!(
        ioctl(0, sys::TIOCGWINSZ, ws.as_mut_ptr() as usize),
        0,
        "TIOCGWINSZ"
    );
    check_eq!(ws, [0u16; 4], "a serial console's window size");
    let set = [24u16, 80, 0, 0];
    check_eq!(
        ioctl(0, sys::TIOCSWINSZ, set.as_ptr() as usize),
        0,
        "TIOCSWINSZ"
    );
    check_eq!(
        ioctl(0, sys::TIOCGWINSZ, ws.as_mut_ptr() as usize),
        0,
        "TIOCGWINSZ"
    );
    check_eq!(ws, set, "the window size set");
    check_eq!(
        ioctl(0, sys::TIOCSWINSZ, [0u16; 4].as_ptr() as usize),
        0,
        "TIOCSWINSZ back"
    );
    check_eq!(
        ioctl(0, sys::TIOCSWINSZ, 8),
        -sys::EFAULT,
        "TIOCSWINSZ from a bad pointer"
    );

    let mut n = 7u32;
    check_eq!(
        ioctl(0, sys::FIONREAD, &mut n as *mut u32 as usize),
        0,
        "FIONREAD"
    );
    check_eq!(n, 0, "bytes waiting");
    check_eq!(
        ioctl(0, sys::TCFLSH, sys::TCIFLUSH as usize),
        0,
        "TCFLSH TCIFLUSH"
    );
    check_eq!(
        ioctl(0, sys::TCFLSH, sys::TCOFLUSH as usize),
        0,
        "TCFLSH TCOFLUSH"
    );
    check_eq!(
        ioctl(0, sys::TCFLSH, sys::TCIOFLUSH as usize),
        0,
        "TCFLSH TCIOFLUSH"
    );
    check_eq!(ioctl(0, sys::TCFLSH, 3), -sys::EINVAL, "TCFLSH 3");
    check_eq!(ioctl(0, sys::TCSBRK, 1), 0, "TCSBRK 1 (tcdrain)");
    let t0 = crate::util::now_ns();
    check_eq!(ioctl(0, sys::TCSBRK, 0), 0, "TCSBRK 0 (a break)");
    let ms = (crate::util::now_ns() - t0) / 1_000_000;
    check!((240..2000).contains(&ms), "a break lasts 250 ms: {ms} ms");
    let mut outq = -1i32;
    check_eq!(
        ioctl(0, sys::TIOCOUTQ, &mut outq as *mut i32 as usize),
        0,
        "TIOCOUTQ"
    );
    check_eq!(outq, 0, "bytes waiting to be sent");
    check_eq!(ioctl(0, 0x5499, 0), -ENOTTY, "an unknown request");
    let null = open(b"/dev/null", sys::O_RDWR);
    check!(null >= 0, "open /dev/null: {null}");
    check_eq!(
        ioctl(null as i32, sys::TCGETS, &mut n as *mut u32 as usize),
        -ENOTTY,
        "TCGETS on /dev/null"
    );
    sys::close(null as i32);
    // Init has no controlling terminal: the job-control requests are not for it.
    check_eq!(
        getpgrp_of_tty(0),
        -ENOTTY,
        "TIOCGPGRP without a controlling terminal"
    );
    check_eq!(
        getsid_of_tty(0),
        -ENOTTY,
        "TIOCGSID without a controlling terminal"
    );
    check_eq!(
        setpgrp_of_tty(0, 0),
        -ENOTTY,
        "TIOCSPGRP without a controlling terminal"
    );
    check_eq!(
        ioctl(0, sys::TIOCNOTTY, 0),
        -ENOTTY,
        "TIOCNOTTY without a controlling terminal"
    );
    check_eq!(
        open(b"/dev/tty", sys::O_RDWR),
        -ENXIO,
        "/dev/tty without a controlling terminal"
    );
    Ok(())
}

/// A session leader acquires the terminal by opening `/dev/ttyAMA0` without
/// `O_NOCTTY`, never through `/dev/console` (Linux `tty_open`'s `noctty`); then it is
/// the session's (`TIOCGSID`), its group is the foreground (`TIOCGPGRP`), `/dev/tty`
/// opens. `TIOCSCTTY`: `EPERM` for a process that does not lead a session, 0 for the
/// session that already has it. `TIOCSPGRP`: `EINVAL` for a negative id, `ESRCH` for
/// an id not in use, `EPERM` for a group of another session. `TIOCNOTTY` gives it up.
pub fn tty_controlling_terminal() -> T {
    let c = child(|| {
        check_eq!(
            ioctl(0, sys::TIOCSCTTY, 0),
            -sys::EPERM,
            "TIOCSCTTY, not a session leader"
        );
        let me = sys::getpid() as i32;
        check_eq!(sys::setsid(), me as isize, "setsid");
        let con = open(b"/dev/console", sys::O_RDWR);
        check!(con >= 0, "open /dev/console: {con}");
        check_eq!(
            open(b"/dev/tty", sys::O_RDWR),
            -ENXIO,
            "/dev/tty after opening /dev/console"
        );
        let nc = open(b"/dev/ttyAMA0", sys::O_RDWR | sys::O_NOCTTY);
        check!(nc >= 0, "open /dev/ttyAMA0 O_NOCTTY: {nc}");
        check_eq!(
            open(b"/dev/tty", sys::O_RDWR),
            -ENXIO,
            "/dev/tty after O_NOCTTY"
        );
        let fd = open(b"/dev/ttyAMA0", sys::O_RDWR) as i32;
        check!(fd >= 0, "open /dev/ttyAMA0: {fd}");
        check_eq!(getsid_of_tty(fd), me as isize, "TIOCGSID");
        check_eq!(getpgrp_of_tty(fd), me as isize, "TIOCGPGRP");
        // The console and /dev/tty are the same terminal.
        check_eq!(
            getpgrp_of_tty(con as i32),
            me as isize,
            "TIOCGPGRP on /dev/console"
        );
        let tty = open(b"/dev/tty", sys::O_RDWR);
        check!(tty >= 0, "open /dev/tty: {tty}");
        check_eq!(
            getsid_of_tty(tty as i32),
            me as isize,
            "TIOCGSID on /dev/tty"
        );
        check_eq!(
            ioctl(fd, sys::TIOCSCTTY, 0),
            0,
            "TIOCSCTTY, already the session's"
        );
        check_eq!(setpgrp_of_tty(fd, -1), -sys::EINVAL, "TIOCSPGRP -1");
        check_eq!(
            setpgrp_of_tty(fd, 0x7fff_fff0),
            -sys::ESRCH,
            "TIOCSPGRP no such id"
        );
        check_eq!(
            ioctl(fd, sys::TIOCSPGRP, 8),
            -sys::EFAULT,
            "TIOCSPGRP bad pointer"
        );
        check_eq!(
            ioctl(fd, sys::TIOCGPGRP, 8),
            -sys::EFAULT,
            "TIOCGPGRP bad pointer"
        );
        // A process in another session: EPERM.
        let (rd, wr) = pipe()?;
        let (ready_rd, ready_wr) = pipe()?;
        let other = sys::fork();
        if other == 0 {
            sys::setsid();
            sys::write(ready_wr, b"r");
            let mut b = [0u8; 1];
            sys::read(rd, &mut b);
            sys::exit(0);
        }
        sys::read(ready_rd, &mut [0u8; 1]);
        check_eq!(
            setpgrp_of_tty(fd, other as i32),
            -sys::EPERM,
            "TIOCSPGRP other session"
        );
        sys::write(wr, b"x");
        check_eq!(
            wait_opts(other as i32, 0)?,
            Status(0),
            "the other session's process"
        );
        check_eq!(setpgrp_of_tty(fd, me), 0, "TIOCSPGRP own group");
        // A session leader's TIOCNOTTY sends SIGHUP and SIGCONT to the foreground
        // group: its own here.
        sys::set_handler(sys::SIGHUP, sys::SIG_IGN as usize, 0);
        check_eq!(ioctl(fd, sys::TIOCNOTTY, 0), 0, "TIOCNOTTY");
        check_eq!(getpgrp_of_tty(fd), -ENOTTY, "TIOCGPGRP after TIOCNOTTY");
        check_eq!(
            open(b"/dev/tty", sys::O_RDWR),
            -ENXIO,
            "/dev/tty after TIOCNOTTY"
        );
        check_eq!(ioctl(fd, sys::TIOCSCTTY, 0), 0, "TIOCSCTTY again");
        check_eq!(getsid_of_tty(fd), me as isize, "TIOCGSID after TIOCSCTTY");
        // A session leader's exit frees the terminal for the next session.
        Ok(())
    })?;
    expect_ok(c)?;
    next_session_gets_tty()
}

fn pipe() -> Result<(i32, i32), crate::util::Fail> {
    let mut fds = [0i32; 2];
    let r = sys::syscall(sys::nr::PIPE2, [fds.as_mut_ptr() as usize, 0, 0, 0, 0, 0]);
    check_eq!(r, 0, "pipe2");
    Ok((fds[0], fds[1]))
}

/// A background process group meets job control: its read gets `SIGTTIN` (a stop its
/// parent sees with `WUNTRACED`), or `EIO` with `SIGTTIN` ignored; `TIOCSPGRP` and
/// `TCSETS` from it get `SIGTTOU`, or go through with `SIGTTOU` ignored; a write goes
/// through unless `TOSTOP`. A non-blocking read with nothing typed is `EAGAIN`.
pub fn tty_background_job_control() -> T {
    let c = child(|| {
        let me = sys::getpid() as i32;
        check_eq!(sys::setsid(), me as isize, "setsid");
        let fd = open(b"/dev/ttyAMA0", sys::O_RDWR | sys::O_NONBLOCK) as i32;
        check!(fd >= 0, "open /dev/ttyAMA0: {fd}");
        let mut b = [0u8; 4];
        check_eq!(
            sys::read(fd, &mut b),
            -sys::EAGAIN,
            "a non-blocking read of nothing"
        );
        let t = tcgets(fd).unwrap_or(Termios::STD);
        let bg = |f: fn(i32) -> i32| -> Result<Status, crate::util::Fail> {
            let pid = sys::fork();
            if pid == 0 {
                sys::setpgid(0, 0);
                sys::exit(f(fd));
            }
            sys::setpgid(pid as i32, pid as i32);
            let st = wait_opts(pid as i32, sys::WUNTRACED)?;
            if st.0 & 0xff == 0x7f {
                sys::kill(pid as i32, sys::SIGKILL);
                wait_opts(pid as i32, 0)?;
            }
            Ok(st)
        };
        let stopped = |sig: i32| Status((sig << 8) | 0x7f);
        check_eq!(
            bg(|fd| sys::read(fd, &mut [0u8; 4]) as i32)?,
            stopped(sys::SIGTTIN),
            "background read"
        );
        check_eq!(
            bg(|fd| {
                sys::set_handler(sys::SIGTTIN, sys::SIG_IGN as usize, 0);
                -(sys::read(fd, &mut [0u8; 4]) as i32)
            })?,
            Status((EIO as i32) << 8),
            "background read, SIGTTIN ignored"
        );
        check_eq!(
            bg(|fd| setpgrp_of_tty(fd, sys::getpid() as i32) as i32)?,
            stopped(sys::SIGTTOU),
            "background TIOCSPGRP"
        );
        check_eq!(
            bg(|fd| {
                sys::set_handler(sys::SIGTTOU, sys::SIG_IGN as usize, 0);
                setpgrp_of_tty(fd, sys::getpid() as i32) as i32
            })?,
            Status(0),
            "background TIOCSPGRP, SIGTTOU ignored"
        );
        // That child made its group the foreground and exited: take it back.
        sys::set_handler(sys::SIGTTOU, sys::SIG_IGN as usize, 0);
        check_eq!(setpgrp_of_tty(fd, me), 0, "TIOCSPGRP back");
        sys::set_handler(sys::SIGTTOU, sys::SIG_DFL as usize, 0);
        check_eq!(
            bg(|fd| {
                let t = tcgets(fd).unwrap_or(Termios::STD);
                ioctl(fd, sys::TCSETS, &t as *const Termios as usize) as i32
            })?,
            stopped(sys::SIGTTOU),
            "background TCSETS"
        );
        check_eq!(
            bg(|fd| (sys::write(fd, b"") == 0) as i32)?,
            Status(1 << 8),
            "background write"
        );
        let mut tostop = t;
        tostop.c_lflag |= TOSTOP;
        check_eq!(
            ioctl(fd, sys::TCSETS, &tostop as *const Termios as usize),
            0,
            "TOSTOP"
        );
        check_eq!(
            bg(|fd| sys::write(fd, b"") as i32)?,
            stopped(sys::SIGTTOU),
            "background write, TOSTOP"
        );
        check_eq!(
            ioctl(fd, sys::TCSETS, &t as *const Termios as usize),
            0,
            "TOSTOP off"
        );
        Ok(())
    })?;
    expect_ok(c)
}

/// Print what a read returned: its result and the bytes, escaped.
fn show(what: &str, r: isize, buf: &[u8]) {
    let n = r.max(0) as usize;
    let s = core::str::from_utf8(&buf[..n]).unwrap_or("<not utf-8>");
    forkos_user::println!("{what}: {r} {s:?}");
}

/// A child in a process group of its own that sleeps until a signal ends it.
fn sleeper_in_own_group() -> i32 {
    let pid = sys::fork();
    if pid == 0 {
        sys::setpgid(0, 0);
        loop {
            sys::sleep_ms(1000);
        }
    }
    sys::setpgid(pid as i32, pid as i32);
    pid as i32
}

fn ppoll(fds: &mut [forkos_lib::uapi::poll::PollFd], ts: Option<&sys::Timespec>) -> isize {
    sys::syscall(
        sys::nr::PPOLL,
        [
            fds.as_mut_ptr() as usize,
            fds.len(),
            ts.map_or(0, |t| t as *const sys::Timespec as usize),
            0,
            8,
            0,
        ],
    )
}

/// How a wait status reads in the transcript.
fn show_status(who: &str, pid: i32, options: i32) {
    let mut st = 0i32;
    let r = sys::wait4(pid, &mut st, options);
    if r == 0 {
        forkos_user::println!("{who}: running");
    } else if st & 0x7f == 0 {
        forkos_user::println!("{who}: exited {}", (st >> 8) & 0xff);
    } else if st & 0xff == 0x7f {
        forkos_user::println!("{who}: stopped by {} (status {st:#x})", (st >> 8) & 0xff);
    } else {
        forkos_user::println!("{who}: killed by {}", st & 0x7f);
    }
}

/// `utest tty_session`: the program the host drives through the console
/// (`tests/tests/tty.rs`), not a test of the table (it waits for typing). It makes a
/// session with the console as its controlling terminal, as a shell's does, then
/// prints a `[step]` marker before each thing the host types, and what came of it.
/// The session is init's child's, as a shell's would be: children of init are in
/// orphaned process groups, whose `SIGTSTP` Linux discards.
pub fn session_helper() -> i32 {
    // Before any session has the console: `p` prints the process table and is not
    // input (forkos's SysRq key; on Linux it is input, which this line then reads).
    forkos_user::println!("[sysrq]");
    let mut buf = [0u8; 64];
    let r = sys::read(0, &mut buf);
    show("got", r, &buf);
    let pid = sys::fork();
    if pid == 0 {
        sys::exit(session());
    }
    let mut st = 0;
    sys::wait4(pid as i32, &mut st, 0);
    (st >> 8) & 0xff | st & 0x7f
}

fn session() -> i32 {
    let me = sys::getpid() as i32;
    sys::setsid();
    let fd = open(b"/dev/ttyAMA0", sys::O_RDWR) as i32;
    if fd < 0 || getpgrp_of_tty(fd) != me as isize {
        forkos_user::println!("tty_session: no controlling terminal ({fd})");
        return 1;
    }
    // A shell ignores SIGTTOU, to take the terminal back from a job.
    sys::set_handler(sys::SIGTTOU, sys::SIG_IGN as usize, 0);
    let mut buf = [0u8; 128];
    for step in ["line", "kill", "lnext", "eof", "eof2"] {
        forkos_user::println!("[{step}]");
        let r = sys::read(fd, &mut buf);
        show("got", r, &buf);
    }

    let cooked = tcgets(fd).unwrap_or(Termios::STD);
    let mut raw = cooked;
    raw.c_lflag &= !(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ioctl(fd, sys::TCSETSW, &raw as *const Termios as usize);
    forkos_user::println!("[raw]");
    for _ in 0..2 {
        let r = sys::read(fd, &mut buf[..1]);
        show("byte", r, &buf);
    }
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 2;
    ioctl(fd, sys::TCSETSW, &raw as *const Termios as usize);
    let r = sys::read(fd, &mut buf);
    show("VTIME read of nothing", r, &buf);
    ioctl(fd, sys::TCSETSF, &cooked as *const Termios as usize);

    // Readiness: nothing typed, then a line.
    let mut pfd = [forkos_lib::uapi::poll::PollFd {
        fd,
        events: 1,
        revents: 0,
    }];
    let ts = sys::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let r = ppoll(&mut pfd, Some(&ts));
    forkos_user::println!("ppoll with nothing typed: {r} {:#x}", pfd[0].revents);
    forkos_user::println!("[poll]");
    let r = ppoll(&mut pfd, None);
    forkos_user::println!("ppoll: {r} {:#x}", pfd[0].revents);
    let r = sys::read(fd, &mut buf);
    show("got", r, &buf);

    // ^C, ^Z and ^\ go to the foreground group only.
    let bg = sleeper_in_own_group();
    for (step, who) in [("intr", "fg"), ("susp", "fg"), ("quit", "fg")] {
        let fg = sleeper_in_own_group();
        setpgrp_of_tty(fd, fg);
        forkos_user::println!("[{step}]");
        show_status(who, fg, sys::WUNTRACED);
        show_status("bg", bg, sys::WNOHANG);
        setpgrp_of_tty(fd, me);
        sys::kill(fg, sys::SIGKILL);
        sys::wait4(fg, core::ptr::null_mut(), 0);
    }
    sys::kill(bg, sys::SIGKILL);
    sys::wait4(bg, core::ptr::null_mut(), 0);
    forkos_user::println!("[done]");
    0
}

static HANDLED: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(0);

extern "C" fn count_signal(_sig: i32) {
    HANDLED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
}

/// A read of the terminal that waits for input ends at a signal (Linux `n_tty_read`'s
/// `-ERESTARTSYS`): with `EINTR` after a handler without `SA_RESTART`; with one, the
/// read goes on waiting. Nothing is typed on the console meanwhile.
pub fn tty_read_interrupted() -> T {
    for restart in [false, true] {
        let reader = sys::fork();
        if reader == 0 {
            let flags = if restart { sys::SA_RESTART } else { 0 };
            sys::set_handler(sys::SIGUSR1, count_signal as *const () as usize, flags);
            let r = sys::read(0, &mut [0u8; 8]);
            let handled = HANDLED.load(core::sync::atomic::Ordering::SeqCst);
            sys::exit(if r == -sys::EINTR && handled >= 1 {
                4
            } else {
                100
            });
        }
        let reader = reader as i32;
        // Signal until the read is over, or three times.
        let mut st = 0;
        for _ in 0..3 {
            sys::sleep_ms(40);
            sys::kill(reader, sys::SIGUSR1);
            sys::sleep_ms(40);
            if sys::wait4(reader, &mut st, sys::WNOHANG) == reader as isize {
                break;
            }
            st = -1;
        }
        if restart {
            check_eq!(st, -1, "the reader under SA_RESTART is still reading");
            sys::kill(reader, sys::SIGKILL);
            check_eq!(
                wait_opts(reader, 0)?,
                crate::util::killed(sys::SIGKILL),
                "the reader"
            );
        } else {
            check_eq!(
                Status(st),
                crate::util::exited(4),
                "the reader's read was interrupted (EINTR)"
            );
        }
    }
    Ok(())
}

/// A session leader's exit hangs its terminal up (Linux `disassociate_ctty(1)` ->
/// `tty_vhangup_session`): the foreground group gets `SIGHUP`; a background group
/// does not, but the terminal's files it holds are hung up: a read gives 0, a write
/// and an `ioctl` `EIO` (`TIOCSPGRP` `ENOTTY`), `poll` says `POLLHUP`; `/dev/console`
/// is not hung up; the terminal is free for the next session.
pub fn tty_session_leader_exit_hangs_up() -> T {
    let (rd, wr) = pipe()?;
    let (go_rd, go_wr) = pipe()?;
    let leader = sys::fork();
    if leader == 0 {
        sys::setsid();
        let fd = open(b"/dev/ttyAMA0", sys::O_RDWR) as i32;
        let fg = sleeper_in_own_group();
        let bg = sys::fork() as i32;
        if bg == 0 {
            sys::setpgid(0, 0);
            // Once init says the leader is gone: the terminal's file is hung up.
            sys::read(go_rd, &mut [0u8; 1]);
            let mut t = [0u8; 64];
            let mut pfd = [forkos_lib::uapi::poll::PollFd {
                fd,
                events: 1,
                revents: 0,
            }];
            let checks = [
                sys::read(fd, &mut t) == 0,
                sys::write(fd, b"x") == -EIO,
                ioctl(fd, sys::TCGETS, t.as_mut_ptr() as usize) == -EIO,
                setpgrp_of_tty(fd, sys::getpid() as i32) == -ENOTTY,
                ppoll(&mut pfd, None) == 1 && pfd[0].revents & 0x10 != 0,
                ioctl(0, sys::TCGETS, t.as_mut_ptr() as usize) == 0,
            ];
            let failed = checks.iter().position(|ok| !ok).map_or(0, |i| i + 1);
            sys::exit(failed as i32);
        }
        sys::setpgid(bg, bg);
        setpgrp_of_tty(fd, fg);
        // Tell init who they are, then exit with the terminal.
        let pids = [fg, bg];
        // SAFETY: two i32 viewed as their eight bytes, for the pipe.
        let bytes = unsafe { core::slice::from_raw_parts(pids.as_ptr() as *const u8, 8) };
        sys::write(wr, bytes);
        sys::exit(0);
    }
    let mut pids = [0i32; 2];
    // SAFETY: two i32 filled from the eight bytes the leader sent.
    let bytes = unsafe { core::slice::from_raw_parts_mut(pids.as_mut_ptr() as *mut u8, 8) };
    check_eq!(sys::read(rd, bytes), 8, "the leader's message");
    check_eq!(
        wait_opts(leader as i32, 0)?,
        Status(0),
        "the session leader"
    );
    let [fg, bg] = pids;
    // Both are init's now.
    check_eq!(
        wait_opts(fg, 0)?,
        crate::util::killed(sys::SIGHUP),
        "the foreground group"
    );
    let mut st = 0;
    sys::sleep_ms(50);
    check_eq!(
        sys::wait4(bg, &mut st, sys::WNOHANG),
        0,
        "the background group still runs"
    );
    sys::write(go_wr, b"g");
    check_eq!(
        wait_opts(bg, 0)?,
        crate::util::exited(0),
        "the background process's hung-up file (exit N: check N failed)"
    );
    for fd in [rd, wr, go_rd, go_wr] {
        sys::close(fd);
    }
    next_session_gets_tty()
}

/// `TIOCSCTTY` on a terminal another session controls: `EPERM`, unless the argument is
/// 1 and the caller may (`CAP_SYS_ADMIN`; root here, on Linux as on forkos): then the
/// terminal changes session, and the old session's processes lose it.
pub fn tty_sctty_steal() -> T {
    // first -> init: it has the terminal; second -> first: it took it; first ->
    // second: it checked (before the second's exit hangs the terminal up).
    let (ready_rd, ready_wr) = pipe()?;
    let (taken_rd, taken_wr) = pipe()?;
    let (checked_rd, checked_wr) = pipe()?;
    let first = child(|| {
        sys::setsid();
        let fd = open(b"/dev/ttyAMA0", sys::O_RDWR) as i32;
        check_eq!(
            getsid_of_tty(fd),
            sys::getpid(),
            "the first session's terminal"
        );
        sys::write(ready_wr, b"r");
        sys::read(taken_rd, &mut [0u8; 1]);
        let pgrp = getpgrp_of_tty(fd);
        let tty = open(b"/dev/tty", sys::O_RDWR);
        sys::write(checked_wr, b"c");
        check_eq!(pgrp, -ENOTTY, "TIOCGPGRP after the terminal was taken");
        check_eq!(tty, -ENXIO, "/dev/tty after it was taken");
        Ok(())
    })?;
    sys::read(ready_rd, &mut [0u8; 1]);
    let second = child(|| {
        let me = sys::getpid();
        sys::setsid();
        let r0 = ioctl(0, sys::TIOCSCTTY, 0);
        let r1 = ioctl(0, sys::TIOCSCTTY, 1);
        sys::write(taken_wr, b"t");
        sys::read(checked_rd, &mut [0u8; 1]);
        check_eq!(r0, -sys::EPERM, "TIOCSCTTY 0, another session's");
        check_eq!(r1, 0, "TIOCSCTTY 1, another session's");
        check_eq!(getsid_of_tty(0), me, "TIOCGSID after taking it");
        check_eq!(getpgrp_of_tty(0), me, "TIOCGPGRP after taking it");
        Ok(())
    })?;
    let r = expect_ok(second);
    expect_ok(first)?;
    for fd in [
        ready_rd, ready_wr, taken_rd, taken_wr, checked_rd, checked_wr,
    ] {
        sys::close(fd);
    }
    r
}
