//! Metrics and health (issue 18, item 3): the real daemon with `[metrics] listen`, mail
//! through its Maildir and requests to its portal, scraped as Prometheus would; `/healthz`
//! and `/readyz` on both listeners.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::cli::{Daemon, deliver, wait_until};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` at `addr`: the status and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The value of the sample of `name` whose labels include every one of `labels`.
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let matches =
            series == name || (series.starts_with(&format!("{name}{{")) && labels.iter().all(|l| series.contains(l)));
        (matches && (series != name || labels.is_empty())).then(|| value.parse().ok()).flatten()
    })
}

#[test]
fn the_daemon_counts_mail_by_outcome_sends_and_portal_requests_and_says_it_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (portal, metrics) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let env = [
        ("MAILDESK_PORTAL__ENABLED", "true"),
        ("MAILDESK_PORTAL__LISTEN", portal.as_str()),
        ("MAILDESK_METRICS__LISTEN", metrics.as_str()),
    ];
    let daemon = Daemon::start(dir, &env);
    wait_until("the metrics listener", Duration::from_secs(30), || daemon.log().contains("metrics listening"));

    // A new request, a reply to it, the same mail again, and an out-of-office.
    let first = common::mail("Ann <ann@example.com>", "Printer jams", Some("p1@example.com"), "", "It jams.");
    deliver(dir, "1700000001.1.test", &first);
    wait_until("the ticket", Duration::from_secs(20), || daemon.log().contains("outcome=\"opened\""));
    let reply = common::mail(
        "Ann <ann@example.com>",
        "Re: Printer jams",
        Some("p2@example.com"),
        "In-Reply-To: <p1@example.com>\n",
        "Still jams.",
    );
    deliver(dir, "1700000002.1.test", &reply);
    deliver(dir, "1700000003.1.test", &first);
    let away = common::mail("Bob <bob@example.com>", "Out of office", None, "Auto-Submitted: auto-replied\n", "Away.");
    deliver(dir, "1700000004.1.test", &away);
    wait_until("four mails taken", Duration::from_secs(20), || daemon.log().matches("message applied").count() >= 4);
    wait_until("the acknowledgement sent", Duration::from_secs(20), || daemon.log().contains("notification sent"));
    for _ in 0..3 {
        assert_eq!(get(&portal, "/login").0, 200);
    }
    assert_eq!(get(&portal, "/requests/1").0, 303, "not signed in: sent to the login");

    let (status, body) = get(&metrics, "/metrics");
    assert_eq!(status, 200);
    let mails =
        |outcome: &str| sample(&body, "maildesk_mails_total", &[&format!("outcome=\"{outcome}\""), "source=\"maildir"]);
    assert_eq!(mails("ticket"), Some(1.0), "{body}");
    assert_eq!(mails("comment"), Some(1.0), "{body}");
    assert_eq!(mails("duplicate"), Some(1.0), "{body}");
    assert_eq!(mails("automatic"), Some(1.0), "{body}");
    assert_eq!(sample(&body, "maildesk_mail_processing_seconds_count", &["source=\"maildir"]), Some(4.0), "{body}");
    assert!(sample(&body, "maildesk_notifications_sent_total", &["kind=\"acknowledgement\""]) >= Some(1.0), "{body}");
    let login = ["route=\"/login\"", "status=\"200\""];
    assert_eq!(sample(&body, "maildesk_portal_requests_total", &login), Some(3.0), "{body}");
    // Routes are counted by their pattern, not by the path asked for.
    let detail = ["route=\"/requests/{number}\"", "status=\"303\""];
    assert_eq!(sample(&body, "maildesk_portal_requests_total", &detail), Some(1.0), "{body}");
    assert!(sample(&body, "maildesk_portal_request_seconds_bucket", &["route=\"/login\"", "le=\"+Inf\""]) == Some(3.0));
    for part in ["maildir", "sender", "portal"] {
        assert_eq!(sample(&body, "maildesk_part_up", &[&format!("part=\"{part}\"")]), Some(1.0), "{part}: {body}");
    }
    assert!(sample(&body, "maildesk_part_last_success_timestamp_seconds", &["part=\"maildir\""]) > Some(1.7e9));
    assert!(sample(&body, "maildesk_outbox_pending", &[]).is_some(), "{body}");
    assert!(sample(&body, "maildesk_outbox_oldest_pending_seconds", &[]).is_some(), "{body}");
    assert!(sample(&body, "maildesk_db_connections", &["state=\"open\""]) >= Some(1.0), "{body}");

    for addr in [&portal, &metrics] {
        assert_eq!(get(addr, "/healthz"), (200, "ok".to_string()));
        let (status, body) = get(addr, "/readyz");
        assert_eq!((status, body.as_str()), (200, "ready\n"), "{addr}");
    }
}

#[test]
fn ready_is_503_naming_a_mailbox_that_is_down_and_metrics_are_off_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let metrics = format!("127.0.0.1:{}", free_port());
    let config = dir.join("maildesk.toml");
    let text = format!(
        "[portal]\nenabled = false\n[metrics]\nlisten = \"{metrics}\"\n[[imap]]\nname = \"support\"\n\
         host = \"127.0.0.1\"\nport = {}\ntls = \"plain\"\nuser = \"support\"\npassword = \"secret\"\n",
        free_port()
    );
    std::fs::write(&config, text).unwrap();
    let config = config.display().to_string();
    let daemon = Daemon::start(dir, &[("MAILDESK_CONFIG", config.as_str())]);
    wait_until("the mailbox to fail", Duration::from_secs(20), || daemon.log().contains("mailbox unavailable"));
    let (status, body) = get(&metrics, "/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("imap support:") && !body.contains("database"), "{body}");
    assert_eq!(get(&metrics, "/healthz").0, 200, "alive, though not ready");
    let (_, scraped) = get(&metrics, "/metrics");
    assert_eq!(sample(&scraped, "maildesk_part_up", &["part=\"imap support\""]), Some(0.0), "{scraped}");
    assert_eq!(sample(&scraped, "maildesk_part_up", &["part=\"maildir\""]), Some(1.0), "{scraped}");

    // Without [metrics] listen, nothing is served for them.
    let quiet = tempfile::tempdir().unwrap();
    let other = Daemon::start(quiet.path(), &[("MAILDESK_PORTAL__ENABLED", "false")]);
    wait_until("the daemon", Duration::from_secs(20), || other.log().contains("maildir source started"));
    assert!(!other.log().contains("metrics listening"), "{}", other.log());
}
