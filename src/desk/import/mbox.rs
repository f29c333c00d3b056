//! Reading mbox files without holding them: [`index`] finds where each message lies and
//! its date in one pass; [`read`] takes one message back with the `>From ` quoting undone.
//!
//! A message starts after a `From ` line that opens the file or follows an empty line and
//! carries a date (so that a body line such as "From here on…" after a paragraph does not
//! split a message written unquoted, mboxo style); the empty line before the next `From `
//! line belongs to the separator. Quoting is undone as mboxrd writes it (`>From ` →
//! `From `, `>>From ` → `>From `), which reads mboxo's quoting the same way.

use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::Path;

use super::date;

/// One message of an mbox file: where its bytes lie (after its `From ` line), and the
/// dates found for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    /// Offset of its first byte.
    pub offset: u64,
    /// Its length, up to the next `From ` line (separator included; see [`read`]).
    pub len: u64,
    /// Its Date header, when that parses.
    pub header: Option<i64>,
    /// The date of its `From ` line, when that parses.
    pub envelope: Option<i64>,
}

/// Why an mbox file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MboxError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not start with a `From ` line: it is no mbox.
    #[error("{0} is not an mbox file: it does not start with a \"From \" line")]
    NotMbox(String),
}

/// The longest start of a line kept for looking at it: enough for a `From ` line and for
/// any header line that matters here.
const LINE_KEPT: usize = 1000;

/// The longest header section kept for finding the Date header.
const HEADERS_KEPT: usize = 64 * 1024;

/// Finds every message of the mbox file at `path`, in file order.
pub(super) fn index(path: &Path) -> Result<Vec<Span>, MboxError> {
    let name = path.display().to_string();
    let unreadable = |source| MboxError::Read { path: name.clone(), source };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut spans = Vec::new();
    let mut line = Vec::with_capacity(LINE_KEPT);
    let (mut offset, mut blank_before) = (0u64, true);
    // The message being read: its span, whether its header section is over, its headers.
    let mut current: Option<Span> = None;
    let (mut in_headers, mut headers) = (false, Vec::new());
    loop {
        let read = read_line(&mut input, &mut line).map_err(unreadable)?;
        if read == 0 {
            break;
        }
        let starts = line.starts_with(b"From ")
            && blank_before
            && (offset == 0 || date::envelope_date(trim_end(&line)).is_some());
        if offset == 0 && !starts {
            return Err(MboxError::NotMbox(name));
        }
        if starts {
            if let Some(mut span) = current.take() {
                span.len = offset - span.offset;
                span.header = span.header.or_else(|| date::header_date(&headers));
                spans.push(span);
            }
            let envelope = date::envelope_date(trim_end(&line));
            current = Some(Span { offset: offset + read, len: 0, header: None, envelope });
            (in_headers, headers) = (true, Vec::new());
        } else if in_headers {
            if trim_end(&line).is_empty() {
                in_headers = false;
                if let Some(span) = current.as_mut() {
                    span.header = date::header_date(&headers);
                }
            } else if headers.len() + line.len() <= HEADERS_KEPT {
                headers.extend_from_slice(&line);
            }
        }
        blank_before = trim_end(&line).is_empty();
        offset += read;
    }
    if let Some(mut span) = current.take() {
        span.len = offset - span.offset;
        span.header = span.header.or_else(|| date::header_date(&headers));
        spans.push(span);
    }
    Ok(spans)
}

/// Reads one line into `line` (at most [`LINE_KEPT`] bytes of it kept); returns its whole
/// length with the newline, 0 at the end of the file. A file without newlines (binary) is
/// read in bounded memory.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<u64> {
    line.clear();
    let mut total = 0u64;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(total);
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let room = LINE_KEPT.saturating_sub(line.len()).min(take);
        line.extend_from_slice(&buf[..room]);
        input.consume(take);
        total += take as u64;
        if done {
            return Ok(total);
        }
    }
}

/// The line without its line ending.
fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads the message `span` of `file`: its bytes without the separator's empty line, the
/// `>From ` quoting undone.
pub(super) fn read(file: &mut std::fs::File, span: &Span) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(span.offset))?;
    let mut raw = Vec::with_capacity(span.len as usize);
    file.take(span.len).read_to_end(&mut raw)?;
    if raw.len() as u64 != span.len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the file is shorter than when it was indexed (did it change?)",
        ));
    }
    Ok(unquote(strip_separator(raw)))
}

/// Without the empty line that separates it from the next message.
fn strip_separator(mut raw: Vec<u8>) -> Vec<u8> {
    if raw.ends_with(b"\r\n\r\n") {
        raw.truncate(raw.len() - 2);
    } else if raw.ends_with(b"\n\n") {
        raw.truncate(raw.len() - 1);
    }
    raw
}

/// Undoes mboxrd quoting: one `>` less on every line that is `>`s and then `From `.
fn unquote(raw: Vec<u8>) -> Vec<u8> {
    if !raw.windows(6).any(|w| w == b">From ") {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|b| *b == b'\n') {
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &[u8]) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(&path, text).unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        index(&path).unwrap().iter().map(|s| read(&mut file, s).unwrap()).collect()
    }

    #[test]
    fn messages_are_split_at_dated_from_lines_and_unquoted() {
        let text = b"From a@x.example Sat Jan  3 01:05:34 1996\nDate: Sat, 3 Jan 1996 01:05:34 +0000\n\
Subject: one\n\nhello\n>From the start\n>>From quoted\n\nFrom here on, unquoted mboxo body\n\n\
From b@x.example Sun Jan  4 01:05:34 1996\nSubject: two\n\nbye\n";
        let got = messages(text);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            b"Date: Sat, 3 Jan 1996 01:05:34 +0000\nSubject: one\n\nhello\nFrom the start\n>From quoted\n\n\
From here on, unquoted mboxo body\n"
                .to_vec()
        );
        assert_eq!(got[1], b"Subject: two\n\nbye\n".to_vec());
    }

    #[test]
    fn dates_come_from_the_header_and_the_from_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        let text = "From a Sat Jan  3 01:05:34 1996\r\nDate: Mon, 3 Feb 2014 10:00:00 +0000\r\n\r\nx\r\n\r\n\
From b Sun Jan  4 01:05:34 1996\r\nSubject: no date\r\n\r\ny\r\n";
        std::fs::write(&path, text).unwrap();
        let spans = index(&path).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].header, spans[0].envelope), (Some(1_391_421_600), Some(820_631_134)));
        assert_eq!((spans[1].header, spans[1].envelope), (None, Some(820_717_534)));
        let mut file = std::fs::File::open(&path).unwrap();
        assert_eq!(read(&mut file, &spans[0]).unwrap(), b"Date: Mon, 3 Feb 2014 10:00:00 +0000\r\n\r\nx\r\n");
    }

    #[test]
    fn a_file_that_is_no_mbox_is_refused_and_a_truncated_one_read_as_far_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin");
        std::fs::write(&binary, (0..=255u8).cycle().take(5_000_000).collect::<Vec<_>>()).unwrap();
        assert!(matches!(index(&binary), Err(MboxError::NotMbox(_))));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(index(&empty).unwrap(), vec![]);
        let got = messages(b"From a Sat Jan  3 01:05:34 1996\nSubject: cut\nFrom: som");
        assert_eq!(got, vec![b"Subject: cut\nFrom: som".to_vec()]);
    }
}
