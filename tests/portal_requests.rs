//! What a customer does with requests in the portal, over HTTP in process, on SQLite and
//! PostgreSQL: answering with files (as if by mail: staff told, threaded, the wait and the
//! status as mail leaves them), opening a request (acknowledged by mail, for a colleague
//! too), marking it solved, cancelling and reopening it behind a confirmation, fetching its
//! files — and every refusal (limits, lifecycle, CSRF, someone else's request), which
//! changes nothing. The authorisation matrix over every route and role is at the end.

mod common;

use axum::http::StatusCode;
use common::portal_app::{Answer, Browser, sign_up_as};
use common::{TestApp, mail};
use maildesk::config::{Config, DepartmentConfig, OrganisationConfig};
use maildesk::desk::{Outcome, receive};
use maildesk::domain::{EmailAddress, Priority, Source, Status, TicketNumber};
use maildesk::store::NewComment;

/// The start of a PNG file: enough for anything that looks at its first bytes.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A desk with the organisation Acme (acme.example) and two departments with one staff
/// member each; `change` adjusts the config further.
async fn desk(db: common::Db, change: impl FnOnce(&mut Config)) -> TestApp {
    let t = TestApp::with(db, |c| {
        c.portal.invite = true;
        c.portal.argon2_memory_kib = 1024;
        c.organisations = vec![OrganisationConfig { name: "Acme".into(), domains: vec!["acme.example".into()] }];
        let address = |a: &str| EmailAddress::parse(a).unwrap();
        c.departments = vec![
            DepartmentConfig {
                name: "support".into(),
                staff: vec![address("ann@staff.example")],
                assign: Default::default(),
            },
            DepartmentConfig {
                name: "billing".into(),
                staff: vec![address("bob@staff.example")],
                assign: Default::default(),
            },
        ];
        change(c);
    })
    .await;
    // Gus works for every department: he hears of the tickets that have none.
    let mut db = t.db().await;
    db.add_staff("gus@staff.example", "Gus", None, maildesk::domain::StaffNotify::All).await.unwrap();
    drop(db);
    t
}

/// A mail from `from` that opens a ticket; its number.
async fn opened(t: &TestApp, from: &str, subject: &str, message_id: &str, extra: &str) -> i64 {
    let raw = mail(from, subject, Some(message_id), extra, "Please help.");
    match receive(&t.app, &raw, &Source::Pipe).await.unwrap() {
        Outcome::Opened(n) => n.0,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

/// The raw mails sent since `before` (an earlier length of the outbox's log).
async fn sent_since(t: &TestApp, before: usize) -> Vec<(String, String)> {
    let sent = t.flush_outbox().await;
    sent[before..].iter().map(|m| (m.recipient.clone(), String::from_utf8_lossy(&m.bytes).into_owned())).collect()
}

/// How many mails have been sent so far.
async fn sent_count(t: &TestApp) -> usize {
    t.flush_outbox().await.len()
}

/// The form's hidden fields of the request page `path`: (csrf, form_id).
async fn answer_form(browser: &mut Browser, t: &TestApp, path: &str) -> (String, String) {
    let page = browser.get(t, path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (page.csrf(), page.hidden("form_id"))
}

async fn status_of(t: &TestApp, n: i64) -> Status {
    t.db().await.ticket(TicketNumber(n)).await.unwrap().unwrap().status
}

async fn comment_count(t: &TestApp, n: i64) -> usize {
    t.db().await.comments(TicketNumber(n)).await.unwrap().len()
}

on_both!(an_answer_in_the_portal_is_a_comment_as_if_by_mail_with_its_files, |db| {
    let t = desk(db, |_| {}).await;
    let n = opened(&t, "Jane <jane@acme.example>", "Printer on fire", "first@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.1:1").await;
    maildesk::desk::staff::set_status(&t.app, TicketNumber(n), Status::WaitingOnCustomer).await.unwrap();
    let before = sent_count(&t).await;
    let path = format!("/requests/{n}");
    let page = jane.get(&t, &path).await;
    assert!(
        page.body.contains(&format!(r#"action="/requests/{n}/reply" enctype="multipart/form-data""#)),
        "{}",
        page.body
    );
    let (csrf, form_id) = answer_form(&mut jane, &t, &path).await;
    let fields =
        [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", "Still smoking.\r\nPhoto attached.")];
    let files = [("files", "photo.png", "image/png", PNG), ("files", "notes.txt", "text/plain", &b"the notes"[..])];
    let answer = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &files).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.header("location"), Some(format!("{path}?done=answered#conversation").as_str()));
    // The same form again (a double click, a retry) files nothing more.
    let again = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &files).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);

    let comments = t.db().await.comments(TicketNumber(n)).await.unwrap();
    let mine: Vec<_> = comments.iter().filter(|c| c.body_reply.contains("Still smoking.")).collect();
    assert_eq!(mine.len(), 1, "one comment for one form");
    let c = mine[0];
    assert!(c.public && !c.from_staff);
    assert_eq!(c.author_email.as_deref(), Some("jane@acme.example"));
    assert_eq!(c.body_reply, "Still smoking.\nPhoto attached.");
    let id = c.message_id.clone().expect("a Message-ID of ours");
    assert!(id.starts_with(&format!("md.{n}.")), "{id}");
    assert_eq!(status_of(&t, n).await, Status::Open, "waiting on the customer, then open again");

    // Staff hear of it as of a mail, threaded under the conversation.
    let sent = sent_since(&t, before).await;
    let to_staff: Vec<_> = sent.iter().filter(|(to, _)| to.ends_with("@staff.example")).collect();
    assert_eq!(to_staff.len(), 1, "{sent:?}");
    let raw = &to_staff[0].1;
    assert!(raw.contains("Still smoking."), "{raw}");
    assert!(raw.contains(&format!("In-Reply-To: <{id}>")), "{raw}");
    assert!(raw.contains("<first@acme.example>"), "the References carry the first mail: {raw}");
    assert!(!sent.iter().any(|(to, _)| to == "jane@acme.example"), "the customer gets no copy of her own words");

    // The page shows the answer and its files; only the raster image is previewed.
    let page = jane.get(&t, &path).await;
    assert!(page.body.contains("Still smoking.") && page.body.contains("photo.png") && page.body.contains("notes.txt"));
    let files = t.db().await.attachments(TicketNumber(n)).await.unwrap();
    let photo = files.iter().find(|a| a.filename == "photo.png").unwrap().id;
    let notes = files.iter().find(|a| a.filename == "notes.txt").unwrap().id;
    assert!(page.body.contains(&format!("/requests/{n}/files/{photo}/preview")));
    assert!(!page.body.contains(&format!("/requests/{n}/files/{notes}/preview")));

    let download = jane.get(&t, &format!("/requests/{n}/files/{photo}")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.bytes, PNG);
    assert_eq!(download.header("content-type"), Some("application/octet-stream"));
    assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
    let disposition = download.header("content-disposition").unwrap();
    assert!(disposition.starts_with(r#"attachment; filename="photo.png""#), "{disposition}");
    let preview = jane.get(&t, &format!("/requests/{n}/files/{photo}/preview")).await;
    assert_eq!((preview.status, preview.header("content-type")), (StatusCode::OK, Some("image/png")));
    assert_eq!(jane.get(&t, &format!("/requests/{n}/files/{notes}/preview")).await.status, StatusCode::NOT_FOUND);
    let text = jane.get(&t, &format!("/requests/{n}/files/{notes}")).await;
    assert_eq!((text.status, text.bytes.as_slice()), (StatusCode::OK, &b"the notes"[..]));
});

on_both!(a_file_that_only_claims_to_be_an_image_is_never_previewed_and_names_cannot_break_headers, |db| {
    let t = desk(db, |_| {}).await;
    let n = opened(&t, "jane@acme.example", "Odd files", "odd@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.2:1").await;
    let path = format!("/requests/{n}");
    let (csrf, form_id) = answer_form(&mut jane, &t, &path).await;
    let svg = &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..];
    let files = [
        ("files", "fake.png", "image/png", &b"<html><script>alert(1)</script>"[..]),
        ("files", "drawing.svg", "image/svg+xml", svg),
        ("files", "r\u{e9}sum\u{e9} (1).pdf", "application/pdf", &b"%PDF-1.4"[..]),
    ];
    let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", "")];
    let answer = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &files).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "files alone make an answer: {}", answer.body);
    let stored = t.db().await.attachments(TicketNumber(n)).await.unwrap();
    for a in &stored {
        let preview = jane.get(&t, &format!("/requests/{n}/files/{}/preview", a.id)).await;
        assert_eq!(preview.status, StatusCode::NOT_FOUND, "{} is not a raster image", a.filename);
        let download = jane.get(&t, &format!("/requests/{n}/files/{}", a.id)).await;
        assert_eq!(download.header("content-type"), Some("application/octet-stream"), "{}", a.filename);
        assert!(download.header("content-security-policy").unwrap().contains("sandbox"));
    }
    let pdf = stored.iter().find(|a| a.filename.ends_with(".pdf")).unwrap();
    let download = jane.get(&t, &format!("/requests/{n}/files/{}", pdf.id)).await;
    let disposition = download.header("content-disposition").unwrap();
    assert!(disposition.contains(r#"filename="r_sum_ _1_.pdf""#), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29%2Epdf"), "{disposition}");
});

on_both!(answers_over_the_limits_or_without_a_token_are_refused_and_change_nothing, |db| {
    let t = desk(db, |c| {
        c.portal.attachments_max = 2;
        c.portal.attachment_max_bytes = 1000;
    })
    .await;
    let n = opened(&t, "jane@acme.example", "Limits", "limits@acme.example", "").await;
    let _other = opened(&t, "out@other.example", "Not Jane's", "other@other.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.3:1").await;
    let mut out = sign_up_as(&t, "out@other.example", "192.0.2.4:1").await;
    let path = format!("/requests/{n}");
    let (csrf, form_id) = answer_form(&mut jane, &t, &path).await;
    let page = jane.get(&t, &path).await;
    assert!(
        page.body.contains("Up to 2 files, each at most 1000 KB") || page.body.contains("Up to 2 files"),
        "{}",
        page.body
    );
    let (comments, before) = (comment_count(&t, n).await, sent_count(&t).await);
    let reply = format!("{path}/reply");
    let small = &[0u8; 10][..];
    let text = ("text", "Typed words stay");

    let no_token = jane.post_multipart(&t, &reply, &[("form_id", &form_id), text], &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let three = [("files", "a.bin", "application/octet-stream", small); 3];
    let many = jane.post_multipart(&t, &reply, &[("csrf", &csrf), ("form_id", &form_id), text], &three).await;
    assert_eq!(many.status, StatusCode::BAD_REQUEST);
    assert!(many.body.contains("Attach at most 2 files at a time."), "{}", many.body);
    assert!(many.body.contains("Typed words stay"), "what was typed is kept");
    assert!(many.body.contains(r#"id="files-error" role="alert""#), "the error is tied to the file field");
    let big = [("files", "big.bin", "application/octet-stream", &[7u8; 1001][..])];
    let large = jane.post_multipart(&t, &reply, &[("csrf", &csrf), ("form_id", &form_id), text], &big).await;
    assert_eq!(large.status, StatusCode::BAD_REQUEST);
    assert!(large.body.contains("big.bin is larger than 1000 bytes"), "{}", large.body);
    let huge = [("files", "huge.bin", "application/octet-stream", &vec![7u8; 2 << 20][..])];
    let too_large = jane.post_multipart(&t, &reply, &[("csrf", &csrf), ("form_id", &form_id), text], &huge).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", too_large.body);
    let empty =
        jane.post_multipart(&t, &reply, &[("csrf", &csrf), ("form_id", &form_id), ("text", " \r\n ")], &[]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("Write your answer, or attach a file."));
    let long = "x".repeat(maildesk::desk::requests::MAX_TEXT_CHARS + 1);
    let overlong =
        jane.post_multipart(&t, &reply, &[("csrf", &csrf), ("form_id", &form_id), ("text", &long)], &[]).await;
    assert_eq!(overlong.status, StatusCode::BAD_REQUEST);
    let garbled = jane.send(&t, "POST", &reply, &[("csrf", &csrf), ("text", "not multipart")]).await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.body);

    // Someone else's request, one that does not exist, and a number that is none: 404.
    let out_csrf = out.get(&t, "/requests").await.csrf();
    let foreign = out.post_multipart(&t, &reply, &[("csrf", &out_csrf), ("form_id", &form_id), text], &[]).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert!(!foreign.body.contains("Limits"), "nothing of the request shows");
    for missing in ["/requests/999999/reply", "/requests/x/reply"] {
        let answer = jane.post_multipart(&t, missing, &[("csrf", &csrf), ("form_id", &form_id), text], &[]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
    }
    assert_eq!(comment_count(&t, n).await, comments, "no refusal added a comment");
    assert_eq!(sent_count(&t).await, before, "no refusal sent a mail");
    assert!(t.db().await.attachments(TicketNumber(n)).await.unwrap().is_empty());
});

on_both!(a_customer_who_writes_too_often_gets_429_and_nothing_is_saved, |db| {
    let t = desk(db, |c| c.portal.writes_per_contact = 2).await;
    let n = opened(&t, "jane@acme.example", "Chatty", "chatty@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.12:1").await;
    let path = format!("/requests/{n}");
    let csrf = jane.get(&t, &path).await.csrf();
    for i in 0..3 {
        let (form_id, text) = (maildesk::desk::requests::new_form_id(), format!("Answer {i}"));
        let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", text.as_str())];
        let answer = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &[]).await;
        match i {
            0 | 1 => assert_eq!(answer.status, StatusCode::SEE_OTHER),
            _ => {
                assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
                assert!(answer.header("retry-after").is_some());
            }
        }
    }
    let late = jane.post(&t, &format!("{path}/solved"), &[("csrf", &csrf)]).await;
    assert_eq!(late.status, StatusCode::TOO_MANY_REQUESTS, "changes of status count too");
    let texts: Vec<String> =
        t.db().await.comments(TicketNumber(n)).await.unwrap().into_iter().map(|c| c.body_reply).collect();
    assert!(texts.iter().any(|t| t == "Answer 1") && !texts.iter().any(|t| t == "Answer 2"), "{texts:?}");
    assert_eq!(status_of(&t, n).await, Status::Open);
});

on_both!(an_answer_reopens_a_request_finished_within_the_reopen_window_and_not_after, |db| {
    let t = desk(db, |c| c.desk.reopen_days = 7).await;
    let n = opened(&t, "jane@acme.example", "Window", "window@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.5:1").await;
    let path = format!("/requests/{n}");
    maildesk::desk::staff::set_status(&t.app, TicketNumber(n), Status::Resolved).await.unwrap();
    let (csrf, form_id) = answer_form(&mut jane, &t, &path).await;
    assert!(jane.get(&t, &path).await.body.contains("your answer reopens it"));
    let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", "It is back.")];
    let answer = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(status_of(&t, n).await, Status::Open);

    maildesk::desk::staff::set_status(&t.app, TicketNumber(n), Status::Closed).await.unwrap();
    t.age_status(n, 8).await;
    let page = jane.get(&t, &path).await;
    assert!(!page.body.contains(&format!("/requests/{n}/reply")), "no answer form past the window");
    assert!(page.body.contains(&format!("/requests/new?follows={n}")), "a follow-up is offered");
    let (comments, before) = (comment_count(&t, n).await, sent_count(&t).await);
    let form_id = maildesk::desk::requests::new_form_id();
    let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", "Again.")];
    let late = jane.post_multipart(&t, &format!("{path}/reply"), &fields, &[]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(late.body.contains("finished more than 7 days ago"), "{}", late.body);
    assert_eq!((comment_count(&t, n).await, sent_count(&t).await), (comments, before));
    assert_eq!(status_of(&t, n).await, Status::Closed);
});

on_both!(a_new_request_from_the_portal_is_acknowledged_by_mail_and_shown, |db| {
    let t = desk(db, |_| {}).await;
    opened(&t, "Jane <jane@acme.example>", "First", "first@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.6:1").await;
    let form = jane.get(&t, "/requests/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("We aim to answer within 8 hours.")
            && form.body.contains("We aim to answer within an hour.")
    );
    assert!(form.body.contains(r#"<option value="billing""#) && form.body.contains(r#"<option value="support""#));
    assert!(!form.body.contains(r#"name="requester""#), "a standard contact files for themselves only");
    let (csrf, form_id) = (form.csrf(), form.hidden("form_id"));
    let before = sent_count(&t).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("subject", "  VPN drops every hour  "),
        ("description", "Since Monday.\r\nLog attached."),
        ("priority", "high"),
        ("department", "billing"),
    ];
    let log = [("files", "vpn.log", "text/plain", &b"12:00 drop"[..])];
    let sent = jane.post_multipart(&t, "/requests/new", &fields, &log).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let location = sent.header("location").unwrap().to_string();
    let n: i64 = location.strip_prefix("/requests/").unwrap().strip_suffix("?done=opened").unwrap().parse().unwrap();
    let again = jane.post_multipart(&t, "/requests/new", &fields, &log).await;
    assert_eq!(again.header("location"), Some(location.as_str()), "the same form opens one request");

    let ticket = t.db().await.ticket(TicketNumber(n)).await.unwrap().unwrap();
    assert_eq!(ticket.subject, "VPN drops every hour");
    assert_eq!((ticket.priority, ticket.department.as_deref()), (Priority::High, Some("billing")));
    assert_eq!((ticket.requester_email.as_str(), ticket.status), ("jane@acme.example", Status::Open));
    assert_eq!(ticket.organisation.as_deref(), Some("Acme"));
    let files = t.db().await.attachments(TicketNumber(n)).await.unwrap();
    assert_eq!(files.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>(), ["vpn.log"]);

    let mails = sent_since(&t, before).await;
    let acks: Vec<_> = mails.iter().filter(|(to, _)| to == "jane@acme.example").collect();
    assert_eq!(acks.len(), 1, "one acknowledgement: {mails:?}");
    assert!(acks[0].1.contains(&format!("[Support #{n}] VPN drops every hour")), "{}", acks[0].1);
    assert!(acks[0].1.contains(&format!("https://help.example/requests/{n}")), "so she can go on in the portal");
    let staff: Vec<_> =
        mails.iter().filter(|(to, _)| to.ends_with("@staff.example")).map(|(to, _)| to.as_str()).collect();
    assert_eq!(staff, ["bob@staff.example", "gus@staff.example"], "billing's staff and Gus hear of it");

    let page = jane.get(&t, &location).await;
    assert!(page.body.contains("Your request was sent.") && page.body.contains("Since Monday."), "{}", page.body);
    assert!(page.body.contains("We aim to answer within 8 hours."));
});

/// A refused form: its fields, the words of the refusal, and the id of the error it shows.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

on_both!(new_requests_with_a_wrong_field_are_refused_on_that_field_and_change_nothing, |db| {
    let t = desk(db, |_| {}).await;
    opened(&t, "jane@acme.example", "First", "first@acme.example", "").await;
    opened(&t, "pat@acme.example", "Pat's", "pat@acme.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.7:1").await;
    let form = jane.get(&t, "/requests/new").await;
    let (csrf, form_id) = (form.csrf(), form.hidden("form_id"));
    let tickets = t.db().await.count_tickets().await.unwrap();
    let before = sent_count(&t).await;
    let long = "s".repeat(201);
    let cases: [Case; 5] = [
        (&[("subject", "   "), ("description", "It broke.")], "Say in a few words what it is about.", "subject-error"),
        (&[("subject", "Broken"), ("description", "")], "Describe what happened", "description-error"),
        (
            &[("subject", "Broken"), ("description", "x"), ("department", "legal")],
            "Choose one of the departments",
            "department-error",
        ),
        (
            &[("subject", "Broken"), ("description", "x"), ("requester", "pat@acme.example")],
            "Choose someone of your organisation.",
            "",
        ),
        (&[("subject", &long), ("description", "x")], "Keep the subject under 200 characters", "subject-error"),
    ];
    for (fields, message, error_id) in cases {
        let mut all = vec![("csrf", csrf.as_str()), ("form_id", form_id.as_str())];
        all.extend_from_slice(fields);
        let answer = jane.post_multipart(&t, "/requests/new", &all, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{fields:?}");
        assert!(answer.body.contains(message), "{fields:?}: {}", answer.body);
        assert!(error_id.is_empty() || answer.body.contains(&format!(r#"id="{error_id}" role="alert""#)), "{fields:?}");
    }
    let kept = jane
        .post_multipart(
            &t,
            "/requests/new",
            &[("csrf", &csrf), ("form_id", &form_id), ("subject", ""), ("description", "Keep me")],
            &[],
        )
        .await;
    assert!(kept.body.contains("Keep me"), "what was typed is kept");
    let forged = jane.post_multipart(&t, "/requests/new", &[("subject", "Broken"), ("description", "x")], &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(t.db().await.count_tickets().await.unwrap(), tickets, "no ticket opened");
    assert_eq!(sent_count(&t).await, before, "no mail sent");
});

on_both!(a_primary_contact_files_for_a_colleague_who_is_acknowledged_and_can_go_on, |db| {
    let t = desk(db, |_| {}).await;
    opened(&t, "Pat <pat@acme.example>", "Pat's", "pat@acme.example", "").await;
    opened(&t, "Lee <lee@acme.example>", "Lee's", "lee@acme.example", "").await;
    opened(&t, "out@other.example", "Other", "out@other.example", "").await;
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.8:1").await;
    let mut lee = sign_up_as(&t, "lee@acme.example", "192.0.2.9:1").await;
    maildesk::desk::contacts::set_primary(&t.app, &EmailAddress::parse("pat@acme.example").unwrap(), true)
        .await
        .unwrap();
    let form = pat.get(&t, "/requests/new").await;
    assert!(form.body.contains(r#"<option value="lee@acme.example""#), "{}", form.body);
    assert!(!form.body.contains("out@other.example"), "only the organisation's contacts");
    let (csrf, form_id) = (form.csrf(), form.hidden("form_id"));
    let foreign = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("subject", "For out"),
        ("description", "x"),
        ("requester", "out@other.example"),
    ];
    assert_eq!(pat.post_multipart(&t, "/requests/new", &foreign, &[]).await.status, StatusCode::BAD_REQUEST);
    let before = sent_count(&t).await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("form_id", form_id.as_str()),
        ("subject", "Lee's laptop"),
        ("description", "It will not boot."),
        ("requester", "lee@acme.example"),
    ];
    let sent = pat.post_multipart(&t, "/requests/new", &fields, &[]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let location = sent.header("location").unwrap().to_string();
    let n: i64 = location.strip_prefix("/requests/").unwrap().strip_suffix("?done=opened").unwrap().parse().unwrap();
    let ticket = t.db().await.ticket(TicketNumber(n)).await.unwrap().unwrap();
    assert_eq!(ticket.requester_email, "lee@acme.example");
    let comments = t.db().await.comments(TicketNumber(n)).await.unwrap();
    assert_eq!(comments[0].author_email.as_deref(), Some("pat@acme.example"), "Pat wrote it");
    let people = t.db().await.participant_addresses(TicketNumber(n)).await.unwrap();
    assert_eq!(people, ["lee@acme.example", "pat@acme.example"], "Lee asks, Pat is copied");
    let mails = sent_since(&t, before).await;
    let to_lee: Vec<_> = mails.iter().filter(|(to, _)| to == "lee@acme.example").collect();
    assert_eq!(to_lee.len(), 1, "Lee is acknowledged: {mails:?}");
    assert!(to_lee[0].1.contains("Lee's laptop"));
    // Lee, a standard contact, sees it: she asks it.
    let page = lee.get(&t, &format!("/requests/{n}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("It will not boot."));
});

on_both!(a_new_request_follows_up_only_a_finished_request_the_customer_may_see, |db| {
    let t = desk(db, |c| c.desk.reopen_days = 7).await;
    let old = opened(&t, "jane@acme.example", "Old one", "old@acme.example", "").await;
    let theirs = opened(&t, "out@other.example", "Not hers", "out@other.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.10:1").await;
    for n in [old, theirs] {
        maildesk::desk::staff::set_status(&t.app, TicketNumber(n), Status::Closed).await.unwrap();
    }
    let form = jane.get(&t, &format!("/requests/new?follows={old}")).await;
    assert!(form.body.contains(&format!(r#"name="follows" value="{old}""#)), "{}", form.body);
    let (csrf, form_id) = (form.csrf(), form.hidden("form_id"));
    let mut opened_for = Vec::new();
    for follows in [old, theirs] {
        let id = if follows == old { form_id.clone() } else { maildesk::desk::requests::new_form_id() };
        let follows = follows.to_string();
        let fields = [
            ("csrf", csrf.as_str()),
            ("form_id", id.as_str()),
            ("subject", "Again"),
            ("description", "x"),
            ("follows", follows.as_str()),
        ];
        let sent = jane.post_multipart(&t, "/requests/new", &fields, &[]).await;
        let location = sent.header("location").unwrap().to_string();
        let n: i64 =
            location.strip_prefix("/requests/").unwrap().strip_suffix("?done=opened").unwrap().parse().unwrap();
        opened_for.push(t.db().await.ticket(TicketNumber(n)).await.unwrap().unwrap().follows_up);
    }
    assert_eq!(opened_for, [Some(TicketNumber(old)), None], "another's ticket is not linked");
});

on_both!(solved_cancel_and_reopen_need_the_confirmation_and_follow_the_rules_of_mail, |db| {
    let t = desk(db, |c| c.desk.reopen_days = 7).await;
    let n = opened(&t, "jane@acme.example", "Lifecycle", "life@acme.example", "Cc: kim@partner.example\n").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.11:1").await;
    let path = format!("/requests/{n}");
    let page = jane.get(&t, &path).await;
    assert!(
        page.body.contains(&format!(r#"href="{path}/solved""#))
            && page.body.contains(&format!(r#"href="{path}/cancel""#))
    );
    assert!(!page.body.contains(&format!(r#"href="{path}/reopen""#)), "nothing to reopen");

    // The link opens a confirmation; only its button changes the request.
    let confirm = jane.get(&t, &format!("{path}/solved")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains(&format!(r#"<form method="post" action="{path}/solved""#)), "{}", confirm.body);
    assert_eq!(status_of(&t, n).await, Status::Open, "a GET changes nothing");
    assert_eq!(jane.post(&t, &format!("{path}/solved"), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(status_of(&t, n).await, Status::Open);
    let before = sent_count(&t).await;
    let done = jane.post(&t, &format!("{path}/solved"), &[("csrf", &confirm.csrf())]).await;
    assert_eq!(done.header("location"), Some(format!("{path}?done=solved").as_str()));
    assert_eq!(status_of(&t, n).await, Status::Resolved);
    let mails = sent_since(&t, before).await;
    let recipients: Vec<&str> = mails.iter().map(|(to, _)| to.as_str()).collect();
    assert!(recipients.contains(&"gus@staff.example") && !recipients.contains(&"ann@staff.example"), "{recipients:?}");
    assert!(recipients.contains(&"kim@partner.example"), "the other customer gets the usual notice");
    assert!(!recipients.contains(&"jane@acme.example"), "not the customer who did it");
    let to_gus = &mails.iter().find(|(to, _)| to == "gus@staff.example").unwrap().1;
    assert!(to_gus.contains("Marked as solved by the customer") && to_gus.contains("jane@acme.example"), "{to_gus}");
    let notes = t.db().await.comments(TicketNumber(n)).await.unwrap();
    assert!(notes.iter().any(
        |c| !c.public && c.body_text.contains("Marked as solved by the customer: now resolved: jane@acme.example")
    ));
    let csrf = confirm.csrf();
    let twice = jane.post(&t, &format!("{path}/solved"), &[("csrf", &csrf)]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body.contains("finished already"), "{}", twice.body);
    assert_eq!(jane.post(&t, &format!("{path}/cancel"), &[("csrf", &csrf)]).await.status, StatusCode::CONFLICT);

    // Reopened within the window, then cancelled.
    assert!(jane.get(&t, &path).await.body.contains(&format!(r#"href="{path}/reopen""#)));
    let before = sent_count(&t).await;
    let reopened = jane.post(&t, &format!("{path}/reopen"), &[("csrf", &csrf)]).await;
    assert_eq!(reopened.header("location"), Some(format!("{path}?done=reopen").as_str()));
    assert_eq!(status_of(&t, n).await, Status::Open);
    let mails = sent_since(&t, before).await;
    assert!(mails.iter().any(|(to, raw)| to == "gus@staff.example" && raw.contains("Reopened by the customer")));
    let cancelled = jane.post(&t, &format!("{path}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(cancelled.header("location"), Some(format!("{path}?done=cancel").as_str()));
    assert_eq!(status_of(&t, n).await, Status::Cancelled);

    // Past the window a reopen is refused, and a follow-up is offered.
    t.age_status(n, 8).await;
    let late = jane.post(&t, &format!("{path}/reopen"), &[("csrf", &csrf)]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.body.contains("finished more than 7 days ago")
            && late.body.contains(&format!("/requests/new?follows={n}"))
    );
    assert_eq!(status_of(&t, n).await, Status::Cancelled);
    assert_eq!(jane.get(&t, &format!("{path}/delete")).await.status, StatusCode::NOT_FOUND);
});

/// An event stream's body.
type Events = futures::stream::BoxStream<'static, Result<axum::body::Bytes, axum::Error>>;

/// What arrives on an event stream until `marker` has (at most 5 s), as text.
async fn events_until(stream: &mut Events, marker: &str) -> String {
    use futures::StreamExt;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !text.contains(marker)
        && let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

on_both!(an_open_request_page_hears_of_new_comments_and_statuses_from_the_store, |db| {
    use futures::StreamExt;
    let t = desk(db, |_| {}).await;
    let n = opened(&t, "jane@acme.example", "Live", "live@acme.example", "").await;
    opened(&t, "out@other.example", "Other", "out@other.example", "").await;
    let mut jane = sign_up_as(&t, "jane@acme.example", "192.0.2.30:1").await;
    let mut out = sign_up_as(&t, "out@other.example", "192.0.2.31:1").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let follower = tokio::spawn(maildesk::desk::live::follow(t.app.clone(), stop.clone()));
    tokio::time::sleep(maildesk::desk::live::POLL_EVERY * 2).await;

    let page = jane.get(&t, &format!("/requests/{n}")).await;
    let after = t.db().await.comments(TicketNumber(n)).await.unwrap().last().unwrap().id.0;
    assert!(page.body.contains(&format!(r#"data-events="/requests/{n}/events?after={after}""#)), "{}", page.body);
    let (status, body) = out.stream(&t, &format!("/requests/{n}/events?after={after}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not hers to follow");
    let (status, body2) = jane.stream(&t, &format!("/requests/{n}/events?after={after}")).await;
    drop(body);
    assert_eq!(status, StatusCode::OK);
    let mut events = body2.into_data_stream().boxed();

    // A mail from Jane: the page hears of it.
    let reply = mail(
        "jane@acme.example",
        &format!("Re: [Support #{n}] Live"),
        Some("live2@acme.example"),
        "",
        "By mail, LIVE-ONE.",
    );
    receive(&t.app, &reply, &Source::Pipe).await.unwrap();
    let got = events_until(&mut events, "LIVE-ONE").await;
    assert!(got.contains("event: comment") && got.contains("LIVE-ONE"), "{got}");
    assert!(got.contains(r#"<li class="theirs" id="comment-"#), "the comment as the page shows it: {got}");

    // Written to the store by something else altogether (another node), and a note only
    // staff see: the first is heard, the second never.
    let mut db = t.db().await;
    for (public, words) in [(false, "ZEBRA-NOTE"), (true, "LIVE-TWO from elsewhere")] {
        let comment = NewComment {
            ticket: TicketNumber(n),
            author_id: None,
            public,
            from_staff: true,
            body_text: words,
            body_reply: words,
            body_html: None,
            message_id: None,
        };
        db.insert_comment(&comment).await.unwrap();
    }
    drop(db);
    let got = events_until(&mut events, "LIVE-TWO").await;
    assert!(got.contains("LIVE-TWO from elsewhere") && !got.contains("ZEBRA"), "{got}");
    assert!(!got.contains("@staff.example"));

    maildesk::desk::staff::set_status(&t.app, TicketNumber(n), Status::Resolved).await.unwrap();
    let got = events_until(&mut events, "data: Resolved").await;
    assert!(got.contains("event: status\ndata: Resolved"), "{got}");
    stop.cancel();
    follower.await.unwrap();
});

// ---- The authorisation matrix ----

/// Who asks, in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Requester,
    Participant,
    Colleague,
    Primary,
    OtherOrganisation,
    Anonymous,
}

impl Role {
    /// Whether the role may see the requester's ticket.
    fn sees(self) -> bool {
        matches!(self, Role::Requester | Role::Participant | Role::Primary)
    }
}

on_both!(the_authorisation_matrix_every_route_and_action_by_every_role, |db| {
    let t = desk(db, |_| {}).await;
    // Everyone writes once (so they are invited), then Jane asks the secret question with
    // Kim of a partner company in Cc.
    opened(&t, "kim@partner.example", "Kim's own", "kim@partner.example", "").await;
    opened(&t, "lee@acme.example", "Lee's own", "lee@acme.example", "").await;
    opened(&t, "pat@acme.example", "Pat's own", "pat@acme.example", "").await;
    let theirs = opened(&t, "out@other.example", "OTHER-SECRET plans", "out@other.example", "").await;
    let n = opened(&t, "jane@acme.example", "SECRET-7 numbers", "jane@acme.example", "Cc: kim@partner.example\n").await;
    maildesk::desk::contacts::set_primary(&t.app, &EmailAddress::parse("pat@acme.example").unwrap(), true)
        .await
        .unwrap();
    let mut note = t.db().await;
    let internal = NewComment {
        ticket: TicketNumber(n),
        author_id: None,
        public: false,
        from_staff: true,
        body_text: "ZEBRA-NOTE only for staff",
        body_reply: "ZEBRA-NOTE only for staff",
        body_html: None,
        message_id: None,
    };
    note.insert_comment(&internal).await.unwrap();
    drop(note);
    let mut browsers = [
        (Role::Requester, sign_up_as(&t, "jane@acme.example", "192.0.2.20:1").await),
        (Role::Participant, sign_up_as(&t, "kim@partner.example", "192.0.2.21:1").await),
        (Role::Colleague, sign_up_as(&t, "lee@acme.example", "192.0.2.22:1").await),
        (Role::Primary, sign_up_as(&t, "pat@acme.example", "192.0.2.23:1").await),
        (Role::OtherOrganisation, sign_up_as(&t, "out@other.example", "192.0.2.24:1").await),
        (Role::Anonymous, Browser::new("192.0.2.25:1")),
    ];
    // A file on the ticket, from Jane.
    let (csrf, form_id) = answer_form(&mut browsers[0].1, &t, &format!("/requests/{n}")).await;
    let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", "SECRET-7 attached")];
    let file = [("files", "secret.png", "image/png", PNG)];
    browsers[0].1.post_multipart(&t, &format!("/requests/{n}/reply"), &fields, &file).await;
    let file = t.db().await.attachments(TicketNumber(n)).await.unwrap()[0].id;

    let reads = [
        format!("/requests/{n}"),
        format!("/requests/{n}?order=newest"),
        format!("/requests/{n}/files/{file}"),
        format!("/requests/{n}/files/{file}/preview"),
        format!("/requests/{n}/solved"),
        format!("/requests/{n}/cancel"),
        format!("/requests/{n}/reopen"),
    ];
    let check_body = |role: Role, what: &str, answer: &Answer| {
        assert!(!answer.body.contains("ZEBRA-NOTE"), "{role:?} {what}: an internal note shows");
        assert!(!answer.body.contains("@staff.example"), "{role:?} {what}: a staff address shows");
        if role != Role::OtherOrganisation {
            assert!(!answer.body.contains("OTHER-SECRET"), "{role:?} {what}: another organisation's request shows");
        }
        if !role.sees() {
            assert!(!answer.body.contains("SECRET-7"), "{role:?} {what}: the request shows");
        }
    };
    for (role, browser) in browsers.iter_mut() {
        let role = *role;
        for path in &reads {
            let answer = browser.get(&t, path).await;
            let expected = match role {
                Role::Anonymous => StatusCode::SEE_OTHER,
                r if r.sees() => StatusCode::OK,
                _ => StatusCode::NOT_FOUND,
            };
            assert_eq!(answer.status, expected, "{role:?} GET {path}");
            if role == Role::Anonymous {
                assert_eq!(answer.header("location"), Some("/login"), "{role:?} GET {path}");
            }
            check_body(role, path, &answer);
        }
        for path in ["/", "/requests", "/requests?status=open", "/requests/new"] {
            let answer = browser.get(&t, path).await;
            let expected = if role == Role::Anonymous && path != "/" { StatusCode::SEE_OTHER } else { StatusCode::OK };
            assert_eq!(answer.status, expected, "{role:?} GET {path}");
            check_body(role, path, &answer);
            if role.sees() && path.starts_with("/requests") && path != "/requests/new" {
                assert!(answer.body.contains("SECRET-7"), "{role:?} GET {path}: their request is listed");
            }
        }
        // The live events of the request: a stream for those who may see it.
        let (status, _) = browser.stream(&t, &format!("/requests/{n}/events?after=0")).await;
        let expected = match role {
            Role::Anonymous => StatusCode::SEE_OTHER,
            r if r.sees() => StatusCode::OK,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(status, expected, "{role:?} GET events");
        // The other organisation's request is theirs alone.
        let other = browser.get(&t, &format!("/requests/{theirs}")).await;
        let expected = match role {
            Role::OtherOrganisation => StatusCode::OK,
            Role::Anonymous => StatusCode::SEE_OTHER,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(other.status, expected, "{role:?} GET /requests/{theirs}");
    }
    // Writes: the answer, and each change of status. Those who may not see the request get
    // 404 and change nothing; those who may get through to the lifecycle's rules.
    for (role, browser) in browsers.iter_mut() {
        let role = *role;
        let csrf = match role {
            Role::Anonymous => "0".repeat(64),
            _ => browser.get(&t, "/requests/new").await.csrf(),
        };
        let (comments, status) = (comment_count(&t, n).await, status_of(&t, n).await);
        let form_id = maildesk::desk::requests::new_form_id();
        let words = format!("words of {role:?}");
        let fields = [("csrf", csrf.as_str()), ("form_id", form_id.as_str()), ("text", words.as_str())];
        let answer = browser.post_multipart(&t, &format!("/requests/{n}/reply"), &fields, &[]).await;
        check_body(role, "POST reply", &answer);
        match role {
            Role::Anonymous => assert_eq!(answer.header("location"), Some("/login")),
            r if r.sees() => assert_eq!(answer.status, StatusCode::SEE_OTHER, "{role:?} POST reply"),
            _ => assert_eq!(answer.status, StatusCode::NOT_FOUND, "{role:?} POST reply"),
        }
        let added = comment_count(&t, n).await - comments;
        assert_eq!(added, usize::from(role.sees()), "{role:?}: comments added");
        for change in ["solved", "cancel", "reopen"] {
            let before = status_of(&t, n).await;
            let answer = browser.post(&t, &format!("/requests/{n}/{change}"), &[("csrf", &csrf)]).await;
            check_body(role, change, &answer);
            match role {
                Role::Anonymous => assert_eq!(answer.header("location"), Some("/login")),
                r if r.sees() => assert!(
                    [StatusCode::SEE_OTHER, StatusCode::CONFLICT].contains(&answer.status),
                    "{role:?} POST {change}: {}",
                    answer.status
                ),
                _ => {
                    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{role:?} POST {change}");
                    assert_eq!(status_of(&t, n).await, before, "{role:?} POST {change} changed the status");
                }
            }
        }
        if !role.sees() {
            assert_eq!(status_of(&t, n).await, status, "{role:?} changed nothing");
        }
    }
});
