//! Memory management that is not architecture-specific (Linux `mm/`).
//!
//! - [`page_alloc`]: physical pages and their reference counts;
//! - [`heap`]: the kernel heap; [`kstack`]: kernel stacks with guard pages;
//! - this file: user address spaces, [`Mm`] (Linux `struct mm_struct`) made of [`Vma`]s
//!   (Linux `struct vm_area_struct`);
//! - [`memory`]: page faults and page-table walking, `copy_page_range`, teardown;
//! - [`mmap`]: `mmap`, `munmap`, `mprotect`, `madvise`, `brk` (the list logic is
//!   [`forkos_lib::vma`]); [`debug_vm`]: the checks of Linux `validate_mm`;
//! - [`uaccess`]: checked copies to and from user space.

pub mod debug_vm;
pub mod heap;
pub mod kstack;
pub mod memory;
pub mod mmap;
pub mod page_alloc;
pub mod slab;
pub mod uaccess;

use crate::arch::memory::PhysAddr;
use crate::arch::mmu::cpu_set_reserved_ttbr0;
use crate::arch::mmu_context::{self, MmContext};
use crate::sync::{IrqSpinLock, IrqSpinLockGuard};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use forkos_lib::vma::VmaList;

/// User addresses are below this (48-bit VAs, Linux `TASK_SIZE`).
pub const TASK_SIZE: u64 = 1 << 48;
/// The initial stack ends here (Linux `STACK_TOP`, without randomisation).
pub const STACK_TOP: u64 = TASK_SIZE - 0x1000;
/// Size of the stack area (Linux's default `RLIMIT_STACK`, 8 MiB).
pub const STACK_SIZE: u64 = 8 << 20;
/// How far below its arguments a new program's stack mapping reaches at first; below
/// that it grows on demand (Linux `setup_arg_pages`'s `stack_expand`).
pub const STACK_EXPAND: u64 = 128 << 10;

/// `mmap` places mappings top-down below this (Linux `mmap_base`: a 128 MiB gap below
/// the stack).
pub const MMAP_BASE: u64 = STACK_TOP - (128 << 20);
/// Where every program gets the signal return trampoline, one read-only executable
/// page just above the mmap area (Linux maps it as part of the vDSO).
pub const SIGPAGE: u64 = MMAP_BASE;

/// The signal trampoline: one kernel page mapped into every program (Linux's arm64
/// vDSO text holds `__kernel_rt_sigreturn`; its 32-bit `[sigpage]` is the same idea).
pub static SIGPAGE_MAPPING: SpecialMapping = SpecialMapping::new("[sigpage]");

/// Fill the trampoline page (at boot, so its page is not counted against init).
pub fn sigpage_init() {
    let pa = page_alloc::alloc_zeroed_page().expect("no memory for the signal trampoline");
    let code = crate::arch::signal::SIGTRAMP_CODE;
    // SAFETY: pa is a fresh page of ours, linear mapped; nobody maps it yet.
    unsafe {
        core::ptr::copy_nonoverlapping(
            code.as_ptr() as *const u8,
            crate::arch::memory::phys_to_virt(pa) as *mut u8,
            core::mem::size_of_val(&code),
        )
    };
    // The mapping keeps the allocation's reference for ever.
    SIGPAGE_MAPPING.page.call_once(|| pa);
}

/// The mapping of the trampoline page for a new program (Linux
/// `_install_special_mapping` of the vDSO). Private: a program that makes it writable
/// and writes it gets its own copy; the kernel's page is never mapped writable.
pub fn sigpage_vma() -> Vma {
    Vma {
        start: SIGPAGE,
        end: SIGPAGE + forkos_lib::pgtable::PAGE_SIZE as u64,
        flags: VmFlags::READ | VmFlags::EXEC,
        data: VmaBacking::Special {
            mapping: &SIGPAGE_MAPPING,
            pgoff: 0,
        },
    }
}

pub use forkos_lib::vma::VmFlags;

/// Kernel-owned pages mapped into user address spaces (Linux `struct
/// vm_special_mapping`): user space may read and run them; a write reaches only a
/// private copy.
pub struct SpecialMapping {
    pub name: &'static str,
    /// The one page (Linux's `pages` array), set at boot.
    page: spin::Once<PhysAddr>,
}

impl SpecialMapping {
    pub const fn new(name: &'static str) -> SpecialMapping {
        SpecialMapping {
            name,
            page: spin::Once::new(),
        }
    }

    /// The kernel page at `pgoff` in the mapping, if there is one (the lookup of Linux
    /// `special_mapping_fault`).
    pub fn page(&self, pgoff: u64) -> Option<PhysAddr> {
        self.page.get().copied().filter(|_| pgoff == 0)
    }
}

/// What a mapping is backed by (Linux's `vm_file`, `vm_ops` and `vm_private_data`).
#[derive(Clone)]
pub enum VmaBacking {
    /// Anonymous memory: zero-filled pages of its own.
    Anon,
    /// Shared anonymous memory: the object and the page index of `start` in it.
    Shm { obj: Arc<ShmObject>, pgoff: u64 },
    /// Kernel-owned pages (Linux `special_mapping_vmops`), and the page index of
    /// `start` among them.
    Special {
        mapping: &'static SpecialMapping,
        pgoff: u64,
    },
}

impl VmaBacking {
    /// The page a fault at page index `index` of the mapping maps from its object or
    /// special mapping, with a reference for the mapping (Linux `vma->vm_ops->fault`);
    /// `None` for anonymous memory, `Some(Err)` when there is none.
    pub fn fault_page(&self, index: u64) -> Option<Result<PhysAddr, memory::Fault>> {
        match self {
            VmaBacking::Anon => None,
            VmaBacking::Shm { obj, pgoff } => {
                Some(obj.get_page(pgoff + index).ok_or(memory::Fault::Oom))
            }
            VmaBacking::Special { mapping, pgoff } => Some(
                mapping
                    .page(pgoff + index)
                    .inspect(|&pa| page_alloc::get_page(pa))
                    .ok_or(memory::Fault::NoVma),
            ),
        }
    }

    /// Is `pa` the page this backing holds at page index `index` (rather than an
    /// anonymous copy)? Linux asks `PageAnon`.
    pub fn owns_page(&self, index: u64, pa: PhysAddr) -> bool {
        match self {
            VmaBacking::Anon => false,
            VmaBacking::Shm { obj, pgoff } => obj.find_page(pgoff + index) == Some(pa),
            VmaBacking::Special { mapping, pgoff } => mapping.page(pgoff + index) == Some(pa),
        }
    }
}

impl forkos_lib::vma::VmaData for VmaBacking {
    fn offset(&self, pages: u64) -> Self {
        match self {
            VmaBacking::Anon => VmaBacking::Anon,
            VmaBacking::Shm { obj, pgoff } => VmaBacking::Shm {
                obj: obj.clone(),
                pgoff: pgoff + pages,
            },
            VmaBacking::Special { mapping, pgoff } => VmaBacking::Special {
                mapping,
                pgoff: pgoff + pages,
            },
        }
    }

    fn is_anonymous(&self) -> bool {
        matches!(self, VmaBacking::Anon)
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

    /// The page at `index` if it exists (Linux `find_get_page`, without the reference).
    pub fn find_page(&self, index: u64) -> Option<PhysAddr> {
        self.pages.lock().get(&index).copied()
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
pub type Vma = forkos_lib::vma::Vma<VmaBacking>;

/// The mutable part of an address space, behind its lock (Linux `mmap_lock`).
pub struct MmInner {
    /// Sorted, non-overlapping, page-aligned ([`forkos_lib::vma`] keeps it so).
    pub vmas: VmaList<VmaBacking>,
    /// Where the heap starts and the current break (Linux `start_brk`, `brk`).
    pub start_brk: u64,
    pub brk: u64,
    /// The program's argument and environment strings on its stack (Linux
    /// `arg_start`, `arg_end`, `env_start`, `env_end`), for `/proc/PID/cmdline`.
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// Where the stack started at `execve` (Linux `start_stack`).
    pub start_stack: u64,
    /// The program file and where it was found (Linux `exe_file`), for
    /// `/proc/PID/exe`; a fork's copy shares it.
    pub exe_file: Option<Arc<crate::fs::namei::Path>>,
}

impl MmInner {
    /// The mapping containing `va` (Linux `vma_lookup`).
    pub fn find_vma(&self, va: u64) -> Option<&Vma> {
        self.vmas.vma_lookup(va)
    }

    /// Insert a mapping that overlaps none (Linux `insert_vm_struct`); `ENOMEM` if it
    /// would overlap one, as Linux's fails.
    pub fn insert_vma(&mut self, vma: Vma) -> Result<(), crate::errno::Errno> {
        self.vmas.insert(vma).map_err(|_| crate::errno::ENOMEM)
    }

    /// Does any mapping overlap `[start, end)`?
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.find_vma_intersection(start, end).is_some()
    }
}

/// A user address space (Linux `struct mm_struct`). Shared by `Arc`: the strong count is
/// Linux's `mm_users`.
pub struct Mm {
    /// Physical address of the top-level page table, loaded into TTBR0.
    pub pgd: PhysAddr,
    /// The ASID.
    pub context: MmContext,
    /// Reached only through [`Mm::lock`], whose guard also carries the `Mm`: the page
    /// tables under `pgd` change only while it is held.
    inner: IrqSpinLock<MmInner>,
}

/// An address space with its lock held (Linux: an `mm_struct` under `mmap_lock`): the
/// mappings (through `Deref` to [`MmInner`]) and the page tables may change. What needs
/// the lock is a method here, such as [`MmLock::handle_mm_fault`], so that the locked
/// mappings and the page tables they describe always belong to the same `Mm`.
pub struct MmLock<'a> {
    mm: &'a Mm,
    inner: IrqSpinLockGuard<'a, MmInner>,
}

impl<'a> MmLock<'a> {
    /// The address space this lock is held on.
    #[inline]
    pub fn mm(&self) -> &'a Mm {
        self.mm
    }
}

impl core::ops::Deref for MmLock<'_> {
    type Target = MmInner;
    #[inline]
    fn deref(&self) -> &MmInner {
        &self.inner
    }
}

impl core::ops::DerefMut for MmLock<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut MmInner {
        &mut self.inner
    }
}

impl Mm {
    /// An empty address space (Linux `mm_alloc` + `pgd_alloc`).
    pub fn new() -> Option<Mm> {
        let pgd = page_alloc::alloc_zeroed_page()?;
        Some(Mm::with_pgd(pgd))
    }

    /// An empty, shared address space, built in the object allocated for it (Linux
    /// `allocate_mm` then `mm_init`), not on the stack and moved there.
    pub fn new_shared() -> Option<Arc<Mm>> {
        let pgd = page_alloc::alloc_zeroed_page()?;
        Some(Arc::new(Mm::with_pgd(pgd)))
    }

    #[inline(always)]
    fn with_pgd(pgd: PhysAddr) -> Mm {
        Mm {
            pgd,
            context: MmContext::default(),
            inner: IrqSpinLock::new(MmInner {
                vmas: VmaList::default(),
                start_brk: 0,
                brk: 0,
                arg_start: 0,
                arg_end: 0,
                env_start: 0,
                env_end: 0,
                start_stack: 0,
                exe_file: None,
            }),
        }
    }

    /// Take the address space's lock (Linux `mmap_write_lock`).
    #[inline]
    pub fn lock(&self) -> MmLock<'_> {
        MmLock {
            mm: self,
            inner: self.inner.lock(),
        }
    }
}

impl Drop for Mm {
    /// The last user is gone: unmap everything and free every page table (Linux
    /// `mmput` -> `exit_mmap`: `unmap_vmas`, `free_pgtables`). The ASID is not given
    /// back: as on Linux, it ages out at the next rollover (`arch/aarch64/mmu_context.rs`).
    fn drop(&mut self) {
        let vmas = self.inner.lock().vmas.take_all();
        memory::exit_mmap(self, &vmas);
        // Every pgd entry was cleared as the tables below it went (Linux `pgd_free`).
        page_alloc::free_zeroed_page(self.pgd);
        // The mappings go last: a shared one lets go of its object's pages.
        drop(vmas);
    }
}

/// Install `mm` (or, for kernel threads, no user mappings at all) in TTBR0 (Linux
/// `switch_mm_irqs_off`): interrupts must be masked, as in `context_switch`.
#[inline]
pub fn switch_mm(mm: Option<&Mm>) {
    match mm {
        Some(mm) => mmu_context::check_and_switch_context(mm.pgd, &mm.context),
        None => cpu_set_reserved_ttbr0(),
    }
}

/// Install `mm` in TTBR0 outside the scheduler, as `execve` does (Linux `activate_mm`):
/// with interrupts masked, so that no switch comes between taking the ASID and writing
/// TTBR0.
pub fn activate_mm(mm: &Mm) {
    let flags = crate::arch::irqflags::local_irq_save();
    switch_mm(Some(mm));
    crate::arch::irqflags::local_irq_restore(flags);
}
