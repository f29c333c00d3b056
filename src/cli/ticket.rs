//! `maildesk ticket list|show`: tickets for people (aligned text) and tools (`--json`).

use clap::Subcommand;
use serde::Serialize;

use crate::App;
use crate::config::Config;
use crate::desk::staff;
use crate::domain::{EmailAddress, Status, TicketNumber};
use crate::store::{AttachmentRow, CommentRow, Store, StoreError, TicketRow};

#[derive(Subcommand, Debug)]
pub(super) enum TicketCommand {
    /// List tickets, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Answer a ticket as staff: a public comment mailed to its customers from the support
    /// address.
    Reply {
        /// The ticket number.
        number: i64,
        /// The staff member's address (never shown to customers).
        #[arg(long)]
        from: String,
        /// The reply; `-` reads it from standard input.
        #[arg(long)]
        body: String,
    },
    /// Change a ticket's status (open, in-progress, waiting-on-customer, waiting-on-vendor,
    /// resolved, closed, cancelled); its customers are told.
    Status {
        /// The ticket number.
        number: i64,
        /// The new status.
        status: String,
    },
    /// Show one ticket with its conversation.
    Show {
        /// The ticket number.
        number: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A ticket with everything the detail view shows.
#[derive(Debug, Serialize)]
struct TicketDetail {
    #[serde(flatten)]
    ticket: TicketRow,
    participants: Vec<Participant>,
    comments: Vec<CommentRow>,
    attachments: Vec<AttachmentRow>,
}

#[derive(Debug, Serialize)]
struct Participant {
    email: String,
    role: String,
}

pub(super) async fn run(config: Config, command: TicketCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let result = match command {
        TicketCommand::List { json, limit } => list(&app, json, limit).await,
        TicketCommand::Show { number, json } => show(&app, TicketNumber(number), json).await,
        TicketCommand::Status { number, status } => {
            let status = match Status::parse(&status) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("maildesk: {e}");
                    return super::EXIT_USAGE;
                }
            };
            return match staff::set_status(&app, TicketNumber(number), status).await {
                Ok(queued) => {
                    eprintln!("maildesk: ticket #{number} is {status}; {queued} notification(s) queued");
                    0
                }
                Err(e) => {
                    eprintln!("maildesk: {e}");
                    super::EXIT_FAILURE
                }
            };
        }
        TicketCommand::Reply { number, from, body } => {
            let code = reply(&app, TicketNumber(number), &from, &body).await;
            return code;
        }
    };
    app.store.close().await;
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("maildesk: {e}");
            super::EXIT_FAILURE
        }
    }
}

async fn reply(app: &App, n: TicketNumber, from: &str, body: &str) -> i32 {
    let author = match EmailAddress::parse(from) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("maildesk: --from: {e}");
            return super::EXIT_USAGE;
        }
    };
    let body = if body == "-" {
        match super::read_input(None) {
            Ok(raw) => String::from_utf8_lossy(&raw).into_owned(),
            Err(e) => {
                eprintln!("maildesk: {e}");
                return super::EXIT_FAILURE;
            }
        }
    } else {
        body.to_string()
    };
    match staff::reply(app, n, &author, &body).await {
        Ok(queued) => {
            eprintln!("maildesk: replied on ticket #{n}; {queued} notification(s) queued");
            0
        }
        Err(e) => {
            eprintln!("maildesk: {e}");
            super::EXIT_FAILURE
        }
    }
}

async fn list(app: &App, json: bool, limit: i64) -> Result<i32, StoreError> {
    let tickets = app.store.list_tickets(limit.clamp(1, 100_000)).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&tickets).unwrap_or_default());
        return Ok(0);
    }
    println!("{:>6}  {:<20}  {:<8}  {:>8}  {:<30}  SUBJECT", "#", "STATUS", "PRIORITY", "COMMENTS", "REQUESTER");
    for t in &tickets {
        println!(
            "{:>6}  {:<20}  {:<8}  {:>8}  {:<30}  {}",
            t.id, t.status, t.priority, t.comment_count, t.requester_email, t.subject
        );
    }
    Ok(0)
}

async fn detail(store: &Store, n: TicketNumber) -> Result<Option<TicketDetail>, StoreError> {
    let Some(ticket) = store.ticket(n).await? else { return Ok(None) };
    let participants =
        store.participants(n).await?.into_iter().map(|(email, role)| Participant { email, role }).collect();
    Ok(Some(TicketDetail {
        ticket,
        participants,
        comments: store.comments(n).await?,
        attachments: store.attachments(n).await?,
    }))
}

async fn show(app: &App, n: TicketNumber, json: bool) -> Result<i32, StoreError> {
    let Some(d) = detail(&app.store, n).await? else {
        eprintln!("maildesk: no ticket #{n}");
        return Ok(super::EXIT_FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return Ok(0);
    }
    let t = &d.ticket;
    println!("Ticket #{}: {}", t.id, t.subject);
    println!("Status: {}   Priority: {}", t.status, t.priority);
    println!(
        "Requester: {} {}",
        t.requester_email,
        t.organisation.as_deref().map(|o| format!("({o})")).unwrap_or_default()
    );
    for p in d.participants.iter().filter(|p| p.role != "requester") {
        println!("Cc: {}", p.email);
    }
    for c in &d.comments {
        println!("\n--- comment {} from {} ---", c.id, c.author_email.as_deref().unwrap_or("(unknown)"));
        println!("{}", c.body_reply);
        for a in d.attachments.iter().filter(|a| a.comment_id == c.id) {
            println!("[attachment: {} ({}, {} bytes)]", a.filename, a.content_type, a.size);
        }
    }
    Ok(0)
}
