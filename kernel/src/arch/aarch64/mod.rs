//! AArch64 support (Linux `arch/arm64/`). Generic code reaches it only through the
//! modules `crate::arch` re-exports.
//!
//! | file | Linux | what |
//! |---|---|---|
//! | `head.rs` + `boot/head.S` | `kernel/head.S` | Image header, EL2 to EL1, MMU on |
//! | `entry.rs` + `entry.S` | `kernel/entry.S` | vectors, `kernel_entry`, `kernel_exit`, `ret_to_user` |
//! | `ptrace.rs` | `include/asm/ptrace.h`, `kernel/ptrace.c` | `PtRegs`, regsets, syscall stops |
//! | `traps.rs` | `kernel/traps.c`, `entry-common.c`, `mm/fault.c` | exception handlers, `el0_svc`, page faults, oops reports |
//! | `process.rs` | `kernel/process.c`, `include/asm/processor.h` | `copy_thread`, `cpu_switch_to`, `ret_from_fork`, FP/SIMD state |
//! | `signal.rs` | `kernel/signal.c` | signal frames, `do_signal`, `rt_sigreturn` |
//! | `mmu.rs` | `mm/mmu.c` | kernel page tables, `ioremap` |
//! | `mmu_context.rs` | `mm/context.c`, `include/asm/pgtable.h`, `tlbflush.h` | ASIDs, user PTEs, TLB flushes |
//! | `memory.rs` | `include/asm/memory.h` | virtual memory map |
//! | `page.rs` | `lib/clear_page.S`, `lib/copy_page.S` | clearing and copying pages |
//! | `percpu.rs` | `include/asm/percpu.h`, `asm/current.h` | per-CPU data, `current` in `sp_el0` |
//! | `smp.rs` | `kernel/smp.c`, `kernel/setup.c` | starting secondary CPUs: `__cpu_up`, `secondary_start_kernel` |
//! | `psci.rs` | `kernel/psci.c`, `drivers/firmware/psci/psci.c` | PSCI `CPU_ON` through `hvc` or `smc` |
//! | `cpufeature.rs` | `kernel/cpufeature.c` | PAN, ID registers for EL0, `AT_HWCAP` |
//! | `debug_monitors.rs` | `kernel/debug-monitors.c` | single-stepping user tasks |
//! | `sysreg.rs` | `include/asm/sysreg.h` | boot register values |
//! | `irqflags.rs` | `include/asm/irqflags.h` | masking interrupts |
//! | `string.rs` | `lib/memcpy.S`, `memset.S` | `memcpy`, `memset` |
//! | `semihosting.rs` | — | printing and exiting through QEMU |
//! | `selftest.rs` | — | assembly halves of the boot self-tests |

pub mod cpufeature;
pub mod debug_monitors;
pub mod entry;
pub mod head;
pub mod irqflags;
pub mod memory;
pub mod mmu;
pub mod mmu_context;
pub mod page;
pub mod percpu;
pub mod process;
pub mod psci;
pub mod ptrace;
pub mod selftest;
pub mod semihosting;
pub mod signal;
pub mod smp;
pub mod string;
pub mod sysreg;
pub mod traps;
