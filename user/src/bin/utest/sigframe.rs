//! rt_sigreturn's reading of the signal frame (Linux 6.1 `restore_sigframe` ->
//! `parse_user_sigframe`): the records in `uc_mcontext.__reserved` in any order, the
//! FP/SIMD one required, ESR records skipped, an `extra_context` followed, anything
//! else (or a malformed record) SIGSEGV; and only the bytes it needs are read.

use crate::util::{child_code, exited, killed, map, wait, PAGE, RW, T};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use forkos_lib::uapi::sigcontext::{
    Sigcontext, Ucontext, ESR_MAGIC, EXTRA_MAGIC, FPSIMD_CONTEXT_SIZE as FPSIMD_SIZE, FPSIMD_MAGIC,
    UC_RESERVED_OFFSET as RESERVED,
};
use forkos_user::sys::{self, SIGSEGV, SIGUSR1};

/// Where `uc_mcontext` is in arm64's `struct rt_sigframe`: the siginfo, then the ucontext.
const MCONTEXT: usize = size_of::<sys::SigInfo>() + offset_of!(Ucontext, uc_mcontext);

/// What v16 holds when the signal comes, and what the handler puts in its saved copy.
const OLD: u8 = 0x11;
const NEW: u8 = 0x22;

/// How the handler rearranges its frame (see `LAYOUTS`).
static MODE: AtomicU32 = AtomicU32::new(0);

/// Write a record header: magic and size.
///
/// # Safety
/// `at` must be 8 writable bytes.
unsafe fn head(at: *mut u8, magic: u32, size: u32) {
    // SAFETY: as the caller promises.
    unsafe {
        (at as *mut u32).write_unaligned(magic);
        (at.add(4) as *mut u32).write_unaligned(size);
    }
}

/// A SIGUSR1 handler that sets v16's saved value to NEW and lays the records out as
/// `MODE` says, on its own frame. If the frame does not start with the FP/SIMD record
/// (as Linux and forkos write it), the process exits 50.
extern "C" fn edit(_sig: i32, _info: *const u8, uc: *mut u8) {
    // SAFETY: uc is the ucontext of this handler's frame, on the stack: its __reserved
    // area has 4096 bytes, all of which the layouts stay inside.
    unsafe {
        let r = uc.add(RESERVED);
        let word = |o: usize| (r.add(o) as *const u32).read_unaligned();
        if word(0) != FPSIMD_MAGIC || word(4) != FPSIMD_SIZE as u32 {
            sys::exit_group(50);
        }
        core::ptr::write_bytes(r.add(16 + 16 * 16), NEW, 16);
        let mut fp = [0u8; FPSIMD_SIZE];
        core::ptr::copy_nonoverlapping(r, fp.as_mut_ptr(), FPSIMD_SIZE);
        let put_fp = |o: usize| core::ptr::copy_nonoverlapping(fp.as_ptr(), r.add(o), FPSIMD_SIZE);
        let end = |o: usize| core::ptr::write_bytes(r.add(o), 0, 16);
        match MODE.load(SeqCst) {
            0 => {}
            1 => {
                // An ESR record first, then FP/SIMD.
                head(r, ESR_MAGIC, 16);
                core::ptr::write_bytes(r.add(8), 0, 8);
                put_fp(16);
                end(16 + FPSIMD_SIZE);
            }
            2 => {
                head(r.add(FPSIMD_SIZE), ESR_MAGIC, 16);
                end(FPSIMD_SIZE + 16);
            }
            3 => {
                head(r, 0x1234_5678, 16);
                put_fp(16);
                end(16 + FPSIMD_SIZE);
            }
            4 => head(r.add(FPSIMD_SIZE), 0, 16),
            5 => head(r, ESR_MAGIC, FPSIMD_SIZE as u32),
            6 => {
                head(r, FPSIMD_MAGIC, 512);
                end(512);
            }
            7 => {
                head(r, FPSIMD_MAGIC, FPSIMD_SIZE as u32 + 16);
                end(FPSIMD_SIZE + 16);
            }
            8 => {
                put_fp(FPSIMD_SIZE);
                end(2 * FPSIMD_SIZE);
            }
            9 => {
                head(r.add(FPSIMD_SIZE), ESR_MAGIC, 24);
                end(FPSIMD_SIZE + 24);
            }
            10 => head(r.add(FPSIMD_SIZE), ESR_MAGIC, (4096 - FPSIMD_SIZE) as u32),
            11 => {
                head(
                    r.add(FPSIMD_SIZE),
                    ESR_MAGIC,
                    (4096 - FPSIMD_SIZE - 16) as u32,
                );
                end(4096 - 16);
            }
            m @ (12 | 13) => {
                // An extra_context record, its terminator, then the FP/SIMD record in
                // the extra area right after (13: 16 bytes further, which is wrong).
                let data = if m == 12 { 48 } else { 64 };
                head(r, EXTRA_MAGIC, 32);
                (r.add(8) as *mut u64).write_unaligned(r.add(data) as u64);
                (r.add(16) as *mut u32).write_unaligned(FPSIMD_SIZE as u32 + 16);
                core::ptr::write_bytes(r.add(20), 0, 12);
                end(32);
                put_fp(data);
                end(data + FPSIMD_SIZE);
            }
            _ => {}
        }
    }
}

/// What each layout must give: the handler's return with v16 = NEW, or SIGSEGV.
const LAYOUTS: [(u32, &str, bool); 14] = [
    (0, "the frame as written", true),
    (1, "an ESR record before FP/SIMD", true),
    (2, "an ESR record after FP/SIMD", true),
    (3, "an unknown record", false),
    (4, "a terminator of size 16", false),
    (5, "no FP/SIMD record", false),
    (6, "an FP/SIMD record of 512 bytes", false),
    (7, "an FP/SIMD record of 544 bytes", false),
    (8, "two FP/SIMD records", false),
    (9, "a record of 24 bytes (misaligned next record)", false),
    (10, "no room left for the terminator", false),
    (11, "the terminator in the last 16 bytes", true),
    (12, "FP/SIMD in an extra_context area", true),
    (
        13,
        "an extra_context area not right after its terminator",
        false,
    ),
];

/// A handler may rearrange the records of its frame before it returns: rt_sigreturn
/// takes them in any order, skips ESR records, follows an extra_context, and restores
/// FP/SIMD from wherever the record is (v16 comes back as the handler set it); an
/// unknown record, a terminator with a size, a missing, short, long or repeated
/// FP/SIMD record, a misaligned record, no terminator, or a misplaced extra area is
/// SIGSEGV, as on Linux.
pub fn sigreturn_parses_records() -> T {
    for (mode, what, ok) in LAYOUTS {
        let pid = child_code(|| {
            MODE.store(mode, SeqCst);
            if sys::set_handler(SIGUSR1, edit as *const () as usize, sys::SA_SIGINFO) != 0 {
                return 60;
            }
            let v16: u64;
            // SAFETY: kill(getpid(), SIGUSR1) runs the handler on the way out; v16 is
            // declared clobbered, and x0/x8 are the syscall's.
            unsafe {
                core::arch::asm!(
                    "movi v16.16b, #{old}",
                    "svc #0",
                    "umov {out}, v16.d[0]",
                    old = const OLD,
                    out = out(reg) v16,
                    inlateout("x0") sys::getpid() => _,
                    in("x1") SIGUSR1,
                    in("x8") sys::nr::KILL,
                    out("v16") _,
                )
            };
            if v16 == u64::from_ne_bytes([NEW; 8]) {
                0
            } else {
                (v16 & 0xff) as i32
            }
        })?;
        let want = if ok { exited(0) } else { killed(SIGSEGV) };
        check_eq!(wait(pid)?, want, "rt_sigreturn with {what}");
    }
    Ok(())
}

/// rt_sigreturn reads only what it needs of the frame: the mask, the registers, the
/// records up to the terminator, the alternate stack settings. A frame built by hand
/// (no signal) whose unused rest lies in an unmapped page returns to the pc it names
/// with its registers; moved 16 bytes up, so that the terminator is unmapped, it is
/// SIGSEGV.
pub fn sigreturn_reads_only_what_it_needs() -> T {
    for (shift, want) in [(0usize, exited(0)), (16, killed(SIGSEGV))] {
        let pid = child_code(|| {
            let Ok(buf) = map(2 * PAGE, RW, sys::MAP_PRIVATE) else {
                return 60;
            };
            sys::munmap(buf + PAGE, PAGE);
            // The records start at MCONTEXT + __reserved (592); the FP/SIMD one (528)
            // and the terminator (8) end 1128 bytes into the frame.
            let frame = buf + PAGE - 1136 + shift;
            let records = frame + MCONTEXT + offset_of!(Sigcontext, reserved);
            // SAFETY: frame..frame+1136-shift is mapped and ours; the fresh page is zero,
            // so the mask, the alternate stack settings and the terminator are 0.
            unsafe { head(records as *mut u8, FPSIMD_MAGIC, FPSIMD_SIZE as u32) };
            let ret: u64;
            // SAFETY: every register is stored in the frame and comes back from it; sp
            // too, and pc is the label after the svc. x8-x10 and the FP/SIMD registers
            // (loaded as zeros) are declared clobbered.
            unsafe {
                core::arch::asm!(
                    "add x10, x0, #{regs}",
                    "stp x0, x1, [x10, #0]", "stp x2, x3, [x10, #16]",
                    "stp x4, x5, [x10, #32]", "stp x6, x7, [x10, #48]",
                    "stp x8, x9, [x10, #64]", "stp x10, x11, [x10, #80]",
                    "stp x12, x13, [x10, #96]", "stp x14, x15, [x10, #112]",
                    "stp x16, x17, [x10, #128]", "stp x18, x19, [x10, #144]",
                    "stp x20, x21, [x10, #160]", "stp x22, x23, [x10, #176]",
                    "stp x24, x25, [x10, #192]", "stp x26, x27, [x10, #208]",
                    "stp x28, x29, [x10, #224]", "str x30, [x10, #240]",
                    "mov x9, sp", "str x9, [x0, #{sp}]",
                    "adr x9, 2f", "str x9, [x0, #{pc}]",
                    "mov x9, #0x1234", "str x9, [x10, #0]",
                    "mov x8, #{rt_sigreturn}",
                    "mov sp, x0",
                    "svc #0",
                    "2:",
                    regs = const MCONTEXT + offset_of!(Sigcontext, regs),
                    sp = const MCONTEXT + offset_of!(Sigcontext, sp),
                    pc = const MCONTEXT + offset_of!(Sigcontext, pc),
                    rt_sigreturn = const sys::nr::RT_SIGRETURN,
                    inlateout("x0") frame => ret,
                    out("x8") _, out("x9") _, out("x10") _,
                    out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _,
                    out("v5") _, out("v6") _, out("v7") _, out("v8") _, out("v9") _,
                    out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _,
                    out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _,
                    out("v20") _, out("v21") _, out("v22") _, out("v23") _, out("v24") _,
                    out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
                    out("v30") _, out("v31") _,
                )
            };
            if ret == 0x1234 {
                0
            } else {
                2
            }
        })?;
        check_eq!(wait(pid)?, want, "frame {shift} bytes above the fit");
    }
    Ok(())
}
