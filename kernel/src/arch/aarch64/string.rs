//! `memcpy` and `memset` for the kernel (Linux `arch/arm64/lib/memcpy.S`,
//! `memset.S`): 64 bytes per loop with paired 64-bit loads and stores, then 16 at a time,
//! and the last few bytes as one access that overlaps what is already done, as Linux's
//! routines end (no byte-by-byte tail: a 59-byte `memset` is 4 stores, not 11). They
//! override the weak symbols of Rust's `compiler_builtins`; every copy of a struct, a
//! buffer or a page table goes through them. Only general-purpose registers are used
//! (the kernel never touches FP/SIMD). Unaligned accesses are fine: kernel memory is
//! Normal memory, the MMU is on before any Rust code runs, and SCTLR_EL1.A is clear.

core::arch::global_asm!(
    "
    .section .text.memcpy, \"ax\"
    .global memcpy
    .type memcpy, %function
memcpy:                             // x0 dst, x1 src, x2 n; returns dst
    mov     x3, x0
    cmp     x2, #16
    b.lo    5f
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
2:  cmp     x2, #16
    b.lo    3f
    ldp     x4, x5, [x1], #16
    stp     x4, x5, [x3], #16
    sub     x2, x2, #16
    b       2b
3:  cbz     x2, 9f
    // Under 16 left, with at least 16 copied before: the last 16 bytes, again in part.
    add     x1, x1, x2
    add     x3, x3, x2
    ldp     x4, x5, [x1, #-16]
    stp     x4, x5, [x3, #-16]
9:  ret
5:  // Under 16 in all: the first and the last 8, 4, or 2 bytes, which may overlap.
    add     x4, x1, x2
    add     x5, x3, x2
    cmp     x2, #8
    b.lo    6f
    ldr     x6, [x1]
    ldr     x7, [x4, #-8]
    str     x6, [x3]
    str     x7, [x5, #-8]
    ret
6:  cmp     x2, #4
    b.lo    7f
    ldr     w6, [x1]
    ldr     w7, [x4, #-4]
    str     w6, [x3]
    str     w7, [x5, #-4]
    ret
7:  cbz     x2, 9b
    ldrb    w6, [x1]
    strb    w6, [x3]
    cmp     x2, #2
    b.lo    9b
    ldrh    w7, [x4, #-2]
    strh    w7, [x5, #-2]
    ret
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
    cmp     x2, #16
    b.lo    5f
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
2:  cmp     x2, #16
    b.lo    3f
    stp     x4, x4, [x3], #16
    sub     x2, x2, #16
    b       2b
3:  cbz     x2, 9f
    // Under 16 left, with at least 16 set before: the last 16 bytes, again in part.
    add     x3, x3, x2
    stp     x4, x4, [x3, #-16]
9:  ret
5:  // Under 16 in all: the first and the last 8, 4, or 2 bytes, which may overlap.
    add     x5, x3, x2
    cmp     x2, #8
    b.lo    6f
    str     x4, [x3]
    str     x4, [x5, #-8]
    ret
6:  cmp     x2, #4
    b.lo    7f
    str     w4, [x3]
    str     w4, [x5, #-4]
    ret
7:  cbz     x2, 9b
    strb    w4, [x3]
    cmp     x2, #2
    b.lo    9b
    strh    w4, [x5, #-2]
    ret
    .size memset, . - memset
"
);
