//! What one interpreted message does: a new request opens a ticket, a reply becomes a
//! comment, automatic mail is recorded, a repeat changes nothing. Each in the caller's
//! transaction, the fingerprint claimed first.

use super::staff::{self, StaffError};
use super::{Origin, Outcome, notify};
use crate::App;
use crate::domain::{EmailAddress, Priority, Status, TicketNumber};
use crate::inbound::{self, Interpretation, Thread, ThreadBy};
use crate::store::{NewAttachment, NewComment, NewTicket, StoreError, Tx};

pub(super) async fn apply(
    app: &App,
    mail: &Interpretation,
    fingerprint: &str,
    origin: Origin<'_>,
) -> Result<Outcome, StoreError> {
    let mut tx = app.store.begin().await?;
    let outcome = apply_in(app, &mut tx, mail, fingerprint, origin).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Applies one interpreted message inside `tx`, which the caller commits: the fingerprint
/// claimed first (a repeat writes nothing), then its effect and its notifications.
pub(super) async fn apply_in(
    app: &App,
    tx: &mut Tx,
    mail: &Interpretation,
    fingerprint: &str,
    origin: Origin<'_>,
) -> Result<Outcome, StoreError> {
    let source = origin.source;
    // Blobs first: content-addressed and idempotent, so a rollback leaves no harm.
    let mut blobs = Vec::with_capacity(mail.attachments.len());
    for a in &mail.attachments {
        blobs.push(app.store.blobs.put(&a.bytes)?);
    }
    if !tx.claim_fingerprint(fingerprint, mail.message_id.as_deref(), source).await? {
        return Ok(Outcome::Duplicate);
    }
    if let Some(kind) = mail.auto {
        // A bounce that names recipients who failed for good: never mail them automatically.
        let failed = mail.bounce.iter().flat_map(|b| &b.recipients).filter(|r| r.action == "failed");
        for recipient in failed.filter(|r| r.status.as_deref().is_none_or(|s| s.starts_with('5'))) {
            let reason = format!("bounce report, status {}", recipient.status.as_deref().unwrap_or("unknown"));
            tx.mark_bouncing(recipient.address.as_str(), &reason).await?;
        }
        tx.set_outcome(fingerprint, kind.as_str(), None).await?;
        return Ok(Outcome::Automatic(kind));
    }
    let by_references = tx.ticket_for_message_ids(&mail.referenced_ids()).await?;
    // Mail to a reply address of ours whose signature does not match follows nothing: it
    // opens a ticket of its own, with a note (a forwarded staff notice answered by someone
    // else, say, never becomes a customer's comment on the original).
    let thread = match mail.forged_reference {
        Some(_) => Thread::resolve(None, None, None),
        None => Thread::resolve(mail.reply_address_ticket(), by_references, mail.subject_tag(&app.inbound)),
    };
    // The ticket, with its status and when that last changed, if it exists.
    let existing = match thread.ticket {
        Some(t) => tx.ticket_status(t).await?.map(|status| (t, status)),
        None => None,
    };
    // A staff member answering through their own signed reply address: commands and a
    // reply, relayed. From anyone else, or any other way, it is a customer's mail.
    if let Some((t, _)) = existing.as_ref().filter(|_| mail.staff_reply_address).cloned()
        && staff::is_staff(app, tx, &mail.from.address).await?
    {
        let outcome = from_staff(app, tx, t, mail, &blobs).await?;
        tx.set_outcome(fingerprint, outcome.as_str(), Some(t)).await?;
        return Ok(outcome);
    }
    // A staff reply address signed for this sender who is staff no more: kept for staff as
    // an internal note, never a customer's word on the ticket.
    if let Some((t, _)) = existing.as_ref().filter(|_| mail.staff_reply_address).cloned() {
        let note =
            format!("{} (no longer staff) wrote through a staff reply address:\n\n{}", mail.from.address, mail.reply);
        internal_note(tx, t, &note).await?;
        tx.set_outcome(fingerprint, Outcome::Commented(t).as_str(), Some(t)).await?;
        return Ok(Outcome::Commented(t));
    }
    let author = contact(app, tx, &mail.from.address, mail.from.name.as_deref().unwrap_or_default()).await?;
    // A subject tag is easy to copy: it files mail only for those already on the ticket.
    // A stranger's mail with a copied tag opens a ticket of its own.
    let existing = match (existing, thread.by) {
        (Some((t, _)), Some(ThreadBy::SubjectTag)) if !tx.is_participant(t, author).await? => None,
        (existing, _) => existing,
    };
    // A reply to a finished ticket reopens it within the window, else starts a new one.
    let (mut reopen, mut follows_up) = (None, None);
    let existing = match existing {
        Some((t, (status, changed))) if Status::parse(&status).is_ok_and(|s| !s.is_active()) => {
            let window = i64::try_from(app.config.desk.reopen_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
            if crate::store::now().saturating_sub(changed) <= window {
                reopen = Some(t);
                Some(t)
            } else {
                follows_up = Some(t);
                None
            }
        }
        Some((t, _)) => Some(t),
        None => None,
    };
    let (ticket, outcome) = match existing {
        Some(t) => {
            // Latest activity, the customer's wait starts (unless it runs), and a ticket
            // waiting on them is open again: one statement.
            tx.customer_wrote(t).await?;
            (t, Outcome::Commented(t))
        }
        None => {
            let organisation_id = match app.config.organisations.is_empty() {
                true => None,
                false => tx.contact_organisation(author).await?,
            };
            let assignee = route(app, tx, origin.department).await?;
            let t = tx
                .insert_ticket(&NewTicket {
                    subject: &inbound::clean_subject(&mail.subject),
                    requester_id: author,
                    organisation_id,
                    status: Status::Open,
                    priority: Priority::Medium,
                    department: origin.department,
                    assignee: assignee.as_deref(),
                })
                .await?;
            tx.add_participant(t, author, "requester").await?;
            (t, Outcome::Opened(t))
        }
    };
    // Only someone on the ticket may bring others onto it (IN11); the requester of a new
    // ticket is on it.
    if !mail.cc.is_empty() && (matches!(outcome, Outcome::Opened(_)) || tx.is_participant(ticket, author).await?) {
        add_cc_participants(app, tx, ticket, mail).await?;
    }
    let comment_id = tx
        .insert_comment(&NewComment {
            ticket,
            author_id: Some(author),
            public: true,
            body_text: &mail.text,
            body_reply: &mail.reply,
            body_html: mail.html.as_deref(),
            message_id: mail.message_id.as_deref(),
        })
        .await?;
    for a in new_attachments(mail, &blobs) {
        tx.insert_attachment(comment_id, &a).await?;
    }
    if let Some(t) = reopen {
        tx.set_ticket_status(t, Status::Open).await?;
        let subject = tx.ticket_subject(t).await?.unwrap_or_default();
        notify::status_change(app, tx, t, &subject, "reopened", Status::Open).await?;
    }
    if let (Outcome::Opened(_), Some(old)) = (&outcome, follows_up) {
        tx.set_follows_up(ticket, old).await?;
        let note = format!(
            "This mail answers ticket #{old}, which was finished more than {} days ago.",
            app.config.desk.reopen_days
        );
        internal_note(tx, ticket, &note).await?;
    }
    if let (Outcome::Opened(_), Some(forged)) = (&outcome, mail.forged_reference) {
        let note = format!(
            "This mail was sent to a reply address of ticket #{forged} whose signature does not match, so it was not added there."
        );
        internal_note(tx, ticket, &note).await?;
    }
    if let Some(id) = &mail.message_id {
        tx.add_thread_id(id, ticket).await?;
    }
    let ours = app.config.own_addresses();
    if matches!(outcome, Outcome::Opened(_)) && !ours.contains(&&mail.from.address) {
        notify::welcome(app, tx, ticket, author, mail).await?;
    }
    match outcome {
        Outcome::Opened(_) => {
            notify::staff_notice(app, tx, ticket, "staff-new-ticket", mail).await?;
        }
        Outcome::Commented(_) => {
            notify::staff_notice(app, tx, ticket, "staff-customer-reply", mail).await?;
        }
        _ => {}
    }
    tx.set_outcome(fingerprint, outcome.as_str(), Some(ticket)).await?;
    Ok(outcome)
}

/// Applies a staff member's mail that came through their own reply address: the commands
/// at its top and its text, all or nothing. What does not fit is refused with a mail to
/// them saying why, and nothing of it is applied.
async fn from_staff(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    mail: &Interpretation,
    blobs: &[String],
) -> Result<Outcome, StoreError> {
    let split = inbound::split_commands(&mail.reply);
    let attachments = new_attachments(mail, blobs);
    let act = staff::Act {
        commands: split.commands,
        body: &split.body,
        message_id: mail.message_id.as_deref(),
        display_name: mail.from.name.as_deref(),
        attachments: &attachments,
    };
    let problems = if split.problems.is_empty() {
        match staff::apply(app, tx, ticket, &mail.from.address, &act).await {
            Ok(_) => {
                if let Some(id) = &mail.message_id {
                    tx.add_thread_id(id, ticket).await?;
                }
                return Ok(Outcome::Commented(ticket));
            }
            Err(StaffError::Store(e)) => return Err(e),
            Err(StaffError::Invalid(problems)) => problems,
            Err(e) => vec![e.to_string()],
        }
    } else {
        split.problems
    };
    notify::command_error(app, tx, ticket, mail, &problems).await?;
    Ok(Outcome::Refused(ticket))
}

/// The attachments of `mail` as stored, beside their blob names.
fn new_attachments<'m>(mail: &'m Interpretation, blobs: &'m [String]) -> Vec<NewAttachment<'m>> {
    mail.attachments
        .iter()
        .zip(blobs)
        .map(|(a, sha)| NewAttachment {
            filename: &a.filename,
            content_type: &a.content_type,
            size: a.size as i64,
            sha256: sha,
            inline: a.inline,
            content_id: a.content_id.as_deref(),
        })
        .collect()
}

/// Who a new ticket of `department` is assigned to, by the department's `assign` rule.
async fn route(app: &App, tx: &mut Tx, department: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(d) = department.and_then(|d| app.config.department(d)) else { return Ok(None) };
    match d.assign.trim() {
        "" => Ok(None),
        "round-robin" => {
            let last = tx.last_assignee(&d.name).await?;
            let at = last.and_then(|l| d.staff.iter().position(|s| s.as_str() == l));
            let next = at.map_or(0, |i| (i + 1) % d.staff.len());
            Ok(d.staff.get(next).map(|a| a.to_string()))
        }
        address => Ok(Some(address.to_lowercase())),
    }
}

/// Adds a note only staff see.
async fn internal_note(tx: &mut Tx, ticket: TicketNumber, note: &str) -> Result<(), StoreError> {
    let comment = NewComment {
        ticket,
        author_id: None,
        public: false,
        body_text: note,
        body_reply: note,
        body_html: None,
        message_id: None,
    };
    tx.insert_comment(&comment).await.map(|_| ())
}

/// The contact for `address`, created when unknown, in the organisation its domain is
/// mapped to.
async fn contact(app: &App, tx: &mut Tx, address: &EmailAddress, name: &str) -> Result<i64, StoreError> {
    let organisation = match app.config.organisation_for(address.domain()) {
        Some(org) => Some(tx.upsert_organisation(&org.name).await?),
        None => None,
    };
    tx.upsert_contact(address, name, organisation).await
}

/// Customers in Cc become participants (IN11); our own address never does.
async fn add_cc_participants(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    mail: &Interpretation,
) -> Result<(), StoreError> {
    let ours = app.config.own_addresses();
    let others = mail.cc.iter().filter(|a| !ours.contains(a) && **a != mail.from.address);
    for address in others.take(20) {
        let id = contact(app, tx, address, "").await?;
        tx.add_participant(ticket, id, "cc").await?;
    }
    Ok(())
}
