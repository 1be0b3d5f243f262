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

/// One row of the process table the demo prints (`forkos_ps`, the `p` key).
struct Row {
    pid: i32,
    tgid: i32,
    ppid: i32,
    state: String,
    mm: u64,
    kstack: u64,
}

/// The rows of the table printed after the line containing `moment`.
fn table_after(output: &str, moment: &str) -> Vec<Row> {
    let start = output
        .find(moment)
        .unwrap_or_else(|| panic!("no process table for {moment:?} in:\n{output}"));
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
    output[start..]
        .lines()
        .skip(2) // the moment, the header
        .map_while(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let pid = f.first()?.parse().ok()?;
            // "Running (current)" is two words.
            let (state, rest) = if f.get(4) == Some(&"(current)") {
                (format!("{} (current)", f[3]), &f[5..])
            } else {
                (f[3].to_string(), &f[4..])
            };
            Some(Row {
                pid,
                tgid: f[1].parse().ok()?,
                ppid: f[2].parse().ok()?,
                state,
                mm: hex(rest[1]),
                kstack: hex(rest[2]),
            })
        })
        .collect()
}

fn row(rows: &[Row], pid: i32) -> &Row {
    rows.iter()
        .find(|r| r.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} not in the table"))
}

/// The demo's process tables show what each kind of clone shares: fork gives the child
/// its own mm and kernel stack, vfork and a thread share the mm (but never the kernel
/// stack), an exited child is a zombie without an mm, and an orphan's parent is init.
#[test]
fn demo_process_tables_show_what_is_shared() {
    let run = Boot::default().run();
    run.expect_status(0);
    let out = &run.output;

    let t = table_after(out, "[process table: parent and child");
    let (parent, child) = (row(&t, 1), row(&t, 3));
    assert_eq!(child.ppid, 1);
    assert_eq!(child.state, "Running (current)");
    assert_eq!(parent.state, "Interruptible", "the parent sleeps in wait4");
    assert_ne!(child.mm, parent.mm, "fork: a new mm");
    assert_ne!(child.kstack, parent.kstack, "fork: a fresh kernel stack");

    let t = table_after(out, "[process table: the vfork child");
    let (parent, child) = (row(&t, 1), row(&t, 4));
    assert_eq!(child.mm, parent.mm, "vfork: the parent's mm");
    assert_ne!(
        child.kstack, parent.kstack,
        "vfork: still a kernel stack of its own"
    );
    assert_eq!(
        parent.state, "Interruptible",
        "the parent sleeps on vfork_done"
    );

    let t = table_after(out, "[process table: a thread");
    let (main, thread) = (row(&t, 1), row(&t, 5));
    assert_eq!(thread.tgid, 1, "a thread is in its creator's thread group");
    assert_eq!(thread.mm, main.mm, "a thread shares the mm");
    assert_ne!(thread.kstack, main.kstack);

    let t = table_after(out, "[process table: the exited child is a zombie");
    let (zombie, orphan) = (row(&t, 6), row(&t, 7));
    assert_eq!(zombie.state, "Zombie");
    assert_eq!(zombie.mm, 0, "a zombie has let go of its mm");
    assert_eq!(orphan.ppid, 1, "the orphan was given to init");
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
        .expect("x19 = 0 -> ret_to_user -> kernel_exit")
        .expect("with x0 = 0")
        .expect("CLONE_VFORK: parent sleeps on its completion")
        .expect("completes vfork_done, waking its parent");
}

/// The seed's claims, read off the trace of the demo's fork: the child's kernel stack is
/// a fresh one, apart from the parent's, and the child first runs (through
/// `ret_from_fork`) only after `wake_up_new_task`, after its parent's path through
/// `copy_process` is complete.
#[test]
fn fork_trace_fresh_stack_and_order() {
    let run = Boot {
        append: "trace=fork".into(),
        ..Boot::default()
    }
    .run();
    run.expect_status(0);
    let out = &run.output;
    let line = out
        .lines()
        .find(|l| l.contains("dup_task_struct: new task pid 3, fresh kernel stack"))
        .expect("dup_task_struct line for pid 3");
    // "... fresh kernel stack A-B (parent's: C-D), nothing copied"
    let ranges: Vec<(u64, u64)> = line
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter_map(|w| {
            let (a, b) = w.split_once('-')?;
            let h = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
            Some((h(a)?, h(b)?))
        })
        .collect();
    assert_eq!(ranges.len(), 2, "two stack ranges in {line:?}");
    let (child, parent) = (ranges[0], ranges[1]);
    assert!(child.0 < child.1 && parent.0 < parent.1, "{line:?}");
    assert!(
        child.1 <= parent.0 || parent.1 <= child.0,
        "the child's kernel stack overlaps the parent's: {line:?}"
    );
    // Each step must come after the one before it.
    let mut from = 0;
    for step in [
        "[trace]   do_fork(flags 0x1200000",
        "dup_task_struct: new task pid 3",
        "copy_mm -> dup_mm -> dup_mmap",
        "copy_thread: childregs at",
        "wake_up_new_task(3)",
        "[trace] pid 3: ret_from_fork -> schedule_tail",
        // Printed by ret_from_fork itself after its test of x19, from the live frame.
        "[trace] pid 3: ret_from_fork: x19 = 0 -> ret_to_user -> kernel_exit, which erets to pc 0x",
        " with x0 = 0\n",
    ] {
        let at = out[from..].find(step).unwrap_or_else(|| {
            panic!("{step:?} missing or out of order after byte {from} of the trace:\n{out}")
        });
        from += at + step.len();
    }
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
