//! Character devices (Linux `fs/char_dev.c`'s `chrdev_open`, `drivers/char/mem.c`'s
//! `/dev/null` and `/dev/zero`).
//!
//! A device file's number picks its operations when it is opened ([`chrdev_ops`]):
//! 1:3 `/dev/null`, 1:5 `/dev/zero`; the terminal's three names, 204:64 `/dev/ttyAMA0`,
//! 5:1 `/dev/console` and 5:0 `/dev/tty` (the caller's controlling terminal), are the
//! tty layer's (`drivers/tty/`). `/dev/null` and `/dev/zero` keep the default `poll`
//! (always ready, as Linux's have none).

use super::file::{File, FileOperations};
use crate::drivers::tty::{CONSOLE_FOPS, TTYAMA0_RDEV, TTY_FOPS};
use crate::errno::*;
use crate::iov_iter::IovIter;

/// The operations of device `(major, minor)` (Linux `chrdev_open` -> `memory_open` /
/// `tty_open`): `ENXIO` for a number with no driver.
pub fn chrdev_ops(rdev: (u32, u32)) -> Result<&'static dyn FileOperations, Errno> {
    match rdev {
        (1, 3) => Ok(&NullOps),
        (1, 5) => Ok(&ZeroOps),
        (5, 0) | TTYAMA0_RDEV => Ok(&TTY_FOPS),
        (5, 1) => Ok(&CONSOLE_FOPS),
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
