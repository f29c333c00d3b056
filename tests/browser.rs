//! Real-browser checks: headless Chromium (through the chromedriver `scripts/test` starts)
//! on the portal served by the real binary, at phone and desktop size, with a screenshot of
//! each page in `<target dir>/screenshots/` and nothing in the browser console; and proof
//! that the console check sees a refused inline script.

mod common;

// Every test sits in this module, so that `scripts/test browser` selects exactly these tests.
mod browser {
    use super::common;

    use std::time::Duration;

    use common::browser::{Browser, DESKTOP, PHONE, SIZES, Viewport, serve_portal};

    /// The width and height of a PNG, from its header.
    fn png_size(path: &std::path::Path) -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        (be(16), be(20))
    }

    /// The page's layout viewport, as the page's scripts see it.
    async fn inner_size(b: &Browser) -> (u64, u64) {
        let size = b.client().execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
        (size[0].as_u64().unwrap(), size[1].as_u64().unwrap())
    }

    #[tokio::test]
    async fn portal_home_page_renders_on_phone_and_desktop_without_console_errors() {
        common::browser::webdriver_url();
        let dir = tempfile::tempdir().unwrap();
        let env = [("MAILDESK_DESK__NAME", "Acme Help Desk"), ("MAILDESK_DESK__ADDRESS", "help@acme.example")];
        let (_daemon, portal) = serve_portal(dir.path(), &env);

        for size in SIZES {
            let b = Browser::open(size).await;
            b.goto(&format!("{portal}/")).await;
            assert!(b.title().await.ends_with("Acme Help Desk"), "{}", b.title().await);
            assert_eq!(b.text("h1").await, "Acme Help Desk");
            assert_eq!(b.text("a[href^='mailto:']").await, "help@acme.example");
            let Viewport { width, height, .. } = size;
            assert_eq!(inner_size(&b).await, (u64::from(width), u64::from(height)), "the page sees {size:?}");
            let shot = b.screenshot("portal-home").await;
            assert_eq!(png_size(&shot), (width, height), "{}", shot.display());
            b.assert_no_console_errors().await;
            b.close().await;
        }

        let b = Browser::open(DESKTOP).await;
        b.goto(&format!("{portal}/healthz")).await;
        assert_eq!(b.text("body").await, "ok");
        b.close().await;
    }

    /// A small site of its own on a free loopback port, every page under the CSP
    /// `script-src 'self'`: `/inline` has an inline script (refused), `/clean` has none,
    /// `/form` posts to `/sent`, which shows what it received.
    async fn test_site() -> String {
        use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
        use axum::routing::{get, post};
        use std::collections::BTreeMap;
        fn page(body: &str) -> impl axum::response::IntoResponse + use<> {
            let html = format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
                 <title>Test site</title></head><body>{body}</body></html>"
            );
            ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, "script-src 'self'")], html)
        }
        const FORM: &str = r#"<form method="post" action="/sent">
            <label for="e">Email</label> <input id="e" name="email" type="email">
            <label>Your question <textarea name="body"></textarea></label>
            <input name="reference" value="old">
            <label for="p">Priority</label> <select id="p" name="priority">
              <option value="low">Low</option><option value="high">High</option></select>
            <a href="/clean">Cancel</a> <button type="submit">Send</button>
            </form>"#;
        let app = axum::Router::new()
            .route("/inline", get(|| async { page("<script>document.title = 'the script ran';</script>") }))
            .route("/clean", get(|| async { page("<h1>Nothing to refuse</h1>") }))
            .route("/form", get(|| async { page(FORM) }))
            .route(
                "/sent",
                post(|axum::Form(got): axum::Form<BTreeMap<String, String>>| async move {
                    let got: Vec<String> = got.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    page(&format!("<h1>Sent</h1><p id=\"got\">{}</p>", got.join(";")))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn console_errors_report_an_inline_script_the_csp_refuses() {
        common::browser::webdriver_url();
        let site = test_site().await;
        let b = Browser::open(DESKTOP).await;

        b.goto(&format!("{site}/clean")).await;
        assert_eq!(b.console_errors().await, vec![], "a page within its CSP logs no error");

        b.goto(&format!("{site}/inline")).await;
        assert_eq!(b.title().await, "Test site", "the inline script must not have run");
        let errors = b.console_errors().await;
        assert!(!errors.is_empty(), "the refused inline script shows as a console error");
        assert!(errors.iter().all(|e| e.is_csp_violation()), "{errors:#?}");
        assert!(errors[0].message.contains("script-src 'self'"), "{errors:#?}");
        b.close().await;
    }

    #[tokio::test]
    async fn fill_finds_fields_by_label_or_name_and_click_submits_the_form() {
        common::browser::webdriver_url();
        let site = test_site().await;
        let b = Browser::open(PHONE).await;
        b.goto(&format!("{site}/form")).await;
        b.fill("Email", "dana@acme.example").await;
        b.fill("Your question", "The printer jams.").await;
        b.fill("reference", "new").await;
        b.fill("Priority", "High").await;
        b.click("Send").await;
        assert_eq!(b.text("h1").await, "Sent");
        assert_eq!(b.url().await, format!("{site}/sent"));
        assert_eq!(b.text("#got").await, "body=The printer jams.;email=dana@acme.example;priority=high;reference=new");
        b.goto(&format!("{site}/form")).await;
        b.click("Cancel").await;
        assert_eq!(b.text("h1").await, "Nothing to refuse");
        b.assert_no_console_errors().await;
        b.close().await;
    }

    #[tokio::test]
    async fn a_test_that_panics_still_ends_its_browser() {
        common::browser::webdriver_url();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let failed = tokio::spawn(async move {
            let b = Browser::open(DESKTOP).await;
            tx.send(b.profile().to_path_buf()).unwrap();
            panic!("a test failing with its browser open");
        })
        .await;
        assert!(failed.is_err_and(|e| e.is_panic()));
        let profile = rx.await.unwrap();
        let running = || {
            std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()).any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*profile.to_string_lossy()))
            })
        };
        for _ in 0..50 {
            if !running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!running(), "a browser with the profile {} is still running", profile.display());
        assert!(!profile.exists(), "the profile is removed");
    }

    /// The Acme help desk (help@acme.example) served by the real binary in a new directory,
    /// inviting first-time senders: the directory, the daemon and the portal's base URL.
    fn acme_desk() -> (tempfile::TempDir, common::cli::Daemon, String) {
        common::browser::webdriver_url();
        let dir = tempfile::tempdir().unwrap();
        let env = [
            ("MAILDESK_DESK__NAME", "Acme Help Desk"),
            ("MAILDESK_DESK__ADDRESS", "help@acme.example"),
            ("MAILDESK_PORTAL__INVITE", "true"),
        ];
        let (daemon, portal) = serve_portal(dir.path(), &env);
        (dir, daemon, portal)
    }

    /// Delivers a first mail from `who` into the daemon's Maildir (as file `name`) and
    /// waits for the invitation its acknowledgement carries: its token.
    fn first_mail(dir: &std::path::Path, name: &str, from: &str, who: &str, subject: &str, body: &str) -> String {
        let raw = format!(
            "From: {from} <{who}>\nTo: help@acme.example\nSubject: {subject}\nMessage-ID: <{name}@example.org>\n\n{body}\n"
        );
        common::cli::deliver(dir, name, raw.as_bytes());
        common::cli::wait_for("the invitation", Duration::from_secs(20), || invitation_token(dir, who))
    }

    /// The name of screenshot `name` at `size`.
    fn shot(name: &str, size: Viewport) -> String {
        format!("{name}-{}", if size == PHONE { "phone" } else { "desktop" })
    }

    /// The sign-up link of the invitation the daemon wrote to its outbox for `to`: the
    /// token only (the portal listens on a port of its own, not on `portal.base_url`).
    fn invitation_token(dir: &std::path::Path, to: &str) -> Option<String> {
        link_token(dir, to, "signup?token=")
    }

    /// The token after `marker` in a mail the daemon wrote to its outbox for `to`.
    fn link_token(dir: &std::path::Path, to: &str, marker: &str) -> Option<String> {
        let outbox = dir.join("var/outbox");
        for file in common::files_with_suffix(&outbox, ".eml") {
            let Ok(bytes) = std::fs::read(&file) else { continue };
            let Some(parsed) = mail_parser::MessageParser::default().parse(&bytes) else { continue };
            let Some(text) = parsed.body_text(0) else { continue };
            let addressed = String::from_utf8_lossy(&bytes).contains(&format!("To: {to}"));
            if addressed && let Some((_, after)) = text.split_once(marker) {
                return Some(after.chars().take_while(char::is_ascii_hexdigit).collect());
            }
        }
        None
    }

    #[tokio::test]
    async fn an_invited_customer_signs_up_logs_out_logs_in_and_changes_the_password() {
        let (dir, _daemon, portal) = acme_desk();
        for (i, size) in SIZES.into_iter().enumerate() {
            let who = format!("customer{i}@example.org");
            let name = format!("170000000{i}.1.test");
            let token = first_mail(dir.path(), &name, "Dana Doe", &who, &format!("Printer {i}"), "It jams.");
            let b = Browser::open(size).await;
            let page = |name: &str| shot(name, size);

            // Sign up from the link in the acknowledgement.
            b.goto(&format!("{portal}/signup?token={token}")).await;
            assert_eq!(b.text("h1").await, "Sign up");
            assert!(b.text("main").await.contains(&who), "the invited address is shown");
            b.screenshot(&page("signup")).await;
            b.fill("Password", "short").await;
            b.client()
                .execute("document.querySelector('#password').removeAttribute('minlength')", vec![])
                .await
                .unwrap();
            b.click("Sign up").await;
            assert!(b.text(".error").await.contains("at least 10 characters"), "the refusal next to its field");
            b.screenshot(&page("signup-error")).await;
            b.fill("Your name", "Dana Doe").await;
            b.fill("Password", "dana's long passphrase").await;
            b.click("Sign up").await;
            assert_eq!(b.text("h1").await, "Hello, Dana Doe");
            b.screenshot(&page("home")).await;
            b.assert_no_console_errors().await;

            // Her request, listed and opened.
            b.click("All your requests").await;
            assert_eq!(b.text("h1").await, "Your requests");
            b.screenshot(&page("requests")).await;
            b.click(&format!("#{} Printer {i}", i + 1)).await;
            assert!(b.text("h1").await.ends_with(&format!("Printer {i}")));
            assert!(b.text(".conversation").await.contains("It jams."));
            b.screenshot(&page("request")).await;

            // Log out, then in again.
            b.click("Log out").await;
            assert_eq!(b.text("h1").await, "Log in");
            b.fill("Email address", &who).await;
            b.fill("Password", "not the password").await;
            b.click("Log in").await;
            assert_eq!(b.text(".error").await, "Wrong address or password.");
            b.screenshot(&page("login-error")).await;
            b.fill("Email address", &who).await;
            b.fill("Password", "dana's long passphrase").await;
            b.click("Log in").await;
            assert_eq!(b.text("h1").await, "Hello, Dana Doe");

            // Change the password; then the profile.
            b.goto(&format!("{portal}/password/change")).await;
            b.screenshot(&page("password-change")).await;
            b.fill("Current password", "dana's long passphrase").await;
            b.fill("New password", "an even longer passphrase").await;
            b.click("Change password").await;
            assert!(b.text(".note").await.contains("Your password is changed"));
            b.goto(&format!("{portal}/profile")).await;
            assert_eq!(b.text("h1").await, "Your profile");
            b.screenshot(&page("profile")).await;
            b.click("Log out").await;
            b.screenshot(&page("login")).await;
            b.assert_no_console_errors().await;
            b.close().await;
        }
    }

    #[tokio::test]
    async fn a_visitor_signs_up_with_the_captcha_resets_the_password_and_manages_the_organisation() {
        common::browser::webdriver_url();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("maildesk.toml");
        std::fs::write(&config, "[[organisations]]\nname = \"Acme\"\ndomains = [\"acme.example\"]\n").unwrap();
        let config = config.to_string_lossy().into_owned();
        let env = [
            ("MAILDESK_CONFIG", config.as_str()),
            ("MAILDESK_DESK__NAME", "Acme Help Desk"),
            ("MAILDESK_DESK__ADDRESS", "help@helpdesk.example"),
        ];
        let (_daemon, portal) = serve_portal(dir.path(), &env);
        for (i, size) in SIZES.into_iter().enumerate() {
            let who = format!("pat{i}@acme.example");
            let b = Browser::open(size).await;
            let page = |name: &str| format!("{name}-{}", if size == PHONE { "phone" } else { "desktop" });

            // Direct sign-up: the page's script solves the captcha (default work) while
            // the visitor types; the question for browsers without JavaScript stays hidden.
            b.goto(&format!("{portal}/")).await;
            b.screenshot(&page("landing")).await;
            b.click("Sign up").await;
            assert_eq!(b.text("h1").await, "Sign up");
            b.fill("Your name", "Pat Lee").await;
            b.fill("Email address", &who).await;
            let solved = "return document.querySelector('[name=captcha_nonce]').value";
            let started = std::time::Instant::now();
            loop {
                let nonce = b.client().execute(solved, vec![]).await.unwrap();
                if nonce.as_str().is_some_and(|n| !n.is_empty()) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(60), "the captcha is solved in the page");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let hidden = "return document.querySelector('[data-captcha-fallback]').hidden";
            assert_eq!(b.client().execute(hidden, vec![]).await.unwrap(), serde_json::Value::Bool(true));
            b.screenshot(&page("register")).await;
            b.click("Sign up").await;
            assert_eq!(b.text("h1").await, "Check your mail");
            b.screenshot(&page("register-sent")).await;

            // The link of the verification mail: the address is proved, the password chosen.
            let token = common::cli::wait_for("the verification mail", Duration::from_secs(20), || {
                link_token(dir.path(), &who, "/verify?token=")
            });
            b.goto(&format!("{portal}/verify?token={token}")).await;
            assert!(b.text("main").await.contains(&who));
            b.screenshot(&page("verify")).await;
            b.fill("Password", "pat's long passphrase").await;
            b.click("Sign up").await;
            assert_eq!(b.text("h1").await, "Hello, Pat Lee");

            // Made a primary contact by staff, Pat invites a colleague.
            let mut role = common::cli::maildesk(dir.path());
            role.args(["contact", "role", &who, "primary"]).envs(env);
            assert!(common::cli::run(&mut role).status.success());
            b.goto(&format!("{portal}/")).await;
            b.click("Your organisation's contacts").await;
            assert_eq!(b.text("h1").await, "Acme");
            b.fill("Their email address", &format!("kim{i}@acme.example")).await;
            b.click("Send the invitation").await;
            assert_eq!(b.text(".note").await, "Invitation sent.");
            assert!(b.text(".members").await.contains(&format!("kim{i}@acme.example")));
            b.screenshot(&page("organisation")).await;

            // Forgotten password: the mailed link sets a new one.
            b.click("Log out").await;
            b.click("Forgot your password?").await;
            b.screenshot(&page("forgot")).await;
            b.fill("Email address", &who).await;
            b.click("Send me a link").await;
            assert_eq!(b.text("h1").await, "Check your mail");
            let token = common::cli::wait_for("the reset mail", Duration::from_secs(20), || {
                link_token(dir.path(), &who, "/password/reset?token=")
            });
            b.goto(&format!("{portal}/password/reset?token={token}")).await;
            b.screenshot(&page("reset")).await;
            b.fill("New password", "pat's newer passphrase").await;
            b.click("Set password").await;
            assert_eq!(b.text("h1").await, "Hello, Pat Lee");
            assert!(b.text(".note").await.contains("Your new password is set"));
            b.assert_no_console_errors().await;
            b.close().await;
        }
    }

    /// A customer files a request with a file, finds it listed, answers with another file,
    /// sees a staff member's answer (given through the CLI) arrive without a reload, and
    /// marks the request as solved through its confirmation page.
    #[tokio::test]
    async fn a_customer_files_a_request_answers_watches_a_staff_reply_arrive_and_closes_it() {
        let (dir, _daemon, portal) = acme_desk();
        let staff = common::cli::run(common::cli::maildesk(dir.path()).args([
            "staff",
            "add",
            "sam@acme.example",
            "--name",
            "Sam",
        ]));
        assert!(staff.status.success(), "{}", String::from_utf8_lossy(&staff.stderr));
        let photo = dir.path().join("photo.png");
        std::fs::write(&photo, include_bytes!("files/photo.png")).unwrap();
        let log = dir.path().join("error log.txt");
        std::fs::write(&log, "12:00 the printer caught fire\n").unwrap();
        for (i, size) in SIZES.into_iter().enumerate() {
            let who = format!("filer{i}@example.org");
            let token = first_mail(
                dir.path(),
                &format!("171000000{i}.1.test"),
                "Robin Roe",
                &who,
                &format!("Hello {i}"),
                "Hi.",
            );
            let b = Browser::open(size).await;
            let page = |name: &str| shot(name, size);
            b.goto(&format!("{portal}/signup?token={token}")).await;
            b.fill("Your name", "Robin Roe").await;
            b.fill("Password", "robin's long passphrase").await;
            b.click("Sign up").await;

            // A new request with a file.
            b.click("New request").await;
            assert_eq!(b.text("h1").await, "New request");
            let subject = format!("Printer {i} is on fire");
            b.fill("Subject", &subject).await;
            b.fill("What happened?", "Smoke since this morning.").await;
            b.find("input[name=priority][value=high]").await.click().await.unwrap();
            b.find("#files").await.send_keys(&log.display().to_string()).await.unwrap();
            b.screenshot(&page("request-new")).await;
            b.click("Send request").await;
            assert!(b.text("h1").await.ends_with(&subject), "{}", b.text("h1").await);
            assert!(b.text(".note").await.contains("Your request was sent."));
            assert!(b.text(".conversation").await.contains("error log.txt"));
            assert!(b.text(".facts").await.contains("High"));
            b.screenshot(&page("request-opened")).await;
            let url = b.url().await;
            let number: i64 = url.rsplit('/').next().unwrap().split('?').next().unwrap().parse().unwrap();

            // Listed.
            b.goto(&format!("{portal}/requests")).await;
            assert!(b.text(".requests").await.contains(&subject));
            b.screenshot(&page("requests-listed")).await;

            // An answer with a picture, previewed.
            b.goto(&format!("{portal}/requests/{number}")).await;
            b.fill("Message", "Here is a photo.").await;
            b.find("#files").await.send_keys(&photo.display().to_string()).await.unwrap();
            b.click("Send answer").await;
            assert!(b.text(".note").await.contains("Your answer was added."));
            assert!(b.text(".conversation").await.contains("photo.png"));
            b.find(".conversation img.preview").await;
            b.screenshot(&page("request-answered")).await;

            // A staff member answers through the CLI: the open page shows it without a reload.
            let out = common::cli::run(common::cli::maildesk(dir.path()).args([
                "ticket",
                "reply",
                &number.to_string(),
                "--from",
                "sam@acme.example",
                "--body",
                "We are sending a technician.",
            ]));
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let mut shown = String::new();
            for _ in 0..100 {
                shown = b.text(".conversation").await;
                if shown.contains("We are sending a technician.") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(shown.contains("We are sending a technician."), "not shown within 10 s: {shown}");
            assert!(shown.contains("Sam") && !shown.contains("sam@acme.example"), "by name, never by address");
            assert_eq!(b.text("#comment-count").await, "3");
            b.screenshot(&page("request-live")).await;

            // Solved, through the confirmation.
            b.click("This solved my problem").await;
            assert_eq!(b.text("h1").await, "Did this solve your problem?");
            b.screenshot(&page("request-confirm")).await;
            b.click("Yes, mark it as solved").await;
            assert!(b.text(".note").await.contains("Marked as solved."));
            assert!(b.text(".facts").await.contains("Resolved"));
            b.screenshot(&page("request-solved")).await;
            b.assert_no_console_errors().await;
            b.close().await;
        }
    }

    /// Waits (10 s at most) until `selector` matches an element of the page: what a script
    /// of the page (or the daemon's index) brings in its own time.
    async fn wait_for_element(b: &Browser, selector: &str) {
        let script = format!("return document.querySelector({selector:?}) !== null");
        for _ in 0..100 {
            if b.client().execute(&script, vec![]).await.unwrap() == serde_json::Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {selector} on {} within 10 s", b.url().await);
    }

    /// The knowledge base (the relevance set, imported by the CLI into a running daemon):
    /// its home, a search and a solution with its picture; then a signed-in customer types a
    /// subject on the new-request form, sees suggestions, opens one, and goes back to the
    /// form with the subject still typed.
    #[tokio::test]
    async fn a_customer_typing_a_subject_sees_suggestions_opens_one_and_comes_back_to_the_form() {
        let (dir, _daemon, portal) = acme_desk();
        let solutions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kb/solutions");
        let import = common::cli::run(common::cli::maildesk(dir.path()).args([
            "kb",
            "import",
            &solutions.display().to_string(),
        ]));
        assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
        for (i, size) in SIZES.into_iter().enumerate() {
            let who = format!("reader{i}@example.org");
            let token = first_mail(dir.path(), &format!("172000000{i}.1.test"), "Kit Kay", &who, "Sync", "It stopped.");
            let b = Browser::open(size).await;
            let page = |name: &str| shot(name, size);

            // The knowledge base, as anyone sees it.
            b.goto(&format!("{portal}/")).await;
            b.click("Solutions").await;
            assert_eq!(b.text("h1").await, "Solutions");
            assert!(b.text(".categories").await.contains("Accounts"));
            b.screenshot(&page("kb-home")).await;
            b.fill("Search our solutions", "two-step verification").await;
            b.click("Search").await;
            wait_for_element(&b, ".results mark").await;
            assert!(b.text(".results").await.contains("Turn on two-step verification"));
            b.screenshot(&page("kb-search")).await;
            b.click("Turn on two-step verification").await;
            assert_eq!(b.text("h1").await, "Turn on two-step verification");
            let loaded = "return [...document.images].every(i => i.complete && i.naturalWidth > 0)";
            assert_eq!(b.client().execute(loaded, vec![]).await.unwrap(), serde_json::Value::Bool(true));
            b.screenshot(&page("kb-solution")).await;
            b.click("Yes").await;
            assert!(b.text("#feedback .note").await.contains("Thank you"));
            b.screenshot(&page("kb-feedback")).await;

            // Signed in, a new request: suggestions while typing.
            b.goto(&format!("{portal}/signup?token={token}")).await;
            b.fill("Your name", "Kit Kay").await;
            b.fill("Password", "kit's long passphrase").await;
            b.click("Sign up").await;
            b.click("New request").await;
            let subject = "turn on two-step verification";
            b.fill("Subject", subject).await;
            wait_for_element(&b, "#suggestions a").await;
            assert!(b.text("#suggestions").await.contains("Turn on two-step verification"));
            b.screenshot(&page("request-new-suggestions")).await;
            b.find("#suggestions a").await.click().await.unwrap();
            wait_for_element(&b, "article.solution").await;
            assert_eq!(b.text("h1").await, "Turn on two-step verification");
            assert!(b.url().await.ends_with("/kb/accounts/enable-2fa?from=suggestion"));

            // Back: the form, with what was typed, and its suggestions again.
            b.client().back().await.unwrap();
            wait_for_element(&b, "#subject").await;
            assert_eq!(b.text("h1").await, "New request");
            let typed = b.client().execute("return document.getElementById('subject').value", vec![]).await.unwrap();
            assert_eq!(typed, serde_json::Value::String(subject.into()), "the subject is still typed");
            wait_for_element(&b, "#suggestions a").await;
            // Enter in the subject sends the request, not the search: the browser asks for
            // what happened, and the page stays.
            b.find("#subject").await.send_keys("\u{E007}").await.unwrap();
            let focused = b.client().execute("return document.activeElement.id", vec![]).await.unwrap();
            assert_eq!(focused, serde_json::Value::String("description".into()), "Enter asks for the description");
            assert!(b.url().await.ends_with("/requests/new"), "{}", b.url().await);
            b.assert_no_console_errors().await;
            b.close().await;
        }
    }
}
