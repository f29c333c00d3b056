//! Who is told what. Desk writes each notification as an outbox row inside the
//! transaction of the change that caused it; outbound renders and sends it later.

use crate::App;
use crate::domain::{ContactId, CustomerNotify, EmailAddress, Status, TicketNumber};
use crate::inbound::{self, Interpretation};
use crate::notice::{
    AcknowledgementData, CommandErrorData, InviteData, Notice, NoticeKind, ParticipantsData, PortalLinks, RelayedFile,
    StaffNoticeData, StaffReplyData, StatusData,
};
use crate::store::{NewOutboxRow, StoreError, Tx};

/// The From address of mail about `ticket`: the first address of an IMAP mailbox that
/// feeds the ticket's department, or none (the desk's own address).
async fn sender_for(app: &App, tx: &mut Tx, ticket: TicketNumber) -> Result<Option<String>, StoreError> {
    let config = app.config();
    if !config.imap.iter().any(|m| m.department.is_some() && !m.addresses.is_empty()) {
        return Ok(None); // no department has an address of its own: nothing to look up
    }
    let Some(department) = tx.ticket_department(ticket).await? else { return Ok(None) };
    let mailbox = config.imap.iter().find(|m| m.department.as_deref() == Some(department.as_str()));
    Ok(mailbox.and_then(|m| m.addresses.first()).map(|a| a.to_string()))
}

/// At most this many Message-IDs are carried in References: enough to thread in every
/// client, short enough for every server.
const MAX_REFERENCES: usize = 20;

/// A fresh Message-ID of ours for a notification about `ticket`: `md.<ticket>.<random>@<domain>`.
pub fn new_message_id(app: &App, ticket: TicketNumber) -> String {
    format!("md.{}.{:016x}@{}", ticket.0, rand::random::<u64>(), app.config().desk.address.domain())
}

/// The References of a mail answering `mail`: its own chain plus its Message-ID, capped.
fn references_for(mail: &Interpretation) -> Vec<String> {
    let mut refs: Vec<String> = mail.references.clone();
    if let Some(id) = &mail.message_id
        && !refs.contains(id)
    {
        refs.push(id.clone());
    }
    cap_references(&mut refs);
    refs
}

/// Keeps at most [`MAX_REFERENCES`] ids: the first (the thread's root) and the most recent.
fn cap_references(refs: &mut Vec<String>) {
    let excess = refs.len().saturating_sub(MAX_REFERENCES);
    if excess > 0 {
        refs.drain(1..=excess);
    }
}

/// How our mail threads: In-Reply-To, References, and to whom each of our own
/// Message-IDs among those References went.
struct Threading {
    in_reply_to: Option<String>,
    references: Vec<String>,
    /// Our earlier mails about the ticket, with their recipients.
    addressed: std::collections::HashMap<String, String>,
}

impl From<(Option<String>, Vec<String>)> for Threading {
    fn from((in_reply_to, references): (Option<String>, Vec<String>)) -> Threading {
        Threading { in_reply_to, references, addressed: Default::default() }
    }
}

/// In-Reply-To and References for our mail about `ticket`: the last mail that came in, and
/// the whole conversation (theirs, then ours). Each recipient later gets only the ids of
/// our mail to them ([`Letter::queue`]).
async fn conversation_threading(tx: &mut Tx, ticket: TicketNumber) -> Result<Threading, StoreError> {
    let (inbound, ours) = tx.conversation_ids(ticket).await?;
    let mut refs: Vec<String> = Vec::new();
    for id in inbound.iter().chain(ours.iter().map(|(id, _)| id)) {
        if !refs.contains(id) {
            refs.push(id.clone());
        }
    }
    Ok(Threading { in_reply_to: inbound.last().cloned(), references: refs, addressed: ours.into_iter().collect() })
}

/// The reply threading of our mail answering `mail`: In-Reply-To its Message-ID,
/// References its chain plus it.
fn answering(mail: &Interpretation) -> (Option<String>, Vec<String>) {
    (mail.message_id.clone(), references_for(mail))
}

/// Where the customer follows ticket `ticket` in the portal.
fn portal_url(app: &App, ticket: TicketNumber) -> String {
    PortalLinks::new(&app.config().portal).request(ticket)
}

/// The customers on `ticket`: its participants, without our own addresses.
async fn customers(app: &App, tx: &mut Tx, ticket: TicketNumber) -> Result<Vec<EmailAddress>, StoreError> {
    let config = app.config();
    let ours = config.own_addresses();
    let participants = tx.participant_addresses(ticket).await?;
    Ok(participants.iter().filter_map(|p| EmailAddress::parse(p).ok()).filter(|a| !ours.contains(&a)).collect())
}

/// One notification about a ticket, the same for each of its recipients: kind, From,
/// threading and template data.
struct Letter {
    kind: NoticeKind,
    ticket: TicketNumber,
    sender: Option<String>,
    in_reply_to: Option<String>,
    references: Vec<String>,
    /// Our earlier mails among `references`, with their recipients.
    addressed: std::collections::HashMap<String, String>,
    payload: String,
    attachments: Option<String>,
}

impl Letter {
    /// A letter carrying `notice` about `ticket`.
    async fn new(
        app: &App,
        tx: &mut Tx,
        notice: &Notice,
        ticket: TicketNumber,
        threading: impl Into<Threading>,
    ) -> Result<Letter, StoreError> {
        let payload =
            notice.payload().map_err(|source| StoreError::Encode { what: "a notification's payload", source })?;
        let sender = sender_for(app, tx, ticket).await?;
        let Threading { in_reply_to, references, addressed } = threading.into();
        let kind = notice.kind();
        Ok(Letter { kind, ticket, sender, in_reply_to, references, addressed, payload, attachments: None })
    }

    /// Queues the letter to every customer on the ticket — never to our own addresses, to
    /// one known to bounce, or to `author` (a staff member's own reply). Automatic kinds
    /// go only where loop protection lets them. Returns how many were queued, and for
    /// each customer it was withheld from, who and why.
    async fn queue_to_customers(
        &self,
        app: &App,
        tx: &mut Tx,
        author: Option<&EmailAddress>,
    ) -> Result<(usize, Vec<String>), StoreError> {
        let automatic = self.kind.is_automatic();
        let (mut queued, mut withheld_from) = (0, Vec::new());
        for address in customers(app, tx, self.ticket).await? {
            if Some(&address) == author {
                continue;
            }
            // A customer who asked for replies only (their profile) is not told of updates.
            if self.kind.is_update() && tx.customer_notify(address.as_str()).await? == Some(CustomerNotify::Replies) {
                continue;
            }
            let withheld = match automatic {
                true => withhold_automatic(app, tx, self.ticket, &address).await?,
                false => tx.is_bouncing(address.as_str()).await?.then(|| "an address that bounces".to_string()),
            };
            if let Some(why) = withheld {
                tracing::info!(ticket = self.ticket.0, kind = %self.kind, reason = %why, "notification withheld");
                withheld_from.push(format!("{address}: {why}"));
                continue;
            }
            self.queue(app, tx, address.as_str()).await?;
            queued += 1;
        }
        Ok((queued, withheld_from))
    }

    /// Queues the letter to `recipient` under a Message-ID of ours that threads back here
    /// (replies find the ticket by the outbox row's Message-ID).
    ///
    /// The References carry our earlier mails to this recipient only: a Message-ID of our
    /// mail to one customer never reaches another, so that a bounce quoting it proves that
    /// it came back from that customer's address.
    async fn queue(&self, app: &App, tx: &mut Tx, recipient: &str) -> Result<(), StoreError> {
        let message_id = new_message_id(app, self.ticket);
        let mut references: Vec<String> = self
            .references
            .iter()
            .filter(|id| self.addressed.get(id.as_str()).is_none_or(|to| to == recipient))
            .cloned()
            .collect();
        cap_references(&mut references);
        tx.enqueue(&NewOutboxRow {
            kind: self.kind.as_str(),
            ticket: Some(self.ticket),
            recipient,
            message_id: &message_id,
            in_reply_to: self.in_reply_to.as_deref(),
            references: &references,
            payload: &self.payload,
            sender: self.sender.as_deref(),
            attachments: self.attachments.as_deref(),
        })
        .await
        .map(|_| ())
    }
}

/// When the hourly cap on all automatic mail was last announced in the log (Unix seconds),
/// so that reaching it is said once a minute rather than for every mail held back.
static CAP_ANNOUNCED: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Local parts of addresses that never read what they get.
static NO_REPLY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"^(no-?reply|do-?not-?reply|donotreply|noreply[-_.+].*|no[-_.]reply[-_.+].*|mailer-daemon|postmaster|bounces?([-_.+].*)?|notifications?)$",
    )
    .expect("valid pattern")
});

/// Why automatic mail about `ticket` to `recipient` must not be sent now, if it must not: a
/// no-reply style address, one known to bounce, or an hourly cap reached — per recipient
/// or per ticket (loop protection).
async fn withhold_automatic(
    app: &App,
    tx: &mut Tx,
    ticket: impl Into<Option<TicketNumber>>,
    recipient: &EmailAddress,
) -> Result<Option<String>, StoreError> {
    let ticket = ticket.into();
    let local = recipient.local_part();
    let may_be_no_reply = ["reply", "daemon", "postmaster", "bounce", "notification"].iter().any(|w| local.contains(w));
    if may_be_no_reply && NO_REPLY.is_match(local) {
        return Ok(Some("a no-reply address".into()));
    }
    let now = crate::store::now();
    let config = app.config();
    let all_cap = config.outbox.max_automatic_per_hour;
    let automatic = NoticeKind::automatic();
    let record =
        tx.automatic_mail_record(recipient.as_str(), ticket, &automatic, now - 3600, i64::from(all_cap)).await?;
    if record.bouncing {
        return Ok(Some("an address that bounces".into()));
    }
    if record.to_anyone >= i64::from(all_cap) {
        let last = CAP_ANNOUNCED.load(std::sync::atomic::Ordering::Relaxed);
        if now - last >= 60 && CAP_ANNOUNCED.swap(now, std::sync::atomic::Ordering::Relaxed) == last {
            tracing::warn!(
                cap = all_cap,
                "outbox.max_automatic_per_hour reached: no automatic mail (acknowledgements, invitations, \
                 status notices) goes out until the hour's count falls; tickets are still opened"
            );
        }
        return Ok(Some(format!("{all_cap} automatic mails in the last hour (outbox.max_automatic_per_hour)")));
    }
    let (cap, recent) = (config.outbox.max_automatic_per_recipient_per_hour, record.to_recipient);
    if recent >= i64::from(cap) {
        return Ok(Some(format!("{recent} automatic mails to this address in the last hour (cap {cap})")));
    }
    let (cap, recent) = (config.outbox.max_automatic_per_ticket_per_hour, record.about_ticket);
    if ticket.is_some() && recent >= i64::from(cap) {
        return Ok(Some(format!("{recent} automatic mails about this ticket in the last hour (cap {cap})")));
    }
    Ok(None)
}

/// How the acknowledgement of a new request is written.
pub(super) struct Welcome<'a> {
    /// Whether it repeats the start of the request (only for authenticated senders, or
    /// when `outbox.quote_request` is on).
    pub quote: bool,
    /// The others put on the request by its Cc.
    pub participants: &'a [EmailAddress],
}

/// Queues the acknowledgement of a new request to its sender, threaded under their mail,
/// and the invitation to the portal of a first-time sender, unless loop protection
/// withholds them.
pub(super) async fn welcome(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    contact_id: ContactId,
    mail: &Interpretation,
    from: &EmailAddress,
    how: &Welcome<'_>,
) -> Result<(), StoreError> {
    acknowledge(app, tx, ticket, contact_id, mail, from, how).await.map(|_| ())
}

/// The sender's display name to greet them with: only where their words may be repeated
/// (an unauthenticated From's name is text of anyone's choosing), and at most 100
/// characters.
fn greeting_name(mail: &Interpretation, trusted: bool) -> Option<String> {
    mail.from.name.as_deref().filter(|_| trusted).map(|n| n.chars().take(100).collect())
}

/// Queues the acknowledgement; false when loop protection withheld it.
async fn acknowledge(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    contact_id: ContactId,
    mail: &Interpretation,
    from: &EmailAddress,
    how: &Welcome<'_>,
) -> Result<bool, StoreError> {
    // One mail, not two: a first-time sender's invitation rides on the acknowledgement,
    // and neither goes out where loop protection withholds it.
    if let Some(why) = withhold_automatic(app, tx, ticket, from).await? {
        tracing::info!(ticket = ticket.0, reason = %why, "acknowledgement withheld");
        return Ok(false);
    }
    let invite = match app.config().portal.invite {
        true => super::invitations::create(tx, contact_id).await?,
        false => None,
    };
    let subject = inbound::clean_subject(&mail.subject);
    let suggestions = super::kb_mail::suggestions(app, tx, ticket, contact_id, &subject).await?;
    let data = AcknowledgementData {
        ticket,
        subject,
        summary: if how.quote { mail.reply.chars().take(400).collect() } else { String::new() },
        name: greeting_name(mail, how.quote),
        portal_url: portal_url(app, ticket),
        participants: how.participants.iter().map(|a| a.to_string()).collect(),
        invite,
        token: None,
        suggestions,
    };
    let letter = Letter::new(app, tx, &Notice::Acknowledgement(data), ticket, answering(mail)).await?;
    letter.queue(app, tx, from.as_str()).await?;
    Ok(true)
}

/// A staff member's public reply, as it is relayed.
pub(super) struct Reply<'a> {
    /// Who wrote it (never shown to customers).
    pub author: &'a EmailAddress,
    /// Their name, if known.
    pub name: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// The status the reply set, if it changed.
    pub status: Option<crate::domain::Status>,
    /// Files sent along.
    pub files: &'a [RelayedFile],
}

/// Queues a staff member's public reply to every customer on the ticket (never to our own
/// addresses, the author, or addresses known to bounce), threaded under the conversation.
pub(super) async fn staff_reply(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    subject: &str,
    reply: &Reply<'_>,
) -> Result<(usize, Vec<String>), StoreError> {
    let data = StaffReplyData {
        ticket,
        subject: subject.to_string(),
        body: reply.body.to_string(),
        portal_url: portal_url(app, ticket),
        author: reply.name.map(|n| n.replace(['\r', '\n'], " ").trim().to_string()).filter(|n| !n.is_empty()),
        status: reply.status.map(|s| s.as_str().replace('-', " ")),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let mut letter = Letter::new(app, tx, &Notice::StaffReply(data), ticket, threading).await?;
    if !reply.files.is_empty() {
        let files = serde_json::to_string(reply.files);
        letter.attachments = Some(files.map_err(|source| StoreError::Encode { what: "a reply's files", source })?);
    }
    letter.queue_to_customers(app, tx, Some(reply.author)).await
}

/// Queues a status notification (`notice` is [`Notice::StatusChange`], `Resolved`,
/// `Reopened` or `AutoClosed`) to every customer on the ticket that automatic mail may
/// reach.
pub(super) async fn status_change(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    subject: &str,
    notice: fn(StatusData) -> Notice,
    status: crate::domain::Status,
) -> Result<usize, StoreError> {
    let data = StatusData {
        ticket,
        subject: subject.to_string(),
        status: status.as_str().replace('-', " "),
        portal_url: portal_url(app, ticket),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &notice(data), ticket, threading).await?;
    Ok(letter.queue_to_customers(app, tx, None).await?.0)
}

/// Queues a staff notification (`notice` is [`Notice::StaffNewTicket`] or
/// `StaffCustomerReply`) about `mail` to the staff of the ticket's department.
pub(super) async fn staff_notice(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    notice: fn(StaffNoticeData) -> Notice,
    mail: &Interpretation,
    from: &EmailAddress,
) -> Result<usize, StoreError> {
    let staff = staff_recipients(app, tx, ticket).await?;
    if staff.is_empty() {
        return Ok(0);
    }
    let customer = match &mail.from.name {
        Some(name) => format!("{name} <{from}>"),
        None => from.to_string(),
    };
    let data = StaffNoticeData {
        ticket,
        subject: tx.ticket_subject(ticket).await?.unwrap_or_default(),
        customer,
        text: mail.reply.chars().take(10_000).collect(),
    };
    let letter = Letter::new(app, tx, &notice(data), ticket, answering(mail)).await?;
    let mut queued = 0;
    for member in staff.iter().filter(|s| s.as_str() != from.as_str()) {
        letter.queue(app, tx, member).await?;
        queued += 1;
    }
    Ok(queued)
}

/// Queues `notice`, mail about an account rather than a ticket, to `recipient` — unless it
/// is one of our own addresses or loop protection withholds it (portal mail counts in the
/// caps on automatic mail).
/// Returns whether it was queued.
pub(super) async fn account_mail(
    app: &App,
    tx: &mut Tx,
    notice: &Notice,
    recipient: &EmailAddress,
) -> Result<bool, StoreError> {
    let config = app.config();
    if config.own_addresses().contains(&recipient) {
        tracing::info!(kind = %notice.kind(), "account mail to one of our own addresses withheld");
        return Ok(false);
    }
    if let Some(why) = withhold_automatic(app, tx, None, recipient).await? {
        tracing::info!(kind = %notice.kind(), reason = %why, "account mail withheld");
        return Ok(false);
    }
    let payload =
        notice.payload().map_err(|source| StoreError::Encode { what: "an account mail's payload", source })?;
    let message_id = format!("md.account.{:016x}@{}", rand::random::<u64>(), config.desk.address.domain());
    let row = NewOutboxRow {
        kind: notice.kind().as_str(),
        ticket: None,
        recipient: recipient.as_str(),
        message_id: &message_id,
        in_reply_to: None,
        references: &[],
        payload: &payload,
        sender: None,
        attachments: None,
    };
    tx.enqueue(&row).await?;
    Ok(true)
}

/// The notification that tells customers of a move to `status`.
pub(super) fn notice_kind(status: Status) -> fn(StatusData) -> Notice {
    match status {
        Status::Resolved | Status::Closed => Notice::Resolved,
        _ => Notice::StatusChange,
    }
}

/// A customer's change of their ticket's status in the portal (solved, cancelled,
/// reopened).
pub(super) struct CustomerChange<'a> {
    /// Who changed it.
    pub actor: &'a EmailAddress,
    /// Their name, if known.
    pub name: &'a str,
    /// What they did, in words for staff ("Marked as solved: now resolved").
    pub what: &'a str,
    /// The status it has now.
    pub status: crate::domain::Status,
}

/// Queues what a customer's change of status tells: the ticket's staff hear of it, and the
/// other customers on it get the usual status notice (not the customer who made it).
pub(super) async fn customer_status(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    change: &CustomerChange<'_>,
) -> Result<(), StoreError> {
    let subject = tx.ticket_subject(ticket).await?.unwrap_or_default();
    let staff = staff_recipients(app, tx, ticket).await?;
    if !staff.is_empty() {
        let customer = match change.name.trim() {
            "" => change.actor.to_string(),
            name => format!("{} <{}>", name.replace(['\r', '\n'], " "), change.actor),
        };
        let data = StaffNoticeData { ticket, subject: subject.clone(), customer, text: change.what.to_string() };
        let threading = conversation_threading(tx, ticket).await?;
        let letter = Letter::new(app, tx, &Notice::StaffCustomerStatus(data), ticket, threading).await?;
        for member in &staff {
            letter.queue(app, tx, member).await?;
        }
    }
    let data = StatusData {
        ticket,
        subject,
        status: change.status.as_str().replace('-', " "),
        portal_url: portal_url(app, ticket),
    };
    let notice = match change.status {
        Status::Open => Notice::Reopened(data),
        status => notice_kind(status)(data),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &notice, ticket, threading).await?;
    letter.queue_to_customers(app, tx, Some(change.actor)).await?;
    Ok(())
}

/// The staff told of news on `ticket`: the members of its department (or of every
/// department) who want all of its notifications, and its assignee in any case.
async fn staff_recipients(app: &App, tx: &mut Tx, ticket: TicketNumber) -> Result<Vec<String>, StoreError> {
    let roster = super::roster::load(app, tx).await?;
    if roster.members.is_empty() {
        return Ok(Vec::new()); // no staff at all: nothing to look up
    }
    let Some(state) = tx.ticket_state(ticket).await? else { return Ok(Vec::new()) };
    Ok(roster.told_about(state.department.as_deref(), state.assignee.as_deref()))
}

/// Queues the notice that `ticket` was assigned to `to` by `by`, with what `by` wrote.
pub(super) async fn assigned(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    to: &str,
    by: &EmailAddress,
    text: &str,
) -> Result<usize, StoreError> {
    let data = StaffNoticeData {
        ticket,
        subject: tx.ticket_subject(ticket).await?.unwrap_or_default(),
        customer: by.to_string(),
        text: text.chars().take(10_000).collect(),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &Notice::StaffAssigned(data), ticket, threading).await?;
    letter.queue(app, tx, to).await?;
    Ok(1)
}

/// Tells staff member `to` that the commands of `mail` were not applied, and why. Nothing
/// of the mail was applied.
pub(super) async fn command_error(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    mail: &Interpretation,
    to: &EmailAddress,
    problems: &[String],
) -> Result<usize, StoreError> {
    if let Some(why) = withhold_automatic(app, tx, ticket, to).await? {
        tracing::info!(ticket = ticket.0, reason = %why, "command error notice withheld");
        return Ok(0);
    }
    let data = CommandErrorData {
        ticket,
        subject: tx.ticket_subject(ticket).await?.unwrap_or_default(),
        problems: problems.to_vec(),
        text: mail.reply.chars().take(10_000).collect(),
    };
    let letter = Letter::new(app, tx, &Notice::CommandError(data), ticket, answering(mail)).await?;
    letter.queue(app, tx, to.as_str()).await?;
    Ok(1)
}

/// Queues a portal invitation (`invite`, already made or renewed) to `recipient`, asked
/// for by a person rather than sent automatically: threaded under `ticket`'s conversation
/// when they have one, else about no ticket. Staff's invitations have no caps; one asked
/// for by a customer (`by`, a primary contact) and one about no ticket count in the caps on
/// automatic mail. The caller checks that the address may be mailed. Returns whether it
/// was queued.
pub(super) async fn invite_contact(
    app: &App,
    tx: &mut Tx,
    ticket: Option<TicketNumber>,
    invite: i64,
    recipient: &EmailAddress,
    name: Option<String>,
    by: Option<String>,
) -> Result<bool, StoreError> {
    let by_customer = by.is_some();
    let notice = Notice::Invite(InviteData { invite, ticket, name, by, token: None });
    let Some(ticket) = ticket else { return account_mail(app, tx, &notice, recipient).await };
    if by_customer && let Some(why) = withhold_automatic(app, tx, ticket, recipient).await? {
        tracing::info!(ticket = ticket.0, reason = %why, "invitation withheld");
        return Ok(false);
    }
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &notice, ticket, threading).await?;
    letter.queue(app, tx, recipient.as_str()).await?;
    Ok(true)
}

/// Tells the requester of `ticket` that `added` now take part in it (and get its mail),
/// unless the requester added them or is among them. Loop protection applies.
pub(super) async fn participants_added(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    added: &[EmailAddress],
    by: &str,
) -> Result<usize, StoreError> {
    let Some(requester) = tx.ticket_requester(ticket).await?.and_then(|r| EmailAddress::parse(&r).ok()) else {
        return Ok(0);
    };
    if added.is_empty() || requester.as_str() == by || added.contains(&requester) {
        return Ok(0);
    }
    if let Some(why) = withhold_automatic(app, tx, ticket, &requester).await? {
        tracing::info!(ticket = ticket.0, reason = %why, "participant notice withheld");
        return Ok(0);
    }
    let data = ParticipantsData {
        ticket,
        subject: tx.ticket_subject(ticket).await?.unwrap_or_default(),
        added: added.iter().map(|a| a.to_string()).collect(),
        by: by.to_string(),
        portal_url: portal_url(app, ticket),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &Notice::ParticipantAdded(data), ticket, threading).await?;
    letter.queue(app, tx, requester.as_str()).await?;
    Ok(1)
}

/// Tells staff member `to` that their public reply on `ticket` reached no customer, and
/// why (`problems`: one line per customer it was withheld from).
pub(super) async fn undelivered(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    to: &EmailAddress,
    problems: &[String],
    text: &str,
) -> Result<usize, StoreError> {
    let data = CommandErrorData {
        ticket,
        subject: tx.ticket_subject(ticket).await?.unwrap_or_default(),
        problems: problems.to_vec(),
        text: text.chars().take(10_000).collect(),
    };
    let threading = conversation_threading(tx, ticket).await?;
    let letter = Letter::new(app, tx, &Notice::Undelivered(data), ticket, threading).await?;
    letter.queue(app, tx, to.as_str()).await?;
    Ok(1)
}
