//! `maildesk quarantine list|show|retry|delete`: mail that could not be processed, with
//! the reason; a look at it, a second chance for it, or letting it go.

use std::io::Write;

use clap::Subcommand;
use serde::Serialize;

use crate::App;
use crate::config::Config;
use crate::desk::quarantine::{self, RetryOutcome};
use crate::store::{QuarantineRow, StoreError};

use super::contact::timestamp;
use super::one_line;

/// At most this many header lines are shown by `show`.
const MAX_HEADER_LINES: usize = 50;

#[derive(Subcommand, Debug)]
pub(super) enum QuarantineCommand {
    /// List quarantined messages, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one quarantined message: why, from where, and its headers.
    Show {
        /// The quarantine entry id (see `list`).
        id: i64,
        /// Print JSON.
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Print the whole raw message, exactly as received, and nothing else.
        #[arg(long)]
        raw: bool,
    },
    /// Process a quarantined message again (after raising a limit or fixing a bug). It
    /// leaves the quarantine once it takes effect; if it fails again it stays (exit 1).
    Retry {
        /// The quarantine entry id.
        id: i64,
    },
    /// Remove a message from the quarantine for good (its raw bytes stay in the blob store).
    Delete {
        /// The quarantine entry id.
        id: i64,
    },
}

/// A quarantine entry with the headers of its raw message.
#[derive(Debug, Serialize)]
struct Shown {
    #[serde(flatten)]
    row: QuarantineRow,
    /// Whether the raw message is in the blob store.
    raw_available: bool,
    /// Its first header lines (unfolded lines as they are, at most [`MAX_HEADER_LINES`]).
    headers: Vec<String>,
    /// How many header lines there are in all.
    header_lines: usize,
}

pub(super) async fn run(config: Config, command: QuarantineCommand) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let code = match command {
        QuarantineCommand::List { json } => list(&app, json).await,
        QuarantineCommand::Show { id, json, raw } => show(&app, id, json, raw).await,
        QuarantineCommand::Retry { id } => retry(&app, id).await,
        QuarantineCommand::Delete { id } => delete(&app, id).await,
    };
    app.store.close().await;
    code
}

fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("maildesk: {e}");
    super::EXIT_FAILURE
}

async fn list(app: &App, json: bool) -> i32 {
    let rows = match quarantine::list(app).await {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return 0;
    }
    println!("{:>5}  {:>9}  {:>10}  {:<24}  REASON", "ID", "BYTES", "DELIVERIES", "SOURCE");
    for q in &rows {
        println!(
            "{:>5}  {:>9}  {:>10}  {:<24}  {}",
            q.id,
            q.size,
            q.deliveries,
            one_line(&q.source.to_string()),
            one_line(&q.reason)
        );
    }
    0
}

/// The header lines of `raw`: everything before the first empty line.
fn header_lines(raw: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

async fn show(app: &App, id: i64, json: bool, raw: bool) -> i32 {
    let row = match quarantine::entry(app, id).await {
        Ok(Some(row)) => row,
        Ok(None) => return fail(format!("no quarantine entry {id}")),
        Err(e) => return fail(e),
    };
    let bytes = match quarantine::raw(app, &row) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format!("quarantine entry {id}: {}", StoreError::Blob(e))),
    };
    if raw {
        let Some(bytes) = bytes else {
            return fail(format!("quarantine entry {id}: its raw message (blob {}) is missing", row.raw_sha256));
        };
        let mut out = std::io::stdout().lock();
        if std::io::IsTerminal::is_terminal(&out) {
            // The bytes are the sender's: escape sequences in them would reach the terminal.
            return fail(format!(
                "quarantine entry {id}: --raw prints the message's bytes as they are; send them to a file or a pager (`> message.eml`, `| less`), not to the terminal"
            ));
        }
        return match out.write_all(&bytes).and_then(|()| out.flush()) {
            Ok(()) => 0,
            Err(e) => fail(format!("cannot write the message: {e}")),
        };
    }
    let all = bytes.as_deref().map(header_lines).unwrap_or_default();
    let shown = Shown {
        raw_available: bytes.is_some(),
        header_lines: all.len(),
        headers: all.into_iter().take(MAX_HEADER_LINES).collect(),
        row,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
        return 0;
    }
    let q = &shown.row;
    println!("Quarantine entry {}", q.id);
    println!("Reason:      {}", one_line(&q.reason));
    println!("Source:      {}", one_line(&q.source.to_string()));
    println!("Size:        {} bytes", q.size);
    println!("Deliveries:  {}", q.deliveries);
    println!("Received:    {}", timestamp(q.created_at));
    println!("Blob:        {}", one_line(&q.raw_sha256));
    if !shown.raw_available {
        println!("\n(the raw message is missing from the blob store)");
        return 0;
    }
    println!("\n--- headers ---");
    for line in &shown.headers {
        println!("{}", one_line(line));
    }
    if shown.header_lines > shown.headers.len() {
        println!("... {} more header lines", shown.header_lines - shown.headers.len());
    }
    println!("--- (`maildesk quarantine show {} --raw` prints the whole message) ---", q.id);
    0
}

async fn retry(app: &App, id: i64) -> i32 {
    match quarantine::retry(app, id).await {
        Ok(RetryOutcome::Applied(outcome)) => {
            eprintln!("maildesk: quarantine entry {id}: {}; removed from the quarantine", super::describe(&outcome));
            0
        }
        Ok(RetryOutcome::Quarantined(reason)) => {
            fail(format!("quarantine entry {id} failed again and stays quarantined: {}", one_line(&reason)))
        }
        Err(e) => fail(e),
    }
}

async fn delete(app: &App, id: i64) -> i32 {
    match quarantine::delete(app, id).await {
        Ok(true) => {
            eprintln!("maildesk: removed quarantine entry {id} (its raw message stays in the blob store)");
            0
        }
        Ok(false) => fail(format!("no quarantine entry {id}")),
        Err(e) => fail(e),
    }
}
