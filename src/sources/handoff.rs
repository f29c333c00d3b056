//! Messages handed over by `maildesk ingest` to a running `maildesk serve`, as Request
//! Tracker's mail gateway hands each message to its server: a Unix socket in the data
//! directory, [`SOCKET`]. The daemon has its store open, its schema read and its threads
//! started; a process that applies a message itself pays for all of that first. `ingest`
//! sends the message, the daemon applies it as it applies a piped one (`desk::receive`,
//! source `pipe`, the daemon's settings) and answers with the exit code and what happened.
//!
//! Nothing is lost on the way: `ingest` exits with the daemon's answer only, and applies
//! the message itself when no daemon listens, when the daemon refuses it or when no answer
//! comes (a daemon that died after its commit makes that a duplicate, which changes
//! nothing). Only the daemon's own user may hand messages over.
//!
//! The exchange: the client writes the message's length in bytes, a line break and the
//! message; the daemon answers `applied <exit code>` or `refused`, a line break, and a text
//! for the admin. A message that does not arrive whole (a client killed while writing) is
//! not applied: its length says so.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::App;
use crate::desk::{self, DeskError};
use crate::domain::Source;

/// The socket's file name in the data directory.
const SOCKET: &str = "ingest.sock";

/// The file a listening daemon keeps locked in the data directory.
const LOCK: &str = "ingest.lock";

/// Messages handed over at once; more wait to be accepted.
const AT_ONCE: usize = 32;

/// How long the daemon waits for a client to send its message.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `ingest` waits for an answer beyond `limits.max_processing_secs`, the longest
/// a message may take to read (the store's lock and the commit come on top).
const ANSWER_MARGIN: Duration = Duration::from_secs(60);

/// The most an answer's text may hold; the rest is not read.
const ANSWER_LIMIT: u64 = 16 * 1024;

/// Where the socket of the daemon working on `data_dir` is.
fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

// ---------------------------------------------------------------------------- the daemon

/// Why the daemon does not take hand-overs.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another daemon on the same data directory holds the socket's lock.
    #[error("another daemon already takes messages on {0}")]
    Taken(PathBuf),
    /// The socket cannot be made there (a path too long for a Unix socket, permissions).
    #[error("cannot listen on {path}: {source}")]
    Io {
        /// The socket's path (or its lock's).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The socket a daemon takes messages on, with the lock that makes its name the daemon's.
pub struct Listening {
    listener: UnixListener,
    path: PathBuf,
    /// `<data_dir>/ingest.lock`, locked for as long as this daemon listens: a second daemon
    /// on the same data directory finds it locked and leaves the socket alone.
    _lock: std::fs::File,
}

/// Listens on the socket of `data_dir`, readable and writable by the owner only, unless
/// another daemon does. A socket file left by a daemon that was killed is replaced.
pub fn bind(data_dir: &Path) -> Result<Listening, BindError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = socket_path(data_dir);
    let lock_path = data_dir.join(LOCK);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|source| BindError::Io { path: lock_path.clone(), source })?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(BindError::Taken(path)),
        Err(std::fs::TryLockError::Error(source)) => return Err(BindError::Io { path: lock_path, source }),
    }
    // The name is ours now: whatever is there was left by a daemon that is gone.
    let io = |source| BindError::Io { path: path.clone(), source };
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let listener = UnixListener::bind(&path).map_err(io)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(Listening { listener, path, _lock: lock })
}

/// Takes messages handed over until `shutdown`. Then it stops listening and removes the
/// socket (new clients apply their messages themselves), drops the connections still
/// sending (their clients do the same), and lets the messages being applied finish; the
/// caller's tracker waits for this task.
pub async fn run(app: Arc<App>, listening: Listening, shutdown: CancellationToken) {
    let Listening { listener, path, _lock } = listening;
    info!(socket = %path.display(), "taking messages from `maildesk ingest`");
    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let in_hand = TaskTracker::new();
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "cannot accept a hand-over; trying again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (app, shutdown) = (app.clone(), shutdown.clone());
        in_hand.spawn(async move {
            answer(&app, stream, &shutdown).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = std::fs::remove_file(&path);
    in_hand.close();
    in_hand.wait().await;
}

/// Reads one message from `stream`, applies it and says how it went. A daemon with a
/// worker stuck in a message refuses (the next stuck ones would stop its intake: the
/// message's own process takes that risk instead), and one stopping drops a message still
/// arriving.
async fn answer(app: &App, stream: UnixStream, shutdown: &CancellationToken) {
    if !same_user(&stream) {
        warn!("refused a hand-over from another user");
        return;
    }
    let mut stream = tokio::io::BufReader::new(stream);
    if app.workers.abandoned() > 0 {
        let reply = refused("a worker of the daemon is stuck in a message; apply it in a process of its own");
        let _ = stream.get_mut().write_all(reply.as_bytes()).await;
        return;
    }
    let limit = app.config().limits.max_message_bytes;
    let received = tokio::select! {
        _ = shutdown.cancelled() => return,
        received = tokio::time::timeout(READ_TIMEOUT, receive(&mut stream, limit)) => received,
    };
    let reply = match received {
        Ok(Ok(Received::Message(raw))) => match desk::receive(app, &raw, &Source::Pipe).await {
            Ok(outcome) => applied(super::pipe::EX_OK, &super::pipe::describe(&outcome)),
            Err(DeskError::Stopped) => refused(&DeskError::Stopped.to_string()),
            Err(e) => applied(super::pipe::EX_TEMPFAIL, &e.to_string()),
        },
        Ok(Ok(Received::TooLarge)) => refused("larger than limits.max_message_bytes"),
        // A probe, or a client gone before its message was whole: nothing to apply.
        Ok(Ok(Received::Nothing)) => return,
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read a hand-over");
            return;
        }
        Err(_) => {
            warn!(after_secs = READ_TIMEOUT.as_secs(), "a hand-over did not arrive in time");
            return;
        }
    };
    if let Err(e) = stream.get_mut().write_all(reply.as_bytes()).await {
        // The client is gone; it applies the message itself, which finds it applied.
        warn!(error = %e, "cannot answer a hand-over");
    }
}

/// What came on a connection.
enum Received {
    /// A whole message.
    Message(Vec<u8>),
    /// A length over the limit (the message is not read).
    TooLarge,
    /// No length, or fewer bytes than it said.
    Nothing,
}

/// Reads a length line and that many bytes, if at most `limit`.
async fn receive(stream: &mut tokio::io::BufReader<UnixStream>, limit: u64) -> std::io::Result<Received> {
    let mut header = Vec::new();
    (&mut *stream).take(21).read_until(b'\n', &mut header).await?;
    let Some(len) = header.strip_suffix(b"\n").and_then(|h| std::str::from_utf8(h).ok()?.parse::<u64>().ok()) else {
        return Ok(Received::Nothing);
    };
    if len > limit {
        return Ok(Received::TooLarge);
    }
    let mut raw = vec![0u8; len as usize];
    match stream.read_exact(&mut raw).await {
        Ok(_) => Ok(Received::Message(raw)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Received::Nothing),
        Err(e) => Err(e),
    }
}

/// The peer runs as the daemon's user.
fn same_user(stream: &UnixStream) -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    let ours = unsafe { libc::geteuid() };
    stream.peer_cred().is_ok_and(|peer| peer.uid() == ours)
}

fn applied(code: i32, said: &str) -> String {
    format!("applied {code}\n{said}")
}

fn refused(why: &str) -> String {
    format!("refused\n{why}")
}

// ------------------------------------------------------------------------------ `ingest`

/// What became of a message offered to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOff {
    /// The daemon applied it (or found it could not for now): exit with `code`.
    Answered {
        /// The exit code for the MTA.
        code: i32,
        /// What happened, for the admin (from outside: print it escaped).
        said: String,
    },
    /// No daemon took it: apply it here. `why` says what happened, for the log.
    NotTaken {
        /// Why (no daemon, refused, no answer).
        why: String,
    },
}

/// Offers `raw` to the daemon working on `data_dir` and waits for its answer up to
/// `max_processing_secs` and a margin. Blocking: `ingest` runs it before it starts anything
/// else.
pub fn offer(data_dir: &Path, raw: &[u8], max_processing_secs: u64) -> HandOff {
    let not_taken = |why: String| HandOff::NotTaken { why };
    let path = socket_path(data_dir);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(stream) => stream,
        Err(e) => return not_taken(format!("no daemon on {}: {e}", path.display())),
    };
    let wait = Duration::from_secs(max_processing_secs).saturating_add(ANSWER_MARGIN);
    let sent = stream
        .set_write_timeout(Some(READ_TIMEOUT))
        .and_then(|()| stream.set_read_timeout(Some(wait)))
        .and_then(|()| stream.write_all(format!("{}\n", raw.len()).as_bytes()))
        .and_then(|()| stream.write_all(raw));
    if let Err(e) = sent {
        return not_taken(format!("cannot hand the message over: {e}"));
    }
    let mut reply = Vec::new();
    if let Err(e) = stream.take(ANSWER_LIMIT).read_to_end(&mut reply) {
        return not_taken(format!("no answer from the daemon: {e}"));
    }
    parse_answer(&String::from_utf8_lossy(&reply))
}

/// Reads the daemon's answer; anything else is no answer.
fn parse_answer(reply: &str) -> HandOff {
    if reply.is_empty() {
        return HandOff::NotTaken { why: "the daemon closed without an answer".into() };
    }
    let Some((first, said)) = reply.split_once('\n') else {
        return HandOff::NotTaken { why: "the daemon's answer was cut short".into() };
    };
    match first.strip_prefix("applied ").and_then(|c| c.parse::<i32>().ok()) {
        Some(code @ (super::pipe::EX_OK | super::pipe::EX_TEMPFAIL)) => {
            HandOff::Answered { code, said: said.to_string() }
        }
        _ if first == "refused" => HandOff::NotTaken { why: format!("the daemon refused it: {said}") },
        _ => HandOff::NotTaken { why: "the daemon's answer cannot be read".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_answer_with_a_known_exit_code_is_taken() {
        assert_eq!(
            parse_answer("applied 0\nopened ticket #3"),
            HandOff::Answered { code: 0, said: "opened ticket #3".into() }
        );
        assert_eq!(
            parse_answer("applied 75\ntemporary failure\nwith a second line"),
            HandOff::Answered { code: 75, said: "temporary failure\nwith a second line".into() }
        );
        for reply in
            ["", "applied", "applied 0", "applied 1\nx", "applied -3\nx", "applied x\ny", "opened\n", "refused"]
        {
            let got = parse_answer(reply);
            assert!(matches!(got, HandOff::NotTaken { .. }), "{reply:?} gave {got:?}");
        }
        assert_eq!(
            parse_answer("refused\nintake stopped"),
            HandOff::NotTaken { why: "the daemon refused it: intake stopped".into() }
        );
    }
}
