//! Small kernel objects (Linux `mm/slub.c`, much simplified): size classes of 16 to 2048
//! bytes, each served from *slabs*, single pages cut into equal objects. A slab whose
//! last object is freed goes back to the page allocator, unless it is the only one its
//! cache has with room (Linux's `min_partial`), which is kept for the next allocation;
//! [`shrink`] gives those back too. So kernel objects — tasks, signal state,
//! address-space bookkeeping — return their memory when the processes that needed them
//! are gone, and the free page count comes back to where it was. (The linked-list heap
//! in [`super::heap`] serves only larger allocations.)
//!
//! Each slab starts with a header; its free objects form a singly linked list through
//! their first word. A cache keeps a doubly linked list of its slabs that have a free
//! object (Linux's partial list).

use core::ptr::null_mut;

use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::memory::{phys_to_virt, virt_to_phys};
use crate::mm::page_alloc;
use crate::sync::{lock_class, IrqSpinLock};

/// Object sizes; a request is served by the smallest class that holds its size and
/// alignment. Powers of two, and 1344 (three to a slab, each 64-byte aligned): a task
/// structure is a little over 1 KiB, and would otherwise take a 2048-byte object, alone
/// in its page (Linux gives `task_struct` a cache of its own, `task_struct_cachep`, and
/// kmalloc has classes between the powers of two too, 96 and 192).
const CLASSES: [usize; NR_CLASSES] = [16, 32, 64, 128, 256, 512, 1024, 1344, 2048];
/// How many size classes there are.
pub const NR_CLASSES: usize = 9;
/// The largest size the slabs serve.
pub const MAX_SIZE: usize = 2048;
/// Room for the header at the start of each slab.
const HEADER: usize = 64;

/// The start of a slab page (Linux keeps this in `struct slab`).
#[repr(C)]
struct Slab {
    /// First free object, or null when the slab is full.
    free: *mut usize,
    inuse: usize,
    prev: *mut Slab,
    next: *mut Slab,
}

/// One size class (Linux `struct kmem_cache`): its slabs with free objects.
struct Cache {
    partial: *mut Slab,
}

struct Caches([Cache; CLASSES.len()]);

// SAFETY: the raw pointers lead to slab pages that only this allocator touches, always
// under the lock.
unsafe impl Send for Caches {}

static CACHES: IrqSpinLock<Caches, { lock_class::SLAB }> = IrqSpinLock::new(Caches(
    [const {
        Cache {
            partial: null_mut(),
        }
    }; CLASSES.len()],
));

/// Slab pages each class holds, to show where memory went when a leak check fails.
static PAGES: [core::sync::atomic::AtomicUsize; CLASSES.len()] =
    [const { core::sync::atomic::AtomicUsize::new(0) }; CLASSES.len()];

/// `(object size, pages)` for every class.
pub fn pages_per_class() -> [(usize, usize); CLASSES.len()] {
    core::array::from_fn(|i| {
        (
            CLASSES[i],
            PAGES[i].load(core::sync::atomic::Ordering::Relaxed),
        )
    })
}

/// The class index for `size` bytes aligned to `align`, if the slabs serve it.
#[inline(always)]
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    CLASSES
        .iter()
        .position(|&c| c >= size && object_align(c) >= align)
}

/// The alignment every object of class size `size` has: the largest power of two that
/// divides it (a power of two's own size; 64 for 1344).
const fn object_align(size: usize) -> usize {
    1 << size.trailing_zeros()
}

/// Where the first object of class size `size` starts in a slab: the objects fill the
/// page up to its end, and as many fit after the header as can (an offset that is a
/// multiple of [`object_align`], since the page size and the header are).
const fn first_object(size: usize) -> usize {
    PAGE_SIZE - (PAGE_SIZE - HEADER) / size * size
}

const _: () = {
    let mut i = 0;
    while i < CLASSES.len() {
        assert!(first_object(CLASSES[i]) >= HEADER);
        assert!(first_object(CLASSES[i]).is_multiple_of(object_align(CLASSES[i])));
        i += 1;
    }
};

/// Unlink `slab` from `cache`'s partial list.
///
/// # Safety
/// `slab` is on that list; the caller holds the lock.
unsafe fn unlink(cache: &mut Cache, slab: *mut Slab) {
    // SAFETY: slab and its neighbours are live slab headers (caller's guarantee).
    unsafe {
        let (prev, next) = ((*slab).prev, (*slab).next);
        if prev.is_null() {
            cache.partial = next;
        } else {
            (*prev).next = next;
        }
        if !next.is_null() {
            (*next).prev = prev;
        }
        (*slab).prev = null_mut();
        (*slab).next = null_mut();
    }
}

/// Put `slab` at the head of `cache`'s partial list.
///
/// # Safety
/// `slab` is a live slab not on the list; the caller holds the lock.
unsafe fn push(cache: &mut Cache, slab: *mut Slab) {
    // SAFETY: as the caller guarantees.
    unsafe {
        (*slab).prev = null_mut();
        (*slab).next = cache.partial;
        if !cache.partial.is_null() {
            (*cache.partial).prev = slab;
        }
    }
    cache.partial = slab;
}

/// A new slab for objects of `size` bytes, all free (Linux `allocate_slab`).
fn new_slab(size: usize) -> *mut Slab {
    let Some(pa) = page_alloc::alloc_page_reserve() else {
        return null_mut();
    };
    let base = phys_to_virt(pa) as usize;
    let slab = base as *mut Slab;
    let mut free: *mut usize = null_mut();
    // Thread the free list from the last object down, so allocation goes upward.
    let mut off = PAGE_SIZE - size;
    loop {
        let obj = (base + off) as *mut usize;
        // SAFETY: obj lies in the fresh page, past the header, aligned to object_align(size).
        unsafe { obj.write(free as usize) };
        free = obj;
        if off == first_object(size) {
            break;
        }
        off -= size;
    }
    // SAFETY: the header lies at the start of the fresh page.
    unsafe {
        slab.write(Slab {
            free,
            inuse: 0,
            prev: null_mut(),
            next: null_mut(),
        })
    };
    slab
}

/// An object of class `class` (Linux `kmem_cache_alloc`); null if no page is left.
#[inline(never)]
pub fn alloc(class: usize) -> *mut u8 {
    let mut caches = CACHES.lock();
    let cache = &mut caches.0[class];
    if cache.partial.is_null() && !add_new_slab(cache, class) {
        return null_mut();
    }
    let slab = cache.partial;
    // SAFETY: slabs on the partial list have a free object; we hold the lock.
    unsafe {
        let obj = (*slab).free;
        (*slab).free = *obj as *mut usize;
        (*slab).inuse += 1;
        if (*slab).free.is_null() {
            unlink(cache, slab);
        }
        obj as *mut u8
    }
}

/// The cache has no slab with room: give it a new one (Linux `___slab_alloc`'s slow
/// path, `new_slab`); false when no page is left. Out of line, so that the common case
/// above needs no stack frame.
#[cold]
#[inline(never)]
fn add_new_slab(cache: &mut Cache, class: usize) -> bool {
    let slab = new_slab(CLASSES[class]);
    if slab.is_null() {
        return false;
    }
    PAGES[class].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: a new slab, not on any list; the caller holds the lock.
    unsafe { push(cache, slab) };
    true
}

/// Give back an object of class `class` (Linux `kmem_cache_free`); a slab left empty
/// goes back to the page allocator, unless it is the cache's only one with room.
///
/// # Safety
/// `ptr` came from [`alloc`] with the same class and is not used any more.
#[inline(never)]
pub unsafe fn free(ptr: *mut u8, class: usize) {
    let mut caches = CACHES.lock();
    let cache = &mut caches.0[class];
    let slab = (ptr as usize & !(PAGE_SIZE - 1)) as *mut Slab;
    // SAFETY: ptr's page starts with its slab header; we hold the lock.
    unsafe {
        let was_full = (*slab).free.is_null();
        (ptr as *mut usize).write((*slab).free as usize);
        (*slab).free = ptr as *mut usize;
        (*slab).inuse -= 1;
        if (*slab).inuse == 0 {
            free_empty(cache, slab, class, was_full);
        } else if was_full {
            push(cache, slab);
        }
    }
}

/// The slab's last object came back (Linux `__slab_free`'s empty-slab case): the slab
/// is discarded only if the cache keeps other partial slabs (`min_partial`, here 1), so
/// that a fork and exit cycle does not build and free a slab page each time. Out of
/// line, as in [`alloc`].
///
/// # Safety
/// `slab` is a live slab of `class` with no object in use, on the partial list unless
/// `was_full`; the caller holds the lock.
#[cold]
#[inline(never)]
unsafe fn free_empty(cache: &mut Cache, slab: *mut Slab, class: usize, was_full: bool) {
    // SAFETY: as the caller guarantees.
    unsafe {
        let others = if was_full {
            !cache.partial.is_null()
        } else {
            cache.partial != slab || !(*slab).next.is_null()
        };
        if others {
            if !was_full {
                unlink(cache, slab);
            }
            discard_slab(slab, class);
        } else if was_full {
            push(cache, slab);
        }
    }
}

/// Give a slab's page back (Linux `discard_slab`).
///
/// # Safety
/// `slab` has no object in use and is on no list; the caller holds the lock.
unsafe fn discard_slab(slab: *mut Slab, class: usize) {
    page_alloc::free_page(virt_to_phys(slab as u64));
    PAGES[class].fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
}

/// Give back the page of every empty slab the caches keep (Linux `kmem_cache_shrink`),
/// before the free page count is compared with an earlier one.
pub fn shrink() {
    let mut caches = CACHES.lock();
    for (class, cache) in caches.0.iter_mut().enumerate() {
        let mut slab = cache.partial;
        while !slab.is_null() {
            // SAFETY: slabs on the partial list are live headers; we hold the lock.
            unsafe {
                let next = (*slab).next;
                if (*slab).inuse == 0 {
                    unlink(cache, slab);
                    discard_slab(slab, class);
                }
                slab = next;
            }
        }
    }
}
