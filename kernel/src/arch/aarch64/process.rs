//! The architecture half of a task: its saved kernel context, user TLS and FP/SIMD
//! registers, and switching between tasks (Linux `arch/arm64/kernel/process.c`,
//! `arch/arm64/include/asm/processor.h`, `cpu_switch_to` and `ret_from_fork` in `entry.S`).
//!
//! A task that is not running is described by two frames:
//! - its `pt_regs` at the top of its kernel stack: the user context, saved by `kernel_entry`;
//! - its [`CpuContext`] in the task: where in the kernel it stopped (callee-saved registers,
//!   sp and the pc to resume at), saved by `cpu_switch_to`.
//!
//! A new task has never stopped anywhere, so [`copy_thread`] makes up a `CpuContext` that
//! resumes at `ret_from_fork` on an empty stack below the child's `pt_regs`.

use core::mem::offset_of;

use aarch64_cpu::registers::{Readable, Writeable, TPIDR_EL0};

use super::memory::{KSTACK_SLOT, KSTACK_START, THREAD_SIZE};
use super::ptrace::{PtRegs, PSR_MODE_EL0T, PSR_MODE_EL1H, PT_REGS_SIZE, S_STACKFRAME};
use crate::task::Task;

/// Callee-saved registers, sp and pc of a task stopped in the kernel (Linux
/// `struct cpu_context`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct CpuContext {
    pub x19: u64,
    pub x20: u64,
    pub x21: u64,
    pub x22: u64,
    pub x23: u64,
    pub x24: u64,
    pub x25: u64,
    pub x26: u64,
    pub x27: u64,
    pub x28: u64,
    pub fp: u64,
    pub sp: u64,
    pub pc: u64,
}

/// User FP/SIMD registers (Linux `struct user_fpsimd_state`).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct FpsimdState {
    pub vregs: [u128; 32],
    pub fpsr: u32,
    pub fpcr: u32,
    pub _pad: [u32; 2],
}

/// The arch-specific part of a task (Linux `struct thread_struct`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct ThreadStruct {
    /// Where `cpu_switch_to` resumes the task. First, as in Linux.
    pub cpu_context: CpuContext,
    /// The user TLS register, `tpidr_el0` (Linux `uw.tp_value`).
    pub tp_value: u64,
    /// The user's FP/SIMD registers while the task is not on the CPU.
    pub fpsimd_state: FpsimdState,
}

/// Offset of `thread.cpu_context` in `Task`, for `cpu_switch_to` (Linux
/// `THREAD_CPU_CONTEXT` in asm-offsets).
pub const THREAD_CPU_CONTEXT: usize =
    offset_of!(Task, thread) + offset_of!(ThreadStruct, cpu_context);
const CPU_CONTEXT_SIZE: usize = core::mem::size_of::<CpuContext>();
// cpu_switch_to adds it as an immediate.
const _: () = assert!(THREAD_CPU_CONTEXT < 4096);
const _: () = assert!(offset_of!(CpuContext, fp) == 80 && offset_of!(CpuContext, pc) == 96);

extern "C" {
    /// Save prev's callee-saved registers, sp and return address in its `cpu_context`,
    /// load next's, set `sp_el0` (current) to next, and return into next. Returns `prev`
    /// (in x0) as seen by next (Linux `cpu_switch_to`).
    fn cpu_switch_to(
        prev: *const core::ffi::c_void,
        next: *const core::ffi::c_void,
    ) -> *const core::ffi::c_void;
    /// Where every new task starts (Linux `ret_from_fork`).
    pub fn ret_from_fork();
    fn fpsimd_save_state(state: *mut FpsimdState);
    fn fpsimd_load_state(state: *const FpsimdState);
    fn fpsimd_switch_state(save: *mut FpsimdState, load: *const FpsimdState);
}

core::arch::global_asm!(
    "
    .text
    .global cpu_switch_to
cpu_switch_to:
    add     x8, x0, #{THREAD_CPU_CONTEXT}   // (Linux needs a mov first: its offset is large)
    mov     x9, sp
    stp     x19, x20, [x8], #16         // store callee-saved registers
    stp     x21, x22, [x8], #16
    stp     x23, x24, [x8], #16
    stp     x25, x26, [x8], #16
    stp     x27, x28, [x8], #16
    stp     x29, x9, [x8], #16          // fp, sp
    str     lr, [x8]                    // pc: resume after the call to cpu_switch_to
    add     x8, x1, #{THREAD_CPU_CONTEXT}
    ldp     x19, x20, [x8], #16         // restore callee-saved registers
    ldp     x21, x22, [x8], #16
    ldp     x23, x24, [x8], #16
    ldp     x25, x26, [x8], #16
    ldp     x27, x28, [x8], #16
    ldp     x29, x9, [x8], #16
    ldr     lr, [x8]
    mov     sp, x9
    msr     sp_el0, x1                  // current = next
    ret

    .global ret_from_fork
ret_from_fork:
    bl      schedule_tail               // x0 = prev, as cpu_switch_to left it
    cbz     x19, 1f                     // not a kernel thread
    mov     x0, x20
    blr     x19                         // kernel thread: fn(arg)
1:  mov     x0, sp                      // a user task, or a kernel thread that returned
    bl      asm_exit_to_user_mode       // to run a user program (as Linux's init does)
    mov     x0, sp
    mov     x1, x19                     // callee-saved: still fn, or 0
    bl      trace_ret_from_fork_to_user // the fork trace: the frame kernel_exit restores
    b       ret_to_user

    // The only FP/SIMD instructions in the kernel: saving and loading user state (Linux
    // `fpsimd_save` / `fpsimd_restore` in fpsimdmacros.h).
    .arch_extension fp
    .arch_extension simd
    .macro  fpsimd_save state
    stp     q0, q1, [\\state, #32 * 0]
    stp     q2, q3, [\\state, #32 * 1]
    stp     q4, q5, [\\state, #32 * 2]
    stp     q6, q7, [\\state, #32 * 3]
    stp     q8, q9, [\\state, #32 * 4]
    stp     q10, q11, [\\state, #32 * 5]
    stp     q12, q13, [\\state, #32 * 6]
    stp     q14, q15, [\\state, #32 * 7]
    stp     q16, q17, [\\state, #32 * 8]
    stp     q18, q19, [\\state, #32 * 9]
    stp     q20, q21, [\\state, #32 * 10]
    stp     q22, q23, [\\state, #32 * 11]
    stp     q24, q25, [\\state, #32 * 12]
    stp     q26, q27, [\\state, #32 * 13]
    stp     q28, q29, [\\state, #32 * 14]
    stp     q30, q31, [\\state, #32 * 15]
    mrs     x8, fpsr
    str     w8, [\\state, #{FPSIMD_FPSR}]
    mrs     x8, fpcr
    str     w8, [\\state, #{FPSIMD_FPCR}]
    .endm

    .macro  fpsimd_restore state
    ldp     q0, q1, [\\state, #32 * 0]
    ldp     q2, q3, [\\state, #32 * 1]
    ldp     q4, q5, [\\state, #32 * 2]
    ldp     q6, q7, [\\state, #32 * 3]
    ldp     q8, q9, [\\state, #32 * 4]
    ldp     q10, q11, [\\state, #32 * 5]
    ldp     q12, q13, [\\state, #32 * 6]
    ldp     q14, q15, [\\state, #32 * 7]
    ldp     q16, q17, [\\state, #32 * 8]
    ldp     q18, q19, [\\state, #32 * 9]
    ldp     q20, q21, [\\state, #32 * 10]
    ldp     q22, q23, [\\state, #32 * 11]
    ldp     q24, q25, [\\state, #32 * 12]
    ldp     q26, q27, [\\state, #32 * 13]
    ldp     q28, q29, [\\state, #32 * 14]
    ldp     q30, q31, [\\state, #32 * 15]
    ldr     w8, [\\state, #{FPSIMD_FPSR}]
    msr     fpsr, x8
    ldr     w8, [\\state, #{FPSIMD_FPCR}]
    msr     fpcr, x8
    .endm

    .global fpsimd_save_state
fpsimd_save_state:
    fpsimd_save x0
    ret

    .global fpsimd_load_state
fpsimd_load_state:
    fpsimd_restore x0
    ret

    // A context switch's: save the outgoing task's registers, load the incoming one's.
    .global fpsimd_switch_state
fpsimd_switch_state:
    fpsimd_save x0
    fpsimd_restore x1
    ret
",
    THREAD_CPU_CONTEXT = const THREAD_CPU_CONTEXT,
    FPSIMD_FPSR = const offset_of!(FpsimdState, fpsr),
    FPSIMD_FPCR = const offset_of!(FpsimdState, fpcr),
);
const _: () = assert!(CPU_CONTEXT_SIZE == 104);

/// The `pt_regs` at the top of `task`'s kernel stack (Linux `task_pt_regs`).
pub fn task_pt_regs(task: &Task) -> *mut PtRegs {
    (task.stack.top() - PT_REGS_SIZE as u64) as *mut PtRegs
}

/// The numbers GDB needs to find a task's kernel stack, and so its `pt_regs`
/// (`scripts/forkos-gdb.py`). Rust emits no debug info for `const`s, so they are kept
/// here, in a static the debugger reads; struct layouts come from the debug info. Linux
/// generates `scripts/gdb/linux/constants.py` from its headers for the same reason.
#[repr(C)]
pub struct GdbConstants {
    /// `THREAD_SIZE`: a kernel stack's size.
    pub thread_size: u64,
    /// `KSTACK_START`: kernel stack slot `n` starts at `kstack_start + n * kstack_slot`
    /// (`slot_base` in `mm/kstack.rs`).
    pub kstack_start: u64,
    /// `KSTACK_SLOT`: bytes of address space per stack slot.
    pub kstack_slot: u64,
}

/// Read by GDB only; `#[used]` keeps it (and its debug info) in the image.
#[used]
pub static GDB_CONSTANTS: GdbConstants = GdbConstants {
    thread_size: THREAD_SIZE as u64,
    kstack_start: KSTACK_START,
    kstack_slot: KSTACK_SLOT,
};

/// What the child of a fork should start with.
pub enum ChildStart {
    /// A kernel thread running `f(arg)`.
    KernelThread {
        f: extern "C" fn(u64) -> u64,
        arg: u64,
    },
    /// A user task returning to user space at the parent's `svc`, with sp `stack` (0 =
    /// the parent's) and, with `CLONE_SETTLS`, TLS `tls`.
    User { stack: u64, tls: Option<u64> },
}

/// Set up a new task's registers (Linux `copy_thread`, arch/arm64/kernel/process.c).
///
/// # Safety
/// `p` must be a new task that has not run, whose kernel stack is not in use.
// Never inlined: `fk-break-fork` (scripts/forkos-gdb.py) and the walkthrough stop here,
// so it must stay a function of its own whatever its callers become.
#[inline(never)]
pub unsafe fn copy_thread(p: &Task, start: ChildStart) {
    let childregs = task_pt_regs(p);
    // SAFETY: the new task's thread struct is not shared with anyone yet.
    let thread = unsafe { &mut *p.thread.get() };
    thread.cpu_context = CpuContext::default();
    match start {
        ChildStart::User { stack, tls } => {
            // SAFETY: the current task is in a syscall, so its pt_regs hold the user
            // context; childregs is the top of the child's unused stack.
            unsafe {
                // One copy of the frame (Linux `*childregs = *current_pt_regs()`): two
                // tasks' stacks never overlap.
                core::ptr::copy_nonoverlapping(crate::task::current_pt_regs(), childregs, 1);
                // EXERCISE copy_thread: begin
                (*childregs).regs[0] = 0; // the child's fork() returns 0
                if stack != 0 {
                    (*childregs).sp = stack;
                }
                // EXERCISE copy_thread: end
            }
            // EXERCISE copy_thread: begin
            // The live TLS register, not a possibly stale saved copy.
            thread.tp_value = tls.unwrap_or_else(|| TPIDR_EL0.get());
            // EXERCISE copy_thread: end
            // The child starts with the parent's FP/SIMD registers (Linux's
            // arch_dup_task_struct saves them first, then copies the task).
            // SAFETY: the state buffer is the child's own.
            unsafe { fpsimd_save_state(&mut thread.fpsimd_state) };
        }
        ChildStart::KernelThread { f, arg } => {
            // SAFETY: as above.
            unsafe {
                *childregs = PtRegs::default();
                (*childregs).pstate = PSR_MODE_EL1H; // a stray eret would be illegal
            }
            thread.cpu_context.x19 = f as *const () as u64;
            thread.cpu_context.x20 = arg;
        }
    }
    thread.cpu_context.pc = ret_from_fork as *const () as u64;
    thread.cpu_context.sp = childregs as u64;
    thread.cpu_context.fp = childregs as u64 + S_STACKFRAME as u64;
}

/// Prepare `regs` to start a user program at `pc` with stack `sp` (Linux `start_thread`).
pub fn start_thread(regs: &mut PtRegs, pc: u64, sp: u64) {
    *regs = PtRegs::default();
    regs.pc = pc;
    regs.sp = sp;
    regs.pstate = PSR_MODE_EL0T;
    regs.syscallno = super::ptrace::NO_SYSCALL;
}

/// Copy the current task's user FP/SIMD registers out of the CPU (for a signal frame).
pub fn fpsimd_save_current(state: &mut FpsimdState) {
    // SAFETY: the kernel never uses FP/SIMD registers, so they hold the current task's
    // user state; `state` is valid for writing.
    unsafe { fpsimd_save_state(state) };
}

/// Load the current task's user FP/SIMD registers (from `rt_sigreturn`).
pub fn fpsimd_load_current(state: &FpsimdState) {
    // SAFETY: the registers belong to the current task's user context, which `state`
    // replaces; nothing in the kernel depends on them.
    unsafe { fpsimd_load_state(state) };
}

/// Reset the user FP/SIMD registers and TLS of the current task, for a new program.
pub fn flush_thread() {
    let state = FpsimdState::default();
    // SAFETY: loading zeroes into this CPU's FP/SIMD registers, which are the current
    // task's user state.
    unsafe { fpsimd_load_state(&state) };
    TPIDR_EL0.set(0);
}

/// Switch the CPU from `prev` to `next`: user TLS and FP/SIMD state, then registers
/// and stack (Linux `__switch_to` + `cpu_switch_to`). Returns the task we switched away
/// from, as seen when this call returns in some later switch back to `prev`.
///
/// # Safety
/// Interrupts must be masked; `next` must be runnable and not running anywhere.
///
/// Always inlined into `__schedule` (as Linux's `switch_to` macro is): once `__schedule`
/// used its result (`last`, for `finish_task_switch`), LLVM outlined it, and the call
/// cost a yield-to-yield switch a tick.
#[inline(always)]
pub unsafe fn switch_to(prev: &Task, next: &Task) -> *const Task {
    // SAFETY: prev is the current task: its thread struct is only touched by itself;
    // next is not running, so its thread struct is not in use either.
    unsafe {
        let p = &mut *prev.thread.get();
        let n = &*next.thread.get();
        p.tp_value = TPIDR_EL0.get();
        TPIDR_EL0.set(n.tp_value);
        fpsimd_switch_state(&mut p.fpsimd_state, &n.fpsimd_state);
        super::percpu::set_entry_task(next);
        cpu_switch_to(
            prev as *const Task as *const core::ffi::c_void,
            next as *const Task as *const core::ffi::c_void,
        ) as *const Task
    }
}
