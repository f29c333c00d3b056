//! Receiving one inbound message: a new request opens a ticket, a reply becomes a comment,
//! automatic mail is recorded, a repeat changes nothing, and what cannot be processed is
//! quarantined. Each in one transaction, the fingerprint claimed first.

use tracing::{info, instrument, warn};

use super::staff::{self, StaffError};
use super::{DeskError, Origin, Outcome, notify};
use crate::App;
use crate::domain::{EmailAddress, Priority, Status, TicketNumber};
use crate::inbound::{self, Interpretation, Thread, ThreadBy};
use crate::store::{NewAttachment, NewComment, NewTicket, StoreError, Tx};

/// Applies one raw message from `source` (such as `maildir:name` or `pipe`).
///
/// Returns once the effect is committed (or the message is quarantined): only then may the
/// source let go of the message. A [`DeskError`] means nothing was changed and the message
/// must be kept for another try.
#[instrument(skip_all, fields(source = %origin.into().source, bytes = raw.len()))]
pub async fn receive<'a>(app: &App, raw: &[u8], origin: impl Into<Origin<'a>> + Copy) -> Result<Outcome, DeskError> {
    let origin: Origin<'_> = origin.into();
    let source = origin.source;
    let limit = app.config.limits.max_message_bytes;
    if raw.len() as u64 > limit {
        let reason = too_large(raw.len() as u64, limit);
        return quarantine_raw(app, raw, source, reason).await;
    }
    // Interpretation is CPU work on hostile input: keep it off the async workers.
    let (bytes, settings) = (raw.to_vec(), app.inbound.clone());
    let interpreted = tokio::task::spawn_blocking(move || inbound::interpret(&bytes, &settings)).await;
    let mail = match interpreted {
        Ok(Ok(mail)) => mail,
        Ok(Err(e)) => return quarantine_raw(app, raw, source, e.to_string()).await,
        Err(e) => return quarantine_raw(app, raw, source, format!("interpretation failed: {e}")).await,
    };
    let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
    match apply(app, &mail, &fingerprint, origin).await {
        Ok(outcome) => {
            info!(outcome = outcome.as_str(), ticket = ?ticket_of(&outcome), "message applied");
            if matches!(outcome, Outcome::Opened(_) | Outcome::Commented(_) | Outcome::Refused(_)) {
                app.outbox_wake.notify_one();
            }
            Ok(outcome)
        }
        Err(e) if e.is_temporary() => {
            warn!(error = %e, "temporary failure; message kept for another try");
            Err(DeskError::Temporary(e))
        }
        Err(e) => quarantine_raw(app, raw, source, format!("could not apply: {e}")).await,
    }
}

/// Why a message of `size` bytes is quarantined unread under `limits.max_message_bytes`.
pub(super) fn too_large(size: u64, limit: u64) -> String {
    format!("message of {size} bytes exceeds limits.max_message_bytes ({limit})")
}

fn ticket_of(outcome: &Outcome) -> Option<i64> {
    match outcome {
        Outcome::Opened(t) | Outcome::Commented(t) | Outcome::Refused(t) => Some(t.0),
        _ => None,
    }
}

/// Puts a message into the quarantine with `reason` (a source uses it when processing
/// took too long); keeps the raw bytes.
pub async fn quarantine_raw(app: &App, raw: &[u8], source: &str, reason: String) -> Result<Outcome, DeskError> {
    let sha = app.store.blobs.put(raw).map_err(|e| DeskError::Temporary(e.into()))?;
    record_quarantine(app, &sha, raw.len() as u64, source, reason).await
}

/// Puts stored raw bytes into the quarantine. Entries are keyed by the hash of the bytes,
/// never by anything read from inside them.
async fn record_quarantine(
    app: &App,
    sha: &str,
    size: u64,
    source: &str,
    reason: String,
) -> Result<Outcome, DeskError> {
    // Said before waiting for the store, which may be what is stuck.
    let reason = announce_quarantine(reason);
    let stored = async {
        let mut tx = app.store.begin().await?;
        let outcome = quarantine_in(&mut tx, sha, size, source, reason).await?;
        tx.commit().await?;
        Ok(outcome)
    };
    stored.await.map_err(DeskError::Temporary)
}

/// The reason as stored (no NUL, at most 2,000 characters), logged.
fn announce_quarantine(reason: String) -> String {
    let reason: String = reason.chars().filter(|c| *c != '\0').take(2000).collect();
    warn!(%reason, "message quarantined");
    reason
}

/// Records a quarantine entry inside `tx` (the reason already announced).
async fn quarantine_in(tx: &mut Tx, sha: &str, size: u64, source: &str, reason: String) -> Result<Outcome, StoreError> {
    tx.quarantine(&format!("sha256:{sha}"), source, &reason, sha, size as i64).await?;
    Ok(Outcome::Quarantined(reason))
}

/// A message of a batch, read and interpreted, ready to apply.
enum Prepared {
    /// A mail to apply, with its raw bytes.
    Mail(Vec<u8>, Box<Interpretation>),
    /// Raw bytes (already in the blob store) to quarantine for this reason.
    Refused { sha: String, size: u64, reason: String },
}

/// Reads and interprets the message in `file`, off the async workers. A message over
/// `limit` is streamed into the blob store unread.
fn prepare(app: &App, file: &std::path::Path, limit: u64) -> std::io::Result<Prepared> {
    let size = std::fs::metadata(file)?.len();
    if size > limit {
        let (sha, size) = app.store.blobs.put_reader(std::fs::File::open(file)?)?;
        let reason = too_large(size, limit);
        return Ok(Prepared::Refused { sha, size, reason });
    }
    let raw = std::fs::read(file)?;
    match inbound::interpret(&raw, &app.inbound) {
        Ok(mail) => {
            // The attachments' bytes now, in parallel and outside the transaction (the
            // store is content-addressed: applying finds them there).
            for a in &mail.attachments {
                app.store.blobs.put(&a.bytes)?;
            }
            Ok(Prepared::Mail(raw, Box::new(mail)))
        }
        Err(e) => {
            let sha = app.store.blobs.put(&raw)?;
            Ok(Prepared::Refused { sha, size: raw.len() as u64, reason: e.to_string() })
        }
    }
}

/// Messages read and interpreted, ready for [`apply_prepared`].
pub struct PreparedBatch(Vec<Prepared>);

/// Reads and interprets the messages in `files` in parallel, off the async workers (a
/// message over `limits.max_message_bytes` is stored unread for the quarantine). A source
/// can prepare its next batch while the current one is applied.
pub async fn prepare_files(
    app: std::sync::Arc<App>,
    files: Vec<std::path::PathBuf>,
) -> Result<PreparedBatch, DeskError> {
    let limit = app.config.limits.max_message_bytes;
    let temporary = |e: std::io::Error| DeskError::Temporary(e.into());
    let mut handles = Vec::with_capacity(files.len());
    for file in files {
        let (app, path) = (app.clone(), file.clone());
        handles.push((file, tokio::task::spawn_blocking(move || prepare(&app, &path, limit))));
    }
    let mut prepared = Vec::with_capacity(handles.len());
    for (file, handle) in handles {
        prepared.push(match handle.await {
            Ok(result) => result.map_err(temporary)?,
            // Hostile input that panicked the parser: quarantined, never retried forever.
            Err(e) if e.is_panic() => {
                let blobs = app.store.blobs.clone();
                let stored = tokio::task::spawn_blocking(move || blobs.put_reader(std::fs::File::open(file)?)).await;
                let (sha, size) = stored.map_err(|e| temporary(std::io::Error::other(e)))?.map_err(temporary)?;
                Prepared::Refused { sha, size, reason: "interpretation failed (the parser panicked)".into() }
            }
            Err(e) => return Err(temporary(std::io::Error::other(e))),
        });
    }
    Ok(PreparedBatch(prepared))
}

/// Applies a prepared batch as [`receive_file`] would one message after another, but in
/// one transaction and so with one commit: what a busy source needs. Should one message
/// fail for good, the batch is applied again one message at a time, so that only that one
/// is quarantined. Returns the outcomes in the batch's order, all committed; a
/// [`DeskError`] means nothing of the batch was changed.
pub async fn apply_prepared<'a>(
    app: &App,
    batch: &PreparedBatch,
    origin: impl Into<Origin<'a>> + Copy,
) -> Result<Vec<Outcome>, DeskError> {
    let origin: Origin<'_> = origin.into();
    let prepared = &batch.0;
    let outcomes = match apply_batch(app, prepared, origin).await {
        Ok(outcomes) => outcomes,
        Err(e) if e.is_temporary() => return Err(DeskError::Temporary(e)),
        // One message failed for good, and the batch's transaction with it: nothing of the
        // batch was committed, so apply them one at a time, each quarantined on its own.
        Err(_) => one_by_one(app, prepared, origin).await?,
    };
    for (outcome, item) in outcomes.iter().zip(prepared) {
        let bytes = match item {
            Prepared::Mail(raw, _) => raw.len() as u64,
            Prepared::Refused { size, .. } => *size,
        };
        info!(source = origin.source, bytes, outcome = outcome.as_str(), ticket = ?ticket_of(outcome), "message applied");
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Opened(_) | Outcome::Commented(_) | Outcome::Refused(_))) {
        app.outbox_wake.notify_one();
    }
    Ok(outcomes)
}

/// Applies a whole batch in one transaction and commits it. Any error leaves nothing of
/// the batch behind.
async fn apply_batch(app: &App, prepared: &[Prepared], origin: Origin<'_>) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = app.store.begin().await?;
    let mut outcomes = Vec::with_capacity(prepared.len());
    for item in prepared {
        outcomes.push(match item {
            Prepared::Refused { sha, size, reason } => {
                let reason = announce_quarantine(reason.clone());
                quarantine_in(&mut tx, sha, *size, origin.source, reason).await?
            }
            Prepared::Mail(raw, mail) => {
                let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
                apply_in(app, &mut tx, mail, &fingerprint, origin).await?
            }
        });
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Applies a batch one message at a time, each in its own transaction, quarantining the
/// ones that fail for good (the slow path, after a batch failed).
async fn one_by_one(app: &App, prepared: &[Prepared], origin: Origin<'_>) -> Result<Vec<Outcome>, DeskError> {
    let mut outcomes = Vec::with_capacity(prepared.len());
    for item in prepared {
        outcomes.push(match item {
            Prepared::Refused { sha, size, reason } => {
                record_quarantine(app, sha, *size, origin.source, reason.clone()).await?
            }
            Prepared::Mail(raw, mail) => {
                let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
                match apply(app, mail, &fingerprint, origin).await {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_temporary() => return Err(DeskError::Temporary(e)),
                    Err(e) => quarantine_raw(app, raw, origin.source, format!("could not apply: {e}")).await?,
                }
            }
        });
    }
    Ok(outcomes)
}

/// Applies the message in `file` like [`receive`], but quarantines a file larger than
/// `limits.max_message_bytes` without reading it into memory.
pub async fn receive_file<'a>(
    app: &App,
    file: &std::path::Path,
    origin: impl Into<Origin<'a>> + Copy,
) -> Result<Outcome, DeskError> {
    let source = origin.into().source;
    let temporary = |e: std::io::Error| DeskError::Temporary(e.into());
    let size = tokio::fs::metadata(file).await.map_err(temporary)?.len();
    let limit = app.config.limits.max_message_bytes;
    if size <= limit {
        let raw = tokio::fs::read(file).await.map_err(temporary)?;
        return receive(app, &raw, origin).await;
    }
    let (blobs, path) = (app.store.blobs.clone(), file.to_path_buf());
    let stored = tokio::task::spawn_blocking(move || blobs.put_reader(std::fs::File::open(path)?)).await;
    let (sha, size) = stored.map_err(|e| temporary(std::io::Error::other(e)))?.map_err(temporary)?;
    let reason = too_large(size, limit);
    record_quarantine(app, &sha, size, source, reason).await
}

async fn apply(app: &App, mail: &Interpretation, fingerprint: &str, origin: Origin<'_>) -> Result<Outcome, StoreError> {
    let mut tx = app.store.begin().await?;
    let outcome = apply_in(app, &mut tx, mail, fingerprint, origin).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Applies one interpreted message inside `tx`, which the caller commits: the fingerprint
/// claimed first (a repeat writes nothing), then its effect and its notifications.
async fn apply_in(
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
