//! Rows about IMAP mailboxes: where each one's sync stands.

use super::{Result, Store, now, on_pool};

impl Store {
    /// The UIDVALIDITY and last UID done of `mailbox`, if it was ever synced.
    pub async fn imap_state(&self, mailbox: &str) -> Result<Option<(i64, i64)>> {
        Ok(on_pool!(self, p => sqlx::query_as::<_, (i64, i64)>(
                "SELECT uid_validity, last_uid FROM imap_state WHERE mailbox = $1")
            .bind(mailbox).fetch_optional(p).await?))
    }

    /// Records that `mailbox` is done up to `last_uid` under `uid_validity`.
    pub async fn set_imap_state(&self, mailbox: &str, uid_validity: i64, last_uid: i64) -> Result<()> {
        let at = now();
        on_pool!(self, p => sqlx::query(
                "INSERT INTO imap_state (mailbox, uid_validity, last_uid, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity,
                    last_uid = excluded.last_uid, updated_at = excluded.updated_at")
            .bind(mailbox).bind(uid_validity).bind(last_uid).bind(at).execute(p).await?.rows_affected());
        Ok(())
    }
}
