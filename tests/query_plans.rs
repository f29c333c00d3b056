//! The statements of the portal's request list use indexes for every shape the list runs:
//! each visibility (a standard contact, a primary contact), with and without filters, in
//! each order, searching for words, a number or an address. The plans come from the store
//! (`Conn::explain_find_tickets`), so they are those of the very statements the list runs.
//! On PostgreSQL, whose planner rightly prefers to read the few rows of test data whole,
//! sequential scans are turned off for these statements: the question is whether an index
//! path exists. On SQLite, whose planner does not weigh the data that way, the plans are
//! those it would run.

mod common;

use maildesk::domain::{ContactId, EmailAddress, OrganisationId, Priority, Role, Status, TicketNumber};
use maildesk::store::{NewComment, NewTicket, TicketFilter, TicketOrder, TicketSearch};

/// The tables a list must never read whole, under every name the statements give them.
const TABLES: &[&str] = &["tickets", "t", "ot", "ts", "comments", "m", "ticket_participants", "p"];

/// The plan lines that read one of [`TABLES`] whole: SQLite's `SCAN <table>` (with or
/// without an index: either reads every row), PostgreSQL's `Seq Scan on <table>`. SQLite's
/// `SCAN ticket_words VIRTUAL TABLE INDEX …` is a look-up in the FTS5 index, and a `SCAN`
/// of a sub-select's few rows (`arm0`, `page`, …) reads no table.
fn full_scans(plan: &[String]) -> Vec<String> {
    plan.iter()
        .filter(|line| {
            let line = line.trim_start_matches([' ', '-', '>']).trim();
            let scanned = line
                .strip_prefix("SCAN ")
                .or_else(|| line.strip_prefix("Seq Scan on "))
                .or_else(|| line.split("Seq Scan on ").nth(1))
                .and_then(|rest| rest.split_whitespace().next());
            scanned.is_some_and(|name| TABLES.contains(&name))
        })
        .cloned()
        .collect()
}

/// The statements of a plan by their heading (`-- what`), each with its steps.
fn sections(plan: &[String]) -> Vec<(String, Vec<String>)> {
    let mut all: Vec<(String, Vec<String>)> = Vec::new();
    for line in plan {
        match line.strip_prefix("-- ") {
            Some(what) => all.push((what.to_string(), Vec::new())),
            None => all.last_mut().expect("a plan starts with its heading").1.push(line.clone()),
        }
    }
    // How many index entries have the words asks the full-text index alone.
    all.retain(|(what, _)| what != "index entries");
    all
}

#[test]
fn the_reader_sees_full_scans() {
    let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(full_scans(&lines(&["SCAN t", "SEARCH t USING INTEGER PRIMARY KEY (rowid=?)"])), ["SCAN t"]);
    assert_eq!(full_scans(&lines(&["SCAN t USING INDEX tickets_status"])).len(), 1);
    assert_eq!(full_scans(&lines(&["   ->  Seq Scan on comments m  (cost=0.00..1.01 rows=1 width=8)"])).len(), 1);
    let fine =
        ["SCAN ticket_words VIRTUAL TABLE INDEX 0:M1", "SCAN arm0", "Index Scan using tickets_pkey on tickets t"];
    assert!(full_scans(&lines(&fine)).is_empty());
}

/// Acme (organisation 1) with Pat (standard contact) and Kim (primary contact), a few
/// tickets each, public replies and an internal note; Kim is copied on a ticket of
/// another organisation.
async fn seeded(store: &maildesk::store::Store) -> (ContactId, (ContactId, OrganisationId)) {
    let mut tx = store.begin().await.unwrap();
    let acme = tx.upsert_organisation("Acme").await.unwrap();
    let other = tx.upsert_organisation("Other").await.unwrap();
    let address = |a: &str| EmailAddress::parse(a).unwrap();
    let pat = tx.upsert_contact(&address("pat@acme.example"), "Pat", Some(acme)).await.unwrap();
    let kim = tx.upsert_contact(&address("kim@acme.example"), "Kim", Some(acme)).await.unwrap();
    let out = tx.upsert_contact(&address("out@other.example"), "Out", Some(other)).await.unwrap();
    for (i, (who, organisation)) in [(pat, acme), (kim, acme), (out, other), (pat, acme)].into_iter().enumerate() {
        let subject = format!("Printer {i} jammed");
        let n = tx
            .insert_ticket(&NewTicket {
                subject: &subject,
                requester_id: who,
                organisation_id: Some(organisation),
                status: Status::Open,
                priority: Priority::Medium,
                department: None,
                assignee: None,
            })
            .await
            .unwrap();
        tx.add_participant(n, who, Role::Requester).await.unwrap();
        if who == out {
            tx.add_participant(n, kim, Role::Cc).await.unwrap();
        }
        for (public, body) in [(true, "The tray squeaks."), (false, "Secret note.")] {
            let comment = NewComment {
                ticket: n,
                author_id: Some(who),
                public,
                from_staff: false,
                body_text: body,
                body_reply: body,
                body_html: None,
                message_id: None,
            };
            tx.insert_comment(&comment).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    (pat, (kim, acme))
}

/// Every shape of the list for a viewer: plain, each filter, each order, each search.
fn shapes(viewer: (ContactId, Option<OrganisationId>)) -> Vec<(String, TicketFilter)> {
    let base = TicketFilter { visible_to: Some(viewer), limit: 25, ..TicketFilter::default() };
    let search = |s: TicketSearch| TicketFilter { search: Some(s), count_at_most: Some(1000), ..base.clone() };
    let words =
        |w: &[&str]| TicketSearch { words: w.iter().map(|w| w.to_string()).collect(), ..TicketSearch::default() };
    let mut all = vec![
        ("plain".to_string(), base.clone()),
        ("a later page".into(), TicketFilter { offset: 50, ..base.clone() }),
        ("status".into(), TicketFilter { status: Some(Status::Open), ..base.clone() }),
        (
            "state".into(),
            TicketFilter { statuses: vec![Status::Resolved, Status::Closed, Status::Cancelled], ..base.clone() },
        ),
        ("priority".into(), TicketFilter { priority: Some(Priority::Urgent), ..base.clone() }),
        ("requester".into(), TicketFilter { requester: Some("pat@acme.example".into()), ..base.clone() }),
        ("words".into(), search(words(&["printer"]))),
        ("two words".into(), search(words(&["tray", "squeaks"]))),
        (
            "a number".into(),
            search(TicketSearch { numbers: vec![TicketNumber(2)], words: vec!["2".into()], ..TicketSearch::default() }),
        ),
        ("an address".into(), search(TicketSearch { addresses: vec!["pat@".into()], ..TicketSearch::default() })),
        (
            "words, an address and a status".into(),
            TicketFilter {
                status: Some(Status::Open),
                ..search(TicketSearch { addresses: vec!["pat@".into()], ..words(&["printer"]) })
            },
        ),
    ];
    for order in [TicketOrder::Created, TicketOrder::Activity, TicketOrder::Priority] {
        all.push((format!("{order:?} order"), TicketFilter { order, ..base.clone() }));
        all.push((format!("words in {order:?} order"), TicketFilter { order, ..search(words(&["printer"])) }));
    }
    all
}

on_both!(no_list_of_a_contact_reads_tickets_comments_or_participants_whole, |db| {
    let dir = tempfile::tempdir().unwrap();
    let store = common::fresh_store(db, dir.path()).await;
    let (pat, (kim, acme)) = seeded(&store).await;
    let mut conn = store.conn().await.unwrap();
    let mut checked = 0;
    for (who, viewer) in [("a standard contact", (pat, None)), ("a primary contact", (kim, Some(acme)))] {
        for (shape, filter) in shapes(viewer) {
            let plan = conn.explain_find_tickets(&filter, true).await.unwrap();
            if std::env::var("SHOW_PLANS").is_ok() {
                println!("== {who}, {shape}\n{}", plan.join("\n"));
            }
            assert!(plan.iter().filter(|l| l.starts_with("-- ")).count() >= 2, "{who}, {shape}: {plan:#?}");
            let scans = full_scans(&plan);
            assert!(scans.is_empty(), "{who}, {shape} reads a table whole: {scans:?}\n{}", plan.join("\n"));
            // Each statement starts from who may see the tickets: a scan of some other
            // index (every open ticket, say) would be no full scan, and as slow.
            for (what, steps) in sections(&plan) {
                let uses = |index: &str| steps.iter().any(|s| s.contains(index));
                assert!(uses("ticket_participants_contact"), "{who}, {shape}, {what}: {}", steps.join("\n"));
                // (Or from the one requester asked for, as selective.)
                if viewer.1.is_some() {
                    let organisation =
                        uses("tickets_organisation") || shape == "requester" && uses("tickets_requester");
                    assert!(organisation, "{who}, {shape}, {what}: {}", steps.join("\n"));
                }
                // SQLite, which has no statistics, would read every ticket of a status.
                if db == common::Db::Sqlite {
                    assert!(!uses("tickets_status"), "{who}, {shape}, {what}: {}", steps.join("\n"));
                }
                // A large organisation's page reads that page, in order.
                if viewer.1.is_some() && shape == "Activity order" && what == "page" {
                    assert!(uses("tickets_organisation_activity"), "{shape}: {}", steps.join("\n"));
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * shapes((pat, None)).len());
    // The statements the plans are of find what the list finds.
    let mut filter = TicketFilter { visible_to: Some((kim, Some(acme))), limit: 25, ..TicketFilter::default() };
    filter.search = Some(TicketSearch { words: vec!["squeaks".into()], ..TicketSearch::default() });
    assert_eq!(conn.find_tickets(&filter).await.unwrap().len(), 4, "Acme's three and the one Kim is copied on");
});
