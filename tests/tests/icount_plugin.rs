//! The instruction-counting QEMU plugin (`tools/icount-plugin/`): built here with the host
//! C compiler, loaded into a deterministic boot of `bench smp 1 N` (the run of
//! `scripts/smpbench`), it must count the same instructions on two runs, and as many per
//! fork_exit_wait as the benchmark's own CNTVCT figure says (16 instructions a tick).
//! On a two-CPU guest whose counts are known, it must give each vCPU and lock class exactly
//! its instructions. Its marker list must be the one in `lib/src/icount_markers.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use forkos_lib::icount_markers as m;
use forkos_tests::{repo_root, Boot};

const ITERS: u64 = 200;

/// Whether this QEMU takes the plugin: it is written to plugin API version 1, which QEMU 9.0
/// and later no longer accept (the project's tests also run on QEMU 10).
fn qemu_takes_plugin() -> bool {
    let out = Command::new("qemu-system-aarch64")
        .arg("--version")
        .output()
        .expect("cannot start qemu-system-aarch64: run `make test`, which installs it");
    let text = String::from_utf8_lossy(&out.stdout);
    let major = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no version in {text:?}"));
    if major >= 9 {
        eprintln!("skipped: QEMU {major} does not load plugins of API version 1");
    }
    major < 9
}

/// Builds `icount.so` as the Makefile does, into the test's scratch directory, once for
/// all the tests here (which run in parallel).
fn plugin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = repo_root().join("tools/icount-plugin/icount.c");
            let so = Path::new(env!("CARGO_TARGET_TMPDIR")).join("icount.so");
            let status = Command::new("gcc")
                .args([
                    "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-o",
                ])
                .arg(&so)
                .arg(&src)
                .status()
                .expect("cannot run gcc: `make test` installs it (scripts/need hostcc)");
            assert!(status.success(), "building the plugin failed");
            so
        })
        .clone()
}

/// One boot of `bench smp 1 ITERS` under -icount and the plugin: the console output and
/// what the plugin wrote.
fn boot(so: &Path, name: &str) -> (String, String) {
    let counts = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("icount-{name}.txt"));
    let _ = std::fs::remove_file(&counts);
    let boot = Boot {
        machine: "virt,dtb-randomness=off".into(),
        append: format!("init=/bench -- smp 1 {ITERS}"),
        initrd: Some("build/initrd.cpio".into()),
        ..Boot::default()
    };
    let mut child = boot
        .qemu()
        .args([
            "-icount",
            "shift=0,sleep=off",
            "-rtc",
            "base=2000-01-01,clock=vm",
        ])
        .arg("-plugin")
        .arg(format!("{},out={}", so.display(), counts.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start qemu-system-aarch64: run `make test`, which installs it");
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let deadline = Instant::now() + boot.timeout;
    while child.try_wait().expect("waiting for QEMU").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("QEMU did not finish within {:?}", boot.timeout);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
    let out = reader.join().unwrap_or_default().replace('\r', "");
    let counts = std::fs::read_to_string(&counts).unwrap_or_default();
    (out, counts)
}

/// The number after `key=` on the first line starting with `prefix`.
fn value(text: &str, prefix: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    let field = line
        .split(' ')
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))?;
    field.parse().ok()
}

#[test]
fn icount_plugin_counts_fork_exit_wait_as_cntvct_does_and_twice_the_same() {
    if !qemu_takes_plugin() {
        return;
    }
    let so = plugin();
    let (out, counts) = boot(&so, "first");
    assert!(
        out.contains(&format!("bench: smp parents=1 iters={ITERS} done")),
        "the bench did not finish:\n{out}"
    );
    assert!(
        counts.contains("icount end dump=1"),
        "no dump:\n{counts}\n{out}"
    );
    let (_, again) = boot(&so, "again");
    assert_eq!(counts, again, "two runs counted differently");

    let region = value(&counts, "icount vcpu=0 ", "region").expect("vCPU 0's region count");
    let ticks = value(&out, "bench: smp_fork_exit_wait ", "ticks").expect("the parent's ticks");
    let (plugin, cntvct) = (
        region as f64 / ITERS as f64,
        (ticks * 16) as f64 / ITERS as f64,
    );
    // The plugin counts a load or store that takes a page fault twice (it is started twice),
    // -icount once: a fork_exit_wait has two such faults (README). The window CNTVCT
    // measures is a few instructions wider than the region, and a tick is 16 instructions.
    let diff = plugin - cntvct;
    assert!(
        (0.0..4.0).contains(&diff),
        "plugin {plugin:.2} vs CNTVCT x 16 {cntvct:.2} instructions per fork_exit_wait\n{counts}"
    );
    // The kernel marks the locks every CPU shares (`lock_class` in kernel/src/sync.rs):
    // tasklist_lock (class 0) is taken at every fork and exit, and no class is held for
    // more of the region than the region.
    let tasklist = value(&counts, "icount lock=0 ", "held").expect("tasklist_lock's hold");
    let acquired = value(&counts, "icount lock=0 ", "acquired").expect("tasklist_lock taken");
    assert!(
        tasklist > 0 && acquired >= 2 * ITERS,
        "tasklist_lock's markers:\n{counts}"
    );
    for line in counts.lines().filter(|l| l.starts_with("icount lock=")) {
        let held = value(line, "icount lock=", "held").expect("a class's hold");
        assert!(
            held < region,
            "{line} holds longer than the region:\n{counts}"
        );
    }
}

/// Two vCPUs running `tools/icount-plugin/selftest.S`, a bare-metal guest whose counts
/// are known instruction by instruction: each vCPU gets exactly its own instructions, the
/// region stays open until the last start is stopped, and a lock class is charged exactly
/// the instructions between its markers, on each vCPU.
#[test]
fn icount_plugin_attributes_two_vcpus_and_lock_holds_exactly() {
    if !qemu_takes_plugin() {
        return;
    }
    let so = plugin();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let elf = dir.join("icount-selftest.elf");
    let status = Command::new("aarch64-linux-gnu-gcc")
        .args([
            "-nostdlib",
            "-static",
            "-Wl,-Ttext=0x40200000",
            "-Wl,--build-id=none",
        ])
        .arg("-o")
        .arg(&elf)
        .arg(repo_root().join("tools/icount-plugin/selftest.S"))
        .status()
        .expect("cannot run aarch64-linux-gnu-gcc: `make test` installs it");
    assert!(status.success(), "assembling selftest.S failed");
    let out = Command::new("qemu-system-aarch64")
        .args([
            "-M",
            "virt",
            "-cpu",
            "cortex-a72",
            "-smp",
            "2",
            "-nographic",
            "-nic",
            "none",
        ])
        .args(["-icount", "shift=0,sleep=off", "-kernel"])
        .arg(&elf)
        .arg("-plugin")
        .arg(&so)
        .stdin(Stdio::null())
        .output()
        .expect("cannot start qemu-system-aarch64");
    let err = String::from_utf8_lossy(&out.stderr);
    let dump: Vec<&str> = err.lines().filter(|l| l.starts_with("icount ")).collect();
    assert_eq!(
        dump,
        [
            "icount dump=1 vcpus=2 starts=2",
            // CPU 0: 2210 instructions up to the poll, the poll's load and branch (CPU 1
            // ran to its wfi when CPU 0's hvc started it), the stop marker; in total also
            // the 3 before the start marker, the start marker and the dump marker.
            "icount vcpu=0 region=2213 total=2218",
            "icount vcpu=1 region=1113 total=1113",
            "icount lock=3 held=304 held_max=202 acquired=2",
            "icount end dump=1",
        ],
        "{err}"
    );
}

/// `markers.h` defines the numbers `lib/src/icount_markers.rs` does.
#[test]
fn icount_plugin_markers_match_the_rust_list() {
    let header = std::fs::read_to_string(repo_root().join("tools/icount-plugin/markers.h"))
        .expect("markers.h");
    let define = |name: &str| -> u32 {
        let line = header
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("markers.h defines no {name}"));
        let v = line.split_whitespace().nth(2).expect("a value");
        match v.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => v.parse(),
        }
        .unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    assert_eq!(define("MARK_REGION_START"), m::REGION_START);
    assert_eq!(define("MARK_REGION_STOP"), m::REGION_STOP);
    assert_eq!(define("MARK_DUMP"), m::DUMP);
    assert_eq!(define("MARK_LOCK_ACQUIRE"), m::LOCK_ACQUIRE);
    assert_eq!(define("MARK_LOCK_RELEASE"), m::LOCK_RELEASE);
    assert_eq!(define("MARK_LOCK_CLASSES"), m::LOCK_CLASSES);
}
