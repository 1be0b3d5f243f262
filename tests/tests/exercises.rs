//! The exercises' checks (docs/exercises.md). `make exercise E=NAME` takes a piece of the
//! fork path out of the kernel; `make test T=exercise_NAME` runs the tests of module
//! `exercise_NAME` below, which boot the kernel and run the EL0 tests (`utest`, one boot
//! each) that the missing code makes fail. With the reference code in place they all
//! pass, like every other test.
//!
//! Most are tests of `tests/tests/user.rs` again, grouped by exercise; they check Linux
//! behaviour and pass on Linux too. `cow_reuse` has no such test, because copying a page
//! that could have been reused is invisible to the program: its check reads the fork
//! trace instead.

use forkos_tests::{Boot, Run};
use std::io::Write as _;
use std::time::Duration;

/// What is left out of the kernel can make a test hang; it fails after this. The
/// slowest of these boots (`cow_reuse_after_child_exit` with the trace) takes 0.2 s on
/// a 2-core CI machine, so 5 s is room for a 25 times slower one without a long wait.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Boot with `init=/utest -- name` (and `extra` before it on the command line), saying
/// on the terminal which boot the check waits for: the test harness shows a test's own
/// output only once it has failed, and a hang takes the whole timeout to fail.
fn boot(name: &str, extra: &str) -> Run {
    let mut boot = Boot::utest(name);
    if !extra.is_empty() {
        boot.append = format!("{extra} {}", boot.append);
    }
    boot.timeout = TIMEOUT;
    // Straight to stderr: the harness captures only print! and eprint!.
    let _ = writeln!(
        std::io::stderr(),
        "exercise check: waiting for the boot `{}` (at most {TIMEOUT:?})",
        boot.append
    );
    boot.run()
}

/// EL0 test `name` passes, and every page it used comes back.
fn utest(name: &str) {
    boot(name, "")
        .expect(&format!("utest {name}: ok"))
        .expect_status(0)
        .expect_no_page_lost();
}

/// One `#[test]` per EL0 test, named as the EL0 test.
macro_rules! utests {
    ($($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::utest(stringify!($name));
            }
        )+
    };
}

/// `clone_parent`: CLONE_PARENT and CLONE_THREAD in `copy_process` (kernel/src/fork.rs).
mod exercise_clone_parent {
    utests!(
        // CLONE_PARENT: the caller's parent becomes the child's (it fails without).
        clone_parent,
        clone_parent_exit_signal,
        clone_parent_from_init,
        // CLONE_THREAD goes through the same block: threads must keep working.
        thread_ids,
        threads_create_join,
        thread_children_belong_to_group,
    );
}

/// `copy_thread`: the child's x0, sp and TLS (kernel/src/arch/aarch64/process.rs).
mod exercise_copy_thread {
    utests!(
        // x0 = 0 in the child.
        fork_returns_pid_and_zero,
        fork_registers,
        // sp = the new stack.
        clone_vm_shares_memory,
        clone3_thread,
        // TPIDR_EL0: inherited, or CLONE_SETTLS's.
        fork_inherits_tls,
        clone_settls,
    );
}

/// `vfork`: the parent sleeps until the child releases the mm (kernel/src/fork.rs,
/// `do_fork`).
mod exercise_vfork {
    utests!(
        vfork_suspends_parent,
        vfork_shares_memory,
        vfork_without_vm,
        vfork_repeated,
        vfork_exit_status,
        vfork_child_killed,
    );
}

/// `cow_reuse`: `do_wp_page` takes back a page nobody else maps instead of copying it
/// (kernel/src/mm/memory.rs).
mod exercise_cow_reuse {
    use super::boot;

    utests!(
        // Copy-on-write still gives each side its own pages.
        cow_parent_child_write_different_pages,
        cow_three_generations,
        cow_kernel_write_copies,
        fork_write_after_child_exit,
        cow_reuse_after_child_exit,
    );

    /// After its child has exited, the parent (pid 1) writes its 2048 pages of `.bss`
    /// that were shared with the child: each write fault must take the page back
    /// (`wp_page_reuse`), not copy it. The fork trace names the copies (`do_wp_page ->
    /// wp_page_copy`); the few allowed are pages the parent wrote while the child lived.
    #[test]
    fn parent_reuses_pages_after_child_exit() {
        let name = "cow_reuse_after_child_exit";
        let run = boot(name, "trace=fork");
        run.expect(&format!("utest {name}: ok")).expect_status(0);
        let copies = run
            .output
            .lines()
            .filter(|l| l.contains("[trace] pid 1: write fault") && l.contains("wp_page_copy"))
            .count();
        // Today 1 copy (a stack page written while the child lived); 64 is room for
        // more such pages and still 3% of the 2048 copies that a missing reuse makes.
        assert!(
            copies < 64,
            "pid 1 copied {copies} pages on write faults (do_wp_page -> wp_page_copy) \
             although, once its child had exited, nobody else mapped them: the last user \
             of a page takes it back (wp_page_reuse)"
        );
    }
}
