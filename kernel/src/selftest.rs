//! Boot self-tests, chosen with `selftest=NAME` on the kernel command line (QEMU
//! `-append`). Each prints what it checked and powers off with exit status 0 (pass) or
//! 1 (fail); the QEMU integration tests in `tests/` boot one per run. `selftest=all` runs
//! the harmless ones in a row.
//!
//! | name | proves |
//! |---|---|
//! | `ptregs` | `kernel_entry`/`kernel_exit` save every register into `pt_regs` and restore them from it |
//! | `timer` | timer interrupts arrive while the kernel spins, and leave every register intact |
//! | `smp` | every online CPU takes its own timer interrupts, and only the boot CPU's move jiffies; each secondary takes a reschedule IPI |
//! | `page_alloc` | allocating and freeing pages returns the free count to where it started |
//! | `heap` | the kernel heap grows past its first mapping and gives memory back |
//! | `ptrace` | `PTRACE_ATTACH` and `PTRACE_SEIZE` refuse a kernel thread with `EPERM` (a user program cannot name one that surely lives) |
//! | `wx` | no kernel page is writable and executable; text, rodata, data, guard page as designed |
//! | `text_write` | writing to kernel text faults (an oops report) |
//! | `dabort` | a kernel data abort produces an oops report and a non-zero exit |
//! | `panic` | a Rust panic prints its message and location |

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::memory::{kernel_layout, pa_symbol, phys_to_virt};
use crate::arch::mmu;
use crate::arch::ptrace::{PtRegs, NO_SYSCALL, PSR_MODE_EL1H, PSR_MODE_MASK};
use crate::arch::selftest::*;
use crate::mm::{heap, page_alloc};
use crate::sync::IrqSpinLock;
use crate::time::{get_jiffies, jiffies};
use crate::{print, println};

/// The frame the `BRK_PTREGS_SAVE` trap saw.
static SAVED_FRAME: IrqSpinLock<Option<PtRegs>> = IrqSpinLock::new(None);
static ALL_PASSED: AtomicBool = AtomicBool::new(true);

/// Handle the self-tests' `brk` traps; false for any other immediate (Linux's
/// `call_break_hook` role).
pub fn brk_handler(regs: &mut PtRegs, imm: u64) -> bool {
    match imm {
        BRK_PTREGS_SAVE => *SAVED_FRAME.lock() = Some(*regs),
        BRK_PTREGS_FLIP => regs.regs.iter_mut().for_each(|r| *r = !*r),
        _ => return false,
    }
    regs.pc += 4; // step over the brk
    true
}

fn check(ok: bool, what: core::fmt::Arguments) {
    println!("  [{}] {}", if ok { "ok" } else { "FAIL" }, what);
    if !ok {
        ALL_PASSED.store(false, Ordering::Relaxed);
    }
}

/// One exception with distinct values in x0-x30: the frame holds them, and they come back.
fn test_ptregs() {
    println!("selftest ptregs: a trap with x0-x30 = distinct values");
    let mut out = [0u64; 62];
    let mut sp_before = 0u64;
    // SAFETY: the routine writes 62 words to out and one to sp_before, and preserves the
    // callee-saved registers it uses.
    unsafe { selftest_ptregs_roundtrip(&mut out, &mut sp_before) };
    let Some(frame) = SAVED_FRAME.lock().take() else {
        check(false, format_args!("the brk handler did not run"));
        return;
    };
    let all = |f: &dyn Fn(usize) -> bool| (0..31).all(f);
    check(
        all(&|i| frame.regs[i] == pattern(i)),
        format_args!("pt_regs.regs[0..31] hold exactly the values x0-x30 had"),
    );
    check(
        frame.sp == sp_before,
        format_args!("pt_regs.sp = {:#x}, the interrupted sp", frame.sp),
    );
    let brk_pc = core::ptr::addr_of!(selftest_ptregs_brk) as u64;
    check(
        frame.pc == brk_pc,
        format_args!("pt_regs.pc = {:#x}, the brk instruction", frame.pc),
    );
    check(
        frame.pstate & PSR_MODE_MASK == PSR_MODE_EL1H,
        format_args!("pt_regs.pstate = {:#x}, EL1h", frame.pstate),
    );
    check(
        frame.syscallno == NO_SYSCALL,
        format_args!("pt_regs.syscallno = NO_SYSCALL"),
    );
    check(
        all(&|i| out[i] == pattern(i)),
        format_args!("x0-x30 are intact after kernel_exit"),
    );
    check(
        all(&|i| out[31 + i] == !pattern(i)),
        format_args!("kernel_exit restores x0-x30 from pt_regs (a handler's change is seen)"),
    );
}

/// Spin with patterned registers until enough timer interrupts have come and gone.
fn test_timer() {
    const TICKS: u64 = 5;
    let start = get_jiffies();
    let target = start + TICKS;
    println!("selftest timer: spinning until {TICKS} timer interrupts have arrived");
    let mut out = [0u64; 33];
    // SAFETY: the routine reads the jiffies counter and writes 33 words to out.
    unsafe { selftest_spin_regs(jiffies.as_ptr(), target, &mut out) };
    check(
        get_jiffies() >= target,
        format_args!("jiffies went from {start} to {}", get_jiffies()),
    );
    check(
        (3..31).all(|i| out[i] == pattern(i)),
        format_args!("x3-x30 survived every interrupt"),
    );
    check(
        out[0] == jiffies.as_ptr() as u64 && out[1] == target,
        format_args!("x0, x1 survived every interrupt"),
    );
    check(
        out[31] == out[32],
        format_args!("sp survived every interrupt"),
    );
}

/// Every online CPU's timer ticks (its GIC interface and timer are up), while jiffies
/// advance only with the boot CPU's ticks (`tick_do_timer_cpu`).
fn test_smp() {
    use crate::arch::percpu::{cpu_online, num_online_cpus, per_cpu, NR_CPUS};
    const TICKS: u64 = 10;
    let n = num_online_cpus();
    println!("selftest smp: {n} CPUs online; waiting {TICKS} jiffies");
    let ticks = |cpu: usize| per_cpu(cpu).timer_ticks.load(Ordering::Relaxed);
    let before: [u64; NR_CPUS] = core::array::from_fn(ticks);
    let start = get_jiffies();
    while get_jiffies() < start + TICKS {
        crate::arch::irqflags::wfi();
    }
    let after: [u64; NR_CPUS] = core::array::from_fn(ticks);
    let elapsed = get_jiffies() - start;
    for cpu in (0..NR_CPUS).filter(|&c| cpu_online(c)) {
        let got = after[cpu] - before[cpu];
        check(
            got >= TICKS / 2,
            format_args!("CPU{cpu} took {got} timer interrupts"),
        );
    }
    check(
        elapsed <= after[0] - before[0] + 1,
        format_args!(
            "jiffies advanced {elapsed}, no more than the boot CPU's {} ticks",
            after[0] - before[0]
        ),
    );
    // Each secondary takes a reschedule IPI from this CPU (the SGI reaches the right
    // CPU, whose handler runs, and whose idle loop goes back to wfi after it).
    for cpu in (1..NR_CPUS).filter(|&c| cpu_online(c)) {
        let ipis = || per_cpu(cpu).ipi_resched.load(Ordering::Relaxed);
        let before = ipis();
        crate::arch::smp::smp_send_reschedule(cpu);
        let deadline = get_jiffies() + TICKS;
        while ipis() == before && get_jiffies() < deadline {
            crate::arch::irqflags::cpu_relax();
        }
        check(
            ipis() == before + 1,
            format_args!("CPU{cpu} took a reschedule IPI"),
        );
    }
}

/// Pages taken and given back leave the free count where it was.
fn test_page_alloc() {
    const N: usize = 1000;
    let before = page_alloc::nr_free_pages();
    println!("selftest page_alloc: {before} pages free; allocating {N}");
    let mut pages = Vec::with_capacity(N);
    for _ in 0..N {
        match page_alloc::alloc_zeroed_page() {
            Some(p) => pages.push(p),
            None => break,
        }
    }
    check(pages.len() == N, format_args!("got {} pages", pages.len()));
    let mut sorted: Vec<u64> = pages.iter().map(|p| p.0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    check(
        sorted.len() == pages.len(),
        format_args!("no page handed out twice"),
    );
    check(
        page_alloc::nr_free_pages() == before - pages.len(),
        format_args!("free count fell by {}", pages.len()),
    );
    for p in pages.drain(..).rev() {
        page_alloc::free_page(p);
    }
    check(
        page_alloc::nr_free_pages() == before,
        format_args!("free count back to {before} after freeing"),
    );
    // The pages just freed wait on this CPU's list: they count as free, and giving them
    // back to the zone changes nothing.
    page_alloc::drain_all_pages();
    check(
        page_alloc::nr_free_pages() == before,
        format_args!("free count still {before} after draining the per-CPU lists"),
    );
    // Freed pages are reused before untouched memory.
    let again = page_alloc::alloc_page();
    check(
        again.is_some_and(|p| sorted.binary_search(&p.0).is_ok()),
        format_args!("a freed page is handed out again"),
    );
    if let Some(p) = again {
        page_alloc::free_page(p);
    }
    check(
        page_alloc::nr_free_pages() == before,
        format_args!("free count is {before} at the end"),
    );
}

/// A kernel thread cannot be traced: ATTACH and SEIZE are EPERM (Linux `ptrace_attach`'s
/// `PF_KTHREAD` check), as Linux answers for its kernel threads (kthreadd, pid 2).
fn test_ptrace() {
    use forkos_lib::uapi::ptrace::{PTRACE_ATTACH, PTRACE_SEIZE};
    println!("selftest ptrace: ATTACH and SEIZE of a kernel thread");
    static DONE: AtomicBool = AtomicBool::new(false);
    // Lives until told to go, so that it is there to be refused; then exits, as a
    // kernel thread must (a function that returns goes on to user space through
    // ret_from_fork, with the empty pt_regs of a kernel thread: pc 0).
    extern "C" fn waiting_thread(_: u64) -> u64 {
        while !DONE.load(Ordering::Acquire) {
            crate::sched::wait::sleep_ticks(1);
        }
        crate::exit::do_exit(0)
    }
    let Ok(pid) = crate::fork::kernel_thread(waiting_thread, 0) else {
        check(false, format_args!("kernel_thread failed"));
        return;
    };
    for (name, request) in [("ATTACH", PTRACE_ATTACH), ("SEIZE", PTRACE_SEIZE)] {
        let r = crate::ptrace::sys_ptrace(request, pid as i64, 0, 0);
        check(
            r == Err(crate::errno::EPERM),
            format_args!("PTRACE_{name} of kernel thread {pid}: {r:?}, EPERM expected"),
        );
    }
    DONE.store(true, Ordering::Release);
}

/// The heap grows on demand and its memory is usable.
fn test_heap() {
    let size_before = heap::heap_size();
    let big = size_before * 2;
    println!("selftest heap: heap spans {size_before} bytes; allocating {big}");
    let mut v: Vec<u64> = Vec::new();
    let ok = v.try_reserve_exact(big / 8).is_ok();
    check(ok, format_args!("a {big}-byte allocation succeeds"));
    if ok {
        v.extend((0..big / 8).map(|i| i as u64 * 3));
        check(
            v.iter().enumerate().all(|(i, x)| *x == i as u64 * 3),
            format_args!("its contents read back"),
        );
    }
    check(
        heap::heap_size() > size_before,
        format_args!("the heap grew to {} bytes", heap::heap_size()),
    );
    drop(v);
}

/// `memcpy` and `memset` (`arch/aarch64/string.rs`) write exactly their `n` bytes, right,
/// for every length up to 200 and every alignment of source and destination in a
/// 16-byte window: their short and overlapping tails are where a mistake would hide.
fn test_string() {
    extern "C" {
        fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
        fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8;
    }
    const MAX: usize = 200;
    const ROOM: usize = MAX + 48;
    println!("selftest string: memcpy and memset, lengths 0..={MAX}, 16 alignments each");
    let src: Vec<u8> = (0..ROOM).map(|i| (i * 7 + 3) as u8).collect();
    let mut dst = alloc::vec![0u8; ROOM];
    let (mut copies, mut sets) = (true, true);
    for n in 0..=MAX {
        for off in 0..16 {
            let soff = (off * 5) % 16;
            dst.fill(0xee);
            // SAFETY: both ranges lie inside their buffers, which do not overlap.
            unsafe {
                memcpy(
                    dst.as_mut_ptr().add(off + 16),
                    src.as_ptr().add(soff),
                    core::hint::black_box(n),
                )
            };
            copies &= dst.iter().enumerate().all(|(i, &b)| {
                let inside = (off + 16..off + 16 + n).contains(&i);
                b == if inside {
                    src[i - off - 16 + soff]
                } else {
                    0xee
                }
            });
            dst.fill(0xee);
            // SAFETY: the range lies inside the buffer.
            unsafe {
                memset(
                    dst.as_mut_ptr().add(off + 16),
                    0x5a,
                    core::hint::black_box(n),
                )
            };
            sets &= dst.iter().enumerate().all(|(i, &b)| {
                let inside = (off + 16..off + 16 + n).contains(&i);
                b == if inside { 0x5a } else { 0xee }
            });
        }
    }
    check(
        copies,
        format_args!("memcpy writes exactly the bytes asked, copied"),
    );
    check(
        sets,
        format_args!("memset writes exactly the bytes asked, set"),
    );
}

/// The kernel map has no writable+executable page, and each section has its permissions.
fn test_wx() {
    use forkos_lib::pgtable::Pte;
    let (leaves, wx) = mmu::check_wx();
    println!("selftest wx: {leaves} leaf mappings in swapper_pg_dir");
    check(
        wx == 0,
        format_args!("{wx} of them are writable and executable"),
    );
    let l = kernel_layout();
    let has = |d: u64, f: Pte| d & f.bits() != 0;
    let show = |name: &str, va: u64, ro: bool, pxn: bool| {
        let d = mmu::kernel_lookup(va);
        let ok = d.is_some_and(|d| {
            has(d, Pte::RDONLY) == ro && has(d, Pte::PXN) == pxn && !has(d, Pte::USER)
        });
        let perm = match (ro, pxn) {
            (true, false) => "read-only, executable",
            (true, true) => "read-only, never executable",
            _ => "read-write, never executable",
        };
        check(ok, format_args!("{name} at {va:#x} is {perm}, kernel only"));
    };
    show("text", l.text, true, false);
    show("rodata", l.etext, true, true);
    show("data", l.end_rodata, false, true);
    show("bss", l.end - 1, false, true);
    show(
        "linear alias of text",
        phys_to_virt(pa_symbol(l.text)),
        true,
        true,
    );
    check(
        mmu::kernel_lookup(l.init_stack_guard).is_none(),
        format_args!(
            "the boot stack's guard page at {:#x} is unmapped",
            l.init_stack_guard
        ),
    );
}

/// A write into kernel text: must end in an oops (permission fault).
fn test_text_write() -> ! {
    let va = kernel_layout().text;
    println!("selftest text_write: writing to kernel text at {va:#x}");
    // SAFETY: deliberately faults on a read-only mapping; the handler reports and powers
    // off, never returning here.
    unsafe { core::arch::asm!("str xzr, [{}]", in(reg) va, options(nostack)) };
    panic!("kernel text was writable")
}

/// A write through a NULL pointer in the kernel: must end in an oops report.
fn test_dabort() -> ! {
    println!("selftest dabort: writing to virtual address 0x10 from EL1");
    // SAFETY: deliberately faults; the abort handler reports and powers off, never
    // returning here.
    unsafe { core::arch::asm!("str xzr, [{}]", in(reg) 0x10u64, options(nostack)) };
    panic!("the data abort did not happen")
}

/// The kernel reads a user page directly, as a buggy driver might: with PAN, an oops
/// (exit status 102); without it, the read goes through, which the test reports.
fn test_pan() -> u32 {
    use crate::mm::memory::Access;
    use crate::mm::{Mm, VmFlags, Vma, VmaBacking};
    let va = 0x40_0000u64;
    let mm = Mm::new().expect("memory for an address space");
    {
        let mut locked = mm.lock();
        locked
            .insert_vma(Vma {
                start: va,
                end: va + 4096,
                flags: VmFlags::READ | VmFlags::WRITE,
                data: VmaBacking::Anon,
            })
            .expect("an empty address space");
        locked
            .handle_mm_fault(va, Access::Write)
            .expect("a user page");
    }
    crate::mm::activate_mm(&mm);
    let pan = crate::arch::cpufeature::pan_enabled();
    println!(
        "selftest pan: PAN is {}; reading user address {va:#x} from EL1",
        if pan { "on" } else { "off" }
    );
    // SAFETY: deliberately touches a user page: with PAN this faults and the kernel
    // oopses; without it the page is mapped and readable.
    let v = unsafe { core::ptr::read_volatile(va as *const u64) };
    crate::mm::switch_mm(None);
    println!("selftest pan: the read returned {v:#x}: nothing stopped the kernel");
    check(
        false,
        format_args!("PAN stops the kernel reading user memory"),
    );
    verdict()
}

/// Recurse until the kernel stack overflows into its guard: the vectors must notice,
/// switch to the overflow stack and panic with a report (exit status 101).
fn test_stack_overflow() -> ! {
    #[inline(never)]
    #[allow(unconditional_recursion)] // the point: it ends in the guard page
    fn deeper(n: u64) -> u64 {
        let mut frame = [n; 64];
        core::hint::black_box(&mut frame);
        frame[0] + deeper(n + 1) + frame[63]
    }
    let t = &crate::task::current();
    println!(
        "selftest stack_overflow: recursing on the stack [{:#x}..{:#x}]",
        t.stack.base(),
        t.stack.top()
    );
    let r = deeper(0);
    panic!("the recursion ended ({r})")
}

fn verdict() -> u32 {
    if ALL_PASSED.load(Ordering::Relaxed) {
        println!("selftest: all passed");
        0
    } else {
        println!("selftest: FAILED");
        1
    }
}

/// Run the self-test `name` (`all`: the harmless ones in a row) and return the exit
/// status for QEMU.
pub fn run(name: Option<&str>) -> u32 {
    match name {
        None | Some("all") => {
            println!("self-report:");
            test_ptregs();
            test_timer();
            test_page_alloc();
            test_wx();
            test_string();
        }
        Some("ptregs") => test_ptregs(),
        Some("timer") => test_timer(),
        Some("smp") => test_smp(),
        Some("page_alloc") => test_page_alloc(),
        Some("heap") => test_heap(),
        Some("ptrace") => test_ptrace(),
        Some("wx") => test_wx(),
        Some("string") => test_string(),
        Some("text_write") => test_text_write(),
        Some("dabort") => test_dabort(),
        Some("pan") => return test_pan(),
        Some("stack_overflow") => test_stack_overflow(),
        Some("panic") => panic!("selftest panic"),
        Some(other) => {
            print!("selftest: unknown test '{other}'; ");
            println!("known: all ptregs timer smp page_alloc heap ptrace wx string text_write dabort pan stack_overflow panic");
            return 2;
        }
    }
    verdict()
}
