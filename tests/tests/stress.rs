//! Stress under preemption: the stress tests of the EL0 suite again, and then the whole
//! suite in one boot, with the timer interrupting 4000 times a second (`tick_hz=4000`,
//! 16 times the normal tick) so that preemption lands at many more points of fork, exit,
//! wait, faults and threads. Every status must come out right, every process reaped,
//! every page back.

use forkos_tests::Boot;

fn stress(name: &str) {
    let run = Boot {
        append: format!("tick_hz=4000 init=/utest -- {name}"),
        ..Boot::default()
    }
    .run();
    run.expect("tick:    4000 timer interrupts a second")
        .expect(&format!("utest {name}: ok"))
        .expect_status(0)
        .expect_no_page_lost();
}

#[test]
fn preempted_mixed_workload() {
    stress("stress_mixed");
}

#[test]
fn preempted_fork_tree() {
    stress("stress_fork_tree");
}

#[test]
fn preempted_threads() {
    stress("stress_threads");
}

#[test]
fn preempted_registers() {
    stress("registers_survive_preemption");
}

#[test]
fn preempted_concurrent_children() {
    stress("stress_concurrent_children");
}

#[test]
fn preempted_group_exit() {
    stress("stress_group_exit");
}

#[test]
fn preempted_thread_child_reparent() {
    stress("stress_thread_child_reparent");
}

/// The whole EL0 suite in one boot with the fast tick: every test, preempted anywhere.
/// (`all_`: the longest boot here starts first, as tests start in name order.)
#[test]
fn all_el0_tests_under_fast_preemption() {
    let run = Boot {
        append: "tick_hz=4000 init=/utest -- all".into(),
        ..Boot::default()
    }
    .run();
    run.expect("tick:    4000 timer interrupts a second")
        .expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}
