//! Each task's root, working directory and umask (Linux `fs/fs_struct.c`,
//! `include/linux/fs_struct.h`). `clone(CLONE_FS)` shares them: a `chdir` or `umask`
//! in one task changes the other's too; otherwise the child gets a copy ([`copy_fs`]).

use alloc::sync::Arc;

use super::inode::Inode;
use crate::sync::IrqSpinLock;
use crate::task::{current, Task};

/// What [`FsStruct`] guards.
pub struct FsInner {
    pub root: Arc<Inode>,
    pub pwd: Arc<Inode>,
    pub umask: u32,
}

/// Root, working directory and umask (Linux `struct fs_struct`).
pub struct FsStruct {
    pub inner: IrqSpinLock<FsInner>,
}

impl FsStruct {
    /// The first one (Linux `init_fs`): `/` as root and working directory, umask 022.
    pub fn new_root() -> Arc<FsStruct> {
        let root = super::ramfs::root();
        Arc::new(FsStruct {
            inner: IrqSpinLock::new(FsInner {
                root: root.clone(),
                pwd: root,
                umask: 0o022,
            }),
        })
    }

    /// A copy (Linux `copy_fs_struct`).
    pub fn copy(&self) -> Arc<FsStruct> {
        let i = self.inner.lock();
        Arc::new(FsStruct {
            inner: IrqSpinLock::new(FsInner {
                root: i.root.clone(),
                pwd: i.pwd.clone(),
                umask: i.umask,
            }),
        })
    }

    pub fn pwd(&self) -> Arc<Inode> {
        self.inner.lock().pwd.clone()
    }

    pub fn root(&self) -> Arc<Inode> {
        self.inner.lock().root.clone()
    }

    pub fn umask(&self) -> u32 {
        self.inner.lock().umask
    }
}

/// The child's (Linux `copy_fs`): shared with `CLONE_FS`, else a copy; a parent with
/// none (the idle task) gives the first one.
pub fn copy_fs(flags: u64, parent: Option<&Arc<FsStruct>>) -> Arc<FsStruct> {
    match parent {
        Some(f) if flags & crate::fork::CLONE_FS != 0 => f.clone(),
        Some(f) => f.copy(),
        None => FsStruct::new_root(),
    }
}

/// The running task's (Linux `current->fs`).
pub fn current_fs() -> Arc<FsStruct> {
    current()
        .inner
        .lock()
        .fs
        .clone()
        .unwrap_or_else(FsStruct::new_root)
}

/// Drop the task's at exit (Linux `exit_fs`).
pub fn exit_fs(tsk: &Task) {
    let fs = tsk.inner.lock().fs.take();
    drop(fs);
}

/// `umask(mask)` (Linux `sys_umask`): the old mask; the new one is `mask & 0777`.
pub fn sys_umask(mask: u64) -> crate::errno::SysResult {
    let fs = current_fs();
    let mut i = fs.inner.lock();
    let old = i.umask;
    i.umask = mask as u32 & 0o777;
    Ok(old as i64)
}
