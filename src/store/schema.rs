//! Where a database's schema stands against the migrations built into this binary, read
//! without changing anything: no file is created, no migration applied, no lock taken.
//! `maildesk check` reports it; `Store::open` is what brings a schema up to date.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{APPLIED_SQL, Applied, POSTGRES_MIGRATIONS, Result, SQLITE_MIGRATIONS, StoreError};

/// What a database holds of the embedded migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// Whether the database exists (a SQLite file that is missing does not; it is made at
    /// the first start).
    pub exists: bool,
    /// How many of the embedded migrations are applied.
    pub applied: usize,
    /// The embedded migrations not applied yet, as `version description`, in order.
    pub pending: Vec<String>,
    /// Applied versions this binary does not know: the database was migrated by a newer
    /// maildesk.
    pub unknown: Vec<i64>,
    /// Applied versions whose recorded checksum differs from the embedded migration's.
    pub changed: Vec<i64>,
    /// Versions recorded as failed (a migration that stopped half-way).
    pub failed: Vec<i64>,
    /// How many migrations this binary embeds.
    pub embedded: usize,
}

/// Reads where the database at `url` stands, within `timeout` for a server to answer.
/// A SQLite file that does not exist is reported as such, not created; SQLite is opened
/// read-only.
pub async fn inspect_schema(url: &str, timeout: Duration) -> Result<SchemaState> {
    if url.starts_with("sqlite:") {
        let connect = SqliteConnectOptions::from_str(url)?.create_if_missing(false).read_only(true);
        let path = connect.get_filename().to_path_buf();
        let name = path.to_string_lossy();
        let in_memory = name.is_empty() || name == ":memory:";
        if !in_memory && !path.exists() {
            return Ok(state("sqlite", false, &SQLITE_MIGRATIONS, Vec::new()));
        }
        // A read-only reader of a WAL database makes the `-wal` and `-shm` files when they
        // are missing, and leaves them. They are missing only when the last connection
        // closed cleanly and nobody writes: then the file alone is the whole database,
        // read as immutable (no locks, no side files).
        let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
        let connect = connect.immutable(!in_memory && !wal.exists());
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(timeout)
            .connect_with(connect.busy_timeout(timeout))
            .await?;
        let read = async {
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(&pool)
            .await?;
            let applied: Applied =
                if tables == 0 { Vec::new() } else { sqlx::query_as(APPLIED_SQL).fetch_all(&pool).await? };
            Ok::<_, StoreError>(applied)
        }
        .await;
        pool.close().await;
        Ok(state("sqlite", true, &SQLITE_MIGRATIONS, read?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let connect = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new().max_connections(1).acquire_timeout(timeout).connect_lazy_with(connect.clone());
        let read = async {
            super::first_postgres_connection(&pool, &connect).await?;
            let present: bool =
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&pool).await?;
            let applied: Applied =
                if present { sqlx::query_as(APPLIED_SQL).fetch_all(&pool).await? } else { Vec::new() };
            Ok::<_, StoreError>(applied)
        }
        .await;
        pool.close().await;
        Ok(state("postgres", true, &POSTGRES_MIGRATIONS, read?))
    } else {
        let scheme = url.split(':').next().unwrap_or_default().to_string();
        Err(StoreError::UnknownScheme(scheme))
    }
}

/// Compares what the database recorded with what `migrator` embeds.
fn state(backend: &'static str, exists: bool, migrator: &sqlx::migrate::Migrator, applied: Applied) -> SchemaState {
    let embedded: Vec<_> = migrator.iter().filter(|m| m.migration_type.is_up_migration()).collect();
    let mut out = SchemaState {
        backend,
        exists,
        applied: 0,
        pending: Vec::new(),
        unknown: Vec::new(),
        changed: Vec::new(),
        failed: Vec::new(),
        embedded: embedded.len(),
    };
    for (version, checksum, success) in &applied {
        if !success {
            out.failed.push(*version);
        }
        match embedded.iter().find(|m| m.version == *version) {
            None => out.unknown.push(*version),
            Some(m) if *m.checksum != checksum[..] => out.changed.push(*version),
            Some(_) if *success => out.applied += 1,
            Some(_) => {}
        }
    }
    out.pending = embedded
        .iter()
        .filter(|m| !applied.iter().any(|(v, _, ok)| *v == m.version && *ok))
        .map(|m| format!("{:04} {}", m.version, m.description))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_is_compared_migration_by_migration() {
        let all: Vec<_> = SQLITE_MIGRATIONS.iter().filter(|m| m.migration_type.is_up_migration()).collect();
        let nothing = state("sqlite", true, &SQLITE_MIGRATIONS, Vec::new());
        assert_eq!((nothing.applied, nothing.pending.len()), (0, all.len()));
        assert!(nothing.pending[0].starts_with("0001 "), "{:?}", nothing.pending);
        let mut applied: Applied = all.iter().map(|m| (m.version, m.checksum.to_vec(), true)).collect();
        let current = state("sqlite", true, &SQLITE_MIGRATIONS, applied.clone());
        assert_eq!((current.applied, current.pending.len()), (all.len(), 0));
        applied.pop();
        applied[0].1 = vec![0; 4];
        applied[1].2 = false;
        applied.push((99_999, Vec::new(), true));
        let odd = state("sqlite", true, &SQLITE_MIGRATIONS, applied);
        assert_eq!(odd.pending.len(), 2, "the last one and the failed one: {:?}", odd.pending);
        assert_eq!((odd.changed, odd.failed, odd.unknown), (vec![all[0].version], vec![all[1].version], vec![99_999]));
    }
}
