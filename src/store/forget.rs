//! Forgetting a person: the writes that remove a contact's personal data while their
//! tickets stay (with their statistics). What to forget is decided by `desk::forget`
//! (a [`ForgetPlan`]); this module only applies it, in the caller's transaction, and never
//! deletes blob files (the caller does, after the commit, only those nothing refers to).

use std::collections::HashSet;

use super::{Backend, Result, Tx, on_conn};
use crate::domain::ContactId;

/// What to forget, decided by desk.
#[derive(Debug, Clone)]
pub struct ForgetPlan {
    /// The contact.
    pub contact: ContactId,
    /// Their address, as stored (normalised).
    pub address: String,
    /// The address they get instead: one that cannot collide and cannot receive mail.
    pub placeholder: String,
    /// The knowledge base's key for them as a signed-in visitor (views and votes).
    pub visitor: String,
    /// Quarantine entries holding mail of theirs (found by desk in the raw mail).
    pub quarantined: Vec<i64>,
}

/// What was removed, by kind; and the blobs that lost a reference.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ForgetReport {
    /// Tickets they are on: kept, with their statistics.
    pub tickets_kept: i64,
    /// Comments of theirs whose bodies were emptied (the comments stay).
    pub comments_emptied: u64,
    /// Their comments' attachments removed.
    pub attachments: u64,
    /// Quarantined mail of theirs removed.
    pub quarantined: u64,
    /// Mail to them or naming them (staff notices) not sent yet, dropped.
    pub outbox_dropped: u64,
    /// Sent or failed mail rows to or about them whose contents were removed.
    pub outbox_redacted: u64,
    /// Message-IDs holding their address, removed (from threading, comments, intake).
    pub message_ids: u64,
    /// Their portal account, sessions, tokens and invitation.
    pub portal_rows: u64,
    /// Their knowledge-base activity (suggestions, views, votes).
    pub kb_activity: u64,
    /// Other rows keyed by their address (bouncing mark, rate limits).
    pub other_rows: u64,
    /// Blobs that were referenced by what was removed: deleted afterwards unless
    /// something else still refers to them.
    #[serde(skip)]
    pub blobs: HashSet<String>,
}

/// A LIKE pattern matching `text` anywhere (lower case), its `%`, `_` and `\` literal.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{}%", escaped.to_lowercase())
}

impl Tx {
    /// Applies `plan`: empties the bodies of the contact's comments and removes their
    /// attachments, removes their quarantined mail, mail to them not yet sent, Message-IDs
    /// carrying their address, their portal account and knowledge-base activity, and puts
    /// `plan.placeholder` in place of their address and nothing in place of their name.
    /// The contact row, their tickets and participations stay.
    pub async fn forget_contact(&mut self, plan: &ForgetPlan) -> Result<ForgetReport> {
        let mut report = ForgetReport::default();
        let id = plan.contact;
        let like = contains_pattern(&plan.address);
        let backend = self.backend();
        on_conn!(self, c => {
            report.tickets_kept = sqlx::query_scalar(
                "SELECT COUNT(DISTINCT ticket_id) FROM ticket_participants WHERE contact_id = $1")
                .bind(id).fetch_one(&mut *c).await?;
            let shas: Vec<String> = sqlx::query_scalar(
                "SELECT a.sha256 FROM attachments a JOIN comments m ON m.id = a.comment_id WHERE m.author_id = $1")
                .bind(id).fetch_all(&mut *c).await?;
            report.blobs.extend(shas);
            report.attachments = sqlx::query(
                "DELETE FROM attachments WHERE comment_id IN (SELECT id FROM comments WHERE author_id = $1)")
                .bind(id).execute(&mut *c).await?.rows_affected();
            // On SQLite the full-text index follows through its triggers; on PostgreSQL
            // each comment's words follow (a generated column), and each ticket's union of
            // its texts' words is computed again below.
            report.comments_emptied = sqlx::query(
                "UPDATE comments SET body_text = '', body_reply = '', body_html = NULL, message_id = NULL
                  WHERE author_id = $1")
                .bind(id).execute(&mut *c).await?.rows_affected();
            if backend == Backend::Postgres {
                sqlx::query(
                    "UPDATE tickets t SET search_words = maildesk_search_vector(t.subject) || COALESCE(
                         (SELECT maildesk_words_union(m.search_words) FROM comments m
                           WHERE m.ticket_id = t.id AND m.public), '')
                      WHERE t.id IN (SELECT ticket_id FROM comments WHERE author_id = $1)")
                    .bind(id).execute(&mut *c).await?;
            }
            for entry in &plan.quarantined {
                let sha: Option<String> = sqlx::query_scalar("DELETE FROM quarantine WHERE id = $1 RETURNING raw_sha256")
                    .bind(entry).fetch_optional(&mut *c).await?;
                if let Some(sha) = sha {
                    sqlx::query("DELETE FROM poison WHERE raw_sha256 = $1").bind(&sha).execute(&mut *c).await?;
                    report.blobs.insert(sha);
                    report.quarantined += 1;
                }
            }
            // Mail to them, or about them (a staff notice names them), not sent yet: dropped.
            report.outbox_dropped = sqlx::query(
                "DELETE FROM outbox WHERE state = 'pending'
                    AND (LOWER(recipient) = $1 OR LOWER(payload) LIKE $2 ESCAPE '\\')")
                .bind(&plan.address).bind(&like).execute(&mut *c).await?.rows_affected();
            // Sent rows stay (the caps on automatic mail count them), without their contents;
            // files they referred to are left to the hourly clean-up.
            report.outbox_redacted = sqlx::query(
                "UPDATE outbox SET recipient = CASE WHEN LOWER(recipient) = $1 THEN $2 ELSE recipient END,
                        payload = '{}', last_error = NULL, attachments = NULL
                  WHERE state <> 'pending' AND (LOWER(recipient) = $1 OR LOWER(payload) LIKE $3 ESCAPE '\\')")
                .bind(&plan.address).bind(&plan.placeholder).bind(&like).execute(&mut *c).await?.rows_affected();
            report.message_ids += sqlx::query("DELETE FROM thread_ids WHERE LOWER(message_id) LIKE $1 ESCAPE '\\'")
                .bind(&like).execute(&mut *c).await?.rows_affected();
            report.message_ids += sqlx::query(
                "UPDATE comments SET message_id = NULL WHERE LOWER(message_id) LIKE $1 ESCAPE '\\'")
                .bind(&like).execute(&mut *c).await?.rows_affected();
            report.message_ids += sqlx::query(
                "UPDATE inbound_messages SET message_id = NULL WHERE LOWER(message_id) LIKE $1 ESCAPE '\\'")
                .bind(&like).execute(&mut *c).await?.rows_affected();
            for sql in [
                "DELETE FROM sessions WHERE contact_id = $1",
                "DELETE FROM account_tokens WHERE contact_id = $1",
                "DELETE FROM accounts WHERE contact_id = $1",
                "DELETE FROM invites WHERE contact_id = $1",
            ] {
                report.portal_rows += sqlx::query(sql).bind(id).execute(&mut *c).await?.rows_affected();
            }
            report.kb_activity += sqlx::query("DELETE FROM kb_form_suggestions WHERE contact_id = $1")
                .bind(id).execute(&mut *c).await?.rows_affected();
            for sql in ["DELETE FROM solution_views WHERE visitor = $1", "DELETE FROM solution_votes WHERE visitor = $1"] {
                report.kb_activity += sqlx::query(sql).bind(&plan.visitor).execute(&mut *c).await?.rows_affected();
            }
            report.other_rows += sqlx::query("DELETE FROM bouncing_addresses WHERE address = $1")
                .bind(&plan.address).execute(&mut *c).await?.rows_affected();
            report.other_rows += sqlx::query("DELETE FROM rate_limits WHERE bucket = $1")
                .bind(format!("login:address:{}", plan.address)).execute(&mut *c).await?.rows_affected();
            sqlx::query(
                "UPDATE contacts SET email = $2, name = '', organisation_id = NULL, is_primary = FALSE WHERE id = $1")
                .bind(id).bind(&plan.placeholder).execute(&mut *c).await?;
        });
        Ok(report)
    }
}
