//! Many processes and threads: nothing is lost, every status is right.

use crate::util::{
    child, child_code, exited, expect_ok, expect_status, killed, spin_until, Shared, Status,
    Thread, T,
};
use core::sync::atomic::{AtomicI64, Ordering::SeqCst};
use forkos_user::sys;

/// 300 sequential fork / exit(i & 0xff) / wait4 cycles.
pub fn stress_fork_wait() -> T {
    for i in 0..300 {
        let pid = child_code(move || i & 0xff)?;
        expect_status(pid, exited(i))?;
    }
    Ok(())
}

/// 20 concurrent children that yield a few times and exit(i); wait4(-1) reaps each
/// exactly once with its status.
pub fn stress_concurrent_children() -> T {
    const N: usize = 20;
    let mut pids = [0; N];
    for (i, p) in pids.iter_mut().enumerate() {
        *p = child_code(move || {
            for _ in 0..(i % 5) {
                sys::sched_yield();
            }
            i as i32 + 1
        })?;
    }
    let mut seen = [false; N];
    for _ in 0..N {
        let mut status = 0;
        let r = sys::wait4(-1, &mut status, 0);
        let i = pids.iter().position(|&p| p as isize == r);
        check!(i.is_some(), "wait4(-1) returned {r}, not a child");
        let i = i.unwrap_or(0);
        check!(!seen[i], "child {r} reaped twice");
        seen[i] = true;
        check_eq!(Status(status), exited(i as i32 + 1), "status of child {r}");
    }
    check_eq!(
        sys::wait4(-1, core::ptr::null_mut(), 0),
        -sys::ECHILD,
        "wait4(-1) at the end"
    );
    Ok(())
}

/// A binary tree of processes 5 levels deep (63 in all): each waits for its two
/// children and exits with the number of processes in its subtree.
pub fn stress_fork_tree() -> T {
    fn node(depth: u32) -> i32 {
        if depth == 0 {
            return 1;
        }
        let mut total = 1;
        let mut pids = [0; 2];
        for p in pids.iter_mut() {
            match child_code(|| node(depth - 1)) {
                Ok(pid) => *p = pid,
                Err(_) => return 200,
            }
        }
        for pid in pids {
            let mut status = 0;
            if sys::wait4(pid, &mut status, 0) != pid as isize || status & 0x7f != 0 {
                return 201;
            }
            total += (status >> 8) & 0xff;
        }
        total
    }
    let pid = child_code(|| node(5))?;
    expect_status(pid, exited(63))
}

/// 100 thread create / join cycles, 4 threads alive at a time.
pub fn stress_threads() -> T {
    let count = AtomicI64::new(0);
    let f = || {
        count.fetch_add(1, SeqCst);
        sys::sched_yield();
        0
    };
    for _ in 0..25 {
        let _ts = [
            Thread::spawn(&f)?,
            Thread::spawn(&f)?,
            Thread::spawn(&f)?,
            Thread::spawn(&f)?,
        ];
    }
    check_eq!(count.load(SeqCst), 100, "threads that ran");
    Ok(())
}

/// sched_yield ping-pong between two processes through a MAP_SHARED counter: each
/// increments it on its turn and yields; both make progress to 200.
pub fn sched_yield_pingpong() -> T {
    const END: i64 = 200;
    let s = Shared::new()?;
    let play = |parity: i64| -> T {
        let mut yields_ok = true;
        let ok = spin_until(10_000, || {
            let v = s.get(0);
            if v >= END {
                return true;
            }
            if v % 2 == parity {
                s.set(0, v + 1);
            }
            yields_ok &= sys::sched_yield() == 0;
            false
        });
        check!(ok, "counter stuck at {}", s.get(0));
        check!(yields_ok, "sched_yield() returned non-zero");
        Ok(())
    };
    let pid = child(|| play(1))?;
    play(0)?;
    expect_ok(pid)?;
    check!(s.get(0) >= END, "final counter {}", s.get(0));
    Ok(())
}

/// For one second, 6 processes at once each loop: fork a child that does one of exit
/// at once, yield, dirty copy-on-write pages, fault (SIGSEGV), run a thread, or fork a
/// grandchild; then reap it and check its status. Run with `tick_hz=` high, the timer
/// preempts all of this at random points. Every status must be the expected one.
pub fn stress_mixed() -> T {
    const PROCS: usize = 6;
    static mut DATA: [u8; 16 * 4096] = [0; 16 * 4096];
    let deadline = crate::util::now_ns() + 1_000_000_000;
    let mut pids = [0; PROCS];
    for (w, p) in pids.iter_mut().enumerate() {
        *p = child_code(move || {
            let mut rounds = 0i32;
            let mut k = w;
            while crate::util::now_ns() < deadline {
                k = k.wrapping_mul(31).wrapping_add(7);
                let kind = k % 6;
                let pid = sys::fork();
                if pid == 0 {
                    let code = match kind {
                        0 => 0,
                        1 => {
                            for _ in 0..3 {
                                sys::sched_yield();
                            }
                            1
                        }
                        2 => {
                            for i in (0..16 * 4096).step_by(4096) {
                                // SAFETY: our own copy of DATA, after fork.
                                unsafe { core::ptr::addr_of_mut!(DATA[i]).write_volatile(2) };
                            }
                            2
                        }
                        3 => {
                            // SAFETY: a deliberate fault: the child dies of SIGSEGV.
                            unsafe { core::arch::asm!("str xzr, [{}]", in(reg) 16u64) };
                            3
                        }
                        4 => {
                            let f = || 0;
                            let spawned = Thread::spawn(&f).map(drop).is_ok();
                            if spawned {
                                4
                            } else {
                                99
                            }
                        }
                        _ => match child_code(|| 5) {
                            Ok(g) => {
                                let mut st = 0;
                                sys::wait4(g, &mut st, 0);
                                (st >> 8) & 0xff
                            }
                            Err(_) => 98,
                        },
                    };
                    sys::exit_group(code as i32);
                }
                if pid < 0 {
                    return 100;
                }
                let mut st = 0;
                if sys::wait4(pid as i32, &mut st, 0) != pid {
                    return 101;
                }
                let want = if kind == 3 { 11 } else { (kind as i32) << 8 };
                if st != want {
                    return 102;
                }
                rounds += 1;
            }
            if rounds > 0 {
                0
            } else {
                103
            }
        })?;
    }
    for pid in pids {
        expect_ok(pid)?;
    }
    Ok(())
}

/// 100 times: a process with three spinning threads dies all at once — by SIGKILL to a
/// thread, SIGKILL to the process, or `exit_group` from a thread — and its parent's
/// `wait4` must see it. The leader and its last thread exit in either order (the one
/// that goes last tells the parent); preempted at random points, none may be lost.
pub fn stress_group_exit() -> T {
    for round in 0..100 {
        let s = Shared::new()?;
        let pid = child(|| {
            let spin = || -> i32 {
                let tid = sys::gettid() as i64;
                let slot = s[0].fetch_add(1, SeqCst) as usize + 1;
                s.set(slot, tid);
                if round % 3 == 2 && slot == 3 {
                    sys::exit_group(7);
                }
                loop {
                    core::hint::spin_loop();
                }
            };
            for _ in 0..3 {
                // The threads never return: the whole group dies under them.
                core::mem::forget(Thread::spawn(&spin)?);
            }
            loop {
                core::hint::spin_loop();
            }
        })?;
        while (1..=3).any(|i| s.get(i) == 0) {
            sys::sched_yield();
        }
        let expected = match round % 3 {
            0 => {
                let tid = s.get(1 + round / 3 % 3) as i32;
                check_eq!(sys::tgkill(pid, tid, sys::SIGKILL), 0, "tgkill(SIGKILL)");
                killed(sys::SIGKILL)
            }
            1 => {
                check_eq!(sys::kill(pid, sys::SIGKILL), 0, "kill(SIGKILL)");
                killed(sys::SIGKILL)
            }
            _ => exited(7),
        };
        expect_status(pid, expected)?;
    }
    Ok(())
}

/// 50 times: a thread forks a child and exits at once; the main thread joins it and
/// waits for that child, which meanwhile moves from the exiting thread to another
/// thread of the group. However the moves and the wait interleave, wait4 finds the
/// child (never -ECHILD) and reaps it once.
pub fn stress_thread_child_reparent() -> T {
    for _ in 0..50 {
        let pid = child(|| {
            let cpid = AtomicI64::new(0);
            let f = || {
                let c = child_code(|| 5).unwrap_or(-1);
                cpid.store(c as i64, SeqCst);
                0
            };
            let t = Thread::spawn(&f)?;
            drop(t); // joined: its exit may still be moving its child
            let c = cpid.load(SeqCst) as i32;
            check!(c > 0, "fork in the thread failed: {c}");
            expect_status(c, exited(5))
        })?;
        expect_ok(pid)?;
    }
    Ok(())
}

/// Four processes fork at once, 40 fork / exit / wait4 cycles each (issue 13's fork
/// storm from four CPUs): every status comes back right and nothing is left to reap.
pub fn smp_fork_storm() -> T {
    let mut pids = [0; 4];
    for (k, p) in pids.iter_mut().enumerate() {
        *p = child(move || {
            for i in 0..40 {
                let pid = child_code(move || (i + k as i32) & 0x7f)?;
                expect_status(pid, exited(i + k as i32))?;
            }
            Ok(())
        })?;
    }
    for pid in pids {
        expect_ok(pid)?;
    }
    check_eq!(
        sys::wait4(-1, core::ptr::null_mut(), 0),
        -sys::ECHILD,
        "wait4(-1) at the end"
    );
    Ok(())
}

/// A child's exit races its parent's kill and wait4 (issue 13: exit racing wait4 and
/// kill across CPUs): each child is reaped once, either exited with its code or
/// killed by SIGKILL, and kill never fails on a child not yet reaped.
pub fn smp_exit_races_kill_and_wait() -> T {
    for i in 0..60 {
        let pid = child_code(move || i & 0x7f)?;
        if i % 3 != 0 {
            for _ in 0..(i % 4) {
                sys::sched_yield();
            }
        }
        check_eq!(
            sys::kill(pid, sys::SIGKILL),
            0,
            "kill(child {pid}, SIGKILL)"
        );
        let mut status = 0;
        check_eq!(
            sys::wait4(pid, &mut status, 0),
            pid as isize,
            "wait4({pid})"
        );
        let s = Status(status);
        check!(
            s == exited(i) || s == killed(sys::SIGKILL),
            "child {pid}: status {s:?}, expected exit {} or SIGKILL",
            i & 0x7f
        );
    }
    Ok(())
}

/// Threads of one process write and check their own pages while another thread keeps
/// changing the mappings next to them (issue 13: munmap and mprotect while others touch
/// the memory): the touched pages keep their contents, and no thread faults.
pub fn smp_threads_touch_while_mappings_change() -> T {
    use crate::util::{map, PAGE, RW};
    const ROUNDS: i64 = 200;
    let base = map(16 * PAGE, RW, sys::MAP_PRIVATE)?;
    let done = AtomicI64::new(0);
    let bad = AtomicI64::new(0);
    let toucher = |page: usize| {
        let p = (base + page * PAGE) as *mut i64;
        let mut n = 0i64;
        while done.load(SeqCst) == 0 {
            // SAFETY: pages 0-3 of the mapping stay mapped read-write until all the
            // threads are joined; only this thread touches its page.
            unsafe {
                p.write_volatile(n);
                if p.read_volatile() != n {
                    bad.fetch_add(1, SeqCst);
                }
            }
            n += 1;
            if n % 64 == 0 {
                sys::sched_yield();
            }
        }
        0
    };
    let (t0, t1, t2) = (|| toucher(0), || toucher(1), || toucher(2));
    let mut threads = [
        Thread::spawn(&t0)?,
        Thread::spawn(&t1)?,
        Thread::spawn(&t2)?,
    ];
    let mut ok = true;
    for r in 0..ROUNDS {
        let page = 4 + (r as usize % 12);
        let a = base + page * PAGE;
        let prot = if r % 2 == 0 { sys::PROT_READ } else { RW };
        // SAFETY: the pages changed here are never touched by the other threads.
        let mp = unsafe { sys::syscall6(sys::nr::MPROTECT, a, PAGE, prot, 0, 0, 0) };
        ok &= mp == 0;
        if r % 5 == 0 {
            ok &= sys::munmap(a, PAGE) == 0;
            let flags = sys::MAP_PRIVATE | sys::MAP_FIXED | sys::MAP_ANONYMOUS;
            ok &= sys::mmap(a, PAGE, RW, flags, -1, 0) == a as isize;
        }
    }
    done.store(1, SeqCst);
    for t in threads.iter_mut() {
        t.join();
    }
    sys::munmap(base, 16 * PAGE);
    check!(ok, "an mprotect, munmap or mmap failed");
    check_eq!(bad.load(SeqCst), 0, "writes that did not read back");
    Ok(())
}

/// vfork children one after another, each writing its parent's memory before it exits
/// (issue 13: a vfork child and its parent on different CPUs): the parent resumes only
/// after the child is gone and sees every write.
pub fn smp_vfork_cycles() -> T {
    static STEP: AtomicI64 = AtomicI64::new(0);
    extern "C" fn body() -> ! {
        STEP.fetch_add(1, SeqCst);
        sys::exit(7)
    }
    for i in 0..50 {
        // SAFETY: the child only touches a static, then exits.
        let pid = unsafe { sys::vfork_run(body) };
        check!(pid > 0, "vfork: {pid}");
        check_eq!(
            STEP.load(SeqCst),
            i + 1,
            "the child's write, seen on return"
        );
        expect_status(pid as i32, exited(7))?;
    }
    STEP.store(0, SeqCst);
    Ok(())
}
