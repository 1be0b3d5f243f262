//! User page tables: faults, copying at fork, teardown (Linux `mm/memory.c`).
//!
//! User page tables have Linux's four levels (pgd, pud, pmd, pte) of 512 entries. Only
//! the last level maps pages: user memory is mapped 4 KiB at a time, on first touch
//! ([`handle_mm_fault`]).

use forkos_lib::pgtable::{
    is_table, table_desc, table_index, LEVEL_PGD, LEVEL_PTE, PAGE_SIZE, PHYS_MASK,
};

use super::{page_alloc, Mm, MmInner, VmFlags, Vma};
use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::arch::mmu_context::{flush_tlb_page, mk_user_pte, pte_pa, pte_present};

/// The 512 entries of a page table.
///
/// # Safety
/// `pa` must be a page table of an address space whose lock the caller holds (or that
/// nobody else can reach).
unsafe fn table<'a>(pa: PhysAddr) -> &'a mut [u64; 512] {
    // SAFETY: page tables are RAM, linear mapped; the caller guarantees exclusive access.
    unsafe { &mut *(phys_to_virt(pa) as *mut [u64; 512]) }
}

/// Why a page could not be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No mapping there (`SEGV_MAPERR`).
    NoVma,
    /// The mapping does not allow this access (`SEGV_ACCERR`).
    Access,
    /// No memory for the page or a page table (`VM_FAULT_OOM`).
    Oom,
}

/// The kind of access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

/// The PTE slot for `va` in the tree at `pgd`, creating missing tables if `alloc` (Linux
/// `pgd_offset` ... `pte_offset_map`, `__pte_alloc`).
///
/// # Safety
/// The caller holds the address space's lock.
pub unsafe fn pte_slot<'a>(
    pgd: PhysAddr,
    va: u64,
    alloc: bool,
) -> Result<Option<&'a mut u64>, Fault> {
    let mut t = pgd;
    for level in LEVEL_PGD..LEVEL_PTE {
        // SAFETY: t is a table of this locked tree.
        let slot = &mut unsafe { table(t) }[table_index(va, level)];
        if *slot == 0 {
            if !alloc {
                return Ok(None);
            }
            let new = page_alloc::alloc_zeroed_page().ok_or(Fault::Oom)?;
            *slot = table_desc(new.0);
        }
        debug_assert!(is_table(*slot, level));
        t = PhysAddr(*slot & PHYS_MASK);
    }
    // SAFETY: t is the last-level table of this locked tree.
    Ok(Some(&mut unsafe { table(t) }[table_index(va, LEVEL_PTE)]))
}

/// Does `flags` allow `access`?
fn vma_allows(flags: VmFlags, access: Access) -> bool {
    match access {
        Access::Read => flags.contains(VmFlags::READ),
        Access::Write => flags.contains(VmFlags::WRITE),
        Access::Exec => flags.contains(VmFlags::EXEC),
    }
}

/// Resolve a fault at `va` against the mappings, mapping a page if none is there yet
/// (Linux `handle_mm_fault` -> `do_anonymous_page` / `do_shared_fault`). Returns the
/// physical page now mapped at `va`.
pub fn handle_mm_fault(
    mm: &Mm,
    inner: &MmInner,
    va: u64,
    access: Access,
) -> Result<PhysAddr, Fault> {
    let vma = inner.find_vma(va).ok_or(Fault::NoVma)?;
    if !vma_allows(vma.flags, access) {
        return Err(Fault::Access);
    }
    let page_va = va & !(PAGE_SIZE as u64 - 1);
    // SAFETY: the caller holds mm's lock (inner is its guarded data).
    let slot = unsafe { pte_slot(mm.pgd, page_va, true)? }.expect("allocated");
    if pte_present(*slot) {
        return Ok(pte_pa(*slot));
    }
    let pa = match &vma.shared {
        Some((obj, pgoff)) => obj
            .get_page(pgoff + (page_va - vma.start) / PAGE_SIZE as u64)
            .ok_or(Fault::Oom)?,
        None => page_alloc::alloc_zeroed_page().ok_or(Fault::Oom)?,
    };
    *slot = mk_user_pte(pa, vma.flags);
    // The table walker must see the new entry before user space retries the access.
    // SAFETY: a barrier only orders memory accesses.
    unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
    Ok(pa)
}

/// A user-mode fault at `va` (Linux `do_page_fault`): map the page if the mapping allows
/// the access. A permission fault on a page that is already mapped as the mapping allows
/// cannot be resolved (copy-on-write will resolve write faults here).
pub fn do_page_fault(va: u64, access: Access, permission_fault: bool) -> Result<(), Fault> {
    let mm = crate::task::current()
        .inner
        .lock()
        .mm
        .clone()
        .ok_or(Fault::NoVma)?;
    let inner = mm.inner.lock();
    handle_mm_fault(&mm, &inner, va, access)?;
    if permission_fault {
        return Err(Fault::Access);
    }
    Ok(())
}

/// Call `f(va, pte)` for every present PTE in `[start, end)` of the tree at `pgd`,
/// skipping empty tables whole (the walk of Linux's `zap_p4d_range` ... `zap_pte_range`).
///
/// # Safety
/// The caller holds the address space's lock, or the tree is private to it.
unsafe fn for_each_pte<F: FnMut(u64, &mut u64) -> Result<(), Fault>>(
    pgd: PhysAddr,
    start: u64,
    end: u64,
    f: &mut F,
) -> Result<(), Fault> {
    fn walk<F: FnMut(u64, &mut u64) -> Result<(), Fault>>(
        t: PhysAddr,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        f: &mut F,
    ) -> Result<(), Fault> {
        let size = forkos_lib::pgtable::level_size(level);
        let first = table_index(start.max(base), level);
        // SAFETY: the caller of for_each_pte guarantees exclusive access to the tree.
        let entries = unsafe { table(t) };
        for (i, e) in entries.iter_mut().enumerate().skip(first) {
            let va = base + i as u64 * size;
            if va >= end {
                break;
            }
            if *e == 0 {
                continue;
            }
            if level == LEVEL_PTE {
                if pte_present(*e) {
                    f(va, e)?;
                }
            } else if is_table(*e, level) {
                walk(PhysAddr(*e & PHYS_MASK), level + 1, va, start, end, f)?;
            }
        }
        Ok(())
    }
    walk(pgd, LEVEL_PGD, 0, start, end, f)
}

/// Unmap every page in `[start, end)` and drop its reference (Linux `zap_page_range`).
pub fn zap_page_range(mm: &Mm, start: u64, end: u64) {
    // SAFETY: called with the mm locked, or on a dying mm nobody else can reach.
    let _ = unsafe {
        for_each_pte(mm.pgd, start, end, &mut |va, pte| {
            let pa = pte_pa(*pte);
            *pte = 0;
            flush_tlb_page(&mm.context, va);
            page_alloc::put_page(pa);
            Ok(())
        })
    };
}

/// Free every table of a user tree, and the top-level one (Linux `free_pgtables` +
/// `pgd_free`).
pub fn free_pgtables(pgd: PhysAddr) {
    fn free_level(t: PhysAddr, level: usize) {
        if level < LEVEL_PTE {
            // SAFETY: the tree is being torn down; nobody else reaches it.
            for &desc in unsafe { table(t) }.iter() {
                if is_table(desc, level) {
                    free_level(PhysAddr(desc & PHYS_MASK), level + 1);
                }
            }
        }
        page_alloc::free_page(t);
    }
    free_level(pgd, LEVEL_PGD);
}

/// Copy the pages of one mapping from `src` to `dst` at fork (Linux `copy_page_range`),
/// visiting only page tables that exist. Returns how many PTEs were copied.
///
/// Shared mappings map the same pages in both (one more reference each). Private
/// mappings are copied eagerly, page by page, for now; copy-on-write will replace this
/// with write-protecting the PTEs in both address spaces.
pub fn copy_page_range(dst: &Mm, src: &Mm, vma: &Vma) -> Result<usize, Fault> {
    let mut copied = 0;
    let shared = vma.flags.contains(VmFlags::SHARED);
    // SAFETY: the caller holds src's lock; dst is new and private to the caller.
    unsafe {
        for_each_pte(src.pgd, vma.start, vma.end, &mut |va, src_pte| {
            let pa = if shared {
                let pa = pte_pa(*src_pte);
                page_alloc::get_page(pa);
                pa
            } else {
                let new = page_alloc::alloc_page().ok_or(Fault::Oom)?;
                // SAFETY: both pages are RAM, linear mapped; `new` is ours alone.
                core::ptr::copy_nonoverlapping(
                    phys_to_virt(pte_pa(*src_pte)) as *const u8,
                    phys_to_virt(new) as *mut u8,
                    PAGE_SIZE,
                );
                new
            };
            match pte_slot(dst.pgd, va, true) {
                Ok(Some(slot)) => *slot = mk_user_pte(pa, vma.flags),
                _ => {
                    page_alloc::put_page(pa);
                    return Err(Fault::Oom);
                }
            }
            copied += 1;
            Ok(())
        })?;
    }
    Ok(copied)
}
