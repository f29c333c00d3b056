//! The store's suite: every test runs on SQLite and on PostgreSQL.

mod common;

use maildesk::domain::{EmailAddress, Priority, Role, Source, Status, TicketNumber};
use maildesk::store::{NewAttachment, NewComment, NewOutboxRow, NewTicket, Store, StoreError, StoreOptions, Tx};

async fn ticket_for(tx: &mut Tx, email: &str, subject: &str) -> TicketNumber {
    let contact = tx.upsert_contact(&EmailAddress::parse(email).unwrap(), "Jane", None).await.unwrap();
    let t = tx
        .insert_ticket(&NewTicket {
            subject,
            requester_id: contact,
            organisation_id: None,
            status: Status::Open,
            priority: Priority::Medium,
            department: None,
            assignee: None,
        })
        .await
        .unwrap();
    tx.add_participant(t, contact, Role::Requester).await.unwrap();
    t
}

on_both!(migrations_run_once_and_reopening_keeps_data, |db| {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(db, dir.path()).await;
    let options = StoreOptions {
        url,
        max_connections: 2,
        busy_timeout: std::time::Duration::from_secs(5),
        blob_dir: dir.path().join("blobs"),
    };
    let store = Store::open(&options).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    ticket_for(&mut tx, "a@example.com", "First").await;
    tx.commit().await.unwrap();
    store.close().await;
    let again = Store::open(&options).await.unwrap();
    assert_eq!(again.conn().await.unwrap().count_tickets().await.unwrap(), 1);
});

on_both!(tickets_comments_and_attachments_round_trip, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let t = ticket_for(&mut tx, "Jane@Example.com", "Printer offline").await;
    let sha = store.blobs.put(b"%PDF-1.4 tiny").unwrap();
    let comment = tx
        .insert_comment(&NewComment {
            ticket: t,
            author_id: None,
            public: true,
            from_staff: false,
            body_text: "Hello\n> quoted",
            body_reply: "Hello",
            body_html: Some("<p>Hello</p>"),
            message_id: Some("m1@example.com"),
        })
        .await
        .unwrap();
    tx.insert_attachment(
        comment,
        &NewAttachment {
            filename: "a.pdf",
            content_type: "application/pdf",
            size: 13,
            sha256: &sha,
            inline: false,
            content_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let row = store.conn().await.unwrap().ticket(t).await.unwrap().expect("ticket exists");
    assert_eq!(row.subject, "Printer offline");
    assert_eq!(row.status, Status::Open);
    assert_eq!(row.requester_email, "jane@example.com");
    assert_eq!(row.comment_count, 1);
    let comments = store.conn().await.unwrap().comments(t).await.unwrap();
    assert_eq!(comments[0].body_reply, "Hello");
    assert!(comments[0].public);
    let attachments = store.conn().await.unwrap().attachments(t).await.unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(store.blobs.get(&attachments[0].sha256).unwrap().unwrap(), b"%PDF-1.4 tiny");
    assert!(store.conn().await.unwrap().ticket(TicketNumber(t.0 + 100)).await.unwrap().is_none());
    let listed = store.conn().await.unwrap().list_tickets(10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![t]);
});

on_both!(a_fingerprint_is_claimed_once, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_fingerprint("mid:x@y", Some("x@y"), &Source::Pipe).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.claim_fingerprint("mid:x@y", Some("x@y"), &Source::Pipe).await.unwrap());
    tx.rollback().await.unwrap();
    // A rolled-back claim leaves nothing behind.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_fingerprint("mid:other@y", None, &Source::Pipe).await.unwrap());
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.claim_fingerprint("mid:other@y", None, &Source::Pipe).await.unwrap());
    tx.commit().await.unwrap();
});

on_both!(concurrent_claims_of_one_fingerprint_let_exactly_one_win, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let won = tx.claim_fingerprint("mid:race@y", None, &Source::Pipe).await.unwrap();
            tx.commit().await.unwrap();
            won
        }));
    }
    let mut winners = 0;
    for h in handles {
        if h.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
});

on_both!(contacts_are_unique_by_address_and_keep_their_name, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let org = tx.upsert_organisation("Acme Corp").await.unwrap();
    assert_eq!(tx.upsert_organisation("Acme Corp").await.unwrap(), org);
    let email = EmailAddress::parse("bob@acme.example").unwrap();
    let a = tx.upsert_contact(&email, "", None).await.unwrap();
    let b = tx.upsert_contact(&email, "Bob", Some(org)).await.unwrap();
    let c = tx.upsert_contact(&email, "Robert", None).await.unwrap();
    assert_eq!((a, a), (b, c));
    assert_eq!(tx.contact_organisation(a).await.unwrap(), Some(org));
    tx.commit().await.unwrap();
});

on_both!(thread_ids_map_message_ids_to_tickets, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let t = ticket_for(&mut tx, "a@example.com", "S").await;
    tx.add_thread_id("ours@helpdesk.example", t).await.unwrap();
    tx.add_thread_id("ours@helpdesk.example", t).await.unwrap();
    let found = tx.ticket_for_message_ids(&["unknown@x", "ours@helpdesk.example"]).await.unwrap();
    assert_eq!(found, Some(t));
    assert_eq!(tx.ticket_for_message_ids(&["unknown@x"]).await.unwrap(), None);
    tx.commit().await.unwrap();
});

on_both!(outbox_rows_are_due_retried_and_marked, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let t = ticket_for(&mut tx, "a@example.com", "S").await;
    let refs = vec!["a@x".to_string(), "b@x".to_string()];
    let id = tx
        .enqueue(&NewOutboxRow {
            kind: "acknowledgement",
            ticket: Some(t),
            recipient: "a@example.com",
            message_id: "md.1.1@helpdesk.example",
            in_reply_to: Some("b@x"),
            references: &refs,
            payload: "{}",
            sender: None,
            attachments: None,
        })
        .await
        .unwrap();
    // Not visible to the sender before commit.
    assert!(store.conn().await.unwrap().due_outbox(10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    let due = store.conn().await.unwrap().due_outbox(10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].refs, "a@x b@x");
    store.conn().await.unwrap().mark_attempt_failed(id, "timeout", Some(maildesk::store::now() + 3600)).await.unwrap();
    assert!(store.conn().await.unwrap().due_outbox(10).await.unwrap().is_empty(), "a retry waits for its time");
    store.conn().await.unwrap().mark_attempt_failed(id, "timeout", Some(0)).await.unwrap();
    assert_eq!(store.conn().await.unwrap().due_outbox(10).await.unwrap()[0].attempts, 2);
    store.conn().await.unwrap().mark_sent(id).await.unwrap();
    assert!(store.conn().await.unwrap().due_outbox(10).await.unwrap().is_empty());
    let all = store.conn().await.unwrap().list_outbox().await.unwrap();
    assert_eq!((all[0].state.as_str(), all[0].attempts), ("sent", 3));
});

on_both!(quarantine_counts_repeated_deliveries, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let sha = store.blobs.put(b"garbage").unwrap();
    for _ in 0..2 {
        let mut tx = store.begin().await.unwrap();
        tx.quarantine("sha256:abc", &Source::Pipe, "not mail", &sha, 7).await.unwrap();
        tx.commit().await.unwrap();
    }
    let q = store.conn().await.unwrap().list_quarantine().await.unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].deliveries, q[0].reason.as_str(), q[0].size), (2, "not mail", 7));
});

#[tokio::test]
async fn an_unknown_scheme_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(&StoreOptions {
        url: format!("mysql://{}/db", dir.path().display()),
        max_connections: 1,
        busy_timeout: std::time::Duration::from_secs(1),
        blob_dir: dir.path().join("blobs"),
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::UnknownScheme(ref s) if s == "mysql"), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing may be created");
}

#[tokio::test]
async fn an_unreachable_postgres_is_a_temporary_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(&StoreOptions {
        url: "postgres://nobody@127.0.0.1:1/none".into(),
        max_connections: 1,
        busy_timeout: std::time::Duration::from_secs(1),
        blob_dir: dir.path().join("blobs"),
    })
    .await
    .unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
}

on_both!(an_outbox_row_is_claimed_by_one_sender_only, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .enqueue(&NewOutboxRow {
            kind: "acknowledgement",
            ticket: None,
            recipient: "a@example.com",
            message_id: "md.0.9@helpdesk.example",
            in_reply_to: None,
            references: &[],
            payload: "{}",
            sender: None,
            attachments: None,
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (mut one, mut two) = (store.conn().await.unwrap(), store.conn().await.unwrap());
    let (a, b) = tokio::join!(one.claim_outbox(id, 300), two.claim_outbox(id, 300));
    drop((one, two));
    assert!(a.unwrap() ^ b.unwrap(), "exactly one claim wins");
    assert!(store.conn().await.unwrap().due_outbox(10).await.unwrap().is_empty(), "a claimed row is not due");
    store.conn().await.unwrap().mark_sent(id).await.unwrap();
    assert!(!store.conn().await.unwrap().claim_outbox(id, 300).await.unwrap(), "a sent row cannot be claimed");
});

/// Makes the file of blob `sha` under `dir/blobs` look `age` old.
fn age_blob(dir: &std::path::Path, sha: &str, age: std::time::Duration) {
    let path = dir.join("blobs").join(&sha[..2]).join(sha);
    let file = std::fs::File::options().append(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() - age).unwrap();
}

on_both!(unreferenced_blobs_older_than_the_grace_are_removed, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let hour = std::time::Duration::from_secs(3600);
    let attached = store.blobs.put(b"attached file").unwrap();
    let quarantined = store.blobs.put(b"quarantined mail").unwrap();
    let outgoing = store.blobs.put(b"file of a staff reply").unwrap();
    let old_orphan = store.blobs.put(b"left by a rolled-back message").unwrap();
    let fresh_orphan = store.blobs.put(b"of a message being applied").unwrap();
    let mut tx = store.begin().await.unwrap();
    let t = ticket_for(&mut tx, "a@example.com", "Files").await;
    let comment = tx
        .insert_comment(&NewComment {
            ticket: t,
            author_id: None,
            public: true,
            from_staff: false,
            body_text: "see file",
            body_reply: "see file",
            body_html: None,
            message_id: Some("files@example.com"),
        })
        .await
        .unwrap();
    let file = NewAttachment {
        filename: "a.txt",
        content_type: "text/plain",
        size: 13,
        sha256: &attached,
        inline: false,
        content_id: None,
    };
    tx.insert_attachment(comment, &file).await.unwrap();
    tx.quarantine("sha256:q", &Source::Pipe, "not mail", &quarantined, 16).await.unwrap();
    let files = format!(r#"[{{"sha256":"{outgoing}","filename":"f.txt","content_type":"text/plain"}}]"#);
    tx.enqueue(&NewOutboxRow {
        kind: "staff_reply",
        ticket: Some(t),
        recipient: "a@example.com",
        message_id: "md.files@helpdesk.example",
        in_reply_to: None,
        references: &[],
        payload: "{}",
        sender: None,
        attachments: Some(&files),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for sha in [&attached, &quarantined, &outgoing, &old_orphan] {
        age_blob(dir.path(), sha, 2 * hour);
    }
    let swept = store.sweep_blobs(hour).await.unwrap();
    assert_eq!(swept.removed, 1, "{swept:?}");
    assert!(store.blobs.get(&old_orphan).unwrap().is_none(), "the old orphan is gone");
    for sha in [&attached, &quarantined, &outgoing, &fresh_orphan] {
        assert!(store.blobs.get(sha).unwrap().is_some(), "{sha} stays");
    }
    // Storing content again makes an old orphan young: a message that is about to refer
    // to it does not lose it before its transaction commits.
    age_blob(dir.path(), &fresh_orphan, 2 * hour);
    assert_eq!(store.blobs.put(b"of a message being applied").unwrap(), fresh_orphan);
    assert_eq!(store.sweep_blobs(hour).await.unwrap().removed, 0);
});

on_both!(the_first_start_of_80_bit_reply_addresses_is_stored, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let since = store.conn().await.unwrap().reply_mac_80_bit_since().await.unwrap().expect("set by the migration");
    assert!((maildesk::store::now() - since).abs() < 120, "{since}");
    store.conn().await.unwrap().set_reply_mac_80_bit_since(12345).await.unwrap();
    assert_eq!(store.conn().await.unwrap().reply_mac_80_bit_since().await.unwrap(), Some(12345));
});

#[tokio::test]
async fn the_data_directory_is_private_and_the_database_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("var");
    let url = format!("sqlite://{}", data.join("maildesk.db").display());
    let mut config = common::test_config(&data, url);
    config.maildir.path = data.join("inbox");
    let app = maildesk::App::open(config).await.expect("open");
    let mut tx = app.store.begin().await.unwrap();
    ticket_for(&mut tx, "a@example.com", "Private").await;
    tx.commit().await.unwrap();
    let mode = |name: &str| std::fs::metadata(data.join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(""), 0o700, "data directory");
    assert_eq!(mode("blobs"), 0o700, "blob directory");
    for file in ["maildesk.db", "maildesk.db-wal", "maildesk.db-shm", "reply-secret"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
}

on_both!(old_48_bit_reply_addresses_count_only_within_reopen_days_of_the_upgrade, |db| {
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(db, dir.path()).await;
    let config = common::test_config(dir.path(), url);
    let app = maildesk::App::open(config.clone()).await.unwrap();
    let long = app.reply_addresses.for_ticket(TicketNumber(3));
    let (local, domain) = long.split_once('@').unwrap();
    assert_eq!(local.rsplit_once('-').unwrap().1.len(), 20, "{long}");
    let old = format!("{}@{domain}", &local[..local.len() - 8]);
    let raw = format!("From: c@customer.example\nTo: {old}\nSubject: Re: thanks\n\nstill broken\n");
    let mail = maildesk::inbound::interpret(raw.as_bytes(), &app.inbound).unwrap();
    assert_eq!(mail.reply_address_ticket(), Some(TicketNumber(3)), "within the window");
    let days = config.desk.reopen_days as i64;
    app.store
        .conn()
        .await
        .unwrap()
        .set_reply_mac_80_bit_since(maildesk::store::now() - days * 86_400 - 60)
        .await
        .unwrap();
    app.store.close().await;
    let later = maildesk::App::open(config).await.unwrap();
    let mail = maildesk::inbound::interpret(raw.as_bytes(), &later.inbound).unwrap();
    assert_eq!(mail.reply_address_ticket(), None, "after desk.reopen_days");
    assert_eq!(mail.forged_reference, Some(TicketNumber(3)));
    let mail = maildesk::inbound::interpret(raw.replace(&old, &long).as_bytes(), &later.inbound).unwrap();
    assert_eq!(mail.reply_address_ticket(), Some(TicketNumber(3)), "new addresses always");
});

on_both!(a_message_taken_from_imap_waits_to_be_moved_until_it_is, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    assert_eq!(store.conn().await.unwrap().imap_state("box").await.unwrap(), None);
    in_tx(&store, async |tx| tx.imap_taken("box", 7, 1, Some("done")).await).await;
    in_tx(&store, async |tx| tx.imap_taken("box", 7, 2, Some("quarantine")).await).await;
    in_tx(&store, async |tx| tx.imap_taken("box", 7, 3, None).await).await;
    in_tx(&store, async |tx| tx.imap_taken("other", 7, 9, Some("done")).await).await;
    assert_eq!(store.conn().await.unwrap().imap_state("box").await.unwrap(), Some((7, 3)), "the last UID done");
    let waiting = store.conn().await.unwrap().imap_moves("box", 7).await.unwrap();
    assert_eq!(waiting, [(1, "done".to_string(), false), (2, "quarantine".to_string(), false)]);
    in_tx(&store, async |tx| tx.imap_copied("box", 7, &[2]).await).await;
    in_tx(&store, async |tx| tx.imap_moved("box", 7, &[1]).await).await;
    assert_eq!(
        store.conn().await.unwrap().imap_moves("box", 7).await.unwrap(),
        [(2, "quarantine".to_string(), true)],
        "copied, not moved"
    );
    // The folder was recreated: the old UIDs name nothing now.
    in_tx(&store, async |tx| tx.imap_taken("box", 8, 0, None).await).await;
    assert!(store.conn().await.unwrap().imap_moves("box", 7).await.unwrap().is_empty());
    assert!(store.conn().await.unwrap().imap_moves("box", 8).await.unwrap().is_empty());
    assert_eq!(
        store.conn().await.unwrap().imap_moves("other", 7).await.unwrap(),
        [(9, "done".to_string(), false)],
        "each mailbox on its own"
    );
});

/// Runs `work` in a transaction of its own and commits it.
async fn in_tx<T>(store: &Store, work: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>) -> T {
    let mut tx = store.begin().await.unwrap();
    let out = work(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    out
}

/// A public or internal comment on ticket `n`.
async fn comment(tx: &mut Tx, n: TicketNumber, public: bool, body: &str) {
    let comment = NewComment {
        ticket: n,
        author_id: None,
        public,
        from_staff: !public,
        body_text: body,
        body_reply: body,
        body_html: None,
        message_id: None,
    };
    tx.insert_comment(&comment).await.unwrap();
}

/// The numbers of the tickets `words` find, as staff (the index lists its matches) and as
/// the contact `viewer` (each of their tickets looked up).
async fn found_by(store: &Store, viewer: maildesk::domain::ContactId, words: &[&str]) -> (Vec<i64>, Vec<i64>) {
    use maildesk::store::{TicketFilter, TicketSearch};
    let search = TicketSearch { words: words.iter().map(|w| w.to_string()).collect(), ..TicketSearch::default() };
    let staff = TicketFilter { search: Some(search), limit: 100, ..TicketFilter::default() };
    let contact = TicketFilter { visible_to: Some((viewer, None)), ..staff.clone() };
    let mut conn = store.conn().await.unwrap();
    let ids = |rows: Vec<maildesk::store::TicketRow>| rows.into_iter().map(|t| t.id.0).collect::<Vec<_>>();
    (ids(conn.find_tickets(&staff).await.unwrap()), ids(conn.find_tickets(&contact).await.unwrap()))
}

on_both!(the_full_text_index_keeps_subjects_and_public_comments_and_never_an_internal_note, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let (printer, laptop) = in_tx(&store, async |tx: &mut Tx| {
        let printer = ticket_for(tx, "jane@example.com", "Printer jammed").await;
        comment(tx, printer, true, "The tray squeaks since Tuesday.").await;
        comment(tx, printer, false, "Vendor invoice overdue; do not tell her.").await;
        let laptop = ticket_for(tx, "jane@example.com", "Laptop").await;
        comment(tx, laptop, true, "Its battery drains; the printer is fine.").await;
        Ok((printer, laptop))
    })
    .await;
    let jane = store.conn().await.unwrap().contact_id("jane@example.com").await.unwrap().unwrap();
    let both = |ids: Vec<i64>| (ids.clone(), ids);
    assert_eq!(found_by(&store, jane, &["jammed"]).await, both(vec![printer.0]), "a subject");
    assert_eq!(found_by(&store, jane, &["squeaks", "TUESDAY"]).await, both(vec![printer.0]), "a public comment");
    assert_eq!(found_by(&store, jane, &["printer"]).await, both(vec![laptop.0, printer.0]), "either text");
    assert_eq!(found_by(&store, jane, &["jammed", "squeaks"]).await, both(vec![]), "all words in one text");
    for note in [&["invoice"][..], &["vendor", "overdue"], &["tell"]] {
        assert_eq!(found_by(&store, jane, note).await, both(vec![]), "{note:?}: an internal note's words");
    }
    // A later comment is indexed as it is written, in the same transaction; a later note is
    // not.
    in_tx(&store, async |tx: &mut Tx| {
        comment(tx, laptop, true, "Replaced under warranty.").await;
        comment(tx, printer, false, "Warranty claim refused.").await;
        Ok(())
    })
    .await;
    assert_eq!(found_by(&store, jane, &["warranty"]).await, both(vec![laptop.0]));
    assert_eq!(found_by(&store, jane, &["refused"]).await, both(vec![]));
});

on_both!(a_search_among_many_tickets_lists_the_index_matches_and_counts_them_up_to_a_cap, |db| {
    use maildesk::store::{TicketFilter, TicketSearch};
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    // 620 tickets of one contact, more than the few each looked up in turn.
    in_tx(&store, async |tx: &mut Tx| {
        for i in 0..620 {
            let subject = if i % 100 == 7 { format!("Rare gadget {i}") } else { format!("Common printer {i}") };
            let n = ticket_for(tx, "jane@example.com", &subject).await;
            comment(tx, n, i % 2 == 0, &format!("Note {i}: the widget again.")).await;
        }
        Ok(())
    })
    .await;
    let jane = store.conn().await.unwrap().contact_id("jane@example.com").await.unwrap().unwrap();
    let search = |words: &[&str], cap: Option<i64>| TicketFilter {
        visible_to: Some((jane, None)),
        search: Some(TicketSearch { words: words.iter().map(|w| w.to_string()).collect(), ..TicketSearch::default() }),
        limit: 25,
        count_at_most: cap,
        ..TicketFilter::default()
    };
    let mut conn = store.conn().await.unwrap();
    let rare = conn.find_tickets_counted(&search(&["gadget"], Some(1000))).await.unwrap();
    assert_eq!((rare.total, rare.more), (7, false));
    let numbers: Vec<i64> = rare.tickets.iter().map(|t| t.id.0).collect();
    assert_eq!(numbers, vec![608, 508, 408, 308, 208, 108, 8], "newest first");
    // Only the public half of the comments has the word.
    let widget = conn.find_tickets_counted(&search(&["widget"], None)).await.unwrap();
    assert_eq!((widget.total, widget.tickets.len()), (310, 25));
    assert!(widget.tickets.iter().all(|t| t.id.0 % 2 == 1), "tickets 1, 3, …: the public comments");
    let capped = conn.find_tickets_counted(&search(&["widget"], Some(100))).await.unwrap();
    assert_eq!((capped.total, capped.more, capped.tickets.len()), (100, true, 25));
    let past =
        conn.find_tickets_counted(&TicketFilter { offset: 100, ..search(&["widget"], Some(100)) }).await.unwrap();
    assert!(past.tickets.is_empty() && past.more, "the pages end with the count");
});

on_both!(tidying_the_search_index_merges_it_into_one_b_tree_and_finds_the_same_tickets, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    // Each transaction that writes the index adds a b-tree of its own to SQLite's.
    for i in 0..40 {
        in_tx(&store, async |tx: &mut Tx| {
            let subject = if i % 4 == 0 { format!("Printer {i} jammed") } else { format!("Scanner {i}") };
            let n = ticket_for(tx, "jane@example.com", &subject).await;
            comment(tx, n, true, &format!("Reply {i}: the tray squeaks.")).await;
            Ok(())
        })
        .await;
    }
    let jane = store.conn().await.unwrap().contact_id("jane@example.com").await.unwrap().unwrap();
    let before = (found_by(&store, jane, &["printer"]).await, found_by(&store, jane, &["tray", "squeaks"]).await);
    assert_eq!(before.0.0.len(), 10);
    assert_eq!(before.1.0.len(), 40);
    let b_trees = async || -> i64 {
        let url = format!("sqlite://{}", dir.path().join("maildesk.db").display());
        let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(DISTINCT segid) FROM ticket_words_idx").fetch_one(&mut c).await.unwrap()
    };
    let mut conn = store.conn().await.unwrap();
    match db {
        common::Db::Sqlite => {
            assert!(b_trees().await > 1, "40 transactions left more than one b-tree");
            assert!(conn.tidy_search_index().await.unwrap() > 0, "the first tidying merges");
            assert_eq!(b_trees().await, 1);
        }
        // PostgreSQL's GIN indexes are autovacuum's: nothing to do.
        common::Db::Postgres => assert_eq!(conn.tidy_search_index().await.unwrap(), 0),
    }
    assert_eq!(conn.tidy_search_index().await.unwrap(), 0, "a tidy index is left alone");
    drop(conn);
    let after = (found_by(&store, jane, &["printer"]).await, found_by(&store, jane, &["tray", "squeaks"]).await);
    assert_eq!(after, before, "the same tickets, in the same order");
    // Written after the tidying, found too.
    in_tx(&store, async |tx: &mut Tx| {
        let n = ticket_for(tx, "jane@example.com", "Printer again").await;
        comment(tx, n, true, "Squeaks.").await;
        Ok(())
    })
    .await;
    assert_eq!(found_by(&store, jane, &["printer"]).await.0.len(), 11);
});

on_both!(the_search_migration_indexes_what_was_written_before_it, |db| {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(db, dir.path()).await;
    let folder = match db {
        common::Db::Sqlite => "migrations/sqlite",
        common::Db::Postgres => "migrations/postgres",
    };
    let mut before =
        sqlx::migrate::Migrator::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder)).await.unwrap();
    let earlier: Vec<_> = before.iter().filter(|m| m.version < 17).cloned().collect();
    assert!(earlier.len() == 16 && before.iter().any(|m| m.version == 17), "the migration is 0017");
    before.migrations = earlier.into();
    let rows = [
        "INSERT INTO contacts (id, email, name, created_at) VALUES (1, 'jane@example.com', 'Jane', 0)",
        "INSERT INTO tickets (id, subject, status, priority, requester_id, created_at, updated_at)
         VALUES (1, 'Printer jammed', 'open', 'medium', 1, 0, 0), (2, 'Laptop', 'open', 'medium', 1, 0, 0)",
        "INSERT INTO ticket_participants (ticket_id, contact_id, role) VALUES (1, 1, 'requester'), (2, 1, 'requester')",
        "INSERT INTO comments (id, ticket_id, public, body_text, body_reply, created_at)
         VALUES (1, 1, TRUE, 'whole', 'The tray squeaks.', 0), (2, 1, FALSE, 'whole', 'Vendor invoice overdue.', 0),
                (3, 2, TRUE, 'whole', 'Café spilled on it.', 0)",
    ];
    match db {
        common::Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc")).await.unwrap();
            before.run(&mut c).await.unwrap();
            for sql in rows {
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
            c.close().await.unwrap();
        }
        common::Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            before.run(&mut c).await.unwrap();
            for sql in rows {
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
            c.close().await.unwrap();
        }
    }
    let store = Store::open(&StoreOptions {
        url,
        max_connections: 2,
        busy_timeout: std::time::Duration::from_secs(5),
        blob_dir: dir.path().join("blobs"),
    })
    .await
    .expect("the store migrates the rest");
    let jane = maildesk::domain::ContactId(1);
    let both = |ids: Vec<i64>| (ids.clone(), ids);
    assert_eq!(found_by(&store, jane, &["jammed"]).await, both(vec![1]));
    assert_eq!(found_by(&store, jane, &["squeaks"]).await, both(vec![1]));
    assert_eq!(found_by(&store, jane, &["cafe"]).await, both(vec![2]));
    assert_eq!(found_by(&store, jane, &["invoice"]).await, both(vec![]), "the note stays out");
});

on_both!(a_lease_is_one_holders_until_it_runs_out_then_changes_hands_at_a_new_generation, |db| {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let ttl = Duration::from_millis(400);
    let acquire = |holder: &'static str| {
        let store = store.clone();
        async move { store.with(async |c| c.acquire_lease("imap:support", holder, ttl).await).await.unwrap() }
    };
    assert_eq!(acquire("node-a").await, Some(1));
    assert_eq!(acquire("node-b").await, None, "another holder's lease runs");
    assert_eq!(acquire("node-a").await, Some(1), "renewed at the same generation");
    let held = store.with(async |c| c.leases().await).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].holder.as_str(), held[0].generation, held[0].expired), ("node-a", 1, false));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(store.with(async |c| c.leases().await).await.unwrap()[0].expired);
    assert_eq!(acquire("node-b").await, Some(2), "a lease that ran out is taken at a new generation");
    assert_eq!(acquire("node-a").await, None);
    // Fencing: the old holder's writes find they hold nothing; the new holder's go on.
    let mut tx = store.begin().await.unwrap();
    assert!(!tx.holds_lease("imap:support", "node-a", 1).await.unwrap());
    assert!(!tx.holds_lease("imap:support", "node-b", 1).await.unwrap(), "the generation counts");
    assert!(tx.holds_lease("imap:support", "node-b", 2).await.unwrap());
    assert!(!tx.holds_lease("imap:other", "node-b", 2).await.unwrap());
    drop(tx);

    // Given up by its holder (a clean stop): taken at once; only the holder at its
    // generation can give it up.
    let release = |holder: &'static str, generation: i64| {
        let store = store.clone();
        async move { store.with(async |c| c.release_lease("imap:support", holder, generation).await).await.unwrap() }
    };
    assert!(!release("node-a", 2).await);
    assert!(!release("node-b", 1).await);
    assert!(release("node-b", 2).await);
    assert_eq!(acquire("node-a").await, Some(3));
    // A holder whose own lease ran out takes it again at a new generation: what it began
    // under the old one is fenced off.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(acquire("node-a").await, Some(4));
});

on_both!(nodes_racing_for_a_lease_get_it_once_and_a_write_under_it_finishes_before_it_changes_hands, |db| {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    // Eight nodes at once: one of them gets it.
    let racing: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let holder = format!("node-{i}");
                store.with(async |c| c.acquire_lease("maildir:inbox", &holder, Duration::from_millis(300)).await).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for r in racing {
        won.push(r.await.unwrap().unwrap());
    }
    assert_eq!(won.iter().filter(|g| g.is_some()).count(), 1, "{won:?}");
    assert_eq!(won.iter().flatten().collect::<Vec<_>>(), [&1]);
    let holder = store.with(async |c| c.leases().await).await.unwrap()[0].holder.clone();

    // The holder checks its lease in a transaction; the lease runs out meanwhile; another
    // node's takeover waits until that transaction has ended.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.holds_lease("maildir:inbox", &holder, 1).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let taker = {
        let store = store.clone();
        tokio::spawn(async move {
            store.with(async |c| c.acquire_lease("maildir:inbox", "node-late", Duration::from_secs(30)).await).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!taker.is_finished(), "the takeover waits for the holder's transaction");
    tx.commit().await.unwrap();
    assert_eq!(taker.await.unwrap().unwrap(), Some(2));
});
