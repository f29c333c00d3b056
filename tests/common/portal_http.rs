//! A small HTTP/1.1 client for end-to-end tests of the portal served by the real binary:
//! one blocking request per connection (`Connection: close`), a cookie jar, no redirects
//! followed (tests assert the 303s themselves), and the few HTML look-ups the tests need.
//! Also starts `maildesk serve` with the portal on a free loopback port whose base URL is
//! that same port, so links in mail point at the daemon under test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::cli::{Daemon, wait_for};

/// How long one request may take before the test fails instead of hanging.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts `maildesk serve` in `dir` (otherwise on its embedded defaults, no config file)
/// with `portal.listen` and `portal.base_url` set through `MAILDESK_PORTAL__*` to a free
/// port of 127.0.0.1, plus `env`. Returns the daemon, once it listens, and the base URL
/// (`http://127.0.0.1:PORT`, no trailing slash).
///
/// The port is found by binding port 0 and letting it go, so another process may take it
/// before the daemon binds it; the daemon then exits saying it cannot listen, and another
/// port is tried.
pub fn serve_on_free_port(dir: &Path, env: &[(&str, &str)]) -> (Daemon, String) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let base = format!("http://{listen}");
        let mut all = vec![("MAILDESK_PORTAL__LISTEN", listen.as_str()), ("MAILDESK_PORTAL__BASE_URL", base.as_str())];
        all.extend_from_slice(env);
        let mut daemon = Daemon::start(dir, &all);
        let listening = wait_for("the portal to listen", Duration::from_secs(20), || {
            if daemon.log().contains("portal listening") {
                return Some(true);
            }
            daemon.try_wait().map(|_| false)
        });
        if listening {
            return (daemon, base);
        }
        let log = daemon.log();
        assert!(log.contains("cannot listen"), "maildesk serve exited at start:\n{log}");
    }
    panic!("no free port for the portal after 5 tries");
}

/// An open server-sent events stream: what has come so far, headers included.
pub struct Events {
    stream: TcpStream,
    /// Everything read so far.
    pub seen: String,
}

impl Events {
    /// Reads until `text` has come (15 s at most between reads); the test fails if the
    /// stream ends or falls silent first.
    pub fn read_until(&mut self, text: &str) {
        let mut buf = [0u8; 4096];
        while !self.seen.contains(text) {
            let n = self.stream.read(&mut buf).unwrap_or_else(|e| panic!("waiting for {text:?}: {e}: {}", self.seen));
            assert!(n > 0, "the stream ended before {text:?}: {}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(self.seen.starts_with("HTTP/1.1 200") && self.seen.contains("text/event-stream"), "{}", self.seen);
    }
}

/// An HTTP response, its body read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The `Location` of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The whole `Set-Cookie` header that sets cookie `name`, attributes included.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .find(|v| v.split_once('=').is_some_and(|(n, _)| n.trim() == name))
    }

    /// The value of the hidden form field `name`, if the page has one.
    pub fn hidden(&self, name: &str) -> Option<String> {
        input_tags(&self.body)
            .filter(|tag| attribute(tag, "type").as_deref() == Some("hidden"))
            .find(|tag| attribute(tag, "name").as_deref() == Some(name))
            .and_then(|tag| attribute(tag, "value"))
    }

    /// The page's CSRF token (the hidden `csrf` field); the test fails without one.
    pub fn csrf(&self) -> String {
        self.hidden("csrf").unwrap_or_else(|| panic!("no csrf field on the page:\n{}", self.body))
    }
}

/// The `<input …>` tags of `html`.
fn input_tags(html: &str) -> impl Iterator<Item = &str> {
    html.match_indices("<input").filter_map(|(at, _)| html[at..].find('>').map(|end| &html[at..at + end + 1]))
}

/// The value of attribute `name="…"` in `tag`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

/// A browser without JavaScript: it keeps the cookies it is given and sends them back.
#[derive(Debug, Clone)]
pub struct Client {
    /// `127.0.0.1:PORT`.
    addr: String,
    jar: BTreeMap<String, String>,
}

impl Client {
    /// A client of the portal at `base_url` (`http://host:port`), with no cookies.
    pub fn new(base_url: &str) -> Client {
        let addr = base_url.strip_prefix("http://").expect("an http:// base URL").trim_end_matches('/');
        Client { addr: addr.to_string(), jar: BTreeMap::new() }
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name).map(String::as_str)
    }

    /// `GET target`: a path (`/login?x=1`) or an absolute URL of this portal.
    pub fn get(&mut self, target: &str) -> Response {
        self.send("GET", target, None)
    }

    /// `POST target` with `form` as `application/x-www-form-urlencoded`.
    pub fn post(&mut self, target: &str, form: &[(&str, &str)]) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.send("POST", target, Some(body))
    }

    fn send(&mut self, method: &str, target: &str, body: Option<String>) -> Response {
        let path = self.path_of(target);
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            request.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(body) = &body {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        request.push_str(body.as_deref().unwrap_or_default());

        let mut stream = TcpStream::connect(&self.addr).unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr));
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(REQUEST_TIMEOUT)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));
        let response = parse_response(&raw)
            .unwrap_or_else(|| panic!("{method} {path}: not an HTTP response:\n{}", String::from_utf8_lossy(&raw)));
        self.keep_cookies(&response);
        response
    }

    /// The request target of `target`, which must be on this portal when absolute.
    /// `GET target` as a server-sent events stream, with this client's cookies: kept
    /// open, read as it comes (see [`Events::read_until`]).
    pub fn events(&self, target: &str) -> Events {
        let mut stream = TcpStream::connect(&self.addr).unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr));
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let cookies: Vec<String> = self.jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\r\n",
            self.path_of(target),
            self.addr,
            cookies.join("; ")
        );
        stream.write_all(request.as_bytes()).unwrap();
        Events { stream, seen: String::new() }
    }

    fn path_of(&self, target: &str) -> String {
        if target.starts_with('/') {
            return target.to_string();
        }
        let url = url::Url::parse(target).unwrap_or_else(|e| panic!("{target}: {e}"));
        let authority = format!("{}:{}", url.host_str().unwrap_or_default(), url.port_or_known_default().unwrap_or(0));
        assert_eq!(authority, self.addr, "{target} is not on the portal under test");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Stores the cookies `response` sets; one set empty or with `Max-Age=0` is removed.
    fn keep_cookies(&mut self, response: &Response) {
        for (_, header) in response.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let mut parts = header.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else { continue };
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
    }
}

/// Status, headers and body of a whole HTTP/1.1 response (a chunked body is decoded).
fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Some(Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&data[..line_end]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
