//! The shared state handed to every task and handler: config, store, inbound settings and
//! the outbox's wake-up signal. Passed as `Arc<App>`, never global.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::{Config, MIN_SECRET_BYTES};
use crate::inbound;
use crate::store::{Store, StoreError, StoreOptions};

/// Everything a running maildesk shares.
#[derive(Debug)]
pub struct App {
    /// The configuration: loaded at start, its safe parts replaced by a reload (SIGHUP).
    /// Read it through [`App::config`].
    config: arc_swap::ArcSwap<Config>,
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
    pub poison: crate::workers::PoisonMarks,
    /// The threads interpreting messages, and how many were abandoned stuck.
    pub workers: crate::workers::Workers,
    /// The key the portal signs with (CSRF tokens), derived from the reply-address key
    /// under a label of its own (`ReplyAddresses::derive_key`): never the reply key itself.
    pub portal_key: [u8; 32],
    /// The tickets that just changed, as `desk::live` reads them from the store's feed of
    /// changes: what the portal's open pages listen to.
    pub changes: tokio::sync::broadcast::Sender<crate::domain::TicketNumber>,
    /// This node's search index of the knowledge base, once opened (`desk::kb::index`).
    pub kb_index: std::sync::Mutex<Option<Arc<crate::kb::index::SolutionIndex>>>,
    /// Held while this process opens its search index: one opening at a time, so that the
    /// first (the writer, when no other process of the data directory is) is the one kept.
    pub kb_opening: tokio::sync::Mutex<()>,
    /// The knowledge base's categories and their counts as anonymous visitors (false) and
    /// customers (true) see them, at a revision of the knowledge base
    /// (`desk::kb_pages`).
    pub kb_categories: std::sync::Mutex<Vec<KeptCategories>>,
    /// What the daemon's parts (sources, sender, portal) say of themselves.
    pub health: crate::health::Health,
    /// Who this run of this node is in the lease table: `<cluster.node>#<random>`, new at
    /// each start (see `sources::lease`).
    pub holder: String,
    /// Held while one of this node's mailbox leases decides whether to hand its mailbox
    /// over to balance the nodes (`sources::lease`): each decides on the count the one
    /// before left, so the node hands over exactly what it has too many.
    pub balancing: tokio::sync::Mutex<()>,
}

/// The knowledge base's categories with their counts, as kept at a revision: (revision,
/// seen by customers rather than anonymous visitors, the categories and counts).
pub type KeptCategories = (i64, bool, Vec<(String, i64)>);

/// How often housekeeping looks for blobs nothing refers to any more.
pub const BLOB_SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// How old an unreferenced blob must be to be deleted: a message being applied stores its
/// blobs before its transaction commits.
pub const BLOB_GRACE: Duration = Duration::from_secs(3600);

impl App {
    /// Opens the store named in `config` and builds the shared state. The data directory
    /// is made private to the owner (0700) when this creates it.
    pub async fn open(config: Config) -> Result<Arc<App>, StoreError> {
        create_private_dir(&config.data_dir)?;
        // On SQLite the key is this node's (a file beside the database); on PostgreSQL every
        // node signs with one key, kept in the database (see `shared_reply_key`).
        let own_key = match config.database.shared() {
            true => None,
            false => Some(reply_key(&config, true)?.unwrap_or_default()),
        };
        let store = Store::open(&StoreOptions {
            url: config.database.url.clone(),
            max_connections: config.database.max_connections,
            busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
            blob_dir: config.blob_dir(),
        })
        .await?;
        // Read at every start (of `maildesk ingest` too): the connection goes back to the
        // pool at once, ready for the statements that follow.
        let (key, since) = store
            .with(async |db| {
                let key = match own_key {
                    Some(key) => key,
                    None => shared_reply_key(&config, db).await?,
                };
                Ok((key, db.reply_mac_80_bit_since().await?))
            })
            .await?;
        let legacy = accept_legacy_reply_macs(since, crate::store::now(), config.desk.reopen_days);
        let mut app = App::with_store(config, store, &key);
        app.inbound = app.inbound.accept_legacy_reply_addresses(legacy);
        Ok(Arc::new(app))
    }

    /// Builds the shared state around an already open store, signing reply addresses with
    /// `reply_key` (tests use this).
    pub fn with_store(config: Config, store: Store, reply_key: &[u8]) -> App {
        let inbound = config.inbound_settings(Some(reply_key));
        let reply_addresses = inbound::ReplyAddresses::new(&config.desk.address, reply_key);
        let portal_key = reply_addresses.derive_key("portal");
        let holder = run_of(&config.cluster.node, &format!("{:08x}", rand::random::<u32>()));
        App {
            config: arc_swap::ArcSwap::from_pointee(config),
            store,
            inbound,
            reply_addresses,
            outbox_wake: Notify::new(),
            intake_backlog: std::sync::atomic::AtomicBool::new(false),
            poison: crate::workers::PoisonMarks::default(),
            workers: crate::workers::Workers::default(),
            portal_key,
            changes: tokio::sync::broadcast::channel(1024).0,
            kb_index: std::sync::Mutex::new(None),
            kb_opening: tokio::sync::Mutex::new(()),
            kb_categories: std::sync::Mutex::new(Vec::new()),
            health: crate::health::Health::default(),
            holder,
            balancing: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration as it is now. Read it once per piece of work: a reload may replace
    /// it between two reads.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// Replaces the configuration (a reload that changed only what may change while running).
    pub fn replace_config(&self, config: Config) {
        self.config.store(Arc::new(config));
    }

    /// Deletes blobs nothing refers to any more (older than [`BLOB_GRACE`]); housekeeping
    /// calls it every [`BLOB_SWEEP_EVERY`]. Failures are logged and tried again next time.
    pub async fn sweep_blobs(&self) {
        match self.store.sweep_blobs(BLOB_GRACE).await {
            Ok(swept) if swept.paused => tracing::info!("a backup is running; removing unreferenced blobs waits"),
            Ok(swept) if swept.removed > 0 => {
                tracing::info!(removed = swept.removed, kept = swept.kept, "removed unreferenced blobs")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "removing unreferenced blobs failed; trying again later"),
        }
    }
}

/// How run `run` of node `node` holds leases: `<node>#<run>` (the runs of a node are the
/// holders starting `<node>#`).
pub fn run_of(node: &str, run: &str) -> String {
    format!("{node}#{run}")
}

/// Whether replies through the 48-bit reply addresses of earlier versions still count:
/// for `reopen_days` after `since`, the first start with 80-bit ones (a reply within that
/// time can still reopen its ticket). Decided at start; a daemon running past the end keeps
/// accepting them until it restarts.
pub fn accept_legacy_reply_macs(since: Option<i64>, now: i64, reopen_days: u64) -> bool {
    let window = i64::try_from(reopen_days).unwrap_or(i64::MAX / 2).saturating_mul(86_400);
    since.is_some_and(|since| now < since.saturating_add(window))
}

/// Creates `dir` (and missing parents) readable by the owner only, whatever the umask. An
/// existing directory keeps its mode: the admin chose it.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(StoreError::file("create the data directory", dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(StoreError::file("make private the data directory", dir))
}

/// The setting holding the reply-address key nodes on one PostgreSQL share, when
/// `desk.secret` is empty.
const SHARED_REPLY_KEY: &str = "reply_key";

/// The setting holding a check of the reply-address key the nodes sign with (a MAC of a
/// fixed text under the key, never the key): a node with another key is refused at start.
const REPLY_KEY_CHECK: &str = "reply_key_check";

/// A check of `key` that does not give the key away: HMAC-SHA256 of a fixed text, hex.
fn key_check(key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(b"maildesk reply-address key check");
    hex::encode(mac.finalize().into_bytes())
}

/// Why a node may not sign with its reply-address key: another node signs with another.
fn other_key(what: String) -> StoreError {
    StoreError::Refused(format!(
        "{what}: the nodes on this database would take each other's reply addresses for forgeries. \
         Give every node the same desk.secret (or none: the nodes then share a generated key kept in the \
         database). To change the key of every node on purpose, stop them all and delete the setting \
         {REPLY_KEY_CHECK:?} from the settings table first"
    ))
}

/// The reply-address key of a node on PostgreSQL, which all nodes on the database share:
/// `desk.secret` when set; else the key kept in the database, made by the first node (a key
/// a single node kept in `<data_dir>/reply-secret` before goes into the database first, so
/// that its reply addresses stay valid). A node whose key differs from the one the others
/// sign with (by the check kept beside it) is refused, as is a kept file that differs from
/// the database's key.
async fn shared_reply_key(config: &Config, db: &mut crate::store::Conn) -> Result<Vec<u8>, StoreError> {
    let key = if !config.desk.secret.is_empty() {
        config.desk.secret.expose().as_bytes().to_vec()
    } else {
        let kept = reply_key(config, false)?;
        let offered = kept.clone().map_or_else(new_reply_key, |kept| String::from_utf8_lossy(&kept).into_owned());
        let key = db.set_setting_once(SHARED_REPLY_KEY, &offered).await?.into_bytes();
        if kept.is_some_and(|kept| kept != key) {
            return Err(other_key(format!(
                "{} holds another reply-address key than the one the nodes share in the database; remove that \
                 file to use the database's (reply addresses this node handed out would no longer be recognised)",
                reply_secret_path(config).display()
            )));
        }
        key
    };
    let check = key_check(&key);
    if db.set_setting_once(REPLY_KEY_CHECK, &check).await? != check {
        return Err(other_key("this node's reply-address key differs from the one the other nodes sign with".into()));
    }
    Ok(key)
}

/// Where the generated reply-address key is kept when `desk.secret` is empty.
pub fn reply_secret_path(config: &Config) -> PathBuf {
    config.data_dir.join("reply-secret")
}

/// The reply-address key: `desk.secret`, else the one kept in the data directory,
/// made now (64 random hex digits, readable by the owner only) when `create` and missing.
/// A kept key shorter than [`MIN_SECRET_BYTES`] is refused, like a short `desk.secret`.
pub fn reply_key(config: &Config, create: bool) -> Result<Option<Vec<u8>>, StoreError> {
    if !config.desk.secret.is_empty() {
        return Ok(Some(config.desk.secret.expose().as_bytes().to_vec()));
    }
    let path = reply_secret_path(config);
    let read = || crate::kept::read(&path).map_err(StoreError::file("read the reply key", path.clone()));
    let kept = match read()?.filter(|key| !key.is_empty()) {
        Some(key) => key,
        None if !create => return Ok(None),
        None => {
            create_private_dir(&config.data_dir)?;
            // The loser of a race reads the winner's key.
            crate::kept::write_once(&path, &new_reply_key())
                .map_err(StoreError::file("write the reply key to", path.clone()))?;
            read()?.unwrap_or_default()
        }
    };
    if kept.len() < MIN_SECRET_BYTES {
        return Err(StoreError::File {
            action: "use the reply key in",
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("it is shorter than {MIN_SECRET_BYTES} bytes; delete it to have a new one made"),
            ),
        });
    }
    Ok(Some(kept.into_bytes()))
}

/// A new random reply-address key: 64 hex digits.
fn new_reply_key() -> String {
    (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect()
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

    #[test]
    fn the_generated_key_is_long_and_a_short_kept_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::load(None, Vec::new()).unwrap();
        config.data_dir = dir.path().to_path_buf();
        let key = reply_key(&config, true).unwrap().unwrap();
        assert!(key.len() >= MIN_SECRET_BYTES, "{} bytes", key.len());
        std::fs::write(reply_secret_path(&config), "short\n").unwrap();
        let err = reply_key(&config, true).unwrap_err().to_string();
        assert!(err.contains("reply-secret") && err.contains("shorter than 32 bytes"), "{err}");
    }

    #[test]
    fn a_data_directory_that_cannot_be_made_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "").unwrap();
        let mut config = Config::load(None, Vec::new()).unwrap();
        config.data_dir = dir.path().join("file/var");
        let err = create_private_dir(&config.data_dir).unwrap_err().to_string();
        let expected = format!("cannot create the data directory {}: ", config.data_dir.display());
        assert!(err.starts_with(&expected), "{err}");
        // Where the key itself cannot be read, its file is named.
        config.data_dir = dir.path().to_path_buf();
        std::fs::create_dir(reply_secret_path(&config)).unwrap();
        let err = reply_key(&config, true).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot read the reply key {}", reply_secret_path(&config).display())),
            "{err}"
        );
    }

    #[test]
    fn legacy_reply_macs_count_for_reopen_days_after_the_upgrade() {
        let day = 86_400;
        assert!(accept_legacy_reply_macs(Some(1_000 * day), 1_000 * day + 13 * day, 14));
        assert!(!accept_legacy_reply_macs(Some(1_000 * day), 1_000 * day + 14 * day, 14));
        assert!(!accept_legacy_reply_macs(None, 0, 14), "no date: nothing from before to honour");
        assert!(!accept_legacy_reply_macs(Some(0), 1, 0));
        assert!(accept_legacy_reply_macs(Some(0), 1, u64::MAX));
    }

    #[test]
    fn a_new_data_directory_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/var");
        create_private_dir(&data).unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
