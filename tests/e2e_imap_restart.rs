//! Dovecot restarted under the running daemon: it reconnects and carries on. In its own
//! test binary, because restarting the shared server would disturb the other IMAP tests.

mod common;

use std::time::Duration;

use common::cli::{Daemon, tickets, wait_until};
use common::imap::{dovecot, request};

#[test]
fn dovecot_restarted_under_the_daemon_is_reconnected_to() {
    let d = dovecot();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box56"));
    let config = dir.join("maildesk.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\n{}",
            dir.join("var").display(),
            d.mailbox_toml("box56", "starttls", &d.ca, "")
        ),
    )
    .unwrap();
    let env = [("MAILDESK_CONFIG", config.to_str().unwrap())];
    let mut daemon = Daemon::start(dir, &env);
    rt.block_on(d.append("box56", "INBOX", &request("a@example.com", "Before the restart"), false));
    wait_until("the first ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 1);

    let restart = std::env::var("MAILDESK_TEST_DOVECOT_RESTART").expect("set by scripts/test");
    let status = std::process::Command::new("sh").arg("-c").arg(&restart).status().unwrap();
    assert!(status.success(), "restarting Dovecot failed");

    rt.block_on(d.append("box56", "INBOX", &request("b@example.com", "After the restart"), false));
    wait_until("the second ticket", Duration::from_secs(30), || tickets(dir, &env).len() == 2);
    // The recovery is said once the pass that applied it is over, a moment after the commit.
    wait_until("the recovery logged", Duration::from_secs(10), || daemon.log().contains("mailbox reachable again"));
    let log = daemon.log();
    assert!(log.contains("mailbox unavailable"), "the lost connection is logged:\n{log}");
    assert!(log.contains("mailbox reachable again"), "and the recovery:\n{log}");
    assert_eq!(daemon.terminate().code(), Some(0), "SIGTERM: log out and exit 0");
    assert!(daemon.log().contains("logged out"));
}
