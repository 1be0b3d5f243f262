//! EL0 tests: each boots forkos with the user program `utest` as pid 1 running one test
//! (`user/src/bin/utest/`). A test passes when init exits with status 0 after printing
//! `utest NAME: ok`. The same programs pass on real Linux 6.1 (scripts/run-on-linux).
//!
//! There is one `#[test]` per EL0 test, named as the EL0 test: `tests/build.rs` writes
//! them from the `tests!` table of `user/src/bin/utest/main.rs`, the one list of them.
//! The tests below the include are the ones that are not a plain run of one EL0 test.

use forkos_tests::Boot;

fn utest(name: &str) {
    let run = Boot::utest(name).run();
    run.expect(&format!("utest {name}: ok"))
        .expect_status(0)
        // Every page used since init started came back once everything was reaped.
        .expect_no_page_lost();
}

include!(concat!(env!("OUT_DIR"), "/user_tests.rs"));

/// The leak check around the whole suite, as xv6's `usertests` does it: every test in
/// one boot, one after another in one process, and not one page missing at the end.
/// The test harness starts tests in name order; `all_` puts this long boot first, so
/// that the short boots keep the other CPU busy beside it.
#[test]
fn all_el0_tests_in_one_boot_lose_no_page() {
    let run = Boot::utest("all").run();
    run.expect("utest all: ")
        .expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}
