//! Files (Linux `fs/`, `init/initramfs.c`, `init/do_mounts.c`).
//!
//! | here | Linux | what |
//! |---|---|---|
//! | [`inode`] | `include/linux/fs.h`, `fs/inode.c` | `Inode`: a file's mode, links, times, data |
//! | [`ramfs`] | `fs/ramfs/`, `fs/libfs.c`, `init/initramfs.c` | `/`, a writable file system in memory, filled from the initrd |
//! | [`namei`] | `fs/namei.c` | path walk, `mkdirat`, `unlinkat`, `symlinkat`, `linkat`, `renameat2`, `readlinkat` |
//! | [`file`] | `include/linux/fs.h`, `fs/file_table.c` | `File` (`struct file`), `FileOperations` |
//! | [`fdtable`] | `fs/file.c` | `FilesStruct`: descriptors, `copy_files`, close-on-exec |
//! | [`fs_struct`] | `fs/fs_struct.c` | `FsStruct`: root, cwd, umask, `copy_fs` |
//! | [`open`] | `fs/open.c` | `openat`, `close`, `chdir`, `getcwd`, `fchmod`, `utimensat`, ... |
//! | [`read_write`] | `fs/read_write.c` | `read`, `write`, `readv`, `pread64`, `lseek`, `sendfile` |
//! | [`readdir`] | `fs/readdir.c` | `getdents64` |
//! | [`stat`] | `fs/stat.c` | `newfstatat`, `fstat`, `statx` |
//! | [`fcntl`] | `fs/fcntl.c` | `dup`, `dup3`, `fcntl`, `ioctl` |
//! | [`pipe`] | `fs/pipe.c` | `pipe2`: a bounded buffer between two files |
//! | [`select`] | `fs/select.c` | `ppoll`, `pselect6`, `rt_sigsuspend` |
//! | [`namespace`] | `fs/namespace.c` | `mount`, `umount2`: `/proc` over a directory |
//! | [`proc`] | `fs/proc/` | `/proc`: the processes and the machine, as text made when read |
//! | [`char_dev`] | `fs/char_dev.c`, `drivers/char/mem.c`, `drivers/tty/` | `/dev/null`, `/dev/zero`, the console |
//!
//! Start at [`open::sys_openat`]: a path walked to an inode, a `File` made for it, a
//! descriptor installed; then [`read_write::sys_write`] hands bytes to its operations.

pub mod char_dev;
pub mod fcntl;
pub mod fdtable;
pub mod file;
pub mod fs_struct;
pub mod inode;
pub mod namei;
pub mod namespace;
pub mod open;
pub mod pipe;
pub mod proc;
pub mod ramfs;
pub mod read_write;
pub mod readdir;
pub mod select;
pub mod stat;

/// File type bits of a mode (`S_IFMT`, `S_IFREG`, ...) and `struct stat`.
pub use forkos_lib::uapi::stat::*;
pub use namei::{lookup, PATH_MAX};
pub use ramfs::populate_rootfs;

use crate::errno::*;
use forkos_lib::uapi::fcntl::O_RDWR;

/// Give the running task (pid 1, before it runs init) a table with `/dev/console` as
/// descriptors 0, 1 and 2 (Linux `console_on_rootfs`: `open("/dev/console", O_RDWR)`,
/// then two `dup`s of it). Without a console there is nothing to give.
pub fn console_on_rootfs() -> Result<(), Errno> {
    let files = fdtable::current_files();
    let inode = lookup(b"/dev/console")?;
    let file = open::open_inode(inode, O_RDWR)?;
    for _ in 0..3 {
        files.alloc_fd(0, usize::MAX, file.clone(), false)?;
    }
    Ok(())
}
