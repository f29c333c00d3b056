//! The tantivy index of solutions (MISSION KB2): what the knowledge base's search reads.
//! It is derived from the store and can always be rebuilt from it: each commit records the
//! store's revision it has applied, and desk feeds it the changes after that.
//!
//! # One writer
//! The process that holds `<dir>.lock` (an exclusive `flock`, released by the kernel when
//! the process ends, however it ends) is the index's writer: it alone creates, rebuilds and
//! updates the directory. Every other process opens it to read, and sees each commit within
//! a second (tantivy watches its `meta.json`). tantivy's own writer lock sits under ours.
//!
//! # Languages
//! A solution's language decides how its words are cut: each language of [`LANGUAGES`]
//! has a title field and a body field of its own, analysed with its stop words (where
//! tantivy has a list) and its Snowball stemmer, then folded to ASCII; any other language
//! has words only lower-cased and folded. A solution fills the fields of its language
//! alone, so its words are counted (BM25) among the solutions of that language.
//!
//! # A search
//! The visitor's text is words and `"quoted phrases"`. Each word, cut as each language
//! cuts it, scores by BM25 in titles (and tags) ×[`TITLE_BOOST`] and bodies; a word of five
//! letters or more that no solution of a language has is read there as the most frequent
//! words one edit away (a typo: a wrong, missing, extra or swapped letter), scored the
//! same way at [`TYPO_BOOST`]. Every phrase must occur, in order, in a title or body. Only
//! what the visitor may see, and the category asked for, are searched.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::merge_policy::{LogMergePolicy, NoMergePolicy};
use tantivy::query::{BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
    TokenizerManager,
};
use tantivy::{DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::file::Visibility;

/// The languages whose words are stemmed: ISO 639-1 code and tantivy's stemmer.
pub const LANGUAGES: &[(&str, Language)] = &[
    ("en", Language::English),
    ("de", Language::German),
    ("fr", Language::French),
    ("es", Language::Spanish),
    ("it", Language::Italian),
    ("nl", Language::Dutch),
    ("pt", Language::Portuguese),
    ("sv", Language::Swedish),
    ("da", Language::Danish),
    ("no", Language::Norwegian),
    ("fi", Language::Finnish),
    ("ru", Language::Russian),
    ("ro", Language::Romanian),
    ("hu", Language::Hungarian),
    ("tr", Language::Turkish),
    ("el", Language::Greek),
    ("ar", Language::Arabic),
    ("ta", Language::Tamil),
];

/// The fields of a language not in [`LANGUAGES`].
const OTHER: &str = "other";

/// How much more a word counts in a title or tag than in a body.
pub const TITLE_BOOST: f32 = 2.5;

/// How much a typo's correction counts, against the word as typed.
pub const TYPO_BOOST: f32 = 0.6;

/// A word this long or longer that no solution has is read as a typo.
pub const TYPO_MIN_CHARS: usize = 5;

/// At most this many corrections of one typo, the most frequent first.
const TYPO_CANDIDATES: usize = 3;

/// At most this many words and phrases of a search count.
pub const MAX_TERMS: usize = 32;

/// At most this many characters of a search are read.
pub const MAX_CHARS: usize = 1000;

/// At most this many words of a phrase count.
pub const MAX_PHRASE_WORDS: usize = 12;

/// At most this many words of one search are read as typos (looking up the words one edit
/// away costs more than an exact word).
pub const MAX_TYPOS: usize = 3;

/// What a snippet is cut to, in characters.
const SNIPPET_CHARS: usize = 180;

/// The version of [`schema`]: a commit of another version is rebuilt.
const SCHEMA_VERSION: u32 = 2;

/// Why the index could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy failed.
    #[error("the knowledge base index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// A file of the index's directory failed.
    #[error("the knowledge base index at {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    /// This process may not write: another one holds the index.
    #[error("the knowledge base index at {0} is written by another process")]
    NotWriter(PathBuf),
    /// There is no index yet, and this process may not build it.
    #[error("the knowledge base index at {0} is not built yet (the running daemon builds it)")]
    Missing(PathBuf),
}

/// A search's query, and those of its words some solution has.
struct Built {
    query: Box<dyn Query>,
    /// For each word some solution has, the terms it is in the index as: cut as each
    /// language cuts it, or a typo's corrections.
    wants: Vec<Vec<Term>>,
}

/// How many solutions, at least, are weighed by the share of the words they have before
/// the best are kept.
const RERANKED: usize = 20;

/// What a solution's score keeps when it has none of the words weighed (only a typo's
/// correction, say): the rest of the score is in proportion to the share it has.
const COVERAGE_FLOOR: f32 = 0.3;

/// A solution as the index keeps it.
#[derive(Debug, Clone)]
pub struct IndexedSolution<'a> {
    /// Its identity.
    pub slug: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its category, if any.
    pub category: Option<&'a str>,
    /// Its tags (searched as its title is).
    pub tags: &'a [String],
    /// ISO 639-1 code of its language.
    pub language: &'a str,
    /// Who may see it.
    pub visibility: Visibility,
    /// Its body as plain text.
    pub text: &'a str,
}

/// What a visitor searches for.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    /// What they typed.
    pub text: &'a str,
    /// Only this category, when given.
    pub category: Option<&'a str>,
    /// What they may see.
    pub visible: &'a [Visibility],
    /// At most this many hits.
    pub limit: usize,
}

/// One solution found.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Its identity.
    pub slug: String,
    /// Its title.
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// Its language.
    pub language: String,
    /// How well it matches (BM25; comparable within one search).
    pub score: f32,
    /// A piece of its body around the words found, as HTML: the text escaped, the words
    /// in `<mark>`.
    pub snippet_html: String,
}

/// The fields of the schema.
#[derive(Debug, Clone)]
struct Fields {
    slug: Field,
    title: Field,
    tags: Field,
    category: Field,
    visibility: Field,
    language: Field,
    /// Title and body field of each language of [`LANGUAGES`], then of [`OTHER`].
    text: Vec<(Field, Field)>,
}

/// The tokenizer name of language `code`'s fields.
fn tokenizer_name(code: &str) -> String {
    format!("maildesk_{code}")
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let slug = b.add_text_field("slug", STRING | STORED);
    let title = b.add_text_field("title", STORED);
    let tags = b.add_text_field("tags", STORED);
    let category = b.add_text_field("category", STRING | STORED);
    let visibility = b.add_text_field("visibility", STRING);
    let language = b.add_text_field("language", STRING | STORED);
    let codes = LANGUAGES.iter().map(|(code, _)| *code).chain([OTHER]);
    let text = codes
        .map(|code| {
            let indexing = TextFieldIndexing::default()
                .set_tokenizer(&tokenizer_name(code))
                .set_index_option(IndexRecordOption::WithFreqsAndPositions);
            let indexed = TextOptions::default().set_indexing_options(indexing);
            (
                b.add_text_field(&format!("title_{code}"), indexed.clone()),
                b.add_text_field(&format!("body_{code}"), indexed | STORED),
            )
        })
        .collect();
    (b.build(), Fields { slug, title, tags, category, visibility, language, text })
}

fn tokenizers() -> TokenizerManager {
    let manager = TokenizerManager::default();
    for (code, language) in LANGUAGES {
        let mut builder = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .dynamic();
        if let Some(stop) = StopWordFilter::new(*language) {
            builder = builder.filter_dynamic(stop);
        }
        let analyzer = builder.filter_dynamic(Stemmer::new(*language)).filter_dynamic(AsciiFoldingFilter).build();
        manager.register(&tokenizer_name(code), analyzer);
    }
    let other = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    manager.register(&tokenizer_name(OTHER), other);
    manager
}

/// Which [`Fields::text`] pair a language's words go in.
fn language_slot(code: &str) -> usize {
    LANGUAGES.iter().position(|(c, _)| *c == code).unwrap_or(LANGUAGES.len())
}

/// What a commit records: the schema's version and the store's change applied last.
#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    schema: u32,
    revision: i64,
    #[serde(default)]
    mark: String,
}

/// The store's change of the knowledge base an index has applied last: its revision, and
/// a mark of what that change was (desk's: its time and slug), so that an index of another
/// history (a database restored or replaced under it) is known even at the same revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The change's revision (0: none yet).
    pub revision: i64,
    /// What the change was.
    pub mark: String,
}

/// The index of solutions, open to read, and to write when this process holds it.
pub struct SolutionIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    fields: Fields,
    /// The writer, when this process holds the lock (kept as long as the index is open).
    writer: Option<Mutex<IndexWriter>>,
    /// Held by whoever brings the index up to the store (see [`Self::updating`]).
    updating: tokio::sync::Mutex<()>,
    _lock: Option<File>,
}

impl std::fmt::Debug for SolutionIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolutionIndex").field("dir", &self.dir).field("writer", &self.writer.is_some()).finish()
    }
}

/// The memory tantivy may use to build a segment before it writes it out.
const WRITER_BYTES: usize = 32 * 1024 * 1024;

impl SolutionIndex {
    /// Opens the index in `dir`, as its writer when no other process is (creating it, or
    /// starting it anew when it is of another schema), else to read.
    pub fn open(dir: &Path) -> Result<SolutionIndex, IndexError> {
        let file_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::File { path, source }
        };
        let lock_path = dir.with_extension("lock");
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).map_err(file_error(parent))?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(file_error(&lock_path))?;
        let holder = match lock.try_lock() {
            Ok(()) => Some(lock),
            Err(std::fs::TryLockError::WouldBlock) => None,
            Err(std::fs::TryLockError::Error(e)) => return Err(file_error(&lock_path)(e)),
        };
        let (schema, fields) = schema();
        let index = match holder {
            Some(_) => {
                std::fs::create_dir_all(dir).map_err(file_error(dir))?;
                match Self::open_dir(dir, &schema) {
                    Ok(index) if Self::payload_of(&index).is_none_or(|p| p.schema == SCHEMA_VERSION) => index,
                    // Another schema, or files that do not open: built anew from the store.
                    _ => {
                        std::fs::remove_dir_all(dir).map_err(file_error(dir))?;
                        std::fs::create_dir_all(dir).map_err(file_error(dir))?;
                        Self::open_dir(dir, &schema)?
                    }
                }
            }
            None => {
                if !dir.join("meta.json").exists() {
                    return Err(IndexError::Missing(dir.to_path_buf()));
                }
                let mut index = Index::open_in_dir(dir)?;
                index.set_tokenizers(tokenizers());
                if index.schema() != schema {
                    return Err(IndexError::Missing(dir.to_path_buf()));
                }
                index
            }
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        let writer = match holder {
            Some(_) => Some(Mutex::new(index.writer_with_num_threads(1, WRITER_BYTES)?)),
            None => None,
        };
        Ok(SolutionIndex {
            dir: dir.to_path_buf(),
            index,
            reader,
            fields,
            writer,
            updating: tokio::sync::Mutex::new(()),
            _lock: holder,
        })
    }

    fn open_dir(dir: &Path, schema: &Schema) -> Result<Index, IndexError> {
        let directory = MmapDirectory::open(dir)
            .map_err(|e| IndexError::File { path: dir.to_path_buf(), source: std::io::Error::other(e.to_string()) })?;
        Ok(Index::builder().schema(schema.clone()).tokenizers(tokenizers()).open_or_create(directory)?)
    }

    fn payload_of(index: &Index) -> Option<Payload> {
        let metas = index.load_metas().ok()?;
        serde_json::from_str(metas.payload.as_deref()?).ok()
    }

    /// Waits until no one else brings the index up to the store, and keeps others waiting
    /// while the guard lives: a rebuild's batches are not interleaved with other writes.
    pub async fn updating(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.updating.lock().await
    }

    /// Whether this process writes the index.
    pub fn is_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// The store's change the index has applied last; None before its first build.
    pub fn applied(&self) -> Option<Applied> {
        let payload = Self::payload_of(&self.index).filter(|p| p.schema == SCHEMA_VERSION)?;
        Some(Applied { revision: payload.revision, mark: payload.mark })
    }

    /// The store's revision the index has applied; None before its first build.
    pub fn revision(&self) -> Option<i64> {
        self.applied().map(|a| a.revision)
    }

    /// How many solutions the index holds, as its reader last saw.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no solution.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `put` over (or beside) the solutions of their slugs, takes out those of
    /// `removed`, and commits as having applied `applied`.
    pub fn apply(&self, put: &[IndexedSolution<'_>], removed: &[String], applied: &Applied) -> Result<(), IndexError> {
        let mut writer = self.writer()?;
        self.stage(&writer, put, removed)?;
        self.commit(&mut writer, applied)
    }

    /// Starts a rebuild: every solution is taken out, and [`Self::add`] puts them back.
    /// Readers see the index as it was until [`Self::finish`] commits it all at once: a
    /// rebuild cut short (a crash, [`Self::abandon`]) leaves the index of before, which
    /// records the revision it had, so it is rebuilt again.
    pub fn start_over(&self) -> Result<(), IndexError> {
        let writer = self.writer()?;
        // The segments a rebuild writes are merged into one when it is done, not while.
        writer.set_merge_policy(Box::new(NoMergePolicy));
        writer.delete_all_documents()?;
        Ok(())
    }

    /// Adds `put` to the rebuild [`Self::start_over`] began (each slug once in all: none
    /// is taken out first, since every delete waits in memory for the commit).
    pub fn add(&self, put: &[IndexedSolution<'_>]) -> Result<(), IndexError> {
        let writer = self.writer()?;
        for solution in put {
            writer.add_document(self.document(solution))?;
        }
        Ok(())
    }

    /// Commits a rebuild as having applied `applied`, and merges its segments into one:
    /// a search looks each word up once per segment.
    pub fn finish(&self, applied: &Applied) -> Result<(), IndexError> {
        let mut writer = self.writer()?;
        self.commit(&mut writer, applied)?;
        let segments = self.index.searchable_segment_ids()?;
        let merged = match segments.len() > 1 {
            true => writer.merge(&segments).wait().map(|_| ()),
            false => Ok(()),
        };
        writer.set_merge_policy(Box::<LogMergePolicy>::default());
        drop(writer);
        // The rebuild is committed whether or not the merge was: it only costs speed.
        if let Err(e) = merged {
            tracing::warn!(error = %e, segments = segments.len(), "merging the rebuilt knowledge base index failed");
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Drops what was written since the last commit: a rebuild that could not go on.
    pub fn abandon(&self) {
        if let Ok(mut writer) = self.writer() {
            if let Err(e) = writer.rollback() {
                tracing::warn!(error = %e, "abandoning the knowledge base index's rebuild failed");
            }
            writer.set_merge_policy(Box::<LogMergePolicy>::default());
        }
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, IndexWriter>, IndexError> {
        let writer = self.writer.as_ref().ok_or_else(|| IndexError::NotWriter(self.dir.clone()))?;
        Ok(writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn stage(&self, writer: &IndexWriter, put: &[IndexedSolution<'_>], removed: &[String]) -> Result<(), IndexError> {
        for slug in removed.iter().map(String::as_str).chain(put.iter().map(|s| s.slug)) {
            writer.delete_term(Term::from_field_text(self.fields.slug, slug));
        }
        for solution in put {
            writer.add_document(self.document(solution))?;
        }
        Ok(())
    }

    fn commit(&self, writer: &mut IndexWriter, applied: &Applied) -> Result<(), IndexError> {
        let mut commit = writer.prepare_commit()?;
        let payload = Payload { schema: SCHEMA_VERSION, revision: applied.revision, mark: applied.mark.clone() };
        let payload = serde_json::to_string(&payload).unwrap_or_default();
        commit.set_payload(&payload);
        commit.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    fn document(&self, s: &IndexedSolution<'_>) -> TantivyDocument {
        let f = &self.fields;
        let (title, body) = f.text[language_slot(s.language)];
        let mut doc = TantivyDocument::default();
        doc.add_text(f.slug, s.slug);
        doc.add_text(f.title, s.title);
        doc.add_text(f.language, s.language);
        doc.add_text(f.visibility, s.visibility.as_str());
        if let Some(category) = s.category {
            doc.add_text(f.category, category);
        }
        doc.add_text(title, s.title);
        for tag in s.tags {
            doc.add_text(title, tag);
            doc.add_text(f.tags, tag);
        }
        doc.add_text(body, s.text);
        doc
    }

    /// Picks up what the writer (this process or another) committed since the last look.
    pub fn refresh(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    /// The solutions that best match `request`, best first.
    pub fn search(&self, request: &SearchRequest<'_>) -> Result<Vec<Hit>, IndexError> {
        let searcher = self.reader.searcher();
        let Some(Built { query, wants }) = self.query(&searcher, request)? else { return Ok(Vec::new()) };
        let limit = request.limit.max(1);
        let top =
            searcher.search(&query, &TopDocs::with_limit(limit.saturating_mul(2).max(RERANKED)).order_by_score())?;
        // BM25 sums what each word adds: a solution full of one word can outscore one that
        // has them all. Each found solution's score is weighed by the share of the words
        // (that some solution has) it has, and the best of them kept.
        let addresses: Vec<DocAddress> = top.iter().map(|(_, a)| *a).collect();
        let shares = coverage(&searcher, &addresses, &wants)?;
        let mut ranked: Vec<(f32, DocAddress)> = top
            .into_iter()
            .zip(shares)
            .map(|((score, address), has)| {
                let share = match wants.is_empty() {
                    true => 1.0,
                    false => has as f32 / wants.len() as f32,
                };
                (score * (COVERAGE_FLOOR + (1.0 - COVERAGE_FLOOR) * share), address)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.truncate(limit);
        let mut snippets: HashMap<Field, SnippetGenerator> = HashMap::new();
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, address) in ranked {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string);
            let language = text(self.fields.language).unwrap_or_default();
            let body_field = self.fields.text[language_slot(&language)].1;
            let generator = match snippets.entry(body_field) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let mut generator = SnippetGenerator::create(&searcher, &*query, body_field)?;
                    generator.set_max_num_chars(SNIPPET_CHARS);
                    e.insert(generator)
                }
            };
            let body = text(body_field).unwrap_or_default();
            let mut snippet = generator.snippet(&body);
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            let snippet_html = match snippet.is_empty() {
                false => snippet.to_html(),
                true => opening(&body),
            };
            hits.push(Hit {
                slug: text(self.fields.slug).unwrap_or_default(),
                title: text(self.fields.title).unwrap_or_default(),
                category: text(self.fields.category),
                language,
                score,
                snippet_html,
            });
        }
        Ok(hits)
    }

    /// The query of `request` and the words of it some solution has, or None when it asks
    /// for nothing.
    fn query(&self, searcher: &Searcher, request: &SearchRequest<'_>) -> Result<Option<Built>, IndexError> {
        let (words, phrases) = parse(request.text);
        if words.is_empty() && phrases.is_empty() {
            return Ok(None);
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut wants = Vec::new();
        let mut typos = 0;
        // The title fields of the languages some solution is in: only those are looked in
        // for a typo's corrections.
        let populated: Vec<Field> = self
            .fields
            .text
            .iter()
            .filter(|(_, body)| {
                searcher
                    .segment_readers()
                    .iter()
                    .any(|s| s.inverted_index(*body).is_ok_and(|i| i.terms().num_terms() > 0))
            })
            .map(|(title, _)| *title)
            .collect();
        for word in &words {
            // The word as each language cuts it, and whether any solution has it.
            let mut cut: Vec<(Field, Field, String, bool)> = Vec::new();
            for (title, body) in &self.fields.text {
                for term_text in self.cut(*body, word) {
                    let (t, b) = (Term::from_field_text(*title, &term_text), Term::from_field_text(*body, &term_text));
                    let exists = searcher.doc_freq(&t)? + searcher.doc_freq(&b)? > 0;
                    cut.push((*title, *body, term_text, exists));
                }
            }
            let mut each: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            if cut.iter().any(|c| c.3) {
                let mut terms = Vec::new();
                for (title, body, term_text, _) in cut.iter().filter(|c| c.3) {
                    let (t, b) = (Term::from_field_text(*title, term_text), Term::from_field_text(*body, term_text));
                    each.extend(scored(&t, &b, 1.0));
                    terms.extend([t, b]);
                }
                wants.push(terms);
            } else if word.chars().count() >= TYPO_MIN_CHARS && typos < MAX_TYPOS {
                typos += 1;
                // No solution has it in any language: a typo, read as the words one edit
                // away in each language.
                let mut fixes = Vec::new();
                // The stem of a misspelt word may be further from the right stem than the
                // word is from the right word ("calender" is cut to "calend"): both are
                // looked up.
                let typed = word.to_lowercase();
                for (title, body, term_text, _) in cut.iter().filter(|c| populated.contains(&c.0)) {
                    let mut found = corrections(searcher, &[*title, *body], term_text)?;
                    if typed != *term_text {
                        found.extend(corrections(searcher, &[*title, *body], &typed)?);
                        found.dedup();
                    }
                    for fixed in found {
                        let (t, b) = (Term::from_field_text(*title, &fixed), Term::from_field_text(*body, &fixed));
                        each.extend(scored(&t, &b, TYPO_BOOST));
                        fixes.extend([t, b]);
                    }
                }
                if !fixes.is_empty() {
                    wants.push(fixes);
                }
            }
            if !each.is_empty() {
                clauses.push((Occur::Should, Box::new(BooleanQuery::new(each))));
            }
        }
        let mut required: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for phrase in &phrases {
            let mut each: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (title, body) in &self.fields.text {
                for field in [*title, *body] {
                    // Each term at its place in the phrase: a stop word taken out leaves its gap.
                    let cut = self.cut_at(field, phrase);
                    let first = cut.first().map_or(0, |(at, _)| *at);
                    let terms: Vec<(usize, Term)> =
                        cut.into_iter().map(|(at, t)| (at - first, Term::from_field_text(field, &t))).collect();
                    let boost = if field == *title { TITLE_BOOST } else { 1.0 };
                    let query: Box<dyn Query> = match terms.len() {
                        0 => continue,
                        1 => Box::new(TermQuery::new(terms[0].1.clone(), IndexRecordOption::WithFreqs)),
                        _ => Box::new(PhraseQuery::new_with_offset(terms)),
                    };
                    each.push((Occur::Should, Box::new(BoostQuery::new(query, boost))));
                }
            }
            // A phrase of stop words alone asks for nothing.
            if !each.is_empty() {
                required.push((Occur::Must, Box::new(BooleanQuery::new(each))));
            }
        }
        match (clauses.is_empty(), required.is_empty()) {
            (true, true) => return Ok(None),
            // Words alone: at least one must match.
            (false, true) => clauses = vec![(Occur::Must, Box::new(BooleanQuery::new(clauses)))],
            // With phrases, which must all match, words only add to the score.
            _ => {}
        }
        clauses.extend(required);
        let visible: Vec<(Occur, Box<dyn Query>)> = request
            .visible
            .iter()
            .map(|v| {
                let term = Term::from_field_text(self.fields.visibility, v.as_str());
                (Occur::Should, Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>)
            })
            .collect();
        if visible.is_empty() {
            return Ok(None);
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(visible))));
        if let Some(category) = request.category {
            let term = Term::from_field_text(self.fields.category, category);
            clauses.push((Occur::Must, Box::new(TermQuery::new(term, IndexRecordOption::Basic))));
        }
        Ok(Some(Built { query: Box::new(BooleanQuery::new(clauses)), wants }))
    }

    /// `text` cut into terms as `field` cuts it.
    fn cut(&self, field: Field, text: &str) -> Vec<String> {
        self.cut_at(field, text).into_iter().map(|(_, t)| t).collect()
    }

    /// `text` cut into terms as `field` cuts it, each with its position.
    fn cut_at(&self, field: Field, text: &str) -> Vec<(usize, String)> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(field) else { return Vec::new() };
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            let token = stream.token();
            terms.push((token.position, token.text.clone()));
        }
        terms
    }
}

/// For each of `found`, how many of `wants` it has (any of a want's terms), read from the
/// postings: each term's list is walked once per segment, to the found solutions in order.
fn coverage(searcher: &Searcher, found: &[DocAddress], wants: &[Vec<Term>]) -> Result<Vec<usize>, IndexError> {
    let mut has = vec![0; found.len()];
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_by_key(|&i| (found[i].segment_ord, found[i].doc_id));
    let mut seen = vec![false; found.len()];
    for want in wants {
        seen.fill(false);
        for term in want {
            for in_segment in order.chunk_by(|&a, &b| found[a].segment_ord == found[b].segment_ord) {
                let segment = searcher.segment_reader(found[in_segment[0]].segment_ord);
                let postings = segment.inverted_index(term.field())?.read_postings(term, IndexRecordOption::Basic);
                let Some(mut postings) = postings.map_err(tantivy::TantivyError::from)? else { continue };
                for &i in in_segment {
                    let doc = found[i].doc_id;
                    // A seek only goes forward; past the end, doc() is TERMINATED.
                    let at = match postings.doc() < doc {
                        true => postings.seek(doc),
                        false => postings.doc(),
                    };
                    seen[i] |= at == doc;
                }
            }
        }
        for (count, seen) in has.iter_mut().zip(&seen) {
            *count += usize::from(*seen);
        }
    }
    Ok(has)
}

/// A term's query in a title (×[`TITLE_BOOST`]) and a body, both ×`boost`.
fn scored(title: &Term, body: &Term, boost: f32) -> [(Occur, Box<dyn Query>); 2] {
    let query = |term: &Term, boost: f32| -> Box<dyn Query> {
        Box::new(BoostQuery::new(Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)), boost))
    };
    [(Occur::Should, query(title, TITLE_BOOST * boost)), (Occur::Should, query(body, boost))]
}

/// The terms of `fields` one edit away from `term`, the most frequent first (at most
/// [`TYPO_CANDIDATES`]).
fn corrections(searcher: &Searcher, fields: &[Field], term: &str) -> Result<Vec<String>, IndexError> {
    let mut found: BTreeMap<String, u64> = BTreeMap::new();
    for &field in fields {
        let fuzzy = FuzzyTermQuery::new(Term::from_field_text(field, term), 1, true);
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field)?;
            let mut stream =
                inverted.terms().search(fuzzy.automaton()?).into_stream().map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                if let Ok(text) = std::str::from_utf8(stream.key()) {
                    *found.entry(text.to_string()).or_default() += u64::from(stream.value().doc_freq);
                }
            }
        }
    }
    let mut ranked: Vec<(String, u64)> = found.into_iter().filter(|(t, _)| t != term).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(ranked.into_iter().take(TYPO_CANDIDATES).map(|(t, _)| t).collect())
}

/// The words and the quoted phrases of `text`, at most [`MAX_TERMS`] in all. A quote left
/// open ends with the text.
pub fn parse(text: &str) -> (Vec<String>, Vec<String>) {
    let (mut words, mut phrases) = (Vec::new(), Vec::new());
    let text: String = text.chars().take(MAX_CHARS).collect();
    for (i, part) in text.split('"').enumerate() {
        if i % 2 == 1 {
            // A phrase of at most MAX_PHRASE_WORDS words: longer ones are cut there.
            let kept: Vec<&str> = part.split_whitespace().take(MAX_PHRASE_WORDS).collect();
            if !kept.is_empty() {
                phrases.push(kept.join(" "));
            }
        } else {
            words.extend(part.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string));
        }
    }
    words.truncate(MAX_TERMS);
    phrases.truncate(MAX_TERMS.saturating_sub(words.len()));
    (words, phrases)
}

/// The first words of `body` (escaped), for a hit whose body has none of the words.
fn opening(body: &str) -> String {
    let cut: String = body.chars().take(SNIPPET_CHARS).collect();
    let cut = match cut.len() < body.len() {
        true => match cut.rfind(char::is_whitespace) {
            Some(space) => format!("{}…", &cut[..space]),
            None => format!("{cut}…"),
        },
        false => cut,
    };
    ammonia::clean_text(&cut)
}
