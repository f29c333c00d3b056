//! A primary contact's part in their organisation (MISSION ACC8): the list of its contacts
//! with their portal access, inviting a colleague — an address of the organisation's
//! domains, or a contact of it already — and deactivating or reactivating a standard
//! colleague's account. Primary contacts themselves are named by staff
//! (`maildesk contact role`); nobody here can change another primary contact or themselves.
//! Every function refuses a visitor who is not a primary contact with [`OrgError::NotPrimary`],
//! which the portal answers with 404.

use tracing::info;

use super::accounts::{AccountError, SignedIn, limit};
use super::contacts::{self, ContactError};
use crate::App;
use crate::domain::{ContactId, EmailAddress, OrganisationId};
use crate::store::{StoreError, now};

/// Why an organisation action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    /// The visitor is not a primary contact (the page does not exist for them).
    #[error("Not found.")]
    NotPrimary,
    /// The address is not one of the organisation's.
    #[error("{0} is not an address of your organisation.")]
    NotColleague(String),
    /// The contact is not one of the organisation's, or is a primary contact or the
    /// visitor themselves, whom only staff manage.
    #[error("Only your organisation's other standard contacts can be changed here.")]
    NotManaged,
    /// The colleague has no portal account to deactivate or reactivate.
    #[error("{0} has no account yet.")]
    NoAccount(String),
    /// The invitation was refused (has an account, bounces, held back).
    #[error("{0}")]
    Invite(#[from] ContactError),
    /// Too many attempts, or the store failed.
    #[error("{0}")]
    Account(#[from] AccountError),
}

impl From<StoreError> for OrgError {
    fn from(e: StoreError) -> OrgError {
        OrgError::Account(AccountError::Store(e))
    }
}

/// A colleague's access to the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// They have an account and may log in.
    Active,
    /// Their account was deactivated: they cannot log in.
    Deactivated,
    /// An invitation link was sent and works until the given Unix second.
    Invited(i64),
    /// No account and no open invitation.
    None,
}

/// One contact of the organisation, as its primary contacts see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The contact.
    pub contact: ContactId,
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// Whether they are a primary contact.
    pub is_primary: bool,
    /// Whether it is the visitor.
    pub is_you: bool,
    /// Their portal access.
    pub access: Access,
}

/// The organisation `who` is a primary contact of: its name and contacts by address.
pub async fn members(app: &App, who: &SignedIn) -> Result<(String, Vec<Member>), OrgError> {
    let organisation = who.primary_of.ok_or(OrgError::NotPrimary)?;
    let mut db = app.store.conn().await?;
    let name = db.organisation_name(organisation).await?.unwrap_or_default();
    let rows = db.organisation_members(organisation, now()).await?;
    let members = rows
        .into_iter()
        .map(|r| Member {
            is_you: r.id == who.contact,
            access: match (r.account_active, r.invited_until) {
                (Some(true), _) => Access::Active,
                (Some(false), _) => Access::Deactivated,
                (None, Some(until)) => Access::Invited(until),
                (None, None) => Access::None,
            },
            contact: r.id,
            email: r.email,
            name: r.name,
            is_primary: r.is_primary,
        })
        .collect();
    Ok((name, members))
}

/// Invites `email`, a colleague of `who`'s organisation (an address of its domains, or one
/// of its contacts), to the portal: a new contact if unknown; the mail says who invited
/// them and counts in the caps on automatic mail.
pub async fn invite(app: &App, who: &SignedIn, email: &str) -> Result<(), OrgError> {
    let organisation = who.primary_of.ok_or(OrgError::NotPrimary)?;
    limit(app, &format!("org-invite:contact:{}", who.contact.0), app.config().portal.attempts_per_address).await?;
    let shown = email.trim().chars().take(100).collect::<String>();
    let address = EmailAddress::parse(email.trim()).map_err(|_| OrgError::NotColleague(shown.clone()))?;
    if !is_colleague(app, organisation, &address).await? {
        return Err(OrgError::NotColleague(shown));
    }
    let by = if who.name.is_empty() { who.email.clone() } else { format!("{} <{}>", who.name, who.email) };
    let queued = contacts::invite(app, &address, Some(by)).await?;
    info!(by = who.contact.0, invite = queued.invite, "colleague invited");
    Ok(())
}

/// Deactivates (`active` false: they cannot log in, their sessions end) or reactivates the
/// account of `contact`, a standard colleague of `who`.
pub async fn set_active(app: &App, who: &SignedIn, contact: ContactId, active: bool) -> Result<(), OrgError> {
    let organisation = who.primary_of.ok_or(OrgError::NotPrimary)?;
    let mut tx = app.store.begin().await?;
    let Some(row) = tx.contact(contact).await? else { return Err(OrgError::NotManaged) };
    if row.organisation_id != Some(organisation) || row.is_primary || contact == who.contact {
        return Err(OrgError::NotManaged);
    }
    if !tx.set_account_active(contact, active).await? {
        return Err(OrgError::NoAccount(row.email));
    }
    if !active {
        tx.delete_sessions_of(contact, None).await?;
    }
    tx.commit().await?;
    info!(by = who.contact.0, contact = contact.0, active, "colleague's account changed");
    Ok(())
}

/// Whether `address` belongs to `organisation`: a contact of it, or an address of one of
/// the domains the config maps to it.
async fn is_colleague(app: &App, organisation: OrganisationId, address: &EmailAddress) -> Result<bool, StoreError> {
    let mut db = app.store.conn().await?;
    // Unknown, or of no organisation yet: the domain decides.
    if let Some(theirs) = db.contact_by_email(address.as_str()).await?.and_then(|c| c.organisation_id) {
        return Ok(theirs == organisation);
    }
    let name = db.organisation_name(organisation).await?;
    Ok(app.config().organisation_for(address.domain()).is_some_and(|o| Some(&o.name) == name.as_ref()))
}
