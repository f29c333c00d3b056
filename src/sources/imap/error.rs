//! How an IMAP session fails: the error a session ends with, and the server's own words
//! when it refused a command.

use crate::desk::DeskError;
use crate::store::StoreError;

/// Why a session ended before shutdown; the caller reconnects.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server failed or refused a command, or the connection broke.
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    /// The intake folder cannot be selected: nothing can be read from this mailbox.
    #[error("{0}")]
    Folder(String),
    /// The store is unavailable; the message stays in the mailbox.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Intake stopped (too many workers stuck); the message stays in the mailbox.
    #[error("{0}")]
    Stopped(DeskError),
    /// A message could not be read on our side; it stays in the mailbox.
    #[error("{0}")]
    Unread(DeskError),
    /// This node's lease on the mailbox ended: it touches the mailbox no more.
    #[error("this node no longer works the mailbox {0:?}: another node may")]
    LeaseLost(String),
}

impl From<DeskError> for SyncError {
    fn from(e: DeskError) -> SyncError {
        match e {
            DeskError::Temporary(e) => SyncError::Store(e),
            e @ DeskError::Stopped => SyncError::Stopped(e),
            e @ DeskError::Read { .. } => SyncError::Unread(e),
        }
    }
}

/// The server's answer when it refused a command, such as `NO [TRYCREATE] Mailbox doesn't
/// exist`; `None` when the connection failed instead.
pub(super) fn refusal(e: &async_imap::error::Error) -> Option<String> {
    match e {
        async_imap::error::Error::No(detail) => Some(answer("NO", detail)),
        async_imap::error::Error::Bad(detail) => Some(answer("BAD", detail)),
        _ => None,
    }
}

/// The answer as the server gave it, from async-imap's description of the tagged response
/// (`code: Some(TryCreate), info: Some("…")`); the description itself when it has no text.
fn answer(status: &str, detail: &str) -> String {
    static TEXT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"info(?:rmation)?: Some\("((?:[^"\\]|\\.)*)"\)"#).expect("valid regex")
    });
    static CODE: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"code: Some\(([A-Za-z]+)\)").expect("valid regex"));
    let Some(text) = TEXT.captures(detail).map(|c| c[1].replace("\\\"", "\"").replace("\\\\", "\\")) else {
        return format!("{status} {detail}");
    };
    match CODE.captures(detail) {
        Some(code) => format!("{status} [{}] {text}", code[1].to_ascii_uppercase()),
        None => format!("{status} {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_as_the_server_said_it() {
        let no = async_imap::error::Error::No(
            "code: Some(TryCreate), info: Some(\"Mailbox doesn't exist: \\\"x\\\"\")".into(),
        );
        assert_eq!(refusal(&no).unwrap(), "NO [TRYCREATE] Mailbox doesn't exist: \"x\"");
        let quota = async_imap::error::Error::No("code: None, info: Some(\"[OVERQUOTA] Over quota\")".into());
        assert_eq!(refusal(&quota).unwrap(), "NO [OVERQUOTA] Over quota");
        let stream = async_imap::error::Error::Bad(
            "outcome: Done { tag: RequestId(\"A0004\"), status: Bad, code: None, information: Some(\"Error in IMAP command\") }"
                .into(),
        );
        assert_eq!(refusal(&stream).unwrap(), "BAD Error in IMAP command");
        assert_eq!(refusal(&async_imap::error::Error::No("odd".into())).unwrap(), "NO odd");
        assert_eq!(refusal(&async_imap::error::Error::ConnectionLost), None, "a broken connection is no answer");
    }
}
