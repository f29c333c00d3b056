//! What a kind's templates are filled with: one serialisable context per kind, the same
//! for the built-in templates and for an admin's overrides. `templates/mail/README.md`
//! documents every variable; a test keeps the two in step.

use serde::Serialize;

use crate::config::Config;
use crate::domain::TicketNumber;
use crate::notice::{
    AccountData, AcknowledgementData, CommandErrorData, InviteData, Notice, ParticipantsData, PortalLinks,
    StaffNoticeData, StaffReplyData, StatusData,
};

/// The variables of a kind's templates: the same few for every kind, the kind's payload
/// as `data`, and `E`, the variables only that kind has.
#[derive(Debug, Clone, Serialize)]
pub struct MailContext<'a, D, E> {
    /// The desk's name (`desk.name`).
    pub desk_name: &'a str,
    /// The subject tag (`desk.tag`), as in `[Support #42]`.
    pub tag: &'a str,
    /// The ticket's number; none in mail about an account.
    pub ticket: Option<TicketNumber>,
    /// The rendered subject line: in the body templates (the HTML layout's title), not in
    /// the subject's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    /// The kind's payload, as queued.
    pub data: &'a D,
    /// The variables of this kind only.
    #[serde(flatten)]
    pub extra: E,
}

/// No variables beyond the common ones.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NoExtra {}

/// The acknowledgement's own variables.
#[derive(Debug, Clone, Serialize)]
pub struct AcknowledgementExtra {
    /// `data.summary` with each line quoted as `> line`, for the text body.
    pub summary_quoted: String,
    /// The sign-up link of the invitation the mail carries (none: no invitation).
    pub signup_link: Option<String>,
    /// How many days that link works (`portal.invite_days`).
    pub days: u64,
}

/// The invitation's own variables.
#[derive(Debug, Clone, Serialize)]
pub struct InviteExtra {
    /// The sign-up link, with the token made as the mail is sent.
    pub link: String,
    /// How many days the link works (`portal.invite_days`).
    pub days: u64,
}

/// The context of `acknowledgement`.
pub type AcknowledgementContext<'a> = MailContext<'a, AcknowledgementData, AcknowledgementExtra>;
/// The context of `invite`.
pub type InviteContext<'a> = MailContext<'a, InviteData, InviteExtra>;
/// The context of `staff-reply`.
pub type StaffReplyContext<'a> = MailContext<'a, StaffReplyData, NoExtra>;
/// The context of `status-change`, `resolved`, `reopened` and `auto-closed`.
pub type StatusContext<'a> = MailContext<'a, StatusData, NoExtra>;
/// The context of `staff-new-ticket`, `staff-customer-reply`, `staff-assigned` and
/// `staff-customer-status`.
pub type StaffNoticeContext<'a> = MailContext<'a, StaffNoticeData, NoExtra>;
/// The context of `command-error` and `undelivered`.
pub type CommandErrorContext<'a> = MailContext<'a, CommandErrorData, NoExtra>;
/// The password reset's own variables.
#[derive(Debug, Clone, Serialize)]
pub struct ResetExtra {
    /// The link to set a new password, with the token made as the mail is sent.
    pub reset_link: String,
    /// How many minutes the link works (`portal.reset_minutes`).
    pub minutes: u64,
}

/// The attempt notice's own variables.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptExtra {
    /// Where to log in (the portal's page).
    pub login_link: String,
}

/// The context of `password-reset`.
pub type ResetContext<'a> = MailContext<'a, AccountData, ResetExtra>;
/// The context of `account-attempt`.
pub type AttemptContext<'a> = MailContext<'a, AccountData, AttemptExtra>;
/// The verification mail's own variables.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyExtra {
    /// The link that proves the address and sets the password, with the token made as the
    /// mail is sent.
    pub verify_link: String,
    /// How many hours the link works (`portal.verify_hours`).
    pub hours: u64,
}

/// The variables of the mail to an account whose address someone signed up with again.
#[derive(Debug, Clone, Serialize)]
pub struct ExistsExtra {
    /// Where to log in (the portal's page).
    pub login_link: String,
    /// Where to ask for a new password.
    pub forgot_link: String,
}

/// The context of `verify-address`.
pub type VerifyContext<'a> = MailContext<'a, AccountData, VerifyExtra>;
/// The context of `account-exists`.
pub type ExistsContext<'a> = MailContext<'a, AccountData, ExistsExtra>;
/// The context of `participant-added`.
pub type ParticipantsContext<'a> = MailContext<'a, ParticipantsData, NoExtra>;

/// A notice that cannot fill its templates (an invitation without its token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(&'static str);

/// The context of `notice`'s templates under `config`; `subject` is the rendered subject
/// line, none while the subject itself is rendered.
pub fn context(config: &Config, notice: &Notice, subject: Option<&str>) -> Result<minijinja::Value, ContextError> {
    fn with<D: Serialize, E: Serialize>(
        config: &Config,
        subject: Option<&str>,
        ticket: Option<TicketNumber>,
        data: &D,
        extra: E,
    ) -> minijinja::Value {
        let (desk_name, tag) = (config.desk.name.as_str(), config.desk.tag.as_str());
        minijinja::Value::from_serialize(MailContext { desk_name, tag, ticket, subject, data, extra })
    }
    let ticket = notice.ticket();
    Ok(match notice {
        Notice::Acknowledgement(d) => {
            let summary_quoted = d.summary.lines().map(|l| format!("> {l}")).collect::<Vec<_>>().join("\n");
            let signup_link = match (d.invite, &d.token) {
                (Some(_), Some(token)) => Some(PortalLinks::new(&config.portal).signup(token)),
                _ => None,
            };
            let days = config.portal.invite_days;
            with(config, subject, ticket, d, AcknowledgementExtra { summary_quoted, signup_link, days })
        }
        Notice::Invite(d) => {
            let token = d.token.as_deref().ok_or(ContextError("invite without a token"))?;
            let link = PortalLinks::new(&config.portal).signup(token);
            with(config, subject, ticket, d, InviteExtra { link, days: config.portal.invite_days })
        }
        Notice::StaffReply(d) => with(config, subject, ticket, d, NoExtra {}),
        Notice::StatusChange(d) | Notice::Resolved(d) | Notice::Reopened(d) | Notice::AutoClosed(d) => {
            with(config, subject, ticket, d, NoExtra {})
        }
        Notice::StaffNewTicket(d)
        | Notice::StaffCustomerReply(d)
        | Notice::StaffAssigned(d)
        | Notice::StaffCustomerStatus(d) => with(config, subject, ticket, d, NoExtra {}),
        Notice::CommandError(d) | Notice::Undelivered(d) => with(config, subject, ticket, d, NoExtra {}),
        Notice::ParticipantAdded(d) => with(config, subject, ticket, d, NoExtra {}),
        Notice::PasswordReset(d) => {
            let token = d.token.as_deref().ok_or(ContextError("password reset without a token"))?;
            let reset_link = PortalLinks::new(&config.portal).reset(token);
            with(config, subject, ticket, d, ResetExtra { reset_link, minutes: config.portal.reset_minutes })
        }
        Notice::AccountAttempt(d) => {
            let login_link = PortalLinks::new(&config.portal).login();
            with(config, subject, ticket, d, AttemptExtra { login_link })
        }
        Notice::VerifyAddress(d) => {
            let token = d.token.as_deref().ok_or(ContextError("address verification without a token"))?;
            let verify_link = PortalLinks::new(&config.portal).verify(token);
            with(config, subject, ticket, d, VerifyExtra { verify_link, hours: config.portal.verify_hours })
        }
        Notice::AccountExists(d) => {
            let links = PortalLinks::new(&config.portal);
            with(config, subject, ticket, d, ExistsExtra { login_link: links.login(), forgot_link: links.forgot() })
        }
    })
}
