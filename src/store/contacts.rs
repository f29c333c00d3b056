//! Rows about contacts as people look them up: who they are, their tickets, their portal
//! invitation and whether mail to them bounces.

use super::{Conn, Result, now, on_conn};
use crate::domain::{ContactId, OrganisationId, Role, Status, TicketNumber};

/// A contact as lists and detail views show it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ContactRow {
    /// Contact id.
    pub id: ContactId,
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// Their organisation's name, if any.
    pub organisation: Option<String>,
    /// Their organisation, if any.
    pub organisation_id: Option<OrganisationId>,
    /// Whether they are a primary contact of their organisation (they see all its tickets).
    pub is_primary: bool,
    /// How many tickets they are on, as requester or participant.
    pub tickets: i64,
    /// When they were first seen, Unix seconds.
    pub created_at: i64,
}

/// A ticket a contact is on.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ContactTicketRow {
    /// The ticket number.
    pub id: TicketNumber,
    /// Its status.
    pub status: Status,
    /// Its subject.
    pub subject: String,
    /// How the contact takes part.
    pub role: Role,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// A contact's portal invitation (never its token).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct InviteRow {
    /// Invitation id.
    pub id: i64,
    /// Whether a token was sent (and not reset since).
    pub has_token: bool,
    /// When the token stops working, Unix seconds.
    pub expires_at: Option<i64>,
    /// When it was used to sign up, Unix seconds.
    pub used_at: Option<i64>,
    /// When it was first created, Unix seconds.
    pub created_at: i64,
}

/// A contact of an organisation as its primary contacts see it in the portal.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    /// The contact.
    pub id: ContactId,
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// Whether they are a primary contact.
    pub is_primary: bool,
    /// Whether their account may log in; none without an account.
    pub account_active: Option<bool>,
    /// When their open invitation link stops working; none without one.
    pub invited_until: Option<i64>,
}

/// The columns of [`ContactRow`]; `concat!` it with a WHERE or ORDER clause.
macro_rules! contact_select {
    () => {
        "SELECT c.id, c.email, c.name, o.name AS organisation, c.organisation_id, c.is_primary, c.created_at,
            (SELECT COUNT(*) FROM tickets t
             WHERE t.requester_id = c.id
                OR EXISTS (SELECT 1 FROM ticket_participants tp WHERE tp.ticket_id = t.id AND tp.contact_id = c.id)
            ) AS tickets
         FROM contacts c
         LEFT JOIN organisations o ON o.id = c.organisation_id"
    };
}

/// A LIKE pattern matching `text` anywhere, its own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}

impl Conn {
    /// Contacts by address. `organisation` (its name, any case) and `search` (part of the
    /// address or name, any case) narrow the list when given.
    pub async fn list_contacts(&mut self, organisation: Option<&str>, search: Option<&str>) -> Result<Vec<ContactRow>> {
        const SQL: &str = concat!(
            contact_select!(),
            " WHERE ($1 = '' OR LOWER(o.name) = LOWER($1))
              AND ($2 = '' OR LOWER(c.email) LIKE $2 ESCAPE '\\' OR LOWER(c.name) LIKE $2 ESCAPE '\\')
              ORDER BY c.email"
        );
        let search = search.filter(|s| !s.is_empty()).map(contains_pattern).unwrap_or_default();
        let organisation = organisation.unwrap_or_default();
        Ok(on_conn!(self, c => sqlx::query_as::<_, ContactRow>(SQL)
            .bind(organisation).bind(&search).fetch_all(&mut *c).await?))
    }

    /// The contact with address `email` (as normalised by `EmailAddress`), if known.
    pub async fn contact_by_email(&mut self, email: &str) -> Result<Option<ContactRow>> {
        const SQL: &str = concat!(contact_select!(), " WHERE c.email = $1");
        Ok(on_conn!(self, c => sqlx::query_as::<_, ContactRow>(SQL).bind(email).fetch_optional(&mut *c).await?))
    }

    /// The contact with id `id`, if there is one.
    pub async fn contact(&mut self, id: ContactId) -> Result<Option<ContactRow>> {
        const SQL: &str = concat!(contact_select!(), " WHERE c.id = $1");
        Ok(on_conn!(self, c => sqlx::query_as::<_, ContactRow>(SQL).bind(id).fetch_optional(&mut *c).await?))
    }

    /// The organisation of contact `id` and whether they are its primary contact; none when
    /// the contact does not exist. One indexed read (what every portal page asks).
    pub async fn contact_standing(&mut self, id: ContactId) -> Result<Option<(Option<OrganisationId>, bool)>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, (Option<OrganisationId>, bool)>(
                "SELECT organisation_id, is_primary FROM contacts WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?))
    }

    /// The name of `organisation`, if it exists.
    pub async fn organisation_name(&mut self, organisation: OrganisationId) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT name FROM organisations WHERE id = $1")
            .bind(organisation).fetch_optional(&mut *c).await?))
    }

    /// The contacts of `organisation` by address, with their portal access; an invitation
    /// link counts while it works at `at`.
    pub async fn organisation_members(&mut self, organisation: OrganisationId, at: i64) -> Result<Vec<MemberRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, MemberRow>(
                "SELECT c.id, c.email, c.name, c.is_primary, a.active AS account_active,
                    CASE WHEN i.token_hash IS NOT NULL AND i.used_at IS NULL AND i.expires_at >= $2
                         THEN i.expires_at END AS invited_until
                 FROM contacts c
                 LEFT JOIN accounts a ON a.contact_id = c.id
                 LEFT JOIN invites i ON i.contact_id = c.id
                 WHERE c.organisation_id = $1
                 ORDER BY c.email")
            .bind(organisation).bind(at).fetch_all(&mut *c).await?))
    }

    /// Makes `id` a primary contact of their organisation, or a standard one; returns
    /// whether the contact exists.
    pub async fn set_primary_contact(&mut self, id: ContactId, primary: bool) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("UPDATE contacts SET is_primary = $1 WHERE id = $2")
            .bind(primary).bind(id).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// The tickets `contact_id` is on, as requester or participant, newest first.
    pub async fn contact_tickets(&mut self, contact_id: ContactId) -> Result<Vec<ContactTicketRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, ContactTicketRow>(
                "SELECT t.id, t.status, t.subject,
                    CASE WHEN t.requester_id = $1 THEN $2
                         ELSE COALESCE((SELECT tp.role FROM ticket_participants tp
                                        WHERE tp.ticket_id = t.id AND tp.contact_id = $1), $3) END AS role,
                    t.updated_at
                 FROM tickets t
                 WHERE t.requester_id = $1
                    OR EXISTS (SELECT 1 FROM ticket_participants tp WHERE tp.ticket_id = t.id AND tp.contact_id = $1)
                 ORDER BY t.id DESC")
            .bind(contact_id).bind(Role::Requester).bind(Role::Cc).fetch_all(&mut *c).await?))
    }

    /// The portal invitation of `contact_id`, if one was ever made.
    pub async fn contact_invite(&mut self, contact_id: ContactId) -> Result<Option<InviteRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, InviteRow>(
                "SELECT id, token_hash IS NOT NULL AS has_token, expires_at, used_at, created_at
                 FROM invites WHERE contact_id = $1")
            .bind(contact_id).fetch_optional(&mut *c).await?))
    }

    /// Why mail to `address` bounces, if it is known to.
    pub async fn bouncing_reason(&mut self, address: &str) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "SELECT reason FROM bouncing_addresses WHERE address = $1")
            .bind(address).fetch_optional(&mut *c).await?))
    }
}

impl Conn {
    /// The most recent ticket `contact_id` is on, as requester or participant.
    pub async fn latest_ticket_of(&mut self, contact_id: ContactId) -> Result<Option<TicketNumber>> {
        let found: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT t.id FROM tickets t
                 WHERE t.requester_id = $1
                    OR EXISTS (SELECT 1 FROM ticket_participants tp WHERE tp.ticket_id = t.id AND tp.contact_id = $1)
                 ORDER BY t.updated_at DESC, t.id DESC LIMIT 1")
            .bind(contact_id).fetch_optional(&mut *c).await?);
        Ok(found.map(TicketNumber))
    }

    /// The invitation of `contact_id`, created when missing, its token reset when unused
    /// (the old link stops working; the sender mints a new one). Returns its id, or `None`
    /// when it was used already.
    pub async fn renew_invite(&mut self, contact_id: ContactId) -> Result<Option<i64>> {
        let at = now();
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO invites (contact_id, created_at) VALUES ($1, $2)
                 ON CONFLICT (contact_id) DO UPDATE SET token_hash = NULL, expires_at = NULL
                 WHERE invites.used_at IS NULL
                 RETURNING id")
            .bind(contact_id).bind(at).fetch_optional(&mut *c).await?))
    }
}
