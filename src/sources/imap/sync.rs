//! One IMAP session's work: select the folder, apply every message above the last UID done
//! (by UID, never by `\Seen`), move or flag each only after desk committed its effect,
//! then wait with IDLE (or a poll) and go again. A message's size is asked before its
//! body: one over `limits.max_message_bytes` goes to the quarantine folder unread.

use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::connect::ImapSession;
use crate::App;
use crate::config::{AfterCommit, ImapMailbox};
use crate::desk::{self, DeskError, Origin, Outcome};
use crate::store::StoreError;

/// IDLE is renewed well before the 29 minutes after which servers may drop it.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

/// How long a message in hand may still take once shutdown is signalled (well within the
/// daemon's drain deadline).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a session ended before shutdown; the caller reconnects.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server failed or refused a command, or the connection broke.
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    /// The store is unavailable; the message stays in the mailbox.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Intake stopped (too many workers stuck); the message stays in the mailbox.
    #[error("{0}")]
    Stopped(DeskError),
}

impl From<DeskError> for SyncError {
    fn from(e: DeskError) -> SyncError {
        match e {
            DeskError::Temporary(e) => SyncError::Store(e),
            e @ DeskError::Stopped => SyncError::Stopped(e),
        }
    }
}

/// What the server can do, read once per session.
struct Capabilities {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

/// Serves one session until shutdown (then logs out and returns `Ok`) or an error.
/// `connected` is called once the folder is selected.
pub async fn serve(
    app: &App,
    mailbox: &ImapMailbox,
    mut session: ImapSession,
    shutdown: &CancellationToken,
    mut connected: impl FnMut(),
) -> Result<(), SyncError> {
    let caps = session.capabilities().await?;
    let caps = Capabilities {
        idle: caps.has_str("IDLE"),
        mv: caps.has_str("MOVE") && mailbox.use_move,
        uidplus: caps.has_str("UIDPLUS"),
    };
    for folder in [&mailbox.done_folder, &mailbox.quarantine_folder] {
        // Fails when it exists already, which is fine; a real problem shows on first use.
        let _ = session.create(folder).await;
    }
    let source = format!("imap:{}", mailbox.name);
    let origin = Origin { source: &source, department: mailbox.department.as_deref() };
    loop {
        let selected = session.select(&mailbox.folder).await?;
        connected();
        let validity = i64::from(selected.uid_validity.unwrap_or(0));
        // Mail that arrives while we work is announced during our commands, not in the
        // next IDLE: look again until a pass finds nothing, and only then wait.
        while apply_new(app, mailbox, &mut session, &caps, validity, origin, shutdown).await? > 0
            && !shutdown.is_cancelled()
        {}
        while session.unsolicited_responses.try_recv().is_ok() {}
        if shutdown.is_cancelled() {
            break;
        }
        if caps.idle && mailbox.idle {
            let mut handle = session.idle();
            handle.init().await?;
            let stopped = {
                let (wait, _stop) = handle.wait_with_timeout(IDLE_RENEW);
                tokio::select! {
                    response = wait => {
                        if let IdleResponse::NewData(data) = response? {
                            debug!(mailbox = %mailbox.name, response = ?data.parsed(), "mailbox changed");
                        }
                        false
                    }
                    _ = shutdown.cancelled() => true,
                }
            };
            session = handle.done().await?;
            if stopped {
                break;
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(mailbox.poll_interval_secs)) => {}
                _ = shutdown.cancelled() => break,
            }
            session.noop().await?;
        }
    }
    session.logout().await?;
    info!(mailbox = %mailbox.name, "logged out");
    Ok(())
}

/// Applies every message above the last UID done, in UID order, one at a time; returns how
/// many it found.
async fn apply_new(
    app: &App,
    mailbox: &ImapMailbox,
    session: &mut ImapSession,
    caps: &Capabilities,
    validity: i64,
    origin: Origin<'_>,
    shutdown: &CancellationToken,
) -> Result<usize, SyncError> {
    let last = match app.store.imap_state(&mailbox.name).await? {
        Some((stored, last)) if stored == validity => last,
        Some(_) => {
            // The folder was recreated: UIDs start over. Fingerprints keep anything from
            // being applied twice.
            info!(mailbox = %mailbox.name, "UIDVALIDITY changed; reading the folder again");
            app.store.set_imap_state(&mailbox.name, validity, 0).await?;
            0
        }
        None => 0,
    };
    let found = session.uid_search(format!("UID {}:*", last + 1)).await?;
    let mut uids: Vec<u32> = found.into_iter().filter(|uid| i64::from(*uid) > last).collect();
    uids.sort_unstable();
    if !uids.is_empty() {
        debug!(mailbox = %mailbox.name, count = uids.len(), "new messages");
    }
    let found = uids.len();
    for uid in uids {
        if shutdown.is_cancelled() {
            break;
        }
        // The size first: a message over the limit is quarantined without being read.
        let sized: Vec<_> = session.uid_fetch(uid.to_string(), "(UID RFC822.SIZE)").await?.try_collect().await?;
        let Some(size) = sized.iter().find(|f| f.uid == Some(uid)).map(|f| f.size) else {
            // Expunged by someone else meanwhile.
            app.store.set_imap_state(&mailbox.name, validity, i64::from(uid)).await?;
            continue;
        };
        let outcome = match size.map(u64::from) {
            Some(size) if size > app.config.limits.max_message_bytes => {
                let place = format!(
                    "IMAP mailbox {}, folder {}, UIDVALIDITY {validity}, UID {uid}; moved to folder {}",
                    mailbox.name, mailbox.folder, mailbox.quarantine_folder
                );
                desk::quarantine_unfetched(app, origin.source, &place, size).await?
            }
            _ => {
                let fetched: Vec<_> =
                    session.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?.try_collect().await?;
                let Some(raw) = fetched.iter().find(|f| f.uid == Some(uid)).and_then(|f| f.body()) else {
                    app.store.set_imap_state(&mailbox.name, validity, i64::from(uid)).await?;
                    continue;
                };
                // Bounded by limits.max_processing_secs inside desk; on shutdown a message
                // still in hand after a grace is left in the folder for the next start (its
                // poison mark counts the attempt).
                let receiving = desk::receive(app, raw, origin);
                tokio::pin!(receiving);
                tokio::select! {
                    outcome = &mut receiving => outcome?,
                    _ = shutdown.cancelled() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut receiving).await {
                        Ok(outcome) => outcome?,
                        Err(_) => {
                            warn!(mailbox = %mailbox.name, uid, "message still in hand at shutdown; left in the folder");
                            break;
                        }
                    },
                }
            }
        };
        settle(mailbox, session, caps, uid, &outcome).await?;
        app.store.set_imap_state(&mailbox.name, validity, i64::from(uid)).await?;
    }
    Ok(found)
}

/// Moves (or flags) a message whose effect is committed; quarantined mail goes to the
/// quarantine folder.
async fn settle(
    mailbox: &ImapMailbox,
    session: &mut ImapSession,
    caps: &Capabilities,
    uid: u32,
    outcome: &Outcome,
) -> Result<(), SyncError> {
    let uid = uid.to_string();
    let target = match (outcome, mailbox.after) {
        (Outcome::Quarantined(_), _) => &mailbox.quarantine_folder,
        (_, AfterCommit::Move) => &mailbox.done_folder,
        (_, AfterCommit::Flag) => {
            let _: Vec<_> = session.uid_store(&uid, "+FLAGS.SILENT (\\Seen)").await?.try_collect().await?;
            return Ok(());
        }
    };
    if caps.mv {
        session.uid_mv(&uid, target).await?;
        return Ok(());
    }
    session.uid_copy(&uid, target).await?;
    let _: Vec<_> = session.uid_store(&uid, "+FLAGS.SILENT (\\Deleted)").await?.try_collect().await?;
    if caps.uidplus {
        let _: Vec<_> = session.uid_expunge(&uid).await?.try_collect().await?;
    } else {
        warn!(mailbox = %mailbox.name, "server has neither MOVE nor UIDPLUS; expunging the whole folder");
        let _: Vec<_> = session.expunge().await?.try_collect().await?;
    }
    Ok(())
}
