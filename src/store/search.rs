//! Lists of tickets: which tickets a filter lets through (who may see them, status,
//! priority, requester, a search), in which order, one page at a time, and how many there
//! are. The portal's list and counts and the staff's `ticket list` all run here. This
//! module decides nothing about who may see what: desk hands it the contact whose view it
//! is, already worked out, and what a search's terms are.
//!
//! # The full-text index, and why it is the database's own
//!
//! A search for words finds a ticket when all of them occur in its subject, or all in one
//! PUBLIC comment's new text (`body_reply`). Each database indexes the words itself —
//! SQLite with FTS5, PostgreSQL with `tsvector` and GIN — rather than a tantivy index
//! beside it: the words are then written in the same transaction as the comment (a search
//! never misses a committed reply nor shows an uncommitted one, and there is nothing to
//! rebuild after a crash or a restore), every node of a PostgreSQL cluster shares them
//! without a refresh protocol, and one statement applies the words, who may see the
//! ticket, the filters, the order and the page, so no page fetches matches it then throws
//! away. Internal notes are in no index at all: no search can reveal their words.
//!
//! - **SQLite** (migrations/sqlite/0017_search.sql): one contentless FTS5 table,
//!   `ticket_words`, kept by triggers, a row per subject (rowid `ticket × 2³²`) and per
//!   public comment (`ticket × 2³² + comment id`). The ticket is the rowid's high half, so
//!   a match needs no look-up, and one ticket's rows are one rowid range, which FTS5 seeks
//!   directly. `detail=none` (which rows hold a word, no positions: a search is words,
//!   never phrases) keeps it small; `unicode61 remove_diacritics 2` folds case and accents.
//! - **PostgreSQL** (migrations/postgres/0017_search.sql): each public comment's words as a
//!   stored `tsvector` (checking a comment then reads them instead of parsing its text,
//!   ~30 µs), and each ticket's words of all its texts (subject and public comments, kept
//!   by triggers) in a GIN index of the tickets table. That index gives the candidates —
//!   a ticket with all the words in one text has them all — without reading a comment;
//!   each candidate's texts are then checked. `maildesk_search_text` folds text much as
//!   FTS5 does (ICU lower case whatever the database's locale, diacritics off, anything but
//!   letters and digits a space; the `'simple'` configuration: no stemming, no stop
//!   words), so both find the same tickets for the same words.
//!
//! The words of a search are cut out by [`words`] as the index cuts text, so a hostile
//! search (quotes, `*`, `NEAR(`, `:`, `-`, NUL bytes) is only ever words.
//!
//! # Speed (100,000 tickets, 1,000,000 comments)
//!
//! Who may see a ticket is an `IN` over `ticket_participants(contact_id, ticket_id)` —
//! never an `OR` that reads every ticket — and, for a primary contact, a second arm: the
//! organisation's tickets, read in the list's order from `tickets(organisation_id,
//! updated_at, id)` or `(organisation_id, id)`, so that a page of a large organisation
//! reads that page and its count the index. Only the page's tickets are read in full (the
//! comment counts are counted for them alone). A search for words among a contact's
//! tickets checks each of them when they are few (SQLite: [`PROBE_AT_MOST`]; PostgreSQL:
//! the GIN index's candidates), else lists the index's matches when those are few, else
//! checks the tickets in order until the page and the count are full: a word in every
//! other text is then found at once, and its count stops at the cap desk sets (four pages
//! past the one shown: "more than 100"), which is what bounds the cost of a common word in
//! a large organisation.

use super::tickets::{TicketRow, ticket_select};
use super::{Backend, Conn, Result, on_conn};
use crate::domain::{ContactId, OrganisationId, Priority, Status, TicketNumber};

/// Which tickets a list shows; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only one of these statuses (none given: any).
    pub statuses: Vec<Status>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only this department.
    pub department: Option<String>,
    /// Only tickets assigned to this address (`Some(None)`: unassigned ones).
    pub assignee: Option<Option<String>>,
    /// Only tickets this address asked (as requester).
    pub requester: Option<String>,
    /// Only tickets this contact takes part in (as requester or participant: the requester
    /// is always a participant too) or, with an organisation, that organisation's tickets
    /// too.
    pub visible_to: Option<(ContactId, Option<OrganisationId>)>,
    /// Only tickets past their response target: the target in seconds per priority
    /// (low, medium, high, urgent; none: no target), measured at `now`; only the
    /// statuses of [`Status::AWAITING_STAFF`] count.
    pub overdue: Option<([Option<i64>; 4], i64)>,
    /// Only tickets this search finds.
    pub search: Option<TicketSearch>,
    /// In this order.
    pub order: TicketOrder,
    /// At most this many.
    pub limit: i64,
    /// After skipping this many.
    pub offset: i64,
    /// Count at most this many (more are then told as "more than"), when given: the cost
    /// of a count of a search's matches can then be bounded.
    pub count_at_most: Option<i64>,
}

/// A page of tickets and how many there are on all pages.
#[derive(Debug, Clone)]
pub struct FoundTickets {
    /// The page, in the filter's order.
    pub tickets: Vec<TicketRow>,
    /// How many tickets the filter lets through; with `more`, how many were counted.
    pub total: i64,
    /// There are more than `total` (the filter's `count_at_most`), not counted.
    pub more: bool,
}

/// What a search asks for, split into its terms. A ticket is found when its number is one
/// of `numbers` or its text has all of `words` (when neither is given, any ticket), and its
/// requester's address contains each of `addresses`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketSearch {
    /// Ticket numbers asked for.
    pub numbers: Vec<TicketNumber>,
    /// Words that must all occur in the subject, or all in one public comment's new text;
    /// as [`words`] cuts them (other text would not match anything).
    pub words: Vec<String>,
    /// Parts of the requester's address, lower-case.
    pub addresses: Vec<String>,
}

/// How a list is ordered. Each order ends with the ticket number, newest first, so that
/// pages neither overlap nor leave a ticket out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TicketOrder {
    /// Newest first.
    #[default]
    Created,
    /// Last activity first.
    Activity,
    /// Most urgent first (urgent, high, medium, low), then last activity.
    Priority,
}

/// At most this many words of a search count; a longer search is cut there.
pub const MAX_WORDS: usize = 12;

/// Only this much of a search's text is read.
const MAX_SEARCH_BYTES: usize = 1000;

/// The words of `text` as the full-text index cuts text into words: runs of letters,
/// digits and combining marks, each at most once, at most [`MAX_WORDS`] of them. Anything
/// else separates words and is never part of the search, so no character a visitor types
/// reaches FTS5's query syntax.
pub fn words(text: &str) -> Vec<String> {
    let mut cut = MAX_SEARCH_BYTES.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut found: Vec<String> = Vec::new();
    for word in text[..cut].split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty()) {
        if found.len() == MAX_WORDS {
            break;
        }
        if !found.iter().any(|f| f.to_lowercase() == word.to_lowercase()) {
            found.push(word.to_string());
        }
    }
    found
}

/// Whether `c` is part of a word for the index. A subset of what SQLite's tokenizer takes
/// as word characters (categories L*, N*, Co, M*), so that no word of ours is ever cut in
/// two there (that would make it a phrase, which a `detail=none` index refuses): letters
/// and digits, but not the enclosed ones (Ⓐ, ①, 🄰, which Rust counts as alphabetic but
/// Unicode files as symbols), and the combining marks.
fn is_word_char(c: char) -> bool {
    let enclosed = matches!(c, '\u{2460}'..='\u{24FF}' | '\u{1F100}'..='\u{1F1FF}');
    let mark = matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}');
    (c.is_alphanumeric() && !enclosed) || mark
}

/// A value bound to a statement made here.
enum Arg {
    Int(i64),
    Text(String),
}

/// A statement being written: the values its placeholders stand for, and how it is to be
/// planned.
struct Statement {
    backend: Backend,
    args: Vec<Arg>,
    /// PostgreSQL must plan it for its values each time (see [`Built::persistent`]).
    plan_each_time: bool,
}

/// A statement ready to run.
struct Built {
    sql: String,
    args: Vec<Arg>,
    /// Whether it is prepared once and its plan kept. A search for words is not: it is
    /// planned anew for its values (an unnamed statement), its words folded once into a
    /// constant query. A plan kept for any words, as PostgreSQL makes one after a few runs,
    /// knows neither the words nor the organisation, chooses as if both were average, and
    /// folds the words again for every row it checks: measured ten to twenty times slower
    /// for a large organisation. Planning anew costs about a millisecond.
    persistent: bool,
}

impl Statement {
    fn new(backend: Backend) -> Statement {
        Statement { backend, args: Vec::new(), plan_each_time: false }
    }

    fn build(self, sql: String) -> Built {
        Built { sql, args: self.args, persistent: !self.plan_each_time }
    }

    /// The placeholder of a new value. Only placeholders and constants of this module go
    /// into the text; every value from outside is bound.
    fn int(&mut self, value: i64) -> String {
        self.args.push(Arg::Int(value));
        format!("${}", self.args.len())
    }

    fn text(&mut self, value: impl Into<String>) -> String {
        self.args.push(Arg::Text(value.into()));
        format!("${}", self.args.len())
    }

    /// `(p1, p2, …)` for a non-empty list of values.
    fn texts<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> String {
        let list: Vec<String> = values.into_iter().map(|v| self.text(v)).collect();
        format!("({})", list.join(", "))
    }
}

/// Binds the values of a built statement to a query of either backend, in order.
macro_rules! bind_all {
    ($query:expr, $built:expr) => {{
        let mut q = $query.persistent($built.persistent);
        for arg in &$built.args {
            q = match arg {
                Arg::Int(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_str()),
            };
        }
        q
    }};
}

/// How a search's words are matched on SQLite. (On PostgreSQL, the tickets' GIN index
/// gives the candidates and the planner chooses how to reach them: see
/// [`words_condition`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Words {
    /// Each ticket the other conditions let through is looked up in the index (its rowid
    /// range, about 13 µs): the cost follows the tickets looked up, whether the words are
    /// rare or in every text, and stops with the page, or the count's cap, when they are
    /// common.
    Probe,
    /// The index lists the tickets of all its entries with the words, and the other
    /// conditions keep theirs: the cost follows those entries (well under 1 µs each),
    /// whatever the tickets seen.
    Set,
}

/// Up to this many tickets (of those a contact sees, the other filters applied), a search
/// looks each up ([`Words::Probe`]): a contact who sees few tickets never pays for a word
/// that is in every other comment. Beyond, the words decide (see [`Conn::words_strategy`]).
const PROBE_AT_MOST: i64 = 500;

/// Up to this many index entries with the words (counted up to this bound, from the index
/// alone), the index lists them ([`Words::Set`]); beyond, each ticket is looked up until
/// the page and the count's cap are full, which comes soon: the words are then in a good
/// share of all texts.
const SET_AT_MOST: i64 = 50_000;

/// The tickets `filter` lets through as disjoint sets, each the text `FROM tickets t WHERE
/// …`. Staff's and a standard contact's are one set; a primary contact's are two: the
/// organisation's tickets (read in order from `tickets(organisation_id, …)`, so that a
/// page of a large organisation reads that page only), and those of other organisations
/// (or of none) the contact takes part in.
fn arms(filter: &TicketFilter, words: Words, s: &mut Statement) -> Vec<String> {
    let theirs = |s: &mut Statement, contact: ContactId| {
        let contact = s.int(contact.0);
        format!("t.id IN (SELECT p.ticket_id FROM ticket_participants p WHERE p.contact_id = {contact})")
    };
    let scopes = match filter.visible_to {
        None => vec![(None, words)],
        Some((contact, None)) => vec![(Some(theirs(s, contact)), words)],
        Some((contact, Some(organisation))) => {
            let own = format!("t.organisation_id = {}", s.int(organisation.0));
            let elsewhere = format!(
                "{} AND (t.organisation_id IS NULL OR t.organisation_id <> {})",
                theirs(s, contact),
                s.int(organisation.0)
            );
            // Few tickets of other organisations: each is looked up.
            vec![(Some(own), words), (Some(elsewhere), Words::Probe)]
        }
    };
    scopes
        .into_iter()
        .map(|(scope, words)| {
            let mut all: Vec<String> = scope.into_iter().collect();
            all.extend(conditions(filter, words, s));
            match all.is_empty() {
                true => "FROM tickets t".to_string(),
                false => format!("FROM tickets t WHERE {}", all.join("\n AND ")),
            }
        })
        .collect()
}

/// The conditions of `filter` on `tickets t` but who may see them.
fn conditions(filter: &TicketFilter, words: Words, s: &mut Statement) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    // A contact's tickets are reached from who may see them. SQLite's planner, which has no
    // statistics, would rather read every ticket of a status from `tickets_status` (a third
    // of all tickets, for "open"): a `+` makes the status a mere check on SQLite.
    let status = match s.backend == Backend::Sqlite && filter.visible_to.is_some() {
        true => "+t.status",
        false => "t.status",
    };
    if let Some(one) = filter.status {
        all.push(format!("{status} = {}", s.text(one.as_str())));
    }
    if !filter.statuses.is_empty() {
        all.push(format!("{status} IN {}", s.texts(filter.statuses.iter().map(|s| s.as_str()))));
    }
    if let Some(priority) = filter.priority {
        all.push(format!("t.priority = {}", s.text(priority.as_str())));
    }
    if let Some(department) = &filter.department {
        all.push(format!("t.department = {}", s.text(department.as_str())));
    }
    match &filter.assignee {
        Some(Some(assignee)) => all.push(format!("t.assignee = {}", s.text(assignee.as_str()))),
        Some(None) => all.push("t.assignee IS NULL".into()),
        None => {}
    }
    if let Some(requester) = &filter.requester {
        let email = s.text(requester.as_str());
        all.push(format!("t.requester_id = (SELECT rc.id FROM contacts rc WHERE rc.email = {email})"));
    }
    if let Some((targets, now)) = filter.overdue {
        let awaiting = s.texts(Status::AWAITING_STAFF.iter().map(|s| s.as_str()));
        let now = s.int(now);
        // No target: a span no wait reaches.
        let mut target = |p: Priority, i: usize| {
            let (p, t) = (s.text(p.as_str()), s.int(targets[i].unwrap_or(i64::MAX / 4)));
            format!("WHEN {p} THEN {t}")
        };
        let cases = [
            target(Priority::Low, 0),
            target(Priority::Medium, 1),
            target(Priority::High, 2),
            target(Priority::Urgent, 3),
        ];
        all.push(format!(
            "t.status IN {awaiting} AND t.awaiting_since IS NOT NULL
             AND t.awaiting_since < {now} - CASE t.priority {} END",
            cases.join(" ")
        ));
    }
    if let Some(search) = &filter.search {
        all.extend(search_conditions(search, words, s));
    }
    all
}

/// The conditions of a search.
fn search_conditions(search: &TicketSearch, words: Words, s: &mut Statement) -> Vec<String> {
    let mut all = Vec::new();
    for part in &search.addresses {
        let part = s.text(part.as_str());
        let contains = match s.backend {
            Backend::Sqlite => format!("instr(rc.email, {part}) > 0"),
            Backend::Postgres => format!("strpos(rc.email, {part}) > 0"),
        };
        all.push(format!("EXISTS (SELECT 1 FROM contacts rc WHERE rc.id = t.requester_id AND {contains})"));
    }
    let mut found = Vec::new();
    if !search.numbers.is_empty() {
        let list: Vec<String> = search.numbers.iter().map(|n| s.int(n.0)).collect();
        found.push(format!("t.id IN ({})", list.join(", ")));
    }
    if !search.words.is_empty() {
        found.push(words_condition(&search.words, words, s));
    }
    if !found.is_empty() {
        all.push(format!("({})", found.join(" OR ")));
    }
    all
}

/// The condition that ticket `t` has all of `words` in its subject or in one public
/// comment.
fn words_condition(words: &[String], how: Words, s: &mut Statement) -> String {
    match s.backend {
        Backend::Sqlite => {
            let query = s.text(fts_query(words));
            match how {
                Words::Probe => format!(
                    "EXISTS (SELECT 1 FROM ticket_words WHERE ticket_words MATCH {query}
                             AND ticket_words.rowid BETWEEN t.id * 4294967296 AND t.id * 4294967296 + 4294967295)"
                ),
                Words::Set => format!(
                    "t.id IN (SELECT ticket_words.rowid >> 32 FROM ticket_words WHERE ticket_words MATCH {query})"
                ),
            }
        }
        Backend::Postgres => {
            // The ticket's words (of all its texts) make it a candidate, through the GIN
            // index of tickets or as one row's check; the candidate's texts are then
            // checked one by one. OFFSET 0 keeps the planner from making the EXISTS a
            // hashed set of every matching comment: only a candidate's are read.
            s.plan_each_time = true;
            let text = s.text(words.join(" "));
            let query = format!("plainto_tsquery('simple', maildesk_search_text({text}))");
            format!(
                "(t.search_words @@ {query}
                  AND (maildesk_search_vector(t.subject) @@ {query}
                       OR EXISTS (SELECT 1 FROM comments m WHERE m.ticket_id = t.id AND m.public
                                  AND m.search_words @@ {query} OFFSET 0)))"
            )
        }
    }
}

/// An FTS5 query of `words`, all of which must occur: each a string of its own, so that
/// no operator can be in one.
fn fts_query(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    quoted.join(" ")
}

/// The rank of `t.priority`, most urgent first: 0 to 3.
fn priority_rank() -> String {
    format!(
        "CASE t.priority WHEN '{}' THEN 0 WHEN '{}' THEN 1 WHEN '{}' THEN 2 ELSE 3 END",
        Priority::Urgent.as_str(),
        Priority::High.as_str(),
        Priority::Medium.as_str()
    )
}

/// The ORDER BY of `order`: on `tickets t` (`qualified`), or on the columns `id`,
/// `updated_at` and `rank` of a page's arms.
fn order_by(order: TicketOrder, qualified: bool) -> String {
    let (id, updated, rank) = match qualified {
        true => ("t.id", "t.updated_at", priority_rank()),
        false => ("id", "updated_at", "rank".to_string()),
    };
    match order {
        // Numbers are given in the order tickets are made.
        TicketOrder::Created => format!("{id} DESC"),
        TicketOrder::Activity => format!("{updated} DESC, {id} DESC"),
        TicketOrder::Priority => format!("{rank}, {updated} DESC, {id} DESC"),
    }
}

/// The statement of one page of `filter`: the page's ticket numbers are found and sorted
/// first (each arm giving at most the page's end, in order), and only they are then read
/// in full.
fn page_statement(filter: &TicketFilter, words: Words, backend: Backend) -> Built {
    let mut s = Statement::new(backend);
    let arms = arms(filter, words, &mut s);
    let order = order_by(filter.order, true);
    let page = match arms.as_slice() {
        [arm] => {
            let (limit, offset) = (s.int(filter.limit), s.int(filter.offset));
            format!("SELECT t.id {arm} ORDER BY {order} LIMIT {limit} OFFSET {offset}")
        }
        _ => {
            let end = s.int(filter.limit.saturating_add(filter.offset));
            let rank = priority_rank();
            let each: Vec<String> = arms
                .iter()
                .enumerate()
                .map(|(i, arm)| {
                    format!(
                        "SELECT * FROM (SELECT t.id, t.updated_at, {rank} AS rank {arm}
                                        ORDER BY {order} LIMIT {end}) AS arm{i}"
                    )
                })
                .collect();
            let (limit, offset) = (s.int(filter.limit), s.int(filter.offset));
            format!(
                "SELECT id FROM ({} ORDER BY {} LIMIT {limit} OFFSET {offset}) AS arms",
                each.join("\n UNION ALL "),
                order_by(filter.order, false)
            )
        }
    };
    let sql = format!(
        "{select}
         JOIN ({page}) page ON page.id = t.id
         ORDER BY {order}",
        select = concat!(ticket_select!(), "")
    );
    s.build(sql)
}

/// The statement that counts what `filter` lets through, whatever its page: at most
/// `count_at_most` + 1 in each of its sets when that is given.
fn count_statement(filter: &TicketFilter, words: Words, backend: Backend) -> Built {
    let mut s = Statement::new(backend);
    let arms = arms(filter, words, &mut s);
    let counts: Vec<String> = match filter.count_at_most {
        None => arms.iter().map(|arm| format!("(SELECT COUNT(*) {arm})")).collect(),
        Some(cap) => {
            let over = s.int(cap.saturating_add(1));
            arms.iter()
                .map(|arm| format!("(SELECT COUNT(*) FROM (SELECT 1 AS one {arm} LIMIT {over}) AS counted)"))
                .collect()
        }
    };
    s.build(format!("SELECT {}", counts.join(" + ")))
}

/// The SQLite statement that counts the index entries (subjects and public comments) with
/// all of `words`, up to [`SET_AT_MOST`] + 1, from the index alone.
fn entries_statement(words: &[String]) -> Built {
    let mut s = Statement::new(Backend::Sqlite);
    let query = s.text(fts_query(words));
    let over = s.int(SET_AT_MOST + 1);
    s.build(format!(
        "SELECT COUNT(*) FROM (SELECT 1 AS one FROM ticket_words WHERE ticket_words MATCH {query} LIMIT {over}) AS entries"
    ))
}

/// The statement that counts the tickets of each status `filter` lets through.
fn status_count_statement(filter: &TicketFilter, backend: Backend) -> Built {
    let mut s = Statement::new(backend);
    let each: Vec<String> =
        arms(filter, Words::Set, &mut s).iter().map(|arm| format!("SELECT t.status {arm}")).collect();
    s.build(format!("SELECT status, COUNT(*) FROM ({}) AS seen GROUP BY status", each.join(" UNION ALL ")))
}

/// The tickets a contact's search for words looks among on SQLite: `filter` without the
/// search's words and numbers, counted up to [`PROBE_AT_MOST`] + 1. None for any other
/// list.
fn looked_among(filter: &TicketFilter, backend: Backend) -> Option<TicketFilter> {
    let search = filter.search.as_ref().filter(|s| !s.words.is_empty())?;
    filter.visible_to.filter(|_| backend == Backend::Sqlite)?;
    let search = TicketSearch { words: Vec::new(), numbers: Vec::new(), addresses: search.addresses.clone() };
    Some(TicketFilter { search: Some(search), count_at_most: Some(PROBE_AT_MOST), ..filter.clone() })
}

/// How many pages (of FTS5's ~4 KB) one step of [`Conn::tidy_search_index`] rewrites: a
/// step holds SQLite's write lock for some tens of milliseconds at most.
const MERGE_PAGES: i64 = 500;

/// A tidying stops after this many steps whatever happens (each step's merge is finite,
/// so this is only a bound against the unforeseen).
const MERGE_STEPS_AT_MOST: u32 = 100_000;

impl Conn {
    /// Merges SQLite's full-text index into one b-tree, [`MERGE_PAGES`] pages a statement
    /// (each its own short transaction, so intake goes on meanwhile), and says how many
    /// steps did work (0: it was tidy). Each transaction that writes the index adds a small
    /// b-tree, and FTS5 merges them only into levels: after a million comments there are
    /// some twenty, and looking one ticket up in them costs ~250 µs instead of ~15 µs for
    /// the newest tickets — the ones a search looks up first (see [`Words::Probe`]).
    /// Nothing to do on PostgreSQL, whose GIN indexes autovacuum keeps.
    pub async fn tidy_search_index(&mut self) -> Result<u32> {
        let super::ConnInner::Sqlite(link) = &mut self.inner else { return Ok(0) };
        let c = link.get();
        let mut steps = 0;
        // The first step, with a negative count, starts a merge of every b-tree whatever
        // its level; the next ones, positive, finish that merge (even if new b-trees come
        // meanwhile). A step that changes fewer than two rows found nothing to merge.
        while steps < MERGE_STEPS_AT_MOST {
            let pages = if steps == 0 { -MERGE_PAGES } else { MERGE_PAGES };
            let before: i64 = sqlx::query_scalar("SELECT total_changes()").fetch_one(&mut *c).await?;
            sqlx::query("INSERT INTO ticket_words (ticket_words, rank) VALUES ('merge', ?)")
                .bind(pages)
                .execute(&mut *c)
                .await?;
            let after: i64 = sqlx::query_scalar("SELECT total_changes()").fetch_one(&mut *c).await?;
            if after - before < 2 {
                break;
            }
            steps += 1;
        }
        Ok(steps)
    }

    /// How to match the words of `filter`'s search on SQLite: staff's by listing the
    /// index's matches; a contact's by looking up each ticket when they see at most
    /// [`PROBE_AT_MOST`] (the other filters applied), else by listing the matches when
    /// there are at most [`SET_AT_MOST`], else by looking up each ticket until the page and
    /// the count's cap are full.
    async fn words_strategy(&mut self, filter: &TicketFilter) -> Result<Words> {
        let (Some(among), Some(search)) = (looked_among(filter, self.backend()), filter.search.as_ref()) else {
            return Ok(Words::Set);
        };
        if self.run_count(&count_statement(&among, Words::Set, Backend::Sqlite)).await? <= PROBE_AT_MOST {
            return Ok(Words::Probe);
        }
        Ok(match self.run_count(&entries_statement(&search.words)).await? <= SET_AT_MOST {
            true => Words::Set,
            false => Words::Probe,
        })
    }

    async fn run_count(&mut self, built: &Built) -> Result<i64> {
        let sql = sqlx::AssertSqlSafe(built.sql.clone());
        Ok(on_conn!(self, c => bind_all!(sqlx::query_scalar::<_, i64>(sql), built).fetch_one(&mut *c).await?))
    }

    async fn run_page(&mut self, built: &Built) -> Result<Vec<TicketRow>> {
        let sql = sqlx::AssertSqlSafe(built.sql.clone());
        Ok(on_conn!(self, c => bind_all!(sqlx::query_as::<_, TicketRow>(sql), built).fetch_all(&mut *c).await?))
    }

    /// Tickets, newest first, at most `limit`.
    pub async fn list_tickets(&mut self, limit: i64) -> Result<Vec<TicketRow>> {
        self.find_tickets(&TicketFilter { limit, ..TicketFilter::default() }).await
    }

    /// The page of tickets `filter` lets through (`limit` from `offset`), in its order.
    pub async fn find_tickets(&mut self, filter: &TicketFilter) -> Result<Vec<TicketRow>> {
        let words = self.words_strategy(filter).await?;
        self.run_page(&page_statement(filter, words, self.backend())).await
    }

    /// The page of tickets `filter` lets through, and how many it lets through on all
    /// pages (a page beyond the last is empty, and costs only the count).
    pub async fn find_tickets_counted(&mut self, filter: &TicketFilter) -> Result<FoundTickets> {
        let words = self.words_strategy(filter).await?;
        let counted = self.run_count(&count_statement(filter, words, self.backend())).await?;
        let (total, more) = match filter.count_at_most {
            Some(cap) if counted > cap => (cap, true),
            _ => (counted, false),
        };
        let tickets = match filter.offset < total {
            true => self.run_page(&page_statement(filter, words, self.backend())).await?,
            false => Vec::new(),
        };
        Ok(FoundTickets { tickets, total, more })
    }

    /// How many tickets there are of each status (statuses with none left out) among those
    /// `contact` takes part in (as requester or participant) or, with `organisation`, that
    /// organisation's.
    pub async fn count_by_status(
        &mut self,
        contact: ContactId,
        organisation: Option<OrganisationId>,
    ) -> Result<Vec<(Status, i64)>> {
        let filter = TicketFilter { visible_to: Some((contact, organisation)), ..TicketFilter::default() };
        let built = status_count_statement(&filter, self.backend());
        let sql = sqlx::AssertSqlSafe(built.sql.clone());
        Ok(on_conn!(self, c => bind_all!(sqlx::query_as::<_, (Status, i64)>(sql), built).fetch_all(&mut *c).await?))
    }

    /// The database's plan of every statement that listing `filter` may run (how many
    /// tickets a search looks among, the count and the page, a search's words matched
    /// either way), each headed by a line `-- what`, one line per step as `EXPLAIN QUERY
    /// PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) print them. With `forbid_full_scans`,
    /// PostgreSQL plans as if it could not read a whole table (`enable_seqscan = off`, for
    /// these statements only): on small test data a scan is rightly cheapest, and the
    /// question is whether an index path exists.
    pub async fn explain_find_tickets(
        &mut self,
        filter: &TicketFilter,
        forbid_full_scans: bool,
    ) -> Result<Vec<String>> {
        let backend = self.backend();
        let mut statements = Vec::new();
        if let Some(among) = looked_among(filter, backend) {
            statements.push(("looked among".to_string(), count_statement(&among, Words::Set, backend)));
        }
        let words = filter.search.as_ref().map(|s| s.words.as_slice()).unwrap_or_default();
        let sqlite_words = !words.is_empty() && backend == Backend::Sqlite;
        if sqlite_words {
            statements.push(("index entries".to_string(), entries_statement(words)));
        }
        let ways: &[(&str, Words)] = match !sqlite_words {
            true => &[("", Words::Set)],
            false => &[(", each ticket checked", Words::Probe), (", matches listed", Words::Set)],
        };
        for (how, words) in ways {
            statements.push((format!("count{how}"), count_statement(filter, *words, backend)));
            statements.push((format!("page{how}"), page_statement(filter, *words, backend)));
        }
        if filter.search.is_none() && filter.visible_to.is_some() {
            statements.push(("counts by status".to_string(), status_count_statement(filter, backend)));
        }
        let mut lines = Vec::new();
        for (what, built) in statements {
            lines.push(format!("-- {what}"));
            match backend {
                Backend::Sqlite => {
                    let sql = sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", built.sql));
                    let rows: Vec<(i64, i64, i64, String)> =
                        on_conn!(self, c => bind_all!(sqlx::query_as(sql), built).fetch_all(&mut *c).await?);
                    lines.extend(rows.into_iter().map(|(_, _, _, detail)| detail));
                }
                Backend::Postgres => {
                    let sql = sqlx::AssertSqlSafe(format!("EXPLAIN {}", built.sql));
                    let plan: Vec<String> = on_conn!(self, c => {
                        if forbid_full_scans {
                            sqlx::query("SET enable_seqscan = off").execute(&mut *c).await?;
                        }
                        let plan = bind_all!(sqlx::query_scalar(sql), built).fetch_all(&mut *c).await;
                        if forbid_full_scans {
                            sqlx::query("RESET enable_seqscan").execute(&mut *c).await?;
                        }
                        plan?
                    });
                    lines.extend(plan);
                }
            }
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// Every character [`words`] keeps inside a word, FTS5's tokenizer (as the migration
    /// declares it) keeps inside a word too: a word of ours is never cut in two there,
    /// which would make it a phrase, an error on a `detail=none` index. Each such character
    /// between two `q`s is indexed; were one a separator, the row would hold the word `q`.
    #[tokio::test]
    async fn every_character_a_search_keeps_in_a_word_the_index_keeps_in_a_word() {
        let migration = include_str!("../../migrations/sqlite/0017_search.sql");
        let tokenize = migration.split("tokenize = ").nth(1).and_then(|rest| rest.lines().next()).unwrap().trim();
        assert!(tokenize.starts_with("\"unicode61 remove_diacritics 2"), "{tokenize}");
        let mut c = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let table = format!("CREATE VIRTUAL TABLE w USING fts5(x, detail = none, tokenize = {tokenize})");
        sqlx::query(sqlx::AssertSqlSafe(table)).execute(&mut c).await.unwrap();
        let kept: Vec<char> = (0..=char::MAX as u32).filter_map(char::from_u32).filter(|c| is_word_char(*c)).collect();
        assert!(kept.len() > 100_000 && kept.contains(&'é') && kept.contains(&'\u{301}') && !kept.contains(&'Ⓐ'));
        let mut tx = c.begin().await.unwrap();
        for chunk in kept.chunks(10_000) {
            let rows = vec!["(?, ?)"; chunk.len()].join(", ");
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO w (rowid, x) VALUES {rows}")));
            for ch in chunk {
                insert = insert.bind(i64::from(u32::from(*ch))).bind(format!("q{ch}q"));
            }
            insert.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        let cut: Vec<i64> =
            sqlx::query_scalar("SELECT rowid FROM w WHERE w MATCH 'q'").fetch_all(&mut c).await.unwrap();
        let cut: Vec<String> = cut.iter().filter_map(|n| char::from_u32(*n as u32)).map(|c| format!("{c:?}")).collect();
        assert!(cut.is_empty(), "cut by FTS5: {}", cut.join(" "));
        // And a separator does cut.
        sqlx::query("INSERT INTO w (rowid, x) VALUES (-1, 'q-q')").execute(&mut c).await.unwrap();
        let found: Vec<i64> =
            sqlx::query_scalar("SELECT rowid FROM w WHERE w MATCH 'q'").fetch_all(&mut c).await.unwrap();
        assert_eq!(found, [-1]);
    }

    #[test]
    fn a_search_is_only_words_whatever_is_typed() {
        assert_eq!(words("Printer  offline!"), ["Printer", "offline"]);
        assert_eq!(
            words(r#""a" * NEAR(b c) x:y -z ^w AND OR"#),
            ["a", "NEAR", "b", "c", "x", "y", "z", "w", "AND", "OR"]
        );
        assert_eq!(words("e-mail can’t café naïve"), ["e", "mail", "can", "t", "café", "naïve"]);
        assert_eq!(words("nul\0byte"), ["nul", "byte"]);
        assert_eq!(words("#123"), ["123"]);
        assert_eq!(words("Ⓐbc ①"), ["bc"]);
        assert_eq!(words("same Same SAME"), ["same"]);
        assert!(words("!!! *** ---").is_empty());
        let long = "word ".repeat(10_000) + &(0..100).map(|i| format!("w{i} ")).collect::<String>();
        assert!(words(&long).len() <= MAX_WORDS);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(words(&many).len(), MAX_WORDS);
        // Cut inside a character: no panic, the partial character is left out.
        let accents = format!("a{}", "é".repeat(MAX_SEARCH_BYTES));
        assert_eq!(words(&accents)[0].len(), MAX_SEARCH_BYTES - 1);
    }
}
