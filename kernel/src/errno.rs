//! Linux error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`). A syscall
//! returns `-errno` in x0.

/// An error number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

pub const EPERM: Errno = Errno(1);
pub const ENOENT: Errno = Errno(2);
pub const ESRCH: Errno = Errno(3);
pub const EINTR: Errno = Errno(4);
pub const E2BIG: Errno = Errno(7);
pub const ENOEXEC: Errno = Errno(8);
pub const EBADF: Errno = Errno(9);
pub const ECHILD: Errno = Errno(10);
pub const EAGAIN: Errno = Errno(11);
pub const ENOMEM: Errno = Errno(12);
pub const EFAULT: Errno = Errno(14);
pub const EINVAL: Errno = Errno(22);
pub const ENOSYS: Errno = Errno(38);
pub const ETIMEDOUT: Errno = Errno(110);

/// What a syscall handler returns: a value for x0, or an error to negate.
pub type SysResult = Result<i64, Errno>;
pub const EEXIST: Errno = Errno(17);
pub const EOPNOTSUPP: Errno = Errno(95);
