//! Turning an outbox row into a complete RFC 5322 message: the kind's templates for
//! subject, text and HTML (see [`super::templates`]), and the headers that thread it and
//! stop loops.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};

use super::templates::{TemplateProblem, Templates};
use crate::App;
use crate::notice::{Notice, NoticeKind, RelayedFile, StaffReplyData, UnknownKind};
use crate::store::OutboxRow;

/// Why a row cannot be rendered; it will not get better by retrying.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The row names a kind with no templates.
    #[error(transparent)]
    UnknownKind(#[from] UnknownKind),
    /// The payload does not fit the kind.
    #[error("bad payload: {0}")]
    Payload(#[from] serde_json::Error),
    /// A template failed.
    #[error("template {0}")]
    Template(#[from] TemplateProblem),
    /// An address or header was refused.
    #[error("message: {0}")]
    Message(String),
}

/// The whole message for `row`, ready for any transport.
pub fn render(app: &App, templates: &Templates, row: &OutboxRow) -> Result<Vec<u8>, RenderError> {
    let kind: NoticeKind = row.kind.parse()?;
    let notice = Notice::from_payload(kind, &row.payload)?;
    let config = app.config();
    let parts = templates.render(&config, &notice)?;
    let desk = &config.desk;
    let bad = |e: &dyn std::fmt::Display| RenderError::Message(e.to_string());
    // From the department's address when desk chose one, else the desk's own.
    let from_address = row.sender.as_deref().unwrap_or(desk.address.as_str());
    // A staff member's reply shows their name, never their address.
    let from_name = match &notice {
        Notice::StaffReply(StaffReplyData { author: Some(author), .. }) => format!("{author} ({})", desk.name),
        _ => desk.name.clone(),
    };
    let from = Mailbox::new(Some(from_name), from_address.parse().map_err(|e| bad(&e))?);
    let to: Mailbox = row.recipient.parse().map_err(|e| bad(&e))?;
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(parts.subject)
        .date_now()
        .message_id(Some(format!("<{}>", row.message_id)))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Loop"), desk.address.to_string()));
    if let Some(value) = kind.auto_submitted() {
        let name = HeaderName::new_from_ascii_str("Auto-Submitted");
        builder = builder.raw_header(HeaderValue::new(name, value.as_str().into()));
    }
    if let Some(ticket) = row.ticket_id {
        // Replies find their ticket by this address even when the subject tag and the
        // References are lost.
        let staff = crate::domain::EmailAddress::parse(&row.recipient).ok().filter(|_| kind.to_staff());
        let signed = match staff {
            Some(member) => app.reply_addresses.for_staff(ticket, &member),
            None => app.reply_addresses.for_ticket(ticket),
        };
        let reply_to = Mailbox::new(Some(desk.name.clone()), signed.parse().map_err(|e| bad(&e))?);
        builder = builder.reply_to(reply_to);
    }
    if let Some(id) = &row.in_reply_to {
        builder = builder.in_reply_to(format!("<{id}>"));
    }
    let refs: Vec<String> = row.refs.split_whitespace().map(|id| format!("<{id}>")).collect();
    if !refs.is_empty() {
        builder = builder.references(refs.join(" "));
    }
    let body = MultiPart::alternative_plain_html(parts.text, parts.html);
    let files: Vec<RelayedFile> = match &row.attachments {
        Some(json) => serde_json::from_str(json)?,
        None => Vec::new(),
    };
    let message = if files.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for file in files {
            let bytes = app.store.blobs.get(&file.sha256).map_err(|e| bad(&e))?.ok_or_else(|| {
                RenderError::Message(format!("attachment {} is missing from the blob store", file.sha256))
            })?;
            let content_type = ContentType::parse(&file.content_type)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("valid type"));
            mixed = mixed.singlepart(Attachment::new(file.filename).body(bytes, content_type));
        }
        builder.multipart(mixed)
    };
    Ok(message.map_err(|e| bad(&e))?.formatted())
}
