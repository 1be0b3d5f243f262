//! Optional CPU features the kernel turns on when the CPU has them (Linux
//! `arch/arm64/kernel/cpufeature.c`).
//!
//! **PAN**, Privileged Access Never (ARMv8.1): while `PSTATE.PAN` is set, the kernel
//! faults on any access to a page user space may access. forkos never dereferences a
//! user address — its copy routines reach user memory through the linear map after a
//! software walk (`mm/uaccess.rs`) — so PAN stays on all the time, and a stray kernel
//! pointer into user memory ends in an oops instead of quietly reading or writing what a
//! user program controls. QEMU's `-cpu max` has PAN; `cortex-a72` (ARMv8.0) does not.

use core::sync::atomic::{AtomicBool, Ordering};

static PAN_ON: AtomicBool = AtomicBool::new(false);

/// Does this CPU implement PAN (`ID_AA64MMFR1_EL1.PAN`, bits 23:20)?
fn cpu_has_pan() -> bool {
    let mmfr1: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, id_aa64mmfr1_el1", out(reg) mmfr1, options(nomem, nostack))
    };
    (mmfr1 >> 20) & 0xf != 0
}

/// Turn PAN on if the CPU has it (Linux `cpu_enable_pan`): clear `SCTLR_EL1.SPAN`, so
/// that every exception into EL1 sets `PSTATE.PAN`, and set it now. Returns whether PAN
/// is on.
pub fn enable_pan() -> bool {
    if !cpu_has_pan() {
        return false;
    }
    const SCTLR_EL1_SPAN: u64 = 1 << 23;
    // SAFETY: clearing SPAN only changes PSTATE.PAN on later exception entries; `msr pan,
    // #1` (encoded, as the assembler may not know ARMv8.1) forbids EL1 access to EL0
    // pages, which no kernel code makes.
    unsafe {
        core::arch::asm!(
            "mrs {t}, sctlr_el1",
            "bic {t}, {t}, {span}",
            "msr sctlr_el1, {t}",
            "isb",
            ".inst 0xd500419f", // msr pan, #1
            t = out(reg) _,
            span = in(reg) SCTLR_EL1_SPAN,
            options(nostack)
        )
    };
    PAN_ON.store(true, Ordering::Relaxed);
    true
}

/// Is PAN on?
pub fn pan_enabled() -> bool {
    PAN_ON.load(Ordering::Relaxed)
}
