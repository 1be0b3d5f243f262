//! Interrupt handling that is not specific to one controller (Linux `kernel/irq/`):
//! handlers registered per interrupt id and dispatched from the IRQ vector.

use crate::drivers::gic::{Gic, GIC_SPURIOUS};
use crate::sync::IrqSpinLock;

/// INTIDs below the special range.
const NR_IRQS: usize = 1020;

static GIC: spin::Once<Gic> = spin::Once::new();
/// A handler for one interrupt line (Linux `irq_handler_t`, without arguments).
pub type IrqHandler = fn();

static HANDLERS: IrqSpinLock<[Option<IrqHandler>; NR_IRQS]> = IrqSpinLock::new([None; NR_IRQS]);

/// Install and start the interrupt controller (Linux `init_IRQ`).
pub fn init(gic: Gic) {
    gic.init();
    GIC.call_once(|| gic);
}

/// The interrupt controller, once [`init`] ran.
pub fn gic() -> Option<&'static Gic> {
    GIC.get()
}

/// Route interrupt `intid` to `handler` and enable it (Linux `request_irq`).
pub fn request_irq(intid: u32, handler: IrqHandler) {
    let gic = GIC.get().expect("request_irq before the GIC is up");
    HANDLERS.lock()[intid as usize] = Some(handler);
    gic.enable(intid);
}

/// Set up this CPU's part of the interrupt controller, on a secondary CPU (Linux's
/// `gic_starting_cpu` hotplug callback).
pub fn gic_starting_cpu() {
    GIC.get()
        .expect("a secondary CPU before the GIC is up")
        .cpu_init();
}

/// Enable a per-CPU interrupt (a PPI) on this CPU; its handler is already registered
/// (Linux `enable_percpu_irq`).
pub fn enable_percpu_irq(intid: u32) {
    let gic = GIC.get().expect("enable_percpu_irq before the GIC is up");
    gic.enable(intid);
}

/// Handle every pending interrupt; called from the IRQ vectors with IRQs masked (Linux
/// `gic_handle_irq` -> `generic_handle_domain_irq`).
pub fn handle_irq() {
    let Some(gic) = GIC.get() else {
        return;
    };
    loop {
        let iar = gic.ack();
        let intid = iar & 0x3ff;
        if intid >= GIC_SPURIOUS - 3 {
            break;
        }
        let handler = HANDLERS.lock().get(intid as usize).copied().flatten();
        match handler {
            Some(h) => h(),
            None => crate::println!("irq: unexpected interrupt {intid}"),
        }
        gic.eoi(iar);
    }
}
