//! Threads (CLONE_THREAD|CLONE_SIGHAND|CLONE_VM): identities, exit vs exit_group, the
//! leader's zombie, and children shared by the thread group.

use crate::util::{
    child, exited, expect_ok, spin_until, wait_opts, Shared, Thread, PTHREAD_FLAGS, T,
};
use core::ptr::null_mut;
use core::sync::atomic::{AtomicI64, Ordering::SeqCst};
use forkos_user::sys::{self, ECHILD};

/// A thread has the group's getpid() (tgid) and getppid(), and its own gettid().
pub fn thread_ids() -> T {
    let ids = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(-1)];
    let f = || {
        ids[0].store(sys::getpid() as i64, SeqCst);
        ids[1].store(sys::gettid() as i64, SeqCst);
        ids[2].store(sys::getppid() as i64, SeqCst);
        0
    };
    let tid = Thread::spawn(&f)?.tid;
    check_eq!(ids[0].load(SeqCst), 1, "getpid() in init's thread");
    check_eq!(ids[1].load(SeqCst), tid as i64, "gettid() in the thread");
    check!(tid > 1, "the thread's tid {tid}");
    check_eq!(
        ids[2].load(SeqCst),
        0,
        "getppid() in init's thread (init's parent)"
    );
    Ok(())
}

/// pthread_create-style threads (flags 0x3d0f00): CLONE_PARENT_SETTID stores the tid
/// before clone returns, CLONE_SETTLS sets each one's TPIDR_EL0, and each is joined
/// through CLONE_CHILD_CLEARTID and FUTEX_WAIT.
pub fn threads_create_join() -> T {
    const N: usize = 4;
    let go = AtomicI64::new(0);
    let tids = [const { AtomicI64::new(0) }; N];
    let tls = [const { AtomicI64::new(0) }; N];
    let next = AtomicI64::new(0);
    let f = || {
        let i = next.fetch_add(1, SeqCst) as usize % N;
        let v: u64;
        // SAFETY: reading TPIDR_EL0 has no side effect.
        unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) v) };
        tls[i].store(v as i64, SeqCst);
        tids[i].store(sys::gettid() as i64, SeqCst);
        while go.load(SeqCst) == 0 {
            sys::sched_yield();
        }
        0
    };
    let tls_of = |i: usize| 0x1000_0000 + i * 0x100;
    let mut ts = [None, None, None, None];
    for (i, t) in ts.iter_mut().enumerate() {
        // One at a time, so thread i takes index i.
        *t = Some(Thread::spawn_flags(PTHREAD_FLAGS, tls_of(i), &f)?);
        check!(
            spin_until(5000, || next.load(SeqCst) == i as i64 + 1),
            "thread {i} never ran"
        );
    }
    for (i, t) in ts.iter().enumerate() {
        let t = t.as_ref().unwrap();
        check_eq!(
            t.tid_word().load(SeqCst),
            t.tid,
            "parent_tid word of thread {i} before it exits"
        );
    }
    go.store(1, SeqCst);
    for (i, t) in ts.iter_mut().enumerate() {
        let t = t.as_mut().unwrap();
        t.join();
        check_eq!(
            t.tid_word().load(SeqCst),
            0,
            "tid word of thread {i} after join"
        );
        check_eq!(tids[i].load(SeqCst), t.tid as i64, "gettid() of thread {i}");
        check_eq!(
            tls[i].load(SeqCst),
            tls_of(i) as i64,
            "TPIDR_EL0 of thread {i}"
        );
    }
    Ok(())
}

/// A thread's exit(5) ends only that thread; it is never a waitable child, and the
/// process goes on to exit 0.
pub fn thread_exit_keeps_group() -> T {
    let pid = child(|| {
        let f = || 5;
        let mut t = Thread::spawn(&f)?;
        t.join();
        let r = sys::wait4(-1, null_mut(), sys::WALL | sys::WNOHANG);
        check_eq!(
            r,
            -ECHILD,
            "wait4(-1, __WALL|WNOHANG) in a process whose thread exited"
        );
        Ok(())
    })?;
    expect_ok(pid)
}

/// exit_group(4) from one thread ends every thread of the group; the parent sees 4.
pub fn thread_exit_group_kills_all() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        let next = AtomicI64::new(0);
        let spin = || -> i32 {
            let i = next.fetch_add(1, SeqCst) as usize;
            loop {
                s[i].fetch_add(1, SeqCst);
                sys::sleep_ms(1);
            }
        };
        let _t0 = Thread::spawn(&spin)?;
        let _t1 = Thread::spawn(&spin)?;
        let _t2 = Thread::spawn(&spin)?;
        let ender = || {
            while (0..3).any(|i| s.get(i) < 3) {
                sys::sleep_ms(1);
            }
            sys::exit_group(4)
        };
        let _t3 = Thread::spawn(&ender)?;
        loop {
            s[3].fetch_add(1, SeqCst);
            sys::sleep_ms(1);
        }
    })?;
    check_eq!(
        wait_opts(pid, 0)?,
        exited(4),
        "status of the process after exit_group(4) in a thread"
    );
    let before = [s.get(0), s.get(1), s.get(2), s.get(3)];
    sys::sleep_ms(30);
    let after = [s.get(0), s.get(1), s.get(2), s.get(3)];
    check_eq!(
        after,
        before,
        "the threads' counters 30 ms after the group was reaped"
    );
    Ok(())
}

/// A leader that exit()s while a thread lives is not reapable (wait4 WNOHANG: 0)
/// until the last thread is gone; then the status is the last thread's exit code.
pub fn leader_exit_waits_for_threads() -> T {
    let s = Shared::new()?;
    let pid = child(|| {
        let f = || {
            s.wait_for(0);
            s.set(1, 1);
            7
        };
        let t = Thread::spawn(&f)?;
        core::mem::forget(t);
        sys::exit(3)
    })?;
    sys::sleep_ms(30);
    let mut st = 0;
    check_eq!(
        sys::wait4(pid, &mut st, sys::WNOHANG),
        0,
        "wait4(WNOHANG) while a thread outlives the leader"
    );
    s.set(0, 1);
    let status = wait_opts(pid, 0)?;
    check_eq!(
        s.get(1),
        1,
        "the thread ran to its exit before the group was reaped"
    );
    check_eq!(
        status,
        exited(7),
        "status (the last thread's exit code, 6.0+)"
    );
    Ok(())
}

/// A child forked by a thread is a child of the whole group: its getppid() is the
/// tgid, the leader's wait4(-1) reaps it, but not with __WNOTHREAD (while the thread
/// lives: at its exit the child is reparented to the leader).
pub fn thread_children_belong_to_group() -> T {
    let pid = child(|| {
        let me = sys::getpid();
        let cpid = AtomicI64::new(0);
        let done = AtomicI64::new(0);
        let f = || {
            let c = child(|| {
                check_eq!(
                    sys::getppid(),
                    me,
                    "getppid() of a child forked by a thread"
                );
                sys::sleep_ms(20);
                Ok(())
            });
            cpid.store(c.map(|c| c as i64).unwrap_or(-1), SeqCst);
            // Stay alive: at this thread's exit its child is reparented to the leader.
            while done.load(SeqCst) == 0 {
                sys::sleep_ms(1);
            }
            0
        };
        let mut t = Thread::spawn(&f)?;
        check!(
            spin_until(5000, || cpid.load(SeqCst) != 0),
            "the thread never forked"
        );
        let c = cpid.load(SeqCst) as i32;
        check!(c > 0, "fork in the thread failed");
        let r = sys::wait4(-1, null_mut(), sys::WNOTHREAD | sys::WNOHANG);
        check_eq!(
            r,
            -ECHILD,
            "leader's wait4(-1, __WNOTHREAD|WNOHANG) for the thread's child"
        );
        done.store(1, SeqCst);
        t.join();
        expect_ok(c)
    })?;
    expect_ok(pid)
}
