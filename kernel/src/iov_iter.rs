//! User buffers as one stream of bytes: a single range or a vector of them (Linux
//! `lib/iov_iter.c`, `struct iov_iter`).
//!
//! Every syscall that moves a user buffer builds its [`IovIter`] through one of two
//! doors, which check everything before any byte moves, as Linux does:
//! - [`import_single_range`]: one buffer (`write`, `getrandom`): its count clamped to
//!   [`MAX_RW_COUNT`], then the whole range checked with `access_ok`, even for zero
//!   bytes;
//! - [`import_iovec`]: a `struct iovec` array (`writev`): the count checked against
//!   [`UIO_MAXIOV`], the whole array read, every length checked, then every range
//!   checked and the lengths summed, clamped to [`MAX_RW_COUNT`].
//!
//! The transfer itself ([`IovIter::copy_from_iter`], [`IovIter::copy_to_iter`]) then
//! copies what it can and says how much: a page that is unmapped part way is found
//! there, and the caller decides (a terminal drops the chunk, `getrandom` returns the
//! bytes it wrote). Read next: `tty_write` in `fs/char_dev.rs`, `get_random_bytes_user` in
//! `random.rs`.

use alloc::vec::Vec;

use forkos_lib::pgtable::PAGE_SIZE;

use crate::errno::*;
use crate::mm::uaccess::{
    access_ok, copy_from_user, raw_copy_from_user, raw_copy_to_user, Pod, UserPtr,
};

/// The most one read or write moves (Linux `MAX_RW_COUNT`: `INT_MAX & PAGE_MASK`).
pub const MAX_RW_COUNT: u64 = i32::MAX as u64 & !(PAGE_SIZE as u64 - 1);

/// The most segments one vector may have (Linux `UIO_MAXIOV`).
pub const UIO_MAXIOV: u32 = 1024;

/// One segment (Linux `struct iovec`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Iovec {
    pub iov_base: u64,
    pub iov_len: u64,
}

// SAFETY: two u64s, no padding.
unsafe impl Pod for Iovec {}

/// What an [`IovIter`] walks (Linux's iterator types): one user buffer, held in place
/// (`ITER_UBUF`), a vector of them read from user memory (`ITER_IOVEC`), or a kernel
/// buffer (`ITER_KVEC`, as `sendfile` passes data from one file to another).
enum Segments {
    Ubuf(Iovec),
    Iovec(Vec<Iovec>),
    Kvec(Vec<u8>),
}

impl Segments {
    fn as_slice(&self) -> &[Iovec] {
        match self {
            Segments::Ubuf(v) => core::slice::from_ref(v),
            Segments::Iovec(v) => v,
            Segments::Kvec(_) => &[],
        }
    }
}

/// A position in a list of user segments (Linux `struct iov_iter`).
pub struct IovIter {
    iov: Segments,
    /// The segment the next byte comes from, and the offset in it.
    seg: usize,
    off: u64,
    /// Bytes left.
    count: u64,
}

/// One user buffer as an iterator (Linux `import_single_range`): the length clamped to
/// [`MAX_RW_COUNT`], then the whole range checked, zero bytes included.
pub fn import_single_range(buf: UserPtr<u8>, len: u64) -> Result<IovIter, Errno> {
    let buf = buf.addr();
    let len = len.min(MAX_RW_COUNT);
    access_ok(buf, len)?;
    Ok(IovIter {
        iov: Segments::Ubuf(Iovec {
            iov_base: buf,
            iov_len: len,
        }),
        seg: 0,
        off: 0,
        count: len,
    })
}

/// Read a user `struct iovec` array of `nr_segs` entries (Linux `iovec_from_user` and
/// `copy_iovec_from_user`): none read for zero, `EINVAL` past [`UIO_MAXIOV`], `EFAULT`
/// if the array cannot be read whole, `EINVAL` for a length that is negative as a
/// `ssize_t`, whichever segment it is in.
fn iovec_from_user(uvec: UserPtr<Iovec>, nr_segs: u32) -> Result<Vec<Iovec>, Errno> {
    if nr_segs == 0 {
        return Ok(Vec::new());
    }
    if nr_segs > UIO_MAXIOV {
        return Err(EINVAL);
    }
    let size = core::mem::size_of::<Iovec>();
    let mut iov = alloc::vec![Iovec::default(); nr_segs as usize];
    // SAFETY: Iovec is Pod (two u64s, no padding), so its bytes may be overwritten with
    // any values; the slice covers exactly the vector's initialised elements.
    let bytes =
        unsafe { core::slice::from_raw_parts_mut(iov.as_mut_ptr() as *mut u8, iov.len() * size) };
    copy_from_user(bytes, uvec.cast())?;
    if iov.iter().any(|v| (v.iov_len as i64) < 0) {
        return Err(EINVAL);
    }
    Ok(iov)
}

/// A user `struct iovec` array as an iterator (Linux `import_iovec` /
/// `__import_iovec`). `nr_segs` is an `unsigned int` in Linux: the caller's count is
/// cut to 32 bits. Every segment is read and checked before anything moves: the
/// whole array first, then each range with `access_ok` (`EFAULT`, a zero-length one
/// too), the lengths summed and clamped to [`MAX_RW_COUNT`] (so they cannot overflow).
pub fn import_iovec(uvec: UserPtr<Iovec>, nr_segs: u64) -> Result<IovIter, Errno> {
    let mut iov = iovec_from_user(uvec, nr_segs as u32)?;
    let mut total = 0u64;
    for v in iov.iter_mut() {
        access_ok(v.iov_base, v.iov_len)?;
        if v.iov_len > MAX_RW_COUNT - total {
            v.iov_len = MAX_RW_COUNT - total;
        }
        total += v.iov_len;
    }
    Ok(IovIter {
        iov: Segments::Iovec(iov),
        seg: 0,
        off: 0,
        count: total,
    })
}

/// A kernel buffer as an iterator (Linux `iov_iter_kvec`): `data` to be written, or
/// as many zeroes as a read may fill.
pub fn kvec(data: Vec<u8>) -> IovIter {
    let count = data.len() as u64;
    IovIter {
        iov: Segments::Kvec(data),
        seg: 0,
        off: 0,
        count,
    }
}

impl IovIter {
    /// The kernel buffer of a [`kvec`] iterator, cut to the bytes moved so far.
    pub fn into_kvec(self) -> Vec<u8> {
        match self.iov {
            Segments::Kvec(mut v) => {
                v.truncate(self.off as usize);
                v
            }
            _ => Vec::new(),
        }
    }

    /// Bytes left (Linux `iov_iter_count`).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Move `len` bytes at most between a kernel buffer and the segments, in order,
    /// stopping at the first byte that cannot be reached; `step(user, done, n)` moves
    /// `n` bytes between user address `user` and the kernel buffer at offset `done`
    /// and returns the bytes it could not move. Returns the bytes moved (Linux
    /// `iterate_iovec`).
    fn iterate(&mut self, len: usize, mut step: impl FnMut(u64, usize, usize) -> usize) -> usize {
        let want = (len as u64).min(self.count) as usize;
        let mut done = 0;
        while done < want {
            let v = self.iov.as_slice()[self.seg];
            let n = ((v.iov_len - self.off) as usize).min(want - done);
            let left = step(v.iov_base + self.off, done, n);
            let moved = n - left;
            done += moved;
            self.off += moved as u64;
            self.count -= moved as u64;
            if left != 0 {
                break;
            }
            if self.off == v.iov_len {
                self.seg += 1;
                self.off = 0;
            }
        }
        done
    }

    /// Fill `dst` from the user segments (Linux `copy_from_iter`); returns how many
    /// bytes were copied, fewer than asked at an unreachable page.
    pub fn copy_from_iter(&mut self, dst: &mut [u8]) -> usize {
        if let Segments::Kvec(buf) = &self.iov {
            let n = dst.len().min(self.count as usize);
            let at = self.off as usize;
            dst[..n].copy_from_slice(&buf[at..at + n]);
            self.off += n as u64;
            self.count -= n as u64;
            return n;
        }
        self.iterate(dst.len(), |user, done, n| {
            raw_copy_from_user(&mut dst[done..done + n], UserPtr::new(user))
        })
    }

    /// Copy `src` out to the user segments (Linux `copy_to_iter`); returns how many
    /// bytes were copied, fewer than asked at an unreachable page.
    pub fn copy_to_iter(&mut self, src: &[u8]) -> usize {
        if let Segments::Kvec(buf) = &mut self.iov {
            let n = src.len().min(self.count as usize);
            let at = self.off as usize;
            buf[at..at + n].copy_from_slice(&src[..n]);
            self.off += n as u64;
            self.count -= n as u64;
            return n;
        }
        self.iterate(src.len(), |user, done, n| {
            raw_copy_to_user(UserPtr::new(user), &src[done..done + n])
        })
    }
}
