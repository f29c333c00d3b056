//! When an old message was written: its Date header when that is believable, else the
//! date on its mbox `From ` line, else its file's time. Pure.

use mail_parser::DateTime;

/// The earliest date believed (1980-01-01): older ones are a clock that was never set.
const EARLIEST: i64 = 315_532_800;

/// How far past now a date is still believed (clocks a little ahead).
const AHEAD: i64 = 2 * 86_400;

/// Whether `at` (Unix seconds) is a believable date of a mail, seen at `now`.
pub(super) fn believable(at: i64, now: i64) -> bool {
    (EARLIEST..=now.saturating_add(AHEAD)).contains(&at)
}

/// The first believable of the candidates, else `fallback` (never after `now`).
pub(super) fn choose(header: Option<i64>, envelope: Option<i64>, fallback: i64, now: i64) -> i64 {
    header.filter(|t| believable(*t, now)).or(envelope.filter(|t| believable(*t, now))).unwrap_or(fallback.min(now))
}

/// The Date header of a message's header section (the bytes up to the first empty line;
/// folded lines joined), as Unix seconds; none when it is missing or does not parse.
pub(super) fn header_date(headers: &[u8]) -> Option<i64> {
    let mut value: Option<Vec<u8>> = None;
    for line in headers.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        match &mut value {
            // A folded continuation of the Date header.
            Some(v) if line[0] == b' ' || line[0] == b'\t' => v.extend_from_slice(line),
            Some(_) => break,
            None if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"date:") => value = Some(line[5..].to_vec()),
            None => {}
        }
    }
    let value = String::from_utf8_lossy(&value?).trim().to_string();
    let parsed = DateTime::parse_rfc822(&value)?;
    parsed.is_valid().then(|| parsed.to_timestamp())
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// The date of an mbox `From ` line (`From sender Sat Jan  3 01:05:34 1996`, the time in
/// UTC; a zone before or after the year is ignored) as Unix seconds.
pub(super) fn envelope_date(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line.get(5..)?).ok()?;
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    // The month is the first word (after the sender) naming one; day, time, year follow.
    let at = words.iter().skip(1).position(|w| month(w).is_some())? + 1;
    let month = month(words[at])?;
    let day: u8 = words.get(at + 1)?.parse().ok()?;
    let mut clock = words.get(at + 2)?.split(':').map(|n| n.parse::<u8>().ok());
    let (h, m) = (clock.next()??, clock.next()??);
    let s = clock.next().flatten().unwrap_or(0);
    let year: i32 = words[at + 3..].iter().take(2).find_map(|w| w.parse().ok().filter(|y| *y > 1900))?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let time = time::Time::from_hms(h, m, s).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp())
}

fn month(word: &str) -> Option<time::Month> {
    let i = MONTHS.iter().position(|m| word.len() == 3 && word.eq_ignore_ascii_case(m))?;
    time::Month::try_from(i as u8 + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_header_is_read_folded_and_in_any_case() {
        let h = b"From: a@b.example\r\nDATE: Mon, 3 Feb 2014\r\n 10:00:00 +0100\r\nSubject: x\r\n\r\nDate: no\r\n";
        assert_eq!(header_date(h), Some(1_391_418_000));
        assert_eq!(header_date(b"Subject: x\n\nDate: Mon, 3 Feb 2014 10:00:00 +0000\n"), None);
        assert_eq!(header_date(b"Date: yesterday\n\n"), None);
    }

    #[test]
    fn the_from_line_date_is_read_with_or_without_a_zone() {
        assert_eq!(envelope_date(b"From a@b.example Sat Jan  3 01:05:34 1996"), Some(820_631_134));
        assert_eq!(envelope_date(b"From a@b.example Sat Jan  3 01:05:34 +0000 1996\r\n"), Some(820_631_134));
        assert_eq!(envelope_date(b"From - Sat Jan 3 01:05 1996"), Some(820_631_100));
        assert_eq!(envelope_date(b"From here on, we will see"), None);
        assert_eq!(envelope_date(b"From x Feb 31 10:00:00 2000"), None);
        assert_eq!(envelope_date(b"From"), None);
    }

    #[test]
    fn an_unbelievable_date_gives_way_to_the_next() {
        let now = 1_700_000_000;
        assert_eq!(choose(Some(1_000_000_000), Some(1_100_000_000), 5, now), 1_000_000_000);
        assert_eq!(choose(Some(0), Some(1_100_000_000), 5, now), 1_100_000_000);
        assert_eq!(choose(Some(now + 10 * 86_400), None, 1_200_000_000, now), 1_200_000_000);
        assert_eq!(choose(None, None, now + 100, now), now);
    }
}
