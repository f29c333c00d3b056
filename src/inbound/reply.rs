//! Reply stripping: the new text of a message, without the quoted history below it and
//! without the signature. When unsure, keep more: an answer written between quoted lines
//! (an inline answer) is never cut. The complete text always stays available elsewhere.

use std::sync::LazyLock;

use regex::Regex;

/// A line that introduces quoted history ("On … wrote:" and its translations).
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(
            on\s.+\swrote\s?: |                          # en: Gmail, Apple Mail, Thunderbird
            .+\swrote\s?: |                              # en: 'Support wrote:'
            am\s.+\s(schrieb|geschrieben)\s?.*: |        # de
            .+\sschrieb\s?: |                            # de: 'Support schrieb:'
            le\s.+\sa\sécrit\s?: |                       # fr
            el\s.+\sescribió\s?: |                       # es
            il\s.+\sha\sscritto\s?: |                    # it
            op\s.+\sschreef\s.*: |                       # nl
            em\s.+\sescreveu\s?: |                       # pt
            .+\sskrev\s?.*: |                            # sv, da, no
            w\sdniu\s.+\snapisał(a|\(a\))?\s?: |         # pl
            .+\s(пишет|написал(а)?)\s?: |                # ru
            .+(のメッセージ|wrote)\s*[:：] |             # ja
            .+写道\s*[:：]                                # zh
        )\s*$",
    )
    .expect("valid pattern")
});

/// "-----Original Message-----" and its translations.
static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|message d'origine|message original|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original|originalmeddelande|ursprungligt meddelande|wiadomość oryginalna|исходное сообщение)\s*-{2,}\s*$",
    )
    .expect("valid pattern")
});

/// The first line of an Outlook header block: "From: …" in several languages.
static HEADER_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*?(from|von|de|da|van|från|od|от|发件人|差出人)\s*\*?\s*[:：]\s*\S").expect("valid pattern")
});

/// A later line of an Outlook header block: "Sent:", "Date:", "To:", "Subject:" …
static HEADER_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*\*?(sent|date|to|subject|gesendet|datum|an|betreff|envoyé|date|à|objet|enviado|fecha|para|asunto|inviato|data|a|oggetto|verzonden|aan|onderwerp|skickat|till|ämne|wysłano|do|temat|отправлено|кому|тема|发送时间|收件人|主题|送信日時|宛先|件名)\s*\*?\s*[:：]",
    )
    .expect("valid pattern")
});

/// Footers mobile clients add below the new text.
static MOBILE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(sent from my \S.*|sent from (outlook|yahoo mail|mail) for \S.*|get outlook for \S.*|von meinem \S.* gesendet|gesendet von meinem \S.*|envoyé de mon \S.*|enviado desde mi \S.*|inviato da(l mio)? \S.*|verzonden vanaf mijn \S.*|enviado do meu \S.*|skickat från min \S.*|wysłane z mojego \S.*|отправлено с моего \S.*)\s*$",
    )
    .expect("valid pattern")
});

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Where the quoted history starts: the index of its first line, if any.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        let joined_two = lines.get(i + 1).map(|next| format!("{} {}", line.trim(), next.trim()));
        if ATTRIBUTION.is_match(line) || ORIGINAL_MESSAGE.is_match(line) {
            return Some(i);
        }
        // "On Mon, 23 Nov 2026 at 10:02, Support <support@…>" / "wrote:" wrapped over two lines.
        if line.trim_start().to_lowercase().starts_with("on ")
            && joined_two.as_deref().is_some_and(|j| ATTRIBUTION.is_match(j))
        {
            return Some(i);
        }
        let underline = line.trim().len() >= 8 && line.trim().chars().all(|c| c == '_' || c == '-');
        let from_at = if underline { i + 1 } else { i };
        if lines.get(from_at).is_some_and(|l| HEADER_FROM.is_match(l)) {
            let next = lines[from_at + 1..].iter().take(4).filter(|l| HEADER_NEXT.is_match(l)).count();
            if next >= 2 {
                return Some(i);
            }
        }
    }
    None
}

/// Whether new text is written between quoted lines after `start`: a line that is neither
/// quoted, blank nor a signature follows a quoted line.
fn has_inline_answers(lines: &[&str]) -> bool {
    let mut seen_quote = false;
    for line in lines {
        if is_quoted(line) {
            seen_quote = true;
        } else if seen_quote && !is_blank(line) {
            if line.trim_end() == "--" || line.starts_with("-- ") || MOBILE_FOOTER.is_match(line) {
                return false;
            }
            return true;
        }
    }
    false
}

/// The new text of `text`: quoted history and signature removed, inline answers kept.
pub fn visible_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();

    match history_start(&lines) {
        Some(start) if !has_inline_answers(&lines[start..]) => end = start,
        Some(_) => {}
        None => {
            // Plain `>` quoting with no attribution: drop a trailing quoted block only.
            let mut cut = end;
            while cut > 0 && (is_quoted(lines[cut - 1]) || is_blank(lines[cut - 1])) {
                cut -= 1;
            }
            if cut < end && lines[cut..end].iter().any(|l| is_quoted(l)) {
                end = cut;
            }
        }
    }

    // Signature: the last "-- " delimiter above the cut; mobile footers at the end.
    if let Some(sig) = lines[..end].iter().rposition(|l| *l == "-- " || *l == "--") {
        end = sig;
    }
    while end > 0 && (is_blank(lines[end - 1]) || MOBILE_FOOTER.is_match(lines[end - 1])) {
        end -= 1;
    }

    let reply = lines[..end].join("\n").trim_matches('\n').to_string();
    if reply.trim().is_empty() { text.trim().to_string() } else { reply }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_style_history_is_cut() {
        let t = "Thanks, that fixed it.\n\nOn Mon, 23 Nov 2026 at 10:02, Support <support@x.example> wrote:\n> Please restart.\n> Bye\n";
        assert_eq!(visible_reply(t), "Thanks, that fixed it.");
    }

    #[test]
    fn wrapped_attribution_is_recognised() {
        let t = "Yes.\n\nOn Mon, 23 Nov 2026 at 10:02, Support Team <support@x.example>\nwrote:\n> old\n";
        assert_eq!(visible_reply(t), "Yes.");
    }

    #[test]
    fn outlook_header_block_is_cut() {
        let t = "It still fails.\n\n________________________________\nFrom: Support <support@x.example>\nSent: Monday, November 23, 2026 10:02\nTo: Jane\nSubject: [Support #3] Printer\n\nPlease restart.\n";
        assert_eq!(visible_reply(t), "It still fails.");
        let t = "Ok.\n\n-----Original Message-----\nFrom: Support\nPlease restart.\n";
        assert_eq!(visible_reply(t), "Ok.");
    }

    #[test]
    fn inline_answers_are_kept_whole() {
        let t = "See below.\n\nOn Mon, 23 Nov 2026, Support wrote:\n> What model is it?\nAn HP 4000.\n> Which floor?\nThe third.\n";
        assert_eq!(visible_reply(t), t.trim());
    }

    #[test]
    fn signature_and_mobile_footer_are_removed() {
        assert_eq!(visible_reply("Hello\n\n-- \nJane Doe\nACME\n"), "Hello");
        assert_eq!(visible_reply("Works now\n\nSent from my iPhone\n"), "Works now");
        assert_eq!(
            visible_reply("Danke!\n\nAm 23.11.2026 um 10:02 schrieb Support <s@x.example>:\n> Hallo\n"),
            "Danke!"
        );
    }

    #[test]
    fn all_quote_keeps_everything() {
        assert_eq!(visible_reply("> only a quote\n"), "> only a quote");
    }
}
