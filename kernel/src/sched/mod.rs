//! The scheduler (Linux `kernel/sched/core.c`): one run queue per CPU, round-robin with a
//! time slice of one tick, preemption on return to EL0 and of preemptible kernel code.
//!
//! - [`schedule`] picks the next task and calls [`context_switch`], which switches the
//!   user address space (TTBR0 with an ASID) and then registers and stack.
//! - A task that goes to sleep sets its state first, then calls `schedule`; a waker calls
//!   [`wake_up_process`] (Linux `try_to_wake_up`), which puts it back on the run queue.
//! - A new task first runs `ret_from_fork`, whose first call is [`schedule_tail`].
//!
//! Every CPU has its run queue and idle task; `current` comes from `sp_el0`.
//! - Placement: [`wake_up_new_task`] puts a new task on an idle CPU if there is one
//!   (Linux's fork balancing); a wake-up ([`try_to_wake_up`]) goes to the task's previous
//!   CPU if it idles, else to an idle CPU, else back to the previous one
//!   ([`select_task_rq`]). Queuing a task on another CPU that idles sends that CPU a
//!   reschedule IPI (`resched_curr`), which ends its `wfi`.
//! - Balance: a CPU about to idle pulls a waiting task from the busiest queue
//!   (`newidle_balance`), and an idle CPU's tick looks again (`trigger_load_balance`).
//! - Affinity: `cpus_mask` is honoured everywhere a CPU is chosen; `sched_setaffinity`
//!   moves a queued task at once and a running one through its next `__schedule`.
//! - A task never runs on two CPUs: `on_cpu` is set by the CPU switching to it and
//!   cleared by `finish_task_switch` once that CPU is off its stack; a waker waits for it
//!   to clear before queuing the task elsewhere, and under a run queue's lock no queued
//!   task is on a CPU.
//!
//! Lock order: `TASKLIST_LOCK` -> a wait queue's lock or a thread group's signal lock
//! (`set_special_state`) -> a task's `pi_lock` -> a run queue's lock. Two run queues are never both waited for: `newidle_balance` only tries
//! the second lock, and `move_queued_task` drops one before taking the other (the task
//! is marked `TASK_ON_RQ_MIGRATING` meanwhile, which `task_rq_lock` waits out). A run queue's lock
//! is held across `context_switch` and released by the next task on the same CPU
//! (`finish_task_switch`, or `schedule_tail` for a new one), whichever CPU the task
//! switched away from runs on later. No other lock is taken while a run queue is
//! locked (but the second run queue `newidle_balance` tries), though a task's `Arc` is
//! dropped, which may free a stack.

pub mod wait;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{fence, AtomicUsize, Ordering};

use crate::arch::irqflags::{local_irq_enable, local_irq_restore, local_irq_save, wfi};
use crate::arch::percpu::NR_CPUS;
use crate::arch::process::switch_to;
use crate::mm::switch_mm;
use crate::mm::uaccess::UserPtr;
use crate::sync::{IrqSpinLock, IrqSpinLockGuard};
use crate::task::{current, Task, TaskState, TIF_NEED_RESCHED};
use crate::time::get_jiffies;

/// `p->on_rq` values (Linux `TASK_ON_RQ_QUEUED`, `TASK_ON_RQ_MIGRATING`): on a run
/// queue (or running), or between two run queues in [`move_queued_task`].
pub const TASK_ON_RQ_QUEUED: u8 = 1;
pub const TASK_ON_RQ_MIGRATING: u8 = 2;

/// A CPU's run queue (Linux `struct rq`).
pub struct Rq {
    /// Runnable tasks, in the order they will run. Under this lock, none of them is on
    /// a CPU: a task switched away from is queued under the lock that stays held until
    /// [`finish_task_switch`] has cleared its `on_cpu`.
    queue: VecDeque<Arc<Task>>,
    /// The running task; holding it keeps its stack alive while it runs.
    curr: Option<Arc<Task>>,
    /// The task this CPU just switched away from: dropped by `finish_task_switch`,
    /// once we are off its stack (a dead task's stack is freed then).
    prev: Option<Arc<Task>>,
    /// This CPU's idle task (pid 0), run when nothing else is runnable.
    idle: Option<Arc<Task>>,
    /// The CPU this queue belongs to (Linux `rq->cpu`).
    cpu: usize,
    /// `sched_setaffinity` took this CPU from the running task: the next `__schedule`
    /// switches away from it even if nothing else is queued, and the `finish_task_switch`
    /// after it moves it to an allowed CPU, as Linux's `migration_cpu_stop` would.
    migration_pending: bool,
}

/// Wait, for a while at most, until no CPU still holds a task it switched away from
/// (`rq.prev`, dropped by its `finish_task_switch`): a task that ran last on another CPU
/// is freed there, maybe just after init was reaped here. The leak check counts pages
/// only after that.
pub fn wait_for_finished_switches() {
    for _ in 0..1_000_000 {
        let pending = RUNQUEUES.iter().any(|rq| rq.0.lock().prev.is_some());
        if !pending {
            return;
        }
        crate::arch::irqflags::cpu_relax();
    }
}

/// Make room in every online CPU's run queue for `n` tasks at boot, so that a queue
/// never grows later: the memory a workload uses all comes back (see the leak check).
pub fn reserve_runqueues(n: usize) {
    for (cpu, rq) in RUNQUEUES.iter().enumerate() {
        if crate::arch::percpu::cpu_online(cpu) {
            rq.0.lock().queue.reserve_exact(n);
        }
    }
}

static RUNQUEUES: [RqSlot; NR_CPUS] = [const {
    RqSlot(IrqSpinLock::new(Rq {
        queue: VecDeque::new(),
        curr: None,
        prev: None,
        idle: None,
        cpu: 0, // set by init_idle
        migration_pending: false,
    }))
}; NR_CPUS];

/// One CPU's run queue on cache lines of its own (Linux's `runqueues` are
/// `DEFINE_PER_CPU_SHARED_ALIGNED`): CPUs do not share the lines they lock at every
/// switch, and a run queue's address is the array's plus the CPU number shifted.
#[repr(align(128))]
struct RqSlot(IrqSpinLock<Rq>);

/// Each CPU's runnable tasks, the running one included, the idle task not (Linux
/// `rq->nr_running`): changed under that run queue's lock, read without it by
/// [`select_task_rq`] and the balancer, which only need a recent value.
static NR_RUNNING: [AtomicUsize; NR_CPUS] = [const { AtomicUsize::new(0) }; NR_CPUS];

/// Add `n` (which may be negative) to `cpu`'s `nr_running` (Linux `add_nr_running`,
/// `sub_nr_running`); the caller holds that run queue's lock.
fn add_nr_running(cpu: usize, n: isize) {
    let r = &NR_RUNNING[cpu];
    r.store(
        r.load(Ordering::Relaxed).wrapping_add_signed(n),
        Ordering::Relaxed,
    );
}

/// Is `cpu` running its idle task with nothing queued (Linux `idle_cpu`)?
fn idle_cpu(cpu: usize) -> bool {
    NR_RUNNING[cpu].load(Ordering::Relaxed) == 0
}

fn this_rq() -> &'static IrqSpinLock<Rq> {
    if NR_CPUS == 1 {
        return &RUNQUEUES[0].0;
    }
    let cpu = crate::arch::percpu::smp_processor_id();
    debug_assert!(cpu < NR_CPUS);
    // SAFETY: init_this_cpu gave every CPU an index below NR_CPUS.
    unsafe { &RUNQUEUES.get_unchecked(cpu).0 }
}

/// CPU `cpu`'s run queue (Linux `cpu_rq`).
fn cpu_rq(cpu: usize) -> &'static IrqSpinLock<Rq> {
    &RUNQUEUES[cpu].0
}

/// Lock the run queue `p` is on (Linux `task_rq_lock`, without the `pi_lock`, which
/// callers take first): `p` may move while we wait for the lock, or be between two
/// queues (`TASK_ON_RQ_MIGRATING`), so check after locking and retry.
fn task_rq_lock(p: &Task) -> IrqSpinLockGuard<'static, Rq> {
    loop {
        let cpu = task_cpu(p);
        let rq = cpu_rq(cpu).lock();
        if task_cpu(p) == cpu && p.on_rq.load(Ordering::Acquire) != TASK_ON_RQ_MIGRATING {
            return rq;
        }
        drop(rq);
        crate::arch::irqflags::cpu_relax();
    }
}

/// May `p` run on `cpu` (Linux `is_cpu_allowed`)?
fn is_cpu_allowed(p: &Task, cpu: usize) -> bool {
    p.cpus_mask.load(Ordering::Relaxed) & (1 << cpu) != 0
}

/// What kind of placement [`select_task_rq`] makes (Linux `WF_TTWU`, `WF_FORK`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum WakeFlags {
    /// A sleeping task wakes up.
    Ttwu,
    /// A new task's first run (fork balancing).
    Fork,
    /// A task must leave a CPU it may no longer run on.
    Migrate,
}

/// The CPU `p` should run on (Linux `select_task_rq` -> `select_task_rq_fair`), always
/// one `p` may run on. A new task goes to the least busy CPU, an idle one first,
/// searching from this CPU on (Linux's fork balancing, `find_idlest_cpu`); a waking
/// task to its previous CPU if that is idle, else to an idle CPU, else back to its
/// previous one (Linux `select_idle_sibling`).
fn select_task_rq(p: &Task, wake_flags: WakeFlags) -> usize {
    let online = crate::arch::percpu::cpu_online_mask();
    let this = crate::arch::percpu::smp_processor_id();
    if online == 1 << this {
        return this;
    }
    let mut allowed = p.cpus_mask.load(Ordering::Relaxed) & online;
    if allowed == 0 {
        // Linux select_fallback_rq: any online CPU.
        allowed = online;
    }
    let n = nr_cpu_ids();
    match wake_flags {
        WakeFlags::Fork | WakeFlags::Migrate => find_idlest_cpu(allowed, this, n),
        WakeFlags::Ttwu => {
            let prev = task_cpu(p);
            if allowed & (1 << prev) != 0 && idle_cpu(prev) {
                return prev;
            }
            for i in 1..n {
                let cpu = (prev + i) % n;
                if allowed & (1 << cpu) != 0 && idle_cpu(cpu) {
                    return cpu;
                }
            }
            if allowed & (1 << prev) != 0 {
                prev
            } else {
                find_idlest_cpu(allowed, this, n)
            }
        }
    }
}

/// The allowed CPU with the fewest runnable tasks, the first found from `this` on
/// winning a tie (Linux `find_idlest_cpu`, with one CPU per group).
fn find_idlest_cpu(allowed: u64, this: usize, n: usize) -> usize {
    let mut best = this;
    let mut best_load = usize::MAX;
    for i in 0..n {
        let cpu = (this + i) % n;
        if allowed & (1 << cpu) == 0 {
            continue;
        }
        let load = NR_RUNNING[cpu].load(Ordering::Relaxed);
        if load < best_load {
            (best, best_load) = (cpu, load);
            if load == 0 {
                break;
            }
        }
    }
    best
}

/// Make the boot context this CPU's idle task (Linux `sched_init`).
pub fn sched_init(idle: Arc<Task>) {
    crate::arch::percpu::set_current(&idle);
    init_idle(idle, crate::arch::percpu::smp_processor_id());
}

/// Make `idle` CPU `cpu`'s idle task and its running task (Linux `init_idle`).
pub fn init_idle(idle: Arc<Task>, cpu: usize) {
    idle.set_state(TaskState::Running);
    idle.on_rq.store(TASK_ON_RQ_QUEUED, Ordering::Relaxed);
    idle.on_cpu.store(true, Ordering::Relaxed);
    idle.cpu.store(cpu as u32, Ordering::Relaxed);
    let mut rq = cpu_rq(cpu).lock();
    rq.cpu = cpu;
    rq.curr = Some(idle.clone());
    rq.idle = Some(idle);
}

/// Is `t` this CPU's idle task?
/// Every CPU's idle task is pid 0, as in Linux.
fn is_idle(t: &Task) -> bool {
    t.pid == 0
}

/// The current task's preempt count: non-zero where it must not be preempted. Nothing
/// in forkos raises it yet (its locks mask interrupts instead), so kernel code is
/// preemptible wherever interrupts are on.
pub fn preempt_count() -> u32 {
    current().thread_info.preempt_count.load(Ordering::Relaxed)
}

/// Should the current task give up the CPU soon?
#[inline(always)]
pub fn need_resched() -> bool {
    current().test_flag(TIF_NEED_RESCHED)
}

/// The CPU of `t`'s run queue, or of its last run (Linux `task_cpu`).
pub fn task_cpu(t: &Task) -> usize {
    t.cpu.load(Ordering::Relaxed) as usize
}

/// Record that `t` now belongs to CPU `cpu`'s run queue (Linux `set_task_cpu`): the
/// caller holds the lock of the run queue `t` is on (or `t`'s `pi_lock`, if it is on
/// none), so that [`task_rq_lock`] sees the move.
fn set_task_cpu(t: &Task, cpu: usize) {
    if task_cpu(t) != cpu {
        crate::rseq::rseq_migrate(t);
    }
    t.cpu.store(cpu as u32, Ordering::Relaxed);
}

/// Ask the task running on `rq`'s CPU to give way (Linux `resched_curr`): set its
/// TIF_NEED_RESCHED, and if that CPU is not this one, send it a reschedule IPI
/// ([`smp_send_reschedule`](crate::arch::smp::smp_send_reschedule)) so that it
/// notices now, not at its next tick (or, idle in `wfi`, never).
fn resched_curr(rq: &Rq) {
    let Some(curr) = &rq.curr else { return };
    if curr.test_flag(TIF_NEED_RESCHED) {
        return;
    }
    curr.set_flag(TIF_NEED_RESCHED);
    if NR_CPUS > 1 && rq.cpu != crate::arch::percpu::smp_processor_id() {
        resched_remote(rq.cpu);
    }
}

/// The IPI half of [`resched_curr`], kept out of line: the local wake-ups on the fork
/// path and `sched_yield`'s switch do not pay for its code.
#[cold]
#[inline(never)]
fn resched_remote(cpu: usize) {
    crate::arch::smp::smp_send_reschedule(cpu);
}

/// The reschedule IPI arrived (Linux `scheduler_ipi`): the sender set the running
/// task's TIF_NEED_RESCHED, which the return from the interrupt acts on; setting it
/// here as well covers a task switched in between the sender's look and the IPI.
pub fn scheduler_ipi() {
    current().set_flag(TIF_NEED_RESCHED);
}

/// Put a runnable task on the run queue and ask for a reschedule if it should preempt
/// (Linux `activate_task` + `check_preempt_curr`): the idle task always gives way.
fn enqueue(rq: &mut Rq, t: Arc<Task>) {
    t.on_rq.store(TASK_ON_RQ_QUEUED, Ordering::Release);
    set_task_cpu(&t, rq.cpu);
    rq.queue.push_back(t);
    add_nr_running(rq.cpu, 1);
    if rq.curr.as_deref().is_some_and(is_idle) {
        resched_curr(rq);
    }
}

/// Move the queued, not running, task `p` (taken off `rq`'s queue by the caller) to
/// CPU `new_cpu`'s run queue (Linux `move_queued_task`): marked migrating while it is
/// on neither queue, so that [`task_rq_lock`] waits for it to land.
#[cold]
#[inline(never)]
fn move_queued_task(rq: IrqSpinLockGuard<'static, Rq>, p: Arc<Task>, new_cpu: usize) {
    debug_assert!(!p.on_cpu.load(Ordering::Relaxed));
    p.on_rq.store(TASK_ON_RQ_MIGRATING, Ordering::Release);
    add_nr_running(rq.cpu, -1);
    set_task_cpu(&p, new_cpu);
    drop(rq);
    let mut new_rq = cpu_rq(new_cpu).lock();
    enqueue(&mut new_rq, p);
}

/// Send every task queued on this CPU that may no longer run here to a CPU it may run
/// on (Linux `migration_cpu_stop` -> `__migrate_task`, which Linux runs in this CPU's
/// stopper thread; here the task that switched in runs it, once the one switched away
/// from is off this CPU).
#[cold]
#[inline(never)]
fn migration_cpu_stop() {
    let this = crate::arch::percpu::smp_processor_id();
    loop {
        let mut rq = this_rq().lock();
        let Some(i) = rq.queue.iter().position(|p| !is_cpu_allowed(p, this)) else {
            return;
        };
        let p = rq.queue.remove(i).expect("index found");
        let dest = select_task_rq(&p, WakeFlags::Migrate);
        move_queued_task(rq, p, dest);
    }
}

/// A sleeping task that is still on its run queue (a waker came before it switched
/// away, or it was preempted on its way to sleep): set it running where it is (Linux
/// `ttwu_runnable`). False if it left the queue meanwhile.
fn ttwu_runnable(p: &Task) -> bool {
    let _rq = task_rq_lock(p);
    if p.on_rq.load(Ordering::Relaxed) == 0 {
        return false;
    }
    p.set_state(TaskState::Running);
    true
}

/// Queue the woken task `p` on CPU `cpu` and make it runnable (Linux `ttwu_queue` ->
/// `ttwu_do_activate`); a remote CPU that idles gets a reschedule IPI.
fn ttwu_queue(p: &Arc<Task>, cpu: usize) {
    let mut rq = cpu_rq(cpu).lock();
    p.set_state(TaskState::Running);
    enqueue(&mut rq, p.clone());
}

/// Wake `p` if it sleeps in a state in `states` (Linux `try_to_wake_up`). Returns true if
/// it was woken.
///
/// Under `p`'s `pi_lock` (so one waker at a time): if `p` is still on a run queue, it
/// only needs its state set back to running ([`ttwu_runnable`]); otherwise wait until
/// the CPU it left has finished switching away from it (`on_cpu` clear, Linux's
/// `smp_cond_load_acquire`), so that it never runs on two CPUs, then choose a CPU and
/// queue it there.
pub fn try_to_wake_up(p: &Arc<Task>, states: &[TaskState]) -> bool {
    let _pi = p.pi_lock.lock();
    // Linux smp_mb__after_spinlock: the waker's condition store is ordered before the
    // state load, against the sleeper's state store and condition load (`set_state`).
    fence(Ordering::SeqCst);
    if !states.contains(&p.state()) {
        return false;
    }
    // The state load above orders this one (Linux's smp_rmb): a task seen sleeping is
    // seen on_rq as of its going to sleep or later.
    if p.on_rq.load(Ordering::Acquire) != 0 && ttwu_runnable(p) {
        return true;
    }
    while p.on_cpu.load(Ordering::Acquire) {
        crate::arch::irqflags::cpu_relax();
    }
    let cpu = select_task_rq(p, WakeFlags::Ttwu);
    ttwu_queue(p, cpu);
    true
}

/// If `p` is running on another CPU, make that CPU enter the kernel, so that `p` sees
/// what was just set for it (a pending signal) now rather than at its next tick (Linux
/// `kick_process`).
pub fn kick_process(p: &Task) {
    let cpu = task_cpu(p);
    if p.on_cpu.load(Ordering::Acquire) && cpu != crate::arch::percpu::smp_processor_id() {
        resched_remote(cpu);
    }
}

/// Wake a sleeping task (Linux `wake_up_process`).
pub fn wake_up_process(t: &Arc<Task>) -> bool {
    try_to_wake_up(t, &[TaskState::Interruptible, TaskState::Uninterruptible])
}

/// Make a new task runnable for the first time (Linux `wake_up_new_task`): fork
/// balancing chooses its CPU ([`select_task_rq`], an idle CPU first), and if that CPU
/// idles it gets a reschedule IPI, so the child may first run on another CPU than its
/// parent.
pub fn wake_up_new_task(t: Arc<Task>) {
    let pi = t.pi_lock.lock();
    t.set_state(TaskState::Running);
    let cpu = select_task_rq(&t, WakeFlags::Fork);
    set_task_cpu(&t, cpu);
    let mut rq = cpu_rq(cpu).lock();
    enqueue(&mut rq, t.clone());
    drop(rq);
    drop(pi);
}

/// Pull one task from the busiest run queue to this idle one, if another CPU has
/// tasks waiting that may run here (Linux `newidle_balance` -> `load_balance`,
/// simplified: the busiest queue is the one with most runnable tasks, and its lock is
/// only tried, never waited for, so that two CPUs pulling from each other cannot
/// deadlock without `double_rq_lock`). Returns the task to run.
#[cold]
#[inline(never)]
fn newidle_balance(rq: &mut Rq) -> Option<Arc<Task>> {
    let this = rq.cpu;
    let busiest = find_busiest_queue(this)?;
    let mut src = cpu_rq(busiest).try_lock()?;
    // detach_tasks: the first waiting task that may run here. Queued tasks are off
    // their CPU under the queue's lock (see `Rq::queue`).
    let i = src.queue.iter().position(|p| is_cpu_allowed(p, this))?;
    let p = src.queue.remove(i).expect("index found");
    debug_assert!(!p.on_cpu.load(Ordering::Relaxed));
    add_nr_running(busiest, -1);
    set_task_cpu(&p, this);
    drop(src);
    // attach_task, without the reschedule: the caller runs it now.
    add_nr_running(this, 1);
    Some(p)
}

/// The other CPU with the most runnable tasks, if it has one waiting (Linux
/// `find_busiest_queue`).
fn find_busiest_queue(this: usize) -> Option<usize> {
    let mut busiest = None;
    let mut max = 1;
    for (cpu, nr) in NR_RUNNING.iter().enumerate().take(nr_cpu_ids()) {
        let n = nr.load(Ordering::Relaxed);
        if cpu != this && n > max {
            (busiest, max) = (Some(cpu), n);
        }
    }
    busiest
}

/// From the tick of an idle CPU: if some CPU has a task waiting, look for it now
/// (Linux `trigger_load_balance`, for the idle CPU's own balance).
fn trigger_load_balance(rq: &Rq) {
    if rq.queue.is_empty() && find_busiest_queue(rq.cpu).is_some() {
        if let Some(curr) = &rq.curr {
            curr.set_flag(TIF_NEED_RESCHED);
        }
    }
}

/// The timer tick's scheduler work (Linux `scheduler_tick`): the running task's slice
/// is one tick, so if anything else is waiting on this CPU's queue, ask it to yield.
/// The sleep timers are one list for all CPUs, run by the CPU that keeps time (Linux
/// runs each CPU's own timer wheel, `run_local_timers`).
pub fn scheduler_tick() {
    let rq = this_rq().lock();
    if let Some(curr) = &rq.curr {
        if !rq.queue.is_empty() {
            curr.set_flag(TIF_NEED_RESCHED);
        } else if NR_CPUS > 1 && is_idle(curr) {
            trigger_load_balance(&rq);
        }
    }
    drop(rq);
    if crate::time::tick_do_timer_cpu() {
        wait::run_timers(get_jiffies());
    }
}

/// Give up the CPU (Linux `schedule`). The caller sets its state before calling if it
/// wants to sleep; a `Running` caller is put back at the end of the queue.
pub fn schedule() {
    __schedule(false);
}

/// Pick the next task and switch to it (Linux `__schedule`). A preempted task stays
/// runnable whatever its state says: it was interrupted on its way to sleep (or to
/// exit), and must get to finish that itself.
fn __schedule(preempt: bool) {
    let flags = local_irq_save();
    let prev = &current();
    // Interrupts are masked: nobody on this CPU sets it between the test and the clear
    // (and another CPU's set after the test would only cost one more pass here).
    if prev.test_flag(TIF_NEED_RESCHED) {
        prev.clear_flag(TIF_NEED_RESCHED);
    }
    let rq_lock = this_rq();
    // SAFETY: interrupts are masked until the end of this function; unlocking on the
    // early return restores them, as the end does.
    let mut rq = unsafe { rq_lock.lock_irqsaved(flags) };
    // prev's own state, or a waker's, written under this lock: no ordering needed.
    let prev_running = preempt || prev.state.load(Ordering::Relaxed) == TaskState::Running as u32;
    let next = match rq.queue.pop_front() {
        Some(next) => next,
        None => match pick_next_when_queue_empty(&mut rq, prev, prev_running) {
            Some(next) => next,
            None => return,
        },
    };
    // No Arc may live in this stack frame across the switch: if prev is dead, this frame
    // is never resumed and the count would leak. The run queue holds next, and prev:
    // back in the queue if it stays runnable (the idle task never queues), else in
    // `rq.prev` until finish_task_switch (a dead task's stack is freed there).
    let next_ptr: *const Task = Arc::as_ptr(&next);
    let prev_arc = rq.curr.replace(next).expect("schedule before sched_init");
    if prev_running && !is_idle(prev) {
        rq.queue.push_back(prev_arc);
    } else {
        if !prev_running {
            prev.on_rq.store(0, Ordering::Relaxed);
            let cpu = rq.cpu;
            add_nr_running(cpu, -1);
        }
        debug_assert!(rq.prev.is_none());
        rq.prev = Some(prev_arc);
    }
    // The run queue stays locked across the switch; whoever runs next unlocks it in
    // finish_task_switch (as in Linux), so nothing sees it half-switched.
    // SAFETY: rq.curr keeps next alive while it runs, and it runs until it switches away.
    let next = unsafe { &*next_ptr };
    // Linux prepare_task: next is on this CPU from now until the finish_task_switch
    // that follows its own switch away clears it.
    next.on_cpu.store(true, Ordering::Relaxed);
    rq.hand_over();
    let last = context_switch(prev, next);
    // We are prev again, switched back in by someone, maybe on another CPU than the one
    // we left: finish their switch, on their run queue (Linux `finish_task_switch`'s
    // `this_rq()`).
    finish_task_switch(this_rq(), last);
    local_irq_restore(flags);
}

/// What runs when this CPU's queue is empty (the rest of Linux's `pick_next_task`): prev
/// goes on if it is runnable and may stay here (None); else a task pulled from a busy CPU
/// (`newidle_balance`), else the idle task (None if prev is the idle task). If
/// sched_setaffinity took this CPU from a running prev (`migration_pending`), prev
/// switches away even so, and the finish_task_switch after the switch sends it on.
#[inline(never)]
fn pick_next_when_queue_empty(rq: &mut Rq, prev: &Task, prev_running: bool) -> Option<Arc<Task>> {
    let prev_idle = is_idle(prev);
    if prev_running && !prev_idle && (!rq.migration_pending || is_cpu_allowed(prev, rq.cpu)) {
        return None;
    }
    match newidle_balance(rq) {
        Some(next) => Some(next),
        None if prev_idle => None,
        None => Some(rq.idle.clone().expect("no idle task")),
    }
}

/// Switch address space, then registers and stack (Linux `context_switch`). Returns the
/// task this CPU switched away from to get back to `prev`, later (Linux's `last`).
fn context_switch(prev: &Task, next: &Task) -> *const Task {
    // Not an Arc clone: nothing counted may stay in this frame across the switch.
    // SAFETY: next is not running, so its mm does not change (see Task::mm_unlocked),
    // and next's own reference keeps it alive while next lives; rq.curr keeps next.
    let mm = unsafe { next.mm_unlocked().as_ref() };
    switch_mm(mm);
    // SAFETY: interrupts are masked; next is runnable and not running (it was on the
    // queue, or is the idle task, which only runs when nothing else does).
    unsafe { switch_to(prev, next) }
}

/// After a switch, on the new task's stack: mark `prev` (the task switched away from)
/// off this CPU, unlock the run queue it locked, and drop the reference to it (freeing
/// it if it was dead and reaped) (Linux `finish_task_switch`: `finish_task`,
/// `finish_lock_switch`). Interrupts are still masked.
///
/// Lock order: `TASKLIST_LOCK` -> a task's `pi_lock` -> a run queue's lock; two run
/// queues are never both waited for (`newidle_balance` only tries the second, and
/// `move_queued_task` lets go of one before taking the other). The lock handed over
/// here is the one `__schedule` took on this CPU: prev and next were on this CPU's
/// queue, whichever CPU either of them runs on later.
fn finish_task_switch(rq: &IrqSpinLock<Rq>, prev: *const Task) {
    // SAFETY: __schedule handed the run queue's lock over across the switch to us, and
    // interrupts stay masked until our caller restores them.
    let mut rq = unsafe { rq.take_handed_over() };
    // SAFETY: prev is held by this run queue (queued, or in rq.prev), whose lock we
    // hold: it is alive here.
    let prev_task = unsafe { &*prev };
    // Linux finish_task's smp_store_release(&prev->on_cpu, 0): whoever sees it clear
    // (a waker or balancer on another CPU) sees everything prev did on this CPU, and may
    // run prev elsewhere.
    prev_task.on_cpu.store(false, Ordering::Release);
    let prev = rq.prev.take();
    if rq.migration_pending {
        rq.migration_pending = false;
        drop(rq);
        migration_cpu_stop();
    } else {
        drop(rq);
    }
    if let Some(prev) = prev {
        put_prev_task_struct(prev);
    }
}

/// Drop the run queue's reference to a task that switched away asleep or dead, freeing
/// a dead and reaped one (Linux `put_task_struct_rcu_user`, which only a dead task
/// reaches). Out of line: a task that stays runnable, as at `sched_yield`, has none.
#[inline(never)]
fn put_prev_task_struct(prev: Arc<Task>) {
    drop(prev);
}

/// The first thing a new task does, from `ret_from_fork` (Linux `schedule_tail`): finish
/// the switch that got it here, enable interrupts, and write its tid for
/// `CLONE_CHILD_SETTID` in its own address space.
#[no_mangle]
extern "C" fn schedule_tail(prev: *const Task) {
    finish_task_switch(this_rq(), prev);
    local_irq_enable();
    let t = &current();
    let set_child_tid = t.inner.lock().set_child_tid;
    if !set_child_tid.is_null() {
        let _ = set_child_tid.write(&t.pid); // Linux ignores a bad pointer here
    }
    crate::trace::ret_from_fork(t);
}

/// Yield the CPU, staying runnable (Linux `sched_yield` / `cond_resched`).
pub fn yield_now() {
    schedule();
}

/// Called on IRQ return to preemptible kernel code (Linux `preempt_schedule_irq`).
pub fn preempt_schedule_irq() {
    while need_resched() {
        __schedule(true);
    }
}

/// What the idle task does forever (Linux `do_idle`). The boot CPU's also watches for
/// init's end (`init::idle_work`).
pub fn cpu_idle() -> ! {
    let boot_cpu = crate::arch::percpu::smp_processor_id() == 0;
    loop {
        while !need_resched() {
            if boot_cpu {
                crate::init::idle_work();
            }
            // Check and sleep with interrupts masked: a wake-up that lands in between
            // still ends the wfi, since wfi wakes on a pending interrupt.
            let flags = local_irq_save();
            if !need_resched() {
                wfi();
            }
            local_irq_restore(flags);
        }
        schedule();
    }
}

/// The bytes of a CPU mask as the affinity syscalls copy it (Linux `cpumask_size()`:
/// `NR_CPUS` bits rounded up to whole longs).
const CPUMASK_SIZE: usize = NR_CPUS.div_ceil(64) * 8;

/// Linux `nr_cpu_ids`: one more than the highest CPU number in use.
fn nr_cpu_ids() -> usize {
    64 - crate::arch::percpu::cpu_online_mask().leading_zeros() as usize
}

/// The task with thread id `pid`, or the caller for 0 (Linux `find_process_by_pid`).
fn find_process_by_pid(pid: i64) -> Result<Arc<Task>, crate::errno::Errno> {
    if pid == 0 {
        return Ok(crate::task::current_arc());
    }
    let pid = i32::try_from(pid).map_err(|_| crate::errno::ESRCH)?;
    crate::pid::PID_TABLE
        .lock()
        .find(pid)
        .filter(|t| !t.kthread)
        .ok_or(crate::errno::ESRCH)
}

/// `sched_getaffinity(pid, len, mask)` (Linux `SYSCALL_DEFINE3(sched_getaffinity)`):
/// the CPUs `pid` may run on, of those that are up. `len` must be a whole number of
/// longs and hold a bit for every CPU; returns the bytes written.
pub fn sys_sched_getaffinity(pid: i64, len: u64, mask: UserPtr<u8>) -> crate::errno::SysResult {
    use crate::errno::EINVAL;
    let len = len as u32 as usize; // Linux's `unsigned int len`
    if len * 8 < nr_cpu_ids() || !len.is_multiple_of(8) {
        return Err(EINVAL);
    }
    let t = find_process_by_pid(pid)?;
    let bits = t.cpus_mask.load(Ordering::Relaxed) & crate::arch::percpu::cpu_online_mask();
    let retlen = len.min(CPUMASK_SIZE);
    crate::mm::uaccess::copy_to_user(mask, &bits.to_le_bytes()[..retlen])?;
    Ok(retlen as i64)
}

/// `sched_setaffinity(pid, len, mask)` (Linux `SYSCALL_DEFINE3(sched_setaffinity)`,
/// `get_user_cpu_mask`, `__sched_setaffinity`): a shorter mask than the kernel's is
/// zero-extended, a longer one cut; bits of CPUs that are not up are dropped, and a
/// mask with no CPU left is `EINVAL`. A task on a CPU the new mask leaves out is moved
/// before the call returns ([`__set_cpus_allowed_ptr`]).
pub fn sys_sched_setaffinity(pid: i64, len: u64, mask: UserPtr<u8>) -> crate::errno::SysResult {
    use crate::errno::EINVAL;
    let len = (len as u32 as usize).min(CPUMASK_SIZE);
    let mut bytes = [0u8; 8];
    crate::mm::uaccess::copy_from_user(&mut bytes[..len], mask)?;
    let t = find_process_by_pid(pid)?;
    let new = u64::from_le_bytes(bytes) & crate::arch::percpu::cpu_online_mask();
    if new == 0 {
        return Err(EINVAL);
    }
    __set_cpus_allowed_ptr(&t, new);
    Ok(0)
}

/// Set `p`'s allowed CPUs and move it off a CPU they leave out (Linux
/// `__set_cpus_allowed_ptr` -> `affine_move_task`): a queued task moves at once
/// ([`move_queued_task`]); a running one is asked to reschedule, its `__schedule` hands
/// it to [`migration_cpu_stop`], and we wait until it is off that CPU (Linux waits on
/// the stopper's completion); a sleeping one wakes up on an allowed CPU.
fn __set_cpus_allowed_ptr(p: &Arc<Task>, new_mask: u64) {
    let pi = p.pi_lock.lock();
    let mut rq = task_rq_lock(p);
    p.cpus_mask.store(new_mask, Ordering::Relaxed);
    let cpu = rq.cpu;
    if is_cpu_allowed(p, cpu) || p.on_rq.load(Ordering::Relaxed) == 0 {
        return;
    }
    if rq.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, p)) {
        rq.migration_pending = true;
        resched_curr(&rq);
        drop(rq);
        drop(pi);
        if core::ptr::eq(&**p, &*current()) {
            schedule();
        } else {
            while p.on_cpu.load(Ordering::Acquire) && task_cpu(p) == cpu {
                crate::arch::irqflags::cpu_relax();
            }
        }
        return;
    }
    let Some(i) = rq.queue.iter().position(|q| Arc::ptr_eq(q, p)) else {
        return;
    };
    let q = rq.queue.remove(i).expect("index found");
    let dest = select_task_rq(&q, WakeFlags::Migrate);
    move_queued_task(rq, q, dest);
}
