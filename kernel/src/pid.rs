//! Process ids (Linux `kernel/pid.c`): the table from a pid to its task, and the
//! allocator that hands pids out in increasing order, wrapping past `pid_max`.

use alloc::collections::{btree_map, BTreeMap};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::sync::{lock_class, IrqSpinLock};
use crate::task::{Pid, Task};

/// Allocates pids, and finds tasks by pid (Linux `kernel/pid.c`).
pub struct PidTable {
    /// The last pid handed out; allocation goes up from here and wraps (Linux
    /// `idr_alloc_cyclic`).
    last: Pid,
    /// Each pid's task from `attach` until `free` at reap time: the table holds the
    /// task, as Linux's task is held from `attach_pid` until `release_task`, so a task
    /// nothing else holds (a stopped thread) lives until it is reaped.
    tasks: BTreeMap<Pid, Option<Arc<Task>>>,
}

/// Pids run from 1 to `PID_MAX - 1` (Linux's default `pid_max` is 32768).
pub const PID_MAX: Pid = 32768;

/// After wrapping, pids restart here: low pids are for early daemons (`RESERVED_PIDS`).
pub const RESERVED_PIDS: Pid = 300;

pub static PID_TABLE: IrqSpinLock<PidTable, { lock_class::PID_TABLE }> =
    IrqSpinLock::new(PidTable {
        last: 0,
        tasks: BTreeMap::new(),
    });

impl PidTable {
    /// A free pid, or `None` when all are in use (Linux `alloc_pid`).
    pub fn alloc(&mut self) -> Option<Pid> {
        let mut candidate = self.last + 1;
        for _ in 0..PID_MAX {
            if candidate >= PID_MAX {
                candidate = RESERVED_PIDS;
            }
            // One search of the tree, which also places the new entry.
            if let btree_map::Entry::Vacant(slot) = self.tasks.entry(candidate) {
                self.last = candidate;
                // Held until attach() or free().
                slot.insert(None);
                return Some(candidate);
            }
            candidate += 1;
        }
        None
    }

    /// Take exactly `nr` if it is free (Linux `idr_alloc` for a `set_tid`): unlike
    /// [`alloc`](Self::alloc) it leaves where the next allocation starts.
    pub fn alloc_nr(&mut self, nr: Pid) -> Option<Pid> {
        let btree_map::Entry::Vacant(slot) = self.tasks.entry(nr) else {
            return None;
        };
        slot.insert(None);
        Some(nr)
    }

    /// Make `pid` find `task` (Linux `attach_pid`).
    /// The pid was allocated, so its entry is there to fill in.
    pub fn attach(&mut self, pid: Pid, task: &Arc<Task>) {
        let entry = self
            .tasks
            .get_mut(&pid)
            .expect("attach of a pid not allocated");
        *entry = Some(task.clone());
    }

    /// Release `pid` at reap time (Linux `free_pid`), handing back the table's
    /// reference to its task for the caller to drop once the table is unlocked.
    #[must_use]
    pub fn free(&mut self, pid: Pid) -> Option<Arc<Task>> {
        self.tasks.remove(&pid).flatten()
    }

    /// The task with this pid, if it has not been reaped (Linux `find_task_by_vpid`).
    pub fn find(&self, pid: Pid) -> Option<Arc<Task>> {
        self.tasks.get(&pid)?.clone()
    }

    /// Allocate the table's first node now, at boot: an empty map keeps it, so the
    /// memory of the pids a workload takes comes back when they are freed (init's pid
    /// never is).
    pub fn reserve(&mut self) {
        self.tasks.insert(0, None);
        self.tasks.remove(&0);
    }

    /// How many pids are in use.
    pub fn count(&self) -> usize {
        self.tasks.len()
    }

    /// Every live task, for the process view.
    pub fn all(&self) -> Vec<Arc<Task>> {
        self.tasks.values().flatten().cloned().collect()
    }
}

/// The processes (group leaders, zombies too) of process group `pgrp`, as Linux's
/// `do_each_pid_task(pgrp, PIDTYPE_PGID)` walks them; kernel threads never count. The
/// caller holds `TASKLIST_LOCK` when the answer must not change under it (groups change
/// only under it). No task's lock is taken while the table's is held.
pub fn pgrp_tasks(pgrp: Pid) -> Vec<Arc<Task>> {
    let all = PID_TABLE.lock().all();
    all.into_iter()
        .filter(|t| t.is_group_leader() && !t.kthread && t.state() != crate::task::TaskState::Dead)
        .filter(|t| t.signal.inner.lock().pgrp == pgrp)
        .collect()
}
