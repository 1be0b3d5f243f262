//! Where tasks run on a multiprocessor (issue 13): runnable processes spread over the
//! CPUs, and `sched_setaffinity` pins a task, itself or another, at once. On one CPU
//! both hold trivially; on Linux they hold too (`scripts/utest-on-linux`).

use crate::util::{child_code, expect_ok, now_ns, Shared, T};
use forkos_user::sys::{self, nr};

fn call(n: usize, a: [usize; 4]) -> isize {
    // SAFETY: the callers pass pointers to their own live buffers; the kernel writes
    // only through them.
    unsafe { sys::syscall6(n, a[0], a[1], a[2], a[3], 0, 0) }
}

/// The CPU the caller runs on (`getcpu`).
fn getcpu() -> i64 {
    let mut cpu = u32::MAX;
    call(nr::GETCPU, [&mut cpu as *mut u32 as usize, 0, 0, 0]);
    cpu as i64
}

/// The online CPUs, one bit each (`sched_getaffinity` of a task allowed on all).
fn online_cpus() -> u64 {
    let mut m = [0u64; 1];
    call(nr::SCHED_GETAFFINITY, [0, 8, m.as_mut_ptr() as usize, 0]);
    m[0]
}

fn setaffinity(pid: i32, mask: u64) -> isize {
    let m = [mask];
    call(
        nr::SCHED_SETAFFINITY,
        [pid as usize, 8, m.as_ptr() as usize, 0],
    )
}

/// One process per CPU, each spinning in user space and writing `getcpu` to its slot:
/// within five seconds there is a moment where they run on as many different CPUs as
/// there are (fork balancing, and idle CPUs pulling waiting tasks).
pub fn spinners_spread_over_cpus() -> T {
    let online = online_cpus();
    let n = online.count_ones() as usize;
    let s = Shared::new()?;
    // Slot 0: stop; slots 1..=n: each spinner's CPU, plus one (0: not yet known).
    let mut pids = [0; 8];
    for (k, pid) in pids.iter_mut().enumerate().take(n) {
        let s = &s;
        *pid = child_code(move || {
            while s.get(0) == 0 {
                s.set(k + 1, getcpu() + 1);
                for _ in 0..1000 {
                    core::hint::black_box(0);
                }
            }
            0
        })?;
    }
    let deadline = now_ns() + 5_000_000_000;
    let mut seen = 0u64;
    while now_ns() < deadline {
        sys::sleep_ms(5);
        seen = 0;
        for k in 0..n {
            let c = s.get(k + 1);
            if c > 0 {
                seen |= 1 << (c - 1);
            }
        }
        if seen == online {
            break;
        }
    }
    s.set(0, 1);
    for &pid in &pids[..n] {
        expect_ok(pid)?;
    }
    check_eq!(seen, online, "the CPUs {n} spinners ran on at one moment");
    Ok(())
}

/// `sched_setaffinity` moves the caller to the one CPU it allows before returning, and
/// moves another task, spinning elsewhere, before returning too: its next `getcpu` is
/// on the allowed CPU.
pub fn setaffinity_pins_tasks() -> T {
    let online = online_cpus();
    for cpu in 0..64 {
        if online & (1 << cpu) == 0 {
            continue;
        }
        check_eq!(
            setaffinity(0, 1 << cpu),
            0,
            "sched_setaffinity(self, CPU {cpu})"
        );
        check_eq!(getcpu(), cpu, "getcpu right after pinning to CPU {cpu}");
        for _ in 0..20 {
            sys::sched_yield();
            check_eq!(getcpu(), cpu, "getcpu after yields, pinned to CPU {cpu}");
        }
    }
    check_eq!(setaffinity(0, online), 0, "sched_setaffinity(self, all)");

    // Another task: it spins until asked, then reports where it runs.
    let s = Shared::new()?;
    let sp = &s;
    let pid = child_code(move || {
        let mut round = 1;
        loop {
            while sp.get(0) != round {
                if sp.get(0) < 0 {
                    return 0;
                }
                core::hint::black_box(0);
            }
            sp.set(1, getcpu() + 1);
            sp.set(2, round);
            round += 1;
        }
    })?;
    let mut round = 1;
    for cpu in 0..64 {
        if online & (1 << cpu) == 0 {
            continue;
        }
        check_eq!(
            setaffinity(pid, 1 << cpu),
            0,
            "sched_setaffinity(child, CPU {cpu})"
        );
        s.set(0, round);
        while s.get(2) != round {
            sys::sched_yield();
        }
        check_eq!(
            s.get(1) - 1,
            cpu,
            "the child's getcpu once pinned to CPU {cpu}"
        );
        round += 1;
    }
    s.set(0, -1);
    expect_ok(pid)
}

/// Affinity changes racing everything else (issue 13's migration): two processes spin,
/// yield and sleep while their parent changes their CPUs 200 times, and two others pin
/// themselves to each CPU in turn and check `getcpu` at once. Every move must land on
/// an allowed CPU, and nothing may hang or leak.
pub fn smp_affinity_churn() -> T {
    let online = online_cpus();
    let cpus: [i64; 64] = core::array::from_fn(|i| i as i64);
    let list: &[i64] = &cpus[..64 - online.leading_zeros() as usize];
    let s = Shared::new()?;
    let sp = &s;
    let mut busy = [0; 2];
    for pid in busy.iter_mut() {
        *pid = child_code(move || {
            let mut i = 0u64;
            while sp.get(0) == 0 {
                for _ in 0..200 {
                    core::hint::black_box(i);
                }
                if i.is_multiple_of(4) {
                    sys::sched_yield();
                }
                if i.is_multiple_of(16) {
                    sys::sleep_ms(1);
                }
                i += 1;
            }
            0
        })?;
    }
    let mut pinners = [0; 2];
    for pid in pinners.iter_mut() {
        *pid = child_code(move || {
            for round in 0..60 {
                let cpu = list[round % list.len()];
                if online & (1 << cpu) == 0 {
                    continue;
                }
                if setaffinity(0, 1 << cpu) != 0 || getcpu() != cpu {
                    return 1;
                }
                sys::sched_yield();
                if getcpu() != cpu || setaffinity(0, online) != 0 {
                    return 2;
                }
            }
            0
        })?;
    }
    for i in 0..200usize {
        let cpu = list[i % list.len()];
        let mask = match i % 3 {
            0 => 1 << cpu,
            1 => online & !(1 << cpu),
            _ => online,
        };
        let mask = if mask & online == 0 { online } else { mask };
        let pid = busy[i % 2];
        check_eq!(
            setaffinity(pid, mask),
            0,
            "sched_setaffinity(busy child, {mask:#x})"
        );
        if i.is_multiple_of(8) {
            sys::sched_yield();
        }
    }
    for pid in pinners {
        expect_ok(pid)?;
    }
    s.set(0, 1);
    for pid in busy {
        expect_ok(pid)?;
    }
    Ok(())
}
