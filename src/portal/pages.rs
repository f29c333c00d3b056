//! The portal's pages: askama templates under `templates/portal/`, what every page shares
//! (the desk's name and address, who is signed in, the CSRF token of its forms), and the
//! answers for what went wrong (403, 404, 429, 500) as readable pages.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::response::{Html, IntoResponse, Response};

use super::visitor::Visitor;
use crate::App;
use crate::desk::accounts::SignedIn;
use crate::desk::captcha::Challenge;
use crate::desk::organisation::{Access, Member};
use crate::desk::requests::Field;
use crate::desk::tickets::{CustomerComment, CustomerFile, CustomerTicketDetail, Dashboard, RequestPage};
use crate::domain::{Priority, Status};

/// `?done=` after a redirect: what just happened, for a line on the page.
#[derive(serde::Deserialize)]
pub struct Done {
    /// The word for it, such as `profile`.
    #[serde(default)]
    pub done: String,
}

/// What every page shows.
pub struct Page<'a> {
    /// The desk's name.
    pub desk_name: String,
    /// The support address.
    pub desk_address: String,
    /// Who is signed in.
    pub who: Option<&'a SignedIn>,
    /// The CSRF token of the page's forms.
    pub csrf: String,
    /// Whether the header links to the log-in page (not on that page itself).
    pub login_link: bool,
}

impl<'a> Page<'a> {
    /// The shared part of a page shown to `visitor`.
    pub fn new(app: &'a App, visitor: &'a Visitor) -> Page<'a> {
        let config = app.config();
        Page {
            desk_name: config.desk.name.clone(),
            desk_address: config.desk.address.as_str().to_string(),
            who: visitor.who.as_ref(),
            csrf: visitor.csrf(app),
            login_link: true,
        }
    }

    /// The same, without the header's link to the log-in page (the log-in page itself).
    pub fn without_login_link(self) -> Page<'a> {
        Page { login_link: false, ..self }
    }
}

/// The landing page of a visitor who is not signed in.
#[derive(Template)]
#[template(path = "portal/index.html")]
pub struct Index<'a> {
    /// Shared.
    pub page: Page<'a>,
}

/// A signed-in visitor's home (MISSION P1).
#[derive(Template)]
#[template(path = "portal/home.html")]
pub struct Home<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// Their requests, counted by status, and the latest.
    pub dashboard: &'a Dashboard,
}

/// The log-in form.
#[derive(Template)]
#[template(path = "portal/login.html")]
pub struct Login<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The address typed, kept after a failure.
    pub email: &'a str,
    /// Why the last try failed.
    pub error: Option<String>,
}

/// Sign-up from an invitation or verification link: the address is fixed, the person
/// chooses a password.
#[derive(Template)]
#[template(path = "portal/signup.html")]
pub struct Signup<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// Where the form posts (`/signup` or `/verify`).
    pub action: &'a str,
    /// The link's token.
    pub token: &'a str,
    /// The invited address.
    pub email: &'a str,
    /// Their name as we know it.
    pub name: &'a str,
    /// Why the last try failed.
    pub error: Option<String>,
}

/// Direct sign-up: name, address and the captcha.
#[derive(Template)]
#[template(path = "portal/register.html")]
pub struct Register<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The captcha's challenge.
    pub challenge: Challenge,
    /// The name typed, kept after a refusal.
    pub name: &'a str,
    /// The address typed, kept after a refusal.
    pub email: &'a str,
    /// What was wrong with the address.
    pub email_error: Option<String>,
    /// What was wrong with the captcha's answer.
    pub captcha_error: Option<String>,
    /// What else went wrong.
    pub form_error: Option<String>,
}

/// A primary contact's organisation: its contacts, invitations, (de)activation.
#[derive(Template)]
#[template(path = "portal/organisation.html")]
pub struct Organisation<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The organisation's name.
    pub organisation: &'a str,
    /// Its contacts.
    pub members: &'a [Member],
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// Why the last invitation was refused.
    pub error: Option<String>,
    /// The address typed, kept after a refusal.
    pub email: &'a str,
}

impl Organisation<'_> {
    /// A colleague's access in words.
    pub fn state(&self, member: &Member) -> String {
        match member.access {
            Access::Active => "Has an account".into(),
            Access::Deactivated => "Deactivated".into(),
            Access::Invited(until) => format!("Invited, link works until {}", day(until)),
            Access::None => "No account".into(),
        }
    }
}

/// A Unix second as a day, such as "4 December 2026" (UTC).
fn day(unix: i64) -> String {
    let format = time::macros::format_description!("[day padding:none] [month repr:long] [year]");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// A contact's requests (MISSION P2): one page of them, with the search, filters and
/// order that chose them.
#[derive(Template)]
#[template(path = "portal/requests.html")]
pub struct Requests<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The viewer's address (their own requests do not say who asked).
    pub me: &'a str,
    /// Whether the viewer is a primary contact (who sees colleagues' requests, and may
    /// filter on who asked).
    pub primary: bool,
    /// The search as typed.
    pub q: &'a str,
    /// The status filtered on, if any.
    pub status: Option<Status>,
    /// The priority filtered on, if any.
    pub priority: Option<Priority>,
    /// Every parameter of the list but its page, as the query string says them (what links
    /// and the search form keep).
    pub params: Vec<(&'static str, String)>,
    /// The statuses to filter on, with their labels.
    pub statuses: Vec<(Status, &'static str)>,
    /// The page of requests found, and how many there are.
    pub found: &'a RequestPage,
}

impl Requests<'_> {
    /// The link to this list with `key` set to `value` (left out when empty), from its
    /// first page; every other parameter is kept.
    pub fn with(&self, key: &str, value: &str) -> String {
        let mut params: Vec<(&str, String)> =
            self.params.iter().filter(|(k, _)| *k != key).map(|(k, v)| (*k, v.clone())).collect();
        if !value.is_empty() {
            params.push((key, value.to_string()));
        }
        list_href(&params)
    }

    /// The link to page `n` of this list; every other parameter is kept.
    pub fn page_href(&self, n: impl std::borrow::Borrow<i64>) -> String {
        let n = *n.borrow();
        let mut params: Vec<(&str, String)> = self.params.iter().map(|(k, v)| (*k, v.clone())).collect();
        if n > 1 {
            params.push(("page", n.to_string()));
        }
        list_href(&params)
    }

    /// The parameters the search form keeps without showing them.
    pub fn kept(&self) -> Vec<(&'static str, String)> {
        self.params.iter().filter(|(k, _)| !matches!(*k, "q" | "requester")).cloned().collect()
    }

    /// The value of parameter `key` now ("" when not given).
    pub fn now(&self, key: &str) -> String {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    /// The priorities to filter on.
    pub fn priorities(&self) -> &'static [Priority] {
        Priority::ALL
    }
}

/// `/requests` with `params`, percent-encoded.
fn list_href(params: &[(&str, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    match query.is_empty() {
        true => "/requests".to_string(),
        false => format!("/requests?{}", query.join("&")),
    }
}

/// One request as its customers see it (MISSION P3), with its answer form and what may be
/// done with it.
#[derive(Template)]
#[template(path = "portal/request.html")]
pub struct Request<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The request.
    pub ticket: &'a CustomerTicketDetail,
    /// The conversation newest first (else oldest first).
    pub newest_first: bool,
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// Why the last answer was refused, and which field it is about.
    pub error: Option<(Field, String)>,
    /// Why the last action was refused, about the request as a whole (it is finished, it
    /// changed meanwhile).
    pub problem: Option<String>,
    /// The answer typed, kept after a refusal.
    pub text: &'a str,
    /// The answer form's one-time id.
    pub form_id: String,
    /// The attachment limits in words.
    pub limits: String,
    /// The priority's response target in words.
    pub target: String,
}

impl Request<'_> {
    /// The comments in the order asked for.
    pub fn comments(&self) -> Vec<&CustomerComment> {
        let all = self.ticket.comments.iter();
        match self.newest_first {
            true => all.rev().collect(),
            false => all.collect(),
        }
    }

    /// The error about `field`, if any.
    pub fn error_for(&self, field: Field) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// The id of the newest comment (what live updates start after).
    pub fn last_comment(&self) -> i64 {
        self.ticket.comments.iter().map(|c| c.id.0).max().unwrap_or(0)
    }
}

/// The new-request form (MISSION P5).
#[derive(Template)]
#[template(path = "portal/new_request.html")]
pub struct NewRequestPage<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The form's one-time id.
    pub form_id: String,
    /// The priorities with what each means and its response target.
    pub priorities: Vec<(Priority, &'static str, String)>,
    /// The departments to choose from (none: the field is left out).
    pub departments: &'a [String],
    /// A primary contact's colleagues (address, name), themselves first; none for others.
    pub colleagues: &'a [(String, String)],
    /// The finished request this one follows up, if any.
    pub follows: Option<i64>,
    /// What was typed, kept after a refusal.
    pub typed: &'a NewTyped,
    /// Why the last try was refused, and which field it is about.
    pub error: Option<(Field, String)>,
    /// The attachment limits in words.
    pub limits: String,
}

/// What a new-request form held, kept to show it again after a refusal.
#[derive(Debug, Clone, Default)]
pub struct NewTyped {
    /// The subject.
    pub subject: String,
    /// The description.
    pub description: String,
    /// The priority chosen.
    pub priority: Option<Priority>,
    /// The department chosen.
    pub department: String,
    /// The requester chosen.
    pub requester: String,
}

impl NewRequestPage<'_> {
    /// The error about `field`, if any.
    pub fn error_for(&self, field: Field) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// Whether `priority` is the one to show chosen.
    pub fn chosen(&self, priority: &Priority) -> bool {
        self.typed.priority.unwrap_or(Priority::Medium) == *priority
    }
}

/// The confirmation step of a change of status (MISSION P6): one button that makes it.
#[derive(Template)]
#[template(path = "portal/confirm.html")]
pub struct Confirm<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The request.
    pub number: i64,
    /// Its subject.
    pub subject: &'a str,
    /// The change's word in the URL.
    pub change: &'static str,
    /// The question.
    pub heading: &'static str,
    /// What will happen.
    pub text: &'static str,
    /// The button's words.
    pub button: &'static str,
}

/// The priorities with what each means for a customer and its response target in words.
pub fn priority_choices(app: &App) -> Vec<(Priority, &'static str, String)> {
    Priority::ALL
        .iter()
        .map(|p| {
            let meaning = match p {
                Priority::Low => "A question, or something that can wait.",
                Priority::Medium => "Something does not work as it should.",
                Priority::High => "Your work is held up.",
                Priority::Urgent => "Nothing works, or many people are stopped.",
            };
            (*p, meaning, target(app, *p))
        })
        .collect()
}

/// The response target of `priority` in words ("We aim to answer within 8 hours").
pub fn target(app: &App, priority: Priority) -> String {
    match app.config().desk.response_hours.secs(priority) {
        Some(secs) if secs % 86_400 == 0 && secs >= 86_400 * 2 => {
            format!("We aim to answer within {} days.", secs / 86_400)
        }
        Some(3600) => "We aim to answer within an hour.".to_string(),
        Some(secs) => format!("We aim to answer within {} hours.", (secs + 3599) / 3600),
        None => "No set answer time.".to_string(),
    }
}

/// The attachment limits in words ("Up to 5 files, each at most 10 MB."); empty when
/// files cannot be attached.
pub fn limits(app: &App) -> String {
    let config = app.config();
    let (bytes, count) = (config.attachment_max_bytes(), config.portal.attachments_max);
    if bytes == 0 || count == 0 {
        return String::new();
    }
    let size = match bytes {
        b if b >= 1024 * 1024 => format!("{} MB", b / (1024 * 1024)),
        b => format!("{} KB", b.div_ceil(1024)),
    };
    match count {
        1 => format!("One file, at most {size}."),
        n => format!("Up to {n} files, each at most {size}."),
    }
}

/// What the request pages say of statuses, priorities and times.
pub trait Words {
    /// A status in words.
    fn label(&self, status: &Status) -> &'static str {
        status_label(*status)
    }

    /// What a status means for the customer.
    fn meaning(&self, status: &Status) -> &'static str {
        match status {
            Status::Open => "We have it and will answer soon.",
            Status::InProgress => "We are working on it.",
            Status::WaitingOnCustomer => "We are waiting for your answer.",
            Status::WaitingOnVendor => "We are waiting for a supplier.",
            Status::Resolved => "We think it is solved. Answer if it is not.",
            Status::Closed => "Done. Write to us again to reopen it.",
            Status::Cancelled => "Withdrawn; nothing more will happen.",
        }
    }

    /// A priority in words.
    fn priority(&self, priority: &Priority) -> &'static str {
        match priority {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Urgent => "Urgent",
        }
    }

    /// A Unix second as a day.
    fn day(&self, unix: &i64) -> String {
        day(*unix)
    }

    /// Whether a page previews `file` as an image: only raster images (the preview itself
    /// is served only when its bytes are one).
    fn previewed(&self, file: &CustomerFile) -> bool {
        crate::desk::requests::RASTER_TYPES.contains(&file.content_type.as_str())
    }

    /// A size in words ("12 KB").
    fn size(&self, bytes: &i64) -> String {
        match *bytes {
            b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
            b if b >= 1024 => format!("{} KB", b / 1024),
            b => format!("{b} bytes"),
        }
    }
}

/// One comment of a request as its page shows it: what live updates send to an open page.
#[derive(Template)]
#[template(path = "portal/comment.html")]
pub struct CommentItem<'a> {
    /// The request's number.
    pub number: i64,
    /// The comment.
    pub c: &'a CustomerComment,
}

impl Words for CommentItem<'_> {}

impl Words for Requests<'_> {}
impl Words for Home<'_> {}
impl Words for Request<'_> {}
impl Words for NewRequestPage<'_> {}

/// A status in words.
pub fn status_label(status: Status) -> &'static str {
    match status {
        Status::Open => "Open",
        Status::InProgress => "In progress",
        Status::WaitingOnCustomer => "Waiting on you",
        Status::WaitingOnVendor => "Waiting on a supplier",
        Status::Resolved => "Resolved",
        Status::Closed => "Closed",
        Status::Cancelled => "Cancelled",
    }
}

/// Changing the password (forced when it was generated).
#[derive(Template)]
#[template(path = "portal/password_change.html")]
pub struct PasswordChange<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The password was generated and must be changed first.
    pub forced: bool,
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// What was wrong with the current password.
    pub current_error: Option<String>,
    /// What was wrong with the new password.
    pub new_error: Option<String>,
}

/// The profile: name and notification preference.
#[derive(Template)]
#[template(path = "portal/profile.html")]
pub struct Profile<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// A line saying what just happened.
    pub note: Option<&'a str>,
    /// Their address.
    pub email: &'a str,
    /// Their name.
    pub name: &'a str,
    /// Whether they get every update (else only replies).
    pub notify_all: bool,
}

/// Asking for a password reset.
#[derive(Template)]
#[template(path = "portal/forgot.html")]
pub struct Forgot<'a> {
    /// Shared.
    pub page: Page<'a>,
}

/// Choosing a new password through a reset link.
#[derive(Template)]
#[template(path = "portal/reset.html")]
pub struct Reset<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The link's token.
    pub token: &'a str,
    /// The account's address.
    pub email: &'a str,
    /// Why the last try failed.
    pub error: Option<String>,
}

/// A page that only says something, with a link onwards.
#[derive(Template)]
#[template(path = "portal/message.html")]
pub struct Message<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// Its heading (the page's one `h1`).
    pub heading: &'a str,
    /// What it says.
    pub text: &'a str,
    /// Where to go on, and the link's words.
    pub link: Option<(&'a str, &'a str)>,
}

/// Renders `page` with `status`, or a plain 500 when the template fails.
pub fn render(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a portal page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.").into_response()
        }
    }
}

/// 403: a form without its CSRF token (or with another's); nothing was changed.
pub fn forbidden(app: &App, visitor: &Visitor) -> Response {
    let text = "This form has expired or did not come from this site, so nothing was changed. \
                Go back, reload the page and try again.";
    let page = Message { page: Page::new(app, visitor), heading: "Please try again", text, link: Some(("/", "Home")) };
    render(StatusCode::FORBIDDEN, page)
}

/// 404: no such page, or one the visitor may not know exists.
pub fn not_found(app: &App, visitor: &Visitor) -> Response {
    let text = "There is no page at this address. It may have moved, or the link may be incomplete.";
    let page = Message { page: Page::new(app, visitor), heading: "Page not found", text, link: Some(("/", "Home")) };
    render(StatusCode::NOT_FOUND, page)
}

/// 429 with `Retry-After`: too many attempts.
pub fn too_many(app: &App, visitor: &Visitor, retry_after: u64) -> Response {
    let text = format!("Too many attempts. For your safety, wait {} minutes and try again.", retry_after.div_ceil(60));
    let page = Message { page: Page::new(app, visitor), heading: "Too many attempts", text: &text, link: None };
    let mut response = render(StatusCode::TOO_MANY_REQUESTS, page);
    response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// 500: the store failed; the visitor may try again.
pub fn failure(_app: &App, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "a portal request failed");
    let body = "Something went wrong on our side. Please try again in a moment.";
    (StatusCode::INTERNAL_SERVER_ERROR, Html(format!("<!DOCTYPE html><title>Error</title><h1>Sorry</h1><p>{body}</p>")))
        .into_response()
}
