//! Boot: the arm64 Image header, EL2 to EL1, the early page tables and the MMU switch-on
//! live in `boot/head.S`; this file gives that assembly its constants and the memory it
//! writes (Linux `arch/arm64/kernel/head.S`).

use core::sync::atomic::{AtomicU64, Ordering};

use forkos_lib::pgtable::{leaf_desc, Prot, MAIR_EL1_VALUE, PAGE_SIZE};

use super::memory::{kimage_voffset, PAGE_OFFSET, THREAD_SIZE};
use super::ptrace::{PT_REGS_SIZE, S_STACKFRAME};
use super::sysreg::*;

/// One page-aligned page of zeroes, used as a page table (Linux `reserved_pg_dir`).
#[repr(C, align(4096))]
pub struct PageTablePage(pub [u64; 512]);

/// Identity map used to turn the MMU on and to replace TTBR1 (L0 and L1).
#[link_section = ".bss.page_aligned"]
#[no_mangle]
pub static mut init_idmap_pg_dir: [PageTablePage; 2] = [const { PageTablePage([0; 512]) }; 2];

/// Boot-time TTBR1 tables (L0, L1 linear map, L1 and L2 kernel image).
#[link_section = ".bss.page_aligned"]
#[no_mangle]
pub static mut init_pg_dir: [PageTablePage; 4] = [const { PageTablePage([0; 512]) }; 4];

/// The boot CPU's kernel stack, which becomes the idle task's (Linux `init_stack`). The
/// linker puts an unmapped guard page right below it.
#[repr(C, align(4096))]
pub struct InitStack(pub [u8; THREAD_SIZE]);

#[link_section = ".bss.init_stack"]
#[no_mangle]
pub static mut init_stack: InitStack = InitStack([0; THREAD_SIZE]);

/// The exception level the kernel was entered at: 1, or 2 when it dropped to EL1
/// (Linux `__boot_cpu_mode`).
#[no_mangle]
pub static __boot_cpu_mode: AtomicU64 = AtomicU64::new(0);

/// The exception level QEMU entered the kernel at.
pub fn boot_el() -> u64 {
    __boot_cpu_mode.load(Ordering::Relaxed)
}

core::arch::global_asm!(
    include_str!("../../../../boot/head.S"),
    IMAGE_FLAGS = const IMAGE_FLAGS,
    KIMAGE_VOFFSET = sym kimage_voffset,
    BOOT_CPU_MODE = sym __boot_cpu_mode,
    SCTLR_EL1_MMU_OFF = const SCTLR_EL1_MMU_OFF,
    SCTLR_EL1_MMU_ON = const SCTLR_EL1_MMU_ON,
    INIT_PSTATE_EL1 = const INIT_PSTATE_EL1,
    HCR_EL2_VALUE = const HCR_EL2_VALUE,
    INIT_IDMAP_PG_DIR = sym init_idmap_pg_dir,
    INIT_PG_DIR = sym init_pg_dir,
    PAGE_SIZE = const PAGE_SIZE,
    PAGE_OFFSET = const PAGE_OFFSET,
    BLOCK_KERNEL_RWX = const leaf_desc(1, 0, Prot::KernelRwx),
    BLOCK_KERNEL_RW = const leaf_desc(1, 0, Prot::KernelRw),
    MAIR_EL1_VALUE = const MAIR_EL1_VALUE,
    TCR_EL1_VALUE = const TCR_EL1_VALUE,
    TCR_AS = const TCR_AS,
    INIT_STACK = sym init_stack,
    THREAD_SIZE = const THREAD_SIZE,
    PT_REGS_SIZE = const PT_REGS_SIZE,
    S_STACKFRAME = const S_STACKFRAME,
    SWAPPER_PG_DIR = sym super::mmu::swapper_pg_dir,
    PER_CPU = sym super::percpu::PER_CPU,
    PERCPU_SIZE = const super::percpu::PERCPU_SIZE,
    SECONDARY_DATA = sym super::smp::secondary_data,
    CPU_BOOT_TASK = const super::smp::CPU_BOOT_TASK,
    CPU_BOOT_STACK = const super::smp::CPU_BOOT_STACK,
);
