//! End-to-end: the quarantine and contact commands of the real `maildesk` binary, on the
//! embedded defaults (SQLite under ./var) in a temporary working directory, with mail
//! brought in by `maildesk ingest`.

mod common;

// Every test sits in this module, so that `scripts/test e2e_cli` selects exactly these tests.
mod e2e_cli {
    use super::common;

    use common::cli::{Daemon, json_of, maildesk, run, tickets, wait_until};

    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Output, Stdio};
    use std::time::Duration;

    use serde_json::Value;

    /// The organisation mapping of the config file written by [`with_config`].
    const CONFIG: &str = "[[organisations]]\nname = \"Acme Corp\"\ndomains = [\"acme.example\"]\n";

    /// Runs `maildesk ARGS` in `dir` with `env` set.
    fn md(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = maildesk(dir);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }

    /// Feeds `raw` to `maildesk ingest` on standard input; returns its stderr.
    fn ingest(dir: &Path, env: &[(&str, &str)], raw: &[u8]) -> String {
        let mut cmd = maildesk(dir);
        cmd.arg("ingest").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn maildesk ingest");
        child.stdin.take().unwrap().write_all(raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "ingest: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn stderr(out: &Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn stdout(out: &Output) -> String {
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn quarantine(dir: &Path) -> Vec<Value> {
        json_of(md(dir, &[], &["quarantine", "list", "--json"])).as_array().cloned().unwrap()
    }

    /// A mail of about `body_bytes` bytes.
    fn mail(from: &str, subject: &str, id: &str, extra_headers: &str, body_bytes: usize) -> Vec<u8> {
        let body = "All work and no play makes Jack a dull boy.\n".repeat(body_bytes / 44 + 1);
        format!("From: {from}\nTo: support@localhost\nSubject: {subject}\nMessage-ID: <{id}>\n{extra_headers}\n{body}")
            .into_bytes()
    }

    /// A delivery status notification saying mail to `address` failed for good.
    /// A delivery report saying that our mail `returned` (its Message-ID) to `address` failed.
    fn bounce_report(address: &str, returned: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.org\nTo: support@localhost\nSubject: Undelivered Mail Returned to Sender\n\
         Message-ID: <dsn-{address}>\nMIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
         --b\nContent-Type: text/plain\n\nDelivery failed.\n\
         --b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n\
         Final-Recipient: rfc822; {address}\nAction: failed\nStatus: 5.1.1\n\n\
         --b\nContent-Type: text/rfc822-headers\n\nTo: {address}\nMessage-ID: <{returned}>\n\n--b--\n"
        )
        .into_bytes()
    }

    fn outbox_files(dir: &Path) -> Vec<PathBuf> {
        common::files_with_suffix(&dir.join("var/outbox"), ".eml")
    }

    fn header_of(raw: &str, name: &str) -> Option<String> {
        raw.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(&format!("{name}: ")).map(String::from))
    }

    const SMALL_LIMIT: (&str, &str) = ("MAILDESK_LIMITS__MAX_MESSAGE_BYTES", "2000");

    #[test]
    fn quarantined_oversized_mail_is_shown_then_retried_into_a_ticket_once_the_limit_is_raised() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let raw =
            mail("Bob Big <bob@example.org>", "Huge log file", "big-1@example.org", "X-Note: \x1b[31mred\n", 5000);
        assert!(ingest(dir, &[SMALL_LIMIT], &raw).contains("quarantined"));
        let listed = quarantine(dir);
        assert_eq!(listed.len(), 1);
        let id = listed[0]["id"].as_i64().unwrap().to_string();

        // show: the row and the headers; escape sequences from the mail never reach the terminal.
        let shown = md(dir, &[], &["quarantine", "show", &id]);
        assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
        let text = stdout(&shown);
        assert!(text.contains("exceeds limits.max_message_bytes (2000)"), "{text}");
        assert!(
            text.contains("Source:      pipe") && text.contains(&format!("Size:        {} bytes", raw.len())),
            "{text}"
        );
        assert!(text.contains("Subject: Huge log file") && text.contains("From: Bob Big <bob@example.org>"), "{text}");
        assert!(!text.contains('\x1b') && text.contains("X-Note: \\u{1b}[31mred"), "{text}");
        assert!(!text.contains("All work and no play"), "headers only: {text}");
        let json = json_of(md(dir, &[], &["quarantine", "show", &id, "--json"]));
        assert_eq!(json["deliveries"], 1);
        assert_eq!(json["raw_available"], true);
        assert_eq!(json["headers"][2], "Subject: Huge log file");
        assert_eq!(json["header_lines"], 5);
        let whole = md(dir, &[], &["quarantine", "show", &id, "--raw"]);
        assert_eq!(whole.status.code(), Some(0));
        assert_eq!(whole.stdout, raw, "--raw prints the message byte for byte");

        // Retried under the same limit: it stays (not even read, so not counted), exit 1.
        let again = md(dir, &[SMALL_LIMIT], &["quarantine", "retry", &id]);
        assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
        assert!(stderr(&again).contains("stays quarantined: message of"), "{}", stderr(&again));
        let listed = quarantine(dir);
        assert_eq!((listed.len(), listed[0]["deliveries"].as_i64()), (1, Some(1)));
        assert!(tickets(dir, &[]).is_empty());

        // Retried under the default limit: a ticket, and the quarantine is empty.
        let retried = md(dir, &[], &["quarantine", "retry", &id]);
        assert_eq!(retried.status.code(), Some(0), "{}", stderr(&retried));
        assert!(stderr(&retried).contains("opened ticket #1; removed from the quarantine"), "{}", stderr(&retried));
        let list = tickets(dir, &[]);
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0]["subject"].as_str(), list[0]["requester_email"].as_str()),
            (Some("Huge log file"), Some("bob@example.org"))
        );
        assert!(quarantine(dir).is_empty());

        // The entry is gone: show, retry and delete say so; delivering the mail again is a duplicate.
        for args in [["quarantine", "show", &id], ["quarantine", "retry", &id], ["quarantine", "delete", &id]] {
            let out = md(dir, &[], &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(stderr(&out).contains(&format!("no quarantine entry {id}")), "{args:?}: {}", stderr(&out));
        }
        assert!(ingest(dir, &[], &raw).contains("already applied"));
        assert_eq!(tickets(dir, &[]).len(), 1);
    }

    #[test]
    fn automatic_mail_without_a_sender_is_recorded_and_a_persons_is_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        // The classic bounce: From the null sender, no address anywhere.
        let bounce = b"Return-Path: <>\nFrom: MAILER-DAEMON <>\nTo: support@helpdesk.example\n\
            Subject: Undelivered Mail Returned to Sender\nMessage-ID: <b1@mx.example.org>\n\n\
            This is the mail system at host mx.example.org.\n\n<gone@example.org>: user unknown\n";
        assert!(
            ingest(dir, &[], bounce).contains("recorded automatic mail (bounce)"),
            "the bounce is recorded as automatic"
        );
        // A daemon's name without a domain, as Sendmail writes it.
        let daemon = b"From: Mail Delivery Subsystem <MAILER-DAEMON>\nTo: support@helpdesk.example\n\
            Subject: Returned mail: see transcript for details\nMessage-ID: <b2@mx.example.org>\n\n\
            ----- The following addresses had permanent fatal errors -----\n<gone@example.org>\n";
        assert!(ingest(dir, &[], daemon).contains("recorded automatic mail (bounce)"));
        // A person's mail naming no address in From, Sender, Reply-To or Return-Path: nobody
        // to answer, so it waits in the quarantine with that reason.
        let person = b"From: Jane Doe <jane>\nTo: support@helpdesk.example\nSubject: Printer\n\
            Message-ID: <p1@example.org>\n\nThe printer is broken.\n";
        let said = ingest(dir, &[], person);
        assert!(said.contains("quarantined: no usable sender address (From, Sender, Reply-To, Return-Path)"), "{said}");
        let listed = quarantine(dir);
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(listed[0]["reason"].as_str().unwrap().contains("no usable sender address"), "{listed:?}");
        assert!(tickets(dir, &[]).is_empty(), "no ticket for any of them");
    }

    #[test]
    fn garbage_retried_stays_quarantined_and_delete_removes_only_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        assert!(ingest(dir, &[], b"this is not mail at all").contains("quarantined: not an email message"));
        assert!(ingest(dir, &[], b"\n\n").contains("quarantined: empty message"));
        let listed = quarantine(dir);
        assert_eq!(listed.len(), 2);
        let (empty, garbage) = (listed[0]["id"].as_i64().unwrap(), listed[1]["id"].as_i64().unwrap());

        let out = md(dir, &[], &["quarantine", "retry", &garbage.to_string()]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("stays quarantined: not an email message"), "{}", stderr(&out));
        let entry = json_of(md(dir, &[], &["quarantine", "show", &garbage.to_string(), "--json"]));
        assert_eq!(entry["deliveries"], 2);
        assert!(tickets(dir, &[]).is_empty());

        let out = md(dir, &[], &["quarantine", "delete", &garbage.to_string()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("stays in the blob store"));
        let left: Vec<i64> = quarantine(dir).iter().map(|q| q["id"].as_i64().unwrap()).collect();
        assert_eq!(left, vec![empty]);

        let unknown = md(dir, &[], &["quarantine", "delete", "999"]);
        assert_eq!(unknown.status.code(), Some(1));
        assert!(stderr(&unknown).contains("no quarantine entry 999"));
        assert_eq!(quarantine(dir).len(), 1, "a failed delete changes nothing");
        assert_eq!(md(dir, &[], &["quarantine", "show", "abc"]).status.code(), Some(2));
    }

    #[test]
    fn contact_list_and_show_count_tickets_with_organisations_filters_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("maildesk.toml"), CONFIG).unwrap();
        let env = [("MAILDESK_CONFIG", "maildesk.toml")];
        ingest(
            dir,
            &env,
            &mail("Ann Lee <ann@acme.example>", "Printer jam", "a1@acme.example", "Cc: bob@example.org\n", 100),
        );
        ingest(dir, &env, &mail("bob@example.org", "VPN down", "b1@example.org", "", 100));
        ingest(dir, &env, &mail("Cy <cy_1@acme.example>", "Hello", "c1@acme.example", "", 100));

        let all = json_of(md(dir, &env, &["contact", "list", "--json"]));
        let rows: Vec<(&str, i64, Option<&str>)> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["email"].as_str().unwrap(), c["tickets"].as_i64().unwrap(), c["organisation"].as_str()))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("ann@acme.example", 1, Some("Acme Corp")),
                ("bob@example.org", 2, None),
                ("cy_1@acme.example", 1, Some("Acme Corp"))
            ]
        );
        let emails = |args: &[&str]| -> Vec<String> {
            let out = json_of(md(dir, &env, &[&["contact", "list", "--json"], args].concat()));
            out.as_array().unwrap().iter().map(|c| c["email"].as_str().unwrap().to_string()).collect()
        };
        assert_eq!(emails(&["--organisation", "acme corp"]), ["ann@acme.example", "cy_1@acme.example"]);
        assert_eq!(emails(&["--search", "LEE"]), ["ann@acme.example"], "names match too, in any case");
        assert_eq!(emails(&["--search", "_1"]), ["cy_1@acme.example"], "_ is no wildcard");
        assert!(emails(&["--search", "%"]).is_empty(), "% is no wildcard");
        assert!(emails(&["--organisation", "Nobody Inc"]).is_empty());

        let human = stdout(&md(dir, &env, &["contact", "list"]));
        assert!(human.lines().any(|l| l.starts_with("bob@example.org") && l.contains(" 2 ")), "{human}");

        let bob = json_of(md(dir, &env, &["contact", "show", "Bob@Example.org", "--json"]));
        assert_eq!(bob["email"], "bob@example.org");
        let tickets: Vec<(i64, &str, &str)> = bob["ticket_list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["id"].as_i64().unwrap(), t["role"].as_str().unwrap(), t["subject"].as_str().unwrap()))
            .collect();
        assert_eq!(tickets, vec![(2, "requester", "VPN down"), (1, "cc", "Printer jam")]);
        assert_eq!(bob["portal"]["state"], "queued", "the first mail queued an invitation");
        assert_eq!(bob["bouncing"], Value::Null);
        let shown = stdout(&md(dir, &env, &["contact", "show", "ann@acme.example"]));
        assert!(
            shown.contains("Contact: ann@acme.example (Ann Lee)") && shown.contains("Organisation: Acme Corp"),
            "{shown}"
        );
        assert!(shown.contains("#1") && shown.contains("open") && shown.contains("Printer jam"), "{shown}");
        assert!(shown.contains("Bouncing: no"), "{shown}");

        let unknown = md(dir, &env, &["contact", "show", "nobody@example.org"]);
        assert_eq!(unknown.status.code(), Some(1));
        assert!(stderr(&unknown).contains("no contact nobody@example.org"));

        // A primary contact of Acme; Bob, of no organisation, cannot be one.
        let primary = md(dir, &env, &["contact", "role", "ann@acme.example", "primary"]);
        assert_eq!(primary.status.code(), Some(0), "{}", stderr(&primary));
        assert_eq!(json_of(md(dir, &env, &["contact", "show", "ann@acme.example", "--json"]))["is_primary"], true);
        let orphan = md(dir, &env, &["contact", "role", "bob@example.org", "primary"]);
        assert_eq!(orphan.status.code(), Some(1));
        assert!(stderr(&orphan).contains("bob@example.org belongs to no organisation"), "{}", stderr(&orphan));
        md(dir, &env, &["contact", "role", "ann@acme.example", "standard"]);
        assert_eq!(json_of(md(dir, &env, &["contact", "show", "ann@acme.example", "--json"]))["is_primary"], false);
        assert_eq!(md(dir, &env, &["contact", "show", "not an address"]).status.code(), Some(2));
    }

    #[test]
    fn contact_invite_queues_an_invitation_the_daemon_sends_and_refuses_what_it_must() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        // No automatic invitations, no portal listener (other tests may hold its port).
        let env = [("MAILDESK_PORTAL__INVITE", "false"), ("MAILDESK_PORTAL__ENABLED", "false")];
        ingest(dir, &env, &mail("Ann Lee <ann@example.org>", "Printer jam", "a1@example.org", "", 100));
        ingest(dir, &env, &mail("carol@example.net", "Refund", "c1@example.net", "", 100));
        let ann = json_of(md(dir, &env, &["contact", "show", "ann@example.org", "--json"]));
        assert_eq!(ann["portal"]["state"], "not-invited");

        let out = md(dir, &env, &["contact", "invite", "ann@example.org"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("queued (threaded under ticket #1)"), "{}", stderr(&out));
        assert_eq!(
            json_of(md(dir, &env, &["contact", "show", "ann@example.org", "--json"]))["portal"]["state"],
            "queued"
        );

        let is_invite = |f: &PathBuf| std::fs::read_to_string(f).unwrap().contains("Follow your requests online");
        let invites = || outbox_files(dir).into_iter().filter(is_invite).collect::<Vec<_>>();
        {
            let _daemon = Daemon::start(dir, &env);
            wait_until("the invitation", Duration::from_secs(20), || invites().len() == 1);
        }
        let invite = std::fs::read_to_string(&invites()[0]).unwrap();
        assert_eq!(header_of(&invite, "To").as_deref(), Some("ann@example.org"));
        assert!(header_of(&invite, "Subject").unwrap().starts_with("[Support #1] "), "{invite}");
        assert_eq!(header_of(&invite, "In-Reply-To").as_deref(), Some("<a1@example.org>"), "threaded on her ticket");
        assert!(invite.contains("signup?token="), "{invite}");
        let ann = json_of(md(dir, &env, &["contact", "show", "ann@example.org", "--json"]));
        assert_eq!(ann["portal"]["state"], "invited");
        assert!(
            stdout(&md(dir, &env, &["contact", "show", "ann@example.org"]))
                .contains("Portal: invited; the link works until")
        );

        // Invited before: a second invitation is queued anyway, with a fresh link to come.
        let out = md(dir, &env, &["contact", "invite", "ann@example.org"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            json_of(md(dir, &env, &["contact", "show", "ann@example.org", "--json"]))["portal"]["state"],
            "queued"
        );

        // Refusals: exit 1, a clear message, nothing queued.
        // A bounce of our mail to her (one about no mail of ours would mark nobody).
        let to_carol = outbox_files(dir)
            .into_iter()
            .find(|f| std::fs::read_to_string(f).unwrap().contains("To: carol@example.net"))
            .expect("our mail to carol");
        let returned = to_carol.file_stem().unwrap().to_string_lossy().trim_matches(['<', '>']).to_string();
        ingest(dir, &env, &bounce_report("carol@example.net", &returned));
        let out = md(dir, &env, &["staff", "add", "agent@helpdesk.example"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = md(dir, &env, &["ticket", "reply", "1", "--from", "agent@helpdesk.example", "--body", "Fixed."]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        for (address, message) in [
            ("carol@example.net", "carol@example.net bounces (bounce report, status 5.1.1)"),
            ("agent@helpdesk.example", "agent@helpdesk.example is the desk's or a staff member's address"),
        ] {
            let out = md(dir, &env, &["contact", "invite", address]);
            assert_eq!(out.status.code(), Some(1), "{address}");
            assert!(stderr(&out).contains(message), "{address}: {}", stderr(&out));
        }
        let carol = json_of(md(dir, &env, &["contact", "show", "carol@example.net", "--json"]));
        assert_eq!(carol["portal"]["state"], "not-invited");
        assert_eq!(carol["bouncing"], "bounce report, status 5.1.1");
        assert_eq!(md(dir, &env, &["contact", "invite", "bad"]).status.code(), Some(2));
        // Anyone else is invited, a new contact if unknown: the mail is about no ticket.
        let out = md(dir, &env, &["contact", "invite", "nobody@example.org"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("about no ticket"), "{}", stderr(&out));
        let nobody = json_of(md(dir, &env, &["contact", "show", "nobody@example.org", "--json"]));
        assert_eq!(nobody["portal"]["state"], "queued");
    }

    /// Writes ticket #1 with `subject` and one comment `body` straight into the store of
    /// the embedded defaults under `dir` (mail cannot carry control characters into a
    /// subject: parsing turns them into spaces; other paths may).
    fn ticket_with(dir: &Path, subject: &str, body: &str) {
        use maildesk::domain::{EmailAddress, Priority, Role, Status};
        use maildesk::store::{NewComment, NewTicket, Store, StoreOptions};
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let store = Store::open(&StoreOptions {
                url: format!("sqlite://{}", dir.join("var/maildesk.db").display()),
                max_connections: 1,
                busy_timeout: Duration::from_secs(5),
                blob_dir: dir.join("var/blobs"),
            })
            .await
            .unwrap();
            let mut tx = store.begin().await.unwrap();
            let jane = EmailAddress::parse("jane@example.org").unwrap();
            let contact = tx.upsert_contact(&jane, "Jane", None).await.unwrap();
            let ticket = NewTicket {
                subject,
                requester_id: contact,
                organisation_id: None,
                status: Status::Open,
                priority: Priority::Medium,
                department: None,
                assignee: None,
            };
            let t = tx.insert_ticket(&ticket).await.unwrap();
            tx.add_participant(t, contact, Role::Requester).await.unwrap();
            let comment = NewComment {
                ticket: t,
                author_id: Some(contact),
                public: true,
                from_staff: false,
                body_text: body,
                body_reply: body,
                body_html: None,
                message_id: Some("esc@example.org"),
            };
            tx.insert_comment(&comment).await.unwrap();
            tx.commit().await.unwrap();
            store.close().await;
        });
    }

    #[test]
    fn control_characters_in_a_ticket_are_shown_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        ticket_with(dir, "Printer \x1b[2Jon fire\x07", "First line\n\x1b[2JCleared?\x07\n\tindented");
        let shown = md(dir, &[], &["ticket", "show", "1"]);
        assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
        let shown = stdout(&shown);
        assert!(shown.contains("Ticket #1: Printer \\u{1b}[2Jon fire\\u{7}\n"), "{shown}");
        assert!(shown.contains("First line\n\\u{1b}[2JCleared?\\u{7}\n\tindented\n"), "{shown}");
        let listed = stdout(&md(dir, &[], &["ticket", "list"]));
        assert!(listed.contains("Printer \\u{1b}[2Jon fire\\u{7}"), "{listed}");
        for out in [&shown, &listed] {
            assert!(!out.contains(['\x1b', '\x07']), "no raw control character reaches the terminal: {out:?}");
        }
        // JSON keeps the text exact (serde escapes it).
        let json = json_of(md(dir, &[], &["ticket", "show", "1", "--json"]));
        assert_eq!(json["subject"], "Printer \x1b[2Jon fire\x07");
    }

    #[test]
    fn sender_block_keeps_a_sender_out_and_contact_unbounce_clears_a_mark() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        for (args, code) in [
            (&["sender", "block", "pest@example.net"][..], 0),
            (&["sender", "block", "Spam.Example"][..], 0),
            (&["sender", "block", "support@localhost"][..], 2),
            (&["sender", "block", "not a domain"][..], 2),
            (&["sender", "unblock", "nobody.example"][..], 1),
        ] {
            let out = md(dir, &[], args);
            assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        }
        let listed = json_of(md(dir, &[], &["sender", "list", "--json"]));
        let patterns: Vec<&str> = listed.as_array().unwrap().iter().map(|r| r["pattern"].as_str().unwrap()).collect();
        assert_eq!(patterns, ["@spam.example", "pest@example.net"]);
        let said = ingest(dir, &[], &mail("x@mx.spam.example", "Win", "w1@spam.example", "", 100));
        assert!(said.contains("blocked sender"), "{said}");
        assert!(tickets(dir, &[]).is_empty(), "no ticket from a blocked sender");
        assert_eq!(md(dir, &[], &["sender", "unblock", "spam.example"]).status.code(), Some(0));
        ingest(dir, &[], &mail("x@mx.spam.example", "Win", "w2@spam.example", "", 100));
        assert_eq!(tickets(dir, &[]).len(), 1);
        // A mark set by a bounce of our mail is shown and can be cleared by hand.
        let to_x = || {
            outbox_files(dir)
                .into_iter()
                .find(|f| std::fs::read_to_string(f).unwrap().contains("To: x@mx.spam.example"))
        };
        {
            let _daemon = Daemon::start(dir, &[]);
            wait_until("our acknowledgement", Duration::from_secs(20), || to_x().is_some());
        }
        let to_x = to_x().expect("our acknowledgement");
        let returned = to_x.file_stem().unwrap().to_string_lossy().trim_matches(['<', '>']).to_string();
        ingest(dir, &[], &bounce_report("x@mx.spam.example", &returned));
        let shown = stdout(&md(dir, &[], &["contact", "show", "x@mx.spam.example"]));
        assert!(shown.contains("Bouncing: yes (bounce report, status 5.1.1)"), "{shown}");
        let out = md(dir, &[], &["contact", "unbounce", "x@mx.spam.example"]);
        assert!(out.status.success() && stderr(&out).contains("no longer marked"), "{}", stderr(&out));
        let shown = stdout(&md(dir, &[], &["contact", "show", "x@mx.spam.example"]));
        assert!(shown.contains("Bouncing: no"), "{shown}");
    }

    /// Runs `maildesk ingest` of a small mail with `env` and `args`; returns the exit code,
    /// stderr and how long it took.
    fn ingest_status(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, Duration) {
        let mut cmd = maildesk(dir);
        cmd.args(args).arg("ingest").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().expect("spawn maildesk ingest");
        let raw = mail("ann@example.org", "Hello", "setup@example.org", "", 100);
        let _ = child.stdin.take().unwrap().write_all(&raw);
        let out = child.wait_with_output().unwrap();
        (out.status.code(), stderr(&out), started.elapsed())
    }

    #[test]
    fn ingest_asks_the_mta_to_retry_on_a_bad_config_while_serve_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let short = [("MAILDESK_DESK__SECRET", "too short")];
        let (code, err, _) = ingest_status(dir, &short, &[]);
        assert_eq!(code, Some(75), "{err}");
        assert!(err.contains("desk.secret: is 9 bytes; it must be at least 32"), "{err}");
        assert!(!err.contains("too short"), "the secret is never printed: {err}");
        let serve = md(dir, &short, &["serve"]);
        assert_eq!(serve.status.code(), Some(2), "{}", stderr(&serve));
        assert_eq!(md(dir, &short, &["ticket", "list"]).status.code(), Some(2));
        assert!(tickets(dir, &[]).is_empty(), "nothing was taken in");

        // An SMTP password file that serve would refuse: ingest refuses to take mail in.
        let config = dir.join("smtp.toml");
        let missing = dir.join("no-such-password");
        std::fs::write(
            &config,
            format!(
                "[outbox]\ntransport = \"smtp\"\n[smtp]\nhost = \"localhost\"\nuser = \"desk\"\npassword_file = \"{}\"\n",
                missing.display()
            ),
        )
        .unwrap();
        let (code, err, _) = ingest_status(dir, &[], &["--config", config.to_str().unwrap()]);
        assert_eq!(code, Some(75), "{err}");
        assert!(err.contains(&format!("smtp.password_file: cannot read {}", missing.display())), "{err}");
        assert!(tickets(dir, &[]).is_empty(), "nothing was taken in");
    }

    #[test]
    fn ingest_exits_75_naming_the_path_when_the_data_directory_or_database_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::write(dir.join("file"), "").unwrap();
        let data = dir.join("file/var");
        let env = [("MAILDESK_DATA_DIR", data.to_str().unwrap())];
        let (code, err, _) = ingest_status(dir, &env, &[]);
        assert_eq!(code, Some(75), "{err}");
        assert!(err.contains(&format!("cannot create the data directory {}", data.display())), "{err}");
        let serve = md(dir, &env, &["serve"]);
        assert_eq!(serve.status.code(), Some(1), "{}", stderr(&serve));

        // A database opened read-only: the write fails, the mail stays with the MTA.
        assert_eq!(ingest_status(dir, &[], &[]).0, Some(0));
        let read_only = format!("sqlite://{}?mode=ro", dir.join("var/maildesk.db").display());
        let raw = mail("bob@example.org", "Another", "ro@example.org", "", 100);
        let mut cmd = maildesk(dir);
        cmd.args(["ingest"]).env("MAILDESK_DATABASE__URL", &read_only).stdin(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(&raw).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
        assert!(stderr(&out).contains("readonly"), "{}", stderr(&out));
        assert_eq!(tickets(dir, &[]).len(), 1, "only the first mail");
        assert!(quarantine(dir).is_empty(), "not quarantined: the admin can fix this");
    }

    #[test]
    fn an_unreachable_postgresql_is_named_with_host_port_and_cause_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("postgres://desk:s3cret@127.0.0.1:{port}/maildesk");
        let env = [("MAILDESK_DATABASE__URL", url.as_str())];
        let (code, err, took) = ingest_status(dir, &env, &[]);
        assert_eq!(code, Some(75), "{err}");
        let expected = format!("cannot connect to the database at 127.0.0.1:{port}: connection refused");
        assert!(err.contains(&expected), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        // Not the pool's 10 s of retries: a refused connection is reported within seconds.
        assert!(took < Duration::from_secs(8), "{took:?}");
        let listed = md(dir, &env, &["ticket", "list"]);
        assert_eq!(listed.status.code(), Some(1));
        assert!(stderr(&listed).contains(&expected), "{}", stderr(&listed));
    }
}
