//! AArch64 support (Linux `arch/arm64/`). Generic code reaches it through `crate::arch`.
//!
//! | file | Linux | what |
//! |---|---|---|
//! | `head.rs` + `boot/head.S` | `kernel/head.S` | Image header, EL2 to EL1, MMU on |
//! | `entry.rs` + `entry.S` | `kernel/entry.S` | vectors, `kernel_entry`, `kernel_exit` |
//! | `ptrace.rs` | `include/asm/ptrace.h` | `PtRegs` |
//! | `traps.rs` | `kernel/traps.c`, `entry-common.c` | exception handlers, oops reports |
//! | `mmu.rs` | `mm/mmu.c` | kernel page tables, `ioremap` |
//! | `memory.rs` | `include/asm/memory.h` | virtual memory map |
//! | `sysreg.rs` | `include/asm/sysreg.h` | boot register values |
//! | `irqflags.rs` | `include/asm/irqflags.h` | masking interrupts |
//! | `semihosting.rs` | — | printing and exiting through QEMU |
//! | `selftest.rs` | — | assembly halves of the boot self-tests |

pub mod cpufeature;
pub mod entry;
pub mod head;
pub mod irqflags;
pub mod memory;
pub mod mmu;
pub mod mmu_context;
pub mod page;
pub mod percpu;
pub mod process;
pub mod ptrace;
pub mod selftest;
pub mod semihosting;
pub mod signal;
pub mod string;
pub mod sysreg;
pub mod traps;
