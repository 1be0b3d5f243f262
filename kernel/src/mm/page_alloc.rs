//! The physical page allocator (Linux `mm/page_alloc.c`, much reduced: single pages only).
//!
//! At boot it is handed the free ranges of [`memblock`](forkos_lib::memblock): RAM minus
//! the kernel image, the device tree, the initrd and firmware reservations. They form one
//! *zone* (Linux `struct zone`), behind one lock: pages come first from a free list of
//! pages given back (each free page holds the physical address of the next one in its
//! first word, reached through the linear map) and otherwise from the front of the
//! untouched ranges. Both are O(1), and boot does not touch every page.
//!
//! In front of the zone, each CPU keeps a short list of free pages of its own (Linux
//! `struct per_cpu_pages`): [`alloc_page`] and [`free_page`] use only this CPU's list,
//! and take the zone's lock once per `batch` pages, when the list runs empty
//! ([`rmqueue_bulk`]) or grows past `high` ([`free_pcppages_bulk`]). How many pages that
//! is is plain arithmetic, in [`forkos_lib::pcp`]. Each list has a lock of its own, as
//! in Linux 6.1 (`pcp->lock`, taken with interrupts masked by `pcp_spin_lock_irqsave`):
//! only its CPU takes it, except to drain the list back into the zone when memory runs
//! short ([`drain_all_pages`], which Linux 6.1 also does from any CPU) and to count free
//! pages exactly; so the lock is never contended on the fast path, yet no other CPU's
//! list is out of reach.
//!
//! The known-zero pages (page tables given back) have a list of their own on each CPU
//! beside the other (as Linux keeps a list per migrate type), so that a fork's page
//! tables come from and go back to its CPU without the zone's lock either.
//!
//! [`nr_free_pages`] is exact at every moment, the pages on every CPU's list included;
//! tests compare it before and after a workload to prove that nothing leaked.
//!
//! Every page also has a reference count (Linux `struct page`'s `_refcount`, in an array
//! like `mem_map`): a page mapped by several address spaces (shared memory; copy-on-write
//! later) is freed when the last user drops it ([`get_page`], [`put_page`]).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use forkos_lib::memblock::RangeSet;
use forkos_lib::pcp::{zone_batchsize, zone_highsize, PcpCounts, BOOT_PAGESET};
use forkos_lib::pgtable::{PAGE_SHIFT, PAGE_SIZE};

use crate::arch::irqflags::local_irq_save;
use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::arch::percpu::NR_CPUS;
use crate::sync::{lock_class, IrqSpinLock, IrqSpinLockGuard};

/// How many disjoint free ranges the allocator tracks.
pub const MAX_RANGES: usize = 16;

/// All of RAM the allocator manages (Linux `struct zone`; forkos has a single one).
struct Zone {
    /// Physical address of the first page on the free list, 0 for none.
    free_list: u64,
    /// Free pages known to be all zeroes but for the first word, which links them (page
    /// tables whose entries were cleared as they were freed): `alloc_zeroed_page` takes
    /// these first, and need not clear them again.
    zero_list: u64,
    /// Not yet handed out, consumed from the front.
    untouched: RangeSet<MAX_RANGES>,
    /// Where the untouched ranges came from: every page this allocator owns.
    managed: RangeSet<MAX_RANGES>,
}

static ZONE: IrqSpinLock<Zone, { lock_class::ZONE }> = IrqSpinLock::new(Zone {
    free_list: 0,
    zero_list: 0,
    untouched: RangeSet::new(),
    managed: RangeSet::new(),
});

/// Free pages in the zone, those on the CPUs' lists not included (Linux's per-zone
/// `NR_FREE_PAGES` counter): changed only under the zone's lock, read without it for the
/// watermark check, as Linux's `zone_watermark_fast` does.
static ZONE_FREE: AtomicUsize = AtomicUsize::new(0);

/// Does the zone's known-zero list hold a page? Changed only under the zone's lock, read
/// without it so that an allocation of a zeroed page takes the lock only when it may get
/// one.
static ZONE_HAS_ZEROED: AtomicBool = AtomicBool::new(false);

/// The list of pages whose contents are undefined (Linux's `pindex` of a per-CPU list).
const PCP_ANY: usize = 0;
/// The list of pages known to be zero but for their link word, as the zone's `zero_list`.
const PCP_ZEROED: usize = 1;
/// Lists per CPU (Linux `NR_PCP_LISTS`, one per migrate type and order there).
const NR_PCP_LISTS: usize = 2;

/// One CPU's free pages (Linux `struct per_cpu_pages`): `count` over all its lists,
/// `high` and `batch` in [`PcpCounts`], and the lists, linked through each page's first
/// word like the zone's.
struct PerCpuPages {
    counts: PcpCounts,
    lists: [u64; NR_PCP_LISTS],
}

/// A CPU's list and its lock, on a cache line of its own so that CPUs do not share
/// lines they write on every allocation (Linux allocates `per_cpu_pages` per CPU).
#[repr(align(64))]
struct PcpSlot(IrqSpinLock<PerCpuPages>);

/// Every CPU's list (Linux `zone->per_cpu_pageset`), the boot one until [`init`] sizes
/// them (Linux `boot_pageset`).
static PCP: [PcpSlot; NR_CPUS] = [const {
    PcpSlot(IrqSpinLock::new(PerCpuPages {
        counts: BOOT_PAGESET,
        lists: [0; NR_PCP_LISTS],
    }))
}; NR_CPUS];

static READY: AtomicBool = AtomicBool::new(false);

/// First physical address the reference-count array covers.
static MEM_MAP_BASE: AtomicU64 = AtomicU64::new(0);
/// What the kernel keeps about each physical page (Linux `struct page`, reduced).
#[repr(C)]
struct PageInfo {
    /// References (Linux `_refcount`).
    count: AtomicU32,
}

/// The array of [`PageInfo`], one per page from `MEM_MAP_BASE`.
static MEM_MAP: AtomicU64 = AtomicU64::new(0);
static MEM_MAP_PAGES: AtomicU64 = AtomicU64::new(0);

#[inline]
fn page_info(pa: PhysAddr) -> &'static PageInfo {
    PageRefs::get().info(pa)
}

/// The page records, looked up once for a batch of pages (a page-table walk touches
/// hundreds): `get_page`/`put_page` without reloading where the array is.
#[derive(Clone, Copy)]
pub struct PageRefs {
    /// The page frame number of the first page the array covers.
    base_pfn: u64,
    pages: u64,
    map: *const PageInfo,
}

impl PageRefs {
    #[inline(always)]
    pub fn get() -> PageRefs {
        PageRefs {
            base_pfn: MEM_MAP_BASE.load(Ordering::Relaxed) >> PAGE_SHIFT,
            pages: MEM_MAP_PAGES.load(Ordering::Relaxed),
            map: MEM_MAP.load(Ordering::Relaxed) as *const PageInfo,
        }
    }

    /// The record of the page at `pa` (Linux `pfn_to_page`), which must be one the
    /// array covers (Linux's `vm_normal_page` checks a PTE's page frame number against
    /// `highest_memmap_pfn` the same way). The page frame number is taken first, so
    /// that with `pa` from a PTE the mask and the shift can be one instruction (`ubfx`).
    #[inline(always)]
    fn info(&self, pa: PhysAddr) -> &'static PageInfo {
        let idx = (pa.0 >> PAGE_SHIFT).wrapping_sub(self.base_pfn);
        if idx >= self.pages {
            bad_page(pa, "outside RAM");
        }
        // SAFETY: MEM_MAP points to MEM_MAP_PAGES entries in linear-mapped memory that
        // the allocator set aside for them at init and never frees.
        unsafe { &*self.map.add(idx as usize) }
    }

    /// Take another reference to an allocated page (Linux `get_page`). Whether the page
    /// was free is checked in debug builds only, as Linux checks it only with
    /// `CONFIG_DEBUG_VM` (`VM_BUG_ON_FOLIO` in `folio_get`): fork takes a reference to
    /// every page it shares, and `validate_mm` (`debug_vm`) checks the counts of the
    /// pages mapped writable.
    #[inline(always)]
    pub fn get_page(&self, pa: PhysAddr) {
        let old = self.info(pa).count.fetch_add(1, Ordering::Relaxed);
        if cfg!(debug_assertions) && old == 0 {
            bad_page(pa, "get_page of a free page");
        }
    }

    /// Drop a reference; the last one frees the page (Linux `put_page`).
    #[inline(always)]
    pub fn put_page(&self, pa: PhysAddr) {
        let old = self.info(pa).count.fetch_sub(1, Ordering::AcqRel);
        if old <= 1 {
            if old == 0 {
                bad_page(pa, "put_page of a free page");
            }
            free_unref_page(pa, PCP_ANY);
        }
    }
}

impl PageRefs {
    /// Drop a reference to each of `pages`, and free those that had their last under
    /// one lock of this CPU's list (Linux `release_pages`, which gathers them for
    /// `free_unref_page_list`). The pages to free are gathered at the front of `pages`,
    /// whose contents are undefined afterwards.
    #[inline(always)]
    pub fn release_pages(&self, pages: &mut [PhysAddr]) {
        let mut nr_free = 0;
        for i in 0..pages.len() {
            let pa = pages[i];
            let old = self.info(pa).count.fetch_sub(1, Ordering::AcqRel);
            if old <= 1 {
                if old == 0 {
                    bad_page(pa, "put_page of a free page");
                }
                pages[nr_free] = pa;
                nr_free += 1;
            }
        }
        if nr_free > 0 {
            free_unref_page_list(&pages[..nr_free]);
        }
    }
}

/// Put pages nobody references on this CPU's list, under one lock (Linux
/// `free_unref_page_list`).
#[inline(never)]
fn free_unref_page_list(pages: &[PhysAddr]) {
    let mut pcp = this_cpu_pcp();
    for &pa in pages {
        pcp.free_unref_page_commit(pa, PCP_ANY);
    }
}

/// A page record misused: a kernel bug that must not go unnoticed (Linux `bad_page`).
#[cold]
#[inline(never)]
fn bad_page(pa: PhysAddr, what: &str) -> ! {
    panic!("page {:#x}: {}", pa.0, what)
}

#[inline]
fn page_ref(pa: PhysAddr) -> &'static AtomicU32 {
    &page_info(pa).count
}

/// Hand the allocator its memory (Linux `memblock_free_all`). The ranges must be page
/// aligned and linear-mapped.
pub fn init(free: &RangeSet<MAX_RANGES>) {
    let mut a = ZONE.lock();
    a.untouched = free.clone();
    a.managed = free.clone();
    // The reference counts cover every page from the first free one to the last, and
    // live in the first free range big enough (Linux allocates mem_map from memblock).
    let (first, last) = match (free.iter().next(), free.iter().last()) {
        (Some(f), Some(l)) => (f.base, l.end),
        _ => panic!("no free memory"),
    };
    let pages = (last - first) / PAGE_SIZE as u64;
    let bytes = (pages * core::mem::size_of::<PageInfo>() as u64).div_ceil(PAGE_SIZE as u64)
        * PAGE_SIZE as u64;
    let home = free
        .iter()
        .find(|r| r.size() >= bytes)
        .expect("no room for page reference counts");
    let map = forkos_lib::memblock::Range::new(home.base, bytes);
    a.untouched
        .remove(map)
        .expect("carving the front of a range never splits it");
    a.managed
        .remove(map)
        .expect("carving the front of a range never splits it");
    // SAFETY: the range is free RAM, linear mapped, and now reserved for the counters.
    unsafe {
        core::ptr::write_bytes(
            phys_to_virt(PhysAddr(map.base)) as *mut u8,
            0,
            bytes as usize,
        )
    };
    MEM_MAP_BASE.store(first, Ordering::Relaxed);
    MEM_MAP.store(phys_to_virt(PhysAddr(map.base)), Ordering::Relaxed);
    MEM_MAP_PAGES.store(pages, Ordering::Relaxed);
    let managed = (a.managed.total() / PAGE_SIZE as u64) as usize;
    ZONE_FREE.store(managed, Ordering::Relaxed);
    let reserve = (managed / 64).max(256);
    RESERVE.store(reserve, Ordering::Relaxed);
    drop(a);
    setup_per_cpu_pageset(managed);
    READY.store(true, Ordering::Release);
}

/// Size every CPU's list for this zone (Linux `setup_per_cpu_pageset` ->
/// `zone_set_pageset_high_and_batch`), the CPUs not yet started included.
fn setup_per_cpu_pageset(managed: usize) {
    let batch = zone_batchsize(managed, PAGE_SIZE);
    let high = zone_highsize(managed, batch, NR_CPUS);
    for slot in &PCP {
        let mut pcp = slot.0.lock();
        pcp.counts.batch = batch;
        pcp.counts.high = high;
    }
}

/// Has [`init`] run?
pub fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Pages only the kernel's own needs may take (Linux's `min_free_kbytes` watermark):
/// 1/64 of memory, at least 256 pages. User memory, page tables and kernel stacks —
/// everything a user program can make the kernel allocate — stop here, so the kernel
/// heap can still grow when user programs have exhausted memory, and a page fault or a
/// fork fails cleanly instead of a kernel allocation panicking.
pub fn reserve_pages() -> usize {
    RESERVE.load(Ordering::Relaxed)
}

static RESERVE: AtomicUsize = AtomicUsize::new(0);

/// Allocate one page for something a user program caused (its memory, its page
/// tables, a kernel stack); `None` once only the reserve is left (Linux `alloc_page`
/// failing at the min watermark).
pub fn alloc_page() -> Option<PhysAddr> {
    if !zone_watermark_ok() {
        return None;
    }
    rmqueue_pcplist(false).map(|(pa, _)| pa)
}

/// Allocate one page, dipping into the reserve if need be (Linux `ALLOC_HIGH` /
/// `__GFP_MEMALLOC`): only for the kernel heap and kernel page tables. Its contents are
/// undefined.
pub fn alloc_page_reserve() -> Option<PhysAddr> {
    rmqueue_pcplist(false)
        .or_else(|| {
            // The zone is empty, but other CPUs' lists may hold pages (Linux's slow
            // path drains them before it gives up: `__alloc_pages_direct_reclaim`).
            drain_all_pages();
            rmqueue_pcplist(false)
        })
        .map(|(pa, _)| pa)
}

/// Is there more than the reserve left for an allocation a user program caused (Linux
/// `zone_watermark_ok` at the min watermark)? Pages on the CPUs' lists do not count, as
/// in Linux; before saying no, they go back to the zone, so that a user program can have
/// every page above the reserve, exactly as without the lists.
#[inline(always)]
fn zone_watermark_ok() -> bool {
    ZONE_FREE.load(Ordering::Relaxed) > reserve_pages() || zone_watermark_ok_drained()
}

/// [`zone_watermark_ok`] when the zone alone is at the reserve: drain the CPUs' lists
/// and look again. Apart, as Linux's slow path is (`__alloc_pages_slowpath`), so that
/// the allocations that never come here do not pay for the registers it needs.
#[cold]
#[inline(never)]
fn zone_watermark_ok_drained() -> bool {
    drain_all_pages();
    ZONE_FREE.load(Ordering::Relaxed) > reserve_pages()
}

/// This CPU's list, locked with interrupts masked (Linux `pcp_spin_lock_irqsave`):
/// masking first keeps the task on this CPU while it looks its number up.
#[inline(always)]
fn this_cpu_pcp() -> IrqSpinLockGuard<'static, PerCpuPages> {
    let flags = local_irq_save();
    let cpu = if NR_CPUS == 1 {
        0
    } else {
        crate::arch::percpu::this_cpu().cpu
    };
    // SAFETY: interrupts were masked just above, and stay so until the guard restores
    // `flags`.
    unsafe { PCP[cpu].0.lock_irqsaved(flags) }
}

/// Take a page from this CPU's lists (Linux `rmqueue_pcplist` -> `__rmqueue_pcplist`),
/// refilled from the zone when empty: for `want_zeroed` a known-zero page if there is
/// one, otherwise any page. Says whether the page is known to be zero.
#[inline]
fn rmqueue_pcplist(want_zeroed: bool) -> Option<(PhysAddr, bool)> {
    let mut pcp = this_cpu_pcp();
    let got = match pcp.pop(if want_zeroed { PCP_ZEROED } else { PCP_ANY }) {
        Some(pa) => Some((pa, want_zeroed)),
        None => rmqueue_refill(&mut pcp, want_zeroed),
    };
    drop(pcp);
    let (pa, zeroed) = got?;
    page_ref(pa).store(1, Ordering::Relaxed);
    Some((pa, zeroed))
}

/// [`rmqueue_pcplist`] when the list it looked at first is empty: the zone's
/// known-zero pages for `want_zeroed`, then any page here or in the zone, and known-zero
/// pages last.
#[cold]
fn rmqueue_refill(pcp: &mut PerCpuPages, want_zeroed: bool) -> Option<(PhysAddr, bool)> {
    if want_zeroed {
        if ZONE_HAS_ZEROED.load(Ordering::Relaxed) {
            rmqueue_bulk(pcp, PCP_ZEROED);
            if let Some(pa) = pcp.pop(PCP_ZEROED) {
                return Some((pa, true));
            }
        }
        if let Some(pa) = pcp.pop(PCP_ANY) {
            return Some((pa, false));
        }
    }
    rmqueue_bulk(pcp, PCP_ANY);
    if let Some(pa) = pcp.pop(PCP_ANY) {
        return Some((pa, false));
    }
    pcp.pop(PCP_ZEROED).map(|pa| (pa, true))
}

impl PerCpuPages {
    /// Take the first page off list `pindex`.
    #[inline(always)]
    fn pop(&mut self, pindex: usize) -> Option<PhysAddr> {
        if self.lists[pindex] == 0 {
            return None;
        }
        self.counts.count -= 1;
        Some(PhysAddr(pop(&mut self.lists[pindex])))
    }

    /// Put a free page on list `pindex`, and give a batch back to the zone once the
    /// lists hold `high` pages (Linux `free_unref_page_commit`).
    #[inline(always)]
    fn free_unref_page_commit(&mut self, pa: PhysAddr, pindex: usize) {
        push(&mut self.lists[pindex], pa);
        self.counts.count += 1;
        if self.counts.over_high() {
            let n = self.counts.nr_pcp_free();
            free_pcppages_bulk(self, n, pindex);
        }
    }
}

/// Move up to `batch` pages from the zone to `pcp` under the zone's lock (Linux
/// `rmqueue_bulk`): for [`PCP_ZEROED`] only known-zero pages; for [`PCP_ANY`] given-back
/// pages, then untouched ones, then known-zero ones, which keep to the known-zero list.
#[cold]
fn rmqueue_bulk(pcp: &mut PerCpuPages, pindex: usize) {
    let batch = pcp.counts.batch;
    let mut zone = ZONE.lock();
    let mut n = 0;
    if pindex == PCP_ANY {
        n += move_pages(&mut zone.free_list, &mut pcp.lists[PCP_ANY], batch);
        while n < batch {
            let Some(pa) = zone.untouched.take_front(PAGE_SIZE as u64) else {
                break;
            };
            push(&mut pcp.lists[PCP_ANY], PhysAddr(pa));
            n += 1;
        }
    }
    n += move_pages(&mut zone.zero_list, &mut pcp.lists[PCP_ZEROED], batch - n);
    ZONE_HAS_ZEROED.store(zone.zero_list != 0, Ordering::Relaxed);
    // Both counts change under both locks, so that nr_free_pages never sees a page on
    // its way counted twice or not at all.
    pcp.counts.count += n;
    ZONE_FREE.fetch_sub(n, Ordering::Relaxed);
}

/// Move the first `n` pages of list `from` (all of them if it is shorter) to the front
/// of list `to`, in one piece: one walk to find where to cut, then two links changed.
/// Returns how many moved.
fn move_pages(from: &mut u64, to: &mut u64, n: usize) -> usize {
    let head = *from;
    if head == 0 || n == 0 {
        return 0;
    }
    let (mut tail, mut moved) = (head, 1);
    let mut next = link(tail);
    while moved < n && next != 0 {
        tail = next;
        next = link(tail);
        moved += 1;
    }
    *from = next;
    set_link(tail, *to);
    *to = head;
    moved
}

/// The next page after `pa` on its free list.
#[inline(always)]
fn link(pa: u64) -> u64 {
    // SAFETY: every page on a free list is free RAM owned by the allocator, linear
    // mapped, and holds the next pointer in its first word.
    unsafe { *(phys_to_virt(PhysAddr(pa)) as *const u64) }
}

/// Make `next` the page after `pa` on its free list.
#[inline(always)]
fn set_link(pa: u64, next: u64) {
    // SAFETY: the page is free RAM the allocator owns, and linear mapped; its first word
    // is the link.
    unsafe { *(phys_to_virt(PhysAddr(pa)) as *mut u64) = next };
}

/// Take the first page off a free list.
#[inline(always)]
fn pop(list: &mut u64) -> u64 {
    let pa = *list;
    *list = link(pa);
    pa
}

/// Put a page the allocator owns at the head of a free list.
#[inline(always)]
fn push(list: &mut u64, pa: PhysAddr) {
    set_link(pa.0, *list);
    *list = pa.0;
}

/// Allocate one page filled with zeroes (Linux `get_zeroed_page`): one known to be zero
/// if there is one, otherwise any page, cleared.
pub fn alloc_zeroed_page() -> Option<PhysAddr> {
    if !zone_watermark_ok() {
        return None;
    }
    let (pa, zeroed) = rmqueue_pcplist(true)?;
    if zeroed {
        // SAFETY: the page is ours now; only its first word, the list link, is not 0.
        unsafe { *(phys_to_virt(pa) as *mut u64) = 0 };
    } else {
        // SAFETY: the page was just allocated, so nothing else uses it; it is linear
        // mapped.
        unsafe { crate::arch::page::clear_page(phys_to_virt(pa)) };
    }
    Some(pa)
}

/// Give back a page from [`alloc_page`] that is all zeroes again (a page table whose
/// entries were cleared): [`alloc_zeroed_page`] hands it out without clearing it.
pub fn free_zeroed_page(pa: PhysAddr) {
    drop_only_reference(pa);
    free_unref_page(pa, PCP_ZEROED);
}

/// Give back page tables from [`alloc_page`] that are all zeroes again, under one lock
/// of this CPU's list (Linux frees an `mmu_gather`'s batch of tables together:
/// `tlb_remove_table_free`).
pub fn free_zeroed_pages(pages: &[PhysAddr]) {
    for &pa in pages {
        drop_only_reference(pa);
    }
    let mut pcp = this_cpu_pcp();
    for &pa in pages {
        pcp.free_unref_page_commit(pa, PCP_ZEROED);
    }
}

/// Give back a page from [`alloc_page`] (Linux `free_page`).
///
/// # Panics
/// If `pa` is not a page this allocator manages: freeing memory one does not own is a
/// kernel bug that must not go unnoticed.
pub fn free_page(pa: PhysAddr) {
    drop_only_reference(pa);
    free_unref_page(pa, PCP_ANY);
}

/// The caller held the page's only reference: it has none now.
/// No other CPU may change the count meanwhile (taking a reference needs one already),
/// so a load and a store do, without an atomic exchange; the list lock orders the
/// caller's last writes to the page before its next owner's.
fn drop_only_reference(pa: PhysAddr) {
    let count = page_ref(pa);
    let r = count.load(Ordering::Relaxed);
    if r != 1 {
        bad_free(pa, r);
    }
    count.store(0, Ordering::Relaxed);
}

/// [`drop_only_reference`] of a page with `r` references: a kernel bug (Linux
/// `bad_page` from `free_pages_prepare`). Out of line, so that the free paths do not
/// keep the message's arguments.
#[cold]
#[inline(never)]
fn bad_free(pa: PhysAddr, r: u32) -> ! {
    panic!("free_page: {:#x} has {} references", pa.0, r)
}

/// Take another reference to an allocated page (Linux `get_page`).
#[inline]
pub fn get_page(pa: PhysAddr) {
    PageRefs::get().get_page(pa)
}

/// Drop a reference; the last one frees the page (Linux `put_page`).
#[inline]
pub fn put_page(pa: PhysAddr) {
    PageRefs::get().put_page(pa)
}

/// References to a page (Linux `page_count`).
#[inline]
pub fn page_count(pa: PhysAddr) -> u32 {
    page_ref(pa).load(Ordering::Relaxed)
}

/// Put a page nobody references on this CPU's list `pindex` (Linux `free_unref_page`).
#[inline]
fn free_unref_page(pa: PhysAddr, pindex: usize) {
    // Pages outside RAM fail page_ref's check, and pages never handed out (the kernel
    // image, the device tree) have no references, which put_page and free_page check.
    if !pa.0.is_multiple_of(PAGE_SIZE as u64) {
        bad_page(pa, "free_page of an address inside a page");
    }
    this_cpu_pcp().free_unref_page_commit(pa, pindex);
}

/// Move `n` pages from `pcp` to the zone under the zone's lock, from list `pindex`
/// first (Linux `free_pcppages_bulk`); known-zero pages go to the zone's known-zero
/// list.
#[cold]
fn free_pcppages_bulk(pcp: &mut PerCpuPages, n: usize, pindex: usize) {
    let mut zone = ZONE.lock();
    let mut freed = 0;
    for list in [pindex, pindex ^ 1] {
        let to = if list == PCP_ZEROED {
            &mut zone.zero_list
        } else {
            &mut zone.free_list
        };
        freed += move_pages(&mut pcp.lists[list], to, n - freed);
    }
    ZONE_HAS_ZEROED.store(zone.zero_list != 0, Ordering::Relaxed);
    pcp.counts.count -= freed;
    ZONE_FREE.fetch_add(freed, Ordering::Relaxed);
}

/// Give every page on CPU `cpu`'s list back to the zone (Linux `drain_pages_zone`).
/// Any CPU may drain any other's list: the list's lock makes that safe.
fn drain_pages_zone(cpu: usize) {
    let mut pcp = PCP[cpu].0.lock();
    let n = pcp.counts.count;
    if n > 0 {
        free_pcppages_bulk(&mut pcp, n, PCP_ANY);
    }
}

/// Give every CPU's list back to the zone (Linux `drain_all_pages`): before an
/// allocation fails for want of pages the zone lacks but some list holds.
pub fn drain_all_pages() {
    for cpu in 0..NR_CPUS {
        drain_pages_zone(cpu);
    }
}

/// Pages free right now (Linux `nr_free_pages`, and the pages on the CPUs' lists, which
/// Linux leaves out): exact, for leak checks, so it holds every CPU's list lock at once,
/// then the zone's, while it adds up.
pub fn nr_free_pages() -> usize {
    count_free_from(0)
}

/// The pages on the lists of CPUs `cpu` and up, and in the zone, their locks taken in
/// CPU order (the order every path that holds more than one takes them).
fn count_free_from(cpu: usize) -> usize {
    if cpu == NR_CPUS {
        let _zone = ZONE.lock();
        return ZONE_FREE.load(Ordering::Relaxed);
    }
    let pcp = PCP[cpu].0.lock();
    pcp.counts.count + count_free_from(cpu + 1)
}

/// Pages the allocator was given at boot.
pub fn nr_managed_pages() -> usize {
    (ZONE.lock().managed.total() / PAGE_SIZE as u64) as usize
}
