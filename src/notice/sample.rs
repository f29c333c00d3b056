//! Sample notices of every kind, to try templates with before any customer's mail is due
//! (`serve` renders each override with them) and for tests.

use super::*;

impl Notice {
    /// A notice of `kind` with every field filled: every optional part of a template is
    /// shown. Text carries characters that HTML must escape.
    pub fn sample(kind: NoticeKind) -> Notice {
        Notice::sample_with(kind, true)
    }

    /// A notice of `kind` with optional fields empty: the other branch of each template.
    pub fn sample_sparse(kind: NoticeKind) -> Notice {
        Notice::sample_with(kind, false)
    }

    fn sample_with(kind: NoticeKind, full: bool) -> Notice {
        let ticket = TicketNumber(42);
        let subject = "Printer says \"paper jam\" <again> & won't print".to_string();
        let portal_url = "https://help.example/requests/42".to_string();
        let text = "The tray is empty.\nI tried turning it off & on.".to_string();
        let name = full.then(|| "Jane O'Hara".to_string());
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let status = StatusData {
            ticket,
            subject: subject.clone(),
            status: "waiting on customer".into(),
            portal_url: portal_url.clone(),
        };
        let staff = StaffNoticeData {
            ticket,
            subject: subject.clone(),
            customer: "Jane O'Hara <jane@example.com>".into(),
            text: if full { text.clone() } else { String::new() },
        };
        let problems = CommandErrorData {
            ticket,
            subject: subject.clone(),
            problems: strings(if full {
                &["#status maybe: not a status", "#assign bob: not a staff member"]
            } else {
                &["#status maybe: not a status"]
            }),
            text: text.clone(),
        };
        match kind {
            NoticeKind::Acknowledgement => Notice::Acknowledgement(AcknowledgementData {
                ticket,
                subject,
                summary: if full { text } else { String::new() },
                name,
                portal_url,
                participants: if full { strings(&["ann@example.com", "bob@example.com"]) } else { Vec::new() },
                invite: full.then_some(7),
                token: full.then(|| "0123456789abcdef".repeat(4)),
                suggestions: match full {
                    true => vec![SuggestedSolution {
                        title: "Paper jams: clearing the <rear> tray".into(),
                        read_url: "https://help.example/kb/printing/jams?from=mail&t=1.2.3.4.x".into(),
                        solved_url: "https://help.example/kb/solved?t=1.2.3.4.x".into(),
                    }],
                    false => Vec::new(),
                },
            }),
            NoticeKind::Invite => Notice::Invite(InviteData {
                invite: 7,
                ticket: full.then_some(ticket),
                name,
                by: full.then(|| "Pat Lee <pat@example.com>".to_string()),
                token: Some("0123456789abcdef".repeat(4)),
            }),
            NoticeKind::StaffReply => Notice::StaffReply(StaffReplyData {
                ticket,
                subject,
                body: "Please try the <Reset> button & tell us.".into(),
                portal_url,
                author: full.then(|| "Agnes".to_string()),
                status: full.then(|| "waiting on customer".to_string()),
            }),
            NoticeKind::StatusChange => Notice::StatusChange(status),
            NoticeKind::Resolved => Notice::Resolved(StatusData { status: "resolved".into(), ..status }),
            NoticeKind::Reopened => Notice::Reopened(StatusData { status: "open".into(), ..status }),
            NoticeKind::AutoClosed => Notice::AutoClosed(StatusData { status: "closed".into(), ..status }),
            NoticeKind::StaffNewTicket => Notice::StaffNewTicket(staff),
            NoticeKind::StaffCustomerReply => Notice::StaffCustomerReply(staff),
            NoticeKind::StaffAssigned => Notice::StaffAssigned(staff),
            NoticeKind::StaffCustomerStatus => Notice::StaffCustomerStatus(staff),
            NoticeKind::CommandError => Notice::CommandError(problems),
            NoticeKind::Undelivered => Notice::Undelivered(problems),
            NoticeKind::ParticipantAdded => Notice::ParticipantAdded(ParticipantsData {
                ticket,
                subject,
                added: strings(if full { &["ann@example.com", "bob@example.com"] } else { &["ann@example.com"] }),
                by: "our staff".into(),
                portal_url,
            }),
            NoticeKind::PasswordReset => Notice::PasswordReset(AccountData {
                contact: Some(crate::domain::ContactId(3)),
                name,
                token: Some("0123456789abcdef".repeat(4)),
            }),
            NoticeKind::AccountAttempt => {
                Notice::AccountAttempt(AccountData { contact: None, name: None, token: None })
            }
            NoticeKind::VerifyAddress => Notice::VerifyAddress(AccountData {
                contact: Some(crate::domain::ContactId(3)),
                name,
                token: Some("fedcba9876543210".repeat(4)),
            }),
            NoticeKind::AccountExists => {
                Notice::AccountExists(AccountData { contact: Some(crate::domain::ContactId(3)), name, token: None })
            }
        }
    }
}
