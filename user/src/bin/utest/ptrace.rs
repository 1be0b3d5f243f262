//! `ptrace(2)`: the stops a tracee makes for its tracer and how `wait4` reports them,
//! syscall stops and changing a syscall through the regsets, the fork, vfork and clone
//! events of `kernel_clone`, memory through the tracee's copy-on-write pages, detach and
//! the tracer's death, and the refusals. Every check runs in a forked child, which is
//! the tracer, so that init's special rules play no part.

use crate::util::{
    child, child_code, exited, expect_ok, killed, wait, wait_opts, Shared, Status, T,
};
use core::arch::asm;
use forkos_user::sys;
use sys::*;

/// A pid no process has.
const NO_PID: i32 = 0x7fff_fff0;
/// A kernel address: never a tracee's.
const KERNEL_ADDR: usize = 0xffff_8000_0000_0000;

/// The wait status of a stop with `sig` (and an event, or 0x80, above it).
const fn stopped(code: i32) -> Status {
    Status((code << 8) | 0x7f)
}

/// `struct iovec` for the regset requests.
#[repr(C)]
struct Iovec {
    base: usize,
    len: usize,
}

/// The tracee's `user_pt_regs`: x0-x30, sp, pc, pstate.
fn getregs(pid: i32) -> Result<[u64; 34], crate::util::Fail> {
    let mut regs = [0u64; 34];
    let mut iov = Iovec {
        base: regs.as_mut_ptr() as usize,
        len: 34 * 8,
    };
    let r = sys::ptrace(
        PTRACE_GETREGSET,
        pid,
        NT_PRSTATUS as usize,
        &mut iov as *mut Iovec as usize,
    );
    check_eq!(r, 0, "GETREGSET NT_PRSTATUS");
    check_eq!(iov.len, 34 * 8, "GETREGSET NT_PRSTATUS length");
    Ok(regs)
}

fn setregs(pid: i32, regs: &[u64; 34]) -> T {
    let mut iov = Iovec {
        base: regs.as_ptr() as usize,
        len: 34 * 8,
    };
    let r = sys::ptrace(
        PTRACE_SETREGSET,
        pid,
        NT_PRSTATUS as usize,
        &mut iov as *mut Iovec as usize,
    );
    check_eq!(r, 0, "SETREGSET NT_PRSTATUS");
    Ok(())
}

/// The syscall number the tracee is in (`NT_ARM_SYSTEM_CALL`).
fn get_syscallno(pid: i32) -> Result<i32, crate::util::Fail> {
    let mut nr = 0i32;
    let mut iov = Iovec {
        base: &mut nr as *mut i32 as usize,
        len: 4,
    };
    let r = sys::ptrace(
        PTRACE_GETREGSET,
        pid,
        NT_ARM_SYSTEM_CALL as usize,
        &mut iov as *mut Iovec as usize,
    );
    check_eq!(r, 0, "GETREGSET NT_ARM_SYSTEM_CALL");
    Ok(nr)
}

fn set_syscallno(pid: i32, nr: i32) -> T {
    let mut iov = Iovec {
        base: &nr as *const i32 as usize,
        len: 4,
    };
    let r = sys::ptrace(
        PTRACE_SETREGSET,
        pid,
        NT_ARM_SYSTEM_CALL as usize,
        &mut iov as *mut Iovec as usize,
    );
    check_eq!(r, 0, "SETREGSET NT_ARM_SYSTEM_CALL");
    Ok(())
}

fn geteventmsg(pid: i32) -> Result<u64, crate::util::Fail> {
    let mut msg = u64::MAX;
    let r = sys::ptrace(PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut u64 as usize);
    check_eq!(r, 0, "GETEVENTMSG");
    Ok(msg)
}

fn getsiginfo(pid: i32) -> Result<SigInfo, crate::util::Fail> {
    let mut si = siginfo_unset();
    let r = sys::ptrace(PTRACE_GETSIGINFO, pid, 0, &mut si as *mut SigInfo as usize);
    check_eq!(r, 0, "GETSIGINFO");
    Ok(si)
}

fn ptrace_ok(request: i64, pid: i32, addr: usize, data: usize, what: &str) -> T {
    check_eq!(sys::ptrace(request, pid, addr, data), 0, "{what}");
    Ok(())
}

/// Stop the calling process with SIGSTOP.
fn raise_sigstop() {
    sys::kill(sys::getpid() as i32, SIGSTOP);
}

/// A child that asks to be traced and then runs `f` (its exit status), which stops it
/// with SIGSTOP where it chooses: inside its own `asm!`, for a test whose tracer looks
/// at registers held across the stop.
fn traceme_child(f: impl FnOnce() -> i32) -> Result<i32, crate::util::Fail> {
    child_code(|| {
        if sys::ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 {
            return 100;
        }
        f()
    })
}

/// A child that asks to be traced, stops, and then runs `f` (its exit status).
fn traced_child(f: impl FnOnce() -> i32) -> Result<i32, crate::util::Fail> {
    traceme_child(|| {
        raise_sigstop();
        f()
    })
}

/// `getpgid(pgid_arg)` with x1-x5 and x7 set, as a traced syscall sees them: returns the
/// result and x7 after the call.
fn getpgid_with_args(pgid_arg: i32) -> (isize, u64) {
    let (r, x7): (isize, u64);
    // SAFETY: getpgid reads only x0; the other registers are plain values, x7 is
    // declared clobbered-and-read.
    unsafe {
        asm!("svc #0",
            inlateout("x0") pgid_arg as isize => r,
            in("x1") 0x1111, in("x2") 0x2222, in("x3") 0x3333, in("x4") 0x4444,
            in("x5") 0x5555, inlateout("x7") 0x7777u64 => x7, in("x8") nr::GETPGID,
            options(nostack));
    }
    (r, x7)
}

/// TRACEME: the parent is the tracer and sees the child's SIGSTOP as a stop in `wait4`
/// without `WUNTRACED`, with the signal's siginfo; `getppid` still names it; a second
/// TRACEME is EPERM; CONT resumes the child.
pub fn ptrace_traceme_stop_cont() -> T {
    let t = child(|| {
        let me = sys::getpid();
        let c = child_code(|| {
            if sys::ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 {
                return 10;
            }
            if sys::ptrace(PTRACE_TRACEME, 0, 0, 0) != -EPERM {
                return 11;
            }
            raise_sigstop();
            if sys::getppid() != me {
                return 12;
            }
            7
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "status of the SIGSTOP stop");
        let si = getsiginfo(c)?;
        check_eq!(
            (si.si_signo, si.si_code, si.si_pid),
            (SIGSTOP, SI_USER, c),
            "siginfo (signo, code, pid) at the signal-delivery stop"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(7), "status after CONT");
        Ok(())
    })?;
    expect_ok(t)
}

/// PTRACE_SYSCALL stops the tracee at the syscall's entry with x7 = 0 and at its exit
/// with x7 = 1, the number in x8 and `NT_ARM_SYSTEM_CALL`, the arguments in x0-x5, the
/// result in x0 at exit; TRACESYSGOOD marks the stops 0x80 | SIGTRAP; the event message
/// says entry (1) or exit (2); the tracee gets its own x7 back.
pub fn ptrace_syscall_stops_see_x8_and_args() -> T {
    let t = child(|| {
        let c = traced_child(|| {
            let (r, x7) = getpgid_with_args(NO_PID);
            if r != -ESRCH {
                return 1;
            }
            if x7 != 0x7777 {
                return 2;
            }
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let opts = PTRACE_O_TRACESYSGOOD as usize;
        ptrace_ok(PTRACE_SETOPTIONS, c, 0, opts, "SETOPTIONS TRACESYSGOOD")?;
        ptrace_ok(PTRACE_SYSCALL, c, 0, 0, "SYSCALL")?;
        check_eq!(wait(c)?, stopped(0x80 | SIGTRAP), "syscall-enter stop");
        let regs = getregs(c)?;
        check_eq!(regs[8], nr::GETPGID as u64, "x8 at syscall entry");
        check_eq!(regs[0], NO_PID as u64, "x0 at syscall entry");
        check_eq!(
            [regs[1], regs[2], regs[3], regs[4], regs[5]],
            [0x1111, 0x2222, 0x3333, 0x4444, 0x5555],
            "x1-x5 at syscall entry"
        );
        check_eq!(regs[7], PTRACE_SYSCALL_ENTER, "x7 at syscall entry");
        check_eq!(get_syscallno(c)?, nr::GETPGID as i32, "NT_ARM_SYSTEM_CALL");
        check_eq!(
            geteventmsg(c)?,
            PTRACE_EVENTMSG_SYSCALL_ENTRY,
            "event message at entry"
        );
        let si = getsiginfo(c)?;
        check_eq!(
            (si.si_signo, si.si_code, si.si_pid),
            (SIGTRAP, 0x80 | SIGTRAP, c),
            "siginfo at the syscall stop"
        );
        ptrace_ok(PTRACE_SYSCALL, c, 0, 0, "SYSCALL")?;
        check_eq!(wait(c)?, stopped(0x80 | SIGTRAP), "syscall-exit stop");
        let regs = getregs(c)?;
        check_eq!(regs[7], PTRACE_SYSCALL_EXIT, "x7 at syscall exit");
        check_eq!(
            regs[0] as i64,
            -ESRCH as i64,
            "x0 (the result) at syscall exit"
        );
        check_eq!(regs[8], nr::GETPGID as u64, "x8 at syscall exit");
        check_eq!(
            geteventmsg(c)?,
            PTRACE_EVENTMSG_SYSCALL_EXIT,
            "event message at exit"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(0), "the child's verdict");
        Ok(())
    })?;
    expect_ok(t)
}

/// At a syscall-enter stop the tracer changes an argument (x0 through NT_PRSTATUS), the
/// syscall (NT_ARM_SYSTEM_CALL; writing x8 does not), or skips it (-1, with its own x0
/// as the result); at the exit stop it changes the result.
pub fn ptrace_setregset_changes_syscall() -> T {
    let t = child(|| {
        let c = child_code(|| {
            // Before the stop: the tracer counts the syscalls after it.
            let pgrp = sys::getpgid(0);
            let pid = sys::getpid();
            if sys::ptrace(PTRACE_TRACEME, 0, 0, 0) != 0 {
                return 100;
            }
            raise_sigstop();
            let mut bad = 0;
            // 1: x0 changed to 0 at entry: our own group.
            if getpgid_with_args(NO_PID).0 != pgrp {
                bad |= 1;
            }
            // 2: result changed at exit.
            if getpgid_with_args(NO_PID).0 != 1234 {
                bad |= 2;
            }
            // 3: syscall changed to getpid through NT_ARM_SYSTEM_CALL.
            if getpgid_with_args(NO_PID).0 != pid {
                bad |= 4;
            }
            // 4: x8 written through NT_PRSTATUS: still getpgid.
            if getpgid_with_args(NO_PID).0 != -ESRCH {
                bad |= 8;
            }
            // 5: skipped, x0 set by the tracer.
            if getpgid_with_args(NO_PID).0 != 77 {
                bad |= 16;
            }
            bad
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let step = |what: &str| -> T {
            ptrace_ok(PTRACE_SYSCALL, c, 0, 0, what)?;
            check_eq!(wait(c)?, stopped(SIGTRAP), "syscall stop ({what})");
            Ok(())
        };
        // 1
        step("entry 1")?;
        let mut regs = getregs(c)?;
        regs[0] = 0;
        setregs(c, &regs)?;
        step("exit 1")?;
        // 2
        step("entry 2")?;
        step("exit 2")?;
        let mut regs = getregs(c)?;
        regs[0] = 1234;
        setregs(c, &regs)?;
        // 3
        step("entry 3")?;
        set_syscallno(c, nr::GETPID as i32)?;
        step("exit 3")?;
        check_eq!(
            get_syscallno(c)?,
            nr::GETPID as i32,
            "syscall number at exit 3"
        );
        // 4
        step("entry 4")?;
        let mut regs = getregs(c)?;
        regs[8] = nr::GETPID as u64;
        setregs(c, &regs)?;
        check_eq!(
            get_syscallno(c)?,
            nr::GETPGID as i32,
            "syscall number after writing x8"
        );
        step("exit 4")?;
        // 5
        step("entry 5")?;
        set_syscallno(c, -1)?;
        let mut regs = getregs(c)?;
        regs[0] = 77;
        setregs(c, &regs)?;
        step("exit 5 (skipped)")?;
        check_eq!(getregs(c)?[0], 77, "x0 at the skipped syscall's exit");
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(
            wait(c)?,
            exited(0),
            "the child's verdict (failed-step bits)"
        );
        Ok(())
    })?;
    expect_ok(t)
}

/// What the tracer saw of one task in [`ptrace_fork_vfork_clone_events`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ev {
    None,
    /// A stop for this event, with the event message.
    Event(i32, u64),
    /// A stop for a signal (the new child's SIGSTOP).
    Signal(i32),
    Exit(i32),
}

const MAX_TASKS: usize = 5;
const MAX_EVENTS: usize = 8;

/// Per task, in order, what a tracer saw.
struct Log {
    pids: [i32; MAX_TASKS],
    events: [[Ev; MAX_EVENTS]; MAX_TASKS],
    counts: [usize; MAX_TASKS],
}

impl Log {
    fn new() -> Log {
        Log {
            pids: [0; MAX_TASKS],
            events: [[Ev::None; MAX_EVENTS]; MAX_TASKS],
            counts: [0; MAX_TASKS],
        }
    }

    fn slot(&mut self, pid: i32) -> Option<usize> {
        if let Some(i) = self.pids.iter().position(|&p| p == pid) {
            return Some(i);
        }
        let i = self.pids.iter().position(|&p| p == 0)?;
        self.pids[i] = pid;
        Some(i)
    }

    /// Record `ev` for `pid`; returns whether it is the first thing seen of it.
    fn add(&mut self, pid: i32, ev: Ev) -> bool {
        let Some(i) = self.slot(pid) else {
            return false;
        };
        let first = self.counts[i] == 0;
        if self.counts[i] < MAX_EVENTS {
            self.events[i][self.counts[i]] = ev;
            self.counts[i] += 1;
        }
        first
    }

    fn of(&self, pid: i32) -> &[Ev] {
        match self.pids.iter().position(|&p| p == pid) {
            Some(i) => &self.events[i][..self.counts[i]],
            None => &[],
        }
    }
}

/// The trace events of `kernel_clone`, in order for each task, as a tracer with
/// TRACEFORK, TRACEVFORK, TRACECLONE and TRACEVFORKDONE sees them: the parent stops
/// with `SIGTRAP | PTRACE_EVENT_FORK << 8` (and VFORK, VFORK_DONE after the vfork
/// child's exit, CLONE for a thread) and the new pid as the event message; each new
/// task, process or thread, starts traced and stopped by SIGSTOP; the tracer, not their
/// parent, sees the grandchildren exit first; SIGCHLD is shown to it and passed on.
pub fn ptrace_fork_vfork_clone_events() -> T {
    extern "C" fn vfork_body() -> ! {
        sys::exit(6)
    }
    let t = child(|| {
        let c = traced_child(|| {
            let g1 = sys::fork();
            if g1 == 0 {
                sys::exit_group(5);
            }
            let mut st = 0;
            if sys::wait4(g1 as i32, &mut st, 0) != g1 || st != 5 << 8 {
                return 1;
            }
            // SAFETY: the vfork child only exits.
            let g2 = unsafe { sys::vfork_run(vfork_body) };
            if sys::wait4(g2 as i32, &mut st, 0) != g2 || st != 6 << 8 {
                return 2;
            }
            let f = || 0;
            match crate::util::Thread::spawn(&f) {
                Ok(mut th) => th.join(),
                Err(_) => return 3,
            }
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let opts = PTRACE_O_TRACEFORK
            | PTRACE_O_TRACEVFORK
            | PTRACE_O_TRACECLONE
            | PTRACE_O_TRACEVFORKDONE;
        ptrace_ok(PTRACE_SETOPTIONS, c, 0, opts as usize, "SETOPTIONS")?;
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        let mut log = Log::new();
        loop {
            let mut st = 0;
            let pid = sys::wait4(-1, &mut st, WALL);
            if pid == -ECHILD {
                break;
            }
            check!(pid > 0, "wait4(-1, __WALL): {pid}");
            let pid = pid as i32;
            if st & 0x7f == 0 {
                log.add(pid, Ev::Exit((st >> 8) & 0xff));
                continue;
            }
            check_eq!(st & 0xff, 0x7f, "a stop or an exit of {pid}");
            let (sig, event) = ((st >> 8) & 0xff, st >> 16);
            let resume_with = if event != 0 {
                check_eq!(sig, SIGTRAP, "the signal of an event stop");
                log.add(pid, Ev::Event(event, geteventmsg(pid)?));
                0
            } else if sig == SIGCHLD {
                SIGCHLD // shown to the tracer, not recorded: its moment varies
            } else {
                let first = log.add(pid, Ev::Signal(sig));
                if first && sig == SIGSTOP {
                    0
                } else {
                    sig
                }
            };
            ptrace_ok(PTRACE_CONT, pid, 0, resume_with as usize, "CONT")?;
        }
        let ev = log.of(c);
        check!(ev.len() == 5, "the child's events: {ev:?}");
        let (g1, g2, th) = match (ev[0], ev[1], ev[2], ev[3]) {
            (
                Ev::Event(PTRACE_EVENT_FORK, g1),
                Ev::Event(PTRACE_EVENT_VFORK, g2),
                Ev::Event(PTRACE_EVENT_VFORK_DONE, g2_done),
                Ev::Event(PTRACE_EVENT_CLONE, th),
            ) if g2 == g2_done => (g1 as i32, g2 as i32, th as i32),
            _ => {
                return Err(crate::util::fail(
                    format_args!(
                        "the child's events: FORK, VFORK, VFORK_DONE, CLONE expected, got {ev:?}"
                    ),
                    file!(),
                    line!(),
                ))
            }
        };
        check_eq!(ev[4], Ev::Exit(0), "the child's end");
        check_eq!(
            log.of(g1),
            &[Ev::Signal(SIGSTOP), Ev::Exit(5)][..],
            "the fork child's events"
        );
        check_eq!(
            log.of(g2),
            &[Ev::Signal(SIGSTOP), Ev::Exit(6)][..],
            "the vfork child's events"
        );
        check_eq!(
            log.of(th),
            &[Ev::Signal(SIGSTOP), Ev::Exit(0)][..],
            "the thread's events"
        );
        Ok(())
    })?;
    expect_ok(t)
}

/// A word in its own page, shared copy-on-write between the tracer and its child.
#[repr(C, align(4096))]
struct CowPage {
    word: core::sync::atomic::AtomicU64,
}

static COW: CowPage = CowPage {
    word: core::sync::atomic::AtomicU64::new(0),
};

/// POKEDATA writes the tracee's copy of a copy-on-write page (it gets its own), and its
/// parent's stays; PEEKDATA reads it back. Outside the tracee's user addresses PEEK and
/// POKE are EIO; a bad place to store the peeked word is EFAULT.
pub fn ptrace_peek_poke_across_cow() -> T {
    let t = child(|| {
        COW.word.store(1, core::sync::atomic::Ordering::SeqCst);
        let c = traced_child(|| {
            if COW.word.load(core::sync::atomic::Ordering::SeqCst) == 42 {
                0
            } else {
                1
            }
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let addr = COW.word.as_ptr() as usize;
        let mut word = 0u64;
        let at = &mut word as *mut u64 as usize;
        ptrace_ok(PTRACE_PEEKDATA, c, addr, at, "PEEKDATA")?;
        check_eq!(word, 1, "the child's word before POKE");
        ptrace_ok(PTRACE_POKEDATA, c, addr, 42, "POKEDATA")?;
        ptrace_ok(PTRACE_PEEKDATA, c, addr, at, "PEEKDATA after POKE")?;
        check_eq!(word, 42, "the child's word after POKE");
        check_eq!(
            COW.word.load(core::sync::atomic::Ordering::SeqCst),
            1,
            "the tracer's own copy after POKE"
        );
        check_eq!(
            sys::ptrace(PTRACE_PEEKDATA, c, 0, at),
            -EIO,
            "PEEKDATA at 0"
        );
        check_eq!(
            sys::ptrace(PTRACE_PEEKDATA, c, KERNEL_ADDR, at),
            -EIO,
            "PEEKDATA of a kernel address"
        );
        check_eq!(
            sys::ptrace(PTRACE_POKEDATA, c, KERNEL_ADDR, 1),
            -EIO,
            "POKEDATA of a kernel address"
        );
        check_eq!(sys::ptrace(PTRACE_POKEDATA, c, 8, 1), -EIO, "POKEDATA at 8");
        check_eq!(
            sys::ptrace(PTRACE_PEEKDATA, c, addr, KERNEL_ADDR),
            -EFAULT,
            "PEEKDATA into a kernel address"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(0), "the child saw the POKEd word");
        Ok(())
    })?;
    expect_ok(t)
}

/// What Linux refuses: attaching to our own process or thread, to a traced task or
/// twice (EPERM); requests for a task we do not trace or that is not stopped for us, or
/// for no task (ESRCH); unknown requests, bad signals, SEIZE's addr or options and
/// INTERRUPT of a task not seized (EIO); unknown options, regsets and lengths (EINVAL).
pub fn ptrace_refusals() -> T {
    let t = child(|| {
        let me = sys::getpid() as i32;
        check_eq!(
            sys::ptrace(PTRACE_ATTACH, me, 0, 0),
            -EPERM,
            "ATTACH to ourselves"
        );
        check_eq!(
            sys::ptrace(PTRACE_SEIZE, me, 0, 0),
            -EPERM,
            "SEIZE ourselves"
        );
        let f = || {
            sys::sleep_ms(10);
            0
        };
        let mut th = crate::util::Thread::spawn(&f)?;
        check_eq!(
            sys::ptrace(PTRACE_ATTACH, th.tid, 0, 0),
            -EPERM,
            "ATTACH to our own thread"
        );
        th.join();
        check_eq!(
            sys::ptrace(PTRACE_ATTACH, NO_PID, 0, 0),
            -ESRCH,
            "ATTACH to no pid"
        );
        check_eq!(
            sys::ptrace(PTRACE_CONT, NO_PID, 0, 0),
            -ESRCH,
            "CONT of no pid"
        );
        let s = Shared::new()?;
        let c = traced_child(|| {
            s.wait_for(0);
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        check_eq!(
            sys::ptrace(PTRACE_ATTACH, c, 0, 0),
            -EPERM,
            "ATTACH to our tracee"
        );
        // Another process may not attach to it either.
        let other = child_code(|| {
            if sys::ptrace(PTRACE_ATTACH, c, 0, 0) != -EPERM {
                return 1;
            }
            if sys::ptrace(PTRACE_CONT, c, 0, 0) != -ESRCH {
                return 2;
            }
            0
        })?;
        check_eq!(
            wait(other)?,
            exited(0),
            "another process's ATTACH (1) and CONT (2)"
        );
        check_eq!(sys::ptrace(0x7777, c, 0, 0), -EIO, "an unknown request");
        check_eq!(
            sys::ptrace(PTRACE_PEEKUSR, c, 0, 0),
            -EIO,
            "PEEKUSR (none on arm64)"
        );
        check_eq!(
            sys::ptrace(PTRACE_CONT, c, 0, 65),
            -EIO,
            "CONT with signal 65"
        );
        check_eq!(
            sys::ptrace(PTRACE_SETOPTIONS, c, 0, 0x8000),
            -EINVAL,
            "SETOPTIONS with an unknown bit"
        );
        check_eq!(
            sys::ptrace(PTRACE_INTERRUPT, c, 0, 0),
            -EIO,
            "INTERRUPT of a task not seized"
        );
        let mut buf = [0u64; 34];
        let mut iov = Iovec {
            base: buf.as_mut_ptr() as usize,
            len: 34 * 8,
        };
        let iovp = &mut iov as *mut Iovec as usize;
        check_eq!(
            sys::ptrace(PTRACE_GETREGSET, c, 0x999, iovp),
            -EINVAL,
            "GETREGSET of an unknown regset"
        );
        iov.len = 3;
        check_eq!(
            sys::ptrace(PTRACE_GETREGSET, c, NT_PRSTATUS as usize, iovp),
            -EINVAL,
            "GETREGSET NT_PRSTATUS of 3 bytes"
        );
        iov.len = 16;
        check_eq!(
            sys::ptrace(PTRACE_GETREGSET, c, NT_PRSTATUS as usize, iovp),
            0,
            "GETREGSET NT_PRSTATUS of two registers"
        );
        check_eq!(iov.len, 16, "the length GETREGSET copied");
        check_eq!(
            sys::ptrace(PTRACE_GETREGSET, c, NT_PRSTATUS as usize, KERNEL_ADDR),
            -EFAULT,
            "GETREGSET with a bad iovec"
        );
        // Running, it is not stopped for us.
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(
            sys::ptrace(PTRACE_CONT, c, 0, 0),
            -ESRCH,
            "CONT of a running tracee"
        );
        check_eq!(
            sys::ptrace(PTRACE_PEEKDATA, c, 0, 0),
            -ESRCH,
            "PEEKDATA of a running tracee"
        );
        s.set(0, 1);
        check_eq!(wait(c)?, exited(0), "the child's end");
        // Untraced: nothing to ask.
        let d = child_code(|| {
            sys::sleep_ms(20);
            0
        })?;
        check_eq!(
            sys::ptrace(PTRACE_CONT, d, 0, 0),
            -ESRCH,
            "CONT of an untraced child"
        );
        check_eq!(
            sys::ptrace(PTRACE_KILL, d, 0, 0),
            -ESRCH,
            "KILL of an untraced child"
        );
        check_eq!(wait(d)?, exited(0), "the untraced child's end");
        check_eq!(
            sys::ptrace(PTRACE_SEIZE, NO_PID, 1, 0),
            -ESRCH,
            "SEIZE of no pid"
        );
        Ok(())
    })?;
    expect_ok(t)
}

/// A process that counts in a shared word for ever, for the attach tests: returns its pid.
fn counter(s: &Shared) -> Result<i32, crate::util::Fail> {
    child_code(|| loop {
        s.set(1, s.get(1) + 1);
        sys::sched_yield();
    })
}

/// Has the counter moved on within a while?
fn counting(s: &Shared) -> bool {
    let before = s.get(1);
    crate::util::spin_until(2000, || s.get(1) > before + 2)
}

/// ATTACH stops a running task with SIGSTOP, reported to a tracer that is not its
/// parent; `getppid` does not change; DETACH resumes it; attached again, the tracer's
/// exit resumes it too, and with EXITKILL kills it.
pub fn ptrace_attach_detach_and_tracer_death() -> T {
    let t = child(|| {
        let s = Shared::new()?;
        let c = counter(&s)?;
        check!(counting(&s), "the counter does not count");
        // A sibling attaches, waits for the stop, checks it holds, detaches.
        let h = child_code(|| {
            if sys::ptrace(PTRACE_ATTACH, c, 0, 0) != 0 {
                return 1;
            }
            let mut st = 0;
            if sys::wait4(c, &mut st, 0) != c as isize || st != (SIGSTOP << 8) | 0x7f {
                return 2;
            }
            let at = s.get(1);
            sys::sleep_ms(20);
            if s.get(1) != at {
                return 3;
            }
            if sys::ptrace(PTRACE_DETACH, c, 0, 0) != 0 {
                return 4;
            }
            if !counting(&s) {
                return 5;
            }
            0
        })?;
        check_eq!(
            wait(h)?,
            exited(0),
            "attach (1), stop (2, 3), detach (4, 5)"
        );
        // The tracer dies: the tracee runs on.
        let h = child_code(|| {
            if sys::ptrace(PTRACE_ATTACH, c, 0, 0) != 0 {
                return 1;
            }
            let mut st = 0;
            if sys::wait4(c, &mut st, 0) != c as isize {
                return 2;
            }
            0
        })?;
        check_eq!(wait(h)?, exited(0), "the second tracer");
        check!(
            counting(&s),
            "the tracee does not run after its tracer died"
        );
        // With EXITKILL, it dies with its tracer.
        let h = child_code(|| {
            if sys::ptrace(PTRACE_ATTACH, c, 0, 0) != 0 {
                return 1;
            }
            let mut st = 0;
            if sys::wait4(c, &mut st, 0) != c as isize {
                return 2;
            }
            if sys::ptrace(PTRACE_SETOPTIONS, c, 0, PTRACE_O_EXITKILL as usize) != 0 {
                return 3;
            }
            0
        })?;
        check_eq!(wait(h)?, exited(0), "the EXITKILL tracer");
        check_eq!(
            wait(c)?,
            killed(SIGKILL),
            "the tracee after its EXITKILL tracer died"
        );
        Ok(())
    })?;
    expect_ok(t)
}

/// SEIZE does not stop the task; INTERRUPT does, as a `PTRACE_EVENT_STOP` with SIGTRAP;
/// KILL kills a running tracee.
pub fn ptrace_seize_interrupt_kill() -> T {
    let t = child(|| {
        let s = Shared::new()?;
        let c = counter(&s)?;
        ptrace_ok(PTRACE_SEIZE, c, 0, 0, "SEIZE")?;
        check!(counting(&s), "the seized task does not run");
        let mut st = 0;
        check_eq!(
            sys::wait4(c, &mut st, WNOHANG),
            0,
            "wait4 WNOHANG after SEIZE"
        );
        ptrace_ok(PTRACE_INTERRUPT, c, 0, 0, "INTERRUPT")?;
        check_eq!(
            wait(c)?,
            stopped((PTRACE_EVENT_STOP << 8) | SIGTRAP),
            "the INTERRUPT stop"
        );
        let si = getsiginfo(c)?;
        check_eq!(
            (si.si_signo, si.si_code),
            (SIGTRAP, (PTRACE_EVENT_STOP << 8) | SIGTRAP),
            "siginfo at the INTERRUPT stop"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check!(counting(&s), "the tracee does not run after CONT");
        ptrace_ok(PTRACE_KILL, c, 0, 0, "KILL")?;
        check_eq!(wait(c)?, killed(SIGKILL), "the killed tracee");
        Ok(())
    })?;
    expect_ok(t)
}

/// TRACEEXEC: a stop `SIGTRAP | PTRACE_EVENT_EXEC << 8` after a successful execve, with
/// the pid as the message; without it, an old-style tracee gets a SIGTRAP. TRACEEXIT:
/// a stop before the exit, with the wait status to come as the message.
pub fn ptrace_exec_and_exit_events() -> T {
    let t = child(|| {
        for traceexec in [true, false] {
            let c = traced_child(|| {
                let path = crate::util::self_path();
                let argv = [
                    path.as_ptr() as usize,
                    c"exit".as_ptr() as usize,
                    c"3".as_ptr() as usize,
                    0,
                ];
                let envp = [0usize];
                sys::syscall(
                    nr::EXECVE,
                    [
                        path.as_ptr() as usize,
                        argv.as_ptr() as usize,
                        envp.as_ptr() as usize,
                        0,
                        0,
                        0,
                    ],
                );
                99
            })?;
            check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
            let opts = if traceexec {
                PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT
            } else {
                PTRACE_O_TRACEEXIT
            };
            ptrace_ok(PTRACE_SETOPTIONS, c, 0, opts as usize, "SETOPTIONS")?;
            ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            if traceexec {
                check_eq!(
                    wait(c)?,
                    stopped((PTRACE_EVENT_EXEC << 8) | SIGTRAP),
                    "the exec stop"
                );
                check_eq!(geteventmsg(c)?, c as u64, "the exec stop's message");
            } else {
                check_eq!(wait(c)?, stopped(SIGTRAP), "the SIGTRAP after exec");
                let si = getsiginfo(c)?;
                check_eq!(si.si_code, SI_USER, "the SIGTRAP's code");
            }
            ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            check_eq!(
                wait(c)?,
                stopped((PTRACE_EVENT_EXIT << 8) | SIGTRAP),
                "the exit stop"
            );
            check_eq!(geteventmsg(c)?, 3 << 8, "the exit stop's message");
            ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            check_eq!(wait(c)?, exited(3), "the exec'd program's status");
        }
        Ok(())
    })?;
    expect_ok(t)
}

/// waitid reports a ptrace stop as `CLD_TRAPPED` with the stop's code; a tracer's
/// SIGCHLD for it says the same.
pub fn ptrace_waitid_trapped() -> T {
    let t = child(|| {
        let c = traced_child(|| 0)?;
        let mut si = siginfo_unset();
        check_eq!(
            sys::waitid(P_PID, c, &mut si, WEXITED | WSTOPPED),
            0,
            "waitid"
        );
        check_eq!(
            (si.si_signo, si.si_code, si.si_pid, si.si_status),
            (SIGCHLD, CLD_TRAPPED, c, SIGSTOP),
            "waitid's siginfo (signo, code, pid, status)"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait_opts(c, 0)?, exited(0), "the child's end");
        Ok(())
    })?;
    expect_ok(t)
}

/// CLONE_PTRACE: the child of a traced process starts traced by the same tracer, with
/// SIGSTOP, even without TRACEFORK (and with no fork event); CLONE_UNTRACED: not traced
/// and no event even with TRACEFORK.
pub fn ptrace_clone_ptrace_and_untraced() -> T {
    let t = child(|| {
        let c = traced_child(|| {
            let mut st = 0;
            let g1 = sys::clone(
                CLONE_PTRACE | SIGCHLD as u64,
                0,
                core::ptr::null_mut(),
                0,
                core::ptr::null_mut(),
            );
            if g1 == 0 {
                sys::exit_group(4);
            }
            if sys::wait4(g1 as i32, &mut st, 0) != g1 || st != 4 << 8 {
                return 1;
            }
            raise_sigstop();
            let g2 = sys::clone(
                CLONE_UNTRACED | SIGCHLD as u64,
                0,
                core::ptr::null_mut(),
                0,
                core::ptr::null_mut(),
            );
            if g2 == 0 {
                sys::exit_group(5);
            }
            if sys::wait4(g2 as i32, &mut st, 0) != g2 || st != 5 << 8 {
                return 2;
            }
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        let mut log = Log::new();
        let mut stops = 0;
        loop {
            let mut st = 0;
            let pid = sys::wait4(-1, &mut st, WALL);
            if pid == -ECHILD {
                break;
            }
            check!(pid > 0, "wait4(-1, __WALL): {pid}");
            let pid = pid as i32;
            if st & 0x7f == 0 {
                log.add(pid, Ev::Exit((st >> 8) & 0xff));
                continue;
            }
            check_eq!(st & 0xff, 0x7f, "a stop or an exit of {pid}");
            let (sig, event) = ((st >> 8) & 0xff, st >> 16);
            check_eq!(event, 0, "an event stop of {pid}");
            let mut resume_with = sig;
            if sig != SIGCHLD {
                log.add(pid, Ev::Signal(sig));
                if sig == SIGSTOP {
                    resume_with = 0;
                    if pid == c {
                        stops += 1;
                        let opts = PTRACE_O_TRACEFORK as usize;
                        ptrace_ok(PTRACE_SETOPTIONS, c, 0, opts, "SETOPTIONS TRACEFORK")?;
                    }
                }
            }
            ptrace_ok(PTRACE_CONT, pid, 0, resume_with as usize, "CONT")?;
        }
        check_eq!(stops, 1, "the child's second SIGSTOP");
        let cpids: [i32; MAX_TASKS] = log.pids;
        let others: [i32; 2] = {
            let mut o = [0; 2];
            let mut n = 0;
            for p in cpids {
                if p != 0 && p != c && n < 2 {
                    o[n] = p;
                    n += 1;
                }
            }
            o
        };
        check!(
            others[1] == 0,
            "a second traced child: {:?}",
            log.of(others[1])
        );
        check_eq!(
            log.of(others[0]),
            &[Ev::Signal(SIGSTOP), Ev::Exit(4)][..],
            "the CLONE_PTRACE child"
        );
        check_eq!(
            log.of(c),
            &[Ev::Signal(SIGSTOP), Ev::Exit(0)][..],
            "the child (its first stop was before the loop)"
        );
        Ok(())
    })?;
    expect_ok(t)
}

/// NT_PRFPREG: the tracee's FP/SIMD registers (`struct user_fpsimd_state`, 528 bytes),
/// read and written at a stop.
pub fn ptrace_fpsimd_regset() -> T {
    let t = child(|| {
        let c = traceme_child(|| {
            let pid = sys::getpid();
            let after: u64;
            // SAFETY: kill(getpid(), SIGSTOP) with d8 holding a value across it; the
            // registers used are declared.
            unsafe {
                asm!("fmov d8, {v}", "svc #0", "fmov {out}, d8",
                    v = in(reg) 0x1234_5678u64, out = lateout(reg) after,
                    inlateout("x0") pid => _, in("x1") SIGSTOP, in("x8") nr::KILL,
                    out("v8") _, options(nostack));
            }
            if after == 0xabcd {
                0
            } else {
                1
            }
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let mut fp = [0u64; 66];
        let mut iov = Iovec {
            base: fp.as_mut_ptr() as usize,
            len: 528,
        };
        let iovp = &mut iov as *mut Iovec as usize;
        ptrace_ok(
            PTRACE_GETREGSET,
            c,
            NT_PRFPREG as usize,
            iovp,
            "GETREGSET NT_PRFPREG",
        )?;
        check_eq!(iov.len, 528, "NT_PRFPREG's length");
        check_eq!(fp[16], 0x1234_5678, "d8 (the low half of v8)");
        fp[16] = 0xabcd;
        // Read by the kernel through the iovec.
        core::hint::black_box(&mut fp);
        ptrace_ok(
            PTRACE_SETREGSET,
            c,
            NT_PRFPREG as usize,
            iovp,
            "SETREGSET NT_PRFPREG",
        )?;
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(0), "the child saw the d8 written");
        Ok(())
    })?;
    expect_ok(t)
}

core::arch::global_asm!(
    ".text",
    ".balign 8",
    ".global forkos_ptrace_patch_me",
    "forkos_ptrace_patch_me:",
    "    mov x0, #1",
    "    ret",
);

extern "C" {
    /// Returns 1, unless a tracer wrote its first instruction.
    fn forkos_ptrace_patch_me() -> u64;
}

/// `mov x0, #2; ret`, the two instructions POKETEXT writes.
const PATCH: u64 = 0xd65f_03c0_d280_0040;

/// POKETEXT writes into read-only program text (Linux's `FOLL_FORCE`): the tracee gets
/// a private copy of the page and runs the new instructions; its parent's text stays;
/// the tracee still cannot write its text itself.
pub fn ptrace_poketext_into_readonly_text() -> T {
    let t = child(|| {
        let c = traced_child(|| {
            // SAFETY: a leaf function with no arguments that returns in x0.
            let r = unsafe { forkos_ptrace_patch_me() };
            if r != 2 {
                return r as i32 + 10;
            }
            // Its own write to the (copied) text still faults.
            let text = forkos_ptrace_patch_me as *const () as *mut u64;
            // SAFETY: a write that must fault (SIGSEGV); volatile, so that it is made.
            unsafe { text.write_volatile(0) };
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let addr = forkos_ptrace_patch_me as *const () as usize;
        let mut word = 0u64;
        let at = &mut word as *mut u64 as usize;
        ptrace_ok(PTRACE_PEEKTEXT, c, addr, at, "PEEKTEXT")?;
        check_eq!(
            word,
            0xd65f_03c0_d280_0020,
            "the instructions PEEKTEXT reads"
        );
        ptrace_ok(PTRACE_POKETEXT, c, addr, PATCH as usize, "POKETEXT")?;
        ptrace_ok(PTRACE_PEEKTEXT, c, addr, at, "PEEKTEXT after POKETEXT")?;
        check_eq!(word, PATCH, "the instructions after POKETEXT");
        // SAFETY: as in the child.
        let own = unsafe { forkos_ptrace_patch_me() };
        check_eq!(own, 1, "the tracer's own text");
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(
            wait(c)?,
            stopped(SIGSEGV),
            "the child ran the new instructions, then wrote its text"
        );
        ptrace_ok(PTRACE_CONT, c, 0, SIGSEGV as usize, "CONT with SIGSEGV")?;
        check_eq!(wait(c)?, killed(SIGSEGV), "the child's end");
        Ok(())
    })?;
    expect_ok(t)
}

/// Does the counter stand still for a while?
fn still(s: &Shared) -> bool {
    let at = s.get(1);
    sys::sleep_ms(30);
    s.get(1) == at
}

/// A stop signal sent to a tracee: first a signal-delivery stop with its siginfo; passed
/// on with CONT, the group stop, which the tracer sees as a stop too (with no siginfo:
/// EINVAL; seized: as `PTRACE_EVENT_STOP` with the signal); CONT then resumes the tracee.
pub fn ptrace_group_stop_seen_by_tracer() -> T {
    let t = child(|| {
        for seize in [false, true] {
            let s = Shared::new()?;
            let c = counter(&s)?;
            if seize {
                ptrace_ok(PTRACE_SEIZE, c, 0, 0, "SEIZE")?;
            } else {
                ptrace_ok(PTRACE_ATTACH, c, 0, 0, "ATTACH")?;
                check_eq!(wait(c)?, stopped(SIGSTOP), "the ATTACH stop");
                ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            }
            check!(counting(&s), "the tracee does not run (seize {seize})");
            check_eq!(sys::kill(c, SIGSTOP), 0, "kill(SIGSTOP)");
            check_eq!(wait(c)?, stopped(SIGSTOP), "the signal-delivery stop");
            let si = getsiginfo(c)?;
            check_eq!(
                (si.si_signo, si.si_code, si.si_pid),
                (SIGSTOP, SI_USER, sys::getpid() as i32),
                "siginfo of the SIGSTOP"
            );
            ptrace_ok(PTRACE_CONT, c, 0, SIGSTOP as usize, "CONT with SIGSTOP")?;
            let group_stop = if seize {
                stopped((PTRACE_EVENT_STOP << 8) | SIGSTOP)
            } else {
                stopped(SIGSTOP)
            };
            check_eq!(wait(c)?, group_stop, "the group stop (seize {seize})");
            let mut si = siginfo_unset();
            let r = sys::ptrace(PTRACE_GETSIGINFO, c, 0, &mut si as *mut SigInfo as usize);
            if seize {
                check_eq!(r, 0, "GETSIGINFO at a seized group stop");
                check_eq!(
                    (si.si_signo, si.si_code),
                    (SIGSTOP, (PTRACE_EVENT_STOP << 8) | SIGSTOP),
                    "siginfo at a seized group stop"
                );
            } else {
                check_eq!(r, -EINVAL, "GETSIGINFO at a group stop");
            }
            check!(
                still(&s),
                "the tracee runs in its group stop (seize {seize})"
            );
            ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            check!(
                counting(&s),
                "the tracee does not run after CONT (seize {seize})"
            );
            check_eq!(sys::kill(c, SIGKILL), 0, "kill(SIGKILL)");
            check_eq!(wait(c)?, killed(SIGKILL), "the tracee's end");
        }
        Ok(())
    })?;
    expect_ok(t)
}

/// SINGLESTEP runs one instruction and stops with SIGTRAP (`TRAP_TRACE`, the new pc as
/// the address); CONT then runs on unstepped.
pub fn ptrace_singlestep() -> T {
    let t = child(|| {
        let c = traceme_child(|| {
            let pid = sys::getpid();
            // SAFETY: kill(getpid(), SIGSTOP), then three instructions that change
            // nothing, for the tracer to step through.
            unsafe {
                asm!("svc #0", "nop", "nop", "nop",
                    inlateout("x0") pid => _, in("x1") SIGSTOP, in("x8") nr::KILL,
                    options(nostack));
            }
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let pc = getregs(c)?[32];
        for step in 1..=2u64 {
            ptrace_ok(PTRACE_SINGLESTEP, c, 0, 0, "SINGLESTEP")?;
            check_eq!(wait(c)?, stopped(SIGTRAP), "the stop after step {step}");
            check_eq!(getregs(c)?[32], pc + 4 * step, "pc after step {step}");
            let si = getsiginfo(c)?;
            check_eq!(
                (si.si_signo, si.si_code, si.si_addr()),
                (SIGTRAP, TRAP_TRACE, pc + 4 * step),
                "siginfo after step {step}"
            );
        }
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(0), "the child's end");
        Ok(())
    })?;
    expect_ok(t)
}

/// PTRACE_SYSCALL at a fork event stop: the next stop is the exit of that same clone,
/// with x7 = 1 and the child's pid in x0.
pub fn ptrace_syscall_from_a_fork_event() -> T {
    let t = child(|| {
        let c = traced_child(|| {
            let g = sys::fork();
            if g == 0 {
                sys::exit_group(0);
            }
            let mut st = 0;
            if sys::wait4(g as i32, &mut st, 0) != g || st != 0 {
                return 1;
            }
            0
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let opts = PTRACE_O_TRACEFORK as usize;
        ptrace_ok(PTRACE_SETOPTIONS, c, 0, opts, "SETOPTIONS TRACEFORK")?;
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(
            wait_opts(c, WALL)?,
            stopped((PTRACE_EVENT_FORK << 8) | SIGTRAP),
            "the fork event"
        );
        let g = geteventmsg(c)? as i32;
        ptrace_ok(PTRACE_SYSCALL, c, 0, 0, "SYSCALL at the event")?;
        check_eq!(
            wait_opts(c, WALL)?,
            stopped(SIGTRAP),
            "the clone's exit stop"
        );
        let regs = getregs(c)?;
        check_eq!(regs[7], PTRACE_SYSCALL_EXIT, "x7 at the clone's exit");
        check_eq!(regs[0], g as u64, "x0 (the new pid) at the clone's exit");
        check_eq!(
            wait_opts(g, WALL)?,
            stopped(SIGSTOP),
            "the grandchild's first stop"
        );
        ptrace_ok(PTRACE_CONT, g, 0, 0, "CONT the grandchild")?;
        check_eq!(wait_opts(g, WALL)?, exited(0), "the grandchild's exit");
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        loop {
            let st = wait_opts(c, WALL)?;
            if st == stopped(SIGCHLD) {
                ptrace_ok(PTRACE_CONT, c, 0, SIGCHLD as usize, "CONT with SIGCHLD")?;
                continue;
            }
            check_eq!(st, exited(0), "the child's end");
            break;
        }
        Ok(())
    })?;
    expect_ok(t)
}

/// TRACEEXIT when a signal kills the tracee: it still stops at its exit, after a signal
/// its tracer passed on and after SIGKILL alike (the message is the wait status to
/// come), and dies when resumed.
pub fn ptrace_exit_event_on_signal_death() -> T {
    let t = child(|| {
        for sig in [SIGTERM, SIGKILL] {
            let s = Shared::new()?;
            let c = counter(&s)?;
            let opts = PTRACE_O_TRACEEXIT as usize;
            ptrace_ok(PTRACE_SEIZE, c, 0, opts, "SEIZE with TRACEEXIT")?;
            check!(counting(&s), "the seized task does not run");
            check_eq!(sys::kill(c, sig), 0, "kill");
            if sig == SIGTERM {
                check_eq!(wait(c)?, stopped(SIGTERM), "the signal-delivery stop");
                ptrace_ok(PTRACE_CONT, c, 0, SIGTERM as usize, "CONT with SIGTERM")?;
            }
            check_eq!(
                wait(c)?,
                stopped((PTRACE_EVENT_EXIT << 8) | SIGTRAP),
                "the exit stop after signal {sig}"
            );
            check_eq!(geteventmsg(c)?, sig as u64, "the exit stop's message");
            ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
            check_eq!(wait(c)?, killed(sig), "the tracee's end");
        }
        Ok(())
    })?;
    expect_ok(t)
}

/// SINGLESTEP over an `svc`: the syscall runs, and its return is reported as a SIGTRAP
/// (`SI_USER`, Linux's pseudo-step), after which stepping goes on.
pub fn ptrace_singlestep_over_svc() -> T {
    let t = child(|| {
        let c = traceme_child(|| {
            let pid = sys::getpid();
            let got: usize;
            // SAFETY: kill(getpid(), SIGSTOP), then getpid, whose result is returned.
            unsafe {
                asm!("svc #0", "nop", "mov x8, #172", "svc #0", "nop", "nop",
                    inlateout("x0") pid => got, in("x1") SIGSTOP, inlateout("x8") nr::KILL => _,
                    options(nostack));
            }
            if got == pid as usize {
                0
            } else {
                1
            }
        })?;
        check_eq!(wait(c)?, stopped(SIGSTOP), "the child's stop");
        let pc = getregs(c)?[32];
        let mut seen = [(0i32, 0u64, 0i32); 5];
        for s in seen.iter_mut() {
            ptrace_ok(PTRACE_SINGLESTEP, c, 0, 0, "SINGLESTEP")?;
            let st = wait(c)?;
            let si = getsiginfo(c)?;
            *s = (st.0, getregs(c)?[32] - pc, si.si_code);
        }
        let trap = stopped(SIGTRAP).0;
        check_eq!(
            seen,
            [
                (trap, 4, TRAP_TRACE),
                (trap, 8, TRAP_TRACE),
                (trap, 12, SI_USER),
                (trap, 12, TRAP_TRACE),
                (trap, 16, TRAP_TRACE)
            ],
            "(status, pc - the first pc, si_code) after each step"
        );
        ptrace_ok(PTRACE_CONT, c, 0, 0, "CONT")?;
        check_eq!(wait(c)?, exited(0), "the child's end (getpid's result)");
        Ok(())
    })?;
    expect_ok(t)
}
