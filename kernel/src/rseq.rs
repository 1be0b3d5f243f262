//! Restartable sequences (Linux `kernel/rseq.c`): a thread registers a `struct rseq`
//! in its memory; the kernel keeps its `cpu_id_start` and `cpu_id` fields equal to the
//! CPU the thread runs on whenever it returns to user space, and when the thread was
//! preempted, moved to another CPU or given a signal while inside the critical section
//! `rseq_cs` describes, it leaves the section at its abort handler instead of where it
//! was (`rseq_ip_fixup`). glibc 2.35 and later register one for every thread.
//!
//! Linux marks those events in the scheduler (`rseq_preempt`, `rseq_migrate`) and in
//! signal delivery (`rseq_signal_deliver`), and handles them on the way back to user
//! space (`rseq_handle_notify_resume`), which `TIF_NOTIFY_RESUME` sends it to. forkos
//! marks a preemption where a thread running user code is preempted (on its way back
//! to user space, the only place forkos preempts user code), a migration where the
//! scheduler gives the thread another CPU (`set_task_cpu`), and a signal where one is
//! delivered; a thread without an area pays one flag test on its way out, as on Linux.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::arch::ptrace::PtRegs;
use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::mm::TASK_SIZE;
use crate::task::{current, Task, TIF_NOTIFY_RESUME};

/// `struct rseq`'s size and alignment in Linux 6.1 (`ORIG_RSEQ_SIZE`, `__aligned(32)`).
pub const RSEQ_SIZE: u32 = 32;
/// `rseq(..., flags)`: unregister (Linux `RSEQ_FLAG_UNREGISTER`).
const RSEQ_FLAG_UNREGISTER: u64 = 1;
/// `cpu_id` before registration and after unregistration (Linux
/// `RSEQ_CPU_ID_UNINITIALIZED`).
const RSEQ_CPU_ID_UNINITIALIZED: u32 = u32::MAX;

/// Why the critical section must restart (Linux `RSEQ_EVENT_PREEMPT`, `_SIGNAL`,
/// `_MIGRATE`), kept in [`Rseq::event_mask`].
const RSEQ_EVENT_PREEMPT: u32 = 1 << 0;
const RSEQ_EVENT_SIGNAL: u32 = 1 << 1;
const RSEQ_EVENT_MIGRATE: u32 = 1 << 2;

/// Offsets in `struct rseq`.
const OFF_CPU_ID_START: u64 = 0;
const OFF_CPU_ID: u64 = 4;
const OFF_RSEQ_CS: u64 = 8;
const OFF_FLAGS: u64 = 16;

/// A thread's registration (Linux `task->rseq`, `rseq_len`, `rseq_sig`,
/// `rseq_event_mask`). Only the thread itself changes it, in its own syscalls and on its
/// way back to user space; atomics let that way read it without a lock.
#[derive(Default)]
pub struct Rseq {
    /// The `struct rseq`'s user address; 0: none.
    ptr: AtomicU64,
    len: AtomicU32,
    sig: AtomicU32,
    event_mask: AtomicU32,
    /// 1 + the CPU last written into `cpu_id`; 0: to be written.
    cpu_written: AtomicU32,
}

impl Rseq {
    /// A new process's registration (Linux `rseq_fork` without `CLONE_VM`): the
    /// parent's, at the same address in its copy of the memory. A new thread
    /// (`CLONE_VM`) starts with none, as this did. The child writes its CPU before it
    /// first runs user code (`rseq_set_notify_resume`, by the caller).
    pub fn inherit(&self, parent: &Rseq) {
        self.ptr
            .store(parent.ptr.load(Ordering::Relaxed), Ordering::Relaxed);
        self.len
            .store(parent.len.load(Ordering::Relaxed), Ordering::Relaxed);
        self.sig
            .store(parent.sig.load(Ordering::Relaxed), Ordering::Relaxed);
        self.event_mask
            .store(parent.event_mask.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Forget the registration: a new program has none (Linux `rseq_execve`).
    pub fn execve(&self) {
        self.ptr.store(0, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
        self.sig.store(0, Ordering::Relaxed);
        self.event_mask.store(0, Ordering::Relaxed);
        self.cpu_written.store(0, Ordering::Relaxed);
    }

    fn registered(&self) -> bool {
        self.ptr.load(Ordering::Relaxed) != 0
    }
}

/// Send `t`, if it has an area, through [`rseq_handle_notify_resume`] on its way back
/// to user space (Linux `rseq_set_notify_resume`).
pub fn rseq_set_notify_resume(t: &Task) {
    if t.rseq.registered() {
        t.set_flag(TIF_NOTIFY_RESUME);
    }
}

/// Mark `event` for `t`, if it has an area, and send it through
/// [`rseq_handle_notify_resume`] (the body Linux's `rseq_preempt` and `rseq_migrate`
/// share: `__set_bit` of the event, then `rseq_set_notify_resume`).
fn rseq_set_event(t: &Task, event: u32) {
    if t.rseq.registered() {
        t.rseq.event_mask.fetch_or(event, Ordering::Relaxed);
        t.set_flag(TIF_NOTIFY_RESUME);
    }
}

/// `t` was preempted in user space (Linux `rseq_preempt`).
pub fn rseq_preempt(t: &Task) {
    rseq_set_event(t, RSEQ_EVENT_PREEMPT);
}

/// The scheduler gave `t` another CPU (Linux `rseq_migrate`, from `set_task_cpu`).
pub fn rseq_migrate(t: &Task) {
    rseq_set_event(t, RSEQ_EVENT_MIGRATE);
}

/// Write a `u32` of the current thread's `struct rseq`.
fn put_u32(base: u64, off: u64, v: u32) -> Result<(), Errno> {
    UserPtr::<u32>::new(base + off).write(&v)
}

/// `struct rseq_cs` (Linux `include/uapi/linux/rseq.h`).
#[derive(Default, Clone, Copy)]
#[repr(C)]
struct RseqCs {
    version: u32,
    flags: u32,
    start_ip: u64,
    post_commit_offset: u64,
    abort_ip: u64,
}

// SAFETY: integers only, no padding (32 bytes, as Linux's).
unsafe impl crate::mm::uaccess::Pod for RseqCs {}

/// The critical section the thread is in or was last in, checked (Linux
/// `rseq_get_rseq_cs`): `EINVAL` for one that is malformed or whose abort handler lacks
/// the registered signature in the 4 bytes before it, `EFAULT` for one that cannot be
/// read.
fn rseq_get_rseq_cs(base: u64, sig: u32) -> Result<RseqCs, Errno> {
    let ptr = UserPtr::<u64>::new(base + OFF_RSEQ_CS).read()?;
    if ptr == 0 {
        return Ok(RseqCs::default());
    }
    if ptr >= TASK_SIZE {
        return Err(EINVAL);
    }
    let cs = UserPtr::<RseqCs>::new(ptr).read()?;
    let end = cs.start_ip.wrapping_add(cs.post_commit_offset);
    if cs.start_ip >= TASK_SIZE || end >= TASK_SIZE || cs.abort_ip >= TASK_SIZE || cs.version > 0 {
        return Err(EINVAL);
    }
    if end < cs.start_ip {
        return Err(EINVAL);
    }
    if cs.abort_ip.wrapping_sub(cs.start_ip) < cs.post_commit_offset {
        return Err(EINVAL);
    }
    let usig = UserPtr::<u32>::new(cs.abort_ip.wrapping_sub(4)).read()?;
    if usig != sig {
        return Err(EINVAL);
    }
    Ok(cs)
}

/// Leave the critical section at its abort handler if the thread is inside one and
/// something happened since it entered (Linux `rseq_ip_fixup`, `rseq_need_restart`);
/// a thread outside one gets its `rseq_cs` cleared.
fn rseq_ip_fixup(regs: &mut PtRegs, base: u64, sig: u32, events: u32) -> Result<(), Errno> {
    let cs = rseq_get_rseq_cs(base, sig)?;
    let clear = || UserPtr::<u64>::new(base + OFF_RSEQ_CS).write(&0);
    // Linux `in_rseq_cs`.
    if regs.pc.wrapping_sub(cs.start_ip) >= cs.post_commit_offset {
        return clear();
    }
    // Linux `rseq_warn_flags`: the old "do not restart on ..." flags are refused.
    if cs.flags != 0 {
        return Err(EINVAL);
    }
    let flags = UserPtr::<u32>::new(base + OFF_FLAGS).read()?;
    if flags != 0 {
        return Err(EINVAL);
    }
    if events == 0 {
        return Ok(());
    }
    clear()?;
    regs.pc = cs.abort_ip;
    Ok(())
}

/// On the way back to user space (Linux `rseq_handle_notify_resume`): leave an
/// interrupted critical section, then write the CPU into `cpu_id_start` and `cpu_id`.
/// A section or area that is not right kills the thread's process with SIGSEGV (Linux
/// `force_sigsegv`).
pub fn rseq_handle_notify_resume(regs: &mut PtRegs, signal: bool) {
    let t = current();
    let r = &t.rseq;
    let base = r.ptr.load(Ordering::Relaxed);
    if base == 0 {
        return;
    }
    let cpu = crate::arch::percpu::smp_processor_id() as u32;
    let mut events = r.event_mask.swap(0, Ordering::Relaxed);
    if r.cpu_written.swap(cpu + 1, Ordering::Relaxed) != cpu + 1 {
        events |= RSEQ_EVENT_MIGRATE;
    }
    if signal {
        events |= RSEQ_EVENT_SIGNAL;
    }
    let sig = r.sig.load(Ordering::Relaxed);
    let ok = rseq_ip_fixup(regs, base, sig, events).is_ok()
        && put_u32(base, OFF_CPU_ID_START, cpu).is_ok()
        && put_u32(base, OFF_CPU_ID, cpu).is_ok();
    if !ok {
        crate::signal::force_sig_fault(
            crate::signal::SIGSEGV,
            SI_KERNEL,
            "bad rseq area",
            base,
            regs.pc,
        );
    }
}

/// `si_code` of a signal the kernel sent (Linux `SI_KERNEL`).
const SI_KERNEL: i32 = 0x80;

/// `rseq(rseq, rseq_len, flags, sig)` (Linux `SYSCALL_DEFINE4(rseq)`, 6.1): register
/// the calling thread's area (32 bytes, 32-byte aligned; `EINVAL` otherwise, `EFAULT`
/// outside user space; `EBUSY` if this one is registered already, `EINVAL` for another,
/// `EPERM` for another signature), or with `RSEQ_FLAG_UNREGISTER` unregister it (the
/// same area, length and signature; its `cpu_id` goes back to uninitialised).
pub fn sys_rseq(rseq: u64, rseq_len: u64, flags: u64, sig: u64) -> SysResult {
    let t = current();
    let r = &t.rseq;
    let (rseq_len, flags, sig) = (rseq_len as u32, flags as i32 as i64 as u64, sig as u32);
    let cur = r.ptr.load(Ordering::Relaxed);
    if flags & RSEQ_FLAG_UNREGISTER != 0 {
        if flags & !RSEQ_FLAG_UNREGISTER != 0 {
            return Err(EINVAL);
        }
        if cur != rseq || cur == 0 {
            return Err(EINVAL);
        }
        if rseq_len != r.len.load(Ordering::Relaxed) {
            return Err(EINVAL);
        }
        if sig != r.sig.load(Ordering::Relaxed) {
            return Err(EPERM);
        }
        // Linux `rseq_reset_rseq_cpu_id`.
        put_u32(cur, OFF_CPU_ID_START, 0)?;
        put_u32(cur, OFF_CPU_ID, RSEQ_CPU_ID_UNINITIALIZED)?;
        r.execve();
        return Ok(0);
    }
    if flags != 0 {
        return Err(EINVAL);
    }
    if cur != 0 {
        if cur != rseq || rseq_len != r.len.load(Ordering::Relaxed) {
            return Err(EINVAL);
        }
        if sig != r.sig.load(Ordering::Relaxed) {
            return Err(EPERM);
        }
        return Err(EBUSY);
    }
    if !rseq.is_multiple_of(RSEQ_SIZE as u64) || rseq_len != RSEQ_SIZE {
        return Err(EINVAL);
    }
    crate::mm::uaccess::access_ok(rseq, rseq_len as u64)?;
    r.len.store(rseq_len, Ordering::Relaxed);
    r.sig.store(sig, Ordering::Relaxed);
    r.cpu_written.store(0, Ordering::Relaxed);
    r.ptr.store(rseq, Ordering::Relaxed);
    // The area gets its CPU before the thread is back in user space (Linux).
    rseq_set_notify_resume(&t);
    Ok(0)
}
