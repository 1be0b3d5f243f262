//! User address spaces on the CPU: ASIDs, TTBR0 and TLB invalidation (Linux
//! `arch/arm64/mm/context.c`, `asm/tlbflush.h`, `asm/pgtable.h` for user PTE bits).
//!
//! TTBR0 holds the running task's page tables together with an ASID (address space id):
//! TLB entries of user mappings are tagged with it (they are non-global), so switching
//! between address spaces needs no TLB flush. The allocator is Linux's: an address
//! space's `context.id` is a *generation* above an ASID; ASIDs are handed out from
//! `asid_map` and never given back one by one. When the map is full, the generation is
//! bumped (a *rollover*): the map starts again empty except for the ASID each CPU is
//! running (kept as that CPU's `reserved_asids`, since that address space may carry on
//! without switching), and every CPU owes a local TLB flush before it next takes an ASID
//! in the slow path. A switch to an address space of the current generation takes no lock
//! ([`check_and_switch_context`]'s fast path).
//!
//! Read next: `mm/mod.rs` (`switch_mm`, `activate_mm`, `Mm`'s teardown), `mm/memory.rs`
//! (where mappings change and the TLB is flushed), `sched/mod.rs` (`context_switch`).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, Writeable, ID_AA64MMFR0_EL1, TTBR0_EL1};
use forkos_lib::pgtable::{attrindx, Pte, MT_NORMAL, PHYS_MASK};

use super::memory::PhysAddr;
use super::percpu::NR_CPUS;
use crate::mm::VmFlags;
use crate::sync::{lock_class, IrqSpinLock};

/// The ASID and generation of one address space (Linux `mm_context_t`'s `id`): the
/// generation from bit 16 up, the ASID below; 0 until it first runs.
pub struct MmContext {
    id: AtomicU64,
}

impl Default for MmContext {
    /// A new address space has no ASID yet (Linux `init_new_context`).
    fn default() -> Self {
        MmContext {
            id: AtomicU64::new(0),
        }
    }
}

impl MmContext {
    /// The ASID last assigned (Linux `ASID(mm)`). It may be of an old generation: its
    /// TLB entries are still tagged with that number, so flushing it is right, and at
    /// worst also flushes the entries of a new owner of the number.
    #[inline(always)]
    pub fn asid(&self) -> u64 {
        ctxid2asid(self.id.load(Ordering::Relaxed))
    }
}

/// The most ASID bits the architecture has (16), which sizes `asid_map`.
const MAX_ASID_BITS: u32 = 16;

/// The first generation, and the step between generations (Linux `ASID_FIRST_VERSION`).
/// Linux's is `1 << asid_bits`; ours is above the widest ASID whatever `asid_bits` is,
/// so that the switch's fast path and the TLB flushes mask with a constant.
const ASID_FIRST_VERSION: u64 = 1 << MAX_ASID_BITS;

/// The width of an ASID on this system (Linux `asid_bits`): 8 or 16 from
/// `ID_AA64MMFR0_EL1`, or fewer with `asid_bits=N` on the command line; set once by
/// [`asids_init`] before any user address space runs.
static ASID_BITS: AtomicU32 = AtomicU32::new(8);

/// The current generation, in the bits from 16 up (Linux `asid_generation`). Read
/// without the lock by the fast path; only bumped under [`CPU_ASID_LOCK`].
static ASID_GENERATION: AtomicU64 = AtomicU64::new(ASID_FIRST_VERSION);

/// The ASID each CPU is running, by CPU number, or 0 once a rollover has taken it as
/// reserved (Linux's per-CPU `active_asids`). Written by its own CPU (the fast path's
/// `cmpxchg`, the slow path under the lock) and by [`AsidState::flush_context`] (an
/// exchange to 0).
static ACTIVE_ASIDS: [ActiveAsid; NR_CPUS] = [const { ActiveAsid(AtomicU64::new(0)) }; NR_CPUS];

/// One CPU's `active_asids` entry, on a cache line of its own as a per-CPU variable is,
/// so that one CPU's fast path does not steal the line another's is using.
#[repr(align(64))]
struct ActiveAsid(AtomicU64);

/// The CPUs that owe a local TLB flush since the last rollover, one bit per CPU
/// number (Linux `tlb_flush_pending`, a cpumask). Changed only under [`CPU_ASID_LOCK`].
static TLB_FLUSH_PENDING: AtomicU64 = AtomicU64::new(0);
const _: () = assert!(
    NR_CPUS <= 64,
    "tlb_flush_pending holds one bit per CPU in a u64"
);

/// What the allocator changes only under its lock.
struct AsidState {
    /// ASIDs taken in the current generation, one bit each (Linux `asid_map`). ASID 0 is
    /// never handed out: TTBR0's reserved table uses it (Linux's `init_mm`).
    asid_map: [u64; (1 << MAX_ASID_BITS) / 64],
    /// Each CPU's ASID at the last rollover, moved to the current generation when its
    /// address space claims it again (Linux's per-CPU `reserved_asids`).
    reserved_asids: [u64; NR_CPUS],
    /// Where the search for a free ASID starts (`new_context`'s `cur_idx`).
    cur_idx: usize,
}

/// The allocator's lock and what it guards (Linux `cpu_asid_lock`, a raw spinlock taken
/// with interrupts masked).
static CPU_ASID_LOCK: IrqSpinLock<AsidState, { lock_class::ASID }> = IrqSpinLock::new(AsidState {
    asid_map: [0; (1 << MAX_ASID_BITS) / 64],
    reserved_asids: [0; NR_CPUS],
    cur_idx: 1,
});

/// How many ASIDs there are, 0 included (Linux `NUM_USER_ASIDS`).
#[inline(always)]
fn num_user_asids() -> usize {
    1 << ASID_BITS.load(Ordering::Relaxed)
}

/// The ASID part of a context id (Linux `ctxid2asid`).
#[inline(always)]
fn ctxid2asid(id: u64) -> u64 {
    id & (ASID_FIRST_VERSION - 1)
}

/// A context id from an ASID and a generation (Linux `asid2ctxid`).
#[inline(always)]
fn asid2ctxid(asid: u64, generation: u64) -> u64 {
    asid | generation
}

/// Is the context id `asid` of the current generation? (Linux `asid_gen_match`)
#[inline(always)]
fn asid_gen_match(asid: u64) -> bool {
    (asid ^ ASID_GENERATION.load(Ordering::Relaxed)) >> MAX_ASID_BITS == 0
}

/// This CPU's number, the index of its per-CPU entries (Linux `smp_processor_id`).
#[inline(always)]
fn smp_processor_id() -> usize {
    if NR_CPUS == 1 {
        return 0;
    }
    let cpu = super::percpu::this_cpu().cpu;
    debug_assert!(cpu < NR_CPUS);
    cpu
}

/// The ASID width this CPU implements (Linux `get_cpu_asid_bits`).
fn get_cpu_asid_bits() -> u32 {
    match ID_AA64MMFR0_EL1.read_as_enum(ID_AA64MMFR0_EL1::ASIDBits) {
        Some(ID_AA64MMFR0_EL1::ASIDBits::Value::Bits_16) => 16,
        _ => 8,
    }
}

/// Set up the allocator at boot, before any user address space runs (Linux
/// `asids_init` and `asids_update_limit`). `limit` is the `asid_bits=N` boot option:
/// fewer ASIDs than the hardware has, so that rollovers come every few forks (tests);
/// there must stay more usable ASIDs than CPUs, or a rollover could find none free.
pub fn asids_init(limit: Option<u32>, possible_cpus: usize) {
    let hw = get_cpu_asid_bits();
    // More usable ASIDs than CPUs that may hold one (Linux's check in `asids_init`
    // against `num_possible_cpus()`).
    let cpus = possible_cpus.clamp(1, NR_CPUS);
    let min = (cpus + 2).next_power_of_two().trailing_zeros().max(2);
    let bits = limit.map_or(hw, |n| n.clamp(min, hw));
    ASID_BITS.store(bits, Ordering::Relaxed);
    match limit {
        Some(_) => crate::println!(
            "  asids:   {} ({bits} of {hw} bits: asid_bits= on the command line)",
            1u64 << bits
        ),
        None => crate::println!("  asids:   {} ({bits}-bit)", 1u64 << bits),
    }
}

/// Can this starting CPU use the ASIDs the boot CPU handed out (Linux
/// `verify_cpu_asid_bits`)? A CPU with fewer ASID bits than the allocator uses would
/// alias ASIDs in its TLB; it must not come online.
pub fn verify_cpu_asid_bits() -> bool {
    let fld = get_cpu_asid_bits();
    let bits = ASID_BITS.load(Ordering::Relaxed);
    if fld < bits {
        crate::println!(
            "CPU{}: smaller ASID size({fld}) than boot CPU ({bits})",
            smp_processor_id()
        );
        return false;
    }
    true
}

/// How many rollovers there have been since boot (the generation's number, less one).
pub fn asid_rollovers() -> u64 {
    ASID_GENERATION.load(Ordering::Relaxed) / ASID_FIRST_VERSION - 1
}

/// Was the number of ASIDs limited on the command line?
pub fn asid_bits_limited() -> bool {
    ASID_BITS.load(Ordering::Relaxed) < get_cpu_asid_bits()
}

impl AsidState {
    fn test_and_set_bit(&mut self, asid: usize) -> bool {
        let (word, bit) = (asid / 64, 1u64 << (asid % 64));
        let old = self.asid_map[word] & bit != 0;
        self.asid_map[word] |= bit;
        old
    }

    /// The first clear bit of `asid_map` at or after `start`, or `size` (Linux
    /// `find_next_zero_bit`).
    fn find_next_zero_bit(&self, size: usize, start: usize) -> usize {
        let mut i = start;
        while i < size {
            let free = !self.asid_map[i / 64] & (!0u64 << (i % 64));
            if free != 0 {
                return (i & !63) + free.trailing_zeros() as usize;
            }
            i = (i & !63) + 64;
        }
        size
    }

    /// A new generation's map and reserved ASIDs (Linux `flush_context`): every ASID is
    /// free but the one each CPU is running, which that CPU keeps, and every CPU must
    /// flush its TLB before it next takes an ASID.
    fn flush_context(&mut self) {
        let n = num_user_asids();
        self.asid_map[..n.div_ceil(64)].fill(0);
        // Linux `for_each_possible_cpu(i)`.
        for (i, active) in ACTIVE_ASIDS.iter().enumerate() {
            // Relaxed, as Linux's `atomic64_xchg_relaxed`: read-modify-writes of one
            // location are totally ordered, so a fast path's `cmpxchg` on this CPU's
            // entry either came before (and its ASID is reserved here) or finds 0 after
            // (and takes the lock, which orders it after this rollover).
            let mut asid = active.0.swap(0, Ordering::Relaxed);
            // A CPU that has not switched since the last rollover still runs the
            // address space of its reserved ASID: the only trace of it left.
            if asid == 0 {
                asid = self.reserved_asids[i];
            }
            self.test_and_set_bit(ctxid2asid(asid) as usize);
            self.reserved_asids[i] = asid;
        }
        // Each CPU flushes its own TLB before its next ASID (Linux
        // `cpumask_setall(&tlb_flush_pending)`).
        TLB_FLUSH_PENDING.store(u64::MAX >> (64 - NR_CPUS), Ordering::Relaxed);
    }

    /// Is `asid` (a context id of an old generation) some CPU's reserved ASID? If so,
    /// every copy becomes `newasid`, the same ASID in the current generation (Linux
    /// `check_update_reserved_asid`). No early exit: two CPUs may hold it.
    fn check_update_reserved_asid(&mut self, asid: u64, newasid: u64) -> bool {
        let mut hit = false;
        for r in &mut self.reserved_asids {
            if *r == asid {
                hit = true;
                *r = newasid;
            }
        }
        hit
    }

    /// An ASID of the current generation for `ctx` (Linux `new_context`): its old one
    /// if it was reserved or is still free, else the next free one; when none is free,
    /// a rollover.
    fn new_context(&mut self, ctx: &MmContext) -> u64 {
        let asid = ctx.id.load(Ordering::Relaxed);
        let mut generation = ASID_GENERATION.load(Ordering::Relaxed);
        if asid != 0 {
            let newasid = asid2ctxid(ctxid2asid(asid), generation);
            // Running on some CPU at the rollover: it keeps its ASID (a false alarm).
            if self.check_update_reserved_asid(asid, newasid) {
                return newasid;
            }
            // It had an ASID in a previous life: keep it if nobody took it since.
            if !self.test_and_set_bit(ctxid2asid(asid) as usize) {
                return newasid;
            }
        }
        // ASID 0 is TTBR0's reserved one: the search starts at 1 at least.
        let n = num_user_asids();
        let mut asid = self.find_next_zero_bit(n, self.cur_idx);
        if asid == n {
            // Out of ASIDs: a new generation. Relaxed, as Linux's
            // `atomic64_add_return_relaxed`: only the lock's holder writes it, and a
            // fast path that reads the old value fails its `cmpxchg` (see flush_context).
            generation = ASID_GENERATION.fetch_add(ASID_FIRST_VERSION, Ordering::Relaxed)
                + ASID_FIRST_VERSION;
            self.flush_context();
            // There are more ASIDs than CPUs: one is always free now.
            asid = self.find_next_zero_bit(n, 1);
        }
        self.test_and_set_bit(asid);
        self.cur_idx = asid;
        asid2ctxid(asid as u64, generation)
    }
}

/// Install the page tables at `pgd` with `ctx`'s ASID in TTBR0, first giving `ctx` an
/// ASID of the current generation if it has none (Linux `check_and_switch_context`).
/// Interrupts must be masked, as Linux's caller has preemption off: this CPU's number
/// and entries must stay this CPU's until TTBR0 is written.
#[inline(always)]
pub fn check_and_switch_context(pgd: PhysAddr, ctx: &MmContext) {
    let cpu = smp_processor_id();
    debug_assert!(cpu < NR_CPUS);
    // SAFETY: init_this_cpu gave every CPU an index below NR_CPUS (Linux's
    // `this_cpu_ptr` does no bounds check either).
    let active = unsafe { &ACTIVE_ASIDS.get_unchecked(cpu).0 };
    let mut asid = ctx.id.load(Ordering::Relaxed);
    // The fast path, without the lock: the ASID is of the current generation, and this
    // CPU's entry was not taken by a rollover. Relaxed, as Linux's: if a rollover raced
    // with us, either our `cmpxchg` finds 0 and we take the lock, which orders us after
    // it, or it comes first in the entry's order of writes and the rollover's exchange
    // then reserves the ASID we are switching to.
    let old_active_asid = active.load(Ordering::Relaxed);
    if old_active_asid == 0
        || !asid_gen_match(asid)
        || active
            .compare_exchange(old_active_asid, asid, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        asid = check_and_switch_context_slow(ctx, cpu);
    }
    cpu_switch_mm(pgd, asid);
}

/// The slow path of [`check_and_switch_context`], under the lock: a new ASID if the
/// address space's is of an old generation, and the local TLB flush this CPU owes since
/// a rollover. Returns the context id to run with.
#[inline(never)]
fn check_and_switch_context_slow(ctx: &MmContext, cpu: usize) -> u64 {
    let mut s = CPU_ASID_LOCK.lock();
    // Check that our ASID belongs to the current generation (another CPU running the
    // same address space may have renewed it meanwhile).
    let mut asid = ctx.id.load(Ordering::Relaxed);
    if !asid_gen_match(asid) {
        asid = s.new_context(ctx);
        ctx.id.store(asid, Ordering::Relaxed);
    }
    // Linux `cpumask_test_and_clear_cpu(cpu, &tlb_flush_pending)`.
    if TLB_FLUSH_PENDING.fetch_and(!(1 << cpu), Ordering::Relaxed) & (1 << cpu) != 0 {
        local_flush_tlb_all();
    }
    ACTIVE_ASIDS[cpu].0.store(asid, Ordering::Relaxed);
    asid
}

/// Point TTBR0 at `pgd` with the ASID of context id `id` (Linux `cpu_do_switch_mm`;
/// forkos keeps the ASID in TTBR0, `TCR_EL1.A1` clear).
#[inline(always)]
fn cpu_switch_mm(pgd: PhysAddr, id: u64) {
    TTBR0_EL1.set(pgd.0 | (ctxid2asid(id) << 48));
    // SAFETY: an isb makes the new TTBR0 take effect; no memory is touched.
    unsafe { core::arch::asm!("isb", options(nostack)) };
}

/// Invalidate every EL1&0 TLB entry of this CPU only (Linux `local_flush_tlb_all`): for
/// a rollover, whose flush each CPU does itself before its next ASID, and at boot.
pub fn local_flush_tlb_all() {
    // SAFETY: TLB invalidation only drops cached translations; the barriers order it
    // after earlier page-table stores and before later accesses.
    unsafe {
        core::arch::asm!(
            "dsb nshst",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            options(nostack)
        )
    };
}

/// Invalidate every TLB entry of an address space, on every CPU of the inner-shareable
/// domain (Linux `flush_tlb_mm`: `tlbi aside1is`).
pub fn flush_tlb_mm(ctx: &MmContext) {
    // SAFETY: TLB invalidation only drops cached translations.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb",
            in(reg) ctx.asid() << 48, options(nostack))
    };
}

/// Invalidate one user page's TLB entry on every CPU (Linux `flush_tlb_page`).
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

/// Clear an upper-level entry (Linux `pud_clear`, `pmd_clear`, `p4d_clear`). No
/// barrier, as Linux's `set_pmd` and `set_pud` issue none for an invalid entry: the
/// table below is freed only after the TLB flush (`MmuGather`), whose `dsb ishst`
/// orders this store before it.
pub fn clear_table_entry(entry: &mut u64) {
    set_pte(entry, 0);
}
