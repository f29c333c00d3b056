//! `maildesk parse FILE [--json]`: the interpretation of one message, no database.

use std::path::Path;

use crate::config::Config;
use crate::inbound::{self, Interpretation};

/// Prints the interpretation of `file`; returns the exit code.
pub fn run(file: &Path, json: bool, config_file: Option<&Path>) -> i32 {
    let config = match Config::load(config_file, super::config_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("maildesk: {e}");
            return super::EXIT_USAGE;
        }
    };
    let raw = match super::read_input(Some(file)) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("maildesk: {e}");
            return super::EXIT_FAILURE;
        }
    };
    // The key is read when it exists, never made: parse changes nothing.
    let key = crate::app::reply_key(&config, false).ok().flatten();
    let settings = config.inbound_settings(key.as_deref());
    match inbound::interpret(&raw, &settings) {
        Ok(mail) if json => match serde_json::to_string_pretty(&mail) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => {
                eprintln!("maildesk: {e}");
                super::EXIT_FAILURE
            }
        },
        Ok(mail) => {
            print!("{}", human(&mail));
            0
        }
        Err(e) => {
            eprintln!("maildesk: {}: {e}", file.display());
            super::EXIT_FAILURE
        }
    }
}

fn human(m: &Interpretation) -> String {
    let mut out = String::new();
    let from = match (&m.from.name, &m.from.address) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.to_string(),
        (Some(name), None) => format!("{name} <> (no usable address)"),
        (None, None) => "<> (no usable address)".into(),
    };
    let line = |out: &mut String, k: &str, v: &str| out.push_str(&format!("{k:<12}{}\n", super::one_line(v)));
    line(&mut out, "From:", &from);
    line(&mut out, "Subject:", &m.subject);
    line(&mut out, "Date:", m.date.as_deref().unwrap_or("-"));
    line(&mut out, "Message-ID:", m.message_id.as_deref().unwrap_or("-"));
    line(&mut out, "Automatic:", m.auto.map(|a| a.as_str()).unwrap_or("no"));
    let thread = match (m.thread.ticket, m.thread.by) {
        (Some(t), Some(by)) => format!(
            "ticket #{t} (by {})",
            serde_json::to_value(by).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ),
        _ => "new request".into(),
    };
    line(&mut out, "Thread:", &thread);
    if let Some(why) = m.refusal() {
        line(&mut out, "Refused:", &format!("{why}: serve quarantines it"));
    }
    for a in &m.attachments {
        line(
            &mut out,
            "Attachment:",
            &format!(
                "{} ({}, {} bytes{})",
                a.display_name,
                a.content_type,
                a.size,
                if a.inline { ", inline" } else { "" }
            ),
        );
    }
    out.push('\n');
    out.push_str(&super::multi_line(&m.reply));
    out.push('\n');
    out
}
