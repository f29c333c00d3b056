//! End-to-end: the portal of the real `maildesk` binary, run by `serve` on its embedded
//! defaults (no config file) in a temporary working directory, with only the portal's
//! listen address and base URL moved to a free port through `MAILDESK_PORTAL__LISTEN` and
//! `MAILDESK_PORTAL__BASE_URL`, and driven over plain HTTP as a browser without JavaScript.

mod common;

// Every test sits in this module, so that `scripts/test e2e_portal` selects exactly these tests.
mod e2e_portal {
    use super::common;

    use std::path::Path;
    use std::time::Duration;

    use common::cli::{deliver, json_of, maildesk, run, wait_for};
    use common::portal_http::{Client, Response, serve_on_free_port};

    /// A password that passes the rules (10 characters or more, not a common one).
    const GOOD_PASSWORD: &str = "correct horse battery 42";

    /// The contact's portal state as `maildesk contact show --json` reports it.
    fn portal_state(dir: &Path, email: &str) -> String {
        let shown = json_of(run(maildesk(dir).args(["contact", "show", email, "--json"])));
        shown["portal"]["state"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts the response is a `303 See Other` to `to`.
    fn assert_redirect(response: &Response, to: &str) {
        assert_eq!((response.status, response.location()), (303, Some(to)), "{response:?}");
    }

    /// Posts the sign-up form as the page would, with `csrf` and `password`.
    fn post_signup(client: &mut Client, csrf: &str, token: &str, password: &str) -> Response {
        client.post("/signup", &[("csrf", csrf), ("token", token), ("name", "Nadia O."), ("password", password)])
    }

    /// Makes an account with a generated password through the CLI; returns the password.
    fn invite_with_password(dir: &Path, email: &str) -> String {
        let out = run(maildesk(dir).args(["contact", "invite", email, "--password"]));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let password = stdout.trim().to_string();
        assert_eq!(stdout.lines().count(), 1, "only the password on standard output: {stdout:?}");
        assert!(password.len() >= 10 && password.chars().all(|c| c.is_ascii_alphanumeric()), "{password:?}");
        password
    }

    #[test]
    fn a_first_mail_gets_one_acknowledgement_whose_link_signs_the_customer_up_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (daemon, base) = serve_on_free_port(dir, &[]);
        let email = "nadia.okafor@example.net";
        let request = format!(
            "From: Nadia Okafor <{email}>\nTo: support@localhost\nSubject: Cannot print invoices\n\
             Message-ID: <first-1@example.net>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\
             MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
             Since this morning every invoice prints as a blank page.\n"
        );
        deliver(dir, "1700000000.1.e2e-portal", request.as_bytes());

        // The file transport writes ./var/outbox/<Message-ID>.eml; the sender logs each row
        // after the batch it claimed is written, so once the line is there, an invitation
        // queued beside the acknowledgement would have been written too.
        wait_for("the acknowledgement", Duration::from_secs(20), || {
            daemon.log().contains("notification sent").then_some(())
        });
        let outbox = common::files_with_suffix(&dir.join("var/outbox"), ".eml");
        assert_eq!(outbox.len(), 1, "one mail: the acknowledgement carries the invitation: {outbox:?}");
        assert_eq!(daemon.log().matches("notification sent").count(), 1);
        assert!(dir.join("var/maildesk.db").exists(), "SQLite at ./var/maildesk.db");

        let raw = std::fs::read(&outbox[0]).unwrap();
        let mail = mail_parser::MessageParser::default().parse(&raw).expect("the acknowledgement parses");
        let to = mail.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_string();
        assert_eq!(to, email);
        assert!(mail.subject().unwrap_or_default().starts_with("[Support #"), "{:?}", mail.subject());
        // body_text decodes quoted-printable (a long line with `=` in it is soft-broken).
        let text = mail.body_text(0).expect("a text part").into_owned();
        let pattern = format!(r"{}/signup\?token=([0-9a-f]{{64}})(?:[^0-9A-Za-z]|$)", regex::escape(&base));
        let link_re = regex::Regex::new(&pattern).unwrap();
        let token =
            link_re.captures(&text).unwrap_or_else(|| panic!("no absolute sign-up link in:\n{text}"))[1].to_string();
        assert_eq!(link_re.captures_iter(&text).count(), 1, "one link:\n{text}");
        common::cli::secret(&token);
        common::cli::secret(GOOD_PASSWORD);
        let link = format!("{base}/signup?token={token}");
        let html = mail.body_html(0).expect("an HTML part").into_owned();
        assert!(html.contains(&format!("href=\"{link}\"")), "the HTML part links the same:\n{html}");
        assert_eq!(portal_state(dir, email), "invited");

        // The link shows the form for the invited address, and who is visiting.
        let mut browser = Client::new(&base);
        let form = browser.get(&link);
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(form.body.contains(&format!("<strong>{email}</strong>")), "{}", form.body);
        assert!(form.set_cookie("maildesk-visitor").is_some(), "{:?}", form.headers);
        assert_eq!(form.hidden("token").as_deref(), Some(token.as_str()));
        let csrf = form.csrf();
        assert!(!csrf.is_empty());

        // A forged CSRF token, and a real one of another browser: refused, nothing changed.
        let mut forged: Vec<char> = csrf.chars().collect();
        forged[0] = if forged[0] == '0' { '1' } else { '0' };
        let forged: String = forged.into_iter().collect();
        let refused = post_signup(&mut browser, &forged, &token, GOOD_PASSWORD);
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(refused.body.contains("nothing was changed"), "{}", refused.body);
        assert!(refused.set_cookie("maildesk-session").is_none());
        let mut other = Client::new(&base);
        let other_csrf = other.get("/login").csrf();
        let refused = post_signup(&mut browser, &other_csrf, &token, GOOD_PASSWORD);
        assert_eq!(refused.status, 403, "another browser's token: {}", refused.body);
        let refused = post_signup(&mut Client::new(&base), &csrf, &token, GOOD_PASSWORD);
        assert_eq!(refused.status, 403, "this browser's token without its cookie: {}", refused.body);
        // A password the rules refuse: the form again with the reason, nothing used up.
        let weak = post_signup(&mut browser, &csrf, &token, "short");
        assert_eq!(weak.status, 200, "{}", weak.body);
        assert!(weak.body.contains("Use at least 10 characters."), "{}", weak.body);
        assert!(weak.set_cookie("maildesk-session").is_none());
        assert_eq!(portal_state(dir, email), "invited", "no account made");
        assert_eq!(browser.get(&link).status, 200, "the link still works");

        // The real sign-up: a session, and the signed-in home.
        let done = post_signup(&mut browser, &csrf, &token, GOOD_PASSWORD);
        assert_redirect(&done, "/?done=signup");
        let session = done.set_cookie("maildesk-session").expect("a session cookie").to_string();
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
        assert!(!session.contains("Secure"), "http:// base URL: {session}");
        let value = browser.cookie("maildesk-session").unwrap();
        common::cli::secret(value);
        assert!(value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()), "{value}");
        let home = browser.get("/?done=signup");
        assert_eq!(home.status, 200, "{}", home.body);
        assert!(home.body.contains("<h1>Hello, Nadia O.</h1>"), "{}", home.body);
        assert!(home.body.contains("Welcome! Your account is ready."), "{}", home.body);
        assert!(home.body.contains("action=\"/logout\""), "a log-out button: {}", home.body);
        assert!(home.body.contains("href=\"/profile\""), "{}", home.body);
        assert_eq!(portal_state(dir, email), "signed-up");

        // The link worked once: later it says so, and a replayed form makes nothing.
        let again = browser.get(&link);
        assert_eq!(again.status, 410, "{}", again.body);
        assert!(again.body.contains("This link no longer works"), "{}", again.body);
        let mut replay = Client::new(&base);
        let replay_csrf = replay.get("/login").csrf();
        let replayed = post_signup(&mut replay, &replay_csrf, &token, "another good passphrase 7");
        assert_eq!(replayed.status, 410, "{}", replayed.body);
        assert!(replayed.set_cookie("maildesk-session").is_none());

        // The account logs in with the password chosen at sign-up.
        let mut later = Client::new(&base);
        let csrf = later.get("/login").csrf();
        let login = later.post("/login", &[("csrf", &csrf), ("email", email), ("password", GOOD_PASSWORD)]);
        assert_redirect(&login, "/?done=login");
        assert_eq!(common::files_with_suffix(&dir.join("var/outbox"), ".eml").len(), 1, "sign-up mails nothing");
    }

    #[test]
    fn log_in_refuses_a_missing_csrf_token_a_wrong_password_and_too_many_attempts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // A window of a day: the count of a fixed window starts again at its edge, which a test
        // crossing it would see as attempts that were never made.
        let limits = [("MAILDESK_PORTAL__ATTEMPTS_PER_IP", "3"), ("MAILDESK_PORTAL__RATE_WINDOW_MINUTES", "1440")];
        let (_daemon, base) = serve_on_free_port(dir, &limits);
        let email = "omar.haddad@example.org";
        let password = invite_with_password(dir, email);

        let mut browser = Client::new(&base);
        let page = browser.get("/login");
        assert_eq!(page.status, 200);
        let csrf = page.csrf();

        // Without the CSRF token: 403, and no attempt counted.
        let no_csrf = browser.post("/login", &[("email", email), ("password", &password)]);
        assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
        assert!(no_csrf.set_cookie("maildesk-session").is_none());

        // Three wrong passwords: the form again, saying why (200, so browsers log no error).
        for i in 0..3 {
            let wrong =
                browser.post("/login", &[("csrf", &csrf), ("email", email), ("password", "not the password at all")]);
            assert_eq!(wrong.status, 200, "attempt {i}: {}", wrong.body);
            assert!(wrong.body.contains("Wrong address or password"), "attempt {i}: {}", wrong.body);
            assert!(wrong.body.contains(&format!("value=\"{email}\"")), "the address is kept: {}", wrong.body);
            assert!(wrong.set_cookie("maildesk-session").is_none());
        }

        // The fourth from this address is refused before the password is looked at, even the
        // right one, with a readable page and when to come back.
        let limited = browser.post("/login", &[("csrf", &csrf), ("email", email), ("password", &password)]);
        assert_eq!(limited.status, 429, "{}", limited.body);
        let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
        assert!((1..=86_400).contains(&retry_after), "{retry_after}");
        assert!(limited.body.contains("<h1>Too many attempts</h1>"), "{}", limited.body);
        assert!(limited.body.contains("minutes and try again"), "{}", limited.body);
        assert!(limited.set_cookie("maildesk-session").is_none());
        assert_eq!(browser.get("/").status, 200, "pages other than the forms still answer");
        assert!(browser.cookie("maildesk-session").is_none());
    }

    #[test]
    fn pages_carry_the_security_headers_and_the_stylesheet_is_cached() {
        let tmp = tempfile::tempdir().unwrap();
        let (_daemon, base) = serve_on_free_port(tmp.path(), &[]);
        let mut browser = Client::new(&base);

        let login = browser.get("/login");
        let forbidden = browser.post("/login", &[("email", "x@example.org"), ("password", "whatever it is")]);
        let missing = browser.get("/no-such-page");
        for (what, page) in [("/login", &login), ("a 403", &forbidden), ("a 404", &missing)] {
            let csp = page.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
            assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{what}: {csp}");
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
            assert_eq!(page.header("x-content-type-options"), Some("nosniff"), "{what}");
            assert_eq!(page.header("referrer-policy"), Some("no-referrer"), "{what}: links carry tokens");
        }
        assert_eq!((login.status, forbidden.status, missing.status), (200, 403, 404));
        assert_eq!(login.header("cache-control"), Some("no-store"), "a page with a CSRF token is never cached");
        assert!(login.body.contains("href=\"/static/portal.css\""));

        let css = browser.get("/static/portal.css");
        assert_eq!(css.status, 200);
        assert!(css.header("content-type").unwrap_or_default().starts_with("text/css"), "{:?}", css.headers);
        let cache = css.header("cache-control").expect("cache-control");
        let max_age: u64 = cache
            .split(',')
            .find_map(|d| d.trim().strip_prefix("max-age="))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no max-age: {cache}"));
        assert!(max_age >= 3600, "{cache}");
        assert!(css.body.len() > 100, "the embedded stylesheet");
    }

    #[test]
    fn a_generated_password_must_be_changed_before_anything_else() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (_daemon, base) = serve_on_free_port(dir, &[]);
        let email = "lena.vogel@example.com";
        let password = invite_with_password(dir, email);
        let again = run(maildesk(dir).args(["contact", "invite", email, "--password"]));
        assert!(!again.status.success(), "a second account for the same address");
        assert!(again.stdout.is_empty(), "no second password printed");

        let mut browser = Client::new(&base);
        let csrf = browser.get("/login").csrf();
        let login = browser.post("/login", &[("csrf", &csrf), ("email", email), ("password", &password)]);
        assert_redirect(&login, "/password/change");
        assert!(browser.cookie("maildesk-session").is_some(), "signed in, but only to change the password");

        // Nothing else can be reached first.
        assert_redirect(&browser.get("/"), "/password/change");
        assert_redirect(&browser.get("/?done=login"), "/password/change");
        assert_redirect(&browser.get("/profile"), "/password/change");
        let change = browser.get("/password/change");
        assert_eq!(change.status, 200);
        assert!(change.body.contains("Your password was made for you"), "{}", change.body);

        // Once changed, the home opens, and the generated password no longer works.
        let csrf = change.csrf();
        let changed =
            browser.post("/password/change", &[("csrf", &csrf), ("current", &password), ("new", GOOD_PASSWORD)]);
        assert_redirect(&changed, "/password/change?done=password");
        let home = browser.get("/");
        assert_eq!(home.status, 200, "{}", home.body);
        assert!(home.body.contains("<h1>Hello</h1>") && home.body.contains("action=\"/logout\""), "{}", home.body);
        let mut other = Client::new(&base);
        let csrf = other.get("/login").csrf();
        let old = other.post("/login", &[("csrf", &csrf), ("email", email), ("password", &password)]);
        assert_eq!(old.status, 200);
        assert!(old.body.contains("Wrong address or password"), "{}", old.body);
        let new = other.post("/login", &[("csrf", &csrf), ("email", email), ("password", GOOD_PASSWORD)]);
        assert_redirect(&new, "/?done=login");
    }

    /// An open request page follows the request live (server-sent events), hears of a mail
    /// the daemon took in, and does not hold up the daemon when it stops.
    #[test]
    fn an_open_live_page_hears_of_a_mail_and_does_not_hold_up_stopping() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (mut daemon, base) = serve_on_free_port(dir, &[]);
        let email = "omar.haddad@example.com";
        let first = format!(
            "From: {email}\nTo: support@localhost\nSubject: Scanner\nMessage-ID: <s1@example.com>\n\nIt jams.\n"
        );
        deliver(dir, "1700000001.1.e2e-portal", first.as_bytes());
        wait_for("the ticket", Duration::from_secs(20), || {
            let list = json_of(run(maildesk(dir).args(["ticket", "list", "--json"])));
            (list.as_array().map(Vec::len) == Some(1)).then_some(())
        });
        let password = invite_with_password(dir, email);
        let mut browser = Client::new(&base);
        let csrf = browser.get("/login").csrf();
        browser.post("/login", &[("csrf", &csrf), ("email", email), ("password", &password)]);
        let csrf = browser.get("/password/change").csrf();
        browser.post("/password/change", &[("csrf", &csrf), ("current", &password), ("new", GOOD_PASSWORD)]);
        let page = browser.get("/requests/1");
        assert_eq!(page.status, 200, "{}", page.body);

        let mut live = browser.events("/requests/1/events?after=0");
        live.read_until("It jams.");
        let reply = format!(
            "From: {email}\nTo: support@localhost\nSubject: Re: [Support #1] Scanner\nMessage-ID: <s2@example.com>\n\
             In-Reply-To: <s1@example.com>\n\nStill jams, LIVE-E2E.\n"
        );
        deliver(dir, "1700000002.1.e2e-portal", reply.as_bytes());
        live.read_until("LIVE-E2E");
        let started = std::time::Instant::now();
        assert!(daemon.terminate().success(), "{}", daemon.log());
        assert!(started.elapsed() < Duration::from_secs(10), "stopping took {:?}", started.elapsed());
        let log = daemon.log();
        assert!(!log.contains("did not finish in time"), "{log}");
        drop(live);
    }
}
