//! Reading the flattened device tree QEMU passes in x0 (Linux `drivers/of/fdt.c`,
//! `early_init_dt_scan`): RAM, reservations, the initrd, the command line, and where the
//! UART, the GIC and the timer are. Parsing itself is the `fdt` crate's job.

use fdt::Fdt;
use forkos_lib::fdt_irq;
use forkos_lib::memblock::{Range, RangeSet};

/// How many RAM or reserved ranges forkos keeps from the device tree.
pub const MAX_DT_RANGES: usize = 8;

/// Which interrupt controller the device tree describes, and where.
#[derive(Clone, Copy, Debug)]
pub enum GicInfo {
    /// GICv2: distributor and CPU interface.
    V2 { dist: Range, cpu: Range },
    /// GICv3: distributor and the first redistributor region.
    V3 { dist: Range, redist: Range },
}

/// How many CPUs forkos keeps from `/cpus` (Linux `NR_CPUS`).
pub const MAX_DT_CPUS: usize = crate::arch::percpu::NR_CPUS;

/// The instruction that calls PSCI firmware, from `/psci`'s `method` (Linux
/// `psci_conduit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `hvc`: a hypervisor at EL2 (QEMU's own PSCI for `-M virt`).
    Hvc,
    /// `smc`: firmware at EL3 (QEMU with `virtualization=on`, where EL2 is ours).
    Smc,
}

/// The CPUs `/cpus` lists, by their MPIDR affinity (`reg`), in device-tree order (Linux
/// `of_parse_and_init_cpus`).
#[derive(Clone, Copy, Debug)]
pub struct CpuList {
    pub mpidr: [u64; MAX_DT_CPUS],
    pub count: usize,
    /// CPU nodes beyond `MAX_DT_CPUS`, left out.
    pub ignored: usize,
}

/// What the kernel learns from the device tree at boot.
pub struct BootInfo {
    /// The device tree blob itself.
    pub dtb: Range,
    pub model: &'static str,
    pub memory: RangeSet<MAX_DT_RANGES>,
    /// `/memreserve/` entries and `/reserved-memory` children.
    pub reserved: RangeSet<MAX_DT_RANGES>,
    pub initrd: Option<Range>,
    pub cmdline: &'static str,
    pub uart: Option<Range>,
    /// INTID of the UART's interrupt (an SPI).
    pub uart_intid: Option<u32>,
    pub gic: Option<GicInfo>,
    /// INTID of the EL1 virtual timer.
    pub timer_intid: Option<u32>,
    /// `/psci`'s conduit, if the node says PSCI 0.2 or later over `hvc` or `smc`.
    pub psci: Option<PsciConduit>,
    pub cpus: CpuList,
}

/// Why the device tree could not be used.
#[derive(Debug)]
pub enum DtbError {
    BadHeader(fdt::FdtError),
    NoMemory,
    TooManyRanges,
}

fn first_reg(node: fdt::node::FdtNode, index: usize) -> Option<Range> {
    let r = node.reg()?.nth(index)?;
    Some(Range::new(r.starting_address as u64, r.size? as u64))
}

/// Parse the device tree at `va` (its linear-map address), which lives at physical `pa`.
///
/// # Safety
/// `va` must map readable memory for as long as the kernel runs; the device tree region
/// is reserved so the page allocator never hands it out.
pub unsafe fn parse(va: u64, pa: u64) -> Result<BootInfo, DtbError> {
    // SAFETY: the caller guarantees va maps the blob; from_ptr checks the header.
    let fdt: Fdt<'static> =
        unsafe { Fdt::from_ptr(va as *const u8) }.map_err(DtbError::BadHeader)?;
    let mut memory = RangeSet::new();
    let mut reserved = RangeSet::new();
    for node in fdt.all_nodes() {
        let is_memory = node
            .property("device_type")
            .and_then(|p| p.as_str())
            .is_some_and(|s| s == "memory");
        if is_memory {
            for r in node.reg().into_iter().flatten() {
                let size = r.size.unwrap_or(0) as u64;
                memory
                    .add(Range::new(r.starting_address as u64, size))
                    .map_err(|_| DtbError::TooManyRanges)?;
            }
        }
    }
    if memory.total() == 0 {
        return Err(DtbError::NoMemory);
    }
    for r in fdt.memory_reservations() {
        reserved
            .add(Range::new(r.address() as u64, r.size() as u64))
            .map_err(|_| DtbError::TooManyRanges)?;
    }
    if let Some(rmem) = fdt.find_node("/reserved-memory") {
        for child in rmem.children() {
            for r in child.reg().into_iter().flatten() {
                reserved
                    .add(Range::new(
                        r.starting_address as u64,
                        r.size.unwrap_or(0) as u64,
                    ))
                    .map_err(|_| DtbError::TooManyRanges)?;
            }
        }
    }

    let chosen = fdt.find_node("/chosen");
    let cmdline = chosen
        .and_then(|c| c.property("bootargs"))
        .and_then(|p| p.as_str())
        .unwrap_or("");
    // QEMU 7.2 writes the initrd bounds as single 32-bit cells; others use 64 bits.
    let initrd_prop = |name| {
        chosen
            .and_then(|c| c.property(name))
            .and_then(|p| p.as_usize())
    };
    let initrd = match (
        initrd_prop("linux,initrd-start"),
        initrd_prop("linux,initrd-end"),
    ) {
        (Some(s), Some(e)) if e > s => Some(Range {
            base: s as u64,
            end: e as u64,
        }),
        _ => None,
    };

    let uart_node = fdt.find_compatible(&["arm,pl011"]);
    let uart = uart_node.and_then(|n| first_reg(n, 0));
    let uart_intid = uart_node
        .and_then(|n| n.property("interrupts"))
        .and_then(|p| fdt_irq::nth_intid(p.value, 0));
    let gic = if let Some(n) = fdt.find_compatible(&["arm,gic-v3"]) {
        first_reg(n, 0)
            .zip(first_reg(n, 1))
            .map(|(dist, redist)| GicInfo::V3 { dist, redist })
    } else {
        fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])
            .and_then(|n| first_reg(n, 0).zip(first_reg(n, 1)))
            .map(|(dist, cpu)| GicInfo::V2 { dist, cpu })
    };
    // The timer lists secure, non-secure, virtual and hypervisor PPIs, in that order.
    let timer_intid = fdt
        .find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
        .and_then(|n| n.property("interrupts"))
        .and_then(|p| fdt_irq::nth_intid(p.value, 2));

    // PSCI 0.2 and later have fixed function ids (CPU_ON is 0xC4000003), so only the
    // conduit is read (Linux `psci_0_2_init` via `get_set_conduit_method`).
    let psci = fdt
        .find_node("/psci")
        .filter(|n| {
            n.compatible()
                .is_some_and(|c| c.all().any(|s| s == "arm,psci-0.2" || s == "arm,psci-1.0"))
        })
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
        .and_then(|m| match m {
            "hvc" => Some(PsciConduit::Hvc),
            "smc" => Some(PsciConduit::Smc),
            _ => None,
        });
    let mut cpus = CpuList {
        mpidr: [0; MAX_DT_CPUS],
        count: 0,
        ignored: 0,
    };
    if let Some(node) = fdt.find_node("/cpus") {
        let is_cpu = |c: &fdt::node::FdtNode| {
            c.property("device_type")
                .and_then(|p| p.as_str())
                .is_some_and(|s| s == "cpu")
        };
        for c in node.children().filter(is_cpu) {
            let Some(reg) = c.property("reg").and_then(|p| p.as_usize()) else {
                continue;
            };
            if cpus.count == MAX_DT_CPUS {
                cpus.ignored += 1;
                continue;
            }
            cpus.mpidr[cpus.count] = reg as u64;
            cpus.count += 1;
        }
    }

    Ok(BootInfo {
        dtb: Range::new(pa, fdt.total_size() as u64),
        model: fdt
            .root()
            .property("model")
            .and_then(|p| p.as_str())
            .unwrap_or("unknown machine"),
        memory,
        reserved,
        initrd,
        cmdline,
        uart,
        uart_intid,
        gic,
        timer_intid,
        psci,
        cpus,
    })
}
