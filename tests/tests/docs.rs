//! The docs stay true to the code (issue 12): every Markdown link in `README.md` and
//! `docs/*.md` to a repository file points at a file that exists, every `#anchor` into a
//! Markdown file at a heading it has, and a link whose text is a code name in backticks
//! (`` [`copy_thread`](../kernel/...) ``) at a file that defines that name: a Rust item,
//! an assembly label or macro, a Python `def`, a Makefile target. Host-side, no QEMU.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use forkos_tests::repo_root;

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
                l.strip_prefix(d)
                    .is_some_and(|r| r.trim_start().split([' ', ',', '\t']).next() == Some(name))
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
    if code.contains('/')
        || code.rsplit_once('.').is_some_and(|(_, e)| {
            e.len() <= 3 && !e.is_empty() && e.chars().all(|c| c.is_ascii_alphabetic())
        }) && !code.contains("::")
    {
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
