//! The account pages: sign-up from an invitation link, direct sign-up with a captcha and
//! its verification link, log in, log out, the signed-in
//! home, changing the password (forced while it is a generated one) and the profile. Each
//! handler takes the visitor and the form, makes one desk call and renders a page; every
//! form that changes something carries the visitor's CSRF token, checked first.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{
    self, Done, Forgot, Home, Index, Login, Message, Page, PasswordChange, Profile, Register, Reset, Signup, render,
};
use super::visitor::{Customer, Visitor, with_cookies};
use crate::App;
use crate::desk::accounts::{self, AccountError, RegisterError, SignupLink};
use crate::desk::captcha::{self, CaptchaError, CaptchaForm};
use crate::domain::CustomerNotify;

/// `?token=` of a link.
#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The sign-up form.
#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// The direct sign-up form, with its captcha.
#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(flatten)]
    captcha: CaptchaForm,
}

/// The log-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A form with only its CSRF token (log out).
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The password change form.
#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    notify: String,
}

/// The forgotten-password form.
#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// The reset form.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// `GET /`: the home of a signed-in visitor, else the landing page.
pub async fn index(State(app): State<Arc<App>>, visitor: Visitor, Query(done): Query<Done>) -> Response {
    let cookie = visitor.visitor_cookie();
    let response = match &visitor.who {
        Some(who) if who.must_change => return Redirect::to("/password/change").into_response(),
        Some(who) => {
            let note = match done.done.as_str() {
                "signup" => Some("Welcome! Your account is ready."),
                "login" => Some("You are logged in."),
                "reset" => Some("Your new password is set. You are logged out everywhere else."),
                _ => None,
            };
            match crate::desk::tickets::dashboard_for(&app, who.contact).await {
                Ok(dashboard) => {
                    render(StatusCode::OK, Home { page: Page::new(&app, &visitor), note, dashboard: &dashboard })
                }
                Err(e) => pages::failure(&app, &e),
            }
        }
        None => render(StatusCode::OK, Index { page: Page::new(&app, &visitor) }),
    };
    with_cookies(response, cookie)
}

/// `GET /signup?token=…`: the form of the invitation link, for the invited address only.
pub async fn signup_page(state: State<Arc<App>>, visitor: Visitor, query: Query<TokenQuery>) -> Response {
    link_page(state, visitor, query, SignupLink::Invitation).await
}

/// `POST /signup`: the account of the invited address, and a session.
pub async fn signup(state: State<Arc<App>>, visitor: Visitor, form: Form<SignupForm>) -> Response {
    link_signup(state, visitor, form, SignupLink::Invitation).await
}

/// `GET /verify?token=…`: the link of a direct sign-up's mail proves the address; the form
/// sets the password.
pub async fn verify_page(state: State<Arc<App>>, visitor: Visitor, query: Query<TokenQuery>) -> Response {
    link_page(state, visitor, query, SignupLink::Verification).await
}

/// `POST /verify`: the account of the proved address, and a session.
pub async fn verify(state: State<Arc<App>>, visitor: Visitor, form: Form<SignupForm>) -> Response {
    link_signup(state, visitor, form, SignupLink::Verification).await
}

async fn link_page(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Query(q): Query<TokenQuery>,
    link: SignupLink,
) -> Response {
    let target = match accounts::signup_target(&app, link, &q.token).await {
        Ok(target) => target,
        Err(e) => return pages::failure(&app, &e),
    };
    let cookie = visitor.visitor_cookie();
    let response = match target {
        Some(t) if !t.has_account => {
            let page = Page::new(&app, &visitor);
            let (token, email, name) = (q.token.as_str(), t.email.as_str(), t.name.as_str());
            render(StatusCode::OK, Signup { page, action: action(link), token, email, name, error: None })
        }
        Some(_) => message(&app, &visitor, "You have an account", "This address has an account already.", "/login"),
        None => expired(&app, &visitor),
    };
    with_cookies(response, cookie)
}

async fn link_signup(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Form(form): Form<SignupForm>,
    link: SignupLink,
) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let client = visitor.client.to_string();
    match accounts::sign_up(&app, link, &form.token, &form.name, &form.password, &client).await {
        Ok(session) => with_cookies(Redirect::to("/?done=signup"), [visitor.session_cookie(&session.token)]),
        Err(AccountError::Password(problem)) => {
            let Ok(Some(target)) = accounts::signup_target(&app, link, &form.token).await else {
                return expired(&app, &visitor);
            };
            let page = Signup {
                page: Page::new(&app, &visitor),
                action: action(link),
                token: &form.token,
                email: &target.email,
                name: &form.name,
                error: Some(problem.to_string()),
            };
            render(StatusCode::OK, page)
        }
        Err(e) => refused(&app, &visitor, e),
    }
}

fn action(link: SignupLink) -> &'static str {
    match link {
        SignupLink::Invitation => "/signup",
        SignupLink::Verification => "/verify",
    }
}

/// `GET /register`: direct sign-up.
pub async fn register_page(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    if visitor.who.is_some() {
        return Redirect::to("/").into_response();
    }
    let cookie = visitor.visitor_cookie();
    with_cookies(render(StatusCode::OK, register_form(&app, &visitor, "", "", None)), cookie)
}

/// `POST /register`: the same answer whether the address is known or not; a refused
/// captcha or address shows the form again (200, with a new challenge).
pub async fn register(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<RegisterForm>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let client = visitor.client.to_string();
    match accounts::register(&app, &form.name, &form.email, &form.captcha, &client).await {
        Ok(()) => {
            let text = format!(
                "We sent a mail to this address. Open its link within {} hours to confirm the address and \
                 choose your password. Nothing arrived? Look in your spam folder.",
                app.config().portal.verify_hours
            );
            message(&app, &visitor, "Check your mail", &text, "/")
        }
        Err(RegisterError::Account(e)) => refused(&app, &visitor, e),
        Err(e) => render(StatusCode::OK, register_form(&app, &visitor, &form.name, form.email.trim(), Some(e))),
    }
}

fn register_form<'a>(
    app: &'a App,
    visitor: &'a Visitor,
    name: &'a str,
    email: &'a str,
    error: Option<RegisterError>,
) -> Register<'a> {
    let (mut email_error, mut captcha_error, mut form_error) = (None, None, None);
    match error {
        Some(e @ RegisterError::Address) => email_error = Some(e.to_string()),
        Some(e @ RegisterError::Captcha(CaptchaError::Temporary(_))) => form_error = Some(e.to_string()),
        Some(e @ RegisterError::Captcha(_)) => captcha_error = Some(e.to_string()),
        Some(e) => form_error = Some(e.to_string()),
        None => {}
    }
    Register {
        page: Page::new(app, visitor),
        challenge: captcha::issue(app),
        name,
        email,
        email_error,
        captcha_error,
        form_error,
    }
}

/// `GET /login`.
pub async fn login_page(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    if visitor.who.is_some() {
        return Redirect::to("/").into_response();
    }
    let cookie = visitor.visitor_cookie();
    with_cookies(
        render(StatusCode::OK, Login { page: Page::new(&app, &visitor).without_login_link(), email: "", error: None }),
        cookie,
    )
}

/// `POST /login`: a new session (a new id: never one the visitor had before). A refusal
/// shows the form again with its reason, as 200: a browser logs any 4xx as a console error.
pub async fn login(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<LoginForm>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let client = visitor.client.to_string();
    match accounts::log_in(&app, &form.email, &form.password, &client, visitor.who.as_ref()).await {
        Ok(session) => {
            let to = if session.signed_in.must_change { "/password/change" } else { "/?done=login" };
            with_cookies(Redirect::to(to), [visitor.session_cookie(&session.token)])
        }
        Err(AccountError::WrongCredentials) => {
            let error = Some(AccountError::WrongCredentials.to_string());
            render(
                StatusCode::OK,
                Login { page: Page::new(&app, &visitor).without_login_link(), email: form.email.trim(), error },
            )
        }
        Err(e) => refused(&app, &visitor, e),
    }
}

/// `POST /logout`.
pub async fn logout(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<CsrfForm>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    if let Some(who) = &visitor.who
        && let Err(e) = accounts::log_out(&app, who).await
    {
        return pages::failure(&app, &e);
    }
    with_cookies(Redirect::to("/login"), [visitor.end_session_cookie()])
}

/// `GET /password/change`.
pub async fn change_page(State(app): State<Arc<App>>, visitor: Visitor, Query(done): Query<Done>) -> Response {
    let Some(who) = &visitor.who else { return Redirect::to("/login").into_response() };
    let note = (done.done == "password").then_some("Your password is changed. Your other sessions have ended.");
    let page = PasswordChange {
        forced: who.must_change,
        page: Page::new(&app, &visitor),
        note,
        current_error: None,
        new_error: None,
    };
    render(StatusCode::OK, page)
}

/// `POST /password/change`.
pub async fn change(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<ChangeForm>) -> Response {
    let Some(who) = &visitor.who else { return Redirect::to("/login").into_response() };
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let (current_error, new_error) = match accounts::change_password(&app, who, &form.current, &form.new).await {
        Ok(()) => return Redirect::to("/password/change?done=password").into_response(),
        Err(e @ AccountError::WrongCurrentPassword) => (Some(e.to_string()), None),
        Err(AccountError::Password(problem)) => (None, Some(problem.to_string())),
        Err(e) => return refused(&app, &visitor, e),
    };
    let page = PasswordChange {
        forced: who.must_change,
        page: Page::new(&app, &visitor),
        note: None,
        current_error,
        new_error,
    };
    render(StatusCode::OK, page)
}

/// `GET /profile`.
pub async fn profile_page(State(app): State<Arc<App>>, visitor: Customer, Query(done): Query<Done>) -> Response {
    let who = visitor.who();
    let note = (done.done == "profile").then_some("Saved.");
    let page = Profile {
        page: Page::new(&app, &visitor),
        note,
        email: &who.email,
        name: &who.name,
        notify_all: who.notify == CustomerNotify::All,
    };
    render(StatusCode::OK, page)
}

/// `POST /profile`.
pub async fn profile(State(app): State<Arc<App>>, visitor: Customer, Form(form): Form<ProfileForm>) -> Response {
    let who = visitor.who();
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let notify = form.notify.parse().unwrap_or(CustomerNotify::All);
    match accounts::update_profile(&app, who, &form.name, notify).await {
        Ok(()) => Redirect::to("/profile?done=profile").into_response(),
        Err(e) => pages::failure(&app, &e),
    }
}

/// `GET /password/forgot`.
pub async fn forgot_page(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    let cookie = visitor.visitor_cookie();
    with_cookies(render(StatusCode::OK, Forgot { page: Page::new(&app, &visitor) }), cookie)
}

/// `POST /password/forgot`: the same answer whether the address has an account or not.
pub async fn forgot(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<ForgotForm>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    match accounts::forgot(&app, &form.email, &visitor.client.to_string()).await {
        Ok(()) => {
            let text = "If this address has an account with us, a link to choose a new password is on its way. \
                        It works once, for a short time. Nothing arrived? Look in your spam folder.";
            message(&app, &visitor, "Check your mail", text, "/login")
        }
        Err(e) => refused(&app, &visitor, e),
    }
}

/// `GET /password/reset?token=…`.
pub async fn reset_page(State(app): State<Arc<App>>, visitor: Visitor, Query(q): Query<TokenQuery>) -> Response {
    let cookie = visitor.visitor_cookie();
    let response = match accounts::reset_target(&app, &q.token).await {
        Ok(Some(email)) => render(
            StatusCode::OK,
            Reset { page: Page::new(&app, &visitor), token: &q.token, email: &email, error: None },
        ),
        Ok(None) => expired(&app, &visitor),
        Err(e) => pages::failure(&app, &e),
    };
    with_cookies(response, cookie)
}

/// `POST /password/reset`: the new password, and a session (every other one ended).
pub async fn reset(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<ResetForm>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    match accounts::reset(&app, &form.token, &form.password, &visitor.client.to_string()).await {
        Ok(session) => with_cookies(Redirect::to("/?done=reset"), [visitor.session_cookie(&session.token)]),
        Err(AccountError::Password(problem)) => {
            let Ok(Some(email)) = accounts::reset_target(&app, &form.token).await else {
                return expired(&app, &visitor);
            };
            let page = Reset {
                page: Page::new(&app, &visitor),
                token: &form.token,
                email: &email,
                error: Some(problem.to_string()),
            };
            render(StatusCode::OK, page)
        }
        Err(e) => refused(&app, &visitor, e),
    }
}

/// The page for a refusal other than a form's own mistakes.
fn refused(app: &App, visitor: &Visitor, error: AccountError) -> Response {
    match error {
        AccountError::RateLimited { retry_after } => pages::too_many(app, visitor, retry_after),
        AccountError::TokenInvalid => expired(app, visitor),
        AccountError::Store(e) => pages::failure(app, &e),
        AccountError::Hash(e) => pages::failure(app, &e),
        other => message(app, visitor, "That did not work", &other.to_string(), "/"),
    }
}

fn expired(app: &App, visitor: &Visitor) -> Response {
    let text = "This link has expired or was used already. Write to us and we will send you a new one.";
    let page = Message {
        page: Page::new(app, visitor),
        heading: "This link no longer works",
        text,
        link: Some(("/", "Home")),
    };
    render(StatusCode::GONE, page)
}

fn message(app: &App, visitor: &Visitor, heading: &str, text: &str, onwards: &str) -> Response {
    let page = Message { page: Page::new(app, visitor), heading, text, link: Some((onwards, "Go on")) };
    render(StatusCode::OK, page)
}

/// Any other path: a readable 404.
pub async fn not_found(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    pages::not_found(&app, &visitor)
}
