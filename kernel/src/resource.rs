//! Resource limits (Linux `include/uapi/linux/resource.h`,
//! `include/asm-generic/resource.h`): the values a process starts with and inherits.
//! They live in the thread group's signal state (`SignalInner::rlim`, as in Linux's
//! `signal_struct`); `prlimit64` reads and sets them ([`crate::sys`]).

/// One resource limit (Linux `struct rlimit64`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

// SAFETY: two u64s, no padding.
unsafe impl crate::mm::uaccess::Pod for Rlimit {}

/// How many limits there are (Linux `RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;
/// No limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// The resources forkos acts on (the others are kept and inherited only).
/// The heap, which `brk` grows (Linux counts all private writable memory).
pub const RLIMIT_DATA: usize = 2;
/// The stack, which grows on demand, and `execve`'s room for arguments.
pub const RLIMIT_STACK: usize = 3;
/// Open files (checked by `prlimit64` against [`NR_OPEN`]).
pub const RLIMIT_NOFILE: usize = 7;

/// Linux's `sysctl_nr_open`: the highest hard limit on open files.
pub const NR_OPEN: u64 = 1 << 20;

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
