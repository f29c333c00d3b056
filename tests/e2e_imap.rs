//! End-to-end against a real Dovecot: the spawned `maildesk serve` reads IMAP mailboxes.
//! Each test owns its mailboxes (users box01 … box60 of the test Dovecot).

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{Daemon, IDLING, env_refs, followed_by, lines_with, tickets, wait_until};
use common::imap::{dovecot, dovecot_info_log, request};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Writes a config with the given `[[imap]]` tables and returns the daemon's environment.
fn config(dir: &Path, imap: &str) -> Vec<(String, String)> {
    let path = dir.join("maildesk.toml");
    let text = format!(
        "data_dir = \"{}\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\n[desk]\naddress = \"support@helpdesk.example\"\n{imap}",
        dir.join("var").display()
    );
    std::fs::write(&path, text).unwrap();
    vec![("MAILDESK_CONFIG".into(), path.display().to_string())]
}

fn ticket_subjects(dir: &Path, env: &[(&str, &str)]) -> Vec<String> {
    tickets(dir, env).iter().map(|t| t["subject"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_mail_delivered_while_the_daemon_idles_becomes_a_ticket_and_moves_to_done() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box52"));
    let env = config(dir, &d.mailbox_toml("box52", "starttls", &d.ca, "department = \"billing\""));
    let env = env_refs(&env);
    let daemon = Daemon::start(dir, &env);
    // The daemon connects and enters IDLE on the empty folder first.
    wait_until("the mailbox waiting in IDLE", Duration::from_secs(20), || daemon.log().contains(IDLING));
    rt.block_on(d.append("box52", "INBOX", &request("jane@example.com", "Printer on fire"), false));
    wait_until("the ticket", Duration::from_secs(20), || !tickets(dir, &env).is_empty());
    let list = tickets(dir, &env);
    assert_eq!(list[0]["subject"], "Printer on fire");
    assert_eq!(list[0]["department"], "billing");
    wait_until("the message moved", Duration::from_secs(10), || {
        rt.block_on(d.count("box52", "INBOX")) == 0 && rt.block_on(d.count("box52", "maildesk-done")) == 1
    });
}

#[test]
fn fifty_mailboxes_are_served_at_once() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let users: Vec<String> = (1..=50).map(|i| format!("box{i:02}")).collect();
    let mut tables = String::new();
    for (i, user) in users.iter().enumerate() {
        rt.block_on(d.reset(user));
        let tls = ["plain", "starttls", "implicit"][i % 3];
        tables.push_str(&d.mailbox_toml(user, tls, &d.ca, ""));
    }
    let env = config(dir, &tables);
    let env = env_refs(&env);
    let _daemon = Daemon::start(dir, &env);
    for user in &users {
        rt.block_on(d.append(
            user,
            "INBOX",
            &request(&format!("{user}@example.com"), &format!("Request to {user}")),
            false,
        ));
    }
    wait_until("fifty tickets", Duration::from_secs(60), || tickets(dir, &env).len() == 50);
    let mut subjects = ticket_subjects(dir, &env);
    subjects.sort();
    let mut expected: Vec<String> = users.iter().map(|u| format!("Request to {u}")).collect();
    expected.sort();
    assert_eq!(subjects, expected);
}

#[test]
fn mail_already_marked_seen_is_still_picked_up() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box53"));
    rt.block_on(d.append("box53", "INBOX", &request("reader@example.com", "Opened in Outlook first"), true));
    let env = config(dir, &d.mailbox_toml("box53", "implicit", &d.ca, ""));
    let env = env_refs(&env);
    let _daemon = Daemon::start(dir, &env);
    wait_until("the ticket", Duration::from_secs(20), || ticket_subjects(dir, &env) == ["Opened in Outlook first"]);
}

#[test]
fn a_uidvalidity_change_applies_nothing_twice() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box54"));
    let mails: Vec<Vec<u8>> = (0..3).map(|i| request("a@example.com", &format!("Kept {i}"))).collect();
    for m in &mails {
        rt.block_on(d.append("box54", "Support", m, false));
    }
    // Flag mode: the messages stay in the folder, so recreating it brings them back.
    let env = config(dir, &d.mailbox_toml("box54", "plain", &d.ca, "folder = \"Support\"\nafter = \"flag\""));
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    wait_until("three tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 3);
    assert_eq!(daemon.terminate().code(), Some(0));
    rt.block_on(async {
        let mut s = d.session("box54").await;
        s.delete("Support").await.unwrap();
        s.logout().await.unwrap();
    });
    for m in &mails {
        rt.block_on(d.append("box54", "Support", m, false));
    }
    rt.block_on(d.append("box54", "Support", &request("b@example.com", "New after recreation"), false));
    let daemon = Daemon::start(dir, &env);
    wait_until("the fourth ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 4);
    // The pass that applied it is over and found nothing more: a message applied twice
    // would have been by now.
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    let mut subjects = ticket_subjects(dir, &env);
    subjects.sort();
    assert_eq!(subjects, ["Kept 0", "Kept 1", "Kept 2", "New after recreation"]);
}

#[test]
fn kill_9_in_the_middle_of_300_then_restart_applies_each_exactly_once() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box55"));
    rt.block_on(async {
        let mut s = d.session("box55").await;
        for i in 0..300 {
            s.append("INBOX", None, None, request(&format!("c{i}@example.com"), &format!("Batch {i}"))).await.unwrap();
        }
        s.logout().await.unwrap();
    });
    let env = config(dir, &d.mailbox_toml("box55", "plain", &d.ca, ""));
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    wait_until("some applied", Duration::from_secs(60), || tickets(dir, &env).len() >= 40);
    daemon.kill_9();
    let applied = tickets(dir, &env).len();
    assert!(applied < 300, "the kill must land mid-batch ({applied})");
    let mut daemon = Daemon::start(dir, &env);
    wait_until("all 300", Duration::from_secs(120), || tickets(dir, &env).len() >= 300);
    wait_until("the inbox emptied", Duration::from_secs(30), || rt.block_on(d.count("box55", "INBOX")) == 0);
    assert_eq!(daemon.terminate().code(), Some(0));
    let subjects = ticket_subjects(dir, &env);
    assert_eq!(subjects.len(), 300, "each exactly once");
    let distinct: std::collections::BTreeSet<_> = subjects.iter().collect();
    assert_eq!(distinct.len(), 300);
    assert_eq!(rt.block_on(d.count("box55", "maildesk-done")), 300);
}

#[test]
fn a_wrong_password_or_certificate_fails_that_mailbox_only() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["box57", "box58", "box59"] {
        rt.block_on(d.reset(user));
    }
    let wrong_password = d
        .mailbox_toml("box58", "starttls", &d.ca, "")
        .replace(&format!("password = \"{}\"", d.password), "password = \"wrong\"");
    let tables = format!(
        "{}{}{}",
        d.mailbox_toml("box57", "implicit", &d.ca, ""),
        wrong_password,
        d.mailbox_toml("box59", "implicit", &d.wrong_ca, "")
    );
    let env = config(dir, &tables);
    let env = env_refs(&env);
    let refused_logins = || {
        let log = dovecot_info_log();
        log.lines().filter(|l| l.contains("user=<box58>") && l.contains("auth failed")).count()
    };
    let refused_before = refused_logins();
    let daemon = Daemon::start(dir, &env);
    rt.block_on(d.append("box57", "INBOX", &request("ok@example.com", "Still served"), false));
    rt.block_on(d.append("box58", "INBOX", &request("x@example.com", "Wrong password"), false));
    rt.block_on(d.append("box59", "INBOX", &request("y@example.com", "Wrong certificate"), false));
    wait_until("the good mailbox's ticket", Duration::from_secs(20), || ticket_subjects(dir, &env) == ["Still served"]);
    wait_until("both errors logged", Duration::from_secs(20), || {
        let log = daemon.log();
        log.contains("box58")
            && log.contains("refused")
            && log.contains("box59")
            && log.to_lowercase().contains("certificate")
    });
    // Two retries (after 1 s, then 2 s) refused by the server, to be said nothing of.
    wait_until("two more refused logins", Duration::from_secs(20), || refused_logins() - refused_before >= 3);
    let log = daemon.log();
    let box58_errors = log.lines().filter(|l| l.contains("mailbox=box58") && l.contains("unavailable")).count();
    assert_eq!(box58_errors, 1, "logged once, not once per retry:\n{log}");
    assert_eq!(ticket_subjects(dir, &env), ["Still served"]);
}

#[test]
fn without_move_processed_mail_is_copied_and_expunged() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("box60"));
    rt.block_on(d.append("box60", "INBOX", &request("a@example.com", "Copied, then expunged"), false));
    rt.block_on(d.append("box60", "INBOX", b"not a mail at all\r\n", false));
    let env = config(dir, &d.mailbox_toml("box60", "plain", &d.ca, "use_move = false"));
    let env = env_refs(&env);
    let _daemon = Daemon::start(dir, &env);
    wait_until("the ticket", Duration::from_secs(20), || ticket_subjects(dir, &env) == ["Copied, then expunged"]);
    wait_until("both settled", Duration::from_secs(20), || {
        rt.block_on(d.count("box60", "INBOX")) == 0
            && rt.block_on(d.count("box60", "maildesk-done")) == 1
            && rt.block_on(d.count("box60", "maildesk-quarantine")) == 1
    });
}

/// Makes the worker reading a message that contains it stall for an hour (the debug-build
/// fault injection hook `MAILDESK_TEST_STALL_MARKER`).
const STALL: &str = "stall-here-5e21d0";

#[test]
fn a_message_whose_interpretation_exceeds_the_time_limit_is_quarantined_and_the_mailbox_goes_on() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("other"));
    let mut env = config(dir, &d.mailbox_toml("other", "plain", &d.ca, ""));
    env.push(("MAILDESK_LIMITS__MAX_PROCESSING_SECS".into(), "2".into()));
    env.push(("MAILDESK_TEST_STALL_MARKER".into(), STALL.into()));
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    let mut stuck = request("slow@example.com", "Hangs the parser");
    stuck.extend_from_slice(STALL.as_bytes());
    rt.block_on(d.append("other", "INBOX", &stuck, false));
    rt.block_on(d.append("other", "INBOX", &request("fast@example.com", "After the stall"), false));
    wait_until("the next ticket", Duration::from_secs(30), || ticket_subjects(dir, &env) == ["After the stall"]);
    wait_until("the message quarantined", Duration::from_secs(20), || {
        rt.block_on(d.count("other", "maildesk-quarantine")) == 1
    });
    let quarantine = common::cli::json_of(common::cli::run(
        common::cli::maildesk(dir).args(["quarantine", "list", "--json"]).envs(env.iter().copied()),
    ));
    let reason = quarantine[0]["reason"].as_str().unwrap();
    assert!(reason.contains("limits.max_processing_secs (2s)"), "{quarantine}");
    // The abandoned worker is still asleep: SIGTERM ends the process anyway.
    assert_eq!(daemon.terminate().code(), Some(0));
}

#[test]
fn a_message_over_the_size_limit_goes_to_the_quarantine_folder_unread_and_the_next_is_applied() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    rt.block_on(d.reset("customer20"));
    let mut env = config(dir, &d.mailbox_toml("customer20", "plain", &d.ca, ""));
    env.push(("MAILDESK_LIMITS__MAX_MESSAGE_BYTES".into(), "4096".into()));
    let env = env_refs(&env);
    let mut big = request("big@example.com", "Too large to read");
    big.extend(
        std::iter::repeat_n(b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 400).flatten(),
    );
    let size = big.len();
    rt.block_on(d.append("customer20", "INBOX", &big, false));
    rt.block_on(d.append("customer20", "INBOX", &request("small@example.com", "Small and fine"), false));
    let daemon = Daemon::start(dir, &env);
    wait_until("the next ticket", Duration::from_secs(30), || ticket_subjects(dir, &env) == ["Small and fine"]);
    wait_until("both settled", Duration::from_secs(20), || {
        rt.block_on(d.count("customer20", "INBOX")) == 0
            && rt.block_on(d.count("customer20", "maildesk-quarantine")) == 1
            && rt.block_on(d.count("customer20", "maildesk-done")) == 1
    });
    let quarantine = common::cli::json_of(common::cli::run(
        common::cli::maildesk(dir).args(["quarantine", "list", "--json"]).envs(env.iter().copied()),
    ));
    let entries = quarantine.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{quarantine}");
    let reason = entries[0]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("message of {size} bytes exceeds limits.max_message_bytes (4096)")), "{reason}");
    assert!(reason.contains("not downloaded") && reason.contains("customer20") && reason.contains("UID 1"), "{reason}");
    assert_eq!(entries[0]["size"].as_i64(), Some(size as i64), "{quarantine}");
    drop(daemon);
}

#[test]
fn a_done_folder_deleted_under_the_daemon_leaves_mail_flagged_in_place_then_moved_by_a_later_pass() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "customer13";
    rt.block_on(d.reset(user));
    let env = config(dir, &d.mailbox_toml(user, "plain", &d.ca, ""));
    let env = env_refs(&env);
    let mut daemon = Daemon::start(dir, &env);
    rt.block_on(d.append(user, "INBOX", &request("a@example.com", "Moved 1"), false));
    wait_until("the first moved", Duration::from_secs(20), || rt.block_on(d.count(user, "maildesk-done")) == 1);
    assert!(daemon.log().contains("done: MOVE into maildesk-done"), "the path is said at start:\n{}", daemon.log());

    // Someone deletes the done folder: moves fail, mail keeps flowing.
    rt.block_on(d.command(user, "DELETE maildesk-done"));
    for i in 2..=3 {
        rt.block_on(d.append(user, "INBOX", &request("a@example.com", &format!("Moved {i}")), false));
    }
    wait_until("three tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 3);
    wait_until("both flagged in place", Duration::from_secs(10), || {
        let flags = rt.block_on(d.flags(user, "INBOX"));
        flags.len() == 2
            && flags.iter().all(|f| f.iter().any(|x| x.contains("$maildesk-done")) && f.contains(&"Seen".to_string()))
    });
    let log = daemon.log();
    assert_eq!(lines_with(&log, "refused to move"), 1, "said once, not per message:\n{log}");
    assert!(log.contains("answer=NO [TRYCREATE]"), "with the server's answer:\n{log}");
    assert_eq!(lines_with(&log, "mailbox unavailable"), 0, "a refused move is no reason to reconnect:\n{log}");

    // The folder is back: the next pass moves what waited, and the new mail.
    rt.block_on(d.command(user, "CREATE maildesk-done"));
    rt.block_on(d.append(user, "INBOX", &request("a@example.com", "Moved 4"), false));
    wait_until("all moved", Duration::from_secs(20), || {
        rt.block_on(d.count(user, "INBOX")) == 0 && rt.block_on(d.count(user, "maildesk-done")) == 3
    });
    assert!(daemon.log().contains("moving processed mail works again"), "{}", daemon.log());
    assert_eq!(daemon.terminate().code(), Some(0));

    // A restart applies nothing twice.
    let mut daemon = Daemon::start(dir, &env);
    rt.block_on(d.append(user, "INBOX", &request("a@example.com", "Moved 5"), false));
    wait_until("the fifth ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 5);
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    let mut subjects = ticket_subjects(dir, &env);
    subjects.sort();
    assert_eq!(subjects, ["Moved 1", "Moved 2", "Moved 3", "Moved 4", "Moved 5"]);
    assert_eq!(daemon.terminate().code(), Some(0));
}

#[test]
fn an_intake_folder_that_cannot_be_selected_stops_that_mailbox_only_and_backs_off() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["customer14", "customer15"] {
        rt.block_on(d.reset(user));
    }
    let tables = format!(
        "{}{}",
        d.mailbox_toml("customer14", "plain", &d.ca, "folder = \"Nope\""),
        d.mailbox_toml("customer15", "plain", &d.ca, "")
    );
    let env = config(dir, &tables);
    let env = env_refs(&env);
    let logins = || dovecot_info_log().lines().filter(|l| l.contains("Login: user=<customer14>")).count();
    let before = logins();
    let started = std::time::Instant::now();
    let daemon = Daemon::start(dir, &env);
    rt.block_on(d.append("customer15", "INBOX", &request("ok@example.com", "The other mailbox works"), false));
    wait_until("the good mailbox's ticket", Duration::from_secs(20), || {
        ticket_subjects(dir, &env) == ["The other mailbox works"]
    });
    // Eight seconds after the start: 1 s, 2 s, 4 s (each at least three quarters of that)
    // allow at most four logins; without a growing backoff there would be about eight.
    // This wait stays: what is measured is how many logins fit into a fixed time.
    std::thread::sleep(Duration::from_secs(8).saturating_sub(started.elapsed()));
    let tries = logins() - before;
    let log = daemon.log();
    let said: Vec<&str> =
        log.lines().filter(|l| l.contains("mailbox=customer14") && l.contains("unavailable")).collect();
    assert_eq!(said.len(), 1, "said once:\n{log}");
    assert!(
        said[0].contains("cannot select the intake folder \"Nope\"") && said[0].contains("set `folder`"),
        "naming the folder and what to configure:\n{log}"
    );
    assert!(said[0].contains("INBOX"), "and which folders exist:\n{log}");
    assert!((2..=4).contains(&tries), "{tries} logins: the backoff must grow");
}

#[test]
fn a_message_fetched_again_after_its_position_was_lost_is_a_duplicate_and_never_fetched_a_third_time() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "customer16";
    rt.block_on(d.reset(user));
    // Flag mode: the messages stay in the folder, where a lost position would find them again.
    let env = config(dir, &d.mailbox_toml(user, "plain", &d.ca, "after = \"flag\""));
    let env = env_refs(&env);
    for i in 1..=2 {
        rt.block_on(d.append(user, "INBOX", &request("a@example.com", &format!("Once {i}")), false));
    }
    let mut daemon = Daemon::start(dir, &env);
    wait_until("two tickets", Duration::from_secs(20), || tickets(dir, &env).len() == 2);
    assert_eq!(daemon.terminate().code(), Some(0));

    // As if the process had died between a commit and recording the message as done.
    rt.block_on(async {
        let options = maildesk::store::StoreOptions {
            url: format!("sqlite://{}", dir.join("var/maildesk.db").display()),
            max_connections: 1,
            busy_timeout: Duration::from_secs(5),
            blob_dir: dir.join("var/blobs"),
        };
        let store = maildesk::store::Store::open(&options).await.unwrap();
        let (validity, last) = store.conn().await.unwrap().imap_state(user).await.unwrap().expect("recorded");
        assert_eq!(last, 2);
        let mut tx = store.begin().await.unwrap();
        tx.imap_taken(user, validity, 0, None).await.unwrap();
        tx.commit().await.unwrap();
        store.close().await;
    });
    let mut daemon = Daemon::start(dir, &env);
    wait_until("both fetched again", Duration::from_secs(20), || {
        daemon.log().matches("outcome=\"duplicate\"").count() == 2
    });
    assert_eq!(daemon.terminate().code(), Some(0));
    let daemon = Daemon::start(dir, &env);
    rt.block_on(d.append(user, "INBOX", &request("a@example.com", "Once 3"), false));
    wait_until("the third ticket", Duration::from_secs(20), || tickets(dir, &env).len() == 3);
    // The pass that applied it is over: a message read again would have been by now.
    wait_until("the pass over", Duration::from_secs(20), || followed_by(&daemon.log(), "message applied", IDLING));
    let log = daemon.log();
    assert_eq!(log.matches("message applied").count(), 1, "only the new one is read:\n{log}");
    assert_eq!(log.matches("outcome=\"duplicate\"").count(), 0, "{log}");
}

/// The file that holds the message with `subject` in `user`'s INBOX of the test Dovecot.
fn maildir_file(user: &str, subject: &str) -> std::path::PathBuf {
    let conf = std::env::var("MAILDESK_TEST_DOVECOT_CONF").unwrap();
    let maildir = Path::new(&conf).with_file_name("mail").join(user).join("Maildir");
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(maildir.join(sub)).into_iter().flatten().flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            if bytes.windows(subject.len()).any(|w| w == subject.as_bytes()) {
                return entry.path();
            }
        }
    }
    panic!("no file holds {subject:?} in {}", maildir.display());
}

#[test]
fn a_message_the_server_will_not_give_is_quarantined_after_three_tries_and_the_next_flows() {
    use std::os::unix::fs::PermissionsExt;
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let user = "customer17";
    rt.block_on(d.reset(user));
    rt.block_on(d.append(user, "INBOX", &request("a@example.com", "Unreadable file"), false));
    rt.block_on(d.append(user, "INBOX", &request("b@example.com", "Behind it"), false));
    // The server cannot read the first message's file: every FETCH of it fails.
    let file = maildir_file(user, "Unreadable file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let env = config(dir, &d.mailbox_toml(user, "plain", &d.ca, ""));
    let env = env_refs(&env);
    let daemon = Daemon::start(dir, &env);
    wait_until("the next mail's ticket", Duration::from_secs(30), || ticket_subjects(dir, &env) == ["Behind it"]);
    let quarantine = common::cli::json_of(common::cli::run(
        common::cli::maildesk(dir).args(["quarantine", "list", "--json"]).envs(env.iter().copied()),
    ));
    let entries = quarantine.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{quarantine}");
    let reason = entries[0]["reason"].as_str().unwrap();
    // Dovecot drops the connection when it cannot read a message's file.
    assert!(reason.contains("the server would not give the message (") && reason.contains("3 times"), "{reason}");
    assert!(reason.contains(user) && reason.contains("UID 1"), "{reason}");
    let log = daemon.log();
    assert_eq!(lines_with(&log, "quarantined unread"), 1, "{log}");
    assert_eq!(rt.block_on(d.count(user, "maildesk-quarantine")), 1, "moved out of the way");
}
