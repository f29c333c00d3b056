//! What people see of tickets: the lists and details that the CLI shows staff and the
//! portal will show a contact. Who may see which ticket, and which of its parts, is decided
//! here once: staff see everything; a contact sees the tickets they ask or are copied on
//! (a primary contact, every ticket of their organisation), only their public comments, and
//! staff by name, never by address.

use serde::Serialize;

use super::roster::{self, Roster};
use crate::App;
use crate::domain::{CommentId, ContactId, EmailAddress, Priority, Role, Status, TicketNumber};
use crate::store::{AttachmentRow, CommentRow, Conn, StoreError, TicketFilter, TicketOrder, TicketRow, TicketSearch};

/// Which tickets a list shows; every filter given must hold. What the viewer may see
/// narrows it further.
#[derive(Debug, Clone)]
pub struct TicketQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only tickets still being worked on, or only finished ones.
    pub stage: Option<Stage>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only tickets this search finds, as typed (see [`parse_search`]).
    pub search: Option<String>,
    /// In this order.
    pub order: SortBy,
    /// Only this department.
    pub department: Option<String>,
    /// Only tickets assigned to this staff member (`Some(None)`: unassigned ones).
    pub assignee: Option<Option<EmailAddress>>,
    /// Only tickets this address asked.
    pub requester: Option<EmailAddress>,
    /// Only tickets whose customer has waited past their priority's response target.
    pub overdue: bool,
    /// At most this many (clamped to 1..=100,000).
    pub limit: i64,
}

impl Default for TicketQuery {
    /// Every ticket, the newest 100.
    fn default() -> TicketQuery {
        TicketQuery {
            status: None,
            stage: None,
            priority: None,
            search: None,
            order: SortBy::Created,
            department: None,
            assignee: None,
            requester: None,
            overdue: false,
            limit: 100,
        }
    }
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// Newest first.
    Created,
    /// Last activity first.
    Activity,
    /// Most urgent first (urgent, high, medium, low), then last activity.
    Priority,
}

/// Where a ticket is in its life, broadly: still being worked on, or done with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not resolved, closed or cancelled ([`Status::is_active`]).
    Active,
    /// Resolved, closed or cancelled.
    Finished,
}

impl Stage {
    /// The statuses of this stage.
    pub fn statuses(self) -> Vec<Status> {
        Status::ALL.iter().copied().filter(|s| s.is_active() == (self == Stage::Active)).collect()
    }
}

/// At most this many ticket numbers, and this many addresses, of one search count.
const MAX_SEARCH_TERMS: usize = 5;

/// What a search typed as `text` asks for (none when it asks nothing): a number (`123`,
/// `#123`) finds that ticket, and is a word too; a term with `@` (and a letter or digit) is
/// part of the requester's address, brackets and quotes around it left out; the other
/// words must all occur in the subject or all in one public comment. Whatever is typed is
/// only ever these terms, never search syntax.
pub fn parse_search(text: &str) -> Option<TicketSearch> {
    let mut search = TicketSearch::default();
    let mut rest = Vec::new();
    for term in text.split_whitespace() {
        if term.contains('@') {
            let part = term.trim_matches(|c: char| "<>()[]{}\"',;:".contains(c)).to_lowercase();
            let fits = part.len() <= 320 && part.contains(char::is_alphanumeric) && !part.contains(char::is_control);
            if fits && search.addresses.len() < MAX_SEARCH_TERMS {
                search.addresses.push(part);
            }
            continue;
        }
        let digits = term.strip_prefix('#').unwrap_or(term);
        if let Ok(n) = digits.parse::<u32>()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && n > 0
            && search.numbers.len() < MAX_SEARCH_TERMS
        {
            search.numbers.push(TicketNumber(i64::from(n)));
        }
        rest.push(term);
    }
    search.words = crate::store::words(&rest.join(" "));
    let asks = !(search.numbers.is_empty() && search.words.is_empty() && search.addresses.is_empty());
    asks.then_some(search)
}

/// How many requests one page of the portal's list shows.
pub const PAGE_SIZE: i64 = 25;

/// A search for words counts its matches through this many pages from the first one shown
/// (100 from page 1, 175 from page 4, …) and then says "more than", as a mail client does:
/// an exact count of a word in most texts of a large organisation costs one look-up a
/// ticket (5,000 in one of 100,000 tickets: ~70 ms on SQLite), and helps no one (the page
/// says to add words). Counting ahead of the page keeps the cost of a page with its
/// depth, and "Next" where there are more.
pub const SEARCH_COUNTED_PAGES: i64 = 4;

/// One page of the requests a contact may see.
#[derive(Debug, Clone)]
pub struct RequestPage {
    /// This page's requests, in the query's order.
    pub tickets: Vec<CustomerTicket>,
    /// How many requests match, on all pages (with `more`: at least, as counted).
    pub total: i64,
    /// More than `total` match (a search counts [`SEARCH_COUNTED_PAGES`] ahead): there
    /// are pages beyond `pages`.
    pub more: bool,
    /// Which page this is, from 1 (it may lie beyond the last: then it has no requests).
    pub page: i64,
    /// The number of the last page counted (1 when nothing matches).
    pub pages: i64,
}

/// A ticket in a list, as staff see it.
#[derive(Debug, Clone, Serialize)]
pub struct TicketSummary {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketRow,
    /// When the customer's wait passes the response target (Unix seconds), if they wait.
    pub due_at: Option<i64>,
    /// Whether that time has passed.
    pub overdue: bool,
}

/// A ticket with everything staff see of it.
#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    /// The ticket, with when its answer is due.
    #[serde(flatten)]
    pub summary: TicketSummary,
    /// Requester first, then those copied.
    pub participants: Vec<Participant>,
    /// Every comment, internal notes included, oldest first.
    pub comments: Vec<CommentRow>,
    /// The attachments of every comment.
    pub attachments: Vec<AttachmentRow>,
}

/// Someone on a ticket.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Participant {
    /// Their address.
    pub email: String,
    /// How they take part.
    pub role: Role,
}

/// A ticket in a contact's list: no staff address, no internal count.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerTicket {
    /// The ticket number.
    pub id: TicketNumber,
    /// Its subject.
    pub subject: String,
    /// Its status.
    pub status: Status,
    /// Its priority.
    pub priority: Priority,
    /// Who asked: their address (a staff member who asked: their name).
    pub requester: String,
    /// The organisation's name, if any.
    pub organisation: Option<String>,
    /// The department, if any.
    pub department: Option<String>,
    /// The name of the staff member working on it (never their address); none when
    /// unassigned or nameless.
    pub assignee_name: Option<String>,
    /// Public comments.
    pub comment_count: i64,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// A ticket as a contact sees it: the public conversation only.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerTicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: CustomerTicket,
    /// Requester first, then those copied.
    pub participants: Vec<CustomerParticipant>,
    /// The public comments, oldest first.
    pub comments: Vec<CustomerComment>,
    /// What the customer may do with it now.
    pub allowed: Allowed,
    /// When its answer is due (the priority's response target), if a customer waits.
    pub due_at: Option<i64>,
}

/// Someone on a ticket, as a contact sees them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustomerParticipant {
    /// A customer's address; a staff member's name (or the desk's), never their address.
    pub who: String,
    /// How they take part.
    pub role: Role,
    /// Whether they are on our side.
    pub from_staff: bool,
}

/// A public comment as a contact sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerComment {
    /// Comment id.
    pub id: CommentId,
    /// Who wrote it: a customer's name or address, a staff member's name, or the desk's.
    pub author: String,
    /// Whether our side wrote it.
    pub from_staff: bool,
    /// The new text of the comment.
    pub body: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Its attachments.
    pub attachments: Vec<CustomerFile>,
}

/// A file of a public comment, as a customer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerFile {
    /// Its id (in the URL that fetches it).
    pub id: i64,
    /// Its name.
    pub filename: String,
    /// Its type as it came.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
}

impl From<AttachmentRow> for CustomerFile {
    fn from(a: AttachmentRow) -> CustomerFile {
        CustomerFile { id: a.id, filename: a.filename, content_type: a.content_type, size: a.size }
    }
}

/// The tickets `query` asks for, as staff see them, newest first.
pub async fn list(app: &App, query: &TicketQuery) -> Result<Vec<TicketSummary>, StoreError> {
    let rows = app.store.conn().await?.find_tickets(&filter(app, query, None)).await?;
    let now = crate::store::now();
    Ok(rows.into_iter().map(|t| summary(app, t, now)).collect())
}

/// Ticket `n` with everything staff see, if it exists.
pub async fn detail(app: &App, n: TicketNumber) -> Result<Option<TicketDetail>, StoreError> {
    let mut db = app.store.conn().await?;
    let Some(ticket) = db.ticket(n).await? else { return Ok(None) };
    let participants = participants(&mut db, n).await?;
    Ok(Some(TicketDetail {
        summary: summary(app, ticket, crate::store::now()),
        participants,
        comments: db.comments(n).await?,
        attachments: db.attachments(n).await?,
    }))
}

/// The tickets `query` asks for that contact `viewer` may see, in the query's order.
pub async fn list_for(app: &App, viewer: ContactId, query: &TicketQuery) -> Result<Vec<CustomerTicket>, StoreError> {
    let mut db = app.store.conn().await?;
    let Some(visible) = visibility(&mut db, viewer).await? else { return Ok(Vec::new()) };
    let rows = db.find_tickets(&filter(app, query, Some(visible))).await?;
    let ours = Ours::load(app, &mut db).await?;
    Ok(rows.into_iter().map(|t| customer_ticket(&ours, t)).collect())
}

/// Page `page` (from 1; [`PAGE_SIZE`] requests each) of the tickets `query` asks for that
/// contact `viewer` may see, in the query's order, with how many there are in all.
/// `query.limit` plays no part.
pub async fn page_for(app: &App, viewer: ContactId, query: &TicketQuery, page: i64) -> Result<RequestPage, StoreError> {
    // Far enough for any list; beyond, the offset could overflow.
    let page = page.clamp(1, 1_000_000);
    let mut db = app.store.conn().await?;
    let Some(visible) = visibility(&mut db, viewer).await? else {
        return Ok(RequestPage { tickets: Vec::new(), total: 0, more: false, page, pages: 1 });
    };
    let mut filter = filter(app, query, Some(visible));
    (filter.limit, filter.offset) = (PAGE_SIZE, (page - 1) * PAGE_SIZE);
    if filter.search.as_ref().is_some_and(|s| !s.words.is_empty()) {
        filter.count_at_most = Some(filter.offset + SEARCH_COUNTED_PAGES * PAGE_SIZE);
    }
    let found = db.find_tickets_counted(&filter).await?;
    let ours = Ours::load(app, &mut db).await?;
    Ok(RequestPage {
        tickets: found.tickets.into_iter().map(|t| customer_ticket(&ours, t)).collect(),
        total: found.total,
        more: found.more,
        page,
        pages: ((found.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
    })
}

/// What a contact's home shows of their requests (MISSION P1).
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// How many of the requests they may see are in each status, in the order of
    /// [`Status::ALL`]; statuses with none left out.
    pub counts: Vec<(Status, i64)>,
    /// The latest of them, newest first (at most five).
    pub latest: Vec<CustomerTicket>,
}

/// The home of contact `viewer`: their requests counted by status, and the latest.
pub async fn dashboard_for(app: &App, viewer: ContactId) -> Result<Dashboard, StoreError> {
    let mut db = app.store.conn().await?;
    let Some((contact, organisation)) = visibility(&mut db, viewer).await? else {
        return Ok(Dashboard { counts: Vec::new(), latest: Vec::new() });
    };
    let mut counts = db.count_by_status(contact, organisation).await?;
    counts.sort_by_key(|(status, _)| Status::ALL.iter().position(|s| s == status));
    let query = TicketQuery { limit: 5, ..TicketQuery::default() };
    let rows = db.find_tickets(&filter(app, &query, Some((contact, organisation)))).await?;
    let ours = Ours::load(app, &mut db).await?;
    Ok(Dashboard { counts, latest: rows.into_iter().map(|t| customer_ticket(&ours, t)).collect() })
}

/// Ticket `n` as contact `viewer` sees it; none when it does not exist or is not theirs
/// to see (the two are not told apart).
pub async fn detail_for(
    app: &App,
    viewer: ContactId,
    n: TicketNumber,
) -> Result<Option<CustomerTicketDetail>, StoreError> {
    let mut db = app.store.conn().await?;
    let Some(ticket) = visible_ticket(&mut db, viewer, n).await? else { return Ok(None) };
    let ours = Ours::load(app, &mut db).await?;
    let participants = db
        .participants(n)
        .await?
        .into_iter()
        .map(|(email, role)| CustomerParticipant { who: ours.shown(&email, &email), role, from_staff: ours.is(&email) })
        .collect();
    let mut attachments = db.attachments(n).await?;
    let comments = db
        .comments(n)
        .await?
        .into_iter()
        .filter(|c| c.public)
        .map(|c| {
            let (mine, rest) = attachments.drain(..).partition(|a| a.comment_id == c.id);
            attachments = rest;
            customer_comment(&ours, c, mine)
        })
        .collect();
    let allowed = allowed(app, ticket.status, ticket.status_changed_at.unwrap_or(ticket.updated_at));
    let due_at = super::lifecycle::answer_due(app, ticket.status, ticket.priority, ticket.awaiting_since);
    Ok(Some(CustomerTicketDetail { ticket: customer_ticket(&ours, ticket), participants, comments, allowed, due_at }))
}

/// What a customer may do with a request now, for the page to offer exactly that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Allowed {
    /// Answer it (a finished one within the reopen window is reopened by the answer).
    pub reply: bool,
    /// Mark it solved.
    pub solved: bool,
    /// Cancel it.
    pub cancel: bool,
    /// Reopen it.
    pub reopen: bool,
    /// It finished longer ago than the reopen window: a new request may follow it up.
    pub follow_up: bool,
}

/// What may be done with a request of `status`, unchanged since `changed_at`: the rules
/// of a customer's mail (a finished request takes an answer, and reopens, only within
/// `desk.reopen_days`).
pub fn allowed(app: &App, status: Status, changed_at: i64) -> Allowed {
    let active = status.is_active();
    let within = super::lifecycle::within_reopen_window(app, changed_at);
    Allowed {
        reply: active || within,
        solved: active,
        cancel: active,
        reopen: !active && within && status.may_move_to(Status::Open),
        follow_up: !active && !within,
    }
}

/// Ticket `n` if contact `viewer` may see it: they take part in it, or they are a primary
/// contact of its organisation. None when it does not exist or is not theirs to see.
pub(super) async fn visible_ticket(
    db: &mut Conn,
    viewer: ContactId,
    n: TicketNumber,
) -> Result<Option<TicketRow>, StoreError> {
    let Some(ticket) = db.ticket(n).await? else { return Ok(None) };
    let Some((contact, organisation)) = visibility(db, viewer).await? else { return Ok(None) };
    let of_organisation = organisation.is_some() && organisation == ticket.organisation_id;
    if of_organisation || db.is_participant(n, contact).await? {
        return Ok(Some(ticket));
    }
    Ok(None)
}

/// What contact `viewer` may see: their own tickets and, for a primary contact, their
/// organisation's. None when the contact does not exist.
async fn visibility(
    db: &mut Conn,
    viewer: ContactId,
) -> Result<Option<(ContactId, Option<crate::domain::OrganisationId>)>, StoreError> {
    let Some((organisation, primary)) = db.contact_standing(viewer).await? else { return Ok(None) };
    Ok(Some((viewer, organisation.filter(|_| primary))))
}

fn filter(
    app: &App,
    query: &TicketQuery,
    visible_to: Option<(ContactId, Option<crate::domain::OrganisationId>)>,
) -> TicketFilter {
    let targets = app.config().desk.response_hours.targets();
    TicketFilter {
        status: query.status,
        statuses: query.stage.map(Stage::statuses).unwrap_or_default(),
        priority: query.priority,
        department: query.department.clone(),
        assignee: query.assignee.clone().map(|a| a.map(|a| a.to_string())),
        requester: query.requester.as_ref().map(EmailAddress::to_string),
        visible_to,
        overdue: query.overdue.then(|| (targets, crate::store::now())),
        search: query.search.as_deref().and_then(parse_search),
        order: match query.order {
            SortBy::Created => TicketOrder::Created,
            SortBy::Activity => TicketOrder::Activity,
            SortBy::Priority => TicketOrder::Priority,
        },
        limit: query.limit.clamp(1, 100_000),
        offset: 0,
        count_at_most: None,
    }
}

fn summary(app: &App, ticket: TicketRow, now: i64) -> TicketSummary {
    let due_at = super::lifecycle::answer_due(app, ticket.status, ticket.priority, ticket.awaiting_since);
    TicketSummary { overdue: due_at.is_some_and(|d| d < now), due_at, ticket }
}

async fn participants(db: &mut Conn, n: TicketNumber) -> Result<Vec<Participant>, StoreError> {
    Ok(db.participants(n).await?.into_iter().map(|(email, role)| Participant { email, role }).collect())
}

/// Our side, as a customer is shown it: the staff roster and the desk's own address and
/// name.
struct Ours {
    roster: Roster,
    desk_address: String,
    desk_name: String,
}

impl Ours {
    async fn load(app: &App, db: &mut Conn) -> Result<Ours, StoreError> {
        let config = app.config();
        Ok(Ours {
            roster: roster::load(app, db).await?,
            desk_address: config.desk.address.as_str().to_string(),
            desk_name: config.desk.name.clone(),
        })
    }

    /// Whether `email` is ours: a staff member's or the desk's.
    fn is(&self, email: &str) -> bool {
        email == self.desk_address || self.roster.contains(email)
    }

    /// How `email` is shown to a customer: a staff member by name (the desk's when they
    /// have none), anyone else as `customer`.
    fn shown(&self, email: &str, customer: &str) -> String {
        match self.is(email) {
            true => self.staff_name(email),
            false => customer.to_string(),
        }
    }

    fn staff_name(&self, email: &str) -> String {
        self.roster.name_of(email).unwrap_or(&self.desk_name).to_string()
    }
}

fn customer_ticket(ours: &Ours, t: TicketRow) -> CustomerTicket {
    CustomerTicket {
        id: t.id,
        subject: t.subject,
        status: t.status,
        priority: t.priority,
        requester: ours.shown(&t.requester_email, &t.requester_email),
        organisation: t.organisation,
        department: t.department,
        assignee_name: t.assignee.as_deref().and_then(|a| ours.roster.name_of(a)).map(str::to_string),
        comment_count: t.public_comment_count,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

fn customer_comment(ours: &Ours, c: CommentRow, attachments: Vec<AttachmentRow>) -> CustomerComment {
    let email = c.author_email.unwrap_or_default();
    // Recorded when it was written, so a former staff member stays ours.
    let from_staff = c.from_staff || email.is_empty() || ours.is(&email);
    let author = match from_staff {
        true => ours.staff_name(&email),
        false => c.author_name.filter(|n| !n.is_empty()).unwrap_or(email),
    };
    let attachments = attachments.into_iter().map(CustomerFile::from).collect();
    CustomerComment { id: c.id, author, from_staff, body: c.body_reply, created_at: c.created_at, attachments }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_numbers_addresses_and_words() {
        let search = parse_search("#12 7 <Ann@Example.com>, printer-jammed ##3 0 +5 #1x").unwrap();
        assert_eq!(search.numbers, [TicketNumber(12), TicketNumber(7)]);
        assert_eq!(search.addresses, ["ann@example.com"]);
        assert_eq!(search.words, ["12", "7", "printer", "jammed", "3", "0", "5", "1x"], "numbers are words too");
        let only_address = parse_search("  @acme.example  ").unwrap();
        assert_eq!(
            (only_address.addresses.as_slice(), only_address.words.is_empty()),
            (&["@acme.example".to_string()][..], true)
        );
        for nothing in ["", "   ", "*** -- \"", "@", "\"\u{0}@\""] {
            assert_eq!(parse_search(nothing), None, "{nothing:?}");
        }
        let many = parse_search(&(1..=20).map(|n| n.to_string()).collect::<Vec<_>>().join(" ")).unwrap();
        assert_eq!(many.numbers.len(), MAX_SEARCH_TERMS);
        assert_eq!(parse_search("99999999999999999999").unwrap().numbers, [], "not a ticket number");
    }

    #[test]
    fn a_stage_is_its_statuses() {
        assert_eq!(
            Stage::Active.statuses(),
            [Status::Open, Status::InProgress, Status::WaitingOnCustomer, Status::WaitingOnVendor]
        );
        assert_eq!(Stage::Finished.statuses(), [Status::Resolved, Status::Closed, Status::Cancelled]);
    }
}
