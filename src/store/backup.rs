//! The database's part of a backup: a consistent copy of a SQLite database taken while
//! others write to it (`VACUUM INTO`, one read transaction), and the counts a backup's
//! manifest records and a restore checks. Which files go where is `desk::backup`'s
//! business; this module never touches blobs.

use std::path::Path;

use super::{Conn, Db, Result, Store, StoreError, on_conn};

/// How many rows of each kind a database holds: what a backup's manifest records, and a
/// restore compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupCounts {
    /// Tickets.
    pub tickets: i64,
    /// Comments.
    pub comments: i64,
    /// Attachments.
    pub attachments: i64,
    /// Contacts.
    pub contacts: i64,
}

impl Store {
    /// Whether the database is SQLite (a backup copies it) rather than PostgreSQL (the
    /// admin dumps it with `pg_dump`).
    pub fn is_sqlite(&self) -> bool {
        matches!(self.db, Db::Sqlite(_))
    }

    /// Writes a consistent copy of the SQLite database to `target`, which must not exist
    /// (it is made private to the owner first). The copy is one read transaction: what was
    /// committed when it began, whatever is written meanwhile. Refused on PostgreSQL.
    pub async fn snapshot_sqlite(&self, target: &Path) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let Db::Sqlite(pool) = &self.db else {
            return Err(StoreError::Refused("a PostgreSQL database is backed up with pg_dump".into()));
        };
        let name = target
            .to_str()
            .ok_or_else(|| StoreError::Refused(format!("{} is not a UTF-8 path", target.display())))?
            .to_string();
        // VACUUM INTO accepts an empty file: made first, so that the copy is private.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(StoreError::file("create the database copy", target))?;
        let mut conn = pool.acquire().await?;
        sqlx::query("VACUUM INTO ?").bind(name).execute(&mut *conn).await?;
        conn.return_to_pool().await;
        Ok(())
    }
}

impl Conn {
    /// How many tickets, comments, attachments and contacts there are.
    pub async fn backup_counts(&mut self) -> Result<BackupCounts> {
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM comments), \
                           (SELECT COUNT(*) FROM attachments), (SELECT COUNT(*) FROM contacts)";
        let (tickets, comments, attachments, contacts): (i64, i64, i64, i64) =
            on_conn!(self, c => sqlx::query_as(SQL).fetch_one(&mut *c).await?);
        Ok(BackupCounts { tickets, comments, attachments, contacts })
    }
}

/// The database file a `sqlite:` URL names; `None` for another scheme or an in-memory
/// database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr;
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let name = path.to_string_lossy();
    (!name.is_empty() && name != ":memory:" && !name.starts_with("file:")).then(|| path.to_path_buf())
}

/// Whether the PostgreSQL database at `url` holds maildesk's tables (a dump was restored
/// into it), asked without creating or migrating anything.
pub async fn postgres_has_tables(url: &str) -> Result<bool> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let found: bool = sqlx::query_scalar("SELECT to_regclass('tickets') IS NOT NULL").fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(found)
}
