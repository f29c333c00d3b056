//! The leases under which a node works a mailbox (an IMAP mailbox, a Maildir) when several
//! `maildesk serve` share one database: exactly one node works each at a time. A node takes
//! a mailbox's lease before it touches the mailbox and renews it in the background; a node
//! that cannot renew in time (cut off, paused, its database gone) counts the lease as lost
//! before it can run out in the database, and stops touching the mailbox. Its writes check
//! the lease in their own transaction as well (a [`Fence`]), so a node that wakes after
//! another took over writes nothing more. A node that stopped is replaced within
//! `cluster.takeover_secs`.
//!
//! The nodes share the mailboxes out evenly: each node says it is up with a lease of its
//! own (`node:<holder>`), takes a mailbox (`mailbox:<which>`) only while it has fewer than
//! its share (the mailboxes divided by the nodes up, rounded up), and hands over what it
//! has too many (a node joined) as those leases come up for renewal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::App;
use crate::store::{Fence, StoreError};

/// How the leases of the nodes up are named: `node:<holder>`.
const NODE: &str = "node:";

/// How the leases of mailboxes are named: `mailbox:<which>`, such as `mailbox:imap:support`.
const MAILBOX: &str = "mailbox:";

/// How long a lease lasts, how often it is renewed, and how often a node waiting for it
/// looks again: a node that stops renewing is replaced within `takeover` (a lease's life,
/// the time the node's own lease may outlive its mailboxes' by, and a look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A lease's life in the database, from its last renewal.
    pub ttl: Duration,
    /// How often its holder renews it (three times within its life).
    pub renew: Duration,
    /// How often a node without it tries to take it.
    pub look: Duration,
}

impl Timing {
    /// The timing that replaces a stopped node within `takeover`.
    pub fn for_takeover(takeover: Duration) -> Timing {
        let ttl = takeover / 2;
        Timing { ttl, renew: ttl / 3, look: takeover / 8 }
    }

    /// The timing of `app`'s config (`cluster.takeover_secs`).
    pub fn of(app: &App) -> Timing {
        Timing::for_takeover(Duration::from_secs(app.config().cluster.takeover_secs))
    }

    /// How long before the database's end of a lease its holder counts it as lost: the
    /// time a renewal's answer may take to come back, and the clocks' drift.
    fn margin(&self) -> Duration {
        self.ttl / 10
    }

    /// Until when a lease taken or renewed by a statement sent at `asked` may be counted on.
    fn valid_from(&self, asked: Instant) -> Instant {
        asked + self.ttl - self.margin()
    }
}

/// A lease this node holds, renewed in the background while this (or a clone, such as a
/// task finishing a message) lives. Dropping the last stops the renewals (the lease then
/// runs out); [`Held::release`] gives it up at once.
#[derive(Debug, Clone)]
pub struct Held {
    fence: Fence,
    state: Arc<State>,
    renewer: Arc<Renewer>,
}

/// The task renewing a lease, stopped when dropped.
#[derive(Debug)]
struct Renewer(tokio::task::JoinHandle<()>);

impl Drop for Renewer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug)]
struct State {
    /// Until when this node may count on the lease: its database end less a margin,
    /// measured from before the renewal that set it was sent.
    valid_until: Mutex<Instant>,
    /// Cancelled once the lease is known lost (or could not be renewed in time).
    lost: CancellationToken,
    /// The lease was given up for another node to balance the mailboxes.
    handed_over: AtomicBool,
}

impl State {
    fn valid_until(&self) -> Instant {
        *self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn holds(&self) -> bool {
        !self.lost.is_cancelled() && Instant::now() < self.valid_until()
    }
}

impl Held {
    /// What writes made under this lease check in their transaction.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Whether this node may still touch the mailbox: the lease is renewed and its end
    /// (less a margin) has not come. Asked before each change to the mailbox.
    pub fn holds(&self) -> bool {
        self.state.holds()
    }

    /// Whether the lease ended because this node handed the mailbox over to another (a
    /// node joined), not because it was lost.
    pub fn handed_over(&self) -> bool {
        self.state.handed_over.load(Ordering::Relaxed)
    }

    /// Resolves once the lease is lost: another node took it, or it was not renewed in time.
    pub async fn lost(&self) {
        loop {
            let until = self.state.valid_until();
            tokio::select! {
                _ = self.state.lost.cancelled() => return,
                _ = tokio::time::sleep_until(until) => {
                    if !self.state.holds() {
                        self.state.lost.cancel();
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up (a clean stop): another node may take the mailbox at once.
    pub async fn release(self, app: &App) {
        self.renewer.0.abort();
        self.state.lost.cancel();
        let Fence { lease, holder, generation } = &self.fence;
        if let Err(e) = app.store.with(async |c| c.release_lease(lease, holder, *generation).await).await {
            warn!(lease = %self.fence.lease, error = %e, "cannot give the lease up; it runs out by itself");
        }
    }
}

/// How many mailboxes this node works (a Maildir counts as one): what is shared out.
fn mailboxes(app: &App) -> i64 {
    let config = app.config();
    i64::try_from(config.imap.len()).unwrap_or(i64::MAX) + i64::from(config.maildir.enabled)
}

/// This node's share of the mailboxes while `nodes` are up: the mailboxes divided among
/// them, rounded up.
pub fn share(mailboxes: i64, nodes: i64) -> i64 {
    let nodes = nodes.max(1);
    (mailboxes + nodes - 1) / nodes
}

/// How many nodes are up and how many mailboxes this node has.
async fn shares(app: &App) -> Result<(i64, i64), StoreError> {
    app.store.with(async |c| c.lease_counts(NODE, MAILBOX, &app.holder).await).await
}

/// Ends the leases of this node's earlier runs (see
/// [`crate::store::Conn::end_leases_of_others`]): a node restarted after a crash takes its
/// mailboxes back at once. Only a node sure that no earlier run of it still works (it holds
/// its data directory's lock) may call this.
pub async fn end_earlier_runs(app: &App) {
    let node = &app.config().cluster.node;
    let runs = crate::app::run_of(node, "");
    match app.store.with(async |c| c.end_leases_of_others(&runs, &app.holder).await).await {
        Ok(0) => {}
        Ok(n) => info!(node = %node, leases = n, "took back the mailboxes of this node's earlier run"),
        Err(e) => warn!(error = %e, "cannot end the leases of this node's earlier run; they run out by themselves"),
    }
}

/// Says that this node is up (the lease `node:<holder>`), for as long as the returned lease
/// is held, so that the others count it when they share the mailboxes out. When other nodes
/// are up already, waits one look first: nodes started together then see each other before
/// any takes a mailbox.
pub async fn join(app: &Arc<App>) -> Result<Held, StoreError> {
    let timing = Timing::of(app);
    let name = format!("{NODE}{}", app.holder);
    let asked = Instant::now();
    let Some(generation) = app.store.with(async |c| c.acquire_lease(&name, &app.holder, timing.ttl).await).await?
    else {
        return Err(StoreError::LeaseLost(name));
    };
    let fence = Fence { lease: name, holder: app.holder.clone(), generation };
    let held = hold(app, fence, timing.valid_from(asked), Kind::Node);
    if shares(app).await.is_ok_and(|(nodes, _)| nodes > 1) {
        tokio::time::sleep(timing.look).await;
    }
    Ok(held)
}

/// Keeps this node counted among the nodes up until `shutdown`, from `joined` (what
/// [`join`] gave, if it could): joins again whenever that lease is lost, and gives it up at
/// the end.
pub async fn stay_joined(app: Arc<App>, mut joined: Option<Held>, shutdown: CancellationToken) {
    let timing = Timing::of(&app);
    loop {
        match joined.take() {
            Some(held) => {
                tokio::select! {
                    _ = shutdown.cancelled() => {
                        held.release(&app).await;
                        return;
                    }
                    () = held.lost() => warn!("this node's own lease was lost; saying again that it is up"),
                }
            }
            None => {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(timing.look) => {}
                }
            }
        }
        joined = join(&app).await.inspect_err(|e| warn!(error = %e, "cannot say that this node is up")).ok();
    }
}

/// Why a node does not take a mailbox's lease now.
enum Waiting {
    /// The mailbox is worked: another node holds it, or this node has its share and leaves
    /// it to another.
    Worked(String),
    /// The lease table cannot be read.
    Failed(StoreError),
}

/// Takes the lease of mailbox `which` (such as `imap:support`) for this node, waiting while
/// another node holds it or while this node has its share of the mailboxes, until
/// `shutdown` (then `None`). Once taken it is renewed in the background. While another node
/// works the mailbox, this node's health part `part` is up: the mailbox is being worked.
pub async fn take(app: &Arc<App>, which: &str, part: &str, shutdown: &CancellationToken) -> Option<Held> {
    let timing = Timing::of(app);
    let name = format!("{MAILBOX}{which}");
    let mut said = None::<String>;
    loop {
        let asked = Instant::now();
        let why = match try_take(app, &name, timing).await {
            Ok(generation) => {
                info!(lease = %name, node = %app.holder, generation, "this node works the mailbox now");
                let fence = Fence { lease: name, holder: app.holder.clone(), generation };
                return Some(hold(app, fence, timing.valid_from(asked), Kind::Mailbox));
            }
            Err(Waiting::Worked(why)) => {
                app.health.up(part);
                why
            }
            Err(Waiting::Failed(e)) => format!("the lease cannot be read: {e}"),
        };
        if said.as_deref() != Some(why.as_str()) {
            info!(lease = %name, why = %why, "waiting to work the mailbox");
            said = Some(why);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep(timing.look) => {}
        }
    }
}

/// Takes mailbox lease `name` if this node has less than its share and no other node holds
/// it: the generation it is held at.
async fn try_take(app: &App, name: &str, timing: Timing) -> Result<i64, Waiting> {
    let (nodes, mine) = shares(app).await.map_err(Waiting::Failed)?;
    let mailboxes = mailboxes(app);
    if mine >= share(mailboxes, nodes) {
        return Err(Waiting::Worked(format!(
            "this node has its share ({mine} of {mailboxes} mailboxes, {nodes} nodes)"
        )));
    }
    match app.store.with(async |c| c.acquire_lease(name, &app.holder, timing.ttl).await).await {
        Ok(Some(generation)) => Ok(generation),
        Ok(None) => Err(Waiting::Worked("another node works it".into())),
        Err(e) => Err(Waiting::Failed(e)),
    }
}

/// What a lease is for: a node's own (never handed over) or a mailbox's (handed over while
/// this node has more than its share).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Node,
    Mailbox,
}

/// Starts renewing `fence`'s lease, valid until `valid_until` so far.
fn hold(app: &Arc<App>, fence: Fence, valid_until: Instant, kind: Kind) -> Held {
    let state = Arc::new(State {
        valid_until: Mutex::new(valid_until),
        lost: CancellationToken::new(),
        handed_over: AtomicBool::new(false),
    });
    let renewer = tokio::spawn(renew(app.clone(), fence.clone(), state.clone(), kind));
    Held { fence, state, renewer: Arc::new(Renewer(renewer)) }
}

/// Renews the lease every `timing.renew` until it is lost. A renewal that fails is tried
/// again sooner, until the lease's end (less the margin) has come: then it counts as lost.
/// A mailbox's lease is handed over when this node has more than its share.
async fn renew(app: Arc<App>, fence: Fence, state: Arc<State>, kind: Kind) {
    let timing = Timing::of(&app);
    let mut pause = timing.renew;
    loop {
        tokio::select! {
            _ = state.lost.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let asked = Instant::now();
        let renewing = app.store.with(async |c| c.acquire_lease(&fence.lease, &fence.holder, timing.ttl).await);
        match tokio::time::timeout(timing.renew, renewing).await {
            Ok(Ok(Some(generation))) if generation == fence.generation => {
                *state.valid_until.lock().unwrap_or_else(|e| e.into_inner()) = timing.valid_from(asked);
                pause = timing.renew;
                if kind == Kind::Mailbox && hand_over(&app, &fence).await {
                    state.handed_over.store(true, Ordering::Relaxed);
                    state.lost.cancel();
                    return;
                }
                continue;
            }
            // Taken by another node, or ran out and taken again (what was begun under the
            // old generation is fenced off): either way this holding is over.
            Ok(Ok(_)) => {
                warn!(lease = %fence.lease, "the lease was lost: another node works the mailbox now");
                state.lost.cancel();
                return;
            }
            Ok(Err(e)) => warn!(lease = %fence.lease, error = %e, "cannot renew the lease; trying again"),
            Err(_) => warn!(lease = %fence.lease, "renewing the lease takes too long; trying again"),
        }
        if !state.holds() {
            warn!(lease = %fence.lease, "the lease could not be renewed in time; this node stops working the mailbox");
            state.lost.cancel();
            return;
        }
        pause = timing.renew / 4;
    }
}

/// Gives `fence`'s lease up when this node has more than its share of the mailboxes:
/// whether it did. This node's leases decide one after another, each on the count the one
/// before left, so that a node that has too many (a node joined) hands over just those, at
/// their next renewal.
async fn hand_over(app: &App, fence: &Fence) -> bool {
    let _one_at_a_time = app.balancing.lock().await;
    let Ok((nodes, mine)) = shares(app).await else { return false };
    if mine <= share(mailboxes(app), nodes) {
        return false;
    }
    let Fence { lease, holder, generation } = fence;
    match app.store.with(async |c| c.release_lease(lease, holder, *generation).await).await {
        Ok(true) => {
            info!(lease = %lease, nodes, mailboxes = mine, "handing the mailbox over to balance the nodes");
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_node_is_replaced_within_the_takeover_time() {
        for secs in [2, 3, 30, 3600] {
            let takeover = Duration::from_secs(secs);
            let t = Timing::for_takeover(takeover);
            assert!(t.ttl + t.renew + t.look <= takeover, "{t:?}");
            assert!(t.renew * 3 <= t.ttl && t.renew > Duration::ZERO, "{t:?}");
            assert!(t.margin() < t.renew, "a renewal in time keeps the lease: {t:?}");
        }
    }

    #[test]
    fn the_mailboxes_are_shared_out_rounding_up() {
        assert_eq!(share(10, 1), 10);
        assert_eq!(share(10, 2), 5);
        assert_eq!(share(10, 3), 4);
        assert_eq!(share(11, 2), 6);
        assert_eq!(share(1, 3), 1, "a mailbox is someone's");
        assert_eq!(share(0, 2), 0);
        assert_eq!(share(5, 0), 5, "no node counted (this one not yet): all of them");
    }
}
