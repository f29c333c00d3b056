//! What connections to mail servers share: how they are protected and the secrets they
//! log in with.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A secret from the config (a password): never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// How a connection to a mail server (IMAP or SMTP) is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (port 993).
    Implicit,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No encryption: allowed only to a loopback address.
    Plain,
}

/// Why `tls` is not allowed towards `host`, if it is not: plain text only to loopback.
pub(super) fn plain_refused(tls: TlsMode, host: &str) -> Option<String> {
    let loopback = matches!(host, "127.0.0.1" | "::1" | "[::1]" | "localhost");
    (tls == TlsMode::Plain && !loopback).then(|| format!("\"plain\" is allowed only to a loopback host, not {host:?}"))
}

/// `inline`, or the first line of `file` when one is given.
pub(super) fn read_password(inline: &Secret, file: Option<&Path>) -> std::io::Result<Secret> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)?;
            Ok(Secret::new(text.lines().next().unwrap_or_default().trim_end()))
        }
        None => Ok(inline.clone()),
    }
}
