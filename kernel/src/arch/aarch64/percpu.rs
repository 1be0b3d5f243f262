//! Per-CPU data, found through `tpidr_el1` (Linux keeps its per-CPU offset there), and
//! `current`, found through `sp_el0` while in the kernel (Linux arm64's `get_current`),
//! and which CPUs are online (Linux `include/linux/cpumask.h`).

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, Writeable, SP_EL0, TPIDR_EL1};

use crate::task::Task;

/// Data private to one CPU.
#[repr(C)]
pub struct PerCpu {
    /// The task `kernel_entry` makes current on an exception from EL0 (Linux
    /// `__entry_task`): user space owns `sp_el0` while it runs.
    pub entry_task: AtomicPtr<Task>,
    pub cpu: usize,
    /// Timer interrupts this CPU took (Linux's per-CPU `kstat` interrupt counts).
    pub timer_ticks: AtomicU64,
    /// Reschedule IPIs this CPU took (Linux's per-CPU `ipi_irqs[IPI_RESCHEDULE]`).
    pub ipi_resched: AtomicU64,
    /// The interrupt being handled came from user space (Linux asks
    /// `user_mode(get_irq_regs())`), for CPU time accounting.
    pub irq_from_user: core::sync::atomic::AtomicBool,
}

/// Offset of `entry_task`, for `kernel_entry`.
pub const PERCPU_ENTRY_TASK: usize = core::mem::offset_of!(PerCpu, entry_task);

/// How many CPUs forkos can bring up (Linux `CONFIG_NR_CPUS`): QEMU virt's GICv2 serves
/// at most 8.
pub const NR_CPUS: usize = 8;

/// Every CPU's data, indexed by logical CPU number (Linux's per-CPU areas).
pub static PER_CPU: [PerCpu; NR_CPUS] = {
    let mut a = [const {
        PerCpu {
            entry_task: AtomicPtr::new(core::ptr::null_mut()),
            cpu: 0,
            timer_ticks: AtomicU64::new(0),
            ipi_resched: AtomicU64::new(0),
            irq_from_user: core::sync::atomic::AtomicBool::new(false),
        }
    }; NR_CPUS];
    let mut i = 0;
    while i < NR_CPUS {
        a[i].cpu = i;
        i += 1;
    }
    a
};

/// Bytes between two CPUs' data, for `__secondary_switched`.
pub const PERCPU_SIZE: usize = core::mem::size_of::<PerCpu>();

/// The CPUs that are up and running (Linux `cpu_online_mask`), one bit per CPU.
static CPU_ONLINE_MASK: AtomicU64 = AtomicU64::new(0);

/// Mark `cpu` online (Linux `set_cpu_online`); Release, so that whoever sees the bit
/// sees everything the CPU did to get there.
pub fn set_cpu_online(cpu: usize) {
    CPU_ONLINE_MASK.fetch_or(1 << cpu, Ordering::Release);
}

/// Is `cpu` online (Linux `cpu_online`)?
pub fn cpu_online(cpu: usize) -> bool {
    CPU_ONLINE_MASK.load(Ordering::Acquire) & (1 << cpu) != 0
}

/// The online CPUs, one bit each (Linux `cpu_online_mask`; forkos's CPUs are active
/// as soon as they are online, so it is `cpu_active_mask` too).
pub fn cpu_online_mask() -> u64 {
    CPU_ONLINE_MASK.load(Ordering::Acquire)
}

/// How many CPUs are online (Linux `num_online_cpus`).
pub fn num_online_cpus() -> usize {
    CPU_ONLINE_MASK.load(Ordering::Acquire).count_ones() as usize
}

/// This CPU's logical number (Linux `smp_processor_id`).
#[inline]
pub fn smp_processor_id() -> usize {
    this_cpu().cpu
}

/// CPU `cpu`'s data (Linux `per_cpu(var, cpu)`).
pub fn per_cpu(cpu: usize) -> &'static PerCpu {
    &PER_CPU[cpu]
}

/// Point `tpidr_el1` at this CPU's data (Linux `set_my_cpu_offset`).
pub fn init_this_cpu(cpu: usize) {
    TPIDR_EL1.set(&PER_CPU[cpu] as *const PerCpu as u64);
}

/// This CPU's data.
pub fn this_cpu() -> &'static PerCpu {
    // SAFETY: tpidr_el1 was set by init_this_cpu to an element of the static table.
    unsafe { &*(TPIDR_EL1.get() as *const PerCpu) }
}

/// Record the task that will run next on this CPU.
#[inline]
pub fn set_entry_task(task: &Task) {
    this_cpu()
        .entry_task
        .store(task as *const Task as *mut Task, Ordering::Relaxed);
}

/// The running task's address, from `sp_el0` (0 before the scheduler starts).
#[inline(always)]
pub fn current_ptr() -> *const Task {
    SP_EL0.get() as *const Task
}

/// Make `task` current on this CPU (boot only: later, `cpu_switch_to` does it).
pub fn set_current(task: &Task) {
    SP_EL0.set(task as *const Task as u64);
    set_entry_task(task);
}
