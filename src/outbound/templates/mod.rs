//! The mail templates: one minijinja environment holding the built-in templates (embedded
//! in the binary from `templates/mail/`) and the admin's overrides from
//! `outbox.templates_dir`, which replace built-ins file by file. Overrides are read and
//! tried with sample data of every kind when the sender is set up (`serve` refuses to
//! start on a problem), never first when a customer's mail is due. HTML templates escape
//! what they print; text templates print it as it is.

mod overrides;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use self::overrides::find_overrides;
use super::context::{ContextError, context};
use crate::config::Config;
use crate::notice::{Notice, NoticeKind};

/// The files of each kind's folder: the subject line, the text body and the HTML body.
pub const PARTS: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

/// The layouts the bodies extend, beside the kinds' folders.
pub const LAYOUTS: [&str; 2] = ["layout.txt", "layout.html"];

/// The documentation of the templates' variables, written beside them by `templates export`.
pub const README: (&str, &str) = ("mail/README.md", include_str!("../../../templates/mail/README.md"));

/// The built-in templates, by name (their path under `templates/`).
macro_rules! builtin {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../templates/", $path)))),*]
    };
}

/// Every built-in template, by name: the path under `templates/`, as an override is found
/// under `outbox.templates_dir`.
pub const BUILTIN: &[(&str, &str)] = builtin!(
    "mail/layout.txt",
    "mail/layout.html",
    "mail/acknowledgement/subject.txt",
    "mail/acknowledgement/body.txt",
    "mail/acknowledgement/body.html",
    "mail/invite/subject.txt",
    "mail/invite/body.txt",
    "mail/invite/body.html",
    "mail/staff-reply/subject.txt",
    "mail/staff-reply/body.txt",
    "mail/staff-reply/body.html",
    "mail/status-change/subject.txt",
    "mail/status-change/body.txt",
    "mail/status-change/body.html",
    "mail/resolved/subject.txt",
    "mail/resolved/body.txt",
    "mail/resolved/body.html",
    "mail/reopened/subject.txt",
    "mail/reopened/body.txt",
    "mail/reopened/body.html",
    "mail/auto-closed/subject.txt",
    "mail/auto-closed/body.txt",
    "mail/auto-closed/body.html",
    "mail/staff-new-ticket/subject.txt",
    "mail/staff-new-ticket/body.txt",
    "mail/staff-new-ticket/body.html",
    "mail/staff-customer-reply/subject.txt",
    "mail/staff-customer-reply/body.txt",
    "mail/staff-customer-reply/body.html",
    "mail/staff-assigned/subject.txt",
    "mail/staff-assigned/body.txt",
    "mail/staff-assigned/body.html",
    "mail/staff-customer-status/subject.txt",
    "mail/staff-customer-status/body.txt",
    "mail/staff-customer-status/body.html",
    "mail/command-error/subject.txt",
    "mail/command-error/body.txt",
    "mail/command-error/body.html",
    "mail/undelivered/subject.txt",
    "mail/undelivered/body.txt",
    "mail/undelivered/body.html",
    "mail/participant-added/subject.txt",
    "mail/participant-added/body.txt",
    "mail/participant-added/body.html",
    "mail/password-reset/subject.txt",
    "mail/password-reset/body.txt",
    "mail/password-reset/body.html",
    "mail/account-attempt/subject.txt",
    "mail/account-attempt/body.txt",
    "mail/account-attempt/body.html",
    "mail/verify-address/subject.txt",
    "mail/verify-address/body.txt",
    "mail/verify-address/body.html",
    "mail/account-exists/subject.txt",
    "mail/account-exists/body.txt",
    "mail/account-exists/body.html",
);

/// The name of `kind`'s template `part` (one of [`PARTS`]).
pub fn template_name(kind: NoticeKind, part: &str) -> String {
    format!("mail/{kind}/{part}")
}

/// One thing wrong with the templates: the file (an override's path, or a built-in's
/// name), the line where there is one, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TemplateProblem {
    /// The override's path, or `built-in mail/...`.
    pub file: String,
    /// The line, counted from 1.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for TemplateProblem {}

/// Why the templates cannot be used: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct TemplateProblems(pub Vec<TemplateProblem>);

/// The subject, text body and HTML body of one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// The subject line, trimmed.
    pub subject: String,
    /// The text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// The templates mail is rendered with: the built-ins, and the overrides read at start.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Where each overridden template was read from, by name.
    overridden: BTreeMap<String, PathBuf>,
}

impl Templates {
    /// The built-in templates only.
    pub fn builtin() -> Templates {
        let mut env = environment();
        for (name, source) in BUILTIN {
            env.add_template(name, source).expect("the built-in templates parse (tested)");
        }
        Templates { env, overridden: BTreeMap::new() }
    }

    /// The built-ins with the overrides in `outbox.templates_dir`, if set. Every override
    /// is read now and every kind rendered with sample data; any problem — a file that
    /// does not parse or render, one that is not a template maildesk knows (a misspelt
    /// kind), an unreadable one — refuses them all, each problem named.
    pub fn load(config: &Config) -> Result<Templates, TemplateProblems> {
        let mut templates = Templates::builtin();
        let Some(dir) = &config.outbox.templates_dir else { return Ok(templates) };
        let (files, mut problems) = find_overrides(dir);
        for (name, path) in files {
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => source,
                Err(e) => {
                    problems.insert(problem(&path, None, format!("cannot read it: {e}")));
                    continue;
                }
            };
            // Askama's syntax, which the built-ins of earlier versions were written in.
            let askama = source.contains("{% if let ") || source.contains(".is_empty()");
            match templates.env.add_template_owned(name.clone(), source) {
                Ok(()) => {
                    templates.overridden.insert(name, path);
                }
                Err(e) => {
                    let hint = match askama {
                        true => {
                            " (this looks like a template of an earlier version: start again from \
                                  `maildesk templates export`, or see templates/mail/README.md)"
                        }
                        false => "",
                    };
                    problems.insert(problem(&path, e.line(), format!("{}{hint}", describe(&e))));
                    // A failed override leaves no template of its name: the built-in
                    // stands in while the others are tried.
                    if let Some((name, source)) = BUILTIN.iter().find(|(builtin, _)| *builtin == name) {
                        templates.env.add_template(name, source).expect("the built-in templates parse (tested)");
                    }
                }
            }
        }
        // Those that parsed are tried too (a file that did not stays built-in meanwhile),
        // so that every problem is reported at once.
        problems.extend(templates.try_all(config));
        match problems.is_empty() {
            true => Ok(templates),
            false => Err(TemplateProblems(problems.into_iter().collect())),
        }
    }

    /// Whether any template is an override.
    pub fn has_overrides(&self) -> bool {
        !self.overridden.is_empty()
    }

    /// How many templates are overridden.
    pub fn overrides(&self) -> usize {
        self.overridden.len()
    }

    /// Renders every kind with sample data (all fields filled, and optional ones empty);
    /// the problems found.
    fn try_all(&self, config: &Config) -> BTreeSet<TemplateProblem> {
        let mut problems = BTreeSet::new();
        for kind in NoticeKind::ALL {
            for notice in [Notice::sample(kind), Notice::sample_sparse(kind)] {
                if let Err(problem) = self.render(config, &notice) {
                    problems.insert(problem);
                }
            }
        }
        problems
    }

    /// The subject, text and HTML of `notice` under `config`.
    pub fn render(&self, config: &Config, notice: &Notice) -> Result<Parts, TemplateProblem> {
        let kind = notice.kind();
        let about =
            |e: ContextError| TemplateProblem { file: template_name(kind, "*"), line: None, message: e.to_string() };
        let values = context(config, notice, None).map_err(about)?;
        let subject = self.render_one(&template_name(kind, "subject.txt"), &values)?.trim().to_string();
        let values = context(config, notice, Some(&subject)).map_err(about)?;
        let text = self.render_one(&template_name(kind, "body.txt"), &values)?;
        let html = self.render_one(&template_name(kind, "body.html"), &values)?;
        Ok(Parts { subject, text, html })
    }

    fn render_one(&self, name: &str, context: &Value) -> Result<String, TemplateProblem> {
        let template = self.env.get_template(name).map_err(|e| self.problem(name, &e))?;
        template.render(context).map_err(|e| self.problem(name, &e))
    }

    /// The problem `e` met while rendering `name`, naming the file it is in (the layout a
    /// body extends, perhaps) by its path when it is an override.
    fn problem(&self, name: &str, e: &minijinja::Error) -> TemplateProblem {
        let name = e.name().unwrap_or(name);
        let file = match self.overridden.get(name) {
            Some(path) => path.display().to_string(),
            None => format!("built-in {name}"),
        };
        TemplateProblem { file, line: e.line(), message: describe(e) }
    }
}

/// The environment every template is rendered in: strict about undefined variables (a
/// misspelt variable is an error when the templates are tried, not an empty gap in a
/// customer's mail), HTML escaped in `.html` templates only.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| match name.ends_with(".html") {
        true => AutoEscape::Html,
        false => AutoEscape::None,
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Html)
            && !value.is_safe()
            && !value.is_undefined()
            && !value.is_none()
        {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            out.write_str(&escape_html(&text)).map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    env
}

/// `text` safe inside HTML text and quoted attributes: `& < > " '` as entities.
pub fn escape_html(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.into()
}

/// What is wrong, without the file and line (said separately).
fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

fn problem(path: &Path, line: Option<usize>, message: impl Into<String>) -> TemplateProblem {
    TemplateProblem { file: path.display().to_string(), line, message: message.into() }
}
