//! Reading mail: raw bytes in, a typed [`Interpretation`] out. `parse` (mail-parser) →
//! `classify` (auto-reply, bounce, list, our own mail) → `thread` (which ticket) → `reply`
//! (new text vs quoted history). Pure: no database, no files, no clock, no network, so it
//! is easy to test on fixtures and to fuzz. `maildesk parse --json` prints exactly this.

mod auth;
mod bodies;
mod bounce;
mod charset;
mod classify;
mod commands;
mod html;
mod parse;
mod reply;
mod reply_address;
mod ses;
mod thread;
mod uuencode;

use serde::Serialize;

use crate::domain::{EmailAddress, TicketNumber};

pub use auth::Authentication;
pub use bounce::Bounce;
pub use classify::Auto;
pub use commands::{Commands, split as split_commands};
pub use reply::visible_reply;
pub use reply_address::{ReplyAddress, ReplyAddresses, forged_seen};
pub use thread::{Thread, ThreadBy, clean_subject};

/// Why a message cannot be interpreted at all (it goes to the quarantine).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    /// The bytes are empty.
    #[error("empty message")]
    Empty,
    /// The bytes do not have the shape of an Internet message.
    #[error("not an email message (no header block)")]
    NotMail,
    /// A person's mail names no usable sender address (From, then Sender, Reply-To,
    /// Return-Path): nobody to answer. See [`Interpretation::refusal`].
    #[error("no usable sender address (From, Sender, Reply-To, Return-Path)")]
    NoSender,
    /// More MIME parts than `limits.max_parts` allows.
    #[error("message has {0} MIME parts; limits.max_parts allows {1}")]
    TooManyParts(usize, usize),
}

/// How many MIME parts a message may have unless configured otherwise.
pub const DEFAULT_MAX_PARTS: usize = 1000;

/// At most this many recipient addresses shaped like our reply addresses are checked per
/// mail (each check is an HMAC); the rest are ignored.
pub const MAX_REPLY_ADDRESSES_CHECKED: usize = 10;

/// What inbound needs to know about this helpdesk. Built once; cheap to share.
#[derive(Debug, Clone)]
pub struct Settings {
    tag: thread::SubjectTag,
    own_domain: String,
    max_parts: usize,
    reply_addresses: Option<ReplyAddresses>,
    trusted_authserv_id: Option<String>,
}

impl Settings {
    /// Settings for the subject tag word `tag` (as in `[Support #42]`) and the domain of
    /// our own Message-IDs, used to recognise our own mail coming back.
    pub fn new(tag: &str, own_domain: &str) -> Settings {
        Settings {
            tag: thread::SubjectTag::new(tag),
            own_domain: own_domain.to_ascii_lowercase(),
            max_parts: DEFAULT_MAX_PARTS,
            reply_addresses: None,
            trusted_authserv_id: None,
        }
    }

    /// Recognise signed reply addresses made with `addresses` (without them, a reply
    /// address says nothing).
    pub fn reply_addresses(mut self, addresses: ReplyAddresses) -> Settings {
        self.reply_addresses = Some(addresses);
        self
    }

    /// Believe the `Authentication-Results` of the receiving server whose authserv-id is
    /// `id` (`desk.trusted_authserv_id`); without it, no sender counts as authenticated.
    pub fn trusted_authserv_id(mut self, id: &str) -> Settings {
        let id = id.trim();
        self.trusted_authserv_id = (!id.is_empty()).then(|| id.to_string());
        self
    }

    /// Refuse messages with more than `n` MIME parts (see `limits.max_parts`).
    pub fn max_parts(mut self, n: usize) -> Settings {
        self.max_parts = n;
        self
    }

    /// Whether the 12-digit reply-address MACs of earlier versions are still accepted
    /// (decided at start from the date stored on the first start of this version).
    pub fn accept_legacy_reply_addresses(mut self, accept: bool) -> Settings {
        self.reply_addresses = self.reply_addresses.map(|r| r.accept_legacy(accept));
        self
    }
}

/// One recipient a bounce reports on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRecipient {
    /// The recipient's address.
    pub address: EmailAddress,
    /// The enhanced status code (`5.1.1`), when the report gives one.
    pub status: Option<String>,
    /// `failed` or `delayed` (or another RFC 3464 action).
    pub action: String,
}

/// The sender of a message: display name and address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// Display name, when the mail gave one.
    pub name: Option<String>,
    /// The address, lower-cased; `None` for the null sender (`<>`, a daemon without a
    /// domain) and for mail that names no usable address in From, Sender, Reply-To or
    /// Return-Path. Only automatic mail is acted on without one ([`Interpretation::refusal`]).
    pub address: Option<EmailAddress>,
}

/// An attachment as the interpretation shows it; `bytes` stay out of the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    /// The file name the mail gives it; `None` when it gives none.
    pub filename: Option<String>,
    /// The name people see: the mail's own, else one made from the type (or from the
    /// subject of a forwarded message). Not part of the interpretation.
    #[serde(skip)]
    pub display_name: String,
    /// MIME type, `type/subtype`.
    pub content_type: String,
    /// Size of the decoded content in bytes.
    pub size: usize,
    /// Whether it is shown inside the message (inline image) rather than attached.
    pub inline: bool,
    /// Its Content-ID without brackets, for `cid:` references.
    #[serde(skip)]
    pub content_id: Option<String>,
    /// The decoded content.
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Everything maildesk reads from one message. Field names and shapes are a contract:
/// `maildesk parse --json` prints this, and other tools rely on it.
#[derive(Debug, Clone, Serialize)]
pub struct Interpretation {
    /// Message-ID without brackets.
    pub message_id: Option<String>,
    /// The sender.
    pub from: Sender,
    /// To addresses.
    pub to: Vec<EmailAddress>,
    /// Cc addresses.
    pub cc: Vec<EmailAddress>,
    /// Reply-To addresses.
    pub reply_to: Vec<EmailAddress>,
    /// The decoded subject (empty when there was none).
    pub subject: String,
    /// The Date header as RFC 3339, when valid.
    pub date: Option<String>,
    /// The whole plain-text body (from text/plain, or converted from HTML).
    pub text: String,
    /// The HTML body, sanitised; null when the mail had none.
    pub html: Option<String>,
    /// The new text: `text` without quoted history and signature.
    pub reply: String,
    /// Attachments, inline parts and forwarded messages.
    pub attachments: Vec<Attachment>,
    /// What kind of automatic mail this is; null for mail a person wrote.
    pub auto: Option<Auto>,
    /// For a bounce: the recipients it reports on; null for other mail.
    pub bounce: Option<Bounce>,
    /// Which ticket this belongs to, and how that was found.
    pub thread: Thread,
    /// The Message-ID this answers, without brackets.
    pub in_reply_to: Option<String>,
    /// The References chain, oldest first, without brackets.
    pub references: Vec<String>,
    /// A recipient address shaped like our signed reply address of this ticket, with a
    /// MAC that does not match: noted on the ticket the mail opens, never followed.
    #[serde(skip)]
    pub forged_reference: Option<TicketNumber>,
    /// Whether the mail came through a staff member's own reply address, signed for its
    /// From: the only way commands are honoured.
    #[serde(skip)]
    pub staff_reply_address: bool,
    /// What the trusted receiving server found out about the From domain.
    #[serde(skip)]
    pub authentication: Authentication,
    /// The receiving server marked the mail as spam (`X-Spam-Flag: YES`,
    /// `X-Spam-Status: Yes`): recorded, never answered.
    #[serde(skip)]
    pub spam: bool,
}

impl Interpretation {
    /// Why desk may not act on this mail, if it may not: a person's mail (not automatic)
    /// needs a sender address to answer. Automatic mail without one is still recorded.
    pub fn refusal(&self) -> Option<InboundError> {
        (self.auto.is_none() && self.from.address.is_none()).then_some(InboundError::NoSender)
    }

    /// The ticket of a valid signed reply address among the recipients, if any.
    pub fn reply_address_ticket(&self) -> Option<TicketNumber> {
        (self.thread.by == Some(ThreadBy::ReplyAddress)).then_some(self.thread.ticket).flatten()
    }

    /// The ticket number in the subject tag, if there is one.
    pub fn subject_tag(&self, settings: &Settings) -> Option<TicketNumber> {
        settings.tag.find(&self.subject)
    }

    /// Message-IDs this mail refers to, most specific first (In-Reply-To, then the
    /// References from newest to oldest), without repeats, at most 50.
    pub fn referenced_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        let newest_first = self.in_reply_to.iter().chain(self.references.iter().rev());
        for id in newest_first {
            if !ids.contains(&id.as_str()) {
                ids.push(id);
            }
            if ids.len() == 50 {
                break;
            }
        }
        ids
    }
}

/// Interprets one raw message. `thread` is filled from what the message itself says: its
/// subject tag, or a reference to one of our own Message-IDs. Desk decides again against
/// the store (through [`Thread::resolve`]), which alone knows whether a reference is real.
pub fn interpret(raw: &[u8], settings: &Settings) -> Result<Interpretation, InboundError> {
    let parsed = parse::parse(raw, settings.max_parts)?;
    // An SES notification is read once, for the class and for the bounce's recipients.
    let notification = ses::in_message(&parsed.text, &parsed.attachments);
    let auto = classify::classify(&parsed, notification.as_ref(), &settings.own_domain);
    let bounce = (auto == Some(Auto::Bounce)).then(|| {
        let references = parsed.in_reply_to.iter().chain(&parsed.references);
        let sender = parsed.from.address.as_ref();
        bounce::report(&parsed.attachments, &parsed.text, notification, sender, &settings.own_domain, references)
    });
    let reply = reply::visible_reply(&parsed.reply_source, &parsed.subject);
    let tag = settings.tag.find(&parsed.subject);
    let sender = parsed.from.address.as_ref();
    let reply_address = settings.reply_addresses.as_ref().zip(sender).and_then(|(r, sender)| {
        // Only the first few addresses shaped like ours cost an HMAC each: a reply has one.
        let recipients = parsed.to.iter().chain(&parsed.cc).chain(&parsed.delivered_to);
        let found: Vec<ReplyAddress> =
            recipients.filter_map(|a| r.check(a, sender)).take(MAX_REPLY_ADDRESSES_CHECKED).collect();
        for forged in found.iter().filter_map(|f| if let ReplyAddress::Forged(t) = f { Some(t) } else { None }) {
            let total = reply_address::count_forged();
            tracing::warn!(ticket = forged.0, forged_total = total, "forged reply address among the recipients");
        }
        let staff = found.iter().find(|f| matches!(f, ReplyAddress::Staff(_)));
        staff.or(found.iter().find(|f| matches!(f, ReplyAddress::Valid(_)))).or(found.first()).copied()
    });
    let (valid_reply, forged_reference, staff_reply_address) = match reply_address {
        Some(ReplyAddress::Staff(t)) => (Some(t), None, true),
        Some(ReplyAddress::Valid(t)) => (Some(t), None, false),
        Some(ReplyAddress::Forged(t)) => (None, Some(t), false),
        None => (None, None, false),
    };
    let authentication = match (&settings.trusted_authserv_id, sender) {
        (Some(id), Some(sender)) => auth::verdict(&parsed.headers, id, sender.domain()),
        _ => Authentication::Unknown,
    };
    let spam = parsed.headers.iter().any(|(name, value)| {
        let value = value.trim_start();
        match name.as_str() {
            "x-spam-flag" => value.eq_ignore_ascii_case("yes"),
            "x-spam-status" => value.get(..3).is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            _ => false,
        }
    });
    let mut attachments = parsed.attachments;
    if parsed.subject_cut {
        // The title keeps the start of an overlong subject; the whole header stays with
        // the message, kept as it came.
        attachments.push(Attachment {
            filename: Some("original-message.eml".into()),
            display_name: "original-message.eml".into(),
            content_type: "message/rfc822".into(),
            size: raw.len(),
            inline: false,
            content_id: None,
            bytes: raw.to_vec(),
        });
    }
    let mut mail = Interpretation {
        message_id: parsed.message_id,
        from: parsed.from,
        to: parsed.to,
        cc: parsed.cc,
        reply_to: parsed.reply_to,
        subject: parsed.subject,
        date: parsed.date,
        text: parsed.text,
        html: parsed.html,
        reply,
        attachments,
        auto,
        bounce,
        thread: Thread::resolve(None, None, tag),
        in_reply_to: parsed.in_reply_to,
        references: parsed.references,
        forged_reference,
        staff_reply_address,
        authentication,
        spam,
    };
    let own = thread::own_reference(mail.referenced_ids(), &settings.own_domain);
    mail.thread = Thread::resolve(valid_reply, own, tag);
    Ok(mail)
}

/// What a signed-in customer writes in the portal, as an interpretation: the words they
/// typed (all new, nothing quoted), the files they chose, a Message-ID of ours, and a From
/// their session proved. The portal's words then take the path of a mail's.
pub fn written(
    from: Sender,
    subject: &str,
    text: &str,
    message_id: String,
    attachments: Vec<Attachment>,
) -> Interpretation {
    let text = text.replace("\r\n", "\n").replace('\r', "\n").trim_end().to_string();
    Interpretation {
        message_id: Some(message_id),
        from,
        to: Vec::new(),
        cc: Vec::new(),
        reply_to: Vec::new(),
        subject: subject.trim().to_string(),
        date: None,
        reply: text.clone(),
        text,
        html: None,
        attachments,
        auto: None,
        bounce: None,
        thread: Thread::resolve(None, None, None),
        in_reply_to: None,
        references: Vec::new(),
        forged_reference: None,
        staff_reply_address: false,
        // The session proved the address: as good as a passed DMARC check.
        authentication: Authentication::Pass,
        spam: false,
    }
}

/// The identity of a message for exactly-once processing: its Message-ID, or the SHA-256
/// of its bytes when it has none.
pub fn fingerprint(raw: &[u8], message_id: Option<&str>) -> String {
    use sha2::Digest;
    match message_id {
        Some(id) => format!("mid:{id}"),
        None => format!("sha256:{}", hex::encode(sha2::Sha256::digest(raw))),
    }
}

/// Every phrase an alternation of literal words spells out: `(a|b)`, `x?`, `(…)?`, `[oa]`
/// and `\s` (a space); with `verbose`, in `(?x)` syntax (white space is not matched).
#[cfg(test)]
pub(crate) fn spell_out(pattern: &str, verbose: bool) -> Vec<String> {
    fn alternatives(chars: &[char], i: &mut usize, verbose: bool) -> Vec<String> {
        let mut all = Vec::new();
        let mut current = vec![String::new()];
        while *i < chars.len() {
            let c = chars[*i];
            *i += 1;
            let piece: Vec<String> = match c {
                ')' => break,
                '|' => {
                    all.append(&mut current);
                    current = vec![String::new()];
                    continue;
                }
                '(' => alternatives(chars, i, verbose),
                '[' => {
                    let end = chars[*i..].iter().position(|&c| c == ']').unwrap() + *i;
                    let class = chars[*i..end].iter().map(|c| c.to_string()).collect();
                    *i = end + 1;
                    class
                }
                '\\' => {
                    assert_eq!(chars[*i], 's', "only \\s is spelled out");
                    *i += 1;
                    vec![" ".to_string()]
                }
                c if c.is_whitespace() && verbose => continue,
                c => vec![c.to_string()],
            };
            let optional = chars.get(*i) == Some(&'?');
            if optional {
                *i += 1;
            }
            let mut next = Vec::new();
            for head in &current {
                if optional {
                    next.push(head.clone());
                }
                next.extend(piece.iter().map(|p| format!("{head}{p}")));
            }
            current = next;
        }
        all.append(&mut current);
        all
    }
    let chars: Vec<char> = pattern.chars().collect();
    alternatives(&chars, &mut 0, verbose)
}

/// The golden interpretations of every fixture under `mail-fixtures/` (their `.json`), for
/// unit tests that check a rule against all of them.
#[cfg(test)]
pub(crate) fn fixture_interpretations() -> Vec<serde_json::Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures");
    let mut out = Vec::new();
    for group in std::fs::read_dir(&root).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
        for file in std::fs::read_dir(group.path()).unwrap().filter_map(|e| e.ok()) {
            let path = file.path();
            if path.extension().is_some_and(|x| x == "json") && !path.to_string_lossy().ends_with(".expect.json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
            }
        }
    }
    out
}
