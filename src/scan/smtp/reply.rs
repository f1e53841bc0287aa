//! The SMTP wire: reading bounded lines and multi-line replies (RFC 5321 §4.2), and
//! writing one command at a time.
//!
//! Every read is capped: a line longer than [`Limits::max_line`], a reply longer than
//! [`Limits::max_reply`] bytes or [`Limits::max_reply_lines`] lines is a protocol error,
//! so a hostile server that streams an endless banner costs a few kilobytes, not memory
//! without end. Timeouts are the caller's business (each call is wrapped in one).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::scan::probe::Reply;

/// Recorded text per reply is capped at this many bytes (security spec §3: EHLO lines
/// capped at 4 KiB); parsing still sees every line.
const RECORD_CAP: usize = 4096;

/// How much the wire reader accepts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Longest line, without CRLF.
    pub max_line: usize,
    /// Longest reply, all lines with their CRLF.
    pub max_reply: usize,
    /// Most lines in one reply.
    pub max_reply_lines: usize,
}

/// Why no reply could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum WireError {
    /// The peer closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// A socket error (reset, broken pipe, TLS error).
    #[error("{0}")]
    Io(String),
    /// A line without end within the cap.
    #[error("reply line longer than {0} bytes")]
    LineTooLong(usize),
    /// A reply larger than the cap.
    #[error("reply longer than {0} bytes")]
    ReplyTooLong(usize),
    /// A reply with too many lines.
    #[error("reply of more than {0} lines")]
    TooManyLines(usize),
    /// A line that is not `DDD`, `DDD text` or `DDD-text`.
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    /// A continuation line whose code differs from the first line's.
    #[error("reply code changed from {first} to {then} within one reply")]
    CodeChanged {
        /// Code of the first line.
        first: u16,
        /// Code of the offending line.
        then: u16,
    },
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        WireError::Io(e.to_string())
    }
}

/// A reply as read, every line kept (the caps bound it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawReply {
    /// Three-digit code.
    pub code: u16,
    /// Text of each line after the code and separator.
    pub lines: Vec<String>,
}

impl RawReply {
    /// The evidence form: lines kept until [`RECORD_CAP`] bytes of text.
    pub fn record(&self) -> Reply {
        let mut lines = Vec::new();
        let mut left = RECORD_CAP;
        for line in &self.lines {
            if left == 0 {
                break;
            }
            let kept = truncate_at_char(line, left);
            left -= kept.len();
            lines.push(kept.to_string());
        }
        Reply {
            code: self.code,
            lines,
        }
    }

    /// The code's class: 2, 3, 4 or 5.
    pub fn class(&self) -> u16 {
        self.code / 100
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Splits one reply line (CRLF removed) into code, "last line" and text.
pub(super) fn parse_line(line: &[u8]) -> Result<(u16, bool, String), WireError> {
    let malformed = || WireError::Malformed(String::from_utf8_lossy(line).into_owned());
    let digits = line.get(..3).ok_or_else(malformed)?;
    // RFC 5321 §4.2: the first digit is 2–5 and the second 0–5; anything else is not a
    // reply (e.g. an HTTP server or a banner without code).
    if !(b'2'..=b'5').contains(&digits[0])
        || !(b'0'..=b'5').contains(&digits[1])
        || !digits[2].is_ascii_digit()
    {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let (last, text) = match line.get(3) {
        None => (true, &line[3..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(malformed()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// Parses a complete reply from text (every line with its line end); for tests and for
/// callers that already hold the bytes.
#[cfg(test)]
pub(super) fn parse_reply(bytes: &[u8], limits: Limits) -> Result<RawReply, WireError> {
    let mut assembler = Assembler::new(limits);
    for raw in bytes.split_inclusive(|&b| b == b'\n') {
        let Some(line) = raw.strip_suffix(b"\n") else {
            return Err(WireError::Closed);
        };
        if line.len() > limits.max_line + 1 {
            return Err(WireError::LineTooLong(limits.max_line));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limits.max_line {
            return Err(WireError::LineTooLong(limits.max_line));
        }
        if let Some(reply) = assembler.push(line)? {
            return Ok(reply);
        }
    }
    Err(WireError::Closed)
}

/// Collects lines into one reply, enforcing the caps and code consistency.
struct Assembler {
    limits: Limits,
    code: Option<u16>,
    lines: Vec<String>,
    bytes: usize,
}

impl Assembler {
    fn new(limits: Limits) -> Self {
        Assembler {
            limits,
            code: None,
            lines: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one line; returns the reply when that line was the last.
    fn push(&mut self, line: &[u8]) -> Result<Option<RawReply>, WireError> {
        self.bytes += line.len() + 2;
        if self.bytes > self.limits.max_reply {
            return Err(WireError::ReplyTooLong(self.limits.max_reply));
        }
        if self.lines.len() >= self.limits.max_reply_lines {
            return Err(WireError::TooManyLines(self.limits.max_reply_lines));
        }
        let (code, last, text) = parse_line(line)?;
        if let Some(first) = self.code
            && first != code
        {
            return Err(WireError::CodeChanged { first, then: code });
        }
        self.code = Some(code);
        self.lines.push(text);
        Ok(last.then(|| RawReply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

/// One SMTP connection (plain TCP or TLS) with a bounded read buffer.
pub(super) struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
    limits: Limits,
}

impl<S> Wire<S> {
    /// Wraps a connected stream.
    pub fn new(stream: S, limits: Limits) -> Self {
        Wire {
            stream,
            buf: Vec::new(),
            limits,
        }
    }

    /// Bytes received but not yet consumed as lines.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The stream back, e.g. to start TLS on it. Buffered bytes are dropped: callers
    /// check [`Wire::buffered`] first.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: AsyncRead + Unpin> Wire<S> {
    /// Reads one line (LF or CRLF ended; the end is removed).
    async fn read_line(&mut self) -> Result<Vec<u8>, WireError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.limits.max_line {
                    return Err(WireError::LineTooLong(self.limits.max_line));
                }
                return Ok(line);
            }
            // +1 leaves room for the CR of a line exactly at the cap.
            if self.buf.len() > self.limits.max_line + 1 {
                return Err(WireError::LineTooLong(self.limits.max_line));
            }
            let mut chunk = [0u8; 2048];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(WireError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one complete reply (all continuation lines up to the final one).
    pub async fn read_reply(&mut self) -> Result<RawReply, WireError> {
        let mut assembler = Assembler::new(self.limits);
        loop {
            let line = self.read_line().await?;
            if let Some(reply) = assembler.push(&line)? {
                return Ok(reply);
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> Wire<S> {
    /// Sends one command line (CRLF appended) and flushes it.
    pub async fn send(&mut self, command: &str) -> Result<(), WireError> {
        let mut line = Vec::with_capacity(command.len() + 2);
        line.extend_from_slice(command.as_bytes());
        line.extend_from_slice(b"\r\n");
        self.stream.write_all(&line).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Closes the write side (TLS close_notify, TCP FIN); errors do not matter here.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_line: 64,
        max_reply: 512,
        max_reply_lines: 5,
    };

    #[test]
    fn single_and_multi_line_replies() {
        let r = parse_reply(b"220 mx.example.org ESMTP\r\n", LIMITS).expect("reply");
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, vec!["mx.example.org ESMTP"]);

        let r = parse_reply(
            b"250-mx.example.org Hello\r\n250-SIZE 1000\r\n250-STARTTLS\r\n250 CHUNKING\r\n",
            LIMITS,
        )
        .expect("reply");
        assert_eq!(r.code, 250);
        assert_eq!(
            r.lines,
            vec!["mx.example.org Hello", "SIZE 1000", "STARTTLS", "CHUNKING"]
        );

        // A bare code is a valid final line; LF alone is tolerated.
        let r = parse_reply(b"220-first\n220\n", LIMITS).expect("reply");
        assert_eq!(r.lines, vec!["first", ""]);
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b"hello\r\n"[..],
            b"22\r\n",
            b"2x0 hi\r\n",
            b"220_hi\r\n",
            b"620 hi\r\n",
            b"290 hi\r\n",
            b"SSH-2.0-OpenSSH\r\n",
        ] {
            assert!(
                matches!(parse_reply(bad, LIMITS), Err(WireError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse_reply(b"220-a\r\n250 b\r\n", LIMITS),
            Err(WireError::CodeChanged {
                first: 220,
                then: 250
            })
        );
    }

    #[test]
    fn caps_are_enforced() {
        let long = format!("220 {}\r\n", "x".repeat(100));
        assert_eq!(
            parse_reply(long.as_bytes(), LIMITS),
            Err(WireError::LineTooLong(64))
        );
        let many = "220-x\r\n".repeat(10);
        assert_eq!(
            parse_reply(many.as_bytes(), LIMITS),
            Err(WireError::TooManyLines(5))
        );
        let big = Limits {
            max_reply_lines: 100,
            ..LIMITS
        };
        let heavy = format!("220-{}\r\n", "y".repeat(60)).repeat(20);
        assert_eq!(
            parse_reply(heavy.as_bytes(), big),
            Err(WireError::ReplyTooLong(512))
        );
    }

    #[tokio::test]
    async fn wire_reads_replies_and_bounds_lines() {
        let data = b"220-one\r\n220 two\r\n250 ok\r\n".to_vec();
        let mut wire = Wire::new(&data[..], LIMITS);
        let first = wire.read_reply().await.expect("first");
        assert_eq!(first.lines, vec!["one", "two"]);
        assert_eq!(wire.read_reply().await.expect("second").code, 250);
        assert_eq!(wire.read_reply().await, Err(WireError::Closed));

        // A line without end is cut off at the cap, whatever follows.
        let endless = vec![b'a'; 10_000];
        let mut wire = Wire::new(&endless[..], LIMITS);
        assert_eq!(wire.read_reply().await, Err(WireError::LineTooLong(64)));
        assert!(wire.buffered() <= 64 + 1 + 2048);
    }

    #[test]
    fn recorded_text_is_capped() {
        let reply = RawReply {
            code: 250,
            lines: vec!["é".repeat(1500); 3],
        };
        let rec = reply.record();
        let total: usize = rec.lines.iter().map(String::len).sum();
        assert!(total <= RECORD_CAP, "{total}");
        assert_eq!(rec.lines.len(), 2);
    }
}
