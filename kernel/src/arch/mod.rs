//! The architecture boundary (Linux `arch/`). forkos runs on AArch64 only
//! ([`aarch64`], Linux `arch/arm64`), and generic code reaches it through exactly the
//! modules re-exported below, each the counterpart of the Linux `asm/` header or arm64
//! file named beside it. The rest of `aarch64` (the vectors and `kernel_entry`, the trap
//! handlers, boot, system-register values) is its own business.

mod aarch64;

/// `elf_hwcap`, `enable_pan`, `pan_enabled` (Linux `asm/cpufeature.h`).
pub use aarch64::cpufeature;
/// `user_enable_single_step`, `user_disable_single_step` (Linux
/// `arch/arm64/kernel/debug-monitors.c`).
pub use aarch64::debug_monitors;
/// `init_stack`, the boot CPU's stack (Linux `arch/arm64/kernel/head.S`).
pub use aarch64::head;
/// `local_irq_save`/`restore`/`enable`, `wfi` (Linux `asm/irqflags.h`).
pub use aarch64::irqflags;
/// `PhysAddr`, `phys_to_virt`, the kernel's virtual memory map (Linux `asm/memory.h`).
pub use aarch64::memory;
/// The kernel's page tables, `ioremap` (Linux `arch/arm64/mm/mmu.c`).
pub use aarch64::mmu;
/// User PTEs, ASIDs, TLB flushes (Linux `asm/mmu_context.h`, `asm/pgtable.h`,
/// `asm/tlbflush.h`).
pub use aarch64::mmu_context;
/// `clear_page`, `copy_page` (Linux `asm/page.h`, `arch/arm64/lib/`).
pub use aarch64::page;
/// Per-CPU data and `current` (Linux `asm/percpu.h`, `asm/current.h`).
pub use aarch64::percpu;
/// `copy_thread`, `switch_to`, `start_thread` (Linux `arch/arm64/kernel/process.c`).
pub use aarch64::process;
/// `psci_cpu_on`, the firmware call that starts a CPU (Linux `drivers/firmware/psci/`).
pub use aarch64::psci;
/// `PtRegs`, the frame `kernel_entry` saves (Linux `asm/ptrace.h`).
pub use aarch64::ptrace;
/// The assembly halves of the boot self-tests.
pub use aarch64::selftest;
/// Printing and powering off through QEMU.
pub use aarch64::semihosting;
/// Taking a signal: `do_signal`, frames, `rt_sigreturn` (Linux
/// `arch/arm64/kernel/signal.c`).
pub use aarch64::signal;
/// Starting the secondary CPUs: `smp_init_cpus`, `__cpu_up` (Linux
/// `arch/arm64/kernel/smp.c`).
pub use aarch64::smp;
