//! `memcpy` and `memset` for the kernel (Linux `arch/arm64/lib/memcpy.S`,
//! `memset.S`): 64 bytes per loop with paired 64-bit loads and stores, in place of the
//! byte- and word-wise generic versions. They override the weak symbols of Rust's
//! `compiler_builtins`; every copy of a struct, a buffer or a page table goes through
//! them. Only general-purpose registers are used (the kernel never touches FP/SIMD).
//! Unaligned accesses are fine: kernel memory is Normal memory and SCTLR_EL1.A is clear.

core::arch::global_asm!(
    "
    .section .text.memcpy, \"ax\"
    .global memcpy
    .type memcpy, %function
memcpy:                             // x0 dst, x1 src, x2 n; returns dst
    mov     x3, x0
    cmp     x2, #64
    b.lo    2f
1:  ldp     x4, x5, [x1]
    ldp     x6, x7, [x1, #16]
    ldp     x8, x9, [x1, #32]
    ldp     x10, x11, [x1, #48]
    stp     x4, x5, [x3]
    stp     x6, x7, [x3, #16]
    stp     x8, x9, [x3, #32]
    stp     x10, x11, [x3, #48]
    add     x1, x1, #64
    add     x3, x3, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #8
    b.lo    3f
    ldr     x4, [x1], #8
    str     x4, [x3], #8
    sub     x2, x2, #8
    b       2b
3:  cbz     x2, 4f
    ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       3b
4:  ret
    .size memcpy, . - memcpy

    .section .text.memset, \"ax\"
    .global memset
    .type memset, %function
memset:                             // x0 dst, w1 byte, x2 n; returns dst
    mov     x3, x0
    and     x4, x1, #0xff
    orr     x4, x4, x4, lsl #8
    orr     x4, x4, x4, lsl #16
    orr     x4, x4, x4, lsl #32
    cmp     x2, #64
    b.lo    2f
1:  stp     x4, x4, [x3]
    stp     x4, x4, [x3, #16]
    stp     x4, x4, [x3, #32]
    stp     x4, x4, [x3, #48]
    add     x3, x3, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #8
    b.lo    3f
    str     x4, [x3], #8
    sub     x2, x2, #8
    b       2b
3:  cbz     x2, 4f
    strb    w4, [x3], #1
    sub     x2, x2, #1
    b       3b
4:  ret
    .size memset, . - memset
"
);
