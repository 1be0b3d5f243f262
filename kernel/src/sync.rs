//! A spinlock that also masks interrupts on this CPU while held (Linux
//! `spin_lock_irqsave`), so that an interrupt handler can never spin on a lock its own
//! CPU holds.

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
type MutexGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

/// A value behind a spinlock taken with interrupts masked.
pub struct IrqSpinLock<T> {
    inner: Mutex<T>,
}

/// Access to the locked value; dropping it unlocks, then restores the interrupt state.
pub struct IrqSpinLockGuard<'a, T> {
    guard: ManuallyDrop<MutexGuard<'a, T>>,
    flags: IrqFlags,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            inner: Mutex::new(value),
        }
    }

    /// Mask interrupts and take the lock.
    #[inline]
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T> {
        let flags = local_irq_save();
        IrqSpinLockGuard {
            guard: ManuallyDrop::new(self.inner.lock()),
            flags,
        }
    }

    /// Take the lock when interrupts are already masked, by a `local_irq_save` that
    /// returned `flags`: unlocking restores them (Linux `raw_spin_lock` after
    /// `local_irq_save`, undone by `raw_spin_unlock_irqrestore`).
    ///
    /// # Safety
    /// Interrupts are masked, and stay so until the guard goes.
    #[inline]
    pub unsafe fn lock_irqsaved(&self, flags: IrqFlags) -> IrqSpinLockGuard<'_, T> {
        IrqSpinLockGuard {
            guard: ManuallyDrop::new(self.inner.lock()),
            flags,
        }
    }

    /// Mask interrupts and take the lock if it is free.
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T>> {
        let flags = local_irq_save();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinLockGuard {
                guard: ManuallyDrop::new(guard),
                flags,
            }),
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

impl<T: Default> Default for IrqSpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> Deref for IrqSpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for IrqSpinLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard is dropped exactly once, here, and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        local_irq_restore(self.flags);
    }
}
