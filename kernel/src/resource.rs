//! Resource limits (Linux `include/uapi/linux/resource.h`,
//! `include/asm-generic/resource.h`): the values a process starts with and inherits.
//! They live in the thread group's signal state (`SignalInner::rlim`, as in Linux's
//! `signal_struct`); `prlimit64` reads and sets them ([`crate::sys`]).

/// One resource limit (`struct rlimit64`), the resource numbers and `RLIM_INFINITY`.
/// forkos acts on three of the resources and keeps and inherits the others only:
/// `RLIMIT_DATA`, the heap, which `brk` grows (Linux counts all private writable
/// memory); `RLIMIT_STACK`, the stack, which grows on demand, and `execve`'s room for
/// arguments; `RLIMIT_NOFILE`, open files (checked by `prlimit64` against [`NR_OPEN`]).
pub use forkos_lib::uapi::resource::{
    Rlimit, RLIMIT_DATA, RLIMIT_NOFILE, RLIMIT_STACK, RLIM_INFINITY, RLIM_NLIMITS,
};

// SAFETY: `struct rlimit64` is two u64s, no padding.
unsafe impl crate::mm::uaccess::Pod for Rlimit {}

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
