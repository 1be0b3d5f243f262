//! Writes one `#[test]` per EL0 test into `$OUT_DIR/user_tests.rs`, which
//! `tests/tests/user.rs` includes. The names come from the `tests!` table of
//! `user/src/bin/utest/main.rs`, the one list of EL0 tests: a test added there is a
//! host test too, under its own name (`make test T=NAME`).

use std::fmt::Write as _;
use std::path::Path;

const TABLE: &str = "../user/src/bin/utest/main.rs";

fn main() {
    println!("cargo:rerun-if-changed={TABLE}");
    let source = std::fs::read_to_string(TABLE).unwrap_or_else(|e| panic!("{TABLE}: {e}"));
    let names = el0_test_names(&source);
    assert!(!names.is_empty(), "{TABLE}: the tests! table names no test");
    let mut out = String::new();
    for name in &names {
        writeln!(out, "#[test]\nfn {name}() {{\n    utest({name:?});\n}}").unwrap();
    }
    let dest = Path::new(&std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("user_tests.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

/// The names in the invocation `tests! { module: name, ...; ... }`, in table order.
fn el0_test_names(source: &str) -> Vec<String> {
    let start = source
        .find("\ntests! {")
        .unwrap_or_else(|| panic!("{TABLE}: no `tests! {{` table"));
    let body = &source[start + "\ntests! {".len()..];
    let body = &body[..body
        .find('}')
        .unwrap_or_else(|| panic!("{TABLE}: the tests! table does not end"))];
    let body: String = body
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = Vec::new();
    for entry in body.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (_module, list) = entry
            .split_once(':')
            .unwrap_or_else(|| panic!("{TABLE}: `{entry}` is not `module: name, ...`"));
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let ident = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with(|c: char| c.is_ascii_lowercase());
            assert!(ident, "{TABLE}: `{name}` is not a test name");
            assert!(!names.iter().any(|n| n == name), "{TABLE}: `{name}` twice");
            names.push(name.to_string());
        }
    }
    names
}
