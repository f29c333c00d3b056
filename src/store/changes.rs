//! The feed of ticket changes (`ticket_changes`, kept by triggers on comments and ticket
//! statuses): what live pages follow, whichever process made the change.

use super::{Conn, Result, on_conn};
use crate::domain::TicketNumber;

impl Conn {
    /// The newest change's id (0 when there is none): where a follower starts.
    pub async fn last_ticket_change(&mut self) -> Result<i64> {
        let last: Option<i64> = on_conn!(self, c => sqlx::query_scalar("SELECT MAX(id) FROM ticket_changes")
            .fetch_one(&mut *c).await?);
        Ok(last.unwrap_or(0))
    }

    /// The changes after `after`, oldest first, at most `limit`: (id, ticket).
    pub async fn ticket_changes_after(&mut self, after: i64, limit: i64) -> Result<Vec<(i64, TicketNumber)>> {
        let rows: Vec<(i64, i64)> = on_conn!(self, c => sqlx::query_as(
                "SELECT id, ticket_id FROM ticket_changes WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after).bind(limit).fetch_all(&mut *c).await?);
        Ok(rows.into_iter().map(|(id, t)| (id, TicketNumber(t))).collect())
    }

    /// Forgets the changes made before `before` (Unix seconds); returns how many.
    pub async fn trim_ticket_changes(&mut self, before: i64) -> Result<u64> {
        Ok(on_conn!(self, c => sqlx::query("DELETE FROM ticket_changes WHERE at < $1")
            .bind(before).execute(&mut *c).await?.rows_affected()))
    }
}
