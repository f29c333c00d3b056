//! End-to-end against a real Cyrus IMAP server beside Dovecot, with Debian's stock settings:
//! a user's folders live below `INBOX.` with `.` as the separator, so a top-level folder
//! cannot be created. Each test owns its Cyrus users (box01 … box20).

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{Daemon, IDLING, env_refs, followed_by, lines_with, tickets, wait_until};
use common::imap::{ImapServer, cyrus, request};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Writes a config with one `[[imap]]` table for `user` of Cyrus and returns the daemon's
/// environment.
fn config(dir: &Path, c: &ImapServer, user: &str, extra: &str) -> Vec<(String, String)> {
    let path = dir.join("maildesk.toml");
    let text = format!(
        "data_dir = \"{}\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\n[desk]\naddress = \"support@helpdesk.example\"\n{}",
        dir.join("var").display(),
        c.mailbox_toml(user, "plain", &c.ca, extra)
    );
    std::fs::write(&path, text).unwrap();
    vec![("MAILDESK_CONFIG".into(), path.display().to_string())]
}

fn subjects(dir: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let mut s: Vec<String> = tickets(dir, env).iter().map(|t| t["subject"].as_str().unwrap().to_string()).collect();
    s.sort();
    s
}

fn has_keyword(flags: &[String], keyword: &str) -> bool {
    flags.iter().any(|f| f.contains(keyword))
}

#[test]
fn new_mail_on_cyrus_is_picked_up_with_idle_and_moved_into_its_namespace() {
    let ((c, _), rt) = (cyrus(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(c.reset("box01"));
    let mut env = config(dir, &c, "box01", "");
    env.push(("MAILDESK_LIMITS__MAX_MESSAGE_BYTES".into(), "4096".into()));
    let env = env_refs(&env);
    let daemon = Daemon::start(dir, &env);
    wait_until("the folders created", Duration::from_secs(20), || {
        let folders = rt.block_on(c.folders("box01"));
        folders.iter().any(|f| f == "INBOX.maildesk-done") && folders.iter().any(|f| f == "INBOX.maildesk-quarantine")
    });
    // Idling on the empty folder first: a new mail is announced, not polled for.
    wait_until("the mailbox waiting in IDLE", Duration::from_secs(20), || daemon.log().contains(IDLING));
    rt.block_on(c.append("box01", "INBOX", &request("jane@example.com", "Printer on fire"), false));
    // Over limits.max_message_bytes: quarantined unread, moved to the quarantine folder.
    let mut big = request("big@example.com", "Too large to read");
    big.extend(
        std::iter::repeat_n(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 100).flatten(),
    );
    rt.block_on(c.append("box01", "INBOX", &big, false));
    wait_until("the ticket", Duration::from_secs(20), || subjects(dir, &env) == ["Printer on fire"]);
    wait_until("both moved", Duration::from_secs(20), || {
        rt.block_on(c.count("box01", "INBOX")) == 0
            && rt.block_on(c.count("box01", "INBOX.maildesk-done")) == 1
            && rt.block_on(c.count("box01", "INBOX.maildesk-quarantine")) == 1
    });
    let log = daemon.log();
    assert!(
        log.contains("reads INBOX; waits with IDLE; done: MOVE into INBOX.maildesk-done; quarantined: MOVE into INBOX.maildesk-quarantine"),
        "the path is said at start:\n{log}"
    );
    assert_eq!(lines_with(&log, "unavailable"), 0, "{log}");
    assert_eq!(lines_with(&log, "refused"), 0, "{log}");
}

#[test]
fn a_move_over_quota_leaves_mail_flagged_while_later_mail_flows_and_a_restart_applies_nothing_twice() {
    let ((c, admin), rt) = (cyrus(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "box02";
    rt.block_on(c.reset(user));
    let env = config(dir, &c, user, "");
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Quota 1"), false));
    wait_until("the first moved", Duration::from_secs(20), || rt.block_on(c.count(user, "INBOX.maildesk-done")) == 1);

    // The done folder is full: moves are refused; mail keeps flowing.
    rt.block_on(c.command(&admin, &format!("SETQUOTA user.{user}.maildesk-done (STORAGE 0)")));
    for i in 2..=4 {
        rt.block_on(c.append(user, "INBOX", &request("a@example.com", &format!("Quota {i}")), false));
    }
    wait_until("four tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 4);
    wait_until("three flagged in place", Duration::from_secs(10), || {
        let flags = rt.block_on(c.flags(user, "INBOX"));
        flags.len() == 3 && flags.iter().all(|f| has_keyword(f, "$maildesk-done") && f.contains(&"Seen".to_string()))
    });
    let log = daemon.log();
    assert_eq!(lines_with(&log, "refused to move"), 1, "said once, not per message:\n{log}");
    assert!(log.to_lowercase().contains("quota"), "with the server's answer:\n{log}");
    assert_eq!(lines_with(&log, "unavailable"), 0, "a refused move is no reason to reconnect:\n{log}");

    // Room again: the next pass moves what waited.
    rt.block_on(c.command(&admin, &format!("SETQUOTA user.{user}.maildesk-done ()")));
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Quota 5"), false));
    wait_until("all moved", Duration::from_secs(20), || {
        rt.block_on(c.count(user, "INBOX")) == 0 && rt.block_on(c.count(user, "INBOX.maildesk-done")) == 5
    });
    assert!(daemon.log().contains("moving processed mail works again"), "{}", daemon.log());
    assert_eq!(daemon.terminate().code(), Some(0));

    let mut daemon = Daemon::start(dir, &env);
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Quota 6"), false));
    wait_until("the sixth ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 6);
    // The pass that applied it is over and found nothing more: a message applied twice
    // would have been by now.
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    assert_eq!(subjects(dir, &env), ["Quota 1", "Quota 2", "Quota 3", "Quota 4", "Quota 5", "Quota 6"]);
    assert_eq!(daemon.terminate().code(), Some(0));
}

#[test]
fn a_done_folder_that_cannot_be_created_is_said_once_and_mail_is_flagged_in_place() {
    let ((c, _), rt) = (cyrus(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "box03";
    rt.block_on(c.reset(user));
    // Another user's namespace, taken as given: this user may not create folders there.
    let env = config(dir, &c, user, "done_folder = \"user.other.done\"");
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    for i in 1..=2 {
        rt.block_on(c.append(user, "INBOX", &request("a@example.com", &format!("Kept {i}")), false));
    }
    wait_until("two tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 2);
    wait_until("both flagged", Duration::from_secs(10), || {
        let flags = rt.block_on(c.flags(user, "INBOX"));
        flags.len() == 2 && flags.iter().all(|f| has_keyword(f, "$maildesk-done"))
    });
    let log = daemon.log();
    let said: Vec<&str> = log.lines().filter(|l| l.contains("cannot create the done_folder")).collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(said[0].contains("user.other.done") && said[0].contains("answer=NO"), "{log}");
    assert!(log.contains("done: flagged in INBOX"), "{log}");
    assert_eq!(daemon.terminate().code(), Some(0));
    // Flagged mail stays, but is not read again.
    let daemon = Daemon::start(dir, &env);
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Kept 3"), false));
    wait_until("the third ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 3);
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    assert_eq!(subjects(dir, &env), ["Kept 1", "Kept 2", "Kept 3"]);
    assert_eq!(lines_with(&daemon.log(), "cannot create the done_folder"), 1, "once per start");
}

#[test]
fn without_idle_move_or_uidplus_the_mailbox_is_polled_and_mail_is_flagged_in_place() {
    let ((c, _), rt) = (cyrus(), runtime());
    let bare = ImapServer { port: std::env::var("MAILDESK_TEST_CYRUS_BARE_PORT").unwrap().parse().unwrap(), ..c };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "box04";
    rt.block_on(bare.reset(user));
    let env = config(dir, &bare, user, "poll_interval_secs = 1");
    let env = env_refs(&env);
    let daemon = Daemon::start(dir, &env);
    for i in 1..=2 {
        rt.block_on(bare.append(user, "INBOX", &request("a@example.com", &format!("Polled {i}")), false));
    }
    wait_until("two tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 2);
    wait_until("both flagged in place", Duration::from_secs(10), || {
        let flags = rt.block_on(bare.flags(user, "INBOX"));
        flags.len() == 2 && flags.iter().all(|f| has_keyword(f, "$maildesk-done"))
    });
    let log = daemon.log();
    assert!(log.contains("reads INBOX; polls every 1s; done: flagged in INBOX"), "{log}");
    assert!(log.contains("neither MOVE nor UIDPLUS"), "{log}");
    assert_eq!(rt.block_on(bare.count(user, "INBOX.maildesk-done")), 0, "nothing copied that could not be removed");
    rt.block_on(bare.append(user, "INBOX", &request("a@example.com", "Polled 3"), false));
    wait_until("the third ticket by polling", Duration::from_secs(10), || tickets(dir, &env).len() == 3);
    assert_eq!(subjects(dir, &env), ["Polled 1", "Polled 2", "Polled 3"]);
}

#[test]
fn without_move_a_refused_expunge_leaves_mail_in_place_and_the_retry_never_copies_twice() {
    let ((c, admin), rt) = (cyrus(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "box05";
    let all_rights = format!("SETACL user.{user} {user} lrswipkxtecda");
    rt.block_on(c.command(&admin, &all_rights));
    rt.block_on(c.reset(user));
    // COPY + UID EXPUNGE: the server has UIDPLUS, and MOVE is not used.
    let env = config(dir, &c, user, "use_move = false");
    let env = env_refs(&env);
    let daemon = Daemon::start(dir, &env);
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Copied 1"), false));
    wait_until("the first moved", Duration::from_secs(20), || {
        rt.block_on(c.count(user, "INBOX")) == 0 && rt.block_on(c.count(user, "INBOX.maildesk-done")) == 1
    });
    assert!(daemon.log().contains("done: COPY + UID EXPUNGE into INBOX.maildesk-done"), "{}", daemon.log());

    // The account may no longer expunge: copies are made, the originals stay.
    rt.block_on(c.command(&admin, &format!("SETACL user.{user} {user} lrswipkxtca")));
    for i in 2..=3 {
        rt.block_on(c.append(user, "INBOX", &request("a@example.com", &format!("Copied {i}")), false));
    }
    wait_until("three tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 3);
    wait_until("copied, not removed", Duration::from_secs(10), || {
        rt.block_on(c.count(user, "INBOX.maildesk-done")) == 3 && rt.block_on(c.count(user, "INBOX")) == 2
    });
    let log = daemon.log();
    assert_eq!(lines_with(&log, "refused to move"), 1, "{log}");

    // Allowed again: the next pass only expunges what was copied.
    rt.block_on(c.command(&admin, &all_rights));
    rt.block_on(c.append(user, "INBOX", &request("a@example.com", "Copied 4"), false));
    wait_until("all moved", Duration::from_secs(20), || {
        rt.block_on(c.count(user, "INBOX")) == 0 && rt.block_on(c.count(user, "INBOX.maildesk-done")) == 4
    });
    // The pass is over (moves retried, the new mail applied and moved): a second copy
    // would have been made by now.
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    assert_eq!(rt.block_on(c.count(user, "INBOX.maildesk-done")), 4, "no message copied twice");
    assert_eq!(subjects(dir, &env), ["Copied 1", "Copied 2", "Copied 3", "Copied 4"]);
}
