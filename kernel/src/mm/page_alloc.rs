//! The physical page allocator (Linux `mm/page_alloc.c`, much reduced: single pages only).
//!
//! At boot it is handed the free ranges of [`memblock`](forkos_lib::memblock): RAM minus
//! the kernel image, the device tree, the initrd and firmware reservations. Pages come
//! first from a free list of pages given back (each free page holds the physical address
//! of the next one in its first word, reached through the linear map) and otherwise from
//! the front of the untouched ranges. Both are O(1), and boot does not touch every page.
//!
//! [`nr_free_pages`] is exact at every moment; tests compare it before and after a
//! workload to prove that nothing leaked.
//!
//! Every page also has a reference count (Linux `struct page`'s `_refcount`, in an array
//! like `mem_map`): a page mapped by several address spaces (shared memory; copy-on-write
//! later) is freed when the last user drops it ([`get_page`], [`put_page`]).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use forkos_lib::memblock::RangeSet;
use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::sync::IrqSpinLock;

/// How many disjoint free ranges the allocator tracks.
pub const MAX_RANGES: usize = 16;

struct PageAllocator {
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
    nr_free: usize,
}

static PAGE_ALLOC: IrqSpinLock<PageAllocator> = IrqSpinLock::new(PageAllocator {
    free_list: 0,
    zero_list: 0,
    untouched: RangeSet::new(),
    managed: RangeSet::new(),
    nr_free: 0,
});
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
    base: u64,
    pages: u64,
    map: *const PageInfo,
}

impl PageRefs {
    #[inline(always)]
    pub fn get() -> PageRefs {
        PageRefs {
            base: MEM_MAP_BASE.load(Ordering::Relaxed),
            pages: MEM_MAP_PAGES.load(Ordering::Relaxed),
            map: MEM_MAP.load(Ordering::Relaxed) as *const PageInfo,
        }
    }

    #[inline(always)]
    fn info(&self, pa: PhysAddr) -> &'static PageInfo {
        let idx = pa.0.wrapping_sub(self.base) / PAGE_SIZE as u64;
        if idx >= self.pages {
            bad_page(pa, "outside RAM");
        }
        // SAFETY: MEM_MAP points to MEM_MAP_PAGES entries in linear-mapped memory that
        // the allocator set aside for them at init and never frees.
        unsafe { &*self.map.add(idx as usize) }
    }

    /// Take another reference to an allocated page (Linux `get_page`).
    #[inline(always)]
    pub fn get_page(&self, pa: PhysAddr) {
        if self.info(pa).count.fetch_add(1, Ordering::Relaxed) == 0 {
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
            free_page_locked(pa, false);
        }
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
    let mut a = PAGE_ALLOC.lock();
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
    a.nr_free = (a.managed.total() / PAGE_SIZE as u64) as usize;
    RESERVE.store((a.nr_free / 64).max(256), Ordering::Relaxed);
    READY.store(true, Ordering::Release);
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
    if nr_free_pages() <= reserve_pages() {
        return None;
    }
    alloc_page_reserve()
}

/// Allocate one page, dipping into the reserve if need be (Linux `ALLOC_HIGH` /
/// `__GFP_MEMALLOC`): only for the kernel heap and kernel page tables. Its contents are
/// undefined.
pub fn alloc_page_reserve() -> Option<PhysAddr> {
    let mut a = PAGE_ALLOC.lock();
    let pa = if a.free_list != 0 {
        pop(&mut a.free_list)
    } else if let Some(pa) = a.untouched.take_front(PAGE_SIZE as u64) {
        pa
    } else if a.zero_list != 0 {
        pop(&mut a.zero_list)
    } else {
        return None;
    };
    a.nr_free -= 1;
    drop(a);
    page_ref(PhysAddr(pa)).store(1, Ordering::Relaxed);
    Some(PhysAddr(pa))
}

/// Take the first page off a free list.
fn pop(list: &mut u64) -> u64 {
    let pa = *list;
    // SAFETY: every page on a free list is free RAM owned by the allocator, linear
    // mapped, and holds the next pointer in its first word.
    *list = unsafe { *(phys_to_virt(PhysAddr(pa)) as *const u64) };
    pa
}

/// Allocate one page filled with zeroes (Linux `get_zeroed_page`): one known to be zero
/// if there is one, otherwise any page, cleared.
pub fn alloc_zeroed_page() -> Option<PhysAddr> {
    if nr_free_pages() <= reserve_pages() {
        return None;
    }
    let mut a = PAGE_ALLOC.lock();
    if a.zero_list != 0 {
        let pa = pop(&mut a.zero_list);
        a.nr_free -= 1;
        drop(a);
        // SAFETY: the page is ours now; only its first word, the list link, is not 0.
        unsafe { *(phys_to_virt(PhysAddr(pa)) as *mut u64) = 0 };
        page_ref(PhysAddr(pa)).store(1, Ordering::Relaxed);
        return Some(PhysAddr(pa));
    }
    drop(a);
    let pa = alloc_page()?;
    // SAFETY: the page was just allocated, so nothing else uses it; it is linear mapped.
    unsafe { crate::arch::page::clear_page(phys_to_virt(pa)) };
    Some(pa)
}

/// Give back a page from [`alloc_page`] that is all zeroes again (a page table whose
/// entries were cleared): [`alloc_zeroed_page`] hands it out without clearing it.
pub fn free_zeroed_page(pa: PhysAddr) {
    drop_only_reference(pa);
    free_page_locked(pa, true);
}

/// Give back a page from [`alloc_page`] (Linux `free_page`).
///
/// # Panics
/// If `pa` is not a page this allocator manages: freeing memory one does not own is a
/// kernel bug that must not go unnoticed.
pub fn free_page(pa: PhysAddr) {
    drop_only_reference(pa);
    free_page_locked(pa, false);
}

/// The caller held the page's only reference: it has none now.
fn drop_only_reference(pa: PhysAddr) {
    let r = page_ref(pa).swap(0, Ordering::AcqRel);
    assert!(r == 1, "free_page: {:#x} has {} references", pa.0, r);
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

/// Put a page nobody references on a free list: the list of known-zero pages if
/// `zeroed`.
fn free_page_locked(pa: PhysAddr, zeroed: bool) {
    // Pages outside RAM fail page_ref's check, and pages never handed out (the kernel
    // image, the device tree) have no references, which put_page and free_page check.
    assert!(
        pa.0.is_multiple_of(PAGE_SIZE as u64),
        "free_page: {:#x} is not a page address",
        pa.0
    );
    let mut a = PAGE_ALLOC.lock();
    let list = if zeroed {
        &mut a.zero_list
    } else {
        &mut a.free_list
    };
    // SAFETY: the caller gives the page back, so the allocator owns it again; it is
    // linear mapped.
    unsafe { *(phys_to_virt(pa) as *mut u64) = *list };
    *list = pa.0;
    a.nr_free += 1;
}

/// Pages free right now (Linux `nr_free_pages`).
pub fn nr_free_pages() -> usize {
    PAGE_ALLOC.lock().nr_free
}

/// Pages the allocator was given at boot.
pub fn nr_managed_pages() -> usize {
    (PAGE_ALLOC.lock().managed.total() / PAGE_SIZE as u64) as usize
}
