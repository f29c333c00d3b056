//! The support domain's DNS: whether the domain of `desk.address` resolves from here. Only
//! A/AAAA are looked up (through the system resolver): maildesk has no DNS library to ask
//! for MX. A name that does not resolve is a warning, since test and build machines
//! often have no DNS.

use super::{Finding, Verdict};
use crate::config::Config;

/// Looks up the domain of `desk.address`.
pub async fn check(config: &Config) -> Vec<Finding> {
    let domain = config.desk.address.domain().to_string();
    let finding = |verdict, detail: String| Finding::new("dns", domain.clone(), verdict, detail);
    if domain.eq_ignore_ascii_case("localhost") || !domain.contains('.') {
        return vec![
            finding(
                Verdict::Warn,
                format!("desk.address {} is not an address customers can write to", config.desk.address),
            )
            .fix("set desk.address to the support address"),
        ];
    }
    let found = match tokio::net::lookup_host((domain.as_str(), 25)).await {
        Ok(addresses) => {
            let mut ips: Vec<String> = addresses.map(|a| a.ip().to_string()).collect();
            ips.dedup();
            finding(Verdict::Ok, format!("resolves to {} (A/AAAA only: MX not checked here)", ips.join(", ")))
                .fix(format!("check that the MX of {domain} leads to the server maildesk reads: dig MX {domain}"))
        }
        Err(e) => finding(Verdict::Warn, format!("does not resolve here ({e})")).fix(format!(
            "check on the production host that {domain} has an MX leading to your mail server: dig MX {domain}"
        )),
    };
    vec![found]
}
