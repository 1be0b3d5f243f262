//! Arm semihosting: asking the debugger or emulator (QEMU with `-semihosting`) to print
//! and to exit (Arm "Semihosting for AArch32 and AArch64", `SYS_WRITE0`, `SYS_EXIT`).
//!
//! forkos powers off through `SYS_EXIT` so that its exit status becomes QEMU's: that is
//! how the tests and `make run` learn how the kernel ended.

const SYS_WRITE0: u64 = 0x04;
const SYS_EXIT: u64 = 0x18;
/// `ADP_Stopped_ApplicationExit`: a normal exit whose status is the next word.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Issue one semihosting call.
///
/// # Safety
/// `arg` must be what `op` expects: for our calls, a pointer to valid memory.
unsafe fn semihosting_call(op: u64, arg: u64) -> u64 {
    let ret;
    // SAFETY: `hlt #0xf000` is the AArch64 semihosting trap; QEMU handles it and reads
    // only the memory `arg` points to, which the caller guarantees is valid.
    unsafe {
        core::arch::asm!("hlt #0xf000", inlateout("x0") op => ret, in("x1") arg, options(nostack));
    }
    ret
}

/// Print bytes through the host, for use before the UART is mapped.
pub fn write_bytes(bytes: &[u8]) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len() - 1) {
        buf[..chunk.len()].copy_from_slice(chunk);
        buf[chunk.len()] = 0;
        // SAFETY: buf is a NUL-terminated string on our stack.
        unsafe { semihosting_call(SYS_WRITE0, buf.as_ptr() as u64) };
    }
}

/// Stop QEMU; `code` becomes its exit status.
pub fn exit(code: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u64];
    // SAFETY: block is the two-word parameter block SYS_EXIT reads.
    unsafe { semihosting_call(SYS_EXIT, block.as_ptr() as u64) };
    // Without -semihosting the call does nothing: stop here.
    loop {
        aarch64_cpu::asm::wfe();
    }
}
