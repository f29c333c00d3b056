//! The shared state handed to every task and handler: config, store, inbound settings and
//! the outbox's wake-up signal. Passed as `Arc<App>`, never global.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Config;
use crate::inbound;
use crate::store::{Store, StoreError, StoreOptions};

/// Everything a running maildesk shares.
#[derive(Debug)]
pub struct App {
    /// The loaded configuration.
    pub config: Config,
    /// Database and blobs.
    pub store: Store,
    /// What inbound needs to know (subject tag, our domain, reply-address key), built once.
    pub inbound: inbound::Settings,
    /// Signs the reply addresses of our notifications.
    pub reply_addresses: inbound::ReplyAddresses,
    /// Woken when desk has queued mail, so the sender need not wait for its next poll.
    pub outbox_wake: Notify,
    /// Set while a source works through a backlog: incoming mail goes first, and the
    /// sender takes one claim a second until it is done.
    pub intake_backlog: std::sync::atomic::AtomicBool,
    /// Messages that were in hand when a worker failed or hung, read once from the store.
    pub poison: crate::desk::PoisonMarks,
}

impl App {
    /// Opens the store named in `config` and builds the shared state.
    pub async fn open(config: Config) -> Result<Arc<App>, StoreError> {
        let key = reply_key(&config, true)?.unwrap_or_default();
        let store = Store::open(&StoreOptions {
            url: config.database.url.clone(),
            max_connections: config.database.max_connections,
            busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
            blob_dir: config.data_dir.join("blobs"),
        })
        .await?;
        Ok(Arc::new(App::with_store(config, store, &key)))
    }

    /// Builds the shared state around an already open store, signing reply addresses with
    /// `reply_key` (tests use this).
    pub fn with_store(config: Config, store: Store, reply_key: &[u8]) -> App {
        let inbound = config.inbound_settings(Some(reply_key));
        let reply_addresses = inbound::ReplyAddresses::new(&config.desk.address, reply_key);
        App {
            config,
            store,
            inbound,
            reply_addresses,
            outbox_wake: Notify::new(),
            intake_backlog: std::sync::atomic::AtomicBool::new(false),
            poison: crate::desk::PoisonMarks::default(),
        }
    }
}

/// Where the generated reply-address key is kept when `desk.secret` is empty.
pub fn reply_secret_path(config: &Config) -> PathBuf {
    config.data_dir.join("reply-secret")
}

/// The reply-address key: `desk.secret`, else the one kept in the data directory,
/// made now (random, readable by the owner only) when `create` and missing.
pub fn reply_key(config: &Config, create: bool) -> std::io::Result<Option<Vec<u8>>> {
    if !config.desk.secret.is_empty() {
        return Ok(Some(config.desk.secret.expose().as_bytes().to_vec()));
    }
    let path = reply_secret_path(config);
    let read = || match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().as_bytes().to_vec())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    if let Some(key) = read()? {
        return Ok(Some(key));
    }
    if !create {
        return Ok(None);
    }
    // Written whole to a private temporary file, then linked into place only if no other
    // process got there first; the loser reads the winner's key.
    use std::io::Write;
    std::fs::create_dir_all(&config.data_dir)?;
    let key: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
    let mut file = tempfile::NamedTempFile::new_in(&config.data_dir)?;
    file.write_all(key.as_bytes())?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(&path) {
        Ok(_) => Ok(Some(key.into_bytes())),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => read(),
        Err(e) => Err(e.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_key_is_made_once_even_when_raced() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None, Vec::new()).unwrap();
        config.data_dir = dir.path().join("var");
        assert_eq!(reply_key(&config, false).unwrap(), None, "not made unless asked");
        let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| reply_key(&config, true).unwrap().unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0] && k.len() == 64), "one key for all");
        assert_eq!(reply_key(&config, false).unwrap(), Some(keys[0].clone()));
        config.desk.secret = crate::config::Secret::new("configured");
        assert_eq!(reply_key(&config, true).unwrap(), Some(b"configured".to_vec()));
    }
}
