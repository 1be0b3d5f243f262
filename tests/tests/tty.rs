//! The console as a terminal, typed into (Linux `drivers/tty/n_tty.c`,
//! `tty_jobctrl.c`): `utest tty_session` makes a session whose controlling terminal is
//! the console, as a shell's, and prints a `[step]` marker before each thing typed here.
//! What the transcript must show is Linux 6.1's behaviour: canonical-mode line editing
//! (erase `^?`, word erase `^W`, kill `^U`, with `ECHOE`/`ECHOKE` erasing on the
//! screen, literal next `^V`, reprint `^R`), `^D` ending a read without a newline and then as end of file, raw mode's
//! single bytes and `VTIME` timeout, and `^C`, `^Z`, `^\` signalling the foreground
//! process group only, echoed as `^C`, `^Z`, `^\`.

use forkos_tests::{Boot, Console};
use std::time::Duration;

/// How long each step may take: a busy 2-core machine running the whole suite beside
/// it (and Linux's slower boot) included.
const STEP: Duration = Duration::from_secs(60);

#[test]
fn tty_session_line_editing_raw_mode_and_signal_keys() {
    session(Boot::utest("tty_session").spawn(), false);
}

/// The same on a GICv3 (the UART's SPI routed through the distributor's `IROUTER`)
/// with two CPUs.
#[test]
fn tty_session_gicv3_smp2() {
    session(
        Boot {
            machine: "virt,gic-version=3".into(),
            smp: 2,
            ..Boot::utest("tty_session")
        }
        .spawn(),
        false,
    );
}

/// The same on four CPUs, one host thread each.
#[test]
fn tty_session_smp4_mttcg() {
    session(
        Boot {
            smp: 4,
            accel: Some("tcg,thread=multi".into()),
            ..Boot::utest("tty_session")
        }
        .spawn(),
        false,
    );
}

/// The same session on Linux 6.1 (`LINUX_IMAGE`, as `scripts/run-on-linux` boots it),
/// where the transcript must be the same but for forkos's SysRq key, which Linux reads
/// as input. Without `LINUX_IMAGE` there is nothing to run.
#[test]
fn tty_session_on_linux() {
    let Some(image) = std::env::var_os("LINUX_IMAGE") else {
        eprintln!("skipped: LINUX_IMAGE is not set");
        return;
    };
    let root = forkos_tests::repo_root();
    let dir = std::env::temp_dir().join(format!("forkos-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cpio = dir.join("utest.cpio");
    let utest = root.join("target/aarch64-unknown-none/release/utest");
    let packed = std::process::Command::new(root.join("scripts/mkcpio"))
        .arg(&cpio)
        .arg(format!("init={}", utest.display()))
        .status()
        .expect("scripts/mkcpio");
    assert!(packed.success(), "scripts/mkcpio failed");
    let mut qemu = std::process::Command::new("qemu-system-aarch64");
    qemu.args([
        "-M",
        "virt",
        "-cpu",
        "cortex-a72",
        "-m",
        "256M",
        "-nographic",
    ])
    .args(["-no-reboot", "-nic", "none", "-kernel"])
    .arg(image)
    .arg("-initrd")
    .arg(&cpio)
    .args([
        "-append",
        "console=ttyAMA0 rdinit=/init quiet panic=-1 -- tty_session",
    ]);
    session(Console::spawn(qemu), true);
    let _ = std::fs::remove_dir_all(&dir);
}

fn session(mut c: Console, linux: bool) {
    c.expect("[sysrq]\r\n", STEP * 2);
    if linux {
        c.send(b"pgo\r");
        c.expect("got: 4 \"pgo\\n\"", STEP);
    } else {
        // forkos's SysRq key while no session has the console.
        c.send(b"p");
        c.expect("  pid  tgid  ppid state", STEP);
        c.send(b"go\r");
        c.expect("got: 3 \"go\\n\"", STEP);
    }
    c.expect("[line]\r\n", STEP);
    c.send(b"helo\x7flo wor\x17world\r");
    // Echo: the erased `o` and word rubbed out with backspace-space-backspace.
    c.expect(
        "helo\x08 \x08lo wor\x08 \x08\x08 \x08\x08 \x08world\r\n",
        STEP,
    );
    c.expect("got: 12 \"hello world\\n\"", STEP);
    c.expect("[kill]\r\n", STEP);
    c.send(b"junk\x15ok\r");
    c.expect("got: 3 \"ok\\n\"", STEP);
    c.expect("[lnext]\r\n", STEP);
    // ^V quotes the next byte (its echo covers a caret); ^R retypes the line.
    c.send(b"a\x16\x03\x16\x7fb\x12\r");
    c.expect("a^\x08^C^\x08^?b^R\r\na^C^?b\r\n", STEP);
    c.expect("got: 5 \"a\\u{3}\\u{7f}b\\n\"", STEP);
    c.expect("[eof]\r\n", STEP);
    c.send(b"abc\x04");
    c.expect("got: 3 \"abc\"", STEP);
    c.expect("[eof2]\r\n", STEP);
    c.send(b"\x04");
    c.expect("got: 0 \"\"", STEP);
    c.expect("[raw]\r\n", STEP);
    c.send(b"xy");
    c.expect("byte: 1 \"x\"", STEP);
    c.expect("byte: 1 \"y\"", STEP);
    c.expect("VTIME read of nothing: 0 \"\"", STEP);
    c.expect("ppoll with nothing typed: 0 0x0", STEP);
    c.expect("[poll]\r\n", STEP);
    c.send(b"z\r");
    c.expect("ppoll: 1 0x1", STEP);
    c.expect("got: 2 \"z\\n\"", STEP);
    c.expect("[intr]\r\n", STEP);
    c.send(b"\x03");
    c.expect("^C", STEP);
    c.expect("fg: killed by 2", STEP);
    c.expect("bg: running", STEP);
    c.expect("[susp]\r\n", STEP);
    c.send(b"\x1a");
    c.expect("^Z", STEP);
    c.expect("fg: stopped by 20 (status 0x147f)", STEP);
    c.expect("bg: running", STEP);
    c.expect("[quit]\r\n", STEP);
    c.send(b"\x1c");
    c.expect("^\\", STEP);
    c.expect("fg: killed by 3", STEP);
    c.expect("bg: running", STEP);
    c.expect("[done]", STEP);
    if linux {
        c.expect("Attempted to kill init! exitcode=0x00000000", STEP);
    } else {
        c.finish(STEP).expect_status(0).expect_no_page_lost();
    }
}
