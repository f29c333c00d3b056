//! The sender blocklist: addresses and domains whose mail is recorded but neither ticketed
//! nor answered.

use super::{Conn, Result, now, on_conn};
use crate::domain::{EmailAddress, TicketNumber};

/// One entry of the blocklist.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct BlockedSender {
    /// A lower-cased address, or `@domain` for a whole domain.
    pub pattern: String,
    /// When it was blocked, Unix seconds.
    pub created_at: i64,
}

/// What [`Conn::sender_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderRecord {
    /// Mail from the address is blocked.
    pub blocked: bool,
    /// Mail to the address is marked as bouncing.
    pub bouncing: bool,
    /// The address is in the staff table.
    pub staff: bool,
    /// The address takes part in the ticket asked about.
    pub on_ticket: bool,
}

impl Conn {
    /// What desk needs to know about the sender of a mail, in one read: whether mail from
    /// `address` is blocked — by its address, its domain or a domain above it (a blocked
    /// domain covers its subdomains, which cost an attacker nothing) — and whether mail to
    /// it is marked as bouncing.
    /// Also whether the address is in the staff table, and whether it takes part in
    /// `ticket`.
    pub async fn sender_record(
        &mut self,
        address: &EmailAddress,
        ticket: Option<TicketNumber>,
    ) -> Result<SenderRecord> {
        let domain = address.domain().to_ascii_lowercase();
        let mut patterns = vec![address.as_str().to_string()];
        let mut rest = domain.as_str();
        // At most 8 levels: example.co.uk, and a few subdomains above it.
        while rest.contains('.') && patterns.len() <= 8 {
            patterns.push(format!("@{rest}"));
            rest = rest.split_once('.').map_or("", |(_, parent)| parent);
        }
        // Only placeholders go into the text.
        let list = (3..3 + patterns.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM blocked_senders WHERE pattern IN ({list})),
                    (SELECT COUNT(*) FROM bouncing_addresses WHERE address = $1),
                    (SELECT COUNT(*) FROM staff WHERE email = $1),
                    (SELECT COUNT(*) FROM ticket_participants tp JOIN contacts c ON c.id = tp.contact_id
                     WHERE tp.ticket_id = $2 AND c.email = $1)"
        );
        // No ticket: 0, which no ticket has, so the last count is nothing.
        let ticket = ticket.map_or(0, |t| t.0);
        let (blocked, bouncing, staff, on_ticket): (i64, i64, i64, i64) = on_conn!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(address.as_str()).bind(ticket);
            for p in &patterns {
                q = q.bind(p.as_str());
            }
            q.fetch_one(&mut *c).await?
        });
        Ok(SenderRecord { blocked: blocked > 0, bouncing: bouncing > 0, staff: staff > 0, on_ticket: on_ticket > 0 })
    }
}

impl Conn {
    /// Adds `pattern` (an address, or `@domain`) to the blocklist; false when it was there.
    pub async fn block_sender(&mut self, pattern: &str) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query(
                "INSERT INTO blocked_senders (pattern, created_at) VALUES ($1, $2) ON CONFLICT (pattern) DO NOTHING")
            .bind(pattern).bind(now()).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// Removes `pattern` from the blocklist; false when it was not there.
    pub async fn unblock_sender(&mut self, pattern: &str) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("DELETE FROM blocked_senders WHERE pattern = $1")
            .bind(pattern).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// The blocklist, in order.
    pub async fn blocked_senders(&mut self) -> Result<Vec<BlockedSender>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, BlockedSender>(
                "SELECT pattern, created_at FROM blocked_senders ORDER BY pattern")
            .fetch_all(&mut *c).await?))
    }
}
