//! `mmap`, `munmap` and `brk` for anonymous memory (Linux `mm/mmap.c`).

use alloc::sync::Arc;

use forkos_lib::pgtable::PAGE_SIZE;

use super::memory::{change_protection, zap_page_range};
use super::{Mm, MmInner, ShmObject, VmFlags, Vma, MMAP_BASE, TASK_SIZE};
use crate::errno::*;
use crate::task::current;

pub use forkos_lib::uapi::mman::*;
/// Flags Linux accepts (and forkos treats as hints it may ignore): MAP_GROWSDOWN,
/// MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, MAP_NONBLOCK,
/// MAP_STACK, MAP_HUGETLB, MAP_SYNC, MAP_FIXED_NOREPLACE.
const MAP_HINTS: u64 = 0x0100
    | 0x0800
    | 0x1000
    | 0x2000
    | 0x4000
    | 0x8000
    | 0x10000
    | 0x20000
    | 0x40000
    | 0x80000
    | 0x100000;

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
        zap_page_range(mm, v.start.max(start), v.end.min(end));
    }
    inner.vmas = kept;
}

/// `mmap(addr, len, prot, flags, fd, offset)` for anonymous memory (Linux `do_mmap`).
pub fn sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, _fd: u64, off: u64) -> SysResult {
    if len == 0 {
        return Err(EINVAL);
    }
    let len = page_align_up(len)
        .filter(|&l| l <= TASK_SIZE)
        .ok_or(ENOMEM)?;
    if !off.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    let kind = flags & MAP_SHARED_VALIDATE;
    if kind == 0 {
        return Err(EINVAL);
    }
    if kind == MAP_SHARED_VALIDATE
        && flags & !(MAP_SHARED_VALIDATE | MAP_FIXED | MAP_ANONYMOUS | MAP_HINTS) != 0
    {
        return Err(EOPNOTSUPP);
    }
    if flags & MAP_ANONYMOUS == 0 {
        // File mappings need files; forkos has none open, so the fd is bad.
        return Err(EBADF);
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(EINVAL);
    }
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
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if !addr.is_multiple_of(PAGE) {
            return Err(EINVAL);
        }
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= TASK_SIZE)
            .ok_or(ENOMEM)?;
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
    if !addr.is_multiple_of(PAGE) {
        return Err(EINVAL);
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP) != 0
        || prot & (PROT_GROWSDOWN | PROT_GROWSUP) == (PROT_GROWSDOWN | PROT_GROWSUP)
    {
        return Err(EINVAL);
    }
    refuse_wx(prot)?;
    if len == 0 {
        return Ok(0);
    }
    let end = user_range_end(addr, len, ENOMEM)?;
    let mm = current().inner.lock().mm.clone().ok_or(ENOMEM)?;
    let mut inner = mm.inner.lock();
    split_at_edges(&mut inner, addr, end)?;
    let access = prot_to_flags(prot);
    let keep = VmFlags::SHARED | VmFlags::STACK | VmFlags::HEAP;
    for v in inner
        .vmas
        .iter_mut()
        .filter(|v| v.start >= addr && v.end <= end)
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
