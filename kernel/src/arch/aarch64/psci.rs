//! Calling PSCI firmware to start CPUs (Linux `drivers/firmware/psci/psci.c` and
//! `arch/arm64/kernel/psci.c`).
//!
//! The Power State Coordination Interface is a calling convention: the function id in
//! x0, arguments in x1-x3, the result back in x0, through `hvc` (a hypervisor, QEMU's own
//! PSCI for `-M virt`) or `smc` (EL3 firmware, QEMU's with `virtualization=on`), as the
//! device tree's `/psci` node says. forkos uses `CPU_ON` only.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::dtb::PsciConduit;

/// `CPU_ON` in the SMC64 range (PSCI 0.2 and later; Linux `PSCI_0_2_FN64_CPU_ON`).
pub const PSCI_0_2_FN64_CPU_ON: u64 = 0xC400_0003;

/// The conduit: 0 none, 1 hvc, 2 smc (Linux `psci_conduit`).
static CONDUIT: AtomicU8 = AtomicU8::new(0);

/// A PSCI error (Linux's `PSCI_RET_*`, `psci_to_linux_errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciError {
    NotSupported,
    InvalidParameters,
    Denied,
    AlreadyOn,
    OnPending,
    InternalFailure,
    NotPresent,
    Disabled,
    InvalidAddress,
    /// A value PSCI does not define, or no conduit at all.
    Other(i64),
}

impl PsciError {
    fn from_ret(ret: i64) -> Result<(), PsciError> {
        Err(match ret {
            0 => return Ok(()),
            -1 => PsciError::NotSupported,
            -2 => PsciError::InvalidParameters,
            -3 => PsciError::Denied,
            -4 => PsciError::AlreadyOn,
            -5 => PsciError::OnPending,
            -6 => PsciError::InternalFailure,
            -7 => PsciError::NotPresent,
            -8 => PsciError::Disabled,
            -9 => PsciError::InvalidAddress,
            r => PsciError::Other(r),
        })
    }
}

/// Use `conduit` for every later call (Linux `set_conduit`).
pub fn psci_init(conduit: PsciConduit) {
    let c = match conduit {
        PsciConduit::Hvc => 1,
        PsciConduit::Smc => 2,
    };
    CONDUIT.store(c, Ordering::Relaxed);
}

/// Call PSCI function `fn_id` with three arguments (Linux `__invoke_psci_fn_hvc` /
/// `__invoke_psci_fn_smc`, the SMCCC `arm_smccc_1_1_invoke`).
fn invoke_psci_fn(fn_id: u64, a0: u64, a1: u64, a2: u64) -> i64 {
    let mut x0 = fn_id;
    match CONDUIT.load(Ordering::Relaxed) {
        // SAFETY: an SMCCC call: the firmware reads x0-x3, returns in x0 and may clobber
        // x1-x17 (SMCCC 1.1 keeps x4-x17, but declaring them costs nothing here).
        1 => unsafe {
            core::arch::asm!("hvc #0", inout("x0") x0, inout("x1") a0 => _,
                inout("x2") a1 => _, inout("x3") a2 => _, out("x4") _, out("x5") _,
                out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
                out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                out("x16") _, out("x17") _, options(nostack))
        },
        // SAFETY: as above, through the secure monitor.
        2 => unsafe {
            core::arch::asm!("smc #0", inout("x0") x0, inout("x1") a0 => _,
                inout("x2") a1 => _, inout("x3") a2 => _, out("x4") _, out("x5") _,
                out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
                out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                out("x16") _, out("x17") _, options(nostack))
        },
        _ => return -1,
    }
    x0 as i64
}

/// Start the CPU with affinity `mpidr` at physical address `entry_pa`, MMU off, with
/// `context_id` in its x0 (Linux `psci_0_2_cpu_on`, called by `cpu_psci_cpu_boot`).
pub fn psci_cpu_on(mpidr: u64, entry_pa: u64, context_id: u64) -> Result<(), PsciError> {
    PsciError::from_ret(invoke_psci_fn(
        PSCI_0_2_FN64_CPU_ON,
        mpidr,
        entry_pa,
        context_id,
    ))
}
