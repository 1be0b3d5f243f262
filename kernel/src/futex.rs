//! Fast user-space mutexes: `FUTEX_WAIT` and `FUTEX_WAKE` (Linux `kernel/futex/`).
//!
//! A futex is a 32-bit word in user memory. `FUTEX_WAIT` sleeps if the word still holds
//! the expected value (checked under the futex lock, so a concurrent wake cannot be
//! missed); `FUTEX_WAKE` wakes sleepers on the same word. Waiters are keyed as Linux keys
//! them: by (address space, address) for private memory, by (shared object, offset) for
//! `MAP_SHARED` memory, so related processes meet on the same key.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::{WaitError, WaitQueue};
use crate::sync::IrqSpinLock;
use crate::task::current;
use crate::time::{timespec_to_ticks, Timespec};

use forkos_lib::uapi::futex::*;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// Identifies one futex word across address spaces (Linux `union futex_key`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct FutexKey(u64, u64);

struct Waiter {
    key: FutexKey,
    bitset: u32,
    woken: AtomicBool,
    wq: WaitQueue,
}

/// Every sleeping waiter (Linux hashes them into buckets; a list does for now).
static WAITERS: IrqSpinLock<Vec<Arc<Waiter>>> = IrqSpinLock::new(Vec::new());

/// The key of the futex word at `uaddr` in the current address space (Linux
/// `get_futex_key`).
fn futex_key(uaddr: u64) -> Result<FutexKey, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    let mm = current().inner.lock().mm.clone().ok_or(EFAULT)?;
    let inner = mm.inner.lock();
    let vma = inner.find_vma(uaddr).ok_or(EFAULT)?;
    Ok(match &vma.shared {
        Some((obj, pgoff)) => {
            FutexKey(Arc::as_ptr(obj) as u64, (pgoff << 12) + (uaddr - vma.start))
        }
        None => FutexKey(Arc::as_ptr(&mm) as u64, uaddr),
    })
}

fn futex_wait(uaddr: u64, val: u32, timeout: Option<u64>, bitset: u32) -> Result<i64, Errno> {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let key = futex_key(uaddr)?;
    let waiter = Arc::new(Waiter {
        key,
        bitset,
        woken: AtomicBool::new(false),
        wq: WaitQueue::new(),
    });
    {
        let mut waiters = WAITERS.lock();
        // Read the word with the futex lock held: a waker changes it before taking the
        // lock, so either we see the new value or it sees us queued.
        let cur = UserPtr::<u32>::new(uaddr).read()?;
        if cur != val {
            return Err(EAGAIN);
        }
        waiters.push(waiter.clone());
    }
    let r = waiter
        .wq
        .wait_event(|| waiter.woken.load(Ordering::Acquire), timeout);
    WAITERS.lock().retain(|w| !Arc::ptr_eq(w, &waiter));
    match r {
        Ok(()) => Ok(0),
        Err(_) if waiter.woken.load(Ordering::Acquire) => Ok(0),
        Err(WaitError::TimedOut) => Err(ETIMEDOUT),
        Err(WaitError::Interrupted) => Err(EINTR),
    }
}

fn wake_key(key: FutexKey, n: usize, bitset: u32) -> usize {
    let woken: Vec<Arc<Waiter>> = {
        let mut waiters = WAITERS.lock();
        let mut out = Vec::new();
        waiters.retain(|w| {
            if out.len() < n && w.key == key && w.bitset & bitset != 0 {
                out.push(w.clone());
                false
            } else {
                true
            }
        });
        out
    };
    for w in &woken {
        w.woken.store(true, Ordering::Release);
        w.wq.wake_up_all();
    }
    woken.len()
}

/// Wake up to `n` waiters on the word at `uaddr` (Linux `futex_wake`); used by
/// `CLONE_CHILD_CLEARTID` at thread exit too.
pub fn futex_wake(uaddr: u64, n: usize) -> usize {
    match futex_key(uaddr) {
        Ok(key) => wake_key(key, n, FUTEX_BITSET_MATCH_ANY),
        Err(_) => 0,
    }
}

/// `futex(uaddr, op, val, timeout, uaddr2, val3)` for WAIT, WAKE and their BITSET forms.
pub fn sys_futex(uaddr: u64, op: u64, val: u64, utime: u64, _uaddr2: u64, val3: u64) -> SysResult {
    let op = op as i32; // an int in Linux
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET {
        return Err(ENOSYS);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let timeout = if utime != 0 {
                let ts = UserPtr::<Timespec>::new(utime).read()?;
                if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                    return Err(EINVAL);
                }
                Some(if cmd == FUTEX_WAIT {
                    timespec_to_ticks(&ts)
                } else {
                    // BITSET timeouts are absolute on the chosen clock.
                    crate::time::abs_timespec_to_ticks(&ts, op & FUTEX_CLOCK_REALTIME != 0)
                })
            } else {
                None
            };
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3 as u32
            };
            futex_wait(uaddr, val as u32, timeout, bitset)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3 as u32
            };
            if bitset == 0 {
                return Err(EINVAL);
            }
            let key = futex_key(uaddr)?;
            Ok(wake_key(key, val as u32 as usize, bitset) as i64)
        }
        _ => Err(ENOSYS),
    }
}
