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

/// Is a byte typed on the console waiting to be read?
pub fn input_pending() -> bool {
    CONSOLE
        .try_lock()
        .is_some_and(|c| c.uart.as_ref().is_some_and(|u| u.rx_ready()))
}

/// A byte typed on the console, if any (polled: forkos has no tty layer yet).
pub fn poll_input() -> Option<u8> {
    CONSOLE.try_lock()?.uart.as_ref()?.getc()
}

/// Act on a key typed on the console, as Linux's magic SysRq does (`sysrq-t` lists the
/// tasks): `p` prints the process table.
pub fn handle_sysrq() {
    if poll_input() == Some(b'p') {
        crate::task::show_tasks();
    }
}

/// Write raw bytes (from user space) to the console.
pub fn write_bytes(bytes: &[u8]) {
    let c = CONSOLE.lock();
    match &c.uart {
        Some(uart) => {
            for &b in bytes {
                if b == b'\n' {
                    uart.putc(b'\r');
                }
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
