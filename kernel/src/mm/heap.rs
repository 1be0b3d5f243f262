//! The kernel heap behind `alloc` (`Box`, `Vec`, ...), Linux's `kmalloc`: objects of up
//! to 2 KiB come from the slabs ([`super::slab`]), objects of up to a page get a page
//! of their own — both return to the page allocator when freed — and larger ones come
//! from a `linked_list_allocator` heap in its own region of kernel virtual memory, grown
//! a few pages at a time when it runs out.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use forkos_lib::pgtable::{Prot, PAGE_SIZE};
use linked_list_allocator::Heap;

use crate::arch::memory::{phys_to_virt, virt_to_phys};
use crate::arch::memory::{KHEAP_END, KHEAP_START};
use crate::arch::mmu::create_kernel_mapping;
use crate::mm::{page_alloc, slab};
use crate::sync::{lock_class, IrqSpinLock};

/// Pages mapped for the heap at boot.
const INITIAL_PAGES: usize = 256;
/// The heap grows by at least this many pages at a time.
const GROW_PAGES: usize = 16;

struct KernelHeap {
    heap: IrqSpinLock<Heap, { lock_class::HEAP }>,
}

#[global_allocator]
static KERNEL_HEAP: KernelHeap = KernelHeap {
    heap: IrqSpinLock::new(Heap::empty()),
};

/// Map up to `pages` fresh pages at `va`, stopping when memory runs out; returns how
/// many were mapped.
fn map_pages(va: u64, pages: usize) -> usize {
    for i in 0..pages {
        let Some(pa) = page_alloc::alloc_page_reserve() else {
            return i;
        };
        let page_va = va + (i * PAGE_SIZE) as u64;
        if create_kernel_mapping(page_va, pa, PAGE_SIZE as u64, Prot::KernelRw).is_err() {
            page_alloc::free_page(pa);
            return i;
        }
    }
    pages
}

/// Map the initial heap (Linux `kmem_cache_init`, in spirit).
pub fn init() {
    assert_eq!(
        map_pages(KHEAP_START, INITIAL_PAGES),
        INITIAL_PAGES,
        "no memory for the kernel heap"
    );
    let mut heap = KERNEL_HEAP.heap.lock();
    // SAFETY: [KHEAP_START, +INITIAL_PAGES pages) was just mapped read-write for the heap
    // alone.
    unsafe { heap.init(KHEAP_START as *mut u8, INITIAL_PAGES * PAGE_SIZE) };
}

/// Bytes the heap spans (used and free).
pub fn heap_size() -> usize {
    KERNEL_HEAP.heap.lock().size()
}

/// Does a single page serve this layout (more than the slabs take, up to a page)?
fn is_page_sized(layout: &Layout) -> bool {
    layout.size().max(layout.align()) <= PAGE_SIZE
}

// SAFETY: every block handed out is valid for its layout and distinct from every other
// live block: slab objects and whole pages come from the page allocator, the rest from
// the linked-list heap.
unsafe impl GlobalAlloc for KernelHeap {
    // Inlined, so that where the layout is known at compile time (every `Box`, `Arc` and
    // most `Vec`s) the size class is too, and the call goes straight to the slab cache
    // (Linux's `kmalloc` picks the cache at compile time for a constant size,
    // `kmalloc_index`); the rest is out of line.
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Small objects from the slabs, one-page objects as a page of their own: both
        // go back to the page allocator when freed.
        if let Some(class) = slab::class_of(layout.size(), layout.align()) {
            return slab::alloc(class);
        }
        self.alloc_large(layout)
    }

    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(class) = slab::class_of(layout.size(), layout.align()) {
            // SAFETY: GlobalAlloc's contract: alloc served this layout from that class.
            return unsafe { slab::free(ptr, class) };
        }
        // SAFETY: as above, from alloc_large.
        unsafe { self.dealloc_large(ptr, layout) }
    }
}

impl KernelHeap {
    /// An object too big for the slabs: a page, or room in the linked-list heap.
    #[inline(never)]
    fn alloc_large(&self, layout: Layout) -> *mut u8 {
        if is_page_sized(&layout) {
            return page_alloc::alloc_page_reserve()
                .map_or(core::ptr::null_mut(), |pa| phys_to_virt(pa) as *mut u8);
        }
        let mut heap = self.heap.lock();
        if let Ok(p) = heap.allocate_first_fit(layout) {
            return p.as_ptr();
        }
        // Grow: map more pages right after the heap's end.
        let need = (layout.size() + layout.align()).div_ceil(PAGE_SIZE);
        let pages = need.max(GROW_PAGES);
        let top = heap.top() as u64;
        if top + (pages * PAGE_SIZE) as u64 > KHEAP_END {
            return core::ptr::null_mut();
        }
        // Keep whatever could be mapped, even when it is not enough this time.
        let mapped = map_pages(top, pages);
        // SAFETY: the pages right after the heap's top were just mapped for it.
        unsafe { heap.extend(mapped * PAGE_SIZE) };
        heap.allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }

    /// Free what [`Self::alloc_large`] gave.
    ///
    /// # Safety
    /// `ptr` came from `alloc_large` with this layout and is not used any more.
    #[inline(never)]
    unsafe fn dealloc_large(&self, ptr: *mut u8, layout: Layout) {
        if is_page_sized(&layout) {
            return page_alloc::free_page(virt_to_phys(ptr as u64));
        }
        // SAFETY: ptr came from alloc_large with this layout (caller's guarantee).
        unsafe {
            self.heap
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout)
        };
    }
}
