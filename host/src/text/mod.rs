//! What text from a plugin may look like on a terminal or in a log line.
//!
//! Every string a plugin hands the host (a verdict's reason, a stage name, an error message, a log
//! record, a unit name, `describe()`) is the attacker's text. Printed raw, a newline forges a line of
//! output (`rollout x-1: succeeded` under a rollback), an escape sequence clears the screen, recolours
//! text, writes the clipboard (OSC 52) or hides a link (OSC 8), and a bidi override makes text read
//! backwards. Two rules, each applied in one place:
//!
//! - **Escaping happens at display.** [`terminal`] turns every character [`is_unsafe`] names into a
//!   visible escape (`\n`, `\x1b`, `\u{202e}`) and caps the length with a visible mark. Every human
//!   line the CLI prints, every error it prints and every plugin log record the host traces goes
//!   through it; what is stored stays exactly what the plugin said. [`json`] writes JSON whose strings
//!   parse back to that exact text, with the same characters as `\u` escapes.
//! - **Capping happens where text is kept.** The journal cuts a message or a detail that is too large
//!   when it is written (see `store::journal`), with [`cut`]'s mark, so nothing a plugin says can
//!   grow the store or the history without bound.
//!
//! Backslashes are not escaped: a plugin may write a literal `\n`, which reads as what it is and
//! cannot start a new line. So [`terminal`] is idempotent: escaping a line twice changes nothing.

use std::borrow::Cow;
use std::fmt::Write as _;

pub mod json;

/// The longest line the CLI prints, in bytes, the cut mark included: a line is one event, and a
/// plugin cannot make one scroll the screen away.
pub const MAX_LINE: usize = 4 << 10;
/// The longest name (a stage, a unit, a measurement) shown inside a line, in bytes, mark included,
/// so that a long name does not push the rest of its line out of sight.
pub const MAX_NAME: usize = 96;
/// The smallest cap [`terminal`] and [`cut`] accept: room for the mark of a cut string.
pub const MIN_CAP: usize = 32;

/// Whether `c` must not reach a terminal as it is: C0 controls (newline, carriage return, tab and
/// ESC included), DEL, C1 controls (U+0080–U+009F, of which U+009B is a one-character CSI), the
/// line and paragraph separators, and the format characters (Unicode category Cf: bidi embeddings,
/// overrides and isolates, zero-width characters, the byte-order mark, the invisible tag
/// characters that can smuggle hidden text, interlinear annotations).
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\0'..='\x1f'
            | '\x7f'..='\u{9f}'
            | '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

/// Appends `c` as a terminal may show it: itself, or its visible escape.
fn push_shown(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if !is_unsafe(c) => out.push(c),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// How many bytes `c` takes once shown.
fn shown_len(c: char) -> usize {
    match c {
        '\n' | '\r' | '\t' => 2,
        c if !is_unsafe(c) => c.len_utf8(),
        c if c.is_ascii() => 4,
        // `\u{` + hex digits + `}`
        c => 4 + format!("{:x}", c as u32).len(),
    }
}

/// The mark that ends a cut text: how many bytes of the original are not shown.
fn mark(omitted: usize) -> String {
    format!("… [{omitted} more bytes]")
}

/// `s` as a terminal may show it, in at most `max` bytes (at least [`MIN_CAP`]): every
/// [`is_unsafe`] character escaped visibly, and, when that does not fit, the longest prefix that
/// does followed by a mark saying how many bytes of `s` were left out. Borrows `s` when it is safe
/// and short enough as it is.
pub fn terminal(s: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(MIN_CAP);
    let shown: usize = s.chars().map(shown_len).sum();
    if shown == s.len() && s.len() <= max {
        return Cow::Borrowed(s);
    }
    // The mark can only be shorter than the mark for all of `s`.
    let room = if shown <= max { usize::MAX } else { max.saturating_sub(mark(s.len()).len()) };
    let mut out = String::with_capacity(shown.min(max));
    for (at, c) in s.char_indices() {
        if out.len() + shown_len(c) > room {
            out.push_str(&mark(s.len() - at));
            return Cow::Owned(out);
        }
        push_shown(&mut out, c);
    }
    Cow::Owned(out)
}

/// `s` cut to at most `max` bytes (at least [`MIN_CAP`]) on a character boundary, the cut marked
/// with how many bytes were left out; nothing is escaped. For text that is kept, not shown.
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    let max = max.max(MIN_CAP);
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max.saturating_sub(mark(s.len()).len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{}", &s[..end], mark(s.len() - end)))
}

#[cfg(test)]
mod tests;
