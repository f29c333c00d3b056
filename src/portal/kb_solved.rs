//! `/kb/solved?t=`: where an acknowledgement's "it solved my problem" link leads (MISSION
//! KB5). The link only shows what it would do (mail scanners open every link); the page's
//! one button, a POST with the token and CSRF, resolves the request, once.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{self, Page, render};
use super::visitor::{Visitor, with_cookies};
use crate::App;
use crate::desk::kb_solved::{self, ConfirmError, SolvedPreview};

/// The confirmation page, or why the link does not work.
#[derive(Template)]
#[template(path = "portal/kb_solved.html")]
pub struct SolvedPage<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// What the link would resolve, when it works.
    pub preview: Option<SolvedPreview>,
    /// The link's token, sent back by the button.
    pub token: &'a str,
    /// Why it does not work.
    pub problem: String,
}

/// `?t=` of the link, or the token of the form.
#[derive(Deserialize)]
pub struct Token {
    #[serde(default)]
    t: String,
    #[serde(default)]
    csrf: String,
}

/// `GET /kb/solved?t=`: what the link would resolve, and the button; nothing changes.
pub async fn confirm_page(State(app): State<Arc<App>>, visitor: Visitor, Query(q): Query<Token>) -> Response {
    match kb_solved::preview(&app, &q.t).await {
        Ok(preview) => page(&app, &visitor, Some(preview), &q.t, String::new(), StatusCode::OK),
        Err(e) => refused(&app, &visitor, e),
    }
}

/// `POST /kb/solved`: resolves the request, and shows it (or the portal's home to someone
/// not signed in) with a thank-you.
pub async fn confirm(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<Token>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    match kb_solved::confirm(&app, &form.t).await {
        Ok(ticket) => {
            let text = format!(
                "Thank you. Request #{} is marked as solved. If the problem comes back, answer our mail and it opens again.",
                ticket.0
            );
            let onwards = match visitor.who {
                Some(_) => format!("/requests/{}?done=solved", ticket.0),
                None => String::new(),
            };
            match onwards.is_empty() {
                false => Redirect::to(&onwards).into_response(),
                true => {
                    let page = pages::Message {
                        page: Page::new(&app, &visitor),
                        heading: "Marked as solved",
                        text: &text,
                        link: Some(("/kb", "Search our solutions")),
                    };
                    render(StatusCode::OK, page)
                }
            }
        }
        Err(e) => refused(&app, &visitor, e),
    }
}

fn refused(app: &App, visitor: &Visitor, e: ConfirmError) -> Response {
    match e {
        ConfirmError::Store(e) => pages::failure(app, &e),
        ConfirmError::Request(crate::desk::requests::RequestError::Store(e)) => pages::failure(app, &e),
        other => page(app, visitor, None, "", other.to_string(), StatusCode::CONFLICT),
    }
}

fn page(
    app: &App,
    visitor: &Visitor,
    preview: Option<SolvedPreview>,
    token: &str,
    problem: String,
    status: StatusCode,
) -> Response {
    let shown = SolvedPage { page: Page::new(app, visitor), preview, token, problem };
    with_cookies(render(status, shown), visitor.visitor_cookie())
}
