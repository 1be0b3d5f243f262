//! Waiting for several files at once (Linux `fs/select.c`): `ppoll`.
//!
//! [`do_poll`] asks each file's [`FileOperations::poll`](super::file::FileOperations::poll)
//! what it is ready for, and sleeps until one is ready, the time is up or a signal
//! comes. Linux puts the poller on every file's own wait queue (`poll_wait`); forkos has
//! one queue for all pollers, [`POLL_WAIT`], which every change of a pipe wakes
//! ([`wake_pollers`]), and each woken poller asks its files again. The queue exists
//! while someone polls, so that no memory stays behind once nobody does.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::fdtable::fget;
use super::open::nofile_limit;
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::{WaitError, WaitQueue};
use crate::signal::{set_current_blocked, ERESTARTNOHAND};
use crate::sync::IrqSpinLock;
use crate::task::current;
use crate::time::{get_jiffies, ktime_get_ns, timespec_to_ticks, Timespec};
use forkos_lib::uapi::poll::*;

/// The queue of every task sleeping in `ppoll`, and how many are polling.
static POLL_WAIT: IrqSpinLock<(Option<Arc<WaitQueue>>, usize)> = IrqSpinLock::new((None, 0));

/// A file changed what it is ready for: let every poller look again.
pub fn wake_pollers() {
    let q = POLL_WAIT.lock().0.clone();
    if let Some(q) = q {
        q.wake_up_all();
    }
}

/// Join the pollers.
fn poll_wait_get() -> Arc<WaitQueue> {
    let mut g = POLL_WAIT.lock();
    g.1 += 1;
    g.0.get_or_insert_with(|| Arc::new(WaitQueue::new()))
        .clone()
}

/// Leave the pollers; the last one frees the queue.
fn poll_wait_put(q: Arc<WaitQueue>) {
    let last = {
        let mut g = POLL_WAIT.lock();
        g.1 -= 1;
        if g.1 == 0 {
            g.0.take()
        } else {
            None
        }
    };
    drop(q);
    drop(last);
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
        let q = poll_wait_get();
        let r = q.wait_event(ready, left);
        poll_wait_put(q);
        if r == Err(WaitError::TimedOut) {
            timed_out = true;
        }
    }
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
    let mut end_ns = None;
    if !tsp.is_null() {
        let ts = tsp.read()?;
        if ts.tv_sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&ts.tv_nsec) {
            return Err(EINVAL);
        }
        end_ns = Some(if ts.tv_sec == 0 && ts.tv_nsec == 0 {
            0
        } else {
            ktime_get_ns().saturating_add(
                (ts.tv_sec as u64)
                    .saturating_mul(NSEC_PER_SEC)
                    .saturating_add(ts.tv_nsec as u64),
            )
        });
    }
    if !sigmask.is_null() {
        if sigsetsize != 8 {
            return Err(EINVAL);
        }
        let set = sigmask.read()?;
        let t = &current();
        let old = t.inner.lock().blocked;
        t.inner.lock().saved_sigmask = Some(old);
        set_current_blocked(set);
    }
    let ret = do_sys_poll(ufds, nfds, end_ns);
    poll_select_finish(end_ns, tsp, ret)
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
    let deadline = match end_ns {
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
    };
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
    let set = mask.read()?;
    let t = &current();
    let old = t.inner.lock().blocked;
    t.inner.lock().saved_sigmask = Some(old);
    set_current_blocked(set);
    let wq = WaitQueue::new();
    while wq.wait_event(|| false, None).is_ok() {}
    Err(ERESTARTNOHAND)
}
