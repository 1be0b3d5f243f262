//! Assembly halves of the boot self-tests: code that must control every register, which
//! Rust cannot. The checks themselves are in `crate::selftest`.

/// `brk` immediate: the handler records the frame and steps over the `brk`.
pub const BRK_PTREGS_SAVE: u64 = 0x7f0;
/// `brk` immediate: the handler inverts x0-x30 in the frame and steps over the `brk`.
pub const BRK_PTREGS_FLIP: u64 = 0x7f1;
/// Register `n` is loaded with `PATTERN_BASE + n * PATTERN_STEP`.
pub const PATTERN_BASE: u64 = 0xfeed_0000_0000_0000;
pub const PATTERN_STEP: u64 = 0x0001_0001_0001_0001;

/// The value the tests put in register `n`.
pub const fn pattern(n: usize) -> u64 {
    PATTERN_BASE.wrapping_add(n as u64 * PATTERN_STEP)
}

extern "C" {
    /// Fill x0-x30 with [`pattern`], trap with [`BRK_PTREGS_SAVE`], store x0-x30 to
    /// `out[0..31]`, trap with [`BRK_PTREGS_FLIP`], store x0-x30 to `out[31..62]`.
    /// `*sp_before` gets the sp at the first `brk`.
    pub fn selftest_ptregs_roundtrip(out: *mut [u64; 62], sp_before: *mut u64);
    /// The first `brk` of [`selftest_ptregs_roundtrip`]: where its frame's pc must point.
    pub static selftest_ptregs_brk: u8;
    /// Fill x3-x30 with [`pattern`] and spin until `*counter >= target`, then store x0-x30
    /// to `out[0..31]`, and sp at the spin and after it to `out[31]`, `out[32]`.
    pub fn selftest_spin_regs(counter: *const u64, target: u64, out: *mut [u64; 33]);
}

core::arch::global_asm!(
    "
    .text
    .macro  snapshot                    // push x0-x30 below sp (256 bytes)
    sub     sp, sp, #256
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    .endm

    .macro  save_callee                 // 112-byte frame: fp, lr, x19-x28, one spare pair
    stp     x29, x30, [sp, #-112]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    .endm

    .macro  restore_callee
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #112
    .endm

    .macro  copy_words, dst, src, n     // clobbers x3, x4
    mov     x4, #\\n
9:  ldr     x3, [\\src], #8
    str     x3, [\\dst], #8
    subs    x4, x4, #1
    b.ne    9b
    .endm

    .global selftest_ptregs_roundtrip
selftest_ptregs_roundtrip:
    save_callee
    str     x0, [sp, #96]
    mov     x2, sp
    str     x2, [x1]
    .irp    n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    ldr     x\\n, =({BASE} + \\n * {STEP})
    .endr
    .global selftest_ptregs_brk
selftest_ptregs_brk:
    brk     #{BRK_SAVE}
    snapshot
    brk     #{BRK_FLIP}
    snapshot
    ldr     x0, [sp, #512 + 96]
    add     x1, sp, #256
    copy_words x0, x1, 31
    mov     x1, sp
    copy_words x0, x1, 31
    add     sp, sp, #512
    restore_callee
    ret

    .global selftest_spin_regs
selftest_spin_regs:
    save_callee
    str     x2, [sp, #96]
    mov     x2, sp
    str     x2, [sp, #104]
    .irp    n, 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    ldr     x\\n, =({BASE} + \\n * {STEP})
    .endr
1:  ldr     x2, [x0]
    cmp     x2, x1
    b.lo    1b
    snapshot
    ldr     x0, [sp, #256 + 96]
    mov     x1, sp
    copy_words x0, x1, 31
    add     x1, sp, #256
    str     x1, [x0], #8
    ldr     x1, [sp, #256 + 104]
    str     x1, [x0]
    add     sp, sp, #256
    restore_callee
    ret

    .ltorg
",
    BASE = const PATTERN_BASE,
    STEP = const PATTERN_STEP,
    BRK_SAVE = const BRK_PTREGS_SAVE,
    BRK_FLIP = const BRK_PTREGS_FLIP,
);
