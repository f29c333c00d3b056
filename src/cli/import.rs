//! `maildesk import mbox FILE…` and `maildesk import maildir DIR…`: a desk's old mail into
//! tickets (see [`crate::desk::import`]), with a progress bar on a terminal, plain
//! progress lines otherwise, and a summary at the end. Ctrl-C stops after the batch in
//! hand; running the same command again resumes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Subcommand;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::desk::import::{self, Kind, Progress, Summary};

#[derive(Subcommand, Debug)]
pub(super) enum ImportCommand {
    /// Import mbox files (mboxrd or mboxo), messages in date order across all of them.
    Mbox {
        /// The mbox files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import Maildirs (their new/ and cur/), messages in date order across all of them.
    Maildir {
        /// The Maildir directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Exit code of an import stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells say).
const EXIT_INTERRUPTED: i32 = 130;

pub(super) async fn run(config: Config, command: ImportCommand) -> i32 {
    let (kind, paths, json) = match command {
        ImportCommand::Mbox { files, json } => (Kind::Mbox, files, json),
        ImportCommand::Maildir { dirs, json } => (Kind::Maildir, dirs, json),
    };
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let stop = CancellationToken::new();
    tokio::spawn(super::signal_shutdown(stop.clone()));
    let mut progress: Box<dyn Progress> = match std::io::stderr().is_terminal() {
        true => Box::new(Bar::default()),
        false => Box::new(Lines::default()),
    };
    let result = import::run(&app, kind, &paths, progress.as_mut(), &stop).await;
    drop(progress);
    app.store.close().await;
    match result {
        Ok(summary) => {
            if json {
                match serde_json::to_string_pretty(&summary) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("maildesk: cannot write the summary: {e}"),
                }
            } else {
                println!("{}", describe(&summary));
            }
            if summary.interrupted { EXIT_INTERRUPTED } else { 0 }
        }
        Err(e) => {
            eprintln!("maildesk: import stopped: {e}");
            eprintln!("maildesk: what was imported stays; run the same command again to resume");
            super::EXIT_FAILURE
        }
    }
}

/// The summary in words.
fn describe(s: &Summary) -> String {
    if s.already_imported {
        return format!("these {} messages were imported before: 0 new, nothing changed", s.total);
    }
    let mut text = format!(
        "imported {} of {} messages: {} tickets, {} comments, {} automatic, {} quarantined, {} duplicates, {} blocked",
        s.messages, s.total, s.tickets, s.comments, s.automatic, s.quarantined, s.duplicates, s.blocked
    );
    if s.resumed_after > 0 {
        text.push_str(&format!(" (resumed after {} done before)", s.resumed_after));
    }
    if s.interrupted {
        text.push_str("\ninterrupted: run the same command again to resume");
    } else {
        text.push_str(&format!("\n{} imported tickets closed (last mail older than desk.reopen_days)", s.closed));
    }
    if s.quarantined > 0 {
        text.push_str("\nsee `maildesk quarantine list` for why messages were quarantined");
    }
    text
}

/// A progress bar on standard error (a terminal).
#[derive(Default)]
struct Bar {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress for Bar {
    fn indexed(&mut self, total: u64, done: u64) {
        let bar = indicatif::ProgressBar::new(total);
        let style =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages, {per_sec}, {eta} left  {msg}");
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.set_position(done);
        self.bar = Some(bar);
    }

    fn advanced(&mut self, done: u64, s: &Summary) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(format!("{} tickets, {} comments, {} quarantined", s.tickets, s.comments, s.quarantined));
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// Plain progress lines on standard error (not a terminal): every 1,000 messages or 5 s.
struct Lines {
    last: Instant,
    last_done: u64,
    total: u64,
    started: Instant,
}

impl Default for Lines {
    fn default() -> Lines {
        Lines { last: Instant::now(), last_done: 0, total: 0, started: Instant::now() }
    }
}

impl Progress for Lines {
    fn indexed(&mut self, total: u64, done: u64) {
        (self.total, self.last_done) = (total, done);
        eprintln!("maildesk: import: {total} messages found, {done} imported before");
    }

    fn advanced(&mut self, done: u64, s: &Summary) {
        if done < self.total && done < self.last_done + 1000 && self.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        eprintln!(
            "maildesk: import: {done} of {} messages ({:.0}/s): {} tickets, {} comments, {} automatic, {} quarantined",
            self.total,
            s.messages as f64 / secs,
            s.tickets,
            s.comments,
            s.automatic,
            s.quarantined
        );
        (self.last, self.last_done) = (Instant::now(), done);
    }
}
