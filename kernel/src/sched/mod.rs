//! The scheduler (Linux `kernel/sched/core.c`): one run queue per CPU, round-robin with a
//! time slice of one tick, preemption on return to EL0 and of preemptible kernel code.
//!
//! - [`schedule`] picks the next task and calls [`context_switch`], which switches the
//!   user address space (TTBR0 with an ASID) and then registers and stack.
//! - A task that goes to sleep sets its state first, then calls `schedule`; a waker calls
//!   [`wake_up_process`] (Linux `try_to_wake_up`), which puts it back on the run queue.
//! - A new task first runs `ret_from_fork`, whose first call is [`schedule_tail`].
//!
//! Every CPU has its run queue and idle task, but only the boot CPU runs tasks for now:
//! wake-ups put tasks on CPU 0's queue ([`select_task_rq`]), so the other CPUs' queues
//! stay empty and they idle; `current` comes from `sp_el0`. The pieces cross-CPU
//! scheduling needs are in place: [`task_cpu`], `on_cpu` (cleared by
//! [`finish_task_switch`] on the CPU a task left), [`resched_curr`] sending a reschedule
//! IPI to another CPU, and `cpus_mask` with the affinity syscalls.
//!
//! Lock order: `TASKLIST_LOCK` -> a run queue's lock -> nothing (no other lock is taken
//! while a run queue is locked, but a task's `Arc` is dropped, which may free a stack).
//! A run queue's lock is held across `context_switch` and released by the next task
//! (`finish_task_switch`, or `schedule_tail` for a new one), on the same CPU.

pub mod wait;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::arch::irqflags::{local_irq_enable, local_irq_restore, local_irq_save, wfi};
use crate::arch::percpu::NR_CPUS;
use crate::arch::process::switch_to;
use crate::mm::switch_mm;
use crate::mm::uaccess::UserPtr;
use crate::sync::IrqSpinLock;
use crate::task::{current, Task, TaskState, TIF_NEED_RESCHED};
use crate::time::get_jiffies;

/// A CPU's run queue (Linux `struct rq`).
pub struct Rq {
    /// Runnable tasks, in the order they will run.
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
}

/// Make room in every online CPU's run queue for `n` tasks at boot, so that a queue
/// never grows later: the memory a workload uses all comes back (see the leak check).
pub fn reserve_runqueues(n: usize) {
    for (cpu, rq) in RUNQUEUES.iter().enumerate() {
        if crate::arch::percpu::cpu_online(cpu) {
            rq.lock().queue.reserve_exact(n);
        }
    }
}

static RUNQUEUES: [IrqSpinLock<Rq>; NR_CPUS] = [const {
    IrqSpinLock::new(Rq {
        queue: VecDeque::new(),
        curr: None,
        prev: None,
        idle: None,
        cpu: 0, // set by init_idle
    })
}; NR_CPUS];

fn this_rq() -> &'static IrqSpinLock<Rq> {
    if NR_CPUS == 1 {
        return &RUNQUEUES[0];
    }
    let cpu = crate::arch::percpu::smp_processor_id();
    debug_assert!(cpu < NR_CPUS);
    // SAFETY: init_this_cpu gave every CPU an index below NR_CPUS.
    unsafe { RUNQUEUES.get_unchecked(cpu) }
}

/// CPU `cpu`'s run queue (Linux `cpu_rq`).
fn cpu_rq(cpu: usize) -> &'static IrqSpinLock<Rq> {
    &RUNQUEUES[cpu]
}

/// The CPU a waking task goes to (Linux `select_task_rq`): the boot CPU, always, until
/// the scheduler balances work across CPUs; the others only ever run their idle task.
fn select_task_rq(_t: &Task) -> usize {
    0
}

/// Make the boot context this CPU's idle task (Linux `sched_init`).
pub fn sched_init(idle: Arc<Task>) {
    crate::arch::percpu::set_current(&idle);
    init_idle(idle, crate::arch::percpu::smp_processor_id());
}

/// Make `idle` CPU `cpu`'s idle task and its running task (Linux `init_idle`).
pub fn init_idle(idle: Arc<Task>, cpu: usize) {
    idle.set_state(TaskState::Running);
    idle.on_rq.store(true, Ordering::Relaxed);
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

/// Record that `t` now belongs to CPU `cpu`'s run queue (Linux `set_task_cpu`); the
/// caller holds that run queue's lock.
fn set_task_cpu(t: &Task, cpu: usize) {
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

/// The IPI half of [`resched_curr`], kept out of line: the wake-ups on the fork path
/// and `sched_yield`'s switch do not pay for its code while every task is on CPU 0.
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
    t.on_rq.store(true, Ordering::Relaxed);
    set_task_cpu(&t, rq.cpu);
    rq.queue.push_back(t);
    if rq.curr.as_deref().is_some_and(is_idle) {
        resched_curr(rq);
    }
}

/// Wake `t` if it sleeps in a state in `states` (Linux `try_to_wake_up`). Returns true if
/// it was woken.
pub fn try_to_wake_up(t: &Arc<Task>, states: &[TaskState]) -> bool {
    let mut rq = cpu_rq(select_task_rq(t)).lock();
    if !states.contains(&t.state()) {
        return false;
    }
    t.set_state(TaskState::Running);
    if !t.on_rq.load(Ordering::Relaxed) {
        enqueue(&mut rq, t.clone());
    }
    true
}

/// Wake a sleeping task (Linux `wake_up_process`).
pub fn wake_up_process(t: &Arc<Task>) -> bool {
    try_to_wake_up(t, &[TaskState::Interruptible, TaskState::Uninterruptible])
}

/// Make a new task runnable for the first time (Linux `wake_up_new_task`).
pub fn wake_up_new_task(t: Arc<Task>) {
    t.set_state(TaskState::Running);
    let mut rq = cpu_rq(select_task_rq(&t)).lock();
    enqueue(&mut rq, t);
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
        // Nothing else to run: prev goes on, or, if it sleeps, the idle task runs.
        None if prev_running => return,
        None => rq.idle.clone().expect("no idle task"),
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
            prev.on_rq.store(false, Ordering::Relaxed);
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
    // We are prev again, switched back in by someone; finish their switch.
    finish_task_switch(rq_lock, last);
    local_irq_restore(flags);
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
/// Lock order: a run-queue lock is taken inside `TASKLIST_LOCK` and a task's own locks
/// never around one; the lock handed over here is the one `__schedule` took on this
/// CPU, so prev and next are on the same run queue whichever CPU prev runs on next.
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
    drop(rq);
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
/// mask with no CPU left is `EINVAL`.
///
/// The mask is kept and reported, and inherited across fork; while `select_task_rq`
/// keeps every task on the boot CPU it does not yet move anything.
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
    t.cpus_mask.store(new, Ordering::Relaxed);
    Ok(0)
}
