//! Golden fixtures: every `mail-fixtures/<group>/<name>.eml` must interpret to exactly
//! `<name>.json`, with LF and with CRLF line endings. A mismatch writes the actual output
//! to `<name>.actual.json` for review; `MAILDESK_BLESS=1` writes missing expectations.

use std::path::{Path, PathBuf};

use maildesk::inbound::{Settings, interpret};
use serde_json::{Value, json};

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(fixtures(&path));
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn actual(raw: &[u8], settings: &Settings) -> Value {
    match interpret(raw, settings) {
        Ok(mail) => serde_json::to_value(&mail).unwrap(),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[test]
fn every_fixture_interprets_as_expected_with_lf_and_crlf() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures");
    let settings = Settings::new("Support", "helpdesk.example");
    let bless = std::env::var("MAILDESK_BLESS").is_ok_and(|v| v == "1");
    let files = fixtures(&root);
    assert!(files.len() >= 30, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for eml in &files {
        let raw = std::fs::read(eml).unwrap();
        let expected_path = eml.with_extension("json");
        let actual_path = eml.with_extension("actual.json");
        let lf = actual(&raw, &settings);
        let Ok(text) = std::fs::read_to_string(&expected_path) else {
            if bless {
                std::fs::write(&expected_path, serde_json::to_string_pretty(&lf).unwrap() + "\n").unwrap();
            } else {
                failures.push(format!("{}: no expected JSON", eml.display()));
            }
            continue;
        };
        let expected: Value = serde_json::from_str(&text).unwrap();
        let crlf = actual(&to_crlf(&raw), &settings);
        let mut bad = Vec::new();
        if lf != expected {
            bad.push(("LF", &lf));
        }
        // Attachments are their exact decoded bytes: a part sent as text (7bit, 8bit) has
        // the message's line endings, so only its size may differ between the two.
        if without_sizes(&crlf) != without_sizes(&expected) {
            bad.push(("CRLF", &crlf));
        }
        if let Some((variant, value)) = bad.first() {
            std::fs::write(&actual_path, serde_json::to_string_pretty(value).unwrap() + "\n").unwrap();
            failures.push(format!("{} ({variant}): differs; see {}", eml.display(), actual_path.display()));
        } else {
            let _ = std::fs::remove_file(&actual_path);
        }
    }
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}

/// The interpretation without the sizes of its attachments.
fn without_sizes(value: &Value) -> Value {
    let mut value = value.clone();
    for attachment in value.get_mut("attachments").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(object) = attachment.as_object_mut() {
            object.remove("size");
        }
    }
    value
}

/// Checks one partial expectation (see mail-fixtures/README.md) against the actual
/// interpretation; returns what differs.
fn check_expectation(expect: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let is_error = actual.get("error").is_some();
    let want_error = expect.get("error").and_then(Value::as_bool).unwrap_or(false);
    if want_error != is_error {
        problems.push(format!("error: want {want_error}, got {}", actual.get("error").unwrap_or(&Value::Bool(false))));
        return problems;
    }
    if is_error {
        return problems;
    }
    let mut same = |key: &str, want: &Value, got: &Value| {
        if want != got {
            problems.push(format!("{key}: want {want}, got {got}"));
        }
    };
    if let Some(want) = expect.get("from") {
        same("from", want, &actual["from"]["address"]);
    }
    for key in ["subject", "auto", "thread"] {
        if let Some(want) = expect.get(key) {
            same(key, want, &actual[key]);
        }
    }
    if let Some(want) = expect.get("reply").and_then(Value::as_str) {
        let got = actual["reply"].as_str().unwrap_or_default().trim();
        if want.trim() != got {
            problems.push(format!("reply: want {:?}, got {got:?}", want.trim()));
        }
    }
    let text_of = |key: &str| actual[key].as_str().unwrap_or_default().to_string();
    for (list, key, must_contain) in [
        ("reply_contains", "reply", true),
        ("reply_excludes", "reply", false),
        ("text_contains", "text", true),
        ("html_excludes", "html", false),
    ] {
        for needle in expect.get(list).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if text_of(key).contains(needle) != must_contain {
                problems.push(format!("{list}: {needle:?}"));
            }
        }
    }
    if let Some(want) = expect.get("attachments").and_then(Value::as_array) {
        let got = actual["attachments"].as_array().cloned().unwrap_or_default();
        if want.len() != got.len() {
            problems.push(format!(
                "attachments: want {} entries, got {}: {}",
                want.len(),
                got.len(),
                Value::Array(got.clone())
            ));
        } else {
            for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                for (k, v) in w.as_object().into_iter().flatten() {
                    if g.get(k) != Some(v) {
                        problems
                            .push(format!("attachments[{i}].{k}: want {v}, got {}", g.get(k).unwrap_or(&Value::Null)));
                    }
                }
            }
        }
    }
    if expect.get("bounce").is_some_and(Value::is_null) && !actual["bounce"].is_null() {
        problems.push(format!("bounce: want null, got {}", actual["bounce"]));
    }
    if let Some(want) = expect.get("bounce").and_then(|b| b.get("recipients")).and_then(Value::as_array) {
        let got = actual["bounce"]["recipients"].as_array().cloned().unwrap_or_default();
        let pairs = |list: &[Value], with_status: bool| -> Vec<String> {
            list.iter()
                .map(|r| {
                    let status = if with_status {
                        r.get("status").cloned().unwrap_or(Value::Null).to_string()
                    } else {
                        String::new()
                    };
                    format!("{}{status}", r["address"].as_str().unwrap_or_default().to_lowercase())
                })
                .collect()
        };
        let with_status = want.iter().all(|r| r.get("status").is_some());
        if pairs(want, with_status) != pairs(&got, with_status) {
            problems.push(format!("bounce: want {}, got {}", Value::Array(want.clone()), Value::Array(got)));
        }
    }
    problems
}

/// Fixtures known to miss part of their expectation, with why: each must still miss it
/// (so the list only shrinks), every other fixture must meet its expectation in full.
fn known_mismatches(root: &Path) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(root.join("KNOWN_MISMATCHES")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (path, why) = l.split_once(' ').unwrap_or((l, ""));
            (path.trim().to_string(), why.trim().to_string())
        })
        .collect()
}

#[test]
fn every_fixture_meets_its_hand_written_expectation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures");
    let settings = Settings::new("Support", "helpdesk.example");
    let known = known_mismatches(&root);
    let mut per_group: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut failures = Vec::new();
    let mut missing = Vec::new();
    for eml in fixtures(&root) {
        let rel = eml.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let group = rel.split('/').next().unwrap_or_default().to_string();
        let Ok(text) = std::fs::read_to_string(eml.with_extension("expect.json")) else {
            missing.push(rel);
            continue;
        };
        let expect: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: bad expectation: {e}"));
        let raw = std::fs::read(&eml).unwrap();
        let mut problems = check_expectation(&expect, &actual(&raw, &settings));
        problems.extend(
            check_expectation(&without_sizes(&expect), &actual(&to_crlf(&raw), &settings))
                .into_iter()
                .map(|p| format!("CRLF {p}")),
        );
        let entry = per_group.entry(group).or_default();
        entry.1 += 1;
        match (problems.is_empty(), known.contains_key(&rel)) {
            (true, false) => entry.0 += 1,
            (true, true) => failures.push(format!("{rel}: listed in KNOWN_MISMATCHES but now right: remove it")),
            (false, true) => {}
            (false, false) => failures.push(format!("{rel}:\n    {}", problems.join("\n    "))),
        }
    }
    println!("| group | fully right | fixtures |\n| --- | --- | --- |");
    let (mut right, mut all) = (0, 0);
    for (group, (ok, n)) in &per_group {
        println!("| {group} | {ok} ({:.0} %) | {n} |", 100.0 * *ok as f64 / *n as f64);
        right += ok;
        all += n;
    }
    println!("| all | {right} ({:.0} %) | {all} |", 100.0 * right as f64 / all.max(1) as f64);
    assert!(missing.is_empty(), "fixtures without .expect.json: {missing:?}");
    assert!(failures.is_empty(), "{} fixtures miss their expectation:\n{}", failures.len(), failures.join("\n"));
}
