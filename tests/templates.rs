//! Mail templates as an admin meets them: `maildesk templates export`, a copy of the
//! shipped `templates/` folder as `outbox.templates_dir`, and `maildesk serve` refusing an
//! override that cannot render. The binary's tests need no servers.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{Daemon, maildesk, run, wait_until};
use common::{TestApp, mail};
use maildesk::desk::receive;
use maildesk::domain::Source;
use maildesk::notice::{Notice, NoticeKind};
use maildesk::outbound::Templates;

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// Every file under `dir`, by its path relative to `dir`, with its text.
fn tree(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Copies `from` into `to`, folders and all.
fn copy_tree(from: &Path, to: &Path) {
    for (name, text) in tree(from) {
        let path = to.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Asserts that the overrides in `dir` render every kind exactly as the built-ins do.
fn assert_renders_as_the_built_ins(dir: &Path) {
    let mut config = maildesk::config::Config::load(None, Vec::new()).unwrap();
    config.outbox.templates_dir = Some(dir.to_path_buf());
    let overrides = Templates::load(&config).unwrap_or_else(|e| panic!("refused:\n{e}"));
    assert!(overrides.has_overrides());
    let builtin = Templates::builtin();
    for kind in NoticeKind::ALL {
        for notice in [Notice::sample(kind), Notice::sample_sparse(kind)] {
            assert_eq!(
                overrides.render(&config, &notice).unwrap(),
                builtin.render(&config, &notice).unwrap(),
                "{kind}"
            );
        }
    }
}

#[test]
fn a_copy_of_the_shipped_templates_folder_renders_every_kind_as_the_built_ins() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&shipped(), dir.path());
    assert_renders_as_the_built_ins(dir.path());
}

/// The parts of a sent mail a template decides: subject, text and HTML (decoded).
fn written(bytes: &[u8]) -> (String, String, String) {
    let parsed = mail_parser::MessageParser::default().parse(bytes).unwrap();
    let subject = parsed.subject().unwrap().to_string();
    (subject, parsed.body_text(0).unwrap().into_owned(), parsed.body_html(0).unwrap().into_owned())
}

on_both!(with_a_copy_of_the_shipped_templates_as_overrides_the_same_mail_is_sent, |db| {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&shipped(), copy.path());
    let mut sent = Vec::new();
    for templates_dir in [None, Some(copy.path().to_path_buf())] {
        let t = TestApp::with(db, |c| {
            c.portal.invite = true;
            c.outbox.quote_request = true;
            c.outbox.templates_dir = templates_dir;
        })
        .await;
        let raw = mail("Jane O'Hara <jane@example.com>", "Printer <again>", None, "Cc: ann@example.com\n", "Jam & all");
        receive(&t.app, &raw, &Source::Pipe).await.unwrap();
        let mut mails: Vec<(String, String, String)> =
            t.flush_outbox().await.iter().map(|m| written(&m.bytes)).collect();
        // The invitation's link differs in its token only.
        for (_, text, html) in &mut mails {
            for body in [text, html] {
                if let Some((before, after)) = body.split_once("token=") {
                    *body = format!("{before}token=T{}", &after[64..]);
                }
            }
        }
        mails.sort();
        sent.push(mails);
    }
    assert_eq!(sent[0].len(), 1, "the acknowledgement, carrying the invitation");
    assert!(sent[0][0].1.contains("token=T"), "with its link");
    assert_eq!(sent[0], sent[1]);
});

#[test]
fn templates_export_writes_the_built_ins_which_render_as_themselves_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("etc/templates");
    let out = run(maildesk(dir.path()).args(["templates", "export"]).arg(&target));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("outbox.templates_dir"));
    let shipped_mail: Vec<(String, String)> = tree(&shipped().join("mail"));
    assert_eq!(tree(&target.join("mail")), shipped_mail, "the same tree as templates/mail, README included");
    assert!(shipped_mail.iter().any(|(name, _)| name == "README.md"));
    assert_renders_as_the_built_ins(&target);
    let check = run(maildesk(dir.path()).args(["templates", "check"]).arg(&target));
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // A second export overwrites nothing unless told to.
    std::fs::write(target.join("mail/invite/subject.txt"), "Mine").unwrap();
    let again = run(maildesk(dir.path()).args(["templates", "export"]).arg(&target));
    assert_eq!(again.status.code(), Some(1));
    let error = String::from_utf8_lossy(&again.stderr);
    assert!(error.contains("exist already") && error.contains("--force"), "{error}");
    assert_eq!(std::fs::read_to_string(target.join("mail/invite/subject.txt")).unwrap(), "Mine");
    let forced = run(maildesk(dir.path()).args(["templates", "export", "--force"]).arg(&target));
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    assert_eq!(tree(&target.join("mail")), shipped_mail);
}

/// Starts `maildesk serve` on the embedded defaults with the overrides in `templates`
/// and returns its exit code and log once it has stopped.
fn serve_with(dir: &Path, templates: &Path) -> (Option<i32>, String) {
    let env = [("MAILDESK_OUTBOX__TEMPLATES_DIR", templates.to_str().unwrap())];
    let mut daemon = Daemon::start(dir, &env);
    let mut status = None;
    wait_until("serve to refuse to start", Duration::from_secs(20), || {
        status = daemon.try_wait();
        status.is_some()
    });
    (status.and_then(|s| s.code()), daemon.log())
}

#[test]
fn serve_refuses_to_start_on_an_override_that_does_not_parse_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    // The staff-reply body of an earlier version: askama's syntax.
    let body = "{% extends \"mail/layout.txt\" %}{% block content %}{{ data.body }}\n\
                {% if let Some(status) = data.status %}\nYour request is now {{ status }}.\n{% endif %}\n{% endblock %}\n";
    let path = templates.join("mail/staff-reply/body.txt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    let (code, log) = serve_with(dir.path(), &templates);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains(&format!("{}, line 2: syntax error", path.display())), "{log}");
    assert!(!dir.path().join("var/maildesk.db").exists(), "refused before anything started");
}

#[test]
fn serve_refuses_to_start_on_an_override_that_does_not_render_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    copy_tree(&shipped(), &templates);
    let path = templates.join("mail/acknowledgement/body.txt");
    let text = std::fs::read_to_string(&path).unwrap().replace("{{ data.subject }}", "{{ data.subjet }}");
    std::fs::write(&path, text).unwrap();
    std::fs::create_dir_all(templates.join("mail/acknowledgment")).unwrap();
    let (code, log) = serve_with(dir.path(), &templates);
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains(&format!("{}, line 3: undefined value", path.display())), "{log}");
    let misspelt = templates.join("mail/acknowledgment");
    assert!(log.contains(&format!("{}: not a kind of notification", misspelt.display())), "{log}");
}
