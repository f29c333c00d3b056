//! Poison marks: the raw messages (by SHA-256) whose interpretation was running long enough
//! to be remembered, with how many attempts were made. Rare rows; desk decides what they mean.

use super::{Conn, Result, Tx, now, on_conn};

impl Conn {
    /// Every poison mark: the raw message's SHA-256 and its attempts so far.
    pub async fn poison_marks(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (String, i64)>(
                "SELECT raw_sha256, attempts FROM poison")
            .fetch_all(&mut *c).await?))
    }

    /// Counts one more attempt at interpreting the raw message `raw_sha256`; returns the
    /// attempts now recorded.
    pub async fn mark_poison(&mut self, raw_sha256: &str) -> Result<i64> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar::<_, i64>(
                "INSERT INTO poison (raw_sha256, attempts, updated_at) VALUES ($1, 1, $2)
                 ON CONFLICT (raw_sha256) DO UPDATE SET attempts = poison.attempts + 1,
                    updated_at = excluded.updated_at
                 RETURNING attempts")
            .bind(raw_sha256).bind(at).fetch_one(&mut *c).await?))
    }

    /// Forgets the poison mark of `raw_sha256` (its interpretation finished normally).
    pub async fn clear_poison(&mut self, raw_sha256: &str) -> Result<()> {
        on_conn!(self, c => sqlx::query("DELETE FROM poison WHERE raw_sha256 = $1")
            .bind(raw_sha256).execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

impl Tx {
    /// Takes back one attempt at interpreting `raw_sha256` (it was in hand at a clean
    /// shutdown), forgetting the mark at none; returns the attempts left.
    pub async fn unmark_poison(&mut self, raw_sha256: &str) -> Result<i64> {
        let left = on_conn!(self.conn, c => {
            let left = sqlx::query_scalar::<_, i64>(
                    "UPDATE poison SET attempts = attempts - 1 WHERE raw_sha256 = $1 RETURNING attempts")
                .bind(raw_sha256).fetch_optional(&mut *c).await?.unwrap_or(0);
            sqlx::query("DELETE FROM poison WHERE raw_sha256 = $1 AND attempts <= 0")
                .bind(raw_sha256).execute(&mut *c).await?;
            left
        });
        Ok(left.max(0))
    }
}
