//! What staff do to tickets. For now: a public reply, relayed to the customers from the
//! support address (so a staff member's own address never reaches them).

use super::notify;
use crate::App;
use crate::domain::{EmailAddress, Status, TicketNumber};
use crate::store::{NewComment, StoreError};

/// Why a staff action was refused.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// No such ticket.
    #[error("no ticket #{0}")]
    NoTicket(TicketNumber),
    /// The reply is empty.
    #[error("the reply is empty")]
    Empty,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets the status of ticket `n` and tells its customers (a status notification, or a
/// resolved one for resolved and closed). Setting the status it has changes nothing.
pub async fn set_status(app: &App, n: TicketNumber, status: Status) -> Result<usize, StaffError> {
    let mut tx = app.store.begin().await?;
    let Some((current, _)) = tx.ticket_status(n).await? else {
        return Err(StaffError::NoTicket(n));
    };
    if current == status.as_str() {
        return Ok(0);
    }
    let subject = tx.ticket_subject(n).await?.unwrap_or_default();
    tx.set_ticket_status(n, status).await?;
    let kind = if matches!(status, Status::Resolved | Status::Closed) { "resolved" } else { "status-change" };
    let queued = notify::status_change(app, &mut tx, n, &subject, kind, status).await?;
    tx.commit().await?;
    app.outbox_wake.notify_one();
    Ok(queued)
}

/// Adds `author`'s public reply to ticket `n` and queues it to the customers, in one
/// transaction. Returns how many notifications were queued.
pub async fn reply(app: &App, n: TicketNumber, author: &EmailAddress, body: &str) -> Result<usize, StaffError> {
    let body = body.trim();
    if body.is_empty() {
        return Err(StaffError::Empty);
    }
    let mut tx = app.store.begin().await?;
    let Some(subject) = tx.ticket_subject(n).await? else {
        return Err(StaffError::NoTicket(n));
    };
    let author_id = tx.upsert_contact(author, "", None).await?;
    tx.insert_comment(&NewComment {
        ticket: n,
        author_id: Some(author_id),
        public: true,
        body_text: body,
        body_reply: body,
        body_html: None,
        message_id: None,
    })
    .await?;
    tx.touch_ticket(n).await?;
    let queued = notify::staff_reply(app, &mut tx, n, &subject, author, body).await?;
    tx.commit().await?;
    app.outbox_wake.notify_one();
    Ok(queued)
}
