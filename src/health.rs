//! What the daemon's parts say of themselves: each source, the sender and the portal is
//! up (with when it last worked) or down (with why). The service manager is told the
//! daemon is ready once every part is up (see [`crate::service`]); `/readyz` and the
//! metrics read the same states.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

/// The Maildir source's name as a part.
pub const MAILDIR: &str = "maildir";
/// The outbox sender's name as a part.
pub const SENDER: &str = "sender";
/// The portal's name as a part.
pub const PORTAL: &str = "portal";

/// The IMAP mailbox `name`'s name as a part.
pub fn imap(name: &str) -> String {
    format!("imap {name}")
}

/// How one part of the daemon is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Started, not up yet.
    Starting,
    /// Working; it last worked at `last_ok`.
    Up {
        /// When it last worked (a mailbox read, a wait ended normally).
        last_ok: SystemTime,
    },
    /// Not working, for the reason given (it keeps trying).
    Down {
        /// Why, in words for the admin.
        why: String,
        /// When it last worked, if ever.
        last_ok: Option<SystemTime>,
    },
}

impl State {
    /// Whether it is up.
    pub fn is_up(&self) -> bool {
        matches!(self, State::Up { .. })
    }

    /// When it last worked, if ever.
    pub fn last_ok(&self) -> Option<SystemTime> {
        match self {
            State::Starting => None,
            State::Up { last_ok } => Some(*last_ok),
            State::Down { last_ok, .. } => *last_ok,
        }
    }
}

/// The parts of the daemon and their states, by name (`imap support`, `maildir`,
/// `sender`, `portal`).
#[derive(Debug, Default)]
pub struct Health {
    parts: Mutex<BTreeMap<String, State>>,
    changed: tokio::sync::Notify,
}

impl Health {
    /// Adds the part `name`, not up yet: readiness waits for it.
    pub fn expect(&self, name: &str) {
        self.parts().entry(name.to_string()).or_insert(State::Starting);
        self.changed.notify_waiters();
    }

    /// Says `name` works now.
    pub fn up(&self, name: &str) {
        let was_up = {
            let mut parts = self.parts();
            let was = parts.insert(name.to_string(), State::Up { last_ok: SystemTime::now() });
            was.is_some_and(|s| s.is_up())
        };
        if !was_up {
            self.changed.notify_waiters();
        }
    }

    /// Says `name` does not work, and why.
    pub fn down(&self, name: &str, why: &str) {
        {
            let mut parts = self.parts();
            let last_ok = parts.get(name).and_then(State::last_ok);
            parts.insert(name.to_string(), State::Down { why: why.to_string(), last_ok });
        }
        self.changed.notify_waiters();
    }

    /// Every part and its state, by name.
    pub fn parts_now(&self) -> Vec<(String, State)> {
        self.parts().iter().map(|(n, s)| (n.clone(), s.clone())).collect()
    }

    /// The parts that are not up, with what they are waiting for, in words.
    pub fn not_up(&self) -> Vec<String> {
        self.parts()
            .iter()
            .filter(|(_, s)| !s.is_up())
            .map(|(name, s)| match s {
                State::Down { why, .. } => format!("{name}: {why}"),
                _ => format!("{name}: starting"),
            })
            .collect()
    }

    /// Waits until every part is up.
    pub async fn all_up(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.not_up().is_empty() {
                return;
            }
            changed.await;
        }
    }

    fn parts(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, State>> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn all_up_waits_for_every_expected_part_and_down_keeps_when_it_last_worked() {
        let health = std::sync::Arc::new(Health::default());
        health.expect("imap support");
        health.expect("sender");
        let waiting = tokio::spawn({
            let health = health.clone();
            async move { health.all_up().await }
        });
        health.up("sender");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the mailbox is not up yet");
        assert_eq!(health.not_up(), ["imap support: starting"]);
        health.down("imap support", "connection refused");
        assert_eq!(health.not_up(), ["imap support: connection refused"]);
        health.up("imap support");
        tokio::time::timeout(Duration::from_secs(1), waiting).await.expect("ready once all are up").unwrap();
        health.down("imap support", "timed out");
        let parts = health.parts_now();
        let (_, mailbox) = parts.iter().find(|(n, _)| n == "imap support").unwrap();
        assert!(!mailbox.is_up() && mailbox.last_ok().is_some(), "{mailbox:?}");
    }
}
