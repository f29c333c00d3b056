//! Who is asking: the visitor of a request, read from its cookies and connection — their
//! session (if signed in), the anonymous id their forms' CSRF tokens are bound to before
//! they log in, their IP address, and whether the portal is reached over HTTPS (which
//! decides the cookies' `Secure` flag and `__Host-` prefix).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{COOKIE, HeaderValue, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};

use crate::App;
use crate::desk::accounts::{self, SignedIn};

/// The visitor of a request.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// Who is signed in, if anyone.
    pub who: Option<SignedIn>,
    /// The anonymous id of this browser (from its cookie, or new).
    visitor_id: String,
    /// Whether the id is new and its cookie must be set.
    new_visitor: bool,
    /// The client's IP address.
    pub client: IpAddr,
    /// Whether the portal is reached over HTTPS.
    secure: bool,
}

impl Visitor {
    /// What this visitor's CSRF tokens are bound to: their session, else their browser.
    fn binding(&self) -> &str {
        self.who.as_ref().map_or(&self.visitor_id, |w| &w.session_hash)
    }

    /// The CSRF token to put in this visitor's forms.
    pub fn csrf(&self, app: &App) -> String {
        accounts::csrf_token(app, self.binding())
    }

    /// Whether `token` (from a form) is this visitor's CSRF token.
    pub fn csrf_ok(&self, app: &App, token: &str) -> bool {
        (self.who.is_some() || !self.new_visitor) && accounts::csrf_ok(app, self.binding(), token)
    }

    /// What identifies this visitor for counting (the knowledge base's views and votes):
    /// the contact when signed in, else their browser's anonymous id when it sent one, else
    /// their IP address. Raw: hash it before keeping it.
    pub fn identity(&self) -> String {
        match (&self.who, self.new_visitor) {
            (Some(who), _) => format!("contact:{}", who.contact.0),
            (None, false) => format!("browser:{}", self.visitor_id),
            (None, true) => self.address(),
        }
    }

    /// Who else this visitor may have been counted as today (raw, as [`Self::identity`]):
    /// their IP address while their browser's id is of today, since the page that gave it
    /// was counted by the address. A first view and its reload are one view; a colleague
    /// behind the same address whose browser has an id of an earlier day is someone else.
    pub fn also_counted_as(&self, today: i64) -> Option<String> {
        let of_today = !self.new_visitor && issued_day(&self.visitor_id) == Some(today);
        (self.who.is_none() && of_today).then(|| self.address())
    }

    fn address(&self) -> String {
        format!("address:{}", self.client)
    }

    /// The `Set-Cookie` of the anonymous id, when it is new.
    pub fn visitor_cookie(&self) -> Option<HeaderValue> {
        self.new_visitor.then(|| self.cookie(VISITOR, &self.visitor_id, Some(cookie::time::Duration::days(365))))
    }

    /// The `Set-Cookie` that starts session `token`.
    pub fn session_cookie(&self, token: &str) -> HeaderValue {
        self.cookie(SESSION, token, None)
    }

    /// The `Set-Cookie` that ends the session cookie.
    pub fn end_session_cookie(&self) -> HeaderValue {
        self.cookie(SESSION, "", Some(cookie::time::Duration::ZERO))
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<cookie::time::Duration>) -> HeaderValue {
        let name = if self.secure { format!("__Host-{name}") } else { name.to_string() };
        let mut cookie = Cookie::build((name, value.to_string())).path("/").http_only(true).same_site(SameSite::Lax);
        if self.secure {
            cookie = cookie.secure(true);
        }
        if let Some(age) = max_age {
            cookie = cookie.max_age(age);
        }
        HeaderValue::from_str(&cookie.build().to_string()).expect("cookie values are hex")
    }
}

/// The session cookie's name (with `__Host-` in front over HTTPS).
const SESSION: &str = "maildesk-session";
/// The anonymous visitor cookie's name (with `__Host-` in front over HTTPS).
const VISITOR: &str = "maildesk-visitor";

/// Whether `id` is an anonymous id as this portal gives them: 64 hex digits, then (since
/// the knowledge base counts views by it) a dot and the day it was given, in days since 1970.
fn well_formed(id: &str) -> bool {
    let (token, day) = id.split_once('.').unwrap_or((id, "0"));
    token.len() == 64
        && token.bytes().all(|b| b.is_ascii_hexdigit())
        && (1..=7).contains(&day.len())
        && day.bytes().all(|b| b.is_ascii_digit())
}

/// The day (days since 1970) an anonymous id was given, when it says.
fn issued_day(id: &str) -> Option<i64> {
    id.split_once('.').and_then(|(_, day)| day.parse().ok())
}

/// Adds the `Set-Cookie` headers of `cookies` to `response`.
pub fn with_cookies(response: impl IntoResponse, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut response = response.into_response();
    for cookie in cookies {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// A visitor who is signed in and has no generated password left to change: the extractor
/// of every page that needs one. Anyone else is sent to the log-in page, or to the password
/// change while their password is a generated one (that step cannot be skipped).
pub struct Customer(Visitor);

impl Customer {
    /// Who is signed in.
    pub fn who(&self) -> &SignedIn {
        self.0.who.as_ref().expect("a customer is signed in")
    }
}

impl std::ops::Deref for Customer {
    type Target = Visitor;

    fn deref(&self) -> &Visitor {
        &self.0
    }
}

impl FromRequestParts<Arc<App>> for Customer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Customer, Response> {
        let visitor = Visitor::from_request_parts(parts, app).await?;
        match &visitor.who {
            None => Err(Redirect::to("/login").into_response()),
            Some(who) if who.must_change => Err(Redirect::to("/password/change").into_response()),
            Some(_) => Ok(Customer(visitor)),
        }
    }
}

impl FromRequestParts<Arc<App>> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Visitor, Response> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let peer = peer.unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let config = app.config();
        let proxied = config.portal.trusted_proxies.contains(&peer);
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let client = match header("x-forwarded-for") {
            Some(list) if proxied => list.rsplit(',').next().and_then(|ip| ip.trim().parse().ok()).unwrap_or(peer),
            _ => peer,
        };
        let secure = config.portal.base_url.starts_with("https://")
            || (proxied && header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")));
        let cookies: Vec<Cookie<'_>> = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| Cookie::split_parse(v).filter_map(Result::ok))
            .collect();
        let named = |name: &str| {
            let wanted = if secure { format!("__Host-{name}") } else { name.to_string() };
            cookies.iter().find(|c| c.name() == wanted).map(|c| c.value().to_string())
        };
        let who = match named(SESSION) {
            Some(token) => accounts::session(app, &token).await.map_err(|e| {
                tracing::error!(error = %e, "reading a session failed");
                let body = "Something went wrong on our side. Please try again in a moment.";
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, body).into_response()
            })?,
            None => None,
        };
        let (visitor_id, new_visitor) = match named(VISITOR).filter(|v| well_formed(v)) {
            Some(id) => (id, false),
            // The day it is given on, as the knowledge base counts views by days.
            None => (format!("{}.{}", accounts::new_visitor_id(), crate::desk::kb_pages::today()), true),
        };
        Ok(Visitor { who, visitor_id, new_visitor, client, secure })
    }
}
