//! What visitors do with the knowledge base (migration 0020, MISSION KB3, KB4, KB6): views
//! (one row per solution, visitor and day, so that reloading counts once), "did this
//! help?" votes (one per visitor and solution), the solutions suggested on the new-request
//! form and whether they were opened, and the lists and counts made of them. Who may see
//! which solution, and what a visitor key is, are decided in `desk::kb_pages`; this keeps
//! and counts rows.

use super::{Conn, Result, on_conn};

/// A solution in a list of the knowledge base's pages.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ListedSolution {
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
    /// Its views in the period the list counts (0 in lists that count none).
    pub views: i64,
}

/// What visitors did with one solution: what `maildesk kb stats` shows (MISSION KB6).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct SolutionActivity {
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Views of all time (one per visitor and day).
    pub views: i64,
    /// Views of the last 30 days.
    pub views_30_days: i64,
    /// "Did this help?" answered yes.
    pub helpful: i64,
    /// "Did this help?" answered no.
    pub unhelpful: i64,
    /// Times it was suggested on the new-request form (once per contact and day).
    pub suggested: i64,
    /// Of those, how many the contact opened.
    pub opened: i64,
    /// Of those opened at least 30 minutes ago, how many were followed by no request of
    /// that contact within 30 minutes after opening: requests the suggestion saved.
    pub saved: i64,
}

/// How long after opening a suggestion a request of the same contact means it did not
/// save one, in seconds.
pub const SAVED_WINDOW_SECS: i64 = 30 * 60;

/// `visibility IN ($first, …)` for `visible`, its placeholders numbered from `first`.
fn visible_in(first: usize, visible: &[&str]) -> String {
    if visible.is_empty() {
        return "FALSE".to_string();
    }
    let list: Vec<String> = (first..first + visible.len()).map(|i| format!("${i}")).collect();
    format!("s.visibility IN ({})", list.join(", "))
}

impl Conn {
    /// Records a view of the solution `slug` by `visitor` (a keyed hash) on `day` (days
    /// since 1970); false when that visitor's view of that day was recorded already, under
    /// its own key or under `also` (who else it may have been counted as), or there is no
    /// such solution.
    pub async fn record_solution_view(
        &mut self,
        slug: &str,
        visitor: &str,
        also: Option<&str>,
        day: i64,
    ) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query(
                "INSERT INTO solution_views (solution_id, visitor, day)
                 SELECT s.id, $2, $3 FROM solutions s WHERE s.slug = $1
                   AND NOT EXISTS (SELECT 1 FROM solution_views v
                                   WHERE v.solution_id = s.id AND v.visitor = $4 AND v.day = $3)
                 ON CONFLICT DO NOTHING")
            .bind(slug).bind(visitor).bind(day).bind(also).execute(&mut *c).await?.rows_affected());
        Ok(n > 0)
    }

    /// Records `visitor`'s answer to "did this help?" about the solution `slug`, replacing
    /// their earlier one; false when there is no such solution.
    pub async fn vote_solution(&mut self, slug: &str, visitor: &str, helpful: bool, at: i64) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query(
                "INSERT INTO solution_votes (solution_id, visitor, helpful, at)
                 SELECT id, $2, $3, $4 FROM solutions WHERE slug = $1
                 ON CONFLICT (solution_id, visitor) DO UPDATE SET helpful = excluded.helpful, at = excluded.at")
            .bind(slug).bind(visitor).bind(helpful).bind(at).execute(&mut *c).await?.rows_affected());
        Ok(n > 0)
    }

    /// The categories of the solutions of the visibilities `visible`, by name, with how
    /// many solutions each has.
    pub async fn solution_categories(&mut self, visible: &[&str]) -> Result<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT s.category, COUNT(*) FROM solutions s WHERE s.category IS NOT NULL AND {}
             GROUP BY s.category ORDER BY s.category",
            visible_in(1, visible)
        );
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for v in visible {
                q = q.bind(*v);
            }
            q.fetch_all(&mut *c).await?
        }))
    }

    /// Up to `limit` solutions of the visibilities `visible` most viewed since `since_day`
    /// (days since 1970), most first; those never viewed since are left out.
    pub async fn most_viewed_solutions(
        &mut self,
        visible: &[&str],
        since_day: i64,
        limit: i64,
    ) -> Result<Vec<ListedSolution>> {
        let sql = format!(
            "SELECT s.slug, s.title, s.category, s.updated_at, COUNT(*) AS views
             FROM solutions s JOIN solution_views v ON v.solution_id = s.id AND v.day >= $1
             WHERE {}
             GROUP BY s.id, s.slug, s.title, s.category, s.updated_at
             ORDER BY views DESC, s.title LIMIT $2",
            visible_in(3, visible)
        );
        self.listed(sql, Some(since_day), None, visible, limit).await
    }

    /// Up to `limit` solutions of the visibilities `visible`, the most recently changed
    /// first.
    pub async fn recent_solutions(&mut self, visible: &[&str], limit: i64) -> Result<Vec<ListedSolution>> {
        let sql = format!(
            "SELECT s.slug, s.title, s.category, s.updated_at, CAST(0 AS BIGINT) AS views
             FROM solutions s WHERE {} ORDER BY s.updated_at DESC, s.title LIMIT $1",
            visible_in(2, visible)
        );
        self.listed(sql, None, None, visible, limit).await
    }

    /// The solutions of the visibilities `visible` in `category`, by title (at most
    /// `limit`).
    pub async fn solutions_in_category(
        &mut self,
        category: &str,
        visible: &[&str],
        limit: i64,
    ) -> Result<Vec<ListedSolution>> {
        let sql = format!(
            "SELECT s.slug, s.title, s.category, s.updated_at, CAST(0 AS BIGINT) AS views
             FROM solutions s WHERE s.category = $1 AND {} ORDER BY s.title, s.slug LIMIT $2",
            visible_in(3, visible)
        );
        self.listed(sql, None, Some(category), visible, limit).await
    }

    /// Runs a list's `sql`: its parameters are the day (when given) or the category (when
    /// given), then the limit, then the visibilities.
    async fn listed(
        &mut self,
        sql: String,
        day: Option<i64>,
        category: Option<&str>,
        visible: &[&str],
        limit: i64,
    ) -> Result<Vec<ListedSolution>> {
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            if let Some(day) = day {
                q = q.bind(day);
            }
            if let Some(category) = category {
                q = q.bind(category);
            }
            q = q.bind(limit);
            for v in visible {
                q = q.bind(*v);
            }
            q.fetch_all(&mut *c).await?
        }))
    }

    /// Records that the solutions `slugs` were suggested to `contact` on the new-request
    /// form on `day` (days since 1970) at `at`: once per contact, solution and day.
    pub async fn record_form_suggestions(
        &mut self,
        slugs: &[String],
        contact: crate::domain::ContactId,
        day: i64,
        at: i64,
    ) -> Result<()> {
        for slug in slugs {
            on_conn!(self, c => sqlx::query(
                    "INSERT INTO kb_form_suggestions (solution_id, contact_id, day, suggested_at)
                     SELECT id, $2, $3, $4 FROM solutions WHERE slug = $1
                     ON CONFLICT DO NOTHING")
                .bind(slug).bind(contact).bind(day).bind(at).execute(&mut *c).await?.rows_affected());
        }
        Ok(())
    }

    /// Records that `contact` opened the solution `slug` from a suggestion at `at`: on the
    /// latest suggestion of it to them, when not opened yet. False when there is none.
    pub async fn open_form_suggestion(
        &mut self,
        slug: &str,
        contact: crate::domain::ContactId,
        at: i64,
    ) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query(
                "UPDATE kb_form_suggestions SET opened_at = $3
                 WHERE opened_at IS NULL AND contact_id = $2
                   AND solution_id = (SELECT id FROM solutions WHERE slug = $1)
                   AND day = (SELECT MAX(f.day) FROM kb_form_suggestions f
                              WHERE f.contact_id = $2 AND f.solution_id = (SELECT id FROM solutions WHERE slug = $1))")
            .bind(slug).bind(contact).bind(at).execute(&mut *c).await?.rows_affected());
        Ok(n > 0)
    }

    /// What visitors did with each solution, by slug: views (of all time, and since
    /// `since_day`), votes, form suggestions, those opened, and those opened by `now` less
    /// [`SAVED_WINDOW_SECS`] that no request of the contact followed within that window.
    pub async fn solution_activity(&mut self, since_day: i64, now: i64) -> Result<Vec<SolutionActivity>> {
        Ok(on_conn!(self, c => sqlx::query_as(
                "SELECT s.slug, s.title,
                    (SELECT COUNT(*) FROM solution_views v WHERE v.solution_id = s.id) AS views,
                    (SELECT COUNT(*) FROM solution_views v WHERE v.solution_id = s.id AND v.day >= $1) AS views_30_days,
                    (SELECT COUNT(*) FROM solution_votes v WHERE v.solution_id = s.id AND v.helpful) AS helpful,
                    (SELECT COUNT(*) FROM solution_votes v WHERE v.solution_id = s.id AND NOT v.helpful) AS unhelpful,
                    (SELECT COUNT(*) FROM kb_form_suggestions f WHERE f.solution_id = s.id) AS suggested,
                    (SELECT COUNT(*) FROM kb_form_suggestions f
                     WHERE f.solution_id = s.id AND f.opened_at IS NOT NULL) AS opened,
                    (SELECT COUNT(*) FROM kb_form_suggestions f
                     WHERE f.solution_id = s.id AND f.opened_at IS NOT NULL AND f.opened_at <= $2 - $3
                       AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.requester_id = f.contact_id
                                       AND t.created_at >= f.opened_at AND t.created_at <= f.opened_at + $3)) AS saved
                 FROM solutions s ORDER BY s.slug")
            .bind(since_day).bind(now).bind(SAVED_WINDOW_SECS).fetch_all(&mut *c).await?))
    }
}
