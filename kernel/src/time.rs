//! Kernel time: the tick count (Linux `kernel/time/timer.c`, `jiffies`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::mm::uaccess::UserPtr;

/// Timer interrupts per second (Debian's arm64 Linux uses 250 too).
pub const HZ: u64 = 250;

/// Ticks since the timer started (Linux `jiffies`).
#[no_mangle]
pub static jiffies: AtomicU64 = AtomicU64::new(0);

/// Timer interrupts per jiffy (1/HZ s), and how many have come since the last jiffy.
static PER_JIFFY: AtomicU64 = AtomicU64::new(1);
static SINCE_JIFFY: AtomicU64 = AtomicU64::new(0);

/// The timer will interrupt `rate` times a second (at least [`HZ`]); returns how many
/// interrupts make a jiffy.
pub fn set_tick_rate(rate: u64) -> u64 {
    TICK_NSEC.store(NSEC_PER_SEC / rate.max(1), Ordering::Relaxed);
    let per_jiffy = (rate / HZ).max(1);
    PER_JIFFY.store(per_jiffy, Ordering::Relaxed);
    per_jiffy
}

/// One timer interrupt (Linux `tick_handle_periodic` -> `tick_periodic`): time moves in
/// jiffies, one every `PER_JIFFY` interrupts (like Linux's, jiffies may lag behind the
/// counter when interrupts were masked, but never jump: a sleep is never cut short);
/// the scheduler's tick may preempt the running task (`update_process_times` ->
/// `scheduler_tick`). Only the boot CPU's tick moves time ([`tick_do_timer_cpu`]).
pub fn tick_handle_periodic() {
    account_process_tick();
    if !tick_do_timer_cpu() {
        crate::sched::scheduler_tick();
        return;
    }
    if SINCE_JIFFY.fetch_add(1, Ordering::Relaxed) + 1 >= PER_JIFFY.load(Ordering::Relaxed) {
        SINCE_JIFFY.store(0, Ordering::Relaxed);
        jiffies.fetch_add(1, Ordering::Relaxed);
    }
    crate::sched::scheduler_tick();
}

/// Nanoseconds between two timer interrupts (Linux `TICK_NSEC`).
static TICK_NSEC: AtomicU64 = AtomicU64::new(NSEC_PER_SEC / HZ);

/// Charge the tick to the running task, as user or system time by where the interrupt
/// came from (Linux `account_process_tick`); the idle task's ticks are nobody's.
fn account_process_tick() {
    let cpu = crate::arch::percpu::this_cpu();
    let t = crate::task::current();
    // The time since this CPU's last tick, so that a tick that came late (a busy host
    // runs the guest unevenly) still charges all of it; at most a second.
    let now = ktime_get_ns();
    let last = LAST_TICK_NS[cpu.cpu].swap(now, Ordering::Relaxed);
    let ns = if last == 0 {
        TICK_NSEC.load(Ordering::Relaxed)
    } else {
        now.saturating_sub(last).min(NSEC_PER_SEC)
    };
    let stat = &KCPUSTAT[cpu.cpu];
    if t.pid == 0 {
        stat[CPUTIME_IDLE].fetch_add(ns, Ordering::Relaxed);
    } else if cpu.irq_from_user.load(Ordering::Relaxed) {
        t.utime.fetch_add(ns, Ordering::Relaxed);
        stat[CPUTIME_USER].fetch_add(ns, Ordering::Relaxed);
    } else {
        t.stime.fetch_add(ns, Ordering::Relaxed);
        stat[CPUTIME_SYSTEM].fetch_add(ns, Ordering::Relaxed);
    }
}

/// When each CPU's last tick was charged, in nanoseconds since boot.
#[allow(clippy::declare_interior_mutable_const)]
static LAST_TICK_NS: [AtomicU64; crate::arch::percpu::NR_CPUS] = {
    const Z: AtomicU64 = AtomicU64::new(0);
    [Z; crate::arch::percpu::NR_CPUS]
};

/// Index of user time in a CPU's [`KCPUSTAT`] (Linux `CPUTIME_USER`).
pub const CPUTIME_USER: usize = 0;
/// Index of system time (Linux `CPUTIME_SYSTEM`).
pub const CPUTIME_SYSTEM: usize = 1;
/// Index of idle time (Linux `CPUTIME_IDLE`).
pub const CPUTIME_IDLE: usize = 2;

/// Each CPU's time in user space, the kernel and idle, in nanoseconds (Linux
/// `kernel_cpustat`), for `/proc/stat` and `/proc/uptime`.
#[allow(clippy::declare_interior_mutable_const)]
pub static KCPUSTAT: [[AtomicU64; 3]; crate::arch::percpu::NR_CPUS] = {
    const Z: AtomicU64 = AtomicU64::new(0);
    const ROW: [AtomicU64; 3] = [Z, Z, Z];
    [ROW; crate::arch::percpu::NR_CPUS]
};

/// The CPU whose tick advances jiffies and runs the sleep timers
/// (Linux `tick_do_timer_cpu`): the boot CPU. Other CPUs' ticks only do the scheduler's
/// per-CPU work.
const TICK_DO_TIMER_CPU: usize = 0;

/// Is this the CPU that keeps time?
pub fn tick_do_timer_cpu() -> bool {
    crate::arch::percpu::smp_processor_id() == TICK_DO_TIMER_CPU
}

/// Ticks so far.
pub fn get_jiffies() -> u64 {
    jiffies.load(Ordering::Relaxed)
}

pub use forkos_lib::uapi::time::Timespec;

// SAFETY: `struct timespec` is two integers, no padding.
unsafe impl crate::mm::uaccess::Pod for Timespec {}

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Nanoseconds since boot, from the virtual counter.
pub fn ktime_get_ns() -> u64 {
    let freq = crate::drivers::arch_timer::frequency().max(1);
    let c = crate::drivers::arch_timer::counter();
    // Whole seconds, then the rest: the same floor as `c * 10^9 / freq`, in 64-bit
    // divisions (the rest times 10^9 fits while freq < 18 GHz), not a 128-bit one.
    (c / freq) * NSEC_PER_SEC + (c % freq) * NSEC_PER_SEC / freq
}

/// A relative timespec as ticks, rounded up (a sleep never ends early).
pub fn timespec_to_ticks(ts: &Timespec) -> u64 {
    let ns = (ts.tv_sec as u64)
        .saturating_mul(NSEC_PER_SEC)
        .saturating_add(ts.tv_nsec as u64);
    ns.div_ceil(NSEC_PER_SEC / HZ)
}

/// An absolute time on CLOCK_MONOTONIC (or REALTIME, which forkos starts at 0 too) as
/// ticks from now.
pub fn abs_timespec_to_ticks(ts: &Timespec, _realtime: bool) -> u64 {
    let target = (ts.tv_sec as u64)
        .saturating_mul(NSEC_PER_SEC)
        .saturating_add(ts.tv_nsec as u64);
    target
        .saturating_sub(ktime_get_ns())
        .div_ceil(NSEC_PER_SEC / HZ)
}

fn valid(ts: &Timespec) -> bool {
    ts.tv_sec >= 0 && (0..NSEC_PER_SEC as i64).contains(&ts.tv_nsec)
}

/// What an interrupted relative sleep leaves for `restart_syscall` (Linux
/// `restart_block.nanosleep`): when it ends, and where the time left goes.
#[derive(Clone, Copy, Default, Debug)]
pub enum RestartBlock {
    /// Nothing to restart (Linux `do_no_restart_syscall`).
    #[default]
    None,
    Nanosleep {
        deadline_ns: u64,
        rmtp: UserPtr<Timespec>,
    },
}

/// Sleep until `deadline_ns` (Linux `do_nanosleep`): interrupted, the time left goes
/// to `rmtp` (`EFAULT` if it cannot be written, Linux `nanosleep_copyout`) and the task
/// keeps a restart block: `ERESTART_RESTARTBLOCK`, which becomes `EINTR` if a handler
/// runs and otherwise `restart_syscall`, which sleeps on for what was left.
fn do_nanosleep(deadline_ns: u64, rmtp: UserPtr<Timespec>) -> crate::errno::SysResult {
    let ticks = deadline_ns
        .saturating_sub(ktime_get_ns())
        .div_ceil(NSEC_PER_SEC / HZ);
    let left = crate::sched::wait::sleep_ticks(ticks);
    if left > 0 && interrupted() {
        if !rmtp.is_null() {
            let r = deadline_ns.saturating_sub(ktime_get_ns());
            rmtp.write(&Timespec {
                tv_sec: (r / NSEC_PER_SEC) as i64,
                tv_nsec: (r % NSEC_PER_SEC) as i64,
            })?;
        }
        crate::task::current().inner.lock().restart_block =
            RestartBlock::Nanosleep { deadline_ns, rmtp };
        return Err(crate::signal::ERESTART_RESTARTBLOCK);
    }
    Ok(0)
}

/// `restart_syscall()` (Linux `sys_restart_syscall`): finish what the task's restart
/// block describes (Linux `hrtimer_nanosleep_restart`); with none, `EINTR` (Linux
/// `do_no_restart_syscall`).
pub fn sys_restart_syscall() -> crate::errno::SysResult {
    let block = crate::task::current().inner.lock().restart_block;
    match block {
        RestartBlock::None => Err(crate::errno::EINTR),
        RestartBlock::Nanosleep { deadline_ns, rmtp } => do_nanosleep(deadline_ns, rmtp),
    }
}

/// `nanosleep(req, rem)` (Linux `hrtimer_nanosleep`), at tick resolution: the sleep
/// lasts at least as long as asked.
pub fn sys_nanosleep(req: UserPtr<Timespec>, rem: UserPtr<Timespec>) -> crate::errno::SysResult {
    use crate::errno::*;
    let ts = req.read()?;
    if !valid(&ts) {
        return Err(EINVAL);
    }
    let want = (ts.tv_sec as u64)
        .saturating_mul(NSEC_PER_SEC)
        .saturating_add(ts.tv_nsec as u64);
    do_nanosleep(ktime_get_ns().saturating_add(want), rem)
}

/// `clock_nanosleep(clock, flags, req, rem)` (Linux `common_nsleep`): a relative sleep
/// as `nanosleep`, or with `TIMER_ABSTIME` until the clock reads `req` (forkos's
/// realtime and monotonic clocks both count from boot, so one deadline serves both).
pub fn sys_clock_nanosleep(
    clock: u64,
    flags: u64,
    req: UserPtr<Timespec>,
    rem: UserPtr<Timespec>,
) -> crate::errno::SysResult {
    use crate::errno::*;
    use forkos_lib::uapi::time::TIMER_ABSTIME;
    let kind = clock_kind(clock as i32)?;
    if kind == ClockKind::NoSleep || kind == ClockKind::Fd {
        return Err(EOPNOTSUPP);
    }
    if kind == ClockKind::OwnThreadCpu || kind == ClockKind::NoTask {
        // Sleeping on one's own thread's CPU time would never end (Linux refuses it in
        // `posix_cpu_nsleep`, after reading the request).
        req.read()?;
        return Err(EINVAL);
    }
    // The alarm clocks' sleep takes no flag but TIMER_ABSTIME (Linux
    // `alarm_timer_nsleep`, after the request is read).
    if matches!(clock as i32, 8 | 9) && flags & !TIMER_ABSTIME != 0 {
        req.read()?;
        return Err(EINVAL);
    }
    if flags & TIMER_ABSTIME == 0 {
        return sys_nanosleep(req, rem);
    }
    let ts = req.read()?;
    if !valid(&ts) {
        return Err(EINVAL);
    }
    let deadline = (ts.tv_sec as u64)
        .saturating_mul(NSEC_PER_SEC)
        .saturating_add(ts.tv_nsec as u64);
    let ticks = deadline
        .saturating_sub(ktime_get_ns())
        .div_ceil(NSEC_PER_SEC / HZ);
    let left = crate::sched::wait::sleep_ticks(ticks);
    if left > 0 && interrupted() {
        // Linux: an absolute sleep is restarted as it was asked (`-ERESTARTNOHAND`).
        return Err(crate::signal::ERESTARTNOHAND);
    }
    Ok(0)
}

/// What a clock id names (Linux `clockid_to_kclock` and the CPU-clock encoding of
/// negative ids: `~pid << 3 | perthread << 2 | which`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClockKind {
    /// A clock one can read and sleep on. forkos has one time base (since boot), so
    /// realtime, monotonic, boot-time and alarm clocks read the same; CPU-time clocks
    /// are approximated by it too.
    Sleepable,
    /// Readable only: the thread CPU clock, MONOTONIC_RAW and the coarse clocks.
    NoSleep,
    /// The calling thread's own CPU-time clock: readable; a sleep on it would never end.
    OwnThreadCpu,
    /// A CPU-time clock that names no task (or no valid kind of CPU time).
    NoTask,
    /// A clock file descriptor (none exist here).
    Fd,
}

fn clock_kind(id: i32) -> Result<ClockKind, crate::errno::Errno> {
    match id {
        0 | 1 | 2 | 7 | 8 | 9 | 11 => return Ok(ClockKind::Sleepable),
        3..=6 => return Ok(ClockKind::NoSleep),
        // 10 (SGI_CYCLE) is gone; 12.. never were.
        i if i >= 0 => return Err(crate::errno::EINVAL),
        _ => {}
    }
    if id & 7 == 3 {
        return Ok(ClockKind::Fd);
    }
    if id & 3 == 3 {
        return Ok(ClockKind::NoTask);
    }
    let pid = !(id >> 3);
    let thread = id & 4 != 0;
    let me = &crate::task::current();
    if thread && (pid == 0 || pid == me.pid) {
        return Ok(ClockKind::OwnThreadCpu);
    }
    // A thread's clock only within one's own process; a process's clock by its pid.
    let exists = pid == 0
        || crate::pid::PID_TABLE.lock().find(pid).is_some_and(|t| {
            if thread {
                t.tgid == me.tgid
            } else {
                t.is_group_leader()
            }
        });
    Ok(if exists {
        ClockKind::Sleepable
    } else {
        ClockKind::NoTask
    })
}

fn interrupted() -> bool {
    crate::task::current().signal_pending()
}

/// `clock_gettime(clock, tp)`: CLOCK_REALTIME (0) starts at the epoch at boot, as forkos
/// has no RTC driver; the monotonic clocks count from boot.
pub fn sys_clock_gettime(clock: u64, tp: UserPtr<Timespec>) -> crate::errno::SysResult {
    if matches!(clock_kind(clock as i32)?, ClockKind::Fd | ClockKind::NoTask) {
        return Err(crate::errno::EINVAL);
    }
    let ns = ktime_get_ns();
    let ts = Timespec {
        tv_sec: (ns / NSEC_PER_SEC) as i64,
        tv_nsec: (ns % NSEC_PER_SEC) as i64,
    };
    tp.write(&ts)?;
    Ok(0)
}
