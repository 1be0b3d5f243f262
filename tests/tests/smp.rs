//! Bringing up the secondary CPUs (issue 13): every CPU the device tree lists comes
//! online through PSCI `CPU_ON` over the conduit `/psci` names (`hvc`, or `smc` with
//! `virtualization=on`, where the CPUs also enter at EL2), on GICv2 and GICv3, and
//! runs tasks: the demo and the whole EL0 suite pass on 2 and 4 CPUs as on one, with no
//! page lost.

use fdt::Fdt;
use forkos_tests::{Boot, Run};

/// The banner's CPU line as the device tree says it should read: how many `/cpus`
/// nodes, all of them online, and the PSCI conduit when there is more than one CPU.
fn expected_cpu_line(boot: &Boot) -> String {
    let dtb = boot.dump_dtb();
    let fdt = Fdt::new(&dtb).expect("QEMU's device tree parses");
    let n = fdt.cpus().count();
    let method = fdt
        .find_node("/psci")
        .and_then(|p| p.property("method"))
        .and_then(|m| m.as_str())
        .expect("a /psci node with a method");
    if n > 1 {
        format!("{n} in the device tree, {n} online (PSCI {method})")
    } else {
        format!("{n} in the device tree, {n} online")
    }
}

/// Boot `boot`'s demo, check the CPU line against the device tree, and that the demo
/// passed and gave every page back.
fn demo_on(boot: Boot) -> Run {
    let want = expected_cpu_line(&boot);
    let run = boot.run();
    assert_eq!(
        run.line_value("cpus:"),
        Some(want.as_str()),
        "{}",
        run.output
    );
    run.expect_status(0)
        .expect("init: no children left")
        .expect_no_page_lost();
    run
}

#[test]
fn smp1_starts_no_cpu() {
    let run = demo_on(Boot::default());
    assert!(!run.output.contains("smp:"), "{}", run.output);
}

#[test]
fn smp2_demo() {
    demo_on(Boot {
        smp: 2,
        ..Boot::default()
    })
    .expect("(PSCI hvc)");
}

#[test]
fn smp4_demo() {
    demo_on(Boot {
        smp: 4,
        ..Boot::default()
    })
    .expect("4 in the device tree, 4 online (PSCI hvc)");
}

#[test]
fn smp4_demo_gicv3() {
    demo_on(Boot {
        smp: 4,
        machine: "virt,gic-version=3".into(),
        ..Boot::default()
    });
}

#[test]
fn smp4_demo_el2_smc() {
    demo_on(Boot {
        smp: 4,
        machine: "virt,virtualization=on".into(),
        ..Boot::default()
    })
    .expect("(PSCI smc)")
    .expect("entered at EL2, dropped to EL1");
}

#[test]
fn smp4_demo_el2_smc_gicv3() {
    demo_on(Boot {
        smp: 4,
        machine: "virt,virtualization=on,gic-version=3".into(),
        cpu: "max".into(),
        ..Boot::default()
    })
    .expect("(PSCI smc)");
}

/// One host thread per CPU (multi-threaded TCG): the CPUs really run at once.
#[test]
fn smp4_demo_mttcg() {
    demo_on(Boot {
        smp: 4,
        accel: Some("tcg,thread=multi".into()),
        ..Boot::default()
    });
}

/// Every CPU's GIC interface and timer are up: each takes its own ticks, and only the
/// boot CPU's advance jiffies; a reschedule IPI (an SGI) reaches each secondary.
#[test]
fn smp4_every_cpu_ticks() {
    for machine in ["virt", "virt,gic-version=3"] {
        let run = Boot {
            smp: 4,
            machine: machine.into(),
            ..Boot::selftest("smp")
        }
        .run();
        run.expect_status(0)
            .expect("selftest smp: 4 CPUs online")
            .expect("[ok] CPU3 took ")
            .expect("[ok] CPU3 took a reschedule IPI");
    }
}

/// The whole EL0 suite in one boot on `smp` CPUs (on multi-threaded TCG with `accel`):
/// it passes as on one CPU and loses no page.
fn whole_suite(smp: u32, accel: Option<&str>) {
    let run = Boot {
        smp,
        accel: accel.map(Into::into),
        ..Boot::utest("all")
    }
    .run();
    run.expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}

/// With four CPUs online, tasks spread over all of them.
#[test]
fn all_el0_tests_with_smp4() {
    whole_suite(4, None);
}

/// With two CPUs online.
#[test]
fn all_el0_tests_with_smp2() {
    whole_suite(2, None);
}

/// With four CPUs on four host threads (`-accel tcg,thread=multi`): the vCPUs really
/// run at once, so races between CPUs get their chance.
#[test]
fn all_el0_tests_with_smp4_mttcg() {
    whole_suite(4, Some("tcg,thread=multi"));
}

/// The cross-CPU race tests (fork storm, exit against kill and wait4, mappings changing
/// under touching threads, vfork, affinity changes under running tasks) with four CPUs
/// and the fast tick, on real host parallelism.
#[test]
fn smp4_races_under_fast_preemption() {
    for name in [
        "smp_fork_storm",
        "smp_exit_races_kill_and_wait",
        "smp_threads_touch_while_mappings_change",
        "smp_vfork_cycles",
        "smp_affinity_churn",
    ] {
        let run = Boot {
            smp: 4,
            accel: Some("tcg,thread=multi".into()),
            append: format!("tick_hz=4000 init=/utest -- {name}"),
            ..Boot::default()
        }
        .run();
        run.expect(&format!("utest {name}: ok"))
            .expect_status(0)
            .expect_no_page_lost();
    }
}

/// Where tasks run (the EL0 tests `spinners_spread_over_cpus`, `setaffinity_pins_tasks`)
/// on 2 and 4 CPUs, round-robin and on real host parallelism: four spinning processes
/// end up on four CPUs, and `sched_setaffinity` moves a task before it returns.
#[test]
fn smp_tasks_spread_and_pin() {
    for (smp, accel) in [(2, None), (4, None), (4, Some("tcg,thread=multi"))] {
        for name in ["spinners_spread_over_cpus", "setaffinity_pins_tasks"] {
            let run = Boot {
                smp,
                accel: accel.map(Into::into),
                ..Boot::utest(name)
            }
            .run();
            run.expect(&format!("utest {name}: ok"))
                .expect_status(0)
                .expect_no_page_lost();
        }
    }
}
