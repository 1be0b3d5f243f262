//! Small syscalls about the system and the process (Linux `kernel/sys.c`): `getppid`,
//! `uname`, `sysinfo`, `prlimit64`, `getcpu`.

use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::pid::PID_TABLE;
use crate::resource::*;
use crate::task::{current, current_arc};
use crate::{mm, time};
use forkos_lib::uapi::sysinfo::Sysinfo;
use forkos_lib::uapi::utsname::NewUtsname;

// SAFETY: `struct new_utsname` is byte arrays only: no padding, any bytes are valid.
unsafe impl crate::mm::uaccess::Pod for NewUtsname {}
// SAFETY: `struct sysinfo` is integers with its padding written out as fields.
unsafe impl crate::mm::uaccess::Pod for Sysinfo {}

/// `getppid()`: the thread group id of the real parent; 0 for init.
pub fn sys_getppid() -> i64 {
    let me = &current();
    // Threads share the leader's parent.
    let leader = if me.is_group_leader() {
        None
    } else {
        PID_TABLE.lock().find(me.tgid)
    };
    let parent = match &leader {
        Some(l) => l.inner.lock().parent.upgrade(),
        None => me.inner.lock().parent.upgrade(),
    };
    parent.map_or(0, |p| p.tgid as i64)
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
