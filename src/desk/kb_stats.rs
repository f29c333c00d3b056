//! How the knowledge base does (MISSION KB6): per solution and in total, its views and
//! votes, how often it was suggested on the new-request form and in acknowledgements, how
//! often those suggestions were opened, the requests they saved and the tickets they
//! resolved. What `maildesk kb stats` prints.

use serde::Serialize;

use crate::App;
use crate::store::StoreError;

/// One solution's figures (or, in [`KbStats::total`], everyone's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SolutionStats {
    /// Its slug (empty for the total).
    pub slug: String,
    /// Its title (empty for the total).
    pub title: String,
    /// Views, one per visitor and day.
    pub views: i64,
    /// "Did this help?" answered yes.
    pub helpful_yes: i64,
    /// "Did this help?" answered no.
    pub helpful_no: i64,
    /// Times suggested on the new-request form (once per contact and day).
    pub suggested_form: i64,
    /// Times suggested in an acknowledgement (once per ticket).
    pub suggested_mail: i64,
    /// Suggestions opened, from the form or from a mail.
    pub suggestions_opened: i64,
    /// Form suggestions opened after which that contact filed no request within 30 minutes.
    pub requests_not_filed: i64,
    /// Tickets resolved through "this solved my problem" in an acknowledgement.
    pub tickets_resolved: i64,
}

/// The figures of every solution that has any, by slug, and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KbStats {
    /// Per solution.
    pub solutions: Vec<SolutionStats>,
    /// All solutions together.
    pub total: SolutionStats,
}

/// The knowledge base's figures now.
pub async fn stats(app: &App) -> Result<KbStats, StoreError> {
    let form = super::kb_pages::form_stats(app).await?;
    let mail = app.store.conn().await?.mail_suggestion_stats().await?;
    let mut by_slug: std::collections::BTreeMap<String, SolutionStats> = std::collections::BTreeMap::new();
    for f in form {
        let s = by_slug.entry(f.slug.clone()).or_default();
        s.slug = f.slug;
        s.title = f.title;
        s.views = f.views;
        s.helpful_yes = f.helpful;
        s.helpful_no = f.unhelpful;
        s.suggested_form = f.suggested;
        s.suggestions_opened += f.opened;
        s.requests_not_filed = f.saved;
    }
    for m in mail {
        let s = by_slug.entry(m.slug.clone()).or_default();
        s.slug = m.slug;
        s.suggested_mail = m.suggested;
        s.suggestions_opened += m.opened;
        s.tickets_resolved = m.resolved;
    }
    let solutions: Vec<SolutionStats> = by_slug.into_values().collect();
    let mut total = SolutionStats::default();
    for s in &solutions {
        total.views += s.views;
        total.helpful_yes += s.helpful_yes;
        total.helpful_no += s.helpful_no;
        total.suggested_form += s.suggested_form;
        total.suggested_mail += s.suggested_mail;
        total.suggestions_opened += s.suggestions_opened;
        total.requests_not_filed += s.requests_not_filed;
        total.tickets_resolved += s.tickets_resolved;
    }
    Ok(KbStats { solutions, total })
}
