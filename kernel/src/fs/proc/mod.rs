//! `/proc`, the process file system (Linux `fs/proc/`): files whose contents are made
//! when they are read, from the tasks and the memory as they are at that moment.
//!
//! | here | Linux | what |
//! |---|---|---|
//! | this file | `fs/proc/root.c`, `inode.c`, `generic.c`, `self.c`, `thread_self.c` | the root, its directory listing, `self`, `thread-self`, inodes |
//! | [`base`] | `fs/proc/base.c`, `fd.c` | `/proc/PID/`: `cmdline`, `comm`, `exe`, `cwd`, `root`, `fd/`, `task/` |
//! | [`array`] | `fs/proc/array.c` | `/proc/PID/stat`, `status`, `statm` |
//! | [`task_mmu`] | `fs/proc/task_mmu.c` | `/proc/PID/maps` |
//! | [`misc`] | `fs/proc/meminfo.c`, `uptime.c`, `loadavg.c`, `stat.c`, `fs/proc_namespace.c` | `/proc/meminfo`, `uptime`, `loadavg`, `stat`, `mounts` |
//!
//! An inode of `/proc` is made on each lookup ([`proc_lookup`]) and holds only what it
//! names ([`Kind`]: "the status of pid 7"); reading it calls the function that writes
//! the text ([`ProcFile`], Linux's `seq_file` `show`). A pid that has gone makes its
//! files `ESRCH`, as on Linux. Start at [`base::proc_pid_lookup`], then [`task_mmu`],
//! the lesson: after a fork, both processes' `maps`.

pub mod array;
pub mod base;
pub mod misc;
pub mod task_mmu;

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::file::{dir_emit, dir_emit_dots, DirContext, File, FileOperations};
use super::inode::{Inode, InodeData};
use crate::errno::*;
use crate::iov_iter::IovIter;
use crate::task::{current, Pid};
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::stat::*;

/// What one `/proc` inode names (Linux: the `proc_dir_entry` or the `pid_entry` with
/// the pid of its `proc_inode`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Root,
    /// `/proc/self` (Linux `proc_self_get_link`).
    SelfLink,
    /// `/proc/thread-self` (Linux `proc_thread_self_get_link`).
    ThreadSelf,
    /// A file of the root that is not about one process.
    Global(misc::Global),
    /// `/proc/PID` (`whole`: the process) or `/proc/PID/task/TID` (one thread).
    PidDir {
        pid: Pid,
        whole: bool,
    },
    /// A file of a pid directory.
    PidFile {
        pid: Pid,
        whole: bool,
        file: base::PidFile,
    },
    /// `/proc/PID/task`.
    TaskDir(Pid),
    /// `/proc/PID/fd`.
    FdDir(Pid),
    /// `/proc/PID/fd/N`: a link to the open file (Linux `proc_fd_link`).
    Fd(Pid, u32),
}

/// The `InodeData` of a `/proc` inode: what it names and the directory above it (Linux
/// keeps the parent in the dentry).
#[derive(Clone)]
pub struct ProcEntry {
    pub parent: Arc<Inode>,
    pub kind: Kind,
}

/// A new inode for `kind` below `parent` (Linux `proc_pid_make_inode`, `proc_get_inode`).
fn proc_inode(parent: &Arc<Inode>, kind: Kind, mode: u32) -> Arc<Inode> {
    Inode::new(
        mode,
        InodeData::Proc(ProcEntry {
            parent: parent.clone(),
            kind,
        }),
    )
}

/// The root of a new `proc` mount over `mountpoint` (Linux `proc_fill_super`): its `..`
/// is the mount point's.
pub fn proc_fill_super(mountpoint: &Arc<Inode>) -> Arc<Inode> {
    proc_inode(&mountpoint.parent(), Kind::Root, S_IFDIR | 0o555)
}

/// The kind of a `/proc` inode, if it is one.
pub fn kind_of(inode: &Inode) -> Option<Kind> {
    match &inode.i.lock().data {
        InodeData::Proc(e) => Some(e.kind),
        _ => None,
    }
}

/// The name of a `/proc` inode in its directory, for paths through `/proc` (Linux
/// keeps it in the dentry); `None` for other inodes and for a root, which is named by
/// its mount point.
pub fn proc_name(inode: &Inode) -> Option<Vec<u8>> {
    Some(match kind_of(inode)? {
        Kind::Root => return None,
        Kind::SelfLink => b"self".to_vec(),
        Kind::ThreadSelf => b"thread-self".to_vec(),
        Kind::Global(g) => g.name().to_vec(),
        Kind::PidDir { pid, .. } => format!("{pid}").into_bytes(),
        Kind::PidFile { file, .. } => file.name().to_vec(),
        Kind::TaskDir(_) => b"task".to_vec(),
        Kind::FdDir(_) => b"fd".to_vec(),
        Kind::Fd(_, fd) => format!("{fd}").into_bytes(),
    })
}

/// Find `name` in the `/proc` directory `dir` (Linux `proc_root_lookup`,
/// `proc_tgid_base_lookup`, `proc_lookupfd`, `proc_task_lookup`).
pub fn proc_lookup(dir: &Arc<Inode>, e: &ProcEntry, name: &[u8]) -> Result<Arc<Inode>, Errno> {
    match e.kind {
        Kind::Root => {
            if name == b"self" {
                return Ok(proc_inode(dir, Kind::SelfLink, S_IFLNK | 0o777));
            }
            if name == b"thread-self" {
                return Ok(proc_inode(dir, Kind::ThreadSelf, S_IFLNK | 0o777));
            }
            if let Some(g) = misc::Global::ALL.iter().find(|g| g.name() == name) {
                return Ok(proc_inode(dir, Kind::Global(*g), S_IFREG | 0o444));
            }
            base::proc_pid_lookup(dir, name)
        }
        Kind::PidDir { pid, whole } => base::proc_pident_lookup(dir, pid, whole, name),
        Kind::TaskDir(tgid) => base::proc_task_lookup(dir, tgid, name),
        Kind::FdDir(pid) => base::proc_lookupfd(dir, pid, name),
        _ => Err(ENOTDIR),
    }
}

/// The text of a `/proc` symbolic link for `readlink` (Linux `get_link` /
/// `proc_pid_readlink`).
pub fn proc_get_link(e: &ProcEntry) -> Option<Vec<u8>> {
    let me = current();
    match e.kind {
        Kind::SelfLink => Some(format!("{}", me.tgid).into_bytes()),
        Kind::ThreadSelf => Some(format!("{}/task/{}", me.tgid, me.pid).into_bytes()),
        Kind::PidFile { .. } | Kind::Fd(..) => base::proc_pid_readlink(e.kind).ok(),
        _ => None,
    }
}

/// Where a `/proc` "magic" link leads (Linux `proc_exe_link`, `proc_cwd_link`,
/// `proc_root_link`, `proc_fd_link`, then `nd_jump_link`): the file itself, not a path
/// walked again; `None` for an inode that is not such a link.
pub fn proc_jump_link(inode: &Inode) -> Option<Result<super::namei::Path, Errno>> {
    let kind = kind_of(inode)?;
    match kind {
        Kind::PidFile { file, .. } if file.is_link() => Some(base::proc_pid_get_link(kind)),
        Kind::Fd(..) => Some(base::proc_pid_get_link(kind)),
        _ => None,
    }
}

/// The file operations of a `/proc` inode (Linux `proc_root_operations`,
/// `proc_tgid_base_operations`, the `seq_file` operations of each file).
pub fn proc_fops(e: &ProcEntry) -> Result<&'static dyn FileOperations, Errno> {
    Ok(match e.kind {
        Kind::Root | Kind::PidDir { .. } | Kind::TaskDir(_) | Kind::FdDir(_) => &ProcDir,
        Kind::Global(_) | Kind::PidFile { .. } => &ProcFile,
        _ => return Err(ENXIO),
    })
}

/// The kind of the open `/proc` file.
fn file_kind(file: &File) -> Result<Kind, Errno> {
    kind_of(&file.f_inode).ok_or(EINVAL)
}

/// Where a directory listing of `/proc` starts its pids (Linux `TGID_OFFSET`): the
/// position of pid N is this plus N, so that pids that come and go between two
/// `getdents64` calls do not move the others.
const PID_OFFSET: i64 = 1 << 20;

/// A `/proc` directory (Linux `proc_root_readdir`, `proc_pident_readdir`,
/// `proc_readfd`, `proc_task_readdir`).
pub struct ProcDir;

/// Emit `entries` (position, name, type) from `ctx.pos` on, in order of position.
fn emit_all(ctx: &mut DirContext, entries: &[(i64, Vec<u8>, u8)]) {
    for (pos, name, d_type) in entries {
        if *pos < ctx.pos {
            continue;
        }
        // The inode number a listing shows is not the one a lookup gets: /proc's are
        // made afresh (Linux too gives listings numbers of their own for pids).
        if !dir_emit(ctx, name, 1, *d_type, pos + 1) {
            return;
        }
        ctx.pos = pos + 1;
    }
}

impl FileOperations for ProcDir {
    fn iterate_shared(&self, file: &File, ctx: &mut DirContext) -> Result<(), Errno> {
        if !dir_emit_dots(file, ctx) {
            return Ok(());
        }
        let mut entries: Vec<(i64, Vec<u8>, u8)> = Vec::new();
        match file_kind(file)? {
            Kind::Root => {
                let mut pos = 2;
                for g in misc::Global::ALL {
                    entries.push((pos, g.name().to_vec(), DT_REG));
                    pos += 1;
                }
                entries.push((pos, b"self".to_vec(), DT_LNK));
                entries.push((pos + 1, b"thread-self".to_vec(), DT_LNK));
                for tgid in base::tgids() {
                    entries.push((
                        PID_OFFSET + tgid as i64,
                        format!("{tgid}").into_bytes(),
                        DT_DIR,
                    ));
                }
            }
            Kind::PidDir { pid, whole } => {
                base::task_of(pid)?;
                for (i, f) in base::PidFile::ALL.iter().enumerate() {
                    if f.whole_only() && !whole {
                        continue;
                    }
                    let t = if f.is_dir() {
                        DT_DIR
                    } else if f.is_link() {
                        DT_LNK
                    } else {
                        DT_REG
                    };
                    entries.push((2 + i as i64, f.name().to_vec(), t));
                }
            }
            Kind::TaskDir(tgid) => {
                for tid in base::thread_ids(tgid)? {
                    entries.push((
                        PID_OFFSET + tid as i64,
                        format!("{tid}").into_bytes(),
                        DT_DIR,
                    ));
                }
            }
            Kind::FdDir(pid) => {
                for fd in base::open_fds(pid)? {
                    entries.push((2 + fd as i64, format!("{fd}").into_bytes(), DT_LNK));
                }
            }
            _ => return Err(ENOTDIR),
        }
        emit_all(ctx, &entries);
        Ok(())
    }

    fn llseek(&self, _file: &File, pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
        seq_lseek(pos, offset, whence)
    }

    /// Linux `generic_read_dir`.
    fn read(&self, _file: &File, _to: &mut IovIter, _pos: &mut i64) -> SysResult {
        Err(EISDIR)
    }
}

/// `lseek` of a `/proc` file (Linux `seq_lseek`): from the start or from here.
fn seq_lseek(pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
    crate::fs::read_write::no_seek_end_llseek(pos, offset, whence)
}

/// A `/proc` file of text (Linux `seq_file`: `seq_read_iter` calls `show`, then
/// copies from the position asked). The text is made again at every read, so a
/// program reading it in pieces sees each piece of a fresh picture, as on Linux when
/// it reads past a `seq_file`'s buffer.
pub struct ProcFile;

impl FileOperations for ProcFile {
    fn read(&self, file: &File, to: &mut IovIter, pos: &mut i64) -> SysResult {
        let text = match file_kind(file)? {
            Kind::Global(g) => misc::show(g)?,
            Kind::PidFile { pid, whole, file } => base::show(pid, whole, file)?,
            _ => return Err(EINVAL),
        };
        let start = (*pos as usize).min(text.len());
        let n = to.copy_to_iter(&text[start..]);
        if n == 0 && start < text.len() && to.count() > 0 {
            return Err(EFAULT);
        }
        *pos += n as i64;
        Ok(n as i64)
    }

    fn write(&self, file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        match file_kind(file)? {
            Kind::PidFile {
                pid,
                file: base::PidFile::Comm,
                ..
            } => base::comm_write(pid, from),
            _ => Err(EINVAL),
        }
    }

    fn llseek(&self, _file: &File, pos: i64, offset: i64, whence: u32) -> Result<i64, Errno> {
        seq_lseek(pos, offset, whence)
    }
}
