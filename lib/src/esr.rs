//! Decoding the Exception Syndrome Register, ESR_ELx (Linux `arch/arm64/include/asm/esr.h`
//! and `esr_class_str` in `arch/arm64/kernel/traps.c`).
//!
//! ESR holds why an exception was taken: the exception class (EC, bits 31:26) and a
//! class-specific syndrome (ISS, bits 24:0). For aborts the ISS names the fault status
//! (DFSC/IFSC) and, for data aborts, whether the access was a write (WnR).

/// Bit position of the exception class.
pub const ESR_ELX_EC_SHIFT: u32 = 26;
/// Mask of the instruction-specific syndrome.
pub const ESR_ELX_ISS_MASK: u64 = (1 << 25) - 1;
/// Instruction length bit: the trapped instruction was 32 bits wide.
pub const ESR_ELX_IL: u64 = 1 << 25;

/// Exception classes (EC values) that forkos handles by name.
pub mod ec {
    pub const UNKNOWN: u8 = 0x00;
    pub const WFX: u8 = 0x01;
    pub const FP_ASIMD: u8 = 0x07;
    pub const ILL: u8 = 0x0e;
    pub const SVC64: u8 = 0x15;
    pub const SYS64: u8 = 0x18;
    pub const IABT_LOW: u8 = 0x20;
    pub const IABT_CUR: u8 = 0x21;
    pub const PC_ALIGN: u8 = 0x22;
    pub const DABT_LOW: u8 = 0x24;
    pub const DABT_CUR: u8 = 0x25;
    pub const SP_ALIGN: u8 = 0x26;
    pub const SERROR: u8 = 0x2f;
    /// A software step exception from a lower EL.
    pub const SOFTSTP_LOW: u8 = 0x32;
    pub const BRK64: u8 = 0x3c;
}

/// Data/instruction fault status code field (DFSC/IFSC) within the ISS.
pub const ESR_ELX_FSC: u64 = 0x3f;
/// Data abort: the faulting access was a write.
pub const ESR_ELX_WNR: u64 = 1 << 6;
/// Data abort: the fault happened on a stage-2 walk for a stage-1 table.
pub const ESR_ELX_S1PTW: u64 = 1 << 7;
/// Data abort: the fault came from a cache maintenance instruction.
pub const ESR_ELX_CM: u64 = 1 << 8;
/// Abort: FAR is not valid.
pub const ESR_ELX_FNV: u64 = 1 << 10;
/// BRK: the 16-bit immediate of the `brk` instruction.
pub const ESR_ELX_BRK64_ISS_COMMENT_MASK: u64 = 0xffff;
/// WFx: set for WFE, clear for WFI (the low bit of TI).
pub const ESR_ELX_WFX_ISS_TI: u64 = 1;
/// MSR/MRS: the access was a read (MRS).
pub const ESR_ELX_SYS64_ISS_DIR_READ: u64 = 1;

/// The exception class of an ESR value.
pub const fn esr_class(esr: u64) -> u8 {
    ((esr >> ESR_ELX_EC_SHIFT) & 0x3f) as u8
}

/// The instruction-specific syndrome of an ESR value.
pub const fn esr_iss(esr: u64) -> u64 {
    esr & ESR_ELX_ISS_MASK
}

/// A human name for an exception class, as Linux's `esr_class_str` prints it.
pub fn esr_class_str(ec: u8) -> &'static str {
    match ec {
        0x00 => "Unknown/Uncategorized",
        0x01 => "WFI/WFE",
        0x03 => "CP15 MCR/MRC",
        0x04 => "CP15 MCRR/MRRC",
        0x05 => "CP14 MCR/MRC",
        0x06 => "CP14 LDC/STC",
        0x07 => "ASIMD",
        0x08 => "CP10 MRC/VMRS",
        0x09 => "PAC",
        0x0c => "CP14 MCRR/MRRC",
        0x0d => "BTI",
        0x0e => "PSTATE.IL",
        0x11 => "SVC (AArch32)",
        0x12 => "HVC (AArch32)",
        0x13 => "SMC (AArch32)",
        0x15 => "SVC (AArch64)",
        0x16 => "HVC (AArch64)",
        0x17 => "SMC (AArch64)",
        0x18 => "MSR/MRS (AArch64)",
        0x19 => "SVE",
        0x1a => "ERET/ERETAA/ERETAB",
        0x1c => "FPAC",
        0x1d => "SME",
        0x1f => "EL3 IMP DEF",
        0x20 => "IABT (lower EL)",
        0x21 => "IABT (current EL)",
        0x22 => "PC Alignment",
        0x24 => "DABT (lower EL)",
        0x25 => "DABT (current EL)",
        0x26 => "SP Alignment",
        0x27 => "MOPS",
        0x28 => "FP (AArch32)",
        0x2c => "FP (AArch64)",
        0x2f => "SError",
        0x30 => "Breakpoint (lower EL)",
        0x31 => "Breakpoint (current EL)",
        0x32 => "Software Step (lower EL)",
        0x33 => "Software Step (current EL)",
        0x34 => "Watchpoint (lower EL)",
        0x35 => "Watchpoint (current EL)",
        0x38 => "BKPT (AArch32)",
        0x3a => "Vector catch (AArch32)",
        0x3c => "BRK (AArch64)",
        _ => "UNRECOGNIZED EC",
    }
}

/// Is this class an instruction or data abort (so that FAR and the fault status mean something)?
pub const fn is_abort(ec: u8) -> bool {
    matches!(
        ec,
        ec::IABT_LOW | ec::IABT_CUR | ec::DABT_LOW | ec::DABT_CUR
    )
}

/// What a fault status code (DFSC/IFSC) means, as Linux's `fault_info` table names it.
pub fn fault_name(fsc: u8) -> &'static str {
    match fsc {
        0x00 => "level 0 address size fault",
        0x01 => "level 1 address size fault",
        0x02 => "level 2 address size fault",
        0x03 => "level 3 address size fault",
        0x04 => "level 0 translation fault",
        0x05 => "level 1 translation fault",
        0x06 => "level 2 translation fault",
        0x07 => "level 3 translation fault",
        0x08 => "level 0 access flag fault",
        0x09 => "level 1 access flag fault",
        0x0a => "level 2 access flag fault",
        0x0b => "level 3 access flag fault",
        0x0c => "level 0 permission fault",
        0x0d => "level 1 permission fault",
        0x0e => "level 2 permission fault",
        0x0f => "level 3 permission fault",
        0x10 => "synchronous external abort",
        0x11 => "synchronous tag check fault",
        0x14..=0x17 => "synchronous external abort on translation table walk",
        0x18 => "synchronous parity or ECC error",
        0x1c..=0x1f => "synchronous parity error on translation table walk",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        0x31 => "unsupported atomic hardware update",
        0x34 => "implementation fault (lockdown abort)",
        0x35 => "implementation fault (unsupported exclusive)",
        0x3d => "section domain fault",
        0x3e => "page domain fault",
        _ => "unknown fault",
    }
}

/// Is this fault status a translation fault (no valid mapping) at any level?
pub const fn is_translation_fault(fsc: u8) -> bool {
    matches!(fsc, 0x04..=0x07)
}

/// Is this fault status a permission fault at any level?
pub const fn is_permission_fault(fsc: u8) -> bool {
    matches!(fsc, 0x0c..=0x0f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_kernel_write_translation_fault() {
        // EC 0x25 (DABT current EL), IL, WnR, DFSC 0x07 (level 3 translation fault).
        let esr = (0x25u64 << 26) | ESR_ELX_IL | ESR_ELX_WNR | 0x07;
        assert_eq!(esr_class(esr), ec::DABT_CUR);
        assert_eq!(esr_class_str(esr_class(esr)), "DABT (current EL)");
        assert!(is_abort(esr_class(esr)));
        let fsc = (esr_iss(esr) & ESR_ELX_FSC) as u8;
        assert_eq!(fault_name(fsc), "level 3 translation fault");
        assert!(is_translation_fault(fsc));
        assert!(!is_permission_fault(fsc));
        assert_ne!(esr & ESR_ELX_WNR, 0);
    }

    #[test]
    fn names_every_class_linux_names() {
        assert_eq!(esr_class_str(ec::SVC64), "SVC (AArch64)");
        assert_eq!(esr_class_str(ec::BRK64), "BRK (AArch64)");
        assert_eq!(esr_class_str(0x3f), "UNRECOGNIZED EC");
        assert!(!is_abort(ec::SVC64));
    }

    #[test]
    fn brk_immediate_is_in_the_iss() {
        let esr = (0x3cu64 << 26) | ESR_ELX_IL | 0x7f0;
        assert_eq!(esr_iss(esr) & ESR_ELX_BRK64_ISS_COMMENT_MASK, 0x7f0);
    }
}
