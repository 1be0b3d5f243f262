//! Debian's unmodified busybox (`make shell`'s archive, `build/busybox.cpio`) as pid 1,
//! running the self-checking scripts of `user/sh/`: `/bin/sh /etc/init.sh NAME` mounts
//! /proc, installs the applet links and runs `/tests/NAME.sh`, whose exit status is the
//! number of failed checks. Each script passes on Linux 6.1 with the same archive
//! (`scripts/run-on-linux build/busybox.cpio init=/bin/sh /etc/init.sh NAME`); the
//! comments in the scripts say which Linux behaviour each check pins. `forktrace.sh`
//! prints a trace instead, compared line by line with what Linux printed.

use std::path::PathBuf;
use std::time::Duration;

use forkos_tests::{repo_root, Boot, Run};

fn session(name: &str, smp: u32) -> Run {
    Boot {
        initrd: Some(PathBuf::from("build/busybox.cpio")),
        append: format!("init=/bin/sh -- /etc/init.sh {name}"),
        smp,
        timeout: Duration::from_secs(120),
        ..Boot::default()
    }
    .run()
}

/// fork/exec/wait and `$?`, pipelines, redirections, here-documents, subshells,
/// `$(...)`, background jobs and `wait`, `trap` and `kill`, a stopped job's `T` in
/// /proc and `ps`, files in /tmp, /proc reads, and three applets streaming 8 MiB.
#[test]
fn busybox_basics() {
    session("basics", 1)
        .expect("basics: 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}

/// The same session on two CPUs.
#[test]
fn busybox_basics_smp() {
    session("basics", 2)
        .expect("basics: 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}

/// A few hundred commands: every page and open file is back when init exits.
#[test]
fn busybox_leaks() {
    let run = session("leaks", 1);
    run.expect("leaks: 60 rounds")
        .expect_status(0)
        .expect_no_page_lost();
    assert!(
        !run.output.contains("open files and"),
        "something was left behind:\n{}",
        run.output
    );
}

/// The session's console from its first `/ # ` prompt line on, without the kernel's
/// own lines (the demo kernel thread, the closing `forkos: ` lines).
fn session_output(run: &Run) -> String {
    run.output
        .lines()
        .skip_while(|l| !l.starts_with("/ # "))
        .take_while(|l| !l.starts_with("forkos: "))
        .filter(|l| !l.starts_with("kthread: pid 2 "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `forktrace -n` (`user/c/forktrace.c`, `/bin/forktrace` in the archive) on busybox
/// commands that fork: a pipeline, a subshell and a command substitution, an exit
/// status and a death by SIGKILL through `wait4`, and `time`'s vfork
/// (`user/sh/forktrace.sh`). Every process the shell creates must live as it lives on
/// Linux 6.1: `user/sh/forktrace.expected` is Linux's output for the same archive,
/// recorded, and recorded again after any change to the script or to forktrace, with
///
/// ```sh
/// scripts/run-on-linux build/busybox.cpio init=/bin/sh /etc/init.sh forktrace |
///     sed -n '/^\/ # /,$p' | head -n -1 > user/sh/forktrace.expected
/// ```
///
/// (from the first `/ # ` line on; `head` drops run-on-linux's own last line). Linux
/// printed the same on one CPU and on two (`SMP=2`). The output is deterministic
/// because `-n` runs each new process alone until it exits (forktrace.c says why), not
/// because anything is sorted or dropped.
fn forktrace_session_matches_linux(smp: u32) {
    let run = session("forktrace", smp);
    run.expect_status(0).expect_no_page_lost();
    let path = repo_root().join("user/sh/forktrace.expected");
    let expected = std::fs::read_to_string(path).expect("expected output");
    assert_eq!(
        session_output(&run),
        expected,
        "forktrace printed something else than on Linux; whole console:\n{}",
        run.output
    );
}

#[test]
fn forktrace_of_busybox_matches_linux() {
    forktrace_session_matches_linux(1);
}

/// The same on two CPUs: with one task of the tree running at a time, the tracer and
/// its tracees on different CPUs print the same lines.
#[test]
fn forktrace_of_busybox_matches_linux_smp() {
    forktrace_session_matches_linux(2);
}
