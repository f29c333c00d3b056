//! The portal in process, as a test's browser sees it: the router as `serve` runs it,
//! asked one request at a time with the browser's cookies and client address, plus the
//! sign-up steps and mail look-ups the portal tests share.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::TestApp;

/// What a browser keeps between requests: its cookies, and the client address it comes
/// from.
pub struct Browser {
    pub cookies: HashMap<String, String>,
    pub client: SocketAddr,
}

/// One answer: status, headers and body.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body's bytes.
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..at + 64].to_string()
    }

    /// The value of the hidden field `name` of the page's forms (the last one so named).
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.body.rfind(&needle).unwrap_or_else(|| panic!("no hidden {name} on the page:\n{}", self.body));
        let rest = &self.body[at + needle.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// A file to send in a multipart form: field name, file name, type, bytes.
pub type FilePart<'a> = (&'a str, &'a str, &'a str, &'a [u8]);

impl Browser {
    pub fn new(client: &str) -> Browser {
        Browser { cookies: HashMap::new(), client: client.parse().unwrap() }
    }

    pub async fn send(&mut self, t: &TestApp, method: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        self.exchange(t, method, path, "application/x-www-form-urlencoded", body.into_bytes()).await
    }

    /// `POST path` as `multipart/form-data`, as a browser sends a form with file inputs.
    pub async fn post_multipart(
        &mut self,
        t: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
        files: &[FilePart<'_>],
    ) -> Answer {
        let boundary = "----maildesk-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        for (name, filename, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                     Content-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        self.exchange(t, "POST", path, &content_type, body).await
    }

    async fn exchange(&mut self, t: &TestApp, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", cookie.join("; "))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(self.client));
        let response = maildesk::portal::router(t.app.clone()).oneshot(request).await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, _) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap().to_vec();
        Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned(), bytes }
    }

    /// `GET path`, answered as a stream (server-sent events): its status and its body, to
    /// be read piece by piece.
    pub async fn stream(&mut self, t: &TestApp, path: &str) -> (StatusCode, axum::body::Body) {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut request =
            Request::builder().method("GET").uri(path).header("cookie", cookie.join("; ")).body(Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(self.client));
        let response = maildesk::portal::router(t.app.clone()).oneshot(request).await.unwrap();
        (response.status(), response.into_body())
    }

    pub async fn get(&mut self, t: &TestApp, path: &str) -> Answer {
        self.send(t, "GET", path, &[]).await
    }

    pub async fn post(&mut self, t: &TestApp, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(t, "POST", path, form).await
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The token of the invitation mail sent to `to`.
pub async fn invitation_token(t: &TestApp, to: &str) -> String {
    let sent = t.flush_outbox().await;
    let text = sent
        .iter()
        .filter(|m| m.recipient == to)
        .map(|m| mail_parser::MessageParser::default().parse(&m.bytes).unwrap().body_text(0).unwrap().into_owned())
        .find(|text| text.contains("signup?token="))
        .expect("an invitation");
    text.split("signup?token=").nth(1).unwrap().chars().take_while(char::is_ascii_hexdigit).collect()
}

/// The password the tests sign up with.
pub const PASSWORD: &str = "correct horse battery";

/// The texts of the mails sent to `to` (the outbox flushed) that contain `marker`.
pub async fn mails_to(t: &TestApp, to: &str, marker: &str) -> Vec<String> {
    t.flush_outbox()
        .await
        .iter()
        .filter(|m| m.recipient == to)
        .map(|m| mail_parser::MessageParser::default().parse(&m.bytes).unwrap().body_text(0).unwrap().into_owned())
        .filter(|text| text.contains(marker))
        .collect()
}

/// Signs up `address` (who wrote to us before) through their invitation, in a new browser.
pub async fn sign_up_as(t: &TestApp, address: &str, client: &str) -> Browser {
    let token = invitation_token(t, address).await;
    let mut browser = Browser::new(client);
    let csrf = browser.get(t, &format!("/signup?token={token}")).await.csrf();
    let done = browser.post(t, "/signup", &[("csrf", &csrf), ("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    browser
}

/// The portal of a desk whose organisation Acme has the domain acme.example.
pub async fn acme(db: super::Db) -> TestApp {
    TestApp::with(db, |c| {
        c.portal.invite = true;
        c.portal.argon2_memory_kib = 1024;
        c.organisations =
            vec![maildesk::config::OrganisationConfig { name: "Acme".into(), domains: vec!["acme.example".into()] }];
    })
    .await
}
