//! What a reload (SIGHUP) may change in a running daemon: the keys read afresh at each use
//! (texts, rules, rate limits). Everything a running part took at start (listeners, mailboxes,
//! the database, the reply key, the subject tag) waits for a restart.

use super::Config;

/// The keys a reload applies, dotted; a key here covers everything under it.
pub const RELOADED_KEYS: &[&str] = &[
    "desk.name",
    "desk.reopen_days",
    "desk.auto_close_days",
    "desk.response_hours",
    "departments",
    "organisations",
    "limits.max_processing_secs",
    "outbox.templates_dir",
    "outbox.max_attempts",
    "outbox.retry_base_secs",
    "outbox.max_automatic_per_recipient_per_hour",
    "outbox.max_automatic_per_ticket_per_hour",
    "outbox.max_automatic_per_hour",
    "outbox.quote_request",
    "portal.invite",
    "portal.invite_days",
    "portal.argon2_memory_kib",
    "portal.argon2_iterations",
    "portal.argon2_parallelism",
    "portal.session_idle_minutes",
    "portal.session_max_days",
    "portal.reset_minutes",
    "portal.verify_hours",
    "portal.attempts_per_ip",
    "portal.attempts_per_address",
    "portal.rate_window_minutes",
    "portal.trusted_proxies",
    "portal.captcha_bits",
    "portal.captcha_minutes",
    "portal.writes_per_contact",
];

/// Whether a reload applies the change of `key` (a dotted key, as [`changed_keys`] names it).
pub fn is_reloaded(key: &str) -> bool {
    RELOADED_KEYS.iter().any(|k| key == *k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')))
}

impl Config {
    /// This config with the [`RELOADED_KEYS`] taken from `new`, everything else kept.
    pub fn reloaded(&self, new: &Config) -> Config {
        let mut c = self.clone();
        c.desk.name = new.desk.name.clone();
        c.desk.reopen_days = new.desk.reopen_days;
        c.desk.auto_close_days = new.desk.auto_close_days;
        c.desk.response_hours = new.desk.response_hours.clone();
        c.departments = new.departments.clone();
        c.organisations = new.organisations.clone();
        c.limits.max_processing_secs = new.limits.max_processing_secs;
        let (o, n) = (&mut c.outbox, &new.outbox);
        o.templates_dir = n.templates_dir.clone();
        o.max_attempts = n.max_attempts;
        o.retry_base_secs = n.retry_base_secs;
        o.max_automatic_per_recipient_per_hour = n.max_automatic_per_recipient_per_hour;
        o.max_automatic_per_ticket_per_hour = n.max_automatic_per_ticket_per_hour;
        o.max_automatic_per_hour = n.max_automatic_per_hour;
        o.quote_request = n.quote_request;
        let (p, n) = (&mut c.portal, &new.portal);
        p.invite = n.invite;
        p.invite_days = n.invite_days;
        p.argon2_memory_kib = n.argon2_memory_kib;
        p.argon2_iterations = n.argon2_iterations;
        p.argon2_parallelism = n.argon2_parallelism;
        p.session_idle_minutes = n.session_idle_minutes;
        p.session_max_days = n.session_max_days;
        p.reset_minutes = n.reset_minutes;
        p.verify_hours = n.verify_hours;
        p.attempts_per_ip = n.attempts_per_ip;
        p.attempts_per_address = n.attempts_per_address;
        p.rate_window_minutes = n.rate_window_minutes;
        p.trusted_proxies = n.trusted_proxies.clone();
        p.captcha_bits = n.captcha_bits;
        p.captcha_minutes = n.captcha_minutes;
        p.writes_per_contact = n.writes_per_contact;
        c
    }
}

/// The dotted keys whose values differ between `before` and `now`, compared as TOML:
/// tables key by key, anything else whole. `None` when either cannot be written as TOML.
pub fn changed_keys(before: &Config, now: &Config) -> Option<Vec<String>> {
    let (a, b) = (toml::Value::try_from(before).ok()?, toml::Value::try_from(now).ok()?);
    let mut out = Vec::new();
    diff(&a, &b, "", &mut out);
    Some(out)
}

fn diff(before: &toml::Value, now: &toml::Value, at: &str, out: &mut Vec<String>) {
    match (before, now) {
        (toml::Value::Table(a), toml::Value::Table(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => diff(x, y, &path, out),
                    _ => out.push(path),
                }
            }
        }
        _ if before != now => out.push(at.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config that differs from the defaults in every reloaded key and in `restart`.
    fn changed(restart: &str) -> Config {
        let text = format!(
            r#"
            {restart}
            [desk]
            name = "Help"
            reopen_days = 3
            auto_close_days = 2
            [desk.response_hours]
            urgent = 2
            [[departments]]
            name = "billing"
            staff = ["ann@example.com"]
            [[organisations]]
            name = "Acme"
            domains = ["acme.example"]
            [limits]
            max_processing_secs = 7
            [outbox]
            templates_dir = "/etc/maildesk/templates"
            max_attempts = 3
            retry_base_secs = 5
            max_automatic_per_recipient_per_hour = 4
            max_automatic_per_ticket_per_hour = 5
            max_automatic_per_hour = 6
            quote_request = true
            [portal]
            invite = false
            invite_days = 2
            argon2_memory_kib = 8192
            argon2_iterations = 3
            argon2_parallelism = 2
            session_idle_minutes = 5
            session_max_days = 2
            reset_minutes = 9
            verify_hours = 3
            attempts_per_ip = 4
            attempts_per_address = 3
            rate_window_minutes = 2
            trusted_proxies = ["127.0.0.1"]
            captcha_bits = 12
            captcha_minutes = 4
            writes_per_contact = 8
            "#
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maildesk.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), Vec::new()).unwrap()
    }

    #[test]
    fn a_reload_takes_every_reloaded_key_and_nothing_else() {
        let before = Config::load(None, Vec::new()).unwrap();
        let new = changed("data_dir = \"/srv/other\"");
        let merged = before.reloaded(&new);
        let applied = changed_keys(&before, &merged).unwrap();
        // Every reloaded key changed in `new` is taken, and only those.
        for key in RELOADED_KEYS {
            assert!(applied.iter().any(|k| is_reloaded(k) && (k == key || k.starts_with(&format!("{key}.")))), "{key}");
        }
        assert!(applied.iter().all(|k| is_reloaded(k)), "{applied:?}");
        // What is left between the merged config and the new one waits for a restart.
        let left = changed_keys(&merged, &new).unwrap();
        assert!(left.iter().any(|k| k.starts_with("data_dir")), "{left:?}");
        assert!(left.iter().all(|k| !is_reloaded(k)), "{left:?}");
    }

    #[test]
    fn a_reloaded_key_covers_its_subkeys_only() {
        assert!(is_reloaded("desk.name"));
        assert!(is_reloaded("desk.response_hours.urgent"));
        assert!(is_reloaded("departments"));
        assert!(!is_reloaded("desk.name_x"));
        assert!(!is_reloaded("desk.address"));
        assert!(!is_reloaded("portal.listen"));
        assert!(!is_reloaded("imap"));
    }
}
