//! Inodes: what a file is, apart from its names (Linux `include/linux/fs.h`'s `struct
//! inode`, `fs/inode.c`). forkos has one file system, a ramfs ([`super::ramfs`]), so an
//! inode holds its data itself: a regular file's bytes, a directory's entries, a
//! symbolic link's target. Next: [`super::namei`], which finds inodes by path.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::*;
use crate::sync::IrqSpinLock;
use forkos_lib::uapi::stat::*;

/// The longest name of a directory entry (Linux `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The next inode number (Linux `get_next_ino`).
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// Inodes that exist, for a leak report.
pub static INODES_ALLOCATED: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

/// The size of a page of file data (Linux's page cache pages).
pub const FILE_PAGE: usize = 4096;

/// A regular file's bytes: the initrd's own, where the boot loader put them, until the
/// first change copies them (so that an unchanged file costs no memory); then a list of
/// pages, as Linux's ramfs keeps a file in the page cache. Each page is a heap object of
/// one page, which goes back to the page allocator when freed: a file of any size
/// leaves no memory behind once it is gone.
pub enum FileData {
    Initrd(&'static [u8]),
    Pages { pages: Vec<FilePage>, size: usize },
}

/// One page of a file's data.
type FilePage = Box<[u8]>;

impl Default for FileData {
    /// A new, empty file.
    fn default() -> FileData {
        FileData::Pages {
            pages: Vec::new(),
            size: 0,
        }
    }
}

impl FileData {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn len(&self) -> usize {
        match self {
            FileData::Initrd(d) => d.len(),
            FileData::Pages { size, .. } => *size,
        }
    }

    /// Copy bytes from `pos` into `buf`; how many there were.
    pub fn read_at(&self, pos: usize, buf: &mut [u8]) -> usize {
        let n = self.len().saturating_sub(pos).min(buf.len());
        if n == 0 {
            return 0;
        }
        match self {
            FileData::Initrd(d) => buf[..n].copy_from_slice(&d[pos..pos + n]),
            FileData::Pages { pages, .. } => {
                let mut done = 0;
                while done < n {
                    let at = pos + done;
                    let (page, off) = (at / FILE_PAGE, at % FILE_PAGE);
                    let k = (FILE_PAGE - off).min(n - done);
                    buf[done..done + k].copy_from_slice(&pages[page][off..off + k]);
                    done += k;
                }
            }
        }
        n
    }

    /// The pages, copied out of the initrd the first time.
    fn pages_mut(&mut self) -> Result<(&mut Vec<FilePage>, &mut usize), Errno> {
        if let FileData::Initrd(d) = *self {
            let mut copy = FileData::default();
            copy.write_at(0, d)?;
            *self = copy;
        }
        match self {
            FileData::Pages { pages, size } => Ok((pages, size)),
            FileData::Initrd(_) => unreachable!("copied just above"),
        }
    }

    /// Make the file `len` bytes long: pages added are zeroes; a page cut off is freed,
    /// and the bytes past the end in the last page are zeroed (Linux `truncate_setsize`).
    pub fn set_len(&mut self, len: usize) -> Result<(), Errno> {
        let (pages, size) = self.pages_mut()?;
        let want = len.div_ceil(FILE_PAGE);
        if want > pages.len() {
            pages.try_reserve(want - pages.len()).map_err(|_| ENOSPC)?;
            while pages.len() < want {
                let mut page = Vec::new();
                page.try_reserve_exact(FILE_PAGE).map_err(|_| ENOSPC)?;
                page.resize(FILE_PAGE, 0);
                pages.push(page.into_boxed_slice());
            }
        } else {
            pages.truncate(want);
            pages.shrink_to_fit();
        }
        if len < *size && !len.is_multiple_of(FILE_PAGE) {
            if let Some(last) = pages.last_mut() {
                last[len % FILE_PAGE..].fill(0);
            }
        }
        *size = len;
        Ok(())
    }

    /// Write `data` at `pos`, growing the file.
    pub fn write_at(&mut self, pos: usize, data: &[u8]) -> Result<(), Errno> {
        let end = pos.checked_add(data.len()).ok_or(EFBIG)?;
        if end > self.len() {
            self.set_len(end)?;
        }
        let (pages, _) = self.pages_mut()?;
        let mut done = 0;
        while done < data.len() {
            let at = pos + done;
            let (page, off) = (at / FILE_PAGE, at % FILE_PAGE);
            let k = (FILE_PAGE - off).min(data.len() - done);
            pages[page][off..off + k].copy_from_slice(&data[done..done + k]);
            done += k;
        }
        Ok(())
    }
}

/// A directory's entries and its parent (Linux keeps both in dentries: `d_subdirs`,
/// `d_parent`). The root's parent is itself (an empty `Weak`).
#[derive(Default)]
pub struct Dir {
    pub entries: BTreeMap<Vec<u8>, Arc<Inode>>,
    pub parent: Weak<Inode>,
}

/// What an inode holds, by its type.
pub enum InodeData {
    Reg(FileData),
    Dir(Dir),
    Symlink(Vec<u8>),
    /// A character device: its operations are chosen by `rdev` when it is opened
    /// (Linux `chrdev_open`).
    Chr,
    /// A pipe's inode and its buffer (Linux `i_pipe`), which the files also hold as
    /// their `private_data`; opening the inode again (through `/proc/PID/fd/N`) opens
    /// the same pipe.
    Pipe(Arc<super::pipe::PipeInodeInfo>),
    /// A file of `/proc`: what it shows is made when it is read (Linux `proc_inode`).
    Proc(super::proc::ProcEntry),
}

/// A time stamp, seconds and nanoseconds (Linux `struct timespec64`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

/// The present time for a time stamp (Linux `current_time`): the realtime clock, which
/// starts at the epoch at boot.
pub fn current_time() -> Time {
    let ns = crate::time::ktime_get_ns();
    Time {
        sec: (ns / 1_000_000_000) as i64,
        nsec: (ns % 1_000_000_000) as u32,
    }
}

/// The changeable part of an inode, behind its lock (Linux `i_rwsem` and `i_lock`).
pub struct InodeInner {
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// A device file's number, `(major, minor)`.
    pub rdev: (u32, u32),
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    pub data: InodeData,
}

/// A file (Linux `struct inode`). Directory entries and open files hold it by `Arc`;
/// the last of them gone, it is freed with its data (Linux `iput` -> `evict`).
pub struct Inode {
    pub ino: u64,
    pub i: IrqSpinLock<InodeInner>,
}

impl Drop for Inode {
    fn drop(&mut self) {
        INODES_ALLOCATED.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Inode {
    /// A new inode of `mode` with `data` (Linux `new_inode` + `ramfs_get_inode`).
    pub fn new(mode: u32, data: InodeData) -> Arc<Inode> {
        INODES_ALLOCATED.fetch_add(1, Ordering::Relaxed);
        let now = current_time();
        let nlink = if mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        Arc::new(Inode {
            ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
            i: IrqSpinLock::new(InodeInner {
                mode,
                nlink,
                uid: 0,
                gid: 0,
                rdev: (0, 0),
                atime: now,
                mtime: now,
                ctime: now,
                data,
            }),
        })
    }

    /// A new, empty directory below `parent` (none: the root).
    pub fn new_dir(mode: u32, parent: Option<&Arc<Inode>>) -> Arc<Inode> {
        Inode::new(
            S_IFDIR | (mode & S_IALLUGO),
            InodeData::Dir(Dir {
                entries: BTreeMap::new(),
                parent: parent.map(Arc::downgrade).unwrap_or_default(),
            }),
        )
    }

    pub fn mode(&self) -> u32 {
        self.i.lock().mode
    }
    pub fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == S_IFDIR
    }
    pub fn is_reg(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK
    }

    /// The entry `name` of this directory (Linux `simple_lookup` in the dcache):
    /// `ENOTDIR` if this is not a directory, `ENOENT` if there is none.
    pub fn lookup(self: &Arc<Inode>, name: &[u8]) -> Result<Arc<Inode>, Errno> {
        let i = self.i.lock();
        match &i.data {
            InodeData::Dir(d) => d.entries.get(name).cloned().ok_or(ENOENT),
            InodeData::Proc(e) => {
                let e = e.clone();
                drop(i);
                super::proc::proc_lookup(self, &e, name)
            }
            _ => Err(ENOTDIR),
        }
    }

    /// The directory above this one; the root's is the root itself.
    pub fn parent(self: &Arc<Inode>) -> Arc<Inode> {
        match &self.i.lock().data {
            InodeData::Dir(d) => d.parent.upgrade(),
            InodeData::Proc(e) => Some(e.parent.clone()),
            _ => None,
        }
        .unwrap_or_else(|| self.clone())
    }

    /// A symbolic link's target.
    pub fn link_target(&self) -> Option<Vec<u8>> {
        let e = match &self.i.lock().data {
            InodeData::Symlink(t) => return Some(t.clone()),
            InodeData::Proc(e) => e.clone(),
            _ => return None,
        };
        super::proc::proc_get_link(&e)
    }

    /// The size as `stat` reports it (Linux `i_size`).
    pub fn size(&self) -> u64 {
        let i = self.i.lock();
        match &i.data {
            InodeData::Reg(f) => f.len() as u64,
            InodeData::Symlink(t) => t.len() as u64,
            // tmpfs reports 20 bytes an entry (BOGO_DIRENT_SIZE), ramfs 0: a number no
            // program relies on.
            InodeData::Dir(d) => 20 * (d.entries.len() as u64 + 2),
            InodeData::Chr | InodeData::Pipe(_) | InodeData::Proc(_) => 0,
        }
    }

    /// The program's bytes for `execve`: the initrd's own, or a copy of a file that
    /// was written (Linux maps the page cache; forkos's ELF loader reads one slice). A
    /// copy of more than a page comes from the kernel heap, which keeps what it grew.
    pub fn exec_image(&self) -> Option<alloc::borrow::Cow<'static, [u8]>> {
        match &self.i.lock().data {
            InodeData::Reg(FileData::Initrd(d)) => Some(alloc::borrow::Cow::Borrowed(*d)),
            InodeData::Reg(f) => {
                let mut v = alloc::vec![0u8; f.len()];
                f.read_at(0, &mut v);
                Some(alloc::borrow::Cow::Owned(v))
            }
            _ => None,
        }
    }

    /// Mark the inode changed now (Linux `inode_set_ctime_current`), and modified too.
    pub fn touch(&self, modified: bool) {
        let now = current_time();
        let mut i = self.i.lock();
        i.ctime = now;
        if modified {
            i.mtime = now;
        }
    }
}
