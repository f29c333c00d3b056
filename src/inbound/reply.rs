//! Reply stripping: the new text of a message, without the quoted history below it and
//! without the signature. When unsure, keep more: an answer written between quoted lines
//! (an inline answer) is never cut. The complete text always stays available elsewhere.
//!
//! History starts at the first of: an attribution line ("On … wrote:" in many languages,
//! also wrapped over two lines), an "Original Message" separator, an Outlook-style header
//! block ("From:/Sent:/To:/Subject:" in many languages, with or without a separator line
//! above it), a quote container marked in HTML-only mail, or a trailing `>` block.

use std::sync::LazyLock;

use regex::Regex;

use super::html::QUOTE_MARKER;

/// A pattern behind a cheap test that every text it matches passes. Most lines of most
/// mails fail the test, so the regex is then neither run nor even compiled — and compiling
/// these multilingual patterns is most of the work of a short-lived `maildesk ingest`.
struct Guarded {
    may_match: fn(&str) -> bool,
    regex: LazyLock<Regex>,
}

impl Guarded {
    const fn new(may_match: fn(&str) -> bool, build: fn() -> Regex) -> Guarded {
        Guarded { may_match, regex: LazyLock::new(build) }
    }

    fn is_match(&self, text: &str) -> bool {
        (self.may_match)(text) && self.regex.is_match(text)
    }
}

/// Whether the line ends with a colon (ASCII or full-width), before trailing space.
fn ends_with_colon(line: &str) -> bool {
    line.trim_end().ends_with([':', '：'])
}

/// Whether the line reads like a mail header: a short key (at most 16 characters, after
/// quote marks and bold stars) before its first colon (ASCII or full-width).
fn short_key_before_colon(line: &str) -> bool {
    let Some(colon) = line.find([':', '：']) else { return false };
    let key = line[..colon].trim_start().trim_start_matches('>').trim_start().trim_start_matches('*');
    key.trim_end().trim_end_matches('*').trim_end().chars().count() <= 16
}

/// Whether `text` contains `word` (ASCII), ignoring ASCII case.
fn contains_ascii_nocase(text: &str, word: &str) -> bool {
    text.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// Whether the line may be a mobile footer: it starts with one of the footers' first words
/// or holds one of the words of the CJK ones.
fn may_be_mobile_footer(line: &str) -> bool {
    const FIRST_WORDS: &[&str] = &[
        "sent",
        "get",
        "von",
        "gesendet",
        "mit",
        "envoy",
        "enviado",
        "inviato",
        "verzonden",
        "verstuurd",
        "skickat",
        "sendt",
        "lähetetty",
        "wysłane",
        "odesláno",
        "отправлено",
        "надіслано",
    ];
    const WITHIN: &[&str] = &["から送信", "发自我的", "從我的", "从我的", "보냄"];
    let start: String = line.trim_start().trim_start_matches('[').trim_start().chars().take(12).collect();
    let start = start.to_lowercase();
    FIRST_WORDS.iter().any(|w| start.starts_with(w)) || WITHIN.iter().any(|w| line.contains(w))
}

/// A line that introduces quoted history: "On … wrote:" and its translations.
static ATTRIBUTION: Guarded = Guarded::new(ends_with_colon, || {
    Regex::new(
        r"(?ix)^\s*>?\s*(
            on\s.+\swrote\s?: |                                  # en
            quoting\s.+: |                                       # Horde
            .*\d{4}.*\sby\s\S+@\S+\s*: |                         # Tuta: 'Nov 26, 2026, 10:02 by x@y:' 
            zitat\svon\s.+: |                                    # Horde (de)
            .+\swrote\s?: |                                      # en: 'Support wrote:'
            am\s.+\s(schrieb|geschrieben)\b.*: |                 # de
            .+\sschrieb\s?.*: |                                  # de: 'Support schrieb:'
            le\s.+\sa\s[ée]crit\s?: |                            # fr
            .+\sa\s[ée]crit\s?: |                                # fr
            el\s.+\sescribi[óo]\s?: |                            # es
            .+\sescribi[óo]\s?: |                                # es
            il\s.+\sha\sscritto\s?: |                            # it
            .+\sha\sscritto\s?: |                                # it
            op\s.+\sschreef\s.*: |                               # nl
            .+\sschreef\s?.*: |                                  # nl
            em\s.+\sescreveu\s?: |                               # pt
            .+\sescreveu\b.*: |                                  # pt
            .+\sskrev\b.*: |                                     # sv, da, nb
            .+\skirjoitti\b.*: |                                 # fi
            w\sdniu\s.+\snapisa[łl](a|\(a\))?\s?: |              # pl
            .+\snapisa[łl](a|\(a\))?\s?: |                       # pl
            dne\s.+\snapsal(a|\(a\))?\s?: |                      # cs
            .+\snapsal(a|\(a\))?\s?: |                           # cs, sk
            .+\s(пишет|написал(а)?|написав|пише)\s?: |           # ru, uk
            .+\s(έγραψε|écrivait)\s?: |                          # el
            .+\s(tarihinde\s)?şunu\syazdı\s?: |                  # tr
            .+\sírta\b.*: |                                      # hu
            .+\sa\sscris\s?: |                                   # ro
            .+님이\s?작성\s?: |                                   # ko
            .+(写道|寫道)\s*[:：] |                               # zh
            .+のメッセージ\s*[:：] |                              # ja (Outlook)
            \d{4}年\d{1,2}月\d{1,2}日.*<[^<>@\s]+@[^<>\s]+>\s*[:：]    # ja (Gmail, Apple)
        )\s*$",
    )
    .expect("valid pattern")
});

/// "On … wrote:" with the first quoted words on the same line (Yahoo on Android).
static ATTRIBUTION_RUN_ON: Guarded = Guarded::new(
    |l| contains_ascii_nocase(l, "wrote"),
    || Regex::new(r"(?i)^\s*on\s.{5,200}?\swrote\s?:\s").expect("valid pattern"),
);

/// The first line of an attribution that goes on on the next line: "On <date>".
static ATTRIBUTION_START: Guarded = Guarded::new(
    |l| {
        let first = l.split_whitespace().next().unwrap_or_default().to_lowercase();
        ["on", "am", "le", "el", "il", "op", "em", "den", "dne", "w"].contains(&first.as_str())
            && l.chars().any(char::is_numeric)
    },
    || Regex::new(r"(?i)^\s*(on|am|le|el|il|op|em|den|dne|w\sdniu)\s.*\d").expect("valid pattern"),
);

/// A link footnote html2text writes at the end: "[3]: https://…".
static FOOTNOTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[(\d+)\]:\s\S").expect("valid pattern"));

/// Russian Gmail: "пн, 23 нояб. 2026 г. в 10:02, Support <support@…>:" — a date, a name
/// and an address, then a colon.
static ATTRIBUTION_DATE_ADDRESS: Guarded = Guarded::new(
    |l| l.contains('@') && ends_with_colon(l),
    || Regex::new(r"(?i)^\s*>?\s*\S.{0,80}\d{4}.{0,40}<[^<>@\s]+@[^<>\s]+>\s*[:：]\s*$").expect("valid pattern"),
);

/// "-----Original Message-----" and its translations, also forwarded-message separators.
static ORIGINAL_MESSAGE: Guarded = Guarded::new(
    |l| l.contains("--"),
    || {
        Regex::new(
            r"(?ix)^\s*-{2,}(\s|&nbsp;)*(
            original\smessage | forwarded\smessage | ursprüngliche\snachricht | weitergeleitete\snachricht |
            original\snachricht | message\sd'origine | message\soriginal | message\stransféré |
            mensaje\soriginal | mensaje\sreenviado | messaggio\soriginale | messaggio\sinoltrato |
            oorspronkelijk\sbericht | doorgestuurd\sbericht | mensagem\soriginal | mensagem\sencaminhada |
            originalmeddelande | ursprungligt\smeddelande | vidarebefordrat\smeddelande | oprindelig\smeddelelse |
            opprinnelig\smelding | alkuperäinen\sviesti | wiadomość\soryginalna | oryginalna\swiadomość |
            původní\szpráva | исходное\sсообщение | пересылаемое\sсообщение | оригинальное\sсообщение |
            αρχικό\sμήνυμα | orijinal\sileti | eredeti\süzenet | mesaj\soriginal |
            原始邮件 | 原始郵件 | 元のメッセージ | 원본\s메시지
        )(\s|&nbsp;)*-{2,}\s*$",
        )
        .expect("valid pattern")
    },
);

/// Apple Mail's forward line and its translations.
static FORWARDED: Guarded = Guarded::new(ends_with_colon, || {
    Regex::new(
        r"(?i)^\s*(begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht|início da mensagem reencaminhada|vidarebefordrat brev|początek przekazywanej wiadomości|начало переадресованного сообщения|転送されたメッセージ)\s*[:：]\s*$",
    )
    .expect("valid pattern")
});

/// The first line of an Outlook header block: "From: …" in several languages.
static HEADER_FROM: Guarded = Guarded::new(short_key_before_colon, || {
    Regex::new(
        r"(?i)^\s*>?\s*\*?(from|von|de|da|van|från|fra|od|от|lähettäjä|kimden|feladó|από|발신|보낸\s?사람|发件人|寄件者|差出人)\s*\*?\s*[:：]\s*\S",
    )
    .expect("valid pattern")
});

/// A later line of an Outlook header block: "Sent:", "Date:", "To:", "Subject:" …
static HEADER_NEXT: Guarded = Guarded::new(short_key_before_colon, || {
    Regex::new(
        r"(?ix)^\s*>?\s*\*?(
            sent|date|to|cc|subject|
            gesendet|datum|an|betreff|
            envoyé|date|à|objet|
            enviado|fecha|para|asunto|enviada|assunto|data|
            inviato|a|oggetto|
            verzonden|aan|onderwerp|
            skickat|till|ämne|sendt|til|emne|
            wysłano|do|temat|data|
            odesláno|komu|předmět|
            отправлено|дата|кому|тема|
            lähetetty|vastaanottaja|aihe|
            gönderildi|tarih|kime|konu|
            elküldve|címzett|tárgy|
            στάλθηκε|προς|θέμα|
            发送时间|日期|收件人|主题|寄件日期|收件者|主旨|
            送信日時|宛先|件名|
            보낸\s?날짜|받는\s?사람|제목
        )\s*\*?\s*[:：]",
    )
    .expect("valid pattern")
});

/// Footers mobile clients add below the new text.
static MOBILE_FOOTER: Guarded = Guarded::new(may_be_mobile_footer, || {
    Regex::new(
        r"(?ix)^\s*(
            \[?\s*sent\s(from|with|via|using)\s.{1,60}?\]? | get\soutlook\sfor\s\S.* |
            von\smeinem\s\S.*\sgesendet | gesendet\svon\s(meinem\s)?\S.* | mit\s\S.*\sgesendet |
            envoyé\sde\smon\s\S.* | envoyé\sdepuis\s\S.* |
            enviado\sdesde\smi\s\S.* | enviado\sdo\smeu\s\S.* | enviado\sdo\s\S.* |
            inviato\sda\s\S.* |
            verzonden\svanaf\smijn\s\S.* | verstuurd\svanaf\smijn\s\S.* |
            skickat\sfrån\smin\s\S.* | sendt\sfra\smin\s\S.* | lähetetty\s\S.* |
            wysłane\sz\s\S.* | odesláno\sz\s\S.* |
            отправлено\sс\s\S.* | надіслано\sз\s\S.* |
            \S*から送信 | 发自我的\S* | 從我的\s?\S*傳送 | 从我的\s?\S*发送 | 내\s\S*에서\s보냄
        )\s*$",
    )
    .expect("valid pattern")
});

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A line that only separates: dashes, underscores, box-drawing rules.
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.chars().count() >= 5 && t.chars().all(|c| matches!(c, '-' | '_' | '=' | '─' | '━' | '—' | '*'))
}

fn is_signature_delimiter(line: &str) -> bool {
    line == "-- " || line == "--" || line == "-- \u{a0}"
}

/// Where the quoted history starts: the index of its first line, if any.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        if ATTRIBUTION.is_match(line) || ATTRIBUTION_RUN_ON.is_match(line) {
            // "On Wed, 25 Nov 2026 10:02 +0000" / "Support <…> wrote:" — start at the date.
            let previous = i.checked_sub(1).map(|p| lines[p]);
            let starts_above = previous.is_some_and(|p| {
                !is_quoted(p)
                    && !is_blank(p)
                    && (ATTRIBUTION_START.is_match(p) || p.contains('@'))
                    && ATTRIBUTION.is_match(&format!("{} {}", p.trim(), line.trim()))
            });
            return Some(if starts_above { i - 1 } else { i });
        }
        if line.contains(QUOTE_MARKER) || ORIGINAL_MESSAGE.is_match(line) || FORWARDED.is_match(line) {
            return Some(i);
        }
        if ATTRIBUTION_DATE_ADDRESS.is_match(line) && lines[i + 1..].iter().take(3).any(|l| is_quoted(l)) {
            return Some(i);
        }
        if wrapped_attribution(&lines[i..]) {
            return Some(i);
        }
        let block_at = if is_rule(line) { i + 1 } else { i };
        if header_block_at(lines, block_at) {
            return Some(i);
        }
    }
    None
}

/// Whether an Outlook-style header block starts at `at`: a header line, and within six
/// lines at least three header lines of which one names the sender ("From:", "Von:" …).
/// Clients differ in the order ("Gesendet:" first at GMX).
fn header_block_at(lines: &[&str], at: usize) -> bool {
    let is_header = |l: &str| HEADER_FROM.is_match(l) || HEADER_NEXT.is_match(l);
    let Some(first) = lines.get(at) else { return false };
    if !is_header(first) {
        return false;
    }
    let window = &lines[at..(at + 6).min(lines.len())];
    window.iter().any(|l| HEADER_FROM.is_match(l)) && window.iter().filter(|l| is_header(l)).count() >= 3
}

/// Whether `lines` start with an attribution wrapped over two or three lines: together they
/// match, while the later lines alone do not (they would be found on their own).
fn wrapped_attribution(lines: &[&str]) -> bool {
    let part = |k: usize| lines.get(k).filter(|l| !is_blank(l) && !is_quoted(l) && l.len() < 200);
    let (Some(first), Some(second)) = (part(0), part(1)) else { return false };
    if ATTRIBUTION.is_match(second) {
        return false;
    }
    let two = format!("{} {}", first.trim(), second.trim());
    if ATTRIBUTION.is_match(&two) {
        return true;
    }
    let Some(third) = part(2) else { return false };
    let tail = format!("{} {}", second.trim(), third.trim());
    !ATTRIBUTION.is_match(third)
        && !ATTRIBUTION.is_match(&tail)
        && ATTRIBUTION.is_match(&format!("{two} {}", third.trim()))
}

/// Whether new text is written between quoted lines: a line that is neither quoted, blank,
/// a marker nor a signature follows a quoted line.
fn has_inline_answers(lines: &[&str]) -> bool {
    let mut seen_quote = false;
    for line in lines {
        if is_quoted(line) {
            seen_quote = true;
        } else if seen_quote && !is_blank(line) && !line.contains(QUOTE_MARKER) && !FOOTNOTE.is_match(line) {
            return !(is_signature_delimiter(line) || MOBILE_FOOTER.is_match(line));
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
            let trailing = |l: &str| is_quoted(l) || is_blank(l) || FOOTNOTE.is_match(l);
            while cut > 0 && trailing(lines[cut - 1]) {
                cut -= 1;
            }
            if cut < end && lines[cut..end].iter().any(|l| is_quoted(l)) {
                end = cut;
            }
        }
    }

    // Signature: the last "-- " delimiter above the cut; mobile footers and separator
    // rules at the end.
    if let Some(sig) = lines[..end].iter().rposition(|l| is_signature_delimiter(l)) {
        end = sig;
    }
    while end > 0 && (is_blank(lines[end - 1]) || is_rule(lines[end - 1]) || MOBILE_FOOTER.is_match(lines[end - 1])) {
        end -= 1;
    }

    let mut kept: Vec<String> = lines[..end].iter().map(|l| l.replace(QUOTE_MARKER, "")).collect();
    // Link footnotes of converted HTML stand after the history: bring back those the
    // kept text refers to.
    let footnotes: Vec<&str> = lines[end..]
        .iter()
        .filter(|l| FOOTNOTE.captures(l).is_some_and(|c| kept.iter().any(|k| k.contains(&format!("[{}]", &c[1])))))
        .copied()
        .collect();
    if !footnotes.is_empty() {
        kept.push(String::new());
        kept.extend(footnotes.iter().map(|f| f.to_string()));
    }
    let reply = kept.join("\n").trim().to_string();
    if reply.is_empty() { text.replace(QUOTE_MARKER, "").trim().to_string() } else { reply }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            lines.push(known.to_string());
        }
        let guarded: [(&str, &Guarded); 9] = [
            ("ATTRIBUTION", &ATTRIBUTION),
            ("ATTRIBUTION_RUN_ON", &ATTRIBUTION_RUN_ON),
            ("ATTRIBUTION_START", &ATTRIBUTION_START),
            ("ATTRIBUTION_DATE_ADDRESS", &ATTRIBUTION_DATE_ADDRESS),
            ("ORIGINAL_MESSAGE", &ORIGINAL_MESSAGE),
            ("FORWARDED", &FORWARDED),
            ("HEADER_FROM", &HEADER_FROM),
            ("HEADER_NEXT", &HEADER_NEXT),
            ("MOBILE_FOOTER", &MOBILE_FOOTER),
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
        assert_eq!(visible_reply(t), "Thanks, that fixed it.");
    }

    #[test]
    fn wrapped_attribution_is_recognised() {
        let t = "Yes.\n\nOn Mon, 23 Nov 2026 at 10:02, Support Team <support@x.example>\nwrote:\n> old\n";
        assert_eq!(visible_reply(t), "Yes.");
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
            assert_eq!(visible_reply(&t), "New text.", "missed: {attribution}");
        }
    }

    #[test]
    fn outlook_header_blocks_are_cut() {
        let t = "It still fails.\n\n________________________________\nFrom: Support <support@x.example>\nSent: Monday, November 23, 2026 10:02\nTo: Jane\nSubject: [Support #3] Printer\n\nPlease restart.\n";
        assert_eq!(visible_reply(t), "It still fails.");
        let t = "Ok.\n\n-----Original Message-----\nFrom: Support\nPlease restart.\n";
        assert_eq!(visible_reply(t), "Ok.");
        let t = "Geht wieder.\n\nVon: Support <s@x.example>\nGesendet: Montag, 23. November 2026 10:02\nAn: Jana\nBetreff: AW: Drucker\n\nalt\n";
        assert_eq!(visible_reply(t), "Geht wieder.");
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
        assert_eq!(visible_reply("Danke!\n\nVon meinem iPhone gesendet\n"), "Danke!");
        assert_eq!(
            visible_reply("Danke!\n\nAm 23.11.2026 um 10:02 schrieb Support <s@x.example>:\n> Hallo\n"),
            "Danke!"
        );
    }

    #[test]
    fn marked_quote_containers_cut_and_markers_never_show() {
        let t = format!("New words\n\n{QUOTE_MARKER}On Mon X wrote:\n> old\n");
        assert_eq!(visible_reply(&t), "New words");
        let inline = format!("Intro\n{QUOTE_MARKER}> q1\nanswer 1\n> q2\nanswer 2\n");
        let kept = visible_reply(&inline);
        assert!(kept.contains("answer 2") && !kept.contains(QUOTE_MARKER), "{kept}");
    }

    #[test]
    fn all_quote_keeps_everything() {
        assert_eq!(visible_reply("> only a quote\n"), "> only a quote");
    }
}
