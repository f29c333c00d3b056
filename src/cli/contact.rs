//! `maildesk contact list|show|invite|unbounce|role|forget`: the people who wrote to us,
//! their tickets and portal access, inviting them to the portal again, who sees their
//! organisation's tickets, and forgetting a person.

use clap::Subcommand;

use super::one_line;
use crate::App;
use crate::config::Config;
use crate::desk::contacts::{self, PortalAccess};
use crate::domain::EmailAddress;

#[derive(Subcommand, Debug)]
pub(super) enum ContactCommand {
    /// List contacts by address, with their organisation and number of tickets.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only the contacts of this organisation (its name, any case).
        #[arg(long)]
        organisation: Option<String>,
        /// Only contacts whose address or name contains this text (any case).
        #[arg(long)]
        search: Option<String>,
    },
    /// Show one contact: organisation, tickets, portal access, bouncing.
    Show {
        /// Their address.
        email: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue an invitation to the portal now, even if one was sent before (the old link
    /// stops working); an unknown address becomes a new contact. Refused for an address
    /// that bounces, one with an account already, and the desk's and staff's own
    /// addresses. With `--password`: make the account now
    /// (a new contact if unknown) with a generated password, printed once on standard
    /// output and never mailed; it must be changed at the first log-in.
    Invite {
        /// Their address.
        email: String,
        /// Make the account with a generated password instead of mailing a link.
        #[arg(long)]
        password: bool,
    },
    /// Forget that mail to an address bounced (also forgotten when they write to us again),
    /// so that notifications reach it again.
    Unbounce {
        /// Their address.
        email: String,
    },
    /// Make a contact the primary contact of their organisation, who sees all of its
    /// tickets, or a standard contact, who sees the tickets they ask or are copied on.
    Role {
        /// Their address.
        email: String,
        /// `primary` or `standard`.
        #[arg(value_parser = ["primary", "standard"])]
        role: String,
    },
    /// Forget a person (data protection): their name and address, their messages' bodies
    /// and attachments, quarantined mail, portal account and knowledge-base activity. Their
    /// tickets stay, under the address forgotten-<id>@invalid. Asks first on a terminal;
    /// elsewhere `--yes` is required.
    Forget {
        /// Their address.
        email: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

pub(super) async fn run(config: Config, command: ContactCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match command {
        ContactCommand::List { json, organisation, search } => {
            list(&app, json, organisation.as_deref(), search.as_deref()).await
        }
        ContactCommand::Show { email, json } => match address(&email) {
            Ok(email) => show(&app, &email, json).await,
            Err(code) => code,
        },
        ContactCommand::Invite { email, password: false } => match address(&email) {
            Ok(email) => invite(&app, &email).await,
            Err(code) => code,
        },
        ContactCommand::Invite { email, password: true } => match address(&email) {
            Ok(email) => match crate::desk::accounts::create_with_password(&app, &email).await {
                Ok(password) => {
                    eprintln!(
                        "maildesk: account of {email} made; its password (shown once, to be changed at the first log-in):"
                    );
                    println!("{password}");
                    0
                }
                Err(e) => fail(e),
            },
            Err(code) => code,
        },
        ContactCommand::Unbounce { email } => match address(&email) {
            Ok(email) => unbounce(&app, &email).await,
            Err(code) => code,
        },
        ContactCommand::Role { email, role } => match address(&email) {
            Ok(email) => match contacts::set_primary(&app, &email, role == "primary").await {
                Ok(()) => {
                    let now = if role == "primary" {
                        "a primary contact of their organisation"
                    } else {
                        "a standard contact"
                    };
                    eprintln!("maildesk: {email} is {now}");
                    0
                }
                Err(e) => fail(e),
            },
            Err(code) => code,
        },
        ContactCommand::Forget { email, yes } => match address(&email) {
            Ok(email) => forget(&app, &email, yes).await,
            Err(code) => code,
        },
    };
    app.store.close().await;
    code
}

/// The address given on the command line, or the usage exit code after saying why not.
fn address(email: &str) -> Result<EmailAddress, i32> {
    EmailAddress::parse(email).map_err(|e| {
        eprintln!("maildesk: {e}");
        super::EXIT_USAGE
    })
}

/// Unix seconds as an RFC 3339 UTC time, for people.
pub(super) fn timestamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("maildesk: {e}");
    super::EXIT_FAILURE
}

async fn list(app: &App, json: bool, organisation: Option<&str>, search: Option<&str>) -> i32 {
    let rows = match contacts::list(app, organisation, search).await {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return 0;
    }
    println!("{:<36}  {:<24}  {:<20}  {:>7}  CREATED", "EMAIL", "NAME", "ORGANISATION", "TICKETS");
    for c in &rows {
        println!(
            "{:<36}  {:<24}  {:<20}  {:>7}  {}",
            one_line(&c.email),
            one_line(&c.name),
            one_line(c.organisation.as_deref().unwrap_or("-")),
            c.tickets,
            timestamp(c.created_at)
        );
    }
    0
}

fn describe_portal(access: &PortalAccess) -> String {
    match access {
        PortalAccess::None => "not invited".into(),
        PortalAccess::Queued => "invitation queued, not sent yet".into(),
        PortalAccess::Invited { expires_at } => format!("invited; the link works until {}", timestamp(*expires_at)),
        PortalAccess::Expired { expires_at } => format!("invitation expired at {}", timestamp(*expires_at)),
        PortalAccess::SignedUp { at } => format!("signed up at {}", timestamp(*at)),
    }
}

async fn show(app: &App, email: &EmailAddress, json: bool) -> i32 {
    let d = match contacts::detail(app, email).await {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
        return 0;
    }
    let c = &d.contact;
    let name = if c.name.is_empty() { String::new() } else { format!(" ({})", one_line(&c.name)) };
    println!("Contact: {}{name}", one_line(&c.email));
    println!("Organisation: {}", one_line(c.organisation.as_deref().unwrap_or("-")));
    println!("Created: {}", timestamp(c.created_at));
    println!("Portal: {}", describe_portal(&d.portal));
    println!(
        "Bouncing: {}",
        d.bouncing.as_deref().map(|r| format!("yes ({})", one_line(r))).unwrap_or_else(|| "no".into())
    );
    println!("Tickets: {}", d.ticket_list.len());
    for t in &d.ticket_list {
        println!("  #{:<6} {:<20} {:<9}  {}", t.id, t.status, t.role, one_line(&t.subject));
    }
    0
}

async fn invite(app: &App, email: &EmailAddress) -> i32 {
    match contacts::invite(app, email, None).await {
        Ok(queued) => {
            let threading = match queued.ticket {
                Some(ticket) => format!("threaded under ticket #{ticket}"),
                None => "about no ticket: they never wrote to us".to_string(),
            };
            eprintln!(
                "maildesk: invitation {} to {email} queued ({threading}); `maildesk serve` sends it",
                queued.invite
            );
            0
        }
        Err(e) => fail(e),
    }
}

async fn unbounce(app: &App, email: &EmailAddress) -> i32 {
    match contacts::unbounce(app, email).await {
        Ok(true) => {
            eprintln!("maildesk: {email} is no longer marked as bouncing");
            0
        }
        Ok(false) => {
            eprintln!("maildesk: {email} was not marked as bouncing; nothing changed");
            0
        }
        Err(e) => fail(e),
    }
}

/// Whether the admin confirms forgetting `email`: `--yes`, or "yes" typed on a terminal.
fn confirmed(email: &EmailAddress, yes: bool) -> Result<bool, i32> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!("maildesk: forgetting {email} cannot be undone; not on a terminal, so add --yes to confirm");
        return Err(super::EXIT_USAGE);
    }
    eprint!(
        "Forget {email}: their name, address, messages' bodies and attachments, portal account? \
         This cannot be undone. Type yes to go on: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}

async fn forget(app: &App, email: &EmailAddress, yes: bool) -> i32 {
    match confirmed(email, yes) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("maildesk: nothing was changed");
            return super::EXIT_FAILURE;
        }
        Err(code) => return code,
    }
    match crate::desk::forget::forget(app, email).await {
        Ok(f) => {
            let r = &f.rows;
            println!("Forgot contact {} (now {}).", f.contact, f.placeholder);
            println!("  tickets kept:                 {}", r.tickets_kept);
            println!("  comments emptied:             {}", r.comments_emptied);
            println!("  attachments removed:          {}", r.attachments);
            println!("  quarantined mail removed:     {}", r.quarantined);
            println!("  unsent mail to them dropped:  {}", r.outbox_dropped);
            println!("  sent mail rows emptied:       {}", r.outbox_redacted);
            println!("  Message-IDs removed:          {}", r.message_ids);
            println!("  portal account rows removed:  {}", r.portal_rows);
            println!("  knowledge-base rows removed:  {}", r.kb_activity);
            println!("  other rows removed:           {}", r.other_rows);
            println!("  blob files deleted:           {}", f.blobs_removed);
            if f.blobs_left > 0 {
                println!(
                    "  blob files left to the hourly clean-up: {} (recent, or a backup was running)",
                    f.blobs_left
                );
            }
            0
        }
        Err(e) => fail(e),
    }
}
