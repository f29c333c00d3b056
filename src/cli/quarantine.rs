//! `maildesk quarantine list`: mail that could not be processed, with the reason.

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand, Debug)]
pub(super) enum QuarantineCommand {
    /// List quarantined messages, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(config: Config, command: QuarantineCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let QuarantineCommand::List { json } = command;
    let result = app.store.list_quarantine().await;
    app.store.close().await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("maildesk: {e}");
            return super::EXIT_FAILURE;
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return 0;
    }
    println!("{:>5}  {:>9}  {:>10}  {:<24}  REASON", "ID", "BYTES", "DELIVERIES", "SOURCE");
    for q in &rows {
        println!("{:>5}  {:>9}  {:>10}  {:<24}  {}", q.id, q.size, q.deliveries, q.source, q.reason);
    }
    0
}
