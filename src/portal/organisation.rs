//! A primary contact's organisation page (MISSION ACC8): its contacts and their portal
//! access, inviting a colleague, deactivating and reactivating a colleague's account.
//! Anyone else gets 404: the page does not exist for them.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{self, Done, Organisation, render};
use super::visitor::Customer;
use crate::App;
use crate::desk::accounts::AccountError;
use crate::desk::organisation::{self, OrgError};
use crate::domain::ContactId;

/// The invitation form.
#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// The (de)activation form.
#[derive(Deserialize)]
pub struct AccessForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contact: i64,
    #[serde(default)]
    active: bool,
}

/// `GET /organisation`.
pub async fn page(State(app): State<Arc<App>>, visitor: Customer, Query(done): Query<Done>) -> Response {
    let note = match done.done.as_str() {
        "invited" => Some("Invitation sent."),
        "deactivated" => Some("Deactivated: they can no longer log in."),
        "reactivated" => Some("Reactivated: they can log in again."),
        _ => None,
    };
    show(&app, &visitor, note, None, "").await
}

/// `POST /organisation/invite`.
pub async fn invite(State(app): State<Arc<App>>, visitor: Customer, Form(form): Form<InviteForm>) -> Response {
    let who = visitor.who();
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    match organisation::invite(&app, who, &form.email).await {
        Ok(()) => Redirect::to("/organisation?done=invited").into_response(),
        Err(e) => refused(&app, &visitor, e, form.email.trim()).await,
    }
}

/// `POST /organisation/access`: deactivate or reactivate a colleague's account.
pub async fn access(State(app): State<Arc<App>>, visitor: Customer, Form(form): Form<AccessForm>) -> Response {
    let who = visitor.who();
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    match organisation::set_active(&app, who, ContactId(form.contact), form.active).await {
        Ok(()) => {
            let done = if form.active { "reactivated" } else { "deactivated" };
            Redirect::to(&format!("/organisation?done={done}")).into_response()
        }
        Err(e) => refused(&app, &visitor, e, "").await,
    }
}

async fn show(app: &App, visitor: &Customer, note: Option<&str>, error: Option<String>, email: &str) -> Response {
    match organisation::members(app, visitor.who()).await {
        Ok((name, members)) => {
            let page = pages::Page::new(app, visitor);
            render(StatusCode::OK, Organisation { page, organisation: &name, members: &members, note, error, email })
        }
        Err(OrgError::NotPrimary) => pages::not_found(app, visitor),
        Err(e) => pages::failure(app, &e),
    }
}

async fn refused(app: &App, visitor: &Customer, error: OrgError, email: &str) -> Response {
    match error {
        OrgError::NotPrimary => pages::not_found(app, visitor),
        OrgError::Account(AccountError::RateLimited { retry_after }) => pages::too_many(app, visitor, retry_after),
        OrgError::Account(e) => pages::failure(app, &e),
        e => show(app, visitor, None, Some(e.to_string()), email).await,
    }
}
