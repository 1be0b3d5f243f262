//! Small syscalls about the system and the process (Linux `kernel/sys.c`): `getppid`,
//! process groups and sessions (`setpgid`, `getpgid`, `getsid`, `setsid`), `uname`,
//! `sysinfo`, `prlimit64`, `getcpu`.

use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::pid::PID_TABLE;
use crate::resource::*;
use crate::task::{current, current_arc, Task, TASKLIST_LOCK};
use crate::{mm, time};
use alloc::sync::Arc;
use forkos_lib::uapi::sysinfo::Sysinfo;
use forkos_lib::uapi::utsname::NewUtsname;

// SAFETY: `struct new_utsname` is byte arrays only: no padding, any bytes are valid.
unsafe impl crate::mm::uaccess::Pod for NewUtsname {}
// SAFETY: `struct sysinfo` is integers with its padding written out as fields.
unsafe impl crate::mm::uaccess::Pod for Sysinfo {}

/// `getppid()`: the thread group id of the real parent; 0 for init.
pub fn sys_getppid() -> i64 {
    // Threads share the leader's parent.
    current().real_parent().map_or(0, |p| p.tgid as i64)
}

/// `setpgid(pid, pgid)` (Linux `ksys_setpgid`): move process `pid` (0: the caller) into
/// process group `pgid` (0: the one whose id is `pid`), which must exist in the same
/// session unless it is new. Only the caller itself or its children that have not
/// called `execve` (EACCES) in its session (EPERM) can be moved (else ESRCH), and never
/// a session leader (EPERM).
pub fn sys_setpgid(pid: i64, pgid: i64) -> SysResult {
    let me = current();
    let (mut pid, mut pgid) = (pid as i32, pgid as i32);
    if pid == 0 {
        pid = me.tgid;
    }
    if pgid == 0 {
        pgid = pid;
    }
    if pgid < 0 {
        return Err(EINVAL);
    }
    // Groups and sessions change only under the task-list lock (Linux: write_lock_irq).
    let _tasklist = TASKLIST_LOCK.lock();
    let p = PID_TABLE.lock().find(pid).ok_or(ESRCH)?;
    if !p.is_group_leader() {
        return Err(EINVAL);
    }
    let my_session = me.signal.inner.lock().session;
    let parent = p.inner.lock().parent.upgrade().map(|t| t.tgid);
    if parent == Some(me.tgid) {
        let ps = p.signal.inner.lock();
        if ps.session != my_session {
            return Err(EPERM);
        }
        if !ps.forknoexec {
            return Err(EACCES);
        }
    } else if p.tgid != me.tgid {
        return Err(ESRCH);
    }
    if p.signal.inner.lock().leader {
        return Err(EPERM);
    }
    if pgid != pid {
        let g = crate::pid::pgrp_tasks(pgid).into_iter().next();
        if g.is_none_or(|g| g.signal.inner.lock().session != my_session) {
            return Err(EPERM);
        }
    }
    p.signal.inner.lock().pgrp = pgid;
    Ok(0)
}

/// The process of `pid` (0: the caller) whose group or session `getpgid` and `getsid`
/// read (Linux `find_task_by_vpid`, or `current`).
fn task_or_current(pid: i64) -> Result<Arc<Task>, Errno> {
    match pid as i32 {
        0 => Ok(current_arc()),
        p => PID_TABLE.lock().find(p).ok_or(ESRCH),
    }
}

/// `getpgid(pid)` (Linux `do_getpgid`); `getpgrp()` is `getpgid(0)` on arm64.
pub fn sys_getpgid(pid: i64) -> SysResult {
    let p = task_or_current(pid)?;
    let pgrp = p.signal.inner.lock().pgrp;
    Ok(pgrp as i64)
}

/// `getsid(pid)` (Linux `SYSCALL_DEFINE1(getsid)`).
pub fn sys_getsid(pid: i64) -> SysResult {
    let p = task_or_current(pid)?;
    let sid = p.signal.inner.lock().session;
    Ok(sid as i64)
}

/// `setsid()` (Linux `ksys_setsid`): the caller leads a new session and a new process
/// group, both named by its pid, without a controlling terminal; EPERM if it already leads a session or a process
/// group with that id exists.
pub fn sys_setsid() -> SysResult {
    let me = current();
    let sid = me.tgid;
    let _tasklist = TASKLIST_LOCK.lock();
    if me.signal.inner.lock().leader || !crate::pid::pgrp_tasks(sid).is_empty() {
        return Err(EPERM);
    }
    let mut s = me.signal.inner.lock();
    s.leader = true;
    s.pgrp = sid;
    s.session = sid;
    // Linux `proc_clear_tty`: a new session has no controlling terminal.
    s.tty = false;
    Ok(sid as i64)
}

/// `uname(buf)`: six 65-byte fields.
pub fn sys_uname(buf: UserPtr<NewUtsname>) -> SysResult {
    let mut u = NewUtsname::default();
    let fields = [
        (&mut u.sysname, "Linux"),
        (&mut u.nodename, "forkos"),
        (&mut u.release, "6.1.0-forkos"),
        (&mut u.version, "#1 forkos"),
        (&mut u.machine, "aarch64"),
        (&mut u.domainname, "(none)"),
    ];
    for (field, f) in fields {
        field[..f.len()].copy_from_slice(f.as_bytes());
    }
    buf.write(&u)?;
    Ok(0)
}

/// `sysinfo(info)`: uptime, memory (free RAM is the page allocator's free count) and the
/// number of tasks.
pub fn sys_sysinfo(info: UserPtr<Sysinfo>) -> SysResult {
    let page = forkos_lib::pgtable::PAGE_SIZE as u64;
    let s = Sysinfo {
        uptime: (time::ktime_get_ns() / 1_000_000_000) as i64,
        totalram: mm::page_alloc::nr_managed_pages() as u64 * page,
        freeram: mm::page_alloc::nr_free_pages() as u64 * page,
        procs: PID_TABLE.lock().count() as u16,
        mem_unit: 1,
        ..Sysinfo::default()
    };
    info.write(&s)?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)` (Linux `do_prlimit`): read and set a process's
/// resource limits; children inherit them. forkos records them (so programs that ask
/// see Linux's values) but enforces none of them yet.
pub fn sys_prlimit64(
    pid: u64,
    resource: u64,
    new: UserPtr<Rlimit>,
    old: UserPtr<Rlimit>,
) -> SysResult {
    // Linux's order: read the new limit, find the task, then check the resource and the
    // values (`do_prlimit`), then write the old one.
    let new = if !new.is_null() {
        Some(new.read()?)
    } else {
        None
    };
    let pid = pid as i32;
    let target = if pid == 0 {
        current_arc()
    } else {
        PID_TABLE
            .lock()
            .find(pid)
            .filter(|t| !t.kthread)
            .ok_or(ESRCH)?
    };
    let resource = resource as u32 as usize; // an unsigned int in Linux
    if resource >= RLIM_NLIMITS {
        return Err(EINVAL);
    }
    if let Some(r) = new {
        if r.cur > r.max {
            return Err(EINVAL);
        }
        if resource == RLIMIT_NOFILE && r.max > NR_OPEN {
            return Err(EPERM);
        }
    }
    let prev = {
        let mut s = target.signal.inner.lock();
        let prev = s.rlim[resource];
        if let Some(r) = new {
            s.rlim[resource] = r;
        }
        prev
    };
    if !old.is_null() {
        old.write(&prev)?;
    }
    Ok(0)
}

/// `getcpu(cpu, node, tcache)` (Linux `sys_getcpu`): the CPU the caller runs on, and its
/// NUMA node (always 0). Either pointer may be null; both are written before a fault is
/// reported, as in Linux.
pub fn sys_getcpu(cpup: UserPtr<u32>, nodep: UserPtr<u32>) -> SysResult {
    let cpu = crate::arch::percpu::smp_processor_id() as u32;
    let mut fault = false;
    if !cpup.is_null() {
        fault |= cpup.write(&cpu).is_err();
    }
    if !nodep.is_null() {
        fault |= nodep.write(&0).is_err();
    }
    if fault {
        return Err(EFAULT);
    }
    Ok(0)
}

/// Linux's `INITIAL_JIFFIES`: jiffies start 300 s before they wrap a 32-bit counter, so
/// that wrap bugs show early; `times` returns them as clock ticks.
const INITIAL_JIFFIES: u64 = (u32::MAX as u64 + 1) - 300 * time::HZ;

/// `times(buf)` (Linux `do_sys_times` + `sys_times`): the process's and its reaped
/// children's CPU time in clock ticks, and the time since an arbitrary point (Linux's
/// jiffies, from `INITIAL_JIFFIES`), in clock ticks. `EFAULT` for a bad buffer.
pub fn sys_times(tbuf: UserPtr<[i64; 4]>) -> SysResult {
    use crate::fs::proc::array::{nsec_to_clock_t, USER_HZ};
    if !tbuf.is_null() {
        let me = current();
        let (u, s) = me.signal.thread_group_cputime();
        let (cu, cs) = {
            let i = me.signal.inner.lock();
            (i.cutime, i.cstime)
        };
        let tms = [u, s, cu, cs].map(|ns| nsec_to_clock_t(ns) as i64);
        tbuf.write(&tms)?;
    }
    let jiffies = INITIAL_JIFFIES + time::ktime_get_ns() / (1_000_000_000 / time::HZ);
    Ok((jiffies * USER_HZ / time::HZ) as i64)
}

/// `getrusage` of the calling thread, its process, or its reaped children.
const RUSAGE_SELF: i64 = 0;
const RUSAGE_CHILDREN: i64 = -1;
const RUSAGE_THREAD: i64 = 1;

/// `getrusage(who, ru)` (Linux `getrusage` in `kernel/sys.c`): CPU times; forkos counts
/// nothing else (faults, context switches, maximum RSS), so the rest is 0. `EINVAL`
/// for another `who`, `EFAULT` for a bad buffer.
pub fn sys_getrusage(who: i64, ru: UserPtr<crate::exit::Rusage>) -> SysResult {
    let who = who as i32 as i64;
    let me = current();
    let (u, s) = match who {
        RUSAGE_SELF => me.signal.thread_group_cputime(),
        RUSAGE_THREAD => (
            me.utime.load(core::sync::atomic::Ordering::Relaxed),
            me.stime.load(core::sync::atomic::Ordering::Relaxed),
        ),
        RUSAGE_CHILDREN => {
            let i = me.signal.inner.lock();
            (i.cutime, i.cstime)
        }
        _ => return Err(EINVAL),
    };
    let mut r: crate::exit::Rusage = [0; 144];
    // ru_utime and ru_stime: struct timeval, seconds and microseconds.
    for (at, ns) in [(0, u), (16, s)] {
        r[at..at + 8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_le_bytes());
        r[at + 8..at + 16].copy_from_slice(&((ns % 1_000_000_000 / 1000) as i64).to_le_bytes());
    }
    ru.write(&r)?;
    Ok(0)
}

/// `getgroups(size, list)` (Linux `groups_search`'s `getgroups` in `kernel/groups.c`):
/// root belongs to no supplementary group, so 0, with `list` untouched; `EINVAL` for
/// a negative size.
pub fn sys_getgroups(size: u64, _list: UserPtr<u32>) -> SysResult {
    if (size as i32) < 0 {
        return Err(EINVAL);
    }
    Ok(0)
}

/// `prctl` options forkos has (Linux `include/uapi/linux/prctl.h`).
const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;

/// `prctl(option, ...)` (Linux `SYSCALL_DEFINE5(prctl)`): `PR_SET_NAME` names the
/// calling thread (15 bytes kept; `EFAULT` for a bad string), `PR_GET_NAME` copies its
/// 16-byte name out (`EFAULT`); every other option is `EINVAL`, Linux's answer for an
/// option it does not know (forkos has none of the rest).
pub fn sys_prctl(option: u64, arg2: u64) -> SysResult {
    let me = current();
    match option as i32 as u64 {
        PR_SET_NAME => {
            // Linux `strncpy_from_user(comm, arg2, sizeof(comm) - 1)`.
            let mut comm = [0u8; 16];
            let src: UserPtr<u8> = UserPtr::new(arg2);
            let mut n = 0;
            while n < 15 {
                let mut b = [0u8; 1];
                if mm::uaccess::raw_copy_from_user(&mut b, src.add(n)) != 0 {
                    return Err(EFAULT);
                }
                if b[0] == 0 {
                    break;
                }
                comm[n] = b[0];
                n += 1;
            }
            me.set_comm_bytes(&comm[..n]);
            Ok(0)
        }
        PR_GET_NAME => {
            let (c, _) = me.comm();
            let mut out = [0u8; 16];
            out.copy_from_slice(&c[..16]);
            mm::uaccess::copy_to_user(UserPtr::new(arg2), &out)?;
            Ok(0)
        }
        _ => Err(EINVAL),
    }
}
