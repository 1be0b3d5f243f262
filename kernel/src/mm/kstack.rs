//! Kernel stacks (Linux `alloc_thread_stack_node` with `CONFIG_VMAP_STACK`).
//!
//! Every task gets a fresh 16 KiB stack in its own 32 KiB slot of kernel virtual memory,
//! with 16 KiB unmapped below it, so an overflow faults instead of corrupting its
//! neighbour, and the exception vectors recognise it (see `KSTACK_START`). The slot's page tables are created once at boot; a stack costs exactly its
//! four pages, and freeing it gives them all back.

use alloc::vec::Vec;

use forkos_lib::pgtable::{Prot, PAGE_SIZE};

use crate::arch::head::init_stack;
use crate::arch::memory::{KSTACK_SLOT, KSTACK_START, MAX_THREADS, THREAD_SIZE};
use crate::arch::mmu;
use crate::mm::page_alloc;
use crate::sync::{lock_class, IrqSpinLock};

/// Free slot numbers (most recently freed last, so they are reused first).
static FREE_SLOTS: IrqSpinLock<Vec<u32>, { lock_class::KSTACK }> = IrqSpinLock::new(Vec::new());

/// Stacks kept mapped after their task died, for the next fork (Linux's
/// `cached_stacks`, `NR_CACHED_STACKS` of them per CPU): mapping four pages into a slot
/// and unmapping them again is most of what a stack costs.
const NR_CACHED_STACKS: usize = 2;
static CACHED: IrqSpinLock<([u32; NR_CACHED_STACKS], usize), { lock_class::KSTACK }> =
    IrqSpinLock::new(([0; NR_CACHED_STACKS], 0));

/// Give the cached stacks' pages back (before the leak check counts free pages).
pub fn drain_cache() {
    loop {
        let n = {
            let mut c = CACHED.lock();
            if c.1 == 0 {
                return;
            }
            c.1 -= 1;
            c.0[c.1]
        };
        release(n, THREAD_SIZE / PAGE_SIZE);
    }
}

/// Create the page tables for every slot and fill the free list.
pub fn init() {
    mmu::prealloc_kernel_tables(KSTACK_START, MAX_THREADS as u64 * KSTACK_SLOT)
        .expect("no memory for kernel stack page tables");
    let mut free = FREE_SLOTS.lock();
    free.extend((0..MAX_THREADS as u32).rev());
}

/// A task's kernel stack.
pub enum KernelStack {
    /// The boot CPU's stack in .bss, which the idle task keeps.
    Init,
    /// A stack in slot `n`.
    Slot(u32),
}

fn slot_base(n: u32) -> u64 {
    KSTACK_START + n as u64 * KSTACK_SLOT
}

impl KernelStack {
    /// A fresh stack, or `None` when slots or memory run out.
    pub fn alloc() -> Option<KernelStack> {
        {
            let mut c = CACHED.lock();
            if c.1 > 0 {
                c.1 -= 1;
                return Some(KernelStack::Slot(c.0[c.1]));
            }
        }
        let n = FREE_SLOTS.lock().pop()?;
        let base = slot_base(n);
        for i in 0..THREAD_SIZE / PAGE_SIZE {
            let va = base + (i * PAGE_SIZE) as u64;
            let ok = page_alloc::alloc_page().is_some_and(|pa| {
                mmu::create_kernel_mapping(va, pa, PAGE_SIZE as u64, Prot::KernelRw).is_ok()
            });
            if !ok {
                release(n, i);
                return None;
            }
        }
        Some(KernelStack::Slot(n))
    }

    /// The lowest address of the stack.
    pub fn base(&self) -> u64 {
        match self {
            KernelStack::Init => core::ptr::addr_of!(init_stack) as u64,
            KernelStack::Slot(n) => slot_base(*n),
        }
    }

    /// One past the highest address: the stack grows down from here.
    pub fn top(&self) -> u64 {
        self.base() + THREAD_SIZE as u64
    }
}

/// Unmap and free the first `pages` pages of slot `n` and return the slot.
fn release(n: u32, pages: usize) {
    let base = slot_base(n);
    for i in 0..pages {
        if let Some(pa) = mmu::unmap_kernel_page(base + (i * PAGE_SIZE) as u64) {
            page_alloc::free_page(pa);
        }
    }
    FREE_SLOTS.lock().push(n);
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        if let KernelStack::Slot(n) = self {
            {
                let mut c = CACHED.lock();
                if c.1 < NR_CACHED_STACKS {
                    let i = c.1;
                    c.0[i] = *n;
                    c.1 += 1;
                    return;
                }
            }
            release(*n, THREAD_SIZE / PAGE_SIZE);
        }
    }
}
