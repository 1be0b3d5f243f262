//! Random numbers for user space: `AT_RANDOM` and `getrandom` (Linux
//! `drivers/char/random.c`).
//!
//! forkos has no entropy source but the counter: a SplitMix64 generator seeded from it
//! at boot. That is not cryptographic; it only has to make each process's stack canary
//! and pointer guard differ, which is what glibc uses these bytes for.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::*;
use crate::mm::uaccess::copy_to_user;

static STATE: AtomicU64 = AtomicU64::new(0);

/// Seed the generator (at boot, once the counter runs).
pub fn init() {
    STATE.store(crate::drivers::arch_timer::counter(), Ordering::Relaxed);
}

/// The next 64 random bits (SplitMix64).
fn next_u64() -> u64 {
    let s = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mut z = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `N` random bytes (Linux `get_random_bytes`).
pub fn get_random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        let r = next_u64().to_le_bytes();
        chunk.copy_from_slice(&r[..chunk.len()]);
    }
    out
}

const GRND_NONBLOCK: u64 = 1;
const GRND_RANDOM: u64 = 2;
const GRND_INSECURE: u64 = 4;

/// `getrandom(buf, count, flags)`: fill `buf`; never blocks (the generator is always
/// ready). Linux caps one call at `INT_MAX` bytes.
pub fn sys_getrandom(buf: u64, count: u64, flags: u64) -> SysResult {
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(EINVAL);
    }
    let count = count.min(i32::MAX as u64);
    // Linux checks the whole range first (`import_single_range`), even for 0 bytes.
    crate::mm::uaccess::access_ok(buf, count)?;
    let mut done = 0u64;
    while done < count {
        let bytes = get_random_bytes::<64>();
        let n = (count - done).min(64) as usize;
        if let Err(e) = copy_to_user(buf.wrapping_add(done), &bytes[..n]) {
            return if done > 0 { Ok(done as i64) } else { Err(e) };
        }
        done += n as u64;
    }
    Ok(done as i64)
}
