//! execve in a process with several threads.

use crate::util::{child_code, exited, expect_status, map, self_path, Thread, RW, T};
use core::sync::atomic::{AtomicBool, Ordering::SeqCst};
use forkos_user::sys::{self, nr};

/// execve this program again as `utest exit 7`, with 1.5 MiB of environment so that the
/// copy takes many timer ticks (and another thread's execve overlaps it).
fn exec_exit_7(env: usize) -> isize {
    let path = self_path();
    let argv: [*const u8; 4] = [
        path.as_ptr(),
        c"exit".as_ptr(),
        c"7".as_ptr(),
        core::ptr::null(),
    ];
    let mut envp: [*const u8; 16] = [core::ptr::null(); 16];
    for (i, e) in envp.iter_mut().take(15).enumerate() {
        *e = (env + i * 100_000) as *const u8;
    }
    // SAFETY: NUL-terminated strings and NULL-terminated arrays that outlive the call.
    unsafe {
        sys::syscall6(
            nr::EXECVE,
            path.as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize,
            0,
            0,
            0,
        )
    }
}

/// Two threads of one process call execve at the same time: one wins and the process
/// runs the new program (Linux's `de_thread` lets the other fail and die), which exits
/// with 7. Neither waits for the other for ever.
pub fn exec_from_two_threads_at_once() -> T {
    // 15 strings of 99,999 'e's and a NUL, shared by both threads.
    let env = map(15 * 100_000, RW, sys::MAP_PRIVATE)?;
    for i in 0..15 * 100_000 {
        let b = if i % 100_000 == 99_999 { 0 } else { b'e' };
        // SAFETY: inside the fresh mapping.
        unsafe { ((env + i) as *mut u8).write(b) };
    }
    let go = AtomicBool::new(false);
    let pid = child_code(|| {
        let f = || {
            while !go.load(SeqCst) {
                sys::sched_yield();
            }
            exec_exit_7(env);
            1
        };
        let _t = Thread::spawn(&f);
        go.store(true, SeqCst);
        sys::sched_yield();
        exec_exit_7(env);
        99
    })?;
    expect_status(pid, exited(7))
}
