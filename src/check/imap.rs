//! An IMAP mailbox: the login works, the folders the config names exist, and what the
//! server offers of IDLE, MOVE and UIDPLUS, graded by how the source copes without each.

use super::{Finding, Verdict};
use crate::config::{AfterCommit, ImapMailbox};
use crate::sources::imap::{ConnectError, InspectError, Inspection, inspect};

/// Logs in to `mailbox` and looks at it (nothing is created, selected read-write or moved).
pub async fn check(mailbox: &ImapMailbox) -> Vec<Finding> {
    let target = format!("{}@{}:{}", mailbox.user, mailbox.host, mailbox.port());
    let finding = match inspect(mailbox).await {
        Ok(inspection) => grade(mailbox, &inspection),
        Err(e) => failure(&e),
    };
    vec![Finding { target, ..finding }]
}

/// The verdict on a mailbox that could not be looked at.
fn failure(e: &InspectError) -> Finding {
    let fail = |detail: String| Finding::new("imap", "", Verdict::Fail, detail);
    match e {
        InspectError::Connect(ConnectError::Login(user, answer)) => {
            fail(format!("login as {user:?} refused: {answer}")).fix("check user and password of this [[imap]] mailbox")
        }
        InspectError::Connect(ConnectError::Network(address, cause)) => {
            fail(format!("cannot connect to {address}: {cause}"))
                .fix("check host, port and tls of this [[imap]] mailbox, and that the server runs")
        }
        InspectError::Connect(ConnectError::Tls(host, cause)) => fail(format!("TLS with {host} failed: {cause}"))
            .fix("check tls (implicit on 993, starttls on 143) and ca_file; the certificate must name the host"),
        InspectError::Connect(e @ ConnectError::Config(_)) => {
            fail(e.to_string()).fix("check password_file and ca_file of this [[imap]] mailbox")
        }
        InspectError::Connect(e @ ConnectError::Protocol(_)) => {
            fail(e.to_string()).fix("check that host and port name an IMAP server and that tls matches the port")
        }
        InspectError::Imap(e) => fail(format!("after login: {e}")).fix("see the server's log"),
    }
}

/// The verdict on what [`inspect`] found.
pub fn grade(mailbox: &ImapMailbox, found: &Inspection) -> Finding {
    let mut verdict = Verdict::Ok;
    let mut said = vec!["logged in".to_string()];
    let mut fixes = Vec::new();
    let mut present = Vec::new();
    for folder in &found.folders {
        if folder.exists {
            present.push(folder.name.clone());
        } else if folder.key == "folder" {
            verdict = Verdict::Fail;
            said.push(format!("intake folder {:?} does not exist", folder.name));
            let existing = if found.some_folders.is_empty() {
                String::new()
            } else {
                format!(" (the account has: {})", found.some_folders.join(", "))
            };
            fixes.push(format!("set folder to the folder mail arrives in{existing}, or create {:?}", folder.name));
        } else {
            verdict = verdict.max(Verdict::Warn);
            said.push(format!("{} {:?} does not exist yet", folder.key, folder.name));
            fixes.push(format!("maildesk creates {:?} at start (if the server refuses, mail is flagged in place: then create it or set {})", folder.name, folder.key));
        }
    }
    if let Some(intake) = found.folders.first()
        && found.folders.iter().skip(1).any(|f| f.name == intake.name)
    {
        verdict = Verdict::Fail;
        said.push(format!("a done or quarantine folder names the intake folder {:?} on this server", intake.name));
        fixes.push("give done_folder and quarantine_folder names of their own".into());
    }
    if let Some(answer) = &found.intake_refused {
        verdict = Verdict::Fail;
        said.push(format!("the intake folder cannot be read: {answer}"));
        fixes.push("check the account's rights on the intake folder".into());
    }
    if !present.is_empty() {
        let count = found.intake_messages.map(|n| format!(" ({n} waiting)")).unwrap_or_default();
        said.push(format!("{} exist{count}", present.join(", ")));
    }
    let offered = found.offered;
    let mut has: Vec<&str> = Vec::new();
    for (on, name) in [(offered.idle, "IDLE"), (offered.mv, "MOVE"), (offered.uidplus, "UIDPLUS")] {
        if on {
            has.push(name);
        }
    }
    said.push(if has.is_empty() { "no IDLE, MOVE or UIDPLUS".into() } else { has.join(" ") });
    if !offered.idle && mailbox.idle {
        verdict = verdict.max(Verdict::Warn);
        fixes.push(format!(
            "without IDLE new mail is polled every {} s (poll_interval_secs)",
            mailbox.poll_interval_secs
        ));
    }
    if mailbox.after == AfterCommit::Move && !offered.uidplus && !(offered.mv && mailbox.use_move) {
        verdict = verdict.max(Verdict::Warn);
        fixes.push(format!(
            "without MOVE{} or UIDPLUS processed mail cannot leave {}: it is flagged and stays (or set after = \"flag\")",
            if offered.mv { " (use_move = false)" } else { "" },
            found.folders.first().map(|f| f.name.as_str()).unwrap_or("the intake folder")
        ));
    }
    let finding = Finding::new("imap", "", verdict, said.join("; "));
    if fixes.is_empty() { finding } else { finding.fix(fixes.join("; ")) }
}
