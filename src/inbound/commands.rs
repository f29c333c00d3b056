//! Commands at the top of a staff member's reply, each on its own line:
//!
//! ```text
//! #status waiting on customer
//! #priority high
//! #assign me
//! #cc add colleague@example.com
//!
//! Thanks, we are looking into it.
//! ```
//!
//! This module only reads them; desk decides whether the sender may give them and whether
//! they fit the ticket. A line that starts with `#` and a letter before the first line of
//! text is a command; anything not understood is reported, never guessed.

use crate::domain::{Assignee, Command, EmailAddress, Priority, Status};

/// The commands of a reply, what was wrong with them, and the text after them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    /// The commands understood, in order.
    pub commands: Vec<Command>,
    /// One line per command not understood, naming it.
    pub problems: Vec<String>,
    /// The reply without the command lines.
    pub body: String,
}

/// The words that start a command, for error messages.
pub const KNOWN: &str = "#status, #priority, #assign, #note, #close, #cc";

/// Splits the commands off the top of `reply`.
pub fn split(reply: &str) -> Commands {
    let mut out = Commands::default();
    let mut lines = reply.lines().peekable();
    while let Some(line) = lines.peek() {
        let line = line.trim();
        let is_command = line.strip_prefix('#').and_then(|r| r.chars().next()).is_some_and(|c| c.is_alphabetic());
        if !(line.is_empty() || is_command) {
            break;
        }
        if is_command {
            match parse_line(line) {
                Ok(c) => out.commands.push(c),
                Err(problem) => out.problems.push(problem),
            }
        }
        lines.next();
    }
    out.body = lines.collect::<Vec<_>>().join("\n").trim().to_string();
    out
}

fn parse_line(line: &str) -> Result<Command, String> {
    let shown: String = line.chars().take(120).collect();
    let rest = &line[1..];
    let (word, argument) = match rest.split_once(|c: char| c.is_whitespace() || c == ':') {
        Some((w, a)) => (w, a.trim_start_matches(':').trim()),
        None => (rest, ""),
    };
    let bad = |why: &str| format!("{shown}: {why}");
    match word.to_lowercase().as_str() {
        "status" => Status::parse(argument).map(Command::Status).map_err(|_| {
            let all: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
            bad(&format!("unknown status {argument:?} (one of: {})", all.join(", ")))
        }),
        "priority" => Priority::parse(argument).map(Command::Priority).map_err(|_| {
            let all: Vec<_> = Priority::ALL.iter().map(|s| s.as_str()).collect();
            bad(&format!("unknown priority {argument:?} (one of: {})", all.join(", ")))
        }),
        "assign" => match argument.to_lowercase().as_str() {
            "" => Err(bad("whom? (#assign me, #assign nobody or #assign <address>)")),
            "me" => Ok(Command::Assign(Assignee::Me)),
            "nobody" | "none" => Ok(Command::Assign(Assignee::Nobody)),
            _ => EmailAddress::parse(argument)
                .map(|a| Command::Assign(Assignee::Address(a)))
                .map_err(|_| bad(&format!("{argument:?} is not an address"))),
        },
        "note" if argument.is_empty() => Ok(Command::Note),
        "close" if argument.is_empty() => Ok(Command::Close),
        "note" | "close" => Err(bad("takes nothing after it; write the text below the commands")),
        "cc" => {
            let (action, address) = argument.split_once(char::is_whitespace).unwrap_or((argument, ""));
            let address = EmailAddress::parse(address.trim())
                .map_err(|_| bad(&format!("{:?} is not an address", address.trim())));
            match action.to_lowercase().as_str() {
                "add" => address.map(Command::CcAdd),
                "remove" => address.map(Command::CcRemove),
                _ => Err(bad("use #cc add <address> or #cc remove <address>")),
            }
        }
        _ => Err(bad(&format!("unknown command (known: {KNOWN})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(a: &str) -> EmailAddress {
        EmailAddress::parse(a).unwrap()
    }

    #[test]
    fn commands_at_the_top_are_split_from_the_text() {
        let c = split(
            "\n#status Waiting on customer\n#priority: HIGH\n#assign me\n\n#cc add Ann@Example.com\n#cc remove bob@example.com\n\nHello,\n#not a command here\nBye",
        );
        assert_eq!(
            c.commands,
            vec![
                Command::Status(Status::WaitingOnCustomer),
                Command::Priority(Priority::High),
                Command::Assign(Assignee::Me),
                Command::CcAdd(address("ann@example.com")),
                Command::CcRemove(address("bob@example.com")),
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(c.body, "Hello,\n#not a command here\nBye");
    }

    #[test]
    fn a_reply_without_commands_is_all_text() {
        let c = split("Thanks!\n#status closed");
        assert!(c.commands.is_empty() && c.problems.is_empty());
        assert_eq!(c.body, "Thanks!\n#status closed");
        // "#1" is not a command: a line must start with # and a letter.
        assert_eq!(split("#1 priority for us\nx").body, "#1 priority for us\nx");
    }

    #[test]
    fn note_close_and_assign_forms() {
        let c = split("#note\n#close\n#assign nobody\n#assign ann@example.com\ntext");
        assert_eq!(
            c.commands,
            vec![
                Command::Note,
                Command::Close,
                Command::Assign(Assignee::Nobody),
                Command::Assign(Assignee::Address(address("ann@example.com")))
            ]
        );
        assert_eq!(c.body, "text");
    }

    #[test]
    fn every_problem_is_named() {
        let c = split(
            "#frobnicate now\n#status maybe\n#priority\n#assign\n#cc add not-an-address\n#cc invite a@b.c\n#note please\nbody",
        );
        assert_eq!(c.problems.len(), 7, "{:?}", c.problems);
        assert!(c.problems[0].starts_with("#frobnicate now: unknown command"), "{}", c.problems[0]);
        assert!(c.problems[1].contains("unknown status \"maybe\""), "{}", c.problems[1]);
        assert!(c.problems[4].contains("not an address"), "{}", c.problems[4]);
        assert!(c.commands.is_empty());
        assert_eq!(c.body, "body");
    }
}
