//! The Rust side of the exception vectors: one handler per vector stub in `entry.S`
//! (Linux `arch/arm64/kernel/entry-common.c`, `traps.c`, and `arch/arm64/mm/fault.c` for
//! faults taken in the kernel).
//!
//! Each handler gets the `pt_regs` that `kernel_entry` saved. Whatever it changes there
//! is what `kernel_exit` restores.

use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use forkos_lib::esr::*;

use super::irqflags::{local_irq_disable, local_irq_enable};
use super::ptrace::{PtRegs, PSR_BTYPE_MASK};
use crate::mm::memory::{Access, Fault};
use crate::signal::{
    force_sig_fault, BUS_ADRALN, ILL_ILLOPC, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGILL, SIGKILL,
    SIGSEGV, SIGTRAP, TRAP_BRKPT,
};
use crate::task::{current, Current};
use crate::{irq, print, println, selftest};

/// QEMU's exit status after an oops (an exception the kernel cannot handle).
pub const EXIT_OOPS: u32 = 102;

/// Print the decoded syndrome of an abort (Linux `mem_abort_decode`).
fn mem_abort_decode(esr: u64) {
    let ec = esr_class(esr);
    let iss = esr_iss(esr);
    println!("Mem abort info:");
    println!("  ESR = {esr:#018x}");
    println!(
        "  EC = {ec:#04x}: {}, IL = {} bits",
        esr_class_str(ec),
        if esr & ESR_ELX_IL != 0 { 32 } else { 16 }
    );
    println!(
        "  FnV = {}, S1PTW = {}",
        (iss & ESR_ELX_FNV != 0) as u8,
        (iss & ESR_ELX_S1PTW != 0) as u8
    );
    let fsc = (iss & ESR_ELX_FSC) as u8;
    println!("  FSC = {fsc:#04x}: {}", fault_name(fsc));
    if matches!(ec, ec::DABT_CUR | ec::DABT_LOW) {
        println!("Data abort info:");
        println!("  ISS = {iss:#010x}");
        println!(
            "  CM = {}, WnR = {}",
            (iss & ESR_ELX_CM != 0) as u8,
            (iss & ESR_ELX_WNR != 0) as u8
        );
    }
}

/// Report an exception the kernel cannot survive and power off (Linux `die`).
pub fn die(msg: &str, regs: &PtRegs, esr: u64) -> ! {
    let ec = esr_class(esr);
    println!(
        "Internal error: {msg}: {esr:016x} [#1] (EC {ec:#04x}: {})",
        esr_class_str(ec)
    );
    println!("FAR_EL1: {:#018x}", FAR_EL1.get());
    print!("{regs}");
    println!("---[ end trace ]---");
    super::semihosting::exit(EXIT_OOPS)
}

/// Size of the stack the vectors switch to when a kernel stack has overflowed (Linux
/// `OVERFLOW_STACK_SIZE`).
pub const OVERFLOW_STACK_SIZE: usize = 8192;

/// The stack [`handle_bad_stack`] runs on (Linux's per-CPU `overflow_stack`; forkos
/// runs on one CPU).
#[no_mangle]
static mut overflow_stack: [u128; OVERFLOW_STACK_SIZE / 16] = [0; OVERFLOW_STACK_SIZE / 16];

/// An exception found the kernel stack overflowed (Linux `handle_bad_stack`): report
/// where, from the overflow stack, and panic. `regs` were saved on the overflow stack;
/// the vectors left the real sp and x0 in TPIDR_EL0 and TPIDRRO_EL0.
#[no_mangle]
extern "C" fn handle_bad_stack(regs: &mut PtRegs) -> ! {
    let (sp, x0): (u64, u64);
    // SAFETY: reading two scratch registers the vectors just wrote.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el0", "mrs {}, tpidrro_el0", out(reg) sp, out(reg) x0,
            options(nomem, nostack))
    };
    regs.sp = sp + super::ptrace::PT_REGS_SIZE as u64;
    regs.regs[0] = x0;
    let esr = ESR_EL1.get();
    let t = &current();
    println!("Insufficient stack space to handle exception!");
    println!("ESR: {esr:#018x} -- {}", esr_class_str(esr_class(esr)));
    println!("FAR: {:#018x}", FAR_EL1.get());
    println!(
        "Task stack:     [{:#018x}..{:#018x}] (pid {})",
        t.stack.base(),
        t.stack.top(),
        t.pid
    );
    let o = core::ptr::addr_of!(overflow_stack) as u64;
    println!(
        "Overflow stack: [{o:#018x}..{:#018x}]",
        o + OVERFLOW_STACK_SIZE as u64
    );
    print!("{regs}");
    panic!("kernel stack overflow")
}

/// A data or instruction abort taken in the kernel (Linux `__do_kernel_fault`).
fn do_kernel_fault(regs: &PtRegs, esr: u64) -> ! {
    let far = FAR_EL1.get();
    let what = if far < forkos_lib::pgtable::PAGE_SIZE as u64 {
        "NULL pointer dereference"
    } else {
        "paging request"
    };
    println!("Unable to handle kernel {what} at virtual address {far:016x}");
    if far < crate::mm::TASK_SIZE
        && is_permission_fault((esr_iss(esr) & ESR_ELX_FSC) as u8)
        && super::cpufeature::pan_enabled()
    {
        println!("Kernel access to user memory blocked by PAN (use copy_from_user/copy_to_user)");
    }
    mem_abort_decode(esr);
    die("Oops", regs, esr)
}

/// Synchronous exception from the kernel (Linux `el1h_64_sync_handler`).
#[no_mangle]
extern "C" fn el1h_64_sync_handler(regs: &mut PtRegs) {
    let esr = ESR_EL1.get();
    match esr_class(esr) {
        ec::DABT_CUR | ec::IABT_CUR => do_kernel_fault(regs, esr),
        ec::BRK64 => {
            let imm = esr_iss(esr) & ESR_ELX_BRK64_ISS_COMMENT_MASK;
            if !selftest::brk_handler(regs, imm) {
                die("Oops - BRK", regs, esr);
            }
        }
        _ => die("Oops - unexpected synchronous exception", regs, esr),
    }
}

/// IRQ taken in the kernel (Linux `el1h_64_irq_handler`): handle it, then preempt the
/// interrupted kernel code if it is preemptible and something else should run
/// (Linux `arm64_preempt_schedule_irq`).
#[no_mangle]
extern "C" fn el1h_64_irq_handler(_regs: &mut PtRegs) {
    irq::handle_irq();
    if crate::sched::preempt_count() == 0 && crate::sched::need_resched() {
        crate::sched::preempt_schedule_irq();
    }
}

/// The thread flags that send a return to user space through
/// [`exit_to_user_mode_loop`] (Linux `_TIF_WORK_MASK`).
const EXIT_TO_USER_MODE_WORK: u64 = crate::task::TIF_NEED_RESCHED
    | crate::task::TIF_SIGPENDING
    | crate::task::TIF_NOTIFY_RESUME
    | crate::task::TIF_SINGLESTEP;

/// Work before returning to user space: reschedule if asked, take pending signals and
/// settle a syscall a signal interrupted (Linux `exit_to_user_mode` ->
/// `do_notify_resume`). `regs` is the user context about to be restored.
#[inline(always)]
pub fn exit_to_user_mode(regs: &mut PtRegs) {
    // Look at the work flags with interrupts masked, so that no wake-up or signal lands
    // between the look and the `eret` (Linux `exit_to_user_mode_prepare`).
    local_irq_disable();
    let t = &current();
    let work = t.read_thread_flags() & EXIT_TO_USER_MODE_WORK;
    // The fast path, taken by nearly every return: nothing to do. A syscall returns an
    // -ERESTART* code only when a signal interrupted it, so with TIF_SIGPENDING set,
    // which only the task itself clears (in do_signal): the slow path settles those.
    if work == 0 {
        return;
    }
    exit_to_user_mode_loop(t, regs);
}

/// The slow path of [`exit_to_user_mode`] (Linux `exit_to_user_mode_loop`).
#[inline(never)]
fn exit_to_user_mode_loop(t: &crate::task::Task, regs: &mut PtRegs) {
    loop {
        if crate::sched::need_resched() {
            crate::sched::preempt_schedule_irq();
            // Linux `rseq_preempt`, from `__schedule`.
            crate::rseq::rseq_preempt(t);
            continue;
        }
        let restart = regs.syscallno != crate::arch::ptrace::NO_SYSCALL
            && crate::signal::is_restart_code(regs.regs[0]);
        if t.signal_pending() || restart {
            // Signals are handled with interrupts on, as Linux's `do_notify_resume` does:
            // a fatal one runs the whole of `do_exit` from here.
            local_irq_enable();
            super::signal::do_signal(regs);
            local_irq_disable();
            continue;
        }
        if t.test_flag(crate::task::TIF_NOTIFY_RESUME) {
            // Linux `resume_user_mode_work` -> `rseq_handle_notify_resume`: user memory
            // is written, with interrupts on.
            t.clear_flag(crate::task::TIF_NOTIFY_RESUME);
            local_irq_enable();
            crate::rseq::rseq_handle_notify_resume(regs, false);
            local_irq_disable();
            continue;
        }
        break;
    }
    super::debug_monitors::enable_step_tsk(t);
}

/// `ret_from_fork`'s way into [`exit_to_user_mode`], with the child's pt_regs.
#[no_mangle]
extern "C" fn asm_exit_to_user_mode(regs: &mut PtRegs) {
    exit_to_user_mode(regs);
}

/// A system call and the way back to user space (Linux `el0_svc` -> `do_el0_svc` ->
/// `el0_svc_common`, then `exit_to_user_mode`); `t` is current, `flags` its thread
/// flags read at entry.
#[inline(always)]
fn el0_svc(regs: &mut PtRegs, t: &Current, flags: u64) {
    regs.orig_x0 = regs.regs[0];
    // An int, as in Linux (`syscallno`, `invoke_syscall`'s `scno`): the low half of x8,
    // loaded as 32 bits, already zero-extended for the table index.
    // SAFETY: in-bounds, aligned read of the first (on little-endian AArch64: the low)
    // four bytes of the saved x8.
    let scno = unsafe { (&raw const regs.regs[8]).cast::<u32>().read() };
    regs.syscallno = scno as i32;
    local_irq_enable();
    // A tracer asked for syscall stops (Linux `has_syscall_work`): it sees the call
    // before it runs, may change or skip it, and sees its result.
    use crate::task::TIF_SYSCALL_TRACE;
    if flags & TIF_SYSCALL_TRACE != 0 {
        // SAFETY: `regs` is the current task's pt_regs, saved for this syscall.
        unsafe { el0_svc_traced(regs) };
        return exit_to_user_mode(regs);
    }
    let ret = crate::syscall::invoke_syscall(scno, regs);
    regs.regs[0] = ret as u64;
    // A tracer that stopped us inside the call (a fork event, say) may have asked for
    // syscall stops since: this call's exit is the first; a stepped task reports the
    // exit too. Linux re-reads the flags here with interrupts masked, and
    // `exit_to_user_mode` reads them once more; one read serves both here, and nothing
    // to do is the common case: every flag is work here, one test.
    local_irq_disable();
    let flags = t.read_thread_flags();
    if flags & crate::task::TIF_ALL != 0 {
        el0_svc_exit_work(regs, flags);
    }
}

/// The slow way out of a system call: its exit stop for a tracer, then the work of
/// [`exit_to_user_mode`].
#[cold]
#[inline(never)]
fn el0_svc_exit_work(regs: &mut PtRegs, flags: u64) {
    use crate::task::{TIF_SINGLESTEP, TIF_SYSCALL_TRACE};
    if flags & (TIF_SYSCALL_TRACE | TIF_SINGLESTEP) != 0 {
        local_irq_enable();
        // SAFETY: `regs` is the current task's pt_regs, saved for this syscall; the
        // pointer passed on is the frame's only user here.
        unsafe { super::ptrace::syscall_trace_exit(regs) };
    }
    exit_to_user_mode(regs);
}

/// A system call with syscall stops (the `has_syscall_work` half of Linux
/// `el0_svc_common`): a skipped call (number -1, as the tracer set it) leaves x0 as
/// it is, except that a user's own `syscall(-1)` gets `-ENOSYS`.
///
/// The registers are a raw pointer here, not a reference: the tracer reads and writes
/// them while we are stopped, so no access may be moved across a stop.
///
/// # Safety
/// `regs` is the current task's `pt_regs`, saved by `kernel_entry` for this syscall.
#[cold]
#[inline(never)]
unsafe fn el0_svc_traced(regs: *mut PtRegs) {
    use super::ptrace::{syscall_trace_enter, syscall_trace_exit, NO_SYSCALL};
    // SAFETY: `regs` is ours for this syscall (the caller's promise); the stops in
    // `syscall_trace_enter`/`_exit` get the same pointer, and no reference to the
    // frame lives across them.
    unsafe {
        if (*regs).syscallno == NO_SYSCALL {
            (*regs).regs[0] = -(crate::errno::ENOSYS.0 as i64) as u64;
        }
        let scno = syscall_trace_enter(regs);
        if scno != NO_SYSCALL {
            let ret = crate::syscall::invoke_syscall(scno as u32, &*regs);
            (*regs).regs[0] = ret as u64;
        }
        syscall_trace_exit(regs);
    }
}

/// An abort from user space: a page fault to resolve, or a signal (Linux `el0_da`,
/// `el0_ia` -> `do_mem_abort` -> `do_page_fault`).
fn el0_abort(regs: &mut PtRegs, esr: u64, instruction: bool) {
    // User addresses may carry a tag in their top byte, which the MMU ignores (TBI0, as
    // Linux's ABI promises); the fault address may keep it, so drop it (Linux
    // `untagged_addr`).
    let far = FAR_EL1.get();
    let far = if far & (1 << 55) == 0 {
        far & !(0xff << 56)
    } else {
        far
    };
    local_irq_enable();
    let fsc = (esr_iss(esr) & ESR_ELX_FSC) as u8;
    if fsc == 0x21 {
        return force_sig_fault(SIGBUS, BUS_ADRALN, "alignment fault", far, regs.pc);
    }
    let access = if instruction {
        Access::Exec
    } else if esr & ESR_ELX_WNR != 0 && esr & ESR_ELX_CM == 0 {
        Access::Write
    } else {
        Access::Read
    };
    let resolvable =
        is_translation_fault(fsc) || is_permission_fault(fsc) || matches!(fsc, 0x08..=0x0b);
    let result = if resolvable && far < crate::mm::TASK_SIZE {
        crate::mm::memory::do_page_fault(far, access)
    } else {
        Err(Fault::NoVma)
    };
    let what = if instruction {
        "instruction abort"
    } else {
        "data abort"
    };
    match result {
        Ok(()) => {}
        // No memory for the page: Linux's OOM killer ends the process with SIGKILL.
        Err(Fault::Oom) => force_sig_fault(SIGKILL, 0, "out of memory", far, regs.pc),
        Err(Fault::Access) => force_sig_fault(SIGSEGV, SEGV_ACCERR, what, far, regs.pc),
        Err(Fault::NoVma) => force_sig_fault(SIGSEGV, SEGV_MAPERR, what, far, regs.pc),
    }
}

/// Synchronous exception from user space (Linux `el0t_64_sync_handler`). System calls,
/// by far the most frequent, are tested for first.
#[no_mangle]
extern "C" fn el0t_64_sync_handler(regs: &mut PtRegs) {
    let (esr, class): (u64, u64);
    // SAFETY: reading ESR_EL1 has no side effects; ubfx extracts its class field.
    unsafe {
        core::arch::asm!(
            "mrs {esr}, esr_el1",
            "ubfx {class}, {esr}, #26, #6",
            esr = out(reg) esr,
            class = out(reg) class,
            options(nomem, nostack, preserves_flags)
        )
    };
    // The flags, read once here, serve the entry's two tests (Linux reads them in
    // `kernel_entry` for the step, and again in `el0_svc_common`; the bits tested can
    // only change while the task is stopped for its tracer).
    let t = current();
    let flags = t.read_thread_flags();
    super::debug_monitors::disable_step_tsk(flags);
    if class == ec::SVC64 as u64 {
        // Its own way out (Linux `el0_svc` ends with `exit_to_user_mode`).
        el0_svc(regs, &t, flags);
    } else {
        el0_sync_fault(regs, esr);
        exit_to_user_mode(regs);
    }
}

/// Every other synchronous exception from user space: a fault or a trap. (Cold only in
/// the sense of code layout: it keeps the syscall path straight.)
#[cold]
#[inline(never)]
fn el0_sync_fault(regs: &mut PtRegs, esr: u64) {
    match esr_class(esr) {
        ec::DABT_LOW => el0_abort(regs, esr, false),
        ec::IABT_LOW => el0_abort(regs, esr, true),
        ec::PC_ALIGN => force_sig_fault(SIGBUS, BUS_ADRALN, "pc alignment", regs.pc, regs.pc),
        ec::SP_ALIGN => force_sig_fault(SIGBUS, BUS_ADRALN, "sp alignment", regs.sp, regs.pc),
        ec::BRK64 => force_sig_fault(SIGTRAP, TRAP_BRKPT, "brk", regs.pc, regs.pc),
        ec::SOFTSTP_LOW => {
            local_irq_enable();
            super::debug_monitors::single_step_handler(regs);
        }
        ec::WFX | ec::SYS64 => do_el0_sys(regs, esr),
        ec::UNKNOWN => do_el0_undef(regs, esr),
        _ => force_sig_fault(
            SIGILL,
            ILL_ILLOPC,
            esr_class_str(esr_class(esr)),
            regs.pc,
            regs.pc,
        ),
    }
}

/// Step over the instruction that trapped, which has been emulated (Linux
/// `arm64_skip_faulting_instruction`): the next one runs with no branch target
/// pending.
fn arm64_skip_faulting_instruction(regs: &mut PtRegs) {
    regs.pc += 4;
    regs.pstate &= !PSR_BTYPE_MASK;
}

/// An instruction EL0 may not run: SIGILL at its address (Linux
/// `force_signal_inject(SIGILL, ILL_ILLOPC, ...)`).
fn el0_sigill(regs: &PtRegs, esr: u64) {
    force_sig_fault(
        SIGILL,
        ILL_ILLOPC,
        esr_class_str(esr_class(esr)),
        regs.pc,
        regs.pc,
    );
}

/// Give EL0 the value of the system register `sys_reg` in `rt`, or SIGILL if that
/// read is not emulated (Linux `do_emulate_mrs`). `sys_reg` holds op0, op1, CRn, CRm
/// and op2 as an `mrs` instruction's bits 20:5 do.
fn do_emulate_mrs(regs: &mut PtRegs, sys_reg: u32, rt: usize, esr: u64) {
    let (op0, op1) = ((sys_reg >> 14) & 3, (sys_reg >> 11) & 7);
    let (crn, crm, op2) = ((sys_reg >> 7) & 0xf, (sys_reg >> 3) & 0xf, sys_reg & 7);
    let value = if op0 == 3 {
        super::cpufeature::emulate_sys_reg(op1, crn, crm, op2)
    } else {
        None
    };
    match value {
        Some(v) => {
            if rt != 31 {
                regs.regs[rt] = v;
            }
            arm64_skip_faulting_instruction(regs);
        }
        None => el0_sigill(regs, esr),
    }
}

/// A trapped system instruction from EL0 (Linux `do_el0_sys` and its `sys64_hooks`):
/// `wfi` is skipped (`wfi_handler`: user space may not idle the CPU, and need not),
/// an `mrs` of an ID register (trapped as such with FEAT_IDST) is emulated
/// (`mrs_handler`); anything else is an undefined instruction.
fn do_el0_sys(regs: &mut PtRegs, esr: u64) {
    let iss = esr_iss(esr);
    match esr_class(esr) {
        ec::WFX if iss & ESR_ELX_WFX_ISS_TI == 0 => arm64_skip_faulting_instruction(regs),
        ec::SYS64 if iss & ESR_ELX_SYS64_ISS_DIR_READ != 0 => {
            // ISS: op0 21:20, op2 19:17, op1 16:14, CRn 13:10, Rt 9:5, CRm 4:1.
            let field = |shift: u32, bits: u32| ((iss >> shift) as u32) & ((1 << bits) - 1);
            let sys_reg = (field(20, 2) << 14)
                | (field(14, 3) << 11)
                | (field(10, 4) << 7)
                | (field(1, 4) << 3)
                | field(17, 3);
            do_emulate_mrs(regs, sys_reg, field(5, 5) as usize, esr);
        }
        _ => el0_sigill(regs, esr),
    }
}

/// An undefined instruction from EL0 (Linux `do_el0_undef` -> `call_undef_hook`):
/// an `mrs` of an ID register, undefined at EL0 without FEAT_IDST, is emulated
/// (`emulate_mrs`); anything else, or an instruction that cannot be read, is SIGILL.
fn do_el0_undef(regs: &mut PtRegs, esr: u64) {
    let mut insn = [0u8; 4];
    let pc = crate::mm::uaccess::UserPtr::new(regs.pc);
    if crate::mm::uaccess::copy_from_user(&mut insn, pc).is_err() {
        return el0_sigill(regs, esr);
    }
    let insn = u32::from_le_bytes(insn);
    // mrs Xt, S3_0_<Cn>_<Cm>_<op2> (Linux `mrs_hook`).
    if insn & 0xffff_0000 == 0xd538_0000 {
        return do_emulate_mrs(regs, (insn >> 5) & 0xffff, (insn & 0x1f) as usize, esr);
    }
    el0_sigill(regs, esr)
}

/// IRQ taken while user space ran (Linux `el0t_64_irq_handler`).
#[no_mangle]
extern "C" fn el0t_64_irq_handler(regs: &mut PtRegs) {
    super::debug_monitors::disable_step_tsk(current().read_thread_flags());
    let from_user = &super::percpu::this_cpu().irq_from_user;
    from_user.store(true, core::sync::atomic::Ordering::Relaxed);
    irq::handle_irq();
    from_user.store(false, core::sync::atomic::Ordering::Relaxed);
    exit_to_user_mode(regs);
}

/// A vector forkos never expects: report which one and stop (Linux `__panic_unhandled`).
fn bad_mode(regs: &PtRegs, vector: &str) -> ! {
    println!("Unhandled exception: {vector}");
    die("Oops - bad mode", regs, ESR_EL1.get())
}

macro_rules! unexpected_vectors {
    ($($name:ident),* $(,)?) => {
        $(
            #[no_mangle]
            extern "C" fn $name(regs: &mut PtRegs) {
                let name = stringify!($name);
                bad_mode(regs, name.strip_suffix("_handler").unwrap_or(name));
            }
        )*
    };
}

unexpected_vectors!(
    el1t_64_sync_handler,
    el1t_64_irq_handler,
    el1t_64_fiq_handler,
    el1t_64_error_handler,
    el1h_64_fiq_handler,
    el1h_64_error_handler,
    el0t_64_fiq_handler,
    el0t_64_error_handler,
    el0t_32_sync_handler,
    el0t_32_irq_handler,
    el0t_32_fiq_handler,
    el0t_32_error_handler,
);
