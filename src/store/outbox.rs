//! The outbox table: notifications written in the same transaction as the change that
//! caused them, claimed and marked by the sender.

use super::{Conn, Result, Store, Tx, now, on_conn};
use crate::domain::TicketNumber;

/// A notification to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxRow<'a> {
    /// Template kind, such as `acknowledgement`.
    pub kind: &'a str,
    /// The ticket it is about.
    pub ticket: Option<TicketNumber>,
    /// The one recipient's address.
    pub recipient: &'a str,
    /// Our Message-ID for it, without brackets.
    pub message_id: &'a str,
    /// The Message-ID it answers.
    pub in_reply_to: Option<&'a str>,
    /// The References chain, without brackets.
    pub references: &'a [String],
    /// JSON for the template.
    pub payload: &'a str,
    /// The From address, when not the desk's own (a department's address).
    pub sender: Option<&'a str>,
    /// Files sent along, as JSON (see the `outbox.attachments` column).
    pub attachments: Option<&'a str>,
}

/// A queued notification, as the sender reads it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Template kind.
    pub kind: String,
    /// The ticket it is about.
    pub ticket_id: Option<TicketNumber>,
    /// Recipient address.
    pub recipient: String,
    /// Our Message-ID, without brackets.
    pub message_id: String,
    /// The Message-ID it answers.
    pub in_reply_to: Option<String>,
    /// Space-separated References, without brackets.
    pub refs: String,
    /// JSON for the template.
    pub payload: String,
    /// pending, sent or failed.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Last error, if any.
    pub last_error: Option<String>,
    /// The From address, when not the desk's own.
    pub sender: Option<String>,
    /// Files sent along, as JSON: `[{"sha256", "filename", "content_type"}]`.
    pub attachments: Option<String>,
}

impl Conn {
    /// Marks a notification sent in this transaction.
    pub async fn mark_sent(&mut self, id: i64) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query("UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
            .bind(at).bind(id).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Queues a notification in this transaction.
    pub async fn enqueue(&mut self, row: &NewOutboxRow<'_>) -> Result<i64> {
        let at = now();
        let refs = row.references.join(" ");
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO outbox (kind, ticket_id, recipient, message_id, in_reply_to, refs, payload,
                                     state, next_attempt_at, created_at, sender, attachments)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9, $10) RETURNING id")
            .bind(row.kind).bind(row.ticket.map(|t| t.0)).bind(row.recipient).bind(row.message_id)
            .bind(row.in_reply_to).bind(&refs).bind(row.payload).bind(at).bind(row.sender).bind(row.attachments)
            .fetch_one(&mut *c).await?))
    }
}

/// The columns of [`OutboxRow`]; `concat!` it with a WHERE or ORDER clause.
macro_rules! outbox_select {
    () => {
        "SELECT id, kind, ticket_id, recipient, message_id, in_reply_to, refs, payload, state, attempts, last_error, sender, attachments FROM outbox"
    };
}

impl Conn {
    /// Pending notifications whose time has come, oldest first, at most `limit`.
    pub async fn due_outbox(&mut self, limit: i64) -> Result<Vec<OutboxRow>> {
        let at = now();
        const SQL: &str =
            concat!(outbox_select!(), " WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2");
        Ok(on_conn!(self, c => sqlx::query_as::<_, OutboxRow>(SQL).bind(at).bind(limit).fetch_all(&mut *c).await?))
    }

    /// Whether the database answers.
    pub async fn ping(&mut self) -> Result<()> {
        on_conn!(self, c => sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ())?);
        Ok(())
    }

    /// How many notifications wait to be sent, and when the oldest of them was queued
    /// (Unix seconds), for the metrics.
    pub async fn outbox_pending(&mut self) -> Result<(i64, Option<i64>)> {
        const SQL: &str = "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE state = 'pending'";
        Ok(on_conn!(self, c => sqlx::query_as::<_, (i64, Option<i64>)>(SQL).fetch_one(&mut *c).await?))
    }

    /// Every outbox row, newest first (for the CLI and tests).
    pub async fn list_outbox(&mut self) -> Result<Vec<OutboxRow>> {
        const SQL: &str = concat!(outbox_select!(), " ORDER BY id DESC");
        Ok(on_conn!(self, c => sqlx::query_as::<_, OutboxRow>(SQL).fetch_all(&mut *c).await?))
    }

    /// Claims a due notification for `lease_secs`: true when this caller may send it now.
    /// Another sender (another node) that read the same row finds it claimed; a sender that
    /// dies holding a claim leaves the row due again when the lease runs out.
    pub async fn claim_outbox(&mut self, id: i64, lease_secs: i64) -> Result<bool> {
        let at = now();
        let claimed = on_conn!(self, c => sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at <= $3")
            .bind(at + lease_secs).bind(id).bind(at).execute(&mut *c).await?.rows_affected());
        Ok(claimed == 1)
    }

    /// Claims up to `limit` due notifications at once for `lease_secs` (see
    /// [`Conn::claim_outbox`]) and returns them, oldest first.
    pub async fn claim_due(&mut self, limit: i64, lease_secs: i64) -> Result<Vec<OutboxRow>> {
        let at = now();
        // The conditions are repeated outside the subquery so that a concurrent claimer
        // (PostgreSQL re-checks them on the newest row) never takes a row twice.
        const SQL: &str = "UPDATE outbox SET next_attempt_at = $1
             WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $2 ORDER BY id LIMIT $3)
               AND state = 'pending' AND next_attempt_at <= $2
             RETURNING id, kind, ticket_id, recipient, message_id, in_reply_to, refs, payload, state, attempts,
                       last_error, sender, attachments";
        let mut rows = on_conn!(self, c => sqlx::query_as::<_, OutboxRow>(SQL)
            .bind(at + lease_secs).bind(at).bind(limit).fetch_all(&mut *c).await?);
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// Records a failed attempt: retried at `retry_at` (Unix seconds), or given up on
    /// (state `failed`) when `retry_at` is `None`.
    pub async fn mark_attempt_failed(&mut self, id: i64, error: &str, retry_at: Option<i64>) -> Result<()> {
        let (state, next) = match retry_at {
            Some(t) => ("pending", t),
            None => ("failed", now()),
        };
        on_conn!(self, c => sqlx::query("UPDATE outbox SET state = $1, next_attempt_at = $2, attempts = attempts + 1, last_error = $3 WHERE id = $4")
            .bind(state).bind(next).bind(error).bind(id).execute(&mut *c).await?.rows_affected());
        Ok(())
    }
}

impl Tx {
    /// Marks notifications sent, with one commit for the batch.
    pub async fn mark_sent_many(&mut self, ids: &[i64]) -> Result<()> {
        for id in ids {
            self.mark_sent(*id).await?;
        }
        Ok(())
    }
}

/// The channel on which PostgreSQL tells of queued mail (migration 0023's trigger).
const OUTBOX_CHANNEL: &str = "maildesk_outbox";

/// Hears of mail queued by any node of those sharing a PostgreSQL database, once its
/// transaction committed (see [`Store::listen_outbox`]).
#[derive(Debug)]
pub struct OutboxListener(sqlx::postgres::PgListener);

impl OutboxListener {
    /// Waits until mail was queued. A lost connection is an error; the next call connects
    /// again (what was queued meanwhile is found by the sender's poll).
    pub async fn queued(&mut self) -> Result<()> {
        self.0.recv().await?;
        Ok(())
    }
}

impl Store {
    /// Listens for mail queued by any node: `None` on SQLite, whose one node's sender is
    /// woken in-process. The listener holds one of the pool's connections.
    pub async fn listen_outbox(&self) -> Result<Option<OutboxListener>> {
        match &self.db {
            super::Db::Sqlite(_) => Ok(None),
            super::Db::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(OUTBOX_CHANNEL).await?;
                Ok(Some(OutboxListener(listener)))
            }
        }
    }
}
