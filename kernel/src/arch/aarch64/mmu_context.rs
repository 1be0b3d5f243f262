//! User address spaces on the CPU: ASIDs, TTBR0 and TLB invalidation (Linux
//! `arch/arm64/mm/context.c`, `asm/tlbflush.h`, `asm/pgtable.h` for user PTE bits).
//!
//! TTBR0 holds the running task's page tables together with an ASID (address space id):
//! TLB entries of user mappings are tagged with it (they are non-global), so switching
//! between address spaces needs no TLB flush. ASIDs are handed out from a bitmap; when it
//! is full, a new *generation* starts: the whole TLB is flushed once and every address
//! space gets a fresh ASID the next time it runs (Linux's rollover, for one CPU).

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, Writeable, ID_AA64MMFR0_EL1, TTBR0_EL1};
use forkos_lib::pgtable::{attrindx, Pte, MT_NORMAL, PHYS_MASK};

use super::memory::PhysAddr;
use crate::mm::VmFlags;
use crate::sync::IrqSpinLock;

/// The ASID and generation of one address space (Linux `mm_context_t`): generation in the
/// high bits, ASID in the low 16.
pub struct MmContext {
    id: AtomicU64,
}

impl Default for MmContext {
    fn default() -> Self {
        MmContext {
            id: AtomicU64::new(0),
        }
    }
}

impl MmContext {
    /// The ASID currently assigned (valid only in the current generation).
    pub fn asid(&self) -> u64 {
        self.id.load(Ordering::Relaxed) & ASID_MASK
    }
}

const ASID_MASK: u64 = 0xffff;
const GEN_SHIFT: u32 = 16;

struct AsidAllocator {
    generation: u64,
    bits: u32,
    used: [u64; 1024],
    next: usize,
}

/// The current ASID generation, also readable without the lock: `switch_mm`'s fast path
/// (Linux `asid_generation`).
static ASID_GENERATION: AtomicU64 = AtomicU64::new(1);

static ASIDS: IrqSpinLock<AsidAllocator> = IrqSpinLock::new(AsidAllocator {
    generation: 1,
    bits: 0,
    used: [0; 1024],
    next: 1,
});

/// A new ASID for `ctx` in the current generation, starting a new one when all are used
/// (Linux `new_context`).
fn new_context(a: &mut AsidAllocator) -> u64 {
    if a.bits == 0 {
        let b = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits);
        a.bits = if b == 0b0010 { 16 } else { 8 };
    }
    let n = 1usize << a.bits;
    loop {
        // ASID 0 is reserved (Linux keeps it for the kernel's own TTBR0 use).
        for _ in 1..n {
            let asid = a.next;
            a.next = if a.next + 1 >= n { 1 } else { a.next + 1 };
            if a.used[asid / 64] & (1 << (asid % 64)) == 0 {
                a.used[asid / 64] |= 1 << (asid % 64);
                return (a.generation << GEN_SHIFT) | asid as u64;
            }
        }
        // Rollover: forget every assignment and flush all of them from the TLB.
        a.generation += 1;
        ASID_GENERATION.store(a.generation, Ordering::Relaxed);
        a.used = [0; 1024];
        a.next = 1;
        // SAFETY: invalidating every EL1&0 TLB entry on all CPUs is always safe.
        unsafe {
            core::arch::asm!(
                "dsb ishst",
                "tlbi vmalle1is",
                "dsb ish",
                "isb",
                options(nostack)
            )
        };
    }
}

/// Install the page tables at `pgd` with `ctx`'s ASID in TTBR0, giving it a fresh ASID
/// if its generation is old (Linux `check_and_switch_context` + `cpu_switch_mm`).
#[inline]
pub fn switch_mm(pgd: PhysAddr, ctx: &MmContext) {
    let mut id = ctx.id.load(Ordering::Relaxed);
    // The fast path, without the allocator's lock (Linux `check_and_switch_context`):
    // the mm's ASID is of the current generation, so still its own.
    if id >> GEN_SHIFT != ASID_GENERATION.load(Ordering::Relaxed) {
        let mut a = ASIDS.lock();
        id = ctx.id.load(Ordering::Relaxed);
        if id >> GEN_SHIFT != a.generation {
            id = new_context(&mut a);
            ctx.id.store(id, Ordering::Relaxed);
        }
    }
    TTBR0_EL1.set(pgd.0 | ((id & ASID_MASK) << 48));
    // SAFETY: an isb makes the new TTBR0 take effect; no memory is touched.
    unsafe { core::arch::asm!("isb", options(nostack)) };
}

/// Give `ctx`'s ASID back (Linux frees it lazily at rollover; we free it at mm teardown,
/// after flushing its entries so the next owner starts clean).
pub fn destroy_context(ctx: &MmContext) {
    let id = ctx.id.load(Ordering::Relaxed);
    let mut a = ASIDS.lock();
    if id >> GEN_SHIFT == a.generation {
        let asid = (id & ASID_MASK) as usize;
        flush_tlb_asid(asid as u64);
        a.used[asid / 64] &= !(1 << (asid % 64));
    }
}

/// Invalidate every TLB entry of an address space (Linux `flush_tlb_mm`). An ASID from
/// an old generation has no entries left (the rollover flushed them); flushing the
/// number anyway is harmless.
pub fn flush_tlb_mm(ctx: &MmContext) {
    flush_tlb_asid(ctx.asid());
}

/// Invalidate every TLB entry of one ASID.
pub fn flush_tlb_asid(asid: u64) {
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb",
            in(reg) asid << 48, options(nostack))
    };
}

/// Invalidate one user page's TLB entry (Linux `flush_tlb_page`).
pub fn flush_tlb_page(ctx: &MmContext, va: u64) {
    let arg = (ctx.asid() << 48) | ((va >> 12) & ((1 << 44) - 1));
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi vae1is, {}", "dsb ish", "isb", in(reg) arg, options(nostack))
    };
}

/// The page descriptor for a user page at `pa` with the access `flags` allow (Linux
/// `vm_get_page_prot` + `mk_pte`): EL0 access, non-global (ASID-tagged), never executable
/// by the kernel, read-only unless writable, executable at EL0 only with `VM_EXEC`.
pub fn mk_user_pte(pa: PhysAddr, flags: VmFlags) -> u64 {
    let mut pte = Pte::VALID
        | Pte::TABLE_OR_PAGE
        | Pte::AF
        | Pte::SHARED
        | Pte::NG
        | Pte::USER
        | Pte::PXN
        | attrindx(MT_NORMAL);
    // PROT_NONE (after mprotect): kept mapped for its contents, but EL0 may not touch it
    // (Linux's `PAGE_NONE` also drops the user bit).
    if !flags.contains(VmFlags::READ) {
        pte.remove(Pte::USER);
        pte |= Pte::RDONLY;
    }
    if !flags.contains(VmFlags::WRITE) {
        pte |= Pte::RDONLY;
    }
    if !flags.contains(VmFlags::EXEC) {
        pte |= Pte::UXN;
    }
    pte.bits() | (pa.0 & PHYS_MASK)
}

/// The physical page a user PTE maps.
pub fn pte_pa(pte: u64) -> PhysAddr {
    PhysAddr(pte & PHYS_MASK)
}

/// May user space write through this PTE? (Linux `pte_write`)
pub fn pte_writable(pte: u64) -> bool {
    pte & Pte::RDONLY.bits() == 0
}

/// The same PTE, read-only (Linux `pte_wrprotect`).
pub fn pte_wrprotect(pte: u64) -> u64 {
    pte | Pte::RDONLY.bits()
}

/// Is this user PTE present?
pub fn pte_present(pte: u64) -> bool {
    pte & Pte::VALID.bits() != 0
}

/// Is this entry empty (Linux `pte_none`, `pmd_none`, `pud_none`)?
#[inline(always)]
pub fn pte_none(pte: u64) -> bool {
    pte == 0
}

/// Write a user PTE (Linux arm64 `set_pte`). No barrier: a walker that still sees the
/// old, invalid entry faults, and the fault finds the page mapped (a spurious fault), as
/// on Linux, which only orders stores to kernel entries here.
#[inline(always)]
pub fn set_pte(ptep: &mut u64, pte: u64) {
    // SAFETY: ptep is a valid, exclusive reference; the volatile store only keeps the
    // compiler from tearing or eliding it, since the MMU's table walker reads it too.
    unsafe { core::ptr::write_volatile(ptep, pte) };
}

/// Make the parent's PTE read-only in place (Linux `ptep_set_wrprotect`).
#[inline(always)]
pub fn ptep_set_wrprotect(ptep: &mut u64) {
    set_pte(ptep, pte_wrprotect(*ptep));
}

/// Point an upper-level entry (pgd, pud or pmd) at the next-level table at `table`
/// (Linux `pgd_populate`, `pud_populate`, `pmd_populate` -> `set_pud`, `set_pmd`): the
/// zeroed table must be visible to the table walker before the entry that leads to it.
pub fn populate_table(entry: &mut u64, table: PhysAddr) {
    // SAFETY: a barrier only orders memory accesses; `table` was zeroed by the caller.
    unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
    set_pte(entry, forkos_lib::pgtable::table_desc(table.0));
    // SAFETY: as above (Linux's `set_pmd` ends with `dsb(ishst); isb()`).
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// Clear an upper-level entry (Linux `pud_clear`, `pmd_clear`, `p4d_clear`).
pub fn clear_table_entry(entry: &mut u64) {
    set_pte(entry, 0);
    // SAFETY: a barrier only orders memory accesses (Linux's `set_pmd` of an invalid
    // entry issues the same).
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}
