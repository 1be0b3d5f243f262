//! Linux error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`). A syscall
//! returns `-errno` in x0.

/// An error number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

/// The kernel's `Errno` for each number in `forkos_lib::uapi::errno`.
macro_rules! errnos {
    ($($name:ident),* $(,)?) => {
        $(pub const $name: Errno = Errno(forkos_lib::uapi::errno::$name);)*
    };
}

errnos!(
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    E2BIG,
    ENOEXEC,
    EBADF,
    ECHILD,
    EAGAIN,
    ENOMEM,
    EFAULT,
    EEXIST,
    EINVAL,
    ENOSYS,
    EOPNOTSUPP,
    ETIMEDOUT,
    EIO,
    EACCES,
    ENOTDIR,
    ENOTTY,
    ENAMETOOLONG,
    ENODEV,
    EOVERFLOW,
    ENXIO,
    EBUSY,
    EXDEV,
    EISDIR,
    ENFILE,
    EMFILE,
    EFBIG,
    ENOSPC,
    ESPIPE,
    EMLINK,
    EPIPE,
    ERANGE,
    ENOTEMPTY,
    ELOOP
);

/// What a syscall handler returns: a value for x0, or an error to negate.
pub type SysResult = Result<i64, Errno>;
