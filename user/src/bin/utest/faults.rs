//! Faults at EL0 become signals that kill the process: each case runs in a forked
//! child and the parent checks the signal in its wait status.

use crate::util::{
    child, expect_killed_by, expect_ok, expect_status, killed, map, Thread, PAGE, RW, T,
};
use core::arch::asm;
use forkos_user::sys::{self, SIGBUS, SIGILL, SIGSEGV, SIGTRAP};

fn load(addr: usize) {
    // SAFETY: deliberately faulting load (run in a child that the fault kills).
    unsafe { asm!("ldr {t}, [{a}]", a = in(reg) addr, t = out(reg) _, options(nostack)) };
}

fn store(addr: usize) {
    // SAFETY: deliberately faulting store (run in a child that the fault kills).
    unsafe { asm!("str xzr, [{a}]", a = in(reg) addr, options(nostack)) };
}

fn jump(addr: usize) {
    // SAFETY: deliberately branching to a non-executable or misaligned address (run in
    // a child that the fault kills); should it return, only x30 is clobbered.
    unsafe { asm!("blr {a}", a = in(reg) addr, out("x30") _, clobber_abi("C")) };
}

/// `ret`, to place in a non-executable page.
const RET: u32 = 0xd65f_03c0;

/// Reading address 0 (never mapped) kills with SIGSEGV.
pub fn fault_null_read() -> T {
    expect_killed_by(SIGSEGV, || load(0))
}

/// Writing an unmapped user address kills with SIGSEGV.
pub fn fault_unmapped_write() -> T {
    expect_killed_by(SIGSEGV, || store(0x0000_1234_5000_0000))
}

/// Writing the program's own text kills with SIGSEGV.
pub fn fault_write_text() -> T {
    expect_killed_by(SIGSEGV, || store(fault_write_text as *const () as usize))
}

/// Writing read-only data kills with SIGSEGV.
pub fn fault_write_rodata() -> T {
    static RO: [u64; 4] = [1, 2, 3, 4];
    expect_killed_by(SIGSEGV, || store(RO.as_ptr() as usize))
}

/// Jumping into the (non-executable) stack kills with SIGSEGV.
pub fn fault_exec_stack() -> T {
    expect_killed_by(SIGSEGV, || {
        let code = [RET; 4];
        jump(core::hint::black_box(&code).as_ptr() as usize);
    })
}

/// Jumping into a PROT_READ|PROT_WRITE mapping kills with SIGSEGV.
pub fn fault_exec_mmap() -> T {
    let p = map(PAGE, RW, sys::MAP_PRIVATE)?;
    // SAFETY: p is a fresh RW page.
    unsafe { (p as *mut u32).write_volatile(RET) };
    expect_killed_by(SIGSEGV, || jump(p))?;
    sys::munmap(p, PAGE);
    Ok(())
}

/// An undefined instruction (`udf #0`) kills with SIGILL.
pub fn fault_undefined_instruction() -> T {
    // SAFETY: udf traps; the child is killed.
    expect_killed_by(SIGILL, || unsafe { asm!("udf #0", options(nostack)) })
}

/// A `brk` instruction kills with SIGTRAP.
pub fn fault_brk_instruction() -> T {
    // SAFETY: brk traps; the child is killed.
    expect_killed_by(SIGTRAP, || unsafe { asm!("brk #0x123", options(nostack)) })
}

/// Branching to an address that is not a multiple of 4 (PC alignment fault) kills
/// with SIGBUS.
pub fn fault_misaligned_pc() -> T {
    expect_killed_by(SIGBUS, || {
        jump(fault_misaligned_pc as *const () as usize + 2)
    })
}

/// An ordinary misaligned load or store is fine at EL0 on Linux (SCTLR_EL1.A is 0).
pub fn unaligned_access_allowed() -> T {
    let pid = child(|| {
        let buf = [0x1122_3344_5566_7788u64, 0x99aa_bbcc_ddee_ff00];
        let v: u64;
        // SAFETY: an 8-byte load and store inside buf at offset 3.
        unsafe {
            let p = (buf.as_ptr() as *const u8).add(3);
            asm!("ldr {v}, [{p}]", "str {v}, [{p}]", p = in(reg) p, v = out(reg) v);
        }
        check_eq!(v, 0xeeff_0011_2233_4455, "misaligned 8-byte load");
        Ok(())
    })?;
    expect_ok(pid)
}

/// Reading or writing a kernel address (TTBR1 half) kills with SIGSEGV.
pub fn fault_kernel_address() -> T {
    expect_killed_by(SIGSEGV, || load(0xffff_8000_0000_0000))?;
    expect_killed_by(SIGSEGV, || store(0xffff_0000_0000_0000))?;
    expect_killed_by(SIGSEGV, || load(0xffff_ffff_ffff_f000))
}

/// PROT_NONE memory cannot be read; PROT_READ memory cannot be written (SIGSEGV).
pub fn fault_protections() -> T {
    let none = map(PAGE, sys::PROT_NONE, sys::MAP_PRIVATE)?;
    expect_killed_by(SIGSEGV, || load(none))?;
    let ro = map(PAGE, sys::PROT_READ, sys::MAP_PRIVATE)?;
    let pid = child(|| {
        // SAFETY: ro is a readable page (zero-filled).
        let v = unsafe { (ro as *const u64).read_volatile() };
        check_eq!(v, 0, "a PROT_READ page reads as zero");
        Ok(())
    })?;
    expect_ok(pid)?;
    expect_killed_by(SIGSEGV, || store(ro))?;
    sys::munmap(none, PAGE);
    sys::munmap(ro, PAGE);
    Ok(())
}

/// A fault in one thread kills the whole thread group.
pub fn fault_in_thread_kills_process() -> T {
    let pid = child(|| {
        let f = || {
            sys::sleep_ms(10);
            load(0);
            0
        };
        let _t = Thread::spawn(&f)?;
        loop {
            sys::sleep_ms(1000);
        }
    })?;
    expect_status(pid, killed(SIGSEGV))
}
