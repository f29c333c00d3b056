//! Amazon SES notifications sent as mail: SES (directly, or through an SNS topic with an
//! e-mail subscription) reports a bounce, a complaint or a delivery as a JSON document in
//! the body, without any delivery-status part. Read here with serde_json; anything that is
//! not such a document is `None`.

use serde_json::Value;

use super::FailedRecipient;
use crate::domain::EmailAddress;

/// What an SES notification reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Notification {
    /// Mail could not be delivered to these recipients (`notificationType: Bounce`).
    Bounce {
        /// The bounced recipients, with their status and action.
        recipients: Vec<FailedRecipient>,
        /// The Message-ID of the mail that bounced, when the notification carries its headers.
        returned_id: Option<String>,
    },
    /// A recipient marked the mail as spam (`Complaint`).
    Complaint,
    /// The mail was delivered (`Delivery`): a receipt.
    Delivery,
}

/// The notification a message carries: in its text, else in a JSON part (SES event
/// publishing may send `application/json`, which is not a body).
pub(super) fn in_message(text: &str, attachments: &[super::Attachment]) -> Option<Notification> {
    notification(text).or_else(|| {
        let part = attachments.iter().find(|a| a.content_type == "application/json" && a.bytes.len() <= MAX_BYTES)?;
        notification(std::str::from_utf8(&part.bytes).ok()?)
    })
}

/// A body larger than this is not read as a notification (SES's are a few KiB).
const MAX_BYTES: usize = 256 * 1024;
/// At most this many recipients are read from one notification.
const MAX_RECIPIENTS: usize = 100;

/// The SES notification `text` holds, if it is one: a JSON object (anything after it, such
/// as SNS's footer, is ignored) whose `notificationType` (or `eventType`, for event
/// publishing) is Bounce, Complaint or Delivery — directly, or as the `Message` string of
/// an SNS envelope.
pub(super) fn notification(text: &str) -> Option<Notification> {
    let text = text.trim();
    if !text.starts_with('{') || text.len() > MAX_BYTES {
        return None;
    }
    // SNS adds an unsubscribe footer below the document: only the first value is read.
    let mut value: Value = serde_json::Deserializer::from_str(text).into_iter::<Value>().next()?.ok()?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = value.get("Message").and_then(Value::as_str)
    {
        value = serde_json::from_str(inner.trim()).ok()?;
    }
    let kind = value.get("notificationType").or_else(|| value.get("eventType")).and_then(Value::as_str)?;
    match kind {
        "Bounce" => Some(bounce(&value)),
        "Complaint" => Some(Notification::Complaint),
        "Delivery" => Some(Notification::Delivery),
        _ => None,
    }
}

fn bounce(value: &Value) -> Notification {
    let report = &value["bounce"];
    // A transient bounce (a full mailbox, a soft failure) is SES giving up for now.
    let transient = report["bounceType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("transient"));
    let listed = report["bouncedRecipients"].as_array().map(Vec::as_slice).unwrap_or_default();
    let recipients = listed
        .iter()
        .take(MAX_RECIPIENTS)
        .filter_map(|r| {
            let address = EmailAddress::parse(r["emailAddress"].as_str()?).ok()?;
            let status = r["status"].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            let action = match r["action"].as_str() {
                Some(a) if !a.trim().is_empty() => a.trim().to_ascii_lowercase(),
                _ if transient => "delayed".into(),
                _ => "failed".into(),
            };
            Some(FailedRecipient { address, status, action })
        })
        .collect();
    let mail = &value["mail"];
    let header_id = mail["headers"].as_array().and_then(|headers| {
        headers.iter().find_map(|h| {
            let name = h["name"].as_str()?;
            name.eq_ignore_ascii_case("message-id").then(|| h["value"].as_str()).flatten()
        })
    });
    let returned_id = header_id
        .or_else(|| mail["commonHeaders"]["messageId"].as_str())
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_string())
        .filter(|id| id.contains('@'));
    Notification::Bounce { recipients, returned_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNCE: &str = r#"{"notificationType":"Bounce","bounce":{"feedbackId":"0100-abc","bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"gone@example.net","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-11-30T10:00:00.000Z","reportingMTA":"dsn; a8-70.smtp-out.amazonses.com"},"mail":{"timestamp":"2026-11-30T09:59:59.000Z","source":"support@helpdesk.example","messageId":"0100-def","destination":["gone@example.net"],"headersTruncated":false,"headers":[{"name":"Message-ID","value":"<md.12.3.ab@helpdesk.example>"}],"commonHeaders":{"messageId":"<md.12.3.ab@helpdesk.example>"}}}"#;

    #[test]
    fn a_bounce_gives_its_recipients_and_the_returned_message_id() {
        let Some(Notification::Bounce { recipients, returned_id }) = notification(BOUNCE) else { panic!() };
        assert_eq!(recipients.len(), 1);
        assert_eq!(
            (recipients[0].address.as_str(), recipients[0].status.as_deref(), recipients[0].action.as_str()),
            ("gone@example.net", Some("5.1.1"), "failed")
        );
        assert_eq!(returned_id.as_deref(), Some("md.12.3.ab@helpdesk.example"));
    }

    #[test]
    fn an_sns_envelope_and_event_publishing_are_read_too() {
        let envelope = serde_json::json!({"Type": "Notification", "MessageId": "x", "Message": BOUNCE}).to_string();
        assert!(matches!(notification(&envelope), Some(Notification::Bounce { .. })));
        let transient = r#"{"eventType":"Bounce","bounce":{"bounceType":"Transient","bouncedRecipients":[{"emailAddress":"full@example.org"}]},"mail":{}}"#;
        let Some(Notification::Bounce { recipients, .. }) = notification(transient) else { panic!() };
        assert_eq!(recipients[0].action, "delayed");
        assert_eq!(notification(r#"{"notificationType":"Complaint","complaint":{}}"#), Some(Notification::Complaint));
        assert_eq!(notification(r#"{"notificationType":"Delivery"}"#), Some(Notification::Delivery));
    }

    #[test]
    fn a_footer_after_the_document_is_ignored() {
        let text =
            format!("{BOUNCE}\n\n--\nIf you wish to stop receiving notifications from this topic, click below.\n");
        assert!(matches!(notification(&text), Some(Notification::Bounce { .. })));
    }

    #[test]
    fn other_text_and_other_json_are_not_notifications() {
        for text in ["Hello, my printer is broken.", "{not json", r#"{"notificationType":"Other"}"#, "[1,2]", ""] {
            assert_eq!(notification(text), None, "{text}");
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(notification(&format!("{{\"a\":{deep}}}")), None, "too deep for serde_json: refused, no panic");
    }
}
