//! Files uuencoded into the text of a mail, as Outlook Express, Pegasus, some gateways
//! and Unix `mail` with `uuencode` send them: `begin 644 name` … `end` blocks (and
//! `begin-base64 644 name` … `====`, what `uuencode -m` writes) inside a text/plain body,
//! or a whole part sent with `Content-Transfer-Encoding: x-uuencode`. mail-parser decodes
//! none of them. This module finds the blocks and decodes them (POSIX `uuencode` format);
//! a block that is invalid or cut short stays text. Each line is looked at a bounded
//! number of times, so the work is linear in the text's size; nothing here panics.

use std::ops::Range;

use base64::Engine;

/// A file decoded from a uuencoded block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UuFile {
    /// The file name of the `begin` line, without any directory.
    pub name: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
}

/// At most this many files are taken out of one message's text; the blocks past it stay
/// text (MIME parts are limited by `limits.max_parts`; this bounds the files hidden in text).
pub(super) const MAX_FILES: usize = 100;

/// The text with its valid blocks taken out (at most `limit` of them, the first ones), and
/// the files the blocks held, in order. `None` when the text holds no valid block (the
/// usual case, cheaply found) or `limit` is 0.
pub(super) fn extract(text: &str, limit: usize) -> Option<(String, Vec<UuFile>)> {
    if limit == 0 || !text.contains("begin") {
        return None;
    }
    let blocks = blocks(text, limit);
    if blocks.is_empty() {
        return None;
    }
    let mut rest = String::with_capacity(text.len());
    let mut files = Vec::with_capacity(blocks.len());
    let mut at = 0;
    for (range, file) in blocks {
        rest.push_str(&text[at..range.start]);
        at = range.end;
        files.push(file);
    }
    rest.push_str(&text[at..]);
    Some((rest, files))
}

/// The first valid block in `bytes` (the content of a part sent as x-uuencode).
pub(super) fn first_file(bytes: &[u8]) -> Option<UuFile> {
    let text = String::from_utf8_lossy(bytes);
    blocks(&text, 1).into_iter().next().map(|(_, file)| file)
}

/// The first `limit` valid blocks of `text`: the byte range each covers (its `begin` line
/// to the end of its closing line) and the file it holds.
fn blocks(text: &str, limit: usize) -> Vec<(Range<usize>, UuFile)> {
    let lines = lines(text);
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() && found.len() < limit {
        let Some((kind, name)) = begin_line(line_text(text, &lines[i])) else {
            i += 1;
            continue;
        };
        // A failed attempt stops at the first line that cannot be data — at the latest at
        // the next `begin` line — so no line is read by more than two attempts.
        match decode_block(text, &lines[i + 1..], kind) {
            Some((used, bytes)) => {
                let end = lines[i + used].end;
                found.push((lines[i].start..end, UuFile { name, bytes }));
                i += used + 1;
            }
            None => i += 1,
        }
    }
    found
}

#[derive(Clone, Copy)]
enum Kind {
    /// Classic uuencode: a length character, then four characters for three bytes.
    Uu,
    /// `uuencode -m`: base64 lines, closed by `====`.
    Base64,
}

/// The byte ranges of the lines of `text`, each with its line ending.
fn lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}

/// A line without its line ending (CR LF or LF).
fn line_text<'t>(text: &'t str, range: &Range<usize>) -> &'t str {
    text[range.clone()].trim_end_matches('\n').trim_end_matches('\r')
}

/// `begin <mode> <name>` or `begin-base64 <mode> <name>`, the mode three or four octal
/// digits: the kind of block and the file's name without directories.
fn begin_line(line: &str) -> Option<(Kind, String)> {
    let (kind, rest) = if let Some(rest) = line.strip_prefix("begin-base64 ") {
        (Kind::Base64, rest)
    } else {
        (Kind::Uu, line.strip_prefix("begin ")?)
    };
    let (mode, name) = rest.trim_start().split_once(' ')?;
    if !(3..=4).contains(&mode.len()) || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let name = name.trim();
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    (!name.is_empty()).then(|| name.to_string()).map(|name| (kind, name))
}

/// The decoded bytes of the block whose data starts at `lines[0]`, and how many lines it
/// used up to and including its closing line; `None` when a line is not what the format
/// allows there or the block is never closed.
fn decode_block(text: &str, lines: &[Range<usize>], kind: Kind) -> Option<(usize, Vec<u8>)> {
    match kind {
        Kind::Uu => decode_uu(text, lines),
        Kind::Base64 => decode_base64(text, lines),
    }
}

fn decode_uu(text: &str, lines: &[Range<usize>]) -> Option<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut data_ended = false;
    for (n, range) in lines.iter().enumerate() {
        let line = line_text(text, range);
        if line == "end" {
            return Some((n + 1, out));
        }
        if data_ended {
            // After the zero-length line only `end` may follow (blank lines tolerated).
            if line.trim().is_empty() {
                continue;
            }
            return None;
        }
        // A line that trailing-space stripping emptied is the zero-length line ` `.
        let Some(&first) = line.as_bytes().first() else {
            data_ended = true;
            continue;
        };
        let length = uu_value(first)? as usize;
        if length == 0 {
            data_ended = true;
            continue;
        }
        out.extend(decode_uu_line(&line.as_bytes()[1..], length)?);
    }
    None
}

/// The six-bit value of a uuencode character: space (or the backtick many encoders use
/// instead) is 0. `None` for a character the format does not use.
fn uu_value(c: u8) -> Option<u8> {
    (b' '..=b'`').contains(&c).then(|| (c - b' ') & 0x3f)
}

/// `length` bytes from the characters of one data line. Characters missing at the end
/// are zeros (a transport that strips trailing spaces removes encoded zeros); characters
/// past the needed ones (a checksum some encoders add) are ignored.
fn decode_uu_line(chars: &[u8], length: usize) -> Option<Vec<u8>> {
    let needed = length.div_ceil(3) * 4;
    if chars.len() > needed + 8 {
        return None; // not a data line of the format
    }
    let mut values = Vec::with_capacity(needed);
    for &c in chars.iter().take(needed) {
        values.push(uu_value(c)?);
    }
    values.resize(needed, 0);
    let mut out = Vec::with_capacity(needed / 4 * 3);
    for group in values.chunks_exact(4) {
        out.push((group[0] << 2) | (group[1] >> 4));
        out.push((group[1] << 4) | (group[2] >> 2));
        out.push((group[2] << 6) | group[3]);
    }
    out.truncate(length);
    Some(out)
}

fn decode_base64(text: &str, lines: &[Range<usize>]) -> Option<(usize, Vec<u8>)> {
    let mut data = Vec::new();
    for (n, range) in lines.iter().enumerate() {
        let line = line_text(text, range).trim_end();
        if line == "====" {
            return base64::engine::general_purpose::STANDARD.decode(&data).ok().map(|bytes| (n + 1, bytes));
        }
        if !line.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
            return None;
        }
        data.extend_from_slice(line.as_bytes());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{MAX_FILES, UuFile, extract, first_file};

    /// `binascii.b2a_uu` (Python) of the bytes 0..=255, 45 to a line: spaces for zeros.
    const ALL_BYTES: &str = "M  $\" P0%!@<(\"0H+# T.#Q 1$A,4%187&!D:&QP='A\\@(2(C)\"4F)R@I*BLL\n\
        M+2XO,#$R,S0U-C<X.3H[/#T^/T!!0D-$149'2$E*2TQ-3D]045)35%565UA9\n\
        M6EM<75Y?8&%B8V1E9F=H:6IK;&UN;W!Q<G-T=79W>'EZ>WQ]?G^ @8*#A(6&\n\
        MAXB)BHN,C8Z/D)&2DY25EI>8F9J;G)V>GZ\"AHJ.DI::GJ*FJJZRMKJ^PL;*S\n\
        MM+6VM[BYNKN\\O;Z_P,'\"P\\3%QL?(R<K+S,W.S]#1TM/4U=;7V-G:V]S=WM_@\n\
        ?X>+CY.7FY^CIZNOL[>[O\\/'R\\_3U]O?X^?K[_/W^_P  \n";

    fn all_bytes() -> Vec<u8> {
        (0..=255).collect()
    }

    fn file(name: &str, bytes: &[u8]) -> UuFile {
        UuFile { name: name.into(), bytes: bytes.to_vec() }
    }

    #[test]
    fn a_block_is_decoded_and_taken_out_of_the_text() {
        let text = format!("Hello,\n\nthe log is below.\n\nbegin 644 all.bin\n{ALL_BYTES}`\nend\n\nThanks\n");
        let (rest, files) = extract(&text, MAX_FILES).unwrap();
        assert_eq!(rest, "Hello,\n\nthe log is below.\n\n\nThanks\n");
        assert_eq!(files, vec![file("all.bin", &all_bytes())]);
    }

    #[test]
    fn known_encodings_decode_exactly() {
        // binascii.b2a_uu(b"Cat") and b2a_uu(b"\0\0\0hello world\0\0").
        let one = "begin 600 cat.txt\n#0V%T\n`\nend\n";
        assert_eq!(extract(one, MAX_FILES).unwrap().1, vec![file("cat.txt", b"Cat")]);
        let zeros = "begin 644 z.bin\n0    :&5L;&\\@=V]R;&0     \n \nend\n";
        assert_eq!(extract(zeros, MAX_FILES).unwrap().1, vec![file("z.bin", b"\0\0\0hello world\0\0")]);
        // The same with the trailing spaces stripped by a transport, CRLF line endings.
        let stripped = "begin 644 z.bin\r\n0    :&5L;&\\@=V]R;&0\r\n\r\nend\r\n";
        assert_eq!(extract(stripped, MAX_FILES).unwrap().1, vec![file("z.bin", b"\0\0\0hello world\0\0")]);
    }

    #[test]
    fn two_blocks_and_begin_base64_and_paths() {
        let text = "a\nbegin 644 /tmp/one.txt\n#0V%T\n`\nend\nb\nbegin-base64 644 two.bin\nAAECAw==\n====\nc\n";
        let (rest, files) = extract(text, MAX_FILES).unwrap();
        assert_eq!(rest, "a\nb\nc\n");
        assert_eq!(files, vec![file("one.txt", b"Cat"), file("two.bin", &[0, 1, 2, 3])]);
        // base64.encodebytes(bytes(range(256))), 76 characters to a line.
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(all_bytes());
        let lines: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let text = format!("begin-base64 644 all.bin\n{}\n====\n", lines.join("\n"));
        assert_eq!(extract(&text, MAX_FILES).unwrap().1, vec![file("all.bin", &all_bytes())]);
    }

    #[test]
    fn invalid_or_truncated_blocks_stay_text() {
        for text in [
            "begin 644 cut.bin\n#0V%T\n",                          // no end
            "begin 644 cut.bin\n#0V%T\n`\n",                       // no end after the zero line
            "begin 644 prose.txt\nthis is just a sentence\nend\n", // lower case is not data
            "begin 644 x\n#0V%T\n`\nmore text\nend\n",             // text after the zero line
            "begin here we go\n#0V%T\n`\nend\n",                   // no mode
            "begin 644 \n#0V%T\n`\nend\n",                         // no name
            "begin-base64 644 b.bin\nAAEC*w==\n====\n",            // not base64
            "begin-base64 644 b.bin\nAAECAw==\n",                  // no ====
            "begin-base64 644 b.bin\nAAECA===\n====\n",            // bad padding
        ] {
            assert_eq!(extract(text, MAX_FILES), None, "{text:?}");
        }
        assert_eq!(first_file(b"begin 644 a\nM\xff\xfe\nend\n"), None);
    }

    #[test]
    fn a_bad_block_does_not_hide_a_good_one_after_it() {
        let text = "begin 644 bad\nnot data\nbegin 644 good.txt\n#0V%T\n`\nend\n";
        let (rest, files) = extract(text, MAX_FILES).unwrap();
        assert_eq!(rest, "begin 644 bad\nnot data\n");
        assert_eq!(files, vec![file("good.txt", b"Cat")]);
    }

    #[test]
    fn at_most_the_limit_of_files_is_taken_out() {
        let text = "begin 644 c.txt\n#0V%T\n`\nend\n".repeat(3);
        let (rest, files) = extract(&text, 2).unwrap();
        assert_eq!((rest.as_str(), files.len()), ("begin 644 c.txt\n#0V%T\n`\nend\n", 2));
        assert_eq!(extract(&text, 0), None);
    }

    #[test]
    fn hostile_input_is_linear_and_never_panics() {
        let many_begins = "begin 644 a\nM".repeat(50_000);
        assert_eq!(extract(&many_begins, MAX_FILES), None);
        let long_line = format!("begin 644 a\nM{}\nend\n", "!".repeat(1_000_000));
        assert_eq!(extract(&long_line, MAX_FILES), None);
        for text in
            ["begin 644 a\n\u{7f}\nend\n", "begin 644 a\n`\nend", "begin 644 a\nend", "begin 0644 é\n!80``\nend\n"]
        {
            let _ = extract(text, MAX_FILES);
        }
    }
}
