// A two-CPU bare-metal guest whose instruction counts are known, for
// tests/tests/icount_plugin.rs: CPU 0 opens the region and starts CPU 1 (PSCI CPU_ON);
// each runs a counted loop, then another while holding lock class 3; CPU 1 closes its
// region start and sets a flag; CPU 0 waits for the flag (with wfe, which lets QEMU run
// the other vCPU), closes the region, dumps and powers off (PSCI SYSTEM_OFF).
// Counts the test expects are in the comments: CPU 1 runs 1113 instructions, all in the
// region; class 3 is held for 202 instructions on CPU 0 and 102 on CPU 1.
    .text
    .global _start
_start:
    mrs     x0, mpidr_el1
    and     x0, x0, #0xff
    cbnz    x0, secondary
    hint    #0x40                   // region start (counted before it opens)
    ldr     x0, =0xc4000003         // PSCI CPU_ON (64-bit)
    mov     x1, #1                  // MPIDR of CPU 1
    adr     x2, _start
    mov     x3, #0
    hvc     #0
    mov     x4, #1000
1:  subs    x4, x4, #1
    b.ne    1b
    hint    #0x53                   // acquire class 3
    mov     x4, #100
2:  subs    x4, x4, #1
    b.ne    2b
    hint    #0x63                   // release class 3: 1 + 200 + the release = 202 held
    adr     x5, flag
3:  ldr     x6, [x5]
    cbnz    x6, 4f
    wfe
    b       3b
4:  hint    #0x41                   // region stop
    hint    #0x42                   // dump
    ldr     x0, =0x84000008         // PSCI SYSTEM_OFF
    hvc     #0
    b       .

secondary:                          // 3 instructions so far, in the open region
    hint    #0x40                   // 4
    mov     x4, #500                // 5
1:  subs    x4, x4, #1
    b.ne    1b                      // 1005
    hint    #0x53                   // 1006
    mov     x4, #50                 // 1007
2:  subs    x4, x4, #1
    b.ne    2b                      // 1107
    hint    #0x63                   // 1108: 102 held
    hint    #0x41                   // 1109
    adr     x5, flag                // 1110
    mov     x6, #1                  // 1111
    str     x6, [x5]                // 1112
3:  wfi                             // 1113: no interrupt will wake it
    b       3b
    .ltorg

    .balign 4096
flag:
    .quad   0
