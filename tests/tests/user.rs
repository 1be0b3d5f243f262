//! EL0 tests: each boots forkos with the user program `utest` as pid 1 running one test
//! (`user/src/bin/utest/`). A test passes when init exits with status 0 after printing
//! `utest NAME: ok`. The same programs pass on real Linux 6.1 (scripts/run-on-linux).

use forkos_tests::Boot;

fn utest(name: &str) {
    let run = Boot::utest(name).run();
    run.expect(&format!("utest {name}: ok"))
        .expect_status(0)
        // Every page used since init started came back once everything was reaped.
        .expect_no_page_lost();
}

/// The leak check around the whole suite, as xv6's `usertests` does it: every test in
/// one boot, one after another in one process, and not one page missing at the end.
#[test]
fn whole_suite_in_one_boot_loses_no_page() {
    let run = Boot::utest("all").run();
    run.expect("utest all: ")
        .expect(" tests, 0 failed")
        .expect_status(0)
        .expect_no_page_lost();
}

macro_rules! user_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                utest(stringify!($name));
            }
        )*
    };
}

user_tests!(
    init_ids,
    set_tid_address_returns_tid,
    unknown_syscall_enosys,
    syscall_nr_truncated,
    write_fds,
    write_bad_pointer,
    clock_gettime_errors,
    clock_monotonic_advances,
    cntvct_readable_at_el0,
    nanosleep_errors,
    fork_returns_pid_and_zero,
    fork_child_getpid,
    fork_child_getppid,
    fork_child_settid,
    fork_isolates_data,
    fork_isolates_bss,
    fork_isolates_stack,
    fork_isolates_mmap,
    fork_copies_many_pages,
    fork_write_after_child_exit,
    fork_nested_chain,
    syscall_preserves_registers,
    fork_registers,
    registers_survive_yield,
    registers_survive_preemption,
    vfork_suspends_parent,
    vfork_shares_memory,
    vfork_exit_status,
    vfork_child_killed,
    vfork_without_vm,
    vfork_repeated,
    clone_vm_shares_memory,
    clone_sighand_shares_actions,
    clone_parent,
    clone_parent_exit_signal,
    clone_parent_from_init,
    clone_parent_settid,
    clone_child_settid_cleartid,
    clone_child_cleartid_wakes,
    clone_settls,
    fork_inherits_tls,
    clone_exit_signal_zero,
    clone_exit_signal_other,
    clone_unchecked_bits,
    clone_invalid_flags,
    thread_ids,
    threads_create_join,
    thread_exit_keeps_group,
    thread_exit_group_kills_all,
    leader_exit_waits_for_threads,
    thread_children_belong_to_group,
    clone3_fork,
    clone3_settid,
    clone3_exit_signal_zero,
    clone3_thread,
    clone3_size_rules,
    clone3_bad_pointer,
    clone3_bad_exit_signal,
    clone3_bad_flags,
    wait4_specific_pid,
    wait4_any_child,
    wait4_blocks_until_exit,
    wait4_wnohang,
    wait4_exit_status,
    wait4_killed_status,
    wait4_no_children,
    wait4_not_a_child,
    wait4_reaps_once,
    wait4_bad_options,
    wait4_int_min,
    wait4_bad_status_pointer,
    wait4_null_status,
    wait4_wclone_skips_sigchld_child,
    waitid_exited,
    waitid_killed,
    waitid_bad_arguments,
    waitid_no_children,
    waitid_wnohang,
    waitid_wnowait,
    orphan_reparented_to_init,
    orphan_zombie_reaped_by_init,
    orphan_exit_signal_reset,
    orphans_many,
    kill_sigkill_sleeping,
    kill_sigterm_default,
    kill_zero_probe,
    kill_errors,
    tgkill_checks_tgid,
    tgkill_sigkill_kills_group,
    init_ignores_signals,
    handler_runs_on_kill,
    blocked_signal_runs_when_unblocked,
    sa_resethand_runs_once,
    handler_interrupts_wait4,
    segv_handler_skips_fault,
    sigchld_handler_gets_status,
    sigchld_ignored_reaps_children,
    sigreturn_restores_registers,
    handler_returns_without_restorer,
    futex_wait_value_mismatch,
    futex_wait_timeout,
    futex_wake_nobody,
    futex_wake_thread,
    futex_wake_thread_private,
    futex_wake_count,
    futex_shared_between_processes,
    futex_errors,
    brk_initial,
    brk_grow_and_shrink,
    brk_invalid,
    brk_private_to_child,
    mmap_anonymous,
    mmap_fixed,
    mmap_errors,
    munmap_then_fault,
    mmap_shared_with_child,
    tagged_pointer_access,
    no_writable_executable_memory,
    fault_null_read,
    fault_unmapped_write,
    fault_write_text,
    fault_write_rodata,
    fault_exec_stack,
    fault_exec_mmap,
    fault_undefined_instruction,
    fault_brk_instruction,
    fault_misaligned_pc,
    unaligned_access_allowed,
    fault_kernel_address,
    fault_protections,
    fault_in_thread_kills_process,
    cow_fork_copies_nothing,
    cow_parent_child_write_different_pages,
    cow_three_generations,
    cow_reuse_after_child_exit,
    cow_kernel_write_copies,
    mprotect_none_read_write,
    mprotect_split_and_errors,
    mprotect_after_fork_keeps_cow,
    madvise_dontneed,
    getrandom_works,
    prlimit_get_set_inherit,
    sigaction_ignore_and_rules,
    sigprocmask_rules,
    robust_list_round_trip,
    fork_until_eagain_twice,
    oom_kills_the_hog,
    exec_from_two_threads_at_once,
    sched_yield_pingpong,
    stress_fork_wait,
    stress_concurrent_children,
    stress_fork_tree,
    stress_threads,
    stress_mixed,
    stress_group_exit,
    stress_thread_child_reparent,
);
