//! The kernel command line: space-separated `key=value` or bare `key` words
//! (Linux `lib/cmdline.c`, `kernel/params.c`).

/// The kernel's own part of the command line: everything before a `--` word.
fn kernel_part(cmdline: &str) -> &str {
    match init_args_start(cmdline) {
        Some(i) => &cmdline[..i],
        None => cmdline,
    }
}

/// Where the `--` word starts, if there is one.
fn init_args_start(cmdline: &str) -> Option<usize> {
    let mut pos = 0;
    for word in cmdline.split(' ') {
        if word == "--" {
            return Some(pos);
        }
        pos += word.len() + 1;
    }
    None
}

/// The words after `--`, which Linux passes to init as its arguments.
pub fn init_args(cmdline: &str) -> &str {
    match init_args_start(cmdline) {
        Some(i) => cmdline[i + 2..].trim_start(),
        None => "",
    }
}

/// The value of the last `key=value` word for `key`; `Some("")` for a bare `key`.
/// Words after `--` belong to init and are not looked at.
pub fn get<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    for word in kernel_part(cmdline).split_ascii_whitespace() {
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
    use super::{get, init_args};

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
    fn init_arguments_follow_the_double_dash() {
        let c = "init=/utest trace=fork -- fork_basic x=1";
        assert_eq!(get(c, "init"), Some("/utest"));
        assert_eq!(get(c, "x"), None);
        assert_eq!(init_args(c), "fork_basic x=1");
        assert_eq!(init_args("-- a b"), "a b");
        assert_eq!(init_args("quiet"), "");
        assert_eq!(init_args("a--b"), "");
    }

    #[test]
    fn last_word_wins() {
        assert_eq!(get("a=1 a=2", "a"), Some("2"));
    }
}
