//! Rows of the ticket world: organisations, contacts, tickets, participants, comments and
//! attachment metadata.

use super::{Conn, Result, on_conn};
use crate::domain::{CommentId, ContactId, EmailAddress, OrganisationId, Priority, Role, Status, TicketNumber};

/// What a new ticket starts with.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    /// The subject, without reply prefixes or tags.
    pub subject: &'a str,
    /// The contact who asked.
    pub requester_id: ContactId,
    /// The requester's organisation, if mapped.
    pub organisation_id: Option<OrganisationId>,
    /// Initial status.
    pub status: Status,
    /// Initial priority.
    pub priority: Priority,
    /// The department it belongs to, if known.
    pub department: Option<&'a str>,
    /// The staff member it is assigned to, if any.
    pub assignee: Option<&'a str>,
}

/// A comment to add to a ticket.
#[derive(Debug, Clone)]
pub struct NewComment<'a> {
    /// The ticket it belongs to.
    pub ticket: TicketNumber,
    /// Who wrote it, when known.
    pub author_id: Option<ContactId>,
    /// Whether the customer sees it.
    pub public: bool,
    /// Whether our side wrote it (a staff member or the desk).
    pub from_staff: bool,
    /// The whole plain text.
    pub body_text: &'a str,
    /// The new text only.
    pub body_reply: &'a str,
    /// Sanitised HTML, when there was some.
    pub body_html: Option<&'a str>,
    /// The Message-ID of the mail it came from.
    pub message_id: Option<&'a str>,
}

/// Metadata of an attachment whose bytes are already in the blob store.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    /// File name as the sender gave it (or a made-up one).
    pub filename: &'a str,
    /// MIME type.
    pub content_type: &'a str,
    /// Size in bytes.
    pub size: i64,
    /// Blob name.
    pub sha256: &'a str,
    /// Whether it was shown inside the message rather than attached.
    pub inline: bool,
    /// Its Content-ID, for `cid:` references.
    pub content_id: Option<&'a str>,
}

/// A ticket as lists and detail views show it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct TicketRow {
    /// The ticket number.
    pub id: TicketNumber,
    /// Its subject.
    pub subject: String,
    /// Its status.
    pub status: Status,
    /// Its priority.
    pub priority: Priority,
    /// The requester's address.
    pub requester_email: String,
    /// The requester's name (may be empty).
    pub requester_name: String,
    /// The organisation's name, if any.
    pub organisation: Option<String>,
    /// The organisation, if any.
    pub organisation_id: Option<OrganisationId>,
    /// The department, if any.
    pub department: Option<String>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
    /// Number of comments, internal notes included.
    pub comment_count: i64,
    /// Number of public comments.
    pub public_comment_count: i64,
    /// The staff member it is assigned to.
    pub assignee: Option<String>,
    /// When the status last changed, Unix seconds.
    pub status_changed_at: Option<i64>,
    /// Since when a customer has waited for an answer, Unix seconds; none when answered.
    pub awaiting_since: Option<i64>,
    /// The older ticket this one follows up.
    pub follows_up: Option<TicketNumber>,
}

/// What desk needs to know of a ticket to change it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketState {
    /// Its subject.
    pub subject: String,
    /// Its status.
    pub status: Status,
    /// Its priority.
    pub priority: Priority,
    /// Assigned staff member.
    pub assignee: Option<String>,
    /// Its department.
    pub department: Option<String>,
    /// The requester's contact id.
    pub requester_id: ContactId,
    /// When the status last changed.
    pub status_changed_at: i64,
}

/// A comment as the detail view shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct CommentRow {
    /// Comment id.
    pub id: CommentId,
    /// The author's address, if known.
    pub author_email: Option<String>,
    /// The author's name, if known (may be empty).
    pub author_name: Option<String>,
    /// Whether the customer sees it.
    pub public: bool,
    /// Whether our side wrote it (a staff member or the desk).
    pub from_staff: bool,
    /// The whole text.
    pub body_text: String,
    /// The new text only.
    pub body_reply: String,
    /// The Message-ID it came from.
    pub message_id: Option<String>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// An attachment's metadata.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AttachmentRow {
    /// Attachment id.
    pub id: i64,
    /// The comment it belongs to.
    pub comment_id: CommentId,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Blob name.
    pub sha256: String,
    /// Shown inline.
    pub inline: bool,
}

/// The columns of [`TicketRow`]; `concat!` it with a WHERE or ORDER clause.
macro_rules! ticket_select {
    () => {
        "SELECT t.id, t.subject, t.status, t.priority,
            c.email AS requester_email, c.name AS requester_name, o.name AS organisation, t.organisation_id,
            t.department, t.created_at, t.updated_at,
            (SELECT COUNT(*) FROM comments m WHERE m.ticket_id = t.id) AS comment_count,
            (SELECT COUNT(*) FROM comments m WHERE m.ticket_id = t.id AND m.public) AS public_comment_count,
            t.assignee, t.status_changed_at, t.awaiting_since, t.follows_up
         FROM tickets t
         JOIN contacts c ON c.id = t.requester_id
         LEFT JOIN organisations o ON o.id = t.organisation_id"
    };
}
pub(super) use ticket_select;

impl Conn {
    /// The id of the organisation called `name`, created when missing.
    pub async fn upsert_organisation(&mut self, name: &str) -> Result<OrganisationId> {
        let at = self.now();
        on_conn!(self, c => {
            sqlx::query("INSERT INTO organisations (name, created_at) VALUES ($1, $2)
                         ON CONFLICT (name) DO NOTHING")
                .bind(name).bind(at).execute(&mut *c).await?;
            Ok(sqlx::query_scalar("SELECT id FROM organisations WHERE name = $1")
                .bind(name).fetch_one(&mut *c).await?)
        })
    }

    /// The id of the contact with `email`, created when missing. A missing name or
    /// organisation on an existing contact is filled in; a known one is kept.
    pub async fn upsert_contact(
        &mut self,
        email: &EmailAddress,
        name: &str,
        organisation_id: Option<OrganisationId>,
    ) -> Result<ContactId> {
        let at = self.now();
        // RETURNING gives the id whether the row was inserted or updated: one statement.
        Ok(on_conn!(self, c => sqlx::query_scalar("INSERT INTO contacts (email, name, organisation_id, created_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (email) DO UPDATE SET
                            name = CASE WHEN contacts.name = '' THEN excluded.name ELSE contacts.name END,
                            organisation_id = COALESCE(contacts.organisation_id, excluded.organisation_id)
                         RETURNING id")
                .bind(email.as_str()).bind(name).bind(organisation_id).bind(at)
                .fetch_one(&mut *c).await?))
    }

    /// The organisation of a contact, if any.
    pub async fn contact_organisation(&mut self, contact_id: ContactId) -> Result<Option<OrganisationId>> {
        on_conn!(self, c => Ok(sqlx::query_scalar("SELECT organisation_id FROM contacts WHERE id = $1")
            .bind(contact_id).fetch_one(&mut *c).await?))
    }

    /// Creates a ticket and returns its number.
    pub async fn insert_ticket(&mut self, t: &NewTicket<'_>) -> Result<TicketNumber> {
        let at = self.now();
        let id: i64 = on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO tickets (subject, status, priority, requester_id, organisation_id, department, created_at,
                                      updated_at, status_changed_at, awaiting_since, assignee)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7, $7, $8) RETURNING id")
            .bind(t.subject).bind(t.status).bind(t.priority)
            .bind(t.requester_id).bind(t.organisation_id).bind(t.department).bind(at).bind(t.assignee)
            .fetch_one(&mut *c).await?);
        Ok(TicketNumber(id))
    }

    /// Records the ticket's latest activity.
    pub async fn touch_ticket(&mut self, n: TicketNumber) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind(at).bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Adds a participant (requester or cc); an existing participant keeps their role.
    /// Returns whether they were added (false: they took part already).
    pub async fn add_participant(&mut self, n: TicketNumber, contact_id: ContactId, role: Role) -> Result<bool> {
        let added = on_conn!(self, c => sqlx::query("INSERT INTO ticket_participants (ticket_id, contact_id, role)
                                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(n.0).bind(contact_id).bind(role).execute(&mut *c).await?.rows_affected());
        Ok(added == 1)
    }

    /// Whether `contact_id` takes part in ticket `n`.
    pub async fn is_participant(&mut self, n: TicketNumber, contact_id: ContactId) -> Result<bool> {
        let found: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT contact_id FROM ticket_participants WHERE ticket_id = $1 AND contact_id = $2")
            .bind(n.0).bind(contact_id).fetch_optional(&mut *c).await?);
        Ok(found.is_some())
    }

    /// Adds a comment and returns its id.
    pub async fn insert_comment(&mut self, m: &NewComment<'_>) -> Result<CommentId> {
        let at = self.now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO comments (ticket_id, author_id, public, body_text, body_reply, body_html, message_id, created_at,
                                       from_staff)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(m.ticket.0).bind(m.author_id).bind(m.public).bind(m.body_text).bind(m.body_reply)
            .bind(m.body_html).bind(m.message_id).bind(at).bind(m.from_staff)
            .fetch_one(&mut *c).await?))
    }

    /// Records an attachment of a comment.
    pub async fn insert_attachment(&mut self, comment_id: CommentId, a: &NewAttachment<'_>) -> Result<()> {
        on_conn!(self, c => sqlx::query(
                "INSERT INTO attachments (comment_id, filename, content_type, size, sha256, inline, content_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(comment_id).bind(a.filename).bind(a.content_type).bind(a.size).bind(a.sha256)
            .bind(a.inline).bind(a.content_id).execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

impl Conn {
    /// Resolved tickets whose status has not changed since `before`, oldest first, at most
    /// `limit`.
    pub async fn resolved_before(&mut self, before: i64, limit: i64) -> Result<Vec<TicketNumber>> {
        let ids: Vec<i64> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT id FROM tickets WHERE status = $3 AND status_changed_at <= $1
                 ORDER BY status_changed_at LIMIT $2")
            .bind(before).bind(limit).bind(Status::Resolved).fetch_all(&mut *c).await?);
        Ok(ids.into_iter().map(TicketNumber).collect())
    }

    /// One ticket, if it exists.
    pub async fn ticket(&mut self, n: TicketNumber) -> Result<Option<TicketRow>> {
        const SQL: &str = concat!(ticket_select!(), " WHERE t.id = $1");
        Ok(on_conn!(self, c => sqlx::query_as::<_, TicketRow>(SQL).bind(n.0).fetch_optional(&mut *c).await?))
    }

    /// The comments of a ticket, oldest first.
    pub async fn comments(&mut self, n: TicketNumber) -> Result<Vec<CommentRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, CommentRow>(
                "SELECT m.id, c.email AS author_email, c.name AS author_name, m.public, m.from_staff, m.body_text, m.body_reply, m.message_id, m.created_at
                 FROM comments m LEFT JOIN contacts c ON c.id = m.author_id
                 WHERE m.ticket_id = $1 ORDER BY m.id")
            .bind(n.0).fetch_all(&mut *c).await?))
    }

    /// The attachments of a ticket's comments.
    pub async fn attachments(&mut self, n: TicketNumber) -> Result<Vec<AttachmentRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, AttachmentRow>(
                "SELECT a.id, a.comment_id, a.filename, a.content_type, a.size, a.sha256, a.inline
                 FROM attachments a JOIN comments m ON m.id = a.comment_id
                 WHERE m.ticket_id = $1 ORDER BY a.id")
            .bind(n.0).fetch_all(&mut *c).await?))
    }

    /// The participants of a ticket as (address, role), requester first.
    pub async fn participants(&mut self, n: TicketNumber) -> Result<Vec<(String, Role)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (String, Role)>(
                "SELECT c.email, tp.role FROM ticket_participants tp JOIN contacts c ON c.id = tp.contact_id
                 WHERE tp.ticket_id = $1 ORDER BY CASE tp.role WHEN $2 THEN 0 ELSE 1 END, c.email")
            .bind(n.0).bind(Role::Requester).fetch_all(&mut *c).await?))
    }

    /// Number of tickets.
    pub async fn count_tickets(&mut self) -> Result<i64> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT COUNT(*) FROM tickets").fetch_one(&mut *c).await?))
    }
}

impl Conn {
    /// The subject of ticket `n`, if it exists.
    pub async fn ticket_subject(&mut self, n: TicketNumber) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT subject FROM tickets WHERE id = $1")
            .bind(n.0).fetch_optional(&mut *c).await?))
    }

    /// The address of ticket `n`'s requester, if the ticket exists.
    pub async fn ticket_requester(&mut self, n: TicketNumber) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT c.email FROM tickets t JOIN contacts c ON c.id = t.requester_id WHERE t.id = $1")
            .bind(n.0).fetch_optional(&mut *c).await?))
    }

    /// The addresses of ticket `n`'s participants, requester first.
    pub async fn participant_addresses(&mut self, n: TicketNumber) -> Result<Vec<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT c.email FROM ticket_participants tp JOIN contacts c ON c.id = tp.contact_id
                 WHERE tp.ticket_id = $1 ORDER BY CASE tp.role WHEN $2 THEN 0 ELSE 1 END, c.email")
            .bind(n.0).bind(Role::Requester).fetch_all(&mut *c).await?))
    }

    /// The Message-IDs of ticket `n`'s conversation, oldest first: the mails that came in,
    /// then ours with their recipients.
    pub async fn conversation_ids(&mut self, n: TicketNumber) -> Result<(Vec<String>, Vec<(String, String)>)> {
        let inbound: Vec<String> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT message_id FROM comments WHERE ticket_id = $1 AND message_id IS NOT NULL ORDER BY id")
            .bind(n.0).fetch_all(&mut *c).await?);
        let ours: Vec<(String, String)> = on_conn!(self, c => sqlx::query_as(
                "SELECT message_id, recipient FROM outbox WHERE ticket_id = $1 ORDER BY id")
            .bind(n.0).fetch_all(&mut *c).await?);
        Ok((inbound, ours))
    }
}

impl Conn {
    /// The status of ticket `n` and when it last changed (Unix seconds), if it exists.
    pub async fn ticket_status(&mut self, n: TicketNumber) -> Result<Option<(Status, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (Status, i64)>(
                "SELECT status, COALESCE(status_changed_at, updated_at) FROM tickets WHERE id = $1")
            .bind(n.0).fetch_optional(&mut *c).await?))
    }

    /// What desk needs to change ticket `n`, if it exists.
    pub async fn ticket_state(&mut self, n: TicketNumber) -> Result<Option<TicketState>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, TicketState>(
                "SELECT subject, status, priority, assignee, department, requester_id,
                        COALESCE(status_changed_at, updated_at) AS status_changed_at
                 FROM tickets WHERE id = $1")
            .bind(n.0).fetch_optional(&mut *c).await?))
    }

    /// Sets the status of ticket `n`.
    pub async fn set_ticket_status(&mut self, n: TicketNumber, status: Status) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query("UPDATE tickets SET status = $1, updated_at = $2, status_changed_at = $2 WHERE id = $3")
            .bind(status).bind(at).bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Moves ticket `n` from `from` to `to` only if it still has status `from`, unchanged
    /// since `before`; returns whether it moved. Safe when several nodes sweep at once.
    pub async fn move_status_if(&mut self, n: TicketNumber, from: Status, to: Status, before: i64) -> Result<bool> {
        let at = self.now();
        let moved = on_conn!(self, c => sqlx::query(
                "UPDATE tickets SET status = $1, updated_at = $2, status_changed_at = $2
                 WHERE id = $3 AND status = $4 AND status_changed_at <= $5")
            .bind(to).bind(at).bind(n.0).bind(from).bind(before)
            .execute(&mut *c).await?.rows_affected());
        Ok(moved == 1)
    }

    /// Sets the priority of ticket `n`.
    pub async fn set_ticket_priority(&mut self, n: TicketNumber, priority: Priority) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query("UPDATE tickets SET priority = $1, updated_at = $2 WHERE id = $3")
            .bind(priority).bind(at).bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Assigns ticket `n` to `assignee` (none: unassigned).
    pub async fn set_assignee(&mut self, n: TicketNumber, assignee: Option<&str>) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query("UPDATE tickets SET assignee = $1, updated_at = $2 WHERE id = $3")
            .bind(assignee).bind(at).bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Records that a customer wrote on ticket `n`: its latest activity, the wait for an
    /// answer starts now unless it runs already, and a ticket waiting on the customer is
    /// open again.
    pub async fn customer_wrote(&mut self, n: TicketNumber) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query(
                "UPDATE tickets SET updated_at = $1, awaiting_since = COALESCE(awaiting_since, $1),
                    status_changed_at = CASE WHEN status = $3 THEN $1 ELSE status_changed_at END,
                    status = CASE WHEN status = $3 THEN $4 ELSE status END
                 WHERE id = $2")
            .bind(at).bind(n.0).bind(Status::WaitingOnCustomer).bind(Status::Open).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Records that staff answered the customers: no one is waiting.
    pub async fn stop_awaiting(&mut self, n: TicketNumber) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE tickets SET awaiting_since = NULL WHERE id = $1")
            .bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Links ticket `n` to the older ticket it follows up.
    pub async fn set_follows_up(&mut self, n: TicketNumber, old: TicketNumber) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE tickets SET follows_up = $1 WHERE id = $2")
            .bind(old.0).bind(n.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// The assignee of the department's most recently assigned ticket, for round-robin.
    pub async fn last_assignee(&mut self, department: &str) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT assignee FROM tickets WHERE department = $1 AND assignee IS NOT NULL ORDER BY id DESC LIMIT 1")
            .bind(department).fetch_optional(&mut *c).await?))
    }

    /// The id of the contact with `email`, if known.
    pub async fn contact_id(&mut self, email: &str) -> Result<Option<ContactId>> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT id FROM contacts WHERE email = $1")
            .bind(email).fetch_optional(&mut *c).await?))
    }

    /// Takes a cc participant off ticket `n` (never the requester); returns whether one was.
    pub async fn remove_participant(&mut self, n: TicketNumber, contact_id: ContactId) -> Result<bool> {
        let removed = on_conn!(self, c => sqlx::query(
                "DELETE FROM ticket_participants WHERE ticket_id = $1 AND contact_id = $2 AND role <> $3")
            .bind(n.0).bind(contact_id).bind(Role::Requester).execute(&mut *c).await?.rows_affected());
        Ok(removed == 1)
    }
}

impl Conn {
    /// The department of ticket `n`, if it has one.
    pub async fn ticket_department(&mut self, n: TicketNumber) -> Result<Option<String>> {
        let found: Option<Option<String>> = on_conn!(self, c => sqlx::query_scalar("SELECT department FROM tickets WHERE id = $1")
            .bind(n.0).fetch_optional(&mut *c).await?);
        Ok(found.flatten())
    }
}

impl Conn {
    /// Attachment `id`, if it belongs to a public comment of ticket `n` (what a customer of
    /// the ticket may fetch).
    pub async fn public_attachment(&mut self, n: TicketNumber, id: i64) -> Result<Option<AttachmentRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, AttachmentRow>(
                "SELECT a.id, a.comment_id, a.filename, a.content_type, a.size, a.sha256, a.inline
                 FROM attachments a JOIN comments m ON m.id = a.comment_id
                 WHERE a.id = $1 AND m.ticket_id = $2 AND m.public")
            .bind(id).bind(n.0).fetch_optional(&mut *c).await?))
    }
}
