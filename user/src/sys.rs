//! Linux arm64 system calls: numbers (asm-generic `unistd.h`), flags, errno values and
//! thin wrappers. Wrappers return the raw result: a value, or `-errno`.

use core::arch::asm;

// The numbers and structs come from forkos-lib's `uapi`, shared with the kernel.
pub use forkos_lib::uapi::clone::*;
pub use forkos_lib::uapi::fcntl::*;
pub use forkos_lib::uapi::futex::*;
pub use forkos_lib::uapi::ioctls::*;
pub use forkos_lib::uapi::nr;
pub use forkos_lib::uapi::ptrace::*;
pub use forkos_lib::uapi::resource::*;
pub use forkos_lib::uapi::siginfo::*;
pub use forkos_lib::uapi::signal::*;
pub use forkos_lib::uapi::stat::{Stat, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
pub use forkos_lib::uapi::sysinfo::Sysinfo;
pub use forkos_lib::uapi::time::*;
pub use forkos_lib::uapi::utsname::NewUtsname;
pub use forkos_lib::uapi::wait::*;
use forkos_lib::uapi::{errno, mman};

/// Re-export constants with the integer type these wrappers use.
macro_rules! retyped {
    ($module:ident as $t:ty: $($name:ident),* $(,)?) => {
        $(pub const $name: $t = $module::$name as $t;)*
    };
}

// errno values as `isize`, to compare with raw results (`r == -EINVAL`).
retyped!(errno as isize: EPERM, ENOENT, ESRCH, EINTR, EIO, E2BIG, EBADF, ECHILD, EAGAIN, ENOMEM, EACCES,
    EFAULT, EEXIST, EINVAL, ENOSYS, ETIMEDOUT);
// mmap arguments as `usize`.
retyped!(mman as usize: PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC, MAP_SHARED, MAP_PRIVATE,
    MAP_FIXED, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_HUGETLB, MAP_HUGE_SHIFT, MADV_DONTNEED);

/// Raw system call with six arguments.
///
/// # Safety
/// The arguments must be valid for the call (pointers to memory the kernel may use).
#[inline(always)]
pub unsafe fn syscall6(
    nr: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    let ret: isize;
    // SAFETY: `svc #0` enters the kernel with the Linux arm64 ABI; the kernel preserves
    // every register but x0 and may read or write memory the arguments point to.
    unsafe {
        asm!("svc #0", in("x8") nr, inlateout("x0") a0 as isize => ret,
             in("x1") a1, in("x2") a2, in("x3") a3, in("x4") a4, in("x5") a5,
             options(nostack));
    }
    ret
}

/// Raw system call with no pointer arguments (safe to issue with any values).
#[inline(always)]
pub fn syscall(nr: usize, args: [usize; 6]) -> isize {
    // SAFETY: the kernel validates every argument; callers pass pointers only through
    // the typed wrappers or accept -EFAULT.
    unsafe { syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5]) }
}

pub fn write(fd: i32, buf: &[u8]) -> isize {
    syscall(
        nr::WRITE,
        [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    syscall(
        nr::READ,
        [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
    )
}

pub fn close(fd: i32) -> isize {
    syscall(nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0])
}

/// `fcntl(fd, cmd, arg)` with an integer `arg`.
pub fn fcntl(fd: i32, cmd: usize, arg: usize) -> isize {
    syscall(nr::FCNTL, [fd as usize, cmd, arg, 0, 0, 0])
}

pub fn exit(code: i32) -> ! {
    syscall(nr::EXIT, [code as usize, 0, 0, 0, 0, 0]);
    unreachable_loop()
}

pub fn exit_group(code: i32) -> ! {
    syscall(nr::EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]);
    unreachable_loop()
}

fn unreachable_loop() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

pub fn getpid() -> isize {
    syscall(nr::GETPID, [0; 6])
}

pub fn getppid() -> isize {
    syscall(nr::GETPPID, [0; 6])
}

pub fn setpgid(pid: i32, pgid: i32) -> isize {
    syscall(nr::SETPGID, [pid as usize, pgid as usize, 0, 0, 0, 0])
}

pub fn getpgid(pid: i32) -> isize {
    syscall(nr::GETPGID, [pid as usize, 0, 0, 0, 0, 0])
}

pub fn getsid(pid: i32) -> isize {
    syscall(nr::GETSID, [pid as usize, 0, 0, 0, 0, 0])
}

pub fn setsid() -> isize {
    syscall(nr::SETSID, [0; 6])
}

pub fn gettid() -> isize {
    syscall(nr::GETTID, [0; 6])
}

pub fn sched_yield() -> isize {
    syscall(nr::SCHED_YIELD, [0; 6])
}

pub fn set_tid_address(tidptr: *mut i32) -> isize {
    syscall(nr::SET_TID_ADDRESS, [tidptr as usize, 0, 0, 0, 0, 0])
}

pub fn kill(pid: i32, sig: i32) -> isize {
    syscall(nr::KILL, [pid as usize, sig as usize, 0, 0, 0, 0])
}

pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> isize {
    syscall(
        nr::TGKILL,
        [tgid as usize, tid as usize, sig as usize, 0, 0, 0],
    )
}

/// `ptrace(request, pid, addr, data)`, the raw syscall: PEEK requests store the word
/// at `data` and return 0 (glibc's wrapper returns the word instead).
pub fn ptrace(request: i64, pid: i32, addr: usize, data: usize) -> isize {
    syscall(
        nr::PTRACE,
        [request as usize, pid as usize, addr, data, 0, 0],
    )
}

/// `wait4(pid, &status, options, NULL)`; the status is written to `*status`.
pub fn wait4(pid: i32, status: *mut i32, options: i32) -> isize {
    syscall(
        nr::WAIT4,
        [pid as usize, status as usize, options as usize, 0, 0, 0],
    )
}

/// A siginfo whose fields waitid sets all hold -1, to see which it wrote.
pub fn siginfo_unset() -> SigInfo {
    SigInfo {
        si_signo: -1,
        si_errno: -1,
        si_code: -1,
        si_pid: -1,
        si_uid: u32::MAX,
        si_status: -1,
        ..SigInfo::default()
    }
}

pub fn waitid(idtype: i32, id: i32, info: *mut SigInfo, options: i32) -> isize {
    syscall(
        nr::WAITID,
        [
            idtype as usize,
            id as usize,
            info as usize,
            options as usize,
            0,
            0,
        ],
    )
}

pub fn nanosleep(req: &Timespec, rem: *mut Timespec) -> isize {
    syscall(
        nr::NANOSLEEP,
        [req as *const _ as usize, rem as usize, 0, 0, 0, 0],
    )
}

pub fn clock_gettime(clock: i32, ts: *mut Timespec) -> isize {
    syscall(nr::CLOCK_GETTIME, [clock as usize, ts as usize, 0, 0, 0, 0])
}

/// Sleep for `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    let ts = Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    nanosleep(&ts, core::ptr::null_mut());
}

pub fn futex(uaddr: *const i32, op: i32, val: i32, timeout: *const Timespec) -> isize {
    syscall(
        nr::FUTEX,
        [
            uaddr as usize,
            op as usize,
            val as usize,
            timeout as usize,
            0,
            0,
        ],
    )
}

pub fn brk(addr: usize) -> isize {
    syscall(nr::BRK, [addr, 0, 0, 0, 0, 0])
}

pub fn mmap(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, off: usize) -> isize {
    syscall(nr::MMAP, [addr, len, prot, flags, fd as usize, off])
}

pub fn munmap(addr: usize, len: usize) -> isize {
    syscall(nr::MUNMAP, [addr, len, 0, 0, 0, 0])
}

pub fn sysinfo(info: *mut Sysinfo) -> isize {
    syscall(nr::SYSINFO, [info as usize, 0, 0, 0, 0, 0])
}

/// `clone(flags, newsp, parent_tid, tls, child_tid)` in arm64 argument order. With
/// `newsp == 0` the child continues on a copy of this stack, so this is only safe for
/// fork-like flags (no `CLONE_VM`); see [`vfork_run`] and [`clone_run`] otherwise.
pub fn clone(
    flags: u64,
    newsp: usize,
    parent_tid: *mut i32,
    tls: usize,
    child_tid: *mut i32,
) -> isize {
    syscall(
        nr::CLONE,
        [
            flags as usize,
            newsp,
            parent_tid as usize,
            tls,
            child_tid as usize,
            0,
        ],
    )
}

/// The tid word glibc's `fork` passes as `child_tid` (its `THREAD_SELF->tid`).
static mut FORK_TID: i32 = 0;

/// `fork()` exactly as glibc 2.36 issues it on arm64.
pub fn fork() -> isize {
    let flags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD as u64;
    clone(
        flags,
        0,
        core::ptr::null_mut(),
        0,
        core::ptr::addr_of_mut!(FORK_TID),
    )
}

/// The word `fork`'s `CLONE_CHILD_SETTID` wrote in this process (the child's tid).
pub fn fork_tid() -> i32 {
    // SAFETY: a plain read of our own static; only the kernel writes it, at fork.
    unsafe { core::ptr::addr_of!(FORK_TID).read_volatile() }
}

/// `clone3(args, size)` for fork-like use (no new stack, no CLONE_VM).
pub fn clone3(args: *const CloneArgs, size: usize) -> isize {
    syscall(nr::CLONE3, [args as usize, size, 0, 0, 0, 0])
}

extern "C" {
    /// `vfork()` as glibc's aarch64 `vfork.S` issues it (`clone(CLONE_VM|CLONE_VFORK|SIGCHLD,
    /// sp)`); the child calls `child()`, which must not return (it exits). Returns the
    /// child's pid (or -errno) in the parent once the child has exited.
    pub fn vfork_run(child: extern "C" fn() -> !) -> isize;
    /// `clone(flags, stack, ptid, tls, ctid)` whose child runs `f(arg)` on `stack` and
    /// then `exit`s with its result, like glibc's `clone()`.
    pub fn clone_run(
        flags: u64,
        stack: usize,
        ptid: *mut i32,
        tls: usize,
        ctid: *mut i32,
        f: extern "C" fn(usize) -> i32,
        arg: usize,
    ) -> isize;
    /// `clone3(args, size)` whose child runs `f(arg)` (on `args.stack` if one is given,
    /// else on a copy of this stack) and then `exit`s with its result.
    pub fn clone3_run(
        args: *const CloneArgs,
        size: usize,
        f: extern "C" fn(usize) -> i32,
        arg: usize,
    ) -> isize;
}

core::arch::global_asm!(
    "
    .text
    .global vfork_run
vfork_run:
    mov     x9, x0
    mov     x0, #{vfork_flags}
    mov     x1, sp
    mov     x2, xzr
    mov     x3, xzr
    mov     x4, xzr
    mov     x8, #{clone}
    svc     #0
    cbnz    x0, 1f
    mov     x29, xzr                // child: on the parent's stack, never returns
    blr     x9
    brk     #1
1:  ret

    .global clone_run
clone_run:                          // x0 flags, x1 stack, x2 ptid, x3 tls, x4 ctid, x5 f, x6 arg
    mov     x10, x5
    mov     x11, x6
    mov     x8, #{clone}
    svc     #0
    cbnz    x0, 1f
    mov     x29, xzr                // child: new stack; run f(arg) then exit(result)
    mov     x0, x11
    blr     x10
    mov     x8, #{exit}
    svc     #0
    brk     #1
1:  ret

    .global clone3_run
clone3_run:                         // x0 args, x1 size, x2 f, x3 arg
    mov     x10, x2
    mov     x11, x3
    mov     x8, #{clone3}
    svc     #0
    cbnz    x0, 1f
    mov     x29, xzr                // child: run f(arg) then exit(result)
    mov     x0, x11
    blr     x10
    mov     x8, #{exit}
    svc     #0
    brk     #1
1:  ret
",
    vfork_flags = const CLONE_VM | CLONE_VFORK | SIGCHLD as u64,
    clone = const nr::CLONE,
    clone3 = const nr::CLONE3,
    exit = const nr::EXIT,
);

extern "C" {
    /// The `sa_restorer` every handler returns through: `rt_sigreturn` (glibc's
    /// `__default_rt_sa_restorer`).
    pub fn sigreturn_trampoline();
}

core::arch::global_asm!(
    "
    .text
    .global sigreturn_trampoline
sigreturn_trampoline:
    mov     x8, #{rt_sigreturn}
    svc     #0
",
    rt_sigreturn = const nr::RT_SIGRETURN,
);

/// `rt_sigaction(sig, act, oact, 8)`.
pub fn sigaction(sig: i32, act: Option<&SigAction>, old: Option<&mut SigAction>) -> isize {
    let a = act.map_or(0, |a| a as *const SigAction as usize);
    let o = old.map_or(0, |o| o as *mut SigAction as usize);
    syscall(nr::RT_SIGACTION, [sig as usize, a, o, 8, 0, 0])
}

/// Install `handler` for `sig` with `flags` (SA_RESTORER added), as glibc's
/// `sigaction` does.
pub fn set_handler(sig: i32, handler: usize, flags: u64) -> isize {
    let act = SigAction {
        handler: handler as u64,
        flags: flags | SA_RESTORER,
        restorer: sigreturn_trampoline as *const () as u64,
        mask: 0,
    };
    sigaction(sig, Some(&act), None)
}

/// `rt_sigprocmask(how, set, oset, 8)`.
pub fn sigprocmask(how: u64, set: Option<u64>, old: Option<&mut u64>) -> isize {
    let s = set.as_ref().map_or(0, |s| s as *const u64 as usize);
    let o = old.map_or(0, |o| o as *mut u64 as usize);
    syscall(nr::RT_SIGPROCMASK, [how as usize, s, o, 8, 0, 0])
}

/// The bit of `sig` in a signal set.
pub const fn sigbit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The flags glibc's `pthread_create` passes to clone (0x3d0f00 with `CLONE_SETTLS`).
pub const PTHREAD_FLAGS: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID;

/// The syscalls forkos implements (the rest are `-ENOSYS`), for the fuzzers.
pub const IMPLEMENTED: &[usize] = &[
    nr::GETCWD,
    nr::DUP,
    nr::DUP3,
    nr::FCNTL,
    nr::IOCTL,
    nr::MKDIRAT,
    nr::UNLINKAT,
    nr::SYMLINKAT,
    nr::LINKAT,
    nr::RENAMEAT,
    nr::FTRUNCATE,
    nr::FACCESSAT,
    nr::CHDIR,
    nr::FCHDIR,
    nr::FCHMOD,
    nr::FCHMODAT,
    nr::FCHOWN,
    nr::OPENAT,
    nr::CLOSE,
    nr::GETDENTS64,
    nr::LSEEK,
    nr::READV,
    nr::PREAD64,
    nr::PWRITE64,
    nr::SENDFILE,
    nr::UTIMENSAT,
    nr::UMASK,
    nr::RENAMEAT2,
    nr::STATX,
    nr::READLINKAT,
    nr::NEWFSTATAT,
    nr::FSTAT,
    nr::READ,
    nr::WRITE,
    nr::WRITEV,
    nr::EXIT,
    nr::EXIT_GROUP,
    nr::WAITID,
    nr::SET_TID_ADDRESS,
    nr::SET_ROBUST_LIST,
    nr::GET_ROBUST_LIST,
    nr::FUTEX,
    nr::NANOSLEEP,
    nr::CLOCK_GETTIME,
    nr::CLOCK_NANOSLEEP,
    nr::SCHED_YIELD,
    nr::KILL,
    nr::TKILL,
    nr::TGKILL,
    nr::RT_SIGACTION,
    nr::RT_SIGPROCMASK,
    nr::RT_SIGRETURN,
    nr::UNAME,
    nr::GETPID,
    nr::GETPPID,
    nr::GETTID,
    nr::SYSINFO,
    nr::BRK,
    nr::MUNMAP,
    nr::CLONE,
    nr::EXECVE,
    nr::MMAP,
    nr::MPROTECT,
    nr::MADVISE,
    nr::WAIT4,
    nr::PRLIMIT64,
    nr::GETRANDOM,
    nr::CLONE3,
];
