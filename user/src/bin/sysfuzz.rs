//! `sysfuzz [SEED] [CALLS]`: a syscall fuzzer. Run as pid 1, it starts worker processes
//! one after another; each issues a seeded, reproducible stream of syscalls with random
//! numbers and arguments — pointers into the kernel, into unmapped space, into its own
//! stack and memory; random clone flags; forks, exits, signals, mappings — until CALLS
//! calls have been made. A worker that dies (it may unmap its own code, or install a
//! handler at a random address) is simply replaced; one that blocks (a futex wait, a
//! long sleep) is killed after a while. At the end every process is killed and reaped,
//! and the kernel's closing line shows whether every page came back.
//!
//! One worker in four is a memory worker ([`mm_worker`]): sequences of `brk`, `mmap`,
//! `mprotect`, `madvise` and `munmap` over its heap, the mappings around it and the
//! signal trampoline page, with writes by hand and by the kernel, and forks in between.
//! The fuzz test boots with `debug_vm`, so the kernel checks each address space at every
//! such call; and init checks at the end that its own trampoline still returns from a
//! handler and holds the same code, whatever the workers did to theirs.
//!
//! It prints the seed first: `sysfuzz SEED CALLS` replays the same streams.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use forkos_user::rng::Rng;
use forkos_user::sys::{self, nr};
use forkos_user::{entry, println};

/// The syscalls forkos implements; anything else is tried as a random number too.
const CALLS: &[usize] = sys::IMPLEMENTED;

/// Scratch memory the workers point syscalls at.
static mut SCRATCH: [u64; 512] = [0; 512];

/// Calls made by all workers (in a shared page, so workers' counts reach init).
static mut COUNTER: *const AtomicU64 = core::ptr::null();

/// A random argument: small numbers, -1, huge values, flags, and pointers of every kind.
fn arg(r: &mut Rng, stack: usize) -> usize {
    let scratch = core::ptr::addr_of_mut!(SCRATCH) as usize;
    match r.below(12) {
        0 => 0,
        1 => r.below(16) as usize,
        2 => usize::MAX,
        3 => r.next_u64() as usize,
        4 => 1 << r.below(64),
        5 => 0xffff_0000_0000_0000 + (r.below(1 << 30) as usize) * 8, // kernel space
        6 => 0x10 + r.below(0x1000) as usize,                         // near NULL
        7 => 0xdead_0000 + (r.below(0x1000) as usize & !7),           // unmapped
        8 => (stack - r.below(4096) as usize) & !7,                   // own stack
        9 => scratch + (r.below(4000) as usize & !7),                 // own data
        10 => (1 << 47) + r.below(1 << 20) as usize,                  // high user space
        _ => r.below(1 << 20) as usize,
    }
}

/// One worker: `n` random syscalls from `seed`, counted in the shared page.
fn worker(seed: u64, n: u64) -> ! {
    let mut r = Rng(seed);
    let local = 0u64;
    let stack = &local as *const u64 as usize;
    for _ in 0..n {
        let nr = if r.below(16) == 0 {
            r.below(460) as usize
        } else {
            r.pick(CALLS)
        };
        let mut a = [0usize; 6];
        for x in a.iter_mut() {
            *x = arg(&mut r, stack);
        }
        // Writing garbage to the console would bury the log: writes go to a closed fd.
        if nr == nr::WRITE || nr == nr::WRITEV {
            a[0] = 5;
        }
        // SAFETY: COUNTER points at the shared page, unless this worker unmapped it,
        // in which case it dies of SIGSEGV, which is allowed.
        unsafe { (*COUNTER).fetch_add(1, Relaxed) };
        // SAFETY: fuzzing: the kernel must cope with any arguments; this process may
        // well destroy itself, which is fine.
        unsafe { sys::syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
    }
    sys::exit_group(0)
}

const PAGE: usize = 4096;

/// A memory call's argument: a page (or a byte) in the worker's playground.
struct Playground {
    /// The break when the worker started: its heap grows from here.
    heap: usize,
    /// The signal trampoline's page.
    tramp: usize,
}

impl Playground {
    /// An address near the heap, near the trampoline (where `mmap` puts things without
    /// a hint), or the trampoline page itself.
    fn addr(&self, r: &mut Rng) -> usize {
        match r.below(8) {
            0..=3 => self.heap + r.below(256) as usize * PAGE,
            4..=5 => self.tramp - r.below(64) as usize * PAGE,
            6 => self.tramp,
            _ => self.heap - r.below(16) as usize * PAGE, // its own data, even
        }
    }

    fn len(r: &mut Rng) -> usize {
        let most = if r.below(4) == 0 { 64 } else { 4 };
        (1 + r.below(most) as usize) * PAGE
    }
}

/// One memory worker: `n` calls that reshape its address space and write into it.
fn mm_worker(seed: u64, n: u64) -> ! {
    let mut r = Rng(seed);
    let p = Playground {
        heap: sys::brk(0) as usize,
        tramp: forkos_user::sigprobe::return_address() & !(PAGE - 1),
    };
    let prots = [
        sys::PROT_NONE,
        sys::PROT_READ,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::PROT_READ | sys::PROT_EXEC,
    ];
    for _ in 0..n {
        let (a, len) = (p.addr(&mut r), Playground::len(&mut r));
        let mut args = [a, len, 0, 0, 0, 0];
        let nr = match r.below(9) {
            0 => {
                args[0] = p.heap + r.below(300 * PAGE as u64) as usize;
                nr::BRK
            }
            1 | 2 => {
                let fixed = if r.below(3) == 0 { sys::MAP_FIXED } else { 0 };
                let kind = if r.below(4) == 0 {
                    sys::MAP_SHARED
                } else {
                    sys::MAP_PRIVATE
                };
                args[2] = r.pick(&prots);
                args[3] = kind | sys::MAP_ANONYMOUS | fixed;
                args[4] = usize::MAX; // fd -1
                nr::MMAP
            }
            3 | 4 => {
                args[2] = r.pick(&prots);
                nr::MPROTECT
            }
            5 => {
                args[2] = 4; // MADV_DONTNEED
                nr::MADVISE
            }
            6 => nr::MUNMAP,
            7 => {
                // The kernel writes there (copy_to_user), or fails with EFAULT.
                args[1] = 1 + r.below(64) as usize;
                nr::GETRANDOM
            }
            _ => {
                if r.below(8) == 0 {
                    // A fork now and then: copy-on-write over all of it.
                    sys::fork();
                } else if r.below(2) == 0 {
                    // A write by hand, which may well kill this worker.
                    // SAFETY: fuzzing: a fault kills only this disposable process.
                    unsafe { (a as *mut u8).write_volatile(r.next_u64() as u8) };
                }
                // SAFETY: COUNTER points at the shared page unless this worker unmapped it.
                unsafe { (*COUNTER).fetch_add(1, Relaxed) };
                continue;
            }
        };
        // SAFETY: as in worker.
        unsafe { (*COUNTER).fetch_add(1, Relaxed) };
        // SAFETY: fuzzing: the kernel must cope; this process may destroy itself.
        unsafe { sys::syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    }
    sys::exit_group(0)
}

/// Take SIGUSR1 through the trampoline (no SA_RESTORER) and return its two
/// instructions, or `None` if the handler did not run and return.
fn trampoline_round_trip() -> Option<[u32; 2]> {
    let act = sys::SigAction {
        handler: forkos_user::sigprobe::handler(),
        ..Default::default()
    };
    sys::sigaction(sys::SIGUSR1, Some(&act), None);
    let before = forkos_user::sigprobe::hits();
    sys::kill(sys::getpid() as i32, sys::SIGUSR1);
    let lr = forkos_user::sigprobe::return_address();
    if forkos_user::sigprobe::hits() != before + 1 || lr == 0 {
        return None;
    }
    // SAFETY: the trampoline is mapped readable in every program.
    Some(unsafe {
        [
            (lr as *const u32).read_volatile(),
            ((lr + 4) as *const u32).read_volatile(),
        ]
    })
}

/// The console is a terminal: a read of it waits for typing, which would hold a worker
/// until it is killed. Init's descriptors 0-2 all name it, open for reading and writing;
/// the workers get `/dev/null` as 0, and the console open for writing only as 1 and 2
/// (terminal `ioctl`s on those are still fuzzed).
fn stdio_without_reads() {
    for (path, flags, fds) in [
        (b"/dev/null\0".as_slice(), sys::O_RDWR, 0..1),
        (b"/dev/console\0".as_slice(), sys::O_WRONLY, 1..3),
    ] {
        let fd = sys::syscall(
            nr::OPENAT,
            [
                sys::AT_FDCWD as usize,
                path.as_ptr() as usize,
                flags as usize,
                0,
                0,
                0,
            ],
        );
        if fd < 0 {
            continue;
        }
        for target in fds {
            sys::syscall(nr::DUP3, [fd as usize, target, 0, 0, 0, 0]);
        }
        sys::close(fd as i32);
    }
}

/// Kill every process but init and reap them all; returns how many.
fn kill_and_reap_all() -> u64 {
    sys::kill(-1, sys::SIGKILL);
    let mut status = 0;
    let mut reaped = 0;
    while sys::wait4(-1, &mut status, sys::WALL) > 0 {
        reaped += 1;
    }
    reaped
}

/// Wait for `pid` up to about `ms` milliseconds, then kill it; reap it either way, and
/// any orphan reparented to us meanwhile.
fn reap(pid: i32, ms: u64) {
    let mut status = 0;
    for _ in 0..ms {
        if sys::wait4(pid, &mut status, sys::WALL | sys::WNOHANG) == pid as isize {
            return;
        }
        while sys::wait4(-1, &mut status, sys::WALL | sys::WNOHANG) > 0 {}
        sys::sleep_ms(1);
    }
    sys::kill(pid, sys::SIGKILL);
    sys::wait4(pid, &mut status, sys::WALL);
}

fn main(args: &[&str]) -> i32 {
    // The last two arguments are SEED and CALLS (Linux passes init unknown boot options
    // first).
    let nums: [u64; 2] = {
        let mut v = [0xf0f0_1234u64, 20_000];
        let tail = &args[args.len().saturating_sub(2)..];
        let parsed: [Option<u64>; 2] = [
            tail.first().and_then(|s| s.parse().ok()),
            tail.get(1).and_then(|s| s.parse().ok()),
        ];
        if let [Some(a), Some(b)] = parsed {
            v = [a, b];
        }
        v
    };
    let (seed, total) = (nums[0], nums[1]);
    println!("sysfuzz: seed {seed}, {total} calls (replay: init=/sysfuzz -- {seed} {total})");
    stdio_without_reads();
    let Some(tramp_code) = trampoline_round_trip() else {
        println!("sysfuzz: no signal through the trampoline");
        return 1;
    };
    // Far from where memory workers play (their heap, and below the trampoline where
    // mmap puts what has no hint), so that they cannot scribble over the count.
    let page = sys::mmap(
        0x5000_0000_0000,
        4096,
        sys::PROT_READ | sys::PROT_WRITE,
        sys::MAP_SHARED | sys::MAP_ANONYMOUS,
        -1,
        0,
    );
    if page < 0 {
        println!("sysfuzz: no shared page ({page})");
        return 1;
    }
    // SAFETY: a fresh shared page, zero-filled; AtomicU64 accepts zero.
    unsafe { COUNTER = page as *const AtomicU64 };
    // SAFETY: as above.
    let count = || unsafe { (*COUNTER).load(Relaxed) };
    let mut workers = 0u64;
    while count() < total {
        let wseed = Rng(seed ^ workers.wrapping_mul(0x1000_0000_01b3)).next_u64();
        workers += 1;
        let pid = sys::fork();
        if pid == 0 {
            if wseed.is_multiple_of(4) {
                mm_worker(wseed, 200);
            }
            worker(wseed, 200);
        }
        if pid < 0 {
            // Out of processes or memory for now (workers' children linger): clean up.
            kill_and_reap_all();
            continue;
        }
        reap(pid as i32, 200);
    }
    // Everything still alive (children and threads workers made) goes now.
    let reaped = kill_and_reap_all();
    // Whatever the workers did to their trampolines, init's is the kernel's still.
    let now = trampoline_round_trip();
    if now != Some(tramp_code) {
        println!("sysfuzz: the trampoline changed: {tramp_code:x?} -> {now:x?}");
        return 1;
    }
    println!(
        "sysfuzz: seed {seed}: {} calls from {workers} workers; {reaped} stragglers reaped; all gone",
        count()
    );
    0
}

entry!(main);
