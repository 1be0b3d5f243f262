//! Sleeping and waking (Linux `kernel/sched/wait.c`, `completion.c`, and
//! `schedule_timeout` from `kernel/time/timer.c`).
//!
//! The sleeping side always follows the same pattern, which cannot lose a wake-up:
//! put yourself on the queue and set your state, *then* check the condition, and only
//! then call `schedule()`. A waker that comes in between finds you on the queue and sets
//! you running again, so `schedule()` returns at once.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::sched::{schedule, try_to_wake_up, wake_up_process};
use crate::sync::{lock_class, IrqSpinLock};
use crate::task::{current, current_arc, Task, TaskState};
use crate::time::get_jiffies;

/// Tasks waiting for something (Linux `wait_queue_head_t`).
pub struct WaitQueue {
    waiters: IrqSpinLock<VecDeque<Arc<Task>>>,
}

/// Why a wait ended early.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitError {
    /// A fatal signal arrived (`-EINTR` / `-ERESTARTSYS` in Linux).
    Interrupted,
    /// The timeout expired.
    TimedOut,
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            waiters: IrqSpinLock::new(VecDeque::new()),
        }
    }

    /// Queue the current task and set its state (Linux `prepare_to_wait`).
    fn prepare_to_wait(&self, state: TaskState) {
        let me: &Task = &current();
        let mut w = self.waiters.lock();
        if !w.iter().any(|t| core::ptr::eq(&**t, me)) {
            w.push_back(current_arc());
        }
        me.set_state(state);
    }

    /// Leave the queue, running (Linux `finish_wait`).
    fn finish_wait(&self) {
        let me: &Task = &current();
        me.set_state(TaskState::Running);
        self.waiters.lock().retain(|t| !core::ptr::eq(&**t, me));
    }

    /// Sleep until `cond()` is true, a signal arrives, or `timeout` ticks pass (Linux
    /// `wait_event_interruptible_timeout`).
    pub fn wait_event<F: FnMut() -> bool>(
        &self,
        cond: F,
        timeout: Option<u64>,
    ) -> Result<(), WaitError> {
        self.wait_event_common(cond, timeout, false)
    }

    /// Sleep until `cond()` is true or a fatal signal arrives (Linux
    /// `wait_event_killable`): a signal with a handler does not end this wait.
    pub fn wait_event_killable<F: FnMut() -> bool>(&self, cond: F) -> Result<(), WaitError> {
        self.wait_event_common(cond, None, true)
    }

    /// [`Self::wait_event_killable`] that also ends after `timeout` ticks.
    pub fn wait_event_killable_timeout<F: FnMut() -> bool>(
        &self,
        cond: F,
        timeout: u64,
    ) -> Result<(), WaitError> {
        self.wait_event_common(cond, Some(timeout), true)
    }

    fn wait_event_common<F: FnMut() -> bool>(
        &self,
        mut cond: F,
        timeout: Option<u64>,
        killable: bool,
    ) -> Result<(), WaitError> {
        // The current tick is already partly over: wait one more so that the sleep is
        // never shorter than asked.
        let deadline = timeout.map(|t| get_jiffies().saturating_add(t).saturating_add(1));
        let mut armed = false;
        let result = loop {
            self.prepare_to_wait(TaskState::Interruptible);
            if cond() {
                break Ok(());
            }
            let me = &current();
            let interrupted = if killable {
                me.fatal_signal_pending()
            } else {
                me.signal_pending()
            };
            if interrupted {
                break Err(WaitError::Interrupted);
            }
            if let Some(d) = deadline {
                if get_jiffies() >= d {
                    break Err(WaitError::TimedOut);
                }
                // One timer for the whole wait: a wakeup that finds the condition still
                // false must not arm another (the list would grow past the room made
                // for it at boot, and keep what it grew).
                if !armed {
                    add_timer(d, current_arc());
                    armed = true;
                }
            }
            schedule();
        };
        self.finish_wait();
        if deadline.is_some() {
            let me: &Task = &current();
            TIMERS.lock().retain(|(_, t)| !core::ptr::eq(&**t, me));
        }
        result
    }

    /// Wake every waiter (Linux `wake_up_all`); they re-check their conditions. As in
    /// Linux's `__wake_up_common`, the waiters are woken under the queue's lock and
    /// taken off it (`autoremove_wake_function`). Lock order: a wait queue's lock, then
    /// a task's `pi_lock`, then a run queue's (`try_to_wake_up`).
    pub fn wake_up_all(&self) {
        let mut w = self.waiters.lock();
        while let Some(t) = w.pop_front() {
            // Not the last reference: a waiter stays alive until it has left
            // `wait_event` (its pid holds it), so nothing is freed under the lock.
            wake_up_process(&t);
        }
    }
}

/// A wait queue (Linux `wait_queue_head_t`) that exists only while someone waits on
/// it: a queue kept in something that lives for ever (a terminal, the pollers of
/// `fs/select.rs`) would keep the memory its first sleeper made it take.
pub struct LazyWaitQueue(IrqSpinLock<(Option<Arc<WaitQueue>>, usize)>);

impl Default for LazyWaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl LazyWaitQueue {
    pub const fn new() -> Self {
        LazyWaitQueue(IrqSpinLock::new((None, 0)))
    }

    /// Sleep until `cond()` holds, a signal comes or `timeout` ticks pass (Linux
    /// `wait_event_interruptible_timeout` on the queue).
    pub fn wait_event(
        &self,
        cond: impl FnMut() -> bool,
        timeout: Option<u64>,
    ) -> Result<(), WaitError> {
        let q = {
            let mut g = self.0.lock();
            g.1 += 1;
            g.0.get_or_insert_with(|| Arc::new(WaitQueue::new()))
                .clone()
        };
        let r = q.wait_event(cond, timeout);
        // The last sleeper out frees the queue.
        let last = {
            let mut g = self.0.lock();
            g.1 -= 1;
            if g.1 == 0 {
                g.0.take()
            } else {
                None
            }
        };
        drop(q);
        drop(last);
        r
    }

    /// Wake every sleeper to look again (Linux `wake_up_interruptible`).
    pub fn wake_up_all(&self) {
        let q = self.0.lock().0.clone();
        if let Some(q) = q {
            q.wake_up_all();
        }
    }
}

/// A one-shot event to wait for (Linux `struct completion`), e.g. a vfork child letting
/// go of its parent's memory.
pub struct Completion {
    done: IrqSpinLock<bool>,
    wq: WaitQueue,
}

impl Default for Completion {
    fn default() -> Self {
        Self::new()
    }
}

impl Completion {
    pub const fn new() -> Self {
        Completion {
            done: IrqSpinLock::new(false),
            wq: WaitQueue::new(),
        }
    }

    /// Signal the event (Linux `complete`).
    pub fn complete(&self) {
        *self.done.lock() = true;
        self.wq.wake_up_all();
    }

    /// Wait for the event; only a fatal signal ends the wait early (Linux
    /// `wait_for_completion_killable`).
    pub fn wait(&self) -> Result<(), WaitError> {
        self.wq.wait_event_killable(|| *self.done.lock())
    }
}

/// Tasks sleeping until a tick (Linux's timer wheel, as a short list).
static TIMERS: IrqSpinLock<Vec<(u64, Arc<Task>)>, { lock_class::TIMERS }> =
    IrqSpinLock::new(Vec::new());

/// Make room for `n` sleeping tasks at boot, so that the list never grows later.
pub fn reserve_timers(n: usize) {
    TIMERS.lock().reserve_exact(n);
}

/// Wake `task` at tick `when`.
fn add_timer(when: u64, task: Arc<Task>) {
    TIMERS.lock().push((when, task));
}

/// From the tick: wake every task whose time has come.
pub fn run_timers(now: u64) {
    let mut due = Vec::new();
    {
        let mut timers = TIMERS.lock();
        let mut i = 0;
        while i < timers.len() {
            if timers[i].0 <= now {
                due.push(timers.swap_remove(i).1);
            } else {
                i += 1;
            }
        }
    }
    for t in due {
        try_to_wake_up(&t, &[TaskState::Interruptible]);
    }
}

/// Sleep for `ticks` ticks unless a signal comes first (Linux
/// `schedule_timeout_interruptible`). Returns the ticks left (0 if the full time passed).
pub fn sleep_ticks(ticks: u64) -> u64 {
    let deadline = get_jiffies().saturating_add(ticks).saturating_add(1);
    let wq = WaitQueue::new();
    let _ = wq.wait_event(|| get_jiffies() >= deadline, Some(ticks));
    deadline.saturating_sub(get_jiffies())
}
