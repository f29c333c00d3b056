//! `maildesk import`: years of a desk's mail, from mbox files or Maildirs, become tickets
//! and comments by the mail path's own rules (threading, fingerprints, automatic mail,
//! quarantine: [`super::receive`] in its import mode), each dated by its mail, with
//! nothing sent or queued for anyone. At the end, the tickets it opened whose last mail
//! is older than `desk.reopen_days` are Closed.
//!
//! Messages are applied in date order across all the files given (an mbox is usually in
//! order, a Maildir never): a first pass indexes where each message lies and its date
//! (offsets in an mbox, paths in a Maildir), then messages are read one batch at a time,
//! so that memory does not grow with the archive. Each batch commits with the count of
//! messages done (the `imports` row of this set of files), so a run stopped by Ctrl-C or
//! a crash resumes where it stopped, and a second run of the same files changes nothing.
//! This module never prints: the caller shows [`Progress`].

mod date;
mod maildir;
mod mbox;

pub use maildir::MaildirError;
pub use mbox::MboxError;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use super::intake::bounded::{self, Bounded};
use super::intake::{announce_quarantine, quarantine_in, too_large};
use super::receive::{Mode, apply_mode};
use super::{DeskError, Origin, Outcome};
use crate::App;
use crate::domain::Source;
use crate::inbound::{self, Interpretation};
use crate::store::{PutReaderError, StoreError};

/// What is imported: mbox files or Maildir directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// mbox files (mboxrd or mboxo quoting).
    Mbox,
    /// Maildir directories (their `new/` and `cur/`).
    Maildir,
}

/// Why an import stopped before its end. What was committed stays; a run of the same
/// files resumes after it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An mbox file cannot be read, or is none.
    #[error(transparent)]
    Mbox(#[from] MboxError),
    /// A Maildir cannot be read, or is none.
    #[error(transparent)]
    Maildir(#[from] MaildirError),
    /// A file given, or a message file, cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Desk cannot go on now (the store failed, or intake stopped).
    #[error(transparent)]
    Desk(#[from] DeskError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> ImportError {
        ImportError::Desk(DeskError::Temporary(e))
    }
}

impl From<tokio::task::JoinError> for ImportError {
    fn from(e: tokio::task::JoinError) -> ImportError {
        ImportError::Desk(DeskError::Temporary(e.into()))
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Messages found in the files.
    pub total: u64,
    /// Messages applied by an earlier, interrupted run of the same files (skipped now).
    pub resumed_after: u64,
    /// Messages applied by this run.
    pub messages: u64,
    /// Tickets opened.
    pub tickets: u64,
    /// Comments added (staff's and customers').
    pub comments: u64,
    /// Automatic mail (bounces, auto-replies, lists) recorded.
    pub automatic: u64,
    /// Messages put into the quarantine (each with its reason).
    pub quarantined: u64,
    /// Messages already applied before (by fingerprint): nothing changed.
    pub duplicates: u64,
    /// Mail from blocked senders, recorded only.
    pub blocked: u64,
    /// Imported tickets closed at the end (their last mail older than `desk.reopen_days`).
    pub closed: u64,
    /// The same files were imported to the end before: nothing was done.
    pub already_imported: bool,
    /// Stopped before the end (Ctrl-C): run it again to resume.
    pub interrupted: bool,
}

impl Summary {
    fn count(&mut self, outcome: &Outcome) {
        self.messages += 1;
        match outcome {
            Outcome::Opened(_) => self.tickets += 1,
            Outcome::Commented(_) | Outcome::Refused(_) => self.comments += 1,
            Outcome::Automatic(_) => self.automatic += 1,
            Outcome::Blocked => self.blocked += 1,
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Quarantined(_) => self.quarantined += 1,
        }
    }
}

/// Where an import tells how far it has come.
pub trait Progress {
    /// The files are indexed: `total` messages, of which `done` were applied before.
    fn indexed(&mut self, total: u64, done: u64);
    /// `done` of the messages are applied now; `summary` so far.
    fn advanced(&mut self, done: u64, summary: &Summary);
}

/// A batch holds at most this many messages…
const BATCH_MESSAGES: usize = 200;
/// …and at most this many bytes (unless one message is larger).
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// Imports the mbox files or Maildirs at `paths`, telling `progress`; stops after the
/// batch in hand once `stop` is cancelled (the summary says so).
pub async fn run(
    app: &App,
    kind: Kind,
    paths: &[PathBuf],
    progress: &mut dyn Progress,
    stop: &CancellationToken,
) -> Result<Summary, ImportError> {
    let now = crate::store::now();
    let given = paths.to_vec();
    let index = Arc::new(tokio::task::spawn_blocking(move || Index::build(kind, &given, now)).await??);
    let total = index.entries.len();
    let names: Vec<String> = index.sources.iter().map(|s| s.source.to_string()).collect();
    let row = app.store.conn().await?.begin_import(&index.key, &names.join("\n"), total as i64).await?;
    let done = usize::try_from(row.done).unwrap_or(0).min(total);
    let mut summary = Summary { total: total as u64, resumed_after: done as u64, ..Summary::default() };
    progress.indexed(total as u64, done as u64);
    if row.finished_at.is_some() {
        summary.already_imported = true;
        return Ok(summary);
    }
    let config = app.config();
    let limit = config.limits.max_message_bytes;
    let mut reader = Some(Reader::new(index.clone(), app.store.blobs.clone(), limit));
    let mut next = done;
    // The next batch is read and interpreted while the one before is applied.
    let mut prepared = match next < total {
        true => Some(load(app, &mut reader, next..index.batch_end(next)).await?),
        false => None,
    };
    while let Some(items) = prepared.take() {
        if stop.is_cancelled() {
            summary.interrupted = true;
            return Ok(summary);
        }
        let end = next + items.len();
        let following = (end < total).then(|| end..index.batch_end(end));
        let loading = async {
            match following {
                Some(range) => Some(load(app, &mut reader, range).await),
                None => None,
            }
        };
        let (applied, loaded) = tokio::join!(apply(app, &index, next, &items), loading);
        for outcome in applied? {
            summary.count(&outcome);
        }
        next = end;
        progress.advanced(next as u64, &summary);
        prepared = loaded.transpose()?;
    }
    let cutoff = now.saturating_sub(i64::try_from(config.desk.reopen_days.saturating_mul(86_400)).unwrap_or(0));
    let sources: Vec<Source> = index.sources.iter().map(|s| s.source.clone()).collect();
    let mut tx = app.store.begin().await?;
    summary.closed = tx.close_imported_before(&sources, cutoff).await?;
    tx.finish_import(&index.key).await?;
    tx.commit().await?;
    Ok(summary)
}

/// One file or directory given.
struct Given {
    /// As recorded with its messages: `import:<canonical path>`.
    source: Source,
    path: PathBuf,
}

/// One message: when it was written, and where it lies.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at: i64,
    source: u32,
    /// Its file among the Maildir files (Maildir only).
    file: u32,
    /// Where it lies in its mbox file (mbox only).
    offset: u64,
    len: u64,
}

/// Every message of an import, in the order they are applied.
struct Index {
    kind: Kind,
    sources: Vec<Given>,
    files: Vec<PathBuf>,
    entries: Vec<Entry>,
    /// A digest of the sources and of every entry in order: the import's identity.
    key: String,
}

impl Index {
    /// Indexes the files (blocking): every message, sorted by date (then by file and
    /// place, so that the order is the same every time).
    fn build(kind: Kind, paths: &[PathBuf], now: i64) -> Result<Index, ImportError> {
        let mut index = Index { kind, sources: Vec::new(), files: Vec::new(), entries: Vec::new(), key: String::new() };
        for (i, path) in paths.iter().enumerate() {
            let unreadable = |source| ImportError::Read { path: path.display().to_string(), source };
            let path = std::fs::canonicalize(path).map_err(unreadable)?;
            let source = Source::Import(path.display().to_string());
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match kind {
                Kind::Mbox => {
                    let mtime = std::fs::metadata(&path).map_err(unreadable)?.modified().map_or(0, unix);
                    for span in mbox::index(&path)? {
                        let at = date::choose(span.header, span.envelope, mtime, now);
                        index.entries.push(Entry { at, source: i, file: 0, offset: span.offset, len: span.len });
                    }
                }
                Kind::Maildir => {
                    for message in maildir::list(&path)? {
                        let at = date::choose(message.header, None, message.mtime, now);
                        let file = u32::try_from(index.files.len()).unwrap_or(u32::MAX);
                        index.entries.push(Entry { at, source: i, file, offset: 0, len: message.size });
                        index.files.push(message.path);
                    }
                }
            }
            index.sources.push(Given { source, path });
        }
        index.entries.sort_by_key(|e| (e.at, e.source, e.file, e.offset));
        index.key = index.digest();
        Ok(index)
    }

    fn digest(&self) -> String {
        let mut hash = sha2::Sha256::new();
        hash.update(format!("{:?}\n", self.kind));
        for given in &self.sources {
            hash.update(given.source.to_string().as_bytes());
            hash.update(b"\n");
        }
        for e in &self.entries {
            hash.update(e.at.to_le_bytes());
            hash.update(e.source.to_le_bytes());
            hash.update(e.offset.to_le_bytes());
            hash.update(e.len.to_le_bytes());
            if let Some(file) = self.files.get(e.file as usize).filter(|_| self.kind == Kind::Maildir) {
                hash.update(file.as_os_str().as_encoded_bytes());
            }
        }
        hex::encode(hash.finalize())
    }

    /// Where the batch that starts at `first` ends.
    fn batch_end(&self, first: usize) -> usize {
        let mut bytes = 0;
        let mut end = first;
        while end < self.entries.len() && end - first < BATCH_MESSAGES && (end == first || bytes < BATCH_BYTES) {
            bytes += self.entries[end].len;
            end += 1;
        }
        end
    }
}

fn unix(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A message as read from its file.
enum Raw {
    /// Its bytes.
    Bytes(Vec<u8>),
    /// Over `limits.max_message_bytes`: stored unread in the blob store.
    TooLarge { sha: String, size: u64 },
}

/// Reads messages one at a time (blocking), keeping each mbox file open.
struct Reader {
    index: Arc<Index>,
    blobs: crate::store::Blobs,
    limit: u64,
    open: Vec<Option<std::fs::File>>,
}

impl Reader {
    fn new(index: Arc<Index>, blobs: crate::store::Blobs, limit: u64) -> Reader {
        let open = index.sources.iter().map(|_| None).collect();
        Reader { index, blobs, limit, open }
    }

    /// Reads message `i` of the index.
    fn read(&mut self, i: usize) -> Result<Raw, ImportError> {
        let e = self.index.entries[i];
        let path: &Path = match self.index.kind {
            Kind::Mbox => &self.index.sources[e.source as usize].path,
            Kind::Maildir => &self.index.files[e.file as usize],
        };
        let unreadable = |source| ImportError::Read { path: path.display().to_string(), source };
        let mut file = match self.index.kind {
            Kind::Mbox => match self.open[e.source as usize].take() {
                Some(file) => file,
                None => std::fs::File::open(path).map_err(unreadable)?,
            },
            Kind::Maildir => std::fs::File::open(path).map_err(unreadable)?,
        };
        let raw = if e.len > self.limit {
            use std::io::{Read, Seek};
            file.seek(std::io::SeekFrom::Start(e.offset)).map_err(unreadable)?;
            let (sha, size) = self.blobs.put_reader((&file).take(e.len)).map_err(|e| match e {
                PutReaderError::Input(source) => unreadable(source),
                PutReaderError::Store(e) => StoreError::Blob(e).into(),
            })?;
            Raw::TooLarge { sha, size }
        } else {
            match self.index.kind {
                Kind::Mbox => Raw::Bytes(
                    mbox::read(&mut file, &mbox::Span { offset: e.offset, len: e.len, header: None, envelope: None })
                        .map_err(unreadable)?,
                ),
                Kind::Maildir => Raw::Bytes(std::fs::read(path).map_err(unreadable)?),
            }
        };
        if self.index.kind == Kind::Mbox {
            self.open[e.source as usize] = Some(file);
        }
        Ok(raw)
    }
}

/// Reads the messages `range` of the index (on a blocking thread) and interprets them.
async fn load(app: &App, reader: &mut Option<Reader>, range: std::ops::Range<usize>) -> Result<Vec<Item>, ImportError> {
    let Some(mut taken) = reader.take() else {
        return Err(ImportError::Desk(DeskError::Temporary(StoreError::Corrupt(
            "the import's reader was lost".into(),
        ))));
    };
    let read = tokio::task::spawn_blocking(move || {
        let raws = range.map(|i| taken.read(i)).collect::<Result<Vec<_>, _>>();
        (taken, raws)
    });
    let (back, raws) = read.await?;
    *reader = Some(back);
    prepare(app, raws?).await
}

/// A message read and interpreted, ready to apply.
enum Item {
    /// A mail, with its raw bytes.
    Mail(Arc<Vec<u8>>, Box<Interpretation>),
    /// Raw bytes (in the blob store) to quarantine for this reason.
    Refused { sha: String, size: u64, reason: String },
}

/// Interprets the messages of a batch as intake does (in bounded time, several at once).
async fn prepare(app: &App, raws: Vec<Raw>) -> Result<Vec<Item>, ImportError> {
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let limit = app.config().limits.max_message_bytes;
    let items = futures::stream::iter(raws)
        .map(|raw| async move {
            let raw = match raw {
                Raw::TooLarge { sha, size } => return Ok(Item::Refused { sha, size, reason: too_large(size, limit) }),
                Raw::Bytes(raw) => Arc::new(raw),
            };
            match bounded::interpret(app, raw.clone()).await {
                Bounded::Mail(mail) => Ok(Item::Mail(raw, mail)),
                Bounded::Refused(reason) => {
                    let sha = app.store.blobs.put(&raw).map_err(StoreError::Blob)?;
                    Ok(Item::Refused { sha, size: raw.len() as u64, reason })
                }
                Bounded::Stopped => Err(ImportError::Desk(DeskError::Stopped)),
            }
        })
        .buffered(parallel)
        .collect::<Vec<Result<Item, ImportError>>>()
        .await;
    items.into_iter().collect()
}

/// Applies a batch whose first message is entry `first`, with its progress, in one
/// transaction; should one message fail for good, one at a time, so that only it is
/// quarantined. Returns the outcomes, all committed.
async fn apply(app: &App, index: &Index, first: usize, items: &[Item]) -> Result<Vec<Outcome>, ImportError> {
    let batch = async {
        let mut tx = app.store.begin().await?;
        let mut outcomes = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            outcomes.push(apply_one(app, &mut tx, index, first + i, item).await?);
        }
        tx.set_clock(None);
        tx.set_import_done(&index.key, (first + items.len()) as i64).await?;
        tx.commit().await?;
        Ok::<_, StoreError>(outcomes)
    };
    match batch.await {
        Ok(outcomes) => return Ok(outcomes),
        Err(e) if e.is_temporary() => return Err(e.into()),
        Err(_) => {}
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let n = first + i;
        let mut tx = app.store.begin().await?;
        let outcome = match apply_one(app, &mut tx, index, n, item).await {
            Ok(outcome) => outcome,
            Err(e) if e.is_temporary() => return Err(e.into()),
            Err(e) => {
                tx.rollback().await?;
                // Only a mail fails for good here (a quarantine entry is one insert).
                let Item::Mail(raw, _) = item else { return Err(e.into()) };
                let source = &index.sources[index.entries[n].source as usize].source;
                let outcome =
                    super::quarantine_raw(app, raw.as_slice(), source, format!("could not apply: {e}")).await?;
                tx = app.store.begin().await?;
                outcome
            }
        };
        tx.set_clock(None);
        tx.set_import_done(&index.key, (n + 1) as i64).await?;
        tx.commit().await?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Applies message `n` of the index inside `tx`, at its date.
async fn apply_one(
    app: &App,
    tx: &mut crate::store::Tx,
    index: &Index,
    n: usize,
    item: &Item,
) -> Result<Outcome, StoreError> {
    let entry = index.entries[n];
    let source = &index.sources[entry.source as usize].source;
    match item {
        Item::Refused { sha, size, reason } => {
            tx.set_clock(None);
            let reason = announce_quarantine(reason.clone());
            quarantine_in(tx, sha, *size, source, reason).await
        }
        Item::Mail(raw, mail) => {
            tx.set_clock(Some(entry.at));
            let fingerprint = inbound::fingerprint(raw, mail.message_id.as_deref());
            apply_mode(app, tx, mail, &fingerprint, Origin::from(source), Mode::Import).await
        }
    }
}
