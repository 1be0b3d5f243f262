//! A spinlock that also masks interrupts on this CPU while held (Linux
//! `spin_lock_irqsave`), so that an interrupt handler can never spin on a lock its own
//! CPU holds.

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use crate::arch::irqflags::{local_irq_restore, local_irq_save, IrqFlags};

/// A value behind a spinlock taken with interrupts masked.
pub struct IrqSpinLock<T> {
    inner: spin::Mutex<T>,
}

/// Access to the locked value; dropping it unlocks, then restores the interrupt state.
pub struct IrqSpinLockGuard<'a, T> {
    guard: ManuallyDrop<spin::MutexGuard<'a, T>>,
    flags: IrqFlags,
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock {
            inner: spin::Mutex::new(value),
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
