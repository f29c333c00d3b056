//! `maildesk ingest`: one message from a file or standard input, as an MTA's pipe
//! delivery runs it, answered with sendmail-style exit codes. The message is read before
//! anything else starts: a running daemon takes it over (`handoff`), or this process
//! applies it.

use std::io::Read;
use std::path::PathBuf;

use crate::App;
use crate::desk::{self, DeskError, Outcome};
use crate::domain::Source;
use crate::store::StoreError;

/// Exit code: the message was applied, recognised as a duplicate, or quarantined.
pub const EX_OK: i32 = 0;
/// Exit code (EX_TEMPFAIL): nothing changed; the MTA should try again later.
pub const EX_TEMPFAIL: i32 = 75;

/// Where the message comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

/// Applies one message already read (see [`read`]) and says which exit code the MTA should
/// see. A message over `limits.max_message_bytes` is quarantined without being held in
/// memory whole.
pub async fn apply(app: &App, message: Result<Message, DeskError>) -> (i32, Result<Outcome, DeskError>) {
    let result = match message {
        Ok(Message::Whole(raw)) => desk::receive(app, &raw, &Source::Pipe).await,
        Ok(Message::TooLarge(path)) => desk::receive_file(app, &path, &Source::Pipe).await,
        Ok(Message::Spooled(spool)) => desk::receive_file(app, spool.path(), &Source::Pipe).await,
        Err(e) => Err(e),
    };
    let code = if result.is_ok() { EX_OK } else { EX_TEMPFAIL };
    (code, result)
}

/// What `ingest` says about an outcome (text from the message, such as a quarantine's
/// reason, is in it as it is: escape it before printing).
pub fn describe(outcome: &Outcome) -> String {
    use crate::desk::Outcome::*;
    match outcome {
        Opened(t) => format!("opened ticket #{t}"),
        Commented(t) => format!("added a comment to ticket #{t}"),
        Refused(t) => format!("refused the staff commands for ticket #{t}; the sender was told why"),
        Automatic(kind) => format!("recorded automatic mail ({})", kind.as_str()),
        Blocked => "recorded mail from a blocked sender; no ticket, no answer".into(),
        Duplicate => "already applied; nothing changed".into(),
        Quarantined(reason) => format!("quarantined: {reason}"),
    }
}

/// A message read from its [`Input`].
pub enum Message {
    /// Within the limit: all of it.
    Whole(Vec<u8>),
    /// A file over the limit, left where it is.
    TooLarge(PathBuf),
    /// Standard input over the limit, copied to a file.
    Spooled(tempfile::NamedTempFile),
}

/// Reads `input` whole when it is at most `limit` bytes; a larger one is left in its file,
/// or for standard input spooled into `spool_dir`.
pub fn read(input: Input, limit: u64, spool_dir: &std::path::Path) -> Result<Message, DeskError> {
    let path = match input {
        Input::File(path) => path,
        Input::Stdin => return read_stdin(limit, spool_dir),
    };
    let unreadable = |source| DeskError::Read { what: format!("in {}", path.display()), source };
    let file = std::fs::File::open(&path).map_err(unreadable)?;
    // A file that says it is over the limit is not read at all; one that says less (or is
    // no regular file) is read only up to the limit.
    let size = file.metadata().map_err(unreadable)?.len();
    if size > limit {
        return Ok(Message::TooLarge(path));
    }
    // Room for what the file says it holds, and one byte to find it ends there: read in
    // one call, not in doubling steps from 32 bytes.
    let mut raw = Vec::with_capacity(usize::try_from(size + 1).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut raw).map_err(unreadable)?;
    Ok(if raw.len() as u64 <= limit { Message::Whole(raw) } else { Message::TooLarge(path) })
}

fn read_stdin(limit: u64, spool_dir: &std::path::Path) -> Result<Message, DeskError> {
    let unreadable = |source| DeskError::Read { what: "from standard input".into(), source };
    let mut stdin = std::io::stdin().lock();
    let mut head = Vec::new();
    (&mut stdin).take(limit + 1).read_to_end(&mut head).map_err(unreadable)?;
    if head.len() as u64 <= limit {
        return Ok(Message::Whole(head));
    }
    // Too large to hold: spool the whole message to a file for the quarantine (in the
    // data directory, which a first message may have to make).
    crate::app::create_private_dir(spool_dir).map_err(DeskError::Temporary)?;
    let spooling = |e| DeskError::Temporary(StoreError::file("spool a large message in", spool_dir)(e));
    let mut spool = tempfile::NamedTempFile::new_in(spool_dir).map_err(spooling)?;
    std::io::Write::write_all(&mut spool, &head).map_err(spooling)?;
    // A failed copy is standard input's or the spool file's: io::copy does not say.
    std::io::copy(&mut stdin, &mut spool).map_err(spooling)?;
    Ok(Message::Spooled(spool))
}
