//! Mounts (Linux `fs/namespace.c`): `mount(2)` puts a file system's root over a
//! directory and `umount2` takes it away; path walks step from that directory into it
//! ([`traverse_mounts`]).
//! forkos has one kind of file system to mount, `proc` ([`super::proc`]); the root is
//! the ramfs that never moves.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::inode::Inode;
use super::namei::{getname, path_lookupat};
use crate::errno::*;
use crate::mm::uaccess::{strndup_user, UserPtr};
use crate::sync::IrqSpinLock;
use forkos_lib::uapi::fcntl::AT_FDCWD;

/// One mount (Linux `struct mount`): `root` hides what is under `mountpoint`.
struct Mount {
    mountpoint: Arc<Inode>,
    root: Arc<Inode>,
    /// A first `umount2(MNT_EXPIRE)` marked it (Linux `mnt_expiry_mark`).
    expiry_mark: bool,
}

/// Every mount, oldest first (Linux's mount namespace `mnt_ns->list`).
static MOUNTS: IrqSpinLock<Vec<Mount>> = IrqSpinLock::new(Vec::new());

/// What is seen at `inode`: the root of the newest mount on it, and of any mount on
/// that root in turn (Linux `traverse_mounts`).
pub fn traverse_mounts(mut inode: Arc<Inode>) -> Arc<Inode> {
    let mounts = MOUNTS.lock();
    while let Some(m) = mounts
        .iter()
        .rev()
        .find(|m| Arc::ptr_eq(&m.mountpoint, &inode))
    {
        inode = m.root.clone();
    }
    inode
}

/// The directory `root` is mounted on, if it is a mounted root (Linux `mnt_mountpoint`).
pub fn mountpoint_of(root: &Arc<Inode>) -> Option<Arc<Inode>> {
    MOUNTS
        .lock()
        .iter()
        .find(|m| Arc::ptr_eq(&m.root, root))
        .map(|m| m.mountpoint.clone())
}

/// Is `inode` the root of a mount?
fn is_mount_root(inode: &Arc<Inode>) -> bool {
    mountpoint_of(inode).is_some()
}

/// The mounts for `/proc/mounts`: (mount point, file system type), oldest first.
pub fn mounts() -> Vec<(Arc<Inode>, &'static str)> {
    MOUNTS
        .lock()
        .iter()
        .map(|m| (m.mountpoint.clone(), "proc"))
        .collect()
}

/// Unmount everything (Linux `put_mnt_ns` -> `umount_tree` when the last process of
/// the namespace, init, is gone), so that what the mounts held is freed.
pub fn put_mnt_ns() {
    let all = core::mem::take(&mut *MOUNTS.lock());
    drop(all);
}

/// `MS_REMOUNT`.
const MS_REMOUNT: u64 = 32;
/// `MS_BIND`.
const MS_BIND: u64 = 4096;
/// `MS_MOVE`.
const MS_MOVE: u64 = 8192;
/// `MS_NOUSER`: never accepted from user space.
const MS_NOUSER: u64 = 1 << 31;
/// `MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED`.
const MS_PROPAGATION: u64 = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);
/// The old magic number in the high half of `flags` (Linux `MS_MGC_VAL`, `MS_MGC_MSK`).
const MS_MGC_VAL: u64 = 0xC0ED0000;
const MS_MGC_MSK: u64 = 0xffff0000;

/// A string argument of `mount` (Linux `copy_mount_string`): none for a null pointer.
fn copy_mount_string(p: UserPtr<u8>) -> Result<Option<Vec<u8>>, Errno> {
    if p.is_null() {
        return Ok(None);
    }
    strndup_user(p, forkos_lib::pgtable::PAGE_SIZE, EINVAL).map(Some)
}

/// `mount(dev_name, dir_name, type, flags, data)` (Linux `SYSCALL_DEFINE5(mount)` ->
/// `path_mount`), in Linux's order: the strings, the mount point, then what `flags`
/// asks. A new mount of `proc` works (`mount -t proc proc /proc`); any other type is
/// `ENODEV` (Linux knows more types: forkos has no other file system to mount).
/// Bind mounts and `MS_MOVE` are `EINVAL` here; a remount or a propagation change of a
/// mount's root succeeds and changes nothing.
pub fn sys_mount(
    dev_name: UserPtr<u8>,
    dir_name: UserPtr<u8>,
    fstype: UserPtr<u8>,
    flags: u64,
    data: UserPtr<u8>,
) -> SysResult {
    let fstype = copy_mount_string(fstype)?;
    let _dev = copy_mount_string(dev_name)?;
    // Linux `copy_mount_options`: up to a page, EFAULT only if none of it is readable.
    if !data.is_null() {
        let mut page = alloc::vec![0u8; forkos_lib::pgtable::PAGE_SIZE];
        if crate::mm::uaccess::raw_copy_from_user(&mut page, data) == page.len() {
            return Err(EFAULT);
        }
    }
    let dir = getname(dir_name, false)?;
    let path = traverse_mounts(path_lookupat(AT_FDCWD as u64, &dir, true)?);
    let mut flags = flags;
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    if flags & MS_NOUSER != 0 {
        return Err(EINVAL);
    }
    let root = super::fs_struct::current_fs().root();
    let at_root = is_mount_root(&path) || Arc::ptr_eq(&path, &root);
    if flags & (MS_REMOUNT | MS_PROPAGATION) != 0 && flags & MS_BIND == 0 {
        // Linux `do_remount` / `do_change_type`: only at a mount's root.
        return if at_root { Ok(0) } else { Err(EINVAL) };
    }
    if flags & (MS_BIND | MS_MOVE | MS_REMOUNT) != 0 {
        return Err(EINVAL);
    }
    // Linux `do_new_mount`.
    let fstype = fstype.ok_or(EINVAL)?;
    if fstype != b"proc" {
        return Err(ENODEV);
    }
    // Each mount of proc is a new one (Linux 6.1's `proc_get_tree` ->
    // `get_tree_nodev`), so a second over the first is no `EBUSY`: it hides the first.
    // Linux `graft_tree`: a directory only over a directory.
    if !path.is_dir() {
        return Err(ENOTDIR);
    }
    let proc_root = super::proc::proc_fill_super(&path);
    MOUNTS.lock().push(Mount {
        mountpoint: path,
        root: proc_root,
        expiry_mark: false,
    });
    Ok(0)
}

/// `umount2` flags (Linux `MNT_FORCE`, `MNT_DETACH`, `MNT_EXPIRE`, `UMOUNT_NOFOLLOW`).
const MNT_FORCE: u64 = 1;
const MNT_DETACH: u64 = 2;
const MNT_EXPIRE: u64 = 4;
const UMOUNT_NOFOLLOW: u64 = 8;

/// `umount2(target, flags)` (Linux `ksys_umount` -> `path_umount` -> `do_umount`): the
/// newest mount at `target`, which must be its root (`EINVAL` otherwise); `EBUSY` while
/// anything in it is in use (an open file, a working directory: here, any reference to
/// its root beyond the mount's and this call's), unless `MNT_DETACH`, which takes it
/// out of the tree at once and lets it go with its last user; `MNT_EXPIRE` marks it the
/// first time (`EAGAIN`) and unmounts an unused one the second. The root file system
/// cannot be unmounted: `EBUSY` (Linux would remount it read-only, which forkos's ramfs
/// cannot be).
pub fn sys_umount2(target: UserPtr<u8>, flags: u64) -> SysResult {
    let flags = flags as i32 as u64;
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(EINVAL);
    }
    let name = getname(target, false)?;
    let path = traverse_mounts(path_lookupat(
        AT_FDCWD as u64,
        &name,
        flags & UMOUNT_NOFOLLOW == 0,
    )?);
    let root = super::fs_struct::current_fs().root();
    let mut mounts = MOUNTS.lock();
    let Some(i) = mounts.iter().rposition(|m| Arc::ptr_eq(&m.root, &path)) else {
        return Err(if Arc::ptr_eq(&path, &root) {
            EBUSY
        } else {
            EINVAL
        });
    };
    // The mount's own reference and this call's.
    let busy = Arc::strong_count(&path) > 2;
    if flags & MNT_EXPIRE != 0 {
        if flags & (MNT_FORCE | MNT_DETACH) != 0 {
            return Err(EINVAL);
        }
        if busy {
            return Err(EBUSY);
        }
        if !core::mem::replace(&mut mounts[i].expiry_mark, true) {
            return Err(EAGAIN);
        }
    }
    if busy && flags & MNT_DETACH == 0 {
        return Err(EBUSY);
    }
    let gone = mounts.remove(i);
    drop(mounts);
    drop(gone);
    Ok(0)
}
