//! Open files (Linux `include/linux/fs.h`'s `struct file` and `struct
//! file_operations`, `fs/file_table.c`).
//!
//! `open` makes a [`File`]: one open file description, with its own offset, flags and
//! operations. Descriptors ([`super::fdtable`]) hold it by `Arc`: `dup`, `fork` and
//! `SCM_RIGHTS` share one `File`, so the offset moves for every holder, as on Linux.
//! What a read or write does is the file's [`FileOperations`]: a ramfs file, a
//! directory, `/dev/null`, the console, a pipe's end.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use super::inode::Inode;
use crate::errno::*;
use crate::iov_iter::IovIter;
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::poll::*;

/// The file may be read (Linux `FMODE_READ`).
pub const FMODE_READ: u32 = 1 << 0;
/// The file may be written (Linux `FMODE_WRITE`).
pub const FMODE_WRITE: u32 = 1 << 1;
/// The file has a position: `lseek` may move it (Linux `FMODE_LSEEK`).
pub const FMODE_LSEEK: u32 = 1 << 2;
/// `pread` may read at an offset (Linux `FMODE_PREAD`).
pub const FMODE_PREAD: u32 = 1 << 3;
/// `pwrite` may write at an offset (Linux `FMODE_PWRITE`).
pub const FMODE_PWRITE: u32 = 1 << 4;
/// An `O_PATH` file: a place in the tree, not for reading or writing (Linux
/// `FMODE_PATH`).
pub const FMODE_PATH: u32 = 1 << 14;

/// One entry as `getdents64` sees it.
pub struct DirEntry<'a> {
    pub name: &'a [u8],
    pub ino: u64,
    pub d_type: u8,
}

/// Where a directory listing puts its entries (Linux `struct dir_context`): `actor`
/// takes an entry and the position after it, and answers whether it had room.
pub struct DirContext<'a> {
    pub pos: i64,
    pub actor: &'a mut dyn FnMut(&DirEntry, i64) -> bool,
}

/// Give `ctx` the entry at its position, `next` being the position after it (Linux
/// `dir_emit`); false when it has no room.
pub fn dir_emit(ctx: &mut DirContext, name: &[u8], ino: u64, d_type: u8, next: i64) -> bool {
    (ctx.actor)(&DirEntry { name, ino, d_type }, next)
}

/// Emit `.` and `..` from position 0 (Linux `dir_emit_dots`); false when full.
pub fn dir_emit_dots(file: &File, ctx: &mut DirContext) -> bool {
    let dir = &file.f_inode;
    if ctx.pos == 0 {
        if !dir_emit(ctx, b".", dir.ino, DT_DIR, 1) {
            return false;
        }
        ctx.pos = 1;
    }
    if ctx.pos == 1 {
        if !dir_emit(ctx, b"..", dir.parent().ino, DT_DIR, 2) {
            return false;
        }
        ctx.pos = 2;
    }
    true
}

/// What a kind of file does (Linux `struct file_operations`). Each is a `static`; a
/// method a kind of file lacks has Linux's answer for it as its default.
pub trait FileOperations: Sync {
    /// Opening `inode` for `f_mode` with the open's `flags` (Linux `open`): a device
    /// may refuse, or act (a terminal becomes a controlling terminal), and may give the
    /// new file its `private_data`; none: nothing.
    fn open(
        &self,
        _inode: &Inode,
        _f_mode: u32,
        _flags: u32,
    ) -> Result<Option<PrivateData>, Errno> {
        Ok(None)
    }
    /// Read into `to` from `*pos`, moving it (Linux `read_iter`); none: `EINVAL`.
    fn read(&self, _file: &File, _to: &mut IovIter, _pos: &mut i64) -> SysResult {
        Err(EINVAL)
    }
    /// Write `from` at `*pos`, moving it (Linux `write_iter`); none: `EINVAL`.
    fn write(&self, _file: &File, _from: &mut IovIter, _pos: &mut i64) -> SysResult {
        Err(EINVAL)
    }
    /// The new position for `lseek` (Linux `llseek`); none: `ESPIPE` (`no_llseek`).
    fn llseek(&self, _file: &File, _pos: i64, _offset: i64, _whence: u32) -> Result<i64, Errno> {
        Err(ESPIPE)
    }
    /// List a directory from `ctx.pos` (Linux `iterate_shared`); none: `ENOTDIR`.
    fn iterate_shared(&self, _file: &File, _ctx: &mut DirContext) -> Result<(), Errno> {
        Err(ENOTDIR)
    }
    /// A device's own request (Linux `unlocked_ioctl`); none: `ENOTTY`.
    fn ioctl(&self, _file: &File, _cmd: u64, _arg: u64) -> SysResult {
        Err(ENOTTY)
    }
    /// The `POLL*` events the file is ready for now (Linux `poll`); none: always
    /// readable and writable (Linux `DEFAULT_POLLMASK`), as regular files are.
    fn poll(&self, _file: &File) -> u32 {
        POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
    }
    /// The last reference to the file is gone (Linux `release`, from `__fput`).
    fn release(&self, _file: &File) {}
}

/// What a kind of file keeps for one open file (Linux `file->private_data`).
pub type PrivateData = Arc<dyn core::any::Any + Send + Sync>;

/// An open file description (Linux `struct file`).
pub struct File {
    pub f_op: &'static dyn FileOperations,
    pub f_inode: Arc<Inode>,
    /// `FMODE_*`: what the file was opened for.
    pub f_mode: u32,
    /// The open flags `F_GETFL` reports and `F_SETFL` changes (`O_APPEND`,
    /// `O_NONBLOCK`, ...) (Linux `f_flags`).
    pub f_flags: AtomicU32,
    /// The offset, behind Linux's `f_pos_lock`: held across a read or write, so that
    /// two holders of one `File` (after `fork` or `dup`) each move it by their whole
    /// transfer. A waiter yields; the holder may take page faults.
    pub f_pos: spin::mutex::SpinMutex<i64, crate::sync::CpuRelax>,
    /// What the operations keep for this file (Linux `private_data`): a pipe's
    /// [`super::pipe::PipeInodeInfo`].
    pub private_data: Option<PrivateData>,
}

/// Open files that exist, for a leak report.
pub static FILES_ALLOCATED: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

impl Drop for File {
    /// The last reference went (Linux `__fput`): the operations release the file.
    fn drop(&mut self) {
        self.f_op.release(self);
        FILES_ALLOCATED.fetch_sub(1, Ordering::Relaxed);
    }
}

impl File {
    /// A new open file of `inode` (Linux `alloc_file` + `do_dentry_open`, which drops
    /// the flags that only mattered to `open`).
    pub fn new(
        inode: Arc<Inode>,
        f_op: &'static dyn FileOperations,
        f_mode: u32,
        flags: u32,
    ) -> Arc<File> {
        Self::new_opened(inode, f_op, f_mode, flags, None)
    }

    /// [`File::new`] with the `private_data` the operations' `open` gave.
    pub fn new_opened(
        inode: Arc<Inode>,
        f_op: &'static dyn FileOperations,
        f_mode: u32,
        flags: u32,
        private_data: Option<PrivateData>,
    ) -> Arc<File> {
        FILES_ALLOCATED.fetch_add(1, Ordering::Relaxed);
        Arc::new(File {
            f_op,
            f_inode: inode,
            f_mode,
            f_flags: AtomicU32::new(flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)),
            f_pos: spin::mutex::SpinMutex::new(0),
            private_data,
        })
    }

    /// [`File::new`] with `private_data` (Linux `alloc_file_pseudo` + setting it).
    pub fn new_private(
        inode: Arc<Inode>,
        f_op: &'static dyn FileOperations,
        f_mode: u32,
        flags: u32,
        private_data: Arc<dyn core::any::Any + Send + Sync>,
    ) -> Arc<File> {
        FILES_ALLOCATED.fetch_add(1, Ordering::Relaxed);
        Arc::new(File {
            f_op,
            f_inode: inode,
            f_mode,
            f_flags: AtomicU32::new(flags),
            f_pos: spin::mutex::SpinMutex::new(0),
            private_data: Some(private_data),
        })
    }

    pub fn flags(&self) -> u32 {
        self.f_flags.load(Ordering::Relaxed)
    }

    pub fn set_flags(&self, flags: u32) {
        self.f_flags.store(flags, Ordering::Relaxed)
    }
}
