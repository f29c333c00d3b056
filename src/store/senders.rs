//! The sender blocklist: addresses and domains whose mail is recorded but neither ticketed
//! nor answered.

use super::{Result, Store, Tx, now, on_pool, on_tx};
use crate::domain::EmailAddress;

/// One entry of the blocklist.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct BlockedSender {
    /// A lower-cased address, or `@domain` for a whole domain.
    pub pattern: String,
    /// When it was blocked, Unix seconds.
    pub created_at: i64,
}

impl Tx {
    /// Whether mail from `address` is blocked, by its address or its domain.
    pub async fn is_blocked(&mut self, address: &EmailAddress) -> Result<bool> {
        let domain = format!("@{}", address.domain().to_ascii_lowercase());
        let found: Option<String> = on_tx!(self, c => sqlx::query_scalar(
                "SELECT pattern FROM blocked_senders WHERE pattern = $1 OR pattern = $2 LIMIT 1")
            .bind(address.as_str()).bind(domain).fetch_optional(&mut **c).await?);
        Ok(found.is_some())
    }
}

impl Store {
    /// Adds `pattern` (an address, or `@domain`) to the blocklist; false when it was there.
    pub async fn block_sender(&self, pattern: &str) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query(
                "INSERT INTO blocked_senders (pattern, created_at) VALUES ($1, $2) ON CONFLICT (pattern) DO NOTHING")
            .bind(pattern).bind(now()).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Removes `pattern` from the blocklist; false when it was not there.
    pub async fn unblock_sender(&self, pattern: &str) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query("DELETE FROM blocked_senders WHERE pattern = $1")
            .bind(pattern).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// The blocklist, in order.
    pub async fn blocked_senders(&self) -> Result<Vec<BlockedSender>> {
        Ok(on_pool!(self, p => sqlx::query_as::<_, BlockedSender>(
                "SELECT pattern, created_at FROM blocked_senders ORDER BY pattern")
            .fetch_all(p).await?))
    }
}
