//! Physical memory ranges at boot: the RAM the device tree describes, the ranges that are
//! already in use (kernel image, device tree, initrd, firmware reservations), and what is
//! left for the page allocator (Linux `mm/memblock.c`).
//!
//! Ranges are half-open `[base, end)` and kept sorted and merged in fixed-size arrays, so
//! this works before any allocator exists.

/// A half-open physical address range `[base, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub base: u64,
    pub end: u64,
}

impl Range {
    /// The range `[base, base + size)` (saturating at the top of the address space).
    pub const fn new(base: u64, size: u64) -> Self {
        Range {
            base,
            end: base.saturating_add(size),
        }
    }

    /// Bytes in the range.
    pub const fn size(&self) -> u64 {
        self.end - self.base
    }

    /// The range shrunk to whole `align`-sized blocks inside it (empty if none fit).
    pub const fn align_inward(&self, align: u64) -> Range {
        let base = self.base.div_ceil(align) * align;
        let end = self.end / align * align;
        if base >= end {
            Range { base, end: base }
        } else {
            Range { base, end }
        }
    }

    /// The range grown to whole `align`-sized blocks around it.
    pub const fn align_outward(&self, align: u64) -> Range {
        Range {
            base: self.base / align * align,
            end: self.end.div_ceil(align) * align,
        }
    }
}

/// The list is full: the device tree describes more ranges than forkos keeps.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A sorted, merged set of at most `N` ranges (Linux `struct memblock_type`).
#[derive(Clone, Debug)]
pub struct RangeSet<const N: usize> {
    ranges: [Range; N],
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    /// An empty set.
    pub const fn new() -> Self {
        RangeSet {
            ranges: [Range { base: 0, end: 0 }; N],
            len: 0,
        }
    }

    /// The ranges, sorted by address.
    pub fn iter(&self) -> impl Iterator<Item = Range> + '_ {
        self.ranges[..self.len].iter().copied()
    }

    /// Total bytes covered.
    pub fn total(&self) -> u64 {
        self.iter().map(|r| r.size()).sum()
    }

    /// Add `r`, merging it with any range it touches or overlaps (`memblock_add`).
    pub fn add(&mut self, r: Range) -> Result<(), Full> {
        if r.base >= r.end {
            return Ok(());
        }
        let mut merged = r;
        let mut out = [Range { base: 0, end: 0 }; N];
        let mut n = 0;
        let mut placed = false;
        for cur in self.iter() {
            if cur.end < merged.base {
                out[n] = cur;
                n += 1;
            } else if cur.base > merged.end {
                if !placed {
                    if n == N {
                        return Err(Full);
                    }
                    out[n] = merged;
                    n += 1;
                    placed = true;
                }
                if n == N {
                    return Err(Full);
                }
                out[n] = cur;
                n += 1;
            } else {
                merged.base = merged.base.min(cur.base);
                merged.end = merged.end.max(cur.end);
            }
        }
        if !placed {
            if n == N {
                return Err(Full);
            }
            out[n] = merged;
            n += 1;
        }
        self.ranges = out;
        self.len = n;
        Ok(())
    }

    /// Remove `r` from the set, splitting a range it falls inside (`memblock_remove`).
    /// Take `size` bytes from the front of the lowest range, if there is one at least
    /// that large (the page allocator's first touch of fresh memory, in O(1)).
    pub fn take_front(&mut self, size: u64) -> Option<u64> {
        if self.len == 0 || self.ranges[0].end - self.ranges[0].base < size {
            return None;
        }
        let base = self.ranges[0].base;
        self.ranges[0].base += size;
        if self.ranges[0].base == self.ranges[0].end {
            self.ranges.copy_within(1..self.len, 0);
            self.len -= 1;
        }
        Some(base)
    }

    pub fn remove(&mut self, r: Range) -> Result<(), Full> {
        if r.base >= r.end {
            return Ok(());
        }
        let mut out = [Range { base: 0, end: 0 }; N];
        let mut n = 0;
        for cur in self.iter() {
            let pieces = [
                Range {
                    base: cur.base,
                    end: cur.end.min(r.base),
                },
                Range {
                    base: cur.base.max(r.end),
                    end: cur.end,
                },
            ];
            for p in pieces {
                if p.base < p.end {
                    if n == N {
                        return Err(Full);
                    }
                    out[n] = p;
                    n += 1;
                }
            }
        }
        self.ranges = out;
        self.len = n;
        Ok(())
    }

    /// Does any range overlap `r`?
    pub fn overlaps(&self, r: Range) -> bool {
        self.iter().any(|c| c.base < r.end && r.base < c.end)
    }
}

/// RAM and reservations together (Linux `struct memblock`).
#[derive(Clone, Debug, Default)]
pub struct Memblock<const N: usize> {
    pub memory: RangeSet<N>,
    pub reserved: RangeSet<N>,
}

impl<const N: usize> Memblock<N> {
    /// Nothing known yet.
    pub const fn new() -> Self {
        Memblock {
            memory: RangeSet::new(),
            reserved: RangeSet::new(),
        }
    }

    /// The whole pages of RAM that no reservation touches: what the page allocator gets.
    /// Memory is rounded inward and reservations outward to `page`.
    pub fn free_ranges(&self, page: u64) -> Result<RangeSet<N>, Full> {
        let mut free = RangeSet::<N>::new();
        for m in self.memory.iter() {
            free.add(m.align_inward(page))?;
        }
        for r in self.reserved.iter() {
            free.remove(r.align_outward(page))?;
        }
        Ok(free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn list<const N: usize>(s: &RangeSet<N>) -> Vec<(u64, u64)> {
        s.iter().map(|r| (r.base, r.end)).collect()
    }

    #[test]
    fn add_merges_touching_and_overlapping() {
        let mut s = RangeSet::<4>::new();
        s.add(Range::new(0x3000, 0x1000)).unwrap();
        s.add(Range::new(0x1000, 0x1000)).unwrap();
        assert_eq!(list(&s), [(0x1000, 0x2000), (0x3000, 0x4000)]);
        s.add(Range::new(0x2000, 0x1000)).unwrap();
        assert_eq!(list(&s), [(0x1000, 0x4000)]);
        s.add(Range::new(0x800, 0x4000)).unwrap();
        assert_eq!(list(&s), [(0x800, 0x4800)]);
        s.add(Range::new(0x9000, 0)).unwrap();
        assert_eq!(s.total(), 0x4000);
    }

    #[test]
    fn remove_splits() {
        let mut s = RangeSet::<4>::new();
        s.add(Range::new(0x4000_0000, 0x1000_0000)).unwrap();
        s.remove(Range::new(0x4020_0000, 0x10_0000)).unwrap();
        assert_eq!(
            list(&s),
            [(0x4000_0000, 0x4020_0000), (0x4030_0000, 0x5000_0000)]
        );
        s.remove(Range::new(0, 0x4010_0000)).unwrap();
        s.remove(Range::new(0x4ff0_0000, 0x100_0000)).unwrap();
        assert_eq!(
            list(&s),
            [(0x4010_0000, 0x4020_0000), (0x4030_0000, 0x4ff0_0000)]
        );
        assert!(s.overlaps(Range::new(0x401f_f000, 0x2000)));
        assert!(!s.overlaps(Range::new(0x4020_0000, 0x10_0000)));
    }

    #[test]
    fn capacity_is_reported_not_overrun() {
        let mut s = RangeSet::<2>::new();
        s.add(Range::new(0x1000, 0x1000)).unwrap();
        s.add(Range::new(0x5000, 0x1000)).unwrap();
        assert_eq!(s.add(Range::new(0x9000, 0x1000)), Err(Full));
        assert_eq!(list(&s), [(0x1000, 0x2000), (0x5000, 0x6000)]);
        let mut t = RangeSet::<1>::new();
        t.add(Range::new(0, 0x10000)).unwrap();
        assert_eq!(t.remove(Range::new(0x1000, 0x1000)), Err(Full));
    }

    #[test]
    fn free_ranges_are_whole_pages_outside_reservations() {
        let mut mb = Memblock::<8>::new();
        mb.memory.add(Range::new(0x4000_0000, 256 << 20)).unwrap();
        // Kernel image, an unaligned device tree, an initrd.
        mb.reserved.add(Range::new(0x4020_0000, 0x12_3456)).unwrap();
        mb.reserved.add(Range::new(0x4800_0100, 0x10_0000)).unwrap();
        mb.reserved.add(Range::new(0x4400_0000, 0x2000)).unwrap();
        let free = mb.free_ranges(4096).unwrap();
        assert_eq!(
            list(&free),
            [
                (0x4000_0000, 0x4020_0000),
                (0x4032_4000, 0x4400_0000),
                (0x4400_2000, 0x4800_0000),
                (0x4810_1000, 0x5000_0000),
            ]
        );
        let reserved_pages = 0x124 + 2 + 0x101;
        assert_eq!(free.total() / 4096, 65536 - reserved_pages);
    }

    #[test]
    fn alignment_helpers() {
        let r = Range::new(0x1001, 0x2000);
        assert_eq!(r.align_inward(0x1000), Range::new(0x2000, 0x1000));
        assert_eq!(r.align_outward(0x1000), Range::new(0x1000, 0x3000));
        assert_eq!(Range::new(0x1001, 0x10).align_inward(0x1000).size(), 0);
    }

    #[test]
    fn take_front_walks_the_ranges_in_order() {
        let mut s = RangeSet::<4>::new();
        s.add(Range::new(0x1000, 0x2000)).unwrap();
        s.add(Range::new(0x8000, 0x1000)).unwrap();
        assert_eq!(s.take_front(0x1000), Some(0x1000));
        assert_eq!(s.take_front(0x1000), Some(0x2000));
        assert_eq!(s.take_front(0x1000), Some(0x8000));
        assert_eq!(s.take_front(0x1000), None);
        assert_eq!(s.total(), 0);
    }
}
