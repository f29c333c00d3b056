//! What one mailbox's task remembers across its sessions so that it backs off and speaks
//! once: the failed attempts since the mailbox last worked, the failure last logged, the
//! notices already given, and which folders refuse moves.

use std::collections::{HashMap, HashSet};

/// What a caller should log about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// Nothing: it was said before.
    Nothing,
    /// The first failure after things worked.
    First,
    /// A failure different from the one last said.
    Changed,
}

/// A mailbox's memory across sessions (see the module comment).
#[derive(Debug, Default)]
pub struct Watch {
    attempts: u32,
    failing: Option<String>,
    notices: HashSet<String>,
    refused: HashMap<String, String>,
    unreadable: HashMap<(i64, u32), (u32, String)>,
}

impl Watch {
    /// The failed sessions since the mailbox last worked.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// A session ended with `failure`: one more attempt, and whether to say so.
    pub fn failed(&mut self, failure: &str) -> Said {
        self.attempts += 1;
        said(self.failing.replace(shape(failure)), shape(failure))
    }

    /// The mailbox worked (mail applied, or a wait ended normally): the backoff starts over.
    /// True when it had been failing, so that the recovery is said once.
    pub fn worked(&mut self) -> bool {
        self.attempts = 0;
        self.failing.take().is_some()
    }

    /// True the first time `notice` is given, so that it is logged once per run.
    pub fn once(&mut self, notice: &str) -> bool {
        self.notices.insert(shape(notice))
    }

    /// The server would not give message `uid` under `validity` (it answered `answer`, or
    /// the connection broke while it was being fetched).
    pub fn unreadable(&mut self, validity: i64, uid: u32, answer: &str) {
        let entry = self.unreadable.entry((validity, uid)).or_default();
        entry.0 += 1;
        entry.1 = answer.to_string();
    }

    /// How often message `uid` could not be fetched in this run, and the last answer.
    pub fn unreadable_so_far(&self, validity: i64, uid: u32) -> Option<&(u32, String)> {
        self.unreadable.get(&(validity, uid))
    }

    /// A move into `folder` was refused with `answer`: whether to say so.
    pub fn move_refused(&mut self, folder: &str, answer: &str) -> Said {
        said(self.refused.insert(folder.to_string(), shape(answer)), shape(answer))
    }

    /// A move into `folder` worked: true when it had been refused, so that is said once.
    pub fn move_worked(&mut self, folder: &str) -> bool {
        self.refused.remove(folder).is_some()
    }
}

/// What to say about `now`, given what was said `before` (`None`: nothing was failing).
fn said(before: Option<String>, now: String) -> Said {
    match before {
        None => Said::First,
        Some(last) if last == now => Said::Nothing,
        Some(_) => Said::Changed,
    }
}

/// A failure's shape: its text with every number written `#`, so that an answer that
/// differs only in a timing, a count or a UID (`NO Mailbox doesn't exist (0.001 + 0.000
/// secs)`) is the same failure.
fn shape(text: &str) -> String {
    // Dovecot ends an answer with how long it took, in as many terms as it had steps:
    // `(0.001 + 0.000 + 0.001 secs).`; that is no other reason.
    static TIMING: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\s*\([0-9.+ ]*secs\)").expect("valid regex"));
    let text = TIMING.replace_all(text, "");
    let mut shaped = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_ascii_digit() {
            shaped.push(c);
        } else if !shaped.ends_with('#') {
            shaped.push('#');
        }
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_timing_is_no_other_reason() {
        let mut watch = Watch::default();
        let first = "IMAP: No Response: Mailbox doesn't exist: Gone (0.001 + 0.000 + 0.001 secs).";
        assert_eq!(watch.failed(first), Said::First);
        assert_eq!(watch.failed("IMAP: No Response: Mailbox doesn't exist: Gone (0.002 + 0.001 secs)."), Said::Nothing);
        assert_eq!(watch.failed("IMAP: connection lost"), Said::Changed);
    }

    #[test]
    fn attempts_grow_across_sessions_until_the_mailbox_works() {
        let mut w = Watch::default();
        // A server that lets us select and then fails, session after session.
        assert_eq!(w.failed("IMAP: no response: over quota"), Said::First);
        assert_eq!(w.failed("IMAP: no response: over quota"), Said::Nothing);
        assert_eq!(w.failed("IMAP: no response: over quota"), Said::Nothing);
        assert_eq!(w.attempts(), 3, "connecting and selecting alone is not working");
        assert_eq!(w.failed("IMAP: connection lost"), Said::Changed);
        assert_eq!(w.attempts(), 4);
        assert!(w.worked(), "the recovery is said");
        assert_eq!(w.attempts(), 0);
        assert!(!w.worked(), "and only once");
        assert_eq!(w.failed("IMAP: connection lost"), Said::First, "a new failure after working is said again");
        assert_eq!(w.failed("NO Mailbox doesn't exist: Nope (0.001 + 0.000 secs)."), Said::Changed);
        assert_eq!(w.failed("NO Mailbox doesn't exist: Nope (0.002 + 0.001 secs)."), Said::Nothing, "timings differ");
    }

    #[test]
    fn notices_and_refused_moves_are_said_once_until_they_change() {
        let mut w = Watch::default();
        assert!(w.once("cannot create INBOX.done"));
        assert!(!w.once("cannot create INBOX.done"));
        assert!(w.once("create x: NO Permission denied (0.001 + 0.000 secs)."));
        assert!(!w.once("create x: NO Permission denied (0.002 + 0.001 secs)."), "timings differ");
        assert_eq!(w.move_refused("done", "NO [OVERQUOTA] Over quota"), Said::First);
        assert_eq!(w.move_refused("done", "NO [OVERQUOTA] Over quota"), Said::Nothing);
        assert_eq!(w.move_refused("done", "NO Permission denied"), Said::Changed);
        assert_eq!(w.move_refused("quarantine", "NO Permission denied"), Said::First, "each folder on its own");
        assert!(w.move_worked("done"));
        assert!(!w.move_worked("done"));
        assert_eq!(w.move_refused("done", "NO Permission denied"), Said::First);
    }
}
