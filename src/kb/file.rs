//! A solution as its author writes it: a Markdown file with YAML front matter between
//! `---` lines, read into what the store keeps (MISSION KB1). Pure: bytes in, a solution
//! or every problem with it out; no file system, no store.
//!
//! It owns the format: the front matter's keys and their rules, what a slug may be, how the
//! body becomes safe HTML (pulldown-cmark, then ammonia) and plain text, and how links to
//! files beside the solution are found and rewritten. It must never trust the file: every
//! size is capped, the YAML reader runs on a small budget, and hostile input yields
//! problems, never a panic.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};

/// Who may see a solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Anyone, signed in or not.
    Public,
    /// Signed-in customers only.
    Customers,
}

impl Visibility {
    /// The word the front matter and the store use.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Customers => "customers",
        }
    }

    /// The visibility `word` names, if any.
    pub fn parse(word: &str) -> Option<Visibility> {
        match word {
            "public" => Some(Visibility::Public),
            "customers" => Some(Visibility::Customers),
            _ => None,
        }
    }
}

/// A solution file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolutionFile {
    /// Its identity: the front matter's `slug`, else the file's path under the imported
    /// directory without `.md` (`setup/first-steps`).
    pub slug: String,
    /// The title (required, one line).
    pub title: String,
    /// Its category, if any.
    pub category: Option<String>,
    /// Its tags, in the order written, without duplicates.
    pub tags: Vec<String>,
    /// ISO 639-1 code of its language (default `en`).
    pub language: String,
    /// Who may see it (default public).
    pub visibility: Visibility,
    /// The Markdown body after the front matter, as written.
    pub markdown: String,
    /// The body rendered to HTML and sanitised, local links and images pointing under
    /// the files prefix given to [`read`].
    pub html: String,
    /// The body as plain text (what the index reads and snippets quote).
    pub text: String,
    /// The files beside it that the body links to or shows, as paths under the imported
    /// directory (`setup/screen.png`), each once, in order of appearance.
    pub files: Vec<String>,
    /// The other solution files its body links to, as paths under the imported directory
    /// (`billing/refund.md`), each once, in order of appearance.
    pub pages: Vec<String>,
}

/// One thing wrong with a solution file, in words for its author (naming the key, value or
/// line concerned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(pub String);

/// Reads the solution file at `path` (relative to the imported directory, `/`-separated,
/// ending in `.md`) from its `bytes`; local links and images are rewritten to
/// `files_prefix` followed by their path under the imported directory.
pub fn read(path: &str, bytes: &[u8], files_prefix: &str) -> Result<SolutionFile, Vec<Problem>> {
    read_linked(path, bytes, files_prefix, &HashMap::new())
}

/// [`read`], with a link to another solution file pointing at the slug `slugs` gives its
/// path (`billing/refund.md`), when it names one other than its path without `.md`.
pub fn read_linked(
    path: &str,
    bytes: &[u8],
    files_prefix: &str,
    slugs: &HashMap<String, String>,
) -> Result<SolutionFile, Vec<Problem>> {
    let mut problems = Problems::default();
    let dir = check_path(path, &mut problems);
    let parts = match split(bytes) {
        Ok(parts) => parts,
        Err(problem) => {
            problems.add(problem);
            return Err(problems.into_vec());
        }
    };
    let meta = front_matter(parts.front, &mut problems).map(|raw| check_meta(raw, &mut problems));
    let slug = match &meta {
        Some(meta) => slug_of(meta.slug.as_deref(), path, &mut problems),
        None => None,
    };
    let body = body(parts.body, parts.body_line, &dir, (files_prefix, slugs), &mut problems);
    if !problems.is_empty() {
        return Err(problems.into_vec());
    }
    match (meta, slug, body) {
        (Some(Meta { title: Some(title), category, tags, language, visibility, .. }), Some(slug), Some(body)) => {
            Ok(SolutionFile {
                slug,
                title,
                category,
                tags,
                language,
                visibility,
                markdown: body.markdown,
                html: body.html,
                text: body.text,
                files: body.files,
                pages: body.pages,
            })
        }
        // Every part that is missing has said why.
        _ => Err(vec![Problem("the file could not be read".into())]),
    }
}

/// Longest title, in characters.
const MAX_TITLE: usize = 200;
/// Longest category, in characters.
const MAX_CATEGORY: usize = 100;
/// Longest tag, in characters.
const MAX_TAG: usize = 50;
/// Most tags on one solution.
const MAX_TAGS: usize = 30;
/// Longest slug, in characters.
const MAX_SLUG: usize = 200;
/// Most `/`-separated segments in a slug.
const MAX_SLUG_SEGMENTS: usize = 8;
/// First slug segments the portal's own pages under `/kb` use.
const RESERVED: &[&str] = &["search", "files", "category", "suggest", "solved", "static", "feedback"];
/// Largest body, in bytes.
const MAX_BODY: usize = 1024 * 1024;
/// Largest front matter, in bytes: six short keys never come near it, and the YAML reader
/// is not asked to read more.
const MAX_FRONT_MATTER: usize = 64 * 1024;
/// Deepest nesting of Markdown elements (lists, quotes, emphasis…) rendered; deeper is an
/// attack or an accident, and costs the HTML sanitiser time that grows with the depth.
const MAX_NESTING: usize = 100;
/// Most raw HTML tags in a body: enough for a table or a few dozen `<kbd>` keys written in
/// HTML, few enough that misnested tags cannot make the sanitiser's parser slow. HTML's
/// rules reopen every unclosed formatting element (`<b>`…) after each block that closed
/// it, so `n` tags can make about n²/8 elements: 10,000 tags made 12 million, 1,000 make
/// 125,000 (about 1 MB of HTML).
const MAX_RAW_TAGS: usize = 1_000;
/// Most problems reported for one file; the rest are counted.
const MAX_PROBLEMS: usize = 50;

/// The problems found so far, capped at [`MAX_PROBLEMS`].
#[derive(Default)]
struct Problems {
    list: Vec<Problem>,
    more: usize,
}

impl Problems {
    fn add(&mut self, problem: impl Into<String>) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Problem(problem.into()));
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn into_vec(mut self) -> Vec<Problem> {
        if self.more > 0 {
            self.list.push(Problem(format!("… and {} more problems", self.more)));
        }
        self.list
    }
}

/// Checks `path` and returns the segments of its directory (empty at the top).
fn check_path<'p>(path: &'p str, problems: &mut Problems) -> Vec<&'p str> {
    if !path.ends_with(".md") {
        problems.add(format!("the path {path:?} does not end in .md"));
    }
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop();
    if path.starts_with('/') || segments.iter().any(|s| matches!(*s, "" | "." | "..")) {
        problems.add(format!("the path {path:?} is not relative to the imported directory"));
        segments.retain(|s| !matches!(*s, "" | "." | ".."));
    }
    segments
}

/// A file cut at its front matter's `---` lines.
struct Parts<'a> {
    /// The YAML between the `---` lines, from the file's second line.
    front: &'a [u8],
    /// Everything after the closing line.
    body: &'a [u8],
    /// The file's line number of the first line of `body`.
    body_line: usize,
}

/// Cuts the front matter from the body: the file starts with a line `---` (after an
/// optional BOM) and the front matter ends at the next line `---` or `...`.
fn split(bytes: &[u8]) -> Result<Parts<'_>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut lines = Lines { bytes, at: 0 };
    let opening = lines.next().map(|(_, line)| line);
    if opening != Some(b"---".as_slice()) {
        let found = match opening {
            None => "the file is empty".to_string(),
            Some(line) => {
                let line: String = String::from_utf8_lossy(line).chars().take(60).collect();
                format!("the first line is {line:?}")
            }
        };
        return Err(format!(
            "the file must start with a line `---` opening the front matter (title, category, tags…); {found}"
        ));
    }
    let front_start = lines.at;
    let mut number = 1;
    while let Some((start, line)) = lines.next() {
        number += 1;
        if line == b"---" || line == b"..." {
            return Ok(Parts { front: &bytes[front_start..start], body: &bytes[lines.at..], body_line: number + 1 });
        }
    }
    Err("the front matter has no closing line `---` (the line after its last key)".into())
}

/// The lines of `bytes` with their start offsets, without `\n` or `\r\n`.
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let rest = self.bytes.get(start..).filter(|rest| !rest.is_empty())?;
        let (line, len) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], end + 1),
            None => (rest, rest.len()),
        };
        self.at = start + len;
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    }
}

/// The front matter as YAML says it, before checking.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    title: Option<String>,
    category: Option<String>,
    tags: Option<RawTags>,
    language: Option<String>,
    visibility: Option<String>,
    slug: Option<String>,
}

/// `tags:` as written: a list, or something else that is refused after reading.
#[derive(Debug)]
enum RawTags {
    List(Vec<String>),
    NotAList,
}

impl<'de> serde::Deserialize<'de> for RawTags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = RawTags;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of tags")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTags, A::Error> {
                let mut tags = Vec::new();
                while let Some(tag) = seq.next_element::<String>()? {
                    tags.push(tag);
                }
                Ok(RawTags::List(tags))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTags, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawTags::NotAList)
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<RawTags, E> {
                Ok(RawTags::NotAList)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<RawTags, E> {
                Ok(RawTags::NotAList)
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<RawTags, E> {
                Ok(RawTags::NotAList)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<RawTags, E> {
                Ok(RawTags::NotAList)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<RawTags, E> {
                Ok(RawTags::NotAList)
            }
        }
        deserializer.deserialize_any(TagsVisitor)
    }
}

/// Reads the front matter's YAML; `None` when it cannot be read (the problem says where).
fn front_matter(front: &[u8], problems: &mut Problems) -> Option<RawMeta> {
    if front.len() > MAX_FRONT_MATTER {
        problems.add(format!("the front matter is {} bytes; at most {MAX_FRONT_MATTER}", front.len()));
        return None;
    }
    let Ok(yaml) = std::str::from_utf8(front) else {
        problems.add("the front matter is not valid UTF-8");
        return None;
    };
    // An empty document is no mapping at all; it lacks the title like an empty mapping.
    if yaml.lines().all(|line| line.trim().is_empty() || line.trim_start().starts_with('#')) {
        return Some(RawMeta::default());
    }
    // Far more than six keys need, far less than an alias bomb wants.
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 10_000,
            max_aliases: 100,
            max_anchors: 100,
            max_recorded_anchor_events: 10_000,
            max_recorded_anchor_bytes: 256 * 1024,
            max_depth: 16,
            max_documents: 1,
            max_nodes: 5_000,
            max_total_scalar_bytes: MAX_FRONT_MATTER,
            max_merge_keys: 16,
            flow_nesting_limit: 16,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 100,
        },
        with_snippet: false,
    };
    // serde_path_to_error names the key a wrong value belongs to ("title", "tags[2]").
    let mut key = String::new();
    let read = serde_saphyr::with_deserializer_from_str_with_options(yaml, options, |deserializer| {
        serde_path_to_error::deserialize::<_, RawMeta>(deserializer).map_err(|error| {
            key = error.path().to_string();
            error.into_inner()
        })
    });
    match read {
        Ok(meta) => Some(meta),
        Err(error) => {
            let rendered = error.render_with_options(serde_saphyr::render_options! {
                formatter: &serde_saphyr::UserMessageFormatter,
                snippets: serde_saphyr::SnippetMode::Off,
                // Lines counted in the file: the YAML starts after the opening `---`.
                line_offset: 1,
            });
            match key.as_str() {
                "" | "." | "?" => problems.add(format!("front matter: {rendered}")),
                key if rendered.contains(&format!("`{key}`")) => problems.add(format!("front matter: {rendered}")),
                key => problems.add(format!("front matter: {key}: {rendered}")),
            }
            None
        }
    }
}

/// The front matter, checked. A value refused is a problem, so what stands in for it here
/// (no title, the default language…) is never used.
struct Meta {
    title: Option<String>,
    category: Option<String>,
    tags: Vec<String>,
    language: String,
    visibility: Visibility,
    slug: Option<String>,
}

fn check_meta(raw: RawMeta, problems: &mut Problems) -> Meta {
    let title = match raw.title {
        None => {
            problems.add("title is missing: every solution needs a `title:` in its front matter");
            None
        }
        Some(title) => one_line("title", &title, MAX_TITLE, problems),
    };
    let category = raw.category.and_then(|c| one_line("category", &c, MAX_CATEGORY, problems));
    let tags = match raw.tags {
        None => Vec::new(),
        Some(RawTags::NotAList) => {
            problems.add("tags must be a list, like `tags: [password, sign-in]`");
            Vec::new()
        }
        Some(RawTags::List(tags)) => check_tags(tags, problems),
    };
    let language = raw.language.unwrap_or_else(|| "en".into());
    if !(language.len() == 2 && language.bytes().all(|b| b.is_ascii_lowercase())) {
        problems
            .add(format!("language {language:?} is not an ISO 639-1 code: two lowercase letters, like `en` or `de`"));
    }
    let visibility = match raw.visibility {
        None => Visibility::Public,
        Some(word) => Visibility::parse(&word).unwrap_or_else(|| {
            problems.add(format!("visibility {word:?} is neither `public` nor `customers`"));
            Visibility::Public
        }),
    };
    Meta { title, category, tags, language, visibility, slug: raw.slug }
}

/// `value` of `key` trimmed, if it is one non-empty line of at most `max` characters.
fn one_line(key: &str, value: &str, max: usize, problems: &mut Problems) -> Option<String> {
    let value = value.trim();
    let length = value.chars().count();
    if value.is_empty() {
        problems.add(format!("{key} is empty"));
    } else if value.contains(is_line_break) {
        problems.add(format!("{key} must be one line; it has a line break"));
    } else if length > max {
        problems.add(format!("{key} is {length} characters long; at most {max}"));
    } else {
        return Some(value.to_string());
    }
    None
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The tags trimmed, checked, without duplicates (ignoring case; the first spelling wins).
fn check_tags(tags: Vec<String>, problems: &mut Problems) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let Some(tag) = one_line(&format!("tag {} of tags", i + 1), tag, MAX_TAG, problems) else { continue };
        if seen.insert(tag.to_lowercase()) {
            kept.push(tag);
        }
    }
    if kept.len() > MAX_TAGS {
        problems.add(format!("there are {} different tags; at most {MAX_TAGS}", kept.len()));
    }
    kept
}

/// The solution's slug: `slug` if given, else `path` without `.md`.
fn slug_of(slug: Option<&str>, path: &str, problems: &mut Problems) -> Option<String> {
    match slug {
        Some(slug) => match check_slug(slug) {
            Ok(()) => Some(slug.to_string()),
            Err(why) => {
                problems.add(format!("slug {slug:?} {why}"));
                None
            }
        },
        None => {
            // A path without `.md` is a problem already.
            let slug = path.strip_suffix(".md")?;
            match check_slug(slug) {
                Ok(()) => Some(slug.to_string()),
                Err(why) => {
                    problems.add(format!(
                        "the slug taken from the path, {slug:?}, {why}; rename the file or give a `slug:` in the front matter"
                    ));
                    None
                }
            }
        }
    }
}

/// Why `slug` is not a slug: lowercase ASCII letters, digits, `-` and `_` in up to
/// [`MAX_SLUG_SEGMENTS`] `/`-separated segments, each starting with a letter or digit; the
/// first not one of the portal's own words ([`RESERVED`]).
fn check_slug(slug: &str) -> Result<(), String> {
    if slug.is_empty() {
        return Err("is empty".into());
    }
    if slug.len() > MAX_SLUG {
        return Err(format!("is {} characters long; at most {MAX_SLUG}", slug.chars().count()));
    }
    let segments: Vec<&str> = slug.split('/').collect();
    if segments.len() > MAX_SLUG_SEGMENTS {
        return Err(format!("has {} `/`-separated parts; at most {MAX_SLUG_SEGMENTS}", segments.len()));
    }
    for segment in &segments {
        if segment.is_empty() {
            return Err("has an empty part (a leading, trailing or double `/`)".into());
        }
        let mut bytes = segment.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !first_ok || !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
            return Err(format!(
                "has the part {segment:?}: a part is lowercase letters a-z, digits, `-` and `_`, starting with a letter or digit"
            ));
        }
    }
    if RESERVED.contains(&segments[0]) {
        return Err(format!(
            "starts with {:?}, which the portal's own pages under /kb use (reserved: {})",
            segments[0],
            RESERVED.join(", ")
        ));
    }
    Ok(())
}

/// The body, read and rendered.
struct Body {
    markdown: String,
    html: String,
    text: String,
    files: Vec<String>,
    pages: Vec<String>,
}

/// Where a body's local links point: the prefix of its files' URLs, and the slugs of
/// other solution files by path (see [`read_linked`]).
type Targets<'a> = (&'a str, &'a HashMap<String, String>);

/// Reads the body and renders it; `None` if it cannot be (the problems say why).
fn body(bytes: &[u8], first_line: usize, dir: &[&str], targets: Targets<'_>, problems: &mut Problems) -> Option<Body> {
    let mut fine = true;
    if bytes.len() > MAX_BODY {
        problems.add(format!("the body is {} bytes; at most {MAX_BODY} (1 MiB)", bytes.len()));
        fine = false;
    }
    let markdown = match std::str::from_utf8(bytes) {
        Ok(markdown) => markdown,
        Err(error) => {
            let line = first_line + bytes[..error.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            problems.add(format!("the body is not valid UTF-8 (line {line})"));
            return None;
        }
    };
    if markdown.trim().is_empty() {
        problems.add("the body is empty: write the solution below the front matter");
        return None;
    }
    if !fine {
        return None;
    }
    render(markdown, first_line, dir, targets, problems)
}

/// Renders `markdown` to sanitised HTML and plain text, rewriting local links (see
/// [`Links::rewrite`]); `None` if it nests too deeply or has too much raw HTML to render
/// safely.
fn render(
    markdown: &str,
    first_line: usize,
    dir: &[&str],
    targets: Targets<'_>,
    problems: &mut Problems,
) -> Option<Body> {
    let options = pulldown_cmark::Options::ENABLE_TABLES
        | pulldown_cmark::Options::ENABLE_STRIKETHROUGH
        | pulldown_cmark::Options::ENABLE_TASKLISTS;
    let newlines: Vec<usize> = markdown.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i).collect();
    let line_of = |offset: usize| first_line + newlines.partition_point(|&at| at < offset);
    let mut events = Vec::new();
    let mut text = PlainText::default();
    let (prefix, slugs) = targets;
    let mut links = Links { dir, prefix, slugs, files: Vec::new(), pages: Vec::new(), seen: HashSet::new() };
    let mut depth = 0usize;
    let mut raw_tags = 0usize;
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        text.event(&event);
        let event = match event {
            Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
                let dest_url = links.rewrite(dest_url, link_type, "link", line_of(range.start), problems);
                Event::Start(Tag::Link { link_type, dest_url, title, id })
            }
            Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
                let dest_url = links.rewrite(dest_url, link_type, "image", line_of(range.start), problems);
                Event::Start(Tag::Image { link_type, dest_url, title, id })
            }
            event => event,
        };
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Html(html) | Event::InlineHtml(html) => raw_tags += html.matches('<').count(),
            _ => {}
        }
        if depth > MAX_NESTING {
            problems.add(format!(
                "line {}: the body nests lists, quotes or other elements more than {MAX_NESTING} deep",
                line_of(range.start)
            ));
            return None;
        }
        if raw_tags > MAX_RAW_TAGS {
            problems.add(format!(
                "line {}: the body has more than {MAX_RAW_TAGS} raw HTML tags; write it in Markdown",
                line_of(range.start)
            ));
            return None;
        }
        events.push(event);
    }
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events.into_iter());
    Some(Body {
        markdown: markdown.to_string(),
        html: SANITISER.clean(&html).to_string(),
        text: text.finish(),
        files: links.files,
        pages: links.pages,
    })
}

/// Where a body's links and images point, and the files they use.
struct Links<'a> {
    /// The segments of the directory of the solution file.
    dir: &'a [&'a str],
    /// What the URL of a file starts with.
    prefix: &'a str,
    /// The slugs of solution files by path, where not their path without `.md`.
    slugs: &'a HashMap<String, String>,
    /// The files used, each once, in order of first use.
    files: Vec<String>,
    /// The solution files linked to, each once, in order of first use.
    pages: Vec<String>,
    seen: HashSet<String>,
}

impl Links<'_> {
    /// The destination `dest` of a link or image (`what`, on `line`) as the page shows it:
    /// kept when it is absolute (a scheme, `/`, `//`), a fragment or a query; otherwise
    /// resolved against the solution's directory and pointed at the solution it names
    /// (`.md`: `/kb/<its slug>`, its fragment kept), which is added to the pages, or at the
    /// file under the prefix, which is added to the files. A destination that cannot be
    /// resolved is kept and is a problem.
    fn rewrite<'e>(
        &mut self,
        dest: CowStr<'e>,
        link_type: pulldown_cmark::LinkType,
        what: &str,
        line: usize,
        problems: &mut Problems,
    ) -> CowStr<'e> {
        // An email autolink's destination is the bare address; the HTML writer adds `mailto:`.
        if link_type == pulldown_cmark::LinkType::Email || !is_local(&dest) {
            return dest;
        }
        let path = match resolve(&dest, self.dir) {
            Ok(path) => path,
            Err(why) => {
                problems.add(format!("line {line}: the {what} {:?} {why}", &*dest));
                return dest;
            }
        };
        if let Some(page) = path.strip_suffix(".md") {
            let slug = self.slugs.get(&path).map_or(page, String::as_str);
            let fragment = dest.find('#').map_or("", |at| &dest[at..]);
            let url = format!("/kb/{}{fragment}", encode_path(slug));
            if self.seen.insert(path.clone()) {
                self.pages.push(path);
            }
            return url.into();
        }
        let url = format!("{}{}", self.prefix, encode_path(&path));
        if self.seen.insert(path.clone()) {
            self.files.push(path);
        }
        url.into()
    }
}

/// Whether `dest` is a relative URL: no scheme, not starting with `/`, `#` or `?`.
fn is_local(dest: &str) -> bool {
    if dest.starts_with(['/', '#', '?']) {
        return false;
    }
    let scheme_end = dest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')));
    let has_scheme = dest.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme_end.is_some_and(|end| dest[end..].starts_with(':'));
    !has_scheme
}

/// The path under the imported directory that the relative URL `dest` in a file in `dir`
/// names: query and fragment dropped, percent-decoded, `.` and `..` followed.
fn resolve(dest: &str, dir: &[&str]) -> Result<String, String> {
    let path = &dest[..dest.find(['?', '#']).unwrap_or(dest.len())];
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "is not valid UTF-8 once its %-escapes are decoded".to_string())?;
    let mut segments: Vec<&str> = dir.to_vec();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if segments.pop().is_none() {
                    return Err("points outside the imported directory".into());
                }
            }
            segment => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return Err("names no file".into());
    }
    if segments.iter().any(|s| s.contains(['\0', '\\'])) {
        return Err("has a `\\` or a NUL in its path".into());
    }
    Ok(segments.join("/"))
}

/// Characters kept as they are in a URL path segment.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `path` with each `/`-separated segment percent-encoded.
fn encode_path(path: &str) -> String {
    path.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect::<Vec<_>>().join("/")
}

/// The sanitiser, built once: ammonia's defaults (scripts, handlers, unsafe URLs go; links
/// get `rel="noopener noreferrer"`), plus a simple `language-…` class on `code` and the
/// checkboxes of task lists (any `<input>` becomes a checkbox: without a form it sends
/// nothing).
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["input"])
        // Only one attribute is set: ammonia adds set attributes in hash order, and the same
        // file should always give the same HTML.
        .add_tag_attributes("input", ["checked", "disabled"])
        .set_tag_attribute_value("input", "type", "checkbox")
        .add_tag_attributes("code", ["class"])
        .attribute_filter(|element, attribute, value| {
            if (element, attribute) != ("code", "class") {
                return Some(value.into());
            }
            let language = value.strip_prefix("language-")?;
            let simple = !language.is_empty()
                && language.len() <= 40
                && language.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'#'));
            simple.then(|| value.into())
        });
    builder
});

/// The readable text of a body, gathered from its Markdown events.
#[derive(Default)]
struct PlainText {
    out: String,
    raw: RawHtml,
}

impl PlainText {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Text(text) | Event::Code(text) => self.text(text),
            Event::Html(html) | Event::InlineHtml(html) => self.raw.read(html, &mut self.out),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak | Event::Rule => self.newline(),
            Event::Start(
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::HtmlBlock
                | Tag::List(_)
                | Tag::Item
                | Tag::Table(_)
                | Tag::TableHead
                | Tag::TableRow,
            ) => self.newline(),
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::HtmlBlock
                | TagEnd::List(_)
                | TagEnd::Table,
            ) => self.blank_line(),
            Event::End(TagEnd::Item | TagEnd::TableHead | TagEnd::TableRow) => self.newline(),
            Event::End(TagEnd::TableCell) => self.text(" "),
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if !self.raw.skipping() {
            self.out.push_str(text);
        }
    }

    fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn blank_line(&mut self) {
        self.newline();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// The text with lines trimmed at their end, at most one blank line in a row, trimmed.
    fn finish(self) -> String {
        let text = self.out.replace("\r\n", "\n").replace('\r', "\n");
        let mut out = String::with_capacity(text.len());
        let mut blank = false;
        for line in text.lines().map(str::trim_end) {
            if line.trim().is_empty() {
                blank = !out.is_empty();
                continue;
            }
            if blank {
                out.push('\n');
                blank = false;
            }
            out.push_str(line);
            out.push('\n');
        }
        out.trim().to_string()
    }
}

/// Reads the text out of raw HTML given in pieces (a tag may span pieces): tags dropped,
/// a line break for block tags, nothing inside `<script>`, `<style>` or comments.
#[derive(Default)]
struct RawHtml {
    state: RawState,
    /// Text not yet written, its character references still to decode.
    pending: String,
}

#[derive(Default)]
enum RawState {
    #[default]
    Text,
    /// After `<`.
    Open,
    /// In a tag: its name so far (lowercase), whether it closes, the quote it is in.
    Tag { name: String, closing: bool, named: bool, quote: Option<char> },
    /// In a comment; the count of `-` just seen.
    Comment(usize),
    /// Inside `script` or `style`: the closing tag and how much of it was just seen.
    Skip { end: &'static str, seen: usize },
}

impl RawHtml {
    fn skipping(&self) -> bool {
        matches!(self.state, RawState::Skip { .. } | RawState::Comment(_))
    }

    fn read(&mut self, html: &str, out: &mut String) {
        for c in html.chars() {
            self.state = match std::mem::take(&mut self.state) {
                RawState::Text if c == '<' => RawState::Open,
                RawState::Text => {
                    self.pending.push(c);
                    RawState::Text
                }
                RawState::Open if c.is_ascii_alphabetic() || c == '!' || c == '?' => {
                    self.flush(out);
                    RawState::Tag {
                        name: c.to_ascii_lowercase().to_string(),
                        closing: false,
                        named: false,
                        quote: None,
                    }
                }
                RawState::Open if c == '/' => {
                    self.flush(out);
                    RawState::Tag { name: String::new(), closing: true, named: false, quote: None }
                }
                RawState::Open => {
                    self.pending.push('<');
                    if c == '<' {
                        RawState::Open
                    } else {
                        self.pending.push(c);
                        RawState::Text
                    }
                }
                RawState::Tag { name, closing, named, quote: Some(q) } => {
                    RawState::Tag { name, closing, named, quote: (c != q).then_some(q) }
                }
                RawState::Tag { name, closing, .. } if c == '>' => self.close_tag(&name, closing, out),
                RawState::Tag { name, .. } if name == "!--" => RawState::Comment(usize::from(c == '-')),
                RawState::Tag { mut name, closing, named, quote } => {
                    let named = named || !(c.is_ascii_alphanumeric() || c == '-' || c == '!');
                    if !named && name.len() < 16 {
                        name.push(c.to_ascii_lowercase());
                    }
                    let quote = if named && matches!(c, '"' | '\'') { Some(c) } else { quote };
                    RawState::Tag { name, closing, named, quote }
                }
                RawState::Comment(dashes) if c == '>' && dashes >= 2 => RawState::Text,
                RawState::Comment(dashes) => RawState::Comment(if c == '-' { dashes + 1 } else { 0 }),
                RawState::Skip { end, seen } => {
                    let seen =
                        if end[seen..].starts_with(c.to_ascii_lowercase()) { seen + 1 } else { usize::from(c == '<') };
                    if seen == end.len() {
                        RawState::Tag { name: end[2..].to_string(), closing: true, named: true, quote: None }
                    } else {
                        RawState::Skip { end, seen }
                    }
                }
            };
        }
        if matches!(self.state, RawState::Text) {
            self.flush(out);
        }
    }

    fn close_tag(&mut self, name: &str, closing: bool, out: &mut String) -> RawState {
        match name {
            "script" if !closing => RawState::Skip { end: "</script", seen: 0 },
            "style" if !closing => RawState::Skip { end: "</style", seen: 0 },
            "br" | "p" | "div" | "li" | "tr" | "ul" | "ol" | "table" | "blockquote" | "pre" | "hr" | "h1" | "h2"
            | "h3" | "h4" | "h5" | "h6" | "dt" | "dd" | "section" | "article" | "header" | "footer" => {
                out.push('\n');
                RawState::Text
            }
            "td" | "th" => {
                out.push(' ');
                RawState::Text
            }
            _ => RawState::Text,
        }
    }

    /// Writes the pending text with the common character references decoded.
    fn flush(&mut self, out: &mut String) {
        if self.pending.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.pending);
        let text = text.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"");
        out.push_str(&text.replace("&#39;", "'").replace("&amp;", "&"));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const FULL: &str = "---
title: How to reset your password
category: Accounts
tags: [password, sign-in]
language: de
visibility: customers
slug: accounts/reset-password
---
# Reset

Open **Settings** and choose *Reset*.
";

    fn file(front: &str, body: &str) -> String {
        format!("---\n{front}\n---\n{body}")
    }

    fn read_ok(path: &str, text: &str) -> SolutionFile {
        read(path, text.as_bytes(), "/kb/files/").unwrap_or_else(|problems| panic!("{problems:?}"))
    }

    fn problems(path: &str, bytes: impl AsRef<[u8]>) -> Vec<String> {
        match read(path, bytes.as_ref(), "/kb/files/") {
            Ok(solution) => panic!("read although it should not: {solution:?}"),
            Err(problems) => problems.into_iter().map(|p| p.0).collect(),
        }
    }

    /// Asserts that one of the problems contains every one of `parts`.
    fn assert_problem(problems: &[String], parts: &[&str]) {
        assert!(
            problems.iter().any(|p| parts.iter().all(|part| p.contains(part))),
            "no problem with {parts:?} in {problems:#?}"
        );
    }

    fn body(markdown: &str) -> SolutionFile {
        read_ok("accounts/enable-2fa.md", &file("title: T", markdown))
    }

    #[test]
    fn a_full_file_with_every_key_is_read() {
        let s = read_ok("whatever.md", FULL);
        assert_eq!(s.slug, "accounts/reset-password");
        assert_eq!(s.title, "How to reset your password");
        assert_eq!(s.category.as_deref(), Some("Accounts"));
        assert_eq!(s.tags, ["password", "sign-in"]);
        assert_eq!(s.language, "de");
        assert_eq!(s.visibility, Visibility::Customers);
        assert_eq!(s.markdown, "# Reset\n\nOpen **Settings** and choose *Reset*.\n");
        assert_eq!(s.html, "<h1>Reset</h1>\n<p>Open <strong>Settings</strong> and choose <em>Reset</em>.</p>\n");
        assert_eq!(s.text, "Reset\n\nOpen Settings and choose Reset.");
        assert!(s.files.is_empty());
    }

    #[test]
    fn keys_left_out_take_their_defaults_and_the_slug_is_the_nested_path() {
        let s = read_ok("setup/mail/first-steps.md", &file("title: First steps", "Hello."));
        assert_eq!(s.slug, "setup/mail/first-steps");
        assert_eq!(s.language, "en");
        assert_eq!(s.visibility, Visibility::Public);
        assert_eq!(s.category, None);
        assert!(s.tags.is_empty());
        let s = read_ok("top.md", &file("title: T\ntags:\nlanguage:\ncategory:", "Hello."));
        assert_eq!((s.slug.as_str(), s.language.as_str(), s.category), ("top", "en", None));
    }

    #[test]
    fn a_bom_and_crlf_line_endings_are_accepted() {
        let crlf = format!("\u{feff}{}", FULL.replace('\n', "\r\n"));
        let s = read_ok("x.md", &crlf);
        assert_eq!(s.title, "How to reset your password");
        assert_eq!(s.tags, ["password", "sign-in"]);
        assert_eq!(s.slug, "accounts/reset-password");
        assert!(s.html.contains("<strong>Settings</strong>"), "{}", s.html);
        assert_eq!(s.text, "Reset\n\nOpen Settings and choose Reset.");
    }

    #[test]
    fn three_dots_also_close_the_front_matter() {
        let s = read_ok("x.md", "---\ntitle: Dots\n...\nBody\n---\nmore");
        assert_eq!(s.title, "Dots");
        assert!(s.markdown.starts_with("Body\n---"), "{}", s.markdown);
    }

    #[test]
    fn a_file_without_front_matter_is_refused() {
        assert_problem(&problems("x.md", "# Title\n\nBody"), &["must start with a line `---`", "# Title"]);
        assert_problem(&problems("x.md", ""), &["must start with a line `---`", "empty"]);
        assert_problem(&problems("x.md", " ---\ntitle: x\n---\nbody"), &["must start with a line `---`"]);
    }

    #[test]
    fn front_matter_without_a_closing_line_is_refused() {
        assert_problem(&problems("x.md", "---\ntitle: x\n\nBody"), &["no closing line `---`"]);
        assert_problem(&problems("x.md", "---\ntitle: x\n--- \nBody"), &["no closing line"]);
    }

    #[test]
    fn a_missing_empty_multiline_or_long_title_is_refused() {
        assert_problem(&problems("x.md", file("category: A", "Body")), &["title is missing"]);
        assert_problem(&problems("x.md", file("title: '  '", "Body")), &["title is empty"]);
        assert_problem(&problems("x.md", file("title: \"one\\ntwo\"", "Body")), &["title must be one line"]);
        assert_problem(&problems("x.md", file("title: |\n  one\n  two", "Body")), &["title must be one line"]);
        let long = "x".repeat(201);
        assert_problem(&problems("x.md", file(&format!("title: {long}"), "Body")), &["title", "201", "at most 200"]);
        assert_eq!(read_ok("x.md", &file(&format!("title: '  {}  '", "é".repeat(200)), "Body")).title, "é".repeat(200));
    }

    #[test]
    fn a_title_written_as_a_number_is_its_text() {
        assert_eq!(read_ok("x.md", &file("title: 404", "Body")).title, "404");
    }

    #[test]
    fn a_category_is_one_trimmed_line_of_at_most_100_characters() {
        assert_eq!(
            read_ok("x.md", &file("title: T\ncategory: '  Billing '", "B")).category.as_deref(),
            Some("Billing")
        );
        assert_problem(&problems("x.md", file("title: T\ncategory: ''", "B")), &["category is empty"]);
        assert_problem(&problems("x.md", file("title: T\ncategory: \"a\\rb\"", "B")), &["category must be one line"]);
        let long = "c".repeat(101);
        assert_problem(
            &problems("x.md", file(&format!("title: T\ncategory: {long}"), "B")),
            &["category", "at most 100"],
        );
    }

    #[test]
    fn tags_must_be_a_list() {
        assert_problem(&problems("x.md", file("title: T\ntags: password", "B")), &["tags must be a list"]);
        assert_problem(&problems("x.md", file("title: T\ntags: 3", "B")), &["tags must be a list"]);
        assert_problem(&problems("x.md", file("title: T\ntags: {a: b}", "B")), &["tags must be a list"]);
    }

    #[test]
    fn tags_are_trimmed_and_duplicates_dropped_ignoring_case() {
        let s = read_ok("x.md", &file("title: T\ntags:\n  - ' Password '\n  - sign-in\n  - PASSWORD\n  - 2024", "B"));
        assert_eq!(s.tags, ["Password", "sign-in", "2024"]);
    }

    #[test]
    fn an_empty_or_long_tag_and_too_many_tags_are_refused() {
        assert_problem(&problems("x.md", file("title: T\ntags: [a, '']", "B")), &["tag 2", "empty"]);
        let long = "t".repeat(51);
        assert_problem(
            &problems("x.md", file(&format!("title: T\ntags: [{long}]"), "B")),
            &["tag 1", "51", "at most 50"],
        );
        let many: Vec<String> = (0..31).map(|i| format!("t{i}")).collect();
        let p = problems("x.md", file(&format!("title: T\ntags: [{}]", many.join(", ")), "B"));
        assert_problem(&p, &["31 different tags", "at most 30"]);
        let thirty_and_a_duplicate: Vec<String> = (0..30).map(|i| format!("t{i}")).chain(["T0".into()]).collect();
        let s = read_ok("x.md", &file(&format!("title: T\ntags: [{}]", thirty_and_a_duplicate.join(", ")), "B"));
        assert_eq!(s.tags.len(), 30);
    }

    #[test]
    fn the_language_must_be_two_lowercase_letters() {
        assert_eq!(read_ok("x.md", &file("title: T\nlanguage: fr", "B")).language, "fr");
        for bad in ["EN", "eng", "e", "en-GB", "'e1'", "''"] {
            let p = problems("x.md", file(&format!("title: T\nlanguage: {bad}"), "B"));
            assert_problem(&p, &["language", "ISO 639-1", "two lowercase letters"]);
        }
        assert_problem(&problems("x.md", file("title: T\nlanguage: EN", "B")), &["\"EN\""]);
    }

    #[test]
    fn visibility_is_public_or_customers() {
        assert_eq!(read_ok("x.md", &file("title: T\nvisibility: public", "B")).visibility, Visibility::Public);
        let p = problems("x.md", file("title: T\nvisibility: staff", "B"));
        assert_problem(&p, &["visibility \"staff\"", "public", "customers"]);
    }

    #[test]
    fn an_invalid_slug_is_refused_with_the_reason() {
        let cases = [
            ("''", "is empty"),
            ("Accounts/x", "\"Accounts\""),
            ("a//b", "empty part"),
            ("/a", "empty part"),
            ("a/", "empty part"),
            ("a/../b", "\"..\""),
            ("a/./b", "\".\""),
            ("-a", "\"-a\""),
            ("a b", "\"a b\""),
            ("a.b", "\"a.b\""),
            ("a/b/c/d/e/f/g/h/i", "at most 8"),
        ];
        for (slug, why) in cases {
            assert_problem(&problems("x.md", file(&format!("title: T\nslug: {slug}"), "B")), &["slug", why]);
        }
        let long = format!("{}/b", "a".repeat(199));
        assert_problem(&problems("x.md", file(&format!("title: T\nslug: {long}"), "B")), &["at most 200"]);
        let s = read_ok("x.md", &file("title: T\nslug: a1/b_2/c-3/d/e/f/g/9", "B"));
        assert_eq!(s.slug, "a1/b_2/c-3/d/e/f/g/9");
    }

    #[test]
    fn a_slug_starting_with_a_reserved_word_is_refused() {
        for word in RESERVED {
            let p = problems("x.md", file(&format!("title: T\nslug: {word}/x"), "B"));
            assert_problem(&p, &[&format!("starts with \"{word}\""), "reserved"]);
        }
        assert_problem(&problems("search.md", file("title: T", "B")), &["\"search\"", "rename the file"]);
        assert_eq!(read_ok("x.md", &file("title: T\nslug: help/search", "B")).slug, "help/search");
        assert_eq!(read_ok("x.md", &file("title: T\nslug: searching", "B")).slug, "searching");
    }

    #[test]
    fn a_path_that_is_no_slug_asks_to_rename_the_file_or_give_a_slug() {
        let p = problems("My File.md", file("title: T", "B"));
        assert_problem(&p, &["\"My File\"", "rename the file or give a `slug:`"]);
        assert_eq!(read_ok("My File.md", &file("title: T\nslug: my-file", "B")).slug, "my-file");
    }

    #[test]
    fn a_path_must_end_in_md_and_be_relative() {
        assert_problem(&problems("notes.txt", file("title: T", "B")), &["\"notes.txt\"", "does not end in .md"]);
        assert_problem(&problems("/abs/x.md", file("title: T\nslug: x", "B")), &["not relative"]);
        assert_problem(&problems("a/../x.md", file("title: T\nslug: x", "B")), &["not relative"]);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let p = problems("x.md", file("tittle: T", "B"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_problem(&p, &["front matter", "tittle", "line 2"]);
    }

    #[test]
    fn a_duplicate_key_is_refused() {
        assert_problem(&problems("x.md", file("title: T\ntitle: U", "B")), &["front matter", "title", "line 3"]);
    }

    #[test]
    fn a_yaml_syntax_error_says_on_which_line_of_the_file() {
        let p = problems("x.md", file("title: T\n  bad: indentation: here", "B"));
        assert_eq!(p, ["front matter: mapping values are not allowed in this context at line 3, column 6"]);
        let p = problems("x.md", file("title: T\ncategory: \"unclosed\nlanguage: en", "B"));
        assert_problem(&p, &["front matter", "unclosed quote", "line 3"]);
    }

    #[test]
    fn a_value_of_the_wrong_kind_is_named() {
        assert_eq!(
            problems("x.md", file("title: [a, b]", "B")),
            ["front matter: title: expected string scalar at line 2, column 8"]
        );
        assert_problem(&problems("x.md", file("title: T\ntags: [a, [b]]", "B")), &["tags[1]", "line 3"]);
        assert_problem(&problems("x.md", file("just text", "B")), &["front matter", "mapping", "line 2"]);
    }

    #[test]
    fn an_empty_front_matter_lacks_only_the_title() {
        assert_eq!(
            problems("x.md", "---\n---\nBody"),
            ["title is missing: every solution needs a `title:` in its front matter"]
        );
        assert_problem(&problems("x.md", "---\n# a comment\n\n---\nBody"), &["title is missing"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let front = "title: ''\ncategory: ''\ntags: solo\nlanguage: English\nvisibility: everyone\nslug: Bad Slug";
        let p = problems("x.md", file(front, "   \n"));
        for part in [
            "title is empty",
            "category is empty",
            "tags must be a list",
            "language",
            "visibility",
            "slug",
            "body is empty",
        ] {
            assert_problem(&p, &[part]);
        }
        assert_eq!(p.len(), 7, "{p:#?}");
    }

    #[test]
    fn problems_in_the_body_are_reported_with_those_in_the_front_matter() {
        let p = problems("x.md", file("tittle: T", "![x](../../x.png)"));
        assert_problem(&p, &["tittle"]);
        assert_problem(&p, &["outside the imported directory"]);
    }

    #[test]
    fn an_alias_bomb_is_refused_quickly() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
title: T
tags: *h";
        let started = Instant::now();
        let p = problems("x.md", file(bomb, "B"));
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        assert_problem(&p, &["front matter"]);
        let many = format!("title: &a T\ntags: [{}]", "*a, ".repeat(200));
        let started = Instant::now();
        let p = problems("x.md", file(&many, "B"));
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
        assert_problem(&p, &["front matter: tags:", "too large or too complex", "line 3"]);
        let tags = "title: T\ntags: &t [a, b]\ncategory: x";
        assert_eq!(read_ok("x.md", &file(tags, "B")).tags, ["a", "b"]);
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_with_its_line() {
        let mut bytes = file("title: T", "fine\nbad \u{e9}\n").into_bytes();
        let at = bytes.len() - 3;
        bytes[at] = 0xE9;
        bytes.truncate(at + 1);
        bytes.push(b'\n');
        assert_problem(&problems("x.md", &bytes), &["not valid UTF-8", "line 5"]);
        let mut bytes = b"---\ntitle: caf".to_vec();
        bytes.extend([0xE9, b'\n']);
        bytes.extend(b"---\nBody");
        assert_problem(&problems("x.md", &bytes), &["front matter is not valid UTF-8"]);
    }

    #[test]
    fn an_empty_or_oversized_body_is_refused() {
        assert_problem(&problems("x.md", file("title: T", "")), &["body is empty"]);
        assert_problem(&problems("x.md", file("title: T", " \n\t\r\n")), &["body is empty"]);
        let big = "word ".repeat(MAX_BODY / 5 + 1);
        assert_problem(&problems("x.md", file("title: T", &big)), &["body is", "at most 1048576"]);
    }

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let s = body(
            "Hi <b onclick=\"steal()\">there</b>.\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) \
             <a href=\"javascript:alert(3)\">raw</a> <img src=x onerror=alert(4)>\n\n<style>p{}</style>\n\n\
             <form action=\"https://evil.example\"><input type=\"password\" name=\"pw\"></form>\n",
        );
        for gone in
            ["<script", "alert", "onclick", "steal", "javascript", "onerror", "<style", "<form", "password", "pw"]
        {
            assert!(!s.html.contains(gone), "{gone} in {}", s.html);
        }
        assert!(s.html.contains("<b>there</b>"), "{}", s.html);
        assert!(s.html.contains(">click</a>"), "{}", s.html);
        assert!(s.html.contains("<input type=\"checkbox\">"), "any input is a checkbox: {}", s.html);
    }

    #[test]
    fn markdown_markup_is_kept() {
        let s = body(
            "## Steps\n\n1. One\n2. ~~Two~~\n\n- [x] done\n- [ ] todo\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n\
             > quoted\n\n```rust\nfn main() {}\n```\n\n[site](https://example.com/a?b=c) <https://example.org>\n",
        );
        for kept in [
            "<h2>Steps</h2>",
            "<ol>",
            "<del>Two</del>",
            "<table>",
            "<td>1</td>",
            "<blockquote>",
            "<code class=\"language-rust\">",
            "href=\"https://example.com/a?b=c\"",
            "rel=\"noopener noreferrer\"",
            "href=\"https://example.org\"",
            "type=\"checkbox\"",
        ] {
            assert!(s.html.contains(kept), "{kept} not in {}", s.html);
        }
        assert!(s.html.contains("<li><input disabled=\"\" type=\"checkbox\">\ntodo</li>"), "{}", s.html);
        assert_eq!(s.html.matches("type=\"checkbox\"").count(), 2, "{}", s.html);
        assert_eq!(s.html.matches("checked").count(), 1, "{}", s.html);
    }

    #[test]
    fn a_code_class_that_is_not_a_simple_language_is_dropped() {
        let s = body("```rust\" onclick=\"x\nlet a = 1;\n```\n\n<code class=\"evil big\">x</code>");
        assert!(!s.html.contains("class="), "{}", s.html);
        assert!(!s.html.contains("onclick"), "{}", s.html);
    }

    #[test]
    fn heading_attributes_are_not_read() {
        let s = body("# Title {#custom .cls}");
        assert!(!s.html.contains("id=") && !s.html.contains("class="), "{}", s.html);
    }

    #[test]
    fn local_images_and_links_point_under_the_files_prefix() {
        let s = body(
            "![Screen](screen.png) [guide](docs/guide.pdf#page=2) ![again](./screen.png?v=1) \
             ![spaced](my%20file.png) ![angle](<other file.png>) [up](../img/a.png)",
        );
        assert_eq!(
            s.files,
            [
                "accounts/screen.png",
                "accounts/docs/guide.pdf",
                "accounts/my file.png",
                "accounts/other file.png",
                "img/a.png"
            ]
        );
        for url in [
            "src=\"/kb/files/accounts/screen.png\"",
            "href=\"/kb/files/accounts/docs/guide.pdf\"",
            "src=\"/kb/files/accounts/my%20file.png\"",
            "src=\"/kb/files/accounts/other%20file.png\"",
            "href=\"/kb/files/img/a.png\"",
        ] {
            assert!(s.html.contains(url), "{url} not in {}", s.html);
        }
        assert_eq!(s.html.matches("src=\"/kb/files/accounts/screen.png\"").count(), 2, "{}", s.html);
    }

    #[test]
    fn reference_links_are_rewritten_too() {
        let s = body("See [the form][f].\n\n[f]: forms/a%C3%A9.pdf \"Form\"\n");
        assert_eq!(s.files, ["accounts/forms/aé.pdf"]);
        assert!(s.html.contains("href=\"/kb/files/accounts/forms/a%C3%A9.pdf\""), "{}", s.html);
    }

    #[test]
    fn a_local_link_outside_the_imported_directory_is_refused() {
        let p = problems("accounts/x.md", file("title: T", "Text\n\n![x](../../etc/passwd)\n[y](%2E%2E/%2E%2E/z)"));
        assert_problem(&p, &["line 6", "image \"../../etc/passwd\"", "outside the imported directory"]);
        assert_problem(&p, &["line 7", "link \"%2E%2E/%2E%2E/z\"", "outside"]);
        assert_problem(&problems("x.md", file("title: T", "[here](.)")), &["link \".\"", "names no file"]);
        assert_problem(&problems("x.md", file("title: T", "[bad](%FF.png)")), &["not valid UTF-8"]);
    }

    #[test]
    fn a_link_to_another_solution_points_at_its_page_and_is_no_file() {
        let s = body("[Reset](reset-password.md) and [setup](../setup/first%20steps.md#top)");
        assert!(s.files.is_empty(), "{:?}", s.files);
        assert!(s.html.contains("href=\"/kb/accounts/reset-password\""), "{}", s.html);
        assert!(s.html.contains("href=\"/kb/setup/first%20steps#top\""), "{}", s.html);
        assert_eq!(s.pages, ["accounts/reset-password.md", "setup/first steps.md"]);
    }

    #[test]
    fn a_link_to_another_solution_points_at_the_slug_it_has() {
        let slugs = HashMap::from([("setup/first steps.md".to_string(), "start".to_string())]);
        let text = file("title: T", "[setup](../setup/first%20steps.md#top) [again](../setup/first%20steps.md)");
        let s = read_linked("accounts/x.md", text.as_bytes(), "/kb/files/", &slugs).unwrap();
        assert!(s.html.contains("href=\"/kb/start#top\""), "{}", s.html);
        assert!(s.html.contains("href=\"/kb/start\""), "{}", s.html);
        assert!(!s.html.contains("first"), "{}", s.html);
        assert_eq!(s.pages, ["setup/first steps.md"], "each page once");
    }

    #[test]
    fn absolute_links_anchors_and_addresses_are_kept_as_written() {
        let s = body(
            "[a](https://example.com/x.png) [b](http://example.com) [c](mailto:help@example.com) [d](/kb/search) \
             [e](#part) [f](?page=2) [g](//cdn.example.com/x.png) <help@example.com>",
        );
        assert!(s.files.is_empty(), "{:?}", s.files);
        for url in [
            "https://example.com/x.png",
            "http://example.com",
            "mailto:help@example.com",
            "\"/kb/search\"",
            "\"#part\"",
            "\"?page=2\"",
            "//cdn.example.com/x.png",
        ] {
            assert!(s.html.contains(url), "{url} not in {}", s.html);
        }
    }

    #[test]
    fn the_text_is_readable_without_markup() {
        let s = body(
            "# Heading\n\nSome *emphasis* and **strong** and `code`.\nSame paragraph.\n\n\n\n\
             - one\n- two\n\n![Alt text](a.png)\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n\
             <div class=\"note\">Raw &amp; <em>html</em></div>\n\n<script>var secret = 1;</script>\n\n\
             <style>.x { color: red }</style>\n\nInline <span>tag</span> <!-- hidden --> end.\n\n```\nrun --this\n```\n",
        );
        assert_eq!(
            s.text,
            "Heading\n\nSome emphasis and strong and code. Same paragraph.\n\none\ntwo\n\nAlt text\n\nA B\n1 2\n\n\
             Raw & html\n\nInline tag  end.\n\nrun --this"
        );
        assert!(!s.text.contains('T'), "the title is not in the text: {}", s.text);
    }

    #[test]
    fn nesting_too_deep_is_refused() {
        let deep = format!("{}x", "> ".repeat(MAX_NESTING + 5));
        assert_problem(&problems("x.md", file("title: T", &deep)), &["more than 100 deep"]);
        let fine = format!("{}x", "> ".repeat(20));
        assert!(body(&fine).html.contains("<blockquote>"));
    }

    #[test]
    fn raw_html_that_would_multiply_into_millions_of_elements_is_refused() {
        // Each `<div>x</div>` reopens every unclosed `<b>` inside it.
        let unclosed = |n: usize| (0..n).map(|i| format!("<b title={i}>")).collect::<String>();
        let bomb = format!("x <div>{}</div>{}", unclosed(600), "<div>x</div>".repeat(600));
        let started = Instant::now();
        assert_problem(&problems("x.md", file("title: T", &bomb)), &["line 4", "more than 1000 raw HTML tags"]);
        let most = format!("x <div>{}</div>{}", unclosed(500), "<div>x</div>".repeat(245));
        let s = body(&most);
        assert!(s.html.len() < 4_000_000, "{} bytes", s.html.len());
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    }

    #[test]
    fn too_many_problems_are_counted_not_listed() {
        let p = problems("x.md", file("title: T", &"[x](../a)\n".repeat(200)));
        assert_eq!(p.len(), MAX_PROBLEMS + 1);
        assert_eq!(p[MAX_PROBLEMS], "… and 150 more problems");
    }

    #[test]
    fn hostile_input_never_panics() {
        let nested_lists: String = (0..10_000).map(|i| format!("{}- x\n", " ".repeat((i % 45) * 2))).collect();
        let inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"---".to_vec(),
            b"---\n".to_vec(),
            b"---\n---".to_vec(),
            b"---\n---\n".to_vec(),
            b"---\r---\r".to_vec(),
            b"\r\r\r".to_vec(),
            b"\xEF\xBB\xBF".to_vec(),
            b"\xEF\xBB".to_vec(),
            b"\0\0\0---\0".to_vec(),
            b"---\n\0: \0\n---\n\0".to_vec(),
            b"---\ntitle: T\n---\n\0\0\0".to_vec(),
            b"---\ntitle: T\n---\n\xFF\xFE".to_vec(),
            format!("---\ntitle: {}\n---\nx", "y".repeat(1 << 20)).into_bytes(),
            format!("---\ntitle: T\n---\n{}", "y".repeat(1 << 20)).into_bytes(),
            format!("---\n{}\n---\nx", "[".repeat(10_000)).into_bytes(),
            format!("---\n{}\n---\nx", "- ".repeat(10_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}x", "> ".repeat(10_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}x", "- ".repeat(10_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}x", "*".repeat(100_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}x", "[".repeat(100_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}x", "![](".repeat(50_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{nested_lists}").into_bytes(),
            format!("---\ntitle: T\n---\n{}", "<div>".repeat(100_000)).into_bytes(),
            format!("---\ntitle: T\n---\nx {}", "<b id=a>x".repeat(990)).into_bytes(),
            format!("---\ntitle: T\n---\nx {}", "<b id=a><i>".repeat(495)).into_bytes(),
            format!("---\ntitle: T\n---\n<script>{}", "x ".repeat(10_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}", "\r".repeat(100_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}", "[a](b.png)\n".repeat(50_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}", "| a ".repeat(50_000)).into_bytes(),
            format!("---\ntitle: T\n---\n{}", "|a|\n|-|\n".repeat(20_000)).into_bytes(),
            format!("---\ntitle: T\ntags: [{}]\n---\nx", "a, ".repeat(20_000)).into_bytes(),
            format!("---\n{}---\nx", "k: v\n".repeat(20_000)).into_bytes(),
        ];
        for input in &inputs {
            let started = Instant::now();
            let _ = read("x.md", input, "/kb/files/");
            let shown = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
            assert!(started.elapsed() < Duration::from_secs(10), "{shown:?}… took {:?}", started.elapsed());
        }
    }
}
