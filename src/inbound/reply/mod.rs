//! Reply stripping: the new text of a message, without the quoted history and without the
//! signature. When unsure, keep more: an answer written between quoted lines (an inline
//! answer) is never cut, and the complete text always stays available elsewhere.
//!
//! History starts at the first of: an attribution ("On … wrote:" in many languages, also
//! wrapped over up to five lines, without a colon, between dashes, or a bare date, name and
//! address), an "Original Message" separator, an Outlook-style header block ("From:/Sent:/
//! To:/Subject:" in many languages and orders), a quote container marked in HTML-only mail,
//! a mobile footer with history below it, or a trailing `>` block. The layout then decides
//! what is new: the text above the history (top posting), the text below a leading quote
//! (bottom posting), everything (inline answers), or the text above with a short sign-off
//! from below the quote. A forwarded message is content the
//! person sends us and is kept. Signatures go: below a `-- ` line, mobile footers, and the
//! contact block under a typed closing and name. All work is linear in the size of the mail.

mod history;
mod layout;
mod patterns;
mod signature;

use history::{Kind, history_start};
use layout::{Layout, layout, quoting};
use patterns::{FOOTNOTE, is_list_footer_line, is_mobile_footer};

use std::borrow::Cow;

use super::html::{QUOTE_MARKER, RULE_MARKER};

/// Subject prefixes of forwards in the languages mail clients write them ("Fwd:", "WG:",
/// "TR:", "RV:", "I:" …), lower-cased.
const FORWARD_PREFIXES: &[&str] = &[
    "fwd", "fw", "wg", "tr", "rv", "i", "enc", "doorst", "vb", "vl", "pd", "ilt", "i̇lt", "转发", "轉寄", "転送", "전달",
];

/// Subject prefixes of replies ("Re:", "AW:", "SV:" …), lower-cased.
const REPLY_PREFIXES: &[&str] = &[
    "re",
    "aw",
    "sv",
    "vs",
    "antw",
    "odp",
    "ynt",
    "res",
    "rif",
    "r",
    "atb",
    "vá",
    "回复",
    "答复",
    "回覆",
    "返信",
    "답장",
    "ответ",
    "отв",
];

fn is_quoted(line: &str) -> bool {
    let line = line.trim_start();
    match has_marker(line) {
        true => line.trim_start_matches(QUOTE_MARKER).trim_start().starts_with('>'),
        false => line.starts_with('>'),
    }
}

/// Whether the line may hold a marker of converted HTML (both start with U+E000, a private
/// use character no mail has): one memchr, where looking for the markers themselves sets
/// up a substring search per line.
fn has_marker(line: &str) -> bool {
    line.contains('\u{E000}')
}

/// Whether the line holds the quote-container marker.
fn has_quote_marker(line: &str) -> bool {
    has_marker(line) && line.contains(QUOTE_MARKER)
}

/// The line without the markers of converted HTML.
fn without_markers(line: &str) -> std::borrow::Cow<'_, str> {
    match has_marker(line) {
        true => line.replace(QUOTE_MARKER, "").replace(RULE_MARKER, "").into(),
        false => line.into(),
    }
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Whether the line holds nothing but the markers of converted HTML.
fn is_marker_only(line: &str) -> bool {
    without_markers(line).trim().is_empty()
}

/// A line that only separates: dashes, underscores, box-drawing rules, an HTML `<hr>`.
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t == RULE_MARKER
        || t.chars().all(|c| matches!(c, '-' | '_' | '=' | '─' | '━' | '—' | '*')) && t.chars().count() >= 5
}

fn is_signature_delimiter(line: &str) -> bool {
    line == "-- " || line == "--" || line == "-- \u{a0}"
}

/// Whether the subject says the mail is a forward: its first prefix (after bracketed tags
/// such as `[Support #3]`) is one of [`FORWARD_PREFIXES`].
fn is_forward_subject(subject: &str) -> bool {
    FORWARD_PREFIXES.contains(&subject_prefix(subject).as_str())
}

/// Whether the subject says the mail is a reply ("Re:", "AW:" …).
fn is_reply_subject(subject: &str) -> bool {
    REPLY_PREFIXES.contains(&subject_prefix(subject).as_str())
}

/// The first prefix of the subject ("fwd" in "[Support #3] Fwd: x"), lower-cased, without
/// counters ("Fwd[2]:").
fn subject_prefix(subject: &str) -> String {
    let mut s = subject.trim();
    while let Some(rest) = s.strip_prefix('[') {
        let Some(close) = rest.find(']') else { break };
        s = rest[close + 1..].trim_start();
    }
    let Some(colon) = s.find([':', '：']) else { return String::new() };
    let prefix = s[..colon].trim().to_lowercase();
    prefix.trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '[' | ']' | '(' | ')')).trim().to_string()
}

/// The end of the new text in `lines[from..to]` once signatures and footers are gone.
fn without_signature(lines: &[&str], from: usize, to: usize) -> usize {
    let mut end = to;
    if let Some(sig) = lines[from..end].iter().rposition(|l| is_signature_delimiter(l)) {
        end = from + sig;
    }
    let trailing = |l: &str| is_blank(l) || is_rule(l) || is_marker_only(l) || is_mobile_footer(l);
    while end > from && trailing(lines[end - 1]) {
        end -= 1;
    }
    if let Some(block) = signature::contact_block_start(&lines[from..end]) {
        end = from + block;
        while end > from && trailing(lines[end - 1]) {
            end -= 1;
        }
    }
    // A rule with nothing but a confidentiality notice below it, at the end.
    let near_end = from.max(end.saturating_sub(20));
    if let Some(rule) = (near_end..end).rev().find(|&i| is_rule(lines[i]))
        && signature::is_only_notices(&lines[rule + 1..end])
    {
        end = rule;
        while end > from && trailing(lines[end - 1]) {
            end -= 1;
        }
    }
    end
}

/// Where a mailing list's footer starts (a rule, then "<list> mailing list" or a listinfo
/// link, at the end).
fn list_footer_start(lines: &[&str]) -> Option<usize> {
    let from = lines.len().saturating_sub(10);
    (from..lines.len()).find(|&i| is_rule(lines[i]) && lines[i + 1..].iter().take(4).any(|l| is_list_footer_line(l)))
}

/// `lines` without the lines that stood for an HTML `<hr>`, and without the blank line the
/// conversion put below one that had a blank line above it.
fn without_rules<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    let mut skip_blank = false;
    for line in lines {
        if line.trim() == RULE_MARKER {
            skip_blank = out.last().is_some_and(|l| is_blank(l));
        } else if !(skip_blank && is_blank(line)) {
            out.push(line);
            skip_blank = false;
        } else {
            skip_blank = false;
        }
    }
    out
}

/// The numbers of the link references (`[3]`) in `lines`.
fn references<'a>(lines: impl Iterator<Item = &'a str>) -> std::collections::HashSet<String> {
    let mut found = std::collections::HashSet::new();
    for line in lines {
        for (open, _) in line.match_indices('[') {
            let digits: String = line[open + 1..].chars().take_while(char::is_ascii_digit).take(9).collect();
            if !digits.is_empty() && line[open + 1 + digits.len()..].starts_with(']') {
                found.insert(digits);
            }
        }
    }
    found
}

/// The new text of `text` (the body of a mail with this `subject`): quoted history and
/// signature removed, inline answers kept, a forwarded message kept below the person's
/// note.
pub fn visible_reply<'t>(text: &'t str, subject: &str) -> String {
    let all: Vec<&str> = text.lines().collect();
    let lines = &all[..list_footer_start(&all).unwrap_or(all.len())];
    let quoted = quoting(lines);
    let marker = history_start(lines);

    // A forward: so the subject says, or the text starts with a forwarded message, or one
    // follows a note in a mail that is no reply.
    let forward = marker.filter(|m| {
        let note = lines[..m.start].iter().any(|l| !is_marker_only(l));
        is_forward_subject(subject) || m.kind == Kind::Forward && !(note && is_reply_subject(subject))
    });
    // The new text is lines[from..to], then (after a blank line) `tail`: the forwarded
    // message of a forward, or the sign-off below the quote.
    let (from, to, tail) = match forward {
        Some(m) => {
            let first = (m.start..lines.len()).find(|&i| !is_marker_only(lines[i])).unwrap_or(lines.len());
            (0, without_signature(lines, 0, m.start), &lines[first..])
        }
        None => match layout(lines, &quoted, marker) {
            Layout::Whole => (0, without_signature(lines, 0, lines.len()), &lines[lines.len()..]),
            Layout::Above(start) => (0, without_signature(lines, 0, start), &lines[lines.len()..]),
            Layout::Below(start) => (start, without_signature(lines, start, lines.len()), &lines[lines.len()..]),
            Layout::Around(start, below) => {
                let first = (below..lines.len()).find(|&i| !is_blank(lines[i])).unwrap_or(lines.len());
                let end = without_signature(lines, first, lines.len());
                (0, without_signature(lines, 0, start), &lines[first..end])
            }
        },
    };
    let clean = |l: &&'t str| without_markers(l);
    let mut kept: Vec<Cow<'t, str>> = without_rules(&lines[from..to]).iter().map(clean).collect();
    // Link footnotes of converted HTML: keep those the kept text refers to, also those that
    // stood after the history, and drop those whose link went with it. A footnote starts
    // with "[": other lines are not even looked at by the pattern.
    let footnote = |l: &str| l.starts_with('[') && FOOTNOTE.is_match(l);
    let refs = references(kept.iter().filter(|k| !footnote(k)).map(|k| k.as_ref()));
    let is_referenced = |l: &str| !l.starts_with('[') || FOOTNOTE.captures(l).is_none_or(|c| refs.contains(&c[1]));
    kept.retain(|k| is_referenced(k));
    if !tail.is_empty() {
        kept.push(Cow::Borrowed(""));
        kept.extend(without_rules(tail).iter().map(clean));
    }
    let after = if tail.is_empty() { &all[to..] } else { &all[all.len()..] };
    let mut footnotes: Vec<&str> = after.iter().filter(|l| footnote(l) && is_referenced(l)).copied().collect();
    if !footnotes.is_empty() {
        let present: std::collections::HashSet<&str> = kept.iter().map(|k| k.as_ref()).collect();
        footnotes.retain(|f| !present.contains(f));
    }
    if !footnotes.is_empty() {
        kept.push(Cow::Borrowed(""));
        kept.extend(footnotes.iter().map(|f| Cow::Borrowed(*f)));
    }
    let reply = kept.join("\n").trim().to_string();
    if reply.is_empty() { without_markers(text).trim().to_string() } else { reply }
}

#[cfg(test)]
mod tests;
