//! The kernel's virtual memory map and address conversions (Linux
//! `arch/arm64/include/asm/memory.h`).
//!
//! | region | start | what |
//! |---|---|---|
//! | linear map | `PAGE_OFFSET` = 0xffff_0000_0000_0000 | all RAM, at `PAGE_OFFSET + pa` |
//! | vmalloc | `VMALLOC_START` = 0xffff_7000_0000_0000 | device registers, kernel heap, stacks |
//! | kernel image | `_text` = 0xffff_8000_0000_0000 (linker.ld) | text, rodata, data, bss |
//!
//! The lower half (TTBR0) belongs to user address spaces.

use core::sync::atomic::{AtomicU64, Ordering};

/// Start of the linear map of physical memory.
pub const PAGE_OFFSET: u64 = 0xffff_0000_0000_0000;
/// Start of the region for mappings made at run time.
pub const VMALLOC_START: u64 = 0xffff_7000_0000_0000;
/// End of that region.
pub const VMALLOC_END: u64 = 0xffff_7800_0000_0000;
/// The kernel heap grows up from the start of the vmalloc region.
pub const KHEAP_START: u64 = VMALLOC_START;
/// The heap's upper limit (1 GiB of address space).
pub const KHEAP_END: u64 = VMALLOC_START + (1 << 30);
/// Kernel stacks: one slot of `2 * THREAD_SIZE` per task, the stack in its lower half and
/// nothing mapped in the upper half. So every stack is aligned to `2 * THREAD_SIZE` and
/// has an unmapped guard area of `THREAD_SIZE` right below it, and an address in a
/// stack has bit `THREAD_SHIFT` clear while one below a stack has it set: the
/// exception vectors detect an overflow with one bit test (Linux `CONFIG_VMAP_STACK`).
/// (A gap of one slot after the heap gives slot 0 its guard too.)
pub const KSTACK_START: u64 = KHEAP_END + KSTACK_SLOT;
/// How many kernel stacks (and so tasks) can exist at once (Linux `threads-max`, which is
/// derived from memory size; here fixed).
pub const MAX_THREADS: usize = 4096;
/// Bytes of address space per stack slot.
pub const KSTACK_SLOT: u64 = 2 * THREAD_SIZE as u64;
/// End of the stack slots.
pub const KSTACK_END: u64 = KSTACK_START + MAX_THREADS as u64 * KSTACK_SLOT;
/// Other run-time mappings (device registers) come after the stacks.
pub const VMAP_START: u64 = KSTACK_END;
/// Kernel stack size (Linux arm64 `THREAD_SIZE` with 4 KiB pages).
pub const THREAD_SIZE: usize = 1 << THREAD_SHIFT;
pub const THREAD_SHIFT: usize = 14;

/// Virtual minus physical address of the kernel image, written by `boot/head.S`.
#[no_mangle]
pub static kimage_voffset: AtomicU64 = AtomicU64::new(0);

/// A physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PhysAddr(pub u64);

/// The linear-map address of physical memory (Linux `__va`).
pub const fn phys_to_virt(pa: PhysAddr) -> u64 {
    pa.0 + PAGE_OFFSET
}

/// The physical address of a linear-map address (Linux `__pa` of a linear address).
pub const fn virt_to_phys(va: u64) -> PhysAddr {
    PhysAddr(va - PAGE_OFFSET)
}

/// The physical address of a kernel-image symbol (Linux `__pa_symbol`).
pub fn pa_symbol(va: u64) -> PhysAddr {
    PhysAddr(va - kimage_voffset.load(Ordering::Relaxed))
}

extern "C" {
    static _text: u8;
    static _etext: u8;
    static __end_rodata: u8;
    static _end: u8;
    static __init_stack_guard: u8;
}

/// Virtual addresses of the image's sections, from linker.ld.
pub struct KernelLayout {
    pub text: u64,
    pub etext: u64,
    pub end_rodata: u64,
    pub end: u64,
    pub init_stack_guard: u64,
}

/// Where the linker put the kernel image's sections.
pub fn kernel_layout() -> KernelLayout {
    KernelLayout {
        text: core::ptr::addr_of!(_text) as u64,
        etext: core::ptr::addr_of!(_etext) as u64,
        end_rodata: core::ptr::addr_of!(__end_rodata) as u64,
        end: core::ptr::addr_of!(_end) as u64,
        init_stack_guard: core::ptr::addr_of!(__init_stack_guard) as u64,
    }
}
