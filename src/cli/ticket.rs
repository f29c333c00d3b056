//! `maildesk ticket …`: tickets for people (aligned text) and tools (`--json`), and the
//! staff actions on them — the same rules as `#commands` by mail.

use clap::Subcommand;

use super::{multi_line, one_line};
use crate::App;
use crate::config::Config;
use crate::desk::staff::{self, Act};
use crate::desk::tickets::{self, TicketQuery, TicketSummary};
use crate::domain::Role;
use crate::domain::{Assignee, Command, EmailAddress, Priority, Status, TicketNumber};
use crate::store::StoreError;

#[derive(Subcommand, Debug)]
pub(super) enum TicketCommand {
    /// List tickets, newest first; every filter given must hold.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Only this department.
        #[arg(long)]
        department: Option<String>,
        /// Only tickets assigned to this address (`nobody`: unassigned ones).
        #[arg(long)]
        assignee: Option<String>,
        /// Only tickets this address asked.
        #[arg(long)]
        requester: Option<String>,
        /// Only tickets whose customer has waited longer than their priority's response
        /// target (desk.response_hours).
        #[arg(long)]
        overdue: bool,
    },
    /// Show one ticket with its conversation (internal notes marked).
    Show {
        /// The ticket number.
        number: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Answer a ticket as staff: a public comment mailed to its customers from the support
    /// address, with the staff member's name but never their address.
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
    /// Add an internal note, never sent to customers.
    Note {
        /// The ticket number.
        number: i64,
        /// The staff member's address.
        #[arg(long)]
        from: String,
        /// The note; `-` reads it from standard input.
        #[arg(long)]
        body: String,
    },
    /// Change a ticket's status (open, in-progress, waiting-on-customer, waiting-on-vendor,
    /// resolved, closed, cancelled) as the lifecycle allows; its customers are told.
    Status {
        /// The ticket number.
        number: i64,
        /// The new status.
        status: String,
        /// The staff member acting (default: the admin).
        #[arg(long)]
        by: Option<String>,
    },
    /// Change a ticket's priority (low, medium, high, urgent).
    Priority {
        /// The ticket number.
        number: i64,
        /// The new priority.
        priority: String,
        /// The staff member acting (default: the admin).
        #[arg(long)]
        by: Option<String>,
    },
    /// Assign a ticket to a staff member (`nobody` to unassign); they are told.
    Assign {
        /// The ticket number.
        number: i64,
        /// The staff member's address, or `nobody`.
        assignee: String,
        /// The staff member acting (default: the admin).
        #[arg(long)]
        by: Option<String>,
    },
    /// Close a ticket; its customers are told.
    Close {
        /// The ticket number.
        number: i64,
        /// The staff member acting (default: the admin).
        #[arg(long)]
        by: Option<String>,
    },
    /// Add or remove a participant (cc) of a ticket.
    Cc {
        /// The ticket number.
        number: i64,
        /// `add` or `remove`.
        #[arg(value_parser = ["add", "remove"])]
        action: String,
        /// The participant's address.
        email: String,
        /// The staff member acting (default: the admin).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Why a command line was refused before anything ran.
struct Usage(String);

pub(super) async fn run(config: Config, command: TicketCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match command {
        TicketCommand::List { json, limit, status, department, assignee, requester, overdue } => {
            match filter(limit, status, department, assignee, requester, overdue) {
                Ok(query) => report(list(&app, json, &query).await),
                Err(Usage(e)) => usage(&e),
            }
        }
        TicketCommand::Show { number, json } => report(show(&app, TicketNumber(number), json).await),
        other => match action(&app, other) {
            Ok((n, actor, commands, body)) => perform(&app, n, &actor, commands, &body).await,
            Err(Usage(e)) => usage(&e),
        },
    };
    app.store.close().await;
    code
}

fn usage(message: &str) -> i32 {
    eprintln!("maildesk: {message}");
    super::EXIT_USAGE
}

fn report(result: Result<i32, StoreError>) -> i32 {
    result.unwrap_or_else(|e| {
        eprintln!("maildesk: {e}");
        super::EXIT_FAILURE
    })
}

fn address(option: &str, text: &str) -> Result<EmailAddress, Usage> {
    EmailAddress::parse(text).map_err(|e| Usage(format!("{option}: {e}")))
}

/// The ticket, actor, commands and text of an action command.
fn action(app: &App, command: TicketCommand) -> Result<(TicketNumber, EmailAddress, Vec<Command>, String), Usage> {
    let admin = |by: Option<String>| match by {
        Some(by) => address("--by", &by),
        None => Ok(app.config().desk.address.clone()),
    };
    let body = |body: String| {
        if body != "-" {
            return Ok(body);
        }
        super::read_input(None).map(|raw| String::from_utf8_lossy(&raw).into_owned()).map_err(Usage)
    };
    Ok(match command {
        TicketCommand::Reply { number, from, body: text } => {
            (TicketNumber(number), address("--from", &from)?, Vec::new(), body(text)?)
        }
        TicketCommand::Note { number, from, body: text } => {
            (TicketNumber(number), address("--from", &from)?, vec![Command::Note], body(text)?)
        }
        TicketCommand::Status { number, status, by } => {
            let status = Status::parse(&status).map_err(|e| Usage(e.to_string()))?;
            (TicketNumber(number), admin(by)?, vec![Command::Status(status)], String::new())
        }
        TicketCommand::Priority { number, priority, by } => {
            let priority = Priority::parse(&priority).map_err(|e| Usage(e.to_string()))?;
            (TicketNumber(number), admin(by)?, vec![Command::Priority(priority)], String::new())
        }
        TicketCommand::Assign { number, assignee, by } => {
            let to = match assignee.to_lowercase().as_str() {
                "nobody" | "none" => Assignee::Nobody,
                _ => Assignee::Address(address("assignee", &assignee)?),
            };
            (TicketNumber(number), admin(by)?, vec![Command::Assign(to)], String::new())
        }
        TicketCommand::Close { number, by } => (TicketNumber(number), admin(by)?, vec![Command::Close], String::new()),
        TicketCommand::Cc { number, action, email, by } => {
            let email = address("email", &email)?;
            let command = if action == "add" { Command::CcAdd(email) } else { Command::CcRemove(email) };
            (TicketNumber(number), admin(by)?, vec![command], String::new())
        }
        TicketCommand::List { .. } | TicketCommand::Show { .. } => unreachable!("not an action"),
    })
}

/// Runs one staff action and says what it did.
async fn perform(app: &App, n: TicketNumber, actor: &EmailAddress, commands: Vec<Command>, body: &str) -> i32 {
    let act = Act { commands, body: body.trim(), ..Act::default() };
    match staff::act(app, n, actor, &act).await {
        Ok(done) => {
            let status = done.status.map(|s| format!("; it is {s}")).unwrap_or_default();
            eprintln!("maildesk: ticket #{n} changed{status}; {} notification(s) queued", done.queued);
            if !done.undelivered.is_empty() {
                eprintln!("maildesk: warning: the reply reached no customer:");
                for why in &done.undelivered {
                    eprintln!("  {why}");
                }
            }
            0
        }
        Err(e) => {
            eprintln!("maildesk: {e}");
            super::EXIT_FAILURE
        }
    }
}

fn filter(
    limit: i64,
    status: Option<String>,
    department: Option<String>,
    assignee: Option<String>,
    requester: Option<String>,
    overdue: bool,
) -> Result<TicketQuery, Usage> {
    let status = status.map(|s| Status::parse(&s).map_err(|e| Usage(e.to_string()))).transpose()?;
    let assignee = match assignee.as_deref().map(str::to_lowercase).as_deref() {
        None => None,
        Some("nobody" | "none") => Some(None),
        Some(a) => Some(Some(address("--assignee", a)?)),
    };
    let requester = requester.map(|r| address("--requester", &r)).transpose()?;
    Ok(TicketQuery { status, department, assignee, requester, overdue, limit, ..TicketQuery::default() })
}

async fn list(app: &App, json: bool, query: &TicketQuery) -> Result<i32, StoreError> {
    let tickets = tickets::list(app, query).await?;
    if json {
        let rows: Vec<_> = tickets.iter().map(|t| &t.ticket).collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return Ok(0);
    }
    println!(
        "{:>6}  {:<20}  {:<8}  {:>8}  {:<30}  {:<24}  SUBJECT",
        "#", "STATUS", "PRIORITY", "COMMENTS", "REQUESTER", "ASSIGNEE"
    );
    for TicketSummary { ticket: t, overdue, .. } in &tickets {
        let late = if *overdue { " (overdue)" } else { "" };
        println!(
            "{:>6}  {:<20}  {:<8}  {:>8}  {:<30}  {:<24}  {}{late}",
            t.id,
            t.status,
            t.priority,
            t.comment_count,
            one_line(&t.requester_email),
            one_line(t.assignee.as_deref().unwrap_or("-")),
            one_line(&t.subject)
        );
    }
    Ok(0)
}

async fn show(app: &App, n: TicketNumber, json: bool) -> Result<i32, StoreError> {
    let Some(d) = tickets::detail(app, n).await? else {
        eprintln!("maildesk: no ticket #{n}");
        return Ok(super::EXIT_FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return Ok(0);
    }
    let t = &d.summary.ticket;
    println!("Ticket #{}: {}", t.id, one_line(&t.subject));
    let assignee = one_line(t.assignee.as_deref().unwrap_or("-"));
    println!("Status: {}   Priority: {}   Assignee: {assignee}", t.status, t.priority);
    if let Some(department) = &t.department {
        println!("Department: {}", one_line(department));
    }
    if let Some(due) = d.summary.due_at {
        let late = if d.summary.overdue { " (overdue)" } else { "" };
        println!("Answer due: {}{late}", unix_time(due));
    }
    if let Some(old) = t.follows_up {
        println!("Follows up: #{old}");
    }
    println!(
        "Requester: {} {}",
        one_line(&t.requester_email),
        t.organisation.as_deref().map(|o| format!("({})", one_line(o))).unwrap_or_default()
    );
    for p in d.participants.iter().filter(|p| p.role != Role::Requester) {
        println!("Cc: {}", one_line(&p.email));
    }
    for c in &d.comments {
        let kind = if c.public { "comment" } else { "internal note" };
        println!("\n--- {kind} {} from {} ---", c.id, one_line(c.author_email.as_deref().unwrap_or("(maildesk)")));
        println!("{}", multi_line(&c.body_reply));
        for a in d.attachments.iter().filter(|a| a.comment_id == c.id) {
            println!("[attachment: {} ({}, {} bytes)]", one_line(&a.filename), one_line(&a.content_type), a.size);
        }
    }
    Ok(0)
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
fn unix_time(secs: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| secs.to_string())
}
