//! The Arm Generic Interrupt Controller, versions 2 and 3 (Linux
//! `drivers/irqchip/irq-gic.c` and `irq-gic-v3.c`).
//!
//! QEMU virt has a GICv2 by default and a GICv3 with `-M virt,gic-version=3`. Both have a
//! distributor (shared) and a per-CPU part: a memory-mapped CPU interface on v2; a
//! redistributor plus system registers (`ICC_*_EL1`) on v3. The boot CPU sets up the
//! distributor; every CPU sets up its own part ([`Gic::cpu_init`]) and enables its own
//! private peripheral interrupts (its timer).

use core::sync::atomic::{AtomicU64, Ordering};

use tock_registers::interfaces::{Readable, Writeable};

use crate::arch::percpu::{smp_processor_id, NR_CPUS};
use crate::arch::smp::read_cpuid_mpidr;
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
        (0xf00 => sgir: ReadWrite<u32>),
        (0xf04 => _reserved4),
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
        (0x008 => typer: ReadOnly<u64>),
        (0x010 => _reserved1),
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
        /// Each CPU's CPU-interface bit for GICD_SGIR's target list, read by
        /// [`Gic::cpu_init`] from its banked GICD_ITARGETSR0 (Linux `gic_cpu_map`).
        cpu_map: [AtomicU64; NR_CPUS],
    },
    V3 {
        gicd: &'static GicdRegs,
        /// The mapped redistributor region: one 128 KiB pair of frames per CPU.
        redist: u64,
        redist_size: u64,
        /// Each CPU's redistributor, found by [`Gic::cpu_init`] (Linux's per-CPU
        /// `gic_data.rdists.rdist`).
        rdist: [AtomicU64; NR_CPUS],
    },
}

const GICD_CTLR_ENABLE_G0: u32 = 1 << 0;
const GICD_CTLR_ENABLE_G1: u32 = 1 << 1;
const GICD_CTLR_ARE: u32 = 1 << 4;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// GICD_IROUTER<n>, the route of SPI n, is at this offset plus 8 n (GICv3 only).
const GICD_IROUTER: u64 = 0x6000;
/// GICR_TYPER.Last: the last redistributor of its region.
const GICR_TYPER_LAST: u64 = 1 << 4;
/// One redistributor: its control frame and its SGI/PPI frame, 64 KiB each.
const GICR_STRIDE: u64 = 0x2_0000;

// SAFETY: the registers are MMIO reached only through volatile accesses. The distributor
// is built to be driven from several CPUs, and the per-CPU parts are only touched by the
// CPU they belong to (the GICv2 CPU interface is banked; a GICv3 CPU finds its own
// redistributor).
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
                cpu_map: [const { AtomicU64::new(0) }; NR_CPUS],
            }
        }
    }

    /// A GICv3 whose distributor and redistributor region are mapped at `gicd` and
    /// `gicr` (`gicr_size` bytes).
    ///
    /// # Safety
    /// The addresses must map the GIC's registers (the whole redistributor region).
    pub unsafe fn new_v3(gicd: u64, gicr: u64, gicr_size: u64) -> Self {
        // SAFETY: the caller guarantees gicd maps the GICv3's distributor.
        let gicd = unsafe { &*(gicd as *const GicdRegs) };
        Gic::V3 {
            gicd,
            redist: gicr,
            redist_size: gicr_size,
            rdist: [const { AtomicU64::new(0) }; NR_CPUS],
        }
    }

    /// Turn on the distributor, with all interrupts disabled, then the boot CPU's
    /// interface (Linux `gic_dist_init`, then `gic_cpu_init`).
    pub fn init(&self) {
        match self {
            Gic::V2 { gicd, .. } => {
                gicd.ctlr.set(0);
                for r in gicd.icenabler.iter() {
                    r.set(u32::MAX);
                }
                gicd.ctlr.set(GICD_CTLR_ENABLE_G0);
            }
            Gic::V3 { gicd, .. } => {
                gicd.ctlr.set(0);
                gicd.ctlr
                    .set(GICD_CTLR_ARE | GICD_CTLR_ENABLE_G1 | GICD_CTLR_ENABLE_G0);
            }
        }
        self.cpu_init();
    }

    /// This CPU's redistributor frames (GICv3), once `cpu_init` found them.
    fn this_rdist(rdist: &[AtomicU64; NR_CPUS]) -> (&'static GicrRdRegs, &'static GicrSgiRegs) {
        let rd = rdist[smp_processor_id()].load(Ordering::Relaxed);
        assert!(rd != 0, "GICv3: this CPU has no redistributor");
        // SAFETY: cpu_init found rd inside the mapped redistributor region, the control
        // frame at rd and the SGI frame 64 KiB after it.
        unsafe {
            (
                &*(rd as *const GicrRdRegs),
                &*((rd + 0x1_0000) as *const GicrSgiRegs),
            )
        }
    }

    /// Find the redistributor whose GICR_TYPER affinity is this CPU's MPIDR (Linux
    /// `gic_populate_rdist`).
    fn populate_rdist(redist: u64, size: u64) -> Option<u64> {
        let mpidr = read_cpuid_mpidr();
        let aff = ((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xff_ffff);
        let mut rd = redist;
        while rd + GICR_STRIDE <= redist + size {
            // SAFETY: rd is a control frame inside the mapped region.
            let typer = unsafe { &*(rd as *const GicrRdRegs) }.typer.get();
            if typer >> 32 == aff {
                return Some(rd);
            }
            if typer & GICR_TYPER_LAST != 0 {
                break;
            }
            rd += GICR_STRIDE;
        }
        None
    }

    /// Turn on this CPU's part of the GIC, with its SGIs and PPIs disabled (Linux
    /// `gic_cpu_init`; for v3 also `gic_enable_redist` and `gic_cpu_sys_reg_init`).
    pub fn cpu_init(&self) {
        match self {
            Gic::V2 {
                gicd,
                gicc,
                cpu_map,
            } => {
                // GICD_ITARGETSR0-7 are banked: each byte is this CPU's own interface
                // bit (Linux `gic_get_cpumask`).
                let mask = gicd.itargetsr[0].get() & 0xff;
                cpu_map[smp_processor_id()].store(mask as u64, Ordering::Relaxed);
                // The first enable register (SGIs, PPIs) is banked per CPU.
                gicd.icenabler[0].set(u32::MAX);
                gicc.pmr.set(0xff);
                gicc.bpr.set(0);
                gicc.ctlr.set(1);
            }
            Gic::V3 {
                redist,
                redist_size,
                rdist,
                ..
            } => {
                let rd = Self::populate_rdist(*redist, *redist_size).unwrap_or_else(|| {
                    panic!(
                        "GICv3: no redistributor for MPIDR {:#x}",
                        read_cpuid_mpidr()
                    )
                });
                rdist[smp_processor_id()].store(rd, Ordering::Relaxed);
                let (rd, sgi) = Self::this_rdist(rdist);
                // Wake this CPU's redistributor.
                rd.waker.set(rd.waker.get() & !GICR_WAKER_PROCESSOR_SLEEP);
                while rd.waker.get() & GICR_WAKER_CHILDREN_ASLEEP != 0 {
                    crate::arch::irqflags::cpu_relax();
                }
                sgi.icenabler0.set(u32::MAX);
                // SGIs and PPIs in group 1.
                sgi.igroupr0.set(u32::MAX);
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

    /// Enable one interrupt (Linux `gic_unmask_irq`). SGIs and PPIs (INTID < 32) are
    /// enabled for this CPU only; an SPI is routed to this CPU.
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
            Gic::V3 { gicd, .. } if intid >= 32 => {
                // An SPI lives in the distributor (Linux `gic_unmask_irq` and
                // `gic_set_affinity`): group 1, its priority, routed to this CPU.
                let g = &gicd.igroupr[reg];
                g.set(g.get() | bit);
                let p = &gicd.ipriorityr[(intid / 4) as usize];
                p.set((p.get() & !(0xff << prio_shift)) | (DEFAULT_PRIORITY << prio_shift));
                let mpidr = read_cpuid_mpidr();
                let aff = ((mpidr >> 32) & 0xff) << 32 | (mpidr & 0xff_ffff);
                let irouter =
                    (*gicd as *const GicdRegs as u64 + GICD_IROUTER + 8 * intid as u64) as *mut u64;
                // SAFETY: GICD_IROUTER<n> is a register of the GICv3 distributor, whose
                // 64 KiB frame is mapped as device memory (new_v3's contract).
                unsafe { core::ptr::write_volatile(irouter, aff) };
                gicd.isenabler[reg].set(bit);
            }
            Gic::V3 { rdist, .. } => {
                let (_, sgi) = Self::this_rdist(rdist);
                let p = &sgi.ipriorityr[(intid / 4) as usize];
                p.set((p.get() & !(0xff << prio_shift)) | (DEFAULT_PRIORITY << prio_shift));
                sgi.isenabler0.set(bit);
            }
        }
    }

    /// Acknowledge the highest-priority pending interrupt; returns the IAR value, whose
    /// low 10 bits are the INTID (or [`GIC_SPURIOUS`]). On GICv2 an SGI's IAR also names
    /// the CPU that sent it, and [`Gic::eoi`] must be given the whole value back.
    pub fn ack(&self) -> u32 {
        match self {
            Gic::V2 { gicc, .. } => gicc.iar.get() & 0x1fff,
            Gic::V3 { .. } => {
                let iar: u64;
                // SAFETY: reading ICC_IAR1_EL1 acknowledges an interrupt of this CPU.
                unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nostack)) };
                (iar & 0xff_ffff) as u32
            }
        }
    }

    /// Signal the end of handling the interrupt [`Gic::ack`] returned `iar` for (Linux
    /// `gic_eoi_irq`).
    pub fn eoi(&self, iar: u32) {
        match self {
            Gic::V2 { gicc, .. } => gicc.eoir.set(iar),
            Gic::V3 { .. } => {
                // SAFETY: writing ICC_EOIR1_EL1 ends the interrupt this CPU acknowledged.
                unsafe {
                    core::arch::asm!("msr icc_eoir1_el1, {}", "isb", in(reg) iar as u64, options(nostack))
                };
            }
        }
    }

    /// Raise software-generated interrupt `sgi` (0-15) on CPU `cpu` (Linux
    /// `gic_ipi_send_mask`): GICD_SGIR on v2, ICC_SGI1R_EL1 on v3. The `dsb ishst` first
    /// makes this CPU's earlier stores (the flag the IPI is about) visible to the target
    /// before the interrupt can reach it.
    pub fn send_sgi(&self, cpu: usize, sgi: u32) {
        debug_assert!(sgi < 16);
        // SAFETY: a barrier; it touches no memory of its own.
        unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
        match self {
            Gic::V2 { gicd, cpu_map, .. } => {
                let target = cpu_map[cpu].load(Ordering::Relaxed) as u32;
                // TargetListFilter 0: the CPUs in the list.
                gicd.sgir.set((target & 0xff) << 16 | sgi);
            }
            Gic::V3 { .. } => {
                let mpidr = crate::arch::smp::cpu_logical_map(cpu);
                let (aff0, aff1) = (mpidr & 0xff, (mpidr >> 8) & 0xff);
                let (aff2, aff3) = ((mpidr >> 16) & 0xff, (mpidr >> 32) & 0xff);
                // Linux gic_send_sgi: the target list holds Aff0 % 16, RS is Aff0 / 16.
                let val = aff3 << 48
                    | aff2 << 32
                    | (sgi as u64) << 24
                    | aff1 << 16
                    | (aff0 / 16) << 44
                    | 1 << (aff0 % 16);
                // SAFETY: writing ICC_SGI1R_EL1 raises a group-1 SGI; it touches no memory.
                unsafe {
                    core::arch::asm!("msr icc_sgi1r_el1, {}", "isb", in(reg) val, options(nostack))
                };
            }
        }
    }
}
