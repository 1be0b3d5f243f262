//! The files of `/proc` that are about the whole machine (Linux `fs/proc/meminfo.c`,
//! `uptime.c`, `loadavg.c`, `stat.c`, and `fs/proc_namespace.c`'s `mounts`).
//!
//! forkos counts less than Linux: no page cache, swap, load average or context
//! switches, so those figures are 0; the lines are Linux's, in its order, so that
//! `free`, `uptime` and `top` parse them unchanged.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use super::array::nsec_to_clock_t;
use crate::arch::percpu;
use crate::mm::page_alloc;
use crate::time::{CPUTIME_IDLE, CPUTIME_SYSTEM, CPUTIME_USER, KCPUSTAT};

/// A file of the root of `/proc`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Global {
    Loadavg,
    Meminfo,
    Mounts,
    Stat,
    Uptime,
}

impl Global {
    pub const ALL: [Global; 5] = [
        Global::Loadavg,
        Global::Meminfo,
        Global::Mounts,
        Global::Stat,
        Global::Uptime,
    ];

    pub fn name(self) -> &'static [u8] {
        match self {
            Global::Loadavg => b"loadavg",
            Global::Meminfo => b"meminfo",
            Global::Mounts => b"mounts",
            Global::Stat => b"stat",
            Global::Uptime => b"uptime",
        }
    }
}

/// Make the text of `g`.
pub fn show(g: Global) -> Result<Vec<u8>, crate::errno::Errno> {
    Ok(match g {
        Global::Meminfo => meminfo_proc_show(),
        Global::Uptime => uptime_proc_show(),
        Global::Loadavg => loadavg_proc_show(),
        Global::Stat => show_stat(),
        Global::Mounts => show_vfsmnt(),
    }
    .into_bytes())
}

/// `/proc/meminfo` (Linux `meminfo_proc_show`), its first lines: what `free` reads.
fn meminfo_proc_show() -> String {
    let kb = |pages: usize| pages as u64 * 4;
    let total = kb(page_alloc::nr_managed_pages());
    let free = kb(page_alloc::nr_free_pages());
    let mut o = String::new();
    for (name, v) in [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Shmem", 0),
        ("SReclaimable", 0),
    ] {
        // Linux `show_val_kb`: the name and colon, the number right-aligned to 8 after
        // the 16th column.
        let _ = writeln!(o, "{:<16}{:>8} kB", format!("{name}:"), v);
    }
    o
}

/// `/proc/uptime` (Linux `uptime_proc_show`): seconds since boot and the CPUs' idle
/// seconds, each with hundredths.
fn uptime_proc_show() -> String {
    let up = crate::time::ktime_get_ns();
    let idle: u64 = KCPUSTAT
        .iter()
        .map(|c| c[CPUTIME_IDLE].load(Ordering::Relaxed))
        .sum();
    let f = |ns: u64| {
        format!(
            "{}.{:02}",
            ns / 1_000_000_000,
            ns % 1_000_000_000 / 10_000_000
        )
    };
    format!("{} {}\n", f(up), f(idle))
}

/// `/proc/loadavg` (Linux `loadavg_proc_show`): forkos keeps no load average (0.00),
/// then runnable/all tasks and the last pid.
fn loadavg_proc_show() -> String {
    let all = crate::pid::PID_TABLE.lock().all();
    let running = all
        .iter()
        .filter(|t| t.state() == crate::task::TaskState::Running)
        .count();
    let last = all.iter().map(|t| t.pid).max().unwrap_or(0);
    format!("0.00 0.00 0.00 {}/{} {}\n", running, all.len(), last)
}

/// `/proc/stat` (Linux `show_stat`): the CPUs' times in clock ticks (user, nice,
/// system, idle, iowait, irq, softirq, steal, guest, guest_nice), interrupts, boot
/// time, tasks running and blocked.
fn show_stat() -> String {
    let mut o = String::new();
    let n = percpu::num_online_cpus();
    let row = |c: usize| {
        let s = &KCPUSTAT[c];
        [CPUTIME_USER, CPUTIME_SYSTEM, CPUTIME_IDLE].map(|i| s[i].load(Ordering::Relaxed))
    };
    let mut sum = [0u64; 3];
    for c in 0..n {
        for (s, v) in sum.iter_mut().zip(row(c)) {
            *s += v;
        }
    }
    let line = |o: &mut String, name: &str, r: [u64; 3]| {
        let _ = writeln!(
            o,
            "{name} {} 0 {} {} 0 0 0 0 0 0",
            nsec_to_clock_t(r[0]),
            nsec_to_clock_t(r[1]),
            nsec_to_clock_t(r[2])
        );
    };
    line(&mut o, "cpu ", sum);
    for c in 0..n {
        line(&mut o, &format!("cpu{c}"), row(c));
    }
    let intr: u64 = (0..n)
        .map(|c| percpu::per_cpu(c).timer_ticks.load(Ordering::Relaxed))
        .sum();
    let _ = writeln!(o, "intr {intr}");
    let _ = writeln!(o, "btime 0");
    let all = crate::pid::PID_TABLE.lock().all();
    let count = |s| all.iter().filter(|t| t.state() == s).count();
    let _ = writeln!(
        o,
        "procs_running {}",
        count(crate::task::TaskState::Running)
    );
    let _ = writeln!(
        o,
        "procs_blocked {}",
        count(crate::task::TaskState::Uninterruptible)
    );
    o
}

/// `/proc/mounts` (Linux `show_vfsmnt`): the root, then each mount.
fn show_vfsmnt() -> String {
    let mut o = String::from("rootfs / rootfs rw 0 0\n");
    let root = crate::fs::fs_struct::current_fs().root();
    for (mp, fstype) in crate::fs::namespace::mounts() {
        let path = crate::fs::namei::dir_path(&mp, &root).unwrap_or_else(|| b"?".to_vec());
        let _ = writeln!(
            o,
            "{fstype} {} {fstype} rw,relatime 0 0",
            String::from_utf8_lossy(&path)
        );
    }
    o
}
