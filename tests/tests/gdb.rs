//! The GDB commands (`scripts/forkos-gdb.py`, walked through in `docs/gdb.md`) on the
//! real kernel: QEMU boots the fork demo halted under its GDB stub, and `gdb-multiarch
//! -batch` catches pid 1's fork with them, as a student would with `make debug`:
//!
//! 1. `copy_thread` stops when pid 1 forks; after it returns, the child's `pt_regs`
//!    are the parent's with x0 = 0, and its `cpu_context` resumes at `ret_from_fork` on
//!    those `pt_regs`;
//! 2. at `ret_from_fork` (x19 = 0: a user child) `fk-ps` lists the child, running;
//! 3. a breakpoint at the parent's saved user pc, taken in the child's address space,
//!    stops the child in user space with x0 = 0 at that pc.
//!
//! The stub listens on a Unix socket in a directory of the test's own, so parallel
//! tests never clash over a port; QEMU and GDB are killed when the test ends, however
//! it ends.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use forkos_tests::{elf, repo_root, Boot};

/// The whole exchange takes under a second on a 2-core CI machine; 40 s is room for a
/// much slower one and still ends well within the harness's usual 60 s.
const TIMEOUT: Duration = Duration::from_secs(40);

/// What GDB does. `@@name` lines split the output into the sections the test checks.
const SCRIPT: &str = r#"set pagination off
set confirm off
set width 0
source {SCRIPT}
target remote {SOCKET}
# Boot forks twice from pid 0 (init and a kernel thread); the demo's fork is pid 1's.
# Temporary breakpoints: `finish` and `continue` then never start on one (QEMU now and
# then reports a step over a breakpoint that did not move, and it hits again).
tbreak forkos::arch::aarch64::process::copy_thread if $fk_current().pid == 1
continue
echo @@copy_thread\n
fk-current
set $child = p
finish
echo @@child_regs\n
fk-pt-regs $child
echo @@parent_regs\n
fk-pt-regs
echo @@child_cpu_context\n
fk-cpu-context $child
tbreak ret_from_fork if $x19 == 0
continue
echo @@ret_from_fork\n
fk-current
echo @@ps\n
fk-ps
echo @@to_user\n
set $child_ttbr0 = $TTBR0_EL1
break *$fk_pt_regs().pc if $TTBR0_EL1 == $child_ttbr0
continue
echo @@user\n
p/x $pc
p/x $x0
p/x $sp
p/x $TTBR0_EL1 == $child_ttbr0
echo @@end\n
"#;

/// A child process killed and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Read a pipe to its end on another thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut out);
        }
        String::from_utf8_lossy(&out).replace('\r', "")
    })
}

/// The text between `@@name` and the next `@@` marker.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let marker = format!("@@{name}\n");
    let start = out
        .find(&marker)
        .unwrap_or_else(|| panic!("GDB never reached {marker:?}; its output:\n{out}"))
        + marker.len();
    let end = out[start..].find("@@").map_or(out.len(), |i| start + i);
    &out[start..end]
}

/// Every `name: value` pair of a register dump (`x0 : 0x0`, `pc : 0x4002ac`, `syscallno: 220`).
fn registers(text: &str) -> HashMap<String, u64> {
    let mut regs = HashMap::new();
    for line in text.lines() {
        let line = line.replace(" :", ":");
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            if let Some(name) = pair[0].strip_suffix(':') {
                if let Some(v) = number(pair[1]) {
                    regs.insert(name.to_string(), v);
                }
            }
        }
    }
    regs
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The values GDB printed with `p`, in order (`$3 = 0x4002ac`).
fn printed(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix('$'))
        .filter_map(|l| l.split_once(" = "))
        .map(|(_, v)| number(v.trim()).unwrap_or_else(|| panic!("not a number: {v}")))
        .collect()
}

/// The address after `at` on the header line of a dump (`pt_regs of pid 3 (init) at 0x...`).
fn header_address(text: &str) -> u64 {
    let header = text
        .lines()
        .find(|l| l.contains(" at 0x"))
        .expect("a header line");
    let word = header.split(" at ").nth(1).expect("an address");
    let word = word.split([' ', ':']).next().unwrap();
    number(word).unwrap_or_else(|| panic!("no address in {header:?}"))
}

fn wait_for(path: &Path, qemu: &mut Killed) {
    // QEMU opens the socket within a tenth of a second of starting.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        if let Ok(Some(status)) = qemu.0.try_wait() {
            panic!("QEMU exited ({status}) before opening its GDB socket");
        }
        assert!(
            Instant::now() < deadline,
            "QEMU never opened {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Boot the demo halted under QEMU's GDB stub and run `script` in `gdb-multiarch`;
/// returns GDB's output (stdout and stderr) and QEMU's console.
fn run_gdb(script: &str, smp: u32) -> (String, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Short, as a Unix socket's path must be (108 bytes).
    let dir = TempDir(std::env::temp_dir().join(format!("fkgdb-{}-{n}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let socket = dir.0.join("gdb.sock");

    let mut qemu = Boot {
        smp,
        ..Boot::default()
    }
    .qemu();
    qemu.arg("-S")
        .arg("-gdb")
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut qemu = Killed(
        qemu.spawn()
            .expect("cannot start qemu-system-aarch64: run `make test`, which installs it"),
    );
    let console = drain(qemu.0.stdout.take());
    let qemu_err = drain(qemu.0.stderr.take());
    wait_for(&socket, &mut qemu);

    let commands = dir.0.join("commands.gdb");
    let script = script
        .replace(
            "{SCRIPT}",
            &repo_root()
                .join("scripts/forkos-gdb.py")
                .display()
                .to_string(),
        )
        .replace("{SOCKET}", &socket.display().to_string());
    std::fs::write(&commands, script).expect("writing the GDB commands");
    let mut gdb = Killed(
        Command::new("gdb-multiarch")
            .args(["-batch", "-nx", "-x"])
            .arg(&commands)
            .arg(elf())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start gdb-multiarch: run `make test`, which installs it"),
    );
    let out = drain(gdb.0.stdout.take());
    let err = drain(gdb.0.stderr.take());
    let deadline = Instant::now() + TIMEOUT;
    let finished = loop {
        if gdb.0.try_wait().expect("waiting for GDB").is_some() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(gdb);
    drop(qemu);
    let output = out.join().unwrap_or_default() + &err.join().unwrap_or_default();
    let console = console.join().unwrap_or_default() + &qemu_err.join().unwrap_or_default();
    assert!(
        finished,
        "GDB did not finish within {TIMEOUT:?}; its output:\n{output}\nconsole:\n{console}"
    );
    (output, console)
}

/// Every command loads and has its help without a connection; a command that needs the
/// kernel says how to connect instead of failing obscurely.
#[test]
fn gdb_commands_load_without_a_target() {
    let script = repo_root().join("scripts/forkos-gdb.py");
    let mut cmd = Command::new("gdb-multiarch");
    cmd.args(["-batch", "-nx", "-x"]).arg(&script);
    for c in [
        "fk-current",
        "fk-ps",
        "fk-pt-regs",
        "fk-cpu-context",
        "fk-break-fork",
    ] {
        cmd.args(["-ex", &format!("help {c}")]);
    }
    for f in ["fk_current", "fk_task_by_pid", "fk_pt_regs"] {
        cmd.args(["-ex", &format!("help function {f}")]);
    }
    let out = cmd
        .args([
            "-ex",
            "fk-break-fork 1",
            "-ex",
            "info breakpoints",
            "-ex",
            "fk-ps",
        ])
        .arg(elf())
        .stdin(Stdio::null())
        .output()
        .expect("cannot start gdb-multiarch: run `make test`, which installs it");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for usage in [
        "Usage: fk-current",
        "Usage: fk-ps",
        "Usage: fk-pt-regs [TASK]",
        "Usage: fk-cpu-context [TASK]",
        "Usage: fk-break-fork [PID]",
        "Usage: $fk_current()",
        "Usage: $fk_task_by_pid(PID)",
        "Usage: $fk_pt_regs([TASK])",
        "in forkos::fork::do_fork at kernel/src/fork.rs",
        "in forkos::arch::aarch64::process::copy_thread at kernel/src/arch/aarch64/process.rs",
        "<ret_from_fork>",
        "stop only if $fk_current().pid == 1",
        "stop only if $x19 == 0",
        "not connected to QEMU",
    ] {
        assert!(text.contains(usage), "{usage:?} missing from:\n{text}");
    }
    assert!(!text.contains("Python Exception"), "{text}");
}

#[test]
fn gdb_catches_the_demo_fork() {
    catch_the_demo_fork(1);
}

/// On four CPUs (`make debug`'s default): the child may start on any CPU, which GDB
/// shows as a thread of its own; `fk-ps` names each CPU's running task, and the child's
/// row has the CPU that GDB stopped at `ret_from_fork`.
#[test]
fn gdb_catches_the_demo_fork_smp4() {
    catch_the_demo_fork(4);
}

fn catch_the_demo_fork(smp: u32) {
    let (out, console) = run_gdb(SCRIPT, smp);
    let context = format!("GDB output:\n{out}\nconsole:\n{console}");
    assert!(
        out.contains("forkos GDB commands loaded"),
        "the script did not load; {context}"
    );
    for bad in [
        "Python Exception",
        "Error occurred in Python",
        "Error in sourced command",
    ] {
        assert!(!out.contains(bad), "{bad:?}; {context}");
    }

    // 1. copy_thread, called by pid 1.
    let at_copy_thread = section(&out, "copy_thread");
    assert!(
        out.contains("process::copy_thread (p="),
        "no stop in copy_thread; {context}"
    );
    assert!(
        at_copy_thread.contains("pid 1, tgid 1, ppid 0,"),
        "copy_thread: current is not pid 1; {context}"
    );
    let child_text = section(&out, "child_regs");
    let parent_text = section(&out, "parent_regs");
    let child = registers(child_text);
    let parent = registers(parent_text);
    let child_pid: i32 = child_text
        .split("pt_regs of pid ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no child pid; {context}"));
    assert!(child_pid > 1, "child pid {child_pid}; {context}");
    assert!(
        parent_text.contains("pt_regs of pid 1 "),
        "parent's pt_regs; {context}"
    );
    assert_eq!(child.get("x0"), Some(&0), "child's x0; {context}");
    assert_ne!(
        parent["x0"], 0,
        "the parent's x0 still holds clone's flags; {context}"
    );
    assert_eq!(
        parent["syscallno"], 220,
        "the parent is in clone; {context}"
    );
    for r in (1..31).map(|i| format!("x{i}")).chain(
        ["sp", "pc", "pstate", "orig_x0", "syscallno"]
            .iter()
            .map(|s| s.to_string()),
    ) {
        assert_eq!(child.get(&r), parent.get(&r), "{r} differs; {context}");
    }
    let user_pc = parent["pc"];
    assert!(
        user_pc != 0 && user_pc >> 48 == 0,
        "pc {user_pc:#x} is not a user address; {context}"
    );
    let childregs = header_address(child_text);
    let ctx_text = section(&out, "child_cpu_context");
    let ctx = registers(ctx_text);
    assert_eq!(
        ctx["sp"], childregs,
        "cpu_context.sp = childregs; {context}"
    );
    assert!(
        ctx_text.contains("= its pt_regs (childregs)"),
        "sp note; {context}"
    );
    assert!(
        ctx_text
            .lines()
            .any(|l| l.contains("pc :") && l.ends_with("ret_from_fork")),
        "cpu_context.pc = ret_from_fork; {context}"
    );
    assert_eq!(ctx["x19"], 0, "x19 = 0 for a user child; {context}");

    // 2. ret_from_fork: the child runs, and fk-ps lists it.
    let at_ret = section(&out, "ret_from_fork");
    assert!(
        out.contains("in ret_from_fork ()"),
        "no stop at ret_from_fork; {context}"
    );
    assert!(
        at_ret.contains(&format!("pid {child_pid}, tgid {child_pid}, ppid 1,")),
        "ret_from_fork: current is not the child; {context}"
    );
    let row: Vec<&str> = section(&out, "ps")
        .lines()
        .map(str::split_whitespace)
        .map(Iterator::collect::<Vec<_>>)
        .find(|w| w.first() == Some(&child_pid.to_string().as_str()))
        .unwrap_or_else(|| panic!("fk-ps does not list pid {child_pid}; {context}"));
    assert_eq!(
        row[1..5],
        [child_pid.to_string().as_str(), "1", "Running", "*"],
        "fk-ps row {row:?}; {context}"
    );
    assert!(
        row.contains(&"ret_from_fork") && row.last() == Some(&format!("{user_pc:#x}").as_str()),
        "fk-ps row {row:?}; {context}"
    );
    let cpus: Vec<&str> = section(&out, "ps")
        .lines()
        .filter(|l| l.starts_with("CPU "))
        .collect();
    assert_eq!(cpus.len(), smp as usize, "fk-ps's CPU lines; {context}");
    let selected = cpus
        .iter()
        .find(|l| l.ends_with(", selected)"))
        .unwrap_or_else(|| panic!("no selected CPU in fk-ps; {context}"));
    let cpu: &str = selected[4..].split(':').next().unwrap_or_default();
    assert!(
        selected.contains(&format!(": pid {child_pid} (init) (GDB thread ")),
        "the selected CPU runs the child: {selected:?}; {context}"
    );
    assert_eq!(row[5], cpu, "the child's cpu column; {context}");

    // 3. In user space, in the child's address space: the parent's pc, x0 = 0.
    let user = printed(section(&out, "user"));
    assert_eq!(
        user,
        [user_pc, 0, parent["sp"], 1],
        "pc, x0, sp, same TTBR0 at the child's return to user space; {context}"
    );
    assert!(out.contains("@@end"), "{context}");
}
