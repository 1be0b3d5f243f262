/*
 * Exception entry and exit (Linux: arch/arm64/kernel/entry.S).
 *
 * Every exception lands in one 128-byte slot of `vectors`, which makes room for a
 * struct pt_regs on the current kernel stack and branches to a per-kind stub. The stub
 * runs kernel_entry (save the interrupted context into that pt_regs), calls the Rust
 * handler with x0 = the pt_regs, then leaves through kernel_exit (restore everything from
 * the pt_regs and eret). Offsets such as {S_X0} and {S_PC} are offset_of! values from the
 * Rust struct PtRegs (kernel/src/arch/aarch64/ptrace.rs), passed in by global_asm!.
 */

/* Save the interrupted context into the pt_regs at sp (Linux kernel_entry). */
    .macro  kernel_entry, el
    stp     x0, x1, [sp, #{S_X0} + 16 * 0]
    stp     x2, x3, [sp, #{S_X0} + 16 * 1]
    stp     x4, x5, [sp, #{S_X0} + 16 * 2]
    stp     x6, x7, [sp, #{S_X0} + 16 * 3]
    stp     x8, x9, [sp, #{S_X0} + 16 * 4]
    stp     x10, x11, [sp, #{S_X0} + 16 * 5]
    stp     x12, x13, [sp, #{S_X0} + 16 * 6]
    stp     x14, x15, [sp, #{S_X0} + 16 * 7]
    stp     x16, x17, [sp, #{S_X0} + 16 * 8]
    stp     x18, x19, [sp, #{S_X0} + 16 * 9]
    stp     x20, x21, [sp, #{S_X0} + 16 * 10]
    stp     x22, x23, [sp, #{S_X0} + 16 * 11]
    stp     x24, x25, [sp, #{S_X0} + 16 * 12]
    stp     x26, x27, [sp, #{S_X0} + 16 * 13]
    stp     x28, x29, [sp, #{S_X0} + 16 * 14]

    .if     \el == 0
    mrs     x21, sp_el0                 // the user stack pointer
    mrs     x20, tpidr_el1              // this CPU's data
    ldr     x20, [x20, #{PERCPU_ENTRY_TASK}]
    msr     sp_el0, x20                 // in the kernel, sp_el0 holds current
    .else
    add     x21, sp, #{PT_REGS_SIZE}    // the kernel sp before the exception
    .endif
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     lr, x21, [sp, #{S_LR}]      // regs[30], sp

    /* A frame record so that a backtrace can walk from the handler into what was interrupted. */
    .if     \el == 0
    stp     xzr, xzr, [sp, #{S_STACKFRAME}]
    .else
    stp     x29, x22, [sp, #{S_STACKFRAME}]
    .endif
    add     x29, sp, #{S_STACKFRAME}

    stp     x22, x23, [sp, #{S_PC}]     // pc, pstate
    mov     w21, #{NO_SYSCALL}          // el0_svc fills in the real number and orig_x0
    str     w21, [sp, #{S_SYSCALLNO}]
    .endm

/* Restore the context from the pt_regs at sp and return to it (Linux kernel_exit). */
    .macro  kernel_exit, el
    .if     \el == 1
    msr     daifset, #0xf               // no interrupt between here and eret
    .endif                              // (to EL0: exit_to_user_mode masked them)
    ldp     x21, x22, [sp, #{S_PC}]     // pc, pstate
    .if     \el == 0
    ldp     lr, x23, [sp, #{S_LR}]      // lr, and sp beside it (Linux loads them apart)
    msr     sp_el0, x23                 // the user stack pointer
    .endif
    msr     elr_el1, x21
    msr     spsr_el1, x22
    ldp     x0, x1, [sp, #{S_X0} + 16 * 0]
    ldp     x2, x3, [sp, #{S_X0} + 16 * 1]
    ldp     x4, x5, [sp, #{S_X0} + 16 * 2]
    ldp     x6, x7, [sp, #{S_X0} + 16 * 3]
    ldp     x8, x9, [sp, #{S_X0} + 16 * 4]
    ldp     x10, x11, [sp, #{S_X0} + 16 * 5]
    ldp     x12, x13, [sp, #{S_X0} + 16 * 6]
    ldp     x14, x15, [sp, #{S_X0} + 16 * 7]
    ldp     x16, x17, [sp, #{S_X0} + 16 * 8]
    ldp     x18, x19, [sp, #{S_X0} + 16 * 9]
    ldp     x20, x21, [sp, #{S_X0} + 16 * 10]
    ldp     x22, x23, [sp, #{S_X0} + 16 * 11]
    ldp     x24, x25, [sp, #{S_X0} + 16 * 12]
    ldp     x26, x27, [sp, #{S_X0} + 16 * 13]
    ldp     x28, x29, [sp, #{S_X0} + 16 * 14]
    .if     \el == 1
    ldr     lr, [sp, #{S_LR}]
    .endif
    add     sp, sp, #{PT_REGS_SIZE}
    eret
    dsb     nsh                         // no speculation past eret
    isb
    .endm

/*
 * One vector slot: make room for pt_regs and go to the stub (Linux kernel_ventry).
 *
 * From EL1, first check that the kernel stack has not overflowed, without a free
 * register: every kernel stack is aligned to twice its size, so bit THREAD_SHIFT of an
 * sp inside it is 0 and of one in the unmapped area below it is 1. The add/sub dance
 * tests sp's bit through x0 and puts both back (Linux's trick). On overflow, stash the
 * sp in tpidr_el0 and x0 in tpidrro_el0 and go on, on the overflow stack, to
 * __bad_stack.
 */
    .macro  kernel_ventry, el, ht, regsize, label
    .balign 128
    sub     sp, sp, #{PT_REGS_SIZE}
    .if     \el == 1
    add     sp, sp, x0                  // sp' = sp + x0
    sub     x0, sp, x0                  // x0' = sp
    tbnz    x0, #{THREAD_SHIFT}, 0f
    sub     x0, sp, x0                  // x0 back
    sub     sp, sp, x0                  // sp back
    b       el\el\ht\()_\regsize\()_\label
0:  msr     tpidr_el0, x0               // the overflowed sp (pt_regs would start there)
    sub     x0, sp, x0
    msr     tpidrro_el0, x0             // the interrupted x0
    adrp    x0, overflow_stack
    add     x0, x0, :lo12:overflow_stack
    add     sp, x0, #{OVERFLOW_STACK_SIZE}
    b       __bad_stack
    .else
    b       el\el\ht\()_\regsize\()_\label
    .endif
    .endm

/*
 * A stub: save, call the Rust handler with the pt_regs, restore (Linux entry_handler).
 * The stub of system calls (EL0 sync) is placed right before ret_to_user and falls
 * through into it, one branch fewer on the most frequent way in and out.
 */
    .macro  entry_handler, el, ht, regsize, label, fallthrough=0
el\el\ht\()_\regsize\()_\label:
    kernel_entry \el
    mov     x0, sp
    bl      el\el\ht\()_\regsize\()_\label\()_handler
    .if     \fallthrough == 0
    .if     \el == 0
    b       ret_to_user
    .else
    b       ret_to_kernel
    .endif
    .endif
    .endm

    .section ".text.vectors", "ax"
    .balign 2048
    .global vectors
vectors:
    kernel_ventry 1, t, 64, sync            // EL1 with SP_EL0: never used by forkos
    kernel_ventry 1, t, 64, irq
    kernel_ventry 1, t, 64, fiq
    kernel_ventry 1, t, 64, error
    kernel_ventry 1, h, 64, sync            // EL1 with SP_EL1: the kernel itself
    kernel_ventry 1, h, 64, irq
    kernel_ventry 1, h, 64, fiq
    kernel_ventry 1, h, 64, error
    kernel_ventry 0, t, 64, sync            // EL0, AArch64: user tasks
    kernel_ventry 0, t, 64, irq
    kernel_ventry 0, t, 64, fiq
    kernel_ventry 0, t, 64, error
    kernel_ventry 0, t, 32, sync          // EL0, AArch32: not supported
    kernel_ventry 0, t, 32, irq
    kernel_ventry 0, t, 32, fiq
    kernel_ventry 0, t, 32, error

    .text
    entry_handler 1, t, 64, sync
    entry_handler 1, t, 64, irq
    entry_handler 1, t, 64, fiq
    entry_handler 1, t, 64, error
    entry_handler 1, h, 64, sync
    entry_handler 1, h, 64, irq
    entry_handler 1, h, 64, fiq
    entry_handler 1, h, 64, error
    entry_handler 0, t, 64, irq
    entry_handler 0, t, 64, fiq
    entry_handler 0, t, 64, error
    entry_handler 0, t, 32, sync
    entry_handler 0, t, 32, irq
    entry_handler 0, t, 32, fiq
    entry_handler 0, t, 32, error

/* The kernel stack overflowed: report it from the overflow stack (Linux __bad_stack). */
__bad_stack:
    sub     sp, sp, #{PT_REGS_SIZE}
    kernel_entry 1
    mov     x0, sp
    bl      handle_bad_stack            // never returns

    .global ret_to_kernel
ret_to_kernel:
    kernel_exit 1

    entry_handler 0, t, 64, sync, fallthrough=1   // falls through:
    .global ret_to_user
ret_to_user:
    kernel_exit 0
