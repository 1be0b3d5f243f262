//! A spinlock that also masks interrupts on this CPU while held (Linux
//! `spin_lock_irqsave`), so that an interrupt handler can never spin on a lock its own
//! CPU holds.
//!
//! A lock shared by every CPU (not a per-CPU or per-object one) names its *class*
//! ([`lock_class`], Linux lockdep's lock classes): taking and releasing it executes the
//! instruction-counting plugin's markers (`tools/icount-plugin`), NOPs everywhere else,
//! so that `make smpbench` measures how long each serial resource is held.

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use crate::arch::irqflags::{local_irq_restore, local_irq_save, IrqFlags};

/// How a CPU waits for a lock another holds: `yield`, which tells QEMU's round-robin
/// TCG (and a hypervisor) to run another vCPU, where `core::hint::spin_loop`'s `isb`
/// keeps this one spinning alone until its time slice ends (Linux arm64's `cpu_relax`
/// is a `yield` too).
pub struct CpuRelax;

impl spin::RelaxStrategy for CpuRelax {
    #[inline(always)]
    fn relax() {
        crate::arch::irqflags::cpu_relax();
    }
}

type Mutex<T> = spin::mutex::SpinMutex<T, CpuRelax>;

/// The classes of the locks every CPU shares, as the plugin's markers number them; the
/// names are in `scripts/smpbench`.
pub mod lock_class {
    /// Not a class: a per-CPU or per-object lock, never marked.
    pub const NONE: u32 = u32::MAX;
    /// `TASKLIST_LOCK` (Linux `tasklist_lock`).
    pub const TASKLIST: u32 = 0;
    /// The pid table (Linux `pidmap_lock`).
    pub const PID_TABLE: u32 = 1;
    /// The buddy allocator's zone (Linux `zone->lock`).
    pub const ZONE: u32 = 2;
    /// The slab caches.
    pub const SLAB: u32 = 3;
    /// The kernel-stack slots.
    pub const KSTACK: u32 = 4;
    /// The ASID allocator (Linux `cpu_asid_lock`).
    pub const ASID: u32 = 5;
    /// The thread count (Linux's `nr_threads`, under `tasklist_lock` there).
    pub const NR_THREADS: u32 = 6;
    /// The sleep timers.
    pub const TIMERS: u32 = 7;
    /// The futex waiters.
    pub const FUTEX: u32 = 8;
    /// The large-object heap.
    pub const HEAP: u32 = 9;
}

/// Execute the plugin's marker for taking (`RELEASE` false) or releasing a lock of class
/// `C`; nothing for [`lock_class::NONE`].
#[inline(always)]
fn mark_lock<const C: u32, const RELEASE: bool>() {
    use forkos_lib::icount_markers::{LOCK_ACQUIRE, LOCK_CLASSES, LOCK_RELEASE};
    if C != lock_class::NONE {
        // SAFETY: `hint #IMM` with IMM in the unallocated hint space is a NOP: no
        // register, memory or flag changes (lib/src/icount_markers.rs).
        unsafe {
            core::arch::asm!(
                "hint #{m}",
                m = const if RELEASE { LOCK_RELEASE } else { LOCK_ACQUIRE } + (C % LOCK_CLASSES),
                options(nomem, nostack, preserves_flags)
            )
        };
    }
}
type MutexGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

/// A value behind a spinlock taken with interrupts masked; `C` is its [`lock_class`].
pub struct IrqSpinLock<T, const C: u32 = { lock_class::NONE }> {
    inner: Mutex<T>,
}

/// Access to the locked value; dropping it unlocks, then restores the interrupt state.
pub struct IrqSpinLockGuard<'a, T, const C: u32 = { lock_class::NONE }> {
    guard: ManuallyDrop<MutexGuard<'a, T>>,
    flags: IrqFlags,
}

impl<T, const C: u32> IrqSpinLock<T, C> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            inner: Mutex::new(value),
        }
    }

    /// Mask interrupts and take the lock.
    #[inline]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T, C> {
        let flags = local_irq_save();
        let guard = ManuallyDrop::new(self.inner.lock());
        mark_lock::<C, false>();
        IrqSpinLockGuard { guard, flags }
    }

    /// Take the lock when interrupts are already masked, by a `local_irq_save` that
    /// returned `flags`: unlocking restores them (Linux `raw_spin_lock` after
    /// `local_irq_save`, undone by `raw_spin_unlock_irqrestore`).
    ///
    /// # Safety
    /// Interrupts are masked, and stay so until the guard goes.
    #[inline]
    pub unsafe fn lock_irqsaved(&self, flags: IrqFlags) -> IrqSpinLockGuard<'_, T, C> {
        let guard = ManuallyDrop::new(self.inner.lock());
        mark_lock::<C, false>();
        IrqSpinLockGuard { guard, flags }
    }

    /// Mask interrupts and take the lock if it is free.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T, C>> {
        let flags = local_irq_save();
        match self.inner.try_lock() {
            Some(guard) => {
                mark_lock::<C, false>();
                Some(IrqSpinLockGuard {
                    guard: ManuallyDrop::new(guard),
                    flags,
                })
            }
            None => {
                local_irq_restore(flags);
                None
            }
        }
    }
}

impl<T> IrqSpinLock<T> {
    /// Take back a lock handed over with [`IrqSpinLockGuard::hand_over`], as a guard that
    /// unlocks when dropped and leaves interrupts masked (Linux `finish_lock_switch`'s
    /// `raw_spin_unlock`: whoever handed the lock over restores them).
    ///
    /// # Safety
    /// The lock is held, handed over to the caller, and interrupts stay masked until the
    /// guard goes.
    #[inline]
    pub unsafe fn take_handed_over(&self) -> HandedOverGuard<'_, T> {
        HandedOverGuard { lock: self }
    }
}

/// A lock handed over across a context switch and taken back by
/// [`IrqSpinLock::take_handed_over`]: access to the value while it is held, and the
/// unlock (without touching the interrupt state) when it goes.
pub struct HandedOverGuard<'a, T> {
    lock: &'a IrqSpinLock<T>,
}

impl<T> Deref for HandedOverGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held and handed over to us (take_handed_over's contract);
        // the value is ours until we unlock, on drop.
        unsafe { &*self.lock.inner.as_mut_ptr() }
    }
}

impl<T> DerefMut for HandedOverGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref; `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.inner.as_mut_ptr() }
    }
}

impl<T> Drop for HandedOverGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the lock is held, handed over to us, and no borrow of the value
        // outlives the guard.
        unsafe { self.lock.inner.force_unlock() }
    }
}

impl<'a, T> IrqSpinLockGuard<'a, T> {
    /// Keep the lock held (and interrupts masked) beyond this guard, for another context
    /// to take back with [`IrqSpinLock::take_handed_over`]: the scheduler holds the run
    /// queue's lock across a context switch and the next task releases it (Linux
    /// `finish_lock_switch`). The saved interrupt state is not restored.
    pub fn hand_over(self) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the guard is taken out exactly once; the
        // inner guard is leaked, which leaves the lock held.
        let guard = unsafe { ManuallyDrop::take(&mut this.guard) };
        spin::mutex::SpinMutexGuard::leak(guard);
    }
}

impl<T: Default, const C: u32> Default for IrqSpinLock<T, C> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T, const C: u32> Deref for IrqSpinLockGuard<'_, T, C> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T, const C: u32> DerefMut for IrqSpinLockGuard<'_, T, C> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T, const C: u32> Drop for IrqSpinLockGuard<'_, T, C> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard is dropped exactly once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        mark_lock::<C, true>();
        local_irq_restore(self.flags);
    }
}
