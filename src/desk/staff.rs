//! What staff do to tickets: answer, note, change status and priority, assign, add and
//! remove participants — from the CLI or by mail with `#commands`. Every action goes
//! through [`apply`]: all of it is checked first and applied together, or nothing is.
//! Customers get a staff member's words from the support address, never their address.

use super::{notify, roster};
use crate::App;
use crate::domain::{Assignee, Command, EmailAddress, Priority, Role, Status, TicketNumber};
use crate::notice::{Notice, RelayedFile};
use crate::store::{NewAttachment, NewComment, StoreError, TicketState, Tx};

/// Why a staff action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    /// No such ticket.
    #[error("no ticket #{0}")]
    NoTicket(TicketNumber),
    /// Neither a command nor any text.
    #[error("there is nothing to do: no command and no text")]
    Empty,
    /// The actor is no staff member.
    #[error("{0} is not a staff member")]
    NotStaff(EmailAddress),
    /// Commands that do not fit the ticket, one line each.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One staff action on a ticket: commands, and text that becomes a comment.
#[derive(Debug, Clone, Default)]
pub struct Act<'a> {
    /// The commands, applied in order.
    pub commands: Vec<Command>,
    /// The text: a public reply, or an internal note with [`Command::Note`]. May be empty.
    pub body: &'a str,
    /// The Message-ID of the mail it came in, if it came by mail.
    pub message_id: Option<&'a str>,
    /// The sender's display name in that mail, used when the staff table has none.
    pub display_name: Option<&'a str>,
    /// Files that came with it (already in the blob store); a public reply sends the
    /// attached (not inline) ones along.
    pub attachments: &'a [NewAttachment<'a>],
}

/// What an applied action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Done {
    /// Notifications queued.
    pub queued: usize,
    /// The status, when it changed.
    pub status: Option<Status>,
    /// Whether a comment was added.
    pub commented: bool,
    /// A public reply that reached no customer: why, one line per customer (empty when it
    /// reached someone, or was no public reply).
    pub undelivered: Vec<String>,
}

/// Applies `act` by `actor` on ticket `n` in its own transaction. The actor must be a
/// staff member, or the desk's own address (the admin at the command line, who may do
/// everything but write comments in someone's name).
pub async fn act(app: &App, n: TicketNumber, actor: &EmailAddress, act: &Act<'_>) -> Result<Done, StaffError> {
    let mut tx = app.store.begin().await?;
    let admin = *actor == app.config().desk.address && act.body.trim().is_empty();
    if !admin && !roster::is_staff(app, &mut tx, actor).await? {
        return Err(StaffError::NotStaff(actor.clone()));
    }
    let done = apply(app, &mut tx, n, actor, act).await?;
    tx.commit().await?;
    app.outbox_wake.notify_one();
    Ok(done)
}

/// Adds `author`'s public reply to ticket `n` and queues it to the customers, in one
/// transaction. Returns how many notifications were queued.
pub async fn reply(app: &App, n: TicketNumber, author: &EmailAddress, body: &str) -> Result<usize, StaffError> {
    if body.trim().is_empty() {
        return Err(StaffError::Empty);
    }
    let action = Act { body: body.trim(), ..Act::default() };
    Ok(act(app, n, author, &action).await?.queued)
}

/// Sets the status of ticket `n` and tells its customers (a status notification, or a
/// resolved one for resolved and closed). Setting the status it has changes nothing; a
/// move the lifecycle does not allow is refused.
pub async fn set_status(app: &App, n: TicketNumber, status: Status) -> Result<usize, StaffError> {
    let mut tx = app.store.begin().await?;
    let action = Act { commands: vec![Command::Status(status)], ..Act::default() };
    let done = apply(app, &mut tx, n, &app.config().desk.address, &action).await?;
    tx.commit().await?;
    app.outbox_wake.notify_one();
    Ok(done.queued)
}

/// The ticket as the commands leave it, before anything is written.
struct Plan {
    status: Status,
    priority: Priority,
    assignee: Option<String>,
    note: bool,
    /// Participants added (true) or removed (false), in the order written; the last word on
    /// an address counts.
    cc: Vec<(EmailAddress, bool)>,
}

impl Plan {
    /// The ticket as it is: the plan no command has changed yet.
    fn of(state: &TicketState) -> Plan {
        Plan {
            status: state.status,
            priority: state.priority,
            assignee: state.assignee.clone(),
            note: false,
            cc: Vec::new(),
        }
    }
}

/// Checks and applies `act` inside `tx`: every command is checked against the ticket
/// first, and an [`StaffError::Invalid`] leaves the transaction untouched.
pub(super) async fn apply(
    app: &App,
    tx: &mut Tx,
    n: TicketNumber,
    actor: &EmailAddress,
    act: &Act<'_>,
) -> Result<Done, StaffError> {
    let Some(state) = tx.ticket_state(n).await? else { return Err(StaffError::NoTicket(n)) };
    if act.commands.is_empty() && act.body.trim().is_empty() {
        return Err(StaffError::Empty);
    }
    let mut plan = Plan::of(&state);
    let mut problems = Vec::new();
    let config = app.config();
    let ours = config.own_addresses();
    for command in &act.commands {
        match command {
            Command::Status(_) | Command::Close => {
                let to = if let Command::Status(s) = command { *s } else { Status::Closed };
                if plan.status.may_move_to(to) {
                    plan.status = to;
                } else {
                    problems.push(format!(
                        "#status {to}: a {} ticket can only become {}",
                        plan.status,
                        plan.status.next().iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" or ")
                    ));
                }
            }
            Command::Priority(p) => plan.priority = *p,
            Command::Assign(Assignee::Me) => plan.assignee = Some(actor.to_string()),
            Command::Assign(Assignee::Nobody) => plan.assignee = None,
            Command::Assign(Assignee::Address(a)) if roster::is_staff(app, tx, a).await? => {
                plan.assignee = Some(a.to_string())
            }
            Command::Assign(Assignee::Address(a)) => problems.push(format!("#assign {a}: not a staff member")),
            Command::Note => plan.note = true,
            Command::CcAdd(a) if ours.contains(&a) => problems.push(format!("#cc add {a}: that is our own address")),
            Command::CcAdd(a) => plan.cc.push((a.clone(), true)),
            Command::CcRemove(a) => {
                // On the ticket as the commands before this one leave it.
                let planned = plan.cc.iter().rev().find(|(p, _)| p == a).map(|(_, added)| *added);
                let id = tx.contact_id(a.as_str()).await?;
                let on_ticket = match (planned, id) {
                    (Some(added), _) => added,
                    (None, Some(id)) => tx.is_participant(n, id).await?,
                    (None, None) => false,
                };
                if id.is_some() && id == Some(state.requester_id) {
                    problems.push(format!("#cc remove {a}: the requester stays on the ticket"));
                } else if on_ticket {
                    plan.cc.push((a.clone(), false));
                } else {
                    problems.push(format!("#cc remove {a}: not on the ticket"));
                }
            }
        }
    }
    let body = act.body.trim();
    if plan.note && body.is_empty() {
        problems.push("#note: there is no text below the commands to keep as a note".into());
    }
    if !problems.is_empty() {
        return Err(StaffError::Invalid(problems));
    }
    write(app, tx, n, actor, act, &state, plan).await
}

/// Writes a checked plan for the ticket now in `state` and queues what it tells whom.
async fn write(
    app: &App,
    tx: &mut Tx,
    n: TicketNumber,
    actor: &EmailAddress,
    act: &Act<'_>,
    state: &TicketState,
    plan: Plan,
) -> Result<Done, StaffError> {
    let (subject, before) = (state.subject.as_str(), Plan::of(state));
    let was = before.status;
    let body = act.body.trim();
    let member = tx.staff_member(actor.as_str()).await?;
    let name = member.map(|m| m.name).filter(|n| !n.trim().is_empty()).or(act.display_name.map(str::to_string));
    let mut done = Done::default();
    if !body.is_empty() {
        let author_id = tx.upsert_contact(actor, name.as_deref().unwrap_or_default(), None).await?;
        let comment = tx
            .insert_comment(&NewComment {
                ticket: n,
                author_id: Some(author_id),
                public: !plan.note,
                from_staff: true,
                body_text: body,
                body_reply: body,
                body_html: None,
                message_id: act.message_id,
            })
            .await?;
        for a in act.attachments {
            tx.insert_attachment(comment, a).await?;
        }
        tx.touch_ticket(n).await?;
        done.commented = true;
    }
    let public_reply = !body.is_empty() && !plan.note;
    if public_reply {
        tx.stop_awaiting(n).await?;
    }
    if plan.status != was {
        tx.set_ticket_status(n, plan.status).await?;
        done.status = Some(plan.status);
    }
    if plan.priority != before.priority {
        tx.set_ticket_priority(n, plan.priority).await?;
    }
    if plan.assignee != before.assignee {
        tx.set_assignee(n, plan.assignee.as_deref()).await?;
        if let Some(to) = plan.assignee.as_deref().filter(|a| *a != actor.as_str()) {
            done.queued += notify::assigned(app, tx, n, to, actor, body).await?;
        }
    }
    let mut added = Vec::new();
    for (address, add) in &plan.cc {
        let id = tx.upsert_contact(address, "", None).await?;
        if *add {
            if tx.add_participant(n, id, Role::Cc).await? {
                added.push(address.clone());
            }
        } else {
            tx.remove_participant(n, id).await?;
            added.retain(|a| a != address);
        }
    }
    done.queued += notify::participants_added(app, tx, n, &added, "our staff").await?;
    if public_reply {
        let files: Vec<RelayedFile> = act
            .attachments
            .iter()
            .filter(|a| !a.inline)
            .map(|a| RelayedFile {
                sha256: a.sha256.to_string(),
                filename: a.filename.to_string(),
                content_type: a.content_type.to_string(),
            })
            .collect();
        let reply = notify::Reply { author: actor, name: name.as_deref(), body, status: done.status, files: &files };
        let (queued, withheld) = notify::staff_reply(app, tx, n, subject, &reply).await?;
        done.queued += queued;
        if queued == 0 {
            done.undelivered = if withheld.is_empty() { vec!["the ticket has no customer".into()] } else { withheld };
            tracing::warn!(ticket = n.0, "a staff reply reached no customer");
            // Said in a mail to whoever answered by mail (the CLI prints it).
            if act.message_id.is_some() {
                done.queued += notify::undelivered(app, tx, n, actor, &done.undelivered, body).await?;
            }
        }
    } else if let Some(status) = done.status {
        let kind =
            if !was.is_active() && status == Status::Open { Notice::Reopened } else { notify::notice_kind(status) };
        done.queued += notify::status_change(app, tx, n, subject, kind, status).await?;
    }
    Ok(done)
}
