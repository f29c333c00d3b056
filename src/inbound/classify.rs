//! Recognising mail no person wrote: auto-replies (RFC 3834), bounces (RFC 3464),
//! feedback reports (RFC 5965), mailing lists and bulk mail, and our own mail coming back.
//! Such mail never opens a ticket and is never answered.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::parse::{Parsed, is_daemon_local_part};
use super::{bounce, ses};

/// The kinds of automatic mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auto {
    /// Out-of-office and other automatic responses, and our own mail looping back.
    AutoReply,
    /// A delivery failure report.
    Bounce,
    /// Mail from a mailing list.
    List,
    /// Newsletters and other bulk mail.
    Bulk,
    /// An abuse or feedback report (ARF).
    FeedbackReport,
}

impl Auto {
    /// The stable text used in JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Auto::AutoReply => "auto-reply",
            Auto::Bounce => "bounce",
            Auto::List => "list",
            Auto::Bulk => "bulk",
            Auto::FeedbackReport => "feedback-report",
        }
    }
}

/// Subjects automatic responders use, in several languages; matched at the start of the
/// subject only, so a person's "Re: Automatic reply: …" is not taken for one.
static AUTO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(auto(matic)?[ -]?(reply|response|answer)|autoreply|auto:|out of (the )?office|ooo(?-u:\b)|vacation (reply|response|notice|message|auto)|away from (my )?(desk|office|e-?mail)|abwesenheitsnotiz|automatische antwort|abwesend|réponse automatique|absence du bureau|respuesta automática|fuera de la oficina|risposta automatica|fuori sede|automatisch antwoord|afwezig|resposta automática|fora do escritório|autosvar|frånvaro|automaattinen vastaus|automatyczna odpowiedź|nieobecność|automatická odpověď|otomatik yanıt|αυτόματη απάντηση|автоответ|автоматический ответ|自動応答|自動返信|不在通知|自动回复|自動回覆|자동 회신|자동 응답)",
    )
    .expect("valid pattern")
});

/// Subjects of delivery failure reports, also from MTAs that do not send RFC 3464 reports.
static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(undeliver|undelivered mail|((message|mail|e-?mail) )?delivery (status notification|failure|failed|has failed|notification|report|problem|error)|returned mail|mail delivery (failed|failure|subsystem|system)|failure notice|nondeliverable|non-delivery|delivery failure|mail system error|warning: could not send|delayed mail|message not delivered|unzustellbar|nicht zustellbar|non remis|non distribuable|no se puede entregar|não entregue|non recapitabile|onbestelbaar|kan niet worden bezorgd|olevererbart|kunde inte levereras|nie można dostarczyć|nedoručitelné|не доставлено|недоставленное сообщение|配信不能|投递失败|無法傳遞|전달되지 않음)",
    )
    .expect("valid pattern")
});

/// Whether `subject` may match [`AUTO_SUBJECT`]: it starts as one of its phrases does.
/// Most subjects fail, and the pattern is then not even compiled (that is most
/// of its cost in a short-lived `maildesk ingest`).
fn may_be_auto_subject(subject: &str) -> bool {
    let subject = subject.trim_start();
    // Each phrase starts with one of these (in lower case, and "ſ" an "s" as regex's case
    // folding takes it); a reply or a forward ("Re:", "AW:", "Fwd:") starts none of them.
    const STARTS: [&str; 24] = [
        "auto",
        "out of ",
        "ooo",
        "vacation ",
        "away from ",
        "abwesen",
        "réponse automatique",
        "absence du bureau",
        "respuesta automática",
        "fuera de la oficina",
        "risposta automatica",
        "fuori sede",
        "afwezig",
        "resposta automática",
        "fora do escritório",
        "frånvaro",
        "nieobecność",
        "otomatik yanıt",
        "αυτόματη απάντηση",
        "авто",
        "自動",
        "不在通知",
        "自动回复",
        "자동 ",
    ];
    let start: String =
        subject.chars().take(20).flat_map(char::to_lowercase).map(|c| if c == 'ſ' { 's' } else { c }).collect();
    STARTS.iter().any(|s| start.starts_with(s))
}

/// Whether `subject` may match [`BOUNCE_SUBJECT`]: it does not start as a reply or a
/// forward (the pattern is anchored at the start) and its first letter starts one of its
/// words.
fn may_be_bounce_subject(subject: &str) -> bool {
    let subject = subject.trim_start();
    let first = subject.chars().next().and_then(|c| c.to_lowercase().next());
    let reply = subject.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:") || p.eq_ignore_ascii_case("fw"));
    if reply || !first.is_some_and(|c| "udrmfnweokнп配投無전".contains(c)) {
        return false;
    }
    // Each of its phrases holds one of these words: "Mailbox quota exceeded" need not
    // compile the pattern to fail it.
    const WORDS: [&str; 23] = [
        "deliver",
        "returned mail",
        "failure notice",
        "mail system error",
        "could not send",
        "delayed mail",
        "zustellbar",
        "non remis",
        "distribuable",
        "entregar",
        "entregue",
        "recapitabile",
        "bestelbaar",
        "bezorgd",
        "levererbart",
        "levereras",
        "dostarczyć",
        "nedoručitelné",
        "доставлен",
        "配信不能",
        "投递失败",
        "無法傳遞",
        "전달되지",
    ];
    let lower = subject.to_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

/// Whether the subject is a delivery failure report's ([`BOUNCE_SUBJECT`], behind its guard).
fn bounce_subject(subject: &str) -> bool {
    may_be_bounce_subject(subject) && BOUNCE_SUBJECT.is_match(subject)
}

/// Whether a display name may match [`DAEMON_NAME`] (which needs "mail" or "postmaster").
fn may_be_daemon_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("mail") || name.contains("postmaster")
}

/// Display names MTAs send their reports under.
static DAEMON_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(mail delivery (system|subsystem|service)|mailer[- ]daemon|postmaster|mail administrator)\s*$")
        .expect("valid pattern")
});

/// Loop-prevention headers other helpdesks put on their automatic mail.
const HELPDESK_LOOP_HEADERS: &[&str] = &["rt-loop-prevention", "x-otrs-loop", "x-znuny-loop", "x-zammad-loop"];

pub(super) fn classify(m: &Parsed, notification: Option<&ses::Notification>, own_domain: &str) -> Option<Auto> {
    let header = |name: &str| m.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_ascii_lowercase());
    let daemon_sender = m.daemon_sender
        || m.from.address.as_ref().is_some_and(|a| is_daemon_local_part(a.local_part()))
        || m.from.name.as_deref().is_some_and(|n| may_be_daemon_name(n) && DAEMON_NAME.is_match(n));

    if m.content_type == "multipart/report" {
        match m.report_type.as_deref() {
            Some("feedback-report") => return Some(Auto::FeedbackReport),
            // A report that every recipient got the mail (RFC 3464 Action: delivered,
            // relayed or expanded) is a receipt, not a failure.
            Some("delivery-status") if all_delivered(m) => return Some(Auto::AutoReply),
            Some("delivery-status") => return Some(Auto::Bounce),
            Some("disposition-notification") => return Some(Auto::AutoReply),
            _ => {}
        }
    }
    let failed_recipients = header("x-failed-recipients").is_some();
    // A daemon's out-of-office (a postmaster away, a vacation notice sent as `<>`) says so.
    let auto_subject = may_be_auto_subject(&m.subject) && AUTO_SUBJECT.is_match(&m.subject);
    let daemon_bounce = daemon_sender && (!auto_subject || bounce_subject(&m.subject));
    if daemon_bounce || failed_recipients || (m.null_return_path && bounce_subject(&m.subject)) {
        return Some(Auto::Bounce);
    }
    match notification {
        Some(ses::Notification::Bounce { .. }) => return Some(Auto::Bounce),
        Some(ses::Notification::Complaint) => return Some(Auto::FeedbackReport),
        Some(ses::Notification::Delivery) => return Some(Auto::AutoReply),
        None => {}
    }
    // RFC 3834: any value but "no" marks mail no person wrote.
    let auto_submitted = header("auto-submitted").is_some_and(|v| !v.starts_with("no"));
    if carrier_bounce(m, auto_submitted) {
        return Some(Auto::Bounce);
    }
    if m.headers.iter().any(|(n, _)| HELPDESK_LOOP_HEADERS.contains(&n.as_str())) {
        return Some(Auto::AutoReply);
    }
    if auto_submitted {
        return Some(Auto::AutoReply);
    }
    if m.headers.iter().any(|(n, _)| n == "x-autoreply" || n == "x-autorespond" || n == "x-autogenerated") {
        return Some(Auto::AutoReply);
    }
    if header("delivered-to").is_some_and(|v| v.contains("autoresponder")) {
        return Some(Auto::AutoReply);
    }
    if own_mail(m, own_domain) {
        return Some(Auto::AutoReply);
    }
    match header("precedence").or_else(|| header("x-precedence")).as_deref().map(str::trim) {
        Some("auto_reply" | "auto-reply") => return Some(Auto::AutoReply),
        Some("list") => return Some(Auto::List),
        Some("bulk" | "junk") => return Some(Auto::Bulk),
        _ => {}
    }
    const LIST_HEADERS: &[&str] = &["list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mailing-list"];
    if LIST_HEADERS.iter().any(|h| header(h).is_some()) {
        return Some(Auto::List);
    }
    // X-Loop, whatever its value, is what procmail, scripts and helpdesks put on the mail
    // their automation sends (list managers too, whose List-* headers decided above; ours
    // names our domain, see own_mail).
    if m.headers.iter().any(|(n, _)| n == "x-loop") {
        return Some(Auto::AutoReply);
    }
    // Outlook sets this on its automatic replies; notification services (GitHub) set it
    // on list mail too, so the list headers above decide first.
    if header("x-auto-response-suppress").is_some_and(|v| ["all", "oof", "autoreply"].iter().any(|w| v.contains(w))) {
        return Some(Auto::AutoReply);
    }
    if auto_subject {
        return Some(Auto::AutoReply);
    }
    if m.null_return_path || daemon_sender {
        return Some(Auto::AutoReply);
    }
    None
}

/// Local parts of the senders gateways, carriers and mail services send their failure
/// notices from (besides the daemons'): no-reply addresses, bounce handlers, notifiers.
static AUTOMATED_LOCAL_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|bounces?|bounce[-_+.].*|.*[-_.]bounces?|mailer|mail[-_.]?(router|gateway|admin|system)|mailadmin|(sms|mms|mail|smtp)[-_.]?gateway|notifications?|notify|auto[-_.]?(reply|responder|notice)|system|nobody|root|daemon)$",
    )
    .expect("valid pattern")
});

/// How MTAs, gateways and carriers word a failure to deliver (in the first part of their
/// text): the wording of a machine, not of a person writing about a parcel.
static FAILURE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)(
            this\sis\sthe\smail\s(system|delivery\sagent)\sat |
            (i'm|i\sam)\s(afraid|sorry)\s.*(wasn't|was\snot|could\snot|couldn't|unable)\s.*deliver |
            (message|mail|e-?mail)\s.*(could\snot|cannot|can't|was\snot|wasn't|has\snot\sbeen|couldn't)\s(be\s)?deliver |
            (could\snot|cannot|unable\sto)\s(be\s)?deliver(ed)?\s.*(to\s)?(the\sfollowing|one\sor\smore|recipient|address|your\smessage) |
            delivery\s(to\sthe\sfollowing\srecipients?\s)?(has\s)?(permanently\s)?failed |
            delivery\shas\sfailed\sto\sthese\srecipients |
            following\s(addresses|recipients?)\s(had|failed|could\snot) |
            permanent\s(fatal\s)?errors? |
            recipient\saddress\srejected | user\sunknown | unknown\suser | no\ssuch\s(user|recipient|mailbox|address) |
            mailbox\s(unavailable|not\sfound|is\sfull|full|does\snot\sexist|disabled|quota\sexceeded) |
            (account|address)\s(does\snot\sexist|is\sdisabled|is\sinactive|not\sfound) |
            smtp\serror\sfrom\sremote | remote\s(host|server)\s(said|replied|returned) |
            not\slisted\sin\s(the\s)?(public\s|domino\s)?(name|directory) |
            returned\sto\ssender | undeliverable\smessage | message\snot\sdelivered | non-?delivery\sreport |
            (?-u:\b)5[0-5]\d[\s-]+5\.\d{1,3}\.\d{1,3}(?-u:\b) |
            konnte\snicht\s(zugestellt|ausgeliefert) | unzustellbar | n'a\spas\spu\sêtre\s(remis|distribué|délivré) |
            no\sse\s(pudo|ha\spodido)\sentregar | não\s(foi\spossível\sentregar|pôde\sser\sentregue) |
            non\s(è\sstato\spossibile\sconsegnare|recapitabile) | kon\sniet\sworden\s(bezorgd|afgeleverd) |
            配信できませんでした | 无法投递 | 投递失败 | 退信
        )",
    )
    .expect("valid pattern")
});

/// Technical text only MTAs write: an SMTP reply with an enhanced status code, their
/// self-introduction, the fields of a delivery report.
static MTA_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)((?-u:\b)[45]\d\d[\s-]+#?[45]\.\d{1,3}\.\d{1,3}(?-u:\b)|this is the mail (system|delivery agent) at|this is the qmail-send program|smtp error from remote|remote (host|server) (said|replied|returned)|diagnostic[- ]code:|reporting-mta:|final-recipient:)",
    )
    .expect("valid pattern")
});

/// Words of a failure notice anywhere in a subject ("Message delivery failure",
/// "Your message could not be delivered", "[gateway] Undeliverable").
static FAILURE_SUBJECT_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(undeliver|not (be )?delivered|delivery (failure|failed|error|problem|status)|returned mail|failure notice|bounced?(?-u:\b)|unzustellbar|non remis)")
        .expect("valid pattern")
});

/// Whether `subject` holds [`FAILURE_SUBJECT_WORDS`]. Each of its phrases holds one of
/// the words of the guard, which keeps the pattern from being compiled for most subjects.
fn failure_subject_words(subject: &str) -> bool {
    const GUARD: [&str; 6] = ["deliver", "returned mail", "failure notice", "bounce", "unzustellbar", "non remis"];
    let lower = subject.to_ascii_lowercase();
    GUARD.iter().any(|w| lower.contains(w)) && FAILURE_SUBJECT_WORDS.is_match(subject)
}

/// A failure notice without a delivery-status part, from a carrier, a gateway or a mail
/// service: a failure subject with a machine's sender, the original returned, an
/// `Auto-Submitted` header or an MTA's technical text; or a machine's sender and a
/// machine's failure wording with the original returned or failure words in the subject.
/// A person writing about a failed delivery (a parcel, their mail that came back) has
/// none of these.
fn carrier_bounce(m: &Parsed, auto_submitted: bool) -> bool {
    let automated = || m.from.address.as_ref().is_none_or(|a| AUTOMATED_LOCAL_PART.is_match(a.local_part()));
    // The start of the text, where reports say what failed.
    let head = m.text.get(..m.text.floor_char_boundary(4000)).unwrap_or(&m.text);
    if bounce_subject(&m.subject) {
        return automated()
            || m.attachments.iter().any(bounce::is_returned)
            || auto_submitted
            || MTA_TEXT.is_match(head);
    }
    (m.attachments.iter().any(bounce::is_returned) || failure_subject_words(&m.subject))
        && automated()
        && FAILURE_TEXT.is_match(head)
}

/// Whether the delivery-status part of a report names recipients and says each was
/// delivered, relayed or expanded (RFC 3464 2.3.3), none failed or delayed.
fn all_delivered(m: &Parsed) -> bool {
    let Some(status) = bounce::status_part(&m.attachments) else { return false };
    let text = String::from_utf8_lossy(&status.bytes);
    let actions: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("action"))
        .map(|(_, value)| value.trim().to_ascii_lowercase())
        .collect();
    !actions.is_empty()
        && actions.iter().all(|a| a.starts_with("delivered") || a.starts_with("relayed") || a.starts_with("expanded"))
}

/// Our own outgoing mail carries `X-Loop` with our domain and Message-IDs `md.…@domain`.
fn own_mail(m: &Parsed, own_domain: &str) -> bool {
    let loop_header =
        m.headers.iter().any(|(n, v)| n == "x-loop" && v.to_ascii_lowercase().ends_with(&format!("@{own_domain}")));
    let own_id = m
        .message_id
        .as_deref()
        .is_some_and(|id| id.starts_with("md.") && id.to_ascii_lowercase().ends_with(&format!("@{own_domain}")));
    loop_header || own_id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> Option<Auto> {
        let parsed = crate::inbound::parse::parse(raw.as_bytes(), 100).unwrap();
        classify(&parsed, None, "helpdesk.example")
    }

    #[test]
    fn failure_notices_without_a_report_part_are_bounces_and_people_writing_of_failures_are_not() {
        let mail = |from: &str, subject: &str, body: &str| format!("From: {from}\nSubject: {subject}\n\n{body}\n");
        // A failure subject with a machine's sender, or with an MTA's technical text.
        assert_eq!(kind(&mail("no-reply@gw.example", "Undeliverable: hello", "It failed.")), Some(Auto::Bounce));
        assert_eq!(
            kind(&mail("Mail System <mail@corp.example>", "Undelivered Mail", "550 5.1.1 user unknown")),
            Some(Auto::Bounce)
        );
        // A machine's sender and wording, failure words in the subject.
        assert_eq!(
            kind(&mail(
                "notifications@sms.example",
                "Message delivery failure",
                "Your message could not be delivered."
            )),
            Some(Auto::Bounce)
        );
        // The null sender or a daemon: a bounce, unless it says it is an auto-reply.
        assert_eq!(kind(&mail("MAILER-DAEMON <>", "hello", "x")), Some(Auto::Bounce));
        assert_eq!(kind(&mail("<>", "Out of office: hello", "Away.")), Some(Auto::AutoReply));
        // People.
        assert_eq!(
            kind(&mail("jane@example.org", "Delivery failure on order 7", "The parcel could not be delivered.")),
            None
        );
        assert_eq!(kind(&mail("jane@example.org", "Undeliverable mail?", "I get user unknown from billing.")), None);
        assert_eq!(
            kind(&mail("jane@example.org", "Fwd: Undelivered Mail Returned to Sender", "550 5.1.1 user unknown")),
            None
        );
        assert_eq!(kind(&mail("no-reply@shop.example", "Your order", "Your parcel could not be delivered.")), None);
    }

    /// The guards only skip work: every fixture subject and sender name the patterns match,
    /// and each auto-reply word in each case, passes its guard.
    #[test]
    fn the_guards_never_hide_a_match() {
        let mut subjects: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for value in crate::inbound::fixture_interpretations() {
            subjects.push(value["subject"].as_str().unwrap_or_default().to_string());
            names.push(value["from"]["name"].as_str().unwrap_or_default().to_string());
        }
        // Every phrase of the pattern, spelled out, as typed and in capitals after spaces.
        let pattern = AUTO_SUBJECT.as_str().replace("(?-u:\\b)", "");
        let phrases = crate::inbound::spell_out(&pattern["(?i)^\\s*(".len()..pattern.len() - 1], false);
        assert!(phrases.len() > 60 && phrases.contains(&"out of the office".to_string()), "{phrases:?}");
        for phrase in phrases {
            subjects.push(format!("  {}: back on Monday", phrase.to_uppercase()));
            subjects.push(phrase);
        }
        let matched: Vec<&String> = subjects.iter().filter(|s| AUTO_SUBJECT.is_match(s)).collect();
        assert!(matched.len() > 120, "{}", matched.len());
        for s in matched {
            assert!(may_be_auto_subject(s), "the guard hides {s:?}");
        }
        assert!(!may_be_auto_subject("Problem report 5") && !may_be_auto_subject(""));
        assert!(!may_be_auto_subject("Re: [Support #5] Out of office") && !may_be_auto_subject("FWD: offer"));
        // One subject for each phrase of the pattern, as written and in capitals.
        let phrases = [
            "Undeliverable: Printer",
            "Undelivered Mail Returned to Sender",
            "Delivery Status Notification (Failure)",
            "Mail delivery failed: returning message",
            "E-mail delivery problem",
            "Returned mail: see transcript",
            "Mail Delivery Subsystem",
            "failure notice",
            "Nondeliverable mail",
            "Non-delivery report",
            "Delivery failure",
            "Mail System Error - Returned Mail",
            "Warning: could not send message",
            "Delayed Mail (still being retried)",
            "Message not delivered",
            "Unzustellbar: Drucker",
            "Nicht zustellbar",
            "Non remis : imprimante",
            "Non distribuable",
            "No se puede entregar",
            "Não entregue",
            "Non recapitabile",
            "Onbestelbaar: printer",
            "Kan niet worden bezorgd",
            "Olevererbart",
            "Kunde inte levereras",
            "Nie można dostarczyć",
            "Nedoručitelné",
            "Не доставлено",
            "Недоставленное сообщение",
            "配信不能",
            "投递失败",
            "無法傳遞",
            "전달되지 않음",
        ];
        for phrase in phrases {
            assert!(BOUNCE_SUBJECT.is_match(phrase), "{phrase}");
            subjects.push(phrase.to_string());
            subjects.push(phrase.to_uppercase());
        }
        assert!(!may_be_bounce_subject("Mailbox quota exceeded") && !may_be_bounce_subject("Order 5 delayed"));
        let bounces: Vec<&String> = subjects.iter().filter(|s| BOUNCE_SUBJECT.is_match(s)).collect();
        assert!(bounces.len() > 30, "{}", bounces.len());
        for s in bounces {
            assert!(may_be_bounce_subject(s), "the guard hides {s:?}");
        }
        assert!(!may_be_bounce_subject("Re: Undelivered Mail Returned to Sender"));
        let matched: Vec<&String> = names.iter().filter(|n| DAEMON_NAME.is_match(n)).collect();
        assert!(!matched.is_empty());
        assert!(matched.iter().all(|n| may_be_daemon_name(n)));
    }
}
