//! `struct pt_regs`: the register frame that `kernel_entry` saves on the kernel stack
//! (Linux `arch/arm64/include/asm/ptrace.h`).
//!
//! The layout of the first fields matches Linux 6.1 exactly (`regs[31]`, `sp`, `pc`,
//! `pstate`, `orig_x0`, `syscallno`); Linux's `sdei_ttbr1`, `pmr_save`, `lockdep_hardirqs`
//! and `exit_rcu` serve features forkos does not have and are left out, so the frame is
//! 304 bytes instead of 336. `entry.S` gets every offset from here through `offset_of!`.

use core::fmt;
use core::mem::{offset_of, size_of};

/// The saved context of an exception: what `kernel_entry` stores and `kernel_exit` restores.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PtRegs {
    /// x0-x30 (x29 is the frame pointer, x30 the link register).
    pub regs: [u64; 31],
    /// The interrupted stack pointer: `sp_el0` for EL0, the kernel sp for EL1.
    pub sp: u64,
    /// Where the exception was taken (`elr_el1`).
    pub pc: u64,
    /// The interrupted PSTATE (`spsr_el1`).
    pub pstate: u64,
    /// x0 as it was at syscall entry; x0 itself is overwritten by the result.
    pub orig_x0: u64,
    /// The syscall number, or [`NO_SYSCALL`] when the exception is not a syscall.
    pub syscallno: i32,
    pub unused2: u32,
    /// A frame record {fp, lr} so that backtraces can cross exceptions.
    pub stackframe: [u64; 2],
}

/// `syscallno` of an exception that is not a system call.
pub const NO_SYSCALL: i32 = -1;

/// `pstate` mode field: EL0 with SP_EL0.
pub const PSR_MODE_EL0T: u64 = 0b0000;
/// `pstate` mode field: EL1 with SP_EL1.
pub const PSR_MODE_EL1H: u64 = 0b0101;
/// Mask of the mode field of `pstate`.
pub const PSR_MODE_MASK: u64 = 0b1111;
/// The execution state bit: set for AArch32 (`PSR_MODE32_BIT`).
pub const PSR_MODE32_BIT: u64 = 1 << 4;
/// The branch target type of a pending BTI check (`PSR_BTYPE_MASK`).
pub const PSR_BTYPE_MASK: u64 = 0b11 << 10;
/// PSTATE bits that are RES0 for AArch64 EL0 (`SPSR_EL1_AARCH64_RES0_BITS`).
pub const SPSR_EL1_AARCH64_RES0_BITS: u64 =
    (0xffff_ffff << 32) | (0b11 << 26) | (0b11 << 22) | (0xff << 13) | (1 << 5);
/// The software step bit (`DBG_SPSR_SS`).
pub const DBG_SPSR_SS: u64 = 1 << 21;
/// D, A, I, F masked (`PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT`).
pub const PSR_DAIF_MASK: u64 = 0b1111 << 6;

/// Size of the frame; `kernel_ventry` subtracts it from sp (Linux `PT_REGS_SIZE`).
pub const PT_REGS_SIZE: usize = size_of::<PtRegs>();
pub const S_X0: usize = offset_of!(PtRegs, regs);
pub const S_LR: usize = offset_of!(PtRegs, regs) + 30 * 8;
pub const S_SP: usize = offset_of!(PtRegs, sp);
pub const S_PC: usize = offset_of!(PtRegs, pc);
pub const S_PSTATE: usize = offset_of!(PtRegs, pstate);
pub const S_ORIG_X0: usize = offset_of!(PtRegs, orig_x0);
pub const S_SYSCALLNO: usize = offset_of!(PtRegs, syscallno);
pub const S_STACKFRAME: usize = offset_of!(PtRegs, stackframe);

// The stack must stay 16-byte aligned after `sub sp, sp, #PT_REGS_SIZE`, and the
// `stp` pairs in entry.S need sp and pc (and lr and sp) to be adjacent.
const _: () = assert!(PT_REGS_SIZE.is_multiple_of(16));
const _: () = assert!(S_SP == S_LR + 8 && S_PSTATE == S_PC + 8);
const _: () = assert!(S_STACKFRAME.is_multiple_of(16));

impl PtRegs {
    /// Was the exception taken from EL0 (user mode)?
    pub fn user_mode(&self) -> bool {
        self.pstate & PSR_MODE_MASK == PSR_MODE_EL0T
    }
}

impl fmt::Display for PtRegs {
    /// The register dump of an oops, laid out as Linux's `__show_regs` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pc : {:#018x}", self.pc)?;
        writeln!(f, "lr : {:#018x}", self.regs[30])?;
        writeln!(f, "sp : {:#018x}", self.sp)?;
        writeln!(
            f,
            "pstate: {:#010x} (EL{}{}, DAIF {:#x})",
            self.pstate,
            (self.pstate >> 2) & 3,
            if self.pstate & 1 == 1 { "h" } else { "t" },
            (self.pstate >> 6) & 0xf
        )?;
        for r in (1..30).rev().step_by(2) {
            writeln!(
                f,
                "x{:<2}: {:#018x} x{:<2}: {:#018x}",
                r,
                self.regs[r],
                r - 1,
                self.regs[r - 1]
            )?;
        }
        Ok(())
    }
}
