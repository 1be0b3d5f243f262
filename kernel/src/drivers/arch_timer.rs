//! The Arm generic timer: the EL1 virtual timer ticking at [`HZ`](crate::time::HZ)
//! (Linux `drivers/clocksource/arm_arch_timer.c`).

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{
    Readable, Writeable, CNTFRQ_EL0, CNTKCTL_EL1, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0,
};

use crate::irq;
use crate::time;

/// Counter ticks between two timer interrupts.
static PERIOD: AtomicU64 = AtomicU64::new(0);

/// The counter frequency in Hz (CNTFRQ_EL0, set by firmware or QEMU).
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The virtual counter (CNTVCT_EL0).
pub fn counter() -> u64 {
    CNTVCT_EL0.get()
}

/// Program the next interrupt one period from now.
fn set_next_event() {
    CNTV_CVAL_EL0.set(counter() + PERIOD.load(Ordering::Relaxed));
}

fn timer_interrupt() {
    set_next_event();
    time::tick();
    crate::sched::scheduler_tick();
    // Like Linux's magic SysRq: `p` on the console prints the process table.
    if crate::console::poll_input() == Some(b'p') {
        crate::task::show_tasks();
    }
}

/// Start the periodic tick on interrupt `intid` (the virtual timer PPI from the device
/// tree), and let EL0 read the virtual counter as Linux does (CNTKCTL_EL1.EL0VCTEN).
pub fn init(intid: u32) {
    PERIOD.store(frequency() / time::HZ, Ordering::Relaxed);
    CNTKCTL_EL1.write(CNTKCTL_EL1::EL0VCTEN::SET);
    set_next_event();
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
    irq::request_irq(intid, timer_interrupt);
}
