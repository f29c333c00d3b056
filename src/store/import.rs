//! Rows of `maildesk import`: how far each import of a set of mbox files or Maildirs has
//! come, and closing the old tickets it made at its end.

use super::{Conn, Result, now, on_conn};
use crate::domain::{Source, Status};

/// How far an import has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ImportProgress {
    /// Messages applied (in the import's order), the first ones.
    pub done: i64,
    /// Messages in the import.
    pub total: i64,
    /// When it finished, Unix seconds; none while it has not.
    pub finished_at: Option<i64>,
}

impl Conn {
    /// The progress of the import `key`, started now (at 0 of `total`) when it is new.
    pub async fn begin_import(&mut self, key: &str, sources: &str, total: i64) -> Result<ImportProgress> {
        let at = now();
        on_conn!(self, c => {
            sqlx::query("INSERT INTO imports (key, sources, total, started_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (key) DO NOTHING")
                .bind(key).bind(sources).bind(total).bind(at).execute(&mut *c).await?;
            Ok(sqlx::query_as::<_, ImportProgress>("SELECT done, total, finished_at FROM imports WHERE key = $1")
                .bind(key).fetch_one(&mut *c).await?)
        })
    }

    /// Records that the first `done` messages of import `key` are applied (in the
    /// transaction of their effect).
    pub async fn set_import_done(&mut self, key: &str, done: i64) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE imports SET done = $1 WHERE key = $2 AND done < $1")
            .bind(done).bind(key).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Records that import `key` is finished.
    pub async fn finish_import(&mut self, key: &str) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query("UPDATE imports SET finished_at = $1, done = total WHERE key = $2")
            .bind(at).bind(key).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Closes, without telling anyone, every ticket that an import opened and a message of
    /// `sources` went to, unless it is closed already or its latest activity is at or
    /// after `cutoff`: it is closed as of that latest activity. Returns how many.
    pub async fn close_imported_before(&mut self, sources: &[Source], cutoff: i64) -> Result<u64> {
        if sources.is_empty() {
            return Ok(0);
        }
        // Only placeholders go into the text, never the names themselves.
        let list = (4..4 + sources.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE tickets SET status = $1, status_changed_at = updated_at, awaiting_since = NULL
             WHERE status <> $1 AND updated_at < $2
               AND id IN (SELECT ticket_id FROM inbound_messages WHERE source IN ({list}) AND ticket_id IS NOT NULL)
               AND id IN (SELECT ticket_id FROM inbound_messages WHERE outcome = 'opened' AND source LIKE $3)"
        );
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Status::Closed).bind(cutoff).bind("import:%");
            for source in sources {
                q = q.bind(source);
            }
            q.execute(&mut *c).await?.rows_affected()
        }))
    }
}
