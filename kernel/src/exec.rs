//! Starting a program: `execve` of an ELF file (Linux `fs/exec.c`, `fs/binfmt_elf.c`).
//!
//! Programs are files of the root file system ([`crate::fs`]): the initrd's, or the
//! ones built into the kernel. Loading builds a whole new address space first and only
//! then swaps it in (`exec_mmap`), so every error — a missing file, a bad ELF, no memory
//! — returns to the caller with its old program intact. (Linux can fail after its point
//! of no return and then kills the caller with SIGSEGV; forkos never has to.)

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::ControlFlow;

use forkos_lib::elf::{self, ElfError};
use forkos_lib::pgtable::PAGE_SIZE;

use crate::arch::process::{flush_thread, start_thread};
use crate::errno::*;
use crate::fs::{self, PATH_MAX};
use crate::mm::memory::Access;
use crate::mm::uaccess::{
    copy_from_user, scan_user_string, strndup_user, strnlen_user, walk_user_pages, UserPtr,
};
use crate::mm::{Mm, VmFlags, Vma, VmaBacking, STACK_EXPAND, STACK_SIZE, STACK_TOP, TASK_SIZE};
use crate::resource::RLIMIT_STACK;
use crate::task::current;
use crate::task::Task;
// Auxiliary vector types.
use forkos_lib::uapi::auxvec::*;

const PAGE: u64 = PAGE_SIZE as u64;

/// Where a static-pie (ET_DYN) program is placed (Linux `ELF_ET_DYN_BASE` on arm64,
/// without randomisation).
const ELF_ET_DYN_BASE: u64 = 2 * TASK_SIZE / 3;
/// The longest single argument or environment string, with its NUL (Linux
/// `MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE;
/// Most arguments plus environment strings (Linux `MAX_ARG_STRINGS`).
const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// Arguments may always use 32 pages, however small the stack limit (Linux `ARG_MAX`).
const ARG_MAX: u64 = 32 * PAGE;
/// Linux's default stack limit (`_STK_LIM`); arguments use at most 3/4 of a quarter of it.
const STK_LIM: u64 = 8 << 20;

/// Write `bytes` at `va` of `mm`, which is not the current address space yet. Only into
/// its private anonymous memory (segments, stack): the page a read fault maps there is
/// the new program's own, even where the mapping is read-only; a shared or kernel page
/// is never written this way.
fn write_to_mm(mm: &Mm, va: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut mm = mm.lock();
    let end = va + bytes.len() as u64;
    let mut a = va;
    while a < end {
        let vma = mm.find_vma(a).ok_or(ENOMEM)?;
        if !matches!(vma.data, VmaBacking::Anon) || vma.flags.contains(VmFlags::SHARED) {
            return Err(ENOMEM);
        }
        a = vma.end;
    }
    let mut done = 0;
    let written = walk_user_pages(&mut mm, va, bytes.len(), Access::Read, |kva, n| {
        // SAFETY: kva..+n is a page of the new mm, as walk_user_pages hands it, not yet
        // visible to anyone; done + n <= bytes.len().
        unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), kva, n) };
        done += n;
        ControlFlow::Continue(())
    });
    if written < bytes.len() {
        return Err(ENOMEM);
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

/// Map the `PT_LOAD` segments of `image` into `mm` (Linux `load_elf_binary`), once
/// [`forkos_lib::elf::check`] has accepted it.
///
/// Errors as Linux: not an ELF file, not a 64-bit AArch64 executable or static-pie, or a
/// bad program header table: `ENOEXEC`; a dynamically linked program whose interpreter
/// is missing: `ENOENT`; a segment reaching beyond user space: `EINVAL`. forkos also
/// refuses, with `ENOEXEC`, what Linux would map and then fault on: segment data beyond
/// the end of the file, no `PT_LOAD` at all, a writable and executable segment, and
/// dynamic linking (forkos has no `ld.so`).
fn load_elf(mm: &Mm, image: &[u8]) -> Result<Loaded, Errno> {
    let info = elf::check(image, TASK_SIZE, PAGE, ELF_ET_DYN_BASE).map_err(|e| match e {
        ElfError::NotExecutable | ElfError::Refused => ENOEXEC,
        ElfError::BadSegment => EINVAL,
        ElfError::Interpreter { offset, len } => {
            let name = &image[offset..offset + len];
            let name = name.split(|&b| b == 0).next().unwrap_or(&[]);
            fs::lookup(name).err().unwrap_or(ENOEXEC)
        }
    })?;
    for seg in elf::load_segments(image, &info, TASK_SIZE, PAGE) {
        let mut flags = VmFlags::READ;
        if seg.writable {
            flags |= VmFlags::WRITE;
        }
        if seg.executable {
            flags |= VmFlags::EXEC;
        }
        let start = seg.vaddr & !(PAGE - 1);
        let vend = (seg.vaddr + seg.memsz).div_ceil(PAGE) * PAGE;
        {
            // Segments may share a page (data and bss usually do): merge them into one
            // mapping with both permissions, as long as that is not writable+executable.
            let mut inner = mm.lock();
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
                data: VmaBacking::Anon,
            })?;
        }
        let bytes = &image[seg.file_offset..seg.file_offset + seg.filesz];
        write_to_mm(mm, seg.vaddr, bytes)?;
    }
    Ok(Loaded {
        entry: info.entry,
        phdr: info.phdr,
        phnum: info.phnum,
        brk: info.brk,
    })
}

/// Where a program's strings go, and how many there are (Linux `struct linux_binprm`).
///
/// As in Linux, the strings are copied straight from the caller into the top of the new
/// program's stack, in the new address space, before anything else is decided: the
/// kernel keeps no copy of them, however large they are.
pub struct Bprm {
    mm: Mm,
    /// The lowest byte used so far at the top of the new stack (Linux `bprm->p`).
    p: u64,
    /// The lowest address strings may reach (Linux `bprm->argmin`).
    argmin: u64,
    argc: u64,
    envc: u64,
    /// Where the program's path was copied (`AT_EXECFN`).
    execfn: u64,
    filename: Vec<u8>,
}

/// Where the strings come from: the calling program, or the kernel (for init).
enum Strings<'a> {
    /// A user array of string pointers ending in a null one (`argv`, `envp`).
    User(UserPtr<UserPtr<u8>>),
    Kernel(&'a [&'a str]),
}

impl Bprm {
    /// A new address space with its stack mapping (Linux `alloc_bprm` -> `bprm_mm_init`).
    fn new(filename: Vec<u8>) -> Result<Bprm, Errno> {
        let mm = Mm::new().ok_or(ENOMEM)?;
        mm.lock().insert_vma(Vma {
            start: STACK_TOP - STACK_SIZE,
            end: STACK_TOP,
            flags: VmFlags::READ | VmFlags::WRITE | VmFlags::STACK,
            data: VmaBacking::Anon,
        })?;
        // Linux leaves one NULL word at the very top.
        let top = STACK_TOP - 8;
        Ok(Bprm {
            mm,
            p: top,
            argmin: top,
            argc: 0,
            envc: 0,
            execfn: 0,
            filename,
        })
    }

    /// How low the strings may reach (Linux `bprm_stack_limits`): a quarter of the
    /// caller's `RLIMIT_STACK`, at most 3/4 of a quarter of the default 8 MiB, at least
    /// `ARG_MAX`, less room for the argv and envp pointers, and with no argument at
    /// all, for the one pointer to the empty `argv[0]` added later.
    fn stack_limits(&mut self) -> Result<(), Errno> {
        let rlim_stack = current().signal.inner.lock().rlim[RLIMIT_STACK].cur;
        let limit = (STK_LIM / 4 * 3).min(rlim_stack / 4).max(ARG_MAX);
        let ptr_size = (self.argc.max(1) + self.envc) * 8;
        if limit <= ptr_size {
            return Err(E2BIG);
        }
        self.argmin = self.p - (limit - ptr_size);
        Ok(())
    }

    /// Copy one string and its NUL below `p` (Linux `copy_string_kernel`).
    fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.len() + 1 > MAX_ARG_STRLEN {
            return Err(E2BIG);
        }
        let p = self.p - bytes.len() as u64 - 1;
        if p < self.argmin {
            return Err(E2BIG);
        }
        write_to_mm(&self.mm, p, bytes)?;
        write_to_mm(&self.mm, p + bytes.len() as u64, &[0])?;
        self.p = p;
        Ok(())
    }

    /// Copy a user string of `len` bytes (NUL excluded) below `p`, a page at a time.
    fn push_user(&mut self, addr: UserPtr<u8>, len: usize) -> Result<(), Errno> {
        let p = self.p - len as u64 - 1;
        if p < self.argmin {
            return Err(E2BIG);
        }
        let mut buf = [0u8; 256];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(buf.len());
            copy_from_user(&mut buf[..n], addr.add(done))?;
            write_to_mm(&self.mm, p + done as u64, &buf[..n])?;
            done += n;
        }
        write_to_mm(&self.mm, p + len as u64, &[0])?;
        self.p = p;
        Ok(())
    }

    /// Copy `n` strings of an argv- or envp-style list (Linux `copy_strings`): last
    /// string first, so that they end up in order.
    fn copy_strings(&mut self, strings: &Strings, n: u64) -> Result<(), Errno> {
        match *strings {
            Strings::Kernel(list) => {
                for s in list.iter().rev() {
                    self.push_bytes(s.as_bytes())?;
                }
            }
            Strings::User(array) => {
                for i in (0..n).rev() {
                    let ptr = array.add(i as usize).read()?;
                    let len = strnlen_user(ptr, MAX_ARG_STRLEN, E2BIG)?;
                    self.push_user(ptr, len)?;
                }
            }
        }
        Ok(())
    }
}

/// How many strings an argv- or envp-style list holds, every pointer read (Linux
/// `count`): `EFAULT` if the array cannot be read.
fn count(strings: &Strings) -> Result<u64, Errno> {
    match *strings {
        Strings::Kernel(list) => Ok(list.len() as u64),
        Strings::User(array) if array.is_null() => Ok(0),
        Strings::User(array) => {
            let mut n = 0u64;
            loop {
                let ptr = array.add(n as usize).read()?;
                if ptr.is_null() {
                    return Ok(n);
                }
                if n as usize >= MAX_ARG_STRINGS {
                    return Err(E2BIG);
                }
                n += 1;
                // A long list may take a while: a fatal signal ends the count.
                if current().fatal_signal_pending() {
                    return Err(crate::signal::ERESTARTNOHAND);
                }
            }
        }
    }
}

/// Lay out the rest of the new stack as Linux's `create_elf_tables` does. Above `p` are
/// already the program's path (`AT_EXECFN`), the environment strings and the argument
/// strings; below go the platform string, 16 random bytes and then, 16-byte aligned,
/// argc, the argv pointers and NULL, the envp pointers and NULL, and the auxiliary
/// vector. Returns the initial sp, which points at argc.
fn create_elf_tables(b: &mut Bprm, l: &Loaded) -> Result<u64, Errno> {
    let strings = b.p;
    b.argmin = STACK_TOP - STACK_SIZE + PAGE; // from here on only the stack's own size limits
    b.push_bytes(b"aarch64")?;
    let platform = b.p;
    let mut sp = (b.p & !15) - 16;
    let random = sp;
    write_to_mm(&b.mm, random, &crate::random::get_random_bytes::<16>())?;
    let auxv = [
        (AT_HWCAP, crate::arch::cpufeature::elf_hwcap()),
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
        (AT_EXECFN, b.execfn),
        (AT_PLATFORM, platform),
        (AT_NULL, 0),
    ];
    let words = 1 + b.argc + 1 + b.envc + 1 + 2 * auxv.len() as u64;
    sp = (sp - words * 8) & !15;
    // Fill the table word by word, finding each string's start by walking the strings
    // (Linux does the same with `strnlen_user` on the new stack).
    let mut at = sp;
    let mut put = |w: u64| -> Result<(), Errno> {
        write_to_mm(&b.mm, at, &w.to_le_bytes())?;
        at += 8;
        Ok(())
    };
    put(b.argc)?;
    let mut s = strings;
    for count in [b.argc, b.envc] {
        for _ in 0..count {
            put(s)?;
            s += string_len_in_mm(&b.mm, s)? + 1;
        }
        put(0)?;
    }
    for (k, v) in auxv {
        put(k)?;
        put(v)?;
    }
    Ok(sp)
}

/// Length of the string at `va` in `mm` (not the current address space).
fn string_len_in_mm(mm: &Mm, va: u64) -> Result<u64, Errno> {
    match scan_user_string(&mut mm.lock(), va, usize::MAX, |_, _| {}) {
        Ok(len) => Ok(len as u64),
        Err(_) => Err(ENOMEM),
    }
}

/// Run the program at `filename` in the current task (Linux `do_execveat_common` ->
/// `bprm_execve` -> `load_elf_binary`).
fn do_execve(filename: Vec<u8>, argv: Strings, envp: Strings) -> Result<(), Errno> {
    let mut b = Bprm::new(filename)?;
    // Linux 6.1's order, which decides which error a call with two wrong things gets:
    // count the arguments, then the environment; set the limit; then copy the path, the
    // environment and the arguments.
    b.argc = count(&argv)?;
    b.envc = count(&envp)?;
    b.stack_limits()?;
    let name = core::mem::take(&mut b.filename);
    b.push_bytes(&name)?;
    b.execfn = b.p;
    b.filename = name;
    b.copy_strings(&envp, b.envc)?;
    b.copy_strings(&argv, b.argc)?;
    // Linux 6.1 gives a program started with no arguments an empty argv[0].
    if b.argc == 0 {
        b.push_bytes(b"")?;
        b.argc = 1;
    }
    // Then the file, as Linux 6.1's `bprm_execve` -> `do_open_execat` (after the
    // strings: a bad argv is EFAULT even for a missing file). Only regular files with an
    // execute bit run (Linux `may_open` + `path_noexec`).
    let inode = fs::lookup(&b.filename)?;
    if !inode.is_reg() || inode.mode() & 0o111 == 0 {
        return Err(EACCES);
    }
    let image = inode.exec_image().ok_or(EACCES)?;
    let loaded = load_elf(&b.mm, &image)?;
    drop(image);
    {
        let mut inner = b.mm.lock();
        inner.start_brk = loaded.brk;
        inner.brk = loaded.brk;
        if !inner.overlaps(crate::mm::SIGPAGE, crate::mm::SIGPAGE + PAGE) {
            inner.insert_vma(crate::mm::sigpage_vma())?;
        }
    }
    let strings = b.p;
    let sp = create_elf_tables(&mut b, &loaded)?;
    setup_arg_pages(&b.mm, strings, sp);
    // Point of no return (Linux `begin_new_exec`): the other threads go (`de_thread`),
    // the new mm comes in (`exec_mmap`), releasing a vfork parent.
    let tsk = &current();
    de_thread(tsk)?;
    crate::fork::mm_release(tsk);
    let mm = Arc::new(b.mm);
    // The task must own the new mm before TTBR0 points at it: a preemption in between
    // would otherwise switch back to the old one, and the program's first instruction
    // would fault for ever.
    let old = tsk.set_mm(Some(mm.clone()));
    crate::mm::activate_mm(&mm);
    drop(old);
    crate::signal::flush_signal_handlers(tsk);
    // The parent may no longer move us between process groups (Linux: `PF_FORKNOEXEC`
    // cleared in `begin_new_exec`; `setpgid` then says EACCES).
    tsk.signal.inner.lock().forknoexec = false;
    // A table shared with CLONE_FILES is copied, then close-on-exec descriptors closed
    // (Linux `unshare_files` in `begin_new_exec`, `do_close_on_exec`).
    crate::fs::fdtable::exec_files(tsk);
    flush_thread();
    // SAFETY: the current task is in the kernel on its own stack; its pt_regs are the
    // user context it will return to.
    start_thread(unsafe { &mut *tsk.pt_regs() }, loaded.entry, sp);
    let base = b.filename.rsplit(|&c| c == b'/').next().unwrap_or(&[]);
    tsk.set_comm(core::str::from_utf8(base).unwrap_or("?"));
    Ok(())
}

/// `execve(filename, argv, envp)` (Linux `sys_execve`). On success it does not return
/// to the old program: x0 is 0 and the task starts at the new entry point.
pub fn sys_execve(
    filename: UserPtr<u8>,
    argv: UserPtr<UserPtr<u8>>,
    envp: UserPtr<UserPtr<u8>>,
) -> SysResult {
    let filename = strndup_user(filename, PATH_MAX, ENAMETOOLONG)?;
    // An empty path is refused as it is read (Linux `getname`).
    if filename.is_empty() {
        return Err(ENOENT);
    }
    let old_vpid = current().pid;
    do_execve(filename, Strings::User(argv), Strings::User(envp))?;
    // The new program is in: the tracer may look at it (Linux `exec_binprm`).
    crate::ptrace::ptrace_event(forkos_lib::uapi::ptrace::PTRACE_EVENT_EXEC, old_vpid as u64);
    Ok(0)
}

/// Start a program from the kernel (Linux `kernel_execve`, used for init).
pub fn kernel_execve(filename: &str, argv: &[&str], envp: &[&str]) -> Result<(), Errno> {
    do_execve(
        filename.as_bytes().to_vec(),
        Strings::Kernel(argv),
        Strings::Kernel(envp),
    )
}

/// Trim the new program's stack mapping to what Linux's `setup_arg_pages` leaves: the
/// pages the argument and environment strings use (from `strings` up) and 128 KiB below
/// them (`stack_expand`), or `RLIMIT_STACK` in all if that is less. Below that, the
/// stack grows on demand ([`find_extend_vma`](crate::mm::mmap::find_extend_vma)). The
/// pages `create_elf_tables` wrote, from `sp` up, always stay inside.
fn setup_arg_pages(mm: &Mm, strings: u64, sp: u64) {
    let rlim_stack = current().signal.inner.lock().rlim[RLIMIT_STACK].cur & !(PAGE - 1);
    let mut inner = mm.lock();
    let Some(i) = inner
        .vmas
        .iter()
        .position(|v| v.flags.contains(VmFlags::STACK))
    else {
        return;
    };
    let (vm_start, vm_end) = (inner.vmas[i].start, inner.vmas[i].end);
    let used_start = strings & !(PAGE - 1);
    let stack_base = if (vm_end - used_start).saturating_add(STACK_EXPAND) > rlim_stack {
        vm_end.saturating_sub(rlim_stack)
    } else {
        used_start - STACK_EXPAND
    };
    // Only ever shrink here; growing is left to faults, which check for neighbours.
    let start = stack_base.min(sp & !(PAGE - 1));
    if start > vm_start {
        inner.vmas.move_start(i, start);
    }
}

/// Before `execve` replaces the program, every other thread of the group must exit
/// (Linux `de_thread`): they are told to go and the caller waits until it is alone.
///
/// Linux also gives an exec'ing non-leader thread the leader's pid; forkos leaves the
/// thread its own tid (getpid still returns the tgid).
pub fn de_thread(tsk: &Task) -> Result<(), Errno> {
    {
        let mut s = tsk.signal.inner.lock();
        if s.live <= 1 {
            return Ok(());
        }
        // The group is already dying, or another thread is in execve: this one goes
        // instead (Linux returns -EAGAIN and the pending kill ends the thread).
        if s.group_exit_code.is_some() || s.group_exec_task.is_some() {
            return Err(EAGAIN);
        }
        s.group_exec_task = Some(tsk.pid);
    }
    crate::signal::zap_other_threads(tsk);
    // Wait, killably, until the others are gone (they wake nobody: look every tick).
    let wq = crate::sched::wait::WaitQueue::new();
    loop {
        let alone = || tsk.signal.inner.lock().live <= 1;
        if alone() {
            break;
        }
        if wq.wait_event_killable_timeout(alone, 1).is_err() && tsk.fatal_signal_pending() {
            tsk.signal.inner.lock().group_exec_task = None;
            return Err(EAGAIN);
        }
    }
    tsk.signal.inner.lock().group_exec_task = None;
    Ok(())
}
