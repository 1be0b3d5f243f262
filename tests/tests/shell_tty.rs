//! `make shell` typed into: Debian's unmodified busybox `sh` on the console, as a student
//! meets it, driven key by key through the [`Console`] harness and its transcript checked
//! exactly, prompt by prompt (pids, which differ from kernel to kernel, are checked for
//! their shape). The boot is `make shell`'s: `build/busybox.cpio` with
//! `init=/bin/sh -- /etc/init.sh`, whose shell is init's child in a session of its own with
//! the console as its controlling terminal (`setsid -c`), so ash has job control.
//!
//! Every step is Linux 6.1's behaviour, and with `LINUX_IMAGE` set the same keys give the
//! same transcript on Linux (booted as `scripts/run-on-linux` boots it). What each step
//! pins is said beside it. The prompt is `/ # ` followed by `ESC [6n`: busybox's line
//! editing asks the terminal where the cursor is and goes on without an answer when none
//! comes (QEMU's console gives none here; a terminal emulator running `make shell` does).

use std::path::PathBuf;
use std::time::Duration;

use forkos_tests::{Boot, Console};

/// How long each step may take: a busy 2-core machine running the whole suite beside it
/// (and Linux's slower boot) included.
const STEP: Duration = Duration::from_secs(60);

/// What ends every command's output: busybox's prompt and its cursor position query.
const PROMPT: &str = "/ # \x1b[6n";

/// How long to let a typed foreground command start before a signal key is typed at it:
/// its fork, `setpgid`, `tcsetpgrp` and exec must be done, or the key would reach the
/// shell's own group. Nothing is printed to wait for in between.
const SETTLE: Duration = Duration::from_secs(2);

fn boot(smp: u32) -> Console {
    Boot {
        initrd: Some(PathBuf::from("build/busybox.cpio")),
        append: "init=/bin/sh -- /etc/init.sh".into(),
        smp,
        timeout: Duration::from_secs(300),
        ..Boot::default()
    }
    .spawn()
}

#[test]
fn busybox_sh_typed_into() {
    session(boot(1), false);
}

/// The same session on two CPUs.
#[test]
fn busybox_sh_typed_into_smp2() {
    session(boot(2), false);
}

/// The same keys and transcript on Linux 6.1 (`LINUX_IMAGE`), with the archive and
/// command line `scripts/run-on-linux build/busybox.cpio init=/bin/sh /etc/init.sh` gives
/// it. Without `LINUX_IMAGE` there is nothing to run.
#[test]
fn busybox_sh_typed_into_on_linux() {
    let Some(image) = std::env::var_os("LINUX_IMAGE") else {
        eprintln!("skipped: LINUX_IMAGE is not set");
        return;
    };
    let mut qemu = std::process::Command::new("qemu-system-aarch64");
    qemu.args(["-M", "virt", "-cpu", "cortex-a72", "-m", "256M"])
        .args(["-nographic", "-no-reboot", "-nic", "none", "-kernel"])
        .arg(image)
        .arg("-initrd")
        .arg(forkos_tests::repo_root().join("build/busybox.cpio"))
        .args([
            "-append",
            "console=ttyAMA0 rdinit=/bin/sh quiet panic=-1 kaslr.disabled=1 norandmaps \
             -- /etc/init.sh",
        ]);
    session(Console::spawn(qemu), true);
}

/// Type `keys` and return what the console printed up to the next prompt: the echo of
/// the line as busybox edits it, then the command's output.
#[track_caller]
fn typed(c: &mut Console, keys: &str) -> String {
    c.send(keys.as_bytes());
    c.expect(PROMPT, STEP)
}

/// Type a command line and check the whole of what comes back before the next prompt.
#[track_caller]
fn step(c: &mut Console, line: &str, output: &str) {
    let got = typed(c, &format!("{line}\r"));
    assert_eq!(
        got,
        format!("{line}\r\n{output}"),
        "after typing {line:?}; the transcript:\n{}",
        c.transcript()
    );
}

/// Type a foreground command, let it start, type a signal key at it; check the echo and
/// what the shell says up to the next prompt.
#[track_caller]
fn interrupt(c: &mut Console, line: &str, key: &str, output: &str) {
    c.send(format!("{line}\r").as_bytes());
    c.expect(&format!("{line}\r\n"), STEP);
    std::thread::sleep(SETTLE);
    let got = typed(c, key);
    assert_eq!(
        got,
        output,
        "after {key:?} at {line:?}:\n{}",
        c.transcript()
    );
}

fn session(mut c: Console, linux: bool) {
    c.expect("forkos: busybox sh; `exit` powers off", STEP * 2);
    // ash with job control: no "can't access tty; job control turned off" (Linux's
    // TIOCSCTTY on the console, and /dev/tty then the shell's controlling terminal).
    let banner = c.expect(PROMPT, STEP);
    assert!(
        banner.contains("built-in shell (ash)") && !banner.contains("job control turned off"),
        "the shell has no job control:\n{}",
        c.transcript()
    );

    // A file in /tmp: `echo` is a builtin, so the shell itself opens /tmp/f
    // (O_CREAT|O_TRUNC) and puts it on fd 1 for the builtin; `cat` is forked and reads it.
    step(&mut c, "echo hi > /tmp/f; cat /tmp/f; rm /tmp/f", "hi\r\n");

    // fork and exec: the child shell's $$ is a new pid and its $PPID the interactive
    // shell's, whose parent is init (pid 1).
    let out = typed(&mut c, "sh -c 'echo $$ $PPID'; echo $$ $PPID\r");
    let lines: Vec<Vec<u32>> = out
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(' ').map(|n| n.parse().expect(l)).collect())
        .collect();
    assert!(
        lines.len() == 2
            && lines.iter().all(|l| l.len() == 2)
            && lines[0][1] == lines[1][0]
            && lines[0][0] != lines[1][0]
            && lines[1][1] == 1,
        "pids: {out:?}"
    );

    // A background job, `jobs` and `kill %1`: the job is a process group of its own,
    // and `kill %1` sends SIGTERM to the group (kill(-pgid)). The foreground `sleep 1`
    // after it makes the shell reap the job in its wait4 loop, so `jobs` shows it gone
    // whichever runs first after the kill, the shell or the dying job (Linux's
    // scheduler lets the woken job run at once; forkos's, when the shell sleeps).
    step(&mut c, "sleep 100 &", "");
    step(
        &mut c,
        "jobs",
        "[1]+  Running                    sleep 100\r\n",
    );
    step(
        &mut c,
        "kill %1; sleep 1; jobs",
        "[1]+  Terminated                 sleep 100\r\n",
    );

    // ^C: n_tty echoes it (ECHOCTL) and sends SIGINT to the foreground process group,
    // the sleep's alone (TIOCSPGRP); the shell survives, sees status 128 + SIGINT in
    // wait4 and ends the line.
    interrupt(&mut c, "sleep 10", "\x03", "^C\r\n");
    step(&mut c, "echo $?", "130\r\n");

    // ^Z: SIGTSTP to the foreground group stops the sleep (its group is not orphaned:
    // the shell, its parent, is in another group of the same session), wait4 with
    // WUNTRACED reports it, and the shell takes the terminal back.
    interrupt(
        &mut c,
        "sleep 10",
        "\x1a",
        "^Z[1]+  Stopped                    sleep 10\r\n",
    );
    step(
        &mut c,
        "jobs",
        "[1]+  Stopped                    sleep 10\r\n",
    );
    // A stopped task is `T` (TASK_STOPPED) in /proc/PID/stat, which ps reads.
    step(&mut c, "ps -o stat,comm | grep sleep", "T    sleep\r\n");
    // bg: SIGCONT resumes it in the background.
    step(&mut c, "bg", "[1] sleep 10\r\n");
    step(
        &mut c,
        "jobs",
        "[1]+  Running                    sleep 10\r\n",
    );
    // fg: the job gets the terminal again (TIOCSPGRP), so ^C reaches it.
    interrupt(&mut c, "fg", "\x03", "sleep 10\r\n^C\r\n");
    step(&mut c, "echo $?", "130\r\n");

    // Line editing over the raw-mode terminal: busybox echoes each key itself; a
    // backspace (DEL, 0x7f) moves back and clears to the end of the line.
    let got = typed(&mut c, "echo hellp\x7fo\r");
    assert_eq!(got, "echo hellp\x08\x1b[Jo\r\nhello\r\n", "backspace");
    // Up-arrow recalls the last line: busybox redraws it after a carriage return.
    let got = typed(&mut c, "\x1b[A\r");
    assert_eq!(got, "\r/ # echo hello\x1b[J\r\nhello\r\n", "up-arrow");

    // `exit 3`: the shell's status becomes init's, and the machine's.
    c.send(b"exit 3\r");
    c.expect("exit 3\r\n", STEP);
    if linux {
        c.expect("Attempted to kill init! exitcode=0x00000300", STEP);
    } else {
        c.finish(STEP).expect_status(3).expect_no_page_lost();
    }
}
