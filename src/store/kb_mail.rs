//! Solutions suggested in acknowledgements (`kb_mail_suggestions`, migration 0020): which
//! were suggested for which ticket, which were opened, and which resolved their ticket.

use super::{Conn, Result, on_conn};
use crate::domain::TicketNumber;

/// How the suggestions of acknowledgements fared, for one solution.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct MailSuggestionStats {
    /// The solution's slug.
    pub slug: String,
    /// Tickets it was suggested for.
    pub suggested: i64,
    /// Of those, how many opened it from the mail.
    pub opened: i64,
    /// Of those, how many tickets it resolved ("this solved my problem").
    pub resolved: i64,
}

impl Conn {
    /// Records that solution `solution_id` was suggested in ticket `ticket`'s
    /// acknowledgement (once per ticket and solution).
    pub async fn record_mail_suggestion(&mut self, solution_id: i64, ticket: TicketNumber) -> Result<()> {
        on_conn!(self, c => sqlx::query(
                "INSERT INTO kb_mail_suggestions (solution_id, ticket_id, suggested_at) VALUES ($1, $2, $3)
                 ON CONFLICT (solution_id, ticket_id) DO NOTHING")
            .bind(solution_id).bind(ticket.0).bind(super::now()).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Records that ticket `ticket`'s suggestion of `solution_id` was opened (the first time
    /// counts); false when it was never suggested for that ticket.
    pub async fn open_mail_suggestion(&mut self, solution_id: i64, ticket: TicketNumber) -> Result<bool> {
        let found: Option<i64> = on_conn!(self, c => sqlx::query_scalar(
                "UPDATE kb_mail_suggestions SET opened_at = COALESCE(opened_at, $3)
                 WHERE solution_id = $1 AND ticket_id = $2 RETURNING solution_id")
            .bind(solution_id).bind(ticket.0).bind(super::now()).fetch_optional(&mut *c).await?);
        Ok(found.is_some())
    }

    /// Marks ticket `ticket`'s suggestion of `solution_id` as having resolved it, once: false
    /// when it was never suggested, or has resolved it already (the link was used).
    pub async fn resolve_by_mail_suggestion(&mut self, solution_id: i64, ticket: TicketNumber) -> Result<bool> {
        let now = super::now();
        let marked = on_conn!(self, c => sqlx::query(
                "UPDATE kb_mail_suggestions SET resolved_at = $3, opened_at = COALESCE(opened_at, $3)
                 WHERE solution_id = $1 AND ticket_id = $2 AND resolved_at IS NULL")
            .bind(solution_id).bind(ticket.0).bind(now).execute(&mut *c).await?.rows_affected());
        Ok(marked == 1)
    }

    /// Whether ticket `ticket`'s suggestion of `solution_id` has resolved it already.
    pub async fn mail_suggestion_used(&mut self, solution_id: i64, ticket: TicketNumber) -> Result<Option<bool>> {
        let resolved: Option<Option<i64>> = on_conn!(self, c => sqlx::query_scalar(
                "SELECT resolved_at FROM kb_mail_suggestions WHERE solution_id = $1 AND ticket_id = $2")
            .bind(solution_id).bind(ticket.0).fetch_optional(&mut *c).await?);
        Ok(resolved.map(|r| r.is_some()))
    }

    /// How each solution suggested in acknowledgements fared, by slug.
    pub async fn mail_suggestion_stats(&mut self) -> Result<Vec<MailSuggestionStats>> {
        Ok(on_conn!(self, c => sqlx::query_as(
                "SELECT s.slug AS slug, COUNT(*) AS suggested, COUNT(m.opened_at) AS opened,
                        COUNT(m.resolved_at) AS resolved
                 FROM kb_mail_suggestions m JOIN solutions s ON s.id = m.solution_id
                 GROUP BY s.slug ORDER BY s.slug")
            .fetch_all(&mut *c).await?))
    }
}
