//! Program start-up and the panic handler.
//!
//! Linux (and forkos) start a program with sp pointing at `argc`, then `argv[0..argc]`,
//! a NULL, `envp[...]`, a NULL, and the auxiliary vector. `_start` hands that sp to
//! [`start`], which calls the program's `main(args)` and exits with its result through
//! `exit_group`, as C's `exit` does.

use crate::sys;

/// At most this many arguments reach `main`.
pub const MAX_ARGS: usize = 16;

extern "Rust" {
    /// Defined by each program with [`entry!`](crate::entry).
    fn __user_main(args: &[&str]) -> i32;
}

core::arch::global_asm!(
    "
    .section .text._start, \"ax\"
    .global _start
_start:
    mov     x29, xzr
    mov     x30, xzr
    mov     x0, sp
    bl      {start}
    brk     #0
",
    start = sym start,
);

/// The stack pointer the program started with, for [`getauxval`].
static INITIAL_SP: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// The value of entry `ty` of the auxiliary vector the kernel gave the program (as
/// glibc's `getauxval`), found past argv and envp on the initial stack.
pub fn getauxval(ty: usize) -> Option<usize> {
    let sp = INITIAL_SP.load(core::sync::atomic::Ordering::Relaxed) as *const usize;
    if sp.is_null() {
        return None;
    }
    // SAFETY: the initial stack holds argc, argv[], NULL, envp[], NULL, then (type,
    // value) pairs up to AT_NULL (Linux's ABI); it lives as long as the program.
    unsafe {
        let argc = *sp;
        let mut p = sp.add(1 + argc + 1);
        while *p != 0 {
            p = p.add(1);
        }
        p = p.add(1);
        while *p != 0 {
            if *p == ty {
                return Some(*p.add(1));
            }
            p = p.add(2);
        }
    }
    None
}

/// Read argc/argv from the initial stack and run `main`.
///
/// # Safety
/// `sp` must be the initial stack pointer the kernel gave the program.
unsafe extern "C" fn start(sp: *const usize) -> ! {
    INITIAL_SP.store(sp as usize, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the kernel's initial stack starts with argc and argc argv pointers to
    // NUL-terminated strings (Linux's ABI).
    let argc = unsafe { *sp };
    let mut args: [&str; MAX_ARGS] = [""; MAX_ARGS];
    let n = argc.min(MAX_ARGS);
    for (i, slot) in args.iter_mut().enumerate().take(n) {
        // SAFETY: as above; argv[i] is a valid C string for i < argc.
        let p = unsafe { *sp.add(1 + i) } as *const u8;
        let mut len = 0;
        // SAFETY: the string is NUL-terminated.
        while unsafe { *p.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: p..p+len are the string's bytes, alive for the whole program.
        let bytes = unsafe { core::slice::from_raw_parts(p, len) };
        *slot = core::str::from_utf8(bytes).unwrap_or("?");
    }
    // SAFETY: every program defines __user_main through entry!.
    let code = unsafe { __user_main(&args[..n]) };
    sys::exit_group(code)
}

/// Declare the program's `main(args: &[&str]) -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        fn __user_main(args: &[&str]) -> i32 {
            $main(args)
        }
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut out = crate::Fd(1);
    let _ = write!(out, "[pid {}] PANIC: {}", sys::getpid(), info.message());
    if let Some(l) = info.location() {
        let _ = write!(out, " at {}:{}", l.file(), l.line());
    }
    let _ = out.write_str("\n");
    sys::exit_group(1)
}
