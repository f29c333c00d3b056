//! `maildesk backup DEST` and `maildesk restore SRC`: a consistent copy of the data
//! directory while the daemon runs, and filling an empty data directory from one. The work
//! is `desk::backup`'s; this prints what was done and what the admin must still do.

use std::path::Path;

use crate::config::Config;
use crate::desk::backup::{self, DatabaseCopy, KeyCopy, Manifest};

pub(super) async fn run_backup(config: Config, dest: &Path) -> i32 {
    let app = match super::open(config).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    let made = backup::backup(&app, dest).await;
    app.store.close().await;
    match made {
        Ok(manifest) => {
            eprintln!("maildesk: backup written to {}: {}", dest.display(), summary(&manifest));
            if manifest.database == DatabaseCopy::PostgresNotIncluded {
                eprintln!(
                    "maildesk: the database is PostgreSQL and is NOT in this backup: dump it with pg_dump \
                     just before each `maildesk backup` (README, \"Backups\"), and keep the dump beside it"
                );
            }
            warn_about(&manifest);
            0
        }
        Err(e) => {
            eprintln!("maildesk: backup failed: {e}");
            super::EXIT_FAILURE
        }
    }
}

pub(super) async fn run_restore(config: Config, src: &Path) -> i32 {
    let data_dir = config.data_dir.clone();
    match backup::restore(&config, src).await {
        Ok(restored) => {
            eprintln!(
                "maildesk: restored {} into {}: {} ticket(s), {} comment(s), {} attachment(s), {} contact(s), {} blob(s)",
                src.display(),
                data_dir.display(),
                restored.counts.tickets,
                restored.counts.comments,
                restored.counts.attachments,
                restored.counts.contacts,
                restored.blobs
            );
            warn_about(&restored.manifest);
            0
        }
        Err(e) => {
            eprintln!("maildesk: restore failed; nothing was changed: {e}");
            super::EXIT_FAILURE
        }
    }
}

fn summary(m: &Manifest) -> String {
    format!(
        "{} ticket(s), {} comment(s), {} attachment(s), {} contact(s); {} blob(s) ({} bytes)",
        m.counts.tickets, m.counts.comments, m.counts.attachments, m.counts.contacts, m.blobs, m.blob_bytes
    )
}

fn warn_about(m: &Manifest) {
    match m.reply_key {
        KeyCopy::InConfig => {
            eprintln!("maildesk: the reply-address key is desk.secret in the config: keep the config with the backup")
        }
        KeyCopy::InDatabase => {
            eprintln!("maildesk: the reply-address key is kept in the PostgreSQL database: its dump holds it")
        }
        KeyCopy::Copied | KeyCopy::None => {}
    }
    if !m.missing_blobs.is_empty() {
        eprintln!(
            "maildesk: warning: {} blob(s) the database names were missing or damaged in the data directory \
             when the backup was made (listed in {})",
            m.missing_blobs.len(),
            backup::MANIFEST
        );
    }
}
