//! The architecture boundary: generic code uses `crate::arch::...`, which is AArch64
//! (Linux `arch/arm64`), the only architecture forkos runs on.

pub mod aarch64;
pub use aarch64::*;
