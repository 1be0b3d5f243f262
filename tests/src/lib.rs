//! Host-side harness for forkos: boots the real kernel image in QEMU and hands the tests
//! its console output and exit status.
//!
//! Every test boots `build/forkos.img` (built by `make`; `make test` builds it first)
//! with `qemu-system-aarch64 -M virt -nographic -nic none -semihosting`, under a timeout
//! so that a hang fails instead of blocking. The kernel reports through the semihosting
//! exit status: 0 pass, 1 fail, 101 panic, 102 oops (see README). A test that types
//! into the console drives it through a [`Console`] ([`Boot::spawn`]): keys in, output
//! awaited with a timeout at every step.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A serial break (`Ctrl-A b` on QEMU's `-nographic` console), then `p`: the SysRq key
/// that prints the process table, whether or not a program reads the console.
pub const SYSRQ_P: &[u8] = b"\x01bp";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bootable image under test: `$FORKOS_IMAGE`, or `build/forkos.img`.
pub fn image() -> PathBuf {
    let path = std::env::var_os("FORKOS_IMAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("build/forkos.img"));
    assert!(
        path.exists(),
        "{} does not exist: run `make test` (or `make` first)",
        path.display()
    );
    path
}

/// The ELF of the image under test, with its symbols and debug info, for GDB:
/// `$FORKOS_ELF`, or the `.elf` beside the image (`build/forkos.elf`).
pub fn elf() -> PathBuf {
    let path = std::env::var_os("FORKOS_ELF")
        .map(PathBuf::from)
        .unwrap_or_else(|| image().with_extension("elf"));
    assert!(
        path.exists(),
        "{} does not exist: run `make test` (or `make` first)",
        path.display()
    );
    path
}

/// How to boot QEMU for one test.
#[derive(Clone, Debug)]
pub struct Boot {
    /// `-M` value, e.g. `virt` or `virt,gic-version=3`.
    pub machine: String,
    pub cpu: String,
    pub mem: String,
    /// Kernel command line (`-append`).
    pub append: String,
    /// `-initrd` file, relative to the repository root.
    pub initrd: Option<PathBuf>,
    /// `-smp`: how many CPUs (1 unless a test says otherwise; `make run` boots 4).
    pub smp: u32,
    /// `-accel`, e.g. `tcg,thread=multi` for one host thread per CPU; QEMU's default
    /// (single-threaded TCG) when `None`.
    pub accel: Option<String>,
    /// Kill QEMU after this long.
    pub timeout: Duration,
}

impl Default for Boot {
    fn default() -> Self {
        Boot {
            machine: "virt".into(),
            cpu: "cortex-a72".into(),
            mem: "256M".into(),
            append: String::new(),
            initrd: None,
            smp: 1,
            accel: None,
            // The longest boot with it, the whole EL0 suite, takes 7 s on a 2-core CI
            // machine; the rest is room for a slower or busier one.
            timeout: Duration::from_secs(60),
        }
    }
}

/// What one boot produced.
#[derive(Debug)]
pub struct Run {
    /// QEMU's exit status (the kernel's semihosting exit code).
    pub status: i32,
    /// Console output with `\r` removed.
    pub output: String,
}

impl Run {
    /// Panic with the whole console output unless `needle` appears in it.
    #[track_caller]
    pub fn expect(&self, needle: &str) -> &Self {
        assert!(
            self.output.contains(needle),
            "expected {needle:?} in the console output:\n{}",
            self.output
        );
        self
    }

    /// Panic with the output unless the exit status is `status`.
    #[track_caller]
    pub fn expect_status(&self, status: i32) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected exit status; console output:\n{}",
            self.output
        );
        self
    }

    /// Panic unless the kernel's closing line shows as many free pages after init
    /// exited as before it started: everything the workload used came back.
    #[track_caller]
    pub fn expect_no_page_lost(&self) -> &Self {
        let line = self
            .line_value("forkos: free pages before init started")
            .unwrap_or_else(|| panic!("no page count line in:\n{}", self.output));
        let nums: Vec<&str> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(nums.len(), 2, "{line}");
        assert_eq!(nums[0], nums[1], "pages lost: {line}\n{}", self.output);
        self
    }

    /// The text after `prefix` on the first line that starts with it (after spaces).
    pub fn line_value(&self, prefix: &str) -> Option<&str> {
        self.output
            .lines()
            .map(str::trim_start)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    }
}

impl Boot {
    /// A default boot with `selftest=NAME` on the command line.
    pub fn selftest(name: &str) -> Boot {
        Boot {
            append: format!("selftest={name}"),
            ..Boot::default()
        }
    }

    fn command(&self, machine: &str) -> Command {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(["-M", machine, "-cpu", &self.cpu, "-m", &self.mem])
            .args(["-smp", &self.smp.to_string()]);
        if let Some(accel) = &self.accel {
            cmd.args(["-accel", accel]);
        }
        cmd.args(["-nographic", "-nic", "none", "-semihosting", "-no-reboot"])
            .arg("-kernel")
            .arg(image());
        if !self.append.is_empty() {
            cmd.args(["-append", &self.append]);
        }
        if let Some(initrd) = &self.initrd {
            cmd.arg("-initrd").arg(repo_root().join(initrd));
        }
        cmd
    }

    /// The QEMU command for this boot, for a test that adds options (a GDB stub) and
    /// runs QEMU itself.
    pub fn qemu(&self) -> Command {
        self.command(&self.machine)
    }

    /// A boot whose pid 1 is the embedded EL0 test program `utest`, running test `name`
    /// (`init=/utest -- name`: arguments after `--` become init's argv, as on Linux),
    /// with the address space checked after every memory call (`debug_vm`).
    pub fn utest(name: &str) -> Boot {
        Boot {
            append: format!("debug_vm init=/utest -- {name}"),
            ..Boot::default()
        }
    }

    /// Boot the kernel and wait for it to power off (or the timeout to strike).
    pub fn run(&self) -> Run {
        let mut child = self
            .command(&self.machine)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start qemu-system-aarch64: run `make test`, which installs it");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stdout.read_to_end(&mut out);
            out
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for QEMU") {
                break Some(status);
            }
            if Instant::now() > deadline {
                // Ask the kernel for its process table (SysRq `p` on the console)
                // before killing it, so that a hang shows where every task is stuck.
                if let Some(stdin) = child.stdin.as_mut() {
                    use std::io::Write;
                    let _ = stdin.write_all(SYSRQ_P);
                    let _ = stdin.flush();
                }
                std::thread::sleep(Duration::from_millis(500));
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let output = String::from_utf8_lossy(&reader.join().unwrap_or_default()).replace('\r', "");
        let Some(status) = status else {
            panic!(
                "QEMU did not finish within {:?} (a hang?), booted with -append {:?}; output \
                 so far, ending with the process table:\n{output}",
                self.timeout, self.append
            );
        };
        Run {
            status: status
                .code()
                .unwrap_or_else(|| panic!("QEMU killed by a signal: {status:?}\n{stderr}")),
            output: output + &stderr,
        }
    }

    /// The device tree QEMU gives the kernel under these options (`-M ...,dumpdtb=`).
    pub fn dump_dtb(&self) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("forkos-dtb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join(format!(
            "{}-{}.dtb",
            self.machine.replace([',', '='], "_"),
            self.mem
        ));
        let machine = format!("{},dumpdtb={}", self.machine, file.display());
        // QEMU occasionally exits before the file is visible under load: try twice.
        let mut dtb = Err(std::io::Error::other("not run"));
        for _ in 0..2 {
            let out = self
                .command(&machine)
                .stdin(Stdio::null())
                .output()
                .expect("cannot start qemu-system-aarch64");
            assert!(out.status.success(), "dumpdtb failed: {out:?}");
            dtb = std::fs::read(&file);
            if dtb.is_ok() {
                break;
            }
        }
        let dtb = dtb.expect("reading the dumped device tree");
        let _ = std::fs::remove_file(&file);
        dtb
    }
}

/// A boot driven through its console as a person would: keystrokes in, the output
/// checked as it comes ([`Boot::spawn`]). Every wait has a timeout; on a timeout, or
/// when dropped, QEMU is asked for the process table and killed, and the panic shows
/// the transcript so far.
pub struct Console {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// How far [`Console::expect`] has matched: each match starts after the last.
    seen: usize,
}

impl Boot {
    /// Boot with the console's input and output connected to a [`Console`].
    pub fn spawn(&self) -> Console {
        Console::spawn(self.command(&self.machine))
    }
}

impl Console {
    /// Run `qemu` (a QEMU command line with `-nographic`) with its console connected to
    /// a [`Console`]: for forkos, [`Boot::spawn`]; for Linux, the oracle's command.
    pub fn spawn(mut qemu: Command) -> Console {
        let mut child = qemu
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start qemu-system-aarch64: run `make test`, which installs it");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Console {
            child,
            out,
            reader: Some(reader),
            seen: 0,
        }
    }

    /// Type `bytes`. QEMU's console takes `Ctrl-A` (0x01) as its escape key: to type
    /// one, it is sent twice.
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let mut typed = Vec::new();
        for &b in bytes {
            typed.push(b);
            if b == 0x01 {
                typed.push(b);
            }
        }
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin.write_all(&typed).expect("typing into QEMU");
        stdin.flush().expect("typing into QEMU");
    }

    /// Everything the console printed so far, `\r` included.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Wait until `needle` is printed after what the last `expect` matched, and return
    /// what came before it since then; panic with the transcript after `timeout`.
    #[track_caller]
    pub fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let out = self.out.lock().unwrap();
                let rest = &out[self.seen..];
                if let Some(i) = rest
                    .windows(needle.len().max(1))
                    .position(|w| w == needle.as_bytes())
                {
                    let before = String::from_utf8_lossy(&rest[..i]).into_owned();
                    self.seen += i + needle.len();
                    return before;
                }
            }
            if Instant::now() > deadline || self.child.try_wait().ok().flatten().is_some() {
                let what = self.kill();
                panic!(
                    "expected {needle:?} on the console within {timeout:?}; {what}; the \
                     transcript, ending with the process table:\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the kernel to power off: its exit status and the whole transcript (as
    /// [`Boot::run`] gives them), or a panic after `timeout`.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait().expect("waiting for QEMU") {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Run {
                    status: st.code().unwrap_or(-1),
                    output: self.transcript().replace('\r', ""),
                };
            }
            if Instant::now() > deadline {
                let what = self.kill();
                panic!(
                    "no power-off within {timeout:?}; {what}:\n{}",
                    self.transcript()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Ask for the process table, then kill QEMU; says what happened.
    fn kill(&mut self) -> &'static str {
        if self.child.try_wait().ok().flatten().is_some() {
            return "QEMU had exited";
        }
        self.send_raw(SYSRQ_P);
        std::thread::sleep(Duration::from_millis(500));
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        "QEMU was killed"
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(bytes);
            let _ = stdin.flush();
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
