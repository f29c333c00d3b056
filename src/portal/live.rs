//! Live updates of a request's page (MISSION P8): `GET /requests/N/events`, server-sent
//! events that carry each new public comment as the page would show it, and the status when
//! it changes. An enhancement: the page works without it (a reload shows the same). The
//! events come from desk's feed of the store's changes (`desk::live`), and what they carry
//! is read through the same desk call, with the same visibility, as the page itself.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Extension, Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::pages::{self, CommentItem, status_label};
use super::visitor::Customer;
use crate::App;
use crate::desk::tickets;
use crate::domain::{ContactId, Status, TicketNumber};

/// How long a stream waits without news before it looks anyway (a change it may have
/// missed, a request it may no longer see).
const LOOK_ANYWAY: Duration = Duration::from_secs(20);

/// Fires when the portal stops: open event streams end then, so that stopping is not held
/// up by pages left open.
#[derive(Clone)]
pub struct Stopping(pub tokio_util::sync::CancellationToken);

/// `?after=` of the events: the newest comment the page has.
#[derive(Deserialize)]
pub struct After {
    #[serde(default)]
    after: i64,
}

/// What one stream knows.
struct Follow {
    app: Arc<App>,
    viewer: ContactId,
    n: TicketNumber,
    after: i64,
    status: Option<Status>,
    changes: tokio::sync::broadcast::Receiver<TicketNumber>,
    first: bool,
}

/// `GET /requests/N/events`: the request's new comments and status as they come, for as
/// long as the visitor may see it; 404 when they may not.
pub async fn events(
    State(app): State<Arc<App>>,
    visitor: Customer,
    Path(number): Path<String>,
    Query(after): Query<After>,
    stopping: Option<Extension<Stopping>>,
) -> Response {
    let Ok(n) = number.parse::<i64>().map(TicketNumber) else { return pages::not_found(&app, &visitor) };
    let viewer = visitor.who().contact;
    // Listening before the first look: nothing between the two is missed.
    let changes = app.changes.subscribe();
    let status = match tickets::detail_for(&app, viewer, n).await {
        Ok(Some(ticket)) => ticket.ticket.status,
        Ok(None) => return pages::not_found(&app, &visitor),
        Err(e) => return pages::failure(&app, &e),
    };
    let follow = Follow { app, viewer, n, after: after.after, status: Some(status), changes, first: true };
    let stop = stopping.map(|Extension(Stopping(token))| token).unwrap_or_default();
    let stream = futures::stream::unfold(follow, next)
        .flat_map(futures::stream::iter)
        .map(Ok::<Event, Infallible>)
        .take_until(stop.cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// The next events of a stream, once there are some; none when it ends (the app stops, the
/// request is no longer the visitor's to see, the store fails).
async fn next(mut f: Follow) -> Option<(Vec<Event>, Follow)> {
    loop {
        if !f.first {
            let wake = tokio::time::timeout(LOOK_ANYWAY, async {
                loop {
                    match f.changes.recv().await {
                        Ok(t) if t == f.n => return true,
                        Ok(_) => continue,
                        // Missed some: look, one of them may be ours.
                        Err(RecvError::Lagged(_)) => return true,
                        Err(RecvError::Closed) => return false,
                    }
                }
            });
            if let Ok(false) = wake.await {
                return None;
            }
        }
        f.first = false;
        let ticket = tickets::detail_for(&f.app, f.viewer, f.n).await.ok().flatten()?;
        let mut events = Vec::new();
        let after = f.after;
        for c in ticket.comments.iter().filter(|c| c.id.0 > after) {
            let html = CommentItem { number: f.n.0, c }.render().ok()?;
            events.push(Event::default().event("comment").id(c.id.0.to_string()).data(html));
            f.after = c.id.0;
        }
        let status = ticket.ticket.status;
        if f.status != Some(status) {
            f.status = Some(status);
            events.push(Event::default().event("status").data(status_label(status)));
        }
        if !events.is_empty() {
            return Some((events, f));
        }
    }
}
