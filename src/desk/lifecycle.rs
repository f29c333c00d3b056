//! A ticket's life (MISSION ST4) over time: when an answer is due, and resolved tickets
//! closing themselves. Which status may follow which is [`Status::may_move_to`].

use tracing::{info, warn};

use super::notify;
use crate::App;
use crate::domain::{Priority, Status, TicketNumber};
use crate::notice::Notice;
use crate::store::StoreError;

/// When a customer waiting since `awaiting_since` must have an answer on a ticket of this
/// `status` and `priority` (the priority's response target); none when no one waits, the
/// ball is not with staff, or the priority has no target.
pub fn answer_due(app: &App, status: Status, priority: Priority, awaiting_since: Option<i64>) -> Option<i64> {
    if !Status::AWAITING_STAFF.contains(&status) {
        return None;
    }
    let target = app.config().desk.response_hours.secs(priority)?;
    Some(awaiting_since?.saturating_add(target))
}

/// Whether a ticket whose status last changed at `changed_at` (Unix seconds) changed
/// within `desk.reopen_days`: a customer's word (by mail or in the portal) then reopens a
/// finished ticket; later it follows it up with a new one.
pub fn within_reopen_window(app: &App, changed_at: i64) -> bool {
    within_reopen_window_at(app, changed_at, crate::store::now())
}

/// [`within_reopen_window`] as seen at `now` (Unix seconds): an imported mail's date.
pub fn within_reopen_window_at(app: &App, changed_at: i64, now: i64) -> bool {
    let window = i64::try_from(app.config().desk.reopen_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    now.saturating_sub(changed_at) <= window
}

/// How many resolved tickets one sweep closes at most.
const SWEEP_BATCH: i64 = 200;

/// Closes every ticket resolved more than `desk.auto_close_days` ago, each in its own
/// transaction with a notification to its customers. Returns how many were closed.
pub async fn close_resolved(app: &App) -> Result<usize, StoreError> {
    let days = app.config().desk.auto_close_days;
    if days == 0 {
        return Ok(0);
    }
    let age = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    let cutoff = crate::store::now().saturating_sub(age);
    let mut closed = 0;
    loop {
        let due = app.store.conn().await?.resolved_before(cutoff, SWEEP_BATCH).await?;
        let (batch, mut closed_now) = (due.len(), 0);
        for n in due {
            match close_one(app, n, cutoff).await {
                Ok(done) => closed_now += usize::from(done),
                Err(e) if e.is_temporary() => return Err(e),
                // One ticket that cannot be closed does not hold up the others.
                Err(e) => warn!(ticket = n.0, error = %e, "cannot close resolved ticket"),
            }
        }
        closed += closed_now;
        if batch < SWEEP_BATCH as usize || closed_now == 0 {
            break;
        }
    }
    if closed > 0 {
        info!(closed, "resolved tickets closed after {days} days");
        app.outbox_wake.notify_one();
    }
    Ok(closed)
}

/// Closes ticket `n` if it is still resolved since before `cutoff` (someone may have
/// reopened it since it was listed).
async fn close_one(app: &App, n: TicketNumber, cutoff: i64) -> Result<bool, StoreError> {
    let mut tx = app.store.begin().await?;
    // The conditional move makes a second sweeper (another node) a no-op.
    if !tx.move_status_if(n, Status::Resolved, Status::Closed, cutoff).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    let subject = tx.ticket_subject(n).await?.unwrap_or_default();
    notify::status_change(app, &mut tx, n, &subject, Notice::AutoClosed, Status::Closed).await?;
    tx.commit().await?;
    Ok(true)
}
