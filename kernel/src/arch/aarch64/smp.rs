//! Starting the secondary CPUs (Linux `arch/arm64/kernel/smp.c`, `smp_init_cpus` and
//! `cpu_psci_cpu_boot`).
//!
//! The boot CPU starts the others one at a time: [`__cpu_up`] puts the new CPU's idle
//! task and stack in [`secondary_data`] and asks PSCI to start the CPU at
//! `secondary_entry` (`boot/head.S`), which drops to EL1, turns the MMU on with the
//! kernel's tables, takes its per-CPU data, task and stack, and calls
//! [`secondary_start_kernel`]. That marks the CPU online, which [`__cpu_up`] waits for.

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use aarch64_cpu::registers::{Readable, MPIDR_EL1};

use super::memory::pa_symbol;
use super::percpu::{self, NR_CPUS};
use super::psci::{psci_cpu_on, PsciError};
use crate::dtb::CpuList;
use crate::task::Task;

/// What a starting CPU needs before it can run Rust (Linux `struct secondary_data`): its
/// idle task, and the top of that task's kernel stack. One CPU starts at a time.
#[repr(C)]
pub struct SecondaryData {
    pub task: AtomicPtr<Task>,
    pub stack: AtomicU64,
}

/// The slot `__secondary_switched` reads (Linux `secondary_data`).
#[no_mangle]
pub static secondary_data: SecondaryData = SecondaryData {
    task: AtomicPtr::new(core::ptr::null_mut()),
    stack: AtomicU64::new(0),
};

/// Offsets of [`SecondaryData`]'s fields, for `boot/head.S` (Linux's asm-offsets).
pub const CPU_BOOT_TASK: usize = core::mem::offset_of!(SecondaryData, task);
pub const CPU_BOOT_STACK: usize = core::mem::offset_of!(SecondaryData, stack);

/// The affinity fields of MPIDR_EL1 (Linux `MPIDR_HWID_BITMASK`).
pub const MPIDR_HWID_BITMASK: u64 = 0xff_00ff_ffff;

/// Each logical CPU's MPIDR affinity (Linux `__cpu_logical_map`).
static CPU_LOGICAL_MAP: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(u64::MAX) }; NR_CPUS];

extern "C" {
    /// Where PSCI starts a secondary CPU, in `boot/head.S`.
    fn secondary_entry();
}

/// This CPU's MPIDR affinity (Linux `read_cpuid_mpidr() & MPIDR_HWID_BITMASK`).
pub fn read_cpuid_mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_HWID_BITMASK
}

/// The MPIDR affinity of logical CPU `cpu`.
pub fn cpu_logical_map(cpu: usize) -> u64 {
    CPU_LOGICAL_MAP[cpu].load(Ordering::Relaxed)
}

/// Number the CPUs the device tree lists (Linux `smp_init_cpus`,
/// `of_parse_and_init_cpus`): the boot CPU is 0, the others follow in device-tree order.
/// Returns how many CPUs there are (Linux's possible CPUs).
pub fn smp_init_cpus(cpus: &CpuList) -> usize {
    let boot = read_cpuid_mpidr();
    CPU_LOGICAL_MAP[0].store(boot, Ordering::Relaxed);
    let mut n = 1;
    for &mpidr in &cpus.mpidr[..cpus.count] {
        if mpidr & MPIDR_HWID_BITMASK == boot || n == NR_CPUS {
            continue;
        }
        CPU_LOGICAL_MAP[n].store(mpidr & MPIDR_HWID_BITMASK, Ordering::Relaxed);
        n += 1;
    }
    n
}

/// Why a CPU did not come up.
#[derive(Clone, Copy, Debug)]
pub enum CpuUpError {
    /// No memory for its idle task's stack.
    NoIdleTask,
    /// PSCI refused to start it.
    Psci(PsciError),
    /// PSCI started it, but it did not reach `secondary_start_kernel` within a second.
    Timeout,
}

impl core::fmt::Display for CpuUpError {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            CpuUpError::NoIdleTask => write!(f, "no memory for its idle task"),
            CpuUpError::Psci(e) => write!(f, "PSCI CPU_ON returned {e:?}"),
            CpuUpError::Timeout => write!(f, "it did not come online within a second"),
        }
    }
}

/// Start `cpu` with `idle` as its idle task and wait until it is online (Linux
/// `__cpu_up`, `cpu_psci_cpu_boot`). `idle`'s run queue must be ready (`init_idle`).
pub fn __cpu_up(cpu: usize, idle: &Task) -> Result<(), CpuUpError> {
    secondary_data
        .stack
        .store(idle.stack.top(), Ordering::Relaxed);
    // Release: the CPU reads the slot, and the task and run queue behind it, once it
    // sees the task pointer (the PSCI call orders the stores before its start, too).
    secondary_data
        .task
        .store(idle as *const Task as *mut Task, Ordering::Release);
    let entry = pa_symbol(secondary_entry as *const () as u64).0;
    let up = match psci_cpu_on(cpu_logical_map(cpu), entry, cpu as u64) {
        Err(e) => Err(CpuUpError::Psci(e)),
        Ok(()) => wait_for_online(cpu),
    };
    // A CPU that starts too late finds no task and parks itself (`__secondary_switched`).
    secondary_data
        .task
        .store(core::ptr::null_mut(), Ordering::Release);
    up
}

/// Wait up to a second for `cpu` to come online (Linux's `wait_for_completion_timeout`
/// on `cpu_running`), in `wfe`: the new CPU's `sev` ends it, or else the timer's event
/// stream within 100 us.
fn wait_for_online(cpu: usize) -> Result<(), CpuUpError> {
    use crate::drivers::arch_timer::{counter, frequency};
    let deadline = counter() + frequency();
    while counter() < deadline {
        if percpu::cpu_online(cpu) {
            return Ok(());
        }
        aarch64_cpu::asm::wfe();
    }
    Err(CpuUpError::Timeout)
}

/// The first Rust code on a secondary CPU, on its idle task's stack with the MMU on
/// (Linux `secondary_start_kernel`): drop the identity map, turn on PAN as on the boot
/// CPU, bring up this CPU's interrupt controller interface and timer, then go online
/// and idle.
#[no_mangle]
extern "C" fn secondary_start_kernel(cpu: usize) -> ! {
    // Linux cpu_uninstall_idmap: TTBR0 gets the empty table, and the identity map's
    // entries leave this CPU's TLB.
    super::mmu::cpu_set_reserved_ttbr0();
    // SAFETY: invalidating this CPU's TLB entries and barriers cannot break memory safety.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
    // SAFETY: head.S put the idle task that __cpu_up stored in sp_el0, and the run queue
    // (init_idle) keeps it alive for as long as the kernel runs.
    percpu::set_entry_task(unsafe { &*percpu::current_ptr() });
    if super::cpufeature::pan_enabled() {
        super::cpufeature::enable_pan();
    }
    // Linux check_local_cpu_capabilities -> verify_cpu_asid_bits, and cpu_die_early on
    // failure: never online, this CPU waits here for good (its __cpu_up times out).
    if !super::mmu_context::verify_cpu_asid_bits() {
        loop {
            super::irqflags::wfi();
        }
    }
    super::debug_monitors::debug_monitors_init();
    crate::smp::notify_cpu_starting(cpu);
    percpu::set_cpu_online(cpu);
    aarch64_cpu::asm::sev();
    // Linux local_daif_restore(DAIF_PROCCTX): the tick may come in now.
    super::irqflags::local_irq_enable();
    crate::smp::cpu_startup_entry()
}

/// The IPIs forkos sends, as SGI numbers (Linux arm64 `enum ipi_msg_type`).
pub const IPI_RESCHEDULE: u32 = 0;

/// Set up the IPIs on the boot CPU (Linux `set_smp_ipi_range`): the reschedule SGI goes to
/// [`ipi_reschedule`]. Each secondary enables it for itself ([`ipi_starting_cpu`]).
pub fn smp_ipi_init() {
    crate::irq::request_irq(IPI_RESCHEDULE, ipi_reschedule);
}

/// Enable the IPIs on a starting secondary CPU (Linux `ipi_setup`).
pub fn ipi_starting_cpu() {
    crate::irq::enable_percpu_irq(IPI_RESCHEDULE);
}

/// Ask `cpu` to reschedule (Linux `smp_send_reschedule`): the caller set
/// TIF_NEED_RESCHED on the task running there; the SGI makes that CPU look at it, out
/// of `wfi` or on its way back from the interrupt.
pub fn smp_send_reschedule(cpu: usize) {
    if let Some(gic) = crate::irq::gic() {
        gic.send_sgi(cpu, IPI_RESCHEDULE);
    }
}

/// The reschedule IPI's handler (Linux `do_handle_IPI(IPI_RESCHEDULE)` ->
/// `scheduler_ipi`): mark the running task, so that the return from this interrupt
/// calls `schedule` (to EL0, or in preemptible kernel code, or out of the idle loop).
fn ipi_reschedule() {
    percpu::this_cpu()
        .ipi_resched
        .fetch_add(1, Ordering::Relaxed);
    crate::sched::scheduler_ipi();
}
