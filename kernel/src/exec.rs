//! Starting a program: `execve` of an ELF image (Linux `fs/exec.c`, `fs/binfmt_elf.c`).
//!
//! The programs come from the kernel image for now (the user crate's binaries, see
//! [`crate::init::PROGRAMS`]). Loading builds a whole new address space, then swaps it in
//! (`exec_mmap`), so a failure leaves the caller untouched.

use alloc::sync::Arc;
use alloc::vec::Vec;

use elf::abi::{EM_AARCH64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::memory::phys_to_virt;
use crate::arch::process::{flush_thread, start_thread};
use crate::errno::*;
use crate::mm::memory::{handle_mm_fault, Access};
use crate::mm::{Mm, VmFlags, Vma, STACK_SIZE, STACK_TOP, TASK_SIZE};
use crate::task::current;

const PAGE: u64 = PAGE_SIZE as u64;

// Auxiliary vector types (Linux include/uapi/linux/auxvec.h).
const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
/// HWCAP_FP | HWCAP_ASIMD: every CPU forkos runs on has them.
const ELF_HWCAP: u64 = 0b11;

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
fn load_elf(mm: &Mm, image: &[u8]) -> Result<Loaded, Errno> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(|_| ENOEXEC)?;
    let h = &file.ehdr;
    if h.e_machine != EM_AARCH64 || h.e_type != ET_EXEC || h.class != elf::file::Class::ELF64 {
        return Err(ENOEXEC);
    }
    let segments = file.segments().ok_or(ENOEXEC)?;
    let mut phdr = 0;
    let mut brk = 0;
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let end = ph.p_vaddr.checked_add(ph.p_memsz).ok_or(EINVAL)?;
        let file_end = ph.p_offset.checked_add(ph.p_filesz).ok_or(ENOEXEC)?;
        if ph.p_filesz > ph.p_memsz || file_end > image.len() as u64 || end > TASK_SIZE {
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
        let start = ph.p_vaddr & !(PAGE - 1);
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
        write_to_mm(
            mm,
            ph.p_vaddr,
            &image[ph.p_offset as usize..file_end as usize],
        )?;
        if ph.p_offset <= h.e_phoff && h.e_phoff < file_end {
            phdr = ph.p_vaddr + (h.e_phoff - ph.p_offset);
        }
        brk = brk.max(vend);
    }
    if brk == 0 {
        return Err(ENOEXEC);
    }
    Ok(Loaded {
        entry: h.e_entry,
        phdr,
        phnum: h.e_phnum as u64,
        brk,
    })
}

/// Lay out argc, argv, envp and the auxiliary vector on the new stack, as Linux's
/// `create_elf_tables` does; returns the initial sp (16-byte aligned, pointing at argc).
fn create_elf_tables(mm: &Mm, argv: &[&str], envp: &[&str], l: &Loaded) -> Result<u64, Errno> {
    let mut sp = STACK_TOP;
    let mut push_str = |s: &str| -> Result<u64, Errno> {
        sp -= s.len() as u64 + 1;
        let mut bytes = Vec::with_capacity(s.len() + 1);
        bytes.extend_from_slice(s.as_bytes());
        bytes.push(0);
        write_to_mm(mm, sp, &bytes)?;
        Ok(sp)
    };
    let argv_ptrs = argv
        .iter()
        .map(|s| push_str(s))
        .collect::<Result<Vec<_>, _>>()?;
    let envp_ptrs = envp
        .iter()
        .map(|s| push_str(s))
        .collect::<Result<Vec<_>, _>>()?;
    sp &= !15;
    sp -= 16;
    let random = sp;
    let seed = crate::drivers::arch_timer::counter();
    let mut rnd = [0u8; 16];
    for (i, b) in rnd.iter_mut().enumerate() {
        *b = (seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(i as u32 * 8)
            >> 56) as u8
            ^ i as u8;
    }
    write_to_mm(mm, random, &rnd)?;
    let auxv = [
        (AT_HWCAP, ELF_HWCAP),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, crate::time::HZ),
        (AT_PHDR, l.phdr),
        (AT_PHENT, 56),
        (AT_PHNUM, l.phnum),
        (AT_ENTRY, l.entry),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u64> = Vec::new();
    words.push(argv.len() as u64);
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

/// Replace the current task's program with `image` (Linux `kernel_execve` /
/// `do_execve`): a new address space, a new stack, the registers set to start at the
/// entry point when the task next returns to user space.
pub fn kernel_execve(name: &str, image: &[u8], argv: &[&str], envp: &[&str]) -> Result<(), Errno> {
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
    let sp = create_elf_tables(&mm, argv, envp, &loaded)?;
    // Point of no return (Linux `begin_new_exec`): swap in the new mm (`exec_mmap`),
    // releasing a vfork parent.
    let tsk = current();
    crate::exit::mm_release(tsk);
    let mm = Arc::new(mm);
    // The task must own the new mm before TTBR0 points at it: a preemption in between
    // would otherwise switch back to the old one (here: none), and the program's first
    // instruction would fault for ever.
    let old = tsk.inner.lock().mm.replace(mm.clone());
    crate::mm::switch_mm(Some(&mm));
    drop(old);
    flush_thread();
    // SAFETY: the current task is in the kernel on its own stack; its pt_regs are the
    // user context it will return to.
    start_thread(unsafe { &mut *tsk.pt_regs() }, loaded.entry, sp);
    tsk.set_comm(name);
    Ok(())
}
