//! Copy-on-write fork: after fork, parent and child share every page until one of them
//! writes it; each then sees only its own writes, and the free memory shows that fork
//! itself copied nothing.

use crate::util::{child, expect_ok, Shared, PAGE, T};
use core::cell::UnsafeCell;
use forkos_user::sys;

/// 8 MiB of `.bss`: 2048 pages, zero until a test dirties them.
const BIG_PAGES: usize = 2048;

#[repr(C, align(4096))]
struct Big(UnsafeCell<[u8; BIG_PAGES * PAGE]>);
// SAFETY: only one thread of each process touches it, through volatile accesses.
unsafe impl Sync for Big {}
static BIG: Big = Big(UnsafeCell::new([0; BIG_PAGES * PAGE]));

/// Byte `off` of page `page` of BIG.
fn at(page: usize, off: usize) -> *mut u8 {
    // SAFETY: callers stay inside BIG.
    unsafe { (BIG.0.get() as *mut u8).add(page * PAGE + off) }
}

/// Fill the first and last byte of `page` with `v`.
fn put(page: usize, v: u8) {
    // SAFETY: both bytes lie in BIG, which is writable.
    unsafe {
        at(page, 0).write_volatile(v);
        at(page, PAGE - 1).write_volatile(v);
    }
}

/// The first and last byte of `page`.
fn get(page: usize) -> (u8, u8) {
    // SAFETY: both bytes lie in BIG.
    unsafe {
        (
            at(page, 0).read_volatile(),
            at(page, PAGE - 1).read_volatile(),
        )
    }
}

/// What every page holds before the fork.
fn original(page: usize) -> u8 {
    (page as u8) ^ 0x5a
}

fn dirty_all() {
    for p in 0..BIG_PAGES {
        put(p, original(p));
    }
}

/// Check that every page holds `want(page)`.
fn expect_pages(who: &str, want: impl Fn(usize) -> u8) -> T {
    for p in 0..BIG_PAGES {
        let w = want(p);
        check_eq!(get(p), (w, w), "{who}: page {p} of the .bss");
    }
    Ok(())
}

/// Free memory in pages (sysinfo's freeram).
fn free_pages() -> usize {
    let mut info = sys::Sysinfo::default();
    sys::sysinfo(&mut info);
    (info.freeram * info.mem_unit as u64) as usize / PAGE
}

/// Fork allocates no user pages: a child of a process with 8 MiB of dirty `.bss` starts
/// with almost all memory still free (page tables and kernel structures only); the
/// child's writes then cost one page each.
pub fn cow_fork_copies_nothing() -> T {
    dirty_all();
    let before = free_pages();
    let pid = child(|| {
        let at_fork = free_pages();
        check!(
            before.saturating_sub(at_fork) < 128,
            "fork of an 8 MiB process took {} pages",
            before - at_fork
        );
        for p in (0..BIG_PAGES).step_by(2) {
            put(p, 0xc1);
        }
        // Linux's count moves by a few pages on its own (per-CPU page lists): allow 5%.
        let written = at_fork.saturating_sub(free_pages());
        check!(
            written >= BIG_PAGES / 2 * 95 / 100,
            "writing {} shared pages took only {written} new pages",
            BIG_PAGES / 2
        );
        Ok(())
    })?;
    expect_ok(pid)
}

/// Parent and child write different pages after fork: each sees its own writes, and
/// the pages neither wrote keep their pre-fork values.
pub fn cow_parent_child_write_different_pages() -> T {
    dirty_all();
    let s = Shared::new()?;
    let pid = child(|| {
        for p in (0..BIG_PAGES).step_by(2) {
            put(p, 0xc1);
        }
        s.set(0, 1); // the child has written
        s.wait_for(1); // ... and the parent too
        expect_pages("child", |p| if p % 2 == 0 { 0xc1 } else { original(p) })
    })?;
    for p in (0..BIG_PAGES).step_by(3) {
        put(p, 0xa7);
    }
    s.wait_for(0);
    s.set(1, 1);
    expect_ok(pid)?;
    expect_pages("parent", |p| if p % 3 == 0 { 0xa7 } else { original(p) })
}

/// Three generations: each writes its own set of pages after forking the next, and
/// each sees exactly its own writes over what it inherited.
pub fn cow_three_generations() -> T {
    dirty_all();
    let pid = child(|| {
        // Generation 2: inherits the original pages.
        for p in (0..BIG_PAGES).step_by(5) {
            put(p, 0x22);
        }
        let gen2 = |p: usize| {
            if p.is_multiple_of(5) {
                0x22
            } else {
                original(p)
            }
        };
        let pid = child(|| {
            // Generation 3 inherits generation 2's writes.
            expect_pages("grandchild before writing", gen2)?;
            for p in (1..BIG_PAGES).step_by(7) {
                put(p, 0x33);
            }
            expect_pages("grandchild", |p| if p % 7 == 1 { 0x33 } else { gen2(p) })
        })?;
        for p in (2..BIG_PAGES).step_by(4) {
            put(p, 0x44);
        }
        expect_ok(pid)?;
        expect_pages("child", |p| if p % 4 == 2 { 0x44 } else { gen2(p) })
    })?;
    for p in (3..BIG_PAGES).step_by(6) {
        put(p, 0x11);
    }
    expect_ok(pid)?;
    expect_pages("parent", |p| if p % 6 == 3 { 0x11 } else { original(p) })
}

/// Once the child has exited, the parent is the only user of its pages again: writing
/// them takes them back instead of copying (wp_page_reuse), so no memory is used.
pub fn cow_reuse_after_child_exit() -> T {
    dirty_all();
    let pid = child(|| Ok(()))?;
    expect_ok(pid)?;
    let before = free_pages();
    for p in 0..BIG_PAGES {
        put(p, 0x77);
    }
    let used = before.saturating_sub(free_pages());
    check!(
        used < 64,
        "writing pages no one else maps any more took {used} new pages"
    );
    expect_pages("parent", |_| 0x77)
}

/// A write by the kernel on the child's behalf (a syscall's output buffer in a shared
/// page) also gets the child its own copy: the parent does not see it.
pub fn cow_kernel_write_copies() -> T {
    dirty_all();
    let pid = child(|| {
        let ts = at(9, 0) as *mut sys::Timespec;
        check_eq!(
            sys::clock_gettime(sys::CLOCK_MONOTONIC, ts),
            0,
            "clock_gettime into a copy-on-write page"
        );
        // SAFETY: ts points into BIG, which the kernel just wrote.
        let t = unsafe { ts.read_volatile() };
        check!(
            t.tv_sec != 0 || t.tv_nsec != 0,
            "clock_gettime wrote nothing"
        );
        Ok(())
    })?;
    expect_ok(pid)?;
    expect_pages("parent", original)
}
