//! Opening and closing files, and the calls that change a file's attributes or the
//! working directory (Linux `fs/open.c`, `fs/d_path.c`'s `getcwd`, `fs/utimes.c`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::fdtable::{current_files, fget, fget_raw};
use super::file::*;
use super::fs_struct::current_fs;
use super::inode::*;
use super::namei::{self, getname, path_lookupat, path_parentat, Last};
use super::ramfs::{self, NAMESPACE_LOCK};
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::resource::RLIMIT_NOFILE;
use crate::task::current;
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::stat::*;
use forkos_lib::uapi::time::Timespec;

/// The most descriptors the running process may have (Linux `rlimit(RLIMIT_NOFILE)`).
pub fn nofile_limit() -> usize {
    current().signal.inner.lock().rlim[RLIMIT_NOFILE].cur as usize
}

/// Open `inode` (Linux `do_dentry_open` after `may_open`): `EISDIR` for a directory
/// opened to write, `ENOTDIR` for `O_DIRECTORY` on anything else, `ELOOP` for a link.
pub fn open_inode(inode: Arc<Inode>, flags: u32) -> Result<Arc<File>, Errno> {
    let acc = flags & O_ACCMODE;
    let mode = inode.mode();
    if flags & O_PATH != 0 {
        if flags & O_DIRECTORY != 0 && mode & S_IFMT != S_IFDIR {
            return Err(ENOTDIR);
        }
        return Ok(File::new(
            inode,
            &ramfs::EmptyOps,
            FMODE_PATH,
            flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
        ));
    }
    match mode & S_IFMT {
        S_IFLNK => return Err(ELOOP),
        // O_TRUNC asks to write, too (Linux `build_open_flags`).
        S_IFDIR if acc != O_RDONLY || flags & O_TRUNC != 0 => return Err(EISDIR),
        S_IFDIR => {}
        _ if flags & O_DIRECTORY != 0 => return Err(ENOTDIR),
        _ => {}
    }
    let f_op = ramfs::file_ops(&inode)?;
    let mut f_mode = match acc {
        O_RDONLY => FMODE_READ,
        O_WRONLY => FMODE_WRITE,
        O_RDWR => FMODE_READ | FMODE_WRITE,
        _ => 0,
    };
    if mode & S_IFMT != S_IFCHR {
        f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
    } else if !matches!(
        inode.i.lock().rdev,
        (5, _) | crate::drivers::tty::TTYAMA0_RDEV
    ) {
        // The memory devices may seek and read at an offset; a terminal may not.
        f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
    }
    if flags & O_TRUNC != 0 && mode & S_IFMT == S_IFREG {
        do_truncate(&inode, 0)?;
    }
    let private = f_op.open(&inode, f_mode, flags)?;
    // A 64-bit kernel opens every file as large (Linux `force_o_largefile`).
    Ok(File::new_opened(
        inode,
        f_op,
        f_mode,
        flags | O_LARGEFILE,
        private,
    ))
}

/// Cut or extend a regular file to `length` bytes (Linux `do_truncate`).
pub fn do_truncate(inode: &Inode, length: u64) -> Result<(), Errno> {
    let now = current_time();
    let mut i = inode.i.lock();
    let InodeData::Reg(d) = &mut i.data else {
        return Err(EINVAL);
    };
    d.set_len(length as usize)?;
    i.mtime = now;
    i.ctime = now;
    Ok(())
}

/// Find or make the file `path` names for `open` (Linux `path_openat` -> `open_last_lookups`).
fn do_filp_open(dirfd: u64, path: &[u8], flags: u32, mode: u32) -> Result<Arc<Inode>, Errno> {
    if flags & O_CREAT == 0 {
        let follow = flags & O_NOFOLLOW == 0;
        let inode = path_lookupat(dirfd, path, follow || path.ends_with(b"/"))?;
        if path.ends_with(b"/") && !inode.is_dir() {
            return Err(ENOTDIR);
        }
        return Ok(inode);
    }
    let (dir, last, trailing) = path_parentat(dirfd, path)?;
    let name = match last {
        Last::Norm(n) => n,
        // O_CREAT of ".", ".." or "/": a directory.
        _ => return Err(EISDIR),
    };
    if trailing {
        return Err(EISDIR);
    }
    let _ns = NAMESPACE_LOCK.lock();
    match dir.lookup(&name) {
        Ok(existing) => {
            if flags & O_EXCL != 0 {
                return Err(EEXIST);
            }
            let inode = if existing.is_symlink() && flags & O_NOFOLLOW == 0 {
                drop(_ns);
                namei::follow_link(&dir, existing)?
            } else {
                existing
            };
            if inode.is_dir() {
                return Err(EISDIR);
            }
            Ok(inode)
        }
        Err(ENOENT) => {
            let mode = (mode & S_IALLUGO) & !current_fs().umask();
            ramfs::mknod(&dir, &name, S_IFREG | mode, None)
        }
        Err(e) => Err(e),
    }
}

/// `openat(dirfd, path, flags, mode)` (Linux `do_sys_openat2`): the lowest free
/// descriptor, `EMFILE` past `RLIMIT_NOFILE`.
pub fn sys_openat(dirfd: u64, path: UserPtr<u8>, flags: u64, mode: u64) -> SysResult {
    let flags = flags as u32;
    // Linux `build_open_flags`: O_TMPFILE needs O_DIRECTORY's bit and write access;
    // forkos's ramfs cannot make one.
    if flags & O_TMPFILE == O_TMPFILE {
        if flags & O_ACCMODE == O_RDONLY {
            return Err(EINVAL);
        }
        return Err(EOPNOTSUPP);
    }
    let name = getname(path, false)?;
    let files = current_files();
    // The descriptor is taken before the file is looked up (Linux `get_unused_fd_flags`).
    let limit = nofile_limit();
    {
        let t = files.fdt.lock();
        let free = (0..)
            .find(|&fd| t.fd.get(fd).is_none_or(Option::is_none))
            .unwrap_or(0);
        if free >= limit {
            return Err(EMFILE);
        }
    }
    let inode = do_filp_open(dirfd, &name, flags, mode as u32)?;
    let file = open_inode(inode, flags)?;
    let fd = files.alloc_fd(0, limit, file, flags & O_CLOEXEC != 0)?;
    Ok(fd as i64)
}

/// `close(fd)` (Linux `close_fd`).
pub fn sys_close(fd: u64) -> SysResult {
    current_files().close_fd(fd as u32)?;
    Ok(0)
}

/// `ftruncate(fd, length)` (Linux `do_sys_ftruncate`).
pub fn sys_ftruncate(fd: u64, length: u64) -> SysResult {
    if (length as i64) < 0 {
        return Err(EINVAL);
    }
    let f = fget(fd)?;
    if !f.f_inode.is_reg() || f.f_mode & FMODE_WRITE == 0 {
        return Err(EINVAL);
    }
    do_truncate(&f.f_inode, length)?;
    Ok(0)
}

/// `faccessat(dirfd, path, mode)` (Linux `do_faccessat`): forkos runs everyone as
/// root, who may read and write anything and execute what has an execute bit.
pub fn sys_faccessat(dirfd: u64, path: UserPtr<u8>, mode: u64) -> SysResult {
    if mode & !7 != 0 {
        return Err(EINVAL);
    }
    let name = getname(path, false)?;
    let inode = path_lookupat(dirfd, &name, true)?;
    let m = inode.mode();
    if mode as u32 & X_OK != 0 && m & S_IFMT != S_IFDIR && m & 0o111 == 0 {
        return Err(EACCES);
    }
    Ok(0)
}

/// Change the permission bits (Linux `chmod_common`).
fn chmod_common(inode: &Inode, mode: u64) -> SysResult {
    {
        let mut i = inode.i.lock();
        i.mode = (i.mode & S_IFMT) | (mode as u32 & S_IALLUGO);
    }
    inode.touch(false);
    Ok(0)
}

/// `fchmod(fd, mode)`.
pub fn sys_fchmod(fd: u64, mode: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_PATH != 0 {
        return Err(EBADF);
    }
    chmod_common(&f.f_inode, mode)
}

/// `fchmodat(dirfd, path, mode)` (the syscall has no flags; links are followed).
pub fn sys_fchmodat(dirfd: u64, path: UserPtr<u8>, mode: u64) -> SysResult {
    let name = getname(path, false)?;
    let inode = path_lookupat(dirfd, &name, true)?;
    chmod_common(&inode, mode)
}

/// `fchown(fd, owner, group)` (Linux `ksys_fchown`): -1 leaves one as it is.
pub fn sys_fchown(fd: u64, owner: u64, group: u64) -> SysResult {
    let f = fget(fd)?;
    if f.f_mode & FMODE_PATH != 0 {
        return Err(EBADF);
    }
    {
        let mut i = f.f_inode.i.lock();
        if owner as u32 != u32::MAX {
            i.uid = owner as u32;
        }
        if group as u32 != u32::MAX {
            i.gid = group as u32;
        }
    }
    f.f_inode.touch(false);
    Ok(0)
}

/// `chdir(path)` (Linux `sys_chdir`).
pub fn sys_chdir(path: UserPtr<u8>) -> SysResult {
    let name = getname(path, false)?;
    let inode = path_lookupat(AT_FDCWD as u64, &name, true)?;
    if !inode.is_dir() {
        return Err(ENOTDIR);
    }
    current_fs().inner.lock().pwd = inode;
    Ok(0)
}

/// `fchdir(fd)` (Linux `sys_fchdir`).
pub fn sys_fchdir(fd: u64) -> SysResult {
    let f = fget_raw(fd)?;
    if !f.f_inode.is_dir() {
        return Err(ENOTDIR);
    }
    current_fs().inner.lock().pwd = f.f_inode.clone();
    Ok(0)
}

/// The name of `dir` in its parent (Linux keeps it in the dentry).
fn name_in_parent(parent: &Inode, dir: &Arc<Inode>) -> Option<Vec<u8>> {
    match &parent.i.lock().data {
        InodeData::Dir(d) => d
            .entries
            .iter()
            .find(|(_, i)| Arc::ptr_eq(i, dir))
            .map(|(n, _)| n.clone()),
        _ => None,
    }
}

/// `getcwd(buf, size)` (Linux `sys_getcwd`): the path and its NUL, `ERANGE` if it does
/// not fit, `ENOENT` if the directory was removed.
pub fn sys_getcwd(buf: UserPtr<u8>, size: u64) -> SysResult {
    let fs = current_fs();
    let (root, pwd) = (fs.root(), fs.pwd());
    if pwd.i.lock().nlink == 0 {
        return Err(ENOENT);
    }
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut d = pwd;
    while !Arc::ptr_eq(&d, &root) {
        let p = d.parent();
        if Arc::ptr_eq(&p, &d) {
            break;
        }
        parts.push(name_in_parent(&p, &d).ok_or(ENOENT)?);
        d = p;
    }
    let mut path = Vec::new();
    for p in parts.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(p);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    path.push(0);
    if path.len() as u64 > size {
        return Err(ERANGE);
    }
    crate::mm::uaccess::copy_to_user(buf, &path)?;
    Ok(path.len() as i64)
}

/// One time for `utimensat`: now, the given one, or none (Linux `do_utimes`).
fn utime(ts: &Timespec) -> Result<Option<Time>, Errno> {
    match ts.tv_nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(current_time())),
        n if (0..1_000_000_000).contains(&n) => Ok(Some(Time {
            sec: ts.tv_sec,
            nsec: n as u32,
        })),
        _ => Err(EINVAL),
    }
}

/// `utimensat(dirfd, path, times, flags)` (Linux `sys_utimensat` -> `do_utimes`): the
/// times are read first (`EFAULT`), and two `UTIME_OMIT` do nothing, not even look the
/// path up; no times is now; a bad nanosecond count is `EINVAL` once the file is found. A null path is the file `dirfd` (`do_utimes_fd`, which
/// takes no flags).
pub fn sys_utimensat(
    dirfd: u64,
    path: UserPtr<u8>,
    times: UserPtr<[Timespec; 2]>,
    flags: u64,
) -> SysResult {
    let t = if times.is_null() {
        None
    } else {
        let t = times.read()?;
        if t[0].tv_nsec == UTIME_OMIT && t[1].tv_nsec == UTIME_OMIT {
            return Ok(0);
        }
        Some(t)
    };
    let inode = if path.is_null() && dirfd as i32 != AT_FDCWD {
        if flags != 0 {
            return Err(EINVAL);
        }
        fget(dirfd)?.f_inode.clone()
    } else {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
            return Err(EINVAL);
        }
        let name = getname(path, flags & AT_EMPTY_PATH != 0)?;
        if name.is_empty() {
            if dirfd as i32 == AT_FDCWD {
                current_fs().pwd()
            } else {
                fget_raw(dirfd)?.f_inode.clone()
            }
        } else {
            path_lookupat(dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?
        }
    };
    // The times are checked once the file is found (Linux `vfs_utimes`).
    let (atime, mtime) = match &t {
        None => (Some(current_time()), Some(current_time())),
        Some(t) => (utime(&t[0])?, utime(&t[1])?),
    };
    let now = current_time();
    let mut i = inode.i.lock();
    if let Some(a) = atime {
        i.atime = a;
    }
    if let Some(m) = mtime {
        i.mtime = m;
    }
    i.ctime = now;
    Ok(0)
}
