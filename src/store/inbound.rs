//! Rows about inbound mail: the fingerprints that make each message take effect once,
//! the Message-IDs that thread replies, and the quarantine.

use super::{Conn, Result, on_conn};
use crate::domain::{Source, TicketNumber};

/// A quarantined message, as the CLI lists it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct QuarantineRow {
    /// Quarantine entry id.
    pub id: i64,
    /// The message's fingerprint.
    pub fingerprint: String,
    /// Where it came from.
    pub source: Source,
    /// Why it could not be processed.
    pub reason: String,
    /// Blob holding the raw bytes.
    pub raw_sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// How many times it was delivered.
    pub deliveries: i64,
    /// When it was first quarantined, Unix seconds.
    pub created_at: i64,
}

impl Conn {
    /// Claims `fingerprint` for this transaction. Returns false when the message was
    /// already applied: the caller then changes nothing. Run it first in a transaction,
    /// so concurrent deliveries of one message serialise on it.
    pub async fn claim_fingerprint(
        &mut self,
        fingerprint: &str,
        message_id: Option<&str>,
        source: &Source,
    ) -> Result<bool> {
        let at = self.now();
        let inserted = on_conn!(self, c => sqlx::query(
                "INSERT INTO inbound_messages (fingerprint, message_id, source, outcome, received_at)
                 VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (fingerprint) DO NOTHING")
            .bind(fingerprint).bind(message_id).bind(source).bind(at)
            .execute(&mut *c).await?.rows_affected());
        Ok(inserted == 1)
    }

    /// Records what a claimed message did.
    pub async fn set_outcome(&mut self, fingerprint: &str, outcome: &str, ticket: Option<TicketNumber>) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE inbound_messages SET outcome = $1, ticket_id = $2 WHERE fingerprint = $3")
            .bind(outcome).bind(ticket.map(|t| t.0)).bind(fingerprint).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// The ticket the message of `fingerprint` opened or went to, if any.
    pub async fn ticket_of_fingerprint(&mut self, fingerprint: &str) -> Result<Option<TicketNumber>> {
        let found: Option<Option<i64>> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT ticket_id FROM inbound_messages WHERE fingerprint = $1")
            .bind(fingerprint).fetch_optional(&mut *c).await?);
        Ok(found.flatten().map(TicketNumber))
    }

    /// The ticket that any of `message_ids` belongs to, trying them in order: the ids of
    /// mail that came in (`thread_ids`) and of our own mail (`outbox`), in one read.
    pub async fn ticket_for_message_ids(&mut self, message_ids: &[&str]) -> Result<Option<TicketNumber>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        // Only placeholders go into the text, never the ids themselves.
        let list = (1..=message_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT message_id, ticket_id FROM thread_ids WHERE message_id IN ({list})
             UNION ALL
             SELECT message_id, ticket_id FROM outbox WHERE ticket_id IS NOT NULL AND message_id IN ({list})"
        );
        let found: Vec<(String, i64)> = on_conn!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in message_ids {
                q = q.bind(*id);
            }
            q.fetch_all(&mut *c).await?
        });
        let first = message_ids.iter().find_map(|id| found.iter().find(|(m, _)| m == id));
        Ok(first.map(|(_, t)| TicketNumber(*t)))
    }

    /// Remembers that `message_id` belongs to `ticket`, so replies to it thread there.
    pub async fn add_thread_id(&mut self, message_id: &str, ticket: TicketNumber) -> Result<()> {
        on_conn!(self, c => sqlx::query("INSERT INTO thread_ids (message_id, ticket_id) VALUES ($1, $2)
                                        ON CONFLICT (message_id) DO NOTHING")
            .bind(message_id).bind(ticket.0).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Puts a message into the quarantine (its bytes already in the blob store). A second
    /// delivery of the same message counts up instead of adding a row.
    pub async fn quarantine(
        &mut self,
        fingerprint: &str,
        source: &Source,
        reason: &str,
        raw_sha256: &str,
        size: i64,
    ) -> Result<()> {
        let at = self.now();
        on_conn!(self, c => sqlx::query(
                "INSERT INTO quarantine (fingerprint, source, reason, raw_sha256, size, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (fingerprint) DO UPDATE SET deliveries = quarantine.deliveries + 1")
            .bind(fingerprint).bind(source).bind(reason).bind(raw_sha256).bind(size).bind(at)
            .execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

impl Conn {
    /// The quarantine, newest first.
    pub async fn list_quarantine(&mut self) -> Result<Vec<QuarantineRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, QuarantineRow>(
                "SELECT id, fingerprint, source, reason, raw_sha256, size, deliveries, created_at
                 FROM quarantine ORDER BY id DESC")
            .fetch_all(&mut *c).await?))
    }

    /// Quarantine entry `id`, if it exists.
    pub async fn quarantine_entry(&mut self, id: i64) -> Result<Option<QuarantineRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, QuarantineRow>(
                "SELECT id, fingerprint, source, reason, raw_sha256, size, deliveries, created_at
                 FROM quarantine WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?))
    }

    /// Records why quarantine entry `id` failed most recently.
    pub async fn set_quarantine_reason(&mut self, id: i64, reason: &str) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE quarantine SET reason = $1 WHERE id = $2")
            .bind(reason).bind(id).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Removes quarantine entry `id`; returns false when there was none. The raw bytes stay
    /// in the blob store (other rows may share them).
    pub async fn delete_quarantine(&mut self, id: i64) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("DELETE FROM quarantine WHERE id = $1")
            .bind(id).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// How many inbound messages took effect, by outcome.
    pub async fn inbound_outcomes(&mut self) -> Result<Vec<(String, i64)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (String, i64)>(
                "SELECT outcome, COUNT(*) FROM inbound_messages GROUP BY outcome ORDER BY outcome")
            .fetch_all(&mut *c).await?))
    }
}
