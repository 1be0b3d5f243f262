//! Checking an address space against itself (Linux `validate_mm` in `mm/mmap.c` and the
//! `CONFIG_DEBUG_VM` checks around it).
//!
//! [`validate_mm`] runs at the start and at the end of every `mmap`, `munmap`,
//! `mprotect`, `madvise` and `brk` (so it sees what the page faults since the last call
//! left too), in debug builds, or when the kernel command line holds `debug_vm` (the
//! EL0 tests' and the fuzzer's boots do). It checks the list of mappings ([`forkos_lib::vma::VmaList::check`]: sorted,
//! non-overlapping, page-aligned) and then every present page-table entry: it lies in a
//! mapping, allows no more than the mapping does, and a writable one maps a page no
//! other address space can reach (a private page with one reference, or the page of
//! the `MAP_SHARED` object it maps); a kernel-owned page is never writable. A broken
//! rule is a kernel bug: the kernel stops with a report, as Linux's `VM_BUG_ON_MM`.
//! forkos has no `mremap`, so there is no check after it.

use core::sync::atomic::{AtomicBool, Ordering};

use forkos_lib::pgtable::{level_size, LEVEL_PGD, LEVEL_PTE, PAGE_SIZE, PHYS_MASK};

use super::{page_alloc, MmInner, MmLock, VmFlags, VmaBacking, TASK_SIZE};
use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::arch::mmu_context::{mk_user_pte, pte_pa, pte_present, pte_writable, pte_wrprotect};

/// `debug_vm` on the command line.
static DEBUG_VM: AtomicBool = AtomicBool::new(false);

/// Read the `debug_vm` boot option (Linux's `CONFIG_DEBUG_VM` is a build option; forkos
/// also has it at boot, so that a release kernel can check itself under the fuzzer).
pub fn init(cmdline: &str) {
    if forkos_lib::cmdline::get(cmdline, "debug_vm").is_some() {
        DEBUG_VM.store(true, Ordering::Relaxed);
    }
}

/// Are the checks on?
#[inline]
pub fn enabled() -> bool {
    cfg!(debug_assertions) || DEBUG_VM.load(Ordering::Relaxed)
}

/// Check `mm` if the checks are on (Linux `validate_mm`), with its lock held.
pub fn validate_mm(mm: &MmLock<'_>) {
    if !enabled() {
        return;
    }
    let inner: &MmInner = mm;
    if let Err(e) = inner.vmas.check(TASK_SIZE) {
        panic!("validate_mm: the mapping list is broken: {e:?}");
    }
    if inner.brk < inner.start_brk {
        panic!(
            "validate_mm: brk {:#x} below start_brk {:#x}",
            inner.brk, inner.start_brk
        );
    }
    // SAFETY: the caller holds mm's lock, so the tree does not change meanwhile.
    unsafe { walk(mm.mm().pgd, LEVEL_PGD, 0, inner) };
}

/// The entries of a page table.
///
/// # Safety
/// `pa` is a page table of an address space whose lock the caller holds.
unsafe fn entries<'a>(pa: PhysAddr) -> &'a [u64; 512] {
    // SAFETY: page tables are RAM, linear mapped; the caller's lock keeps it stable.
    unsafe { &*(phys_to_virt(pa) as *const [u64; 512]) }
}

/// Check every entry of the level-`level` table `t`, which maps from `base`.
///
/// # Safety
/// As for [`entries`].
unsafe fn walk(t: PhysAddr, level: usize, base: u64, inner: &MmInner) {
    // SAFETY: the caller's guarantee.
    for (i, &e) in unsafe { entries(t) }.iter().enumerate() {
        if !pte_present(e) {
            continue;
        }
        let va = base + i as u64 * level_size(level);
        if level < LEVEL_PTE {
            // User memory is mapped page by page: every upper entry is a table.
            if e & 0b11 != 0b11 {
                panic!("validate_mm: a block mapping at {va:#x}, level {level}");
            }
            // SAFETY: a table of the same locked tree.
            unsafe { walk(PhysAddr(e & PHYS_MASK), level + 1, va, inner) };
        } else {
            check_pte(va, e, inner);
        }
    }
}

/// One present PTE against the mappings.
fn check_pte(va: u64, pte: u64, inner: &MmInner) {
    let Some(vma) = inner.find_vma(va) else {
        panic!("validate_mm: {va:#x} is mapped (pte {pte:#x}) outside every mapping");
    };
    let pa = pte_pa(pte);
    // The entry is the mapping's own, or its write-protected form: never more.
    let full = mk_user_pte(pa, vma.flags);
    if pte != full && pte != pte_wrprotect(full) {
        panic!(
            "validate_mm: pte {pte:#x} at {va:#x} allows more than its mapping ({:?}, \
             {:#x}..{:#x})",
            vma.flags, vma.start, vma.end
        );
    }
    if page_alloc::page_count(pa) == 0 {
        panic!("validate_mm: {va:#x} maps the free page {:#x}", pa.0);
    }
    if !pte_writable(pte) {
        return;
    }
    let index = (va - vma.start) / PAGE_SIZE as u64;
    let shared = vma.flags.contains(VmFlags::SHARED);
    let owned = vma.data.owns_page(index, pa);
    let ok = match &vma.data {
        // A writable page of a shared mapping is its object's page.
        VmaBacking::Shm { .. } => shared && owned,
        // Kernel pages are never writable; a private page is nobody else's.
        VmaBacking::Special { .. } | VmaBacking::Anon => {
            !shared && !owned && page_alloc::page_count(pa) == 1
        }
    };
    if !ok {
        panic!(
            "validate_mm: {va:#x} maps page {:#x} writable ({} references, {:?}), which \
             another address space can reach",
            pa.0,
            page_alloc::page_count(pa),
            vma.flags
        );
    }
}
