//! `mmap`, `munmap`, `mprotect`, `madvise` and `brk` for anonymous memory (Linux
//! `mm/mmap.c`, `mm/mprotect.c`, `mm/madvise.c`).
//!
//! What these calls do to the list of mappings is [`forkos_lib::vma`]'s (pure, and
//! property-tested on the host); this file checks the arguments in Linux's order,
//! updates the page tables for what the list changed, and checks the result
//! ([`super::debug_vm::validate_mm`]). forkos has no `mremap`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Range;

use forkos_lib::pgtable::PAGE_SIZE;
use forkos_lib::vma::{VmaError, STACK_GUARD_GAP};

use super::debug_vm::validate_mm;
use super::memory::{change_protection, unmap_region, zap_page_range};
use super::{MmInner, MmLock, ShmObject, VmFlags, Vma, VmaBacking, MMAP_BASE, TASK_SIZE};
use crate::errno::*;
use crate::resource::{RLIMIT_DATA, RLIMIT_STACK};
use crate::task::current;

pub use forkos_lib::uapi::mman::*;

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
    | MAP_HUGETLB;
// Other flags (MAP_DENYWRITE, MAP_EXECUTABLE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE,
// MAP_NONBLOCK, MAP_STACK, MAP_SYNC) are hints forkos may ignore: memory is always
// faulted in page by page, never locked. MAP_HUGETLB fails as on a Linux with no huge
// pages reserved.

/// The huge page sizes arm64 Linux knows with 4 KiB pages (contiguous PTEs, PMD,
/// contiguous PMDs, PUD), as log2.
const HUGE_PAGE_SHIFTS: [u64; 4] = [16, 21, 25, 30];

/// The lowest address `mmap` hands out or takes as a hint (Linux `mmap_min_addr`:
/// Debian's `CONFIG_LSM_MMAP_MIN_ADDR`, 32 KiB, which wins over the 4 KiB default).
pub const MMAP_MIN_ADDR: u64 = 0x8000;

const PAGE: u64 = PAGE_SIZE as u64;
/// Most mappings one address space may have (Linux's default `vm.max_map_count`).
pub const MAX_MAP_COUNT: usize = forkos_lib::vma::DEFAULT_MAX_MAP_COUNT;

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

/// Where a new mapping of `len` bytes goes (Linux `round_hint_to_min` and
/// `arch_get_unmapped_area_topdown`): at the hint, page-aligned down and raised to
/// [`MMAP_MIN_ADDR`], if it is free with Linux's gaps to its neighbours; else in the
/// highest free gap below `MMAP_BASE`.
fn get_unmapped_area(inner: &MmInner, hint: u64, len: u64) -> Option<u64> {
    let hint = match hint & !(PAGE - 1) {
        0 => 0,
        h => h.max(MMAP_MIN_ADDR),
    };
    if hint != 0 && inner.vmas.hint_fits(hint, len, MMAP_MIN_ADDR, TASK_SIZE) {
        return Some(hint);
    }
    inner
        .vmas
        .unmapped_area_topdown(len, MMAP_MIN_ADDR.max(PAGE), MMAP_BASE)
}

/// Remove `[start, end)` from the address space: split mappings at the edges, unmap the
/// pages (Linux `do_vmi_munmap`). `ENOMEM` if a mapping would be split in two and the
/// address space has its most mappings already.
pub fn unmap_range(mm: &mut MmLock<'_>, start: u64, end: u64) -> Result<(), Errno> {
    let mut removed = Vec::new();
    mm.vmas
        .munmap(start, end, |_, from, to| removed.push(from..to))
        .map_err(|_| ENOMEM)?;
    unmap_removed(mm, &removed);
    Ok(())
}

/// The list let go of the mappings `removed` (in address order): unmap their pages,
/// then free the page tables no other mapping needs (Linux `unmap_region`, with the end
/// of the mapping before them as the floor and the start of the one after as the
/// ceiling, so that tables shared with those stay).
fn unmap_removed(mm: &MmLock<'_>, removed: &[Range<u64>]) {
    let Some(first) = removed.first() else {
        return;
    };
    let i = mm.vmas.partition_point(|v| v.end <= first.start);
    let floor = i.checked_sub(1).map_or(0, |p| mm.vmas[p].end);
    let ceiling = mm.vmas.get(i).map_or(0, |v| v.start);
    unmap_region(mm.mm(), removed, floor, ceiling);
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
    if file && flags & MAP_HUGETLB != 0 {
        return Err(EINVAL); // the console is not a hugetlbfs file
    }
    if !file && flags & MAP_HUGETLB != 0 {
        // Linux `ksys_mmap_pgoff`: the size must be one the kernel has (`hstate_sizelog`);
        // then reserving huge pages fails, as none are reserved (`hugetlb_reserve_pages`).
        let shift = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
        if shift != 0 && !HUGE_PAGE_SHIFTS.contains(&shift) {
            return Err(EINVAL);
        }
        return Err(ENOMEM);
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
        let mm = current().get_task_mm().ok_or(ENOMEM)?;
        if mm.lock().overlaps(addr, addr + len) {
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
    // Writable private and all shared mappings are accounted against memory, unless
    // MAP_NORESERVE asks not to (Linux `VM_NORESERVE`, honoured under the default
    // overcommit policy: `accountable_mapping`).
    const MAP_NORESERVE: u64 = 0x4000;
    if (prot & PROT_WRITE != 0 || kind & MAP_SHARED != 0)
        && flags & MAP_NORESERVE == 0
        && !vm_enough_memory(len)
    {
        return Err(ENOMEM);
    }
    let mm = current().get_task_mm().ok_or(ENOMEM)?;
    let mut mm = mm.lock();
    // As the faults since the last call left it, then as this call leaves it.
    validate_mm(&mm);
    // Linux `do_mmap`: refused only once the count is passed.
    if mm.vmas.len() > MAX_MAP_COUNT {
        return Err(ENOMEM);
    }
    let start = if fixed {
        let end = addr + len;
        if flags & MAP_FIXED_NOREPLACE != 0 && mm.overlaps(addr, end) {
            return Err(EEXIST);
        }
        unmap_range(&mut mm, addr, end)?;
        addr
    } else {
        get_unmapped_area(&mm, addr, len).ok_or(ENOMEM)?
    };
    let mut vflags = prot_to_flags(prot);
    let data = if kind & MAP_SHARED != 0 && kind != MAP_PRIVATE {
        vflags |= VmFlags::SHARED;
        VmaBacking::Shm {
            obj: Arc::new(ShmObject::default()),
            pgoff: 0,
        }
    } else {
        VmaBacking::Anon
    };
    mm.insert_vma(Vma {
        start,
        end: start + len,
        flags: vflags,
        data,
    })?;
    validate_mm(&mm);
    Ok(start as i64)
}

/// `munmap(addr, len)` (Linux `__vm_munmap`).
pub fn sys_munmap(addr: u64, len: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(EINVAL);
    }
    let end = user_range_end(addr, len, EINVAL)?;
    let mm = current().get_task_mm().ok_or(EINVAL)?;
    let mut mm = mm.lock();
    validate_mm(&mm);
    unmap_range(&mut mm, addr, end)?;
    validate_mm(&mm);
    Ok(0)
}

/// `brk(addr)`: move the end of the heap (Linux 6.1 `sys_brk`, `do_brk_munmap`,
/// `do_brk_flags`). Only the heap grows or shrinks: growing never reaches within a page
/// of the next mapping, shrinking unmaps `[PAGE_ALIGN(addr), PAGE_ALIGN(brk))`. Returns
/// the new break, or the old one when the request is refused (a break below the heap's
/// start, over `RLIMIT_DATA`, into another mapping, or beyond memory): Linux's `brk`
/// never returns an error.
pub fn sys_brk(addr: u64) -> SysResult {
    let task = &current();
    let mm = task.get_task_mm().ok_or(ENOMEM)?;
    let data_limit = task.signal.inner.lock().rlim[RLIMIT_DATA].cur;
    let mut mm = mm.lock();
    validate_mm(&mm);
    let (start_brk, old) = (mm.start_brk, mm.brk);
    // Linux `check_data_rlimit` (forkos counts the heap only, not the data segment).
    if addr.saturating_sub(start_brk) > data_limit {
        return Ok(old as i64);
    }
    let heap = VmFlags::READ | VmFlags::WRITE | VmFlags::HEAP;
    let mut removed = Vec::new();
    let new = mm.vmas.brk(
        start_brk,
        old,
        addr,
        TASK_SIZE,
        heap,
        VmaBacking::Anon,
        vm_enough_memory,
        |_, from, to| removed.push(from..to),
    );
    unmap_removed(&mm, &removed);
    mm.brk = new;
    validate_mm(&mm);
    Ok(new as i64)
}

/// `mprotect(addr, len, prot)` (Linux `do_mprotect_pkey`): change the access of every
/// mapping in the range, splitting them at its edges, and of the pages already mapped
/// (Linux `change_protection`). A hole in the range stops it with `ENOMEM`, after the
/// mappings before the hole changed, as in Linux.
pub fn sys_mprotect(addr: u64, len: u64, prot: u64) -> SysResult {
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
    // PROT_SEM is accepted and meaningless on arm64 (Linux's `arch_validate_prot`).
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
        return Err(EINVAL);
    }
    let mm = current().get_task_mm().ok_or(ENOMEM)?;
    let mut mm = mm.lock();
    validate_mm(&mm);
    let first = mm.vmas.find_vma(start).ok_or(ENOMEM)?;
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
    // Linux asks the security module for each mapping in turn; forkos's refusal is
    // the same for all of them, so it comes at the first.
    let access = prot_to_flags(prot);
    let keep = VmFlags::SHARED | VmFlags::STACK | VmFlags::HEAP;
    let space = mm.mm();
    let result = mm.vmas.mprotect(
        start,
        end,
        |v| refuse_wx(prot).map(|()| (v.flags & keep) | access),
        |v| change_protection(space, v),
    );
    validate_mm(&mm);
    match result {
        Ok(()) => Ok(0),
        Err(VmaError::NoMem) => Err(ENOMEM),
        Err(VmaError::Refused(e)) => Err(e),
    }
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
    let mm = current().get_task_mm().ok_or(ENOMEM)?;
    let mm = mm.lock();
    validate_mm(&mm);
    let mut covered = addr;
    let mut hole = false;
    for v in mm.vmas.iter().filter(|v| v.end > addr && v.start < end) {
        hole |= v.start > covered;
        covered = v.end;
        if advice == MADV_DONTNEED {
            zap_page_range(mm.mm(), v.start.max(addr), v.end.min(end));
        }
    }
    validate_mm(&mm);
    if hole || covered < end {
        return Err(ENOMEM);
    }
    Ok(0)
}

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
        if !prev.flags.contains(VmFlags::STACK)
            && prev.flags.intersects(VmFlags::ACCESS)
            && address - prev.end < STACK_GUARD_GAP
        {
            return Err(ENOMEM);
        }
    }
    let limit = current().signal.inner.lock().rlim[RLIMIT_STACK].cur;
    if inner.vmas[i].end - address > limit {
        return Err(ENOMEM);
    }
    if !inner.vmas.move_start(i, address) {
        return Err(ENOMEM);
    }
    Ok(())
}
