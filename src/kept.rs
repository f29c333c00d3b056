//! Small values a node keeps in files of their own (its reply-address key, a Maildir's
//! name among the nodes): read whole, and written once, whole, by whichever process comes
//! first.

use std::io::Write;
use std::path::Path;

/// The text in the file `path`, trimmed; `None` when there is no such file.
pub fn read(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `text` to the new file `path`, readable by the owner only: whole to a temporary
/// file beside it, synced, then linked into place only if no other process got there
/// first. Whether this call wrote it (false: the file was there, and is left as it is).
pub fn write_once(path: &Path, text: &str) -> std::io::Result<bool> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_writer_wins_and_the_others_read_its_text() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept");
        assert_eq!(read(&path).unwrap(), None);
        let wrote: Vec<bool> = std::thread::scope(|s| {
            let path = &path;
            let handles: Vec<_> = (0..8).map(|i| s.spawn(move || write_once(path, &format!("v{i}\n")))).collect();
            handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        assert_eq!(wrote.iter().filter(|w| **w).count(), 1, "one writer: {wrote:?}");
        let text = read(&path).unwrap().unwrap();
        assert!(text.starts_with('v') && text.len() == 2, "whole and trimmed: {text:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
