//! Where rendered mail goes: `.eml` files for local use, memory for tests (SMTP joins
//! later as a third variant).

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A message the memory transport took.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// Envelope recipient.
    pub recipient: String,
    /// Our Message-ID, without brackets.
    pub message_id: String,
    /// The whole message.
    pub bytes: Vec<u8>,
}

/// Why a send failed: retry later, or never.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// May succeed later (connection, timeout, 4xx, disk full).
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never succeed (5xx, bad address, unrenderable).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A way out for rendered mail.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Writes `<message-id>.eml` into the directory (atomically; a repeat overwrites).
    File(PathBuf),
    /// Keeps messages in memory, for tests to inspect.
    Memory(Arc<Mutex<Vec<SentMail>>>),
}

impl Transport {
    /// A memory transport and the list it appends to.
    pub fn memory() -> (Transport, Arc<Mutex<Vec<SentMail>>>) {
        let list = Arc::new(Mutex::new(Vec::new()));
        (Transport::Memory(list.clone()), list)
    }

    /// Hands one message to the transport.
    pub async fn send(&self, message_id: &str, recipient: &str, bytes: &[u8]) -> Result<(), SendError> {
        match self {
            Transport::File(dir) => {
                let dir = dir.clone();
                let name = file_name(message_id);
                let bytes = bytes.to_vec();
                tokio::task::spawn_blocking(move || write_file(&dir, &name, &bytes))
                    .await
                    .map_err(|e| SendError::Temporary(e.to_string()))?
                    .map_err(|e| SendError::Temporary(format!("writing {message_id}: {e}")))
            }
            Transport::Memory(list) => {
                let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
                list.push(SentMail {
                    recipient: recipient.into(),
                    message_id: message_id.into(),
                    bytes: bytes.to_vec(),
                });
                Ok(())
            }
        }
    }
}

/// A safe file name for a Message-ID: anything but letters, digits, `.`, `-`, `_`, `@`
/// becomes `_`.
fn file_name(message_id: &str) -> String {
    let clean: String =
        message_id.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_@".contains(c) { c } else { '_' }).collect();
    format!("{}.eml", clean.trim_start_matches('.'))
}

fn write_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}
