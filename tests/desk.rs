//! desk::receive and the outbox sender, in process, on SQLite and PostgreSQL.

mod common;

use common::{TestApp, mail};
use maildesk::desk::{Outcome, receive};
use maildesk::domain::{Priority, Role, Source, StaffNotify, Status, TicketNumber};
use maildesk::inbound::Auto;

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    head.split("\r\n").find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

on_both!(a_new_mail_opens_a_ticket_and_is_acknowledged_once, |db| {
    let t = TestApp::new(db).await;
    let raw = mail(
        "Jane Doe <Jane@Example.com>",
        "Printer offline",
        Some("req1@example.com"),
        "",
        "My printer is offline.\n\n-- \nJane",
    );
    let outcome = receive(&t.app, &raw, &Source::Pipe).await.unwrap();
    let Outcome::Opened(n) = outcome else { panic!("expected a new ticket, got {outcome:?}") };
    let ticket = t.db().await.ticket(n).await.unwrap().unwrap();
    assert_eq!((ticket.subject.as_str(), ticket.status.as_str()), ("Printer offline", "open"));
    assert_eq!(ticket.requester_email, "jane@example.com");
    assert_eq!(ticket.requester_name, "Jane Doe");
    assert_eq!(ticket.organisation, None);
    let comments = t.db().await.comments(n).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body_reply, "My printer is offline.");
    assert!(comments[0].body_text.contains("-- \nJane"), "the whole text is kept");

    let sent = t.flush_outbox().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "jane@example.com");
    let text = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert_eq!(header(&text, "Subject"), Some(format!("[Support #{n}] Printer offline").as_str()));
    assert_eq!(header(&text, "In-Reply-To"), Some("<req1@example.com>"));
    assert_eq!(header(&text, "References"), Some("<req1@example.com>"));
    assert_eq!(header(&text, "Auto-Submitted"), Some("auto-replied"));
    assert!(header(&text, "From").unwrap().contains("support@helpdesk.example"));
    assert!(text.contains(&format!("https://help.example/requests/{n}")));
    // Sending again sends nothing: the row is marked sent.
    assert_eq!(t.flush_outbox().await.len(), 1);
});

on_both!(a_reply_with_the_subject_tag_becomes_a_comment, |db| {
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Help", Some("a1@example.com"), "", "Hi"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    let reply = mail(
        "jane@example.com",
        &format!("Re: [Support #{n}] Help"),
        Some("a2@example.com"),
        "",
        "Still broken.\n\nOn Mon, 23 Nov 2026 at 10:02, Support <support@helpdesk.example> wrote:\n> We opened a ticket.",
    );
    assert_eq!(receive(&t.app, &reply, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let comments = t.db().await.comments(n).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1].body_reply, "Still broken.");
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 1);
    // Replies are not acknowledged.
    assert_eq!(t.flush_outbox().await.len(), 1);
});

on_both!(a_reply_by_references_to_our_acknowledgement_finds_its_ticket_without_a_tag, |db| {
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Help", Some("b1@example.com"), "", "Hi"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    let sent = t.flush_outbox().await;
    let ours = sent[0].message_id.clone();
    let reply = mail(
        "jane@example.com",
        "Re: Help",
        Some("b2@example.com"),
        &format!("In-Reply-To: <{ours}>\nReferences: <b1@example.com> <{ours}>\n"),
        "Thanks",
    );
    assert_eq!(receive(&t.app, &reply, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    // Someone not on the ticket answering the customer's original mail (anyone she wrote
    // to knows its Message-ID) neither speaks on her ticket nor gains access to it: their
    // mail opens a ticket of its own, linked by a note.
    let cc = mail(
        "bob@example.com",
        "Re: Help",
        Some("b3@example.com"),
        "In-Reply-To: <b1@example.com>\nCc: eve@example.com\n",
        "Me too",
    );
    let Outcome::Opened(own) = receive(&t.app, &cc, &Source::Pipe).await.unwrap() else {
        panic!("a stranger must not post")
    };
    assert_ne!(own, n);
    let comments = t.db().await.comments(n).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert!(comments.iter().all(|c| c.author_email.as_deref() == Some("jane@example.com")));
    let people = t.db().await.participants(n).await.unwrap();
    assert_eq!(people, vec![("jane@example.com".into(), Role::Requester)]);
    let note = t.db().await.comments(own).await.unwrap().into_iter().find(|c| !c.public).expect("a note");
    assert!(note.body_text.contains(&format!("#{n}")) && note.body_text.contains("references"), "{note:?}");
});

on_both!(a_stranger_with_a_copied_subject_tag_opens_a_ticket_of_their_own, |db| {
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Salary question", Some("s1@example.com"), "", "Hi"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    let forged = mail(
        "mallory@example.net",
        &format!("Re: [Support #{n}] Salary question"),
        Some("s2@example.net"),
        "",
        "Let me in",
    );
    let Outcome::Opened(other) = receive(&t.app, &forged, &Source::Pipe).await.unwrap() else {
        panic!("a stranger must not post")
    };
    assert_ne!(other, n);
    assert_eq!(t.db().await.comments(n).await.unwrap().len(), 1);
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1);
    // The requester may use the tag, but a tag cannot bring anyone onto the ticket: the
    // From may be forged.
    let with_cc = mail(
        "jane@example.com",
        &format!("Re: [Support #{n}] Salary question"),
        Some("s3@example.com"),
        "Cc: Tom <tom@example.com>\n",
        "Adding Tom",
    );
    assert_eq!(receive(&t.app, &with_cc, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1, "no participant from a tag-only mail");
    // Through the signed reply address of our acknowledgement, she can.
    let ack = String::from_utf8(t.flush_outbox().await.remove(0).bytes).unwrap();
    let signed = header(&ack, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string();
    let with_cc = format!(
        "From: jane@example.com\nTo: {signed}\nCc: Tom <tom@example.com>\nSubject: Re: Salary question\nMessage-ID: <s3b@example.com>\n\nAdding Tom\n"
    );
    assert_eq!(receive(&t.app, with_cc.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 2);
    let from_tom =
        mail("tom@example.com", &format!("Re: [Support #{n}] Salary question"), Some("s4@example.com"), "", "Hello");
    assert_eq!(receive(&t.app, &from_tom, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
});

on_both!(our_own_acknowledgement_coming_back_is_automatic, |db| {
    let t = TestApp::new(db).await;
    receive(&t.app, &mail("jane@example.com", "Loop?", Some("l1@example.com"), "", "Hi"), &Source::Pipe).await.unwrap();
    let ack = t.flush_outbox().await.remove(0);
    // Delivered back to us, as a misconfigured forward would.
    assert_eq!(receive(&t.app, &ack.bytes, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::AutoReply));
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 1);
    assert_eq!(t.flush_outbox().await.len(), 1);
});

on_both!(nul_bytes_in_a_mail_neither_wedge_nor_reach_the_database, |db| {
    let t = TestApp::new(db).await;
    let raw = b"From: jane@example.com\nSubject: Null\0byte\nMessage-ID: <n\0ul@example.com>\n\nbody with \0 inside\n"
        .to_vec();
    let outcome = receive(&t.app, &raw, &Source::Pipe).await.unwrap();
    let Outcome::Opened(n) = outcome else { panic!("expected a ticket, got {outcome:?}") };
    let ticket = t.db().await.ticket(n).await.unwrap().unwrap();
    assert_eq!(ticket.subject, "Null byte");
    assert!(!t.db().await.comments(n).await.unwrap()[0].body_text.contains('\0'));
});

on_both!(a_notification_that_cannot_be_rendered_fails_for_good_without_blocking_others, |db| {
    let t = TestApp::new(db).await;
    let mut tx = t.store().begin().await.unwrap();
    tx.enqueue(&maildesk::store::NewOutboxRow {
        kind: "no-such-kind",
        ticket: None,
        recipient: "a@example.com",
        message_id: "md.0.1@helpdesk.example",
        in_reply_to: None,
        references: &[],
        payload: "{}",
        sender: None,
        attachments: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    receive(&t.app, &mail("b@example.com", "Fine", None, "", "x"), &Source::Pipe).await.unwrap();
    let sent = t.flush_outbox().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "b@example.com");
    let rows = t.db().await.list_outbox().await.unwrap();
    let bad = rows.iter().find(|r| r.kind == "no-such-kind").unwrap();
    assert_eq!(bad.state, "failed");
    assert!(bad.last_error.as_deref().unwrap().contains("no-such-kind"));
});

on_both!(the_same_message_twice_changes_nothing, |db| {
    let t = TestApp::new(db).await;
    let raw = mail("jane@example.com", "Once", Some("dup@example.com"), "", "Hello");
    assert!(matches!(receive(&t.app, &raw, &Source::Pipe).await.unwrap(), Outcome::Opened(_)));
    let mut redelivered = b"Delivered-To: support@helpdesk.example\n".to_vec();
    redelivered.extend_from_slice(&raw);
    assert_eq!(receive(&t.app, &redelivered, &Source::Pipe).await.unwrap(), Outcome::Duplicate);
    // Without a Message-ID the raw bytes are the fingerprint.
    let anon = mail("jane@example.com", "No id", None, "", "Hello");
    assert!(matches!(receive(&t.app, &anon, &Source::Pipe).await.unwrap(), Outcome::Opened(_)));
    assert_eq!(receive(&t.app, &anon, &Source::Pipe).await.unwrap(), Outcome::Duplicate);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 2);
    assert_eq!(t.flush_outbox().await.len(), 2);
});

on_both!(automatic_mail_is_recorded_but_opens_nothing_and_gets_no_answer, |db| {
    let t = TestApp::new(db).await;
    let ooo = mail(
        "boss@example.com",
        "Automatic reply: Help",
        Some("ooo@example.com"),
        "Auto-Submitted: auto-replied\n",
        "I am away.",
    );
    assert_eq!(receive(&t.app, &ooo, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::AutoReply));
    let list = mail("news@example.com", "Weekly news", Some("n@example.com"), "List-Id: <news.example.com>\n", "News");
    assert_eq!(receive(&t.app, &list, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::List));
    let bounce = mail(
        "MAILER-DAEMON@mx.example.com",
        "Undelivered Mail Returned to Sender",
        Some("bn@mx.example.com"),
        "",
        "failed",
    );
    assert_eq!(receive(&t.app, &bounce, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    // The null sender, and a daemon without a domain: automatic mail with no address at all
    // is recorded all the same, never quarantined.
    let null = b"Return-Path: <>\nFrom: MAILER-DAEMON <>\nTo: support@helpdesk.example\nSubject: failure notice\n\
        Message-ID: <null-1@mx.example.net>\n\nI'm afraid I wasn't able to deliver your message.\n";
    assert_eq!(receive(&t.app, null, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    let bare = b"From: Mail Delivery Subsystem <MAILER-DAEMON>\nTo: support@helpdesk.example\n\
        Subject: Returned mail: see transcript for details\nMessage-ID: <null-2@mx.example.net>\n\nUser unknown\n";
    assert_eq!(receive(&t.app, bare, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    assert!(t.db().await.list_quarantine().await.unwrap().is_empty());
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 0);
    assert!(t.flush_outbox().await.is_empty());
    let outcomes = t.db().await.inbound_outcomes().await.unwrap();
    assert_eq!(outcomes, vec![("auto-reply".into(), 1), ("bounce".into(), 3), ("list".into(), 1)]);
    // Recorded means a repeat is a duplicate.
    assert_eq!(receive(&t.app, &ooo, &Source::Pipe).await.unwrap(), Outcome::Duplicate);
});

on_both!(what_cannot_be_read_is_quarantined_with_its_bytes, |db| {
    let t = TestApp::new(db).await;
    let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let Outcome::Quarantined(reason) = receive(&t.app, &garbage, &Source::Pipe).await.unwrap() else {
        panic!("not quarantined")
    };
    assert!(!reason.is_empty());
    let no_from = b"To: support@helpdesk.example\nSubject: who am I\n\nbody\n".to_vec();
    let Outcome::Quarantined(reason) = receive(&t.app, &no_from, &Source::Pipe).await.unwrap() else {
        panic!("not quarantined")
    };
    assert_eq!(reason, "no usable sender address (From, Sender, Reply-To, Return-Path)");
    // A name without an address is no one to answer either.
    let name_only = b"From: Jane Doe <jane>\nTo: support@helpdesk.example\nSubject: help\n\nbody\n".to_vec();
    let Outcome::Quarantined(reason) = receive(&t.app, &name_only, &Source::Pipe).await.unwrap() else {
        panic!("not quarantined")
    };
    assert!(reason.starts_with("no usable sender address"), "{reason}");
    let q = t.db().await.list_quarantine().await.unwrap();
    assert_eq!(q.len(), 3);
    let kept = t.store().blobs.get(&q[2].raw_sha256).unwrap().unwrap();
    assert_eq!(kept, garbage, "the raw bytes are kept");
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 0);
    // The desk carries on.
    assert!(matches!(
        receive(&t.app, &mail("a@example.com", "ok", None, "", "x"), &Source::Pipe).await.unwrap(),
        Outcome::Opened(_)
    ));
});

on_both!(an_oversized_message_is_quarantined_unread, |db| {
    let t = TestApp::new(db).await;
    let limit = t.app.config().limits.max_message_bytes as usize;
    let big = mail("a@example.com", "Huge", Some("big@example.com"), "", &"x".repeat(limit));
    let Outcome::Quarantined(reason) = receive(&t.app, &big, &Source::Pipe).await.unwrap() else { panic!() };
    assert!(reason.contains("limits.max_message_bytes"), "{reason}");
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 0);
});

on_both!(a_mapped_domain_files_the_ticket_under_its_organisation, |db| {
    let t = TestApp::new(db).await;
    let raw = mail(
        "Wile <wile@ACME.example>",
        "Anvil",
        None,
        "Cc: Road Runner <rr@acme.example>, support@helpdesk.example\n",
        "It fell.",
    );
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    let ticket = t.db().await.ticket(n).await.unwrap().unwrap();
    assert_eq!(ticket.organisation.as_deref(), Some("Acme Corp"));
    let people = t.db().await.participants(n).await.unwrap();
    assert_eq!(people, vec![("wile@acme.example".into(), Role::Requester), ("rr@acme.example".into(), Role::Cc)]);
});

on_both!(attachments_are_stored_once_by_content, |db| {
    let t = TestApp::new(db).await;
    let build = |id: &str| {
        format!(
        "From: a@example.com\nTo: support@helpdesk.example\nSubject: Invoice\nMessage-ID: <{id}>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee attached.\n--b\nContent-Type: application/pdf; name=\"inv.pdf\"\nContent-Disposition: attachment; filename=\"inv.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfs\n--b--\n"
    ).into_bytes()
    };
    let Outcome::Opened(a) = receive(&t.app, &build("x1@example.com"), &Source::Pipe).await.unwrap() else { panic!() };
    let Outcome::Opened(b) = receive(&t.app, &build("x2@example.com"), &Source::Pipe).await.unwrap() else { panic!() };
    let (aa, ba) = (t.db().await.attachments(a).await.unwrap(), t.db().await.attachments(b).await.unwrap());
    assert_eq!((aa[0].filename.as_str(), aa[0].content_type.as_str(), aa[0].size), ("inv.pdf", "application/pdf", 12));
    assert_eq!(aa[0].sha256, ba[0].sha256);
    let bytes = t.store().blobs.get(&aa[0].sha256).unwrap().unwrap();
    assert!(bytes.starts_with(b"%PDF-1.4"));
});

on_both!(an_attachment_without_a_name_is_shown_on_the_ticket_by_what_it_is, |db| {
    let t = TestApp::new(db).await;
    let raw = b"From: a@example.com\nTo: support@helpdesk.example\nSubject: Fwd: the order\nMessage-ID: <fwd1@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee below.\n--b\nContent-Type: message/rfc822\n\nFrom: c@example.org\nSubject: Order 7\n\nShip it.\n--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n";
    let mail =
        maildesk::inbound::interpret(raw, &maildesk::inbound::Settings::new("Support", "helpdesk.example")).unwrap();
    let names: Vec<_> = mail.attachments.iter().map(|a| a.filename.clone()).collect();
    assert_eq!(names, [None, None], "the interpretation invents no name");
    let Outcome::Opened(n) = receive(&t.app, raw, &Source::Pipe).await.unwrap() else { panic!() };
    let stored: Vec<String> = t.db().await.attachments(n).await.unwrap().into_iter().map(|a| a.filename).collect();
    assert_eq!(stored, ["Order 7.eml", "attachment-2.png"], "people see what each is");
});

on_both!(a_tag_naming_no_ticket_opens_a_new_one, |db| {
    let t = TestApp::new(db).await;
    let raw = mail("a@example.com", "Re: [Support #999] Old", None, "", "Hello?");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    assert_ne!(n, TicketNumber(999));
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().subject, "Old");
});

on_both!(mail_from_our_own_address_is_never_acknowledged, |db| {
    let t = TestApp::new(db).await;
    let raw = mail("support@helpdesk.example", "Note to self", None, "", "x");
    assert!(matches!(receive(&t.app, &raw, &Source::Pipe).await.unwrap(), Outcome::Opened(_)));
    assert!(t.flush_outbox().await.is_empty());
});

on_both!(a_reply_to_the_signed_reply_address_finds_its_ticket_and_a_forged_one_does_not, |db| {
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Laptop", Some("r1@example.com"), "", "Broken"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    let ack = String::from_utf8(t.flush_outbox().await.remove(0).bytes).unwrap();
    let reply_to = header(&ack, "Reply-To").expect("a Reply-To");
    let signed = reply_to.trim_end_matches('>').rsplit('<').next().unwrap().to_string();
    assert!(signed.starts_with(&format!("support+{n}-")), "{signed}");
    // The client dropped the tag and the References: the signed address alone suffices.
    let raw = format!(
        "From: jane@example.com\nTo: {signed}\nSubject: Re: your laptop\nMessage-ID: <r2@example.com>\n\nStill broken.\n"
    );
    assert_eq!(receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    // Also when only the MTA's Delivered-To names it.
    let raw = format!(
        "Delivered-To: {signed}\nFrom: jane@example.com\nTo: support@helpdesk.example\nSubject: more\nMessage-ID: <r3@example.com>\n\nAnd more.\n"
    );
    assert_eq!(receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    // A stranger who guesses the shape gets a ticket of their own, with a note.
    let forged = format!("support+{n}-0123456789ab@helpdesk.example");
    let raw = format!(
        "From: mallory@example.net\nTo: {forged}\nSubject: hello\nMessage-ID: <f1@example.net>\n\nLet me in.\n"
    );
    let Outcome::Opened(other) = receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap() else {
        panic!("forged address must not post")
    };
    assert_ne!(other, n);
    let comments = t.db().await.comments(other).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert!(!comments[1].public && comments[1].body_text.contains(&format!("ticket #{n}")), "{comments:?}");
    assert_eq!(t.db().await.comments(n).await.unwrap().len(), 3);
});

on_both!(loop_protection_withholds_acknowledgements, |db| {
    let t = TestApp::new(db).await;
    // No-reply style senders get no acknowledgement.
    receive(&t.app, &mail("no-reply@shop.example.com", "Your order", None, "", "x"), &Source::Pipe).await.unwrap();
    receive(&t.app, &mail("Do-Not-Reply@bank.example.com", "Statement", None, "", "x"), &Source::Pipe).await.unwrap();
    assert!(t.flush_outbox().await.is_empty());
    // At most 10 automatic mails an hour to one address, however many requests it sends.
    for i in 0..12 {
        receive(&t.app, &mail("chatty@example.com", &format!("Request {i}"), None, "", "x"), &Source::Pipe)
            .await
            .unwrap();
    }
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 14);
    assert_eq!(t.flush_outbox().await.len(), 10);
    // A bounce of our mail to an address marks it: nothing automatic goes there any more.
    let Outcome::Opened(gone) =
        receive(&t.app, &mail("gone@example.org", "Hello", None, "", "x"), &Source::Pipe).await.unwrap()
    else {
        panic!()
    };
    let sent = t.flush_outbox().await;
    assert_eq!(sent.len(), 11);
    let ours = sent.last().unwrap().message_id.clone();
    let bounce = format!(
        "From: MAILER-DAEMON@mx.example.net\nTo: support@helpdesk.example\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; gone@example.org\nAction: failed\nStatus: 5.1.1\n--b\nContent-Type: text/rfc822-headers\n\nFrom: support@helpdesk.example\nTo: gone@example.org\nMessage-ID: <{ours}>\n--b--\n"
    );
    assert_eq!(receive(&t.app, bounce.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    assert_eq!(t.db().await.bouncing_addresses().await.unwrap()[0].0, "gone@example.org");
    maildesk::desk::staff::set_status(&t.app, gone, maildesk::domain::Status::WaitingOnCustomer).await.unwrap();
    assert_eq!(t.flush_outbox().await.len(), 11, "no automatic mail to a bouncing address");
});

on_both!(a_staff_reply_reaches_every_customer_on_the_ticket_from_the_support_address, |db| {
    let t = TestApp::new(db).await;
    let raw = mail("Jane <jane@example.com>", "VPN down", Some("v1@example.com"), "Cc: tom@example.com\n", "Help");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    t.flush_outbox().await;
    let staff = maildesk::domain::EmailAddress::parse("agent.smith@staff.example").unwrap();
    let not_yet = maildesk::desk::staff::reply(&t.app, n, &staff, "Please restart the client.").await;
    assert!(not_yet.is_err(), "only staff members reply");
    t.db().await.add_staff("agent.smith@staff.example", "Agent Smith", None, StaffNotify::All).await.unwrap();
    let queued = maildesk::desk::staff::reply(&t.app, n, &staff, "Please restart the client.").await.unwrap();
    assert_eq!(queued, 2);
    let sent = t.flush_outbox().await;
    let replies: Vec<String> = sent[1..].iter().map(|m| String::from_utf8(m.bytes.clone()).unwrap()).collect();
    let mut recipients: Vec<&str> = sent[1..].iter().map(|m| m.recipient.as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["jane@example.com", "tom@example.com"]);
    for r in &replies {
        let parsed = mail_parser::MessageParser::default().parse(r.as_bytes()).unwrap();
        let from = parsed.from().and_then(|f| f.first()).unwrap();
        assert_eq!((from.name(), from.address()), (Some("Agent Smith (Support)"), Some("support@helpdesk.example")));
        assert!(!r.contains("agent.smith"), "the staff address never reaches customers");
        assert_eq!(header(r, "Auto-Submitted"), None, "a person wrote it");
        assert_eq!(header(r, "Subject"), Some(format!("Re: [Support #{n}] VPN down").as_str()));
        assert_eq!(header(r, "In-Reply-To"), Some("<v1@example.com>"));
        assert!(header(r, "References").unwrap().starts_with("<v1@example.com>"));
        assert!(header(r, "Reply-To").unwrap().contains(&format!("support+{n}-")));
        assert!(r.contains("Please restart the client."));
    }
    let comments = t.db().await.comments(n).await.unwrap();
    assert_eq!((comments.len(), comments[1].public), (2, true));
    let empty = maildesk::desk::staff::reply(&t.app, n, &staff, "   ").await;
    assert!(empty.is_err());
    let missing = maildesk::desk::staff::reply(&t.app, maildesk::domain::TicketNumber(n.0 + 50), &staff, "x").await;
    assert!(missing.is_err());
});

on_both!(status_changes_are_told_and_a_reply_reopens_a_resolved_ticket, |db| {
    use maildesk::desk::staff;
    use maildesk::domain::Status;
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Printer", Some("p1@example.com"), "", "Broken"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(staff::set_status(&t.app, n, Status::WaitingOnCustomer).await.unwrap(), 1);
    assert_eq!(staff::set_status(&t.app, n, Status::WaitingOnCustomer).await.unwrap(), 0, "no change, no mail");
    assert_eq!(staff::set_status(&t.app, n, Status::Resolved).await.unwrap(), 1);
    let sent = t.flush_outbox().await;
    let texts: Vec<String> = sent.iter().map(|m| String::from_utf8(m.bytes.clone()).unwrap()).collect();
    assert_eq!(
        header(&texts[1], "Subject"),
        Some(format!("[Support #{n}] Printer - now waiting on customer").as_str())
    );
    assert_eq!(header(&texts[2], "Subject"), Some(format!("[Support #{n}] Printer - resolved").as_str()));
    assert_eq!(header(&texts[2], "Auto-Submitted"), Some("auto-generated"));
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().status, Status::Resolved);
    // The customer answers the resolved mail: the ticket reopens and they are told.
    let raw = format!(
        "From: jane@example.com\nSubject: Re: [Support #{n}] Printer\nMessage-ID: <p2@example.com>\nIn-Reply-To: <{}>\n\nStill broken.\n",
        sent[2].message_id
    );
    assert_eq!(receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().status, Status::Open);
    let sent = t.flush_outbox().await;
    let last = String::from_utf8(sent.last().unwrap().bytes.clone()).unwrap();
    assert_eq!(header(&last, "Subject"), Some(format!("[Support #{n}] Printer - reopened").as_str()));
    assert!(staff::set_status(&t.app, maildesk::domain::TicketNumber(n.0 + 9), Status::Closed).await.is_err());
});

on_both!(automatic_mail_about_one_ticket_is_capped, |db| {
    use maildesk::desk::staff;
    use maildesk::domain::Status;
    let t = TestApp::new(db).await;
    let raw = mail("jane@example.com", "Flapping", None, "", "x");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    // Many participants, many status changes: the per-recipient cap (10) is not what stops it.
    for i in 0..30 {
        let status = if i % 2 == 0 { Status::InProgress } else { Status::WaitingOnVendor };
        staff::set_status(&t.app, n, status).await.unwrap();
    }
    let sent = t.flush_outbox().await;
    assert_eq!(sent.len(), 10, "the recipient cap holds first");
    let ack = String::from_utf8(sent[0].bytes.clone()).unwrap();
    let signed = header(&ack, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string();
    let cc = format!(
        "From: jane@example.com\nTo: {signed}\nSubject: Re: [Support #{n}] Flapping\nCc: {}\n\nadding people\n",
        (1..=5).map(|i| format!("p{i}@example.com")).collect::<Vec<_>>().join(", ")
    );
    receive(&t.app, cc.as_bytes(), &Source::Pipe).await.unwrap();
    for i in 0..10 {
        let status = if i % 2 == 0 { Status::InProgress } else { Status::WaitingOnVendor };
        staff::set_status(&t.app, n, status).await.unwrap();
    }
    let about_ticket = t.db().await.list_outbox().await.unwrap().iter().filter(|r| r.ticket_id == Some(n)).count();
    assert_eq!(about_ticket, 20, "at most 20 automatic mails about one ticket in an hour");
});

on_both!(staff_are_told_of_new_tickets_and_customer_replies_of_their_department, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("all@staff.example", "Ann", None, StaffNotify::All).await.unwrap();
    t.db().await.add_staff("billing@staff.example", "Bob", Some("billing"), StaffNotify::All).await.unwrap();
    let origin = maildesk::desk::Origin { source: &Source::Pipe, department: Some("billing"), fence: None };
    let raw = mail("jane@example.com", "Refund", Some("rf1@example.com"), "", "Please refund.");
    let Outcome::Opened(n) = receive(&t.app, &raw, origin).await.unwrap() else { panic!() };
    let raw = mail("joe@example.com", "Printer", Some("pr1@example.com"), "", "Jammed.");
    receive(&t.app, &raw, &Source::Pipe).await.unwrap();
    let reply =
        mail("jane@example.com", &format!("Re: [Support #{n}] Refund"), Some("rf2@example.com"), "", "Any news?");
    assert_eq!(receive(&t.app, &reply, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let sent = t.flush_outbox().await;
    let to_staff: Vec<(String, String)> = sent
        .iter()
        .filter(|m| m.recipient.ends_with("@staff.example"))
        .map(|m| {
            (m.recipient.clone(), header(&String::from_utf8(m.bytes.clone()).unwrap(), "Subject").unwrap().to_string())
        })
        .collect();
    assert_eq!(
        to_staff,
        vec![
            ("all@staff.example".to_string(), format!("[Support #{n}] New: Refund")),
            ("billing@staff.example".to_string(), format!("[Support #{n}] New: Refund")),
            ("all@staff.example".to_string(), format!("[Support #{} ] New: Printer", n.0 + 1).replace(" ]", "]")),
            ("all@staff.example".to_string(), format!("[Support #{n}] Reply: Refund")),
            ("billing@staff.example".to_string(), format!("[Support #{n}] Reply: Refund")),
        ]
    );
    let notice =
        String::from_utf8(sent.iter().find(|m| m.recipient == "billing@staff.example").unwrap().bytes.clone()).unwrap();
    assert!(notice.contains("Please refund.") && notice.contains("jane@example.com"));
    assert_eq!(header(&notice, "Auto-Submitted"), Some("auto-generated"));
    // A staff member's mail that did not come through their own reply address is kept as
    // an unverified note: the other staff hear of it, the customers do not.
    let own = mail(
        "all@staff.example",
        &format!("Re: [Support #{n}] Refund"),
        Some("rf3@example.com"),
        "In-Reply-To: <rf1@example.com>\n",
        "On it.",
    );
    assert_eq!(receive(&t.app, &own, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let after = t.flush_outbox().await;
    let new: Vec<&str> = after[sent.len()..].iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(new, ["billing@staff.example"]);
    assert!(t.db().await.remove_staff("billing@staff.example").await.unwrap());
    assert_eq!(t.db().await.staff_members().await.unwrap().len(), 1);
});

on_both!(a_first_emailed_request_brings_one_invitation_with_a_single_use_token, |db| {
    let mut t = TestApp::new(db).await;
    let mut config = t.app.config().as_ref().clone();
    config.portal.invite = true;
    let store = t.app.store.clone();
    t.app = std::sync::Arc::new(maildesk::App::with_store(config, store, b"test key"));
    receive(&t.app, &mail("Jane <jane@example.com>", "First", None, "", "x"), &Source::Pipe).await.unwrap();
    receive(&t.app, &mail("jane@example.com", "Second", None, "", "y"), &Source::Pipe).await.unwrap();
    let sent = t.flush_outbox().await;
    // The decoded text of each mail (bodies are quoted-printable on the wire).
    let texts: Vec<(String, String)> = sent
        .iter()
        .map(|m| {
            let parsed = mail_parser::MessageParser::default().parse(&m.bytes).unwrap();
            (String::from_utf8(m.bytes.clone()).unwrap(), parsed.body_text(0).unwrap().into_owned())
        })
        .collect();
    let invites: Vec<&(String, String)> = texts.iter().filter(|(_, text)| text.contains("signup?token=")).collect();
    assert_eq!(invites.len(), 1, "invited once");
    assert_eq!(sent.len(), 2, "one mail for each request: the first acknowledgement carries the invitation");
    assert!(invites[0].1.contains("we have received your request"), "{}", invites[0].1);
    let token: String =
        invites[0].1.split("signup?token=").nth(1).unwrap().chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    assert_eq!(token.len(), 64);
    assert_eq!(header(&invites[0].0, "Auto-Submitted"), Some("auto-replied"));
    // Only the hash is stored: the token appears nowhere in the outbox.
    assert!(t.db().await.list_outbox().await.unwrap().iter().all(|r| !r.payload.contains(&token)));
    let jane = maildesk::domain::EmailAddress::parse("jane@example.com").unwrap();
    let jane = maildesk::desk::contacts::detail(&t.app, &jane).await.unwrap().contact.id;
    use maildesk::desk::invitations::redeem;
    assert_eq!(redeem(&t.app, &token).await.unwrap(), Some(jane), "the token works, for her");
    assert_eq!(redeem(&t.app, &token).await.unwrap(), None, "once");
    assert_eq!(redeem(&t.app, "guess").await.unwrap(), None);
});

on_both!(mail_about_a_departments_ticket_comes_from_the_departments_address, |db| {
    let mut t = TestApp::new(db).await;
    let mut config = t.app.config().as_ref().clone();
    let mailbox: maildesk::config::ImapMailbox = toml::from_str(
        "name = \"billing\"\nhost = \"imap.example.com\"\nuser = \"b\"\npassword = \"p\"\ndepartment = \"billing\"\naddresses = [\"billing@helpdesk.example\"]",
    )
    .unwrap();
    config.imap = vec![mailbox];
    let store = t.app.store.clone();
    t.app = std::sync::Arc::new(maildesk::App::with_store(config, store, b"test key"));
    let origin =
        maildesk::desk::Origin { source: &Source::Imap("billing".into()), department: Some("billing"), fence: None };
    receive(&t.app, &mail("jane@example.com", "Invoice", None, "", "x"), origin).await.unwrap();
    receive(&t.app, &mail("joe@example.com", "Printer", None, "", "y"), &Source::Pipe).await.unwrap();
    let sent = t.flush_outbox().await;
    let from = |i: usize| header(&String::from_utf8(sent[i].bytes.clone()).unwrap(), "From").unwrap().to_string();
    assert!(from(0).contains("billing@helpdesk.example"), "{}", from(0));
    assert!(from(1).contains("support@helpdesk.example"), "{}", from(1));
    let first = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert!(header(&first, "Reply-To").unwrap().contains("support+"), "replies still come back signed");
});

on_both!(templates_are_overridden_from_the_configured_folder, |db| {
    // Quoting on, so that the acknowledgement's summary is filled for any sender.
    let mut t = TestApp::with(db, |c| c.outbox.quote_request = true).await;
    let dir = t.dir.path().join("templates/mail/acknowledgement");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("subject.txt"),
        "Ticket {{ ticket }} received: {{ data.subject }} [{{ tag }} #{{ ticket }}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("body.html"),
        "{% extends \"mail/layout.html\" %}{% block content %}<p>We got: {{ data.summary }}</p>{% endblock %}",
    )
    .unwrap();
    let mut config = t.app.config().as_ref().clone();
    config.outbox.templates_dir = Some(t.dir.path().join("templates"));
    let store = t.app.store.clone();
    t.app = std::sync::Arc::new(maildesk::App::with_store(config, store, b"test key"));
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Tag <b>", None, "", "<script>x</script>"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    let sent = t.flush_outbox().await;
    let raw = String::from_utf8(sent[0].bytes.clone()).unwrap();
    assert_eq!(header(&raw, "Subject"), Some(format!("Ticket {n} received: Tag <b> [Support #{n}]").as_str()));
    let parsed = mail_parser::MessageParser::default().parse(&sent[0].bytes).unwrap();
    let html = parsed.body_html(0).unwrap();
    assert!(html.contains("We got: &lt;script&gt;"), "escaped in HTML: {html}");
    assert!(html.contains("Please keep [Support"), "the built-in layout is extended: {html}");
    let text = parsed.body_text(0).unwrap();
    assert!(text.contains("we have received your request"), "the text body stays built-in: {text}");
});

on_both!(a_staff_reply_by_mail_through_the_signed_address_is_relayed_and_hides_the_staff_address, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("agent@staff.example", "Agnes", None, StaffNotify::All).await.unwrap();
    let raw = mail("jane@example.com", "Router", Some("rt1@example.com"), "", "It blinks red.");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    let sent = t.flush_outbox().await;
    let notice = sent.iter().find(|m| m.recipient == "agent@staff.example").expect("the staff notice");
    let notice = String::from_utf8(notice.bytes.clone()).unwrap();
    let signed = header(&notice, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string();
    // The staff member answers the notice from their mail client.
    let answer = format!(
        "From: Agnes <agent@staff.example>\nTo: {signed}\nSubject: Re: [Support #{n}] New: Router\nMessage-ID: <ag1@staff.example>\n\nPlease unplug it for a minute.\n\nOn Mon, Support wrote:\n> It blinks red.\n"
    );
    assert_eq!(receive(&t.app, answer.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let sent = t.flush_outbox().await;
    let relayed: Vec<String> = sent
        .iter()
        .filter(|m| m.recipient == "jane@example.com")
        .map(|m| String::from_utf8(m.bytes.clone()).unwrap())
        .collect();
    let relay = relayed.iter().find(|m| m.contains("Please unplug it")).expect("relayed to the customer");
    assert!(!relay.contains("agent@staff.example") && !relay.contains("It blinks red.\r\n>"), "{relay}");
    assert!(header(relay, "From").unwrap().contains("support@helpdesk.example"));
    // The same words with a forged staff From and no signed address stay a comment.
    let forged = "From: agent@staff.example\nTo: support@helpdesk.example\nSubject: Re: Router\nMessage-ID: <ag2@evil.example>\nIn-Reply-To: <rt1@example.com>\n\nClose it.\n".to_string();
    assert_eq!(receive(&t.app, forged.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let before = sent.len();
    assert_eq!(t.flush_outbox().await.len(), before, "nothing relayed for a forged staff From");
});

on_both!(a_customer_answer_to_a_ticket_waiting_on_them_opens_it, |db| {
    use maildesk::domain::Status;
    let t = TestApp::new(db).await;
    let Outcome::Opened(n) =
        receive(&t.app, &mail("jane@example.com", "Docs", Some("d1@example.com"), "", "x"), &Source::Pipe)
            .await
            .unwrap()
    else {
        panic!()
    };
    maildesk::desk::staff::set_status(&t.app, n, Status::WaitingOnCustomer).await.unwrap();
    let reply =
        mail("jane@example.com", &format!("Re: [Support #{n}] Docs"), Some("d2@example.com"), "", "Here they are.");
    assert_eq!(receive(&t.app, &reply, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().status, Status::Open);
});

/// The staff reply address in the Reply-To of the newest mail to `staff`.
fn staff_reply_address(sent: &[maildesk::outbound::SentMail], staff: &str) -> String {
    let notice = sent.iter().rev().find(|m| m.recipient == staff).expect("mail to the staff member");
    let raw = String::from_utf8(notice.bytes.clone()).unwrap();
    header(&raw, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string()
}

on_both!(staff_commands_apply_together_or_not_at_all_and_only_through_the_staff_address, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("ann@staff.example", "Ann", None, StaffNotify::All).await.unwrap();
    t.db().await.add_staff("bob@staff.example", "Bob", None, StaffNotify::All).await.unwrap();
    let raw = mail("jane@example.com", "Laptop", Some("l1@example.com"), "", "It will not boot.");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    let sent = t.flush_outbox().await;
    let ann = staff_reply_address(&sent, "ann@staff.example");
    let bob = staff_reply_address(&sent, "bob@staff.example");
    assert_ne!(ann, bob, "each staff member has their own reply address");
    let from_ann = |id: &str, to: &str, body: &str| {
        format!(
            "From: Ann <ann@staff.example>\nTo: {to}\nSubject: Re: Laptop\nMessage-ID: <{id}@staff.example>\n\n{body}\n"
        )
    };
    // One bad command among good ones: nothing changes, Ann is told.
    let bad = from_ann("a1", &ann, "#priority urgent\n#status resolved\n#status in-progress\n\nDone.");
    assert_eq!(receive(&t.app, bad.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Refused(n));
    let row = t.db().await.ticket(n).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.priority.as_str(), row.comment_count), ("open", "medium", 1));
    let sent = t.flush_outbox().await;
    let refusal = String::from_utf8(sent.last().unwrap().bytes.clone()).unwrap();
    assert_eq!(sent.last().unwrap().recipient, "ann@staff.example");
    assert!(refusal.contains("a resolved ticket can only become open or closed"), "{refusal}");
    // Bob's address from Ann is a forgery: a new ticket, noted, no command applied.
    let through_bob = from_ann("a2", &bob, "#priority urgent\nx");
    let Outcome::Opened(other) = receive(&t.app, through_bob.as_bytes(), &Source::Pipe).await.unwrap() else {
        panic!()
    };
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().priority, Priority::Medium);
    assert!(
        t.db().await.comments(other).await.unwrap().iter().any(|c| !c.public && c.body_text.contains("does not match"))
    );
    // Good commands through her own address apply together.
    let good = from_ann("a3", &ann, "#priority urgent\n#assign me\n#note\nChecked the BIOS.");
    assert_eq!(receive(&t.app, good.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let row = t.db().await.ticket(n).await.unwrap().unwrap();
    assert_eq!((row.priority.as_str(), row.assignee.as_deref()), ("urgent", Some("ann@staff.example")));
    let note = t.db().await.comments(n).await.unwrap().pop().unwrap();
    assert_eq!((note.public, note.body_reply.as_str()), (false, "Checked the BIOS."));
    let before = t.flush_outbox().await.len();
    assert_eq!(t.flush_outbox().await.len(), before, "a note reaches no one");
    assert!(
        !t.db()
            .await
            .list_outbox()
            .await
            .unwrap()
            .iter()
            .any(|r| r.recipient == "jane@example.com" && r.kind == "staff-reply")
    );
    // The same address after Ann left the staff: kept as an internal note, no command run.
    assert!(t.db().await.remove_staff("ann@staff.example").await.unwrap());
    let late = from_ann("a4", &ann, "#close\nbye");
    assert_eq!(receive(&t.app, late.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().status, Status::Open);
    let kept = t.db().await.comments(n).await.unwrap().pop().unwrap();
    assert!(!kept.public && kept.body_text.contains("no longer staff") && kept.body_text.contains("#close"));
});

on_both!(new_tickets_are_assigned_by_department_rules_and_assigned_only_staff_hear_only_of_theirs, |db| {
    let mut t = TestApp::new(db).await;
    let mut config = t.app.config().as_ref().clone();
    let parse = |a: &str| maildesk::domain::EmailAddress::parse(a).unwrap();
    config.departments = vec![
        maildesk::config::DepartmentConfig {
            name: "billing".into(),
            staff: vec![parse("ann@staff.example"), parse("bob@staff.example")],
            assign: maildesk::domain::Assignment::RoundRobin,
        },
        maildesk::config::DepartmentConfig {
            name: "sales".into(),
            staff: vec![parse("sam@staff.example")],
            assign: "sam@staff.example".parse().unwrap(),
        },
    ];
    let store = t.app.store.clone();
    t.app = std::sync::Arc::new(maildesk::App::with_store(config, store, b"test key"));
    // Bob wants only the tickets assigned to him.
    t.db().await.add_staff("bob@staff.example", "Bob", Some("billing"), StaffNotify::Assigned).await.unwrap();
    let billing = maildesk::desk::Origin { source: &Source::Pipe, department: Some("billing"), fence: None };
    let sales = maildesk::desk::Origin { source: &Source::Pipe, department: Some("sales"), fence: None };
    let mut assignees = Vec::new();
    for i in 0..3 {
        let raw = mail(&format!("c{i}@example.com"), &format!("Invoice {i}"), None, "", "x");
        let Outcome::Opened(n) = receive(&t.app, &raw, billing).await.unwrap() else { panic!() };
        assignees.push(t.db().await.ticket(n).await.unwrap().unwrap().assignee.unwrap());
    }
    assert_eq!(assignees, ["ann@staff.example", "bob@staff.example", "ann@staff.example"]);
    let Outcome::Opened(s) = receive(&t.app, &mail("d@example.com", "Quote", None, "", "x"), sales).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(t.db().await.ticket(s).await.unwrap().unwrap().assignee.as_deref(), Some("sam@staff.example"));
    let sent = t.flush_outbox().await;
    let subjects_to = |who: &str| -> Vec<String> {
        sent.iter()
            .filter(|m| m.recipient == who)
            .map(|m| header(&String::from_utf8(m.bytes.clone()).unwrap(), "Subject").unwrap().to_string())
            .collect()
    };
    assert_eq!(subjects_to("ann@staff.example").len(), 3, "Ann gets all of billing");
    assert_eq!(
        subjects_to("bob@staff.example"),
        [format!("[Support #{}] New: Invoice 1", s.0 - 2)],
        "Bob only his own"
    );
    assert_eq!(subjects_to("sam@staff.example").len(), 1);
    // Config staff are staff: they may be assigned, and the CLI lists them.
    let mut tx = t.store().begin().await.unwrap();
    assert!(maildesk::desk::roster::is_staff(&t.app, &mut tx, &parse("sam@staff.example")).await.unwrap());
    assert!(!maildesk::desk::roster::is_staff(&t.app, &mut tx, &parse("d@example.com")).await.unwrap());
    tx.rollback().await.unwrap();
});

on_both!(overdue_tickets_are_those_whose_customers_waited_past_their_priority_target, |db| {
    use maildesk::desk::staff::{self, Act};
    use maildesk::domain::Command;
    use maildesk::domain::Priority;
    use maildesk::store::TicketFilter;
    let t = TestApp::new(db).await;
    t.db().await.add_staff("ann@staff.example", "Ann", None, StaffNotify::All).await.unwrap();
    let ann = maildesk::domain::EmailAddress::parse("ann@staff.example").unwrap();
    let mut open = Vec::new();
    for subject in ["Urgent one", "Medium one", "Answered urgent one", "Waiting urgent one"] {
        let Outcome::Opened(n) =
            receive(&t.app, &mail("jane@example.com", subject, None, "", "x"), &Source::Pipe).await.unwrap()
        else {
            panic!()
        };
        open.push(n);
    }
    for n in [open[0], open[2], open[3]] {
        let act = Act { commands: vec![Command::Priority(Priority::Urgent)], ..Act::default() };
        staff::act(&t.app, n, &ann, &act).await.unwrap();
    }
    staff::reply(&t.app, open[2], &ann, "On it.").await.unwrap();
    let act = Act { commands: vec![Command::Status(maildesk::domain::Status::WaitingOnCustomer)], ..Act::default() };
    staff::act(&t.app, open[3], &ann, &act).await.unwrap();
    let targets = t.app.config().desk.response_hours.targets();
    let overdue_at = |at: i64| TicketFilter { overdue: Some((targets, at)), limit: 100, ..TicketFilter::default() };
    let ids = |rows: Vec<maildesk::store::TicketRow>| rows.iter().map(|r| r.id.0).collect::<Vec<_>>();
    let now = maildesk::store::now();
    assert!(t.db().await.find_tickets(&overdue_at(now)).await.unwrap().is_empty(), "nothing is late yet");
    // Two hours on, the urgent ticket (1 h) is late; the medium one (24 h), the answered one
    // and the one waiting on its customer are not.
    assert_eq!(ids(t.db().await.find_tickets(&overdue_at(now + 2 * 3600)).await.unwrap()), [open[0].0]);
    assert_eq!(ids(t.db().await.find_tickets(&overdue_at(now + 25 * 3600)).await.unwrap()), [open[1].0, open[0].0]);
    // The customer writes again on the answered one: their wait starts anew.
    let again = mail("jane@example.com", &format!("Re: [Support #{}] x", open[2]), None, "", "Still?");
    assert_eq!(receive(&t.app, &again, &Source::Pipe).await.unwrap(), Outcome::Commented(open[2]));
    assert_eq!(t.db().await.find_tickets(&overdue_at(now + 2 * 3600)).await.unwrap().len(), 2);
    // Other filters.
    let by_assignee = TicketFilter { assignee: Some(None), limit: 100, ..TicketFilter::default() };
    assert_eq!(t.db().await.find_tickets(&by_assignee).await.unwrap().len(), 4, "nobody assigned");
    let waiting = TicketFilter {
        status: Some(maildesk::domain::Status::WaitingOnCustomer),
        limit: 100,
        ..TicketFilter::default()
    };
    assert_eq!(ids(t.db().await.find_tickets(&waiting).await.unwrap()), [open[3].0]);
    let requester =
        TicketFilter { requester: Some("nobody@example.com".into()), limit: 100, ..TicketFilter::default() };
    assert!(t.db().await.find_tickets(&requester).await.unwrap().is_empty());
});

on_both!(cc_commands_apply_in_order_and_a_forwarded_staff_notice_answered_by_another_posts_nothing, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("ann@staff.example", "Ann", None, StaffNotify::All).await.unwrap();
    let raw = mail("jane@example.com", "Printer", Some("pc1@example.com"), "", "Jammed.");
    let Outcome::Opened(n) = receive(&t.app, &raw, &Source::Pipe).await.unwrap() else { panic!() };
    let sent = t.flush_outbox().await;
    let ann = staff_reply_address(&sent, "ann@staff.example");
    let notice_id = sent.iter().find(|m| m.recipient == "ann@staff.example").unwrap().message_id.clone();
    let from_ann = |id: &str, body: &str| {
        format!(
            "From: ann@staff.example\nTo: {ann}\nSubject: Re: Printer\nMessage-ID: <{id}@staff.example>\n\n{body}\n"
        )
    };
    let emails = |p: Vec<(String, Role)>| p.into_iter().map(|(e, _)| e).collect::<Vec<_>>();
    // Added then removed in one mail: off the ticket; removed then added: on it.
    let r = from_ann("c1", "#cc add tom@example.com\n#cc remove tom@example.com");
    assert_eq!(receive(&t.app, r.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(emails(t.db().await.participants(n).await.unwrap()), ["jane@example.com"]);
    let r = from_ann("c2", "#cc add tom@example.com\n#cc remove tom@example.com\n#cc add tom@example.com");
    assert_eq!(receive(&t.app, r.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert_eq!(emails(t.db().await.participants(n).await.unwrap()), ["jane@example.com", "tom@example.com"]);
    let r = from_ann("c3", "#cc remove sue@example.com");
    assert_eq!(receive(&t.app, r.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Refused(n));
    // Ann forwards the notice to Bob, who answers it: threaded by In-Reply-To, but through
    // Ann's staff address — a new ticket with a note, nothing on the original.
    let comments = t.db().await.comments(n).await.unwrap().len();
    let bob = format!(
        "From: bob@staff.example\nTo: {ann}\nSubject: Re: Printer\nMessage-ID: <b1@staff.example>\nIn-Reply-To: <{notice_id}>\n\n#note customer is difficult\n"
    );
    let Outcome::Opened(other) = receive(&t.app, bob.as_bytes(), &Source::Pipe).await.unwrap() else { panic!() };
    assert_ne!(other, n);
    assert_eq!(t.db().await.comments(n).await.unwrap().len(), comments, "nothing posted on the original");
});
