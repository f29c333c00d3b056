//! `maildesk serve`: the sources, the outbox sender and the portal as tracked tasks under
//! one shutdown signal. On shutdown each task finishes the message in hand; the store is
//! closed last.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::outbound::{self, Prepare, Sender, Templates, Transport};
use crate::store::{OutboxRow, StoreError};
use crate::{App, portal, service, sources};

/// How often time-driven rules run (resolved tickets closing themselves).
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// How long tasks get to finish after shutdown is signalled.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(20);

/// How a daemon's shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Every task finished within the drain deadline; the store was closed.
    Clean,
    /// Some task was still running at the deadline; it was left behind.
    TimedOut,
    /// Intake stopped because too many workers are stuck past
    /// `limits.max_processing_secs` (see [`crate::workers::Workers`]); the tasks then drained
    /// as on SIGTERM. `serve` exits with a failure so that systemd restarts it.
    WorkersStuck,
}

/// Runs the daemon until `shutdown` fires, then gives tasks [`DRAIN_DEADLINE`] to finish.
/// `listener` is the portal's socket (bound by the caller, so tests can use port 0), or
/// `None` to run without the portal; `sender` is what the outbox sender works with (see
/// [`sender`]). Worker threads stuck in a message are never waited for here; the caller
/// must not wait for them either (see `cli::main`).
pub async fn run(app: Arc<App>, listener: Option<TcpListener>, sender: Sender, shutdown: CancellationToken) -> Drained {
    let tracker = TaskTracker::new();
    // The parts readiness waits for.
    let config = app.config();
    if config.maildir.enabled {
        app.health.expect(crate::health::MAILDIR);
    }
    for mailbox in &config.imap {
        app.health.expect(&crate::health::imap(&mailbox.name));
    }
    app.health.expect(crate::health::SENDER);
    if listener.is_some() {
        app.health.expect(crate::health::PORTAL);
    }
    tracker.spawn(service::announce(app.clone(), service::READY_GRACE, shutdown.clone()));
    if let Some(interval) = service::watchdog_interval() {
        tracker.spawn(service::keep_alive(app.clone(), interval, shutdown.clone()));
    }
    // `maildesk ingest` hands its message over while the daemon runs (or applies it itself).
    // The socket's lock also says that no other daemon runs on this data directory: the
    // leases of this node's earlier runs are then over, and its mailboxes are taken back at
    // once rather than when those leases run out.
    match sources::handoff::bind(&config.data_dir) {
        Ok(listener) => {
            sources::lease::end_earlier_runs(&app).await;
            tracker.spawn(sources::handoff::run(app.clone(), listener, shutdown.clone()));
        }
        Err(e) => warn!(error = %e, "`maildesk ingest` applies each message itself"),
    }
    // The mailboxes are taken once this node is counted among the nodes up (see
    // `sources::lease`); everything else starts at once.
    let tasks = tracker.clone();
    let (joining, stop) = (app.clone(), shutdown.clone());
    tracker.spawn(async move {
        let joined = sources::lease::join(&joining).await;
        let joined = joined.inspect_err(|e| warn!(error = %e, "cannot say that this node is up")).ok();
        let config = joining.config();
        if config.maildir.enabled {
            tasks.spawn(sources::maildir::run(joining.clone(), config.maildir.path.clone(), stop.clone()));
        }
        for mailbox in &config.imap {
            tasks.spawn(sources::imap::run(joining.clone(), mailbox.clone(), stop.clone()));
        }
        sources::lease::stay_joined(joining, joined, stop).await;
    });
    tracker.spawn(outbound::run(app.clone(), sender, shutdown.clone()));
    tracker.spawn(outbound::listen(app.clone(), shutdown.clone()));
    tracker.spawn(housekeeping(app.clone(), HOUSEKEEPING_EVERY, shutdown.clone()));
    tracker.spawn(crate::desk::kb::follow(app.clone(), shutdown.clone()));
    if let Some(listener) = listener {
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "portal listening");
        }
        // Open request pages show changes as they come, from the store's feed.
        tracker.spawn(crate::desk::live::follow(app.clone(), shutdown.clone()));
        app.health.up(crate::health::PORTAL);
        let (app, token) = (app.clone(), shutdown.clone());
        tracker.spawn(async move {
            if let Err(e) = portal::serve(listener, app, token).await {
                warn!(error = %e, "portal stopped");
            }
        });
    }
    tracker.close();
    let stuck = tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = app.workers.stopped() => true,
    };
    if stuck {
        error!(
            stuck = app.workers.abandoned(),
            "shutting down: too many workers are stuck past limits.max_processing_secs; exiting with a failure \
             so that the service manager restarts maildesk with fresh threads"
        );
        shutdown.cancel();
    } else {
        info!("shutting down");
    }
    service::notify(&[sd_notify::NotifyState::Stopping, sd_notify::NotifyState::Status("stopping")]);
    if tokio::time::timeout(DRAIN_DEADLINE, tracker.wait()).await.is_err() {
        // Closing the store would wait for the connections those tasks hold.
        warn!("tasks did not finish in time; stopping without closing the store");
        return Drained::TimedOut;
    }
    // A clean stop: a message still in hand was only interrupted, not a poison attempt.
    app.poison.release_in_hand(&app.store).await;
    app.store.close().await;
    info!("stopped");
    if stuck { Drained::WorkersStuck } else { Drained::Clean }
}

/// The transport the config asks for.
pub fn transport(app: &App) -> Result<Transport, String> {
    let config = app.config();
    match (config.outbox.transport, &config.smtp) {
        (crate::config::TransportKind::Smtp, Some(smtp)) => Transport::smtp(smtp, config.desk.address.as_str()),
        (crate::config::TransportKind::Smtp, None) => Err("outbox.transport = \"smtp\" needs [smtp]".into()),
        (crate::config::TransportKind::File, _) => Ok(Transport::File(config.outbox.dir.clone())),
    }
}

/// The sender of `serve`: mail written with `templates` goes out through `transport`, and
/// desk gives each invitation its token as it is sent.
pub fn sender(transport: Transport, templates: crate::outbound::SharedTemplates) -> Sender {
    Sender { transport, templates, prepare: std::sync::Arc::new(MintInvitations) }
}

/// Desk's invitation tokens, made as their mail is sent (see
/// [`crate::desk::invitations::mint_tokens`]).
struct MintInvitations;

impl Prepare for MintInvitations {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        rows: &'a [OutboxRow],
    ) -> futures::future::BoxFuture<'a, Result<Vec<Option<OutboxRow>>, StoreError>> {
        Box::pin(crate::desk::invitations::mint_tokens(app, rows))
    }
}

/// How often housekeeping merges the full-text index (see
/// [`crate::store::Conn::tidy_search_index`]): a day's comments add only small b-trees,
/// cheap to look in.
const SEARCH_TIDY_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Merges the full-text index, logging what it did; false when that failed.
async fn tidy_search_index(app: &App) -> bool {
    let started = std::time::Instant::now();
    match app.store.with(async |c| c.tidy_search_index().await).await {
        Ok(0) => true,
        Ok(steps) => {
            info!(steps, seconds = started.elapsed().as_secs_f64(), "tidied the search index");
            true
        }
        Err(e) => {
            warn!(error = %e, "tidying the search index failed; trying again in an hour");
            false
        }
    }
}

/// The lease under which one node of those sharing a database runs housekeeping.
const HOUSEKEEPING_LEASE: &str = "housekeeping";

/// Runs desk's time-driven rules (resolved tickets closing themselves; hourly, unreferenced
/// blobs and ended portal sessions going; daily, the search index tidied) at start and then
/// every `every` until `shutdown`, handing freed memory back each time. Of several nodes on
/// one database, only the one holding the housekeeping lease runs the rules: it renews the
/// lease at each round, and another takes over when it stops for three rounds.
async fn housekeeping(app: Arc<App>, every: Duration, shutdown: CancellationToken) {
    let mut next_sweep = tokio::time::Instant::now();
    let mut next_tidy = tokio::time::Instant::now();
    let mut held = None;
    loop {
        held = hold_housekeeping(&app, every * 3, held).await;
        if held.is_some() {
            if let Err(e) = crate::desk::lifecycle::close_resolved(&app).await {
                warn!(error = %e, "closing resolved tickets failed; trying again later");
            }
            if tokio::time::Instant::now() >= next_sweep {
                app.sweep_blobs().await;
                crate::desk::accounts::sweep(&app).await;
                crate::desk::live::trim(&app).await;
                next_sweep += crate::app::BLOB_SWEEP_EVERY;
            }
            if tokio::time::Instant::now() >= next_tidy {
                // A failure is tried again with the next hourly sweep.
                next_tidy += match tidy_search_index(&app).await {
                    true => SEARCH_TIDY_EVERY,
                    false => crate::app::BLOB_SWEEP_EVERY,
                };
            }
        }
        // Memory freed since (idle pooled connections close after 30 s) goes back.
        crate::memory::release_memory();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    if let Some(generation) = held {
        let released = app.store.with(async |c| c.release_lease(HOUSEKEEPING_LEASE, &app.holder, generation).await);
        if let Err(e) = released.await {
            warn!(error = %e, "cannot give the housekeeping lease up; it runs out by itself");
        }
    }
}

/// Takes or renews the housekeeping lease for `ttl`: its generation when this node runs
/// housekeeping now (`before`: the generation it held at the last round).
async fn hold_housekeeping(app: &App, ttl: Duration, before: Option<i64>) -> Option<i64> {
    match app.store.with(async |c| c.acquire_lease(HOUSEKEEPING_LEASE, &app.holder, ttl).await).await {
        Ok(now) => {
            if now.is_some() && now != before {
                info!(node = %app.holder, "this node runs housekeeping");
            }
            now
        }
        Err(e) => {
            warn!(error = %e, "cannot take the housekeeping lease; trying again later");
            None
        }
    }
}

/// Re-reads what may change while the daemon runs, on each SIGHUP until `shutdown`:
/// `reread` loads the config as at start. See [`reload`].
pub async fn reload_on_hangup(
    app: Arc<App>,
    templates: crate::outbound::SharedTemplates,
    reread: impl Fn() -> Result<crate::config::Config, crate::config::ConfigError> + Send + 'static,
    shutdown: CancellationToken,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGHUP; reloading is off");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = hangups.recv() => {}
            _ = shutdown.cancelled() => return,
        }
        service::notify(&[sd_notify::NotifyState::Reloading, sd_notify::NotifyState::Status("reloading")]);
        reload(&app, &templates, reread());
        service::notify(&[sd_notify::NotifyState::Ready, sd_notify::NotifyState::Status("ready")]);
    }
}

/// Applies `config` (the config file read anew): the mail templates are loaded again (a
/// set that cannot be used keeps the ones before, and the log says why), and the changes of
/// [`RELOADED_KEYS`](crate::config::RELOADED_KEYS) — texts, departments, organisations,
/// limits and rates read at each use — take effect at once. Every other change is named in
/// the log as taking effect after a restart. A config that cannot be read changes nothing.
pub fn reload(
    app: &App,
    templates: &crate::outbound::SharedTemplates,
    config: Result<crate::config::Config, crate::config::ConfigError>,
) {
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            error!(error = %e, "reload: the config cannot be read; nothing changed");
            return;
        }
    };
    match Templates::load(&config) {
        Ok(fresh) => {
            info!(overrides = fresh.overrides(), "reload: the mail templates were loaded again");
            templates.store(Arc::new(fresh));
        }
        Err(problems) => {
            warn!(problems = %problems, "reload: the mail templates cannot be used; keeping the ones loaded before");
        }
    }
    let before = app.config();
    let Some(changed) = crate::config::changed_keys(&before, &config) else {
        warn!("reload: the config could not be compared; its changes take effect after a restart");
        return;
    };
    let (applied, need_restart): (Vec<String>, Vec<String>) =
        changed.into_iter().partition(|key| crate::config::is_reloaded(key));
    if !applied.is_empty() {
        app.replace_config(before.reloaded(&config));
        info!(keys = %applied.join(", "), "reload: these changes of the config took effect");
    }
    if !need_restart.is_empty() {
        warn!(keys = %need_restart.join(", "), "reload: these changes of the config take effect after a restart");
    }
}
