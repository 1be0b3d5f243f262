//! `mmap`, `munmap` and `brk` for anonymous memory (Linux `mm/mmap.c`).

use alloc::sync::Arc;

use forkos_lib::pgtable::PAGE_SIZE;

use super::memory::{change_protection, unmap_region, zap_page_range};
use super::{Mm, MmInner, ShmObject, VmFlags, Vma, MMAP_BASE, MMAP_MIN_ADDR, TASK_SIZE};
use crate::errno::*;
use crate::task::current;

pub use forkos_lib::uapi::mman::*;

/// `MAP_GROWSDOWN`.
const MAP_GROWSDOWN: u64 = 0x0100;
/// The bits that say what kind of mapping it is (Linux `MAP_TYPE`).
const MAP_TYPE: u64 = 0x0f;
/// The flags every kernel has known (Linux `LEGACY_MAP_MASK`); `MAP_SHARED_VALIDATE`
/// refuses others for files.
const LEGACY_MAP_MASK: u64 = 0x3 // MAP_SHARED | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | 0x0800 // MAP_DENYWRITE
    | 0x1000 // MAP_EXECUTABLE
    | 0x4000000 // MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | 0x2000 // MAP_LOCKED
    | 0x4000 // MAP_NORESERVE
    | 0x8000 // MAP_POPULATE
    | 0x10000 // MAP_NONBLOCK
    | 0x20000 // MAP_STACK
    | 0x40000; // MAP_HUGETLB
               // Other flags (MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE,
               // MAP_NONBLOCK, MAP_STACK, MAP_HUGETLB, MAP_SYNC) are hints forkos may ignore: memory is
               // always faulted in page by page, never locked, never huge.

const PAGE: u64 = PAGE_SIZE as u64;
/// Most mappings one address space may have (Linux's default `vm.max_map_count`).
pub const MAX_MAP_COUNT: usize = 65530;

fn page_align_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// The end of `[addr, addr + len)` with `len` rounded up to whole pages, if that range
/// lies in user space; `err` (which Linux's callers differ on) otherwise.
fn user_range_end(addr: u64, len: u64, err: Errno) -> Result<u64, Errno> {
    page_align_up(len)
        .and_then(|len| addr.checked_add(len))
        .filter(|&e| e <= TASK_SIZE)
        .ok_or(err)
}

/// May a new mapping of `len` bytes be committed? Linux's default overcommit heuristic
/// (`OVERCOMMIT_GUESS` in `__vm_enough_memory`) refuses a single request larger than all
/// of RAM (forkos has no swap).
fn vm_enough_memory(len: u64) -> bool {
    len / PAGE <= super::page_alloc::nr_managed_pages() as u64
}

/// No user memory is writable and executable at once: code cannot be written and data
/// cannot be run. Linux allows `PROT_WRITE|PROT_EXEC` unless a security module forbids
/// it (SELinux's `execmem`), and then fails with `EACCES`, as forkos always does.
fn refuse_wx(prot: u64) -> Result<(), Errno> {
    if prot & (PROT_WRITE | PROT_EXEC) == (PROT_WRITE | PROT_EXEC) {
        return Err(EACCES);
    }
    Ok(())
}

/// `PROT_*` bits as mapping flags (Linux `calc_vm_prot_bits`).
pub fn prot_to_flags(prot: u64) -> VmFlags {
    let mut f = VmFlags::empty();
    if prot & PROT_READ != 0 {
        f |= VmFlags::READ;
    }
    if prot & PROT_WRITE != 0 {
        f |= VmFlags::WRITE | VmFlags::READ; // arm64 cannot map write-only
    }
    if prot & PROT_EXEC != 0 {
        f |= VmFlags::EXEC | VmFlags::READ;
    }
    f
}

/// The highest free gap of `len` bytes below `MMAP_BASE` (Linux
/// `arch_get_unmapped_area_topdown`).
fn get_unmapped_area(inner: &MmInner, len: u64) -> Option<u64> {
    let mut top = MMAP_BASE;
    for v in inner.vmas.iter().rev() {
        if v.start >= top {
            continue;
        }
        if v.end <= top && top - v.end >= len {
            return Some(top - len);
        }
        top = top.min(v.start);
    }
    top.checked_sub(len).filter(|&a| a >= PAGE * 16)
}

/// Remove `[start, end)` from the address space: split mappings at the edges, unmap the
/// pages (Linux `do_vmi_munmap`).
pub fn unmap_range(mm: &Mm, inner: &mut MmInner, start: u64, end: u64) {
    let mut kept = alloc::vec::Vec::with_capacity(inner.vmas.len() + 1);
    let mut removed = alloc::vec::Vec::new();
    for v in core::mem::take(&mut inner.vmas) {
        if v.end <= start || v.start >= end {
            kept.push(v);
            continue;
        }
        if v.start < start {
            let mut left = v.clone();
            left.end = start;
            kept.push(left);
        }
        if v.end > end {
            let mut right = v.clone();
            if let Some((obj, pgoff)) = &v.shared {
                right.shared = Some((obj.clone(), pgoff + (end - v.start) / PAGE));
            }
            right.start = end;
            kept.push(right);
        }
        let mut gone = v;
        if let Some((obj, pgoff)) = &gone.shared {
            gone.shared = Some((
                obj.clone(),
                pgoff + (start.max(gone.start) - gone.start) / PAGE,
            ));
        }
        gone.start = gone.start.max(start);
        gone.end = gone.end.min(end);
        removed.push(gone);
    }
    inner.vmas = kept;
    if removed.is_empty() {
        return;
    }
    // The neighbours' page tables stay (Linux `unmap_region` with `prev->vm_end` and
    // `next->vm_start`).
    let i = inner.vmas.partition_point(|v| v.end <= start);
    let floor = if i > 0 { inner.vmas[i - 1].end } else { 0 };
    let ceiling = inner.vmas.get(i).map_or(0, |v| v.start);
    unmap_region(mm, &removed, floor, ceiling);
}

/// `mmap(addr, len, prot, flags, fd, offset)` for anonymous memory (Linux `do_mmap`).
pub fn sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: u64, off: u64) -> SysResult {
    // The checks in Linux 6.1's order: arm64 `sys_mmap`, `ksys_mmap_pgoff`,
    // `vm_mmap_pgoff`, then `do_mmap`.
    if !off.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    // A file mapping needs an open file: the only ones are the console, fds 0-2.
    let file = flags & MAP_ANONYMOUS == 0;
    if file && ((fd as i32) < 0 || fd > 2) {
        return Err(EBADF);
    }
    if len == 0 {
        return Err(EINVAL);
    }
    let len = page_align_up(len).ok_or(ENOMEM)?;
    if (off / PAGE).checked_add(len / PAGE).is_none() {
        return Err(EOVERFLOW);
    }
    if len > TASK_SIZE {
        return Err(ENOMEM);
    }
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed && !addr.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    if fixed && addr.checked_add(len).is_none_or(|e| e > TASK_SIZE) {
        return Err(ENOMEM);
    }
    if flags & MAP_FIXED_NOREPLACE != 0 {
        let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
        if mm.inner.lock().overlaps(addr, addr + len) {
            return Err(EEXIST);
        }
    }
    let kind = flags & MAP_TYPE;
    if file {
        // The console cannot be mapped (it has no `mmap` file operation).
        return match kind {
            MAP_SHARED_VALIDATE if flags & !LEGACY_MAP_MASK != 0 => Err(EOPNOTSUPP),
            MAP_SHARED | MAP_SHARED_VALIDATE | MAP_PRIVATE => Err(ENODEV),
            _ => Err(EINVAL),
        };
    }
    // Anonymous memory is shared or private; MAP_SHARED_VALIDATE is for files.
    match kind {
        MAP_SHARED if flags & MAP_GROWSDOWN != 0 => return Err(EINVAL),
        MAP_SHARED | MAP_PRIVATE => {}
        _ => return Err(EINVAL),
    }
    // Last, so that every error Linux gives comes first.
    refuse_wx(prot)?;
    // Writable private and all shared mappings are accounted against memory.
    if (prot & PROT_WRITE != 0 || kind & MAP_SHARED != 0) && !vm_enough_memory(len) {
        return Err(ENOMEM);
    }
    let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
    let mut inner = mm.inner.lock();
    if inner.vmas.len() >= MAX_MAP_COUNT {
        return Err(ENOMEM);
    }
    let start = if fixed {
        let end = addr + len;
        if flags & MAP_FIXED_NOREPLACE != 0 && inner.overlaps(addr, end) {
            return Err(EEXIST);
        }
        unmap_range(&mm, &mut inner, addr, end);
        addr
    } else {
        let hint = addr & !(PAGE - 1);
        let hint_ok = hint >= PAGE * 16
            && hint
                .checked_add(len)
                .is_some_and(|e| e <= MMAP_BASE && !inner.overlaps(hint, e));
        if hint_ok {
            hint
        } else {
            get_unmapped_area(&inner, len).ok_or(ENOMEM)?
        }
    };
    let mut vflags = prot_to_flags(prot);
    let shared = if kind & MAP_SHARED != 0 && kind != MAP_PRIVATE {
        vflags |= VmFlags::SHARED;
        Some((Arc::new(ShmObject::default()), 0))
    } else {
        None
    };
    inner.insert_vma(Vma {
        start,
        end: start + len,
        flags: vflags,
        shared,
    });
    Ok(start as i64)
}

/// `munmap(addr, len)` (Linux `__vm_munmap`).
pub fn sys_munmap(addr: u64, len: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(EINVAL);
    }
    let end = user_range_end(addr, len, EINVAL)?;
    let mm = current().inner.lock().mm.clone().ok_or(EINVAL)?;
    let mut inner = mm.inner.lock();
    // Unmapping the middle of a mapping splits it in two.
    if inner.vmas.len() >= MAX_MAP_COUNT {
        return Err(ENOMEM);
    }
    unmap_range(&mm, &mut inner, addr, end);
    Ok(0)
}

/// `brk(addr)`: move the end of the heap; returns the new break, or the old one when the
/// request is refused (Linux never returns an error here).
pub fn sys_brk(addr: u64) -> SysResult {
    let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
    let mut inner = mm.inner.lock();
    let old = inner.brk;
    if addr < inner.start_brk {
        return Ok(old as i64);
    }
    let (Some(new_end), Some(old_end)) = (page_align_up(addr), page_align_up(old)) else {
        return Ok(old as i64);
    };
    if new_end > old_end {
        if new_end > MMAP_BASE
            || inner.overlaps(old_end, new_end)
            || !vm_enough_memory(new_end - old_end)
        {
            return Ok(old as i64);
        }
        let start_brk = inner.start_brk;
        let i = inner
            .vmas
            .iter()
            .position(|v| v.flags.contains(VmFlags::HEAP));
        match i {
            Some(i) => inner.vmas[i].end = new_end,
            None => inner.insert_vma(Vma {
                start: start_brk,
                end: new_end,
                flags: VmFlags::READ | VmFlags::WRITE | VmFlags::HEAP,
                shared: None,
            }),
        }
    } else if new_end < old_end {
        // Splits the heap mapping at new_end and unmaps the rest.
        unmap_range(&mm, &mut inner, new_end, old_end);
    }
    inner.brk = addr;
    Ok(addr as i64)
}

/// Split the mappings so that none straddles `start` or `end`, and check that
/// `[start, end)` is mapped without holes (Linux `split_vma` over the range, as
/// `mprotect` and `madvise` need). `ENOMEM` if part of the range is unmapped.
fn split_at_edges(inner: &mut MmInner, start: u64, end: u64) -> Result<(), Errno> {
    let mut covered = start;
    for v in inner.vmas.iter().filter(|v| v.end > start && v.start < end) {
        if v.start > covered {
            return Err(ENOMEM);
        }
        covered = v.end;
    }
    if covered < end {
        return Err(ENOMEM);
    }
    if inner.vmas.len() + 2 > MAX_MAP_COUNT {
        return Err(ENOMEM);
    }
    for at in [start, end] {
        let i = inner.vmas.partition_point(|v| v.end <= at);
        let Some(v) = inner.vmas.get(i) else { continue };
        if v.start < at && at < v.end {
            let mut right = v.clone();
            if let Some((obj, pgoff)) = &v.shared {
                right.shared = Some((obj.clone(), pgoff + (at - v.start) / PAGE));
            }
            right.start = at;
            inner.vmas[i].end = at;
            inner.vmas.insert(i + 1, right);
        }
    }
    Ok(())
}

/// `mprotect(addr, len, prot)` (Linux `do_mprotect_pkey`): change the access of every
/// mapping in the range, splitting them at its edges, and of the pages already mapped
/// (Linux `change_protection`).
pub fn sys_mprotect(addr: u64, len: u64, prot: u64) -> SysResult {
    const PROT_GROWSDOWN: u64 = 0x0100_0000;
    const PROT_GROWSUP: u64 = 0x0200_0000;
    /// Accepted and meaningless on arm64 (Linux's `arch_validate_prot`).
    const PROT_SEM: u64 = 0x8;
    // In Linux 6.1's order (`do_mprotect_pkey`).
    let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    let prot = prot & !grows;
    if grows == PROT_GROWSDOWN | PROT_GROWSUP || !addr.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let mut start = addr;
    let end = page_align_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(ENOMEM)?;
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
        return Err(EINVAL);
    }
    let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
    let mut inner = mm.inner.lock();
    let first = inner.vmas.iter().find(|v| v.end > start).ok_or(ENOMEM)?;
    if grows == PROT_GROWSDOWN {
        // From the start of a stack mapping (Linux `VM_GROWSDOWN`).
        if first.start >= end {
            return Err(ENOMEM);
        }
        if !first.flags.contains(VmFlags::STACK) {
            return Err(EINVAL);
        }
        start = first.start;
    } else if first.start > start {
        return Err(ENOMEM);
    } else if grows == PROT_GROWSUP {
        return Err(EINVAL); // no mapping grows up on arm64
    }
    split_at_edges(&mut inner, start, end)?;
    refuse_wx(prot)?;
    let access = prot_to_flags(prot);
    let keep = VmFlags::SHARED | VmFlags::STACK | VmFlags::HEAP;
    for v in inner
        .vmas
        .iter_mut()
        .filter(|v| v.start >= start && v.end <= end)
    {
        v.flags = (v.flags & keep) | access;
        change_protection(&mm, v);
    }
    Ok(0)
}

/// `madvise(addr, len, advice)` (Linux `do_madvise`). `MADV_DONTNEED` drops the pages
/// (private memory reads back as zeroes, shared memory keeps its contents); the
/// advice that only tunes paging is accepted and has nothing to tune here.
pub fn sys_madvise(addr: u64, len: u64, advice: u64) -> SysResult {
    // NORMAL, RANDOM, SEQUENTIAL, WILLNEED, FREE, MERGEABLE, UNMERGEABLE, HUGEPAGE,
    // NOHUGEPAGE, DONTDUMP, DODUMP, COLD, PAGEOUT.
    const HINTS: &[u64] = &[0, 1, 2, 3, 8, 12, 13, 14, 15, 16, 17, 20, 21];
    if !addr.is_multiple_of(PAGE) || (advice != MADV_DONTNEED && !HINTS.contains(&advice)) {
        return Err(EINVAL);
    }
    let len = page_align_up(len).ok_or(EINVAL)?;
    let end = addr.checked_add(len).ok_or(EINVAL)?;
    if len == 0 {
        return Ok(0);
    }
    let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
    let inner = mm.inner.lock();
    let mut covered = addr;
    let mut hole = false;
    for v in inner.vmas.iter().filter(|v| v.end > addr && v.start < end) {
        hole |= v.start > covered;
        covered = v.end;
        if advice == MADV_DONTNEED {
            zap_page_range(&mm, v.start.max(addr), v.end.min(end));
        }
    }
    if hole || covered < end {
        return Err(ENOMEM);
    }
    Ok(0)
}

/// The gap kept free below a stack that grows down, so that it never grows into the
/// mapping beneath it (Linux `stack_guard_gap`: 256 pages).
pub const STACK_GUARD_GAP: u64 = 256 * PAGE;

/// The mapping containing `addr`, after growing a stack down to it when `addr` lies
/// below a stack mapping (Linux `find_extend_vma`; arm64's `__do_page_fault` does the
/// same for faults). `None` if no mapping holds `addr` and no stack may grow to it.
pub fn find_extend_vma(inner: &mut MmInner, addr: u64) -> Option<&Vma> {
    let i = inner.vmas.partition_point(|v| v.end <= addr);
    let vma = inner.vmas.get(i)?;
    if vma.start > addr {
        if !vma.flags.contains(VmFlags::STACK) {
            return None;
        }
        expand_downwards(inner, i, addr).ok()?;
    }
    inner.vmas.get(i)
}

/// Grow the stack mapping `inner.vmas[i]` down to the page of `address` (Linux
/// `expand_downwards` and `acct_stack_growth`): never below `mmap_min_addr`, never into
/// the guard gap above an accessible mapping beneath it, never beyond `RLIMIT_STACK`.
fn expand_downwards(inner: &mut MmInner, i: usize, address: u64) -> Result<(), Errno> {
    let address = address & !(PAGE - 1);
    if address < MMAP_MIN_ADDR {
        return Err(EPERM);
    }
    // The mapping below ends at or below `address` (it would hold `address` otherwise).
    if let Some(prev) = i.checked_sub(1).map(|p| &inner.vmas[p]) {
        let accessible = prev
            .flags
            .intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC);
        if !prev.flags.contains(VmFlags::STACK)
            && accessible
            && address - prev.end < STACK_GUARD_GAP
        {
            return Err(ENOMEM);
        }
    }
    let limit = current().signal.inner.lock().rlim[crate::syscall::RLIMIT_STACK].cur;
    let vma = &mut inner.vmas[i];
    if vma.end - address > limit {
        return Err(ENOMEM);
    }
    vma.start = address;
    Ok(())
}
