//! `maildesk ingest`: one message from a file or standard input, as an MTA's pipe
//! delivery runs it, answered with sendmail-style exit codes.

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

/// Applies one message and says which exit code the MTA should see. A message over
/// `limits.max_message_bytes` is quarantined without being held in memory whole.
///
/// The message is read on the calling thread: `ingest` is a process of its own, with
/// nothing else to run meanwhile, and a blocking thread for a read is one more thread
/// started for each message.
pub async fn ingest(app: &App, input: Input) -> (i32, Result<Outcome, DeskError>) {
    let config = app.config();
    let limit = config.limits.max_message_bytes;
    let result = match read(input, limit, &config.data_dir) {
        Ok(Message::Whole(raw)) => desk::receive(app, &raw, &Source::Pipe).await,
        Ok(Message::TooLarge(path)) => desk::receive_file(app, &path, &Source::Pipe).await,
        Ok(Message::Spooled(spool)) => desk::receive_file(app, spool.path(), &Source::Pipe).await,
        Err(e) => Err(e),
    };
    let code = if result.is_ok() { EX_OK } else { EX_TEMPFAIL };
    (code, result)
}

/// A message read from its [`Input`].
enum Message {
    /// Within the limit: all of it.
    Whole(Vec<u8>),
    /// A file over the limit, left where it is.
    TooLarge(PathBuf),
    /// Standard input over the limit, copied to a file.
    Spooled(tempfile::NamedTempFile),
}

/// Reads `input` whole when it is at most `limit` bytes; a larger one is left in its file,
/// or for standard input spooled into `spool_dir`.
fn read(input: Input, limit: u64, spool_dir: &std::path::Path) -> Result<Message, DeskError> {
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
    // Too large to hold: spool the whole message to a file for the quarantine.
    let spooling = |e| DeskError::Temporary(StoreError::file("spool a large message in", spool_dir)(e));
    let mut spool = tempfile::NamedTempFile::new_in(spool_dir).map_err(spooling)?;
    std::io::Write::write_all(&mut spool, &head).map_err(spooling)?;
    // A failed copy is standard input's or the spool file's: io::copy does not say.
    std::io::copy(&mut stdin, &mut spool).map_err(spooling)?;
    Ok(Message::Spooled(spool))
}
