//! Ending tasks and reaping them (Linux `kernel/exit.c`).
//!
//! `exit` ends one thread, `exit_group` (and any fatal signal) the whole process. An
//! exited process stays a *zombie*, holding its pid and exit status, until its parent
//! collects it with `wait4`/`waitid` — exactly once. Threads other than the leader, and
//! children of the idle task (kernel threads), are reaped at once. Children of an exiting
//! process are handed to another thread of its group, or to init (pid 1); a process
//! group that this orphans while one of its members is stopped gets SIGHUP and SIGCONT
//! (`kill_orphaned_pgrp`). `wait4`/`waitid` also report stopped (`WUNTRACED`) and
//! continued (`WCONTINUED`) children.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use crate::errno::*;
use crate::mm::uaccess::UserPtr;
use crate::pid::PID_TABLE;
use crate::sched::schedule;
use crate::signal::{zap_other_threads, SIGCHLD};
use crate::task::*;

/// `exit(code)` as a wait status: `(code & 0xff) << 8`.
pub fn exit_status(code: i32) -> i32 {
    (code & 0xff) << 8
}

/// Remove a dead task from everything that can find it (Linux `release_task`). When it
/// was the last thread besides a zombie leader, the leader's parent is told now, and if
/// the parent wants no zombie, the leader goes the same way.
fn release_task(p: &Arc<Task>) {
    let mut p = p.clone();
    loop {
        p.set_state(TaskState::Dead);
        let tasklist = TASKLIST_LOCK.lock();
        // Still traced (by its real parent, or a thread): untraced now (Linux
        // `ptrace_release_task`).
        if p.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0 {
            crate::ptrace::__ptrace_unlink(&p, &tasklist);
        }
        if let Some(parent) = p.inner.lock().parent.upgrade() {
            parent.inner.lock().children.retain(|c| !Arc::ptr_eq(c, &p));
        }
        let zombie_leader = {
            let mut s = p.signal.inner.lock();
            // Linux `__exit_signal`: the group keeps the thread's CPU time.
            s.utime += p.utime.load(core::sync::atomic::Ordering::Relaxed);
            s.stime += p.stime.load(core::sync::atomic::Ordering::Relaxed);
            // Comparing addresses and reading a count, without taking a reference to
            // each thread (Linux `__unhash_process`: `list_del_rcu(&p->thread_node)`).
            s.threads
                .retain(|t| Weak::strong_count(t) > 0 && !core::ptr::eq(t.as_ptr(), &*p));
            if p.is_group_leader() {
                None
            } else {
                s.threads
                    .iter()
                    .filter_map(Weak::upgrade)
                    .find(|l| l.is_group_leader())
                    .filter(|l| l.state() == TaskState::Zombie && thread_group_empty(&s, l))
            }
        };
        // Linux's `zap_leader`: told under the lock, reaped after it.
        let zap_leader = zombie_leader.filter(|leader| {
            let sig = leader.inner.lock().exit_signal;
            do_notify_parent(leader, sig, &tasklist) && claim(leader)
        });
        drop(tasklist);
        let hashed = PID_TABLE.lock().free(p.pid);
        drop(hashed);
        crate::fork::release_thread_count();
        match zap_leader {
            Some(leader) => p = leader,
            None => break,
        }
    }
}

/// No thread of the group but `leader` is still listed (Linux `thread_group_empty`).
/// Read under the group's lock, which is what makes the leader's exit and its last
/// thread's release agree on which of them tells the parent (Linux: `tasklist_lock`).
pub(crate) fn thread_group_empty(s: &SignalInner, leader: &Task) -> bool {
    s.threads
        .iter()
        .all(|t| Weak::strong_count(t) == 0 || core::ptr::eq(t.as_ptr(), leader))
}

/// The idle task reaps init when it has exited (forkos powers off then).
pub fn reap_init(init: &Arc<Task>) {
    release_task(init);
}

/// Should this exiting task be reaped at once rather than waited for?
fn autoreap(p: &Task) -> bool {
    let i = p.inner.lock();
    // Threads, kernel threads, and children of the idle task (whom no one waits for).
    i.exit_signal == -1
        || i.parent
            .upgrade()
            .is_none_or(|parent| parent.pid == 0 && p.pid != 1)
}

/// Does `parent`'s process reap its children itself: SIGCHLD ignored or
/// `SA_NOCLDWAIT` (Linux `ignoring_children`)?
pub(crate) fn ignoring_children(parent: &Task) -> bool {
    use crate::signal::{SA_NOCLDWAIT, SIG_IGN};
    let a = parent.inner.lock().sighand.lock()[SIGCHLD as usize - 1];
    a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0
}

/// The wait status of a task that has exited: its thread group's, or else its own
/// (Linux `wait_task_zombie`'s `group_exit_code` under `SIGNAL_GROUP_EXIT`, else
/// `exit_code`).
fn zombie_status(p: &Task) -> i32 {
    p.signal
        .inner
        .lock()
        .group_exit_code
        .unwrap_or_else(|| p.exit_status.load(core::sync::atomic::Ordering::Relaxed))
}

/// Tell the parent a child can be reaped (Linux `do_notify_parent`): send it `sig`
/// with the child's status, and wake its `wait4`, all under the task-list lock, so
/// that a `wait` that finds the zombie finds the signal already sent. A traced child
/// tells its tracer (Linux `tsk->parent`). Returns whether the child is to be reaped at
/// once, leaving no zombie: it is not traced and the parent ignores SIGCHLD (or set
/// `SA_NOCLDWAIT`), or nobody waits for this kind of task.
pub(crate) fn do_notify_parent(p: &Arc<Task>, sig: i32, _tasklist: &TasklistGuard) -> bool {
    use crate::signal::{send_signal, KSigInfo, SA_NOCLDWAIT, SIG_IGN};
    let traced = p.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0;
    let mut sig = sig;
    let parent = crate::ptrace::ptrace_parent_or_parent(p);
    let mut reap = !traced && autoreap(p);
    if let (false, Some(parent)) = (reap, &parent) {
        if sig == SIGCHLD && !traced {
            let a = parent.inner.lock().sighand.lock()[SIGCHLD as usize - 1];
            if a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0 {
                reap = true;
                if a.handler == SIG_IGN {
                    sig = 0;
                }
            }
        }
        if sig > 0 {
            let status = zombie_status(p);
            let (code, st) = if status & 0x7f == 0 {
                (CLD_EXITED, (status >> 8) & 0xff)
            } else {
                (CLD_KILLED, status & 0x7f)
            };
            let info = KSigInfo {
                signo: sig,
                code,
                pid: p.pid,
                status: st,
                ..KSigInfo::default()
            };
            send_signal(parent, info, true, false);
        }
    }
    if let Some(parent) = parent {
        parent.signal.wait_chldexit.wake_up_all();
    }
    reap
}

/// Take a zombie for reaping, unless a `wait` already took it (Linux's
/// `EXIT_ZOMBIE -> EXIT_DEAD` exchange, made under the task-list lock, as `wait`
/// makes it).
fn claim(p: &Task) -> bool {
    p.state() == TaskState::Zombie && {
        p.set_state(TaskState::Dead);
        true
    }
}

/// Give our children to a new parent (Linux `forget_original_parent`): another live
/// thread of our group, else init.
/// Returns the tracees that were zombies nobody waits for now, to release.
fn forget_original_parent(tsk: &Task, tasklist: &TasklistGuard) -> Vec<Arc<Task>> {
    // Our tracees go first (Linux `exit_ptrace`).
    let dead = if tsk.inner.lock().ptraced.is_empty() {
        Vec::new()
    } else {
        crate::ptrace::exit_ptrace(tsk, tasklist)
    };
    // A wait in another thread of the group must see the children either here or at
    // their new parent, never nowhere: hence the task-list lock.
    let children: Vec<Arc<Task>> = core::mem::take(&mut tsk.inner.lock().children);
    if children.is_empty() {
        return dead;
    }
    let sibling_thread = tsk.signal.threads().into_iter().find(|t| {
        !core::ptr::eq(&**t, tsk) && !matches!(t.state(), TaskState::Zombie | TaskState::Dead)
    });
    let (reaper, same_group) = match sibling_thread {
        Some(t) => (t, true),
        None => match PID_TABLE.lock().find(1) {
            Some(init) => (init, false),
            None => return dead,
        },
    };
    let mut zombies = Vec::new();
    for child in children {
        {
            let mut ci = child.inner.lock();
            ci.parent = Arc::downgrade(&reaper);
            if !same_group {
                ci.exit_signal = SIGCHLD;
            }
        }
        // Linux `reparent_leader`: our child's group may have lost its last link
        // outside (that was us), now that its parent is the new one.
        if !same_group {
            kill_orphaned_pgrp(&child, Some(tsk));
        }
        if child.state() == TaskState::Zombie {
            zombies.push(child.clone());
        }
        reaper.inner.lock().children.push(child);
    }
    if !zombies.is_empty() {
        reaper.signal.wait_chldexit.wake_up_all();
    }
    dead
}

/// Become a zombie, or disappear (Linux `exit_notify`). A leader whose threads are all
/// gone tells its parent; otherwise the last of them does, in `release_task`.
fn exit_notify(tsk: &Arc<Task>, group_dead: bool) {
    let tasklist = TASKLIST_LOCK.lock();
    let dead = forget_original_parent(tsk, &tasklist);
    if group_dead {
        kill_orphaned_pgrp(tsk, None);
    }
    tsk.set_special_state(TaskState::Zombie);
    let autoreap = if tsk.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0 {
        // A tracee tells its tracer, with SIGCHLD unless the tracer is the parent
        // that would get the exit signal anyway.
        let sig = if tsk.is_group_leader()
            && thread_group_empty(&tsk.signal.inner.lock(), tsk)
            && !crate::ptrace::ptrace_reparented(tsk)
        {
            tsk.inner.lock().exit_signal
        } else {
            SIGCHLD
        };
        do_notify_parent(tsk, sig, &tasklist)
    } else if tsk.is_group_leader() {
        let group_empty = thread_group_empty(&tsk.signal.inner.lock(), tsk);
        let sig = tsk.inner.lock().exit_signal;
        group_empty && do_notify_parent(tsk, sig, &tasklist)
    } else {
        true // a thread: nobody waits for it
    };
    if autoreap {
        tsk.set_state(TaskState::Dead);
    }
    drop(tasklist);
    for p in dead {
        release_task(&p);
    }
    if autoreap {
        release_task(tsk);
    }
}

/// Would process group `pgrp` be orphaned without `ignored` (a process's tgid): does
/// none of its members have a parent in another group of the same session, init
/// aside (Linux `will_become_orphaned_pgrp`)? Called with the task-list lock held,
/// or from [`is_current_pgrp_orphaned`], which takes it.
fn will_become_orphaned_pgrp(pgrp: Pid, ignored: Option<Pid>) -> bool {
    for p in crate::pid::pgrp_tasks(pgrp) {
        let gone = p.state() == TaskState::Zombie && thread_group_empty(&p.signal.inner.lock(), &p);
        if Some(p.tgid) == ignored || gone {
            continue;
        }
        let Some(parent) = p.inner.lock().parent.upgrade() else {
            continue;
        };
        if parent.tgid == 1 {
            continue;
        }
        let (ppgrp, psession) = {
            let ps = parent.signal.inner.lock();
            (ps.pgrp, ps.session)
        };
        if ppgrp != pgrp && psession == p.signal.inner.lock().session {
            return false;
        }
    }
    true
}

/// Is the caller's process group orphaned (Linux `is_current_pgrp_orphaned`)? Its
/// SIGTSTP, SIGTTIN and SIGTTOU are then discarded, as no shell could continue it.
pub fn is_current_pgrp_orphaned(t: &Task) -> bool {
    let _tasklist = TASKLIST_LOCK.lock();
    let pgrp = t.signal.inner.lock().pgrp;
    will_become_orphaned_pgrp(pgrp, None)
}

/// Is some process of group `pgrp` stopped (Linux `has_stopped_jobs`)?
fn has_stopped_jobs(pgrp: Pid) -> bool {
    crate::pid::pgrp_tasks(pgrp)
        .iter()
        .any(|p| p.signal.inner.lock().flags & crate::task::SIGNAL_STOP_STOPPED != 0)
}

/// POSIX 3.2.2.2: a process group that becomes orphaned while one of its members is
/// stopped gets SIGHUP and then SIGCONT, or it would stay stopped for ever (Linux
/// `kill_orphaned_pgrp`). `parent` None: `tsk`'s process is exiting and its parent
/// may have been the group's last link outside; `Some(father)`: `tsk`, father's child,
/// is being given to init, and father may have been that link.
fn kill_orphaned_pgrp(tsk: &Task, parent: Option<&Task>) {
    let (pgrp, session) = {
        let s = tsk.signal.inner.lock();
        (s.pgrp, s.session)
    };
    let real_parent;
    let (parent, ignored) = match parent {
        Some(father) => (father, None),
        None => {
            let Some(p) = tsk.real_parent() else { return };
            real_parent = p;
            (&*real_parent, Some(tsk.tgid))
        }
    };
    let (ppgrp, psession) = {
        let ps = parent.signal.inner.lock();
        (ps.pgrp, ps.session)
    };
    if ppgrp != pgrp
        && psession == session
        && will_become_orphaned_pgrp(pgrp, ignored)
        && has_stopped_jobs(pgrp)
    {
        for sig in [crate::signal::SIGHUP, crate::signal::SIGCONT] {
            for p in crate::pid::pgrp_tasks(pgrp) {
                let info = crate::signal::KSigInfo {
                    signo: sig,
                    code: crate::signal::SI_KERNEL,
                    ..crate::signal::KSigInfo::default()
                };
                crate::signal::send_signal(&p, info, true, false);
            }
        }
    }
}

/// End the current task with wait status `code` (Linux `do_exit`). Never returns.
pub fn do_exit(code: i32) -> ! {
    // The tracer may look at us once more (Linux `ptrace_event(PTRACE_EVENT_EXIT)`).
    crate::ptrace::ptrace_event(forkos_lib::uapi::ptrace::PTRACE_EVENT_EXIT, code as u64);
    let tsk = current_arc();
    crate::trace::do_exit(&tsk, code);
    // The last thread out sets the group's status unless exit_group already did (Linux
    // 6.1 `synchronize_group_exit`).
    let (group_dead, status, controlling) = {
        let mut s = tsk.signal.inner.lock();
        s.live -= 1;
        if s.live == 0 && s.group_exit_code.is_none() {
            s.group_exit_code = Some(code);
        }
        (
            s.live == 0,
            s.group_exit_code.unwrap_or(code),
            s.leader && s.tty,
        )
    };
    tsk.inner.lock().exit_code = code;
    tsk.exit_status
        .store(status, core::sync::atomic::Ordering::Relaxed);
    crate::fork::mm_release(&tsk);
    // Close every file (Linux `exit_files`) and let go of the working directory
    // (`exit_fs`), before the address space.
    crate::fs::fdtable::exit_files(&tsk);
    crate::fs::fs_struct::exit_fs(&tsk);
    if group_dead && controlling {
        // A session leader's exit takes its terminal from the session (Linux
        // `disassociate_ctty(1)`).
        crate::drivers::tty::tty_jobctrl::disassociate_ctty(true);
    }
    let mm = current().set_mm(None);
    // Kernel threads borrow no mm; user tasks switch TTBR0 away before it may be freed.
    crate::mm::switch_mm(None);
    drop(mm);
    if tsk.pid == 1 && group_dead {
        crate::init::init_exited(status);
    }
    exit_notify(&tsk, group_dead);
    drop(tsk);
    // Linux do_task_dead: never to run again. A zombie stays Zombie; others are Dead.
    if current().state() != TaskState::Zombie {
        current().set_special_state(TaskState::Dead);
    }
    schedule();
    unreachable!("a dead task was scheduled again");
}

/// End the whole thread group (Linux `do_group_exit`): the first caller's status wins.
pub fn do_group_exit(code: i32) -> ! {
    let tsk = &current();
    let code = {
        let mut s = tsk.signal.inner.lock();
        match s.group_exit_code {
            Some(c) => c,
            None => {
                s.group_exit_code = Some(code);
                code
            }
        }
    };
    zap_other_threads(tsk);
    do_exit(code)
}

pub fn sys_exit(code: i64) -> SysResult {
    do_exit(exit_status(code as i32))
}

pub fn sys_exit_group(code: i64) -> SysResult {
    do_group_exit(exit_status(code as i32))
}

use forkos_lib::uapi::wait::*;

/// Which children a wait is for (Linux `enum pid_type` + pid).
#[derive(Clone, Copy)]
enum Who {
    Any,
    Pid(Pid),
    /// A process group (Linux `PIDTYPE_PGID`).
    Pgrp(Pid),
}

/// A reaped, stopped or continued (or, with WNOWAIT, observed) child.
struct Reaped {
    pid: Pid,
    /// The `wait4` status: `code << 8`, a signal, `0x7f | sig << 8` (stopped) or
    /// `0xffff` (continued).
    status: i32,
    /// The `waitid` `si_code` (`CLD_EXITED`, `CLD_KILLED`, `CLD_STOPPED`,
    /// `CLD_CONTINUED`) and `si_status`.
    code: i32,
    si_status: i32,
}

impl Reaped {
    /// A zombie's report, from its exit status.
    fn exited(pid: Pid, status: i32) -> Reaped {
        let (code, si_status) = if status & 0x7f == 0 {
            (CLD_EXITED, (status >> 8) & 0xff)
        } else {
            (CLD_KILLED, status & 0x7f)
        };
        Reaped {
            pid,
            status,
            code,
            si_status,
        }
    }
}

/// A stopped child not yet reported, for `WSTOPPED` (Linux `wait_task_stopped`): status
/// `0x7f | sig << 8`; the report is used up unless `WNOWAIT`. With `ptrace`, a tracee's
/// ptrace stop for its tracer, whatever the options: status `0x7f | exit_code << 8`
/// (so `SIGTRAP | event << 8` or `SIGTRAP | 0x80` in the second byte and up).
fn wait_task_stopped(p: &Task, options: i32, ptrace: bool) -> Option<Reaped> {
    if ptrace {
        // Under the group's lock, where the tracer's resume sets the code and ends the
        // stop together (Linux: `siglock`).
        let _s = p.signal.inner.lock();
        if p.jobctl.load(core::sync::atomic::Ordering::SeqCst) & JOBCTL_TRACED == 0 {
            return None;
        }
        let mut i = p.inner.lock();
        let exit_code = i.exit_code;
        if exit_code == 0 {
            return None;
        }
        if options & WNOWAIT == 0 {
            i.exit_code = 0;
        }
        return Some(Reaped {
            pid: p.pid,
            status: (exit_code << 8) | 0x7f,
            code: CLD_TRAPPED,
            si_status: exit_code,
        });
    }
    if options & WSTOPPED == 0 {
        return None;
    }
    let mut s = p.signal.inner.lock();
    if s.flags & SIGNAL_STOP_STOPPED == 0 || s.group_stop_code == 0 {
        return None;
    }
    let sig = s.group_stop_code;
    if options & WNOWAIT == 0 {
        s.group_stop_code = 0;
    }
    Some(Reaped {
        pid: p.tgid,
        status: (sig << 8) | 0x7f,
        code: CLD_STOPPED,
        si_status: sig,
    })
}

/// A child continued by SIGCONT, for `WCONTINUED` (Linux `wait_task_continued`):
/// status `0xffff`; used up unless `WNOWAIT`.
fn wait_task_continued(p: &Task, options: i32) -> Option<Reaped> {
    if options & WCONTINUED == 0 {
        return None;
    }
    let mut s = p.signal.inner.lock();
    if s.flags & SIGNAL_STOP_CONTINUED == 0 {
        return None;
    }
    if options & WNOWAIT == 0 {
        s.flags &= !SIGNAL_STOP_CONTINUED;
    }
    Some(Reaped {
        pid: p.tgid,
        status: 0xffff,
        code: CLD_CONTINUED,
        si_status: crate::signal::SIGCONT,
    })
}

/// What one pass found: a zombie to reap (found by its tracer: `true`), or a stop or
/// continue already reported.
enum Found {
    Zombie(Arc<Task>, bool),
    Report(Reaped),
}

/// Is `p` one of the children this wait is for (Linux `eligible_child`)? A tracer waits
/// for its tracees whatever their exit signal.
fn eligible(p: &Task, who: Who, options: i32, ptrace: bool) -> bool {
    let ok_pid = match who {
        Who::Any => true,
        Who::Pid(pid) => p.pid == pid,
        Who::Pgrp(g) => p.signal.inner.lock().pgrp == g,
    };
    if !ok_pid {
        return false;
    }
    // A "clone" child (exit signal not SIGCHLD) is seen only with WCLONE; WALL sees all.
    let is_clone = p.inner.lock().exit_signal != SIGCHLD;
    ptrace || options & WALL != 0 || is_clone == (options & WCLONE != 0)
}

/// The group of `p` still has threads: its zombie leader must wait (Linux
/// `delay_group_leader`).
fn delay_group_leader(p: &Task) -> bool {
    p.is_group_leader() && !thread_group_empty(&p.signal.inner.lock(), p)
}

/// One pass over our children: `Some(Ok)` for a zombie, `Some(Err(ECHILD))` when none is
/// eligible, `None` when some are but none has exited.
fn scan_children(who: Who, options: i32) -> Option<Result<Reaped, Errno>> {
    let me: &Task = &current();
    let mut any = false;
    // No child moves between the lists while we look (forget_original_parent), and
    // the zombie found is claimed before anyone else can (Linux: tasklist_lock, and
    // wait_task_zombie's EXIT_ZOMBIE -> EXIT_DEAD exchange).
    let tasklist = TASKLIST_LOCK.lock();
    // The first reapable child of `t`, looked for under t's lock (taken out of the
    // list only after the lock is dropped: release_task takes it again).
    // Linux `wait_consider_task`: one task of our children (`ptrace` false) or of our
    // tracees (true).
    let mut consider = |child: &Arc<Task>, ptrace: bool| -> Option<Found> {
        // A dead child is on its way out of the list (autoreaped, or reaped by
        // another thread's wait): it is no child to wait for, as Linux's
        // `wait_consider_task` skips `EXIT_DEAD` before it clears `-ECHILD`.
        // Counting it would put a wait to sleep for a wake-up that already came.
        if child.state() == TaskState::Dead || !eligible(child, who, options, ptrace) {
            return None;
        }
        let traced = child.ptrace.load(core::sync::atomic::Ordering::SeqCst) != 0;
        // Traced by its real parent's own group: seen as a tracee, so that one stop
        // is not reported twice.
        let ptrace = ptrace || (traced && !crate::ptrace::ptrace_reparented(child));
        if child.state() == TaskState::Zombie {
            // A zombie is only for WEXITED, and without it does not count as a child
            // to wait for; a traced one is its tracer's to see first.
            if !delay_group_leader(child) && (ptrace || !traced) {
                if options & WEXITED != 0 {
                    return Some(Found::Zombie(child.clone(), ptrace));
                }
                return None;
            }
            if !ptrace || options & (WCONTINUED | WEXITED) != 0 {
                any = true;
            }
        } else {
            any = true;
        }
        if let Some(r) = wait_task_stopped(child, options, ptrace) {
            return Some(Found::Report(r));
        }
        wait_task_continued(child, options).map(Found::Report)
    };
    let mut scan = |t: &Task| -> Option<Found> {
        let inner = t.inner.lock();
        for child in &inner.children {
            if let Some(found) = consider(child, false) {
                return Some(found);
            }
        }
        // Linux `ptrace_do_wait`: the tasks we trace.
        for child in &inner.ptraced {
            if let Some(found) = consider(child, true) {
                return Some(found);
            }
        }
        None
    };
    // Our own children, then (unless __WNOTHREAD) those of the other threads.
    let mut found = scan(me);
    if found.is_none() && options & WNOTHREAD == 0 && me.signal.inner.lock().threads.len() > 1 {
        for t in me.signal.threads() {
            if !core::ptr::eq(&*t, me) {
                found = scan(&t);
                if found.is_some() {
                    break;
                }
            }
        }
    }
    let (child, ptrace) = match found {
        None => return (!any).then_some(Err(ECHILD)),
        Some(Found::Report(r)) => return Some(Ok(r)),
        Some(Found::Zombie(child, ptrace)) => (child, ptrace),
    };
    if options & WNOWAIT == 0
        && ptrace
        && child.is_group_leader()
        && crate::ptrace::ptrace_reparented(&child)
    {
        // The tracer has seen the exit; now the real parent is told, and reaps it
        // unless it wants no zombie (Linux `wait_task_zombie`'s `EXIT_TRACE`).
        let status = zombie_status(&child);
        crate::ptrace::__ptrace_unlink(&child, &tasklist);
        let sig = child.inner.lock().exit_signal;
        let reap = do_notify_parent(&child, sig, &tasklist) && claim(&child);
        drop(tasklist);
        if reap {
            release_task(&child);
        }
        return Some(Ok(Reaped::exited(child.pid, status)));
    }
    if options & WNOWAIT == 0 {
        // Ours to reap: nobody else can take it now (see claim_zombie).
        child.set_state(TaskState::Dead);
    }
    drop(tasklist);
    let status = zombie_status(&child);
    if options & WNOWAIT == 0 {
        // Linux `wait_task_zombie`: the child's time, and its children's, become ours.
        let (u, s) = child.signal.thread_group_cputime();
        let (cu, cs) = {
            let c = child.signal.inner.lock();
            (c.cutime, c.cstime)
        };
        {
            let me = current();
            let mut me = me.signal.inner.lock();
            me.cutime += u + cu;
            me.cstime += s + cs;
        }
        release_task(&child);
    }
    Some(Ok(Reaped::exited(child.pid, status)))
}

/// Wait for a child to exit (Linux `do_wait`). `Ok(None)`: WNOHANG and nothing yet.
fn do_wait(who: Who, options: i32) -> Result<Option<Reaped>, Errno> {
    let me = &current();
    let mut outcome = None;
    let waited = me.signal.wait_chldexit.wait_event(
        || {
            outcome = scan_children(who, options);
            outcome.is_some() || options & WNOHANG != 0
        },
        None,
    );
    match outcome {
        Some(r) => r.map(Some),
        None if options & WNOHANG != 0 => Ok(None),
        None => {
            debug_assert!(waited.is_err());
            Err(crate::signal::ERESTARTSYS)
        }
    }
}

/// Linux's `struct rusage` (144 bytes on arm64), as bytes.
pub type Rusage = [u8; 144];

/// The resource usage of every child: forkos keeps none, so all zero.
const RUSAGE_NONE: Rusage = [0; 144];

/// `wait4(pid, status, options, rusage)` (Linux `kernel_wait4`).
pub fn sys_wait4(
    upid: i64,
    stat_addr: UserPtr<i32>,
    options: u64,
    ru: UserPtr<Rusage>,
) -> SysResult {
    let options = options as i32; // an int in Linux
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
        return Err(EINVAL);
    }
    let upid = upid as i32;
    if upid == i32::MIN {
        return Err(ESRCH);
    }
    let who = match upid {
        -1 => Who::Any,
        0 => Who::Pgrp(current().signal.inner.lock().pgrp),
        p if p < 0 => Who::Pgrp(-p),
        p => Who::Pid(p),
    };
    let Some(r) = do_wait(who, options | WEXITED)? else {
        return Ok(0);
    };
    if !stat_addr.is_null() {
        stat_addr.write(&r.status)?;
    }
    if !ru.is_null() {
        ru.write(&RUSAGE_NONE)?;
    }
    Ok(r.pid as i64)
}

/// `waitid(idtype, id, infop, options, rusage)` (Linux `kernel_waitid`).
pub fn sys_waitid(
    idtype: u64,
    id: u64,
    infop: UserPtr<i32>,
    options: u64,
    ru: UserPtr<Rusage>,
) -> SysResult {
    let result = kernel_waitid(idtype, id, options);
    if let (Ok(Some(_)), false) = (&result, ru.is_null()) {
        ru.write(&RUSAGE_NONE)?;
    }
    // Linux fills in the siginfo even when the wait failed (with zeroes): a bad infop
    // is EFAULT whatever else went wrong.
    if !infop.is_null() {
        let (signo, code, pid, status) = match &result {
            Ok(Some(r)) => (SIGCHLD, r.code, r.pid, r.si_status),
            _ => (0, 0, 0, 0),
        };
        let base = infop;
        base.write(&signo)?; // si_signo
        base.add(1).write(&0)?; // si_errno
        base.add(2).write(&code)?; // si_code
        base.add(4).write(&pid)?; // si_pid
        base.add(5).write(&0)?; // si_uid
        base.add(6).write(&status)?; // si_status
    }
    result.map(|_| 0)
}

/// The wait itself (Linux `kernel_waitid`): `Ok(None)` when WNOHANG found nothing.
fn kernel_waitid(idtype: u64, id: u64, options: u64) -> Result<Option<Reaped>, Errno> {
    let options = options as i32; // an int in Linux
    let allowed = WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | WNOTHREAD | WCLONE | WALL;
    if options & !allowed != 0 || options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(EINVAL);
    }
    let id = id as i32;
    let who = match idtype as i32 {
        P_ALL => Who::Any,
        P_PID if id > 0 => Who::Pid(id),
        // id 0: the caller's own group (Linux 5.4 and later).
        P_PGID if id == 0 => Who::Pgrp(current().signal.inner.lock().pgrp),
        P_PGID if id > 0 => Who::Pgrp(id),
        // forkos has no pidfds, so no fd is one (Linux `pidfd_get_pid`: EBADF).
        P_PIDFD if id >= 0 => return Err(EBADF),
        _ => return Err(EINVAL),
    };
    do_wait(who, options)
}
