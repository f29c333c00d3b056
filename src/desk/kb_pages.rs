//! The knowledge base as the portal shows it (MISSION KB3, KB4, KB6): its home (categories,
//! most viewed, recently updated), a category, search results, a solution (a view counted
//! once per visitor and day), "did this help?", the files beside a solution, and the
//! suggestions shown while a customer types a new request's subject — with what they lead
//! to, counted for `maildesk kb stats`. Who may see which solution is [`Viewer`]'s rule;
//! a visitor is counted by a keyed hash of what identifies their browser, never by it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::accounts::SignedIn;
use super::kb::{self, KbError, SolutionPage, Viewer};
use crate::App;
use crate::kb::index::Hit;
pub use crate::store::{ListedSolution, SolutionActivity};
use crate::store::{SolutionFileRow, StoreError, now};

/// How many solutions the home's "most viewed" and "recently updated" show.
pub const HOME_LIST: i64 = 8;

/// Views of this many days make a solution "most viewed".
pub const VIEW_DAYS: i64 = 30;

/// How many results a search shows.
pub const SEARCH_RESULTS: usize = 20;

/// How many solutions a category page lists at most.
pub const CATEGORY_LIMIT: i64 = 1000;

/// How many suggestions the new-request form shows.
pub const SUGGESTIONS: usize = 5;

/// How many suggestion look-ups a contact may make per minute.
pub const SUGGESTS_PER_MINUTE: i64 = 120;

/// The knowledge base's home.
#[derive(Debug, Clone)]
pub struct KbHome {
    /// The categories the viewer may see solutions of, with how many.
    pub categories: Vec<(String, i64)>,
    /// The most viewed of the last [`VIEW_DAYS`] days.
    pub most_viewed: Vec<ListedSolution>,
    /// The most recently changed.
    pub recent: Vec<ListedSolution>,
}

/// A search's results, with the categories to narrow it to.
#[derive(Debug, Clone)]
pub struct Found {
    /// The solutions found, best first.
    pub hits: Vec<Hit>,
    /// The categories the viewer may see solutions of, with how many.
    pub categories: Vec<(String, i64)>,
}

/// Why the suggestions could not be given.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    /// Too many look-ups in the current minute; try again after the given seconds.
    #[error("too many look-ups; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the minute ends.
        retry_after: u64,
    },
    /// The search or the store failed.
    #[error(transparent)]
    Kb(#[from] KbError),
}

impl From<StoreError> for SuggestError {
    fn from(e: StoreError) -> SuggestError {
        SuggestError::Kb(KbError::Store(e))
    }
}

/// The day of `at` as days since 1970 (UTC): what views and suggestions are counted per.
fn day_of(at: i64) -> i64 {
    at.div_euclid(86_400)
}

/// Today as days since 1970 (UTC).
pub fn today() -> i64 {
    day_of(now())
}

/// What a visitor is counted as: a keyed hash of `identity` (what identifies their
/// browser, or their address when it sends no cookie), so that the store never keeps it.
pub fn visitor_key(app: &App, identity: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.portal_key).expect("HMAC takes a key of any length");
    mac.update(b"kb-visitor\0");
    mac.update(identity.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The categories `viewer` may see, with how many solutions each has: counted once for
/// each revision of the knowledge base (they change only with an import) and kept in
/// `App::kb_categories`, since counting them reads every solution's index entry (~4 ms with
/// 100,000) and every search page shows them.
async fn categories(app: &App, viewer: Viewer, db: &mut crate::store::Conn) -> Result<Vec<(String, i64)>, StoreError> {
    let revision = db.kb_revision().await?;
    let customers = viewer != Viewer::Anonymous;
    let known = {
        let kept = app.kb_categories.lock().unwrap_or_else(|p| p.into_inner());
        kept.iter().find(|(r, c, _)| *r == revision && *c == customers).map(|(_, _, counted)| counted.clone())
    };
    if let Some(counted) = known {
        return Ok(counted);
    }
    let counted = db.solution_categories(&visibilities(viewer)).await?;
    let mut kept = app.kb_categories.lock().unwrap_or_else(|p| p.into_inner());
    kept.retain(|(r, c, _)| *r == revision && *c != customers);
    kept.push((revision, customers, counted.clone()));
    Ok(counted)
}

/// The home of the knowledge base as `viewer` sees it.
pub async fn home(app: &App, viewer: Viewer) -> Result<KbHome, StoreError> {
    let visible = visibilities(viewer);
    let mut db = app.store.conn().await?;
    let since = today() - (VIEW_DAYS - 1);
    Ok(KbHome {
        categories: categories(app, viewer, &mut db).await?,
        most_viewed: db.most_viewed_solutions(&visible, since, HOME_LIST).await?,
        recent: db.recent_solutions(&visible, HOME_LIST).await?,
    })
}

/// The solutions `viewer` may see in `category`, by title; none when there is no such
/// category for them.
pub async fn category(app: &App, viewer: Viewer, category: &str) -> Result<Vec<ListedSolution>, StoreError> {
    app.store.conn().await?.solutions_in_category(category, &visibilities(viewer), CATEGORY_LIMIT).await
}

/// The solutions `viewer` may see that best match `text` (in `category`, when given), and
/// the categories to narrow the search to.
pub async fn search(app: &App, viewer: Viewer, text: &str, category: Option<&str>) -> Result<Found, KbError> {
    let hits = kb::search(app, viewer, text, category, SEARCH_RESULTS).await?;
    let categories = categories(app, viewer, &mut app.store.conn().await?).await?;
    Ok(Found { hits, categories })
}

/// How a visitor came to a solution: what its opening records.
#[derive(Debug, Clone, Copy)]
pub enum Came<'a> {
    /// By a link, a search or the address bar.
    Directly,
    /// From the suggestions the new-request form showed this contact.
    Suggestion(&'a SignedIn),
    /// From an acknowledgement's suggestion, with the link's signed token.
    Mail(&'a str),
}

/// The solution `slug` shown to `viewer`, counted as a view of `visitor` (a
/// [`visitor_key`]) once a day; a suggestion it `came` from (the form's, or a mail's) is
/// marked opened. None when the viewer may not see it (nothing is counted then).
pub async fn open(
    app: &App,
    viewer: Viewer,
    slug: &str,
    visitor: &str,
    also: Option<&str>,
    came: Came<'_>,
) -> Result<Option<SolutionPage>, StoreError> {
    let Some(page) = kb::show(app, viewer, slug).await? else { return Ok(None) };
    let at = now();
    let mut db = app.store.conn().await?;
    db.record_solution_view(slug, visitor, also, day_of(at)).await?;
    match came {
        Came::Directly => {}
        Came::Suggestion(who) => {
            db.open_form_suggestion(slug, who.contact, at).await?;
        }
        Came::Mail(token) => super::kb_solved::opened(app, token).await?,
    }
    Ok(Some(page))
}

/// Records `visitor`'s answer to "did this help?" about `slug`, replacing their earlier
/// one; false when `viewer` may not see it (nothing is recorded then).
pub async fn vote(app: &App, viewer: Viewer, slug: &str, visitor: &str, helpful: bool) -> Result<bool, StoreError> {
    if !visible(app, viewer, slug).await? {
        return Ok(false);
    }
    app.store.conn().await?.vote_solution(slug, visitor, helpful, now()).await
}

/// The file at `path` beside the solution `slug` and its bytes, when `viewer` may see that
/// solution.
pub async fn file(
    app: &App,
    viewer: Viewer,
    slug: &str,
    path: &str,
) -> Result<Option<(SolutionFileRow, Vec<u8>)>, StoreError> {
    let Some((row, visibility)) = app.store.conn().await?.solution_file(slug, path).await? else { return Ok(None) };
    if !viewer.sees(&visibility) {
        return Ok(None);
    }
    let bytes = app.store.blobs.get(&row.sha256).map_err(StoreError::Blob)?;
    Ok(bytes.map(|b| (row, b)))
}

/// The solutions (up to [`SUGGESTIONS`]) that best match the subject `text` that `who` is
/// typing on the new-request form, each recorded as suggested to them once a day; at most
/// [`SUGGESTS_PER_MINUTE`] look-ups a minute.
pub async fn suggest(app: &App, who: &SignedIn, text: &str) -> Result<Vec<Hit>, SuggestError> {
    let at = now();
    let minute = at - at.rem_euclid(60);
    let hits = app.store.conn().await?.hit(&format!("kb-suggest:{}", who.contact.0), minute).await?;
    if hits > SUGGESTS_PER_MINUTE {
        tracing::warn!(contact = %who.contact, "suggestion rate limit reached");
        return Err(SuggestError::RateLimited { retry_after: u64::try_from(minute + 60 - at).unwrap_or(1).max(1) });
    }
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let found = kb::search(app, Viewer::Customer, text, None, SUGGESTIONS).await?;
    if !found.is_empty() {
        let slugs: Vec<String> = found.iter().map(|h| h.slug.clone()).collect();
        // One transaction, one commit, however many were shown.
        let mut tx = app.store.begin().await?;
        tx.record_form_suggestions(&slugs, who.contact, day_of(at), at).await?;
        tx.commit().await?;
    }
    Ok(found)
}

/// What visitors did with each solution, by slug (MISSION KB6): views of all time and of
/// the last [`VIEW_DAYS`] days, "did this help?" answers, how often the new-request form
/// suggested it (once per contact and day), how often that suggestion was opened, and how
/// often no request of that contact followed within 30 minutes after opening it — counted
/// only once those 30 minutes are over. What `maildesk kb stats` shows.
pub async fn form_stats(app: &App) -> Result<Vec<SolutionActivity>, StoreError> {
    let at = now();
    app.store.conn().await?.solution_activity(day_of(at) - (VIEW_DAYS - 1), at).await
}

/// The visibilities `viewer` may see, as the store writes them.
fn visibilities(viewer: Viewer) -> Vec<&'static str> {
    viewer.may_see().iter().map(|v| v.as_str()).collect()
}

/// Whether the solution `slug` exists and `viewer` may see it.
async fn visible(app: &App, viewer: Viewer, slug: &str) -> Result<bool, StoreError> {
    Ok(app.store.conn().await?.solution(slug).await?.is_some_and(|s| viewer.sees(&s.visibility)))
}
