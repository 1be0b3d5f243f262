//! The Arm Generic Interrupt Controller, versions 2 and 3 (Linux
//! `drivers/irqchip/irq-gic.c` and `irq-gic-v3.c`).
//!
//! QEMU virt has a GICv2 by default and a GICv3 with `-M virt,gic-version=3`. Both have a
//! distributor (shared) and a per-CPU part: a memory-mapped CPU interface on v2; a
//! redistributor plus system registers (`ICC_*_EL1`) on v3. forkos uses private
//! peripheral interrupts (the timer) on the boot CPU.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite};

register_structs! {
    /// GICv2 and v3 distributor (the parts forkos uses).
    pub GicdRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => typer: ReadOnly<u32>),
        (0x008 => _reserved0),
        (0x080 => igroupr: [ReadWrite<u32>; 32]),
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        (0x200 => _reserved1),
        (0x400 => ipriorityr: [ReadWrite<u32>; 255]),
        (0x7fc => _reserved2),
        (0x800 => itargetsr: [ReadWrite<u32>; 255]),
        (0xbfc => _reserved3),
        (0x1000 => @END),
    },
    /// GICv2 CPU interface.
    pub GiccRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => pmr: ReadWrite<u32>),
        (0x008 => bpr: ReadWrite<u32>),
        (0x00c => iar: ReadOnly<u32>),
        (0x010 => eoir: ReadWrite<u32>),
        (0x014 => @END),
    },
    /// GICv3 redistributor control frame.
    pub GicrRdRegs {
        (0x000 => ctlr: ReadWrite<u32>),
        (0x004 => _reserved0),
        (0x014 => waker: ReadWrite<u32>),
        (0x018 => @END),
    },
    /// GICv3 redistributor SGI/PPI frame (64 KiB after the control frame).
    pub GicrSgiRegs {
        (0x000 => _reserved0),
        (0x080 => igroupr0: ReadWrite<u32>),
        (0x084 => _reserved1),
        (0x100 => isenabler0: ReadWrite<u32>),
        (0x104 => _reserved2),
        (0x180 => icenabler0: ReadWrite<u32>),
        (0x184 => _reserved3),
        (0x400 => ipriorityr: [ReadWrite<u32>; 8]),
        (0x420 => @END),
    }
}

/// INTIDs 1020-1023 are special; 1023 means "no pending interrupt".
pub const GIC_SPURIOUS: u32 = 1023;
/// The lowest priority an interrupt is given (higher numbers are lower priority).
const DEFAULT_PRIORITY: u32 = 0xa0;

/// Which GIC, with its mapped registers.
pub enum Gic {
    V2 {
        gicd: &'static GicdRegs,
        gicc: &'static GiccRegs,
    },
    V3 {
        gicd: &'static GicdRegs,
        rd: &'static GicrRdRegs,
        sgi: &'static GicrSgiRegs,
    },
}

const GICD_CTLR_ENABLE_G0: u32 = 1 << 0;
const GICD_CTLR_ENABLE_G1: u32 = 1 << 1;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;

// SAFETY: the registers are MMIO reached only through volatile accesses. The distributor
// is built to be driven from several CPUs, and the per-CPU parts are only touched by the
// CPU they belong to (SMP will give each CPU its own).
unsafe impl Send for Gic {}
// SAFETY: as above.
unsafe impl Sync for Gic {}

impl Gic {
    /// A GICv2 whose distributor and CPU interface are mapped at `gicd` and `gicc`.
    ///
    /// # Safety
    /// The addresses must map the GIC's registers as device memory for good.
    pub unsafe fn new_v2(gicd: u64, gicc: u64) -> Self {
        // SAFETY: the caller guarantees both map the GICv2's registers.
        unsafe {
            Gic::V2 {
                gicd: &*(gicd as *const GicdRegs),
                gicc: &*(gicc as *const GiccRegs),
            }
        }
    }

    /// A GICv3 whose distributor and boot CPU's redistributor are mapped at `gicd`, `gicr`.
    ///
    /// # Safety
    /// The addresses must map the GIC's registers (128 KiB for the redistributor).
    pub unsafe fn new_v3(gicd: u64, gicr: u64) -> Self {
        // SAFETY: the caller guarantees these map the GICv3's registers.
        unsafe {
            Gic::V3 {
                gicd: &*(gicd as *const GicdRegs),
                rd: &*(gicr as *const GicrRdRegs),
                sgi: &*((gicr + 0x1_0000) as *const GicrSgiRegs),
            }
        }
    }

    /// Turn on the distributor and this CPU's interface (Linux `gic_dist_init`,
    /// `gic_cpu_init`); all interrupts start disabled.
    pub fn init(&self) {
        match self {
            Gic::V2 { gicd, gicc } => {
                gicd.ctlr.set(0);
                for r in gicd.icenabler.iter() {
                    r.set(u32::MAX);
                }
                gicd.ctlr.set(GICD_CTLR_ENABLE_G0);
                gicc.pmr.set(0xff);
                gicc.bpr.set(0);
                gicc.ctlr.set(1);
            }
            Gic::V3 { gicd, rd, sgi } => {
                gicd.ctlr.set(0);
                gicd.ctlr
                    .set(GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1 | GICD_CTLR_ENABLE_G0);
                // Wake this CPU's redistributor.
                rd.waker.set(rd.waker.get() & !GICR_WAKER_PROCESSOR_SLEEP);
                while rd.waker.get() & GICR_WAKER_CHILDREN_ASLEEP != 0 {}
                sgi.icenabler0.set(u32::MAX);
                sgi.igroupr0.set(u32::MAX); // SGIs and PPIs in group 1
                                            // SAFETY: writing the GICv3 CPU interface registers of this CPU:
                                            // system-register access on, all priorities unmasked, group 1 enabled.
                unsafe {
                    core::arch::asm!(
                        "mrs {t}, icc_sre_el1",
                        "orr {t}, {t}, #1",
                        "msr icc_sre_el1, {t}",
                        "isb",
                        "msr icc_pmr_el1, {pmr}",
                        "msr icc_bpr1_el1, xzr",
                        "msr icc_igrpen1_el1, {one}",
                        "isb",
                        t = out(reg) _,
                        pmr = in(reg) 0xffu64,
                        one = in(reg) 1u64,
                        options(nostack)
                    )
                };
            }
        }
    }

    /// Enable one interrupt (Linux `gic_unmask_irq`). forkos routes only SGIs and PPIs
    /// (INTID < 32) and SPIs on GICv2.
    pub fn enable(&self, intid: u32) {
        let (reg, bit) = ((intid / 32) as usize, 1u32 << (intid % 32));
        let prio_shift = (intid % 4) * 8;
        match self {
            Gic::V2 { gicd, .. } => {
                let p = &gicd.ipriorityr[(intid / 4) as usize];
                p.set((p.get() & !(0xff << prio_shift)) | (DEFAULT_PRIORITY << prio_shift));
                if intid >= 32 {
                    let t = &gicd.itargetsr[(intid / 4) as usize];
                    t.set(t.get() | (1 << prio_shift));
                }
                gicd.isenabler[reg].set(bit);
            }
            Gic::V3 { sgi, .. } => {
                assert!(intid < 32, "GICv3 SPI routing is not implemented");
                let p = &sgi.ipriorityr[(intid / 4) as usize];
                p.set((p.get() & !(0xff << prio_shift)) | (DEFAULT_PRIORITY << prio_shift));
                sgi.isenabler0.set(bit);
            }
        }
    }

    /// Acknowledge the highest-priority pending interrupt; returns its INTID (or
    /// [`GIC_SPURIOUS`]).
    pub fn ack(&self) -> u32 {
        match self {
            Gic::V2 { gicc, .. } => gicc.iar.get() & 0x3ff,
            Gic::V3 { .. } => {
                let iar: u64;
                // SAFETY: reading ICC_IAR1_EL1 acknowledges an interrupt of this CPU.
                unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nostack)) };
                (iar & 0xff_ffff) as u32
            }
        }
    }

    /// Signal the end of handling `intid` (Linux `gic_eoi_irq`).
    pub fn eoi(&self, intid: u32) {
        match self {
            Gic::V2 { gicc, .. } => gicc.eoir.set(intid),
            Gic::V3 { .. } => {
                // SAFETY: writing ICC_EOIR1_EL1 ends the interrupt this CPU acknowledged.
                unsafe {
                    core::arch::asm!("msr icc_eoir1_el1, {}", "isb", in(reg) intid as u64, options(nostack))
                };
            }
        }
    }
}
