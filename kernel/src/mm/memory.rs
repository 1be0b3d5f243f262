//! User page tables: faults, copying at fork, teardown (Linux `mm/memory.c`).
//!
//! User page tables have Linux's four levels (pgd, pud, pmd, pte) of 512 entries. Only
//! the last level maps pages: user memory is mapped 4 KiB at a time, on first touch
//! ([`handle_mm_fault`]).
//!
//! Every walk here has the shape of Linux's: for one mapping's range, a loop over the
//! pgd entries the range reaches, inside it a loop over pud entries, then pmd entries,
//! then PTEs, each loop stepping to the next entry's boundary with `*_addr_end` and
//! skipping an empty upper entry whole (`pmd_none_or_clear_bad`). arm64 with four levels
//! folds Linux's fifth level, the p4d, into the pgd: Linux's `*_p4d_range` loops run
//! once there and are left out here.
//!
//! Fork copies no user page: [`copy_page_range`] makes parent and child map the same
//! pages, write-protected in both. The first write to such a page faults, and
//! [`do_wp_page`] either copies it (`wp_page_copy`) or, when the faulting address space
//! is the only one left mapping it, makes it writable again (`wp_page_reuse`).

use core::mem::MaybeUninit;
use core::ops::Range;

use forkos_lib::pgtable::{
    addr_end, is_table, level_mask, level_size, table_index, LEVEL_PGD, LEVEL_PMD, LEVEL_PTE,
    LEVEL_PUD, PAGE_SIZE, PHYS_MASK,
};

use super::page_alloc::{self, PageRefs};
use super::{Mm, MmLock, VmFlags, Vma};
use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::arch::mmu_context::{
    clear_table_entry, flush_tlb_mm, flush_tlb_page, mk_user_pte, populate_table, pte_none, pte_pa,
    pte_writable, pte_wrprotect, ptep_set_wrprotect, set_pte,
};

/// One page table: 512 entries.
type Table = [u64; 512];

/// The page table at `pa`.
///
/// # Safety
/// `pa` must be a page table of an address space whose lock the caller holds (or that
/// nobody else can reach), and the caller must not hold another reference to it.
unsafe fn table<'a>(pa: PhysAddr) -> &'a mut Table {
    // SAFETY: page tables are RAM, linear mapped; the caller guarantees exclusive access.
    unsafe { &mut *(phys_to_virt(pa) as *mut Table) }
}

/// The next-level table an upper entry points to (Linux `pud_offset`, `pmd_offset`,
/// `pte_offset_map` before the index is added).
fn entry_table(entry: u64) -> PhysAddr {
    PhysAddr(entry & PHYS_MASK)
}

/// Where a walk through the PTEs of `[addr, end)` in the PTE table at `pa` starts and
/// ends (Linux `pte_offset_map`, and the `pte++` that steps to the next entry): the entry
/// before `addr`'s, and `end - 1`'s. The walk steps first and then reads the entry, which
/// the CPU does in one instruction: four per empty entry (with the test and the loop's
/// end), which are most of the entries a walk reads. `[addr, end)` must lie in the
/// table's 2 MiB.
#[inline(always)]
fn pte_walk(pa: PhysAddr, addr: u64, end: u64) -> (*mut u64, *mut u64) {
    let ptes = phys_to_virt(pa) as *mut u64;
    let (first, last) = (
        table_index(addr, LEVEL_PTE),
        table_index(end - 1, LEVEL_PTE),
    );
    (
        ptes.wrapping_add(first).wrapping_sub(1),
        ptes.wrapping_add(last),
    )
}

/// Skip all consecutive none entries after `ptep`, itself none, up to `last` (Linux
/// 6.13's `do_zap_pte_range`: "Skip all consecutive none ptes"): returns the last none
/// entry of the run, so that a walk that steps first goes on at the entry after it.
/// Empty entries are most of what a walk reads (a mapping's first and last tables are
/// mostly outside it), so they are read sixteen at a time here: the loads, an `orr`
/// each and one test, under two instructions an entry instead of four. Linux's `copy_pte_range`
/// tests one entry at a time; forkos's uses this skip too. Out of line, so that the
/// loops over present entries keep their registers (a walk meets few runs).
///
/// # Safety
/// `ptep` and `last` are entries of one page table, `ptep` at or before `last`, that the
/// caller may read.
#[inline(never)]
unsafe fn skip_none_ptes(mut ptep: *mut u64, last: *mut u64) -> *mut u64 {
    const STEP: usize = 16;
    // SAFETY: every entry read is after `ptep` and at or before `last` (the caller's
    // promise), in the same table.
    unsafe {
        // While STEP more entries follow: `ptep` at or before `last - STEP` (kernel
        // addresses: the subtraction does not wrap).
        let limit = last.wrapping_sub(STEP) as usize;
        while ptep as usize <= limit {
            let p = ptep.add(1);
            let mut any = 0;
            for k in 0..STEP {
                any |= *p.add(k);
            }
            if !pte_none(any) {
                break;
            }
            ptep = ptep.add(STEP);
        }
        while ptep != last && pte_none(*ptep.add(1)) {
            ptep = ptep.add(1);
        }
    }
    ptep
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
    /// A tracer's read through `ptrace` (Linux `FOLL_FORCE`): allowed in any mapping.
    ForceRead,
    /// A tracer's write through `ptrace` (Linux `FOLL_FORCE | FOLL_WRITE`): allowed in
    /// a private mapping even when it is not writable, into a copy-on-write copy of the
    /// page that stays read-only to the task itself.
    ForceWrite,
}

/// Is the upper-level entry `entry` (at `level`) empty? One that holds something other
/// than a table is a kernel bug: it is reported, cleared, and counts as empty (Linux
/// `pgd_none_or_clear_bad`, `pud_none_or_clear_bad`, `pmd_none_or_clear_bad`).
#[inline(always)]
fn none_or_clear_bad(entry: &mut u64, level: usize) -> bool {
    if pte_none(*entry) {
        return true;
    }
    if !is_table(*entry, level) {
        clear_bad(entry, level);
        return true;
    }
    false
}

/// Report and clear a corrupt upper-level entry (Linux `pgd_clear_bad` and friends).
#[cold]
fn clear_bad(entry: &mut u64, level: usize) {
    let name = ["pgd", "pud", "pmd"][level];
    crate::println!("forkos: bad {name} entry {:#x}, cleared", *entry);
    clear_table_entry(entry);
}

/// The table below the upper entry `entry`, allocating an empty one first if there is
/// none (Linux `pud_alloc`, `pmd_alloc`, `pte_alloc`).
#[inline(always)]
fn alloc_table(entry: &mut u64) -> Result<PhysAddr, Fault> {
    if pte_none(*entry) {
        let new = page_alloc::alloc_zeroed_page().ok_or(Fault::Oom)?;
        populate_table(entry, new);
    }
    Ok(entry_table(*entry))
}

/// The PTE for `va` in `mm`, allocating the tables on the way (Linux `__handle_mm_fault`:
/// `pgd_offset`, `pud_alloc`, `pmd_alloc`, then `pte_alloc` and `pte_offset_map`).
///
/// # Safety
/// The caller holds the address space's lock.
#[inline]
unsafe fn pte_alloc_map<'a>(mm: &Mm, va: u64) -> Result<&'a mut u64, Fault> {
    // SAFETY: each table belongs to mm's tree, whose lock the caller holds; one table of
    // each level is borrowed at a time.
    unsafe {
        let pgd = &mut table(mm.pgd)[table_index(va, LEVEL_PGD)];
        let pud = &mut table(alloc_table(pgd)?)[table_index(va, LEVEL_PUD)];
        let pmd = &mut table(alloc_table(pud)?)[table_index(va, LEVEL_PMD)];
        Ok(&mut table(alloc_table(pmd)?)[table_index(va, LEVEL_PTE)])
    }
}

/// Does `flags` allow `access` (Linux `check_vma_flags`)? A forced write is allowed
/// in a copy-on-write mapping, that is a private one (Linux `is_cow_mapping`: private
/// mappings may always be made writable here).
fn vma_allows(flags: VmFlags, access: Access) -> bool {
    match access {
        Access::Read => flags.contains(VmFlags::READ),
        Access::Write => flags.contains(VmFlags::WRITE),
        Access::Exec => flags.contains(VmFlags::EXEC),
        Access::ForceRead => true,
        Access::ForceWrite => !flags.contains(VmFlags::SHARED) || flags.contains(VmFlags::WRITE),
    }
}

impl MmLock<'_> {
    /// Resolve a fault at `va` against the mappings (Linux `handle_mm_fault` ->
    /// `__handle_mm_fault`): find the mapping (growing the stack down to `va` if that is
    /// where it falls), check that it allows the access, walk to the PTE (making the
    /// tables on the way), and let [`handle_pte_fault`] map or copy the page. Returns
    /// the physical page mapped at `va`, which now allows `access`. A method of the
    /// locked address space: the mappings it reads and the tables it changes are one
    /// `Mm`'s, under its lock.
    pub fn handle_mm_fault(&mut self, va: u64, access: Access) -> Result<PhysAddr, Fault> {
        let mm = self.mm;
        let vma = super::mmap::find_extend_vma(&mut self.inner, va).ok_or(Fault::NoVma)?;
        if !vma_allows(vma.flags, access) {
            return Err(Fault::Access);
        }
        // Allowed: from here a forced access is the plain one.
        let access = match access {
            Access::ForceRead => Access::Read,
            Access::ForceWrite => Access::Write,
            a => a,
        };
        let page_va = va & !(PAGE_SIZE as u64 - 1);
        // SAFETY: we hold mm's lock (self is its guard).
        let pte = unsafe { pte_alloc_map(mm, page_va)? };
        handle_pte_fault(mm, vma, page_va, pte, access)
    }
}

/// The PTE level of a fault (Linux `handle_pte_fault`): no page yet, so map one
/// ([`do_pte_missing`]); or a write to a write-protected page, so break copy-on-write
/// ([`do_wp_page`]); or nothing to do (another thread mapped it first, or the walker saw
/// the entry late).
#[inline]
fn handle_pte_fault(
    mm: &Mm,
    vma: &Vma,
    va: u64,
    pte: &mut u64,
    access: Access,
) -> Result<PhysAddr, Fault> {
    if pte_none(*pte) {
        let (pa, entry) = do_pte_missing(vma, va, access)?;
        set_pte(pte, entry);
        return Ok(pa);
    }
    if access == Access::Write && !pte_writable(*pte) {
        return do_wp_page(mm, vma, va, pte);
    }
    Ok(pte_pa(*pte))
}

/// What to map at `va`, where nothing is mapped yet, and how (Linux `do_pte_missing`):
/// a fresh zeroed page for anonymous memory (`do_anonymous_page`); the object's page
/// for a shared mapping, with the mapping's access (`do_shared_fault`); for a private
/// mapping of an object or of kernel pages, the page itself read-only on a read or
/// exec (`do_read_fault`) and a private copy on a write (`do_cow_fault`). So a page
/// shared between address spaces is writable only through a writable `MAP_SHARED`
/// mapping, and a kernel-owned page never.
fn do_pte_missing(vma: &Vma, va: u64, access: Access) -> Result<(PhysAddr, u64), Fault> {
    let index = (va - vma.start) / PAGE_SIZE as u64;
    let Some(page) = vma.data.fault_page(index) else {
        let pa = page_alloc::alloc_zeroed_page().ok_or(Fault::Oom)?;
        return Ok((pa, mk_user_pte(pa, vma.flags)));
    };
    let page = page?;
    if vma.flags.contains(VmFlags::SHARED) {
        return Ok((page, mk_user_pte(page, vma.flags)));
    }
    if access != Access::Write {
        return Ok((page, pte_wrprotect(mk_user_pte(page, vma.flags))));
    }
    let Some(copy) = page_alloc::alloc_page() else {
        page_alloc::put_page(page);
        return Err(Fault::Oom);
    };
    // SAFETY: both are RAM pages, linear mapped; `copy` is ours alone and `page` is
    // only ever read.
    unsafe { crate::arch::page::copy_page(phys_to_virt(copy), phys_to_virt(page)) };
    page_alloc::put_page(page);
    Ok((copy, mk_user_pte(copy, vma.flags)))
}

/// A write to a write-protected page of a writable mapping (Linux `do_wp_page`). In a
/// shared mapping the page is the object's, made writable in place (`wp_page_shared`).
/// In a private one it is shared copy-on-write since a fork, or it is the page of the
/// mapping's object or kernel pages: only an anonymous page may be taken back without a
/// copy, and only by its last user (`wp_page_reuse`); anything else is copied
/// ([`wp_page_copy`]).
#[inline]
fn do_wp_page(mm: &Mm, vma: &Vma, va: u64, pte: &mut u64) -> Result<PhysAddr, Fault> {
    let old = pte_pa(*pte);
    if vma.flags.contains(VmFlags::SHARED) {
        set_pte(pte, mk_user_pte(old, vma.flags));
        flush_tlb_page(&mm.context, va);
        return Ok(old);
    }
    // Linux checks `PageAnon`: a page the mapping's object or the kernel owns is never
    // reused, whatever its reference count says.
    if vma.data.owns_page((va - vma.start) / PAGE_SIZE as u64, old) {
        return wp_page_copy(mm, vma, va, pte);
    }
    // EXERCISE cow_reuse: begin
    if page_alloc::page_count(old) == 1 {
        // Nobody else maps it any more (the other side wrote or exited first): take it
        // back as it is, writable again (Linux `wp_page_reuse`).
        set_pte(pte, mk_user_pte(old, vma.flags));
        // The read-only entry may be cached in the TLB: drop it (arm64 Linux flushes
        // it in `ptep_set_access_flags`).
        flush_tlb_page(&mm.context, va);
        crate::trace::cow_fault(va, old, old);
        return Ok(old);
    }
    // EXERCISE cow_reuse: end
    wp_page_copy(mm, vma, va, pte)
}

/// Give this address space its own copy of the page mapped read-only at `va` (Linux
/// `wp_page_copy`). The other mappers keep the original, still write-protected.
fn wp_page_copy(mm: &Mm, vma: &Vma, va: u64, pte: &mut u64) -> Result<PhysAddr, Fault> {
    let old = pte_pa(*pte);
    let pa = page_alloc::alloc_page().ok_or(Fault::Oom)?;
    // SAFETY: both are RAM pages, linear mapped; `pa` is ours alone and `old` is
    // read-only to everyone while it is shared.
    unsafe { crate::arch::page::copy_page(phys_to_virt(pa), phys_to_virt(old)) };
    page_alloc::put_page(old);
    set_pte(pte, mk_user_pte(pa, vma.flags));
    // The read-only entry may be cached in the TLB: drop it (Linux flushes in
    // `ptep_clear_flush`).
    flush_tlb_page(&mm.context, va);
    crate::trace::cow_fault(va, old, pa);
    Ok(pa)
}

/// A user-mode fault at `va` (Linux `do_page_fault`): map the page, or copy it on write,
/// if the mapping allows the access.
pub fn do_page_fault(va: u64, access: Access) -> Result<(), Fault> {
    let mm = crate::task::current().get_task_mm().ok_or(Fault::NoVma)?;
    mm.lock().handle_mm_fault(va, access)?;
    Ok(())
}

/// Pages and page tables taken out of an address space but not freed yet: they go only
/// once no TLB can hold a translation to them, so that no CPU writes to a freed page
/// through a stale entry (Linux `struct mmu_gather`, `mm/mmu_gather.c`). For a whole
/// address space going away (`fullmm`), [`zap_pte_range`] lets pages go at once: its ASID
/// is never handed out again before a rollover, after which every CPU flushes its whole
/// TLB before it takes an ASID (see `arch/aarch64/mmu_context.rs`).
pub struct MmuGather<'a> {
    mm: &'a Mm,
    fullmm: bool,
    refs: PageRefs,
    /// The first `nr_pages` are gathered pages; the rest were never written (Linux's
    /// batch is not cleared either).
    pages: [MaybeUninit<PhysAddr>; GATHER_PAGES],
    nr_pages: usize,
    /// The first `nr_tables` are gathered tables; as `pages`.
    tables: [MaybeUninit<PhysAddr>; GATHER_TABLES],
    nr_tables: usize,
}

/// Pages one [`MmuGather`] batch holds before it flushes (Linux `MAX_GATHER_BATCH` is a
/// page of pointers; a smaller batch keeps this one on the kernel stack).
const GATHER_PAGES: usize = 64;
/// Page tables one batch holds before it flushes.
const GATHER_TABLES: usize = 8;

impl<'a> MmuGather<'a> {
    /// Start unmapping part of `mm`, whose lock the caller holds (Linux
    /// `tlb_gather_mmu`).
    pub fn new(mm: &'a Mm) -> Self {
        Self::with(mm, false)
    }

    /// Start tearing down all of `mm`, which no CPU runs any more (Linux
    /// `tlb_gather_mmu_fullmm`).
    pub fn fullmm(mm: &'a Mm) -> Self {
        Self::with(mm, true)
    }

    #[inline(always)]
    fn with(mm: &'a Mm, fullmm: bool) -> Self {
        MmuGather {
            mm,
            fullmm,
            refs: PageRefs::get(),
            // SAFETY: an array of MaybeUninit needs no initialising.
            pages: unsafe { MaybeUninit::uninit().assume_init() },
            nr_pages: 0,
            // SAFETY: as for `pages`.
            tables: unsafe { MaybeUninit::uninit().assume_init() },
            nr_tables: 0,
        }
    }

    /// Drop the mapping's reference to `pa` once the TLB has forgotten it (Linux
    /// `tlb_remove_page`).
    #[inline(always)]
    fn remove_page(&mut self, pa: PhysAddr) {
        if self.nr_pages == GATHER_PAGES {
            self.flush();
        }
        self.pages[self.nr_pages].write(pa);
        self.nr_pages += 1;
    }

    /// Free the page table `pa`, whose entries are all clear, once no table walker can
    /// be using it (Linux `pte_free_tlb`, `pmd_free_tlb`, `pud_free_tlb`).
    fn remove_table(&mut self, pa: PhysAddr) {
        if self.nr_tables == GATHER_TABLES {
            self.flush();
        }
        self.tables[self.nr_tables].write(pa);
        self.nr_tables += 1;
    }

    /// Flush the TLB, then free what was gathered (Linux `tlb_flush_mmu`). Tearing down
    /// a whole address space, only freed tables need the flush, for the walk cache
    /// (arm64 Linux `tlb_flush`): no CPU uses the leaf entries of a dead ASID.
    fn flush(&mut self) {
        if !self.fullmm || self.nr_tables > 0 {
            flush_tlb_mm(&self.mm.context);
        }
        // SAFETY: the first nr_pages and nr_tables entries were written (remove_page,
        // remove_table); MaybeUninit<PhysAddr> has PhysAddr's layout.
        let (pages, tables) = unsafe {
            (
                core::slice::from_raw_parts_mut(
                    self.pages.as_mut_ptr().cast::<PhysAddr>(),
                    self.nr_pages,
                ),
                core::slice::from_raw_parts(
                    self.tables.as_ptr().cast::<PhysAddr>(),
                    self.nr_tables,
                ),
            )
        };
        self.refs.release_pages(pages);
        // Every entry of a table was cleared before it was gathered: it goes back to
        // the allocator known to be zero, ready to be a page table again.
        page_alloc::free_zeroed_pages(tables);
        self.nr_pages = 0;
        self.nr_tables = 0;
    }

    /// The end of the unmapping: flush and free the rest (Linux `tlb_finish_mmu`).
    /// By reference, as Linux passes its `struct mmu_gather *`: the gather is large, and
    /// moving it would copy it.
    pub fn finish(&mut self) {
        self.flush();
    }
}

/// Unmap every page in `[start, end)`, within one mapping, and drop its reference
/// (Linux `unmap_page_range` -> `zap_pud_range` -> `zap_pmd_range` -> `zap_pte_range`).
/// The page tables stay.
fn unmap_page_range(tlb: &mut MmuGather, start: u64, end: u64) {
    let (mut addr, pgd_pa) = (start, tlb.mm.pgd);
    // SAFETY: the caller holds the mm's lock, or nobody else can reach it.
    let pgd = unsafe { table(pgd_pa) };
    loop {
        let next = addr_end(addr, end, LEVEL_PGD);
        let entry = &mut pgd[table_index(addr, LEVEL_PGD)];
        if !none_or_clear_bad(entry, LEVEL_PGD) {
            zap_pud_range(tlb, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Linux `zap_pud_range`: the pud entries of `[addr, end)` under one pgd entry.
fn zap_pud_range(tlb: &mut MmuGather, pgd: u64, mut addr: u64, end: u64) {
    // SAFETY: as for unmap_page_range.
    let pud = unsafe { table(entry_table(pgd)) };
    loop {
        let next = addr_end(addr, end, LEVEL_PUD);
        let entry = &mut pud[table_index(addr, LEVEL_PUD)];
        if !none_or_clear_bad(entry, LEVEL_PUD) {
            zap_pmd_range(tlb, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Linux `zap_pmd_range`: the pmd entries of `[addr, end)` under one pud entry.
fn zap_pmd_range(tlb: &mut MmuGather, pud: u64, mut addr: u64, end: u64) {
    // SAFETY: as for unmap_page_range.
    let pmd = unsafe { table(entry_table(pud)) };
    loop {
        let next = addr_end(addr, end, LEVEL_PMD);
        let entry = &mut pmd[table_index(addr, LEVEL_PMD)];
        if !none_or_clear_bad(entry, LEVEL_PMD) {
            zap_pte_range(tlb, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Linux `zap_pte_range`: clear each PTE of `[addr, end)` in one table and hand its page
/// to the gather (`ptep_get_and_clear_full`, `tlb_remove_page`).
fn zap_pte_range(tlb: &mut MmuGather, pmd: u64, addr: u64, end: u64) {
    let (mut ptep, last) = pte_walk(entry_table(pmd), addr, end);
    // Read once, not again after every page's reference-count atomics.
    let (fullmm, refs) = (tlb.fullmm, tlb.refs);
    loop {
        ptep = ptep.wrapping_add(1);
        // SAFETY: `ptep` is one of the entries of `[addr, end)` (see `pte_walk`) in a table
        // of an address space the caller holds the lock of, or that nobody else can reach.
        let entry = unsafe { &mut *ptep };
        let ptent = *entry;
        if pte_none(ptent) {
            // SAFETY: as above; `ptep` is none and at or before `last`.
            ptep = unsafe { skip_none_ptes(ptep, last) };
        } else {
            set_pte(entry, 0);
            if fullmm {
                // No CPU runs this ASID again before flushing its TLB: the reference
                // goes now.
                refs.put_page(pte_pa(ptent));
            } else {
                tlb.remove_page(pte_pa(ptent));
            }
        }
        if ptep == last {
            break;
        }
    }
}

/// Unmap every page in `[start, end)` of `mm`, whose lock the caller holds, and drop
/// its references; the page tables stay (Linux `zap_page_range`, for `MADV_DONTNEED`).
pub fn zap_page_range(mm: &Mm, start: u64, end: u64) {
    let mut tlb = MmuGather::new(mm);
    unmap_page_range(&mut tlb, start, end);
    tlb.finish();
}

/// Take the removed mappings `vmas` out of the page tables of `mm`, whose lock the
/// caller holds: their pages, then the page tables no mapping needs any more (Linux
/// `unmap_region`). `floor` and `ceiling` are the end of the mapping before them and
/// the start of the one after (0 for none): tables shared with those stay.
pub fn unmap_region(mm: &Mm, vmas: &[Range<u64>], floor: u64, ceiling: u64) {
    let mut tlb = MmuGather::new(mm);
    for vma in vmas {
        unmap_page_range(&mut tlb, vma.start, vma.end); // Linux `unmap_vmas`
    }
    free_pgtables(&mut tlb, vmas, floor, ceiling);
    tlb.finish();
}

/// An address range: a mapping, or what a mapping covered before it was removed (what
/// [`free_pgtables`] needs of Linux's VMAs).
trait Extent {
    fn start(&self) -> u64;
    fn end(&self) -> u64;
}

impl Extent for Vma {
    fn start(&self) -> u64 {
        self.start
    }
    fn end(&self) -> u64 {
        self.end
    }
}

impl Extent for Range<u64> {
    fn start(&self) -> u64 {
        self.start
    }
    fn end(&self) -> u64 {
        self.end
    }
}

/// Tear down a whole address space (Linux `exit_mmap`): unmap every mapping's pages
/// (`unmap_vmas`), then free every page table (`free_pgtables`). Its TLB entries need no
/// flush but for the tables' (see [`MmuGather`]); the pgd itself is freed by the caller.
pub fn exit_mmap(mm: &Mm, vmas: &[Vma]) {
    let mut tlb = MmuGather::fullmm(mm);
    for vma in vmas {
        unmap_page_range(&mut tlb, vma.start, vma.end);
    }
    free_pgtables(&mut tlb, vmas, FIRST_USER_ADDRESS, USER_PGTABLES_CEILING);
    tlb.finish();
}

/// The lowest address a page table may be freed for (Linux `FIRST_USER_ADDRESS`).
const FIRST_USER_ADDRESS: u64 = 0;
/// The highest, 0 standing for the top of the address space (Linux
/// `USER_PGTABLES_CEILING`).
const USER_PGTABLES_CEILING: u64 = 0;

/// Free the page tables under the mappings `vmas` (sorted), as far as no mapping outside
/// `[floor, ceiling)` shares them (Linux `free_pgtables`). Mappings less than 2 MiB apart
/// are freed in one call down, as Linux gathers them.
fn free_pgtables<V: Extent>(tlb: &mut MmuGather, vmas: &[V], floor: u64, ceiling: u64) {
    let pmd_size = level_size(LEVEL_PMD);
    let mut i = 0;
    while i < vmas.len() {
        let addr = vmas[i].start();
        // Optimization: gather nearby vmas into one call down (Linux's words).
        while i + 1 < vmas.len() && vmas[i + 1].start() <= vmas[i].end() + pmd_size {
            i += 1;
        }
        let next_start = vmas.get(i + 1).map_or(ceiling, |n| n.start());
        free_pgd_range(tlb, addr, vmas[i].end(), floor, next_start);
        i += 1;
    }
}

/// Free the page tables that map only `[addr, end)`, without going below `floor` or
/// above `ceiling` (Linux `free_pgd_range`): first the range is narrowed to whole pmd
/// entries inside the limits, then each level frees what lies wholly inside them.
fn free_pgd_range(tlb: &mut MmuGather, mut addr: u64, mut end: u64, floor: u64, mut ceiling: u64) {
    let (pmd_size, pmd_mask) = (level_size(LEVEL_PMD), level_mask(LEVEL_PMD));
    addr &= pmd_mask;
    if addr < floor {
        addr = addr.wrapping_add(pmd_size);
        if addr == 0 {
            return;
        }
    }
    if ceiling != 0 {
        ceiling &= pmd_mask;
        if ceiling == 0 {
            return;
        }
    }
    if end.wrapping_sub(1) > ceiling.wrapping_sub(1) {
        end = end.wrapping_sub(pmd_size);
    }
    if addr > end.wrapping_sub(1) {
        return;
    }
    // SAFETY: the caller holds the mm's lock, or nobody else can reach it.
    let pgd = unsafe { table(tlb.mm.pgd) };
    loop {
        let next = addr_end(addr, end, LEVEL_PGD);
        let entry = &mut pgd[table_index(addr, LEVEL_PGD)];
        if !none_or_clear_bad(entry, LEVEL_PGD) {
            free_pud_range(tlb, entry, addr, next, floor, ceiling);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Is `[start & mask, end)` inside `[floor, ceiling)`, so that the table covering it
/// may go? (The tail of Linux's `free_pmd_range` and `free_pud_range`.)
fn table_unshared(start: u64, end: u64, mask: u64, floor: u64, mut ceiling: u64) -> bool {
    if start & mask < floor {
        return false;
    }
    if ceiling != 0 {
        ceiling &= mask;
        if ceiling == 0 {
            return false;
        }
    }
    end.wrapping_sub(1) <= ceiling.wrapping_sub(1)
}

/// Linux `free_pud_range`: free the pmd tables under the pud entries of `[addr, end)`,
/// then the pud table itself if no mapping outside the limits shares it.
fn free_pud_range(
    tlb: &mut MmuGather,
    pgd: &mut u64,
    addr: u64,
    end: u64,
    floor: u64,
    ceiling: u64,
) {
    let start = addr;
    let pud_pa = entry_table(*pgd);
    // SAFETY: as for free_pgd_range.
    let pud = unsafe { table(pud_pa) };
    let mut addr = addr;
    loop {
        let next = addr_end(addr, end, LEVEL_PUD);
        let entry = &mut pud[table_index(addr, LEVEL_PUD)];
        if !none_or_clear_bad(entry, LEVEL_PUD) {
            free_pmd_range(tlb, entry, addr, next, floor, ceiling);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    if table_unshared(start, end, level_mask(LEVEL_PGD), floor, ceiling) {
        clear_table_entry(pgd); // Linux `p4d_clear`: the p4d is the pgd entry on arm64
        tlb.remove_table(pud_pa);
    }
}

/// Linux `free_pmd_range`: free the PTE tables under the pmd entries of `[addr, end)`
/// (`free_pte_range`), then the pmd table itself if no mapping outside the limits
/// shares it.
fn free_pmd_range(
    tlb: &mut MmuGather,
    pud: &mut u64,
    addr: u64,
    end: u64,
    floor: u64,
    ceiling: u64,
) {
    let start = addr;
    let pmd_pa = entry_table(*pud);
    // SAFETY: as for free_pgd_range.
    let pmd = unsafe { table(pmd_pa) };
    let mut addr = addr;
    loop {
        let next = addr_end(addr, end, LEVEL_PMD);
        let entry = &mut pmd[table_index(addr, LEVEL_PMD)];
        if !none_or_clear_bad(entry, LEVEL_PMD) {
            // Linux `free_pte_range`.
            let pte_pa = entry_table(*entry);
            clear_table_entry(entry);
            tlb.remove_table(pte_pa);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    if table_unshared(start, end, level_mask(LEVEL_PUD), floor, ceiling) {
        clear_table_entry(pud);
        tlb.remove_table(pmd_pa);
    }
}

/// Give the pages already mapped in `vma` the access its flags now allow (Linux
/// `change_protection` -> `change_pud_range` -> `change_pmd_range` ->
/// `change_pte_range`, for `mprotect`).
pub fn change_protection(mm: &Mm, vma: &Vma) {
    let (mut addr, end) = (vma.start, vma.end);
    // SAFETY: the caller holds mm's lock.
    let pgd = unsafe { table(mm.pgd) };
    loop {
        let next = addr_end(addr, end, LEVEL_PGD);
        let entry = &mut pgd[table_index(addr, LEVEL_PGD)];
        if !none_or_clear_bad(entry, LEVEL_PGD) {
            change_pud_range(vma, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    // Linux `flush_tlb_range`; forkos flushes the whole ASID.
    flush_tlb_mm(&mm.context);
}

/// Linux `change_pud_range`.
fn change_pud_range(vma: &Vma, pgd: u64, mut addr: u64, end: u64) {
    // SAFETY: as for change_protection.
    let pud = unsafe { table(entry_table(pgd)) };
    loop {
        let next = addr_end(addr, end, LEVEL_PUD);
        let entry = &mut pud[table_index(addr, LEVEL_PUD)];
        if !none_or_clear_bad(entry, LEVEL_PUD) {
            change_pmd_range(vma, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Linux `change_pmd_range`.
fn change_pmd_range(vma: &Vma, pud: u64, mut addr: u64, end: u64) {
    // SAFETY: as for change_protection.
    let pmd = unsafe { table(entry_table(pud)) };
    loop {
        let next = addr_end(addr, end, LEVEL_PMD);
        let entry = &mut pmd[table_index(addr, LEVEL_PMD)];
        if !none_or_clear_bad(entry, LEVEL_PMD) {
            change_pte_range(vma, *entry, addr, next);
        }
        addr = next;
        if addr == end {
            break;
        }
    }
}

/// Linux `change_pte_range`: each present PTE of `[addr, end)` gets the mapping's new
/// access. A private page that is read-only stays so even if the mapping became
/// writable: it may be shared copy-on-write, and the first write will sort it out in
/// [`do_wp_page`].
fn change_pte_range(vma: &Vma, pmd: u64, addr: u64, end: u64) {
    let private = !vma.flags.contains(VmFlags::SHARED);
    // SAFETY: as for change_protection.
    let pte = unsafe { table(entry_table(pmd)) };
    let (first, last) = (
        table_index(addr, LEVEL_PTE),
        table_index(end - 1, LEVEL_PTE),
    );
    for ptep in &mut pte[first..=last] {
        let old = *ptep;
        if pte_none(old) {
            continue;
        }
        let mut new = mk_user_pte(pte_pa(old), vma.flags);
        if private && !pte_writable(old) {
            new = pte_wrprotect(new);
        }
        set_pte(ptep, new);
    }
}

/// What [`copy_page_range`] copied, for the fork trace (Linux counts the child's pages
/// in `rss[]` the same way, in `copy_present_pte`).
#[derive(Default, Clone, Copy)]
pub struct CopyCount {
    /// PTEs copied into the child.
    pub ptes: usize,
    /// Of them, pages of writable private mappings, now shared copy-on-write (read-only
    /// in both address spaces).
    pub cow: usize,
}

/// Is a mapping private, so that its pages are shared copy-on-write at fork (Linux
/// `is_cow_mapping`)? forkos has no `VM_MAYWRITE`: any private mapping may be made
/// writable, as any private anonymous one may on Linux.
fn is_cow_mapping(flags: VmFlags) -> bool {
    !flags.contains(VmFlags::SHARED)
}

/// Must fork copy this mapping's PTEs (Linux `vma_needs_copy`)? Not those of a shared
/// mapping: the child's faults find the same pages in the shared object, so copying
/// would only make fork slower. Private memory may hold pages nothing else can give
/// back (Linux: the mapping has an `anon_vma`).
fn vma_needs_copy(vma: &Vma) -> bool {
    is_cow_mapping(vma.flags)
}

/// Share one mapping's pages between the parent's address space `src` and the child's
/// `dst` at fork (Linux `copy_page_range` -> `copy_pud_range` -> `copy_pmd_range` ->
/// `copy_pte_range` -> `copy_present_pte`).
///
/// No page is copied. Every present page gets one more reference and is mapped in `dst`.
/// Pages of a private writable mapping are made read-only in *both* trees (Linux
/// `ptep_set_wrprotect` + `pte_wrprotect`): whoever writes first takes the fault and gets
/// a copy in [`do_wp_page`]. The caller holds `src`'s lock and flushes `src`'s TLB once,
/// after every mapping is copied (as Linux's `dup_mmap` does with `flush_tlb_mm`).
pub fn copy_page_range(dst: &Mm, src: &Mm, vma: &Vma, count: &mut CopyCount) -> Result<(), Fault> {
    if !vma_needs_copy(vma) {
        return Ok(());
    }
    let (mut addr, end) = (vma.start, vma.end);
    // SAFETY: the caller holds src's lock; dst is new and private to the caller. The
    // two trees are different pages.
    let (dst_pgd, src_pgd) = unsafe { (table(dst.pgd), table(src.pgd)) };
    loop {
        let next = addr_end(addr, end, LEVEL_PGD);
        let i = table_index(addr, LEVEL_PGD);
        if !none_or_clear_bad(&mut src_pgd[i], LEVEL_PGD) {
            copy_pud_range(vma, &mut dst_pgd[i], src_pgd[i], addr, next, count)?;
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    Ok(())
}

/// Linux `copy_pud_range`: allocate the child's pud table, copy the parent's entries of
/// `[addr, end)` below.
fn copy_pud_range(
    vma: &Vma,
    dst_pgd: &mut u64,
    src_pgd: u64,
    mut addr: u64,
    end: u64,
    count: &mut CopyCount,
) -> Result<(), Fault> {
    // SAFETY: as for copy_page_range.
    let (dst_pud, src_pud) = unsafe { (table(alloc_table(dst_pgd)?), table(entry_table(src_pgd))) };
    loop {
        let next = addr_end(addr, end, LEVEL_PUD);
        let i = table_index(addr, LEVEL_PUD);
        if !none_or_clear_bad(&mut src_pud[i], LEVEL_PUD) {
            copy_pmd_range(vma, &mut dst_pud[i], src_pud[i], addr, next, count)?;
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    Ok(())
}

/// Linux `copy_pmd_range`.
fn copy_pmd_range(
    vma: &Vma,
    dst_pud: &mut u64,
    src_pud: u64,
    mut addr: u64,
    end: u64,
    count: &mut CopyCount,
) -> Result<(), Fault> {
    // SAFETY: as for copy_page_range.
    let (dst_pmd, src_pmd) = unsafe { (table(alloc_table(dst_pud)?), table(entry_table(src_pud))) };
    loop {
        let next = addr_end(addr, end, LEVEL_PMD);
        let i = table_index(addr, LEVEL_PMD);
        if !none_or_clear_bad(&mut src_pmd[i], LEVEL_PMD) {
            copy_pte_range(vma, &mut dst_pmd[i], src_pmd[i], addr, next, count)?;
        }
        addr = next;
        if addr == end {
            break;
        }
    }
    Ok(())
}

/// Linux `copy_pte_range`: allocate the child's PTE table and copy every present PTE of
/// `[addr, end)` into it.
fn copy_pte_range(
    vma: &Vma,
    dst_pmd: &mut u64,
    src_pmd: u64,
    addr: u64,
    end: u64,
    count: &mut CopyCount,
) -> Result<(), Fault> {
    let dst_table = alloc_table(dst_pmd)?;
    let src_table = entry_table(src_pmd);
    let (mut src_pte, last) = pte_walk(src_table, addr, end);
    // Linux steps `dst_pte` along with `src_pte`: the child's entry is at the same place
    // in its table, this many bytes from the parent's (an offset, which costs nothing
    // for the empty entries).
    let to_dst = dst_table.0.wrapping_sub(src_table.0) as usize;
    let refs = PageRefs::get();
    // Counted here and added up once per table, as Linux's `rss[]` and
    // `add_mm_rss_vec`.
    let mut rss = 0;
    let vm_flags = vma.flags;
    loop {
        src_pte = src_pte.wrapping_add(1);
        // SAFETY: an entry of `[addr, end)` (see `pte_walk`) in the parent's table, whose
        // lock the caller holds; not one of the child's.
        let src = unsafe { &mut *src_pte };
        if pte_none(*src) {
            // SAFETY: as above; `src_pte` is none and at or before `last`.
            src_pte = unsafe { skip_none_ptes(src_pte, last) };
        } else {
            // SAFETY: the same entry of the child's table, which only the caller can
            // reach.
            let dst = unsafe { &mut *src_pte.wrapping_byte_add(to_dst) };
            copy_present_pte(vm_flags, dst, src, refs);
            rss += 1;
        }
        if src_pte == last {
            break;
        }
    }
    count.ptes += rss;
    if is_cow_mapping(vm_flags) && vm_flags.contains(VmFlags::WRITE) {
        count.cow += rss;
    }
    Ok(())
}

/// Linux `copy_present_pte`: one more reference to the page (`get_page`); in a private
/// mapping, write-protect it in the parent (`ptep_set_wrprotect`) and the child
/// (`pte_wrprotect`); then the child's entry (`set_pte_at`).
#[inline(always)]
fn copy_present_pte(vm_flags: VmFlags, dst: &mut u64, src: &mut u64, refs: PageRefs) {
    let mut pte = *src;
    refs.get_page(pte_pa(pte));
    if is_cow_mapping(vm_flags) && pte_writable(pte) {
        ptep_set_wrprotect(src);
        pte = pte_wrprotect(pte);
    }
    set_pte(dst, pte);
}

impl MmLock<'_> {
    /// How many pages of `[start, end)` are present in the page tables (what Linux's
    /// `MM_ANONPAGES`/`MM_FILEPAGES` counters say for the range, `get_mm_rss`); forkos
    /// counts by walking the tables instead of keeping counters. Read only.
    pub fn resident_pages(&self, start: u64, end: u64) -> u64 {
        let mut n = 0;
        let mut va = start;
        while va < end {
            // SAFETY: the tables belong to this address space, whose lock self holds;
            // they are only read, one of each level at a time.
            let pte = unsafe {
                let pgd = table(self.mm().pgd)[table_index(va, LEVEL_PGD)];
                if pte_none(pgd) || !is_table(pgd, LEVEL_PGD) {
                    va = addr_end(va, end, LEVEL_PGD);
                    continue;
                }
                let pud = table(entry_table(pgd))[table_index(va, LEVEL_PUD)];
                if pte_none(pud) || !is_table(pud, LEVEL_PUD) {
                    va = addr_end(va, end, LEVEL_PUD);
                    continue;
                }
                let pmd = table(entry_table(pud))[table_index(va, LEVEL_PMD)];
                if pte_none(pmd) || !is_table(pmd, LEVEL_PMD) {
                    va = addr_end(va, end, LEVEL_PMD);
                    continue;
                }
                table(entry_table(pmd))[table_index(va, LEVEL_PTE)]
            };
            if !pte_none(pte) {
                n += 1;
            }
            va += PAGE_SIZE as u64;
        }
        n
    }
}
