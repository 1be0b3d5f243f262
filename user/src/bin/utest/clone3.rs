//! clone3(): the struct-size rules, argument validation and the success paths.

use crate::util::{
    exited, expect_status, map, wait_opts, Stack, PAGE, PTHREAD_FLAGS, RW, STACK_SIZE, T,
};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI32, AtomicI64, Ordering::SeqCst};
use forkos_user::sys::{self, CloneArgs, E2BIG, ECHILD, EEXIST, EFAULT, EINVAL};

const SIZE: usize = core::mem::size_of::<CloneArgs>();

/// A child made by a clone3 that should have failed exits 99 at once.
extern "C" fn stray(_: usize) -> i32 {
    99
}

/// clone3(args, size), which must fail with `-err`; reaps a child created by mistake.
fn expect_err(args: *const CloneArgs, size: usize, err: isize, what: &str) -> T {
    // SAFETY: a child created by mistake runs `stray` and exits at once.
    let r = unsafe { sys::clone3_run(args, size, stray, 0) };
    if r > 0 {
        sys::sleep_ms(20);
        let _ = sys::wait4(r as i32, null_mut(), sys::WALL);
    }
    check_eq!(r, -err, "clone3({what}, size {size})");
    Ok(())
}

fn fork_args() -> CloneArgs {
    CloneArgs {
        exit_signal: sys::SIGCHLD as u64,
        ..CloneArgs::default()
    }
}

/// clone3 with exit_signal SIGCHLD forks: 0 in the child, its pid in the parent, and
/// the 64-byte (VER0), 80-byte and full sizes are all accepted.
pub fn clone3_fork() -> T {
    for (i, size) in [64, 80, SIZE].into_iter().enumerate() {
        let args = fork_args();
        let pid = sys::clone3(&args, size);
        if pid == 0 {
            sys::exit_group(10 + i as i32);
        }
        check!(pid > 0, "clone3(size {size}): expected a pid, got {pid}");
        expect_status(pid as i32, exited(10 + i as i32))?;
    }
    Ok(())
}

/// clone3's parent_tid / child_tid: CLONE_PARENT_SETTID writes the parent's word,
/// CLONE_CHILD_SETTID the child's.
pub fn clone3_settid() -> T {
    let mut ptid = -1i32;
    let mut ctid = -1i32;
    let args = CloneArgs {
        flags: sys::CLONE_PARENT_SETTID | sys::CLONE_CHILD_SETTID,
        parent_tid: &mut ptid as *mut i32 as u64,
        child_tid: &mut ctid as *mut i32 as u64,
        ..fork_args()
    };
    let pid = sys::clone3(&args, SIZE);
    if pid == 0 {
        // SAFETY: volatile reads of this (copied) frame's locals.
        let c = unsafe { core::ptr::read_volatile(&ctid) };
        sys::exit_group(if c as isize == sys::getpid() { 0 } else { 10 });
    }
    check!(pid > 0, "clone3: expected a pid, got {pid}");
    // SAFETY: as above.
    let (p, c) = unsafe {
        (
            core::ptr::read_volatile(&ptid),
            core::ptr::read_volatile(&ctid),
        )
    };
    check_eq!(p as isize, pid, "parent_tid in the parent");
    check_eq!(c, -1, "child_tid in the parent");
    check_eq!(
        wait_opts(pid as i32, 0)?,
        exited(0),
        "child (exit 10: child_tid was not its pid)"
    );
    Ok(())
}

/// A clone3 child with exit_signal 0 is only seen by wait4 with __WALL/__WCLONE.
pub fn clone3_exit_signal_zero() -> T {
    let args = CloneArgs::default();
    let pid = sys::clone3(&args, SIZE);
    if pid == 0 {
        sys::exit_group(3);
    }
    check!(pid > 0, "clone3(exit_signal 0): expected a pid, got {pid}");
    check_eq!(
        sys::wait4(pid as i32, null_mut(), 0),
        -ECHILD,
        "wait4(pid, 0)"
    );
    check_eq!(
        wait_opts(pid as i32, sys::WALL)?,
        exited(3),
        "wait4(pid, __WALL)"
    );
    Ok(())
}

static TID: AtomicI32 = AtomicI32::new(0);
static SEEN: [AtomicI64; 4] = [const { AtomicI64::new(0) }; 4];

/// A pthread-like clone3 thread: stack is the low end (sp starts at stack +
/// stack_size), TLS set, parent_tid written, child_tid cleared and woken at exit.
pub fn clone3_thread() -> T {
    extern "C" fn body(_: usize) -> i32 {
        let local = 0u8;
        let v: u64;
        // SAFETY: reading TPIDR_EL0 has no side effect.
        unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) v) };
        SEEN[0].store(&local as *const u8 as i64, SeqCst);
        SEEN[1].store(v as i64, SeqCst);
        SEEN[2].store(sys::getpid() as i64, SeqCst);
        SEEN[3].store(sys::gettid() as i64, SeqCst);
        0
    }
    let stack = Stack::new()?;
    TID.store(-1, SeqCst);
    let args = CloneArgs {
        flags: PTHREAD_FLAGS & !0xff,
        parent_tid: TID.as_ptr() as u64,
        child_tid: TID.as_ptr() as u64,
        stack: stack.base() as u64,
        stack_size: STACK_SIZE as u64,
        tls: 0x4242_0000,
        ..CloneArgs::default()
    };
    // SAFETY: the thread runs body on its own stack, which outlives it (joined below).
    let tid = unsafe { sys::clone3_run(&args, SIZE, body, 0) };
    check!(tid > 0, "clone3(thread): expected a tid, got {tid}");
    crate::util::join_word(&TID);
    let sp = SEEN[0].load(SeqCst) as usize;
    check!(
        sp > stack.base() && sp < stack.top(),
        "a local of the thread at {sp:#x}, outside its stack"
    );
    check_eq!(SEEN[1].load(SeqCst), 0x4242_0000, "the thread's TPIDR_EL0");
    check_eq!(SEEN[2].load(SeqCst), 1, "the thread's getpid()");
    check_eq!(SEEN[3].load(SeqCst), tid as i64, "the thread's gettid()");
    Ok(())
}

/// clone3 sizes: below 64 is EINVAL, above a page E2BIG; bytes beyond the kernel's
/// struct must be zero (then accepted) or E2BIG.
pub fn clone3_size_rules() -> T {
    let args = fork_args();
    for size in [0, 8, 56, 63] {
        expect_err(&args, size, EINVAL, "size < 64")?;
    }
    for size in [PAGE + 1, 2 * PAGE] {
        expect_err(&args, size, E2BIG, "size > PAGE_SIZE")?;
    }
    expect_err(null_mut(), PAGE + 8, E2BIG, "NULL, size > PAGE_SIZE")?;
    let buf = map(PAGE, RW, sys::MAP_PRIVATE)?;
    let p = buf as *mut CloneArgs;
    // SAFETY: buf is a fresh zeroed RW page, larger than the struct.
    unsafe { p.write(fork_args()) };
    let pid = sys::clone3(p, SIZE + 16);
    if pid == 0 {
        sys::exit_group(0);
    }
    check!(
        pid > 0,
        "clone3(size {}, zero tail): expected a pid, got {pid}",
        SIZE + 16
    );
    expect_status(pid as i32, exited(0))?;
    // SAFETY: inside the page.
    unsafe { (buf as *mut u8).add(SIZE + 8).write(1) };
    expect_err(p, SIZE + 16, E2BIG, "non-zero byte beyond the struct")?;
    expect_err(
        p,
        PAGE,
        E2BIG,
        "non-zero byte beyond the struct, size PAGE_SIZE",
    )?;
    sys::munmap(buf, PAGE);
    Ok(())
}

/// clone3 with an unreadable struct is EFAULT (NULL, or one running into an unmapped page).
pub fn clone3_bad_pointer() -> T {
    expect_err(null_mut(), SIZE, EFAULT, "NULL")?;
    expect_err(0x10 as *const CloneArgs, 64, EFAULT, "unmapped")?;
    let buf = map(2 * PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(
        sys::munmap(buf + PAGE, PAGE),
        0,
        "munmap of the second page"
    );
    let p = (buf + PAGE - SIZE) as *mut CloneArgs;
    // SAFETY: the struct fits exactly at the end of the mapped page.
    unsafe { p.write(fork_args()) };
    expect_err(p, SIZE + 8, EFAULT, "struct whose tail is unmapped")?;
    let p = (buf + PAGE - 32) as *const CloneArgs;
    expect_err(p, 64, EFAULT, "struct straddling an unmapped page")?;
    sys::munmap(buf, PAGE);
    Ok(())
}

/// clone3 validates exit_signal: above 64 (_NSIG) or with high bits set is EINVAL.
pub fn clone3_bad_exit_signal() -> T {
    for sig in [65, 0x100, 0xf0, 0x8000_0000, 1 << 32 | 17, u64::MAX] {
        let args = CloneArgs {
            exit_signal: sig,
            ..CloneArgs::default()
        };
        expect_err(&args, SIZE, EINVAL, "bad exit_signal")?;
    }
    Ok(())
}

/// clone3 validates flags: CSIGNAL bits, CLONE_DETACHED, unknown bits, SIGHAND with
/// CLEAR_SIGHAND, THREAD/PARENT with an exit signal, the copy_process rules, and the
/// stack / stack_size pair.
pub fn clone3_bad_flags() -> T {
    use sys::*;
    let stack = Stack::new()?;
    let thread = CLONE_THREAD | CLONE_SIGHAND | CLONE_VM;
    let sigchld = SIGCHLD as u64;
    let (base, size) = (stack.base() as u64, STACK_SIZE as u64);
    let cases: [(u64, u64, u64, u64, &str); 12] = [
        (sigchld, 0, 0, 0, "SIGCHLD in flags"),
        (CLONE_DETACHED, sigchld, 0, 0, "CLONE_DETACHED"),
        (1 << 40, sigchld, 0, 0, "unknown flag bit 40"),
        (
            CLONE_SIGHAND | CLONE_VM | CLONE_CLEAR_SIGHAND,
            sigchld,
            base,
            size,
            "SIGHAND|CLEAR_SIGHAND",
        ),
        (thread, sigchld, base, size, "CLONE_THREAD with exit_signal"),
        (CLONE_PARENT, sigchld, 0, 0, "CLONE_PARENT with exit_signal"),
        (
            CLONE_THREAD | CLONE_VM,
            0,
            base,
            size,
            "CLONE_THREAD without CLONE_SIGHAND",
        ),
        (
            CLONE_SIGHAND,
            sigchld,
            0,
            0,
            "CLONE_SIGHAND without CLONE_VM",
        ),
        (
            CLONE_NEWNS | CLONE_FS,
            sigchld,
            0,
            0,
            "CLONE_NEWNS|CLONE_FS",
        ),
        (0, sigchld, 0, size, "stack_size without stack"),
        (0, sigchld, base, 0, "stack without stack_size"),
        (
            CLONE_VM,
            sigchld,
            0,
            size,
            "CLONE_VM, stack_size without stack",
        ),
    ];
    for (flags, exit_signal, stack, stack_size, what) in cases {
        let args = CloneArgs {
            flags,
            exit_signal,
            stack,
            stack_size,
            ..CloneArgs::default()
        };
        expect_err(&args, SIZE, EINVAL, what)?;
    }
    Ok(())
}

/// clone3 checks the bytes beyond the struct it knows before it reads the struct
/// (Linux `copy_struct_from_user`): a non-zero tail is E2BIG even when the struct
/// itself cannot be read; a zero tail then gets EFAULT for the struct.
pub fn clone3_checks_tail_before_struct() -> T {
    let buf = map(2 * PAGE, RW, sys::MAP_PRIVATE)?;
    check_eq!(sys::munmap(buf, PAGE), 0, "munmap of the first page");
    // The struct fills the end of the unmapped page; its 8-byte tail starts the mapped one.
    let p = (buf + PAGE - SIZE) as *const CloneArgs;
    expect_err(p, SIZE + 8, EFAULT, "unreadable struct, zero tail")?;
    // SAFETY: the first byte of the mapped page.
    unsafe { ((buf + PAGE) as *mut u8).write(1) };
    expect_err(p, SIZE + 8, E2BIG, "unreadable struct, non-zero tail")?;
    sys::munmap(buf + PAGE, PAGE);
    Ok(())
}

/// A pid no other test uses, free at the start of the test on Linux and forkos.
const CHOSEN: i32 = 5000;

fn set_tid_args(tids: &[i32], size: u64) -> CloneArgs {
    CloneArgs {
        set_tid: tids.as_ptr() as u64,
        set_tid_size: size,
        ..fork_args()
    }
}

/// The child of a set_tid clone3 exits 0 if getpid() is the pid it was given.
extern "C" fn is_chosen(pid: usize) -> i32 {
    (sys::getpid() != pid as isize) as i32
}

/// clone3's set_tid chooses the child's pid (Linux `alloc_pid`, root has
/// CAP_CHECKPOINT_RESTORE): the pid must be in 1..pid_max (32768), else EINVAL, and free,
/// else EEXIST (a zombie's pid is not); in the one (initial) pid namespace only one pid
/// can be given (set_tid_size 2 is EINVAL, above 32 too); set_tid and set_tid_size
/// must come together; the array is read (EFAULT) before the flags are checked, and
/// the flags before the pid. Choosing a pid does not move where the next fork's pid
/// comes from.
pub fn clone3_set_tid() -> T {
    let before = sys::fork();
    if before == 0 {
        sys::exit_group(0);
    }
    check!(
        before > 0 && before < CHOSEN as isize - 100,
        "fork: pid {before}"
    );
    expect_status(before as i32, exited(0))?;
    for (tid, err, what) in [
        (0, EINVAL, "pid 0"),
        (-1, EINVAL, "pid -1"),
        (32768, EINVAL, "pid_max"),
        (1, EEXIST, "init's pid"),
    ] {
        expect_err(&set_tid_args(&[tid], 1), SIZE, err, what)?;
    }
    let two = [CHOSEN, CHOSEN + 1];
    expect_err(&set_tid_args(&two, 2), SIZE, EINVAL, "two pids")?;
    expect_err(&set_tid_args(&[CHOSEN; 33], 33), SIZE, EINVAL, "33 pids")?;
    expect_err(&set_tid_args(&[CHOSEN], 0), SIZE, EINVAL, "set_tid, size 0")?;
    let no_array = CloneArgs {
        set_tid_size: 1,
        ..fork_args()
    };
    expect_err(&no_array, SIZE, EINVAL, "NULL set_tid, size 1")?;
    let bad = CloneArgs {
        set_tid: 16,
        set_tid_size: 1,
        flags: sys::CLONE_SIGHAND | sys::CLONE_CLEAR_SIGHAND,
        ..fork_args()
    };
    expect_err(&bad, SIZE, EFAULT, "unreadable set_tid, bad flags")?;
    let bad_flags = CloneArgs {
        flags: sys::CLONE_SIGHAND,
        ..set_tid_args(&[1], 1)
    };
    expect_err(&bad_flags, SIZE, EINVAL, "pid in use, bad flags")?;

    for pid in [CHOSEN, 32767] {
        // SAFETY: the child runs is_chosen and exits.
        let r = unsafe { sys::clone3_run(&set_tid_args(&[pid], 1), SIZE, is_chosen, pid as usize) };
        check_eq!(r, pid as isize, "clone3(set_tid [{pid}])");
        // Exited but not reaped: its pid stays taken.
        let mut info = sys::siginfo_unset();
        let w = sys::waitid(sys::P_PID, pid, &mut info, sys::WEXITED | sys::WNOWAIT);
        check_eq!(w, 0, "waitid(WNOWAIT) for {pid}");
        expect_err(&set_tid_args(&[pid], 1), SIZE, EEXIST, "a zombie's pid")?;
        expect_status(pid, exited(0))?;
    }
    // Free again once reaped.
    // SAFETY: as above.
    let r = unsafe {
        sys::clone3_run(
            &set_tid_args(&[CHOSEN], 1),
            SIZE,
            is_chosen,
            CHOSEN as usize,
        )
    };
    check_eq!(
        r,
        CHOSEN as isize,
        "clone3(set_tid [{CHOSEN}]) after the reap"
    );
    expect_status(CHOSEN, exited(0))?;
    let after = sys::fork();
    if after == 0 {
        sys::exit_group(0);
    }
    check!(
        after > before && after < CHOSEN as isize,
        "fork after set_tid: pid {after} (before: {before})"
    );
    expect_status(after as i32, exited(0))
}
