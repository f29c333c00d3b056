//! HTML bodies: made safe to show (ammonia) and turned into readable text (html2text).
//!
//! Sanitising removes scripts, event handlers, forms, frames and unsafe URLs, keeps only
//! harmless style properties, drops remote images (they would tell the sender when and
//! where the mail was read) and points `cid:` images at their attachment. Conversion to
//! text keeps paragraphs, lists and links; a variant marks the quote containers mail clients
//! wrap history in, so that reply stripping can find them in HTML-only mail.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

/// Inserted before each quote container by [`to_text_marking_quotes`]; never in `text`.
pub const QUOTE_MARKER: &str = "\u{E000}maildesk-quote\u{E000}";

/// HTML larger than this is not converted or sanitised element by element (that costs
/// time that grows faster than the input on pathological nesting); its text is taken
/// without markup instead.
pub const MAX_HTML_BYTES: usize = 1024 * 1024;

/// Elements nested deeper than this make the HTML pathological: handled like oversize HTML.
const MAX_DEPTH: usize = 1000;

/// Elements that never have content, so never nest.
const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// The containers mail clients put quoted history in.
const QUOTE_CONTAINERS: &[&str] = &[
    "blockquote[type=cite]",                       // Apple Mail, Thunderbird
    "div.gmail_quote",                             // Gmail
    "blockquote.gmail_quote",                      // Gmail
    "div.gmail_extra",                             // older Gmail
    "div#appendonsend",                            // Outlook on the web
    "div#divRplyFwdMsg",                           // Outlook desktop and web
    "div#mail-editor-reference-message-container", // new Outlook
    "div.ms-outlook-mobile-reference-message",     // Outlook for iOS and Android
    "div.OutlookMessageHeader",                    // older Outlook
    "div.yahoo_quoted",                            // Yahoo
    "div.moz-cite-prefix",                         // Thunderbird
    "blockquote.protonmail_quote",                 // Proton Mail
    "div.protonmail_quote",                        // Proton Mail
    "div.zmail_extra",                             // Zoho
    "div#zwchr",                                   // Zimbra
    "blockquote#isReplyContent",                   // Samsung Email
    "div.AppleOriginalContents",                   // Apple Mail forwards
    "blockquote.tutanota_quote",                   // Tuta
];

/// Style properties that change how text looks and nothing else.
const SAFE_STYLES: &[&str] = &[
    "color",
    "background-color",
    "font-weight",
    "font-style",
    "font-size",
    "font-family",
    "text-decoration",
    "text-align",
    "vertical-align",
    "white-space",
    "line-height",
    "margin",
    "margin-left",
    "margin-right",
    "margin-top",
    "margin-bottom",
    "padding",
    "padding-left",
    "padding-right",
    "padding-top",
    "padding-bottom",
    "border",
    "border-left",
    "border-collapse",
    "width",
];

/// Whether the HTML is too large or too deeply nested to be handled element by element.
pub fn is_pathological(html: &str) -> bool {
    if html.len() > MAX_HTML_BYTES {
        return true;
    }
    // An upper bound on nesting: opening tags (not void, not self-closed) seen minus
    // closing tags seen.
    let (mut depth, mut max) = (0usize, 0usize);
    for tag in TAG.find_iter(html) {
        let tag = tag.as_str();
        if tag.starts_with("</") {
            depth = depth.saturating_sub(1);
            continue;
        }
        let name: String =
            tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        if !tag.ends_with("/>") && !VOID.contains(&name.as_str()) {
            depth += 1;
            max = max.max(depth);
        }
    }
    max > MAX_DEPTH
}

/// The HTML made safe: scripts, handlers, forms, frames, remote images and unsafe styles
/// removed; `cid:` images pointed at `attachment:<index>` (the index into the message's
/// attachments), or removed when no attachment has that Content-ID.
pub fn sanitise(html: &str, content_ids: &HashMap<String, usize>) -> String {
    if is_pathological(html) {
        return format!("<pre>{}</pre>", ammonia::clean_text(&plain_text(html)));
    }
    let ids = content_ids.clone();
    let mut builder = ammonia::Builder::default();
    builder
        .add_generic_attributes(["style"])
        .filter_style_properties(SAFE_STYLES.iter().copied().collect::<HashSet<_>>())
        .add_url_schemes(["cid"])
        .attribute_filter(move |element, attribute, value| {
            if (element, attribute) != ("img", "src") {
                return Some(value.into());
            }
            let cid = value.strip_prefix("cid:")?;
            let index = ids.get(cid.trim_start_matches('<').trim_end_matches('>'))?;
            Some(format!("attachment:{index}").into())
        });
    builder.clean(html).to_string()
}

/// Readable plain text for an HTML body: paragraphs, lists and links kept, quotes as `>`.
pub fn to_text(html: &str) -> String {
    if is_pathological(html) {
        return plain_text(html);
    }
    let config = html2text::config::plain_no_decorate().link_footnotes(true);
    // A width this large keeps html2text from re-wrapping paragraphs; the reader's client
    // wraps. A conversion failure (never seen) falls back to the text without markup.
    config.string_from_read(html.as_bytes(), 10_000).unwrap_or_else(|_| plain_text(html))
}

/// Like [`to_text`], with [`QUOTE_MARKER`] at the start of every quote container.
pub fn to_text_marking_quotes(html: &str) -> String {
    if is_pathological(html) {
        return plain_text(html);
    }
    let css = format!("{} {{ content: \"{QUOTE_MARKER}\"; }}", before_selectors());
    let config = match html2text::config::plain_no_decorate().link_footnotes(true).add_css(&css) {
        Ok(config) => config,
        Err(_) => return to_text(html),
    };
    config.string_from_read(html.as_bytes(), 10_000).unwrap_or_else(|_| to_text(html))
}

fn before_selectors() -> String {
    QUOTE_CONTAINERS.iter().map(|s| format!("{s}::before")).collect::<Vec<_>>().join(", ")
}

static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"</?[A-Za-z][^<>]*>").expect("valid pattern"));
static SCRIPT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<script\b.*?</script\s*>").expect("valid pattern"));
static STYLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?is)<style\b.*?</style\s*>").expect("valid pattern"));
static BLANK_RUNS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n{3,}").expect("valid pattern"));
static BREAK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</?(p|div|br|li|tr|h[1-6]|blockquote)\b[^<>]*>").expect("valid pattern"));

/// The text of HTML without any markup, in time linear in its length (the regex crate
/// guarantees linear matching). Only for text: where it is shown as HTML again it is
/// escaped whole.
fn plain_text(html: &str) -> String {
    let html = SCRIPT.replace_all(html, "");
    let html = STYLE.replace_all(&html, "");
    let html = BREAK.replace_all(&html, "\n");
    let text = TAG.replace_all(&html, "");
    let text = text.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"");
    let text = text.replace("&#39;", "'").replace("&amp;", "&");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    BLANK_RUNS.replace_all(&lines.join("\n"), "\n\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_are_removed_and_text_is_readable() {
        let html = "<p>Hello <b>there</b></p><script>alert(1)</script><ul><li>one</li><li>two</li></ul>\
                    <a href=\"https://example.com/x\" onclick=\"evil()\">link</a>";
        let clean = sanitise(html, &HashMap::new());
        assert!(!clean.contains("script") && !clean.contains("onclick"), "{clean}");
        assert!(clean.contains("<b>there</b>"));
        let text = to_text(html);
        assert!(text.contains("Hello there"), "{text}");
        assert!(text.contains("one") && text.contains("two"), "{text}");
        assert!(text.contains("https://example.com/x"), "{text}");
        assert!(!text.contains("alert"), "{text}");
    }

    #[test]
    fn remote_images_go_and_cid_images_point_at_their_attachment() {
        let ids = HashMap::from([("logo@x".to_string(), 1usize)]);
        let html = r#"<img src="https://tracker.example/p.gif" alt="t"><img src="cid:logo@x" alt="logo"><img src="cid:gone@x">"#;
        let clean = sanitise(html, &ids);
        assert!(!clean.contains("tracker.example"), "{clean}");
        assert!(clean.contains(r#"src="attachment:1""#), "{clean}");
        assert!(!clean.contains("gone@x"), "{clean}");
    }

    #[test]
    fn harmless_styles_stay_and_dangerous_ones_go() {
        let html = r#"<p style="color: red; position: fixed; background-image: url(https://x.example/a)">x</p>"#;
        let clean = sanitise(html, &HashMap::new());
        assert!(clean.contains("color:red") || clean.contains("color: red"), "{clean}");
        assert!(!clean.contains("position") && !clean.contains("url("), "{clean}");
    }

    #[test]
    fn quote_containers_are_marked() {
        let html = r#"<div>New text</div><div class="gmail_quote">On Mon, X wrote:<blockquote class="gmail_quote">old</blockquote></div>"#;
        let text = to_text_marking_quotes(html);
        let marker_line = text.lines().position(|l| l.contains(QUOTE_MARKER)).expect("marked");
        let new_line = text.lines().position(|l| l.contains("New text")).unwrap();
        assert!(new_line < marker_line, "{text}");
        assert!(!to_text(html).contains(QUOTE_MARKER));
    }

    #[test]
    fn pathological_nesting_is_flattened_quickly() {
        let html = format!("{}deep{}", "<div>".repeat(100_000), "</div>".repeat(100_000));
        assert!(is_pathological(&html));
        assert!(to_text(&html).contains("deep"));
        assert!(sanitise(&html, &HashMap::new()).contains("deep"));
    }
}
