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
        if crlf != expected {
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
