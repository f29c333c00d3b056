//! `maildesk check`: prints the findings of [`crate::check`], one line each (or JSON), and
//! exits 0 when nothing failed, 1 when a check failed. A config that cannot be read never
//! gets here: `main` prints its problems and exits 2.

use std::io::Write;
use std::time::Duration;

use crate::check::{self, Finding, Verdict};
use crate::config::Config;

use super::{EXIT_FAILURE, one_line};

/// Runs every check of `config`, each within `timeout`, and prints the findings.
pub async fn run(config: Config, timeout: Duration, json: bool) -> i32 {
    let findings = check::run(&config, timeout).await;
    // A closed pipe (`maildesk check | head`) ends the output, not the process.
    let mut out = std::io::stdout().lock();
    let _ = if json {
        let all = serde_json::json!({ "verdict": check::worst(&findings), "checks": findings });
        writeln!(out, "{}", serde_json::to_string_pretty(&all).unwrap_or_default())
    } else {
        findings.iter().try_for_each(|finding| writeln!(out, "{}", line(finding)))
    };
    if check::worst(&findings) == Verdict::Fail { EXIT_FAILURE } else { 0 }
}

/// `ok    imap support@host:143: logged in; … — what to do`, safe for a terminal (server
/// answers are shown with their control characters escaped).
fn line(finding: &Finding) -> String {
    let fix = finding.fix.as_deref().map(|f| format!(" — {f}")).unwrap_or_default();
    let text = format!("{} {}: {}{fix}", finding.check, finding.target, finding.detail);
    format!("{:<5} {}", finding.verdict.word(), one_line(&text))
}
