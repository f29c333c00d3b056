//! `cargo bench --bench parse`: interpretation throughput on the fixture set, and time and
//! peak memory for the largest inputs the limits allow (a 25 MB message, 10,000 parts,
//! pathological HTML). Run by `scripts/bench`; figures go to BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use maildesk::inbound::{Settings, interpret};

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fixtures(&path, out);
        } else if path.extension().is_some_and(|e| e == "eml") {
            out.push(path);
        }
    }
}

/// Peak resident memory of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kb.unwrap_or(f64::NAN) / 1024.0
}

fn time_one(name: &str, raw: &[u8], settings: &Settings) {
    // Reset the peak so that it measures this input alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let start = Instant::now();
    let ok = interpret(raw, settings).is_ok();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: {:.1} MB in {:.3} s ({}), peak RSS {:.0} MiB",
        raw.len() as f64 / 1e6,
        secs,
        if ok { "read" } else { "refused" },
        peak_rss_mib()
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures");
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    let messages: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let settings = Settings::new("Support", "helpdesk.example");
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for m in &messages {
            std::hint::black_box(interpret(m, &settings).is_ok());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = messages.len() * rounds;
    println!(
        "fixtures: {} messages ({:.2} MB) x {rounds}: {:.0} msg/s, {:.1} MB/s",
        messages.len(),
        bytes as f64 / 1e6,
        n as f64 / secs,
        (bytes * rounds) as f64 / 1e6 / secs
    );

    let payload = "A".repeat(76);
    let mut big = String::from(
        "From: big@example.com\nSubject: Big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nDump attached.\n--b\nContent-Type: application/octet-stream; name=\"d.bin\"\nContent-Transfer-Encoding: base64\n\n",
    );
    while big.len() < 25 * 1024 * 1024 - 100 {
        big.push_str(&payload);
        big.push('\n');
    }
    big.push_str("--b--\n");
    time_one("25 MB message, one attachment", big.as_bytes(), &settings);

    let mut text = String::from("From: t@example.com\nSubject: Long\nContent-Type: text/plain\n\n");
    while text.len() < 25 * 1024 * 1024 {
        text.push_str("> quoted line of an enormous history that goes on and on\n");
    }
    time_one("25 MB text body", text.as_bytes(), &settings);

    let mut parts = String::from(
        "From: p@example.com\nSubject: Parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"p\"\n\n",
    );
    for i in 0..10_000 {
        parts.push_str(&format!("--p\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\nContent-Transfer-Encoding: base64\n\nAAEC\n"));
    }
    parts.push_str("--p--\n");
    time_one("10,000 parts, default limit", parts.as_bytes(), &settings);
    time_one("10,000 parts, limit raised", parts.as_bytes(), &settings.clone().max_parts(20_000));

    let html = format!(
        "From: h@example.com\nSubject: Deep\nContent-Type: text/html\n\n{}x{}\n",
        "<div>".repeat(200_000),
        "</div>".repeat(200_000)
    );
    time_one("HTML nested 200,000 deep", html.as_bytes(), &settings);
    let mut wide = String::from("From: w@example.com\nSubject: Wide\nContent-Type: text/html\n\n");
    while wide.len() < 1024 * 1024 - 1000 {
        wide.push_str("<p><b>Line</b> of <i>ordinary</i> <a href=\"https://example.com/\">HTML</a></p>\n");
    }
    time_one("1 MB of ordinary HTML (the most converted as HTML)", wide.as_bytes(), &settings);
}
