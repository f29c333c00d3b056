//! Signatures written without the `-- ` delimiter: a closing the person typed ("Regards,",
//! "Mit freundlichen Grüßen" …) and their name are kept; the contact block their client
//! adds below the name (title, company, phones, addresses, links, a confidentiality notice)
//! is not new text. Only cut when the block shows contact details: when unsure, keep more.

use std::sync::LazyLock;

use regex::Regex;

use super::patterns::{CLOSING, FOOTNOTE, contains_ascii_nocase};

/// How far above the end a closing is looked for.
const WINDOW: usize = 30;

/// At most this many lines below the name that are not part of a legal notice.
const MAX_CONTACT_LINES: usize = 12;

/// Phone numbers, links, addresses: what shows a contact block.
static CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \+\d | (?-u:\b)(tel|phone|mobile|mob|cell|fax|handy|tél|tlf|telefon|téléphone|teléfono|mobil|móvil|cellulare)(?-u:\b)\.?\s*[:.]?\s*[+(]?\d |
        (?-u:\b)[tmfp]\s?[:.]\s*[+(]?\d | \(\d{2,5}\)\s?\d | (?-u:\b)0\d{1,4}[\s/-]\d{3,} | (?-u:\b)\d{3}[\s.-]\d{3}[\s.-]\d{4}(?-u:\b) |
        https?:// | (?-u:\b)www\.\S | \S@\S+\.\S |
        (?-u:\b)\d{4,5}\s\p{Lu}\p{Ll} | \d+\s+\p{L}+\s(street|st\.|road|rd\.|avenue|ave\.?|lane|straße|str\.|strasse|weg|gasse|rue|calle|laan|vej|gatan|gate)(?-u:\b) |
        (?-u:\b)\p{L}+(straße|strasse|str\.|weg|gasse|gatan|vej|laan)\s\d",
    )
    .expect("valid pattern")
});

/// Words of confidentiality notices, in several languages.
const NOTICE_WORDS: &[&str] = &[
    "confidential",
    "intended recipient",
    "disclaimer",
    "privileged",
    "received this",
    "vertraulich",
    "confidentiel",
    "confidencial",
    "riservat",
    "vertrouwelijk",
    "fortrolig",
    "konfidentiell",
];

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_notice(paragraph: &[&str]) -> bool {
    paragraph.iter().any(|l| l.len() <= 2_000 && NOTICE_WORDS.iter().any(|w| contains_ascii_nocase(l, w)))
}

/// Whether `lines` hold nothing but confidentiality notices (a server adds them below
/// everything, the quote included): at most three paragraphs of them.
pub(super) fn is_only_notices(lines: &[&str]) -> bool {
    let paragraphs: Vec<&[&str]> = lines.split(|l| is_blank(l)).filter(|p| !p.is_empty()).collect();
    !paragraphs.is_empty() && paragraphs.len() <= 3 && paragraphs.iter().all(|p| p.len() <= 15 && is_notice(p))
}

/// Whether the line is a name as people sign: one to four words of letters, no digits,
/// no sentence punctuation at its end.
fn is_name(line: &str) -> bool {
    let name = line.trim().trim_start_matches(['-', '–', '—', '~']).trim();
    let words = name.split_whitespace().count();
    (1..=4).contains(&words)
        && name.chars().count() <= 40
        && name.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '.' | '\'' | '-' | '’'))
        && !name.ends_with(['.', '?', '!', ':', ','])
}

/// Whether `block` (the lines below the name, to the end) is a contact block: a few short
/// lines and perhaps a legal notice, with contact details among them.
fn is_contact_block(block: &[&str]) -> bool {
    let long_or_quoted = |l: &&str| l.len() > 2_000 || l.trim_start().starts_with('>');
    if block.iter().all(|l| is_blank(l)) || block.iter().any(long_or_quoted) {
        return false;
    }
    let (mut short_lines, mut evidence) = (0, false);
    for paragraph in block.split(|l| is_blank(l)).filter(|p| !p.is_empty()) {
        if is_notice(paragraph) {
            evidence = true;
            continue;
        }
        for line in paragraph.iter().filter(|l| !FOOTNOTE.is_match(l)) {
            let prose = line.split_whitespace().count() > 6 && line.trim_end().ends_with(['.', '?', '!']);
            if prose || line.chars().count() > 80 {
                return false;
            }
            short_lines += 1;
            evidence |= CONTACT.is_match(line);
        }
    }
    evidence && short_lines <= MAX_CONTACT_LINES
}

/// Where the contact block below a typed closing and name starts in `lines` (the new text,
/// ending at its last line), if there is one.
pub(super) fn contact_block_start(lines: &[&str]) -> Option<usize> {
    let from = lines.len().saturating_sub(WINDOW);
    for closing in (from..lines.len()).rev() {
        let line = lines[closing];
        if !CLOSING.is_match(line) {
            continue;
        }
        // A plain closing has no name after it (and needs no pattern to say so).
        let named =
            !(CLOSING.sure_match)(line) && CLOSING.regex.captures(line).is_some_and(|c| c.name("name").is_some());
        let name = if named {
            Some(closing)
        } else {
            let next = (closing + 1..lines.len().min(closing + 3)).find(|&i| !is_blank(lines[i]));
            next.filter(|&i| is_name(lines[i]))
        };
        if let Some(name) = name
            && is_contact_block(&lines[name + 1..])
        {
            return Some(name + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str) -> Option<usize> {
        contact_block_start(&text.lines().collect::<Vec<_>>())
    }

    #[test]
    fn the_block_below_closing_and_name_is_found() {
        let t =
            "It works.\n\nBest regards,\nAnn Lee\nSenior Engineer | ACME GmbH\nTel. +49 30 1234567\nwww.acme.example";
        assert_eq!(cut(t), Some(4));
        let t = "Danke!\n\nMit freundlichen Grüßen\n\nJana Weber\nMusterstraße 5\n10115 Berlin";
        assert_eq!(cut(t), Some(5));
        let t = "Ok.\n\nThanks, Priya\nPriya Raman | Operations\n+1 555 0100";
        assert_eq!(cut(t), Some(3));
    }

    #[test]
    fn without_contact_details_everything_stays() {
        assert_eq!(cut("It works.\n\nThanks,\nPriya"), None);
        assert_eq!(cut("It works.\n\nRegards,\nAnn\nTeam lead, Finance"), None);
        assert_eq!(
            cut("Regards,\nAnn\n\nPS: the printer on floor 3 is also broken since 2026-03-01, see photo."),
            None
        );
        assert_eq!(cut("Thanks,\nthe call at 10:30 is fine for me\n+1 555 0100"), None);
    }

    #[test]
    fn legal_notices_count_as_part_of_the_block() {
        let t = "Fine.\n\nCordialement,\nMarc Dubois\n\nCe message est confidentiel. Si vous l'avez reçu par erreur, merci de le détruire et d'en avertir l'expéditeur immédiatement.";
        assert_eq!(cut(t), Some(4));
    }
}
