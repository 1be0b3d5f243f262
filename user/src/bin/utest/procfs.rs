//! `/proc` (Linux `fs/proc/`), `mount`, and the small syscalls busybox needs (`times`,
//! `getrusage`, `getgroups`, `prctl`, `restart_syscall`, `rseq`), each checked against
//! Linux 6.1. The tests mount `/proc` themselves when it is not there yet, so that they
//! run as init on Linux's bare initramfs too.

use core::sync::atomic::{AtomicU32, Ordering::SeqCst};

use forkos_user::sys::{self, nr};

use crate::util::*;

const EPERM: isize = 1;
const ENOENT: isize = 2;
const EINTR: isize = 4;
const EAGAIN: isize = 11;
const EFAULT: isize = 14;
const EBUSY: isize = 16;
const ENOTDIR: isize = 20;
const EPIPE: isize = 32;
const EINVAL: isize = 22;
const ENODEV: isize = 19;
const AT: usize = sys::AT_FDCWD as usize;
/// An address never mapped in a test process.
const BAD: usize = 0x10;

fn call(n: usize, a: [usize; 6]) -> isize {
    sys::syscall(n, a)
}

fn mount(dev: &core::ffi::CStr, dir: usize, fstype: usize, flags: usize, data: usize) -> isize {
    call(
        nr::MOUNT,
        [dev.as_ptr() as usize, dir, fstype, flags, data, 0],
    )
}

/// Mount /proc, unless an earlier test in this process did.
fn mount_proc() -> T {
    let mut b = [0u8; 16];
    if readlink(b"/proc/self\0", &mut b) > 0 {
        return Ok(());
    }
    let r = mount(
        c"proc",
        c"/proc".as_ptr() as usize,
        c"proc".as_ptr() as usize,
        0,
        0,
    );
    check_eq!(r, 0, "mount -t proc proc /proc");
    Ok(())
}

/// A file read whole into `buf`: its length, or the error.
fn read_file(path: &[u8], buf: &mut [u8]) -> isize {
    let fd = call(nr::OPENAT, [AT, path.as_ptr() as usize, 0, 0, 0, 0]);
    if fd < 0 {
        return fd;
    }
    let mut n = 0;
    loop {
        let r = sys::read(fd as i32, &mut buf[n..]);
        if r <= 0 {
            sys::close(fd as i32);
            return if r < 0 { r } else { n as isize };
        }
        n += r as usize;
    }
}

fn readlink(path: &[u8], buf: &mut [u8]) -> isize {
    call(
        nr::READLINKAT,
        [
            AT,
            path.as_ptr() as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            0,
            0,
        ],
    )
}

/// `"/proc/N/<file>\0"` in `buf`.
fn pid_path<'a>(buf: &'a mut [u8; 64], pid: i32, file: &str) -> &'a [u8] {
    let mut w = Cursor {
        buf: &mut buf[..],
        at: 0,
    };
    let _ = core::fmt::write(&mut w, format_args!("/proc/{pid}/{file}\0"));
    let at = w.at;
    &buf[..at]
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let b = s.as_bytes();
        let end = (self.at + b.len()).min(self.buf.len());
        self.buf[self.at..end].copy_from_slice(&b[..end - self.at]);
        self.at = end;
        Ok(())
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `mount(2)`'s errors, in Linux's order: the type string first, then the mount point,
/// then the flags, then the type; and proc over its own root is `EBUSY`.
pub fn mount_errors() -> T {
    let proc_dir = c"/proc".as_ptr() as usize;
    let proc_type = c"proc".as_ptr() as usize;
    check_eq!(
        mount(c"x", proc_dir, BAD, 0, 0),
        -EFAULT,
        "bad type pointer"
    );
    check_eq!(
        mount(c"x", BAD, proc_type, 0, 0),
        -EFAULT,
        "bad directory pointer"
    );
    check_eq!(
        mount(c"x", proc_dir, proc_type, 0, BAD),
        -EFAULT,
        "bad data pointer"
    );
    check_eq!(
        mount(c"x", c"/no/such".as_ptr() as usize, proc_type, 0, 0),
        -ENOENT,
        "no such mount point"
    );
    check_eq!(
        mount(c"x", c"/no/such".as_ptr() as usize, BAD, 0, 0),
        -EFAULT,
        "a bad type before a missing directory"
    );
    check_eq!(
        mount(c"x", c"/dev/null/x".as_ptr() as usize, proc_type, 0, 0),
        -ENOTDIR,
        "a path through a file"
    );
    check_eq!(mount(c"x", proc_dir, 0, 0, 0), -EINVAL, "no type");
    check_eq!(
        mount(c"x", proc_dir, c"nosuchfs".as_ptr() as usize, 0, 0),
        -ENODEV,
        "unknown type"
    );
    check_eq!(
        mount(c"x", proc_dir, proc_type, 1 << 31, 0),
        -EINVAL,
        "MS_NOUSER"
    );
    check_eq!(
        mount(c"x", c"/dev/null".as_ptr() as usize, proc_type, 0, 0),
        -ENOTDIR,
        "proc over a file"
    );
    mount_proc()?;
    // Each proc mount is a new one: a second over the first hides it (no EBUSY).
    check_eq!(
        mount(c"proc", proc_dir, proc_type, 0, 0),
        0,
        "proc over proc"
    );
    let mut l = [0u8; 16];
    check!(
        readlink(b"/proc/self\0", &mut l) > 0,
        "/proc/self in the second mount"
    );
    let mut b = [0u8; 4096];
    let n = read_file(b"/proc/mounts\0", &mut b);
    check!(
        n > 0 && contains(&b[..n as usize], b"proc /proc proc rw"),
        "/proc/mounts lists /proc"
    );
    Ok(())
}

/// `/proc/self` is the reader's pid; `stat`, `status`, `comm` and `cmdline` say who it
/// is, in Linux's formats.
pub fn proc_self_files() -> T {
    mount_proc()?;
    let c = child(|| {
        let me = sys::getpid() as i32;
        let mut link = [0u8; 32];
        let n = readlink(b"/proc/self\0", &mut link);
        let mut want = [0u8; 64];
        let mut w = Cursor {
            buf: &mut want[..],
            at: 0,
        };
        let _ = core::fmt::write(&mut w, format_args!("{me}"));
        let wl = w.at;
        check_eq!(
            &link[..n.max(0) as usize],
            &want[..wl],
            "readlink /proc/self"
        );
        let mut b = [0u8; 4096];
        let n = read_file(b"/proc/self/stat\0", &mut b) as usize;
        let mut w = Cursor {
            buf: &mut want[..],
            at: 0,
        };
        let _ = core::fmt::write(&mut w, format_args!("{me} ("));
        let wl = w.at;
        check!(b.starts_with(&want[..wl]), "stat starts with the pid and (");
        check!(contains(&b[..n], b") R 1 "), "stat: running, parent 1");
        check_eq!(b[n - 1], b'\n', "stat ends with a newline");
        check_eq!(
            b[..n].iter().filter(|&&c| c == b' ').count(),
            51,
            "stat has 52 fields"
        );
        let n = read_file(b"/proc/self/status\0", &mut b) as usize;
        check!(
            contains(&b[..n], b"\nState:\tR (running)\n"),
            "status State"
        );
        check!(contains(&b[..n], b"\nPPid:\t1\n"), "status PPid");
        check!(contains(&b[..n], b"\nThreads:\t1\n"), "status Threads");
        // PR_SET_NAME shows in comm, stat and status.
        check_eq!(
            call(nr::PRCTL, [15, c"renamed".as_ptr() as usize, 0, 0, 0, 0]),
            0,
            "PR_SET_NAME"
        );
        let n = read_file(b"/proc/self/comm\0", &mut b) as usize;
        check_eq!(&b[..n], b"renamed\n", "comm");
        let n = read_file(b"/proc/self/stat\0", &mut b) as usize;
        check!(contains(&b[..n], b" (renamed) "), "stat's comm");
        // cmdline: the arguments, each with its NUL, argv[0] first.
        let n = read_file(b"/proc/self/cmdline\0", &mut b) as usize;
        check!(
            b[..n].starts_with(self_path()),
            "cmdline starts with argv[0] and its NUL"
        );
        check_eq!(b[n - 1], 0, "cmdline ends with a NUL");
        check!(
            b[..n].iter().filter(|&&c| c == 0).count() >= 2,
            "cmdline has the test's name too"
        );
        Ok(())
    })?;
    expect_ok(c)
}

/// A stopped task is `T (stopped)` in `status` and `T` in `stat`; a sleeping one `S`;
/// a zombie `Z`; a reaped one has no directory.
pub fn proc_status_states() -> T {
    mount_proc()?;
    let pid = child_code(|| loop {
        sys::sleep_ms(1000);
    })?;
    let mut p = [0u8; 64];
    let mut b = [0u8; 4096];
    let path = pid_path(&mut p, pid, "status");
    let state = |b: &mut [u8; 4096], want: &[u8]| {
        let n = read_file(path, b);
        n > 0 && contains(&b[..n as usize], want)
    };
    check!(
        spin_until(2000, || state(&mut b, b"\nState:\tS (sleeping)\n")),
        "sleeping child is S"
    );
    check_eq!(sys::kill(pid, sys::SIGSTOP), 0, "SIGSTOP");
    let mut st = 0;
    check_eq!(
        sys::wait4(pid, &mut st, sys::WUNTRACED),
        pid as isize,
        "wait4 WUNTRACED"
    );
    check!(
        state(&mut b, b"\nState:\tT (stopped)\n"),
        "stopped child is T"
    );
    let mut q = [0u8; 64];
    let n = read_file(pid_path(&mut q, pid, "stat"), &mut b) as usize;
    check!(contains(&b[..n], b") T "), "stat says T");
    check_eq!(sys::kill(pid, sys::SIGKILL), 0, "SIGKILL");
    check!(
        spin_until(2000, || state(&mut b, b"\nState:\tZ (zombie)\n")),
        "killed child is Z"
    );
    // A zombie has no memory: an empty cmdline.
    let mut q = [0u8; 64];
    check_eq!(
        read_file(pid_path(&mut q, pid, "cmdline"), &mut b),
        0,
        "a zombie's cmdline"
    );
    check_eq!(wait(pid)?, killed(sys::SIGKILL), "status");
    check_eq!(read_file(path, &mut b), -ENOENT, "a reaped pid's status");
    Ok(())
}

/// getdents64 of /proc lists `self` and the pids of live processes.
pub fn proc_readdir_lists_pids() -> T {
    mount_proc()?;
    let pid = child_code(|| loop {
        sys::sleep_ms(1000);
    })?;
    let fd = call(
        nr::OPENAT,
        [
            AT,
            c"/proc".as_ptr() as usize,
            sys::O_DIRECTORY as usize,
            0,
            0,
            0,
        ],
    );
    check!(fd >= 0, "open /proc: {fd}");
    let mut buf = [0u8; 8192];
    let mut names_seen = (false, false, false);
    let mut want = [0u8; 16];
    let mut w = Cursor {
        buf: &mut want[..],
        at: 0,
    };
    let _ = core::fmt::write(&mut w, format_args!("{pid}"));
    let wl = w.at;
    for_each_dirent(fd as i32, &mut buf, |name, _, _| {
        if name == b"self" {
            names_seen.0 = true;
        }
        if name == b"1" {
            names_seen.1 = true;
        }
        if name == &want[..wl] {
            names_seen.2 = true;
        }
        Ok(())
    })?;
    sys::close(fd as i32);
    sys::kill(pid, sys::SIGKILL);
    wait(pid)?;
    check_eq!(
        names_seen,
        (true, true, true),
        "self, 1 and the child listed"
    );
    Ok(())
}

/// maps: the child of a fork shows the parent's mappings line for line; a
/// copy-on-write fault changes no line; `mprotect` of a middle page splits a line in
/// three, in the child only.
pub fn proc_maps_fork_cow() -> T {
    mount_proc()?;
    let p = map(3 * PAGE, RW, sys::MAP_PRIVATE)?;
    // SAFETY: p is ours, mapped read-write just above.
    unsafe { (p as *mut u8).write_volatile(1) };
    static mut BEFORE: [u8; 8192] = [0; 8192];
    // SAFETY: one test at a time uses BEFORE; the child reads its own copy.
    let before = unsafe { &mut *core::ptr::addr_of_mut!(BEFORE) };
    let n = read_file(b"/proc/self/maps\0", before) as usize;
    check!(n > 0, "read maps");
    let mut line = [0u8; 64];
    let mut w = Cursor {
        buf: &mut line[..],
        at: 0,
    };
    let _ = core::fmt::write(
        &mut w,
        format_args!("{:08x}-{:08x} rw-p 00000000 00:00 0 \n", p, p + 3 * PAGE),
    );
    let ll = w.at;
    check!(contains(&before[..n], &line[..ll]), "the mapping's line");
    let c = child(|| {
        let mut b = [0u8; 8192];
        let m = read_file(b"/proc/self/maps\0", &mut b) as usize;
        check_eq!(&b[..m], &before[..n], "the child's maps are the parent's");
        // SAFETY: the child's copy of p (copy-on-write until this write).
        unsafe { (p as *mut u8).write_volatile(2) };
        let m = read_file(b"/proc/self/maps\0", &mut b) as usize;
        check_eq!(&b[..m], &before[..n], "maps after a copy-on-write fault");
        check_eq!(
            call(nr::MPROTECT, [p + PAGE, PAGE, sys::PROT_READ, 0, 0, 0]),
            0,
            "mprotect"
        );
        let m = read_file(b"/proc/self/maps\0", &mut b) as usize;
        let mut l = [0u8; 64];
        let mut w = Cursor {
            buf: &mut l[..],
            at: 0,
        };
        let _ = core::fmt::write(
            &mut w,
            format_args!("{:08x}-{:08x} r--p", p + PAGE, p + 2 * PAGE),
        );
        let ll = w.at;
        check!(contains(&b[..m], &l[..ll]), "the split's middle line");
        Ok(())
    })?;
    expect_ok(c)?;
    let mut b = [0u8; 8192];
    let m = read_file(b"/proc/self/maps\0", &mut b) as usize;
    check_eq!(
        &b[..m],
        &before[..n],
        "the parent's maps after the child's changes"
    );
    check_eq!(call(nr::MUNMAP, [p, 3 * PAGE, 0, 0, 0, 0]), 0, "munmap");
    Ok(())
}

/// `/proc/self/exe` is a link to the program: readlink names it, and execve through
/// it runs it again.
pub fn proc_exe_exec() -> T {
    mount_proc()?;
    let mut b = [0u8; 256];
    let n = readlink(b"/proc/self/exe\0", &mut b);
    check!(n > 1 && b[0] == b'/', "readlink /proc/self/exe: {n}");
    let pid = child_code(|| {
        let argv = [
            c"again".as_ptr() as usize,
            c"exit".as_ptr() as usize,
            c"33".as_ptr() as usize,
            0,
        ];
        let env = [0usize];
        call(
            nr::EXECVE,
            [
                c"/proc/self/exe".as_ptr() as usize,
                argv.as_ptr() as usize,
                env.as_ptr() as usize,
                0,
                0,
                0,
            ],
        ) as i32
    })?;
    check_eq!(wait(pid)?, exited(33), "execve(/proc/self/exe)");
    Ok(())
}

/// times, getrusage and getgroups: their errors, and CPU time that is counted.
pub fn times_getrusage_getgroups() -> T {
    check_eq!(call(nr::TIMES, [BAD, 0, 0, 0, 0, 0]), -EFAULT, "times(bad)");
    check!(
        call(nr::TIMES, [0, 0, 0, 0, 0, 0]) > 0,
        "times(NULL) returns the clock"
    );
    let mut ru = [0i64; 18];
    let rp = ru.as_mut_ptr() as usize;
    check_eq!(
        call(nr::GETRUSAGE, [2, rp, 0, 0, 0, 0]),
        -EINVAL,
        "getrusage(2)"
    );
    check_eq!(
        call(nr::GETRUSAGE, [(-2isize) as usize, rp, 0, 0, 0, 0]),
        -EINVAL,
        "getrusage(-2)"
    );
    check_eq!(
        call(nr::GETRUSAGE, [0, BAD, 0, 0, 0, 0]),
        -EFAULT,
        "getrusage(bad)"
    );
    for who in [0usize, 1, (-1isize) as usize] {
        check_eq!(
            call(nr::GETRUSAGE, [who, rp, 0, 0, 0, 0]),
            0,
            "getrusage({who})"
        );
    }
    // A child that spins for 300 ms of user time: its parent's children's time grows.
    let mut t0 = [0i64; 4];
    let clock0 = call(nr::TIMES, [t0.as_mut_ptr() as usize, 0, 0, 0, 0, 0]);
    let pid = child_code(|| {
        let end = now_ns() + 300_000_000;
        while now_ns() < end {
            core::hint::spin_loop();
        }
        0
    })?;
    expect_ok(pid)?;
    let mut t1 = [0i64; 4];
    let clock1 = call(nr::TIMES, [t1.as_mut_ptr() as usize, 0, 0, 0, 0, 0]);
    let children = (t1[2] + t1[3]) - (t0[2] + t0[3]);
    // Ticks charge the time since the last one to whoever runs then, so on a busy host,
    // which runs the guest unevenly, the child's share can be more or less than its
    // 300 ms; but it is there, and within the time that passed (and a tick more).
    let passed = (clock1 - clock0) as i64;
    check!(passed >= 30, "times' clock moved {passed} ticks in 300 ms");
    check!(
        children >= 1 && children <= passed + 100,
        "children's ticks: {children} of the {passed} that passed"
    );
    check_eq!(
        call(nr::GETGROUPS, [(-1isize) as usize, 0, 0, 0, 0, 0]),
        -EINVAL,
        "getgroups(-1)"
    );
    check_eq!(
        call(nr::GETGROUPS, [0, BAD, 0, 0, 0, 0]),
        0,
        "getgroups(0): no groups"
    );
    check_eq!(
        call(nr::GETGROUPS, [4, BAD, 0, 0, 0, 0]),
        0,
        "getgroups(4, bad): nothing to write"
    );
    Ok(())
}

/// prctl names the thread (15 bytes kept) and refuses what it does not know;
/// restart_syscall with nothing to restart is EINTR.
pub fn prctl_name_and_restart_syscall() -> T {
    let c = child(|| {
        let mut name = [0xffu8; 16];
        let np = name.as_mut_ptr() as usize;
        check_eq!(
            call(
                nr::PRCTL,
                [15, c"a-long-name-of-twenty".as_ptr() as usize, 0, 0, 0, 0]
            ),
            0,
            "PR_SET_NAME"
        );
        check_eq!(call(nr::PRCTL, [16, np, 0, 0, 0, 0]), 0, "PR_GET_NAME");
        check_eq!(&name, b"a-long-name-of-\0", "15 bytes and a NUL");
        check_eq!(
            call(nr::PRCTL, [15, BAD, 0, 0, 0, 0]),
            -EFAULT,
            "PR_SET_NAME(bad)"
        );
        check_eq!(
            call(nr::PRCTL, [16, BAD, 0, 0, 0, 0]),
            -EFAULT,
            "PR_GET_NAME(bad)"
        );
        check_eq!(
            call(nr::PRCTL, [0x7fff_0000, 0, 0, 0, 0, 0]),
            -EINVAL,
            "unknown option"
        );
        check_eq!(call(nr::RESTART_SYSCALL, [0; 6]), -EINTR, "restart_syscall");
        Ok(())
    })?;
    expect_ok(c)
}

/// The registered area (32 bytes, 32-byte aligned), as `struct rseq`.
#[repr(C, align(32))]
struct RseqArea {
    cpu_id_start: AtomicU32,
    cpu_id: AtomicU32,
    rseq_cs: u64,
    flags: u32,
    _pad: [u32; 3],
}

const RSEQ_SIG: usize = 0x5305_3053;

/// rseq: registration's errors, `cpu_id` kept equal to the CPU, and unregistration.
pub fn rseq_register_errors() -> T {
    let c = child(|| {
        // SAFETY (of the statics below): only this child uses them.
        static mut AREA: RseqArea = RseqArea {
            cpu_id_start: AtomicU32::new(7),
            cpu_id: AtomicU32::new(u32::MAX),
            rseq_cs: 0,
            flags: 0,
            _pad: [0; 3],
        };
        let a = core::ptr::addr_of_mut!(AREA) as usize;
        let rseq = |p: usize, len: usize, flags: usize, sig: usize| {
            call(nr::RSEQ, [p, len, flags, sig, 0, 0])
        };
        // glibc may have registered one already (not this program): none here.
        check_eq!(
            rseq(a, 32, 1, RSEQ_SIG),
            -EINVAL,
            "unregister with none registered"
        );
        check_eq!(rseq(a + 8, 32, 0, RSEQ_SIG), -EINVAL, "misaligned");
        check_eq!(rseq(a, 16, 0, RSEQ_SIG), -EINVAL, "short");
        check_eq!(rseq(a, 32, 2, RSEQ_SIG), -EINVAL, "unknown flag");
        check_eq!(
            rseq(0xffff_0000_0000_0000, 32, 0, RSEQ_SIG),
            -EFAULT,
            "kernel address"
        );
        check_eq!(rseq(a, 32, 0, RSEQ_SIG), 0, "register");
        // SAFETY: AREA is registered; the kernel writes it on our way back.
        let area = unsafe { &*core::ptr::addr_of!(AREA) };
        let mut cpu = 0u32;
        call(nr::GETCPU, [&mut cpu as *mut u32 as usize, 0, 0, 0, 0, 0]);
        check_eq!(area.cpu_id.load(SeqCst), cpu, "cpu_id");
        check_eq!(area.cpu_id_start.load(SeqCst), cpu, "cpu_id_start");
        check_eq!(rseq(a, 32, 0, RSEQ_SIG), -EBUSY, "the same again");
        check_eq!(
            rseq(a, 32, 0, RSEQ_SIG + 1),
            -EPERM,
            "the same, another signature"
        );
        check_eq!(rseq(a + 32, 32, 0, RSEQ_SIG), -EINVAL, "another area");
        check_eq!(
            rseq(a, 32, 1 | 2, RSEQ_SIG),
            -EINVAL,
            "unregister with another flag"
        );
        check_eq!(
            rseq(a, 32, 1, RSEQ_SIG + 1),
            -EPERM,
            "unregister, another signature"
        );
        check_eq!(
            rseq(a, 64, 1, RSEQ_SIG),
            -EINVAL,
            "unregister, another length"
        );
        // A fork keeps the registration: the child's copy is kept up to date too.
        let c = child(|| {
            check_eq!(rseq(a, 32, 0, RSEQ_SIG), -EBUSY, "registered in the child");
            Ok(())
        })?;
        expect_ok(c)?;
        check_eq!(rseq(a, 32, 1, RSEQ_SIG), 0, "unregister");
        check_eq!(
            area.cpu_id.load(SeqCst),
            u32::MAX,
            "cpu_id uninitialised again"
        );
        check_eq!(area.cpu_id_start.load(SeqCst), 0, "cpu_id_start 0 again");
        check_eq!(rseq(a, 32, 1, RSEQ_SIG), -EINVAL, "unregister twice");
        Ok(())
    })?;
    expect_ok(c)
}

static SIGNALLED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_sig: i32, _info: *const sys::SigInfo, _uc: *mut u8) {
    SIGNALLED.fetch_add(1, SeqCst);
}

/// A signal delivered inside a critical section returns to its abort handler, not to
/// where it came (Linux `rseq_signal_deliver` -> `rseq_ip_fixup`): the section here
/// spins for ever, so only the abort ends it.
pub fn rseq_signal_aborts_critical_section() -> T {
    let c = child(|| {
        static mut AREA: RseqArea = RseqArea {
            cpu_id_start: AtomicU32::new(0),
            cpu_id: AtomicU32::new(u32::MAX),
            rseq_cs: 0,
            flags: 0,
            _pad: [0; 3],
        };
        let a = core::ptr::addr_of_mut!(AREA) as usize;
        check_eq!(call(nr::RSEQ, [a, 32, 0, RSEQ_SIG, 0, 0]), 0, "register");
        check_eq!(
            sys::set_handler(sys::SIGUSR1, on_usr1 as *const () as usize, sys::SA_SIGINFO),
            0,
            "handler"
        );
        let me = sys::getpid() as i32;
        let killer = child_code(|| {
            sys::sleep_ms(100);
            sys::kill(me, sys::SIGUSR1) as i32
        })?;
        // A preemption may abort the section before the signal comes (Linux too): go
        // in again until the signal has come and the section was left once more.
        let mut aborted: u64 = 0;
        while SIGNALLED.load(SeqCst) == 0 {
            // SAFETY: the section's descriptor lives in the text, after the code; the
            // abort handler is preceded by the signature, as rseq requires, and leaves
            // x0 = 1. The spin loop touches no memory.
            unsafe {
                core::arch::asm!(
                    "adr {t}, 3f",
                    "str {t}, [{area}, #8]",
                    "2:",
                    "b 2b",
                    "4:",
                    "mov x0, #0",
                    "b 6f",
                    ".long {sig}",
                    "5:",
                    "mov x0, #1",
                    "b 6f",
                    ".p2align 3",
                    "3:",
                    ".long 0, 0",
                    ".quad 2b, 4b - 2b, 5b",
                    "6:",
                    area = in(reg) a,
                    t = out(reg) _,
                    sig = const RSEQ_SIG,
                    out("x0") aborted,
                );
            }
        }
        check_eq!(aborted, 1, "left through the abort handler");
        check_eq!(SIGNALLED.load(SeqCst), 1, "the handler ran");
        // SAFETY: AREA is this child's; the kernel wrote it on the way back to user
        // space, not now.
        let cs = unsafe { core::ptr::addr_of!(AREA.rseq_cs).read_volatile() };
        check_eq!(cs, 0, "rseq_cs cleared");
        check_eq!(wait(killer)?, exited(0), "the killer");
        check_eq!(call(nr::RSEQ, [a, 32, 1, RSEQ_SIG, 0, 0]), 0, "unregister");
        Ok(())
    })?;
    expect_ok(c)
}

/// A sleep stopped and continued goes on for the time that was left, through
/// `restart_syscall` (Linux `ERESTART_RESTARTBLOCK`, `hrtimer_nanosleep_restart`, which
/// keeps the first expiry): a 2 s sleep stopped from 300 ms on for 2.5 s has run out
/// when it is continued, and ends at once; a sleep started again would take 2 s more.
/// Only that difference is timed, with room for a busy host.
pub fn nanosleep_resumes_after_stop() -> T {
    let pid = child_code(|| {
        let t0 = now_ns();
        let req = sys::Timespec {
            tv_sec: 2,
            tv_nsec: 0,
        };
        let r = sys::nanosleep(&req, core::ptr::null_mut());
        let took = (now_ns() - t0) / 1_000_000;
        if r != 0 {
            return 2;
        }
        // At least the time asked for.
        if took >= 2000 {
            0
        } else {
            3
        }
    })?;
    sys::sleep_ms(300);
    check_eq!(sys::kill(pid, sys::SIGSTOP), 0, "SIGSTOP");
    sys::sleep_ms(2500);
    let t1 = now_ns();
    check_eq!(sys::kill(pid, sys::SIGCONT), 0, "SIGCONT");
    check_eq!(wait(pid)?, exited(0), "the sleeper's verdict");
    let after = (now_ns() - t1) / 1_000_000;
    check!(
        after < 1500,
        "the sleep ended {after} ms after SIGCONT, as one started again would"
    );
    Ok(())
}

/// `umount2`: Linux's flag and path errors; a mount in use is `EBUSY` until its last
/// file is closed; `MNT_EXPIRE` marks first (`EAGAIN`) and unmounts the second time;
/// `MNT_DETACH` unmounts at once, even under a working directory inside it.
pub fn umount_busy_expire_detach() -> T {
    let c = child(|| {
        let umount = |p: usize, flags: usize| call(nr::UMOUNT2, [p, flags, 0, 0, 0, 0]);
        let dir = c"/tmp/pm".as_ptr() as usize;
        check_eq!(umount(dir, 16), -EINVAL, "unknown flag");
        check_eq!(umount(BAD, 0), -EFAULT, "bad pointer");
        check_eq!(umount(c"/no/such".as_ptr() as usize, 0), -ENOENT, "missing");
        check_eq!(umount(c"/tmp".as_ptr() as usize, 0), -EINVAL, "not a mount");
        check_eq!(call(nr::MKDIRAT, [AT, dir, 0o755, 0, 0, 0]), 0, "mkdir");
        let proc_type = c"proc".as_ptr() as usize;
        check_eq!(mount(c"proc", dir, proc_type, 0, 0), 0, "mount");
        let fd = call(
            nr::OPENAT,
            [AT, c"/tmp/pm/self/stat".as_ptr() as usize, 0, 0, 0, 0],
        );
        check!(fd >= 0, "open a file in it: {fd}");
        check_eq!(umount(dir, 0), -EBUSY, "busy while a file is open");
        check_eq!(umount(dir, 4), -EBUSY, "MNT_EXPIRE while busy");
        sys::close(fd as i32);
        check_eq!(umount(dir, 4 | 2), -EINVAL, "MNT_EXPIRE with MNT_DETACH");
        check_eq!(umount(dir, 4), -EAGAIN, "MNT_EXPIRE marks");
        check_eq!(umount(dir, 4), 0, "MNT_EXPIRE again unmounts");
        check_eq!(umount(dir, 0), -EINVAL, "no mount left there");
        check_eq!(mount(c"proc", dir, proc_type, 0, 0), 0, "mount again");
        check_eq!(
            call(
                nr::CHDIR,
                [c"/tmp/pm/self".as_ptr() as usize, 0, 0, 0, 0, 0]
            ),
            0,
            "chdir in"
        );
        check_eq!(umount(dir, 0), -EBUSY, "busy under a working directory");
        check_eq!(umount(dir, 2), 0, "MNT_DETACH");
        check_eq!(
            call(nr::CHDIR, [c"/".as_ptr() as usize, 0, 0, 0, 0, 0]),
            0,
            "chdir out"
        );
        let mut b = [0u8; 16];
        check_eq!(
            readlink(b"/tmp/pm/self\0", &mut b),
            -ENOENT,
            "nothing mounted there"
        );
        check_eq!(call(nr::UNLINKAT, [AT, dir, 0x200, 0, 0, 0]), 0, "rmdir");
        Ok(())
    })?;
    expect_ok(c)
}

/// `/proc/self/fd/N` of a pipe opens the same pipe again (Linux `fifo_open`): bytes
/// written through the new file come out of the old read end, end of file comes when
/// every writer, old and new, is closed; an anonymous pipe's writer opens even with no
/// reader and `O_NONBLOCK` (a named FIFO's would be `ENXIO`), and then meets `EPIPE`.
pub fn proc_fd_reopens_pipe() -> T {
    mount_proc()?;
    let c = child(|| {
        let mut fds = [0i32; 2];
        check_eq!(
            call(nr::PIPE2, [fds.as_mut_ptr() as usize, 0, 0, 0, 0, 0]),
            0,
            "pipe2"
        );
        let mut p = [0u8; 64];
        let w_path = pid_path(&mut p, sys::getpid() as i32, "fd/");
        let mut path = [0u8; 64];
        let n = w_path.len() - 1;
        path[..n].copy_from_slice(&w_path[..n]);
        let with_fd = |path: &mut [u8; 64], fd: i32| {
            path[n] = b'0' + fd as u8;
            path[n + 1] = 0;
        };
        with_fd(&mut path, fds[1]);
        let w2 = call(
            nr::OPENAT,
            [AT, path.as_ptr() as usize, sys::O_WRONLY as usize, 0, 0, 0],
        );
        check!(w2 >= 0, "open the write end again: {w2}");
        check_eq!(sys::write(w2 as i32, b"via proc"), 8, "write through it");
        let mut b = [0u8; 16];
        check_eq!(sys::read(fds[0], &mut b), 8, "read from the old end");
        check_eq!(&b[..8], b"via proc", "the same bytes");
        sys::close(fds[1]);
        check_eq!(sys::write(w2 as i32, b"x"), 1, "still a writer");
        sys::close(w2 as i32);
        check_eq!(sys::read(fds[0], &mut b), 1, "the last byte");
        check_eq!(sys::read(fds[0], &mut b), 0, "end of file: no writer left");
        with_fd(&mut path, fds[0]);
        let r2 = call(
            nr::OPENAT,
            [
                AT,
                path.as_ptr() as usize,
                sys::O_RDONLY as usize | sys::O_NONBLOCK as usize,
                0,
                0,
                0,
            ],
        );
        check!(r2 >= 0, "open the read end again: {r2}");
        sys::close(fds[0]);
        sys::close(r2 as i32);
        Ok(())
    })?;
    expect_ok(c)?;
    // No reader left: the writer opens all the same, and its write is EPIPE.
    let c = child(|| {
        let mut fds = [0i32; 2];
        check_eq!(
            call(nr::PIPE2, [fds.as_mut_ptr() as usize, 0, 0, 0, 0, 0]),
            0,
            "pipe2"
        );
        sys::close(fds[0]);
        let mut p = [0u8; 64];
        let path = pid_path(&mut p, sys::getpid() as i32, "fd/");
        let mut q = [0u8; 64];
        let n = path.len() - 1;
        q[..n].copy_from_slice(&path[..n]);
        q[n] = b'0' + fds[1] as u8;
        let flags = sys::O_WRONLY as usize | sys::O_NONBLOCK as usize;
        let w2 = call(nr::OPENAT, [AT, q.as_ptr() as usize, flags, 0, 0, 0]);
        check!(w2 >= 0, "a writer with no reader opens: {w2}");
        check_eq!(
            sys::set_handler(sys::SIGPIPE, sys::SIG_IGN as usize, 0),
            0,
            "ignore SIGPIPE"
        );
        check_eq!(sys::write(w2 as i32, b"x"), -EPIPE, "write: EPIPE");
        sys::close(w2 as i32);
        sys::close(fds[1]);
        Ok(())
    })?;
    expect_ok(c)
}
