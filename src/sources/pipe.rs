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
pub async fn ingest(app: &App, input: Input) -> (i32, Result<Outcome, DeskError>) {
    let result = match input {
        Input::File(path) => desk::receive_file(app, &path, &Source::Pipe).await,
        Input::Stdin => from_stdin(app).await,
    };
    let code = if result.is_ok() { EX_OK } else { EX_TEMPFAIL };
    (code, result)
}

async fn from_stdin(app: &App) -> Result<Outcome, DeskError> {
    let limit = app.config.limits.max_message_bytes;
    let spool_dir = app.config.data_dir.clone();
    let read = tokio::task::spawn_blocking(move || -> Result<Result<Vec<u8>, tempfile::NamedTempFile>, DeskError> {
        let unreadable = |source| DeskError::Read { what: "from standard input".into(), source };
        let mut stdin = std::io::stdin().lock();
        let mut head = Vec::new();
        (&mut stdin).take(limit + 1).read_to_end(&mut head).map_err(unreadable)?;
        if head.len() as u64 <= limit {
            return Ok(Ok(head));
        }
        // Too large to hold: spool the whole message to a file for the quarantine.
        let spooling = |e| DeskError::Temporary(StoreError::file("spool a large message in", &spool_dir)(e));
        let mut spool = tempfile::NamedTempFile::new_in(&spool_dir).map_err(spooling)?;
        std::io::Write::write_all(&mut spool, &head).map_err(spooling)?;
        // A failed copy is standard input's or the spool file's: io::copy does not say.
        std::io::copy(&mut stdin, &mut spool).map_err(spooling)?;
        Ok(Err(spool))
    })
    .await;
    match read.map_err(|e| DeskError::Temporary(e.into()))?? {
        Ok(raw) => desk::receive(app, &raw, &Source::Pipe).await,
        Err(spool) => desk::receive_file(app, spool.path(), &Source::Pipe).await,
    }
}
