//! What a delivery failure report says: which recipients failed (or are delayed) and with
//! which status. Read from the RFC 3464 `message/delivery-status` part when there is one,
//! else from the text MTAs write (Exim, qmail, Sendmail, Exchange, Gmail, …).

use std::sync::LazyLock;

use mail_parser::MessageParser;
use regex::Regex;
use serde::Serialize;

use super::{Attachment, FailedRecipient};
use crate::domain::EmailAddress;

/// The recipients a bounce reports on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounce {
    /// In the order the report lists them.
    pub recipients: Vec<FailedRecipient>,
    /// The Message-IDs of the mail that failed, as far as the report shows them (its
    /// returned headers or message, its text, its In-Reply-To and References): a bounce
    /// is about mail of ours only when one of them is ours.
    #[serde(skip)]
    pub returned_ids: Vec<String>,
}

/// At most this many recipients are read from one report.
const MAX_RECIPIENTS: usize = 100;

static STATUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u:\b)([245]\.\d{1,3}\.\d{1,3})(?-u:\b)").expect("valid pattern"));
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+=&'/-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}")
        .expect("valid pattern")
});
/// Where the copy of the returned message begins in a text report.
static RETURNED_COPY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(-+\s*(this is a copy of|below this line is a copy|original message|returned message|undelivered message|copy of the original|the original message)|original message headers|(received|return-path|dkim-signature|arc-seal):\s)",
    )
    .expect("valid pattern")
});
static DELAYED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(delayed|will (continue|keep) (to )?try|still being retried|will be retried|will retry|warning only|do not need to resend|could not be delivered for more than|could not send message for past|has not yet been delivered|retry timeout not)").expect("valid pattern")
});
/// Lines naming the sender or the reporting system, whose addresses are not recipients.
static NOT_RECIPIENT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(from|sender|return-path|reply-to|message-id|reporting-mta)\s*:").expect("valid pattern")
});

/// The report of a bounce, from its delivery-status part or else its text. `own_domain`
/// addresses (our own, as the original sender) are never taken for failed recipients.
pub(super) fn report<'a>(
    attachments: &[Attachment],
    text: &str,
    notification: Option<super::ses::Notification>,
    sender: Option<&EmailAddress>,
    own_domain: &str,
    references: impl IntoIterator<Item = &'a String>,
) -> Bounce {
    if let Some(super::ses::Notification::Bounce { mut recipients, returned_id }) = notification {
        recipients.truncate(MAX_RECIPIENTS);
        let mut returned_ids = returned_ids(attachments, text, references);
        returned_ids.extend(returned_id.filter(|id| !returned_ids.contains(id)));
        return Bounce { recipients, returned_ids };
    }
    let mut recipients = status_part(attachments).map(|p| from_delivery_status(&p.bytes)).unwrap_or_default();
    if recipients.is_empty() {
        recipients = from_text(text, sender, own_domain);
    }
    recipients.truncate(MAX_RECIPIENTS);
    Bounce { recipients, returned_ids: returned_ids(attachments, text, references) }
}

/// The delivery-status part of a report (RFC 3464, or RFC 6533 for international mail).
pub(super) fn status_part(attachments: &[Attachment]) -> Option<&Attachment> {
    attachments
        .iter()
        .find(|a| matches!(a.content_type.as_str(), "message/delivery-status" | "message/global-delivery-status"))
}

/// Whether a part returns the mail that failed, or its headers.
pub(super) fn is_returned(part: &Attachment) -> bool {
    matches!(
        part.content_type.as_str(),
        "message/rfc822"
            | "text/rfc822-headers"
            | "message/rfc822-headers"
            | "message/global-headers"
            | "message/global"
    )
}

/// At most this many Message-IDs of returned mail are kept.
const MAX_RETURNED_IDS: usize = 20;

static MESSAGE_ID_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^[ \t>]*message-id:[ \t]*<?([^\s<>@]{1,200}@[^\s<>]{1,200}?)>?[ \t\r]*$").expect("valid pattern")
});

/// The Message-IDs a bounce gives for the mail that failed: from the returned headers or
/// message it attaches, from `Message-ID:` lines of its text (where MTAs that quote the
/// original inline put them), and from its own In-Reply-To and References.
fn returned_ids<'a>(
    attachments: &[Attachment],
    text: &str,
    references: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let returned = attachments.iter().filter(|a| is_returned(a));
    let mut ids: Vec<String> = Vec::new();
    for part in returned {
        // The header block of the returned message (or the headers alone).
        let head = &part.bytes[..part.bytes.len().min(64 * 1024)];
        let head = String::from_utf8_lossy(head);
        let head = head.split("\r\n\r\n").next().unwrap_or_default().split("\n\n").next().unwrap_or_default();
        ids.extend(MESSAGE_ID_LINE.captures_iter(head).take(1).map(|c| c[1].to_string()));
    }
    let in_text = MESSAGE_ID_LINE.captures_iter(text).take(MAX_RETURNED_IDS).map(|c| c[1].to_string());
    ids.extend(in_text);
    ids.extend(references.into_iter().cloned());
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids.truncate(MAX_RETURNED_IDS);
    ids
}

/// Per-recipient blocks of an RFC 3464 report: `Final-Recipient`, `Action`, `Status`.
fn from_delivery_status(bytes: &[u8]) -> Vec<FailedRecipient> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
    let parser = MessageParser::default();
    let mut out: Vec<FailedRecipient> = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()).take(MAX_RECIPIENTS * 2) {
        let block = format!("{}\n\n", block.trim_start_matches('\n'));
        let Some(fields) = parser.parse(block.as_bytes()) else { continue };
        let field = |name: &str| {
            fields.headers_raw().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())
        };
        let recipient = field("Final-Recipient").or_else(|| field("Original-Recipient"));
        let Some(address) = recipient.as_deref().and_then(address_in) else { continue };
        if out.iter().any(|r| r.address == address) {
            continue;
        }
        let status = field("Status").and_then(|s| STATUS.captures(&s).map(|c| c[1].to_string()));
        let action = field("Action").map(|a| a.to_ascii_lowercase()).unwrap_or_else(|| "failed".into());
        out.push(FailedRecipient { address, status, action });
    }
    out
}

/// `rfc822; user@example.net` or `<user@example.net>` → the address.
fn address_in(value: &str) -> Option<EmailAddress> {
    ADDRESS.find(value).and_then(|m| EmailAddress::parse(m.as_str()).ok())
}

/// Recipients named in the text of a report that has no delivery-status part.
fn from_text(text: &str, sender: Option<&EmailAddress>, own_domain: &str) -> Vec<FailedRecipient> {
    let lines: Vec<&str> = text.lines().take_while(|l| !RETURNED_COPY.is_match(l)).take(2000).collect();
    let action = if DELAYED.is_match(&lines.join("\n")) { "delayed" } else { "failed" };
    let mut out: Vec<FailedRecipient> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if NOT_RECIPIENT_LINE.is_match(line) {
            continue;
        }
        for m in ADDRESS.find_iter(line) {
            let Ok(address) = EmailAddress::parse(m.as_str()) else { continue };
            let daemon = super::parse::is_daemon_local_part(address.local_part());
            if Some(&address) == sender || daemon || address.domain().eq_ignore_ascii_case(own_domain) {
                continue;
            }
            if out.iter().any(|r| r.address == address) || out.len() >= MAX_RECIPIENTS {
                continue;
            }
            let status =
                lines[i..(i + 5).min(lines.len())].iter().find_map(|l| STATUS.captures(l).map(|c| c[1].to_string()));
            out.push(FailedRecipient { address, status, action: action.into() });
        }
    }
    // A single recipient takes the report's only status code, wherever it stands.
    if let [only] = out.as_mut_slice()
        && only.status.is_none()
    {
        only.status = lines.iter().find_map(|l| STATUS.captures(l).map(|c| c[1].to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn rfc3464_blocks_give_recipients_and_codes() {
        let part = b"Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; gone@example.net\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822;slow@example.org\nAction: delayed\nStatus: 4.4.1\n";
        let r = from_delivery_status(part);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].address.as_str(), r[0].status.as_deref(), r[0].action.as_str()),
            ("gone@example.net", Some("5.1.1"), "failed")
        );
        assert_eq!((r[1].address.as_str(), r[1].action.as_str()), ("slow@example.org", "delayed"));
    }

    #[test]
    fn qmail_and_exim_texts_give_recipients() {
        let qmail = "Hi. This is the qmail-send program at mx.example.com.\nI'm afraid I wasn't able to deliver your message to the following addresses.\n\n<gone@example.net>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 unknown user\n\n--- Below this line is a copy of the message.\n\nReturn-Path: <support@helpdesk.example>\nTo: other@example.org\n";
        let r = from_text(qmail, Some(&addr("mailer-daemon@mx.example.com")), "helpdesk.example");
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!((r[0].address.as_str(), r[0].status.as_deref()), ("gone@example.net", Some("5.1.1")));
        let exim = "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  a@example.net\n    host mx.example.net [192.0.2.2]\n    SMTP error from remote mail server after RCPT TO:<a@example.net>:\n    550 5.1.1 No such user\n  b@example.org\n    mailbox is full (5.2.2)\n";
        let r = from_text(exim, Some(&addr("mailer-daemon@mx.example.com")), "helpdesk.example");
        assert_eq!(
            r.iter().map(|x| (x.address.as_str(), x.status.as_deref())).collect::<Vec<_>>(),
            vec![("a@example.net", Some("5.1.1")), ("b@example.org", Some("5.2.2"))]
        );
    }

    #[test]
    fn the_returned_message_ids_come_from_returned_headers_text_and_references() {
        let part = |content_type: &str, bytes: &[u8]| Attachment {
            filename: None,
            display_name: String::new(),
            content_type: content_type.into(),
            size: bytes.len(),
            inline: false,
            content_id: None,
            bytes: bytes.to_vec(),
        };
        let headers = part(
            "text/rfc822-headers",
            b"From: support@helpdesk.example\r\nMessage-ID: <md.1.ab@helpdesk.example>\r\n",
        );
        let message = part(
            "message/rfc822",
            b"Message-Id:<md.2.cd@helpdesk.example>\nSubject: x\n\nMessage-ID: <not-a-header@x>\n",
        );
        let other = part("application/pdf", b"Message-ID: <md.9.ff@helpdesk.example>\n");
        let text = "--- Below this line is a copy of the message.\n\nReturn-Path: <>\nMessage-ID: <md.3.ef@helpdesk.example>\n";
        let refs = ["md.4.aa@helpdesk.example".to_string()];
        let ids = returned_ids(&[headers, message, other], text, &refs);
        assert_eq!(
            ids,
            [
                "md.1.ab@helpdesk.example",
                "md.2.cd@helpdesk.example",
                "md.3.ef@helpdesk.example",
                "md.4.aa@helpdesk.example"
            ]
        );
    }
}
