//! The marker instructions of the instruction-counting QEMU plugin
//! (`tools/icount-plugin/`, whose README says what it measures): `hint #IMM` with IMM in
//! 0x40..0x7f, which the Arm architecture leaves unallocated, so they are NOPs on every
//! AArch64 CPU at every exception level (on real hardware and on Linux too). The kernel and
//! the user programs execute them at the start and end of a measured region, when a lock
//! class is taken and released, and to make the plugin print its counts.
//!
//! The same numbers are in `tools/icount-plugin/markers.h`; `tests/tests/icount_plugin.rs`
//! checks that the two lists agree.

/// Opens the measured region. Starts nest over all CPUs: the region is open from the
/// first start to the stop that balances the last one.
pub const REGION_START: u32 = 0x40;
/// Closes what one [`REGION_START`] opened.
pub const REGION_STOP: u32 = 0x41;
/// Prints the counts since the last dump, then resets them.
pub const DUMP: u32 = 0x42;
/// `LOCK_ACQUIRE + C`: this CPU took a lock of class C (0..[`LOCK_CLASSES`]).
pub const LOCK_ACQUIRE: u32 = 0x50;
/// `LOCK_RELEASE + C`: this CPU released a lock of class C.
pub const LOCK_RELEASE: u32 = 0x60;
/// How many lock classes the markers can name.
pub const LOCK_CLASSES: u32 = 16;

/// The marker for taking a lock of `class`.
pub const fn lock_acquire(class: u32) -> u32 {
    assert!(class < LOCK_CLASSES);
    LOCK_ACQUIRE + class
}

/// The marker for releasing a lock of `class`.
pub const fn lock_release(class: u32) -> u32 {
    assert!(class < LOCK_CLASSES);
    LOCK_RELEASE + class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_distinct_unallocated_hints() {
        let mut all = std::vec![REGION_START, REGION_STOP, DUMP];
        all.extend((0..LOCK_CLASSES).map(lock_acquire));
        all.extend((0..LOCK_CLASSES).map(lock_release));
        for (i, m) in all.iter().enumerate() {
            assert!(
                (0x40..=0x7f).contains(m),
                "{m:#x} is outside the unallocated hints"
            );
            assert!(!all[..i].contains(m), "{m:#x} twice");
        }
    }
}
