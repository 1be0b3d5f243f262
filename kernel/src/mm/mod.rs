//! Memory management that is not architecture-specific (Linux `mm/`): the physical page
//! allocator and the kernel heap. Page-table formats live in `arch/aarch64/mmu.rs`.

pub mod heap;
pub mod page_alloc;
