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
//! (bottom posting), or everything (inline answers). A forwarded message is content the
//! person sends us and is kept. Signatures go: below a `-- ` line, mobile footers, and the
//! contact block under a typed closing and name. All work is linear in the size of the mail.

mod patterns;
mod signature;

use patterns::{
    ATTRIBUTION, ATTRIBUTION_DATE_ADDRESS, ATTRIBUTION_RUN_ON, ATTRIBUTION_START, CLOSING, DATE_FIRST, DATE_START,
    FOOTNOTE, FORWARD_SEPARATOR, FORWARDED, GROUPWISE, HEADER_DATE, HEADER_FROM, HEADER_INLINE_DATE, HEADER_NEXT,
    ORIGINAL_MESSAGE, is_list_footer_line, is_mobile_footer,
};

use super::html::{QUOTE_MARKER, RULE_MARKER};

/// Subject prefixes of forwards in the languages mail clients write them ("Fwd:", "WG:",
/// "TR:", "RV:", "I:" …), lower-cased.
const FORWARD_PREFIXES: &[&str] = &[
    "fwd", "fw", "wg", "tr", "rv", "i", "enc", "doorst", "vb", "vl", "pd", "ilt", "i̇lt", "转发", "轉寄", "転送", "전달",
];

/// How many lines an attribution may be wrapped over.
const MAX_ATTRIBUTION_LINES: usize = 5;

/// What kind of history a marker introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// "On … wrote:" or a quote container: usually quoted lines follow.
    Attribution,
    /// A header block, separator or footer: the old message follows without quote marks.
    Unquoted,
    /// A forwarded message.
    Forward,
}

/// Where the history starts: its first line, the last line of its marker, and its kind.
#[derive(Debug, Clone, Copy)]
struct Marker {
    start: usize,
    end: usize,
    kind: Kind,
}

/// Where the new text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Everything: answers between quoted lines, or no history at all.
    Whole,
    /// The lines above this one (top posting).
    Above(usize),
    /// The lines from this one on, below a leading quote (bottom posting).
    Below(usize),
    /// The lines above the first and from the second on: a top-posted reply whose sign-off
    /// ("Regards, Roman") stands below the quote.
    Around(usize, usize),
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().trim_start_matches(QUOTE_MARKER).trim_start().starts_with('>')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Whether the line holds nothing but the markers of converted HTML.
fn is_marker_only(line: &str) -> bool {
    line.replace(QUOTE_MARKER, "").replace(RULE_MARKER, "").trim().is_empty()
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

/// Whether the line may be part of an attribution wrapped over several lines, quoted as
/// `quoted` says (Apple Mail quotes the whole attribution on iOS).
fn is_piece(line: &str, quoted: bool) -> bool {
    !is_blank(unquoted(line)) && is_quoted(line) == quoted && line.len() < 200
}

/// The line without one level of quoting.
fn unquoted(line: &str) -> &str {
    let t = line.trim_start();
    t.strip_prefix('>').map_or(line, |rest| rest.strip_prefix(' ').unwrap_or(rest))
}

/// Joins the pieces of a wrapped attribution: without a space where the address was
/// broken ("Ann <" + "ann@x.org>", "<ann@" + "x.org>").
fn join_piece(joined: &str, next: &str) -> String {
    let (a, b) = (joined.trim_end(), next.trim());
    let glued = a.ends_with(['<', '@', '.', '(']) || b.starts_with(['>', '@', ')']);
    if glued { format!("{a}{b}") } else { format!("{a} {b}") }
}

/// Whether some of the next three lines are quoted.
fn quotes_follow(lines: &[&str], from: usize) -> bool {
    lines.iter().skip(from).take(3).any(|l| is_quoted(l))
}

/// Whether `text` (a line, or wrapped lines joined) is an attribution whose last line is
/// `end`.
fn is_attribution_text(text: &str, lines: &[&str], end: usize) -> bool {
    ATTRIBUTION.is_match(text)
        || DATE_FIRST.is_match(text)
        || ATTRIBUTION_RUN_ON.is_match(text)
        || ATTRIBUTION_DATE_ADDRESS.is_match(text) && quotes_follow(lines, end + 1)
}

/// An attribution without its colon ("On … wrote" above quoted lines) or between dashes
/// or stars (Zoho: "---- On Tue, 3 Mar 2026 Ann <a@x.org> wrote ----").
fn is_loose_attribution(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let core = line.trim_matches(|c: char| matches!(c, '-' | '*' | '_' | '=') || c.is_whitespace());
    let decorated = core.len() < line.len() && line.starts_with(['-', '*', '=', '_']);
    if core.is_empty() || core.len() > 300 || is_quoted(line) || !(decorated || quotes_follow(lines, i + 1)) {
        return false;
    }
    if core.ends_with([':', '：']) {
        return decorated && ATTRIBUTION.is_match(core);
    }
    ATTRIBUTION.is_match(&format!("{core}:"))
}

/// The attribution found at line `i`: on the line alone (started a few lines higher when it
/// was wrapped), or starting there and wrapped over the next lines.
fn attribution_at(lines: &[&str], i: usize) -> Option<Marker> {
    let line = lines[i];
    if is_attribution_text(line, lines, i) || is_loose_attribution(lines, i) {
        return Some(Marker { start: wrapped_start(lines, i), end: i, kind: Kind::Attribution });
    }
    let quoted = is_quoted(line);
    if !is_piece(line, quoted) || line.trim().chars().count() < 20 || !ATTRIBUTION_START.is_match(line) {
        return None;
    }
    let mut joined = unquoted(line).trim().to_string();
    for k in 1..MAX_ATTRIBUTION_LINES {
        let Some(next) = lines.get(i + k).filter(|l| is_piece(l, quoted)) else { break };
        let next = unquoted(next);
        if is_attribution_text(next, lines, i + k) || unquoted(lines[i + k - 1]).trim_end().ends_with(['.', '?', '!']) {
            // Found on its own at i + k, with this line as its start if it belongs to it.
            break;
        }
        joined = join_piece(&joined, next);
        if is_attribution_text(&joined, lines, i + k) {
            return Some(Marker { start: i, end: i + k, kind: Kind::Attribution });
        }
    }
    None
}

/// Where an attribution found on line `i` starts: a few lines higher when the line is the
/// tail of a wrapped one ("On Tue, Mar 3, 2026 at 10:02 AM John Smith <" /
/// "john@example.com> wrote:"). The nearest line above that starts an attribution wins,
/// else the nearest one with the address.
fn wrapped_start(lines: &[&str], i: usize) -> usize {
    let quoted = is_quoted(lines[i]);
    if ATTRIBUTION_START.is_match(unquoted(lines[i])) {
        return i;
    }
    let mut joined = unquoted(lines[i]).trim().to_string();
    let mut start = i;
    for j in (i.saturating_sub(MAX_ATTRIBUTION_LINES - 1)..i).rev() {
        let piece = unquoted(lines[j]);
        let ends_sentence = piece.trim_end().ends_with(['.', '?', '!']);
        if !is_piece(lines[j], quoted) || ends_sentence || piece.trim().chars().count() < 20 {
            break;
        }
        joined = join_piece(piece, &joined);
        if ATTRIBUTION_START.is_match(piece) {
            return if is_attribution_text(&joined, lines, i) { j } else { start };
        }
        if piece.contains('@') && start == i && is_attribution_text(&joined, lines, i) {
            start = j;
        }
    }
    start
}

/// Whether an Outlook-style header block starts at `at`: at least three header lines
/// within six, one of them naming the sender (clients differ in the order: "Gesendet:"
/// first at GMX); or two header lines in a row, one of them giving the date.
fn header_block_at(lines: &[&str], at: usize) -> bool {
    let is_header = |l: &str| HEADER_FROM.is_match(l) || HEADER_NEXT.is_match(l);
    let Some(first) = lines.get(at) else { return false };
    if !is_header(first) {
        return false;
    }
    let window = &lines[at..(at + 6).min(lines.len())];
    if window.iter().any(|l| HEADER_FROM.is_match(l)) && window.iter().filter(|l| is_header(l)).count() >= 3 {
        return true;
    }
    // Two lines are a block only with a date among them: "From: a@x.example" and "To:
    // b@x.example" alone may be what a person asks for.
    let Some(second) = lines.get(at + 1).filter(|l| is_header(l)) else { return false };
    [first, second].iter().any(|l| HEADER_DATE.is_match(l) && l.chars().any(|c| c.is_ascii_digit()))
}

/// Whether a header block follows a separator line at `at` (one blank line allowed): also
/// a single line holding both sender and date, as HTML mail with an `<hr>` has it.
fn header_after_separator(lines: &[&str], at: usize) -> bool {
    let at = if lines.get(at).is_some_and(|l| is_blank(l)) { at + 1 } else { at };
    header_block_at(lines, at)
        || lines.get(at).is_some_and(|l| HEADER_FROM.is_match(l) && HEADER_INLINE_DATE.is_match(l))
}

/// Whether what follows a mobile footer (its next three non-blank lines, within five)
/// looks like history: quoted lines, headers, a rule, a separator, an attribution's start,
/// or an address or date before a colon.
fn history_follows(lines: &[&str], from: usize) -> bool {
    lines.iter().skip(from).take(5).filter(|l| !is_blank(l)).take(3).any(|next| {
        is_quoted(next)
            || is_rule(next)
            || HEADER_FROM.is_match(next)
            || HEADER_DATE.is_match(next)
            || ATTRIBUTION_START.is_match(next)
            || ORIGINAL_MESSAGE.is_match(next)
            || next.trim_end().ends_with([':', '：'])
                && (next.contains('@') || next.chars().any(|c| c.is_ascii_digit()))
    })
}

/// Whether a forwarded message starts at line `at` or within the next two lines.
fn forward_near(lines: &[&str], at: usize) -> bool {
    lines.iter().skip(at).filter(|l| !is_marker_only(l)).take(2).any(|l| {
        let l = l.replace(QUOTE_MARKER, "");
        FORWARD_SEPARATOR.is_match(&l) || FORWARDED.is_match(&l)
    })
}

/// Where the quoted history starts, if anywhere.
fn history_start(lines: &[&str]) -> Option<Marker> {
    let at = |start: usize, kind: Kind| Some(Marker { start, end: start, kind });
    for (i, line) in lines.iter().enumerate() {
        if line.contains(QUOTE_MARKER) {
            let kind = if forward_near(lines, i) { Kind::Forward } else { Kind::Attribution };
            return at(i, kind);
        }
        if FORWARD_SEPARATOR.is_match(line) || FORWARDED.is_match(line) {
            return at(i, Kind::Forward);
        }
        if ORIGINAL_MESSAGE.is_match(line) || GROUPWISE.is_match(line) {
            return at(i, Kind::Unquoted);
        }
        if let Some(marker) = attribution_at(lines, i) {
            return Some(marker);
        }
        if header_block_at(lines, i) || is_rule(line) && header_after_separator(lines, i + 1) {
            return at(i, Kind::Unquoted);
        }
        if i > 0 && is_mobile_footer(line) && history_follows(lines, i + 1) {
            return at(i + 1, Kind::Unquoted);
        }
    }
    None
}

/// Which lines are quoted: those with `>`, and a short line without it between two quoted
/// lines when the line above was long and broke off mid-sentence (a client re-wrapped
/// `> long line` and the tail lost its mark).
fn quoting(lines: &[&str]) -> Vec<bool> {
    let mut quoted: Vec<bool> = lines.iter().map(|l| is_quoted(l)).collect();
    for i in 1..lines.len().saturating_sub(1) {
        let (above, line) = (lines[i - 1].trim_end(), lines[i].trim());
        let lost_tail = quoted[i - 1]
            && is_quoted(lines[i + 1])
            && !line.is_empty()
            && line.chars().count() <= 60
            && !line.starts_with(char::is_uppercase)
            && above.chars().count() >= 55
            && !above.ends_with(['.', '?', '!', ':']);
        quoted[i] |= lost_tail;
    }
    quoted
}

/// Whether line `i` is new text: not quoted, blank, a marker, a footnote, a footer, a
/// rule or an attribution.
fn is_new(lines: &[&str], quoted: &[bool], i: usize) -> bool {
    let line = lines[i];
    !quoted[i]
        && !is_marker_only(line)
        && !line.contains(QUOTE_MARKER)
        && !FOOTNOTE.is_match(line)
        && !is_mobile_footer(line)
        && !is_signature_delimiter(line)
        && !is_rule(line)
        && !ATTRIBUTION.is_match(line)
}

/// The layout of quoted lines from `first` on, with new text above them or not: answers
/// between them keep everything; text only below them is the new text (bottom posting);
/// none below cuts at `start`.
fn quote_layout(lines: &[&str], quoted: &[bool], first: usize, start: usize, above: bool) -> Layout {
    let last = (first..lines.len()).rev().find(|&i| quoted[i]).unwrap_or(first);
    if (first..last).any(|i| is_new(lines, quoted, i)) {
        return Layout::Whole;
    }
    let signature = (last..lines.len()).find(|&i| is_signature_delimiter(lines[i])).unwrap_or(lines.len());
    let below = (last + 1..signature).any(|i| is_new(lines, quoted, i))
        && !signature::is_only_notices(&lines[last + 1..signature]);
    match (above, below) {
        (_, false) => Layout::Above(start),
        (false, true) => Layout::Below(last + 1),
        (true, true) if is_sign_off(lines, last + 1, signature) => Layout::Around(start, last + 1),
        (true, true) => Layout::Whole,
    }
}

/// Whether `lines[from..to]` only signs off: at most three short lines, the first a closing.
fn is_sign_off(lines: &[&str], from: usize, to: usize) -> bool {
    let text: Vec<&str> = lines[from..to].iter().filter(|l| !is_blank(l)).copied().collect();
    !text.is_empty()
        && text.len() <= 3
        && text.iter().all(|l| l.trim().chars().count() <= 40)
        && CLOSING.is_match(text[0])
}

/// Where an attribution without verb or colon stands right above a quote that starts at
/// `first` (Gmail's old "2011/4/7 Ann <ann@x.example>", maybe wrapped): lines that start
/// with a date and hold an address.
fn bare_attribution_above(lines: &[&str], first: usize) -> Option<usize> {
    let last = lines[..first].iter().rposition(|l| !is_blank(l))?;
    if first - last > 3 {
        return None;
    }
    let mut joined = String::new();
    for j in (last.saturating_sub(MAX_ATTRIBUTION_LINES - 1)..=last).rev() {
        let piece = lines[j];
        if !is_piece(piece, false) {
            break;
        }
        joined = if joined.is_empty() { piece.trim().to_string() } else { join_piece(piece, &joined) };
        if DATE_START.is_match(piece) {
            let t = joined.trim_end();
            let ends = t.ends_with(['>', ':', ')', ']']);
            return (t.contains('@') && ends && t.chars().count() <= 300).then_some(j);
        }
    }
    None
}

/// Where the new text is, given where the history starts.
fn layout(lines: &[&str], quoted: &[bool], marker: Option<Marker>) -> Layout {
    let Some(marker) = marker else {
        let Some(first) = quoted.iter().position(|&q| q) else { return Layout::Whole };
        // Plain `>` quoting with no attribution: cut a trailing block with its blank lines
        // (and a bare date and address above it).
        let start = bare_attribution_above(lines, first)
            .unwrap_or_else(|| lines[..first].iter().rposition(|l| !is_blank(l)).map_or(0, |p| p + 1));
        let above = lines[..start].iter().any(|l| !is_marker_only(l));
        return quote_layout(lines, quoted, first, start, above);
    };
    let above = lines[..marker.start].iter().any(|l| !is_marker_only(l));
    let first = if lines[marker.start].contains(QUOTE_MARKER) { marker.start } else { marker.end + 1 };
    let body = (first..lines.len()).find(|&i| {
        let line = lines[i];
        !is_marker_only(line) && !ATTRIBUTION.is_match(line) && !DATE_FIRST.is_match(line)
    });
    match body {
        Some(body) if marker.kind == Kind::Attribution && quoted[body] => {
            quote_layout(lines, quoted, body, marker.start, above)
        }
        _ if above => Layout::Above(marker.start),
        _ => Layout::Whole,
    }
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
pub fn visible_reply(text: &str, subject: &str) -> String {
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
    let clean = |l: &&str| l.replace(QUOTE_MARKER, "").replace(RULE_MARKER, "");
    let mut kept: Vec<String> = without_rules(&lines[from..to]).iter().map(clean).collect();
    // Link footnotes of converted HTML: keep those the kept text refers to, also those that
    // stood after the history, and drop those whose link went with it.
    let refs = references(kept.iter().filter(|k| !FOOTNOTE.is_match(k)).map(String::as_str));
    let is_referenced = |l: &str| FOOTNOTE.captures(l).is_none_or(|c| refs.contains(&c[1]));
    kept.retain(|k| is_referenced(k));
    if !tail.is_empty() {
        kept.push(String::new());
        kept.extend(without_rules(tail).iter().map(clean));
    }
    let after = if tail.is_empty() { &all[to..] } else { &all[all.len()..] };
    let present: std::collections::HashSet<&str> = kept.iter().map(String::as_str).collect();
    let footnotes: Vec<&str> =
        after.iter().filter(|l| FOOTNOTE.is_match(l) && is_referenced(l) && !present.contains(*l)).copied().collect();
    if !footnotes.is_empty() {
        kept.push(String::new());
        kept.extend(footnotes.iter().map(|f| f.to_string()));
    }
    let reply = kept.join("\n").trim().to_string();
    if reply.is_empty() { clean(&text).trim().to_string() } else { reply }
}

#[cfg(test)]
mod tests {
    use super::patterns::*;
    use super::*;

    /// The new text of a reply (not a forward).
    fn reply(text: &str) -> String {
        visible_reply(text, "Re: [Support #3] Printer")
    }

    /// Every line of the fixtures' texts (whole and joined in pairs, as attributions are
    /// tried) that a pattern matches also passes its guard: the guards only skip work.
    #[test]
    fn the_guards_never_hide_a_match() {
        let mut lines: Vec<String> = Vec::new();
        for value in crate::inbound::fixture_interpretations() {
            let text = value["text"].as_str().unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            lines.extend(all.iter().map(|l| l.to_string()));
            lines.extend(all.windows(2).map(|w| format!("{} {}", w[0].trim(), w[1].trim())));
        }
        assert!(lines.len() > 5_000, "the fixtures were read: {}", lines.len());
        for known in [
            "Begin forwarded message:",
            "  Anfang der weitergeleiteten Nachricht：",
            "[Sent from my iPhone]",
            "Von meinem iPhone gesendet",
            "iPhoneから送信",
            "-----Original Message-----",
            "On Mon, 23 Nov 2026 at 10:02 Support <s@x.example> wrote: yes",
            ">>> Ann Lee <ann@example.org> 03.03.2026 10:02 >>>",
            "2026-03-05 10:02 GMT+01:00 Ann <a@x.example>:",
            "*--- Original Message ---*",
            "Thanks, Priya",
        ] {
            lines.push(known.to_string());
        }
        let guarded: [(&str, &Guarded); 14] = [
            ("ATTRIBUTION", &ATTRIBUTION),
            ("ATTRIBUTION_RUN_ON", &ATTRIBUTION_RUN_ON),
            ("ATTRIBUTION_START", &ATTRIBUTION_START),
            ("ATTRIBUTION_DATE_ADDRESS", &ATTRIBUTION_DATE_ADDRESS),
            ("ORIGINAL_MESSAGE", &ORIGINAL_MESSAGE),
            ("FORWARDED", &FORWARDED),
            ("HEADER_FROM", &HEADER_FROM),
            ("HEADER_NEXT", &HEADER_NEXT),
            ("MOBILE_FOOTER", &MOBILE_FOOTER),
            ("DATE_FIRST", &DATE_FIRST),
            ("GROUPWISE", &GROUPWISE),
            ("FORWARD_SEPARATOR", &FORWARD_SEPARATOR),
            ("HEADER_DATE", &HEADER_DATE),
            ("CLOSING", &CLOSING),
        ];
        for (name, g) in guarded {
            let matched: Vec<&String> = lines.iter().filter(|l| g.regex.is_match(l)).collect();
            assert!(!matched.is_empty(), "{name} matches some fixture line");
            for line in matched {
                assert!((g.may_match)(line), "{name}: the guard hides a match: {line:?}");
            }
        }
    }

    #[test]
    fn gmail_style_history_is_cut() {
        let t = "Thanks, that fixed it.\n\nOn Mon, 23 Nov 2026 at 10:02, Support <support@x.example> wrote:\n> Please restart.\n> Bye\n";
        assert_eq!(reply(t), "Thanks, that fixed it.");
    }

    #[test]
    fn wrapped_attribution_is_recognised() {
        let t = "Yes.\n\nOn Mon, 23 Nov 2026 at 10:02, Support Team <support@x.example>\nwrote:\n> old\n";
        assert_eq!(reply(t), "Yes.");
    }

    #[test]
    fn attributions_in_many_languages() {
        let cases = [
            "Am 23.11.2026 um 10:02 schrieb Support <s@x.example>:",
            "Le lun. 23 nov. 2026 à 10:02, Support <s@x.example> a écrit :",
            "El lun, 23 nov 2026 a las 10:02, Support (<s@x.example>) escribió:",
            "Il giorno lun 23 nov 2026 alle ore 10:02 Support <s@x.example> ha scritto:",
            "Op ma 23 nov 2026 om 10:02 schreef Support <s@x.example>:",
            "Em seg., 23 de nov. de 2026 às 10:02, Support <s@x.example> escreveu:",
            "Den mån 23 nov. 2026 kl 10:02 skrev Support <s@x.example>:",
            "W dniu pon., 23.11.2026 o 10:02 Support <s@x.example> napisał(a):",
            "пн, 23 нояб. 2026 г. в 10:02, Support <s@x.example>:",
            "23.11.2026 10:02, Support пишет:",
            "2026年11月23日(月) 10:02 Support <s@x.example>:",
            "Support <s@x.example> 于2026年11月23日周一 10:02写道：",
            "2026년 11월 23일 (월) 오전 10:02, Support <s@x.example>님이 작성:",
            "Support <s@x.example>, 23 Kas 2026 Pzt, 10:02 tarihinde şunu yazdı:",
            "ma 23.11.2026 klo 10.02 Support (s@x.example) kirjoitti:",
            "Dne po 23. 11. 2026 10:02 uživatel Support <s@x.example> napsal:",
            "Support <s@x.example> ezt írta (időpont: 2026. nov. 23., H 10:02):",
        ];
        for attribution in cases {
            let t = format!("New text.\n\n{attribution}\n> old text\n");
            assert_eq!(reply(&t), "New text.", "missed: {attribution}");
        }
    }

    #[test]
    fn outlook_header_blocks_are_cut() {
        let t = "It still fails.\n\n________________________________\nFrom: Support <support@x.example>\nSent: Monday, November 23, 2026 10:02\nTo: Jane\nSubject: [Support #3] Printer\n\nPlease restart.\n";
        assert_eq!(reply(t), "It still fails.");
        let t = "Ok.\n\n-----Original Message-----\nFrom: Support\nPlease restart.\n";
        assert_eq!(reply(t), "Ok.");
        let t = "Geht wieder.\n\nVon: Support <s@x.example>\nGesendet: Montag, 23. November 2026 10:02\nAn: Jana\nBetreff: AW: Drucker\n\nalt\n";
        assert_eq!(reply(t), "Geht wieder.");
    }

    #[test]
    fn inline_answers_are_kept_whole() {
        let t = "See below.\n\nOn Mon, 23 Nov 2026, Support wrote:\n> What model is it?\nAn HP 4000.\n> Which floor?\nThe third.\n";
        assert_eq!(reply(t), t.trim());
    }

    #[test]
    fn signature_and_mobile_footer_are_removed() {
        assert_eq!(reply("Hello\n\n-- \nJane Doe\nACME\n"), "Hello");
        assert_eq!(reply("Works now\n\nSent from my iPhone\n"), "Works now");
        assert_eq!(reply("Danke!\n\nVon meinem iPhone gesendet\n"), "Danke!");
        assert_eq!(reply("Danke!\n\nAm 23.11.2026 um 10:02 schrieb Support <s@x.example>:\n> Hallo\n"), "Danke!");
    }

    #[test]
    fn marked_quote_containers_cut_and_markers_never_show() {
        let t = format!("New words\n\n{QUOTE_MARKER}On Mon X wrote:\n> old\n");
        assert_eq!(reply(&t), "New words");
        let inline = format!("Intro\n{QUOTE_MARKER}> q1\nanswer 1\n> q2\nanswer 2\n");
        let kept = reply(&inline);
        assert!(kept.contains("answer 2") && !kept.contains(QUOTE_MARKER), "{kept}");
    }

    #[test]
    fn all_quote_keeps_everything() {
        assert_eq!(reply("> only a quote\n"), "> only a quote");
    }
    #[test]
    fn attributions_wrapped_over_up_to_five_lines_are_cut_from_their_first_line() {
        let cases = [
            "On Tue, Mar 3, 2026 at 10:02 AM John Smith <\njohn@example.com> wrote:",
            "On 3 March 2026 at 10:02, Ann Lee\n<ann@example.org> wrote:",
            "On Tue, 3 Mar 2026, 10:02 Support Team of the Example Logistics\nInternational Group, <support-team@\nhelpdesk.example> wrote:",
            "On Tue, Mar 3, 2026 at 10:02 AM\nCustomer Support Team of Example Logistics International\n<support@helpdesk.example>\nwrote:",
            "Am Di., 3. März 2026 um 10:02 Uhr schrieb Maildesk Support der Beispiel AG <\nsupport@helpdesk.example>:",
            "2026年3月3日(火) 10:02 株式会社エグザンプル サポート窓口 <\nsupport@helpdesk.example>:",
            "> On 3 March 2026 at 10:02, Maildesk Support Desk\n> <support@helpdesk.example> wrote:",
        ];
        for attribution in cases {
            let t = format!("New text.\n\n{attribution}\n\n> old text\n> more\n");
            assert_eq!(reply(&t), "New text.", "missed: {attribution}");
        }
    }

    #[test]
    fn a_sentence_above_an_attribution_stays() {
        let t =
            "On Monday it failed 3 times, today again.\nOn Tue, 3 Mar 2026 at 10:02 Ann <a@x.example> wrote:\n> old\n";
        assert_eq!(reply(t), "On Monday it failed 3 times, today again.");
        let t = "I checked it twice and it failed on 3 machines\nAnn Lee <a@x.example> wrote:\n> old\n";
        assert_eq!(reply(t), "I checked it twice and it failed on 3 machines");
    }

    #[test]
    fn date_first_attributions_cut_unquoted_history_too() {
        for attribution in [
            "3.5.2026, 10:02, \"Ann\" <a@x.example>:",
            "2026-03-05 10:02 GMT+01:00 Ann <a@x.example>:",
            "Четверг, 5 марта 2026, 10:02 +03:00 от Ann <a@x.example>:",
            "On 05/03/2026 10:02, Ann wrote:",
        ] {
            let t = format!("Works now.\n\n{attribution}\n\nHello, please restart.\nBye\n");
            assert_eq!(reply(&t), "Works now.", "missed: {attribution}");
        }
    }

    #[test]
    fn header_blocks_and_separators_of_more_languages_and_layouts() {
        let cases = [
            "De : Support <s@x.example>\nEnvoyé : jeudi 5 mars 2026 10:02\nÀ : Marie\nObjet : RE: Imprimante",
            "De : Support <s@x.example>\nDate : jeudi 5 mars 2026 à 10:02\nÀ : Marie\nSujet : Imprimante",
            "Fra: Support <s@x.example>\nSendt: 5. marts 2026 10:02\nTil: Mette\nEmne: Printer",
            "-------- Oprindelig besked --------\nFra: Support <s@x.example>\nDato: 5. mar. 2026 10.02",
            "Từ: Support <s@x.example>\nĐã gửi: Thứ Năm, ngày 5 tháng 3 năm 2026 10:02\nĐến: Bình\nChủ đề: Máy in",
            "*--- Original Message ---*\n*From:* Support <s@x.example>\n*Sent:* Thursday, March 5, 2026 10:02",
            "‐‐‐‐‐‐‐ Original Message ‐‐‐‐‐‐‐\nOn Thursday, March 5th, 2026 at 10:02, Support <s@x.example> wrote:",
            "Date: Thu, 5 Mar 2026 10:02:11 +0100\nTo: Aiko <a@x.example>",
            ">>> Support <s@x.example> 05.03.2026 10:02 >>>",
            "Support <s@x.example> wrote on 05.03.2026 10:02:11:",
            "Op 5 mrt 2026 om 10:02 heeft Support <s@x.example> het volgende geschreven:",
            "Vào Th 5, 5 thg 3, 2026 vào lúc 10:02 Support <s@x.example> đã viết:",
        ];
        for block in cases {
            let t = format!("Done, thanks.\n\n{block}\n\nold text\n");
            assert_eq!(reply(&t), "Done, thanks.", "missed: {block}");
        }
    }

    #[test]
    fn a_rule_then_sender_and_date_on_one_line_starts_history() {
        let t = format!(
            "Fixed.\n{RULE_MARKER}\nFrom: Support [mailto:s@x.example] Sent: Thursday, March 05, 2026 10:02 AM To: Grace\nold\n"
        );
        assert_eq!(reply(&t), "Fixed.");
    }

    #[test]
    fn bottom_posting_gives_the_text_below_the_quote() {
        let t =
            "On Thu, 5 Mar 2026, Support wrote:\n> Which model?\n>\n> Bye\n\nAn HP 4000.\n\nFelix\n\n-- \nFelix B.\n";
        assert_eq!(reply(t), "An HP 4000.\n\nFelix");
        let t = "> Which model?\n\nAn HP 4000.\n";
        assert_eq!(reply(t), "An HP 4000.");
        // Text above and below one quote, or between quotes: everything stays.
        let t = "See below.\n\nOn Thu, 5 Mar 2026, Support wrote:\n> Which model?\n\nAn HP 4000.";
        assert_eq!(reply(t), t);
        let t = "On Thu, 5 Mar 2026, Support wrote:\n> Which model?\nAn HP 4000.\n> Which floor?\nThe third.";
        assert_eq!(reply(t), t);
    }

    #[test]
    fn a_quoted_line_whose_tail_lost_its_mark_stays_in_the_quote() {
        let quote = "On 05.03.2026 10:02, Support wrote:\n> Hello Hannah, please restart the print spooler service on your computer\nand try to print again.\n> Maildesk Support\n";
        assert_eq!(reply(&format!("Works.\n\n{quote}")), "Works.");
        assert_eq!(reply(&format!("{quote}\nWorks.\n")), "Works.");
        // A short answer below a question is an answer.
        let t = "On 05.03.2026 10:02, Support wrote:\n> Which version of the app do you have installed on your phone?\n2.3.1\n> Which phone?\nA Pixel 8.";
        assert_eq!(reply(t), t);
    }

    #[test]
    fn dashed_and_colon_less_attributions() {
        let t = "Still broken.\n\n---- On Thu, 05 Mar 2026 14:32:11 +0530 Support <s@x.example> wrote ---\n\nHello, we fixed it.\n";
        assert_eq!(reply(t), "Still broken.");
        let t = "Thanks.\n\nOn Thu, Mar 5, 2026 at 10:02 AM, Support wrote\n> Hello\n";
        assert_eq!(reply(t), "Thanks.");
        // Without quotes below it, a sentence that ends in "wrote" is text.
        let t = "This is what Ann wrote\nand it is still true.";
        assert_eq!(reply(t), t);
    }

    #[test]
    fn history_below_a_mobile_footer_goes() {
        let t = "Got it.\n\nSent from my BlackBerry 10 smartphone.\n  Original Message  \nFrom: Support\nSent: Thursday, 5 March 2026 10:02\nTo: Ahmed\n\nold\n";
        assert_eq!(reply(t), "Got it.");
        let t = "Parfait.\n\nEnvoyé de mon iPhone\n\n> Le 5 mars 2026 à 10:02, Support <s@x.example> a écrit :\n> \n> Bonjour\n";
        assert_eq!(reply(t), "Parfait.");
        let t = "Det virker.\n\nHent Outlook til Android\n";
        assert_eq!(reply(t), "Det virker.");
    }

    #[test]
    fn mailing_list_footers_are_not_new_text() {
        let t = "On 05/03/2026 10:02, Support wrote:\n> Hello\n\nWill floor 4 be updated too?\n\nIngrid\n_______________________________________________\nOfficemanagers mailing list\nofficemanagers@lists.example.com\nhttps://lists.example.com/mailman/listinfo/officemanagers\n";
        assert_eq!(reply(t), "Will floor 4 be updated too?\n\nIngrid");
    }

    #[test]
    fn contact_blocks_under_a_typed_closing_go() {
        let t = "It works.\n\nBest regards,\nAnn Lee\nIT Coordinator | Example Ltd.\n+44 20 7946 0958 | www.example.org\n\nOn Thu, 5 Mar 2026, Support wrote:\n> old\n";
        assert_eq!(reply(t), "It works.\n\nBest regards,\nAnn Lee");
        let t = "It works.\n\nThanks,\nPriya\n";
        assert_eq!(reply(t), "It works.\n\nThanks,\nPriya");
    }

    #[test]
    fn forwards_keep_the_forwarded_message_below_the_note() {
        let t = "Is this real?\n\nSent from my iPhone\n\nBegin forwarded message:\n\n> From: Bank <b@x.example>\n> Subject: Verify\n";
        assert_eq!(
            visible_reply(t, "Fwd: Verify"),
            "Is this real?\n\nBegin forwarded message:\n\n> From: Bank <b@x.example>\n> Subject: Verify"
        );
        let t = "FYI\n\nVon: Versand <v@x.example>\nGesendet: Mittwoch, 4. März 2026 16:20\nAn: Thomas\nBetreff: Lieferung\n\nDie Lieferung verzögert sich.";
        assert_eq!(visible_reply(t, "WG: Lieferung"), t);
        assert_eq!(visible_reply(t, "AW: Lieferung"), "FYI");
        let t = "---------- Forwarded message ---------\nFrom: R <r@x.example>\n\nRenew now.";
        assert_eq!(visible_reply(t, "Domain"), t);
    }

    #[test]
    fn forward_subjects_are_told_by_their_first_prefix() {
        for subject in ["Fwd: x", "FW: x", "[Support #3] WG: x", "TR: x", "RV: x", "I: x", "Fwd[2]: x", "转发: x"] {
            assert!(is_forward_subject(subject), "{subject}");
        }
        for subject in ["Re: Fwd: x", "AW: WG: x", "Trouble: x", "Printer", "[Support #3] Re: x", ""] {
            assert!(!is_forward_subject(subject), "{subject}");
        }
    }

    #[test]
    fn hostile_input_takes_bounded_work_and_never_panics() {
        let started = std::time::Instant::now();
        let inputs = [
            "> On\n".repeat(200_000),
            "a".repeat(1_000_000),
            format!("{}:", "On 1, ".repeat(170_000)),
            "On Tue, 3 Mar 2026 at 10:02 AM Support Team of Example <\n".repeat(50_000),
            "> Hello, please restart the print spooler service on your computer today\nand\n".repeat(50_000),
            "From: a\nTo: b\n".repeat(50_000),
            "Regards,\nAnn\n+1 555 0100\n".repeat(50_000),
            format!("Thanks,\nAnn\n{}", "x".repeat(1_000_000)),
            format!("{}\n{}", "[1]".repeat(100_000), "[1]: https://x.example\n".repeat(50_000)),
            "\u{E000}maildesk-quote\u{E000}\n\n".repeat(100_000),
            "-- \n> \n".repeat(100_000),
        ];
        for input in &inputs {
            let _ = visible_reply(input, "Fwd: x");
            let _ = reply(input);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
    }
    /// Shapes from the public test suites of other reply trimmers (talon, email_reply_parser)
    /// with what our rules make of them.
    #[test]
    fn shapes_from_other_trimmers_test_suites() {
        let cases: &[(&str, &str)] = &[
            (
                "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
                "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
            ),
            (
                "I get proper rendering as well.\n\nSent from a magnificent torch of pixels\n\nOn Dec 16, 2011, at 12:47 PM, Corey Donohoe\n<reply@reply.github.com>\nwrote:\n\n> Was this caching related or fixed already?  I get proper rendering here.\n>\n> ---\n> Reply to this email directly or view it on GitHub:\n> https://github.com/github/github/issues/2278#issuecomment-3182418\n",
                "I get proper rendering as well.",
            ),
            (
                "Outlook with a reply\n\n\n ------------------------------\n\n *From:* Google Apps Sync Team [mailto:mail-noreply@google.com]\n *Sent:* Thursday, February 09, 2012 1:36 PM\n *To:* jow@xxxx.com\n *Subject:* Google Apps Sync was updated!\n\n\n\nDear Google Apps Sync user,\n",
                "Outlook with a reply",
            ),
            (
                "Test reply\n\n2014-10-17 11:28 GMT+03:00 Postmaster <\npostmaster@sandboxa4b0b3e8c06f42c4a57e0a7d2a0aa5d5.mailgun.org>:\n\n> First from site\n>\n",
                "Test reply",
            ),
            (
                "Thanks Thanmai\nOn Mar 8, 2012 9:59 AM, \"Example.com\" <\nr+7f1b094ceb90e18cca93d53d3703feae@example.com> wrote:\n\n\n>** Blah-blah-blah",
                "Thanks Thanmai",
            ),
            ("Replying ok\n2011/4/7 Nathan ova <support@example.com>\n\n>  Cool beans, scro", "Replying ok"),
            (
                "YOLO salvia cillum kogi typewriter mumblecore cardigan skateboard Austin.\n\n------On 12/29/1987 17:32 PM, Julius Caesar wrote-----\n\nBrunch mumblecore pug Marfa tofu, irure taxidermy hoodie readymade pariatur.\n",
                "YOLO salvia cillum kogi typewriter mumblecore cardigan skateboard Austin.",
            ),
            ("On 04/19/2011 07:10 AM, Roman Tkachenko wrote:\n\n>\n> Test\nTest reply", "Test reply"),
            ("Test reply\n\n---- John Smith wrote ----\n\n> quoted\n> text\n", "Test reply"),
            (
                "Test reply\n\nOn 04/19/2011 07:10 AM, Roman Tkachenko wrote:\n\n>\n> Test\n\nRegards, Roman",
                "Test reply\n\nRegards, Roman",
            ),
            ("Blah-blah-blah\nOn blah-blah-blah", "Blah-blah-blah\nOn blah-blah-blah"),
            ("Test reply\n\nSent from Samsung MobileName <address@example.com> wrote:\n\n> Test", "Test reply"),
            ("Test reply\n\n2011/4/7 Tkachenko <address@example.com>\n\n> Test", "Test reply"),
            (
                "Lorem ipsum\n\nW dniu 28 stycznia 2015 01:53 użytkownik Zoe xxx <zoe.xxx@xxx.com>\nnapisał:\n\nBlah!",
                "Lorem ipsum",
            ),
            (
                "Visit us now for assistance...\n>>> >>>  http://www.domain.com <<<\nVisit our site by clicking the link above",
                "Visit us now for assistance...\n>>> >>>  http://www.domain.com <<<\nVisit our site by clicking the link above",
            ),
            (
                "8.45am-1pm\n\nFrom: somebody@example.com\nDate: Wed, 16 May 2012 00:15:02 -0600\n\n<http://email.example.com/c/dHJhY2tpbmdfY29kZT1mMDdjYzBmNzM1ZjYzMGIxNT\n>  <bob@example.com <mailto:bob@example.com> >\n\nRequester: ",
                "8.45am-1pm",
            ),
            ("Blah\n\nDate: Wed, 16 May 2012 00:15:02 -0600\nTo: klizhentas@example.com\n\n", "Blah"),
            (
                "Hi\n\n  *From:* bob@example.com [mailto:\n  bob@example.com]\n  *Date:* Wednesday, June 27, 2012 3:05 PM\n  *To:* travis@example.com\n  *Subject:* Hello\n\n",
                "Hi",
            ),
            (
                "Blah\nDate: Fri=2C 28 Sep 2012 10:55:48 +0000\nFrom: tickets@example.com\nTo: bob@example.com\nSubject: Hello",
                "Blah",
            ),
            (
                "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nline\nTo: rob@example.com\n\n> Hello\n\n> Hello again",
                "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nline\nTo: rob@example.com\n\n> Hello\n\n> Hello again",
            ),
            (
                "Blah\n\n-----Original Message-----\n\nFW: Foo\n\n---------- Forwarded message ----------\n\nHello",
                "Blah",
            ),
            (
                "Test reply\n\nOn 11-Apr-2011, at 6:54 PM, Roman Tkachenko <romant@example.com> sent:\n\n>\n> Test\n>\n> Roman",
                "Test reply",
            ),
            (
                "Response\n\n10/19/2017 @ 9:30 am for physical therapy\nBla\n1517 4th Avenue Ste 300\nLondon CA 19129, 555-421-6780\n\nJohn Doe, FCLS\nMediCal Physical Therapy\n",
                "Response\n\n10/19/2017 @ 9:30 am for physical therapy\nBla\n1517 4th Avenue Ste 300\nLondon CA 19129, 555-421-6780\n\nJohn Doe, FCLS\nMediCal Physical Therapy",
            ),
            (
                "Please enter your feedback below. Thank you.\n\n------------------------------------- Enter Feedback Below -------------------------------------\n\nThe user experience was unparallelled. Please continue production. I'm sending payment to ensure\nthat this line is intact.",
                "Please enter your feedback below. Thank you.\n\n------------------------------------- Enter Feedback Below -------------------------------------\n\nThe user experience was unparallelled. Please continue production. I'm sending payment to ensure\nthat this line is intact.",
            ),
            ("Hello\n\nVào 14:24 8 tháng 6, 2017, Hùng Nguyễn <hungnguyen@xxx.com> đã viết:\n\n> Xin chào", "Hello"),
            (
                "Allo! Follow up MIME!\n\n发件人: xxx@xxx.com\n发送时间: 2018年3月27日 星期二 下午 13:00\n收件人: a\n主题: b\n\nold",
                "Allo! Follow up MIME!",
            ),
            ("Thanks!\n\n2013/6/21 Mike Example <\nmike@example.com>\n\n> hello\n", "Thanks!"),
            (
                "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona\n\n\n_______________________________________________\nriak-users mailing list\nriak-users@lists.basho.com\nhttp://lists.basho.com/mailman/listinfo/riak-users_lists.basho.com\n",
                "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
            ),
            (
                "Test\n\nMed vennlig hilsen\nJohn Doe\n\nman. 21. des. 2015 kl. 14.43 skrev Dan Kubb <dkubb@example.com>:\n> hi\n",
                "Test\n\nMed vennlig hilsen\nJohn Doe",
            ),
            (
                "Hello\n\n________________________________\n> From: dkubb@example.com\n> To: x@example.com\n> Subject: hi\n> Date: Tue, 1 Jan 2015\n>\n> old",
                "Hello",
            ),
            (
                "test 2 this should list second\n\nand have spaces\n\n\n   - how about bullets\n   - and another\n\n\nOn Fri, Feb 24, 2012 at 10:19 AM, <examples@email.goalengine.com> wrote:\n\n> Give us an example\n\n\n\n\n-- \n\n*Joe Smith | Director, Product Management*\n",
                "test 2 this should list second\n\nand have spaces\n\n\n   - how about bullets\n   - and another",
            ),
            (
                "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect.\n\nOn 9 Jan 2014, at 2:47, George Plymale wrote:\n\n> I am having an odd issue\n",
                "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect.",
            ),
            (
                "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:\n> Hi folks\n>\n> What is the best way\n\nYou can list the keys.\n\n-Russell",
                "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:\n> Hi folks\n>\n> What is the best way\n\nYou can list the keys.\n\n-Russell",
            ),
        ];
        // Their cases come without a subject.
        for (input, want) in cases {
            assert_eq!(visible_reply(input, ""), *want, "input: {input:?}");
        }
    }
    #[test]
    fn attributions_header_blocks_and_footers_of_more_languages() {
        let attributions = [
            "2026/03/05 10:02、Support <s@x.example>のメール:",
            "2026. 3. 5. 오전 10:02, Support <s@x.example> 작성:",
            "5 марта 2026 г., в 10:02, Support <s@x.example> написал(а):",
            "Pada tanggal Kam, 5 Mar 2026 pukul 10.02 Support <s@x.example> menulis:",
            "čet, 5. ožu 2026. u 10:02 Support <s@x.example> je napisao:",
            "في الخميس، 5 مارس 2026 في 10:02 ص، كتب Support <s@x.example>:",
            "\u{202b}בתאריך יום ה׳, 5 במרץ 2026 ב-10:02 מאת \u{202a}Support\u{202c}\u{200f} <\u{202a}s@x.example\u{202c}\u{200f}>:\u{202c}",
        ];
        for attribution in attributions {
            let t = format!("New text.\n\n{attribution}\n> old text\n");
            assert_eq!(reply(&t), "New text.", "missed: {attribution}");
        }
        let blocks = [
            "De la: Support <s@x.example>\nTrimis: joi, 5 martie 2026 10:02\nCătre: Ana\nSubiect: Imprimanta",
            "Šalje: Support <s@x.example>\nPoslano: četvrtak, 5. ožujka 2026. 10:02\nPrima: Ana\nPredmet: Pisač",
            "Від: Support <s@x.example>\nНадіслано: 5 березня 2026 р. 10:02\nКому: Ганна\nТема: Принтер",
            "-------- Originalnachricht --------\nVon: Support <s@x.example>\nDatum: 05.03.26 10:02 (GMT+01:00)",
        ];
        for block in blocks {
            let t = format!("Done.\n\n{block}\n\nold text\n");
            assert_eq!(reply(&t), "Done.", "missed: {block}");
        }
        for footer in
            ["Von meinem Samsung Galaxy Smartphone gesendet.", "Trimis de pe iPhone-ul meu", "iPhone'umdan gönderildi"]
        {
            let t = format!("Done.\n\n{footer}\n");
            assert_eq!(reply(&t), "Done.", "missed: {footer}");
        }
    }
    #[test]
    fn a_notice_below_the_quote_is_not_new_text() {
        let t = "Fixed, thanks.\n\nOn Thu, 5 Mar 2026, Support wrote:\n> Please restart.\n\nThis e-mail is confidential and intended for the addressee only. If you have received this e-mail in error, please delete it.\n";
        assert_eq!(reply(t), "Fixed, thanks.");
    }
}
