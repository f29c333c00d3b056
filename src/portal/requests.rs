//! A customer's requests (MISSION P2, P3): the list of those they may see and one request's
//! public conversation. Who may see what is desk's rule (`desk::tickets::page_for`,
//! `detail_for`); a request the visitor may not see is 404, as one that does not exist.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::pages::{self, Page, Request, Requests, render, status_label};
use super::visitor::Customer;
use crate::App;
use crate::desk::requests::{self, Field};
use crate::desk::tickets::{self, SortBy, Stage, TicketQuery};
use crate::domain::{EmailAddress, Priority, Status, TicketNumber};

/// What `GET /requests` asks (the names others link with): `q` (search words), `status`
/// (one status), `state` (`active` or `finished`), `priority`, `requester` (an address),
/// `sort` (`activity`, the default; `created`; `priority`) and `page` (from 1). A value
/// that is unknown or malformed leaves its filter off, and of one given twice the first
/// counts: the list always answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The search as typed (at most 200 characters, control characters made spaces).
    pub q: String,
    /// Only this status.
    pub status: Option<Status>,
    /// Only active or only finished requests.
    pub stage: Option<Stage>,
    /// Only this priority.
    pub priority: Option<Priority>,
    /// Only requests this address asked.
    pub requester: Option<EmailAddress>,
    /// The order asked for (none: last activity first).
    pub sort: Option<SortBy>,
    /// The page, from 1.
    pub page: i64,
}

impl ListQuery {
    /// The list asked by the query string's `pairs`.
    pub fn parse(pairs: &[(String, String)]) -> ListQuery {
        let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).unwrap_or("");
        ListQuery {
            q: value("q")
                .chars()
                .take(200)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect::<String>()
                .trim()
                .to_string(),
            status: value("status").parse().ok(),
            stage: match value("state") {
                "active" => Some(Stage::Active),
                "finished" => Some(Stage::Finished),
                _ => None,
            },
            priority: value("priority").parse().ok(),
            requester: EmailAddress::parse(value("requester")).ok(),
            sort: match value("sort") {
                "activity" => Some(SortBy::Activity),
                "created" => Some(SortBy::Created),
                "priority" => Some(SortBy::Priority),
                _ => None,
            },
            page: value("page").parse::<i64>().ok().filter(|p| *p >= 1).unwrap_or(1),
        }
    }

    /// Every parameter of this list but its page, in the words of the query string, as a
    /// link or a form keeps them.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        if !self.q.is_empty() {
            params.push(("q", self.q.clone()));
        }
        if let Some(status) = self.status {
            params.push(("status", status.as_str().to_string()));
        }
        if let Some(stage) = self.stage {
            params.push(("state", stage_word(stage).to_string()));
        }
        if let Some(priority) = self.priority {
            params.push(("priority", priority.as_str().to_string()));
        }
        if let Some(requester) = &self.requester {
            params.push(("requester", requester.to_string()));
        }
        if let Some(sort) = self.sort {
            params.push(("sort", sort_word(sort).to_string()));
        }
        params
    }

    /// What desk is asked for.
    fn ticket_query(&self) -> TicketQuery {
        TicketQuery {
            status: self.status,
            stage: self.stage,
            priority: self.priority,
            requester: self.requester.clone(),
            search: Some(self.q.clone()).filter(|q| !q.is_empty()),
            order: self.sort.unwrap_or(SortBy::Activity),
            ..TicketQuery::default()
        }
    }
}

/// A stage as the query string says it.
fn stage_word(stage: Stage) -> &'static str {
    match stage {
        Stage::Active => "active",
        Stage::Finished => "finished",
    }
}

/// An order as the query string says it.
fn sort_word(order: SortBy) -> &'static str {
    match order {
        SortBy::Activity => "activity",
        SortBy::Created => "created",
        SortBy::Priority => "priority",
    }
}

/// `GET /requests`: one page of the requests the visitor may see, filtered, searched and
/// sorted as the query string asks.
pub async fn list(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let who = visitor.who();
    let asked = ListQuery::parse(&pairs);
    match tickets::page_for(&app, who.contact, &asked.ticket_query(), asked.page).await {
        Ok(found) => {
            let statuses = Status::ALL.iter().map(|s| (*s, status_label(*s))).collect();
            let page = Requests {
                page: Page::new(&app, &visitor),
                me: &who.email,
                primary: who.primary_of.is_some(),
                q: &asked.q,
                status: asked.status,
                priority: asked.priority,
                params: asked.params(),
                statuses,
                found: &found,
            };
            render(StatusCode::OK, page)
        }
        Err(e) => pages::failure(&app, &e),
    }
}

/// `?order=` and `?done=` of a request's page.
#[derive(Deserialize)]
pub struct DetailQuery {
    #[serde(default)]
    order: String,
    #[serde(default)]
    done: String,
}

/// `GET /requests/N`: one request, if the visitor may see it; else 404.
pub async fn detail(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path(number): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Ok(number) = number.parse::<i64>() else { return pages::not_found(&app, &visitor) };
    let note = match q.done.as_str() {
        "answered" => Some("Your answer was added. We will reply by mail and here."),
        "opened" => Some("Your request was sent. We have mailed you a confirmation; you can answer it by mail too."),
        "solved" => Some("Marked as solved. Thank you! Answer here or by mail if it comes back."),
        "cancel" => Some("Cancelled. Answer here or by mail if you need help after all."),
        "reopen" => Some("Reopened. We will look at it again."),
        _ => None,
    };
    let shown = Shown { note, newest_first: q.order == "newest", ..Shown::default() };
    show(&app, &visitor, TicketNumber(number), shown, StatusCode::OK).await
}

/// How a request's page is shown beyond the request itself.
#[derive(Default)]
pub struct Shown<'a> {
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// Why the last answer was refused, and which field it is about.
    pub error: Option<(Field, String)>,
    /// Why the last action was refused, about the request as a whole.
    pub problem: Option<String>,
    /// The answer typed, kept after a refusal.
    pub text: &'a str,
    /// The conversation newest first.
    pub newest_first: bool,
}

/// Request `n`'s page with `status`, if the visitor may see it; else 404.
pub async fn show(app: &App, visitor: &Customer, n: TicketNumber, shown: Shown<'_>, status: StatusCode) -> Response {
    match tickets::detail_for(app, visitor.who().contact, n).await {
        Ok(Some(ticket)) => {
            let page = Request {
                page: Page::new(app, visitor),
                target: pages::target(app, ticket.ticket.priority),
                ticket: &ticket,
                newest_first: shown.newest_first,
                note: shown.note,
                error: shown.error,
                problem: shown.problem,
                text: shown.text,
                form_id: requests::new_form_id(),
                limits: pages::limits(app),
            };
            render(status, page)
        }
        Ok(None) => pages::not_found(app, visitor),
        Err(e) => pages::failure(app, &e),
    }
}
