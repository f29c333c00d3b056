//! Which ticket a message belongs to. Never by guessing from the subject text: only by a
//! subject tag `[Tag #42]` or by Message-IDs the store knows (resolved by desk).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::domain::TicketNumber;

/// How a message was matched to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadBy {
    /// `[Tag #42]` in the subject.
    SubjectTag,
    /// A signed `support+<ticket>-<mac>@` reply address among the recipients.
    ReplyAddress,
    /// In-Reply-To or References naming a Message-ID of the ticket.
    References,
}

/// The ticket a message belongs to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thread {
    /// The ticket number, or null for a new request.
    pub ticket: Option<TicketNumber>,
    /// How it was found, or null.
    pub by: Option<ThreadBy>,
}

impl Thread {
    /// Decides between what the signed reply address, the references and the subject
    /// tag say, strongest first: a valid signature cannot be made up; references were kept
    /// on purpose by the client; a tag is easy to copy.
    pub fn resolve(
        by_reply_address: Option<TicketNumber>,
        by_references: Option<TicketNumber>,
        by_tag: Option<TicketNumber>,
    ) -> Thread {
        match (by_reply_address, by_references, by_tag) {
            (Some(t), _, _) => Thread { ticket: Some(t), by: Some(ThreadBy::ReplyAddress) },
            (None, Some(t), _) => Thread { ticket: Some(t), by: Some(ThreadBy::References) },
            (None, None, Some(t)) => Thread { ticket: Some(t), by: Some(ThreadBy::SubjectTag) },
            (None, None, None) => Thread { ticket: None, by: None },
        }
    }
}

/// The ticket named by one of our own Message-IDs (`md.<ticket>.<random>@<own_domain>`)
/// among `ids`, trying them in order. This is a reading of the mail alone: desk accepts a
/// ticket found this way only when the store knows the Message-ID, so a forged reference
/// posts nothing.
pub(super) fn own_reference<'a>(ids: impl IntoIterator<Item = &'a str>, own_domain: &str) -> Option<TicketNumber> {
    ids.into_iter().find_map(|id| {
        let (local, domain) = id.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(own_domain) {
            return None;
        }
        let mut parts = local.split('.');
        if parts.next()? != "md" {
            return None;
        }
        let n: i64 = parts.next()?.parse().ok()?;
        parts.next()?;
        (n > 0).then_some(TicketNumber(n))
    })
}

/// Our subject tag (`[Support #42]`): the tag word, case-insensitive, and a ticket number.
/// Its pattern is compiled the first time a subject holds a `#`, not before: a short-lived
/// `maildesk ingest` of a new request never pays for it.
#[derive(Debug, Clone)]
pub(super) struct SubjectTag {
    word: String,
    pattern: String,
    regex: std::sync::OnceLock<Regex>,
}

impl SubjectTag {
    /// The tag for the word `tag` (trimmed).
    pub(super) fn new(tag: &str) -> SubjectTag {
        // ASCII digits: a ticket number is parsed as one, and Unicode's `\d{1,15}` costs
        // five times as much to compile.
        let pattern = format!(r"(?i)\[\s*{}\s*#\s*([0-9]{{1,15}})\s*\]", regex::escape(tag.trim()));
        SubjectTag { word: tag.trim().to_string(), pattern, regex: std::sync::OnceLock::new() }
    }

    /// The ticket number of the first of our subject tags in `subject`.
    pub(super) fn find(&self, subject: &str) -> Option<TicketNumber> {
        if !subject.contains('#') {
            return None;
        }
        if let Some(found) = self.find_ascii(subject) {
            return found;
        }
        let regex = self.regex.get_or_init(|| Regex::new(&self.pattern).expect("escaped tag makes a valid pattern"));
        let caps = regex.captures(subject)?;
        let n: i64 = caps.get(1)?.as_str().parse().ok()?;
        (n > 0).then_some(TicketNumber(n))
    }

    /// What the pattern finds, read without it when the tag word and the subject are ASCII
    /// (a reply's subject nearly always): `None` leaves it to the pattern.
    fn find_ascii(&self, subject: &str) -> Option<Option<TicketNumber>> {
        let word = self.word.as_str();
        if !word.is_ascii() || !subject.is_ascii() || word.is_empty() {
            return None;
        }
        let bytes = subject.as_bytes();
        let skip = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
                i += 1;
            }
            i
        };
        // `\s` is also a vertical tab, which `is_ascii_whitespace` is not: leave it to the pattern.
        if bytes.contains(&0x0b) {
            return None;
        }
        for open in bytes.iter().enumerate().filter(|(_, b)| **b == b'[').map(|(i, _)| i) {
            let at = skip(open + 1);
            let Some(candidate) = bytes.get(at..at + word.len()) else { continue };
            if !candidate.eq_ignore_ascii_case(word.as_bytes()) {
                continue;
            }
            let at = skip(at + word.len());
            if bytes.get(at) != Some(&b'#') {
                continue;
            }
            let start = skip(at + 1);
            let end = start + bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
            if !(1..=15).contains(&(end - start)) || bytes.get(skip(end)) != Some(&b']') {
                continue;
            }
            let n: i64 = subject[start..end].parse().ok()?;
            return Some((n > 0).then_some(TicketNumber(n)));
        }
        Some(None)
    }
}

static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*((re|fw|fwd|aw|wg|sv|vs|antw|rif|tr|r|odp|ответ|回复|答复|转发)\s*(\[\d+\])?\s*[:：]\s*)+")
        .expect("valid pattern")
});
static ANY_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[[^\[\]#]{1,40}#\s*[0-9]{1,15}\s*\]").expect("valid pattern"));

/// The subject as a ticket title: reply and forward prefixes and ticket tags removed.
/// An empty result becomes "(no subject)".
pub fn clean_subject(subject: &str) -> String {
    // The cheap tests keep the patterns from being compiled where they cannot match.
    let without_tags = if subject.contains('#') { ANY_TAG.replace_all(subject, " ") } else { subject.into() };
    let mut s = without_tags.trim().to_string();
    while s.contains([':', '：']) {
        let stripped = PREFIX.replace(&s, "").trim().to_string();
        if stripped == s {
            break;
        }
        s = stripped;
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() { "(no subject)".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::Settings;

    #[test]
    fn the_tag_read_without_the_pattern_agrees_with_it() {
        let s = Settings::new(" rt.example.com ", "helpdesk.example");
        let regex = Regex::new(&s.tag.pattern).unwrap();
        let by_pattern = |subject: &str| {
            let n: i64 = regex.captures(subject)?.get(1)?.as_str().parse().ok()?;
            (n > 0).then_some(TicketNumber(n))
        };
        let mut subjects = vec![
            "Re: [rt.example.com #42] Printer".to_string(),
            "[RT.EXAMPLE.COM#7]".into(),
            "[ rt.example.com  #  9 ] x".into(),
            "[rt.example.com #0] then [rt.example.com #5]".into(),
            "[rt.example.com # ] [rt.example.com #12]".into(),
            "[rt.example.com #1234567890123456]".into(),
            "[rt.example.com #123456789012345]".into(),
            "[rt.exampleXcom #3]".into(),
            "[[rt.example.com #3]".into(),
            "[rt.example.com\t#\t8\t]".into(),
            "[rt.example.com #8\u{b}]".into(),
            "[rt.example.com #8 x]".into(),
            "Fwd: [Other #4] [rt.example.com #11]".into(),
            "no tag # here".into(),
        ];
        // Every cut of a tagged subject, too.
        let tagged = "AW: [ rt.example.com #  31 ] Drucker";
        subjects.extend((0..tagged.len()).map(|i| format!("{}#", &tagged[..i])));
        for subject in &subjects {
            if let Some(found) = s.tag.find_ascii(subject) {
                assert_eq!(found, by_pattern(subject), "{subject:?}");
            }
            assert_eq!(s.tag.find(subject), by_pattern(subject), "{subject:?}");
        }
        assert_eq!(s.tag.find_ascii("[rt.example.com #8\u{b}]"), None, "a vertical tab is the pattern's");
        assert_eq!(s.tag.find_ascii("Re: [rt.example.com #42]"), Some(Some(TicketNumber(42))));
    }

    #[test]
    fn tag_is_found_case_insensitively_and_only_for_our_tag() {
        let s = Settings::new("Support", "helpdesk.example");
        assert_eq!(s.tag.find("Re: [support #42] Printer"), Some(TicketNumber(42)));
        assert_eq!(s.tag.find("AW: [Support#7]"), Some(TicketNumber(7)));
        assert_eq!(s.tag.find("[Other #42] Printer"), None);
        assert_eq!(s.tag.find("[Support #0]"), None);
        assert_eq!(s.tag.find("Support 42"), None);
    }

    #[test]
    fn our_own_message_ids_name_their_ticket() {
        let ids = ["x@example.com", "md.24.3.c0ffee24@helpdesk.example"];
        assert_eq!(own_reference(ids, "helpdesk.example"), Some(TicketNumber(24)));
        assert_eq!(own_reference(["md.24.3.c0ffee24@other.example"], "helpdesk.example"), None);
        assert_eq!(own_reference(["md.x.3@helpdesk.example", "md.7@helpdesk.example"], "helpdesk.example"), None);
    }

    #[test]
    fn references_beat_the_subject_tag() {
        let t = Thread::resolve(None, Some(TicketNumber(3)), Some(TicketNumber(9)));
        assert_eq!(t, Thread { ticket: Some(TicketNumber(3)), by: Some(ThreadBy::References) });
        assert_eq!(Thread::resolve(None, None, Some(TicketNumber(9))).by, Some(ThreadBy::SubjectTag));
        assert_eq!(Thread::resolve(None, None, None).ticket, None);
        let signed = Thread::resolve(Some(TicketNumber(5)), Some(TicketNumber(3)), None);
        assert_eq!(signed, Thread { ticket: Some(TicketNumber(5)), by: Some(ThreadBy::ReplyAddress) });
    }

    #[test]
    fn subjects_lose_prefixes_and_tags() {
        assert_eq!(clean_subject("Re: AW: [Support #12] Printer offline"), "Printer offline");
        assert_eq!(clean_subject("Fwd: Re:  Invoice   question"), "Invoice question");
        assert_eq!(clean_subject("Re:"), "(no subject)");
        assert_eq!(clean_subject("Recipe for cake"), "Recipe for cake");
    }
}
