//! Listing a directory (Linux `fs/readdir.c`): `getdents64`.

use super::fdtable::fget;
use super::file::{DirContext, DirEntry};
use crate::errno::*;
use crate::mm::uaccess::{copy_to_user, UserPtr};

/// The fixed part of `struct linux_dirent64`: `d_ino`, `d_off`, `d_reclen`, `d_type`.
const DIRENT64_HEADER: usize = 19;

/// `getdents64(fd, dirp, count)` (Linux `ksys_getdents64` + `filldir64`): whole
/// records while they fit; `EINVAL` if not even the first does.
pub fn sys_getdents64(fd: u64, dirp: UserPtr<u8>, count: u64) -> SysResult {
    let f = fget(fd)?;
    // No access_ok first: a bad buffer is EFAULT only once there is an entry to copy
    // (Linux 6.1 checks it in `filldir64`).
    let count = count as u32 as usize;
    let mut buf: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    let mut too_small = false;
    let mut actor = |e: &DirEntry, next: i64| {
        let reclen = (DIRENT64_HEADER + e.name.len() + 1).next_multiple_of(8);
        if buf.len() + reclen > count {
            too_small = buf.is_empty();
            return false;
        }
        let start = buf.len();
        buf.extend_from_slice(&e.ino.to_le_bytes());
        buf.extend_from_slice(&next.to_le_bytes());
        buf.extend_from_slice(&(reclen as u16).to_le_bytes());
        buf.push(e.d_type);
        buf.extend_from_slice(e.name);
        buf.resize(start + reclen, 0);
        true
    };
    let mut pos = f.f_pos.lock();
    let mut ctx = DirContext {
        pos: *pos,
        actor: &mut actor,
    };
    f.f_op.iterate_shared(&f, &mut ctx)?;
    let new_pos = ctx.pos;
    if too_small {
        return Err(EINVAL);
    }
    copy_to_user(dirp, &buf)?;
    *pos = new_pos;
    Ok(buf.len() as i64)
}
