//! `contact forget`: a person's data goes, their tickets stay; on SQLite and PostgreSQL,
//! and through the real binary (confirmation, the log naming the id only).

mod common;

use std::time::{Duration, SystemTime};

use common::cli::{maildesk, run};
use common::{TestApp, mail};
use maildesk::desk::forget::{ForgetError, forget};
use maildesk::desk::{Outcome, receive};
use maildesk::domain::{EmailAddress, Source, StaffNotify, TicketNumber};
use maildesk::store::{TicketFilter, TicketSearch, words};

/// A mail from `from` with a text body and one attachment holding `attachment`.
fn with_attachment(from: &str, subject: &str, message_id: &str, body: &str, attachment: &str) -> Vec<u8> {
    format!(
        "From: {from}\nTo: support@helpdesk.example\nSubject: {subject}\nMessage-ID: <{message_id}>\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n\
         --b\nContent-Type: text/plain; charset=utf-8\n\n{body}\n\
         --b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=data.bin\n\n\
         {attachment}\n--b--\n"
    )
    .into_bytes()
}

async fn opened(t: &TestApp, raw: &[u8]) -> TicketNumber {
    match receive(&t.app, raw, &Source::Pipe).await.unwrap() {
        Outcome::Opened(n) => n,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

/// The tickets a search for `word` finds.
async fn found(t: &TestApp, word: &str) -> Vec<TicketNumber> {
    let search = TicketSearch { words: words(word), ..TicketSearch::default() };
    let filter = TicketFilter { search: Some(search), limit: 100, ..TicketFilter::default() };
    t.db().await.find_tickets(&filter).await.unwrap().into_iter().map(|row| row.id).collect()
}

/// Makes every blob file look two hours old, as blobs of mail taken in long ago.
fn age_blobs(dir: &std::path::Path) {
    for shard in std::fs::read_dir(dir).unwrap() {
        let shard = shard.unwrap().path();
        if !shard.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&shard).unwrap() {
            let file = std::fs::File::options().append(true).open(file.unwrap().path()).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
        }
    }
}

on_both!(forgetting_a_contact_removes_their_data_and_keeps_their_tickets, |db| {
    let t = TestApp::new(db).await;
    // Staff are told of new tickets and replies: those notices name her too.
    t.db().await.add_staff("agent@helpdesk.example", "Agent", None, StaffNotify::All).await.unwrap();
    let jane = EmailAddress::parse("jane.doe@example.com").unwrap();
    // Her ticket: a distinctive word, an attachment only she sent, a Message-ID that
    // carries her address; mail to her still pending in the outbox.
    let hers = opened(
        &t,
        &with_attachment(
            "Jane Doe <Jane.Doe@example.com>",
            "Printer on fire",
            "1234.jane.doe@example.com",
            "zanzibarflux is what my printer says",
            "JANE-ONLY-BYTES",
        ),
    )
    .await;
    // Bob sent the same file as Jane's second mail: that blob is shared by content.
    let bobs =
        opened(&t, &with_attachment("bob@example.org", "Scanner", "b1@example.org", "help", "SHARED-BYTES")).await;
    let reply = with_attachment(
        "jane.doe@example.com",
        &format!("Re: [Support #{hers}] Printer on fire"),
        "5678@mailer.example",
        "still zanzibarflux",
        "SHARED-BYTES",
    );
    assert_eq!(receive(&t.app, &reply, &Source::Pipe).await.unwrap(), Outcome::Commented(hers));
    let quarantined = mail("jane.doe@example.com", "odd", Some("q1@example.com"), "", "my quarantined words");
    maildesk::desk::quarantine_raw(&t.app, &quarantined, &Source::Pipe, "test".into()).await.unwrap();
    maildesk::desk::accounts::create_with_password(&t.app, &jane).await.unwrap();
    let jane_id = t.db().await.contact_id(jane.as_str()).await.unwrap().unwrap();
    t.db().await.insert_session("a-session-hash", jane_id).await.unwrap();

    let attachments = t.db().await.attachments(hers).await.unwrap();
    let sha_of = |content: &str| maildesk::store::sha256_hex(content.as_bytes());
    assert_eq!(attachments.len(), 2);
    assert_eq!(found(&t, "zanzibarflux").await, vec![hers]);
    let comments_before = t.db().await.comments(hers).await.unwrap().len();
    age_blobs(&t.dir.path().join("blobs"));

    let done = forget(&t.app, &jane).await.unwrap();
    assert_eq!(done.placeholder, format!("forgotten-{}@invalid", jane_id.0));
    assert_eq!(done.rows.tickets_kept, 1);
    assert_eq!(done.rows.comments_emptied, 2);
    assert_eq!(done.rows.attachments, 2);
    assert_eq!(done.rows.quarantined, 1);
    assert_eq!(done.rows.outbox_dropped, 3, "her acknowledgement and two staff notices had not gone out");
    assert!(done.rows.message_ids >= 1);
    assert_eq!(done.rows.portal_rows, 2, "account and session");
    assert_eq!((done.blobs_removed, done.blobs_left), (2, 0), "her own file and her quarantined mail");

    // The ticket and its statistics stay; her texts, files and address do not.
    let ticket = t.db().await.ticket(hers).await.unwrap().unwrap();
    assert_eq!(ticket.subject, "Printer on fire");
    assert_eq!(ticket.requester_email, done.placeholder);
    assert_eq!(ticket.requester_name, "");
    let comments = t.db().await.comments(hers).await.unwrap();
    assert_eq!(comments.len(), comments_before);
    assert!(comments.iter().all(|c| c.body_text.is_empty() && c.body_reply.is_empty() && c.message_id.is_none()));
    assert!(t.db().await.attachments(hers).await.unwrap().is_empty());
    assert!(found(&t, "zanzibarflux").await.is_empty(), "the search index forgot her words");
    assert!(t.app.store.blobs.get(&sha_of("JANE-ONLY-BYTES")).unwrap().is_none());
    assert!(t.app.store.blobs.get(&sha_of("SHARED-BYTES")).unwrap().is_some(), "Bob's file is his too");
    assert_eq!(t.db().await.attachments(bobs).await.unwrap().len(), 1);
    assert!(t.db().await.list_quarantine().await.unwrap().is_empty());
    assert_eq!(t.db().await.ticket_for_message_ids(&["1234.jane.doe@example.com"]).await.unwrap(), None);
    assert!(t.db().await.contact_by_email(jane.as_str()).await.unwrap().is_none());
    assert!(t.db().await.account(jane_id).await.unwrap().is_none());
    assert!(t.db().await.session("a-session-hash").await.unwrap().is_none());
    let sent = t.flush_outbox().await;
    let names_her = |m: &maildesk::outbound::SentMail| {
        m.recipient == jane.as_str() || String::from_utf8_lossy(&m.bytes).to_lowercase().contains(jane.as_str())
    };
    assert!(!sent.iter().any(names_her), "nothing pending still goes to her or tells of her");
    assert!(sent.iter().any(|m| m.recipient == "bob@example.org"));
    assert!(sent.iter().any(|m| m.recipient == "agent@helpdesk.example"), "staff still hear of Bob");

    // Forgotten twice: there is no such contact any more.
    assert!(matches!(forget(&t.app, &jane).await, Err(ForgetError::NoContact(_))));
    // Writing again, she is a new contact.
    let again = opened(&t, &mail("jane.doe@example.com", "Hello again", Some("again@example.com"), "", "hi")).await;
    let new_id = t.db().await.contact_id(jane.as_str()).await.unwrap().unwrap();
    assert_ne!(new_id, jane_id);
    assert_eq!(t.db().await.ticket(again).await.unwrap().unwrap().requester_email, jane.as_str());
});

on_both!(the_desk_and_staff_are_not_forgotten_and_a_backup_holds_blob_deletion, |db| {
    let t = TestApp::new(db).await;
    let staff = EmailAddress::parse("agent@helpdesk.example").unwrap();
    t.db().await.add_staff(staff.as_str(), "Agent", None, StaffNotify::All).await.unwrap();
    assert!(matches!(forget(&t.app, &staff).await, Err(ForgetError::Ours(_))));

    let carol = EmailAddress::parse("carol@example.net").unwrap();
    opened(&t, &with_attachment("carol@example.net", "Files", "c1@example.net", "see file", "CAROL-BYTES")).await;
    age_blobs(&t.dir.path().join("blobs"));
    let sha = maildesk::store::sha256_hex(b"CAROL-BYTES");
    // A backup in progress (here: its pause) keeps the file; the clean-up deletes it later.
    let pause = t.app.store.blobs.pause_deletions().unwrap();
    let done = forget(&t.app, &carol).await.unwrap();
    assert_eq!((done.blobs_removed, done.blobs_left), (0, 1));
    assert!(t.app.store.blobs.get(&sha).unwrap().is_some());
    let swept = t.app.store.sweep_blobs(Duration::from_secs(3600)).await.unwrap();
    assert!(swept.paused && swept.removed == 0, "{swept:?}");
    drop(pause);
    let swept = t.app.store.sweep_blobs(Duration::from_secs(3600)).await.unwrap();
    assert!(!swept.paused && swept.removed >= 1, "{swept:?}");
    assert!(t.app.store.blobs.get(&sha).unwrap().is_none());
});

#[test]
fn contact_forget_asks_first_and_logs_the_id_not_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let env = [("MAILDESK_PORTAL__ENABLED", "false")];
    let raw = mail("Rita Roe <rita@example.com>", "Help", Some("r1@example.com"), "", "secret words");
    std::fs::write(dir.join("m.eml"), raw).unwrap();
    let ingested = run(maildesk(dir).envs(env).args(["ingest", "m.eml"]));
    assert!(ingested.status.success(), "{}", String::from_utf8_lossy(&ingested.stderr));

    // Not on a terminal and no --yes: refused, nothing changed.
    let refused = run(maildesk(dir).envs(env).args(["contact", "forget", "rita@example.com"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    let shown = run(maildesk(dir).envs(env).args(["contact", "show", "rita@example.com"]));
    assert!(shown.status.success(), "still there");

    // Logged at the level commands log by default.
    let done = run(maildesk(dir).envs(env).args(["contact", "forget", "rita@example.com", "--yes"]));
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        out.contains("Forgot contact 1 (now forgotten-1@invalid)") && out.contains("comments emptied:             1"),
        "{out}"
    );
    let log = String::from_utf8_lossy(&done.stderr);
    assert!(log.contains("forgot a contact's personal data") && log.contains("contact=1"), "{log}");
    assert!(!log.contains("rita"), "the log names the id only: {log}");
    let gone = run(maildesk(dir).envs(env).args(["contact", "show", "rita@example.com"]));
    assert_eq!(gone.status.code(), Some(1));
    let shown = run(maildesk(dir).envs(env).args(["ticket", "show", "1"]));
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("forgotten-1@invalid") && !shown.contains("secret words") && !shown.contains("Rita"),
        "{shown}"
    );
}
