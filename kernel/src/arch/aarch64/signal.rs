//! Signal frames on the user stack (Linux `arch/arm64/kernel/signal.c`).
//!
//! To run a handler, the kernel saves the interrupted user context — every register,
//! sp, pc, pstate, the FP/SIMD registers, and the signal mask — in a `struct
//! rt_sigframe` on the user stack, then points pc at the handler with x0 = signal,
//! x1 = `&frame.info`, x2 = `&frame.uc`, and x30 = the `sa_restorer` trampoline, which
//! calls `rt_sigreturn`. That syscall reads the frame back ([`restore_sigframe`]): the
//! handler returns to exactly where the signal interrupted.

use alloc::boxed::Box;

use super::process::{fpsimd_load_current, fpsimd_save_current, FpsimdState};
use super::ptrace::{PtRegs, PSR_DAIF_MASK, PSR_MODE_MASK};
use crate::errno::*;
use crate::mm::uaccess::{copy_from_user, copy_to_user};
use crate::signal::{KSigInfo, SigAction, SA_RESTORER};

/// `struct sigcontext`: the registers, then `__reserved` for records such as FP/SIMD.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Sigcontext {
    fault_address: u64,
    regs: [u64; 31],
    sp: u64,
    pc: u64,
    pstate: u64,
    _pad: u64,
    reserved: [u8; 4096],
}

/// `struct ucontext` (arm64 layout).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Ucontext {
    uc_flags: u64,
    uc_link: u64,
    ss_sp: u64,
    ss_flags: i32,
    _ss_pad: i32,
    ss_size: u64,
    uc_sigmask: u64,
    _unused: [u8; 120],
    _pad: u64,
    uc_mcontext: Sigcontext,
}

/// `struct rt_sigframe`: the siginfo the handler gets in x1, then the ucontext in x2.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct RtSigframe {
    info: [u8; 128],
    uc: Ucontext,
}

const _: () = assert!(core::mem::size_of::<Sigcontext>() == 4384);
const _: () = assert!(core::mem::offset_of!(Ucontext, uc_mcontext) == 176);
const _: () = assert!(core::mem::size_of::<RtSigframe>() == 4688);

/// The return trampoline handlers go back through when they have no `SA_RESTORER`
/// (Linux's vDSO `__kernel_rt_sigreturn`; glibc on arm64 relies on it): `mov x8, #139;
/// svc #0`, i.e. `rt_sigreturn`. The kernel maps it into every program at
/// [`crate::mm::SIGPAGE`].
pub const SIGTRAMP_CODE: [u32; 2] = [0xd280_1168, 0xd400_0001];

/// The FP/SIMD record in `__reserved` (Linux `struct fpsimd_context`).
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: usize = 16 + 32 * 16;

/// The frame's bytes.
fn as_bytes(f: &mut RtSigframe) -> &mut [u8] {
    // SAFETY: RtSigframe is plain integers and byte arrays with no implicit padding (the
    // asserts above pin the layout), so any byte pattern is a valid value.
    unsafe {
        core::slice::from_raw_parts_mut(
            f as *mut RtSigframe as *mut u8,
            core::mem::size_of::<RtSigframe>(),
        )
    }
}

/// The siginfo bytes the handler sees (Linux `copy_siginfo_to_user`): signo, errno,
/// code, then the union: the fault address for faults; sender pid and uid otherwise;
/// and for SIGCHLD the child's status.
fn siginfo_bytes(info: &KSigInfo) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[0..4].copy_from_slice(&info.signo.to_le_bytes());
    b[8..12].copy_from_slice(&info.code.to_le_bytes());
    if info.fault {
        b[16..24].copy_from_slice(&info.addr.to_le_bytes());
    } else {
        b[16..20].copy_from_slice(&info.pid.to_le_bytes());
        b[20..24].copy_from_slice(&info.uid.to_le_bytes());
        b[24..28].copy_from_slice(&info.status.to_le_bytes());
    }
    b
}

/// Build the signal frame below the interrupted sp and set the registers to run the
/// handler (Linux `setup_rt_frame` + `setup_return`). `blocked` is the mask to restore
/// on return. Fails with `EFAULT` if the stack cannot take the frame.
pub fn setup_rt_frame(
    regs: &mut PtRegs,
    info: &KSigInfo,
    action: &SigAction,
    blocked: u64,
) -> Result<(), Errno> {
    // A frame record (fp, lr) for backtraces through the handler, then the frame.
    let record = (regs.sp.wrapping_sub(16)) & !15;
    let size = core::mem::size_of::<RtSigframe>() as u64;
    let frame = record.wrapping_sub(size) & !15;
    // SAFETY: all-zero bytes are a valid RtSigframe (integers and byte arrays).
    let mut f: Box<RtSigframe> = unsafe { Box::new_zeroed().assume_init() };
    f.info = siginfo_bytes(info);
    f.uc.uc_sigmask = blocked;
    let mc = &mut f.uc.uc_mcontext;
    mc.fault_address = if info.fault { info.addr } else { 0 };
    mc.regs = regs.regs;
    mc.sp = regs.sp;
    mc.pc = regs.pc;
    mc.pstate = regs.pstate;
    let mut fp = FpsimdState::default();
    fpsimd_save_current(&mut fp);
    mc.reserved[0..4].copy_from_slice(&FPSIMD_MAGIC.to_le_bytes());
    mc.reserved[4..8].copy_from_slice(&(FPSIMD_SIZE as u32).to_le_bytes());
    mc.reserved[8..12].copy_from_slice(&fp.fpsr.to_le_bytes());
    mc.reserved[12..16].copy_from_slice(&fp.fpcr.to_le_bytes());
    for (i, v) in fp.vregs.iter().enumerate() {
        mc.reserved[16 + i * 16..32 + i * 16].copy_from_slice(&v.to_le_bytes());
    }
    // The next 8 bytes stay zero: the terminating record.
    copy_to_user(frame, as_bytes(&mut f))?;
    let mut rec = [0u8; 16];
    rec[..8].copy_from_slice(&regs.regs[29].to_le_bytes());
    rec[8..].copy_from_slice(&regs.regs[30].to_le_bytes());
    copy_to_user(record, &rec)?;
    regs.regs[0] = info.signo as u64;
    regs.regs[1] = frame;
    regs.regs[2] = frame + core::mem::offset_of!(RtSigframe, uc) as u64;
    regs.regs[29] = record;
    // Without SA_RESTORER, return through the trampoline page (Linux: the vDSO's).
    regs.regs[30] = if action.flags & SA_RESTORER != 0 {
        action.restorer
    } else {
        crate::mm::SIGPAGE
    };
    regs.sp = frame;
    regs.pc = action.handler;
    Ok(())
}

/// Read the frame at the user sp back into the registers and the FP/SIMD unit, for
/// `rt_sigreturn` (Linux `restore_sigframe`). Returns the saved signal mask. A
/// misaligned sp, an unreadable frame, a pstate that is not plain EL0, or a missing
/// FP/SIMD record is an error: the caller kills the task with SIGSEGV.
pub fn restore_sigframe(regs: &mut PtRegs) -> Result<u64, Errno> {
    if !regs.sp.is_multiple_of(16) {
        return Err(EFAULT);
    }
    // SAFETY: as in setup_rt_frame.
    let mut f: Box<RtSigframe> = unsafe { Box::new_zeroed().assume_init() };
    copy_from_user(as_bytes(&mut f), regs.sp)?;
    let mc = &f.uc.uc_mcontext;
    // Only an AArch64 EL0 state with interrupts unmasked may be returned to (Linux
    // `valid_user_regs`).
    if mc.pstate & (PSR_MODE_MASK | (1 << 4) | PSR_DAIF_MASK) != 0 {
        return Err(EINVAL);
    }
    let word = |o: usize| u32::from_le_bytes(mc.reserved[o..o + 4].try_into().expect("4 bytes"));
    if word(0) != FPSIMD_MAGIC || word(4) as usize != FPSIMD_SIZE {
        return Err(EINVAL);
    }
    let mut fp = FpsimdState {
        fpsr: word(8),
        fpcr: word(12),
        ..FpsimdState::default()
    };
    for (i, v) in fp.vregs.iter_mut().enumerate() {
        let o = 16 + i * 16;
        *v = u128::from_le_bytes(mc.reserved[o..o + 16].try_into().expect("16 bytes"));
    }
    regs.regs = mc.regs;
    regs.sp = mc.sp;
    regs.pc = mc.pc;
    regs.pstate = mc.pstate & 0xf000_0000; // NZCV; everything else as EL0 entry sets it
    fpsimd_load_current(&fp);
    Ok(f.uc.uc_sigmask)
}
