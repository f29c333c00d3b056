//! A solution as its author writes it: a Markdown file with YAML front matter between
//! `---` lines, read into what the store keeps (MISSION KB1). Pure: bytes in, a solution
//! or every problem with it out; no file system, no store.

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
}

/// One thing wrong with a solution file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Problem(pub String);

/// Reads the solution file at `path` (relative to the imported directory, `/`-separated,
/// ending in `.md`) from its `bytes`; local links and images are rewritten to
/// `files_prefix` followed by their path under the imported directory.
pub fn read(path: &str, bytes: &[u8], files_prefix: &str) -> Result<SolutionFile, Vec<Problem>> {
    let _ = (path, bytes, files_prefix);
    Err(vec![Problem("not written yet".into())])
}
