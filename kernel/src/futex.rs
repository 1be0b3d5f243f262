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
use crate::mm::memory::Access;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::{WaitError, WaitQueue};
use crate::sync::{lock_class, IrqSpinLock};
use crate::task::current;
use crate::time::{timespec_to_ticks, Timespec};

use forkos_lib::uapi::futex::*;

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
static WAITERS: IrqSpinLock<Vec<Arc<Waiter>>, { lock_class::FUTEX }> = IrqSpinLock::new(Vec::new());

/// Make room for `n` waiters at boot, so that the list never grows later.
pub fn reserve_waiters(n: usize) {
    WAITERS.lock().reserve_exact(n);
}

/// The key of the futex word at `uaddr` in the current address space (Linux
/// `get_futex_key` with `FUTEX_READ`: every operation here only reads the word):
/// `EINVAL` if misaligned, `EFAULT` outside user space. A private futex is just an
/// address of this mm (Linux does not even look at the memory); a shared one is named
/// by what the page is, so that processes mapping the same object meet, and the page
/// must be there: Linux faults it in for writing, else for reading, and refuses
/// (`EFAULT`) a page it cannot get, or a read-only page of private memory, which "will
/// never change".
fn futex_key(uaddr: UserPtr<u32>, private: bool) -> Result<FutexKey, Errno> {
    let uaddr = uaddr.addr();
    if !uaddr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    crate::mm::uaccess::access_ok(uaddr, 4)?;
    let mm = current().get_task_mm().ok_or(EFAULT)?;
    if private {
        return Ok(FutexKey(Arc::as_ptr(&mm) as u64, uaddr));
    }
    let mut locked = mm.lock();
    let writable = locked.handle_mm_fault(uaddr, Access::Write).is_ok();
    if !writable && locked.handle_mm_fault(uaddr, Access::Read).is_err() {
        return Err(EFAULT);
    }
    let vma = locked.find_vma(uaddr).ok_or(EFAULT)?;
    Ok(match &vma.data {
        crate::mm::VmaBacking::Shm { obj, pgoff } => {
            FutexKey(Arc::as_ptr(obj) as u64, (pgoff << 12) + (uaddr - vma.start))
        }
        _ if !writable => return Err(EFAULT),
        _ => FutexKey(Arc::as_ptr(&mm) as u64, uaddr),
    })
}

fn futex_wait(
    uaddr: UserPtr<u32>,
    private: bool,
    val: u32,
    timeout: Option<u64>,
    bitset: u32,
) -> Result<i64, Errno> {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let key = futex_key(uaddr, private)?;
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
        let cur = uaddr.read()?;
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
        // Linux restarts an untimed wait after a handler with SA_RESTART
        // (-ERESTARTSYS); a timed one ends with EINTR when a handler runs.
        Err(WaitError::Interrupted) if timeout.is_none() => Err(crate::signal::ERESTARTSYS),
        Err(WaitError::Interrupted) => Err(crate::signal::ERESTARTNOHAND),
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
pub fn futex_wake(uaddr: UserPtr<u32>, n: usize) -> usize {
    match futex_key(uaddr, false) {
        Ok(key) => wake_key(key, n, FUTEX_BITSET_MATCH_ANY),
        Err(_) => 0,
    }
}

/// Does the operation take a timeout in `utime` (Linux `futex_cmd_has_timeout`)?
fn futex_cmd_has_timeout(cmd: i32) -> bool {
    matches!(
        cmd,
        FUTEX_WAIT | FUTEX_LOCK_PI | FUTEX_LOCK_PI2 | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI
    )
}

/// Check a timeout and turn it into ticks from now (Linux `futex_init_timeout`): a
/// `FUTEX_WAIT` timeout is relative; the others are absolute, on `CLOCK_REALTIME` with
/// `FUTEX_CLOCK_REALTIME`, else on `CLOCK_MONOTONIC`.
fn futex_init_timeout(cmd: i32, op: i32, ts: &Timespec) -> Result<u64, Errno> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(EINVAL);
    }
    Ok(if cmd == FUTEX_WAIT {
        timespec_to_ticks(ts)
    } else {
        crate::time::abs_timespec_to_ticks(ts, op & FUTEX_CLOCK_REALTIME != 0)
    })
}

/// `futex(uaddr, op, val, timeout, uaddr2, val3)` (Linux `sys_futex`): for an operation
/// that has one, the timeout is read and checked before anything else, then the
/// operation runs ([`do_futex`]).
///
/// `utime` is a pointer to a timeout for some operations and a number (`val2`) for
/// others (Linux's `__kernel_timespec __user *utime` is cast either way), so it stays a
/// register value here.
pub fn sys_futex(
    uaddr: UserPtr<u32>,
    op: u64,
    val: u64,
    utime: u64,
    uaddr2: UserPtr<u32>,
    val3: u64,
) -> SysResult {
    let op = op as i32; // an int in Linux
    let cmd = op & FUTEX_CMD_MASK;
    let mut timeout = None;
    if utime != 0 && futex_cmd_has_timeout(cmd) {
        let ts = UserPtr::<Timespec>::new(utime).read()?;
        timeout = Some(futex_init_timeout(cmd, op, &ts)?);
    }
    do_futex(uaddr, op, val as u32, timeout, uaddr2, val3 as u32)
}

/// Run one futex operation (Linux `do_futex`): WAIT, WAKE and their BITSET forms.
/// `FUTEX_CLOCK_REALTIME` is for the operations with an absolute timeout only
/// (`ENOSYS` otherwise); the requeue, wake-op and priority-inheritance operations are
/// not implemented (`ENOSYS`).
fn do_futex(
    uaddr: UserPtr<u32>,
    op: i32,
    val: u32,
    timeout: Option<u64>,
    _uaddr2: UserPtr<u32>,
    val3: u32,
) -> SysResult {
    let cmd = op & FUTEX_CMD_MASK;
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    if op & FUTEX_CLOCK_REALTIME != 0
        && !matches!(
            cmd,
            FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2
        )
    {
        return Err(ENOSYS);
    }
    match cmd {
        FUTEX_WAIT => futex_wait(uaddr, private, val, timeout, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAIT_BITSET => futex_wait(uaddr, private, val, timeout, val3),
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(EINVAL);
            }
            let key = futex_key(uaddr, private)?;
            Ok(wake_key(key, val as usize, bitset) as i64)
        }
        _ => Err(ENOSYS),
    }
}

/// Size of `struct robust_list_head` (Linux checks it in `set_robust_list`).
const ROBUST_LIST_HEAD_SIZE: u64 = 24;
/// Longest list walked at exit (Linux `ROBUST_LIST_LIMIT`).
const ROBUST_LIST_LIMIT: usize = 2048;

/// Linux's `struct robust_list_head`: the list, the futex offset, the pending entry.
pub type RobustListHead = [u64; 3];

/// `set_robust_list(head, len)`: where this thread keeps the robust mutexes it holds.
pub fn sys_set_robust_list(head: UserPtr<RobustListHead>, len: u64) -> SysResult {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(EINVAL);
    }
    current().inner.lock().robust_list = head;
    Ok(0)
}

/// `get_robust_list(pid, head_ptr, len_ptr)` for the caller or another thread.
pub fn sys_get_robust_list(pid: u64, head_ptr: UserPtr<u64>, len_ptr: UserPtr<u64>) -> SysResult {
    let head = if pid == 0 {
        current().inner.lock().robust_list.addr()
    } else {
        let t = crate::pid::PID_TABLE.lock().find(pid as i32).ok_or(ESRCH)?;
        let h = t.inner.lock().robust_list.addr();
        h
    };
    len_ptr.write(&ROBUST_LIST_HEAD_SIZE)?;
    head_ptr.write(&head)?;
    Ok(0)
}

/// Mark one robust futex whose owner is dying and wake a waiter (Linux
/// `handle_futex_death`).
fn handle_futex_death(uaddr: UserPtr<u32>, tid: u32) {
    // Linux updates the word with a compare-and-exchange; forkos has one CPU, so masking
    // interrupts keeps every other thread out between the read and the write.
    let flags = crate::arch::irqflags::local_irq_save();
    handle_futex_death_locked(uaddr, tid);
    crate::arch::irqflags::local_irq_restore(flags);
}

fn handle_futex_death_locked(word: UserPtr<u32>, tid: u32) {
    let Ok(v) = word.read() else { return };
    if v & FUTEX_TID_MASK != tid {
        return;
    }
    let new = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if word.write(&new).is_ok() && v & FUTEX_WAITERS != 0 {
        futex_wake(word, 1);
    }
}

/// At exit, release the robust mutexes the thread still holds (Linux
/// `exit_robust_list`): `struct robust_list_head { next, futex_offset, list_op_pending }`.
pub fn exit_robust_list(head: UserPtr<RobustListHead>, tid: u32) {
    if head.is_null() {
        return;
    }
    let Ok([mut entry, offset, pending]) = head.read() else {
        return;
    };
    let head = head.addr();
    let read = |a: u64| UserPtr::<u64>::new(a).read().ok();
    let offset = offset as i64;
    for _ in 0..ROBUST_LIST_LIMIT {
        if entry == head || entry == 0 {
            break;
        }
        let next = read(entry & !1);
        if entry != pending {
            handle_futex_death(UserPtr::new((entry & !1).wrapping_add_signed(offset)), tid);
        }
        match next {
            Some(n) => entry = n,
            None => return,
        }
    }
    if pending != 0 {
        handle_futex_death(
            UserPtr::new((pending & !1).wrapping_add_signed(offset)),
            tid,
        );
    }
}
