//! Forgetting a person (data protection): a contact's name, address, the bodies and
//! attachments of their messages, their quarantined mail, portal account and
//! knowledge-base activity go; their tickets stay, with their statistics, under a contact
//! whose address is a placeholder. Blobs go only when nothing else refers to them (they are
//! shared by content) and no backup is running. The log names the contact's id, never the
//! address.

use std::collections::HashSet;

use crate::App;
use crate::domain::{ContactId, EmailAddress};
use crate::store::{ForgetPlan, ForgetReport, StoreError};

/// Why nothing was forgotten.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    /// No contact has this address.
    #[error("no contact {0}")]
    NoContact(EmailAddress),
    /// The address is the desk's own or a staff member's: not a customer to forget.
    #[error("{0} is the desk's or a staff member's address; only customers are forgotten")]
    Ours(EmailAddress),
    /// The store failed; nothing was changed (or, for blobs, see the message).
    #[error("forgetting a contact: {0}")]
    Store(#[from] StoreError),
}

/// What forgetting a contact did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Forgotten {
    /// The contact (the id stays; the log names it).
    pub contact: ContactId,
    /// The address they have now.
    pub placeholder: String,
    /// The rows removed or emptied, by kind.
    #[serde(flatten)]
    pub rows: ForgetReport,
    /// Blob files deleted (their attachments and raw mail nothing else refers to).
    pub blobs_removed: usize,
    /// Blob files of theirs nothing refers to any more but not deleted now (written in
    /// the last hour, or a backup is running): the hourly clean-up deletes them.
    pub blobs_left: usize,
}

/// The address a forgotten contact gets: `.invalid` cannot receive mail (RFC 2606), and
/// the id makes it unique; no real address can take it, since mail from `.invalid`
/// cannot reach us.
pub fn placeholder(contact: ContactId) -> String {
    format!("forgotten-{}@invalid", contact.0)
}

/// Whether `raw` (a whole mail) holds `address` anywhere, in any case.
fn mentions(raw: &[u8], address: &str) -> bool {
    let needle = address.as_bytes();
    !needle.is_empty() && raw.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Forgets the contact with address `email` (see the module's comment). A contact who
/// writes again afterwards is a new contact.
pub async fn forget(app: &App, email: &EmailAddress) -> Result<Forgotten, ForgetError> {
    let mut db = app.store.conn().await?;
    if super::roster::is_ours(app, &mut db, email).await? {
        return Err(ForgetError::Ours(email.clone()));
    }
    let Some(contact) = db.contact_by_email(email.as_str()).await? else {
        return Err(ForgetError::NoContact(email.clone()));
    };
    let quarantined = quarantined_mail_of(app, &mut db, email).await?;
    db.release().await;
    let plan = ForgetPlan {
        contact: contact.id,
        address: email.as_str().to_string(),
        placeholder: placeholder(contact.id),
        visitor: super::kb_pages::visitor_key(app, &format!("contact:{}", contact.id.0)),
        quarantined,
    };
    let mut tx = app.store.begin().await?;
    let rows = tx.forget_contact(&plan).await?;
    tx.commit().await?;
    let (blobs_removed, blobs_left) = remove_blobs(app, &rows.blobs).await?;
    // At warn, so that the record of what cannot be undone is kept at the level commands
    // log by default.
    tracing::warn!(
        contact = %contact.id,
        comments = rows.comments_emptied,
        attachments = rows.attachments,
        quarantined = rows.quarantined,
        blobs_removed,
        blobs_left,
        "forgot a contact's personal data"
    );
    Ok(Forgotten { contact: contact.id, placeholder: plan.placeholder, rows, blobs_removed, blobs_left })
}

/// The quarantine entries whose raw mail names `email`.
async fn quarantined_mail_of(
    app: &App,
    db: &mut crate::store::Conn,
    email: &EmailAddress,
) -> Result<Vec<i64>, StoreError> {
    let entries = db.list_quarantine().await?;
    let blobs = app.store.blobs.clone();
    let address = email.as_str().to_string();
    let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<i64>> {
        let mut found = Vec::new();
        for entry in entries {
            if blobs.get(&entry.raw_sha256)?.is_some_and(|raw| mentions(&raw, &address)) {
                found.push(entry.id);
            }
        }
        Ok(found)
    })
    .await?;
    found.map_err(StoreError::Blob)
}

/// Deletes those of `candidates` nothing refers to any more; returns (deleted, left for
/// the hourly clean-up).
async fn remove_blobs(app: &App, candidates: &HashSet<String>) -> Result<(usize, usize), StoreError> {
    if candidates.is_empty() {
        return Ok((0, 0));
    }
    let mut db = app.store.conn().await?;
    let referenced = db.referenced_blobs().await?;
    db.release().await;
    let unreferenced = candidates.iter().filter(|sha| !referenced.contains(*sha)).count();
    let blobs = app.store.blobs.clone();
    let candidates = candidates.clone();
    let removed = tokio::task::spawn_blocking(move || {
        blobs.remove_unreferenced(&candidates, &referenced, crate::app::BLOB_GRACE)
    })
    .await?
    .map_err(StoreError::Blob)?;
    // Paused by a backup: every unreferenced one waits for the clean-up.
    Ok(removed.map_or((0, unreferenced), |swept| (swept.removed, swept.kept)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_mail_names_an_address_in_any_case() {
        assert!(mentions(b"From: Jane <Jane.Doe@Example.com>\r\n", "jane.doe@example.com"));
        assert!(!mentions(b"From: John <john@example.com>\r\n", "jane.doe@example.com"));
        assert!(!mentions(b"x", ""));
        assert_eq!(placeholder(ContactId(42)), "forgotten-42@invalid");
    }
}
