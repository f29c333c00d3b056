//! The SMTP server: connect, TLS, EHLO and AUTH as the sender does, then leave without
//! sending anything. With the file transport no mail leaves the host: a warning.

use std::time::Duration;

use super::{Finding, Pending, Verdict, within};
use crate::config::{Config, SmtpConfig, TlsMode, TransportKind};
use crate::outbound::{ProbeError, probe_smtp};

/// The SMTP finding of `config`, within `timeout` when there is a server to ask.
pub fn check(config: &Config, timeout: Duration) -> Pending<'_> {
    match &config.smtp {
        Some(smtp) => {
            let target = format!("{}:{}", smtp.host, smtp.port());
            let unused = config.outbox.transport != TransportKind::Smtp;
            within(timeout, "smtp", target.clone(), async move {
                let finding = match probe_smtp(smtp).await {
                    Ok(()) => Finding::new("smtp", "", Verdict::Ok, connected(smtp)),
                    Err(e) => failure(&e),
                };
                let finding = if unused && finding.verdict == Verdict::Ok {
                    Finding::new(
                        "smtp",
                        "(outbox.transport = \"file\")",
                        Verdict::Warn,
                        format!("{}, but not used", finding.detail),
                    )
                    .fix("outbox.transport is \"file\": set it to \"smtp\" for mail to leave")
                } else {
                    finding
                };
                vec![Finding { target, ..finding }]
            })
        }
        None => {
            let dir = config.outbox.dir.display().to_string();
            Box::pin(async move {
                vec![
                    Finding::new(
                        "smtp",
                        "(outbox.transport = \"file\")",
                        Verdict::Warn,
                        format!("no [smtp]: mail is written as files into {dir}, not sent"),
                    )
                    .fix("set outbox.transport = \"smtp\" and an [smtp] section for mail to reach people"),
                ]
            })
        }
    }
}

/// What a working connection was.
fn connected(smtp: &SmtpConfig) -> String {
    let how = match smtp.tls {
        TlsMode::Implicit => "over TLS",
        TlsMode::Starttls => "with STARTTLS",
        TlsMode::Plain => "without TLS (loopback)",
    };
    match &smtp.user {
        Some(user) => format!("connected {how}, authenticated as {user:?}; nothing sent"),
        None => format!("connected {how}, no AUTH (smtp.user not set); nothing sent"),
    }
}

/// The verdict on a server that cannot be used.
fn failure(e: &ProbeError) -> Finding {
    let fail = |detail: String| Finding::new("smtp", "", Verdict::Fail, detail);
    match e {
        ProbeError::Setup(e) => fail(e.clone()).fix("check [smtp] password_file and ca_file"),
        ProbeError::Connect(e) => {
            fail(format!("cannot connect: {e}")).fix("check [smtp] host, port and tls, and that the server runs")
        }
        ProbeError::Tls(e) => fail(format!("TLS failed: {e}"))
            .fix("check [smtp] tls (implicit on 465, starttls on 587) and ca_file; the certificate must name the host"),
        ProbeError::Auth(e) => fail(format!("authentication refused: {e}")).fix("check [smtp] user and password"),
        ProbeError::Refused(e) => fail(format!("the server refused: {e}")).fix("see the server's log"),
    }
}
