//! The rules behind the quarantine and contact commands (desk::quarantine, desk::contacts
//! and their store queries), in process, on SQLite and PostgreSQL.

mod common;

// Every test sits in this module, so that `scripts/test cli_desk` selects exactly these tests.
mod cli_desk {
    use super::common;
    use crate::on_both;

    use std::path::Path;
    use std::sync::Arc;

    use common::{TestApp, mail};
    use maildesk::App;
    use maildesk::desk::contacts::{self, ContactError, PortalAccess};
    use maildesk::desk::quarantine::{self, QuarantineError, RetryOutcome};
    use maildesk::desk::{Outcome, receive};
    use maildesk::domain::{EmailAddress, Source, StaffNotify, TicketNumber};

    /// An app on the database at `url` whose largest accepted message is `max_bytes`.
    async fn app_with_limit(dir: &Path, url: &str, max_bytes: u64) -> Arc<App> {
        let mut config = common::test_config(dir, url.to_string());
        config.limits.max_message_bytes = max_bytes;
        App::open(config).await.expect("open app")
    }

    fn big_mail(id: &str) -> Vec<u8> {
        mail("bob@example.org", "Huge log", Some(id), "", &"a line of the log file\n".repeat(300))
    }

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    /// The portal token in a sent invitation.
    fn token_of(sent: &maildesk::outbound::SentMail) -> String {
        let message = mail_parser::MessageParser::default().parse(&sent.bytes).unwrap();
        let text = message.body_text(0).unwrap().into_owned();
        let start = text.find("token=").expect("a link with a token") + "token=".len();
        text[start..].chars().take_while(char::is_ascii_hexdigit).collect()
    }

    on_both!(retry_after_raising_the_limit_opens_a_ticket_and_removes_the_entry, |db| {
        let dir = tempfile::tempdir().unwrap();
        let url = common::fresh_database_url(db, dir.path()).await;
        let strict = app_with_limit(dir.path(), &url, 2000).await;
        let raw = big_mail("big@example.org");
        let Outcome::Quarantined(_) = receive(&strict, &raw, &Source::Imap("support".into())).await.unwrap() else {
            panic!("too big")
        };
        let id = strict.store.conn().await.unwrap().list_quarantine().await.unwrap()[0].id;

        let again = quarantine::retry(&strict, id).await.unwrap();
        let RetryOutcome::Quarantined(reason) = again else { panic!("still too big: {again:?}") };
        assert!(reason.contains("exceeds limits.max_message_bytes (2000)"), "{reason}");
        let entry = strict.store.conn().await.unwrap().quarantine_entry(id).await.unwrap().expect("kept");
        assert_eq!((entry.deliveries, entry.source.to_string().as_str()), (1, "imap:support"));
        assert_eq!(strict.store.conn().await.unwrap().count_tickets().await.unwrap(), 0);

        // Raised, but not enough: the entry says so now.
        let raised = app_with_limit(dir.path(), &url, 3000).await;
        let again = quarantine::retry(&raised, id).await.unwrap();
        assert!(matches!(&again, RetryOutcome::Quarantined(r) if r.contains("(3000)")), "{again:?}");
        assert!(
            raised.store.conn().await.unwrap().quarantine_entry(id).await.unwrap().unwrap().reason.contains("(3000)")
        );

        let relaxed = app_with_limit(dir.path(), &url, 1_000_000).await;
        let done = quarantine::retry(&relaxed, id).await.unwrap();
        let RetryOutcome::Applied(Outcome::Opened(n)) = done else { panic!("a new ticket: {done:?}") };
        assert_eq!(relaxed.store.conn().await.unwrap().ticket(n).await.unwrap().unwrap().subject, "Huge log");
        assert!(relaxed.store.conn().await.unwrap().quarantine_entry(id).await.unwrap().is_none());
        assert!(relaxed.store.conn().await.unwrap().list_quarantine().await.unwrap().is_empty());
        assert!(matches!(quarantine::retry(&relaxed, id).await, Err(QuarantineError::NoEntry(i)) if i == id));
    });

    on_both!(retry_of_a_message_applied_meanwhile_removes_the_entry_without_a_second_ticket, |db| {
        let dir = tempfile::tempdir().unwrap();
        let url = common::fresh_database_url(db, dir.path()).await;
        let strict = app_with_limit(dir.path(), &url, 2000).await;
        let raw = big_mail("twice@example.org");
        receive(&strict, &raw, &Source::Pipe).await.unwrap();
        let id = strict.store.conn().await.unwrap().list_quarantine().await.unwrap()[0].id;
        // The sender's MTA delivered it again after the limit was raised: it took effect.
        let relaxed = app_with_limit(dir.path(), &url, 1_000_000).await;
        assert!(matches!(receive(&relaxed, &raw, &Source::Pipe).await.unwrap(), Outcome::Opened(_)));

        assert_eq!(quarantine::retry(&relaxed, id).await.unwrap(), RetryOutcome::Applied(Outcome::Duplicate));
        assert!(relaxed.store.conn().await.unwrap().list_quarantine().await.unwrap().is_empty());
        assert_eq!(relaxed.store.conn().await.unwrap().count_tickets().await.unwrap(), 1);
    });

    on_both!(retry_with_the_raw_message_gone_changes_nothing_and_delete_removes_one_entry, |db| {
        let t = TestApp::new(db).await;
        receive(&t.app, b"not mail", &Source::Pipe).await.unwrap();
        receive(&t.app, b"\n\n", &Source::Pipe).await.unwrap();
        let rows = t.db().await.list_quarantine().await.unwrap();
        let (keep, gone) = (rows[0].clone(), rows[1].clone());
        let blob = t.dir.path().join("blobs").join(&gone.raw_sha256[..2]).join(&gone.raw_sha256);
        std::fs::remove_file(&blob).expect("the blob is where the store keeps it");
        let err = quarantine::retry(&t.app, gone.id).await.unwrap_err();
        assert!(matches!(err, QuarantineError::MissingBlob { .. }), "{err}");
        assert_eq!(t.db().await.quarantine_entry(gone.id).await.unwrap().unwrap().deliveries, 1);

        assert!(t.db().await.delete_quarantine(gone.id).await.unwrap());
        assert!(!t.db().await.delete_quarantine(gone.id).await.unwrap());
        let left: Vec<i64> = t.db().await.list_quarantine().await.unwrap().iter().map(|q| q.id).collect();
        assert_eq!(left, vec![keep.id]);
    });

    on_both!(contacts_list_counts_tickets_as_requester_or_participant_and_filters, |db| {
        let t = TestApp::new(db).await;
        let cc = "Cc: Bob <bob@example.org>\n";
        receive(&t.app, &mail("Ann Lee <ann@acme.example>", "Jam", Some("a@acme.example"), cc, "Jam."), &Source::Pipe)
            .await
            .unwrap();
        receive(&t.app, &mail("bob@example.org", "VPN", Some("b@example.org"), "", "Down."), &Source::Pipe)
            .await
            .unwrap();
        receive(&t.app, &mail("cy_1@acme.example", "Hi", Some("c@acme.example"), "", "Hi."), &Source::Pipe)
            .await
            .unwrap();
        let store = t.store();

        let all = store.conn().await.unwrap().list_contacts(None, None).await.unwrap();
        let rows: Vec<(&str, &str, i64, Option<&str>)> =
            all.iter().map(|c| (c.email.as_str(), c.name.as_str(), c.tickets, c.organisation.as_deref())).collect();
        assert_eq!(
            rows,
            vec![
                ("ann@acme.example", "Ann Lee", 1, Some("Acme Corp")),
                ("bob@example.org", "", 2, None),
                ("cy_1@acme.example", "", 1, Some("Acme Corp")),
            ]
        );
        let emails = |rows: Vec<maildesk::store::ContactRow>| rows.into_iter().map(|c| c.email).collect::<Vec<_>>();
        assert_eq!(
            emails(store.conn().await.unwrap().list_contacts(Some("ACME corp"), None).await.unwrap()),
            ["ann@acme.example", "cy_1@acme.example"]
        );
        assert_eq!(
            emails(store.conn().await.unwrap().list_contacts(Some("Acme Corp"), Some("lee")).await.unwrap()),
            ["ann@acme.example"]
        );
        assert_eq!(
            emails(store.conn().await.unwrap().list_contacts(None, Some("Y_1")).await.unwrap()),
            ["cy_1@acme.example"]
        );
        assert!(store.conn().await.unwrap().list_contacts(None, Some("y%1")).await.unwrap().is_empty(), "% is literal");
        assert!(store.conn().await.unwrap().list_contacts(None, Some("n_l")).await.unwrap().is_empty(), "_ is literal");

        let bob = contacts::detail(&t.app, &address("bob@example.org")).await.unwrap();
        let tickets: Vec<(i64, &str)> = bob.ticket_list.iter().map(|t| (t.id.0, t.role.as_str())).collect();
        assert_eq!(tickets, vec![(2, "requester"), (1, "cc")]);
        assert_eq!((bob.portal, bob.bouncing), (PortalAccess::None, None));
        assert!(matches!(
            contacts::detail(&t.app, &address("nobody@example.org")).await,
            Err(ContactError::NoContact(_))
        ));
    });

    on_both!(invite_sends_a_new_link_each_time_until_the_contact_signs_up, |db| {
        let t = TestApp::new(db).await;
        let ann = address("ann@example.org");
        receive(&t.app, &mail("Ann <ann@example.org>", "Old", Some("old@example.org"), "", "First."), &Source::Pipe)
            .await
            .unwrap();
        let Outcome::Opened(latest) =
            receive(&t.app, &mail("ann@example.org", "New", Some("new@example.org"), "", "Second."), &Source::Pipe)
                .await
                .unwrap()
        else {
            panic!("a second ticket")
        };
        let before = t.flush_outbox().await.len();

        let first = contacts::invite(&t.app, &ann, None).await.unwrap();
        assert_eq!(first.ticket, Some(latest), "threaded under her most recent ticket");
        assert_eq!(contacts::detail(&t.app, &ann).await.unwrap().portal, PortalAccess::Queued);
        let sent = t.flush_outbox().await;
        assert_eq!(sent.len(), before + 1);
        let mail1 = sent.last().unwrap();
        assert_eq!(mail1.recipient, "ann@example.org");
        let text = String::from_utf8_lossy(&mail1.bytes);
        assert!(text.contains(&format!("[Support #{latest}] Follow your requests online")), "{text}");
        assert!(text.contains("In-Reply-To: <new@example.org>"), "{text}");
        assert!(text.contains("Hello Ann"), "{text}");
        let token1 = token_of(mail1);
        assert!(matches!(contacts::detail(&t.app, &ann).await.unwrap().portal, PortalAccess::Invited { .. }));

        // Invited again: the same invitation, a new link; the first one stops working.
        let second = contacts::invite(&t.app, &ann, None).await.unwrap();
        assert_eq!(second.invite, first.invite);
        let sent = t.flush_outbox().await;
        assert_eq!(sent.len(), before + 2);
        let token2 = token_of(sent.last().unwrap());
        assert_ne!(token1, token2);
        use maildesk::desk::invitations::redeem;
        assert_eq!(redeem(&t.app, &token1).await.unwrap(), None);
        assert!(redeem(&t.app, &token2).await.unwrap().is_some());
        assert!(matches!(contacts::detail(&t.app, &ann).await.unwrap().portal, PortalAccess::SignedUp { .. }));

        let outbox = t.db().await.list_outbox().await.unwrap().len();
        assert!(matches!(contacts::invite(&t.app, &ann, None).await, Err(ContactError::SignedUp(_))));
        assert_eq!(t.db().await.list_outbox().await.unwrap().len(), outbox, "nothing queued");
    });

    on_both!(invite_refuses_bouncing_and_staff_addresses_and_queues_nothing, |db| {
        let t = TestApp::new(db).await;
        receive(&t.app, &mail("carol@example.net", "Refund", Some("c@example.net"), "", "Please."), &Source::Pipe)
            .await
            .unwrap();
        t.db().await.mark_bouncing("carol@example.net", "550 no such user").await.unwrap();
        let agent = address("agent@helpdesk.example");
        t.db().await.add_staff("agent@helpdesk.example", "Agent", None, StaffNotify::All).await.unwrap();
        maildesk::desk::staff::reply(&t.app, TicketNumber(1), &agent, "Refunded.").await.unwrap();
        let outbox = t.db().await.list_outbox().await.unwrap().len();

        let err = contacts::invite(&t.app, &address("carol@example.net"), None).await.unwrap_err();
        assert!(matches!(&err, ContactError::Bouncing { reason, .. } if reason == "550 no such user"), "{err}");
        let err = contacts::invite(&t.app, &agent, None).await.unwrap_err();
        assert!(matches!(err, ContactError::Ours(_)), "{err}");
        let desk = t.app.config().desk.address.clone();
        assert!(matches!(contacts::invite(&t.app, &desk, None).await, Err(ContactError::Ours(_))));

        assert_eq!(t.db().await.list_outbox().await.unwrap().len(), outbox, "nothing queued");
        let carol = contacts::detail(&t.app, &address("carol@example.net")).await.unwrap();
        assert_eq!((carol.portal, carol.bouncing.as_deref()), (PortalAccess::None, Some("550 no such user")));
    });

    on_both!(invite_makes_a_contact_of_an_unknown_address_and_mails_about_no_ticket, |db| {
        let t = TestApp::new(db).await;
        let nobody = address("nobody@example.org");
        let queued = contacts::invite(&t.app, &nobody, None).await.unwrap();
        assert_eq!(queued.ticket, None);
        let detail = contacts::detail(&t.app, &nobody).await.unwrap();
        assert!(detail.ticket_list.is_empty());
        assert_eq!(detail.portal, PortalAccess::Queued);
        let sent = t.flush_outbox().await;
        let mail = sent.iter().find(|m| m.recipient == "nobody@example.org").expect("the invitation");
        let text = String::from_utf8_lossy(&mail.bytes);
        assert!(text.contains("Subject: Your access to"), "no ticket tag: {text}");
        assert!(!text.contains("In-Reply-To:"), "threads under nothing");
        assert!(text.contains("signup?token="), "{text}");
    });
}
