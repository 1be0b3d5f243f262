//! Markers for the instruction-counting QEMU plugin (`tools/icount-plugin/`): each is one
//! `hint` instruction that every AArch64 CPU executes as a NOP, so a program keeps its
//! markers on forkos, on Linux and on hardware; only the plugin acts on them. The numbers
//! are in [`forkos_lib::icount_markers`].

use forkos_lib::icount_markers as m;

/// Executes marker `M`.
#[inline(always)]
pub fn mark<const M: u32>() {
    // SAFETY: `hint #M` with M in the unallocated hint space is a NOP: no register,
    // memory or flag changes.
    unsafe { core::arch::asm!("hint #{m}", m = const M, options(nomem, nostack, preserves_flags)) };
}

/// Opens the measured region (the plugin counts every CPU's instructions while it is open).
#[inline(always)]
pub fn region_start() {
    mark::<{ m::REGION_START }>();
}

/// Closes what one [`region_start`] opened.
#[inline(always)]
pub fn region_stop() {
    mark::<{ m::REGION_STOP }>();
}

/// Makes the plugin print its counts since the last dump and reset them.
#[inline(always)]
pub fn dump() {
    mark::<{ m::DUMP }>();
}
