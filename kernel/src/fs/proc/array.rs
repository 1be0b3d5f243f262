//! `/proc/PID/stat`, `status` and `statm` (Linux `fs/proc/array.c`): what `ps` and
//! `top` read, in Linux 6.1's formats.
//!
//! forkos keeps fewer counters than Linux: page faults, context switches, page-table
//! pages and memory high-water marks are not counted, so those fields are 0 (and
//! `VmPeak`/`VmHWM` equal `VmSize`/`VmRSS`); there are no users or capabilities to show
//! but root's.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;

use crate::mm::{VmFlags, VmaBacking};
use crate::resource::RLIM_NLIMITS;
use crate::task::{Task, TaskState};

/// Clock ticks a second as user space counts them (Linux `USER_HZ`).
pub const USER_HZ: u64 = 100;

/// Nanoseconds as clock ticks (Linux `nsec_to_clock_t`).
pub fn nsec_to_clock_t(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// The state letter and word (Linux `task_state_array`, `get_task_state`).
pub fn task_state(t: &Task) -> (char, &'static str) {
    match t.state() {
        TaskState::Running | TaskState::New => ('R', "running"),
        TaskState::Interruptible => ('S', "sleeping"),
        TaskState::Uninterruptible => ('D', "disk sleep"),
        TaskState::Stopped => ('T', "stopped"),
        TaskState::Traced => ('t', "tracing stop"),
        TaskState::Zombie => ('Z', "zombie"),
        TaskState::Dead => ('X', "dead"),
    }
}

/// The tracer's process id, 0 if untraced (Linux `proc_pid_status`'s `TracerPid`,
/// `ptrace_parent`).
fn tracer_pid(t: &Task) -> i32 {
    t.inner.lock().ptrace_parent.upgrade().map_or(0, |p| p.tgid)
}

/// The parent's process id as `getppid` gives it (Linux `task_tgid_nr_ns(rcu_dereference(
/// p->real_parent))`, 0 for none).
fn ppid(t: &Task) -> i32 {
    t.real_parent().map_or(0, |p| p.tgid)
}

/// Sizes of an address space, in pages (Linux `task_mem`, `task_statm`).
#[derive(Default)]
struct MemSizes {
    total: u64,
    rss: u64,
    data: u64,
    stack: u64,
    exec: u64,
    lib: u64,
    shared: u64,
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    start_stack: u64,
    arg: (u64, u64),
    env: (u64, u64),
}

/// Measure `t`'s address space; `None` without one.
fn mem_sizes(t: &Task) -> Option<MemSizes> {
    let mm = t.get_task_mm()?;
    let m = mm.lock();
    let mut s = MemSizes {
        start_brk: m.start_brk,
        start_stack: m.start_stack,
        arg: (m.arg_start, m.arg_end),
        env: (m.env_start, m.env_end),
        ..MemSizes::default()
    };
    let mut first_exec = true;
    for v in m.vmas.iter() {
        let pages = (v.end - v.start) / 4096;
        s.total += pages;
        s.rss += m.resident_pages(v.start, v.end);
        let special = matches!(v.data, VmaBacking::Special { .. });
        if v.flags.contains(VmFlags::SHARED) {
            s.shared += pages;
        }
        if v.flags.contains(VmFlags::STACK) {
            s.stack += pages;
        } else if v.flags.contains(VmFlags::WRITE) && !v.flags.contains(VmFlags::SHARED) {
            s.data += pages;
            if s.start_data == 0 && !v.flags.contains(VmFlags::HEAP) {
                (s.start_data, s.end_data) = (v.start, v.end);
            }
        }
        if v.flags.contains(VmFlags::EXEC) {
            if first_exec && !special {
                // The program's text: the first executable mapping (Linux
                // `start_code`/`end_code` from the ELF headers).
                first_exec = false;
                (s.start_code, s.end_code) = (v.start, v.end);
                s.exec += pages;
            } else {
                s.lib += pages;
            }
        }
    }
    Some(s)
}

/// A signal set as `status` shows it: 16 hex digits (Linux `render_sigset_t`).
fn sigset(out: &mut String, header: &str, set: u64) {
    let _ = writeln!(out, "{header}\t{set:016x}");
}

/// The signals `t`'s process ignores and catches (Linux `collect_sigign_sigcatch`).
fn sigign_sigcatch(t: &Task) -> (u64, u64) {
    let sighand = t.inner.lock().sighand.clone();
    let actions = sighand.lock();
    let (mut ign, mut catch) = (0u64, 0u64);
    for (i, a) in actions.iter().enumerate() {
        if a.handler == crate::signal::SIG_IGN {
            ign |= 1 << i;
        } else if a.handler != crate::signal::SIG_DFL {
            catch |= 1 << i;
        }
    }
    (ign, catch)
}

/// `/proc/PID/status` (Linux `proc_pid_status`: `task_name`, `task_state`, `task_mem`,
/// `task_sig`, `task_cap`, `task_seccomp`, `task_cpus_allowed`,
/// `task_context_switch_counts`).
pub fn proc_pid_status(t: &Task) -> Vec<u8> {
    let mut o = String::new();
    let (c, n) = t.comm();
    let name = String::from_utf8_lossy(&c[..n]);
    let (letter, word) = task_state(t);
    let (fs, files) = {
        let i = t.inner.lock();
        (i.fs.clone(), i.files.clone())
    };
    let _ = writeln!(o, "Name:\t{name}");
    if let Some(fs) = &fs {
        let _ = writeln!(o, "Umask:\t{:04o}", fs.umask());
    }
    let _ = writeln!(o, "State:\t{letter} ({word})");
    let _ = writeln!(
        o,
        "Tgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t{}",
        t.tgid,
        t.pid,
        ppid(t),
        tracer_pid(t)
    );
    let _ = writeln!(o, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0");
    // Linux: the room in the table, at least 64 (`fdt->max_fds`).
    let fdsize = files.map_or(0, |f| f.fdt.lock().fd.len().next_power_of_two().max(64));
    let _ = writeln!(o, "FDSize:\t{fdsize}\nGroups:\t ");
    let (pgrp, session, rlim) = {
        let s = t.signal.inner.lock();
        (s.pgrp, s.session, s.rlim)
    };
    let _ = writeln!(
        o,
        "NStgid:\t{}\nNSpid:\t{}\nNSpgid:\t{pgrp}\nNSsid:\t{session}",
        t.tgid, t.pid
    );
    if let Some(m) = mem_sizes(t) {
        let kb = |p: u64| p * 4;
        let _ = writeln!(
            o,
            "VmPeak:\t{:8} kB\nVmSize:\t{:8} kB",
            kb(m.total),
            kb(m.total)
        );
        let _ = writeln!(o, "VmLck:\t{:8} kB\nVmPin:\t{:8} kB", 0, 0);
        let _ = writeln!(o, "VmHWM:\t{:8} kB\nVmRSS:\t{:8} kB", kb(m.rss), kb(m.rss));
        let _ = writeln!(
            o,
            "RssAnon:\t{:8} kB\nRssFile:\t{:8} kB\nRssShmem:\t{:8} kB",
            kb(m.rss),
            0,
            0
        );
        let _ = writeln!(
            o,
            "VmData:\t{:8} kB\nVmStk:\t{:8} kB",
            kb(m.data),
            kb(m.stack)
        );
        let _ = writeln!(o, "VmExe:\t{:8} kB\nVmLib:\t{:8} kB", kb(m.exec), kb(m.lib));
        let _ = writeln!(o, "VmPTE:\t{:8} kB\nVmSwap:\t{:8} kB", 0, 0);
        let _ = writeln!(o, "HugetlbPages:\t{:8} kB", 0);
    }
    let _ = writeln!(o, "CoreDumping:\t0\nTHP_enabled:\t0");
    let (threads, shared, queued) = {
        let s = t.signal.inner.lock();
        (s.live, s.shared_pending.set, s.shared_pending.queue.len())
    };
    let (pending, blocked, mine) = {
        let i = t.inner.lock();
        (i.pending.set, i.blocked, i.pending.queue.len())
    };
    let _ = writeln!(o, "Threads:\t{threads}");
    let _ = writeln!(
        o,
        "SigQ:\t{}/{}",
        queued + mine,
        rlim[11.min(RLIM_NLIMITS - 1)].cur
    );
    sigset(&mut o, "SigPnd:", pending);
    sigset(&mut o, "ShdPnd:", shared);
    sigset(&mut o, "SigBlk:", blocked);
    let (ign, catch) = sigign_sigcatch(t);
    sigset(&mut o, "SigIgn:", ign);
    sigset(&mut o, "SigCgt:", catch);
    let caps = "000001ffffffffff";
    let _ = writeln!(o, "CapInh:\t0000000000000000\nCapPrm:\t{caps}\nCapEff:\t{caps}\nCapBnd:\t{caps}\nCapAmb:\t0000000000000000");
    let _ = writeln!(o, "NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0");
    let _ = writeln!(
        o,
        "Speculation_Store_Bypass:\tvulnerable\nSpeculationIndirectBranch:\tunknown"
    );
    let online = (1u64 << crate::arch::percpu::num_online_cpus()) - 1;
    let mask = t.cpus_mask.load(Ordering::Relaxed) & online;
    let _ = writeln!(
        o,
        "Cpus_allowed:\t{mask:x}\nCpus_allowed_list:\t{}",
        cpu_list(mask)
    );
    let _ = writeln!(o, "Mems_allowed:\t1\nMems_allowed_list:\t0");
    let _ = writeln!(
        o,
        "voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0"
    );
    o.into_bytes()
}

/// CPUs as ranges, `0-2,4` (Linux's `%*pbl`).
fn cpu_list(mask: u64) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < 64 {
        if mask & (1 << i) != 0 {
            let start = i;
            while i + 1 < 64 && mask & (1 << (i + 1)) != 0 {
                i += 1;
            }
            if !s.is_empty() {
                s.push(',');
            }
            if start == i {
                let _ = write!(s, "{i}");
            } else {
                let _ = write!(s, "{start}-{i}");
            }
        }
        i += 1;
    }
    s
}

/// `/proc/PID/stat` and `/proc/PID/task/TID/stat` (Linux `do_task_stat`, `whole` for
/// the process: its threads' times added up).
pub fn do_task_stat(t: &Task, whole: bool) -> Vec<u8> {
    let (c, n) = t.comm();
    let name = String::from_utf8_lossy(&c[..n]);
    let (letter, _) = task_state(t);
    let (pgrp, session, threads, cutime, cstime, rlim) = {
        let s = t.signal.inner.lock();
        (s.pgrp, s.session, s.live, s.cutime, s.cstime, s.rlim)
    };
    let (utime, stime) = if whole {
        t.signal.thread_group_cputime()
    } else {
        (
            t.utime.load(Ordering::Relaxed),
            t.stime.load(Ordering::Relaxed),
        )
    };
    let (pending, blocked, exit_signal, exit_code) = {
        let i = t.inner.lock();
        (i.pending.set, i.blocked, i.exit_signal, i.exit_code)
    };
    let pending = if whole {
        pending | t.signal.inner.lock().shared_pending.set
    } else {
        pending
    };
    let (ign, catch) = sigign_sigcatch(t);
    let m = mem_sizes(t);
    let has_mm = m.is_some();
    let m = m.unwrap_or_default();
    let start_time = t.start_time / (1_000_000_000 / USER_HZ);
    // Linux: whether it sleeps, for a process of one thread or a thread.
    let wchan = u8::from(
        (!whole || threads < 2) && !matches!(t.state(), TaskState::Running | TaskState::New),
    );
    let mut flags = 0u32;
    if t.kthread {
        flags |= 0x0020_0000; // PF_KTHREAD
    }
    let mut o = format!(
        "{} ({}) {} {} {} {} 0 -1 {} 0 0 0 0 {} {} {} {} 20 0 {} 0 {} {} {} {}",
        t.pid,
        name,
        letter,
        ppid(t),
        pgrp,
        session,
        flags,
        nsec_to_clock_t(utime),
        nsec_to_clock_t(stime),
        nsec_to_clock_t(cutime),
        nsec_to_clock_t(cstime),
        threads,
        start_time,
        m.total * 4096,
        m.rss,
        rlim[5].cur,
    );
    let (sc, ec, ss) = if has_mm {
        (m.start_code, m.end_code, m.start_stack)
    } else {
        (0, 0, 0)
    };
    let _ = write!(
        o,
        " {sc} {ec} {ss} 0 0 {} {} {} {} {wchan} 0 0 {exit_signal} {} 0 0 0 0 0",
        pending & 0x7fff_ffff,
        blocked & 0x7fff_ffff,
        ign & 0x7fff_ffff,
        catch & 0x7fff_ffff,
        t.cpu.load(Ordering::Relaxed),
    );
    if has_mm {
        let _ = write!(
            o,
            " {} {} {} {} {} {} {}",
            m.start_data, m.end_data, m.start_brk, m.arg.0, m.arg.1, m.env.0, m.env.1
        );
    } else {
        o.push_str(" 0 0 0 0 0 0 0");
    }
    let _ = writeln!(o, " {exit_code}");
    o.into_bytes()
}

/// `/proc/PID/statm` (Linux `proc_pid_statm`): size, resident, shared, text, 0, data
/// and stack, 0, in pages.
pub fn proc_pid_statm(t: &Task) -> Vec<u8> {
    let m = mem_sizes(t).unwrap_or_default();
    format!(
        "{} {} {} {} 0 {} 0\n",
        m.total,
        m.rss,
        m.shared,
        m.exec,
        m.data + m.stack
    )
    .into_bytes()
}
