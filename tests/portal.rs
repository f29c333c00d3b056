//! The portal over HTTP, in process (the router as `serve` runs it), on SQLite and
//! PostgreSQL: signing up from the invitation in the mail, logging in and out, the CSRF
//! token every form needs, one answer for every failed log-in, rate limits, changing the
//! password and the profile, direct sign-up with its captcha and verification link, expired,
//! reused and foreign links, and the headers of every page.

mod common;

use axum::http::StatusCode;
use common::portal_app::{Answer, Browser, PASSWORD, acme, encode, invitation_token, mails_to, sign_up_as};
use common::{TestApp, mail};
use maildesk::desk::receive;
use maildesk::domain::{CustomerNotify, Source};

async fn portal(db: common::Db) -> TestApp {
    TestApp::with(db, |c| {
        c.portal.invite = true;
        c.portal.argon2_memory_kib = 1024; // quick in tests; the defaults are measured in the bench
        c.portal.attempts_per_address = 5;
        c.portal.captcha_bits = 8; // the script's work is measured in tests/captcha.rs
    })
    .await
}

/// Jane writes, gets the invitation, and signs up through it; her browser is signed in.
async fn signed_up(t: &TestApp) -> (Browser, String) {
    receive(&t.app, &mail("Jane <jane@example.com>", "Printer", None, "", "Help."), &Source::Pipe).await.unwrap();
    let token = invitation_token(t, "jane@example.com").await;
    let mut browser = Browser::new("192.0.2.10:40000");
    let page = browser.get(t, &format!("/signup?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    let done = browser
        .post(t, "/signup", &[("csrf", &csrf), ("token", &token), ("name", "Jane"), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    (browser, token)
}

on_both!(the_invitation_in_the_mail_signs_up_the_invited_address_once, |db| {
    let t = portal(db).await;
    receive(&t.app, &mail("Jane <jane@example.com>", "Printer", None, "", "Help."), &Source::Pipe).await.unwrap();
    let token = invitation_token(&t, "jane@example.com").await;
    let mut browser = Browser::new("192.0.2.10:40000");
    let page = browser.get(&t, &format!("/signup?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("jane@example.com"), "the invited address, fixed");
    assert_eq!(page.body.matches("<h1").count(), 1, "one h1");
    assert!(page.body.contains("<label for=\"password\">"), "labelled fields");
    let csrf = page.csrf();

    // Without the CSRF token, or with another visitor's, nothing happens.
    let forged = browser.post(&t, "/signup", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let mut other = Browser::new("192.0.2.11:40000");
    let others = other.get(&t, "/login").await.csrf();
    let crossed = browser.post(&t, "/signup", &[("csrf", &others), ("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    // A weak password is refused next to its field, and the link still works.
    let weak = browser.post(&t, "/signup", &[("csrf", &csrf), ("token", &token), ("password", "password123")]).await;
    // The form comes back with the refusal (200: a browser's console shows no error for it).
    assert_eq!(weak.status, StatusCode::OK);
    assert!(weak.body.contains("most common") && weak.body.contains("aria-invalid=\"true\""), "{}", weak.body);
    let short = browser.post(&t, "/signup", &[("csrf", &csrf), ("token", &token), ("password", "short")]).await;
    assert!(short.body.contains("at least 10 characters"), "{}", short.body);
    assert!(t.db().await.account_by_email("jane@example.com").await.unwrap().is_none(), "no account yet");

    let done = browser
        .post(&t, "/signup", &[("csrf", &csrf), ("token", &token), ("name", "Jane D"), ("password", PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header("location"), Some("/?done=signup"));
    let session = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.contains("session"))
        .unwrap();
    for flag in ["__Host-maildesk-session=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(session.contains(flag), "{flag} missing in {session}");
    }
    let home = browser.get(&t, "/").await;
    assert!(home.body.contains("Hello, Jane D"), "{}", home.body);
    // The session is stored as its hash only.
    let cookie = browser.cookies["__Host-maildesk-session"].clone();
    assert!(t.db().await.session(&cookie).await.unwrap().is_none());
    assert!(t.db().await.session(&maildesk::store::sha256_hex(cookie.as_bytes())).await.unwrap().is_some());

    // The link worked once.
    let again = Browser::new("192.0.2.12:40000").get(&t, &format!("/signup?token={token}")).await;
    assert_eq!(again.status, StatusCode::GONE);
    let mut late = Browser::new("192.0.2.12:40000");
    let csrf = late.get(&t, "/login").await.csrf();
    let replay =
        late.post(&t, "/signup", &[("csrf", &csrf), ("token", &token), ("password", "another good one")]).await;
    assert_eq!(replay.status, StatusCode::GONE);
    let foreign = late.get(&t, &format!("/signup?token={}", "ab".repeat(32))).await;
    assert_eq!(foreign.status, StatusCode::GONE);
});

on_both!(log_in_and_out_with_one_answer_for_every_failure_and_a_new_session_each_time, |db| {
    let t = portal(db).await;
    let (mut jane, _) = signed_up(&t).await;
    let first_session = jane.cookies["__Host-maildesk-session"].clone();
    let csrf = jane.get(&t, "/").await.csrf();
    let out = jane.post(&t, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.header("location")), (StatusCode::SEE_OTHER, Some("/login")));
    assert!(!jane.cookies.contains_key("__Host-maildesk-session"), "the cookie is cleared");
    assert!(t.db().await.session(&maildesk::store::sha256_hex(first_session.as_bytes())).await.unwrap().is_none());

    let mut browser = Browser::new("192.0.2.20:40000");
    let csrf = browser.get(&t, "/login").await.csrf();
    let wrong = browser
        .post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", "not her password")])
        .await;
    let unknown =
        browser.post(&t, "/login", &[("csrf", &csrf), ("email", "nobody@example.com"), ("password", PASSWORD)]).await;
    assert_eq!((wrong.status, unknown.status), (StatusCode::OK, StatusCode::OK));
    assert!(!browser.cookies.contains_key("__Host-maildesk-session"), "no session");
    assert!(wrong.body.contains("Wrong address or password."));
    assert_eq!(
        wrong.body.replace("jane@example.com", "X"),
        unknown.body.replace("nobody@example.com", "X"),
        "the same page"
    );
    let missing = browser.post(&t, "/login", &[("email", "jane@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "no CSRF token");

    let ok =
        browser.post(&t, "/login", &[("csrf", &csrf), ("email", "Jane@Example.com"), ("password", PASSWORD)]).await;
    assert_eq!((ok.status, ok.header("location")), (StatusCode::SEE_OTHER, Some("/?done=login")));
    let second = browser.cookies["__Host-maildesk-session"].clone();
    assert_ne!(second, first_session, "a new session id");
    assert!(browser.get(&t, "/?done=login").await.body.contains("You are logged in."));
    // The old form's token is bound to the anonymous visitor: after log-in, forms carry a
    // token of the session.
    assert_ne!(browser.get(&t, "/profile").await.csrf(), csrf);
});

on_both!(too_many_log_in_attempts_get_429_with_retry_after, |db| {
    let t = portal(db).await;
    let (_, _) = signed_up(&t).await;
    let mut browser = Browser::new("192.0.2.30:40000");
    let csrf = browser.get(&t, "/login").await.csrf();
    // Log-ins that succeed do not count: more of them than the limit all work.
    for _ in 0..6 {
        let mut office = Browser::new("192.0.2.31:40000");
        let csrf = office.get(&t, "/login").await.csrf();
        let yes =
            office.post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", PASSWORD)]).await;
        assert_eq!(yes.status, StatusCode::SEE_OTHER);
    }
    for _ in 0..5 {
        let no = browser
            .post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", "guess guess guess")])
            .await;
        assert!(no.body.contains("Wrong address or password."));
    }
    // Now even the right password waits: the address is limited, whatever the client.
    let mut elsewhere = Browser::new("198.51.100.7:40000");
    let csrf = elsewhere.get(&t, "/login").await.csrf();
    let limited =
        elsewhere.post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert!(limited.body.contains("Too many attempts"), "{}", limited.body);
    assert!(!elsewhere.cookies.contains_key("__Host-maildesk-session"));
});

on_both!(changing_the_password_ends_the_other_sessions_and_the_profile_is_kept, |db| {
    let t = portal(db).await;
    let (mut jane, _) = signed_up(&t).await;
    let mut phone = Browser::new("192.0.2.40:40000");
    let csrf = phone.get(&t, "/login").await.csrf();
    phone.post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", PASSWORD)]).await;
    assert!(phone.get(&t, "/").await.body.contains("Hello"), "signed in on the phone too");

    let csrf = jane.get(&t, "/password/change").await.csrf();
    let wrong = jane
        .post(
            &t,
            "/password/change",
            &[("csrf", &csrf), ("current", "not it at all"), ("new", "a new good passphrase")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("current password is not right"), "{}", wrong.body);
    let changed = jane
        .post(&t, "/password/change", &[("csrf", &csrf), ("current", PASSWORD), ("new", "a new good passphrase")])
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    assert!(jane.get(&t, "/").await.body.contains("Hello"), "this session goes on");
    assert!(!phone.get(&t, "/").await.body.contains("Hello"), "the other session ended");
    let csrf = phone.get(&t, "/login").await.csrf();
    let old = phone.post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", PASSWORD)]).await;
    assert!(old.body.contains("Wrong address or password."), "the old password is gone");

    let csrf = jane.get(&t, "/profile").await.csrf();
    let saved = jane.post(&t, "/profile", &[("csrf", &csrf), ("name", "Jane Doe"), ("notify", "replies")]).await;
    assert_eq!(saved.header("location"), Some("/profile?done=profile"));
    let account = t.db().await.account_by_email("jane@example.com").await.unwrap().unwrap();
    assert_eq!((account.name.as_str(), account.notify), ("Jane Doe", CustomerNotify::Replies));
    let forged = jane.post(&t, "/profile", &[("name", "Mallory")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(t.db().await.account_by_email("jane@example.com").await.unwrap().unwrap().name, "Jane Doe");
    // Signed out, the account pages send to the log-in page.
    let mut stranger = Browser::new("192.0.2.41:40000");
    assert_eq!(stranger.get(&t, "/profile").await.header("location"), Some("/login"));
    assert_eq!(stranger.get(&t, "/password/change").await.header("location"), Some("/login"));
});

on_both!(every_page_says_how_a_browser_may_treat_it, |db| {
    let t = portal(db).await;
    let mut browser = Browser::new("192.0.2.50:40000");
    for path in ["/", "/login", "/signup?token=x"] {
        let page = browser.get(&t, path).await;
        let csp = page.header("content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(!page.body.contains("<script>") && !page.body.contains("style=\""), "nothing inline: {path}");
    }
    let css = browser.get(&t, "/static/portal.css").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.header("cache-control").unwrap().contains("max-age"));
    assert!(css.body.contains("@media"), "responsive");
});

#[tokio::test]
async fn over_plain_http_cookies_have_no_secure_prefix() {
    let t = TestApp::with(common::Db::Sqlite, |c| c.portal.base_url = "http://127.0.0.1:8080".into()).await;
    let mut browser = Browser::new("192.0.2.60:40000");
    let page = browser.get(&t, "/login").await;
    let set = page.header("set-cookie").unwrap();
    assert!(set.starts_with("maildesk-visitor=") && !set.contains("Secure"), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
}

on_both!(a_generated_password_must_be_changed_before_anything_else, |db| {
    let t = portal(db).await;
    let ann = maildesk::domain::EmailAddress::parse("ann@acme.example").unwrap();
    let generated = maildesk::desk::accounts::create_with_password(&t.app, &ann).await.unwrap();
    assert_eq!(generated.len(), 20);
    let again = maildesk::desk::accounts::create_with_password(&t.app, &ann).await;
    assert!(matches!(again, Err(maildesk::desk::accounts::CreateError::Exists(_))), "one account per address");
    let mut browser = Browser::new("192.0.2.70:40000");
    let csrf = browser.get(&t, "/login").await.csrf();
    let login =
        browser.post(&t, "/login", &[("csrf", &csrf), ("email", "ann@acme.example"), ("password", &generated)]).await;
    assert_eq!(login.header("location"), Some("/password/change"));
    // Every other page sends back to the change: it cannot be skipped.
    for path in ["/", "/profile"] {
        assert_eq!(browser.get(&t, path).await.header("location"), Some("/password/change"), "{path}");
    }
    let page = browser.get(&t, "/password/change").await;
    assert!(page.body.contains("Choose your own before you go on"), "{}", page.body);
    let csrf = page.csrf();
    let done = browser
        .post(&t, "/password/change", &[("csrf", &csrf), ("current", &generated), ("new", "ann's own passphrase")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get(&t, "/").await.status, StatusCode::OK, "now the portal opens");
    let account = t.db().await.account_by_email("ann@acme.example").await.unwrap().unwrap();
    assert!(!account.must_change);
});

on_both!(a_customer_who_wants_only_replies_gets_no_status_notices, |db| {
    let t = portal(db).await;
    let (mut jane, _) = signed_up(&t).await;
    let n = t.db().await.list_tickets(10).await.unwrap()[0].id;
    let csrf = jane.get(&t, "/profile").await.csrf();
    jane.post(&t, "/profile", &[("csrf", &csrf), ("name", "Jane"), ("notify", "replies")]).await;
    let before = t.flush_outbox().await.len();
    maildesk::desk::staff::set_status(&t.app, n, maildesk::domain::Status::WaitingOnVendor).await.unwrap();
    assert_eq!(t.flush_outbox().await.len(), before, "no status notice");
    let staff = maildesk::domain::EmailAddress::parse("support@helpdesk.example").unwrap();
    maildesk::desk::staff::reply(&t.app, n, &staff, "Here is the answer.").await.ok();
    let csrf = jane.get(&t, "/profile").await.csrf();
    jane.post(&t, "/profile", &[("csrf", &csrf), ("name", "Jane"), ("notify", "all")]).await;
    maildesk::desk::staff::set_status(&t.app, n, maildesk::domain::Status::InProgress).await.unwrap();
    let sent = t.flush_outbox().await;
    assert!(sent.len() > before, "every update again");
    assert_eq!(sent.last().unwrap().recipient, "jane@example.com");
});

on_both!(a_forgotten_password_is_reset_by_a_single_use_link_and_unknown_addresses_learn_nothing, |db| {
    let t = portal(db).await;
    let (mut jane, _) = signed_up(&t).await;
    let mut browser = Browser::new("192.0.2.80:40000");
    let csrf = browser.get(&t, "/password/forgot").await.csrf();
    let forged = browser.post(&t, "/password/forgot", &[("email", "jane@example.com")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let known = browser.post(&t, "/password/forgot", &[("csrf", &csrf), ("email", "jane@example.com")]).await;
    let unknown = browser.post(&t, "/password/forgot", &[("csrf", &csrf), ("email", "nobody@example.com")]).await;
    assert_eq!((known.status, unknown.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(known.body, unknown.body, "the same answer for known and unknown addresses");
    // The unknown address is told that someone tried, once a day at most.
    browser.post(&t, "/password/forgot", &[("csrf", &csrf), ("email", "nobody@example.com")]).await;
    let tried = mails_to(&t, "nobody@example.com", "someone asked our support portal").await;
    assert_eq!(tried.len(), 1, "{tried:?}");
    let resets = mails_to(&t, "jane@example.com", "password/reset?token=").await;
    assert_eq!(resets.len(), 1);
    let token: String =
        resets[0].split("password/reset?token=").nth(1).unwrap().chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(token.len(), 64);
    assert!(
        t.db().await.list_outbox().await.unwrap().iter().all(|r| !r.payload.contains(&token)),
        "only its hash is stored"
    );

    let page = browser.get(&t, &format!("/password/reset?token={token}")).await;
    assert!(page.body.contains("jane@example.com"), "{}", page.body);
    let csrf = page.csrf();
    let weak =
        browser.post(&t, "/password/reset", &[("csrf", &csrf), ("token", &token), ("password", "qwertyuiop")]).await;
    assert!(weak.body.contains("most common"), "the link still works after a refusal");
    let done = browser
        .post(&t, "/password/reset", &[("csrf", &csrf), ("token", &token), ("password", "a brand new passphrase")])
        .await;
    assert_eq!(done.header("location"), Some("/?done=reset"));
    assert!(browser.get(&t, "/?done=reset").await.body.contains("Your new password is set"));
    assert!(!jane.get(&t, "/").await.body.contains("Hello"), "every other session ended");
    let again = Browser::new("192.0.2.81:40000").get(&t, &format!("/password/reset?token={token}")).await;
    assert_eq!(again.status, StatusCode::GONE, "the link works once");
    let csrf = jane.get(&t, "/login").await.csrf();
    let login = jane
        .post(&t, "/login", &[("csrf", &csrf), ("email", "jane@example.com"), ("password", "a brand new passphrase")])
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
});

impl Answer {
    /// The value of the hidden field `name` of the page's form.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&marker).unwrap_or_else(|| panic!("a field {name}: {}", self.body)) + marker.len();
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

/// Sends the sign-up form for `email` from a fresh `/register` page, its captcha solved as
/// the page's script solves it.
async fn register(t: &TestApp, browser: &mut Browser, name: &str, email: &str) -> Answer {
    let page = browser.get(t, "/register").await;
    assert_eq!(page.status, StatusCode::OK);
    let (csrf, challenge) = (page.csrf(), page.field("captcha"));
    let nonce = maildesk::desk::captcha::solve(&challenge).unwrap();
    let form =
        [("csrf", csrf.as_str()), ("name", name), ("email", email), ("captcha", &challenge), ("captcha_nonce", &nonce)];
    browser.post(t, "/register", &form).await
}

/// The token of the link after `path?token=` in `text`.
fn link_token(text: &str, path: &str) -> String {
    let marker = format!("{path}?token=");
    text.split(&marker).nth(1).unwrap().chars().take_while(char::is_ascii_hexdigit).collect()
}

on_both!(a_direct_sign_up_needs_the_captcha_and_makes_the_account_only_through_the_mailed_link, |db| {
    let t = portal(db).await;
    let mut ann = Browser::new("192.0.2.90:40000");
    let page = ann.get(&t, "/register").await;
    assert!(page.body.contains("data-captcha") && page.body.contains(r#"<script src="/static/captcha.js" defer>"#));
    assert!(page.body.contains("(in digits)"), "the question for browsers without JavaScript");
    let script = ann.get(&t, "/static/captcha.js").await;
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(script.header("cache-control").unwrap().contains("max-age"));

    // No CSRF token: 403 and nothing sent. A wrong answer: the form again, nothing sent.
    let (csrf, challenge) = (page.csrf(), page.field("captcha"));
    let forged = ann.post(&t, "/register", &[("email", "ann@example.net"), ("captcha", &challenge)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let form =
        [("csrf", csrf.as_str()), ("email", "ann@example.net"), ("captcha", &challenge), ("captcha_answer", "-1")];
    let wrong = ann.post(&t, "/register", &form).await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("is not right") && wrong.body.contains(r#"id="captcha-error""#), "{}", wrong.body);
    assert_ne!(wrong.field("captcha"), challenge, "a new challenge with the form");
    let reused = ann.post(&t, "/register", &form).await;
    assert!(reused.body.contains("already sent once"), "a challenge is used once: {}", reused.body);
    let bad = register(&t, &mut ann, "Ann", "not an address").await;
    assert!(bad.body.contains(r#"id="email-error""#) && bad.body.contains(r#"aria-invalid="true""#));
    assert!(t.flush_outbox().await.is_empty(), "nothing sent for a refused form");

    let done = register(&t, &mut ann, "Ann Example", "Ann@Example.net").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("Check your mail"), "{}", done.body);
    let mails = mails_to(&t, "ann@example.net", "/verify?token=").await;
    assert_eq!(mails.len(), 1, "one verification mail");
    assert!(mails[0].contains("Hello Ann Example"), "{}", mails[0]);
    let token = link_token(&mails[0], "/verify");
    assert_eq!(token.len(), 64);
    assert!(t.db().await.list_outbox().await.unwrap().iter().all(|r| !r.payload.contains(&token)), "only its hash");

    // Until the link is followed there is no account: log-in fails as any other.
    let csrf = ann.get(&t, "/login").await.csrf();
    let early = ann.post(&t, "/login", &[("csrf", &csrf), ("email", "ann@example.net"), ("password", PASSWORD)]).await;
    assert!(early.body.contains("Wrong address or password"));
    // A verification token is no invitation and no reset link.
    assert_eq!(ann.get(&t, &format!("/signup?token={token}")).await.status, StatusCode::GONE);
    assert_eq!(ann.get(&t, &format!("/password/reset?token={token}")).await.status, StatusCode::GONE);

    let page = ann.get(&t, &format!("/verify?token={token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ann@example.net") && page.body.contains(r#"value="Ann Example""#), "{}", page.body);
    assert!(page.body.contains(r#"action="/verify""#));
    let csrf = page.csrf();
    let weak = ann.post(&t, "/verify", &[("csrf", &csrf), ("token", &token), ("password", "ann@example.net")]).await;
    assert!(weak.body.contains(r#"id="password-error""#), "{}", weak.body);
    let form = [("csrf", csrf.as_str()), ("token", &token), ("name", "Ann Example"), ("password", PASSWORD)];
    let done = ann.post(&t, "/verify", &form).await;
    assert_eq!(done.header("location"), Some("/?done=signup"), "{}", done.body);
    assert!(ann.get(&t, "/").await.body.contains("Ann Example"), "signed in, with the name given at sign-up");
    assert_eq!(Browser::new("192.0.2.91:1").get(&t, &format!("/verify?token={token}")).await.status, StatusCode::GONE);
    let mut other = Browser::new("192.0.2.92:1");
    let csrf = other.get(&t, "/login").await.csrf();
    let login =
        other.post(&t, "/login", &[("csrf", &csrf), ("email", "ann@example.net"), ("password", PASSWORD)]).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "the account works");
});

on_both!(sign_up_answers_the_same_for_known_and_unknown_addresses, |db| {
    let t = portal(db).await;
    signed_up(&t).await; // jane@example.com has an account
    let mut browser = Browser::new("192.0.2.93:40000");
    let known = register(&t, &mut browser, "Jane", "jane@example.com").await;
    let unknown = register(&t, &mut browser, "Bob", "bob@example.org").await;
    assert_eq!((known.status, unknown.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(known.body, unknown.body, "the same page");
    register(&t, &mut browser, "Jane", "jane@example.com").await;
    let told = mails_to(&t, "jane@example.com", "has an account already").await;
    assert_eq!(told.len(), 1, "the owner is told once a day at most: {told:?}");
    assert!(told[0].contains("/login") && told[0].contains("/password/forgot"), "{}", told[0]);
    assert!(!told[0].contains("token="), "no link that changes anything");
    assert_eq!(mails_to(&t, "bob@example.org", "/verify?token=").await.len(), 1);
    // The desk's own address gets nothing (no mail to ourselves), with the same answer.
    let desk = t.app.config().desk.address.to_string();
    assert_eq!(register(&t, &mut browser, "Desk", &desk).await.body, unknown.body);
    assert!(t.flush_outbox().await.iter().all(|m| m.recipient != desk));
});

on_both!(sign_up_is_limited_per_address, |db| {
    let t = portal(db).await;
    let mut browser = Browser::new("192.0.2.94:40000");
    for _ in 0..5 {
        assert_eq!(register(&t, &mut browser, "", "carol@example.org").await.status, StatusCode::OK);
    }
    let limited = register(&t, &mut browser, "", "carol@example.org").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    assert!(limited.body.contains("Too many attempts"));
    let mails = mails_to(&t, "carol@example.org", "/verify?token=").await;
    assert!((1..=5).contains(&mails.len()), "the caps on automatic mail hold too: {}", mails.len());
});

on_both!(expired_links_open_nothing, |db| {
    let t = portal(db).await;
    let (_, _) = signed_up(&t).await;
    let mut db = t.db().await;
    let jane = db.account_by_email("jane@example.com").await.unwrap().unwrap().contact_id;
    let past = maildesk::store::now() - 1;
    let (verify, reset) = ("a".repeat(64), "b".repeat(64));
    let hash = maildesk::desk::invitations::token_hash;
    let purpose = maildesk::domain::TokenPurpose::Verify;
    let stranger =
        db.upsert_contact(&maildesk::domain::EmailAddress::parse("dan@example.org").unwrap(), "", None).await.unwrap();
    db.insert_account_token(&hash(&verify), purpose, stranger, past, None).await.unwrap();
    db.insert_account_token(&hash(&reset), maildesk::domain::TokenPurpose::Reset, jane, past, None).await.unwrap();
    drop(db);
    let mut browser = Browser::new("192.0.2.95:40000");
    assert_eq!(browser.get(&t, &format!("/verify?token={verify}")).await.status, StatusCode::GONE);
    assert_eq!(browser.get(&t, &format!("/password/reset?token={reset}")).await.status, StatusCode::GONE);
    let csrf = browser.get(&t, "/login").await.csrf();
    let post = browser.post(&t, "/verify", &[("csrf", &csrf), ("token", &verify), ("password", PASSWORD)]).await;
    assert_eq!(post.status, StatusCode::GONE);
    assert!(t.db().await.account_by_email("dan@example.org").await.unwrap().is_none(), "no account made");
    let post = browser.post(&t, "/password/reset", &[("csrf", &csrf), ("token", &reset), ("password", PASSWORD)]).await;
    assert_eq!(post.status, StatusCode::GONE);
});

on_both!(a_primary_contact_invites_and_deactivates_colleagues_and_no_one_else_can, |db| {
    let t = acme(db).await;
    for from in ["Pat <pat@acme.example>", "Lee <lee@acme.example>", "Out <out@other.example>"] {
        receive(&t.app, &mail(from, "Printer", None, "", "Help."), &Source::Pipe).await.unwrap();
    }
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.100:1").await;
    let mut lee = sign_up_as(&t, "lee@acme.example", "192.0.2.101:1").await;
    let mut out = sign_up_as(&t, "out@other.example", "192.0.2.102:1").await;
    assert_eq!(pat.get(&t, "/organisation").await.status, StatusCode::NOT_FOUND, "not for a standard contact");
    assert!(!pat.get(&t, "/").await.body.contains("/organisation"));

    let pat_address = maildesk::domain::EmailAddress::parse("pat@acme.example").unwrap();
    maildesk::desk::contacts::set_primary(&t.app, &pat_address, true).await.unwrap();
    assert!(pat.get(&t, "/").await.body.contains(r#"href="/organisation""#));
    let page = pat.get(&t, "/organisation").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Acme</h1>") && page.body.contains("lee@acme.example"), "{}", page.body);
    assert!(!page.body.contains("out@other.example"), "only the organisation's own contacts");
    assert_eq!(out.get(&t, "/organisation").await.status, StatusCode::NOT_FOUND);
    let csrf = page.csrf();

    // Invitations: only for the organisation's addresses, with the CSRF token.
    let forged = pat.post(&t, "/organisation/invite", &[("email", "kim@acme.example")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let foreign = pat.post(&t, "/organisation/invite", &[("csrf", &csrf), ("email", "eve@other.example")]).await;
    assert!(foreign.body.contains("is not an address of your organisation"), "{}", foreign.body);
    let member = pat.post(&t, "/organisation/invite", &[("csrf", &csrf), ("email", "out@other.example")]).await;
    assert!(member.body.contains("is not an address of your organisation"));
    let done = pat.post(&t, "/organisation/invite", &[("csrf", &csrf), ("email", "Kim@Acme.example")]).await;
    assert_eq!(done.header("location"), Some("/organisation?done=invited"), "{}", done.body);
    let kim = mails_to(&t, "kim@acme.example", "signup?token=").await;
    assert_eq!(kim.len(), 1);
    assert!(kim[0].contains("Pat <pat@acme.example> invited you"), "{}", kim[0]);
    assert!(mails_to(&t, "eve@other.example", "").await.is_empty());
    assert!(pat.get(&t, "/organisation").await.body.contains("Invited, link works until"));
    let again = pat.post(&t, "/organisation/invite", &[("csrf", &csrf), ("email", "lee@acme.example")]).await;
    assert!(again.body.contains("signed up already"), "{}", again.body);

    // Deactivating Lee ends her sessions and her log-ins; reactivating lets her in again.
    let lee_id = t.db().await.account_by_email("lee@acme.example").await.unwrap().unwrap().contact_id.0.to_string();
    let off = pat.post(&t, "/organisation/access", &[("csrf", &csrf), ("contact", &lee_id), ("active", "false")]).await;
    assert_eq!(off.header("location"), Some("/organisation?done=deactivated"));
    assert!(!lee.get(&t, "/").await.body.contains("Log out"), "her session ended");
    let lee_csrf = lee.get(&t, "/login").await.csrf();
    let login = [("csrf", lee_csrf.as_str()), ("email", "lee@acme.example"), ("password", PASSWORD)];
    assert!(lee.post(&t, "/login", &login).await.body.contains("Wrong address or password"));
    assert!(pat.get(&t, "/organisation").await.body.contains("Deactivated"));
    let on = pat.post(&t, "/organisation/access", &[("csrf", &csrf), ("contact", &lee_id), ("active", "true")]).await;
    assert_eq!(on.header("location"), Some("/organisation?done=reactivated"));
    assert_eq!(lee.post(&t, "/login", &login).await.status, StatusCode::SEE_OTHER);

    // Not themselves, not someone of another organisation, and not as a standard contact.
    let pat_id = t.db().await.account_by_email("pat@acme.example").await.unwrap().unwrap().contact_id.0.to_string();
    let out_id = t.db().await.account_by_email("out@other.example").await.unwrap().unwrap().contact_id.0.to_string();
    for id in [&pat_id, &out_id] {
        let no = pat.post(&t, "/organisation/access", &[("csrf", &csrf), ("contact", id), ("active", "false")]).await;
        assert!(no.body.contains("Only your organisation"), "{}", no.body);
    }
    let out_csrf = out.get(&t, "/").await.csrf();
    let no =
        out.post(&t, "/organisation/access", &[("csrf", &out_csrf), ("contact", &lee_id), ("active", "false")]).await;
    assert_eq!(no.status, StatusCode::NOT_FOUND);
    let mut db = t.db().await;
    for address in ["pat@acme.example", "out@other.example", "lee@acme.example"] {
        assert!(db.account_by_email(address).await.unwrap().unwrap().active, "{address}");
    }
});

on_both!(unknown_paths_get_a_readable_404_and_request_links_lead_to_the_log_in, |db| {
    let t = portal(db).await;
    let mut browser = Browser::new("192.0.2.110:1");
    let missing = browser.get(&t, "/nothing/here").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("<h1>Page not found</h1>"));
    assert!(missing.header("content-security-policy").is_some());
    assert_eq!(browser.get(&t, "/requests/42").await.header("location"), Some("/login"));
});

on_both!(a_contact_sees_the_requests_they_may_and_any_other_is_not_found, |db| {
    use maildesk::desk::{roster, staff};
    use maildesk::domain::{EmailAddress, StaffNotify, TicketNumber};
    let t = acme(db).await;
    let ticket = |from: &str, subject: &str, cc: &str| mail(from, subject, None, cc, "Please help.");
    receive(&t.app, &ticket("Pat <pat@acme.example>", "Pat's printer", ""), &Source::Pipe).await.unwrap(); // #1
    receive(&t.app, &ticket("Lee <lee@acme.example>", "Lee's laptop", ""), &Source::Pipe).await.unwrap(); // #2
    receive(&t.app, &ticket("Out <out@other.example>", "Out's order", "Cc: lee@acme.example\n"), &Source::Pipe)
        .await
        .unwrap(); // #3, Lee copied
    let agent = EmailAddress::parse("agent@staff.example").unwrap();
    roster::add(&t.app, &agent, "Agnes Agent", None, StaffNotify::All).await.unwrap();
    staff::reply(&t.app, TicketNumber(1), &agent, "We are on it.").await.unwrap();
    let note = staff::Act {
        commands: vec![maildesk::domain::Command::Note],
        body: "Secret: the vendor is slow.",
        ..staff::Act::default()
    };
    staff::act(&t.app, TicketNumber(1), &agent, &note).await.unwrap();
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.120:1").await;
    let mut lee = sign_up_as(&t, "lee@acme.example", "192.0.2.121:1").await;

    // Lee, a standard contact: her own and the one she is copied on; Pat's is not found.
    let list = lee.get(&t, "/requests").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Lee&#39;s laptop") || list.body.contains("Lee's laptop"), "{}", list.body);
    assert!(list.body.contains("Out&#39;s order") || list.body.contains("Out's order"));
    assert!(!list.body.contains("Pat"), "nothing of Pat's request: {}", list.body);
    assert_eq!(lee.get(&t, "/requests/1").await.status, StatusCode::NOT_FOUND);
    assert_eq!(lee.get(&t, "/requests/999").await.status, StatusCode::NOT_FOUND, "the same as one that exists");
    assert_eq!(lee.get(&t, "/requests/x").await.status, StatusCode::NOT_FOUND);
    assert_eq!(lee.get(&t, "/requests/3").await.status, StatusCode::OK);
    let home = lee.get(&t, "/").await;
    assert!(home.body.contains(r#"<span class="count">2</span> Open"#), "her two requests counted: {}", home.body);
    assert!(home.body.contains("/requests/3\"") && !home.body.contains("/requests/1\""));

    // Pat sees the public conversation of hers: the staff member by name, no note.
    let page = pat.get(&t, "/requests/1").await;
    assert_eq!(page.status, StatusCode::OK);
    for shown in ["Please help.", "We are on it.", "Agnes Agent", "Open"] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    for hidden in ["Secret", "agent@staff.example"] {
        assert!(!page.body.contains(hidden), "{hidden} leaked: {}", page.body);
    }
    assert_eq!(pat.get(&t, "/requests/2").await.status, StatusCode::NOT_FOUND, "a colleague's, while standard");
    let filtered = pat.get(&t, "/requests?status=closed").await;
    assert!(!filtered.body.contains("/requests/1\""), "the status filter holds");

    // Made primary, Pat sees the organisation's requests, never another organisation's.
    let pat_address = EmailAddress::parse("pat@acme.example").unwrap();
    maildesk::desk::contacts::set_primary(&t.app, &pat_address, true).await.unwrap();
    let list = pat.get(&t, "/requests").await;
    assert!(list.body.contains("/requests/2\"") && list.body.contains("asked by lee@acme.example"), "{}", list.body);
    assert!(!list.body.contains("/requests/3\""), "another organisation's");
    assert_eq!(pat.get(&t, "/requests/2").await.status, StatusCode::OK);
    assert_eq!(pat.get(&t, "/requests/3").await.status, StatusCode::NOT_FOUND);
    let home = pat.get(&t, "/").await;
    assert!(home.body.contains("/requests/2\"") && !home.body.contains("/requests/3\""), "{}", home.body);
    assert_eq!(Browser::new("192.0.2.122:1").get(&t, "/requests/1").await.header("location"), Some("/login"));
});

on_both!(a_signed_in_form_is_bound_to_the_session_not_to_the_visitor_cookie, |db| {
    let t = portal(db).await;
    let (mut jane, _) = signed_up(&t).await;
    let csrf = jane.get(&t, "/profile").await.csrf();
    jane.cookies.retain(|name, _| name.contains("session"));
    let saved = jane.post(&t, "/profile", &[("csrf", &csrf), ("name", "Jane D"), ("notify", "all")]).await;
    assert_eq!(saved.header("location"), Some("/profile?done=profile"), "{}", saved.body);
    let forged = jane.post(&t, "/profile", &[("csrf", &"0".repeat(64)), ("name", "X"), ("notify", "all")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
});

/// The ticket numbers a request list shows, in its order.
fn listed(body: &str) -> Vec<i64> {
    body.split("href=\"/requests/").skip(1).filter_map(|rest| rest.split('"').next()?.parse().ok()).collect()
}

/// A staff member, and the Acme desk with requests from Pat (#1, #3, #4) and Lee (#2):
/// public replies, and an internal note on #1 whose words no search may find.
async fn searchable(db: common::Db) -> TestApp {
    use maildesk::desk::{roster, staff};
    use maildesk::domain::{Command, EmailAddress, StaffNotify, TicketNumber};
    let t = acme(db).await;
    let ticket = |from: &str, subject: &str, body: &str| mail(from, subject, None, "", body);
    for (from, subject, body) in [
        ("Pat <pat@acme.example>", "Printer jammed", "The tray squeaks."), // #1
        ("Lee <lee@acme.example>", "Laptop battery", "It drains overnight."), // #2
        ("Pat <pat@acme.example>", "Café machine", "No coffee since Monday."), // #3
        ("Pat <pat@acme.example>", "Order 42", "Where is my order?"),      // #4
    ] {
        receive(&t.app, &ticket(from, subject, body), &Source::Pipe).await.unwrap();
    }
    let agent = EmailAddress::parse("agent@staff.example").unwrap();
    roster::add(&t.app, &agent, "Agnes Agent", None, StaffNotify::All).await.unwrap();
    staff::reply(&t.app, TicketNumber(1), &agent, "Try the blue lever.").await.unwrap();
    let note =
        staff::Act { commands: vec![Command::Note], body: "Secret: vendor invoice overdue.", ..staff::Act::default() };
    staff::act(&t.app, TicketNumber(1), &agent, &note).await.unwrap();
    // The lists below are by activity: had the setup crossed a second, #1 (answered last)
    // would move up among the others, and the expected orders would depend on the clock.
    t.same_activity().await;
    t
}

/// `/requests?q=…` with the search percent-encoded.
fn search(q: &str) -> String {
    format!("/requests?q={}", encode(q))
}

on_both!(a_search_finds_requests_by_number_and_by_the_words_of_one_public_text_never_of_a_note, |db| {
    let t = searchable(db).await;
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.130:1").await;
    let found = |page: &Answer| listed(&page.body);
    for (q, expected) in [
        ("1", vec![1]),
        ("#4", vec![4]),
        ("42", vec![4]),             // a number that is no request of hers, and a word of a subject
        ("printer", vec![1]),        // the subject
        ("JAMMED Printer", vec![1]), // case folded, any order
        ("squeaks", vec![1]),        // the first mail
        ("blue lever", vec![1]),     // staff's public reply
        ("cafe", vec![3]),           // accents folded
        ("CAFÉ", vec![3]),
        ("printer lever", vec![]), // all words must be in one text
        ("invoice", vec![]),       // the internal note's words
        ("vendor overdue", vec![]),
        ("Secret", vec![]),
        ("battery", vec![]), // a colleague's, while standard
    ] {
        let page = pat.get(&t, &search(q)).await;
        assert_eq!(page.status, StatusCode::OK, "{q}");
        assert_eq!(found(&page), expected, "{q}: {}", page.body);
        if expected.is_empty() {
            assert!(page.body.contains("No requests match"), "{q}: {}", page.body);
        }
    }
    let page = pat.get(&t, &search("printer")).await;
    assert!(page.body.contains(r#"value="printer""#) && page.body.contains("1 request"), "{}", page.body);
    assert!(!page.body.contains("Secret") && !page.body.contains("invoice"));
});

on_both!(a_standard_contact_never_finds_a_colleagues_request_and_a_primary_contact_finds_the_organisations, |db| {
    let t = searchable(db).await;
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.131:1").await;
    for q in ["laptop", "2", "#2", "drains overnight", "lee@acme.example", "lee@", "@acme.example laptop"] {
        assert_eq!(listed(&pat.get(&t, &search(q)).await.body), Vec::<i64>::new(), "{q}");
    }
    let lee_only = pat.get(&t, "/requests?requester=lee%40acme.example").await;
    assert_eq!(listed(&lee_only.body), Vec::<i64>::new(), "a requester filter is no way in");
    assert!(!lee_only.body.contains(r#"id="requester""#), "the field is for primary contacts");

    let pat_address = maildesk::domain::EmailAddress::parse("pat@acme.example").unwrap();
    maildesk::desk::contacts::set_primary(&t.app, &pat_address, true).await.unwrap();
    for (q, expected) in [
        ("laptop", vec![2]),
        ("#2", vec![2]),
        ("lee@acme.example", vec![2]), // the requester's address
        ("LEE@", vec![2]),
        ("@acme.example", vec![4, 3, 2, 1]),
        ("pat@acme.example printer", vec![1]),
    ] {
        assert_eq!(listed(&pat.get(&t, &search(q)).await.body), expected, "{q}");
    }
    let lee_only = pat.get(&t, "/requests?requester=Lee%40Acme.example").await;
    assert_eq!(listed(&lee_only.body), vec![2]);
    assert!(lee_only.body.contains(r#"id="requester""#) && lee_only.body.contains(r#"value="lee@acme.example""#));
    let mine = pat.get(&t, "/requests?requester=pat%40acme.example&q=printer").await;
    assert_eq!(listed(&mine.body), vec![1], "both hold");
});

/// Sets the last activity of ticket `n` to `at` (Unix seconds), as a test may: the desk
/// stamps activity with the clock, and one test runs within a second.
async fn set_activity(t: &TestApp, db: common::Db, n: i64, at: i64) {
    use sqlx::Connection;
    let url = &t.app.config().database.url;
    let sql = "UPDATE tickets SET updated_at = $1 WHERE id = $2";
    match db {
        common::Db::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(at).bind(n).execute(&mut c).await.unwrap();
        }
        common::Db::Postgres => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).bind(at).bind(n).execute(&mut c).await.unwrap();
        }
    }
}

on_both!(the_list_filters_on_status_state_priority_and_requester_and_sorts_three_ways, |db| {
    use maildesk::desk::staff;
    use maildesk::domain::{Command, Priority, Status, TicketNumber};
    let t = searchable(db).await;
    let pat_address = maildesk::domain::EmailAddress::parse("pat@acme.example").unwrap();
    maildesk::desk::contacts::set_primary(&t.app, &pat_address, true).await.unwrap();
    let desk = t.app.config().desk.address.clone();
    for (n, status, priority) in [
        (1, Status::WaitingOnCustomer, Priority::Low),
        (2, Status::Closed, Priority::Urgent),
        (3, Status::Open, Priority::High),
        (4, Status::Resolved, Priority::High),
    ] {
        let act = staff::Act {
            commands: vec![Command::Status(status), Command::Priority(priority)],
            ..staff::Act::default()
        };
        staff::act(&t.app, TicketNumber(n), &desk, &act).await.unwrap();
    }
    for (n, at) in [(1, 4_000), (2, 1_000), (3, 2_000), (4, 3_000)] {
        set_activity(&t, db, n, 1_800_000_000 + at).await;
    }
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.132:1").await;
    for (path, expected) in [
        ("/requests", vec![1, 4, 3, 2]), // last activity first
        ("/requests?sort=activity", vec![1, 4, 3, 2]),
        ("/requests?sort=created", vec![4, 3, 2, 1]),
        ("/requests?sort=priority", vec![2, 4, 3, 1]), // urgent, high (latest first), high, low
        ("/requests?status=closed", vec![2]),
        ("/requests?status=waiting-on-customer", vec![1]),
        ("/requests?state=active", vec![1, 3]),
        ("/requests?state=finished", vec![4, 2]),
        ("/requests?priority=high", vec![4, 3]),
        ("/requests?priority=high&state=active", vec![3]),
        ("/requests?requester=lee%40acme.example", vec![2]),
        ("/requests?requester=pat%40acme.example&sort=priority", vec![4, 3, 1]),
        ("/requests?state=finished&q=laptop", vec![2]),
    ] {
        let page = pat.get(&t, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(listed(&page.body), expected, "{path}");
    }
    // The filter links keep the other parameters, and the current ones are marked.
    let page = pat.get(&t, "/requests?state=active&sort=priority").await;
    assert!(
        page.body.contains(r#"href="/requests?state=active&#38;sort=priority&#38;priority=urgent""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"href="/requests?sort=priority&#38;state=finished""#), "{}", page.body);
    assert!(
        page.body.contains(r#"aria-current="page">Active<"#) && page.body.contains(r#"aria-current="page">Priority<"#)
    );
    assert!(page.body.contains(r#"<input type="hidden" name="state" value="active">"#), "the search keeps them too");
});

/// Pat's request "Printer 0" (#1, by mail), then one of Pat's for each of `tickets`
/// (#2, #3, …), written straight into the store.
async fn pats_tickets(t: &TestApp, tickets: impl Iterator<Item = (String, maildesk::domain::Status)>) {
    use maildesk::domain::{Priority, Role};
    use maildesk::store::NewTicket;
    receive(&t.app, &mail("Pat <pat@acme.example>", "Printer 0", None, "", "Help."), &Source::Pipe).await.unwrap();
    let mut tx = t.store().begin().await.unwrap();
    let pat = tx.contact_id("pat@acme.example").await.unwrap().unwrap();
    for (subject, status) in tickets {
        let ticket = NewTicket {
            subject: &subject,
            requester_id: pat,
            organisation_id: None,
            status,
            priority: Priority::Medium,
            department: None,
            assignee: None,
        };
        let n = tx.insert_ticket(&ticket).await.unwrap();
        tx.add_participant(n, pat, Role::Requester).await.unwrap();
    }
    tx.commit().await.unwrap();
}

on_both!(the_list_shows_25_requests_a_page_and_its_links_keep_the_filters, |db| {
    use maildesk::domain::Status;
    let t = acme(db).await;
    pats_tickets(
        &t,
        (1..=30).map(|i| (format!("Printer {i}"), if i % 10 == 0 { Status::Closed } else { Status::Open })),
    )
    .await;
    let mut browser = sign_up_as(&t, "pat@acme.example", "192.0.2.133:1").await;

    // 31 requests, 28 open: the open ones on two pages, newest first.
    let first = browser.get(&t, "/requests?status=open&sort=created").await;
    assert_eq!(listed(&first.body), (4..=30).rev().filter(|n| ![11, 21].contains(n)).collect::<Vec<i64>>());
    assert!(first.body.contains("28 requests · page 1 of 2"), "{}", first.body);
    assert!(first.body.contains(r#"<nav class="pages" aria-label="Pages">"#));
    assert!(
        first.body.contains(r#"rel="next" href="/requests?status=open&#38;sort=created&#38;page=2""#),
        "{}",
        first.body
    );
    assert!(!first.body.contains(r#"rel="prev""#));
    let second = browser.get(&t, "/requests?status=open&sort=created&page=2").await;
    assert_eq!(listed(&second.body), vec![3, 2, 1]);
    assert!(second.body.contains(r#"rel="prev" href="/requests?status=open&#38;sort=created""#), "{}", second.body);
    assert!(!second.body.contains(r#"rel="next""#));
    // Beyond the last page: no requests, a way back, still 200.
    let beyond = browser.get(&t, "/requests?status=open&sort=created&page=7").await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert!(listed(&beyond.body).is_empty());
    assert!(
        beyond.body.contains(r#"There is no page 7. <a href="/requests?status=open&#38;sort=created&#38;page=2">"#),
        "{}",
        beyond.body
    );
    let all = browser.get(&t, "/requests").await;
    assert!(all.body.contains("31 requests · page 1 of 2") && listed(&all.body).len() == 25);
});

on_both!(a_search_counts_its_matches_four_pages_ahead_and_says_more_than_beyond, |db| {
    use maildesk::domain::Status;
    let t = acme(db).await;
    let subject = |i: i64| if i % 2 == 0 { format!("Printer {i} jams") } else { format!("Printer {i}") };
    pats_tickets(&t, (1..=130).map(|i| (subject(i), Status::Open))).await;
    let mut browser = sign_up_as(&t, "pat@acme.example", "192.0.2.135:1").await;

    // 131 requests with "printer", 65 with "printer jams" too: counted exactly.
    let few = browser.get(&t, "/requests?q=printer+jams&sort=created").await;
    assert!(few.body.contains("65 requests · page 1 of 3"), "{}", few.body);
    assert_eq!(listed(&few.body), (0..25).map(|k| 131 - 2 * k).collect::<Vec<i64>>());
    // A word in all 131 texts: counted through four pages, then "more than", with a next
    // page.
    let first = browser.get(&t, "/requests?q=printer&sort=created").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(listed(&first.body), (107..=131).rev().collect::<Vec<i64>>());
    assert!(first.body.contains("More than 100 requests; add words to find fewer · page 1</p>"), "{}", first.body);
    assert!(first.body.contains("<span>Page 1</span>"), "{}", first.body);
    assert!(first.body.contains(r#"rel="next" href="/requests?q=printer&#38;sort=created&#38;page=2""#));
    // From page 4 the count reaches 175: all 131, exactly, and no next page.
    let fourth = browser.get(&t, "/requests?q=printer&sort=created&page=4").await;
    assert!(fourth.body.contains("131 requests · page 4 of 6"), "{}", fourth.body);
    assert_eq!(listed(&fourth.body), (32..=56).rev().collect::<Vec<i64>>());
    let last = browser.get(&t, "/requests?q=printer&sort=created&page=6").await;
    assert_eq!(listed(&last.body), vec![6, 5, 4, 3, 2, 1]);
    assert!(!last.body.contains(r#"rel="next""#), "{}", last.body);
});

on_both!(hostile_searches_and_malformed_filters_are_words_or_ignored_and_the_list_answers, |db| {
    let t = searchable(db).await;
    let mut pat = sign_up_as(&t, "pat@acme.example", "192.0.2.134:1").await;
    let long = "printer ".repeat(2_000);
    for q in [
        "\"",
        "\"printer",
        "printer\"",
        "*",
        "print*",
        "NEAR(printer jammed)",
        "subject:printer",
        "-printer",
        "^printer",
        "printer AND OR NOT",
        "(printer",
        "printer)",
        "{printer}",
        "'; DROP TABLE tickets; --",
        "printer\0jammed",
        "\0",
        "%",
        "_",
        "\\",
        "@",
        "@@",
        "#",
        "#abc",
        "#-1",
        "#99999999999999999999999",
        "0",
        "Ⓐ ① 🄰 👍",
        "e\u{301}",
        long.as_str(),
    ] {
        let page = pat.get(&t, &search(q)).await;
        assert_eq!(page.status, StatusCode::OK, "{q:?}: {}", page.body);
        assert!(page.body.contains("<h1>Your requests</h1>"), "{q:?}");
    }
    // Quotes, operators and NUL bytes are only word separators.
    assert_eq!(listed(&pat.get(&t, &search("\"printer")).await.body), vec![1]);
    assert_eq!(listed(&pat.get(&t, &search("NEAR(printer jammed)")).await.body), Vec::<i64>::new());
    assert_eq!(listed(&pat.get(&t, &search("printer\0jammed")).await.body), vec![1]);
    assert_eq!(listed(&pat.get(&t, &search("-printer")).await.body), vec![1], "no NOT");
    for path in [
        "/requests?status=bogus",
        "/requests?state=sideways",
        "/requests?priority=9",
        "/requests?sort=id%3Bdrop",
        "/requests?page=-1",
        "/requests?page=abc",
        "/requests?page=99999999999999999999",
        "/requests?page=0",
        "/requests?requester=not-an-address",
        "/requests?requester=%00%40x",
        "/requests?status=open&status=closed",
        "/requests?q=%FF%FE",
        "/requests?q",
        "/requests?=&&=x",
        "/requests?unknown=1",
    ] {
        let page = pat.get(&t, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        assert!(page.body.contains("<h1>Your requests</h1>"), "{path}");
    }
    // Bad values leave their filter off; of a value given twice the first counts.
    assert_eq!(listed(&pat.get(&t, "/requests?status=bogus&sort=created").await.body), vec![4, 3, 1]);
    assert_eq!(listed(&pat.get(&t, "/requests?status=open&status=closed&sort=created").await.body), vec![4, 3, 1]);
    assert_eq!(listed(&pat.get(&t, "/requests?page=-1&sort=created").await.body), vec![4, 3, 1]);
});
