//! Memory management that is not architecture-specific (Linux `mm/`).
//!
//! - [`page_alloc`]: physical pages and their reference counts;
//! - [`heap`]: the kernel heap; [`kstack`]: kernel stacks with guard pages;
//! - this file: user address spaces, [`Mm`] (Linux `struct mm_struct`) made of [`Vma`]s
//!   (Linux `struct vm_area_struct`);
//! - [`memory`]: page faults and page-table walking, `copy_page_range`, teardown;
//! - [`mmap`]: `mmap`, `munmap`, `brk`; [`uaccess`]: checked copies to and from user space.

pub mod heap;
pub mod kstack;
pub mod memory;
pub mod mmap;
pub mod page_alloc;
pub mod slab;
pub mod uaccess;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use bitflags::bitflags;

use crate::arch::memory::PhysAddr;
use crate::arch::mmu::cpu_set_reserved_ttbr0;
use crate::arch::mmu_context::{self, MmContext};
use crate::sync::IrqSpinLock;

/// User addresses are below this (48-bit VAs, Linux `TASK_SIZE`).
pub const TASK_SIZE: u64 = 1 << 48;
/// The initial stack ends here (Linux `STACK_TOP`, without randomisation).
pub const STACK_TOP: u64 = TASK_SIZE - 0x1000;
/// Size of the stack area (Linux's default `RLIMIT_STACK`, 8 MiB).
pub const STACK_SIZE: u64 = 8 << 20;
/// How far below its arguments a new program's stack mapping reaches at first; below
/// that it grows on demand (Linux `setup_arg_pages`'s `stack_expand`).
pub const STACK_EXPAND: u64 = 128 << 10;
/// The lowest address a mapping may start at (Linux `mmap_min_addr`, with its default
/// `CONFIG_DEFAULT_MMAP_MIN_ADDR`).
pub const MMAP_MIN_ADDR: u64 = 4096;
/// `mmap` places mappings top-down below this (Linux `mmap_base`: a 128 MiB gap below
/// the stack).
pub const MMAP_BASE: u64 = STACK_TOP - (128 << 20);
/// Where every program gets the signal return trampoline, one read-only executable
/// page just above the mmap area (Linux maps it as part of the vDSO).
pub const SIGPAGE: u64 = MMAP_BASE;

/// The one physical page holding the signal trampoline, shared by every program.
static SIGPAGE_OBJ: spin::Once<Arc<ShmObject>> = spin::Once::new();

/// Fill the trampoline page (at boot, so its page is not counted against init).
pub fn sigpage_init() {
    SIGPAGE_OBJ.call_once(|| {
        let obj = Arc::new(ShmObject::default());
        let pa = obj
            .get_page(0)
            .expect("no memory for the signal trampoline");
        let code = crate::arch::signal::SIGTRAMP_CODE;
        // SAFETY: pa is a fresh page of ours, linear mapped; nobody maps it yet.
        unsafe {
            core::ptr::copy_nonoverlapping(
                code.as_ptr() as *const u8,
                crate::arch::memory::phys_to_virt(pa) as *mut u8,
                core::mem::size_of_val(&code),
            )
        };
        page_alloc::put_page(pa); // the object keeps its own reference
        obj
    });
}

/// The mapping of the trampoline page for a new program (Linux
/// `_install_special_mapping` of the vDSO). Private, so that a program that makes it
/// writable and writes it gets its own copy.
pub fn sigpage_vma() -> Vma {
    Vma {
        start: SIGPAGE,
        end: SIGPAGE + forkos_lib::pgtable::PAGE_SIZE as u64,
        flags: VmFlags::READ | VmFlags::EXEC,
        shared: Some((SIGPAGE_OBJ.get().expect("sigpage_init").clone(), 0)),
    }
}

bitflags! {
    /// What a mapping allows (Linux `VM_READ`, `VM_WRITE`, `VM_EXEC`, `VM_SHARED`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct VmFlags: u32 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        const EXEC = 1 << 2;
        /// Writes are seen by every address space mapping it, even across fork.
        const SHARED = 1 << 3;
        /// The stack, which grows down when a fault lands just below it (Linux
        /// `VM_GROWSDOWN`).
        const STACK = 1 << 8;
        /// The heap that `brk` moves.
        const HEAP = 1 << 9;
    }
}

/// Pages of a shared anonymous mapping, which every mapping of it sees (Linux backs these
/// with a shmem file).
#[derive(Default)]
pub struct ShmObject {
    pages: IrqSpinLock<BTreeMap<u64, PhysAddr>>,
}

impl ShmObject {
    /// The page at `index`, created zero-filled on first use, with an extra reference for
    /// the caller's mapping.
    pub fn get_page(&self, index: u64) -> Option<PhysAddr> {
        let mut pages = self.pages.lock();
        let pa = match pages.get(&index) {
            Some(pa) => *pa,
            None => {
                let pa = page_alloc::alloc_zeroed_page()?;
                pages.insert(index, pa);
                pa
            }
        };
        page_alloc::get_page(pa);
        Some(pa)
    }
}

impl Drop for ShmObject {
    fn drop(&mut self) {
        for (_, pa) in core::mem::take(&mut *self.pages.lock()) {
            page_alloc::put_page(pa);
        }
    }
}

/// One mapped range of an address space (Linux `struct vm_area_struct`).
#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub flags: VmFlags,
    /// For shared anonymous memory: the object and the page index of `start` in it.
    pub shared: Option<(Arc<ShmObject>, u64)>,
}

impl Vma {
    pub fn contains(&self, va: u64) -> bool {
        self.start <= va && va < self.end
    }
}

/// The mutable part of an address space, behind its lock (Linux `mmap_lock`).
pub struct MmInner {
    /// Sorted, non-overlapping.
    pub vmas: Vec<Vma>,
    /// Where the heap starts and the current break (Linux `start_brk`, `brk`).
    pub start_brk: u64,
    pub brk: u64,
}

impl MmInner {
    /// The mapping containing `va` (Linux `find_vma` + a containment check).
    pub fn find_vma(&self, va: u64) -> Option<&Vma> {
        let i = self.vmas.partition_point(|v| v.end <= va);
        self.vmas.get(i).filter(|v| v.contains(va))
    }

    /// Insert a mapping that overlaps none (Linux `insert_vm_struct`).
    pub fn insert_vma(&mut self, vma: Vma) {
        let i = self.vmas.partition_point(|v| v.start < vma.start);
        self.vmas.insert(i, vma);
    }

    /// Does any mapping overlap `[start, end)`?
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.iter().any(|v| v.start < end && start < v.end)
    }
}

/// A user address space (Linux `struct mm_struct`). Shared by `Arc`: the strong count is
/// Linux's `mm_users`.
pub struct Mm {
    /// Physical address of the top-level page table, loaded into TTBR0.
    pub pgd: PhysAddr,
    /// The ASID.
    pub context: MmContext,
    pub inner: IrqSpinLock<MmInner>,
}

impl Mm {
    /// An empty address space (Linux `mm_alloc` + `pgd_alloc`).
    pub fn new() -> Option<Mm> {
        let pgd = page_alloc::alloc_zeroed_page()?;
        Some(Mm {
            pgd,
            context: MmContext::default(),
            inner: IrqSpinLock::new(MmInner {
                vmas: Vec::new(),
                start_brk: 0,
                brk: 0,
            }),
        })
    }
}

impl Drop for Mm {
    /// The last user is gone: unmap everything, free every page table, and release the
    /// ASID (Linux `mmput` -> `exit_mmap`: `unmap_vmas`, `free_pgtables`).
    fn drop(&mut self) {
        let vmas = core::mem::take(&mut self.inner.lock().vmas);
        // The ASID goes first (flushing all of its TLB entries at once); then no entry
        // of this address space can be in any TLB while its pages are freed.
        mmu_context::destroy_context(&self.context);
        memory::exit_mmap(self, &vmas);
        // Every pgd entry was cleared as the tables below it went (Linux `pgd_free`).
        page_alloc::free_zeroed_page(self.pgd);
        // The mappings go last: a shared one lets go of its object's pages.
        drop(vmas);
    }
}

/// Install `mm` (or, for kernel threads, no user mappings at all) in TTBR0 (Linux
/// `switch_mm`).
#[inline]
pub fn switch_mm(mm: Option<&Mm>) {
    match mm {
        Some(mm) => mmu_context::switch_mm(mm.pgd, &mm.context),
        None => cpu_set_reserved_ttbr0(),
    }
}
