//! Sending what desk queued: the sender reads due outbox rows, renders them, hands them to
//! the transport and records the result. It never decides who gets mail. A row is marked
//! sent only after the transport took it; a crash in between sends it again, and the file
//! transport names files by Message-ID so that a repeat overwrites rather than duplicates.
//! Outbound imports nothing of desk: what a notification is comes from [`crate::notice`],
//! and what desk must do as a row is sent (an invitation's token) comes in as [`Prepare`].

pub mod context;
mod render;
pub mod templates;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use render::{RenderError, render};
pub use templates::{TemplateProblem, TemplateProblems, Templates};
pub use transport::{ProbeError, SendError, SentMail, Transport, probe_smtp};

use crate::App;
use crate::store::{OutboxRow, StoreError, now};

/// Work done on claimed rows just before they are rendered, for what must not wait in the
/// outbox: an invitation's token is made then, so that it never sits in the database in
/// the clear. Desk knows how (`desk::invitations`); the daemon wires it in, so that
/// outbound depends on no rule of desk's.
pub trait Prepare: Send + Sync {
    /// The rows to render, in the order of `rows`: each as it is or changed, or `None`
    /// when it is no longer to be sent (the preparer has marked it sent).
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        rows: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<Vec<Option<OutboxRow>>, StoreError>>;
}

/// What the sender works with beside the shared state: the way out, the templates, and
/// what is done to rows before they are rendered.
pub struct Sender {
    /// Where rendered mail goes.
    pub transport: Transport,
    /// What mail is written with: the built-in templates and the admin's overrides, as
    /// last loaded (a SIGHUP loads them again: see [`SharedTemplates`]).
    pub templates: SharedTemplates,
    /// Run on each claim before rendering.
    pub prepare: Arc<dyn Prepare>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("transport", &self.transport).finish_non_exhaustive()
    }
}

/// The templates the sender renders with, replaced whole when they are loaded again:
/// a mail being rendered keeps the ones it began with.
pub type SharedTemplates = Arc<arc_swap::ArcSwap<Templates>>;

/// How many rows one pass of the sender takes.
const BATCH: i64 = 100;

/// How long a claimed notification is held by its sender before it is due again: longer
/// than one send can take (two SMTP timeouts), short enough that a sender that died holding
/// claims delays their mail only briefly.
fn claim_lease_secs(transport: &Transport, app: &App) -> i64 {
    match transport {
        Transport::Smtp { .. } => {
            let timeout = app.config().smtp.as_ref().map_or(30, |s| s.timeout_secs);
            i64::try_from(timeout.saturating_mul(2)).unwrap_or(i64::MAX / 2).saturating_add(10)
        }
        Transport::File(_) | Transport::Memory(_) => 10,
    }
}

/// The delay before retry number `attempt` (1-based): `base` doubling, at most 6 hours.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let secs = base.as_secs().max(1).saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    Duration::from_secs(secs.min(6 * 3600))
}

/// How many rows one claim takes: a batch for local files (claims and marks then cost one
/// commit per batch), one at a time for SMTP, where a send can take seconds and a lease
/// must cover only the row in hand.
fn claim_size(transport: &Transport) -> i64 {
    match transport {
        Transport::Smtp { .. } => 1,
        Transport::File(_) | Transport::Memory(_) => BATCH,
    }
}

/// Sends every due notification once (at most [`BATCH`] rows); returns how many rows were
/// handled. Rows sent are marked in one transaction per claim; a crash before that sends
/// them again under the same Message-ID (the file transport overwrites).
pub async fn deliver_due(app: &App, sender: &Sender) -> Result<usize, StoreError> {
    deliver(app, sender, usize::MAX).await
}

/// [`deliver_due`], taking at most `claims` claims.
async fn deliver(app: &App, sender: &Sender, claims: usize) -> Result<usize, StoreError> {
    let transport = &sender.transport;
    let (size, lease) = (claim_size(transport), claim_lease_secs(transport, app));
    let mut handled = 0;
    for _ in 0..claims {
        if handled >= BATCH as usize {
            break;
        }
        // A read first: an idle sender never takes the write lock.
        if app.store.conn().await?.due_outbox(1).await?.is_empty() {
            break;
        }
        let rows = app.store.conn().await?.claim_due(size, lease).await?;
        if rows.is_empty() {
            break;
        }
        handled += rows.len();
        let ready = sender.prepare.prepare(app, &rows).await?;
        let mut sent = Vec::with_capacity(rows.len());
        for row in ready.iter().flatten() {
            if deliver_one(app, sender, row).await? {
                sent.push(row.id);
            }
        }
        if !sent.is_empty() {
            let mut tx = app.store.begin().await?;
            tx.mark_sent_many(&sent).await?;
            tx.commit().await?;
        }
        for row in rows.iter().filter(|r| sent.contains(&r.id)) {
            info!(outbox = row.id, kind = %row.kind, ticket = ?row.ticket_id, "notification sent");
        }
    }
    Ok(handled)
}

/// Renders and sends one claimed row. Returns true when the transport took it (the caller
/// marks it sent); failures are recorded here.
async fn deliver_one(app: &App, sender: &Sender, row: &OutboxRow) -> Result<bool, StoreError> {
    let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX).saturating_add(1);
    let bytes = match render(app, &sender.templates.load(), row) {
        Ok(bytes) => bytes,
        Err(e) => {
            crate::telemetry::sent(&row.kind, false);
            warn!(outbox = row.id, error = %e, "notification cannot be rendered");
            app.store.conn().await?.mark_attempt_failed(row.id, &e.to_string(), None).await?;
            return Ok(false);
        }
    };
    let sent = sender.transport.send(&row.message_id, &row.recipient, &bytes).await;
    crate::telemetry::sent(&row.kind, sent.is_ok());
    let config = app.config();
    match sent {
        Ok(()) => return Ok(true),
        Err(SendError::Temporary(e)) if attempt < config.outbox.max_attempts => {
            let base = Duration::from_secs(config.outbox.retry_base_secs);
            let retry_at = now() + backoff(base, attempt).as_secs() as i64;
            warn!(outbox = row.id, attempt, error = %e, "sending failed; will retry");
            app.store.conn().await?.mark_attempt_failed(row.id, &e, Some(retry_at)).await?;
        }
        Err(e) => {
            warn!(outbox = row.id, attempt, error = %e, "sending failed for good");
            app.store.conn().await?.mark_attempt_failed(row.id, &e.to_string(), None).await?;
            if matches!(e, SendError::Permanent(_)) {
                // Refused by the server: nothing automatic goes to this address again.
                app.store.conn().await?.mark_bouncing(&row.recipient, &e.to_string()).await?;
            }
        }
    }
    Ok(false)
}

/// The sender task: delivers due rows whenever desk signals new ones, and at the
/// configured interval, until `shutdown` fires.
pub async fn run(app: Arc<App>, sender: Sender, shutdown: CancellationToken) {
    let interval = Duration::from_millis(app.config().outbox.poll_interval_ms);
    let (mut failing, mut busy) = (false, false);
    loop {
        let backlog = app.intake_backlog.load(std::sync::atomic::Ordering::Relaxed);
        if backlog {
            // Incoming mail first: while a source works through a backlog, one claim a
            // second, so notifications still flow but take little of the machine.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        match deliver(&app, &sender, if backlog { 1 } else { usize::MAX }).await {
            Ok(n) => {
                app.health.up(crate::health::SENDER);
                if failing {
                    info!("outbox reachable again");
                    failing = false;
                }
                if n as i64 >= BATCH && !shutdown.is_cancelled() {
                    busy = true;
                    continue;
                }
                if std::mem::take(&mut busy) {
                    crate::memory::release_memory(); // the backlog is sent
                }
            }
            Err(e) => {
                app.health.down(crate::health::SENDER, &format!("the outbox is unavailable: {e}"));
                if !failing {
                    warn!(error = %e, "outbox unavailable");
                    failing = true;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = app.outbox_wake.notified() => {}
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Wakes this node's sender whenever any node queued mail (PostgreSQL's LISTEN), until
/// `shutdown`; the sender's poll stays the fallback while the listening connection is down.
/// Returns at once on SQLite, where desk wakes the sender in-process.
pub async fn listen(app: Arc<App>, shutdown: CancellationToken) {
    let mut failing = false;
    loop {
        let listened: Result<(), crate::store::StoreError> = match app.store.listen_outbox().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    queued = listener.queued() => match queued {
                        Ok(()) => {
                            if std::mem::take(&mut failing) {
                                info!("hearing of queued mail again");
                            }
                            app.outbox_wake.notify_one();
                        }
                        Err(e) => break Err(e),
                    },
                }
            },
            Err(e) => Err(e),
        };
        if let Err(e) = listened
            && !std::mem::replace(&mut failing, true)
        {
            warn!(error = %e, "cannot listen for queued mail; the sender polls meanwhile");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 40), Duration::from_secs(6 * 3600));
    }
}
