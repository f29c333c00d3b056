//! `[[imap]]`: the IMAP mailboxes maildesk reads, one table per mailbox.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::connection::{Secret, TlsMode, plain_refused, read_password};
use crate::domain::EmailAddress;

/// What happens to a message in the mailbox once its effect is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterCommit {
    /// Move it to `done_folder` (MOVE, or COPY + EXPUNGE where MOVE is missing).
    Move,
    /// Leave it where it is, flagged `\Seen` (the last UID done is remembered).
    Flag,
}

/// One IMAP mailbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapMailbox {
    /// A short name for logs and the sync state (unique).
    pub name: String,
    /// Server host name or address.
    pub host: String,
    /// Server port; defaults to 993 for implicit TLS, else 143.
    #[serde(default)]
    pub port: Option<u16>,
    /// Connection protection.
    #[serde(default = "default_tls")]
    pub tls: TlsMode,
    /// Login name.
    pub user: String,
    /// Password (or use `password_file`).
    #[serde(default)]
    pub password: Secret,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust besides the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The folder mail arrives in.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Move or only flag processed mail.
    #[serde(default = "default_after")]
    pub after: AfterCommit,
    /// Use the MOVE command where the server offers it (else COPY + EXPUNGE); turn off for
    /// servers whose MOVE misbehaves.
    #[serde(default = "default_true")]
    pub use_move: bool,
    /// Where processed mail goes with `after = "move"`.
    #[serde(default = "default_done")]
    pub done_folder: String,
    /// Where mail that could not be processed goes.
    #[serde(default = "default_quarantine")]
    pub quarantine_folder: String,
    /// The department new tickets from this mailbox belong to.
    #[serde(default)]
    pub department: Option<String>,
    /// The addresses this mailbox receives for (never treated as customers).
    #[serde(default)]
    pub addresses: Vec<EmailAddress>,
    /// Use IDLE when the server offers it.
    #[serde(default = "default_true")]
    pub idle: bool,
    /// Seconds between checks without IDLE.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// No longer used: it only ever bounded a message's processing, which
    /// `limits.max_processing_secs` now does for every source. Still accepted so that an
    /// existing config loads; `serve` warns when it is set.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

fn default_tls() -> TlsMode {
    TlsMode::Implicit
}
fn default_folder() -> String {
    "INBOX".into()
}
fn default_after() -> AfterCommit {
    AfterCommit::Move
}
fn default_done() -> String {
    "maildesk-done".into()
}
fn default_quarantine() -> String {
    "maildesk-quarantine".into()
}
fn default_true() -> bool {
    true
}
fn default_poll() -> u64 {
    60
}

impl ImapMailbox {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls == TlsMode::Implicit { 993 } else { 143 })
    }

    /// Checks this mailbox's settings; `at` is its key, such as `imap[2]`.
    pub(super) fn validate(&self, at: &str, problems: &mut Vec<String>) {
        if self.name.trim().is_empty() || self.name.contains(char::is_whitespace) {
            problems.push(format!("{at}.name: must be a non-empty word"));
        }
        if self.host.trim().is_empty() {
            problems.push(format!("{at}.host: must not be empty"));
        }
        if let Some(problem) = plain_refused(self.tls, &self.host) {
            problems.push(format!("{at}.tls: {problem}"));
        }
        if self.user.is_empty() {
            problems.push(format!("{at}.user: must not be empty"));
        }
        match (&self.password_file, self.password.is_empty()) {
            (Some(_), false) => problems.push(format!("{at}.password: give password or password_file, not both")),
            (None, true) => problems.push(format!("{at}.password: missing (or give password_file)")),
            _ => {}
        }
        if self.folder.is_empty() || self.done_folder.is_empty() || self.quarantine_folder.is_empty() {
            problems.push(format!("{at}: folder, done_folder and quarantine_folder must not be empty"));
        }
        if self.after == AfterCommit::Move && self.done_folder == self.folder {
            problems.push(format!("{at}.done_folder: must differ from folder"));
        }
        if self.quarantine_folder == self.folder {
            problems.push(format!("{at}.quarantine_folder: must differ from folder"));
        }
        for (key, name) in [
            ("folder", &self.folder),
            ("done_folder", &self.done_folder),
            ("quarantine_folder", &self.quarantine_folder),
        ] {
            if name.chars().any(char::is_control) {
                problems.push(format!("{at}.{key}: must not contain control characters"));
            }
        }
        if self.poll_interval_secs == 0 {
            problems.push(format!("{at}.poll_interval_secs: must be at least 1"));
        }
    }

    /// The password, read from `password_file` when one is configured.
    pub fn password(&self) -> std::io::Result<Secret> {
        read_password(&self.password, self.password_file.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    #[test]
    fn folder_names_that_cannot_work_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let table = "[[imap]]\nname = \"s\"\nhost = \"imap.example.com\"\nuser = \"u\"\npassword = \"p\"\n";
        std::fs::write(&path, format!("{table}quarantine_folder = \"INBOX\"\ndone_folder = \"a\\r\\nb\"\n")).unwrap();
        let problems = format!("{:#}", Config::load(Some(&path), Vec::new()).expect_err("refused"));
        assert!(problems.contains("imap[0].quarantine_folder: must differ from folder"), "{problems}");
        assert!(problems.contains("imap[0].done_folder: must not contain control characters"), "{problems}");
    }

    #[test]
    fn a_config_that_still_sets_timeout_secs_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let table = "[[imap]]\nname = \"s\"\nhost = \"imap.example.com\"\nuser = \"u\"\npassword = \"p\"\n";
        std::fs::write(&path, format!("{table}timeout_secs = 60\n")).unwrap();
        let config = Config::load(Some(&path), Vec::new()).expect("loads");
        assert_eq!(config.imap[0].timeout_secs, Some(60), "kept only to warn that it is unused");
    }
}
