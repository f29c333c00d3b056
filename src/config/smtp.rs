//! `[smtp]`: the server notifications are handed to.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::connection::{Secret, TlsMode, plain_refused, read_password};

/// `[smtp]`: the server notifications are handed to when `outbox.transport = "smtp"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name or address.
    pub host: String,
    /// Server port; defaults to 465 for implicit TLS, else 587 (25 for plain).
    #[serde(default)]
    pub port: Option<u16>,
    /// Connection protection.
    #[serde(default = "default_smtp_tls")]
    pub tls: TlsMode,
    /// Login name for AUTH (none: no AUTH).
    #[serde(default)]
    pub user: Option<String>,
    /// Password for AUTH (or use `password_file`).
    #[serde(default)]
    pub password: Secret,
    /// A file holding the password (its first line).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An extra CA certificate (PEM) to trust besides the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds a connection, command or delivery may take.
    #[serde(default = "default_smtp_timeout")]
    pub timeout_secs: u64,
    /// Connections kept open for reuse.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
}

fn default_smtp_tls() -> TlsMode {
    TlsMode::Starttls
}
fn default_smtp_timeout() -> u64 {
    30
}
fn default_pool() -> u32 {
    4
}

impl SmtpConfig {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::Implicit => 465,
            TlsMode::Starttls => 587,
            TlsMode::Plain => 25,
        })
    }

    /// Checks these settings.
    pub(super) fn validate(&self, problems: &mut Vec<String>) {
        if self.host.trim().is_empty() {
            problems.push("smtp.host: must not be empty".into());
        }
        if let Some(problem) = plain_refused(self.tls, &self.host) {
            problems.push(format!("smtp.tls: {problem}"));
        }
        if self.password_file.is_some() && !self.password.is_empty() {
            problems.push("smtp.password: give password or password_file, not both".into());
        }
        if self.user.is_none() && (self.password_file.is_some() || !self.password.is_empty()) {
            problems.push("smtp.user: a password needs a user".into());
        }
        if self.timeout_secs == 0 || self.pool_size == 0 {
            problems.push("smtp: timeout_secs and pool_size must be at least 1".into());
        }
    }

    /// The password, read from `password_file` when one is configured.
    pub fn password(&self) -> std::io::Result<Secret> {
        read_password(&self.password, self.password_file.as_deref())
    }
}
