//! The web portal (axum). Thin: HTTP in, one desk call, a template out; no SQL and
//! no business rules in handlers. Pages are server-rendered askama templates that work
//! without JavaScript; every response carries a Content-Security-Policy with no inline
//! script, and the CSS is embedded in the binary.

mod account;
mod files;
mod form;
mod kb;
mod kb_solved;
mod live;
mod organisation;
mod pages;
mod requests;
mod status;
mod visitor;
mod writing;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::App;

/// The portal's stylesheet, embedded.
const PORTAL_CSS: &str = include_str!("../../assets/portal.css");

/// The request pages' enhancements (drag-and-drop of files, live updates), embedded; the
/// pages work without it.
const REQUEST_JS: &str = include_str!("../../assets/request.js");

/// The new-request form's suggestions while the customer types, embedded; the form works
/// without it.
const SUGGEST_JS: &str = include_str!("../../assets/suggest.js");

/// The portal's icon, embedded.
const FAVICON: &str = include_str!("../../assets/favicon.svg");

/// What every response says about how a browser may treat it: scripts and styles only
/// from here (none inline), no framing, no sniffing, no referrer (links carry tokens).
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// The portal's routes.
pub fn router(app: Arc<App>) -> Router {
    // Forms with files may be as large as the files they may carry; every other body keeps
    // axum's default limit (2 MB).
    let forms = DefaultBodyLimit::max(form::body_limit(&app));
    Router::new()
        .route("/", get(account::index))
        .route("/signup", get(account::signup_page).post(account::signup))
        .route("/register", get(account::register_page).post(account::register))
        .route("/verify", get(account::verify_page).post(account::verify))
        .route("/login", get(account::login_page).post(account::login))
        .route("/logout", post(account::logout))
        .route("/password/change", get(account::change_page).post(account::change))
        .route("/password/forgot", get(account::forgot_page).post(account::forgot))
        .route("/password/reset", get(account::reset_page).post(account::reset))
        .route("/profile", get(account::profile_page).post(account::profile))
        .route("/organisation", get(organisation::page))
        .route("/organisation/invite", post(organisation::invite))
        .route("/organisation/access", post(organisation::access))
        .route("/requests", get(requests::list))
        .route("/requests/new", get(writing::new_page).post(writing::new).layer(forms))
        .route("/requests/{number}", get(requests::detail))
        .route("/requests/{number}/reply", post(writing::reply).layer(forms))
        .route("/requests/{number}/events", get(live::events))
        .route("/requests/{number}/{change}", get(status::confirm).post(status::change))
        .route("/requests/{number}/files/{id}", get(files::download))
        .route("/requests/{number}/files/{id}/preview", get(files::preview))
        // The knowledge base: its own routes before the slug, which may have slashes.
        .route("/kb", get(kb::home))
        .route("/kb/search", get(kb::search))
        .route("/kb/suggest", get(kb::suggest))
        .route("/kb/feedback", post(kb::feedback))
        .route("/kb/solved", get(kb_solved::confirm_page).post(kb_solved::confirm))
        .route("/kb/category/{name}", get(kb::category))
        .route("/kb/files/{slug}/{*path}", get(kb::file))
        .route("/kb/{*slug}", get(kb::solution))
        .route("/static/portal.css", get(stylesheet))
        .route("/static/captcha.js", get(captcha_script))
        .route("/static/request.js", get(request_script))
        .route("/static/suggest.js", get(suggest_script))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/healthz", get(crate::telemetry::alive))
        .route("/readyz", get(ready))
        .fallback(account::not_found)
        .layer(axum::middleware::map_response(secure_headers))
        .layer(axum::middleware::from_fn(crate::telemetry::count_requests))
        .with_state(app)
}

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        // A response that set its own (a file download's sandbox) keeps it.
        headers.entry(HeaderName::from_static(name)).or_insert(HeaderValue::from_static(value));
    }
    if !headers.contains_key(CACHE_CONTROL) {
        // Pages show who is signed in and carry CSRF tokens: never from a shared cache.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
        (CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
    ];
    (headers, PORTAL_CSS).into_response()
}

/// One of the portal's scripts, which a browser may keep for a day.
fn script(body: &'static str) -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
        (CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
    ];
    (headers, body).into_response()
}

async fn captcha_script() -> Response {
    script(crate::desk::captcha::CAPTCHA_JS)
}

async fn request_script() -> Response {
    script(REQUEST_JS)
}

async fn suggest_script() -> Response {
    script(SUGGEST_JS)
}

async fn favicon() -> Response {
    let headers = [
        (CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
        (CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
    ];
    (headers, FAVICON).into_response()
}

/// `/readyz`: the database answers and every part of the daemon is up.
async fn ready(State(app): State<Arc<App>>) -> Response {
    crate::telemetry::readiness(&app).await
}

/// Serves the portal on `listener` until `shutdown` fires; handlers see each client's
/// address (for rate limits).
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: CancellationToken) -> std::io::Result<()> {
    // Streams that would never end by themselves (live updates) end when the portal stops.
    let router = router(app).layer(axum::Extension(live::Stopping(shutdown.clone())));
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
