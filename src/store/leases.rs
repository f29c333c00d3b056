//! Leases: which node works a mailbox now, when several `maildesk serve` share one
//! database. One row per name; the holder renews it before it expires; another holder takes
//! it only once it has expired, and every change of hands raises its generation. A write
//! made on a lease's behalf checks, in its own transaction, that the lease is still held at
//! the generation the writer took it with (fencing): a node paused past its lease, or cut
//! off, writes nothing more once another has the lease. Times are the database's clock, so
//! that nodes whose clocks differ agree on when a lease ends.

use std::time::Duration;

use super::{Backend, Conn, Result, Tx, on_conn};

/// The database's clock in Unix milliseconds, as SQL of each dialect.
const NOW_MS_SQLITE: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
const NOW_MS_POSTGRES: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// A lease as the table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What it is for, such as `imap:support`.
    pub name: String,
    /// The node holding it (or that held it last).
    pub holder: String,
    /// Raised each time the lease changes hands.
    pub generation: i64,
    /// When it ends unless renewed (Unix milliseconds, the database's clock).
    pub expires_at: i64,
    /// Whether it has ended (by the database's clock when read).
    pub expired: bool,
}

/// A lease as a writer took it: what its writes check, in their own transaction, before
/// they go on (see [`Tx::check_fence`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name, such as `imap:support`.
    pub lease: String,
    /// The node that took it.
    pub holder: String,
    /// The generation it was taken at.
    pub generation: i64,
}

/// `sql` with `{now}` replaced by the database's clock of the connection's dialect (both
/// texts are constants of this module: nothing from outside is in the statement).
fn with_now(backend: Backend, sql: &str) -> String {
    let now = match backend {
        Backend::Sqlite => NOW_MS_SQLITE,
        Backend::Postgres => NOW_MS_POSTGRES,
    };
    sql.replace("{now}", now)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Conn {
    /// Takes lease `name` for `holder` for `ttl`, or renews it if `holder` has it: the
    /// generation it is held at now, or `None` while another holder's lease runs. A lease
    /// that ran out is taken at a new generation, by anyone (its old holder too: what that
    /// holder began under the old generation is fenced off).
    pub async fn acquire_lease(&mut self, name: &str, holder: &str, ttl: Duration) -> Result<Option<i64>> {
        let sql = with_now(
            self.backend(),
            "INSERT INTO leases (name, holder, generation, expires_at) VALUES ($1, $2, 1, {now} + $3)
             ON CONFLICT (name) DO UPDATE SET
                generation = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > {now}
                                  THEN leases.generation ELSE leases.generation + 1 END,
                holder = excluded.holder,
                expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= {now}
             RETURNING generation",
        );
        Ok(on_conn!(self, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name).bind(holder).bind(millis(ttl)).fetch_optional(&mut *c).await?))
    }

    /// Gives lease `name` up if `holder` has it at `generation` (a clean stop): another node
    /// may take it at once. Whether it was given up.
    pub async fn release_lease(&mut self, name: &str, holder: &str, generation: i64) -> Result<bool> {
        let sql = with_now(
            self.backend(),
            "UPDATE leases SET expires_at = {now} WHERE name = $1 AND holder = $2 AND generation = $3",
        );
        Ok(on_conn!(self, c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name).bind(holder).bind(generation).execute(&mut *c).await?.rows_affected())
            > 0)
    }

    /// Ends, at once, the unexpired leases whose holder starts with `prefix` but is not
    /// `holder`: a node restarted after a crash ends those of its earlier runs, to take its
    /// mailboxes back without waiting for them to run out. Only a node sure that no earlier
    /// run of it still works may call this. How many leases it ended.
    pub async fn end_leases_of_others(&mut self, prefix: &str, holder: &str) -> Result<u64> {
        let sql = with_now(
            self.backend(),
            "UPDATE leases SET expires_at = {now}
             WHERE substr(holder, 1, length($1)) = $1 AND holder <> $2 AND expires_at > {now}",
        );
        Ok(on_conn!(self, c => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(prefix).bind(holder).execute(&mut *c).await?.rows_affected()))
    }

    /// How many unexpired leases are named with `counted` (such as the nodes up) and how
    /// many named with `held` `holder` has (such as its mailboxes), by the database's clock.
    pub async fn lease_counts(&mut self, counted: &str, held: &str, holder: &str) -> Result<(i64, i64)> {
        let sql = with_now(
            self.backend(),
            "SELECT COALESCE(SUM(CASE WHEN substr(name, 1, length($1)) = $1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN substr(name, 1, length($2)) = $2 AND holder = $3 THEN 1 ELSE 0 END), 0)
             FROM leases WHERE expires_at > {now}",
        );
        Ok(on_conn!(self, c => sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(counted).bind(held).bind(holder).fetch_one(&mut *c).await?))
    }

    /// Every lease, by name (what the nodes hold, for `maildesk check` and tests).
    pub async fn leases(&mut self) -> Result<Vec<Lease>> {
        let sql = with_now(
            self.backend(),
            "SELECT name, holder, generation, expires_at, CASE WHEN expires_at <= {now} THEN 1 ELSE 0 END
             FROM leases ORDER BY name",
        );
        let rows = on_conn!(self, c => sqlx::query_as::<_, (String, String, i64, i64, i32)>(sqlx::AssertSqlSafe(sql.as_str()))
            .fetch_all(&mut *c).await?);
        Ok(rows
            .into_iter()
            .map(|(name, holder, generation, expires_at, expired)| Lease {
                name,
                holder,
                generation,
                expires_at,
                expired: expired != 0,
            })
            .collect())
    }
}

impl Tx {
    /// Goes on only while `fence`'s lease is still held as it was taken: a
    /// [`StoreError::LeaseLost`](super::StoreError::LeaseLost) otherwise, which the caller's
    /// rollback makes a write of nothing (see [`Tx::holds_lease`]).
    pub async fn check_fence(&mut self, fence: &Fence) -> Result<()> {
        if self.holds_lease(&fence.lease, &fence.holder, fence.generation).await? {
            Ok(())
        } else {
            Err(super::StoreError::LeaseLost(fence.lease.clone()))
        }
    }

    /// Whether `holder` still holds lease `name` at `generation`, unexpired: a write made on
    /// the lease's behalf goes on in this transaction only if so. On PostgreSQL the row is
    /// locked until the transaction ends, so the lease cannot change hands before this
    /// transaction's writes are committed; SQLite's transactions are one at a time already.
    pub async fn holds_lease(&mut self, name: &str, holder: &str, generation: i64) -> Result<bool> {
        let lock = match self.conn.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        };
        let sql = with_now(
            self.conn.backend(),
            &format!(
                "SELECT generation FROM leases
                 WHERE name = $1 AND holder = $2 AND generation = $3 AND expires_at > {{now}}{lock}"
            ),
        );
        Ok(on_conn!(self.conn, c => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name).bind(holder).bind(generation).fetch_optional(&mut *c).await?)
        .is_some())
    }
}
