//! Turning an outbox row into a complete RFC 5322 message: askama templates for subject,
//! text and HTML, and the headers that thread it and stop loops.

use askama::Template;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};

use crate::App;
use crate::notice::{
    AcknowledgementData, CommandErrorData, InviteData, NoticeKind, ParticipantsData, RelayedFile, StaffNoticeData,
    StaffReplyData, StatusData,
};
use crate::store::OutboxRow;

/// Why a row cannot be rendered; it will not get better by retrying.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The row names a kind with no templates.
    #[error("no templates for notification kind {0:?}")]
    UnknownKind(String),
    /// The payload does not fit the kind.
    #[error("bad payload: {0}")]
    Payload(#[from] serde_json::Error),
    /// A template failed.
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    /// An address or header was refused.
    #[error("message: {0}")]
    Message(String),
}

#[derive(Template)]
#[template(path = "mail/acknowledgement/subject.txt")]
struct AckSubject<'a> {
    tag: &'a str,
    ticket: i64,
    data: &'a AcknowledgementData,
}

#[derive(Template)]
#[template(path = "mail/acknowledgement/body.txt")]
struct AckText<'a> {
    desk_name: &'a str,
    tag: &'a str,
    ticket: i64,
    data: &'a AcknowledgementData,
    summary_quoted: String,
}

#[derive(Template)]
#[template(path = "mail/acknowledgement/body.html")]
struct AckHtml<'a> {
    desk_name: &'a str,
    tag: &'a str,
    ticket: i64,
    subject: &'a str,
    data: &'a AcknowledgementData,
}

#[derive(Template)]
#[template(path = "mail/invite/subject.txt")]
struct InviteSubject<'a> {
    tag: &'a str,
    ticket: i64,
}

#[derive(Template)]
#[template(path = "mail/invite/body.txt")]
struct InviteText<'a> {
    desk_name: &'a str,
    tag: &'a str,
    ticket: i64,
    data: &'a InviteData,
    link: &'a str,
    days: u64,
}

#[derive(Template)]
#[template(path = "mail/invite/body.html")]
struct InviteHtml<'a> {
    desk_name: &'a str,
    tag: &'a str,
    ticket: i64,
    subject: &'a str,
    data: &'a InviteData,
    link: &'a str,
    days: u64,
}

/// The subject, text and HTML templates of a kind whose templates take only the ticket
/// and one data struct.
macro_rules! kind_templates {
    ($data:ty, $subject:ident, $text:ident, $html:ident, $subject_path:literal, $text_path:literal, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $subject_path)]
        struct $subject<'a> {
            tag: &'a str,
            ticket: i64,
            data: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            desk_name: &'a str,
            tag: &'a str,
            ticket: i64,
            data: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            desk_name: &'a str,
            tag: &'a str,
            ticket: i64,
            subject: &'a str,
            data: &'a $data,
        }
    };
}

kind_templates!(
    StaffReplyData,
    StaffSubject,
    StaffText,
    StaffHtml,
    "mail/staff-reply/subject.txt",
    "mail/staff-reply/body.txt",
    "mail/staff-reply/body.html"
);
kind_templates!(
    StatusData,
    ChangeSubject,
    ChangeText,
    ChangeHtml,
    "mail/status-change/subject.txt",
    "mail/status-change/body.txt",
    "mail/status-change/body.html"
);
kind_templates!(
    StatusData,
    ResolvedSubject,
    ResolvedText,
    ResolvedHtml,
    "mail/resolved/subject.txt",
    "mail/resolved/body.txt",
    "mail/resolved/body.html"
);
kind_templates!(
    StatusData,
    ReopenedSubject,
    ReopenedText,
    ReopenedHtml,
    "mail/reopened/subject.txt",
    "mail/reopened/body.txt",
    "mail/reopened/body.html"
);
kind_templates!(
    StaffNoticeData,
    NewTicketSubject,
    NewTicketText,
    NewTicketHtml,
    "mail/staff-new-ticket/subject.txt",
    "mail/staff-new-ticket/body.txt",
    "mail/staff-new-ticket/body.html"
);
kind_templates!(
    StaffNoticeData,
    CustomerReplySubject,
    CustomerReplyText,
    CustomerReplyHtml,
    "mail/staff-customer-reply/subject.txt",
    "mail/staff-customer-reply/body.txt",
    "mail/staff-customer-reply/body.html"
);

kind_templates!(
    StatusData,
    AutoClosedSubject,
    AutoClosedText,
    AutoClosedHtml,
    "mail/auto-closed/subject.txt",
    "mail/auto-closed/body.txt",
    "mail/auto-closed/body.html"
);
kind_templates!(
    StaffNoticeData,
    AssignedSubject,
    AssignedText,
    AssignedHtml,
    "mail/staff-assigned/subject.txt",
    "mail/staff-assigned/body.txt",
    "mail/staff-assigned/body.html"
);
kind_templates!(
    CommandErrorData,
    CommandErrorSubject,
    CommandErrorText,
    CommandErrorHtml,
    "mail/command-error/subject.txt",
    "mail/command-error/body.txt",
    "mail/command-error/body.html"
);
kind_templates!(
    CommandErrorData,
    UndeliveredSubject,
    UndeliveredText,
    UndeliveredHtml,
    "mail/undelivered/subject.txt",
    "mail/undelivered/body.txt",
    "mail/undelivered/body.html"
);
kind_templates!(
    ParticipantsData,
    ParticipantsSubject,
    ParticipantsText,
    ParticipantsHtml,
    "mail/participant-added/subject.txt",
    "mail/participant-added/body.txt",
    "mail/participant-added/body.html"
);

/// Renders a kind declared with [`kind_templates`] from the row's payload.
macro_rules! render_kind {
    ($desk:expr, $payload:expr, $data:ty, $subject:ident, $text:ident, $html:ident, $auto:expr) => {{
        let desk: &crate::config::DeskConfig = $desk;
        let data: $data = serde_json::from_str($payload)?;
        let (tag, ticket, data) = (desk.tag.as_str(), data.ticket, &data);
        let subject = $subject { tag, ticket, data }.render()?.trim().to_string();
        let text = $text { desk_name: &desk.name, tag, ticket, data }.render()?;
        let html = $html { desk_name: &desk.name, tag, ticket, subject: &subject, data }.render()?;
        Ok(Rendered { subject, text, html, auto_submitted: $auto, author: None })
    }};
}

/// Subject, text body and HTML body of a notification, and its `Auto-Submitted` value
/// (none for mail a person wrote).
struct Rendered {
    subject: String,
    text: String,
    html: String,
    auto_submitted: Option<&'static str>,
    /// The person who wrote it, shown in From beside the desk's name.
    author: Option<String>,
}

fn render_parts(app: &App, row: &OutboxRow) -> Result<Rendered, RenderError> {
    let desk = &app.config.desk;
    match row.kind.as_str() {
        "acknowledgement" => {
            let data: AcknowledgementData = serde_json::from_str(&row.payload)?;
            let subject = AckSubject { tag: &desk.tag, ticket: data.ticket, data: &data }.render()?;
            let subject = subject.trim().to_string();
            let summary_quoted = data.summary.lines().map(|l| format!("> {l}")).collect::<Vec<_>>().join("\n");
            let text =
                AckText { desk_name: &desk.name, tag: &desk.tag, ticket: data.ticket, data: &data, summary_quoted }
                    .render()?;
            let html =
                AckHtml { desk_name: &desk.name, tag: &desk.tag, ticket: data.ticket, subject: &subject, data: &data }
                    .render()?;
            Ok(Rendered { subject, text, html, auto_submitted: Some("auto-replied"), author: None })
        }
        "invite" => {
            let data: InviteData = serde_json::from_str(&row.payload)?;
            let token = data.token.as_deref().ok_or_else(|| RenderError::Message("invite without a token".into()))?;
            let link = format!("{}/signup?token={token}", app.config.portal.base_url.trim_end_matches('/'));
            let (tag, ticket, days) = (desk.tag.as_str(), data.ticket, app.config.portal.invite_days);
            let subject = InviteSubject { tag, ticket }.render()?.trim().to_string();
            let text = InviteText { desk_name: &desk.name, tag, ticket, data: &data, link: &link, days }.render()?;
            let html =
                InviteHtml { desk_name: &desk.name, tag, ticket, subject: &subject, data: &data, link: &link, days }
                    .render()?;
            Ok(Rendered { subject, text, html, auto_submitted: Some("auto-replied"), author: None })
        }
        "staff-reply" => {
            let author = serde_json::from_str::<StaffReplyData>(&row.payload)?.author;
            let rendered: Result<Rendered, RenderError> =
                render_kind!(desk, &row.payload, StaffReplyData, StaffSubject, StaffText, StaffHtml, None);
            rendered.map(|r| Rendered { author, ..r })
        }
        "auto-closed" => render_kind!(
            desk,
            &row.payload,
            StatusData,
            AutoClosedSubject,
            AutoClosedText,
            AutoClosedHtml,
            Some("auto-generated")
        ),
        "staff-assigned" => render_kind!(
            desk,
            &row.payload,
            StaffNoticeData,
            AssignedSubject,
            AssignedText,
            AssignedHtml,
            Some("auto-generated")
        ),
        "command-error" => render_kind!(
            desk,
            &row.payload,
            CommandErrorData,
            CommandErrorSubject,
            CommandErrorText,
            CommandErrorHtml,
            Some("auto-replied")
        ),
        "undelivered" => render_kind!(
            desk,
            &row.payload,
            CommandErrorData,
            UndeliveredSubject,
            UndeliveredText,
            UndeliveredHtml,
            Some("auto-generated")
        ),
        "participant-added" => render_kind!(
            desk,
            &row.payload,
            ParticipantsData,
            ParticipantsSubject,
            ParticipantsText,
            ParticipantsHtml,
            Some("auto-generated")
        ),
        "status-change" => {
            render_kind!(desk, &row.payload, StatusData, ChangeSubject, ChangeText, ChangeHtml, Some("auto-generated"))
        }
        "resolved" => render_kind!(
            desk,
            &row.payload,
            StatusData,
            ResolvedSubject,
            ResolvedText,
            ResolvedHtml,
            Some("auto-generated")
        ),
        "reopened" => render_kind!(
            desk,
            &row.payload,
            StatusData,
            ReopenedSubject,
            ReopenedText,
            ReopenedHtml,
            Some("auto-generated")
        ),
        "staff-new-ticket" => render_kind!(
            desk,
            &row.payload,
            StaffNoticeData,
            NewTicketSubject,
            NewTicketText,
            NewTicketHtml,
            Some("auto-generated")
        ),
        "staff-customer-reply" => render_kind!(
            desk,
            &row.payload,
            StaffNoticeData,
            CustomerReplySubject,
            CustomerReplyText,
            CustomerReplyHtml,
            Some("auto-generated")
        ),
        other => Err(RenderError::UnknownKind(other.to_string())),
    }
}

/// The built-in layouts, for overrides that extend them.
const LAYOUTS: &[(&str, &str)] = &[
    ("mail/layout.txt", include_str!("../../templates/mail/layout.txt")),
    ("mail/layout.html", include_str!("../../templates/mail/layout.html")),
];

/// Replaces the parts of `parts` that the admin overrode in `outbox.templates_dir`.
fn apply_overrides(app: &App, row: &OutboxRow, parts: &mut Rendered) -> Result<(), RenderError> {
    let Some(dir) = app.config.outbox.templates_dir.clone() else { return Ok(()) };
    let kind_dir = dir.join("mail").join(&row.kind);
    if !kind_dir.is_dir() {
        return Ok(());
    }
    let mut env = minijinja::Environment::new();
    env.set_loader(move |name| {
        if name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Ok(None);
        }
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Ok(LAYOUTS.iter().find(|(n, _)| *n == name).map(|(_, text)| text.to_string())),
        }
    });
    let data: serde_json::Value = serde_json::from_str(&row.payload)?;
    let desk = &app.config.desk;
    let mut context = serde_json::json!({
        "tag": desk.tag, "desk_name": desk.name, "ticket": data["ticket"], "data": data, "subject": parts.subject,
    });
    if let Some(token) = data["token"].as_str() {
        context["link"] = format!("{}/signup?token={token}", app.config.portal.base_url.trim_end_matches('/')).into();
        context["days"] = app.config.portal.invite_days.into();
    }
    let template_error = |e: minijinja::Error| RenderError::Message(format!("template override: {e}"));
    for (file, part) in [("subject.txt", 0), ("body.txt", 1), ("body.html", 2)] {
        let name = format!("mail/{}/{file}", row.kind);
        if !kind_dir.join(file).is_file() {
            continue;
        }
        let rendered = env.get_template(&name).and_then(|t| t.render(&context)).map_err(template_error)?;
        match part {
            0 => {
                parts.subject = rendered.trim().to_string();
                context["subject"] = parts.subject.clone().into();
            }
            1 => parts.text = rendered,
            _ => parts.html = rendered,
        }
    }
    Ok(())
}

/// The whole message for `row`, ready for any transport.
pub fn render(app: &App, row: &OutboxRow) -> Result<Vec<u8>, RenderError> {
    let mut parts = render_parts(app, row)?;
    apply_overrides(app, row, &mut parts)?;
    let desk = &app.config.desk;
    let bad = |e: &dyn std::fmt::Display| RenderError::Message(e.to_string());
    // From the department's address when desk chose one, else the desk's own.
    let from_address = row.sender.as_deref().unwrap_or(desk.address.as_str());
    // A staff member's reply shows their name, never their address.
    let from_name = match &parts.author {
        Some(author) => format!("{author} ({})", desk.name),
        None => desk.name.clone(),
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
    if let Some(value) = parts.auto_submitted {
        builder = builder.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), value.into()));
    }
    if let Some(ticket) = row.ticket_id {
        // Replies find their ticket by this address even when the subject tag and the
        // References are lost.
        let ticket = crate::domain::TicketNumber(ticket);
        let staff = crate::domain::EmailAddress::parse(&row.recipient)
            .ok()
            .filter(|_| row.kind.parse::<NoticeKind>().is_ok_and(NoticeKind::to_staff));
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
