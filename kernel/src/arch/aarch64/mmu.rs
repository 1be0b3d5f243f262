//! Kernel page tables: building `swapper_pg_dir` at boot and mapping more of the kernel
//! half later (Linux `arch/arm64/mm/mmu.c`).
//!
//! `boot/head.S` turned the MMU on with coarse tables that map the whole image
//! read-write-execute. [`paging_init`] replaces them with the final kernel map:
//! - the image with page granularity: text read-only and executable, read-only data
//!   read-only, data and bss read-write and never executable, the boot stack's guard
//!   page left unmapped;
//! - the linear map of all RAM, read-write and never executable, with the alias of the
//!   kernel's text and read-only data read-only (Linux `mark_linear_text_alias_ro`).
//!
//! Nothing is ever writable and executable at once.

use core::sync::atomic::{AtomicUsize, Ordering};

use forkos_lib::memblock::{Memblock, Range};
use forkos_lib::pgtable::{
    block_fits, is_table, leaf_desc, level_size, table_desc, table_index, Prot, LEVEL_PGD,
    LEVEL_PTE, PAGE_SIZE, PHYS_MASK,
};

use super::head::PageTablePage;
use super::memory::*;
use crate::mm::page_alloc;
use crate::sync::IrqSpinLock;

/// The kernel's TTBR1 top-level table (Linux `swapper_pg_dir`).
#[link_section = ".bss.page_aligned"]
#[no_mangle]
pub(super) static mut swapper_pg_dir: PageTablePage = PageTablePage([0; 512]);

/// An empty table for TTBR0 while no user address space is installed (Linux
/// `reserved_pg_dir`).
#[link_section = ".bss.page_aligned"]
#[no_mangle]
static mut reserved_pg_dir: PageTablePage = PageTablePage([0; 512]);

/// Pages for page tables before the page allocator exists.
const EARLY_POOL_PAGES: usize = 32;
#[link_section = ".bss.page_aligned"]
static mut EARLY_PGTABLE_POOL: [PageTablePage; EARLY_POOL_PAGES] =
    [const { PageTablePage([0; 512]) }; EARLY_POOL_PAGES];
static EARLY_POOL_USED: AtomicUsize = AtomicUsize::new(0);

/// Serialises changes to the kernel's page tables.
static KERNEL_PGTABLE_LOCK: IrqSpinLock<()> = IrqSpinLock::new(());

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// No page was left for a page table.
    NoMemory,
    /// Something is mapped there already.
    Exists,
}

/// The physical address of `swapper_pg_dir`.
pub fn swapper_pg_dir_pa() -> PhysAddr {
    pa_symbol(core::ptr::addr_of!(swapper_pg_dir) as u64)
}

/// The physical address of `reserved_pg_dir`.
pub fn reserved_pg_dir_pa() -> PhysAddr {
    pa_symbol(core::ptr::addr_of!(reserved_pg_dir) as u64)
}

/// A zeroed page for a page table: from the page allocator once it runs, else from the
/// early pool in .bss (Linux `early_pgtable_alloc` / `pgd_pgtable_alloc`).
fn pgtable_alloc() -> Result<PhysAddr, MapError> {
    if page_alloc::is_ready() {
        let pa = page_alloc::alloc_page_reserve().ok_or(MapError::NoMemory)?;
        // SAFETY: the page was just allocated, so nothing else uses it; it is linear mapped.
        unsafe { super::page::clear_page(super::memory::phys_to_virt(pa)) };
        return Ok(pa);
    }
    let i = EARLY_POOL_USED.fetch_add(1, Ordering::Relaxed);
    if i >= EARLY_POOL_PAGES {
        panic!("early page-table pool exhausted ({EARLY_POOL_PAGES} pages)");
    }
    // SAFETY: index i was handed out once (fetch_add); .bss is zero, so the page is empty.
    let va = unsafe { core::ptr::addr_of!(EARLY_PGTABLE_POOL[i]) } as u64;
    Ok(pa_symbol(va))
}

/// The entries of the table at `pa`, through the linear map.
///
/// # Safety
/// `pa` must be a page-table page, and the caller must hold the lock for its tree.
unsafe fn table_at<'a>(pa: PhysAddr) -> &'a mut [u64; 512] {
    // SAFETY: RAM is linear-mapped (the early window covers the image, where every table
    // lives until paging_init is done); the caller guarantees exclusive access.
    unsafe { &mut *(phys_to_virt(pa) as *mut [u64; 512]) }
}

/// Map `[va, va+size)` to `[pa, pa+size)` with `prot` in the tree at `table` (level
/// `level`), using blocks no bigger than `min_level` allows (Linux `__create_pgd_mapping`).
///
/// # Safety
/// `table` must be a valid table of that level whose tree the caller has locked.
unsafe fn map_range(
    table: PhysAddr,
    level: usize,
    mut va: u64,
    mut pa: u64,
    mut size: u64,
    prot: Prot,
    min_level: usize,
) -> Result<(), MapError> {
    while size > 0 {
        let entry_size = level_size(level);
        let entry_end = (va & !(entry_size - 1)).wrapping_add(entry_size);
        let chunk = size.min(entry_end.wrapping_sub(va));
        // SAFETY: the caller guarantees `table` is a locked table of this level.
        let entries = unsafe { table_at(table) };
        let slot = &mut entries[table_index(va, level)];
        let fits = level >= min_level && block_fits(level, va, pa, chunk);
        if fits {
            if *slot != 0 {
                return Err(MapError::Exists);
            }
            *slot = leaf_desc(level, pa, prot);
        } else {
            debug_assert!(level < LEVEL_PTE, "page-sized chunk not page aligned");
            let next = if is_table(*slot, level) {
                PhysAddr(*slot & PHYS_MASK)
            } else if *slot == 0 {
                let t = pgtable_alloc()?;
                *slot = table_desc(t.0);
                t
            } else {
                return Err(MapError::Exists);
            };
            // SAFETY: `next` is the next-level table of this locked tree.
            unsafe { map_range(next, level + 1, va, pa, chunk, prot, min_level)? };
        }
        va = va.wrapping_add(chunk);
        pa += chunk;
        size -= chunk;
    }
    Ok(())
}

/// Make new kernel mappings visible to the table walker before they are used.
fn publish_mappings() {
    // SAFETY: barriers only order memory accesses.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack)) };
}

/// Map physical `[pa, pa+size)` at kernel virtual `va` in `swapper_pg_dir`.
pub fn create_kernel_mapping(va: u64, pa: PhysAddr, size: u64, prot: Prot) -> Result<(), MapError> {
    let _guard = KERNEL_PGTABLE_LOCK.lock();
    // SAFETY: swapper_pg_dir is the kernel's level-0 table, locked just above.
    let r = unsafe {
        map_range(
            swapper_pg_dir_pa(),
            LEVEL_PGD,
            va,
            pa.0,
            size,
            prot,
            LEVEL_PTE,
        )
    };
    publish_mappings();
    r
}

/// Build the final kernel page tables and switch to them (Linux `paging_init`).
pub fn paging_init<const N: usize>(memblock: &Memblock<N>) {
    let l = kernel_layout();
    let pgd = swapper_pg_dir_pa();
    let map = |va: u64, end: u64, prot: Prot, min_level: usize| {
        // SAFETY: nothing else runs yet; swapper_pg_dir is not live until the switch below.
        unsafe {
            map_range(
                pgd,
                LEVEL_PGD,
                va,
                pa_symbol(va).0,
                end - va,
                prot,
                min_level,
            )
        }
        .expect("paging_init: cannot map the kernel image");
    };
    // The image (Linux map_kernel), leaving the guard page below the boot stack unmapped.
    map(l.text, l.etext, Prot::KernelRox, LEVEL_PTE);
    map(l.etext, l.end_rodata, Prot::KernelRo, LEVEL_PTE);
    map(l.end_rodata, l.init_stack_guard, Prot::KernelRw, LEVEL_PTE);
    map(
        l.init_stack_guard + PAGE_SIZE as u64,
        l.end,
        Prot::KernelRw,
        LEVEL_PTE,
    );

    // The linear map of every RAM range (Linux map_mem).
    let ro_alias = Range {
        base: pa_symbol(l.text).0,
        end: pa_symbol(l.end_rodata).0,
    };
    for r in memblock.memory.iter() {
        let r = r.align_inward(PAGE_SIZE as u64);
        let pieces = [
            (r.base, r.end.min(ro_alias.base), Prot::KernelRw),
            (
                r.base.max(ro_alias.base),
                r.end.min(ro_alias.end),
                Prot::KernelRo,
            ),
            (r.base.max(ro_alias.end), r.end, Prot::KernelRw),
        ];
        for (base, end, prot) in pieces {
            if base < end {
                // SAFETY: as above.
                unsafe {
                    map_range(
                        pgd,
                        LEVEL_PGD,
                        phys_to_virt(PhysAddr(base)),
                        base,
                        end - base,
                        prot,
                        1,
                    )
                }
                .expect("paging_init: cannot map RAM");
            }
        }
    }
    publish_mappings();
    // SAFETY: the new tables map the image where the running code, its stack and data
    // already are, and the routine switches from the identity map with interrupts masked.
    unsafe {
        cpu_replace_ttbr1(
            pgd.0,
            reserved_pg_dir_pa().0,
            kimage_voffset.load(Ordering::Relaxed),
        );
    }
    // The identity map has done its job: TTBR0 gets the empty table until a user mm,
    // and its (global) entries leave the TLB.
    cpu_set_reserved_ttbr0();
    // SAFETY: invalidating TLB entries and barriers cannot break memory safety.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
}

/// Point TTBR0 at the empty table, with the reserved ASID 0 that no user address space
/// uses (Linux `cpu_set_reserved_ttbr0`).
pub fn cpu_set_reserved_ttbr0() {
    use aarch64_cpu::registers::{Writeable, TTBR0_EL1};
    TTBR0_EL1.set(reserved_pg_dir_pa().0);
    // SAFETY: a barrier so the new TTBR0 takes effect.
    unsafe { core::arch::asm!("isb", options(nostack)) };
}

/// The leaf descriptor that maps kernel address `va` in `swapper_pg_dir`, if any (a
/// software walk, Linux `follow_page`-like).
pub fn kernel_lookup(va: u64) -> Option<u64> {
    let _guard = KERNEL_PGTABLE_LOCK.lock();
    let mut table = swapper_pg_dir_pa();
    for level in LEVEL_PGD..=LEVEL_PTE {
        // SAFETY: walking tables of the locked kernel tree.
        let desc = unsafe { table_at(table) }[table_index(va, level)];
        if desc & 1 == 0 {
            return None;
        }
        if !is_table(desc, level) {
            return Some(desc);
        }
        table = PhysAddr(desc & PHYS_MASK);
    }
    None
}

/// Count the leaf mappings of `swapper_pg_dir` and those that are writable and executable
/// at once (Linux `ptdump_check_wx`).
pub fn check_wx() -> (usize, usize) {
    fn walk(table: PhysAddr, level: usize, leaves: &mut usize, wx: &mut usize) {
        // SAFETY: walking tables of the locked kernel tree.
        for &desc in unsafe { table_at(table) }.iter() {
            if desc & 1 == 0 {
                continue;
            }
            if is_table(desc, level) {
                walk(PhysAddr(desc & PHYS_MASK), level + 1, leaves, wx);
            } else {
                *leaves += 1;
                if forkos_lib::pgtable::is_wx(desc) {
                    *wx += 1;
                }
            }
        }
    }
    let _guard = KERNEL_PGTABLE_LOCK.lock();
    let (mut leaves, mut wx) = (0, 0);
    walk(swapper_pg_dir_pa(), LEVEL_PGD, &mut leaves, &mut wx);
    (leaves, wx)
}

/// Create every page table needed to map `[va, va+size)` with pages, without mapping
/// anything, so that later mappings there never allocate (used for kernel stacks, so that
/// creating tasks allocates only the stack pages and freeing them gives back everything).
pub fn prealloc_kernel_tables(va: u64, size: u64) -> Result<(), MapError> {
    let _guard = KERNEL_PGTABLE_LOCK.lock();
    let mut addr = va;
    while addr < va + size {
        let mut table = swapper_pg_dir_pa();
        for level in LEVEL_PGD..LEVEL_PTE {
            // SAFETY: walking and extending the locked kernel tree.
            let slot = &mut unsafe { table_at(table) }[table_index(addr, level)];
            if *slot == 0 {
                let t = pgtable_alloc()?;
                *slot = table_desc(t.0);
            }
            table = PhysAddr(*slot & PHYS_MASK);
        }
        addr += level_size(LEVEL_PTE - 1);
    }
    publish_mappings();
    Ok(())
}

/// Remove the page mapping kernel address `va` and return the physical page it mapped
/// (Linux `vunmap` of one page, with its TLB invalidation).
pub fn unmap_kernel_page(va: u64) -> Option<PhysAddr> {
    let _guard = KERNEL_PGTABLE_LOCK.lock();
    let mut table = swapper_pg_dir_pa();
    for level in LEVEL_PGD..=LEVEL_PTE {
        // SAFETY: walking the locked kernel tree.
        let slot = &mut unsafe { table_at(table) }[table_index(va, level)];
        if *slot & 1 == 0 {
            return None;
        }
        if level == LEVEL_PTE {
            let pa = PhysAddr(*slot & PHYS_MASK);
            *slot = 0;
            // SAFETY: invalidating the kernel's translation for va on all CPUs.
            unsafe {
                core::arch::asm!("dsb ishst", "tlbi vaale1is, {}", "dsb ish", "isb",
                    in(reg) (va >> 12) & ((1 << 44) - 1), options(nostack))
            };
            return Some(pa);
        }
        if !is_table(*slot, level) {
            return None;
        }
        table = PhysAddr(*slot & PHYS_MASK);
    }
    None
}

/// Free virtual space for run-time kernel mappings (Linux `vmap_area` allocation).
static VMAP_NEXT: IrqSpinLock<u64> = IrqSpinLock::new(VMAP_START);

/// Reserve `size` bytes (rounded up to pages) of kernel virtual space, followed by an
/// unmapped guard page.
pub fn vmap_area_alloc(size: u64) -> Option<u64> {
    let size = size.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
    let mut next = VMAP_NEXT.lock();
    let va = *next;
    let end = va.checked_add(size + PAGE_SIZE as u64)?;
    if end > VMALLOC_END {
        return None;
    }
    *next = end;
    Some(va)
}

/// Map device registers at physical `[pa, pa+size)` as Device-nGnRE (Linux `ioremap`).
pub fn ioremap(pa: u64, size: u64) -> Option<u64> {
    let offset = pa % PAGE_SIZE as u64;
    let base = pa - offset;
    let len = (size + offset).div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64;
    let va = vmap_area_alloc(len)?;
    create_kernel_mapping(va, PhysAddr(base), len, Prot::Device).ok()?;
    Some(va + offset)
}

extern "C" {
    fn cpu_replace_ttbr1(ttbr1: u64, reserved: u64, voffset: u64);
}

// Switch TTBR1 while running from the identity map, so that the tables being replaced
// never translate the instructions doing it (Linux idmap_cpu_replace_ttbr1).
core::arch::global_asm!(
    "
    .text
    .global cpu_replace_ttbr1
cpu_replace_ttbr1:                  // x0 = new TTBR1, x1 = empty table, x2 = kimage_voffset
    dsb     ishst
    adr     x3, 1f
    sub     x3, x3, x2              // the identity-mapped (physical) address of 1:
    mov     x4, x30
    blr     x3
    mov     x30, x4
    ret
1:  msr     ttbr1_el1, x1           // break: nothing mapped in TTBR1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0           // make: the new tables
    isb
    ret
"
);
