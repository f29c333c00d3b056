//! Where raw mail comes from: a local Maildir (inside `serve`) and a pipe from the MTA
//! (`maildesk ingest`) and IMAP mailboxes (inside `serve`). Sources know nothing about tickets: they hand
//! bytes to `desk::receive` and let go of a message only after it returned.

pub mod handoff;
pub mod imap;
pub mod lease;
pub mod maildir;
pub mod pipe;
