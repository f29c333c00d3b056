//! Driving the real `maildesk` binary from tests: commands, a daemon that is killed when
//! dropped (its log printed if the test failed), and waiting for a condition.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_maildesk");

/// A `maildesk` command run in `dir`, with no config from the caller's environment.
pub fn maildesk(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("MAILDESK_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("MAILDESK_LOG", "warn");
    // Tests read the text format; `logs_are_json_lines_unless_on_a_terminal` checks the default.
    cmd.env("MAILDESK_LOG_FORMAT", "text");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run maildesk")
}

/// The daemon's log filter: info, and the IMAP source's debug lines, which say when a
/// mailbox waits in IDLE (see [`IDLING`]), so that a test can wait for that.
const DAEMON_LOG: &str = "info,maildesk::sources::imap=debug";

/// What the daemon logs each time a mailbox has finished a pass and the server has
/// accepted its IDLE: everything found so far is applied, and new mail will be announced.
pub const IDLING: &str = "waiting in IDLE";

/// The running daemon; killed when dropped so a failing test leaves nothing behind, and
/// its log printed when the test failed.
pub struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let log = dir.join(format!("daemon-{}.log", rand::random::<u32>()));
        let mut cmd = maildesk(dir);
        cmd.arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .env("MAILDESK_LOG", DAEMON_LOG);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Daemon { child: cmd.spawn().expect("spawn maildesk serve"), log }
    }

    /// What the daemon has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill -TERM");
        wait_for("the daemon to stop on SIGTERM", Duration::from_secs(30), || self.child.try_wait().unwrap())
    }
}

/// Where the end-to-end suite keeps what its daemons logged and the secrets its tests
/// used (`$MAILDESK_TEST_TMPDIR/logs`), for scripts/test to check that no log holds one.
fn kept_logs() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("MAILDESK_TEST_TMPDIR")?).join("logs");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Notes `value` (a password, a token, a session cookie, a key) as one that no daemon's
/// log may hold; scripts/test greps every kept log for it.
#[allow(dead_code)]
pub fn secret(value: &str) {
    assert!(value.len() >= 12, "too short to look for in logs without false alarms: {value:?}");
    if let Some(dir) = kept_logs() {
        use std::io::Write;
        let path = dir.join(format!("secrets-{}.txt", std::process::id()));
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        writeln!(file, "{value}").unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = kept_logs() {
            let _ = std::fs::copy(&self.log, dir.join(format!("daemon-{}.log", rand::random::<u64>())));
            // The reply-address key it made, if any: never in a log.
            if let Some(parent) = self.log.parent()
                && let Ok(key) = std::fs::read_to_string(parent.join("var/reply-secret"))
                && key.trim().len() >= 12
            {
                secret(key.trim());
            }
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("---- daemon log {} ----\n{log}", self.log.display());
        }
    }
}

/// Asks `ready` every 25 ms until it gives a value, or `timeout` has passed (then `None`).
pub fn poll_for<T>(timeout: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The value `ready` gives within `timeout`; the test fails naming `what` otherwise.
pub fn wait_for<T>(what: &str, timeout: Duration, ready: impl FnMut() -> Option<T>) -> T {
    poll_for(timeout, ready).unwrap_or_else(|| panic!("timed out waiting for: {what}"))
}

/// Waits until `done` holds, at most `timeout`; the test fails naming `what` otherwise.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    wait_for(what, timeout, || done().then_some(()))
}

/// Whether a line of `log` holding `then` follows the last line holding `after` (false when
/// no line holds `after`): with [`IDLING`], that the daemon finished the pass in which it
/// did the last `after`, and found nothing more to do.
pub fn followed_by(log: &str, after: &str, then: &str) -> bool {
    let lines: Vec<&str> = log.lines().collect();
    let Some(last) = lines.iter().rposition(|l| l.contains(after)) else { return false };
    lines[last + 1..].iter().any(|l| l.contains(then))
}

pub fn json_of(output: Output) -> Value {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

pub fn tickets(dir: &Path, env: &[(&str, &str)]) -> Vec<Value> {
    let mut cmd = maildesk(dir);
    cmd.args(["ticket", "list", "--json", "--limit", "100000"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    json_of(run(&mut cmd)).as_array().cloned().unwrap_or_default()
}

impl Daemon {
    /// The daemon's process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the daemon has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait for maildesk")
    }
}

/// The Maildir the daemon reads on the embedded defaults, under the working directory `dir`.
pub fn inbox(dir: &Path) -> std::path::PathBuf {
    dir.join("var/inbox")
}

/// Delivers `bytes` into that Maildir as an MDA does: written into `tmp/`, then renamed
/// into `new/` as `name`.
pub fn deliver(dir: &Path, name: &str, bytes: &[u8]) {
    use std::io::Write;
    let inbox = inbox(dir);
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(inbox.join(sub)).unwrap();
    }
    let tmp = inbox.join("tmp").join(name);
    std::fs::File::create(&tmp).unwrap().write_all(bytes).unwrap();
    std::fs::rename(&tmp, inbox.join("new").join(name)).unwrap();
}

/// How many lines of `log` contain `needle`.
pub fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// An owned environment as the `(&str, &str)` pairs the helpers take.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
