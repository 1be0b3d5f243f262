/*
 * The marker instructions icount.c acts on: `hint #IMM` with IMM in 0x40..0x7f, a range
 * the Arm architecture leaves unallocated, so every AArch64 CPU (and QEMU's cortex-a72 and
 * max) executes them as NOPs at any exception level. The same numbers are in
 * lib/src/icount_markers.rs for the kernel and the user programs; a host test
 * (tests/tests/icount_plugin.rs) checks that the two lists agree.
 */
#ifndef ICOUNT_MARKERS_H
#define ICOUNT_MARKERS_H

#define MARK_REGION_START 0x40 /* open the measured region (nests: one per measurer) */
#define MARK_REGION_STOP  0x41 /* close it; the region ends when every start is stopped */
#define MARK_DUMP         0x42 /* print the counts and reset them */
#define MARK_LOCK_ACQUIRE 0x50 /* + class (0..15): this vCPU took a lock of that class */
#define MARK_LOCK_RELEASE 0x60 /* + class (0..15): this vCPU released it */
#define MARK_LOCK_CLASSES 16

/* HINT #imm is 0xd503201f with imm (CRm:op2, 7 bits) in bits 5..11. */
#define HINT_MASK 0xfffff01fu
#define HINT_BITS 0xd503201fu

#endif
