//! Solutions suggested in the acknowledgement of a mailed request (MISSION KB5), and the
//! "this solved my problem" link that goes with each: signed, so that it names its ticket,
//! solution and requester unforgeably; it leads to a page whose one button resolves the
//! ticket (mail scanners open every link, so the link alone changes nothing), and works
//! once.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::App;
use crate::desk::kb::{self, Viewer};
use crate::domain::{ContactId, TicketNumber};
use crate::notice::SuggestedSolution;
use crate::store::{StoreError, Tx};

/// At most this many solutions are suggested in an acknowledgement.
pub const MAX_SUGGESTIONS: usize = 3;

/// A solution is suggested in an acknowledgement only when it scores at least this for
/// the request's subject: a request about something the knowledge base does not cover gets
/// none. Measured on the labelled set of `tests/kb/` (78 solutions): the right answer to
/// "I forgot my password", "Invoice for March" or "Sync stuck on my laptop" scores 17-19,
/// the best for "Lunch on Friday", "Printer broken" or "Help" 2-6.
pub const MIN_SCORE: f32 = 10.0;

/// How long a "this solved my problem" link works, in days.
pub const SOLVED_LINK_DAYS: i64 = 30;

/// What a "this solved my problem" link names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SolvedLink {
    /// The ticket it resolves.
    pub ticket: TicketNumber,
    /// The solution that solved it.
    pub solution: i64,
    /// The requester it was sent to (who resolves it).
    pub contact: ContactId,
    /// Until when it works (Unix seconds).
    pub expires_at: i64,
}

fn key(app: &App) -> [u8; 32] {
    app.reply_addresses.derive_key("kb-solved")
}

fn mac(app: &App, body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(app)).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    mac
}

/// The token of `link`: its fields and their signature, safe in a URL.
pub fn solved_token(app: &App, link: &SolvedLink) -> String {
    let body = format!("{}.{}.{}.{}", link.ticket.0, link.solution, link.contact.0, link.expires_at);
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac(app, &body).finalize().into_bytes());
    format!("{body}.{signature}")
}

/// Why a "this solved my problem" link does not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolvedRefusal {
    /// Not one of ours (or altered).
    #[error("This link is not valid. Copy the whole link from the mail, or answer the mail instead.")]
    Forged,
    /// Past its time.
    #[error("This link has expired. Answer the mail to tell us the problem is solved.")]
    Expired,
    /// Used already.
    #[error("This link was used already: the request was marked as solved.")]
    Used,
}

/// What `token` names, when it is ours and still works (its use is checked on confirming).
pub fn read_solved_token(app: &App, token: &str) -> Result<SolvedLink, SolvedRefusal> {
    let (body, signature) = token.rsplit_once('.').ok_or(SolvedRefusal::Forged)?;
    let signature =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).map_err(|_| SolvedRefusal::Forged)?;
    mac(app, body).verify_slice(&signature).map_err(|_| SolvedRefusal::Forged)?;
    let parts: Vec<i64> =
        body.split('.').map(str::parse).collect::<Result<_, _>>().map_err(|_| SolvedRefusal::Forged)?;
    let [ticket, solution, contact, expires_at] = parts[..] else { return Err(SolvedRefusal::Forged) };
    if crate::store::now() > expires_at {
        return Err(SolvedRefusal::Expired);
    }
    Ok(SolvedLink { ticket: TicketNumber(ticket), solution, contact: ContactId(contact), expires_at })
}

/// The solutions to suggest for a request of `subject` (the public ones: its
/// requester may have no account), recorded as suggested for `ticket`, with their links.
/// Best effort: a knowledge base that cannot be searched suggests nothing.
pub async fn suggestions(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    requester: ContactId,
    subject: &str,
) -> Result<Vec<SuggestedSolution>, StoreError> {
    // A desk without a knowledge base never opens an index for its mail.
    if !tx.has_solutions().await? {
        return Ok(Vec::new());
    }
    // The subject says what the request is about; a body adds greetings, signatures and
    // quoted mail, which match everything a little.
    let hits = match kb::suggest(app, Viewer::Anonymous, subject, MAX_SUGGESTIONS, MIN_SCORE).await {
        Ok(hits) => hits,
        Err(e) => {
            tracing::warn!(ticket = ticket.0, error = %e, "no suggestions from the knowledge base");
            return Ok(Vec::new());
        }
    };
    let base = app.config().portal.base_url.trim_end_matches('/').to_string();
    let expires_at = crate::store::now() + SOLVED_LINK_DAYS * 86_400;
    let mut out = Vec::new();
    for hit in hits {
        let Some(solution) = tx.solution(&hit.slug).await? else { continue };
        tx.record_mail_suggestion(solution.id, ticket).await?;
        let token = solved_token(app, &SolvedLink { ticket, solution: solution.id, contact: requester, expires_at });
        out.push(SuggestedSolution {
            title: hit.title,
            read_url: format!("{base}/kb/{}?from=mail&t={token}", hit.slug),
            solved_url: format!("{base}/kb/solved?t={token}"),
        });
    }
    Ok(out)
}
