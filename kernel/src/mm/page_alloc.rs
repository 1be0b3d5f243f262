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

use core::sync::atomic::{AtomicBool, Ordering};

use forkos_lib::memblock::RangeSet;
use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::memory::{phys_to_virt, PhysAddr};
use crate::sync::IrqSpinLock;

/// How many disjoint free ranges the allocator tracks.
pub const MAX_RANGES: usize = 16;

struct PageAllocator {
    /// Physical address of the first page on the free list, 0 for none.
    free_list: u64,
    /// Not yet handed out, consumed from the front.
    untouched: RangeSet<MAX_RANGES>,
    /// Where the untouched ranges came from: every page this allocator owns.
    managed: RangeSet<MAX_RANGES>,
    nr_free: usize,
}

static PAGE_ALLOC: IrqSpinLock<PageAllocator> = IrqSpinLock::new(PageAllocator {
    free_list: 0,
    untouched: RangeSet::new(),
    managed: RangeSet::new(),
    nr_free: 0,
});
static READY: AtomicBool = AtomicBool::new(false);

/// Hand the allocator its memory (Linux `memblock_free_all`). The ranges must be page
/// aligned and linear-mapped.
pub fn init(free: &RangeSet<MAX_RANGES>) {
    let mut a = PAGE_ALLOC.lock();
    a.untouched = free.clone();
    a.managed = free.clone();
    a.nr_free = (free.total() / PAGE_SIZE as u64) as usize;
    READY.store(true, Ordering::Release);
}

/// Has [`init`] run?
pub fn is_ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Allocate one page; its contents are undefined (Linux `alloc_page`).
pub fn alloc_page() -> Option<PhysAddr> {
    let mut a = PAGE_ALLOC.lock();
    let pa = if a.free_list != 0 {
        let pa = a.free_list;
        // SAFETY: every page on the free list is free RAM owned by the allocator, linear
        // mapped, and holds the next pointer in its first word.
        a.free_list = unsafe { *(phys_to_virt(PhysAddr(pa)) as *const u64) };
        pa
    } else {
        let r = a.untouched.iter().next()?;
        let pa = r.base;
        a.untouched
            .remove(forkos_lib::memblock::Range::new(pa, PAGE_SIZE as u64))
            .expect("removing a range's first page never splits it");
        pa
    };
    a.nr_free -= 1;
    Some(PhysAddr(pa))
}

/// Allocate one page filled with zeroes (Linux `get_zeroed_page`).
pub fn alloc_zeroed_page() -> Option<PhysAddr> {
    let pa = alloc_page()?;
    // SAFETY: the page was just allocated, so nothing else uses it; it is linear mapped.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE) };
    Some(pa)
}

/// Give back a page from [`alloc_page`] (Linux `free_page`).
///
/// # Panics
/// If `pa` is not a page this allocator manages: freeing memory one does not own is a
/// kernel bug that must not go unnoticed.
pub fn free_page(pa: PhysAddr) {
    let mut a = PAGE_ALLOC.lock();
    assert!(
        pa.0.is_multiple_of(PAGE_SIZE as u64)
            && a.managed
                .overlaps(forkos_lib::memblock::Range::new(pa.0, PAGE_SIZE as u64)),
        "free_page: {:#x} is not an allocated page",
        pa.0
    );
    // SAFETY: the caller gives the page back, so the allocator owns it again; it is
    // linear mapped.
    unsafe { *(phys_to_virt(pa) as *mut u64) = a.free_list };
    a.free_list = pa.0;
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
