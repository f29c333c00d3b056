//! Where rendered mail goes: an SMTP server, `.eml` files for local use, or memory for
//! tests to inspect.

use std::io::Write;

use lettre::address::Envelope;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{SmtpConfig, TlsMode};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A message the memory transport took.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// Envelope recipient.
    pub recipient: String,
    /// Our Message-ID, without brackets.
    pub message_id: String,
    /// The whole message.
    pub bytes: Vec<u8>,
}

/// Why a send failed: retry later, or never.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// May succeed later (connection, timeout, 4xx, disk full).
    #[error("temporary: {0}")]
    Temporary(String),
    /// Will never succeed (5xx, bad address, unrenderable).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A way out for rendered mail.
#[derive(Clone)]
pub enum Transport {
    /// Hands each message to an SMTP server (pooled connections, TLS, AUTH, timeouts).
    Smtp {
        /// The connection pool.
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        /// The envelope sender (where bounces go).
        sender: lettre::Address,
    },
    /// Writes `<message-id>.eml` into the directory (atomically; a repeat overwrites).
    File(PathBuf),
    /// Keeps messages in memory, for tests to inspect.
    Memory(Arc<Mutex<Vec<SentMail>>>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp { sender, .. } => write!(f, "Transport::Smtp({sender})"),
            Transport::File(dir) => write!(f, "Transport::File({})", dir.display()),
            Transport::Memory(_) => f.write_str("Transport::Memory"),
        }
    }
}

impl Transport {
    /// An SMTP transport for `config`, sending as `sender`.
    pub fn smtp(config: &SmtpConfig, sender: &str) -> Result<Transport, String> {
        let sender: lettre::Address = sender.parse().map_err(|e| format!("sender {sender:?}: {e}"))?;
        let builder = smtp_builder(config)?.pool_config(PoolConfig::new().max_size(config.pool_size));
        Ok(Transport::Smtp { mailer: builder.build(), sender })
    }

    /// A memory transport and the list it appends to.
    pub fn memory() -> (Transport, Arc<Mutex<Vec<SentMail>>>) {
        let list = Arc::new(Mutex::new(Vec::new()));
        (Transport::Memory(list.clone()), list)
    }

    /// Hands one message to the transport.
    pub async fn send(&self, message_id: &str, recipient: &str, bytes: &[u8]) -> Result<(), SendError> {
        match self {
            Transport::Smtp { mailer, sender } => {
                let to: lettre::Address =
                    recipient.parse().map_err(|e| SendError::Permanent(format!("recipient {recipient:?}: {e}")))?;
                let envelope = Envelope::new(Some(sender.clone()), vec![to])
                    .map_err(|e| SendError::Permanent(format!("envelope: {e}")))?;
                match mailer.send_raw(&envelope, bytes).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                    Err(e) => Err(SendError::Temporary(e.to_string())),
                }
            }
            Transport::File(dir) => {
                let dir = dir.clone();
                let name = file_name(message_id);
                let bytes = bytes.to_vec();
                tokio::task::spawn_blocking(move || write_file(&dir, &name, &bytes))
                    .await
                    .map_err(|e| SendError::Temporary(e.to_string()))?
                    .map_err(|e| SendError::Temporary(format!("writing {message_id}: {e}")))
            }
            Transport::Memory(list) => {
                let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
                list.push(SentMail {
                    recipient: recipient.into(),
                    message_id: message_id.into(),
                    bytes: bytes.to_vec(),
                });
                Ok(())
            }
        }
    }
}

/// The SMTP client of `config`: server, port, TLS (with the extra CA), timeout and AUTH.
fn smtp_builder(config: &SmtpConfig) -> Result<AsyncSmtpTransportBuilder, String> {
    let mut parameters = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("smtp.ca_file {}: {e}", path.display()))?;
        parameters = parameters.add_root_certificate(cert);
    }
    let tls = match config.tls {
        TlsMode::Plain => Tls::None,
        mode => {
            let parameters = parameters.build().map_err(|e| format!("smtp TLS: {e}"))?;
            if mode == TlsMode::Implicit { Tls::Wrapper(parameters) } else { Tls::Required(parameters) }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.clone())
        .port(config.port())
        .tls(tls)
        .timeout(Some(std::time::Duration::from_secs(config.timeout_secs)));
    if let Some(user) = &config.user {
        let password = config.password().map_err(|e| format!("smtp.password_file: {e}"))?;
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
    }
    Ok(builder)
}

/// Why [`probe_smtp`] found the SMTP server unusable.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The config cannot be used as it is (a CA or password file that cannot be read).
    #[error("{0}")]
    Setup(String),
    /// No connection: refused, unreachable, timed out, or the server went away.
    #[error("{0}")]
    Connect(String),
    /// The TLS handshake or STARTTLS failed.
    #[error("{0}")]
    Tls(String),
    /// The server refused the login (or offers no mechanism we speak).
    #[error("{0}")]
    Auth(String),
    /// The server refused something else (its greeting, EHLO, NOOP).
    #[error("{0}")]
    Refused(String),
}

/// Connects to the server of `config` as the sender would (TLS, EHLO, AUTH when a user is
/// set), says NOOP and leaves: no message, no envelope. For `maildesk check`.
pub async fn probe_smtp(config: &SmtpConfig) -> Result<(), ProbeError> {
    let mailer = smtp_builder(config)
        .map_err(ProbeError::Setup)?
        .pool_config(PoolConfig::new().max_size(1))
        .build::<Tokio1Executor>();
    match mailer.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ProbeError::Refused("the server did not answer NOOP".into())),
        Err(e) => Err(probe_error(&e)),
    }
}

fn probe_error(e: &lettre::transport::smtp::Error) -> ProbeError {
    use std::error::Error as _;
    // lettre's message alone ("Connection error") hides the cause: the chain says it.
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    let code = e.status().map(|c| c.to_string());
    let auth_code = code.as_deref().is_some_and(|c| ["530", "534", "535", "538"].contains(&c));
    if auth_code || (e.is_client() && text.contains("authentication")) {
        ProbeError::Auth(text)
    } else if e.is_tls() {
        ProbeError::Tls(text)
    } else if e.is_permanent() || e.is_transient() || e.is_response() || e.is_client() {
        ProbeError::Refused(text)
    } else {
        ProbeError::Connect(text)
    }
}

/// A safe file name for a Message-ID: anything but letters, digits, `.`, `-`, `_`, `@`
/// becomes `_`.
fn file_name(message_id: &str) -> String {
    let clean: String =
        message_id.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_@".contains(c) { c } else { '_' }).collect();
    format!("{}.eml", clean.trim_start_matches('.'))
}

fn write_file(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}
