//! Relink when the linker script or the boot assembly changes.
fn main() {
    println!("cargo:rerun-if-changed=../linker.ld");
    println!("cargo:rerun-if-changed=../boot/head.S");
    println!("cargo:rerun-if-changed=src/arch/aarch64/entry.S");
}
