//! Interpretation in bounded time, and poison marks. Every source's messages are read here:
//! on a blocking thread under `limits.max_processing_secs` of running time; a message that
//! hits the limit is refused (its stuck thread is abandoned, never awaited, so nothing waits
//! for it; see `workers`). A timer beside the worker writes a poison mark once a message has
//! been reading for about a second, and the mark is removed when it finishes normally: the
//! normal path writes nothing, while a message that was in hand when a worker failed, hung
//! or the process died is remembered, and after two such attempts is refused without being
//! read again. A clean shutdown takes back the attempts of the messages in hand.

use std::sync::Arc;
use std::time::Duration;

use tracing::{error, warn};

use crate::App;
use crate::inbound::{self, Interpretation};
use crate::workers::Finished;

/// A message still being read after this long gets a poison mark.
const MARK_AFTER: Duration = Duration::from_secs(1);

/// At this many attempts a message is refused without being read again.
const POISON_ATTEMPTS: i64 = 2;

/// What reading a message under the limits gave.
pub(in crate::desk) enum Bounded {
    /// The interpretation.
    Mail(Box<Interpretation>),
    /// The message cannot be processed: quarantine it for this reason.
    Refused(String),
    /// Intake stopped (too many workers stuck): the message was not read; keep it.
    Stopped,
}

/// Why a message that hit the time limit is quarantined.
pub(super) fn too_slow(secs: u64) -> String {
    format!("interpretation took longer than limits.max_processing_secs ({secs}s); the worker was abandoned")
}

/// Interprets `raw` on a blocking thread within `limits.max_processing_secs` of running
/// time, unless its poison mark says two attempts failed already.
pub(in crate::desk) async fn interpret(app: &App, raw: Arc<Vec<u8>>) -> Bounded {
    let sha = crate::store::sha256_hex(&raw);
    let before = app.poison.attempts(&app.store, &sha).await;
    if before >= POISON_ATTEMPTS {
        return Bounded::Refused(format!(
            "not interpreted again: a worker failed, hung or the process stopped while interpreting this \
             message {before} times"
        ));
    }
    let secs = app.config().limits.max_processing_secs;
    let settings = app.inbound.clone();
    let bytes = raw.clone();
    let Some(worker) = app.workers.spawn(move || {
        #[cfg(debug_assertions)]
        test_stall(&bytes);
        inbound::interpret(&bytes, &settings)
    }) else {
        return Bounded::Stopped;
    };
    let mut mark: Option<tokio::task::JoinHandle<()>> = None;
    let finished = worker
        .finish(&app.workers, Duration::from_secs(secs), MARK_AFTER, || mark = Some(write_mark(app, &sha, before)))
        .await;
    let result = match finished {
        Finished::Done(result) => result,
        Finished::Withdrawn => return Bounded::Stopped,
        Finished::TimedOut => {
            // The mark written beside it (now, if the limit came first) counts this attempt.
            let mark = mark.unwrap_or_else(|| write_mark(app, &sha, before));
            let _ = mark.await;
            app.poison.out_of_hand(&sha);
            error!(limit_secs = secs, sha256 = %sha, "message interpretation hit the time limit; worker abandoned");
            return Bounded::Refused(too_slow(secs));
        }
    };
    let marked = mark.is_some();
    if let Some(mark) = mark {
        let _ = mark.await;
        app.poison.out_of_hand(&sha);
    }
    match result {
        Ok(interpreted) => {
            if marked || before > 0 {
                // Finished after all: forget the attempts (a write on the slow path only).
                app.poison.set(&sha, None);
                if let Err(e) = app.store.with(async |db| db.clear_poison(&sha).await).await {
                    warn!(error = %e, sha256 = %sha, "cannot clear a poison mark");
                }
            }
            match interpreted {
                Ok(mail) => match mail.refusal() {
                    Some(why) => Bounded::Refused(why.to_string()),
                    None => Bounded::Mail(Box::new(mail)),
                },
                Err(e) => Bounded::Refused(e.to_string()),
            }
        }
        // A panic is a failure of its own: quarantined now, never retried forever. The
        // mark (if written) stays and counts it.
        Err(e) if e.is_panic() => Bounded::Refused("interpretation failed (the parser panicked)".into()),
        Err(e) => Bounded::Refused(format!("interpretation failed: {e}")),
    }
}

/// Writes the poison mark of `sha` (one more attempt than `before`) beside the worker; once
/// written, the message counts as in hand until its interpretation ends.
fn write_mark(app: &App, sha: &str, before: i64) -> tokio::task::JoinHandle<()> {
    app.poison.set(sha, Some(before + 1));
    let (store, sha) = (app.store.clone(), sha.to_string());
    let in_hand = app.poison.in_hand.clone();
    tokio::spawn(async move {
        match store.with(async |db| db.mark_poison(&sha).await).await {
            Ok(_) => {
                if let Ok(mut in_hand) = in_hand.lock() {
                    *in_hand.entry(sha).or_default() += 1;
                }
            }
            Err(e) => warn!(error = %e, sha256 = %sha, "cannot write a poison mark"),
        }
    })
}

/// Fault injection for tests, compiled into debug builds only: when the environment variable
/// `MAILDESK_TEST_STALL_MARKER` is set and its value occurs in the raw message, the worker
/// sleeps for an hour before interpreting it — a parser that hangs, on demand, whatever the
/// real parser's speed. `tests/e2e_wedge.rs` uses it; release builds have no such hook.
#[cfg(debug_assertions)]
fn test_stall(raw: &[u8]) {
    let Some(marker) = std::env::var_os("MAILDESK_TEST_STALL_MARKER") else { return };
    let marker = marker.as_encoded_bytes();
    if !marker.is_empty() && raw.windows(marker.len()).any(|w| w == marker) {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
