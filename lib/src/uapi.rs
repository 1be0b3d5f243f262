//! Linux's user-space ABI on arm64 (Linux `include/uapi/`): the numbers (syscalls, errno
//! values, flags, ids) and the layouts of the structs both sides read and write. The
//! kernel and the user programs both use these, so each number and each layout is
//! written once, here, in a module named after the Linux header that defines it.
//!
//! The structs are `#[repr(C)]` with no implicit padding, and each one's size and the
//! offsets that matter are checked against Linux's at compile time. The kernel marks them
//! `Pod` (plain old data) itself, as this crate has no `unsafe`.

use core::mem::{offset_of, size_of};

/// System call numbers (`include/uapi/asm-generic/unistd.h`; arm64 uses the generic
/// table).
pub mod nr {
    pub const GETCWD: usize = 17;
    pub const DUP: usize = 23;
    pub const DUP3: usize = 24;
    pub const FCNTL: usize = 25;
    pub const IOCTL: usize = 29;
    pub const MKDIRAT: usize = 34;
    pub const UNLINKAT: usize = 35;
    pub const SYMLINKAT: usize = 36;
    pub const LINKAT: usize = 37;
    pub const RENAMEAT: usize = 38;
    pub const FTRUNCATE: usize = 46;
    pub const FACCESSAT: usize = 48;
    pub const CHDIR: usize = 49;
    pub const FCHDIR: usize = 50;
    pub const FCHMOD: usize = 52;
    pub const FCHMODAT: usize = 53;
    pub const FCHOWN: usize = 55;
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const GETDENTS64: usize = 61;
    pub const LSEEK: usize = 62;
    pub const READV: usize = 65;
    pub const PREAD64: usize = 67;
    pub const PWRITE64: usize = 68;
    pub const PIPE2: usize = 59;
    pub const SENDFILE: usize = 71;
    pub const PSELECT6: usize = 72;
    pub const PPOLL: usize = 73;
    pub const RT_SIGSUSPEND: usize = 133;
    pub const UTIMENSAT: usize = 88;
    pub const UMASK: usize = 166;
    pub const GETCPU: usize = 168;
    pub const RENAMEAT2: usize = 276;
    pub const STATX: usize = 291;
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
    pub const PTRACE: usize = 117;
    pub const SCHED_SETAFFINITY: usize = 122;
    pub const SCHED_GETAFFINITY: usize = 123;
    pub const SCHED_YIELD: usize = 124;
    pub const KILL: usize = 129;
    pub const TKILL: usize = 130;
    pub const TGKILL: usize = 131;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGRETURN: usize = 139;
    pub const SETPGID: usize = 154;
    pub const GETPGID: usize = 155;
    pub const GETSID: usize = 156;
    pub const SETSID: usize = 157;
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
    pub const ENXIO: i32 = 6;
    pub const EBUSY: i32 = 16;
    pub const EXDEV: i32 = 18;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const EFBIG: i32 = 27;
    pub const ENOSPC: i32 = 28;
    pub const ESPIPE: i32 = 29;
    pub const EMLINK: i32 = 31;
    pub const EPIPE: i32 = 32;
    pub const ERANGE: i32 = 34;
    pub const ENOTEMPTY: i32 = 39;
    pub const ELOOP: i32 = 40;
    pub const EINVAL: i32 = 22;
    pub const ENOTTY: i32 = 25;
    pub const ENODEV: i32 = 19;
    pub const EOVERFLOW: i32 = 75;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const EOPNOTSUPP: i32 = 95;
    pub const ETIMEDOUT: i32 = 110;
}

/// Clone flags and `struct clone_args` (`include/uapi/linux/sched.h`). The low byte of
/// `clone`'s flags is the exit signal (`CSIGNAL`).
pub mod clone {
    use super::{offset_of, size_of};

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

    /// `clone3`'s argument (`struct clone_args`): every field is a `__aligned_u64`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct CloneArgs {
        pub flags: u64,
        pub pidfd: u64,
        pub child_tid: u64,
        pub parent_tid: u64,
        pub exit_signal: u64,
        pub stack: u64,
        pub stack_size: u64,
        pub tls: u64,
        pub set_tid: u64,
        pub set_tid_size: u64,
        pub cgroup: u64,
    }

    /// The first `struct clone_args` (through `tls`).
    pub const CLONE_ARGS_SIZE_VER0: usize = 64;
    /// With `set_tid` and `set_tid_size` (Linux 5.5).
    pub const CLONE_ARGS_SIZE_VER1: usize = 80;
    /// With `cgroup` (Linux 5.7): the whole struct.
    pub const CLONE_ARGS_SIZE_VER2: usize = 88;

    const _: () = assert!(size_of::<CloneArgs>() == CLONE_ARGS_SIZE_VER2);
    const _: () = assert!(offset_of!(CloneArgs, set_tid) == CLONE_ARGS_SIZE_VER0);
    const _: () = assert!(offset_of!(CloneArgs, cgroup) == CLONE_ARGS_SIZE_VER1);
    const _: () = assert!(offset_of!(CloneArgs, exit_signal) == 32);

    impl CloneArgs {
        /// The struct from its bytes as user space wrote them (little-endian), as
        /// `copy_struct_from_user` leaves them: a shorter struct's missing fields zero.
        pub fn from_bytes(raw: &[u8; CLONE_ARGS_SIZE_VER2]) -> CloneArgs {
            let f = |i: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&raw[i * 8..i * 8 + 8]);
                u64::from_le_bytes(w)
            };
            CloneArgs {
                flags: f(0),
                pidfd: f(1),
                child_tid: f(2),
                parent_tid: f(3),
                exit_signal: f(4),
                stack: f(5),
                stack_size: f(6),
                tls: f(7),
                set_tid: f(8),
                set_tid_size: f(9),
                cgroup: f(10),
            }
        }
    }
}

/// Signal numbers, `struct sigaction` and its flags, and `sigprocmask`'s `how`
/// (`include/uapi/asm-generic/signal.h`, `signal-defs.h`; arm64 uses the asm-generic
/// ones, and adds `SA_RESTORER` in `arch/arm64/include/uapi/asm/signal.h`).
pub mod signal {
    use super::{offset_of, size_of};

    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGQUIT: i32 = 3;
    pub const SIGILL: i32 = 4;
    pub const SIGTRAP: i32 = 5;
    pub const SIGBUS: i32 = 7;
    pub const SIGKILL: i32 = 9;
    pub const SIGUSR1: i32 = 10;
    pub const SIGUSR2: i32 = 12;
    pub const SIGSEGV: i32 = 11;
    pub const SIGPIPE: i32 = 13;
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

    /// `sa_flags`.
    pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
    pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
    pub const SA_SIGINFO: u64 = 0x0000_0004;
    pub const SA_RESTORER: u64 = 0x0400_0000;
    pub const SA_ONSTACK: u64 = 0x0800_0000;
    pub const SA_RESTART: u64 = 0x1000_0000;
    pub const SA_NODEFER: u64 = 0x4000_0000;
    pub const SA_RESETHAND: u64 = 0x8000_0000;

    /// `sa_handler` values that are not functions.
    pub const SIG_DFL: u64 = 0;
    pub const SIG_IGN: u64 = 1;

    /// `rt_sigprocmask`'s `how`.
    pub const SIG_BLOCK: u64 = 0;
    pub const SIG_UNBLOCK: u64 = 1;
    pub const SIG_SETMASK: u64 = 2;

    /// `struct sigaction` as the arm64 kernel's `rt_sigaction` reads and writes it (the
    /// asm-generic layout with `sa_restorer`; the mask is one 64-bit word).
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct SigAction {
        /// `sa_handler` (or `sa_sigaction`), [`SIG_DFL`] or [`SIG_IGN`].
        pub handler: u64,
        pub flags: u64,
        pub restorer: u64,
        pub mask: u64,
    }

    const _: () = assert!(size_of::<SigAction>() == 32);
    const _: () = assert!(offset_of!(SigAction, flags) == 8);
    const _: () = assert!(offset_of!(SigAction, restorer) == 16);
    const _: () = assert!(offset_of!(SigAction, mask) == 24);
}

/// `si_code` values and `struct siginfo` (`include/uapi/asm-generic/siginfo.h`).
pub mod siginfo {
    use super::{offset_of, size_of};

    /// Sent by `kill`.
    pub const SI_USER: i32 = 0;
    /// Sent by `tkill` or `tgkill`.
    pub const SI_TKILL: i32 = -6;
    /// SIGILL: illegal opcode.
    pub const ILL_ILLOPC: i32 = 1;
    /// SIGSEGV: address not mapped.
    pub const SEGV_MAPERR: i32 = 1;
    /// SIGSEGV: no permission for the mapping.
    pub const SEGV_ACCERR: i32 = 2;
    /// SIGBUS: misaligned address.
    pub const BUS_ADRALN: i32 = 1;
    /// SIGTRAP: breakpoint.
    pub const TRAP_BRKPT: i32 = 1;
    /// SIGTRAP: a single step.
    pub const TRAP_TRACE: i32 = 2;
    /// SIGCHLD: the child exited.
    pub const CLD_EXITED: i32 = 1;
    /// SIGCHLD: the child was killed.
    pub const CLD_KILLED: i32 = 2;
    /// SIGCHLD: the child stopped.
    pub const CLD_STOPPED: i32 = 5;
    /// SIGCHLD: the stopped child continued.
    pub const CLD_CONTINUED: i32 = 6;
    /// SIGCHLD: the traced child stopped for its tracer.
    pub const CLD_TRAPPED: i32 = 4;
    /// Sent by the kernel itself (Linux `SEND_SIG_PRIV`).
    pub const SI_KERNEL: i32 = 0x80;

    /// `siginfo_t` (128 bytes) with the `_sifields` union's `_kill` / `_sigchld` view
    /// (`si_pid`, `si_uid`, `si_status`); [`SigInfo::si_addr`] reads its `_sigfault`
    /// view, whose `si_addr` is at the same offset as `si_pid`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct SigInfo {
        pub si_signo: i32,
        pub si_errno: i32,
        pub si_code: i32,
        /// The union is 8-byte aligned.
        pub _pad: i32,
        pub si_pid: i32,
        pub si_uid: u32,
        pub si_status: i32,
        pub _rest: [u32; 25],
    }

    /// Where `si_addr` is (the start of `_sifields`).
    pub const SI_ADDR_OFFSET: usize = offset_of!(SigInfo, si_pid);

    const _: () = assert!(size_of::<SigInfo>() == 128);
    const _: () = assert!(offset_of!(SigInfo, si_code) == 8);
    const _: () = assert!(SI_ADDR_OFFSET == 16);
    const _: () = assert!(offset_of!(SigInfo, si_uid) == 20);
    const _: () = assert!(offset_of!(SigInfo, si_status) == 24);

    impl SigInfo {
        /// `si_addr` of a fault (`_sigfault`): the 64 bits where `si_pid` and `si_uid` are.
        pub fn si_addr(&self) -> u64 {
            self.si_pid as u32 as u64 | (self.si_uid as u64) << 32
        }

        /// Set `si_addr` (over `si_pid` and `si_uid`).
        pub fn set_si_addr(&mut self, addr: u64) {
            self.si_pid = addr as u32 as i32;
            self.si_uid = (addr >> 32) as u32;
        }
    }
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
    pub use super::siginfo::{CLD_CONTINUED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_TRAPPED};
}

/// `ptrace` requests, options, events and regset types (`include/uapi/linux/ptrace.h`,
/// `include/uapi/linux/elf.h`, `arch/arm64/include/uapi/asm/ptrace.h`).
pub mod ptrace {
    pub const PTRACE_TRACEME: i64 = 0;
    pub const PTRACE_PEEKTEXT: i64 = 1;
    pub const PTRACE_PEEKDATA: i64 = 2;
    pub const PTRACE_PEEKUSR: i64 = 3;
    pub const PTRACE_POKETEXT: i64 = 4;
    pub const PTRACE_POKEDATA: i64 = 5;
    pub const PTRACE_POKEUSR: i64 = 6;
    pub const PTRACE_CONT: i64 = 7;
    pub const PTRACE_KILL: i64 = 8;
    pub const PTRACE_SINGLESTEP: i64 = 9;
    pub const PTRACE_ATTACH: i64 = 16;
    pub const PTRACE_DETACH: i64 = 17;
    pub const PTRACE_SYSCALL: i64 = 24;
    pub const PTRACE_SETOPTIONS: i64 = 0x4200;
    pub const PTRACE_GETEVENTMSG: i64 = 0x4201;
    pub const PTRACE_GETSIGINFO: i64 = 0x4202;
    pub const PTRACE_SETSIGINFO: i64 = 0x4203;
    pub const PTRACE_GETREGSET: i64 = 0x4204;
    pub const PTRACE_SETREGSET: i64 = 0x4205;
    pub const PTRACE_SEIZE: i64 = 0x4206;
    pub const PTRACE_INTERRUPT: i64 = 0x4207;
    pub const PTRACE_LISTEN: i64 = 0x4208;

    /// Stop events, reported as `status >> 8 == SIGTRAP | event << 8`.
    pub const PTRACE_EVENT_FORK: i32 = 1;
    pub const PTRACE_EVENT_VFORK: i32 = 2;
    pub const PTRACE_EVENT_CLONE: i32 = 3;
    pub const PTRACE_EVENT_EXEC: i32 = 4;
    pub const PTRACE_EVENT_VFORK_DONE: i32 = 5;
    pub const PTRACE_EVENT_EXIT: i32 = 6;
    pub const PTRACE_EVENT_SECCOMP: i32 = 7;
    pub const PTRACE_EVENT_STOP: i32 = 128;

    pub const PTRACE_O_TRACESYSGOOD: u64 = 1;
    pub const PTRACE_O_TRACEFORK: u64 = 1 << PTRACE_EVENT_FORK;
    pub const PTRACE_O_TRACEVFORK: u64 = 1 << PTRACE_EVENT_VFORK;
    pub const PTRACE_O_TRACECLONE: u64 = 1 << PTRACE_EVENT_CLONE;
    pub const PTRACE_O_TRACEEXEC: u64 = 1 << PTRACE_EVENT_EXEC;
    pub const PTRACE_O_TRACEVFORKDONE: u64 = 1 << PTRACE_EVENT_VFORK_DONE;
    pub const PTRACE_O_TRACEEXIT: u64 = 1 << PTRACE_EVENT_EXIT;
    pub const PTRACE_O_TRACESECCOMP: u64 = 1 << PTRACE_EVENT_SECCOMP;
    pub const PTRACE_O_EXITKILL: u64 = 1 << 20;
    pub const PTRACE_O_SUSPEND_SECCOMP: u64 = 1 << 21;
    /// Every option bit (`PTRACE_O_MASK`).
    pub const PTRACE_O_MASK: u64 = 0x0000_00ff | PTRACE_O_EXITKILL | PTRACE_O_SUSPEND_SECCOMP;

    /// `x7` at a syscall stop: entering (0) or leaving (1) the call (arm64
    /// `PTRACE_SYSCALL_ENTER`, `PTRACE_SYSCALL_EXIT`).
    pub const PTRACE_SYSCALL_ENTER: u64 = 0;
    pub const PTRACE_SYSCALL_EXIT: u64 = 1;

    /// `PTRACE_GETEVENTMSG` at a syscall-enter or -exit stop
    /// (`PTRACE_EVENTMSG_SYSCALL_ENTRY`, `_EXIT`).
    pub const PTRACE_EVENTMSG_SYSCALL_ENTRY: u64 = 1;
    pub const PTRACE_EVENTMSG_SYSCALL_EXIT: u64 = 2;

    /// Regset types (`NT_*` in `elf.h`).
    pub const NT_PRSTATUS: u64 = 1;
    pub const NT_PRFPREG: u64 = 2;
    pub const NT_ARM_SYSTEM_CALL: u64 = 0x404;

    /// `struct user_pt_regs`: x0-x30, sp, pc, pstate (272 bytes).
    pub const USER_PT_REGS_SIZE: usize = 34 * 8;
    /// `struct user_fpsimd_state`: v0-v31, fpsr, fpcr, padding (528 bytes).
    pub const USER_FPSIMD_STATE_SIZE: usize = 32 * 16 + 16;
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
    /// The bitset that matches every waiter (`FUTEX_WAIT` and `FUTEX_WAKE` use it).
    pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;
    /// Bits of a robust futex word: someone waits, the owner died, the owner's tid.
    pub const FUTEX_WAITERS: u32 = 0x8000_0000;
    pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
    pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
}

/// `mmap` protections and flags, `madvise` advice (`include/uapi/asm-generic/mman-common.h`,
/// `mman.h`, `linux/mman.h`).
pub mod mman {
    pub const PROT_NONE: u64 = 0;
    pub const PROT_READ: u64 = 1;
    pub const PROT_WRITE: u64 = 2;
    pub const PROT_EXEC: u64 = 4;
    pub const PROT_SEM: u64 = 0x8;
    pub const PROT_GROWSDOWN: u64 = 0x0100_0000;
    pub const PROT_GROWSUP: u64 = 0x0200_0000;
    pub const MAP_SHARED: u64 = 0x01;
    pub const MAP_PRIVATE: u64 = 0x02;
    pub const MAP_SHARED_VALIDATE: u64 = 0x03;
    /// The sharing type's bits of the flags.
    pub const MAP_TYPE: u64 = 0x0f;
    pub const MAP_FIXED: u64 = 0x10;
    pub const MAP_ANONYMOUS: u64 = 0x20;
    pub const MAP_GROWSDOWN: u64 = 0x0100;
    pub const MAP_HUGETLB: u64 = 0x40000;
    pub const MAP_FIXED_NOREPLACE: u64 = 0x100000;
    /// With `MAP_HUGETLB`, the huge page size's log2 sits in these bits.
    pub const MAP_HUGE_SHIFT: u64 = 26;
    pub const MAP_HUGE_MASK: u64 = 0x3f;
    pub const MADV_DONTNEED: u64 = 4;
}

/// Clock ids, `TIMER_ABSTIME` and `struct timespec` (`include/uapi/linux/time.h`,
/// `time_types.h`).
pub mod time {
    use super::{offset_of, size_of};

    pub const CLOCK_REALTIME: i32 = 0;
    pub const CLOCK_MONOTONIC: i32 = 1;
    /// `clock_nanosleep`'s flag: the time is absolute.
    pub const TIMER_ABSTIME: u64 = 1;

    /// `struct timespec` (`__kernel_timespec`: two 64-bit fields on arm64).
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct Timespec {
        pub tv_sec: i64,
        pub tv_nsec: i64,
    }

    const _: () = assert!(size_of::<Timespec>() == 16);
    const _: () = assert!(offset_of!(Timespec, tv_nsec) == 8);
}

/// `struct sysinfo` (`include/uapi/linux/sysinfo.h`).
pub mod sysinfo {
    use super::{offset_of, size_of};

    /// What `sysinfo` reports, as arm64 (64-bit `long`) lays it out; the padding Linux
    /// leaves implicit is written out, so every byte is a field.
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct Sysinfo {
        /// Seconds since boot.
        pub uptime: i64,
        pub loads: [u64; 3],
        pub totalram: u64,
        pub freeram: u64,
        pub sharedram: u64,
        pub bufferram: u64,
        pub totalswap: u64,
        pub freeswap: u64,
        /// Number of processes (Linux counts threads).
        pub procs: u16,
        pub pad: u16,
        pub _pad2: u32,
        pub totalhigh: u64,
        pub freehigh: u64,
        /// The unit of the memory sizes, in bytes.
        pub mem_unit: u32,
        /// Linux's `_f` is empty on 64-bit: this is the tail padding.
        pub _f: [u8; 4],
    }

    const _: () = assert!(size_of::<Sysinfo>() == 112);
    const _: () = assert!(offset_of!(Sysinfo, totalram) == 32);
    const _: () = assert!(offset_of!(Sysinfo, freeram) == 40);
    const _: () = assert!(offset_of!(Sysinfo, procs) == 80);
    const _: () = assert!(offset_of!(Sysinfo, totalhigh) == 88);
    const _: () = assert!(offset_of!(Sysinfo, mem_unit) == 104);
}

/// Resource numbers, `RLIM_INFINITY` and `struct rlimit64` (`include/uapi/linux/resource.h`,
/// `asm-generic/resource.h`).
pub mod resource {
    use super::{offset_of, size_of};

    // The resources, as indexes into a process's limits.
    pub const RLIMIT_CPU: usize = 0;
    pub const RLIMIT_FSIZE: usize = 1;
    pub const RLIMIT_DATA: usize = 2;
    pub const RLIMIT_STACK: usize = 3;
    pub const RLIMIT_CORE: usize = 4;
    pub const RLIMIT_RSS: usize = 5;
    pub const RLIMIT_NPROC: usize = 6;
    pub const RLIMIT_NOFILE: usize = 7;
    pub const RLIMIT_MEMLOCK: usize = 8;
    pub const RLIMIT_AS: usize = 9;
    pub const RLIMIT_LOCKS: usize = 10;
    pub const RLIMIT_SIGPENDING: usize = 11;
    pub const RLIMIT_MSGQUEUE: usize = 12;
    pub const RLIMIT_NICE: usize = 13;
    pub const RLIMIT_RTPRIO: usize = 14;
    pub const RLIMIT_RTTIME: usize = 15;
    /// How many limits there are.
    pub const RLIM_NLIMITS: usize = 16;
    /// No limit (`RLIM64_INFINITY`, and `RLIM_INFINITY` on 64-bit).
    pub const RLIM_INFINITY: u64 = u64::MAX;

    /// One resource limit (`struct rlimit64`, which `prlimit64` reads and writes).
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct Rlimit {
        /// `rlim_cur`: the soft limit.
        pub cur: u64,
        /// `rlim_max`: the hard limit.
        pub max: u64,
    }

    const _: () = assert!(size_of::<Rlimit>() == 16);
    const _: () = assert!(offset_of!(Rlimit, max) == 8);
}

/// Auxiliary vector types (`include/uapi/linux/auxvec.h`), the `(type, value)` pairs
/// `execve` leaves above the environment.
pub mod auxvec {
    pub const AT_NULL: u64 = 0;
    pub const AT_PHDR: u64 = 3;
    pub const AT_PHENT: u64 = 4;
    pub const AT_PHNUM: u64 = 5;
    pub const AT_PAGESZ: u64 = 6;
    pub const AT_BASE: u64 = 7;
    pub const AT_FLAGS: u64 = 8;
    pub const AT_ENTRY: u64 = 9;
    pub const AT_UID: u64 = 11;
    pub const AT_EUID: u64 = 12;
    pub const AT_GID: u64 = 13;
    pub const AT_EGID: u64 = 14;
    pub const AT_PLATFORM: u64 = 15;
    pub const AT_HWCAP: u64 = 16;
    pub const AT_CLKTCK: u64 = 17;
    pub const AT_SECURE: u64 = 23;
    pub const AT_RANDOM: u64 = 25;
    pub const AT_HWCAP2: u64 = 26;
    pub const AT_EXECFN: u64 = 31;
}

/// `AT_HWCAP` bits (`arch/arm64/include/uapi/asm/hwcap.h`), those forkos names.
pub mod hwcap {
    pub const HWCAP_FP: u64 = 1 << 0;
    pub const HWCAP_ASIMD: u64 = 1 << 1;
    pub const HWCAP_EVTSTRM: u64 = 1 << 2;
    pub const HWCAP_CPUID: u64 = 1 << 11;
}

/// The `*at` syscalls' directory and flags (`include/uapi/linux/fcntl.h`).
pub mod fcntl {
    /// The directory argument meaning "the current directory".
    pub const AT_FDCWD: i32 = -100;
    pub const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
    pub const AT_NO_AUTOMOUNT: u64 = 0x800;
    pub const AT_EMPTY_PATH: u64 = 0x1000;
    /// `AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC`.
    pub const AT_STATX_SYNC_TYPE: u64 = 0x6000;
    /// `unlinkat`: remove a directory; `faccessat2`: check with the effective ids.
    pub const AT_REMOVEDIR: u64 = 0x200;
    pub const AT_EACCESS: u64 = 0x200;
    pub const AT_SYMLINK_FOLLOW: u64 = 0x400;

    /// `open` flags (`include/uapi/asm-generic/fcntl.h`, with arm64's own
    /// `O_DIRECTORY`, `O_NOFOLLOW`, `O_DIRECT` and `O_LARGEFILE`).
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const FASYNC: u32 = 0o20000;
    pub const O_DIRECTORY: u32 = 0o40000;
    pub const O_NOFOLLOW: u32 = 0o100000;
    pub const O_DIRECT: u32 = 0o200000;
    pub const O_LARGEFILE: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE: u32 = 0o20040000;

    /// `fcntl` commands and the descriptor flag.
    pub const F_DUPFD: u32 = 0;
    pub const F_GETFD: u32 = 1;
    pub const F_SETFD: u32 = 2;
    pub const F_GETFL: u32 = 3;
    pub const F_SETFL: u32 = 4;
    pub const F_DUPFD_CLOEXEC: u32 = 1030;
    /// A pipe's buffer size (`F_LINUX_SPECIFIC_BASE + 7`, `+ 8`).
    pub const F_SETPIPE_SZ: u32 = 1031;
    pub const F_GETPIPE_SZ: u32 = 1032;
    pub const FD_CLOEXEC: u32 = 1;

    /// `lseek` origins (`include/uapi/linux/fs.h`).
    pub const SEEK_SET: u32 = 0;
    pub const SEEK_CUR: u32 = 1;
    pub const SEEK_END: u32 = 2;
    pub const SEEK_DATA: u32 = 3;
    pub const SEEK_HOLE: u32 = 4;

    /// `renameat2` flags.
    pub const RENAME_NOREPLACE: u32 = 1;
    pub const RENAME_EXCHANGE: u32 = 2;
    pub const RENAME_WHITEOUT: u32 = 4;

    /// `access` modes.
    pub const F_OK: u32 = 0;
    pub const X_OK: u32 = 1;
    pub const W_OK: u32 = 2;
    pub const R_OK: u32 = 4;

    /// `utimensat`'s special nanosecond values.
    pub const UTIME_NOW: i64 = (1 << 30) - 1;
    pub const UTIME_OMIT: i64 = (1 << 30) - 2;

    /// `struct linux_dirent64`'s `d_type` (`include/linux/fs_types.h`).
    pub const DT_UNKNOWN: u8 = 0;
    pub const DT_FIFO: u8 = 1;
    pub const DT_CHR: u8 = 2;
    pub const DT_DIR: u8 = 4;
    pub const DT_BLK: u8 = 6;
    pub const DT_REG: u8 = 8;
    pub const DT_LNK: u8 = 10;
    pub const DT_SOCK: u8 = 12;
}

/// File types and `struct stat` (`include/uapi/linux/stat.h`,
/// `include/uapi/asm-generic/stat.h`, which arm64 uses).
pub mod stat {
    use super::{offset_of, size_of};

    pub const S_IFMT: u32 = 0o170000;
    pub const S_IFREG: u32 = 0o100000;
    pub const S_IFDIR: u32 = 0o040000;
    pub const S_IFCHR: u32 = 0o020000;
    pub const S_IFLNK: u32 = 0o120000;
    pub const S_IFBLK: u32 = 0o060000;
    pub const S_IFIFO: u32 = 0o010000;
    pub const S_IFSOCK: u32 = 0o140000;
    /// Permission and set-id bits (`S_IALLUGO`).
    pub const S_IALLUGO: u32 = 0o7777;

    /// `struct stat` as `fstat` and `newfstatat` fill it on arm64 (128 bytes).
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct Stat {
        pub st_dev: u64,
        pub st_ino: u64,
        pub st_mode: u32,
        pub st_nlink: u32,
        pub st_uid: u32,
        pub st_gid: u32,
        pub st_rdev: u64,
        pub pad1: u64,
        pub st_size: i64,
        pub st_blksize: i32,
        pub pad2: i32,
        pub st_blocks: i64,
        /// `st_atime`, `st_atime_nsec`, `st_mtime`, ..., `st_ctime_nsec`.
        pub times: [i64; 6],
        pub unused: [u32; 2],
    }

    const _: () = assert!(size_of::<Stat>() == 128);
    const _: () = assert!(offset_of!(Stat, st_ino) == 8);
    const _: () = assert!(offset_of!(Stat, st_mode) == 16);
    const _: () = assert!(offset_of!(Stat, st_rdev) == 32);
    const _: () = assert!(offset_of!(Stat, st_size) == 48);
    const _: () = assert!(offset_of!(Stat, st_blocks) == 64);

    /// `struct statx_timestamp`.
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct StatxTimestamp {
        pub tv_sec: i64,
        pub tv_nsec: u32,
        pub reserved: i32,
    }

    /// `struct statx` (256 bytes).
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
    pub struct Statx {
        pub stx_mask: u32,
        pub stx_blksize: u32,
        pub stx_attributes: u64,
        pub stx_nlink: u32,
        pub stx_uid: u32,
        pub stx_gid: u32,
        pub stx_mode: u16,
        pub spare0: u16,
        pub stx_ino: u64,
        pub stx_size: u64,
        pub stx_blocks: u64,
        pub stx_attributes_mask: u64,
        pub stx_atime: StatxTimestamp,
        pub stx_btime: StatxTimestamp,
        pub stx_ctime: StatxTimestamp,
        pub stx_mtime: StatxTimestamp,
        pub stx_rdev_major: u32,
        pub stx_rdev_minor: u32,
        pub stx_dev_major: u32,
        pub stx_dev_minor: u32,
        pub stx_mnt_id: u64,
        pub stx_dio_mem_align: u32,
        pub stx_dio_offset_align: u32,
        pub spare3: [u64; 12],
    }

    const _: () = assert!(size_of::<Statx>() == 256);
    const _: () = assert!(offset_of!(Statx, stx_atime) == 64);
    const _: () = assert!(offset_of!(Statx, stx_rdev_major) == 128);

    /// What `statx` fills: `STATX_BASIC_STATS` (type, mode, nlink, uid, gid, times,
    /// ino, size, blocks); `STATX__RESERVED` is refused.
    pub const STATX_BASIC_STATS: u32 = 0x7ff;
    pub const STATX__RESERVED: u32 = 0x8000_0000;
}

/// Terminal `ioctl` requests (`include/uapi/asm-generic/ioctls.h`).
pub mod ioctls {
    pub const TCGETS: u64 = 0x5401;
    pub const TCSETS: u64 = 0x5402;
    pub const TCSETSW: u64 = 0x5403;
    pub const TCSETSF: u64 = 0x5404;
    pub const TCSBRK: u64 = 0x5409;
    pub const TCFLSH: u64 = 0x540B;
    pub const TIOCOUTQ: u64 = 0x5411;
    pub const TIOCSCTTY: u64 = 0x540E;
    pub const TIOCGPGRP: u64 = 0x540F;
    pub const TIOCSPGRP: u64 = 0x5410;
    pub const TIOCGWINSZ: u64 = 0x5413;
    pub const TIOCSWINSZ: u64 = 0x5414;
    /// Bytes ready to read (`FIONREAD`, also `TIOCINQ`).
    pub const FIONREAD: u64 = 0x541B;
    pub const TIOCNOTTY: u64 = 0x5422;
    pub const TIOCGSID: u64 = 0x5429;
    /// `TCFLSH`'s argument.
    pub const TCIFLUSH: u64 = 0;
    pub const TCOFLUSH: u64 = 1;
    pub const TCIOFLUSH: u64 = 2;
}

/// Terminal settings (`include/uapi/asm-generic/termbits.h`, `termbits-common.h`): the
/// kernel's `struct termios` and its flags.
pub mod termbits {
    use super::size_of;

    /// Control characters (`NCCS`).
    pub const NCCS: usize = 19;

    /// The kernel's `struct termios` (`TCGETS`/`TCSETS`), 36 bytes.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Termios {
        pub c_iflag: u32,
        pub c_oflag: u32,
        pub c_cflag: u32,
        pub c_lflag: u32,
        pub c_line: u8,
        pub c_cc: [u8; NCCS],
    }
    const _: () = assert!(size_of::<Termios>() == 36);

    impl Termios {
        /// A new terminal's settings (Linux `tty_std_termios`, `INIT_C_CC`).
        pub const STD: Termios = Termios {
            c_iflag: ICRNL | IXON,
            c_oflag: OPOST | ONLCR,
            c_cflag: B38400 | CS8 | CREAD | HUPCL,
            c_lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            c_line: 0,
            c_cc: [
                3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
            ],
        };
    }

    /// `struct winsize` (`TIOCGWINSZ`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Winsize {
        pub ws_row: u16,
        pub ws_col: u16,
        pub ws_xpixel: u16,
        pub ws_ypixel: u16,
    }
    const _: () = assert!(size_of::<Winsize>() == 8);

    /// `c_cc` indices.
    pub const VINTR: usize = 0;
    pub const VQUIT: usize = 1;
    pub const VERASE: usize = 2;
    pub const VKILL: usize = 3;
    pub const VEOF: usize = 4;
    pub const VTIME: usize = 5;
    pub const VMIN: usize = 6;
    pub const VSWTC: usize = 7;
    pub const VSTART: usize = 8;
    pub const VSTOP: usize = 9;
    pub const VSUSP: usize = 10;
    pub const VEOL: usize = 11;
    pub const VREPRINT: usize = 12;
    pub const VDISCARD: usize = 13;
    pub const VWERASE: usize = 14;
    pub const VLNEXT: usize = 15;
    pub const VEOL2: usize = 16;

    /// `c_iflag`.
    pub const ISTRIP: u32 = 0o40;
    pub const INLCR: u32 = 0o100;
    pub const IGNCR: u32 = 0o200;
    pub const ICRNL: u32 = 0o400;
    pub const IXON: u32 = 0o2000;

    /// `c_oflag`.
    pub const OPOST: u32 = 0o1;
    pub const ONLCR: u32 = 0o4;
    pub const OCRNL: u32 = 0o10;
    pub const ONOCR: u32 = 0o20;
    pub const ONLRET: u32 = 0o40;

    /// `c_cflag`.
    pub const B38400: u32 = 0o17;
    pub const CS8: u32 = 0o60;
    pub const CREAD: u32 = 0o200;
    pub const HUPCL: u32 = 0o2000;

    /// `c_lflag`.
    pub const ISIG: u32 = 0o1;
    pub const ICANON: u32 = 0o2;
    pub const ECHO: u32 = 0o10;
    pub const ECHOE: u32 = 0o20;
    pub const ECHOK: u32 = 0o40;
    pub const ECHONL: u32 = 0o100;
    pub const NOFLSH: u32 = 0o200;
    pub const TOSTOP: u32 = 0o400;
    pub const ECHOCTL: u32 = 0o1000;
    pub const ECHOPRT: u32 = 0o2000;
    pub const ECHOKE: u32 = 0o4000;
    pub const IEXTEN: u32 = 0o100000;
}

/// `poll` events and `struct pollfd` (`include/uapi/asm-generic/poll.h`).
pub mod poll {
    use super::{offset_of, size_of};

    pub const POLLIN: u32 = 0x0001;
    pub const POLLPRI: u32 = 0x0002;
    pub const POLLOUT: u32 = 0x0004;
    pub const POLLERR: u32 = 0x0008;
    pub const POLLHUP: u32 = 0x0010;
    pub const POLLNVAL: u32 = 0x0020;
    pub const POLLRDNORM: u32 = 0x0040;
    pub const POLLRDBAND: u32 = 0x0080;
    pub const POLLWRNORM: u32 = 0x0100;
    pub const POLLWRBAND: u32 = 0x0200;

    /// One descriptor to watch (`struct pollfd`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct PollFd {
        pub fd: i32,
        pub events: i16,
        pub revents: i16,
    }
    const _: () = assert!(size_of::<PollFd>() == 8);
    const _: () = assert!(offset_of!(PollFd, revents) == 6);
}

/// `getrandom` flags (`include/uapi/linux/random.h`).
pub mod random {
    pub const GRND_NONBLOCK: u32 = 1;
    pub const GRND_RANDOM: u32 = 2;
    pub const GRND_INSECURE: u32 = 4;
}

/// `struct new_utsname`, what `uname` fills (`include/uapi/linux/utsname.h`).
pub mod utsname {
    use super::{offset_of, size_of};

    /// Longest field, without its NUL (`__NEW_UTS_LEN`).
    pub const NEW_UTS_LEN: usize = 64;

    /// Six NUL-terminated strings of `NEW_UTS_LEN + 1` bytes.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct NewUtsname {
        pub sysname: [u8; NEW_UTS_LEN + 1],
        pub nodename: [u8; NEW_UTS_LEN + 1],
        pub release: [u8; NEW_UTS_LEN + 1],
        pub version: [u8; NEW_UTS_LEN + 1],
        pub machine: [u8; NEW_UTS_LEN + 1],
        pub domainname: [u8; NEW_UTS_LEN + 1],
    }

    impl Default for NewUtsname {
        fn default() -> Self {
            let z = [0; NEW_UTS_LEN + 1];
            NewUtsname {
                sysname: z,
                nodename: z,
                release: z,
                version: z,
                machine: z,
                domainname: z,
            }
        }
    }

    const _: () = assert!(size_of::<NewUtsname>() == 390);
    const _: () = assert!(offset_of!(NewUtsname, release) == 130);
}

/// The arm64 signal frame's context (`arch/arm64/include/uapi/asm/sigcontext.h`,
/// `asm/ucontext.h`): `struct ucontext`, its `struct sigcontext`, and the records
/// in `__reserved`, each headed by a `struct _aarch64_ctx` (magic, size).
pub mod sigcontext {
    use super::{offset_of, size_of};

    /// The FP/SIMD record (`struct fpsimd_context`).
    pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
    /// The fault's ESR record (`struct esr_context`).
    pub const ESR_MAGIC: u32 = 0x4553_5201;
    /// A pointer to more records beyond `__reserved` (`struct extra_context`).
    pub const EXTRA_MAGIC: u32 = 0x4558_5401;
    /// `sizeof(struct fpsimd_context)`: head, fpsr, fpcr, 32 128-bit registers.
    pub const FPSIMD_CONTEXT_SIZE: usize = 16 + 32 * 16;

    /// `struct sigcontext`: the registers, then `__reserved` for records such as FP/SIMD.
    #[repr(C, align(16))]
    #[derive(Clone, Copy)]
    pub struct Sigcontext {
        pub fault_address: u64,
        pub regs: [u64; 31],
        pub sp: u64,
        pub pc: u64,
        pub pstate: u64,
        pub _pad: u64,
        /// `__reserved`.
        pub reserved: [u8; 4096],
    }

    /// `struct ucontext` (arm64 layout; `uc_stack` is a `stack_t`, written out).
    #[repr(C, align(16))]
    #[derive(Clone, Copy)]
    pub struct Ucontext {
        pub uc_flags: u64,
        pub uc_link: u64,
        pub ss_sp: u64,
        pub ss_flags: i32,
        pub _ss_pad: i32,
        pub ss_size: u64,
        pub uc_sigmask: u64,
        /// Room for a 1024-bit `sigset_t`.
        pub _unused: [u8; 120],
        pub _pad: u64,
        pub uc_mcontext: Sigcontext,
    }

    /// Where `uc_mcontext.__reserved` is in the ucontext a handler gets in x2.
    pub const UC_RESERVED_OFFSET: usize =
        offset_of!(Ucontext, uc_mcontext) + offset_of!(Sigcontext, reserved);

    const _: () = assert!(size_of::<Sigcontext>() == 4384);
    const _: () = assert!(offset_of!(Sigcontext, reserved) == 288);
    const _: () = assert!(offset_of!(Ucontext, uc_sigmask) == 40);
    const _: () = assert!(offset_of!(Ucontext, uc_mcontext) == 176);
}

/// A handful of values pinned to Linux's (arm64, 6.1): these are ABI and must never drift.
#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn numbers_are_linuxs() {
        assert_eq!(nr::CLONE, 220);
        assert_eq!(nr::CLONE3, 435);
        assert_eq!(nr::RT_SIGACTION, 134);
        assert_eq!(nr::PRLIMIT64, 261);
        assert_eq!(errno::EINVAL, 22);
        assert_eq!(errno::ENOSYS, 38);
        assert_eq!(clone::CLONE_THREAD, 0x10000);
        assert_eq!(clone::CLONE_INTO_CGROUP, 0x2_0000_0000);
        assert_eq!(signal::SIGCHLD, 17);
        assert_eq!(signal::SA_RESTORER, 0x0400_0000);
        assert_eq!(signal::SA_SIGINFO, 4);
        assert_eq!(signal::SIG_SETMASK, 2);
        assert_eq!(siginfo::SI_TKILL, -6);
        assert_eq!(siginfo::SEGV_ACCERR, 2);
        assert_eq!(wait::P_PIDFD, 3);
        assert_eq!(wait::WNOWAIT, 0x0100_0000);
        assert_eq!(futex::FUTEX_WAIT_BITSET, 9);
        assert_eq!(futex::FUTEX_OWNER_DIED, 0x4000_0000);
        assert_eq!(mman::MAP_ANONYMOUS, 0x20);
        assert_eq!(mman::MAP_FIXED_NOREPLACE, 0x10_0000);
        assert_eq!(mman::MAP_HUGETLB, 0x4_0000);
        assert_eq!(time::CLOCK_MONOTONIC, 1);
        assert_eq!(resource::RLIMIT_STACK, 3);
        assert_eq!(resource::RLIMIT_NOFILE, 7);
        assert_eq!(resource::RLIM_NLIMITS, 16);
        assert_eq!(auxvec::AT_HWCAP, 16);
        assert_eq!(auxvec::AT_RANDOM, 25);
        assert_eq!(auxvec::AT_EXECFN, 31);
        assert_eq!(hwcap::HWCAP_CPUID, 0x800);
        assert_eq!(fcntl::AT_FDCWD, -100);
        assert_eq!(fcntl::AT_EMPTY_PATH, 0x1000);
        assert_eq!(stat::S_IFCHR, 0o020000);
        assert_eq!(ioctls::TCGETS, 0x5401);
        assert_eq!(ioctls::TIOCGWINSZ, 0x5413);
        assert_eq!(random::GRND_INSECURE, 4);
        assert_eq!(sigcontext::FPSIMD_MAGIC, 0x4650_8001);
        assert_eq!(sigcontext::FPSIMD_CONTEXT_SIZE, 528);
    }

    #[test]
    fn layouts_are_linuxs() {
        assert_eq!(size_of::<signal::SigAction>(), 32);
        assert_eq!(size_of::<siginfo::SigInfo>(), 128);
        assert_eq!(size_of::<time::Timespec>(), 16);
        assert_eq!(size_of::<sysinfo::Sysinfo>(), 112);
        assert_eq!(offset_of!(sysinfo::Sysinfo, mem_unit), 104);
        assert_eq!(size_of::<resource::Rlimit>(), 16);
        assert_eq!(size_of::<clone::CloneArgs>(), 88);
        assert_eq!(size_of::<stat::Stat>(), 128);
        assert_eq!(size_of::<utsname::NewUtsname>(), 390);
        assert_eq!(sigcontext::UC_RESERVED_OFFSET, 464);
    }

    #[test]
    fn clone_args_from_bytes_reads_each_field_in_order() {
        let mut raw = [0u8; clone::CLONE_ARGS_SIZE_VER2];
        for (i, w) in raw.chunks_mut(8).enumerate() {
            w.copy_from_slice(&(i as u64 + 1).to_le_bytes());
        }
        let a = clone::CloneArgs::from_bytes(&raw);
        assert_eq!((a.flags, a.exit_signal, a.tls, a.cgroup), (1, 5, 8, 11));
    }

    #[test]
    fn si_addr_overlays_pid_and_uid() {
        let mut info = siginfo::SigInfo::default();
        info.set_si_addr(0x1234_5678_9abc_def0);
        assert_eq!(info.si_addr(), 0x1234_5678_9abc_def0);
        assert_eq!(info.si_pid as u32, 0x9abc_def0);
        assert_eq!(info.si_uid, 0x1234_5678);
    }
}
