//! Commands whose tagged answer is read. async-imap 0.12 ends the answers of FETCH, STORE
//! and EXPUNGE at the tagged response without looking at its status, so a `NO` reads as
//! "no data" (a message the server failed to give us would look expunged, and a refused
//! EXPUNGE would look done), and it fails a SELECT on an untagged warning such as
//! `* NO [ALERT] Mailbox is at 90% of quota` even when the SELECT itself succeeds. These run
//! the command and read responses up to its own tag. Untagged news read on the way (EXISTS
//! and the like) is dropped: a pass searches again until it finds nothing new.

use async_imap::error::Error;
use async_imap::imap_proto::{AttributeValue, MailboxDatum, Response, ResponseCode, Status};

use super::connect::ImapSession;

/// Runs `command`, hands each untagged response before its tagged `OK` to `each`; a
/// tagged `NO` or `BAD` is `Error::No` / `Error::Bad` in async-imap's wording, so that
/// [`super::error::refusal`] reads it the same way.
pub async fn run(session: &mut ImapSession, command: &str, mut each: impl FnMut(&Response<'_>)) -> Result<(), Error> {
    let id = session.run_command(command).await?;
    loop {
        let Some(response) = session.read_response().await? else { return Err(Error::ConnectionLost) };
        match response.parsed() {
            Response::Done { tag, status, outcome } if *tag == id => {
                let detail = || format!("code: {:?}, info: {:?}", outcome.code, outcome.information);
                return match status {
                    Status::Ok => Ok(()),
                    Status::No => Err(Error::No(detail())),
                    Status::Bad => Err(Error::Bad(detail())),
                    other => Err(Error::Io(std::io::Error::other(format!("{command}: unexpected {other:?}")))),
                };
            }
            // Another command's late answer: not ours.
            Response::Done { .. } => {}
            untagged => each(untagged),
        }
    }
}

/// What SELECT said about a folder.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// UIDVALIDITY (0 when the server sent none).
    pub uid_validity: u32,
    /// Whether keywords can be stored (PERMANENTFLAGS has `\*` or `keyword`).
    pub keywords: bool,
    /// Warnings the server gave while selecting (`* NO [ALERT] …`), as it gave them.
    pub warnings: Vec<String>,
}

/// Selects `folder` (already quoted); `keyword` is the keyword we would store.
pub async fn select(session: &mut ImapSession, quoted: &str, keyword: &str) -> Result<Selected, Error> {
    let mut selected = Selected::default();
    run(session, &format!("SELECT {quoted}"), |response| match response {
        Response::Data { status: Status::Ok, outcome } => match &outcome.code {
            Some(ResponseCode::UidValidity(v)) => selected.uid_validity = *v,
            Some(ResponseCode::PermanentFlags(flags)) => {
                selected.keywords = flags.iter().any(|f| f == "\\*" || f.eq_ignore_ascii_case(keyword));
            }
            _ => {}
        },
        Response::Data { status, outcome } => {
            let code = outcome.code.as_ref().map(|c| format!("[{c:?}] ").to_ascii_uppercase()).unwrap_or_default();
            let text = outcome.information.as_deref().unwrap_or("");
            selected.warnings.push(format!("{} {code}{text}", format!("{status:?}").to_ascii_uppercase()));
        }
        _ => {}
    })
    .await?;
    Ok(selected)
}

/// One message as FETCH gave it.
#[derive(Debug, Default)]
pub struct Fetched {
    /// RFC822.SIZE, when asked for.
    pub size: Option<u32>,
    /// The whole message, when `BODY.PEEK[]` was asked for.
    pub body: Option<Vec<u8>>,
}

/// Fetches `items` of the message `uid`; `None` when the server answered OK without it
/// (it was expunged).
pub async fn fetch(session: &mut ImapSession, uid: u32, items: &str) -> Result<Option<Fetched>, Error> {
    let mut found: Option<Fetched> = None;
    run(session, &format!("UID FETCH {uid} {items}"), |response| {
        let Response::Fetch(_, attributes) = response else { return };
        if !attributes.iter().any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid)) {
            return;
        }
        // A server may split a message's data over several FETCH responses, and a flag
        // change by someone else arrives as one too: merge them all.
        let fetched = found.get_or_insert_with(Fetched::default);
        for attribute in attributes {
            match attribute {
                AttributeValue::Rfc822Size(size) => fetched.size = Some(*size),
                AttributeValue::BodySection { data: Some(data), .. } => fetched.body = Some(data.to_vec()),
                _ => {}
            }
        }
    })
    .await?;
    Ok(found)
}

/// The UIDs `UID SEARCH criteria` finds, and whether the server announced new mail
/// (`EXISTS`) while answering, which the next pass must look for.
pub async fn search(session: &mut ImapSession, criteria: &str) -> Result<(Vec<u32>, bool), Error> {
    let (mut uids, mut exists) = (Vec::new(), false);
    run(session, &format!("UID SEARCH {criteria}"), |response| match response {
        Response::MailboxData(MailboxDatum::Search(found)) => uids.extend_from_slice(found),
        Response::MailboxData(MailboxDatum::Exists(_)) => exists = true,
        _ => {}
    })
    .await?;
    Ok((uids, exists))
}
