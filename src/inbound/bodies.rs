//! Which MIME parts of a message are its body and which are attachments, as mail clients
//! show them (RFC 2183; the body-structure algorithm of JMAP, RFC 8621 §4.1.4). Starts from
//! mail-parser's lists and corrects two things: a text/plain or text/html part without a
//! file name and without `Content-Disposition: attachment` is body content wherever it
//! sits (a list footer after an attachment, Apple Mail's text between images, the later
//! parts of a multipart/related); and a text part with a file name that is not the first
//! part of its multipart is an attachment even when it says `inline`. Report parts
//! (message/delivery-status, text/rfc822-headers) are never body content. Works on the
//! top-level parts only: a forwarded message/rfc822 is one attachment.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

/// The ids (indices into `message.parts`) of the body and attachment parts, each list in
/// MIME order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Layout {
    /// Parts whose content makes the text, in order (text/plain, and text/html read as
    /// text where there is no plain alternative).
    pub text: Vec<usize>,
    /// Parts whose content makes the HTML, in order (text/plain parts among them are shown
    /// as preformatted text when there is HTML at all).
    pub html: Vec<usize>,
    /// Everything else that is not a multipart container.
    pub attachments: Vec<usize>,
}

/// Where a part sits with respect to the nearest multipart/alternative around it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Branch {
    /// Not inside any alternative: content belongs to the text and to the HTML.
    None,
    /// Inside the plain-text alternative: text only.
    Text,
    /// Inside the HTML alternative: HTML only.
    Html,
}

/// The body and attachment parts of `message` (see the module comment).
pub(super) fn layout(message: &Message<'_>) -> Layout {
    let parts = &message.parts;
    let n = parts.len();
    // Parent facts: whether a part is the first child of its multipart, and the branch.
    // Children always come after their parent in `parts`, so one pass in order suffices
    // for what flows down and one in reverse for what flows up.
    let mut first_child = vec![true; n];
    let mut alternative_child = vec![false; n];
    let mut has_html = vec![false; n];
    for (id, part) in parts.iter().enumerate().rev() {
        has_html[id] |= matches!(part.body, PartType::Html(_));
        if let PartType::Multipart(children) = &part.body {
            let any = children.iter().any(|&c| has_html.get(c as usize).copied().unwrap_or(false));
            has_html[id] |= any;
        }
    }
    let mut branch = vec![Branch::None; n];
    for (id, part) in parts.iter().enumerate() {
        let PartType::Multipart(children) = &part.body else { continue };
        let is_alternative = is_type(part, "multipart", "alternative");
        for (k, &child) in children.iter().enumerate() {
            let child = child as usize;
            if child <= id || child >= n {
                continue; // not a tree as expected: leave the child's defaults
            }
            first_child[child] = k == 0;
            alternative_child[child] = is_alternative;
            branch[child] = match (is_alternative, has_html[child]) {
                (true, true) => Branch::Html,
                (true, false) => Branch::Text,
                (false, _) => branch[id],
            };
        }
    }
    let ids = |list: &[u32]| list.iter().map(|&id| id as usize).filter(|&id| id < n).collect::<Vec<_>>();
    // mail-parser lists inline images among the bodies too (and among the attachments):
    // only text is body content here.
    let is_text = |id: &usize| matches!(parts[*id].body, PartType::Text(_) | PartType::Html(_));
    let mut text: Vec<usize> = ids(&message.text_body).into_iter().filter(is_text).collect();
    let mut html: Vec<usize> = ids(&message.html_body).into_iter().filter(is_text).collect();
    let mut attachments = Vec::new();
    // Named text parts mail-parser took for body content (their name only in
    // Content-Disposition): attachments, unless first in their multipart.
    let named = |id: usize| is_text_body_type(&parts[id]) && has_name(&parts[id]) && !first_child[id];
    for list in [&mut text, &mut html] {
        attachments.extend(list.iter().copied().filter(|&id| named(id) && !alternative_child[id]));
        list.retain(|&id| !named(id) || alternative_child[id]);
    }
    let mut in_body = vec![false; n];
    for &id in text.iter().chain(&html) {
        in_body[id] = true;
    }
    for id in ids(&message.attachments) {
        let part = &parts[id];
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        if in_body[id] {
            continue; // a text part mail-parser lists as both
        }
        if is_body_text(part) {
            if branch[id] != Branch::Html {
                text.push(id);
            }
            if branch[id] != Branch::Text {
                html.push(id);
            }
        } else {
            attachments.push(id);
        }
    }
    for list in [&mut text, &mut html, &mut attachments] {
        list.sort_unstable();
        list.dedup();
    }
    Layout { text, html, attachments }
}

/// An unnamed text/plain or text/html part that is not `Content-Disposition: attachment`
/// (and not text mail-parser could not decode, which stays an attachment as sent).
fn is_body_text(part: &MessagePart<'_>) -> bool {
    is_text_body_type(part)
        && !part.is_encoding_problem
        && !has_name(part)
        && !part.content_disposition().is_some_and(|d| d.is_attachment())
}

/// text/plain or text/html (a part without Content-Type is text/plain).
fn is_text_body_type(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Text(_) | PartType::Html(_))
        && match part.content_type() {
            None => true,
            Some(_) => is_type(part, "text", "plain") || is_type(part, "text", "html"),
        }
}

fn has_name(part: &MessagePart<'_>) -> bool {
    part.attachment_name().is_some_and(|name| !name.trim().is_empty())
}

fn is_type(part: &MessagePart<'_>, ctype: &str, subtype: &str) -> bool {
    part.content_type().is_some_and(|t| {
        t.ctype().eq_ignore_ascii_case(ctype) && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
    })
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, PartType};

    use super::layout;

    /// The layout as the first line of each part's content: (text, html, attachments).
    fn read(raw: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
        let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
        let layout = layout(&message);
        let first_line = |id: &usize| match &message.parts[*id].body {
            PartType::Text(t) | PartType::Html(t) => t.lines().next().unwrap_or_default().to_string(),
            _ => format!("#{id}"),
        };
        (
            layout.text.iter().map(first_line).collect(),
            layout.html.iter().map(first_line).collect(),
            layout.attachments.iter().map(first_line).collect(),
        )
    }

    fn mail(content_type: &str, parts: &[&str]) -> String {
        let mut raw = format!(
            "From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: {content_type}; boundary=\"b\"\n\n"
        );
        for part in parts {
            raw.push_str(&format!("--b\n{part}\n"));
        }
        raw + "--b--\n"
    }

    const PLAIN: &str = "Content-Type: text/plain\n\nbody";
    const PDF: &str = "Content-Type: application/pdf; name=\"a.pdf\"\nContent-Disposition: attachment; filename=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0=";

    #[test]
    fn an_unnamed_text_part_after_an_attachment_is_body() {
        let footer = "Content-Type: text/plain; charset=us-ascii\nContent-Disposition: inline\n\nlist footer";
        let (text, _, attachments) = read(&mail("multipart/mixed", &[PLAIN, PDF, footer]));
        assert_eq!(text, ["body", "list footer"]);
        assert_eq!(attachments, ["#2"]);
    }

    #[test]
    fn later_parts_of_a_related_go_to_the_html_of_their_alternative() {
        let raw = "From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"a\"\n\n\
            --a\nContent-Type: text/plain\n\nplain\n--a\nContent-Type: multipart/related; boundary=\"r\"\n\n\
            --r\nContent-Type: text/html\n\n<p>one</p>\n--r\nContent-Type: image/png\nContent-ID: <i@x>\n\
            Content-Transfer-Encoding: base64\n\niVBORw0K\n--r\nContent-Type: text/html\n\n<p>two</p>\n--r--\n--a--\n";
        let (text, html, attachments) = read(raw);
        assert_eq!(text, ["plain"]);
        assert_eq!(html, ["<p>one</p>", "<p>two</p>"]);
        assert_eq!(attachments, ["#4"]);
    }

    #[test]
    fn named_text_and_attachment_dispositions_stay_attachments() {
        let named = "Content-Type: text/plain\nContent-Disposition: inline; filename=\"notes.txt\"\n\nnotes";
        let attached = "Content-Type: text/plain\nContent-Disposition: attachment\n\nattached";
        let csv = "Content-Type: text/csv\n\na,b";
        let (text, _, attachments) = read(&mail("multipart/mixed", &[PLAIN, named, attached, csv]));
        assert_eq!(text, ["body"]);
        assert_eq!(attachments, ["notes", "attached", "a,b"]);
    }

    #[test]
    fn a_named_first_part_is_still_the_body() {
        let named = "Content-Type: text/plain; name=\"body.txt\"\n\nbody";
        let (text, _, attachments) = read(&mail("multipart/mixed", &[named, PDF]));
        assert_eq!(text, ["body"]);
        assert_eq!(attachments, ["#2"]);
    }

    #[test]
    fn report_parts_stay_attachments() {
        let status = "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n";
        let headers = "Content-Type: text/rfc822-headers\n\nMessage-ID: <x@example.org>";
        let raw = mail("multipart/report; report-type=delivery-status", &[PLAIN, status, headers]);
        let (text, _, attachments) = read(&raw);
        assert_eq!(text, ["body"]);
        assert_eq!(attachments.len(), 2);
    }
}
