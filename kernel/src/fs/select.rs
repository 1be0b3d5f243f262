//! Waiting for several files at once (Linux `fs/select.c`): `ppoll`, `pselect6`.
//!
//! [`do_poll`] asks each file's [`FileOperations::poll`](super::file::FileOperations::poll)
//! what it is ready for, and sleeps until one is ready, the time is up or a signal
//! comes. Linux puts the poller on every file's own wait queue (`poll_wait`); forkos has
//! one queue for all pollers, [`POLL_WAIT`], which every change of a pipe wakes
//! ([`wake_pollers`]), and each woken poller asks its files again. The queue exists
//! while someone polls, so that no memory stays behind once nobody does.

use alloc::vec::Vec;

use super::fdtable::{current_files, fget};
use super::open::nofile_limit;
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::{LazyWaitQueue, WaitError, WaitQueue};
use crate::signal::{set_current_blocked, ERESTARTNOHAND};
use crate::task::current;
use crate::time::{get_jiffies, ktime_get_ns, timespec_to_ticks, Timespec};
use forkos_lib::uapi::poll::*;

/// The queue of every task sleeping in `ppoll` or `pselect6`.
static POLL_WAIT: LazyWaitQueue = LazyWaitQueue::new();

/// A file changed what it is ready for: let every poller look again.
pub fn wake_pollers() {
    POLL_WAIT.wake_up_all();
}

// SAFETY: `struct pollfd` is three integers, no padding.
unsafe impl crate::mm::uaccess::Pod for PollFd {}

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// The events of one entry (Linux `do_pollfd`): none for a negative descriptor,
/// `POLLNVAL` for one not open, else what the file is ready for among the events asked
/// and `POLLERR | POLLHUP`, which are always reported.
fn do_pollfd(pfd: &PollFd) -> u32 {
    if pfd.fd < 0 {
        return 0;
    }
    let Ok(f) = fget(pfd.fd as u64) else {
        return POLLNVAL;
    };
    let filter = (pfd.events as u16 as u32) | POLLERR | POLLHUP;
    f.f_op.poll(&f) & filter
}

/// Ask every entry; how many have events (Linux `do_poll`'s scan).
fn scan(fds: &mut [PollFd]) -> usize {
    let mut count = 0;
    for pfd in fds.iter_mut() {
        let mask = do_pollfd(pfd);
        pfd.revents = mask as u16 as i16;
        count += (mask != 0) as usize;
    }
    count
}

/// Scan until an entry is ready, `deadline` (a tick) passes, or a signal comes (Linux
/// `do_poll`): the count of ready entries, or `-ERESTARTNOHAND`.
fn do_poll(fds: &mut [PollFd], deadline: Option<u64>) -> SysResult {
    let mut timed_out = deadline == Some(0);
    loop {
        let count = scan(fds);
        if count > 0 || timed_out {
            return Ok(count as i64);
        }
        if current().signal_pending() {
            return Err(ERESTARTNOHAND);
        }
        let left = deadline.map(|d| d.saturating_sub(get_jiffies()));
        if left == Some(0) {
            timed_out = true;
            continue;
        }
        let ready = || fds.iter().any(|p| do_pollfd(p) != 0);
        let r = POLL_WAIT.wait_event(ready, left);
        if r == Err(WaitError::TimedOut) {
            timed_out = true;
        }
    }
}

/// The deadline a user timeout asks for, checked (Linux `poll_select_set_timeout`):
/// `None` for no timeout, `EINVAL` for a negative or unnormalised one.
fn poll_select_set_timeout(tsp: UserPtr<Timespec>) -> Result<Option<u64>, Errno> {
    if tsp.is_null() {
        return Ok(None);
    }
    let ts = tsp.read()?;
    if ts.tv_sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&ts.tv_nsec) {
        return Err(EINVAL);
    }
    Ok(Some(timeout_end(&ts)))
}

/// Block the signals of the user's mask for the wait, keeping the old mask to restore
/// (Linux `set_user_sigmask`, with `TIF_RESTORE_SIGMASK`'s saved mask).
fn set_user_sigmask(sigmask: UserPtr<u64>, sigsetsize: u64) -> Result<(), Errno> {
    if sigmask.is_null() {
        return Ok(());
    }
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    set_blocked_saving_old(sigmask.read()?);
    Ok(())
}

/// Block `set`, keeping the old mask for the signal frame or the syscall's return to
/// restore (Linux: `current->saved_sigmask = current->blocked; set_current_blocked()`).
fn set_blocked_saving_old(set: u64) {
    let t = &current();
    let old = t.inner.lock().blocked;
    t.inner.lock().saved_sigmask = Some(old);
    set_current_blocked(set);
}

/// `ppoll(fds, nfds, tsp, sigmask, sigsetsize)` (Linux `sys_ppoll`): the timeout is
/// checked (`EINVAL`), then the mask, which replaces the blocked signals for the wait;
/// more entries than `RLIMIT_NOFILE` are `EINVAL`. The time left is written back to
/// `*tsp` (unless it was zero); a signal ends the wait with `-ERESTARTNOHAND`, which
/// restarts the call with that time when no handler runs, and the handler's frame keeps
/// the old mask.
pub fn sys_ppoll(
    ufds: UserPtr<PollFd>,
    nfds: u64,
    tsp: UserPtr<Timespec>,
    sigmask: UserPtr<u64>,
    sigsetsize: u64,
) -> SysResult {
    let end_ns = poll_select_set_timeout(tsp)?;
    set_user_sigmask(sigmask, sigsetsize)?;
    let ret = do_sys_poll(ufds, nfds, end_ns);
    poll_select_finish(end_ns, tsp, ret)
}

/// When a relative timeout ends, in ns of the clock; 0 for a zero timeout, which polls
/// once (Linux `poll_select_set_timeout`).
fn timeout_end(ts: &Timespec) -> u64 {
    if ts.tv_sec == 0 && ts.tv_nsec == 0 {
        return 0;
    }
    ktime_get_ns().saturating_add(
        (ts.tv_sec as u64)
            .saturating_mul(NSEC_PER_SEC)
            .saturating_add(ts.tv_nsec as u64),
    )
}

/// The tick a wait ends at: none without a timeout, 0 for a zero one, else at least
/// one tick from now.
fn deadline_of(end_ns: Option<u64>) -> Option<u64> {
    match end_ns {
        None => None,
        Some(0) => Some(0),
        Some(end) => {
            let left = end.saturating_sub(ktime_get_ns());
            let ts = Timespec {
                tv_sec: (left / NSEC_PER_SEC) as i64,
                tv_nsec: (left % NSEC_PER_SEC) as i64,
            };
            Some(get_jiffies() + timespec_to_ticks(&ts).max(1))
        }
    }
}

/// Copy the entries in, poll, copy the events out (Linux `do_sys_poll`).
fn do_sys_poll(ufds: UserPtr<PollFd>, nfds: u64, end_ns: Option<u64>) -> SysResult {
    if nfds > nofile_limit() as u64 {
        return Err(EINVAL);
    }
    let nfds = nfds as usize;
    let mut fds = Vec::new();
    fds.try_reserve_exact(nfds).map_err(|_| ENOMEM)?;
    for i in 0..nfds {
        fds.push(UserPtr::<PollFd>::new(ufds.addr() + 8 * i as u64).read()?);
    }
    let deadline = deadline_of(end_ns);
    let count = do_poll(&mut fds, deadline)?;
    for (i, pfd) in fds.iter().enumerate() {
        UserPtr::<i16>::new(ufds.addr() + 8 * i as u64 + 6).write(&pfd.revents)?;
    }
    Ok(count)
}

/// Put the mask back unless a signal is to be taken with it, and write the time left
/// (Linux `poll_select_finish`); a time that cannot be written turns a restart into
/// `EINTR`.
fn poll_select_finish(end_ns: Option<u64>, tsp: UserPtr<Timespec>, ret: SysResult) -> SysResult {
    if ret != Err(ERESTARTNOHAND) {
        let t = &current();
        let saved = t.inner.lock().saved_sigmask.take();
        if let Some(set) = saved {
            set_current_blocked(set);
        }
    }
    let Some(end) = end_ns else { return ret };
    if end == 0 {
        return ret;
    }
    let left = end.saturating_sub(ktime_get_ns());
    let rem = Timespec {
        tv_sec: (left / NSEC_PER_SEC) as i64,
        tv_nsec: (left % NSEC_PER_SEC) as i64,
    };
    if tsp.write(&rem).is_err() && ret == Err(ERESTARTNOHAND) {
        return Err(EINTR);
    }
    ret
}

/// `rt_sigsuspend(mask, sigsetsize)` (Linux `sigsuspend`): wait with `mask` blocked
/// until a signal is taken; the handler's frame keeps the old mask. Always
/// `-ERESTARTNOHAND`, which becomes `EINTR` when a handler runs.
pub fn sys_rt_sigsuspend(mask: UserPtr<u64>, sigsetsize: u64) -> SysResult {
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    set_blocked_saving_old(mask.read()?);
    let wq = WaitQueue::new();
    while wq.wait_event(|| false, None).is_ok() {}
    Err(ERESTARTNOHAND)
}

/// `POLL*` events that make a descriptor readable, writable or exceptional to `select`
/// (Linux `POLLIN_SET`, `POLLOUT_SET`, `POLLEX_SET`).
const POLLIN_SET: u32 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET: u32 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET: u32 = POLLPRI;

/// The three descriptor sets of a `select`, one bit a descriptor (Linux `fd_set_bits`).
struct FdSets {
    sets: [Vec<u64>; 3],
}

impl FdSets {
    fn bit(set: &[u64], fd: usize) -> bool {
        set[fd / 64] & (1 << (fd % 64)) != 0
    }
}

/// Read a set of `n` bits, or none (Linux `get_fd_set`).
fn get_fd_set(p: UserPtr<u64>, n: usize) -> Result<Vec<u64>, Errno> {
    let words = n.div_ceil(64);
    let mut v = Vec::new();
    v.try_reserve_exact(words).map_err(|_| ENOMEM)?;
    for i in 0..words {
        v.push(if p.is_null() {
            0
        } else {
            UserPtr::<u64>::new(p.addr() + 8 * i as u64).read()?
        });
    }
    Ok(v)
}

/// Ask every descriptor in the sets (Linux `do_select`'s scan): the result sets and how
/// many bits they hold, or `EBADF` for a descriptor that is not open.
fn select_scan(n: usize, want: &FdSets) -> Result<(FdSets, usize), Errno> {
    let mut res = FdSets {
        sets: [
            alloc::vec![0; n.div_ceil(64)],
            alloc::vec![0; n.div_ceil(64)],
            alloc::vec![0; n.div_ceil(64)],
        ],
    };
    let mut count = 0;
    for fd in 0..n {
        let asked = [0, 1, 2].map(|i| FdSets::bit(&want.sets[i], fd));
        if !asked.iter().any(|&b| b) {
            continue;
        }
        let f = fget(fd as u64)?;
        let mask = f.f_op.poll(&f);
        for (i, set) in [POLLIN_SET, POLLOUT_SET, POLLEX_SET]
            .into_iter()
            .enumerate()
        {
            if asked[i] && mask & set != 0 {
                res.sets[i][fd / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    Ok((res, count))
}

/// `pselect6(n, inp, outp, exp, tsp, sig)` (Linux `do_pselect` + `core_sys_select` +
/// `do_select`): the sets are read whole (`n` cut to the descriptor table's size), a
/// descriptor in them that is not open is `EBADF`, and the sets are written back with
/// only the ready bits; the timeout and the `{mask, size}` pair of `sig` as `ppoll`'s.
pub fn sys_pselect6(
    n: u64,
    sets: [UserPtr<u64>; 3],
    tsp: UserPtr<Timespec>,
    sig: UserPtr<[u64; 2]>,
) -> SysResult {
    let (mask, masksize) = if sig.is_null() {
        (UserPtr::<u64>::new(0), 0)
    } else {
        let [p, size] = sig.read()?;
        (UserPtr::<u64>::new(p), size)
    };
    let end_ns = poll_select_set_timeout(tsp)?;
    set_user_sigmask(mask, masksize)?;
    let ret = core_sys_select(n as i32, sets, end_ns);
    poll_select_finish(end_ns, tsp, ret)
}

/// The sets in, the wait, the sets out (Linux `core_sys_select`).
fn core_sys_select(n: i32, sets: [UserPtr<u64>; 3], end_ns: Option<u64>) -> SysResult {
    if n < 0 {
        return Err(EINVAL);
    }
    let max_fds = current_files()
        .fdt
        .lock()
        .fd
        .len()
        .next_power_of_two()
        .max(64);
    let n = (n as usize).min(max_fds);
    let want = FdSets {
        sets: [
            get_fd_set(sets[0], n)?,
            get_fd_set(sets[1], n)?,
            get_fd_set(sets[2], n)?,
        ],
    };
    let deadline = deadline_of(end_ns);
    let mut timed_out = deadline == Some(0);
    let res = loop {
        let (res, count) = select_scan(n, &want)?;
        if count > 0 || timed_out {
            break res;
        }
        if current().signal_pending() {
            return Err(ERESTARTNOHAND);
        }
        let left = deadline.map(|d| d.saturating_sub(get_jiffies()));
        if left == Some(0) {
            timed_out = true;
            continue;
        }
        let ready = || select_scan(n, &want).map_or(true, |(_, c)| c > 0);
        let r = POLL_WAIT.wait_event(ready, left);
        if r == Err(WaitError::TimedOut) {
            timed_out = true;
        }
    };
    let mut count = 0;
    for (i, set) in res.sets.iter().enumerate() {
        count += set.iter().map(|w| w.count_ones() as i64).sum::<i64>();
        if !sets[i].is_null() {
            for (k, w) in set.iter().enumerate() {
                UserPtr::<u64>::new(sets[i].addr() + 8 * k as u64).write(w)?;
            }
        }
    }
    Ok(count)
}
