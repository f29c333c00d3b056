//! Live updates (MISSION P8): the store's feed of ticket changes, followed and told to
//! whoever listens in this process (the portal's open request pages). The feed is written
//! by the database itself (triggers), so a change made by any process — the mail path, the
//! CLI, another node — reaches every node's pages; no process's memory is the source.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::App;

/// How often the feed is read.
pub const POLL_EVERY: Duration = Duration::from_millis(300);

/// How long the feed keeps a change: long enough for a page that lost its connection to
/// catch up (it asks for comments after the last it has, not for changes).
pub const KEEP: Duration = Duration::from_secs(3600);

/// At most this many changes are read at once.
const BATCH: i64 = 1000;

/// Follows the store's feed of ticket changes from now on and sends each changed ticket to
/// [`App::changes`], until `shutdown`. A failing read is logged and tried again.
pub async fn follow(app: std::sync::Arc<App>, shutdown: CancellationToken) {
    let mut last = None;
    loop {
        if let Err(e) = read(&app, &mut last).await {
            warn!(error = %e, "reading the feed of ticket changes failed; trying again");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

async fn read(app: &App, last: &mut Option<i64>) -> Result<(), crate::store::StoreError> {
    let mut db = app.store.conn().await?;
    let Some(after) = *last else {
        *last = Some(db.last_ticket_change().await?);
        return Ok(());
    };
    let changes = db.ticket_changes_after(after, BATCH).await?;
    db.release().await;
    let mut told = Vec::new();
    for (id, ticket) in changes {
        *last = Some(id);
        if !told.contains(&ticket) {
            told.push(ticket);
            // No one listening is no error.
            let _ = app.changes.send(ticket);
        }
    }
    Ok(())
}

/// Forgets changes older than [`KEEP`]; housekeeping calls it.
pub async fn trim(app: &App) {
    let before = crate::store::now().saturating_sub(KEEP.as_secs() as i64);
    let trimmed = async { app.store.conn().await?.trim_ticket_changes(before).await };
    if let Err(e) = trimmed.await {
        warn!(error = %e, "trimming the feed of ticket changes failed; trying again later");
    }
}
