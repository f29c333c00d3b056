//! The only code that speaks SQL. One [`Store`] hides whether the database is SQLite
//! (embedded default) or PostgreSQL (several nodes); the same statements run on both, and
//! dialect differences stay in this folder. Every query is written once, as a method of
//! [`Conn`]: a pooled connection ([`Store::conn`]) for reads and writes of one statement,
//! or a transaction ([`Store::begin`], a [`Tx`] that derefs to it) for an effect of several
//! writes; the few writes that are never right alone are methods of [`Tx`] only. This
//! module decides nothing: which rows to write is `desk`'s business.

mod accounts;
mod addresses;
mod backup;
mod blobs;
mod captcha;
mod changes;
mod contacts;
mod forget;
mod imap;
mod import;
mod inbound;
mod invites;
mod kb;
mod kb_activity;
mod kb_mail;
mod leases;
mod outbox;
mod poison;
mod schema;
mod search;
mod senders;
mod settings;
mod staff;
mod tickets;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use accounts::{AccountRow, SessionRow, TokenRow};
pub use addresses::AutomaticMailRecord;
pub use backup::{BackupCounts, postgres_has_tables, sqlite_file};
pub use blobs::{Blobs, DeletionPause, PutReaderError, Swept, sha256_hex};
pub use contacts::{ContactRow, ContactTicketRow, InviteRow, MemberRow};
pub use forget::{ForgetPlan, ForgetReport};
pub use import::ImportProgress;
pub use inbound::QuarantineRow;
pub use kb::{NewSolution, SolutionDigest, SolutionFileRow, SolutionRow, SolutionSummary};
pub use kb_activity::{ListedSolution, SAVED_WINDOW_SECS, SolutionActivity};
pub use kb_mail::MailSuggestionStats;
pub use leases::{Fence, Lease};
pub use outbox::{NewOutboxRow, OutboxListener, OutboxRow};
pub use schema::{SchemaState, inspect_schema};
pub use search::{FoundTickets, MAX_WORDS, TicketFilter, TicketOrder, TicketSearch, words};
pub use senders::{BlockedSender, SenderRecord};
pub use staff::StaffRow;
pub use tickets::{AttachmentRow, CommentRow, NewAttachment, NewComment, NewTicket, TicketRow, TicketState};

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
    /// The blob store (attachments' and raw mails' bytes) could not be read or written;
    /// the error names the file.
    #[error("blob store: {0}")]
    Blob(#[source] std::io::Error),
    /// A background task of ours (a blocking read or write) panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A stored value does not parse: a row this version did not write, or damaged.
    #[error("bad stored value: {0}")]
    Corrupt(String),
    /// A value could not be turned into what is stored (such as a notification's payload).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        source: serde_json::Error,
    },
    /// A file or directory of the data directory could not be made, read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done, as in "cannot write the reply key to".
        action: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Desk refused to apply a message (it is quarantined with this reason).
    #[error("{0}")]
    Refused(String),
    /// A write made on a lease's behalf found the lease gone: another node works that
    /// mailbox now, and nothing was written (the message stays for that node).
    #[error("the lease {0:?} is no longer this node's; nothing was written")]
    LeaseLost(String),
    /// The database server cannot be reached or refused us.
    #[error("cannot connect to the database at {address}: {cause}")]
    Connect {
        /// `host:port` (or the socket) from the URL, without user or password.
        address: String,
        /// Why, in words (connection refused, name not found, authentication failed…).
        cause: String,
        /// The error itself, for the cause chain.
        source: sqlx::Error,
    },
}

impl StoreError {
    /// A [`StoreError::File`] maker for `map_err`: what was being done to which path.
    pub fn file(
        action: &'static str,
        path: impl Into<std::path::PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::File { action, path, source }
    }
}

impl StoreError {
    /// Whether trying again later may succeed: a lock, a lost connection, a full pool, a
    /// failing disk, or a setup an admin fixes (a read-only database, a permission, an
    /// unreachable server, a file that cannot be written). Other errors are about the
    /// data itself and will fail again.
    pub fn is_temporary(&self) -> bool {
        match self {
            StoreError::Db(e) => sqlx_is_temporary(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => sqlx_is_temporary(e),
            StoreError::Blob(_)
            | StoreError::File { .. }
            | StoreError::Connect { .. }
            | StoreError::Task(_)
            | StoreError::LeaseLost(_) => true,
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
                // 10 IOERR, 13 FULL; and what an admin fixes, after which the same write
                // succeeds: 3 PERM, 8 READONLY, 14 CANTOPEN, 23 AUTH.
                code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 3 | 5 | 6 | 8 | 10 | 13 | 14 | 23))
            } else {
                // SQLSTATE classes: 08 connection, 40 rollback (serialisation, deadlock),
                // 53 insufficient resources, 57P operator intervention (shutdown); and what
                // an admin fixes: 28 authorisation, 42501 privilege, 25006 read-only.
                ["08", "40", "53", "57P", "28", "42501", "25006"].iter().any(|class| code.starts_with(class))
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

impl Store {
    /// The database pool's connections: (open, idle), for the metrics.
    pub fn pool_use(&self) -> (u32, usize) {
        match &self.db {
            Db::Sqlite(pool) => (pool.size(), pool.num_idle()),
            Db::Postgres(pool) => (pool.size(), pool.num_idle()),
        }
    }
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

/// Runs `$body` with `$c` bound to the connection (`&mut SqliteConnection` or
/// `&mut PgConnection`) of a [`Conn`], whichever backend and whether in a transaction or not.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match &mut $conn.inner {
            $crate::store::ConnInner::Sqlite(link) => {
                let $c = link.get();
                $body
            }
            $crate::store::ConnInner::Postgres(link) => {
                let $c = link.get();
                $body
            }
        }
    };
}
pub(crate) use on_conn;

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
            create_private_sqlite_file(connect.get_filename())?;
            Db::Sqlite(open_sqlite(connect, options).await?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .idle_timeout(IDLE_CONNECTION)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(connect.clone());
            first_postgres_connection(&pool, &connect).await?;
            if !schema_is_current(&pool, &POSTGRES_MIGRATIONS).await {
                POSTGRES_MIGRATIONS.run(&pool).await?;
            }
            Db::Postgres(pool)
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_string();
            return Err(StoreError::UnknownScheme(scheme));
        };
        let blobs =
            Blobs::open(&options.blob_dir).map_err(StoreError::file("create the blob directory", &options.blob_dir))?;
        Ok(Store { db, blobs })
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so that a transaction never fails half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.db {
            Db::Sqlite(p) => ConnInner::Sqlite(Link::Tx(p.begin_with("BEGIN IMMEDIATE").await?)),
            Db::Postgres(p) => ConnInner::Postgres(Link::Tx(p.begin().await?)),
        };
        Ok(Tx { conn: Conn { inner, clock: None } })
    }

    /// [`Store::begin`], for writes made on a lease's behalf when `fence` is given: the
    /// transaction goes on only while that lease is held as taken (see
    /// [`Tx::check_fence`]).
    pub async fn begin_fenced(&self, fence: Option<&Fence>) -> Result<Tx> {
        let mut tx = self.begin().await?;
        if let Some(fence) = fence {
            tx.check_fence(fence).await?;
        }
        Ok(tx)
    }

    /// A pooled connection outside any transaction: each statement stands alone. Reads,
    /// and writes of one statement, use it; an effect of several writes uses [`Store::begin`].
    pub async fn conn(&self) -> Result<Conn> {
        let inner = match &self.db {
            Db::Sqlite(p) => ConnInner::Sqlite(Link::Pooled(p.acquire().await?)),
            Db::Postgres(p) => ConnInner::Postgres(Link::Pooled(p.acquire().await?)),
        };
        Ok(Conn { inner, clock: None })
    }

    /// Runs `work` on a pooled connection and hands the connection back before returning,
    /// whatever `work` returned. A [`Conn`] dropped instead goes back from a task of its
    /// own, too late for the next statement, which then opens a second connection: on
    /// SQLite that is a second schema parse in every short-lived `maildesk ingest`.
    pub async fn with<T>(&self, work: impl AsyncFnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut conn = self.conn().await?;
        let result = work(&mut conn).await;
        conn.release().await;
        result
    }

    /// Closes every pooled connection (checkpointing SQLite's WAL).
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// How long opening a PostgreSQL store waits for the server to answer.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens the pool's first connection within [`PG_CONNECT_TIMEOUT`] (it stays pooled for
/// the statements that follow, so the usual start costs nothing more). The pool retries a
/// refused connection until its acquire timeout and then says only "pool timed out": then
/// one connection of our own finds the cause (refused, unknown host, authentication
/// failed), named with the server.
async fn first_postgres_connection(pool: &PgPool, connect: &PgConnectOptions) -> Result<()> {
    use sqlx::ConnectOptions;
    let error = match tokio::time::timeout(PG_CONNECT_TIMEOUT, pool.acquire()).await {
        Ok(Ok(mut pooled)) => {
            pooled.return_to_pool().await;
            return Ok(());
        }
        Ok(Err(e)) if !matches!(e, sqlx::Error::PoolTimedOut) => e,
        _ => match tokio::time::timeout(Duration::from_secs(2), connect.connect()).await {
            Ok(Err(e)) => e,
            _ => {
                return Err(StoreError::Connect {
                    address: pg_address(connect),
                    cause: format!("no answer within {} s", PG_CONNECT_TIMEOUT.as_secs()),
                    source: sqlx::Error::PoolTimedOut,
                });
            }
        },
    };
    Err(connect_error(connect, error))
}

/// `host:port` (or the socket path) of a PostgreSQL URL, without user or password.
fn pg_address(connect: &PgConnectOptions) -> String {
    match connect.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", connect.get_host(), connect.get_port()),
    }
}

/// A failed connection as [`StoreError::Connect`], the cause in words.
fn connect_error(connect: &PgConnectOptions, e: sqlx::Error) -> StoreError {
    let cause = match &e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is PostgreSQL running and listening there?)".to_string()
        }
        sqlx::Error::Io(io) if io.to_string().contains("lookup") || io.to_string().contains("resolve") => {
            format!("host name not found ({io})")
        }
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Tls(tls) => format!("TLS: {tls}"),
        sqlx::Error::PoolTimedOut => "no answer in time".to_string(),
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => format!("authentication failed: {}", db.message()),
            Some("3D000") => format!("no such database: {}", db.message()),
            _ => db.message().to_string(),
        },
        other => other.to_string(),
    };
    StoreError::Connect { address: pg_address(connect), cause, source: e }
}

/// Creates the SQLite database file (and its directory) readable by the owner only (0600
/// and 0700), whatever the umask; SQLite gives its `-wal` and `-shm` files the mode of the
/// database. An existing file keeps its mode.
fn create_private_sqlite_file(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let name = path.to_string_lossy();
    if name.is_empty() || name == ":memory:" || name.starts_with("file:") || path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(StoreError::file("create the database directory", parent))?;
    }
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    match created {
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::file("make private the database", path)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::file("create the database", path)(e)),
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
            // A SQLite connection cannot be dropped by a server or a network; the ping
            // would be a hand-over to its worker thread on every acquire.
            .test_before_acquire(false)
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
    let lock_path = std::path::PathBuf::from(format!("{}.migrate-lock", connect.get_filename().display()));
    let lock = tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
        let locking = || StoreError::file("lock the migrations with", &lock_path);
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(locking())?;
        file.lock().map_err(locking())?;
        Ok(file)
    })
    .await??;
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

// Each hands its connection back before returning: dropped, it would go back in a task of
// its own, too late for the next statement, which would open a second connection (on
// SQLite a few milliseconds of every `maildesk ingest`).
impl AppliedQuery for &SqlitePool {
    async fn applied(self) -> Option<Applied> {
        let mut conn = self.acquire().await.ok()?;
        // One row rather than one per migration: each row is a hand-over from SQLite's
        // worker thread, and this runs at the start of every `maildesk ingest`.
        let packed: Option<Option<String>> = sqlx::query_scalar(SQLITE_APPLIED_SQL).fetch_one(&mut *conn).await.ok();
        conn.return_to_pool().await;
        unpack_applied(packed?.as_deref().unwrap_or_default())
    }
}

/// [`APPLIED_SQL`] packed into one text: `version checksum-in-hex success` per migration,
/// the migrations separated by commas.
const SQLITE_APPLIED_SQL: &str = "SELECT group_concat(version || ' ' || hex(checksum) || ' ' || success, ',') \
     FROM (SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version)";

/// The rows of [`SQLITE_APPLIED_SQL`]'s text; `None` when it is not of that form.
fn unpack_applied(packed: &str) -> Option<Applied> {
    packed
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| {
            let mut fields = m.split(' ');
            let version = fields.next()?.parse().ok()?;
            let checksum = hex::decode(fields.next()?).ok()?;
            let success = fields.next()? == "1";
            fields.next().is_none().then_some((version, checksum, success))
        })
        .collect()
}

impl AppliedQuery for &PgPool {
    async fn applied(self) -> Option<Applied> {
        let mut conn = self.acquire().await.ok()?;
        let applied = sqlx::query_as(APPLIED_SQL).fetch_all(&mut *conn).await.ok();
        conn.return_to_pool().await;
        applied
    }
}

fn migrations_match(applied: &Applied, migrator: &sqlx::migrate::Migrator) -> bool {
    let wanted: Vec<(i64, &[u8])> =
        migrator.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| (m.version, &*m.checksum)).collect();
    applied.len() == wanted.len()
        && applied.iter().zip(&wanted).all(|((v, sum, ok), (want_v, want_sum))| *ok && v == want_v && sum == want_sum)
}

/// A connection of one backend: borrowed from the pool, or holding a transaction.
enum Link<DB: sqlx::Database> {
    Pooled(sqlx::pool::PoolConnection<DB>),
    Tx(Transaction<'static, DB>),
}

impl<DB: sqlx::Database> Link<DB> {
    /// The connection to run a statement on.
    fn get(&mut self) -> &mut DB::Connection {
        match self {
            Link::Pooled(c) => c,
            Link::Tx(t) => t,
        }
    }
}

enum ConnInner {
    Sqlite(Link<Sqlite>),
    Postgres(Link<Postgres>),
}

/// Which database a connection speaks to, for the few statements whose text must differ
/// (the full-text search: FTS5 on SQLite, `tsvector` on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A connection every query of the store runs on: from [`Store::conn`] (each statement
/// stands alone) or inside a [`Tx`] (which derefs to it). Each query is written once, as a
/// method of this type, and serves both.
pub struct Conn {
    inner: ConnInner,
    /// The time its writes record, when not now (see [`Tx::set_clock`]).
    clock: Option<i64>,
}

impl Conn {
    /// The time a write records: the clock set on the transaction, else now.
    fn now(&self) -> i64 {
        self.clock.unwrap_or_else(now)
    }

    /// Which database this connection speaks to.
    fn backend(&self) -> Backend {
        match self.inner {
            ConnInner::Sqlite(_) => Backend::Sqlite,
            ConnInner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Hands a pooled connection back now, rather than from a task of its own after a drop
    /// (which comes too late for the next statement, so that would open a second
    /// connection: on SQLite a few milliseconds of every `maildesk ingest`).
    pub async fn release(self) {
        match self.inner {
            ConnInner::Sqlite(Link::Pooled(mut c)) => c.return_to_pool().await,
            ConnInner::Postgres(Link::Pooled(mut c)) => c.return_to_pool().await,
            ConnInner::Sqlite(Link::Tx(_)) | ConnInner::Postgres(Link::Tx(_)) => {}
        }
    }
}

/// One open transaction; dropping it without [`Tx::commit`] rolls everything back. Every
/// query of [`Conn`] runs in it.
pub struct Tx {
    conn: Conn,
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Tx {
    /// Sets the time the following writes of this transaction record (tickets', comments'
    /// and fingerprints' times), `None` for now again: an import keeps each mail's date.
    pub fn set_clock(&mut self, at: Option<i64>) {
        self.conn.clock = at;
    }

    /// The time the writes of this transaction record now.
    pub fn clock(&self) -> i64 {
        self.conn.now()
    }

    /// Makes every write of this transaction durable at once.
    pub async fn commit(self) -> Result<()> {
        match self.conn.inner {
            ConnInner::Sqlite(Link::Tx(t)) => t.commit().await?,
            ConnInner::Postgres(Link::Tx(t)) => t.commit().await?,
            // Only `Store::begin` makes a `Tx`, always around a transaction.
            ConnInner::Sqlite(Link::Pooled(_)) | ConnInner::Postgres(Link::Pooled(_)) => {}
        }
        Ok(())
    }

    /// Undoes every write of this transaction.
    pub async fn rollback(self) -> Result<()> {
        match self.conn.inner {
            ConnInner::Sqlite(Link::Tx(t)) => t.rollback().await?,
            ConnInner::Postgres(Link::Tx(t)) => t.rollback().await?,
            ConnInner::Sqlite(Link::Pooled(_)) | ConnInner::Postgres(Link::Pooled(_)) => {}
        }
        Ok(())
    }
}

/// The current time as Unix seconds, the unit every timestamp column uses.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_schema_is_current_only_with_every_migration_applied_unedited() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("m.db").display());
        let options = StoreOptions {
            url: url.clone(),
            max_connections: 2,
            busy_timeout: Duration::from_secs(5),
            blob_dir: dir.path().join("blobs"),
        };
        let Db::Sqlite(pool) = Store::open(&options).await.unwrap().db else { panic!("a SQLite store") };
        let applied = pool.applied().await.expect("the packed row reads back");
        assert_eq!(applied.len(), SQLITE_MIGRATIONS.iter().filter(|m| m.migration_type.is_up_migration()).count());
        assert!(schema_is_current(&pool, &SQLITE_MIGRATIONS).await);
        let edit = |sql: &'static str| {
            let pool = pool.clone();
            async move { sqlx::query(sql).execute(&pool).await.unwrap() }
        };
        // An edited migration, a failed one and a missing one are each not current.
        edit(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        )
        .await;
        assert!(!schema_is_current(&pool, &SQLITE_MIGRATIONS).await);
        edit("DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)").await;
        assert!(!schema_is_current(&pool, &SQLITE_MIGRATIONS).await);
        edit("DELETE FROM _sqlx_migrations").await;
        assert_eq!(pool.applied().await, Some(Vec::new()));
        assert!(!schema_is_current(&pool, &SQLITE_MIGRATIONS).await);
        edit("DROP TABLE _sqlx_migrations").await;
        assert_eq!(pool.applied().await, None);
    }

    #[tokio::test]
    async fn the_sqlite_built_in_counts_no_memory() {
        // .cargo/config.toml builds it so (LIBSQLITE3_FLAGS): the count takes a global lock
        // around each of SQLite's allocations, thousands in every `maildesk ingest`.
        let pool = SqlitePoolOptions::new().connect("sqlite::memory:").await.unwrap();
        let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options").fetch_all(&pool).await.unwrap();
        assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "{options:?}");
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
    }

    #[test]
    fn packed_migrations_unpack_or_say_they_cannot() {
        assert_eq!(unpack_applied("1 0AFF 1,2 00 0"), Some(vec![(1, vec![0x0a, 0xff], true), (2, vec![0], false)]));
        assert_eq!(unpack_applied(""), Some(Vec::new()));
        assert_eq!(unpack_applied("1 0AFF"), None);
        assert_eq!(unpack_applied("1 0AFF 1 extra"), None);
        assert_eq!(unpack_applied("x 00 1"), None);
        assert_eq!(unpack_applied("1 0G 1"), None);
    }

    #[test]
    fn a_failed_postgresql_connection_names_the_server_and_the_cause() {
        let connect = PgConnectOptions::from_str("postgres://desk:s3cret@db.example:6543/maildesk").unwrap();
        let io = |kind, text: &str| sqlx::Error::Io(std::io::Error::new(kind, text.to_string()));
        let cases = [
            (io(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)"), "connection refused"),
            (
                io(std::io::ErrorKind::Other, "failed to lookup address information: Name or service not known"),
                "host name not found",
            ),
            (sqlx::Error::PoolTimedOut, "no answer in time"),
        ];
        for (error, cause) in cases {
            let shown = connect_error(&connect, error).to_string();
            let expected = format!("cannot connect to the database at db.example:6543: {cause}");
            assert!(shown.starts_with(&expected), "{shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }
}
