//! Opening an IMAP session: TCP, then TLS (implicit or STARTTLS, certificates verified
//! against the system roots plus an optional CA file) or plain on loopback, the greeting,
//! and the login.

use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::either::Either;

use crate::config::{ImapMailbox, TlsMode};

/// The connection under a session: plain TCP or TLS over TCP.
pub type Stream = Either<TcpStream, TlsStream<TcpStream>>;

/// An open, logged-in IMAP session.
pub type ImapSession = Session<Stream>;

/// How long connecting, the greeting and the login may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a session could not be opened. The kind decides how the failure is logged.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP connection failed or timed out.
    #[error("cannot connect to {0}: {1}")]
    Network(String, String),
    /// The TLS handshake failed, usually an untrusted or mismatching certificate.
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    /// The server refused the login.
    #[error("login as {0:?} refused: {1}")]
    Login(String, String),
    /// The server said something unexpected.
    #[error("IMAP protocol: {0}")]
    Protocol(String),
    /// The configured CA file or password file could not be read.
    #[error("configuration: {0}")]
    Config(String),
}

/// A TLS connector trusting the system roots and the mailbox's `ca_file`.
fn tls_connector(mailbox: &ImapMailbox) -> Result<TlsConnector, ConnectError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &mailbox.ca_file {
        let pem = std::fs::read(path).map_err(|e| ConnectError::Config(format!("ca_file {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| ConnectError::Config(format!("ca_file {}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| ConnectError::Config(format!("ca_file {}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(ConnectError::Config(format!("ca_file {}: no certificate in it", path.display())));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn handshake(connector: &TlsConnector, host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, ConnectError> {
    let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|e| ConnectError::Config(format!("host {host:?}: {e}")))?;
    connector.connect(name, tcp).await.map_err(|e| ConnectError::Tls(host.to_string(), e.to_string()))
}

/// Connects, secures and logs in, within [`CONNECT_TIMEOUT`].
pub async fn open(mailbox: &ImapMailbox) -> Result<ImapSession, ConnectError> {
    let address = format!("{}:{}", mailbox.host, mailbox.port());
    match tokio::time::timeout(CONNECT_TIMEOUT, open_inner(mailbox, &address)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::Network(address, "timed out".into())),
    }
}

async fn open_inner(mailbox: &ImapMailbox, address: &str) -> Result<ImapSession, ConnectError> {
    let password = mailbox.password().map_err(|e| ConnectError::Config(format!("password_file: {e}")))?;
    let tcp = TcpStream::connect(address).await.map_err(|e| ConnectError::Network(address.into(), e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let protocol = |e: &dyn std::fmt::Display| ConnectError::Protocol(e.to_string());
    let client = match mailbox.tls {
        TlsMode::Implicit => {
            let tls = handshake(&tls_connector(mailbox)?, &mailbox.host, tcp).await?;
            let mut client = Client::new(Either::Right(tls));
            client.read_response().await.map_err(|e| protocol(&e))?.ok_or_else(|| protocol(&"no greeting"))?;
            client
        }
        TlsMode::Starttls => {
            let mut client = Client::new(tcp);
            client.read_response().await.map_err(|e| protocol(&e))?.ok_or_else(|| protocol(&"no greeting"))?;
            client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| protocol(&format!("STARTTLS: {e}")))?;
            let tls = handshake(&tls_connector(mailbox)?, &mailbox.host, client.into_inner()).await?;
            // No greeting after STARTTLS.
            Client::new(Either::Right(tls))
        }
        TlsMode::Plain => {
            let mut client = Client::new(Either::Left(tcp));
            client.read_response().await.map_err(|e| protocol(&e))?.ok_or_else(|| protocol(&"no greeting"))?;
            client
        }
    };
    client
        .login(&mailbox.user, password.expose())
        .await
        .map_err(|(e, _)| ConnectError::Login(mailbox.user.clone(), e.to_string()))
}
