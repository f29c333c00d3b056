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
    /// What inbound needs to know (subject tag, our domain), built once.
    pub inbound: inbound::Settings,
    /// Woken when desk has queued mail, so the sender need not wait for its next poll.
    pub outbox_wake: Notify,
}

impl App {
    /// Opens the store named in `config` and builds the shared state.
    pub async fn open(config: Config) -> Result<Arc<App>, StoreError> {
        let store = Store::open(&StoreOptions {
            url: config.database.url.clone(),
            max_connections: config.database.max_connections,
            busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
            blob_dir: config.data_dir.join("blobs"),
        })
        .await?;
        Ok(Arc::new(App::with_store(config, store)))
    }

    /// Builds the shared state around an already open store (tests use this).
    pub fn with_store(config: Config, store: Store) -> App {
        let inbound = config.inbound_settings();
        App { config, store, inbound, outbox_wake: Notify::new() }
    }
}
