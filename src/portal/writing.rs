//! What a customer writes in the portal (MISSION P4, P5): an answer on a request and a new
//! request, both with files. Each is one desk call (`desk::requests`); a refusal shows the
//! form again with what was typed and why, next to the field it is about.

use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::form::{self, Unreadable};
use super::pages::{self, Message, NewRequestPage, NewTyped, Page, render};
use super::requests::{Shown, show};
use super::visitor::Customer;
use crate::App;
use crate::desk::requests::{self, Field, NewRequest, Reply, RequestError};
use crate::domain::{Priority, TicketNumber};

/// `POST /requests/N/reply`: the customer's answer, with files.
pub async fn reply(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path(number): Path<String>,
    multipart: Multipart,
) -> Response {
    let Ok(n) = number.parse::<i64>().map(TicketNumber) else { return pages::not_found(&app, &visitor) };
    let mut sent = match form::read(multipart).await {
        Ok(sent) => sent,
        Err(e) => return unreadable(&app, &visitor, e),
    };
    if !visitor.csrf_ok(&app, sent.field("csrf")) {
        return pages::forbidden(&app, &visitor);
    }
    let files = std::mem::take(&mut sent.files);
    let text = sent.field("text").to_string();
    let reply = Reply { form_id: sent.field("form_id"), text: &text, files };
    match requests::reply(&app, visitor.who(), n, reply).await {
        Ok(_) => Redirect::to(&format!("/requests/{}?done=answered#conversation", n.0)).into_response(),
        Err(RequestError::NotFound) => pages::not_found(&app, &visitor),
        Err(RequestError::Invalid(field, message)) => {
            let shown = Shown { error: Some((field, message)), text: &text, ..Shown::default() };
            show(&app, &visitor, n, shown, StatusCode::BAD_REQUEST).await
        }
        Err(RequestError::Refused(message)) => {
            let shown = Shown { problem: Some(message), text: &text, ..Shown::default() };
            show(&app, &visitor, n, shown, StatusCode::CONFLICT).await
        }
        Err(RequestError::RateLimited { retry_after }) => pages::too_many(&app, &visitor, retry_after),
        Err(RequestError::Store(e)) => pages::failure(&app, &e),
    }
}

/// `?follows=N` of the new-request form: the finished request it follows up.
#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    follows: String,
}

/// `GET /requests/new`: the new-request form.
pub async fn new_page(State(app): State<Arc<App>>, visitor: Customer, Query(q): Query<NewQuery>) -> Response {
    let follows = q.follows.parse::<i64>().ok().filter(|n| *n > 0);
    new_form(&app, &visitor, &NewTyped::default(), follows, None, StatusCode::OK).await
}

/// `POST /requests/new`: opens the request and shows it.
pub async fn new(State(app): State<Arc<App>>, visitor: Customer, multipart: Multipart) -> Response {
    let mut sent = match form::read(multipart).await {
        Ok(sent) => sent,
        Err(e) => return unreadable(&app, &visitor, e),
    };
    if !visitor.csrf_ok(&app, sent.field("csrf")) {
        return pages::forbidden(&app, &visitor);
    }
    let typed = NewTyped {
        subject: sent.field("subject").to_string(),
        description: sent.field("description").to_string(),
        priority: sent.field("priority").parse::<Priority>().ok(),
        department: sent.field("department").to_string(),
        requester: sent.field("requester").to_string(),
    };
    let follows = sent.field("follows").parse::<i64>().ok().filter(|n| *n > 0);
    let files = std::mem::take(&mut sent.files);
    let request = NewRequest {
        form_id: sent.field("form_id"),
        subject: &typed.subject,
        description: &typed.description,
        priority: typed.priority.unwrap_or(Priority::Medium),
        department: &typed.department,
        requester: &typed.requester,
        follows_up: follows.map(TicketNumber),
        files,
    };
    match requests::open(&app, visitor.who(), request).await {
        Ok(n) => Redirect::to(&format!("/requests/{}?done=opened", n.0)).into_response(),
        Err(RequestError::Invalid(field, message)) => {
            new_form(&app, &visitor, &typed, follows, Some((field, message)), StatusCode::BAD_REQUEST).await
        }
        Err(RequestError::Refused(message)) => {
            new_form(&app, &visitor, &typed, follows, Some((Field::Text, message)), StatusCode::CONFLICT).await
        }
        Err(RequestError::NotFound) => pages::not_found(&app, &visitor),
        Err(RequestError::RateLimited { retry_after }) => pages::too_many(&app, &visitor, retry_after),
        Err(RequestError::Store(e)) => pages::failure(&app, &e),
    }
}

async fn new_form(
    app: &App,
    visitor: &Customer,
    typed: &NewTyped,
    follows: Option<i64>,
    error: Option<(Field, String)>,
    status: StatusCode,
) -> Response {
    let (departments, colleagues) = match requests::form_choices(app, visitor.who()).await {
        Ok(choices) => choices,
        Err(e) => return pages::failure(app, &e),
    };
    let page = NewRequestPage {
        page: Page::new(app, visitor),
        form_id: requests::new_form_id(),
        priorities: pages::priority_choices(app),
        departments: &departments,
        colleagues: &colleagues,
        follows,
        typed,
        error,
        limits: pages::limits(app),
    };
    render(status, page)
}

/// The answer to a form that could not be read: 413 when it is too large, else 400.
fn unreadable(app: &App, visitor: &Customer, error: Unreadable) -> Response {
    let (status, text) = match error {
        Unreadable::TooLarge => {
            let limits = pages::limits(app);
            let text = match limits.is_empty() {
                true => "This form is too large, and files cannot be attached here. Nothing was saved.".to_string(),
                false => format!("This form is too large: {limits} Nothing was saved."),
            };
            (StatusCode::PAYLOAD_TOO_LARGE, text)
        }
        Unreadable::Malformed(e) => {
            tracing::info!(error = %e, "a portal form could not be read");
            (StatusCode::BAD_REQUEST, "This form could not be read. Nothing was saved; please try again.".to_string())
        }
    };
    let page = Message {
        page: Page::new(app, visitor),
        heading: "Not sent",
        text: &text,
        link: Some(("/requests", "Your requests")),
    };
    render(status, page)
}
