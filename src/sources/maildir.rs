//! The Maildir source: messages delivered into `new/` are applied in batches (one
//! transaction each, so a backlog costs one commit per batch rather than per message) and
//! moved to `cur/` (flagged Seen, or Flagged when quarantined) only after desk committed
//! their effect. A crash between commit and move is harmless: the messages are read again
//! and desk recognises them by their fingerprints. A message whose interpretation is slow
//! does not hold its batch: the others are applied, and it finishes (or is quarantined at
//! `limits.max_processing_secs`) on its own.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::lease::{self, Held};
use crate::App;
use crate::desk::{self, Origin, Outcome, Straggler};
use crate::domain::Source;
use crate::store::StoreError;

/// Creates `new/`, `cur/` and `tmp/` under `dir` when missing.
pub fn ensure(dir: &Path) -> std::io::Result<()> {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// The file in a Maildir's top directory that names it among the nodes: nodes that share
/// the directory (over a network file system) share its lease, nodes with a Maildir of their
/// own at the same path do not.
const IDENTITY: &str = ".maildesk-id";

/// The name of the Maildir `dir` as nodes know it: read from [`IDENTITY`], made (random,
/// written whole, never replaced) when missing.
pub fn identity(dir: &Path) -> std::io::Result<String> {
    let path = dir.join(IDENTITY);
    if read_identity(&path)?.is_none() {
        crate::kept::write_once(&path, &format!("{:016x}", rand::random::<u64>()))?;
    }
    read_identity(&path)?.ok_or_else(|| std::io::Error::other(format!("{} is empty", path.display())))
}

/// The name kept in `path`, if there is one.
fn read_identity(path: &Path) -> std::io::Result<Option<String>> {
    Ok(crate::kept::read(path)?.filter(|id| !id.is_empty()))
}

/// The message files waiting in `new/`, oldest name first.
fn waiting(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("new"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Moves a settled message from `new/` to `cur/` with the Maildir info `flags`.
fn settle(dir: &Path, file: &Path, flags: &str) -> std::io::Result<()> {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let base = name.split(":2,").next().unwrap_or(&name);
    std::fs::rename(file, dir.join("cur").join(format!("{base}:2,{flags}")))
}

/// At most this many messages go into one batch (one transaction).
const BATCH_FILES: usize = 128;

/// A batch stops growing at this many bytes of mail, so a backlog of large messages is not
/// all held in memory at once.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Cuts `files` into batches of at most [`BATCH_FILES`] messages and about [`BATCH_BYTES`].
fn batches(files: Vec<PathBuf>) -> Vec<Vec<PathBuf>> {
    let mut out: Vec<Vec<PathBuf>> = Vec::new();
    let mut bytes = 0;
    for file in files {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        match out.last_mut() {
            Some(batch) if batch.len() < BATCH_FILES && bytes + size <= BATCH_BYTES => {
                bytes += size;
                batch.push(file);
            }
            _ => {
                bytes = size;
                out.push(vec![file]);
            }
        }
    }
    out
}

/// Messages finishing outside their batch (interpretation still running when the rest was
/// ready), each in its own task; a pass leaves their files alone meanwhile.
#[derive(Default)]
struct Stragglers {
    files: Arc<Mutex<HashSet<PathBuf>>>,
    tasks: TaskTracker,
}

impl Stragglers {
    fn contains(&self, file: &Path) -> bool {
        self.files.lock().map(|f| f.contains(file)).unwrap_or(false)
    }

    /// Finishes `straggler` in its own task: applied as a batch of one once read (or
    /// quarantined at the time limit), then settled. On shutdown a message still being
    /// read is left in `new/` (its poison mark counts the attempt).
    fn spawn(
        &self,
        app: &Arc<App>,
        dir: &Path,
        (source, held): (&Source, Option<&Held>),
        straggler: Straggler,
        shutdown: &CancellationToken,
    ) {
        let file = straggler.file().to_path_buf();
        if let Ok(mut files) = self.files.lock() {
            files.insert(file.clone());
        }
        let (app, dir, source, held, shutdown, files) =
            (app.clone(), dir.to_path_buf(), source.clone(), held.cloned(), shutdown.clone(), self.files.clone());
        self.tasks.spawn(async move {
            let prepared = tokio::select! {
                prepared = straggler.prepared() => Some(prepared),
                _ = shutdown.cancelled() => None,
            };
            let origin = Origin { source: &source, department: None, fence: held.as_ref().map(Held::fence) };
            let applied = match prepared {
                Some(Ok(batch)) => desk::apply_prepared(&app, &batch, origin).await,
                Some(Err(e)) => Err(e),
                None => Ok(Vec::new()),
            };
            match applied {
                Ok(_) if held.as_ref().is_some_and(|h| !h.holds()) => {
                    warn!(file = %file.display(), "applied, but this node no longer works the maildir; another node moves it");
                }
                Ok(outcomes) => {
                    for outcome in outcomes {
                        if let Err(e) = settle(&dir, &file, flags_of(&outcome)) {
                            warn!(file = %file.display(), error = %e, "applied but cannot move; it will be seen as a duplicate");
                        }
                    }
                }
                Err(e) => warn!(file = %file.display(), error = %e, "message kept for another pass"),
            }
            if let Ok(mut files) = files.lock() {
                files.remove(&file);
            }
        });
    }
}

/// The Maildir flags of a settled message: Flagged when quarantined, else Seen.
fn flags_of(outcome: &Outcome) -> &'static str {
    if matches!(outcome, Outcome::Quarantined(_)) { "F" } else { "S" }
}

/// Applies every message waiting in `new/` once, in batches. Stops early (leaving the rest
/// for the next pass) on a temporary failure or when `shutdown` fires. Returns how many
/// were settled (applied and moved to `cur/`) with their batch; a message whose
/// interpretation holds its batch up is finished on its own, before this returns.
pub async fn drain(
    app: &Arc<App>,
    dir: &Path,
    source: &Source,
    shutdown: &CancellationToken,
) -> Result<usize, desk::DeskError> {
    let stragglers = Stragglers::default();
    let settled = drain_pass(app, dir, (source, None), shutdown, &stragglers).await;
    stragglers.tasks.close();
    stragglers.tasks.wait().await;
    settled
}

/// One pass of [`drain`], leaving stragglers to finish in `stragglers`; under `held`, a
/// lease that must hold for each write and each move.
async fn drain_pass(
    app: &Arc<App>,
    dir: &Path,
    (source, held): (&Source, Option<&Held>),
    shutdown: &CancellationToken,
    stragglers: &Stragglers,
) -> Result<usize, desk::DeskError> {
    let mut settled = 0;
    let files = match waiting(dir) {
        Ok(f) => f,
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "cannot list maildir");
            return Ok(0);
        }
    };
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !stragglers.contains(f)).collect();
    // More than a batch waiting is a backlog: it goes before notifications.
    app.intake_backlog.store(files.len() > BATCH_FILES, std::sync::atomic::Ordering::Relaxed);
    // The next batch is read and interpreted while the current one is applied.
    let mut batches = batches(files).into_iter();
    let prepare = |batch: Vec<PathBuf>| {
        // Taken by someone else since the listing.
        let batch: Vec<PathBuf> = batch.into_iter().filter(|f| f.exists()).collect();
        tokio::spawn(desk::prepare_files(app.clone(), batch))
    };
    let mut next = batches.next().map(prepare);
    while let Some(handle) = next.take() {
        if shutdown.is_cancelled() {
            handle.abort();
            break;
        }
        let (prepared, slow) = handle.await.map_err(|e| desk::DeskError::Temporary(e.into()))??;
        for straggler in slow {
            stragglers.spawn(app, dir, (source, held), straggler, shutdown);
        }
        next = batches.next().map(prepare);
        let origin = Origin { source, department: None, fence: held.map(Held::fence) };
        let outcomes = match desk::apply_prepared(app, &prepared, origin).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                if let Some(handle) = next.take() {
                    handle.abort();
                }
                return Err(e);
            }
        };
        if let Some(held) = held.filter(|h| !h.holds()) {
            // Committed under the lease; another node finds them and sees duplicates.
            return Err(desk::DeskError::Temporary(StoreError::LeaseLost(held.fence().lease.clone())));
        }
        for (file, outcome) in prepared.files().iter().zip(outcomes) {
            match settle(dir, file, flags_of(&outcome)) {
                Ok(()) => settled += 1,
                // Counted as not settled, so the source waits before the next pass.
                Err(e) => {
                    warn!(file = %file.display(), error = %e, "applied but cannot move; it will be seen as a duplicate")
                }
            }
        }
    }
    Ok(settled)
}

/// The Maildir task: takes the Maildir's lease (waiting while another node works it) and
/// drains `new/` at the configured interval while it holds, until `shutdown` fires,
/// finishing the message in hand first.
pub async fn run(app: Arc<App>, dir: PathBuf, shutdown: CancellationToken) {
    let id = ensure(&dir).and_then(|()| identity(&dir));
    let id = match id {
        Ok(id) => id,
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "cannot create maildir; source stopped");
            app.health.down(crate::health::MAILDIR, &format!("cannot create {}: {e}", dir.display()));
            return;
        }
    };
    let source = Source::Maildir(dir.display().to_string());
    let lease_name = format!("maildir:{id}");
    let stragglers = Stragglers::default();
    info!(dir = %dir.display(), "maildir source started");
    while !shutdown.is_cancelled() {
        let Some(held) = lease::take(&app, &lease_name, crate::health::MAILDIR, &shutdown).await else { break };
        tokio::select! {
            () = work(&app, &dir, (&source, &held), &stragglers, &shutdown) => {}
            () = held.lost() => {}
        }
        if shutdown.is_cancelled() {
            // Stragglers give up at once on shutdown unless they are applying (a commit's
            // time); the lease is given up once they are done.
            stragglers.tasks.close();
            stragglers.tasks.wait().await;
            held.release(&app).await;
            break;
        }
        if held.handed_over() {
            info!(dir = %dir.display(), "handed the maildir over to another node");
        } else {
            warn!(dir = %dir.display(), "this node no longer works the maildir; another node took it over");
        }
    }
    stragglers.tasks.close();
    stragglers.tasks.wait().await;
    info!("maildir source stopped");
}

/// Drains `new/` under `held` at the configured interval until `shutdown` fires or the
/// lease is lost.
async fn work(
    app: &Arc<App>,
    dir: &Path,
    (source, held): (&Source, &Held),
    stragglers: &Stragglers,
    shutdown: &CancellationToken,
) {
    let interval = Duration::from_millis(app.config().maildir.poll_interval_ms);
    let (mut failing, mut busy) = (false, false);
    while !shutdown.is_cancelled() && held.holds() {
        let pause = match drain_pass(app, dir, (source, Some(held)), shutdown, stragglers).await {
            Ok(n) => {
                app.health.up(crate::health::MAILDIR);
                if failing {
                    info!("maildir source recovered");
                    failing = false;
                }
                if n > 0 {
                    busy = true;
                    continue;
                }
                if std::mem::take(&mut busy) {
                    app.intake_backlog.store(false, std::sync::atomic::Ordering::Relaxed);
                    crate::memory::release_memory(); // the backlog is done
                }
                interval
            }
            Err(_) if !held.holds() => return,
            Err(e) => {
                app.health.down(crate::health::MAILDIR, &e.to_string());
                app.intake_backlog.store(false, std::sync::atomic::Ordering::Relaxed);
                if !failing {
                    warn!(error = %e, "maildir source paused by a temporary failure");
                    failing = true;
                }
                interval.max(Duration::from_secs(1))
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
