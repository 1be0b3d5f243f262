//! The syscall fuzzer (`user/src/bin/sysfuzz.rs`): tens of thousands of random syscalls
//! from disposable worker processes, with pointers into the kernel and unmapped memory,
//! random clone flags, forks, exits and signals. The kernel must still be running at
//! the end, every process reaped, every page back. `make fuzz` runs it for longer.

use std::time::Duration;

use forkos_tests::Boot;

#[test]
fn syscall_fuzzer_leaves_the_kernel_whole() {
    let seed = 20261123;
    let run = Boot {
        append: format!("init=/sysfuzz -- {seed} 20000"),
        timeout: Duration::from_secs(240),
        ..Boot::default()
    }
    .run();
    run.expect(&format!("sysfuzz: seed {seed}: "))
        .expect("all gone")
        .expect_status(0)
        .expect_no_page_lost();
}
