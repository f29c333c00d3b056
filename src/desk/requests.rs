//! What a signed-in customer does to requests in the portal (MISSION P4–P7): answer one,
//! open one, mark one solved, cancel or reopen it, and fetch its files. Who may do what is
//! decided here, on top of who may see what (`tickets`); a customer's words take the path
//! of their mail (`receive`), so staff and the other participants hear of them exactly as
//! they would of a mail, and the mail and the portal stay one conversation.

use tracing::info;

use super::accounts::{AccountError, SignedIn};
use super::notify::{self, CustomerChange};
use super::receive::{self, Start, Written};
use super::tickets::{CustomerFile, allowed, visible_ticket};
use super::{Origin, Outcome};
use crate::App;
use crate::domain::{ContactId, EmailAddress, OrganisationId, Priority, Source, Status, TicketNumber};
use crate::inbound::{self, Attachment, Sender};
use crate::store::{Conn, StoreError, TicketRow};

/// The longest text of a reply or a request's description, in characters.
pub const MAX_TEXT_CHARS: usize = 50_000;

/// The longest subject of a new request, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A file a customer chose in a form.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its name on their machine (as the browser sent it).
    pub filename: String,
    /// The type the browser said it has.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A customer's answer on a request.
#[derive(Debug, Clone)]
pub struct Reply<'a> {
    /// The form's one-time id: the same form sent twice files one comment.
    pub form_id: &'a str,
    /// What they wrote.
    pub text: &'a str,
    /// The files they attached.
    pub files: Vec<Upload>,
}

/// A new request from the portal's form.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// The form's one-time id: the same form sent twice opens one ticket.
    pub form_id: &'a str,
    /// Its subject.
    pub subject: &'a str,
    /// What the problem is.
    pub description: &'a str,
    /// How urgent it is.
    pub priority: Priority,
    /// The department it is for, by name; empty: not known.
    pub department: &'a str,
    /// Who it is for, when a primary contact files it for a colleague; empty: themselves.
    pub requester: &'a str,
    /// The finished ticket it follows up (offered on one past the reopen window).
    pub follows_up: Option<TicketNumber>,
    /// The files they attached.
    pub files: Vec<Upload>,
}

/// Which field of a form a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The text of a reply, or a request's description.
    Text,
    /// A new request's subject.
    Subject,
    /// The attached files.
    Files,
    /// Who a new request is for.
    Requester,
    /// A new request's department.
    Department,
}

/// Why a customer's action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No such request, or not one this customer may see (the two are not told apart).
    #[error("no such request")]
    NotFound,
    /// Something in the form is wrong: which field, and what to do.
    #[error("{1}")]
    Invalid(Field, String),
    /// The request cannot take this now (it finished too long ago, it is finished
    /// already, it changed meanwhile): what to do instead.
    #[error("{0}")]
    Refused(String),
    /// Too many writes from this customer in the current window; try again after the
    /// given seconds.
    #[error("Too many changes in a short time. Try again in {} minutes.", retry_after.div_ceil(60))]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts one write of `who` against `portal.writes_per_contact`.
async fn count_write(app: &App, who: &SignedIn) -> Result<(), RequestError> {
    let bucket = format!("write:{}", who.contact.0);
    match super::accounts::limit(app, &bucket, app.config().portal.writes_per_contact).await {
        Ok(()) => Ok(()),
        Err(AccountError::RateLimited { retry_after }) => Err(RequestError::RateLimited { retry_after }),
        Err(AccountError::Store(e)) => Err(RequestError::Store(e)),
        Err(e) => Err(RequestError::Refused(e.to_string())),
    }
}

/// A change of status a customer may make (MISSION P6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// "This solved my problem": the request becomes resolved.
    Solved,
    /// "I no longer need help": the request is withdrawn.
    Cancel,
    /// "I still need help": a finished request is open again.
    Reopen,
}

impl Change {
    /// Every change, in the order the page offers them.
    pub const ALL: [Change; 3] = [Change::Solved, Change::Cancel, Change::Reopen];

    /// Its word in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Solved => "solved",
            Change::Cancel => "cancel",
            Change::Reopen => "reopen",
        }
    }

    /// The change named by `word`, if any.
    pub fn from_word(word: &str) -> Option<Change> {
        Change::ALL.into_iter().find(|c| c.as_str() == word)
    }

    /// The status it leads to.
    pub fn target(self) -> Status {
        match self {
            Change::Solved => Status::Resolved,
            Change::Cancel => Status::Cancelled,
            Change::Reopen => Status::Open,
        }
    }

    /// What it is, for staff ("Marked as solved").
    fn for_staff(self) -> &'static str {
        match self {
            Change::Solved => "Marked as solved by the customer: now resolved",
            Change::Cancel => "Cancelled by the customer: no longer needed",
            Change::Reopen => "Reopened by the customer: open again",
        }
    }
}

/// Adds `reply` by `who` to request `n`, as their mail would: a public comment with its
/// files, staff told, a request waiting on the customer open again, a finished one (within
/// the reopen window) reopened. Returns whether it was new (false: the same form again).
pub async fn reply(app: &App, who: &SignedIn, n: TicketNumber, reply: Reply<'_>) -> Result<bool, RequestError> {
    let text = reply.text.trim();
    if text.is_empty() && reply.files.is_empty() {
        return Err(RequestError::Invalid(Field::Text, "Write your answer, or attach a file.".into()));
    }
    check_text(text, Field::Text)?;
    let files = attachments(app, reply.files)?;
    let from = address(who)?;
    count_write(app, who).await?;
    let mut tx = app.store.begin().await?;
    let ticket = visible_ticket(&mut tx, who.contact, n).await?.ok_or(RequestError::NotFound)?;
    let may = allowed(app, ticket.status, changed_at(&ticket));
    if !may.reply {
        return Err(finished_long_ago(app));
    }
    let mut mail = inbound::written(sender(who, from), &ticket.subject, text, notify::new_message_id(app, n), files);
    let (earlier, _) = tx.conversation_ids(n).await?;
    mail.in_reply_to = earlier.last().cloned();
    mail.references = earlier;
    let written = Written::Comment { ticket: n, reopen: !ticket.status.is_active() };
    let outcome =
        receive::apply_written(app, &mut tx, &mail, &fingerprint(who.contact, reply.form_id), written).await?;
    tx.commit().await?;
    settled(app, "reply", &outcome);
    Ok(outcome != Outcome::Duplicate)
}

/// Opens `request` from `who`'s form, as a mail to the desk would: the requester (`who`,
/// or a colleague a primary contact files for) gets the usual acknowledgement so they can
/// go on by mail, and staff are told. Returns the new ticket (or the one the same form
/// opened before).
pub async fn open(app: &App, who: &SignedIn, request: NewRequest<'_>) -> Result<TicketNumber, RequestError> {
    let subject = request.subject.trim();
    if subject.is_empty() {
        return Err(RequestError::Invalid(Field::Subject, "Say in a few words what it is about.".into()));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        let message = format!("Keep the subject under {MAX_SUBJECT_CHARS} characters; say more below.");
        return Err(RequestError::Invalid(Field::Subject, message));
    }
    let description = request.description.trim();
    if description.is_empty() {
        return Err(RequestError::Invalid(Field::Text, "Describe what happened and what you expected.".into()));
    }
    check_text(description, Field::Text)?;
    let config = app.config();
    let department = match request.department.trim() {
        "" => None,
        name => match config.department(name) {
            Some(d) => Some(d.name.as_str()),
            None => {
                return Err(RequestError::Invalid(Field::Department, "Choose one of the departments listed.".into()));
            }
        },
    };
    let files = attachments(app, request.files)?;
    let me = address(who)?;
    count_write(app, who).await?;
    let mut tx = app.store.begin().await?;
    let (requester, requester_name) = match request.requester.trim() {
        "" => (me.clone(), who.name.clone()),
        other => colleague(&mut tx, who, other).await?,
    };
    let follows_up = match request.follows_up {
        Some(old) => match visible_ticket(&mut tx, who.contact, old).await? {
            Some(t) if !t.status.is_active() => Some(old),
            _ => None,
        },
        None => None,
    };
    let writer = (requester != me).then_some(&me);
    let sender = Sender { name: Some(requester_name).filter(|n| !n.is_empty()), address: Some(requester.clone()) };
    // Our Message-IDs name a ticket; a new request has none yet, so its id names none.
    let id = format!("md.new.{:016x}@{}", rand::random::<u64>(), config.desk.address.domain());
    let mail = inbound::written(sender, subject, description, id, files);
    let origin = Origin { source: &Source::Portal, department, fence: None };
    let start = Start { origin, priority: request.priority, writer };
    let written = Written::Open { start, follows_up };
    let fingerprint = fingerprint(who.contact, request.form_id);
    let outcome = receive::apply_written(app, &mut tx, &mail, &fingerprint, written).await?;
    let ticket = match outcome.ticket() {
        Some(t) => t,
        // The same form again: the ticket it opened before.
        None => tx.ticket_of_fingerprint(&fingerprint).await?.ok_or(RequestError::NotFound)?,
    };
    tx.commit().await?;
    settled(app, "new request", &outcome);
    Ok(ticket)
}

/// Makes `change` to request `n` for `who`: the request moves, a note records who moved it,
/// staff are told, and the other customers on it get the usual status notice. Returns the
/// status it has now.
pub async fn change(app: &App, who: &SignedIn, n: TicketNumber, change: Change) -> Result<Status, RequestError> {
    count_write(app, who).await?;
    let mut tx = app.store.begin().await?;
    let actor = Actor { contact: who.contact, email: &who.email, name: &who.name };
    let to = change_in(app, &mut tx, &actor, n, change, "in the portal").await?;
    tx.commit().await?;
    info!(ticket = n.0, status = to.as_str(), "customer changed a request's status in the portal");
    app.outbox_wake.notify_one();
    Ok(to)
}

/// A customer who changes a request: the contact, their address and their name.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The contact.
    pub contact: ContactId,
    /// Their address.
    pub email: &'a str,
    /// Their name (may be empty).
    pub name: &'a str,
}

/// [`change`] in `tx`, for `actor`, `via` saying how in the note for staff ("in the
/// portal"); the caller commits.
pub(super) async fn change_in(
    app: &App,
    tx: &mut crate::store::Tx,
    actor: &Actor<'_>,
    n: TicketNumber,
    change: Change,
    via: &str,
) -> Result<Status, RequestError> {
    let address =
        EmailAddress::parse(actor.email).map_err(|e| RequestError::Store(StoreError::Refused(e.to_string())))?;
    let ticket = visible_ticket(tx, actor.contact, n).await?.ok_or(RequestError::NotFound)?;
    let changed = changed_at(&ticket);
    let may = allowed(app, ticket.status, changed);
    let permitted = match change {
        Change::Solved => may.solved,
        Change::Cancel => may.cancel,
        Change::Reopen => may.reopen,
    };
    if !permitted {
        return Err(match (change, may.follow_up) {
            (Change::Reopen, true) => finished_long_ago(app),
            (Change::Reopen, false) => {
                RequestError::Refused("This request is not finished: there is nothing to reopen.".into())
            }
            _ => RequestError::Refused("This request is finished already. Reopen it if you still need help.".into()),
        });
    }
    let to = change.target();
    // Moved only if nobody moved it since it was read: staff (or another tab) may have.
    if !tx.move_status_if(n, ticket.status, to, crate::store::now()).await? {
        return Err(RequestError::Refused(
            "This request changed meanwhile. Look at it again and try once more.".into(),
        ));
    }
    if change == Change::Reopen {
        tx.customer_wrote(n).await?;
    }
    let note = format!("{}: {address}, {via}.", change.for_staff());
    receive::internal_note(tx, n, &note).await?;
    let what = CustomerChange { actor: &address, name: actor.name, what: change.for_staff(), status: to };
    notify::customer_status(app, tx, n, &what).await?;
    Ok(to)
}

/// The image types a file may be previewed as, when its bytes are one of them.
pub const RASTER_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The raster image type `bytes` are, by their first bytes (never by what a sender
/// claimed): what a preview may be served as. None for anything else (SVG included: it
/// may carry script).
pub fn raster_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// A file of request `n` that `who` may fetch: its metadata and bytes. None when the request
/// is not theirs to see, the file is not of its public conversation, or it is gone.
pub async fn file(
    app: &App,
    who: &SignedIn,
    n: TicketNumber,
    attachment: i64,
) -> Result<Option<(CustomerFile, Vec<u8>)>, StoreError> {
    let mut db = app.store.conn().await?;
    if visible_ticket(&mut db, who.contact, n).await?.is_none() {
        return Ok(None);
    }
    let Some(row) = db.public_attachment(n, attachment).await? else { return Ok(None) };
    let bytes = app.store.blobs.get(&row.sha256).map_err(StoreError::Blob)?;
    Ok(bytes.map(|b| (CustomerFile::from(row), b)))
}

/// What the new-request form offers `who`: the departments, and the colleagues a primary
/// contact may file for (themselves first).
pub async fn form_choices(app: &App, who: &SignedIn) -> Result<(Vec<String>, Vec<(String, String)>), StoreError> {
    let departments = app.config().departments.iter().map(|d| d.name.clone()).collect();
    let colleagues = match who.primary_of {
        Some(organisation) => {
            let members = app.store.conn().await?.organisation_members(organisation, crate::store::now()).await?;
            let (me, others): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| m.id == who.contact);
            me.into_iter().chain(others).map(|m| (m.email, m.name)).collect()
        }
        None => Vec::new(),
    };
    Ok((departments, colleagues))
}

/// The address and name of the colleague `address` names, when `who` is a primary contact
/// of their organisation.
async fn colleague(db: &mut Conn, who: &SignedIn, address: &str) -> Result<(EmailAddress, String), RequestError> {
    let refuse = || RequestError::Invalid(Field::Requester, "Choose someone of your organisation.".into());
    let organisation: OrganisationId = who.primary_of.ok_or_else(refuse)?;
    let address = EmailAddress::parse(address).map_err(|_| refuse())?;
    let members = db.organisation_members(organisation, crate::store::now()).await?;
    let member = members.into_iter().find(|m| m.email == address.as_str()).ok_or_else(refuse)?;
    Ok((address, member.name))
}

fn check_text(text: &str, field: Field) -> Result<(), RequestError> {
    match text.chars().count() > MAX_TEXT_CHARS {
        true => {
            Err(RequestError::Invalid(field, format!("Keep it under {MAX_TEXT_CHARS} characters, or attach a file.")))
        }
        false => Ok(()),
    }
}

/// The uploads as attachments, within `portal.attachment_max_bytes` and
/// `portal.attachments_max`.
fn attachments(app: &App, files: Vec<Upload>) -> Result<Vec<Attachment>, RequestError> {
    let config = app.config();
    let (max_bytes, max_count) = (config.attachment_max_bytes(), config.portal.attachments_max);
    if files.is_empty() {
        return Ok(Vec::new());
    }
    if max_bytes == 0 || max_count == 0 {
        return Err(RequestError::Invalid(Field::Files, "Files cannot be attached here; send them by mail.".into()));
    }
    if files.len() > max_count as usize {
        return Err(RequestError::Invalid(Field::Files, format!("Attach at most {max_count} files at a time.")));
    }
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let name = display_name(&file.filename);
        if file.bytes.len() as u64 > max_bytes {
            let message = format!("{name} is larger than {}: attach files of at most that size.", size(max_bytes));
            return Err(RequestError::Invalid(Field::Files, message));
        }
        let content_type = match file.content_type.parse::<mime_guess::Mime>() {
            Ok(m) if m.type_() != "*" => m.essence_str().to_string(),
            _ => mime_guess::from_path(&name).first_or_octet_stream().essence_str().to_string(),
        };
        out.push(Attachment {
            filename: Some(name.clone()),
            display_name: name,
            content_type,
            size: file.bytes.len(),
            inline: false,
            content_id: None,
            bytes: file.bytes,
        });
    }
    Ok(out)
}

/// A file name as shown and stored: the last path component, without control characters,
/// at most 200 characters; `file` when nothing is left.
fn display_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    match clean.trim() {
        "" | "." | ".." => "file".to_string(),
        name => name.to_string(),
    }
}

/// A size in words ("10 MB").
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{} MB", b / (1024 * 1024)),
        b if b >= 1024 => format!("{} KB", b / 1024),
        b => format!("{b} bytes"),
    }
}

fn address(who: &SignedIn) -> Result<EmailAddress, RequestError> {
    EmailAddress::parse(&who.email).map_err(|e| RequestError::Store(StoreError::Refused(e.to_string())))
}

fn sender(who: &SignedIn, address: EmailAddress) -> Sender {
    Sender { name: Some(who.name.clone()).filter(|n| !n.trim().is_empty()), address: Some(address) }
}

/// The identity of a form's sending: the same form sent twice (a double click, a retry
/// after a lost answer) is applied once. A form without a proper id is never a repeat.
fn fingerprint(contact: ContactId, form_id: &str) -> String {
    let id = form_id.trim();
    match id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        true => format!("portal:{}:{}", contact.0, id.to_ascii_lowercase()),
        false => format!("portal:{}:{:032x}", contact.0, rand::random::<u128>()),
    }
}

/// A fresh one-time form id for a page's form.
pub fn new_form_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn changed_at(ticket: &TicketRow) -> i64 {
    ticket.status_changed_at.unwrap_or(ticket.updated_at)
}

fn finished_long_ago(app: &App) -> RequestError {
    RequestError::Refused(format!(
        "This request finished more than {} days ago. Open a new request; it will refer to this one.",
        app.config().desk.reopen_days
    ))
}

fn settled(app: &App, what: &str, outcome: &Outcome) {
    info!(outcome = outcome.as_str(), ticket = ?outcome.ticket().map(|t| t.0), "{what} from the portal applied");
    if outcome != &Outcome::Duplicate {
        app.outbox_wake.notify_one();
    }
}
