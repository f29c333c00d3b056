//! Content-addressed files: attachment bytes and quarantined raw mail, stored once per
//! distinct content under `<dir>/<aa>/<sha256>`. Writing is idempotent and atomic (a
//! temporary file renamed into place), so a blob written before a transaction that then
//! rolls back is harmless: at worst an orphan, never a half file.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::{Conn, Result, Store, StoreError, on_conn};

/// A directory of blobs named by the SHA-256 of their content.
#[derive(Debug, Clone)]
pub struct Blobs {
    dir: PathBuf,
}

/// The lower-case hex SHA-256 of `bytes`, the name a blob is stored under.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Blobs {
    /// Opens (creating when needed, readable by the owner only) the blob directory.
    pub fn open(dir: &Path) -> std::io::Result<Blobs> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.is_dir() {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir.join("tmp"))?;
        Ok(Blobs { dir: dir.to_path_buf() })
    }

    fn path_of(&self, sha: &str) -> Option<PathBuf> {
        let valid = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        valid.then(|| self.dir.join(&sha[..2]).join(sha))
    }

    /// Stores `bytes` (once per distinct content) and returns their SHA-256 hex.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha).expect("sha256_hex yields a valid name");
        if touch(&path).map_err(|e| named(e, "refresh", &path))? {
            return Ok(sha);
        }
        let tmp_dir = self.dir.join("tmp");
        let parent = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(parent).map_err(|e| named(e, "create", parent))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| named(e, "write in", &tmp_dir))?;
        tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_data()).map_err(|e| named(e, "write", tmp.path()))?;
        tmp.persist(&path).map_err(|e| named(e.error, "write", &path))?;
        Ok(sha)
    }

    /// Stores everything `reader` yields without holding it in memory; returns the SHA-256
    /// hex and the size.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<(String, u64), PutReaderError> {
        let tmp_dir = self.dir.join("tmp");
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| named(e, "write in", &tmp_dir))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PutReaderError::Input(e)),
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n]).map_err(|e| named(e, "write", tmp.path()))?;
            size += n as u64;
        }
        let sha = hex::encode(hasher.finalize());
        let path = self.path_of(&sha).expect("a hex digest is a valid name");
        if !touch(&path).map_err(|e| named(e, "refresh", &path))? {
            let parent = path.parent().expect("blob path has a parent");
            std::fs::create_dir_all(parent).map_err(|e| named(e, "create", parent))?;
            tmp.as_file().sync_data().map_err(|e| named(e, "write", tmp.path()))?;
            tmp.persist(&path).map_err(|e| named(e.error, "write", &path))?;
        }
        Ok((sha, size))
    }

    /// Deletes every blob not named in `referenced` whose file is older than `grace`, and
    /// temporary files left by interrupted writes as old. The grace protects blobs of a
    /// message being applied: they are stored before its transaction commits (and storing
    /// content that is already there makes its file young again). A blob stored again while
    /// it is being swept is kept: see [`Blobs::remove_if_old`].
    ///
    /// Nothing is deleted while a backup holds a [`DeletionPause`] (in this process or
    /// another): the sweep then returns at once with [`Swept::paused`] set.
    pub fn sweep(&self, referenced: &HashSet<String>, grace: Duration) -> std::io::Result<Swept> {
        let Some(_deleting) = self.may_delete()? else { return Ok(Swept { paused: true, ..Swept::default() }) };
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let old = |entry: &std::fs::DirEntry| entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at < cutoff);
        let mut swept = Swept::default();
        for shard in std::fs::read_dir(&self.dir).map_err(|e| named(e, "list", &self.dir))? {
            let shard = shard?;
            let name = shard.file_name();
            let is_tmp = name == "tmp";
            let is_shard = name.len() == 2 && name.to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_hexdigit()));
            if !(is_tmp || is_shard) || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(shard.path()).map_err(|e| named(e, "list", &shard.path()))? {
                let entry = entry?;
                let name = entry.file_name();
                let keep =
                    !is_tmp && name.to_str().is_none_or(|sha| referenced.contains(sha) || self.path_of(sha).is_none());
                if keep || !old(&entry) {
                    swept.kept += 1;
                    continue;
                }
                let removed =
                    if is_tmp { remove(&entry.path())? } else { self.remove_if_old(&entry.path(), &name, cutoff)? };
                if removed {
                    swept.removed += 1;
                } else {
                    swept.kept += 1;
                }
            }
        }
        Ok(swept)
    }

    /// Deletes those of `candidates` that are not in `referenced` and older than `grace`
    /// (younger ones may belong to a message being applied: the sweep deletes them later).
    /// `None` when a backup holds a [`DeletionPause`]: nothing was deleted.
    pub fn remove_unreferenced(
        &self,
        candidates: &HashSet<String>,
        referenced: &HashSet<String>,
        grace: Duration,
    ) -> std::io::Result<Option<Swept>> {
        let Some(_deleting) = self.may_delete()? else { return Ok(None) };
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut swept = Swept::default();
        for sha in candidates.iter().filter(|sha| !referenced.contains(*sha)) {
            let Some(path) = self.path_of(sha) else { continue };
            if self.remove_if_old(&path, std::ffi::OsStr::new(sha), cutoff)? {
                swept.removed += 1;
            } else if path.exists() {
                swept.kept += 1;
            }
        }
        Ok(Some(swept))
    }

    /// Holds back every deletion of blobs ([`Blobs::sweep`], [`Blobs::remove_unreferenced`])
    /// until the pause is dropped, in this process and in any other using the same
    /// directory: what a backup takes before it reads the database, so that every blob its
    /// snapshot names is still there when it is copied. Waits for a deletion under way.
    /// Several pauses may be held at once.
    pub fn pause_deletions(&self) -> std::io::Result<DeletionPause> {
        let file = self.lock_file()?;
        let path = self.dir.join(PAUSE_LOCK);
        file.lock_shared().map_err(|e| named(e, "lock", &path))?;
        Ok(DeletionPause { _file: file })
    }

    /// The right to delete blobs, held while deleting; `None` while a backup pauses
    /// deletions.
    fn may_delete(&self) -> std::io::Result<Option<std::fs::File>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(named(e, "lock", &self.dir.join(PAUSE_LOCK))),
        }
    }

    fn lock_file(&self) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(PAUSE_LOCK);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| named(e, "open", &path))
    }

    /// The directory of the blobs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Deletes the blob at `path` unless it was refreshed after `cutoff`, safe against a
    /// `put` of the same content meanwhile. The file is first renamed aside (so a `put`
    /// from now on finds no blob and writes a new one), its time is checked again, and it
    /// is put back when a `put` refreshed it; a `put` that refreshed it through a handle
    /// opened before the rename sees that the name no longer leads to its file and writes
    /// the blob again (see [`touch`]). Returns whether it was deleted.
    fn remove_if_old(&self, path: &Path, name: &std::ffi::OsStr, cutoff: SystemTime) -> std::io::Result<bool> {
        let mut aside = std::ffi::OsString::from("swept-");
        aside.push(name);
        let aside = self.dir.join("tmp").join(aside);
        match std::fs::rename(path, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(named(e, "move aside", path)),
        }
        let refreshed = std::fs::metadata(&aside).and_then(|m| m.modified()).map_or(true, |at| at >= cutoff);
        if !refreshed {
            return remove(&aside);
        }
        // Back into place; a blob written there meanwhile has the same content.
        std::fs::rename(&aside, path).map_err(|e| named(e, "put back", path))?;
        Ok(false)
    }

    /// Reads the blob named `sha`, if it exists.
    pub fn get(&self, sha: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path_of(sha) else { return Ok(None) };
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(named(e, "read", &path)),
        }
    }
}

impl Conn {
    /// The SHA-256 of every blob something still refers to: attachments, the files of
    /// outbox rows (`outbox.attachments` JSON) and quarantined mail.
    pub async fn referenced_blobs(&mut self) -> Result<HashSet<String>> {
        let (mut shas, outbox): (Vec<String>, Vec<String>) = on_conn!(self, c => {
            let shas = sqlx::query_scalar::<_, String>(
                "SELECT sha256 FROM attachments UNION SELECT raw_sha256 FROM quarantine UNION SELECT sha256 FROM solution_files")
                .fetch_all(&mut *c).await?;
            let outbox = sqlx::query_scalar::<_, String>(
                "SELECT attachments FROM outbox WHERE attachments IS NOT NULL")
                .fetch_all(&mut *c).await?;
            (shas, outbox)
        });
        for files in outbox {
            let files: serde_json::Value =
                serde_json::from_str(&files).map_err(|e| StoreError::Corrupt(format!("outbox.attachments: {e}")))?;
            let listed = files.as_array().into_iter().flatten();
            shas.extend(listed.filter_map(|f| f.get("sha256")?.as_str().map(str::to_string)));
        }
        Ok(shas.into_iter().collect())
    }
}

impl Store {
    /// Deletes the blobs nothing refers to any more, sparing those younger than `grace`
    /// (see [`Blobs::sweep`]).
    pub async fn sweep_blobs(&self, grace: Duration) -> Result<Swept> {
        // Asked first, so that a paused sweep does not read every reference for nothing.
        let blobs = self.blobs.clone();
        if tokio::task::spawn_blocking(move || blobs.may_delete()).await?.map_err(StoreError::Blob)?.is_none() {
            return Ok(Swept { paused: true, ..Swept::default() });
        }
        let referenced = self.conn().await?.referenced_blobs().await?;
        let blobs = self.blobs.clone();
        let swept = tokio::task::spawn_blocking(move || blobs.sweep(&referenced, grace)).await?;
        swept.map_err(StoreError::Blob)
    }
}

/// Why [`Blobs::put_reader`] stored nothing: its input failed, or the blob store did.
#[derive(Debug, thiserror::Error)]
pub enum PutReaderError {
    /// Reading the input failed.
    #[error("reading the input: {0}")]
    Input(std::io::Error),
    /// Writing the blob failed (the error names the file).
    #[error("{0}")]
    Store(#[from] std::io::Error),
}

/// What a [`Blobs::sweep`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Files deleted.
    pub removed: usize,
    /// Files kept (referenced, or too young to tell).
    pub kept: usize,
    /// A backup paused deletions: nothing was looked at.
    pub paused: bool,
}

/// The lock file in the blob directory: held shared by backups ([`DeletionPause`]),
/// exclusively (without waiting) by whatever deletes blobs.
const PAUSE_LOCK: &str = "deletions.lock";

/// While held, no blob is deleted by any process (see [`Blobs::pause_deletions`]).
#[derive(Debug)]
pub struct DeletionPause {
    _file: std::fs::File,
}

/// Deletes `path`; false when it was gone already.
fn remove(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(named(e, "remove", path)),
    }
}

/// Makes an existing blob young again (so a sweep spares it until its reference commits);
/// false when there is no such blob. The name must still lead to the refreshed file
/// afterwards: a sweep may have moved it aside between the open and the refresh (it then
/// deletes it or puts it back), and only a blob refreshed in place is known to stay. A
/// blob this process may not touch is still there: storing goes on (the refresh is a
/// courtesy to the sweep, not a condition).
fn touch(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::File::options().append(true).open(path) {
        Ok(file) => {
            let _ = file.set_modified(SystemTime::now());
            let opened = file.metadata()?;
            match std::fs::metadata(path) {
                Ok(now) => Ok(now.dev() == opened.dev() && now.ino() == opened.ino()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) if path.exists() => {
            tracing::debug!(error = %e, "cannot refresh an existing blob");
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// `e` with what was being done to which path, so the message says where it failed.
fn named(e: std::io::Error, action: &str, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot {action} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let a = blobs.put(b"hello").unwrap();
        let b = blobs.put(b"hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(blobs.get(&a).unwrap().unwrap(), b"hello");
        let files = walk(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(blobs.get("../../etc/passwd").unwrap().is_none());
        let (streamed, size) = blobs.put_reader(&b"hello"[..]).unwrap();
        assert_eq!((streamed.as_str(), size), (a.as_str(), 5));
        assert_eq!(walk(dir.path()).len(), 1, "streaming the same content stores nothing new");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
        out
    }

    /// Makes the blob `sha` look `age` old, as an unreferenced blob due for the sweep.
    fn age(blobs: &Blobs, sha: &str, age: Duration) {
        let path = blobs.path_of(sha).unwrap();
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn a_put_racing_the_sweep_of_the_same_content_always_leaves_the_blob_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let grace = Duration::from_secs(3600);
        let bytes = b"an attachment that was swept and sent again".to_vec();
        let sha = blobs.put(&bytes).unwrap();
        let nothing = HashSet::new();
        for round in 0..2000 {
            age(&blobs, &sha, 2 * grace);
            let barrier = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                s.spawn(|| {
                    barrier.wait();
                    blobs.sweep(&nothing, grace).unwrap();
                });
                barrier.wait();
                // A message being applied stores its attachment, then commits a reference.
                assert_eq!(blobs.put(&bytes).unwrap(), sha);
            });
            // The put returned: the blob must be there for the reference about to commit.
            assert!(blobs.get(&sha).unwrap().is_some(), "round {round}: the blob was deleted after its put");
        }
    }
}
