//! Where raw mail comes from: a local Maildir (inside `serve`) and a pipe from the MTA
//! (`maildesk ingest`); IMAP joins later. Sources know nothing about tickets: they hand
//! bytes to `desk::receive` and let go of a message only after it returned.

pub mod maildir;
pub mod pipe;
