//! User page tables: faults, copying at fork, teardown (Linux `mm/memory.c`).
//!
//! User page tables have Linux's four levels (pgd, pud, pmd, pte) of 512 entries. Only
//! the last level maps pages: user memory is mapped 4 KiB at a time, on first touch
//! ([`handle_mm_fault`]).
//!
//! Fork copies no user page: [`copy_page_range`] makes parent and child map the same
//! pages, write-protected in both. The first write to such a page faults, and
//! [`do_wp_page`] either copies it (`wp_page_copy`) or, when the faulting address space
//! is the only one left mapping it, makes it writable again (`wp_page_reuse`).

use forkos_lib::pgtable::{
    is_table, level_size, table_desc, table_index, LEVEL_PGD, LEVEL_PTE, PAGE_SIZE, PHYS_MASK,
};

use super::{page_alloc, Mm, MmInner, VmFlags, Vma};
use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::arch::mmu_context::{
    flush_tlb_page, mk_user_pte, pte_pa, pte_present, pte_writable, pte_wrprotect,
};

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

/// The last-level table for `va` in `mm`'s tree, creating missing tables on the way
/// (Linux `pgd_offset` ... `pmd_offset` with `__pud_alloc`, `__pmd_alloc`, `__pte_alloc`).
///
/// # Safety
/// The caller holds the address space's lock.
unsafe fn pte_alloc(mm: &Mm, va: u64) -> Result<PhysAddr, Fault> {
    let mut t = mm.pgd;
    for level in LEVEL_PGD..LEVEL_PTE {
        let index = table_index(va, level);
        // SAFETY: t is a table of this locked tree.
        let slot = &mut unsafe { table(t) }[index];
        if *slot == 0 {
            let new = page_alloc::alloc_zeroed_page().ok_or(Fault::Oom)?;
            page_alloc::table_reset(new);
            // Remember it, so that teardown finds the tables without searching for them.
            let mut tables = mm.tables.lock();
            if level + 1 == LEVEL_PTE {
                // With the 2 MiB it maps, for fork's copy.
                tables
                    .pte
                    .push((new, va & !(level_size(LEVEL_PTE - 1) - 1)));
            } else {
                tables.upper.push(new);
            }
            drop(tables);
            page_alloc::table_mark(t, index);
            *slot = table_desc(new.0);
        }
        debug_assert!(is_table(*slot, level));
        t = PhysAddr(*slot & PHYS_MASK);
    }
    Ok(t)
}

/// The PTE slot for `va`, creating missing tables (Linux `pte_offset_map` after
/// `__pte_alloc`). The caller is about to fill it.
///
/// # Safety
/// The caller holds the address space's lock.
unsafe fn pte_slot<'a>(mm: &Mm, va: u64) -> Result<&'a mut u64, Fault> {
    // SAFETY: the caller holds the lock.
    let t = unsafe { pte_alloc(mm, va)? };
    let index = table_index(va, LEVEL_PTE);
    page_alloc::table_mark(t, index);
    // SAFETY: t is the last-level table of this locked tree.
    Ok(&mut unsafe { table(t) }[index])
}

/// Does `flags` allow `access`?
fn vma_allows(flags: VmFlags, access: Access) -> bool {
    match access {
        Access::Read => flags.contains(VmFlags::READ),
        Access::Write => flags.contains(VmFlags::WRITE),
        Access::Exec => flags.contains(VmFlags::EXEC),
    }
}

/// Resolve a fault at `va` against the mappings (Linux `handle_mm_fault` ->
/// `handle_pte_fault`): map a page if none is there yet ([`do_pte_missing`]), or break
/// copy-on-write for a write ([`do_wp_page`]). Returns the physical page mapped at `va`,
/// which now allows `access`.
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
    let slot = unsafe { pte_slot(mm, page_va)? };
    if pte_present(*slot) {
        if access == Access::Write && !pte_writable(*slot) {
            return do_wp_page(mm, vma, page_va, slot);
        }
        return Ok(pte_pa(*slot));
    }
    let (pa, pte) = do_pte_missing(vma, page_va, access)?;
    *slot = pte;
    // The table walker must see the new entry before user space retries the access.
    // SAFETY: a barrier only orders memory accesses.
    unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
    Ok(pa)
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
fn do_wp_page(mm: &Mm, vma: &Vma, va: u64, slot: &mut u64) -> Result<PhysAddr, Fault> {
    let old = pte_pa(*slot);
    if vma.flags.contains(VmFlags::SHARED) {
        *slot = mk_user_pte(old, vma.flags);
        flush_tlb_page(&mm.context, va);
        return Ok(old);
    }
    // Linux checks `PageAnon`: a page the mapping's object or the kernel owns is never
    // reused, whatever its reference count says.
    if vma.data.owns_page((va - vma.start) / PAGE_SIZE as u64, old) {
        return wp_page_copy(mm, vma, va, slot);
    }
    // EXERCISE cow_reuse: begin
    if page_alloc::page_count(old) == 1 {
        // Nobody else maps it any more (the other side wrote or exited first): take it
        // back as it is, writable again (Linux `wp_page_reuse`).
        *slot = mk_user_pte(old, vma.flags);
        // The read-only entry may be cached in the TLB: drop it (arm64 Linux flushes
        // it in `ptep_set_access_flags`).
        flush_tlb_page(&mm.context, va);
        crate::trace::cow_fault(va, old, old);
        return Ok(old);
    }
    // EXERCISE cow_reuse: end
    wp_page_copy(mm, vma, va, slot)
}

/// Give this address space its own copy of the page mapped read-only at `va` (Linux
/// `wp_page_copy`). The other mappers keep the original, still write-protected.
fn wp_page_copy(mm: &Mm, vma: &Vma, va: u64, slot: &mut u64) -> Result<PhysAddr, Fault> {
    let old = pte_pa(*slot);
    let pa = page_alloc::alloc_page().ok_or(Fault::Oom)?;
    // SAFETY: both are RAM pages, linear mapped; `pa` is ours alone and `old` is
    // read-only to everyone while it is shared.
    unsafe { crate::arch::page::copy_page(phys_to_virt(pa), phys_to_virt(old)) };
    page_alloc::put_page(old);
    *slot = mk_user_pte(pa, vma.flags);
    // The read-only entry may be cached in the TLB: drop it (Linux flushes in
    // `ptep_clear_flush`).
    flush_tlb_page(&mm.context, va);
    crate::trace::cow_fault(va, old, pa);
    Ok(pa)
}

/// A user-mode fault at `va` (Linux `do_page_fault`): map the page, or copy it on write,
/// if the mapping allows the access.
pub fn do_page_fault(va: u64, access: Access) -> Result<(), Fault> {
    let mm = crate::task::current()
        .inner
        .lock()
        .mm
        .clone()
        .ok_or(Fault::NoVma)?;
    let inner = mm.inner.lock();
    handle_mm_fault(&mm, &inner, va, access)?;
    Ok(())
}

/// Call `f(table, base, first, last)` for every last-level table that `[start, end)`
/// reaches in the tree at `pgd`: `table` maps the 2 MiB from `base`, and entries
/// `first..=last` of it are in the range. Missing tables are skipped whole, and so are
/// the groups of entries an upper table never used (the walk of Linux's
/// `zap_p4d_range` ... `zap_pmd_range`; `f` is the `zap_pte_range` part).
///
/// # Safety
/// The caller holds the address space's lock, or the tree is private to it.
unsafe fn for_each_pte_table<F>(pgd: PhysAddr, start: u64, end: u64, f: &mut F) -> Result<(), Fault>
where
    F: FnMut(PhysAddr, u64, usize, usize) -> Result<(), Fault>,
{
    fn walk<F>(
        t: PhysAddr,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        f: &mut F,
    ) -> Result<(), Fault>
    where
        F: FnMut(PhysAddr, u64, usize, usize) -> Result<(), Fault>,
    {
        let size = forkos_lib::pgtable::level_size(level);
        let first = table_index(start.max(base), level);
        let last = last_index(base, end, level);
        // SAFETY: the caller of for_each_pte_table guarantees exclusive access.
        let entries = unsafe { table(t) };
        let mut groups = used_groups(t, first, last);
        while groups != 0 {
            let k = groups.trailing_zeros() as usize;
            groups &= groups - 1;
            let (lo, hi) = ((k * 8).max(first), (k * 8 + 7).min(last));
            for (j, &e) in entries.iter().enumerate().take(hi + 1).skip(lo) {
                if !is_table(e, level) {
                    continue;
                }
                let va = base + j as u64 * size;
                let next = PhysAddr(e & PHYS_MASK);
                if level + 1 == LEVEL_PTE {
                    let first = table_index(start.max(va), LEVEL_PTE);
                    f(next, va, first, last_index(va, end, LEVEL_PTE))?;
                } else {
                    walk(next, level + 1, va, start, end, f)?;
                }
            }
        }
        Ok(())
    }
    walk(pgd, LEVEL_PGD, 0, start, end, f)
}

/// The last entry of the level-`level` table mapping from `base` that `[.., end)` reaches.
fn last_index(base: u64, end: u64, level: usize) -> usize {
    if end - 1 < base + 512 * forkos_lib::pgtable::level_size(level) {
        table_index(end - 1, level)
    } else {
        511
    }
}

/// The groups of eight entries of table `t` that were ever used, within `first..=last`:
/// one bit per group, from the page's record.
fn used_groups(t: PhysAddr, first: usize, last: usize) -> u64 {
    let mut groups = page_alloc::table_used(t) & (u64::MAX << (first / 8));
    if last / 8 < 63 {
        groups &= (1 << (last / 8 + 1)) - 1;
    }
    groups
}

/// `f(index, entry)` for each present entry of the eight in group `k` of a table,
/// written out eight times: no loop counter, no bounds to check.
macro_rules! present_in_group {
    ($entries:expr, $k:expr, $f:expr) => {{
        let k = $k;
        let group: &mut [u64; 8] = (&mut $entries[k * 8..k * 8 + 8]).try_into().unwrap();
        present_in_group!(@ group, k, $f, 0 1 2 3 4 5 6 7);
    }};
    (@ $g:ident, $k:ident, $f:expr, $($i:literal)*) => {$(
        if pte_present($g[$i]) {
            $f($k * 8 + $i, &mut $g[$i]);
        }
    )*};
}

/// Call `f(index, pte)` for each present entry `first..=last` of the PTE table `t`,
/// looking only at groups of entries that were ever used. Inlined into each caller, so
/// that every per-page loop is a tight one; a whole group is done in one unrolled run.
///
/// # Safety
/// As for [`for_each_pte_table`].
#[inline(always)]
unsafe fn for_each_present_pte<F: FnMut(usize, &mut u64)>(
    t: PhysAddr,
    first: usize,
    last: usize,
    mut f: F,
) {
    // SAFETY: the caller guarantees exclusive access to the table.
    let entries = unsafe { table(t) };
    let mut groups = used_groups(t, first, last);
    if groups == u64::MAX && first == 0 && last == 511 {
        // A table in use all through (a big dirty mapping): straight through it.
        for k in 0..64 {
            present_in_group!(entries, k, f);
        }
        return;
    }
    while groups != 0 {
        let k = groups.trailing_zeros() as usize;
        groups &= groups - 1;
        let (lo, hi) = ((k * 8).max(first), (k * 8 + 7).min(last));
        if hi - lo == 7 {
            present_in_group!(entries, k, f);
        } else {
            for (i, e) in entries[k * 8..k * 8 + 8]
                .iter_mut()
                .enumerate()
                .take(hi - k * 8 + 1)
                .skip(lo - k * 8)
            {
                if pte_present(*e) {
                    f(k * 8 + i, e);
                }
            }
        }
    }
}

/// Unmap every page in `[start, end)` and drop its reference (Linux `zap_page_range`).
pub fn zap_page_range(mm: &Mm, start: u64, end: u64) {
    // SAFETY: the caller holds mm's lock.
    let _ = unsafe {
        for_each_pte_table(mm.pgd, start, end, &mut |t, _, first, last| {
            let refs = page_alloc::PageRefs::get();
            for_each_present_pte(t, first, last, |_, pte| {
                let pa = pte_pa(*pte);
                *pte = 0;
                refs.put_page(pa);
            });
            Ok(())
        })
    };
    // One flush for the whole range (Linux's `mmu_gather` batches the same way).
    crate::arch::mmu_context::flush_tlb_mm(&mm.context);
}

/// Tear down a whole address space (Linux `exit_mmap`): release every page, then free
/// every page table. The mm listed its tables as it made them, so no walk from the pgd
/// is needed: each last-level table drops the pages it maps. No TLB maintenance per page:
/// the caller retires the whole ASID. The entries are not cleared: the tables go too.
pub fn exit_mmap(mm: &Mm) {
    let tables = core::mem::take(&mut *mm.tables.lock());
    let refs = page_alloc::PageRefs::get();
    for &(t, _) in &tables.pte {
        // SAFETY: a dying mm nobody else can reach.
        unsafe { for_each_present_pte(t, 0, 511, |_, pte| refs.put_page(pte_pa(*pte))) };
        // SAFETY: as above; its pages are released.
        unsafe { free_table(t) };
    }
    for &t in tables.upper.iter().chain([&mm.pgd]) {
        // SAFETY: as above; the tables it points to are freed (or being freed) too.
        unsafe { free_table(t) };
    }
}

/// Free a page table of a dying address space. If few of its entries were used, they
/// are cleared first, and the page goes back known to be zero: the next page table is
/// then allocated without clearing a whole page. (A table used all over is freed as it
/// is: clearing it would cost more than clearing a page.)
///
/// # Safety
/// Nobody else can reach the table.
unsafe fn free_table(t: PhysAddr) {
    let used = page_alloc::table_used(t);
    if used.count_ones() > 16 {
        page_alloc::free_page(t);
        return;
    }
    // SAFETY: the caller guarantees exclusive access.
    let entries = unsafe { table(t) };
    let mut groups = used;
    while groups != 0 {
        let k = groups.trailing_zeros() as usize;
        groups &= groups - 1;
        entries[k * 8..k * 8 + 8].fill(0);
    }
    // Every entry outside the used groups was never written: the table is all zero.
    debug_assert!(entries.iter().all(|&e| e == 0));
    page_alloc::free_zeroed_page(t);
}

/// Give the pages already mapped in `vma` the access its flags now allow (Linux
/// `change_protection`, for `mprotect`). A private page that is read-only stays so even
/// if the mapping became writable: it may be shared copy-on-write, and the first write
/// will sort it out in [`do_wp_page`].
pub fn change_protection(mm: &Mm, vma: &Vma) {
    let private = !vma.flags.contains(VmFlags::SHARED);
    // SAFETY: the caller holds mm's lock.
    let _ = unsafe {
        for_each_pte_table(mm.pgd, vma.start, vma.end, &mut |t, _, first, last| {
            for_each_present_pte(t, first, last, |_, pte| {
                let mut new = mk_user_pte(pte_pa(*pte), vma.flags);
                if private && !pte_writable(*pte) {
                    new = pte_wrprotect(new);
                }
                *pte = new;
            });
            Ok(())
        })
    };
    crate::arch::mmu_context::flush_tlb_mm(&mm.context);
}

/// Share the pages of the mappings `vmas` between `src` and the new address space `dst` at
/// fork (Linux `copy_page_range` -> `copy_pte_range` -> `copy_present_pte`), visiting
/// only page tables that exist. Returns how many PTEs were copied and how many of them
/// are copy-on-write (read-only in both trees now).
///
/// No page is copied. Every present page gets one more reference and is mapped in `dst`.
/// Pages of a private writable mapping are made read-only in *both* trees (Linux
/// `ptep_set_wrprotect` + `pte_wrprotect`): whoever writes first takes the fault and gets
/// a copy in [`do_wp_page`]. Shared and read-only mappings are mapped as they are. The
/// caller flushes `src`'s TLB entries once, after the whole copy (as Linux's `dup_mmap`
/// does with `flush_tlb_mm`).
pub fn copy_page_range(dst: &Mm, src: &Mm, vmas: &[Vma]) -> Result<(usize, usize), Fault> {
    let (mut copied, mut protected) = (0, 0);
    // Linux walks pgd -> pud -> pmd -> pte for each mapping. The mm lists its last-level
    // tables (and where each maps), so forkos goes straight to them; within a table,
    // `copy_pte_range`'s work: one run of entries per mapping. The list does not change
    // meanwhile: tables are added only under the mm's lock, which the caller holds.
    let n = src.tables.lock().pte.len();
    for i in 0..n {
        let (src_t, base) = src.tables.lock().pte[i];
        // SAFETY: dst is new and private to the caller.
        let dst_t = unsafe { pte_alloc(dst, base)? };
        // The child's table holds entries where the parent's does.
        page_alloc::table_copy_used(dst_t, src_t);
        // SAFETY: the caller holds src's lock; dst is new and private to the caller.
        let (n, cow) = unsafe { copy_pte_range(dst_t, src_t, base, vmas) };
        copied += n;
        protected += cow;
    }
    Ok((copied, protected))
}

/// Share the present entries of the parent's last-level table `src_t`, which maps the
/// 2 MiB from `base`, into the child's `dst_t` (Linux `copy_pte_range`). Returns how many
/// were copied and how many of them are copy-on-write.
///
/// # Safety
/// The caller holds the parent's mm lock; `dst_t` is the child's and nobody else's.
#[inline(never)]
unsafe fn copy_pte_range(
    dst_t: PhysAddr,
    src_t: PhysAddr,
    base: u64,
    vmas: &[Vma],
) -> (usize, usize) {
    let (mut copied, mut protected) = (0, 0);
    // SAFETY: the child's table is private to the caller.
    let dst_entries = unsafe { table(dst_t) } as *mut u64;
    let refs = page_alloc::PageRefs::get();
    // The first mapping that reaches into this table.
    let mut v = vmas.partition_point(|m| m.end <= base);
    let mut j = 0;
    while j <= 511 {
        let va = base + (j * PAGE_SIZE) as u64;
        while v < vmas.len() && vmas[v].end <= va {
            v += 1;
        }
        let Some(vma) = vmas.get(v) else { break };
        // Entries outside every mapping hold nothing; skip to the next one.
        if vma.start > va {
            j = ((vma.start - base) / PAGE_SIZE as u64) as usize;
            continue;
        }
        let run_end = last_index(base, vma.end, LEVEL_PTE);
        let cow = !vma.flags.contains(VmFlags::SHARED) && vma.flags.contains(VmFlags::WRITE);
        // Counted in a register, added up once per run.
        let mut n = 0;
        // Linux `copy_present_pte`: `ptep_set_wrprotect` in the parent, `pte_wrprotect`
        // in the child, `get_page`, `set_pte_at`. Two loops, so that the choice is not
        // made again for every page.
        let mut copy = |i: usize, pte: &mut u64, e: u64| {
            refs.get_page(pte_pa(e));
            // SAFETY: i < 512, an entry of the child's new table.
            unsafe { *dst_entries.add(i) = e };
            *pte = e;
            n += 1;
        };
        // SAFETY: the caller holds the parent's lock.
        unsafe {
            if cow {
                for_each_present_pte(src_t, j, run_end, |i, pte| {
                    copy(i, pte, pte_wrprotect(*pte))
                });
                protected += n;
            } else {
                for_each_present_pte(src_t, j, run_end, |i, pte| copy(i, pte, *pte));
            }
        }
        copied += n;
        j = run_end + 1;
    }
    (copied, protected)
}
