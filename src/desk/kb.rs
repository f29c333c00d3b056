//! The knowledge base's rules (MISSION KB1-KB2): what an import of a directory of solution
//! files changes (all of it or, when one file is bad, nothing), who may see which solution,
//! and keeping this node's search index in step with the store, which is the source of
//! truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::App;
use crate::kb::file::{self, Problem, SolutionFile, Visibility};
use crate::kb::index::{Applied, Hit, IndexError, IndexedSolution, SearchRequest, SolutionIndex};
use crate::store::{NewSolution, SolutionFileRow, SolutionRow, SolutionSummary, StoreError};

/// Who is looking at the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// A visitor who has not signed in: public solutions only.
    Anonymous,
    /// A signed-in customer: public solutions and those for customers.
    Customer,
    /// Staff at the command line: everything.
    Staff,
}

impl Viewer {
    /// The visibilities this viewer may see.
    pub fn may_see(self) -> &'static [Visibility] {
        match self {
            Viewer::Anonymous => &[Visibility::Public],
            Viewer::Customer | Viewer::Staff => &[Visibility::Public, Visibility::Customers],
        }
    }

    /// Whether this viewer may see a solution of `visibility` (as the store writes it).
    pub fn sees(self, visibility: &str) -> bool {
        self.may_see().iter().any(|v| v.as_str() == visibility)
    }
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Imported {
    /// Solutions new to the store.
    pub added: usize,
    /// Solutions whose file or files changed.
    pub updated: usize,
    /// Solutions imported before from the same directory whose file is gone.
    pub removed: usize,
    /// Solutions as they were.
    pub unchanged: usize,
}

/// Why an import changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The directory could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// Files are wrong: each with every problem found in it.
    #[error("{} file(s) are not valid solutions; nothing was imported", .0.len())]
    Invalid(Vec<(String, Vec<Problem>)>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the knowledge base could not answer.
#[derive(Debug, thiserror::Error)]
pub enum KbError {
    /// The search index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The prefix of the links to the files beside solution `slug` (its slash kept inside one
/// path segment, so that the slug and the file's path cannot be confused).
pub fn files_prefix(slug: &str) -> String {
    format!("/kb/files/{}/", percent_encoding::utf8_percent_encode(slug, percent_encoding::NON_ALPHANUMERIC))
}

/// A solution file read from the directory, with its files.
struct Read {
    solution: SolutionFile,
    /// The files beside it, described: their bytes are read again when they are stored,
    /// so that an import holds one file's bytes at a time, not all of them.
    files: Vec<SolutionFileRow>,
    digest: String,
}

/// Imports the solution files (`*.md`, at any depth, hidden files and directories left
/// out) of `dir`: adds the new ones, writes over the changed ones, removes those imported
/// from `dir` before whose file is gone, in one transaction. One bad file makes it change
/// nothing and name every bad file with all its problems.
pub async fn import(app: &App, dir: &Path) -> Result<Imported, ImportError> {
    let unreadable = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImportError::Unreadable { path, source }
    };
    let root = std::fs::canonicalize(dir).map_err(unreadable(dir))?;
    if !root.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory");
        return Err(ImportError::Unreadable { path: dir.to_path_buf(), source: e });
    }
    let max_file = app.config().attachment_max_bytes();
    let root_for_walk = root.clone();
    let (read, mut bad) = tokio::task::spawn_blocking(move || read_dir(&root_for_walk, max_file))
        .await
        .map_err(|e| ImportError::Unreadable { path: dir.to_path_buf(), source: std::io::Error::other(e) })??;
    // A slug is one solution: two files of one import may not claim it.
    let mut by_slug: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (path, r) in &read {
        by_slug.entry(&r.solution.slug).or_default().push(path);
    }
    for (slug, paths) in by_slug.iter().filter(|(_, p)| p.len() > 1) {
        for path in paths {
            let others: Vec<&str> = paths.iter().filter(|p| *p != path).copied().collect();
            let problem = Problem(format!("slug {slug} is also that of {}", others.join(", ")));
            bad.entry(path.to_string()).or_default().push(problem);
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::Invalid(bad.into_iter().collect()));
    }
    // The bytes first (a blob no row names yet is kept for an hour), each file read again.
    let (blobs, root_for_files) = (app.store.blobs.clone(), root.clone());
    let files: Vec<SolutionFileRow> = read.values().flat_map(|r| r.files.iter().cloned()).collect();
    tokio::task::spawn_blocking(move || store_files(&blobs, &root_for_files, &files, max_file))
        .await
        .map_err(|e| ImportError::Unreadable { path: dir.to_path_buf(), source: std::io::Error::other(e) })??;
    let source = root.to_string_lossy().into_owned();
    let mut tx = app.store.begin().await?;
    let stored: HashMap<String, (String, String)> =
        tx.solution_digests().await?.into_iter().map(|(slug, digest, source)| (slug, (digest, source))).collect();
    let mut done = Imported::default();
    let mut seen = HashSet::new();
    for r in read.values() {
        let s = &r.solution;
        seen.insert(s.slug.as_str());
        match stored.get(&s.slug) {
            Some((digest, from)) if *digest == r.digest && *from == source => {
                done.unchanged += 1;
                continue;
            }
            Some(_) => done.updated += 1,
            None => done.added += 1,
        }
        let files = r.files.clone();
        tx.put_solution(&NewSolution {
            slug: &s.slug,
            title: &s.title,
            category: s.category.as_deref(),
            tags: &s.tags,
            language: &s.language,
            visibility: s.visibility.as_str(),
            markdown: &s.markdown,
            html: &s.html,
            body_text: &s.text,
            source: &source,
            digest: &r.digest,
            files: &files,
        })
        .await?;
    }
    for (slug, (_, from)) in &stored {
        if *from == source && !seen.contains(slug.as_str()) && tx.remove_solution(slug).await? {
            done.removed += 1;
        }
    }
    tx.commit().await?;
    // This process's own index has it at once; the daemon's follows within a second.
    let open = app.kb_index.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(index) = open
        && let Err(e) = catch_up(app, &index).await
    {
        tracing::warn!(error = %e, "the import is stored, but indexing it failed; the daemon tries again");
    }
    Ok(done)
}

/// Every solution file under `root`, read (by its path under `root`), and the problems of
/// those that are not valid.
#[allow(clippy::type_complexity)]
fn read_dir(
    root: &Path,
    max_file: u64,
) -> Result<(BTreeMap<String, Read>, BTreeMap<String, Vec<Problem>>), ImportError> {
    let mut read = BTreeMap::new();
    let mut bad: BTreeMap<String, Vec<Problem>> = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|source| ImportError::Unreadable { path: dir.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| ImportError::Unreadable { path: dir.clone(), source })?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                let shown = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                bad.entry(shown).or_default().push(Problem("its name is not UTF-8".into()));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|source| ImportError::Unreadable { path: path.clone(), source })?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && name.ends_with(".md") {
                let rel = relative(root, &path);
                match read_solution(root, &rel, max_file, &HashMap::new()) {
                    Ok(r) => {
                        read.insert(rel, r);
                    }
                    Err(problems) => bad.entry(rel).or_default().extend(problems),
                }
            }
        }
    }
    // A link to a solution file points at its slug: read again those that link to one
    // whose slug is not its path.
    let slugs: HashMap<String, String> = read
        .iter()
        .filter(|(rel, r)| rel.strip_suffix(".md") != Some(r.solution.slug.as_str()))
        .map(|(rel, r)| (rel.clone(), r.solution.slug.clone()))
        .collect();
    if !slugs.is_empty() {
        for (rel, r) in read.iter_mut() {
            if r.solution.pages.iter().any(|page| slugs.contains_key(page)) {
                match read_solution(root, rel, max_file, &slugs) {
                    Ok(again) => *r = again,
                    Err(problems) => bad.entry(rel.clone()).or_default().extend(problems),
                }
            }
        }
    }
    Ok((read, bad))
}

/// `path` under `root`, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Reads the solution file at `rel` under `root`, and the files it shows or links to; a
/// link to another solution file points at the slug `slugs` gives it, if any.
fn read_solution(root: &Path, rel: &str, max_file: u64, slugs: &HashMap<String, String>) -> Result<Read, Vec<Problem>> {
    let bytes = std::fs::read(root.join(rel)).map_err(|e| vec![Problem(format!("cannot be read: {e}"))])?;
    let default_slug = rel.strip_suffix(".md").unwrap_or(rel);
    let mut solution = file::read_linked(rel, &bytes, &files_prefix(default_slug), slugs)?;
    if solution.slug != default_slug {
        solution = file::read_linked(rel, &bytes, &files_prefix(&solution.slug), slugs)?;
    }
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut digest = Sha256::new();
    digest.update(&bytes);
    // Where its links to other solutions point is part of what it shows.
    for page in &solution.pages {
        let slug = slugs.get(page).map_or(page.strip_suffix(".md").unwrap_or(page), String::as_str);
        digest.update([1]);
        digest.update(slug.as_bytes());
    }
    for path in &solution.files {
        match read_beside(root, path, max_file) {
            Ok(bytes) => {
                let sha256 = crate::store::sha256_hex(&bytes);
                digest.update([0]);
                digest.update(path.as_bytes());
                digest.update([0]);
                digest.update(sha256.as_bytes());
                let content_type = mime_guess::from_path(path).first_or_octet_stream().essence_str().to_string();
                let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                files.push(SolutionFileRow { path: path.clone(), content_type, size, sha256 });
            }
            Err(problem) => problems.push(problem),
        }
    }
    match problems.is_empty() {
        true => Ok(Read { solution, files, digest: hex::encode(digest.finalize()) }),
        false => Err(problems),
    }
}

/// Puts the bytes of `files` (under `root`) into `blobs`, each read again and checked to
/// be what was read before.
fn store_files(
    blobs: &crate::store::Blobs,
    root: &Path,
    files: &[SolutionFileRow],
    max_file: u64,
) -> Result<(), ImportError> {
    for row in files {
        let unreadable = |source| ImportError::Unreadable { path: root.join(&row.path), source };
        let bytes = read_beside(root, &row.path, max_file).map_err(|p| unreadable(std::io::Error::other(p.0)))?;
        if crate::store::sha256_hex(&bytes) != row.sha256 {
            return Err(unreadable(std::io::Error::other("it changed while it was imported; import again")));
        }
        blobs.put(&bytes).map_err(StoreError::Blob)?;
    }
    Ok(())
}

/// The bytes of the file `path` (under `root`) that a solution shows or links to: a
/// regular file inside `root`, at most `max_file` bytes.
fn read_beside(root: &Path, path: &str, max_file: u64) -> Result<Vec<u8>, Problem> {
    let full = root.join(path);
    let real =
        std::fs::canonicalize(&full).map_err(|e| Problem(format!("links to {path}, which cannot be read: {e}")))?;
    if !real.starts_with(root) {
        return Err(Problem(format!("links to {path}, which is outside the imported directory")));
    }
    let meta = std::fs::metadata(&real).map_err(|e| Problem(format!("links to {path}, which cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(Problem(format!("links to {path}, which is not a file")));
    }
    if meta.len() > max_file {
        return Err(Problem(format!(
            "links to {path}, {} bytes, more than the {max_file} a file may have (portal.attachment_max_bytes)",
            meta.len()
        )));
    }
    std::fs::read(&real).map_err(|e| Problem(format!("links to {path}, which cannot be read: {e}")))
}

/// This node's search index, opened on first use (as its writer when no other process
/// of this data directory is) and then brought up to the store's revision. Afterwards the
/// index is kept up to date by [`follow`] (the daemon) and by [`import`] (this process):
/// a search does not ask the store.
pub async fn index(app: &App) -> Result<Arc<SolutionIndex>, KbError> {
    let Some((index, first)) = opened(app).await? else {
        return Err(IndexError::Missing(app.config().data_dir.join("kb-index")).into());
    };
    // A writer whose first build failed tries again.
    if first || index.revision().is_none() {
        catch_up(app, &index).await?;
    }
    Ok(index)
}

/// This node's search index, and whether this call opened it; None when another process
/// writes it and has not built it yet.
async fn opened(app: &App) -> Result<Option<(Arc<SolutionIndex>, bool)>, KbError> {
    let kept = || app.kb_index.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(index) = kept() {
        return Ok(Some((index, false)));
    }
    // Two openings at once (a search and the daemon's follower, at start) would make the
    // second a reader of the first's writer, and the reader might be the one kept: then no
    // one here writes the index.
    let _opening = app.kb_opening.lock().await;
    if let Some(index) = kept() {
        return Ok(Some((index, false)));
    }
    let config = app.config();
    let dir = config.data_dir.join("kb-index");
    let joined = tokio::task::spawn_blocking(move || SolutionIndex::open(&dir))
        .await
        .map_err(|e| IndexError::File { path: config.data_dir.join("kb-index"), source: std::io::Error::other(e) })?;
    let opened = match joined {
        Ok(index) => Arc::new(index),
        Err(IndexError::Missing(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    tracing::info!(writer = opened.is_writer(), "opened the knowledge base index");
    *app.kb_index.lock().unwrap_or_else(|p| p.into_inner()) = Some(opened.clone());
    Ok(Some((opened, true)))
}

/// How many changes one step of [`catch_up`] reads, and how many solutions a rebuild
/// writes at a time.
const BATCH: i64 = 1000;

/// Brings `index` up to the store's revision: the changes since its own, or everything
/// anew when it was never built, or is of another history than the store's (ahead of it,
/// or its last change is not the store's change of that revision: a database restored or
/// replaced). A reader only picks up what the writer committed. Returns how many
/// solutions were written.
pub async fn catch_up(app: &App, index: &Arc<SolutionIndex>) -> Result<usize, KbError> {
    if !index.is_writer() {
        index.refresh()?;
        return Ok(0);
    }
    // One catch-up at a time: a rebuild's writes are committed together.
    let _updating = index.updating().await;
    let mut db = app.store.conn().await?;
    let latest = db.kb_revision().await?;
    let applied = index.applied();
    let same_history = match &applied {
        Some(a) if a.revision == 0 => true,
        Some(a) if a.revision <= latest => applied_as(&mut db, a.revision).await? == *a,
        _ => false,
    };
    let mut written = 0;
    match applied.map(|a| a.revision) {
        Some(at) if same_history && at == latest => {}
        Some(mut at) if same_history && at < latest => {
            while at < latest {
                let (slugs, last) = db.kb_changes_after(at, BATCH).await?;
                let mut rows = Vec::new();
                let mut removed = Vec::new();
                for slug in slugs {
                    match db.solution(&slug).await? {
                        Some(row) => rows.push(row),
                        None => removed.push(slug),
                    }
                }
                written += rows.len() + removed.len();
                let applied = applied_as(&mut db, last).await?;
                on_writer(index, move |index| {
                    index.apply(&rows.iter().map(indexed).collect::<Vec<_>>(), &removed, &applied)
                })
                .await?;
                at = last;
            }
        }
        _ => {
            on_writer(index, |index| index.start_over()).await?;
            let rebuilt = rebuild(&mut db, index, latest).await;
            if rebuilt.is_err() {
                let _ = on_writer(index, |index| {
                    index.abandon();
                    Ok(())
                })
                .await;
            }
            written = rebuilt?;
        }
    }
    Ok(written)
}

/// The store's change of `revision` as an index records having applied it.
async fn applied_as(db: &mut crate::store::Conn, revision: i64) -> Result<Applied, StoreError> {
    let mark = match db.kb_change(revision).await? {
        Some((at, slug)) => format!("{at} {slug}"),
        None => String::new(),
    };
    Ok(Applied { revision, mark })
}

/// Adds every solution of the store to `index` after [`SolutionIndex::start_over`], a
/// batch at a time, and commits them all as of `latest`.
async fn rebuild(db: &mut crate::store::Conn, index: &Arc<SolutionIndex>, latest: i64) -> Result<usize, KbError> {
    let (mut after, mut written) = (0, 0);
    loop {
        let rows = db.solutions_after(after, BATCH).await?;
        let more = rows.len() as i64 == BATCH;
        after = rows.last().map_or(after, |r| r.id);
        written += rows.len();
        on_writer(index, move |index| index.add(&rows.iter().map(indexed).collect::<Vec<_>>())).await?;
        if !more {
            break;
        }
    }
    let applied = applied_as(db, latest).await?;
    on_writer(index, move |index| index.finish(&applied)).await?;
    Ok(written)
}

/// Runs `write` on `index` on a blocking thread: a commit writes files, a merge for long.
async fn on_writer<T: Send + 'static>(
    index: &Arc<SolutionIndex>,
    write: impl FnOnce(&SolutionIndex) -> Result<T, IndexError> + Send + 'static,
) -> Result<T, KbError> {
    let index = index.clone();
    match tokio::task::spawn_blocking(move || write(&index)).await {
        Ok(result) => Ok(result?),
        Err(e) => {
            Err(KbError::Index(IndexError::File { path: PathBuf::from("kb-index"), source: std::io::Error::other(e) }))
        }
    }
}

fn indexed(row: &SolutionRow) -> IndexedSolution<'_> {
    IndexedSolution {
        slug: &row.slug,
        title: &row.title,
        category: row.category.as_deref(),
        tags: &row.tags,
        language: &row.language,
        visibility: Visibility::parse(&row.visibility).unwrap_or(Visibility::Customers),
        text: &row.body_text,
    }
}

/// The solutions `viewer` may see that best match `text` (in `category`, when given),
/// best first, at most `limit`.
pub async fn search(
    app: &App,
    viewer: Viewer,
    text: &str,
    category: Option<&str>,
    limit: usize,
) -> Result<Vec<Hit>, KbError> {
    let index = index(app).await?;
    let request = SearchRequest { text, category, visible: viewer.may_see(), limit };
    Ok(index.search(&request)?)
}

/// The solutions `viewer` may see that match `text` well enough to be suggested unasked:
/// at most `limit`, best first, each scoring at least `min_score`.
pub async fn suggest(app: &App, viewer: Viewer, text: &str, limit: usize, min_score: f32) -> Result<Vec<Hit>, KbError> {
    // Suggested while a mail is taken in (`maildesk ingest` too): an index that was never
    // built is not built now, which could take minutes on a large knowledge base.
    let index = match opened(app).await? {
        Some((index, first)) if index.revision().is_some() => {
            if first {
                catch_up(app, &index).await?;
            }
            index
        }
        _ => return Ok(Vec::new()),
    };
    let request = SearchRequest { text, category: None, visible: viewer.may_see(), limit };
    Ok(index.search(&request)?.into_iter().filter(|h| h.score >= min_score).collect())
}

/// Every solution `viewer` may see, by slug.
pub async fn list(app: &App, viewer: Viewer) -> Result<Vec<SolutionSummary>, StoreError> {
    let all = app.store.conn().await?.solution_summaries().await?;
    Ok(all.into_iter().filter(|s| viewer.sees(&s.visibility)).collect())
}

/// A solution in full, with the files beside it.
#[derive(Debug, Clone, Serialize)]
pub struct SolutionPage {
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its language.
    pub language: String,
    /// `public` or `customers`.
    pub visibility: String,
    /// The Markdown as written.
    pub markdown: String,
    /// The body rendered and sanitised.
    pub html: String,
    /// When it was first imported and last changed (Unix seconds).
    pub created_at: i64,
    /// When it last changed (Unix seconds).
    pub updated_at: i64,
    /// The files beside it: path, media type, size.
    pub files: Vec<(String, String, i64)>,
}

/// The solution `slug`, when `viewer` may see it (else None, as if there were none).
pub async fn show(app: &App, viewer: Viewer, slug: &str) -> Result<Option<SolutionPage>, StoreError> {
    let mut db = app.store.conn().await?;
    let Some(row) = db.solution(slug).await?.filter(|r| viewer.sees(&r.visibility)) else { return Ok(None) };
    let files = db.solution_files(row.id).await?.into_iter().map(|f| (f.path, f.content_type, f.size)).collect();
    Ok(Some(SolutionPage {
        slug: row.slug,
        title: row.title,
        category: row.category,
        tags: row.tags,
        language: row.language,
        visibility: row.visibility,
        markdown: row.markdown,
        html: row.html,
        created_at: row.created_at,
        updated_at: row.updated_at,
        files,
    }))
}

/// How often a running daemon looks for changes of the knowledge base to index.
pub const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps this node's index in step with the store until `shutdown`: opens (or builds) it
/// at once, then applies what changed every [`FOLLOW_EVERY`], so that an import is
/// searchable within seconds. A failure is logged once, and tried again.
pub async fn follow(app: Arc<App>, shutdown: tokio_util::sync::CancellationToken) {
    let mut failing: Option<String> = None;
    loop {
        let followed = match index(&app).await {
            Ok(index) => catch_up(&app, &index).await,
            Err(e) => Err(e),
        };
        match followed {
            Ok(_) => {
                if failing.take().is_some() {
                    tracing::info!("the knowledge base index is up to date again");
                }
            }
            Err(e) => {
                let said = e.to_string();
                if failing.as_deref() != Some(said.as_str()) {
                    tracing::warn!(error = %said, "keeping the knowledge base index up to date failed; trying again");
                    failing = Some(said);
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}
