//! The system call table and the small syscalls (Linux `arch/arm64/kernel/syscall.c`,
//! `kernel/sys.c`).
//!
//! A syscall is `svc #0` with its number in x8 and arguments in x0-x5 (the Linux arm64
//! ABI, asm-generic numbers). `el0_svc` saves x0 as `orig_x0` and the number as
//! `syscallno`, calls [`invoke_syscall`], and puts the result, or `-errno`, in x0.

use forkos_lib::uapi::nr;

use crate::arch::ptrace::PtRegs;
use crate::errno::*;
use crate::iov_iter::{import_iovec, import_single_range};
use crate::mm::uaccess::{access_ok, copy_to_user, UserPtr};
use crate::task::{current, current_arc, PID_TABLE};
use crate::{exit, fork, futex, mm, signal, time};

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
    (nr::IOCTL, "ioctl", |a| {
        crate::fs::sys_ioctl(a[0], a[1], a[2])
    }),
    (nr::READLINKAT, "readlinkat", |a| {
        crate::fs::sys_readlinkat(a[0], a[1], a[2], a[3])
    }),
    (nr::NEWFSTATAT, "newfstatat", |a| {
        crate::fs::sys_newfstatat(a[0], a[1], a[2], a[3])
    }),
    (nr::FSTAT, "fstat", |a| crate::fs::sys_fstat(a[0], a[1])),
    (nr::READ, "read", |_| Err(EBADF)),
    (nr::WRITE, "write", |a| sys_write(a[0], a[1], a[2])),
    (nr::WRITEV, "writev", |a| sys_writev(a[0], a[1], a[2])),
    (nr::EXIT, "exit", |a| exit::sys_exit(a[0] as i64)),
    (nr::EXIT_GROUP, "exit_group", |a| {
        exit::sys_exit_group(a[0] as i64)
    }),
    (nr::WAITID, "waitid", |a| {
        exit::sys_waitid(a[0], a[1], a[2], a[3], a[4])
    }),
    (nr::SET_TID_ADDRESS, "set_tid_address", |a| {
        sys_set_tid_address(a[0])
    }),
    (nr::SET_ROBUST_LIST, "set_robust_list", |a| {
        futex::sys_set_robust_list(a[0], a[1])
    }),
    (nr::GET_ROBUST_LIST, "get_robust_list", |a| {
        futex::sys_get_robust_list(a[0], a[1], a[2])
    }),
    (nr::FUTEX, "futex", |a| {
        futex::sys_futex(a[0], a[1], a[2], a[3], a[4], a[5])
    }),
    (nr::CLOCK_NANOSLEEP, "clock_nanosleep", |a| {
        time::sys_clock_nanosleep(a[0], a[1], a[2], a[3])
    }),
    (nr::NANOSLEEP, "nanosleep", |a| {
        time::sys_nanosleep(a[0], a[1])
    }),
    (nr::CLOCK_GETTIME, "clock_gettime", |a| {
        time::sys_clock_gettime(a[0], a[1])
    }),
    (nr::SCHED_YIELD, "sched_yield", |_| {
        crate::sched::yield_now();
        Ok(0)
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
        signal::syscalls::sys_rt_sigaction(a[0], a[1], a[2], a[3])
    }),
    (nr::RT_SIGPROCMASK, "rt_sigprocmask", |a| {
        signal::syscalls::sys_rt_sigprocmask(a[0], a[1], a[2], a[3])
    }),
    (nr::RT_SIGRETURN, "rt_sigreturn", |_| {
        crate::arch::signal::sys_rt_sigreturn()
    }),
    (nr::UNAME, "uname", |a| sys_uname(a[0])),
    (nr::GETPID, "getpid", |_| Ok(current().tgid as i64)),
    (nr::GETPPID, "getppid", |_| Ok(sys_getppid())),
    (nr::GETUID, "getuid", |_| Ok(0)),
    (nr::GETEUID, "geteuid", |_| Ok(0)),
    (nr::GETGID, "getgid", |_| Ok(0)),
    (nr::GETEGID, "getegid", |_| Ok(0)),
    (nr::GETTID, "gettid", |_| Ok(current().pid as i64)),
    (nr::SYSINFO, "sysinfo", |a| sys_sysinfo(a[0])),
    (nr::BRK, "brk", |a| mm::mmap::sys_brk(a[0])),
    (nr::MUNMAP, "munmap", |a| mm::mmap::sys_munmap(a[0], a[1])),
    (nr::CLONE, "clone", |a| {
        fork::sys_clone(a[0], a[1], a[2], a[3], a[4])
    }),
    (nr::MMAP, "mmap", |a| {
        mm::mmap::sys_mmap(a[0], a[1], a[2], a[3], a[4], a[5])
    }),
    (nr::WAIT4, "wait4", |a| {
        exit::sys_wait4(a[0] as i64, a[1], a[2], a[3])
    }),
    (nr::CLONE3, "clone3", |a| fork::sys_clone3(a[0], a[1])),
    (nr::EXECVE, "execve", |a| {
        crate::exec::sys_execve(a[0], a[1], a[2])
    }),
    (nr::MPROTECT, "mprotect", |a| {
        mm::mmap::sys_mprotect(a[0], a[1], a[2])
    }),
    (nr::MADVISE, "madvise", |a| {
        mm::mmap::sys_madvise(a[0], a[1], a[2])
    }),
    (nr::PRLIMIT64, "prlimit64", |a| {
        sys_prlimit64(a[0], a[1], a[2], a[3])
    }),
    (nr::GETRANDOM, "getrandom", |a| {
        crate::random::sys_getrandom(a[0], a[1], a[2])
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

/// `write(fd, buf, count)` (Linux `ksys_write` / `vfs_write`): fds 1 and 2 are the
/// console. The fd first, then the whole buffer (`access_ok`, even for zero bytes),
/// then the count clamped to `MAX_RW_COUNT`, then the terminal's write.
fn sys_write(fd: u64, buf: u64, count: u64) -> SysResult {
    if fd != 1 && fd != 2 {
        return Err(EBADF);
    }
    // The whole count, before it is clamped: a buffer reaching past user space is
    // refused, not cut.
    access_ok(buf, count)?;
    let mut from = import_single_range(buf, count)?;
    crate::fs::tty_write(&mut from)
}

/// `writev(fd, iov, iovcnt)` (Linux `do_writev` / `vfs_writev`): the fd first, then
/// the whole vector read and checked ([`import_iovec`]), then the write, which writes
/// nothing for a total of zero.
fn sys_writev(fd: u64, iov: u64, iovcnt: u64) -> SysResult {
    if fd != 1 && fd != 2 {
        return Err(EBADF);
    }
    let mut from = import_iovec(iov, iovcnt)?;
    if from.count() == 0 {
        return Ok(0);
    }
    crate::fs::tty_write(&mut from)
}

/// `set_tid_address(tidptr)`: remember where to clear and wake at exit; returns the tid.
fn sys_set_tid_address(tidptr: u64) -> SysResult {
    let t = current();
    t.inner.lock().clear_child_tid = tidptr;
    Ok(t.pid as i64)
}

/// `getppid()`: the thread group id of the real parent; 0 for init.
fn sys_getppid() -> i64 {
    let me = current();
    // Threads share the leader's parent.
    let leader = if me.is_group_leader() {
        None
    } else {
        PID_TABLE.lock().find(me.tgid)
    };
    let parent = match &leader {
        Some(l) => l.inner.lock().parent.upgrade(),
        None => me.inner.lock().parent.upgrade(),
    };
    parent.map_or(0, |p| p.tgid as i64)
}

/// `uname(buf)`: six 65-byte fields.
fn sys_uname(buf: u64) -> SysResult {
    let fields = [
        "Linux",
        "forkos",
        "6.1.0-forkos",
        "#1 forkos",
        "aarch64",
        "(none)",
    ];
    let mut out = [0u8; 65 * 6];
    for (i, f) in fields.iter().enumerate() {
        out[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
    }
    copy_to_user(buf, &out)?;
    Ok(0)
}

/// `sysinfo(info)`: uptime, memory (free RAM is the page allocator's free count) and the
/// number of tasks.
fn sys_sysinfo(info: u64) -> SysResult {
    let page = forkos_lib::pgtable::PAGE_SIZE as u64;
    let mut words = [0u64; 14]; // struct sysinfo is 112 bytes on arm64
    words[0] = time::ktime_get_ns() / 1_000_000_000;
    words[4] = mm::page_alloc::nr_managed_pages() as u64 * page;
    words[5] = mm::page_alloc::nr_free_pages() as u64 * page;
    let procs = PID_TABLE.lock().count() as u64;
    words[10] = procs & 0xffff; // procs (u16) at offset 80
    words[13] = 1; // mem_unit at offset 104
    let bytes: alloc::vec::Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    copy_to_user(info, &bytes)?;
    Ok(0)
}

/// One resource limit (Linux `struct rlimit64`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

// SAFETY: two u64s, no padding.
unsafe impl crate::mm::uaccess::Pod for Rlimit {}

pub const RLIM_NLIMITS: usize = 16;
const RLIM_INFINITY: u64 = u64::MAX;
/// The stack's limit (Linux `RLIMIT_STACK`).
pub const RLIMIT_STACK: usize = 3;
const RLIMIT_NOFILE: usize = 7;
/// Linux's `sysctl_nr_open`: the highest hard limit on open files.
const NR_OPEN: u64 = 1 << 20;

const fn rl(cur: u64, max: u64) -> Rlimit {
    Rlimit { cur, max }
}

/// The limits init starts with, as Linux sets them (`INIT_RLIMITS`; the process and
/// pending-signal counts from `fork_init`, half the thread limit).
pub const INIT_RLIMITS: [Rlimit; RLIM_NLIMITS] = {
    const INF: u64 = RLIM_INFINITY;
    let half = crate::arch::memory::MAX_THREADS as u64 / 2;
    [
        rl(INF, INF),         // CPU
        rl(INF, INF),         // FSIZE
        rl(INF, INF),         // DATA
        rl(8 << 20, INF),     // STACK
        rl(0, INF),           // CORE
        rl(INF, INF),         // RSS
        rl(half, half),       // NPROC
        rl(1024, 4096),       // NOFILE
        rl(8 << 20, 8 << 20), // MEMLOCK
        rl(INF, INF),         // AS
        rl(INF, INF),         // LOCKS
        rl(half, half),       // SIGPENDING
        rl(819_200, 819_200), // MSGQUEUE
        rl(0, 0),             // NICE
        rl(0, 0),             // RTPRIO
        rl(INF, INF),         // RTTIME
    ]
};

/// `prlimit64(pid, resource, new, old)` (Linux `do_prlimit`): read and set a process's
/// resource limits; children inherit them. forkos records them (so programs that ask
/// see Linux's values) but enforces none of them yet.
fn sys_prlimit64(pid: u64, resource: u64, new: u64, old: u64) -> SysResult {
    // Linux's order: read the new limit, find the task, then check the resource and the
    // values (`do_prlimit`), then write the old one.
    let new = if new != 0 {
        Some(UserPtr::<Rlimit>::new(new).read()?)
    } else {
        None
    };
    let pid = pid as i32;
    let target = if pid == 0 {
        current_arc()
    } else {
        PID_TABLE
            .lock()
            .find(pid)
            .filter(|t| !t.kthread)
            .ok_or(ESRCH)?
    };
    let resource = resource as u32 as usize; // an unsigned int in Linux
    if resource >= RLIM_NLIMITS {
        return Err(EINVAL);
    }
    if let Some(r) = new {
        if r.cur > r.max {
            return Err(EINVAL);
        }
        if resource == RLIMIT_NOFILE && r.max > NR_OPEN {
            return Err(EPERM);
        }
    }
    let prev = {
        let mut s = target.signal.inner.lock();
        let prev = s.rlim[resource];
        if let Some(r) = new {
            s.rlim[resource] = r;
        }
        prev
    };
    if old != 0 {
        UserPtr::<Rlimit>::new(old).write(&prev)?;
    }
    Ok(0)
}
