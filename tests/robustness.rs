//! Hostile and huge input: interpretation finishes, with exact results or a clear refusal.
//! (Time and memory are measured by `cargo bench --bench parse`, not asserted here.)

use maildesk::inbound::{InboundError, Settings, interpret};

fn settings() -> Settings {
    Settings::new("Support", "helpdesk.example")
}

/// A message with one base64 attachment of `size` bytes.
fn with_attachment(size: usize) -> Vec<u8> {
    use std::fmt::Write;
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let encoded = base64_lines(&payload);
    let mut m = String::new();
    write!(
        m,
        "From: big@example.com\nSubject: Big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee the dump.\n--b\nContent-Type: application/octet-stream; name=\"dump.bin\"\nContent-Transfer-Encoding: base64\n\n{encoded}--b--\n"
    )
    .unwrap();
    m.into_bytes()
}

fn base64_lines(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + bytes.len() / 57 + 4);
    for line in bytes.chunks(57) {
        for chunk in line.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn a_25_mb_message_keeps_its_attachment_exact() {
    let raw = with_attachment(18 * 1024 * 1024);
    assert!(raw.len() > 24 * 1024 * 1024, "{} bytes", raw.len());
    let mail = interpret(&raw, &settings()).expect("interpreted");
    assert_eq!(mail.attachments.len(), 1);
    assert_eq!(mail.attachments[0].size, 18 * 1024 * 1024);
    assert_eq!(mail.attachments[0].bytes[1000], (1000 * 31 % 251) as u8);
    assert_eq!(mail.reply, "See the dump.");
}

fn many_parts(n: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: parts@example.com\nSubject: Parts\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"p\"\n\n--p\nContent-Type: text/plain\n\nMany parts.\n",
    );
    for i in 0..n {
        m.push_str(&format!("--p\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\nContent-Transfer-Encoding: base64\n\nAAEC\n"));
    }
    m.push_str("--p--\n");
    m.into_bytes()
}

#[test]
fn ten_thousand_parts_are_refused_by_the_part_limit_or_read_when_allowed() {
    let raw = many_parts(10_000);
    let err = interpret(&raw, &settings()).unwrap_err();
    assert!(matches!(err, InboundError::TooManyParts(n, 1000) if n > 10_000), "{err:?}");
    let mail = interpret(&raw, &settings().max_parts(20_000)).expect("allowed");
    assert_eq!(mail.attachments.len(), 10_000);
    assert_eq!(mail.attachments[9_999].filename.as_deref(), Some("f9999.bin"));
    assert!(mail.attachments.iter().all(|a| a.size == 3));
}

#[test]
fn deeply_nested_html_is_read_without_markup() {
    let html = format!("{}Please help{}", "<div><span>".repeat(50_000), "</span></div>".repeat(50_000));
    let raw = format!("From: x@example.com\nSubject: Deep\nContent-Type: text/html\n\n{html}\n");
    let mail = interpret(raw.as_bytes(), &settings()).expect("interpreted");
    assert!(mail.text.contains("Please help"), "{}", &mail.text[..mail.text.len().min(200)]);
    assert!(!mail.html.unwrap().contains("<div"), "pathological HTML is shown as text");
}

#[test]
fn deeply_nested_multiparts_are_read() {
    let depth = 2_000;
    let mut m = String::from("From: nest@example.com\nSubject: Nest\nMIME-Version: 1.0\n");
    for i in 0..depth {
        m.push_str(&format!("Content-Type: multipart/mixed; boundary=\"n{i}\"\n\n--n{i}\n"));
    }
    m.push_str("Content-Type: text/plain\n\nat the bottom\n");
    for i in (0..depth).rev() {
        m.push_str(&format!("--n{i}--\n"));
    }
    // 2,001 parts are within the raised limit: the text at the bottom is read, no part of
    // the nesting is taken for an attachment.
    let mail = interpret(m.as_bytes(), &settings().max_parts(10_000)).expect("read");
    assert_eq!(mail.from.address.as_ref().map(|a| a.as_str()), Some("nest@example.com"));
    assert_eq!(mail.text.trim(), "at the bottom");
    assert!(mail.attachments.is_empty(), "{} attachments", mail.attachments.len());
}

#[test]
fn a_header_block_of_many_megabytes_is_read() {
    let mut m = String::new();
    for i in 0..50_000 {
        m.push_str(&format!(
            "Received: from relay{i}.example.net by mx.example.com; Mon, 23 Nov 2026 10:00:00 +0000\n"
        ));
    }
    m.push_str("From: hops@example.com\nSubject: Hops\n\nbody\n");
    let mail = interpret(m.as_bytes(), &settings()).expect("interpreted");
    assert_eq!(mail.subject, "Hops");
}

#[test]
fn a_huge_reference_chain_is_capped() {
    let refs: Vec<String> = (0..50_000).map(|i| format!("<r{i}@example.com>")).collect();
    let m = format!("From: a@example.com\nSubject: Refs\nReferences: {}\n\nx\n", refs.join(" "));
    let mail = interpret(m.as_bytes(), &settings()).expect("interpreted");
    assert_eq!(mail.references.len(), 100);
    assert_eq!(mail.references[0], "r0@example.com");
    assert_eq!(mail.references[99], "r49999@example.com");
}

fn with_reply_addresses() -> (Settings, maildesk::inbound::ReplyAddresses) {
    let desk = maildesk::domain::EmailAddress::parse("support@helpdesk.example").unwrap();
    let key = [7u8; 32];
    let signer = maildesk::inbound::ReplyAddresses::new(&desk, &key);
    (settings().reply_addresses(maildesk::inbound::ReplyAddresses::new(&desk, &key)), signer)
}

#[test]
fn only_the_first_ten_reply_addresses_are_checked_and_forged_ones_are_counted() {
    let (settings, signer) = with_reply_addresses();
    let valid = signer.for_ticket(maildesk::domain::TicketNumber(5));
    let forged: Vec<String> = (1..=12).map(|t| format!("support+{t}-00000000000000000000@helpdesk.example")).collect();
    // Ordinary recipients cost nothing: a reply address after many of them is still found.
    let others: Vec<String> = (0..40).map(|i| format!("person{i}@customer.example")).collect();
    let raw = format!("From: c@customer.example\nTo: {}\nCc: {valid}\nSubject: Hi\n\nx\n", others.join(", "));
    let mail = interpret(raw.as_bytes(), &settings).unwrap();
    assert_eq!(mail.reply_address_ticket(), Some(maildesk::domain::TicketNumber(5)));
    // Ten addresses shaped like ours come first: the eleventh, valid or not, is never checked.
    let before = maildesk::inbound::forged_seen();
    let raw = format!("From: c@customer.example\nTo: {}\nCc: {valid}\nSubject: Hi\n\nx\n", forged.join(", "));
    let mail = interpret(raw.as_bytes(), &settings).unwrap();
    assert_eq!(mail.reply_address_ticket(), None, "the valid address came after the first ten");
    assert_eq!(mail.forged_reference, Some(maildesk::domain::TicketNumber(1)));
    let counted = maildesk::inbound::forged_seen() - before;
    assert!((10..12).contains(&counted), "each checked forgery counted, no more: {counted}");
}

#[test]
fn a_48_bit_reply_address_counts_only_while_legacy_macs_are_accepted() {
    let (settings, signer) = with_reply_addresses();
    let long = signer.for_ticket(maildesk::domain::TicketNumber(9));
    let (local, domain) = long.split_once('@').unwrap();
    let short = format!("{}@{domain}", &local[..local.len() - 8]);
    let raw = format!("From: c@customer.example\nTo: {short}\nSubject: Hi\n\nx\n");
    let after_window = interpret(raw.as_bytes(), &settings.clone().accept_legacy_reply_addresses(false)).unwrap();
    assert_eq!(after_window.reply_address_ticket(), None);
    assert_eq!(after_window.forged_reference, Some(maildesk::domain::TicketNumber(9)));
    let within = interpret(raw.as_bytes(), &settings.accept_legacy_reply_addresses(true)).unwrap();
    assert_eq!(within.reply_address_ticket(), Some(maildesk::domain::TicketNumber(9)));
}

#[test]
fn parts_inside_attached_messages_count_toward_the_part_limit() {
    let inner = String::from_utf8(many_parts(30)).unwrap();
    let raw = format!(
        "From: outer@example.com\nSubject: Fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: text/plain\n\nSee attached.\n--o\nContent-Type: message/rfc822\n\n{inner}\n--o--\n"
    );
    let err = interpret(raw.as_bytes(), &settings().max_parts(20)).unwrap_err();
    assert!(matches!(err, InboundError::TooManyParts(n, 20) if n > 20), "{err:?}");
    // Nested twice: still counted.
    let twice = format!(
        "From: top@example.com\nSubject: Fwd fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"t\"\n\n--t\nContent-Type: text/plain\n\nTwice.\n--t\nContent-Type: message/rfc822\n\n{raw}\n--t--\n"
    );
    let err = interpret(twice.as_bytes(), &settings().max_parts(20)).unwrap_err();
    assert!(matches!(err, InboundError::TooManyParts(n, 20) if n > 20), "{err:?}");
    interpret(twice.as_bytes(), &settings().max_parts(100)).expect("within the limit");
}

#[test]
fn a_huge_subject_is_cut_to_1000_characters() {
    let subject = "é".repeat(2_000_000);
    let raw = format!("From: long@example.com\nSubject: {subject}\n\nbody\n");
    let mail = interpret(raw.as_bytes(), &settings()).expect("interpreted");
    assert_eq!(mail.subject.chars().count(), 1000);
    assert!(mail.subject.chars().all(|c| c == 'é'));
    // The whole header is kept: the message as it came, attached.
    let original =
        mail.attachments.iter().find(|a| a.filename.as_deref() == Some("original-message.eml")).expect("kept");
    assert_eq!((original.bytes.as_slice(), original.content_type.as_str()), (raw.as_bytes(), "message/rfc822"));
    let short = interpret(b"From: a@example.com\nSubject: Printer on fire\n\nx\n", &settings()).unwrap();
    assert_eq!(short.subject, "Printer on fire");
    assert!(short.attachments.is_empty());
}
