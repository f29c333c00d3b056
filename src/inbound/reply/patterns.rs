//! The line patterns of reply stripping: attributions, separators, header blocks and
//! footers as mail clients write them in many languages. Each regex sits behind a cheap
//! guard; all matching is linear in the length of the line (the regex crate never
//! backtracks).

use std::sync::LazyLock;

use regex::Regex;

/// A pattern behind a cheap test that every text it matches passes. Most lines of most
/// mails fail the test, so the regex is then neither run nor even compiled — and compiling
/// these multilingual patterns is most of the work of a short-lived `maildesk ingest`.
pub(super) struct Guarded {
    pub(super) may_match: fn(&str) -> bool,
    /// Lines the pattern surely matches, told without compiling it (a test holds it to that).
    pub(super) sure_match: fn(&str) -> bool,
    pub(super) regex: LazyLock<Regex>,
}

impl Guarded {
    const fn new(may_match: fn(&str) -> bool, build: fn() -> Regex) -> Guarded {
        Guarded { may_match, sure_match: |_| false, regex: LazyLock::new(build) }
    }

    /// Whether the pattern matches `text` (after its guard let it through).
    pub(super) fn is_match(&self, text: &str) -> bool {
        (self.may_match)(text) && ((self.sure_match)(text) || self.regex.is_match(text))
    }
}

/// Whether the line ends with a colon (ASCII or full-width), before trailing space.
fn ends_with_colon(line: &str) -> bool {
    line.trim_end().trim_end_matches(is_bidi_mark).trim_end().ends_with([':', '：'])
}

/// Whether `c` is an invisible mark of text direction (Gmail wraps names and addresses in
/// them in Hebrew and Arabic).
pub(super) fn is_bidi_mark(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether the line reads like a mail header: a short key (at most 16 characters, after
/// quote marks and bold stars) before its first colon (ASCII or full-width).
pub(super) fn short_key_before_colon(line: &str) -> bool {
    // The first colon: an ASCII one by memchr, a full-width one only in non-ASCII text.
    let ascii = line.find(':');
    let wide = if line.is_ascii() { None } else { line.find('：') };
    let Some(colon) = ascii.into_iter().chain(wide).min() else { return false };
    if colon > 160 {
        return false;
    }
    let key = line[..colon].trim_start().trim_start_matches('>').trim_start().trim_start_matches('*');
    let key = key.trim_end().trim_end_matches('*').trim_end();
    // No header name has a digit: a time in running text ("between 10:00 and 16:00") is not one.
    key.chars().count() <= 16 && !key.bytes().any(|b| b.is_ascii_digit())
}

/// Whether `text` contains `word` (ASCII), ignoring ASCII case.
pub(super) fn contains_ascii_nocase(text: &str, word: &str) -> bool {
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
        "được gửi",
        "hent",
        "få",
        "skaffa",
        "obtener",
        "obtenir",
        "ottieni",
        "haal",
        "baixe",
        "pobierz",
        "outlook",
        "télécharger",
        "trimis",
        "poslano",
        "στάλθηκε",
    ];
    const WITHIN: &[&str] = &["から送信", "发自我的", "從我的", "从我的", "보냄", "gönderildi"];
    if line.len() > 400 {
        // A footer is a short line.
        return false;
    }
    let start = line.trim_start().trim_start_matches('[').trim_start();
    let Some(first) = start.chars().next().and_then(|c| c.to_lowercase().next()) else { return false };
    // Only the words with the line's first letter are compared, letter by letter.
    let starts =
        FIRST_WORDS.iter().filter(|w| w.chars().next().is_some_and(|c| c == first)).any(|w| match w.is_ascii() {
            true => start.as_bytes().get(..w.len()).is_some_and(|head| head.eq_ignore_ascii_case(w.as_bytes())),
            false => {
                let mut head = start.chars().flat_map(char::to_lowercase);
                w.chars().all(|c| head.next() == Some(c))
            }
        });
    let within = || !line.is_ascii() && WITHIN.iter().any(|w| line.contains(w));
    // The German ones that start "Von meinem …" or "Mit …" end "… gesendet".
    let german =
        start.get(..3).is_some_and(|head| head.eq_ignore_ascii_case("mit") || head.eq_ignore_ascii_case("von"));
    if starts && german && !contains_ascii_nocase(line, "gesendet") {
        return within();
    }
    starts || within()
}

/// A line that introduces quoted history: "On … wrote:" and its translations.
/// Words one of which every attribution of [`ATTRIBUTION`] holds: a search for them is far
/// cheaper than the pattern (and than compiling one), and most lines that end with a colon
/// have none. ASCII ones are found ignoring ASCII case ("yazd" stands for "yazdı", which
/// capitals turn into "YAZDI"), the others in the lower-cased line.
fn has_attribution_word(line: &str) -> bool {
    const ASCII: &[&str] = &[
        "wrote",
        "sent",
        "quoting",
        "@",
        "zitat",
        "schrieb",
        "crit",
        "crivait",
        "escribi",
        "scritto",
        "schreef",
        "geschreven",
        "escreveu",
        "skrev",
        "kirjoitti",
        "napisa",
        "pisze",
        "napsal",
        "yazd",
        "scris",
        "menulis",
        "kirjutas",
        "escribiu",
        "escriure",
    ];
    const OTHER: &[&str] = &[
        "כתב",
        "пише",
        "написа",
        "έγραψε",
        "írta",
        "viết",
        "เขียนว่า",
        "लिखा",
        "rašė",
        "rakstīja",
        "skrifaði",
        "كتب",
        "작성",
        "のメール",
        "写道",
        "寫道",
        "のメッセージ",
        "年",
    ];
    ASCII.iter().any(|w| contains_ascii_nocase(line, w))
        || !line.is_ascii() && {
            let lower = line.to_lowercase();
            OTHER.iter().any(|w| lower.contains(w))
        }
}

pub(super) static ATTRIBUTION: Guarded = Guarded::new(
    |l| ends_with_colon(l) && has_attribution_word(l),
    || {
        Regex::new(
            r"(?ix)^\s*>?\s*(
            on\s.+\swrote\s?: |                                  # en
            on\s.+\d.*\ssent\s?: |                               # en: 'On <date>, Ann <a@x> sent:'
            quoting\s.+: |                                       # Horde
            .*\d{4}.*\sby\s\S+@\S+\s*: |                         # Tuta: 'Nov 26, 2026, 10:02 by x@y:'
            zitat\svon\s.+: |                                    # Horde (de)
            .+\swrote\s?: |                                      # en: 'Support wrote:'
            .+\swrote\son\s.+\d.*: |                             # Lotus Notes: '… wrote on 03/03/2026 10:02:'
            am\s.+\s(schrieb|geschrieben)(?-u:\b).*: |                 # de
            .+\sschrieb\s?.*: |                                  # de: 'Support schrieb:'
            le\s.+\sa\s[ée]crit\s?: |                            # fr
            .+\sa\s[ée]crit\s?: |                                # fr
            el\s.+\sescribi[óo]\s?: |                            # es
            .+\sescribi[óo]\s?: |                                # es
            il\s.+\sha\sscritto\s?: |                            # it
            .+\sha\sscritto\s?: |                                # it
            op\s.+\sschreef\s.*: |                               # nl
            .+\sschreef\s?.*: |                                  # nl
            .+\sheeft\s.+\sgeschreven\s?: |                      # nl (Apple Mail, Outlook)
            em\s.+\sescreveu\s?: |                               # pt
            .+\sescreveu(?-u:\b).*: |                                  # pt
            .+\sskrev(?-u:\b).*: |                                     # sv, da, nb
            .+\skirjoitti(?-u:\b).*: |                                 # fi
            w\sdniu\s.+\snapisa[łl](a|\(a\))?\s?: |              # pl
            .+\snapisa[łl](a|\(a\))?\s?: |                       # pl
            .+\spisze\s?: |                                      # pl: '… pisze:'
            .+\sכתב(ה)?\s?: |                                    # he
            dne\s.+\snapsal(a|\(a\))?\s?: |                      # cs
            .+\snapsal(a|\(a\))?\s?: |                           # cs, sk
            .+\s(пишет|написал(а|\(а\))?|написав|пише)\s?: |           # ru, uk
            .+\s(έγραψε|écrivait)\s?: |                          # el
            .+\s(tarihinde\s)?şunu\syazdı\s?: |                  # tr
            .+\sírta(?-u:\b).*: |                                      # hu
            .+\sa\sscris\s?: |                                   # ro
            .+\sđã\sviết\s?: |                                   # vi
            .+\smenulis\s?: |                                    # id, ms
            .+เขียนว่า\s?: |                                      # th
            .+\sने\sलिखा\s?: |                                    # hi
            .+\s(je\s)?napisa(o|la|l|l\(a\))\s?: |                # hr, sr, sl, bs
            .+\s(rašė|rakstīja|kirjutas|написа|skrifaði|escribiu)\s?: | # lt, lv, et, bg, is, gl
            .+\sva\sescriure\s?: |                               # ca
            .+\sكتب\s?.*: |                                     # ar
            .+\s작성\s?: |                                       # ko (Apple Mail)
            .+のメール\s*[:：] |                                  # ja (Apple Mail)
            .+님이\s?작성\s?: |                                   # ko
            .+(写道|寫道)\s*[:：] |                               # zh
            .+のメッセージ\s*[:：] |                              # ja (Outlook)
            \d{4}年\d{1,2}月\d{1,2}日.*<[^<>@\s]+@[^<>\s]+>\s*[:：]    # ja (Gmail, Apple)
        )[\s\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}]*$",
        )
        .expect("valid pattern")
    },
);

/// "On … wrote:" with the first quoted words on the same line (Yahoo on Android).
pub(super) static ATTRIBUTION_RUN_ON: Guarded = Guarded::new(
    |l| contains_ascii_nocase(l, "wrote"),
    || Regex::new(r"(?i)^\s*on\s.{5,200}?\swrote\s?:\s").expect("valid pattern"),
);

/// The first words of [`ATTRIBUTION_START`]'s first branch, in lower case.
const ATTRIBUTION_WORDS: &[&str] = &["on", "am", "le", "el", "il", "op", "em", "den", "dne", "w", "vào", "dnia"];

/// Whether the line may start an attribution that goes on on the next lines: it starts
/// with one of the attributions' first words, a digit or a short weekday name with a comma,
/// and holds a digit.
fn may_start_attribution(line: &str) -> bool {
    let line = line.trim_start().trim_start_matches('>').trim_start();
    let first = line.split_whitespace().next().unwrap_or_default();
    let starts =
        first_attribution_word(first) || first.starts_with(|c: char| c.is_ascii_digit()) || short_word_and_comma(first);
    starts && line.chars().any(|c| c.is_ascii_digit())
}

/// Whether `word` is one of [`ATTRIBUTION_WORDS`], in any case.
fn first_attribution_word(word: &str) -> bool {
    ATTRIBUTION_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
        || (!word.is_ascii() && word.len() <= 6 && ATTRIBUTION_WORDS.contains(&word.to_lowercase().as_str()))
}

/// Whether `word` is [`ATTRIBUTION_START`]'s `[^\s\d.,]{1,9}\.?,`: a short word (a weekday's
/// name) with a comma ("Tue,", "Di.,"); "Furthermore," is too long for one.
fn short_word_and_comma(word: &str) -> bool {
    let Some(word) = word.strip_suffix(',') else { return false };
    let word = word.strip_suffix('.').unwrap_or(word);
    (1..=9).contains(&word.chars().count())
        && word.chars().all(|c| !c.is_numeric() && !c.is_whitespace() && c != '.' && c != ',')
}

/// The first line of an attribution that goes on on the next lines: "On <date>",
/// "2026-03-05 10:02", "Tue, 3 Mar 2026".
pub(super) static ATTRIBUTION_START: Guarded = Guarded {
    may_match: may_start_attribution,
    // A line that starts with a digit (after one quote mark) is one: the pattern's `\d`.
    // Wrapped running text often does ("16:00 CET. We noticed"), and then the pattern
    // need not be compiled.
    sure_match: |l| {
        let l = l.trim_start();
        let l = l.strip_prefix('>').unwrap_or(l).trim_start();
        if l.starts_with(|c: char| c.is_ascii_digit()) {
            return true;
        }
        // The pattern's last branch, `[^\s\d.,]{1,9}\.?,\s.*\d`: a short word and a comma
        // ("Tue, 3 Mar 2026", and running text as "access, I am free at 10:00"); and its
        // first, one of its words ("On", "Am"; not "w dniu", of two) and a digit after.
        let Some((word, rest)) = l.split_once(|c: char| c.is_whitespace()) else { return false };
        let starts = short_word_and_comma(word) || (word != "w" && first_attribution_word(word));
        starts && rest.bytes().any(|b| b.is_ascii_digit())
    },
    regex: LazyLock::new(|| {
        Regex::new(r"(?i)^\s*>?\s*((on|am|le|el|il|op|em|den|dne|w\sdniu|vào|dnia)\s.*\d|\d|[^\s\d.,]{1,9}\.?,\s.*\d)")
            .expect("valid pattern")
    }),
};

/// Russian Gmail: "пн, 23 нояб. 2026 г. в 10:02, Support <support@…>:" — a date, a name
/// and an address, then a colon. Loose: only counted when quoted lines follow.
pub(super) static ATTRIBUTION_DATE_ADDRESS: Guarded = Guarded::new(
    |l| l.contains('@') && ends_with_colon(l),
    || {
        Regex::new(r"(?i)^\s*>?\s*\S.{0,80}\d{4}.{0,40}<[^<>@\s]+@[^<>\s]+>\s*[:：][\s\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}]*$").expect("valid pattern")
    },
);

/// An attribution without a verb that starts with a date and a time and ends with the
/// sender's address and a colon: `3.5.2026, 10:02, "Ann" <a@x.org>:` (Yandex),
/// `2026-03-05 10:02 GMT+01:00 Ann <a@x.org>:` (Gmail in several languages),
/// `Вторник, 3 марта 2026, 10:02 +03:00 от Ann <a@x.org>:` (Mail.ru). Strict enough to
/// count without quoted lines below it.
pub(super) static DATE_FIRST: Guarded = Guarded::new(
    |l| l.contains('@') && ends_with_colon(l),
    || {
        Regex::new(
            r"(?x)^\s*>?\s*(\p{L}+\.?,?\s+)?
            ( \d{1,4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{1,4} | \d{1,2}\.?\s\p{L}+\.?\s\d{4} |
              \p{L}+\.?\s\d{1,2},?\s\d{4} | \d{4}\s?年\s?\d{1,2}\s?月\s?\d{1,2}\s?日 )
            .*?\d{1,2}[:.]\d{2}
            .*[^\s<>@]@[^\s<>@]+\s*[>)\]]?\s*[:：][\s\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}]*$",
        )
        .expect("valid pattern")
    },
);

/// GroupWise: `>>> Ann Lee <ann@example.org> 03.03.2026 10:02 >>>` above unquoted history.
pub(super) static GROUPWISE: Guarded = Guarded::new(
    |l| l.trim_start().starts_with(">>>") && l.trim_end().ends_with(">>>"),
    || Regex::new(r"^\s*>>>\s.*\d.*\s>>>\s*$").expect("valid pattern"),
);

/// The words between the dashes of an "Original Message" separator, in many languages.
const ORIGINAL_WORDS: &str = r"original\smessage | ursprüngliche\snachricht | original\s?nachricht | původní\se-mail | pôvodná\sspráva |
    оригінальне\sповідомлення | вихідне\sповідомлення | pesan\sasli | izvorna\sporuka | originalna\sporuka |
    originalt\smeddelande | alkuperäinen\ssähköposti |
    message\sd'origine | message\soriginal | mensaje\soriginal | messaggio\soriginale |
    oorspronkelijk\sbericht | origineel\sbericht | mensagem\soriginal | originalmeddelande |
    ursprungligt\smeddelande | oprindelig\smeddelelse | oprindelig\sbesked | original\sbesked |
    opprinnelig\smelding | alkuperäinen\sviesti | wiadomość\soryginalna | oryginalna\swiadomość |
    původní\szpráva | исходное\sсообщение | оригинальное\sсообщение | αρχικό\sμήνυμα |
    orijinal\sileti | eredeti\süzenet | mesaj\soriginal | thư\sgốc | tin\snhắn\sgốc |
    原始邮件 | 原始郵件 | 元のメッセージ | 원본\s메시지";

/// The words between the dashes of a forwarded-message separator.
const FORWARD_WORDS: &str = r"forwarded\smessage | weitergeleitete\snachricht | message\stransféré |
    mensaje\sreenviado | messaggio\sinoltrato | doorgestuurd\sbericht | mensagem\sencaminhada |
    vidarebefordrat\smeddelande | videresendt\smeddelelse | videresendt\sbesked |
    videresendt\smelding | välitetty\sviesti | przekazana\swiadomość | přeposlaná\szpráva |
    пересылаемое\sсообщение | пересланное\sсообщение | προωθημένο\sμήνυμα | iletilen\sileti |
    továbbított\süzenet | mesaj\sredirecționat | thư\sđã\schuyển\stiếp | 转发邮件 | 轉寄郵件 | forwarded\sby\s.+ | forwarded\smessage\sfrom\s.+ |
    転送メッセージ | 전달된\s메시지";

/// A separator line around `words`: dashes (at least two, maybe with stars, underscores
/// or equals signs around them: `*--- Original Message ---*`).
fn separator(words: &str) -> Regex {
    Regex::new(&format!(
        r"(?ix)^\s*[*_=]*\s*([-‐]{{2,}}|={{2,}}|_{{2,}})(\s|&nbsp;)*({words})(\s|&nbsp;)*([-‐]{{2,}}|={{2,}}|_{{2,}})\s*[*_=]*\s*$"
    ))
    .expect("valid pattern")
}

/// Whether the line may be a separator: it holds two dashes (ASCII or U+2010, as Proton
/// Mail writes them), equals signs or underscores in a row.
fn may_be_separator(line: &str) -> bool {
    let doubled = line.as_bytes().windows(2).any(|w| w[0] == w[1] && matches!(w[0], b'-' | b'=' | b'_'));
    doubled || line.contains('‐') && line.contains("‐‐")
}

/// "-----Original Message-----" and its translations.
pub(super) static ORIGINAL_MESSAGE: Guarded = Guarded::new(may_be_separator, || separator(ORIGINAL_WORDS));

/// "---------- Forwarded message ---------" and its translations.
pub(super) static FORWARD_SEPARATOR: Guarded = Guarded::new(may_be_separator, || separator(FORWARD_WORDS));

/// The line helpdesks and ticket systems put above the quoted notification: "##- Please type
/// your reply above this line -##" and its translations.
pub(super) static REPLY_ABOVE: Guarded = Guarded::new(
    |l| {
        // Such a line is short: the phrase with some decoration around it. A word search
        // rather than a pattern: this guard sees every line, and compiling even a list of
        // words costs more than a short-lived `maildesk ingest` spends on a whole mail.
        const WORDS: [&str; 7] = ["above", "oberhalb", "au-dessus", "encima", "boven", "acima", "sopra"];
        l.len() <= 240 && {
            let l = l.to_ascii_lowercase();
            WORDS.iter().any(|w| l.contains(w))
        }
    },
    || {
        Regex::new(
            r"(?ix)^[\s\#\-_=*>]*.*(
            (reply|respond|write|type|answer)(?-u:\b).*(?-u:\b)above\s(this|the)\s(line|message) |
            oberhalb\sdieser\s(zeile|linie) | au-dessus\sde\scette\sligne |
            encima\sde\sesta\slínea | boven\sdeze\s(lijn|regel) |
            acima\sdesta\slinha | sopra\squesta\sriga
        ).*$",
        )
        .expect("valid pattern")
    },
);

/// Whether the line may be [`FORWARDED`]: it ends with a colon and starts with the first
/// word of one of its phrases ("Here is the log:" does not).
fn may_be_forwarded(line: &str) -> bool {
    const FIRST_WORDS: [&str; 11] = [
        "begin",
        "anfang",
        "début",
        "inicio",
        "inizio",
        "início",
        "vidarebefordrat",
        "videresendt",
        "początek",
        "начало",
        "転送されたメッセージ",
    ];
    if !ends_with_colon(line) {
        return false;
    }
    let first = line.split_whitespace().next().unwrap_or_default().to_lowercase();
    FIRST_WORDS.contains(&first.trim_end_matches([':', '：']))
}

/// Apple Mail's forward line and its translations.
pub(super) static FORWARDED: Guarded = Guarded::new(may_be_forwarded, || {
    Regex::new(
        r"(?i)^\s*(begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht|início da mensagem reencaminhada|vidarebefordrat brev|videresendt besked|początek przekazywanej wiadomości|начало переадресованного сообщения|転送されたメッセージ)\s*[:：]\s*$",
    )
    .expect("valid pattern")
});

/// The first line of an Outlook header block: "From: …" in several languages.
pub(super) static HEADER_FROM: Guarded = Guarded::new(short_key_before_colon, || {
    Regex::new(
        r"(?i)^\s*>?\s*\*?(from|von|de|de\sla|da|van|från|fra|od|от|від|lähettäjä|kimden|feladó|από|từ|šalje|pošiljatelj|nuo|saatja|dari|من|מאת|จาก|발신|보낸\s?사람|发件人|寄件者|差出人)\s*\*?\s*[:：]\s*\S",
    )
    .expect("valid pattern")
});

/// The date line of a header block: "Sent:", "Date:" … in several languages.
pub(super) static HEADER_DATE: Guarded = Guarded::new(short_key_before_colon, || {
    Regex::new(
        r"(?ix)^\s*>?\s*\*?(
            sent|date|gesendet|datum|envoyé|enviado|enviada|fecha|data|inviato|verzonden|skickat|sendt|
            dato|wysłano|wysłane|odesláno|odoslané|отправлено|надіслано|дата|lähetetty|päivämäärä|gönderildi|tarih|elküldve|dátum|
            trimis|poslano|išsiųsta|saatmisaeg|nosūtīts|enviat|dikirim|تم\sالإرسال|נשלח|ส่ง|
            στάλθηκε|ημερομηνία|发送时间|日期|寄件日期|送信日時|日時|보낸\s?날짜|날짜|đã\sgửi|ngày
        )\s*\*?\s*[:：]\s*\S",
    )
    .expect("valid pattern")
});

/// A later line of an Outlook header block: "Sent:", "Date:", "To:", "Subject:" …
pub(super) static HEADER_NEXT: Guarded = Guarded::new(short_key_before_colon, || {
    Regex::new(
        r"(?ix)^\s*>?\s*\*?(
            sent|date|to|cc|bcc|subject|reply-to|attachments|importance|
            anlagen|wichtigkeit|pièces\sjointes|datos\sadjuntos|importancia|allegati|priorità|bijlagen|urgentie|
            gesendet|datum|an|betreff|kopie|
            envoyé|date|à|objet|sujet|
            enviado|fecha|para|asunto|enviada|assunto|data|
            inviato|a|oggetto|
            verzonden|aan|onderwerp|
            skickat|till|ämne|sendt|til|emne|dato|kopi|
            wysłano|wysłane|do|temat|data|
            odesláno|komu|předmět|
            отправлено|дата|кому|тема|копия|
            lähetetty|vastaanottaja|aihe|päivämäärä|
            gönderildi|tarih|kime|konu|
            elküldve|címzett|tárgy|
            στάλθηκε|προς|θέμα|
            发送时间|日期|收件人|主题|抄送|寄件日期|收件者|主旨|
            送信日時|宛先|件名|
            보낸\s?날짜|받는\s?사람|제목|
            đã\sgửi|đến|chủ\sđề|ngày|
            către|subiect|trimis|poslano|prima|predmet|za|zadeva|від|надіслано|odoslané|
            išsiųsta|kam|saatmisaeg|adressaat|teema|nosūtīts|tēma|enviat|per\sa|assumpte|
            dikirim|kepada|perihal|subjek|تم\sالإرسال|إلى|الموضوع|נשלח|אל|נושא|ส่ง|ถึง|เรื่อง
        )\s*\*?\s*[:：]",
    )
    .expect("valid pattern")
});

/// Footers mobile clients add below the new text.
pub(super) static MOBILE_FOOTER: Guarded = Guarded::new(may_be_mobile_footer, || {
    Regex::new(
        r"(?ix)^\s*(
            \[?\s*sent\s(from|with|via|using)\s.{1,60}?\]? | get\soutlook\sfor\s\S.* |
            (hent|få|skaffa|obtener|obtenir|ottieni|haal|baixe|pobierz)\soutlook\s\S.* | outlook\s(für|voor)\s\S+\s(herunterladen|downloaden) |
            télécharger\soutlook\spour\s\S.* |
            von\smeinem\s\S.*\sgesendet | gesendet\svon\s(meinem\s)?\S.* | mit\s\S.*\sgesendet |
            envoyé\sde\smon\s\S.* | envoyé\sdepuis\s\S.* |
            enviado\sdesde\smi\s\S.* | enviado\sdo\smeu\s\S.* | enviado\sdo\s\S.* |
            inviato\sda\s\S.* |
            verzonden\svanaf\smijn\s\S.* | verstuurd\svanaf\smijn\s\S.* |
            skickat\sfrån\smin\s\S.* | sendt\sfra\smin\s\S.* | lähetetty\s\S.* |
            wysłane\sz\s\S.* | odesláno\sz\s\S.* |
            отправлено\sс\s\S.* | надіслано\sз\s\S.* |
            được\sgửi\stừ\s\S.* | trimis\sde\spe\s\S.* | poslano\s(s|sa|iz)\s\S.* | στάλθηκε\sαπό\s\S.* |
            \S+['’]?(umdan|imden|undan|inden|dan|den)\sgönderildi |
            \S*から送信 | 发自我的\S* | 從我的\s?\S*傳送 | 从我的\s?\S*发送 | 내\s\S*에서\s보냄
        )[.!]?\s*$",
    )
    .expect("valid pattern")
});

/// Whether the line is a mobile footer, not a sentence that starts like one ("Sent from my
/// desk, is much easier than my phone."): after a comma, a footer names a brand
/// ("Sent from my Verizon, Samsung Galaxy smartphone"), it does not go on in lower case.
pub(super) fn is_mobile_footer(line: &str) -> bool {
    let words = line.split_whitespace().count();
    let sentence_after_comma = line.split_once(',').is_some_and(|(_, rest)| {
        let rest: Vec<&str> = rest.split_whitespace().collect();
        rest.len() >= 3 && rest.iter().all(|w| !w.starts_with(char::is_uppercase))
    });
    // The cheap tests first: the pattern may then not be compiled at all.
    words <= 12 && !sentence_after_comma && MOBILE_FOOTER.is_match(line)
}

/// The start of a line that begins with a date: "2013/6/21", "3.5.2026", "Tue, 3 Mar 2026",
/// "March 3, 2026", "2026年3月3日".
pub(super) static DATE_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^\s*(\p{L}+\.?,?\s+)?
        ( \d{1,4}\s?[./-]\s?\d{1,2}\s?[./-]\s?\d{1,4} | \d{1,2}\.?\s\p{L}+\.?,?\s\d{4} |
          \p{L}+\.?\s\d{1,2},?\s\d{4} | \d{4}\s?年\s?\d{1,2}\s?月\s?\d{1,2}\s?日 )",
    )
    .expect("valid pattern")
});

/// A link footnote html2text writes at the end: "[3]: https://…".
pub(super) static FOOTNOTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\[(\d+)\]:\s\S").expect("valid pattern"));

/// Whether the line is the first of a mailing-list footer (Mailman's rule of underscores
/// is followed by "<list> mailing list" and a listinfo link).
pub(super) fn is_list_footer_line(line: &str) -> bool {
    static WORDS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)mailing list|/listinfo|/mailman/|(unsubscribe)").expect("valid pattern"));
    let l = line.trim();
    // "unsubscribe" counts on a short line only.
    WORDS.captures(l).is_some_and(|c| c.get(1).is_none() || l.chars().count() < 120)
}

/// The closings [`is_plain_closing`] knows, lower-case.
pub(super) const PLAIN_CLOSINGS: &[&str] = &[
    "regards",
    "best regards",
    "kind regards",
    "warm regards",
    "many thanks",
    "best wishes",
    "best",
    "all the best",
    "cheers",
    "thanks",
    "thank you",
    "thanks again",
    "thanks in advance",
    "thank you in advance",
    "sincerely",
    "yours sincerely",
    "yours truly",
    "yours faithfully",
    "take care",
    "mit freundlichen grüßen",
    "viele grüße",
    "beste grüße",
    "liebe grüße",
    "freundliche grüße",
    "cordialement",
    "bien cordialement",
    "saludos",
    "saludos cordiales",
    "un saludo",
    "met vriendelijke groet",
    "vriendelijke groeten",
    "med vänliga hälsningar",
    "med venlig hilsen",
    "pozdrawiam",
    "с уважением",
];

/// Whether the line is one of the commonest closings alone ("Best regards,"), which
/// [`CLOSING`] matches without a name: told without compiling the pattern, as most mail
/// ends with one.
pub(super) fn is_plain_closing(line: &str) -> bool {
    let core = line.trim().trim_end_matches([',', '.', '!']);
    core.len() <= 40 && core == core.trim_end() && PLAIN_CLOSINGS.contains(&core.to_lowercase().as_str())
}

/// The words a closing's phrase starts with, in lower case ("Mit" of "Mit freundlichen
/// Grüßen").
pub(super) const CLOSING_FIRST_WORDS: &[&str] = &[
    "regards",
    "best",
    "kind",
    "warm",
    "warmest",
    "many",
    "with",
    "all",
    "cheers",
    "thanks",
    "thank",
    "thx",
    "sincerely",
    "yours",
    "respectfully",
    "take",
    "mit",
    "freundliche",
    "viele",
    "beste",
    "liebe",
    "herzliche",
    "schöne",
    "schoene",
    "grüße",
    "grüsse",
    "gruesse",
    "grueße",
    "gruß",
    "gruss",
    "mfg",
    "lg",
    "vg",
    "danke",
    "bien",
    "cordialement",
    "meilleures",
    "salutations",
    "merci",
    "amicalement",
    "saludos",
    "un",
    "atentamente",
    "muchas",
    "gracias",
    "cordiali",
    "distinti",
    "saluti",
    "grazie",
    "met",
    "vriendelijke",
    "groet",
    "groeten",
    "groetjes",
    "mvg",
    "bedankt",
    "dank",
    "atenciosamente",
    "cumprimentos",
    "abraço",
    "abraços",
    "obrigado",
    "obrigada",
    "med",
    "vänliga",
    "hälsningar",
    "mvh",
    "tack",
    "venlig",
    "mange",
    "vennlig",
    "hilsen",
    "ystävällisin",
    "terveisin",
    "kiitos",
    "pozdrawiam",
    "z",
    "dziękuję",
    "s",
    "děkuji",
    "с",
    "спасибо",
    "всего",
    "trân",
    "cảm",
    "saygılarımla",
    "üdvözlettel",
    "με",
];

/// Whether the line may be a closing: short, and its first word is the first word of one.
fn may_be_closing(line: &str) -> bool {
    let line = line.trim();
    if line.len() > 240 || line.chars().count() > 60 {
        return false;
    }
    static WORDS: LazyLock<std::collections::HashSet<&'static str>> =
        LazyLock::new(|| CLOSING_FIRST_WORDS.iter().copied().collect());
    let first = line.split(|c: char| !c.is_alphabetic()).next().unwrap_or_default();
    if first.is_empty() || first.len() > 24 {
        return false;
    }
    // Lower-cased on the stack when ASCII, the common case.
    let mut buffer = [0u8; 24];
    let starts = match first.is_ascii() {
        true => {
            let lower = &mut buffer[..first.len()];
            lower.copy_from_slice(first.as_bytes());
            lower.make_ascii_lowercase();
            std::str::from_utf8(lower).is_ok_and(|w| WORDS.contains(w))
        }
        false => WORDS.contains(first.to_lowercase().as_str()),
    };
    starts && closing_words_only(line)
}

/// The other words of closings' phrases, in lower case ("freundlichen", "Grüßen"): with
/// [`CLOSING_FIRST_WORDS`], every word a closing is made of; a test holds them to
/// [`CLOSING`]'s phrases.
pub(super) const CLOSING_LATER_WORDS: &[&str] = &[
    "wishes",
    "the",
    "again",
    "a",
    "lot",
    "in",
    "advance",
    "so",
    "much",
    "you",
    "truly",
    "faithfully",
    "care",
    "freundlichen",
    "grüßen",
    "grüssen",
    "grueßen",
    "gruessen",
    "grußen",
    "grussen",
    "schön",
    "schoen",
    "à",
    "vous",
    "beaucoup",
    "d'avance",
    "cordiales",
    "cordial",
    "saludo",
    "mille",
    "saluto",
    "je",
    "jewel",
    "tak",
    "serdecznie",
    "poważaniem",
    "pozdravem",
    "уважением",
    "доброго",
    "trọng",
    "ơn",
    "εκτίμηση",
];

/// Whether `word` (lower case) is a word of a closing's phrase.
pub(super) fn is_closing_word(word: &str) -> bool {
    static WORDS: LazyLock<std::collections::HashSet<&'static str>> =
        LazyLock::new(|| CLOSING_FIRST_WORDS.iter().chain(CLOSING_LATER_WORDS).copied().collect());
    WORDS.contains(word)
}

/// Whether every word of the line may belong to a closing: a word of a closing's phrase
/// (in any case), or a word of the name after it (capitalised, without digits), seven
/// words at most. "Thanks for your help" goes on in lower case and is no closing, told
/// without compiling [`CLOSING`], whose name classes make it the costliest pattern here.
fn closing_words_only(line: &str) -> bool {
    let mut words = 0;
    for word in line.split_whitespace() {
        let word = word.trim_matches([',', '.', '!']);
        if word.is_empty() {
            continue;
        }
        words += 1;
        let capitalised = word.starts_with(char::is_uppercase);
        if words > 7
            || word.bytes().any(|b| b.is_ascii_digit())
            || !(capitalised || is_closing_word(&word.to_lowercase()))
        {
            return false;
        }
    }
    true
}

/// A closing the person typed: "Regards,", "Mit freundlichen Grüßen", "Cordialement" …,
/// maybe with the name on the same line ("Thanks, Priya"; group `name`).
pub(super) static CLOSING: Guarded = Guarded {
    may_match: may_be_closing,
    sure_match: is_plain_closing,
    regex: LazyLock::new(|| {
        Regex::new(
            r"(?ix)^\s*(
            ((best|kind|warm|warmest|many|with\s(best|kind|warm))\s)?regards | best(\swishes)? | all\sthe\sbest |
            cheers | thanks(\sagain|\sa\slot|\sin\sadvance|\sso\smuch)? | thank\syou(\sin\sadvance|\sagain|\sso\smuch)? |
            many\sthanks | thx | sincerely | yours(\ssincerely|\struly|\sfaithfully)? | respectfully | take\scare |
            mit\sfreundlichen\sgr(ü|ue|u)(ß|ss)en | freundliche\sgr(ü|ue)(ß|ss)e | (viele|beste|liebe|herzliche|sch(ö|oe)ne)\sgr(ü|ue)(ß|ss)e |
            gr(ü|ue)(ß|ss)e | gru(ß|ss) | mfg | lg | vg | danke(\ssch(ö|oe)n)? |
            (bien\s)?cordialement | bien\sà\svous | (meilleures\s)?salutations | merci(\sbeaucoup|\sd'avance)? | amicalement |
            saludos(\scordiales)? | un\s(cordial\s)?saludo | atentamente | (muchas\s)?gracias |
            cordiali\ssaluti | distinti\ssaluti | saluti | grazie(\smille)? | un\ssaluto |
            met\svriendelijke\sgroet(en)? | vriendelijke\sgroet(en)? | groet(en|jes)? | mvg | bedankt | dank\sje(wel)? |
            atenciosamente | cumprimentos | abraços? | obrigad[oa] |
            (med\s)?vänliga\shälsningar | hälsningar | mvh | tack |
            (med\s)?venlig\shilsen | mange\stak | (med\s)?vennlig\shilsen | hilsen |
            ystävällisin\sterveisin | terveisin | kiitos |
            pozdrawiam(\sserdecznie)? | z\spoważaniem | dziękuję |
            s\spozdravem | děkuji |
            с\sуважением | спасибо | всего\sдоброго |
            trân\strọng | cảm\sơn |
            saygılarımla | üdvözlettel | με\sεκτίμηση
        )\s*[,.!]*(\s*(?P<name>(?-i:\p{Lu}[^\s\d,;:!?()<>@]*(\s\p{Lu}[^\s\d,;:!?()<>@]*){0,2})))?\s*$",
        )
        .expect("valid pattern")
    }),
};

/// A "From:" line that also holds the date, as a header block reads in HTML mail whose
/// header lines are not broken ("From: Ann <a@x.org> Sent: Tuesday, March 3, 2026 …").
pub(super) static HEADER_INLINE_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\s\*?(sent|date|gesendet|datum|envoyé|enviado|fecha|data|inviato|verzonden|skickat|sendt|dato|wysłano|отправлено|дата)\s?\*?\s?[:：]\s*\S",
    )
    .expect("valid pattern")
});
