//! Any bytes through the whole reading of a mail: MIME parsing, classification, bounce
//! reports, threading, HTML sanitising and conversion, reply stripping. Nothing may panic
//! or hang. Run (see README): `RUSTC_BOOTSTRAP=1 cargo fuzz run interpret -- -max_total_time=600`
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use maildesk::inbound::{Settings, interpret};

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| Settings::new("Support", "helpdesk.example"));

fuzz_target!(|data: &[u8]| {
    if let Ok(mail) = interpret(data, &SETTINGS) {
        // Everything the interpretation promises must hold for any input.
        assert!(!mail.text.contains('\0') && !mail.subject.contains('\0'));
        let _ = serde_json::to_string(&mail);
    }
});
