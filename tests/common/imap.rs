//! The test IMAP servers that `scripts/test` starts (Dovecot, and Cyrus beside it): where
//! they are, and a small IMAP client to put mail into their mailboxes and look at them, as
//! a person's mail client would.

use std::path::{Path, PathBuf};

use async_imap::Session;
use futures::TryStreamExt;
use tokio::net::TcpStream;

/// Where a test IMAP server listens, from the variables `scripts/test` exports.
pub struct ImapServer {
    pub host: String,
    pub port: u16,
    pub imaps_port: u16,
    pub ca: PathBuf,
    pub wrong_ca: PathBuf,
    pub password: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through scripts/test, which starts the test servers")
    })
}

/// The test Dovecot.
pub fn dovecot() -> ImapServer {
    ImapServer {
        host: var("MAILDESK_TEST_IMAP_HOST"),
        port: var("MAILDESK_TEST_IMAP_PORT").parse().unwrap(),
        imaps_port: var("MAILDESK_TEST_IMAPS_PORT").parse().unwrap(),
        ca: var("MAILDESK_TEST_IMAP_CA").into(),
        wrong_ca: var("MAILDESK_TEST_IMAP_WRONG_CA").into(),
        password: var("MAILDESK_TEST_IMAP_PASSWORD"),
    }
}

/// What the test Dovecot has logged at info level so far (logins, refused logins), from all
/// tests: filter by user.
pub fn dovecot_info_log() -> String {
    let conf = var("MAILDESK_TEST_DOVECOT_CONF");
    std::fs::read_to_string(Path::new(&conf).with_file_name("info.log")).unwrap_or_default()
}

/// The test Cyrus IMAP server (Debian's package, stock namespace: folders below `INBOX.`
/// with `.`), and the name of its admin, who may set quotas and ACLs.
pub fn cyrus() -> (ImapServer, String) {
    let port: u16 = var("MAILDESK_TEST_CYRUS_PORT").parse().unwrap();
    let server = ImapServer {
        host: var("MAILDESK_TEST_CYRUS_HOST"),
        port,
        imaps_port: port,
        ca: var("MAILDESK_TEST_IMAP_CA").into(),
        wrong_ca: var("MAILDESK_TEST_IMAP_WRONG_CA").into(),
        password: var("MAILDESK_TEST_CYRUS_PASSWORD"),
    };
    (server, var("MAILDESK_TEST_CYRUS_ADMIN"))
}

impl ImapServer {
    /// A logged-in session for `user` over plain loopback IMAP.
    pub async fn session(&self, user: &str) -> Session<TcpStream> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.expect("connect to the IMAP server");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().expect("greeting");
        client.login(user, &self.password).await.map_err(|(e, _)| e).expect("login")
    }

    /// Empties `user`'s INBOX and removes every other folder.
    pub async fn reset(&self, user: &str) {
        let mut s = self.session(user).await;
        let mut folders: Vec<String> =
            s.list(Some(""), Some("*")).await.unwrap().map_ok(|n| n.name().to_string()).try_collect().await.unwrap();
        // Children before their parents.
        folders.sort_by_key(|f| std::cmp::Reverse(f.len()));
        for folder in folders.iter().filter(|f| f.as_str() != "INBOX") {
            s.delete(folder).await.unwrap();
        }
        s.select("INBOX").await.unwrap();
        let _: Vec<_> =
            s.store("1:*", "+FLAGS.SILENT (\\Deleted)").await.unwrap().try_collect().await.unwrap_or_default();
        let _: Vec<_> = s.expunge().await.unwrap().try_collect().await.unwrap();
        s.logout().await.unwrap();
    }

    /// Puts `raw` into `folder` of `user` (created when missing), `\Seen` if asked.
    pub async fn append(&self, user: &str, folder: &str, raw: &[u8], seen: bool) {
        let mut s = self.session(user).await;
        let _ = s.create(folder).await;
        s.append(folder, if seen { Some("(\\Seen)") } else { None }, None, raw).await.expect("append");
        s.logout().await.unwrap();
    }

    /// How many messages `folder` of `user` holds (0 when it does not exist).
    pub async fn count(&self, user: &str, folder: &str) -> u32 {
        let mut s = self.session(user).await;
        let n = s.status(folder, "(MESSAGES)").await.map(|m| m.exists).unwrap_or(0);
        s.logout().await.unwrap();
        n
    }

    /// The flags of every message in `folder` of `user`, in UID order.
    pub async fn flags(&self, user: &str, folder: &str) -> Vec<Vec<String>> {
        let mut s = self.session(user).await;
        s.select(folder).await.expect("select");
        let fetched: Vec<_> = s.fetch("1:*", "(UID FLAGS)").await.unwrap().try_collect().await.unwrap_or_default();
        let mut flagged: Vec<(u32, Vec<String>)> =
            fetched.iter().map(|f| (f.uid.unwrap_or(0), f.flags().map(|flag| format!("{flag:?}")).collect())).collect();
        flagged.sort();
        s.logout().await.unwrap();
        flagged.into_iter().map(|(_, flags)| flags).collect()
    }

    /// Every folder of `user`.
    pub async fn folders(&self, user: &str) -> Vec<String> {
        let mut s = self.session(user).await;
        let folders =
            s.list(Some(""), Some("*")).await.unwrap().map_ok(|n| n.name().to_string()).try_collect().await.unwrap();
        s.logout().await.unwrap();
        folders
    }

    /// Runs `command` (such as `DELETE x`) as `user`, expecting OK.
    pub async fn command(&self, user: &str, command: &str) {
        let mut s = self.session(user).await;
        s.run_command_and_check_ok(command).await.unwrap_or_else(|e| panic!("{command}: {e}"));
        s.logout().await.unwrap();
    }

    /// A `[[imap]]` table for `user`: `tls` is "plain", "starttls" or "implicit".
    pub fn mailbox_toml(&self, user: &str, tls: &str, ca: &Path, extra: &str) -> String {
        let port = if tls == "implicit" { self.imaps_port } else { self.port };
        format!(
            "[[imap]]\nname = \"{user}\"\nhost = \"{host}\"\nport = {port}\ntls = \"{tls}\"\nuser = \"{user}\"\npassword = \"{password}\"\nca_file = \"{ca}\"\n{extra}\n",
            host = self.host,
            password = self.password,
            ca = ca.display(),
        )
    }
}

/// A new request from `from` with a unique subject.
pub fn request(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@helpdesk.example\r\nSubject: {subject}\r\nMessage-ID: <{id:016x}@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nPlease help: {subject}\r\n",
        id = rand::random::<u64>()
    )
    .into_bytes()
}
