//! The head of an HTTP/1.x message (start line and header fields), read from a stream and parsed.
//!
//! Request and response heads share this shape; the start line and the body are the callers' business.

use std::fmt;
use std::io::{self, BufRead, Read};

/// Largest head either binary accepts. Ours are a few hundred bytes; the cap keeps a bad peer from
/// growing a buffer without bound.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Why no head could be read.
#[derive(Debug)]
pub enum HeadError {
    /// The stream failed (reset, timeout...).
    Io(io::Error),
    /// The peer closed the connection part-way through a head.
    Truncated,
    /// The head is longer than [`MAX_HEAD_BYTES`].
    TooLarge,
    /// The bytes are not an HTTP/1.x head.
    Malformed(String),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Truncated => f.write_str("connection closed in the middle of a message head"),
            Self::TooLarge => write!(f, "message head longer than {MAX_HEAD_BYTES} bytes"),
            Self::Malformed(why) => write!(f, "malformed message head: {why}"),
        }
    }
}

impl From<io::Error> for HeadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one head, up to and including its blank line. `Ok(None)` means the peer closed the
/// connection cleanly between messages, which is how keep-alive connections end.
pub fn read_head<R: BufRead>(reader: &mut R) -> Result<Option<Vec<u8>>, HeadError> {
    let mut head = Vec::new();
    loop {
        let room = MAX_HEAD_BYTES - head.len();
        if room == 0 {
            return Err(HeadError::TooLarge);
        }
        let line_start = head.len();
        let read = reader.by_ref().take(room as u64).read_until(b'\n', &mut head)?;
        if read == 0 {
            return if head.is_empty() { Ok(None) } else { Err(HeadError::Truncated) };
        }
        let line = &head[line_start..];
        if !line.ends_with(b"\n") {
            return Err(if head.len() == MAX_HEAD_BYTES { HeadError::TooLarge } else { HeadError::Truncated });
        }
        if line == b"\r\n" || line == b"\n" {
            if line_start == 0 {
                // RFC 9112 §2.2: ignore empty lines before a request line.
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
    }
}

/// A parsed head: the start line and the header fields in order, names as sent.
#[derive(Debug, PartialEq)]
pub struct Head {
    pub start_line: String,
    pub fields: Vec<(String, String)>,
}

impl Head {
    /// Parses the bytes returned by [`read_head`]. Bare `\n` line ends are tolerated.
    pub fn parse(bytes: &[u8]) -> Result<Self, HeadError> {
        let text = std::str::from_utf8(bytes).map_err(|_| HeadError::Malformed("not UTF-8".into()))?;
        let mut lines = text.lines().map(|line| line.strip_suffix('\r').unwrap_or(line));
        let start_line = lines.next().unwrap_or_default().to_owned();
        if start_line.is_empty() {
            return Err(HeadError::Malformed("empty start line".into()));
        }
        let mut fields = Vec::new();
        for line in lines.take_while(|line| !line.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(HeadError::Malformed(format!("header line without a colon: `{line}`")));
            };
            if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
                return Err(HeadError::Malformed(format!("bad header name: `{name}`")));
            }
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(Self { start_line, fields })
    }

    /// Every value of the named header, matched case-insensitively.
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The first value of the named header.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The body length from `Content-Length`; repeated headers must agree.
    pub fn content_length(&self) -> Result<Option<u64>, HeadError> {
        let mut length = None;
        for raw in self.values("content-length") {
            let parsed: u64 = raw.parse().map_err(|_| HeadError::Malformed(format!("bad Content-Length: `{raw}`")))?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(HeadError::Malformed("conflicting Content-Length headers".into()));
            }
            length = Some(parsed);
        }
        Ok(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<Vec<u8>>, HeadError> {
        read_head(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn reads_exactly_one_head_and_leaves_the_rest() {
        let mut reader = io::BufReader::new(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"[..]);
        let head = read_head(&mut reader).unwrap().unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "body");
    }

    #[test]
    fn clean_close_between_messages_is_not_an_error() {
        assert!(read(b"").unwrap().is_none());
    }

    #[test]
    fn close_inside_a_head_is_truncation() {
        assert!(matches!(read(b"GET / HTTP/1.1\r\nHost"), Err(HeadError::Truncated)));
        assert!(matches!(read(b"GET / HTTP/1.1\r\n"), Err(HeadError::Truncated)));
    }

    #[test]
    fn head_over_the_cap_is_too_large() {
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(read(long.as_bytes()), Err(HeadError::TooLarge)));
    }

    #[test]
    fn empty_lines_before_the_start_line_are_skipped() {
        assert_eq!(read(b"\r\nGET / HTTP/1.1\r\n\r\n").unwrap().unwrap(), b"GET / HTTP/1.1\r\n\r\n");
    }

    #[test]
    fn header_lookup_ignores_case_and_trims_values() {
        let head = Head::parse(b"HTTP/1.1 200 OK\r\nX-Version:  v2 \r\nconnection: keep-alive, Close\r\n\r\n").unwrap();
        assert_eq!(head.start_line, "HTTP/1.1 200 OK");
        assert_eq!(head.value("x-version"), Some("v2"));
        assert!(head.has_token("Connection", "close"));
        assert!(!head.has_token("Connection", "upgrade"));
    }

    #[test]
    fn content_length_is_parsed_and_checked() {
        let ok = Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n").unwrap();
        assert_eq!(ok.content_length().unwrap(), Some(12));
        let absent = Head::parse(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!(absent.content_length().unwrap(), None);
        let bad = Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").unwrap();
        assert!(bad.content_length().is_err());
        let conflict = Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").unwrap();
        assert!(conflict.content_length().is_err());
    }

    #[test]
    fn header_line_without_colon_is_malformed() {
        assert!(matches!(Head::parse(b"HTTP/1.1 200 OK\r\nnonsense\r\n\r\n"), Err(HeadError::Malformed(_))));
    }
}
