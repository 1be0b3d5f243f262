//! The fork demo that `make run` boots: pid 1 forks, vforks, makes a thread, reaps an
//! orphan, and the machine powers off with status 0 and no page lost.

use forkos_tests::Boot;

#[test]
fn fork_demo_runs() {
    let run = Boot::default().run();
    run.expect_status(0)
        .expect("kthread: pid 2 running fn(arg = 0xf0f0) through ret_from_fork's x19 branch")
        .expect("init: pid 1, ppid 0")
        .expect("child:  fork() returned 0")
        .expect("wait4 status 0x2a00 (exit 42)")
        .expect("vfork returned")
        .expect("added 5 to the shared counter")
        .expect("counter 100 -> 105")
        .expect("getppid() = 1 (init)")
        .expect("init: no children left")
        .expect_no_page_lost();
}

#[test]
fn fork_trace_narrates_the_path() {
    let run = Boot {
        append: "trace=fork".into(),
        ..Boot::default()
    }
    .run();
    run.expect_status(0)
        .expect("x8 = 220 (clone)")
        .expect("dup_task_struct: new task pid 3, fresh kernel stack")
        .expect("copy_mm -> dup_mm -> dup_mmap")
        .expect("copy_mm: CLONE_VM, sharing the parent's mm")
        .expect("copy_thread: childregs at")
        .expect("regs[0] = 0")
        .expect("x19 = 0: ret_to_user")
        .expect("with x0 = 0")
        .expect("CLONE_VFORK: parent sleeps on its completion")
        .expect("completes vfork_done, waking its parent");
}

#[test]
fn init_exit_status_becomes_qemus() {
    Boot::utest("exit 42")
        .run()
        .expect("init exited with status 0x2a00")
        .expect_status(42);
}

#[test]
fn init_killed_by_a_signal_exits_128_plus_n() {
    Boot::utest("segv")
        .run()
        .expect("unhandled SIGSEGV (data abort) at 0x8")
        .expect_status(128 + 11);
}
