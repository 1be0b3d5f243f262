//! The syscall fuzzer (`user/src/bin/sysfuzz.rs`): tens of thousands of random syscalls
//! from disposable worker processes, with pointers into the kernel and unmapped memory,
//! random clone flags, forks, exits and signals. The kernel must still be running at
//! the end, every process reaped, every page back; and the kernel checks every address
//! space after every memory call (`debug_vm`: `validate_mm`), so that a broken mapping
//! list or page table stops it at once. `make fuzz` runs it for longer.

use std::time::Duration;

use forkos_tests::Boot;

#[test]
fn syscall_fuzzer_leaves_the_kernel_whole() {
    let seed = 20261123;
    let run = Boot {
        append: format!("debug_vm init=/sysfuzz -- {seed} 20000"),
        // 20,000 calls take 13 s on a 2-core CI machine; 240 s is room for one 18 times
        // slower, where the harness's usual 60 s would be only 4 times.
        timeout: Duration::from_secs(240),
        ..Boot::default()
    }
    .run();
    run.expect(&format!("sysfuzz: seed {seed}: "))
        .expect("all gone")
        .expect_status(0)
        .expect_no_page_lost();
}

/// The differential check (`user/src/bin/errcheck.rs`): 6,000 seeded calls with bad
/// pointers, flags and sizes must fail exactly as they failed on Linux 6.1, whose
/// digests are in `tests/linux/errcheck-7-6000.txt` (recorded with
/// `scripts/run-on-linux build/initrd.cpio init=/errcheck 7 6000`; record them again
/// whenever errcheck changes; `scripts/errcheck-on-linux SEED` shows call by call where
/// two runs part).
#[test]
fn syscall_errors_match_linux() {
    let expected =
        std::fs::read_to_string(forkos_tests::repo_root().join("tests/linux/errcheck-7-6000.txt"))
            .expect("recorded digests");
    let run = Boot {
        append: "init=/errcheck -- 7 6000".into(),
        initrd: Some("build/initrd.cpio".into()),
        // The 6,000 calls take 1 s on a 2-core CI machine: the usual timeout is plenty.
        ..Boot::default()
    }
    .run();
    run.expect_status(0);
    let got: String = run
        .output
        .lines()
        .filter(|l| l.starts_with("errcheck: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        got, expected,
        "forkos's syscall results differ from Linux's"
    );
}
