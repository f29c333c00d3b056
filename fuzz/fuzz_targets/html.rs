//! Any bytes as the HTML body of an HTML-only mail, through the whole reading of the mail:
//! the shape measurement that decides between HTML and plain text, sanitising, conversion
//! to text, reply stripping. Nothing may panic, and every input must finish well within the
//! per-input time limit (`-timeout`): the bound on hostile HTML of issue 11.
//! Run (see README): `RUSTC_BOOTSTRAP=1 cargo fuzz run html -- -max_total_time=300 -timeout=5 -max_len=1048576`
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use maildesk::inbound::{Settings, interpret};

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| Settings::new("Support", "helpdesk.example"));

const HEADER: &[u8] = b"From: h@example.com\nSubject: Fuzz\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n";

fuzz_target!(|data: &[u8]| {
    let mut raw = Vec::with_capacity(HEADER.len() + data.len());
    raw.extend_from_slice(HEADER);
    raw.extend_from_slice(data);
    if let Ok(mail) = interpret(&raw, &SETTINGS) {
        assert!(!mail.text.contains('\0') && !mail.subject.contains('\0'));
        // Whatever the path, the sanitised HTML never carries a script.
        if let Some(html) = &mail.html {
            assert!(!html.to_ascii_lowercase().contains("<script"), "script kept");
        }
    }
});
