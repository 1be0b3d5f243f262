//! Files: descriptors, open file descriptions and the in-memory root file system
//! (Linux `fs/`): `openat` and its flags, `read`/`write` on every kind of file, `lseek`,
//! `dup`/`dup3`/`fcntl`, a shared offset after `fork`, `CLONE_FILES`, close-on-exec,
//! `getdents64`, names (`mkdirat`, `unlinkat`, `symlinkat`, `linkat`, `renameat`), the
//! working directory and umask, attributes, `RLIMIT_NOFILE`. Every test works in `/tmp`
//! and removes what it made, so that the kernel's page count at power-off is exact.

use forkos_user::sys::{self, nr, *};

use crate::util::*;

/// Errors these tests compare, as raw results.
const ENOTDIR: isize = 20;
const EISDIR: isize = 21;
const EMFILE: isize = 24;
const ESPIPE: isize = 29;
const ERANGE: isize = 34;
const ENAMETOOLONG: isize = 36;
const ENOTEMPTY: isize = 39;
const ELOOP: isize = 40;
const AT: usize = AT_FDCWD as usize;

fn call(n: usize, a: [usize; 6]) -> isize {
    sys::syscall(n, a)
}

/// A NUL-terminated copy of `s` on the stack.
struct CStr([u8; 300]);

fn c(s: &[u8]) -> CStr {
    let mut b = [0u8; 300];
    b[..s.len()].copy_from_slice(s);
    CStr(b)
}

impl CStr {
    fn p(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

fn open(path: &[u8], flags: u32, mode: u32) -> isize {
    let p = c(path);
    call(nr::OPENAT, [AT, p.p(), flags as usize, mode as usize, 0, 0])
}
// The tests keep descriptors as the `isize` open returns.
fn close(fd: isize) -> isize {
    sys::close(fd as i32)
}
fn read(fd: isize, buf: &mut [u8]) -> isize {
    sys::read(fd as i32, buf)
}
fn write(fd: isize, buf: &[u8]) -> isize {
    sys::write(fd as i32, buf)
}
fn lseek(fd: isize, off: i64, whence: u32) -> isize {
    call(
        nr::LSEEK,
        [fd as usize, off as usize, whence as usize, 0, 0, 0],
    )
}
fn fcntl(fd: isize, cmd: u32, arg: usize) -> isize {
    call(nr::FCNTL, [fd as usize, cmd as usize, arg, 0, 0, 0])
}
fn mkdir(path: &[u8], mode: u32) -> isize {
    let p = c(path);
    call(nr::MKDIRAT, [AT, p.p(), mode as usize, 0, 0, 0])
}
fn unlinkat(path: &[u8], flags: u64) -> isize {
    let p = c(path);
    call(nr::UNLINKAT, [AT, p.p(), flags as usize, 0, 0, 0])
}
fn unlink(path: &[u8]) -> isize {
    unlinkat(path, 0)
}
fn rmdir(path: &[u8]) -> isize {
    unlinkat(path, AT_REMOVEDIR)
}
fn symlink(target: &[u8], path: &[u8]) -> isize {
    let (t, p) = (c(target), c(path));
    call(nr::SYMLINKAT, [t.p(), AT, p.p(), 0, 0, 0])
}
fn link(old: &[u8], new: &[u8]) -> isize {
    let (o, n) = (c(old), c(new));
    call(nr::LINKAT, [AT, o.p(), AT, n.p(), 0, 0])
}
fn rename(old: &[u8], new: &[u8]) -> isize {
    let (o, n) = (c(old), c(new));
    call(nr::RENAMEAT, [AT, o.p(), AT, n.p(), 0, 0])
}
fn stat_flags(path: &[u8], flags: u64) -> Result<Stat, isize> {
    let p = c(path);
    let mut st = Stat::default();
    let r = call(
        nr::NEWFSTATAT,
        [
            AT,
            p.p(),
            &mut st as *mut Stat as usize,
            flags as usize,
            0,
            0,
        ],
    );
    if r < 0 {
        Err(r)
    } else {
        Ok(st)
    }
}
fn stat(path: &[u8]) -> Result<Stat, isize> {
    stat_flags(path, 0)
}
fn fstat(fd: isize) -> Stat {
    let mut st = Stat::default();
    call(
        nr::FSTAT,
        [fd as usize, &mut st as *mut Stat as usize, 0, 0, 0, 0],
    );
    st
}
/// A file holding `data`, made new.
fn make_file(path: &[u8], data: &[u8]) -> Result<(), Fail> {
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o644);
    check!(fd >= 0, "creat({:?}) = {fd}", core::str::from_utf8(path));
    check_eq!(write(fd, data), data.len() as isize, "write to a new file");
    check_eq!(close(fd), 0, "close");
    Ok(())
}
/// The whole of a file.
fn contents(path: &[u8], buf: &mut [u8]) -> Result<usize, Fail> {
    let fd = open(path, O_RDONLY, 0);
    check!(fd >= 0, "open({:?}) = {fd}", core::str::from_utf8(path));
    let n = read(fd, buf);
    check!(n >= 0, "read = {n}");
    close(fd);
    Ok(n as usize)
}

/// O_CREAT|O_EXCL makes a file once; O_TRUNC empties it; O_APPEND writes at the end
/// wherever the offset is; the mode is less the umask.
pub fn open_creat_trunc_append() -> T {
    let f = b"/tmp/f-open";
    let fd = open(f, O_CREAT | O_EXCL | O_RDWR, 0o666);
    check!(fd >= 3, "open(O_CREAT|O_EXCL) = {fd}");
    check_eq!(
        fstat(fd).st_mode,
        S_IFREG | 0o644,
        "mode of 0666 under umask 022"
    );
    check_eq!(
        open(f, O_CREAT | O_EXCL | O_RDWR, 0o666),
        -EEXIST,
        "O_EXCL again"
    );
    check_eq!(write(fd, b"hello"), 5, "write");
    check_eq!(lseek(fd, 0, SEEK_SET), 0, "lseek(0)");
    let mut buf = [0u8; 16];
    check_eq!(read(fd, &mut buf), 5, "read back");
    check_eq!(&buf[..5], b"hello", "data");
    check_eq!(read(fd, &mut buf), 0, "read at the end");
    close(fd);
    let fd = open(f, O_WRONLY | O_APPEND, 0);
    check_eq!(write(fd, b" world"), 6, "append");
    check_eq!(lseek(fd, 0, SEEK_SET), 0, "lseek(0)");
    check_eq!(write(fd, b"!"), 1, "append after lseek");
    check_eq!(
        fcntl(fd, F_GETFL, 0) as u32 & (O_ACCMODE | O_APPEND),
        O_WRONLY | O_APPEND,
        "F_GETFL"
    );
    close(fd);
    check_eq!(contents(f, &mut buf)?, 12, "size");
    check_eq!(&buf[..12], b"hello world!", "appended");
    let fd = open(f, O_WRONLY | O_TRUNC, 0);
    check_eq!(fstat(fd).st_size, 0, "size after O_TRUNC");
    close(fd);
    check_eq!(unlink(f), 0, "unlink");
    check_eq!(open(f, O_RDONLY, 0), -ENOENT, "open after unlink");
    Ok(())
}

/// The errors of open, read and write (Linux's checks and their order).
pub fn open_errors() -> T {
    let f = b"/tmp/f-err";
    make_file(f, b"x")?;
    check_eq!(symlink(b"f-err", b"/tmp/f-link"), 0, "symlink");
    check_eq!(
        open(f, O_RDONLY | O_DIRECTORY, 0),
        -ENOTDIR,
        "O_DIRECTORY on a file"
    );
    check_eq!(
        open(b"/tmp/f-link", O_RDONLY | O_NOFOLLOW, 0),
        -ELOOP,
        "O_NOFOLLOW on a link"
    );
    check_eq!(
        open(b"/tmp", O_WRONLY, 0),
        -EISDIR,
        "a directory for writing"
    );
    check_eq!(open(b"/tmp", O_RDWR, 0), -EISDIR, "a directory for O_RDWR");
    check_eq!(
        open(b"/tmp", O_RDWR | O_CREAT, 0o644),
        -EISDIR,
        "O_CREAT of a directory"
    );
    check_eq!(open(b"/tmp/nothing", O_RDONLY, 0), -ENOENT, "missing");
    check_eq!(open(b"/tmp/f-err/", O_RDONLY, 0), -ENOTDIR, "file/");
    check_eq!(open(b"/tmp/f-err/x", O_RDONLY, 0), -ENOTDIR, "file/x");
    check_eq!(open(b"", O_RDONLY, 0), -ENOENT, "empty path");
    let long = [b'a'; 256];
    check_eq!(open(&long, O_RDONLY, 0), -ENAMETOOLONG, "a 256-byte name");
    let fd = open(f, O_RDONLY, 0);
    check_eq!(write(fd, b"y"), -EBADF, "write to O_RDONLY");
    close(fd);
    let fd = open(f, O_WRONLY, 0);
    let mut b = [0u8; 4];
    check_eq!(read(fd, &mut b), -EBADF, "read of O_WRONLY");
    close(fd);
    let d = open(b"/tmp", O_RDONLY | O_DIRECTORY, 0);
    check!(d >= 0, "open(/tmp) = {d}");
    check_eq!(read(d, &mut b), -EISDIR, "read of a directory");
    close(d);
    check_eq!(close(d), -EBADF, "close twice");
    check_eq!(close(-1), -EBADF, "close(-1)");
    // A dangling link: not found; a loop: ELOOP.
    check_eq!(symlink(b"nowhere", b"/tmp/f-dangle"), 0, "symlink");
    check_eq!(
        open(b"/tmp/f-dangle", O_RDONLY, 0),
        -ENOENT,
        "dangling link"
    );
    check_eq!(symlink(b"f-loop2", b"/tmp/f-loop1"), 0, "symlink");
    check_eq!(symlink(b"f-loop1", b"/tmp/f-loop2"), 0, "symlink");
    check_eq!(
        open(b"/tmp/f-loop1", O_RDONLY, 0),
        -ELOOP,
        "a loop of links"
    );
    for p in [
        &b"/tmp/f-dangle"[..],
        b"/tmp/f-loop1",
        b"/tmp/f-loop2",
        b"/tmp/f-link",
        f,
    ] {
        check_eq!(unlink(p), 0, "unlink");
    }
    Ok(())
}

/// lseek's origins and errors, pread/pwrite leave the offset, a hole reads as zeroes;
/// the console has no offset.
pub fn lseek_pread_pwrite() -> T {
    let f = b"/tmp/f-seek";
    make_file(f, b"abcde")?;
    let fd = open(f, O_RDWR, 0);
    check_eq!(lseek(fd, 2, SEEK_SET), 2, "SEEK_SET");
    check_eq!(lseek(fd, 1, SEEK_CUR), 3, "SEEK_CUR");
    check_eq!(lseek(fd, -1, SEEK_END), 4, "SEEK_END");
    check_eq!(lseek(fd, -10, SEEK_CUR), -EINVAL, "before the start");
    check_eq!(lseek(fd, 0, 7), -EINVAL, "whence 7");
    check_eq!(lseek(fd, 0, SEEK_CUR), 4, "unchanged after errors");
    let mut b = [0u8; 8];
    let pread = |fd: isize, b: &mut [u8], off: i64| {
        call(
            nr::PREAD64,
            [
                fd as usize,
                b.as_mut_ptr() as usize,
                b.len(),
                off as usize,
                0,
                0,
            ],
        )
    };
    check_eq!(pread(fd, &mut b[..2], 1), 2, "pread");
    check_eq!(&b[..2], b"bc", "pread data");
    check_eq!(lseek(fd, 0, SEEK_CUR), 4, "pread left the offset");
    check_eq!(pread(fd, &mut b, -1), -EINVAL, "pread at -1");
    let w = b"XY";
    check_eq!(
        call(nr::PWRITE64, [fd as usize, w.as_ptr() as usize, 2, 8, 0, 0]),
        2,
        "pwrite past the end"
    );
    check_eq!(fstat(fd).st_size, 10, "size after pwrite");
    check_eq!(pread(fd, &mut b, 4), 6, "pread over the hole");
    check_eq!(&b[..6], b"e\0\0\0XY", "a hole reads as zeroes");
    check_eq!(lseek(fd, 0, SEEK_CUR), 4, "pwrite left the offset");
    close(fd);
    check_eq!(lseek(1, 0, SEEK_CUR), -ESPIPE, "lseek on the console");
    check_eq!(pread(1, &mut b, 0), -ESPIPE, "pread on the console");
    check_eq!(lseek(99, 0, SEEK_SET), -EBADF, "lseek of a closed fd");
    check_eq!(unlink(f), 0, "unlink");
    Ok(())
}

/// /dev/null takes everything and gives nothing; /dev/zero gives zeroes.
pub fn dev_null_and_zero() -> T {
    let n = open(b"/dev/null", O_RDWR, 0);
    check!(n >= 0, "open /dev/null = {n}");
    check_eq!(write(n, b"gone"), 4, "write to /dev/null");
    let mut b = [7u8; 64];
    check_eq!(read(n, &mut b), 0, "read of /dev/null");
    check_eq!(lseek(n, 100, SEEK_SET), 0, "lseek of /dev/null");
    check_eq!(fstat(n).st_mode, S_IFCHR | 0o666, "mode of /dev/null");
    check_eq!(fstat(n).st_rdev, (1 << 8) | 3, "rdev of /dev/null");
    close(n);
    let z = open(b"/dev/zero", O_RDONLY, 0);
    check_eq!(read(z, &mut b), 64, "read of /dev/zero");
    check!(b.iter().all(|&x| x == 0), "zeroes");
    close(z);
    let st = stat(b"/dev/console")
        .map_err(|e| fail(format_args!("stat console {e}"), file!(), line!()))?;
    check_eq!(st.st_rdev, (5 << 8) | 1, "rdev of /dev/console");
    check_eq!(fstat(1).st_rdev, (5 << 8) | 1, "fd 1 is the console");
    Ok(())
}

/// After fork, parent and child share each open file's offset.
pub fn fork_shares_offset() -> T {
    let f = b"/tmp/f-fork";
    let fd = open(f, O_CREAT | O_EXCL | O_RDWR, 0o644);
    check!(fd >= 0, "creat = {fd}");
    check_eq!(write(fd, b"p1 "), 3, "parent writes");
    let pid = child_code(|| if write(fd, b"child ") == 6 { 0 } else { 1 })?;
    expect_ok(pid)?;
    check_eq!(
        lseek(fd, 0, SEEK_CUR),
        9,
        "the child's write moved the parent's offset"
    );
    check_eq!(write(fd, b"p2"), 2, "parent writes again");
    close(fd);
    let mut b = [0u8; 32];
    let n = contents(f, &mut b)?;
    check_eq!(&b[..n], b"p1 child p2", "one offset for both");
    check_eq!(unlink(f), 0, "unlink");
    Ok(())
}

/// CLONE_FILES shares the descriptor table: a close or an open in the child is the
/// parent's too; without it, the child's close is its own.
pub fn clone_files_shares_table() -> T {
    for shared in [true, false] {
        let fd = open(b"/dev/null", O_RDONLY, 0);
        let fd2 = open(b"/dev/null", O_RDONLY, 0);
        let flags = if shared { CLONE_FILES } else { 0 } | SIGCHLD as u64;
        let pid = sys::clone(flags, 0, core::ptr::null_mut(), 0, core::ptr::null_mut());
        if pid == 0 {
            close(fd);
            close(fd2);
            let new = open(b"/dev/zero", O_RDONLY, 0);
            sys::exit_group(new as i32);
        }
        let st = wait(pid as i32)?;
        check_eq!(
            (st.0 >> 8) as isize,
            fd,
            "the child's open took the lowest free slot"
        );
        if shared {
            check_eq!(
                fcntl(fd2, F_GETFD, 0),
                -EBADF,
                "the child's close, CLONE_FILES"
            );
            check_eq!(
                fstat(fd).st_rdev,
                (1 << 8) | 5,
                "the child's /dev/zero, CLONE_FILES"
            );
            close(fd);
        } else {
            check_eq!(fcntl(fd2, F_GETFD, 0), 0, "still open without CLONE_FILES");
            check_eq!(
                fstat(fd).st_rdev,
                (1 << 8) | 3,
                "still /dev/null without CLONE_FILES"
            );
            close(fd);
            close(fd2);
        }
    }
    Ok(())
}

/// The exec'd half of `cloexec_across_execve`: exit 10 + 2 * (`a` open) + (`b` open).
pub fn fdopen_helper(a: &str, b: &str) -> i32 {
    let open = |s: &str| (fcntl(s.parse().unwrap_or(-1), F_GETFD, 0) >= 0) as i32;
    10 + 2 * open(a) + open(b)
}

/// execve closes FD_CLOEXEC descriptors and keeps the others.
pub fn cloexec_across_execve() -> T {
    let a = open(b"/dev/null", O_RDONLY | O_CLOEXEC, 0);
    let b = open(b"/dev/null", O_RDONLY, 0);
    check_eq!(
        fcntl(a, F_GETFD, 0),
        FD_CLOEXEC as isize,
        "O_CLOEXEC sets FD_CLOEXEC"
    );
    check_eq!(fcntl(b, F_GETFD, 0), 0, "no FD_CLOEXEC");
    let pid = exec_fdopen(a as i32, b as i32)?;
    check_eq!(
        wait(pid)?,
        exited(11),
        "after execve: the O_CLOEXEC fd closed, the other open"
    );
    close(a);
    close(b);
    Ok(())
}

/// dup takes the lowest free descriptor and shares the file; dup3 and fcntl's rules.
pub fn dup_dup3_fcntl() -> T {
    let f = b"/tmp/f-dup";
    make_file(f, b"0123456789")?;
    let fd = open(f, O_RDONLY, 0);
    let d = call(nr::DUP, [fd as usize, 0, 0, 0, 0, 0]);
    check_eq!(d, fd + 1, "dup takes the lowest free");
    check_eq!(lseek(fd, 4, SEEK_SET), 4, "lseek");
    check_eq!(lseek(d, 0, SEEK_CUR), 4, "a dup shares the offset");
    let dup3 = |o: isize, n: isize, fl: u32| {
        call(nr::DUP3, [o as usize, n as usize, fl as usize, 0, 0, 0])
    };
    check_eq!(dup3(fd, fd, 0), -EINVAL, "dup3 onto itself");
    check_eq!(dup3(fd, 20, 1), -EINVAL, "dup3 flags");
    check_eq!(dup3(99, 20, 0), -EBADF, "dup3 of a closed fd");
    check_eq!(dup3(fd, 4096, 0), -EBADF, "dup3 past RLIMIT_NOFILE");
    check_eq!(dup3(fd, 20, O_CLOEXEC), 20, "dup3 O_CLOEXEC");
    check_eq!(
        fcntl(20, F_GETFD, 0),
        FD_CLOEXEC as isize,
        "dup3's FD_CLOEXEC"
    );
    let n = open(b"/dev/null", O_RDONLY, 0);
    check_eq!(dup3(n, 20, 0), 20, "dup3 onto an open fd");
    check_eq!(fcntl(20, F_GETFD, 0), 0, "FD_CLOEXEC cleared");
    check_eq!(fstat(20).st_rdev, (1 << 8) | 3, "20 is /dev/null now");
    check_eq!(fcntl(fd, F_DUPFD, 30), 30, "F_DUPFD from 30");
    check_eq!(
        fcntl(fd, F_DUPFD_CLOEXEC, 30),
        31,
        "F_DUPFD_CLOEXEC, next free"
    );
    check_eq!(
        fcntl(31, F_GETFD, 0),
        FD_CLOEXEC as isize,
        "F_DUPFD_CLOEXEC"
    );
    check_eq!(fcntl(31, F_SETFD, 0), 0, "F_SETFD 0");
    check_eq!(fcntl(31, F_GETFD, 0), 0, "F_GETFD after F_SETFD");
    check_eq!(
        fcntl(fd, F_DUPFD, 4096),
        -EINVAL,
        "F_DUPFD past RLIMIT_NOFILE"
    );
    check_eq!(fcntl(fd, 9999, 0), -EINVAL, "an unknown command");
    check_eq!(fcntl(99, F_GETFD, 0), -EBADF, "F_GETFD of a closed fd");
    check_eq!(
        fcntl(fd, F_GETFL, 0) as u32 & O_ACCMODE,
        O_RDONLY,
        "F_GETFL"
    );
    check_eq!(fcntl(fd, F_SETFL, O_APPEND as usize), 0, "F_SETFL O_APPEND");
    check_eq!(
        fcntl(d, F_GETFL, 0) as u32 & O_APPEND,
        O_APPEND,
        "status flags are the file's"
    );
    check_eq!(
        call(nr::DUP, [99, 0, 0, 0, 0, 0]),
        -EBADF,
        "dup of a closed fd"
    );
    for x in [fd, d, n, 20, 30, 31] {
        check_eq!(close(x), 0, "close");
    }
    check_eq!(unlink(f), 0, "unlink");
    Ok(())
}

/// At RLIMIT_NOFILE descriptors, open and dup fail with EMFILE.
pub fn emfile_at_rlimit_nofile() -> T {
    let pid = child(|| {
        let lim = Rlimit { cur: 8, max: 8 };
        check_eq!(
            call(
                nr::PRLIMIT64,
                [0, RLIMIT_NOFILE, &lim as *const Rlimit as usize, 0, 0, 0]
            ),
            0,
            "prlimit64"
        );
        let mut last = 0;
        for _ in 3..8 {
            last = open(b"/dev/null", O_RDONLY, 0);
            check!(last >= 0, "open below the limit = {last}");
        }
        check_eq!(last, 7, "the last fd below the limit");
        check_eq!(
            open(b"/dev/null", O_RDONLY, 0),
            -EMFILE,
            "open at the limit"
        );
        check_eq!(
            call(nr::DUP, [3, 0, 0, 0, 0, 0]),
            -EMFILE,
            "dup at the limit"
        );
        check_eq!(fcntl(3, F_DUPFD, 0), -EMFILE, "F_DUPFD at the limit");
        check_eq!(close(5), 0, "close");
        check_eq!(open(b"/dev/null", O_RDONLY, 0), 5, "the freed slot");
        Ok(())
    })?;
    expect_ok(pid)
}

/// getdents64 lists `.`, `..` and every entry with its type; a buffer too small for
/// one record is EINVAL, a file ENOTDIR.
pub fn getdents64_lists_directory() -> T {
    check_eq!(mkdir(b"/tmp/d-list", 0o755), 0, "mkdir");
    make_file(b"/tmp/d-list/a", b"")?;
    make_file(b"/tmp/d-list/bb", b"")?;
    check_eq!(mkdir(b"/tmp/d-list/c", 0o755), 0, "mkdir");
    check_eq!(symlink(b"a", b"/tmp/d-list/l"), 0, "symlink");
    let d = open(b"/tmp/d-list", O_RDONLY | O_DIRECTORY, 0);
    let mut buf = [0u8; 512];
    let mut seen = [0u8; 6]; // ., .., a, bb, c, l: their d_type
    for_each_dirent(d as i32, &mut buf, |name, d_type, reclen| {
        let i = match name {
            b"." => 0,
            b".." => 1,
            b"a" => 2,
            b"bb" => 3,
            b"c" => 4,
            b"l" => 5,
            _ => {
                return Err(fail(
                    format_args!("unexpected entry {name:?}"),
                    file!(),
                    line!(),
                ))
            }
        };
        check_eq!(seen[i], 0, "entry {i} listed once");
        seen[i] = d_type;
        check_eq!(reclen % 8, 0, "reclen aligned");
        Ok(())
    })?;
    check_eq!(
        seen,
        [DT_DIR, DT_DIR, DT_REG, DT_REG, DT_DIR, DT_LNK],
        "types"
    );
    check_eq!(lseek(d, 0, SEEK_SET), 0, "rewind");
    check_eq!(
        call(
            nr::GETDENTS64,
            [d as usize, buf.as_mut_ptr() as usize, 20, 0, 0, 0]
        ),
        -EINVAL,
        "a buffer too small"
    );
    close(d);
    let f = open(b"/tmp/d-list/a", O_RDONLY, 0);
    check_eq!(
        call(
            nr::GETDENTS64,
            [f as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0]
        ),
        -ENOTDIR,
        "getdents64 of a file"
    );
    close(f);
    for p in [&b"/tmp/d-list/a"[..], b"/tmp/d-list/bb", b"/tmp/d-list/l"] {
        check_eq!(unlink(p), 0, "unlink");
    }
    check_eq!(rmdir(b"/tmp/d-list/c"), 0, "rmdir");
    check_eq!(rmdir(b"/tmp/d-list"), 0, "rmdir");
    Ok(())
}

/// mkdir and rmdir/unlink errors: EEXIST, ENOENT, ENOTDIR, ENOTEMPTY, EISDIR, EINVAL.
pub fn mkdir_rmdir_errors() -> T {
    check_eq!(mkdir(b"/tmp/d-err", 0o755), 0, "mkdir");
    check_eq!(
        stat(b"/tmp/d-err").map(|s| s.st_nlink),
        Ok(2),
        "a new directory's links"
    );
    check_eq!(mkdir(b"/tmp/d-err", 0o755), -EEXIST, "mkdir twice");
    check_eq!(
        mkdir(b"/tmp/d-none/x", 0o755),
        -ENOENT,
        "mkdir under a missing dir"
    );
    make_file(b"/tmp/d-err/f", b"")?;
    check_eq!(
        mkdir(b"/tmp/d-err/f/x", 0o755),
        -ENOTDIR,
        "mkdir under a file"
    );
    check_eq!(
        mkdir(b"/tmp/d-err/sub/", 0o755),
        0,
        "mkdir with a trailing slash"
    );
    check_eq!(
        stat(b"/tmp/d-err").map(|s| s.st_nlink),
        Ok(3),
        "a subdirectory's .."
    );
    check_eq!(rmdir(b"/tmp/d-err"), -ENOTEMPTY, "rmdir of a non-empty dir");
    check_eq!(rmdir(b"/tmp/d-err/f"), -ENOTDIR, "rmdir of a file");
    check_eq!(unlink(b"/tmp/d-err/sub"), -EISDIR, "unlink of a dir");
    check_eq!(unlink(b"/tmp/d-err/f/"), -ENOTDIR, "unlink of file/");
    check_eq!(rmdir(b"/tmp/d-err/none"), -ENOENT, "rmdir of a missing dir");
    check_eq!(rmdir(b"/tmp/d-err/sub/."), -EINVAL, "rmdir of .");
    check_eq!(unlinkat(b"/tmp/d-err/f", 1), -EINVAL, "unlinkat flags");
    check_eq!(rmdir(b"/tmp/d-err/sub"), 0, "rmdir");
    check_eq!(unlink(b"/tmp/d-err/f"), 0, "unlink");
    check_eq!(rmdir(b"/tmp/d-err"), 0, "rmdir of the emptied dir");
    check_eq!(
        stat(b"/tmp/d-err").map(|s| s.st_nlink),
        Err(-ENOENT),
        "gone"
    );
    Ok(())
}

/// Symbolic and hard links, readlink, rename and their errors.
pub fn links_and_rename() -> T {
    make_file(b"/tmp/l-file", b"data")?;
    check_eq!(symlink(b"l-file", b"/tmp/l-sym"), 0, "symlink");
    check_eq!(symlink(b"x", b"/tmp/l-sym"), -EEXIST, "symlink over a name");
    let mut b = [0u8; 32];
    let p = c(b"/tmp/l-sym");
    check_eq!(
        call(
            nr::READLINKAT,
            [AT, p.p(), b.as_mut_ptr() as usize, b.len(), 0, 0]
        ),
        6,
        "readlink"
    );
    check_eq!(&b[..6], b"l-file", "the target");
    let p2 = c(b"/tmp/l-file");
    check_eq!(
        call(
            nr::READLINKAT,
            [AT, p2.p(), b.as_mut_ptr() as usize, b.len(), 0, 0]
        ),
        -EINVAL,
        "readlink of a file"
    );
    let st = stat(b"/tmp/l-sym").map_err(|e| fail(format_args!("stat {e}"), file!(), line!()))?;
    check_eq!(st.st_mode & S_IFMT, S_IFREG, "stat follows the link");
    let lst = stat_flags(b"/tmp/l-sym", AT_SYMLINK_NOFOLLOW)
        .map_err(|e| fail(format_args!("lstat {e}"), file!(), line!()))?;
    check_eq!(lst.st_mode & S_IFMT, S_IFLNK, "lstat sees the link");
    check_eq!(lst.st_size, 6, "a link's size is its target's length");
    check_eq!(link(b"/tmp/l-file", b"/tmp/l-hard"), 0, "link");
    check_eq!(
        stat(b"/tmp/l-file").map(|s| (s.st_nlink, s.st_ino)),
        Ok((2, st.st_ino)),
        "two names, one inode"
    );
    check_eq!(
        link(b"/tmp/l-file", b"/tmp/l-hard"),
        -EEXIST,
        "link over a name"
    );
    check_eq!(link(b"/tmp", b"/tmp/l-dir"), -EPERM, "link of a directory");
    check_eq!(unlink(b"/tmp/l-file"), 0, "unlink one name");
    check_eq!(
        contents(b"/tmp/l-hard", &mut b)?,
        4,
        "the other name keeps the data"
    );
    check_eq!(
        stat(b"/tmp/l-hard").map(|s| s.st_nlink),
        Ok(1),
        "one link left"
    );
    check_eq!(
        open(b"/tmp/l-sym", O_RDONLY, 0),
        -ENOENT,
        "the link dangles now"
    );
    // rename: over a file, into a directory, and the errors.
    make_file(b"/tmp/l-other", b"other")?;
    check_eq!(
        rename(b"/tmp/l-hard", b"/tmp/l-other"),
        0,
        "rename over a file"
    );
    check_eq!(contents(b"/tmp/l-other", &mut b)?, 4, "replaced");
    check_eq!(
        stat(b"/tmp/l-hard").map(|s| s.st_nlink),
        Err(-ENOENT),
        "the old name is gone"
    );
    check_eq!(mkdir(b"/tmp/l-d1", 0o755), 0, "mkdir");
    check_eq!(mkdir(b"/tmp/l-d2", 0o755), 0, "mkdir");
    make_file(b"/tmp/l-d2/x", b"")?;
    check_eq!(
        rename(b"/tmp/l-d1", b"/tmp/l-d2"),
        -ENOTEMPTY,
        "a dir over a non-empty dir"
    );
    check_eq!(
        rename(b"/tmp/l-other", b"/tmp/l-d1"),
        -EISDIR,
        "a file over a dir"
    );
    check_eq!(
        rename(b"/tmp/l-d1", b"/tmp/l-other"),
        -ENOTDIR,
        "a dir over a file"
    );
    check_eq!(
        rename(b"/tmp/l-d1", b"/tmp/l-d1/sub"),
        -EINVAL,
        "a dir into itself"
    );
    check_eq!(
        rename(b"/tmp/l-none", b"/tmp/l-x"),
        -ENOENT,
        "a missing name"
    );
    check_eq!(
        rename(b"/tmp/l-other", b"/tmp/l-d1/moved"),
        0,
        "into a directory"
    );
    check_eq!(rename(b"/tmp/l-d1", b"/tmp/l-d3"), 0, "rename a directory");
    check_eq!(
        contents(b"/tmp/l-d3/moved", &mut b)?,
        4,
        "moved with its directory"
    );
    for p in [&b"/tmp/l-d3/moved"[..], b"/tmp/l-d2/x", b"/tmp/l-sym"] {
        check_eq!(unlink(p), 0, "unlink");
    }
    check_eq!(rmdir(b"/tmp/l-d3"), 0, "rmdir");
    check_eq!(rmdir(b"/tmp/l-d2"), 0, "rmdir");
    Ok(())
}

fn getcwd(buf: &mut [u8]) -> isize {
    call(
        nr::GETCWD,
        [buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0, 0],
    )
}

/// The working directory (getcwd, chdir, fchdir, relative paths) and the umask;
/// fork copies both, CLONE_FS shares them.
pub fn cwd_and_umask() -> T {
    let mut b = [0u8; 64];
    check_eq!(getcwd(&mut b), 2, "getcwd at /");
    check_eq!(&b[..2], b"/\0", "/");
    check_eq!(mkdir(b"/tmp/c-dir", 0o777), 0, "mkdir");
    check_eq!(
        stat(b"/tmp/c-dir").map(|s| s.st_mode),
        Ok(S_IFDIR | 0o755),
        "0777 under umask 022"
    );
    let pid = child(|| {
        let p = c(b"/tmp/c-dir");
        check_eq!(call(nr::CHDIR, [p.p(), 0, 0, 0, 0, 0]), 0, "chdir");
        let mut b = [0u8; 64];
        check_eq!(getcwd(&mut b), 11, "getcwd");
        check_eq!(&b[..11], b"/tmp/c-dir\0", "the path");
        check_eq!(getcwd(&mut b[..5]), -ERANGE, "getcwd into a small buffer");
        make_file(b"rel", b"r")?;
        check_eq!(
            stat(b"/tmp/c-dir/rel").map(|s| s.st_size),
            Ok(1),
            "a relative path"
        );
        check_eq!(
            stat(b"../c-dir/./rel").map(|s| s.st_size),
            Ok(1),
            ". and .."
        );
        check_eq!(unlink(b"rel"), 0, "unlink");
        let f = c(b"/dev/null");
        check_eq!(
            call(nr::CHDIR, [f.p(), 0, 0, 0, 0, 0]),
            -ENOTDIR,
            "chdir to a file"
        );
        let root = open(b"/", O_RDONLY | O_DIRECTORY, 0);
        check_eq!(
            call(nr::FCHDIR, [root as usize, 0, 0, 0, 0, 0]),
            0,
            "fchdir"
        );
        check_eq!(getcwd(&mut b), 2, "back at /");
        check_eq!(
            call(nr::UMASK, [0o077, 0, 0, 0, 0, 0]),
            0o022,
            "umask returns the old"
        );
        make_file(b"/tmp/c-dir/m", b"")?;
        check_eq!(
            stat(b"/tmp/c-dir/m").map(|s| s.st_mode),
            Ok(S_IFREG | 0o600),
            "0644 under 077"
        );
        check_eq!(unlink(b"/tmp/c-dir/m"), 0, "unlink");
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(getcwd(&mut b), 2, "the child's chdir was its own");
    check_eq!(
        call(nr::UMASK, [0o022, 0, 0, 0, 0, 0]),
        0o022,
        "the child's umask was its own"
    );
    // CLONE_FS: the child's chdir and umask are the parent's.
    let pid = sys::clone(
        CLONE_FS | SIGCHLD as u64,
        0,
        core::ptr::null_mut(),
        0,
        core::ptr::null_mut(),
    );
    if pid == 0 {
        let p = c(b"/tmp/c-dir");
        call(nr::CHDIR, [p.p(), 0, 0, 0, 0, 0]);
        call(nr::UMASK, [0o027, 0, 0, 0, 0, 0]);
        sys::exit_group(0);
    }
    expect_ok(pid as i32)?;
    let n = getcwd(&mut b);
    let umask = call(nr::UMASK, [0o022, 0, 0, 0, 0, 0]);
    let p = c(b"/");
    call(nr::CHDIR, [p.p(), 0, 0, 0, 0, 0]);
    check_eq!(
        &b[..n.max(0) as usize],
        b"/tmp/c-dir\0",
        "CLONE_FS shares the cwd"
    );
    check_eq!(umask, 0o027, "CLONE_FS shares the umask");
    check_eq!(rmdir(b"/tmp/c-dir"), 0, "rmdir");
    Ok(())
}

/// ftruncate, fchmod, fchmodat, fchown, utimensat, faccessat, statx, sendfile, readv.
pub fn attributes_and_copies() -> T {
    let f = b"/tmp/a-file";
    make_file(f, b"0123456789")?;
    let fd = open(f, O_RDWR, 0);
    check_eq!(
        call(nr::FTRUNCATE, [fd as usize, 4, 0, 0, 0, 0]),
        0,
        "ftruncate down"
    );
    check_eq!(fstat(fd).st_size, 4, "size");
    check_eq!(
        call(nr::FTRUNCATE, [fd as usize, 6, 0, 0, 0, 0]),
        0,
        "ftruncate up"
    );
    let mut b = [9u8; 16];
    check_eq!(read(fd, &mut b), 6, "read");
    check_eq!(&b[..6], b"0123\0\0", "extended with zeroes");
    check_eq!(
        call(nr::FTRUNCATE, [fd as usize, usize::MAX, 0, 0, 0, 0]),
        -EINVAL,
        "negative length"
    );
    let ro = open(f, O_RDONLY, 0);
    check_eq!(
        call(nr::FTRUNCATE, [ro as usize, 0, 0, 0, 0, 0]),
        -EINVAL,
        "ftruncate of O_RDONLY"
    );
    check_eq!(
        call(nr::FCHMOD, [fd as usize, 0o600, 0, 0, 0, 0]),
        0,
        "fchmod"
    );
    check_eq!(fstat(ro).st_mode, S_IFREG | 0o600, "mode after fchmod");
    let p = c(f);
    check_eq!(
        call(nr::FCHMODAT, [AT, p.p(), 0o751, 0, 0, 0]),
        0,
        "fchmodat"
    );
    check_eq!(fstat(fd).st_mode, S_IFREG | 0o751, "mode after fchmodat");
    check_eq!(
        call(nr::FCHOWN, [fd as usize, 12, usize::MAX, 0, 0, 0]),
        0,
        "fchown"
    );
    check_eq!((fstat(fd).st_uid, fstat(fd).st_gid), (12, 0), "owner");
    check_eq!(
        call(nr::FCHOWN, [fd as usize, 0, 0, 0, 0, 0]),
        0,
        "fchown back"
    );
    let times = [
        Timespec {
            tv_sec: 1000,
            tv_nsec: 5,
        },
        Timespec {
            tv_sec: 2000,
            tv_nsec: 7,
        },
    ];
    check_eq!(
        call(nr::UTIMENSAT, [AT, p.p(), times.as_ptr() as usize, 0, 0, 0]),
        0,
        "utimensat"
    );
    let st = fstat(fd);
    check_eq!(
        (st.times[0], st.times[1], st.times[2], st.times[3]),
        (1000, 5, 2000, 7),
        "atime and mtime"
    );
    let bad = [
        Timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000_000,
        },
        times[1],
    ];
    check_eq!(
        call(nr::UTIMENSAT, [AT, p.p(), bad.as_ptr() as usize, 0, 0, 0]),
        -EINVAL,
        "bad nanoseconds"
    );
    check_eq!(
        call(nr::FACCESSAT, [AT, p.p(), X_OK as usize, 0, 0, 0]),
        0,
        "X_OK of 0751"
    );
    check_eq!(
        call(nr::FCHMOD, [fd as usize, 0o644, 0, 0, 0, 0]),
        0,
        "fchmod"
    );
    check_eq!(
        call(nr::FACCESSAT, [AT, p.p(), X_OK as usize, 0, 0, 0]),
        -EACCES,
        "X_OK of 0644"
    );
    check_eq!(
        call(nr::FACCESSAT, [AT, p.p(), (R_OK | W_OK) as usize, 0, 0, 0]),
        0,
        "R_OK|W_OK"
    );
    check_eq!(
        call(nr::FACCESSAT, [AT, p.p(), 8, 0, 0, 0]),
        -EINVAL,
        "a bad mode"
    );
    let none = c(b"/tmp/a-none");
    check_eq!(
        call(nr::FACCESSAT, [AT, none.p(), 0, 0, 0, 0]),
        -ENOENT,
        "F_OK of nothing"
    );
    let mut stx = [0u8; 256];
    check_eq!(
        call(
            nr::STATX,
            [AT, p.p(), 0, 0x7ff, stx.as_mut_ptr() as usize, 0]
        ),
        0,
        "statx"
    );
    let u64_at = |o: usize| u64::from_le_bytes(stx[o..o + 8].try_into().unwrap_or([0; 8]));
    check_eq!(u64_at(32), st.st_ino, "statx's ino");
    check_eq!(u64_at(40), 6, "statx's size");
    check_eq!(
        u16::from_le_bytes([stx[28], stx[29]]) as u32,
        S_IFREG | 0o644,
        "statx's mode"
    );
    // sendfile from a file at an offset, to another file.
    let g = b"/tmp/a-copy";
    let out = open(g, O_CREAT | O_EXCL | O_WRONLY, 0o644);
    let mut off: i64 = 1;
    check_eq!(
        call(
            nr::SENDFILE,
            [
                out as usize,
                ro as usize,
                &mut off as *mut i64 as usize,
                3,
                0,
                0
            ]
        ),
        3,
        "sendfile"
    );
    check_eq!(off, 4, "sendfile moved *offset");
    check_eq!(lseek(ro, 0, SEEK_CUR), 0, "and not the file's offset");
    check_eq!(
        call(nr::SENDFILE, [ro as usize, out as usize, 0, 3, 0, 0]),
        -EBADF,
        "sendfile from a write-only fd"
    );
    close(out);
    let n = contents(g, &mut b)?;
    check_eq!(&b[..n], b"123", "the copy");
    // readv into two buffers.
    let (mut x, mut y) = ([0u8; 2], [0u8; 3]);
    let iov = [
        (x.as_mut_ptr() as usize, 2usize),
        (y.as_mut_ptr() as usize, 3usize),
    ];
    check_eq!(
        call(nr::READV, [ro as usize, iov.as_ptr() as usize, 2, 0, 0, 0]),
        5,
        "readv"
    );
    check_eq!((&x, &y), (b"01", b"23\0"), "readv's buffers");
    close(ro);
    close(fd);
    check_eq!(unlink(f), 0, "unlink");
    check_eq!(unlink(g), 0, "unlink");
    Ok(())
}

/// A static AArch64 program of 132 bytes that calls `exit(7)`: an ELF header, one
/// read+execute `PT_LOAD` of the whole file at 0x400000, and three instructions.
fn tiny_elf() -> [u8; 132] {
    let mut e = [0u8; 132];
    e[..8].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    let mut put = |at: usize, bytes: &[u8]| e[at..at + bytes.len()].copy_from_slice(bytes);
    put(16, &2u16.to_le_bytes()); // ET_EXEC
    put(18, &183u16.to_le_bytes()); // EM_AARCH64
    put(20, &1u32.to_le_bytes());
    put(24, &0x400078u64.to_le_bytes()); // e_entry: the code after the headers
    put(32, &64u64.to_le_bytes()); // e_phoff
    put(52, &64u16.to_le_bytes()); // e_ehsize
    put(54, &56u16.to_le_bytes()); // e_phentsize
    put(56, &1u16.to_le_bytes()); // e_phnum
    put(64, &1u32.to_le_bytes()); // PT_LOAD
    put(68, &5u32.to_le_bytes()); // PF_R | PF_X
    put(80, &0x400000u64.to_le_bytes()); // p_vaddr
    put(88, &0x400000u64.to_le_bytes()); // p_paddr
    put(96, &132u64.to_le_bytes()); // p_filesz
    put(104, &132u64.to_le_bytes()); // p_memsz
    put(112, &0x1000u64.to_le_bytes()); // p_align
    put(120, &0xd28000e0u32.to_le_bytes()); // mov x0, #7
    put(124, &0xd2800ba8u32.to_le_bytes()); // mov x8, #93 (exit)
    put(128, &0xd4000001u32.to_le_bytes()); // svc #0
    e
}

/// A program written into the file system runs; and a file of a megabyte, written a
/// page and a half at a time, reads back and is gone (with all its memory) once
/// unlinked.
pub fn exec_written_file() -> T {
    let f = b"/tmp/x-tiny";
    let fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0o755);
    check!(fd >= 0, "creat = {fd}");
    check_eq!(write(fd, &tiny_elf()), 132, "write the program");
    close(fd);
    let pid = child_code(|| {
        let path = c(f);
        let argv = [path.p(), 0];
        let envp = [0usize];
        // SAFETY: NUL-terminated strings and arrays that live until the call.
        unsafe {
            sys::syscall6(
                nr::EXECVE,
                path.p(),
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
                0,
                0,
                0,
            )
        };
        99
    })?;
    check_eq!(wait(pid)?, exited(7), "the written program ran");
    check_eq!(unlink(f), 0, "unlink");
    let big = b"/tmp/x-big";
    let fd = open(big, O_CREAT | O_EXCL | O_RDWR, 0o644);
    let mut chunk = [0u8; 6144];
    let mut total = 0usize;
    while total < 1 << 20 {
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = ((total + i) % 251) as u8;
        }
        let n = (6144).min((1 << 20) - total);
        check_eq!(write(fd, &chunk[..n]), n as isize, "write at {total}");
        total += n;
    }
    check_eq!(fstat(fd).st_size, 1 << 20, "size");
    let mut back = [0u8; 4000];
    let pread = |b: &mut [u8], off: i64| {
        call(
            nr::PREAD64,
            [
                fd as usize,
                b.as_mut_ptr() as usize,
                b.len(),
                off as usize,
                0,
                0,
            ],
        )
    };
    for off in [0usize, 4090, 500_000, (1 << 20) - 4000] {
        check_eq!(pread(&mut back, off as i64), 4000, "pread at {off}");
        check!(
            back.iter()
                .enumerate()
                .all(|(i, &b)| b == ((off + i) % 251) as u8),
            "the bytes at {off}"
        );
    }
    check_eq!(
        call(nr::FTRUNCATE, [fd as usize, 5000, 0, 0, 0, 0]),
        0,
        "ftruncate"
    );
    check_eq!(
        call(nr::FTRUNCATE, [fd as usize, 9000, 0, 0, 0, 0]),
        0,
        "ftruncate up"
    );
    check_eq!(pread(&mut back, 4996), 4000, "pread across the cut");
    check_eq!(
        &back[..4],
        &[
            (4996 % 251) as u8,
            (4997 % 251) as u8,
            (4998 % 251) as u8,
            (4999 % 251) as u8
        ],
        "kept"
    );
    check!(back[4..].iter().all(|&b| b == 0), "zeroes past the old cut");
    close(fd);
    check_eq!(unlink(big), 0, "unlink");
    Ok(())
}

/// A removed working directory takes no new names (Linux `IS_DEADDIR`): `mkdir`,
/// `open(O_CREAT)`, `symlink` and `link` there are `ENOENT`, and so is `getcwd`.
pub fn removed_cwd_takes_no_names() -> T {
    let pid = child(|| {
        check_eq!(mkdir(b"/tmp/dead", 0o755), 0, "mkdir");
        let d = c(b"/tmp/dead");
        check_eq!(call(nr::CHDIR, [d.p(), 0, 0, 0, 0, 0]), 0, "chdir");
        check_eq!(rmdir(b"/tmp/dead"), 0, "rmdir the cwd");
        check_eq!(mkdir(b"x", 0o755), -ENOENT, "mkdir in it");
        check_eq!(
            open(b"f", O_CREAT | O_WRONLY, 0o644),
            -ENOENT,
            "O_CREAT in it"
        );
        let (t, l) = (c(b"/"), c(b"l"));
        check_eq!(
            call(nr::SYMLINKAT, [t.p(), AT, l.p(), 0, 0, 0]),
            -ENOENT,
            "symlink in it"
        );
        let n = c(b"/dev/null");
        check_eq!(
            call(nr::LINKAT, [AT, n.p(), AT, l.p(), 0, 0]),
            -ENOENT,
            "link in it"
        );
        let mut b = [0u8; 64];
        check_eq!(getcwd(&mut b), -ENOENT, "getcwd");
        Ok(())
    })?;
    expect_ok(pid)
}

/// A chain of 40 links, each through the next as a directory (`a0 -> a1/.`, ...,
/// `a39 -> .`), nests 40 walks deep: found, as on Linux, whose limit is 40 links; one
/// more is `ELOOP`. The walk keeps the nesting in a list, so no depth runs the kernel
/// out of stack.
pub fn deep_link_chain() -> T {
    check_eq!(mkdir(b"/tmp/ln", 0o755), 0, "mkdir");
    check_eq!(mkdir(b"/tmp/ln/d", 0o755), 0, "mkdir d");
    let name = |i: usize| {
        let mut b = [0u8; 32];
        let s = b"/tmp/ln/a";
        b[..s.len()].copy_from_slice(s);
        let mut n = s.len();
        if i >= 10 {
            b[n] = b'0' + (i / 10) as u8;
            n += 1;
        }
        b[n] = b'0' + (i % 10) as u8;
        (b, n + 1)
    };
    for i in 0..41 {
        let (b, n) = name(i);
        let mut target = [0u8; 32];
        let t: &[u8] = if i == 40 {
            b"."
        } else {
            let (nb, nn) = name(i + 1);
            let rel = &nb[b"/tmp/ln/".len()..nn];
            target[..rel.len()].copy_from_slice(rel);
            target[rel.len()..rel.len() + 2].copy_from_slice(b"/.");
            &target[..rel.len() + 2]
        };
        let (tp, lp) = (c(t), c(&b[..n]));
        check_eq!(
            call(nr::SYMLINKAT, [tp.p(), AT, lp.p(), 0, 0, 0]),
            0,
            "symlink {i}"
        );
    }
    check!(stat(b"/tmp/ln/a1/d").is_ok(), "40 links nested: found");
    check_eq!(stat(b"/tmp/ln/a0/d").err(), Some(-ELOOP), "41 links: ELOOP");
    for i in 0..41 {
        let (b, n) = name(i);
        check_eq!(unlink(&b[..n]), 0, "unlink {i}");
    }
    check_eq!(rmdir(b"/tmp/ln/d"), 0, "rmdir d");
    check_eq!(rmdir(b"/tmp/ln"), 0, "rmdir");
    Ok(())
}
