//! `maildesk serve` under a service manager (issue 18, item 1), with a `NOTIFY_SOCKET`
//! listener of the test's own (PID 1 here is not systemd): `READY=1` once every part is
//! up, `WATCHDOG=1` keep-alives when asked for, `STOPPING=1`, and SIGHUP reloading the
//! mail templates (a broken set keeps the ones before) and naming the config's changes
//! that need a restart.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cli::{Daemon, deliver, wait_until};

/// The service manager's end of `NOTIFY_SOCKET`.
struct Manager {
    socket: UnixDatagram,
    path: String,
    said: Vec<(Instant, String)>,
    /// Where [`Manager::wait_for`] looks from: after what it found last.
    cursor: usize,
}

impl Manager {
    fn new(dir: &Path) -> Manager {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Manager { socket, path: path.display().to_string(), said: Vec::new(), cursor: 0 }
    }

    /// Reads what the daemon said for `how_long`.
    fn listen(&mut self, how_long: Duration) {
        let until = Instant::now() + how_long;
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.said.push((Instant::now(), String::from_utf8_lossy(&buf[..n]).into_owned()));
            }
        }
    }

    /// Reads until a message after the one found last has the line `line` (within
    /// `timeout`).
    fn wait_for(&mut self, line: &str, timeout: Duration) {
        let until = Instant::now() + timeout;
        loop {
            let found = self.said[self.cursor..].iter().position(|(_, m)| m.lines().any(|l| l == line));
            if let Some(i) = found {
                self.cursor += i + 1;
                return;
            }
            assert!(Instant::now() < until, "no {line} within {timeout:?}; said: {:?}", self.said);
            self.listen(Duration::from_millis(50));
        }
    }

    fn count(&self, line: &str) -> usize {
        self.said.iter().filter(|(_, m)| m.lines().any(|l| l == line)).count()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn signal(daemon: &Daemon, name: &str) {
    assert!(Command::new("kill").args([&format!("-{name}"), &daemon.pid().to_string()]).status().unwrap().success());
}

#[test]
fn the_daemon_is_ready_once_its_parts_are_up_feeds_the_watchdog_and_says_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut manager = Manager::new(dir);
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [
        ("NOTIFY_SOCKET", manager.path.as_str()),
        ("WATCHDOG_USEC", "400000"),
        ("MAILDESK_PORTAL__ENABLED", "true"),
        ("MAILDESK_PORTAL__LISTEN", listen.as_str()),
    ];
    let mut daemon = Daemon::start(dir, &env);
    manager.wait_for("READY=1", Duration::from_secs(30));
    // Ready means up: the portal answers, the Maildir is watched.
    assert!(std::net::TcpStream::connect(&listen).is_ok(), "the portal listens when the daemon says it is ready");
    assert!(daemon.log().contains("ready: every source, the sender and the portal are up"), "{}", daemon.log());
    // Keep-alives at half the watchdog's 0.4 s.
    let before = manager.count("WATCHDOG=1");
    manager.listen(Duration::from_millis(1500));
    let fed = manager.count("WATCHDOG=1") - before;
    assert!((4..=12).contains(&fed), "{fed} keep-alives in 1.5 s with WatchdogSec=0.4s");
    signal(&daemon, "TERM");
    manager.wait_for("STOPPING=1", Duration::from_secs(20));
    assert!(daemon.terminate().success());
}

#[test]
fn without_a_watchdog_no_keep_alives_and_readiness_waits_for_a_mailbox_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut manager = Manager::new(dir);
    // A mailbox whose server does not answer: the daemon is not ready while it is down.
    let config = dir.join("maildesk.toml");
    let text = format!(
        "[portal]\nenabled = false\n[[imap]]\nname = \"support\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"plain\"\n\
         user = \"support\"\npassword = \"secret\"\n",
        free_port()
    );
    std::fs::write(&config, text).unwrap();
    let config = config.display().to_string();
    let env = [("NOTIFY_SOCKET", manager.path.as_str()), ("MAILDESK_CONFIG", config.as_str())];
    let daemon = Daemon::start(dir, &env);
    wait_until("the mailbox to fail", Duration::from_secs(20), || daemon.log().contains("mailbox unavailable"));
    manager.listen(Duration::from_secs(2));
    assert_eq!(manager.count("READY=1"), 0, "not ready while imap support is down: {:?}", manager.said);
    assert_eq!(manager.count("WATCHDOG=1"), 0, "no keep-alives unless asked for");
}

/// The acknowledgement's subject in the outbox for the mail from `from`.
fn acknowledgement_subject(dir: &Path, from: &str) -> Option<String> {
    acknowledgement_header(dir, from, "Subject")
}

/// The header `name` of the acknowledgement sent to `to`, once it is in the file outbox.
fn acknowledgement_header(dir: &Path, to: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    common::files_with_suffix(&dir.join("var/outbox"), ".eml").iter().find_map(|f| {
        let raw = std::fs::read_to_string(f).ok()?;
        let head: Vec<&str> = raw.lines().take_while(|l| !l.is_empty()).collect();
        head.iter().any(|l| l.starts_with("To: ") && l.contains(to)).then_some(())?;
        head.iter().find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_string))
    })
}

fn ask(dir: &Path, n: u32, from: &str) -> String {
    let mail = common::mail(&format!("Ann <{from}>"), &format!("Printer {n} jams"), None, "", "It jams.");
    deliver(dir, &format!("17000000{n:02}.1.test"), &mail);
    wait_for_subject(dir, from)
}

fn wait_for_subject(dir: &Path, from: &str) -> String {
    common::cli::wait_for("the acknowledgement", Duration::from_secs(20), || acknowledgement_subject(dir, from))
}

#[test]
fn a_hangup_reloads_the_templates_and_safe_settings_keeps_broken_ones_out_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut manager = Manager::new(dir);
    let subject = dir.join("templates/mail/acknowledgement/subject.txt");
    std::fs::create_dir_all(subject.parent().unwrap()).unwrap();
    std::fs::write(&subject, "First answer to #{{ ticket }}").unwrap();
    let config = dir.join("maildesk.toml");
    let write_config = |name: &str, poll_ms: u32| {
        let text = format!(
            "[desk]\nname = \"{name}\"\n[portal]\nenabled = false\n[maildir]\npoll_interval_ms = {poll_ms}\n\
             [outbox]\ntemplates_dir = \"{}\"\n",
            dir.join("templates").display()
        );
        std::fs::write(&config, text).unwrap();
    };
    write_config("Acme Help", 250);
    let config_path = config.display().to_string();
    let daemon = Daemon::start(dir, &[("NOTIFY_SOCKET", manager.path.as_str()), ("MAILDESK_CONFIG", &config_path)]);
    manager.wait_for("READY=1", Duration::from_secs(30));
    assert!(ask(dir, 1, "ann@example.com").starts_with("First answer to #"));
    let sender = |to: &str| acknowledgement_header(dir, to, "From").unwrap();
    assert!(sender("ann@example.com").contains("Acme Help"), "{}", sender("ann@example.com"));

    // Changed templates, a changed desk name and a changed Maildir poll: the templates and
    // the name are used at once, the poll (its source took it at start) after a restart.
    std::fs::write(&subject, "Second answer to #{{ ticket }}").unwrap();
    write_config("Acme Support", 300);
    signal(&daemon, "HUP");
    manager.wait_for("RELOADING=1", Duration::from_secs(10));
    manager.wait_for("READY=1", Duration::from_secs(10));
    let log = daemon.log();
    assert!(log.contains("the mail templates were loaded again"), "{log}");
    let line =
        |what: &str| log.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}: {log}")).to_string();
    let took_effect = line("changes of the config took effect");
    assert!(took_effect.contains("desk.name") && !took_effect.contains("maildir"), "{took_effect}");
    let after_restart = line("take effect after a restart");
    assert!(
        after_restart.contains("maildir.poll_interval_ms") && !after_restart.contains("desk.name"),
        "{after_restart}"
    );
    assert!(!log.contains("outbox.templates_dir"), "the templates are applied, not named: {log}");
    assert!(ask(dir, 2, "bob@example.com").starts_with("Second answer to #"));
    assert!(sender("bob@example.com").contains("Acme Support"), "{}", sender("bob@example.com"));

    // A broken override: the ones before stay, and the log says why.
    std::fs::write(&subject, "Third {% if %}").unwrap();
    signal(&daemon, "HUP");
    wait_until("the refusal", Duration::from_secs(10), || daemon.log().contains("keeping the ones loaded before"));
    assert!(daemon.log().contains("subject.txt"), "the problem names the file: {}", daemon.log());
    assert!(ask(dir, 3, "cid@example.com").starts_with("Second answer to #"));

    // A config that cannot be read changes nothing.
    std::fs::write(&config, "[desk\n").unwrap();
    std::fs::write(&subject, "Fourth answer to #{{ ticket }}").unwrap();
    signal(&daemon, "HUP");
    wait_until("the config's refusal", Duration::from_secs(10), || daemon.log().contains("the config cannot be read"));
    assert!(ask(dir, 4, "dan@example.com").starts_with("Second answer to #"));
}

/// What one `maildesk ingest` of a new request writes to standard error (a pipe here:
/// not a terminal), with `format` as `--log-format`, if any.
fn ingest_log(dir: &Path, format: Option<&str>) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = common::cli::maildesk(dir);
    cmd.env_remove("MAILDESK_LOG_FORMAT").env("MAILDESK_LOG", "info");
    if let Some(format) = format {
        cmd.args(["--log-format", format]);
    }
    let mut child =
        cmd.arg("ingest").stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let id = format!("{}@example.com", rand::random::<u32>());
    let mail = common::mail("Ann <ann@example.com>", "Printer jams", Some(&id), "", "It jams.");
    child.stdin.take().unwrap().write_all(&mail).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn logs_are_json_lines_when_not_on_a_terminal_with_the_mails_span_and_text_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let json = ingest_log(dir.path(), None);
    // Every line is a JSON object, but the command's own answer (`maildesk: opened ticket #1`).
    let (logged, said): (Vec<&str>, Vec<&str>) = json.lines().partition(|l| !l.starts_with("maildesk: "));
    assert_eq!(said, ["maildesk: opened ticket #1"], "{json}");
    let lines: Vec<serde_json::Value> =
        logged.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let applied = lines.iter().find(|l| l["message"] == "message applied").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(applied["outcome"], "opened", "{applied}");
    assert_eq!(applied["level"], "INFO");
    // The mail's span: where it came from and which message it is.
    assert_eq!(applied["span"]["name"], "mail", "{applied}");
    assert_eq!(applied["span"]["source"], "pipe", "{applied}");
    assert!(applied["span"]["message_id"].as_str().is_some_and(|m| m.ends_with("@example.com")), "{applied}");

    let text = ingest_log(dir.path(), Some("text"));
    assert!(text.contains("message applied") && text.contains("outcome=\"opened\""), "{text}");
    assert!(!text.trim_start().starts_with('{'), "{text}");
}
