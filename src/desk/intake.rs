//! Taking messages in: size limits, interpretation off the async workers, batches for a
//! busy source, and the quarantine for what cannot be processed. What a message does to
//! the tickets is decided in `receive`; this module never decides it.

use tracing::{info, instrument, warn};

use super::receive::{apply, apply_in};
use super::{DeskError, Origin, Outcome};
use crate::App;
use crate::inbound::{self, Interpretation};
use crate::store::{StoreError, Tx};

/// Applies one raw message from `source` (such as `maildir:name` or `pipe`).
///
/// Returns once the effect is committed (or the message is quarantined): only then may the
/// source let go of the message. A [`DeskError`] means nothing was changed and the message
/// must be kept for another try.
#[instrument(skip_all, fields(source = %origin.into().source, bytes = raw.len()))]
pub async fn receive<'a>(app: &App, raw: &[u8], origin: impl Into<Origin<'a>> + Copy) -> Result<Outcome, DeskError> {
    let origin: Origin<'_> = origin.into();
    let source = origin.source;
    let limit = app.config.limits.max_message_bytes;
    if raw.len() as u64 > limit {
        let reason = too_large(raw.len() as u64, limit);
        return quarantine_raw(app, raw, source, reason).await;
    }
    // Interpretation is CPU work on hostile input: keep it off the async workers.
    let (bytes, settings) = (raw.to_vec(), app.inbound.clone());
    let interpreted = tokio::task::spawn_blocking(move || inbound::interpret(&bytes, &settings)).await;
    let mail = match interpreted {
        Ok(Ok(mail)) => mail,
        Ok(Err(e)) => return quarantine_raw(app, raw, source, e.to_string()).await,
        Err(e) => return quarantine_raw(app, raw, source, format!("interpretation failed: {e}")).await,
    };
    let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
    match apply(app, &mail, &fingerprint, origin).await {
        Ok(outcome) => {
            info!(outcome = outcome.as_str(), ticket = ?ticket_of(&outcome), "message applied");
            if matches!(outcome, Outcome::Opened(_) | Outcome::Commented(_) | Outcome::Refused(_)) {
                app.outbox_wake.notify_one();
            }
            Ok(outcome)
        }
        Err(e) if e.is_temporary() => {
            warn!(error = %e, "temporary failure; message kept for another try");
            Err(DeskError::Temporary(e))
        }
        Err(e) => quarantine_raw(app, raw, source, format!("could not apply: {e}")).await,
    }
}

/// Why a message of `size` bytes is quarantined unread under `limits.max_message_bytes`.
pub(super) fn too_large(size: u64, limit: u64) -> String {
    format!("message of {size} bytes exceeds limits.max_message_bytes ({limit})")
}

fn ticket_of(outcome: &Outcome) -> Option<i64> {
    match outcome {
        Outcome::Opened(t) | Outcome::Commented(t) | Outcome::Refused(t) => Some(t.0),
        _ => None,
    }
}

/// Puts a message into the quarantine with `reason` (a source uses it when processing
/// took too long); keeps the raw bytes.
pub async fn quarantine_raw(app: &App, raw: &[u8], source: &str, reason: String) -> Result<Outcome, DeskError> {
    let sha = app.store.blobs.put(raw).map_err(|e| DeskError::Temporary(e.into()))?;
    record_quarantine(app, &sha, raw.len() as u64, source, reason).await
}

/// Puts stored raw bytes into the quarantine. Entries are keyed by the hash of the bytes,
/// never by anything read from inside them.
async fn record_quarantine(
    app: &App,
    sha: &str,
    size: u64,
    source: &str,
    reason: String,
) -> Result<Outcome, DeskError> {
    // Said before waiting for the store, which may be what is stuck.
    let reason = announce_quarantine(reason);
    let stored = async {
        let mut tx = app.store.begin().await?;
        let outcome = quarantine_in(&mut tx, sha, size, source, reason).await?;
        tx.commit().await?;
        Ok(outcome)
    };
    stored.await.map_err(DeskError::Temporary)
}

/// The reason as stored (no NUL, at most 2,000 characters), logged.
fn announce_quarantine(reason: String) -> String {
    let reason: String = reason.chars().filter(|c| *c != '\0').take(2000).collect();
    warn!(%reason, "message quarantined");
    reason
}

/// Records a quarantine entry inside `tx` (the reason already announced).
async fn quarantine_in(tx: &mut Tx, sha: &str, size: u64, source: &str, reason: String) -> Result<Outcome, StoreError> {
    tx.quarantine(&format!("sha256:{sha}"), source, &reason, sha, size as i64).await?;
    Ok(Outcome::Quarantined(reason))
}

/// A message of a batch, read and interpreted, ready to apply.
enum Prepared {
    /// A mail to apply, with its raw bytes.
    Mail(Vec<u8>, Box<Interpretation>),
    /// Raw bytes (already in the blob store) to quarantine for this reason.
    Refused { sha: String, size: u64, reason: String },
}

/// Reads and interprets the message in `file`, off the async workers. A message over
/// `limit` is streamed into the blob store unread.
fn prepare(app: &App, file: &std::path::Path, limit: u64) -> std::io::Result<Prepared> {
    let size = std::fs::metadata(file)?.len();
    if size > limit {
        let (sha, size) = app.store.blobs.put_reader(std::fs::File::open(file)?)?;
        let reason = too_large(size, limit);
        return Ok(Prepared::Refused { sha, size, reason });
    }
    let raw = std::fs::read(file)?;
    match inbound::interpret(&raw, &app.inbound) {
        Ok(mail) => {
            // The attachments' bytes now, in parallel and outside the transaction (the
            // store is content-addressed: applying finds them there).
            for a in &mail.attachments {
                app.store.blobs.put(&a.bytes)?;
            }
            Ok(Prepared::Mail(raw, Box::new(mail)))
        }
        Err(e) => {
            let sha = app.store.blobs.put(&raw)?;
            Ok(Prepared::Refused { sha, size: raw.len() as u64, reason: e.to_string() })
        }
    }
}

/// Messages read and interpreted, ready for [`apply_prepared`].
pub struct PreparedBatch(Vec<Prepared>);

/// Reads and interprets the messages in `files` in parallel, off the async workers (a
/// message over `limits.max_message_bytes` is stored unread for the quarantine). A source
/// can prepare its next batch while the current one is applied.
pub async fn prepare_files(
    app: std::sync::Arc<App>,
    files: Vec<std::path::PathBuf>,
) -> Result<PreparedBatch, DeskError> {
    let limit = app.config.limits.max_message_bytes;
    let temporary = |e: std::io::Error| DeskError::Temporary(e.into());
    let mut handles = Vec::with_capacity(files.len());
    for file in files {
        let (app, path) = (app.clone(), file.clone());
        handles.push((file, tokio::task::spawn_blocking(move || prepare(&app, &path, limit))));
    }
    let mut prepared = Vec::with_capacity(handles.len());
    for (file, handle) in handles {
        prepared.push(match handle.await {
            Ok(result) => result.map_err(temporary)?,
            // Hostile input that panicked the parser: quarantined, never retried forever.
            Err(e) if e.is_panic() => {
                let blobs = app.store.blobs.clone();
                let stored = tokio::task::spawn_blocking(move || blobs.put_reader(std::fs::File::open(file)?)).await;
                let (sha, size) = stored.map_err(|e| temporary(std::io::Error::other(e)))?.map_err(temporary)?;
                Prepared::Refused { sha, size, reason: "interpretation failed (the parser panicked)".into() }
            }
            Err(e) => return Err(temporary(std::io::Error::other(e))),
        });
    }
    Ok(PreparedBatch(prepared))
}

/// Applies a prepared batch as [`receive_file`] would one message after another, but in
/// one transaction and so with one commit: what a busy source needs. Should one message
/// fail for good, the batch is applied again one message at a time, so that only that one
/// is quarantined. Returns the outcomes in the batch's order, all committed; a
/// [`DeskError`] means nothing of the batch was changed.
pub async fn apply_prepared<'a>(
    app: &App,
    batch: &PreparedBatch,
    origin: impl Into<Origin<'a>> + Copy,
) -> Result<Vec<Outcome>, DeskError> {
    let origin: Origin<'_> = origin.into();
    let prepared = &batch.0;
    let outcomes = match apply_batch(app, prepared, origin).await {
        Ok(outcomes) => outcomes,
        Err(e) if e.is_temporary() => return Err(DeskError::Temporary(e)),
        // One message failed for good, and the batch's transaction with it: nothing of the
        // batch was committed, so apply them one at a time, each quarantined on its own.
        Err(_) => one_by_one(app, prepared, origin).await?,
    };
    for (outcome, item) in outcomes.iter().zip(prepared) {
        let bytes = match item {
            Prepared::Mail(raw, _) => raw.len() as u64,
            Prepared::Refused { size, .. } => *size,
        };
        info!(source = origin.source, bytes, outcome = outcome.as_str(), ticket = ?ticket_of(outcome), "message applied");
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Opened(_) | Outcome::Commented(_) | Outcome::Refused(_))) {
        app.outbox_wake.notify_one();
    }
    Ok(outcomes)
}

/// Applies a whole batch in one transaction and commits it. Any error leaves nothing of
/// the batch behind.
async fn apply_batch(app: &App, prepared: &[Prepared], origin: Origin<'_>) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = app.store.begin().await?;
    let mut outcomes = Vec::with_capacity(prepared.len());
    for item in prepared {
        outcomes.push(match item {
            Prepared::Refused { sha, size, reason } => {
                let reason = announce_quarantine(reason.clone());
                quarantine_in(&mut tx, sha, *size, origin.source, reason).await?
            }
            Prepared::Mail(raw, mail) => {
                let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
                apply_in(app, &mut tx, mail, &fingerprint, origin).await?
            }
        });
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Applies a batch one message at a time, each in its own transaction, quarantining the
/// ones that fail for good (the slow path, after a batch failed).
async fn one_by_one(app: &App, prepared: &[Prepared], origin: Origin<'_>) -> Result<Vec<Outcome>, DeskError> {
    let mut outcomes = Vec::with_capacity(prepared.len());
    for item in prepared {
        outcomes.push(match item {
            Prepared::Refused { sha, size, reason } => {
                record_quarantine(app, sha, *size, origin.source, reason.clone()).await?
            }
            Prepared::Mail(raw, mail) => {
                let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
                match apply(app, mail, &fingerprint, origin).await {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_temporary() => return Err(DeskError::Temporary(e)),
                    Err(e) => quarantine_raw(app, raw, origin.source, format!("could not apply: {e}")).await?,
                }
            }
        });
    }
    Ok(outcomes)
}

/// Applies the message in `file` like [`receive`], but quarantines a file larger than
/// `limits.max_message_bytes` without reading it into memory.
pub async fn receive_file<'a>(
    app: &App,
    file: &std::path::Path,
    origin: impl Into<Origin<'a>> + Copy,
) -> Result<Outcome, DeskError> {
    let source = origin.into().source;
    let temporary = |e: std::io::Error| DeskError::Temporary(e.into());
    let size = tokio::fs::metadata(file).await.map_err(temporary)?.len();
    let limit = app.config.limits.max_message_bytes;
    if size <= limit {
        let raw = tokio::fs::read(file).await.map_err(temporary)?;
        return receive(app, &raw, origin).await;
    }
    let (blobs, path) = (app.store.blobs.clone(), file.to_path_buf());
    let stored = tokio::task::spawn_blocking(move || blobs.put_reader(std::fs::File::open(path)?)).await;
    let (sha, size) = stored.map_err(|e| temporary(std::io::Error::other(e)))?.map_err(temporary)?;
    let reason = too_large(size, limit);
    record_quarantine(app, &sha, size, source, reason).await
}
