//! The shared state handed to every task and handler: config, store, inbound settings and
//! the outbox's wake-up signal. Passed as `Arc<App>`, never global.

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
}

impl App {
    /// Opens the store named in `config` and builds the shared state.
    pub async fn open(config: Config) -> Result<Arc<App>, StoreError> {
        let key = config.reply_key(true)?.unwrap_or_default();
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
        App { config, store, inbound, reply_addresses, outbox_wake: Notify::new() }
    }
}
