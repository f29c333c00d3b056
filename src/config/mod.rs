//! Configuration: embedded defaults, then a TOML file, then `MAILDESK_SECTION__KEY`
//! environment variables. Loading reports every problem at once, each with its key, and
//! never half-applies a bad file. This module owns the shape of the config; it must not
//! open files other than the config file or connect to anything.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::{Assignment, EmailAddress};

mod connection;
mod imap;
mod reload;
pub use reload::{RELOADED_KEYS, changed_keys, is_reloaded};
mod smtp;

pub use connection::{Secret, TlsMode};
pub use imap::{AfterCommit, ImapMailbox};
pub use smtp::SmtpConfig;

/// Environment variables that start with this prefix override config keys.
pub const ENV_PREFIX: &str = "MAILDESK_";

/// Environment variables with the prefix that are not config keys.
const ENV_NOT_KEYS: &[&str] = &["MAILDESK_CONFIG", "MAILDESK_LOG", "MAILDESK_LOG_FORMAT", "MAILDESK_BLESS"];

/// The whole configuration of one maildesk node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Directory for the SQLite database, blobs, Maildir inbox and file outbox.
    pub data_dir: PathBuf,
    /// Where tickets are stored.
    pub database: DatabaseConfig,
    /// Who the helpdesk is: name, address, subject tag.
    pub desk: DeskConfig,
    /// The local Maildir source.
    pub maildir: MaildirConfig,
    /// How outgoing mail leaves.
    pub outbox: OutboxConfig,
    /// The web portal.
    pub portal: PortalConfig,
    /// Bounds on what is accepted.
    pub limits: LimitsConfig,
    /// Sender domains that belong to a customer organisation.
    pub organisations: Vec<OrganisationConfig>,
    /// IMAP mailboxes to read.
    pub imap: Vec<ImapMailbox>,
    /// Departments: their staff and assignment.
    pub departments: Vec<DepartmentConfig>,
    /// The SMTP server, for `outbox.transport = "smtp"`.
    pub smtp: Option<SmtpConfig>,
    /// Prometheus metrics and health checks on a listener of their own.
    pub metrics: MetricsConfig,
    /// Where attachments and quarantined raw mail are kept; empty means
    /// `<data_dir>/blobs`. Nodes sharing one PostgreSQL name one shared directory here.
    pub blob_dir: PathBuf,
    /// This node among several `serve` sharing one PostgreSQL.
    pub cluster: ClusterConfig,
}

/// `[cluster]`: how this node shares work with the other `maildesk serve` on one database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// This node's name, as the lease table shows who works a mailbox; empty means the
    /// host's name. Nodes on one host need names of their own.
    pub node: String,
    /// A mailbox whose node stopped (crashed, cut off, paused) is taken over by another
    /// node within this many seconds; its node renews its lease well within that time.
    pub takeover_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self { node: String::new(), takeover_secs: 30 }
    }
}

/// Whether `c` may be in a node's name: a letter, a digit, '.', '_' or '-'.
fn node_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-".contains(c)
}

/// Whether `name` may name a node: 1-64 of [`node_char`].
fn valid_node_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(node_char)
}

/// The host's name as a node name (characters a node name may not hold become '-'), or
/// `node` when the host has no usable name.
fn host_node_name() -> String {
    let host = hostname::get().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let name: String = host.chars().take(64).map(|c| if node_char(c) { c } else { '-' }).collect();
    if name.is_empty() { "node".into() } else { name }
}

/// `[metrics]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` are served; none (the default): off.
    pub listen: Option<SocketAddr>,
}

/// `[database]`
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`; empty means `sqlite://<data_dir>/maildesk.db`.
    pub url: String,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long a SQLite writer waits for a lock before giving up (milliseconds).
    pub busy_timeout_ms: u64,
}

/// `[desk]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DeskConfig {
    /// Display name used in From headers and pages.
    pub name: String,
    /// The support address customers write to, and the From of our mail.
    pub address: EmailAddress,
    /// The word in subject tags: `[<tag> #42]`.
    pub tag: String,
    /// A customer's reply to a resolved or closed ticket reopens it within this many days
    /// of the last change; later, it opens a new ticket that refers to the old one.
    pub reopen_days: u64,
    /// The key that signs reply addresses; empty means a random key kept in
    /// `<data_dir>/reply-secret`, made on first start.
    pub secret: Secret,
    /// Resolved tickets close themselves after this many days (0: never), and the
    /// customers are told.
    pub auto_close_days: u64,
    /// How long a customer may wait for an answer, by priority.
    pub response_hours: ResponseHours,
    /// The `authserv-id` of the receiving mail server whose `Authentication-Results`
    /// header is believed (empty: none is; no sender counts as authenticated).
    pub trusted_authserv_id: String,
}

/// `[desk.response_hours]`: the response target of each priority, in hours (0: none). A
/// ticket whose customer has waited longer for an answer is overdue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseHours {
    /// Target for low priority.
    pub low: u64,
    /// Target for medium priority.
    pub medium: u64,
    /// Target for high priority.
    pub high: u64,
    /// Target for urgent priority.
    pub urgent: u64,
}

impl Default for ResponseHours {
    fn default() -> Self {
        Self { low: 72, medium: 24, high: 8, urgent: 1 }
    }
}

impl ResponseHours {
    /// The target of `priority` in seconds, if it has one.
    pub fn secs(&self, priority: crate::domain::Priority) -> Option<i64> {
        use crate::domain::Priority::*;
        let hours = match priority {
            Low => self.low,
            Medium => self.medium,
            High => self.high,
            Urgent => self.urgent,
        };
        (hours > 0).then(|| i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX))
    }

    /// The target of each priority in seconds, in the order of `Priority::ALL`.
    pub fn targets(&self) -> [Option<i64>; 4] {
        use crate::domain::Priority::*;
        [Low, Medium, High, Urgent].map(|p| self.secs(p))
    }
}

/// `[[departments]]`: the staff of a department and how its new tickets are assigned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentConfig {
    /// The department's name, as in `imap.department`.
    pub name: String,
    /// Its staff (in addition to those added with `maildesk staff add --department`).
    #[serde(default)]
    pub staff: Vec<EmailAddress>,
    /// How new tickets are assigned: "" (not at all), "round-robin" (in turn among the
    /// department's staff), or one staff address.
    #[serde(default)]
    pub assign: Assignment,
}

/// `[maildir]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MaildirConfig {
    /// Whether `serve` reads the Maildir.
    pub enabled: bool,
    /// The Maildir (with `new/`, `cur/`, `tmp/`); empty means `<data_dir>/inbox`.
    pub path: PathBuf,
    /// How often `new/` is scanned (milliseconds).
    pub poll_interval_ms: u64,
}

/// Which way outgoing mail leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Write each mail as an `.eml` file into `outbox.dir`.
    File,
    /// Hand each mail to the `[smtp]` server.
    Smtp,
}

/// `[outbox]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxConfig {
    /// The transport used by the sender.
    pub transport: TransportKind,
    /// Target directory of the file transport; empty means `<data_dir>/outbox`.
    pub dir: PathBuf,
    /// How often the sender looks for due mail when nothing woke it (milliseconds).
    pub poll_interval_ms: u64,
    /// Attempts before a notification is marked failed.
    pub max_attempts: u32,
    /// Automatic mail (acknowledgements, invites) to one address in an hour, at most.
    pub max_automatic_per_recipient_per_hour: u32,
    /// The first retry after a temporary failure waits this long; each next one twice as long.
    pub retry_base_secs: u64,
    /// Automatic mail about one ticket in an hour, at most.
    pub max_automatic_per_ticket_per_hour: u32,
    /// Automatic mail of every kind, to anyone, in an hour, at most: what bounds the
    /// mail a flood of forged requests can make us send.
    pub max_automatic_per_hour: u32,
    /// Whether acknowledgements repeat the start of the request even when the sender is
    /// not authenticated (a forged From would make us send that text to a third party).
    pub quote_request: bool,
    /// A folder of template overrides, laid out as `templates/`:
    /// `mail/<kind>/{subject.txt,body.txt,body.html}` and `mail/layout.{txt,html}` found
    /// there replace the built-in ones (Jinja syntax; see `templates/mail/README.md`).
    /// Read and tried when `serve` starts.
    pub templates_dir: Option<PathBuf>,
}

/// `[portal]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalConfig {
    /// Whether `serve` runs the portal.
    pub enabled: bool,
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// The public URL of the portal, used in links in mail.
    pub base_url: String,
    /// Invite people who first write by mail to the portal.
    pub invite: bool,
    /// Days an invitation link works.
    pub invite_days: u64,
    /// argon2id memory cost of password hashes, KiB (OWASP's default: 19,456, 19 MiB).
    pub argon2_memory_kib: u32,
    /// argon2id passes (OWASP's default: 2).
    pub argon2_iterations: u32,
    /// argon2id lanes (OWASP's default: 1).
    pub argon2_parallelism: u32,
    /// A session unused this long ends, minutes.
    pub session_idle_minutes: u64,
    /// A session ends this long after its log-in however it is used, days.
    pub session_max_days: u64,
    /// Minutes a password reset link works.
    pub reset_minutes: u64,
    /// Hours an address verification link of a sign-up works.
    pub verify_hours: u64,
    /// Attempts (log-in, sign-up, reset) allowed from one client address per window.
    pub attempts_per_ip: u32,
    /// Attempts (log-in, sign-up, reset) allowed for one account address per window.
    pub attempts_per_address: u32,
    /// The window of those limits, minutes.
    pub rate_window_minutes: u64,
    /// Proxies in front of the portal: their `X-Forwarded-For` and `X-Forwarded-Proto`
    /// are believed (the client's address, and HTTPS for `Secure` cookies).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Leading zero bits of SHA-256 that the captcha's proof of work asks for: each bit
    /// doubles the work (the default takes about a second on a phone).
    pub captcha_bits: u32,
    /// Minutes a captcha challenge stays valid once the page is shown.
    pub captcha_minutes: u64,
    /// The largest file a customer may attach in the portal, bytes (0: no attachments);
    /// never more than `limits.max_message_bytes` (see [`Config::attachment_max_bytes`]).
    pub attachment_max_bytes: u64,
    /// How many files one reply or new request may carry.
    pub attachments_max: u32,
    /// Answers, new requests and changes of status one customer may make in the portal per
    /// `rate_window_minutes`.
    pub writes_per_contact: u32,
}

/// The default of `portal.captcha_bits`: 2^20 tries on average, about a second on a phone
/// (see `desk::captcha`).
pub const DEFAULT_CAPTCHA_BITS: u32 = 20;

/// The most `portal.captcha_bits` may ask: 2^28 tries are minutes on a phone already.
pub const MAX_CAPTCHA_BITS: u32 = 28;

/// `[limits]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Larger messages are quarantined unread.
    pub max_message_bytes: u64,
    /// Messages with more MIME parts are quarantined.
    pub max_parts: u64,
    /// Seconds a message's interpretation may take, on every source; a message that takes
    /// longer is quarantined (its stuck worker thread is abandoned, never awaited).
    pub max_processing_secs: u64,
}

/// `[[organisations]]`: mail from these domains files tickets under the organisation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationConfig {
    /// The organisation's name as shown to staff.
    pub name: String,
    /// Sender domains, such as `acme.example`.
    pub domains: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./var"),
            database: DatabaseConfig::default(),
            desk: DeskConfig::default(),
            maildir: MaildirConfig::default(),
            outbox: OutboxConfig::default(),
            portal: PortalConfig::default(),
            limits: LimitsConfig::default(),
            organisations: Vec::new(),
            imap: Vec::new(),
            departments: Vec::new(),
            smtp: None,
            metrics: MetricsConfig::default(),
            blob_dir: PathBuf::new(),
            cluster: ClusterConfig::default(),
        }
    }
}

impl std::fmt::Debug for DatabaseConfig {
    /// Shows the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .finish()
    }
}

/// `scheme://user:secret@host/db` as `scheme://user:***@host/db`: a database URL as it
/// may be shown or logged.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl DatabaseConfig {
    /// Whether several nodes may share this database: PostgreSQL (a SQLite file is one
    /// node's).
    pub fn shared(&self) -> bool {
        self.url.starts_with("postgres:") || self.url.starts_with("postgresql:")
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: String::new(), max_connections: 8, busy_timeout_ms: 5_000 }
    }
}

impl Default for DeskConfig {
    fn default() -> Self {
        Self {
            name: "Support".into(),
            address: EmailAddress::parse("support@localhost").expect("valid default address"),
            tag: "Support".into(),
            reopen_days: 14,
            secret: Secret::default(),
            auto_close_days: 7,
            response_hours: ResponseHours::default(),
            trusted_authserv_id: String::new(),
        }
    }
}

impl Default for MaildirConfig {
    fn default() -> Self {
        Self { enabled: true, path: PathBuf::new(), poll_interval_ms: 250 }
    }
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::File,
            dir: PathBuf::new(),
            poll_interval_ms: 1_000,
            max_attempts: 8,
            max_automatic_per_recipient_per_hour: 10,
            retry_base_secs: 30,
            max_automatic_per_ticket_per_hour: 20,
            max_automatic_per_hour: 500,
            quote_request: false,
            templates_dir: None,
        }
    }
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: "http://127.0.0.1:8080".into(),
            invite: true,
            invite_days: 7,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            session_idle_minutes: 8 * 60,
            session_max_days: 14,
            reset_minutes: 60,
            verify_hours: 24,
            attempts_per_ip: 30,
            attempts_per_address: 10,
            rate_window_minutes: 15,
            trusted_proxies: Vec::new(),
            captcha_bits: DEFAULT_CAPTCHA_BITS,
            captcha_minutes: 20,
            attachment_max_bytes: 10 * 1024 * 1024,
            attachments_max: 5,
            writes_per_contact: 60,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 25 * 1024 * 1024,
            max_parts: crate::inbound::DEFAULT_MAX_PARTS as u64,
            max_processing_secs: 30,
        }
    }
}

/// The shortest `desk.secret` accepted, in bytes: the key of the reply-address MACs must
/// not be guessable offline from one address.
pub const MIN_SECRET_BYTES: usize = 32;

/// Every problem found while loading a config, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    /// One line per problem, `key: what is wrong`.
    pub problems: Vec<String>,
}

impl Config {
    /// Loads the defaults, then `file` (when given), then the `MAILDESK_…` variables in `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => match text.parse::<toml::Table>() {
                    Ok(t) => t,
                    Err(e) => {
                        return Err(ConfigError {
                            problems: vec![format!("{}: {}", path.display(), e.to_string().trim())],
                        });
                    }
                },
                Err(e) => {
                    return Err(ConfigError { problems: vec![format!("{}: cannot read: {e}", path.display())] });
                }
            },
        };
        let sources = apply_env(&mut table, env, &mut problems);
        let config = deserialize_all(table, &sources, &mut problems);
        config.validate(&mut problems);
        if problems.is_empty() { Ok(config.resolved()) } else { Err(ConfigError { problems }) }
    }

    /// Fills the paths left empty with their places under `data_dir`.
    fn resolved(mut self) -> Config {
        if self.database.url.is_empty() {
            self.database.url = format!("sqlite://{}", self.data_dir.join("maildesk.db").display());
        }
        if self.maildir.path.as_os_str().is_empty() {
            self.maildir.path = self.data_dir.join("inbox");
        }
        if self.outbox.dir.as_os_str().is_empty() {
            self.outbox.dir = self.data_dir.join("outbox");
        }
        if self.cluster.node.is_empty() {
            self.cluster.node = host_node_name();
        }
        self
    }

    fn validate(&self, problems: &mut Vec<String>) {
        let url = &self.database.url;
        if !url.is_empty() && !["sqlite:", "postgres:", "postgresql:"].iter().any(|s| url.starts_with(s)) {
            let scheme = url.split(':').next().unwrap_or_default();
            problems.push(format!("database.url: unknown scheme {scheme:?} (use sqlite:// or postgres://)"));
        }
        if self.database.max_connections == 0 || self.database.max_connections > 1000 {
            problems.push("database.max_connections: must be between 1 and 1000".into());
        }
        if self.database.busy_timeout_ms > 600_000 {
            problems.push("database.busy_timeout_ms: must be at most 600000 (10 minutes)".into());
        }
        let tag_ok = !self.desk.tag.is_empty()
            && self.desk.tag.len() <= 40
            && self.desk.tag.chars().all(|c| c.is_alphanumeric() || " ._-".contains(c));
        if !tag_ok {
            problems
                .push(format!("desk.tag: {:?} must be 1-40 letters, digits, spaces, '.', '_' or '-'", self.desk.tag));
        }
        if self.desk.name.trim().is_empty() || self.desk.name.contains(['\r', '\n']) {
            problems.push("desk.name: must be a non-empty single line".into());
        }
        // One reply address a customer receives lets anyone try keys offline: a short
        // secret would be found, and with it every ticket's address.
        let secret_len = self.desk.secret.expose().len();
        if secret_len > 0 && secret_len < MIN_SECRET_BYTES {
            problems.push(format!(
                "desk.secret: is {secret_len} bytes; it must be at least {MIN_SECRET_BYTES} (random, e.g. `openssl rand -hex 32`), or empty for a generated key"
            ));
        }
        if !self.cluster.node.is_empty() && !valid_node_name(&self.cluster.node) {
            problems
                .push(format!("cluster.node: {:?} must be 1-64 letters, digits, '.', '_' or '-'", self.cluster.node));
        }
        if !(2..=3600).contains(&self.cluster.takeover_secs) {
            problems.push("cluster.takeover_secs: must be between 2 and 3600".into());
        }
        if self.maildir.poll_interval_ms == 0 {
            problems.push("maildir.poll_interval_ms: must be at least 1".into());
        }
        if self.outbox.poll_interval_ms == 0 {
            problems.push("outbox.poll_interval_ms: must be at least 1".into());
        }
        if self.outbox.max_attempts == 0 {
            problems.push("outbox.max_attempts: must be at least 1".into());
        }
        if let Err(e) = argon2::Params::new(
            self.portal.argon2_memory_kib,
            self.portal.argon2_iterations,
            self.portal.argon2_parallelism,
            None,
        ) {
            problems.push(format!("portal.argon2_*: {e} (OWASP: memory 19456 KiB, 2 iterations, parallelism 1)"));
        }
        for (key, value) in [
            ("session_idle_minutes", self.portal.session_idle_minutes),
            ("session_max_days", self.portal.session_max_days),
            ("reset_minutes", self.portal.reset_minutes),
            ("verify_hours", self.portal.verify_hours),
            ("attempts_per_ip", u64::from(self.portal.attempts_per_ip)),
            ("attempts_per_address", u64::from(self.portal.attempts_per_address)),
            ("writes_per_contact", u64::from(self.portal.writes_per_contact)),
            ("rate_window_minutes", self.portal.rate_window_minutes),
        ] {
            if value == 0 || value > 1_000_000 {
                problems.push(format!("portal.{key}: {value} must be between 1 and 1000000"));
            }
        }
        if !(self.portal.base_url.starts_with("http://") || self.portal.base_url.starts_with("https://")) {
            problems.push(format!("portal.base_url: {:?} must start with http:// or https://", self.portal.base_url));
        }
        if !(1..=MAX_CAPTCHA_BITS).contains(&self.portal.captcha_bits) {
            problems.push(format!("portal.captcha_bits: must be between 1 and {MAX_CAPTCHA_BITS}"));
        }
        if !(1..=1440).contains(&self.portal.captcha_minutes) {
            problems.push("portal.captcha_minutes: must be between 1 and 1440 (a day)".into());
        }
        if self.portal.attachments_max > 100 {
            problems.push("portal.attachments_max: must be at most 100".into());
        }
        if self.limits.max_message_bytes < 1024 {
            problems.push("limits.max_message_bytes: must be at least 1024".into());
        }
        if !(1..=100_000).contains(&self.limits.max_parts) {
            problems.push("limits.max_parts: must be between 1 and 100000".into());
        }
        if !(1..=3600).contains(&self.limits.max_processing_secs) {
            problems.push("limits.max_processing_secs: must be between 1 and 3600".into());
        }
        match (&self.smtp, self.outbox.transport) {
            (Some(smtp), _) => smtp.validate(problems),
            (None, TransportKind::Smtp) => problems.push("outbox.transport: \"smtp\" needs an [smtp] section".into()),
            (None, TransportKind::File) => {}
        }
        if self.outbox.max_automatic_per_recipient_per_hour == 0
            || self.outbox.max_automatic_per_ticket_per_hour == 0
            || self.outbox.max_automatic_per_hour == 0
        {
            problems.push("outbox.max_automatic_per_*_per_hour: must be at least 1".into());
        }
        let mut names = BTreeMap::new();
        for (i, mailbox) in self.imap.iter().enumerate() {
            mailbox.validate(&format!("imap[{i}]"), problems);
            if let Some(other) = names.insert(mailbox.name.clone(), i) {
                problems.push(format!("imap[{i}].name: {:?} is already used by imap[{other}]", mailbox.name));
            }
        }
        let mut departments = BTreeMap::new();
        for (i, d) in self.departments.iter().enumerate() {
            if d.name.trim().is_empty() {
                problems.push(format!("departments[{i}].name: must not be empty"));
            }
            if let Some(other) = departments.insert(d.name.clone(), i) {
                problems.push(format!("departments[{i}].name: {:?} is already used by departments[{other}]", d.name));
            }
            if d.assign == Assignment::RoundRobin && d.staff.is_empty() {
                problems.push(format!("departments[{i}].assign: \"round-robin\" needs departments[{i}].staff"));
            }
        }
        let mut seen = BTreeMap::new();
        for (i, org) in self.organisations.iter().enumerate() {
            if org.name.trim().is_empty() {
                problems.push(format!("organisations[{i}].name: must not be empty"));
            }
            for domain in &org.domains {
                let ok = EmailAddress::parse(&format!("x@{domain}")).is_ok() && domain.contains('.');
                if !ok {
                    problems.push(format!("organisations[{i}].domains: {domain:?} is not a domain"));
                } else if let Some(other) = seen.insert(domain.to_lowercase(), i) {
                    problems.push(format!(
                        "organisations[{i}].domains: {domain:?} is already mapped by organisations[{other}]"
                    ));
                }
            }
        }
    }

    /// What inbound needs to know, from this config and the reply-address key.
    pub fn inbound_settings(&self, reply_key: Option<&[u8]>) -> crate::inbound::Settings {
        let settings = crate::inbound::Settings::new(&self.desk.tag, self.desk.address.domain())
            .max_parts(self.limits.max_parts as usize)
            .trusted_authserv_id(&self.desk.trusted_authserv_id);
        match reply_key {
            Some(key) => settings.reply_addresses(crate::inbound::ReplyAddresses::new(&self.desk.address, key)),
            None => settings,
        }
    }

    /// Every address that is ours: the desk's and those of the IMAP mailboxes. Mail from
    /// them is never acknowledged, and they never become customers on a ticket.
    pub fn own_addresses(&self) -> Vec<&EmailAddress> {
        std::iter::once(&self.desk.address).chain(self.imap.iter().flat_map(|m| &m.addresses)).collect()
    }

    /// The largest file a customer may attach in the portal: `portal.attachment_max_bytes`,
    /// but never more than a whole mail may be (`limits.max_message_bytes`).
    pub fn attachment_max_bytes(&self) -> u64 {
        self.portal.attachment_max_bytes.min(self.limits.max_message_bytes)
    }

    /// Where blobs are kept: `blob_dir`, or `<data_dir>/blobs` when it is empty (decided
    /// when asked, so that a data directory set after loading counts).
    pub fn blob_dir(&self) -> PathBuf {
        if self.blob_dir.as_os_str().is_empty() { self.data_dir.join("blobs") } else { self.blob_dir.clone() }
    }

    /// The config of department `name`, if it has one.
    pub fn department(&self, name: &str) -> Option<&DepartmentConfig> {
        self.departments.iter().find(|d| d.name == name)
    }

    /// The organisation a sender's domain is mapped to, if any.
    pub fn organisation_for(&self, domain: &str) -> Option<&OrganisationConfig> {
        self.organisations.iter().find(|o| o.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }
}

/// Writes each `MAILDESK_A__B` variable into `table` at `a.b`, typed like the default
/// value at that key. Returns which variable set which key, for error messages.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    let mut vars: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with(ENV_PREFIX) && !k.starts_with("MAILDESK_TEST_") && !ENV_NOT_KEYS.contains(&k.as_str())
        })
        .collect();
    if vars.is_empty() {
        return sources;
    }
    vars.sort();
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(|s| s.to_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            problems.push(format!("{name}: not a config key (use MAILDESK_SECTION__KEY)"));
            continue;
        }
        let key = path.join(".");
        let value = match lookup(&defaults, &path) {
            Some(toml::Value::Integer(_)) => match raw.trim().parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => {
                    problems.push(format!("{key} (from {name}): {raw:?} is not a whole number"));
                    continue;
                }
            },
            Some(toml::Value::Boolean(_)) => match raw.trim().to_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
                "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
                _ => {
                    problems.push(format!("{key} (from {name}): {raw:?} is not true or false"));
                    continue;
                }
            },
            Some(toml::Value::Array(_)) => match format!("v = {raw}").parse::<toml::Table>() {
                Ok(mut t) => t.remove("v").unwrap_or(toml::Value::Array(Vec::new())),
                Err(_) => {
                    problems.push(format!("{key} (from {name}): not a TOML array"));
                    continue;
                }
            },
            _ => toml::Value::String(raw),
        };
        if insert(table, &path, value) {
            sources.insert(key, name);
        } else {
            problems.push(format!("{key} (from {name}): {} is not a section", path[..path.len() - 1].join(".")));
        }
    }
    sources
}

fn lookup<'a>(table: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (last, parents) = path.split_last()?;
    let mut current = table;
    for p in parents {
        current = current.get(p)?.as_table()?;
    }
    current.get(last)
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut current = table;
    for p in parents {
        let entry = current.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry.as_table_mut() {
            Some(t) => current = t,
            None => return false,
        }
    }
    current.insert(last.clone(), value);
    true
}

/// Deserialises `table`, collecting every bad or unknown key: each failing key is reported
/// and removed (so its default applies) and deserialisation retried.
fn deserialize_all(mut table: toml::Table, sources: &BTreeMap<String, String>, problems: &mut Vec<String>) -> Config {
    // A key set by an environment variable, or a section holding one, names the variable.
    let describe = |key: &str| {
        let section = format!("{key}.");
        let var = sources.iter().find(|(k, _)| k.as_str() == key || k.starts_with(&section)).map(|(_, v)| v);
        match var {
            Some(var) => format!("{key} (from {var})"),
            None => key.to_string(),
        }
    };
    for _ in 0..64 {
        let mut unknown: Vec<String> = Vec::new();
        let mut track = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
        let de = serde_ignored::Deserializer::new(table.clone(), &mut track);
        match serde_path_to_error::deserialize::<_, Config>(de) {
            Ok(config) => {
                for key in unknown {
                    problems.push(format!("{}: unknown key", describe(&key)));
                }
                return config;
            }
            Err(err) => {
                let segments: Vec<String> = err
                    .path()
                    .iter()
                    .map(|s| match s {
                        serde_path_to_error::Segment::Seq { index } => index.to_string(),
                        serde_path_to_error::Segment::Map { key } => key.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                let key = err.path().to_string();
                let message = err.inner().to_string();
                let first_line = message.lines().next().unwrap_or_default().trim();
                problems.push(format!("{}: {first_line}", describe(&key)));
                if !remove(&mut table, &segments) {
                    return Config::default();
                }
            }
        }
    }
    Config::default()
}

/// Removes the value at `path` (an array element takes its whole array with it).
fn remove(table: &mut toml::Table, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else { return false };
    if rest.is_empty() {
        return table.remove(first).is_some();
    }
    match table.get_mut(first) {
        Some(toml::Value::Table(t)) => remove(t, rest),
        Some(toml::Value::Array(_)) => table.remove(first).is_some(),
        _ => table.remove(first).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_named_after_its_host_unless_named_and_a_bad_name_or_takeover_is_refused() {
        let config = load_str("", &[]).unwrap();
        assert!(valid_node_name(&config.cluster.node), "{:?}", config.cluster.node);
        assert_eq!(config.cluster.takeover_secs, 30);
        let config = load_str("[cluster]\nnode = \"web-1.a_b\"\ntakeover_secs = 2\n", &[]).unwrap();
        assert_eq!((config.cluster.node.as_str(), config.cluster.takeover_secs), ("web-1.a_b", 2));
        let err = load_str("[cluster]\nnode = \"web#1\"\ntakeover_secs = 1\n", &[]).unwrap_err();
        assert!(err.problems.iter().any(|p| p.starts_with("cluster.node: \"web#1\"")), "{:?}", err.problems);
        assert!(err.problems.iter().any(|p| p.starts_with("cluster.takeover_secs:")), "{:?}", err.problems);
    }

    fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn no_config_means_embedded_defaults_under_var() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!(c.database.url, "sqlite://./var/maildesk.db");
        assert_eq!(c.maildir.path, PathBuf::from("./var/inbox"));
        assert_eq!(c.outbox.dir, PathBuf::from("./var/outbox"));
        assert_eq!(c.portal.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.desk.tag, "Support");
    }

    #[test]
    fn file_then_env_override_in_that_order() {
        let c = load_str(
            "data_dir = \"/srv/md\"\n[desk]\ntag = \"Help\"\n[portal]\nlisten = \"127.0.0.1:9000\"\n",
            &[("MAILDESK_PORTAL__LISTEN", "127.0.0.1:9100"), ("MAILDESK_MAILDIR__POLL_INTERVAL_MS", "40")],
        )
        .unwrap();
        assert_eq!(c.desk.tag, "Help");
        assert_eq!(c.portal.listen.port(), 9100);
        assert_eq!(c.maildir.poll_interval_ms, 40);
        assert_eq!(c.database.url, "sqlite:///srv/md/maildesk.db");
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let err = load_str(
            "[database]\nurl = \"mysql://x\"\nmax_connections = \"many\"\n[desk]\naddress = \"nobody\"\ntagg = 1\n[portal]\nlisten = \"here\"\n",
            &[("MAILDESK_MAILDIR__ENABLED", "perhaps"), ("MAILDESK_NOPE__X", "1")],
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        for key in [
            "database.url",
            "database.max_connections",
            "desk.address",
            "desk.tagg",
            "portal.listen",
            "maildir.enabled (from MAILDESK_MAILDIR__ENABLED)",
            "nope (from MAILDESK_NOPE__X)",
        ] {
            assert!(all.contains(key), "missing {key} in:\n{all}");
        }
        assert_eq!(err.problems.len(), 7, "{all}");
    }

    #[test]
    fn a_department_assignment_is_a_rule_or_a_staff_address() {
        let dept =
            |assign: &str| format!("[[departments]]\nname = \"billing\"\nstaff = [\"a@x.org\"]\nassign = {assign:?}\n");
        let c = load_str(&dept("round-robin"), &[]).unwrap();
        assert_eq!(c.departments[0].assign, Assignment::RoundRobin);
        assert_eq!(load_str(&dept("Ann@X.org"), &[]).unwrap().departments[0].assign.to_string(), "ann@x.org");
        assert_eq!(load_str(&dept(""), &[]).unwrap().departments[0].assign, Assignment::Nobody);
        let all = load_str(&dept("whoever"), &[]).unwrap_err().problems.join("\n");
        assert!(all.contains("departments") && all.contains("assign") && all.contains("round-robin"), "{all}");
        let alone = "[[departments]]\nname = \"billing\"\nassign = \"round-robin\"\n";
        let all = load_str(alone, &[]).unwrap_err().problems.join("\n");
        assert!(all.contains("needs departments[0].staff"), "{all}");
    }

    #[test]
    fn the_captcha_asks_20_bits_for_20_minutes_and_bounds_both() {
        let c = Config::load(None, Vec::new()).unwrap();
        assert_eq!((c.portal.captcha_bits, c.portal.captcha_minutes), (20, 20));
        let err = load_str("[portal]\ncaptcha_bits = 0\ncaptcha_minutes = 0\n", &[]).unwrap_err();
        assert_eq!(
            err.problems,
            [
                "portal.captcha_bits: must be between 1 and 28",
                "portal.captcha_minutes: must be between 1 and 1440 (a day)"
            ]
        );
        let err = load_str("", &[("MAILDESK_PORTAL__CAPTCHA_BITS", "29")]).unwrap_err();
        assert_eq!(err.problems, ["portal.captcha_bits: must be between 1 and 28"]);
    }

    #[test]
    fn the_processing_time_limit_defaults_to_30_seconds_and_must_be_positive() {
        assert_eq!(Config::load(None, Vec::new()).unwrap().limits.max_processing_secs, 30);
        let err = load_str("[limits]\nmax_processing_secs = 0\n", &[]).unwrap_err();
        assert_eq!(err.problems, ["limits.max_processing_secs: must be between 1 and 3600"]);
        let c = load_str("", &[("MAILDESK_LIMITS__MAX_PROCESSING_SECS", "5")]).unwrap();
        assert_eq!(c.limits.max_processing_secs, 5);
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let c = Config::load(None, [("MAILDESK_DATABASE__URL".to_string(), "postgres://md:s3cret@db/x".to_string())])
            .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("postgres://md:***@db/x"), "{shown}");
    }

    #[test]
    fn organisations_map_domains() {
        let c = load_str("[[organisations]]\nname = \"Acme\"\ndomains = [\"acme.example\"]\n", &[]).unwrap();
        assert_eq!(c.organisation_for("ACME.example").unwrap().name, "Acme");
        assert!(c.organisation_for("other.example").is_none());
        let err = load_str("[[organisations]]\nname = \"A\"\ndomains = [\"a.example\"]\n[[organisations]]\nname = \"B\"\ndomains = [\"a.example\"]\n", &[]).unwrap_err();
        assert!(err.problems[0].contains("organisations[1].domains"), "{:?}", err.problems);
    }

    #[test]
    fn the_example_config_loads_and_documents_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/maildesk.example.toml");
        Config::load(Some(&path), Vec::new()).expect("the example config is valid");
        let text = std::fs::read_to_string(&path).unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let mut missing = Vec::new();
        for (key, value) in &defaults {
            match value {
                toml::Value::Table(section) => {
                    assert!(text.contains(&format!("[{key}]")), "section [{key}] is not documented");
                    let documented =
                        |k: &&String| text.contains(&format!("\n{k} = ")) || text.contains(&format!("[{key}.{k}]"));
                    missing.extend(section.keys().filter(|k| !documented(k)).cloned());
                }
                toml::Value::Array(_) if !text.contains(&format!("[[{key}]]")) => missing.push(key.clone()),
                toml::Value::Array(_) => {}
                _ if !text.contains(&format!("{key} = ")) => missing.push(key.clone()),
                _ => {}
            }
        }
        assert!(missing.is_empty(), "undocumented keys: {missing:?}");
    }

    #[test]
    fn a_short_desk_secret_is_refused_with_the_reason() {
        let err = load_str("[desk]\nsecret = \"hunter2\"\n", &[]).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{:?}", err.problems);
        assert!(err.problems[0].starts_with("desk.secret: is 7 bytes; it must be at least 32"), "{:?}", err.problems);
        assert!(!err.problems[0].contains("hunter2"), "the secret is never shown");
        load_str(&format!("[desk]\nsecret = \"{}\"\n", "k".repeat(32)), &[]).expect("32 bytes are enough");
        load_str("[desk]\nsecret = \"\"\n", &[]).expect("empty means a generated key");
    }

    #[test]
    fn a_syntax_error_names_the_file() {
        let err = load_str("[desk\n", &[]).unwrap_err();
        assert!(err.problems[0].contains("c.toml"), "{:?}", err.problems);
    }
}
