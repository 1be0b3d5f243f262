//! The line discipline's kernel half (Linux `drivers/tty/n_tty.c`): received bytes in
//! (from the UART's interrupt), `read` that sleeps for a line or for `VMIN` bytes,
//! `write` through output processing, `poll`. What a byte does to the buffer is
//! `forkos_lib::n_tty` (host-tested); this file adds the locking, the sleeping, the
//! signals and the echo to the UART.

use super::{nonblocking, tty_jobctrl, TtyStruct};
use crate::errno::*;
use crate::fs::file::File;
use crate::iov_iter::IovIter;
use crate::sched::wait::WaitError;
use crate::signal::ERESTARTSYS;
use forkos_lib::n_tty::Action;
use forkos_lib::uapi::poll::*;
use forkos_lib::uapi::termbits::{TOSTOP, VMIN, VTIME};

// SAFETY: `struct termios` is integers and bytes with no padding (36 bytes, checked in
// forkos_lib); any bytes are a valid value.
unsafe impl crate::mm::uaccess::Pod for forkos_lib::uapi::termbits::Termios {}
// SAFETY: `struct winsize` is four u16, no padding.
unsafe impl crate::mm::uaccess::Pod for forkos_lib::uapi::termbits::Winsize {}

/// Echo and output go to the UART as they are produced (Linux `tty->ops->write`, the
/// serial core's `uart_write`; forkos's console waits for room in the FIFO).
fn to_uart(bytes: &[u8]) {
    crate::console::write_raw(bytes);
}

/// One received byte (Linux `n_tty_receive_buf` -> `n_tty_receive_char_special`),
/// from the receive interrupt: edit, echo, raise the signal of a signal character
/// (Linux `isig` -> `__isig`: to the foreground group), wake the readers.
pub fn n_tty_receive_char(tty: &TtyStruct, c: u8) {
    let action = tty.ldisc.lock().receive_char(c, &mut |b| to_uart(b));
    if let Action::Signal(sig) = action {
        let pgrp = tty.ctrl.lock().pgrp;
        if pgrp != 0 {
            crate::signal::kill_pgrp(pgrp, sig, true);
        }
    }
    wake_readers(tty);
}

/// Wake every reader and poller to look again (Linux `wake_up_interruptible_poll(
/// &tty->read_wait, EPOLLIN)`).
pub fn wake_readers(tty: &TtyStruct) {
    tty.read_wait.wake_up_all();
    crate::fs::select::wake_pollers();
}

/// How much a read takes from the line discipline at a time, outside its lock (Linux
/// `iterate_tty_read`'s `kernel_buf`): the copy to user memory may fault.
const READ_CHUNK: usize = 256;

/// `read` from the terminal (Linux `n_tty_read`). In canonical mode: one line, or what
/// fits of it, or 0 at `^D` on an empty line. Otherwise `VMIN` bytes, with `VTIME`
/// tenths of a second as the timeout between bytes (after the first), or with `VMIN` 0
/// as the whole wait. A background process gets `SIGTTIN` first
/// ([`tty_jobctrl::job_control`]; not on `/dev/console`). Nothing to read: `EAGAIN` if
/// non-blocking, and a signal ends the wait with `ERESTARTSYS` (restarted under
/// `SA_RESTART`, else `EINTR`) unless bytes were read.
pub fn n_tty_read(tty: &TtyStruct, file: &File, console: bool, to: &mut IovIter) -> SysResult {
    if !console {
        tty_jobctrl::job_control(tty)?;
    }
    let (icanon, min, time) = {
        let ld = tty.ldisc.lock();
        let t = &ld.termios;
        (
            t.c_lflag & forkos_lib::uapi::termbits::ICANON != 0,
            t.c_cc[VMIN],
            t.c_cc[VTIME],
        )
    };
    let ticks = |tenths: u8| (tenths as u64 * crate::time::HZ).div_ceil(10);
    // Linux: `minimum` bytes to wait for; `timeout` None is for ever.
    let (minimum, mut timeout, inter_byte) = if icanon {
        (1, None, None)
    } else if min != 0 {
        (min as usize, None, (time != 0).then(|| ticks(time)))
    } else {
        (1, Some(ticks(time)), None)
    };
    let mut total = 0usize;
    let mut buf = [0u8; READ_CHUNK];
    loop {
        if to.count() == 0 {
            break;
        }
        let want = (to.count() as usize).min(READ_CHUNK);
        let (n, done, avail) = {
            let mut ld = tty.ldisc.lock();
            if ld.input_available_p(false) {
                let (n, done) = ld.copy_from_read_buf(&mut buf[..want]);
                (n, done, true)
            } else {
                (0, false, false)
            }
        };
        if avail {
            if n > 0 && to.copy_to_iter(&buf[..n]) != n {
                return if total > 0 {
                    Ok(total as i64)
                } else {
                    Err(EFAULT)
                };
            }
            total += n;
            if icanon {
                // A line (or ^D) ends the read; a line longer than the buffer chunk
                // goes on at once.
                if done || to.count() == 0 {
                    break;
                }
                continue;
            }
            if total >= minimum {
                break;
            }
            if inter_byte.is_some() && total > 0 {
                timeout = inter_byte;
            }
            continue;
        }
        // Nothing to read now.
        if timeout == Some(0) {
            break;
        }
        if nonblocking(file) {
            if total == 0 {
                return Err(EAGAIN);
            }
            break;
        }
        let r = tty.read_wait.wait_event(
            || tty.ldisc.lock().input_available_p(false) || super::tty_hung_up_p(tty, file),
            timeout,
        );
        if super::tty_hung_up_p(tty, file) {
            // Linux: `if (tty_hung_up_p(file)) break;` — what was read, or 0.
            break;
        }
        match r {
            Ok(()) => {}
            Err(WaitError::TimedOut) => break,
            Err(WaitError::Interrupted) => {
                if total == 0 {
                    return Err(ERESTARTSYS);
                }
                break;
            }
        }
        if !icanon && min == 0 {
            // One wait only: VTIME is the whole read's timeout.
            timeout = Some(0);
        }
    }
    Ok(total as i64)
}

/// How much of a write is copied in before any of it goes out (Linux
/// `iterate_tty_write`'s default chunk).
const TTY_WRITE_CHUNK: usize = 2048;

/// `write` to the terminal (Linux `n_tty_write` via `iterate_tty_write`): with
/// `TOSTOP` a background process gets `SIGTTOU` first (not on `/dev/console`); then
/// [`TTY_WRITE_CHUNK`] bytes at a time, each copied whole before any of it goes out
/// through output processing (`OPOST`, `ONLCR`). A chunk that cannot be read whole ends
/// the write with the bytes before it, or `EFAULT`.
pub fn n_tty_write(tty: &TtyStruct, _file: &File, console: bool, from: &mut IovIter) -> SysResult {
    if !console && tty.ldisc.lock().termios.c_lflag & TOSTOP != 0 {
        tty_jobctrl::tty_check_change(tty)?;
    }
    let mut buf = [0u8; TTY_WRITE_CHUNK];
    let mut written = 0i64;
    while from.count() > 0 {
        let size = (from.count() as usize).min(TTY_WRITE_CHUNK);
        if from.copy_from_iter(&mut buf[..size]) != size {
            return if written > 0 {
                Ok(written)
            } else {
                Err(EFAULT)
            };
        }
        tty.ldisc
            .lock()
            .process_output(&buf[..size], &mut |b| to_uart(b));
        written += size as i64;
    }
    Ok(written)
}

/// What the terminal is ready for (Linux `n_tty_poll`): always writable; readable when
/// a read would not wait (a line, or `VMIN` bytes).
pub fn n_tty_poll(tty: &TtyStruct) -> u32 {
    let mut mask = POLLOUT | POLLWRNORM;
    if tty.ldisc.lock().input_available_p(true) {
        mask |= POLLIN | POLLRDNORM;
    }
    mask
}
