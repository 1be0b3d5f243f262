//! The terminal line discipline's pure logic (Linux `drivers/tty/n_tty.c`): what a typed
//! byte does to the read buffer, what it echoes and which signal it raises; what a read
//! takes from the buffer; and output post-processing (`OPOST`).
//!
//! The kernel's tty (`kernel/src/drivers/tty/`) holds one [`NTtyData`] behind a lock,
//! feeds it the bytes the UART's receive interrupt brings ([`NTtyData::receive_char`]),
//! writes what it echoes, sends the signal to the foreground process group and wakes
//! readers. Everything here is arithmetic on bytes, so it is tested on the host.

use crate::uapi::signal::{SIGINT, SIGQUIT, SIGTSTP};
use crate::uapi::termbits::*;

/// The read buffer's size (Linux `N_TTY_BUF_SIZE`).
pub const N_TTY_BUF_SIZE: usize = 4096;

/// The character Linux stores for an end of file in canonical mode
/// (`__DISABLED_CHAR`): at a line end it marks `^D`, which a read does not copy.
const DISABLED_CHAR: u8 = 0;

/// What a received byte asks of the tty besides its echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing more.
    None,
    /// Send this signal to the foreground process group (Linux `isig`); the input was
    /// flushed unless `NOFLSH`.
    Signal(i32),
}

/// The line discipline's state (Linux `struct n_tty_data`): a ring of typed bytes, the
/// bitmap of line ends in it, and the counters into it. `read_tail` <= `canon_head` <=
/// `read_head`, all counting bytes ever stored (the index is the count modulo the size).
pub struct NTtyData {
    read_buf: [u8; N_TTY_BUF_SIZE],
    /// One bit per slot: a line ends there (newline, EOL, EOL2 or EOF).
    read_flags: [u64; N_TTY_BUF_SIZE / 64],
    /// Where the next typed byte goes.
    read_head: usize,
    /// The end of the last complete line (canonical mode): readable up to here.
    canon_head: usize,
    /// Where the next read starts.
    read_tail: usize,
    /// The start of the line being read (Linux `line_start`), for `eof_push`.
    line_start: usize,
    /// In canonical mode (Linux `icanon`), fixed when the termios is set.
    icanon: bool,
    /// The last byte was `^V`: the next is data (Linux `lnext`).
    lnext: bool,
    /// Erasing with `ECHOPRT` (Linux `erasing`); forkos does not print erased
    /// characters, so this only pairs the `\` and `/`.
    erasing: bool,
    /// The output column (Linux `column`), for erasing a tab.
    pub column: usize,
    /// The column the line being typed started at (Linux `canon_column`).
    canon_column: usize,
    /// The terminal's settings.
    pub termios: Termios,
}

impl Default for NTtyData {
    fn default() -> Self {
        Self::new()
    }
}

/// Is `c` a control character as C's `iscntrl` says?
fn iscntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl NTtyData {
    /// An empty buffer with Linux's default settings (`tty_std_termios`).
    pub const fn new() -> Self {
        NTtyData {
            read_buf: [0; N_TTY_BUF_SIZE],
            read_flags: [0; N_TTY_BUF_SIZE / 64],
            read_head: 0,
            canon_head: 0,
            read_tail: 0,
            line_start: 0,
            icanon: true,
            lnext: false,
            erasing: false,
            column: 0,
            canon_column: 0,
            termios: Termios::STD,
        }
    }

    /// Bytes stored and not yet read (Linux `read_cnt`).
    pub fn read_cnt(&self) -> usize {
        self.read_head - self.read_tail
    }

    fn at(&self, i: usize) -> u8 {
        self.read_buf[i % N_TTY_BUF_SIZE]
    }

    fn flag(&self, i: usize) -> bool {
        let i = i % N_TTY_BUF_SIZE;
        self.read_flags[i / 64] & (1 << (i % 64)) != 0
    }

    fn set_flag(&mut self, i: usize, on: bool) {
        let i = i % N_TTY_BUF_SIZE;
        if on {
            self.read_flags[i / 64] |= 1 << (i % 64);
        } else {
            self.read_flags[i / 64] &= !(1 << (i % 64));
        }
    }

    /// Store one byte (Linux `put_tty_queue`).
    fn put_tty_queue(&mut self, c: u8) {
        let h = self.read_head;
        self.read_buf[h % N_TTY_BUF_SIZE] = c;
        self.set_flag(h, false);
        self.read_head += 1;
    }

    /// Forget everything typed (Linux `reset_buffer_flags`, as `n_tty_flush_buffer` and
    /// `TCFLSH` use it).
    pub fn reset_buffer_flags(&mut self) {
        self.read_head = 0;
        self.canon_head = 0;
        self.read_tail = 0;
        self.line_start = 0;
        self.erasing = false;
        self.read_flags = [0; N_TTY_BUF_SIZE / 64];
    }

    /// New settings (Linux `n_tty_set_termios`): leaving canonical mode makes what is
    /// typed readable at once; entering it starts a line at what is unread.
    pub fn set_termios(&mut self, t: Termios) {
        let was_canon = self.icanon;
        self.termios = t;
        self.icanon = t.c_lflag & ICANON != 0;
        if was_canon != self.icanon {
            if self.icanon {
                self.canon_head = self.read_tail;
                self.line_start = self.read_tail;
            } else {
                self.canon_head = self.read_head;
            }
            self.erasing = false;
            self.lnext = false;
        }
    }

    /// Is there something for a read (Linux `input_available_p`)? In canonical mode a
    /// whole line; else `VMIN` bytes for `poll` when `VTIME` is 0, or one.
    pub fn input_available_p(&self, poll: bool) -> bool {
        if self.icanon {
            return self.canon_head != self.read_tail;
        }
        let (min, time) = (self.termios.c_cc[VMIN], self.termios.c_cc[VTIME]);
        let amt = if poll && time == 0 && min != 0 {
            min as usize
        } else {
            1
        };
        self.read_cnt() >= amt
    }

    /// Bytes a read could take now (Linux `FIONREAD`'s `inq_canon`, or `read_cnt`).
    pub fn inq(&self) -> usize {
        if !self.icanon {
            return self.read_cnt();
        }
        let mut n = self.canon_head - self.read_tail;
        // An end of file is not data.
        for i in self.read_tail..self.canon_head {
            if self.flag(i) && self.at(i) == DISABLED_CHAR {
                n -= 1;
            }
        }
        n
    }

    /// Echo one byte through output processing (Linux `do_output_char`, as
    /// `process_echoes` and `process_output` use it), keeping the column.
    pub fn do_output_char(&mut self, c: u8, out: &mut dyn FnMut(&[u8])) {
        let t = &self.termios;
        if t.c_oflag & OPOST == 0 {
            out(&[c]);
            return;
        }
        match c {
            b'\n' => {
                if t.c_oflag & ONLRET != 0 {
                    self.column = 0;
                }
                if t.c_oflag & ONLCR != 0 {
                    self.column = 0;
                    out(b"\r\n");
                    return;
                }
            }
            b'\r' => {
                if t.c_oflag & ONOCR != 0 && self.column == 0 {
                    return;
                }
                if t.c_oflag & OCRNL != 0 {
                    if t.c_oflag & ONLRET != 0 {
                        self.column = 0;
                    }
                    out(b"\n");
                    return;
                }
                self.column = 0;
            }
            b'\t' => self.column = (self.column | 7) + 1,
            8 => self.column = self.column.saturating_sub(1),
            _ if !iscntrl(c) => self.column += 1,
            _ => {}
        }
        out(&[c]);
    }

    /// Write bytes through output processing (Linux `n_tty_write` ->
    /// `process_output_block`).
    pub fn process_output(&mut self, buf: &[u8], out: &mut dyn FnMut(&[u8])) {
        if self.termios.c_oflag & OPOST == 0 {
            out(buf);
            return;
        }
        let mut start = 0;
        for (i, &c) in buf.iter().enumerate() {
            if matches!(c, b'\n' | b'\r' | b'\t' | 8) {
                self.plain(&buf[start..i], out);
                self.do_output_char(c, out);
                start = i + 1;
            }
        }
        self.plain(&buf[start..], out);
    }

    fn plain(&mut self, s: &[u8], out: &mut dyn FnMut(&[u8])) {
        if !s.is_empty() {
            self.column += s.iter().filter(|&&c| !iscntrl(c)).count();
            out(s);
        }
    }

    /// Echo `c` as typed (Linux `echo_char`): with `ECHOCTL` a control character other
    /// than tab shows as `^` and its letter.
    fn echo_char(&mut self, c: u8, out: &mut dyn FnMut(&[u8])) {
        if self.termios.c_lflag & ECHOCTL != 0 && iscntrl(c) && c != b'\t' {
            self.do_output_char(b'^', out);
            self.do_output_char(c ^ 0o100, out);
        } else {
            self.do_output_char(c, out);
        }
    }

    /// Step back one column on the screen (Linux `echo_move_back_col` with `ECHOE`:
    /// backspace, space, backspace).
    fn echo_erase_col(&mut self, out: &mut dyn FnMut(&[u8])) {
        out(b"\x08 \x08");
        self.column = self.column.saturating_sub(1);
    }

    /// End an `ECHOPRT` erasure (Linux `finish_erasing`).
    fn finish_erasing(&mut self, out: &mut dyn FnMut(&[u8])) {
        if self.erasing {
            self.do_output_char(b'/', out);
            self.erasing = false;
        }
    }

    /// Erase a character, a word or the line being typed (Linux `eraser`), echoing the
    /// erasure as `ECHOE`/`ECHOK`/`ECHOKE`/`ECHOCTL` ask.
    fn eraser(&mut self, c: u8, out: &mut dyn FnMut(&[u8])) {
        if self.read_head == self.canon_head {
            return;
        }
        let cc = self.termios.c_cc;
        let l = self.termios.c_lflag;
        /// Linux `kill_type`.
        #[derive(PartialEq)]
        enum KillType {
            Erase,
            Werase,
            Kill,
        }
        let kill_type = if c == cc[VERASE] {
            KillType::Erase
        } else if c == cc[VWERASE] {
            KillType::Werase
        } else {
            if l & ECHO == 0 {
                self.read_head = self.canon_head;
                return;
            }
            if l & ECHOK == 0 || l & ECHOKE == 0 || l & ECHOE == 0 {
                self.read_head = self.canon_head;
                self.finish_erasing(out);
                self.echo_char(cc[VKILL], out);
                if l & ECHOK != 0 {
                    self.do_output_char(b'\n', out);
                }
                return;
            }
            KillType::Kill
        };
        let mut seen_alnums = false;
        while self.read_head != self.canon_head {
            let head = self.read_head - 1;
            let ch = self.at(head);
            if kill_type == KillType::Werase {
                if ch.is_ascii_alphanumeric() || ch == b'_' {
                    seen_alnums = true;
                } else if seen_alnums {
                    break;
                }
            }
            self.read_head = head;
            if l & ECHO != 0 {
                if l & ECHOPRT != 0 {
                    if !self.erasing {
                        self.do_output_char(b'\\', out);
                        self.erasing = true;
                    }
                    self.echo_char(ch, out);
                } else if kill_type == KillType::Erase && l & ECHOE == 0 {
                    self.echo_char(cc[VERASE], out);
                } else if ch == b'\t' {
                    self.echo_erase_tab(out);
                } else {
                    if iscntrl(ch) && l & ECHOCTL != 0 {
                        self.echo_erase_col(out);
                    }
                    if !iscntrl(ch) || l & ECHOCTL != 0 {
                        self.echo_erase_col(out);
                    }
                }
            }
            if kill_type == KillType::Erase {
                break;
            }
        }
        if self.read_head == self.canon_head && l & ECHO != 0 {
            self.finish_erasing(out);
        }
    }

    /// Erase a tab: back to the column the characters before it in the line end at
    /// (Linux `echo_erase_tab`, worked out when echoed, as `process_echoes` does).
    fn echo_erase_tab(&mut self, out: &mut dyn FnMut(&[u8])) {
        let ctl = self.termios.c_lflag & ECHOCTL != 0;
        let mut col = self.canon_column;
        for i in self.canon_head..self.read_head {
            let ch = self.at(i);
            if ch == b'\t' {
                col = (col | 7) + 1;
            } else if iscntrl(ch) {
                if ctl {
                    col += 2;
                }
            } else {
                col += 1;
            }
        }
        while self.column > col {
            out(b"\x08");
            self.column -= 1;
        }
    }

    /// End a line (Linux `n_tty_receive_handle_newline`): mark it, make it readable.
    fn handle_newline(&mut self, c: u8) {
        let h = self.read_head;
        self.put_tty_queue(c);
        self.set_flag(h, true);
        self.canon_head = self.read_head;
    }

    /// One typed byte (Linux `n_tty_receive_char_special` and `n_tty_receive_char`, with
    /// the input flags of `n_tty_receive_char_flagged`): echo goes to `out`; a signal
    /// character returns the signal to send.
    pub fn receive_char(&mut self, mut c: u8, out: &mut dyn FnMut(&[u8])) -> Action {
        let t = self.termios;
        let (i, l, cc) = (t.c_iflag, t.c_lflag, t.c_cc);
        if i & ISTRIP != 0 {
            c &= 0x7f;
        }
        if self.lnext {
            // Linux `n_tty_receive_char_lnext`: the byte after `^V` is data.
            self.lnext = false;
            return self.receive_plain(c, out);
        }
        if l & ISIG != 0 {
            let special = |v: usize| cc[v] != DISABLED_CHAR && c == cc[v];
            let sig = if special(VINTR) {
                Some(SIGINT)
            } else if special(VQUIT) {
                Some(SIGQUIT)
            } else if special(VSUSP) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                // Linux `n_tty_receive_signal_char`: `isig` flushes unless NOFLSH,
                // then the character is echoed.
                if l & NOFLSH == 0 {
                    self.reset_buffer_flags();
                }
                if l & ECHO != 0 {
                    self.echo_char(c, out);
                }
                return Action::Signal(sig);
            }
        }
        if c == b'\r' {
            if i & IGNCR != 0 {
                return Action::None;
            }
            if i & ICRNL != 0 {
                c = b'\n';
            }
        } else if c == b'\n' && i & INLCR != 0 {
            c = b'\r';
        }
        let special = |v: usize| cc[v] != DISABLED_CHAR && c == cc[v];
        if self.icanon {
            let iexten = l & IEXTEN != 0;
            if special(VERASE) || special(VKILL) || (special(VWERASE) && iexten) {
                self.eraser(c, out);
                return Action::None;
            }
            if special(VLNEXT) && iexten {
                self.lnext = true;
                if l & ECHO != 0 {
                    self.finish_erasing(out);
                    if l & ECHOCTL != 0 {
                        // A caret, then back over it: the next byte's echo covers it.
                        out(b"^\x08");
                    }
                }
                return Action::None;
            }
            if special(VREPRINT) && l & ECHO != 0 && iexten {
                // The line typed so far, again on a line of its own.
                self.finish_erasing(out);
                self.echo_char(c, out);
                self.do_output_char(b'\n', out);
                for k in self.canon_head..self.read_head {
                    let ch = self.at(k);
                    self.echo_char(ch, out);
                }
                return Action::None;
            }
            if c == b'\n' {
                if l & (ECHO | ECHONL) != 0 {
                    self.do_output_char(b'\n', out);
                }
                self.handle_newline(c);
                return Action::None;
            }
            if special(VEOF) {
                self.handle_newline(DISABLED_CHAR);
                return Action::None;
            }
            if special(VEOL) || (special(VEOL2) && iexten) {
                if l & ECHO != 0 {
                    self.echo_char(c, out);
                }
                self.handle_newline(c);
                return Action::None;
            }
        }
        self.receive_plain(c, out)
    }

    /// A byte that is data (Linux `n_tty_receive_char`): stored and echoed, if there
    /// is room (in canonical mode the last slot is kept for the newline that ends the
    /// line).
    fn receive_plain(&mut self, c: u8, out: &mut dyn FnMut(&[u8])) -> Action {
        let l = self.termios.c_lflag;
        let room = if self.icanon {
            N_TTY_BUF_SIZE - 1
        } else {
            N_TTY_BUF_SIZE
        };
        if self.read_cnt() >= room {
            return Action::None;
        }
        if l & ECHO != 0 {
            self.finish_erasing(out);
            if self.canon_head == self.read_head {
                // Linux `echo_set_canon_col`: where a tab erase stops.
                self.canon_column = self.column;
            }
            if c == b'\n' {
                self.do_output_char(b'\n', out);
            } else {
                self.echo_char(c, out);
            }
        } else if c == b'\n' && l & ECHONL != 0 {
            self.do_output_char(b'\n', out);
        }
        self.put_tty_queue(c);
        if !self.icanon {
            self.canon_head = self.read_head;
        }
        Action::None
    }

    /// Take what a read may from the buffer into `buf` (Linux `canon_copy_from_read_buf`
    /// in canonical mode, else `copy_from_read_buf`). Returns the bytes copied and, in
    /// canonical mode, whether the read is done (a line end, or an end of file: then 0
    /// bytes with `true` is end of file). A `^D` that ends a line an earlier read took
    /// part of only pushes that line out (Linux `eof_push`): it is consumed, and the read
    /// goes on waiting (0 bytes, `false`).
    pub fn copy_from_read_buf(&mut self, buf: &mut [u8]) -> (usize, bool) {
        if !self.icanon {
            let n = self.read_cnt().min(buf.len());
            for (k, b) in buf[..n].iter_mut().enumerate() {
                *b = self.at(self.read_tail + k);
            }
            self.read_tail += n;
            return (n, false);
        }
        let mut n = 0;
        while n < buf.len() && self.read_tail != self.canon_head {
            let i = self.read_tail;
            let c = self.at(i);
            let eol = self.flag(i);
            self.read_tail += 1;
            if eol {
                self.set_flag(i, false);
                let eof_push = n == 0 && i != self.line_start;
                self.line_start = self.read_tail;
                if c == DISABLED_CHAR {
                    // `^D`: ends the read, copied as nothing.
                    return (n, !eof_push);
                }
                buf[n] = c;
                return (n + 1, true);
            }
            buf[n] = c;
            n += 1;
        }
        (n, false)
    }

    /// Is the buffer empty after a read took all of it? Linux then starts over at the
    /// start of the ring; forkos's counters never wrap in practice (they are `usize`),
    /// so nothing is needed.
    pub fn is_empty(&self) -> bool {
        self.read_cnt() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn feed(t: &mut NTtyData, s: &[u8]) -> (Vec<u8>, Vec<Action>) {
        let mut echo = Vec::new();
        let mut acts = Vec::new();
        for &c in s {
            let a = t.receive_char(c, &mut |b| echo.extend_from_slice(b));
            if a != Action::None {
                acts.push(a);
            }
        }
        (echo, acts)
    }

    fn read(t: &mut NTtyData) -> (Vec<u8>, bool) {
        let mut buf = [0u8; 100];
        let (n, done) = t.copy_from_read_buf(&mut buf);
        (buf[..n].to_vec(), done)
    }

    #[test]
    fn canonical_line_with_erase_kill_werase() {
        let mut t = NTtyData::new();
        let (echo, _) = feed(&mut t, b"helo\x7flo");
        assert_eq!(echo, b"helo\x08 \x08lo");
        assert!(!t.input_available_p(false));
        feed(&mut t, b" bad wor\x17\x17world\r");
        assert!(t.input_available_p(false));
        assert_eq!(read(&mut t), (b"hello world\n".to_vec(), true));
        let (echo, _) = feed(&mut t, b"xyz\x15ok\n");
        assert_eq!(echo, b"xyz\x08 \x08\x08 \x08\x08 \x08ok\r\n");
        assert_eq!(read(&mut t), (b"ok\n".to_vec(), true));
    }

    #[test]
    fn eof_ends_a_read_without_a_byte() {
        let mut t = NTtyData::new();
        let (echo, _) = feed(&mut t, b"abc\x04\x04");
        assert_eq!(echo, b"abc");
        assert_eq!(t.inq(), 3);
        assert_eq!(read(&mut t), (b"abc".to_vec(), true));
        assert_eq!(read(&mut t), (b"".to_vec(), true));
        assert!(!t.input_available_p(false));
    }

    #[test]
    fn eof_after_a_partly_read_line_only_pushes_it() {
        let mut t = NTtyData::new();
        feed(&mut t, b"abc\x04");
        let mut buf = [0u8; 3];
        assert_eq!(t.copy_from_read_buf(&mut buf), (3, false));
        assert_eq!(t.copy_from_read_buf(&mut buf), (0, false));
        assert!(!t.input_available_p(false));
    }

    #[test]
    fn lnext_quotes_and_reprint_retypes() {
        let mut t = NTtyData::new();
        let (echo, acts) = feed(&mut t, b"a\x16\x03\x16\x7fb\x12");
        assert!(acts.is_empty());
        assert_eq!(echo, b"a^\x08^C^\x08^?b^R\r\na^C^?b");
        feed(&mut t, b"\r");
        assert_eq!(read(&mut t).0, b"a\x03\x7fb\n");
    }

    #[test]
    fn intr_echoes_caret_c_flushes_and_signals() {
        let mut t = NTtyData::new();
        let (echo, acts) = feed(&mut t, b"junk\x03");
        assert_eq!(echo, b"junk^C");
        assert_eq!(acts, [Action::Signal(SIGINT)]);
        assert_eq!(t.read_cnt(), 0);
        let (_, acts) = feed(&mut t, b"\x1a\x1c");
        assert_eq!(acts, [Action::Signal(SIGTSTP), Action::Signal(SIGQUIT)]);
        let mut noflsh = t.termios;
        noflsh.c_lflag |= NOFLSH;
        t.set_termios(noflsh);
        feed(&mut t, b"keep\x03");
        assert_eq!(t.read_cnt(), 4);
    }

    #[test]
    fn erasing_a_control_character_takes_two_columns() {
        let mut t = NTtyData::new();
        let (echo, _) = feed(&mut t, b"a\x01\x7f");
        assert_eq!(echo, b"a^A\x08 \x08\x08 \x08");
        let mut e = t.termios;
        e.c_lflag &= !ECHOE;
        t.set_termios(e);
        let (echo, _) = feed(&mut t, b"\x7f");
        assert_eq!(echo, b"^?");
    }

    #[test]
    fn raw_mode_reads_bytes_at_once() {
        let mut t = NTtyData::new();
        let mut raw = t.termios;
        raw.c_lflag &= !(ICANON | ECHO | ISIG);
        raw.c_iflag &= !ICRNL;
        t.set_termios(raw);
        let (echo, acts) = feed(&mut t, b"\x03\r\x7f");
        assert!(echo.is_empty() && acts.is_empty());
        assert!(t.input_available_p(true));
        assert_eq!(read(&mut t), (b"\x03\r\x7f".to_vec(), false));
    }

    #[test]
    fn input_and_output_newline_translation() {
        let mut t = NTtyData::new();
        let mut s = t.termios;
        s.c_iflag = (s.c_iflag & !ICRNL) | IGNCR;
        t.set_termios(s);
        feed(&mut t, b"a\rb\n");
        assert_eq!(read(&mut t).0, b"ab\n");
        let mut out = Vec::new();
        t.process_output(b"x\ny", &mut |b| out.extend_from_slice(b));
        assert_eq!(out, b"x\r\ny");
        let mut s = t.termios;
        s.c_oflag &= !OPOST;
        t.set_termios(s);
        out.clear();
        t.process_output(b"x\ny", &mut |b| out.extend_from_slice(b));
        assert_eq!(out, b"x\ny");
    }

    #[test]
    fn echonl_and_tab_erase() {
        let mut t = NTtyData::new();
        let mut s = t.termios;
        s.c_lflag &= !ECHO;
        s.c_lflag |= ECHONL;
        t.set_termios(s);
        let (echo, _) = feed(&mut t, b"secret\n");
        assert_eq!(echo, b"\r\n");
        let mut t = NTtyData::new();
        let (echo, _) = feed(&mut t, b"ab\t\x7f");
        assert_eq!(echo, b"ab\t\x08\x08\x08\x08\x08\x08");
    }
}
