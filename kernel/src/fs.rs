//! The root file system: the files of the initrd, read-only (Linux `init/initramfs.c`
//! unpacks the initrd into rootfs; `fs/namei.c` looks paths up in it).
//!
//! What `/` holds is decided once at boot ([`populate_rootfs`]):
//! - `-initrd` is a `newc` cpio archive: its files, with `/init` run as pid 1;
//! - `-initrd` is a bare ELF program: that program, as `/init`;
//! - no `-initrd`: the programs built into the kernel image (`/init`, the fork demo, and
//!   `/utest`, the test suite).
//!
//! Files stay where the boot loader put them (the initrd's pages are reserved); forkos
//! has no writable file system and no file descriptors other than the console.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::errno::*;
use crate::iov_iter::{import_iovec, import_single_range};
use crate::mm::uaccess::{access_ok, UserPtr};
use crate::println;
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::ioctls::*;
/// File type bits of a mode (`S_IFMT`, `S_IFREG`, ...) and `struct stat`.
pub use forkos_lib::uapi::stat::*;

/// Longest path a syscall accepts, with its NUL (Linux `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// A file of the root file system (Linux `struct inode`, reduced to what exec and
/// stat need).
#[derive(Clone, Copy)]
pub struct Inode {
    /// The inode number: small, and given in order when `/` is filled, as a real file
    /// system numbers its inodes (never derived from a kernel address).
    pub ino: u64,
    pub mode: u32,
    pub data: &'static [u8],
}

/// The root directory's inode number (as on Linux's rootfs).
const ROOT_INO: u64 = 1;

impl Inode {
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_reg(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

/// Every file by its path without the leading `/` (`bin/sh`); directories too.
static ROOTFS: spin::Once<BTreeMap<String, Inode>> = spin::Once::new();

/// Normalise an archive member name: `./bin/sh`, `/bin/sh` and `bin/sh` are one file.
fn archive_name(name: &str) -> Option<String> {
    let parts: Vec<&str> = forkos_lib::initramfs::path_components(name)?.collect();
    Some(parts.join("/"))
}

/// Fill `/` from the initrd, or with the built-in programs (Linux `populate_rootfs`).
pub fn populate_rootfs(initrd: Option<&'static [u8]>, builtin: &[(&str, &'static [u8])]) {
    ROOTFS.call_once(|| {
        let mut files = BTreeMap::new();
        match initrd {
            None => {
                for (name, data) in builtin {
                    files.insert(
                        String::from(*name),
                        Inode {
                            ino: 0,
                            mode: S_IFREG | 0o755,
                            data,
                        },
                    );
                }
            }
            Some(data) if data.starts_with(b"\x7fELF") => {
                files.insert(
                    String::from("init"),
                    Inode {
                        ino: 0,
                        mode: S_IFREG | 0o755,
                        data,
                    },
                );
                println!("initrd: an ELF program, {} bytes: it is /init", data.len());
            }
            Some(data) => {
                for (name, mode, data) in forkos_lib::initramfs::members(data) {
                    if let Some(name) = archive_name(name) {
                        files.insert(name, Inode { ino: 0, mode, data });
                    }
                }
                if files.is_empty() {
                    // Linux: "Initramfs unpacking failed"; boot goes on and init is not found.
                    println!("initrd: not a newc cpio archive nor an ELF program; / is empty");
                } else {
                    println!(
                        "initrd: a cpio archive of {} files and directories",
                        files.len()
                    );
                }
            }
        }
        number_inodes(&mut files);
        files
    });
}

/// Give every file a directory entry for each directory above it that the archive does
/// not list, then number all inodes in path order, the root being [`ROOT_INO`] (Linux
/// gives each new inode the next number, `get_next_ino`).
fn number_inodes(files: &mut BTreeMap<String, Inode>) {
    let dirs: Vec<String> = files
        .keys()
        .flat_map(|name| {
            name.match_indices('/')
                .map(|(i, _)| String::from(&name[..i]))
                .collect::<Vec<_>>()
        })
        .collect();
    for d in dirs {
        files.entry(d).or_insert(Inode {
            ino: 0,
            mode: S_IFDIR | 0o755,
            data: &[],
        });
    }
    for (ino, inode) in (ROOT_INO + 1..).zip(files.values_mut()) {
        inode.ino = ino;
    }
}

/// Look `path` up from `/` (Linux `path_lookupat`; the working directory of every
/// process is `/`). Components must be directories; `.` and `..` are understood.
pub fn lookup(path: &[u8]) -> Result<Inode, Errno> {
    let root = ROOTFS.get().ok_or(ENOENT)?;
    if path.is_empty() {
        return Err(ENOENT);
    }
    let path = core::str::from_utf8(path).map_err(|_| ENOENT)?;
    let mut parts: Vec<&str> = Vec::new();
    let components: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let stat = |parts: &[&str]| -> Option<Inode> {
        if parts.is_empty() {
            return Some(Inode {
                ino: ROOT_INO,
                mode: S_IFDIR | 0o755,
                data: &[],
            });
        }
        root.get(&parts.join("/")).copied()
    };
    for (i, c) in components.iter().enumerate() {
        match *c {
            "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
        let node = stat(&parts).ok_or(ENOENT)?;
        let last = i + 1 == components.len();
        if !last && !node.is_dir() {
            return Err(ENOTDIR);
        }
    }
    let node = stat(&parts).ok_or(ENOENT)?;
    // "a/file/" names a directory that is not one.
    if path.ends_with('/') && !node.is_dir() {
        return Err(ENOTDIR);
    }
    Ok(node)
}

// SAFETY: `struct stat` is integers only, laid out without padding (128 bytes, as Linux's).
unsafe impl crate::mm::uaccess::Pod for Stat {}

/// The console's device number, 5:1 (`/dev/console`).
const CONSOLE_RDEV: u64 = (5 << 8) | 1;

/// Is `fd` open? forkos has only the console, as fds 0, 1 and 2.
fn console_fd(fd: u64) -> Result<(), Errno> {
    if fd <= 2 {
        Ok(())
    } else {
        Err(EBADF)
    }
}

fn stat_console() -> Stat {
    Stat {
        st_ino: 3,
        st_mode: S_IFCHR | 0o600,
        st_nlink: 1,
        st_rdev: CONSOLE_RDEV,
        st_blksize: 4096,
        ..Stat::default()
    }
}

fn stat_inode(i: &Inode) -> Stat {
    Stat {
        st_dev: 1,
        st_ino: i.ino,
        st_mode: i.mode,
        st_nlink: if i.is_dir() { 2 } else { 1 },
        st_size: i.data.len() as i64,
        st_blksize: 4096,
        st_blocks: (i.data.len() as i64 + 511) / 512,
        ..Stat::default()
    }
}

/// `newfstatat(dirfd, path, statbuf, flags)` (Linux `vfs_fstatat`): a file of `/` by
/// path (relative paths start at `/`, the working directory), or, with `AT_EMPTY_PATH`
/// and an empty path, the open file `dirfd` (the console).
pub fn sys_newfstatat(
    dirfd: u64,
    path: UserPtr<u8>,
    statbuf: UserPtr<Stat>,
    flags: u64,
) -> SysResult {
    use crate::mm::uaccess::strndup_user;
    // The statx sync flags are accepted: there is nothing to sync here.
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(EINVAL);
    }
    let name = strndup_user(path, PATH_MAX, ENAMETOOLONG)?;
    let st = if name.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
        if dirfd as i32 == AT_FDCWD {
            stat_inode(&lookup(b"/")?)
        } else {
            console_fd(dirfd)?;
            stat_console()
        }
    } else {
        if name[0] != b'/' && dirfd as i32 != AT_FDCWD {
            console_fd(dirfd)?;
            return Err(ENOTDIR);
        }
        stat_inode(&lookup(&name)?)
    };
    statbuf.write(&st)?;
    Ok(0)
}

/// `fstat(fd, statbuf)`.
pub fn sys_fstat(fd: u64, statbuf: UserPtr<Stat>) -> SysResult {
    console_fd(fd)?;
    statbuf.write(&stat_console())?;
    Ok(0)
}

/// `readlinkat(dirfd, path, buf, size)`: `/` holds no symbolic links, so an existing
/// path gives `EINVAL` and a missing one `ENOENT` (there is no `/proc`, as in an
/// initramfs where none is mounted).
pub fn sys_readlinkat(dirfd: u64, path: UserPtr<u8>, _buf: UserPtr<u8>, size: u64) -> SysResult {
    if size as i32 <= 0 {
        return Err(EINVAL);
    }
    let name = crate::mm::uaccess::strndup_user(path, PATH_MAX, ENAMETOOLONG)?;
    // An empty path is looked up from dirfd (so a bad one is EBADF), then not found.
    if name.is_empty() {
        if dirfd as i32 != AT_FDCWD {
            console_fd(dirfd)?;
        }
        return Err(ENOENT);
    }
    if name[0] != b'/' && dirfd as i32 != AT_FDCWD {
        console_fd(dirfd)?;
        return Err(ENOTDIR);
    }
    lookup(&name)?;
    Err(EINVAL)
}

/// How much of a write the console takes at a time (Linux `iterate_tty_write`'s
/// default chunk).
const TTY_WRITE_CHUNK: usize = 2048;

/// Write the bytes of `from` to the console (Linux `tty_write` / `iterate_tty_write`),
/// a chunk of [`TTY_WRITE_CHUNK`] bytes at a time, each copied whole before any of it
/// is printed. A chunk that cannot be read whole ends the write: nothing of it is
/// printed, and the call returns the bytes of the chunks before it, or `EFAULT` if
/// there were none.
pub fn tty_write(from: &mut crate::iov_iter::IovIter) -> SysResult {
    let mut buf = [0u8; TTY_WRITE_CHUNK];
    let mut written = 0i64;
    while from.count() > 0 {
        let size = (from.count() as usize).min(TTY_WRITE_CHUNK);
        if from.copy_from_iter(&mut buf[..size]) != size {
            return if written > 0 {
                Ok(written)
            } else {
                Err(EFAULT)
            };
        }
        crate::console::write_bytes(&buf[..size]);
        written += size as i64;
    }
    Ok(written)
}

/// The console's terminal settings (Linux `tty_std_termios`: `ICRNL|IXON`,
/// `OPOST|ONLCR`, `B38400|CS8|CREAD|HUPCL`, `ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|
/// ECHOKE|IEXTEN`, and the usual control characters).
static TERMIOS: spin::Mutex<[u8; 36]> = spin::Mutex::new({
    let mut t = [0u8; 36];
    let words: [u32; 4] = [0o2400, 0o5, 0o2277, 0o105073];
    let mut i = 0;
    while i < 4 {
        let b = words[i].to_le_bytes();
        t[i * 4] = b[0];
        t[i * 4 + 1] = b[1];
        t[i * 4 + 2] = b[2];
        t[i * 4 + 3] = b[3];
        i += 1;
    }
    let cc: [u8; 17] = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0];
    let mut j = 0;
    while j < cc.len() {
        t[17 + j] = cc[j];
        j += 1;
    }
    t
});

/// `ioctl(fd, cmd, arg)` on the console, a terminal (Linux `tty_ioctl`): get and set
/// its termios (which is how `isatty` asks), and its window size (unknown: zeroes, as a
/// serial console reports). Other requests are not for a terminal: `ENOTTY`.
pub fn sys_ioctl(fd: u64, cmd: u64, arg: u64) -> SysResult {
    console_fd(fd)?;
    // What `arg` points to depends on the request (Linux passes it on as an `unsigned
    // long` too).
    match cmd & 0xffff_ffff {
        TCGETS => {
            let t = *TERMIOS.lock();
            UserPtr::<[u8; 36]>::new(arg).write(&t)?;
        }
        TCSETS | TCSETSW | TCSETSF => {
            let t = UserPtr::<[u8; 36]>::new(arg).read()?;
            *TERMIOS.lock() = t;
        }
        TIOCGWINSZ => UserPtr::<[u8; 8]>::new(arg).write(&[0u8; 8])?,
        _ => return Err(ENOTTY),
    }
    Ok(0)
}

/// `write(fd, buf, count)` (Linux `ksys_write` / `vfs_write`): fds 1 and 2 are the
/// console. The fd first, then the whole buffer (`access_ok`, even for zero bytes),
/// then the count clamped to `MAX_RW_COUNT`, then the terminal's write.
pub fn sys_write(fd: u64, buf: UserPtr<u8>, count: u64) -> SysResult {
    if fd != 1 && fd != 2 {
        return Err(EBADF);
    }
    // The whole count, before it is clamped: a buffer reaching past user space is
    // refused, not cut.
    access_ok(buf.addr(), count)?;
    let mut from = import_single_range(buf, count)?;
    crate::fs::tty_write(&mut from)
}

/// `writev(fd, iov, iovcnt)` (Linux `do_writev` / `vfs_writev`): the fd first, then
/// the whole vector read and checked ([`import_iovec`]), then the write, which writes
/// nothing for a total of zero.
pub fn sys_writev(fd: u64, iov: UserPtr<crate::iov_iter::Iovec>, iovcnt: u64) -> SysResult {
    if fd != 1 && fd != 2 {
        return Err(EBADF);
    }
    let mut from = import_iovec(iov, iovcnt)?;
    if from.count() == 0 {
        return Ok(0);
    }
    crate::fs::tty_write(&mut from)
}
