//! Interpretation in bounded time, and poison marks. Every source's messages are read here:
//! on a blocking thread under `limits.max_processing_secs`; a message that hits the limit is
//! refused (its stuck thread is abandoned, never awaited, so nothing waits for it). A timer
//! beside the worker writes a poison mark once a message has been reading for about a
//! second, and the mark is removed when it finishes normally: the normal path writes
//! nothing, while a message that was in hand when a worker failed, hung or the process died
//! is remembered, and after two such attempts is refused without being read again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tracing::{error, warn};

use crate::App;
use crate::inbound::{self, Interpretation};

/// A message still being read after this long gets a poison mark.
const MARK_AFTER: Duration = Duration::from_secs(1);

/// At this many attempts a message is refused without being read again.
const POISON_ATTEMPTS: i64 = 2;

/// The poison marks, read from the store once (on first use) and kept in memory: they are
/// rare, and checking them must cost the normal path nothing but a map lookup.
#[derive(Debug, Default)]
pub struct PoisonMarks {
    marks: OnceCell<Mutex<HashMap<String, i64>>>,
}

impl PoisonMarks {
    /// The marks, loaded from the store the first time.
    async fn loaded(&self, app: &App) -> &Mutex<HashMap<String, i64>> {
        self.marks
            .get_or_init(|| async {
                let marks = match app.store.poison_marks().await {
                    Ok(rows) => rows.into_iter().collect(),
                    Err(e) => {
                        // Not knowing the marks must not stop intake: a poison message
                        // then costs one more attempt.
                        warn!(error = %e, "cannot read the poison marks; going on without them");
                        HashMap::new()
                    }
                };
                Mutex::new(marks)
            })
            .await
    }

    /// The attempts recorded for the raw message `sha`.
    async fn attempts(&self, app: &App, sha: &str) -> i64 {
        let marks = self.loaded(app).await;
        marks.lock().map(|m| m.get(sha).copied().unwrap_or(0)).unwrap_or(0)
    }

    fn set(&self, sha: &str, attempts: Option<i64>) {
        if let Some(Ok(mut marks)) = self.marks.get().map(|m| m.lock()) {
            match attempts {
                Some(n) => marks.insert(sha.to_string(), n),
                None => marks.remove(sha),
            };
        }
    }
}

/// What reading a message under the limits gave.
pub(super) enum Bounded {
    /// The interpretation.
    Mail(Box<Interpretation>),
    /// The message cannot be processed: quarantine it for this reason.
    Refused(String),
}

/// Why a message that hit the time limit is quarantined.
pub(super) fn too_slow(secs: u64) -> String {
    format!("interpretation took longer than limits.max_processing_secs ({secs}s); the worker was abandoned")
}

/// Interprets `raw` on a blocking thread within `limits.max_processing_secs`, unless its
/// poison mark says two attempts failed already.
pub(super) async fn interpret(app: &App, raw: Arc<Vec<u8>>) -> Bounded {
    let sha = crate::store::sha256_hex(&raw);
    let before = app.poison.attempts(app, &sha).await;
    if before >= POISON_ATTEMPTS {
        return Bounded::Refused(format!(
            "not interpreted again: a worker failed, hung or the process stopped while interpreting this \
             message {before} times"
        ));
    }
    let secs = app.config.limits.max_processing_secs;
    let settings = app.inbound.clone();
    let bytes = raw.clone();
    let mut worker = tokio::task::spawn_blocking(move || {
        #[cfg(debug_assertions)]
        test_stall(&bytes);
        inbound::interpret(&bytes, &settings)
    });
    let deadline = tokio::time::sleep(Duration::from_secs(secs));
    let mark_at = tokio::time::sleep(MARK_AFTER);
    tokio::pin!(deadline, mark_at);
    let mut mark: Option<tokio::task::JoinHandle<()>> = None;
    let result = loop {
        tokio::select! {
            done = &mut worker => break Some(done),
            _ = &mut mark_at, if mark.is_none() => mark = Some(write_mark(app, &sha, before)),
            _ = &mut deadline => break None,
        }
    };
    let Some(result) = result else {
        // The thread is left to itself (dropping the handle detaches it); the mark written
        // beside it (now, if the limit came first) counts this attempt.
        if mark.is_none() {
            mark = Some(write_mark(app, &sha, before));
        }
        if let Some(mark) = mark {
            let _ = mark.await;
        }
        error!(limit_secs = secs, sha256 = %sha, "message interpretation hit the time limit; worker abandoned");
        return Bounded::Refused(too_slow(secs));
    };
    match result {
        Ok(interpreted) => {
            if mark.is_some() || before > 0 {
                // Finished after all: forget the attempts (a write on the slow path only).
                if let Some(mark) = mark {
                    let _ = mark.await;
                }
                app.poison.set(&sha, None);
                if let Err(e) = app.store.clear_poison(&sha).await {
                    warn!(error = %e, sha256 = %sha, "cannot clear a poison mark");
                }
            }
            match interpreted {
                Ok(mail) => Bounded::Mail(Box::new(mail)),
                Err(e) => Bounded::Refused(e.to_string()),
            }
        }
        // A panic is a failure of its own: quarantined now, never retried forever. The
        // mark (if written) stays and counts it.
        Err(e) if e.is_panic() => Bounded::Refused("interpretation failed (the parser panicked)".into()),
        Err(e) => Bounded::Refused(format!("interpretation failed: {e}")),
    }
}

/// Writes the poison mark of `sha` (one more attempt than `before`) beside the worker.
fn write_mark(app: &App, sha: &str, before: i64) -> tokio::task::JoinHandle<()> {
    app.poison.set(sha, Some(before + 1));
    let (store, sha) = (app.store.clone(), sha.to_string());
    tokio::spawn(async move {
        if let Err(e) = store.mark_poison(&sha).await {
            warn!(error = %e, sha256 = %sha, "cannot write a poison mark");
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
