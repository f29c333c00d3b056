//! Charsets of text as mail really sends it: labels that lie, labels that are missing,
//! and 8-bit bytes where the RFCs allow none. Owns the order in which a text's bytes are
//! read; never guesses when the bytes are plain ASCII (7-bit charsets such as UTF-7 and
//! ISO-2022-JP are then left to mail-parser, which knows them).
//!
//! The order: bytes that are valid UTF-8 (and not plain ASCII) are UTF-8 whatever the label
//! says — clients and gateways often label UTF-8 with the charset of the user's locale,
//! while legacy-charset text is almost never valid UTF-8 by chance. Otherwise the declared
//! charset, through encoding_rs's WHATWG labels (`gb2312` reads GBK, `iso-8859-1`
//! windows-1252, `ks_c_5601-1987` EUC-KR), when it reads the bytes without error; else the
//! charset chardetng (Firefox's detector) finds. A UTF-16 or UTF-32 label is never second-
//! guessed: such text is not ASCII-compatible, so the UTF-8 test says nothing about it.

use encoding_rs::Encoding;

/// A text body's bytes (transfer encoding already undone) read as text in the order
/// above. `None` when mail-parser's own reading stands: the bytes are plain ASCII, or
/// the label is UTF-16 or UTF-32.
pub(super) fn body_text(bytes: &[u8], label: Option<&str>) -> Option<String> {
    if label.is_some_and(is_wide) || bytes.is_ascii() {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text.to_string()),
        Err(_) => Some(legacy(bytes, label)),
    }
}

/// Header bytes sent raw (no encoded words) read as text in the order above. `None` for
/// valid UTF-8 (plain ASCII included), which mail-parser reads right, and for a header
/// with encoded words, which mail-parser decodes. A UTF-16 or UTF-32 label, declared for
/// a body, cannot apply to a header line and is ignored.
pub(super) fn header_text(bytes: &[u8], label: Option<&str>) -> Option<String> {
    // RFC 2047 words are mail-parser's to decode, raw 8-bit bytes inside a word (as old
    // Eudora and Netscape sent them) included.
    if std::str::from_utf8(bytes).is_ok() || bytes.windows(2).any(|w| w == b"=?") {
        return None;
    }
    Some(legacy(bytes, label.filter(|l| !is_wide(l))))
}

/// Bytes that are not UTF-8: in the declared charset when it reads them without error,
/// else in the detected one. A label encoding_rs does not know but mail-parser does (IBM
/// code pages such as `cp850`) is read by mail-parser's decoder.
fn legacy(bytes: &[u8], label: Option<&str>) -> String {
    let label = label.map(str::trim).filter(|l| !l.is_empty());
    if let Some(label) = label {
        match Encoding::for_label_no_replacement(label.as_bytes()) {
            Some(encoding) if encoding != encoding_rs::UTF_8 && !is_wide_encoding(encoding) => {
                if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
                    return text.into_owned();
                }
            }
            Some(_) => {}
            None => {
                if let Some(decode) = mail_parser::decoders::charsets::map::charset_decoder(label.as_bytes()) {
                    return decode(bytes);
                }
            }
        }
    }
    detected(bytes)
}

/// `bytes` in the charset chardetng finds for them.
fn detected(bytes: &[u8]) -> String {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Allow);
    encoding.decode_without_bom_handling(bytes).0.into_owned()
}

fn is_wide_encoding(encoding: &'static Encoding) -> bool {
    encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE
}

/// A UTF-16 or UTF-32 label (`utf-16`, `UTF-16LE`, `ucs-2`, `utf-32be`, `ucs-4`, …).
fn is_wide(label: &str) -> bool {
    let label: String = label.trim().chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase();
    label.starts_with("utf16")
        || label.starts_with("utf32")
        || label.starts_with("ucs2")
        || label.starts_with("ucs4")
        || Encoding::for_label(label.as_bytes()).is_some_and(is_wide_encoding)
}

#[cfg(test)]
mod tests {
    use super::{body_text, header_text};

    const GBK_HELLO: &[u8] = b"\xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7"; // 你好，世界

    #[test]
    fn valid_utf8_is_utf8_whatever_the_label_says() {
        for label in ["big5", "iso-8859-1", "windows-1252", "gb2312", "koi8-r", "x-unknown", "utf-8"] {
            assert_eq!(body_text("Grüße, 你好".as_bytes(), Some(label)).as_deref(), Some("Grüße, 你好"), "{label}");
        }
        assert_eq!(body_text("Grüße".as_bytes(), None).as_deref(), Some("Grüße"));
    }

    #[test]
    fn the_declared_charset_reads_what_is_not_utf8() {
        assert_eq!(body_text(GBK_HELLO, Some("gb2312")).as_deref(), Some("你好，世界"));
        assert_eq!(body_text(b"Gr\xfc\xdfe", Some("ISO-8859-1")).as_deref(), Some("Grüße"));
        assert_eq!(body_text(b"\xbe\xc8\xb3\xe7", Some("ks_c_5601-1987")).as_deref(), Some("안녕"));
        assert_eq!(body_text(b"\xf0\xd2\xc9\xd7\xc5\xd4", Some("koi8-r")).as_deref(), Some("Привет"));
        assert_eq!(body_text(b"\xcf\xf0\xe8\xe2\xe5\xf2", Some("windows-1251")).as_deref(), Some("Привет"));
        assert_eq!(
            body_text(b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", Some("Shift_JIS")).as_deref(),
            Some("こんにちは")
        );
        assert_eq!(body_text(b"\xbf\xec\xb9\xed", Some("iso-8859-2")).as_deref(), Some("żěší"));
    }

    #[test]
    fn a_label_that_cannot_read_the_bytes_or_none_at_all_leaves_it_to_detection() {
        // Shift_JIS bytes labelled UTF-8: not valid UTF-8, so detected.
        let sjis = "こんにちは、お元気ですか。今日はとても良い天気ですね。".as_bytes();
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(std::str::from_utf8(sjis).unwrap());
        let want = "こんにちは、お元気ですか。今日はとても良い天気ですね。";
        assert_eq!(body_text(&sjis, Some("utf-8")).as_deref(), Some(want));
        assert_eq!(body_text(&sjis, None).as_deref(), Some(want));
        assert_eq!(body_text(&sjis, Some("x-no-such-charset")).as_deref(), Some(want));
        // A label that reads anything (windows-1252 under `us-ascii`) is believed.
        assert_eq!(body_text(b"caf\xe9", Some("us-ascii")).as_deref(), Some("café"));
    }

    #[test]
    fn plain_ascii_and_wide_labels_are_left_to_mail_parser() {
        assert_eq!(body_text(b"+ZeVnLIqe-", Some("utf-7")), None);
        assert_eq!(body_text(b"\x1b$B$3$s\x1b(B", Some("iso-2022-jp")), None);
        assert_eq!(body_text(b"h\x00i\x00", Some("utf-16le")), None);
        assert_eq!(body_text("é".as_bytes(), Some("UTF-32")), None);
        assert_eq!(body_text("é".as_bytes(), Some("ucs-2")), None);
    }

    #[test]
    fn header_bytes_follow_the_same_order() {
        assert_eq!(header_text("Grüße".as_bytes(), Some("iso-8859-1")), None, "valid UTF-8 stays with mail-parser");
        assert_eq!(header_text(GBK_HELLO, Some("gb2312")).as_deref(), Some("你好，世界"));
        assert_eq!(
            header_text(b"K\xf6ln", Some("utf-16")).as_deref(),
            Some("Köln"),
            "a body's UTF-16 label is ignored"
        );
        assert_eq!(header_text(b"Gr\xfc\xdfe aus K\xf6ln", Some("utf-8")).as_deref(), Some("Grüße aus Köln"));
    }
}
