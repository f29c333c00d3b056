//! Small value types shared by every layer: addresses, message ids, ticket numbers,
//! statuses. Each constructor rejects bad input once, at the edge, so code further in can
//! trust the value. Nothing here does I/O.

mod command;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use command::{Assignee, Command};

/// Why a value was refused by one of the constructors in this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// The text is not a usable mailbox address.
    #[error("not a valid email address: {0:?}")]
    Address(String),
    /// The text is not a valid Message-ID.
    #[error("not a valid Message-ID: {0:?}")]
    MessageId(String),
    /// The text names no known ticket status.
    #[error("unknown status {0:?}")]
    Status(String),
    /// The text names no known priority.
    #[error("unknown priority {0:?}")]
    Priority(String),
    /// The text names no known participant role.
    #[error("unknown participant role {0:?} (requester or cc)")]
    Role(String),
    /// The text names no known notification preference.
    #[error("unknown notification preference {0:?} (all or assigned)")]
    StaffNotify(String),
    /// The text is not a department's assignment rule.
    #[error("unknown assignment {0:?} (empty, \"round-robin\" or a staff address)")]
    Assignment(String),
    /// The text names no known notification preference of a customer.
    #[error("unknown notification preference {0:?} (all or replies)")]
    CustomerNotify(String),
    /// The text names no known purpose of a one-time token.
    #[error("unknown token purpose {0:?} (verify or reset)")]
    TokenPurpose(String),
    /// The text names no known message source.
    #[error("unknown message source {0:?} (pipe, maildir:DIR, imap:NAME or quarantine-retry)")]
    Source(String),
}

/// A mailbox address, lower-cased so that two spellings of one mailbox compare equal.
///
/// The check is deliberately modest (one `@`, a non-empty local part, a domain with no
/// spaces or angle brackets): mail in the wild is messy, and the job here is to refuse
/// what cannot be a mailbox, not to implement RFC 5321 in full.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses and normalises an address such as `Jane@Example.COM`.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let trimmed = text.trim().trim_start_matches('<').trim_end_matches('>').trim();
        let bad = || DomainError::Address(text.chars().take(200).collect());
        let (local, domain) = trimmed.rsplit_once('@').ok_or_else(bad)?;
        let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>,;\"@".contains(c);
        // A quoted local part (RFC 5322 3.4.1) may hold spaces and specials, not quotes,
        // backslashes or control characters: `"jane doe"@example.org`.
        let quoted = local.len() > 2
            && local.starts_with('"')
            && local.ends_with('"')
            && !local[1..local.len() - 1].contains(|c: char| c.is_control() || c == '"' || c == '\\');
        if local.is_empty()
            || domain.is_empty()
            || trimmed.len() > 320
            || (!quoted && local.contains(forbidden))
            || domain.contains(forbidden)
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(bad());
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The address as text, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A Message-ID without its angle brackets, as it is compared and stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    /// Accepts `<id@host>` or `id@host`; refuses empty ids and ids with spaces.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let id = text.trim().trim_start_matches('<').trim_end_matches('>').trim();
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>';
        if id.is_empty() || id.len() > 998 || id.contains(bad) {
            return Err(DomainError::MessageId(text.chars().take(200).collect()));
        }
        Ok(Self(id.to_string()))
    }

    /// The id without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as it is written in a header: `<id>`.
    pub fn bracketed(&self) -> String {
        format!("<{}>", self.0)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// A row id of one kind, so that a contact's id is never taken for a comment's.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

id_type!(
    /// The number customers see in `[Support #42]`; it is the ticket's primary key.
    TicketNumber
);
id_type!(
    /// A contact's primary key.
    ContactId
);
id_type!(
    /// A comment's primary key.
    CommentId
);
id_type!(
    /// An organisation's primary key.
    OrganisationId
);

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $err:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable text stored in the database and shown in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stable text (case-insensitive, `_` and spaces taken as `-`).
            pub fn parse(text: &str) -> Result<Self, DomainError> {
                let wanted = text.trim().to_lowercase().replace(['_', ' '], "-");
                match wanted.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::$err(text.chars().take(100).collect())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(text: &str) -> Result<Self, DomainError> {
                Self::parse(text)
            }
        }

        text_column!($name);
    };
}

/// Stores a type as TEXT in its one textual form (`as_str`) and reads it back with
/// `FromStr`, on every backend: a row whose text names no value fails to decode, naming
/// the text.
macro_rules! text_column {
    ($name:ty) => {
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            String: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, DB>>::encode(self.to_string(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
            }
        }
    };
}

text_enum!(
    /// Where a ticket is in its life (ST4).
    Status, Status, {
        Open => "open",
        InProgress => "in-progress",
        WaitingOnCustomer => "waiting-on-customer",
        WaitingOnVendor => "waiting-on-vendor",
        Resolved => "resolved",
        Closed => "closed",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// How urgent a ticket is (ST4).
    Priority, Priority, {
        Low => "low",
        Medium => "medium",
        High => "high",
        Urgent => "urgent",
    }
);

text_enum!(
    /// How someone takes part in a ticket.
    Role, Role, {
        Requester => "requester",
        Cc => "cc",
    }
);

text_enum!(
    /// Which staff notifications a staff member gets: those of all tickets of their
    /// departments, or only of tickets assigned to them.
    StaffNotify, StaffNotify, {
        All => "all",
        Assigned => "assigned",
    }
);

text_enum!(
    /// Which mail a customer gets about their tickets: every update, or only the replies of
    /// staff (no status notices).
    CustomerNotify, CustomerNotify, {
        All => "all",
        Replies => "replies",
    }
);

text_enum!(
    /// What a one-time link of a portal account is for.
    TokenPurpose, TokenPurpose, {
        Verify => "verify",
        Reset => "reset",
    }
);

impl Status {
    /// The statuses in which the ball is with staff: a customer's wait for an answer counts
    /// against the response target only then (not while waiting on them or a vendor).
    pub const AWAITING_STAFF: [Status; 2] = [Status::Open, Status::InProgress];

    /// Whether a ticket may go from this status to `to` (MISSION ST4). Work moves freely
    /// between the active statuses and to any end; a resolved ticket may be reopened or
    /// closed; a closed or cancelled one only reopened. Staying put is always allowed (and
    /// changes nothing).
    pub fn may_move_to(self, to: Status) -> bool {
        use Status::*;
        if self == to {
            return true;
        }
        match self {
            Open | InProgress | WaitingOnCustomer | WaitingOnVendor => true,
            Resolved => matches!(to, Open | Closed),
            Closed | Cancelled => to == Open,
        }
    }

    /// The statuses this one may move to (itself left out), for error messages.
    pub fn next(self) -> Vec<Status> {
        Status::ALL.iter().copied().filter(|s| *s != self && self.may_move_to(*s)).collect()
    }

    /// Whether the ticket still needs work (not resolved, closed or cancelled).
    pub fn is_active(self) -> bool {
        !matches!(self, Status::Resolved | Status::Closed | Status::Cancelled)
    }
}

/// Where an inbound message came from, as recorded with it: `pipe` (`maildesk ingest`),
/// `maildir:<dir>`, `imap:<mailbox name>`, `quarantine-retry`, `portal`, or `import:<file>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Piped in by the MTA (`maildesk ingest`).
    Pipe,
    /// Delivered into this Maildir.
    Maildir(String),
    /// Fetched from the configured IMAP mailbox of this name.
    Imap(String),
    /// Applied again from the quarantine (`maildesk quarantine retry`).
    QuarantineRetry,
    /// Written by a signed-in customer in the portal.
    Portal,
    /// Imported from an old mbox file or Maildir (`maildesk import`).
    Import(String),
}

impl std::str::FromStr for Source {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Source(text.chars().take(100).collect());
        match text.split_once(':') {
            _ if text == "pipe" => Ok(Source::Pipe),
            _ if text == "quarantine-retry" => Ok(Source::QuarantineRetry),
            _ if text == "portal" => Ok(Source::Portal),
            Some(("maildir", dir)) if !dir.is_empty() => Ok(Source::Maildir(dir.to_string())),
            Some(("imap", name)) if !name.is_empty() => Ok(Source::Imap(name.to_string())),
            Some(("import", path)) if !path.is_empty() => Ok(Source::Import(path.to_string())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pipe => f.pad("pipe"),
            Source::Maildir(dir) => f.pad(&format!("maildir:{dir}")),
            Source::Imap(name) => f.pad(&format!("imap:{name}")),
            Source::QuarantineRetry => f.pad("quarantine-retry"),
            Source::Portal => f.pad("portal"),
            Source::Import(path) => f.pad(&format!("import:{path}")),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

text_column!(Source);

/// How a department's new tickets are assigned (`departments[].assign`): not at all, in
/// turn among its staff, or always to one staff member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Assignment {
    /// Left unassigned (written as an empty string).
    #[default]
    Nobody,
    /// In turn among the department's staff (`round-robin`).
    RoundRobin,
    /// Always to this staff member.
    To(EmailAddress),
}

impl std::str::FromStr for Assignment {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, DomainError> {
        match text.trim() {
            "" => Ok(Assignment::Nobody),
            "round-robin" => Ok(Assignment::RoundRobin),
            address => EmailAddress::parse(address)
                .map(Assignment::To)
                .map_err(|_| DomainError::Assignment(text.chars().take(100).collect())),
        }
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assignment::Nobody => Ok(()),
            Assignment::RoundRobin => f.write_str("round-robin"),
            Assignment::To(address) => f.write_str(address.as_str()),
        }
    }
}

impl Serialize for Assignment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Assignment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_and_checked() {
        let a = EmailAddress::parse(" <Jane.Doe@Example.COM> ").unwrap();
        assert_eq!(a.as_str(), "jane.doe@example.com");
        assert_eq!(a.domain(), "example.com");
        assert_eq!(a.local_part(), "jane.doe");
        for bad in ["", "jane", "@example.com", "jane@", "ja ne@example.com", "a@b@c", "x@.com", "\"\"@x.org"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        // A quoted local part holds what an atom cannot; never quotes, backslashes or controls.
        assert_eq!(EmailAddress::parse("\"Jane Doe\"@Example.org").unwrap().local_part(), "\"jane doe\"");
        for bad in ["\"a\"b\"@x.org", "\"a\\b\"@x.org", "\"a\nb\"@x.org", "\"a\" b@x.org"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn message_ids_lose_brackets() {
        let id = MessageId::parse("<abc.123@host>").unwrap();
        assert_eq!(id.as_str(), "abc.123@host");
        assert_eq!(id.bracketed(), "<abc.123@host>");
        assert!(MessageId::parse("<>").is_err());
        assert!(MessageId::parse("a b@c").is_err());
        assert!(MessageId::parse("a\0b@c").is_err());
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()).unwrap(), *s);
        }
        assert_eq!(Status::parse("Waiting on Customer").unwrap(), Status::WaitingOnCustomer);
        assert!(Status::parse("maybe").is_err());
        assert_eq!(Priority::parse("URGENT").unwrap(), Priority::Urgent);
        assert_eq!("cc".parse::<Role>().unwrap(), Role::Cc);
        assert!("owner".parse::<Role>().is_err());
        assert_eq!(StaffNotify::Assigned.to_string(), "assigned");
    }

    #[test]
    fn sources_have_one_textual_form() {
        for source in [
            Source::Pipe,
            Source::Maildir("/var/mail/support".into()),
            Source::Imap("sales:eu".into()),
            Source::QuarantineRetry,
            Source::Portal,
        ] {
            assert_eq!(source.to_string().parse::<Source>().unwrap(), source);
        }
        assert_eq!("imap:support".parse::<Source>().unwrap(), Source::Imap("support".into()));
        for bad in ["", "imap:", "maildir:", "test", "smtp:x"] {
            assert!(bad.parse::<Source>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn assignments_have_one_textual_form() {
        for (text, rule) in [
            ("", Assignment::Nobody),
            ("round-robin", Assignment::RoundRobin),
            ("Ann@Example.org", Assignment::To(EmailAddress::parse("ann@example.org").unwrap())),
        ] {
            let parsed: Assignment = text.parse().unwrap();
            assert_eq!(parsed, rule);
            assert_eq!(parsed.to_string().parse::<Assignment>().unwrap(), rule);
        }
        assert!("round robin".parse::<Assignment>().is_err());
    }

    #[test]
    fn the_allowed_moves() {
        use Status::*;
        for from in [Open, InProgress, WaitingOnCustomer, WaitingOnVendor] {
            assert!(Status::ALL.iter().all(|to| from.may_move_to(*to)), "{from} moves anywhere");
        }
        assert!(Resolved.may_move_to(Open) && Resolved.may_move_to(Closed));
        assert!(!Resolved.may_move_to(InProgress) && !Resolved.may_move_to(Cancelled));
        assert!(Closed.may_move_to(Open) && !Closed.may_move_to(Resolved) && !Closed.may_move_to(WaitingOnCustomer));
        assert!(Cancelled.may_move_to(Open) && !Cancelled.may_move_to(Closed));
        assert!(Closed.may_move_to(Closed), "staying put");
        assert_eq!(Closed.next(), vec![Open]);
    }
}
