//! forkos: a bare-metal AArch64 teaching kernel that mirrors how Linux creates processes.
//!
//! # Where things are
//! The layout follows Linux, so that someone who knows where a function lives in Linux
//! finds ours in the matching place under the same name. Read in this order:
//!
//! | here | Linux | what |
//! |---|---|---|
//! | [`start_kernel`] (this file), `boot/head.S` | `init/main.c`, `arch/arm64/kernel/head.S` | boot, in order |
//! | [`arch`] | `arch/arm64/` | everything AArch64-specific, behind a short list (see it) |
//! | [`task`], [`pid`] | `include/linux/sched.h`, `kernel/pid.c` | `Task` (`task_struct`), pids |
//! | [`fork`] | `kernel/fork.c` | `do_fork` -> `copy_process` -> `dup_task_struct` / `copy_mm` / `copy_thread` |
//! | [`exec`] | `fs/exec.c`, `fs/binfmt_elf.c` | `execve`, `de_thread`, the new stack |
//! | [`exit`] | `kernel/exit.c` | `do_exit`, zombies, `wait4` / `waitid` |
//! | [`sched`] | `kernel/sched/` | run queue, `schedule`, `schedule_tail`, wait queues |
//! | [`signal`] | `kernel/signal.c` | sending and taking signals; its syscalls |
//! | [`futex`] | `kernel/futex/` | futexes, robust lists |
//! | [`mm`] | `mm/` | pages, address spaces, faults, `copy_page_range`, `mmap`, user copies |
//! | [`syscall`] | `arch/arm64/kernel/syscall.c`, `sys.c` | the syscall table and dispatch |
//! | [`sys`], [`resource`] | `kernel/sys.c`, `include/linux/resource.h` | `uname`, `sysinfo`, rlimits |
//! | [`fs`], [`iov_iter`] | `fs/`, `init/initramfs.c`, `lib/iov_iter.c` | `/` (a ramfs from the initrd), open files, descriptor tables, device files, user buffers |
//! | [`init`] | `init/main.c` | pid 1 and the idle task's work |
//! | [`smp`] | `kernel/smp.c`, `kernel/cpu.c` | starting the other CPUs, which idle for now |
//! | [`irq`], [`time`] | `kernel/irq/`, `kernel/time/` | interrupt dispatch, the tick, sleeping |
//! | [`drivers`] | `drivers/`, `drivers/tty/` | PL011 UART, GIC, arch timer; the console's terminal (line discipline, job control) |
//! | [`dtb`] | `drivers/of/fdt.c` | reading the device tree |
//! | [`console`] | `kernel/printk/` | `print!`, `println!`, the UART's receive interrupt |
//! | [`trace`] | — | the fork trace (`trace=fork`) |
//! | [`sync`], [`random`], [`errno`] | `include/linux/spinlock.h`, `drivers/char/random.c` | locks, random bytes, error numbers |
//! | [`selftest`] | — | boot self-tests the QEMU tests drive |
//!
//! Pure logic (page-table geometry, the list of mappings, ESR decoding, ELF and cpio
//! parsing, memory ranges, uapi numbers) is in the `forkos-lib` crate so the host can
//! unit-test it.
#![no_std]
#![no_main]

extern crate alloc;

pub mod arch;
pub mod console;
pub mod drivers;
pub mod dtb;
pub mod errno;
pub mod exec;
pub mod exit;
pub mod fork;
pub mod fs;
pub mod futex;
pub mod init;
pub mod iov_iter;
pub mod irq;
pub mod mm;
pub mod pid;
pub mod ptrace;
pub mod random;
pub mod resource;
pub mod rseq;
pub mod sched;
pub mod selftest;
pub mod signal;
pub mod smp;
pub mod sync;
pub mod sys;
pub mod syscall;
pub mod task;
pub mod time;
pub mod trace;

use forkos_lib::cmdline;
use forkos_lib::memblock::{Memblock, Range};
use forkos_lib::pgtable::PAGE_SIZE;

use arch::memory::{kernel_layout, pa_symbol, phys_to_virt, PhysAddr};
use arch::{mmu, semihosting};
use dtb::GicInfo;
use mm::page_alloc;

/// QEMU's exit status after a kernel panic.
pub const EXIT_PANIC: u32 = 101;

/// Map a device's registers or stop with a clear message.
fn ioremap_or_die(what: &str, r: Range) -> u64 {
    mmu::ioremap(r.base, r.size())
        .unwrap_or_else(|| panic!("cannot map the {what} at {:#x}", r.base))
}

/// The first Rust code, called by `boot/head.S` on the boot stack with the MMU on
/// (Linux `start_kernel` in `init/main.c`).
#[no_mangle]
pub extern "C" fn start_kernel(dtb_pa: u64, boot_el: u64) -> ! {
    // 1. Learn the machine from the device tree (reachable through the boot-time
    //    linear-map window head.S made over it).
    // SAFETY: head.S mapped the gigabyte holding the device tree; the blob is reserved
    // below, so nothing overwrites it.
    let info = unsafe { dtb::parse(phys_to_virt(PhysAddr(dtb_pa)), dtb_pa) }
        .unwrap_or_else(|e| panic!("bad device tree at {dtb_pa:#x}: {e:?}"));

    // 2. Physical memory: RAM minus the image, the device tree, the initrd, firmware
    //    reservations (Linux arm64_memblock_init).
    let l = kernel_layout();
    let mut memblock = Memblock::<{ page_alloc::MAX_RANGES }>::new();
    let image = Range {
        base: pa_symbol(l.text).0,
        end: pa_symbol(l.end).0,
    };
    for r in info.memory.iter() {
        memblock.memory.add(r).expect("too many RAM ranges");
    }
    let reservations = [Some(image), Some(info.dtb), info.initrd]
        .into_iter()
        .flatten()
        .chain(info.reserved.iter());
    for r in reservations {
        memblock.reserved.add(r).expect("too many reserved ranges");
    }

    // 3. The final kernel page tables, then the page allocator over what is free (whose
    //    per-CPU lists need this CPU's per-CPU data: Linux sets the boot CPU's offset
    //    first thing, in `smp_setup_processor_id`).
    arch::percpu::init_this_cpu(0);
    mmu::paging_init(&memblock);
    let free = memblock
        .free_ranges(PAGE_SIZE as u64)
        .expect("too many free ranges");
    page_alloc::init(&free);

    // 4. The console.
    if let Some(uart) = info.uart {
        let base = ioremap_or_die("UART", uart);
        // SAFETY: base maps the PL011 the device tree names, and only the console uses it.
        console::register_uart(unsafe { drivers::pl011::Pl011::new(base) });
    }
    println!("forkos {} on {}", env!("CARGO_PKG_VERSION"), info.model);
    let el = if boot_el == 2 {
        "entered at EL2, dropped to EL1"
    } else {
        "entered at EL1"
    };
    println!("  cpu:     MIDR_EL1 {:#010x}, {el}", midr());
    for r in info.memory.iter() {
        println!("  memory:  {} MiB at {:#x}", r.size() >> 20, r.base);
    }
    match info.uart {
        Some(u) => println!("  uart:    PL011 at {:#x}", u.base),
        None => println!("  uart:    none (console through semihosting)"),
    }
    match info.initrd {
        Some(r) => println!("  initrd:  {} bytes at {:#x}", r.size(), r.base),
        None => println!("  initrd:  none"),
    }
    println!("  cmdline: \"{}\"", info.cmdline);

    // 5. The heap, kernel stacks, the idle task, interrupts and the tick.
    mm::heap::init();
    mm::kstack::init();
    fork::fork_init();
    sched_init();
    let gic = match info.gic {
        Some(GicInfo::V2 { dist, cpu }) => {
            println!(
                "  gic:     GICv2, distributor at {:#x}, cpu interface at {:#x}",
                dist.base, cpu.base
            );
            let (d, c) = (
                ioremap_or_die("GIC distributor", dist),
                ioremap_or_die("GIC cpu interface", cpu),
            );
            // SAFETY: d and c map this GICv2's registers, used only through irq::.
            unsafe { drivers::gic::Gic::new_v2(d, c) }
        }
        Some(GicInfo::V3 { dist, redist }) => {
            println!(
                "  gic:     GICv3, distributor at {:#x}, redistributors at {:#x}",
                dist.base, redist.base
            );
            let (d, r) = (
                ioremap_or_die("GIC distributor", dist),
                ioremap_or_die("GIC redistributor", redist),
            );
            // SAFETY: d and r map this GICv3's distributor and whole redistributor region,
            // used only through irq::.
            unsafe { drivers::gic::Gic::new_v3(d, r, redist.size()) }
        }
        None => panic!("no supported interrupt controller in the device tree"),
    };
    irq::init(gic);
    let timer_intid = info.timer_intid.expect("no arch timer in the device tree");
    let freq = drivers::arch_timer::frequency();
    println!(
        "  timer:   {} Hz ({}.{:02} MHz), virtual timer INTID {timer_intid}, HZ={}",
        freq,
        freq / 1_000_000,
        freq / 10_000 % 100,
        time::HZ
    );
    let tick_hz = cmdline::get(info.cmdline, "tick_hz")
        .and_then(|v| v.parse().ok())
        .unwrap_or(time::HZ)
        .clamp(time::HZ, 100_000);
    if tick_hz != time::HZ {
        println!("  tick:    {tick_hz} timer interrupts a second (preemption points), time in 1/{} s jiffies", time::HZ);
    }
    drivers::arch_timer::init(timer_intid, tick_hz);
    // The console's receive interrupt, feeding the terminal (Linux `pl011_startup`).
    if let (Some(_), Some(intid)) = (info.uart, info.uart_intid) {
        irq::request_irq(intid, console::pl011_int);
        console::enable_rx_interrupts();
    }
    // Fewer ASIDs than the CPU has, for tests: a rollover every few forks.
    let asid_bits = cmdline::get(info.cmdline, "asid_bits").and_then(|v| v.parse().ok());
    arch::mmu_context::asids_init(asid_bits, info.cpus.count);
    println!(
        "  pages:   {} free of {} managed ({} KiB kernel image, heap {} KiB)",
        page_alloc::nr_free_pages(),
        page_alloc::nr_managed_pages(),
        image.size() / 1024,
        mm::heap::heap_size() / 1024
    );
    println!("  vectors: VBAR_EL1 = {:#x}", vbar());
    arch::debug_monitors::debug_monitors_init();
    if arch::cpufeature::enable_pan() {
        println!("  pan:     on (the kernel faults on any access to user memory)");
    } else {
        println!("  pan:     not implemented by this CPU");
    }
    // 6. The other CPUs, each to its idle loop (Linux `smp_init`, which Linux runs from
    //    kernel_init; here before any task exists, so that none ever sees them start).
    smp::smp_init(&info);
    arch::irqflags::local_irq_enable();

    if let Some(name) = cmdline::get(info.cmdline, "selftest") {
        let code = selftest::run(Some(name));
        println!("forkos: power off, exit status {code}");
        semihosting::exit(code)
    }
    trace::init(info.cmdline);
    mm::debug_vm::init(info.cmdline);
    random::init();
    mm::sigpage_init();
    // Lists that hold every task at worst get their full size now: they never grow
    // later, so the memory a workload uses comes back when it ends.
    let n = fork::max_threads() + 1;
    sched::reserve_runqueues(n);
    sched::wait::reserve_timers(n);
    futex::reserve_waiters(n);
    pid::PID_TABLE.lock().reserve();
    // 7. The root file system: the initrd's files, or the built-in programs.
    let initrd = info.initrd.map(|r| {
        // SAFETY: the initrd is RAM, linear mapped, and reserved from the page allocator
        // for as long as the kernel runs; nothing writes it.
        unsafe {
            core::slice::from_raw_parts(
                phys_to_virt(PhysAddr(r.base)) as *const u8,
                r.size() as usize,
            )
        }
    });
    fs::populate_rootfs(initrd, init::PROGRAMS);
    init::rest_init(info.cmdline)
}

/// Turn the boot context into the boot CPU's idle task, pid 0 (Linux `init_task` +
/// `sched_init`).
fn sched_init() {
    sched::sched_init(fork::idle_task(0, mm::kstack::KernelStack::Init));
}

fn midr() -> u64 {
    use aarch64_cpu::registers::{Readable, MIDR_EL1};
    MIDR_EL1.get()
}

fn vbar() -> u64 {
    use aarch64_cpu::registers::{Readable, VBAR_EL1};
    VBAR_EL1.get()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    arch::irqflags::local_irq_save();
    console::emergency_print(format_args!(
        "Kernel panic - not syncing: {}\n",
        info.message()
    ));
    if let Some(loc) = info.location() {
        console::emergency_print(format_args!(
            "  at {}:{}:{}\n",
            loc.file(),
            loc.line(),
            loc.column()
        ));
    }
    semihosting::exit(EXIT_PANIC)
}
