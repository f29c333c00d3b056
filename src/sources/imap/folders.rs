//! Folder names on the server: the configured names resolved through the server's
//! namespaces (RFC 2342) and hierarchy delimiter.
//!
//! Servers name a user's folders differently: Dovecot puts them at the top level with `/`,
//! stock Cyrus and Courier below `INBOX` with `.` (`INBOX.maildesk-done`). A bare name from
//! the config goes into the personal namespace, with `/` between levels as in a path; a
//! name that already starts with a namespace's prefix, or `INBOX`, is taken as given.

use std::time::Duration;

use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::ImapSession;

/// How long the NAMESPACE exchange may take.
const NAMESPACE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes read for a NAMESPACE answer (a few hundred in practice).
const NAMESPACE_MAX: usize = 64 * 1024;

/// One namespace: the prefix its folder names start with and its hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Such as `""` (Dovecot) or `"INBOX."` (Cyrus, Courier).
    pub prefix: String,
    /// Such as `/` or `.`; `None` for a flat namespace.
    pub delimiter: Option<char>,
}

/// A server's namespaces as NAMESPACE reports them: the user's own, other users', shared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// The user's own folders (the first personal namespace); `None` when not known.
    pub personal: Option<Namespace>,
    /// Every other namespace (other users', shared, further personal ones).
    pub others: Vec<Namespace>,
}

impl Namespaces {
    /// The server's name for the configured folder `configured`: `INBOX` and names that
    /// start with a namespace's prefix are taken as given; any other name is put into the
    /// personal namespace, its `/` written as the personal namespace's delimiter.
    pub fn resolve(&self, configured: &str) -> String {
        // INBOX is case-insensitive (RFC 3501 5.1) and so is a prefix that starts with it:
        // they are written as the server writes them, so that names compare equal.
        if configured.eq_ignore_ascii_case("INBOX") {
            return "INBOX".to_string();
        }
        let personal = self.personal.as_ref();
        for ns in personal.into_iter().chain(&self.others).filter(|ns| !ns.prefix.is_empty()) {
            let Some(head) = configured.get(..ns.prefix.len()) else { continue };
            let inbox = ns.prefix.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("INBOX"));
            if head == ns.prefix || inbox && head.eq_ignore_ascii_case(&ns.prefix) {
                return format!("{}{}", ns.prefix, &configured[ns.prefix.len()..]);
            }
        }
        match personal {
            Some(ns) => {
                let path = match ns.delimiter {
                    Some(d) if d != '/' => configured.replace('/', &d.to_string()),
                    _ => configured.to_string(),
                };
                format!("{}{path}", ns.prefix)
            }
            None => configured.to_string(),
        }
    }
}

/// Reads the NAMESPACE answer (RFC 2342) of the form
/// `* NAMESPACE (("" "/")) NIL (("shared." "."))`; `None` when it cannot be read.
pub fn parse_namespace(line: &str) -> Option<Namespaces> {
    let rest = line.strip_prefix("* ")?.trim_end();
    let (word, rest) = rest.split_once(' ')?;
    if !word.eq_ignore_ascii_case("NAMESPACE") {
        return None;
    }
    let tokens = tokenize(rest)?;
    let mut at = 0;
    let mut groups = Vec::new();
    for _ in 0..3 {
        groups.push(group(&tokens, &mut at)?);
    }
    let mut all = groups.into_iter();
    let mut personal = all.next().unwrap_or_default().into_iter();
    Some(Namespaces { personal: personal.next(), others: personal.chain(all.flatten()).collect() })
}

#[derive(Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Nil,
    Text(String),
}

/// Splits a NAMESPACE answer into parentheses, NIL and strings; `None` on a literal or
/// anything else this small reader does not know.
fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => s.push(chars.next()?),
                        c => s.push(c),
                    }
                }
                tokens.push(Token::Text(s));
            }
            c if c.is_ascii_alphanumeric() => {
                let mut word = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c == ' ' || c == '(' || c == ')' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                if word.eq_ignore_ascii_case("NIL") {
                    tokens.push(Token::Nil);
                } else {
                    tokens.push(Token::Text(word));
                }
            }
            _ => return None,
        }
    }
    Some(tokens)
}

/// One of NAMESPACE's three groups: `NIL` or a list of `(prefix delimiter *extension)`.
fn group(tokens: &[Token], at: &mut usize) -> Option<Vec<Namespace>> {
    match tokens.get(*at)? {
        Token::Nil => {
            *at += 1;
            return Some(Vec::new());
        }
        Token::Open => *at += 1,
        _ => return None,
    }
    let mut found = Vec::new();
    loop {
        match tokens.get(*at)? {
            Token::Close => {
                *at += 1;
                return Some(found);
            }
            Token::Open => *at += 1,
            _ => return None,
        }
        let Token::Text(prefix) = tokens.get(*at)? else { return None };
        let delimiter = match tokens.get(*at + 1)? {
            Token::Nil => None,
            Token::Text(d) => d.chars().next(),
            _ => return None,
        };
        *at += 2;
        // Skip extensions up to this descriptor's closing parenthesis.
        let mut depth = 1;
        while depth > 0 {
            match tokens.get(*at)? {
                Token::Open => depth += 1,
                Token::Close => depth -= 1,
                _ => {}
            }
            *at += 1;
        }
        found.push(Namespace { prefix: prefix.clone(), delimiter });
    }
}

/// Asks the server for its namespaces. async-imap has no NAMESPACE command and its reader
/// fails on an answer it does not know, so the exchange runs on the connection directly.
/// That is safe only while async-imap holds no unread bytes: call it right after a command
/// whose answer was read to its end, before any folder is selected (no news arrives then). `None` when the server answers
/// NO or something this reader cannot parse; an I/O failure is an error.
pub async fn namespaces(session: &mut ImapSession) -> std::io::Result<Option<Namespaces>> {
    let stream = session.as_mut();
    let exchange = async {
        stream.write_all(b"MDNS NAMESPACE\r\n").await?;
        stream.flush().await?;
        let mut read = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
            }
            read.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&read);
            let tagged = if text.starts_with("MDNS ") { Some(0) } else { text.find("\r\nMDNS ").map(|at| at + 2) };
            if let Some(end) = tagged.and_then(|at| text[at..].find("\r\n").map(|e| at + e + 2)) {
                return Ok(text[..end].to_string());
            }
            if read.len() > NAMESPACE_MAX {
                return Err(std::io::Error::other("NAMESPACE answer too long"));
            }
        }
    };
    let text = tokio::time::timeout(NAMESPACE_TIMEOUT, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "NAMESPACE timed out"))??;
    Ok(text.split("\r\n").find_map(parse_namespace))
}

/// The hierarchy delimiter, from `LIST "" ""` (RFC 3501 6.3.8).
pub async fn delimiter(session: &mut ImapSession) -> Result<Option<char>, async_imap::error::Error> {
    let names: Vec<_> = session.list(Some(""), Some("\"\"")).await?.try_collect().await?;
    Ok(names.iter().find_map(|n| n.delimiter()).and_then(|d| d.chars().next()))
}

/// Whether `folder` exists (a `LIST "" folder` names it).
pub async fn exists(session: &mut ImapSession, folder: &str) -> Result<bool, async_imap::error::Error> {
    let pattern = quoted(folder);
    let names: Vec<_> = session.list(Some(""), Some(&pattern)).await?.try_collect().await?;
    Ok(names.iter().any(|n| n.name() == folder || n.name().eq_ignore_ascii_case("INBOX") && folder == "INBOX"))
}

/// Up to `max` folder names of the account, for an error that says what exists.
pub async fn some_folders(session: &mut ImapSession, max: usize) -> Vec<String> {
    let Ok(stream) = session.list(Some(""), Some("*")).await else { return Vec::new() };
    let names: Vec<_> = stream.try_collect().await.unwrap_or_default();
    names.iter().take(max).map(|n| n.name().to_string()).collect()
}

/// `name` as an IMAP quoted string (a `%` or `*` in it would match more names, which the
/// callers compare exactly).
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, delimiter: char) -> Namespace {
        Namespace { prefix: prefix.into(), delimiter: Some(delimiter) }
    }

    #[test]
    fn reads_the_namespaces_of_common_servers() {
        let dovecot = parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL NIL").unwrap();
        assert_eq!(dovecot.personal, Some(ns("", '/')));
        assert!(dovecot.others.is_empty());
        let cyrus = parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))").unwrap();
        assert_eq!(cyrus.personal, Some(ns("INBOX.", '.')));
        assert_eq!(cyrus.others, [ns("user.", '.'), ns("", '.')]);
        // An extension (RFC 2342 5) and a flat namespace.
        let ext =
            parse_namespace("* NAMESPACE ((\"\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"#public\" NIL))")
                .unwrap();
        assert_eq!(ext.personal, Some(ns("", '/')));
        assert_eq!(ext.others, [Namespace { prefix: "#public".into(), delimiter: None }]);
        let quoted = parse_namespace("* NAMESPACE ((\"\" \"\\\\\")) NIL NIL").unwrap();
        assert_eq!(quoted.personal, Some(ns("", '\\')));
    }

    #[test]
    fn an_answer_it_cannot_read_is_none_not_a_guess() {
        for bad in [
            "* NAMESPACE",
            "* NAMESPACE ((\"\" \"/\")) NIL",
            "* NAMESPACE ({5}\r\nINBOX \"/\")) NIL NIL",
            "* LIST (\\HasNoChildren) \"/\" INBOX",
            "* NAMESPACE ((\"unterminated \"/\")) NIL NIL",
            "MDNS OK done",
        ] {
            assert_eq!(parse_namespace(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bare_name_goes_into_the_personal_namespace_and_a_full_name_is_kept() {
        let cyrus = parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))").unwrap();
        assert_eq!(cyrus.resolve("maildesk-done"), "INBOX.maildesk-done");
        assert_eq!(cyrus.resolve("INBOX"), "INBOX");
        assert_eq!(cyrus.resolve("inbox"), "INBOX");
        assert_eq!(cyrus.resolve("INBOX.Support"), "INBOX.Support");
        assert_eq!(cyrus.resolve("inbox.Support"), "INBOX.Support");
        assert_eq!(cyrus.resolve("user.helpdesk.done"), "user.helpdesk.done");
        assert_eq!(cyrus.resolve("INBOXES"), "INBOX.INBOXES");
        assert_eq!(cyrus.resolve("maildesk/done"), "INBOX.maildesk.done");
        let dovecot = parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL ((\"shared/\" \"/\"))").unwrap();
        assert_eq!(dovecot.resolve("maildesk-done"), "maildesk-done");
        assert_eq!(dovecot.resolve("Archive/done"), "Archive/done");
        assert_eq!(dovecot.resolve("shared/support"), "shared/support");
        assert_eq!(Namespaces::default().resolve("maildesk-done"), "maildesk-done");
        // A prefix from the server that is not ASCII never splits a character.
        let odd = parse_namespace("* NAMESPACE ((\"ABCDé.\" \".\")) NIL NIL").unwrap();
        assert_eq!(odd.resolve("done"), "ABCDé.done");
        assert_eq!(odd.resolve("ABCDé.x"), "ABCDé.x");
        assert_eq!(odd.resolve("ABCDÉ"), "ABCDé.ABCDÉ");
    }
}
