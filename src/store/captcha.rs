//! Captcha challenges already answered: each id once, until its challenge expires. What a
//! challenge is and whether its answer is right is `desk::captcha`'s business; this only
//! remembers which were used.

use super::{Conn, Result, on_conn};

impl Conn {
    /// Records that challenge `id`, valid until `expires_at` (Unix seconds), was used: true
    /// the first time, false on a replay. One statement, so of two requests racing with the
    /// same solution exactly one sees true, on any node.
    pub async fn use_captcha(&mut self, id: &str, expires_at: i64) -> Result<bool> {
        let inserted = on_conn!(self, c => sqlx::query(
                "INSERT INTO captchas_used (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(id).bind(expires_at).execute(&mut *c).await?.rows_affected());
        Ok(inserted == 1)
    }

    /// Forgets the used challenges that expired before `now` (Unix seconds); returns how
    /// many.
    pub async fn sweep_captchas(&mut self, now: i64) -> Result<u64> {
        Ok(on_conn!(self, c => sqlx::query("DELETE FROM captchas_used WHERE expires_at < $1")
            .bind(now).execute(&mut *c).await?.rows_affected()))
    }
}
