//! The daemon's metrics in Prometheus's text format, on `[metrics] listen` (off by
//! default), with `/healthz` and `/readyz` beside them. What happens is counted where it
//! happens (the `metrics` crate's macros: mail taken, notifications sent, portal
//! requests); what is a state (the parts' health, the outbox, the database pool) is read
//! when the metrics are asked for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::App;

// Mail taken in is counted by desk (`desk::MAILS`, `desk::MAIL_SECONDS`).
/// Notifications sent: `kind`.
pub const SENT: &str = "maildesk_notifications_sent_total";
/// Notifications that failed an attempt: `kind`.
pub const SEND_FAILURES: &str = "maildesk_notification_failures_total";
/// Portal requests: `route`, `status`.
pub const REQUESTS: &str = "maildesk_portal_requests_total";
/// How long a portal request took, seconds: `route`.
pub const REQUEST_SECONDS: &str = "maildesk_portal_request_seconds";

/// The histograms' buckets, seconds: from a millisecond to a minute.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Installs the process's metrics recorder; the handle renders what it recorded.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    PrometheusBuilder::new().set_buckets(BUCKETS)?.install_recorder()
}

/// Counts one attempt to send a notification of `kind`.
pub fn sent(kind: &str, ok: bool) {
    let name = if ok { SENT } else { SEND_FAILURES };
    metrics::counter!(name, "kind" => kind.to_string()).increment(1);
}

/// The portal's middleware: counts each request by its route (the pattern, not the path:
/// `/requests/{number}`) and status, and times it.
/// Each request runs in a span `request` with its route, method, and, once answered, its
/// status and time (what the handlers log carries them); the answer is logged at debug.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let span = tracing::info_span!(
        "request", route = %route, method = %request.method(), status = tracing::field::Empty, ms = tracing::field::Empty
    );
    let began = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let took = began.elapsed();
    span.record("status", response.status().as_u16());
    span.record("ms", took.as_secs_f64() * 1000.0);
    span.in_scope(|| tracing::debug!("answered"));
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(REQUEST_SECONDS, "route" => route).record(took.as_secs_f64());
    response
}

/// Sets the gauges of what is a state, read now: each part's health and when it last
/// worked, the outbox's depth and its oldest notification's age, the database pool.
pub async fn read_states(app: &App) {
    for (part, state) in app.health.parts_now() {
        metrics::gauge!("maildesk_part_up", "part" => part.clone()).set(if state.is_up() { 1.0 } else { 0.0 });
        if let Some(at) = state.last_ok() {
            let secs = at.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            metrics::gauge!("maildesk_part_last_success_timestamp_seconds", "part" => part).set(secs);
        }
    }
    let (open, idle) = app.store.pool_use();
    metrics::gauge!("maildesk_db_connections", "state" => "open").set(f64::from(open));
    metrics::gauge!("maildesk_db_connections", "state" => "idle").set(idle as f64);
    if let Ok(Ok((pending, oldest))) = tokio::time::timeout(Duration::from_secs(2), outbox(app)).await {
        metrics::gauge!("maildesk_outbox_pending").set(pending as f64);
        let age = oldest.map_or(0, |at| (crate::store::now() - at).max(0));
        metrics::gauge!("maildesk_outbox_oldest_pending_seconds").set(age as f64);
    }
}

async fn outbox(app: &App) -> Result<(i64, Option<i64>), crate::store::StoreError> {
    app.store.conn().await?.outbox_pending().await
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/metrics", get(render))
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        .with_state((app, handle));
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

type Shared = (Arc<App>, PrometheusHandle);

async fn render(State((app, handle)): State<Shared>) -> Response {
    read_states(&app).await;
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// `/healthz`: the process answers.
pub async fn alive() -> &'static str {
    "ok"
}

async fn ready(State((app, _)): State<Shared>) -> Response {
    readiness(&app).await
}

/// `/readyz`: 200 when the database answers and every source, the sender and the portal
/// are up; 503 naming what is not.
pub async fn readiness(app: &App) -> Response {
    match crate::desk::ready::check(app).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(missing) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready:\n{}\n", missing.join("\n"))).into_response()
        }
    }
}
