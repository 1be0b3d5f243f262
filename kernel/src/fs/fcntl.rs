//! Descriptor calls (Linux `fs/fcntl.c`, `fs/file.c`'s `dup`/`dup3`, `fs/ioctl.c`).

use super::fdtable::{current_files, fget, fget_raw};
use super::open::nofile_limit;
use crate::errno::*;
use forkos_lib::uapi::fcntl::*;

/// `dup(fd)` (Linux `sys_dup`): the lowest free descriptor, close-on-exec clear.
pub fn sys_dup(fd: u64) -> SysResult {
    let files = current_files();
    let f = files.fget(fd as u32)?;
    Ok(files.alloc_fd(0, nofile_limit(), f, false)? as i64)
}

/// `dup3(oldfd, newfd, flags)` (Linux `ksys_dup3`): `newfd` closed first if open;
/// `EINVAL` for the same descriptor or a flag other than `O_CLOEXEC`, `EBADF` for a
/// `newfd` past `RLIMIT_NOFILE`.
pub fn sys_dup3(oldfd: u64, newfd: u64, flags: u64) -> SysResult {
    let (oldfd, newfd) = (oldfd as u32, newfd as u32);
    if flags as u32 & !O_CLOEXEC != 0 {
        return Err(EINVAL);
    }
    if oldfd == newfd {
        return Err(EINVAL);
    }
    if newfd as usize >= nofile_limit() {
        return Err(EBADF);
    }
    let files = current_files();
    let f = files.fget(oldfd)?;
    let old = files.replace_fd(newfd as usize, f, flags as u32 & O_CLOEXEC != 0);
    drop(old);
    Ok(newfd as i64)
}

/// The flags `F_SETFL` may change (Linux `SETFL_MASK`).
const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME;

/// `fcntl(fd, cmd, arg)` (Linux `do_fcntl`): duplicate, the close-on-exec flag, the
/// status flags. Other commands are `EINVAL`.
pub fn sys_fcntl(fd: u64, cmd: u64, arg: u64) -> SysResult {
    let files = current_files();
    let f = fget_raw(fd)?;
    let path_only = f.f_mode & super::file::FMODE_PATH != 0;
    match cmd as u32 {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let limit = nofile_limit();
            if arg >= limit as u64 {
                return Err(EINVAL);
            }
            let cloexec = cmd as u32 == F_DUPFD_CLOEXEC;
            Ok(files.alloc_fd(arg as usize, limit, f, cloexec)? as i64)
        }
        F_GETFD => Ok(files.get_cloexec(fd as u32)? as i64),
        F_SETFD => {
            files.set_cloexec(fd as u32, arg as u32 & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(f.flags() as i64),
        _ if path_only => Err(EBADF),
        F_SETFL => {
            let new = (f.flags() & !SETFL_MASK) | (arg as u32 & SETFL_MASK);
            f.set_flags(new);
            Ok(0)
        }
        F_SETPIPE_SZ | F_GETPIPE_SZ => super::pipe::pipe_fcntl(&f, cmd as u32, arg as u32),
        _ => Err(EINVAL),
    }
}

/// `ioctl(fd, cmd, arg)` (Linux `sys_ioctl` -> `vfs_ioctl`): the file's own requests;
/// files without any answer `ENOTTY`.
pub fn sys_ioctl(fd: u64, cmd: u64, arg: u64) -> SysResult {
    let f = fget(fd)?;
    f.f_op.ioctl(&f, cmd, arg)
}
