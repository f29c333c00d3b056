//! What of a mail is new once its history is found: the text above the history (top
//! posting), the text below a leading quote (bottom posting), everything (answers between
//! quoted lines), or the text above with a sign-off below the quote.

use super::history::{Kind, MAX_ATTRIBUTION_LINES, Marker, is_piece, join_piece};
use super::patterns::{ATTRIBUTION, CLOSING, DATE_FIRST, DATE_START, FOOTNOTE, is_mobile_footer};
use super::{has_quote_marker, is_blank, is_marker_only, is_quoted, is_rule, is_signature_delimiter, signature};

/// Where the new text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
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

/// Which lines are quoted: those with `>`, and a short line without it between two quoted
/// lines when the line above was long and broke off mid-sentence (a client re-wrapped
/// `> long line` and the tail lost its mark).
pub(super) fn quoting(lines: &[&str]) -> Vec<bool> {
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
        && !has_quote_marker(line)
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
    let signature = (last + 1..lines.len()).find(|&i| is_signature_delimiter(lines[i])).unwrap_or(lines.len());
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
    // The joined attribution ends as its last line does: one that does not end as an
    // attribution does needs no date pattern (nor its compiling) to be refused.
    if !lines[last].trim_end().ends_with(['>', ':', ')', ']']) {
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
pub(super) fn layout(lines: &[&str], quoted: &[bool], marker: Option<Marker>) -> Layout {
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
    let first = if has_quote_marker(lines[marker.start]) { marker.start } else { marker.end + 1 };
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
