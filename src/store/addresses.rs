//! What we know about addresses we send to: which ones bounce, and how much automatic mail
//! each got recently.

use super::{Result, Store, Tx, now, on_pool, on_tx};

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

    /// How many notifications of the given kinds were queued about `ticket` since `since`
    /// (Unix seconds).
    pub async fn recent_mail_about(&mut self, ticket: i64, kinds: &[&str], since: i64) -> Result<i64> {
        // One indexed read of the ticket's recent mail, counted here: fewer round trips
        // than a count per kind.
        let recent: Vec<String> = on_tx!(self, c => sqlx::query_scalar(
                "SELECT kind FROM outbox WHERE ticket_id = $1 AND created_at >= $2")
            .bind(ticket).bind(since).fetch_all(&mut **c).await?);
        Ok(recent.iter().filter(|k| kinds.contains(&k.as_str())).count() as i64)
    }

    /// How many notifications of the given kinds were queued for `recipient` since `since`
    /// (Unix seconds).
    pub async fn recent_mail_to(&mut self, recipient: &str, kinds: &[&str], since: i64) -> Result<i64> {
        let recent: Vec<String> = on_tx!(self, c => sqlx::query_scalar(
                "SELECT kind FROM outbox WHERE recipient = $1 AND created_at >= $2")
            .bind(recipient).bind(since).fetch_all(&mut **c).await?);
        Ok(recent.iter().filter(|k| kinds.contains(&k.as_str())).count() as i64)
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
