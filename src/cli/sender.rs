//! `maildesk sender block|unblock|list`: the blocklist of addresses and domains whose mail
//! is recorded but neither ticketed nor answered.

use clap::Subcommand;

use crate::config::Config;
use crate::desk::senders;

#[derive(Subcommand, Debug)]
pub(super) enum SenderCommand {
    /// Block an address (ann@example.com) or a whole domain (example.com): their mail is
    /// recorded, never ticketed, never answered.
    Block {
        /// The address or domain.
        entry: String,
    },
    /// Take an address or domain off the blocklist.
    Unblock {
        /// The address or domain, as blocked.
        entry: String,
    },
    /// List the blocklist.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(config: Config, command: SenderCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match command {
        SenderCommand::Block { entry } => match senders::block(&app, &entry).await {
            Ok((pattern, true)) => done(&format!("{pattern} blocked")),
            Ok((pattern, false)) => done(&format!("{pattern} was blocked already; nothing changed")),
            Err(e) => refuse(e),
        },
        SenderCommand::Unblock { entry } => match senders::unblock(&app, &entry).await {
            Ok((pattern, true)) => done(&format!("{pattern} unblocked")),
            Ok((pattern, false)) => {
                eprintln!("maildesk: {pattern} is not on the blocklist");
                super::EXIT_FAILURE
            }
            Err(e) => refuse(e),
        },
        SenderCommand::List { json } => match senders::list(&app).await {
            Ok(rows) if json => {
                println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
                0
            }
            Ok(rows) => {
                println!("{:<48}  BLOCKED", "ADDRESS OR DOMAIN");
                for r in rows {
                    println!("{:<48}  {}", super::one_line(&r.pattern), super::contact::timestamp(r.created_at));
                }
                0
            }
            Err(e) => refuse(e),
        },
    };
    app.store.close().await;
    code
}

fn done(what: &str) -> i32 {
    eprintln!("maildesk: {what}");
    0
}

fn refuse(e: senders::SenderError) -> i32 {
    eprintln!("maildesk: {e}");
    match e {
        senders::SenderError::Store(_) => super::EXIT_FAILURE,
        _ => super::EXIT_USAGE,
    }
}
