//! Clearing and copying whole pages (Linux `arch/arm64/lib/clear_page.S`,
//! `copy_page.S`): the two loops fork, faults and page-table allocation spend most of
//! their instructions in, written for the machine rather than through `memset`/`memcpy`.
//! And making instructions written through the kernel's mapping of a user page visible
//! to instruction fetch ([`flush_ptrace_access`], Linux `arch/arm64/mm/flush.c`).

use forkos_lib::pgtable::PAGE_SIZE;

/// Zero the page at kernel address `va` with `dc zva`, which zeroes a whole block (64
/// bytes on the CPUs QEMU models) per instruction, eight blocks a loop, or with 16-byte
/// stores where the CPU forbids it (`DCZID_EL0.DZP`) or its blocks are very large.
///
/// # Safety
/// `va` is a page-aligned kernel mapping of a page the caller owns.
pub unsafe fn clear_page(va: u64) {
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, dczid_el0", out(reg) dczid, options(nomem, nostack)) };
    let block = 4usize << (dczid & 0xf);
    if dczid & 0x10 == 0 && block * 8 <= PAGE_SIZE {
        // SAFETY: the caller owns the page; every block written lies inside it (eight
        // blocks an iteration, and the page is a whole number of eight blocks).
        unsafe {
            core::arch::asm!(
                "2:",
                ".rept 8",
                "dc zva, {p}",
                "add {p}, {p}, {b}",
                ".endr",
                "cmp {p}, {e}",
                "b.ne 2b",
                p = inout(reg) va => _,
                b = in(reg) block,
                e = in(reg) va + PAGE_SIZE as u64,
                options(nostack)
            )
        };
    } else {
        // SAFETY: as above, 64 bytes per iteration.
        unsafe {
            core::arch::asm!(
                "2: stp xzr, xzr, [{p}]",
                "stp xzr, xzr, [{p}, #16]",
                "stp xzr, xzr, [{p}, #32]",
                "stp xzr, xzr, [{p}, #48]",
                "add {p}, {p}, #64",
                "cmp {p}, {e}",
                "b.ne 2b",
                p = inout(reg) va => _,
                e = in(reg) va + PAGE_SIZE as u64,
                options(nostack)
            )
        };
    }
}

/// Copy the page at kernel address `src` to `dst`, 128 bytes per iteration (as Linux's
/// `copy_page.S`).
///
/// # Safety
/// Both are page-aligned kernel mappings; the caller owns `dst`, and nobody writes `src`
/// meanwhile.
pub unsafe fn copy_page(dst: u64, src: u64) {
    // SAFETY: every access lies in the two pages, as the caller guarantees.
    unsafe {
        core::arch::asm!(
            "2: ldp {a}, {b}, [{s}]",
            "ldp {c}, {d}, [{s}, #16]",
            "ldp {e}, {f}, [{s}, #32]",
            "ldp {g}, {h}, [{s}, #48]",
            "stp {a}, {b}, [{t}]",
            "stp {c}, {d}, [{t}, #16]",
            "stp {e}, {f}, [{t}, #32]",
            "stp {g}, {h}, [{t}, #48]",
            "ldp {a}, {b}, [{s}, #64]",
            "ldp {c}, {d}, [{s}, #80]",
            "ldp {e}, {f}, [{s}, #96]",
            "ldp {g}, {h}, [{s}, #112]",
            "stp {a}, {b}, [{t}, #64]",
            "stp {c}, {d}, [{t}, #80]",
            "stp {e}, {f}, [{t}, #96]",
            "stp {g}, {h}, [{t}, #112]",
            "add {s}, {s}, #128",
            "add {t}, {t}, #128",
            "cmp {s}, {end}",
            "b.ne 2b",
            s = inout(reg) src => _,
            t = inout(reg) dst => _,
            end = in(reg) src + PAGE_SIZE as u64,
            a = out(reg) _,
            b = out(reg) _,
            c = out(reg) _,
            d = out(reg) _,
            e = out(reg) _,
            f = out(reg) _,
            g = out(reg) _,
            h = out(reg) _,
            options(nostack)
        )
    };
}

/// A tracer wrote `len` bytes at kernel address `kaddr`, the linear mapping of a user
/// page, which may hold instructions: clean the data cache to the point of unification
/// and invalidate every instruction cache, so that the tracee fetches what was written
/// (Linux `flush_ptrace_access` -> `sync_icache_aliases`, in the form that is right for
/// aliasing instruction caches too).
pub fn flush_ptrace_access(kaddr: u64, len: usize) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    // DminLine: log2 of the smallest data cache line, in words.
    let line = 4u64 << ((ctr >> 16) & 0xf);
    let mut at = kaddr & !(line - 1);
    while at < kaddr + len as u64 {
        // SAFETY: cleaning a cache line of memory mapped in the kernel changes no data.
        unsafe { core::arch::asm!("dc cvau, {}", in(reg) at, options(nostack)) };
        at += line;
    }
    // SAFETY: barriers and invalidating instruction caches change no data.
    unsafe { core::arch::asm!("dsb ish", "ic ialluis", "dsb ish", "isb", options(nostack)) };
}
