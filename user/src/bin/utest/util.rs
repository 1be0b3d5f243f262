//! Helpers shared by the tests: failure reporting, forked children and their wait
//! statuses, a shared page, thread stacks and threads.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::sync::atomic::{AtomicI32, AtomicI64, AtomicUsize, Ordering::SeqCst};
use forkos_user::{println, sys};

/// A test's result: `Err` once a failure line was printed.
pub type T = Result<(), Fail>;

/// A failed check (the failure was already printed).
#[derive(Debug)]
pub struct Fail;

/// The running test's name, for failure lines (set once, before the test starts).
static mut NAME: &str = "?";

pub fn set_name(name: &'static str) {
    // SAFETY: written once by main before any test code runs (single-threaded then).
    unsafe { core::ptr::addr_of_mut!(NAME).write(name) }
}

fn name() -> &'static str {
    // SAFETY: only set_name writes NAME, before the test starts; afterwards it is read-only.
    unsafe { core::ptr::addr_of!(NAME).read() }
}

/// Print a failure line and return the `Fail` to propagate.
pub fn fail(msg: fmt::Arguments, file: &str, line: u32) -> Fail {
    let file = file.rsplit('/').next().unwrap_or(file);
    println!(
        "utest {}: FAIL [pid {}] {file}:{line}: {msg}",
        name(),
        sys::gettid()
    );
    Fail
}

/// A wait status, printed the way a person reads it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Status(pub i32);

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let s = self.0;
        if s & 0x7f == 0 {
            write!(f, "exit {} (0x{s:x})", (s >> 8) & 0xff)
        } else if (s & 0xff) == 0x7f {
            write!(f, "stopped (0x{s:x})")
        } else {
            write!(f, "killed by signal {} (0x{s:x})", s & 0x7f)
        }
    }
}

/// The status `exit(code)` produces.
pub const fn exited(code: i32) -> Status {
    Status((code & 0xff) << 8)
}

/// The status death by signal `sig` produces (no core dump).
pub const fn killed(sig: i32) -> Status {
    Status(sig)
}

/// Fork a child that runs `f` and exits 0 if it passed, 1 if it failed. Returns its pid.
pub fn child(f: impl FnOnce() -> T) -> Result<i32, Fail> {
    child_code(|| if f().is_ok() { 0 } else { 1 })
}

/// Fork a child that runs `f` and exits with its result. Returns its pid.
pub fn child_code(f: impl FnOnce() -> i32) -> Result<i32, Fail> {
    let pid = sys::fork();
    if pid == 0 {
        sys::exit_group(f());
    }
    check!(pid > 0, "fork: expected a pid, got {pid}");
    Ok(pid as i32)
}

/// `wait4(pid, &status, options)`, which must return `pid`; returns the status.
pub fn wait_opts(pid: i32, options: i32) -> Result<Status, Fail> {
    let mut status = -1;
    let r = sys::wait4(pid, &mut status, options);
    check_eq!(r, pid as isize, "wait4({pid}, options 0x{options:x})");
    Ok(Status(status))
}

/// Reap child `pid` and return its status.
pub fn wait(pid: i32) -> Result<Status, Fail> {
    wait_opts(pid, 0)
}

/// Reap child `pid` and check its status.
pub fn expect_status(pid: i32, want: Status) -> T {
    check_eq!(wait(pid)?, want, "status of child {pid}");
    Ok(())
}

/// Reap child `pid`, which must have exited 0 (its checks passed).
pub fn expect_ok(pid: i32) -> T {
    expect_status(pid, exited(0))
}

/// Run `f` in a forked child and check that it is killed by `sig`.
pub fn expect_killed_by(sig: i32, f: impl FnOnce()) -> T {
    let pid = child_code(|| {
        f();
        100
    })?;
    expect_status(pid, killed(sig))
}

/// Read directory `fd` to its end with `getdents64` through `buf`, calling
/// `f(name, d_type, reclen)` for each record in order (what libc's `readdir` walks).
pub fn for_each_dirent(fd: i32, buf: &mut [u8], mut f: impl FnMut(&[u8], u8, usize) -> T) -> T {
    loop {
        let n = sys::syscall(
            sys::nr::GETDENTS64,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        );
        check!(n >= 0, "getdents64: {n}");
        if n == 0 {
            return Ok(());
        }
        let mut at = 0;
        while at < n as usize {
            let reclen = u16::from_le_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let d_type = buf[at + 18];
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
            f(name, d_type, reclen)?;
            at += reclen;
        }
    }
}

/// Nanoseconds of CLOCK_MONOTONIC.
pub fn now_ns() -> i64 {
    let mut ts = sys::Timespec::default();
    sys::clock_gettime(sys::CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Spin (yielding) until `cond` holds; gives up after about `ms` milliseconds.
pub fn spin_until(ms: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = now_ns() + ms as i64 * 1_000_000;
    while !cond() {
        if now_ns() > end {
            return false;
        }
        sys::sched_yield();
    }
    true
}

pub const PAGE: usize = 4096;

/// `mmap` anonymous memory; fails the test on error.
pub fn map(len: usize, prot: usize, flags: usize) -> Result<usize, Fail> {
    let p = sys::mmap(0, len, prot, flags | sys::MAP_ANONYMOUS, -1, 0);
    check!(
        p > 0 && (p as usize).is_multiple_of(PAGE),
        "mmap(len {len}): expected a page-aligned address, got {p}"
    );
    Ok(p as usize)
}

pub const RW: usize = sys::PROT_READ | sys::PROT_WRITE;

/// One `MAP_SHARED` anonymous page of words: it stays shared with forked children,
/// which report through it.
pub struct Shared {
    words: &'static [AtomicI64; PAGE / 8],
}

impl Shared {
    pub fn new() -> Result<Shared, Fail> {
        let p = map(PAGE, RW, sys::MAP_SHARED)?;
        // SAFETY: p is a fresh, zero-filled, page-aligned RW page that lives until Drop;
        // AtomicI64 has the alignment and size of i64 and zero is a valid value.
        let words = unsafe { &*(p as *const [AtomicI64; PAGE / 8]) };
        Ok(Shared { words })
    }
    /// The address of word `i`.
    pub fn addr(&self, i: usize) -> usize {
        &self.words[i] as *const AtomicI64 as usize
    }
    pub fn get(&self, i: usize) -> i64 {
        self.words[i].load(SeqCst)
    }
    pub fn set(&self, i: usize, v: i64) {
        self.words[i].store(v, SeqCst)
    }

    /// Sleep until slot `i` is no longer zero (another process set it).
    pub fn wait_for(&self, i: usize) {
        while self.get(i) == 0 {
            sys::sleep_ms(1);
        }
    }
}

impl Deref for Shared {
    type Target = [AtomicI64; PAGE / 8];
    fn deref(&self) -> &Self::Target {
        self.words
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        sys::munmap(self.words.as_ptr() as usize, PAGE);
    }
}

/// A stack for a clone child: 64 KiB of private anonymous memory. The lowest word
/// holds the child's tid (for `CLONE_PARENT_SETTID` / `CLONE_CHILD_CLEARTID`), far
/// from the top where the stack starts.
pub struct Stack {
    base: usize,
}

pub const STACK_SIZE: usize = 64 * 1024;

impl Stack {
    pub fn new() -> Result<Stack, Fail> {
        Ok(Stack {
            base: map(STACK_SIZE, RW, sys::MAP_PRIVATE)?,
        })
    }
    pub fn base(&self) -> usize {
        self.base
    }
    pub fn top(&self) -> usize {
        self.base + STACK_SIZE
    }
    /// The tid word at the bottom of the stack mapping.
    pub fn tid_word(&self) -> &AtomicI32 {
        // SAFETY: base is page-aligned mapped memory owned by self.
        unsafe { &*(self.base as *const AtomicI32) }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        sys::munmap(self.base, STACK_SIZE);
    }
}

pub use sys::PTHREAD_FLAGS;

/// Wait until the tid word is 0 (`CLONE_CHILD_CLEARTID` at the thread's exit), sleeping
/// in FUTEX_WAIT as glibc's `pthread_join` does.
pub fn join_word(word: &AtomicI32) {
    loop {
        let v = word.load(SeqCst);
        if v == 0 {
            return;
        }
        sys::futex(word.as_ptr(), sys::FUTEX_WAIT, v, core::ptr::null());
    }
}

/// A clone child running a closure on its own [`Stack`]; dropping it joins it.
pub struct Thread<'a> {
    stack: Stack,
    pub tid: i32,
    flags: u64,
    joined: bool,
    _f: PhantomData<&'a ()>,
}

extern "C" fn trampoline<F: Fn() -> i32>(arg: usize) -> i32 {
    // SAFETY: arg is the &F that Thread::spawn_flags was given; Thread<'a> (joined
    // before it is dropped) keeps the borrow alive while the child runs.
    let f = unsafe { &*(arg as *const F) };
    f()
}

impl<'a> Thread<'a> {
    /// A thread created like `pthread_create` (`PTHREAD_FLAGS`, tls = 0), running `f`;
    /// the thread `exit`s with its result.
    pub fn spawn<F: Fn() -> i32 + Sync>(f: &'a F) -> Result<Thread<'a>, Fail> {
        Self::spawn_flags(PTHREAD_FLAGS, 0, f)
    }

    /// `clone(flags, stack, &tid, tls, &tid)` running `f` on a new stack; the tid word
    /// is the stack's. With `CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID`, `join` works.
    pub fn spawn_flags<F: Fn() -> i32 + Sync>(
        flags: u64,
        tls: usize,
        f: &'a F,
    ) -> Result<Thread<'a>, Fail> {
        let stack = Stack::new()?;
        let word = stack.tid_word().as_ptr();
        // SAFETY: the child runs on its own mapped stack; f outlives it (joined on drop).
        let tid = unsafe {
            sys::clone_run(
                flags,
                stack.top(),
                word,
                tls,
                word,
                trampoline::<F>,
                f as *const F as usize,
            )
        };
        check!(tid > 0, "clone(0x{flags:x}): expected a tid, got {tid}");
        Ok(Thread {
            stack,
            tid: tid as i32,
            flags,
            joined: false,
            _f: PhantomData,
        })
    }

    pub fn tid_word(&self) -> &AtomicI32 {
        self.stack.tid_word()
    }

    /// Wait for the thread's exit (its tid word cleared by the kernel).
    pub fn join(&mut self) {
        if !self.joined && self.flags & sys::CLONE_CHILD_CLEARTID != 0 {
            join_word(self.stack.tid_word());
            self.joined = true;
        }
    }
}

impl Drop for Thread<'_> {
    fn drop(&mut self) {
        self.join();
    }
}

/// Is this forkos (rather than Linux, where the suite also runs)? For the few rules
/// where forkos is deliberately stricter; the uname release says.
pub fn on_forkos() -> bool {
    let mut u = sys::NewUtsname::default();
    // SAFETY: uname writes a `struct new_utsname` into u.
    unsafe { sys::syscall6(sys::nr::UNAME, &mut u as *mut _ as usize, 0, 0, 0, 0, 0) };
    u.release.windows(6).any(|w| w == b"forkos")
}

/// This program's path as it was started (argv[0]: `/utest` on forkos, `/init` when it
/// runs as Linux's init), for tests that execve it again. argv[0] lies on the initial
/// stack, NUL-terminated, for the whole life of the program.
static SELF_PATH: (AtomicUsize, AtomicUsize) = (AtomicUsize::new(0), AtomicUsize::new(0));

/// Remember argv[0] (it must be the program's argv[0], which lives on the initial stack).
pub fn set_self_path(p: &str) {
    SELF_PATH.0.store(p.as_ptr() as usize, SeqCst);
    SELF_PATH.1.store(p.len(), SeqCst);
}

/// [`set_self_path`]'s path, with its NUL.
pub fn self_path() -> &'static [u8] {
    let (ptr, len) = (SELF_PATH.0.load(SeqCst), SELF_PATH.1.load(SeqCst));
    if ptr == 0 {
        return b"/utest\0";
    }
    // SAFETY: ptr..ptr+len+1 is argv[0] and the NUL the kernel put after it, on the
    // initial stack, which is never freed.
    unsafe { core::slice::from_raw_parts(ptr as *const u8, len + 1) }
}

/// Fork a child that execs this program again as `utest fdopen A B`, which exits 11
/// when fd `A` is closed and fd `B` is open after the `execve` (how the `FD_CLOEXEC`
/// tests look across an exec). Returns the child's pid.
pub fn exec_fdopen(a: i32, b: i32) -> Result<i32, Fail> {
    child_code(|| {
        let digit = |v: i32| [b'0' + v as u8, 0];
        let (sa, sb) = (digit(a), digit(b));
        let path = self_path();
        let argv = [
            path.as_ptr() as usize,
            c"fdopen".as_ptr() as usize,
            sa.as_ptr() as usize,
            sb.as_ptr() as usize,
            0,
        ];
        let envp = [0usize];
        // SAFETY: NUL-terminated strings and arrays that live until the call.
        unsafe {
            sys::syscall6(
                sys::nr::EXECVE,
                path.as_ptr() as usize,
                argv.as_ptr() as usize,
                envp.as_ptr() as usize,
                0,
                0,
                0,
            )
        };
        99
    })
}
