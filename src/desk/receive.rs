//! What one interpreted message does: a new request opens a ticket, a reply becomes a
//! comment, automatic mail is recorded, a repeat changes nothing. Each in the caller's
//! transaction, the fingerprint claimed first.

use super::staff::{self, StaffError};
use tracing::info;

use super::{Origin, Outcome, notify, roster};
use crate::App;
use crate::domain::{Assignment, ContactId, EmailAddress, Priority, Role, Status, TicketNumber};
use crate::inbound::{self, Authentication, Interpretation, Thread, ThreadBy};
use crate::notice::Notice;
use crate::store::{NewAttachment, NewComment, NewTicket, StoreError, Tx};

pub(super) async fn apply(
    app: &App,
    mail: &Interpretation,
    fingerprint: &str,
    origin: Origin<'_>,
) -> Result<Outcome, StoreError> {
    let mut tx = app.store.begin_fenced(origin.fence).await?;
    let outcome = apply_in(app, &mut tx, mail, fingerprint, origin).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// How far a message may be believed about the ticket it names: the trust levels, weakest
/// first. Only a signed reply address (or staff) may widen who is on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Trust {
    /// A subject tag only — anyone can copy one — or any mail whose From the trusted
    /// receiving server found forged (DMARC fail).
    SubjectTag,
    /// In-Reply-To or References naming a Message-ID the store knows for the ticket: known
    /// to everyone who saw that mail.
    References,
    /// A reply address signed for the ticket: handed out only in our mail about it.
    Signed,
}

/// The ticket a message names, as desk found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Named {
    /// The ticket.
    pub ticket: TicketNumber,
    /// How it was named.
    pub trust: Trust,
    /// The ticket is not resolved, closed or cancelled.
    pub active: bool,
    /// For a finished ticket: whether it finished within `desk.reopen_days`.
    pub within_reopen_window: bool,
}

/// What desk knows about a (non-automatic) message before deciding what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Facts {
    /// The ticket it names, if that ticket exists.
    pub named: Option<Named>,
    /// It came through a staff member's own reply address, signed for its From.
    pub staff_address: bool,
    /// Its From is a staff member's address.
    pub sender_is_staff: bool,
    /// Its From takes part in the named ticket.
    pub sender_on_ticket: bool,
    /// What the trusted receiving server said of the From domain.
    pub authentication: Authentication,
    /// Its From (address or domain) is on the blocklist.
    pub blocked: bool,
    /// Mail to its From is marked as bouncing (cleared now that it writes to us again).
    pub bouncing: bool,
    /// The receiving server marked it as spam.
    pub spam: bool,
    /// Its From is one of our own addresses.
    pub ours: bool,
    /// `outbox.quote_request`: acknowledgements quote every request.
    pub quote_request: bool,
}

/// What a message does: the decision, before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// From a blocked sender: recorded, neither ticketed nor answered.
    Blocked,
    /// A staff member through their own staff reply address: commands and a relayed reply.
    Staff(TicketNumber),
    /// A staff reply address signed for someone who is staff no more: an internal note.
    FormerStaff(TicketNumber),
    /// A staff member's From that did not come through their staff reply address (or whose
    /// domain failed DMARC): anyone can write that, so it is an internal note marked
    /// unverified — never a public word of staff, never a status change.
    UnverifiedStaff(TicketNumber),
    /// A comment on the ticket.
    Comment {
        /// The ticket.
        ticket: TicketNumber,
        /// It was finished within the reopen window: the comment reopens it.
        reopen: bool,
        /// The Cc of the mail join the ticket (a participant writing through a signed
        /// reply address).
        add_cc: bool,
    },
    /// A new ticket.
    Open(NewRequest),
    /// Mail of the desk's own or a staff address in an imported archive: a public comment
    /// of staff on the ticket it names; naming none, a ticket of its first customer
    /// recipient that staff opened (to none, it cannot be filed).
    Archived(Option<TicketNumber>),
}

/// How a message is applied: as it arrives, or from an archive of old mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Mail arriving now: every rule, with its acknowledgements and notifications.
    Live,
    /// Old mail being imported (`maildesk import`): the same threading, duplicate and
    /// automatic-mail rules, but nothing goes out (no acknowledgement, notification,
    /// invitation or bounce mark), the desk's and staff's mail is staff's comment, and the
    /// transaction's clock (set by the caller) is the mail's date.
    Import,
}

/// How a new ticket is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NewRequest {
    /// The finished ticket (past the reopen window) this mail answers.
    pub follows_up: Option<TicketNumber>,
    /// A ticket the mail named but may not speak on: linked by an internal note.
    pub named_elsewhere: Option<(TicketNumber, Trust)>,
    /// The Cc of the mail become participants.
    pub add_cc: bool,
    /// The sender gets an acknowledgement (and a first-time sender an invitation).
    pub answer: bool,
    /// The acknowledgement repeats the start of the request.
    pub quote: bool,
}

/// Decides what a message does from what desk knows about it. Pure: every rule of who may
/// speak on a ticket, and who may bring others onto it, is here.
pub(super) fn decide(f: &Facts) -> Route {
    if f.blocked {
        return Route::Blocked;
    }
    let forged_from = f.authentication == Authentication::Fail;
    if let Some(named) = f.named {
        let t = named.ticket;
        // A From the receiving server found forged puts the mail at the lowest level.
        let trust = if forged_from { Trust::SubjectTag } else { named.trust };
        if f.staff_address && !forged_from {
            return if f.sender_is_staff { Route::Staff(t) } else { Route::FormerStaff(t) };
        }
        if f.sender_is_staff {
            return Route::UnverifiedStaff(t);
        }
        // A signed address was handed out for this ticket; a subject tag or a reference can
        // be copied by anyone, so they file mail only for those already on the ticket. A
        // From the receiving server found forged is nobody's: it speaks for no one on it.
        let on_ticket = f.sender_on_ticket && !forged_from;
        if trust == Trust::Signed || on_ticket {
            let add_cc = trust == Trust::Signed && on_ticket;
            if named.active || named.within_reopen_window {
                return Route::Comment { ticket: t, reopen: !named.active, add_cc };
            }
            return Route::Open(new_request(f, Some(t), None));
        }
        return Route::Open(new_request(f, None, Some((t, trust))));
    }
    Route::Open(new_request(f, None, None))
}

/// Decides what a message of an imported archive does: the desk's and staff's mail is a
/// staff comment on the ticket it names (the archive's owner vouches for it, and no
/// command in it is obeyed); anything else as [`decide`] says, never answered.
pub(super) fn decide_imported(f: &Facts) -> Route {
    if !f.blocked && (f.sender_is_staff || f.ours) {
        return Route::Archived(f.named.map(|n| n.ticket));
    }
    match decide(f) {
        Route::Open(request) => Route::Open(NewRequest { answer: false, ..request }),
        other => other,
    }
}

fn new_request(
    f: &Facts,
    follows_up: Option<TicketNumber>,
    named_elsewhere: Option<(TicketNumber, Trust)>,
) -> NewRequest {
    let forged_from = f.authentication == Authentication::Fail;
    NewRequest {
        follows_up,
        named_elsewhere,
        add_cc: !forged_from && !f.spam,
        answer: !forged_from && !f.spam && !f.ours,
        quote: f.authentication == Authentication::Pass || f.quote_request,
    }
}

/// Applies one interpreted message inside `tx`, which the caller commits: the fingerprint
/// claimed first (a repeat writes nothing), then the facts are read, the route decided, and
/// its effect and notifications written.
pub(super) async fn apply_in(
    app: &App,
    tx: &mut Tx,
    mail: &Interpretation,
    fingerprint: &str,
    origin: Origin<'_>,
) -> Result<Outcome, StoreError> {
    apply_mode(app, tx, mail, fingerprint, origin, Mode::Live).await
}

/// [`apply_in`] in either [`Mode`].
pub(super) async fn apply_mode(
    app: &App,
    tx: &mut Tx,
    mail: &Interpretation,
    fingerprint: &str,
    origin: Origin<'_>,
    mode: Mode,
) -> Result<Outcome, StoreError> {
    let Some(blobs) = claim(app, tx, mail, fingerprint, origin.source).await? else { return Ok(Outcome::Duplicate) };
    if let Some(kind) = mail.auto {
        if mode == Mode::Live {
            record_bounce(tx, mail).await?;
        }
        tx.set_outcome(fingerprint, kind.as_str(), None).await?;
        return Ok(Outcome::Automatic(kind));
    }
    // Intake refuses a person's mail without a sender address (Interpretation::refusal);
    // a caller that did not ask gets the same refusal here, as an error that quarantines.
    let Some(from) = mail.from.address.as_ref() else {
        return Err(StoreError::Refused(inbound::InboundError::NoSender.to_string()));
    };
    let incoming = Incoming { mail, from, blobs: &blobs };
    let facts = facts(app, tx, mail, from).await?;
    let route = match mode {
        Mode::Live => decide(&facts),
        Mode::Import => decide_imported(&facts),
    };
    let outcome = match route {
        Route::Blocked => {
            info!(reason = "blocked sender", "message recorded, not ticketed");
            tx.set_outcome(fingerprint, "blocked", None).await?;
            return Ok(Outcome::Blocked);
        }
        Route::Staff(t) => from_staff(app, tx, t, incoming).await?,
        Route::FormerStaff(t) => {
            let note = format!("{from} (no longer staff) wrote through a staff reply address:\n\n{}", mail.reply);
            internal_note(tx, t, &note).await?;
            Outcome::Commented(t)
        }
        Route::UnverifiedStaff(t) => {
            let note = format!(
                "UNVERIFIED: a mail with the From of staff member {} came in without their staff reply address, \
                 so anyone may have written it. It was not sent to the customer and changed nothing.\n\n{}",
                from, mail.reply
            );
            internal_note(tx, t, &note).await?;
            // The other staff hear of it, as of any mail on the ticket (never the customers).
            notify::staff_notice(app, tx, t, Notice::StaffCustomerReply, mail, from).await?;
            Outcome::Commented(t)
        }
        Route::Comment { ticket, reopen, add_cc } => {
            clear_bouncing(tx, from, &facts).await?;
            comment(app, tx, incoming, ticket, Commenting { reopen, add_cc, mode }).await?
        }
        Route::Open(request) => {
            clear_bouncing(tx, from, &facts).await?;
            open(app, tx, incoming, &Start::by_mail(origin), &request, mode).await?
        }
        Route::Archived(Some(ticket)) => archived_staff_comment(tx, ticket, incoming).await?,
        Route::Archived(None) => archived_staff_opens(app, tx, incoming, origin).await?,
    };
    if let Some(t) = outcome.ticket()
        && !matches!(route, Route::Staff(_))
        && let Some(id) = &mail.message_id
    {
        tx.add_thread_id(id, t).await?;
    }
    tx.set_outcome(fingerprint, outcome.as_str(), outcome.ticket()).await?;
    Ok(outcome)
}

/// Stores the attachments of `mail` and claims its fingerprint: the blob names, in order;
/// none when the fingerprint was claimed before (a repeat, which must write nothing).
async fn claim(
    app: &App,
    tx: &mut Tx,
    mail: &Interpretation,
    fingerprint: &str,
    source: &crate::domain::Source,
) -> Result<Option<Vec<String>>, StoreError> {
    // Blobs first: content-addressed and idempotent, so a rollback leaves no harm.
    let mut blobs = Vec::with_capacity(mail.attachments.len());
    for a in &mail.attachments {
        blobs.push(app.store.blobs.put(&a.bytes).map_err(StoreError::Blob)?);
    }
    let claimed = tx.claim_fingerprint(fingerprint, mail.message_id.as_deref(), source).await?;
    Ok(claimed.then_some(blobs))
}

/// What a customer's words from the portal do, decided by the caller (who has checked that
/// the customer may see the ticket): the same effects as their mail's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Written<'a> {
    /// A comment on a ticket they may see; `reopen`: it is finished within the reopen
    /// window, and the comment opens it again.
    Comment {
        /// The ticket.
        ticket: TicketNumber,
        /// Whether the comment reopens it.
        reopen: bool,
    },
    /// A new ticket.
    Open {
        /// How it starts.
        start: Start<'a>,
        /// The finished ticket it follows up, if any.
        follows_up: Option<TicketNumber>,
    },
}

/// Applies words written in the portal inside `tx`, which the caller commits: the
/// fingerprint claimed first (a form sent twice writes nothing the second time), then the
/// comment or ticket with its notifications, exactly as for a customer's mail.
pub(super) async fn apply_written(
    app: &App,
    tx: &mut Tx,
    mail: &Interpretation,
    fingerprint: &str,
    written: Written<'_>,
) -> Result<Outcome, StoreError> {
    let Some(blobs) = claim(app, tx, mail, fingerprint, &crate::domain::Source::Portal).await? else {
        return Ok(Outcome::Duplicate);
    };
    let Some(from) = mail.from.address.as_ref() else {
        return Err(StoreError::Refused(inbound::InboundError::NoSender.to_string()));
    };
    let incoming = Incoming { mail, from, blobs: &blobs };
    let outcome = match written {
        Written::Comment { ticket, reopen } => {
            let how = Commenting { reopen, add_cc: false, mode: Mode::Live };
            comment(app, tx, incoming, ticket, how).await?
        }
        Written::Open { start, follows_up } => {
            let request = NewRequest { follows_up, named_elsewhere: None, add_cc: false, answer: true, quote: true };
            open(app, tx, incoming, &start, &request, Mode::Live).await?
        }
    };
    if let (Some(t), Some(id)) = (outcome.ticket(), &mail.message_id) {
        tx.add_thread_id(id, t).await?;
    }
    tx.set_outcome(fingerprint, outcome.as_str(), outcome.ticket()).await?;
    Ok(outcome)
}

/// A person's mail as desk files it: the interpretation, its sender's address (which such
/// mail always has) and the blob names of its attachments, in order.
#[derive(Clone, Copy)]
struct Incoming<'m> {
    mail: &'m Interpretation,
    from: &'m EmailAddress,
    blobs: &'m [String],
}

/// Reads what [`decide`] needs: the named ticket and how it was named, who the sender is
/// to it, and what the receiving server said.
async fn facts(app: &App, tx: &mut Tx, mail: &Interpretation, from: &EmailAddress) -> Result<Facts, StoreError> {
    let by_references = tx.ticket_for_message_ids(&mail.referenced_ids()).await?;
    // Mail to a reply address of ours whose signature does not match follows nothing: it
    // opens a ticket of its own, with a note.
    let thread = match mail.forged_reference {
        Some(_) => Thread::resolve(None, None, None),
        None => Thread::resolve(mail.reply_address_ticket(), by_references, mail.subject_tag(&app.inbound)),
    };
    let mut named = None;
    if let (Some(t), Some(by)) = (thread.ticket, thread.by)
        && let Some((status, changed)) = tx.ticket_status(t).await?
    {
        let trust = match by {
            ThreadBy::ReplyAddress => Trust::Signed,
            ThreadBy::References => Trust::References,
            ThreadBy::SubjectTag => Trust::SubjectTag,
        };
        let active = status.is_active();
        // Measured at the transaction's clock: an imported mail's date.
        let within_reopen_window = super::lifecycle::within_reopen_window_at(app, changed, tx.clock());
        named = Some(Named { ticket: t, trust, active, within_reopen_window });
    }
    // Who the sender is, in one read: blocked, bouncing, staff, on the named ticket.
    let sender = tx.sender_record(from, named.map(|n| n.ticket)).await?;
    let config = app.config();
    Ok(Facts {
        named,
        staff_address: mail.staff_reply_address,
        sender_is_staff: sender.staff || roster::in_config(app, from),
        sender_on_ticket: sender.on_ticket,
        authentication: mail.authentication,
        blocked: sender.blocked,
        bouncing: sender.bouncing,
        spam: mail.spam,
        ours: config.own_addresses().contains(&from),
        quote_request: config.outbox.quote_request,
    })
}

/// A sender marked as bouncing writes to us again: whatever bounced before reaches them
/// now, or will say so again.
async fn clear_bouncing(tx: &mut Tx, from: &EmailAddress, facts: &Facts) -> Result<(), StoreError> {
    if facts.bouncing {
        tx.clear_bouncing(from.as_str()).await?;
    }
    Ok(())
}

/// A bounce that names recipients who failed for good marks them as bouncing — only when it
/// is about mail we sent them (one of its returned Message-IDs is of our mail to that
/// address): anyone can write a bounce naming anyone.
async fn record_bounce(tx: &mut Tx, mail: &Interpretation) -> Result<(), StoreError> {
    let Some(bounce) = &mail.bounce else { return Ok(()) };
    let failed = bounce.recipients.iter().filter(|r| r.action == "failed");
    for recipient in failed.filter(|r| r.status.as_deref().is_none_or(|s| s.starts_with('5'))) {
        let address = recipient.address.as_str();
        if !tx.sent_to(address, &bounce.returned_ids).await? {
            info!(reason = "names no mail of ours to the address", "bounce report not believed");
            continue;
        }
        let reason = format!("bounce report, status {}", recipient.status.as_deref().unwrap_or("unknown"));
        tx.mark_bouncing(address, &reason).await?;
    }
    Ok(())
}

/// How a customer's mail becomes a comment: whether it reopens the ticket, whether its Cc
/// join it, and whether anyone is told ([`Mode::Live`]).
#[derive(Debug, Clone, Copy)]
struct Commenting {
    reopen: bool,
    add_cc: bool,
    mode: Mode,
}

/// Adds a customer's mail to `ticket` as a public comment (reopening it when asked), with
/// its Cc as participants when the route allows it.
async fn comment(
    app: &App,
    tx: &mut Tx,
    incoming: Incoming<'_>,
    ticket: TicketNumber,
    how: Commenting,
) -> Result<Outcome, StoreError> {
    let Incoming { mail, from, blobs } = incoming;
    let Commenting { reopen, add_cc, mode } = how;
    let live = mode == Mode::Live;
    let author = super::contacts::upsert(app, tx, from, mail.from.name.as_deref().unwrap_or_default()).await?;
    // Latest activity, the customer's wait starts (unless it runs), and a ticket waiting on
    // them is open again: one statement.
    tx.customer_wrote(ticket).await?;
    if add_cc && !mail.cc.is_empty() {
        let added = add_cc_participants(app, tx, ticket, mail, from).await?;
        if live {
            notify::participants_added(app, tx, ticket, &added, from.as_str()).await?;
        }
    }
    insert_mail_comment(tx, ticket, author, mail, blobs, false).await?;
    if reopen {
        tx.set_ticket_status(ticket, Status::Open).await?;
        if live {
            let subject = tx.ticket_subject(ticket).await?.unwrap_or_default();
            notify::status_change(app, tx, ticket, &subject, Notice::Reopened, Status::Open).await?;
        }
    }
    if live {
        notify::staff_notice(app, tx, ticket, Notice::StaffCustomerReply, mail, from).await?;
    }
    Ok(Outcome::Commented(ticket))
}

/// Adds the desk's or a staff member's mail from an imported archive to `ticket`: their
/// public comment, as if they had answered then (the customers wait no more). Nobody is
/// told, and no command in it is obeyed: it is history.
async fn archived_staff_comment(
    tx: &mut Tx,
    ticket: TicketNumber,
    incoming: Incoming<'_>,
) -> Result<Outcome, StoreError> {
    let Incoming { mail, from, blobs } = incoming;
    let member = tx.staff_member(from.as_str()).await?;
    let name = member.map(|m| m.name).filter(|n| !n.trim().is_empty());
    let name = name.or_else(|| mail.from.name.clone()).unwrap_or_default();
    let author = tx.upsert_contact(from, &name, None).await?;
    insert_mail_comment(tx, ticket, author, mail, blobs, true).await?;
    tx.touch_ticket(ticket).await?;
    tx.stop_awaiting(ticket).await?;
    Ok(Outcome::Commented(ticket))
}

/// Opens a ticket for the first customer among the recipients of the desk's or a staff
/// member's mail from an imported archive that names no ticket (staff wrote first), the
/// mail its first comment, of staff. Mail to no customer (between staff) cannot be filed.
async fn archived_staff_opens(
    app: &App,
    tx: &mut Tx,
    incoming: Incoming<'_>,
    origin: Origin<'_>,
) -> Result<Outcome, StoreError> {
    let Incoming { mail, from, .. } = incoming;
    let config = app.config();
    let ours = config.own_addresses();
    let mut customers = Vec::new();
    for address in mail.to.iter().chain(&mail.cc).filter(|a| !ours.contains(a) && *a != from) {
        if !roster::is_staff(app, tx, address).await? && !customers.contains(&address) {
            customers.push(address);
        }
    }
    let Some((requester, others)) = customers.split_first() else {
        return Err(StoreError::Refused(format!(
            "mail from {from} (the desk's or a staff address) names no ticket of the desk (no known Message-ID in \
             In-Reply-To or References, no subject tag) and is addressed to no customer: it cannot be filed"
        )));
    };
    let requester_id = super::contacts::upsert(app, tx, requester, "").await?;
    let organisation_id = match config.organisations.is_empty() {
        true => None,
        false => tx.contact_organisation(requester_id).await?,
    };
    let assignee = route(app, tx, origin.department).await?;
    let ticket = tx
        .insert_ticket(&NewTicket {
            subject: &inbound::clean_subject(&mail.subject),
            requester_id,
            organisation_id,
            status: Status::Open,
            priority: Priority::Medium,
            department: origin.department,
            assignee: assignee.as_deref(),
        })
        .await?;
    tx.add_participant(ticket, requester_id, Role::Requester).await?;
    for address in others.iter().take(20) {
        let id = super::contacts::upsert(app, tx, address, "").await?;
        tx.add_participant(ticket, id, Role::Cc).await?;
    }
    archived_staff_comment(tx, ticket, incoming).await?;
    Ok(Outcome::Opened(ticket))
}

/// How a new ticket starts beyond what its mail says.
#[derive(Debug, Clone, Copy)]
pub(super) struct Start<'a> {
    /// Where it came from, and the department that feeds.
    pub origin: Origin<'a>,
    /// Its priority.
    pub priority: Priority,
    /// Who wrote it for the requester (a primary contact filing for a colleague in the
    /// portal): the author of its first comment, and copied on it.
    pub writer: Option<&'a EmailAddress>,
}

impl<'a> Start<'a> {
    /// A request that came by mail: medium priority, written by its sender.
    pub fn by_mail(origin: Origin<'a>) -> Start<'a> {
        Start { origin, priority: Priority::Medium, writer: None }
    }
}

/// Opens a new ticket for `mail`: its sender the requester, its Cc participants when the
/// route allows, linked by notes to a ticket it follows up or named but may not speak on.
async fn open(
    app: &App,
    tx: &mut Tx,
    incoming: Incoming<'_>,
    start: &Start<'_>,
    request: &NewRequest,
    mode: Mode,
) -> Result<Outcome, StoreError> {
    let Incoming { mail, from, blobs } = incoming;
    let requester = super::contacts::upsert(app, tx, from, mail.from.name.as_deref().unwrap_or_default()).await?;
    let config = app.config();
    let organisation_id = match config.organisations.is_empty() {
        true => None,
        false => tx.contact_organisation(requester).await?,
    };
    let department = start.origin.department;
    let assignee = route(app, tx, department).await?;
    let ticket = tx
        .insert_ticket(&NewTicket {
            subject: &inbound::clean_subject(&mail.subject),
            requester_id: requester,
            organisation_id,
            status: Status::Open,
            priority: start.priority,
            department,
            assignee: assignee.as_deref(),
        })
        .await?;
    tx.add_participant(ticket, requester, Role::Requester).await?;
    let mut added = match request.add_cc && !mail.cc.is_empty() {
        true => add_cc_participants(app, tx, ticket, mail, from).await?,
        false => Vec::new(),
    };
    let author = match start.writer {
        Some(writer) => {
            let id = super::contacts::upsert(app, tx, writer, "").await?;
            if tx.add_participant(ticket, id, Role::Cc).await? {
                added.push(writer.clone());
            }
            id
        }
        None => requester,
    };
    insert_mail_comment(tx, ticket, author, mail, blobs, false).await?;
    if let Some(old) = request.follows_up {
        tx.set_follows_up(ticket, old).await?;
        let note = format!(
            "This mail answers ticket #{old}, which was finished more than {} days ago.",
            config.desk.reopen_days
        );
        internal_note(tx, ticket, &note).await?;
    }
    if let Some((named, trust)) = request.named_elsewhere {
        let how = match trust {
            Trust::SubjectTag if mail.authentication == Authentication::Fail => {
                "its sender's domain failed DMARC at our mail server"
            }
            Trust::SubjectTag => "by its subject tag only",
            Trust::References => "by its references only",
            Trust::Signed => "through a signed reply address",
        };
        let note = format!(
            "This mail names ticket #{named} ({how}), but its sender {from} is not on that ticket, so it was not \
             added there. If it belongs there, add the sender to #{named} and answer there."
        );
        internal_note(tx, ticket, &note).await?;
    }
    if let Some(forged) = mail.forged_reference {
        let note = format!(
            "This mail was sent to a reply address of ticket #{forged} whose signature does not match, so it was not added there."
        );
        internal_note(tx, ticket, &note).await?;
    }
    if mail.spam {
        let note =
            "The receiving mail server marked this mail as spam: it was not answered, and its Cc were not added.";
        internal_note(tx, ticket, note).await?;
    }
    if mode == Mode::Import {
        return Ok(Outcome::Opened(ticket));
    }
    if request.answer {
        let how = notify::Welcome { quote: request.quote, participants: &added };
        notify::welcome(app, tx, ticket, requester, mail, from, &how).await?;
    }
    notify::staff_notice(app, tx, ticket, Notice::StaffNewTicket, mail, from).await?;
    Ok(Outcome::Opened(ticket))
}

/// The mail's text as a public comment of `author` on `ticket`, with its attachments;
/// `from_staff`: our side wrote it.
async fn insert_mail_comment(
    tx: &mut Tx,
    ticket: TicketNumber,
    author: ContactId,
    mail: &Interpretation,
    blobs: &[String],
    from_staff: bool,
) -> Result<(), StoreError> {
    let comment_id = tx
        .insert_comment(&NewComment {
            ticket,
            author_id: Some(author),
            public: true,
            from_staff,
            body_text: &mail.text,
            body_reply: &mail.reply,
            body_html: mail.html.as_deref(),
            message_id: mail.message_id.as_deref(),
        })
        .await?;
    for a in new_attachments(mail, blobs) {
        tx.insert_attachment(comment_id, &a).await?;
    }
    Ok(())
}

/// Applies a staff member's mail that came through their own reply address: the commands
/// at its top and its text, all or nothing. What does not fit is refused with a mail to
/// them saying why, and nothing of it is applied.
async fn from_staff(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    incoming: Incoming<'_>,
) -> Result<Outcome, StoreError> {
    let Incoming { mail, from, blobs } = incoming;
    let split = inbound::split_commands(&mail.reply);
    let attachments = new_attachments(mail, blobs);
    let act = staff::Act {
        commands: split.commands,
        body: &split.body,
        message_id: mail.message_id.as_deref(),
        display_name: mail.from.name.as_deref(),
        attachments: &attachments,
    };
    let problems = if split.problems.is_empty() {
        match staff::apply(app, tx, ticket, from, &act).await {
            Ok(_) => {
                if let Some(id) = &mail.message_id {
                    tx.add_thread_id(id, ticket).await?;
                }
                return Ok(Outcome::Commented(ticket));
            }
            Err(StaffError::Store(e)) => return Err(e),
            Err(StaffError::Invalid(problems)) => problems,
            Err(e) => vec![e.to_string()],
        }
    } else {
        split.problems
    };
    notify::command_error(app, tx, ticket, mail, from, &problems).await?;
    Ok(Outcome::Refused(ticket))
}

/// The attachments of `mail` as stored, beside their blob names.
fn new_attachments<'m>(mail: &'m Interpretation, blobs: &'m [String]) -> Vec<NewAttachment<'m>> {
    mail.attachments
        .iter()
        .zip(blobs)
        .map(|(a, sha)| NewAttachment {
            filename: &a.display_name,
            content_type: &a.content_type,
            size: a.size as i64,
            sha256: sha,
            inline: a.inline,
            content_id: a.content_id.as_deref(),
        })
        .collect()
}

/// Who a new ticket of `department` is assigned to, by the department's `assign` rule.
async fn route(app: &App, tx: &mut Tx, department: Option<&str>) -> Result<Option<String>, StoreError> {
    let config = app.config();
    let Some(d) = department.and_then(|d| config.department(d)) else { return Ok(None) };
    match &d.assign {
        Assignment::Nobody => Ok(None),
        Assignment::RoundRobin => {
            let last = tx.last_assignee(&d.name).await?;
            let at = last.and_then(|l| d.staff.iter().position(|s| s.as_str() == l));
            let next = at.map_or(0, |i| (i + 1) % d.staff.len());
            Ok(d.staff.get(next).map(|a| a.to_string()))
        }
        Assignment::To(address) => Ok(Some(address.to_string())),
    }
}

/// Adds a note only staff see.
pub(super) async fn internal_note(tx: &mut Tx, ticket: TicketNumber, note: &str) -> Result<(), StoreError> {
    let comment = NewComment {
        ticket,
        author_id: None,
        public: false,
        from_staff: true,
        body_text: note,
        body_reply: note,
        body_html: None,
        message_id: None,
    };
    tx.insert_comment(&comment).await.map(|_| ())
}

/// Customers in Cc become participants (IN11); our own address never does. Returns those
/// who were not on the ticket before.
async fn add_cc_participants(
    app: &App,
    tx: &mut Tx,
    ticket: TicketNumber,
    mail: &Interpretation,
    from: &EmailAddress,
) -> Result<Vec<EmailAddress>, StoreError> {
    let config = app.config();
    let ours = config.own_addresses();
    let others = mail.cc.iter().filter(|a| !ours.contains(a) && *a != from);
    let mut added = Vec::new();
    for address in others.take(20) {
        let id = super::contacts::upsert(app, tx, address, "").await?;
        if tx.add_participant(ticket, id, Role::Cc).await? {
            added.push(address.clone());
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TicketNumber = TicketNumber(7);

    fn named(trust: Trust) -> Option<Named> {
        Some(Named { ticket: T, trust, active: true, within_reopen_window: true })
    }

    fn facts(named: Option<Named>) -> Facts {
        Facts {
            named,
            staff_address: false,
            sender_is_staff: false,
            sender_on_ticket: false,
            authentication: Authentication::Unknown,
            blocked: false,
            bouncing: false,
            spam: false,
            ours: false,
            quote_request: false,
        }
    }

    fn new_request(f: &Facts) -> NewRequest {
        match decide(f) {
            Route::Open(r) => r,
            other => panic!("expected a new ticket, got {other:?}"),
        }
    }

    #[test]
    fn only_a_signed_address_lets_a_stranger_speak_and_only_a_participants_adds_people() {
        // A stranger: through a signed address a comment (nobody added), else a ticket of
        // their own that names the one they tried.
        let stranger = facts(named(Trust::Signed));
        assert_eq!(decide(&stranger), Route::Comment { ticket: T, reopen: false, add_cc: false });
        for trust in [Trust::References, Trust::SubjectTag] {
            let r = new_request(&facts(named(trust)));
            assert_eq!((r.named_elsewhere, r.follows_up), (Some((T, trust)), None));
        }
        // A participant: a comment at any level, but only the signed address adds people.
        for (trust, add_cc) in [(Trust::Signed, true), (Trust::References, false), (Trust::SubjectTag, false)] {
            let f = Facts { sender_on_ticket: true, ..facts(named(trust)) };
            assert_eq!(decide(&f), Route::Comment { ticket: T, reopen: false, add_cc }, "{trust:?}");
        }
    }

    #[test]
    fn finished_tickets_reopen_within_the_window_and_are_followed_up_after_it() {
        let finished =
            |within| Some(Named { ticket: T, trust: Trust::Signed, active: false, within_reopen_window: within });
        let f = Facts { sender_on_ticket: true, ..facts(finished(true)) };
        assert_eq!(decide(&f), Route::Comment { ticket: T, reopen: true, add_cc: true });
        let f = Facts { sender_on_ticket: true, ..facts(finished(false)) };
        assert_eq!(new_request(&f).follows_up, Some(T));
    }

    #[test]
    fn staff_speak_only_through_their_own_address() {
        let through = Facts { staff_address: true, sender_is_staff: true, ..facts(named(Trust::Signed)) };
        assert_eq!(decide(&through), Route::Staff(T));
        let former = Facts { staff_address: true, ..facts(named(Trust::Signed)) };
        assert_eq!(decide(&former), Route::FormerStaff(T));
        for trust in [Trust::Signed, Trust::References, Trust::SubjectTag] {
            let other_way = Facts { sender_is_staff: true, sender_on_ticket: true, ..facts(named(trust)) };
            assert_eq!(decide(&other_way), Route::UnverifiedStaff(T));
        }
        let forged = Facts { authentication: Authentication::Fail, ..through };
        assert_eq!(decide(&forged), Route::UnverifiedStaff(T));
    }

    #[test]
    fn a_from_found_forged_speaks_for_no_one_on_the_ticket() {
        // Even through a signed address, on the ticket or not, it opens a ticket of its own
        // at the lowest level, answered by nobody, its Cc added to nothing.
        let f = Facts { sender_on_ticket: true, authentication: Authentication::Fail, ..facts(named(Trust::Signed)) };
        let r = new_request(&f);
        assert_eq!((r.named_elsewhere, r.answer, r.add_cc), (Some((T, Trust::SubjectTag)), false, false));
    }

    #[test]
    fn in_an_imported_archive_staff_mail_is_staffs_and_no_one_is_answered() {
        // Staff's or the desk's own mail, however it came, is staff's comment where it
        // names a ticket, and starts one where it names none; a blocked sender stays blocked.
        for f in [
            Facts { sender_is_staff: true, ..facts(named(Trust::SubjectTag)) },
            Facts { ours: true, ..facts(named(Trust::References)) },
        ] {
            assert_eq!(decide_imported(&f), Route::Archived(Some(T)));
        }
        assert_eq!(decide_imported(&Facts { sender_is_staff: true, ..facts(None) }), Route::Archived(None));
        let blocked = Facts { blocked: true, sender_is_staff: true, ..facts(None) };
        assert_eq!(decide_imported(&blocked), Route::Blocked);
        // Customers' mail goes where the mail path sends it, never answered.
        let on_ticket = Facts { sender_on_ticket: true, ..facts(named(Trust::References)) };
        assert_eq!(decide_imported(&on_ticket), decide(&on_ticket));
        match decide_imported(&Facts { authentication: Authentication::Pass, ..facts(None) }) {
            Route::Open(r) => assert!(!r.answer && r.add_cc),
            other => panic!("expected a new ticket, got {other:?}"),
        }
    }

    #[test]
    fn a_stranger_through_a_signed_address_of_a_long_finished_ticket_follows_it_up() {
        let finished = Some(Named { ticket: T, trust: Trust::Signed, active: false, within_reopen_window: false });
        let r = new_request(&facts(finished));
        assert_eq!((r.follows_up, r.named_elsewhere), (Some(T), None));
    }

    #[test]
    fn new_requests_are_answered_and_quoted_only_as_far_as_the_sender_is_trusted() {
        let plain = new_request(&facts(None));
        assert_eq!((plain.answer, plain.quote, plain.add_cc), (true, false, true));
        let pass = new_request(&Facts { authentication: Authentication::Pass, ..facts(None) });
        assert_eq!((pass.answer, pass.quote, pass.add_cc), (true, true, true));
        let fail = new_request(&Facts { authentication: Authentication::Fail, ..facts(None) });
        assert_eq!((fail.answer, fail.add_cc), (false, false));
        let spam = new_request(&Facts { spam: true, ..facts(None) });
        assert_eq!((spam.answer, spam.add_cc), (false, false));
        let ours = new_request(&Facts { ours: true, ..facts(None) });
        assert!(!ours.answer);
        let quoting = new_request(&Facts { quote_request: true, ..facts(None) });
        assert!(quoting.quote);
        assert_eq!(decide(&Facts { blocked: true, ..facts(named(Trust::Signed)) }), Route::Blocked);
    }
}
