//! The only code that speaks SQL. One [`Store`] hides whether the database is SQLite
//! (embedded default) or PostgreSQL (several nodes); the same statements run on both, and
//! dialect differences stay in this folder. Every effect is one transaction ([`Tx`]).
//! This module decides nothing: which rows to write is `desk`'s business.

mod addresses;
mod blobs;
mod contacts;
mod imap;
mod inbound;
mod invites;
mod outbox;
mod poison;
mod staff;
mod tickets;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use addresses::AutomaticMailRecord;
pub use blobs::{Blobs, sha256_hex};
pub use contacts::{ContactRow, ContactTicketRow, InviteRow};
pub use inbound::QuarantineRow;
pub use outbox::{NewOutboxRow, OutboxRow};
pub use staff::StaffRow;
pub use tickets::{
    AttachmentRow, CommentRow, NewAttachment, NewComment, NewTicket, TicketFilter, TicketRow, TicketState,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend we know; nothing was created.
    #[error("unknown database URL scheme {0:?} (use sqlite:// or postgres://)")]
    UnknownScheme(String),
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The blob store could not be read or written.
    #[error("blob store: {0}")]
    Blob(#[from] std::io::Error),
    /// A stored value does not parse (a corrupted or foreign row).
    #[error("bad stored value: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying again later may succeed: a lock, a lost connection, a full pool, a
    /// failing disk. Other errors are about the data itself and will fail again.
    pub fn is_temporary(&self) -> bool {
        match self {
            StoreError::Db(e) => sqlx_is_temporary(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => sqlx_is_temporary(e),
            StoreError::Blob(_) => true,
            _ => false,
        }
    }
}

fn sqlx_is_temporary(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of extended ones): 5 BUSY, 6 LOCKED,
                // 10 IOERR, 13 FULL.
                code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
            } else {
                // SQLSTATE classes: 08 connection, 40 rollback (serialisation, deadlock),
                // 53 insufficient resources, 57P operator intervention (shutdown).
                ["08", "40", "53", "57P"].iter().any(|class| code.starts_with(class))
            }
        }
        _ => false,
    }
}

/// The result type of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Database plus blob store: everything maildesk keeps.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Attachment and raw-mail bytes, addressed by their SHA-256.
    pub blobs: Blobs,
}

impl std::fmt::Debug for Store {
    /// Names the backend only: connection options may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        };
        f.debug_struct("Store").field("backend", &backend).field("blobs", &self.blobs).finish()
    }
}

/// How to open a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite://path` or `postgres://…`.
    pub url: String,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long a SQLite writer waits for a lock.
    pub busy_timeout: Duration,
    /// Where blobs are kept.
    pub blob_dir: std::path::PathBuf,
}

/// Runs `$body` with `$p` bound to the pool, whichever backend it is.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($p) => $body,
            $crate::store::Db::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the transaction's connection, whichever backend it is.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut $tx.inner {
            $crate::store::TxInner::Sqlite($c) => $body,
            $crate::store::TxInner::Postgres($c) => $body,
        }
    };
}
pub(crate) use {on_pool, on_tx};

impl Store {
    /// Opens (creating when needed) the database named by `options.url`, runs the embedded
    /// migrations, and opens the blob store. An unknown URL scheme is refused.
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        let url = options.url.as_str();
        let db = if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(options.busy_timeout)
                .foreign_keys(true);
            if let Some(parent) = connect.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            Db::Sqlite(open_sqlite(connect, options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .idle_timeout(IDLE_CONNECTION)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await?;
            if !schema_is_current(&pool, &POSTGRES_MIGRATIONS).await {
                POSTGRES_MIGRATIONS.run(&pool).await?;
            }
            Db::Postgres(pool)
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_string();
            return Err(StoreError::UnknownScheme(scheme));
        };
        Ok(Store { db, blobs: Blobs::open(&options.blob_dir)? })
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a transaction never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.db {
            Db::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx { inner })
    }

    /// Closes every pooled connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Opens the SQLite pool and brings the schema up to date. Processes opening the same
/// file at once (the daemon and `maildesk ingest`, say) take turns through a lock file,
/// since sqlx's SQLite migrator does not lock. Opening can also meet a lock that SQLite
/// reports at once instead of waiting (WAL recovery or checkpoint in another process):
/// such failures are retried until the busy timeout has passed.
async fn open_sqlite(connect: SqliteConnectOptions, options: &StoreOptions) -> Result<SqlitePool> {
    let deadline = tokio::time::Instant::now() + options.busy_timeout;
    let pool = retry_busy(deadline, || async {
        Ok(SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .idle_timeout(IDLE_CONNECTION)
            .acquire_timeout(options.busy_timeout + Duration::from_secs(5))
            .connect_with(connect.clone())
            .await?)
    })
    .await?;
    // The common case, and the one a short-lived `maildesk ingest` pays for on every
    // message: nothing to migrate, so no lock to take.
    if schema_is_current(&pool, &SQLITE_MIGRATIONS).await {
        return Ok(pool);
    }
    let lock_path = format!("{}.migrate-lock", connect.get_filename().display());
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)??;
    let _held = lock;
    retry_busy(deadline, || async { Ok(SQLITE_MIGRATIONS.run(&pool).await?) }).await?;
    Ok(pool)
}

/// Runs `attempt` again while it fails with a temporary error, until `deadline`.
async fn retry_busy<T, F, Fut>(deadline: tokio::time::Instant, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    loop {
        match attempt().await {
            Err(e) if e.is_temporary() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            other => return other,
        }
    }
}

/// A pooled connection unused this long is closed, and its page cache with it: after a
/// burst the daemon goes back to its idle size.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// The embedded migrations of each dialect.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// What `_sqlx_migrations` says was applied: version, checksum, success.
type Applied = Vec<(i64, Vec<u8>, bool)>;

const APPLIED_SQL: &str = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";

/// Whether the database has applied exactly the embedded migrations, with the same
/// checksums — what the migrator would verify, in one read and without its lock. Anything
/// else (a missing table, a new migration, an edited one) is left to the migrator.
async fn schema_is_current<DB: sqlx::Database>(pool: &sqlx::Pool<DB>, migrator: &sqlx::migrate::Migrator) -> bool
where
    for<'c> &'c sqlx::Pool<DB>: AppliedQuery,
{
    match pool.applied().await {
        Some(applied) => migrations_match(&applied, migrator),
        None => false,
    }
}

/// Reads [`Applied`] from one kind of pool; `None` when it cannot (no table yet).
trait AppliedQuery {
    async fn applied(self) -> Option<Applied>;
}

impl AppliedQuery for &SqlitePool {
    async fn applied(self) -> Option<Applied> {
        sqlx::query_as(APPLIED_SQL).fetch_all(self).await.ok()
    }
}

impl AppliedQuery for &PgPool {
    async fn applied(self) -> Option<Applied> {
        sqlx::query_as(APPLIED_SQL).fetch_all(self).await.ok()
    }
}

fn migrations_match(applied: &Applied, migrator: &sqlx::migrate::Migrator) -> bool {
    let wanted: Vec<(i64, &[u8])> =
        migrator.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| (m.version, &*m.checksum)).collect();
    applied.len() == wanted.len()
        && applied.iter().zip(&wanted).all(|((v, sum, ok), (want_v, want_sum))| *ok && v == want_v && sum == want_sum)
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// One open transaction; dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx {
    inner: TxInner,
}

impl Tx {
    /// Makes every write of this transaction durable at once.
    pub async fn commit(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Undoes every write of this transaction.
    pub async fn rollback(self) -> Result<()> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// The current time as Unix seconds, the unit every timestamp column uses.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
