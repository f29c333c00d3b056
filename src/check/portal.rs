//! The portal: its listen address can be bound (and is released at once), and its base
//! URL, which every link in mail starts with, is absolute and reachable by customers.

use std::net::IpAddr;

use super::{Finding, Verdict};
use crate::config::PortalConfig;

/// The listen address and the base URL.
pub async fn check(portal: &PortalConfig) -> Vec<Finding> {
    vec![listen(portal).await, base_url(&portal.base_url)]
}

async fn listen(portal: &PortalConfig) -> Finding {
    let target = format!("listen {}", portal.listen);
    let finding = |verdict, detail: &str| Finding::new("portal", target.clone(), verdict, detail);
    if !portal.enabled {
        return finding(Verdict::Ok, "the portal is off (portal.enabled = false)");
    }
    match tokio::net::TcpListener::bind(portal.listen).await {
        Ok(listener) => {
            drop(listener);
            finding(Verdict::Ok, "can listen there")
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => finding(Verdict::Warn, "address in use")
            .fix("fine if maildesk is running there already; otherwise stop what holds it or change portal.listen"),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            finding(Verdict::Fail, &format!("cannot listen: {e}"))
                .fix("ports below 1024 need CAP_NET_BIND_SERVICE: use a higher port behind a proxy")
        }
        Err(e) => finding(Verdict::Fail, &format!("cannot listen: {e}"))
            .fix("portal.listen must be an address of this host (or 0.0.0.0 / [::])"),
    }
}

/// Grades `portal.base_url` (the config already made sure it starts with http(s)://).
pub fn base_url(url: &str) -> Finding {
    let target = format!("base_url {url}");
    let finding = |verdict, detail: &str| Finding::new("portal", target.clone(), verdict, detail);
    if url.contains(['?', '#']) {
        return finding(Verdict::Fail, "has a query or fragment, which links in mail cannot follow")
            .fix("set portal.base_url to a plain URL such as https://support.example.com/desk");
    }
    let uri: axum::http::Uri = match url.parse() {
        Ok(uri) => uri,
        Err(e) => {
            return finding(Verdict::Fail, &format!("not a URL: {e}"))
                .fix("set portal.base_url to the portal's public URL");
        }
    };
    let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let https = uri.scheme_str() == Some("https");
    if host.is_empty() || !matches!(uri.scheme_str(), Some("http" | "https")) {
        return finding(Verdict::Fail, "has no host").fix("set portal.base_url to the portal's public URL");
    }
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return finding(Verdict::Warn, "links in mail lead to this machine only")
            .fix("set portal.base_url to the URL customers reach the portal at");
    }
    if !https {
        return finding(Verdict::Warn, "plain http: passwords and session cookies cross the network in the clear")
            .fix("serve the portal over https (behind a proxy) and set portal.base_url to https://…");
    }
    finding(Verdict::Ok, &format!("absolute https URL of {host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_must_be_plain_absolute_and_reachable_by_customers() {
        let verdict = |url: &str| base_url(url).verdict;
        assert_eq!(verdict("https://support.example.com/desk/"), Verdict::Ok);
        assert_eq!(verdict("http://support.example.com"), Verdict::Warn, "https recommended");
        assert_eq!(verdict("http://127.0.0.1:8080"), Verdict::Warn, "customers cannot follow it");
        assert_eq!(verdict("https://localhost"), Verdict::Warn);
        assert_eq!(verdict("https://[::1]:8443"), Verdict::Warn);
        assert_eq!(verdict("https://support.example.com/?lang=en"), Verdict::Fail);
        assert_eq!(verdict("https://support.example.com/#top"), Verdict::Fail);
        assert_eq!(verdict("https://"), Verdict::Fail);
        assert_eq!(verdict("https://exa mple.com"), Verdict::Fail);
    }
}
