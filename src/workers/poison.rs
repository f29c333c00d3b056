//! Poison marks: the raw messages that were in hand when a worker failed, hung or the
//! process died, with how many attempts each cost. Kept in the store and, once read, in
//! memory; desk's bounded interpretation writes and clears them (see `desk::intake`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::store::Store;

/// The poison marks, read from the store once (on first use) and kept in memory: they are
/// rare, and checking them must cost the normal path nothing but a map lookup.
#[derive(Debug, Default)]
pub struct PoisonMarks {
    marks: OnceCell<Mutex<HashMap<String, i64>>>,
    /// Messages whose mark this process wrote and whose interpretation has not ended (how
    /// many of each): the ones in hand should the process stop now.
    pub(crate) in_hand: Arc<Mutex<HashMap<String, usize>>>,
}

impl PoisonMarks {
    /// The marks, loaded from the store the first time.
    async fn loaded(&self, store: &Store) -> &Mutex<HashMap<String, i64>> {
        self.marks
            .get_or_init(|| async {
                let marks = match store.with(async |db| db.poison_marks().await).await {
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
    pub(crate) async fn attempts(&self, store: &Store, sha: &str) -> i64 {
        let marks = self.loaded(store).await;
        marks.lock().map(|m| m.get(sha).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// The interpretation of `sha` ended (finished, failed or timed out): its mark, if
    /// any, counts from now on as the attempt it records.
    pub(crate) fn out_of_hand(&self, sha: &str) {
        if let Ok(mut in_hand) = self.in_hand.lock()
            && let Some(n) = in_hand.get_mut(sha)
        {
            *n -= 1;
            if *n == 0 {
                in_hand.remove(sha);
            }
        }
    }

    /// Takes back the attempts of the messages still in hand: called when the daemon
    /// stops cleanly (on SIGTERM, or for stuck workers, once its tasks drained), so that a
    /// message that was only slow is not quarantined after two deploys. A worker that failed or timed out keeps
    /// its mark; so does every message in hand when the process dies or its drain fails.
    pub async fn release_in_hand(&self, store: &Store) {
        let in_hand: Vec<(String, usize)> = match self.in_hand.lock() {
            Ok(mut in_hand) => in_hand.drain().collect(),
            Err(_) => return,
        };
        for (sha, n) in in_hand {
            for _ in 0..n {
                match async {
                    let mut tx = store.begin().await?;
                    let left = tx.unmark_poison(&sha).await?;
                    tx.commit().await?;
                    Ok::<_, crate::store::StoreError>(left)
                }
                .await
                {
                    Ok(left) => {
                        info!(sha256 = %sha, "message in hand at shutdown; its attempt does not count");
                        self.set(&sha, (left > 0).then_some(left));
                    }
                    Err(e) => warn!(error = %e, sha256 = %sha, "cannot take back a poison mark"),
                }
            }
        }
    }

    /// Records `attempts` for `sha` in memory (none: forgets it).
    pub(crate) fn set(&self, sha: &str, attempts: Option<i64>) {
        if let Some(Ok(mut marks)) = self.marks.get().map(|m| m.lock()) {
            match attempts {
                Some(n) => marks.insert(sha.to_string(), n),
                None => marks.remove(sha),
            };
        }
    }
}
