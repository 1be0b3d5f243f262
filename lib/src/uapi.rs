//! Numbers of Linux's user-space ABI on arm64 (Linux `include/uapi/`): syscall numbers,
//! errno values, clone flags, signals, wait, futex and mmap constants. The kernel and the
//! user programs both use these, so each number is written once.

/// System call numbers (`include/uapi/asm-generic/unistd.h`; arm64 uses the generic
/// table).
pub mod nr {
    pub const IOCTL: usize = 29;
    pub const READLINKAT: usize = 78;
    pub const NEWFSTATAT: usize = 79;
    pub const FSTAT: usize = 80;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const WRITEV: usize = 66;
    pub const EXIT: usize = 93;
    pub const EXIT_GROUP: usize = 94;
    pub const WAITID: usize = 95;
    pub const SET_TID_ADDRESS: usize = 96;
    pub const SET_ROBUST_LIST: usize = 99;
    pub const GET_ROBUST_LIST: usize = 100;
    pub const FUTEX: usize = 98;
    pub const NANOSLEEP: usize = 101;
    pub const CLOCK_GETTIME: usize = 113;
    pub const CLOCK_NANOSLEEP: usize = 115;
    pub const SCHED_YIELD: usize = 124;
    pub const KILL: usize = 129;
    pub const TKILL: usize = 130;
    pub const TGKILL: usize = 131;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGRETURN: usize = 139;
    pub const UNAME: usize = 160;
    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const GETUID: usize = 174;
    pub const GETEUID: usize = 175;
    pub const GETGID: usize = 176;
    pub const GETEGID: usize = 177;
    pub const GETTID: usize = 178;
    pub const SYSINFO: usize = 179;
    pub const BRK: usize = 214;
    pub const MUNMAP: usize = 215;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const MMAP: usize = 222;
    pub const MPROTECT: usize = 226;
    pub const MADVISE: usize = 233;
    pub const WAIT4: usize = 260;
    pub const PRLIMIT64: usize = 261;
    pub const GETRANDOM: usize = 278;
    pub const RSEQ: usize = 293;
    pub const CLONE3: usize = 435;
    /// forkos only, far above Linux's numbers (where Linux answers `-ENOSYS`): print
    /// the process table on the console, as the console's `p` key does (the teaching
    /// demo calls it at the moments worth seeing).
    pub const FORKOS_PS: usize = 0x5053; // "PS"
}

/// Error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`); a syscall
/// returns `-errno`.
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EINTR: i32 = 4;
    pub const E2BIG: i32 = 7;
    pub const ENOEXEC: i32 = 8;
    pub const EBADF: i32 = 9;
    pub const EIO: i32 = 5;
    pub const ECHILD: i32 = 10;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EEXIST: i32 = 17;
    pub const ENOTDIR: i32 = 20;
    pub const EINVAL: i32 = 22;
    pub const ENOTTY: i32 = 25;
    pub const ENODEV: i32 = 19;
    pub const EOVERFLOW: i32 = 75;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const EOPNOTSUPP: i32 = 95;
    pub const ETIMEDOUT: i32 = 110;
}

/// Clone flags (`include/uapi/linux/sched.h`). The low byte of `clone`'s flags is the
/// exit signal (`CSIGNAL`).
pub mod clone {
    pub const CSIGNAL: u64 = 0xff;
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_PIDFD: u64 = 0x1000;
    pub const CLONE_PTRACE: u64 = 0x2000;
    pub const CLONE_VFORK: u64 = 0x4000;
    pub const CLONE_PARENT: u64 = 0x8000;
    pub const CLONE_THREAD: u64 = 0x10000;
    pub const CLONE_NEWNS: u64 = 0x20000;
    pub const CLONE_SYSVSEM: u64 = 0x40000;
    pub const CLONE_SETTLS: u64 = 0x80000;
    pub const CLONE_PARENT_SETTID: u64 = 0x100000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
    pub const CLONE_DETACHED: u64 = 0x400000;
    pub const CLONE_UNTRACED: u64 = 0x800000;
    pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
    pub const CLONE_NEWCGROUP: u64 = 0x2000000;
    pub const CLONE_NEWUTS: u64 = 0x4000000;
    pub const CLONE_NEWIPC: u64 = 0x8000000;
    pub const CLONE_NEWUSER: u64 = 0x10000000;
    pub const CLONE_NEWPID: u64 = 0x20000000;
    pub const CLONE_NEWNET: u64 = 0x40000000;
    pub const CLONE_IO: u64 = 0x80000000;
    /// clone3 only.
    pub const CLONE_CLEAR_SIGHAND: u64 = 1 << 32;
    /// clone3 only.
    pub const CLONE_INTO_CGROUP: u64 = 1 << 33;
}

/// Signal numbers (arm64 uses the asm-generic ones).
pub mod signal {
    pub const SIGHUP: i32 = 1;
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGBUS: i32 = 7;
    pub const SIGKILL: i32 = 9;
    pub const SIGUSR1: i32 = 10;
    pub const SIGUSR2: i32 = 12;
    pub const SIGSEGV: i32 = 11;
    pub const SIGTERM: i32 = 15;
    pub const SIGCHLD: i32 = 17;
    pub const SIGCONT: i32 = 18;
    pub const SIGSTOP: i32 = 19;
    pub const SIGTSTP: i32 = 20;
    pub const SIGTTIN: i32 = 21;
    pub const SIGTTOU: i32 = 22;
    pub const SIGURG: i32 = 23;
    pub const SIGWINCH: i32 = 28;
    /// Highest signal number (`_NSIG`).
    pub const NSIG: i32 = 64;
}

/// `wait4`/`waitid` options, id types and `si_code`s (`include/uapi/linux/wait.h`,
/// `siginfo.h`).
pub mod wait {
    pub const WNOHANG: i32 = 0x1;
    pub const WUNTRACED: i32 = 0x2;
    pub const WSTOPPED: i32 = WUNTRACED;
    pub const WEXITED: i32 = 0x4;
    pub const WCONTINUED: i32 = 0x8;
    pub const WNOWAIT: i32 = 0x0100_0000;
    pub const WNOTHREAD: i32 = 0x2000_0000;
    pub const WALL: i32 = 0x4000_0000;
    pub const WCLONE: i32 = 0x8000_0000u32 as i32;
    pub const P_ALL: i32 = 0;
    pub const P_PID: i32 = 1;
    pub const P_PGID: i32 = 2;
    pub const P_PIDFD: i32 = 3;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
}

/// `futex` operations (`include/uapi/linux/futex.h`).
pub mod futex {
    pub const FUTEX_WAIT: i32 = 0;
    pub const FUTEX_WAKE: i32 = 1;
    pub const FUTEX_LOCK_PI: i32 = 6;
    pub const FUTEX_WAIT_REQUEUE_PI: i32 = 11;
    pub const FUTEX_LOCK_PI2: i32 = 13;
    pub const FUTEX_WAIT_BITSET: i32 = 9;
    pub const FUTEX_WAKE_BITSET: i32 = 10;
    pub const FUTEX_PRIVATE_FLAG: i32 = 128;
    pub const FUTEX_CLOCK_REALTIME: i32 = 256;
    /// The operation without its flags (Linux `FUTEX_CMD_MASK`).
    pub const FUTEX_CMD_MASK: i32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
}

/// `mmap` protections and flags (`include/uapi/asm-generic/mman-common.h`).
pub mod mman {
    pub const PROT_NONE: u64 = 0;
    pub const PROT_READ: u64 = 1;
    pub const PROT_WRITE: u64 = 2;
    pub const PROT_EXEC: u64 = 4;
    pub const MAP_SHARED: u64 = 0x01;
    pub const MAP_PRIVATE: u64 = 0x02;
    pub const MAP_SHARED_VALIDATE: u64 = 0x03;
    pub const MAP_FIXED: u64 = 0x10;
    pub const MAP_ANONYMOUS: u64 = 0x20;
    pub const MAP_FIXED_NOREPLACE: u64 = 0x100000;
    pub const MADV_DONTNEED: u64 = 4;
}

/// Clock ids (`include/uapi/linux/time.h`).
pub mod clock {
    pub const CLOCK_REALTIME: i32 = 0;
    pub const CLOCK_MONOTONIC: i32 = 1;
}
