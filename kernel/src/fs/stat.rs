//! What `stat` reports (Linux `fs/stat.c`): `newfstatat`, `fstat`, `statx`.

use super::fdtable::fget_raw;
use super::fs_struct::current_fs;
use super::inode::*;
use super::namei::{getname, path_lookupat};
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use alloc::sync::Arc;
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::stat::*;

// SAFETY: `struct stat` is integers only, laid out without padding (128 bytes, as Linux's).
unsafe impl crate::mm::uaccess::Pod for Stat {}
// SAFETY: `struct statx` is integers only, without padding (256 bytes, as Linux's).
unsafe impl crate::mm::uaccess::Pod for Statx {}

/// A device number as `stat` encodes it (Linux `new_encode_dev`).
fn encode_dev((major, minor): (u32, u32)) -> u64 {
    ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
}

/// The device number of the root file system (Linux gives rootfs an anonymous one).
const ROOT_DEV: (u32, u32) = (0, 1);

/// The attributes of `inode` (Linux `generic_fillattr` + `cp_new_stat`).
pub fn stat_inode(inode: &Inode) -> Stat {
    let size = inode.size();
    let i = inode.i.lock();
    Stat {
        st_dev: encode_dev(ROOT_DEV),
        st_ino: inode.ino,
        st_mode: i.mode,
        st_nlink: i.nlink,
        st_uid: i.uid,
        st_gid: i.gid,
        st_rdev: encode_dev(i.rdev),
        st_size: size as i64,
        st_blksize: 4096,
        st_blocks: if matches!(i.data, InodeData::Reg(_)) {
            (size as i64 + 4095) / 4096 * 8
        } else {
            0
        },
        times: [
            i.atime.sec,
            i.atime.nsec as i64,
            i.mtime.sec,
            i.mtime.nsec as i64,
            i.ctime.sec,
            i.ctime.nsec as i64,
        ],
        ..Stat::default()
    }
}

/// The inode a `*stat*at` call names (Linux `vfs_statx`): `path` from `dirfd`, or with
/// `AT_EMPTY_PATH` and an empty path the file `dirfd` itself.
fn statx_inode(dirfd: u64, path: UserPtr<u8>, flags: u64) -> Result<Arc<Inode>, Errno> {
    let name = getname(path, flags & AT_EMPTY_PATH != 0)?;
    if name.is_empty() {
        return if dirfd as i32 == AT_FDCWD {
            Ok(current_fs().pwd())
        } else {
            Ok(fget_raw(dirfd)?.f_inode.clone())
        };
    }
    path_lookupat(dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// `newfstatat(dirfd, path, statbuf, flags)` (Linux `vfs_fstatat`).
pub fn sys_newfstatat(
    dirfd: u64,
    path: UserPtr<u8>,
    statbuf: UserPtr<Stat>,
    flags: u64,
) -> SysResult {
    // The statx sync flags are accepted: there is nothing to sync here.
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(EINVAL);
    }
    let inode = statx_inode(dirfd, path, flags)?;
    let st = stat_inode(&inode);
    statbuf.write(&st)?;
    Ok(0)
}

/// `fstat(fd, statbuf)` (Linux `vfs_fstat`; an `O_PATH` descriptor too).
pub fn sys_fstat(fd: u64, statbuf: UserPtr<Stat>) -> SysResult {
    let st = stat_inode(&fget_raw(fd)?.f_inode);
    statbuf.write(&st)?;
    Ok(0)
}

/// `statx(dirfd, path, flags, mask, statxbuf)` (Linux `do_statx`): the basic
/// attributes, whatever the mask asks.
pub fn sys_statx(
    dirfd: u64,
    path: UserPtr<u8>,
    flags: u64,
    mask: u64,
    buf: UserPtr<Statx>,
) -> SysResult {
    if mask as u32 & STATX__RESERVED != 0 {
        return Err(EINVAL);
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(EINVAL);
    }
    if flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(EINVAL);
    }
    let inode = statx_inode(dirfd, path, flags)?;
    let st = stat_inode(&inode);
    let ts = |sec: i64, nsec: i64| StatxTimestamp {
        tv_sec: sec,
        tv_nsec: nsec as u32,
        reserved: 0,
    };
    let rdev = inode.i.lock().rdev;
    let stx = Statx {
        stx_mask: STATX_BASIC_STATS,
        stx_blksize: st.st_blksize as u32,
        stx_nlink: st.st_nlink,
        stx_uid: st.st_uid,
        stx_gid: st.st_gid,
        stx_mode: st.st_mode as u16,
        stx_ino: st.st_ino,
        stx_size: st.st_size as u64,
        stx_blocks: st.st_blocks as u64,
        stx_atime: ts(st.times[0], st.times[1]),
        stx_mtime: ts(st.times[2], st.times[3]),
        stx_ctime: ts(st.times[4], st.times[5]),
        stx_rdev_major: rdev.0,
        stx_rdev_minor: rdev.1,
        stx_dev_major: ROOT_DEV.0,
        stx_dev_minor: ROOT_DEV.1,
        ..Statx::default()
    };
    buf.write(&stx)?;
    Ok(0)
}
