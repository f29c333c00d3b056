//! `cargo bench --bench parse`: interpretation throughput on the fixture set, and time and
//! peak memory for the largest inputs the limits allow (a 25 MB message, 10,000 parts,
//! pathological HTML), then the hostile HTML shapes of issue 11 at three sizes up to 1 MB
//! with the worst time per MB. `cargo bench --bench parse -- hostile` runs only those.
//! `MAILDESK_BENCH_FIXTURES=DIR` times the messages under DIR instead of `mail-fixtures/`;
//! `cargo bench --bench parse -- fixtures` stops after that figure.
//! Run by `scripts/bench`; figures go to BENCHMARKS.md.

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
    let settings = Settings::new("Support", "helpdesk.example");
    if std::env::args().any(|a| a == "hostile") {
        return hostile(&settings);
    }
    // Another fixture set (say, an older checkout's) can be timed for a like-for-like figure.
    let root = match std::env::var_os("MAILDESK_BENCH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-fixtures"),
    };
    let mut files = Vec::new();
    fixtures(&root, &mut files);
    let messages: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
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

    if std::env::args().any(|a| a == "fixtures") {
        return;
    }
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
    time_one("1 MB of dense ordinary HTML (140,000 nodes: read as text since issue 11)", wide.as_bytes(), &settings);
    let mut news =
        String::from("From: n@example.com\nSubject: News\nContent-Type: text/html\n\n<table width=600><tbody>");
    let mut i = 0;
    while news.len() < 1024 * 1024 - 1000 {
        news.push_str(&format!(
            "<tr><td><table><tr><td><a href=\"https://news.example/{i}\"><img src=\"https://news.example/{i}.png\" width=120></a>\
             </td><td><h2><font face=Arial>Story {i}</font></h2><p>Some <b>news</b> and <i>more</i><br><p>Another paragraph\
             <ul><li>one<li>two<li><a href=\"https://news.example/{i}/more\">more</a></ul></td></tr></table></td></tr>\n"
        ));
        i += 1;
    }
    news.push_str("</tbody></table>\n");
    time_one("1 MB newsletter (about 45,000 nodes: the most converted as HTML)", news.as_bytes(), &settings);
    hostile(&settings);
}

/// The worst HTML shapes we could build (issue 11), each as an HTML-only mail of `size`
/// bytes: the unit repeated (with `{i}` replaced by a counter), between `head` and `tail`.
struct Hostile {
    name: &'static str,
    head: &'static str,
    unit: &'static str,
    tail: &'static str,
}

const HOSTILE: &[Hostile] = &[
    Hostile { name: "mismatched <div></b>", head: "", unit: "<div></b>", tail: "" },
    Hostile { name: "mismatched <blockquote></q>", head: "", unit: "<blockquote></q>", tail: "" },
    Hostile { name: "unclosed <div>", head: "", unit: "<div>x", tail: "" },
    Hostile { name: "unclosed <b>", head: "", unit: "<b>x", tail: "" },
    Hostile { name: "unclosed <a>", head: "", unit: "<a href=\"https://e.example/{i}\">x", tail: "" },
    Hostile { name: "unclosed <table>", head: "", unit: "<table>x", tail: "" },
    Hostile { name: "self-closed <div/> (nests in HTML)", head: "", unit: "<div/>", tail: "" },
    Hostile { name: "nested <span>, then </i> walking the stack", head: "", unit: "<span>", tail: "" },
    Hostile { name: "adoption agency <b><p>x</b>", head: "", unit: "<b><p>x</b>", tail: "" },
    Hostile { name: "adoption agency <a><div><a>", head: "", unit: "<a href=x><div>x<a>", tail: "" },
    Hostile { name: "reopened formatting <p><b id=N></p>", head: "", unit: "<p><b id={i}>x</p>", tail: "" },
    Hostile { name: "formatting under 900 <span>, text runs", head: "", unit: "x<!---->", tail: "" },
    Hostile { name: "huge attribute list on one element", head: "<div ", unit: "a{i}=1 ", tail: ">x</div>" },
    Hostile { name: "8 attributes per element", head: "", unit: "<i a b c d e f g h>x</i>", tail: "" },
    Hostile {
        name: "giant table, 10 cells a row",
        head: "<table>",
        unit: "<tr><td>1<td>2<td>3<td>4<td>5<td>6<td>7<td>8<td>9<td>0</tr>",
        tail: "</table>",
    },
    Hostile { name: "rows of 990 cells", head: "<table>", unit: "", tail: "</table>" },
    Hostile { name: "250 attributes per element", head: "", unit: "", tail: "" },
    Hostile { name: "<td> without <tr> (one row)", head: "<table>", unit: "<td>x", tail: "</table>" },
    Hostile { name: "nested tables", head: "", unit: "<table><tr><td>x", tail: "" },
    Hostile { name: "<select><option><div>", head: "<select>", unit: "<option><div>x", tail: "" },
    Hostile { name: "nested <template>", head: "", unit: "<template>x", tail: "" },
    Hostile { name: "<svg> children", head: "<svg>", unit: "<g>x", tail: "" },
    Hostile { name: "<svg> then <div/>", head: "<svg>", unit: "<div/>x", tail: "" },
    Hostile { name: "<table> then text and <br> (misplaced)", head: "<table>", unit: "x<br>", tail: "" },
    Hostile { name: "995 <blockquote>, then lines", head: "", unit: "x<br>", tail: "" },
    Hostile { name: "995 <div>, then images", head: "", unit: "<img src=cid:x>", tail: "" },
    Hostile { name: "unclosed <p>", head: "", unit: "<p>x", tail: "" },
    Hostile { name: "unclosed <li>", head: "<ul>", unit: "<li>x", tail: "" },
    Hostile { name: "stray </p> (phantom paragraphs)", head: "", unit: "</p>", tail: "" },
    Hostile { name: "<br> and text", head: "", unit: "line<br>", tail: "" },
    Hostile { name: "long text without tags", head: "", unit: "word ", tail: "" },
    Hostile { name: "long text, no spaces", head: "", unit: "x", tail: "" },
    Hostile { name: "comments", head: "", unit: "<!-- c -->x", tail: "" },
    Hostile {
        name: "ordinary markup",
        head: "",
        unit: "<p><b>Line</b> of <i>ordinary</i> <a href=\"https://example.com/\">HTML</a></p>\n",
        tail: "",
    },
];

/// An HTML-only mail of about `size` bytes of `shape`.
fn hostile_mail(shape: &Hostile, size: usize) -> Vec<u8> {
    let mut html = String::from(shape.head);
    if shape.name.starts_with("nested <span>") {
        html.push_str(&"<span>".repeat(990));
        while html.len() < size {
            html.push_str("</i>");
        }
    } else if shape.name.starts_with("995 <blockquote>") {
        html.push_str(&"<blockquote>".repeat(995));
    } else if shape.name.starts_with("995 <div>") {
        html.push_str(&"<div>".repeat(995));
    } else if shape.name.starts_with("formatting under") {
        html.push_str("<b>");
        html.push_str(&"<span>".repeat(900));
    }
    let unit = match shape.name {
        "rows of 990 cells" => format!("<tr>{}", "<td>x".repeat(990)),
        "250 attributes per element" => format!("<i{}>x</i>", " a".repeat(250)),
        _ => shape.unit.to_string(),
    };
    let mut i = 0;
    while html.len() + shape.tail.len() < size {
        html.push_str(&unit.replace("{i}", &i.to_string()));
        i += 1;
    }
    html.push_str(shape.tail);
    format!("From: h@example.com\nSubject: Hostile\nContent-Type: text/html; charset=utf-8\n\n{html}\n").into_bytes()
}

/// CPU time of this thread so far, in seconds: on a shared machine the wall clock also
/// counts other processes.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).unwrap_or(f64::NAN) / 1e9
}

fn hostile(settings: &Settings) {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-') && a != "hostile");
    println!("CPU seconds of `interpret` (wall clock at 1 MB in brackets):");
    println!("| shape | 100 KB | 300 KB | 1 MB | read as | s per MB |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut worst = (0.0f64, "");
    let mut slowest = (0.0f64, "", 0);
    for shape in HOSTILE {
        if filter.as_ref().is_some_and(|f| !shape.name.contains(f.as_str())) {
            continue;
        }
        let mut cells = Vec::new();
        let mut path = "";
        let mut per_mb = 0.0;
        for size in [100_000, 300_000, 1_000_000] {
            let raw = hostile_mail(shape, size);
            let (start, cpu) = (Instant::now(), thread_cpu_secs());
            let mail = interpret(&raw, settings);
            let (wall, secs) = (start.elapsed().as_secs_f64(), thread_cpu_secs() - cpu);
            let html = mail.ok().and_then(|m| m.html).unwrap_or_default();
            path = if html.starts_with("<pre>") { "text" } else { "HTML" };
            cells.push(if size == 1_000_000 { format!("{secs:.3} ({wall:.3})") } else { format!("{secs:.3}") });
            per_mb = secs / (raw.len() as f64 / 1e6);
            if secs > slowest.0 {
                slowest = (secs, shape.name, size);
            }
        }
        if per_mb > worst.0 {
            worst = (per_mb, shape.name);
        }
        println!("| {} | {} | {path} | {per_mb:.2} |", shape.name, cells.join(" | "));
    }
    println!("worst time per MB at 1 MB: {:.2} s ({})", worst.0, worst.1);
    println!("slowest input of any size: {:.3} s ({}, {} bytes)", slowest.0, slowest.1, slowest.2);
}
