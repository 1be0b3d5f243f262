//! The system call table and its dispatch (Linux `arch/arm64/kernel/sys.c`'s
//! `sys_call_table`, `arch/arm64/kernel/syscall.c`'s `invoke_syscall`). The handlers
//! live where Linux keeps them: `fork.rs`, `exit.rs`, `signal/`, `mm/`, `fs/`, `sys.rs`...
//!
//! A syscall is `svc #0` with its number in x8 and arguments in x0-x5 (the Linux arm64
//! ABI, asm-generic numbers). `el0_svc` saves x0 as `orig_x0` and the number as
//! `syscallno`, calls [`invoke_syscall`], and puts the result, or `-errno`, in x0.

use forkos_lib::uapi::nr;

use crate::arch::ptrace::PtRegs;
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::task::current;
use crate::{exit, fork, fs, futex, mm, signal, time};

/// A syscall handler: the six argument registers in, the value for x0 out.
type Handler = fn(&[u64; 6]) -> i64;

/// A handler's result as the value for x0: the result, or `-errno`.
#[inline(always)]
fn ret(r: SysResult) -> i64 {
    match r {
        Ok(v) => v,
        Err(e) => -(e.0 as i64),
    }
}

/// The table of [`SYSCALLS`], each handler wrapped so that it hands back the register
/// value itself (as Linux's `__SYSCALL_DEFINEx` wrappers return a `long`): a result
/// in x0, not a `Result` in memory.
macro_rules! syscalls {
    ($(($nr:expr, $name:literal, |$a:pat_param| $body:expr)),* $(,)?) => {
        const SYSCALLS: &[(usize, &str, Handler)] = &[
            $(($nr, $name, |$a: &[u64; 6]| ret($body))),*
        ];
    };
}

// Numbers and handlers, as in `include/uapi/asm-generic/unistd.h`. Everything else
// returns `-ENOSYS`.
syscalls! {
    (nr::GETCWD, "getcwd", |a| fs::open::sys_getcwd(UserPtr::new(a[0]), a[1])),
    (nr::DUP, "dup", |a| fs::fcntl::sys_dup(a[0])),
    (nr::DUP3, "dup3", |a| fs::fcntl::sys_dup3(a[0], a[1], a[2])),
    (nr::FCNTL, "fcntl", |a| fs::fcntl::sys_fcntl(a[0], a[1], a[2])),
    (nr::IOCTL, "ioctl", |a| fs::fcntl::sys_ioctl(a[0], a[1], a[2])),
    (nr::MKDIRAT, "mkdirat", |a| {
        fs::namei::sys_mkdirat(a[0], UserPtr::new(a[1]), a[2])
    }),
    (nr::UNLINKAT, "unlinkat", |a| {
        fs::namei::sys_unlinkat(a[0], UserPtr::new(a[1]), a[2])
    }),
    (nr::SYMLINKAT, "symlinkat", |a| {
        fs::namei::sys_symlinkat(UserPtr::new(a[0]), a[1], UserPtr::new(a[2]))
    }),
    (nr::LINKAT, "linkat", |a| {
        fs::namei::sys_linkat(a[0], UserPtr::new(a[1]), a[2], UserPtr::new(a[3]), a[4])
    }),
    (nr::RENAMEAT, "renameat", |a| {
        fs::namei::sys_renameat2(a[0], UserPtr::new(a[1]), a[2], UserPtr::new(a[3]), 0)
    }),
    (nr::FTRUNCATE, "ftruncate", |a| fs::open::sys_ftruncate(a[0], a[1])),
    (nr::FACCESSAT, "faccessat", |a| {
        fs::open::sys_faccessat(a[0], UserPtr::new(a[1]), a[2])
    }),
    (nr::CHDIR, "chdir", |a| fs::open::sys_chdir(UserPtr::new(a[0]))),
    (nr::FCHDIR, "fchdir", |a| fs::open::sys_fchdir(a[0])),
    (nr::FCHMOD, "fchmod", |a| fs::open::sys_fchmod(a[0], a[1])),
    (nr::FCHMODAT, "fchmodat", |a| {
        fs::open::sys_fchmodat(a[0], UserPtr::new(a[1]), a[2])
    }),
    (nr::FCHOWN, "fchown", |a| fs::open::sys_fchown(a[0], a[1], a[2])),
    (nr::OPENAT, "openat", |a| {
        fs::open::sys_openat(a[0], UserPtr::new(a[1]), a[2], a[3])
    }),
    (nr::CLOSE, "close", |a| fs::open::sys_close(a[0])),
    (nr::GETDENTS64, "getdents64", |a| {
        fs::readdir::sys_getdents64(a[0], UserPtr::new(a[1]), a[2])
    }),
    (nr::LSEEK, "lseek", |a| fs::read_write::sys_lseek(a[0], a[1], a[2])),
    (nr::READ, "read", |a| fs::read_write::sys_read(a[0], UserPtr::new(a[1]), a[2])),
    (nr::WRITE, "write", |a| fs::read_write::sys_write(a[0], UserPtr::new(a[1]), a[2])),
    (nr::READV, "readv", |a| fs::read_write::sys_readv(a[0], UserPtr::new(a[1]), a[2])),
    (nr::WRITEV, "writev", |a| fs::read_write::sys_writev(a[0], UserPtr::new(a[1]), a[2])),
    (nr::PREAD64, "pread64", |a| {
        fs::read_write::sys_pread64(a[0], UserPtr::new(a[1]), a[2], a[3])
    }),
    (nr::PWRITE64, "pwrite64", |a| {
        fs::read_write::sys_pwrite64(a[0], UserPtr::new(a[1]), a[2], a[3])
    }),
    (nr::PIPE2, "pipe2", |a| fs::pipe::sys_pipe2(UserPtr::new(a[0]), a[1])),
    (nr::PSELECT6, "pselect6", |a| {
        fs::select::sys_pselect6(
            a[0],
            [UserPtr::new(a[1]), UserPtr::new(a[2]), UserPtr::new(a[3])],
            UserPtr::new(a[4]),
            UserPtr::new(a[5]),
        )
    }),
    (nr::PPOLL, "ppoll", |a| {
        fs::select::sys_ppoll(
            UserPtr::new(a[0]),
            a[1],
            UserPtr::new(a[2]),
            UserPtr::new(a[3]),
            a[4],
        )
    }),
    (nr::RT_SIGSUSPEND, "rt_sigsuspend", |a| {
        fs::select::sys_rt_sigsuspend(UserPtr::new(a[0]), a[1])
    }),
    (nr::SENDFILE, "sendfile", |a| {
        fs::read_write::sys_sendfile(a[0], a[1], UserPtr::new(a[2]), a[3])
    }),
    (nr::READLINKAT, "readlinkat", |a| {
        fs::namei::sys_readlinkat(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]), a[3])
    }),
    (nr::NEWFSTATAT, "newfstatat", |a| {
        fs::stat::sys_newfstatat(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]), a[3])
    }),
    (nr::FSTAT, "fstat", |a| fs::stat::sys_fstat(a[0], UserPtr::new(a[1]))),
    (nr::UTIMENSAT, "utimensat", |a| {
        fs::open::sys_utimensat(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]), a[3])
    }),
    (nr::UMASK, "umask", |a| fs::fs_struct::sys_umask(a[0])),
    (nr::RENAMEAT2, "renameat2", |a| {
        fs::namei::sys_renameat2(a[0], UserPtr::new(a[1]), a[2], UserPtr::new(a[3]), a[4])
    }),
    (nr::STATX, "statx", |a| {
        fs::stat::sys_statx(a[0], UserPtr::new(a[1]), a[2], a[3], UserPtr::new(a[4]))
    }),
    (nr::EXIT, "exit", |a| exit::sys_exit(a[0] as i64)),
    (nr::EXIT_GROUP, "exit_group", |a| {
        exit::sys_exit_group(a[0] as i64)
    }),
    (nr::WAITID, "waitid", |a| {
        exit::sys_waitid(a[0], a[1], UserPtr::new(a[2]), a[3], UserPtr::new(a[4]))
    }),
    (nr::SET_TID_ADDRESS, "set_tid_address", |a| {
        fork::sys_set_tid_address(UserPtr::new(a[0]))
    }),
    (nr::SET_ROBUST_LIST, "set_robust_list", |a| {
        futex::sys_set_robust_list(UserPtr::new(a[0]), a[1])
    }),
    (nr::GET_ROBUST_LIST, "get_robust_list", |a| {
        futex::sys_get_robust_list(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]))
    }),
    (nr::FUTEX, "futex", |a| {
        futex::sys_futex(UserPtr::new(a[0]), a[1], a[2], a[3], UserPtr::new(a[4]), a[5])
    }),
    (nr::CLOCK_NANOSLEEP, "clock_nanosleep", |a| {
        time::sys_clock_nanosleep(a[0], a[1], UserPtr::new(a[2]), UserPtr::new(a[3]))
    }),
    (nr::NANOSLEEP, "nanosleep", |a| {
        time::sys_nanosleep(UserPtr::new(a[0]), UserPtr::new(a[1]))
    }),
    (nr::CLOCK_GETTIME, "clock_gettime", |a| {
        time::sys_clock_gettime(a[0], UserPtr::new(a[1]))
    }),
    (nr::SCHED_SETAFFINITY, "sched_setaffinity", |a| {
        crate::sched::sys_sched_setaffinity(a[0] as i64, a[1], UserPtr::new(a[2]))
    }),
    (nr::SCHED_GETAFFINITY, "sched_getaffinity", |a| {
        crate::sched::sys_sched_getaffinity(a[0] as i64, a[1], UserPtr::new(a[2]))
    }),
    (nr::SCHED_YIELD, "sched_yield", |_| {
        crate::sched::yield_now();
        Ok(0)
    }),
    (nr::PTRACE, "ptrace", |a| {
        crate::ptrace::sys_ptrace(a[0] as i64, a[1] as i64, a[2], a[3])
    }),
    (nr::KILL, "kill", |a| {
        signal::syscalls::sys_kill(a[0] as i64, a[1] as i64)
    }),
    (nr::TKILL, "tkill", |a| {
        signal::syscalls::sys_tkill(a[0] as i64, a[1] as i64)
    }),
    (nr::TGKILL, "tgkill", |a| {
        signal::syscalls::sys_tgkill(a[0] as i64, a[1] as i64, a[2] as i64)
    }),
    (nr::RT_SIGACTION, "rt_sigaction", |a| {
        signal::syscalls::sys_rt_sigaction(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]), a[3])
    }),
    (nr::RT_SIGPROCMASK, "rt_sigprocmask", |a| {
        signal::syscalls::sys_rt_sigprocmask(a[0], UserPtr::new(a[1]), UserPtr::new(a[2]), a[3])
    }),
    (nr::RT_SIGRETURN, "rt_sigreturn", |_| {
        crate::arch::signal::sys_rt_sigreturn()
    }),
    (nr::SETPGID, "setpgid", |a| {
        crate::sys::sys_setpgid(a[0] as i64, a[1] as i64)
    }),
    (nr::GETPGID, "getpgid", |a| crate::sys::sys_getpgid(a[0] as i64)),
    (nr::GETSID, "getsid", |a| crate::sys::sys_getsid(a[0] as i64)),
    (nr::SETSID, "setsid", |_| crate::sys::sys_setsid()),
    (nr::UNAME, "uname", |a| crate::sys::sys_uname(UserPtr::new(a[0]))),
    (nr::GETCPU, "getcpu", |a| {
        crate::sys::sys_getcpu(UserPtr::new(a[0]), UserPtr::new(a[1]))
    }),
    (nr::GETPID, "getpid", |_| Ok(current().tgid as i64)),
    (nr::GETPPID, "getppid", |_| Ok(crate::sys::sys_getppid())),
    (nr::GETUID, "getuid", |_| Ok(0)),
    (nr::GETEUID, "geteuid", |_| Ok(0)),
    (nr::GETGID, "getgid", |_| Ok(0)),
    (nr::GETEGID, "getegid", |_| Ok(0)),
    (nr::GETTID, "gettid", |_| Ok(current().pid as i64)),
    (nr::SYSINFO, "sysinfo", |a| crate::sys::sys_sysinfo(UserPtr::new(a[0]))),
    (nr::BRK, "brk", |a| mm::mmap::sys_brk(a[0])),
    (nr::MUNMAP, "munmap", |a| mm::mmap::sys_munmap(a[0], a[1])),
    (nr::CLONE, "clone", |a| {
        fork::sys_clone(a[0], a[1], UserPtr::new(a[2]), a[3], UserPtr::new(a[4]))
    }),
    (nr::MMAP, "mmap", |a| {
        mm::mmap::sys_mmap(a[0], a[1], a[2], a[3], a[4], a[5])
    }),
    (nr::WAIT4, "wait4", |a| {
        exit::sys_wait4(a[0] as i64, UserPtr::new(a[1]), a[2], UserPtr::new(a[3]))
    }),
    (nr::CLONE3, "clone3", |a| fork::sys_clone3(UserPtr::new(a[0]), a[1])),
    (nr::EXECVE, "execve", |a| {
        crate::exec::sys_execve(UserPtr::new(a[0]), UserPtr::new(a[1]), UserPtr::new(a[2]))
    }),
    (nr::MPROTECT, "mprotect", |a| {
        mm::mmap::sys_mprotect(a[0], a[1], a[2])
    }),
    (nr::MADVISE, "madvise", |a| {
        mm::mmap::sys_madvise(a[0], a[1], a[2])
    }),
    (nr::PRLIMIT64, "prlimit64", |a| {
        crate::sys::sys_prlimit64(a[0], a[1], UserPtr::new(a[2]), UserPtr::new(a[3]))
    }),
    (nr::GETRANDOM, "getrandom", |a| {
        crate::random::sys_getrandom(UserPtr::new(a[0]), a[1], a[2])
    }),
}

/// One past the highest syscall number (Linux 6.1's `__NR_syscalls`).
pub const NR_SYSCALLS: usize = 451;

/// The handlers indexed by number, built from [`SYSCALLS`] at compile time (Linux's
/// `sys_call_table`): dispatch is one bounds check and one load.
static SYS_CALL_TABLE: [Handler; NR_SYSCALLS] = {
    let mut table: [Handler; NR_SYSCALLS] = [sys_ni_syscall; NR_SYSCALLS];
    let mut i = 0;
    while i < SYSCALLS.len() {
        table[SYSCALLS[i].0] = SYSCALLS[i].2;
        i += 1;
    }
    table
};

/// A number with no syscall (Linux `sys_ni_syscall`).
fn sys_ni_syscall(_: &[u64; 6]) -> i64 {
    -(ENOSYS.0 as i64)
}

/// The handler of numbers past the table; kept off the path of real syscalls. Only
/// forkos's own [`nr::FORKOS_PS`] lives there.
#[cold]
fn beyond_the_table(scno: usize) -> Handler {
    if scno == nr::FORKOS_PS {
        |_| {
            crate::task::show_tasks();
            0
        }
    } else {
        sys_ni_syscall
    }
}

/// Call the handler for `scno` (Linux `invoke_syscall`).
#[inline(always)]
pub fn invoke_syscall(scno: u32, regs: &PtRegs) -> i64 {
    let scno = scno as usize;
    // The arguments are x0-x5 as saved in pt_regs: passed in place, not copied.
    let (args, _) = regs.regs.split_first_chunk::<6>().expect("31 registers");
    let handler = match SYS_CALL_TABLE.get(scno) {
        Some(handler) => *handler,
        None => beyond_the_table(scno),
    };
    handler(args)
}

/// The name of a syscall, for traces.
pub fn syscall_name(scno: u64) -> &'static str {
    if scno == nr::FORKOS_PS as u64 {
        return "forkos_ps";
    }
    SYSCALLS
        .iter()
        .find(|(n, _, _)| *n as u64 == scno)
        .map_or("unknown", |(_, name, _)| name)
}
