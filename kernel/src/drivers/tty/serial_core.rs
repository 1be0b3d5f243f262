//! A serial port's received bytes on their way to the terminal (Linux
//! `include/linux/serial_core.h`'s `uart_handle_break`, `uart_handle_sysrq_char`,
//! `uart_insert_char`), and the console's SysRq key.
//!
//! As on Linux, a break on the line (QEMU sends one for `Ctrl-A b` on its console) arms
//! SysRq, and the next byte is a SysRq key instead of input: `p` prints the process
//! table (`console::handle_sysrq`). While no session has the terminal as its
//! controlling terminal (the demo, the tests, any program that reads the console
//! without job control), `p` alone does it too, as forkos has always let a student
//! do; once a shell controls the terminal, `p` is input like any other byte.

use core::sync::atomic::{AtomicBool, Ordering};

/// A break came: the next byte is a SysRq key (Linux `port->sysrq`, without its
/// five-second window).
static SYSRQ_ARMED: AtomicBool = AtomicBool::new(false);

/// One received byte and whether a break came with it (Linux `uart_insert_char`,
/// after `pl011_fifo_to_tty`'s `uart_handle_break` and `uart_handle_sysrq_char`).
pub fn uart_insert_char(ch: u8, brk: bool) {
    if brk {
        // Linux `uart_handle_break`: a break's byte (a NUL) is not input.
        SYSRQ_ARMED.store(true, Ordering::Relaxed);
        return;
    }
    if SYSRQ_ARMED.swap(false, Ordering::Relaxed) {
        crate::console::handle_sysrq(ch);
        return;
    }
    let tty = &super::CONSOLE_TTY;
    if ch == b'p' && tty.ctrl.lock().session == 0 {
        crate::console::handle_sysrq(ch);
        return;
    }
    super::n_tty::n_tty_receive_char(tty, ch);
}
