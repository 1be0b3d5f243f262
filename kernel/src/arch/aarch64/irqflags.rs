//! Masking interrupts on this CPU (Linux `arch/arm64/include/asm/irqflags.h`).

use aarch64_cpu::registers::{Readable, Writeable, DAIF};

/// Saved interrupt state, returned by [`local_irq_save`].
#[derive(Clone, Copy)]
pub struct IrqFlags(u64);

/// Mask IRQs and FIQs, returning the previous state (Linux `arch_local_irq_save`).
#[inline(always)]
pub fn local_irq_save() -> IrqFlags {
    let flags = IrqFlags(DAIF.get());
    // SAFETY: setting DAIF.I and F only masks interrupts; it cannot break memory safety.
    unsafe { core::arch::asm!("msr daifset, #3", options(nomem, nostack)) };
    flags
}

/// Put back the interrupt state saved by [`local_irq_save`].
#[inline(always)]
pub fn local_irq_restore(flags: IrqFlags) {
    DAIF.set(flags.0);
}

/// Unmask IRQs (Linux `arch_local_irq_enable`).
#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: clearing DAIF.I lets interrupts in; handlers save and restore all state.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nomem, nostack)) };
}

/// Mask IRQs and FIQs (Linux `arch_local_irq_disable`).
#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: setting DAIF.I and F only masks interrupts; it cannot break memory safety.
    unsafe { core::arch::asm!("msr daifset, #3", options(nomem, nostack)) };
}

/// Wait for an interrupt (Linux `cpu_do_idle`).
#[inline(always)]
pub fn wfi() {
    aarch64_cpu::asm::wfi();
}

/// Let other CPUs (or vCPUs) run while this one waits in a loop (Linux arm64
/// `cpu_relax`: `yield`).
#[inline(always)]
pub fn cpu_relax() {
    // SAFETY: `yield` is a hint with no effect on memory or registers.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}
