//! Finding the admin's overrides: the files under `outbox.templates_dir` that replace
//! built-in templates, and the ones that are no template maildesk knows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{LAYOUTS, PARTS, TemplateProblem, problem, template_name};
use crate::notice::NoticeKind;

/// The override files under `dir` (a copy of `templates/`: `mail/<kind>/<part>` and
/// `mail/layout.*`), by template name, and the problems: a missing `mail/` folder, and any
/// file or folder there that is no template maildesk knows. Hidden files (an editor's) are
/// passed over, and so is everything beside `mail/` (a copy of `templates/` holds
/// `portal/` too).
pub(super) fn find_overrides(dir: &Path) -> (Vec<(String, PathBuf)>, BTreeSet<TemplateProblem>) {
    let (mut files, mut problems) = (Vec::new(), BTreeSet::new());
    let mail = dir.join("mail");
    if !mail.is_dir() {
        let message = match dir.join("layout.txt").exists() || dir.join("acknowledgement").exists() {
            true => "outbox.templates_dir holds mail/ templates directly: set it to the folder that holds mail/ \
                     (a copy of templates/), not to mail/ itself"
                .to_string(),
            false => "outbox.templates_dir has no mail/ folder: it must hold mail/<kind>/... (a copy of templates/, \
                      as `maildesk templates export DIR` writes)"
                .to_string(),
        };
        problems.insert(problem(dir, None, message));
        return (files, problems);
    }
    let known_kinds = NoticeKind::ALL.map(NoticeKind::as_str).join(", ");
    for (path, name, is_dir) in entries(&mail, &mut problems) {
        match (is_dir, name.parse::<NoticeKind>()) {
            (false, _) if LAYOUTS.contains(&name.as_str()) => files.push((format!("mail/{name}"), path)),
            (false, _) if name == "README.md" => {}
            (true, Ok(kind)) => {
                for (path, part, is_dir) in entries(&path, &mut problems) {
                    if !is_dir && PARTS.contains(&part.as_str()) {
                        files.push((template_name(kind, &part), path));
                    } else {
                        let message = format!("not a template maildesk knows (a kind's are {})", PARTS.join(", "));
                        problems.insert(problem(&path, None, message));
                    }
                }
            }
            (true, Err(_)) => {
                let message = format!("not a kind of notification maildesk knows ({known_kinds})");
                problems.insert(problem(&path, None, message));
            }
            (false, _) => {
                let message =
                    format!("not a template maildesk knows (mail/ holds {}, and <kind>/)", LAYOUTS.join(", "));
                problems.insert(problem(&path, None, message));
            }
        }
    }
    (files, problems)
}

/// The entries of `dir` that are not hidden, sorted: path, name and whether it is a
/// folder. A folder or name that cannot be read is a problem.
fn entries(dir: &Path, problems: &mut BTreeSet<TemplateProblem>) -> Vec<(PathBuf, String, bool)> {
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            problems.insert(problem(dir, None, format!("cannot read the folder: {e}")));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for entry in read {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.insert(problem(dir, None, format!("cannot read the folder: {e}")));
                continue;
            }
        };
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            problems.insert(problem(&path, None, "a name that is not UTF-8"));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        out.push((path.clone(), name, path.is_dir()));
    }
    out.sort();
    out
}
