//! The terminal (Linux `drivers/tty/tty_io.c`): the console's UART as a tty, with the
//! `n_tty` line discipline between the receive interrupt and `read`.
//!
//! forkos has one terminal, [`CONSOLE_TTY`], reached through three device files, as on
//! Linux under QEMU: `/dev/ttyAMA0` (204:64) is the UART itself, `/dev/console` (5:1)
//! redirects to it, and `/dev/tty` (5:0) is the caller's controlling terminal. Bytes come
//! in through the UART's receive interrupt ([`serial_core::uart_insert_char`]), go
//! through the line discipline ([`n_tty`]: editing, echo, signal characters) and wake
//! readers. Sessions and process groups meet the terminal in [`tty_jobctrl`]: which
//! session it controls, its foreground group, and the checks that stop a background
//! reader or writer. The line discipline's pure logic is `forkos_lib::n_tty`.

pub mod n_tty;
pub mod serial_core;
pub mod tty_jobctrl;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::*;
use crate::fs::file::{File, FileOperations, PrivateData};
use crate::fs::inode::Inode;
use crate::iov_iter::IovIter;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::LazyWaitQueue;
use crate::sync::IrqSpinLock;
use crate::task::Pid;
use forkos_lib::n_tty::NTtyData;
use forkos_lib::uapi::fcntl::{O_NOCTTY, O_NONBLOCK};
use forkos_lib::uapi::ioctls::*;
use forkos_lib::uapi::termbits::{Termios, Winsize};

/// One terminal (Linux `struct tty_struct`).
pub struct TtyStruct {
    /// The line discipline's buffer and the termios (Linux `disc_data`, `termios`,
    /// under `termios_rwsem`); taken by the receive interrupt.
    pub ldisc: IrqSpinLock<NTtyData>,
    /// Its session and foreground group, and the window size (Linux `tty->ctrl`,
    /// `winsize`).
    pub ctrl: IrqSpinLock<TtyCtrl>,
    /// Readers sleep here until a line (or a byte) comes (Linux `read_wait`).
    pub read_wait: LazyWaitQueue,
    /// How many times the terminal was hung up ([`tty_vhangup_session`]): a file
    /// opened before the last hangup is hung up (Linux gives such files
    /// `hung_up_tty_fops`).
    pub hangups: AtomicU64,
}

/// What a terminal file (not `/dev/console`) keeps (Linux `struct tty_file_private`):
/// the hangup count when it was opened.
pub struct TtyFilePrivate {
    hangups_at_open: u64,
}

/// Has the terminal been hung up since `file` was opened (Linux `tty_hung_up_p`)?
/// Never for `/dev/console`, whose files Linux does not hang up.
pub fn tty_hung_up_p(tty: &TtyStruct, file: &File) -> bool {
    file.private_data
        .as_ref()
        .and_then(|p| p.downcast_ref::<TtyFilePrivate>())
        .is_some_and(|p| p.hangups_at_open != tty.hangups.load(Ordering::Acquire))
}

/// Hang the terminal up (Linux `tty_vhangup_session` -> `__tty_hangup`): every file
/// open on it (`/dev/console`'s aside) is hung up from now on: a read gives 0, a
/// write `EIO`, an `ioctl` `EIO`; typed input is dropped; sleeping readers wake to
/// see it.
pub fn tty_vhangup_session(tty: &TtyStruct) {
    tty.hangups.fetch_add(1, Ordering::AcqRel);
    tty.ldisc.lock().reset_buffer_flags();
    n_tty::wake_readers(tty);
}

/// What [`TtyStruct::ctrl`] guards (Linux `tty->ctrl`).
pub struct TtyCtrl {
    /// The foreground process group, 0 for none (Linux `ctrl.pgrp`).
    pub pgrp: Pid,
    /// The session it is the controlling terminal of, 0 for none (Linux `ctrl.session`).
    pub session: Pid,
    /// Rows and columns: 0 by 0 on a serial line, as Linux reports for the PL011.
    pub winsize: Winsize,
}

/// The console's terminal, the PL011 (Linux's `ttyAMA0`).
pub static CONSOLE_TTY: TtyStruct = TtyStruct {
    ldisc: IrqSpinLock::new(NTtyData::new()),
    ctrl: IrqSpinLock::new(TtyCtrl {
        pgrp: 0,
        session: 0,
        winsize: Winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    }),
    read_wait: LazyWaitQueue::new(),
    hangups: AtomicU64::new(0),
};

/// `/dev/ttyAMA0`'s device number (Linux `SERIAL_AMBA_MAJOR`, `SERIAL_AMBA_MINOR`).
pub const TTYAMA0_RDEV: (u32, u32) = (204, 64);

/// The file operations of a terminal (Linux `tty_fops`), and of `/dev/console`
/// (`console_fops`, whose reads and writes skip the job-control checks).
pub struct TtyFops {
    console: bool,
}

/// Linux `tty_fops`.
pub static TTY_FOPS: TtyFops = TtyFops { console: false };
/// Linux `console_fops`.
pub static CONSOLE_FOPS: TtyFops = TtyFops { console: true };

impl FileOperations for TtyFops {
    /// Linux `tty_open`: `/dev/tty` is the caller's controlling terminal or `ENXIO`;
    /// opening the terminal itself (not `/dev/console`) without `O_NOCTTY` makes it the
    /// controlling terminal of a session leader that has none
    /// (`tty_open_proc_set_tty`).
    fn open(&self, inode: &Inode, f_mode: u32, flags: u32) -> Result<Option<PrivateData>, Errno> {
        let tty = &CONSOLE_TTY;
        let rdev = inode.i.lock().rdev;
        // Linux `tty_alloc_file`: what this file keeps (the console's files are never
        // hung up, so they need nothing).
        let private: Option<PrivateData> = (!self.console).then(|| {
            Arc::new(TtyFilePrivate {
                hangups_at_open: tty.hangups.load(Ordering::Acquire),
            }) as PrivateData
        });
        if rdev == (5, 0) {
            // Linux `tty_open_current_tty`.
            if !tty_jobctrl::current_has_tty() {
                return Err(ENXIO);
            }
            return Ok(private);
        }
        let noctty = flags & O_NOCTTY != 0 || rdev == (5, 1);
        if !noctty {
            tty_jobctrl::tty_open_proc_set_tty(tty, f_mode);
        }
        Ok(private)
    }
    /// Linux `tty_read`; hung up: 0 (`hung_up_tty_read`).
    fn read(&self, file: &File, to: &mut IovIter, _pos: &mut i64) -> SysResult {
        if tty_hung_up_p(&CONSOLE_TTY, file) {
            return Ok(0);
        }
        n_tty::n_tty_read(&CONSOLE_TTY, file, self.console, to)
    }
    /// Linux `tty_write`; hung up: `EIO` (`hung_up_tty_write`).
    fn write(&self, file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        if tty_hung_up_p(&CONSOLE_TTY, file) {
            return Err(EIO);
        }
        n_tty::n_tty_write(&CONSOLE_TTY, file, self.console, from)
    }
    /// Linux `tty_ioctl`; hung up: `EIO`, `ENOTTY` for `TIOCSPGRP`
    /// (`hung_up_tty_ioctl`).
    fn ioctl(&self, file: &File, cmd: u64, arg: u64) -> SysResult {
        if tty_hung_up_p(&CONSOLE_TTY, file) {
            return Err(if cmd & 0xffff_ffff == TIOCSPGRP {
                ENOTTY
            } else {
                EIO
            });
        }
        tty_ioctl(&CONSOLE_TTY, file, cmd, arg)
    }
    /// Linux `tty_poll`; hung up: everything, and an error and a hangup
    /// (`hung_up_tty_poll`).
    fn poll(&self, file: &File) -> u32 {
        if tty_hung_up_p(&CONSOLE_TTY, file) {
            use forkos_lib::uapi::poll::*;
            return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;
        }
        n_tty::n_tty_poll(&CONSOLE_TTY)
    }
}

/// Is the file open non-blocking (Linux `tty_io_nonblock`)?
fn nonblocking(file: &File) -> bool {
    file.flags() & O_NONBLOCK != 0
}

/// `ioctl` on a terminal (Linux `tty_ioctl`, with `tty_jobctrl_ioctl`, `n_tty_ioctl`
/// and `tty_mode_ioctl`). Requests a terminal does not know are `ENOTTY`.
fn tty_ioctl(tty: &TtyStruct, file: &File, cmd: u64, arg: u64) -> SysResult {
    match cmd & 0xffff_ffff {
        TIOCGWINSZ => {
            let ws = tty.ctrl.lock().winsize;
            UserPtr::<Winsize>::new(arg).write(&ws)?;
            Ok(0)
        }
        TIOCSWINSZ => tiocswinsz(tty, arg),
        TIOCSCTTY => tty_jobctrl::tiocsctty(tty, file, arg),
        TIOCNOTTY => tty_jobctrl::tiocnotty(),
        TIOCGPGRP => tty_jobctrl::tiocgpgrp(tty, arg),
        TIOCSPGRP => tty_jobctrl::tiocspgrp(tty, arg),
        TIOCGSID => tty_jobctrl::tiocgsid(tty, arg),
        FIONREAD => {
            let n = tty.ldisc.lock().inq() as u32;
            UserPtr::<u32>::new(arg).write(&n)?;
            Ok(0)
        }
        TCGETS => {
            let t = tty.ldisc.lock().termios;
            UserPtr::<Termios>::new(arg).write(&t)?;
            Ok(0)
        }
        TCSETS | TCSETSW | TCSETSF => set_termios(tty, cmd & 0xffff_ffff, arg),
        TCSBRK => {
            // Linux: a background process may not; output is sent as written, so
            // there is nothing to wait for (`tcdrain`); 0 also sends a break.
            tty_jobctrl::tty_check_change(tty)?;
            if arg == 0 {
                send_break(250)?;
            }
            Ok(0)
        }
        TIOCOUTQ => {
            // Bytes written and not yet sent: none, the UART takes them as written.
            UserPtr::<i32>::new(arg).write(&0)?;
            Ok(0)
        }
        TCFLSH => {
            // Linux `n_tty_ioctl_helper`: a background group may not flush.
            tty_jobctrl::tty_check_change(tty)?;
            match arg {
                TCIFLUSH | TCIOFLUSH => tty.ldisc.lock().reset_buffer_flags(),
                // Output is sent as it is written: nothing waits to be flushed.
                TCOFLUSH => {}
                _ => return Err(EINVAL),
            }
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// `TCSETS`, `TCSETSW` (after output drains: it is sent as written) and `TCSETSF`
/// (which also drops unread input) (Linux `set_termios`): a background process may
/// not change them ([`tty_jobctrl::tty_check_change`]).
fn set_termios(tty: &TtyStruct, cmd: u64, arg: u64) -> SysResult {
    tty_jobctrl::tty_check_change(tty)?;
    let t = UserPtr::<Termios>::new(arg).read()?;
    let mut ld = tty.ldisc.lock();
    if cmd == TCSETSF {
        ld.reset_buffer_flags();
    }
    ld.set_termios(t);
    drop(ld);
    // Leaving canonical mode may make typed bytes readable (Linux `n_tty_set_termios`
    // wakes the readers).
    n_tty::wake_readers(tty);
    Ok(0)
}

/// Hold the line in a break for `ms` milliseconds (Linux `send_break`); a signal cuts
/// it short with `EINTR`.
fn send_break(ms: u64) -> Result<(), Errno> {
    crate::console::break_ctl(true);
    crate::sched::wait::sleep_ticks((ms * crate::time::HZ).div_ceil(1000));
    crate::console::break_ctl(false);
    if crate::task::current().signal_pending() {
        return Err(EINTR);
    }
    Ok(())
}

/// `TIOCSWINSZ` (Linux `tiocswinsz`): a new size, and `SIGWINCH` to the foreground
/// group if it changed.
fn tiocswinsz(tty: &TtyStruct, arg: u64) -> SysResult {
    let ws = UserPtr::<Winsize>::new(arg).read()?;
    let pgrp = {
        let mut c = tty.ctrl.lock();
        if c.winsize == ws {
            return Ok(0);
        }
        c.winsize = ws;
        c.pgrp
    };
    if pgrp != 0 {
        crate::signal::kill_pgrp(pgrp, crate::signal::SIGWINCH, true);
    }
    Ok(0)
}
