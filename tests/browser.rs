//! Real-browser checks: headless Chromium (through the chromedriver `scripts/test` starts)
//! on the portal served by the real binary, at phone and desktop size, with a screenshot of
//! each page in `<target dir>/screenshots/` and nothing in the browser console; and proof
//! that the console check sees a refused inline script.

mod common;

// Every test sits in this module, so that `scripts/test browser` selects exactly these tests.
mod browser {
    use super::common;

    use std::time::Duration;

    use common::browser::{Browser, DESKTOP, SIZES, Viewport, serve_portal};

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
            assert_eq!(b.title().await, "Acme Help Desk");
            assert_eq!(b.text("h1").await, "Acme Help Desk");
            assert_eq!(b.text("a[href^='mailto:']").await, "help@acme.example");
            let Viewport { width, height, .. } = size;
            assert_eq!(inner_size(&b).await, (u64::from(width), u64::from(height)), "the page sees {size:?}");
            let shot = b.screenshot("portal-home").await;
            assert_eq!(png_size(&shot), (width, height), "{}", shot.display());
            // Today's placeholder serves no /favicon.ico, so Chromium's request for it ends
            // in a 404, which its console shows as an error. The portal of issue 15 must serve
            // an icon; then this exception goes and `assert_no_console_errors` is enough.
            let errors: Vec<_> =
                b.console_errors().await.into_iter().filter(|e| !e.message.contains("/favicon.ico - ")).collect();
            assert_eq!(errors, vec![], "the browser console shows errors");
            b.close().await;
        }

        let b = Browser::open(DESKTOP).await;
        b.goto(&format!("{portal}/healthz")).await;
        assert_eq!(b.text("body").await, "ok");
        b.close().await;
    }

    /// Serves `/inline`, whose inline script its own CSP (`script-src 'self'`) refuses, and
    /// `/clean`, the same page without the script, on a free loopback port.
    async fn csp_pages() -> String {
        use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
        use axum::routing::get;
        let page = |body: &'static str| {
            let html = format!(
                "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
                 <title>CSP test</title></head><body><h1>CSP test</h1>{body}</body></html>"
            );
            move || async move {
                ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CONTENT_SECURITY_POLICY, "script-src 'self'")], html)
            }
        };
        let app = axum::Router::new()
            .route("/inline", get(page("<script>document.title = 'the script ran';</script>")))
            .route("/clean", get(page("<p>Nothing to refuse.</p>")));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn console_errors_report_an_inline_script_the_csp_refuses() {
        common::browser::webdriver_url();
        let site = csp_pages().await;
        let b = Browser::open(DESKTOP).await;

        b.goto(&format!("{site}/clean")).await;
        assert_eq!(b.console_errors().await, vec![], "a page within its CSP logs no error");

        b.goto(&format!("{site}/inline")).await;
        assert_eq!(b.title().await, "CSP test", "the inline script must not have run");
        // The console reaches chromedriver asynchronously: give it a moment.
        let mut errors = b.console_errors().await;
        for _ in 0..50 {
            if !errors.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            errors = b.console_errors().await;
        }
        assert!(!errors.is_empty(), "the refused inline script shows as a console error");
        assert!(errors.iter().all(|e| e.is_csp_violation()), "{errors:#?}");
        assert!(errors[0].message.contains("script-src 'self'"), "{errors:#?}");
        b.close().await;
    }
}
