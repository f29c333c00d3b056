//! Issue 11: a support address is public, and anyone can write anything to it with any
//! From. Nothing from an unauthenticated sender widens who sees a ticket, speaks for a
//! customer, silences one, or makes us send their text to a third party. In process, on
//! SQLite and PostgreSQL.

mod common;

use common::{TestApp, mail};
use maildesk::desk::{Outcome, receive};
use maildesk::domain::{EmailAddress, Role, Source, StaffNotify, Status, TicketNumber};
use maildesk::inbound::Auto;
use maildesk::outbound::SentMail;

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    head.split("\r\n").find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

fn text(m: &SentMail) -> String {
    String::from_utf8(m.bytes.clone()).unwrap()
}

/// The signed reply address in the Reply-To of the newest mail to `to`.
fn reply_address(sent: &[SentMail], to: &str) -> String {
    let last = sent.iter().rev().find(|m| m.recipient == to).expect("mail to them");
    let raw = text(last);
    header(&raw, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string()
}

async fn opened(t: &TestApp, raw: &[u8]) -> TicketNumber {
    match receive(&t.app, raw, &Source::Pipe).await.unwrap() {
        Outcome::Opened(n) => n,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

fn staff(address: &str) -> EmailAddress {
    EmailAddress::parse(address).unwrap()
}

on_both!(a_forged_from_with_a_subject_tag_adds_nobody_and_the_attacker_receives_nothing, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("agent@staff.example", "Agnes", None, StaffNotify::All).await.unwrap();
    let n = opened(&t, &mail("alice@victim.example", "Payroll data", Some("a1@victim.example"), "", "Secret.")).await;
    // The attacker forges alice's From, copies the tag (numbers are easy to guess) and
    // puts themselves in Cc.
    let forged = mail(
        "alice@victim.example",
        &format!("Re: [Support #{n}] Payroll data"),
        Some("x1@evil.test"),
        "Cc: mallory@evil.test\n",
        "Please also send everything to my colleague.",
    );
    assert_eq!(receive(&t.app, &forged, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let people = t.db().await.participants(n).await.unwrap();
    assert_eq!(people, vec![("alice@victim.example".into(), Role::Requester)], "no participant from a tag");
    maildesk::desk::staff::reply(&t.app, n, &staff("agent@staff.example"), "Here are the payroll figures.")
        .await
        .unwrap();
    let sent = t.flush_outbox().await;
    assert!(sent.iter().all(|m| !m.recipient.contains("evil.test")), "the attacker receives nothing of #{n}");
    assert!(sent.iter().any(|m| m.recipient == "alice@victim.example" && text(m).contains("payroll figures")));
});

on_both!(references_to_a_customers_message_id_let_no_stranger_speak_on_her_ticket, |db| {
    let t = TestApp::new(db).await;
    let n = opened(&t, &mail("alice@victim.example", "Contract", Some("c1@victim.example"), "", "Hi")).await;
    // Anyone she Cc'd or forwarded to knows her Message-ID.
    let stranger = mail(
        "eve@elsewhere.example",
        "Re: Contract",
        Some("e1@elsewhere.example"),
        "In-Reply-To: <c1@victim.example>\nReferences: <c1@victim.example>\nCc: mallory@evil.test\n",
        "Cancel the contract.",
    );
    let other = opened(&t, &stranger).await;
    assert_ne!(other, n);
    assert_eq!(t.db().await.comments(n).await.unwrap().len(), 1, "nothing posted on her ticket");
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1);
    let note = t.db().await.comments(other).await.unwrap().into_iter().find(|c| !c.public).expect("a linking note");
    assert!(note.body_text.contains(&format!("ticket #{n}")), "{}", note.body_text);
});

on_both!(a_participant_brings_others_only_through_a_signed_address_and_the_requester_is_told, |db| {
    let t = TestApp::new(db).await;
    let raw = mail("ann@acme.example", "Laptop", Some("l1@acme.example"), "Cc: tom@acme.example\n", "Broken");
    let n = opened(&t, &raw).await;
    let sent = t.flush_outbox().await;
    let ack = text(sent.iter().find(|m| m.recipient == "ann@acme.example").unwrap());
    assert!(ack.contains("tom@acme.example"), "the acknowledgement names who else is on the request: {ack}");
    let signed = reply_address(&sent, "ann@acme.example");
    // Tom (a participant) answers through the signed address and Cc's Carl.
    let raw = format!(
        "From: tom@acme.example\nTo: {signed}\nCc: carl@acme.example\nSubject: Re: Laptop\nMessage-ID: <l2@acme.example>\n\nCarl knows more.\n"
    );
    assert_eq!(receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let people: Vec<String> = t.db().await.participants(n).await.unwrap().into_iter().map(|p| p.0).collect();
    assert!(people.contains(&"carl@acme.example".to_string()), "{people:?}");
    let sent = t.flush_outbox().await;
    let told = sent.iter().find(|m| m.recipient == "ann@acme.example" && text(m).contains("carl@acme.example"));
    let told = text(told.expect("the requester is told that Carl was added"));
    assert!(told.contains("tom@acme.example"), "says who added them: {told}");
    // A staff #cc add tells her too.
    t.db().await.add_staff("agent@staff.example", "", None, StaffNotify::All).await.unwrap();
    let act = maildesk::desk::staff::Act {
        commands: vec![maildesk::domain::Command::CcAdd(staff("dora@acme.example"))],
        ..Default::default()
    };
    maildesk::desk::staff::act(&t.app, n, &staff("agent@staff.example"), &act).await.unwrap();
    let sent = t.flush_outbox().await;
    assert!(sent.iter().any(|m| m.recipient == "ann@acme.example" && text(m).contains("dora@acme.example")));
});

on_both!(a_forged_bounce_silences_nobody_and_a_real_one_is_cleared_when_they_write_again, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("agent@staff.example", "Agnes", None, StaffNotify::All).await.unwrap();
    let n = opened(&t, &mail("victim@customer.example", "Printer", Some("p1@customer.example"), "", "Broken")).await;
    t.flush_outbox().await;
    // Anyone can write a bounce naming anyone.
    let forged = b"From: MAILER-DAEMON@evil.test\nTo: support@helpdesk.example\nSubject: Undelivered Mail\n\nThis is the mail system.\n\n<victim@customer.example>: 550 5.1.1 User unknown\n";
    assert_eq!(receive(&t.app, forged, &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    assert!(t.db().await.bouncing_addresses().await.unwrap().is_empty(), "a bounce about no mail of ours marks nobody");
    let agent = staff("agent@staff.example");
    assert_eq!(maildesk::desk::staff::reply(&t.app, n, &agent, "First answer.").await.unwrap(), 1);
    let sent = t.flush_outbox().await;
    let ours = sent.iter().rev().find(|m| m.recipient == "victim@customer.example").unwrap().message_id.clone();
    // A real bounce of that very mail (its headers returned) does mark the address.
    let real = format!(
        "From: MAILER-DAEMON@mx.customer.example\nTo: support@helpdesk.example\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThe mailbox is gone.\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.customer.example\n\nFinal-Recipient: rfc822; victim@customer.example\nAction: failed\nStatus: 5.1.1\n--b\nContent-Type: text/rfc822-headers\n\nFrom: Support <support@helpdesk.example>\nTo: victim@customer.example\nMessage-ID: <{ours}>\n--b--\n"
    );
    assert_eq!(receive(&t.app, real.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    let detail = maildesk::desk::contacts::detail(&t.app, &staff("victim@customer.example")).await.unwrap();
    assert!(detail.bouncing.is_some(), "shown in contact show");
    // A staff reply by mail that reaches nobody says so to the staff member.
    let signed = reply_address(&sent, "agent@staff.example");
    let answer = format!(
        "From: agent@staff.example\nTo: {signed}\nSubject: Re: [Support #{n}] Printer\nMessage-ID: <ag1@staff.example>\n\nSecond answer.\n"
    );
    assert_eq!(receive(&t.app, answer.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    let sent = t.flush_outbox().await;
    let notice = sent.iter().rev().find(|m| m.recipient == "agent@staff.example").map(text).expect("told");
    assert!(notice.contains("Reached no customer") && notice.contains("victim@customer.example"), "{notice}");
    assert!(sent.iter().all(|m| !text(m).contains("Second answer.") || m.recipient != "victim@customer.example"));
    // From the CLI path the result says it too.
    let act = maildesk::desk::staff::Act { body: "Third answer.", ..Default::default() };
    let done = maildesk::desk::staff::act(&t.app, n, &agent, &act).await.unwrap();
    assert!(!done.undelivered.is_empty() && done.undelivered[0].contains("bounces"), "{:?}", done.undelivered);
    // The customer writes again: the mark is gone and staff replies reach her.
    let again = mail(
        "victim@customer.example",
        &format!("Re: [Support #{n}] Printer"),
        Some("p2@customer.example"),
        "",
        "New mailbox.",
    );
    assert_eq!(receive(&t.app, &again, &Source::Pipe).await.unwrap(), Outcome::Commented(n));
    assert!(t.db().await.bouncing_addresses().await.unwrap().is_empty());
    assert_eq!(maildesk::desk::staff::reply(&t.app, n, &agent, "Welcome back.").await.unwrap(), 1);
    // And an admin can clear a mark by hand.
    t.db().await.mark_bouncing("victim@customer.example", "test").await.unwrap();
    assert!(maildesk::desk::contacts::unbounce(&t.app, &staff("victim@customer.example")).await.unwrap());
    assert!(t.db().await.bouncing_addresses().await.unwrap().is_empty());
});

on_both!(a_participant_never_learns_the_message_ids_of_our_mail_to_another_and_cannot_bounce_her, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("agent@staff.example", "Agnes", None, StaffNotify::All).await.unwrap();
    let raw = mail("alice@victim.example", "Invoice", Some("i1@victim.example"), "Cc: mallory@evil.test\n", "Hi");
    let n = opened(&t, &raw).await;
    let agent = staff("agent@staff.example");
    maildesk::desk::staff::reply(&t.app, n, &agent, "First.").await.unwrap();
    maildesk::desk::staff::reply(&t.app, n, &agent, "Second.").await.unwrap();
    let sent = t.flush_outbox().await;
    let to_alice: Vec<&str> =
        sent.iter().filter(|m| m.recipient == "alice@victim.example").map(|m| m.message_id.as_str()).collect();
    assert_eq!(to_alice.len(), 3, "acknowledgement and two replies");
    // Everything mallory got, headers and all, names none of our mails to alice.
    for m in sent.iter().filter(|m| m.recipient == "mallory@evil.test") {
        let raw = text(m);
        assert!(to_alice.iter().all(|id| !raw.contains(id)), "{raw}");
    }
    // While alice's own client threads under all of them.
    let last = sent.iter().rev().find(|m| m.recipient == "alice@victim.example").unwrap();
    let raw = text(last).replace("\r\n ", " "); // unfolded
    let refs: Vec<&str> =
        header(&raw, "References").unwrap().split(['<', '>', ' ']).filter(|s| s.starts_with("md.")).collect();
    assert_eq!(refs.len(), 2, "{raw}");
    assert!(refs.iter().all(|id| to_alice.contains(id) && *id != last.message_id), "{raw}");
    // A bounce mallory writes with what she knows marks nobody.
    let seen: Vec<String> =
        sent.iter().filter(|m| m.recipient == "mallory@evil.test").map(|m| m.message_id.clone()).collect();
    let refs = seen.iter().map(|id| format!("<{id}>")).collect::<Vec<_>>().join(" ");
    let forged = format!(
        "From: MAILER-DAEMON@evil.test\nTo: support@helpdesk.example\nSubject: Undelivered Mail\nReferences: {refs}\n\n<alice@victim.example>: 550 5.1.1 User unknown\n\nMessage-ID: <{}>\n",
        seen[0]
    );
    assert_eq!(receive(&t.app, forged.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Automatic(Auto::Bounce));
    assert!(t.db().await.bouncing_addresses().await.unwrap().is_empty());
});

on_both!(acknowledgements_echo_no_body_unless_the_sender_is_authenticated, |db| {
    let t = TestApp::with(db, |c| c.desk.trusted_authserv_id = "mx.helpdesk.example".into()).await;
    let body = "Click https://evil.test/win to claim your prize";
    // A forged From: the acknowledgement goes to the victim, so it must not carry the text.
    opened(&t, &mail("victim@customer.example", "Your prize", None, "", body)).await;
    let sent = t.flush_outbox().await;
    assert_eq!(sent.len(), 1);
    let ack = text(&sent[0]);
    assert!(header(&ack, "Subject").unwrap().contains("Your prize"), "the subject stays");
    assert!(!ack.contains("evil.test/win"), "no body echoed: {ack}");
    // An authenticated sender gets their words back, as before.
    let pass = "Authentication-Results: mx.helpdesk.example; spf=pass smtp.mailfrom=ann@acme.example; dmarc=pass header.from=acme.example\n";
    opened(&t, &mail("Ann <ann@acme.example>", "VPN", None, pass, "The VPN drops every hour.")).await;
    let sent = t.flush_outbox().await;
    let ack = text(sent.iter().find(|m| m.recipient == "ann@acme.example").expect("ann's acknowledgement"));
    assert!(ack.contains("The VPN drops every hour.") && ack.contains("Hello Ann"), "{ack}");
    // A header the sender wrote below the receiving server's own counts for nothing, nor
    // does an unauthenticated display name come back.
    let below = "Authentication-Results: mx.helpdesk.example; dmarc=none\nReceived: from evil.test\nAuthentication-Results: mx.helpdesk.example; dmarc=pass header.from=evil.test\n";
    opened(&t, &mail("\"Call +1 555 0100 now\" <bob@evil.test>", "Hi", None, below, "Quoted?")).await;
    let sent = t.flush_outbox().await;
    let ack = text(sent.iter().find(|m| m.recipient == "bob@evil.test").expect("bob's acknowledgement"));
    assert!(!ack.contains("Quoted?") && !ack.contains("555 0100"), "{ack}");
    // DMARC failed: no automatic mail at all, and its Cc join nothing.
    let fail = "Authentication-Results: mx.helpdesk.example; dmarc=fail (p=none) header.from=customer.example\nCc: mallory@evil.test\n";
    let before = t.flush_outbox().await.len();
    let n = opened(&t, &mail("victim@customer.example", "Again", None, fail, body)).await;
    assert_eq!(t.flush_outbox().await.len(), before, "no automatic mail for a DMARC fail");
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1);
    // The admin may switch quoting on for everyone.
    let q = TestApp::with(db, |c| c.outbox.quote_request = true).await;
    opened(&q, &mail("victim@customer.example", "Quote me", None, "", "Words to quote.")).await;
    assert!(text(&q.flush_outbox().await[0]).contains("Words to quote."));
});

on_both!(spam_and_blocked_senders_are_never_answered, |db| {
    let t = TestApp::new(db).await;
    let n =
        opened(&t, &mail("someone@example.com", "Cheap pills", None, "X-Spam-Flag: YES\nCc: x@example.org\n", "Buy"))
            .await;
    assert!(t.flush_outbox().await.is_empty(), "spam is never answered");
    let comments = t.db().await.comments(n).await.unwrap();
    assert!(comments.iter().any(|c| !c.public && c.body_text.contains("spam")), "recorded for staff: {comments:?}");
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1);
    opened(&t, &mail("other@example.com", "More", None, "X-Spam-Status: Yes, score=9.1 required=5.0\n", "Buy")).await;
    assert!(t.flush_outbox().await.is_empty());
    // Blocked addresses and domains: recorded, no ticket, no answer.
    assert!(maildesk::desk::senders::block(&t.app, "pest@example.net").await.unwrap().1);
    assert!(maildesk::desk::senders::block(&t.app, "spam.example").await.unwrap().1);
    let sub = receive(&t.app, &mail("x@mx1.spam.example", "Hello", None, "", "x"), &Source::Pipe).await.unwrap();
    assert_eq!(sub, Outcome::Blocked, "a blocked domain covers its subdomains");
    assert_ne!(
        receive(&t.app, &mail("x@notspam.example", "Hello", None, "", "x"), &Source::Pipe).await.unwrap(),
        Outcome::Blocked
    );
    let sent_before = t.flush_outbox().await.len(); // the sent list is cumulative
    assert!(maildesk::desk::senders::block(&t.app, "support@helpdesk.example").await.is_err(), "never our own");
    let before = t.db().await.count_tickets().await.unwrap();
    for from in ["pest@example.net", "anyone@spam.example"] {
        let outcome = receive(&t.app, &mail(from, "Hello", None, "", "x"), &Source::Pipe).await.unwrap();
        assert_eq!(outcome, Outcome::Blocked, "{from}");
    }
    assert_eq!(t.db().await.count_tickets().await.unwrap(), before);
    assert_eq!(t.flush_outbox().await.len(), sent_before, "no answer to a blocked sender");
    assert!(maildesk::desk::senders::unblock(&t.app, "spam.example").await.unwrap().1);
    opened(&t, &mail("anyone@spam.example", "Hello again", None, "", "x")).await;
    assert_eq!(maildesk::desk::senders::list(&t.app).await.unwrap().len(), 1);
});

on_both!(an_hourly_cap_bounds_all_automatic_mail, |db| {
    let t = TestApp::with(db, |c| c.outbox.max_automatic_per_hour = 3).await;
    for i in 0..6 {
        opened(&t, &mail(&format!("victim{i}@example.com"), "Hi", None, "", "x")).await;
    }
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 6, "every request is still a ticket");
    assert_eq!(t.flush_outbox().await.len(), 3, "at most 3 automatic mails an hour, to anyone");
});

on_both!(a_staff_from_through_a_customer_path_is_kept_as_an_unverified_note, |db| {
    let t = TestApp::new(db).await;
    t.db().await.add_staff("agent@staff.example", "Agnes", None, StaffNotify::All).await.unwrap();
    let n = opened(&t, &mail("jane@example.com", "Router", Some("r1@example.com"), "", "It blinks.")).await;
    maildesk::desk::staff::set_status(&t.app, n, Status::WaitingOnCustomer).await.unwrap();
    let sent = t.flush_outbox().await;
    let customer_address = reply_address(&sent, "jane@example.com");
    // Through the customer's reply address, the tag, or a reference: anyone can write that.
    let paths = [
        format!("To: {customer_address}\nSubject: Re: Router\n"),
        format!("To: support@helpdesk.example\nSubject: Re: [Support #{n}] Router\n"),
        "To: support@helpdesk.example\nSubject: Re: Router\nIn-Reply-To: <r1@example.com>\n".to_string(),
    ];
    for (i, path) in paths.iter().enumerate() {
        let raw =
            format!("From: Agnes <agent@staff.example>\n{path}Message-ID: <imp{i}@evil.test>\n\nWe will refund you.\n");
        assert_eq!(receive(&t.app, raw.as_bytes(), &Source::Pipe).await.unwrap(), Outcome::Commented(n), "{path}");
    }
    let comments = t.db().await.comments(n).await.unwrap();
    let from_staff: Vec<_> = comments.iter().filter(|c| c.body_text.contains("We will refund you.")).collect();
    assert_eq!(from_staff.len(), 3);
    assert!(from_staff.iter().all(|c| !c.public && c.body_text.starts_with("UNVERIFIED")), "{from_staff:?}");
    assert_eq!(t.db().await.ticket(n).await.unwrap().unwrap().status, Status::WaitingOnCustomer, "nothing reopened");
    assert!(t.flush_outbox().await.len() == sent.len(), "nothing sent to anyone");
});

on_both!(a_dmarc_fail_puts_even_a_signed_reply_at_the_lowest_level, |db| {
    let t = TestApp::with(db, |c| c.desk.trusted_authserv_id = "mx.helpdesk.example".into()).await;
    let n = opened(&t, &mail("ann@acme.example", "Laptop", None, "", "Broken")).await;
    let signed = reply_address(&t.flush_outbox().await, "ann@acme.example");
    // With her From, it is known forged: it speaks for no one on the ticket, and its Cc
    // join nothing; it opens a ticket of its own, noted for staff.
    let raw = format!(
        "Authentication-Results: mx.helpdesk.example; dmarc=fail header.from=acme.example\nFrom: ann@acme.example\nTo: {signed}\nCc: mallory@evil.test\nSubject: Re: Laptop\nMessage-ID: <d1@evil.test>\n\nAdd my friend.\n"
    );
    let own = opened(&t, raw.as_bytes()).await;
    assert_ne!(own, n);
    assert_eq!(t.db().await.comments(n).await.unwrap().len(), 1, "nothing posted on her ticket");
    assert_eq!(t.db().await.participants(n).await.unwrap().len(), 1);
    assert_eq!(t.db().await.participants(own).await.unwrap().len(), 1);
    let note = t.db().await.comments(own).await.unwrap().into_iter().find(|c| !c.public).expect("a note");
    assert!(note.body_text.contains("DMARC") && note.body_text.contains(&format!("#{n}")), "{}", note.body_text);
    // From anyone else it opens a ticket of its own.
    let raw = format!(
        "Authentication-Results: mx.helpdesk.example; dmarc=fail header.from=evil.test\nFrom: mallory@evil.test\nTo: {signed}\nSubject: Re: Laptop\nMessage-ID: <d2@evil.test>\n\nHello.\n"
    );
    let other = opened(&t, raw.as_bytes()).await;
    assert_ne!(other, n);
});
