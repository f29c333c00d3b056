//! The database: reachable, and where its schema stands. Pending migrations are reported,
//! never applied (`maildesk serve` applies them at start).

use std::time::Duration;

use super::{Finding, Verdict};
use crate::config::Config;
use crate::store::{SchemaState, inspect_schema};

/// Opens the database read-only and compares its schema with this binary's migrations.
pub async fn check(config: &Config, timeout: Duration) -> Vec<Finding> {
    let target = crate::config::redact_password(&config.database.url);
    let finding = match inspect_schema(&config.database.url, timeout).await {
        Ok(state) => grade(&state),
        Err(e) => Finding::new("database", "", Verdict::Fail, format!("cannot open: {e}")).fix(
            "check database.url (host, port, user, password, database name) and that the server runs and lets this user in",
        ),
    };
    vec![Finding { target, ..finding }]
}

/// The verdict on a schema.
pub fn grade(state: &SchemaState) -> Finding {
    let finding = |verdict, detail: String| Finding::new("database", "", verdict, detail);
    let versions = |v: &[i64]| v.iter().map(|v| format!("{v:04}")).collect::<Vec<_>>().join(", ");
    if !state.unknown.is_empty() {
        return finding(
            Verdict::Fail,
            format!("migrated by a newer maildesk (unknown migrations {})", versions(&state.unknown)),
        )
        .fix("run the maildesk version that migrated this database, or restore a backup made for this version");
    }
    if !state.changed.is_empty() || !state.failed.is_empty() {
        let mut what = Vec::new();
        if !state.changed.is_empty() {
            what.push(format!("migrations {} differ from the ones applied", versions(&state.changed)));
        }
        if !state.failed.is_empty() {
            what.push(format!("migrations {} failed half-way", versions(&state.failed)));
        }
        return finding(Verdict::Fail, what.join("; "))
            .fix("`maildesk serve` will refuse to start: restore a backup, or repair _sqlx_migrations by hand");
    }
    if !state.exists {
        return finding(
            Verdict::Warn,
            format!("{} database does not exist yet ({} migrations to apply)", state.backend, state.embedded),
        )
        .fix("`maildesk serve` creates it at first start (check that the data directory is writable)");
    }
    if !state.pending.is_empty() {
        let first = state.pending.first().map(String::as_str).unwrap_or_default();
        let last = state.pending.last().map(String::as_str).unwrap_or_default();
        let range = if state.pending.len() == 1 { first.to_string() } else { format!("{first} … {last}") };
        return finding(
            Verdict::Warn,
            format!(
                "{}: {} of {} migrations applied, {} pending ({range})",
                state.backend,
                state.applied,
                state.embedded,
                state.pending.len()
            ),
        )
        .fix("`maildesk serve` applies them at start: back the database up first");
    }
    finding(Verdict::Ok, format!("{}: schema up to date ({} migrations)", state.backend, state.applied))
}
