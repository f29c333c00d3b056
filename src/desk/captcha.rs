//! The portal's own captcha, for forms strangers may send (direct sign-up): no third-party
//! service sees our customers, and none need be reachable. A signed, expiring
//! proof-of-work challenge is solved in the page by [`CAPTCHA_JS`] (about a second on a
//! phone); a browser without JavaScript answers a small arithmetic question instead. This
//! module owns the challenge, its signature and the rule that each is accepted once; it
//! keeps no state until a challenge is answered (then the store remembers its id until it
//! expires). It must never accept a challenge whose signature, expiry and answer it has
//! not all checked, and never tells the page more than which of them failed.
//!
//! # The challenge
//! One opaque ASCII string for a hidden field: `1.<id>.<bits>.<expires>.<signature>` — a
//! format version, 128 random bits (base64url), the leading zero bits the proof of work
//! needs, the Unix second it expires, and an HMAC-SHA256 (base64url) of the rest under a
//! key derived from the desk's secret with its own label. A solution is a nonce of 1 to
//! 16 digits such that SHA-256(`challenge` ":" `nonce`) starts with `bits` zero bits. The
//! fallback question ("What is 7 plus 4?") is derived from the id under the same key, so
//! its answer is bound to the signature without being written anywhere the page can read.
//!
//! # How much work
//! `portal.captcha_bits`, default 20: on average 2^20 (about a million) tries. The
//! script's SHA-256 does 2.9 million tries a second on one core of a 2020s Xeon under V8
//! (Node.js 20, the engine of Chromium): 0.4 s for 20 bits there. A mid-range phone runs
//! JavaScript two to three times slower (about a second), a cheap one five to seven times
//! (two to three seconds). The tries needed vary: one solve in twenty takes three times
//! the average. Each bit more doubles it all. The work costs a bot with native SHA-256
//! far less; it buys time, and the rate limits do the rest. So does the question, which
//! a bot written for this site reads as easily as a person: it is for people without
//! JavaScript, not against robots.
//!
//! # The HTML contract (`assets/captcha.js` documents the same at its top)
//! ```html
//! <form method="post" data-captcha>                        <!-- marks the form -->
//!   <input type="hidden" name="captcha" value="{{ challenge.token }}">
//!   <input type="hidden" name="captcha_nonce" value="">     <!-- the script fills it -->
//!   <div data-captcha-fallback>                             <!-- hidden by the script -->
//!     <label for="captcha_answer">{{ challenge.question }} (in digits)</label>
//!     <input id="captcha_answer" name="captcha_answer" required inputmode="numeric" autocomplete="off">
//!   </div>
//!   <p data-captcha-status aria-live="polite"></p>          <!-- optional: progress -->
//!   <button type="submit">Sign up</button>
//! </form>
//! <script src="/static/captcha.js" defer></script>
//! ```
//! The script hides the fallback and disables its input (so it is neither required nor
//! sent), disables the submit buttons while it works, then fills `captcha_nonce` and
//! enables them; if it fails or takes unusually long, the question comes back. The posted
//! fields are [`CaptchaForm`]'s: a nonce, when present, is checked; else the answer.
//!
//! # What the portal calls
//! [`issue`] for each page that shows the form (no database: pages stay cheap), and
//! [`verify`] on its POST, which consumes the challenge — right answer or wrong — so a
//! page shown after any refusal carries a new one. The portal serves [`CAPTCHA_JS`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::App;
use crate::store::{StoreError, now};

/// The captcha script, served by the portal as `text/javascript` and included with
/// `<script src=… defer>`. It lives here rather than beside the portal's styles because it
/// and [`verify`] share one contract — the challenge's format, the hash input, the field
/// names — and must change together; the portal only hands out its bytes.
pub const CAPTCHA_JS: &str = include_str!("../../assets/captcha.js");

/// The label of the key that signs challenges, derived from the desk's secret (see
/// [`crate::inbound::ReplyAddresses::derive_key`]).
const KEY_LABEL: &str = "portal captcha v1";

/// The format version, the challenge's first part.
const VERSION: &str = "1";

/// The longest challenge, nonce and answer read; anything longer is malformed.
const MAX_CHALLENGE: usize = 128;
const MAX_NONCE_DIGITS: usize = 16;
const MAX_ANSWER: usize = 32;

/// How long a used challenge is remembered past its expiry: another node whose clock is
/// behind ours by less than this still sees it as used.
const CLOCK_SKEW_SECS: i64 = 3600;

/// A challenge to show with a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The value of the hidden `captcha` field (see the module doc): id, difficulty,
    /// expiry and signature in one opaque ASCII string, safe in an HTML attribute.
    pub token: String,
    /// Leading zero bits the proof of work needs.
    pub bits: u8,
    /// When it stops being accepted (Unix seconds).
    pub expires_at: i64,
    /// The question for browsers without JavaScript, such as "What is 7 plus 4?": the
    /// label of the `captcha_answer` field.
    pub question: String,
}

/// The captcha's fields of a posted form; a portal form embeds it with
/// `#[serde(flatten)]` (and so cannot deny unknown fields). Missing fields are empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CaptchaForm {
    /// The challenge, as issued.
    pub captcha: String,
    /// The script's solution; empty without JavaScript.
    pub captcha_nonce: String,
    /// The answer to the fallback question; ignored when a nonce is sent.
    pub captcha_answer: String,
}

/// Why a captcha was refused. The messages are for the person at the form: each ends by
/// saying what to do; the page shown with it carries a new challenge.
#[derive(Debug, thiserror::Error)]
pub enum CaptchaError {
    /// The challenge is missing, cut short, altered, or not one of ours.
    #[error("The form's anti-robot check could not be read. Please send the form again.")]
    Malformed,
    /// The challenge was issued more than `portal.captcha_minutes` ago.
    #[error("The form's anti-robot check has expired. Please send the form again.")]
    Expired,
    /// Neither a solution nor an answer came with the challenge.
    #[error("Please answer the question.")]
    Unanswered,
    /// The answer to the question, or the script's solution, is wrong.
    #[error("The answer to the question is not right. Please try again.")]
    Wrong,
    /// The challenge was used already: a form sent twice, or a replay.
    #[error("This form was already sent once. Please send it again.")]
    Reused,
    /// The store could not record the use; nothing was accepted.
    #[error("The form cannot be checked just now. Please try again in a moment.")]
    Temporary(#[source] StoreError),
}

/// A new challenge for a form, valid for `portal.captcha_minutes`, asking
/// `portal.captcha_bits` of work.
pub fn issue(app: &App) -> Challenge {
    let config = app.config();
    let bits = u8::try_from(config.portal.captcha_bits).unwrap_or(u8::MAX);
    let lifetime = i64::try_from(config.portal.captcha_minutes.saturating_mul(60)).unwrap_or(i64::MAX / 2);
    Signer::of(app).challenge(rand::random(), bits, now().saturating_add(lifetime))
}

/// Checks the captcha of a posted form and consumes its challenge: `Ok` once for a right
/// solution or answer to a challenge of ours that has not expired. Any signed, unexpired
/// challenge is consumed whether the answer is right or not, so the few possible answers
/// to its question cannot be tried one by one.
pub async fn verify(app: &App, form: &CaptchaForm) -> Result<(), CaptchaError> {
    let now = now();
    let attempt = Signer::of(app).check(form, now)?;
    let right = attempt.right()?;
    let mut db = app.store.conn().await.map_err(CaptchaError::Temporary)?;
    if !db.use_captcha(&attempt.id, attempt.expires_at).await.map_err(CaptchaError::Temporary)? {
        db.release().await;
        return Err(CaptchaError::Reused);
    }
    // The table holds the challenges of one lifetime at most; a failed sweep is tried
    // again with the next one.
    if let Err(e) = db.sweep_captchas(now.saturating_sub(CLOCK_SKEW_SECS)).await {
        tracing::warn!(error = %e, "forgetting expired captcha challenges failed; trying again later");
    }
    db.release().await;
    if right { Ok(()) } else { Err(CaptchaError::Wrong) }
}

/// A nonce that solves `token`'s proof of work, found as the script finds it (counting up
/// from 0); `None` for a token that does not parse. For tests that send forms without a
/// browser.
pub fn solve(token: &str) -> Option<String> {
    let bits = parse(token)?.bits;
    (0u64..).map(|n| n.to_string()).find(|nonce| leading_zero_bits(token, nonce) >= u32::from(bits))
}

/// Signs and checks challenges under the captcha key: everything but the clock, the dice
/// and the database.
struct Signer {
    key: [u8; 32],
}

/// The parts of a challenge that parsed.
struct Parts<'a> {
    id: &'a str,
    bits: u8,
    expires_at: i64,
    signed: &'a str,
    signature: Vec<u8>,
}

/// A challenge of ours that has not expired, with what came to answer it.
#[derive(Debug)]
struct Attempt {
    id: String,
    expires_at: i64,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    /// The proof of work was (`true`) or was not met.
    Work(bool),
    /// The fallback question was answered rightly (`true`) or not.
    Question(bool),
    /// Nothing came.
    None,
}

impl Attempt {
    /// Whether the answer is right; an error when there was none.
    fn right(&self) -> Result<bool, CaptchaError> {
        match self.answer {
            Answer::Work(right) | Answer::Question(right) => Ok(right),
            Answer::None => Err(CaptchaError::Unanswered),
        }
    }
}

impl Signer {
    fn of(app: &App) -> Signer {
        Signer { key: app.reply_addresses.derive_key(KEY_LABEL) }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The challenge of `id`.
    fn challenge(&self, id: [u8; 16], bits: u8, expires_at: i64) -> Challenge {
        let id = URL_SAFE_NO_PAD.encode(id);
        let signed = format!("{VERSION}.{id}.{bits}.{expires_at}");
        let mut mac = self.mac();
        mac.update(b"challenge:");
        mac.update(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        let (a, b) = self.operands(&id);
        Challenge { token, bits, expires_at, question: format!("What is {a} plus {b}?") }
    }

    /// The two numbers of the question of challenge `id`: 2 to 12 and 1 to 9.
    fn operands(&self, id: &str) -> (u32, u32) {
        let mut mac = self.mac();
        mac.update(b"question:");
        mac.update(id.as_bytes());
        let bytes = mac.finalize().into_bytes();
        (2 + u32::from(bytes[0]) % 11, 1 + u32::from(bytes[1]) % 9)
    }

    /// Checks `form`'s challenge (signature, then expiry) and what came to answer it.
    fn check(&self, form: &CaptchaForm, now: i64) -> Result<Attempt, CaptchaError> {
        let token = form.captcha.trim();
        let parts = parse(token).ok_or(CaptchaError::Malformed)?;
        let mut mac = self.mac();
        mac.update(b"challenge:");
        mac.update(parts.signed.as_bytes());
        mac.verify_slice(&parts.signature).map_err(|_| CaptchaError::Malformed)?;
        if now > parts.expires_at {
            return Err(CaptchaError::Expired);
        }
        let nonce = form.captcha_nonce.trim();
        let answer = form.captcha_answer.trim();
        let answer = if !nonce.is_empty() {
            if nonce.len() > MAX_NONCE_DIGITS || !nonce.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CaptchaError::Malformed);
            }
            Answer::Work(leading_zero_bits(token, nonce) >= u32::from(parts.bits))
        } else if !answer.is_empty() {
            let (a, b) = self.operands(parts.id);
            Answer::Question(read_number(answer) == Some(a + b))
        } else {
            Answer::None
        };
        Ok(Attempt { id: parts.id.to_string(), expires_at: parts.expires_at, answer })
    }
}

/// The parts of `token`, if it is shaped like a challenge (its signature unchecked).
fn parse(token: &str) -> Option<Parts<'_>> {
    if token.len() > MAX_CHALLENGE {
        return None;
    }
    let (signed, signature) = token.rsplit_once('.')?;
    let mut parts = signed.split('.');
    let (version, id, bits, expires) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let id_ok = URL_SAFE_NO_PAD.decode(id).is_ok_and(|bytes| bytes.len() == 16);
    let bits: u8 = bits.parse().ok().filter(|b| (1..=32).contains(b))?;
    if version != VERSION || parts.next().is_some() || !id_ok {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok().filter(|s| s.len() == 32)?;
    Some(Parts { id, bits, expires_at: expires.parse().ok()?, signed, signature })
}

/// The leading zero bits of SHA-256(`token` ":" `nonce`).
fn leading_zero_bits(token: &str, nonce: &str) -> u32 {
    let digest = Sha256::new().chain_update(token).chain_update(":").chain_update(nonce).finalize();
    let mut zeros = 0;
    for byte in digest {
        zeros += byte.leading_zeros();
        if byte != 0 {
            break;
        }
    }
    zeros
}

/// The numbers an answer may spell out, as English words.
const WORDS: [&str; 22] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "twenty-one",
];

/// The whole number `text` says, in digits or as an English word up to twenty-one.
fn read_number(text: &str) -> Option<u32> {
    if text.len() > MAX_ANSWER {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let word = text.to_ascii_lowercase().replace(' ', "-");
    WORDS.iter().position(|w| *w == word).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn signer() -> Signer {
        Signer { key: [7; 32] }
    }

    fn issued(bits: u8) -> Challenge {
        signer().challenge([42; 16], bits, NOW + 1200)
    }

    fn form(challenge: &Challenge, nonce: &str, answer: &str) -> CaptchaForm {
        CaptchaForm {
            captcha: challenge.token.clone(),
            captcha_nonce: nonce.to_string(),
            captcha_answer: answer.to_string(),
        }
    }

    /// The answer to `challenge`'s question, read from the question.
    fn answer_of(challenge: &Challenge) -> u32 {
        let numbers: Vec<u32> = challenge
            .question
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        numbers.iter().sum()
    }

    fn right(attempt: Result<Attempt, CaptchaError>) -> Result<bool, CaptchaError> {
        attempt.and_then(|a| a.right())
    }

    #[test]
    fn a_challenge_is_one_opaque_string_with_a_question() {
        let c = issued(20);
        let parts: Vec<&str> = c.token.split('.').collect();
        assert_eq!(parts.len(), 5, "{}", c.token);
        assert_eq!((parts[0], parts[2], parts[3]), ("1", "20", "1800001200"));
        assert!(c.token.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{}", c.token);
        assert!(c.token.len() <= MAX_CHALLENGE);
        assert!(c.question.starts_with("What is ") && c.question.ends_with('?'), "{}", c.question);
        assert!((3..=21).contains(&answer_of(&c)));
        // Another id, another signature (and, mostly, another question).
        let other = signer().challenge([43; 16], 20, NOW + 1200);
        assert_ne!(other.token.rsplit('.').next(), c.token.rsplit('.').next());
    }

    #[test]
    fn a_nonce_found_in_rust_verifies_and_the_difficulty_is_honoured() {
        let c = issued(12);
        let nonce = solve(&c.token).unwrap();
        assert!(leading_zero_bits(&c.token, &nonce) >= 12);
        let attempt = signer().check(&form(&c, &nonce, ""), NOW).unwrap();
        assert_eq!(attempt.id, c.token.split('.').nth(1).unwrap());
        assert_eq!(attempt.expires_at, NOW + 1200);
        assert!(attempt.right().unwrap());
        // A nonce that meets fewer bits than asked does not.
        let weak = (0u64..).map(|n| n.to_string()).find(|n| (4..12).contains(&leading_zero_bits(&c.token, n))).unwrap();
        assert!(!right(signer().check(&form(&c, &weak, ""), NOW)).unwrap(), "{weak} is too weak");
        // Each bit doubles the work: on average 2^bits tries.
        let tries: u64 = (0..64u8)
            .map(|i| {
                let c = signer().challenge([i; 16], 8, NOW + 1200);
                solve(&c.token).unwrap().parse::<u64>().unwrap() + 1
            })
            .sum();
        assert!((64 * 256 / 2..64 * 256 * 2).contains(&tries), "{} tries on average for 8 bits", tries / 64);
    }

    #[test]
    fn a_wrong_nonce_and_a_wrong_answer_are_wrong_and_nothing_is_unanswered() {
        let c = issued(16);
        let wrong = (0u64..).map(|n| n.to_string()).find(|n| leading_zero_bits(&c.token, n) == 0).unwrap();
        assert!(!right(signer().check(&form(&c, &wrong, ""), NOW)).unwrap());
        let answer = answer_of(&c);
        assert!(!right(signer().check(&form(&c, "", &(answer + 1).to_string()), NOW)).unwrap());
        assert!(!right(signer().check(&form(&c, "", "many"), NOW)).unwrap());
        assert!(matches!(right(signer().check(&form(&c, " ", " "), NOW)), Err(CaptchaError::Unanswered)));
        // A nonce that is no number is not the script's.
        for nonce in ["12a", "-1", "12345678901234567"] {
            assert!(matches!(signer().check(&form(&c, nonce, ""), NOW), Err(CaptchaError::Malformed)), "{nonce}");
        }
        // A nonce, when sent, is what counts; the answer is then ignored.
        assert!(!right(signer().check(&form(&c, &wrong, &answer.to_string()), NOW)).unwrap());
    }

    #[test]
    fn the_fallback_answer_is_read_in_digits_or_words() {
        let c = issued(20);
        let answer = answer_of(&c);
        for text in [answer.to_string(), format!("  {answer} "), WORDS[answer as usize].to_uppercase()] {
            assert!(right(signer().check(&form(&c, "", &text), NOW)).unwrap(), "{text:?}");
        }
        assert_eq!(read_number("twenty one"), Some(21));
        assert_eq!(read_number("007"), Some(7));
        assert_eq!(read_number("99999999999999999999"), None);
        assert_eq!(read_number("٣"), None, "digits of other scripts are not read");
    }

    #[test]
    fn an_expired_challenge_is_refused_even_when_solved() {
        let c = issued(8);
        let nonce = solve(&c.token).unwrap();
        assert!(signer().check(&form(&c, &nonce, ""), NOW + 1200).is_ok(), "valid to its last second");
        assert!(matches!(signer().check(&form(&c, &nonce, ""), NOW + 1201), Err(CaptchaError::Expired)));
    }

    #[test]
    fn a_tampered_or_foreign_challenge_is_refused() {
        let c = issued(8);
        let nonce = solve(&c.token).unwrap();
        let parts: Vec<&str> = c.token.split('.').collect();
        let with = |i: usize, value: &str| {
            let mut p = parts.clone();
            p[i] = value;
            p.join(".")
        };
        let flipped_signature = {
            let mut sig = URL_SAFE_NO_PAD.decode(parts[4]).unwrap();
            sig[0] ^= 1;
            URL_SAFE_NO_PAD.encode(sig)
        };
        let tampered = [
            with(2, "1"),                               // less work
            with(3, "1900000000"),                      // a later expiry
            with(1, &URL_SAFE_NO_PAD.encode([43; 16])), // another id (a replay's way out)
            with(4, &flipped_signature),
        ];
        for token in &tampered {
            let f = CaptchaForm { captcha: token.clone(), captcha_nonce: nonce.clone(), ..CaptchaForm::default() };
            assert!(matches!(signer().check(&f, NOW), Err(CaptchaError::Malformed)), "{token}");
        }
        // Signed with another key: not ours.
        let foreign = Signer { key: [8; 32] };
        assert!(matches!(foreign.check(&form(&c, &nonce, ""), NOW), Err(CaptchaError::Malformed)));
    }

    #[test]
    fn malformed_challenges_are_refused_without_panicking() {
        let c = issued(8);
        let long = "1.".repeat(100);
        let malformed = [
            "",
            "1",
            "1....",
            "garbage",
            long.as_str(),
            &c.token[..c.token.len() - 1],
            &c.token.replacen("1.", "2.", 1),
            &c.token.replacen(".8.", ".0.", 1),
            &c.token.replacen(".8.", ".33.", 1),
            &c.token.replacen(".8.", ".8.9.", 1),
            &c.token.replacen(".1800001200.", ".soon.", 1),
            "1.é.8.1.é",
        ];
        for token in malformed {
            let f = CaptchaForm { captcha: token.to_string(), captcha_nonce: "1".into(), ..CaptchaForm::default() };
            assert!(matches!(signer().check(&f, NOW), Err(CaptchaError::Malformed)), "{token:?}");
            assert!(solve(token).is_none());
        }
    }

    #[test]
    fn the_script_is_embedded_and_keeps_the_contract() {
        for needle in
            ["data-captcha", "captcha_nonce", "captcha_answer", "data-captcha-fallback", "data-captcha-status"]
        {
            assert!(CAPTCHA_JS.contains(needle), "{needle}");
        }
        assert!(CAPTCHA_JS.contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert!(!CAPTCHA_JS.contains("crypto.subtle."), "the script brings its own SHA-256");
        assert!(CAPTCHA_JS.is_ascii(), "read the same whatever charset it is served with");
    }
}
