//! Debian's unmodified busybox (`make shell`'s archive, `build/busybox.cpio`) as pid 1,
//! running the self-checking scripts of `user/sh/`: `/bin/sh /etc/init.sh NAME` mounts
//! /proc, installs the applet links and runs `/tests/NAME.sh`, whose exit status is the
//! number of failed checks. Each script passes on Linux 6.1 with the same archive
//! (`scripts/run-on-linux build/busybox.cpio init=/bin/sh /etc/init.sh NAME`); the
//! comments in the scripts say which Linux behaviour each check pins.

use std::path::PathBuf;
use std::time::Duration;

use forkos_tests::{Boot, Run};

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
