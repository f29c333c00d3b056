//! Unit tests of reply stripping, rule by rule.

use super::patterns::*;
use super::*;

/// The new text of a reply (not a forward).
fn reply(text: &str) -> String {
    visible_reply(text, "Re: [Support #3] Printer")
}

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
        ">>> Ann Lee <ann@example.org> 03.03.2026 10:02 >>>",
        "2026-03-05 10:02 GMT+01:00 Ann <a@x.example>:",
        "*--- Original Message ---*",
        "Thanks, Priya",
        "##- Please type your reply above this line -##",
    ] {
        lines.push(known.to_string());
    }
    let guarded: [(&str, &Guarded); 15] = [
        ("ATTRIBUTION", &ATTRIBUTION),
        ("ATTRIBUTION_RUN_ON", &ATTRIBUTION_RUN_ON),
        ("ATTRIBUTION_START", &ATTRIBUTION_START),
        ("ATTRIBUTION_DATE_ADDRESS", &ATTRIBUTION_DATE_ADDRESS),
        ("ORIGINAL_MESSAGE", &ORIGINAL_MESSAGE),
        ("FORWARDED", &FORWARDED),
        ("HEADER_FROM", &HEADER_FROM),
        ("HEADER_NEXT", &HEADER_NEXT),
        ("MOBILE_FOOTER", &MOBILE_FOOTER),
        ("DATE_FIRST", &DATE_FIRST),
        ("GROUPWISE", &GROUPWISE),
        ("FORWARD_SEPARATOR", &FORWARD_SEPARATOR),
        ("HEADER_DATE", &HEADER_DATE),
        ("CLOSING", &CLOSING),
        ("REPLY_ABOVE", &REPLY_ABOVE),
    ];
    for (name, g) in guarded {
        let matched: Vec<&String> = lines.iter().filter(|l| g.regex.is_match(l)).collect();
        assert!(!matched.is_empty(), "{name} matches some fixture line");
        for line in matched {
            assert!((g.may_match)(line), "{name}: the guard hides a match: {line:?}");
        }
        for line in lines.iter().filter(|l| (g.sure_match)(l)) {
            assert!(g.regex.is_match(line), "{name}: a sure match is none: {line:?}");
        }
    }
    // Each plain closing, as typed, is a closing without a name.
    for c in PLAIN_CLOSINGS {
        let mut chars = c.chars();
        let capital: String = chars.next().into_iter().flat_map(char::to_uppercase).chain(chars).collect();
        // As typed: known. In capitals: known unless capitals change it (ß → SS), then left
        // to the pattern. Every line known is a closing without a name.
        for (typed, known) in
            [(format!("{capital},"), true), (format!("  {c}!"), true), (c.to_uppercase(), !c.contains('ß'))]
        {
            assert_eq!(is_plain_closing(&typed), known, "{typed}");
            if known {
                let caps = CLOSING.regex.captures(&typed).unwrap_or_else(|| panic!("{typed}"));
                assert!(caps.name("name").is_none(), "{typed}");
            }
        }
    }
    for not in ["Best regards, Ann", "Best  regards", "Thanks , ", "Thanks for the fix"] {
        assert!(!is_plain_closing(not), "{not}");
    }
    // Lines the attribution start is sure of, and lines it leaves to the pattern.
    for (line, sure) in [
        ("16:00 CET. We noticed", true),
        ("> 3.3.2026, Ann:", true),
        ("access, I am free at 10:00", true),
        ("Tue., 3 Mar 2026", true),
        ("access, I am free", false),
        ("averylongword, at 10", false),
        (">> 10:00", false),
    ] {
        assert_eq!((ATTRIBUTION_START.sure_match)(line), sure, "{line}");
        if sure {
            assert!(ATTRIBUTION_START.regex.is_match(line), "{line}");
        }
    }
}

#[test]
fn every_word_of_every_closing_phrase_is_known() {
    let pattern = CLOSING.regex.as_str();
    let start = pattern.find("^\\s*(").unwrap() + "^\\s*(".len();
    let end = pattern.find(")\\s*[,.!]*").unwrap();
    let phrases = crate::inbound::spell_out(&pattern[start..end], true);
    assert!(phrases.len() > 120, "{}", phrases.len());
    assert!(
        phrases.contains(&"mit freundlichen grüßen".to_string()) && phrases.contains(&"with kind regards".to_string())
    );
    let mut hidden = Vec::new();
    for phrase in &phrases {
        for word in phrase.split(' ') {
            assert!(is_closing_word(word), "{word:?} of {phrase:?} is not a closing word");
        }
        let mut chars = phrase.chars();
        let capital: String = chars.next().into_iter().flat_map(char::to_uppercase).chain(chars).collect();
        // In capitals unless capitals change it: "SAYGILARIMLA" (ı has no capital of its own).
        let upper = phrase.to_uppercase();
        let upper = Some(format!("{upper}!")).filter(|_| upper.to_lowercase() == *phrase);
        for line in [Some(phrase.clone()), Some(format!("{capital},")), upper, Some(format!("{capital}, Ann Lee"))] {
            let Some(line) = line else { continue };
            assert!(CLOSING.regex.is_match(&line), "{line:?}");
            if !CLOSING.is_match(&line) {
                hidden.push(line);
            }
        }
    }
    assert!(hidden.is_empty(), "the guard hides {hidden:?}");
    // Each phrase of the forward line passes its guard; a line that only ends with a colon
    // does not.
    let pattern = FORWARDED.regex.as_str();
    let start = pattern.find("^\\s*(").unwrap() + "^\\s*(".len();
    let forwards = crate::inbound::spell_out(&pattern[start..pattern.find(")\\s*[").unwrap()], false);
    assert_eq!(forwards.len(), 12);
    for phrase in forwards {
        for line in [format!("{phrase}:"), format!("  {} ：", phrase.to_uppercase())] {
            assert!(FORWARDED.regex.is_match(&line) && (FORWARDED.may_match)(&line), "{line:?}");
        }
    }
    assert!(!(FORWARDED.may_match)("Here is the log:") && !(FORWARDED.may_match)("Begin with this"));
    // Running text that starts as a closing is told without the pattern.
    for line in ["Thanks for your help!", "Best case we restart at 10", "With the new version", "Obrigado pela atenção"]
    {
        assert!(!CLOSING.is_match(line) && !CLOSING.regex.is_match(line), "{line}");
    }
}

#[test]
fn german_mobile_footers_end_gesendet() {
    for footer in ["Von meinem iPhone gesendet", "Mit Mail für Android gesendet.", "VON MEINEM HANDY GESENDET"] {
        assert!((MOBILE_FOOTER.may_match)(footer) && MOBILE_FOOTER.regex.is_match(footer), "{footer}");
        assert!(is_mobile_footer(footer), "{footer}");
    }
    // A Turkish one that happens to start as a German one does.
    assert!((MOBILE_FOOTER.may_match)("Vonage'dan gönderildi") && is_mobile_footer("Vonage'dan gönderildi"));
    for text in ["Mit freundlichen Grüßen aus Köln, und vielen Dank", "Von Montag an geht es wieder"] {
        assert!(!(MOBILE_FOOTER.may_match)(text) && !MOBILE_FOOTER.regex.is_match(text), "{text}");
    }
}

#[test]
fn gmail_style_history_is_cut() {
    let t = "Thanks, that fixed it.\n\nOn Mon, 23 Nov 2026 at 10:02, Support <support@x.example> wrote:\n> Please restart.\n> Bye\n";
    assert_eq!(reply(t), "Thanks, that fixed it.");
}

#[test]
fn wrapped_attribution_is_recognised() {
    let t = "Yes.\n\nOn Mon, 23 Nov 2026 at 10:02, Support Team <support@x.example>\nwrote:\n> old\n";
    assert_eq!(reply(t), "Yes.");
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
        assert_eq!(reply(&t), "New text.", "missed: {attribution}");
    }
}

#[test]
fn outlook_header_blocks_are_cut() {
    let t = "It still fails.\n\n________________________________\nFrom: Support <support@x.example>\nSent: Monday, November 23, 2026 10:02\nTo: Jane\nSubject: [Support #3] Printer\n\nPlease restart.\n";
    assert_eq!(reply(t), "It still fails.");
    let t = "Ok.\n\n-----Original Message-----\nFrom: Support\nPlease restart.\n";
    assert_eq!(reply(t), "Ok.");
    let t = "Geht wieder.\n\nVon: Support <s@x.example>\nGesendet: Montag, 23. November 2026 10:02\nAn: Jana\nBetreff: AW: Drucker\n\nalt\n";
    assert_eq!(reply(t), "Geht wieder.");
}

#[test]
fn inline_answers_are_kept_whole() {
    let t = "See below.\n\nOn Mon, 23 Nov 2026, Support wrote:\n> What model is it?\nAn HP 4000.\n> Which floor?\nThe third.\n";
    assert_eq!(reply(t), t.trim());
}

#[test]
fn signature_and_mobile_footer_are_removed() {
    assert_eq!(reply("Hello\n\n-- \nJane Doe\nACME\n"), "Hello");
    assert_eq!(reply("Works now\n\nSent from my iPhone\n"), "Works now");
    assert_eq!(reply("Danke!\n\nVon meinem iPhone gesendet\n"), "Danke!");
    assert_eq!(reply("Danke!\n\nAm 23.11.2026 um 10:02 schrieb Support <s@x.example>:\n> Hallo\n"), "Danke!");
}

#[test]
fn marked_quote_containers_cut_and_markers_never_show() {
    let t = format!("New words\n\n{QUOTE_MARKER}On Mon X wrote:\n> old\n");
    assert_eq!(reply(&t), "New words");
    let inline = format!("Intro\n{QUOTE_MARKER}> q1\nanswer 1\n> q2\nanswer 2\n");
    let kept = reply(&inline);
    assert!(kept.contains("answer 2") && !kept.contains(QUOTE_MARKER), "{kept}");
}

#[test]
fn all_quote_keeps_everything() {
    assert_eq!(reply("> only a quote\n"), "> only a quote");
}
#[test]
fn attributions_wrapped_over_up_to_five_lines_are_cut_from_their_first_line() {
    let cases = [
        "On Tue, Mar 3, 2026 at 10:02 AM John Smith <\njohn@example.com> wrote:",
        "On 3 March 2026 at 10:02, Ann Lee\n<ann@example.org> wrote:",
        "On Tue, 3 Mar 2026, 10:02 Support Team of the Example Logistics\nInternational Group, <support-team@\nhelpdesk.example> wrote:",
        "On Tue, Mar 3, 2026 at 10:02 AM\nCustomer Support Team of Example Logistics International\n<support@helpdesk.example>\nwrote:",
        "Am Di., 3. März 2026 um 10:02 Uhr schrieb Maildesk Support der Beispiel AG <\nsupport@helpdesk.example>:",
        "2026年3月3日(火) 10:02 株式会社エグザンプル サポート窓口 <\nsupport@helpdesk.example>:",
        "> On 3 March 2026 at 10:02, Maildesk Support Desk\n> <support@helpdesk.example> wrote:",
    ];
    for attribution in cases {
        let t = format!("New text.\n\n{attribution}\n\n> old text\n> more\n");
        assert_eq!(reply(&t), "New text.", "missed: {attribution}");
    }
}

#[test]
fn a_sentence_above_an_attribution_stays() {
    let t = "On Monday it failed 3 times, today again.\nOn Tue, 3 Mar 2026 at 10:02 Ann <a@x.example> wrote:\n> old\n";
    assert_eq!(reply(t), "On Monday it failed 3 times, today again.");
    let t = "I checked it twice and it failed on 3 machines\nAnn Lee <a@x.example> wrote:\n> old\n";
    assert_eq!(reply(t), "I checked it twice and it failed on 3 machines");
}

#[test]
fn date_first_attributions_cut_unquoted_history_too() {
    for attribution in [
        "3.5.2026, 10:02, \"Ann\" <a@x.example>:",
        "2026-03-05 10:02 GMT+01:00 Ann <a@x.example>:",
        "Четверг, 5 марта 2026, 10:02 +03:00 от Ann <a@x.example>:",
        "On 05/03/2026 10:02, Ann wrote:",
    ] {
        let t = format!("Works now.\n\n{attribution}\n\nHello, please restart.\nBye\n");
        assert_eq!(reply(&t), "Works now.", "missed: {attribution}");
    }
}

#[test]
fn header_blocks_and_separators_of_more_languages_and_layouts() {
    let cases = [
        "De : Support <s@x.example>\nEnvoyé : jeudi 5 mars 2026 10:02\nÀ : Marie\nObjet : RE: Imprimante",
        "De : Support <s@x.example>\nDate : jeudi 5 mars 2026 à 10:02\nÀ : Marie\nSujet : Imprimante",
        "Fra: Support <s@x.example>\nSendt: 5. marts 2026 10:02\nTil: Mette\nEmne: Printer",
        "-------- Oprindelig besked --------\nFra: Support <s@x.example>\nDato: 5. mar. 2026 10.02",
        "Từ: Support <s@x.example>\nĐã gửi: Thứ Năm, ngày 5 tháng 3 năm 2026 10:02\nĐến: Bình\nChủ đề: Máy in",
        "*--- Original Message ---*\n*From:* Support <s@x.example>\n*Sent:* Thursday, March 5, 2026 10:02",
        "‐‐‐‐‐‐‐ Original Message ‐‐‐‐‐‐‐\nOn Thursday, March 5th, 2026 at 10:02, Support <s@x.example> wrote:",
        "Date: Thu, 5 Mar 2026 10:02:11 +0100\nTo: Aiko <a@x.example>",
        ">>> Support <s@x.example> 05.03.2026 10:02 >>>",
        "Support <s@x.example> wrote on 05.03.2026 10:02:11:",
        "Op 5 mrt 2026 om 10:02 heeft Support <s@x.example> het volgende geschreven:",
        "Vào Th 5, 5 thg 3, 2026 vào lúc 10:02 Support <s@x.example> đã viết:",
    ];
    for block in cases {
        let t = format!("Done, thanks.\n\n{block}\n\nold text\n");
        assert_eq!(reply(&t), "Done, thanks.", "missed: {block}");
    }
}

#[test]
fn a_rule_then_sender_and_date_on_one_line_starts_history() {
    let t = format!(
        "Fixed.\n{RULE_MARKER}\nFrom: Support [mailto:s@x.example] Sent: Thursday, March 05, 2026 10:02 AM To: Grace\nold\n"
    );
    assert_eq!(reply(&t), "Fixed.");
}

#[test]
fn bottom_posting_gives_the_text_below_the_quote() {
    let t = "On Thu, 5 Mar 2026, Support wrote:\n> Which model?\n>\n> Bye\n\nAn HP 4000.\n\nFelix\n\n-- \nFelix B.\n";
    assert_eq!(reply(t), "An HP 4000.\n\nFelix");
    let t = "> Which model?\n\nAn HP 4000.\n";
    assert_eq!(reply(t), "An HP 4000.");
    // Text above and below one quote, or between quotes: everything stays.
    let t = "See below.\n\nOn Thu, 5 Mar 2026, Support wrote:\n> Which model?\n\nAn HP 4000.";
    assert_eq!(reply(t), t);
    let t = "On Thu, 5 Mar 2026, Support wrote:\n> Which model?\nAn HP 4000.\n> Which floor?\nThe third.";
    assert_eq!(reply(t), t);
}

#[test]
fn a_quoted_line_whose_tail_lost_its_mark_stays_in_the_quote() {
    let quote = "On 05.03.2026 10:02, Support wrote:\n> Hello Hannah, please restart the print spooler service on your computer\nand try to print again.\n> Maildesk Support\n";
    assert_eq!(reply(&format!("Works.\n\n{quote}")), "Works.");
    assert_eq!(reply(&format!("{quote}\nWorks.\n")), "Works.");
    // A short answer below a question is an answer.
    let t = "On 05.03.2026 10:02, Support wrote:\n> Which version of the app do you have installed on your phone?\n2.3.1\n> Which phone?\nA Pixel 8.";
    assert_eq!(reply(t), t);
}

#[test]
fn dashed_and_colon_less_attributions() {
    let t = "Still broken.\n\n---- On Thu, 05 Mar 2026 14:32:11 +0530 Support <s@x.example> wrote ---\n\nHello, we fixed it.\n";
    assert_eq!(reply(t), "Still broken.");
    let t = "Thanks.\n\nOn Thu, Mar 5, 2026 at 10:02 AM, Support wrote\n> Hello\n";
    assert_eq!(reply(t), "Thanks.");
    // Without quotes below it, a sentence that ends in "wrote" is text.
    let t = "This is what Ann wrote\nand it is still true.";
    assert_eq!(reply(t), t);
}

#[test]
fn history_below_a_mobile_footer_goes() {
    let t = "Got it.\n\nSent from my BlackBerry 10 smartphone.\n  Original Message  \nFrom: Support\nSent: Thursday, 5 March 2026 10:02\nTo: Ahmed\n\nold\n";
    assert_eq!(reply(t), "Got it.");
    let t = "Parfait.\n\nEnvoyé de mon iPhone\n\n> Le 5 mars 2026 à 10:02, Support <s@x.example> a écrit :\n> \n> Bonjour\n";
    assert_eq!(reply(t), "Parfait.");
    let t = "Det virker.\n\nHent Outlook til Android\n";
    assert_eq!(reply(t), "Det virker.");
}

#[test]
fn mailing_list_footers_are_not_new_text() {
    let t = "On 05/03/2026 10:02, Support wrote:\n> Hello\n\nWill floor 4 be updated too?\n\nIngrid\n_______________________________________________\nOfficemanagers mailing list\nofficemanagers@lists.example.com\nhttps://lists.example.com/mailman/listinfo/officemanagers\n";
    assert_eq!(reply(t), "Will floor 4 be updated too?\n\nIngrid");
}

#[test]
fn contact_blocks_under_a_typed_closing_go() {
    let t = "It works.\n\nBest regards,\nAnn Lee\nIT Coordinator | Example Ltd.\n+44 20 7946 0958 | www.example.org\n\nOn Thu, 5 Mar 2026, Support wrote:\n> old\n";
    assert_eq!(reply(t), "It works.\n\nBest regards,\nAnn Lee");
    let t = "It works.\n\nThanks,\nPriya\n";
    assert_eq!(reply(t), "It works.\n\nThanks,\nPriya");
}

#[test]
fn forwards_keep_the_forwarded_message_below_the_note() {
    let t = "Is this real?\n\nSent from my iPhone\n\nBegin forwarded message:\n\n> From: Bank <b@x.example>\n> Subject: Verify\n";
    assert_eq!(
        visible_reply(t, "Fwd: Verify"),
        "Is this real?\n\nBegin forwarded message:\n\n> From: Bank <b@x.example>\n> Subject: Verify"
    );
    let t = "FYI\n\nVon: Versand <v@x.example>\nGesendet: Mittwoch, 4. März 2026 16:20\nAn: Thomas\nBetreff: Lieferung\n\nDie Lieferung verzögert sich.";
    assert_eq!(visible_reply(t, "WG: Lieferung"), t);
    assert_eq!(visible_reply(t, "AW: Lieferung"), "FYI");
    let t = "---------- Forwarded message ---------\nFrom: R <r@x.example>\n\nRenew now.";
    assert_eq!(visible_reply(t, "Domain"), t);
}

#[test]
fn forward_subjects_are_told_by_their_first_prefix() {
    for subject in ["Fwd: x", "FW: x", "[Support #3] WG: x", "TR: x", "RV: x", "I: x", "Fwd[2]: x", "转发: x"] {
        assert!(is_forward_subject(subject), "{subject}");
    }
    for subject in ["Re: Fwd: x", "AW: WG: x", "Trouble: x", "Printer", "[Support #3] Re: x", ""] {
        assert!(!is_forward_subject(subject), "{subject}");
    }
}

#[test]
fn hostile_input_takes_bounded_work_and_never_panics() {
    let started = std::time::Instant::now();
    let inputs = [
        "> On\n".repeat(200_000),
        "a".repeat(1_000_000),
        format!("{}:", "On 1, ".repeat(170_000)),
        "On Tue, 3 Mar 2026 at 10:02 AM Support Team of Example <\n".repeat(50_000),
        "> Hello, please restart the print spooler service on your computer today\nand\n".repeat(50_000),
        "From: a\nTo: b\n".repeat(50_000),
        "Regards,\nAnn\n+1 555 0100\n".repeat(50_000),
        format!("Thanks,\nAnn\n{}", "x".repeat(1_000_000)),
        format!("{}\n{}", "[1]".repeat(100_000), "[1]: https://x.example\n".repeat(50_000)),
        "\u{E000}maildesk-quote\u{E000}\n\n".repeat(100_000),
        "-- \n> \n".repeat(100_000),
    ];
    for input in &inputs {
        let _ = visible_reply(input, "Fwd: x");
        let _ = reply(input);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}
/// Shapes from the public test suites of other reply trimmers (talon, email_reply_parser)
/// with what our rules make of them.
#[test]
fn shapes_from_other_trimmers_test_suites() {
    let cases: &[(&str, &str)] = &[
        (
            "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
            "Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
        ),
        (
            "I get proper rendering as well.\n\nSent from a magnificent torch of pixels\n\nOn Dec 16, 2011, at 12:47 PM, Corey Donohoe\n<reply@reply.github.com>\nwrote:\n\n> Was this caching related or fixed already?  I get proper rendering here.\n>\n> ---\n> Reply to this email directly or view it on GitHub:\n> https://github.com/github/github/issues/2278#issuecomment-3182418\n",
            "I get proper rendering as well.",
        ),
        (
            "Outlook with a reply\n\n\n ------------------------------\n\n *From:* Google Apps Sync Team [mailto:mail-noreply@google.com]\n *Sent:* Thursday, February 09, 2012 1:36 PM\n *To:* jow@xxxx.com\n *Subject:* Google Apps Sync was updated!\n\n\n\nDear Google Apps Sync user,\n",
            "Outlook with a reply",
        ),
        (
            "Test reply\n\n2014-10-17 11:28 GMT+03:00 Postmaster <\npostmaster@sandboxa4b0b3e8c06f42c4a57e0a7d2a0aa5d5.mailgun.org>:\n\n> First from site\n>\n",
            "Test reply",
        ),
        (
            "Thanks Thanmai\nOn Mar 8, 2012 9:59 AM, \"Example.com\" <\nr+7f1b094ceb90e18cca93d53d3703feae@example.com> wrote:\n\n\n>** Blah-blah-blah",
            "Thanks Thanmai",
        ),
        ("Replying ok\n2011/4/7 Nathan ova <support@example.com>\n\n>  Cool beans, scro", "Replying ok"),
        (
            "YOLO salvia cillum kogi typewriter mumblecore cardigan skateboard Austin.\n\n------On 12/29/1987 17:32 PM, Julius Caesar wrote-----\n\nBrunch mumblecore pug Marfa tofu, irure taxidermy hoodie readymade pariatur.\n",
            "YOLO salvia cillum kogi typewriter mumblecore cardigan skateboard Austin.",
        ),
        ("On 04/19/2011 07:10 AM, Roman Tkachenko wrote:\n\n>\n> Test\nTest reply", "Test reply"),
        ("Test reply\n\n---- John Smith wrote ----\n\n> quoted\n> text\n", "Test reply"),
        (
            "Test reply\n\nOn 04/19/2011 07:10 AM, Roman Tkachenko wrote:\n\n>\n> Test\n\nRegards, Roman",
            "Test reply\n\nRegards, Roman",
        ),
        ("Blah-blah-blah\nOn blah-blah-blah", "Blah-blah-blah\nOn blah-blah-blah"),
        ("Test reply\n\nSent from Samsung MobileName <address@example.com> wrote:\n\n> Test", "Test reply"),
        ("Test reply\n\n2011/4/7 Tkachenko <address@example.com>\n\n> Test", "Test reply"),
        (
            "Lorem ipsum\n\nW dniu 28 stycznia 2015 01:53 użytkownik Zoe xxx <zoe.xxx@xxx.com>\nnapisał:\n\nBlah!",
            "Lorem ipsum",
        ),
        (
            "Visit us now for assistance...\n>>> >>>  http://www.domain.com <<<\nVisit our site by clicking the link above",
            "Visit us now for assistance...\n>>> >>>  http://www.domain.com <<<\nVisit our site by clicking the link above",
        ),
        (
            "8.45am-1pm\n\nFrom: somebody@example.com\nDate: Wed, 16 May 2012 00:15:02 -0600\n\n<http://email.example.com/c/dHJhY2tpbmdfY29kZT1mMDdjYzBmNzM1ZjYzMGIxNT\n>  <bob@example.com <mailto:bob@example.com> >\n\nRequester: ",
            "8.45am-1pm",
        ),
        ("Blah\n\nDate: Wed, 16 May 2012 00:15:02 -0600\nTo: klizhentas@example.com\n\n", "Blah"),
        (
            "Hi\n\n  *From:* bob@example.com [mailto:\n  bob@example.com]\n  *Date:* Wednesday, June 27, 2012 3:05 PM\n  *To:* travis@example.com\n  *Subject:* Hello\n\n",
            "Hi",
        ),
        (
            "Blah\nDate: Fri=2C 28 Sep 2012 10:55:48 +0000\nFrom: tickets@example.com\nTo: bob@example.com\nSubject: Hello",
            "Blah",
        ),
        (
            "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nline\nTo: rob@example.com\n\n> Hello\n\n> Hello again",
            "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nline\nTo: rob@example.com\n\n> Hello\n\n> Hello again",
        ),
        ("Blah\n\n-----Original Message-----\n\nFW: Foo\n\n---------- Forwarded message ----------\n\nHello", "Blah"),
        (
            "Test reply\n\nOn 11-Apr-2011, at 6:54 PM, Roman Tkachenko <romant@example.com> sent:\n\n>\n> Test\n>\n> Roman",
            "Test reply",
        ),
        (
            "Response\n\n10/19/2017 @ 9:30 am for physical therapy\nBla\n1517 4th Avenue Ste 300\nLondon CA 19129, 555-421-6780\n\nJohn Doe, FCLS\nMediCal Physical Therapy\n",
            "Response\n\n10/19/2017 @ 9:30 am for physical therapy\nBla\n1517 4th Avenue Ste 300\nLondon CA 19129, 555-421-6780\n\nJohn Doe, FCLS\nMediCal Physical Therapy",
        ),
        (
            "Please enter your feedback below. Thank you.\n\n------------------------------------- Enter Feedback Below -------------------------------------\n\nThe user experience was unparallelled. Please continue production. I'm sending payment to ensure\nthat this line is intact.",
            "Please enter your feedback below. Thank you.\n\n------------------------------------- Enter Feedback Below -------------------------------------\n\nThe user experience was unparallelled. Please continue production. I'm sending payment to ensure\nthat this line is intact.",
        ),
        ("Hello\n\nVào 14:24 8 tháng 6, 2017, Hùng Nguyễn <hungnguyen@xxx.com> đã viết:\n\n> Xin chào", "Hello"),
        (
            "Allo! Follow up MIME!\n\n发件人: xxx@xxx.com\n发送时间: 2018年3月27日 星期二 下午 13:00\n收件人: a\n主题: b\n\nold",
            "Allo! Follow up MIME!",
        ),
        ("Thanks!\n\n2013/6/21 Mike Example <\nmike@example.com>\n\n> hello\n", "Thanks!"),
        (
            "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona\n\n\n_______________________________________________\nriak-users mailing list\nriak-users@lists.basho.com\nhttp://lists.basho.com/mailman/listinfo/riak-users_lists.basho.com\n",
            "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
        ),
        (
            "Test\n\nMed vennlig hilsen\nJohn Doe\n\nman. 21. des. 2015 kl. 14.43 skrev Dan Kubb <dkubb@example.com>:\n> hi\n",
            "Test\n\nMed vennlig hilsen\nJohn Doe",
        ),
        (
            "Hello\n\n________________________________\n> From: dkubb@example.com\n> To: x@example.com\n> Subject: hi\n> Date: Tue, 1 Jan 2015\n>\n> old",
            "Hello",
        ),
        (
            "test 2 this should list second\n\nand have spaces\n\n\n   - how about bullets\n   - and another\n\n\nOn Fri, Feb 24, 2012 at 10:19 AM, <examples@email.goalengine.com> wrote:\n\n> Give us an example\n\n\n\n\n-- \n\n*Joe Smith | Director, Product Management*\n",
            "test 2 this should list second\n\nand have spaces\n\n\n   - how about bullets\n   - and another",
        ),
        (
            "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect.\n\nOn 9 Jan 2014, at 2:47, George Plymale wrote:\n\n> I am having an odd issue\n",
            "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect.",
        ),
        (
            "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:\n> Hi folks\n>\n> What is the best way\n\nYou can list the keys.\n\n-Russell",
            "Hi,\nOn Tue, 2011-03-01 at 18:02 +0530, Abhishek Kona wrote:\n> Hi folks\n>\n> What is the best way\n\nYou can list the keys.\n\n-Russell",
        ),
    ];
    // Their cases come without a subject.
    for (input, want) in cases {
        assert_eq!(visible_reply(input, ""), *want, "input: {input:?}");
    }
}
#[test]
fn attributions_header_blocks_and_footers_of_more_languages() {
    let attributions = [
        "2026/03/05 10:02、Support <s@x.example>のメール:",
        "2026. 3. 5. 오전 10:02, Support <s@x.example> 작성:",
        "5 марта 2026 г., в 10:02, Support <s@x.example> написал(а):",
        "Pada tanggal Kam, 5 Mar 2026 pukul 10.02 Support <s@x.example> menulis:",
        "čet, 5. ožu 2026. u 10:02 Support <s@x.example> je napisao:",
        "في الخميس، 5 مارس 2026 في 10:02 ص، كتب Support <s@x.example>:",
        "W dniu 5.03.2026 o 10:02, Support pisze:",
        "Le jeu. 5 mars 2026 à 10:02, Support Team of Example <s@x.example> a\nécrit :",
        "pt., 5 mar 2026 o 10:02 Support Team of Example <s@x.example>\nnapisał(a):",
        "\u{202b}בתאריך יום ה׳, 5 במרץ 2026 ב-10:02 מאת \u{202a}Support\u{202c}\u{200f} <\u{202a}s@x.example\u{202c}\u{200f}>:\u{202c}",
    ];
    for attribution in attributions {
        let t = format!("New text.\n\n{attribution}\n> old text\n");
        assert_eq!(reply(&t), "New text.", "missed: {attribution}");
    }
    let blocks = [
        "De la: Support <s@x.example>\nTrimis: joi, 5 martie 2026 10:02\nCătre: Ana\nSubiect: Imprimanta",
        "Šalje: Support <s@x.example>\nPoslano: četvrtak, 5. ožujka 2026. 10:02\nPrima: Ana\nPredmet: Pisač",
        "Від: Support <s@x.example>\nНадіслано: 5 березня 2026 р. 10:02\nКому: Ганна\nТема: Принтер",
        "-------- Originalnachricht --------\nVon: Support <s@x.example>\nDatum: 05.03.26 10:02 (GMT+01:00)",
    ];
    for block in blocks {
        let t = format!("Done.\n\n{block}\n\nold text\n");
        assert_eq!(reply(&t), "Done.", "missed: {block}");
    }
    for footer in
        ["Von meinem Samsung Galaxy Smartphone gesendet.", "Trimis de pe iPhone-ul meu", "iPhone'umdan gönderildi"]
    {
        let t = format!("Done.\n\n{footer}\n");
        assert_eq!(reply(&t), "Done.", "missed: {footer}");
    }
}
#[test]
fn a_notice_below_the_quote_is_not_new_text() {
    let t = "Fixed, thanks.\n\nOn Thu, 5 Mar 2026, Support wrote:\n> Please restart.\n\nThis e-mail is confidential and intended for the addressee only. If you have received this e-mail in error, please delete it.\n";
    assert_eq!(reply(t), "Fixed, thanks.");
}

/// Random mails made of the pieces reply stripping looks at never panic, and the reply
/// only ever holds lines of the mail. More cases: `REPLY_CASES=100000 cargo test --lib
/// random_mails`.
#[test]
fn random_mails_never_panic_and_keep_only_their_own_lines() {
    const PIECES: &[&str] = &[
        "Thanks, it works.",
        "",
        "  ",
        "> quoted line",
        ">",
        "> Hello, please restart the print spooler service on your computer today",
        "and try again.",
        "On Tue, 3 Mar 2026 at 10:02 AM Ann Lee <",
        "ann@example.org> wrote:",
        "On 3 March 2026 at 10:02, Ann Lee",
        "<ann@example.org> wrote:",
        "wrote:",
        "Am 03.03.2026 um 10:02 schrieb Ann <a@x.example>:",
        "3.5.2026, 10:02, \"Ann\" <a@x.example>:",
        "---- On Tue, 3 Mar 2026 Ann <a@x.example> wrote ----",
        "-----Original Message-----",
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "From: Ann <a@x.example>",
        "Sent: Tuesday, March 3, 2026 10:02",
        "Date: Tue, 3 Mar 2026 10:02",
        "To: Support",
        "Subject: Printer",
        "De : Ann",
        "________________________________",
        "-- ",
        "--",
        "Sent from my iPhone",
        "Get Outlook for iOS",
        "Regards,",
        "Thanks, Priya",
        "Ann Lee",
        "Tel. +49 30 1234567",
        "www.example.com",
        "This e-mail is confidential.",
        "_______________________________________________",
        "list mailing list",
        "https://lists.example.com/mailman/listinfo/list",
        ">>> Ann <a@x.example> 03.03.2026 10:02 >>>",
        "[1]: https://x.example",
        "see [1] and [2]",
        "\u{E000}maildesk-quote\u{E000}",
        "\u{E000}maildesk-rule\u{E000}",
        "\u{E000}maildesk-quote\u{E000}On Tue, 3 Mar 2026 Ann wrote:",
        "2026年3月3日(火) 10:02 Ann <",
        "\u{202b}בתאריך 2026 מאת <a@x.example>:\u{202c}",
        "ü€𝄞",
    ];
    const SUBJECTS: &[&str] = &["Re: x", "Fwd: x", "", "WG: x", "[Support #3] x"];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let cases: usize = std::env::var("REPLY_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(3_000);
    for _ in 0..cases {
        let n = 1 + (next() % 25) as usize;
        let lines: Vec<&str> = (0..n).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
        let text = lines.join("\n");
        let subject = SUBJECTS[(next() % SUBJECTS.len() as u64) as usize];
        let got = visible_reply(&text, subject);
        let own: std::collections::HashSet<String> = lines
            .iter()
            .map(|l| l.replace(crate::inbound::html::QUOTE_MARKER, "").replace(crate::inbound::html::RULE_MARKER, ""))
            .map(|l| l.trim().to_string())
            .collect();
        for line in got.lines() {
            assert!(line.trim().is_empty() || own.contains(line.trim()), "{line:?} is not from {text:?} ({subject})");
        }
        assert!(!got.contains('\u{E000}'), "a marker shows: {got:?}");
    }
}

#[test]
fn helpdesk_reply_lines_and_notices_below_a_rule() {
    let t = "Sure, Tuesday works.\n\n##- Please type your reply above this line -##\n\nYour request (4711) has been updated.\n";
    assert_eq!(reply(t), "Sure, Tuesday works.");
    let t = "Done.\n\n-- Bitte antworten Sie oberhalb dieser Zeile --\nIhr Ticket wurde aktualisiert.";
    assert_eq!(reply(t), "Done.");
    let t = "Thanks\nAnn\n\n________________________________\nThis message is confidential. If you received it in error, delete it.";
    assert_eq!(reply(t), "Thanks\nAnn");
    // Text that mentions the line is text.
    let t = "The button above this line of the form does nothing when I press it, see the screenshot.";
    assert_eq!(reply(t), t);
}

#[test]
fn a_form_with_date_and_to_lines_is_not_history() {
    let t = "Hello,\n\nplease book this trip:\nName: Ann Lee\nDate: 2026-03-12\nTo: Berlin\nBudget: 400 EUR\n\nThanks";
    assert_eq!(reply(t), t);
    let t = "Hello,\n\nDate: 2026-03-12\nTo: Berlin\nBudget: 400 EUR";
    assert_eq!(reply(t), t);
    let t = "Please book:\n\nFrom: Berlin\nTo: Munich\nDate: 12 March 2026\nBudget: 400 EUR\n\nThanks";
    assert_eq!(reply(t), t);
    let t = "Ok.\n\nFrom: Ann <a@x.example>\nSent: Thursday, March 5, 2026 10:02\nTo: Support\nSubject: Trip\nImportance: High\n\nold";
    assert_eq!(reply(t), "Ok.");
}
