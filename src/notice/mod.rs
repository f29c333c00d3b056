//! What a notification is, shared by the code that queues it and the code that sends it:
//! its kind (a type that knows whether the mail is automatic, goes to staff, and which
//! `Auto-Submitted` it carries), the data its templates are filled with, and the links
//! into the portal. Desk writes a [`Notice`] into an outbox row; outbound reads it back
//! and renders it. This module decides nothing and touches no database: it is the
//! vocabulary both sides speak, so that neither imports the other.

mod kind;
mod links;
mod payload;
mod sample;

use crate::domain::TicketNumber;

pub use kind::{AutoSubmitted, NoticeKind, UnknownKind};
pub use links::PortalLinks;
pub use payload::{
    AccountData, AcknowledgementData, CommandErrorData, InviteData, ParticipantsData, RelayedFile, StaffNoticeData,
    StaffReplyData, StatusData, SuggestedSolution,
};

/// A notification of one kind with the data its templates are filled with: the kind's
/// name and its payload type are tied here, so that a row of a kind always carries the
/// payload that kind's templates expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// See [`NoticeKind::Acknowledgement`].
    Acknowledgement(AcknowledgementData),
    /// See [`NoticeKind::Invite`].
    Invite(InviteData),
    /// See [`NoticeKind::StaffReply`].
    StaffReply(StaffReplyData),
    /// See [`NoticeKind::StatusChange`].
    StatusChange(StatusData),
    /// See [`NoticeKind::Resolved`].
    Resolved(StatusData),
    /// See [`NoticeKind::Reopened`].
    Reopened(StatusData),
    /// See [`NoticeKind::AutoClosed`].
    AutoClosed(StatusData),
    /// See [`NoticeKind::StaffNewTicket`].
    StaffNewTicket(StaffNoticeData),
    /// See [`NoticeKind::StaffCustomerReply`].
    StaffCustomerReply(StaffNoticeData),
    /// See [`NoticeKind::StaffAssigned`].
    StaffAssigned(StaffNoticeData),
    /// See [`NoticeKind::StaffCustomerStatus`].
    StaffCustomerStatus(StaffNoticeData),
    /// See [`NoticeKind::CommandError`].
    CommandError(CommandErrorData),
    /// See [`NoticeKind::Undelivered`].
    Undelivered(CommandErrorData),
    /// See [`NoticeKind::ParticipantAdded`].
    ParticipantAdded(ParticipantsData),
    /// See [`NoticeKind::PasswordReset`].
    PasswordReset(AccountData),
    /// See [`NoticeKind::AccountAttempt`].
    AccountAttempt(AccountData),
    /// See [`NoticeKind::VerifyAddress`].
    VerifyAddress(AccountData),
    /// See [`NoticeKind::AccountExists`].
    AccountExists(AccountData),
}

impl Notice {
    /// The notice's kind (stored in the outbox row's `kind` column).
    pub fn kind(&self) -> NoticeKind {
        match self {
            Notice::Acknowledgement(_) => NoticeKind::Acknowledgement,
            Notice::Invite(_) => NoticeKind::Invite,
            Notice::StaffReply(_) => NoticeKind::StaffReply,
            Notice::StatusChange(_) => NoticeKind::StatusChange,
            Notice::Resolved(_) => NoticeKind::Resolved,
            Notice::Reopened(_) => NoticeKind::Reopened,
            Notice::AutoClosed(_) => NoticeKind::AutoClosed,
            Notice::StaffNewTicket(_) => NoticeKind::StaffNewTicket,
            Notice::StaffCustomerReply(_) => NoticeKind::StaffCustomerReply,
            Notice::StaffAssigned(_) => NoticeKind::StaffAssigned,
            Notice::StaffCustomerStatus(_) => NoticeKind::StaffCustomerStatus,
            Notice::CommandError(_) => NoticeKind::CommandError,
            Notice::Undelivered(_) => NoticeKind::Undelivered,
            Notice::ParticipantAdded(_) => NoticeKind::ParticipantAdded,
            Notice::PasswordReset(_) => NoticeKind::PasswordReset,
            Notice::AccountAttempt(_) => NoticeKind::AccountAttempt,
            Notice::VerifyAddress(_) => NoticeKind::VerifyAddress,
            Notice::AccountExists(_) => NoticeKind::AccountExists,
        }
    }

    /// The number of the ticket the notice is about; none for mail about an account.
    pub fn ticket(&self) -> Option<TicketNumber> {
        Some(match self {
            Notice::Acknowledgement(d) => d.ticket,
            Notice::Invite(d) => return d.ticket,
            Notice::StaffReply(d) => d.ticket,
            Notice::StatusChange(d) | Notice::Resolved(d) | Notice::Reopened(d) | Notice::AutoClosed(d) => d.ticket,
            Notice::StaffNewTicket(d)
            | Notice::StaffCustomerReply(d)
            | Notice::StaffAssigned(d)
            | Notice::StaffCustomerStatus(d) => d.ticket,
            Notice::CommandError(d) | Notice::Undelivered(d) => d.ticket,
            Notice::ParticipantAdded(d) => d.ticket,
            Notice::PasswordReset(_)
            | Notice::AccountAttempt(_)
            | Notice::VerifyAddress(_)
            | Notice::AccountExists(_) => return None,
        })
    }

    /// The payload as stored in the outbox row's `payload` column: the data as JSON.
    pub fn payload(&self) -> Result<String, serde_json::Error> {
        match self {
            Notice::Acknowledgement(d) => serde_json::to_string(d),
            Notice::Invite(d) => serde_json::to_string(d),
            Notice::StaffReply(d) => serde_json::to_string(d),
            Notice::StatusChange(d) | Notice::Resolved(d) | Notice::Reopened(d) | Notice::AutoClosed(d) => {
                serde_json::to_string(d)
            }
            Notice::StaffNewTicket(d)
            | Notice::StaffCustomerReply(d)
            | Notice::StaffAssigned(d)
            | Notice::StaffCustomerStatus(d) => serde_json::to_string(d),
            Notice::CommandError(d) | Notice::Undelivered(d) => serde_json::to_string(d),
            Notice::ParticipantAdded(d) => serde_json::to_string(d),
            Notice::PasswordReset(d)
            | Notice::AccountAttempt(d)
            | Notice::VerifyAddress(d)
            | Notice::AccountExists(d) => serde_json::to_string(d),
        }
    }

    /// Reads a notice of `kind` back from its stored `payload`; an error when the payload
    /// does not fit the kind.
    pub fn from_payload(kind: NoticeKind, payload: &str) -> Result<Notice, serde_json::Error> {
        use serde_json::from_str;
        Ok(match kind {
            NoticeKind::Acknowledgement => Notice::Acknowledgement(from_str(payload)?),
            NoticeKind::Invite => Notice::Invite(from_str(payload)?),
            NoticeKind::StaffReply => Notice::StaffReply(from_str(payload)?),
            NoticeKind::StatusChange => Notice::StatusChange(from_str(payload)?),
            NoticeKind::Resolved => Notice::Resolved(from_str(payload)?),
            NoticeKind::Reopened => Notice::Reopened(from_str(payload)?),
            NoticeKind::AutoClosed => Notice::AutoClosed(from_str(payload)?),
            NoticeKind::StaffNewTicket => Notice::StaffNewTicket(from_str(payload)?),
            NoticeKind::StaffCustomerReply => Notice::StaffCustomerReply(from_str(payload)?),
            NoticeKind::StaffAssigned => Notice::StaffAssigned(from_str(payload)?),
            NoticeKind::StaffCustomerStatus => Notice::StaffCustomerStatus(from_str(payload)?),
            NoticeKind::CommandError => Notice::CommandError(from_str(payload)?),
            NoticeKind::Undelivered => Notice::Undelivered(from_str(payload)?),
            NoticeKind::ParticipantAdded => Notice::ParticipantAdded(from_str(payload)?),
            NoticeKind::PasswordReset => Notice::PasswordReset(from_str(payload)?),
            NoticeKind::AccountAttempt => Notice::AccountAttempt(from_str(payload)?),
            NoticeKind::VerifyAddress => Notice::VerifyAddress(from_str(payload)?),
            NoticeKind::AccountExists => Notice::AccountExists(from_str(payload)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_what_it_stored() {
        for kind in NoticeKind::ALL {
            for notice in [Notice::sample(kind), Notice::sample_sparse(kind)] {
                assert_eq!(notice.kind(), kind);
                let payload = notice.payload().unwrap();
                assert_eq!(Notice::from_payload(kind, &payload).unwrap(), notice, "{kind}");
            }
        }
    }

    #[test]
    fn a_payload_that_does_not_fit_its_kind_is_refused() {
        let status = Notice::sample(NoticeKind::Resolved).payload().unwrap();
        assert!(Notice::from_payload(NoticeKind::CommandError, &status).is_err());
    }
}
