//! File descriptors: each task's table of open files (Linux `fs/file.c`,
//! `include/linux/fdtable.h`'s `struct files_struct`).
//!
//! A descriptor is an index into [`FilesStruct`]; its slot holds an `Arc<File>` and a
//! close-on-exec bit. `clone(CLONE_FILES)` shares the table (a `close` in one task is
//! seen by the other); `fork` copies it ([`dup_fd`]), and the copies share each `File`.
//! `execve` unshares the table and closes the close-on-exec descriptors; exit drops the
//! task's reference ([`exit_files`]), and the last one closes everything.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::file::File;
use crate::errno::*;
use crate::sync::IrqSpinLock;
use crate::task::{current, Task};

/// The descriptors and their close-on-exec bits (Linux `struct fdtable`).
#[derive(Default)]
pub struct Fdtable {
    pub fd: Vec<Option<Arc<File>>>,
    /// One bit per descriptor (Linux `close_on_exec`).
    pub close_on_exec: Vec<u64>,
}

impl Fdtable {
    fn cloexec(&self, fd: usize) -> bool {
        self.close_on_exec
            .get(fd / 64)
            .is_some_and(|w| w & (1 << (fd % 64)) != 0)
    }

    /// Set or clear `fd`'s close-on-exec bit (Linux `__set_close_on_exec` /
    /// `__clear_close_on_exec`).
    fn set_cloexec(&mut self, fd: usize, on: bool) {
        if self.close_on_exec.len() <= fd / 64 {
            if !on {
                return;
            }
            self.close_on_exec.resize(fd / 64 + 1, 0);
        }
        if on {
            self.close_on_exec[fd / 64] |= 1 << (fd % 64);
        } else {
            self.close_on_exec[fd / 64] &= !(1 << (fd % 64));
        }
    }

    /// Put `file` in slot `fd`, growing the table; returns what was there.
    fn install(&mut self, fd: usize, file: Arc<File>, cloexec: bool) -> Option<Arc<File>> {
        if self.fd.len() <= fd {
            self.fd.resize(fd + 1, None);
        }
        self.set_cloexec(fd, cloexec);
        self.fd[fd].replace(file)
    }

    /// Take `fd` out, clearing its bit (Linux `pick_file`).
    fn pick(&mut self, fd: usize) -> Option<Arc<File>> {
        let f = self.fd.get_mut(fd)?.take();
        if f.is_some() {
            self.set_cloexec(fd, false);
        }
        while self.fd.last().is_some_and(Option::is_none) {
            self.fd.pop();
        }
        f
    }
}

/// A table of descriptors, shared by the tasks cloned with `CLONE_FILES` (Linux
/// `struct files_struct`).
pub struct FilesStruct {
    pub fdt: IrqSpinLock<Fdtable>,
}

impl FilesStruct {
    pub fn new() -> Arc<FilesStruct> {
        Arc::new(FilesStruct {
            fdt: IrqSpinLock::new(Fdtable::default()),
        })
    }

    /// The file of `fd` (Linux `fget`): a counted reference, or `EBADF`.
    pub fn fget(&self, fd: u32) -> Result<Arc<File>, Errno> {
        self.fdt
            .lock()
            .fd
            .get(fd as usize)
            .cloned()
            .flatten()
            .ok_or(EBADF)
    }

    /// Install `file` in the lowest free slot at or above `start`, below `limit`
    /// (Linux `alloc_fd` + `fd_install`): `EMFILE` when there is none.
    pub fn alloc_fd(
        &self,
        start: usize,
        limit: usize,
        file: Arc<File>,
        cloexec: bool,
    ) -> Result<usize, Errno> {
        let mut t = self.fdt.lock();
        let fd = (start..)
            .find(|&fd| t.fd.get(fd).is_none_or(Option::is_none))
            .expect("an unbounded range");
        if fd >= limit {
            return Err(EMFILE);
        }
        t.install(fd, file, cloexec);
        Ok(fd)
    }

    /// Put `file` at `fd`, whatever was there (Linux `do_dup2`'s `rcu_assign_pointer`);
    /// the old file is returned, to be closed after the lock.
    pub fn replace_fd(&self, fd: usize, file: Arc<File>, cloexec: bool) -> Option<Arc<File>> {
        self.fdt.lock().install(fd, file, cloexec)
    }

    /// Close `fd` (Linux `close_fd`): `EBADF` if it is not open.
    pub fn close_fd(&self, fd: u32) -> Result<(), Errno> {
        let f = self.fdt.lock().pick(fd as usize).ok_or(EBADF)?;
        // The file (and perhaps its inode) goes after the lock.
        drop(f);
        Ok(())
    }

    pub fn get_cloexec(&self, fd: u32) -> Result<bool, Errno> {
        let t = self.fdt.lock();
        match t.fd.get(fd as usize) {
            Some(Some(_)) => Ok(t.cloexec(fd as usize)),
            _ => Err(EBADF),
        }
    }

    pub fn set_cloexec(&self, fd: u32, on: bool) -> Result<(), Errno> {
        let mut t = self.fdt.lock();
        match t.fd.get(fd as usize) {
            Some(Some(_)) => {
                t.set_cloexec(fd as usize, on);
                Ok(())
            }
            _ => Err(EBADF),
        }
    }

    /// Close every close-on-exec descriptor (Linux `do_close_on_exec`).
    /// Returns the descriptors it closed, for the fork trace.
    pub fn do_close_on_exec(&self) -> Vec<usize> {
        let (fds, closed): (Vec<usize>, Vec<Arc<File>>) = {
            let mut t = self.fdt.lock();
            let fds: Vec<usize> = (0..t.fd.len()).filter(|&fd| t.cloexec(fd)).collect();
            let closed = fds.iter().filter_map(|&fd| t.pick(fd)).collect();
            (fds, closed)
        };
        drop(closed);
        fds
    }
}

/// A copy of a table for a new process (Linux `dup_fd`): the same files, so that
/// parent and child share each file's offset, and the same close-on-exec bits.
pub fn dup_fd(old: &FilesStruct) -> Arc<FilesStruct> {
    let t = old.fdt.lock();
    Arc::new(FilesStruct {
        fdt: IrqSpinLock::new(Fdtable {
            fd: t.fd.clone(),
            close_on_exec: t.close_on_exec.clone(),
        }),
    })
}

/// The child's table (Linux `copy_files`): the parent's own with `CLONE_FILES`, else a
/// copy. A parent with none (the idle task) gives an empty one.
pub fn copy_files(flags: u64, parent: Option<&Arc<FilesStruct>>) -> Arc<FilesStruct> {
    match parent {
        Some(f) if flags & crate::fork::CLONE_FILES != 0 => f.clone(),
        Some(f) => dup_fd(f),
        None => FilesStruct::new(),
    }
}

/// The running task's table.
pub fn current_files() -> Arc<FilesStruct> {
    current()
        .inner
        .lock()
        .files
        .clone()
        .expect("a task making syscalls has a file table")
}

/// The file of `fd` in the running task, not an `O_PATH` one (Linux `fdget`).
pub fn fget(fd: u64) -> Result<Arc<File>, Errno> {
    let f = current_files().fget(fd as u32)?;
    if f.f_mode & super::file::FMODE_PATH != 0 {
        return Err(EBADF);
    }
    Ok(f)
}

/// The file of `fd`, an `O_PATH` one too (Linux `fdget_raw`).
pub fn fget_raw(fd: u64) -> Result<Arc<File>, Errno> {
    current_files().fget(fd as u32)
}

/// Give `execve`'s task a table of its own if it shares one (Linux `unshare_files`),
/// then close its close-on-exec descriptors (Linux `do_close_on_exec`).
pub fn exec_files(tsk: &Task) {
    let files = tsk.inner.lock().files.clone();
    let Some(files) = files else { return };
    let shared = Arc::strong_count(&files) > 2;
    // This reference and the task's: more means another task shares the table.
    let files = if shared {
        let copy = dup_fd(&files);
        tsk.inner.lock().files = Some(copy.clone());
        copy
    } else {
        files
    };
    let closed = files.do_close_on_exec();
    crate::trace::exec_files(tsk, &files, shared, &closed);
}

/// Drop the task's table at exit (Linux `exit_files`): the last user closes every file.
pub fn exit_files(tsk: &Task) {
    let files = tsk.inner.lock().files.take();
    drop(files);
}
