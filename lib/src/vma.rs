//! The list of mappings of an address space, as pure arithmetic on ranges (the
//! VMA-list half of Linux `mm/mmap.c` and `mm/mprotect.c`).
//!
//! [`VmaList`] keeps [`Vma`]s sorted, non-overlapping, page-aligned and non-empty, and
//! does what `mmap`, `munmap`, `mprotect` and `brk` do to the list: find, insert, split,
//! unmap a range, change protections up to the first hole, grow or shrink the heap, and
//! find a free gap. What a mapping is backed by (anonymous memory, a shared object, a
//! kernel page) is a payload `D` the list only clones and offsets when it splits
//! ([`VmaData`]); the page tables are the caller's, told about every removed range
//! through a callback. The kernel's `mm/mmap.rs` is the caller; the host tests below
//! drive random call sequences against a page-by-page model and check [`VmaList::check`]
//! after every step (Linux's `validate_mm` under `CONFIG_DEBUG_VM`).

use alloc::vec::Vec;
use bitflags::bitflags;

/// Pages are this big.
const PAGE: u64 = crate::pgtable::PAGE_SIZE as u64;

/// Linux's default `vm.max_map_count`: most mappings one address space may have.
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// The gap kept below a stack mapping (Linux `stack_guard_gap`, 256 pages).
pub const STACK_GUARD_GAP: u64 = 256 * PAGE;

bitflags! {
    /// What a mapping allows (Linux `VM_READ`, `VM_WRITE`, `VM_EXEC`, `VM_SHARED`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl VmFlags {
    /// The access bits (Linux `VM_ACCESS_FLAGS`).
    pub const ACCESS: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::EXEC);
}

/// What a mapping is backed by, as far as the list cares.
pub trait VmaData: Clone {
    /// The payload of the part of a mapping that starts `pages` pages into it (Linux
    /// moves `vm_pgoff` the same way in `__split_vma`).
    fn offset(&self, pages: u64) -> Self;
    /// Plain private anonymous memory, which the heap may grow into (Linux
    /// `can_vma_merge_after` for `do_brk_flags`: no file, no special operations).
    fn is_anonymous(&self) -> bool;
}

/// A payload-free mapping, for tests and for callers that only need the ranges.
impl VmaData for () {
    fn offset(&self, _: u64) {}
    fn is_anonymous(&self) -> bool {
        true
    }
}

/// One mapped range of an address space (Linux `struct vm_area_struct`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma<D> {
    pub start: u64,
    pub end: u64,
    pub flags: VmFlags,
    pub data: D,
}

impl<D> Vma<D> {
    pub fn contains(&self, va: u64) -> bool {
        self.start <= va && va < self.end
    }

    /// Where the gap below this mapping begins (Linux `vm_start_gap`).
    pub fn start_gap(&self) -> u64 {
        if self.flags.contains(VmFlags::STACK) {
            self.start.saturating_sub(STACK_GUARD_GAP)
        } else {
            self.start
        }
    }
}

/// Why a change to the list failed; the kernel turns each into Linux's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaError<E> {
    /// Part of the range is not mapped, or splitting would pass the map count (`ENOMEM`).
    NoMem,
    /// The caller's per-mapping check refused (for `mprotect`: `EACCES`).
    Refused(E),
}

/// An invariant of the list that does not hold (what [`VmaList::check`] reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// A mapping's start or end is not page-aligned.
    Unaligned { start: u64, end: u64 },
    /// A mapping is empty.
    Empty { start: u64 },
    /// Two mappings are out of order or overlap.
    Overlap { prev_end: u64, start: u64 },
    /// A mapping reaches past the end of user space.
    TooHigh { end: u64 },
    /// Writable and executable at once, or writable but not readable.
    BadFlags { start: u64, flags: VmFlags },
}

/// The mappings of one address space, sorted (Linux's maple tree `mm->mm_mt`; a sorted
/// vector here).
#[derive(Clone, Debug)]
pub struct VmaList<D> {
    vmas: Vec<Vma<D>>,
    /// The most mappings there may be (Linux `sysctl_max_map_count`).
    pub max_map_count: usize,
}

impl<D> Default for VmaList<D> {
    fn default() -> Self {
        VmaList {
            vmas: Vec::new(),
            max_map_count: DEFAULT_MAX_MAP_COUNT,
        }
    }
}

impl<D> core::ops::Deref for VmaList<D> {
    type Target = [Vma<D>];
    fn deref(&self) -> &[Vma<D>] {
        &self.vmas
    }
}

impl<D: VmaData> VmaList<D> {
    /// An empty list that allows `max_map_count` mappings.
    pub fn new(max_map_count: usize) -> Self {
        VmaList {
            vmas: Vec::new(),
            max_map_count,
        }
    }

    /// Index of the first mapping ending above `addr`.
    fn index_after(&self, addr: u64) -> usize {
        self.vmas.partition_point(|v| v.end <= addr)
    }

    /// The first mapping that ends above `addr` (Linux `find_vma`).
    pub fn find_vma(&self, addr: u64) -> Option<&Vma<D>> {
        self.vmas.get(self.index_after(addr))
    }

    /// The mapping containing `addr` (Linux `vma_lookup`).
    pub fn vma_lookup(&self, addr: u64) -> Option<&Vma<D>> {
        self.find_vma(addr).filter(|v| v.contains(addr))
    }

    /// The first mapping overlapping `[start, end)` (Linux `find_vma_intersection`).
    pub fn find_vma_intersection(&self, start: u64, end: u64) -> Option<&Vma<D>> {
        self.find_vma(start).filter(|v| v.start < end)
    }

    /// Insert a mapping that overlaps none (Linux `insert_vm_struct`); gives it back if
    /// it would overlap or is not a proper range.
    pub fn insert(&mut self, vma: Vma<D>) -> Result<(), Vma<D>> {
        if vma.start >= vma.end
            || !vma.start.is_multiple_of(PAGE)
            || !vma.end.is_multiple_of(PAGE)
            || self.find_vma_intersection(vma.start, vma.end).is_some()
        {
            return Err(vma);
        }
        let i = self.vmas.partition_point(|v| v.start < vma.start);
        self.vmas.insert(i, vma);
        Ok(())
    }

    /// Keep only the mappings `f` accepts (removal keeps the list sorted).
    pub fn retain(&mut self, f: impl FnMut(&Vma<D>) -> bool) {
        self.vmas.retain(f)
    }

    /// Take every mapping out, leaving the list empty (Linux `exit_mmap`'s list walk).
    pub fn take_all(&mut self) -> Vec<Vma<D>> {
        core::mem::take(&mut self.vmas)
    }

    /// Split mapping `i` at `at`, strictly inside it (Linux `__split_vma`); the upper
    /// half becomes mapping `i + 1`.
    fn split(&mut self, i: usize, at: u64) {
        let v = &mut self.vmas[i];
        debug_assert!(v.start < at && at < v.end && at.is_multiple_of(PAGE));
        let mut upper = v.clone();
        upper.data = v.data.offset((at - v.start) / PAGE);
        upper.start = at;
        v.end = at;
        self.vmas.insert(i + 1, upper);
    }

    /// Move the start of mapping `i` to `start`, down (a stack growing: Linux
    /// `expand_downwards` sets `vm_start`) or up (exec trimming the new stack), keeping
    /// the list sorted and non-overlapping; `false`, and nothing changed, if `start` is
    /// not page-aligned, would empty the mapping, or would reach into the one before.
    pub fn move_start(&mut self, i: usize, start: u64) -> bool {
        let Some(v) = self.vmas.get(i) else {
            return false;
        };
        let prev_end = i.checked_sub(1).map_or(0, |p| self.vmas[p].end);
        if !start.is_multiple_of(PAGE) || start >= v.end || start < prev_end {
            return false;
        }
        self.vmas[i].start = start;
        true
    }

    /// Remove `[start, end)` from the list (Linux `do_vmi_munmap` on the list): split
    /// the mappings at the edges, call `zap(vma, from, to)` for each removed part before
    /// it goes, and drop it. `NoMem` if a mapping would be split in two and the list is
    /// full (Linux's `map_count_exceeded`); nothing changed then.
    pub fn munmap(
        &mut self,
        start: u64,
        end: u64,
        mut zap: impl FnMut(&Vma<D>, u64, u64),
    ) -> Result<(), VmaError<()>> {
        let first = self.index_after(start);
        let Some(v) = self.vmas.get(first).filter(|v| v.start < end) else {
            return Ok(());
        };
        if v.start < start && end < v.end && self.vmas.len() >= self.max_map_count {
            return Err(VmaError::NoMem);
        }
        let mut i = first;
        if self.vmas[i].start < start {
            self.split(i, start);
            i += 1;
        }
        let mut j = i;
        while j < self.vmas.len() && self.vmas[j].start < end {
            if self.vmas[j].end > end {
                self.split(j, end);
            }
            let v = &self.vmas[j];
            zap(v, v.start, v.end);
            j += 1;
        }
        self.vmas.drain(i..j);
        Ok(())
    }

    /// Give the mappings in `[start, end)` the flags `newflags` picks for each, in
    /// address order, splitting at the edges, up to the first hole (Linux
    /// `do_mprotect_pkey`'s loop and `mprotect_fixup`). `changed(vma)` is called for each
    /// mapping whose flags changed, to update its pages. Stops at the first hole with
    /// `NoMem` (what came before it stays changed, as in Linux), and at the first
    /// mapping `newflags` refuses with `Refused`.
    pub fn mprotect<E>(
        &mut self,
        start: u64,
        end: u64,
        mut newflags: impl FnMut(&Vma<D>) -> Result<VmFlags, E>,
        mut changed: impl FnMut(&Vma<D>),
    ) -> Result<(), VmaError<E>> {
        let mut nstart = start;
        while nstart < end {
            let mut i = self.index_after(nstart);
            let Some(v) = self.vmas.get(i) else { break };
            if v.start > nstart {
                return Err(VmaError::NoMem);
            }
            let flags = newflags(v).map_err(VmaError::Refused)?;
            let tmp = v.end.min(end);
            if flags != v.flags {
                // Linux `mprotect_fixup`: `split_vma` at each edge inside the mapping,
                // each refused once the list is full.
                if v.start < nstart {
                    if self.vmas.len() >= self.max_map_count {
                        return Err(VmaError::NoMem);
                    }
                    self.split(i, nstart);
                    i += 1;
                }
                if tmp < self.vmas[i].end {
                    if self.vmas.len() >= self.max_map_count {
                        return Err(VmaError::NoMem);
                    }
                    self.split(i, tmp);
                }
                self.vmas[i].flags = flags;
                changed(&self.vmas[i]);
            }
            nstart = tmp;
        }
        if nstart < end {
            return Err(VmaError::NoMem);
        }
        Ok(())
    }

    /// May `[addr, addr + len)` be mapped where the caller hinted, leaving Linux's gaps
    /// to its neighbours? (The hint test of Linux `arch_get_unmapped_area_topdown`.)
    pub fn hint_fits(&self, addr: u64, len: u64, min_addr: u64, mmap_end: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        if end > mmap_end || addr < min_addr {
            return false;
        }
        // The mapping before `addr` ends at or below it by construction (no mapping
        // grows up on arm64, so Linux's `vm_end_gap` is its end).
        self.find_vma(addr).is_none_or(|n| end <= n.start_gap())
    }

    /// The highest free gap of `len` bytes within `[low, high)`, below every mapping's
    /// start gap (Linux `unmapped_area_topdown`).
    pub fn unmapped_area_topdown(&self, len: u64, low: u64, high: u64) -> Option<u64> {
        if len == 0 || high < len {
            return None;
        }
        let mut top = high;
        for v in self.vmas.iter().rev() {
            // The gap between this mapping and the one above (or `high`).
            if v.end <= top && top - v.end >= len {
                return Some(top - len).filter(|&a| a >= low);
            }
            top = top.min(v.start_gap());
            if top < low.saturating_add(len) {
                return None;
            }
        }
        top.checked_sub(len).filter(|&a| a >= low)
    }

    /// `brk` on the list (Linux 6.1 `sys_brk` after its limit checks, with
    /// `do_brk_munmap` and `do_brk_flags`): move the break from `cur_brk` to `brk`. Only
    /// the heap changes: shrinking unmaps `[PAGE_ALIGN(brk), PAGE_ALIGN(cur_brk))`
    /// (calling `zap` as [`munmap`](Self::munmap) does); growing extends the mapping
    /// that ends at the old break (if it is the heap: above `start_brk`, anonymous,
    /// flags `heap_flags`) or adds a new one, and never reaches within a page of the
    /// next mapping (or within the guard gap below a stack). `may_grow(bytes)` is the
    /// caller's memory accounting. Returns the break to store: `brk`, or `cur_brk` when
    /// refused (Linux's `brk` reports failure only that way).
    #[allow(clippy::too_many_arguments)]
    pub fn brk(
        &mut self,
        start_brk: u64,
        cur_brk: u64,
        brk: u64,
        task_size: u64,
        heap_flags: VmFlags,
        data: D,
        may_grow: impl FnOnce(u64) -> bool,
        zap: impl FnMut(&Vma<D>, u64, u64),
    ) -> u64 {
        if brk < start_brk {
            return cur_brk;
        }
        let align = |x: u64| x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1));
        let (Some(newbrk), Some(oldbrk)) = (align(brk), align(cur_brk)) else {
            return cur_brk;
        };
        if oldbrk == newbrk {
            return brk;
        }
        if brk <= cur_brk {
            // Linux: the first mapping in [newbrk, oldbrk] must start below oldbrk.
            match self.find_vma_intersection(newbrk, oldbrk) {
                Some(_) => {}
                None => return cur_brk,
            }
            return match self.munmap(newbrk, oldbrk, zap) {
                Ok(()) => brk,
                Err(_) => cur_brk,
            };
        }
        // `check_brk_limits`: the new part must lie in user space.
        let len = newbrk - oldbrk;
        if newbrk > task_size {
            return cur_brk;
        }
        // The next mapping must stay a page (a stack: its guard gap too) above the break.
        if let Some(next) = self.find_vma(oldbrk) {
            if newbrk + PAGE > next.start_gap() {
                return cur_brk;
            }
        }
        // `do_brk_flags`: extend the heap mapping that ends at the old break, or start one.
        let i = self.index_after(oldbrk);
        let grow = i > 0 && {
            let prev = &self.vmas[i - 1];
            prev.end == oldbrk
                && prev.end > start_brk
                && prev.flags == heap_flags
                && prev.data.is_anonymous()
        };
        // Linux `do_brk_flags` refuses only once the count is passed (`>`), as `do_mmap`.
        if !grow && self.vmas.len() > self.max_map_count {
            return cur_brk;
        }
        if !may_grow(len) {
            return cur_brk;
        }
        if grow {
            self.vmas[i - 1].end = newbrk;
        } else {
            self.vmas.insert(
                i,
                Vma {
                    start: oldbrk,
                    end: newbrk,
                    flags: heap_flags,
                    data,
                },
            );
        }
        brk
    }

    /// Check the list's invariants (Linux `validate_mm`): every mapping page-aligned,
    /// non-empty, below `task_size`, after the one before it, and with sane flags.
    pub fn check(&self, task_size: u64) -> Result<(), Broken> {
        let mut prev_end = 0;
        for v in &self.vmas {
            if !v.start.is_multiple_of(PAGE) || !v.end.is_multiple_of(PAGE) {
                return Err(Broken::Unaligned {
                    start: v.start,
                    end: v.end,
                });
            }
            if v.start >= v.end {
                return Err(Broken::Empty { start: v.start });
            }
            if v.start < prev_end {
                return Err(Broken::Overlap {
                    prev_end,
                    start: v.start,
                });
            }
            if v.end > task_size {
                return Err(Broken::TooHigh { end: v.end });
            }
            let f = v.flags;
            if f.contains(VmFlags::WRITE | VmFlags::EXEC)
                || (f.intersects(VmFlags::WRITE | VmFlags::EXEC) && !f.contains(VmFlags::READ))
            {
                return Err(Broken::BadFlags {
                    start: v.start,
                    flags: f,
                });
            }
            prev_end = v.end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::format;

    /// A payload that records where in an object a mapping starts: `(object, page)`,
    /// object 0 meaning anonymous memory.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Obj(u32, u64);

    impl VmaData for Obj {
        fn offset(&self, pages: u64) -> Self {
            Obj(self.0, self.1 + pages)
        }
        fn is_anonymous(&self) -> bool {
            self.0 == 0
        }
    }

    const BASE: u64 = 0x10_0000;
    const PAGES: u64 = 600;
    const TOP: u64 = BASE + PAGES * PAGE;
    const RW_HEAP: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::HEAP);

    /// The object page `n` pages into a mapping starting at `obj` (anonymous memory has
    /// no object pages to follow).
    fn page_of(obj: Obj, n: u64) -> u64 {
        if obj.0 == 0 {
            0
        } else {
            obj.1 + n
        }
    }

    /// The page-by-page model: each mapped page's flags and object page.
    #[derive(Default)]
    struct Model {
        pages: BTreeMap<u64, (VmFlags, u32, u64)>,
    }

    impl Model {
        fn unmap(&mut self, start: u64, end: u64) {
            let keys: Vec<u64> = self.pages.range(start..end).map(|(k, _)| *k).collect();
            for k in keys {
                self.pages.remove(&k);
            }
        }
        fn map(&mut self, start: u64, end: u64, flags: VmFlags, obj: Obj) {
            for (n, p) in (start..end).step_by(PAGE as usize).enumerate() {
                self.pages.insert(p, (flags, obj.0, page_of(obj, n as u64)));
            }
        }
        fn any_mapped(&self, start: u64, end: u64) -> bool {
            self.pages.range(start..end).next().is_some()
        }
    }

    /// A small seeded generator (xorshift64*), so that a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn addr(&mut self) -> u64 {
            BASE + self.below(PAGES) * PAGE
        }
        fn len(&mut self) -> u64 {
            let most = if self.below(4) == 0 { 64 } else { 6 };
            (1 + self.below(most)) * PAGE
        }
        fn access(&mut self) -> VmFlags {
            [
                VmFlags::empty(),
                VmFlags::READ,
                VmFlags::READ | VmFlags::WRITE,
                VmFlags::READ | VmFlags::EXEC,
            ][self.below(4) as usize]
        }
    }

    /// The list against the model, page for page, and the list's own invariants.
    fn agree(list: &VmaList<Obj>, model: &Model, what: &str) {
        list.check(TOP).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let mut listed = BTreeMap::new();
        for v in list.iter() {
            for (n, p) in (v.start..v.end).step_by(PAGE as usize).enumerate() {
                listed.insert(p, (v.flags, v.data.0, page_of(v.data, n as u64)));
            }
        }
        assert_eq!(listed, model.pages, "{what}: the list and the model differ");
    }

    /// One random call against both the list and the model.
    fn step(r: &mut Rng, list: &mut VmaList<Obj>, m: &mut Model, brk: &mut (u64, u64), id: u32) {
        let (start_brk, cur) = *brk;
        match r.below(6) {
            0 => {
                // mmap(MAP_FIXED): unmap what is there, then map.
                let (a, len) = (r.addr(), r.len());
                let end = (a + len).min(TOP);
                let mut flags = r.access();
                let obj = if r.below(2) == 0 {
                    flags |= VmFlags::SHARED;
                    Obj(id, r.below(100))
                } else {
                    Obj(0, 0)
                };
                list.munmap(a, end, |_, _, _| {}).unwrap();
                m.unmap(a, end);
                let vma = Vma {
                    start: a,
                    end,
                    flags,
                    data: obj,
                };
                list.insert(vma).unwrap();
                m.map(a, end, flags, obj);
            }
            1 => {
                // mmap with a hint: the hint if it fits, else the highest gap.
                let (hint, len) = (r.addr(), r.len());
                let fits = list.hint_fits(hint, len, BASE, TOP);
                let free = hint + len <= TOP && !m.any_mapped(hint, hint + len);
                assert!(!fits || free, "hint {hint:#x}+{len:#x} fits over a mapping");
                let at = if fits {
                    Some(hint)
                } else {
                    list.unmapped_area_topdown(len, BASE, TOP)
                };
                if let Some(a) = at {
                    assert!(a >= BASE && a + len <= TOP && a % PAGE == 0);
                    assert!(!m.any_mapped(a, a + len), "{a:#x}+{len:#x} was not free");
                    let f = VmFlags::READ;
                    list.insert(Vma {
                        start: a,
                        end: a + len,
                        flags: f,
                        data: Obj(0, 0),
                    })
                    .unwrap();
                    m.map(a, a + len, f, Obj(0, 0));
                } else {
                    // No gap: the model must agree there is no free run of len bytes.
                    let mut run = 0;
                    for p in (BASE..TOP).step_by(PAGE as usize) {
                        // A page is taken if mapped or in the guard gap below a stack.
                        let taken = m.pages.contains_key(&p)
                            || m.pages
                                .range(p + 1..=p + STACK_GUARD_GAP)
                                .any(|(_, e)| e.0.contains(VmFlags::STACK));
                        run = if taken { 0 } else { run + PAGE };
                        assert!(run < len, "a gap of {len:#x} below {p:#x} was missed");
                    }
                }
            }
            2 => {
                let (a, len) = (r.addr(), r.len());
                list.munmap(a, a + len, |v, s, e| {
                    assert!(v.start == s && v.end == e && s >= a && e <= a + len)
                })
                .unwrap();
                m.unmap(a, a + len);
            }
            3 => {
                // mprotect: refused (as W+X is) for a mapping that is executable when
                // asked for write; stops at the first hole.
                let (a, len) = (r.addr(), r.len());
                let access = r.access();
                let keep = VmFlags::SHARED | VmFlags::STACK | VmFlags::HEAP;
                let got = list.mprotect(
                    a,
                    a + len,
                    |v| {
                        if v.flags.contains(VmFlags::EXEC) && access.contains(VmFlags::WRITE) {
                            Err("refused")
                        } else {
                            Ok((v.flags & keep) | access)
                        }
                    },
                    |_| {},
                );
                let mut want = Ok(());
                for p in (a..a + len).step_by(PAGE as usize) {
                    let Some(e) = m.pages.get_mut(&p) else {
                        want = Err(VmaError::NoMem);
                        break;
                    };
                    if e.0.contains(VmFlags::EXEC) && access.contains(VmFlags::WRITE) {
                        want = Err(VmaError::Refused("refused"));
                        break;
                    }
                    e.0 = (e.0 & keep) | access;
                }
                assert_eq!(got, want, "mprotect({a:#x}, {len:#x})");
            }
            _ => {
                // brk anywhere near the heap.
                let new = start_brk + r.below(40 * PAGE) - 2 * PAGE + r.below(2) * 100;
                let limit = 16 * PAGE;
                let before: Vec<Vma<Obj>> = list.to_vec();
                let got = list.brk(
                    start_brk,
                    cur,
                    new,
                    TOP,
                    RW_HEAP,
                    Obj(0, 0),
                    |n| n <= limit,
                    |_, _, _| {},
                );
                let align = |x: u64| (x + PAGE - 1) & !(PAGE - 1);
                let (newbrk, oldbrk) = (align(new), align(cur));
                let want = if new < start_brk {
                    cur
                } else if newbrk == oldbrk {
                    new
                } else if new <= cur {
                    if m.any_mapped(newbrk, oldbrk) {
                        m.unmap(newbrk, oldbrk);
                        new
                    } else {
                        cur
                    }
                } else {
                    let stack_near = m
                        .pages
                        .range(oldbrk..newbrk + PAGE + STACK_GUARD_GAP)
                        .any(|(_, e)| e.0.contains(VmFlags::STACK));
                    if newbrk > TOP
                        || m.any_mapped(oldbrk, newbrk + PAGE)
                        || stack_near
                        || newbrk - oldbrk > limit
                    {
                        cur
                    } else {
                        m.map(oldbrk, newbrk, RW_HEAP, Obj(0, 0));
                        new
                    }
                };
                assert_eq!(got, want, "brk({new:#x}) from {cur:#x}");
                if got != cur && new > cur {
                    // Only the heap grew: every other mapping is as it was, and at most
                    // one mapping is new.
                    let after: Vec<&Vma<Obj>> = list.iter().collect();
                    assert!(after.len() <= before.len() + 1);
                    for v in &before {
                        assert!(
                            after.contains(&v) || (v.end == oldbrk && v.flags == RW_HEAP),
                            "brk changed {v:?}"
                        );
                    }
                }
                brk.1 = got;
            }
        }
    }

    #[test]
    fn random_calls_keep_the_list_and_the_model_in_step() {
        for seed in 1..=64u64 {
            let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut list = VmaList::new(100_000);
            let mut m = Model::default();
            // A stack near the top, and the heap's start in the middle.
            let stack = Vma {
                start: TOP - 40 * PAGE,
                end: TOP - 30 * PAGE,
                flags: VmFlags::READ | VmFlags::WRITE | VmFlags::STACK,
                data: Obj(0, 0),
            };
            m.map(stack.start, stack.end, stack.flags, stack.data);
            list.insert(stack).unwrap();
            let start_brk = BASE + 200 * PAGE;
            let mut brk = (start_brk, start_brk);
            for i in 0..400 {
                step(&mut r, &mut list, &mut m, &mut brk, i + 1);
                agree(&list, &m, &format!("seed {seed}, step {i}"));
            }
        }
    }

    fn vma(start: u64, end: u64, flags: VmFlags) -> Vma<Obj> {
        Vma {
            start: BASE + start * PAGE,
            end: BASE + end * PAGE,
            flags,
            data: Obj(0, 0),
        }
    }

    #[test]
    fn move_start_keeps_the_list_sorted() {
        let mut l: VmaList<()> = VmaList::default();
        let rw = VmFlags::READ | VmFlags::WRITE;
        for (start, end) in [(0x1000, 0x3000), (0x10000, 0x20000)] {
            l.insert(Vma {
                start,
                end,
                flags: rw,
                data: (),
            })
            .unwrap();
        }
        assert!(l.move_start(1, 0x8000), "down into the gap");
        assert_eq!(l[1].start, 0x8000);
        assert!(!l.move_start(1, 0x2000), "into the mapping below");
        assert!(!l.move_start(1, 0x8800), "not page-aligned");
        assert!(!l.move_start(1, 0x20000), "empty");
        assert!(l.move_start(1, 0x1f000), "up, shrinking");
        assert!(l.move_start(0, 0), "the first may go down to 0");
        assert_eq!(l.check(1 << 48), Ok(()));
    }

    #[test]
    fn splits_stop_at_the_map_count() {
        let mut list = VmaList::new(2);
        list.insert(vma(0, 10, VmFlags::READ)).unwrap();
        list.insert(vma(20, 30, VmFlags::READ)).unwrap();
        // Cutting a hole in one mapping needs a third: refused, nothing changed.
        let hole = list.munmap(BASE + 2 * PAGE, BASE + 4 * PAGE, |_, _, _| {});
        assert_eq!(hole, Err(VmaError::NoMem));
        assert_eq!(list.len(), 2);
        // Trimming an end needs none.
        list.munmap(BASE + 8 * PAGE, BASE + 12 * PAGE, |_, _, _| {})
            .unwrap();
        assert_eq!(list[0].end, BASE + 8 * PAGE);
        let p = list.mprotect(
            BASE + PAGE,
            BASE + 2 * PAGE,
            |_| Ok::<_, ()>(VmFlags::empty()),
            |_| {},
        );
        assert_eq!(p, Err(VmaError::NoMem));
        assert!(list.insert(vma(5, 25, VmFlags::READ)).is_err(), "overlap");
    }

    #[test]
    fn brk_grows_only_the_heap_and_keeps_a_page_free() {
        let mut list = VmaList::new(100);
        let start = BASE + 10 * PAGE;
        list.insert(vma(20, 21, VmFlags::READ)).unwrap();
        let grow = |l: &mut VmaList<Obj>, cur, new| {
            l.brk(
                start,
                cur,
                new,
                TOP,
                RW_HEAP,
                Obj(0, 0),
                |_| true,
                |_, _, _| {},
            )
        };
        // Up to one page below the next mapping, not into the page just below it.
        assert_eq!(grow(&mut list, start, BASE + 19 * PAGE), BASE + 19 * PAGE);
        assert_eq!(
            grow(&mut list, BASE + 19 * PAGE, BASE + 19 * PAGE + 1),
            BASE + 19 * PAGE
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], vma(10, 19, RW_HEAP));
        // Shrinking with nothing mapped in the range is refused (Linux 6.1's fix for
        // an unmapped heap).
        list.munmap(start, BASE + 19 * PAGE, |_, _, _| {}).unwrap();
        assert_eq!(grow(&mut list, BASE + 19 * PAGE, start), BASE + 19 * PAGE);
    }
}
