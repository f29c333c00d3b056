//! MIME: mail-parser's message turned into owned, normalised fields. Line endings become
//! LF, so a message reads the same whether it arrived with CRLF or LF.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::{Attachment, InboundError, Sender, bodies, charset, html, uuencode};
use crate::domain::{EmailAddress, MessageId};

/// The fields of a message before classification and threading.
pub(super) struct Parsed {
    pub message_id: Option<String>,
    pub from: Sender,
    pub to: Vec<EmailAddress>,
    pub cc: Vec<EmailAddress>,
    pub reply_to: Vec<EmailAddress>,
    pub subject: String,
    /// The subject was longer than [`MAX_SUBJECT_CHARS`] and was cut.
    pub subject_cut: bool,
    pub date: Option<String>,
    pub text: String,
    /// The text reply stripping reads: the plain text, or for HTML-only mail the HTML's
    /// text with quote containers marked.
    pub reply_source: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Envelope recipients the delivering MTA recorded (Delivered-To, X-Original-To).
    pub delivered_to: Vec<EmailAddress>,
    /// Lower-cased header names and raw values, for classification.
    pub headers: Vec<(String, String)>,
    /// `type/subtype` of the top-level part, lower-cased.
    pub content_type: String,
    /// The `report-type` parameter of a multipart/report.
    pub report_type: Option<String>,
    /// The Return-Path was `<>`.
    pub null_return_path: bool,
    /// The From is the null sender (`<>`) or a bare daemon name without a domain
    /// (`MAILER-DAEMON`): mail an MTA wrote.
    pub daemon_sender: bool,
}

pub(super) fn parse(raw: &[u8], max_parts: usize) -> Result<Parsed, InboundError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(InboundError::Empty);
    }
    // Old Mac files end lines with CR alone, which no parser splits on.
    let raw: std::borrow::Cow<'_, [u8]> = if !raw.contains(&b'\n') && raw.contains(&b'\r') {
        raw.iter().map(|&b| if b == b'\r' { b'\n' } else { b }).collect::<Vec<u8>>().into()
    } else {
        raw.into()
    };
    let message = MessageParser::default().parse(raw.as_ref()).ok_or(InboundError::NotMail)?;
    // Mail has a header block: at least one field whose name is printable ASCII (RFC 5322
    // 3.6.8). Other bytes (a binary file, random data) may still split into "headers" at a
    // colon, with names no header has.
    let field_name = |name: &str| !name.is_empty() && name.bytes().all(|b| (b'!'..=b'~').contains(&b) && b != b':');
    if !message.headers_raw().any(|(name, _)| field_name(name)) {
        return Err(InboundError::NotMail);
    }
    let parts = count_parts(&message, max_parts);
    if parts > max_parts {
        return Err(InboundError::TooManyParts(parts, max_parts));
    }
    let sender = sender(&message);
    let root_type = message.root_part().content_type();
    let content_type = root_type.map(type_of).unwrap_or_else(|| "text/plain".into());
    let report_type = root_type.and_then(|t| t.attribute("report-type")).map(|s| s.to_ascii_lowercase());
    let return_path = message.header_raw("Return-Path").map(str::trim);
    let headers: Vec<(String, String)> =
        message.headers_raw().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string())).collect();
    let delivered_to: Vec<EmailAddress> = headers
        .iter()
        .filter(|(n, _)| matches!(n.as_str(), "delivered-to" | "x-original-to" | "envelope-to"))
        .filter_map(|(_, v)| EmailAddress::parse(v).ok())
        .take(MAX_ADDRESSES)
        .collect();
    let layout = bodies::layout(&message);
    let body = body_content(&message, &layout);
    let mut text = body.text;
    if text.trim().is_empty() {
        // A multipart whose boundary never matches yields no parts: show its raw content
        // rather than nothing (keep more when unsure).
        if let Some(part) = message.attachments().find(|p| is_unsplit_multipart(p)) {
            text = String::from_utf8_lossy(part.contents()).into_owned();
        }
    }
    let reply_source = body.reply_source.unwrap_or_else(|| text.clone());
    let attachments = attachments(&message, &layout.attachments, body.uuencoded);
    let content_ids: HashMap<String, usize> =
        attachments.iter().enumerate().filter_map(|(i, a)| Some((a.content_id.clone()?, i))).collect();
    let html = body.html.map(|h| html::sanitise(&h, &content_ids));
    // Headers sent as raw 8-bit bytes in a legacy charset, without encoded words.
    let declared = declared_charset(&message);
    let subject =
        match raw_header(&message, mail_parser::HeaderName::Subject).and_then(|b| charset::header_text(b, declared)) {
            Some(text) => one_line(&text),
            None => one_line(message.subject().unwrap_or_default()),
        };
    let mut from = sender.from;
    let legacy_from =
        raw_header(&message, mail_parser::HeaderName::From).and_then(|b| charset::header_text(b, declared));
    if let Some(read) =
        legacy_from.as_deref().and_then(lenient_mailbox).filter(|m| Some(&m.address) == from.address.as_ref())
    {
        from.name = read.name;
    }
    Ok(Parsed {
        message_id: message.message_id().and_then(|id| MessageId::parse(id).ok()).map(|id| id.as_str().to_string()),
        from,
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        reply_to: addresses(message.reply_to()),
        subject_cut: subject.chars().nth(MAX_SUBJECT_CHARS).is_some(),
        subject: capped(subject, MAX_SUBJECT_CHARS),
        date: message.date().filter(|d| d.is_valid()).map(|d| d.to_rfc3339()),
        text: normalise_newlines(&text),
        reply_source: normalise_newlines(&reply_source),
        html: html.map(|h| normalise_newlines(&h)),
        attachments,
        in_reply_to: ids(message.in_reply_to()).into_iter().next(),
        references: ids(message.references()),
        delivered_to,
        headers,
        content_type,
        report_type,
        null_return_path: return_path.is_some_and(|p| p == "<>" || p.is_empty()),
        daemon_sender: sender.daemon,
    })
}

/// The MIME parts of `message` at any depth, those of attached messages included; the
/// count stops a little past `limit` (enough to say it is over).
fn count_parts(message: &Message<'_>, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![message];
    while let Some(m) = stack.pop() {
        count += m.parts.len();
        if count > limit {
            break;
        }
        stack.extend(m.parts.iter().filter_map(|p| match &p.body {
            PartType::Message(nested) => Some(nested),
            _ => None,
        }));
    }
    count
}

/// A display name and an address, as a header gives them.
struct Mailbox {
    name: Option<String>,
    address: EmailAddress,
}

/// Who sent a message, as far as its headers say.
struct FoundSender {
    from: Sender,
    /// The From is the null sender or a daemon's bare name (see [`Parsed::daemon_sender`]).
    daemon: bool,
}

/// Local parts (and bare From words) that MTAs send their reports as.
pub(super) fn is_daemon_local_part(local: &str) -> bool {
    let local = local.trim().trim_matches('"').to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "mail-daemon" | "mailerdaemon" | "mdaemon" | "mail.daemon"
    )
}

/// The sender: the first From header with a usable address (mail-parser keeps the last
/// one), else the near-valid forms real mail has, else Sender, Reply-To and Return-Path.
/// A From that is the null sender (`<>`, `MAILER-DAEMON <>`) or a daemon's bare name
/// without a domain (`Mail Delivery Subsystem <MAILER-DAEMON>`) has no address: an MTA
/// wrote the mail, and nothing is looked for elsewhere. The From's display name is kept
/// whatever header the address came from.
fn sender(message: &Message<'_>) -> FoundSender {
    let from_headers = || message.headers().iter().filter(|h| h.name == mail_parser::HeaderName::From);
    let found = from_headers()
        .find_map(|h| h.value.as_address().and_then(first_mailbox))
        .or_else(|| raw_headers(message, "from").find_map(lenient_mailbox));
    if let Some(found) = found {
        return FoundSender { from: Sender { name: found.name, address: Some(found.address) }, daemon: false };
    }
    // What the From says when it has no usable address: `<>`, a bare word, or nothing.
    let from_name = from_headers()
        .filter_map(|h| h.value.as_address())
        .flat_map(|a| a.iter())
        .find_map(|a| a.name().map(one_line).filter(|n| !n.is_empty() && !n.contains('@')));
    let raw_from = raw_headers(message, "from").next().map(one_line);
    let bare = raw_from.as_deref().map(|v| {
        let inner = match (v.rfind('<'), v.rfind('>')) {
            (Some(open), Some(close)) if open < close => &v[open + 1..close],
            _ => v,
        };
        inner.trim().trim_matches('"').trim().to_string()
    });
    // `<>` and Courier's `<@>` are the null sender.
    let null = bare.as_deref().is_some_and(|b| {
        (b.is_empty() || b == "@") && raw_from.as_deref().is_some_and(|v| v.contains("<>") || v.contains("<@>"))
    });
    let daemon_word = bare.as_deref().is_some_and(|b| is_daemon_local_part(b.split('@').next().unwrap_or_default()));
    // A bare word or phrase is a name (`From: Jane Doe`); a group (`undisclosed-recipients:;`)
    // or a list is not.
    let unbracketed = raw_from.as_deref().is_some_and(|v| !v.contains('<'));
    let name = from_name
        .or_else(|| bare.clone().filter(|b| unbracketed && !b.is_empty() && !b.contains(['@', ':', ';', ','])));
    if null || daemon_word {
        return FoundSender { from: Sender { name, address: None }, daemon: true };
    }
    let elsewhere = message
        .sender()
        .and_then(first_mailbox)
        .or_else(|| raw_headers(message, "sender").find_map(lenient_mailbox))
        .or_else(|| message.reply_to().and_then(first_mailbox))
        .or_else(|| raw_headers(message, "return-path").find_map(lenient_mailbox));
    match elsewhere {
        Some(found) => {
            FoundSender { from: Sender { name: name.or(found.name), address: Some(found.address) }, daemon: false }
        }
        None => FoundSender { from: Sender { name, address: None }, daemon: false },
    }
}

/// The text, HTML and uuencoded files of a message's body parts.
struct BodyContent {
    /// The body parts as plain text, joined in order.
    text: String,
    /// For HTML-only mail, the HTML's text with quote containers marked.
    reply_source: Option<String>,
    /// The body parts as HTML (unsanitised), when there is HTML at all.
    html: Option<String>,
    /// Files uuencoded into text parts, with the id of the part they came from.
    uuencoded: Vec<(usize, uuencode::UuFile)>,
}

/// Reads the body parts `layout` lists: each text part in its charset (see [`charset`]),
/// uuencoded files taken out of text/plain parts; then the text (HTML parts converted)
/// and the HTML (text parts among the HTML shown preformatted).
fn body_content(message: &Message<'_>, layout: &bodies::Layout) -> BodyContent {
    let mut uuencoded = Vec::new();
    let mut read: HashMap<usize, (bool, String)> = HashMap::new();
    for &id in layout.text.iter().chain(&layout.html) {
        if read.contains_key(&id) {
            continue;
        }
        let Some(part) = message.parts.get(id) else { continue };
        let (is_html, sent) = match &part.body {
            PartType::Text(t) => (false, t.as_ref()),
            PartType::Html(h) => (true, h.as_ref()),
            _ => continue,
        };
        let label = part.content_type().and_then(|t| t.attribute("charset"));
        // mail-parser's reading stands without a second decode when it cannot differ: plain
        // ASCII came from plain ASCII bytes, and UTF-8 read without a replacement character
        // was valid UTF-8.
        let utf8_label =
            label.is_some_and(|l| l.trim().eq_ignore_ascii_case("utf-8") || l.trim().eq_ignore_ascii_case("utf8"));
        let settled = sent.is_ascii() || utf8_label && !sent.contains('\u{fffd}');
        let reread = (!settled).then(|| charset::body_text(&decoded_content(message, part), label)).flatten();
        let mut content = reread.unwrap_or_else(|| sent.to_string()).trim_start_matches('\u{feff}').to_string();
        let room = uuencode::MAX_FILES.saturating_sub(uuencoded.len());
        if !is_html && let Some((rest, files)) = uuencode::extract(&content, room) {
            content = rest;
            uuencoded.extend(files.into_iter().map(|f| (id, f)));
        }
        read.insert(id, (is_html, content));
    }
    let pieces = |ids: &[usize]| ids.iter().filter_map(|id| read.get(id)).collect::<Vec<_>>();
    let (text_pieces, html_pieces) = (pieces(&layout.text), pieces(&layout.html));
    let html_only = !text_pieces.iter().any(|(is_html, _)| !is_html);
    let html_texts = || html_pieces.iter().filter(|(is_html, _)| *is_html).map(|(_, h)| h.as_str());
    let text = if html_only {
        html_texts().map(html::to_text).collect::<Vec<_>>().join("\n")
    } else {
        let as_text = |(is_html, t): &&(bool, String)| if *is_html { html::to_text(t) } else { t.clone() };
        text_pieces.iter().map(as_text).collect::<Vec<_>>().join("\n")
    };
    let has_html = html_texts().next().is_some();
    let reply_source =
        (html_only && has_html).then(|| html_texts().map(html::to_text_marking_quotes).collect::<Vec<_>>().join("\n"));
    let html = has_html.then(|| {
        let as_html = |(is_html, t): &&(bool, String)| if *is_html { t.clone() } else { preformatted(t) };
        html_pieces.iter().map(as_html).collect::<Vec<_>>().join("\n")
    });
    BodyContent { text, reply_source, html, uuencoded }
}

/// Plain text shown inside HTML as it is: escaped, in a `<pre>`.
fn preformatted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<pre>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out.push_str("</pre>");
    out
}

fn first_mailbox(address: &Address<'_>) -> Option<Mailbox> {
    address.iter().find_map(|a| {
        let email = EmailAddress::parse(a.address()?).ok()?;
        let name = a.name().map(one_line).filter(|n| !n.is_empty());
        Some(Mailbox { name, address: email })
    })
}

/// The raw bytes of the first top-level header `name`.
fn raw_header<'m>(message: &'m Message<'_>, name: mail_parser::HeaderName<'static>) -> Option<&'m [u8]> {
    let header = message.root_part().headers.iter().find(|h| h.name == name)?;
    message.raw_message().get(header.offset_start as usize..header.offset_end as usize)
}

/// The charset the message declares for its text: the top-level Content-Type's, else
/// the first text part's.
fn declared_charset<'m>(message: &'m Message<'_>) -> Option<&'m str> {
    let charset = |part: &'m mail_parser::MessagePart<'_>| part.content_type().and_then(|t| t.attribute("charset"));
    charset(message.root_part()).or_else(|| message.text_bodies().find_map(charset))
}

/// The raw values of the headers called `name` (lower-case), in order.
fn raw_headers<'m>(message: &'m Message<'_>, name: &'static str) -> impl Iterator<Item = &'m str> {
    message.headers_raw().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

static LENIENT_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?:"([^"\\\r\n]{1,64})"|"?([a-z0-9.!#$%&'*+/=?^_`{|}~-]+)"?)@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.?"#,
    )
    .expect("valid pattern")
});

/// Whether `b` may stand in an unquoted local part (RFC 5322 atext, and the dots between).
fn is_atom_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// A sender from a header that does not parse as RFC 5322 says, in the near-valid forms
/// clients and gateways send: `<jane@example.org.>` (a trailing dot on the domain),
/// `"jane"@example.org` (a quoted local part that needs no quotes), `Jane jane@example.org`
/// (no angle brackets), or the address only in the display name (`"jane@example.org"
/// <jane>`). The first address-shaped word wins; the text before it, unquoted, is the name.
fn lenient_mailbox(value: &str) -> Option<Mailbox> {
    let value = one_line(value);
    let found = LENIENT_ADDRESS.captures(&value)?;
    let domain = &found[3];
    // A quoted local part stays quoted when it needs the quotes (`"jane doe"@…`), and
    // loses them when it does not (`"jane"@…` is jane@…).
    let local = match (found.get(1), found.get(2)) {
        (Some(quoted), _) if quoted.as_str().bytes().any(|b| !is_atom_byte(b)) => format!("\"{}\"", quoted.as_str()),
        (Some(plain), _) | (None, Some(plain)) => plain.as_str().to_string(),
        (None, None) => return None,
    };
    let address = EmailAddress::parse(&format!("{local}@{domain}")).ok()?;
    let start = found.get(0).map_or(0, |m| m.start());
    let name = value[..start].trim().trim_end_matches('<').trim().trim_matches('"').trim();
    let name = (!name.is_empty() && !name.contains("=?")).then(|| name.to_string());
    Some(Mailbox { name, address })
}

/// A subject is cut to this many characters: it becomes a ticket title, copied into every
/// page, notification and outbox payload. The whole header stays in the raw mail.
const MAX_SUBJECT_CHARS: usize = 1000;

/// `text` cut to at most `max` characters.
fn capped(mut text: String, max: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.truncate(text.trim_end().len());
    }
    text
}

/// At most this many addresses are read from one header.
const MAX_ADDRESSES: usize = 500;
/// At most this many Message-IDs are read from In-Reply-To or References.
const MAX_IDS: usize = 100;

fn addresses(address: Option<&Address<'_>>) -> Vec<EmailAddress> {
    let mut seen = HashSet::new();
    address
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|a| EmailAddress::parse(a.address()?).ok())
        .filter(|email| seen.insert(email.clone()))
        .take(MAX_ADDRESSES)
        .collect()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut out: Vec<String> = raw
        .into_iter()
        .filter_map(|t| MessageId::parse(t).ok())
        .map(|id| id.as_str().to_string())
        .filter(|id| seen.insert(id.clone()))
        .collect();
    if out.len() > MAX_IDS {
        // Keep the thread's root and the most recent ones.
        out.drain(1..out.len() - (MAX_IDS - 1));
    }
    out
}

fn type_of(ct: &mail_parser::ContentType<'_>) -> String {
    let text = match ct.subtype() {
        Some(sub) => format!("{}/{}", ct.ctype(), sub),
        None => ct.ctype().to_string(),
    };
    one_line(&text).to_ascii_lowercase()
}

/// The attachments: the parts `ids` lists and the files uuencoded into body parts, in
/// MIME order (a uuencoded file where the text part that held it was).
fn attachments(message: &Message<'_>, ids: &[usize], uuencoded: Vec<(usize, uuencode::UuFile)>) -> Vec<Attachment> {
    let parts = ids
        .iter()
        .filter_map(|&id| Some((id, message.parts.get(id)?)))
        .filter(|(_, part)| !matches!(part.body, PartType::Multipart(_)) && !is_unsplit_multipart(part));
    let mut found: Vec<(usize, Attachment)> = parts.map(|(id, part)| (id, attachment(message, part))).collect();
    found.extend(uuencoded.into_iter().map(|(id, file)| (id, uuencoded_attachment(file))));
    found.sort_by_key(|(id, _)| *id);
    let mut out: Vec<Attachment> = found.into_iter().map(|(_, a)| a).collect();
    for (i, a) in out.iter_mut().enumerate() {
        if a.display_name.is_empty() {
            a.display_name = default_name(i, &a.content_type);
        }
    }
    out
}

/// A file that was uuencoded into a body part: its type guessed from its name's extension.
fn uuencoded_attachment(file: uuencode::UuFile) -> Attachment {
    let content_type = mime_guess::from_path(&file.name).first_raw().unwrap_or("application/octet-stream");
    Attachment {
        filename: Some(file.name.clone()),
        display_name: file.name,
        content_type: content_type.to_ascii_lowercase(),
        size: file.bytes.len(),
        inline: false,
        content_id: None,
        bytes: file.bytes,
    }
}

/// One attachment part. A part without a name and without a subject to name it after
/// gets its `display_name` from its position, once the list is complete.
fn attachment(message: &Message<'_>, part: &mail_parser::MessagePart<'_>) -> Attachment {
    let content_type = part.content_type().map(type_of).unwrap_or_else(|| match part.body {
        PartType::Message(_) => "message/rfc822".into(),
        PartType::Text(_) => "text/plain".into(),
        PartType::Html(_) => "text/html".into(),
        _ => "application/octet-stream".into(),
    });
    let mut filename = part
        .attachment_name()
        .map(|name| match name.contains('\u{fffd}') {
            true => rfc2231_name(message.raw_message(), part)
                .or_else(|| legacy_name(message, part))
                .unwrap_or_else(|| name.to_string()),
            false => name.to_string(),
        })
        .map(|name: String| one_line(&name))
        .filter(|n| !n.is_empty());
    let mut bytes = decoded_content(message, part);
    if let Some(file) = is_uuencoded(part).then(|| uuencode::first_file(&bytes)).flatten() {
        bytes = file.bytes;
        filename = filename.or(Some(file.name));
    }
    let display_name = filename
        .clone()
        .or_else(|| {
            part.message().and_then(|m| m.subject()).map(|s| format!("{}.eml", capped(one_line(s), MAX_SUBJECT_CHARS)))
        })
        .unwrap_or_default();
    let disposition_inline = part.content_disposition().is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
    Attachment {
        filename,
        display_name,
        size: bytes.len(),
        inline: disposition_inline || matches!(part.body, PartType::InlineBinary(_)),
        content_id: part.content_id().and_then(|id| MessageId::parse(id).ok()).map(|id| id.as_str().to_string()),
        content_type,
        bytes,
    }
}

/// A part sent with `Content-Transfer-Encoding: x-uuencode` (or `uuencode`, `x-uue`).
fn is_uuencoded(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_transfer_encoding()
        .is_some_and(|e| matches!(e.trim().to_ascii_lowercase().as_str(), "x-uuencode" | "uuencode" | "x-uue" | "uue"))
}

/// The bytes of an attachment: exactly the decoded bytes of the part, for every transfer
/// encoding (base64 and quoted-printable decoded; 7bit, 8bit and binary as they were
/// sent, line endings included). mail-parser converts text parts to UTF-8, so theirs are
/// decoded here from the message's own bytes, in their own charset. A base64 part that
/// mail-parser could not decode (its closing boundary missing) is decoded here too.
fn decoded_content(message: &Message<'_>, part: &mail_parser::MessagePart<'_>) -> Vec<u8> {
    let encoding = part.content_transfer_encoding().map(|e| e.trim().to_ascii_lowercase());
    let base64 = |raw: &[u8]| {
        let compact: Vec<u8> = raw.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        mail_parser::decoders::base64::base64_decode(&compact)
    };
    if matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        let sent = message.raw_message().get(part.offset_body as usize..part.offset_end as usize);
        if let Some(sent) = sent {
            let decoded = match encoding.as_deref() {
                Some("base64") => base64(sent),
                Some("quoted-printable") => mail_parser::decoders::quoted_printable::quoted_printable_decode(sent),
                _ => Some(sent.to_vec()),
            };
            if let Some(decoded) = decoded {
                return decoded;
            }
        }
    }
    let raw = part.contents();
    match encoding.as_deref() {
        Some("base64") if part.is_encoding_problem => base64(raw).unwrap_or_else(|| raw.to_vec()),
        _ => raw.to_vec(),
    }
}

static RFC2231_SEGMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|;)\s*(filename|name)\*(\d{1,3})(\*?)\s*=\s*("[^"]*"|[^;\s]*)"#).expect("valid pattern")
});

/// A file name split into RFC 2231 continuations, decoded from the raw header as one
/// byte string: mail-parser decodes each segment alone, which breaks a character split
/// across two segments.
fn rfc2231_name(raw_message: &[u8], part: &mail_parser::MessagePart<'_>) -> Option<String> {
    for value in naming_headers(raw_message, part) {
        let value = String::from_utf8_lossy(value);
        if !value.contains('*') {
            continue; // no continuations here (and the pattern is not compiled for nothing)
        }
        let mut segments: Vec<(String, u32, bool, String)> = RFC2231_SEGMENT
            .captures_iter(&value)
            .filter_map(|c| {
                Some((
                    c[1].to_ascii_lowercase(),
                    c[2].parse().ok()?,
                    !c[3].is_empty(),
                    c[4].trim_matches('"').to_string(),
                ))
            })
            .collect();
        let key = if segments.iter().any(|s| s.0 == "filename") { "filename" } else { "name" };
        segments.retain(|s| s.0 == key);
        segments.sort_by_key(|s| s.1);
        let Some((first, rest)) = segments.split_first() else { continue };
        let (charset, data) = match first.3.splitn(3, '\'').collect::<Vec<_>>()[..] {
            [charset, _language, data] if first.2 => (charset.to_string(), data.to_string()),
            _ => ("utf-8".into(), first.3.clone()),
        };
        let mut bytes = if first.2 { percent_decode(&data) } else { data.into_bytes() };
        for segment in rest {
            bytes.extend(if segment.2 { percent_decode(&segment.3) } else { segment.3.as_bytes().to_vec() });
        }
        let decoder = mail_parser::decoders::charsets::map::charset_decoder(charset.as_bytes());
        return Some(match decoder {
            Some(decode) => decode(&bytes),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    None
}

/// The raw values of a part's Content-Disposition and Content-Type, where its file name is.
fn naming_headers<'m>(raw_message: &'m [u8], part: &'m mail_parser::MessagePart<'_>) -> impl Iterator<Item = &'m [u8]> {
    part.headers
        .iter()
        .filter(|h| {
            matches!(h.name, mail_parser::HeaderName::ContentDisposition | mail_parser::HeaderName::ContentType)
        })
        .filter_map(|h| raw_message.get(h.offset_start as usize..h.offset_end as usize))
}

static PLAIN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|;)\s*(filename|name)\s*=\s*(?:"([^"]*)"|([^;\s]+))"#).expect("valid pattern")
});

/// A file name sent as raw 8-bit bytes in a legacy charset (no RFC 2231 or RFC 2047
/// encoding): read in the part's declared charset, else the message's, else detected.
fn legacy_name(message: &Message<'_>, part: &mail_parser::MessagePart<'_>) -> Option<String> {
    let declared = part.content_type().and_then(|t| t.attribute("charset")).or_else(|| declared_charset(message));
    let mut found: Option<(bool, String)> = None;
    for raw in naming_headers(message.raw_message(), part) {
        let Some(text) = charset::header_text(raw, declared) else { continue };
        for c in PLAIN_NAME.captures_iter(&text) {
            let is_filename = c[1].eq_ignore_ascii_case("filename");
            let value = c.get(2).or_else(|| c.get(3)).map_or("", |m| m.as_str()).to_string();
            if found.as_ref().is_none_or(|(was_filename, _)| is_filename && !was_filename) {
                found = Some((is_filename, value));
            }
        }
    }
    found.map(|(_, name)| name).filter(|n| !n.is_empty())
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// A part declared multipart whose boundary was never found, so it holds raw text.
fn is_unsplit_multipart(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|t| t.ctype().eq_ignore_ascii_case("multipart"))
}

/// A name people can see for a part that came without one: report parts by what they
/// are, others by their position and type.
fn default_name(index: usize, content_type: &str) -> String {
    match content_type {
        "message/delivery-status" | "message/global-delivery-status" => "delivery-status.txt".into(),
        "text/rfc822-headers" | "message/global-headers" => "returned-headers.txt".into(),
        "message/feedback-report" => "feedback-report.txt".into(),
        "message/disposition-notification" => "disposition-notification.txt".into(),
        _ => format!("attachment-{}.{}", index + 1, extension_for(content_type)),
    }
}

fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "message/rfc822" => "eml",
        "text/plain" => "txt",
        "text/html" => "html",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        _ => "bin",
    }
}

/// Folded or multi-line header text as one line with single spaces, without control
/// characters (a NUL cannot even be stored in PostgreSQL).
fn one_line(text: &str) -> String {
    let printable: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    printable.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Body text with LF line endings and without NUL characters.
fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n").replace('\0', "")
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::parse;

    /// Bytes that any line-ending rewrite or charset guess would change.
    fn payload() -> Vec<u8> {
        let mut bytes = b"%PDF-1.4\n1 0 obj\r\n<< /Length 2 >>\rstream\n".to_vec();
        bytes.extend((0u8..=255).collect::<Vec<u8>>());
        bytes.extend_from_slice(b"\nendstream\n=3D not an escape\r\n");
        bytes
    }

    fn sha(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    /// Quoted-printable as RFC 2045 6.7 writes it: every byte that is not printable ASCII
    /// as `=XX` (CR and LF too, since this is binary data), soft breaks before 76 columns.
    fn quoted_printable(bytes: &[u8]) -> String {
        let mut out = String::new();
        let mut column = 0;
        for &b in bytes {
            let piece =
                if (33..=126).contains(&b) && b != b'=' { (b as char).to_string() } else { format!("={b:02X}") };
            if column + piece.len() > 72 {
                out.push_str("=\n");
                column = 0;
            }
            column += piece.len();
            out.push_str(&piece);
        }
        out
    }

    fn base64(bytes: &[u8]) -> String {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        text.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned() + "\n").collect()
    }

    fn message(encoding: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        let mut raw = format!(
            "From: a@example.com\nTo: support@helpdesk.example\nSubject: file\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee attached.\n\
             --b\nContent-Type: {content_type}\nContent-Disposition: attachment; filename=\"f\"\n\
             Content-Transfer-Encoding: {encoding}\n\n"
        )
        .into_bytes();
        raw.extend_from_slice(body);
        raw.extend_from_slice(b"\n--b--\n");
        raw
    }

    fn crlf(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(b);
        }
        out
    }

    fn attachment(raw: &[u8]) -> Vec<u8> {
        let parsed = parse(raw, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.attachments.len(), 1, "one attachment");
        parsed.attachments.into_iter().next().unwrap().bytes
    }

    /// The sender's name and address, and whether it is a daemon's null sender.
    fn sender(from: &str) -> (Option<String>, Option<String>, bool) {
        let raw = format!("{from}To: support@helpdesk.example\nSubject: hi\n\nHello\n");
        let p = parse(raw.as_bytes(), 100).unwrap_or_else(|e| panic!("{e}"));
        (p.from.name, p.from.address.map(|a| a.as_str().to_string()), p.daemon_sender)
    }

    #[test]
    fn headers_sent_as_raw_8_bit_bytes_are_read_in_their_charset() {
        let read = |raw: &[u8]| {
            let p = parse(raw, 100).unwrap();
            (p.subject, p.from.name.unwrap_or_default())
        };
        // Latin-1, declared.
        let latin1 = b"From: J\xf6rg M\xfcller <j@example.de>\nSubject: Gr\xfc\xdfe aus K\xf6ln\nContent-Type: text/plain; charset=iso-8859-1\n\nHallo\n";
        assert_eq!(read(latin1), ("Grüße aus Köln".into(), "Jörg Müller".into()));
        // GBK under a gb2312 label (its subset).
        let gbk = b"From: \xd5\xc5\xc8\xfd <z@example.cn>\nSubject: \xc4\xe3\xba\xc3\xa3\xac\xca\xc0\xbd\xe7\nContent-Type: text/plain; charset=gb2312\n\nx\n";
        assert_eq!(read(gbk), ("你好，世界".into(), "张三".into()));
        // KOI8-R with no charset declared: detected.
        let koi8 = b"From: a@example.ru\nSubject: \xf0\xd2\xc9\xd7\xc5\xd4, \xcd\xc9\xd2! \xe8\xcf\xd2\xcf\xdb\xc9\xca \xc4\xc5\xce\xd8\n\nx\n";
        assert_eq!(read(koi8).0, "Привет, мир! Хороший день");
        // Shift_JIS, declared on a part of a multipart message.
        let sjis = b"From: a@example.jp\nSubject: \x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=shift_jis\n\nx\n--b--\n";
        assert_eq!(read(sjis).0, "こんにちは");
        // Raw 8-bit bytes inside an encoded word (old Eudora, Netscape): the word is decoded.
        let word = b"From: a@example.com\nSubject: =?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=\n\nx\n";
        assert_eq!(read(word).0, "Die Hasen und die Frösche");
        // UTF-8 sent raw stays as it is.
        let utf8 = "From: Jörg <j@example.de>\nSubject: Grüße\nContent-Type: text/plain; charset=iso-8859-1\n\nx\n";
        assert_eq!(read(utf8.as_bytes()), ("Grüße".into(), "Jörg".into()));
    }

    #[test]
    fn file_names_sent_as_raw_8_bit_bytes_are_read_in_their_charset() {
        let name = |raw: &[u8]| parse(raw, 100).unwrap().attachments[0].filename.clone().unwrap_or_default();
        let with = |disposition: &[u8], charset: &str| {
            let mut raw = format!(
                "From: a@example.com\nSubject: f\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
                 --b\nContent-Type: text/plain; charset={charset}\n\nx\n--b\nContent-Type: application/pdf\n\
                 Content-Disposition: attachment; "
            )
            .into_bytes();
            raw.extend_from_slice(disposition);
            raw.extend_from_slice(b"\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n");
            raw
        };
        assert_eq!(name(&with(b"filename=\"Pr\xfcfbericht M\xe4rz.pdf\"", "iso-8859-1")), "Prüfbericht März.pdf");
        assert_eq!(name(&with(b"filename=\"\xb1\xa8\xb8\xe6.pdf\"", "gb2312")), "报告.pdf");
        assert_eq!(name(&with(b"filename=\"\x8c\xa9\x8f\x91.pdf\"", "shift_jis")), "見書.pdf");
    }

    fn mixed(parts: &[&[u8]]) -> Vec<u8> {
        let mut raw =
            b"From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n"
                .to_vec();
        for part in parts {
            raw.extend_from_slice(b"--b\n");
            raw.extend_from_slice(part);
            raw.extend_from_slice(b"\n");
        }
        raw.extend_from_slice(b"--b--\n");
        raw
    }

    const PDF_PART: &[u8] = b"Content-Type: application/pdf; name=\"a.pdf\"\nContent-Disposition: attachment; filename=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0=";

    #[test]
    fn an_unnamed_text_part_after_an_attachment_is_body_text_and_html() {
        let alternative = b"Content-Type: multipart/alternative; boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\nHello\n--a\nContent-Type: text/html\n\n<p>Hello</p>\n--a--";
        let footer = b"Content-Type: text/plain; charset=us-ascii\nContent-Disposition: inline\n\nList <footer>";
        let p = parse(&mixed(&[alternative, PDF_PART, footer]), 100).unwrap();
        assert_eq!(p.attachments.iter().map(|a| a.filename.clone()).collect::<Vec<_>>(), [Some("a.pdf".to_string())]);
        assert!(p.text.starts_with("Hello") && p.text.ends_with("List <footer>"), "{:?}", p.text);
        let html = p.html.unwrap();
        assert!(html.contains("<p>Hello</p>") && html.contains("<pre>List &lt;footer&gt;</pre>"), "{html}");
        // Named, or marked as an attachment: stays an attachment.
        let named = b"Content-Type: text/plain\nContent-Disposition: inline; filename=\"notes.txt\"\n\nnotes";
        let p = parse(&mixed(&[b"Content-Type: text/plain\n\nHello", named]), 100).unwrap();
        assert_eq!(p.attachments[0].filename.as_deref(), Some("notes.txt"));
        assert_eq!(p.text, "Hello");
    }

    #[test]
    fn body_charset_labels_that_lie_are_not_believed() {
        let body = |content_type: &str, bytes: &[u8]| {
            let mut raw = format!("From: a@example.com\nSubject: s\nContent-Type: {content_type}\n\n").into_bytes();
            raw.extend_from_slice(bytes);
            parse(&raw, 100).unwrap().text
        };
        assert_eq!(body("text/plain; charset=big5", "密碼錯誤 Grüße".as_bytes()), "密碼錯誤 Grüße");
        assert_eq!(body("text/plain; charset=iso-8859-1", "Grüße".as_bytes()), "Grüße");
        assert_eq!(body("text/html; charset=windows-1252", "<p>Grüße</p>".as_bytes()).trim(), "Grüße");
        assert_eq!(body("text/plain; charset=gb2312", b"\xd6\xec\xe9\x46\xbb\xf9"), "朱镕基", "GBK under gb2312");
        assert_eq!(
            body("text/plain; charset=utf-8", b"Gr\xfc\xdfe aus K\xf6ln und M\xfcnchen"),
            "Grüße aus Köln und München"
        );
        assert_eq!(body("text/plain; charset=koi8-r", b"\xf0\xd2\xc9\xd7\xc5\xd4"), "Привет");
    }

    #[test]
    fn uuencoded_files_become_attachments_in_mime_order() {
        let text = b"Content-Type: text/plain\n\nThe file:\nbegin 644 cat.txt\n#0V%T\n`\nend\nBye";
        let p = parse(&mixed(&[text, PDF_PART]), 100).unwrap();
        let names: Vec<_> =
            p.attachments.iter().map(|a| (a.filename.clone().unwrap_or_default(), a.content_type.clone())).collect();
        assert_eq!(names, [("cat.txt".into(), "text/plain".into()), ("a.pdf".into(), "application/pdf".into())]);
        assert_eq!(p.attachments[0].bytes, b"Cat");
        assert_eq!(p.text, "The file:\nBye");
        // A part sent as x-uuencode is its decoded file, named from the begin line.
        let part = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode\n\nbegin 600 data.bin\n#0V%T\n`\nend";
        let p = parse(&mixed(&[b"Content-Type: text/plain\n\nHi", part]), 100).unwrap();
        assert_eq!(
            (p.attachments[0].filename.as_deref(), p.attachments[0].bytes.as_slice()),
            (Some("data.bin"), &b"Cat"[..])
        );
    }

    #[test]
    fn near_valid_senders_are_read() {
        let person = |name: Option<&str>, address: &str| (name.map(str::to_string), Some(address.to_string()), false);
        assert_eq!(sender("From: Jane <jane@example.org.>\n"), person(Some("Jane"), "jane@example.org"));
        assert_eq!(sender("From: \"jane\"@example.org\n"), person(None, "jane@example.org"));
        assert_eq!(sender("From: \"Jane Doe\"@example.org\n"), person(None, "\"jane doe\"@example.org"));
        assert_eq!(sender("From: Jane Doe jane@example.org\n"), person(Some("Jane Doe"), "jane@example.org"));
        assert_eq!(sender("From: \"jane@example.org\" <jane>\n"), person(None, "jane@example.org"));
        // Nothing usable in From: Sender, Reply-To, Return-Path, in that order; the From's
        // name stays.
        assert_eq!(sender("From: Robot <robot>\nSender: bot@example.net\n"), person(Some("Robot"), "bot@example.net"));
        assert_eq!(
            sender("From: <robot>\nReply-To: Desk <desk@example.net>\n"),
            person(Some("Desk"), "desk@example.net")
        );
        assert_eq!(
            sender("Return-Path: <bounce@example.net>\nFrom: Robot <robot>\n"),
            person(Some("Robot"), "bounce@example.net")
        );
        assert_eq!(
            sender("Return-Path: <jane@example.org>\nFrom: Jane Doe\n"),
            person(Some("Jane Doe"), "jane@example.org")
        );
        // Still nothing: no address, and not a daemon's mail.
        assert_eq!(sender("From: Robot <robot>\n"), (Some("Robot".into()), None, false));
        assert_eq!(sender("From: undisclosed-recipients:;\n"), (None, None, false));
        assert_eq!(sender("Subject: no from\n"), (None, None, false));
        // A well-formed From is read as it is, a daemon's address too.
        assert_eq!(sender("From: \"Doe, Jane\" <Jane@Example.org>\n"), person(Some("Doe, Jane"), "jane@example.org"));
        assert_eq!(
            sender("From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"),
            person(Some("Mail Delivery System"), "mailer-daemon@mx.example.org")
        );
    }

    #[test]
    fn the_null_sender_and_a_daemon_without_a_domain_have_no_address() {
        let daemon = |name: Option<&str>| (name.map(str::to_string), None, true);
        // Whatever else the mail names: the MTA wrote it, to nobody's address.
        assert_eq!(sender("From: MAILER-DAEMON <>\nReturn-Path: <>\n"), daemon(Some("MAILER-DAEMON")));
        assert_eq!(sender("From: <>\nReply-To: x@example.org\n"), daemon(None));
        assert_eq!(sender("From: Mail Delivery Subsystem <MAILER-DAEMON>\n"), daemon(Some("Mail Delivery Subsystem")));
        assert_eq!(sender("From: MAILER-DAEMON\nSender: x@example.org\n"), daemon(Some("MAILER-DAEMON")));
        assert_eq!(sender("From: postmaster\n"), daemon(Some("postmaster")));
        assert_eq!(
            sender("From: Courier mail server at mx.example.org <@>\n"),
            daemon(Some("Courier mail server at mx.example.org"))
        );
    }

    #[test]
    fn encoded_attachments_are_their_exact_decoded_bytes_whatever_the_line_endings() {
        let want = sha(&payload());
        for (encoding, body) in [("base64", base64(&payload())), ("quoted-printable", quoted_printable(&payload()))] {
            let raw = message(encoding, "application/pdf", body.as_bytes());
            assert_eq!(sha(&attachment(&raw)), want, "{encoding}, LF");
            assert_eq!(sha(&attachment(&crlf(&raw))), want, "{encoding}, CRLF");
        }
    }

    #[test]
    fn attachments_sent_as_text_or_binary_are_the_bytes_as_sent() {
        // 7bit and 8bit: the lines as they came, nothing added.
        let seven = b"line one\nline two\n";
        assert_eq!(sha(&attachment(&message("7bit", "text/plain", seven))), sha(b"line one\nline two\n"));
        let sent = crlf(&message("7bit", "text/plain", seven));
        assert_eq!(sha(&attachment(&sent)), sha(b"line one\r\nline two\r\n"), "CRLF stays CRLF");
        let eight = b"Gr\xfc\xdfe aus K\xf6ln\n";
        assert_eq!(sha(&attachment(&message("8bit", "text/plain; charset=iso-8859-1", eight))), sha(eight));
        // binary: bare CR and LF inside the data are kept as they are.
        let binary = b"\x00\x01\rA\nB\r\nC\xff";
        assert_eq!(sha(&attachment(&message("binary", "application/octet-stream", binary))), sha(binary));
    }
}
