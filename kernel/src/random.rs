//! Random numbers for user space: `AT_RANDOM` and `getrandom` (Linux
//! `drivers/char/random.c`).
//!
//! forkos has no entropy source but the counter: a SplitMix64 generator seeded from it
//! at boot. That is not cryptographic; it only has to make each process's stack canary
//! and pointer guard differ, which is what glibc uses these bytes for.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::errno::*;
use crate::iov_iter::{import_single_range, IovIter};
use crate::mm::uaccess::UserPtr;
use forkos_lib::pgtable::PAGE_SIZE;
use forkos_lib::uapi::random::*;

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

/// `getrandom(buf, count, flags)` (Linux `sys_getrandom`): the flags, then the buffer
/// ([`import_single_range`]: the count clamped to `MAX_RW_COUNT`, the whole range
/// checked, zero bytes included), then the bytes. Never blocks: the generator is
/// always ready.
pub fn sys_getrandom(buf: UserPtr<u8>, count: u64, flags: u64) -> SysResult {
    let flags = flags as u32; // an unsigned int in Linux
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(EINVAL);
    }
    let mut iter = import_single_range(buf, count)?;
    get_random_bytes_user(&mut iter)
}

/// Fill `iter` with random bytes (Linux `get_random_bytes_user`), a 64-byte block at a
/// time; at a page that cannot be written, stop and return the bytes written before
/// it, or `EFAULT` if there were none.
fn get_random_bytes_user(iter: &mut IovIter) -> SysResult {
    if iter.count() == 0 {
        return Ok(0);
    }
    let mut ret = 0usize;
    loop {
        let block = get_random_bytes::<64>();
        let copied = iter.copy_to_iter(&block);
        ret += copied;
        if iter.count() == 0 || copied != block.len() {
            break;
        }
        if ret.is_multiple_of(PAGE_SIZE) && crate::task::current().signal_pending() {
            break;
        }
    }
    if ret == 0 {
        Err(EFAULT)
    } else {
        Ok(ret as i64)
    }
}
