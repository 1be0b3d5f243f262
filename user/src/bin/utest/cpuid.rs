//! Instructions EL0 may run though the kernel steps in (Linux `do_el0_sys`,
//! `emulate_mrs`): `wfi` and `wfe`, the ID registers, and `AT_HWCAP`, which says
//! `HWCAP_CPUID` (bit 11): "the ID registers can be read".

use crate::util::{child_code, exited, expect_killed_by, wait, T};
use forkos_lib::uapi::auxvec::{AT_HWCAP, AT_HWCAP2};
use forkos_lib::uapi::hwcap::{HWCAP_ASIMD, HWCAP_CPUID, HWCAP_FP};
use forkos_user::rt::getauxval;
use forkos_user::sys::SIGILL;

/// `mrs` of a system register named by its encoding.
macro_rules! mrs {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reading a system register has no effect but a trap the kernel
        // handles (emulating it, or with SIGILL).
        unsafe { core::arch::asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// `wfi` and `wfe` at EL0 do not stop the program: Linux traps `wfi` and steps over
/// it, and lets `wfe` run, woken by the timer's event stream at the latest.
pub fn wfi_wfe_at_el0_continue() -> T {
    let pid = child_code(|| {
        for _ in 0..100 {
            // SAFETY: waiting instructions; no register or memory is touched.
            unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
        }
        for _ in 0..10 {
            // SAFETY: as above.
            unsafe { core::arch::asm!("sev", "wfe", "wfe", options(nomem, nostack)) };
        }
        7
    })?;
    check_eq!(wait(pid)?, exited(7), "100 wfi and 20 wfe");
    Ok(())
}

/// The ID registers read from EL0 (Linux `emulate_mrs`): MIDR as the CPU has it,
/// MPIDR as 0x80000000, REVIDR as 0, the ID_AA64* registers with only the fields
/// Linux shows, untracked ones as 0; `mrs xzr` works. On QEMU's cortex-a72 the values
/// are exactly Linux 6.1's. Other registers of the ID space with CRm 0 or 1, and
/// registers outside it, are SIGILL.
pub fn mrs_id_registers_emulated() -> T {
    let midr = mrs!("midr_el1");
    let regs = [
        ("MPIDR_EL1", mrs!("mpidr_el1")),
        ("REVIDR_EL1", mrs!("revidr_el1")),
        ("ID_AA64PFR0_EL1", mrs!("s3_0_c0_c4_0")),
        ("ID_AA64PFR1_EL1", mrs!("s3_0_c0_c4_1")),
        ("ID_AA64ZFR0_EL1", mrs!("s3_0_c0_c4_4")),
        ("ID_AA64DFR0_EL1", mrs!("s3_0_c0_c5_0")),
        ("ID_AA64AFR0_EL1", mrs!("s3_0_c0_c5_4")),
        ("ID_AA64ISAR0_EL1", mrs!("s3_0_c0_c6_0")),
        ("ID_AA64ISAR1_EL1", mrs!("s3_0_c0_c6_1")),
        ("ID_AA64ISAR2_EL1", mrs!("s3_0_c0_c6_2")),
        ("ID_AA64MMFR0_EL1", mrs!("s3_0_c0_c7_0")),
        ("ID_AA64MMFR1_EL1", mrs!("s3_0_c0_c7_1")),
        ("ID_AA64MMFR2_EL1", mrs!("s3_0_c0_c7_2")),
        ("reserved (3,0,0,4,2)", mrs!("s3_0_c0_c4_2")),
        ("ID_ISAR0_EL1", mrs!("s3_0_c0_c2_0")),
        ("ID_ISAR5_EL1", mrs!("s3_0_c0_c2_5")),
        ("MVFR0_EL1", mrs!("s3_0_c0_c3_0")),
        ("MVFR1_EL1", mrs!("s3_0_c0_c3_1")),
    ];
    // SAFETY: as in mrs!; the result goes nowhere.
    unsafe { core::arch::asm!("mrs xzr, midr_el1", options(nomem, nostack)) };
    check_eq!(regs[0].1, 0x8000_0000, "MPIDR_EL1");
    check_eq!(regs[1].1, 0, "REVIDR_EL1");
    // DebugVer reads 6, every other field of ID_AA64DFR0 is hidden; ID_AA64PFR0's EL0
    // and EL1 fields say "AArch64 only".
    check_eq!(regs[5].1, 6, "ID_AA64DFR0_EL1");
    check_eq!(regs[2].1 & 0xff, 0x11, "ID_AA64PFR0_EL1 EL1/EL0 fields");
    check_eq!(regs[13].1, 0, "reserved ID register");
    /// Linux 6.1's values on QEMU's cortex-a72 (r0p3).
    const CORTEX_A72: u64 = 0x410f_d083;
    const LINUX_A72: [u64; 18] = [
        0x8000_0000,
        0,
        0x11,
        0,
        0,
        6,
        0,
        0x1_1120,
        0,
        0,
        0x0000_0111_ff00_0000,
        0,
        0,
        0,
        0,
        0x1_1120,
        0x200,
        0x1001_1100,
    ];
    if midr == CORTEX_A72 {
        for ((name, got), want) in regs.iter().zip(LINUX_A72) {
            check_eq!(*got, want, "{name} on cortex-a72");
        }
    }
    // Not emulated: CRm 0 other than MIDR/MPIDR/REVIDR, CRm 1, and other CRn.
    expect_killed_by(SIGILL, || {
        mrs!("s3_0_c0_c0_1");
    })?;
    expect_killed_by(SIGILL, || {
        mrs!("s3_0_c0_c1_0");
    })?;
    expect_killed_by(SIGILL, || {
        mrs!("sctlr_el1");
    })?;
    Ok(())
}

/// `AT_HWCAP` says FP, ASIMD and CPUID; on QEMU's cortex-a72 it is exactly Linux
/// 6.1's (fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid), and `AT_HWCAP2` is 0.
pub fn at_hwcap_has_cpuid() -> T {
    let hwcap = getauxval(AT_HWCAP as usize);
    check!(hwcap.is_some(), "no AT_HWCAP in the auxiliary vector");
    let hwcap = hwcap.unwrap_or(0);
    let want = (HWCAP_FP | HWCAP_ASIMD | HWCAP_CPUID) as usize;
    check_eq!(hwcap & want, want, "AT_HWCAP {hwcap:#x}: FP, ASIMD, CPUID");
    if mrs!("midr_el1") == 0x410f_d083 {
        check_eq!(hwcap, 0x8ff, "AT_HWCAP on cortex-a72");
        check_eq!(
            getauxval(AT_HWCAP2 as usize),
            Some(0),
            "AT_HWCAP2 on cortex-a72"
        );
    }
    Ok(())
}
