//! The per-process directories (Linux `fs/proc/base.c`, `fs/proc/fd.c`): `/proc/PID`,
//! its files, `fd/` and `task/`.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::ControlFlow;

use super::{proc_inode, Kind};
use crate::errno::*;
use crate::fs::inode::Inode;
use crate::fs::namei::{self, Path};
use crate::iov_iter::IovIter;
use crate::mm::memory::Access;
use crate::pid::PID_TABLE;
use crate::task::{current, Pid, Task};
use forkos_lib::uapi::stat::*;

/// The entries of a pid directory, in Linux's order (`tgid_base_stuff`,
/// `tid_base_stuff`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PidFile {
    Task,
    Fd,
    Status,
    Comm,
    Cmdline,
    Stat,
    Statm,
    Maps,
    Cwd,
    Root,
    Exe,
}

impl PidFile {
    pub const ALL: [PidFile; 11] = [
        PidFile::Task,
        PidFile::Fd,
        PidFile::Status,
        PidFile::Comm,
        PidFile::Cmdline,
        PidFile::Stat,
        PidFile::Statm,
        PidFile::Maps,
        PidFile::Cwd,
        PidFile::Root,
        PidFile::Exe,
    ];

    pub fn name(self) -> &'static [u8] {
        match self {
            PidFile::Task => b"task",
            PidFile::Fd => b"fd",
            PidFile::Status => b"status",
            PidFile::Comm => b"comm",
            PidFile::Cmdline => b"cmdline",
            PidFile::Stat => b"stat",
            PidFile::Statm => b"statm",
            PidFile::Maps => b"maps",
            PidFile::Cwd => b"cwd",
            PidFile::Root => b"root",
            PidFile::Exe => b"exe",
        }
    }

    /// Only in `/proc/PID`, not in `/proc/PID/task/TID`.
    pub fn whole_only(self) -> bool {
        self == PidFile::Task
    }

    pub fn is_dir(self) -> bool {
        matches!(self, PidFile::Task | PidFile::Fd)
    }

    pub fn is_link(self) -> bool {
        matches!(self, PidFile::Cwd | PidFile::Root | PidFile::Exe)
    }

    /// The mode Linux gives it (`DIR`, `LNK`, `REG` in `tgid_base_stuff`).
    fn mode(self) -> u32 {
        match self {
            PidFile::Task => S_IFDIR | 0o555,
            PidFile::Fd => S_IFDIR | 0o500,
            PidFile::Cwd | PidFile::Root | PidFile::Exe => S_IFLNK | 0o777,
            PidFile::Comm => S_IFREG | 0o644,
            _ => S_IFREG | 0o444,
        }
    }
}

/// The task `pid` names (Linux `get_proc_task`): `ESRCH` once it has been reaped.
pub fn task_of(pid: Pid) -> Result<Arc<Task>, Errno> {
    PID_TABLE
        .lock()
        .find(pid)
        .filter(|t| t.state() != crate::task::TaskState::Dead)
        .ok_or(ESRCH)
}

/// Every thread group's id, ascending (Linux `next_tgid`): a pid directory for each
/// process, none for its other threads.
pub fn tgids() -> Vec<Pid> {
    let mut v: Vec<Pid> = PID_TABLE
        .lock()
        .all()
        .iter()
        .filter(|t| t.pid == t.tgid && t.state() != crate::task::TaskState::Dead)
        .map(|t| t.pid)
        .collect();
    v.sort_unstable();
    v
}

/// The threads of process `tgid`, ascending (Linux `first_tid` / `next_tid`).
pub fn thread_ids(tgid: Pid) -> Result<Vec<Pid>, Errno> {
    let t = task_of(tgid)?;
    let mut v: Vec<Pid> = t.signal.threads().iter().map(|t| t.pid).collect();
    if v.is_empty() {
        v.push(tgid);
    }
    v.sort_unstable();
    Ok(v)
}

/// The open descriptors of `pid` (Linux `proc_readfd_common`).
pub fn open_fds(pid: Pid) -> Result<Vec<u32>, Errno> {
    let t = task_of(pid)?;
    let files = t.inner.lock().files.clone();
    Ok(match files {
        Some(f) => f
            .fdt
            .lock()
            .fd
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_some())
            .map(|(i, _)| i as u32)
            .collect(),
        None => Vec::new(),
    })
}

/// A decimal name as a pid (Linux `name_to_int`): no sign, no leading zero.
fn name_to_int(name: &[u8]) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name[0] == b'0') || name.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in name {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    u32::try_from(n).ok().filter(|&n| n <= i32::MAX as u32)
}

/// `/proc/PID` (Linux `proc_pid_lookup`): a process, not another of its threads.
pub fn proc_pid_lookup(dir: &Arc<Inode>, name: &[u8]) -> Result<Arc<Inode>, Errno> {
    let pid = name_to_int(name).ok_or(ENOENT)? as Pid;
    let t = task_of(pid).map_err(|_| ENOENT)?;
    if t.pid != t.tgid {
        return Err(ENOENT);
    }
    Ok(proc_inode(
        dir,
        Kind::PidDir { pid, whole: true },
        S_IFDIR | 0o555,
    ))
}

/// `/proc/PID/task/TID` (Linux `proc_task_lookup`): a thread of that process.
pub fn proc_task_lookup(dir: &Arc<Inode>, tgid: Pid, name: &[u8]) -> Result<Arc<Inode>, Errno> {
    let tid = name_to_int(name).ok_or(ENOENT)? as Pid;
    let t = task_of(tid).map_err(|_| ENOENT)?;
    if t.tgid != tgid {
        return Err(ENOENT);
    }
    Ok(proc_inode(
        dir,
        Kind::PidDir {
            pid: tid,
            whole: false,
        },
        S_IFDIR | 0o555,
    ))
}

/// A file of a pid directory (Linux `proc_pident_lookup`).
pub fn proc_pident_lookup(
    dir: &Arc<Inode>,
    pid: Pid,
    whole: bool,
    name: &[u8],
) -> Result<Arc<Inode>, Errno> {
    task_of(pid).map_err(|_| ENOENT)?;
    let file = PidFile::ALL
        .iter()
        .copied()
        .find(|f| f.name() == name && (whole || !f.whole_only()))
        .ok_or(ENOENT)?;
    let kind = match file {
        PidFile::Task => Kind::TaskDir(pid),
        PidFile::Fd => Kind::FdDir(pid),
        _ => Kind::PidFile { pid, whole, file },
    };
    Ok(proc_inode(dir, kind, file.mode()))
}

/// `/proc/PID/fd/N` (Linux `proc_lookupfd_common` + `tid_fd_revalidate`'s mode: the
/// link's permissions say how the file was opened).
pub fn proc_lookupfd(dir: &Arc<Inode>, pid: Pid, name: &[u8]) -> Result<Arc<Inode>, Errno> {
    let fd = name_to_int(name).ok_or(ENOENT)?;
    let file = fd_file(pid, fd).map_err(|_| ENOENT)?;
    let mut mode = S_IFLNK;
    if file.f_mode & crate::fs::file::FMODE_READ != 0 {
        mode |= 0o500;
    }
    if file.f_mode & crate::fs::file::FMODE_WRITE != 0 {
        mode |= 0o300;
    }
    Ok(proc_inode(dir, Kind::Fd(pid, fd), mode))
}

/// The open file `fd` of `pid`.
fn fd_file(pid: Pid, fd: u32) -> Result<Arc<crate::fs::file::File>, Errno> {
    let t = task_of(pid)?;
    let files = t.inner.lock().files.clone().ok_or(ENOENT)?;
    files.fget(fd).map_err(|_| ENOENT)
}

/// Where `exe`, `cwd`, `root` or `fd/N` of a task leads (Linux `proc_exe_link`,
/// `proc_cwd_link`, `proc_root_link`, `proc_fd_link`): `ENOENT` when there is nothing
/// (a kernel thread's `exe`, an exited task's `cwd`).
pub fn proc_pid_get_link(kind: Kind) -> Result<Path, Errno> {
    match kind {
        Kind::PidFile { pid, file, .. } => {
            let t = task_of(pid).map_err(|_| ENOENT)?;
            match file {
                PidFile::Exe => {
                    let mm = t.get_task_mm().ok_or(ENOENT)?;
                    let exe = mm.lock().exe_file.clone().ok_or(ENOENT)?;
                    Ok(Path {
                        inode: exe.inode.clone(),
                        last: exe.last.clone(),
                    })
                }
                PidFile::Cwd | PidFile::Root => {
                    let fs = t.inner.lock().fs.clone().ok_or(ENOENT)?;
                    let inode = if file == PidFile::Cwd {
                        fs.pwd()
                    } else {
                        fs.root()
                    };
                    Ok(Path { inode, last: None })
                }
                _ => Err(EINVAL),
            }
        }
        Kind::Fd(pid, fd) => {
            let f = fd_file(pid, fd)?;
            Ok(Path {
                inode: f.f_inode.clone(),
                last: None,
            })
        }
        _ => Err(EINVAL),
    }
}

/// Find `inode` below `dir`, depth first: its directory and name (forkos's files do
/// not remember their names; Linux's dentries do).
fn find_name(dir: &Arc<Inode>, inode: &Arc<Inode>, depth: u32) -> Option<(Arc<Inode>, Vec<u8>)> {
    if depth > 16 {
        return None;
    }
    let entries: Vec<(Vec<u8>, Arc<Inode>)> = match &dir.i.lock().data {
        crate::fs::inode::InodeData::Dir(d) => d
            .entries
            .iter()
            .map(|(n, i)| (n.clone(), i.clone()))
            .collect(),
        _ => return None,
    };
    for (n, i) in &entries {
        if Arc::ptr_eq(i, inode) {
            return Some((dir.clone(), n.clone()));
        }
    }
    for (_, i) in &entries {
        if i.is_dir() {
            if let Some(found) = find_name(i, inode, depth + 1) {
                return Some(found);
            }
        }
    }
    None
}

/// The text `readlink` gives for a magic link (Linux `proc_pid_readlink` ->
/// `do_proc_readlink`: `d_path` of the file; a pipe is `pipe:[INODE]`).
pub fn proc_pid_readlink(kind: Kind) -> Result<Vec<u8>, Errno> {
    let path = proc_pid_get_link(kind)?;
    let root = crate::fs::fs_struct::current_fs().root();
    if let Some((dir, name)) = &path.last {
        return Ok(namei::d_path(dir, name, &path.inode));
    }
    if path.inode.is_dir() {
        return namei::dir_path(&path.inode, &root).ok_or(ENOENT);
    }
    if path.inode.mode() & S_IFMT == S_IFIFO {
        return Ok(format!("pipe:[{}]", path.inode.ino).into_bytes());
    }
    match find_name(&root, &path.inode, 0) {
        Some((dir, name)) => Ok(namei::d_path(&dir, &name, &path.inode)),
        None => Ok(b"/ (deleted)".to_vec()),
    }
}

/// Read `len` bytes at `addr` of `t`'s address space (Linux `access_remote_vm`): as many
/// as are mapped, in order.
fn access_remote_vm(t: &Task, addr: u64, len: usize) -> Vec<u8> {
    let Some(mm) = t.get_task_mm() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    crate::mm::uaccess::walk_user_pages(&mut mm.lock(), addr, len, Access::Read, |kva, n| {
        for i in 0..n {
            // SAFETY: kva..+n is readable while the walk holds the lock; read byte by
            // byte through the pointer, as the task's threads may write it meanwhile.
            out.push(unsafe { kva.add(i).read() });
        }
        ControlFlow::Continue(())
    });
    out
}

/// `/proc/PID/cmdline` (Linux `proc_pid_cmdline_read` -> `get_mm_cmdline`): the
/// argument strings as the program left them, each with its NUL; if the program wrote
/// over the last NUL (`setproctitle`), up to the first NUL in the environment too;
/// nothing for a task without memory (a kernel thread, a zombie).
fn proc_pid_cmdline_read(t: &Task) -> Vec<u8> {
    let Some(mm) = t.get_task_mm() else {
        return Vec::new();
    };
    let (arg_start, arg_end, env_start, env_end) = {
        let m = mm.lock();
        (m.arg_start, m.arg_end, m.env_start, m.env_end)
    };
    drop(mm);
    if arg_start == 0 || arg_end <= arg_start {
        return Vec::new();
    }
    let mut args = access_remote_vm(t, arg_start, (arg_end - arg_start) as usize);
    if args.last() != Some(&0) && env_end > env_start {
        // Linux: the arguments ran into the environment; read on to its first NUL.
        let env = access_remote_vm(t, env_start, (env_end - env_start) as usize);
        let end = env
            .iter()
            .position(|&c| c == 0)
            .map_or(env.len(), |z| z + 1);
        args.extend_from_slice(&env[..end]);
        if let Some(z) = args.iter().position(|&c| c == 0) {
            args.truncate(z + 1);
        }
    }
    args
}

/// Make the text of a pid directory's file.
pub fn show(pid: Pid, whole: bool, file: PidFile) -> Result<Vec<u8>, Errno> {
    let t = task_of(pid)?;
    Ok(match file {
        PidFile::Status => super::array::proc_pid_status(&t),
        PidFile::Stat => super::array::do_task_stat(&t, whole),
        PidFile::Statm => super::array::proc_pid_statm(&t),
        PidFile::Maps => super::task_mmu::show_maps(&t),
        PidFile::Cmdline => proc_pid_cmdline_read(&t),
        // Linux `comm_show`.
        PidFile::Comm => {
            let (c, n) = t.comm();
            let mut v = c[..n].to_vec();
            v.push(b'\n');
            v
        }
        _ => return Err(EINVAL),
    })
}

/// Write `/proc/PID/comm` (Linux `comm_write`): a thread of the writer's own process
/// takes the first 15 bytes as its name; any other is `EINVAL`.
pub fn comm_write(pid: Pid, from: &mut IovIter) -> SysResult {
    let t = task_of(pid)?;
    let count = from.count() as usize;
    let mut buf = [0u8; 15];
    let n = count.min(buf.len());
    if from.copy_from_iter(&mut buf[..n]) < n {
        return Err(EFAULT);
    }
    if t.tgid != current().tgid {
        return Err(EINVAL);
    }
    let name = &buf[..n];
    let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(n)];
    t.set_comm_bytes(name);
    Ok(count as i64)
}
