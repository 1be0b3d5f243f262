//! The kernel console: `print!`/`println!` write to the PL011 once it is mapped, and
//! through semihosting before that (Linux `kernel/printk/printk.c`, much reduced).

use core::fmt::{self, Write};

use crate::arch::semihosting;
use crate::drivers::pl011::Pl011;
use crate::sync::IrqSpinLock;

/// Where console output goes.
struct Console {
    uart: Option<Pl011>,
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match &self.uart {
            Some(uart) => {
                for b in s.bytes() {
                    if b == b'\n' {
                        uart.putc(b'\r');
                    }
                    uart.putc(b);
                }
            }
            None => semihosting::write_bytes(s.as_bytes()),
        }
        Ok(())
    }
}

static CONSOLE: IrqSpinLock<Console> = IrqSpinLock::new(Console { uart: None });

/// Send console output to `uart` from now on.
pub fn register_uart(uart: Pl011) {
    uart.init();
    CONSOLE.lock().uart = Some(uart);
}

/// The UART's receive interrupt (Linux `pl011_int` -> `pl011_rx_chars` ->
/// `tty_flip_buffer_push`): empty the receive FIFO, then hand each byte to the tty,
/// outside the console's lock (the tty echoes through it).
pub fn pl011_int() {
    loop {
        let mut chars = [(0u8, false); 32];
        let mut n = 0;
        {
            let c = CONSOLE.lock();
            let Some(uart) = c.uart.as_ref() else { return };
            while n < chars.len() {
                match uart.getc() {
                    Some(ch) => {
                        chars[n] = ch;
                        n += 1;
                    }
                    None => break,
                }
            }
            uart.clear_rx_interrupts();
        }
        for &(ch, brk) in &chars[..n] {
            crate::drivers::tty::serial_core::uart_insert_char(ch, brk);
        }
        if n < chars.len() {
            return;
        }
    }
}

/// Start the console's receive interrupts (Linux `pl011_startup`), once the interrupt
/// controller is up.
pub fn enable_rx_interrupts() {
    if let Some(uart) = CONSOLE.lock().uart.as_ref() {
        uart.enable_rx_interrupts();
    }
}

/// Start or stop a break on the console's line (Linux `tty->ops->break_ctl`).
pub fn break_ctl(on: bool) {
    if let Some(uart) = CONSOLE.lock().uart.as_ref() {
        uart.break_ctl(on);
    }
}

/// Act on a SysRq key (Linux `__handle_sysrq`; `sysrq-t` lists the tasks): `p` prints
/// the process table.
pub fn handle_sysrq(key: u8) {
    if key == b'p' {
        crate::task::show_tasks();
    }
}

/// Write bytes the tty has already processed for output (`OPOST`) to the UART as
/// they are.
pub fn write_raw(bytes: &[u8]) {
    let c = CONSOLE.lock();
    match &c.uart {
        Some(uart) => {
            for &b in bytes {
                uart.putc(b);
            }
        }
        None => semihosting::write_bytes(bytes),
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Print to the console even if the console lock is held (a panic inside `print!`):
/// panics must be seen. May interleave with other output.
pub fn emergency_print(args: fmt::Arguments) {
    if let Some(mut c) = CONSOLE.try_lock() {
        let _ = c.write_fmt(args);
    } else {
        let _ = Console { uart: None }.write_fmt(args);
    }
}

/// Print to the kernel console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

/// Print a line to the kernel console.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::_print(format_args!("{}\n", format_args!($($arg)*))));
}
