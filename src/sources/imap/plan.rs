//! What a session does with processed mail, decided once at its start from the config and
//! what the server offers: the folders by the server's names (created when missing), how a
//! message leaves the intake folder (MOVE; COPY + UID EXPUNGE of exactly our UIDs with
//! UIDPLUS; else only a flag), and whether it waits with IDLE or polls.

use tracing::{error, info, warn};

use super::connect::ImapSession;
use super::error::{SyncError, refusal};
use super::folders::{self, Namespace, Namespaces};
use super::watch::Watch;
use crate::config::{AfterCommit, ImapMailbox};

/// The keyword a processed message carries when it stays in the intake folder.
pub const DONE_KEYWORD: &str = "$maildesk-done";

/// The keyword a quarantined message carries when it stays in the intake folder.
pub const QUARANTINED_KEYWORD: &str = "$maildesk-quarantined";

/// Where a processed message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The done folder (its effect is committed).
    Done,
    /// The quarantine folder (desk could not process it).
    Quarantine,
}

impl Target {
    /// The name kept in the store for a message waiting to be moved.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Done => "done",
            Target::Quarantine => "quarantine",
        }
    }
}

/// How a message leaves the intake folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// UID MOVE (RFC 6851).
    Move,
    /// UID COPY, `\Deleted`, then UID EXPUNGE of exactly those UIDs (RFC 4315).
    CopyExpunge,
    /// It does not: without MOVE or UIDPLUS, expunging would remove others' deleted mail
    /// too, so the message is flagged and stays.
    Flag,
}

/// A session's decisions (see the module comment).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The intake folder by the server's name.
    pub intake: String,
    /// The done folder; `None` with `after = "flag"` or when it cannot be created.
    pub done: Option<String>,
    /// The quarantine folder; `None` when it cannot be created.
    pub quarantine: Option<String>,
    /// How a message leaves the intake folder.
    pub transfer: Transfer,
    /// Whether UID EXPUNGE of exactly our UIDs is possible (UIDPLUS).
    pub uidplus: bool,
    /// Wait with IDLE rather than polling.
    pub idle: bool,
    /// Whether the intake folder keeps keywords (PERMANENTFLAGS has `\*`); read at SELECT.
    pub keywords: bool,
}

impl Plan {
    /// Reads what the server offers, resolves the folder names, creates the done and
    /// quarantine folders when missing, and says once which path the mailbox takes.
    pub async fn prepare(
        session: &mut ImapSession,
        mailbox: &ImapMailbox,
        watch: &mut Watch,
    ) -> Result<Plan, SyncError> {
        let caps = session.capabilities().await?;
        let has = |name: &str| caps.has_str(name);
        let (idle, mv, uidplus) = (has("IDLE") && mailbox.idle, has("MOVE") && mailbox.use_move, has("UIDPLUS"));
        let names = Self::namespaces(session, has("NAMESPACE")).await?;
        let mut plan = Plan {
            intake: names.resolve(&mailbox.folder),
            done: None,
            quarantine: None,
            transfer: match (mv, uidplus) {
                (true, _) => Transfer::Move,
                (false, true) => Transfer::CopyExpunge,
                (false, false) => Transfer::Flag,
            },
            uidplus,
            idle,
            keywords: false,
        };
        if mailbox.after == AfterCommit::Move {
            plan.done = ensure(session, mailbox, watch, "done_folder", &names.resolve(&mailbox.done_folder)).await?;
        }
        plan.quarantine =
            ensure(session, mailbox, watch, "quarantine_folder", &names.resolve(&mailbox.quarantine_folder)).await?;
        // Names that differ in the config may name the intake folder on this server: moving
        // a message there would bring it back as new mail, again and again.
        for (key, target) in [("done_folder", &mut plan.done), ("quarantine_folder", &mut plan.quarantine)] {
            if target.as_deref() == Some(plan.intake.as_str()) {
                if watch.once(&format!("{key} is the intake folder")) {
                    error!(
                        mailbox = %mailbox.name, folder = %plan.intake,
                        "`{key}` of [[imap]] {:?} names the intake folder on this server; processed mail is \
                         flagged in place instead",
                        mailbox.name
                    );
                }
                *target = None;
            }
        }
        let path = plan.describe(mailbox);
        if watch.once(&path) {
            info!(mailbox = %mailbox.name, path = %path, "IMAP mailbox ready");
            if plan.transfer == Transfer::Flag && mailbox.after == AfterCommit::Move {
                warn!(
                    mailbox = %mailbox.name,
                    "the server offers neither MOVE nor UIDPLUS: processed mail is flagged {DONE_KEYWORD} and left in {}",
                    plan.intake
                );
            }
        }
        Ok(plan)
    }

    /// The personal namespace (NAMESPACE where offered, the delimiter from LIST), for
    /// resolving the configured names.
    pub(super) async fn namespaces(session: &mut ImapSession, offered: bool) -> Result<Namespaces, SyncError> {
        let mut names = if offered {
            folders::namespaces(session).await.map_err(|e| SyncError::Imap(e.into()))?.unwrap_or_default()
        } else {
            Namespaces::default()
        };
        let delimiter = folders::delimiter(session).await?;
        match &mut names.personal {
            Some(personal) => personal.delimiter = delimiter.or(personal.delimiter),
            None => names.personal = Some(Namespace { prefix: String::new(), delimiter }),
        }
        Ok(names)
    }

    /// The folder for `target`, if this session can put mail there.
    pub fn folder(&self, target: Target) -> Option<&str> {
        match target {
            Target::Done => self.done.as_deref(),
            Target::Quarantine => self.quarantine.as_deref(),
        }
    }

    /// The folder a message for `target` is moved to, if this session moves it at all
    /// (the folder exists and the server can take a message out of the intake folder).
    pub fn moves_to(&self, target: Target) -> Option<&str> {
        self.folder(target).filter(|_| self.transfer != Transfer::Flag)
    }

    /// The flags a message for `target` carries when it stays in the intake folder:
    /// a keyword where the folder keeps keywords, else a system flag.
    pub fn flags(&self, target: Target) -> String {
        match (target, self.keywords) {
            (Target::Done, true) => format!("{DONE_KEYWORD} \\Seen"),
            (Target::Done, false) => "\\Seen".into(),
            (Target::Quarantine, true) => QUARANTINED_KEYWORD.into(),
            (Target::Quarantine, false) => "\\Flagged".into(),
        }
    }

    /// One line saying how this mailbox works, for the log at start.
    pub fn describe(&self, mailbox: &ImapMailbox) -> String {
        let waits = if self.idle {
            "waits with IDLE".to_string()
        } else {
            format!("polls every {}s", mailbox.poll_interval_secs)
        };
        let how = match self.transfer {
            Transfer::Move => "MOVE",
            Transfer::CopyExpunge => "COPY + UID EXPUNGE",
            Transfer::Flag => "flag",
        };
        let into = |target| match self.moves_to(target) {
            Some(f) => format!("{how} into {f}"),
            None => format!("flagged in {}", self.intake),
        };
        // `done` is None with after = "flag", so this says "flagged" then too.
        format!(
            "reads {}; {waits}; done: {}; quarantined: {}",
            self.intake,
            into(Target::Done),
            into(Target::Quarantine)
        )
    }
}

/// Makes sure `folder` (the resolved `key` of `mailbox`) exists, creating and subscribing
/// it; `None`, said once with the server's answer and what to configure, when it cannot.
async fn ensure(
    session: &mut ImapSession,
    mailbox: &ImapMailbox,
    watch: &mut Watch,
    key: &str,
    folder: &str,
) -> Result<Option<String>, SyncError> {
    if folders::exists(session, folder).await? {
        return Ok(Some(folder.to_string()));
    }
    let answer = match session.create(folder).await {
        Ok(()) => {
            let _ = session.subscribe(folder).await;
            info!(mailbox = %mailbox.name, folder, "created folder");
            return Ok(Some(folder.to_string()));
        }
        Err(e) => match refusal(&e) {
            Some(answer) => answer,
            None => return Err(e.into()),
        },
    };
    // Someone else may have created it meanwhile.
    if folders::exists(session, folder).await? {
        return Ok(Some(folder.to_string()));
    }
    if watch.once(&format!("create {folder}: {answer}")) {
        error!(
            mailbox = %mailbox.name, folder, answer = %answer,
            "cannot create the {key}: processed mail is flagged and left in place instead; set `{key}` of [[imap]] \
             {:?} to a folder that exists or may be created (a name below the account's own folders, such as \
             INBOX.maildesk-done on servers that keep them under INBOX)",
            mailbox.name
        );
    }
    Ok(None)
}

/// The UIDs as an IMAP sequence set, runs written as ranges: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_written_as_ranges() {
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
    }

    #[test]
    fn flags_follow_what_the_folder_keeps() {
        let mut plan = Plan {
            intake: "INBOX".into(),
            done: None,
            quarantine: None,
            transfer: Transfer::Flag,
            uidplus: false,
            idle: false,
            keywords: true,
        };
        assert_eq!(plan.flags(Target::Done), format!("{DONE_KEYWORD} \\Seen"));
        assert_eq!(plan.flags(Target::Quarantine), QUARANTINED_KEYWORD);
        plan.keywords = false;
        assert_eq!(plan.flags(Target::Done), "\\Seen");
        assert_eq!(plan.flags(Target::Quarantine), "\\Flagged");
    }
}
