//! Backups and restores of a data directory. A backup is a directory: `maildesk.db` (a
//! consistent copy of a SQLite database, taken while the daemon runs), `blobs/` (every
//! blob that copy names), `reply-secret` (the reply-address key, unless it is in the
//! config) and `manifest.json` (what was copied, with counts), written last: a directory
//! without it is no finished backup. Blob deletions (the hourly clean-up, `contact
//! forget`) pause while a backup runs, in whatever process. A PostgreSQL database is not
//! copied: the admin dumps it with `pg_dump` (README, "Backups"); the backup then holds the
//! blobs and the key. A restore fills an empty data directory from a backup after checking
//! it, and changes nothing when a check fails.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::App;
use crate::config::Config;
use crate::store::{BackupCounts, Store, StoreError, StoreOptions};

/// The manifest's file name in a backup.
pub const MANIFEST: &str = "manifest.json";
/// The SQLite database's file name in a backup.
pub const DATABASE: &str = "maildesk.db";
/// The reply key's file name in a backup (and in the data directory).
pub const REPLY_KEY: &str = "reply-secret";
/// The version of the backup layout this maildesk writes and reads.
pub const FORMAT: u32 = 1;

/// What a backup holds, written last into it; a restore checks it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The backup layout's version ([`FORMAT`]).
    pub format: u32,
    /// The maildesk version that made it.
    pub maildesk_version: String,
    /// When the database copy was taken, Unix seconds.
    pub created_at: i64,
    /// Which database, and whether it is in the backup.
    pub database: DatabaseCopy,
    /// Where the reply-address key is.
    pub reply_key: KeyCopy,
    /// The database's rows when copied (for PostgreSQL: when the blobs were listed).
    pub counts: BackupCounts,
    /// Blob files copied.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Blobs the database names that the data directory did not have (or had damaged)
    /// when the backup was made: a restore accepts their absence.
    #[serde(default)]
    pub missing_blobs: Vec<String>,
}

/// The database of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseCopy {
    /// A SQLite database, copied to [`DATABASE`].
    Sqlite,
    /// A PostgreSQL database: not in the backup (dumped with `pg_dump`).
    PostgresNotIncluded,
}

/// Where the reply-address key of a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyCopy {
    /// Copied to [`REPLY_KEY`].
    Copied,
    /// In the config (`desk.secret`): not copied; the config must keep it.
    InConfig,
    /// There was none yet.
    None,
    /// Kept in the PostgreSQL database, which all nodes share: in its dump.
    InDatabase,
}

/// Why a backup or a restore failed. A failed backup leaves no directory behind; a failed
/// restore changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The backup's directory exists already.
    #[error("{} exists already; a backup goes to a new directory", .0.display())]
    Exists(PathBuf),
    /// The data directory to restore into holds something.
    #[error("{} is not empty; a restore fills an empty (or missing) data directory", .0.display())]
    NotEmpty(PathBuf),
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The backup is not one this maildesk can restore, or is incomplete or damaged.
    #[error("{0}")]
    Invalid(String),
}

fn file(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.into();
    move |source| BackupError::File { action, path, source }
}

/// Makes a backup of everything `app` keeps into `dest`, which must not exist (see the
/// module's comment). Runs beside the daemon.
pub async fn backup(app: &App, dest: &Path) -> Result<Manifest, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    if dest.symlink_metadata().is_ok() {
        return Err(BackupError::Exists(dest.to_path_buf()));
    }
    std::fs::DirBuilder::new().mode(0o700).create(dest).map_err(file("create", dest))?;
    let made = make_backup(app, dest).await;
    if made.is_err() {
        let _ = std::fs::remove_dir_all(dest);
    }
    made
}

async fn make_backup(app: &App, dest: &Path) -> Result<Manifest, BackupError> {
    let blobs = app.store.blobs.clone();
    // Before the snapshot: every blob it names must still be there when it is copied.
    let pause = tokio::task::spawn_blocking(move || blobs.pause_deletions())
        .await
        .map_err(StoreError::from)?
        .map_err(StoreError::Blob)?;
    let created_at = crate::store::now();
    let config = app.config();
    let (database, counts, referenced) = if app.store.is_sqlite() {
        let copy = dest.join(DATABASE);
        app.store.snapshot_sqlite(&copy).await?;
        let snapshot = open_sqlite_copy(&copy, &dest.join("blobs"), config.database.busy_timeout_ms).await?;
        let read = read_references(&snapshot).await;
        snapshot.close().await;
        let (counts, referenced) = read?;
        (DatabaseCopy::Sqlite, counts, referenced)
    } else {
        let (counts, referenced) = read_references(&app.store).await?;
        (DatabaseCopy::PostgresNotIncluded, counts, referenced)
    };
    let source = app.store.blobs.dir().to_path_buf();
    let target = dest.join("blobs");
    let copied = tokio::task::spawn_blocking(move || copy_blobs(&source, &target, &referenced))
        .await
        .map_err(StoreError::from)??;
    drop(pause);
    // Made by opening the copy as a store; a backup holds no temporary files.
    let _ = std::fs::remove_dir(dest.join("blobs").join("tmp"));
    let reply_key = copy_reply_key(&config, dest)?;
    let manifest = Manifest {
        format: FORMAT,
        maildesk_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at,
        database,
        reply_key,
        counts,
        blobs: copied.files,
        blob_bytes: copied.bytes,
        missing_blobs: copied.missing,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Invalid(format!("manifest: {e}")))?;
    write_private(&dest.join(MANIFEST), &text)?;
    tracing::info!(
        tickets = counts.tickets,
        blobs = manifest.blobs,
        missing = manifest.missing_blobs.len(),
        "backup made"
    );
    Ok(manifest)
}

/// Opens a SQLite copy as a store whose blobs are `blob_dir`.
async fn open_sqlite_copy(db: &Path, blob_dir: &Path, busy_timeout_ms: u64) -> Result<Store, BackupError> {
    let url = format!("sqlite://{}", db.display());
    Ok(Store::open(&StoreOptions {
        url,
        max_connections: 1,
        busy_timeout: Duration::from_millis(busy_timeout_ms),
        blob_dir: blob_dir.to_path_buf(),
    })
    .await?)
}

async fn read_references(store: &Store) -> Result<(BackupCounts, HashSet<String>), StoreError> {
    let mut db = store.conn().await?;
    let counts = db.backup_counts().await?;
    let referenced = db.referenced_blobs().await?;
    db.release().await;
    Ok((counts, referenced))
}

/// What [`copy_blobs`] did.
#[derive(Debug, Default)]
struct Copied {
    files: u64,
    bytes: u64,
    /// Names the source lacked or had damaged (its content no longer has its name).
    missing: Vec<String>,
}

/// Copies the blobs named in `wanted` from `source` into the blob directory `target`,
/// checking each one's SHA-256 on the way.
fn copy_blobs(source: &Path, target: &Path, wanted: &HashSet<String>) -> Result<Copied, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    let mut copied = Copied::default();
    let mut names: Vec<&String> = wanted.iter().collect();
    names.sort();
    for sha in names {
        let Some(from) = blob_file(source, sha) else {
            copied.missing.push(sha.clone());
            continue;
        };
        let input = match std::fs::File::open(&from) {
            Ok(input) => input,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                copied.missing.push(sha.clone());
                continue;
            }
            Err(e) => return Err(file("read", from)(e)),
        };
        let shard = target.join(&sha[..2]);
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&shard).map_err(file("create", &shard))?;
        let to = shard.join(sha);
        let mut hashing = Hashing { inner: input, hasher: Sha256::new() };
        let size = copy_into_new(&mut hashing, &from, &to)?;
        if hex::encode(hashing.hasher.finalize()) != *sha {
            tracing::warn!(blob = %sha, "a blob's content does not match its name; not copied");
            std::fs::remove_file(&to).map_err(file("remove", &to))?;
            copied.missing.push(sha.clone());
            continue;
        }
        copied.files += 1;
        copied.bytes += size;
    }
    Ok(copied)
}

/// Where the blob `sha` is in the blob directory `dir` (`<dir>/<aa>/<sha>`); `None` for a
/// name that is no SHA-256.
fn blob_file(dir: &Path, sha: &str) -> Option<PathBuf> {
    let valid = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    valid.then(|| dir.join(&sha[..2]).join(sha))
}

/// The names of the blobs in the blob directory `dir` (none when it is missing).
fn list_blobs(dir: &Path) -> Result<HashSet<String>, BackupError> {
    let mut found = HashSet::new();
    let shards = match std::fs::read_dir(dir) {
        Ok(shards) => shards,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(file("list", dir)(e)),
    };
    for shard in shards {
        let shard = shard.map_err(file("list", dir))?.path();
        let Some(prefix) = shard.file_name().and_then(|n| n.to_str()).filter(|n| n.len() == 2) else { continue };
        if !shard.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&shard).map_err(file("list", &shard))? {
            let name = entry.map_err(file("list", &shard))?.file_name();
            if let Some(sha) = name.to_str().filter(|sha| sha.starts_with(prefix) && blob_file(dir, sha).is_some()) {
                found.insert(sha.to_string());
            }
        }
    }
    Ok(found)
}

/// Writes `bytes` to a new file readable by the owner only, durably.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file("create", path))?;
    out.write_all(bytes).and_then(|_| out.sync_all()).map_err(file("write", path))
}

/// Copies the reply-address key kept in the data directory into `dest`.
fn copy_reply_key(config: &Config, dest: &Path) -> Result<KeyCopy, BackupError> {
    if !config.desk.secret.is_empty() {
        return Ok(KeyCopy::InConfig);
    }
    let path = crate::app::reply_secret_path(config);
    match std::fs::read(&path) {
        Ok(key) => {
            write_private(&dest.join(REPLY_KEY), &key)?;
            Ok(KeyCopy::Copied)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.database.shared() => Ok(KeyCopy::InDatabase),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyCopy::None),
        Err(e) => Err(file("read the reply key", path)(e)),
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The restored database's rows.
    pub counts: BackupCounts,
    /// Blob files restored.
    pub blobs: u64,
}

const PG_RESTORE_FIRST: &str =
    "the PostgreSQL database is empty: restore its dump with pg_restore first (README, \"Backups\")";

/// Reads and checks the manifest of the backup in `src`.
pub fn read_manifest(src: &Path) -> Result<Manifest, BackupError> {
    let path = src.join(MANIFEST);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::Invalid(format!(
                "{} has no {MANIFEST}: not a backup, or one that did not finish",
                src.display()
            )));
        }
        Err(e) => return Err(file("read", path)(e)),
    };
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| BackupError::Invalid(format!("{} cannot be read: {e}", path.display())))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Invalid(format!(
            "the backup's format is {}, this maildesk reads format {FORMAT}",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// Whether `dir` is missing or an empty directory.
fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(file("read", dir)(e)),
    }
}

/// Fills the empty (or missing) data directory of `config` from the backup in `src`:
/// the database (SQLite; for PostgreSQL it must have been restored with `pg_restore`
/// first), the blobs and the reply key. Everything is checked and put together beside the
/// data directory first, then moved into place: on any error nothing has changed.
pub async fn restore(config: &Config, src: &Path) -> Result<Restored, BackupError> {
    let manifest = read_manifest(src)?;
    let data_dir = &config.data_dir;
    if config.blob_dir() != data_dir.join("blobs") {
        return Err(BackupError::Invalid(format!(
            "a restore puts the blobs into {}: restore with blob_dir unset, then move that directory to {} \
             and set blob_dir again",
            data_dir.join("blobs").display(),
            config.blob_dir().display()
        )));
    }
    if !is_empty_dir(data_dir)? {
        return Err(BackupError::NotEmpty(data_dir.clone()));
    }
    let db_file = crate::store::sqlite_file(&config.database.url);
    match (manifest.database, &db_file) {
        (DatabaseCopy::Sqlite, None) => {
            return Err(BackupError::Invalid(
                "the backup holds a SQLite database but database.url names no SQLite file".into(),
            ));
        }
        (DatabaseCopy::PostgresNotIncluded, Some(_)) => {
            return Err(BackupError::Invalid(
                "the backup is of a PostgreSQL desk but database.url names a SQLite file: point it at the \
                 PostgreSQL database restored with pg_restore"
                    .into(),
            ));
        }
        (DatabaseCopy::Sqlite, Some(db)) if !db.starts_with(data_dir) && db.symlink_metadata().is_ok() => {
            return Err(BackupError::NotEmpty(db.clone()));
        }
        _ => {}
    }
    let staging = staging_dir(data_dir)?;
    let staged = stage(config, src, &manifest, &staging, db_file.as_deref()).await;
    let restored = match staged {
        Ok(restored) => restored,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if let Err(e) = move_into_place(data_dir, &staging, db_file.as_deref()) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    tracing::info!(tickets = restored.counts.tickets, blobs = restored.blobs, "backup restored");
    Ok(restored)
}

/// A new private directory beside `data_dir`, on the same file system, to put the restore
/// together in.
fn staging_dir(data_dir: &Path) -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(parent).map_err(file("create", parent))?;
    let name = data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let staging = parent.join(format!(".{name}.restoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging).map_err(file("create", &staging))?;
    Ok(staging)
}

/// Where the database file goes while staged: inside the staging directory when it lives
/// in the data directory, else beside its final place.
fn staged_db(data_dir: &Path, staging: &Path, db: &Path) -> PathBuf {
    match db.strip_prefix(data_dir) {
        Ok(inside) => staging.join(inside),
        Err(_) => {
            let mut name = db.as_os_str().to_owned();
            name.push(format!(".restoring-{}", std::process::id()));
            PathBuf::from(name)
        }
    }
}

async fn stage(
    config: &Config,
    src: &Path,
    manifest: &Manifest,
    staging: &Path,
    db_file: Option<&Path>,
) -> Result<Restored, BackupError> {
    let blob_dir = staging.join("blobs");
    let (counts, referenced) = match db_file {
        Some(db) => {
            let target = staged_db(&config.data_dir, staging, db);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(file("create", parent))?;
            }
            let from = src.join(DATABASE);
            copy_private(&from, &target)?;
            let store = open_sqlite_copy(&target, &blob_dir, config.database.busy_timeout_ms).await;
            let store = match store {
                Ok(store) => store,
                Err(e) => {
                    let _ = std::fs::remove_file(&target);
                    return Err(e);
                }
            };
            let read = read_references(&store).await;
            store.close().await;
            let _ = std::fs::remove_file(format!("{}.migrate-lock", target.display()));
            let (counts, referenced) = read.inspect_err(|_| {
                let _ = std::fs::remove_file(&target);
            })?;
            if counts != manifest.counts {
                let _ = std::fs::remove_file(&target);
                return Err(BackupError::Invalid(format!(
                    "the backup's database holds {counts:?}, its manifest says {:?}: the backup is damaged",
                    manifest.counts
                )));
            }
            (counts, referenced)
        }
        None => {
            // Before opening it as a store, which would give an empty database the schema.
            if !crate::store::postgres_has_tables(&config.database.url).await? {
                return Err(BackupError::Invalid(PG_RESTORE_FIRST.into()));
            }
            let store = Store::open(&StoreOptions {
                url: config.database.url.clone(),
                max_connections: 2,
                busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
                blob_dir: blob_dir.clone(),
            })
            .await?;
            let read = read_references(&store).await;
            store.close().await;
            let (counts, referenced) = read?;
            if counts.tickets == 0 && manifest.counts.tickets > 0 {
                return Err(BackupError::Invalid(PG_RESTORE_FIRST.into()));
            }
            (counts, referenced)
        }
    };
    let blobs = copy_backup_blobs(src, &blob_dir, &referenced, manifest);
    let blobs = match blobs {
        Ok(blobs) => blobs,
        Err(e) => {
            if let Some(db) = db_file.filter(|db| !db.starts_with(&config.data_dir)) {
                let _ = std::fs::remove_file(staged_db(&config.data_dir, staging, db));
            }
            return Err(e);
        }
    };
    if manifest.reply_key == KeyCopy::Copied {
        copy_private(&src.join(REPLY_KEY), &staging.join(REPLY_KEY))?;
    }
    Ok(Restored { manifest: manifest.clone(), counts, blobs })
}

/// Copies every blob of the backup (checking its SHA-256) into `blob_dir`, and checks
/// that every blob the database names is among them (or was missing already when the
/// backup was made).
fn copy_backup_blobs(
    src: &Path,
    blob_dir: &Path,
    referenced: &HashSet<String>,
    manifest: &Manifest,
) -> Result<u64, BackupError> {
    let source = src.join("blobs");
    let present = list_blobs(&source)?;
    let known_missing: HashSet<&String> = manifest.missing_blobs.iter().collect();
    let mut absent: Vec<&String> =
        referenced.iter().filter(|sha| !present.contains(*sha) && !known_missing.contains(sha)).collect();
    if !absent.is_empty() {
        absent.sort();
        return Err(BackupError::Invalid(format!(
            "the backup lacks {} blob(s) its database names, such as {}: it is incomplete",
            absent.len(),
            absent[0]
        )));
    }
    let copied = copy_blobs(&source, blob_dir, &present)?;
    if let Some(bad) = copied.missing.first() {
        return Err(BackupError::Invalid(format!(
            "the backup's blob {bad} does not match its name (damaged); nothing was restored"
        )));
    }
    Ok(copied.files)
}

/// Copies `from` to the new file `to`, readable by the owner only.
fn copy_private(from: &Path, to: &Path) -> Result<(), BackupError> {
    let mut input = std::fs::File::open(from).map_err(file("read", from))?;
    copy_into_new(&mut input, from, to).map(|_| ())
}

/// Copies everything `input` (read from `from`) yields into the new file `to`, readable by
/// the owner only, durably, without holding it in memory; returns the size.
fn copy_into_new(input: &mut impl std::io::Read, from: &Path, to: &Path) -> Result<u64, BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut out =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(to).map_err(file("create", to))?;
    let size = std::io::copy(input, &mut out).map_err(|e| BackupError::File {
        action: "copy",
        path: from.to_path_buf(),
        source: e,
    })?;
    out.sync_all().map_err(file("write", to))?;
    Ok(size)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Moves the staged database (when it lives outside the data directory) and the staged
/// data directory into place; undoes the first when the second fails.
fn move_into_place(data_dir: &Path, staging: &Path, db_file: Option<&Path>) -> Result<(), BackupError> {
    let outside = db_file.filter(|db| !db.starts_with(data_dir));
    if let Some(db) = outside {
        let staged = staged_db(data_dir, staging, db);
        if db.symlink_metadata().is_ok() {
            let _ = std::fs::remove_file(&staged);
            return Err(BackupError::NotEmpty(db.to_path_buf()));
        }
        std::fs::rename(&staged, db).map_err(file("move into place", db))?;
    }
    // Onto a missing or empty directory (rename(2) replaces an empty one).
    if let Err(e) = std::fs::rename(staging, data_dir) {
        if let Some(db) = outside {
            let _ = std::fs::remove_file(db);
        }
        return Err(file("move into place", data_dir)(e));
    }
    Ok(())
}
