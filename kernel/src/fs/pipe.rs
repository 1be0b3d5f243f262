//! Pipes (Linux `fs/pipe.c`).
//!
//! `pipe2` makes one [`PipeInodeInfo`] — a bounded buffer of [`PIPE_DEF_BUFFERS`] pages
//! (64 KiB), counts of the readers and writers open on it, and two wait queues — and two
//! [`File`]s on it, one to read and one to write ([`create_pipe_files`]). A reader sleeps
//! while the pipe is empty and a writer is left; a writer sleeps while the bytes do not
//! fit and a reader is left; each wakes the other side after it moves bytes
//! ([`pipe_read`], [`pipe_write`]). The last writer gone, reads return 0 (end of file);
//! the last reader gone, a write raises `SIGPIPE` and fails with `EPIPE`. Writes of at
//! most [`PIPE_BUF`] bytes are atomic: they wait until all of their bytes fit.
//!
//! forkos keeps the bytes in one ring (a `VecDeque`) where Linux keeps a ring of page
//! buffers (`struct pipe_buffer`); the pipe's `mutex` is a spinlock that may be held
//! across a copy from or to user memory, as the file offset's lock is.
//! [`pipe_poll`] answers `ppoll` ([`super::select`]).

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use super::fdtable::current_files;
use super::file::*;
use super::inode::{Inode, InodeData};
use super::open::nofile_limit;
use crate::errno::*;
use crate::iov_iter::IovIter;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::{WaitError, WaitQueue};
use crate::signal::{send_signal, KSigInfo, ERESTARTSYS, SIGPIPE, SI_USER};
use crate::task::{current, current_arc};
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::ioctls::FIONREAD;
use forkos_lib::uapi::poll::*;
use forkos_lib::uapi::stat::S_IFIFO;

/// Writes of at most this many bytes are atomic (Linux `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// Pages in a new pipe's buffer (Linux `PIPE_DEF_BUFFERS`).
pub const PIPE_DEF_BUFFERS: usize = 16;
/// A new pipe's size in bytes (64 KiB, `F_GETPIPE_SZ`'s answer).
pub const PIPE_SIZE: usize = PIPE_DEF_BUFFERS * PIPE_BUF;

/// What the pipe's mutex guards (the fields of Linux `struct pipe_inode_info` that its
/// `mutex` protects).
struct PipeState {
    buf: VecDeque<u8>,
    readers: u32,
    writers: u32,
}

impl PipeState {
    fn free(&self) -> usize {
        PIPE_SIZE - self.buf.len()
    }
}

/// One pipe (Linux `struct pipe_inode_info`).
pub struct PipeInodeInfo {
    mutex: spin::mutex::SpinMutex<PipeState, crate::sync::CpuRelax>,
    /// Readers waiting for bytes or the last writer's close (Linux `rd_wait`).
    rd_wait: WaitQueue,
    /// Writers waiting for room or the last reader's close (Linux `wr_wait`).
    wr_wait: WaitQueue,
}

/// A pipe's operations (Linux `pipefifo_fops`).
pub struct PipeOps;

/// The pipe behind a file made by [`create_pipe_files`].
fn pipe_of(file: &File) -> &PipeInodeInfo {
    file.private_data
        .as_ref()
        .and_then(|p| p.downcast_ref::<PipeInodeInfo>())
        .expect("a pipe file holds its pipe")
}

/// Wake the other side and any `ppoll`ers after a change.
fn wake(wq: &WaitQueue) {
    wq.wake_up_all();
    super::select::wake_pollers();
}

/// Read what is in the pipe, sleeping while it is empty and has writers (Linux
/// `pipe_read`): a read returns as soon as it got some bytes; 0 at end of file;
/// `EAGAIN` without blocking; `-ERESTARTSYS` when a signal interrupts the wait.
fn pipe_read(file: &File, to: &mut IovIter) -> SysResult {
    let pipe = pipe_of(file);
    let mut ret = 0i64;
    loop {
        {
            let mut p = pipe.mutex.lock();
            while !p.buf.is_empty() && to.count() > 0 {
                let (a, _) = p.buf.as_slices();
                let n = (a.len() as u64).min(to.count()) as usize;
                let copied = to.copy_to_iter(&a[..n]);
                p.buf.drain(..copied);
                ret += copied as i64;
                if copied < n {
                    drop(p);
                    wake(&pipe.wr_wait);
                    return if ret > 0 { Ok(ret) } else { Err(EFAULT) };
                }
            }
            let writers = p.writers;
            drop(p);
            if ret > 0 {
                wake(&pipe.wr_wait);
                return Ok(ret);
            }
            if to.count() == 0 || writers == 0 {
                return Ok(0);
            }
        }
        if file.flags() & O_NONBLOCK != 0 {
            return Err(EAGAIN);
        }
        let r = pipe.rd_wait.wait_event(
            || {
                let p = pipe.mutex.lock();
                !p.buf.is_empty() || p.writers == 0
            },
            None,
        );
        if r.is_err() {
            return Err(ERESTARTSYS);
        }
    }
}

/// Raise `SIGPIPE` on the writer (Linux `pipe_write`'s `send_sig(SIGPIPE, current, 0)`).
fn send_sigpipe() {
    let info = KSigInfo {
        signo: SIGPIPE,
        code: SI_USER,
        pid: current().tgid,
        ..KSigInfo::default()
    };
    send_signal(&current_arc(), info, false, false);
}

/// Write into the pipe, sleeping while the bytes do not fit (Linux `pipe_write`): a
/// write of at most [`PIPE_BUF`] bytes goes in whole or waits; a longer one goes in as
/// room appears. Without readers: `SIGPIPE` and `EPIPE` (or the bytes written so far);
/// `EAGAIN` without blocking when nothing fits; an interrupted wait returns the bytes
/// written so far, or `-ERESTARTSYS`.
fn pipe_write(file: &File, from: &mut IovIter) -> SysResult {
    let pipe = pipe_of(file);
    let total = from.count() as usize;
    if total == 0 {
        return Ok(0);
    }
    let atomic = total <= PIPE_BUF;
    let mut ret = 0i64;
    let mut chunk = [0u8; PIPE_BUF];
    loop {
        {
            let mut p = pipe.mutex.lock();
            if p.readers == 0 {
                drop(p);
                send_sigpipe();
                return if ret > 0 { Ok(ret) } else { Err(EPIPE) };
            }
            let mut wrote = false;
            while from.count() > 0 && (!atomic || p.free() >= total) && p.free() > 0 {
                let n = (from.count() as usize).min(p.free()).min(PIPE_BUF);
                let copied = from.copy_from_iter(&mut chunk[..n]);
                p.buf.extend(&chunk[..copied]);
                ret += copied as i64;
                wrote |= copied > 0;
                if copied < n {
                    drop(p);
                    if wrote {
                        wake(&pipe.rd_wait);
                    }
                    return if ret > 0 { Ok(ret) } else { Err(EFAULT) };
                }
            }
            drop(p);
            if wrote {
                wake(&pipe.rd_wait);
            }
            if from.count() == 0 {
                return Ok(ret);
            }
        }
        if file.flags() & O_NONBLOCK != 0 {
            return if ret > 0 { Ok(ret) } else { Err(EAGAIN) };
        }
        let need = if atomic { total } else { 1 };
        let r = pipe.wr_wait.wait_event(
            || {
                let p = pipe.mutex.lock();
                p.free() >= need || p.readers == 0
            },
            None,
        );
        if let Err(WaitError::Interrupted | WaitError::TimedOut) = r {
            return if ret > 0 { Ok(ret) } else { Err(ERESTARTSYS) };
        }
    }
}

impl FileOperations for PipeOps {
    fn read(&self, file: &File, to: &mut IovIter, _pos: &mut i64) -> SysResult {
        pipe_read(file, to)
    }
    fn write(&self, file: &File, from: &mut IovIter, _pos: &mut i64) -> SysResult {
        pipe_write(file, from)
    }
    /// Linux `pipe_ioctl`: `FIONREAD`, the bytes in the pipe; others `ENOTTY`.
    fn ioctl(&self, file: &File, cmd: u64, arg: u64) -> SysResult {
        match cmd & 0xffff_ffff {
            FIONREAD => {
                let n = pipe_of(file).mutex.lock().buf.len() as i32;
                UserPtr::<i32>::new(arg).write(&n)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
    fn poll(&self, file: &File) -> u32 {
        pipe_poll(file)
    }
    fn release(&self, file: &File) {
        pipe_release(file)
    }
}

/// What the pipe is ready for (Linux `pipe_poll`): the read end readable with bytes,
/// hung up without writers; the write end writable with room for a page (Linux: a free
/// buffer slot), in error without readers.
pub fn pipe_poll(file: &File) -> u32 {
    let p = pipe_of(file).mutex.lock();
    let mut mask = 0;
    if file.f_mode & FMODE_READ != 0 {
        if !p.buf.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if p.writers == 0 {
            mask |= POLLHUP;
        }
    }
    if file.f_mode & FMODE_WRITE != 0 {
        if p.free() >= PIPE_BUF {
            mask |= POLLOUT | POLLWRNORM;
        }
        if p.readers == 0 {
            mask |= POLLERR;
        }
    }
    mask
}

/// The last reference to one end is gone (Linux `pipe_release`): one reader or writer
/// fewer, and both sides woken to see it. The buffer goes with the last end.
fn pipe_release(file: &File) {
    let pipe = pipe_of(file);
    {
        let mut p = pipe.mutex.lock();
        if file.f_mode & FMODE_READ != 0 {
            p.readers -= 1;
        }
        if file.f_mode & FMODE_WRITE != 0 {
            p.writers -= 1;
        }
    }
    pipe.rd_wait.wake_up_all();
    pipe.wr_wait.wake_up_all();
    super::select::wake_pollers();
}

/// The pipe's size for `F_GETPIPE_SZ` (Linux `pipe_fcntl`): `EBADF` for a file that is
/// not a pipe.
pub fn pipe_fcntl_getsz(file: &File) -> SysResult {
    file.private_data
        .as_ref()
        .and_then(|p| p.downcast_ref::<PipeInodeInfo>())
        .map(|_| PIPE_SIZE as i64)
        .ok_or(EBADF)
}

/// A new pipe and its two files, read end first (Linux `create_pipe_files` with
/// `get_pipe_inode`): `ENFILE` if there is no memory for the buffer.
pub fn create_pipe_files(flags: u32) -> Result<(Arc<File>, Arc<File>), Errno> {
    let mut buf = VecDeque::new();
    buf.try_reserve_exact(PIPE_SIZE).map_err(|_| ENFILE)?;
    let pipe: Arc<dyn core::any::Any + Send + Sync> = Arc::new(PipeInodeInfo {
        mutex: spin::mutex::SpinMutex::new(PipeState {
            buf,
            readers: 1,
            writers: 1,
        }),
        rd_wait: WaitQueue::new(),
        wr_wait: WaitQueue::new(),
    });
    let inode = Inode::new(S_IFIFO | 0o600, InodeData::Pipe);
    let fl = flags & O_NONBLOCK;
    let r = File::new_private(
        inode.clone(),
        &PipeOps,
        FMODE_READ,
        O_RDONLY | fl,
        pipe.clone(),
    );
    let w = File::new_private(inode, &PipeOps, FMODE_WRITE, O_WRONLY | fl, pipe);
    Ok((r, w))
}

/// `pipe2(fds, flags)` (Linux `do_pipe2`): two descriptors, read end in `fds[0]`.
/// Flags other than `O_CLOEXEC`, `O_NONBLOCK` and `O_DIRECT` are `EINVAL`; forkos has
/// no packet mode, so `O_DIRECT` is refused with `EINVAL` too (Linux accepts it).
/// Nothing is installed if `fds` cannot be written.
pub fn sys_pipe2(fds: UserPtr<[i32; 2]>, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(EINVAL);
    }
    let (r, w) = create_pipe_files(flags)?;
    let files = current_files();
    let limit = nofile_limit();
    let cloexec = flags & O_CLOEXEC != 0;
    let fd0 = files.alloc_fd(0, limit, r, cloexec)?;
    let fd1 = match files.alloc_fd(0, limit, w, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.close_fd(fd0 as u32);
            return Err(e);
        }
    };
    if let Err(e) = fds.write(&[fd0 as i32, fd1 as i32]) {
        let _ = files.close_fd(fd0 as u32);
        let _ = files.close_fd(fd1 as u32);
        return Err(e);
    }
    Ok(0)
}
