//! Bringing up the other CPUs (Linux `kernel/smp.c` `smp_init`, `kernel/cpu.c` `cpu_up`
//! and `notify_cpu_starting`).
//!
//! The boot CPU numbers the CPUs the device tree lists, gives each an idle task, and
//! starts them one at a time through PSCI (`arch::smp::__cpu_up`). Each sets up its own
//! GIC interface and timer, marks itself online and enters its idle loop, where the
//! scheduler gives it tasks (`sched::select_task_rq`, `newidle_balance`).

use crate::arch::percpu::{num_online_cpus, set_cpu_online, smp_processor_id};
use crate::arch::{psci, smp as arch_smp};
use crate::dtb::{BootInfo, PsciConduit};
use crate::println;

/// Start every CPU the device tree lists, then print the banner's CPU line (Linux
/// `smp_init` -> `bringup_nonboot_cpus`, and `smp_cpus_done`'s "Brought up" line).
/// With one CPU nothing is called.
pub fn smp_init(info: &BootInfo) {
    set_cpu_online(smp_processor_id()); // Linux boot_cpu_init
    arch_smp::smp_ipi_init();
    let possible = arch_smp::smp_init_cpus(&info.cpus);
    let conduit = match info.psci {
        Some(PsciConduit::Hvc) => " (PSCI hvc)",
        Some(PsciConduit::Smc) => " (PSCI smc)",
        None => "",
    };
    if possible > 1 {
        match info.psci {
            Some(c) => psci::psci_init(c),
            None => println!("  smp:     no PSCI 0.2+ in the device tree: one CPU only"),
        }
    }
    for cpu in 1..possible {
        if info.psci.is_none() {
            break;
        }
        if let Err(e) = cpu_up(cpu) {
            println!(
                "  smp:     CPU{cpu} (MPIDR {:#x}) failed to come online: {e}",
                arch_smp::cpu_logical_map(cpu)
            );
        }
    }
    let ignored = if info.cpus.ignored > 0 {
        alloc::format!(", {} more not used", info.cpus.ignored)
    } else {
        alloc::string::String::new()
    };
    println!(
        "  cpus:    {} in the device tree, {} online{}{ignored}",
        info.cpus.count,
        num_online_cpus(),
        if possible > 1 { conduit } else { "" },
    );
}

/// Give `cpu` its idle task and start it (Linux `cpu_up` -> `idle_thread_get`,
/// `__cpu_up`).
fn cpu_up(cpu: usize) -> Result<(), arch_smp::CpuUpError> {
    let idle = crate::fork::fork_idle(cpu).ok_or(arch_smp::CpuUpError::NoIdleTask)?;
    crate::sched::init_idle(idle.clone(), cpu);
    arch_smp::__cpu_up(cpu, &idle)
}

/// What a starting CPU sets up for itself before it goes online (Linux
/// `notify_cpu_starting`: the `CPUHP_AP_*_STARTING` callbacks `gic_starting_cpu` and
/// `arch_timer_starting_cpu`).
pub fn notify_cpu_starting(_cpu: usize) {
    crate::irq::gic_starting_cpu();
    arch_smp::ipi_starting_cpu();
    crate::drivers::arch_timer::arch_timer_starting_cpu();
}

/// A started CPU's last step: its idle loop, for good (Linux `cpu_startup_entry`).
pub fn cpu_startup_entry() -> ! {
    crate::sched::cpu_idle()
}
