//! The root file system: a writable file system in memory (Linux `fs/ramfs/inode.c`,
//! `fs/libfs.c`'s `simple_*` operations, `init/initramfs.c` filling it).
//!
//! What `/` holds at boot is decided once ([`populate_rootfs`]):
//! - `-initrd` is a `newc` cpio archive: its directories, files, symbolic links, hard
//!   links and device nodes, with `/init` run as pid 1;
//! - `-initrd` is a bare ELF program: that program, as `/init`;
//! - no `-initrd`: the programs built into the kernel image (`/init`, the fork demo, and
//!   `/utest`, the test suite).
//!
//! Then `/dev/console`, `/dev/tty`, `/dev/ttyAMA0`, `/dev/null`, `/dev/zero`, a writable
//! `/tmp` and an empty `/proc` (to mount `/proc` on) are added where the archive lacks
//! them. Files keep their bytes where the boot loader put
//! them until one is first written ([`FileData`]). Directory changes are made under one
//! lock, [`NAMESPACE_LOCK`] (Linux takes the directories' `i_rwsem` and, for `rename`,
//! `s_vfs_rename_mutex`).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::file::{dir_emit, dir_emit_dots, DirContext, File, FileOperations};
use super::inode::*;
use crate::errno::*;
use crate::iov_iter::IovIter;
use crate::println;
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::stat::*;

/// The root directory.
static ROOT: spin::Once<Arc<Inode>> = spin::Once::new();

/// Held while directories change, so that a change sees the tree as one (Linux's
/// directory `i_rwsem`s and `s_vfs_rename_mutex`). Taken with interrupts on, never
/// across a user copy; a waiter yields.
pub static NAMESPACE_LOCK: spin::mutex::SpinMutex<(), crate::sync::CpuRelax> =
    spin::mutex::SpinMutex::new(());

/// The root directory (made on first use, before the initrd is unpacked into it).
pub fn root() -> Arc<Inode> {
    ROOT.call_once(|| Inode::new_dir(0o755, None)).clone()
}

/// `d_type` of a mode (Linux `fs_umode_to_dtype`).
pub fn dtype(mode: u32) -> u8 {
    ((mode & S_IFMT) >> 12) as u8
}

/// Add `inode` as `name` in `dir` (Linux `d_instantiate` after `ramfs_mknod` or
/// `simple_link`): `EEXIST` if the name is taken. A new directory counts as a link of
/// its parent (its `..`).
pub fn add_entry(dir: &Arc<Inode>, name: &[u8], inode: Arc<Inode>) -> Result<(), Errno> {
    if name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    let is_dir = inode.is_dir();
    if is_dir {
        if let InodeData::Dir(d) = &mut inode.i.lock().data {
            d.parent = Arc::downgrade(dir);
        }
    }
    let now = current_time();
    let mut d = dir.i.lock();
    // A removed directory takes no new name (Linux `IS_DEADDIR`).
    if d.nlink == 0 {
        return Err(ENOENT);
    }
    let InodeData::Dir(entries) = &mut d.data else {
        return Err(ENOTDIR);
    };
    if entries.entries.contains_key(name) {
        return Err(EEXIST);
    }
    entries.entries.insert(name.to_vec(), inode);
    if is_dir {
        d.nlink += 1;
    }
    d.mtime = now;
    d.ctime = now;
    Ok(())
}

/// Take `name` out of `dir` (Linux `simple_unlink` / `simple_rmdir`): the inode loses a
/// link (a directory all of them), and its parent the `..` of a directory.
pub fn remove_entry(dir: &Arc<Inode>, name: &[u8]) -> Result<Arc<Inode>, Errno> {
    let now = current_time();
    let child = {
        let mut d = dir.i.lock();
        let InodeData::Dir(entries) = &mut d.data else {
            return Err(ENOTDIR);
        };
        let child = entries.entries.remove(name).ok_or(ENOENT)?;
        // A map keeps its last node when emptied: give it back, so that an empty
        // directory holds no memory, as before its first entry (the leak checks count it).
        if entries.entries.is_empty() {
            entries.entries = BTreeMap::new();
        }
        d.mtime = now;
        d.ctime = now;
        child
    };
    let is_dir = {
        let mut c = child.i.lock();
        c.ctime = now;
        if c.mode & S_IFMT == S_IFDIR {
            c.nlink = 0;
            true
        } else {
            c.nlink = c.nlink.saturating_sub(1);
            false
        }
    };
    if is_dir {
        let mut d = dir.i.lock();
        d.nlink -= 1;
    }
    Ok(child)
}

/// Is this directory empty (Linux `simple_empty`)?
pub fn dir_is_empty(dir: &Inode) -> bool {
    match &dir.i.lock().data {
        InodeData::Dir(d) => d.entries.is_empty(),
        _ => false,
    }
}

/// A new inode of `mode` in `dir` as `name` (Linux `ramfs_mknod`, `ramfs_mkdir`,
/// `ramfs_symlink`): a symbolic link takes `target`.
pub fn mknod(
    dir: &Arc<Inode>,
    name: &[u8],
    mode: u32,
    target: Option<&[u8]>,
) -> Result<Arc<Inode>, Errno> {
    let inode = match mode & S_IFMT {
        S_IFDIR => Inode::new_dir(mode, Some(dir)),
        S_IFREG => Inode::new(mode, InodeData::Reg(FileData::default())),
        S_IFLNK => Inode::new(mode, InodeData::Symlink(target.unwrap_or(b"").to_vec())),
        _ => Inode::new(mode, InodeData::Chr),
    };
    add_entry(dir, name, inode.clone())?;
    Ok(inode)
}

/// Walk `parts` from the root, making missing directories (`mkdir -p`, as the archive
/// may omit them); `None` where a part is not a directory.
fn mkdir_p<'a>(parts: impl Iterator<Item = &'a str>) -> Option<Arc<Inode>> {
    let mut dir = root();
    for p in parts {
        dir = match dir.lookup(p.as_bytes()) {
            Ok(d) if d.is_dir() => d,
            Ok(_) => return None,
            Err(_) => mknod(&dir, p.as_bytes(), S_IFDIR | 0o755, None).ok()?,
        };
    }
    Some(dir)
}

/// Make `path` with `mode` unless it exists (the device nodes and `/tmp`).
fn ensure(path: &str, mode: u32, rdev: (u32, u32)) {
    let parts: Vec<&str> = path.split('/').collect();
    let Some((last, dirs)) = parts.split_last() else {
        return;
    };
    let Some(dir) = mkdir_p(dirs.iter().copied()) else {
        return;
    };
    if dir.lookup(last.as_bytes()).is_err() {
        if let Ok(i) = mknod(&dir, last.as_bytes(), mode, None) {
            i.i.lock().rdev = rdev;
        }
    }
}

/// Put one archive member into `/` (Linux `do_name`, `do_copy`, `do_symlink`): a hard
/// link, a member whose archive inode number came before, is one more name for it.
fn unpack_member(
    m: &forkos_lib::initramfs::Member<'static>,
    links: &mut BTreeMap<u32, Arc<Inode>>,
) -> bool {
    let Some(parts) = forkos_lib::initramfs::path_components(m.name) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, dirs)) = parts.split_last() else {
        return false;
    };
    let Some(dir) = mkdir_p(dirs.iter().copied()) else {
        return false;
    };
    let name = last.as_bytes();
    let mode = m.mode;
    if mode & S_IFMT == S_IFDIR {
        match dir.lookup(name) {
            Ok(d) if d.is_dir() => d.i.lock().mode = mode,
            Ok(_) => return false,
            Err(_) => {
                let Ok(d) = mknod(&dir, name, mode, None) else {
                    return false;
                };
                set_owner(&d, m);
            }
        }
        return true;
    }
    // A name the archive gives twice: the later member replaces the earlier.
    if dir.lookup(name).is_ok() {
        if let Ok(old) = remove_entry(&dir, name) {
            if old.is_dir() {
                let _ = add_entry(&dir, name, old);
                return false;
            }
        }
    }
    if mode & S_IFMT == S_IFREG && m.nlink > 1 {
        if let Some(inode) = links.get(&m.ino) {
            if !m.data.is_empty() {
                inode.i.lock().data = InodeData::Reg(FileData::Initrd(m.data));
            }
            inode.i.lock().nlink += 1;
            return add_entry(&dir, name, inode.clone()).is_ok();
        }
    }
    let data = match mode & S_IFMT {
        S_IFREG => InodeData::Reg(FileData::Initrd(m.data)),
        S_IFLNK => InodeData::Symlink(m.data.to_vec()),
        _ => InodeData::Chr,
    };
    let inode = Inode::new(mode, data);
    set_owner(&inode, m);
    if mode & S_IFMT == S_IFREG && m.nlink > 1 {
        links.insert(m.ino, inode.clone());
    }
    add_entry(&dir, name, inode).is_ok()
}

fn set_owner(inode: &Inode, m: &forkos_lib::initramfs::Member) {
    let mut i = inode.i.lock();
    i.uid = m.uid;
    i.gid = m.gid;
    i.rdev = m.rdev;
    let t = Time {
        sec: m.mtime as i64,
        nsec: 0,
    };
    i.mtime = t;
}

/// Fill `/` from the initrd, or with the built-in programs (Linux `populate_rootfs`).
pub fn populate_rootfs(initrd: Option<&'static [u8]>, builtin: &[(&str, &'static [u8])]) {
    let root = root();
    let program = |name: &str, data: &'static [u8]| {
        let inode = Inode::new(S_IFREG | 0o755, InodeData::Reg(FileData::Initrd(data)));
        let _ = add_entry(&root, name.as_bytes(), inode);
    };
    match initrd {
        None => {
            for (name, data) in builtin {
                program(name, data);
            }
        }
        Some(data) if data.starts_with(b"\x7fELF") => {
            program("init", data);
            println!("initrd: an ELF program, {} bytes: it is /init", data.len());
        }
        Some(data) => {
            let mut links = BTreeMap::new();
            let n = forkos_lib::initramfs::entries(data)
                .filter(|m| unpack_member(m, &mut links))
                .count();
            if n == 0 {
                // Linux: "Initramfs unpacking failed"; boot goes on and init is not found.
                println!("initrd: not a newc cpio archive nor an ELF program; / is empty");
            } else {
                println!("initrd: a cpio archive of {n} files and directories");
            }
        }
    }
    ensure("dev/console", S_IFCHR | 0o600, (5, 1));
    ensure("dev/tty", S_IFCHR | 0o666, (5, 0));
    ensure(
        "dev/ttyAMA0",
        S_IFCHR | 0o620,
        crate::drivers::tty::TTYAMA0_RDEV,
    );
    ensure("dev/null", S_IFCHR | 0o666, (1, 3));
    ensure("dev/zero", S_IFCHR | 0o666, (1, 5));
    ensure("tmp", S_IFDIR | 0o1777, (0, 0));
    // Where `mount -t proc proc /proc` puts /proc.
    ensure("proc", S_IFDIR | 0o555, (0, 0));
}

/// How much a read or write of a ramfs file moves at a time between the file and user
/// memory: the file's lock is never held across a user copy (which may fault).
const CHUNK: usize = 4096;

/// A regular file of the ramfs (Linux `ramfs_file_operations`: `generic_file_read_iter`,
/// `generic_file_write_iter`, `generic_file_llseek`).
pub struct RamfsFile;

impl FileOperations for RamfsFile {
    fn read(&self, file: &File, to: &mut IovIter, pos: &mut i64) -> SysResult {
        let mut done = 0i64;
        let mut buf = alloc::vec![0u8; CHUNK.min(to.count() as usize)];
        while to.count() > 0 {
            let n = {
                let i = file.f_inode.i.lock();
                let InodeData::Reg(d) = &i.data else {
                    return Err(EINVAL);
                };
                let want = buf.len().min(to.count() as usize);
                d.read_at(*pos as usize, &mut buf[..want])
            };
            if n == 0 {
                break;
            }
            let copied = to.copy_to_iter(&buf[..n]);
            *pos += copied as i64;
            done += copied as i64;
            if copied < n {
                if done == 0 {
                    return Err(EFAULT);
                }
                break;
            }
        }
        file.f_inode.i.lock().atime = current_time();
        Ok(done)
    }

    fn write(&self, file: &File, from: &mut IovIter, pos: &mut i64) -> SysResult {
        let mut done = 0i64;
        let mut buf = alloc::vec![0u8; CHUNK.min(from.count() as usize)];
        if file.flags() & O_APPEND != 0 {
            *pos = file.f_inode.size() as i64;
        }
        while from.count() > 0 {
            let want = buf.len().min(from.count() as usize);
            let n = from.copy_from_iter(&mut buf[..want]);
            if n > 0 {
                let now = current_time();
                let mut i = file.f_inode.i.lock();
                let InodeData::Reg(d) = &mut i.data else {
                    return Err(EINVAL);
                };
                if let Err(e) = d.write_at(*pos as usize, &buf[..n]) {
                    drop(i);
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
                i.mtime = now;
                i.ctime = now;
            }
            *pos += n as i64;
            done += n as i64;
            if n < want {
                if done == 0 {
                    return Err(EFAULT);
                }
                break;
            }
        }
        Ok(done)
    }

    fn llseek(&self, file: &File, pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
        let size = file.f_inode.size() as i64;
        let new = match whence {
            SEEK_SET => Some(offset),
            SEEK_CUR => pos.checked_add(offset),
            SEEK_END => size.checked_add(offset),
            // Data everywhere, one hole at the end (Linux `generic_file_llseek_size`).
            SEEK_DATA if offset >= 0 && offset < size => Some(offset),
            SEEK_HOLE if offset >= 0 && offset < size => Some(size),
            SEEK_DATA | SEEK_HOLE => return Err(ENXIO),
            _ => return Err(EINVAL),
        };
        match new {
            Some(p) if p >= 0 => Ok(p),
            _ => Err(EINVAL),
        }
    }
}

/// A directory of the ramfs (Linux `simple_dir_operations`: `dcache_readdir`,
/// `dcache_dir_lseek`): `.` at position 0, `..` at 1, then the entries.
pub struct RamfsDir;

impl FileOperations for RamfsDir {
    fn iterate_shared(&self, file: &File, ctx: &mut DirContext) -> Result<(), Errno> {
        if !dir_emit_dots(file, ctx) {
            return Ok(());
        }
        let dir = &file.f_inode;
        // A snapshot of the names: the actor copies to user memory without the lock.
        let entries: Vec<(Vec<u8>, u64, u8)> = match &dir.i.lock().data {
            InodeData::Dir(d) => d
                .entries
                .iter()
                .skip(ctx.pos as usize - 2)
                .map(|(n, i)| (n.clone(), i.ino, 0))
                .collect(),
            _ => return Err(ENOTDIR),
        };
        for (name, ino, _) in entries {
            let d_type = {
                let child = dir.lookup(&name);
                child.map_or(DT_UNKNOWN, |c| dtype(c.mode()))
            };
            let next = ctx.pos + 1;
            if !dir_emit(ctx, &name, ino, d_type, next) {
                return Ok(());
            }
            ctx.pos += 1;
        }
        Ok(())
    }

    fn llseek(&self, _file: &File, pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
        super::read_write::no_seek_end_llseek(pos, offset, whence)
    }

    /// Linux `generic_read_dir`.
    fn read(&self, _file: &File, _to: &mut IovIter, _pos: &mut i64) -> SysResult {
        Err(EISDIR)
    }
}

/// A symbolic link opened with `O_PATH`, or any file opened so: nothing to do.
pub struct EmptyOps;

impl FileOperations for EmptyOps {}

/// The operations for an inode (Linux `inode->i_fop`; devices: `chrdev_open`).
pub fn file_ops(inode: &Inode) -> Result<&'static dyn FileOperations, Errno> {
    let (mode, rdev) = {
        let i = inode.i.lock();
        if let InodeData::Proc(e) = &i.data {
            return super::proc::proc_fops(e);
        }
        (i.mode, i.rdev)
    };
    Ok(match mode & S_IFMT {
        S_IFREG => &RamfsFile,
        S_IFDIR => &RamfsDir,
        S_IFCHR => super::char_dev::chrdev_ops(rdev)?,
        _ => return Err(ENXIO),
    })
}
