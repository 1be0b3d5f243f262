//! The ASID allocator under pressure: with `asid_bits=3` on the command line the kernel
//! has 8 ASIDs (7 for user address spaces), so a rollover comes every few forks, and
//! the fork, copy-on-write, vfork and thread tests run across many of them (Linux's
//! allocator, `kernel/src/arch/aarch64/mmu_context.rs`). An address space that kept a
//! stale ASID, or two that shared one, would see another's pages: the tests check memory
//! contents after every fork and write, and the leak check that no page was lost.

use forkos_tests::{Boot, Run};

/// `utest NAME` with 8 ASIDs.
fn boot(name: &str) -> Run {
    let mut boot = Boot::utest(name);
    boot.append = format!("asid_bits=3 {}", boot.append);
    boot.run()
}

/// The rollovers the kernel counted at power-off.
fn rollovers(run: &Run) -> u64 {
    run.line_value("forkos: ASID rollovers")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no rollover count in:\n{}", run.output))
}

/// `utest NAME` twenty times in one boot with 8 ASIDs; with `forks`, the test makes
/// new address spaces, and the later runs must have met rollovers.
fn utest(name: &str, forks: bool) {
    let run = boot(&format!("repeat 20 {name}"));
    run.expect("asids:   8 (3 of ")
        .expect_status(0)
        .expect_no_page_lost();
    assert_eq!(
        run.output.matches(&format!("utest {name}: ok")).count(),
        20,
        "{}",
        run.output
    );
    let n = rollovers(&run);
    assert!(
        n > 0 || !forks,
        "no ASID rollover in twenty runs of {name}:\n{}",
        run.output
    );
}

/// Every EL0 test in one boot with 8 ASIDs: thousands of rollovers, while processes
/// fork, share pages copy-on-write, exec and exit. (`all_`: the long boot starts first.)
#[test]
fn all_el0_tests_with_8_asids() {
    let run = boot("all");
    run.expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
    let n = rollovers(&run);
    assert!(n > 100, "only {n} ASID rollovers:\n{}", run.output);
}

/// One boot per test, so that a failure names its test.
macro_rules! asid_tests {
    ($forks:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                crate::utest(stringify!($name), $forks);
            }
        )+
    };
}

/// Tests that fork: rollovers come while their address spaces share pages.
mod with_8_asids {
    asid_tests! { true;
        fork_isolates_data, fork_isolates_stack, fork_isolates_mmap, fork_copies_many_pages,
        fork_write_after_child_exit, fork_nested_chain,
        cow_fork_copies_nothing, cow_parent_child_write_different_pages, cow_three_generations,
        cow_reuse_after_child_exit, cow_kernel_write_copies, mprotect_after_fork_keeps_cow,
        thread_exit_keeps_group, leader_exit_waits_for_threads,
        stress_fork_wait, stress_concurrent_children, stress_fork_tree, stress_mixed,
    }

    /// Tests whose tasks share init's address space (vfork, `CLONE_VM`, threads): they
    /// make no new one, so they meet rollovers only among the others, in
    /// `all_el0_tests_with_8_asids`.
    mod sharing_one_mm {
        asid_tests! { false;
            vfork_shares_memory, vfork_repeated, clone_vm_shares_memory, threads_create_join,
            stress_threads,
        }
    }
}

/// Too few ASIDs for a rollover to find one free are not accepted: the option is raised
/// to the least that works (Linux warns when it has no more ASIDs than CPUs).
#[test]
fn asid_bits_below_the_minimum_is_raised() {
    let mut b = Boot::utest("fork_nested_chain");
    b.append = format!("asid_bits=1 {}", b.append);
    let run = b.run();
    run.expect("asids:   4 (2 of ")
        .expect("utest fork_nested_chain: ok")
        .expect_status(0)
        .expect_no_page_lost();
    let n = rollovers(&run);
    assert!(n > 0, "no ASID rollover with 3 user ASIDs:\n{}", run.output);
}
