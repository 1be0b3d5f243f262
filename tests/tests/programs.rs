//! Programs nobody wrote for forkos, loaded from the initrd: static C programs built
//! with Debian's `aarch64-linux-gnu-gcc` (glibc's printf, malloc, fork, vfork, waitpid,
//! posix_spawn, execve, pthreads), a C program with no libc that checks the initial
//! stack, and the Rust test suite, each given to QEMU as a bare ELF `-initrd` and inside
//! the cpio archive `make initrd` builds (`build/initrd.cpio`).
//!
//! The C programs must print exactly what they print on Linux 6.1: the expected output
//! in `user/c/NAME.expected` is what `scripts/run-on-linux build/initrd.cpio init=/NAME`
//! printed.

use std::path::PathBuf;

use forkos_tests::{repo_root, Boot, Run};

const ARCHIVE: &str = "build/initrd.cpio";

fn boot(initrd: &str, append: &str) -> Run {
    Boot {
        initrd: Some(PathBuf::from(initrd)),
        append: append.into(),
        ..Boot::default()
    }
    .run()
}

/// What the program printed: the console after the kernel's `initrd:` line, without
/// the kernel's own lines (the demo kernel thread, fault reports, the closing lines).
fn program_output(run: &Run) -> String {
    let mut lines = run
        .output
        .lines()
        .skip_while(|l| !l.starts_with("initrd: "));
    lines.next();
    let is_fault_report = |l: &str| {
        l.split_once("]: unhandled ")
            .is_some_and(|(who, _)| who.contains('[') && !who.contains(' '))
    };
    lines
        .take_while(|l| !l.starts_with("forkos: "))
        .filter(|l| !l.starts_with("kthread: pid 2 ") && !is_fault_report(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Boot the archive with `/NAME` as init; its output must be what Linux printed for
/// `expected`, and no page may be lost.
fn matches_linux(name: &str, expected: &str) {
    let run = boot(ARCHIVE, &format!("init=/{name}"));
    run.expect_status(0).expect_no_page_lost();
    let path = repo_root().join(format!("user/c/{expected}.expected"));
    let expected = std::fs::read_to_string(path).expect("expected output");
    let got = program_output(&run);
    assert_eq!(
        got, expected,
        "{name} printed something else than on Linux; whole console:\n{}",
        run.output
    );
}

#[test]
fn cdemo_glibc_program_matches_linux() {
    matches_linux("cdemo", "cdemo");
}

/// The same program linked as static-pie (`ET_DYN`), placed at `ELF_ET_DYN_BASE`.
#[test]
fn cdemo_static_pie_matches_linux() {
    matches_linux("cdemo-pie", "cdemo");
}

/// `forktrace -n /cdemo`: the life of every process and thread the demo creates, seen
/// through ptrace (fork, vfork and clone events, syscall stops, exec and exit), as
/// Linux shows it. `user/c/forktrace.expected` is what `scripts/run-on-linux
/// build/initrd.cpio init=/forktrace -n /cdemo` printed on Linux 6.1, its last line
/// (run-on-linux's own) left out.
#[test]
fn forktrace_of_cdemo_matches_linux() {
    let run = boot(ARCHIVE, "init=/forktrace -- -n /cdemo");
    run.expect_status(0).expect_no_page_lost();
    let path = repo_root().join("user/c/forktrace.expected");
    let expected = std::fs::read_to_string(path).expect("expected output");
    let got = program_output(&run);
    assert_eq!(
        got, expected,
        "forktrace printed something else than on Linux; whole console:\n{}",
        run.output
    );
}

/// The fork trace shows the trace block of `do_fork` for a traced parent: the child made
/// traced by `ptrace_init_task`, the parent's `ptrace_event_pid` for a fork and a vfork.
#[test]
fn fork_trace_shows_ptrace_events() {
    boot(ARCHIVE, "trace=fork init=/forktrace -- /cdemo")
        .expect("ptrace_init_task: child")
        .expect("with SIGSTOP pending")
        .expect("ptrace_event_pid(PTRACE_EVENT_FORK, ")
        .expect("ptrace_event_pid(PTRACE_EVENT_VFORK, ")
        .expect("ptrace_event_pid(PTRACE_EVENT_CLONE, ")
        .expect_status(0)
        .expect_no_page_lost();
}

#[test]
fn exectest_execve_matches_linux() {
    matches_linux("exectest", "exectest");
}

#[test]
fn cdemo_is_the_archives_init() {
    let run = boot(ARCHIVE, "");
    run.expect_status(0)
        .expect("initrd: a cpio archive of")
        .expect("cdemo: done")
        .expect_no_page_lost();
}

/// The no-libc program's checks of argc, argv, envp and the auxiliary vector.
fn startup_checks(run: &Run) {
    run.expect_status(0)
        .expect("argc = 3")
        .expect("argv[1] = first")
        .expect("argv[2] = second")
        .expect("envp: HOME=/")
        .expect("ok   AT_RANDOM points at 16 bytes")
        .expect_no_page_lost();
    assert!(!run.output.contains("FAIL"), "{}", run.output);
}

#[test]
fn startup_as_bare_elf_initrd() {
    let run = boot("build/c/startup", "-- first second");
    run.expect("initrd: an ELF program");
    startup_checks(&run);
}

#[test]
fn startup_inside_the_archive() {
    startup_checks(&boot(ARCHIVE, "init=/startup -- first second"));
}

#[test]
fn rust_utest_as_bare_elf_initrd() {
    boot(
        "target/aarch64-unknown-none/release/utest",
        "-- cow_three_generations",
    )
    .expect("initrd: an ELF program")
    .expect("utest cow_three_generations: ok")
    .expect_status(0)
    .expect_no_page_lost();
}

#[test]
fn rust_utest_inside_the_archive() {
    boot(ARCHIVE, "init=/utest -- fork_nested_chain")
        .expect("utest fork_nested_chain: ok")
        .expect_status(0)
        .expect_no_page_lost();
}

#[test]
fn missing_init_in_the_archive_panics() {
    let run = boot(ARCHIVE, "init=/nonexistent");
    run.expect("Requested init /nonexistent failed (error 2)");
    assert_ne!(run.status, 0);
}

#[test]
fn initrd_that_is_neither_cpio_nor_elf_leaves_no_init() {
    let run = boot("user/c/cdemo.expected", "");
    run.expect("initrd: not a newc cpio archive nor an ELF program")
        .expect("Requested init /init failed (error 2)")
        .expect_status(101);
}

/// Corrupted copies of a program (`scripts/mutate`): execve refuses each with an errno
/// or runs it, whatever it then does; the kernel lives on and no page is lost.
#[test]
fn corrupted_programs_are_refused_or_run() {
    boot(ARCHIVE, "init=/execfuzz -- 64")
        .expect("execfuzz: 64 files:")
        .expect("refused with ENOEXEC")
        .expect_status(0)
        .expect_no_page_lost();
}

/// An archive cut short in the middle of a member: the members before the cut are
/// there, the rest are not, and nothing panics (init, the first program, still runs and
/// finds its helper programs missing).
#[test]
fn truncated_archive_keeps_what_came_before_the_cut() {
    let data = std::fs::read(repo_root().join(ARCHIVE)).expect("build/initrd.cpio");
    let cut = std::env::temp_dir().join(format!("forkos-cut-{}.cpio", std::process::id()));
    std::fs::write(&cut, &data[..1_000_000.min(data.len())]).expect("temp file");
    let run = boot(cut.to_str().expect("utf-8 path"), "");
    let _ = std::fs::remove_file(&cut);
    run.expect("initrd: a cpio archive of")
        .expect("posix_spawn: No such file or directory")
        .expect("cdemo: done")
        .expect_status(0)
        .expect_no_page_lost();
}
