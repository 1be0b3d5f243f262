//! Kernel time: the tick count (Linux `kernel/time/timer.c`, `jiffies`).

use core::sync::atomic::{AtomicU64, Ordering};

/// Timer interrupts per second (Debian's arm64 Linux uses 250 too).
pub const HZ: u64 = 250;

/// Ticks since the timer started (Linux `jiffies`).
#[no_mangle]
pub static jiffies: AtomicU64 = AtomicU64::new(0);

/// Called from the timer interrupt.
pub fn tick() {
    jiffies.fetch_add(1, Ordering::Relaxed);
}

/// Ticks so far.
pub fn get_jiffies() -> u64 {
    jiffies.load(Ordering::Relaxed)
}
