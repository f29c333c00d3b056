//! desk's read models: what staff and what a contact see of tickets, on SQLite and
//! PostgreSQL. A contact sees the tickets they ask or are copied on (a primary contact, their
//! organisation's too), the public conversation only, and staff by name, never by address.

mod common;

use common::{TestApp, mail};
use maildesk::config::OrganisationConfig;
use maildesk::desk::tickets::{self, TicketQuery};
use maildesk::desk::{Outcome, contacts, receive, roster, staff};
use maildesk::domain::{ContactId, EmailAddress, Role, Source, StaffNotify, Status, TicketNumber};

fn address(text: &str) -> EmailAddress {
    EmailAddress::parse(text).unwrap()
}

async fn open(t: &TestApp, from: &str, subject: &str, cc: &str) -> TicketNumber {
    let extra = if cc.is_empty() { String::new() } else { format!("Cc: {cc}\n") };
    match receive(&t.app, &mail(from, subject, None, &extra, "Please help."), &Source::Pipe).await.unwrap() {
        Outcome::Opened(n) => n,
        other => panic!("expected a new ticket, got {other:?}"),
    }
}

async fn contact_id(t: &TestApp, email: &str) -> ContactId {
    contacts::detail(&t.app, &address(email)).await.unwrap().contact.id
}

fn numbers<T>(rows: &[T], id: impl Fn(&T) -> TicketNumber) -> Vec<TicketNumber> {
    let mut ids: Vec<TicketNumber> = rows.iter().map(id).collect();
    ids.sort();
    ids
}

on_both!(a_contact_sees_their_own_and_copied_tickets_and_a_primary_contact_their_organisations, |db| {
    let t = TestApp::with(db, |c| {
        c.organisations = vec![OrganisationConfig { name: "Acme".into(), domains: vec!["acme.example".into()] }];
    })
    .await;
    let ann = open(&t, "Ann <ann@acme.example>", "Ann's printer", "").await;
    let copied = open(&t, "Bob <bob@acme.example>", "Bob asks, Cid copied", "cid@acme.example").await;
    let dan = open(&t, "Dan <dan@acme.example>", "Dan's alone", "").await;
    let stranger = open(&t, "Eve <eve@other.example>", "Elsewhere", "").await;

    let all = TicketQuery { limit: 100, ..TicketQuery::default() };
    let cid = contact_id(&t, "cid@acme.example").await;
    let seen = tickets::list_for(&t.app, cid, &all).await.unwrap();
    assert_eq!(numbers(&seen, |r| r.id), vec![copied], "a cc sees the ticket they are on, no other");
    let ann_id = contact_id(&t, "ann@acme.example").await;
    assert_eq!(numbers(&tickets::list_for(&t.app, ann_id, &all).await.unwrap(), |r| r.id), vec![ann]);
    assert!(tickets::detail_for(&t.app, ann_id, dan).await.unwrap().is_none(), "a colleague's ticket is not hers");
    assert!(tickets::detail_for(&t.app, ann_id, stranger).await.unwrap().is_none());

    // Made a primary contact, Ann sees every Acme ticket; never another organisation's.
    contacts::set_primary(&t.app, &address("ann@acme.example"), true).await.unwrap();
    let seen = tickets::list_for(&t.app, ann_id, &all).await.unwrap();
    assert_eq!(numbers(&seen, |r| r.id), vec![ann, copied, dan]);
    assert!(tickets::detail_for(&t.app, ann_id, dan).await.unwrap().is_some());
    assert!(tickets::detail_for(&t.app, ann_id, stranger).await.unwrap().is_none());
    // Filters narrow what may be seen, never widen it.
    let open_only = TicketQuery { status: Some(Status::Open), ..TicketQuery::default() };
    assert_eq!(tickets::list_for(&t.app, ann_id, &open_only).await.unwrap().len(), 3);
    let eves = TicketQuery { requester: Some(address("eve@other.example")), ..TicketQuery::default() };
    assert!(tickets::list_for(&t.app, ann_id, &eves).await.unwrap().is_empty(), "a filter is no way in");
    let unassigned = TicketQuery { assignee: Some(None), ..TicketQuery::default() };
    assert_eq!(tickets::list_for(&t.app, ann_id, &unassigned).await.unwrap().len(), 3);
    assert_eq!(TicketQuery::default().limit, 100, "a default query lists more than one ticket");
    // Someone who is no contact sees nothing.
    let nobody = ContactId(i64::MAX);
    assert!(tickets::list_for(&t.app, nobody, &all).await.unwrap().is_empty());
    assert!(tickets::detail_for(&t.app, nobody, ann).await.unwrap().is_none());
    let eve_id = contact_id(&t, "eve@other.example").await;
    assert_eq!(numbers(&tickets::list_for(&t.app, eve_id, &all).await.unwrap(), |r| r.id), vec![stranger]);

    // A primary contact without an organisation is refused; standard again, Ann sees her own.
    let refused = contacts::set_primary(&t.app, &address("eve@other.example"), true).await;
    assert!(matches!(refused, Err(contacts::ContactError::NoOrganisation(_))), "{refused:?}");
    contacts::set_primary(&t.app, &address("ann@acme.example"), false).await.unwrap();
    assert_eq!(tickets::list_for(&t.app, ann_id, &all).await.unwrap().len(), 1);

    // Staff see everything.
    let staff_view = tickets::list(&t.app, &all).await.unwrap();
    assert_eq!(numbers(&staff_view, |s| s.ticket.id), vec![ann, copied, dan, stranger]);
});

on_both!(a_contact_reads_the_public_conversation_and_staff_by_name_only, |db| {
    let t = TestApp::new(db).await;
    roster::add(&t.app, &address("agent@staff.example"), "Agnes Agent", None, StaffNotify::All).await.unwrap();
    roster::add(&t.app, &address("nameless@staff.example"), "", None, StaffNotify::All).await.unwrap();
    let n = open(&t, "Jane <jane@example.com>", "Printer", "tom@example.com").await;
    let agent = address("agent@staff.example");
    staff::reply(&t.app, n, &agent, "We are on it.").await.unwrap();
    let note = staff::Act {
        commands: vec![maildesk::domain::Command::Note],
        body: "Secret: the vendor is slow.",
        ..staff::Act::default()
    };
    staff::act(&t.app, n, &agent, &note).await.unwrap();
    staff::reply(&t.app, n, &address("nameless@staff.example"), "Still on it.").await.unwrap();
    let assign = staff::Act {
        commands: vec![maildesk::domain::Command::Assign(maildesk::domain::Assignee::Address(agent.clone()))],
        ..staff::Act::default()
    };
    staff::act(&t.app, n, &agent, &assign).await.unwrap();

    let jane = contact_id(&t, "jane@example.com").await;
    let view = tickets::detail_for(&t.app, jane, n).await.unwrap().expect("her own ticket");
    let bodies: Vec<&str> = view.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["Please help.", "We are on it.", "Still on it."], "internal notes never show");
    let authors: Vec<(&str, bool)> = view.comments.iter().map(|c| (c.author.as_str(), c.from_staff)).collect();
    assert_eq!(authors, [("Jane", false), ("Agnes Agent", true), ("Support", true)]);
    assert_eq!(view.ticket.assignee_name.as_deref(), Some("Agnes Agent"));
    assert_eq!(view.ticket.comment_count, 3, "public comments are counted, not notes");
    let shown = serde_json::to_string(&view).unwrap();
    for secret in ["agent@staff.example", "nameless@staff.example", "Secret"] {
        assert!(!shown.contains(secret), "{secret} shown to a customer: {shown}");
    }
    let roles: Vec<(&str, Role)> = view.participants.iter().map(|p| (p.who.as_str(), p.role)).collect();
    assert_eq!(roles, [("jane@example.com", Role::Requester), ("tom@example.com", Role::Cc)]);

    // The staff view has everything, the note and the addresses included.
    let full = tickets::detail(&t.app, n).await.unwrap().unwrap();
    assert_eq!(full.comments.len(), 4);
    assert_eq!(full.summary.ticket.assignee.as_deref(), Some("agent@staff.example"));
    assert!(full.comments.iter().any(|c| !c.public && c.body_reply.contains("Secret")));
    // A staff member copied on a ticket, or asking one, is shown by name; and a staff member
    // who left is still shown by name, never by address.
    let cc = staff::Act {
        commands: vec![maildesk::domain::Command::CcAdd(address("nameless@staff.example"))],
        ..staff::Act::default()
    };
    staff::act(&t.app, n, &agent, &cc).await.unwrap();
    assert!(roster::remove(&t.app, &agent).await.unwrap());
    let view = tickets::detail_for(&t.app, jane, n).await.unwrap().unwrap();
    let shown = serde_json::to_string(&view).unwrap();
    for secret in ["agent@staff.example", "nameless@staff.example"] {
        assert!(!shown.contains(secret), "{secret} shown to a customer: {shown}");
    }
    assert!(view.participants.iter().any(|p| p.from_staff && p.who == "Support" && p.role == Role::Cc), "{shown}");
    assert!(view.comments[1].from_staff && view.comments[1].author == "Support", "{shown}");
    let asks = open(&t, "Nameless <nameless@staff.example>", "Staff asks", "jane@example.com").await;
    let listed =
        serde_json::to_string(&tickets::list_for(&t.app, jane, &TicketQuery::default()).await.unwrap()).unwrap();
    assert!(listed.contains("Staff asks") && !listed.contains("nameless@staff.example"), "{listed}");
    assert!(tickets::detail_for(&t.app, jane, asks).await.unwrap().is_some(), "copied, she sees it");

    // The roster lists table and config members, with their preference.
    let members = roster::roster(&t.app).await.unwrap().members;
    assert!(members.iter().any(|m| m.email == "nameless@staff.example" && !m.from_config));
    assert!(!members.iter().any(|m| m.email == "agent@staff.example"), "removed");
});
