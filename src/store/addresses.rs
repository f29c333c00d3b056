//! What we know about addresses we send to: which ones bounce, and how much automatic mail
//! each got recently.

use super::{Result, Store, Tx, now, on_pool, on_tx};

/// What [`Tx::automatic_mail_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutomaticMailRecord {
    /// Mail to the address fails for good.
    pub bouncing: bool,
    /// Notifications of the kinds asked for queued to the address.
    pub to_recipient: i64,
    /// Notifications of the kinds asked for queued about the ticket.
    pub about_ticket: i64,
}

impl Tx {
    /// Records that mail to `address` fails for good.
    pub async fn mark_bouncing(&mut self, address: &str, reason: &str) -> Result<()> {
        let at = now();
        on_tx!(self, c => sqlx::query(
                "INSERT INTO bouncing_addresses (address, reason, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (address) DO UPDATE SET reason = excluded.reason, updated_at = excluded.updated_at")
            .bind(address).bind(reason).bind(at).execute(&mut **c).await?.rows_affected());
        Ok(())
    }

    /// Whether mail to `address` is known to bounce.
    pub async fn is_bouncing(&mut self, address: &str) -> Result<bool> {
        let found: Option<String> = on_tx!(self, c => sqlx::query_scalar(
                "SELECT address FROM bouncing_addresses WHERE address = $1")
            .bind(address).fetch_optional(&mut **c).await?);
        Ok(found.is_some())
    }

    /// What loop protection needs to know before automatic mail about `ticket` goes to
    /// `recipient`, in one read: whether the address bounces, and how many notifications of
    /// the given kinds were queued since `since` to it and about the ticket.
    pub async fn automatic_mail_record(
        &mut self,
        recipient: &str,
        ticket: i64,
        kinds: &[&str],
        since: i64,
    ) -> Result<AutomaticMailRecord> {
        let kinds_list = (4..4 + kinds.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let kinds_list = if kinds.is_empty() { "NULL".to_string() } else { kinds_list };
        // Only placeholders go into the text.
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM bouncing_addresses WHERE address = $1),
                    (SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at >= $3 AND kind IN ({kinds_list})),
                    (SELECT COUNT(*) FROM outbox WHERE ticket_id = $2 AND created_at >= $3 AND kind IN ({kinds_list}))"
        );
        let (bouncing, to_recipient, about_ticket): (i64, i64, i64) = on_tx!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(recipient).bind(ticket).bind(since);
            for kind in kinds {
                q = q.bind(*kind);
            }
            q.fetch_one(&mut **c).await?
        });
        Ok(AutomaticMailRecord { bouncing: bouncing > 0, to_recipient, about_ticket })
    }
}

impl Store {
    /// Records that mail to `address` fails for good (outside any other change).
    pub async fn mark_bouncing(&self, address: &str, reason: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.mark_bouncing(address, reason).await?;
        tx.commit().await
    }

    /// Addresses known to bounce, with why.
    pub async fn bouncing_addresses(&self) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, p => sqlx::query_as::<_, (String, String)>(
                "SELECT address, reason FROM bouncing_addresses ORDER BY address")
            .fetch_all(p).await?))
    }
}
