//! What we know about a contact and what may be done for them by hand: their tickets and
//! portal access, and inviting them to the portal (again). Reads go through the store;
//! the invitation is one transaction that renews the invite and queues its mail.

use serde::Serialize;

use super::notify;
use crate::App;
use crate::domain::{ContactId, EmailAddress, TicketNumber};
use crate::store::{ContactRow, ContactTicketRow, StoreError, Tx};

/// Why a contact could not be shown or invited. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// No contact has this address.
    #[error("no contact {0}")]
    NoContact(EmailAddress),
    /// Mail to the address fails for good.
    #[error("{email} bounces ({reason}); no invitation was queued")]
    Bouncing {
        /// The address.
        email: EmailAddress,
        /// Why it is known to bounce.
        reason: String,
    },
    /// The contact has a portal account already.
    #[error("{0} signed up already; no invitation was queued")]
    SignedUp(EmailAddress),
    /// The address is the desk's own or a staff member's: the portal is for customers.
    #[error("{0} is the desk's or a staff member's address; the portal is for customers")]
    Ours(EmailAddress),
    /// Loop protection withheld the mail (caps on automatic mail); nothing was queued.
    #[error("mail to {0} is held back by the caps on automatic mail; try again later")]
    Withheld(EmailAddress),
    /// Only a contact of an organisation can be its primary contact.
    #[error("{0} belongs to no organisation (map their domain in [organisations])")]
    NoOrganisation(EmailAddress),
    /// The store failed.
    #[error("contact {email}: {source}")]
    Store {
        /// The contact.
        email: EmailAddress,
        /// What failed.
        #[source]
        source: StoreError,
    },
}

/// A contact's access to the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum PortalAccess {
    /// Never invited.
    #[serde(rename = "not-invited")]
    None,
    /// An invitation is made but its mail not sent yet (no link works now).
    Queued,
    /// An invitation link was sent and works until `expires_at` (Unix seconds).
    Invited {
        /// When the link stops working.
        expires_at: i64,
    },
    /// The link sent expired unused.
    Expired {
        /// When it stopped working.
        expires_at: i64,
    },
    /// They signed up through their invitation.
    SignedUp {
        /// When, Unix seconds.
        at: i64,
    },
}

/// Everything `contact show` tells about a contact.
#[derive(Debug, Clone, Serialize)]
pub struct ContactDetail {
    /// The contact, with organisation and ticket count.
    #[serde(flatten)]
    pub contact: ContactRow,
    /// Their tickets, newest first.
    pub ticket_list: Vec<ContactTicketRow>,
    /// Their portal access.
    pub portal: PortalAccess,
    /// Why mail to them bounces, if it does.
    pub bouncing: Option<String>,
}

/// The contact with address `email` and what is known about them.
pub async fn detail(app: &App, email: &EmailAddress) -> Result<ContactDetail, ContactError> {
    let store_err = |source| ContactError::Store { email: email.clone(), source };
    let mut db = app.store.conn().await.map_err(store_err)?;
    let contact = db.contact_by_email(email.as_str()).await.map_err(store_err)?;
    let contact = contact.ok_or_else(|| ContactError::NoContact(email.clone()))?;
    let invite = db.contact_invite(contact.id).await.map_err(store_err)?;
    let portal = match invite {
        None => PortalAccess::None,
        Some(i) => match (i.used_at, i.has_token, i.expires_at) {
            (Some(at), _, _) => PortalAccess::SignedUp { at },
            (None, true, Some(expires_at)) if expires_at >= crate::store::now() => PortalAccess::Invited { expires_at },
            (None, true, Some(expires_at)) => PortalAccess::Expired { expires_at },
            _ => PortalAccess::Queued,
        },
    };
    Ok(ContactDetail {
        ticket_list: db.contact_tickets(contact.id).await.map_err(store_err)?,
        bouncing: db.bouncing_reason(email.as_str()).await.map_err(store_err)?,
        contact,
        portal,
    })
}

/// Contacts by address; `organisation` (its name, any case) and `search` (part of the
/// address or name, any case) narrow the list when given.
pub async fn list(app: &App, organisation: Option<&str>, search: Option<&str>) -> Result<Vec<ContactRow>, StoreError> {
    app.store.conn().await?.list_contacts(organisation, search).await
}

/// Makes the contact with address `email` a primary contact of their organisation (they
/// see all its tickets, MISSION ACC8), or a standard one again. Refuses an unknown contact
/// and, for `primary`, one without an organisation.
pub async fn set_primary(app: &App, email: &EmailAddress, primary: bool) -> Result<(), ContactError> {
    let store_err = |source| ContactError::Store { email: email.clone(), source };
    let mut db = app.store.conn().await.map_err(store_err)?;
    let contact = db.contact_by_email(email.as_str()).await.map_err(store_err)?;
    let contact = contact.ok_or_else(|| ContactError::NoContact(email.clone()))?;
    if primary && contact.organisation_id.is_none() {
        return Err(ContactError::NoOrganisation(email.clone()));
    }
    db.set_primary_contact(contact.id, primary).await.map_err(store_err)?;
    Ok(())
}

/// An invitation queued by [`invite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteQueued {
    /// The invitation.
    pub invite: i64,
    /// The ticket its mail threads under (the contact's most recent), if they have one.
    pub ticket: Option<TicketNumber>,
}

/// Invites `email` to the portal now — a new contact (of the organisation its domain maps
/// to) when unknown — even when invited before (a new link replaces the old one, which
/// stops working at once). `by` names the colleague who asked, when a primary contact did
/// (their invitations count in the caps on automatic mail). Refuses an address that
/// bounces, one with an account already, and the desk's and staff's own addresses.
pub async fn invite(app: &App, email: &EmailAddress, by: Option<String>) -> Result<InviteQueued, ContactError> {
    let store_err = |source| ContactError::Store { email: email.clone(), source };
    let mut tx = app.store.begin().await.map_err(store_err)?;
    if super::roster::is_ours(app, &mut tx, email).await.map_err(store_err)? {
        return Err(ContactError::Ours(email.clone()));
    }
    if let Some(reason) = tx.bouncing_reason(email.as_str()).await.map_err(store_err)? {
        return Err(ContactError::Bouncing { email: email.clone(), reason });
    }
    let contact_id = upsert(app, &mut tx, email, "").await.map_err(store_err)?;
    if tx.account(contact_id).await.map_err(store_err)?.is_some() {
        return Err(ContactError::SignedUp(email.clone()));
    }
    let ticket = tx.latest_ticket_of(contact_id).await.map_err(store_err)?;
    let Some(invite) = super::invitations::renew(&mut tx, contact_id).await.map_err(store_err)? else {
        return Err(ContactError::SignedUp(email.clone()));
    };
    let name = tx.contact(contact_id).await.map_err(store_err)?.map(|c| c.name).filter(|n| !n.trim().is_empty());
    if !notify::invite_contact(app, &mut tx, ticket, invite, email, name, by).await.map_err(store_err)? {
        return Err(ContactError::Withheld(email.clone()));
    }
    tx.commit().await.map_err(store_err)?;
    app.outbox_wake.notify_one();
    Ok(InviteQueued { invite, ticket })
}

/// The contact for `address`, created when unknown (with `name`, which also fills an empty
/// one), in the organisation its domain is mapped to.
pub(super) async fn upsert(
    app: &App,
    tx: &mut Tx,
    address: &EmailAddress,
    name: &str,
) -> Result<ContactId, StoreError> {
    let organisation = match app.config().organisation_for(address.domain()) {
        Some(org) => Some(tx.upsert_organisation(&org.name).await?),
        None => None,
    };
    tx.upsert_contact(address, name, organisation).await
}

/// Forgets that mail to `email` bounces (`maildesk contact unbounce`), so that our mail
/// goes to it again; returns whether it was marked.
pub async fn unbounce(app: &App, email: &EmailAddress) -> Result<bool, ContactError> {
    let cleared = async { app.store.conn().await?.clear_bouncing(email.as_str()).await }.await;
    cleared.map_err(|source| ContactError::Store { email: email.clone(), source })
}
