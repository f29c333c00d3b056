//! Invitations to the portal: one per contact, with a token stored only as a hash.

use super::{Conn, Result, now, on_conn};
use crate::domain::ContactId;

impl Conn {
    /// Creates the invitation of `contact_id` unless it has one; returns its id when new.
    pub async fn create_invite(&mut self, contact_id: ContactId) -> Result<Option<i64>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO invites (contact_id, created_at) VALUES ($1, $2)
                 ON CONFLICT (contact_id) DO NOTHING RETURNING id")
            .bind(contact_id).bind(at).fetch_optional(&mut *c).await?))
    }
}

impl Conn {
    /// Gives invitation `id` a new token (by its hash), valid until `expires_at`; any
    /// earlier token stops working. Returns false when the invitation was used already.
    pub async fn set_invite_token(&mut self, id: i64, token_hash: &str, expires_at: i64) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query(
                "UPDATE invites SET token_hash = $1, expires_at = $2 WHERE id = $3 AND used_at IS NULL")
            .bind(token_hash).bind(expires_at).bind(id).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }
}

impl Conn {
    /// Uses the invitation whose token hashes to `token_hash`: returns its contact when it
    /// exists, has not expired and was not used — and marks it used, so it works once.
    pub async fn redeem_invite(&mut self, token_hash: &str) -> Result<Option<ContactId>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "UPDATE invites SET used_at = $1
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at >= $1 RETURNING contact_id")
            .bind(at).bind(token_hash).fetch_optional(&mut *c).await?))
    }
}

impl Conn {
    /// The contact of the unused, unexpired invitation whose token hashes to `token_hash`,
    /// without using it (to show the sign-up page its link opens).
    pub async fn peek_invite(&mut self, token_hash: &str) -> Result<Option<ContactId>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT contact_id FROM invites WHERE token_hash = $1 AND used_at IS NULL AND expires_at >= $2")
            .bind(token_hash).bind(at).fetch_optional(&mut *c).await?))
    }
}
