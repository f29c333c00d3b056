//! End-to-end: the real `maildesk` binary, spawned in a temporary working directory, with
//! mail dropped into its Maildir and checked through its own CLI.

mod common;

use common::cli::{Daemon, deliver, inbox, json_of, maildesk, run, tickets, wait_until};

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.filter(|e| e.is_ok()).count()).unwrap_or(0)
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures").join(path)).unwrap()
}

fn outbox_files(dir: &Path) -> Vec<PathBuf> {
    common::files_with_suffix(&dir.join("var/outbox"), ".eml")
}

fn header_of(raw: &str, name: &str) -> Option<String> {
    raw.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(&format!("{name}: ")).map(String::from))
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to portal");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_on_embedded_defaults_turns_maildir_mail_into_tickets_comments_and_acknowledgements() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // No config and no MAILDESK_ variables at all: the embedded defaults.
    let daemon = Daemon::start(dir, &[]);
    deliver(dir, "1700000000.1.test", &fixture("new/plain-utf8.eml"));
    wait_until("the first ticket", Duration::from_secs(20), || !tickets(dir, &[]).is_empty());
    assert!(dir.join("var/maildesk.db").exists(), "SQLite at ./var/maildesk.db");
    let list = tickets(dir, &[]);
    assert_eq!(list.len(), 1);
    let n = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["requester_email"], "rafael.souza@example.org");
    assert_eq!(list[0]["subject"], "Printer on 2nd floor reports paper jam but tray is empty");

    // The acknowledgement, carrying the invitation to the portal (one mail, not two), is
    // written to ./var/outbox, threaded under the customer's mail.
    wait_until("the acknowledgement", Duration::from_secs(20), || daemon.log().contains("notification sent"));
    assert_eq!(daemon.log().matches("notification sent").count(), 1, "the one row queued with the ticket");
    let written: Vec<String> = outbox_files(dir).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert_eq!(written.len(), 1, "one mail: the acknowledgement carries the invitation");
    let ack = written[0].clone();
    let text = mail_parser::MessageParser::default().parse(ack.as_bytes()).unwrap().body_text(0).unwrap().into_owned();
    assert!(text.contains("http://127.0.0.1:8080/signup?token="), "{text}");
    assert_eq!(header_of(&ack, "To").as_deref(), Some("rafael.souza@example.org"));
    assert!(header_of(&ack, "Subject").unwrap().starts_with(&format!("[Support #{n}] ")));
    let eml = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures/new/plain-utf8.eml");
    let request_id =
        json_of(run(maildesk(dir).arg("parse").arg(&eml).arg("--json")))["message_id"].as_str().unwrap().to_string();
    let in_reply_to = header_of(&ack, "In-Reply-To").unwrap();
    assert_eq!(in_reply_to, format!("<{request_id}>"));
    assert_eq!(header_of(&ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    let ack_id = header_of(&ack, "Message-ID").unwrap();

    // The customer replies to the acknowledgement without the tag: it lands on the ticket.
    let reply = format!(
        "From: rafael.souza@example.org\nTo: support@localhost\nSubject: Re: paper jam\nMessage-ID: <reply-1@example.org>\nIn-Reply-To: {ack_id}\nReferences: {in_reply_to} {ack_id}\n\nThe tray is full again now, thanks!\n\nOn Mon, Support wrote:\n> we opened a ticket\n"
    );
    deliver(dir, "1700000001.2.test", reply.as_bytes());
    wait_until("the reply as a comment", Duration::from_secs(20), || {
        tickets(dir, &[]).first().and_then(|t| t["comment_count"].as_i64()) == Some(2)
    });
    let shown = json_of(run(maildesk(dir).args(["ticket", "show", &n.to_string(), "--json"])));
    assert_eq!(shown["comments"][1]["body_reply"], "The tray is full again now, thanks!");
    let human = run(maildesk(dir).args(["ticket", "show", &n.to_string()]));
    assert!(String::from_utf8_lossy(&human.stdout).contains("The tray is full again now"));
    let listed = run(maildesk(dir).args(["ticket", "list"]));
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.contains("rafael.souza@example.org") && listed.contains("paper jam"), "{listed}");
    let missing = run(maildesk(dir).args(["ticket", "show", "999"]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no ticket #999"));
    assert_eq!(run(maildesk(dir).args(["ticket", "show", "abc"])).status.code(), Some(2));
    assert_eq!(tickets(dir, &[]).len(), 1, "a reply opens no ticket");
    assert_eq!(outbox_files(dir).len(), 1, "a reply is not acknowledged");
    assert_eq!(count(&inbox(dir).join("new")), 0);
    assert_eq!(count(&inbox(dir).join("cur")), 2);

    // The portal answers on 127.0.0.1:8080.
    let page = http_get("127.0.0.1:8080", "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("support@localhost"));
    assert!(http_get("127.0.0.1:8080", "/healthz").ends_with("ok"));
}

#[test]
fn kill_9_in_the_middle_of_500_messages_then_restart_applies_each_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let env = [("MAILDESK_PORTAL__ENABLED", "false"), ("MAILDESK_PORTAL__INVITE", "false")];
    let total = 500;
    for i in 0..total {
        let body = format!(
            "From: Customer {i} <customer{i}@example.com>\nTo: support@localhost\nSubject: Request number {i}\nMessage-ID: <batch-{i}@example.com>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nPlease help with problem {i}.\n"
        );
        deliver(dir, &format!("17000{i:05}.M{i}.test"), body.as_bytes());
    }
    let mut daemon = Daemon::start(dir, &env);
    wait_until("some messages applied", Duration::from_secs(60), || count(&inbox(dir).join("cur")) >= 60);
    daemon.kill_9();
    let left = count(&inbox(dir).join("new"));
    assert!(left > 0 && left < total, "the kill must land mid-batch (left {left})");

    let mut daemon = Daemon::start(dir, &env);
    wait_until("every message applied", Duration::from_secs(120), || {
        count(&inbox(dir).join("new")) == 0 && count(&inbox(dir).join("cur")) == total
    });
    wait_until("every acknowledgement written", Duration::from_secs(60), || outbox_files(dir).len() >= total);
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM ends the daemon cleanly");

    let list = tickets(dir, &[]);
    assert_eq!(list.len(), total, "one ticket per message");
    let subjects: BTreeSet<String> = list.iter().map(|t| t["subject"].as_str().unwrap().to_string()).collect();
    let expected: BTreeSet<String> = (0..total).map(|i| format!("Request number {i}")).collect();
    assert_eq!(subjects, expected);
    assert!(list.iter().all(|t| t["comment_count"] == 1), "one comment each");
    let files = outbox_files(dir);
    assert_eq!(files.len(), total, "one acknowledgement each");
    let recipients: BTreeSet<String> =
        files.iter().map(|f| header_of(&std::fs::read_to_string(f).unwrap(), "To").unwrap()).collect();
    assert_eq!(recipients.len(), total);
}

#[test]
fn duplicates_and_garbage_change_nothing_and_the_daemon_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let _daemon = Daemon::start(dir, &[("MAILDESK_PORTAL__ENABLED", "false"), ("MAILDESK_PORTAL__INVITE", "false")]);
    deliver(dir, "1.a", &fixture("duplicate/original.eml"));
    deliver(dir, "2.b", &fixture("duplicate/redelivered.eml"));
    deliver(dir, "3.c", &fixture("malformed/binary-garbage.eml"));
    deliver(dir, "4.d", &fixture("malformed/empty.eml"));
    deliver(dir, "5.e", &fixture("auto/out-of-office.eml"));
    deliver(dir, "6.f", &fixture("new/pdf-attachment.eml"));
    wait_until("all six settled", Duration::from_secs(30), || count(&inbox(dir).join("cur")) == 6);
    let list = tickets(dir, &[]);
    let subjects: BTreeSet<&str> = list.iter().map(|t| t["subject"].as_str().unwrap()).collect();
    assert_eq!(
        subjects,
        BTreeSet::from(["Outlook keeps asking for my password", "Wrong VAT rate on invoice INV-2026-1187"])
    );
    let quarantine = json_of(run(maildesk(dir).args(["quarantine", "list", "--json"])));
    let reasons: Vec<&str> = quarantine.as_array().unwrap().iter().map(|q| q["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    let cur: Vec<String> = std::fs::read_dir(inbox(dir).join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(cur.contains(&"3.c:2,F".to_string()), "quarantined mail is flagged: {cur:?}");
    assert!(cur.contains(&"2.b:2,S".to_string()), "{cur:?}");
    wait_until("two acknowledgements", Duration::from_secs(20), || outbox_files(dir).len() == 2);
    // Nothing is queued for the auto-reply (or anything else): the outbox holds two rows.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let queued: i64 = rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("var/maildesk.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&mut conn).await.unwrap()
    });
    assert_eq!(queued, 2, "nothing answers the auto-reply");
}

#[test]
fn serve_uses_postgresql_when_the_url_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(common::fresh_database_url(common::Db::Postgres, dir));
    let env = [("MAILDESK_DATABASE__URL", url.as_str()), ("MAILDESK_PORTAL__ENABLED", "false")];
    let _daemon = Daemon::start(dir, &env);
    deliver(dir, "1.a", &fixture("new/acme-corp.eml"));
    wait_until("the ticket in PostgreSQL", Duration::from_secs(20), || !tickets(dir, &env).is_empty());
    assert!(!dir.join("var/maildesk.db").exists(), "no SQLite file when PostgreSQL is configured");
    assert_eq!(tickets(dir, &env)[0]["requester_email"], "dana.whitfield@acme.example");
}

#[test]
fn ingest_answers_the_mta_with_sendmail_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let eml = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures/new/latin1-qp.eml");
    let first = run(maildesk(dir).arg("ingest").arg(&eml));
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stderr).contains("opened ticket #1"));
    let again = run(maildesk(dir).arg("ingest").arg(&eml));
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already applied"));

    // Standard input, as a pipe delivery runs it.
    let mut child = maildesk(dir).arg("ingest").stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // No usable sender anywhere (From, Sender, Reply-To, Return-Path): quarantined.
    let nobody = b"From: Robot <robot>\nTo: support@helpdesk.example\nSubject: Nightly job\n\nDone.\n";
    child.stdin.take().unwrap().write_all(nobody).unwrap();
    let piped = child.wait_with_output().unwrap();
    assert_eq!(piped.status.code(), Some(0), "quarantined mail is delivered as far as the MTA knows");
    assert!(String::from_utf8_lossy(&piped.stderr).contains("quarantined"));
    assert_eq!(tickets(dir, &[]).len(), 1);

    // An unreachable database: 75, so the MTA keeps the mail and retries.
    let down =
        run(maildesk(dir).arg("ingest").arg(&eml).env("MAILDESK_DATABASE__URL", "postgres://nobody@127.0.0.1:1/x"));
    assert_eq!(down.status.code(), Some(75), "{}", String::from_utf8_lossy(&down.stderr));

    // A locked SQLite database: 75 too, and nothing changed.
    let db = dir.join("var/maildesk.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut lock = rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO organisations (name, created_at) VALUES ('lock', 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures/new/html-only.eml");
    let locked = run(maildesk(dir).arg("ingest").arg(&other).env("MAILDESK_DATABASE__BUSY_TIMEOUT_MS", "300"));
    assert_eq!(locked.status.code(), Some(75), "{}", String::from_utf8_lossy(&locked.stderr));
    rt.block_on(async { sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap() });
    drop(lock);
    assert_eq!(tickets(dir, &[]).len(), 1, "the locked attempt changed nothing");
    let retried = run(maildesk(dir).arg("ingest").arg(&other));
    assert_eq!(retried.status.code(), Some(0));
    assert_eq!(tickets(dir, &[]).len(), 2);
}

#[test]
fn a_bad_config_names_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let config = dir.join("maildesk.toml");
    std::fs::write(&config, "[database]\nurl = \"mysql://db\"\n[desk]\naddress = \"not-an-address\"\ncolour = \"blue\"\n[portal]\nlisten = \"everywhere\"\n").unwrap();
    let out =
        run(maildesk(dir).arg("--config").arg(&config).arg("serve").env("MAILDESK_MAILDIR__POLL_INTERVAL_MS", "soon"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["database.url", "desk.address", "desk.colour", "portal.listen", "MAILDESK_MAILDIR__POLL_INTERVAL_MS"] {
        assert!(err.contains(key), "{key} missing from:\n{err}");
    }
    assert!(!dir.join("var").exists(), "a bad config changes nothing");
    let missing = run(maildesk(dir).args(["--config", "/nonexistent/maildesk.toml", "ticket", "list"]));
    assert_eq!(missing.status.code(), Some(2));
    let usage = run(maildesk(dir).args(["ticket", "frobnicate"]));
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn parse_json_prints_the_contract_without_touching_any_database() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let eml = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures/replies/gmail.eml");
    let value = json_of(run(maildesk(dir).arg("parse").arg(&eml).arg("--json")));
    let keys: BTreeSet<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    let contract = BTreeSet::from([
        "message_id",
        "from",
        "to",
        "cc",
        "reply_to",
        "subject",
        "date",
        "text",
        "html",
        "reply",
        "attachments",
        "auto",
        "bounce",
        "thread",
        "in_reply_to",
        "references",
    ]);
    assert_eq!(keys, contract);
    assert_eq!(value["thread"]["ticket"], 12);
    assert_eq!(value["from"]["address"], "priya.raman@example.com");
    assert!(!dir.join("var").exists(), "parse touches no database");
    let human = run(maildesk(dir).arg("parse").arg(&eml));
    assert!(String::from_utf8_lossy(&human.stdout).contains("priya.raman@example.com"));
    let garbage = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures/malformed/empty.eml");
    assert_eq!(run(maildesk(dir).arg("parse").arg(&garbage).arg("--json")).status.code(), Some(1));
    // `from.address` is null for the null sender, and parse never fails over the sender.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures");
    let bounce =
        json_of(run(maildesk(dir).arg("parse").arg(fixtures.join("auto/courier-dsn-null-from.eml")).arg("--json")));
    assert_eq!(bounce["from"]["address"], serde_json::Value::Null);
    assert_eq!(bounce["auto"], "bounce");
    let nobody = dir.join("nobody.eml");
    std::fs::write(&nobody, "From: Jane Doe <jane>\nSubject: Printer\n\nThe printer is broken.\n").unwrap();
    let person = json_of(run(maildesk(dir).arg("parse").arg(&nobody).arg("--json")));
    assert_eq!(person["from"], serde_json::json!({"name": "Jane Doe", "address": null}));
    let human = run(maildesk(dir).arg("parse").arg(&nobody));
    assert_eq!(human.status.code(), Some(0));
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("Refused:") && human.contains("no usable sender address"), "{human}");
}
