//! execve's argument limits and the order of its checks (Linux 6.1 `do_execveat_common`:
//! count argv, count envp, `bprm_stack_limits`, copy the path, envp, argv).

use crate::util::{child_code, exited, map, self_path, wait, RW, T};
use forkos_user::sys::{self, nr, E2BIG, EFAULT, RLIMIT_STACK};

/// An address no test maps: reading through it faults.
const BAD: usize = 16;

/// Set this process's `RLIMIT_STACK` soft limit (the hard one stays infinite).
fn set_stack_limit(bytes: u64) -> T {
    let lim = sys::Rlimit {
        cur: bytes,
        max: sys::RLIM_INFINITY,
    };
    let r = sys::syscall(
        nr::PRLIMIT64,
        [
            0,
            RLIMIT_STACK,
            &lim as *const sys::Rlimit as usize,
            0,
            0,
            0,
        ],
    );
    check_eq!(r, 0, "prlimit64(RLIMIT_STACK, {bytes})");
    Ok(())
}

/// `execve(path, argv, envp)` with raw array addresses.
fn execve(path: &[u8], argv: usize, envp: usize) -> isize {
    // SAFETY: the kernel reads the arrays and strings or fails with EFAULT; on success
    // this program is replaced.
    unsafe { sys::syscall6(nr::EXECVE, path.as_ptr() as usize, argv, envp, 0, 0, 0) }
}

/// A mapped string of `len` bytes plus its NUL ('e's), for an environment entry.
fn big_string(len: usize) -> Result<usize, crate::util::Fail> {
    let s = map(len + 1, RW, sys::MAP_PRIVATE)?;
    // SAFETY: inside the fresh mapping of len + 1 bytes.
    unsafe {
        core::ptr::write_bytes(s as *mut u8, b'e', len);
        ((s + len) as *mut u8).write(0);
    }
    Ok(s)
}

/// In a child with `RLIMIT_STACK` = `rlim`: execve, and exit with 100 + errno if it
/// fails. Returns the child's exit status.
fn exec_in_child(
    rlim: u64,
    f: impl FnOnce() -> isize,
) -> Result<crate::util::Status, crate::util::Fail> {
    let pid = child_code(|| {
        if set_stack_limit(rlim).is_err() {
            return 99;
        }
        100 + (-f()) as i32
    })?;
    wait(pid)
}

/// When two arguments are wrong, execve reports what Linux checks first: the argv
/// array (EFAULT) before the environment's size (E2BIG); the number of pointers
/// against the limit (E2BIG) before any string is read (EFAULT); the environment's
/// strings (E2BIG) before the arguments' (EFAULT).
pub fn exec_error_order() -> T {
    let path = self_path();
    // RLIMIT_STACK 256 KiB: the limit is ARG_MAX, 128 KiB.
    let rlim = 256 << 10;
    let huge = big_string(130 << 10)?;
    let env_huge = [huge, 0];
    let env_bad = [BAD, 0];
    let st = exec_in_child(rlim, || execve(path, BAD, env_huge.as_ptr() as usize))?;
    check_eq!(
        st,
        exited(100 + EFAULT as i32),
        "unreadable argv, too big envp"
    );
    // 17,000 pointers need 136,000 bytes: more than the limit.
    let many = map(17_001 * 8, RW, sys::MAP_PRIVATE)?;
    let empty = c"".as_ptr() as usize;
    for i in 0..17_000 {
        // SAFETY: inside the fresh mapping (the last word stays NULL).
        unsafe { ((many + i * 8) as *mut usize).write(empty) };
    }
    let st = exec_in_child(rlim, || execve(path, many, env_bad.as_ptr() as usize))?;
    check_eq!(
        st,
        exited(100 + E2BIG as i32),
        "too many argv pointers, bad envp string"
    );
    let argv_bad = [BAD, 0];
    let st = exec_in_child(rlim, || {
        execve(path, argv_bad.as_ptr() as usize, env_huge.as_ptr() as usize)
    })?;
    check_eq!(
        st,
        exited(100 + E2BIG as i32),
        "bad argv string, too big envp"
    );
    let st = exec_in_child(rlim, || {
        execve(c"/no/such/file".to_bytes_with_nul(), BAD, 0)
    })?;
    check_eq!(
        st,
        exited(100 + EFAULT as i32),
        "missing file, unreadable argv"
    );
    Ok(())
}

/// `utest exit 7` run with four environment strings sized to fill exactly `limit`
/// bytes of strings and pointers (`extra` bytes more): it exits 7, or execve fails.
/// (Each string stays below `MAX_ARG_STRLEN`, 32 pages.)
fn exec_filling(
    rlim: u64,
    limit: usize,
    extra: usize,
) -> Result<crate::util::Status, crate::util::Fail> {
    let path = self_path();
    // The strings: the path (copied for AT_EXECFN), argv and the environment strings;
    // the pointers: 3 in argv, 4 in envp.
    let fixed = path.len() + path.len() + c"exit".to_bytes_with_nul().len() + 2 + 7 * 8;
    let total = limit - fixed + extra; // of the environment strings, NULs included
    let mut envp = [0usize; 5];
    for (i, e) in envp.iter_mut().take(4).enumerate() {
        let len = if i == 3 {
            total - 3 * (total / 4)
        } else {
            total / 4
        };
        *e = big_string(len - 1)?;
    }
    let argv = [
        path.as_ptr() as usize,
        c"exit".as_ptr() as usize,
        c"7".as_ptr() as usize,
        0,
    ];
    exec_in_child(rlim, || {
        execve(path, argv.as_ptr() as usize, envp.as_ptr() as usize)
    })
}

/// execve's strings and pointers may use a quarter of `RLIMIT_STACK` (Linux
/// `bprm_stack_limits`), but never less than 32 pages (`ARG_MAX`): exactly that much
/// runs the program, one byte more is E2BIG.
pub fn exec_limit_follows_rlimit_stack() -> T {
    for (rlim, limit) in [(1u64 << 20, 256usize << 10), (256 << 10, 128 << 10)] {
        check_eq!(
            exec_filling(rlim, limit, 0)?,
            exited(7),
            "RLIMIT_STACK {rlim}: {limit} bytes of arguments"
        );
        check_eq!(
            exec_filling(rlim, limit, 1)?,
            exited(100 + E2BIG as i32),
            "RLIMIT_STACK {rlim}: {limit} + 1 bytes of arguments"
        );
    }
    Ok(())
}

/// With no arguments (argv NULL or empty), the program gets an empty argv[0], and
/// execve keeps room for its pointer from the start (Linux `bprm_stack_limits`
/// counts max(argc, 1) pointers): a fit with that pointer counted runs (utest exits
/// 42 when its only argument is empty), one byte more is E2BIG.
pub fn exec_empty_argv_reserves_argv0() -> T {
    let path = self_path();
    let limit = 128 << 10; // RLIMIT_STACK 256 KiB
                           // The path, the environment string, the empty argv[0]; 2 pointers.
    let fixed = path.len() + 1 + 2 * 8;
    let empty_argv = [0usize];
    for (argv, what) in [
        (0, "NULL argv"),
        (empty_argv.as_ptr() as usize, "empty argv"),
    ] {
        for (extra, want) in [(0, exited(42)), (1, exited(100 + E2BIG as i32))] {
            let env = big_string(limit - fixed - 1 + extra)?;
            let envp = [env, 0];
            let st = exec_in_child(256 << 10, || execve(path, argv, envp.as_ptr() as usize))?;
            check_eq!(st, want, "{what}, {extra} byte(s) over the fit");
            let _ = sys::munmap(env, limit);
        }
    }
    Ok(())
}
