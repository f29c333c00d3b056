//! A customer's changes of a request's status (MISSION P6): "this solved my problem",
//! cancel, reopen. Each is a link to a confirmation page whose one button makes the change
//! (a link alone changes nothing, so it works without JavaScript and no prefetch or mail
//! scanner can trigger it); the rules are desk's (`desk::requests::change`).

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{self, Confirm, Page, render};
use super::requests::{Shown, show};
use super::visitor::Customer;
use crate::App;
use crate::desk::requests::{self, Change, RequestError};
use crate::desk::tickets;
use crate::domain::TicketNumber;

/// The confirmation form.
#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
}

/// `GET /requests/N/{solved,cancel,reopen}`: the confirmation step.
pub async fn confirm(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path((number, word)): Path<(String, String)>,
) -> Response {
    let (Ok(number), Some(change)) = (number.parse::<i64>(), Change::from_word(&word)) else {
        return pages::not_found(&app, &visitor);
    };
    let ticket = match tickets::detail_for(&app, visitor.who().contact, TicketNumber(number)).await {
        Ok(Some(ticket)) => ticket,
        Ok(None) => return pages::not_found(&app, &visitor),
        Err(e) => return pages::failure(&app, &e),
    };
    let (heading, text, button) = match change {
        Change::Solved => (
            "Did this solve your problem?",
            "The request will be marked as resolved and our team will be told. If the problem comes back, answer \
             it and it opens again.",
            "Yes, mark it as solved",
        ),
        Change::Cancel => (
            "Cancel this request?",
            "Our team will stop working on it and be told that you no longer need help.",
            "Yes, cancel it",
        ),
        Change::Reopen => (
            "Reopen this request?",
            "It will be open again and our team will be told. Adding an answer that says what is still wrong helps \
             us most.",
            "Yes, reopen it",
        ),
    };
    let page = Confirm {
        page: Page::new(&app, &visitor),
        number,
        subject: &ticket.ticket.subject,
        change: change.as_str(),
        heading,
        text,
        button,
    };
    render(StatusCode::OK, page)
}

/// `POST /requests/N/{solved,cancel,reopen}`: makes the change and shows the request.
pub async fn change(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path((number, word)): Path<(String, String)>,
    Form(form): Form<ChangeForm>,
) -> Response {
    let (Ok(number), Some(change)) = (number.parse::<i64>(), Change::from_word(&word)) else {
        return pages::not_found(&app, &visitor);
    };
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let n = TicketNumber(number);
    match requests::change(&app, visitor.who(), n, change).await {
        Ok(_) => Redirect::to(&format!("/requests/{number}?done={}", change.as_str())).into_response(),
        Err(RequestError::NotFound) => pages::not_found(&app, &visitor),
        Err(RequestError::Refused(message) | RequestError::Invalid(_, message)) => {
            let shown = Shown { problem: Some(message), ..Shown::default() };
            show(&app, &visitor, n, shown, StatusCode::CONFLICT).await
        }
        Err(RequestError::RateLimited { retry_after }) => pages::too_many(&app, &visitor, retry_after),
        Err(RequestError::Store(e)) => pages::failure(&app, &e),
    }
}
