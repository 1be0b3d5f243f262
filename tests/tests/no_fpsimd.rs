//! The kernel never touches FP/SIMD registers, which belong to user tasks (Linux builds
//! with `-mgeneral-regs-only`; forkos targets `aarch64-unknown-none-softfloat`). The only
//! instructions naming them are in `fpsimd_save_state`, `fpsimd_load_state` and
//! `fpsimd_switch_state` (both at once, for a context switch), which
//! save and restore user state at a context switch. This disassembles the kernel to check.

use std::process::Command;

#[test]
fn only_fpsimd_save_and_load_use_fp_registers() {
    let elf = forkos_tests::repo_root().join("build/forkos.elf");
    assert!(elf.exists(), "{} missing: run `make test`", elf.display());
    let objdump = String::from_utf8(
        Command::new(forkos_tests::repo_root().join("scripts/need"))
            .arg("objcopy")
            .output()
            .expect("scripts/need objcopy")
            .stdout,
    )
    .unwrap()
    .trim()
    .replace("llvm-objcopy", "llvm-objdump");
    let out = Command::new(&objdump)
        .args(["-d", "--no-show-raw-insn"])
        .arg(&elf)
        .output()
        .expect("llvm-objdump");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut function = String::new();
    let mut offenders = Vec::new();
    let mut fp_in_save_load = 0;
    for line in text.lines() {
        if let Some(name) = line.strip_suffix(">:") {
            function = name.rsplit('<').next().unwrap_or("").to_string();
            continue;
        }
        let Some((addr, insn)) = line.split_once(':') else {
            continue;
        };
        if addr.trim().is_empty() || !addr.trim().chars().all(|c| c.is_ascii_hexdigit()) {
            continue;
        }
        // Literal pools disassemble as data (`.word`), not instructions; symbol names in
        // `<...>` are not operands.
        if insn.contains(".word") || insn.contains(".byte") || insn.contains(".short") {
            continue;
        }
        let insn = insn.split('<').next().unwrap_or("");
        let uses_fp = insn.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
            let mut c = w.chars();
            matches!(c.next(), Some('q' | 'd' | 's' | 'h' | 'b' | 'v'))
                && !w[1..].is_empty()
                && w[1..].chars().all(|d| d.is_ascii_digit())
                && w[1..].parse::<u32>().is_ok_and(|n| n < 32)
        }) || insn.to_ascii_lowercase().contains("fpsr")
            || insn.to_ascii_lowercase().contains("fpcr");
        if uses_fp {
            if matches!(
                function.as_str(),
                "fpsimd_save_state" | "fpsimd_load_state" | "fpsimd_switch_state"
            ) {
                fp_in_save_load += 1;
            } else {
                offenders.push(format!("{function}: {insn}"));
            }
        }
    }
    // One save and one load at least: 16 stp (ldp) of q0-q31, FPSR and FPCR, each way.
    assert!(
        fp_in_save_load >= 36,
        "the save/restore routines were not found"
    );
    assert!(
        offenders.is_empty(),
        "FP/SIMD use outside fpsimd_*_state:\n{}",
        offenders.join("\n")
    );
}
