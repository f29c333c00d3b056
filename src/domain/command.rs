//! What staff may tell the desk to do to a ticket, whichever way they say it: `#status`
//! lines at the top of a mail (read by `inbound::commands`), `maildesk ticket …` at the
//! command line, and later the staff pages. Desk applies them, with the same rules for all.

use super::{EmailAddress, Priority, Status};

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `#status <status>`.
    Status(Status),
    /// `#priority <priority>`.
    Priority(Priority),
    /// `#assign <email|me|nobody>`.
    Assign(Assignee),
    /// `#note`: the text becomes an internal note, never sent to customers.
    Note,
    /// `#close`: the ticket is closed.
    Close,
    /// `#cc add <email>`: the address becomes a participant.
    CcAdd(EmailAddress),
    /// `#cc remove <email>`: the participant is taken off the ticket.
    CcRemove(EmailAddress),
}

/// Who `#assign` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// The sender.
    Me,
    /// No one: the ticket is unassigned.
    Nobody,
    /// This staff member.
    Address(EmailAddress),
}
