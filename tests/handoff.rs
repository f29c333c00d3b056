//! `maildesk ingest` while `maildesk serve` runs on the same data directory: the message is
//! handed to the daemon over `var/ingest.sock`, applied there, and the answer is the
//! ingest's; without a daemon (none, a dead one, one that does not answer) the process
//! applies the message itself, and nothing is applied twice.

mod common;

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::cli::{Daemon, lines_with, maildesk, tickets, wait_until};
use common::imap::request;

const QUIET: [(&str, &str); 2] = [("MAILDESK_PORTAL__ENABLED", "false"), ("MAILDESK_MAILDIR__ENABLED", "false")];

fn socket(dir: &Path) -> std::path::PathBuf {
    dir.join("var/ingest.sock")
}

/// `maildesk ingest` of `raw` on standard input, with `env` on top of the quiet settings.
fn ingest(dir: &Path, raw: &[u8], env: &[(&str, &str)]) -> Output {
    let mut cmd = maildesk(dir);
    cmd.arg("ingest").stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in QUIET.iter().chain(env) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

fn said(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `maildesk serve` in `dir` with `env` on top of the quiet settings, once it listens.
fn daemon(dir: &Path, env: &[(&str, &str)]) -> Daemon {
    let env: Vec<(&str, &str)> = QUIET.iter().chain(env).copied().collect();
    let daemon = Daemon::start(dir, &env);
    wait_until("the daemon to take hand-overs", Duration::from_secs(20), || {
        daemon.log().contains("taking messages from `maildesk ingest`")
    });
    daemon
}

/// A database the ingest process itself cannot open: a message it answers for was applied
/// by the daemon.
const NO_STORE_HERE: (&str, &str) = ("MAILDESK_DATABASE__URL", "postgres://nobody@127.0.0.1:1/x");

#[test]
fn ingest_hands_its_message_to_the_running_daemon_and_answers_as_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut daemon = daemon(dir, &[]);
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(socket(dir)).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "the owner's only");

    let mail = request("Ada <ada@example.com>", "Printer on fire");
    let first = ingest(dir, &mail, &[NO_STORE_HERE]);
    assert_eq!(first.status.code(), Some(0), "{}", said(&first));
    assert!(said(&first).contains("maildesk: opened ticket #1"), "{}", said(&first));
    let again = ingest(dir, &mail, &[NO_STORE_HERE]);
    assert_eq!(again.status.code(), Some(0), "{}", said(&again));
    assert!(said(&again).contains("already applied; nothing changed"), "{}", said(&again));
    // No usable sender: quarantined by the daemon, and the MTA hears "delivered"; the
    // reason's line break is shown escaped, on one line.
    let nobody = b"From: Robot <robot>\nTo: support@helpdesk.example\nSubject: Nightly job\n\nDone.\n";
    let robot = ingest(dir, nobody, &[NO_STORE_HERE]);
    assert_eq!(robot.status.code(), Some(0), "{}", said(&robot));
    assert!(said(&robot).starts_with("maildesk: quarantined: "), "{}", said(&robot));
    assert_eq!(said(&robot).lines().count(), 1, "{}", said(&robot));

    let log = daemon.log();
    assert_eq!(lines_with(&log, "source=pipe"), 3, "{log}");
    assert!(log.contains("outcome=\"opened\"") && log.contains("outcome=\"duplicate\""), "{log}");
    assert_eq!(tickets(dir, &[]).len(), 1);

    // A clean stop takes the socket away: the next message is applied by its own process.
    assert!(daemon.terminate().success());
    assert!(!socket(dir).exists());
    let alone = ingest(dir, &request("Bo <bo@example.com>", "Scanner jammed"), &[]);
    assert_eq!(alone.status.code(), Some(0), "{}", said(&alone));
    assert!(said(&alone).contains("opened ticket #2"), "{}", said(&alone));
}

#[test]
fn after_a_daemon_was_killed_ingest_applies_the_message_itself_and_the_next_daemon_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut first = daemon(dir, &[]);
    first.kill_9();
    assert!(socket(dir).exists(), "a killed daemon leaves its socket behind");

    let mail = request("Cy <cy@example.com>", "VPN down");
    let alone = ingest(dir, &mail, &[]);
    assert_eq!(alone.status.code(), Some(0), "{}", said(&alone));
    assert!(said(&alone).contains("opened ticket #1"), "{}", said(&alone));
    // Here, without a daemon, the unusable database is the ingest's own problem: 75.
    let down = ingest(dir, &request("Di <di@example.com>", "Lost"), &[NO_STORE_HERE]);
    assert_eq!(down.status.code(), Some(75), "{}", said(&down));

    // The next daemon replaces the stale socket and takes messages again.
    let second = daemon(dir, &[]);
    let handed = ingest(dir, &request("Di <di@example.com>", "Lost"), &[NO_STORE_HERE]);
    assert_eq!(handed.status.code(), Some(0), "{}", said(&handed));
    assert!(said(&handed).contains("opened ticket #2"), "{}", said(&handed));
    let repeat = ingest(dir, &mail, &[NO_STORE_HERE]);
    assert!(said(&repeat).contains("already applied"), "{}", said(&repeat));
    assert_eq!(lines_with(&second.log(), "source=pipe"), 2);
    assert_eq!(tickets(dir, &[]).len(), 2);
}

#[test]
fn a_second_daemon_on_the_same_data_directory_leaves_the_socket_to_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let first = daemon(dir, &[]);
    let second = Daemon::start(dir, &QUIET);
    wait_until("the second daemon to say so", Duration::from_secs(20), || {
        second.log().contains("applies each message itself")
    });
    assert!(second.log().contains("another daemon already takes messages"), "{}", second.log());
    drop(second);
    // The first still answers.
    let handed = ingest(dir, &request("Ed <ed@example.com>", "Mouse"), &[NO_STORE_HERE]);
    assert_eq!(handed.status.code(), Some(0), "{}", said(&handed));
    assert_eq!(lines_with(&first.log(), "source=pipe"), 1);
}

#[test]
fn a_message_cut_short_or_a_connection_without_one_is_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = daemon(dir, &[]);
    let mail = request("Gil <gil@example.com>", "Half a message");
    // A client killed while writing: its length says more than came.
    let mut cut = std::os::unix::net::UnixStream::connect(socket(dir)).unwrap();
    cut.write_all(format!("{}\n", mail.len()).as_bytes()).unwrap();
    cut.write_all(&mail[..mail.len() / 2]).unwrap();
    drop(cut);
    // A probe, and a connection that sends no length.
    drop(std::os::unix::net::UnixStream::connect(socket(dir)).unwrap());
    let mut junk = std::os::unix::net::UnixStream::connect(socket(dir)).unwrap();
    junk.write_all(b"From: x@example.com\n\nno length first\n").unwrap();
    drop(junk);
    // Then the whole message, as `ingest` sends it: the only one applied.
    let whole = ingest(dir, &mail, &[NO_STORE_HERE]);
    assert_eq!(whole.status.code(), Some(0), "{}", said(&whole));
    assert!(said(&whole).contains("opened ticket #1"), "{}", said(&whole));
    // The connections before it are read to their end by now; give their tasks a moment.
    std::thread::sleep(Duration::from_millis(300));
    let log = daemon.log();
    assert_eq!(lines_with(&log, "source=pipe"), 1, "{log}");
    assert_eq!(lines_with(&log, "quarantine"), 0, "{log}");
    assert_eq!(tickets(dir, &[]).len(), 1);
}

/// What a stand-in for a daemon does with the message it accepts.
#[derive(Clone, Copy)]
enum Stub {
    /// Reads it and closes without a word (a daemon that died before its answer).
    Silent,
    /// Reads it and answers something that is no answer.
    Garbled,
    /// Reads it and refuses it (a daemon whose intake stopped).
    Refusing,
}

#[test]
fn a_daemon_that_does_not_answer_or_refuses_leaves_the_message_to_ingest() {
    for stub in [Stub::Silent, Stub::Garbled, Stub::Refusing] {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        std::fs::create_dir_all(dir.join("var")).unwrap();
        // A stand-in: no real daemon can be made to die at exactly this point.
        let listener = std::os::unix::net::UnixListener::bind(socket(dir)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            let stream = loop {
                match listener.accept() {
                    Ok((stream, _)) => break stream,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(e) => panic!("ingest never offered its message: {e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            let mut stream = std::io::BufReader::new(stream);
            let mut header = String::new();
            stream.read_line(&mut header).unwrap();
            let mut got = vec![0u8; header.trim().parse().unwrap()];
            stream.read_exact(&mut got).unwrap();
            let mut stream = stream.into_inner();
            match stub {
                Stub::Silent => {}
                Stub::Garbled => stream.write_all(b"applied 3\nwhatever").unwrap(),
                Stub::Refusing => stream.write_all(b"refused\nintake stopped").unwrap(),
            }
            got
        });
        let mail = request("Flo <flo@example.com>", "Keyboard");
        let out = ingest(dir, &mail, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", said(&out));
        assert!(said(&out).contains("opened ticket #1"), "{}", said(&out));
        assert_eq!(server.join().unwrap(), mail, "the whole message was offered first");
        assert_eq!(tickets(dir, &[]).len(), 1);
    }
}

#[test]
fn many_messages_at_once_each_become_one_ticket_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = daemon(dir, &[]);
    let mails: Vec<Vec<u8>> =
        (0..24).map(|i| request(&format!("User {i} <u{i}@example.com>"), &format!("Request {i}"))).collect();
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let running: Vec<_> = mails.iter().map(|m| s.spawn(|| ingest(dir, m, &[NO_STORE_HERE]))).collect();
        running.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", said(out));
        assert!(said(out).contains("opened ticket #"), "{}", said(out));
    }
    assert_eq!(tickets(dir, &[]).len(), 24);
    assert_eq!(lines_with(&daemon.log(), "outcome=\"opened\""), 24);
}

#[test]
fn a_daemon_stopping_drops_a_message_still_arriving_and_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut daemon = daemon(dir, &[]);
    let mail = request("Hal <hal@example.com>", "Slow sender");
    let mut slow = std::os::unix::net::UnixStream::connect(socket(dir)).unwrap();
    slow.write_all(format!("{}\n", mail.len()).as_bytes()).unwrap();
    slow.write_all(&mail[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let began = std::time::Instant::now();
    assert!(daemon.terminate().success(), "a clean stop, not one past the drain deadline");
    assert!(began.elapsed() < Duration::from_secs(10), "stopped in {:?}", began.elapsed());
    assert!(!socket(dir).exists());
    // The sender hears nothing (its `ingest` would apply the message itself).
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert!(tickets(dir, &[]).is_empty());
}

#[test]
fn a_daemon_with_a_worker_stuck_in_a_message_leaves_the_next_ones_to_their_own_process() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // Debug builds stall on this marker (desk's fault injection), past a one-second limit.
    let daemon = daemon(
        dir,
        &[("MAILDESK_TEST_STALL_MARKER", "STALL-HERE-7731"), ("MAILDESK_LIMITS__MAX_PROCESSING_SECS", "1")],
    );
    let mut stuck = request("Ivy <ivy@example.com>", "Stuck");
    stuck.extend_from_slice(b"STALL-HERE-7731\r\n");
    let first = ingest(dir, &stuck, &[NO_STORE_HERE]);
    assert_eq!(first.status.code(), Some(0), "{}", said(&first));
    assert!(said(&first).contains("quarantined: interpretation took longer"), "{}", said(&first));
    // The next message is refused by the daemon: this `ingest` then applies it itself, and
    // with a database of its own that it cannot open that is 75.
    let next = ingest(dir, &request("Jo <jo@example.com>", "After"), &[NO_STORE_HERE]);
    assert_eq!(next.status.code(), Some(75), "{}", said(&next));
    let alone = ingest(dir, &request("Jo <jo@example.com>", "After"), &[]);
    assert_eq!(alone.status.code(), Some(0), "{}", said(&alone));
    assert!(said(&alone).contains("opened ticket #1"), "{}", said(&alone));
    let log = daemon.log();
    assert_eq!(lines_with(&log, "message quarantined"), 1, "{log}");
    assert!(!log.contains("outcome=\"opened\""), "the daemon applied nothing after: {log}");
}
