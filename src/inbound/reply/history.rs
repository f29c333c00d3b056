//! Where quoted history starts: attributions (also wrapped, without a colon, between
//! dashes, or a bare date and address), separators, header blocks, quote containers of
//! HTML mail, and mobile footers with history below them. Each line is tried against a
//! bounded number of its neighbours, so the work stays linear in the size of the mail.

use super::patterns::{
    ATTRIBUTION, ATTRIBUTION_DATE_ADDRESS, ATTRIBUTION_RUN_ON, ATTRIBUTION_START, DATE_FIRST, FORWARD_SEPARATOR,
    FORWARDED, GROUPWISE, HEADER_DATE, HEADER_FROM, HEADER_INLINE_DATE, HEADER_NEXT, ORIGINAL_MESSAGE, REPLY_ABOVE,
    is_mobile_footer, short_key_before_colon,
};
use super::{has_quote_marker, is_blank, is_marker_only, is_quoted, is_rule, without_markers};

/// How many lines an attribution may be wrapped over.
pub(super) const MAX_ATTRIBUTION_LINES: usize = 5;

/// What kind of history a marker introduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// "On … wrote:" or a quote container: usually quoted lines follow.
    Attribution,
    /// A header block, separator or footer: the old message follows without quote marks.
    Unquoted,
    /// A forwarded message.
    Forward,
}

/// Where the history starts: its first line, the last line of its marker, and its kind.
#[derive(Debug, Clone, Copy)]
pub(super) struct Marker {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) kind: Kind,
}

/// Whether the line may be part of an attribution wrapped over several lines, quoted as
/// `quoted` says (Apple Mail quotes the whole attribution on iOS).
pub(super) fn is_piece(line: &str, quoted: bool) -> bool {
    !is_blank(unquoted(line)) && is_quoted(line) == quoted && line.len() < 200
}

/// The line without one level of quoting.
fn unquoted(line: &str) -> &str {
    let t = line.trim_start();
    t.strip_prefix('>').map_or(line, |rest| rest.strip_prefix(' ').unwrap_or(rest))
}

/// Joins the pieces of a wrapped attribution: without a space where the address was
/// broken ("Ann <" + "ann@x.org>", "<ann@" + "x.org>").
pub(super) fn join_piece(joined: &str, next: &str) -> String {
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
    // Both header patterns need a short key before a colon: one test for the two.
    if !short_key_before_colon(first) || !is_header(first) {
        return false;
    }
    // A form the person filled in ("From: Berlin", "To: Munich", "Date: 12 March",
    // "Budget: 400 EUR") has other fields around the header-like ones.
    let is_other_field = |l: Option<&&str>| l.is_some_and(|l| is_field(l) && !is_header(l));
    let window = &lines[at..(at + 6).min(lines.len())];
    if window.iter().any(|l| HEADER_FROM.is_match(l)) && window.iter().filter(|l| is_header(l)).count() >= 3 {
        let last = window.iter().rposition(|l| is_header(l)).unwrap_or(0);
        return !is_other_field(at.checked_sub(1).and_then(|p| lines.get(p)))
            && !is_other_field(lines.get(at + last + 1));
    }
    // Two lines are a block only with a date among them ("From: a@x.example" and "To:
    // b@x.example" alone may be what a person asks for), standing apart: not in the middle
    // of other "key: value" lines, as a form the person filled in has them.
    let Some(second) = lines.get(at + 1).filter(|l| is_header(l)) else { return false };
    let apart = |l: Option<&&str>| l.is_none_or(|l| is_blank(l) || is_rule(l) || is_marker_only(l));
    [first, second].iter().any(|l| HEADER_DATE.is_match(l) && l.chars().any(|c| c.is_ascii_digit()))
        && apart(at.checked_sub(1).and_then(|p| lines.get(p)))
        && apart(lines.get(at + 2))
}

/// Whether the line is a "key: value" field of a form: a key of one to three words of
/// letters that is no mail header name ("Message-ID", "Received" … stand in the headers a
/// bounce returns).
fn is_field(line: &str) -> bool {
    const MAIL_HEADERS: &[&str] = &["received", "references", "sender", "organization", "priority", "precedence"];
    let Some((key, value)) = line.split_once([':', '：']) else { return false };
    let key = key.trim().trim_matches('*').trim();
    let words = key.split_whitespace().count();
    let mail_header = key.is_ascii()
        && !key.contains(' ')
        && (key.contains('-') || MAIL_HEADERS.contains(&key.to_ascii_lowercase().as_str()));
    (1..=3).contains(&words)
        && key.chars().count() <= 24
        && key.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '.'))
        && !value.trim().is_empty()
        && !mail_header
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
        let l = without_markers(l);
        FORWARD_SEPARATOR.is_match(&l) || FORWARDED.is_match(&l)
    })
}

/// Where the quoted history starts, if anywhere.
pub(super) fn history_start(lines: &[&str]) -> Option<Marker> {
    let at = |start: usize, kind: Kind| Some(Marker { start, end: start, kind });
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            // No marker is blank (the markers of converted HTML are not white space).
            continue;
        }
        if has_quote_marker(line) {
            let kind = if forward_near(lines, i) { Kind::Forward } else { Kind::Attribution };
            return at(i, kind);
        }
        if FORWARD_SEPARATOR.is_match(line) || FORWARDED.is_match(line) {
            return at(i, Kind::Forward);
        }
        if ORIGINAL_MESSAGE.is_match(line) || GROUPWISE.is_match(line) || REPLY_ABOVE.is_match(line) {
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
