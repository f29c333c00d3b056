//! The Maildir source in process: a message leaves `new/` only after its effect
//! committed, and one applied but not yet moved (a crash in between) is recognised.

mod common;

use common::{TestApp, mail};
use maildesk::desk::{Outcome, receive};
use maildesk::domain::Source;
use maildesk::sources::maildir;
use tokio_util::sync::CancellationToken;

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

on_both!(a_message_applied_before_a_crash_is_moved_on_without_applying_it_again, |db| {
    let t = TestApp::new(db).await;
    let inbox = t.dir.path().join("inbox");
    maildir::ensure(&inbox).unwrap();
    let raw = mail("jane@example.com", "Crash", Some("crash@example.com"), "", "Hello");
    std::fs::write(inbox.join("new/1.msg"), &raw).unwrap();
    // The effect committed, then the process died before moving the file.
    assert!(matches!(receive(&t.app, &raw, &Source::Pipe).await.unwrap(), Outcome::Opened(_)));
    std::fs::write(inbox.join("new/2.msg"), mail("bob@example.com", "Next", None, "", "Hi")).unwrap();
    std::fs::write(inbox.join("new/3.msg"), b"\x00\x01 not mail").unwrap();

    let settled =
        maildir::drain(&t.app, &inbox, &Source::Maildir("test".into()), &CancellationToken::new()).await.unwrap();
    assert_eq!(settled, 3);
    assert!(names(&inbox.join("new")).is_empty());
    assert_eq!(names(&inbox.join("cur")), vec!["1.msg:2,S", "2.msg:2,S", "3.msg:2,F"]);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 2, "the crashed message applied once");
    assert_eq!(t.db().await.list_quarantine().await.unwrap().len(), 1);
});

on_both!(a_cancelled_drain_leaves_the_rest_in_new, |db| {
    let t = TestApp::new(db).await;
    let inbox = t.dir.path().join("inbox");
    maildir::ensure(&inbox).unwrap();
    std::fs::write(inbox.join("new/1.msg"), mail("a@example.com", "One", None, "", "x")).unwrap();
    let token = CancellationToken::new();
    token.cancel();
    assert_eq!(maildir::drain(&t.app, &inbox, &Source::Maildir("test".into()), &token).await.unwrap(), 0);
    assert_eq!(names(&inbox.join("new")), vec!["1.msg"]);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 0);
});

on_both!(a_backlog_is_applied_in_batches_with_replies_duplicates_and_garbage_among_it, |db| {
    let t = TestApp::new(db).await;
    let inbox = t.dir.path().join("inbox");
    maildir::ensure(&inbox).unwrap();
    // 150 files: more than one batch. Every fifth a reply to the request before it (in
    // the same batch or the one before), one repeat of a request, one piece of garbage.
    let mut expected_tickets = 0;
    for i in 0..150 {
        let raw = match i {
            77 => b"\x00\x01 not mail".to_vec(),
            97 => mail("c96@example.com", "Request 96", Some("r96@example.com"), "", "again"),
            _ if i % 5 == 4 => mail(
                &format!("c{}@example.com", i - 1),
                &format!("Re: Request {}", i - 1),
                Some(&format!("r{i}@example.com")),
                &format!("In-Reply-To: <r{}@example.com>\n", i - 1),
                "Thanks",
            ),
            _ => {
                expected_tickets += 1;
                mail(&format!("c{i}@example.com"), &format!("Request {i}"), Some(&format!("r{i}@example.com")), "", "x")
            }
        };
        std::fs::write(inbox.join(format!("new/{i:03}.msg")), raw).unwrap();
    }
    let settled =
        maildir::drain(&t.app, &inbox, &Source::Maildir("test".into()), &CancellationToken::new()).await.unwrap();
    assert_eq!(settled, 150);
    assert!(names(&inbox.join("new")).is_empty());
    let cur = names(&inbox.join("cur"));
    assert_eq!(cur.iter().filter(|n| n.ends_with(":2,F")).collect::<Vec<_>>(), ["077.msg:2,F"]);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), expected_tickets, "the repeat opened nothing");
    let tickets = t.db().await.list_tickets(1000).await.unwrap();
    let replied = tickets.iter().filter(|t| t.comment_count == 2).count();
    assert_eq!(replied, 30, "every reply found the request it answers");
    assert_eq!(t.db().await.list_quarantine().await.unwrap().len(), 1);
    // Each new request got its acknowledgement, queued in the batch's transaction.
    let acks = t.db().await.list_outbox().await.unwrap().iter().filter(|r| r.kind == "acknowledgement").count();
    assert_eq!(acks as i64, expected_tickets);
});

/// Makes the database refuse any ticket whose subject is "poison", as a bug or a broken
/// constraint would: a failure for good, in the middle of a batch.
async fn poison_subjects(t: &TestApp) {
    use sqlx::Connection;
    let url = t.app.config().database.url.clone();
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TRIGGER poison BEFORE INSERT ON tickets WHEN NEW.subject = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
            .execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$")
            .execute(&mut c).await.unwrap();
        sqlx::query("CREATE TRIGGER poison BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION poison()")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
}

on_both!(a_message_that_fails_for_good_in_a_batch_is_quarantined_alone, |db| {
    let t = TestApp::new(db).await;
    poison_subjects(&t).await;
    let inbox = t.dir.path().join("inbox");
    maildir::ensure(&inbox).unwrap();
    for i in 0..10 {
        let subject = if i == 5 { "poison".to_string() } else { format!("Request {i}") };
        let raw = mail(&format!("c{i}@example.com"), &subject, Some(&format!("p{i}@example.com")), "", "x");
        std::fs::write(inbox.join(format!("new/{i:02}.msg")), raw).unwrap();
    }
    let settled =
        maildir::drain(&t.app, &inbox, &Source::Maildir("test".into()), &CancellationToken::new()).await.unwrap();
    assert_eq!(settled, 10);
    let cur = names(&inbox.join("cur"));
    assert_eq!(cur.iter().filter(|n| n.ends_with(":2,F")).collect::<Vec<_>>(), ["05.msg:2,F"]);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 9, "the others of its batch were applied");
    let quarantine = t.db().await.list_quarantine().await.unwrap();
    assert_eq!(quarantine.len(), 1);
    assert!(quarantine[0].reason.contains("could not apply"), "{}", quarantine[0].reason);
    let acks = t.db().await.list_outbox().await.unwrap().iter().filter(|r| r.kind == "acknowledgement").count();
    assert_eq!(acks, 9, "nothing of the poisoned message was queued");
});

/// A Maildir's name among the nodes is kept in it: the same directory (shared by nodes, or
/// read again after a restart) has the same name, another directory at another place (a
/// node's own) another; and the messages in `new/` are not touched by it.
#[test]
fn a_maildir_keeps_its_name_among_the_nodes_in_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (one, other) = (dir.path().join("one"), dir.path().join("other"));
    for d in [&one, &other] {
        maildir::ensure(d).unwrap();
    }
    std::fs::write(one.join("new/1.msg"), b"Subject: x\r\n\r\nx\r\n").unwrap();
    let names: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| maildir::identity(&one).unwrap())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(names.iter().all(|n| *n == names[0] && n.len() == 16), "one name, whoever asks first: {names:?}");
    assert_eq!(maildir::identity(&one).unwrap(), names[0], "kept");
    assert_ne!(maildir::identity(&other).unwrap(), names[0], "another directory, another name");
    assert_eq!(self::names(&one.join("new")), ["1.msg"], "new/ is left as it was");
}
