//! `maildesk import`: an mbox or a Maildir of years of a desk's mail becomes tickets with
//! their replies threaded and dated, staff's mail as staff's comments, old tickets Closed,
//! nothing sent or offered to anyone; a second run changes nothing, an interrupted one
//! resumes to the same end, and hostile files are refused or quarantined.

mod common;

use std::path::Path;

use common::TestApp;
use common::cli::{maildesk, run};
use maildesk::desk::import::{self, ImportError, Kind, Progress, Summary};
use maildesk::domain::{StaffNotify, Status, TicketNumber};
use maildesk::store::CommentRow;
use tokio_util::sync::CancellationToken;

const DAY: i64 = 86_400;
/// 2019-03-01 09:00:00 UTC.
const T0: i64 = 1_551_430_800;

/// A message written at `at`.
struct Mail {
    at: i64,
    text: String,
}

/// A plain-text message from `from` to the desk at `at`; `refs` are the Message-IDs it
/// answers, the last one its In-Reply-To.
fn mail(from: &str, subject: &str, id: &str, refs: &[&str], at: i64, extra: &str, body: &str) -> Mail {
    letter(from, "support@helpdesk.example", subject, id, refs, at, extra, body)
}

/// [`mail`] to `to`.
#[allow(clippy::too_many_arguments)]
fn letter(from: &str, to: &str, subject: &str, id: &str, refs: &[&str], at: i64, extra: &str, body: &str) -> Mail {
    let date = time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    let mut threading = String::new();
    if let Some(last) = refs.last() {
        threading.push_str(&format!("In-Reply-To: <{last}>\n"));
        let all: Vec<String> = refs.iter().map(|r| format!("<{r}>")).collect();
        threading.push_str(&format!("References: {}\n", all.join(" ")));
    }
    let text = format!(
        "From: {from}\nTo: {to}\nSubject: {subject}\nDate: {date}\nMessage-ID: <{id}>\n\
         {threading}{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    );
    Mail { at, text }
}

/// An mbox (mboxrd) of `mails` in the order given.
fn mbox(mails: &[Mail]) -> Vec<u8> {
    let mut out = String::new();
    for m in mails {
        let when = time::OffsetDateTime::from_unix_timestamp(m.at).unwrap();
        let asctime = format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            &when.weekday().to_string()[..3],
            &when.month().to_string()[..3],
            when.day(),
            when.hour(),
            when.minute(),
            when.second(),
            when.year()
        );
        out.push_str(&format!("From sender@mbox.example {asctime}\n"));
        for line in m.text.split_inclusive('\n') {
            let quotes = line.chars().take_while(|c| *c == '>').count();
            if line[quotes..].starts_with("From ") {
                out.push('>');
            }
            out.push_str(line);
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// The archive of the tests: a thread of 2019 between a customer, a staff member and the
/// desk (written out of order), one of 2021 with a Cc who answers, an auto-reply, a mail
/// with no sender, a staff mail that names no ticket and no customer, a thread a staff
/// member started with a customer, and a thread of two days ago.
fn archive(now: i64) -> Vec<Mail> {
    let ann = "Ann <ann@acme.example>";
    vec![
        mail(
            "Agent <agent@helpdesk.example>",
            "Re: Printer broken",
            "a2",
            &["a1"],
            T0 + DAY,
            "",
            "Turn it off and on.",
        ),
        mail(ann, "Printer broken", "a1", &[], T0, "", "It prints nothing.\n\nFrom the start it never worked."),
        mail(ann, "Re: Printer broken", "a3", &["a1", "a2"], T0 + 2 * DAY, "", "Still nothing.\n\n> Turn it off"),
        mail("support@helpdesk.example", "Re: Printer broken", "a4", &["a1", "a2", "a3"], T0 + 3 * DAY, "", "Fixed."),
        mail(
            "noreply@far.example",
            "Out of office",
            "auto1",
            &[],
            T0 + 400 * DAY,
            "Auto-Submitted: auto-replied\n",
            "Away.",
        ),
        mail(
            "bob@other.example",
            "Invoice question",
            "b1",
            &[],
            T0 + 800 * DAY,
            "Cc: carol@other.example\n",
            "What is this invoice?",
        ),
        mail("carol@other.example", "Re: Invoice question", "b2", &["b1"], T0 + 801 * DAY, "", "Same question."),
        Mail { at: T0 + 900 * DAY, text: "Subject: nobody sent this\nMessage-ID: <x1>\n\nno sender\n".into() },
        mail("agent@helpdesk.example", "Hello", "s1", &["elsewhere"], T0 + 901 * DAY, "", "A note to nobody."),
        letter(
            "agent@helpdesk.example",
            "erin@acme.example",
            "Your renewal",
            "e1",
            &[],
            T0 + 950 * DAY,
            "",
            "Due soon.",
        ),
        mail("erin@acme.example", "Re: Your renewal", "e2", &["e1"], T0 + 951 * DAY, "", "Renewed."),
        mail("dan@acme.example", "New laptop", "c1", &[], now - 2 * DAY, "", "Please order one."),
    ]
}

/// Counts what an import did, as the summary does, and stops it when asked.
#[derive(Default)]
struct Seen {
    indexed: Option<(u64, u64)>,
    advanced: Vec<u64>,
    stop_after_first_batch: Option<CancellationToken>,
}

impl Progress for Seen {
    fn indexed(&mut self, total: u64, done: u64) {
        self.indexed = Some((total, done));
    }
    fn advanced(&mut self, done: u64, _: &Summary) {
        self.advanced.push(done);
        if let Some(stop) = &self.stop_after_first_batch {
            stop.cancel();
        }
    }
}

async fn import_files(t: &TestApp, kind: Kind, paths: &[&Path]) -> Result<Summary, ImportError> {
    let paths: Vec<_> = paths.iter().map(|p| p.to_path_buf()).collect();
    import::run(&t.app, kind, &paths, &mut Seen::default(), &CancellationToken::new()).await
}

/// An app whose staff is agent@helpdesk.example, portal invitations on (none may be made).
async fn desk(db: common::Db) -> TestApp {
    let t = TestApp::with(db, |c| c.portal.invite = true).await;
    t.db().await.add_staff("agent@helpdesk.example", "Agent Smith", None, StaffNotify::All).await.unwrap();
    t
}

async fn comments(t: &TestApp, n: TicketNumber) -> Vec<CommentRow> {
    t.db().await.comments(n).await.unwrap()
}

/// The numbers `sql` selects, on either backend.
async fn numbers(t: &TestApp, sql: &str) -> Vec<i64> {
    use sqlx::Connection;
    let url = &t.app.config().database.url;
    let sql = sql.to_string();
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap()
    }
}

/// Counts the rows of `table` (outbox, invites…).
async fn rows(t: &TestApp, table: &str) -> i64 {
    numbers(t, &format!("SELECT COUNT(*) FROM {table}")).await[0]
}

/// The tickets, oldest first. (Not 1, 2, 3…: PostgreSQL does not give back the numbers of
/// a batch that was rolled back to be applied one message at a time.)
async fn tickets(t: &TestApp) -> Vec<TicketNumber> {
    numbers(t, "SELECT id FROM tickets ORDER BY id").await.into_iter().map(TicketNumber).collect()
}

/// Tickets, their statuses and their comments (author, staff, date, text), to compare
/// the ends of two imports.
async fn state(t: &TestApp) -> Vec<(Status, i64, Vec<(Option<String>, bool, i64, String)>)> {
    let mut out = Vec::new();
    for n in tickets(t).await {
        let ticket = t.db().await.ticket(n).await.unwrap().unwrap();
        let comments =
            comments(t, n).await.into_iter().map(|c| (c.author_email, c.from_staff, c.created_at, c.body_reply));
        out.push((ticket.status, ticket.created_at, comments.collect()));
    }
    out
}

on_both!(an_mbox_becomes_dated_threaded_tickets_with_staff_comments_and_nothing_sent, |db| {
    let t = desk(db).await;
    let now = maildesk::store::now();
    let file = t.dir.path().join("support.mbox");
    std::fs::write(&file, mbox(&archive(now))).unwrap();

    let s = import_files(&t, Kind::Mbox, &[&file]).await.unwrap();
    assert_eq!(
        (s.total, s.messages, s.tickets, s.comments, s.automatic, s.quarantined, s.closed),
        (12, 12, 4, 5, 1, 2, 3),
        "{s:?}"
    );

    let ids = tickets(&t).await;
    assert_eq!(ids.len(), 4);
    // The 2019 thread, in date order although the staff reply came first in the file.
    let printer = t.db().await.ticket(ids[0]).await.unwrap().unwrap();
    assert_eq!((printer.subject.as_str(), printer.requester_email.as_str()), ("Printer broken", "ann@acme.example"));
    assert_eq!(printer.created_at, T0);
    assert_eq!(printer.status, Status::Closed, "its last mail is years old");
    assert_eq!(printer.status_changed_at, Some(T0 + 3 * DAY), "closed as of its last mail");
    let c = comments(&t, ids[0]).await;
    let seen: Vec<_> = c.iter().map(|c| (c.author_email.as_deref().unwrap(), c.from_staff, c.created_at)).collect();
    assert_eq!(
        seen,
        [
            ("ann@acme.example", false, T0),
            ("agent@helpdesk.example", true, T0 + DAY),
            ("ann@acme.example", false, T0 + 2 * DAY),
            ("support@helpdesk.example", true, T0 + 3 * DAY),
        ]
    );
    assert!(c.iter().all(|c| c.public), "staff's mail is a public comment, not an unverified note");
    assert!(
        c[0].body_text.contains("\nFrom the start it never worked."),
        "mboxrd quoting undone: {:?}",
        c[0].body_text
    );
    assert_eq!(c[2].body_reply.trim(), "Still nothing.", "quoted history stripped as for live mail");

    // The 2021 thread: the Cc joined the ticket and her answer threads there.
    let invoice = t.db().await.ticket(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (invoice.subject.as_str(), invoice.created_at, invoice.status),
        ("Invoice question", T0 + 800 * DAY, Status::Closed)
    );
    let participants: Vec<String> =
        t.db().await.participants(ids[1]).await.unwrap().into_iter().map(|(a, _)| a).collect();
    assert_eq!(participants, ["bob@other.example", "carol@other.example"]);
    assert_eq!(comments(&t, ids[1]).await.len(), 2);

    // Staff wrote first: the ticket is the customer's, its first comment staff's.
    let renewal = t.db().await.ticket(ids[2]).await.unwrap().unwrap();
    assert_eq!((renewal.requester_email.as_str(), renewal.status), ("erin@acme.example", Status::Closed));
    let c = comments(&t, ids[2]).await;
    let seen: Vec<_> = c.iter().map(|c| (c.author_email.as_deref().unwrap(), c.from_staff)).collect();
    assert_eq!(seen, [("agent@helpdesk.example", true), ("erin@acme.example", false)]);

    // The recent one stays as the mail path leaves it.
    let laptop = t.db().await.ticket(ids[3]).await.unwrap().unwrap();
    assert_eq!((laptop.status, laptop.created_at), (Status::Open, now - 2 * DAY));
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 4);

    // Nothing for anyone: no outbox row, no invitation, no bounce mark.
    assert_eq!(rows(&t, "outbox").await, 0);
    assert_eq!(rows(&t, "invites").await, 0);
    assert!(t.flush_outbox().await.is_empty());

    // What could not be filed is quarantined with its reason.
    let quarantine = t.db().await.list_quarantine().await.unwrap();
    let reasons: Vec<&str> = quarantine.iter().map(|q| q.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("addressed to no customer")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.to_lowercase().contains("sender")), "{reasons:?}");
    assert!(quarantine.iter().all(|q| q.source.to_string().starts_with("import:")));

    // A second run changes nothing.
    let before = state(&t).await;
    let again = import_files(&t, Kind::Mbox, &[&file]).await.unwrap();
    assert!(again.already_imported && again.messages == 0, "{again:?}");
    assert_eq!(state(&t).await, before);
    assert_eq!(t.db().await.list_quarantine().await.unwrap().len(), 2);
});

on_both!(a_maildir_is_imported_in_date_order_and_a_customer_reply_reopens_only_within_the_window, |db| {
    let t = desk(db).await;
    let now = maildesk::store::now();
    let dir = t.dir.path().join("old-maildir");
    for d in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    // File names sort against the dates: the reply's file comes first.
    let ann = "ann@acme.example";
    let files = [
        ("cur/1000.a:2,S", mail("agent@helpdesk.example", "Re: VPN", "v2", &["v1"], T0 + DAY, "", "Try again.")),
        ("cur/2000.b:2,S", mail(ann, "VPN", "v1", &[], T0, "", "No VPN.")),
        ("new/3000.c", mail(ann, "Re: VPN", "v3", &["v1", "v2"], T0 + 30 * DAY, "", "Works now, thanks.")),
        // The same customer writes a month after the staff's answer to a ticket that was
        // 29 days quiet: beyond reopen_days, but the ticket was never finished, so it is a
        // comment. Then, long after, a reply to the old thread opens a follow-up once it is closed.
    ];
    for (name, m) in &files {
        std::fs::write(dir.join(name), &m.text).unwrap();
    }
    let s = import_files(&t, Kind::Maildir, &[&dir]).await.unwrap();
    assert_eq!((s.tickets, s.comments, s.closed), (1, 2, 1), "{s:?}");
    let c = comments(&t, TicketNumber(1)).await;
    let order: Vec<(bool, i64)> = c.iter().map(|c| (c.from_staff, c.created_at)).collect();
    assert_eq!(order, [(false, T0), (true, T0 + DAY), (false, T0 + 30 * DAY)]);
    assert_eq!(t.db().await.ticket(TicketNumber(1)).await.unwrap().unwrap().status, Status::Closed);

    // A second archive: a reply to the closed thread two days after its last mail reopens
    // it (within the window at the mail's date), and the import's end closes it again.
    let more = t.dir.path().join("more.mbox");
    std::fs::write(&more, mbox(&[mail(ann, "Re: VPN", "v4", &["v1", "v3"], T0 + 32 * DAY, "", "Broken again.")]))
        .unwrap();
    let s = import_files(&t, Kind::Mbox, &[&more]).await.unwrap();
    assert_eq!((s.tickets, s.comments, s.closed), (0, 1, 1), "{s:?}");
    assert_eq!(comments(&t, TicketNumber(1)).await.len(), 4, "the reply two days on went to the old ticket");
    let vpn = t.db().await.ticket(TicketNumber(1)).await.unwrap().unwrap();
    assert_eq!((vpn.status, vpn.status_changed_at), (Status::Closed, Some(T0 + 32 * DAY)));
    // A third: a reply a year on follows the closed ticket up with a new one, which its
    // answer of yesterday keeps open.
    let last = t.dir.path().join("last.mbox");
    std::fs::write(
        &last,
        mbox(&[
            mail(ann, "Re: VPN", "v5", &["v1", "v4"], T0 + 400 * DAY, "", "And again, a year on."),
            mail(ann, "Re: VPN", "v6", &["v5"], now - DAY, "", "Still."),
        ]),
    )
    .unwrap();
    let s = import_files(&t, Kind::Mbox, &[&last]).await.unwrap();
    assert_eq!((s.tickets, s.comments, s.closed), (1, 1, 0), "{s:?}");
    let follow_up = t.db().await.ticket(TicketNumber(2)).await.unwrap().unwrap();
    assert_eq!((follow_up.follows_up, follow_up.created_at), (Some(TicketNumber(1)), T0 + 400 * DAY));
    assert_eq!(follow_up.status, Status::Open, "its last mail is a day old");
    assert_eq!(t.db().await.ticket(TicketNumber(1)).await.unwrap().unwrap().status, Status::Closed);
    assert_eq!(rows(&t, "outbox").await, 0);
});

on_both!(an_interrupted_import_resumes_where_it_stopped_and_ends_as_one_run_would, |db| {
    // 450 messages: three batches. 150 threads of a request, a staff answer, a thank-you.
    let mut mails = Vec::new();
    for i in 0..150i64 {
        let (at, who) = (T0 + i * 3600, format!("c{i}@acme.example"));
        let (q, a) = (format!("q{i}"), format!("a{i}"));
        mails.push(mail(&who, &format!("Question {i}"), &q, &[], at, "", "Help?"));
        mails.push(mail("agent@helpdesk.example", &format!("Re: Question {i}"), &a, &[&q], at + 60, "", "Done."));
        mails.push(mail(&who, &format!("Re: Question {i}"), &format!("t{i}"), &[&q, &a], at + 120, "", "Thanks!"));
    }
    let whole = desk(db).await;
    let file = whole.dir.path().join("big.mbox");
    std::fs::write(&file, mbox(&mails)).unwrap();
    let once = import_files(&whole, Kind::Mbox, &[&file]).await.unwrap();
    assert_eq!((once.tickets, once.comments), (150, 300));

    let t = desk(db).await;
    let stop = CancellationToken::new();
    let mut seen = Seen { stop_after_first_batch: Some(stop.clone()), ..Seen::default() };
    let first = import::run(&t.app, Kind::Mbox, std::slice::from_ref(&file), &mut seen, &stop).await.unwrap();
    assert!(first.interrupted && first.messages == 200, "{first:?}");
    assert_eq!(seen.indexed, Some((450, 0)));
    let mut seen = Seen::default();
    let rest = import::run(&t.app, Kind::Mbox, std::slice::from_ref(&file), &mut seen, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(seen.indexed, Some((450, 200)), "resumed after the committed batch");
    assert_eq!((rest.resumed_after, rest.messages, rest.duplicates), (200, 250, 0), "{rest:?}");
    assert_eq!(first.tickets + rest.tickets, 150);
    assert_eq!(state(&t).await, state(&whole).await);
});

on_both!(hostile_files_are_refused_or_quarantined_without_a_panic, |db| {
    let t = desk(db).await;
    // Not an mbox at all: refused, naming the file.
    let binary = t.dir.path().join("photo.jpg");
    std::fs::write(&binary, (0..=255u8).rev().cycle().take(300_000).collect::<Vec<_>>()).unwrap();
    let e = import_files(&t, Kind::Mbox, &[&binary]).await.unwrap_err();
    assert!(e.to_string().contains("photo.jpg") && e.to_string().contains("not an mbox"), "{e}");
    // A directory that is no Maildir, and a file that is not there.
    let e = import_files(&t, Kind::Maildir, &[t.dir.path()]).await.unwrap_err();
    assert!(e.to_string().contains("not a Maildir"), "{e}");
    let e = import_files(&t, Kind::Mbox, &[&t.dir.path().join("missing.mbox")]).await.unwrap_err();
    assert!(e.to_string().contains("missing.mbox"), "{e}");
    assert_eq!(t.db().await.count_tickets().await.unwrap(), 0);

    // An mbox cut off in the middle of a message's header, after a good one, and one whose
    // message is binary garbage after its From line: what can be read is, the rest
    // quarantined.
    let mut cut = mbox(&[mail("ann@acme.example", "Whole", "w1", &[], T0, "", "fine")]);
    cut.extend_from_slice(b"From x Sat Jan  5 01:05:34 2019\nSubject: cut\nFrom: ann@acme.exa");
    let truncated = t.dir.path().join("truncated.mbox");
    std::fs::write(&truncated, &cut).unwrap();
    let mut garbage = b"From x Sat Jan  5 01:05:34 2019\n".to_vec();
    garbage.extend((0..=255u8).cycle().filter(|b| *b != b'\n').take(100_000));
    let junk = t.dir.path().join("junk.mbox");
    std::fs::write(&junk, &garbage).unwrap();
    let s = import_files(&t, Kind::Mbox, &[&truncated, &junk]).await.unwrap();
    assert_eq!(s.total, 3);
    assert!(s.tickets >= 1 && s.quarantined >= 1, "{s:?}");
    assert_eq!(s.tickets + s.comments + s.quarantined + s.automatic, 3, "{s:?}");
    let quarantine = t.db().await.list_quarantine().await.unwrap();
    assert!(quarantine.iter().any(|q| q.source.to_string().ends_with("junk.mbox")), "{quarantine:?}");
    assert_eq!(rows(&t, "outbox").await, 0);
});

/// Kills the real binary mid-import (SIGINT, then SIGKILL on the next run) and runs it
/// again: the end is the same as one uninterrupted run's, with nothing applied twice.
#[test]
fn the_real_binary_resumes_after_ctrl_c_and_after_a_crash() {
    let mut mails = Vec::new();
    for i in 0..1500i64 {
        let (at, who) = (T0 + i * 600, format!("c{i}@acme.example"));
        mails.push(mail(&who, &format!("Question {i}"), &format!("q{i}"), &[], at, "", "Help?"));
        mails.push(mail(
            &who,
            &format!("Re: Question {i}"),
            &format!("r{i}"),
            &[&format!("q{i}")],
            at + 60,
            "",
            "More.",
        ));
    }
    let archive = mbox(&mails);
    let run_import = |dir: &Path, extra: &[&str]| {
        let mut cmd = maildesk(dir);
        cmd.args(["import", "mbox", "support.mbox"]).args(extra);
        cmd
    };
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    };
    // Once, uninterrupted.
    let whole = tempfile::tempdir().unwrap();
    std::fs::write(whole.path().join("support.mbox"), &archive).unwrap();
    let out = run(&mut run_import(whole.path(), &["--json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let once = json(&out);
    assert_eq!((once["tickets"].as_u64(), once["comments"].as_u64()), (Some(1500), Some(1500)));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3000 messages found") && stderr.contains("3000 of 3000 messages"), "{stderr}");

    // Ctrl-C once the first progress line says work is under way: it stops after the batch in hand.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("support.mbox"), &archive).unwrap();
    let interrupted = stop_once_under_way(run_import(dir.path(), &["--json"]), "-INT");
    assert_eq!(interrupted.status.code(), Some(130), "{}", String::from_utf8_lossy(&interrupted.stderr));
    let first = json(&interrupted);
    assert_eq!(first["interrupted"], true);
    let applied = first["messages"].as_u64().unwrap();
    assert!(applied > 0 && applied < 3000, "{first}");
    // Killed outright the second time.
    let killed = stop_once_under_way(run_import(dir.path(), &["--json"]), "-KILL");
    assert!(!killed.status.success());
    let out = run(&mut run_import(dir.path(), &["--json"]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let last = json(&out);
    assert!(last["resumed_after"].as_u64().unwrap() >= applied, "{last}");
    assert_eq!(last["duplicates"].as_u64(), Some(0), "a committed batch is never applied again: {last}");
    // The same tickets and comments as the uninterrupted run.
    let tickets = |dir: &Path| {
        let out = run(maildesk(dir).args(["ticket", "list", "--json", "--limit", "5000"]));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut rows: Vec<(String, String, i64)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["subject"].to_string(), t["status"].to_string(), t["comment_count"].as_i64().unwrap_or(-1)))
            .collect();
        rows.sort();
        rows
    };
    let (a, b) = (tickets(whole.path()), tickets(dir.path()));
    assert_eq!(a.len(), 1500);
    assert_eq!(a, b);
    // And a run after the end changes nothing.
    let out = run(&mut run_import(dir.path(), &[]));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 new, nothing changed"));
}

/// Starts `cmd` (plain progress lines on its standard error), waits for its first progress
/// line after indexing, sends it `signal`, and returns how it ended.
fn stop_once_under_way(mut cmd: std::process::Command, signal: &str) -> std::process::Output {
    use std::io::{BufRead, Read};
    use std::process::Stdio;
    cmd.env("MAILDESK_LOG", "error").stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains(" of 3000 messages") {
            break;
        }
        line.clear();
    }
    assert!(line.contains(" of 3000 messages"), "no progress line: {seen}");
    let pid = child.id().to_string();
    std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let mut out = child.wait_with_output().unwrap();
    out.stderr = format!("{seen}{rest}").into_bytes();
    out
}
