//! Rows of portal accounts: the account of a contact, its sessions, its one-time tokens
//! (address verification, password reset) and the attempt counters of rate limits. Every
//! secret is stored as a SHA-256 hash only; which rows to write is desk's business.

use super::{Conn, Result, now, on_conn};
use crate::domain::{ContactId, CustomerNotify, OrganisationId, TokenPurpose};

/// A contact's account, with what log-in needs of the contact.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    /// The contact.
    pub contact_id: ContactId,
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// Which notifications they want.
    pub notify: CustomerNotify,
    /// The argon2id hash of their password (PHC string).
    pub password_hash: String,
    /// The password was generated: it must be changed before anything else.
    pub must_change: bool,
    /// When the address was verified; none for a sign-up not yet verified.
    pub verified_at: Option<i64>,
    /// Whether the account may log in.
    pub active: bool,
    /// When the password was last set, Unix seconds.
    pub password_changed_at: i64,
    /// Their organisation, if any.
    pub organisation_id: Option<OrganisationId>,
    /// Whether they are a primary contact of it.
    pub is_primary: bool,
}

/// A session, found by the hash of its id.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct SessionRow {
    /// Whose it is.
    pub contact_id: ContactId,
    /// When it began, Unix seconds.
    pub created_at: i64,
    /// When it was last used, Unix seconds (recorded at most once a minute).
    pub seen_at: i64,
}

/// An open one-time token of an account (reset, verification).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    /// Whose it is.
    pub contact_id: ContactId,
    /// The name given at a sign-up, kept until the address is proved.
    pub name: Option<String>,
}

/// The columns of [`AccountRow`]; `concat!` it with a WHERE clause.
macro_rules! account_select {
    () => {
        "SELECT a.contact_id, c.email, c.name, c.notify, a.password_hash, a.must_change,
            a.verified_at, a.active, a.password_changed_at, c.organisation_id, c.is_primary
         FROM accounts a JOIN contacts c ON c.id = a.contact_id"
    };
}

impl Conn {
    /// The account of the contact with address `email`, if there is one.
    pub async fn account_by_email(&mut self, email: &str) -> Result<Option<AccountRow>> {
        const SQL: &str = concat!(account_select!(), " WHERE c.email = $1");
        Ok(on_conn!(self, c => sqlx::query_as::<_, AccountRow>(SQL)
            .bind(email).fetch_optional(&mut *c).await?))
    }

    /// The account of `contact`, if there is one.
    pub async fn account(&mut self, contact: ContactId) -> Result<Option<AccountRow>> {
        const SQL: &str = concat!(account_select!(), " WHERE a.contact_id = $1");
        Ok(on_conn!(self, c => sqlx::query_as::<_, AccountRow>(SQL)
            .bind(contact).fetch_optional(&mut *c).await?))
    }

    /// Creates the account of `contact` unless it has one; returns whether it was created.
    pub async fn create_account(
        &mut self,
        contact: ContactId,
        password_hash: &str,
        must_change: bool,
        verified: bool,
    ) -> Result<bool> {
        let at = now();
        let verified_at = verified.then_some(at);
        let n = on_conn!(self, c => sqlx::query(
                "INSERT INTO accounts (contact_id, password_hash, must_change, verified_at, active, created_at,
                                       password_changed_at)
                 VALUES ($1, $2, $3, $4, TRUE, $5, $5) ON CONFLICT (contact_id) DO NOTHING")
            .bind(contact).bind(password_hash).bind(must_change).bind(verified_at).bind(at)
            .execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// Sets the password of `contact`'s account (its hash), and whether it must be changed
    /// at the next log-in.
    pub async fn set_password(&mut self, contact: ContactId, password_hash: &str, must_change: bool) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query(
                "UPDATE accounts SET password_hash = $1, must_change = $2, password_changed_at = $3
                 WHERE contact_id = $4")
            .bind(password_hash).bind(must_change).bind(at).bind(contact).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Lets `contact`'s account log in again (`active`) or not; returns whether it has one.
    pub async fn set_account_active(&mut self, contact: ContactId, active: bool) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("UPDATE accounts SET active = $1 WHERE contact_id = $2")
            .bind(active).bind(contact).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// The notification preference of the contact with address `email`, if known.
    pub async fn customer_notify(&mut self, email: &str) -> Result<Option<CustomerNotify>> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT notify FROM contacts WHERE email = $1")
            .bind(email).fetch_optional(&mut *c).await?))
    }

    /// Sets the name and notification preference of `contact`.
    pub async fn set_profile(&mut self, contact: ContactId, name: &str, notify: CustomerNotify) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE contacts SET name = $1, notify = $2 WHERE id = $3")
            .bind(name).bind(notify).bind(contact).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Records a new session of `contact` under the hash of its id.
    pub async fn insert_session(&mut self, id_hash: &str, contact: ContactId) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query(
                "INSERT INTO sessions (id_hash, contact_id, created_at, seen_at) VALUES ($1, $2, $3, $3)")
            .bind(id_hash).bind(contact).bind(at).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// The session whose id hashes to `id_hash`, if there is one.
    pub async fn session(&mut self, id_hash: &str) -> Result<Option<SessionRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, SessionRow>(
                "SELECT contact_id, created_at, seen_at FROM sessions WHERE id_hash = $1")
            .bind(id_hash).fetch_optional(&mut *c).await?))
    }

    /// Records that the session was used at `at`.
    pub async fn touch_session(&mut self, id_hash: &str, at: i64) -> Result<()> {
        on_conn!(self, c => sqlx::query("UPDATE sessions SET seen_at = $1 WHERE id_hash = $2")
            .bind(at).bind(id_hash).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Ends the session whose id hashes to `id_hash`.
    pub async fn delete_session(&mut self, id_hash: &str) -> Result<()> {
        on_conn!(self, c => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Ends every session of `contact` but the one whose id hashes to `keep` (if given);
    /// returns how many ended.
    pub async fn delete_sessions_of(&mut self, contact: ContactId, keep: Option<&str>) -> Result<u64> {
        Ok(on_conn!(self, c => sqlx::query(
                "DELETE FROM sessions WHERE contact_id = $1 AND ($2 IS NULL OR id_hash <> $2)")
            .bind(contact).bind(keep).execute(&mut *c).await?.rows_affected()))
    }

    /// Records a one-time token (by its hash) of `purpose` for `contact`, valid until
    /// `expires_at`, with the `name` given at a sign-up.
    pub async fn insert_account_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        contact: ContactId,
        expires_at: i64,
        name: Option<&str>,
    ) -> Result<()> {
        on_conn!(self, c => sqlx::query(
                "INSERT INTO account_tokens (token_hash, purpose, contact_id, expires_at, name)
                 VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash).bind(purpose).bind(contact).bind(expires_at).bind(name)
            .execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// The unused, unexpired token of `purpose` hashing to `token_hash`, without using it
    /// (to show the page the link opens).
    pub async fn peek_account_token(&mut self, token_hash: &str, purpose: TokenPurpose) -> Result<Option<TokenRow>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_as::<_, TokenRow>(
                "SELECT contact_id, name FROM account_tokens
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at >= $3")
            .bind(token_hash).bind(purpose).bind(at).fetch_optional(&mut *c).await?))
    }

    /// Uses the token of `purpose` hashing to `token_hash`: its contact when it exists, has
    /// not expired and was not used — and marks it used, so it works once.
    pub async fn redeem_account_token(&mut self, token_hash: &str, purpose: TokenPurpose) -> Result<Option<ContactId>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "UPDATE account_tokens SET used_at = $1
                 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at >= $1
                 RETURNING contact_id")
            .bind(at).bind(token_hash).bind(purpose).fetch_optional(&mut *c).await?))
    }

    /// Voids every open token of `purpose` of `contact` (a password change voids open
    /// reset links).
    pub async fn void_account_tokens(&mut self, contact: ContactId, purpose: TokenPurpose) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query(
                "UPDATE account_tokens SET used_at = $1 WHERE contact_id = $2 AND purpose = $3 AND used_at IS NULL")
            .bind(at).bind(contact).bind(purpose).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Counts one attempt under `bucket` in the window starting at `window_start`;
    /// returns the attempts of that window, this one included.
    pub async fn hit(&mut self, bucket: &str, window_start: i64) -> Result<i64> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
                 RETURNING hits")
            .bind(bucket).bind(window_start).fetch_one(&mut *c).await?))
    }

    /// The attempts counted under `bucket` in the window starting at `window_start`.
    pub async fn hits(&mut self, bucket: &str, window_start: i64) -> Result<i64> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT COALESCE(MAX(hits), 0) FROM rate_limits WHERE bucket = $1 AND window_start = $2")
            .bind(bucket).bind(window_start).fetch_one(&mut *c).await?))
    }

    /// Forgets windows of rate limits that began before `before`, sessions idle since
    /// `idle_before` or begun before `created_before`, and tokens expired before `before`.
    pub async fn sweep_accounts(&mut self, before: i64, idle_before: i64, created_before: i64) -> Result<u64> {
        let mut n = 0;
        n += on_conn!(self, c => sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(before).execute(&mut *c).await?.rows_affected());
        n += on_conn!(self, c => sqlx::query("DELETE FROM sessions WHERE seen_at < $1 OR created_at < $2")
            .bind(idle_before).bind(created_before).execute(&mut *c).await?.rows_affected());
        n += on_conn!(self, c => sqlx::query("DELETE FROM account_tokens WHERE expires_at < $1")
            .bind(before).execute(&mut *c).await?.rows_affected());
        Ok(n)
    }
}
