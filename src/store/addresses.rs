//! What we know about addresses we send to: which ones bounce, and how much automatic mail
//! each got recently.

use super::{Conn, Result, now, on_conn};
use crate::domain::TicketNumber;
use crate::notice::NoticeKind;

/// What [`Conn::automatic_mail_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutomaticMailRecord {
    /// Mail to the address fails for good.
    pub bouncing: bool,
    /// Notifications of the kinds asked for queued to the address.
    pub to_recipient: i64,
    /// Notifications of the kinds asked for queued about the ticket.
    pub about_ticket: i64,
    /// Notifications of the kinds asked for queued to anyone, counted up to the cap asked for.
    pub to_anyone: i64,
}

impl Conn {
    /// Records that mail to `address` fails for good.
    pub async fn mark_bouncing(&mut self, address: &str, reason: &str) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query(
                "INSERT INTO bouncing_addresses (address, reason, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, updated_at = excluded.updated_at")
            .bind(address).bind(reason).bind(at).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Forgets that mail to `address` bounced (its owner wrote to us again); returns
    /// whether it was marked.
    pub async fn clear_bouncing(&mut self, address: &str) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("DELETE FROM bouncing_addresses WHERE address = $1")
            .bind(address).execute(&mut *c).await?.rows_affected());
        Ok(n > 0)
    }

    /// Whether we sent `recipient` one of the mails with `message_ids` (a bounce that
    /// quotes one of them is about our mail, not a forgery naming anyone).
    pub async fn sent_to(&mut self, recipient: &str, message_ids: &[String]) -> Result<bool> {
        if message_ids.is_empty() {
            return Ok(false);
        }
        // Only placeholders go into the text.
        let list = (2..2 + message_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND message_id IN ({list})");
        let n: i64 = on_conn!(self, c => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(recipient);
            for id in message_ids {
                q = q.bind(id.as_str());
            }
            q.fetch_one(&mut *c).await?
        });
        Ok(n > 0)
    }

    /// Whether mail to `address` is known to bounce.
    pub async fn is_bouncing(&mut self, address: &str) -> Result<bool> {
        let found: Option<String> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT address FROM bouncing_addresses WHERE address = $1")
            .bind(address).fetch_optional(&mut *c).await?);
        Ok(found.is_some())
    }

    /// What loop protection needs to know before automatic mail about `ticket` goes to
    /// `recipient`, in one read: whether the address bounces, and how many notifications of
    /// the given kinds were queued since `since` to it, about the ticket, and to anyone
    /// (counted only up to `cap`, so the count costs at most that many index entries).
    pub async fn automatic_mail_record(
        &mut self,
        recipient: &str,
        ticket: Option<TicketNumber>,
        kinds: &[NoticeKind],
        since: i64,
        cap: i64,
    ) -> Result<AutomaticMailRecord> {
        let kinds_list = (5..5 + kinds.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let kinds_list = if kinds.is_empty() { "NULL".to_string() } else { kinds_list };
        // Only placeholders go into the text.
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM bouncing_addresses WHERE address = $1),
                    (SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at >= $3 AND kind IN ({kinds_list})),
                    (SELECT COUNT(*) FROM outbox WHERE ticket_id = $2 AND created_at >= $3 AND kind IN ({kinds_list})),
                    (SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE kind IN ({kinds_list}) AND created_at >= $3
                                           LIMIT $4) AS recent)"
        );
        let (bouncing, to_recipient, about_ticket, to_anyone): (i64, i64, i64, i64) = on_conn!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(recipient).bind(ticket).bind(since).bind(cap);
            for kind in kinds {
                q = q.bind(kind.as_str());
            }
            q.fetch_one(&mut *c).await?
        });
        Ok(AutomaticMailRecord { bouncing: bouncing > 0, to_recipient, about_ticket, to_anyone })
    }
}

impl Conn {
    /// Addresses known to bounce, with why.
    pub async fn bouncing_addresses(&mut self) -> Result<Vec<(String, String)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (String, String)>(
                "SELECT address, reason FROM bouncing_addresses ORDER BY address")
            .fetch_all(&mut *c).await?))
    }
}
