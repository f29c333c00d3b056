//! HTML bodies: made safe to show (ammonia) and turned into readable text (html2text).

/// The HTML with scripts, event handlers, forms and unsafe URLs removed.
pub fn sanitise(html: &str) -> String {
    ammonia::clean(html)
}

/// Readable plain text for an HTML body: paragraphs, lists and links kept, quotes as `>`.
pub fn to_text(html: &str) -> String {
    // A width this large keeps html2text from re-wrapping paragraphs; the reader's client
    // wraps. A conversion failure (never seen) falls back to the tag-stripped text.
    match html2text::config::plain_no_decorate().link_footnotes(true).string_from_read(html.as_bytes(), 10_000) {
        Ok(text) => text,
        Err(_) => ammonia::clean_text(html),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_removed_and_text_is_readable() {
        let html = "<p>Hello <b>there</b></p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>\
                    <a href=\"https://example.com/x\" onclick=\"evil()\">link</a>";
        let clean = sanitise(html);
        assert!(!clean.contains("script") && !clean.contains("onclick"), "{clean}");
        assert!(clean.contains("<b>there</b>"));
        let text = to_text(html);
        assert!(text.contains("Hello there"), "{text}");
        assert!(text.contains("one") && text.contains("two"), "{text}");
        assert!(text.contains("https://example.com/x"), "{text}");
        assert!(!text.contains("alert"), "{text}");
    }
}
