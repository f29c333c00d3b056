//! Listing a Maildir's messages for an import: every file in `new/` and `cur/` with the
//! dates found for it, reading no more than each one's header section.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::date;

/// One message file of a Maildir and the dates found for it.
#[derive(Debug, Clone)]
pub(super) struct MessageFile {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its Date header, when that parses.
    pub header: Option<i64>,
    /// Its modification time (Unix seconds).
    pub mtime: i64,
}

/// Why a Maildir cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The directory or file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither `new/` nor `cur/` is there.
    #[error("{0} is not a Maildir: it has neither a new/ nor a cur/ directory")]
    NotMaildir(String),
}

/// How much of a file's start is read to find its Date header.
const HEAD: u64 = 64 * 1024;

/// The messages of the Maildir `dir` (`new/`, then `cur/`; each by name). Files whose
/// name starts with a dot are skipped, as Maildir readers do.
pub(super) fn list(dir: &Path) -> Result<Vec<MessageFile>, MaildirError> {
    let unreadable = |path: &Path| {
        let path = path.display().to_string();
        move |source| MaildirError::Read { path, source }
    };
    let subdirs: Vec<PathBuf> = ["new", "cur"].iter().map(|d| dir.join(d)).filter(|d| d.is_dir()).collect();
    if subdirs.is_empty() {
        return Err(MaildirError::NotMaildir(dir.display().to_string()));
    }
    let mut files = Vec::new();
    for sub in subdirs {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&sub).map_err(unreadable(&sub))? {
            let entry = entry.map_err(unreadable(&sub))?;
            let hidden = entry.file_name().as_encoded_bytes().starts_with(b".");
            if !hidden && entry.file_type().map_err(unreadable(&sub))?.is_file() {
                names.push(entry.path());
            }
        }
        names.sort();
        for path in names {
            let meta = std::fs::metadata(&path).map_err(unreadable(&path))?;
            let mtime = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            let mut head = Vec::new();
            let file = std::fs::File::open(&path).map_err(unreadable(&path))?;
            file.take(HEAD).read_to_end(&mut head).map_err(unreadable(&path))?;
            let header = date::header_date(&head);
            files.push(MessageFile { path, size: meta.len(), header, mtime: mtime.map_or(0, |d| d.as_secs() as i64) });
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_cur_are_listed_without_hidden_files_and_a_plain_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(list(dir.path()), Err(MaildirError::NotMaildir(_))));
        for d in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("cur/2:2,S"), "Date: Mon, 3 Feb 2014 10:00:00 +0000\n\nx").unwrap();
        std::fs::write(dir.path().join("new/1"), "Subject: none\n\ny").unwrap();
        std::fs::write(dir.path().join("new/.hidden"), "z").unwrap();
        std::fs::write(dir.path().join("tmp/3"), "z").unwrap();
        let got = list(dir.path()).unwrap();
        let names: Vec<_> = got.iter().map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["1", "2:2,S"]);
        assert_eq!((got[0].header, got[1].header), (None, Some(1_391_421_600)));
    }
}
