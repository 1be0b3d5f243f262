//! `forkos-user`: a tiny `no_std` runtime for EL0 programs that speak the **Linux arm64
//! syscall ABI**: `svc #0`, number in x8, arguments in x0-x5, result or `-errno` in x0.
//! The same binaries run on forkos and on a real Linux kernel (as `/init`), which is how
//! their expectations are checked against Linux.
//!
//! - [`sys`]: raw syscalls and typed wrappers, issuing calls exactly as glibc 2.36 does
//!   (`fork()` is `clone(CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD, 0, NULL, 0, &tid)`).
//! - [`rt`]: `_start` (argc/argv from the initial stack), the panic handler.
//! - [`print!`]/[`println!`]: formatted output to fd 1 through `write`.
//! - [`rng`]: the fuzzers' seeded random numbers.
//! - [`icount`]: marker instructions for the instruction-counting QEMU plugin.
//! - [`sigprobe`]: a signal handler that records the trampoline it returns through.
#![no_std]

pub mod icount;
pub mod rng;
pub mod rt;
pub mod sigprobe;
pub mod sys;

use core::fmt::{self, Write};

/// Writes formatted text to a file descriptor with `write` (no buffering).
pub struct Fd(pub i32);

impl Write for Fd {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut b = s.as_bytes();
        while !b.is_empty() {
            let n = sys::write(self.0, b);
            if n <= 0 {
                return Err(fmt::Error);
            }
            b = &b[n as usize..];
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    // Format into a buffer first so one line is one write (lines of concurrent
    // processes then do not interleave mid-line).
    let mut buf = Buf::<512>::new();
    if buf.write_fmt(args).is_ok() {
        let _ = Fd(1).write_str(buf.as_str());
    } else {
        let _ = Fd(1).write_fmt(args);
    }
}

/// A fixed-size string buffer for formatting without a heap.
pub struct Buf<const N: usize> {
    data: [u8; N],
    len: usize,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf {
            data: [0; N],
            len: 0,
        }
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.data[..self.len]).unwrap_or("")
    }
}

impl<const N: usize> Default for Buf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Write for Buf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        if self.len + b.len() > N {
            return Err(fmt::Error);
        }
        self.data[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }
}

/// Print to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::_print(format_args!($($arg)*)));
}

/// Print a line to standard output.
#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::_print(format_args!("{}\n", format_args!($($arg)*))));
}
