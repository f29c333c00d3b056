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

/// `GET /requests/N`: one request, if the visitor may see it; else 404.
pub async fn detail(State(app): State<Arc<App>>, visitor: Customer, Path(number): Path<String>) -> Response {
    let who = visitor.who();
    let Ok(number) = number.parse::<i64>() else { return pages::not_found(&app, &visitor) };
    match tickets::detail_for(&app, who.contact, TicketNumber(number)).await {
        Ok(Some(ticket)) => render(StatusCode::OK, Request { page: Page::new(&app, &visitor), ticket: &ticket }),
        Ok(None) => pages::not_found(&app, &visitor),
        Err(e) => pages::failure(&app, &e),
    }
}
