//! `struct pt_regs`: the register frame that `kernel_entry` saves on the kernel stack
//! (Linux `arch/arm64/include/asm/ptrace.h`).
//!
//! The layout of the first fields matches Linux 6.1 exactly (`regs[31]`, `sp`, `pc`,
//! `pstate`, `orig_x0`, `syscallno`); Linux's `sdei_ttbr1`, `pmr_save`, `lockdep_hardirqs`
//! and `exit_rcu` serve features forkos does not have and are left out, so the frame is
//! 304 bytes instead of 336. `entry.S` gets every offset from here through `offset_of!`.
//!
//! Below the frame, the arm64 half of `ptrace` (Linux `arch/arm64/kernel/ptrace.c`):
//! [`arch_ptrace`], the regsets a tracer reads and writes (`NT_PRSTATUS`, `NT_PRFPREG`,
//! `NT_ARM_SYSTEM_CALL`), and the syscall-enter and -exit stops, which tell the tracer
//! which one it is in `x7`.

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

use forkos_lib::uapi::ptrace::{
    NT_ARM_SYSTEM_CALL, NT_PRFPREG, NT_PRSTATUS, PTRACE_GETREGSET, PTRACE_SYSCALL_ENTER,
    PTRACE_SYSCALL_EXIT, USER_FPSIMD_STATE_SIZE, USER_PT_REGS_SIZE,
};

use crate::errno::{Errno, SysResult, EFAULT, EINVAL};
use crate::mm::uaccess::{copy_from_user, copy_to_user, UserPtr};
use crate::ptrace::TracedTask;

/// The requests of arm64 (Linux `arch_ptrace`): none of its own beyond the generic
/// ones, whose regsets are below.
pub fn arch_ptrace(child: TracedTask, request: i64, addr: u64, data: u64) -> SysResult {
    crate::ptrace::ptrace_request(child, request, addr, data)
}

/// One register set a tracer reads and writes (Linux `struct user_regset`): `n`
/// slots of `size` bytes, named by its ELF note type.
struct UserRegset {
    core_note_type: u64,
    n: usize,
    size: usize,
}

/// The regsets of an AArch64 task (Linux `aarch64_regsets`, the ones forkos has).
const AARCH64_REGSETS: [UserRegset; 3] = [
    // `struct user_pt_regs`: x0-x30, sp, pc, pstate.
    UserRegset {
        core_note_type: NT_PRSTATUS,
        n: USER_PT_REGS_SIZE / 8,
        size: 8,
    },
    // `struct user_fpsimd_state`: v0-v31, fpsr, fpcr.
    UserRegset {
        core_note_type: NT_PRFPREG,
        n: USER_FPSIMD_STATE_SIZE / 4,
        size: 4,
    },
    // The syscall number, an int.
    UserRegset {
        core_note_type: NT_ARM_SYSTEM_CALL,
        n: 1,
        size: 4,
    },
];

/// The largest regset, for the buffers.
const REGSET_MAX: usize = USER_FPSIMD_STATE_SIZE;

/// `user_pt_regs` is the first part of `pt_regs`, as in Linux.
const _: () = assert!(S_PSTATE + 8 == USER_PT_REGS_SIZE);

/// A regset's contents as bytes (Linux `gpr_get`, `fpr_get`, `system_call_get`).
fn regset_get(child: &mut TracedTask, note: u64, out: &mut [u8; REGSET_MAX]) {
    match note {
        NT_PRSTATUS => {
            let regs = *child.regs();
            let tail = [regs.sp, regs.pc, regs.pstate];
            for (i, w) in regs.regs.iter().chain(tail.iter()).enumerate() {
                out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        NT_PRFPREG => {
            let fp = child.thread().fpsimd_state;
            for (i, v) in fp.vregs.iter().enumerate() {
                out[i * 16..i * 16 + 16].copy_from_slice(&v.to_le_bytes());
            }
            out[512..516].copy_from_slice(&fp.fpsr.to_le_bytes());
            out[516..520].copy_from_slice(&fp.fpcr.to_le_bytes());
            out[520..528].fill(0);
        }
        _ => {
            let scno = child.regs().syscallno;
            out[..4].copy_from_slice(&scno.to_le_bytes());
        }
    }
}

/// Write a regset back from bytes (Linux `gpr_set`, `fpr_set`, `system_call_set`):
/// general registers only as a valid EL0 state (`EINVAL` otherwise); writing x8 does
/// not change the syscall, `NT_ARM_SYSTEM_CALL` does (-1 skips it).
fn regset_set(child: &mut TracedTask, note: u64, buf: &[u8; REGSET_MAX]) -> Result<(), Errno> {
    let word = |i: usize| u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    match note {
        NT_PRSTATUS => {
            let mut newregs = *child.regs();
            for (i, r) in newregs.regs.iter_mut().enumerate() {
                *r = word(i);
            }
            newregs.sp = word(31);
            newregs.pc = word(32);
            newregs.pstate = word(33);
            if !super::signal::valid_user_regs(&mut newregs) {
                return Err(EINVAL);
            }
            *child.regs() = newregs;
        }
        NT_PRFPREG => {
            let fp = &mut child.thread().fpsimd_state;
            for (i, v) in fp.vregs.iter_mut().enumerate() {
                *v = u128::from_le_bytes(buf[i * 16..i * 16 + 16].try_into().expect("16 bytes"));
            }
            fp.fpsr = u32::from_le_bytes(buf[512..516].try_into().expect("4 bytes"));
            fp.fpcr = u32::from_le_bytes(buf[516..520].try_into().expect("4 bytes"));
        }
        _ => {
            child.regs().syscallno = i32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
        }
    }
    Ok(())
}

/// `PTRACE_GETREGSET`/`SETREGSET` of regset `note` through the tracer's buffer at
/// `base` of `len` bytes (Linux `ptrace_regset`): `EINVAL` for an unknown regset or a
/// length not a whole number of slots; at most the whole regset is copied, the rest of
/// it (for a short set) kept. Returns the length copied, for the iovec.
pub fn ptrace_regset(
    child: &mut TracedTask,
    request: i64,
    note: u64,
    base: u64,
    len: u64,
) -> Result<u64, Errno> {
    let regset = AARCH64_REGSETS
        .iter()
        .find(|r| r.core_note_type == note)
        .ok_or(EINVAL)?;
    if !len.is_multiple_of(regset.size as u64) {
        return Err(EINVAL);
    }
    let len = len.min((regset.n * regset.size) as u64) as usize;
    let mut buf = [0u8; REGSET_MAX];
    regset_get(child, note, &mut buf);
    if request == PTRACE_GETREGSET {
        copy_to_user(UserPtr::new(base), &buf[..len]).map_err(|_| EFAULT)?;
    } else {
        copy_from_user(&mut buf[..len], UserPtr::new(base)).map_err(|_| EFAULT)?;
        regset_set(child, note, &buf)?;
    }
    Ok(len as u64)
}

/// Stop for the tracer at a syscall's entry or exit, with x7 saying which (0 entry, 1
/// exit) while stopped and restored after (Linux arm64 `report_syscall`). A tracee that
/// is to die at the entry stop skips the syscall (`forget_syscall`).
///
/// # Safety
/// `regs` is the current task's `pt_regs`, and no reference to them lives across this
/// call: the tracer reads and writes them while we are stopped.
unsafe fn report_syscall(regs: *mut PtRegs, dir: u64) {
    // SAFETY: the caller's promise; each access is its own, none spans the stop.
    unsafe {
        let saved = (*regs).regs[7];
        (*regs).regs[7] = dir;
        if dir == PTRACE_SYSCALL_ENTER {
            if crate::ptrace::ptrace_report_syscall_entry() {
                (*regs).syscallno = NO_SYSCALL;
            }
            (*regs).regs[7] = saved;
        } else if !crate::task::current().test_flag(crate::task::TIF_SINGLESTEP) {
            crate::ptrace::ptrace_report_syscall_exit();
            (*regs).regs[7] = saved;
        } else {
            // Stepping: the svc was the step; a pseudo-step SIGTRAP says so, since the
            // tracer's changes may have rewound the step state (Linux
            // `user_single_step_report`).
            (*regs).regs[7] = saved;
            crate::ptrace::user_single_step_report();
        }
    }
}

/// Before a syscall runs (Linux arm64 `syscall_trace_enter`): the syscall-enter stop if
/// the tracer asked for it. Returns the syscall to run, which the tracer may have
/// changed or made [`NO_SYSCALL`].
///
/// # Safety
/// As for [`report_syscall`].
pub unsafe fn syscall_trace_enter(regs: *mut PtRegs) -> i32 {
    if crate::task::current().test_flag(crate::task::TIF_SYSCALL_TRACE) {
        // SAFETY: the caller's promise.
        unsafe { report_syscall(regs, PTRACE_SYSCALL_ENTER) };
    }
    // SAFETY: as above.
    unsafe { (*regs).syscallno }
}

/// After a syscall (Linux arm64 `syscall_trace_exit`): the syscall-exit stop, or for a
/// stepped task the step's report.
///
/// # Safety
/// As for [`report_syscall`].
pub unsafe fn syscall_trace_exit(regs: *mut PtRegs) {
    use crate::task::{TIF_SINGLESTEP, TIF_SYSCALL_TRACE};
    if crate::task::current().test_flag(TIF_SYSCALL_TRACE | TIF_SINGLESTEP) {
        // SAFETY: the caller's promise.
        unsafe { report_syscall(regs, PTRACE_SYSCALL_EXIT) };
    }
}
