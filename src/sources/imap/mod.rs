//! The IMAP source: each configured mailbox runs in its own task, keeps one session open,
//! applies new mail by UID and waits with IDLE. A session that fails is closed and opened
//! again after an exponential backoff with jitter that resets only once the mailbox worked
//! (mail applied, or an IDLE or poll that ended normally); a state change is logged once,
//! not every retry. One mailbox failing never touches the others.

mod checked;
mod connect;
mod error;
mod folders;
mod inspect;
mod plan;
mod sync;
mod watch;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

pub use connect::{ConnectError, open};
pub use error::SyncError;
pub use inspect::{FolderLook, InspectError, Inspection, Offered, inspect};
use watch::{Said, Watch};

use super::lease::{self, Held};
use crate::App;
use crate::config::ImapMailbox;

/// The delay before reconnect attempt `attempt` (1-based): 1 s doubling up to 5 minutes,
/// each varied by up to ±25 % so that many mailboxes do not retry in step.
pub fn backoff(attempt: u32) -> Duration {
    let base = 1000u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16)).min(300_000);
    let jitter = (base as f64 * (rand::random::<f64>() - 0.5) * 0.5) as i64;
    Duration::from_millis((base as i64 + jitter).max(100) as u64)
}

/// Serves `mailbox` until `shutdown` fires: takes its lease (waiting while another node
/// works it), then connects, syncs, waits and reconnects on failure for as long as the lease
/// is held. A lost lease ends the session at once, and the node waits to take it again.
pub async fn run(app: Arc<App>, mailbox: ImapMailbox, shutdown: CancellationToken) {
    let name = mailbox.name.clone();
    let part = crate::health::imap(&name);
    let mut watch = Watch::default();
    info!(mailbox = %name, host = %mailbox.host, folder = %mailbox.folder, "IMAP source started");
    if mailbox.timeout_secs.is_some() {
        warn!(mailbox = %name, "imap.timeout_secs is no longer used: limits.max_processing_secs bounds every message");
    }
    let lease_name = format!("imap:{name}");
    while !shutdown.is_cancelled() {
        let Some(held) = lease::take(&app, &lease_name, &part, &shutdown).await else { break };
        // A lost lease drops the session where it is: a transaction in flight rolls back,
        // and nothing more is sent to the server.
        tokio::select! {
            () = work(&app, &mailbox, &held, &shutdown, &mut watch) => {}
            () = held.lost() => {}
        }
        if shutdown.is_cancelled() {
            held.release(&app).await;
            break;
        }
        if held.handed_over() {
            info!(mailbox = %name, "handed the mailbox over to another node");
        } else {
            warn!(mailbox = %name, "this node no longer works the mailbox; another node took it over");
        }
    }
    info!(mailbox = %name, "IMAP source stopped");
}

/// Works `mailbox` under `held` until `stop` fires or the lease is lost: connect, sync,
/// wait, reconnect on failure.
async fn work(app: &App, mailbox: &ImapMailbox, held: &Held, stop: &CancellationToken, watch: &mut Watch) {
    let name = &mailbox.name;
    while !stop.is_cancelled() && held.holds() {
        let failure = match open(mailbox).await {
            // async-imap can panic on some malformed answers (a tagged BAD without text to
            // IDLE): that ends the session like any failure, never the mailbox's task.
            Ok(session) => {
                match AssertUnwindSafe(sync::serve(app, mailbox, session, held, stop, watch)).catch_unwind().await {
                    Ok(Ok(())) => break,
                    // The daemon is stopping (and says why), or the lease is gone: the
                    // message stays in the folder.
                    Ok(Err(SyncError::Stopped(_))) => break,
                    Ok(Err(_)) if !held.holds() => break,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "the IMAP client failed on the server's answer".to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        app.health.down(&crate::health::imap(name), &failure);
        let delay = backoff(watch.attempts() + 1);
        match watch.failed(&failure) {
            Said::First => {
                error!(mailbox = %name, error = %failure, retry_in = ?delay, "mailbox unavailable; retrying with backoff")
            }
            Said::Changed => {
                warn!(mailbox = %name, error = %failure, "mailbox still unavailable, now for another reason")
            }
            Said::Nothing => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for _ in 0..100 {
            let first = backoff(1).as_millis();
            assert!((750..=1250).contains(&first), "{first}");
            let fifth = backoff(5).as_millis();
            assert!((12_000..=20_000).contains(&fifth), "{fifth}");
            assert!(backoff(40).as_millis() <= 375_000);
        }
    }
}
