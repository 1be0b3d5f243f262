//! AArch64 page-table geometry for a 4 KiB granule and 48-bit virtual addresses, and the
//! bits of a descriptor (Linux `arch/arm64/include/asm/pgtable-hwdef.h`, `pgtable-prot.h`).
//!
//! Four levels translate a 48-bit address; each table is one 4 KiB page of 512 eight-byte
//! descriptors, indexed by 9 bits of the address:
//!
//! | level | Linux name | address bits | one entry maps |
//! |------:|------------|--------------|----------------|
//! | 0 | pgd | 47:39 | 512 GiB (table only) |
//! | 1 | pud | 38:30 | 1 GiB (table or block) |
//! | 2 | pmd | 29:21 | 2 MiB (table or block) |
//! | 3 | pte | 20:12 | 4 KiB (page) |

use bitflags::bitflags;

/// log2 of the page size.
pub const PAGE_SHIFT: u32 = 12;
/// The page (and granule) size: 4 KiB.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Entries in one table.
pub const PTRS_PER_TABLE: usize = 512;
/// Width of the virtual address space, for both TTBR0 (user) and TTBR1 (kernel).
pub const VA_BITS: u32 = 48;
/// Bits of a descriptor that hold the output (physical) address.
pub const PHYS_MASK: u64 = ((1 << 48) - 1) & !((PAGE_SIZE as u64) - 1);

/// Lowest translation level with tables (pgd).
pub const LEVEL_PGD: usize = 0;
/// The level whose entries each map 1 GiB (pud).
pub const LEVEL_PUD: usize = 1;
/// The level whose entries each map 2 MiB (pmd).
pub const LEVEL_PMD: usize = 2;
/// Last translation level (pte).
pub const LEVEL_PTE: usize = 3;

/// The address shift of a level: 39, 30, 21 or 12.
pub const fn level_shift(level: usize) -> u32 {
    PAGE_SHIFT + 9 * (3 - level as u32)
}

/// How many bytes one entry at `level` maps.
pub const fn level_size(level: usize) -> u64 {
    1 << level_shift(level)
}

/// The index of `va` in a table at `level` (Linux `pgd_index`, `pud_index`, ...).
pub const fn table_index(va: u64, level: usize) -> usize {
    ((va >> level_shift(level)) as usize) & (PTRS_PER_TABLE - 1)
}

/// Where the part of `[addr, end)` that one entry at `level` covers ends: the next
/// boundary of an entry at that level, or `end` if it comes first (Linux `pgd_addr_end`,
/// `pud_addr_end`, `pmd_addr_end`). An `end` of 0 stands for the top of the address space,
/// so the comparison is made on `x - 1`, as Linux makes it.
pub const fn addr_end(addr: u64, end: u64, level: usize) -> u64 {
    let size = level_size(level);
    let boundary = addr.wrapping_add(size) & !(size - 1);
    if boundary.wrapping_sub(1) < end.wrapping_sub(1) {
        boundary
    } else {
        end
    }
}

/// The mask that rounds an address down to the start of what one entry at `level` maps
/// (Linux `PGDIR_MASK`, `PUD_MASK`, `PMD_MASK`, `PAGE_MASK`).
pub const fn level_mask(level: usize) -> u64 {
    !(level_size(level) - 1)
}

/// Can one entry at `level` map `[va, va+len)` to `pa`? Only levels 1 to 3 may hold
/// blocks or pages, and both addresses must be aligned to the entry's size.
pub const fn block_fits(level: usize, va: u64, pa: u64, len: u64) -> bool {
    if level < 1 || level > LEVEL_PTE {
        return false;
    }
    let size = level_size(level);
    va.is_multiple_of(size) && pa.is_multiple_of(size) && len >= size
}

/// The coarsest level (1, 2 or 3) whose block can map the start of `[va, va+len)` to
/// `pa`, or `None` when even a page does not fit. `min_level` limits how big a block may
/// be (Linux avoids 1 GiB blocks where it wants to split later).
pub const fn mapping_level(va: u64, pa: u64, len: u64, min_level: usize) -> Option<usize> {
    let mut level = if min_level < 1 { 1 } else { min_level };
    while level <= LEVEL_PTE {
        if block_fits(level, va, pa, len) {
            return Some(level);
        }
        level += 1;
    }
    None
}

bitflags! {
    /// Bits of a block, page or table descriptor (stage 1, 4 KiB granule).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Pte: u64 {
        /// The descriptor is valid.
        const VALID = 1 << 0;
        /// Levels 0-2: points to a table. Level 3: a page (must be set).
        const TABLE_OR_PAGE = 1 << 1;
        /// Memory attribute index into MAIR_EL1, bits 4:2.
        const ATTRINDX_MASK = 7 << 2;
        /// AP[1]: EL0 may access (Linux `PTE_USER`).
        const USER = 1 << 6;
        /// AP[2]: read-only at every level (Linux `PTE_RDONLY`).
        const RDONLY = 1 << 7;
        /// Inner shareable (Linux `PTE_SHARED`).
        const SHARED = 3 << 8;
        /// Access flag: set, or the first access faults.
        const AF = 1 << 10;
        /// Not global: tagged with the ASID (user mappings).
        const NG = 1 << 11;
        /// Privileged execute-never.
        const PXN = 1 << 53;
        /// Unprivileged (EL0) execute-never.
        const UXN = 1 << 54;
    }
}

/// MAIR_EL1 attribute index of normal write-back cacheable memory (Linux `MT_NORMAL`).
pub const MT_NORMAL: u64 = 0;
/// MAIR_EL1 attribute index of normal non-cacheable memory (Linux `MT_NORMAL_NC`).
pub const MT_NORMAL_NC: u64 = 2;
/// MAIR_EL1 attribute index of Device-nGnRnE (Linux `MT_DEVICE_nGnRnE`).
pub const MT_DEVICE_NGNRNE: u64 = 3;
/// MAIR_EL1 attribute index of Device-nGnRE (Linux `MT_DEVICE_nGnRE`).
pub const MT_DEVICE_NGNRE: u64 = 4;

/// MAIR_EL1 with the attributes at Linux's indices.
pub const MAIR_EL1_VALUE: u64 = (0xff << (8 * MT_NORMAL))
    | (0x44 << (8 * MT_NORMAL_NC))
    | (0x00 << (8 * MT_DEVICE_NGNRNE))
    | (0x04 << (8 * MT_DEVICE_NGNRE));

/// The attribute-index bits for a MAIR index.
pub const fn attrindx(mt: u64) -> Pte {
    Pte::from_bits_retain(mt << 2)
}

/// What a kernel mapping allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prot {
    /// Kernel text: read-only, executable (Linux `PAGE_KERNEL_ROX`).
    KernelRox,
    /// Kernel read-only data: read-only, never executable (`PAGE_KERNEL_RO`).
    KernelRo,
    /// Kernel data: read-write, never executable (`PAGE_KERNEL`).
    KernelRw,
    /// Early boot only: read-write-executable (replaced before any code runs from it).
    KernelRwx,
    /// Device registers: Device-nGnRE, never executable (`PROT_DEVICE_nGnRE`).
    Device,
}

impl Prot {
    /// The descriptor bits of a leaf (block or page) with this protection, without the
    /// level-dependent TABLE_OR_PAGE bit or the output address.
    pub const fn leaf_bits(self) -> Pte {
        let normal = Pte::VALID
            .union(Pte::AF)
            .union(Pte::SHARED)
            .union(attrindx(MT_NORMAL));
        match self {
            Prot::KernelRox => normal.union(Pte::RDONLY).union(Pte::UXN),
            Prot::KernelRo => normal.union(Pte::RDONLY).union(Pte::UXN).union(Pte::PXN),
            Prot::KernelRw => normal.union(Pte::UXN).union(Pte::PXN),
            Prot::KernelRwx => normal.union(Pte::UXN),
            Prot::Device => Pte::VALID
                .union(Pte::AF)
                .union(attrindx(MT_DEVICE_NGNRE))
                .union(Pte::UXN)
                .union(Pte::PXN),
        }
    }
}

/// A leaf descriptor mapping `pa` at `level` with `prot`.
pub const fn leaf_desc(level: usize, pa: u64, prot: Prot) -> u64 {
    let bits = prot.leaf_bits().bits() | (pa & PHYS_MASK);
    if level == LEVEL_PTE {
        bits | Pte::TABLE_OR_PAGE.bits()
    } else {
        bits
    }
}

/// A table descriptor pointing to the next-level table at `table_pa`.
pub const fn table_desc(table_pa: u64) -> u64 {
    (table_pa & PHYS_MASK) | Pte::VALID.bits() | Pte::TABLE_OR_PAGE.bits()
}

/// Is `desc` at `level` a pointer to a next-level table?
pub const fn is_table(desc: u64, level: usize) -> bool {
    level < LEVEL_PTE && desc & 3 == 3
}

/// Is `desc` writable from EL1 and executable from EL1 at once (a W+X mapping)?
pub const fn is_wx(desc: u64) -> bool {
    desc & Pte::VALID.bits() != 0 && desc & (Pte::RDONLY.bits() | Pte::PXN.bits()) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_of_a_kernel_address() {
        let va = 0xffff_8000_4020_3000u64;
        assert_eq!(table_index(va, 0), 256);
        assert_eq!(table_index(va, 1), 1);
        assert_eq!(table_index(va, 2), 1);
        assert_eq!(table_index(va, 3), 3);
        assert_eq!(level_size(1), 1 << 30);
        assert_eq!(level_size(2), 2 << 20);
        assert_eq!(level_size(3), 4096);
    }

    #[test]
    fn addr_end_stops_at_the_next_entry_or_the_end() {
        let m2 = 2u64 << 20;
        // Within one pmd entry: the end itself.
        assert_eq!(addr_end(0x1000, 0x5000, LEVEL_PMD), 0x5000);
        // Across a boundary: the boundary.
        assert_eq!(addr_end(0x1000, 3 * m2, LEVEL_PMD), m2);
        assert_eq!(addr_end(m2, 3 * m2, LEVEL_PMD), 2 * m2);
        // An end of 0 is the top of the address space: the boundary comes first, and
        // at the very top the boundary wraps to 0, which is the end.
        assert_eq!(addr_end(0x1000, 0, LEVEL_PGD), 1 << 39);
        assert_eq!(addr_end(u64::MAX - 0xfff, 0, LEVEL_PTE), 0);
        assert_eq!(level_mask(LEVEL_PUD), !((1u64 << 30) - 1));
    }

    #[test]
    fn picks_the_largest_block_that_fits() {
        let g = 1u64 << 30;
        let m2 = 2u64 << 20;
        assert_eq!(mapping_level(g, g, g, 1), Some(1));
        assert_eq!(mapping_level(g, g, g, 2), Some(2));
        assert_eq!(mapping_level(g, g, g - 1, 1), Some(2));
        assert_eq!(mapping_level(g + m2, g + m2, g, 1), Some(2));
        assert_eq!(mapping_level(g + 4096, g + 4096, g, 1), Some(3));
        // Misaligned against each other: only pages.
        assert_eq!(mapping_level(g, g + 4096, g, 1), Some(3));
        assert_eq!(mapping_level(g, g, 100, 1), None);
    }

    #[test]
    fn protections_never_write_and_execute() {
        for p in [
            Prot::KernelRox,
            Prot::KernelRo,
            Prot::KernelRw,
            Prot::Device,
        ] {
            assert!(!is_wx(leaf_desc(3, 0x4000_0000, p)), "{p:?}");
        }
        assert!(is_wx(leaf_desc(2, 0x4000_0000, Prot::KernelRwx)));
        // Kernel mappings are never reachable from EL0.
        for p in [Prot::KernelRox, Prot::KernelRo, Prot::KernelRw] {
            let d = leaf_desc(3, 0, p);
            assert_eq!(d & Pte::USER.bits(), 0);
            assert_ne!(d & Pte::UXN.bits(), 0);
        }
    }

    #[test]
    fn descriptors_carry_address_and_type() {
        let d = leaf_desc(3, 0x4020_1000, Prot::KernelRw);
        assert_eq!(d & PHYS_MASK, 0x4020_1000);
        assert_eq!(d & 3, 3);
        let b = leaf_desc(2, 0x4020_0000, Prot::KernelRw);
        assert_eq!(b & 3, 1);
        assert!(!is_table(b, 2));
        assert!(is_table(table_desc(0x1000), 0));
        assert_eq!((leaf_desc(3, 0, Prot::Device) >> 2) & 7, MT_DEVICE_NGNRE);
    }

    #[test]
    fn mair_matches_linux() {
        assert_eq!(MAIR_EL1_VALUE, 0x04_00_44_00_ff);
    }
}
