//! `maildesk check`: whether a config will work on this host, before it goes live. Each
//! check looks at one thing (the database, an IMAP mailbox, the SMTP server, the data
//! directory, the portal's address and URL, the support domain's DNS) and gives one
//! [`Finding`]: a verdict, what was found, and what to do. The checks run side by side,
//! each within a timeout, and one failing never stops another.
//!
//! This module must change nothing: it applies no migration, creates no file, directory
//! or folder, moves or flags no mail and sends none. It reuses the connection code of
//! `store`, `sources` and `outbound` (through their read-only helpers) rather than
//! speaking a protocol of its own.

mod database;
mod dns;
mod files;
mod imap;
mod portal;
mod smtp;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;

/// How a check came out. Warnings are worth reading but do not fail the check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Works as configured.
    Ok,
    /// Works, but something is unusual or will change at start (say what).
    Warn,
    /// Will not work as configured.
    Fail,
}

impl Verdict {
    /// The word printed at the start of a line: `ok`, `warn` or `FAIL`.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which kind of check: `database`, `imap`, `smtp`, `data`, `portal`, `dns`.
    pub check: &'static str,
    /// What was checked: a server, a path, an address (never with a password).
    pub target: String,
    /// How it came out.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do about it, when there is something to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    /// A finding of `verdict`, without advice.
    pub fn new(check: &'static str, target: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Finding {
        Finding { check, target: target.into(), verdict, detail: detail.into(), fix: None }
    }

    /// The same finding, with what to do.
    pub fn fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }
}

/// The time each check may take unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

type Pending<'a> = Pin<Box<dyn Future<Output = Vec<Finding>> + Send + 'a>>;

/// Runs every check `config` calls for, side by side, each within `timeout`; the findings
/// come in a fixed order (database, data directory, IMAP mailboxes, SMTP, portal, DNS).
pub async fn run(config: &Config, timeout: Duration) -> Vec<Finding> {
    let mut checks: Vec<Pending<'_>> = vec![
        within(
            timeout,
            "database",
            crate::config::redact_password(&config.database.url),
            database::check(config, timeout),
        ),
        Box::pin(async { files::check(config) }),
    ];
    for mailbox in &config.imap {
        let target = format!("{}@{}:{}", mailbox.user, mailbox.host, mailbox.port());
        checks.push(within(timeout, "imap", target, imap::check(mailbox)));
    }
    checks.push(smtp::check(config, timeout));
    checks.push(Box::pin(async move { portal::check(&config.portal).await }));
    checks.push(within(timeout, "dns", config.desk.address.domain().to_string(), dns::check(config)));
    futures::future::join_all(checks).await.into_iter().flatten().collect()
}

/// `check` as a boxed future whose findings are one FAIL naming `what` and `target` when
/// it takes longer than `timeout`: an unreachable server is a clear failure, not a hang.
fn within<'a, F>(timeout: Duration, what: &'static str, target: String, check: F) -> Pending<'a>
where
    F: Future<Output = Vec<Finding>> + Send + 'a,
{
    Box::pin(async move {
        match tokio::time::timeout(timeout, check).await {
            Ok(findings) => findings,
            Err(_) => vec![
                Finding::new(what, target, Verdict::Fail, format!("no answer within {} s", timeout.as_secs_f32()))
                    .fix("check the host and port, that the server runs, and that no firewall drops the connection (or give more time with --timeout)"),
            ],
        }
    })
}

/// The worst verdict of `findings` (`Ok` when there are none).
pub fn worst(findings: &[Finding]) -> Verdict {
    findings.iter().map(|f| f.verdict).max().unwrap_or(Verdict::Ok)
}
