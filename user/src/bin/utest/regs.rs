//! Register state across syscalls, fork and context switches. Assembly helpers load
//! every general-purpose register (but the few they need), the SIMD registers v0-v31,
//! NZCV, FPCR, FPSR and a marker at [sp] with known patterns, run a syscall (or wait
//! for another process through a shared counter), and store everything right after.

use crate::util::{child, exited, expect_ok, wait, Shared, T};
use forkos_user::sys;

/// What the helpers store: x0-x30, sp, [sp], nzcv, fpcr, fpsr, tpidr_el0, v0-v31.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct Regs {
    x: [u64; 31],
    sp: u64,
    marker: u64,
    nzcv: u64,
    fpcr: u64,
    fpsr: u64,
    tpidr: u64,
    _pad: [u64; 3],
    v: [[u64; 2]; 32],
    _rest: [u64; 24],
}

const _: () = assert!(core::mem::size_of::<Regs>() == 1024);

impl Regs {
    const ZERO: Regs = Regs {
        x: [0; 31],
        sp: 0,
        marker: 0,
        nzcv: 0,
        fpcr: 0,
        fpsr: 0,
        tpidr: 0,
        _pad: [0; 3],
        v: [[0; 2]; 32],
        _rest: [0; 24],
    };
}

extern "C" {
    /// Load the patterns (xored with `salt`), issue syscall `nr` with x0 = `a0` and
    /// x1-x4 = 0, and store the registers to `area[1]` if the result is 0, else to
    /// `area[0]`. Returns the syscall's result.
    fn regs_svc(area: *mut Regs, nr: usize, a0: usize, salt: u64) -> isize;
    /// Load the patterns, then `rounds` times: wait until `*counter & 1 == parity`
    /// and increment it. Stores the registers to `area[0]`.
    fn regs_pingpong(area: *mut Regs, counter: *mut u64, parity: u64, rounds: u64, salt: u64);
}

core::arch::global_asm!(
    r#"
    .macro UT_PAT reg, n
    movz    \reg, #(0x0f00 + \n)
    movk    \reg, #(0xc300 + \n), lsl #16
    movk    \reg, #(0x1200 + \n), lsl #32
    movk    \reg, #(0x5a00 + \n), lsl #48
    eor     \reg, \reg, x5
    .endm

    .macro UT_VEC n
    UT_PAT  x10, (32 + 2 * \n)
    UT_PAT  x11, (33 + 2 * \n)
    fmov    d\n, x10
    mov     v\n\().d[1], x11
    .endm

    // Load every pattern; x5 holds the salt; x0-x4, x8 and x9 are left alone.
    .macro UT_LOAD
    UT_PAT  x10, 96
    str     x10, [sp]
    movz    x10, #0x01c0, lsl #16           // FPCR: FZ, round towards zero
    msr     fpcr, x10
    movz    x10, #0x001f
    movk    x10, #0x0800, lsl #16           // FPSR: QC, IXC, UFC, OFC, DZC, IOC
    msr     fpsr, x10
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    UT_VEC  \n
    .endr
    movz    x10, #0xa000, lsl #16           // NZCV: N and C set
    msr     nzcv, x10
    .irp n, 6,7,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    UT_PAT  x\n, \n
    .endr
    .endm

    // Store everything at x9 (+1024 if x0 == 0).
    .macro UT_STORE
    cbnz    x0, 1f
    add     x9, x9, #1024
1:  stp     x0, x1, [x9, #0]
    stp     x2, x3, [x9, #16]
    stp     x4, x5, [x9, #32]
    stp     x6, x7, [x9, #48]
    stp     x8, x9, [x9, #64]
    stp     x10, x11, [x9, #80]
    stp     x12, x13, [x9, #96]
    stp     x14, x15, [x9, #112]
    stp     x16, x17, [x9, #128]
    stp     x18, x19, [x9, #144]
    stp     x20, x21, [x9, #160]
    stp     x22, x23, [x9, #176]
    stp     x24, x25, [x9, #192]
    stp     x26, x27, [x9, #208]
    stp     x28, x29, [x9, #224]
    str     x30, [x9, #240]
    mov     x10, sp
    str     x10, [x9, #248]
    ldr     x10, [sp]
    str     x10, [x9, #256]
    mrs     x10, nzcv
    str     x10, [x9, #264]
    mrs     x10, fpcr
    str     x10, [x9, #272]
    mrs     x10, fpsr
    str     x10, [x9, #280]
    mrs     x10, tpidr_el0
    str     x10, [x9, #288]
    add     x10, x9, #320
    st1     {{v0.2d, v1.2d, v2.2d, v3.2d}}, [x10], #64
    st1     {{v4.2d, v5.2d, v6.2d, v7.2d}}, [x10], #64
    st1     {{v8.2d, v9.2d, v10.2d, v11.2d}}, [x10], #64
    st1     {{v12.2d, v13.2d, v14.2d, v15.2d}}, [x10], #64
    st1     {{v16.2d, v17.2d, v18.2d, v19.2d}}, [x10], #64
    st1     {{v20.2d, v21.2d, v22.2d, v23.2d}}, [x10], #64
    st1     {{v24.2d, v25.2d, v26.2d, v27.2d}}, [x10], #64
    st1     {{v28.2d, v29.2d, v30.2d, v31.2d}}, [x10], #64
    .endm

    // Save what the AAPCS64 says a callee preserves (and x18, FPCR); 16 bytes for [sp].
    .macro UT_PROLOGUE
    stp     x29, x30, [sp, #-176]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x10, fpcr
    stp     x10, x18, [sp, #160]
    sub     sp, sp, #16
    .endm

    .macro UT_EPILOGUE
    add     sp, sp, #16
    ldp     x10, x18, [sp, #160]
    msr     fpcr, x10
    ldp     d14, d15, [sp, #144]
    ldp     d12, d13, [sp, #128]
    ldp     d10, d11, [sp, #112]
    ldp     d8, d9, [sp, #96]
    ldp     x27, x28, [sp, #80]
    ldp     x25, x26, [sp, #64]
    ldp     x23, x24, [sp, #48]
    ldp     x21, x22, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #176
    ret
    .endm

    .text
    .global regs_svc
regs_svc:                                   // x0 area, x1 nr, x2 a0, x3 salt
    UT_PROLOGUE
    mov     x9, x0
    mov     x8, x1
    mov     x5, x3
    mov     x0, x2
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    mov     x4, xzr
    UT_LOAD
    svc     #0
    UT_STORE
    UT_EPILOGUE

    .global regs_pingpong
regs_pingpong:                              // x0 area, x1 counter, x2 parity, x3 rounds, x4 salt
    UT_PROLOGUE
    mov     x9, x0
    mov     x5, x4
    mov     x0, #1
    mov     x8, xzr
    UT_LOAD
2:  ldar    x4, [x1]                        // no flag-setting instructions in this loop
    and     x4, x4, #1
    eor     x4, x4, x2
    cbnz    x4, 2b
    ldr     x4, [x1]
    add     x4, x4, #1
    stlr    x4, [x1]
    sub     x3, x3, #1
    cbnz    x3, 2b
    UT_STORE
    UT_EPILOGUE
"#
);

/// The pattern for register slot `n`.
fn pat(n: u64, salt: u64) -> u64 {
    ((0x5a00 + n) << 48 | (0x1200 + n) << 32 | (0xc300 + n) << 16 | (0x0f00 + n)) ^ salt
}

/// Check every patterned register in `r`, and the control registers `ctl` (pairs of
/// register number and expected value).
fn check_regs(r: &Regs, salt: u64, ctl: &[(usize, u64)], who: &str) -> T {
    for n in [6, 7].into_iter().chain(10..=30) {
        check_eq!(r.x[n], pat(n as u64, salt), "{who}: x{n}");
    }
    for &(n, v) in ctl {
        check_eq!(r.x[n], v, "{who}: x{n}");
    }
    for n in 0..32 {
        let want = [pat(32 + 2 * n as u64, salt), pat(33 + 2 * n as u64, salt)];
        check_eq!(r.v[n], want, "{who}: v{n} (d[0], d[1])");
    }
    check_eq!(r.marker, pat(96, salt), "{who}: the word at [sp]");
    check!(
        r.sp.is_multiple_of(16),
        "{who}: sp {:#x} not 16-byte aligned",
        r.sp
    );
    check_eq!(r.fpcr, 0x01c0_0000, "{who}: FPCR");
    check_eq!(r.fpsr, 0x0800_001f, "{who}: FPSR");
    Ok(())
}

/// A syscall (getpid) preserves every register but x0, NZCV, FPCR, FPSR and v0-v31.
pub fn syscall_preserves_registers() -> T {
    let mut area = [Regs::ZERO; 2];
    let salt = 0x0123_4567_89ab_cdef;
    // SAFETY: area has room for both slots; regs_svc preserves what the ABI requires.
    let r = unsafe { regs_svc(area.as_mut_ptr(), sys::nr::GETPID, 0, salt) };
    check_eq!(r, 1, "getpid");
    let a = &area[0];
    let base = area.as_ptr() as u64;
    check_regs(
        a,
        salt,
        &[
            (0, 1),
            (1, 0),
            (2, 0),
            (3, 0),
            (4, 0),
            (5, salt),
            (8, 172),
            (9, base),
        ],
        "after getpid",
    )?;
    check_eq!(a.nzcv, 0xa000_0000, "NZCV after getpid");
    Ok(())
}

/// After a raw clone(SIGCHLD), parent and child have identical registers (x1-x30,
/// sp, [sp], NZCV, FPCR, FPSR, TPIDR_EL0, v0-v31); x0 is the pid in the parent and 0
/// in the child.
pub fn fork_registers() -> T {
    let s = Shared::new()?;
    let area = s.addr(0) as *mut Regs;
    let salt = 0x5555_aaaa_0f0f_f0f0;
    // SAFETY: the shared page holds both 1 KiB slots; the child returns from regs_svc
    // on its copy of this stack and exits right away.
    let pid = unsafe { regs_svc(area, sys::nr::CLONE, sys::SIGCHLD as usize, salt) };
    if pid == 0 {
        sys::exit_group(0);
    }
    check!(pid > 0, "clone(SIGCHLD): expected a pid, got {pid}");
    expect_ok(pid as i32)?;
    // SAFETY: both processes stored their slots before the child exited.
    let (p, c) = unsafe { (&*area, &*area.add(1)) };
    let base = area as u64;
    let ctl = [
        (1, 0),
        (2, 0),
        (3, 0),
        (4, 0),
        (5, salt),
        (8, sys::nr::CLONE as u64),
    ];
    check_regs(p, salt, &ctl, "parent")?;
    check_regs(c, salt, &ctl, "child")?;
    check_eq!(p.x[0], pid as u64, "parent: x0");
    check_eq!(c.x[0], 0, "child: x0");
    check_eq!(p.x[9], base, "parent: x9");
    check_eq!(c.x[9], base + 1024, "child: x9");
    check_eq!(c.sp, p.sp, "child's sp vs the parent's");
    check_eq!(c.nzcv, p.nzcv, "child's NZCV vs the parent's");
    check_eq!(p.nzcv, 0xa000_0000, "parent: NZCV");
    check_eq!(c.tpidr, p.tpidr, "child's TPIDR_EL0 vs the parent's");
    Ok(())
}

/// Loop `n` times: sched_yield with the patterns loaded, then check them.
fn yield_loop(n: usize, salt: u64) -> T {
    let mut area = [Regs::ZERO; 2];
    for i in 0..n {
        // SAFETY: as in syscall_preserves_registers.
        let r = unsafe { regs_svc(area.as_mut_ptr(), sys::nr::SCHED_YIELD, 0, salt) };
        check_eq!(r, 0, "sched_yield");
        let base = area.as_ptr() as u64 + 1024;
        check_regs(
            &area[1],
            salt,
            &[(0, 0), (1, 0), (5, salt), (8, 124), (9, base)],
            "after sched_yield",
        )?;
        check_eq!(area[1].nzcv, 0xa000_0000, "NZCV after sched_yield #{i}");
    }
    Ok(())
}

/// Registers (v0-v31, FPCR, FPSR, GPRs) survive sched_yield while another process
/// with different values in them runs in between.
pub fn registers_survive_yield() -> T {
    let pid = child(|| yield_loop(50, 0xdead_beef_0000_0000))?;
    yield_loop(50, 0)?;
    expect_ok(pid)
}

/// Registers survive preemption: two processes spin in turn on a shared counter (so
/// each must be preempted for the other to advance) with different register values.
pub fn registers_survive_preemption() -> T {
    const ROUNDS: u64 = 6;
    let s = Shared::new()?;
    let counter = s.addr(0) as *mut u64;
    let spin = |parity: u64, salt: u64| -> T {
        let mut area = [Regs::ZERO; 2];
        // SAFETY: counter is a word of the shared page; area has room for a slot.
        unsafe { regs_pingpong(area.as_mut_ptr(), counter, parity, ROUNDS, salt) };
        let ctl = [
            (0, 1),
            (1, counter as u64),
            (2, parity),
            (3, 0),
            (5, salt),
            (8, 0),
        ];
        check_regs(&area[0], salt, &ctl, "after spinning")?;
        check_eq!(area[0].nzcv, 0xa000_0000, "NZCV after spinning");
        Ok(())
    };
    let pid = child(|| spin(1, 0x7777_0000_3333_0000))?;
    spin(0, 0)?;
    check_eq!(wait(pid)?, exited(0), "child's status");
    check_eq!(s.get(0), 2 * ROUNDS as i64, "final counter");
    Ok(())
}
