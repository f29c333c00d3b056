//! A customer's requests (MISSION P2, P3): the list of those they may see and one request's
//! public conversation. Who may see what is desk's rule (`desk::tickets::list_for`,
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
use crate::desk::tickets::{self, TicketQuery};
use crate::domain::{Status, TicketNumber};

/// `?status=` of the list.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
}

/// `GET /requests`: the requests the visitor may see, newest first.
pub async fn list(State(app): State<Arc<App>>, visitor: Customer, Query(q): Query<ListQuery>) -> Response {
    let who = visitor.who();
    let status = q.status.parse::<Status>().ok();
    let query = TicketQuery { status, limit: 100, ..TicketQuery::default() };
    match tickets::list_for(&app, who.contact, &query).await {
        Ok(found) => {
            let statuses = Status::ALL.iter().map(|s| (*s, status_label(*s))).collect();
            let page = Requests { page: Page::new(&app, &visitor), me: &who.email, status, statuses, tickets: &found };
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
