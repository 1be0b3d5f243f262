//! The fork demo, run as pid 1 when forkos boots without `init=` (`make run`).
//!
//! Every call is issued exactly as glibc 2.36 issues it on arm64, so what you see here
//! is what a C program's `fork()`, `vfork()` and `pthread_create()` do underneath.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use forkos_user::sys::{self, *};
use forkos_user::{entry, println};

/// A variable in .data, to show what is copied and what is shared.
static COUNTER: AtomicU64 = AtomicU64::new(100);
/// The vfork child writes here (it borrows our memory).
static VFORK_MARK: AtomicU64 = AtomicU64::new(0);
/// The thread's tid word, cleared and futex-woken by the kernel when it exits.
static THREAD_TID: AtomicI32 = AtomicI32::new(0);

fn wait_child(pid: i32) -> i32 {
    let mut status = 0;
    let r = sys::wait4(pid, &mut status, 0);
    assert_eq!(r, pid as isize, "wait4({pid})");
    status
}

/// Let the parent reach its sleep before the child shows it: a timer tick can preempt
/// the parent between starting the child and sleeping (in `wait4`, or on vfork's
/// completion), and then the table would show it runnable. One `sched_yield` runs it on
/// to its sleep (on one CPU; on several it sleeps on its own).
fn let_parent_sleep() {
    sys::sched_yield();
}

/// Print the process table (forkos's own syscall; the console's `p` key does the same).
fn ps(moment: &str) {
    println!("  [process table: {moment}]");
    sys::syscall(nr::FORKOS_PS, [0; 6]);
}

fn demo_fork() {
    println!("\n== fork(): one call, two returns");
    println!("init[{}]: calling fork() = clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD, 0, NULL, 0, &tid)", sys::getpid());
    let r = sys::fork();
    if r == 0 {
        COUNTER.fetch_add(1, Ordering::Relaxed);
        println!(
            "  child:  fork() returned 0 (x0 = 0 from copy_thread); pid {}, ppid {}, counter {} (its own copy)",
            sys::getpid(),
            sys::getppid(),
            COUNTER.load(Ordering::Relaxed)
        );
        let_parent_sleep();
        ps("parent and child: two mms, two kernel stacks; the parent sleeps in wait4");
        sys::exit_group(42);
    }
    let status = wait_child(r as i32);
    println!(
        "  parent: fork() returned {r} (the child's pid); counter still {}; child exited, wait4 status {status:#x} (exit 42)",
        COUNTER.load(Ordering::Relaxed)
    );
}

extern "C" fn vfork_child() -> ! {
    // Runs on the parent's stack, in the parent's memory, while the parent sleeps.
    VFORK_MARK.store(sys::getpid() as u64, Ordering::Relaxed);
    println!(
        "  child:  pid {} runs in the parent's memory; the parent is asleep until this exits",
        sys::getpid()
    );
    let_parent_sleep();
    ps("the vfork child shares the parent's mm; the parent sleeps until it exits");
    sys::exit(7)
}

fn demo_vfork() {
    println!("\n== vfork(): the parent waits until the child exits (CLONE_VM|CLONE_VFORK)");
    // SAFETY: the child only writes a static and exits; it never returns.
    let pid = unsafe { sys::vfork_run(vfork_child) };
    println!(
        "  parent: woken by the child's exit (mm_release); vfork returned {pid}, the child left mark {}",
        VFORK_MARK.load(Ordering::Relaxed)
    );
    let status = wait_child(pid as i32);
    println!("  parent: reaped it, status {status:#x}");
}

extern "C" fn thread_fn(arg: usize) -> i32 {
    COUNTER.fetch_add(arg as u64, Ordering::Relaxed);
    println!(
        "  thread: tid {} in process {} added {arg} to the shared counter",
        sys::gettid(),
        sys::getpid()
    );
    ps("a thread: its own pid, the process's tgid, the same mm");
    0
}

fn demo_thread() {
    println!("\n== clone(): a thread shares memory (pthread_create's flags)");
    const STACK: usize = 64 * 1024;
    let stack = sys::mmap(
        0,
        STACK,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    assert!(stack > 0, "mmap for the thread stack");
    let flags = CLONE_VM
        | CLONE_FS
        | CLONE_FILES
        | CLONE_SIGHAND
        | CLONE_THREAD
        | CLONE_SYSVSEM
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID;
    let before = COUNTER.load(Ordering::Relaxed);
    let tid_word = THREAD_TID.as_ptr();
    // SAFETY: the thread runs on its own mmap'd stack and only touches statics.
    let tid = unsafe {
        sys::clone_run(
            flags,
            stack as usize + STACK,
            tid_word,
            0,
            tid_word,
            thread_fn,
            5,
        )
    };
    assert!(tid > 0, "clone");
    // Join the way glibc's pthread_join does: wait on the tid word until it becomes 0.
    loop {
        let v = THREAD_TID.load(Ordering::Acquire);
        if v == 0 {
            break;
        }
        sys::futex(tid_word, FUTEX_WAIT, v, core::ptr::null());
    }
    println!(
        "  main:   thread {tid} joined (its tid word was cleared at exit); counter {before} -> {}",
        COUNTER.load(Ordering::Relaxed)
    );
    sys::munmap(stack as usize, STACK);
}

fn demo_reap() {
    println!("\n== exit and wait4: zombies until reaped, orphans go to init");
    let a = sys::fork();
    if a == 0 {
        let b = sys::fork();
        if b == 0 {
            sys::sleep_ms(50);
            println!(
                "  grandchild: pid {}, my parent exited, so getppid() = {} (init)",
                sys::getpid(),
                sys::getppid()
            );
            sys::exit_group(3);
        }
        sys::exit_group(0);
    }
    // Wait until the child has exited, without reaping it (WNOWAIT): it stays a zombie.
    let mut info = sys::siginfo_unset();
    let r = sys::waitid(P_PID, a as i32, &mut info, WEXITED | WNOWAIT);
    assert_eq!(r, 0, "waitid(P_PID, {a}, WEXITED|WNOWAIT)");
    ps("the exited child is a zombie; its child now has init as parent");
    wait_child(a as i32);
    let mut status = 0;
    let g = sys::wait4(-1, &mut status, 0);
    println!("  init: reaped the orphan {g}, status {status:#x}");
    assert_eq!(sys::wait4(-1, &mut status, sys::WNOHANG), -ECHILD);
    println!("  init: no children left (wait4 -> -ECHILD)");
}

fn main(_args: &[&str]) -> i32 {
    println!(
        "init: pid {}, ppid {} -- the forkos fork demo",
        sys::getpid(),
        sys::getppid()
    );
    demo_fork();
    demo_vfork();
    demo_thread();
    demo_reap();
    println!("\ninit: done; exiting 0 powers the machine off");
    0
}
entry!(main);
