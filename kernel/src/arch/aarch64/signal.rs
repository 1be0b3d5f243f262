//! Signal frames on the user stack (Linux `arch/arm64/kernel/signal.c`).
//!
//! To run a handler, the kernel saves the interrupted user context — every register,
//! sp, pc, pstate, the FP/SIMD registers, and the signal mask — in a `struct
//! rt_sigframe` on the user stack, then points pc at the handler with x0 = signal,
//! x1 = `&frame.info`, x2 = `&frame.uc`, and x30 = the `sa_restorer` trampoline, which
//! calls `rt_sigreturn`. That syscall reads the frame back ([`restore_sigframe`]): the
//! handler returns to exactly where the signal interrupted.
//!
//! Also the arm64 half of taking a signal ([`do_signal`]): restarting the syscall it
//! interrupted, or making it fail with `EINTR`.

use alloc::boxed::Box;

use super::process::{fpsimd_load_current, fpsimd_save_current, FpsimdState};
use super::ptrace::{
    PtRegs, DBG_SPSR_SS, NO_SYSCALL, PSR_DAIF_MASK, PSR_MODE32_BIT, PSR_MODE_MASK,
    SPSR_EL1_AARCH64_RES0_BITS,
};
use crate::errno::*;
use crate::mm::uaccess::{copy_from_user, copy_to_user, UserPtr};
use crate::signal::{
    force_sig_fault, force_sigsegv, get_signal, recalc_sigpending, signal_setup_done, KSigInfo,
    SigAction, ERESTARTNOHAND, ERESTARTSYS, SA_RESTART, SA_RESTORER, SEGV_ACCERR, SEGV_MAPERR,
    SIGSEGV,
};
use crate::task::{current, Task, TIF_SIGPENDING};
// `struct ucontext`, `struct sigcontext` and the records in its `__reserved` (the
// FP/SIMD one is `FPSIMD_CONTEXT_SIZE` bytes).
use forkos_lib::uapi::sigcontext::{
    Sigcontext, Ucontext, ESR_MAGIC, EXTRA_MAGIC, FPSIMD_CONTEXT_SIZE as FPSIMD_SIZE, FPSIMD_MAGIC,
};
use forkos_lib::uapi::siginfo::SigInfo;

/// `struct rt_sigframe`: the siginfo the handler gets in x1, then the ucontext in x2.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct RtSigframe {
    info: SigInfo,
    uc: Ucontext,
}

const _: () = assert!(core::mem::size_of::<RtSigframe>() == 4688);

/// The return trampoline handlers go back through when they have no `SA_RESTORER`
/// (Linux's vDSO `__kernel_rt_sigreturn`; glibc on arm64 relies on it): `mov x8, #139;
/// svc #0`, i.e. `rt_sigreturn`. The kernel maps it into every program at
/// [`crate::mm::SIGPAGE`].
pub const SIGTRAMP_CODE: [u32; 2] = [0xd280_1168, 0xd400_0001];

/// The frame's bytes.
fn as_bytes(f: &mut RtSigframe) -> &mut [u8] {
    // SAFETY: RtSigframe is plain integers and byte arrays with no implicit padding (the
    // assert above and forkos-lib's on `SigInfo`, `Ucontext` and `Sigcontext` pin the
    // layout), so any byte pattern is a valid value.
    unsafe {
        core::slice::from_raw_parts_mut(
            f as *mut RtSigframe as *mut u8,
            core::mem::size_of::<RtSigframe>(),
        )
    }
}

/// The siginfo the handler sees (Linux `copy_siginfo_to_user`): signo, errno,
/// code, then the union: the fault address for faults; sender pid and uid otherwise;
/// and for SIGCHLD the child's status.
pub fn siginfo(info: &KSigInfo) -> SigInfo {
    let mut s = SigInfo {
        si_signo: info.signo,
        si_code: info.code,
        ..SigInfo::default()
    };
    if info.fault {
        s.set_si_addr(info.addr);
    } else {
        s.si_pid = info.pid;
        s.si_uid = info.uid;
        s.si_status = info.status;
    }
    s
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
    f.info = siginfo(info);
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
    copy_to_user(UserPtr::new(frame), as_bytes(&mut f))?;
    let mut rec = [0u8; 16];
    rec[..8].copy_from_slice(&regs.regs[29].to_le_bytes());
    rec[8..].copy_from_slice(&regs.regs[30].to_le_bytes());
    copy_to_user(UserPtr::new(record), &rec)?;
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

// Records in `__reserved` other than FP/SIMD: the fault's ESR (`ESR_MAGIC`), which a
// returning handler may leave and which is skipped, and a pointer to more records
// beyond `__reserved` (`EXTRA_MAGIC`). The SVE and SME records are unknown to forkos,
// as to Linux on a CPU without SVE or SME: they make the frame invalid.

/// `struct _aarch64_ctx`, the header of every record: magic and size.
const CTX_HEAD_SIZE: u64 = 8;
/// `struct extra_context`: head, `datap`, `size` and padding.
const EXTRA_CONTEXT_SIZE: u64 = 32;
/// The terminator after an `extra_context` record, rounded up (Linux `TERMINATOR_SIZE`).
const TERMINATOR_SIZE: u64 = 16;
/// The most a frame with its extra records may span (Linux `SIGFRAME_MAXSZ`).
const SIGFRAME_MAXSZ: u64 = 64 * 1024;

/// Where the frame's records are (Linux `struct user_ctxs`, the part forkos uses).
struct UserCtxs {
    /// The user address of the `fpsimd_context` record.
    fpsimd: Option<u64>,
}

/// Read a little-endian u32 and u64 of user memory.
fn get_user_u32(addr: u64) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    copy_from_user(&mut b, UserPtr::new(addr))?;
    Ok(u32::from_le_bytes(b))
}

fn get_user_u64(addr: u64) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    copy_from_user(&mut b, UserPtr::new(addr))?;
    Ok(u64::from_le_bytes(b))
}

/// Walk the records of the frame at `sf` (Linux `parse_user_sigframe`): in any order,
/// each 16-byte aligned with a size of at least its header, within `__reserved` (or
/// the `extra_context` area), up to a terminator of magic 0 and size 0. At most one
/// FP/SIMD record (of at least its size) and one `extra_context`; ESR records are
/// skipped; any other magic is invalid. Reads only the headers it walks.
fn parse_user_sigframe(sf: u64) -> Result<UserCtxs, Errno> {
    let mut user = UserCtxs { fpsimd: None };
    let mut base = sf
        + (core::mem::offset_of!(RtSigframe, uc)
            + core::mem::offset_of!(Ucontext, uc_mcontext)
            + core::mem::offset_of!(Sigcontext, reserved)) as u64;
    let mut offset = 0u64;
    let mut limit = core::mem::size_of::<[u8; 4096]>() as u64;
    let mut have_extra_context = false;
    loop {
        if limit - offset < CTX_HEAD_SIZE || !offset.is_multiple_of(16) {
            return Err(EINVAL);
        }
        let head = base + offset;
        let magic = get_user_u32(head)?;
        let size = get_user_u32(head + 4)? as u64;
        if limit - offset < size {
            return Err(EINVAL);
        }
        match magic {
            0 if size == 0 => return Ok(user),
            0 => return Err(EINVAL),
            FPSIMD_MAGIC => {
                if user.fpsimd.is_some() || size < FPSIMD_SIZE as u64 {
                    return Err(EINVAL);
                }
                user.fpsimd = Some(head);
            }
            ESR_MAGIC => {}
            EXTRA_MAGIC => {
                if have_extra_context || size < EXTRA_CONTEXT_SIZE {
                    return Err(EINVAL);
                }
                let extra_datap = get_user_u64(head + 8)?;
                let extra_size = get_user_u32(head + 16)? as u64;
                // A terminator must follow the record in __reserved ...
                if limit - offset - size < TERMINATOR_SIZE {
                    return Err(EINVAL);
                }
                let end = head + size;
                if get_user_u32(end)? != 0 || get_user_u32(end + 4)? != 0 {
                    return Err(EINVAL);
                }
                let userp = end + TERMINATOR_SIZE;
                have_extra_context = true;
                // ... and the extra records start right after it.
                base = extra_datap;
                if !base.is_multiple_of(16) || !extra_size.is_multiple_of(16) || base != userp {
                    return Err(EINVAL);
                }
                if extra_size > sf + SIGFRAME_MAXSZ - userp {
                    return Err(EINVAL);
                }
                offset = 0;
                limit = extra_size;
                if base
                    .checked_add(limit)
                    .is_none_or(|e| e > crate::mm::TASK_SIZE)
                {
                    return Err(EINVAL);
                }
                continue;
            }
            _ => return Err(EINVAL),
        }
        if size < CTX_HEAD_SIZE || limit - offset < size {
            return Err(EINVAL);
        }
        offset += size;
    }
}

/// Load the FP/SIMD registers from the record at `ctx` (Linux
/// `restore_fpsimd_context`): its size must be exactly the record's.
fn restore_fpsimd_context(ctx: u64) -> Result<(), Errno> {
    if get_user_u32(ctx)? != FPSIMD_MAGIC || get_user_u32(ctx + 4)? as usize != FPSIMD_SIZE {
        return Err(EINVAL);
    }
    let mut bytes = [0u8; FPSIMD_SIZE - 8];
    copy_from_user(&mut bytes, UserPtr::new(ctx + 8))?;
    let word = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let mut fp = FpsimdState {
        fpsr: word(0),
        fpcr: word(4),
        ..FpsimdState::default()
    };
    for (i, v) in fp.vregs.iter_mut().enumerate() {
        let o = 8 + i * 16;
        *v = u128::from_le_bytes(bytes[o..o + 16].try_into().expect("16 bytes"));
    }
    fpsimd_load_current(&fp);
    Ok(())
}

/// Only an AArch64 EL0 state with D, A, I and F clear may be returned to; any other
/// is forced to EL0t with just its condition flags, and refused (Linux
/// `valid_native_regs`).
pub(super) fn valid_user_regs(regs: &mut PtRegs) -> bool {
    // Not single-stepping (Linux `user_regs_reset_single_step`).
    regs.pstate &= !(SPSR_EL1_AARCH64_RES0_BITS | DBG_SPSR_SS);
    if regs.pstate & (PSR_MODE_MASK | PSR_MODE32_BIT | PSR_DAIF_MASK) == 0 {
        return true;
    }
    regs.pstate &= 0xf000_0000;
    false
}

/// Read the frame at the user sp back, for `rt_sigreturn` (Linux `restore_sigframe`):
/// the signal mask, the registers, then the records (`parse_user_sigframe`), of which
/// the FP/SIMD one must be there. Only the fields it needs are read. On an error the
/// mask and registers read so far stay, as in Linux; the caller sends SIGSEGV.
pub fn restore_sigframe(regs: &mut PtRegs) -> Result<(), Errno> {
    let sf = regs.sp;
    if !sf.is_multiple_of(16)
        || sf
            .checked_add(core::mem::size_of::<RtSigframe>() as u64)
            .is_none_or(|e| e > crate::mm::TASK_SIZE)
    {
        return Err(EFAULT);
    }
    let uc = sf + core::mem::offset_of!(RtSigframe, uc) as u64;
    let mc = uc + core::mem::offset_of!(Ucontext, uc_mcontext) as u64;
    let mut ok = match get_user_u64(uc + core::mem::offset_of!(Ucontext, uc_sigmask) as u64) {
        Ok(set) => {
            crate::signal::set_current_blocked(set);
            true
        }
        Err(_) => false,
    };
    // regs[0..31], sp, pc and pstate follow each other in both structs.
    let mut gprs = [0u8; 34 * 8];
    match copy_from_user(
        &mut gprs,
        UserPtr::new(mc + core::mem::offset_of!(Sigcontext, regs) as u64),
    ) {
        Ok(()) => {
            let w = |i: usize| u64::from_le_bytes(gprs[i * 8..i * 8 + 8].try_into().expect("8"));
            for (i, r) in regs.regs.iter_mut().enumerate() {
                *r = w(i);
            }
            regs.sp = w(31);
            regs.pc = w(32);
            regs.pstate = w(33);
        }
        Err(_) => ok = false,
    }
    ok &= valid_user_regs(regs);
    if !ok {
        return Err(EFAULT);
    }
    let user = parse_user_sigframe(sf)?;
    restore_fpsimd_context(user.fpsimd.ok_or(EINVAL)?)?;
    // The alternate signal stack settings, which forkos does not model, are read
    // (Linux `restore_altstack`) and ignored.
    let mut stack = [0u8; 24];
    copy_from_user(
        &mut stack,
        UserPtr::new(uc + core::mem::offset_of!(Ucontext, ss_sp) as u64),
    )?;
    Ok(())
}

/// On the way back to user space: restart or fail an interrupted syscall, and take
/// pending signals, running a handler if one is set (Linux arm64 `do_signal`; the
/// generic half is [`get_signal`]).
pub fn do_signal(regs: &mut PtRegs) {
    let t = &current();
    // A tracer may read and write the registers while `get_signal` stops us for it:
    // let the compiler know they escape, so that no access to them moves across it.
    core::hint::black_box(core::ptr::addr_of_mut!(*regs));
    let taken = if t.test_flag(TIF_SIGPENDING) {
        get_signal(t)
    } else {
        None
    };
    // A syscall that a signal interrupted.
    if regs.syscallno != NO_SYSCALL {
        let r = regs.regs[0] as i64;
        let restart = if r == -(ERESTARTSYS.0 as i64) {
            taken.is_none_or(|(_, a)| a.flags & SA_RESTART != 0)
        } else if r == -(ERESTARTNOHAND.0 as i64) {
            taken.is_none()
        } else {
            false
        };
        if restart {
            // Run the svc again: x0 as it came in, pc back on the svc instruction.
            regs.regs[0] = regs.orig_x0;
            regs.pc -= 4;
        } else if r == -(ERESTARTSYS.0 as i64) || r == -(ERESTARTNOHAND.0 as i64) {
            regs.regs[0] = -(EINTR.0 as i64) as u64;
        }
        regs.syscallno = NO_SYSCALL;
    }
    if let Some((info, action)) = taken {
        handle_signal(t, regs, &info, &action);
    } else {
        // No handler ran: the mask `ppoll` or `rt_sigsuspend` replaced comes back
        // (Linux `restore_saved_sigmask`).
        let saved = t.inner.lock().saved_sigmask.take();
        if let Some(set) = saved {
            crate::signal::set_current_blocked(set);
        }
    }
    recalc_sigpending(t);
}

/// Run the handler for `info` (Linux arm64 `handle_signal`): build the frame, then let
/// the generic code block what the handler's run blocks.
fn handle_signal(t: &Task, regs: &mut PtRegs, info: &KSigInfo, action: &SigAction) {
    // The frame keeps the mask from before `ppoll` or `rt_sigsuspend`, if one of them
    // replaced it (Linux `sigmask_to_save`).
    let blocked = {
        let mut i = t.inner.lock();
        let b = i.blocked;
        i.saved_sigmask.take().unwrap_or(b)
    };
    if setup_rt_frame(regs, info, action, blocked).is_err() {
        force_sigsegv(t, regs.sp);
    }
    signal_setup_done(t, info.signo, action);
}

/// `rt_sigreturn()`: back from a handler to the interrupted context, saved in the frame
/// at the user sp (Linux `sys_rt_sigreturn`). A bad frame gets SIGSEGV at the sp, as a
/// fault does (Linux `arm64_notify_segfault`): catchable, with whatever of the frame was
/// already read in place.
pub fn sys_rt_sigreturn() -> SysResult {
    let t = &current();
    // SAFETY: in a syscall, the current task's pt_regs are its user context.
    let regs = unsafe { &mut *t.pt_regs() };
    // Whatever x0 holds now must not look like a syscall to restart.
    regs.syscallno = NO_SYSCALL;
    match restore_sigframe(regs) {
        Ok(()) => Ok(regs.regs[0] as i64),
        Err(_) => {
            let addr = regs.sp;
            // SEGV_MAPERR if no mapping lies at or above the address (Linux `find_vma`).
            let mm = t.get_task_mm();
            let mapped = mm.is_some_and(|mm| mm.lock().vmas.iter().any(|v| v.end > addr));
            let code = if mapped { SEGV_ACCERR } else { SEGV_MAPERR };
            force_sig_fault(SIGSEGV, code, "bad frame in rt_sigreturn", addr, regs.pc);
            Ok(0)
        }
    }
}
