//! Second chances for quarantined mail: a quarantined message is fed through
//! [`receive`](super::receive) again (after a limit was raised or a bug fixed). The entry
//! leaves the quarantine only once the message took effect; this module never deletes a
//! blob and never applies a message twice (receive's fingerprint guard still holds).

use tracing::info;

use super::{DeskError, Origin, Outcome, receive};
use crate::App;
use crate::domain::Source;
use crate::store::{QuarantineRow, StoreError};

/// What retrying a quarantined message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The message took effect (or had already): the entry was removed from the quarantine.
    Applied(Outcome),
    /// The message failed again for this reason; the entry stays, its reason updated (and
    /// its delivery count one higher when it was processed again).
    Quarantined(String),
}

/// Why a quarantined message could not be retried. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// No quarantine entry has this id.
    #[error("no quarantine entry {0}")]
    NoEntry(i64),
    /// The entry's raw bytes are gone from the blob store.
    #[error("quarantine entry {id}: its raw message (blob {sha}) is missing from the blob store")]
    MissingBlob {
        /// The entry.
        id: i64,
        /// The blob it names.
        sha: String,
    },
    /// The store failed.
    #[error("quarantine entry {id}: {source}")]
    Store {
        /// The entry.
        id: i64,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// Desk could not settle the message now; try again later.
    #[error("quarantine entry {id}: {source}")]
    Desk {
        /// The entry.
        id: i64,
        /// What failed.
        #[source]
        source: DeskError,
    },
}

/// The quarantined messages, newest first.
pub async fn list(app: &App) -> Result<Vec<QuarantineRow>, StoreError> {
    app.store.conn().await?.list_quarantine().await
}

/// Quarantine entry `id`, if there is one.
pub async fn entry(app: &App, id: i64) -> Result<Option<QuarantineRow>, StoreError> {
    app.store.conn().await?.quarantine_entry(id).await
}

/// The raw bytes of quarantine entry `row`, if its blob is still there.
pub fn raw(app: &App, row: &QuarantineRow) -> std::io::Result<Option<Vec<u8>>> {
    app.store.blobs.get(&row.raw_sha256)
}

/// Removes entry `id` from the quarantine for good (its raw message stays in the blob
/// store until the sweep); returns whether there was one.
pub async fn delete(app: &App, id: i64) -> Result<bool, StoreError> {
    app.store.conn().await?.delete_quarantine(id).await
}

/// Feeds quarantine entry `id`'s raw message through [`receive`](super::receive) again,
/// with the department of the mailbox it first came from. When it takes effect (or had
/// already), the entry is deleted; when it is quarantined again, the entry stays (receive
/// counts the delivery) with the new reason. A message still over
/// `limits.max_message_bytes` is not even read (it may be huge): it stays, not counted.
pub async fn retry(app: &App, id: i64) -> Result<RetryOutcome, QuarantineError> {
    let store_err = |source| QuarantineError::Store { id, source };
    let mut db = app.store.conn().await.map_err(store_err)?;
    let entry = db.quarantine_entry(id).await.map_err(store_err)?.ok_or(QuarantineError::NoEntry(id))?;
    let config = app.config();
    let limit = config.limits.max_message_bytes;
    let size = u64::try_from(entry.size).unwrap_or(u64::MAX);
    if size > limit {
        let reason = super::intake::too_large(size, limit);
        db.set_quarantine_reason(id, &reason).await.map_err(store_err)?;
        return Ok(RetryOutcome::Quarantined(reason));
    }
    let Some(raw) = app.store.blobs.get(&entry.raw_sha256).map_err(|e| store_err(StoreError::Blob(e)))? else {
        return Err(QuarantineError::MissingBlob { id, sha: entry.raw_sha256 });
    };
    let department = match &entry.source {
        Source::Imap(name) => config.imap.iter().find(|m| &m.name == name).and_then(|m| m.department.as_deref()),
        _ => None,
    };
    let origin = Origin { source: &Source::QuarantineRetry, department, fence: None };
    db.release().await; // receive takes connections of its own
    let outcome = receive(app, &raw, origin).await.map_err(|source| QuarantineError::Desk { id, source })?;
    let mut db = app.store.conn().await.map_err(store_err)?;
    match outcome {
        Outcome::Quarantined(reason) => {
            db.set_quarantine_reason(id, &reason).await.map_err(store_err)?;
            info!(quarantine = id, %reason, "retried message quarantined again");
            Ok(RetryOutcome::Quarantined(reason))
        }
        outcome => {
            db.delete_quarantine(id).await.map_err(store_err)?;
            info!(quarantine = id, outcome = outcome.as_str(), "retried message took effect");
            Ok(RetryOutcome::Applied(outcome))
        }
    }
}
