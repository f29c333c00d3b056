//! The SMTP server down across several retries and a daemon restart: every notification
//! still arrives, once. In its own test binary, because stopping the shared Postfix would
//! disturb the other SMTP tests. It waits for what the daemon says it did, never for a
//! fixed time.

mod common;

use std::time::Duration;

use common::cli::{Daemon, tickets, wait_until};
use common::imap::dovecot;
use common::smtp::{header, inbox, smtp_port};

#[test]
fn notifications_queued_while_smtp_is_down_arrive_once_when_it_is_back() {
    let (d, rt) = (dovecot(), tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["support", "customer5", "customer6"] {
        rt.block_on(d.reset(user));
    }
    let config = dir.join("maildesk.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[desk]\naddress = \"support@helpdesk.example\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\ninvite = false\n[outbox]\ntransport = \"smtp\"\npoll_interval_ms = 200\nretry_base_secs = 1\nmax_attempts = 20\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"plain\"\ntimeout_secs = 5\n{}",
            dir.join("var").display(),
            smtp_port(),
            d.mailbox_toml("support", "plain", &d.ca, "")
        ),
    )
    .unwrap();
    let env = [("MAILDESK_CONFIG", config.to_str().unwrap())];
    let stop = std::env::var("MAILDESK_TEST_POSTFIX_STOP").expect("set by scripts/test");
    let start = std::env::var("MAILDESK_TEST_POSTFIX_START").expect("set by scripts/test");
    let sh =
        |cmd: &str| assert!(std::process::Command::new("sh").arg("-c").arg(cmd).status().unwrap().success(), "{cmd}");

    sh(&stop);
    let mut daemon = Daemon::start(dir, &env);
    // The customers' mail reaches the support mailbox another way while SMTP is down.
    for (user, subject) in [("customer5", "Down 1"), ("customer6", "Down 2")] {
        let raw = format!(
            "From: {user}@example.com\r\nTo: support@helpdesk.example\r\nSubject: {subject}\r\nMessage-ID: <{user}.{}@example.com>\r\n\r\nhello\r\n",
            rand::random::<u32>()
        );
        rt.block_on(d.append("support", "INBOX", raw.as_bytes(), false));
    }
    wait_until("both tickets", Duration::from_secs(30), || tickets(dir, &env).len() == 2);
    wait_until("a failed attempt", Duration::from_secs(30), || daemon.log().contains("will retry"));
    // Down across several retries (1 s doubling) and a restart, which finds the queued rows
    // and fails on them again.
    let retries = |log: &str| log.matches("will retry").count();
    wait_until("several failed attempts", Duration::from_secs(60), || retries(&daemon.log()) >= 4);
    daemon.terminate();
    let daemon = Daemon::start(dir, &env);
    wait_until("a failed attempt after the restart", Duration::from_secs(90), || retries(&daemon.log()) >= 1);
    sh(&start);
    for user in ["customer5", "customer6"] {
        // The next retry may be a minute away.
        wait_until("the acknowledgement", Duration::from_secs(120), || rt.block_on(inbox(&d, user)).len() == 1);
    }
    // Each acknowledgement was sent once, by the daemon running when SMTP came back: nothing
    // is left to send a second copy.
    wait_until("both rows marked sent", Duration::from_secs(30), || {
        daemon.log().matches("notification sent").count() >= 2
    });
    assert_eq!(daemon.log().matches("notification sent").count(), 2, "{}", daemon.log());
    for user in ["customer5", "customer6"] {
        let mail = rt.block_on(inbox(&d, user));
        assert_eq!(mail.len(), 1, "exactly once to {user}");
        assert!(header(&mail[0], "Subject").unwrap().starts_with("[Support #"));
    }
}
