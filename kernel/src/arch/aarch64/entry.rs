//! Assembles `entry.S` (the vectors, `kernel_entry` and `kernel_exit`) with the `pt_regs`
//! offsets of [`PtRegs`].

use super::memory::THREAD_SHIFT;
use super::percpu::PERCPU_ENTRY_TASK;
use super::ptrace::*;
use super::traps::OVERFLOW_STACK_SIZE;

core::arch::global_asm!(
    include_str!("entry.S"),
    PT_REGS_SIZE = const PT_REGS_SIZE,
    S_X0 = const S_X0,
    S_LR = const S_LR,
    S_PC = const S_PC,
    S_SYSCALLNO = const S_SYSCALLNO,
    S_STACKFRAME = const S_STACKFRAME,
    NO_SYSCALL = const NO_SYSCALL,
    PERCPU_ENTRY_TASK = const PERCPU_ENTRY_TASK,
    THREAD_SHIFT = const THREAD_SHIFT,
    OVERFLOW_STACK_SIZE = const OVERFLOW_STACK_SIZE,
);
