//! Reading and writing open files (Linux `fs/read_write.c`): `read`, `write`, their
//! vector and positioned forms, `lseek`, `sendfile`. Each checks, in Linux's order, the
//! descriptor (`EBADF`), that the file was opened for the transfer (`EBADF`), then the
//! user memory (`EFAULT`), and hands the bytes to the file's
//! [`FileOperations`](super::file::FileOperations) at the file's offset, which it
//! holds locked for the whole transfer (Linux `fdget_pos`).

use alloc::sync::Arc;

use super::fdtable::fget;
use super::file::*;
use crate::errno::*;
use crate::iov_iter::{import_iovec, import_single_range, kvec, IovIter, Iovec, MAX_RW_COUNT};
use crate::mm::uaccess::{access_ok, UserPtr};
use forkos_lib::uapi::fcntl::*;

/// Where a transfer happens: at the file's offset, which it moves, or at a given one.
#[derive(Clone, Copy)]
enum Pos {
    File,
    At(i64),
}

/// Read from `file` into `to` (Linux `vfs_read` / `vfs_iter_read`).
fn do_read(file: &File, to: &mut IovIter, pos: Pos) -> SysResult {
    if file.f_mode & FMODE_READ == 0 {
        return Err(EBADF);
    }
    match pos {
        Pos::File => {
            let mut p = file.f_pos.lock();
            let mut at = *p;
            let r = file.f_op.read(file, to, &mut at);
            *p = at;
            r
        }
        Pos::At(mut at) => file.f_op.read(file, to, &mut at),
    }
}

/// Write `from` to `file` (Linux `vfs_write` / `vfs_iter_write`).
fn do_write(file: &File, from: &mut IovIter, pos: Pos) -> SysResult {
    if file.f_mode & FMODE_WRITE == 0 {
        return Err(EBADF);
    }
    match pos {
        Pos::File => {
            let mut p = file.f_pos.lock();
            let mut at = *p;
            let r = file.f_op.write(file, from, &mut at);
            *p = at;
            r
        }
        Pos::At(mut at) => file.f_op.write(file, from, &mut at),
    }
}

/// The file for a positioned transfer (Linux `ksys_pread64`): a negative offset is
/// `EINVAL` before the descriptor is looked at; a file without offsets `ESPIPE`.
fn positioned(fd: u64, pos: u64, fmode: u32) -> Result<Arc<File>, Errno> {
    if (pos as i64) < 0 {
        return Err(EINVAL);
    }
    let f = fget(fd)?;
    if f.f_mode & fmode == 0 {
        return Err(ESPIPE);
    }
    Ok(f)
}

/// `read(fd, buf, count)` (Linux `ksys_read`).
pub fn sys_read(fd: u64, buf: UserPtr<u8>, count: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_READ == 0 {
        return Err(EBADF);
    }
    let mut to = import_single_range(buf, count)?;
    do_read(&f, &mut to, Pos::File)
}

/// `write(fd, buf, count)` (Linux `ksys_write`): the whole buffer is checked
/// (`access_ok`, even for zero bytes) before the count is clamped to `MAX_RW_COUNT`.
pub fn sys_write(fd: u64, buf: UserPtr<u8>, count: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_WRITE == 0 {
        return Err(EBADF);
    }
    access_ok(buf.addr(), count)?;
    let mut from = import_single_range(buf, count)?;
    do_write(&f, &mut from, Pos::File)
}

/// `readv(fd, iov, iovcnt)` (Linux `do_readv`).
pub fn sys_readv(fd: u64, iov: UserPtr<Iovec>, iovcnt: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_READ == 0 {
        return Err(EBADF);
    }
    let mut to = import_iovec(iov, iovcnt)?;
    if to.count() == 0 {
        return Ok(0);
    }
    do_read(&f, &mut to, Pos::File)
}

/// `writev(fd, iov, iovcnt)` (Linux `do_writev`): the whole vector read and checked,
/// then the write, which writes nothing for a total of zero.
pub fn sys_writev(fd: u64, iov: UserPtr<Iovec>, iovcnt: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_WRITE == 0 {
        return Err(EBADF);
    }
    let mut from = import_iovec(iov, iovcnt)?;
    if from.count() == 0 {
        return Ok(0);
    }
    do_write(&f, &mut from, Pos::File)
}

/// `pread64(fd, buf, count, offset)` (Linux `ksys_pread64`): the file's offset stays.
pub fn sys_pread64(fd: u64, buf: UserPtr<u8>, count: u64, pos: u64) -> SysResult {
    let f = positioned(fd, pos, FMODE_PREAD)?;
    if f.f_mode & FMODE_READ == 0 {
        return Err(EBADF);
    }
    let mut to = import_single_range(buf, count)?;
    do_read(&f, &mut to, Pos::At(pos as i64))
}

/// `pwrite64(fd, buf, count, offset)` (Linux `ksys_pwrite64`).
pub fn sys_pwrite64(fd: u64, buf: UserPtr<u8>, count: u64, pos: u64) -> SysResult {
    let f = positioned(fd, pos, FMODE_PWRITE)?;
    if f.f_mode & FMODE_WRITE == 0 {
        return Err(EBADF);
    }
    access_ok(buf.addr(), count)?;
    let mut from = import_single_range(buf, count)?;
    do_write(&f, &mut from, Pos::At(pos as i64))
}

/// `lseek(fd, offset, whence)` (Linux `ksys_lseek` -> `vfs_llseek`).
pub fn sys_lseek(fd: u64, offset: u64, whence: u64) -> SysResult {
    let f = fget(fd)?;
    if whence > SEEK_HOLE as u64 {
        return Err(EINVAL);
    }
    if f.f_mode & FMODE_LSEEK == 0 {
        return Err(ESPIPE);
    }
    let mut p = f.f_pos.lock();
    let new = f.f_op.llseek(&f, *p, offset as i64, whence as u32)?;
    *p = new;
    Ok(new)
}

/// `sendfile(out_fd, in_fd, offset, count)` (Linux `do_sendfile`): from `in_fd` (at
/// `*offset`, which moves, or at its own offset) to `out_fd`, through a kernel buffer
/// (Linux goes through a pipe).
pub fn sys_sendfile(out_fd: u64, in_fd: u64, offset: UserPtr<i64>, count: u64) -> SysResult {
    let mut pos = if offset.is_null() {
        None
    } else {
        Some(offset.read()?)
    };
    let input = fget(in_fd)?;
    if input.f_mode & FMODE_READ == 0 {
        return Err(EBADF);
    }
    if let Some(p) = pos {
        if input.f_mode & FMODE_PREAD == 0 {
            return Err(ESPIPE);
        }
        if p < 0 {
            return Err(EINVAL);
        }
    }
    let output = fget(out_fd)?;
    if output.f_mode & FMODE_WRITE == 0 {
        return Err(EBADF);
    }
    if output.flags() & O_APPEND != 0 {
        return Err(EINVAL);
    }
    let count = count.min(MAX_RW_COUNT);
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(65536) as usize;
        let mut to = kvec(alloc::vec![0u8; n]);
        let got = match pos {
            Some(p) => do_read(&input, &mut to, Pos::At(p)),
            None => do_read(&input, &mut to, Pos::File),
        };
        let got = match got {
            Ok(0) => break,
            Ok(g) => g,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let mut from = kvec(to.into_kvec());
        let put = match do_write(&output, &mut from, Pos::File) {
            Ok(w) => w,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        if let Some(p) = pos.as_mut() {
            *p += put;
        }
        done += put as u64;
        if put < got {
            break;
        }
    }
    if let Some(p) = pos {
        offset.write(&p)?;
    }
    Ok(done as i64)
}

/// The new offset of a file without an end to seek from (Linux `no_seek_end_llseek`):
/// `SEEK_SET` and `SEEK_CUR` only, never below 0.
pub fn no_seek_end_llseek(pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
    let new = match whence {
        SEEK_SET => Some(offset),
        SEEK_CUR => pos.checked_add(offset),
        _ => return Err(EINVAL),
    };
    match new {
        Some(p) if p >= 0 => Ok(p),
        _ => Err(EINVAL),
    }
}
