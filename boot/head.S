/*
 * boot/head.S: the first instructions of forkos (Linux: arch/arm64/kernel/head.S).
 *
 * QEMU loads the raw image at a 2 MiB-aligned physical address and jumps to its first
 * byte at EL1 (or EL2 with -M virt,virtualization=on), MMU off, with the device tree's
 * physical address in x0. From here to Rust:
 *   1. park every CPU but the boot CPU: the others start later, one at a time, at
 *      secondary_entry (below) when the boot CPU asks PSCI to start them;
 *   2. init_kernel_el: drop from EL2 to EL1 if needed;
 *   3. zero .bss, record kimage_voffset and the boot exception level;
 *   4. build two temporary tables: an identity map (TTBR0) of the 1 GiB around the kernel,
 *      and (TTBR1) the kernel image at its link address plus a 1 GiB linear-map window
 *      over the kernel and over the device tree;
 *   5. turn the MMU on and jump to the link address: __primary_switched sets up the boot
 *      stack with an empty pt_regs at its top (as Linux's init_cpu_task does), installs the
 *      exception vectors and calls start_kernel(dtb_pa, boot_el).
 * paging_init (kernel/src/arch/aarch64/mmu.rs) then replaces these tables with the final
 * ones, with proper permissions.
 *
 * This file is included by kernel/src/arch/aarch64/head.rs through global_asm!; the
 * names in braces are constants computed in Rust, so no number is written twice.
 */
    .section ".head.text", "ax"

/* The arm64 Image header (Linux Documentation/arch/arm64/booting.rst). */
_head:
    b       primary_entry               // code0
    .long   0                           // code1
    .quad   0                           // text_offset: load at a 2 MiB boundary
    .quad   _kernel_size_le             // image_size, including .bss
    .quad   {IMAGE_FLAGS}               // little-endian, 4 KiB pages, anywhere in RAM
    .quad   0                           // res2
    .quad   0                           // res3
    .quad   0                           // res4
    .ascii  "ARM\x64"                   // magic
    .long   0                           // res5

primary_entry:
    mov     x19, x0                     // x19 = physical address of the device tree
    mrs     x1, mpidr_el1
    and     x1, x1, #0xffffff           // affinity levels 0-2
    cbnz    x1, secondary_park
    bl      init_kernel_el              // x22 = the exception level we were entered at
    adr     x20, _head                  // x20 = physical address of the image

    /* Zero .bss while the MMU is off: the early page tables live there. */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_stop
    add     x1, x1, :lo12:__bss_stop
1:  stp     xzr, xzr, [x0], #16
    cmp     x0, x1
    b.lo    1b

    ldr     x21, =_text                 // the link address of the image
    sub     x21, x21, x20               // kimage_voffset = virtual - physical
    adrp    x0, {KIMAGE_VOFFSET}
    str     x21, [x0, :lo12:{KIMAGE_VOFFSET}]
    adrp    x0, {BOOT_CPU_MODE}
    str     x22, [x0, :lo12:{BOOT_CPU_MODE}]

    bl      __create_page_tables
    b       __primary_switch

secondary_park:
    wfe
    b       secondary_park

/*
 * Start at EL1 whatever EL we were entered at (Linux init_kernel_el). Returns with
 * x22 = 1 or 2, the EL of entry; the MMU and caches are off at EL1 on return.
 */
init_kernel_el:
    mrs     x22, CurrentEL
    lsr     x22, x22, #2
    ldr     x0, ={SCTLR_EL1_MMU_OFF}
    ldr     x1, ={INIT_PSTATE_EL1}
    cmp     x22, #2
    b.eq    init_el2
    msr     sctlr_el1, x0
    msr     spsr_el1, x1
    msr     elr_el1, lr
    isb
    eret

init_el2:
    ldr     x2, ={HCR_EL2_VALUE}        // EL1 is AArch64; nothing else is trapped to EL2
    msr     hcr_el2, x2
    mrs     x2, cnthctl_el2             // EL1 may use the physical counter and timer
    orr     x2, x2, #3
    msr     cnthctl_el2, x2
    msr     cntvoff_el2, xzr            // virtual counter == physical counter
    mov     x2, #0x33ff                 // CPTR_EL2: do not trap FP/SIMD to EL2
    msr     cptr_el2, x2
    msr     hstr_el2, xzr
    msr     vttbr_el2, xzr
    mrs     x2, midr_el1                // EL1 reads the real MIDR and MPIDR
    msr     vpidr_el2, x2
    mrs     x2, mpidr_el1
    msr     vmpidr_el2, x2
    mrs     x2, id_aa64pfr0_el1         // GICv3 system registers: let EL1 use them
    ubfx    x2, x2, #24, #4
    cbz     x2, 1f
    mrs     x2, icc_sre_el2
    orr     x2, x2, #1                  // ICC_SRE_EL2.SRE
    orr     x2, x2, #8                  // ICC_SRE_EL2.Enable
    msr     icc_sre_el2, x2
    isb
1:  msr     sctlr_el1, x0
    msr     spsr_el2, x1
    msr     elr_el2, lr
    isb
    eret

/*
 * Map a 1 GiB block: \tbl is a level-1 table, \va the virtual address, \pa the physical
 * address inside the gigabyte, \attr the block attributes. Clobbers x3, x4.
 */
    .macro  map_gb, tbl, va, pa, attr
    ubfx    x3, \va, #30, #9
    lsr     x4, \pa, #30
    orr     x4, \attr, x4, lsl #30
    str     x4, [\tbl, x3, lsl #3]
    .endm

/* \tbl[index of \va at \shift] = table descriptor for \next. Clobbers x3, x4. */
    .macro  link_table, tbl, va, shift, next
    ubfx    x3, \va, #\shift, #9
    orr     x4, \next, #3
    str     x4, [\tbl, x3, lsl #3]
    .endm

/*
 * Build init_idmap_pg_dir (2 pages: L0, L1) and init_pg_dir (4 pages: L0, L1 for the
 * linear map, L1 and L2 for the kernel image). Runs with the MMU off.
 */
__create_page_tables:
    /* Identity map: the gigabyte holding the image, executable. */
    adrp    x0, {INIT_IDMAP_PG_DIR}
    add     x1, x0, #{PAGE_SIZE}
    link_table x0, x20, 39, x1
    ldr     x5, ={BLOCK_KERNEL_RWX}
    map_gb  x1, x20, x20, x5

    /* Linear map windows (PAGE_OFFSET + pa): the image's gigabyte and the device tree's. */
    adrp    x0, {INIT_PG_DIR}
    add     x1, x0, #{PAGE_SIZE}
    ldr     x6, ={PAGE_OFFSET}
    add     x7, x6, x20
    link_table x0, x7, 39, x1
    ldr     x5, ={BLOCK_KERNEL_RW}
    map_gb  x1, x7, x20, x5
    add     x7, x6, x19
    map_gb  x1, x7, x19, x5

    /* The kernel image at its link address, in 2 MiB blocks (read-write-execute for now). */
    ldr     x8, =_text
    ldr     x9, =_end
    add     x1, x0, #2 * {PAGE_SIZE}
    add     x2, x0, #3 * {PAGE_SIZE}
    link_table x0, x8, 39, x1
    link_table x1, x8, 30, x2
    ldr     x5, ={BLOCK_KERNEL_RWX}
    mov     x10, x20
2:  ubfx    x3, x8, #21, #9
    orr     x4, x5, x10
    str     x4, [x2, x3, lsl #3]
    add     x8, x8, #0x200000
    add     x10, x10, #0x200000
    cmp     x8, x9
    b.lo    2b

    /* Written with the MMU off: drop any stale cached copies of .bss. */
    dsb     sy
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_stop
    add     x1, x1, :lo12:__bss_stop
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4             // DminLine: log2(words) of the smallest D-cache line
    mov     x2, #4
    lsl     x2, x2, x3
3:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    3b
    dsb     sy
    ret

/*
 * Per-CPU MMU set-up, before the MMU goes on (Linux __cpu_setup): memory attributes,
 * translation control (the physical size and 16-bit ASIDs from ID_AA64MMFR0_EL1),
 * FP/SIMD access, an empty local TLB. Clobbers x0-x3.
 */
__cpu_setup:
    ldr     x0, ={MAIR_EL1_VALUE}
    msr     mair_el1, x0
    ldr     x0, ={TCR_EL1_VALUE}
    mrs     x1, id_aa64mmfr0_el1
    ubfx    x2, x1, #0, #4              // PARange, capped at 48 bits
    mov     x3, #5
    cmp     x2, x3
    csel    x2, x2, x3, ls
    bfi     x0, x2, #32, #3             // TCR_EL1.IPS
    ubfx    x2, x1, #4, #4              // ASIDBits: 2 means 16-bit ASIDs
    cmp     x2, #2
    b.ne    1f
    orr     x0, x0, #{TCR_AS}
1:  msr     tcr_el1, x0
    mov     x1, #(3 << 20)              // CPACR_EL1.FPEN: FP/SIMD usable (by user tasks:
    msr     cpacr_el1, x1               // the kernel is built without FP code)
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    ret

/*
 * Turn the MMU on with the tables already in TTBR0 (identity map) and TTBR1 (Linux
 * __enable_mmu); returns through the identity map. Clobbers x0.
 */
__enable_mmu:
    isb
    ldr     x0, ={SCTLR_EL1_MMU_ON}
    msr     sctlr_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    ret

/* Turn the MMU on and continue at the link address (Linux __primary_switch). */
__primary_switch:
    bl      __cpu_setup
    adrp    x0, {INIT_IDMAP_PG_DIR}
    msr     ttbr0_el1, x0
    adrp    x0, {INIT_PG_DIR}
    msr     ttbr1_el1, x0
    bl      __enable_mmu
    ldr     x8, =__primary_switched
    br      x8

/*
 * Where PSCI CPU_ON starts a secondary CPU: MMU off, at EL2 or EL1, x0 = the context id
 * __cpu_up passed, the CPU's logical number (Linux secondary_entry, secondary_startup).
 * The boot CPU's final tables are in place by now: TTBR1 gets swapper_pg_dir itself,
 * TTBR0 the identity map until secondary_start_kernel swaps in the empty table.
 */
    .global secondary_entry
secondary_entry:
    mov     x19, x0                     // x19 = logical CPU number
    bl      init_kernel_el
    bl      __cpu_setup
    adrp    x0, {INIT_IDMAP_PG_DIR}
    msr     ttbr0_el1, x0
    adrp    x0, {SWAPPER_PG_DIR}
    msr     ttbr1_el1, x0
    bl      __enable_mmu
    ldr     x8, =__secondary_switched
    br      x8

    .text
/* Now at the link address (Linux __primary_switched). */
__primary_switched:
    adrp    x0, {INIT_STACK}
    add     x0, x0, :lo12:{INIT_STACK}
    add     x0, x0, #{THREAD_SIZE}
    sub     sp, x0, #{PT_REGS_SIZE}     // pt_regs at the top of the stack, as for every task
    stp     xzr, xzr, [sp, #{S_STACKFRAME}]
    add     x29, sp, #{S_STACKFRAME}    // terminal frame record for backtraces
    mov     x30, xzr
    adrp    x8, vectors
    add     x8, x8, :lo12:vectors
    msr     vbar_el1, x8
    isb
    mov     x0, x19                     // start_kernel(dtb_pa, boot_el)
    mov     x1, x22
    bl      start_kernel
1:  wfe
    b       1b

/*
 * A secondary CPU at the link address (Linux __secondary_switched, init_cpu_task): its
 * vectors, its per-CPU data in tpidr_el1, its idle task in sp_el0 and the idle task's
 * stack, all from secondary_data, then secondary_start_kernel(cpu).
 */
__secondary_switched:
    adrp    x8, vectors
    add     x8, x8, :lo12:vectors
    msr     vbar_el1, x8
    isb
    adrp    x1, {PER_CPU}
    add     x1, x1, :lo12:{PER_CPU}
    mov     x2, #{PERCPU_SIZE}
    madd    x1, x19, x2, x1             // &PER_CPU[cpu]
    msr     tpidr_el1, x1
    adrp    x0, {SECONDARY_DATA}
    add     x0, x0, :lo12:{SECONDARY_DATA}
    ldr     x2, [x0, #{CPU_BOOT_TASK}]
    cbz     x2, 2f                      // too late: __cpu_up gave up on this CPU
    msr     sp_el0, x2                  // current = the idle task
    ldr     x1, [x0, #{CPU_BOOT_STACK}] // the top of its stack
    sub     sp, x1, #{PT_REGS_SIZE}     // pt_regs at the top, as on the boot CPU
    stp     xzr, xzr, [sp, #{S_STACKFRAME}]
    add     x29, sp, #{S_STACKFRAME}
    mov     x30, xzr
    mov     x0, x19
    bl      secondary_start_kernel
2:  wfe                                 // (Linux __secondary_too_slow)
    b       2b
