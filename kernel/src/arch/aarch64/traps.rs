//! The Rust side of the exception vectors: one handler per vector stub in `entry.S`
//! (Linux `arch/arm64/kernel/entry-common.c`, `traps.c`, and `arch/arm64/mm/fault.c` for
//! faults taken in the kernel).
//!
//! Each handler gets the `pt_regs` that `kernel_entry` saved. Whatever it changes there
//! is what `kernel_exit` restores.

use aarch64_cpu::registers::{Readable, ESR_EL1, FAR_EL1};
use forkos_lib::esr::*;

use super::ptrace::PtRegs;
use crate::{irq, print, println, selftest};

/// QEMU's exit status after an oops (an exception the kernel cannot handle).
pub const EXIT_OOPS: u32 = 102;

/// Print the decoded syndrome of an abort (Linux `mem_abort_decode`).
fn mem_abort_decode(esr: u64) {
    let ec = esr_class(esr);
    let iss = esr_iss(esr);
    println!("Mem abort info:");
    println!("  ESR = {esr:#018x}");
    println!(
        "  EC = {ec:#04x}: {}, IL = {} bits",
        esr_class_str(ec),
        if esr & ESR_ELX_IL != 0 { 32 } else { 16 }
    );
    println!(
        "  FnV = {}, S1PTW = {}",
        (iss & ESR_ELX_FNV != 0) as u8,
        (iss & ESR_ELX_S1PTW != 0) as u8
    );
    let fsc = (iss & ESR_ELX_FSC) as u8;
    println!("  FSC = {fsc:#04x}: {}", fault_name(fsc));
    if matches!(ec, ec::DABT_CUR | ec::DABT_LOW) {
        println!("Data abort info:");
        println!("  ISS = {iss:#010x}");
        println!(
            "  CM = {}, WnR = {}",
            (iss & ESR_ELX_CM != 0) as u8,
            (iss & ESR_ELX_WNR != 0) as u8
        );
    }
}

/// Report an exception the kernel cannot survive and power off (Linux `die`).
pub fn die(msg: &str, regs: &PtRegs, esr: u64) -> ! {
    let ec = esr_class(esr);
    println!(
        "Internal error: {msg}: {esr:016x} [#1] (EC {ec:#04x}: {})",
        esr_class_str(ec)
    );
    println!("FAR_EL1: {:#018x}", FAR_EL1.get());
    print!("{regs}");
    println!("---[ end trace ]---");
    super::semihosting::exit(EXIT_OOPS)
}

/// A data or instruction abort taken in the kernel (Linux `__do_kernel_fault`).
fn do_kernel_fault(regs: &PtRegs, esr: u64) -> ! {
    let far = FAR_EL1.get();
    let what = if far < forkos_lib::pgtable::PAGE_SIZE as u64 {
        "NULL pointer dereference"
    } else {
        "paging request"
    };
    println!("Unable to handle kernel {what} at virtual address {far:016x}");
    mem_abort_decode(esr);
    die("Oops", regs, esr)
}

/// Synchronous exception from the kernel (Linux `el1h_64_sync_handler`).
#[no_mangle]
extern "C" fn el1h_64_sync_handler(regs: &mut PtRegs) {
    let esr = ESR_EL1.get();
    match esr_class(esr) {
        ec::DABT_CUR | ec::IABT_CUR => do_kernel_fault(regs, esr),
        ec::BRK64 => {
            let imm = esr_iss(esr) & ESR_ELX_BRK64_ISS_COMMENT_MASK;
            if !selftest::brk_handler(regs, imm) {
                die("Oops - BRK", regs, esr);
            }
        }
        _ => die("Oops - unexpected synchronous exception", regs, esr),
    }
}

/// IRQ taken in the kernel (Linux `el1h_64_irq_handler`).
#[no_mangle]
extern "C" fn el1h_64_irq_handler(_regs: &mut PtRegs) {
    irq::handle_irq();
}

/// Synchronous exception from user space. Until user tasks exist (the fork-path work),
/// nothing runs at EL0, so any such exception is a kernel bug.
#[no_mangle]
extern "C" fn el0t_64_sync_handler(regs: &mut PtRegs) {
    die(
        "Oops - exception from EL0 with no user task",
        regs,
        ESR_EL1.get(),
    );
}

/// IRQ taken while user space ran (Linux `el0t_64_irq_handler`).
#[no_mangle]
extern "C" fn el0t_64_irq_handler(_regs: &mut PtRegs) {
    irq::handle_irq();
}

/// A vector forkos never expects: report which one and stop (Linux `__panic_unhandled`).
fn bad_mode(regs: &PtRegs, vector: &str) -> ! {
    println!("Unhandled exception: {vector}");
    die("Oops - bad mode", regs, ESR_EL1.get())
}

macro_rules! unexpected_vectors {
    ($($name:ident),* $(,)?) => {
        $(
            #[no_mangle]
            extern "C" fn $name(regs: &mut PtRegs) {
                let name = stringify!($name);
                bad_mode(regs, name.strip_suffix("_handler").unwrap_or(name));
            }
        )*
    };
}

unexpected_vectors!(
    el1t_64_sync_handler,
    el1t_64_irq_handler,
    el1t_64_fiq_handler,
    el1t_64_error_handler,
    el1h_64_fiq_handler,
    el1h_64_error_handler,
    el0t_64_fiq_handler,
    el0t_64_error_handler,
    el0t_32_sync_handler,
    el0t_32_irq_handler,
    el0t_32_fiq_handler,
    el0t_32_error_handler,
);
