//! The knowledge base's solutions, the files beside them and the revision sequence an index
//! follows (migration 0019). What a solution file says and whether an import may go ahead
//! are decided elsewhere (`kb::file`, `desk::kb`); this keeps the result.

use super::{Conn, Result, StoreError, on_conn};

/// A solution as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolutionRow {
    /// Its row id (stable while its slug stays).
    pub id: i64,
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// ISO 639-1 code of its language.
    pub language: String,
    /// `public` or `customers`.
    pub visibility: String,
    /// The Markdown body as written.
    pub markdown: String,
    /// The body rendered and sanitised.
    pub html: String,
    /// The body as plain text.
    pub body_text: String,
    /// The directory it was imported from.
    pub source: String,
    /// What an import compares to tell whether it changed.
    pub digest: String,
    /// The revision of its last change.
    pub revision: i64,
    /// When it was first imported (Unix seconds).
    pub created_at: i64,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

/// The columns of [`SolutionRow`], in its order.
const SOLUTION_COLUMNS: &str = "id, slug, title, category, tags, language, visibility, markdown, html, body_text, \
                                source, digest, revision, created_at, updated_at";

type RawSolution = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);

fn solution_row(raw: RawSolution) -> Result<SolutionRow> {
    let (
        id,
        slug,
        title,
        category,
        tags,
        language,
        visibility,
        markdown,
        html,
        body_text,
        source,
        digest,
        revision,
        created_at,
        updated_at,
    ) = raw;
    let tags: Vec<String> =
        serde_json::from_str(&tags).map_err(|e| StoreError::Corrupt(format!("solutions.tags of {slug}: {e}")))?;
    Ok(SolutionRow {
        id,
        slug,
        title,
        category,
        tags,
        language,
        visibility,
        markdown,
        html,
        body_text,
        source,
        digest,
        revision,
        created_at,
        updated_at,
    })
}

/// A solution in a list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SolutionSummary {
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// Its language.
    pub language: String,
    /// `public` or `customers`.
    pub visibility: String,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
}

/// A solution to add or to write over the one of the same slug.
#[derive(Debug, Clone)]
pub struct NewSolution<'a> {
    /// Its identity.
    pub slug: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its category, if any.
    pub category: Option<&'a str>,
    /// Its tags.
    pub tags: &'a [String],
    /// ISO 639-1 code of its language.
    pub language: &'a str,
    /// `public` or `customers`.
    pub visibility: &'a str,
    /// The Markdown body as written.
    pub markdown: &'a str,
    /// The body rendered and sanitised.
    pub html: &'a str,
    /// The body as plain text.
    pub body_text: &'a str,
    /// The directory it comes from.
    pub source: &'a str,
    /// What a later import compares.
    pub digest: &'a str,
    /// The files beside it, already in the blob store.
    pub files: &'a [SolutionFileRow],
}

/// A file beside a solution.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SolutionFileRow {
    /// Its path under the imported directory (`accounts/screen.png`).
    pub path: String,
    /// Its media type, guessed from its name.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its blob.
    pub sha256: String,
}

/// What an import needs to know of a stored solution: slug, digest, source.
pub type SolutionDigest = (String, String, String);

impl Conn {
    /// Every stored solution's slug, digest and source.
    pub async fn solution_digests(&mut self) -> Result<Vec<SolutionDigest>> {
        Ok(on_conn!(self, c => sqlx::query_as("SELECT slug, digest, source FROM solutions ORDER BY slug")
            .fetch_all(&mut *c).await?))
    }

    /// Adds `solution`, or writes it over the stored one of the same slug (its id, views
    /// and votes kept), with its files; records the change in the revision sequence and
    /// returns its revision.
    pub async fn put_solution(&mut self, solution: &NewSolution<'_>) -> Result<i64> {
        let now = super::now();
        let revision = self.record_kb_change(solution.slug, now).await?;
        let tags = serde_json::to_string(solution.tags).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))?;
        let id: i64 = on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO solutions (slug, title, category, tags, language, visibility, markdown, html, body_text,
                                        source, digest, revision, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
                 ON CONFLICT (slug) DO UPDATE SET
                    title = excluded.title, category = excluded.category, tags = excluded.tags,
                    language = excluded.language, visibility = excluded.visibility,
                    markdown = excluded.markdown, html = excluded.html, body_text = excluded.body_text,
                    source = excluded.source, digest = excluded.digest, revision = excluded.revision,
                    updated_at = excluded.updated_at
                 RETURNING id")
            .bind(solution.slug).bind(solution.title).bind(solution.category).bind(&tags)
            .bind(solution.language).bind(solution.visibility).bind(solution.markdown).bind(solution.html)
            .bind(solution.body_text).bind(solution.source).bind(solution.digest).bind(revision).bind(now)
            .fetch_one(&mut *c).await?);
        on_conn!(self, c => sqlx::query("DELETE FROM solution_files WHERE solution_id = $1")
            .bind(id).execute(&mut *c).await?.rows_affected());
        for file in solution.files {
            on_conn!(self, c => sqlx::query(
                    "INSERT INTO solution_files (solution_id, path, content_type, size, sha256) VALUES ($1, $2, $3, $4, $5)")
                .bind(id).bind(&file.path).bind(&file.content_type).bind(file.size).bind(&file.sha256)
                .execute(&mut *c).await?.rows_affected());
        }
        Ok(revision)
    }

    /// Removes the solution `slug` (its files, views and votes with it) and records the
    /// change; false when there was none.
    pub async fn remove_solution(&mut self, slug: &str) -> Result<bool> {
        let removed = on_conn!(self, c => sqlx::query("DELETE FROM solutions WHERE slug = $1")
            .bind(slug).execute(&mut *c).await?.rows_affected());
        if removed > 0 {
            self.record_kb_change(slug, super::now()).await?;
        }
        Ok(removed > 0)
    }

    /// Appends a change of `slug` to the revision sequence; returns its revision.
    async fn record_kb_change(&mut self, slug: &str, at: i64) -> Result<i64> {
        Ok(on_conn!(self, c => sqlx::query_scalar(
                "INSERT INTO kb_changes (slug, at) VALUES ($1, $2) RETURNING revision")
            .bind(slug).bind(at).fetch_one(&mut *c).await?))
    }

    /// The last revision of the knowledge base (0 before any change).
    pub async fn kb_revision(&mut self) -> Result<i64> {
        let last: Option<i64> = on_conn!(self, c => sqlx::query_scalar("SELECT MAX(revision) FROM kb_changes")
            .fetch_one(&mut *c).await?);
        Ok(last.unwrap_or(0))
    }

    /// The change of revision `revision`: its time (Unix seconds) and slug, if there is one.
    pub async fn kb_change(&mut self, revision: i64) -> Result<Option<(i64, String)>> {
        Ok(on_conn!(self, c => sqlx::query_as("SELECT at, slug FROM kb_changes WHERE revision = $1")
            .bind(revision).fetch_optional(&mut *c).await?))
    }

    /// The slugs changed after revision `after`, each once, with the last revision read
    /// (at most `limit` changes are read): what an index applies next.
    pub async fn kb_changes_after(&mut self, after: i64, limit: i64) -> Result<(Vec<String>, i64)> {
        let rows: Vec<(i64, String)> = on_conn!(self, c => sqlx::query_as(
                "SELECT revision, slug FROM kb_changes WHERE revision > $1 ORDER BY revision LIMIT $2")
            .bind(after).bind(limit).fetch_all(&mut *c).await?);
        let last = rows.last().map_or(after, |(r, _)| *r);
        let mut slugs: Vec<String> = rows.into_iter().map(|(_, s)| s).collect();
        slugs.sort();
        slugs.dedup();
        Ok((slugs, last))
    }

    /// The solution `slug`, if there is one.
    pub async fn solution(&mut self, slug: &str) -> Result<Option<SolutionRow>> {
        let sql = format!("SELECT {SOLUTION_COLUMNS} FROM solutions WHERE slug = $1");
        let raw: Option<RawSolution> =
            on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&mut *c).await?);
        raw.map(solution_row).transpose()
    }

    /// Up to `limit` solutions after id `after`, by id: a rebuild reads them all this way.
    pub async fn solutions_after(&mut self, after: i64, limit: i64) -> Result<Vec<SolutionRow>> {
        let sql = format!("SELECT {SOLUTION_COLUMNS} FROM solutions WHERE id > $1 ORDER BY id LIMIT $2");
        let raw: Vec<RawSolution> = on_conn!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(after).bind(limit).fetch_all(&mut *c).await?);
        raw.into_iter().map(solution_row).collect()
    }

    /// The files beside solution `id`, by path.
    pub async fn solution_files(&mut self, id: i64) -> Result<Vec<SolutionFileRow>> {
        Ok(on_conn!(self, c => sqlx::query_as(
                "SELECT path, content_type, size, sha256 FROM solution_files WHERE solution_id = $1 ORDER BY path")
            .bind(id).fetch_all(&mut *c).await?))
    }

    /// The file at `path` beside the solution `slug`, with that solution's visibility.
    pub async fn solution_file(&mut self, slug: &str, path: &str) -> Result<Option<(SolutionFileRow, String)>> {
        let row: Option<(String, String, i64, String, String)> = on_conn!(self, c => sqlx::query_as(
                "SELECT f.path, f.content_type, f.size, f.sha256, s.visibility
                 FROM solution_files f JOIN solutions s ON s.id = f.solution_id
                 WHERE s.slug = $1 AND f.path = $2")
            .bind(slug).bind(path).fetch_optional(&mut *c).await?);
        Ok(row.map(|(path, content_type, size, sha256, visibility)| {
            (SolutionFileRow { path, content_type, size, sha256 }, visibility)
        }))
    }

    /// The title of solution `id`, if there is one.
    pub async fn solution_title(&mut self, id: i64) -> Result<Option<String>> {
        Ok(on_conn!(self, c => sqlx::query_scalar("SELECT title FROM solutions WHERE id = $1")
            .bind(id).fetch_optional(&mut *c).await?))
    }

    /// Whether there is any solution at all.
    pub async fn has_solutions(&mut self) -> Result<bool> {
        let one: Option<i64> = on_conn!(self, c => sqlx::query_scalar("SELECT id FROM solutions LIMIT 1")
            .fetch_optional(&mut *c).await?);
        Ok(one.is_some())
    }

    /// Every solution in brief, by slug: what a list shows.
    pub async fn solution_summaries(&mut self) -> Result<Vec<SolutionSummary>> {
        Ok(on_conn!(self, c => sqlx::query_as(
                "SELECT slug, title, category, language, visibility, updated_at FROM solutions ORDER BY slug")
            .fetch_all(&mut *c).await?))
    }
}
