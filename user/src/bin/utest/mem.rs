//! brk and anonymous mmap/munmap.

use crate::util::{child, expect_killed_by, expect_ok, map, Shared, PAGE, RW, T};
use core::sync::atomic::AtomicU64;
use forkos_user::sys::{self, EINVAL, SIGSEGV};

fn read(addr: usize) -> u8 {
    // SAFETY: callers pass addresses they checked are mapped (or run in a child that a
    // fault may kill).
    unsafe { (addr as *const u8).read_volatile() }
}

fn write(addr: usize, v: u8) {
    // SAFETY: as in read.
    unsafe { (addr as *mut u8).write_volatile(v) }
}

static IN_BSS: AtomicU64 = AtomicU64::new(0);

/// brk(0) returns the initial break: page-aligned, above the program's .bss.
pub fn brk_initial() -> T {
    let b = sys::brk(0) as usize;
    check!(b.is_multiple_of(PAGE), "brk(0) = {b:#x}: not page-aligned");
    check!(
        b > IN_BSS.as_ptr() as usize,
        "brk(0) = {b:#x} below .bss ({:p})",
        IN_BSS.as_ptr()
    );
    check_eq!(sys::brk(0) as usize, b, "brk(0) again");
    Ok(())
}

/// Growing the break returns the new (unaligned) break; the memory is zero-filled and
/// usable; shrinking returns the lower break and unmaps whole pages above it.
pub fn brk_grow_and_shrink() -> T {
    let b = sys::brk(0) as usize;
    let want = b + 3 * PAGE + 100;
    check_eq!(sys::brk(want) as usize, want, "brk(+3 pages + 100)");
    check_eq!(sys::brk(0) as usize, want, "brk(0) after growing");
    for a in (b..want).step_by(64) {
        check_eq!(read(a), 0, "new heap byte at {a:#x}");
        write(a, 0x5a);
    }
    check_eq!(read(want - 1), 0, "last new heap byte");
    check_eq!(
        read(b + 3 * PAGE + 200),
        0,
        "byte of the break's last page beyond the break"
    );
    check_eq!(
        sys::brk(b + 10) as usize,
        b + 10,
        "brk(shrink to start + 10)"
    );
    check_eq!(read(b), 0x5a, "byte below the shrunk break");
    expect_killed_by(SIGSEGV, || {
        read(b + PAGE);
    })?;
    check_eq!(sys::brk(b) as usize, b, "brk(back to start)");
    Ok(())
}

/// brk never fails with an errno: a break below the start or far too high leaves it
/// unchanged and returns the current break.
pub fn brk_invalid() -> T {
    let b = sys::brk(0) as usize;
    for addr in [1, 0x1000, b - 2 * PAGE, 1 << 47, usize::MAX - PAGE] {
        check_eq!(sys::brk(addr) as usize, b, "brk({addr:#x})");
    }
    Ok(())
}

/// A child's brk is its own: it grows and uses its heap; the parent's is unchanged.
pub fn brk_private_to_child() -> T {
    let b = sys::brk(0) as usize;
    let pid = child(|| {
        check_eq!(
            sys::brk(b + PAGE) as usize,
            b + PAGE,
            "child's brk(+1 page)"
        );
        write(b, 1);
        Ok(())
    })?;
    expect_ok(pid)?;
    check_eq!(
        sys::brk(0) as usize,
        b,
        "parent's brk(0) after the child grew its own"
    );
    Ok(())
}

/// An anonymous private mmap is page-aligned, zero-filled and usable.
pub fn mmap_anonymous() -> T {
    let n = 5 * PAGE;
    let p = map(n, RW, sys::MAP_PRIVATE)?;
    for a in (p..p + n).step_by(256) {
        check_eq!(read(a), 0, "fresh mapping byte at {a:#x}");
        write(a, 0xa5);
    }
    for a in (p..p + n).step_by(256) {
        check_eq!(read(a), 0xa5, "written mapping byte at {a:#x}");
    }
    check_eq!(sys::munmap(p, n), 0, "munmap");
    Ok(())
}

/// MAP_FIXED places the mapping at the requested address.
pub fn mmap_fixed() -> T {
    let addr = 0x0000_0040_0000_0000;
    let r = sys::mmap(
        addr,
        2 * PAGE,
        RW,
        sys::MAP_PRIVATE | sys::MAP_ANONYMOUS | sys::MAP_FIXED,
        -1,
        0,
    );
    check_eq!(r as usize, addr, "mmap(MAP_FIXED)");
    write(addr + PAGE + 5, 9);
    check_eq!(read(addr + PAGE + 5), 9, "MAP_FIXED memory");
    check_eq!(sys::munmap(addr, 2 * PAGE), 0, "munmap");
    Ok(())
}

/// mmap/munmap errors: length 0, neither MAP_SHARED nor MAP_PRIVATE, a misaligned
/// MAP_FIXED address or offset are EINVAL; so are munmap of length 0 or a misaligned
/// address.
pub fn mmap_errors() -> T {
    let anon = sys::MAP_ANONYMOUS;
    check_eq!(
        sys::mmap(0, 0, RW, sys::MAP_PRIVATE | anon, -1, 0),
        -EINVAL,
        "mmap(len 0)"
    );
    check_eq!(
        sys::mmap(0, PAGE, RW, anon, -1, 0),
        -EINVAL,
        "mmap(neither SHARED nor PRIVATE)"
    );
    let fixed = sys::MAP_PRIVATE | anon | sys::MAP_FIXED;
    check_eq!(
        sys::mmap(0x4000_0010, PAGE, RW, fixed, -1, 0),
        -EINVAL,
        "mmap(MAP_FIXED, misaligned)"
    );
    check_eq!(
        sys::mmap(0, PAGE, RW, sys::MAP_PRIVATE | anon, -1, 100),
        -EINVAL,
        "mmap(offset 100)"
    );
    let p = map(PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(sys::munmap(p, 0), -EINVAL, "munmap(len 0)");
    check_eq!(sys::munmap(p + 8, PAGE), -EINVAL, "munmap(misaligned)");
    check_eq!(sys::munmap(p, PAGE), 0, "munmap");
    check_eq!(sys::munmap(p, PAGE), 0, "munmap of an unmapped range");
    Ok(())
}

/// After munmap, touching the range kills with SIGSEGV; munmap of the middle page of
/// three leaves the others usable.
pub fn munmap_then_fault() -> T {
    let p = map(3 * PAGE, RW, sys::MAP_PRIVATE)?;
    write(p, 1);
    write(p + PAGE, 2);
    write(p + 2 * PAGE, 3);
    check_eq!(sys::munmap(p + PAGE, PAGE), 0, "munmap(middle page)");
    check_eq!(read(p), 1, "first page after unmapping the middle");
    check_eq!(
        read(p + 2 * PAGE),
        3,
        "third page after unmapping the middle"
    );
    expect_killed_by(SIGSEGV, || {
        read(p + PAGE);
    })?;
    check_eq!(sys::munmap(p, 3 * PAGE), 0, "munmap(all)");
    expect_killed_by(SIGSEGV, || write(p, 1))
}

/// A MAP_SHARED|MAP_ANONYMOUS page stays shared with a forked child, both ways.
pub fn mmap_shared_with_child() -> T {
    let s = Shared::new()?;
    s.set(0, 1);
    let pid = child(|| {
        check_eq!(s.get(0), 1, "the parent's write before fork, in the child");
        s.set(1, 2);
        s.wait_for(2);
        check_eq!(s.get(2), 3, "the parent's write after fork, in the child");
        Ok(())
    })?;
    s.wait_for(1);
    check_eq!(s.get(1), 2, "the child's write, in the parent");
    s.set(2, 3);
    expect_ok(pid)?;
    Ok(())
}

/// The top byte of a user pointer is ignored (Linux's arm64 ABI enables TBI for EL0):
/// a tagged pointer reaches the same memory, even on a page not yet faulted in.
pub fn tagged_pointer_access() -> T {
    let addr = map(2 * PAGE, RW, sys::MAP_PRIVATE)?;
    let tagged = (addr + PAGE) | (0x5a << 56);
    // SAFETY: the page is mapped read-write; the tag is ignored by the MMU.
    unsafe { core::ptr::write_volatile(tagged as *mut u64, 0x1234) };
    // SAFETY: the same page, untagged.
    let v = unsafe { core::ptr::read_volatile((addr + PAGE) as *const u64) };
    check_eq!(v, 0x1234, "value written through the tagged pointer");
    sys::munmap(addr, 2 * PAGE);
    Ok(())
}

/// No memory is writable and executable at once: forkos refuses PROT_WRITE|PROT_EXEC
/// with EACCES, in mmap and in mprotect (Linux allows it unless a security module
/// forbids it, with the same EACCES).
pub fn no_writable_executable_memory() -> T {
    let rwx = sys::PROT_READ | sys::PROT_WRITE | sys::PROT_EXEC;
    let r = sys::mmap(0, PAGE, rwx, sys::MAP_PRIVATE | sys::MAP_ANONYMOUS, -1, 0);
    let p = map(PAGE, RW, sys::MAP_PRIVATE)?;
    // SAFETY: p is a fresh RW page; mprotect only reads its arguments.
    let m = unsafe { sys::syscall6(sys::nr::MPROTECT, p, PAGE, rwx, 0, 0, 0) };
    if crate::util::on_forkos() {
        check_eq!(r, -sys::EACCES, "mmap(PROT_WRITE|PROT_EXEC)");
        check_eq!(m, -sys::EACCES, "mprotect(PROT_WRITE|PROT_EXEC)");
    } else {
        check!(r > 0, "mmap(RWX) on Linux: {r}");
        check_eq!(m, 0, "mprotect(RWX) on Linux");
    }
    let rx = sys::PROT_READ | sys::PROT_EXEC;
    // SAFETY: as above.
    let m = unsafe { sys::syscall6(sys::nr::MPROTECT, p, PAGE, rx, 0, 0, 0) };
    check_eq!(m, 0, "mprotect(PROT_READ|PROT_EXEC)");
    sys::munmap(p, PAGE);
    Ok(())
}
