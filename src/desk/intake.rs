//! Taking messages in: size limits, interpretation off the async workers, batches for a
//! busy source, and the quarantine for what cannot be processed. What a message does to
//! the tickets is decided in `receive`; this module never decides it.

pub(super) mod bounded;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::field::Empty;
use tracing::{info, instrument, warn};

use bounded::Bounded;

use super::receive::{apply, apply_in};
use super::{DeskError, Origin, Outcome};
use crate::App;
use crate::domain::Source;
use crate::inbound::{self, Interpretation};
use crate::store::{PutReaderError, StoreError, Tx};

/// Applies one raw message from `source` (such as `maildir:name` or `pipe`).
///
/// Returns once the effect is committed (or the message is quarantined): only then may the
/// source let go of the message. A [`DeskError`] means nothing was changed and the message
/// must be kept for another try.
#[instrument(
    name = "mail",
    skip_all,
    fields(source = %origin.into().source, bytes = raw.len(), message_id = Empty, outcome = Empty, ticket = Empty)
)]
pub async fn receive<'a>(app: &App, raw: &[u8], origin: impl Into<Origin<'a>> + Copy) -> Result<Outcome, DeskError> {
    let began = std::time::Instant::now();
    let received = receive_counted(app, raw, origin).await;
    if let Ok(outcome) = &received {
        let span = tracing::Span::current();
        span.record("outcome", outcome.as_str());
        if let Some(ticket) = outcome.ticket() {
            span.record("ticket", ticket.0);
        }
        count(origin.into().source, outcome, began.elapsed());
    }
    received
}

/// Counts a mail taken from `source` with `outcome` in the metrics, `took` from its
/// reading to its commit.
fn count(source: &crate::domain::Source, outcome: &Outcome, took: std::time::Duration) {
    let source = source.to_string();
    metrics::counter!(super::MAILS, "source" => source.clone(), "outcome" => outcome.counted_as()).increment(1);
    metrics::histogram!(super::MAIL_SECONDS, "source" => source).record(took.as_secs_f64());
}

/// [`receive`], before it is counted.
async fn receive_counted<'a>(
    app: &App,
    raw: &[u8],
    origin: impl Into<Origin<'a>> + Copy,
) -> Result<Outcome, DeskError> {
    let origin: Origin<'_> = origin.into();
    let source = origin.source;
    let limit = app.config().limits.max_message_bytes;
    if raw.len() as u64 > limit {
        let reason = too_large(raw.len() as u64, limit);
        return quarantine_raw(app, raw, source, reason).await;
    }
    // Interpretation is CPU work on hostile input: off the async workers, in bounded time.
    let mail = match bounded::interpret(app, Arc::new(raw.to_vec())).await {
        Bounded::Mail(mail) => mail,
        Bounded::Refused(reason) => return quarantine_raw(app, raw, source, reason).await,
        Bounded::Stopped => return Err(DeskError::Stopped),
    };
    if let Some(id) = mail.message_id.as_deref() {
        tracing::Span::current().record("message_id", id);
    }
    let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
    match apply(app, &mail, &fingerprint, origin).await {
        Ok(outcome) => {
            info!(outcome = outcome.as_str(), ticket = ?outcome.ticket().map(|t| t.0), "message applied");
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

/// Quarantines a message of `size` bytes that was not read because it exceeds
/// `limits.max_message_bytes` (an IMAP server said its size): the entry holds a small
/// placeholder naming `place` (where the mail stays, such as the mailbox, folder and UID).
pub async fn quarantine_unfetched(app: &App, source: &Source, place: &str, size: u64) -> Result<Outcome, DeskError> {
    let limit = app.config().limits.max_message_bytes;
    let placeholder = format!(
        "This is not the message: maildesk did not download it because its size ({size} bytes) exceeds \
         limits.max_message_bytes ({limit}).\r\nWhere it is: {place}.\r\n"
    );
    let reason = format!("{} (not downloaded; {place})", too_large(size, limit));
    let sha = app.store.blobs.put(placeholder.as_bytes()).map_err(|e| DeskError::Temporary(StoreError::Blob(e)))?;
    record_quarantine(app, &sha, size, source, reason).await
}

/// Quarantines a message the IMAP server would not give (it answered `answer` to FETCH
/// every time it was asked): the entry holds a small placeholder naming `place`.
pub async fn quarantine_unreadable(
    app: &App,
    source: &Source,
    place: &str,
    answer: &str,
) -> Result<Outcome, DeskError> {
    let placeholder = format!(
        "This is not the message: the IMAP server would not give it to maildesk; it answered: {answer}\r\n\
         Where it is: {place}.\r\n"
    );
    let reason = format!("the server would not give the message ({answer}); not downloaded; {place}");
    let sha = app.store.blobs.put(placeholder.as_bytes()).map_err(|e| DeskError::Temporary(StoreError::Blob(e)))?;
    record_quarantine(app, &sha, 0, source, reason).await
}

/// Puts a message into the quarantine with `reason` (a source uses it when processing
/// took too long); keeps the raw bytes.
pub async fn quarantine_raw(app: &App, raw: &[u8], source: &Source, reason: String) -> Result<Outcome, DeskError> {
    let sha = app.store.blobs.put(raw).map_err(|e| DeskError::Temporary(StoreError::Blob(e)))?;
    record_quarantine(app, &sha, raw.len() as u64, source, reason).await
}

/// Puts stored raw bytes into the quarantine. Entries are keyed by the hash of the bytes,
/// never by anything read from inside them.
async fn record_quarantine(
    app: &App,
    sha: &str,
    size: u64,
    source: &Source,
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
pub(super) fn announce_quarantine(reason: String) -> String {
    let reason: String = reason.chars().filter(|c| *c != '\0').take(2000).collect();
    warn!(%reason, "message quarantined");
    reason
}

/// Records a quarantine entry inside `tx` (the reason already announced).
pub(super) async fn quarantine_in(
    tx: &mut Tx,
    sha: &str,
    size: u64,
    source: &Source,
    reason: String,
) -> Result<Outcome, StoreError> {
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

/// A failed [`crate::store::Blobs::put_reader`] of the message `what`: the message could
/// not be read, or the blob store could not take it.
pub(crate) fn streamed(e: PutReaderError, what: String) -> DeskError {
    match e {
        PutReaderError::Input(source) => DeskError::Read { what, source },
        PutReaderError::Store(e) => DeskError::Temporary(StoreError::Blob(e)),
    }
}

/// Reads the message in `file` and interprets it in bounded time. A message over `limit` is
/// streamed into the blob store unread.
async fn prepare(app: Arc<App>, file: PathBuf, limit: u64) -> Result<Prepared, DeskError> {
    let temporary = DeskError::Temporary;
    let blobs = app.store.blobs.clone();
    // One trip to a blocking thread: the size, then the bytes (or the whole file into the
    // blob store, unread, when it is over the limit).
    let read = tokio::task::spawn_blocking(move || -> Result<Result<Vec<u8>, (String, u64)>, DeskError> {
        let what = || format!("in {}", file.display());
        let unreadable = |source| DeskError::Read { what: what(), source };
        if std::fs::metadata(&file).map_err(unreadable)?.len() > limit {
            let opened = std::fs::File::open(&file).map_err(unreadable)?;
            return Ok(Err(blobs.put_reader(opened).map_err(|e| streamed(e, what()))?));
        }
        Ok(Ok(std::fs::read(&file).map_err(unreadable)?))
    })
    .await;
    let raw = match read.map_err(|e| temporary(e.into()))?? {
        Ok(raw) => Arc::new(raw),
        Err((sha, size)) => return Ok(Prepared::Refused { sha, size, reason: too_large(size, limit) }),
    };
    let read = match bounded::interpret(&app, raw.clone()).await {
        // Nothing to store: no second trip to a blocking thread.
        Bounded::Mail(mail) if mail.attachments.is_empty() => {
            return Ok(Prepared::Mail(Arc::unwrap_or_clone(raw), mail));
        }
        // Not read: the file stays where it is for the next start.
        Bounded::Stopped => return Err(DeskError::Stopped),
        Bounded::Mail(mail) => Ok(mail),
        Bounded::Refused(reason) => Err(reason),
    };
    let blobs = app.store.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<Prepared, StoreError> {
        match read {
            Ok(mail) => {
                // The attachments' bytes now, in parallel and outside the transaction (the
                // store is content-addressed: applying finds them there).
                for a in &mail.attachments {
                    blobs.put(&a.bytes).map_err(StoreError::Blob)?;
                }
                Ok(Prepared::Mail(Arc::unwrap_or_clone(raw), mail))
            }
            Err(reason) => {
                let sha = blobs.put(&raw).map_err(StoreError::Blob)?;
                Ok(Prepared::Refused { sha, size: raw.len() as u64, reason })
            }
        }
    })
    .await;
    stored.map_err(|e| temporary(e.into()))?.map_err(temporary)
}

/// Messages read and interpreted, ready for [`apply_prepared`], with the files they came
/// from (empty for a batch that did not come from files).
pub struct PreparedBatch {
    files: Vec<PathBuf>,
    items: Vec<Prepared>,
    /// When its preparing began: each of its mails took from then to the batch's commit.
    began: std::time::Instant,
}

impl PreparedBatch {
    /// The files of the batch, in the order of [`apply_prepared`]'s outcomes.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// A message of a batch whose interpretation was still running when the rest of its batch
/// was ready: the batch goes on without it, and it finishes on its own (within
/// `limits.max_processing_secs`), to be applied as a batch of one.
pub struct Straggler {
    file: PathBuf,
    handle: tokio::task::JoinHandle<Result<Prepared, DeskError>>,
    began: std::time::Instant,
}

impl Straggler {
    /// The message's file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Waits (at most about the time limit) for the message to be read, as a batch of one.
    pub async fn prepared(self) -> Result<PreparedBatch, DeskError> {
        let item = self.handle.await.map_err(|e| DeskError::Temporary(e.into()))??;
        Ok(PreparedBatch { files: vec![self.file], items: vec![item], began: self.began })
    }
}

/// Messages of a batch read at once, per core: enough to keep the cores busy while others
/// wait for the disk, few enough that a batch of 128 does not start 128 threads.
const PREPARE_PER_CORE: usize = 4;

/// When no message of a batch has finished interpreting for this long, the ones still
/// running are left behind as [`Straggler`]s.
const STRAGGLER_AFTER: Duration = Duration::from_secs(1);

/// Reads and interprets the messages in `files` in parallel, off the async workers (a
/// message over `limits.max_message_bytes` is stored unread for the quarantine). A message
/// still interpreting once the others are done (nothing finished for a second) does not
/// hold the batch up: it is returned as a [`Straggler`]. A source can prepare its next
/// batch while the current one is applied.
pub async fn prepare_files(app: Arc<App>, files: Vec<PathBuf>) -> Result<(PreparedBatch, Vec<Straggler>), DeskError> {
    let began = std::time::Instant::now();
    let limit = app.config().limits.max_message_bytes;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let parallel = std::thread::available_parallelism().map_or(4, |n| n.get() * PREPARE_PER_CORE).clamp(4, 64);
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut handles = Vec::with_capacity(files.len());
    for file in files {
        let (app, path, done, permits) = (app.clone(), file.clone(), done_tx.clone(), permits.clone());
        let handle = tokio::spawn(async move {
            // Held until the message is read or hits the time limit (an abandoned thread
            // gives its permit back): a batch never needs more threads than this.
            let _permit = permits.acquire_owned().await;
            let prepared = prepare(app, path, limit).await;
            let _ = done.send(());
            prepared
        });
        handles.push(Straggler { file, handle, began });
    }
    drop(done_tx);
    let mut finished = 0;
    while finished < handles.len() {
        match tokio::time::timeout(STRAGGLER_AFTER, done_rx.recv()).await {
            Ok(Some(())) => finished += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let all_done = finished == handles.len();
    let (mut files, mut items, mut stragglers) = (Vec::new(), Vec::new(), Vec::new());
    for straggler in handles {
        if !all_done && !straggler.handle.is_finished() {
            warn!(file = %straggler.file.display(), "message still interpreting; its batch goes on without it");
            stragglers.push(straggler);
            continue;
        }
        let item = straggler.handle.await.map_err(|e| DeskError::Temporary(e.into()))??;
        files.push(straggler.file);
        items.push(item);
    }
    Ok((PreparedBatch { files, items, began }, stragglers))
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
    let prepared = &batch.items;
    let outcomes = match apply_batch(app, prepared, origin).await {
        Ok(outcomes) => outcomes,
        Err(e) if e.is_temporary() => return Err(DeskError::Temporary(e)),
        // One message failed for good, and the batch's transaction with it: nothing of the
        // batch was committed, so apply them one at a time, each quarantined on its own.
        Err(_) => one_by_one(app, prepared, origin).await?,
    };
    for ((outcome, item), file) in outcomes.iter().zip(prepared).zip(&batch.files) {
        let (bytes, message_id) = match item {
            Prepared::Mail(raw, mail) => (raw.len() as u64, mail.message_id.as_deref()),
            Prepared::Refused { size, .. } => (*size, None),
        };
        let file = file.file_name().map(|f| f.to_string_lossy()).unwrap_or_default();
        info!(
            source = %origin.source, %file, bytes, message_id, outcome = outcome.as_str(),
            ticket = ?outcome.ticket().map(|t| t.0), "message applied"
        );
        count(origin.source, outcome, batch.began.elapsed());
    }
    if outcomes.iter().any(|o| matches!(o, Outcome::Opened(_) | Outcome::Commented(_) | Outcome::Refused(_))) {
        app.outbox_wake.notify_one();
    }
    Ok(outcomes)
}

/// Applies a whole batch in one transaction and commits it. Any error leaves nothing of
/// the batch behind.
async fn apply_batch(app: &App, prepared: &[Prepared], origin: Origin<'_>) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = app.store.begin_fenced(origin.fence).await?;
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
    let what = format!("in {}", file.display());
    let unreadable = |source| DeskError::Read { what: what.clone(), source };
    let size = tokio::fs::metadata(file).await.map_err(unreadable)?.len();
    let limit = app.config().limits.max_message_bytes;
    if size <= limit {
        let raw = tokio::fs::read(file).await.map_err(unreadable)?;
        return receive(app, &raw, origin).await;
    }
    let opened = std::fs::File::open(file).map_err(unreadable)?;
    let blobs = app.store.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || blobs.put_reader(opened)).await;
    let (sha, size) = stored.map_err(|e| DeskError::Temporary(e.into()))?.map_err(|e| streamed(e, what))?;
    let reason = too_large(size, limit);
    record_quarantine(app, &sha, size, source, reason).await
}
