//! Real-browser tests: headless Chromium driven over WebDriver through the chromedriver that
//! `scripts/test` starts (`MAILDESK_TEST_WEBDRIVER`), and the portal served by the real
//! binary on a free loopback port.
//!
//! ```ignore
//! let (_daemon, portal) = browser::serve_portal(dir, &[]);
//! for size in browser::SIZES {
//!     let b = Browser::open(size).await;
//!     b.goto(&format!("{portal}/signin")).await;
//!     b.fill("Email", "dana@acme.example").await;
//!     b.click("Send me a link").await;
//!     assert_eq!(b.text("h1").await, "Check your mail");
//!     b.screenshot("signin-sent").await;
//!     b.assert_no_console_errors().await;
//!     b.close().await;
//! }
//! ```
//!
//! A session is closed by [`Browser::close`]; when a test panics before that, `Drop` ends it
//! with a plain blocking request to chromedriver, so no browser outlives its test. This
//! module never starts chromedriver or a browser by itself: without `scripts/test` the
//! tests fail and say so.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::Duration;

use fantoccini::wd::{Capabilities, Locator, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use super::cli::{Daemon, wait_for};

/// A window size the portal is checked at; part of every screenshot's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    /// Chromium's mobile emulation: the page's `<meta name="viewport">` is honoured (a page
    /// without one is laid out 980 px wide and shrunk, as on a real phone) and touch is on.
    pub mobile: bool,
}

/// A phone (an iPhone 12–15 in CSS pixels), at a device pixel ratio of 1 so that a
/// screenshot is 390×844 pixels.
pub const PHONE: Viewport = Viewport { width: 390, height: 844, mobile: true };
/// A laptop screen.
pub const DESKTOP: Viewport = Viewport { width: 1280, height: 800, mobile: false };
/// Every size a page is checked at.
pub const SIZES: [Viewport; 2] = [PHONE, DESKTOP];

/// The chromedriver `scripts/test` started; the test fails when there is none.
pub fn webdriver_url() -> String {
    std::env::var("MAILDESK_TEST_WEBDRIVER").expect(
        "MAILDESK_TEST_WEBDRIVER is not set: run the tests through scripts/test, which starts chromedriver \
         (Debian's chromium-driver) for the browser tests",
    )
}

/// Starts the real binary in `dir` with the portal on a free port of 127.0.0.1 and returns
/// it with the portal's base URL (`http://127.0.0.1:PORT`, no trailing slash). `env` is
/// added to (and may override) the portal settings.
pub fn serve_portal(dir: &Path, env: &[(&str, &str)]) -> (Daemon, String) {
    let mut all = vec![
        ("MAILDESK_PORTAL__ENABLED", "true"),
        ("MAILDESK_PORTAL__LISTEN", "127.0.0.1:0"),
        ("MAILDESK_PORTAL__INVITE", "false"),
    ];
    all.extend_from_slice(env);
    let daemon = Daemon::start(dir, &all);
    let addr = wait_for("the portal to listen", Duration::from_secs(20), || {
        let log = daemon.log();
        let line = log.lines().find(|l| l.contains("portal listening"))?;
        let addr = line.split_once("addr=")?.1.split_whitespace().next()?;
        Some(addr.to_string())
    });
    (daemon, format!("http://{addr}"))
}

/// One entry of the browser's console, as chromedriver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
    pub level: String,
    /// Where it came from: `javascript`, `network`, `security`, `console-api`, ...
    pub source: String,
    pub message: String,
}

impl ConsoleEntry {
    /// Whether this is an error: what a page must never produce.
    pub fn is_error(&self) -> bool {
        self.level == "SEVERE"
    }

    /// Whether this reports something the page's Content-Security-Policy refused.
    pub fn is_csp_violation(&self) -> bool {
        self.message.contains("Content Security Policy")
    }
}

/// A headless Chromium session at one [`Viewport`], with a fresh profile of its own.
pub struct Browser {
    client: Client,
    viewport: Viewport,
    webdriver: String,
    session: String,
    /// Everything the console said so far (chromedriver hands out each entry once).
    console: Mutex<Vec<ConsoleEntry>>,
    closed: bool,
    // Dropped after the session has ended (fields drop after `Drop::drop`).
    profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a headless Chromium at `viewport`.
    pub async fn open(viewport: Viewport) -> Browser {
        let webdriver = webdriver_url();
        // Under the run's temp dir, so that scripts/test stops a browser left behind.
        let profiles = std::env::var_os("MAILDESK_TEST_CHROMIUM_PROFILES").map(PathBuf::from);
        let profile = match &profiles {
            Some(dir) => tempfile::Builder::new().prefix("profile-").tempdir_in(dir),
            None => tempfile::Builder::new().prefix("maildesk-chromium-").tempdir(),
        }
        .expect("a temp dir for the browser profile");
        let caps = capabilities(viewport, profile.path());
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through {webdriver}: {e}"));
        let session = client.session_id().await.ok().flatten().expect("a WebDriver session id");
        let browser =
            Browser { client, viewport, webdriver, session, console: Mutex::new(Vec::new()), closed: false, profile };
        let timeouts = fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(30)),
            Some(Duration::ZERO),
        );
        browser.client.update_timeouts(timeouts).await.expect("set WebDriver timeouts");
        browser
    }

    /// The size this session was opened at.
    pub fn viewport(&self) -> Viewport {
        self.viewport
    }

    /// The session's own profile directory (removed when the session has ended).
    pub fn profile(&self) -> &Path {
        self.profile.path()
    }

    /// The fantoccini client, for what this module does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url` (absolute) and waits for its `load` event.
    pub async fn goto(&self, url: &str) {
        // Not `Client::goto`: it first asks for the current URL (to resolve a relative one),
        // which on a fresh session waits ~0.3 s for Chromium's new-tab page.
        self.client.issue_cmd(Navigate(url.to_string())).await.unwrap_or_else(|e| panic!("go to {url}: {e}"));
    }

    /// The URL shown now (after redirects).
    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("current URL").to_string()
    }

    /// The document's `<title>`.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("page title")
    }

    /// The rendered text of the first element matching the CSS `selector`.
    pub async fn text(&self, selector: &str) -> String {
        let element = self.find(selector).await;
        element.text().await.unwrap_or_else(|e| panic!("text of {selector:?}: {e}"))
    }

    /// The rendered text of every element matching `selector`, in document order.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(selector)).await.expect("find elements") {
            out.push(element.text().await.expect("element text"));
        }
        out
    }

    /// The first element matching `selector`; the test fails naming the page if none does.
    pub async fn find(&self, selector: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(selector)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {selector:?} on {}: {e}", self.url().await),
        }
    }

    /// Types `value` into the form field whose `<label>` reads `field` (whole text, spaces
    /// trimmed), or else whose `name` is `field`; what was there is cleared first. A
    /// `<select>` gets the option with that label (or value).
    pub async fn fill(&self, field: &str, value: &str) {
        let input = self.field(field).await;
        let tag = input.tag_name().await.expect("tag name").to_ascii_lowercase();
        let done = if tag == "select" {
            match input.select_by_label(value).await {
                Ok(()) => Ok(()),
                Err(_) => input.select_by_value(value).await,
            }
        } else {
            match input.clear().await {
                Ok(()) => input.send_keys(value).await,
                Err(e) => Err(e),
            }
        };
        done.unwrap_or_else(|e| panic!("fill {field:?}: {e}"));
    }

    /// The form control labelled `field`, or named `field`.
    async fn field(&self, field: &str) -> fantoccini::elements::Element {
        for label in self.client.find_all(Locator::Css("label")).await.expect("find labels") {
            if label.text().await.map(|t| t.trim() == field).unwrap_or(false) {
                if let Some(id) = label.attr("for").await.ok().flatten() {
                    return self.find(&format!("[id=\"{}\"]", css_string(&id))).await;
                }
                if let Ok(inner) = label.find(Locator::Css("input, textarea, select")).await {
                    return inner;
                }
                panic!("the label {field:?} has no `for` and holds no form field");
            }
        }
        match self.client.find(Locator::Css(&format!("[name=\"{}\"]", css_string(field)))).await {
            Ok(element) => element,
            Err(_) => panic!("no field labelled or named {field:?} on {}", self.url().await),
        }
    }

    /// Clicks the button, submit input or link whose visible text (or a button's value) is
    /// `text`, spaces trimmed, and waits until the page it leads to has loaded (a portal
    /// without scripts has no other kind of click; for one that stays on the page, click
    /// through [`Browser::client`]).
    pub async fn click(&self, text: &str) {
        let candidates = self
            .client
            .find_all(Locator::Css("button, input[type=submit], input[type=button], a"))
            .await
            .expect("find buttons and links");
        for element in candidates {
            let shown = match element.text().await {
                Ok(t) if !t.trim().is_empty() => t,
                _ => element.attr("value").await.ok().flatten().unwrap_or_default(),
            };
            if shown.trim() == text {
                // chromedriver's click returns before a form's POST has even started: mark
                // this document, and wait for one without the mark.
                self.client.execute("window.maildeskLeft = false", vec![]).await.expect("mark the page");
                element.click().await.unwrap_or_else(|e| panic!("click {text:?}: {e}"));
                self.wait_for_new_page(text).await;
                return;
            }
        }
        panic!("no button or link {text:?} on {}", self.url().await);
    }

    /// Waits (10 s at most) until a document other than the one marked before a click has
    /// loaded.
    async fn wait_for_new_page(&self, clicked: &str) {
        const NEW_AND_LOADED: &str =
            "return typeof window.maildeskLeft === 'undefined' && document.readyState === 'complete'";
        for _ in 0..200 {
            // While the next page loads, a script may fail to run: not there yet.
            if let Ok(Value::Bool(true)) = self.client.execute(NEW_AND_LOADED, vec![]).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {clicked:?} led to no new page within 10 s (still on {})", self.url().await);
    }

    /// Saves what the window shows as `<target dir>/screenshots/<name>-<width>x<height>.png`
    /// and returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "a screenshot name is letters, digits, - and _: {name:?}"
        );
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = screenshot_dir();
        let path = dir.join(format!("{name}-{}x{}.png", self.viewport.width, self.viewport.height));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Everything the browser's console has said since the session began: errors, warnings,
    /// `console.*` calls, failed loads and refused content.
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        let fresh = self.client.issue_cmd(BrowserLog).await.expect("read the browser console");
        let fresh = fresh.as_array().cloned().unwrap_or_default().into_iter().map(|entry| {
            let field = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            ConsoleEntry { level: field("level"), source: field("source"), message: field("message") }
        });
        let mut seen = self.console.lock().unwrap();
        seen.extend(fresh);
        seen.clone()
    }

    /// The console's errors (level SEVERE) since the session began. A CSP violation is one
    /// (see [`ConsoleEntry::is_csp_violation`]), and so is any resource that failed to load.
    pub async fn console_errors(&self) -> Vec<ConsoleEntry> {
        self.console().await.into_iter().filter(ConsoleEntry::is_error).collect()
    }

    /// Fails the test, listing them, if the console has shown any error.
    pub async fn assert_no_console_errors(&self) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "the browser console shows errors on {}:\n{errors:#?}", self.url().await);
    }

    /// Ends the session: the browser quits.
    pub async fn close(mut self) {
        self.closed = true;
        if let Err(e) = self.client.clone().close().await {
            eprintln!("closing the WebDriver session {} failed: {e}", self.session);
            delete_session(&self.webdriver, &self.session);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The test panicked (or forgot `close`): fantoccini would only end the session on a
        // runtime that may be gone by now, so ask chromedriver directly.
        if !self.closed {
            delete_session(&self.webdriver, &self.session);
        }
    }
}

/// What chromedriver is asked for: headless Chromium at `viewport`, a profile in
/// `profile`, the console kept at every level.
fn capabilities(viewport: Viewport, profile: &Path) -> Capabilities {
    let Viewport { width, height, mobile } = viewport;
    let mut args = vec![
        "--headless".to_string(),
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={width},{height}"),
        "--force-device-scale-factor=1".into(),
        "--hide-scrollbars".into(),
        "--no-first-run".into(),
        "--disable-dev-shm-usage".into(),
        "--lang=en-US".into(),
    ];
    // Chromium's sandbox cannot run as root.
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        args.push("--no-sandbox".into());
    }
    let mut chrome = json!({ "args": args });
    if let Ok(binary) = std::env::var("MAILDESK_TEST_CHROMIUM") {
        chrome["binary"] = json!(binary);
    }
    // The page gets exactly width × height (a headless window of that size keeps ~140 px
    // for a toolbar it does not draw); `mobile` as the page's viewport meta is concerned.
    chrome["mobileEmulation"] = json!({ "deviceMetrics": {
        "width": width, "height": height, "pixelRatio": 1.0, "touch": mobile, "mobile": mobile,
    } });
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": chrome,
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

/// chromedriver's console endpoint (not in the W3C protocol, so not in fantoccini):
/// `POST /session/{id}/se/log {"type": "browser"}` hands out the entries not yet read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The W3C Navigate To command, `POST /session/{id}/url`, for an absolute URL.
#[derive(Debug)]
struct Navigate(String);

impl WebDriverCompatibleCommand for Navigate {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/url", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "url": self.0 }).to_string()))
    }
}

/// `<target dir>/screenshots`, created; its path is printed once per test binary (past the
/// test harness' capture, so it shows in scripts/test's output).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(std::io::stderr(), "browser screenshots: {}", dir.display());
    });
    dir
}

/// `DELETE /session/{id}` over a plain blocking connection, waiting (10 s at most) for
/// chromedriver's answer, which comes once the browser has quit. Errors are ignored: this
/// is the last resort.
fn delete_session(webdriver: &str, session: &str) {
    let Some(authority) = webdriver.strip_prefix("http://").map(|r| r.trim_end_matches('/')) else { return };
    let Ok(mut stream) = TcpStream::connect(authority) else { return };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("DELETE /session/{session} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read(&mut [0u8; 512]);
    }
}

/// `s` escaped for a double-quoted CSS string.
fn css_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
