//! Pipes (Linux `fs/pipe.c`).
//!
//! `pipe2` makes one [`PipeInodeInfo`] — a ring of at most [`PIPE_DEF_BUFFERS`] page
//! buffers (64 KiB), counts of the readers and writers open on it, and two wait queues — and two
//! [`File`]s on it, one to read and one to write ([`create_pipe_files`]). A reader sleeps
//! while the pipe is empty and a writer is left; a writer sleeps while the bytes do not
//! fit and a reader is left; each wakes the other side after it moves bytes
//! ([`pipe_read`], [`pipe_write`]). The last writer gone, reads return 0 (end of file);
//! the last reader gone, a write raises `SIGPIPE` and fails with `EPIPE`. Writes of at
//! most [`PIPE_BUF`] bytes are atomic: they wait until all of their bytes fit.
//!
//! The pipe's `mutex` is a spinlock that may be held across a copy from or to user
//! memory, as the file offset's lock is. A buffer's page is taken when a write needs it
//! and freed when a read empties it (Linux keeps one spare, `tmp_page`).
//! [`pipe_poll`] answers `ppoll` ([`super::select`]).

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::fdtable::current_files;
use super::file::*;
use super::inode::{Inode, InodeData};
use super::open::nofile_limit;
use crate::errno::*;
use crate::iov_iter::IovIter;
use crate::mm::uaccess::UserPtr;
use crate::sched::wait::WaitQueue;
use crate::signal::{send_signal, KSigInfo, ERESTARTSYS, SIGPIPE, SI_USER};
use crate::task::{current, current_arc};
use forkos_lib::uapi::fcntl::*;
use forkos_lib::uapi::ioctls::FIONREAD;
use forkos_lib::uapi::poll::*;
use forkos_lib::uapi::stat::S_IFIFO;

/// Writes of at most this many bytes are atomic (Linux `PIPE_BUF`).
pub const PIPE_BUF: usize = 4096;
/// The size of one buffer of the pipe (Linux `PAGE_SIZE`).
const PAGE_SIZE: usize = 4096;
/// Buffers in a new pipe (Linux `PIPE_DEF_BUFFERS`).
pub const PIPE_DEF_BUFFERS: usize = 16;
/// A new pipe's size in bytes (64 KiB, `F_GETPIPE_SZ`'s answer).
pub const PIPE_SIZE: usize = PIPE_DEF_BUFFERS * PAGE_SIZE;

/// One page of bytes in the pipe (Linux `struct pipe_buffer`).
struct PipeBuffer {
    page: Vec<u8>,
    offset: usize,
    len: usize,
    /// Written in packet mode (`O_DIRECT`): a read takes it whole, or drops the rest
    /// (Linux `PIPE_BUF_FLAG_PACKET`); otherwise a small write may add to it (Linux
    /// `PIPE_BUF_FLAG_CAN_MERGE`).
    packet: bool,
}

/// What the pipe's mutex guards (the fields of Linux `struct pipe_inode_info` that its
/// `mutex` protects): a ring of at most [`PIPE_DEF_BUFFERS`] buffers.
struct PipeState {
    bufs: VecDeque<PipeBuffer>,
    /// How many buffers the pipe may hold (Linux `max_usage`): 16, or what
    /// `F_SETPIPE_SZ` asked.
    max_usage: usize,
    readers: u32,
    writers: u32,
}

impl PipeState {
    /// Every buffer slot in use (Linux `pipe_full`).
    fn full(&self) -> bool {
        self.bufs.len() >= self.max_usage
    }
    /// The bytes in the pipe (`FIONREAD`).
    fn bytes(&self) -> usize {
        self.bufs.iter().map(|b| b.len).sum()
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
/// `pipe_read`): a read returns as soon as it got some bytes, and takes at most one
/// packet; 0 at end of file; `EAGAIN` without blocking; `-ERESTARTSYS` when a signal
/// interrupts the wait. Bytes that cannot be copied out stay in the pipe.
fn pipe_read(file: &File, to: &mut IovIter) -> SysResult {
    let pipe = pipe_of(file);
    let mut ret = 0i64;
    loop {
        {
            let mut p = pipe.mutex.lock();
            let mut fault = false;
            while to.count() > 0 {
                let Some(buf) = p.bufs.front_mut() else { break };
                let chars = (buf.len as u64).min(to.count()) as usize;
                let written = to.copy_to_iter(&buf.page[buf.offset..buf.offset + chars]);
                if written < chars {
                    fault = true;
                    break;
                }
                ret += chars as i64;
                buf.offset += chars;
                buf.len -= chars;
                let packet = buf.packet;
                if packet {
                    buf.len = 0;
                }
                if buf.len == 0 {
                    p.bufs.pop_front();
                }
                if packet {
                    break;
                }
            }
            let writers = p.writers;
            drop(p);
            if ret > 0 {
                wake(&pipe.wr_wait);
            }
            if fault {
                return if ret > 0 { Ok(ret) } else { Err(EFAULT) };
            }
            if ret > 0 || to.count() == 0 || writers == 0 {
                return Ok(ret);
            }
        }
        if file.flags() & O_NONBLOCK != 0 {
            return Err(EAGAIN);
        }
        let r = pipe.rd_wait.wait_event(
            || {
                let p = pipe.mutex.lock();
                !p.bufs.is_empty() || p.writers == 0
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

/// Write into the pipe, sleeping while every buffer is in use (Linux `pipe_write`): a
/// write's first `len % PAGE_SIZE` bytes may go into the last buffer if they fit there
/// whole, the rest a page at a time into new buffers, so that a write of at most
/// [`PIPE_BUF`] bytes is never split. In packet mode (`O_DIRECT` on the write end) each
/// page is a packet of its own. Without readers: `SIGPIPE` and `EPIPE` (or the bytes
/// written so far); `EAGAIN` without blocking when nothing went in; an interrupted wait
/// returns the bytes written so far, or `-ERESTARTSYS`.
fn pipe_write(file: &File, from: &mut IovIter) -> SysResult {
    let pipe = pipe_of(file);
    let total = from.count() as usize;
    if total == 0 {
        return Ok(0);
    }
    let packet = file.flags() & O_DIRECT != 0;
    let mut ret = 0i64;
    let mut p = pipe.mutex.lock();
    if p.readers == 0 {
        drop(p);
        send_sigpipe();
        return Err(EPIPE);
    }
    // Add to the last buffer what fits there whole (Linux: `chars` of the first part).
    let chars = total % PAGE_SIZE;
    if chars > 0 {
        if let Some(buf) = p.bufs.back_mut() {
            let offset = buf.offset + buf.len;
            if !buf.packet && offset + chars <= PAGE_SIZE {
                let copied = from.copy_from_iter(&mut buf.page[offset..offset + chars]);
                if copied < chars {
                    return Err(EFAULT);
                }
                buf.len += copied;
                ret = copied as i64;
                if from.count() == 0 {
                    drop(p);
                    wake(&pipe.rd_wait);
                    return Ok(ret);
                }
            }
        }
    }
    loop {
        if p.readers == 0 {
            drop(p);
            send_sigpipe();
            return if ret > 0 { Ok(ret) } else { Err(EPIPE) };
        }
        if !p.full() {
            let mut page = Vec::new();
            if page.try_reserve_exact(PAGE_SIZE).is_err() {
                drop(p);
                wake(&pipe.rd_wait);
                return if ret > 0 { Ok(ret) } else { Err(ENOMEM) };
            }
            page.resize(PAGE_SIZE, 0);
            let want = (from.count() as usize).min(PAGE_SIZE);
            let copied = from.copy_from_iter(&mut page[..want]);
            if copied > 0 {
                p.bufs.push_back(PipeBuffer {
                    page,
                    offset: 0,
                    len: copied,
                    packet,
                });
                ret += copied as i64;
            }
            if copied < want {
                drop(p);
                wake(&pipe.rd_wait);
                return if ret > 0 { Ok(ret) } else { Err(EFAULT) };
            }
            if from.count() == 0 {
                break;
            }
            continue;
        }
        drop(p);
        if ret > 0 {
            wake(&pipe.rd_wait);
        }
        if file.flags() & O_NONBLOCK != 0 {
            return if ret > 0 { Ok(ret) } else { Err(EAGAIN) };
        }
        let r = pipe.wr_wait.wait_event(
            || {
                let p = pipe.mutex.lock();
                !p.full() || p.readers == 0
            },
            None,
        );
        if r.is_err() {
            return if ret > 0 { Ok(ret) } else { Err(ERESTARTSYS) };
        }
        p = pipe.mutex.lock();
    }
    drop(p);
    wake(&pipe.rd_wait);
    Ok(ret)
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
                let n = pipe_of(file).mutex.lock().bytes() as i32;
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
/// hung up without writers; the write end writable with a buffer free, in error
/// without readers.
pub fn pipe_poll(file: &File) -> u32 {
    let p = pipe_of(file).mutex.lock();
    let mut mask = 0;
    if file.f_mode & FMODE_READ != 0 {
        if !p.bufs.is_empty() {
            mask |= POLLIN | POLLRDNORM;
        }
        if p.writers == 0 {
            mask |= POLLHUP;
        }
    }
    if file.f_mode & FMODE_WRITE != 0 {
        if !p.full() {
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

/// `F_SETPIPE_SZ` and `F_GETPIPE_SZ` (Linux `pipe_fcntl`): `EBADF` for a file that is
/// not a pipe. The new size is a power of two of pages, at least one (Linux
/// `round_pipe_size`): above 2 GiB `EINVAL`, fewer buffers than are in use `EBUSY`;
/// everyone is root, so no `EPERM`. Both answer the size in bytes.
pub fn pipe_fcntl(file: &File, cmd: u32, arg: u32) -> SysResult {
    let pipe = file
        .private_data
        .as_ref()
        .and_then(|p| p.downcast_ref::<PipeInodeInfo>())
        .ok_or(EBADF)?;
    let mut p = pipe.mutex.lock();
    if cmd == F_SETPIPE_SZ {
        if arg > 1 << 31 {
            return Err(EINVAL);
        }
        let size = (arg as usize).max(PAGE_SIZE).next_power_of_two();
        let nr_slots = size / PAGE_SIZE;
        if nr_slots < p.bufs.len() {
            return Err(EBUSY);
        }
        let more = nr_slots.saturating_sub(p.bufs.capacity());
        p.bufs.try_reserve_exact(more).map_err(|_| ENOMEM)?;
        p.max_usage = nr_slots;
        drop(p);
        wake(&pipe.wr_wait);
        return Ok(size as i64);
    }
    Ok((p.max_usage * PAGE_SIZE) as i64)
}

/// A new pipe and its two files, read end first (Linux `create_pipe_files` with
/// `get_pipe_inode`): `ENFILE` if there is no memory for the buffer.
pub fn create_pipe_files(flags: u32) -> Result<(Arc<File>, Arc<File>), Errno> {
    let mut bufs = VecDeque::new();
    bufs.try_reserve_exact(PIPE_DEF_BUFFERS)
        .map_err(|_| ENFILE)?;
    let pipe = Arc::new(PipeInodeInfo {
        mutex: spin::mutex::SpinMutex::new(PipeState {
            bufs,
            max_usage: PIPE_DEF_BUFFERS,
            readers: 1,
            writers: 1,
        }),
        rd_wait: WaitQueue::new(),
        wr_wait: WaitQueue::new(),
    });
    let inode = Inode::new(S_IFIFO | 0o600, InodeData::Pipe(pipe.clone()));
    let pipe: Arc<dyn core::any::Any + Send + Sync> = pipe;
    let r_fl = O_RDONLY | (flags & O_NONBLOCK);
    let w_fl = O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT));
    let r = File::new_private(inode.clone(), &PipeOps, FMODE_READ, r_fl, pipe.clone());
    let w = File::new_private(inode, &PipeOps, FMODE_WRITE, w_fl, pipe);
    Ok((r, w))
}

/// Open a pipe's inode again (Linux `fifo_open`, reached through `/proc/PID/fd/N`): a
/// new file of the same pipe, counted as a reader, a writer or both. The pipes here are
/// all anonymous (Linux's `is_pipe`): nobody waits for a partner and a writer without
/// readers is no `ENXIO`, as they would be for a named FIFO.
pub fn fifo_open(inode: Arc<Inode>, flags: u32) -> Result<Arc<File>, Errno> {
    let pipe = match &inode.i.lock().data {
        InodeData::Pipe(p) => p.clone(),
        _ => return Err(ENXIO),
    };
    let f_mode = match flags & O_ACCMODE {
        O_RDONLY => FMODE_READ,
        O_WRONLY => FMODE_WRITE,
        _ => FMODE_READ | FMODE_WRITE,
    };
    {
        let mut p = pipe.mutex.lock();
        if f_mode & FMODE_READ != 0 {
            p.readers += 1;
        }
        if f_mode & FMODE_WRITE != 0 {
            p.writers += 1;
        }
    }
    let any: Arc<dyn core::any::Any + Send + Sync> = pipe;
    Ok(File::new_private(
        inode,
        &PipeOps,
        f_mode,
        flags & !O_CREAT_FLAGS,
        any,
    ))
}

/// The flags that only matter to `open` (Linux `do_dentry_open` drops them).
const O_CREAT_FLAGS: u32 = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC;

/// `pipe2(fds, flags)` (Linux `do_pipe2`): two descriptors, read end in `fds[0]`;
/// `O_DIRECT` makes the write end write packets. Flags other than `O_CLOEXEC`,
/// `O_NONBLOCK` and `O_DIRECT` are `EINVAL` (also `O_NOTIFICATION_PIPE`, which Linux
/// built with watch queues takes). Nothing is installed if `fds` cannot be written.
pub fn sys_pipe2(fds: UserPtr<[i32; 2]>, flags: u64) -> SysResult {
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
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
