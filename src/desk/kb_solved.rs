//! "This solved my problem" (MISSION KB5): the page a suggestion's signed link leads to
//! shows what it would resolve and changes nothing; its one button resolves the request, as
//! its requester would in the portal, once.

use super::kb_mail::{SolvedRefusal, read_solved_token};
use crate::App;
use crate::domain::TicketNumber;
use crate::store::StoreError;

/// Why confirming a "this solved my problem" link changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// The link does not work (forged, expired, used).
    #[error(transparent)]
    Link(#[from] SolvedRefusal),
    /// The request cannot be marked solved now (finished already, say).
    #[error(transparent)]
    Request(#[from] super::requests::RequestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a "this solved my problem" link's confirmation page shows: the request's number
/// and subject, and the solution's title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolvedPreview {
    /// The request.
    pub ticket: TicketNumber,
    /// Its subject.
    pub subject: String,
    /// The solution's title.
    pub solution: String,
}

/// What `token` would resolve, when it works (and has not been used): nothing changes.
pub async fn preview(app: &App, token: &str) -> Result<SolvedPreview, ConfirmError> {
    let link = read_solved_token(app, token)?;
    let mut db = app.store.conn().await?;
    unused(&mut db, &link).await?;
    let ticket = db.ticket(link.ticket).await?.ok_or(SolvedRefusal::Forged)?;
    let solution = db.solution_title(link.solution).await?.ok_or(SolvedRefusal::Forged)?;
    Ok(SolvedPreview { ticket: link.ticket, subject: ticket.subject, solution })
}

/// Refuses a link whose suggestion was never made (a forgery under a leaked key would
/// still need one) or has resolved its request already.
async fn unused(db: &mut crate::store::Conn, link: &super::kb_mail::SolvedLink) -> Result<(), ConfirmError> {
    match db.mail_suggestion_used(link.solution, link.ticket).await? {
        None => Err(SolvedRefusal::Forged.into()),
        Some(true) => Err(SolvedRefusal::Used.into()),
        Some(false) => Ok(()),
    }
}

/// Marks the request of `token` solved, as its requester would in the portal (a note for
/// staff says how, staff are told), and records that the suggestion resolved it. Works once.
pub async fn confirm(app: &App, token: &str) -> Result<TicketNumber, ConfirmError> {
    let link = read_solved_token(app, token)?;
    let mut tx = app.store.begin().await?;
    unused(&mut tx, &link).await?;
    let contact = tx.contact(link.contact).await?.ok_or(SolvedRefusal::Forged)?;
    let actor = super::requests::Actor { contact: link.contact, email: &contact.email, name: &contact.name };
    let via = "through a solution suggested in the acknowledgement";
    super::requests::change_in(app, &mut tx, &actor, link.ticket, super::requests::Change::Solved, via).await?;
    if !tx.resolve_by_mail_suggestion(link.solution, link.ticket).await? {
        return Err(SolvedRefusal::Used.into());
    }
    tx.commit().await?;
    tracing::info!(ticket = link.ticket.0, solution = link.solution, "a suggested solution resolved its request");
    app.outbox_wake.notify_one();
    Ok(link.ticket)
}

/// Records that the suggestion `token` names was opened from its acknowledgement (the
/// first time counts); a link that does not work records nothing.
pub async fn opened(app: &App, token: &str) -> Result<(), StoreError> {
    let Ok(link) = read_solved_token(app, token) else { return Ok(()) };
    app.store.conn().await?.open_mail_suggestion(link.solution, link.ticket).await?;
    Ok(())
}
