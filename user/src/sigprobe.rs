//! A signal handler that records where it will return: installed without
//! `SA_RESTORER` (as glibc does on arm64), it returns through the kernel's signal
//! trampoline, so its x30 is the trampoline's address. The trampoline tests and the
//! fuzzer use it to check that every process still has a working, unmodified trampoline.

use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// The return address (x30) the last probe run was entered with.
static SIGRET_LR: AtomicUsize = AtomicUsize::new(0);
/// How many times the probe ran (and returned through the trampoline).
static HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_sig: i32) {
    HITS.fetch_add(1, SeqCst);
}

extern "C" {
    /// Records its x30 in [`SIGRET_LR`], then goes on as [`on_signal`].
    fn forkos_sigreturn_probe();
}

core::arch::global_asm!(
    ".text",
    ".global forkos_sigreturn_probe",
    "forkos_sigreturn_probe:",
    "adrp x9, {slot}",
    "add x9, x9, :lo12:{slot}",
    "str x30, [x9]",
    "b {body}",
    slot = sym SIGRET_LR,
    body = sym on_signal,
);

/// The probe's address, for `sa_handler`.
pub fn handler() -> u64 {
    forkos_sigreturn_probe as *const () as u64
}

/// How many times the probe has run.
pub fn hits() -> usize {
    HITS.load(SeqCst)
}

/// Where the last run returned to: the trampoline.
pub fn return_address() -> usize {
    SIGRET_LR.load(SeqCst)
}
