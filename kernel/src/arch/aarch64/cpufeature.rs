//! CPU features (Linux `arch/arm64/kernel/cpufeature.c`): the optional ones the kernel
//! turns on when the CPU has them, and what user space learns of the CPU — the ID
//! registers as EL0 reads them ([`emulate_sys_reg`], called from `traps.rs`) and the
//! hwcaps of `AT_HWCAP` ([`elf_hwcap`]).
//!
//! **PAN**, Privileged Access Never (ARMv8.1): while `PSTATE.PAN` is set, the kernel
//! faults on any access to a page user space may access. forkos never dereferences a
//! user address — its copy routines reach user memory through the linear map after a
//! software walk (`mm/uaccess.rs`) — so PAN stays on all the time, and a stray kernel
//! pointer into user memory ends in an oops instead of quietly reading or writing what a
//! user program controls. QEMU's `-cpu max` has PAN; `cortex-a72` (ARMv8.0) does not.

use core::sync::atomic::{AtomicBool, Ordering};

use aarch64_cpu::registers::{
    Readable, ID_AA64DFR0_EL1, ID_AA64ISAR0_EL1, ID_AA64ISAR1_EL1, ID_AA64MMFR0_EL1,
    ID_AA64MMFR1_EL1, ID_AA64MMFR2_EL1, ID_AA64PFR0_EL1, ID_AA64PFR1_EL1, MIDR_EL1,
};

static PAN_ON: AtomicBool = AtomicBool::new(false);

/// Does this CPU implement PAN (`ID_AA64MMFR1_EL1.PAN`, bits 23:20)?
fn cpu_has_pan() -> bool {
    (ID_AA64MMFR1_EL1.get() >> 20) & 0xf != 0
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

// The CPU ID registers as user space sees them, and the hwcaps (Linux `emulate_mrs`,
// `arm64_ftr_reg_user_value`, `arm64_elf_hwcaps`).
//
// EL0 cannot read the ID registers itself: an `mrs` of one traps (as an undefined
// instruction, or with FEAT_IDST as a system-register access) and the kernel answers
// with a sanitised value: the fields Linux makes visible show the CPU's value, the
// others their "safe" value. forkos shows what Linux 6.1 shows, as built without SVE,
// SME, MTE, BTI and pointer authentication (which forkos does not support at EL0).

/// A 4-bit ID register field at `shift`.
const fn f4(shift: u32) -> u64 {
    0xf << shift
}

/// A 32-bit ID register with no `aarch64-cpu` accessor, read by its encoding.
macro_rules! read_sysreg_s {
    ($enc:literal) => {{
        let v: u64;
        // SAFETY: reading an ID register has no side effects.
        unsafe { core::arch::asm!(concat!("mrs {}, ", $enc), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// Does EL0 support AArch32 (`ID_AA64PFR0_EL1.EL0` = 2)? Only then does Linux fill
/// the AArch32 ID registers (`init_32bit_cpu_features`).
fn id_aa64pfr0_32bit_el0() -> bool {
    ID_AA64PFR0_EL1.get() & 0xf == 2
}

/// The CPU's value of the ID register (3, 0, 0, `crm`, `op2`), the mask of the fields
/// user space sees, and what the hidden fields read as (Linux `struct arm64_ftr_reg`:
/// `sys_val`, `user_mask`, `user_val`, from the `ftr_*` tables of 6.1). Registers
/// Linux does not track read as 0.
fn ftr_reg(crm: u32, op2: u32) -> (u64, u64, u64) {
    let aarch32 = |v: u64| if id_aa64pfr0_32bit_el0() { v } else { 0 };
    match (crm, op2) {
        // ID_ISAR5_EL1: CRC32, SHA2, SHA1, AES.
        (2, 5) => (
            aarch32(read_sysreg_s!("s3_0_c0_c2_5")),
            f4(16) | f4(12) | f4(8) | f4(4),
            0,
        ),
        // MVFR0_EL1: FPDP.
        (3, 0) => (aarch32(read_sysreg_s!("s3_0_c0_c3_0")), f4(8), 0),
        // MVFR1_EL1: SIMDFMAC, SIMDSP, SIMDInt, SIMDLS.
        (3, 1) => (
            aarch32(read_sysreg_s!("s3_0_c0_c3_1")),
            f4(28) | f4(16) | f4(12) | f4(8),
            0,
        ),
        // ID_AA64PFR0_EL1: DIT, AdvSIMD, FP; EL1 and EL0 read "64-bit only".
        (4, 0) => (ID_AA64PFR0_EL1.get(), f4(48) | f4(20) | f4(16), 0x11),
        // ID_AA64PFR1_EL1: SSBS.
        (4, 1) => (ID_AA64PFR1_EL1.get(), f4(4), 0),
        // ID_AA64DFR0_EL1: all hidden; DebugVer reads 6 (ARMv8.0 debug).
        (5, 0) => (ID_AA64DFR0_EL1.get(), 0, 6),
        // ID_AA64ISAR0_EL1: every field but TLB.
        (6, 0) => (ID_AA64ISAR0_EL1.get(), 0xf0ff_ffff_f0ff_fff0, 0),
        // ID_AA64ISAR1_EL1: I8MM, DGH, BF16, SB, FRINTTS, LRCPC, FCMA, JSCVT, DPB.
        (6, 1) => (ID_AA64ISAR1_EL1.get(), 0x00ff_f0ff_00ff_f00f, 0),
        // ID_AA64ISAR2_EL1: RPRES, WFxT.
        (6, 2) => (read_sysreg_s!("s3_0_c0_c6_2"), f4(4) | f4(0), 0),
        // ID_AA64MMFR0_EL1: ECV; the stage-2 granules read "as stage 1" (1), the
        // 4K and 64K granules "not implemented" (0xf).
        (7, 0) => (
            ID_AA64MMFR0_EL1.get(),
            f4(60),
            (1 << 40) | (1 << 36) | (1 << 32) | (0xf << 28) | (0xf << 24),
        ),
        // ID_AA64MMFR1_EL1: AFP.
        (7, 1) => (ID_AA64MMFR1_EL1.get(), f4(44), 0),
        // ID_AA64MMFR2_EL1: AT.
        (7, 2) => (ID_AA64MMFR2_EL1.get(), f4(32), 0),
        _ => (0, 0, 0),
    }
}

/// `MPIDR_EL1` as user space reads it: no affinity, only the RES1 bit (Linux
/// `SYS_MPIDR_SAFE_VAL`).
const SYS_MPIDR_SAFE_VAL: u64 = 1 << 31;

/// The value EL0 reads from the system register (3, `op1`, `crn`, `crm`, `op2`), or
/// `None` if that read is not emulated and is an undefined instruction (Linux
/// `emulate_sys_reg`: `is_emulated`, `emulate_id_reg`, `arm64_ftr_reg_user_value`).
pub fn emulate_sys_reg(op1: u32, crn: u32, crm: u32, op2: u32) -> Option<u64> {
    if op1 != 0 || crn != 0 {
        return None;
    }
    match crm {
        0 => match op2 {
            0 => Some(MIDR_EL1.get()),
            5 => Some(SYS_MPIDR_SAFE_VAL),
            6 => Some(0), // REVIDR_EL1: IMPLEMENTATION DEFINED, emulated as 0
            _ => None,
        },
        2..=7 => {
            let (sys_val, user_mask, user_val) = ftr_reg(crm, op2);
            Some(user_val | (sys_val & user_mask))
        }
        _ => None,
    }
}

/// `AT_HWCAP` bits.
pub use forkos_lib::uapi::hwcap::*;

/// What the CPU offers user space, for `AT_HWCAP` (Linux `arm64_elf_hwcaps`, the
/// capabilities that need nothing of the kernel but saving the FP/SIMD registers, plus
/// `HWCAP_CPUID` for the ID register emulation and `HWCAP_EVTSTRM` for the timer's
/// event stream).
pub fn elf_hwcap() -> u64 {
    let field = |reg: u64, shift: u32| (reg >> shift) & 0xf;
    let signed = |reg: u64, shift: u32| ((reg >> shift) as i64) << 60 >> 60;
    let pfr0 = ID_AA64PFR0_EL1.get();
    let isar0 = ID_AA64ISAR0_EL1.get();
    let isar1 = ID_AA64ISAR1_EL1.get();
    let mmfr2 = ID_AA64MMFR2_EL1.get();
    let caps: [(bool, u32); 26] = [
        (signed(pfr0, 16) >= 0, 0),  // FP
        (signed(pfr0, 20) >= 0, 1),  // ASIMD
        (field(isar0, 4) >= 1, 3),   // AES
        (field(isar0, 4) >= 2, 4),   // PMULL
        (field(isar0, 8) >= 1, 5),   // SHA1
        (field(isar0, 12) >= 1, 6),  // SHA2
        (field(isar0, 16) >= 1, 7),  // CRC32
        (field(isar0, 20) >= 2, 8),  // ATOMICS
        (signed(pfr0, 16) >= 1, 9),  // FPHP
        (signed(pfr0, 20) >= 1, 10), // ASIMDHP
        (field(isar0, 28) >= 1, 12), // ASIMDRDM
        (field(isar1, 12) >= 1, 13), // JSCVT
        (field(isar1, 16) >= 1, 14), // FCMA
        (field(isar1, 20) >= 1, 15), // LRCPC
        (field(isar1, 0) >= 1, 16),  // DCPOP
        (field(isar0, 32) >= 1, 17), // SHA3
        (field(isar0, 36) >= 1, 18), // SM3
        (field(isar0, 40) >= 1, 19), // SM4
        (field(isar0, 44) >= 1, 20), // ASIMDDP
        (field(isar0, 12) >= 2, 21), // SHA512
        (field(isar0, 48) >= 1, 23), // ASIMDFHM
        (field(pfr0, 48) >= 1, 24),  // DIT
        (field(mmfr2, 32) >= 1, 25), // USCAT
        (field(isar1, 20) >= 2, 26), // ILRCPC
        (field(isar0, 52) >= 1, 27), // FLAGM
        (field(isar1, 36) >= 1, 29), // SB
    ];
    let mut hwcap = HWCAP_CPUID;
    if crate::drivers::arch_timer::evtstrm_enabled() {
        hwcap |= HWCAP_EVTSTRM;
    }
    for (has, bit) in caps {
        if has {
            hwcap |= 1 << bit;
        }
    }
    hwcap
}
