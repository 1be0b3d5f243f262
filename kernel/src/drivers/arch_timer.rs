//! The Arm generic timer: each CPU's EL1 virtual timer ticking at
//! [`HZ`](crate::time::HZ) (Linux `drivers/clocksource/arm_arch_timer.c`).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use aarch64_cpu::registers::{
    ReadWriteable, Readable, Writeable, CNTFRQ_EL0, CNTKCTL_EL1, CNTVCT_EL0, CNTV_CTL_EL0,
    CNTV_CVAL_EL0,
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

/// The timer's interrupt: program the next one, then hand the tick to the generic time
/// code (Linux's clock event `event_handler`).
fn timer_interrupt() {
    crate::arch::percpu::this_cpu()
        .timer_ticks
        .fetch_add(1, Ordering::Relaxed);
    set_next_event();
    time::tick_handle_periodic();
}

/// The timer's PPI, which every CPU enables for itself.
static TIMER_INTID: AtomicU32 = AtomicU32::new(0);

/// Start the periodic tick on interrupt `intid` (the virtual timer PPI from the device
/// tree) on the boot CPU (Linux `arch_timer_register`, then `arch_timer_starting_cpu`).
///
/// The timer interrupts `rate` times a second (at least `HZ`): each interrupt may
/// preempt the running task, while time still advances in jiffies of 1/HZ. A rate above
/// HZ (`tick_hz=` on the command line) preempts more often, to widen race windows in
/// stress tests.
pub fn init(intid: u32, rate: u64) {
    let per_jiffy = time::set_tick_rate(rate);
    PERIOD.store(frequency() / (per_jiffy * time::HZ), Ordering::Relaxed);
    TIMER_INTID.store(intid, Ordering::Relaxed);
    irq::request_irq(intid, timer_interrupt);
    arch_timer_starting_cpu();
}

/// Start this CPU's timer (Linux `arch_timer_starting_cpu`): let EL0 read the virtual
/// counter as Linux does (CNTKCTL_EL1.EL0VCTEN), turn on the event stream, arm the
/// first interrupt and enable the PPI.
pub fn arch_timer_starting_cpu() {
    CNTKCTL_EL1.write(CNTKCTL_EL1::EL0VCTEN::SET + CNTKCTL_EL1::EVNTI.val(evtstrm_divider()));
    arch_timer_evtstrm_enable();
    set_next_event();
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
    irq::enable_percpu_irq(TIMER_INTID.load(Ordering::Relaxed));
}

/// How often the event stream wakes a `wfe` (Linux `ARCH_TIMER_EVT_STREAM_FREQ`).
const ARCH_TIMER_EVT_STREAM_FREQ: u64 = 10_000;

static EVTSTRM: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The counter bit whose flips make the events (Linux `arch_timer_configure_evtstream`):
/// the power of two closest to half the counter rate over the stream's frequency.
fn evtstrm_divider() -> u64 {
    let div = frequency() / ARCH_TIMER_EVT_STREAM_FREQ / 2;
    if div == 0 {
        return 0;
    }
    let mut lsb = 63 - div.leading_zeros() as u64;
    if lsb > 0 && div & (1 << (lsb - 1)) != 0 {
        lsb += 1;
    }
    lsb.min(15)
}

/// Turn on the event stream, so that a `wfe` in user space (which does not trap) ends
/// within 100 us even if nothing signals an event (Linux `arch_timer_evtstrm_enable`,
/// which then advertises `HWCAP_EVTSTRM`).
fn arch_timer_evtstrm_enable() {
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EVNTEN::SET);
    EVTSTRM.store(true, Ordering::Relaxed);
}

/// Is the event stream on?
pub fn evtstrm_enabled() -> bool {
    EVTSTRM.load(Ordering::Relaxed)
}
