//! End-to-end through Postfix and Dovecot: staff answer and steer tickets from their mail
//! client with `#commands`, customers only ever see the support address, and tickets
//! reopen, close themselves and are followed up as time goes by. The spawned
//! `maildesk serve` reads the support mailbox over IMAP and answers over SMTP.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{Daemon, json_of, maildesk, run, wait_until};
use common::imap::dovecot;
use common::smtp::{header, inbox, send, smtp_port};
use mail_parser::MimeHeaders;
use serde_json::Value;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The daemon's config: the desk is `<desk>@helpdesk.example`, read over IMAP from the
/// Dovecot user `desk`, answering over SMTP.
fn config(dir: &Path, desk: &str) -> Vec<(String, String)> {
    let d = dovecot();
    let path = dir.join("maildesk.toml");
    let address = format!("{desk}@helpdesk.example");
    let text = format!(
        "data_dir = \"{var}\"\n[desk]\naddress = \"{address}\"\n[maildir]\nenabled = false\n[portal]\nenabled = false\ninvite = false\n[outbox]\ntransport = \"smtp\"\npoll_interval_ms = 200\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\ntls = \"plain\"\n{imap}",
        var = dir.join("var").display(),
        smtp = smtp_port(),
        imap = d.mailbox_toml(desk, "plain", &d.ca, &format!("addresses = [\"{address}\"]")),
    );
    std::fs::write(&path, text).unwrap();
    vec![("MAILDESK_CONFIG".into(), path.display().to_string())]
}

/// The address in a `Reply-To: Name <address>` header.
fn reply_to(raw: &str) -> String {
    header(raw, "Reply-To").unwrap().trim_end_matches('>').rsplit('<').next().unwrap().to_string()
}

/// A plain mail as a person's client writes it.
fn plain(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{:016x}@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        rand::random::<u64>(),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

struct Desk<'a> {
    dir: &'a Path,
    env: Vec<(&'a str, &'a str)>,
}

impl Desk<'_> {
    fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = run(maildesk(self.dir).args(args).envs(self.env.iter().copied()));
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn ticket(&self, n: i64) -> Value {
        json_of(self.cli(&["ticket", "show", &n.to_string(), "--json"]))
    }

    fn tickets(&self) -> Vec<Value> {
        json_of(self.cli(&["ticket", "list", "--json"])).as_array().cloned().unwrap()
    }
}

/// Waits until `user` has `n` mails and returns the newest.
fn nth_mail(rt: &tokio::runtime::Runtime, user: &str, n: usize) -> String {
    let d = dovecot();
    wait_until(&format!("mail number {n} for {user}"), Duration::from_secs(30), || {
        rt.block_on(inbox(&d, user)).len() >= n
    });
    let all = rt.block_on(inbox(&d, user));
    assert_eq!(all.len(), n, "{user} got more mail than expected: {all:#?}");
    all.into_iter().last().unwrap()
}

#[test]
fn staff_answer_and_steer_tickets_by_mail_and_customers_never_see_their_address() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["box50", "customer10", "customer11", "staff1", "staff2"] {
        rt.block_on(d.reset(user));
    }
    let env = config(dir, "box50");
    let desk = Desk { dir, env: env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect() };
    desk.cli(&["staff", "add", "staff1@example.com", "--name", "Sam Staff"]);
    desk.cli(&["staff", "add", "staff2@example.com", "--name", "Tess", "--notify", "assigned"]);
    let mut daemon = Daemon::start(dir, &desk.env);
    let support = "box50@helpdesk.example";

    // A customer writes; staff1 (all notifications) hears of it, staff2 (only assigned) not.
    let request = plain("Carla <customer10@example.com>", support, "Printer on fire", "Smoke everywhere.");
    rt.block_on(send("customer10@example.com", support, &request));
    let notice = nth_mail(&rt, "staff1", 1);
    nth_mail(&rt, "customer10", 1);
    let n = desk.tickets()[0]["id"].as_i64().unwrap();
    assert_eq!(header(&notice, "Subject"), Some(format!("[Support #{n}] New: Printer on fire")));
    let staff1_address = reply_to(&notice);
    assert!(staff1_address.starts_with(&format!("box50+{n}-s")), "a staff reply address: {staff1_address}");

    // staff1 answers the notice with an attachment: relayed from the support address with
    // their name, the file along, their address nowhere.
    let answer = format!(
        "From: Sam <staff1@example.com>\r\nTo: {staff1_address}\r\nSubject: Re: [Support #{n}] New: Printer on fire\r\nMessage-ID: <s1.{:x}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nPlease unplug it and follow the steps attached.\r\n\r\nOn Mon, Support wrote:\r\n> Smoke everywhere.\r\n--b1\r\nContent-Type: text/plain; name=\"steps.txt\"\r\nContent-Disposition: attachment; filename=\"steps.txt\"\r\n\r\n1. Unplug. 2. Wait.\r\n--b1--\r\n",
        rand::random::<u64>()
    );
    rt.block_on(send("staff1@example.com", &staff1_address, answer.as_bytes()));
    let relay = nth_mail(&rt, "customer10", 2);
    let parsed = mail_parser::MessageParser::default().parse(relay.as_bytes()).unwrap();
    let from = parsed.from().and_then(|f| f.first()).unwrap();
    assert_eq!((from.name(), from.address()), (Some("Sam Staff (Support)"), Some(support)));
    assert!(relay.contains("Please unplug it") && relay.contains("steps.txt"), "{relay}");
    let file = parsed.attachments().find(|a| a.attachment_name() == Some("steps.txt")).expect("the attachment");
    assert_eq!(file.contents(), b"1. Unplug. 2. Wait.");
    let customer_address = reply_to(&relay);
    assert!(!customer_address.contains("-s"), "customers get the customer reply address: {customer_address}");

    // Commands and a reply together: status, priority, assignment.
    let steer = plain(
        "staff1@example.com",
        &staff1_address,
        "Re: x",
        "#status waiting on customer\n#priority high\n#assign staff2@example.com\n\nCould you send a photo?",
    );
    rt.block_on(send("staff1@example.com", &staff1_address, &steer));
    let relay = nth_mail(&rt, "customer10", 3);
    assert!(relay.contains("Could you send a photo?") && relay.contains("now waiting on customer"), "{relay}");
    assert!(!relay.contains("#status"), "commands never reach customers: {relay}");
    let assigned = nth_mail(&rt, "staff2", 1);
    assert_eq!(header(&assigned, "Subject"), Some(format!("[Support #{n}] Assigned to you: Printer on fire")));
    let t = desk.ticket(n);
    assert_eq!((t["status"].as_str(), t["priority"].as_str()), (Some("waiting-on-customer"), Some("high")));
    assert_eq!(t["assignee"], "staff2@example.com");

    // The customer answers: the ticket is open again, staff1 and the assignee hear of it.
    let answer = plain("customer10@example.com", &customer_address, "Re: Printer on fire", "Photo attached.");
    rt.block_on(send("customer10@example.com", &customer_address, &answer));
    nth_mail(&rt, "staff1", 2);
    let to_assignee = nth_mail(&rt, "staff2", 2);
    assert!(to_assignee.contains("Photo attached."));
    assert_eq!(desk.ticket(n)["status"], "open");
    let staff2_address = reply_to(&to_assignee);

    // An internal note: kept, never mailed to the customer.
    let note = plain("staff2@example.com", &staff2_address, "Re: x", "#note\nCustomer is a VIP, be quick.");
    rt.block_on(send("staff2@example.com", &staff2_address, &note));
    wait_until("the note", Duration::from_secs(30), || desk.ticket(n)["comments"].as_array().unwrap().len() == 5);
    let comments = desk.ticket(n)["comments"].as_array().unwrap().clone();
    let last = comments.last().unwrap();
    assert_eq!(
        (last["public"].as_bool(), last["body_reply"].as_str()),
        (Some(false), Some("Customer is a VIP, be quick."))
    );

    // #cc add: the colleague becomes a participant and gets the reply; #cc remove takes
    // them off again.
    let cc = plain(
        "staff1@example.com",
        &staff1_address,
        "Re: x",
        "#cc add customer11@example.com\nI added your colleague.",
    );
    rt.block_on(send("staff1@example.com", &staff1_address, &cc));
    let to_colleague = nth_mail(&rt, "customer11", 1);
    assert!(to_colleague.contains("I added your colleague.") && !to_colleague.contains("staff1@"));
    // The requester is told that someone was added, then gets the reply.
    let told = nth_mail(&rt, "customer10", 5);
    assert!(told.contains("I added your colleague."), "{told}");
    let inbox10 = rt.block_on(inbox(&d, "customer10"));
    assert!(inbox10[3].contains("Added to your request") && inbox10[3].contains("customer11@example.com"));
    let emails = |t: &Value| -> Vec<String> {
        t["participants"].as_array().unwrap().iter().map(|p| p["email"].as_str().unwrap().to_string()).collect()
    };
    assert!(emails(&desk.ticket(n)).contains(&"customer11@example.com".to_string()));
    // The colleague answers all: it lands on the ticket, it opens none.
    let colleague_reply = reply_to(&to_colleague);
    let all = String::from_utf8(plain("customer11@example.com", &colleague_reply, "Re: Printer on fire", "Same here."))
        .unwrap()
        .replace("\r\nSubject:", "\r\nCc: customer10@example.com\r\nSubject:");
    rt.block_on(send("customer11@example.com", &colleague_reply, all.as_bytes()));
    nth_mail(&rt, "staff1", 3);
    assert_eq!(desk.tickets().len(), 1);
    assert_eq!(desk.ticket(n)["comments"].as_array().unwrap().last().unwrap()["body_reply"], "Same here.");
    let uncc = plain("staff1@example.com", &staff1_address, "Re: x", "#cc remove customer11@example.com");
    rt.block_on(send("staff1@example.com", &staff1_address, &uncc));
    wait_until("customer11 off the ticket", Duration::from_secs(30), || {
        !emails(&desk.ticket(n)).contains(&"customer11@example.com".to_string())
    });

    // An unknown command and an invalid one: nothing applies, staff1 is told why.
    let before = desk.ticket(n);
    let wrong = plain(
        "staff1@example.com",
        &staff1_address,
        "Re: x",
        "#frobnicate now\n#status resolved\n#assign nobody@elsewhere.example\n\nAll fixed, closing.",
    );
    rt.block_on(send("staff1@example.com", &staff1_address, &wrong));
    let refused = nth_mail(&rt, "staff1", 4);
    assert!(header(&refused, "Subject").unwrap().contains("Not applied"), "{refused}");
    assert!(refused.contains("#frobnicate now: unknown command"), "{refused}");
    // The refusal is queued in the transaction that decided on the mail: with it here, the
    // mail is done with, and nothing of it can still be applied.
    let after = desk.ticket(n);
    assert_eq!(
        (after["status"].clone(), after["comment_count"].clone()),
        (before["status"].clone(), before["comment_count"].clone())
    );
    // The same mail without the unknown command still fails on the assignee: all or nothing.
    let invalid = plain(
        "staff1@example.com",
        &staff1_address,
        "Re: x",
        "#status resolved\n#assign nobody@elsewhere.example\n\nAll fixed.",
    );
    rt.block_on(send("staff1@example.com", &staff1_address, &invalid));
    let refused = nth_mail(&rt, "staff1", 5);
    assert!(refused.contains("#assign nobody@elsewhere.example: not a staff member"), "{refused}");
    assert_eq!(desk.ticket(n)["status"], "open");

    // A customer forging staff1's From through the customer reply address gives no
    // command and speaks for no one: it is kept as an unverified internal note.
    let forged = plain("staff1@example.com", &customer_address, "Re: x", "#close\nClosing this myself.");
    rt.block_on(send("customer10@example.com", &customer_address, &forged));
    wait_until("the forged mail as a comment", Duration::from_secs(30), || {
        desk.ticket(n)["comment_count"] == before["comment_count"].as_i64().unwrap() + 1
    });
    let t = desk.ticket(n);
    assert_eq!(t["status"], "open", "the forged #close did nothing");
    let note = t["comments"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(note["public"], false, "{note}");
    let note = note["body_reply"].as_str().unwrap();
    assert!(note.starts_with("UNVERIFIED") && note.contains("#close\nClosing this myself."), "{note}");
    nth_mail(&rt, "staff2", 4);

    // #close with a last word: closed, and the customer is told.
    let close = plain("staff1@example.com", &staff1_address, "Re: x", "#close\nThanks, closing.");
    rt.block_on(send("staff1@example.com", &staff1_address, &close));
    let last = nth_mail(&rt, "customer10", 6);
    assert!(last.contains("Thanks, closing.") && last.contains("now closed"), "{last}");
    assert_eq!(desk.ticket(n)["status"], "closed");
    for raw in rt.block_on(inbox(&d, "customer10")).iter().chain(&rt.block_on(inbox(&d, "customer11"))) {
        assert!(!raw.contains("staff1@example.com") && !raw.contains("staff2@example.com"), "{raw}");
    }
    assert_eq!(rt.block_on(inbox(&d, "staff1")).len(), 5, "no other mail to staff1");
    assert!(daemon.terminate().success());
}

/// Moves ticket `n`'s last status change `days` into the past, as if time had passed.
fn age_status(dir: &Path, n: i64, days: i64) {
    let url = format!("sqlite://{}", dir.join("var/maildesk.db").display());
    let rt = runtime();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE tickets SET status_changed_at = status_changed_at - $1 WHERE id = $2")
            .bind(days * 86_400)
            .bind(n)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
}

#[test]
fn a_resolved_ticket_reopens_on_a_reply_closes_itself_later_and_a_late_reply_opens_a_follow_up() {
    let (d, rt) = (dovecot(), runtime());
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for user in ["box51", "customer12", "staff3"] {
        rt.block_on(d.reset(user));
    }
    let env = config(dir, "box51");
    let desk = Desk { dir, env: env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect() };
    desk.cli(&["staff", "add", "staff3@example.com", "--name", "Rita"]);
    let mut daemon = Daemon::start(dir, &desk.env);
    let support = "box51@helpdesk.example";
    rt.block_on(send("customer12@example.com", support, &plain("customer12@example.com", support, "VPN", "It drops.")));
    nth_mail(&rt, "customer12", 1);
    let n = desk.tickets()[0]["id"].as_i64().unwrap();
    let staff3_address = reply_to(&nth_mail(&rt, "staff3", 1));

    // Resolved by a command; the customer's answer reopens it within reopen_days.
    let resolve = plain("staff3@example.com", &staff3_address, "Re: VPN", "#status resolved");
    rt.block_on(send("staff3@example.com", &staff3_address, &resolve));
    let resolved = nth_mail(&rt, "customer12", 2);
    assert_eq!(header(&resolved, "Subject"), Some(format!("[Support #{n}] VPN - resolved")));
    let customer_address = reply_to(&resolved);
    rt.block_on(send(
        "customer12@example.com",
        &customer_address,
        &plain("customer12@example.com", &customer_address, "Re: VPN", "Still drops."),
    ));
    let reopened = nth_mail(&rt, "customer12", 3);
    assert_eq!(header(&reopened, "Subject"), Some(format!("[Support #{n}] VPN - reopened")));
    assert_eq!(desk.ticket(n)["status"], "open");
    // A move the lifecycle does not allow is refused at the command line too.
    let out = run(maildesk(dir).args(["ticket", "status", &n.to_string(), "resolved"]).envs(desk.env.iter().copied()));
    assert!(out.status.success());
    nth_mail(&rt, "customer12", 4);
    let out =
        run(maildesk(dir).args(["ticket", "status", &n.to_string(), "in-progress"]).envs(desk.env.iter().copied()));
    assert_eq!(out.status.code(), Some(1), "resolved cannot go to in-progress");
    assert!(String::from_utf8_lossy(&out.stderr).contains("can only become open or closed"));

    // A week later the resolved ticket closes itself and the customer is told.
    assert!(daemon.terminate().success());
    age_status(dir, n, 8);
    let mut daemon = Daemon::start(dir, &desk.env);
    let closed = nth_mail(&rt, "customer12", 5);
    assert_eq!(header(&closed, "Subject"), Some(format!("[Support #{n}] VPN - closed")));
    assert_eq!(desk.ticket(n)["status"], "closed");

    // Long after, an answer opens a new ticket that follows up the old one.
    assert!(daemon.terminate().success());
    age_status(dir, n, 30);
    let _daemon = Daemon::start(dir, &desk.env);
    let late = reply_to(&closed);
    rt.block_on(send(
        "customer12@example.com",
        &late,
        &plain("customer12@example.com", &late, "Re: VPN", "It is back."),
    ));
    let ack = nth_mail(&rt, "customer12", 6);
    let tickets = desk.tickets();
    assert_eq!(tickets.len(), 2);
    let m = tickets[0]["id"].as_i64().unwrap();
    assert_ne!(m, n);
    assert_eq!(header(&ack, "Subject"), Some(format!("[Support #{m}] VPN")));
    assert_eq!(desk.ticket(m)["follows_up"], n);
    assert_eq!(desk.ticket(n)["status"], "closed", "the old ticket stays closed");
}

#[test]
fn the_ticket_commands_filter_and_act_as_mail_commands_do() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let env: Vec<(&str, &str)> = vec![("MAILDESK_PORTAL__INVITE", "false")];
    let md = |args: &[&str]| run(maildesk(dir).args(args).envs(env.iter().copied()));
    let ok = |args: &[&str]| {
        let out = md(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    for (i, from) in ["ann@example.com", "bob@example.com", "ann@example.com"].iter().enumerate() {
        let file = dir.join(format!("m{i}.eml"));
        std::fs::write(&file, plain(from, "support@localhost", &format!("Question {i}"), "Hello")).unwrap();
        ok(&["ingest", file.to_str().unwrap()]);
    }
    ok(&["staff", "add", "sam@staff.example", "--name", "Sam"]);
    let ids = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["ticket", "list", "--json"];
        all.extend_from_slice(args);
        json_of(md(&all)).as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
    };
    assert_eq!(ids(&[]), [3, 2, 1]);
    assert_eq!(ids(&["--requester", "ANN@example.com"]), [3, 1]);

    ok(&["ticket", "assign", "2", "sam@staff.example"]);
    ok(&["ticket", "priority", "3", "urgent", "--by", "sam@staff.example"]);
    ok(&["ticket", "note", "1", "--from", "sam@staff.example", "--body", "Known issue."]);
    ok(&["ticket", "cc", "1", "add", "carl@example.com"]);
    ok(&["ticket", "close", "1"]);
    assert_eq!(ids(&["--assignee", "sam@staff.example"]), [2]);
    assert_eq!(ids(&["--assignee", "nobody"]), [3, 1]);
    assert_eq!(ids(&["--status", "closed"]), [1]);
    assert_eq!(ids(&["--status", "closed", "--requester", "bob@example.com"]), Vec::<i64>::new());
    assert!(ids(&["--overdue"]).is_empty(), "no one has waited an hour yet");
    let one = json_of(md(&["ticket", "show", "1", "--json"]));
    let emails: Vec<&str> =
        one["participants"].as_array().unwrap().iter().map(|p| p["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ann@example.com", "carl@example.com"]);
    let shown = String::from_utf8(ok(&["ticket", "show", "1"]).stdout).unwrap();
    assert!(shown.contains("--- internal note") && shown.contains("Known issue."), "{shown}");
    let shown = String::from_utf8(ok(&["ticket", "show", "3"]).stdout).unwrap();
    assert!(shown.contains("Priority: urgent") && shown.contains("Answer due:"), "{shown}");

    // Refused with a reason and exit 1, nothing changed: a move the lifecycle forbids, an
    // assignee who is not staff, a note by someone who is not, the requester taken off.
    for (args, reason) in [
        (vec!["ticket", "status", "1", "waiting-on-vendor"], "a closed ticket can only become open"),
        (vec!["ticket", "assign", "3", "bob@example.com"], "bob@example.com: not a staff member"),
        (
            vec!["ticket", "note", "3", "--from", "bob@example.com", "--body", "x"],
            "bob@example.com is not a staff member",
        ),
        (vec!["ticket", "cc", "1", "remove", "ann@example.com"], "the requester stays on the ticket"),
        (vec!["ticket", "close", "99"], "no ticket #99"),
    ] {
        let out = md(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(reason),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Bad usage is exit 2.
    assert_eq!(md(&["ticket", "list", "--status", "someday"]).status.code(), Some(2));
    assert_eq!(md(&["ticket", "priority", "1", "whenever"]).status.code(), Some(2));
    assert_eq!(ids(&["--status", "closed"]), [1]);
    assert_eq!(json_of(md(&["ticket", "show", "3", "--json"]))["assignee"], Value::Null);
}
