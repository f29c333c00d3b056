//! Whether the daemon is ready to work (`/readyz`): the database answers, and every part
//! that says how it is doing (sources, sender, portal) is up.

use std::time::Duration;

use crate::App;

/// How long the database gets to answer.
const DATABASE_WAIT: Duration = Duration::from_secs(2);

/// Ok when ready; else what is not, one line each.
pub async fn check(app: &App) -> Result<(), Vec<String>> {
    let mut missing = Vec::new();
    let answered = tokio::time::timeout(DATABASE_WAIT, async { app.store.conn().await?.ping().await }).await;
    match answered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => missing.push(format!("database: {e}")),
        Err(_) => missing.push(format!("database: no answer within {} s", DATABASE_WAIT.as_secs())),
    }
    missing.extend(app.health.not_up());
    match missing.is_empty() {
        true => Ok(()),
        false => Err(missing),
    }
}
