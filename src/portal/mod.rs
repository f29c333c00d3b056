//! The web portal (axum). Thin: HTTP in, one desk call, a template out; no SQL and
//! no business rules in handlers. For now a placeholder page and a health check.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::App;

#[derive(Template)]
#[template(path = "portal/index.html")]
struct Index<'a> {
    desk_name: &'a str,
    address: &'a str,
}

/// The portal's routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new().route("/", get(index)).route("/healthz", get(health)).with_state(app)
}

async fn index(State(app): State<Arc<App>>) -> Response {
    let page = Index { desk_name: &app.config.desk.name, address: app.config.desk.address.as_str() };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the index page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

async fn health() -> &'static str {
    "ok"
}

/// Serves the portal on `listener` until `shutdown` fires.
pub async fn serve(listener: TcpListener, app: Arc<App>, shutdown: CancellationToken) -> std::io::Result<()> {
    axum::serve(listener, router(app)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}
