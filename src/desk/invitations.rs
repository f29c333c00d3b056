//! Invitations to the portal, in one place: made when a first request arrives or staff
//! invite a contact, given a token when their mail is sent, redeemed once. The token is
//! made only when the mail goes out and stored only as its hash: the raw token never sits
//! in the database, not even in the outbox row, only in the mail itself.

use crate::App;
use crate::domain::ContactId;
use crate::domain::TokenPurpose;
use crate::notice::{AccountData, AcknowledgementData, InviteData, Notice, NoticeKind};
use crate::store::{OutboxRow, StoreError, Tx, now, sha256_hex};

/// Creates the invitation of `contact_id` unless it has one; returns its id when new.
pub async fn create(tx: &mut Tx, contact_id: ContactId) -> Result<Option<i64>, StoreError> {
    tx.create_invite(contact_id).await
}

/// Makes the invitation of `contact_id` (new, or renewed when it was not used: the old
/// link stops working once the new one is sent); none when it was used already.
pub async fn renew(tx: &mut Tx, contact_id: ContactId) -> Result<Option<i64>, StoreError> {
    tx.renew_invite(contact_id).await
}

/// A new token: 256 random bits as 64 hex digits.
pub fn new_token() -> String {
    (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect()
}

/// What is stored of `token`: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Uses the invitation whose link carries `token`: its contact when the token is known,
/// has not expired and was not used — and then never again.
pub async fn redeem(app: &App, token: &str) -> Result<Option<ContactId>, StoreError> {
    app.store.conn().await?.redeem_invite(&token_hash(token)).await
}

/// Gives each link among claimed `rows` a new token just before it is rendered, so that
/// a token never sits in the database in the clear: into the returned row's payload (never
/// written back) goes the token, into the store only its hash. An invitation (its own mail,
/// or riding on an acknowledgement) gets it on the invitation, valid `portal.invite_days`
/// (a resend replaces the earlier token); a password reset gets a reset token valid
/// `portal.reset_minutes`, an address verification a verify token valid
/// `portal.verify_hours`. Other rows come back as they are. An invitation used meanwhile:
/// its own mail is marked sent (`None`: nothing is left to send), an acknowledgement goes
/// without the link. All tokens of a claim are stored in one transaction, before any is
/// sent.
pub async fn mint_tokens(app: &App, rows: &[OutboxRow]) -> Result<Vec<Option<OutboxRow>>, StoreError> {
    let carries = |row: &OutboxRow| match row.kind.parse::<NoticeKind>() {
        Ok(
            kind @ (NoticeKind::Invite
            | NoticeKind::Acknowledgement
            | NoticeKind::PasswordReset
            | NoticeKind::VerifyAddress),
        ) => Notice::from_payload(kind, &row.payload)
            .ok()
            .filter(|n| invitation_of(n).is_some() || account_link_of(n).is_some()),
        _ => None,
    };
    let links: Vec<Option<Notice>> = rows.iter().map(carries).collect();
    if links.iter().all(Option::is_none) {
        return Ok(rows.iter().cloned().map(Some).collect());
    }
    let config = app.config();
    let days = config.portal.invite_days;
    let expires = now() + i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX / 2);
    let seconds = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 2);
    let reset_for = seconds(config.portal.reset_minutes.saturating_mul(60));
    let verify_for = seconds(config.portal.verify_hours.saturating_mul(3600));
    let mut tx = app.store.begin().await?;
    let mut out = Vec::with_capacity(rows.len());
    for (row, link) in rows.iter().zip(links) {
        // Not carrying a link, or a bad payload that rendering will report.
        let Some(notice) = link else {
            out.push(Some(row.clone()));
            continue;
        };
        let token = new_token();
        let notice = match notice {
            Notice::PasswordReset(data) => {
                let contact = data.contact.expect("carries a reset");
                tx.insert_account_token(&token_hash(&token), TokenPurpose::Reset, contact, now() + reset_for, None)
                    .await?;
                Notice::PasswordReset(AccountData { token: Some(token), ..data })
            }
            Notice::VerifyAddress(data) => {
                let contact = data.contact.expect("carries a verification");
                let name = data.name.as_deref();
                tx.insert_account_token(&token_hash(&token), TokenPurpose::Verify, contact, now() + verify_for, name)
                    .await?;
                Notice::VerifyAddress(AccountData { token: Some(token), ..data })
            }
            notice => {
                let invite = invitation_of(&notice).expect("carries an invitation");
                let fresh = tx.set_invite_token(invite, &token_hash(&token), expires).await?;
                match (notice, fresh) {
                    (Notice::Invite(_), false) => {
                        tx.mark_sent(row.id).await?;
                        out.push(None);
                        continue;
                    }
                    (Notice::Invite(data), true) => Notice::Invite(InviteData { token: Some(token), ..data }),
                    (Notice::Acknowledgement(data), fresh) => {
                        let (invite, token) = if fresh { (data.invite, Some(token)) } else { (None, None) };
                        Notice::Acknowledgement(AcknowledgementData { invite, token, ..data })
                    }
                    (other, _) => other,
                }
            }
        };
        let payload = notice.payload().map_err(|source| StoreError::Encode { what: "a link's payload", source })?;
        out.push(Some(OutboxRow { payload, ..row.clone() }));
    }
    tx.commit().await?;
    Ok(out)
}

/// The contact a password reset or address verification mail is for, if the notice is one.
fn account_link_of(notice: &Notice) -> Option<crate::domain::ContactId> {
    match notice {
        Notice::PasswordReset(data) | Notice::VerifyAddress(data) => data.contact,
        _ => None,
    }
}

/// The invitation a notice carries, if any.
fn invitation_of(notice: &Notice) -> Option<i64> {
    match notice {
        Notice::Invite(data) => Some(data.invite),
        Notice::Acknowledgement(data) => data.invite,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_only_as_their_hash() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), sha256_hex(a.as_bytes()));
        assert_ne!(token_hash(&a), a);
    }
}
