//! Content-addressed files: attachment bytes and quarantined raw mail, stored once per
//! distinct content under `<dir>/<aa>/<sha256>`. Writing is idempotent and atomic (a
//! temporary file renamed into place), so a blob written before a transaction that then
//! rolls back is harmless: at worst an orphan, never a half file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
    /// Opens (creating when needed) the blob directory.
    pub fn open(dir: &Path) -> std::io::Result<Blobs> {
        std::fs::create_dir_all(dir.join("tmp"))?;
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
        if path.exists() {
            return Ok(sha);
        }
        std::fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("tmp"))?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_data()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(sha)
    }

    /// Stores everything `reader` yields without holding it in memory; returns the SHA-256
    /// hex and the size.
    pub fn put_reader(&self, mut reader: impl Read) -> std::io::Result<(String, u64)> {
        let mut tmp = tempfile::NamedTempFile::new_in(self.dir.join("tmp"))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            size += n as u64;
        }
        let sha = hex::encode(hasher.finalize());
        let path = self.path_of(&sha).expect("a hex digest is a valid name");
        if !path.exists() {
            std::fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
            tmp.as_file().sync_data()?;
            tmp.persist(&path).map_err(|e| e.error)?;
        }
        Ok((sha, size))
    }

    /// Reads the blob named `sha`, if it exists.
    pub fn get(&self, sha: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path_of(sha) else { return Ok(None) };
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
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
}
