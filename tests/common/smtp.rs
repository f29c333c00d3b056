//! The test Postfix that `scripts/test` starts (delivering into the test Dovecot), and the
//! customer's side of a conversation: send by SMTP, read by IMAP.

use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::imap::ImapServer;

/// The SMTP port of the test Postfix.
pub fn smtp_port() -> u16 {
    std::env::var("MAILDESK_TEST_SMTP_PORT")
        .expect("MAILDESK_TEST_SMTP_PORT is not set: run the tests through scripts/test, which starts Postfix")
        .parse()
        .unwrap()
}

/// Sends `raw` from `from` to `to` through the test Postfix, as a mail client would.
pub async fn send(from: &str, to: &str, raw: &[u8]) {
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(smtp_port()).build();
    let envelope = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
    mailer.send_raw(&envelope, raw).await.expect("Postfix accepts the mail");
}

/// Every message in `user`'s INBOX, raw, oldest first.
pub async fn inbox(d: &ImapServer, user: &str) -> Vec<String> {
    let mut s = d.session(user).await;
    let mailbox = s.select("INBOX").await.unwrap();
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetched: Vec<_> = s.fetch("1:*", "BODY.PEEK[]").await.unwrap().try_collect().await.unwrap();
        out = fetched.iter().filter_map(|f| f.body()).map(|b| String::from_utf8_lossy(b).into_owned()).collect();
    }
    s.logout().await.unwrap();
    out
}

/// The value of header `name` in `raw` (first line only).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}
