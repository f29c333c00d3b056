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
    let mut said = vec!["logged in".to_string()];
    let mut fixes = Vec::new();
    let verdict = folders(found, &mut said, &mut fixes).max(extensions(mailbox, found, &mut said, &mut fixes));
    let finding = Finding::new("imap", "", verdict, said.join("; "));
    if fixes.is_empty() { finding } else { finding.fix(fixes.join("; ")) }
}

/// The folders: the intake folder must exist and be readable; the done and quarantine
/// folders are made at start when missing (a warning: the server may refuse).
fn folders(found: &Inspection, said: &mut Vec<String>, fixes: &mut Vec<String>) -> Verdict {
    let mut verdict = Verdict::Ok;
    let Some(intake) = found.folders.first() else { return verdict };
    let (present, missing): (Vec<_>, Vec<_>) = found.folders.iter().partition(|f| f.exists);
    if !intake.exists {
        verdict = Verdict::Fail;
        said.push(format!("intake folder {:?} does not exist", intake.name));
        let existing = match found.some_folders.is_empty() {
            true => String::new(),
            false => format!(" (the account has: {})", found.some_folders.join(", ")),
        };
        fixes.push(format!("set folder to the folder mail arrives in{existing}, or create {:?}", intake.name));
    }
    if !present.is_empty() {
        let names: Vec<&str> = present.iter().map(|f| f.name.as_str()).collect();
        let verb = if names.len() == 1 { "exists" } else { "exist" };
        said.push(format!("{} {verb}", names.join(", ")));
    }
    if let Some(n) = found.intake_messages {
        said.push(format!("{n} message{} waiting in {}", if n == 1 { "" } else { "s" }, intake.name));
    }
    let later: Vec<_> = missing.iter().filter(|f| f.key != "folder").collect();
    if !later.is_empty() {
        verdict = verdict.max(Verdict::Warn);
        let names: Vec<&str> = later.iter().map(|f| f.name.as_str()).collect();
        let keys: Vec<&str> = later.iter().map(|f| f.key).collect();
        said.push(format!("{} missing", names.join(", ")));
        fixes.push(format!(
            "maildesk creates {} at start (should the server refuse, processed mail is flagged in place: then create {} or set {})",
            if later.len() == 1 { "it" } else { "them" },
            if later.len() == 1 { "it" } else { "them" },
            keys.join(" / ")
        ));
    }
    if found.folders.iter().skip(1).any(|f| f.name == intake.name) {
        verdict = Verdict::Fail;
        said.push(format!("a done or quarantine folder is the intake folder {:?} on this server", intake.name));
        fixes.push("give done_folder and quarantine_folder names of their own".into());
    }
    if let Some(answer) = &found.intake_refused {
        verdict = Verdict::Fail;
        said.push(format!("the intake folder cannot be read: {answer}"));
        fixes.push("check the account's rights on the intake folder".into());
    }
    verdict
}

/// IDLE, MOVE and UIDPLUS, graded by how the source copes without each: it polls without
/// IDLE; without MOVE it copies and expunges exactly its own messages with UIDPLUS; without
/// both it can only flag processed mail and leave it in the intake folder.
fn extensions(mailbox: &ImapMailbox, found: &Inspection, said: &mut Vec<String>, fixes: &mut Vec<String>) -> Verdict {
    let mut verdict = Verdict::Ok;
    let offered = found.offered;
    let has: Vec<&str> = [(offered.idle, "IDLE"), (offered.mv, "MOVE"), (offered.uidplus, "UIDPLUS")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    said.push(if has.is_empty() { "no IDLE, MOVE or UIDPLUS".into() } else { has.join(" ") });
    if !offered.idle && mailbox.idle {
        verdict = Verdict::Warn;
        fixes.push(format!(
            "without IDLE new mail is polled every {} s (poll_interval_secs)",
            mailbox.poll_interval_secs
        ));
    }
    if mailbox.after == AfterCommit::Move && !offered.uidplus && !(offered.mv && mailbox.use_move) {
        verdict = Verdict::Warn;
        let intake = found.folders.first().map(|f| f.name.as_str()).unwrap_or("the intake folder");
        let move_off = if offered.mv { " (use_move = false)" } else { "" };
        fixes.push(format!(
            "without MOVE{move_off} or UIDPLUS processed mail cannot leave {intake}: it is flagged and stays (or set after = \"flag\")"
        ));
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::imap::{FolderLook, Offered};

    fn mailbox() -> ImapMailbox {
        let text = "[[imap]]\nname = \"s\"\nhost = \"imap.example.com\"\nuser = \"u\"\npassword = \"p\"\n";
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.toml"), text).unwrap();
        crate::config::Config::load(Some(&dir.path().join("c.toml")), Vec::new()).unwrap().imap.remove(0)
    }

    fn found(exists: [bool; 3], offered: Offered) -> Inspection {
        let looks =
            [("folder", "INBOX"), ("done_folder", "maildesk-done"), ("quarantine_folder", "maildesk-quarantine")];
        Inspection {
            offered,
            folders: looks
                .iter()
                .zip(exists)
                .map(|((key, name), exists)| FolderLook { key, name: name.to_string(), exists })
                .collect(),
            intake_messages: exists[0].then_some(1),
            intake_refused: None,
            some_folders: vec!["INBOX".into()],
        }
    }

    const ALL: Offered = Offered { idle: true, mv: true, uidplus: true };

    #[test]
    fn a_mailbox_is_graded_by_what_maildesk_can_do_with_it() {
        let m = mailbox();
        let ok = grade(&m, &found([true; 3], ALL));
        assert_eq!(ok.verdict, Verdict::Ok, "{ok:?}");
        assert!(
            ok.detail.contains(
                "INBOX, maildesk-done, maildesk-quarantine exist; 1 message waiting in INBOX; IDLE MOVE UIDPLUS"
            ),
            "{}",
            ok.detail
        );
        let later = grade(&m, &found([true, false, false], ALL));
        assert_eq!(later.verdict, Verdict::Warn);
        assert!(later.detail.contains("maildesk-done, maildesk-quarantine missing"), "{}", later.detail);
        assert!(later.fix.unwrap().starts_with("maildesk creates them at start"));
        let no_intake = grade(&m, &found([false, true, true], ALL));
        assert_eq!(no_intake.verdict, Verdict::Fail);
        assert!(no_intake.fix.unwrap().contains("(the account has: INBOX)"));
        let copy = grade(&m, &found([true; 3], Offered { idle: true, mv: false, uidplus: true }));
        assert_eq!(copy.verdict, Verdict::Ok, "COPY + UID EXPUNGE works as well: {copy:?}");
        let polled = grade(&m, &found([true; 3], Offered { idle: false, mv: true, uidplus: true }));
        assert_eq!((polled.verdict, polled.fix.unwrap().contains("polled every 60 s")), (Verdict::Warn, true));
        let flagged = grade(&m, &found([true; 3], Offered { idle: true, mv: false, uidplus: false }));
        assert!(flagged.fix.unwrap().contains("it is flagged and stays"));
        let mut flag = mailbox();
        flag.after = AfterCommit::Flag;
        let flagging = grade(&flag, &found([true; 3], Offered { idle: true, mv: false, uidplus: false }));
        assert_eq!(flagging.verdict, Verdict::Ok, "after = \"flag\" needs neither: {flagging:?}");
    }
}
