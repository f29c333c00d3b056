//! A ticket's life (MISSION ST4): which status may follow which, and the housekeeping that
//! time drives — resolved tickets closing themselves.

use tracing::{info, warn};

use super::notify;
use crate::App;
use crate::domain::{Status, TicketNumber};
use crate::notice::{Notice, StatusData};
use crate::store::StoreError;

/// Whether a ticket may go from `from` to `to`. Work moves freely between the active
/// statuses and to any end; a resolved ticket may be reopened or closed; a closed or
/// cancelled one only reopened. Staying put is always allowed (and changes nothing).
pub fn may_move(from: Status, to: Status) -> bool {
    use Status::*;
    if from == to {
        return true;
    }
    match from {
        Open | InProgress | WaitingOnCustomer | WaitingOnVendor => true,
        Resolved => matches!(to, Open | Closed),
        Closed | Cancelled => to == Open,
    }
}

/// The statuses `from` may move to, for error messages.
pub fn next_statuses(from: Status) -> Vec<&'static str> {
    Status::ALL.iter().filter(|s| **s != from && may_move(from, **s)).map(|s| s.as_str()).collect()
}

/// When a customer waiting since `awaiting_since` must have an answer on a ticket of this
/// `status` and `priority` (the priority's response target); none when no one waits, the
/// ball is not with staff, or the priority has no target.
pub fn answer_due(app: &App, status: &str, priority: &str, awaiting_since: Option<i64>) -> Option<i64> {
    let status = Status::parse(status).ok()?;
    if !Status::AWAITING_STAFF.contains(&status) {
        return None;
    }
    let target = app.config.desk.response_hours.secs(crate::domain::Priority::parse(priority).ok()?)?;
    Some(awaiting_since?.saturating_add(target))
}

/// The notification that tells customers of a move to `status`.
pub(super) fn notice_kind(status: Status) -> fn(StatusData) -> Notice {
    match status {
        Status::Resolved | Status::Closed => Notice::Resolved,
        _ => Notice::StatusChange,
    }
}

/// How many resolved tickets one sweep closes at most.
const SWEEP_BATCH: i64 = 200;

/// Closes every ticket resolved more than `desk.auto_close_days` ago, each in its own
/// transaction with a notification to its customers. Returns how many were closed.
pub async fn close_resolved(app: &App) -> Result<usize, StoreError> {
    let days = app.config.desk.auto_close_days;
    if days == 0 {
        return Ok(0);
    }
    let age = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    let cutoff = crate::store::now().saturating_sub(age);
    let mut closed = 0;
    loop {
        let due = app.store.resolved_before(cutoff, SWEEP_BATCH).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn the_allowed_moves() {
        for from in [Open, InProgress, WaitingOnCustomer, WaitingOnVendor] {
            assert!(Status::ALL.iter().all(|to| may_move(from, *to)), "{from} moves anywhere");
        }
        assert!(may_move(Resolved, Open) && may_move(Resolved, Closed));
        assert!(!may_move(Resolved, InProgress) && !may_move(Resolved, Cancelled));
        assert!(may_move(Closed, Open) && !may_move(Closed, Resolved) && !may_move(Closed, WaitingOnCustomer));
        assert!(may_move(Cancelled, Open) && !may_move(Cancelled, Closed));
        assert!(may_move(Closed, Closed), "staying put");
        assert_eq!(next_statuses(Closed), vec!["open"]);
    }
}
