//! Character devices (Linux `fs/char_dev.c`'s `chrdev_open`, `drivers/char/mem.c`'s
//! `/dev/null` and `/dev/zero`, `drivers/tty/tty_io.c`'s console).
//!
//! A device file's number picks its operations when it is opened ([`chrdev_ops`]):
//! 1:3 `/dev/null`, 1:5 `/dev/zero`, 5:1 `/dev/console`. `/dev/tty` (5:0) is the
//! controlling terminal, which no process has yet (job control comes later): opening it
//! is `ENXIO`, as on Linux for a process without one. forkos has no tty line discipline
//! yet: the console writes as before, and a read takes what has been typed without
//! waiting. `/dev/null` and `/dev/zero` keep the default `poll` (always ready, as
//! Linux's have none); the console's is readable when a byte is waiting.

use super::file::{File, FileOperations};
use crate::errno::*;
use crate::iov_iter::IovIter;
use crate::mm::uaccess::UserPtr;
use forkos_lib::uapi::ioctls::*;
use forkos_lib::uapi::poll::*;

/// The operations of device `(major, minor)` (Linux `chrdev_open` -> `memory_open` /
/// `tty_open`): `ENXIO` for a number with no driver.
pub fn chrdev_ops(rdev: (u32, u32)) -> Result<&'static dyn FileOperations, Errno> {
    match rdev {
        (1, 3) => Ok(&NullOps),
        (1, 5) => Ok(&ZeroOps),
        (5, 1) => Ok(&TtyOps),
        _ => Err(ENXIO),
    }
}

/// `/dev/null` (Linux `null_fops`): reads end at once, writes take everything.
pub struct NullOps;

impl FileOperations for NullOps {
    fn read(&self, _file: &File, _to: &mut IovIter, _pos: &mut i64) -> SysResult {
        Ok(0)
    }
    fn write(&self, _file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        Ok(from.count() as i64)
    }
    /// Linux `null_lseek`: the position is always 0.
    fn llseek(&self, _file: &File, _pos: i64, _offset: i64, _whence: u32) -> Result<i64, Errno> {
        Ok(0)
    }
}

/// `/dev/zero` (Linux `zero_fops`): reads give zeroes, writes take everything.
pub struct ZeroOps;

impl FileOperations for ZeroOps {
    fn read(&self, _file: &File, to: &mut IovIter, _pos: &mut i64) -> SysResult {
        let zeroes = [0u8; 512];
        let mut done = 0i64;
        while to.count() > 0 {
            let n = (to.count() as usize).min(zeroes.len());
            let copied = to.copy_to_iter(&zeroes[..n]);
            done += copied as i64;
            if copied < n {
                return if done > 0 { Ok(done) } else { Err(EFAULT) };
            }
        }
        Ok(done)
    }
    fn write(&self, _file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        Ok(from.count() as i64)
    }
    fn llseek(&self, _file: &File, _pos: i64, _offset: i64, _whence: u32) -> Result<i64, Errno> {
        Ok(0)
    }
}

/// The console, a terminal (Linux `tty_fops` on `/dev/console`).
pub struct TtyOps;

impl FileOperations for TtyOps {
    /// What has been typed, without waiting: `EAGAIN` when nothing has (no line
    /// discipline yet; Linux's `n_tty_read` would sleep).
    fn read(&self, _file: &File, to: &mut IovIter, _pos: &mut i64) -> SysResult {
        let mut done = 0i64;
        while to.count() > 0 {
            let Some(c) = crate::console::poll_input() else {
                break;
            };
            if to.copy_to_iter(&[c]) != 1 {
                return if done > 0 { Ok(done) } else { Err(EFAULT) };
            }
            done += 1;
        }
        if done == 0 && to.count() > 0 {
            return Err(EAGAIN);
        }
        Ok(done)
    }
    fn write(&self, _file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        tty_write(from)
    }
    fn ioctl(&self, _file: &File, cmd: u64, arg: u64) -> SysResult {
        tty_ioctl(cmd, arg)
    }
    /// Always writable; readable when a byte has been typed (Linux `n_tty_poll`,
    /// without a line discipline). Typing does not wake a poller: it sees the byte at
    /// its next look (its timeout, or another file's change).
    fn poll(&self, _file: &File) -> u32 {
        let mut mask = POLLOUT | POLLWRNORM;
        if crate::console::input_pending() {
            mask |= POLLIN | POLLRDNORM;
        }
        mask
    }
}

/// How much of a write the console takes at a time (Linux `iterate_tty_write`'s
/// default chunk).
const TTY_WRITE_CHUNK: usize = 2048;

/// Write the bytes of `from` to the console (Linux `tty_write` / `iterate_tty_write`),
/// a chunk of [`TTY_WRITE_CHUNK`] bytes at a time, each copied whole before any of it
/// is printed. A chunk that cannot be read whole ends the write: nothing of it is
/// printed, and the call returns the bytes of the chunks before it, or `EFAULT` if
/// there were none.
pub fn tty_write(from: &mut crate::iov_iter::IovIter) -> SysResult {
    let mut buf = [0u8; TTY_WRITE_CHUNK];
    let mut written = 0i64;
    while from.count() > 0 {
        let size = (from.count() as usize).min(TTY_WRITE_CHUNK);
        if from.copy_from_iter(&mut buf[..size]) != size {
            return if written > 0 {
                Ok(written)
            } else {
                Err(EFAULT)
            };
        }
        crate::console::write_bytes(&buf[..size]);
        written += size as i64;
    }
    Ok(written)
}

/// The console's terminal settings (Linux `tty_std_termios`: `ICRNL|IXON`,
/// `OPOST|ONLCR`, `B38400|CS8|CREAD|HUPCL`, `ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|
/// ECHOKE|IEXTEN`, and the usual control characters).
static TERMIOS: spin::Mutex<[u8; 36]> = spin::Mutex::new({
    let mut t = [0u8; 36];
    let words: [u32; 4] = [0o2400, 0o5, 0o2277, 0o105073];
    let mut i = 0;
    while i < 4 {
        let b = words[i].to_le_bytes();
        t[i * 4] = b[0];
        t[i * 4 + 1] = b[1];
        t[i * 4 + 2] = b[2];
        t[i * 4 + 3] = b[3];
        i += 1;
    }
    let cc: [u8; 17] = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0];
    let mut j = 0;
    while j < cc.len() {
        t[17 + j] = cc[j];
        j += 1;
    }
    t
});

/// `ioctl` on the console, a terminal (Linux `tty_ioctl`): get and set
/// its termios (which is how `isatty` asks), and its window size (unknown: zeroes, as a
/// serial console reports). Other requests are not for a terminal: `ENOTTY`.
fn tty_ioctl(cmd: u64, arg: u64) -> SysResult {
    // What `arg` points to depends on the request (Linux passes it on as an `unsigned
    // long` too).
    match cmd & 0xffff_ffff {
        TCGETS => {
            let t = *TERMIOS.lock();
            UserPtr::<[u8; 36]>::new(arg).write(&t)?;
        }
        TCSETS | TCSETSW | TCSETSF => {
            let t = UserPtr::<[u8; 36]>::new(arg).read()?;
            *TERMIOS.lock() = t;
        }
        TIOCGWINSZ => UserPtr::<[u8; 8]>::new(arg).write(&[0u8; 8])?,
        _ => return Err(ENOTTY),
    }
    Ok(0)
}
