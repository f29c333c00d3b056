use std::path::Path;

use super::*;

fn config() -> Config {
    let mut config = Config::load(None, Vec::new()).unwrap();
    config.portal.base_url = "https://help.example/".into();
    config
}

fn config_with(dir: &Path) -> Config {
    let mut config = config();
    config.outbox.templates_dir = Some(dir.to_path_buf());
    config
}

/// Copies `from` into `to`, folders and all.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// An override folder holding only `files` (name under `mail/`, text).
fn overrides(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join("mail").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("mail")).unwrap();
    dir
}

fn problems(dir: &Path) -> Vec<TemplateProblem> {
    Templates::load(&config_with(dir)).expect_err("refused").0
}

#[test]
fn every_kind_renders_subject_text_and_html_with_sample_data() {
    let (templates, config) = (Templates::builtin(), config());
    for kind in NoticeKind::ALL {
        for notice in [Notice::sample(kind), Notice::sample_sparse(kind)] {
            let parts = templates.render(&config, &notice).unwrap_or_else(|e| panic!("{kind}: {e}"));
            // Mail about a ticket carries its tag; mail about an account has none to keep.
            let tagged = notice.ticket().is_some();
            assert_eq!(parts.subject.contains("[Support #42]"), tagged, "{kind}: {}", parts.subject);
            assert!(!parts.subject.contains('\n'), "{kind}: one line");
            let keep = parts.text.contains("Please keep [Support #42] in the subject");
            assert_eq!(keep, tagged, "{kind}: the text layout");
            assert!(parts.html.starts_with("<!DOCTYPE html>"), "{kind}: the HTML layout");
            assert!(parts.html.contains(&format!("<title>{}</title>", escape_html(&parts.subject))), "{kind}");
            // What people wrote is escaped in HTML only.
            assert!(!parts.html.contains("<again>") && !parts.html.contains("<Reset>"), "{kind}: {}", parts.html);
            assert!(
                !["&lt;", "&amp;", "&#39;", "&quot;"].iter().any(|e| parts.text.contains(e)),
                "{kind}: {}",
                parts.text
            );
        }
    }
}

#[test]
fn html_escapes_as_entities_and_text_prints_as_it_is() {
    assert_eq!(escape_html(r#"a & <b> "c" 'd' /e"#), "a &amp; &lt;b&gt; &quot;c&quot; &#39;d&#39; /e");
    let parts = Templates::builtin().render(&config(), &Notice::sample(NoticeKind::Acknowledgement)).unwrap();
    assert!(parts.html.contains("Hello Jane O&#39;Hara,"), "{}", parts.html);
    assert!(parts.html.contains("<a href=\"https://help.example/requests/42\">"), "links stay as they are");
    assert!(parts.text.contains("Hello Jane O'Hara,\n\nwe have received your request"), "{}", parts.text);
    assert!(parts.text.contains("You wrote:\n> The tray is empty.\n> I tried turning it off & on.\n"));
    let sparse = Templates::builtin().render(&config(), &Notice::sample_sparse(NoticeKind::Acknowledgement)).unwrap();
    assert!(sparse.text.starts_with("Hello,\n") && !sparse.text.contains("You wrote"), "{}", sparse.text);
}

#[test]
fn the_built_ins_are_every_file_of_the_shipped_folder() {
    let mut on_disk = Vec::new();
    let mail = shipped().join("mail");
    for entry in std::fs::read_dir(&mail).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if path.is_dir() {
            for part in std::fs::read_dir(&path).unwrap() {
                on_disk.push(format!("mail/{name}/{}", part.unwrap().file_name().to_str().unwrap()));
            }
        } else if name != "README.md" {
            on_disk.push(format!("mail/{name}"));
        }
    }
    on_disk.sort();
    let mut built_in: Vec<String> = BUILTIN.iter().map(|(name, _)| name.to_string()).collect();
    built_in.sort();
    assert_eq!(built_in, on_disk);
    for kind in NoticeKind::ALL {
        for part in PARTS {
            assert!(BUILTIN.iter().any(|(name, _)| *name == template_name(kind, part)), "{kind}/{part}");
        }
    }
}

#[test]
fn a_copy_of_the_shipped_templates_folder_renders_every_kind_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shipped(), dir.path());
    let config = config_with(dir.path());
    let copy = Templates::load(&config).unwrap_or_else(|e| panic!("the copy is refused:\n{e}"));
    assert_eq!(copy.overridden.len(), BUILTIN.len(), "every file of the copy is used");
    let builtin = Templates::builtin();
    for kind in NoticeKind::ALL {
        for notice in [Notice::sample(kind), Notice::sample_sparse(kind)] {
            assert_eq!(copy.render(&config, &notice).unwrap(), builtin.render(&config, &notice).unwrap(), "{kind}");
        }
    }
}

#[test]
fn an_override_replaces_its_file_only_and_a_layout_every_kinds() {
    let dir = overrides(&[
        ("acknowledgement/subject.txt", "Got it: {{ data.subject }} [{{ tag }} #{{ ticket }}]\n"),
        ("layout.txt", "{% block content %}{% endblock %}\n-- \nThe {{ desk_name }} team"),
    ]);
    let config = config_with(dir.path());
    let templates = Templates::load(&config).unwrap();
    let builtin = Templates::builtin();
    let notice = Notice::sample(NoticeKind::Acknowledgement);
    let (ours, theirs) = (templates.render(&config, &notice).unwrap(), builtin.render(&config, &notice).unwrap());
    assert!(ours.subject.starts_with("Got it: Printer says"), "{}", ours.subject);
    assert!(ours.text.ends_with("-- \nThe Support team"), "{}", ours.text);
    let title = |parts: &Parts| format!("<title>{}</title>", escape_html(&parts.subject));
    assert_eq!(ours.html.replace(&title(&ours), &title(&theirs)), theirs.html, "the HTML stays built-in");
    let status = templates.render(&config, &Notice::sample(NoticeKind::Resolved)).unwrap();
    assert!(status.text.ends_with("-- \nThe Support team"), "the layout is every kind's: {}", status.text);
}

#[test]
fn an_override_that_does_not_parse_is_refused_naming_file_and_line() {
    let dir = overrides(&[("invite/body.txt", "Hello,\n\n{% if data.name %}\n{{ link }}\n")]);
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    let path = dir.path().join("mail/invite/body.txt");
    assert_eq!(found[0].file, path.display().to_string());
    assert!(found[0].line.is_some_and(|line| line >= 3), "{found:?}");
    assert!(found[0].message.starts_with("syntax error"), "{found:?}");
}

#[test]
fn an_override_that_does_not_render_with_sample_data_is_refused_naming_file_and_line() {
    // A variable no kind has, and the subject line used in the subject itself.
    let dir = overrides(&[
        ("staff-reply/body.txt", "{{ data.body }}\n\nNow {{ data.state }}.\n"),
        ("resolved/subject.txt", "[{{ tag }} #{{ ticket }}] {{ subject }}"),
    ]);
    let found = problems(dir.path());
    let text: Vec<String> = found.iter().map(|p| p.to_string()).collect();
    let reply = dir.path().join("mail/staff-reply/body.txt").display().to_string();
    let resolved = dir.path().join("mail/resolved/subject.txt").display().to_string();
    assert_eq!(text.len(), 2, "{text:#?}");
    assert!(text.contains(&format!("{reply}, line 3: undefined value")), "{text:#?}");
    assert!(text.contains(&format!("{resolved}, line 1: undefined value")), "no subject in the subject: {text:#?}");
}

#[test]
fn what_is_no_template_is_refused_by_name() {
    let dir = overrides(&[
        ("acknowledgment/body.txt", "misspelt kind"),
        ("invite/body.htm", "misspelt part"),
        ("footer.txt", "unknown"),
        ("README.md", "ours"),
        (".swp", "hidden"),
        ("invite/.body.txt.swp", "hidden"),
    ]);
    let found: Vec<String> = problems(dir.path()).iter().map(|p| p.file.clone()).collect();
    let mail = dir.path().join("mail");
    let expected: Vec<String> = ["acknowledgment", "footer.txt", "invite/body.htm"]
        .iter()
        .map(|name| mail.join(name).display().to_string())
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn a_templates_dir_without_mail_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shipped().join("mail"), dir.path());
    let found = problems(dir.path());
    assert!(found[0].message.contains("not to mail/ itself"), "{found:?}");
    let found = problems(&dir.path().join("missing"));
    assert!(found[0].message.contains("has no mail/ folder"), "{found:?}");
}

/// The README documents every variable of every kind: each key of a kind's sample context
/// appears in the kind's section (or, for the common ones, in the table before them).
#[test]
fn the_readme_documents_every_variable_of_every_kind() {
    let readme = README.1;
    let (common, kinds) = readme.split_once("\n### ").unwrap();
    for kind in NoticeKind::ALL {
        let heading = kinds.split("\n### ").find(|s| s.lines().next().unwrap().contains(&format!("`{kind}`")));
        let section = heading.unwrap_or_else(|| panic!("no section for {kind}"));
        let value = context(&config(), &Notice::sample(kind), Some("s")).unwrap();
        let json = serde_json::to_value(&value).unwrap();
        for (key, inner) in json.as_object().unwrap() {
            let documented =
                |name: &str| section.contains(&format!("`{name}`")) || common.contains(&format!("`{name}`"));
            if key == "data" {
                for field in inner.as_object().unwrap().keys() {
                    assert!(documented(&format!("data.{field}")), "{kind}: data.{field} is not in the README");
                }
            } else {
                assert!(documented(key), "{kind}: {key} is not in the README");
            }
        }
    }
}
