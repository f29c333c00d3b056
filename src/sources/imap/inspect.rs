//! A look at a mailbox that changes nothing, for `maildesk check`: log in, read what the
//! server offers, find the configured folders by the server's names (as a session would,
//! see [`super::plan`]) and whether they exist, count the intake folder's messages with
//! EXAMINE (read-only: no flag changes), log out. Unlike a session it never creates a
//! folder, selects read-write, or touches a message.

use async_imap::imap_proto::{MailboxDatum, Response};

use super::checked;
use super::connect::{ConnectError, open};
use super::folders;
use super::plan::Plan;
use crate::config::{AfterCommit, ImapMailbox};

/// What the server offers of the extensions maildesk uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offered {
    /// IDLE (RFC 2177): new mail is announced rather than polled for.
    pub idle: bool,
    /// MOVE (RFC 6851).
    pub mv: bool,
    /// UIDPLUS (RFC 4315): UID EXPUNGE of exactly our messages.
    pub uidplus: bool,
}

/// One folder the config names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderLook {
    /// The config key: `folder`, `done_folder` or `quarantine_folder`.
    pub key: &'static str,
    /// Its name on this server (resolved through the namespaces).
    pub name: String,
    /// Whether the server lists it.
    pub exists: bool,
}

/// What [`inspect`] found.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The extensions offered.
    pub offered: Offered,
    /// The intake folder first, then the done folder (with `after = "move"`) and the
    /// quarantine folder.
    pub folders: Vec<FolderLook>,
    /// Messages in the intake folder, when it could be examined.
    pub intake_messages: Option<u32>,
    /// Why the intake folder could not be examined though it is listed (the server's answer).
    pub intake_refused: Option<String>,
    /// Some folder names of the account, when a folder is missing (to say what exists).
    pub some_folders: Vec<String>,
}

/// Why a mailbox could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Connecting, TLS or the login failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server failed a command after the login.
    #[error("IMAP: {0}")]
    Imap(String),
}

/// Logs in to `mailbox` and looks at it (see the module comment).
pub async fn inspect(mailbox: &ImapMailbox) -> Result<Inspection, InspectError> {
    let imap = |e: &dyn std::fmt::Display| InspectError::Imap(e.to_string());
    let mut session = open(mailbox).await?;
    let caps = session.capabilities().await.map_err(|e| imap(&e))?;
    let offered = Offered { idle: caps.has_str("IDLE"), mv: caps.has_str("MOVE"), uidplus: caps.has_str("UIDPLUS") };
    let names = Plan::namespaces(&mut session, caps.has_str("NAMESPACE")).await.map_err(|e| imap(&e))?;
    let mut wanted = vec![("folder", &mailbox.folder)];
    if mailbox.after == AfterCommit::Move {
        wanted.push(("done_folder", &mailbox.done_folder));
    }
    wanted.push(("quarantine_folder", &mailbox.quarantine_folder));
    let mut looks = Vec::new();
    for (key, configured) in wanted {
        let name = names.resolve(configured);
        let exists = folders::exists(&mut session, &name).await.map_err(|e| imap(&e))?;
        looks.push(FolderLook { key, name, exists });
    }
    let (mut intake_messages, mut intake_refused) = (None, None);
    if looks[0].exists {
        let mut count = 0;
        let examined = checked::run(&mut session, &format!("EXAMINE {}", folders::quoted(&looks[0].name)), |r| {
            if let Response::MailboxData(MailboxDatum::Exists(n)) = r {
                count = *n;
            }
        })
        .await;
        match examined {
            Ok(()) => intake_messages = Some(count),
            Err(e) => match super::error::refusal(&e) {
                Some(answer) => intake_refused = Some(answer),
                None => return Err(imap(&e)),
            },
        }
    }
    let some_folders =
        if looks.iter().any(|f| !f.exists) { folders::some_folders(&mut session, 20).await } else { Vec::new() };
    let _ = session.logout().await;
    Ok(Inspection { offered, folders: looks, intake_messages, intake_refused, some_folders })
}
