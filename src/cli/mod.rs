//! The command line: argument parsing, output formatting and exit codes. Each command is a
//! thin call into the library. Exit codes: 0 success, 1 failure, 2 bad usage or config,
//! 75 temporary failure (`ingest`, so the MTA retries).

mod backup;
mod check;
mod contact;
mod import;
mod kb;
mod parse;
mod quarantine;
mod sender;
mod staff;
mod templates;
mod ticket;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::App;
use crate::config::Config;
use crate::sources::pipe;

/// Exit code for bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a failed command.
pub const EXIT_FAILURE: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(one_line("plain ünïcode"), "plain ünïcode");
        assert_eq!(one_line("a\x1b[2Jb\x07c\u{9b}d\u{7f}"), "a\\u{1b}[2Jb\\u{7}c\\u{9b}d\\u{7f}");
        assert_eq!(one_line("two\nlines\tand\r"), "two\\nlines\\tand\\r");
        assert_eq!(multi_line("two\nlines\tkept\r\x1b]0;title\x07"), "two\nlines\tkept\\r\\u{1b}]0;title\\u{7}");
        assert_eq!(one_line("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
    }
}

#[derive(Parser, Debug)]
#[command(name = "maildesk", version, about = "An email-first helpdesk daemon")]
struct Cli {
    /// TOML config file (without one, the embedded defaults under ./var apply).
    #[arg(long, global = true, env = "MAILDESK_CONFIG")]
    config: Option<PathBuf>,
    /// How logs are written: `text` (the default on a terminal) or `json`, one object per
    /// line (the default otherwise: the journal, a file, a pipe).
    #[arg(long, global = true, env = "MAILDESK_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

/// How logs are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line, for the journal and log collectors.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: mail sources, outbox sender and portal.
    Serve,
    /// Print how maildesk reads a message, without touching any database.
    Parse {
        /// The message file (`-` for standard input).
        file: PathBuf,
        /// Print the interpretation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply one message from a file or standard input (MTA pipe delivery).
    Ingest {
        /// The message file; `-` or nothing for standard input.
        file: Option<PathBuf>,
    },
    /// Look at tickets.
    Ticket {
        #[command(subcommand)]
        command: ticket::TicketCommand,
    },
    /// Manage staff: who gets new-ticket and customer-reply notifications.
    Staff {
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Look at contacts, their tickets and portal access; invite them to the portal.
    Contact {
        #[command(subcommand)]
        command: contact::ContactCommand,
    },
    /// Look at the quarantine: mail that could not be processed; retry or delete it.
    Quarantine {
        #[command(subcommand)]
        command: quarantine::QuarantineCommand,
    },
    /// Block senders: mail from a blocked address or domain is recorded, not ticketed or answered.
    Sender {
        #[command(subcommand)]
        command: sender::SenderCommand,
    },
    /// The knowledge base: import solutions from Markdown files, list, show and search them.
    Kb {
        #[command(subcommand)]
        command: kb::KbCommand,
    },
    /// Check a config before going live: database, mailboxes, SMTP, data directory,
    /// portal, DNS; one line per check (exit 0: all ok or warnings, 1: a check failed).
    Check {
        /// Seconds each check may take.
        #[arg(long, default_value_t = crate::check::DEFAULT_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Copy the database, blobs and reply key into DEST (a new directory) while the daemon
    /// runs. With PostgreSQL the database is dumped with pg_dump instead (README, "Backups").
    Backup {
        /// The new directory to write the backup to.
        dest: PathBuf,
    },
    /// Fill the empty data directory from a backup made by `maildesk backup`.
    Restore {
        /// The backup's directory.
        src: PathBuf,
    },
    /// Import a desk's old mail from mbox files or Maildirs: tickets, comments, dates kept;
    /// nothing sent. Resumable; a second run changes nothing.
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Export the built-in mail templates to start overrides from; check overrides.
    Templates {
        #[command(subcommand)]
        command: templates::TemplatesCommand,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    let quiet = !matches!(cli.command, Command::Serve);
    init_logging(quiet, cli.log_format);
    if let Command::Parse { file, json } = &cli.command {
        return parse::run(file, *json, cli.config.as_deref());
    }
    if let Command::Templates { command } = cli.command {
        return templates::run(command, cli.config.as_deref());
    }
    let config = match Config::load(cli.config.as_deref(), config_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maildesk: {e}");
            // An MTA bounces mail on any status but 75: keep it queued until the admin
            // has fixed the config.
            return if matches!(cli.command, Command::Ingest { .. }) { pipe::EX_TEMPFAIL } else { EXIT_USAGE };
        }
    };
    if let Command::Ingest { file } = cli.command {
        crate::memory::one_heap();
        crate::cpu::stay_on_this_cpu();
        return ingest(config, file);
    }
    // A command starts fastest on one thread; the daemon gets two.
    let mut builder = match cli.command {
        Command::Serve => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    builder.enable_all();
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("maildesk: cannot start the runtime: {e}");
            return EXIT_FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(config, cli.config.clone()).await,
            Command::Ticket { command } => ticket::run(config, command).await,
            Command::Quarantine { command } => quarantine::run(config, command).await,
            Command::Staff { command } => staff::run(config, command).await,
            Command::Contact { command } => contact::run(config, command).await,
            Command::Sender { command } => sender::run(config, command).await,
            Command::Kb { command } => kb::run(config, command).await,
            Command::Check { timeout, json } => check::run(config, std::time::Duration::from_secs(timeout), json).await,
            Command::Backup { dest } => backup::run_backup(config, &dest).await,
            Command::Restore { src } => backup::run_restore(config, &src).await,
            Command::Import { command } => import::run(config, command).await,
            Command::Parse { .. } | Command::Templates { .. } | Command::Ingest { .. } => unreachable!("handled above"),
        }
    });
    // Dropping the runtime would wait for every blocking thread, and one may be stuck in a
    // hostile message that hit limits.max_processing_secs: it is abandoned instead.
    runtime.shutdown_timeout(ABANDON_BLOCKING_AFTER);
    code
}

/// How long the end of a command waits for blocking threads still running (a worker stuck
/// in a message is never waited for longer).
const ABANDON_BLOCKING_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// The `MAILDESK_…` environment variables. Others are skipped unread: an MTA's pipe
/// delivery sets variables from the envelope, which need not be valid UTF-8.
pub(crate) fn config_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let key = k.into_string().ok()?;
            key.starts_with(crate::config::ENV_PREFIX).then_some(())?;
            Some((key, v.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Logs to standard error: text on a terminal, JSON lines otherwise, unless `format` says.
fn init_logging(quiet: bool, format: Option<LogFormat>) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAILDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format.unwrap_or(if terminal { LogFormat::Text } else { LogFormat::Json }) {
        LogFormat::Text => builder.with_ansi(terminal).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(true).try_init(),
    };
}

/// Opens the store, or says why not (naming the file, directory or server) and returns
/// [`EXIT_FAILURE`]; `ingest` turns that into EX_TEMPFAIL.
async fn open(config: Config) -> Result<Arc<App>, i32> {
    App::open(config).await.map_err(|e| {
        eprintln!("maildesk: cannot open the store: {e}");
        EXIT_FAILURE
    })
}

async fn serve(config: Config, file: Option<PathBuf>) -> i32 {
    let listen = config.portal.listen;
    let portal = config.portal.enabled;
    let metrics_listen = config.metrics.listen;
    // Before anything starts: an override that cannot render is found now, not when a
    // customer's mail is due.
    let templates = match crate::outbound::Templates::load(&config) {
        Ok(templates) => templates,
        Err(problems) => {
            eprintln!("maildesk: the mail templates in outbox.templates_dir cannot be used:\n{problems}");
            return EXIT_USAGE;
        }
    };
    let app = match open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let listener = if portal {
        match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("maildesk: cannot listen on {listen} (portal.listen): {e}");
                return EXIT_FAILURE;
            }
        }
    } else {
        None
    };
    let metrics = match metrics_listen {
        Some(addr) => {
            let handle = match crate::telemetry::install() {
                Ok(handle) => handle,
                Err(e) => {
                    eprintln!("maildesk: cannot start the metrics: {e}");
                    return EXIT_FAILURE;
                }
            };
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some((l, handle)),
                Err(e) => {
                    eprintln!("maildesk: cannot listen on {addr} (metrics.listen): {e}");
                    return EXIT_FAILURE;
                }
            }
        }
        None => None,
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    if let Some((listener, handle)) = metrics {
        tracing::info!(addr = %addr_of(&listener), "metrics listening");
        let (app, shutdown) = (app.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = crate::telemetry::serve(listener, app, handle, shutdown).await {
                tracing::warn!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let templates: crate::outbound::SharedTemplates = Arc::new(arc_swap::ArcSwap::from_pointee(templates));
    let reread = move || Config::load(file.as_deref(), config_env());
    tokio::spawn(crate::daemon::reload_on_hangup(app.clone(), templates.clone(), reread, shutdown.clone()));
    let transport = match crate::daemon::transport(&app) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("maildesk: cannot set up sending: {e}");
            return EXIT_FAILURE;
        }
    };
    match crate::daemon::run(app, listener, crate::daemon::sender(transport, templates), shutdown).await {
        crate::daemon::Drained::Clean => 0,
        crate::daemon::Drained::WorkersStuck => {
            eprintln!(
                "maildesk: stopped taking mail: {} or more workers are stuck past limits.max_processing_secs \
                 (exit 1 so that systemd restarts maildesk with fresh threads)",
                crate::workers::MAX_ABANDONED
            );
            EXIT_FAILURE
        }
        crate::daemon::Drained::TimedOut => {
            eprintln!(
                "maildesk: stopped before every task finished (drain deadline {}s passed)",
                crate::daemon::DRAIN_DEADLINE.as_secs()
            );
            EXIT_FAILURE
        }
    }
}

/// The address `listener` is bound to, for the log.
fn addr_of(listener: &tokio::net::TcpListener) -> String {
    listener.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string())
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn signal_shutdown(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    shutdown.cancel();
}

/// `ingest`: reads the message, hands it to the daemon when one runs on the data directory
/// (no store to open, no thread to start), and otherwise applies it here.
fn ingest(config: Config, file: Option<PathBuf>) -> i32 {
    let input = match file {
        Some(path) if path.as_os_str() != "-" => pipe::Input::File(path),
        _ => pipe::Input::Stdin,
    };
    let message = pipe::read(input, config.limits.max_message_bytes, &config.data_dir);
    if let Ok(pipe::Message::Whole(raw)) = &message {
        use crate::sources::handoff::{self, HandOff};
        match handoff::offer(&config.data_dir, raw, config.limits.max_processing_secs) {
            HandOff::Answered { code, said } => {
                eprintln!("maildesk: {}", one_line(&said));
                return code;
            }
            HandOff::NotTaken { why } => tracing::debug!(%why, "applying the message here"),
        }
    }
    // Everything that stops a message here is for the admin to fix (a config, a
    // database, a permission): the MTA keeps the mail and tries again (75).
    if let Err(problem) = check_smtp_password(&config) {
        eprintln!("maildesk: {problem}");
        return pipe::EX_TEMPFAIL;
    }
    // One thread: SQLite's worker and the bounded reading of the message are the only
    // others. On SQLite no socket is opened, so no I/O driver is set up (its store talks to
    // SQLite's own thread over channels).
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if config.database.url.starts_with("sqlite:") {
        builder.enable_time();
    } else {
        builder.enable_all();
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("maildesk: cannot start the runtime: {e}");
            return pipe::EX_TEMPFAIL;
        }
    };
    let code = runtime.block_on(async move {
        let app = match App::open(config).await {
            Ok(app) => app,
            Err(e) => {
                eprintln!("maildesk: cannot open the store: {e}");
                return pipe::EX_TEMPFAIL;
            }
        };
        let (code, result) = pipe::apply(&app, message).await;
        match result {
            Ok(outcome) => eprintln!("maildesk: {}", describe(&outcome)),
            Err(e) => eprintln!("maildesk: {e}"),
        }
        // Closed: the last SQLite connection to close checkpoints the WAL into the
        // database. Left open, the WAL would grow to the auto-checkpoint's 1,000 pages,
        // and every next `ingest` that finds no other process on the database (no shared
        // WAL index) would read all of it again on opening: slower than this checkpoint of
        // one message's pages.
        app.store.close().await;
        code
    });
    // The effect is committed, the store closed and the outcome said: nothing is left for
    // a shutdown of the runtime to wait for or tidy (a worker stuck in a hostile message
    // is abandoned).
    std::mem::forget(runtime);
    code
}

/// The check `serve` makes of the SMTP password file, made by `ingest` too: mail taken
/// in now would otherwise wait for a sender that cannot start.
fn check_smtp_password(config: &Config) -> Result<(), String> {
    match &config.smtp {
        Some(smtp) if config.outbox.transport == crate::config::TransportKind::Smtp && smtp.user.is_some() => {
            smtp.password().map(|_| ()).map_err(|e| match &smtp.password_file {
                Some(path) => format!("smtp.password_file: cannot read {}: {e}", path.display()),
                None => format!("smtp.password: {e}"),
            })
        }
        _ => Ok(()),
    }
}

/// What `ingest` says about `outcome`, safe to print on one line.
fn describe(outcome: &crate::desk::Outcome) -> String {
    one_line(&pipe::describe(outcome)).into_owned()
}

/// `text` safe to print on one line of a terminal: control characters (C0, DEL, C1 —
/// hostile mail may carry escape sequences, `\x1b[2J`, bells) and bidirectional overrides
/// shown as visible escapes, as Rust writes them (`\u{1b}`, `\n`, `\u{202e}`). Every printer uses this or
/// [`multi_line`] for text that came from outside.
pub(crate) fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    escape(text, false)
}

/// Like [`one_line`], for bodies: line breaks and tabs stay as they are.
pub(crate) fn multi_line(text: &str) -> std::borrow::Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_lines && matches!(c, '\n' | '\t')))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' if !keep_lines => out.push_str("\\n"),
            '\t' if !keep_lines => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

/// Reads a whole file, or standard input for `-` or no file.
fn read_input(file: Option<&std::path::Path>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut raw = Vec::new();
            std::io::stdin().read_to_end(&mut raw).map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(raw)
        }
    }
}
