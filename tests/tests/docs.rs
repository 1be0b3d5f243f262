//! The docs stay true to the code and to the build (issue 12; STYLE.md, "Docs quote the
//! build"):
//!
//! 1. every Markdown link in `README.md` and `docs/*.md` to a repository file points at a
//!    file that exists, every `#anchor` into a Markdown file at a heading it has, and a
//!    link whose text is a code name in backticks (`` [`copy_thread`](../kernel/...) ``)
//!    at a file that defines that name: a Rust item, an assembly label or macro, a Python
//!    `def`, a Makefile target. Host-side, no QEMU;
//! 2. every quoted transcript marked `<!-- output of: COMMAND -->` is what today's build
//!    prints for that command, once hexadecimal numbers (addresses, which move with
//!    every build) are masked: each console line must be printed by a boot, and a
//!    disassembly must be a run of `llvm-objdump`'s lines. `...` or `…` in a quoted line
//!    stands for any text; a line of just `...` for lines left out. A block marked
//!    `<!-- output of: source FILE -->` quotes source code: a run of FILE's lines.
//!
//! Every fenced block with a fork-trace line must carry such a mark, so no excerpt of the
//! trace escapes the check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::process::Command;

use forkos_tests::{repo_root, Boot};

/// The Markdown files whose links and transcripts are checked.
fn markdown_files() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A path relative to the repository root, for messages.
fn shown(path: &Path) -> String {
    let root = repo_root().canonicalize().expect("repository root");
    path.canonicalize()
        .ok()
        .and_then(|p| p.strip_prefix(&root).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The lines of a Markdown file outside fenced code blocks, with their numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if !in_fence {
            out.push((i + 1, line));
        }
    }
    out
}

/// `[text](target)` links on one line of prose (not inside inline code).
fn links(line: &str) -> Vec<(String, String)> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_code = false;
    while i < b.len() {
        match b[i] {
            b'`' => in_code = !in_code,
            b'[' if !in_code => {
                // The link text may hold code spans; it ends at the first `]` outside one.
                let mut j = i + 1;
                let mut code = false;
                while j < b.len() && (b[j] != b']' || code) {
                    if b[j] == b'`' {
                        code = !code;
                    }
                    j += 1;
                }
                if j + 1 < b.len() && b[j + 1] == b'(' {
                    if let Some(k) = line[j + 2..].find(')') {
                        out.push((
                            line[i + 1..j].to_string(),
                            line[j + 2..j + 2 + k].to_string(),
                        ));
                        i = j + 2 + k + 1;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    prose_lines(markdown)
        .into_iter()
        .filter_map(|(_, l)| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `text` has `word` as a whole word right after `prefix` (`fn copy_thread`).
fn defines_after(text: &str, prefix: &str, word: &str) -> bool {
    let needle = format!("{prefix}{word}");
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

/// Whether the file defines `name` in a way its language has.
fn defines(file: &Path, text: &str, name: &str) -> bool {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let file_name = file.file_name().and_then(|e| e.to_str()).unwrap_or("");
    // An assembly label (`ret_from_fork:`), alone in a .S file or in a `global_asm!`
    // string; a macro (`.macro kernel_entry, el`); a symbol made global.
    let asm = text.lines().any(|l| {
        let l = l.trim().trim_start_matches('"');
        l.strip_prefix(name).is_some_and(|r| r.starts_with(':'))
            || [".macro", ".global", ".globl"].iter().any(|d| {
                l.strip_prefix(d).is_some_and(|r| {
                    r.trim_start().split([' ', ',', '\t', '"']).next() == Some(name)
                })
            })
    });
    match ext {
        "rs" => {
            asm || [
                "fn ",
                "struct ",
                "enum ",
                "union ",
                "const ",
                "static ",
                "static mut ",
                "type ",
                "trait ",
                "mod ",
                "macro_rules! ",
            ]
            .iter()
            .any(|p| defines_after(text, p, name))
        }
        "S" | "s" => asm,
        "py" => ["def ", "class "]
            .iter()
            .any(|p| defines_after(text, p, name)),
        "c" | "h" => text.lines().any(|l| {
            // `static int test_fork(void)` at the start of a line, or a #define.
            !l.starts_with([' ', '\t'])
                && !l.trim_end().ends_with(';')
                && l.find(&format!("{name}("))
                    .is_some_and(|at| !l[..at].chars().next_back().is_some_and(is_ident_char))
                || l.starts_with(&format!("#define {name}"))
        }),
        _ if file_name == "Makefile" => text.lines().any(|l| {
            l.split(':')
                .next()
                .is_some_and(|t| t.split_whitespace().any(|w| w == name))
                && l.contains(':')
        }),
        _ => asm,
    }
}

/// For a Rust path `Type::item`, the type is defined or implemented in the file too.
fn has_type(text: &str, ty: &str) -> bool {
    ["struct ", "enum ", "union ", "trait ", "type ", "impl "]
        .iter()
        .any(|p| defines_after(text, p, ty))
        || text.lines().any(|l| {
            let l = l.trim_start();
            l.starts_with("impl") && l.split([' ', '<', '>']).any(|w| w == ty)
        })
}

/// `entry.S`, `tests/tests/demo.rs`, `user/src/bin/utest/`: a path, or a name with a
/// short extension (not a Rust path like `Mm::new`).
fn looks_like_a_file_name(code: &str) -> bool {
    let extension = code.rsplit_once('.').map(|(_, e)| e);
    code.contains('/')
        || (!code.contains("::")
            && extension.is_some_and(|e| {
                (1..=3).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphabetic())
            }))
}

/// What is wrong with one link, if anything.
fn check_link(md: &Path, text: &str, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        md.to_path_buf()
    } else {
        md.parent().expect("a directory").join(path)
    };
    if !file.exists() {
        return Some(format!("{} does not exist", shown(&file)));
    }
    if let Some(anchor) = anchor {
        if file.extension().is_some_and(|e| e == "md") && !anchors(&read(&file)).contains(anchor) {
            return Some(format!("{} has no heading #{anchor}", shown(&file)));
        }
        return None;
    }
    // Only code names in backticks name an item.
    let code = text.strip_prefix('`')?.strip_suffix('`')?;
    if code.contains('`') || file.is_dir() {
        return None;
    }
    // A file name names the file: it must be the link's own.
    if looks_like_a_file_name(code) {
        let wanted = code.trim_end_matches('/');
        return (!target.trim_end_matches('/').ends_with(wanted))
            .then(|| format!("the text names {code}, the link {target}"));
    }
    // `cpu_switch_to(prev, next)`, `kernel_entry 0`: the name is the first word.
    let name = code.split(['(', ' ']).next().unwrap_or(code);
    let segments: Vec<&str> = name.split("::").collect();
    let item = *segments.last().expect("a name");
    if item.is_empty() || !item.chars().all(is_ident_char) {
        return Some(format!("`{code}` is not a code name"));
    }
    let source = read(&file);
    if !defines(&file, &source, item) {
        return Some(format!("{} defines no `{item}`", shown(&file)));
    }
    if segments.len() > 1 {
        let ty = segments[segments.len() - 2];
        if !has_type(&source, ty) {
            return Some(format!("{} has no type `{ty}` for `{name}`", shown(&file)));
        }
    }
    None
}

#[test]
fn docs_code_links_name_items_that_exist() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for md in markdown_files() {
        let text = read(&md);
        for (n, line) in prose_lines(&text) {
            for (label, target) in links(line) {
                checked += 1;
                if let Some(why) = check_link(&md, &label, &target) {
                    broken.push(format!("{}:{n}: [{label}]({target}): {why}", shown(&md)));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} links found: is the parser broken?"
    );
    assert!(
        broken.is_empty(),
        "{} broken links:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// The checker itself, on names it must accept and refuse.
#[test]
fn docs_link_checker_knows_each_kind_of_definition() {
    let docs = repo_root().join("docs/walkthrough.md");
    for (text, target) in [
        ("`copy_thread`", "../kernel/src/arch/aarch64/process.rs"),
        ("`ret_from_fork`", "../kernel/src/arch/aarch64/process.rs"),
        ("`kernel_entry 0`", "../kernel/src/arch/aarch64/entry.S"),
        ("`ret_to_user`", "../kernel/src/arch/aarch64/entry.S"),
        ("`Mm::new`", "../kernel/src/mm/mod.rs"),
        ("`NR_CPUS`", "../kernel/src/arch/aarch64/percpu.rs"),
        ("`fork_trace_narrates_the_path`", "../tests/tests/demo.rs"),
        ("`elf`", "../tests/src/lib.rs"),
        ("`task_from_value`", "../scripts/forkos-gdb.py"),
        ("`lint`", "../Makefile"),
        ("`entry.S`", "../kernel/src/arch/aarch64/entry.S"),
        ("the tour", "walkthrough.md#the-walk"),
    ] {
        assert_eq!(check_link(&docs, text, target), None, "[{text}]({target})");
    }
    for (text, target) in [
        ("`copy_thread`", "../kernel/src/fork.rs"),
        ("`Task::alloc`", "../kernel/src/mm/kstack.rs"),
        ("`copy_thread`", "../kernel/src/no_such_file.rs"),
        ("`do_fork`", "../kernel/src/fork.rs#no-anchor-check-in-rust"),
        ("`fork.rs`", "../kernel/src/exit.rs"),
        ("a heading", "walkthrough.md#no-such-heading"),
    ] {
        let verdict = check_link(&docs, text, target);
        // A `#` into a Rust file is not checked; everything else here is broken.
        assert_eq!(
            verdict.is_none(),
            target.ends_with("#no-anchor-check-in-rust"),
            "[{text}]({target}): {verdict:?}"
        );
    }
}

/// One quoted transcript: the command that printed it and its lines.
struct Quote {
    file: PathBuf,
    line: usize,
    command: String,
    lines: Vec<String>,
}

const MARK: &str = "<!-- output of: ";

/// Every fenced block preceded by `<!-- output of: COMMAND -->` (a blank line between
/// allowed); fails for a fenced block holding a `[trace]` line without the mark.
fn quotes() -> Vec<Quote> {
    let mut out = Vec::new();
    let mut unmarked = Vec::new();
    for md in markdown_files() {
        let text = read(&md);
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        let mut pending: Option<String> = None;
        while i < lines.len() {
            let t = lines[i].trim();
            if let Some(c) = t.strip_prefix(MARK).and_then(|r| r.strip_suffix("-->")) {
                pending = Some(c.trim().to_string());
            } else if t.starts_with("```") {
                let start = i + 1;
                let mut end = start;
                while end < lines.len() && !lines[end].trim_start().starts_with("```") {
                    end += 1;
                }
                let body: Vec<String> = lines[start..end].iter().map(|l| l.to_string()).collect();
                match pending.take() {
                    Some(command) => out.push(Quote {
                        file: md.clone(),
                        line: start,
                        command,
                        lines: body,
                    }),
                    None if body.iter().any(|l| l.trim_start().starts_with("[trace]")) => {
                        unmarked.push(format!("{}:{start}", shown(&md)))
                    }
                    None => {}
                }
                i = end;
            } else if !t.is_empty() {
                pending = None;
            }
            i += 1;
        }
    }
    assert!(
        unmarked.is_empty(),
        "fork-trace excerpts without a `{MARK}COMMAND -->` line before them: {}",
        unmarked.join(", ")
    );
    out
}

/// A line made comparable across builds: `// comments` of a disassembly dropped, every
/// hexadecimal number `0x…`, runs of blanks one space.
fn masked(line: &str, strip_comment: bool) -> String {
    let line = if strip_comment {
        line.split("//").next().unwrap_or("")
    } else {
        line
    };
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("0x") {
        let digits = rest[at + 2..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .count();
        out.push_str(&rest[..at]);
        if digits > 0 {
            out.push_str("0x…");
        } else {
            out.push_str("0x");
        }
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the quoted line (`...` or `…` standing for any text) matches the output line.
fn matches(quoted: &str, printed: &str) -> bool {
    let quoted = quoted.replace("0x…", "\u{1}").replace("...", "…");
    let parts: Vec<String> = quoted
        .split('…')
        .map(|p| p.replace('\u{1}', "0x…"))
        .collect();
    if parts.len() == 1 {
        return parts[0] == printed;
    }
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if !printed.starts_with(first.as_str()) || !printed[first.len()..].ends_with(last.as_str()) {
        return false;
    }
    let mut at = first.len();
    let end = printed.len() - last.len();
    for p in &parts[1..parts.len() - 1] {
        match printed[at..end].find(p.as_str()) {
            Some(i) => at += i + p.len(),
            None => return false,
        }
    }
    true
}

fn boot_output(command: &str) -> String {
    let boot = match command {
        "make run" => Boot::default(),
        "make run TRACE=fork" => Boot {
            append: "trace=fork".into(),
            ..Boot::default()
        },
        "make run INITRD=build/initrd.cpio TRACE=fork" => {
            let initrd = repo_root().join("build/initrd.cpio");
            assert!(
                initrd.exists(),
                "{} missing: run `make test`, which builds it",
                initrd.display()
            );
            Boot {
                append: "trace=fork".into(),
                initrd: Some("build/initrd.cpio".into()),
                ..Boot::default()
            }
        }
        "make shell TRACE=fork TEST=pipe" => Boot {
            append: "trace=fork init=/bin/sh -- /etc/init.sh pipe".into(),
            initrd: Some("build/busybox.cpio".into()),
            ..Boot::default()
        },
        "make shell TEST=session" => Boot {
            append: "init=/bin/sh -- /etc/init.sh session".into(),
            initrd: Some("build/busybox.cpio".into()),
            ..Boot::default()
        },
        "make shell TEST=forktrace" => Boot {
            append: "init=/bin/sh -- /etc/init.sh forktrace".into(),
            initrd: Some("build/busybox.cpio".into()),
            ..Boot::default()
        },
        _ => panic!("no way to run {command:?} for a quoted transcript"),
    };
    // `make run` boots four CPUs (the Makefile's SMP default).
    let run = Boot { smp: 4, ..boot }.run();
    run.expect_status(0);
    run.output
}

fn disassembly(program: &str) -> String {
    let objdump = String::from_utf8(
        Command::new(repo_root().join("scripts/need"))
            .arg("objcopy")
            .output()
            .expect("scripts/need objcopy")
            .stdout,
    )
    .unwrap()
    .trim()
    .replace("llvm-objcopy", "llvm-objdump");
    let binary = repo_root()
        .join("target/aarch64-unknown-none/release")
        .join(program);
    assert!(
        binary.exists(),
        "{} missing: run `make test`",
        binary.display()
    );
    let out = Command::new(&objdump)
        .args(["-d", "-C", "--no-show-raw-insn", "--print-imm-hex"])
        .arg(&binary)
        .output()
        .expect("llvm-objdump");
    assert!(out.status.success(), "{objdump} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Lines of a disassembly as `ADDR: insn operands <symbol>` (objdump's own layout is
/// `  ADDR:  \tinsn\toperands`); Rust's hashes dropped from symbols (`::h0123…`).
fn disassembly_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let (addr, insn) = l.split_once(':')?;
            let addr = addr.trim();
            (!addr.is_empty() && addr.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| format!("{addr}: {}", drop_hashes(insn)))
        })
        .collect()
}

/// A disassembly line made comparable: its address masked like any other hex number.
fn insn_line(line: &str) -> String {
    match line.split_once(':') {
        Some((addr, insn))
            if !addr.trim().is_empty() && addr.trim().chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            format!("0x…: {}", masked(insn, true))
        }
        _ => masked(line, true),
    }
}

fn drop_hashes(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("::h") {
        let digits = rest[at + 3..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .count();
        out.push_str(&rest[..at]);
        if digits != 16 {
            out.push_str(&rest[at..at + 3 + digits]);
        }
        rest = &rest[at + 3 + digits..];
    }
    out + rest
}

/// Every console line quoted from a boot is printed by a boot of today's build, and every
/// quoted disassembly is a run of today's. A parent and its child do not run in the same
/// order on every boot (a timer tick can fall anywhere), so a line missing from one boot
/// is looked for in up to two more.
#[test]
fn docs_transcripts_are_printed_by_the_build() {
    let quotes = quotes();
    assert!(
        quotes.iter().any(|q| q.command == "make run TRACE=fork"),
        "no quoted fork trace found: are the `{MARK}...-->` marks gone?"
    );
    let mut failures = Vec::new();
    // For each command: how many boots so far, and the lines they printed.
    let mut outputs: std::collections::HashMap<String, (usize, Vec<String>)> = Default::default();
    for q in &quotes {
        let at = format!("{}:{} ({})", shown(&q.file), q.line, q.command);
        if let Some(program) = q.command.strip_prefix("llvm-objdump -d ").map(str::trim) {
            let printed: Vec<String> = disassembly_lines(&disassembly(program))
                .iter()
                .map(|l| insn_line(l))
                .collect();
            let wanted: Vec<String> = q
                .lines
                .iter()
                .map(|l| insn_line(l))
                .filter(|l| !l.is_empty())
                .collect();
            let found = printed
                .windows(wanted.len())
                .any(|w| w.iter().zip(&wanted).all(|(p, q)| matches(q, p)));
            if !found {
                failures.push(format!(
                    "{at}: this run of instructions is not in today's `{program}`:\n  {}",
                    wanted.join("\n  ")
                ));
            }
            continue;
        }
        if let Some(file) = q.command.strip_prefix("source ").map(str::trim) {
            // Source quoted as it is in the file, up to blanks: a run of its lines.
            let text = read(&repo_root().join(file));
            let printed: Vec<String> = text.lines().map(|l| masked(l, false)).collect();
            let wanted: Vec<String> = q.lines.iter().map(|l| masked(l, false)).collect();
            if !printed
                .windows(wanted.len())
                .any(|w| w == wanted.as_slice())
            {
                failures.push(format!(
                    "{at}: these lines are not in {file}:\n  {}",
                    wanted.join("\n  ")
                ));
            }
            continue;
        }
        for quoted in &q.lines {
            let wanted = masked(quoted, false);
            if wanted.is_empty() || wanted == "..." || wanted == "…" {
                continue;
            }
            let (boots, printed) = outputs.entry(q.command.clone()).or_default();
            while !printed.iter().any(|p| matches(&wanted, p)) {
                if *boots >= 3 {
                    failures.push(format!("{at}: not printed by today's build:\n  {quoted}"));
                    break;
                }
                *boots += 1;
                printed.extend(boot_output(&q.command).lines().map(|l| masked(l, false)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} quoted lines differ from today's build (hex numbers are masked; update the \
         quote from `{{command}}`'s output):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn docs_transcript_masking_and_wildcards() {
    let printed = masked(
        "[trace] pid 3: ret_from_fork: x19 = 0 -> ret_to_user -> kernel_exit, which erets to pc 0x400390 with x0 = 0",
        false,
    );
    for quoted in [
        "[trace] pid 3: ret_from_fork: x19 = 0 -> ret_to_user -> kernel_exit, which erets to pc 0x4002ac with x0 = 0",
        "[trace] pid 3: ret_from_fork: x19 = 0 -> ... with x0 = 0",
        "[trace] pid 3: ret_from_fork: …",
    ] {
        assert!(matches(&masked(quoted, false), &printed), "{quoted}");
    }
    for quoted in [
        "[trace] pid 4: ret_from_fork: x19 = 0 -> ret_to_user -> kernel_exit, which erets to pc 0x4002ac with x0 = 0",
        "[trace] pid 3: ret_from_fork: x19 = 0",
        "... with x0 = 1",
    ] {
        assert!(!matches(&masked(quoted, false), &printed), "{quoted}");
    }
    assert_eq!(
        insn_line("  40038c:      \tsvc\t#0x0    // the svc"),
        "0x…: svc #0x…"
    );
}
