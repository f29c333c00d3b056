//! `maildesk ingest`: one message from a file or standard input, as an MTA's pipe
//! delivery runs it, answered with sendmail-style exit codes.

use crate::App;
use crate::desk::{self, DeskError, Outcome};

/// Exit code: the message was applied, recognised as a duplicate, or quarantined.
pub const EX_OK: i32 = 0;
/// Exit code (EX_TEMPFAIL): nothing changed; the MTA should try again later.
pub const EX_TEMPFAIL: i32 = 75;

/// Applies one message and says which exit code the MTA should see.
pub async fn ingest(app: &App, raw: &[u8]) -> (i32, Result<Outcome, DeskError>) {
    let result = desk::receive(app, raw, "pipe").await;
    let code = if result.is_ok() { EX_OK } else { EX_TEMPFAIL };
    (code, result)
}
