//! Reading and writing user memory from the kernel (Linux `copy_from_user`,
//! `copy_to_user`, `get_user`, `put_user`).
//!
//! A user pointer is its own type, [`UserPtr`], and the only way through it is a checked
//! copy: every page is looked up in the current address space's mappings, with the
//! mapping's permissions, and faulted in if needed. An address outside user space, an
//! unmapped one, or one the mapping does not allow gives `EFAULT`, never a kernel fault.
//! (Linux lets the MMU check and fixes faults up through exception tables; forkos walks
//! the tables in software, which is simpler to read and just as strict.) One walk,
//! [`walk_user_pages`], serves the copies, the string scans ([`strndup_user`],
//! [`strnlen_user`]) and exec's writes into the address space it builds.

use core::marker::PhantomData;
use core::ops::ControlFlow;

use forkos_lib::pgtable::PAGE_SIZE;

use super::memory::Access;
use super::{MmLock, TASK_SIZE};
use crate::arch::memory::phys_to_virt;
use crate::errno::{Errno, EFAULT};
use crate::task::current;

/// Plain data that may be copied to or from user memory byte for byte.
///
/// # Safety
/// Every bit pattern must be a valid value of the type, and it must have no padding
/// that could leak kernel memory when written out.
pub unsafe trait Pod: Copy {}
// SAFETY: integers accept every bit pattern and have no padding.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for i64 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for i16 {}
// SAFETY: arrays of Pod are Pod.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// Walk `[addr, addr + len)` of the locked address space `mm` page by page (the page
/// loop of Linux `__access_remote_vm`): fault each page in for `access` with
/// [`MmLock::handle_mm_fault`] and hand `f` the part of it in the range, as a kernel
/// pointer to its first byte and a length, in address order. Stops at the first page
/// that cannot be had, or when `f` breaks; returns how many bytes the parts handed to
/// `f` held. The one walk of user memory: the copies to and from user space, the string
/// scans and exec's writes into the new address space all go through it.
///
/// Each part lies in one page, mapped in `mm` and linear mapped in the kernel, valid to
/// read (and, for `Access::Write`, to write) while the lock is held; other threads of
/// the address space may write it meanwhile, so it is read and written through the
/// pointer, never as a Rust reference.
pub fn walk_user_pages(
    mm: &mut MmLock<'_>,
    addr: u64,
    len: usize,
    access: Access,
    mut f: impl FnMut(*mut u8, usize) -> ControlFlow<()>,
) -> usize {
    let mut done = 0usize;
    while done < len {
        let va = addr + done as u64;
        let in_page = (PAGE_SIZE - (va as usize % PAGE_SIZE)).min(len - done);
        let Ok(pa) = mm.handle_mm_fault(va, access) else {
            break;
        };
        done += in_page;
        let kva = (phys_to_virt(pa) + va % PAGE_SIZE as u64) as *mut u8;
        if f(kva, in_page).is_break() {
            break;
        }
    }
    done
}

/// Copy up to `len` bytes between the kernel buffer at `kbuf` and user address `uaddr`
/// of the current task, stopping at the first page that cannot be reached; returns how
/// many bytes were *not* copied (Linux `raw_copy_{from,to}_user`). `to_user` chooses
/// the direction. The caller has checked the range with [`access_ok`].
fn raw_copy_user(uaddr: u64, kbuf: *mut u8, len: usize, to_user: bool) -> usize {
    if len == 0 {
        return 0;
    }
    let Some(mm) = current().get_task_mm() else {
        return len;
    };
    let access = if to_user { Access::Write } else { Access::Read };
    let mut done = 0usize;
    let reached = walk_user_pages(&mut mm.lock(), uaddr, len, access, |kva, n| {
        // SAFETY: kva..+n is a part of a user page as walk_user_pages hands it (and
        // writable for Access::Write); the caller guarantees kbuf..+len is valid kernel
        // memory, and done + n <= len.
        unsafe {
            if to_user {
                core::ptr::copy_nonoverlapping(kbuf.add(done), kva, n);
            } else {
                core::ptr::copy_nonoverlapping(kva, kbuf.add(done), n);
            }
        }
        done += n;
        ControlFlow::Continue(())
    });
    len - reached
}

/// Why a string could not be read in full.
#[derive(Debug, PartialEq, Eq)]
pub enum StrError {
    /// A page before the NUL could not be had.
    Fault,
    /// No NUL in the bytes allowed.
    TooLong,
}

/// Scan the NUL-terminated string at `addr` of `mm`, reading at most `max` bytes (NUL
/// included), and hand `f` each part of it before the NUL, as [`walk_user_pages`] does;
/// returns its length without the NUL (the loop of Linux `do_strnlen_user` and
/// `do_strncpy_from_user`).
pub fn scan_user_string(
    mm: &mut MmLock<'_>,
    addr: u64,
    max: usize,
    mut f: impl FnMut(*const u8, usize),
) -> Result<usize, StrError> {
    // Never past the end of user space (nor of the address range).
    let room = TASK_SIZE.saturating_sub(addr).min(usize::MAX as u64) as usize;
    let len = max.min(room);
    let mut seen = 0usize;
    let mut ended = false;
    let reached = walk_user_pages(mm, addr, len, Access::Read, |kva, n| {
        // SAFETY: kva..+n is readable, as walk_user_pages hands it; read byte by byte
        // through the pointer, as other threads may write it meanwhile.
        let nul = (0..n).position(|i| unsafe { kva.add(i).read() } == 0);
        f(kva, nul.unwrap_or(n));
        match nul {
            Some(z) => {
                seen += z;
                ended = true;
                ControlFlow::Break(())
            }
            None => {
                seen += n;
                ControlFlow::Continue(())
            }
        }
    });
    if ended {
        Ok(seen)
    } else if reached == max {
        Err(StrError::TooLong)
    } else {
        Err(StrError::Fault)
    }
}

/// Copy all `len` bytes or fail with `EFAULT` (Linux `copy_from_user`/`copy_to_user`):
/// the whole range is checked first, even for zero bytes; a fault part way leaves
/// what was copied before it, as on Linux.
fn copy_user(uaddr: u64, kbuf: *mut u8, len: usize, to_user: bool) -> Result<(), Errno> {
    access_ok(uaddr, len as u64)?;
    match raw_copy_user(uaddr, kbuf, len, to_user) {
        0 => Ok(()),
        _ => Err(EFAULT),
    }
}

/// Copy as much of `dst.len()` bytes from user `src` as can be reached, in order;
/// returns the bytes not copied (Linux `raw_copy_from_user`, after `access_ok`).
pub fn raw_copy_from_user(dst: &mut [u8], src: UserPtr<u8>) -> usize {
    raw_copy_user(src.addr(), dst.as_mut_ptr(), dst.len(), false)
}

/// Copy as much of `src` to user `dst` as can be reached, in order; returns the bytes
/// not copied (Linux `raw_copy_to_user`, after `access_ok`).
pub fn raw_copy_to_user(dst: UserPtr<u8>, src: &[u8]) -> usize {
    raw_copy_user(dst.addr(), src.as_ptr() as *mut u8, src.len(), true)
}

/// Does `[addr, addr + len)` lie in user space (Linux `access_ok`)? Even a zero-length
/// access to a kernel address is `EFAULT`, as on Linux.
pub fn access_ok(addr: u64, len: u64) -> Result<(), Errno> {
    match addr.checked_add(len) {
        Some(end) if end <= TASK_SIZE => Ok(()),
        _ => Err(EFAULT),
    }
}

/// Copy user memory at `src` into `dst` (Linux `copy_from_user`).
pub fn copy_from_user(dst: &mut [u8], src: UserPtr<u8>) -> Result<(), Errno> {
    copy_user(src.addr(), dst.as_mut_ptr(), dst.len(), false)
}

/// Copy `src` to user memory at `dst` (Linux `copy_to_user`).
pub fn copy_to_user(dst: UserPtr<u8>, src: &[u8]) -> Result<(), Errno> {
    copy_user(dst.addr(), src.as_ptr() as *mut u8, src.len(), true)
}

/// Copy a NUL-terminated string of at most `max` bytes (NUL included) from user space
/// (Linux `strncpy_from_user`); `too_long` if it does not end in time.
pub fn strndup_user(
    addr: UserPtr<u8>,
    max: usize,
    too_long: Errno,
) -> Result<alloc::vec::Vec<u8>, Errno> {
    let addr = addr.addr();
    access_ok(addr, 1)?;
    let mm = current().get_task_mm().ok_or(EFAULT)?;
    let mut out = alloc::vec::Vec::<u8>::new();
    let scanned = scan_user_string(&mut mm.lock(), addr, max, |part, n| {
        out.reserve(n);
        // SAFETY: part..+n is readable, as scan_user_string hands it; the vector has
        // room for n more bytes, which are initialised before its length grows.
        unsafe {
            core::ptr::copy_nonoverlapping(part, out.as_mut_ptr().add(out.len()), n);
            out.set_len(out.len() + n);
        }
    });
    match scanned {
        Ok(_) => Ok(out),
        Err(StrError::TooLong) => Err(too_long),
        Err(StrError::Fault) => Err(EFAULT),
    }
}

/// Length of the user string at `addr` without its NUL; `too_long` if it does not end
/// within `max` bytes, NUL included (Linux `strnlen_user`).
pub fn strnlen_user(addr: UserPtr<u8>, max: usize, too_long: Errno) -> Result<usize, Errno> {
    let addr = addr.addr();
    access_ok(addr, 1)?;
    let mm = current().get_task_mm().ok_or(EFAULT)?;
    let scanned = scan_user_string(&mut mm.lock(), addr, max, |_, _| {});
    match scanned {
        Ok(n) => Ok(n),
        Err(StrError::TooLong) => Err(too_long),
        Err(StrError::Fault) => Err(EFAULT),
    }
}

/// A pointer into the current task's user memory (Linux's `T __user *`): what a syscall
/// handler takes for a pointer argument. Nothing can dereference it; the only way
/// through it is a checked copy ([`UserPtr::read`], [`UserPtr::write`], or the
/// functions above with [`UserPtr::addr`]), which gives `EFAULT` for a bad address.
#[repr(transparent)]
pub struct UserPtr<T> {
    addr: u64,
    _t: PhantomData<*mut T>,
}

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for UserPtr<T> {}

/// The null pointer (Linux's `NULL` for "none").
impl<T> Default for UserPtr<T> {
    fn default() -> Self {
        UserPtr::new(0)
    }
}

impl<T> core::fmt::Debug for UserPtr<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "UserPtr({:#x})", self.addr)
    }
}

// SAFETY: a user address is a u64 (repr(transparent)); every bit pattern is one, so an
// array of pointers (argv) may be read from user memory.
unsafe impl<T> Pod for UserPtr<T> {}

impl<T> UserPtr<T> {
    /// The pointer a syscall argument register holds.
    #[inline(always)]
    pub const fn new(addr: u64) -> Self {
        UserPtr {
            addr,
            _t: PhantomData,
        }
    }

    pub fn addr(&self) -> u64 {
        self.addr
    }

    pub fn is_null(&self) -> bool {
        self.addr == 0
    }

    /// The same address, as a pointer to something else (Linux's casts of `__user`
    /// pointers).
    pub fn cast<U>(self) -> UserPtr<U> {
        UserPtr::new(self.addr)
    }

    /// The `i`-th element after this one.
    pub fn add(&self, i: usize) -> Self {
        Self::new(
            self.addr
                .wrapping_add((i * core::mem::size_of::<T>()) as u64),
        )
    }
}

impl<T: Pod> UserPtr<T> {
    /// Read the value (Linux `get_user` / `copy_from_user`).
    pub fn read(&self) -> Result<T, Errno> {
        let mut v = core::mem::MaybeUninit::<T>::uninit();
        copy_user(
            self.addr,
            v.as_mut_ptr() as *mut u8,
            core::mem::size_of::<T>(),
            false,
        )?;
        // SAFETY: all size_of::<T>() bytes were written, and T is Pod.
        Ok(unsafe { v.assume_init() })
    }

    /// Write the value (Linux `put_user` / `copy_to_user`).
    pub fn write(&self, v: &T) -> Result<(), Errno> {
        copy_user(
            self.addr,
            v as *const T as *mut u8,
            core::mem::size_of::<T>(),
            true,
        )
    }
}
