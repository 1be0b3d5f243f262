//! Boot-time system register values (Linux `arch/arm64/include/asm/sysreg.h`,
//! `pgtable-hwdef.h`, `kvm_arm.h`).
//!
//! These are the values `boot/head.S` writes before any Rust runs, so they are plain
//! constants passed into the assembly; Rust code that touches system registers later does
//! so through the `aarch64-cpu` crate.

use forkos_lib::pgtable::VA_BITS;

// SCTLR_EL1 bits.
const SCTLR_ELX_M: u64 = 1 << 0; // MMU on
const SCTLR_ELX_C: u64 = 1 << 2; // data cache on
const SCTLR_ELX_SA: u64 = 1 << 3; // EL1 stack alignment check
const SCTLR_EL1_SA0: u64 = 1 << 4; // EL0 stack alignment check
const SCTLR_EL1_SED: u64 = 1 << 8; // no AArch32 SETEND
const SCTLR_ELX_I: u64 = 1 << 12; // instruction cache on
const SCTLR_EL1_DZE: u64 = 1 << 14; // EL0 may use DC ZVA (glibc's memset does)
const SCTLR_EL1_UCT: u64 = 1 << 15; // EL0 may read CTR_EL0
const SCTLR_EL1_NTWE: u64 = 1 << 18; // EL0 WFE is not trapped
const SCTLR_EL1_SPAN: u64 = 1 << 23; // PSTATE.PAN unchanged on exception entry
const SCTLR_EL1_UCI: u64 = 1 << 26; // EL0 may clean caches to PoU (JITs do)
/// RES1 bits of ARMv8.0 that later versions gave meanings Linux also wants set:
/// EOS (11), TSCXT (20), EIS (22), nTLSMD (28), LSMAOE (29).
const SCTLR_EL1_RES1: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 28) | (1 << 29);

/// SCTLR_EL1 while the MMU is off (Linux `INIT_SCTLR_EL1_MMU_OFF`).
pub const SCTLR_EL1_MMU_OFF: u64 = SCTLR_EL1_RES1;
/// SCTLR_EL1 once the MMU is on (Linux `INIT_SCTLR_EL1_MMU_ON`, less features QEMU's
/// cortex-a72 lacks).
pub const SCTLR_EL1_MMU_ON: u64 = SCTLR_EL1_RES1
    | SCTLR_ELX_M
    | SCTLR_ELX_C
    | SCTLR_ELX_SA
    | SCTLR_EL1_SA0
    | SCTLR_EL1_SED
    | SCTLR_ELX_I
    | SCTLR_EL1_DZE
    | SCTLR_EL1_UCT
    | SCTLR_EL1_NTWE
    | SCTLR_EL1_SPAN
    | SCTLR_EL1_UCI;

// TCR_EL1 fields: 48-bit VAs in both halves, 4 KiB granules, inner-shareable
// write-back walks. IPS (the physical size) and AS (16-bit ASIDs) are set at boot from
// ID_AA64MMFR0_EL1.
const TCR_T0SZ: u64 = 64 - VA_BITS as u64;
const TCR_T1SZ: u64 = (64 - VA_BITS as u64) << 16;
const TCR_IRGN0_WBWA: u64 = 1 << 8;
const TCR_ORGN0_WBWA: u64 = 1 << 10;
const TCR_SH0_INNER: u64 = 3 << 12;
const TCR_TG0_4K: u64 = 0 << 14;
const TCR_IRGN1_WBWA: u64 = 1 << 24;
const TCR_ORGN1_WBWA: u64 = 1 << 26;
const TCR_SH1_INNER: u64 = 3 << 28;
const TCR_TG1_4K: u64 = 2 << 30;
/// Top byte ignored for user addresses, as Linux's arm64 ABI promises.
const TCR_TBI0: u64 = 1 << 37;
/// 16-bit ASIDs.
pub const TCR_AS: u64 = 1 << 36;
/// TCR_EL1 without IPS and AS.
pub const TCR_EL1_VALUE: u64 = TCR_T0SZ
    | TCR_T1SZ
    | TCR_IRGN0_WBWA
    | TCR_ORGN0_WBWA
    | TCR_SH0_INNER
    | TCR_TG0_4K
    | TCR_IRGN1_WBWA
    | TCR_ORGN1_WBWA
    | TCR_SH1_INNER
    | TCR_TG1_4K
    | TCR_TBI0;

/// HCR_EL2 for a kernel that runs at EL1: RW (EL1 is AArch64), nothing trapped.
pub const HCR_EL2_VALUE: u64 = 1 << 31;
/// PSTATE for the first `eret` into EL1: EL1h with D, A, I, F masked.
pub const INIT_PSTATE_EL1: u64 = super::ptrace::PSR_MODE_EL1H | super::ptrace::PSR_DAIF_MASK;
/// arm64 Image header flags: little-endian (bit 0 = 0), 4 KiB pages (bits 1-2 = 1),
/// may be placed anywhere in physical memory (bit 3).
pub const IMAGE_FLAGS: u64 = (1 << 1) | (1 << 3);
