//! Starting a program: `execve` of an ELF file (Linux `fs/exec.c`, `fs/binfmt_elf.c`).
//!
//! Programs are files of the root file system ([`crate::fs`]): the initrd's, or the
//! ones built into the kernel. Loading builds a whole new address space first and only
//! then swaps it in (`exec_mmap`), so every error — a missing file, a bad ELF, no memory
//! — returns to the caller with its old program intact. (Linux can fail after its point
//! of no return and then kills the caller with SIGSEGV; forkos never has to.)

use alloc::sync::Arc;
use alloc::vec::Vec;

use elf::abi::{EM_AARCH64, ET_DYN, ET_EXEC, PF_W, PF_X, PT_INTERP, PT_LOAD};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::memory::phys_to_virt;
use crate::arch::process::{flush_thread, start_thread};
use crate::errno::*;
use crate::fs::{self, PATH_MAX};
use crate::mm::memory::{handle_mm_fault, Access};
use crate::mm::uaccess::{strndup_user, UserPtr};
use crate::mm::{Mm, VmFlags, Vma, STACK_SIZE, STACK_TOP, TASK_SIZE};
use crate::task::current;

const PAGE: u64 = PAGE_SIZE as u64;

// Auxiliary vector types (Linux include/uapi/linux/auxvec.h).
const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;
/// HWCAP_FP | HWCAP_ASIMD: every CPU forkos runs on has them.
const ELF_HWCAP: u64 = 0b11;
/// Where a static-pie (ET_DYN) program is placed (Linux `ELF_ET_DYN_BASE` on arm64,
/// without randomisation).
const ELF_ET_DYN_BASE: u64 = 2 * TASK_SIZE / 3;
/// The longest single argument or environment string, with its NUL (Linux
/// `MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// Most arguments plus environment strings (Linux `MAX_ARG_STRINGS`).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// Strings and pointers together may use a quarter of the 8 MiB stack (Linux
/// `bprm_stack_limits` with the default `RLIMIT_STACK`).
const ARG_MAX: usize = (STACK_SIZE / 4) as usize;

/// Write `bytes` at `va` of `mm`, which is not the current address space yet.
fn write_to_mm(mm: &Mm, va: u64, bytes: &[u8]) -> Result<(), Errno> {
    let inner = mm.inner.lock();
    let mut done = 0;
    while done < bytes.len() {
        let a = va + done as u64;
        let n = (PAGE_SIZE - (a % PAGE) as usize).min(bytes.len() - done);
        let pa = handle_mm_fault(mm, &inner, a, Access::Read).map_err(|_| ENOMEM)?;
        // SAFETY: pa is a page of the new mm, linear mapped, not yet visible to anyone.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes[done..].as_ptr(),
                (phys_to_virt(pa) + a % PAGE) as *mut u8,
                n,
            )
        };
        done += n;
    }
    Ok(())
}

/// What loading found out about the program.
struct Loaded {
    entry: u64,
    phdr: u64,
    phnum: u64,
    brk: u64,
}

/// Map the `PT_LOAD` segments of `image` into `mm` (Linux `load_elf_binary`).
///
/// Errors as Linux: not an ELF file, not a 64-bit AArch64 executable or static-pie, or a
/// bad program header table: `ENOEXEC`; a dynamically linked program whose interpreter
/// is missing: `ENOENT`; a segment reaching beyond user space: `EINVAL`. forkos also
/// refuses, with `ENOEXEC`, what Linux would map and then fault on: segment data beyond
/// the end of the file, no `PT_LOAD` at all, a writable and executable segment, and
/// dynamic linking (forkos has no `ld.so`).
fn load_elf(mm: &Mm, image: &[u8]) -> Result<Loaded, Errno> {
    if !image.starts_with(b"\x7fELF") {
        return Err(ENOEXEC);
    }
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| ENOEXEC)?;
    let h = &file.ehdr;
    if !matches!(h.e_type, ET_EXEC | ET_DYN)
        || h.e_machine != EM_AARCH64
        || h.class != elf::file::Class::ELF64
    {
        return Err(ENOEXEC);
    }
    let segments = file.segments().ok_or(ENOEXEC)?;
    if let Some(interp) = segments.iter().find(|p| p.p_type == PT_INTERP) {
        let start = interp.p_offset as usize;
        let name = image
            .get(start..start.saturating_add(interp.p_filesz as usize))
            .ok_or(ENOEXEC)?;
        let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
        fs::lookup(name)?;
        return Err(ENOEXEC);
    }
    // A static-pie program is linked at 0 and placed at ELF_ET_DYN_BASE, aligned as
    // its most aligned segment wants (Linux's `load_bias`).
    let bias = if h.e_type == ET_DYN {
        let align = segments
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| p.p_align.max(PAGE))
            .max()
            .unwrap_or(PAGE);
        if !align.is_power_of_two() {
            return Err(EINVAL);
        }
        ELF_ET_DYN_BASE & !(align - 1)
    } else {
        0
    };
    let mut phdr = 0;
    let mut brk = 0;
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let vaddr = ph.p_vaddr.checked_add(bias).ok_or(EINVAL)?;
        let end = vaddr.checked_add(ph.p_memsz).ok_or(EINVAL)?;
        if ph.p_filesz > ph.p_memsz || end > TASK_SIZE || vaddr < PAGE {
            return Err(EINVAL);
        }
        let file_end = ph.p_offset.checked_add(ph.p_filesz).ok_or(ENOEXEC)?;
        if file_end > image.len() as u64 {
            return Err(ENOEXEC);
        }
        // Never writable and executable at once.
        if ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0 {
            return Err(ENOEXEC);
        }
        let mut flags = VmFlags::READ;
        if ph.p_flags & PF_W != 0 {
            flags |= VmFlags::WRITE;
        }
        if ph.p_flags & PF_X != 0 {
            flags |= VmFlags::EXEC;
        }
        let start = vaddr & !(PAGE - 1);
        let vend = end.div_ceil(PAGE) * PAGE;
        {
            // Segments may share a page (data and bss usually do): merge them into one
            // mapping with both permissions, as long as that is not writable+executable.
            let mut inner = mm.inner.lock();
            let (mut s, mut e, mut f) = (start, vend, flags);
            inner.vmas.retain(|v| {
                let overlap = v.start < vend && start < v.end;
                if overlap {
                    s = s.min(v.start);
                    e = e.max(v.end);
                    f |= v.flags;
                }
                !overlap
            });
            if f.contains(VmFlags::WRITE | VmFlags::EXEC) {
                return Err(ENOEXEC);
            }
            inner.insert_vma(Vma {
                start: s,
                end: e,
                flags: f,
                shared: None,
            });
        }
        write_to_mm(mm, vaddr, &image[ph.p_offset as usize..file_end as usize])?;
        if ph.p_offset <= h.e_phoff && h.e_phoff < file_end {
            phdr = vaddr + (h.e_phoff - ph.p_offset);
        }
        brk = brk.max(vend);
    }
    if brk == 0 {
        return Err(ENOEXEC);
    }
    Ok(Loaded {
        entry: h.e_entry.wrapping_add(bias),
        phdr,
        phnum: h.e_phnum as u64,
        brk,
    })
}

/// Lay out the new stack as Linux does (`copy_strings` in `do_execveat_common`, then
/// `create_elf_tables`). From the top: the program's path (`AT_EXECFN`), the environment
/// strings, the argument strings, the platform string, 16 random bytes; below them,
/// 16-byte aligned, argc, the argv pointers and NULL, the envp pointers and NULL, and the
/// auxiliary vector. Returns the initial sp, which points at argc.
fn create_elf_tables(mm: &Mm, args: &ExecArgs, l: &Loaded) -> Result<u64, Errno> {
    let mut sp = STACK_TOP - 8; // Linux leaves one NULL word at the very top
    let mut push = |bytes: &[u8]| -> Result<u64, Errno> {
        sp -= bytes.len() as u64 + 1;
        write_to_mm(mm, sp, bytes)?;
        write_to_mm(mm, sp + bytes.len() as u64, &[0])?;
        Ok(sp)
    };
    let execfn = push(&args.filename)?;
    let mut envp_ptrs = Vec::with_capacity(args.envp.len());
    for s in args.envp.iter().rev() {
        envp_ptrs.push(push(s)?);
    }
    envp_ptrs.reverse();
    let mut argv_ptrs = Vec::with_capacity(args.argv.len());
    for s in args.argv.iter().rev() {
        argv_ptrs.push(push(s)?);
    }
    argv_ptrs.reverse();
    let platform = push(b"aarch64")?;
    sp &= !15;
    sp -= 16;
    let random = sp;
    write_to_mm(mm, random, &crate::random::get_random_bytes::<16>())?;
    let auxv = [
        (AT_HWCAP, ELF_HWCAP),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, crate::time::HZ),
        (AT_PHDR, l.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, l.phnum),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, l.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_HWCAP2, 0),
        (AT_EXECFN, execfn),
        (AT_PLATFORM, platform),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u64> = Vec::new();
    words.push(argv_ptrs.len() as u64);
    words.extend(&argv_ptrs);
    words.push(0);
    words.extend(&envp_ptrs);
    words.push(0);
    for (k, v) in auxv {
        words.push(k);
        words.push(v);
    }
    sp -= words.len() as u64 * 8;
    sp &= !15;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    write_to_mm(mm, sp, &bytes)?;
    Ok(sp)
}

/// What `execve` was asked to run (Linux `struct linux_binprm`, the parts forkos needs).
pub struct ExecArgs {
    pub filename: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
}

impl ExecArgs {
    /// Arguments from the kernel itself (for init).
    pub fn from_kernel(filename: &str, argv: &[&str], envp: &[&str]) -> ExecArgs {
        let own = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect();
        ExecArgs {
            filename: filename.as_bytes().to_vec(),
            argv: own(argv),
            envp: own(envp),
        }
    }
}

/// Run the program at `args.filename` in the current task (Linux `do_execveat_common`
/// -> `bprm_execve` -> `load_elf_binary`).
pub fn do_execve(args: ExecArgs) -> Result<(), Errno> {
    let inode = fs::lookup(&args.filename)?;
    // Only regular files with an execute bit run (Linux `may_open` + `path_noexec`).
    if !inode.is_reg() || inode.mode & 0o111 == 0 {
        return Err(EACCES);
    }
    let image = inode.data;
    let mm = Mm::new().ok_or(ENOMEM)?;
    let loaded = load_elf(&mm, image)?;
    {
        let mut inner = mm.inner.lock();
        inner.start_brk = loaded.brk;
        inner.brk = loaded.brk;
        inner.insert_vma(Vma {
            start: STACK_TOP - STACK_SIZE,
            end: STACK_TOP,
            flags: VmFlags::READ | VmFlags::WRITE | VmFlags::STACK,
            shared: None,
        });
    }
    let sp = create_elf_tables(&mm, &args, &loaded)?;
    // Point of no return (Linux `begin_new_exec`): the other threads go (`de_thread`),
    // the new mm comes in (`exec_mmap`), releasing a vfork parent.
    let tsk = current();
    crate::exit::de_thread(tsk);
    crate::exit::mm_release(tsk);
    let mm = Arc::new(mm);
    // The task must own the new mm before TTBR0 points at it: a preemption in between
    // would otherwise switch back to the old one, and the program's first instruction
    // would fault for ever.
    let old = tsk.inner.lock().mm.replace(mm.clone());
    crate::mm::switch_mm(Some(&mm));
    drop(old);
    crate::signal::flush_signal_handlers(tsk);
    flush_thread();
    // SAFETY: the current task is in the kernel on its own stack; its pt_regs are the
    // user context it will return to.
    start_thread(unsafe { &mut *tsk.pt_regs() }, loaded.entry, sp);
    let base = args.filename.rsplit(|&b| b == b'/').next().unwrap_or(&[]);
    tsk.set_comm(core::str::from_utf8(base).unwrap_or("?"));
    Ok(())
}

/// Copy a NULL-terminated array of string pointers (Linux `count` + `copy_strings`),
/// counting bytes against `budget`.
fn copy_strings(array: u64, budget: &mut usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    if array == 0 {
        return Ok(out);
    }
    loop {
        let p = UserPtr::<u64>::new(array.wrapping_add(out.len() as u64 * 8)).read()?;
        if p == 0 {
            return Ok(out);
        }
        if out.len() >= MAX_ARG_STRINGS {
            return Err(E2BIG);
        }
        let s = strndup_user(p, MAX_ARG_STRLEN, E2BIG)?;
        // Each string costs its bytes, its NUL and its pointer.
        *budget = budget.checked_sub(s.len() + 1 + 8).ok_or(E2BIG)?;
        out.push(s);
    }
}

/// `execve(filename, argv, envp)` (Linux `sys_execve`). On success it does not return
/// to the old program: x0 is 0 and the task starts at the new entry point.
pub fn sys_execve(filename: u64, argv: u64, envp: u64) -> SysResult {
    let filename = strndup_user(filename, PATH_MAX, ENAMETOOLONG)?;
    let mut budget = ARG_MAX;
    let mut argv = copy_strings(argv, &mut budget)?;
    let envp = copy_strings(envp, &mut budget)?;
    // Linux 6.1 gives a program started with no arguments an empty argv[0].
    if argv.is_empty() {
        argv.push(Vec::new());
    }
    do_execve(ExecArgs {
        filename,
        argv,
        envp,
    })?;
    Ok(0)
}

/// Start a program from the kernel (Linux `kernel_execve`, used for init).
pub fn kernel_execve(filename: &str, argv: &[&str], envp: &[&str]) -> Result<(), Errno> {
    do_execve(ExecArgs::from_kernel(filename, argv, envp))
}
