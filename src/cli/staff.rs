//! `maildesk staff add|list|remove`: who gets the staff notifications.

use clap::Subcommand;

use super::one_line;
use crate::config::Config;
use crate::desk::roster;
use crate::domain::{EmailAddress, StaffNotify};

#[derive(Subcommand, Debug)]
pub(super) enum StaffCommand {
    /// Add a staff member (or change an existing one's name and department).
    Add {
        /// Their address.
        email: String,
        /// Their name.
        #[arg(long, default_value = "")]
        name: String,
        /// The department whose tickets they get (default: every department).
        #[arg(long)]
        department: Option<String>,
        /// Which notifications they get: all of their departments', or only those of
        /// tickets assigned to them.
        #[arg(long, default_value = "all")]
        notify: StaffNotify,
    },
    /// List staff members.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a staff member.
    Remove {
        /// Their address.
        email: String,
    },
}

pub(super) async fn run(config: Config, command: StaffCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let parse = |email: &str| EmailAddress::parse(email).map_err(|e| e.to_string());
    let result: Result<i32, String> = match command {
        StaffCommand::Add { email, name, department, notify } => match parse(&email) {
            Ok(address) => roster::add(&app, &address, &name, department.as_deref(), notify)
                .await
                .map(|()| 0)
                .map_err(|e| e.to_string()),
            Err(e) => {
                eprintln!("maildesk: {e}");
                return super::EXIT_USAGE;
            }
        },
        StaffCommand::Remove { email } => match parse(&email) {
            Ok(address) => match roster::remove(&app, &address).await {
                Ok(true) => Ok(0),
                Ok(false) => Err(format!("no staff member {address}")),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => {
                eprintln!("maildesk: {e}");
                return super::EXIT_USAGE;
            }
        },
        StaffCommand::List { json } => match roster::roster(&app).await {
            Ok(roster) if json => {
                println!("{}", serde_json::to_string_pretty(&roster.members).unwrap_or_default());
                Ok(0)
            }
            Ok(roster) => {
                println!("{:<40} {:<20} {:<9} NAME", "ADDRESS", "DEPARTMENT", "NOTIFY");
                for s in &roster.members {
                    let department = s.department.as_deref().unwrap_or("(all)");
                    let (email, department) = (one_line(&s.email), one_line(department));
                    let name = if s.from_config { "(from the config)".into() } else { one_line(&s.name) };
                    println!("{email:<40} {department:<20} {:<9} {name}", s.notify.as_str());
                }
                Ok(0)
            }
            Err(e) => Err(e.to_string()),
        },
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
