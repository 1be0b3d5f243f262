//! The kernel command line: space-separated `key=value` or bare `key` words
//! (Linux `lib/cmdline.c`, `kernel/params.c`).

/// The value of the last `key=value` word for `key`; `Some("")` for a bare `key`.
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for word in cmdline.split_ascii_whitespace() {
        match word.split_once('=') {
            Some((k, v)) if k == key => found = Some(v),
            None if word == key => found = Some(""),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::get;

    #[test]
    fn finds_values_and_bare_words() {
        let c = "console=ttyAMA0  selftest=ptregs quiet";
        assert_eq!(get(c, "selftest"), Some("ptregs"));
        assert_eq!(get(c, "console"), Some("ttyAMA0"));
        assert_eq!(get(c, "quiet"), Some(""));
        assert_eq!(get(c, "self"), None);
        assert_eq!(get("", "x"), None);
    }

    #[test]
    fn last_word_wins() {
        assert_eq!(get("a=1 a=2", "a"), Some("2"));
    }
}
