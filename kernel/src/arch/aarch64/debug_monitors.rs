//! Single-stepping user tasks for `PTRACE_SINGLESTEP` (Linux
//! `arch/arm64/kernel/debug-monitors.c`).
//!
//! The CPU's software step: with `MDSCR_EL1.SS` set and `SPSR_EL1.SS` set in the state
//! an `eret` returns to, EL0 runs one instruction and then takes a software step
//! exception (EC 0x32) to EL1. A task being stepped carries `TIF_SINGLESTEP`: on its way
//! back to user space `MDSCR_EL1.SS` is set (Linux `enable_step_tsk` in `ret_to_user`),
//! on every entry from user space cleared again (`disable_step_tsk` in `kernel_entry`),
//! so that no other task is stepped; the step exception becomes a `SIGTRAP` with
//! `TRAP_TRACE`, which the tracer sees as a signal-delivery stop.

use super::ptrace::{PtRegs, DBG_SPSR_SS};
use crate::ptrace::TracedTask;
use crate::task::{current, Task, TIF_SINGLESTEP};

/// `MDSCR_EL1.SS`: software step enabled (Linux `DBG_MDSCR_SS`).
const DBG_MDSCR_SS: u64 = 1 << 0;

/// Unlock this CPU's debug registers and turn every debug feature off (Linux
/// `clear_os_lock` and `__cpu_setup`'s `mdscr_el1`): the OS lock is set at reset, and
/// while it is, no software step exception is taken. Called once on each CPU.
pub fn debug_monitors_init() {
    // SAFETY: writing the OS lock and the debug control register affects only debug
    // exceptions, which forkos takes nowhere until a task is single-stepped.
    unsafe {
        core::arch::asm!(
            "msr oslar_el1, xzr",
            "msr mdscr_el1, xzr",
            "isb",
            options(nostack)
        )
    };
}

/// Set or clear `MDSCR_EL1.SS` on this CPU.
fn mdscr_set_ss(on: bool) {
    let mut mdscr: u64;
    // SAFETY: reading the debug control register has no side effects.
    unsafe { core::arch::asm!("mrs {}, mdscr_el1", out(reg) mdscr, options(nomem, nostack)) };
    let new = if on {
        mdscr | DBG_MDSCR_SS
    } else {
        mdscr & !DBG_MDSCR_SS
    };
    if new != mdscr {
        // SAFETY: software step only takes effect at EL0 (kernel debug, `KDE`, is off).
        unsafe { core::arch::asm!("msr mdscr_el1, {}", "isb", in(reg) new, options(nostack)) };
    }
}

/// On the way back to user space: step if the task is to be stepped (Linux
/// `enable_step_tsk`).
pub fn enable_step_tsk(t: &Task) {
    if t.test_flag(TIF_SINGLESTEP) {
        mdscr_set_ss(true);
    }
}

/// On entry from user space: stop stepping, so that whatever runs next is not stepped
/// (Linux's `disable_step_tsk` macro, which also takes the thread flags read at entry).
#[inline(always)]
pub fn disable_step_tsk(flags: u64) {
    if flags & TIF_SINGLESTEP != 0 {
        mdscr_set_ss(false);
    }
}

/// Step the tracee one instruction when it next returns to user space (Linux
/// `user_enable_single_step`): the step is armed in its saved `SPSR.SS` only when it
/// was not being stepped already; a stepped task's step exception re-arms it.
pub fn user_enable_single_step(child: &mut TracedTask) {
    let flags = &child.task().thread_info.flags;
    if flags.fetch_or(TIF_SINGLESTEP, core::sync::atomic::Ordering::Relaxed) & TIF_SINGLESTEP == 0 {
        child.regs().pstate |= DBG_SPSR_SS;
    }
}

/// Stop stepping the tracee (Linux `user_disable_single_step`).
pub fn user_disable_single_step(task: &Task) {
    task.clear_flag(TIF_SINGLESTEP);
}

/// A user task took a software step exception (Linux `single_step_handler` for user
/// mode): `SIGTRAP` with `TRAP_TRACE` at the pc, and the step armed again for the next
/// instruction (`user_rewind_single_step`).
pub fn single_step_handler(regs: &mut PtRegs) {
    crate::signal::force_sig_fault(
        crate::signal::SIGTRAP,
        crate::signal::TRAP_TRACE,
        "single-step",
        regs.pc,
        regs.pc,
    );
    if current().test_flag(TIF_SINGLESTEP) {
        regs.pstate |= DBG_SPSR_SS;
    }
}
