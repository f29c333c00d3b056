//! `maildesk backup` and `maildesk restore`: a copy taken while the daemon takes mail from
//! a Maildir restores every ticket, comment and attachment it holds; restores refuse what
//! they cannot do whole and change nothing then; PostgreSQL through the pg_dump recipe.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::cli::{Daemon, deliver, inbox, maildesk, run, wait_until};
use maildesk::desk::backup::{self, DatabaseCopy, KeyCopy};
use maildesk::domain::TicketNumber;
use maildesk::store::{Store, StoreOptions};

const ENV: [(&str, &str); 2] = [("MAILDESK_PORTAL__ENABLED", "false"), ("MAILDESK_PORTAL__INVITE", "false")];

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.filter(|e| e.is_ok()).count()).unwrap_or(0)
}

/// A mail with a text body and one attachment holding `attachment`.
fn with_attachment(from: &str, subject: &str, message_id: &str, headers: &str, attachment: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: support@localhost\nSubject: {subject}\nMessage-ID: <{message_id}>\n{headers}\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
         --b\nContent-Type: text/plain; charset=utf-8\n\nPlease help with {subject}.\n\
         --b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=data.bin\n\n\
         {attachment}\n--b--\n"
    )
    .into_bytes()
}

async fn open_store(data_dir: &Path) -> Store {
    Store::open(&StoreOptions {
        url: format!("sqlite://{}", data_dir.join("maildesk.db").display()),
        max_connections: 2,
        busy_timeout: Duration::from_secs(5),
        blob_dir: data_dir.join("blobs"),
    })
    .await
    .expect("open store")
}

/// Every ticket of `store` with its subject, its comments' new texts and its attachments'
/// contents (read from the blob store: each must be there).
async fn everything(store: &Store) -> Vec<(i64, String, Vec<String>, Vec<Vec<u8>>)> {
    let mut db = store.conn().await.unwrap();
    let mut out = Vec::new();
    for ticket in db.list_tickets(100_000).await.unwrap() {
        let n: TicketNumber = ticket.id;
        let comments = db.comments(n).await.unwrap().into_iter().map(|c| c.body_reply).collect();
        let mut files = Vec::new();
        for a in db.attachments(n).await.unwrap() {
            let bytes = store.blobs.get(&a.sha256).unwrap();
            files.push(bytes.unwrap_or_else(|| panic!("ticket #{n}: attachment {} has no blob", a.sha256)));
        }
        out.push((n.0, ticket.subject, comments, files));
    }
    out.sort();
    out
}

fn restore(dir: &Path, src: &Path, data_dir: &Path) -> std::process::Output {
    run(maildesk(dir).envs(ENV).env("MAILDESK_DATA_DIR", data_dir).arg("restore").arg(src))
}

#[tokio::test]
async fn a_backup_taken_during_a_maildir_intake_restores_every_ticket_comment_and_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut total = 400;
    let replies = 100;
    let request = |dir: &Path, i: usize| {
        // Every tenth file is the same, so that blobs are shared between tickets.
        let file = if i.is_multiple_of(10) { "a shared file".to_string() } else { format!("the file of request {i}") };
        let raw = with_attachment(
            &format!("customer{i}@example.com"),
            &format!("Request {i}"),
            &format!("req-{i}@example.com"),
            "",
            &file,
        );
        deliver(dir, &format!("17000{i:05}.M{i}.test"), &raw);
    };
    for i in 0..total {
        request(dir, i);
    }
    let mut daemon = Daemon::start(dir, &ENV);
    wait_until("the first requests applied", Duration::from_secs(120), || count(&inbox(dir).join("cur")) >= replies);
    // Replies to requests applied already: comments, with files of their own.
    for i in 0..replies {
        let raw = with_attachment(
            &format!("customer{i}@example.com"),
            &format!("Re: Request {i}"),
            &format!("reply-{i}@example.com"),
            &format!("In-Reply-To: <req-{i}@example.com>\n"),
            &format!("the reply file {i}"),
        );
        deliver(dir, &format!("18000{i:05}.M{i}.test"), &raw);
    }
    wait_until("some more applied", Duration::from_secs(60), || count(&inbox(dir).join("cur")) >= replies + 20);

    // New requests keep arriving while the backup runs, and after it.
    let during = dir.join("backup-during");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let arriving = std::thread::spawn({
        let (dir, stop) = (dir.to_path_buf(), stop.clone());
        move || {
            let mut i = total;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                request(&dir, i);
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            i
        }
    });
    let made = run(maildesk(dir).envs(ENV).arg("backup").arg(&during));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // Five more once the backup is made: it cannot hold every ticket.
    let arrived = arriving.join().unwrap();
    for i in arrived..arrived + 5 {
        request(dir, i);
    }
    total = arrived + 5;
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let manifest = backup::read_manifest(&during).unwrap();
    assert!(
        manifest.counts.tickets < total as i64,
        "the backup must land in the middle of the intake ({} tickets)",
        manifest.counts.tickets
    );
    assert_eq!((manifest.database, manifest.reply_key), (DatabaseCopy::Sqlite, KeyCopy::Copied));
    assert!(manifest.missing_blobs.is_empty());

    wait_until("every mail applied", Duration::from_secs(180), || {
        count(&inbox(dir).join("new")) == 0 && count(&inbox(dir).join("cur")) == total + replies
    });
    let after = dir.join("backup-after");
    let made = run(maildesk(dir).envs(ENV).arg("backup").arg(&after));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(daemon.terminate().code(), Some(0));

    let source = open_store(&dir.join("var")).await;
    let all = everything(&source).await;
    source.close().await;
    assert_eq!(all.len(), total);
    assert_eq!(all.iter().map(|t| t.2.len()).sum::<usize>(), total + replies, "a comment per mail");
    assert_eq!(all.iter().map(|t| t.3.len()).sum::<usize>(), total + replies, "a file per mail");

    // Taken after the intake: everything, exactly.
    let restored_dir = dir.join("restored-after/var");
    let restored = restore(dir, &after, &restored_dir);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let store = open_store(&restored_dir).await;
    assert_eq!(everything(&store).await, all);
    store.close().await;
    assert_eq!(
        std::fs::read(restored_dir.join("reply-secret")).unwrap(),
        std::fs::read(dir.join("var/reply-secret")).unwrap()
    );

    // Taken during it: a consistent earlier state. Every ticket it holds is the same ticket,
    // with the comments and files it had then (each file's blob there), in order.
    let restored_dir = dir.join("restored-during/var");
    let restored = restore(dir, &during, &restored_dir);
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let store = open_store(&restored_dir).await;
    let then = everything(&store).await;
    store.close().await;
    assert_eq!(then.len() as i64, manifest.counts.tickets);
    assert!(then.len() >= replies, "the requests applied before the backup are in it");
    for (n, subject, comments, files) in &then {
        let now = all.iter().find(|t| t.0 == *n).unwrap();
        assert_eq!(subject, &now.1);
        assert!(!comments.is_empty() && now.2.starts_with(comments), "ticket #{n}");
        assert_eq!(files.as_slice(), &now.3[..files.len()], "ticket #{n}");
    }
    // The restored desk works: the binary lists it.
    let listed = common::cli::json_of(run(maildesk(dir)
        .envs(ENV)
        .env("MAILDESK_DATA_DIR", &restored_dir)
        .args(["ticket", "list", "--json", "--limit", "100000"])));
    assert_eq!(listed.as_array().unwrap().len(), then.len());
}

/// A data directory with two tickets with files, backed up to `<dir>/backup`.
fn desk_with_a_backup(dir: &Path) -> PathBuf {
    for i in 0..2 {
        let raw = with_attachment(
            &format!("c{i}@example.com"),
            &format!("Issue {i}"),
            &format!("i{i}@example.com"),
            "",
            &format!("bytes {i}"),
        );
        std::fs::write(dir.join("m.eml"), raw).unwrap();
        let ingested = run(maildesk(dir).envs(ENV).args(["ingest", "m.eml"]));
        assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));
    }
    let dest = dir.join("backup");
    let made = run(maildesk(dir).envs(ENV).arg("backup").arg(&dest));
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    dest
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn backup_and_restore_refuse_what_they_cannot_do_whole_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let dest = desk_with_a_backup(dir);

    // A backup never writes into an existing directory.
    let again = run(maildesk(dir).envs(ENV).arg("backup").arg(&dest));
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists already"), "{}", stderr(&again));

    // A data directory with anything in it is not restored into.
    let busy = dir.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep-me"), "mine").unwrap();
    let refused = restore(dir, &dest, &busy);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("is not empty"), "{}", stderr(&refused));
    assert_eq!(count(&busy), 1);

    // A blob missing from the backup: refused, and the empty data directory stays empty.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let shard = std::fs::read_dir(dest.join("blobs")).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let blob = std::fs::read_dir(&shard).unwrap().next().unwrap().unwrap().path();
    let kept = std::fs::read(&blob).unwrap();
    std::fs::remove_file(&blob).unwrap();
    let refused = restore(dir, &dest, &empty);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("lacks 1 blob"), "{}", stderr(&refused));
    assert_eq!(count(&empty), 0);
    assert_eq!(
        count(dir),
        5,
        "nothing staged is left beside it: {:?}",
        std::fs::read_dir(dir).unwrap().collect::<Vec<_>>()
    );

    // A blob whose bytes changed: refused too.
    std::fs::write(&blob, b"tampered").unwrap();
    let refused = restore(dir, &dest, &empty);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("does not match its name"), "{}", stderr(&refused));
    assert_eq!(count(&empty), 0);

    // No manifest: not a (finished) backup.
    std::fs::write(&blob, &kept).unwrap();
    let manifest = std::fs::read(dest.join("manifest.json")).unwrap();
    std::fs::remove_file(dest.join("manifest.json")).unwrap();
    let refused = restore(dir, &dest, &empty);
    assert!(stderr(&refused).contains("no manifest.json"), "{}", stderr(&refused));
    std::fs::write(dest.join("manifest.json"), manifest).unwrap();

    // Made whole again, it restores into the empty directory.
    let restored = restore(dir, &dest, &empty);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(stderr(&restored).contains("2 ticket(s), 2 comment(s), 2 attachment(s)"), "{}", stderr(&restored));

    // A SQLite file kept outside the data directory is put in its place too.
    let elsewhere = dir.join("databases/desk.sqlite");
    let data = dir.join("second/var");
    let url = format!("sqlite://{}", elsewhere.display());
    let env = [("MAILDESK_DATABASE__URL", url.as_str())];
    let restored = run(maildesk(dir).envs(ENV).envs(env).env("MAILDESK_DATA_DIR", &data).arg("restore").arg(&dest));
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(elsewhere.is_file() && !data.join("maildesk.db").exists());
    let listed =
        run(maildesk(dir).envs(ENV).envs(env).env("MAILDESK_DATA_DIR", &data).args(["ticket", "list", "--json"]));
    assert_eq!(common::cli::json_of(listed).as_array().unwrap().len(), 2);
    // That file exists now: another restore with it is refused, though its data directory is empty.
    std::fs::remove_dir_all(&data).unwrap();
    let refused = run(maildesk(dir).envs(ENV).envs(env).env("MAILDESK_DATA_DIR", &data).arg("restore").arg(&dest));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("desk.sqlite is not empty"), "{}", stderr(&refused));
    assert!(!data.exists());
}

#[test]
fn the_daemons_blob_clean_up_waits_while_another_process_backs_up() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    desk_with_a_backup(dir);
    // A file nothing refers to, two hours old: the clean-up at the daemon's start removes it.
    let blobs = maildesk::store::Blobs::open(&dir.join("var/blobs")).unwrap();
    let sha = blobs.put(b"nothing refers to this").unwrap();
    let path = dir.join("var/blobs").join(&sha[..2]).join(&sha);
    let old = std::time::SystemTime::now() - Duration::from_secs(7200);
    std::fs::File::options().append(true).open(&path).unwrap().set_modified(old).unwrap();

    // This process holds what `maildesk backup` holds while it copies.
    let pause = blobs.pause_deletions().unwrap();
    let mut daemon = Daemon::start(dir, &ENV);
    wait_until("the clean-up to find a backup running", Duration::from_secs(30), || {
        daemon.log().contains("a backup is running")
    });
    assert!(path.exists(), "nothing is deleted during a backup");
    assert_eq!(daemon.terminate().code(), Some(0));

    drop(pause);
    let mut daemon = Daemon::start(dir, &ENV);
    wait_until("the clean-up to remove the file", Duration::from_secs(30), || !path.exists());
    assert_eq!(daemon.terminate().code(), Some(0));
}

/// Runs a PostgreSQL client tool, failing the test with its output.
fn pg_tool(program: &str, args: &[&str]) {
    let out = std::process::Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn with_postgresql_the_backup_holds_blobs_the_dump_the_key_and_the_pg_dump_recipe_restores_everything() {
    let old = common::TestApp::new(common::Db::Postgres).await;
    for i in 0..3 {
        let raw = with_attachment(
            &format!("p{i}@example.com"),
            &format!("Case {i}"),
            &format!("p{i}@example.com"),
            "",
            &format!("pg bytes {i}"),
        );
        maildesk::desk::receive(&old.app, &raw, &maildesk::domain::Source::Pipe).await.unwrap();
    }
    let before = everything(&old.app.store).await;
    let work = tempfile::tempdir().unwrap();
    // The recipe of the README: pg_dump, then `maildesk backup`.
    let dump = work.path().join("maildesk.pgdump");
    let url = old.app.config().database.url.clone();
    pg_tool("pg_dump", &["--format=custom", "--file", dump.to_str().unwrap(), "--dbname", &url]);
    let dest = work.path().join("backup");
    let manifest = backup::backup(&old.app, &dest).await.unwrap();
    assert_eq!(manifest.database, DatabaseCopy::PostgresNotIncluded);
    assert_eq!((manifest.blobs, manifest.counts.tickets), (3, 3));
    assert!(!dest.join(backup::DATABASE).exists());

    // Restore: a new database from the dump, then `maildesk restore` into a new data dir.
    let new_url = common::fresh_database_url(common::Db::Postgres, work.path()).await;
    let data_dir = work.path().join("new/var");
    let mut config = common::test_config(&data_dir, new_url.clone());
    // An empty database: the restore says to run pg_restore first, and changes nothing.
    let err = backup::restore(&config, &dest).await.unwrap_err().to_string();
    assert!(err.contains("pg_restore first"), "{err}");
    assert!(!data_dir.exists());
    assert!(!maildesk::store::postgres_has_tables(&new_url).await.unwrap(), "the empty database stays empty");
    pg_tool("pg_restore", &["--no-owner", "--dbname", &new_url, dump.to_str().unwrap()]);
    config.data_dir = data_dir.clone();
    let restored = backup::restore(&config, &dest).await.unwrap();
    assert_eq!(restored.blobs, 3);
    let app = maildesk::App::open(config).await.unwrap();
    assert_eq!(everything(&app.store).await, before);
    // On PostgreSQL the reply-address key is kept in the database (the nodes share it): the
    // dump carries it, and the restored desk takes the old one's reply addresses.
    assert_eq!(manifest.reply_key, KeyCopy::InDatabase);
    assert!(!old.dir.path().join("reply-secret").exists() && !data_dir.join("reply-secret").exists());
    let customer = maildesk::domain::EmailAddress::parse("p0@example.com").unwrap();
    let address = old.app.reply_addresses.for_ticket(maildesk::domain::TicketNumber(1));
    let address = maildesk::domain::EmailAddress::parse(&address).unwrap();
    assert!(app.reply_addresses.check(&address, &customer).is_some(), "the old reply addresses still count");
    assert_eq!(app.portal_key, old.app.portal_key);
}
