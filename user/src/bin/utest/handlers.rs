//! Signal handlers: `rt_sigaction` with a handler, the frame it runs on, `rt_sigreturn`,
//! blocking, interrupted syscalls (`SA_RESTART`), fault signals, and SIGCHLD. Each test
//! runs in a child, so that init's own actions stay the defaults.

use crate::util::{child, child_code, exited, expect_ok, expect_status, wait, T};
use core::mem::offset_of;
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering::SeqCst};
use forkos_lib::uapi::sigcontext::{Sigcontext, Ucontext};
use forkos_user::sys::{self, sigbit, SIGCHLD, SIGSEGV, SIGUSR1, SIGUSR2};

static COUNT: AtomicI32 = AtomicI32::new(0);
static SIGNO: AtomicI32 = AtomicI32::new(0);
static CODE: AtomicI32 = AtomicI32::new(0);
static PID: AtomicI32 = AtomicI32::new(0);
static STATUS: AtomicI32 = AtomicI32::new(0);
static ADDR: AtomicU64 = AtomicU64::new(0);
static MASK_IN_HANDLER: AtomicU64 = AtomicU64::new(0);

/// Record what the handler was given: the signal in x0, the siginfo in x1.
extern "C" fn record(sig: i32, info: *const sys::SigInfo, _uc: *mut u8) {
    // SAFETY: the kernel passes a siginfo of 128 bytes in x1, on the handler's frame.
    let info = unsafe { info.read() };
    SIGNO.store(sig, SeqCst);
    CODE.store(info.si_code, SeqCst);
    PID.store(info.si_pid, SeqCst);
    STATUS.store(info.si_status, SeqCst);
    ADDR.store(info.si_addr(), SeqCst);
    let mut m = 0;
    sys::sigprocmask(sys::SIG_BLOCK, None, Some(&mut m));
    MASK_IN_HANDLER.store(m, SeqCst);
    COUNT.fetch_add(1, SeqCst);
}

fn install(sig: i32, flags: u64) -> T {
    let r = sys::set_handler(sig, record as *const () as usize, flags | sys::SA_SIGINFO);
    check_eq!(r, 0, "rt_sigaction({sig}, handler)");
    Ok(())
}

/// kill() to oneself runs the handler before kill returns, with the signal number,
/// SI_USER and the sender's pid; the signal is blocked while the handler runs, and the
/// old mask is back afterwards.
pub fn handler_runs_on_kill() -> T {
    expect_ok(child(|| {
        install(SIGUSR1, 0)?;
        let me = sys::getpid() as i32;
        check_eq!(sys::kill(me, SIGUSR1), 0, "kill(self, SIGUSR1)");
        check_eq!(COUNT.load(SeqCst), 1, "handler runs");
        check_eq!(SIGNO.load(SeqCst), SIGUSR1, "x0 = signal");
        check_eq!(CODE.load(SeqCst), sys::SI_USER, "si_code SI_USER");
        check_eq!(PID.load(SeqCst), me, "si_pid");
        check!(
            MASK_IN_HANDLER.load(SeqCst) & sigbit(SIGUSR1) != 0,
            "SIGUSR1 blocked inside its handler"
        );
        let mut m = u64::MAX;
        sys::sigprocmask(sys::SIG_BLOCK, None, Some(&mut m));
        check_eq!(m, 0, "mask after the handler returned");
        // tgkill says SI_TKILL.
        sys::tgkill(me, sys::gettid() as i32, SIGUSR1);
        check_eq!(COUNT.load(SeqCst), 2, "handler runs for tgkill");
        check_eq!(CODE.load(SeqCst), sys::SI_TKILL, "si_code SI_TKILL");
        Ok(())
    })?)
}

/// A blocked signal stays pending, and runs its handler as soon as it is unblocked.
pub fn blocked_signal_runs_when_unblocked() -> T {
    expect_ok(child(|| {
        install(SIGUSR2, 0)?;
        sys::sigprocmask(sys::SIG_BLOCK, Some(sigbit(SIGUSR2)), None);
        sys::kill(sys::getpid() as i32, SIGUSR2);
        sys::kill(sys::getpid() as i32, SIGUSR2);
        check_eq!(COUNT.load(SeqCst), 0, "handler runs while blocked");
        sys::sigprocmask(sys::SIG_UNBLOCK, Some(sigbit(SIGUSR2)), None);
        check_eq!(
            COUNT.load(SeqCst),
            1,
            "one handler run after unblocking two sends"
        );
        Ok(())
    })?)
}

/// A handler installed with SA_RESETHAND runs once; the action is then the default.
pub fn sa_resethand_runs_once() -> T {
    expect_ok(child(|| {
        install(SIGUSR1, sys::SA_RESETHAND)?;
        sys::kill(sys::getpid() as i32, SIGUSR1);
        check_eq!(COUNT.load(SeqCst), 1, "handler ran");
        let mut old = sys::SigAction::default();
        sys::sigaction(SIGUSR1, None, Some(&mut old));
        check_eq!(old.handler, sys::SIG_DFL, "action after SA_RESETHAND");
        Ok(())
    })?)
}

/// A process blocked in wait4 is interrupted by a handled signal: without SA_RESTART
/// wait4 fails with EINTR; with SA_RESTART it goes on waiting and returns the child.
pub fn handler_interrupts_wait4() -> T {
    for restart in [false, true] {
        let pid = child(|| {
            install(SIGUSR1, if restart { sys::SA_RESTART } else { 0 })?;
            let slow = child(|| {
                sys::sleep_ms(300);
                Ok(())
            })?;
            let parent = sys::getpid() as i32;
            let sender = child(|| {
                sys::sleep_ms(50);
                sys::kill(parent, SIGUSR1);
                Ok(())
            })?;
            let mut status = 0;
            let r = sys::wait4(slow, &mut status, 0);
            check_eq!(COUNT.load(SeqCst), 1, "handler ran during wait4");
            if restart {
                check_eq!(r, slow as isize, "wait4 with SA_RESTART");
            } else {
                check_eq!(r, -sys::EINTR, "wait4 without SA_RESTART");
                check_eq!(wait(slow)?, exited(0), "slow child");
            }
            expect_ok(sender)
        })?;
        expect_ok(pid)?;
    }
    Ok(())
}

/// A SIGSEGV handler gets the fault address and SEGV_MAPERR; moving the saved pc past
/// the faulting instruction in the ucontext lets the program go on.
pub fn segv_handler_skips_fault() -> T {
    extern "C" fn skip(sig: i32, info: *const sys::SigInfo, uc: *mut u8) {
        record(sig, info, uc);
        let pc = offset_of!(Ucontext, uc_mcontext) + offset_of!(Sigcontext, pc);
        // SAFETY: x2 points at the ucontext in the signal frame.
        unsafe { *(uc.add(pc) as *mut u64) += 4 };
    }
    expect_ok(child(|| {
        check_eq!(
            sys::set_handler(SIGSEGV, skip as *const () as usize, sys::SA_SIGINFO),
            0,
            "rt_sigaction(SIGSEGV)"
        );
        let v: u64;
        // SAFETY: the load faults; the handler skips it, leaving x0 as set before.
        unsafe {
            core::arch::asm!("mov {v}, #7", "ldr {v}, [{a}]", v = out(reg) v,
                a = in(reg) 0x10u64, options(nostack))
        };
        check_eq!(v, 7, "register after the skipped load");
        check_eq!(COUNT.load(SeqCst), 1, "handler ran");
        check_eq!(SIGNO.load(SeqCst), SIGSEGV, "signal");
        check_eq!(CODE.load(SeqCst), sys::SEGV_MAPERR, "si_code SEGV_MAPERR");
        check_eq!(ADDR.load(SeqCst), 0x10, "si_addr");
        Ok(())
    })?)
}

/// A child's exit sends SIGCHLD with CLD_EXITED, the child's pid and its status.
pub fn sigchld_handler_gets_status() -> T {
    expect_ok(child(|| {
        install(SIGCHLD, sys::SA_RESTART)?;
        let kid = crate::util::child_code(|| 5)?;
        expect_status(kid, exited(5))?;
        check_eq!(COUNT.load(SeqCst), 1, "SIGCHLD handler ran");
        check_eq!(CODE.load(SeqCst), sys::CLD_EXITED, "si_code CLD_EXITED");
        check_eq!(PID.load(SeqCst), kid, "si_pid");
        check_eq!(STATUS.load(SeqCst), 5, "si_status");
        Ok(())
    })?)
}

/// A parent that ignores SIGCHLD leaves no zombies: its children are reaped as they
/// exit, and wait4 finds none (ECHILD) once they are gone.
pub fn sigchld_ignored_reaps_children() -> T {
    expect_ok(child(|| {
        let ign = sys::SigAction {
            handler: sys::SIG_IGN,
            ..Default::default()
        };
        sys::sigaction(SIGCHLD, Some(&ign), None);
        let kid = crate::util::child_code(|| 3)?;
        let mut status = 0;
        check_eq!(
            sys::wait4(kid, &mut status, 0),
            -sys::ECHILD,
            "wait4 for a child of a parent ignoring SIGCHLD"
        );
        Ok(())
    })?)
}

/// Registers x5-x28 (but x8, x16-x19, which the test itself uses) and v0-v31 are exactly as they were after a
/// handler that uses them ran in the middle (rt_sigreturn restores them from the frame).
pub fn sigreturn_restores_registers() -> T {
    extern "C" fn clobber(_sig: i32, _info: *const u8, _uc: *mut u8) {
        // SAFETY: overwrites caller-saved and callee-saved registers it declares.
        unsafe {
            core::arch::asm!(
                "mov x9, #0xdead", "mov x20, #0xdead", "mov x28, #0xdead",
                "movi v0.16b, #0xee", "movi v8.16b, #0xee", "movi v31.16b, #0xee",
                out("x9") _, out("x20") _, out("x28") _, out("v0") _, out("v8") _,
                out("v31") _,
            )
        };
        COUNT.fetch_add(1, SeqCst);
    }
    expect_ok(child(|| {
        check_eq!(
            sys::set_handler(SIGUSR1, clobber as *const () as usize, 0),
            0,
            "handler"
        );
        let pid = sys::getpid() as usize;
        // Word r of each buffer is xr; the 64 words from word 30 on are v0-v31.
        let mut inp = [0u64; 30 + 64];
        for (i, w) in inp.iter_mut().enumerate() {
            *w = 0x1111_0000_0000_0000 | (i as u64 * 0x0101_0101);
        }
        let mut out = [0u64; 30 + 64];
        // SAFETY: loads and stores the two buffers through x3 and x4, which the kernel
        // preserves; every register written is declared clobbered.
        unsafe {
            core::arch::asm!(
                "ldr x5, [x3, #40]", "ldr x6, [x3, #48]", "ldr x7, [x3, #56]", "ldr x9, [x3, #72]", "ldr x10, [x3, #80]", "ldr x11, [x3, #88]", "ldr x12, [x3, #96]", "ldr x13, [x3, #104]", "ldr x14, [x3, #112]", "ldr x15, [x3, #120]", "ldr x20, [x3, #160]", "ldr x21, [x3, #168]", "ldr x22, [x3, #176]", "ldr x23, [x3, #184]", "ldr x24, [x3, #192]", "ldr x25, [x3, #200]", "ldr x26, [x3, #208]", "ldr x27, [x3, #216]", "ldr x28, [x3, #224]",
                "add x16, x3, #240",
                "ld1 {{v0.2d-v3.2d}}, [x16], #64", "ld1 {{v4.2d-v7.2d}}, [x16], #64", "ld1 {{v8.2d-v11.2d}}, [x16], #64", "ld1 {{v12.2d-v15.2d}}, [x16], #64", "ld1 {{v16.2d-v19.2d}}, [x16], #64", "ld1 {{v20.2d-v23.2d}}, [x16], #64", "ld1 {{v24.2d-v27.2d}}, [x16], #64", "ld1 {{v28.2d-v31.2d}}, [x16], #64",
                "mov x8, #{kill}", // kill(pid, SIGUSR1): the handler runs on the way out
                "svc #0",
                "str x5, [x4, #40]", "str x6, [x4, #48]", "str x7, [x4, #56]", "str x9, [x4, #72]", "str x10, [x4, #80]", "str x11, [x4, #88]", "str x12, [x4, #96]", "str x13, [x4, #104]", "str x14, [x4, #112]", "str x15, [x4, #120]", "str x20, [x4, #160]", "str x21, [x4, #168]", "str x22, [x4, #176]", "str x23, [x4, #184]", "str x24, [x4, #192]", "str x25, [x4, #200]", "str x26, [x4, #208]", "str x27, [x4, #216]", "str x28, [x4, #224]",
                "add x16, x4, #240",
                "st1 {{v0.2d-v3.2d}}, [x16], #64", "st1 {{v4.2d-v7.2d}}, [x16], #64", "st1 {{v8.2d-v11.2d}}, [x16], #64", "st1 {{v12.2d-v15.2d}}, [x16], #64", "st1 {{v16.2d-v19.2d}}, [x16], #64", "st1 {{v20.2d-v23.2d}}, [x16], #64", "st1 {{v24.2d-v27.2d}}, [x16], #64", "st1 {{v28.2d-v31.2d}}, [x16], #64",
                kill = const sys::nr::KILL,
                inout("x0") pid => _, in("x1") SIGUSR1 as usize, in("x3") inp.as_ptr(),
                in("x4") out.as_mut_ptr(),
                out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
                out("x15") _, out("x16") _, out("x20") _, out("x21") _, out("x22") _,
                out("x23") _, out("x24") _, out("x25") _, out("x26") _, out("x27") _,
                out("x28") _, out("v0") _, out("v1") _, out("v2") _, out("v3") _,
                out("v4") _, out("v5") _, out("v6") _, out("v7") _, out("v8") _,
                out("v9") _, out("v10") _, out("v11") _, out("v12") _, out("v13") _,
                out("v14") _, out("v15") _, out("v16") _, out("v17") _, out("v18") _,
                out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
                out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _,
                out("v29") _, out("v30") _, out("v31") _,
            )
        };
        check_eq!(COUNT.load(SeqCst), 1, "handler ran");
        let regs = [
            5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 26, 27, 28,
        ];
        for r in regs {
            check_eq!(out[r], inp[r], "x{r} after the handler");
        }
        for i in 30..inp.len() {
            check_eq!(
                out[i],
                inp[i],
                "v{} (word {}) after the handler",
                (i - 30) / 2,
                i % 2
            );
        }
        Ok(())
    })?)
}

/// Without SA_RESTORER (glibc on arm64 passes none), the handler returns through the
/// kernel's trampoline (Linux: the vDSO's `__kernel_rt_sigreturn`).
pub fn handler_returns_without_restorer() -> T {
    expect_ok(child(|| {
        let act = sys::SigAction {
            handler: record as *const () as u64,
            flags: sys::SA_SIGINFO,
            ..Default::default()
        };
        check_eq!(sys::sigaction(SIGUSR1, Some(&act), None), 0, "rt_sigaction");
        sys::kill(sys::getpid() as i32, SIGUSR1);
        check_eq!(COUNT.load(SeqCst), 1, "handler ran and returned");
        Ok(())
    })?)
}

/// Set `sig`'s action to `handler` (`SIG_IGN`, `SIG_DFL` or the recording handler).
fn set_action(sig: i32, handler: u64) -> T {
    let h = if handler > 1 {
        record as *const () as usize
    } else {
        handler as usize
    };
    let r = sys::set_handler(sig, h, sys::SA_SIGINFO);
    check_eq!(r, 0, "rt_sigaction({sig}, {handler:#x})");
    Ok(())
}

/// Make `sig` pending, blocked, on the process (kill) and on this thread (tgkill).
fn make_pending(sig: i32) -> T {
    sys::sigprocmask(sys::SIG_BLOCK, Some(sigbit(sig)), None);
    let me = sys::getpid() as i32;
    check_eq!(sys::kill(me, sig), 0, "kill(self, {sig})");
    check_eq!(
        sys::tgkill(me, sys::gettid() as i32, sig),
        0,
        "tgkill(self, {sig})"
    );
    Ok(())
}

/// Setting a signal's action to SIG_IGN discards it where it is pending, blocked or
/// not (POSIX; Linux `do_sigaction`), and so does SIG_DFL for a signal whose default is
/// to be ignored (SIGURG). SIG_DFL for a stop signal (SIGTSTP) or a handler keeps it:
/// the handler then runs, once for the process's instance and once for the thread's.
pub fn sigaction_ignore_discards_pending() -> T {
    let cases: [(i32, u64, i32); 5] = [
        (SIGUSR1, sys::SIG_IGN, 0),
        (SIGUSR1, 2, 2),
        (sys::SIGURG, sys::SIG_DFL, 0),
        (sys::SIGURG, 2, 2),
        (sys::SIGTSTP, sys::SIG_DFL, 2),
    ];
    for (sig, action, runs) in cases {
        let pid = child_code(|| {
            let r: T = (|| {
                make_pending(sig)?;
                set_action(sig, action)?;
                set_action(sig, 2)?;
                sys::sigprocmask(sys::SIG_UNBLOCK, Some(sigbit(sig)), None);
                Ok(())
            })();
            if r.is_err() {
                return 100;
            }
            COUNT.load(SeqCst)
        })?;
        check_eq!(
            wait(pid)?,
            exited(runs),
            "handler runs after signal {sig} was pending and its action set to {action:#x}"
        );
    }
    Ok(())
}

/// SIG_IGN discards the signal from every thread's own pending set too, not only the
/// caller's: another thread that blocked it never runs the handler once it unblocks.
pub fn sigaction_ignore_discards_other_threads_pending() -> T {
    static STEP: AtomicI32 = AtomicI32::new(0);
    expect_ok(child(|| {
        install(SIGUSR2, 0)?;
        sys::sigprocmask(sys::SIG_BLOCK, Some(sigbit(SIGUSR2)), None);
        let body = || {
            // Pending on this thread only, and blocked (the mask came from the creator).
            let me = sys::getpid() as i32;
            sys::tgkill(me, sys::gettid() as i32, SIGUSR2);
            STEP.store(1, SeqCst);
            while STEP.load(SeqCst) != 2 {
                sys::sched_yield();
            }
            sys::sigprocmask(sys::SIG_UNBLOCK, Some(sigbit(SIGUSR2)), None);
            STEP.store(3, SeqCst);
            0
        };
        let mut t = crate::util::Thread::spawn(&body)?;
        while STEP.load(SeqCst) != 1 {
            sys::sched_yield();
        }
        // One more on the process, which every thread blocks.
        sys::kill(sys::getpid() as i32, SIGUSR2);
        set_action(SIGUSR2, sys::SIG_IGN)?;
        set_action(SIGUSR2, 2)?;
        STEP.store(2, SeqCst);
        t.join();
        check_eq!(STEP.load(SeqCst), 3, "the thread unblocked SIGUSR2");
        sys::sigprocmask(sys::SIG_UNBLOCK, Some(sigbit(SIGUSR2)), None);
        check_eq!(COUNT.load(SeqCst), 0, "handler runs");
        Ok(())
    })?)
}
