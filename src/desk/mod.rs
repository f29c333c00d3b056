//! The domain rules. Desk turns an interpreted mail (and later portal forms, CLI and email
//! commands) into exactly one store transaction, and decides who is notified. Every rule
//! lives here once; sources, portal and CLI call it. Desk never speaks SQL and never sends
//! mail itself: it writes outbox rows in the same transaction as the change.

pub mod accounts;
pub mod backup;
pub mod captcha;
pub mod contacts;
pub mod forget;
pub mod import;
mod intake;
pub mod invitations;
pub mod kb;
pub mod kb_mail;
pub mod kb_pages;
pub mod kb_solved;
pub mod kb_stats;
pub mod lifecycle;
pub mod live;
mod notify;
pub mod organisation;
pub mod passwords;
pub mod quarantine;
pub mod ready;
mod receive;
pub mod requests;
pub mod roster;
pub mod senders;
pub mod staff;
pub mod tickets;

pub use intake::{
    PreparedBatch, Straggler, apply_prepared, prepare_files, quarantine_raw, quarantine_unfetched,
    quarantine_unreadable, receive, receive_file,
};

use crate::domain::{Source, TicketNumber};
use crate::inbound::Auto;
use crate::store::StoreError;

/// Where an inbound message came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The source, such as `pipe`, `maildir:/path` or `imap:support`.
    pub source: &'a Source,
    /// The department the source feeds, if configured.
    pub department: Option<&'a str>,
    /// The lease the source works under, when it does (a mailbox shared by several nodes):
    /// the message's transaction writes only while that lease is still held as taken.
    pub fence: Option<&'a crate::store::Fence>,
}

impl<'a> From<&'a Source> for Origin<'a> {
    fn from(source: &'a Source) -> Origin<'a> {
        Origin { source, department: None, fence: None }
    }
}

/// The metric of mail taken in: labels `source`, `outcome` ([`Outcome::counted_as`]).
pub const MAILS: &str = "maildesk_mails_total";
/// The metric of how long taking one mail in took, seconds: label `source`.
pub const MAIL_SECONDS: &str = "maildesk_mail_processing_seconds";

/// What an inbound message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It opened this ticket.
    Opened(TicketNumber),
    /// It became a comment on this ticket (or, from staff, applied its commands).
    Commented(TicketNumber),
    /// A staff member's mail to this ticket whose commands were refused: nothing applied,
    /// the staff member was told why.
    Refused(TicketNumber),
    /// It was automatic mail: recorded, no ticket, no answer.
    Automatic(Auto),
    /// Its sender is on the blocklist: recorded, no ticket, no answer.
    Blocked,
    /// It had already been applied; nothing changed.
    Duplicate,
    /// It could not be processed and is in the quarantine for this reason.
    Quarantined(String),
}

impl Outcome {
    /// The ticket this outcome concerns, if any.
    pub fn ticket(&self) -> Option<TicketNumber> {
        match self {
            Outcome::Opened(t) | Outcome::Commented(t) | Outcome::Refused(t) => Some(*t),
            _ => None,
        }
    }

    /// The word this outcome is counted under in the metrics ([`MAILS`]).
    pub fn counted_as(&self) -> &'static str {
        match self {
            Outcome::Opened(_) => "ticket",
            Outcome::Commented(_) => "comment",
            Outcome::Refused(_) => "refused",
            Outcome::Automatic(_) => "automatic",
            Outcome::Blocked => "blocked",
            Outcome::Duplicate => "duplicate",
            Outcome::Quarantined(_) => "quarantined",
        }
    }

    /// The stable word for this outcome, as logged and stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Opened(_) => "opened",
            Outcome::Commented(_) => "commented",
            Outcome::Refused(_) => "refused",
            Outcome::Automatic(a) => a.as_str(),
            Outcome::Blocked => "blocked",
            Outcome::Duplicate => "duplicate",
            Outcome::Quarantined(_) => "quarantined",
        }
    }
}

/// Why desk could not settle a message now. Anything else is quarantined, so the only
/// error is a temporary one: the caller keeps the message and tries again later.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The store is unavailable (locked, unreachable, disk failing), or a task of ours
    /// failed.
    #[error("temporary failure, try again later: {0}")]
    Temporary(#[source] StoreError),
    /// The message itself could not be read (its file, standard input): it stays where it
    /// is, for the next try.
    #[error("cannot read the message {what}: {source}")]
    Read {
        /// Where it was read from, as in "in /var/mail/new/1.eml" or "from standard input".
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Intake stopped because too many workers are stuck past `limits.max_processing_secs`
    /// (see [`crate::workers::Workers`]): the message was not read and must be kept for the next start.
    #[error("intake stopped: too many workers stuck past limits.max_processing_secs; try again after a restart")]
    Stopped,
}
