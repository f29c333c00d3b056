//! `maildesk check`, the real binary against the Dovecot, Cyrus, Postfix and PostgreSQL
//! that `scripts/test` starts: a good config passes, each broken setting fails its own line
//! while the other checks still run, a config that cannot be read exits 2, and the check
//! changes nothing (no migration, folder, moved or flagged mail, file, or sent mail).
//! Each test owns its mailboxes: staff4 and customer19 of Dovecot (staff4 is also the SMTP
//! login, which no other test uses), box19 of Cyrus.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::Db;
use common::cli::{maildesk, run};
use common::imap::{ImapServer, cyrus, dovecot, request};
use common::smtp::smtp_port;

/// What one run of `maildesk check --json` gave.
struct Checked {
    code: i32,
    findings: Vec<Value>,
    stderr: String,
}

impl Checked {
    /// The findings of kind `check` (`imap`, `smtp` …) whose target contains `target`.
    fn of(&self, check: &str, target: &str) -> Vec<&Value> {
        self.findings
            .iter()
            .filter(|f| f["check"] == check && f["target"].as_str().is_some_and(|t| t.contains(target)))
            .collect()
    }

    /// The one finding of kind `check` about `target`, as `(verdict, detail and fix)`.
    fn one(&self, check: &str, target: &str) -> (String, String) {
        let found = self.of(check, target);
        assert_eq!(found.len(), 1, "one {check} finding about {target:?} in {:#?}", self.findings);
        let f = found[0];
        let text = format!("{} — {}", f["detail"].as_str().unwrap_or(""), f["fix"].as_str().unwrap_or(""));
        (f["verdict"].as_str().unwrap_or("").to_string(), text)
    }

    /// Every verdict but those of kind `except`.
    fn verdicts_except(&self, except: &str) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f["check"] != except)
            .map(|f| f["verdict"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

/// Runs `maildesk check --json` on the config `text` (written into `dir`).
fn check(dir: &Path, text: &str, timeout_secs: u64) -> Checked {
    let path = dir.join("maildesk.toml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = maildesk(dir);
    cmd.arg("--config").arg(&path).args(["check", "--json", "--timeout", &timeout_secs.to_string()]);
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().expect("exited");
    let findings = if code == 2 {
        Vec::new()
    } else {
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("JSON from check ({e}): {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
        json["checks"].as_array().cloned().unwrap_or_default()
    };
    Checked { code, findings, stderr }
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

/// The top of a config: data directory, database, desk, a free portal port, SMTP over
/// STARTTLS as staff4 with `smtp_password`, then `rest` (such as `[[imap]]` tables).
fn config(data_dir: &Path, url: &str, smtp_port: u16, smtp_password: &str, rest: &str) -> String {
    format!(
        "data_dir = \"{data}\"\n[database]\nurl = \"{url}\"\n[desk]\naddress = \"support@helpdesk.example\"\n\
         [portal]\nlisten = \"127.0.0.1:{portal}\"\nbase_url = \"https://help.example\"\n\
         [outbox]\ntransport = \"smtp\"\n\
         [smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"starttls\"\nuser = \"staff4\"\npassword = \"{smtp_password}\"\nca_file = \"{ca}\"\ntimeout_secs = 5\n\
         {rest}",
        data = data_dir.display(),
        portal = free_port(),
        ca = var("MAILDESK_TEST_SMTP_CA"),
    )
}

/// A data directory as `serve` makes it (0700), with a database of `db` kind migrated by
/// opening the store; its URL.
async fn migrated(db: Db, dir: &Path) -> (PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let data = dir.join("var");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let url = common::fresh_database_url(db, &data).await;
    let store = maildesk::store::Store::open(&maildesk::store::StoreOptions {
        url: url.clone(),
        max_connections: 2,
        busy_timeout: Duration::from_secs(5),
        blob_dir: data.join("blobs"),
    })
    .await
    .expect("open store");
    store.close().await;
    (data, url)
}

/// Makes `folders` of `user` exist.
async fn with_folders(server: &ImapServer, user: &str, folders: &[&str]) {
    let mut s = server.session(user).await;
    for folder in folders {
        let _ = s.create(folder).await;
    }
    s.logout().await.unwrap();
}

/// What a mail client sees of `user`'s account: every folder, and each one's messages'
/// flags (but `\Recent`), so that a created folder or a moved or flagged message shows.
async fn account(server: &ImapServer, user: &str) -> Vec<(String, Vec<Vec<String>>)> {
    let mut folders = server.folders(user).await;
    folders.sort();
    let mut out = Vec::new();
    for folder in folders {
        let mut flags =
            if server.count(user, &folder).await > 0 { server.flags(user, &folder).await } else { Vec::new() };
        // \Recent belongs to a session, not to the message: the first look takes it.
        flags.iter_mut().for_each(|f| f.retain(|flag| flag != "Recent"));
        out.push((folder, flags));
    }
    out
}

/// Every file under `dir` with its size and modification time.
fn files(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let meta = entry.metadata().unwrap();
        out.push((entry.path(), meta.len(), meta.modified().unwrap()));
        if meta.is_dir() {
            out.extend(files(&entry.path()));
        }
    }
    out.sort();
    out
}

/// The tables of the PostgreSQL database at `url`.
async fn pg_tables(url: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// Whether Postfix logged a mail transaction (a queue ID given to a client) for staff4's
/// login: what sending anything would leave.
fn postfix_saw_mail_from_staff4() -> bool {
    // `<queue id>: client=…, sasl_method=PLAIN, sasl_username=staff4` (a refused login is
    // logged too, as a warning without `client=`).
    let log = std::fs::read_to_string(var("MAILDESK_TEST_POSTFIX_LOG")).expect("the Postfix log");
    log.lines().any(|l| l.contains(" client=") && l.contains("sasl_username=staff4"))
}

/// Held by the tests that look at staff4's and customer19's folders, so that one's reset
/// never lands between another's two looks.
static MAILBOXES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

on_both!(a_good_config_passes_and_changes_nothing, |db| {
    let _mailboxes = MAILBOXES.lock().await;
    let d = dovecot();
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(db, dir.path()).await;
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    // staff4 has every folder and a message waiting; customer19 lacks its done and
    // quarantine folders (maildesk makes them at start), and is reached over implicit TLS.
    d.reset("staff4").await;
    d.reset("customer19").await;
    with_folders(&d, "staff4", &["maildesk-done", "maildesk-quarantine"]).await;
    d.append("staff4", "INBOX", &request("jane@example.com", "Waiting"), false).await;
    let before = (account(&d, "staff4").await, account(&d, "customer19").await, files(&data));
    let imap = d.mailbox_toml("staff4", "starttls", &d.ca, "") + &d.mailbox_toml("customer19", "implicit", &d.ca, "");
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, &imap), 10);
    assert_eq!(checked.code, 0, "{:#?}\n{}", checked.findings, checked.stderr);
    for (check, target) in [("database", ""), ("data", ""), ("imap", "staff4@"), ("smtp", ""), ("portal", "listen")] {
        let (verdict, text) = checked.one(check, target);
        assert_eq!(verdict, "ok", "{check}: {text}");
    }
    let (_, staff4) = checked.one("imap", "staff4@");
    assert!(staff4.contains("INBOX, maildesk-done, maildesk-quarantine exist; 1 message waiting in INBOX"), "{staff4}");
    assert!(staff4.contains("IDLE MOVE UIDPLUS"), "{staff4}");
    let (verdict, customer19) = checked.one("imap", "customer19@");
    assert_eq!(verdict, "warn", "{customer19}");
    assert!(customer19.contains("maildesk-done, maildesk-quarantine missing"), "{customer19}");
    assert!(customer19.contains("maildesk creates them at start"), "{customer19}");
    let (_, smtp) = checked.one("smtp", "127.0.0.1");
    assert!(smtp.contains("with STARTTLS, authenticated as \"staff4\"; nothing sent"), "{smtp}");
    let (_, schema) = checked.one("database", "");
    assert!(schema.contains("schema up to date"), "{schema}");
    // The support domain does not resolve on test machines: a warning, not a failure.
    let (verdict, dns) = checked.one("dns", "helpdesk.example");
    assert_eq!(verdict, "warn", "{dns}");
    assert!(checked.findings.iter().all(|f| f["verdict"] != "fail"), "{:#?}", checked.findings);
    // Nothing changed: no folder made, no message moved or flagged, no file written, no mail.
    let after = (account(&d, "staff4").await, account(&d, "customer19").await, files(&data));
    assert_eq!(before, after);
    assert!(!postfix_saw_mail_from_staff4(), "a check never starts a mail transaction");
    if db == Db::Postgres {
        assert!(pg_tables(&url).await > 10, "the schema is still there");
    }
});

#[tokio::test]
async fn the_text_output_is_one_line_per_check_with_its_verdict_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maildesk.toml");
    std::fs::write(&path, format!("data_dir = \"{}\"\n", dir.path().join("var").display())).unwrap();
    let out = run(maildesk(dir.path()).arg("--config").arg(&path).arg("check"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "database, data, smtp, portal listen, portal base_url, dns:\n{text}");
    assert!(lines[0].starts_with("warn  database sqlite://") && lines[0].contains("does not exist yet"), "{text}");
    assert!(lines[1].starts_with("warn  data ") && lines[1].contains("— `maildesk serve` creates it"), "{text}");
    assert!(lines[2].starts_with("warn  smtp ") && lines[2].contains("not sent"), "{text}");
    assert!(lines.iter().all(|l| l.starts_with("ok    ") || l.starts_with("warn  ")), "{text}");
    assert!(!dir.path().join("var").exists(), "the data directory is not made");
}

#[tokio::test]
async fn a_wrong_imap_password_fails_its_line_and_the_other_checks_still_run() {
    let d = dovecot();
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    let good = d.mailbox_toml("staff4", "plain", &d.ca, "");
    let bad = d.mailbox_toml("customer19", "plain", &d.ca, "").replace(&password, "not-the-password");
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, &(good + &bad)), 10);
    assert_eq!(checked.code, 1, "{:#?}", checked.findings);
    let (verdict, text) = checked.one("imap", "customer19@");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("login as \"customer19\" refused"), "{text}");
    assert!(text.contains("check user and password"), "{text}");
    assert!(!text.contains("not-the-password"), "no password in the output: {text}");
    assert_eq!(checked.one("imap", "staff4@").0, "ok");
    assert_eq!(checked.one("smtp", "").0, "ok");
    assert_eq!(checked.one("database", "").0, "ok");
    assert_eq!(checked.findings.len(), 8, "every check ran: {:#?}", checked.findings);
}

#[tokio::test]
async fn a_missing_intake_folder_fails_naming_it_and_is_not_created() {
    let _mailboxes = MAILBOXES.lock().await;
    let d = dovecot();
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    let before = d.folders("staff4").await;
    let imap = d.mailbox_toml("staff4", "plain", &d.ca, "folder = \"Support/Requests\"");
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, &imap), 10);
    assert_eq!(checked.code, 1, "{:#?}", checked.findings);
    let (verdict, text) = checked.one("imap", "staff4@");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("intake folder \"Support/Requests\" does not exist"), "{text}");
    assert!(text.contains("the account has: ") && text.contains("INBOX"), "what exists is named: {text}");
    assert_eq!(d.folders("staff4").await, before, "no folder created");
}

#[tokio::test]
async fn an_unreachable_or_silent_server_fails_within_the_timeout() {
    let d = dovecot();
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    // A port nothing listens on refuses at once.
    let checked = check(dir.path(), &config(&data, &url, free_port(), &password, ""), 2);
    assert_eq!(checked.code, 1);
    let (verdict, text) = checked.one("smtp", "127.0.0.1");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("cannot connect") && text.contains("check [smtp] host, port and tls"), "{text}");
    // Servers that accept the connection and never say a word: each check gives up at the
    // timeout, side by side, and says so.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut imap = d.mailbox_toml("staff4", "plain", &d.ca, "");
    imap = imap.replace(&format!("port = {}", d.port), &format!("port = {port}"));
    let started = Instant::now();
    let checked = check(dir.path(), &config(&data, &url, port, &password, &imap), 2);
    let took = started.elapsed();
    assert_eq!(checked.code, 1);
    for kind in ["smtp", "imap"] {
        let (verdict, text) = checked.one(kind, &port.to_string());
        assert_eq!(verdict, "fail", "{text}");
        assert!(text.contains("no answer within 2 s"), "{text}");
    }
    assert!(took < Duration::from_secs(6), "both gave up after 2 s, together: {took:?}");
    drop(silent);
}

#[tokio::test]
async fn a_wrong_smtp_password_fails_that_check() {
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), "not-the-password", ""), 10);
    assert_eq!(checked.code, 1, "{:#?}", checked.findings);
    let (verdict, text) = checked.one("smtp", "127.0.0.1");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("authentication refused") && text.contains("check [smtp] user and password"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
    assert_eq!(checked.verdicts_except("smtp").iter().filter(|v| *v == "fail").count(), 0, "{:#?}", checked.findings);
}

on_both!(pending_migrations_are_reported_and_never_applied, |db| {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    std::fs::create_dir(&data).unwrap();
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    let migrations =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite")).unwrap().count();
    // An empty database: every migration pending, none applied.
    let url = common::fresh_database_url(db, &data).await;
    if db == Db::Sqlite {
        std::fs::write(data.join("maildesk.db"), b"").unwrap();
    }
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, ""), 10);
    assert_eq!(checked.code, 0, "pending migrations are applied at start: {:#?}", checked.findings);
    let (verdict, text) = checked.one("database", "");
    assert_eq!(verdict, "warn", "{text}");
    assert!(text.contains(&format!("0 of {migrations} migrations applied, {migrations} pending (0001 ")), "{text}");
    assert!(text.contains("applies them at start"), "{text}");
    match db {
        Db::Sqlite => assert_eq!(std::fs::metadata(data.join("maildesk.db")).unwrap().len(), 0, "still empty"),
        Db::Postgres => assert_eq!(pg_tables(&url).await, 0, "still empty"),
    }
    // A database of an older maildesk: the last migration is pending.
    let (data, url) = migrated(db, &dir.path().join("older")).await;
    let forget_last = "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    execute(&url, forget_last).await;
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, ""), 10);
    let (verdict, text) = checked.one("database", "");
    assert_eq!(verdict, "warn", "{text}");
    assert!(text.contains(&format!("{} of {migrations} migrations applied, 1 pending", migrations - 1)), "{text}");
    // One of a newer maildesk: a failure (serve would refuse it).
    execute(&url, "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101, 'from the future', TRUE, X'00', 1)")
        .await;
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, ""), 10);
    assert_eq!(checked.code, 1);
    let (verdict, text) = checked.one("database", "");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("migrated by a newer maildesk (unknown migrations 99990101)"), "{text}");
});

/// Runs `sql` on the database at `url` (`X'00'` is written `'\x00'` for PostgreSQL).
async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let sql = sql.replace("X'00'", "'\\x00'::bytea");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn an_unreachable_database_fails_and_the_rest_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    std::fs::create_dir(&data).unwrap();
    let url = format!("postgres://maildesk:s3cret@127.0.0.1:{}/maildesk", free_port());
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &var("MAILDESK_TEST_IMAP_PASSWORD"), ""), 5);
    assert_eq!(checked.code, 1);
    let (verdict, text) = checked.one("database", "postgres://maildesk:***@127.0.0.1");
    assert_eq!(verdict, "fail", "{text}");
    assert!(text.contains("connection refused") && text.contains("check database.url"), "{text}");
    assert!(!format!("{:?}", checked.findings).contains("s3cret"), "no password shown");
    assert_eq!(checked.one("smtp", "").0, "ok");
}

#[tokio::test]
async fn a_config_that_cannot_be_read_exits_2_with_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    let unparsable = check(dir.path(), "[desk\naddress = \"support@helpdesk.example\"\n", 5);
    assert_eq!(unparsable.code, 2);
    assert!(
        unparsable.stderr.contains("maildesk.toml") && unparsable.stderr.contains("line 1"),
        "{}",
        unparsable.stderr
    );
    let invalid = check(dir.path(), "[database]\nurl = \"mysql://x\"\n[[imap]]\nname = \"a\"\n", 5);
    assert_eq!(invalid.code, 2);
    for key in ["database.url", "imap"] {
        assert!(invalid.stderr.contains(key), "{key} named: {}", invalid.stderr);
    }
    let missing = run(maildesk(dir.path()).args(["--config", "no-such.toml", "check"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such.toml: cannot read"));
}

#[tokio::test]
async fn a_data_directory_open_to_others_warns_and_a_file_in_its_place_fails() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let password = var("MAILDESK_TEST_IMAP_PASSWORD");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(data.join("reply-secret"), "k".repeat(64)).unwrap();
    std::fs::set_permissions(data.join("reply-secret"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, ""), 10);
    let (verdict, text) = checked.one("data", "");
    assert_eq!(verdict, "fail", "a reply key anyone can read lets anyone forge reply addresses: {text}");
    assert!(text.contains("mode 0755") && text.contains("chmod 700") && text.contains("chmod 600"), "{text}");
    std::fs::set_permissions(data.join("reply-secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &password, ""), 10);
    let (verdict, text) = checked.one("data", "");
    assert_eq!(verdict, "warn", "{text}");
    assert!(text.contains("open to other users"), "{text}");
    assert_eq!(checked.code, 0);
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let checked = check(dir.path(), &config(&file, &url, smtp_port(), &password, ""), 10);
    assert_eq!(checked.code, 1);
    let (verdict, text) = checked.one("data", "a-file");
    assert_eq!((verdict.as_str(), text.contains("is not a directory")), ("fail", true), "{text}");
}

#[tokio::test]
async fn a_portal_address_in_use_warns_and_an_http_base_url_warns() {
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = config(&data, &url, smtp_port(), &var("MAILDESK_TEST_IMAP_PASSWORD"), "")
        .replace("base_url = \"https://help.example\"", "base_url = \"http://help.example\"");
    let text = regex::Regex::new(r"listen = .*").unwrap().replace(&text, format!("listen = \"127.0.0.1:{port}\""));
    let checked = check(dir.path(), &text, 10);
    assert_eq!(checked.code, 0, "{:#?}", checked.findings);
    let (verdict, listen) = checked.one("portal", "listen");
    assert_eq!(verdict, "warn", "{listen}");
    assert!(listen.contains("address in use") && listen.contains("maildesk is running"), "{listen}");
    let (verdict, base) = checked.one("portal", "base_url");
    assert_eq!(verdict, "warn", "{base}");
    assert!(base.contains("plain http") && base.contains("https://"), "{base}");
    drop(taken);
}

#[tokio::test]
async fn a_server_without_idle_move_or_uidplus_warns_how_maildesk_copes() {
    let (c, _) = cyrus();
    let bare = ImapServer { port: var("MAILDESK_TEST_CYRUS_BARE_PORT").parse().unwrap(), ..c };
    let dir = tempfile::tempdir().unwrap();
    let (data, url) = migrated(Db::Sqlite, dir.path()).await;
    let user = "box19";
    bare.reset(user).await;
    let before = bare.folders(user).await;
    let imap = format!(
        "[[imap]]\nname = \"{user}\"\nhost = \"{}\"\nport = {}\ntls = \"plain\"\nuser = \"{user}\"\npassword = \"{}\"\n",
        bare.host, bare.port, bare.password
    );
    let checked = check(dir.path(), &config(&data, &url, smtp_port(), &var("MAILDESK_TEST_IMAP_PASSWORD"), &imap), 10);
    assert_eq!(checked.code, 0, "{:#?}", checked.findings);
    let (verdict, text) = checked.one("imap", user);
    assert_eq!(verdict, "warn", "{text}");
    assert!(text.contains("no IDLE, MOVE or UIDPLUS"), "{text}");
    assert!(text.contains("polled every 60 s"), "{text}");
    assert!(text.contains("it is flagged and stays"), "{text}");
    // The folder names as this server has them (below INBOX, with '.').
    assert!(text.contains("INBOX.maildesk-done, INBOX.maildesk-quarantine missing"), "{text}");
    assert_eq!(bare.folders(user).await, before, "no folder created");
}
