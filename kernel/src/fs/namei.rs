//! Finding files by name, and the calls that change names (Linux `fs/namei.c`).
//!
//! A path is walked one component at a time from its start ([`path_init`]: `/`, the
//! working directory, or a directory descriptor): `.` stays, `..` climbs (not above the
//! root), a symbolic link is followed — in the middle of a path always, at its end only
//! when the call follows links — and more than [`MAXSYMLINKS`] links in one walk is
//! `ELOOP`. A component longer than `NAME_MAX` is `ENAMETOOLONG`, one that is not a
//! directory where one is needed `ENOTDIR`, and a trailing `/` asks for a directory.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::fdtable::fget_raw;
use super::fs_struct::current_fs;
use super::inode::*;
use super::ramfs::{self, NAMESPACE_LOCK};
use crate::errno::*;
use crate::mm::uaccess::{strndup_user, UserPtr};
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::stat::*;

/// The most symbolic links one walk follows (Linux `MAXSYMLINKS`).
pub const MAXSYMLINKS: u32 = 40;

/// Longest path a syscall accepts, with its NUL (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// A path from user memory (Linux `getname`): `ENAMETOOLONG` past `PATH_MAX`; an empty
/// one is `ENOENT` unless the call allows it (`AT_EMPTY_PATH`).
pub fn getname(path: UserPtr<u8>, empty_ok: bool) -> Result<Vec<u8>, Errno> {
    let name = strndup_user(path, PATH_MAX, ENAMETOOLONG)?;
    if name.is_empty() && !empty_ok {
        return Err(ENOENT);
    }
    Ok(name)
}

/// Where a relative path starts (Linux `path_init`): the working directory for
/// `AT_FDCWD`, else `dirfd`, which must be open (`EBADF`) and a directory (`ENOTDIR`).
/// An absolute path ignores `dirfd`.
pub fn path_init(dirfd: u64, path: &[u8]) -> Result<Arc<Inode>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(current_fs().root());
    }
    if dirfd as i32 == AT_FDCWD {
        return Ok(current_fs().pwd());
    }
    let f = fget_raw(dirfd)?;
    if !path.is_empty() && !f.f_inode.is_dir() {
        return Err(ENOTDIR);
    }
    Ok(f.f_inode.clone())
}

/// What a path ends in, for the calls that make or remove a name (Linux `last_type`).
pub enum Last {
    Norm(Vec<u8>),
    /// `.`, or a path that is only slashes (the root).
    Dot,
    DotDot,
}

/// One walk's state (Linux `struct nameidata`).
struct Nameidata {
    root: Arc<Inode>,
    /// Links followed so far (Linux `total_link_count`).
    links: u32,
    /// The directory and name the walk found its last file under (Linux
    /// `nd->path`'s dentry: its parent and name), for [`d_path`]; `None` when the walk
    /// ended at `.`, `..` or `/`.
    last: Option<(Arc<Inode>, Vec<u8>)>,
}

impl Nameidata {
    /// Step from `dir` to the component `name` (Linux `walk_component`), without
    /// following a link there.
    fn step(&self, dir: &Arc<Inode>, name: &[u8]) -> Result<Arc<Inode>, Errno> {
        match name {
            b"." => Ok(dir.clone()),
            b".." if Arc::ptr_eq(dir, &self.root) => Ok(dir.clone()),
            // A mounted root's parent is its mount point's (Linux `follow_dotdot`).
            b".." => Ok(dir.parent()),
            _ if name.len() > NAME_MAX => Err(ENAMETOOLONG),
            _ => Ok(super::namespace::traverse_mounts(dir.lookup(name)?)),
        }
    }

    /// One more link followed, or `ELOOP` past [`MAXSYMLINKS`].
    fn count_link(&mut self) -> Result<(), Errno> {
        self.links += 1;
        if self.links > MAXSYMLINKS {
            return Err(ELOOP);
        }
        Ok(())
    }

    /// Where following `inode`, found in `dir`, leads (Linux `pick_link` +
    /// `step_into`): a /proc "magic" link jumps straight to its file (Linux
    /// `nd_jump_link`); a symbolic link's target is pushed as a new frame to walk, from
    /// the root or from `dir`; anything else is itself.
    fn start_link(
        &mut self,
        dir: &Arc<Inode>,
        inode: Arc<Inode>,
        stack: &mut Vec<Frame>,
    ) -> Result<Arc<Inode>, Errno> {
        if let Some(jump) = super::proc::proc_jump_link(&inode) {
            self.count_link()?;
            let path = jump?;
            self.last = path.last;
            return Ok(path.inode);
        }
        let Some(target) = inode.link_target() else {
            return Ok(inode);
        };
        self.count_link()?;
        if target.is_empty() {
            return Err(ENOENT);
        }
        stack.push(Frame::new(&target, true));
        self.last = None;
        Ok(if target[0] == b'/' {
            self.root.clone()
        } else {
            dir.clone()
        })
    }

    /// Walk the frames on `stack` from `pos` (Linux `link_path_walk` with its
    /// `nd->stack` of links being walked): each frame is a path's components still to
    /// take; a link met on the way pushes its target's, so that a chain of links nests
    /// frames, not calls (the kernel stack stays the same size however deep it goes).
    fn run(&mut self, mut pos: Arc<Inode>, mut stack: Vec<Frame>) -> Result<Arc<Inode>, Errno> {
        while let Some(top) = stack.last_mut() {
            let Some(name) = top.comps.pop() else {
                // This path is walked: a trailing `/` asks for a directory.
                if top.trailing && !pos.is_dir() {
                    return Err(ENOTDIR);
                }
                stack.pop();
                continue;
            };
            let last = top.comps.is_empty();
            let follow = !last || top.follow_last || top.trailing;
            if !pos.is_dir() {
                return Err(ENOTDIR);
            }
            let next = self.step(&pos, &name)?;
            self.last = match name.as_slice() {
                b"." | b".." => None,
                _ => Some((pos.clone(), name)),
            };
            pos = if follow {
                self.start_link(&pos, next, &mut stack)?
            } else {
                next
            };
        }
        Ok(pos)
    }

    /// Follow `inode` if it is a link, found in `dir`; anything else is itself.
    fn follow(&mut self, dir: &Arc<Inode>, inode: Arc<Inode>) -> Result<Arc<Inode>, Errno> {
        let mut stack = Vec::new();
        let pos = self.start_link(dir, inode, &mut stack)?;
        self.run(pos, stack)
    }

    /// Walk every component of `path` but the last from `start` (Linux
    /// `link_path_walk`): the directory the last is in, and the last.
    fn walk_parent(
        &mut self,
        start: Arc<Inode>,
        path: &[u8],
    ) -> Result<(Arc<Inode>, Last, bool), Errno> {
        let trailing = path.ends_with(b"/");
        let mut frame = Frame::new(path, true);
        // The frame's components are in reverse: the first is the last.
        let Some(last) = (!frame.comps.is_empty()).then(|| frame.comps.remove(0)) else {
            return Ok((start, Last::Dot, trailing));
        };
        frame.trailing = false;
        let dir = self.run(start, alloc::vec![frame])?;
        if !dir.is_dir() {
            return Err(ENOTDIR);
        }
        let last = match last.as_slice() {
            b"." => Last::Dot,
            b".." => Last::DotDot,
            n if n.len() > NAME_MAX => return Err(ENAMETOOLONG),
            _ => Last::Norm(last),
        };
        Ok((dir, last, trailing))
    }

    /// Walk all of `path` from `start` (Linux `path_lookupat`), following a link at
    /// the end if `follow` (or if the path ends in `/`).
    fn walk(&mut self, start: Arc<Inode>, path: &[u8], follow: bool) -> Result<Arc<Inode>, Errno> {
        self.last = None;
        self.run(start, alloc::vec![Frame::new(path, follow)])
    }
}

/// A path still to walk (Linux's `nd->stack` entry of a link being walked): its
/// components, last first, so that the next is popped off the end.
struct Frame {
    comps: Vec<Vec<u8>>,
    /// The path ended in `/`: its last component must be a directory (and a link there
    /// is followed).
    trailing: bool,
    /// Follow a link at the last component.
    follow_last: bool,
}

impl Frame {
    fn new(path: &[u8], follow_last: bool) -> Frame {
        Frame {
            comps: path
                .split(|&c| c == b'/')
                .filter(|c| !c.is_empty())
                .rev()
                .map(<[u8]>::to_vec)
                .collect(),
            trailing: path.ends_with(b"/"),
            follow_last,
        }
    }
}

fn nameidata() -> Nameidata {
    Nameidata {
        root: current_fs().root(),
        links: 0,
        last: None,
    }
}

/// The inode `path` names from `dirfd` (Linux `filename_lookup`).
pub fn path_lookupat(dirfd: u64, path: &[u8], follow: bool) -> Result<Arc<Inode>, Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    let start = path_init(dirfd, path)?;
    nameidata().walk(start, path, follow)
}

/// The directory `path`'s last component is in, that component, and whether the path
/// ends in `/` (Linux `filename_parentat`).
pub fn path_parentat(dirfd: u64, path: &[u8]) -> Result<(Arc<Inode>, Last, bool), Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    let start = path_init(dirfd, path)?;
    nameidata().walk_parent(start, path)
}

/// Follow a link found at the end of a walk in `dir` (for `open`).
pub fn follow_link(dir: &Arc<Inode>, inode: Arc<Inode>) -> Result<Arc<Inode>, Errno> {
    nameidata().follow(dir, inode)
}

/// Look `path` up from the working directory, following links (for `execve`).
pub fn lookup(path: &[u8]) -> Result<Arc<Inode>, Errno> {
    path_lookupat(AT_FDCWD as u64, path, true)
}

/// A file found by a walk, with the directory and name it was found under (Linux
/// `struct path`: the dentry knows its parent and name), so that [`d_path`] can name it.
pub struct Path {
    pub inode: Arc<Inode>,
    pub last: Option<(Arc<Inode>, Vec<u8>)>,
}

/// [`lookup`], keeping where the file was found (for `execve`'s `/proc/PID/exe`).
pub fn lookup_path(path: &[u8]) -> Result<Path, Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    let start = path_init(AT_FDCWD as u64, path)?;
    let mut nd = nameidata();
    let inode = nd.walk(start, path, true)?;
    Ok(Path {
        inode,
        last: nd.last,
    })
}

/// The name in `parent` of the entry that is `child`.
pub fn name_in_parent(parent: &Inode, child: &Arc<Inode>) -> Option<Vec<u8>> {
    match &parent.i.lock().data {
        InodeData::Dir(d) => d
            .entries
            .iter()
            .find(|(_, i)| Arc::ptr_eq(i, child))
            .map(|(n, _)| n.clone()),
        _ => None,
    }
}

/// The absolute path of directory `dir` from `root` (Linux `d_path` of a directory,
/// climbing `d_parent` and crossing mount points); `None` once it has been removed or
/// is not reachable by name.
pub fn dir_path(dir: &Arc<Inode>, root: &Arc<Inode>) -> Option<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut d = dir.clone();
    while !Arc::ptr_eq(&d, root) {
        // A mounted root is named by its mount point (Linux `prepend_path`).
        if let Some(mp) = super::namespace::mountpoint_of(&d) {
            d = mp;
            continue;
        }
        if let Some(name) = super::proc::proc_name(&d) {
            parts.push(name);
            d = d.parent();
            continue;
        }
        let p = d.parent();
        if Arc::ptr_eq(&p, &d) {
            break;
        }
        parts.push(name_in_parent(&p, &d)?);
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
    Some(path)
}

/// The absolute path of the file found as `name` in `dir` (Linux `d_path`): with
/// " (deleted)" after it once that name no longer holds it, as Linux writes.
pub fn d_path(dir: &Arc<Inode>, name: &[u8], inode: &Arc<Inode>) -> Vec<u8> {
    let root = current_fs().root();
    let mut path = dir_path(dir, &root).unwrap_or_else(|| b"/".to_vec());
    if path != b"/" {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    let here = super::proc::proc_name(inode).is_some()
        || dir.lookup(name).is_ok_and(|i| Arc::ptr_eq(&i, inode));
    if !here {
        path.extend_from_slice(b" (deleted)");
    }
    path
}

/// The name a call makes: `EEXIST` for `.` and `..` (Linux `filename_create`).
fn create_name(last: Last, trailing: bool, is_dir: bool) -> Result<Vec<u8>, Errno> {
    match last {
        Last::Norm(n) => {
            // "a/" may only name a new directory.
            if trailing && !is_dir {
                return Err(ENOENT);
            }
            Ok(n)
        }
        _ => Err(EEXIST),
    }
}

/// No new name goes into a removed directory (Linux `IS_DEADDIR` in `__lookup_hash` and
/// `lookup_open`): `ENOENT`.
pub fn check_dead_dir(dir: &Inode) -> Result<(), Errno> {
    if dir.i.lock().nlink == 0 {
        return Err(ENOENT);
    }
    Ok(())
}

/// `mkdirat(dirfd, path, mode)` (Linux `do_mkdirat`): the mode less the umask.
pub fn sys_mkdirat(dirfd: u64, path: UserPtr<u8>, mode: u64) -> SysResult {
    let name = getname(path, false)?;
    let (dir, last, trailing) = path_parentat(dirfd, &name)?;
    let n = create_name(last, trailing, true)?;
    check_dead_dir(&dir)?;
    let mode = (mode as u32 & 0o1777) & !current_fs().umask();
    let _ns = NAMESPACE_LOCK.lock();
    if dir.lookup(&n).is_ok() {
        return Err(EEXIST);
    }
    ramfs::mknod(&dir, &n, S_IFDIR | mode, None)?;
    Ok(0)
}

/// `unlinkat(dirfd, path, flags)` (Linux `do_unlinkat` / `do_rmdir`).
pub fn sys_unlinkat(dirfd: u64, path: UserPtr<u8>, flags: u64) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(EINVAL);
    }
    let name = getname(path, false)?;
    let (dir, last, trailing) = path_parentat(dirfd, &name)?;
    let _ns = NAMESPACE_LOCK.lock();
    if flags & AT_REMOVEDIR != 0 {
        let n = match last {
            Last::Norm(n) => n,
            Last::Dot => return Err(EINVAL),
            Last::DotDot => return Err(ENOTEMPTY),
        };
        let victim = dir.lookup(&n)?;
        if !victim.is_dir() {
            return Err(ENOTDIR);
        }
        if Arc::ptr_eq(&victim, &current_fs().root()) {
            return Err(EBUSY);
        }
        if !ramfs::dir_is_empty(&victim) {
            return Err(ENOTEMPTY);
        }
        ramfs::remove_entry(&dir, &n)?;
    } else {
        let n = match last {
            Last::Norm(n) => n,
            _ => return Err(EISDIR),
        };
        let victim = dir.lookup(&n)?;
        if victim.is_dir() {
            return Err(EISDIR);
        }
        if trailing {
            return Err(ENOTDIR);
        }
        ramfs::remove_entry(&dir, &n)?;
    }
    Ok(0)
}

/// `symlinkat(target, newdirfd, linkpath)` (Linux `do_symlinkat`).
pub fn sys_symlinkat(target: UserPtr<u8>, dirfd: u64, path: UserPtr<u8>) -> SysResult {
    let target = getname(target, false)?;
    let name = getname(path, false)?;
    let (dir, last, trailing) = path_parentat(dirfd, &name)?;
    let n = create_name(last, trailing, false)?;
    check_dead_dir(&dir)?;
    let _ns = NAMESPACE_LOCK.lock();
    if dir.lookup(&n).is_ok() {
        return Err(EEXIST);
    }
    ramfs::mknod(&dir, &n, S_IFLNK | 0o777, Some(&target))?;
    Ok(0)
}

/// `linkat(olddirfd, oldpath, newdirfd, newpath, flags)` (Linux `do_linkat`): a
/// directory cannot be linked (`EPERM`).
pub fn sys_linkat(
    olddirfd: u64,
    oldpath: UserPtr<u8>,
    newdirfd: u64,
    newpath: UserPtr<u8>,
    flags: u64,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let old = getname(oldpath, flags & AT_EMPTY_PATH != 0)?;
    let new = getname(newpath, false);
    let inode = if old.is_empty() && olddirfd as i32 == AT_FDCWD {
        current_fs().pwd()
    } else if old.is_empty() {
        fget_raw(olddirfd)?.f_inode.clone()
    } else {
        path_lookupat(olddirfd, &old, flags & AT_SYMLINK_FOLLOW != 0)?
    };
    let (dir, last, trailing) = path_parentat(newdirfd, &new?)?;
    let n = create_name(last, trailing, false)?;
    check_dead_dir(&dir)?;
    let _ns = NAMESPACE_LOCK.lock();
    if dir.lookup(&n).is_ok() {
        return Err(EEXIST);
    }
    if inode.is_dir() {
        return Err(EPERM);
    }
    {
        let mut i = inode.i.lock();
        if i.nlink == 0 {
            return Err(ENOENT);
        }
        i.nlink += 1;
    }
    inode.touch(false);
    if let Err(e) = ramfs::add_entry(&dir, &n, inode.clone()) {
        inode.i.lock().nlink -= 1;
        return Err(e);
    }
    Ok(0)
}

/// Is `a` `b` or a directory below it?
fn is_ancestor(a: &Arc<Inode>, b: &Arc<Inode>) -> bool {
    let mut d = b.clone();
    loop {
        if Arc::ptr_eq(a, &d) {
            return true;
        }
        let p = d.parent();
        if Arc::ptr_eq(&p, &d) {
            return false;
        }
        d = p;
    }
}

/// Take `name` out of `dir` and put `inode` there again elsewhere, keeping its links.
fn move_entry(
    from: &Arc<Inode>,
    name: &[u8],
    to: &Arc<Inode>,
    new_name: &[u8],
) -> Result<(), Errno> {
    let inode = from.lookup(name)?;
    let nlink = inode.i.lock().nlink;
    let inode = ramfs::remove_entry(from, name)?;
    inode.i.lock().nlink = nlink;
    inode.touch(false);
    ramfs::add_entry(to, new_name, inode)
}

/// `renameat2(olddirfd, oldpath, newdirfd, newpath, flags)` (Linux `do_renameat2`,
/// `vfs_rename`, `shmem_rename2`), its checks in Linux's order; `RENAME_NOREPLACE`,
/// `RENAME_EXCHANGE` and `RENAME_WHITEOUT` (a 0:0 device left at the old name), as
/// Linux's tmpfs takes them.
pub fn sys_renameat2(
    olddirfd: u64,
    oldpath: UserPtr<u8>,
    newdirfd: u64,
    newpath: UserPtr<u8>,
    flags: u64,
) -> SysResult {
    let flags = flags as u32;
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
        return Err(EINVAL);
    }
    let exchange = flags & RENAME_EXCHANGE != 0;
    if exchange && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0 {
        return Err(EINVAL);
    }
    // Both names are read first; a bad one's error comes when it is walked (Linux
    // passes `getname`'s error on to `filename_parentat`).
    let old = getname(oldpath, false);
    let new = getname(newpath, false);
    let (odir, olast, otrail) = path_parentat(olddirfd, &old?)?;
    let (ndir, nlast, ntrail) = path_parentat(newdirfd, &new?)?;
    let Last::Norm(on) = olast else {
        return Err(EBUSY);
    };
    let Last::Norm(nn) = nlast else {
        return Err(if flags & RENAME_NOREPLACE != 0 {
            EEXIST
        } else {
            EBUSY
        });
    };
    let _ns = NAMESPACE_LOCK.lock();
    let source = odir.lookup(&on)?;
    check_dead_dir(&ndir)?;
    let target = match ndir.lookup(&nn) {
        Ok(t) => Some(t),
        Err(ENOENT) => None,
        Err(e) => return Err(e),
    };
    if flags & RENAME_NOREPLACE != 0 && target.is_some() {
        return Err(EEXIST);
    }
    if exchange {
        match &target {
            None => return Err(ENOENT),
            Some(t) if !t.is_dir() && ntrail => return Err(ENOTDIR),
            _ => {}
        }
    }
    let sdir = source.is_dir();
    if !sdir && (otrail || (!exchange && ntrail)) {
        return Err(ENOTDIR);
    }
    // Neither may be above the other's directory (Linux's `trap` from `lock_rename`).
    if is_ancestor(&source, &ndir) {
        return Err(EINVAL);
    }
    if let Some(t) = &target {
        if is_ancestor(t, &odir) {
            return Err(if exchange { EINVAL } else { ENOTEMPTY });
        }
        if Arc::ptr_eq(t, &source) {
            return Ok(0);
        }
        let tdir = t.is_dir();
        if !exchange {
            match (sdir, tdir) {
                (true, false) => return Err(ENOTDIR),
                (false, true) => return Err(EISDIR),
                (true, true) if !ramfs::dir_is_empty(t) => return Err(ENOTEMPTY),
                _ => {}
            }
        }
    }
    if exchange {
        // Both names stay; their inodes change places (Linux `shmem_exchange`).
        let t = target.expect("checked above");
        let (sl, tl) = (source.i.lock().nlink, t.i.lock().nlink);
        ramfs::remove_entry(&odir, &on)?;
        ramfs::remove_entry(&ndir, &nn)?;
        source.i.lock().nlink = sl;
        t.i.lock().nlink = tl;
        ramfs::add_entry(&odir, &on, t)?;
        ramfs::add_entry(&ndir, &nn, source)?;
        return Ok(0);
    }
    if target.is_some() {
        ramfs::remove_entry(&ndir, &nn)?;
    }
    move_entry(&odir, &on, &ndir, &nn)?;
    if flags & RENAME_WHITEOUT != 0 {
        // Linux `shmem_whiteout`: a character device 0:0 in the old name's place.
        ramfs::mknod(&odir, &on, S_IFCHR, None)?;
    }
    Ok(0)
}

/// `readlinkat(dirfd, path, buf, size)` (Linux `do_readlinkat`): the target, not
/// NUL-terminated, cut to `size`; `EINVAL` for a file that is not a link.
pub fn sys_readlinkat(dirfd: u64, path: UserPtr<u8>, buf: UserPtr<u8>, size: u64) -> SysResult {
    if size as i32 <= 0 {
        return Err(EINVAL);
    }
    let name = getname(path, true)?;
    let inode = if name.is_empty() {
        // The link an O_PATH descriptor names, or (not a link) ENOENT.
        let inode = if dirfd as i32 == AT_FDCWD {
            current_fs().pwd()
        } else {
            fget_raw(dirfd)?.f_inode.clone()
        };
        if !inode.is_symlink() {
            return Err(ENOENT);
        }
        inode
    } else {
        path_lookupat(dirfd, &name, false)?
    };
    let target = inode.link_target().ok_or(EINVAL)?;
    let n = target.len().min(size as i32 as usize);
    crate::mm::uaccess::copy_to_user(buf, &target[..n])?;
    inode.i.lock().atime = current_time();
    Ok(n as i64)
}
