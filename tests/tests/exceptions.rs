//! Exceptions: pt_regs round trip, timer interrupts that preserve registers, and the
//! reports of exceptions the kernel cannot handle.

use forkos_tests::Boot;

/// Boot one self-test that must pass and show no failed check.
fn passes(name: &str) -> String {
    let run = Boot::selftest(name).run();
    run.expect_status(0).expect("selftest: all passed");
    assert!(!run.output.contains("[FAIL]"), "{}", run.output);
    run.output
}

#[test]
fn pt_regs_round_trip() {
    let out = passes("ptregs");
    for check in [
        "pt_regs.regs[0..31] hold exactly the values x0-x30 had",
        "the interrupted sp",
        "the brk instruction",
        "EL1h",
        "x0-x30 are intact after kernel_exit",
        "kernel_exit restores x0-x30 from pt_regs",
    ] {
        assert!(out.contains(check), "missing {check:?} in\n{out}");
    }
}

#[test]
fn timer_irqs_preserve_registers() {
    let out = passes("timer");
    assert!(
        out.contains("[ok] x3-x30 survived every interrupt"),
        "{out}"
    );
    assert!(out.contains("[ok] sp survived every interrupt"), "{out}");
}

#[test]
fn timer_irqs_under_gicv3() {
    let run = Boot {
        machine: "virt,gic-version=3".into(),
        ..Boot::selftest("timer")
    }
    .run();
    run.expect_status(0)
        .expect("[ok] x3-x30 survived every interrupt");
}

#[test]
fn el1_data_abort_is_reported() {
    Boot::selftest("dabort")
        .run()
        .expect_status(102)
        .expect(
            "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010",
        )
        .expect("EC = 0x25: DABT (current EL)")
        .expect("FSC = 0x04: level 0 translation fault")
        .expect("WnR = 1")
        .expect("Internal error: Oops")
        .expect("FAR_EL1: 0x0000000000000010")
        .expect("x29:")
        .expect("x0 :");
}

#[test]
fn kernel_text_is_read_only() {
    Boot::selftest("text_write")
        .run()
        .expect_status(102)
        .expect("level 3 permission fault")
        .expect("Internal error: Oops");
}

#[test]
fn panic_prints_message_and_location() {
    Boot::selftest("panic")
        .run()
        .expect_status(101)
        .expect("Kernel panic - not syncing: selftest panic")
        .expect("at kernel/src/selftest.rs:");
}

#[test]
fn console_p_prints_the_process_table() {
    // The harness sends `p` to a run that outlives its timeout. Five seconds are long
    // enough for the kernel to start init even on a loaded host (a tenth of a second
    // on a quiet one), and the whole EL0 suite runs for longer, so init is alive when
    // the table is printed.
    let boot = Boot {
        timeout: std::time::Duration::from_secs(5),
        ..Boot::utest("all")
    };
    let msg = std::panic::catch_unwind(|| boot.run()).expect_err("the run must time out");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    let (_, table) = msg
        .split_once("  pid  tgid  ppid state")
        .unwrap_or_else(|| panic!("no process table in:\n{msg}"));
    // Init's row: pid 1, tgid 1, parent 0, running utest.
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("    1     1     0 ") && l.contains(" utest ")),
        "{msg}"
    );
}

/// With PAN (QEMU's `-cpu max` has it), a kernel read of a user page is an oops that
/// names PAN, not a quiet read.
#[test]
fn pan_stops_kernel_access_to_user_memory() {
    let run = Boot {
        cpu: "max".into(),
        ..Boot::selftest("pan")
    }
    .run();
    run.expect("pan:     on")
        .expect("Unable to handle kernel paging request at virtual address 0000000000400000")
        .expect("Kernel access to user memory blocked by PAN")
        .expect_status(102);
}

/// The whole EL0 suite with PAN on: no kernel path touches user memory directly.
/// (`all_`: the longest boot here starts first, as tests start in name order.)
#[test]
fn all_el0_tests_with_pan_on() {
    let run = Boot {
        cpu: "max".into(),
        ..Boot::utest("all")
    }
    .run();
    run.expect("pan:     on")
        .expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}

/// Endless recursion in the kernel runs into the stack's guard area; the vectors notice
/// the overflow, switch to the overflow stack and panic with a report instead of
/// faulting again and again.
#[test]
fn kernel_stack_overflow_is_reported() {
    Boot::selftest("stack_overflow")
        .run()
        .expect("Insufficient stack space to handle exception!")
        .expect("Task stack:")
        .expect("Overflow stack:")
        .expect("Kernel panic - not syncing: kernel stack overflow")
        .expect_status(101);
}
