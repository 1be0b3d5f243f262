//! `utest NAME`: the EL0 test suite. Each test checks one Linux behaviour of the
//! fork/clone/exit/wait path (and the syscalls around it) from user space; every test
//! passes on real Linux 6.1 (`scripts/run-on-linux`), and forkos must behave the same.
//!
//! The program runs as pid 1, so: it is immune to signals it has no handler for, it
//! may not use `CLONE_PARENT`, and orphans are reparented to it. Checks that need an
//! ordinary process run in a forked child that reports through its exit status.
//!
//! `utest NAME` prints `utest NAME: ok` and exits 0, or prints a `FAIL` line saying what
//! was expected and what happened and exits 1. `utest list` prints every name; `utest
//! all` runs every test in this one process and prints how many failed; `utest repeat N
//! NAME` runs one test N times.
#![no_std]
#![no_main]

use forkos_user::{entry, println, sys};

/// Fail the current test (return `Err(Fail)`) unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::util::fail(format_args!($($arg)+), file!(), line!()));
        }
    };
}

/// Fail the current test unless `got == want`; the message names what was compared.
macro_rules! check_eq {
    ($got:expr, $want:expr, $($arg:tt)+) => {{
        let (got, want) = ($got, $want);
        if got != want {
            return Err($crate::util::fail(
                format_args!("{}: expected {:?}, got {:?}", format_args!($($arg)+), want, got),
                file!(),
                line!(),
            ));
        }
    }};
}

mod clone;
mod clone3;
mod cow;
mod cpuid;
mod execargs;
mod execs;
mod exhaust;
mod faults;
mod files;
mod fork;
mod futex;
mod handlers;
mod jobs;
mod mem;
mod misc;
mod orphans;
mod pipes;
mod procfs;
mod ptrace;
mod regs;
mod sched;
mod sigframe;
mod signals;
mod stack;
mod stress;
mod sysmisc;
mod threads;
mod tty;
mod uaccess;
mod util;
mod vfork;
mod vm;
mod wait;

use util::T;

/// Declares the test table: `module: name, ...;` per module, in run order. It is the one
/// list of EL0 tests: `tests/build.rs` reads it and makes each name a host test too.
macro_rules! tests {
    ($($module:ident: $($name:ident),+ $(,)?;)*) => {
        static TESTS: &[(&str, fn() -> T)] = &[$($((stringify!($name), $module::$name),)+)*];
    };
}

tests! {
    misc: init_ids, set_tid_address_returns_tid, unknown_syscall_enosys, syscall_nr_truncated,
        write_fds, write_bad_pointer, clock_gettime_errors, clock_monotonic_advances,
        cntvct_readable_at_el0,
        nanosleep_errors;
    fork: fork_returns_pid_and_zero, fork_child_getpid, fork_child_getppid, fork_child_settid,
        fork_isolates_data, fork_isolates_bss, fork_isolates_stack, fork_isolates_mmap,
        fork_copies_many_pages, fork_write_after_child_exit, fork_nested_chain;
    regs: syscall_preserves_registers, fork_registers, registers_survive_yield,
        registers_survive_preemption;
    vfork: vfork_suspends_parent, vfork_shares_memory, vfork_exit_status, vfork_child_killed,
        vfork_without_vm, vfork_repeated;
    clone: clone_vm_shares_memory, clone_sighand_shares_actions, clone_parent, clone_parent_exit_signal,
        clone_parent_from_init, clone_parent_settid, clone_child_settid_cleartid,
        clone_child_cleartid_wakes, clone_settls, fork_inherits_tls, clone_exit_signal_zero,
        clone_exit_signal_other, clone_unchecked_bits, clone_invalid_flags;
    threads: thread_ids, threads_create_join, thread_exit_keeps_group,
        thread_exit_group_kills_all, leader_exit_waits_for_threads,
        thread_children_belong_to_group;
    clone3: clone3_fork, clone3_settid, clone3_exit_signal_zero, clone3_thread,
        clone3_size_rules, clone3_bad_pointer, clone3_bad_exit_signal, clone3_bad_flags,
        clone3_checks_tail_before_struct, clone3_set_tid;
    wait: wait4_specific_pid, wait4_any_child, wait4_blocks_until_exit, wait4_wnohang,
        wait4_exit_status, wait4_killed_status, wait4_no_children, wait4_not_a_child,
        wait4_reaps_once, wait4_bad_options, wait4_int_min, wait4_bad_status_pointer,
        wait4_null_status, wait4_wclone_skips_sigchld_child, waitid_exited, waitid_killed,
        waitid_bad_arguments, waitid_no_children, waitid_wnohang, waitid_wnowait;
    orphans: orphan_reparented_to_init, orphan_zombie_reaped_by_init, orphan_exit_signal_reset,
        orphans_many;
    signals: kill_sigkill_sleeping, kill_sigterm_default, kill_zero_probe, kill_errors,
        tgkill_checks_tgid, tgkill_sigkill_kills_group, init_ignores_signals;
    handlers: handler_runs_on_kill, blocked_signal_runs_when_unblocked, sa_resethand_runs_once,
        handler_interrupts_wait4, segv_handler_skips_fault, sigchld_handler_gets_status,
        sigchld_ignored_reaps_children, sigreturn_restores_registers,
        handler_returns_without_restorer, sigaction_ignore_discards_pending,
        sigaction_ignore_discards_other_threads_pending;
    jobs: pgrp_session_inherited, setpgid_rules, setpgid_after_exec_eacces, kill_process_group,
        wait_process_group,
        stop_continue_wait4, stop_continue_waitid, sigchld_stop_codes,
        orphaned_stopped_pgrp_hup_cont, sigtstp_orphaned_discarded, stop_stops_all_threads;
    sigframe: sigreturn_parses_records, sigreturn_reads_only_what_it_needs;
    cpuid: wfi_wfe_at_el0_continue, mrs_id_registers_emulated, at_hwcap_has_cpuid;
    futex: futex_wait_value_mismatch, futex_wait_timeout, futex_wake_nobody, futex_wake_thread,
        futex_wake_thread_private, futex_wake_count, futex_shared_between_processes,
        futex_errors;
    mem: brk_initial, brk_grow_and_shrink, brk_invalid, brk_private_to_child, mmap_anonymous,
        mmap_fixed, mmap_errors, munmap_then_fault, mmap_shared_with_child, tagged_pointer_access, no_writable_executable_memory;
    faults: fault_null_read, fault_unmapped_write, fault_write_text, fault_write_rodata,
        fault_exec_stack, fault_exec_mmap, fault_undefined_instruction, fault_brk_instruction,
        fault_misaligned_pc, unaligned_access_allowed, fault_kernel_address,
        fault_protections, fault_in_thread_kills_process;
    stack: stack_grows_on_demand, stack_grows_for_the_kernel, stack_limited_by_rlimit,
        stack_guard_gap;
    cow: cow_fork_copies_nothing, cow_parent_child_write_different_pages, cow_three_generations,
        cow_reuse_after_child_exit, cow_kernel_write_copies;
    sysmisc: mprotect_none_read_write, mprotect_split_and_errors, mprotect_after_fork_keeps_cow,
        madvise_dontneed, getrandom_works, prlimit_get_set_inherit, sigaction_ignore_and_rules,
        sigprocmask_rules, robust_list_round_trip, affinity_and_getcpu;
    vm: sigpage_write_stays_private, brk_stops_below_next_mapping, brk_after_munmap_of_heap,
        brk_respects_rlimit_data,
        mprotect_partial_then_enomem, mmap_hint_honoured, mmap_hugetlb_fails;
    exhaust: fork_until_eagain_twice, oom_kills_the_hog;
    execs: exec_from_two_threads_at_once;
    execargs: exec_error_order, exec_limit_follows_rlimit_stack, exec_empty_argv_reserves_argv0;
    uaccess: write_checks_whole_range, writev_checks_every_iovec_first, getrandom_partial_buffer,
        copy_to_user_straddling, getrandom_flags_unsigned_int,
        nanosleep_interrupted_bad_rem, readlinkat_size_is_an_int, futex_timeout_read_first,
        futex_clock_realtime_deadline, futex_page_access, stat_ino_not_a_kernel_address;
    sched: spinners_spread_over_cpus, setaffinity_pins_tasks, smp_affinity_churn;
    stress: sched_yield_pingpong, stress_fork_wait, stress_concurrent_children, stress_fork_tree,
        stress_threads, stress_mixed, stress_group_exit, stress_thread_child_reparent,
        smp_fork_storm, smp_exit_races_kill_and_wait, smp_threads_touch_while_mappings_change,
        smp_vfork_cycles;
    files: open_creat_trunc_append, open_errors, lseek_pread_pwrite, dev_null_and_zero,
        fork_shares_offset, clone_files_shares_table, cloexec_across_execve, dup_dup3_fcntl,
        emfile_at_rlimit_nofile, getdents64_lists_directory, mkdir_rmdir_errors,
        links_and_rename, cwd_and_umask, attributes_and_copies, exec_written_file,
        removed_cwd_takes_no_names, deep_link_chain;
    pipes: pipe_eof_after_last_writer, pipe_sigpipe_and_epipe, pipe_nonblock_eagain,
        pipe_packets_and_pages,
        pipe_fills_then_blocks, pipe_atomic_writes, ppoll_pipe_readiness, pselect6_pipe_readiness, pipe_read_interrupted,
        pipe_write_interrupted_partial,
        pipe_three_process_pipeline, pipe_lseek_fstat_cloexec;
    tty: tty_termios_ioctls, tty_controlling_terminal, tty_background_job_control,
        tty_read_interrupted, tty_session_leader_exit_hangs_up, tty_sctty_steal;
    ptrace: ptrace_traceme_stop_cont, ptrace_syscall_stops_see_x8_and_args,
        ptrace_setregset_changes_syscall, ptrace_fork_vfork_clone_events,
        ptrace_peek_poke_across_cow, ptrace_refusals, ptrace_attach_detach_and_tracer_death,
        ptrace_seize_interrupt_kill, ptrace_exec_and_exit_events, ptrace_waitid_trapped,
        ptrace_clone_ptrace_and_untraced, ptrace_fpsimd_regset, ptrace_poketext_into_readonly_text,
        ptrace_group_stop_seen_by_tracer, ptrace_singlestep, ptrace_syscall_from_a_fork_event,
        ptrace_exit_event_on_signal_death, ptrace_singlestep_over_svc;
    procfs: mount_errors, proc_self_files, proc_status_states, proc_readdir_lists_pids,
        proc_maps_fork_cow, proc_exe_exec, times_getrusage_getgroups,
        prctl_name_and_restart_syscall, rseq_register_errors,
        rseq_signal_aborts_critical_section, nanosleep_resumes_after_stop,
        umount_busy_expire_detach, proc_fd_reopens_pipe;
}

fn main(args: &[&str]) -> i32 {
    // Started with no arguments at all: the kernel gave an empty argv[0]
    // (exec_empty_argv_reserves_argv0 checks for this status).
    if args == [""] {
        return 42;
    }
    if let Some(argv0) = args.first() {
        util::set_self_path(argv0);
    }
    // The test name is the last argument: Linux also passes init the unknown boot
    // options without `=` (e.g. `nokaslr`) before the ones after `--`.
    let name = if args.len() > 1 {
        args[args.len() - 1]
    } else {
        ""
    };
    // Not tests: ways for the host tests to end init with a given status.
    if args.len() > 2 && args[args.len() - 2] == "exit" {
        return name.parse().unwrap_or(1);
    }
    // The exec'd halves of sigpage_write_stays_private: `sigpage MODE ADDR`.
    if args.len() > 3 && args[args.len() - 3] == "sigpage" {
        return vm::sigpage_helper(args[args.len() - 2], name);
    }
    // The exec'd half of cloexec_across_execve: `fdopen A B`.
    if args.len() > 3 && args[args.len() - 3] == "fdopen" {
        return files::fdopen_helper(args[args.len() - 2], name);
    }
    // Not a test of the table: the host types into it (tests/tests/tty.rs).
    if name == "tty_session" {
        return tty::session_helper();
    }
    if name == "segv" {
        // SAFETY: a load from the unmapped address 8, in assembly so that no Rust
        // reference is involved: init dies of SIGSEGV here.
        unsafe { core::arch::asm!("ldr {t}, [{a}]", a = in(reg) 8u64, t = out(reg) _) };
    }
    if name == "list" || name.is_empty() {
        for (n, _) in TESTS {
            println!("{n}");
        }
        return if name.is_empty() { 1 } else { 0 };
    }
    if name == "all" {
        // The whole suite in one process, one test after another, as xv6's usertests
        // runs: the kernel's page count at power-off then covers all of it.
        let failed = TESTS.iter().filter(|(n, t)| run(n, *t) != 0).count();
        println!("utest all: {} tests, {failed} failed", TESTS.len());
        return (failed != 0) as i32;
    }
    let Some((name, test)) = TESTS.iter().find(|(n, _)| *n == name) else {
        println!("utest {name}: FAIL: no such test (try `utest list`)");
        return 1;
    };
    // `utest repeat N NAME`: the test N times over, until one fails (with few ASIDs,
    // the later runs meet ASID rollovers: tests/tests/asid.rs).
    if args.len() > 3 && args[args.len() - 3] == "repeat" {
        let n: usize = args[args.len() - 2].parse().unwrap_or(1);
        return (0..n)
            .map(|_| run(name, *test))
            .find(|&r| r != 0)
            .unwrap_or(0);
    }
    run(name, *test)
}

/// Run one test; 0 if it passed.
fn run(name: &'static str, test: fn() -> T) -> i32 {
    util::set_name(name);
    let result = test();
    // Every test reaps all its children: whatever is left is a leak.
    let mut status = 0;
    let left = sys::wait4(-1, &mut status, sys::WALL | sys::WNOHANG);
    if result.is_ok() && left != -sys::ECHILD {
        println!(
            "utest {name}: FAIL: a child was left behind (wait4(-1, __WALL|WNOHANG) = {left})"
        );
        return 1;
    }
    match result {
        Ok(()) => {
            println!("utest {name}: ok");
            0
        }
        Err(_) => 1,
    }
}
entry!(main);
