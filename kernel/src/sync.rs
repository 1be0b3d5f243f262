//! A spinlock that also masks interrupts on this CPU while held (Linux
//! `spin_lock_irqsave`), so that an interrupt handler can never spin on a lock its own
//! CPU holds.

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use crate::arch::irqflags::{local_irq_restore, local_irq_save, IrqFlags};

/// A value behind a spinlock taken with interrupts masked.
pub struct IrqSpinLock<T> {
    inner: spin::mutex::SpinMutex<T>,
}

/// Access to the locked value; dropping it unlocks, then restores the interrupt state.
pub struct IrqSpinLockGuard<'a, T> {
    guard: ManuallyDrop<spin::mutex::SpinMutexGuard<'a, T>>,
    flags: IrqFlags,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            inner: spin::mutex::SpinMutex::new(value),
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
    /// The value, without taking the lock: that of a lock handed over with
    /// [`IrqSpinLockGuard::hand_over`], or one that nothing can change meanwhile.
    ///
    /// # Safety
    /// Nobody else writes the value while the caller uses it (the caller holds the lock in
    /// all but name, or every writer is known not to run).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_unlocked(&self) -> &mut T {
        // SAFETY: as the caller guarantees.
        unsafe { &mut *self.inner.as_mut_ptr() }
    }

    /// Release a lock handed over with [`IrqSpinLockGuard::hand_over`]; the interrupt
    /// state is the caller's to restore.
    ///
    /// # Safety
    /// The lock is held, handed over to the caller.
    pub unsafe fn release_handed_over(&self) {
        // SAFETY: as the caller guarantees.
        unsafe { self.inner.force_unlock() }
    }
}

impl<'a, T> IrqSpinLockGuard<'a, T> {
    /// Keep the lock held (and interrupts masked) beyond this guard, for another context
    /// to release with [`IrqSpinLock::release_handed_over`]: the scheduler holds the run
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
