//! Small facts the desk keeps about itself (`settings`: key → text), such as when this
//! version first started.

use super::{Conn, Result, StoreError, on_conn};

/// The key of the first start of the version with 80-bit reply-address MACs (Unix seconds,
/// set by the migration that made the table).
const REPLY_MAC_80_BIT_SINCE: &str = "reply_mac_80_bit_since";

impl Conn {
    /// The value of setting `key`, if set.
    pub async fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
            .bind(key).fetch_optional(&mut *c).await?))
    }

    /// Sets `key` to `value`, replacing what was there.
    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        on_conn!(self, c => sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key).bind(value).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Sets `key` to `value` unless it is set already: the value it holds now (this one, or
    /// the one another process set first).
    pub async fn set_setting_once(&mut self, key: &str, value: &str) -> Result<String> {
        on_conn!(self, c => sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key).bind(value).execute(&mut *c).await?.rows_affected());
        self.setting(key).await?.ok_or_else(|| StoreError::Corrupt(format!("settings.{key} vanished once set")))
    }

    /// When this database was first opened by a version handing out 80-bit reply-address
    /// MACs (Unix seconds); the 48-bit ones stay valid for `desk.reopen_days` after it.
    pub async fn reply_mac_80_bit_since(&mut self) -> Result<Option<i64>> {
        match self.setting(REPLY_MAC_80_BIT_SINCE).await? {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("settings.{REPLY_MAC_80_BIT_SINCE}: {text:?}"))),
        }
    }

    /// Records when 80-bit reply-address MACs began (tests move it into the past).
    pub async fn set_reply_mac_80_bit_since(&mut self, at: i64) -> Result<()> {
        self.set_setting(REPLY_MAC_80_BIT_SINCE, &at.to_string()).await
    }
}
