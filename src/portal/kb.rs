//! The knowledge base's pages under `/kb` (MISSION KB3, KB4): its home, search results, a
//! category, a solution with "did this help?", the files beside a solution, and the
//! suggestions fragment the new-request form shows while a customer types. Anonymous
//! visitors see public solutions, signed-in customers those for customers too; anything
//! else is a 404 as if it did not exist. Each handler is one `desk::kb_pages` call.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::files;
use super::pages::{self, Page, Words, render};
use super::visitor::{Visitor, with_cookies};
use crate::App;
use crate::desk::kb::{SolutionPage, Viewer};
use crate::desk::kb_pages::{self, Came, Found, KbHome, ListedSolution, SuggestError};
use crate::desk::requests;
use crate::kb::index::Hit;

/// The knowledge base's home.
#[derive(Template)]
#[template(path = "portal/kb_home.html")]
pub struct HomePage<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// Categories, most viewed, recently updated.
    pub home: &'a KbHome,
}

/// Search results.
#[derive(Template)]
#[template(path = "portal/kb_search.html")]
pub struct SearchPage<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The search as typed.
    pub q: &'a str,
    /// The category searched in, if any.
    pub category: Option<&'a str>,
    /// What was found.
    pub found: &'a Found,
}

impl SearchPage<'_> {
    /// The link to this search in `category` (every category when empty).
    pub fn in_category(&self, category: &str) -> String {
        let mut href = format!("/kb/search?q={}", encode(self.q, NON_ALPHANUMERIC));
        if !category.is_empty() {
            href.push_str(&format!("&category={}", encode(category, NON_ALPHANUMERIC)));
        }
        href
    }
}

/// One category's solutions.
#[derive(Template)]
#[template(path = "portal/kb_category.html")]
pub struct CategoryPage<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The category.
    pub name: &'a str,
    /// Its solutions, by title.
    pub solutions: &'a [ListedSolution],
}

/// A solution.
#[derive(Template)]
#[template(path = "portal/kb_solution.html")]
pub struct SolutionShown<'a> {
    /// Shared.
    pub page: Page<'a>,
    /// The solution.
    pub s: &'a SolutionPage,
    /// Whether the visitor just answered "did this help?".
    pub thanked: bool,
}

impl SolutionShown<'_> {
    /// The link to the file at `path` beside this solution.
    pub fn file_href(&self, path: &str) -> String {
        format!("{}{}", crate::desk::kb::files_prefix(&self.s.slug), encode(path, PATH_SEGMENT))
    }

    /// The file's name: the last part of its path.
    pub fn file_name<'p>(&self, path: &'p str) -> &'p str {
        path.rsplit('/').next().unwrap_or(path)
    }
}

/// The suggestions under the new-request form's subject: a fragment, not a page.
#[derive(Template)]
#[template(path = "portal/kb_suggest.html")]
pub struct Suggestions<'a> {
    /// The solutions suggested, best first.
    pub hits: &'a [Hit],
}

/// What the lists of the knowledge base's pages say.
pub trait Lists {
    /// The link to solution `slug`.
    fn solution_href(&self, slug: &str) -> String {
        solution_href(slug)
    }

    /// The link to category `name`.
    fn category_href(&self, name: &str) -> String {
        format!("/kb/category/{}", encode(name, NON_ALPHANUMERIC))
    }
}

impl Lists for HomePage<'_> {}
impl Lists for SearchPage<'_> {}
impl Lists for CategoryPage<'_> {}
impl Lists for SolutionShown<'_> {}
impl Lists for Suggestions<'_> {}
impl Words for HomePage<'_> {}
impl Words for CategoryPage<'_> {}
impl Words for SolutionShown<'_> {}

/// What a path segment must encode (a slash stays: it separates segments).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

/// The link to solution `slug`.
fn solution_href(slug: &str) -> String {
    format!("/kb/{}", encode(slug, PATH_SEGMENT))
}

/// What a visitor may see of the knowledge base.
fn viewer(visitor: &Visitor) -> Viewer {
    match visitor.who {
        Some(_) => Viewer::Customer,
        None => Viewer::Anonymous,
    }
}

/// `page` rendered, with the visitor's anonymous id set when it is new (so that their
/// views are counted by it, and their "did this help?" form carries a token bound to it).
fn shown(visitor: &Visitor, page: impl Template) -> Response {
    with_cookies(render(StatusCode::OK, page), visitor.visitor_cookie())
}

/// `GET /kb`: categories, most viewed, recently updated, and the search box.
pub async fn home(State(app): State<Arc<App>>, visitor: Visitor) -> Response {
    match kb_pages::home(&app, viewer(&visitor)).await {
        Ok(home) => shown(&visitor, HomePage { page: Page::new(&app, &visitor), home: &home }),
        Err(e) => pages::failure(&app, &e),
    }
}

/// `?q=&category=` of a search; `subject` is another name of `q` (what the new-request
/// form's "Search solutions" button sends, with the form's other fields).
#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    category: String,
}

/// `GET /kb/search?q=&category=`: the results; an empty search shows the home.
pub async fn search(State(app): State<Arc<App>>, visitor: Visitor, Query(query): Query<SearchQuery>) -> Response {
    let q = query.q.trim();
    if q.is_empty() {
        return match query.subject.trim() {
            "" => home(State(app), visitor).await,
            subject => Redirect::to(&format!("/kb/search?q={}", encode(subject, NON_ALPHANUMERIC))).into_response(),
        };
    }
    let category = Some(query.category.as_str()).filter(|c| !c.is_empty());
    match kb_pages::search(&app, viewer(&visitor), q, category).await {
        Ok(found) => shown(&visitor, SearchPage { page: Page::new(&app, &visitor), q, category, found: &found }),
        Err(e) => pages::failure(&app, &e),
    }
}

/// `GET /kb/category/NAME`: the category's solutions, by title.
pub async fn category(State(app): State<Arc<App>>, visitor: Visitor, Path(name): Path<String>) -> Response {
    match kb_pages::category(&app, viewer(&visitor), &name).await {
        Ok(solutions) if solutions.is_empty() => pages::not_found(&app, &visitor),
        Ok(solutions) => {
            shown(&visitor, CategoryPage { page: Page::new(&app, &visitor), name: &name, solutions: &solutions })
        }
        Err(e) => pages::failure(&app, &e),
    }
}

/// `?from=suggestion` (opened from the new-request form's suggestions) and `?voted=1`
/// (back from "did this help?") of a solution's page.
#[derive(Deserialize)]
pub struct SolutionQuery {
    #[serde(default)]
    from: String,
    /// A suggestion's signed token, when it came from an acknowledgement.
    #[serde(default)]
    t: String,
    #[serde(default)]
    voted: String,
}

/// The first segments a slug may not have: the knowledge base's own routes.
const RESERVED: [&str; 7] = ["search", "files", "category", "suggest", "solved", "static", "feedback"];

/// `GET /kb/SLUG`: the solution, its files and "did this help?"; counted as a view.
pub async fn solution(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(query): Query<SolutionQuery>,
) -> Response {
    if RESERVED.contains(&slug.split('/').next().unwrap_or_default()) {
        return pages::not_found(&app, &visitor);
    }
    let key = kb_pages::visitor_key(&app, &visitor.identity());
    let also = visitor.also_counted_as(kb_pages::today()).map(|a| kb_pages::visitor_key(&app, &a));
    let came = match (query.from.as_str(), &visitor.who) {
        ("suggestion", Some(who)) => Came::Suggestion(who),
        ("mail", _) => Came::Mail(&query.t),
        _ => Came::Directly,
    };
    match kb_pages::open(&app, viewer(&visitor), &slug, &key, also.as_deref(), came).await {
        Ok(Some(s)) => {
            shown(&visitor, SolutionShown { page: Page::new(&app, &visitor), s: &s, thanked: !query.voted.is_empty() })
        }
        Ok(None) => pages::not_found(&app, &visitor),
        Err(e) => pages::failure(&app, &e),
    }
}

/// The "did this help?" form.
#[derive(Deserialize)]
pub struct Feedback {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    helpful: String,
}

/// `POST /kb/feedback`: records the answer (a later one replaces it) and goes back to the
/// solution, which thanks the visitor.
pub async fn feedback(State(app): State<Arc<App>>, visitor: Visitor, Form(form): Form<Feedback>) -> Response {
    if !visitor.csrf_ok(&app, &form.csrf) {
        return pages::forbidden(&app, &visitor);
    }
    let helpful = match form.helpful.as_str() {
        "yes" => true,
        "no" => false,
        _ => return pages::not_found(&app, &visitor),
    };
    let key = kb_pages::visitor_key(&app, &visitor.identity());
    match kb_pages::vote(&app, viewer(&visitor), &form.slug, &key, helpful).await {
        Ok(true) => Redirect::to(&format!("{}?voted=1#feedback", solution_href(&form.slug))).into_response(),
        Ok(false) => pages::not_found(&app, &visitor),
        Err(e) => pages::failure(&app, &e),
    }
}

/// `GET /kb/files/SLUG/PATH`: a file beside a solution, to those who may see it; a raster
/// image (by its bytes) is shown inline, anything else is a download.
pub async fn file(
    State(app): State<Arc<App>>,
    visitor: Visitor,
    Path((slug, path)): Path<(String, String)>,
) -> Response {
    match kb_pages::file(&app, viewer(&visitor), &slug, &path).await {
        Ok(Some((row, bytes))) => match requests::raster_type(&bytes) {
            Some(image) => files::inline_image(image, bytes),
            None => files::attachment(path.rsplit('/').next().unwrap_or(&row.path), bytes),
        },
        Ok(None) => pages::not_found(&app, &visitor),
        Err(e) => pages::failure(&app, &e),
    }
}

/// `?q=` of the suggestions.
#[derive(Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /kb/suggest?q=`: the solutions that match a subject being typed, as an HTML
/// fragment; signed-in customers only (403 with nothing otherwise), 429 with nothing past
/// the rate limit.
pub async fn suggest(State(app): State<Arc<App>>, visitor: Visitor, Query(query): Query<SuggestQuery>) -> Response {
    let Some(who) = visitor.who.as_ref() else { return fragment(StatusCode::FORBIDDEN, String::new()) };
    match kb_pages::suggest(&app, who, &query.q).await {
        Ok(hits) => match (Suggestions { hits: &hits }).render() {
            Ok(html) => fragment(StatusCode::OK, html),
            Err(e) => pages::failure(&app, &e),
        },
        Err(SuggestError::RateLimited { retry_after }) => {
            let mut response = fragment(StatusCode::TOO_MANY_REQUESTS, String::new());
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Err(SuggestError::Kb(e)) => pages::failure(&app, &e),
    }
}

fn fragment(status: StatusCode, html: String) -> Response {
    (status, [(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], html).into_response()
}
