//! The data directory: there (or makeable), a directory, writable by this user, and not
//! open to other users, since the reply key, the database and every mail live in it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{Finding, Verdict};
use crate::config::Config;

/// Looks at `data_dir` and the reply key kept in it; creates nothing.
pub fn check(config: &Config) -> Vec<Finding> {
    let dir = &config.data_dir;
    let shown = if dir.as_os_str().is_empty() { ".".to_string() } else { dir.display().to_string() };
    let finding = |verdict, detail: String| Finding::new("data", shown.clone(), verdict, detail);
    let user = format!("uid {}", euid());
    let meta = match std::fs::metadata(if dir.as_os_str().is_empty() { Path::new(".") } else { dir }) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let ancestor = dir.ancestors().skip(1).find(|a| a.as_os_str().is_empty() || a.exists());
            let ancestor = ancestor.filter(|a| !a.as_os_str().is_empty()).unwrap_or(Path::new("."));
            return vec![if writable(ancestor) {
                finding(Verdict::Warn, "does not exist yet".into())
                    .fix("`maildesk serve` creates it (mode 0700) at first start")
            } else {
                finding(Verdict::Fail, format!("does not exist, and {user} cannot create it in {}", ancestor.display()))
                    .fix(format!("create it for the user maildesk runs as: install -d -m 700 -o USER {shown}"))
            }];
        }
        Err(e) => {
            return vec![
                finding(Verdict::Fail, format!("cannot be read: {e}")).fix("check the permissions of its parents"),
            ];
        }
    };
    if !meta.is_dir() {
        return vec![finding(Verdict::Fail, "is not a directory".into()).fix("set data_dir to a directory")];
    }
    if !writable(dir) {
        return vec![
            finding(Verdict::Fail, format!("not writable by {user}")).fix(format!(
                "chown it to the user maildesk runs as, or run maildesk as its owner: chown USER {shown}"
            )),
        ];
    }
    let mode = meta.permissions().mode() & 0o777;
    let mut found = vec![format!("directory, writable by {user}, mode {mode:04o}")];
    let mut verdict = Verdict::Ok;
    let mut fixes = Vec::new();
    if mode & 0o002 != 0 {
        verdict = Verdict::Fail;
        found.push("writable by every user".into());
        fixes.push(format!("chmod 700 {shown}"));
    } else if mode & 0o077 != 0 {
        verdict = Verdict::Warn;
        found.push("open to other users (the reply key, the database and all mail are in it)".into());
        fixes.push(format!("chmod 700 {shown}"));
    }
    if config.desk.secret.is_empty() {
        let key = crate::app::reply_secret_path(config);
        match std::fs::metadata(&key) {
            Ok(meta) => {
                let key_mode = meta.permissions().mode() & 0o777;
                if key_mode & 0o077 != 0 {
                    // Behind a private directory nobody else reaches it; behind an open
                    // one, anyone can forge reply addresses.
                    let open_dir = mode & 0o011 != 0;
                    verdict = verdict.max(if open_dir { Verdict::Fail } else { Verdict::Warn });
                    found.push(format!("reply key readable by others (mode {key_mode:04o})"));
                    fixes.push(format!("chmod 600 {}", key.display()));
                } else {
                    found.push(format!("reply key present (mode {key_mode:04o})"));
                }
            }
            Err(_) => found.push("no reply key yet (made at first start)".into()),
        }
    } else {
        found.push("reply key from desk.secret".into());
    }
    let finding = finding(verdict, found.join("; "));
    vec![if fixes.is_empty() { finding } else { finding.fix(fixes.join("; ")) }]
}

/// The effective user id of this process.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this user may create files in `dir` (write and search permission), as the
/// kernel decides it (ACLs, root, read-only mounts included).
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else { return false };
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}
