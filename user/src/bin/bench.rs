//! `bench`: the fork-path benchmarks of `make bench`. Run as pid 1 under QEMU's
//! deterministic instruction counting (`-icount shift=0`: one guest instruction is one
//! nanosecond, and `CNTVCT_EL0` at 62.5 MHz ticks once every 16 instructions), it times
//! each operation with the counter over many iterations and prints one line per figure:
//! `bench NAME ticks_per_iter=T` (T with two decimals). The same binary runs on Linux
//! (`scripts/run-on-linux`), which gives the comparison column. `bench smp K N` is the
//! run of `scripts/smpbench`: K parents doing fork_exit_wait at once, counted per CPU by
//! the instruction-counting QEMU plugin (`tools/icount-plugin/`).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, Ordering::SeqCst};

use forkos_user::sys::{self, nr};
use forkos_user::{entry, icount, println};

/// The virtual counter.
fn ticks() -> u64 {
    let t: u64;
    // SAFETY: EL0 may read CNTVCT_EL0 (CNTKCTL_EL1.EL0VCTEN, as on Linux).
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) t, options(nomem, nostack)) };
    t
}

/// Print a figure: total ticks over `iters` iterations, with two decimals.
fn report(name: &str, total: u64, iters: u64) {
    let hundredths = total * 100 / iters;
    println!(
        "bench {name} ticks_per_iter={}.{:02}",
        hundredths / 100,
        hundredths % 100
    );
}

fn wait(pid: isize) {
    let mut status = 0;
    sys::wait4(pid as i32, &mut status, 0);
}

/// 64 MiB of .bss for the dirty-memory figures (8 MiB runs use its first part).
const BIG: usize = 64 << 20;
#[repr(C, align(4096))]
struct Big([u8; BIG]);
static mut MEM: Big = Big([0; BIG]);

fn dirty(bytes: usize) {
    let base = core::ptr::addr_of_mut!(MEM) as *mut u8;
    for off in (0..bytes).step_by(4096) {
        // SAFETY: inside MEM.
        unsafe { base.add(off).write_volatile(1) };
    }
}

fn getpid(iters: u64) {
    let t0 = ticks();
    for _ in 0..iters {
        sys::getpid();
    }
    report("getpid", ticks() - t0, iters);
}

/// `iters` times fork, exit and wait, inside the instruction-counting plugin's region
/// (tools/icount-plugin; its markers are NOPs otherwise); returns the ticks it took.
fn fork_exit_wait_loop(iters: u64) -> u64 {
    let t0 = ticks();
    icount::region_start();
    for _ in 0..iters {
        let pid = sys::syscall(nr::CLONE, [sys::SIGCHLD as usize, 0, 0, 0, 0, 0]);
        if pid == 0 {
            sys::exit(0);
        }
        wait(pid);
    }
    icount::region_stop();
    ticks() - t0
}

/// A fork_exit_wait figure; the plugin, when loaded, prints its counts for it too.
fn fork_exit_wait(name: &str, iters: u64) {
    report(name, fork_exit_wait_loop(iters), iters);
    icount::dump();
}

/// `bench smp K N` (scripts/smpbench): K parents, released together, each do N
/// fork_exit_wait; then the plugin's counts cover the K * N of them, on however many
/// CPUs ran them. Each parent prints its own figure.
fn smp(parents: usize, iters: u64) -> i32 {
    let page = sys::mmap(
        0,
        4096,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::MAP_SHARED | sys::MAP_ANONYMOUS,
        -1,
        0,
    );
    // SAFETY: a fresh shared page, zero-filled.
    let go = unsafe { &*(page as *const AtomicI32) };
    for _ in 0..parents {
        let pid = sys::fork();
        if pid == 0 {
            while go.load(SeqCst) == 0 {
                sys::futex(go.as_ptr(), sys::FUTEX_WAIT, 0, core::ptr::null());
            }
            let t = fork_exit_wait_loop(iters);
            println!("bench: smp_fork_exit_wait ticks={t} iters={iters}");
            report("smp_fork_exit_wait", t, iters);
            sys::exit(0);
        }
        if pid < 0 {
            println!("bench: fork failed: {pid}");
            return 1;
        }
    }
    go.store(1, SeqCst);
    sys::futex(go.as_ptr(), sys::FUTEX_WAKE, i32::MAX, core::ptr::null());
    let mut status = 0;
    let mut failed = 0;
    while sys::wait4(-1, &mut status, 0) > 0 {
        failed |= status;
    }
    icount::dump();
    println!("bench: smp parents={parents} iters={iters} done");
    (failed != 0) as i32
}

extern "C" fn vfork_child() -> ! {
    sys::exit(0)
}

fn vfork_exit_wait(iters: u64) {
    let t0 = ticks();
    for _ in 0..iters {
        // SAFETY: the child runs vfork_child on our stack and exits at once.
        let pid = unsafe { sys::vfork_run(vfork_child) };
        wait(pid);
    }
    report("vfork_exit_wait", ticks() - t0, iters);
}

extern "C" fn thread_fn(_arg: usize) -> i32 {
    0
}

fn thread_create_exit_join(iters: u64) {
    const STACK: usize = 64 * 1024;
    let stack = sys::mmap(
        0,
        STACK,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::MAP_PRIVATE | sys::MAP_ANONYMOUS,
        -1,
        0,
    ) as usize;
    let tid = AtomicI32::new(0);
    let word = tid.as_ptr();
    let flags = sys::PTHREAD_FLAGS;
    let t0 = ticks();
    for _ in 0..iters {
        // SAFETY: the thread runs thread_fn on its own stack and exits at once; the
        // kernel clears and wakes `tid` when it is gone.
        let r = unsafe { sys::clone_run(flags, stack + STACK, word, 0, word, thread_fn, 0) };
        if r <= 0 {
            println!("bench: clone failed: {r}");
            return;
        }
        // Join as glibc does: wait while the tid word is set.
        loop {
            let v = tid.load(SeqCst);
            if v == 0 {
                break;
            }
            sys::futex(word, sys::FUTEX_WAIT, v, core::ptr::null());
        }
    }
    report("thread_create_exit_join", ticks() - t0, iters);
    sys::munmap(stack, STACK);
}

fn yield_pingpong(switches: u64) {
    let pid = sys::fork();
    if pid == 0 {
        for _ in 0..switches / 2 {
            sys::sched_yield();
        }
        sys::exit(0);
    }
    let t0 = ticks();
    for _ in 0..switches / 2 {
        sys::sched_yield();
    }
    let t = ticks() - t0;
    wait(pid);
    report("yield_pingpong_per_switch", t, switches);
}

fn fork_child_writes(iters: u64) {
    let t0 = ticks();
    for _ in 0..iters {
        let pid = sys::fork();
        if pid == 0 {
            dirty(8 << 20);
            sys::exit(0);
        }
        wait(pid);
    }
    report("fork_child_writes_8m_exit_wait", ticks() - t0, iters);
}

/// Markers for `scripts/profile`, which counts the instructions executed between a
/// call of the first and a call of the second (found by their addresses).
#[no_mangle]
#[inline(never)]
extern "C" fn bench_profile_start() {
    // SAFETY: an empty instruction; only the address of this function matters.
    unsafe { core::arch::asm!("nop", options(nomem, nostack)) };
}

#[no_mangle]
#[inline(never)]
extern "C" fn bench_profile_end() {
    // SAFETY: as above.
    unsafe { core::arch::asm!("nop", options(nomem, nostack)) };
}

/// `bench profile FIGURE N`: run one figure between the markers.
fn profile(figure: &str, n: u64) -> i32 {
    if figure.contains("dirty") || figure.contains("writes") {
        dirty(8 << 20);
    }
    bench_profile_start();
    match figure {
        "getpid" => getpid(n),
        "fork_exit_wait" | "fork_exit_wait_8m_dirty" => fork_exit_wait(figure, n),
        "vfork_exit_wait" => vfork_exit_wait(n),
        "thread_create_exit_join" => thread_create_exit_join(n),
        "yield_pingpong_per_switch" => yield_pingpong(n),
        "fork_child_writes_8m_exit_wait" => fork_child_writes(n),
        _ => {
            println!("bench: no figure {figure}");
            return 1;
        }
    }
    bench_profile_end();
    0
}

fn main(args: &[&str]) -> i32 {
    // The counter at pid 1's first instructions, counted from reset.
    let boot = ticks();
    if let Some(i) = args.iter().position(|a| *a == "profile") {
        let figure = args.get(i + 1).copied().unwrap_or("fork_exit_wait");
        let n = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(20);
        return profile(figure, n);
    }
    if let Some(i) = args.iter().position(|a| *a == "smp") {
        let parents = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(1);
        let n = args.get(i + 2).and_then(|s| s.parse().ok()).unwrap_or(100);
        return smp(parents, n);
    }
    let quick = args.last() == Some(&"quick");
    let n = |full: u64| if quick { full / 10 } else { full };
    println!("bench: boot_to_init ticks={boot}");
    getpid(n(20_000));
    fork_exit_wait("fork_exit_wait", n(1_000));
    vfork_exit_wait(n(1_000));
    thread_create_exit_join(n(1_000));
    yield_pingpong(n(10_000));
    dirty(8 << 20);
    fork_exit_wait("fork_exit_wait_8m_dirty", n(200));
    fork_child_writes(n(20));
    dirty(BIG);
    fork_exit_wait("fork_exit_wait_64m_dirty", n(50));
    // Memory: what one more idle process costs, from the free memory (sysinfo).
    let mut info = sys::Sysinfo::default();
    sys::sysinfo(&mut info);
    let before = info.freeram * info.mem_unit as u64;
    const KIDS: usize = 64;
    let mut pids = [0isize; KIDS];
    let word = AtomicI32::new(0);
    for p in pids.iter_mut() {
        *p = sys::fork();
        if *p == 0 {
            // Sleep until killed.
            loop {
                sys::futex(word.as_ptr(), sys::FUTEX_WAIT, 0, core::ptr::null());
            }
        }
    }
    sys::sysinfo(&mut info);
    let after = info.freeram * info.mem_unit as u64;
    println!(
        "bench memory_per_idle_process bytes={}",
        (before.saturating_sub(after)) / KIDS as u64
    );
    for p in pids {
        sys::kill(p as i32, sys::SIGKILL);
        wait(p);
    }
    max_processes();
    println!("bench: done");
    0
}

/// How many processes fit: fork children that sleep until released, until fork fails.
fn max_processes() {
    let page = sys::mmap(
        0,
        4096,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::MAP_SHARED | sys::MAP_ANONYMOUS,
        -1,
        0,
    );
    // SAFETY: a fresh shared page, zero-filled.
    let word = unsafe { &*(page as *const AtomicI32) };
    let mut n = 0u64;
    loop {
        let pid = sys::fork();
        if pid == 0 {
            while word.load(SeqCst) == 0 {
                sys::futex(word.as_ptr(), sys::FUTEX_WAIT, 0, core::ptr::null());
            }
            sys::exit(0);
        }
        if pid < 0 {
            break;
        }
        n += 1;
    }
    word.store(1, SeqCst);
    sys::futex(word.as_ptr(), sys::FUTEX_WAKE, i32::MAX, core::ptr::null());
    let mut status = 0;
    while sys::wait4(-1, &mut status, 0) > 0 {}
    println!("bench max_processes count={}", n + 1);
}

entry!(main);
