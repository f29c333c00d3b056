//! End-to-end through Postfix and Dovecot: customers write and read mail like people, the
//! spawned `maildesk serve` reads the support mailbox over IMAP and answers over SMTP.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{Daemon, maildesk, run, tickets, wait_until};
use common::imap::dovecot;
use common::smtp::{header, inbox, send, smtp_port};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The daemon's config: the support mailbox over IMAP, notifications over SMTP.
fn config(dir: &Path, extra: &str) -> Vec<(String, String)> {
    config_for(dir, "support", extra)
}

fn config_for(dir: &Path, mailbox: &str, extra: &str) -> Vec<(String, String)> {
    let d = dovecot();
    let path = dir.join("maildesk.toml");
    let text = format!(
        "data_dir = \"{var}\"\n[desk]\naddress = \"support@helpdesk.example\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\ninvite = false\n[outbox]\ntransport = \"smtp\"\npoll_interval_ms = 200\n{extra}\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"plain\"\n{imap}",
        var = dir.join("var").display(),
        smtp = smtp_port(),
        imap = d.mailbox_toml(mailbox, "plain", &d.ca, "addresses = [\"support@helpdesk.example\"]"),
    );
    std::fs::write(&path, text).unwrap();
    vec![("MAILDESK_CONFIG".into(), path.display().to_string())]
}

/// The kinds of the outbox rows `filter` (an SQL condition) selects, oldest first.
fn outbox(dir: &Path, filter: &str) -> Vec<String> {
    let db = format!("sqlite://{}", dir.join("var/maildesk.db").display());
    runtime().block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
            "SELECT kind FROM outbox WHERE {filter} ORDER BY id"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap()
    })
}

fn customer_mail(from: &str, subject: &str, id: &str, extra: &str, body: &str) -> Vec<u8> {
    format!("From: {from}\r\nTo: support@helpdesk.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n{extra}\r\n{body}\r\n").into_bytes()
}

#[test]
fn a_customer_conversation_by_mail_threads_both_ways_and_never_loops() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["support", "customer1", "customer2", "stranger"] {
        rt.block_on(d.reset(user));
    }
    let env = config(dir, "");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let _daemon = Daemon::start(dir, &env);

    // The customer writes to support and gets the acknowledgement with the ticket number.
    let id = format!("c1.{}@example.com", rand::random::<u32>());
    rt.block_on(send(
        "customer1@example.com",
        "support@helpdesk.example",
        &customer_mail("Carla <customer1@example.com>", "Invoice missing", &id, "", "Where is my invoice?"),
    ));
    wait_until("the acknowledgement", Duration::from_secs(30), || rt.block_on(inbox(&d, "customer1")).len() == 1);
    let n = tickets(dir, &env)[0]["id"].as_i64().unwrap();
    let ack = rt.block_on(inbox(&d, "customer1")).remove(0);
    assert_eq!(header(&ack, "Subject"), Some(format!("[Support #{n}] Invoice missing")));
    assert_eq!(header(&ack, "In-Reply-To"), Some(format!("<{id}>")));
    assert_eq!(header(&ack, "Auto-Submitted").as_deref(), Some("auto-replied"));
    let reply_to = header(&ack, "Reply-To").unwrap();
    let signed = reply_to.trim_end_matches('>').rsplit('<').next().unwrap().to_string();
    let ack_id = header(&ack, "Message-ID").unwrap();

    // The customer replies from the mail client: quoting, the subject tag and References lost.
    let reply = customer_mail(
        "Carla <customer1@example.com>",
        "Re: Invoice missing",
        &format!("r.{id}"),
        "",
        "Found it in spam, thanks!\r\n\r\nOn Mon, Support wrote:\r\n> We opened a ticket.",
    )
    .into_iter()
    .collect::<Vec<u8>>();
    let reply = String::from_utf8(reply).unwrap().replace("To: support@helpdesk.example", &format!("To: {signed}"));
    rt.block_on(send("customer1@example.com", &signed, reply.as_bytes()));
    wait_until("the reply on the same ticket", Duration::from_secs(30), || {
        tickets(dir, &env).first().and_then(|t| t["comment_count"].as_i64()) == Some(2)
    });
    assert_eq!(tickets(dir, &env).len(), 1);

    // A staff reply reaches the customer from the support address.
    let out = run(maildesk(dir).args(["staff", "add", "staff1@example.com"]).envs(env.iter().copied()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(maildesk(dir)
        .args(["ticket", "reply", &n.to_string(), "--from", "staff1@example.com", "--body", "Glad it turned up."])
        .envs(env.iter().copied()));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_until("the staff reply", Duration::from_secs(30), || rt.block_on(inbox(&d, "customer1")).len() == 2);
    let staff = rt.block_on(inbox(&d, "customer1")).remove(1);
    assert!(staff.contains("Glad it turned up.") && !staff.contains("staff1@"), "{staff}");
    assert!(header(&staff, "From").unwrap().contains("support@helpdesk.example"));

    // An out-of-office reply to the acknowledgement opens nothing and is not answered.
    let id2 = format!("c2.{}@example.com", rand::random::<u32>());
    rt.block_on(send(
        "customer2@example.com",
        "support@helpdesk.example",
        &customer_mail("customer2@example.com", "Password reset", &id2, "", "Please reset it."),
    ));
    wait_until("customer2's acknowledgement", Duration::from_secs(30), || {
        rt.block_on(inbox(&d, "customer2")).len() == 1
    });
    let ack2 = rt.block_on(inbox(&d, "customer2")).remove(0);
    let ooo = customer_mail(
        "customer2@example.com",
        &format!("Automatic reply: {}", header(&ack2, "Subject").unwrap()),
        &format!("ooo.{id2}"),
        &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: {}\r\n", header(&ack2, "Message-ID").unwrap()),
        "I am out of the office.",
    );
    rt.block_on(send("customer2@example.com", "support@helpdesk.example", &ooo));
    // A bounce for a customer address starts no loop either.
    let bounce = format!(
        "From: MAILER-DAEMON@mx.example.net\r\nTo: support@helpdesk.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b.{id2}>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; customer2@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
    );
    rt.block_on(send("mailer-daemon@example.net", "support@helpdesk.example", bounce.as_bytes()));
    // A stranger who copies the subject tag gets a ticket of their own.
    let copied = customer_mail(
        "stranger@example.com",
        &format!("Re: [Support #{n}] Invoice missing"),
        &format!("s.{id}"),
        "",
        "Let me see that invoice.",
    );
    rt.block_on(send("stranger@example.com", "support@helpdesk.example", &copied));
    wait_until("the stranger's own ticket", Duration::from_secs(30), || tickets(dir, &env).len() == 3);
    wait_until("the stranger's acknowledgement", Duration::from_secs(30), || {
        rt.block_on(inbox(&d, "stranger")).len() == 1
    });
    // Every mail sent to support (the first request, its reply, customer2's request, the
    // auto-reply, the bounce, the stranger's) is processed and moved, and every notification
    // the daemon decided on is sent: an answer to the auto-reply or the bounce would exist.
    wait_until("the six mails to support processed", Duration::from_secs(30), || {
        rt.block_on(d.count("support", "INBOX")) == 0
            && rt.block_on(d.count("support", "maildesk-done")) + rt.block_on(d.count("support", "maildesk-quarantine"))
                == 6
    });
    wait_until("the outbox sent", Duration::from_secs(30), || outbox(dir, "state = 'pending'").is_empty());
    let to_customer2 = outbox(dir, "recipient = 'customer2@example.com'");
    assert_eq!(to_customer2.len(), 1, "only the acknowledgement for customer2: {to_customer2:?}");
    let all = tickets(dir, &env);
    assert_eq!(all.len(), 3, "ticket #{n}, customer2's, the stranger's — nothing from the auto-reply or the bounce");
    let first = all.iter().find(|t| t["id"].as_i64() == Some(n)).unwrap();
    assert_eq!(first["comment_count"], 3, "the stranger did not post onto #{n} (2 customer + 1 staff)");
    assert_eq!(rt.block_on(inbox(&d, "customer2")).len(), 1, "the auto-reply and the bounce were not answered");
    assert_eq!(rt.block_on(inbox(&d, "customer1")).len(), 2);
    let _ = ack_id;
}

#[test]
fn a_permanently_refused_recipient_is_marked_bouncing() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Its own mailbox, so as not to disturb the conversation test running beside it.
    rt.block_on(d.reset("staff5"));
    let env = config_for(dir, "staff5", "");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Straight into the mailbox: the sender's address does not exist at Postfix.
    let raw = customer_mail("nosuchuser@example.com", "Hello from nowhere", "nowhere@example.com", "", "x");
    rt.block_on(d.append("staff5", "INBOX", &raw, false));
    let _daemon = Daemon::start(dir, &env);
    wait_until("the ticket", Duration::from_secs(30), || tickets(dir, &env).len() == 1);
    let db = format!("sqlite://{}", dir.join("var/maildesk.db").display());
    let marked = || {
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
            sqlx::query_scalar::<_, String>("SELECT address FROM bouncing_addresses")
                .fetch_all(&mut conn)
                .await
                .unwrap()
        })
    };
    wait_until("the 5xx recorded", Duration::from_secs(30), || marked() == ["nosuchuser@example.com"]);
}

/// Notifications leave over STARTTLS with AUTH, or over implicit TLS, certificates verified
/// against the configured CA.
#[test]
fn notifications_go_out_over_starttls_with_auth_and_over_implicit_tls() {
    let (d, rt) = (dovecot(), runtime());
    let ca = std::env::var("MAILDESK_TEST_SMTP_CA").expect("set by scripts/test");
    let smtps: u16 = std::env::var("MAILDESK_TEST_SMTPS_PORT").expect("set by scripts/test").parse().unwrap();
    for (user, smtp) in [
        (
            "customer7",
            format!(
                "host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nuser = \"support\"\npassword = \"{}\"\nca_file = \"{ca}\"\n",
                smtp_port(),
                std::env::var("MAILDESK_TEST_SMTP_PASSWORD").expect("set by scripts/test")
            ),
        ),
        ("customer8", format!("host = \"127.0.0.1\"\nport = {smtps}\ntls = \"implicit\"\nca_file = \"{ca}\"\n")),
    ] {
        rt.block_on(d.reset(user));
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let path = dir.join("maildesk.toml");
        std::fs::write(
            &path,
            format!(
                "data_dir = \"{}\"\n[desk]\naddress = \"support@helpdesk.example\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\ninvite = false\n[outbox]\ntransport = \"smtp\"\npoll_interval_ms = 200\n[smtp]\n{smtp}",
                dir.join("var").display()
            ),
        )
        .unwrap();
        let env = [("MAILDESK_CONFIG", path.to_str().unwrap())];
        // The request comes in through the pipe; the daemon only sends.
        let raw = customer_mail(
            &format!("{user}@example.com"),
            &format!("Over TLS for {user}"),
            &format!("{user}.tls@example.com"),
            "",
            "hi",
        );
        let file = dir.join("in.eml");
        std::fs::write(&file, raw).unwrap();
        let out = run(maildesk(dir).arg("ingest").arg(&file).envs(env.iter().copied()));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let daemon = Daemon::start(dir, &env);
        wait_until("the acknowledgement", Duration::from_secs(30), || rt.block_on(inbox(&d, user)).len() == 1);
        let ack = rt.block_on(inbox(&d, user)).remove(0);
        assert!(header(&ack, "Subject").unwrap().contains(&format!("Over TLS for {user}")));
        assert!(!daemon.log().contains("failed"), "{}", daemon.log());
    }
}
