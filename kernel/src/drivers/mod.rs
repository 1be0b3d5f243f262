//! Device drivers for QEMU virt's devices, found through the device tree (Linux
//! `drivers/`).

pub mod arch_timer;
pub mod gic;
pub mod pl011;
pub mod tty;
