//! The data each kind's templates are filled with, as stored (JSON) in the outbox row's
//! `payload` column. Fields may be added (with `#[serde(default)]`, so rows queued by an
//! earlier version still read); none may be renamed or removed without a migration.

use serde::{Deserialize, Serialize};

use crate::domain::TicketNumber;

/// What the acknowledgement templates are filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcknowledgementData {
    /// The new ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// The start of the customer's request (empty unless it may be repeated).
    pub summary: String,
    /// The customer's name, if known (and it may be repeated).
    pub name: Option<String>,
    /// Where the customer can follow the request.
    pub portal_url: String,
    /// The others on the request (from its Cc), who get our answers too.
    #[serde(default)]
    pub participants: Vec<String>,
    /// The portal invitation this first mail carries, if the sender is invited.
    #[serde(default)]
    pub invite: Option<i64>,
    /// Its token, added by the sender at sending time; never stored in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Solutions of the knowledge base that may answer the request (MISSION KB5).
    #[serde(default)]
    pub suggestions: Vec<SuggestedSolution>,
}

/// A solution suggested in an acknowledgement, with its two links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedSolution {
    /// Its title.
    pub title: String,
    /// Where to read it.
    pub read_url: String,
    /// The signed "this solved my problem" link: a page whose one button resolves the
    /// request.
    pub solved_url: String,
}

/// What the invitation templates are filled with (the link's token is added when it is
/// sent, never stored in the clear).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteData {
    /// The invitation.
    pub invite: i64,
    /// The person's latest ticket, under which the mail threads; none for someone invited
    /// before writing to us.
    pub ticket: Option<TicketNumber>,
    /// The person's name, if known.
    pub name: Option<String>,
    /// Who invited them, when a colleague did (a primary contact in the portal), as
    /// "Name <address>" or the address.
    #[serde(default)]
    pub by: Option<String>,
    /// The token, added by the sender at sending time; never stored in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// What the staff-reply templates are filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffReplyData {
    /// The ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// What the staff member wrote.
    pub body: String,
    /// Where the customer can follow the request.
    pub portal_url: String,
    /// The staff member's name (shown in From, beside the desk's name), if known.
    #[serde(default)]
    pub author: Option<String>,
    /// The ticket's new status as words, when the reply changed it.
    #[serde(default)]
    pub status: Option<String>,
}

/// What the status templates (status-change, resolved, reopened, auto-closed) are filled
/// with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusData {
    /// The ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// The new status, as words ("waiting on customer").
    pub status: String,
    /// Where the customer can follow the request.
    pub portal_url: String,
}

/// What the staff notification templates (staff-new-ticket, staff-customer-reply,
/// staff-assigned) are filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffNoticeData {
    /// The ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// Who wrote, as "Name <address>" (for staff-assigned: who assigned it).
    pub customer: String,
    /// What they wrote (the new text).
    pub text: String,
}

/// What the command-error and undelivered templates are filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandErrorData {
    /// The ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// What was wrong, one line per command (or per customer not reached).
    pub problems: Vec<String>,
    /// What the staff member wrote, to send again once corrected.
    pub text: String,
}

/// What the participant-added templates are filled with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantsData {
    /// The ticket's number.
    pub ticket: TicketNumber,
    /// The ticket's subject.
    pub subject: String,
    /// The addresses added.
    pub added: Vec<String>,
    /// Who added them: an address, or "our staff".
    pub by: String,
    /// Where the customer can follow the request.
    pub portal_url: String,
}

/// A file sent along with a relayed reply (the outbox row's `attachments` column holds a
/// JSON list of them): its bytes are in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedFile {
    /// Blob name.
    pub sha256: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
}

/// What the mails about a portal account are filled with (`password-reset`,
/// `account-attempt`, `verify-address`, `account-exists`): they are about no ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountData {
    /// The contact whose account it is (none for an address with no account).
    pub contact: Option<crate::domain::ContactId>,
    /// Their name, if known.
    pub name: Option<String>,
    /// The token of the mail's link (reset, verification), added by the sender at sending
    /// time; never stored in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
