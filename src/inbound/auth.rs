//! What the receiving MTA found out about the sender: the `Authentication-Results` header
//! (RFC 8601) written by the server whose `authserv-id` the admin trusts
//! (`desk.trusted_authserv_id`). Only the topmost header carrying that id counts: a
//! receiving server adds its own above everything the sender wrote, so one further down —
//! or one with another id — may be the sender's own invention.

use serde::Serialize;

/// Whether the sender's From domain was authenticated by the trusted server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Authentication {
    /// DMARC passed for the From domain, or SPF or DKIM passed for a domain aligned with it.
    Pass,
    /// DMARC failed for the From domain: the From is very likely forged.
    Fail,
    /// Nothing trustworthy was said (no trusted server configured, no header of it, or no
    /// verdict about the From domain).
    #[default]
    Unknown,
}

impl Authentication {
    /// The stable word for this verdict.
    pub fn as_str(self) -> &'static str {
        match self {
            Authentication::Pass => "pass",
            Authentication::Fail => "fail",
            Authentication::Unknown => "unknown",
        }
    }
}

/// The verdict on `from_domain` in the topmost `Authentication-Results` of `headers`
/// (lower-cased names, raw values, top to bottom) whose authserv-id is `authserv_id` —
/// with the ones of that id right below it, as a server whose filters each write their
/// own header (OpenDKIM, OpenDMARC, policyd-spf) adds them in a block. A DMARC fail in any
/// of them wins; else a DMARC pass, or an SPF or DKIM pass aligned with the From domain.
pub(super) fn verdict(headers: &[(String, String)], authserv_id: &str, from_domain: &str) -> Authentication {
    let of_trusted = |value: &str| -> Option<String> {
        let value = unfold(value);
        let (id, rest) = value.split_once(';').unwrap_or((&value, ""));
        // The authserv-id may be followed by a version number.
        let id = id.split_whitespace().next().unwrap_or_default();
        id.eq_ignore_ascii_case(authserv_id).then(|| rest.to_string())
    };
    let Some(first) =
        headers.iter().position(|(name, value)| name == "authentication-results" && of_trusted(value).is_some())
    else {
        return Authentication::Unknown;
    };
    let block = headers[first..]
        .iter()
        .map_while(|(name, value)| (name == "authentication-results").then(|| of_trusted(value)).flatten());
    let from_domain = from_domain.to_ascii_lowercase();
    let mut verdict = Authentication::Unknown;
    for results in block {
        for result in results.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some(method) = MethodResult::parse(result) else { continue };
            let about_from = || method.domain("header.from").is_some_and(|d| d == from_domain);
            match (method.method.as_str(), method.result.as_str()) {
                ("dmarc", "fail") if about_from() => return Authentication::Fail,
                ("dmarc", "pass") if about_from() => verdict = Authentication::Pass,
                ("spf", "pass") => {
                    let domain = method.domain("smtp.mailfrom").or_else(|| method.domain("smtp.helo"));
                    if domain.is_some_and(|d| aligned(&d, &from_domain)) {
                        verdict = Authentication::Pass;
                    }
                }
                ("dkim", "pass") => {
                    let domain = method.domain("header.d").or_else(|| method.domain("header.i"));
                    if domain.is_some_and(|d| aligned(&d, &from_domain)) {
                        verdict = Authentication::Pass;
                    }
                }
                _ => {}
            }
        }
    }
    verdict
}

/// Header text on one line, without RFC 5322 comments (`(...)`, which may hold anything)
/// and with every quoted string (which a sender may fill, as the local part of an
/// envelope sender) reduced to `"q"`, so that nothing inside one reads as a `;` or a
/// result. An unclosed comment or quote hides the rest: that can only lose a verdict.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                if quoted {
                    out.push_str("\"q");
                } else {
                    out.push('"');
                }
            }
            _ if quoted => {}
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            '\r' | '\n' | '\t' if depth == 0 => out.push(' '),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// One `method=result property=value ...` of a header.
struct MethodResult {
    method: String,
    result: String,
    properties: Vec<(String, String)>,
}

impl MethodResult {
    fn parse(text: &str) -> Option<MethodResult> {
        let mut words = text.split_whitespace();
        let (method, result) = words.next()?.split_once('=')?;
        // `dkim/1=pass`: a method may carry a version.
        let method = method.split('/').next().unwrap_or(method).to_ascii_lowercase();
        let properties = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim_matches('"').to_ascii_lowercase()))
            .collect();
        Some(MethodResult { method, result: result.to_ascii_lowercase(), properties })
    }

    /// The domain a property names (`smtp.mailfrom=a@b.example` → `b.example`).
    fn domain(&self, key: &str) -> Option<String> {
        let value = &self.properties.iter().find(|(k, _)| k == key)?.1;
        let domain = value.rsplit('@').next()?.trim_end_matches('.');
        (!domain.is_empty()).then(|| domain.to_string())
    }
}

/// Relaxed alignment (RFC 7489): the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> Vec<(String, String)> {
        values.iter().map(|v| ("authentication-results".to_string(), v.to_string())).collect()
    }

    #[test]
    fn dmarc_of_the_trusted_server_decides() {
        let h = headers(&["mx.helpdesk.example; spf=none; dmarc=fail (p=reject) header.from=victim.example"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Fail);
        let h =
            headers(&["mx.helpdesk.example 1; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example"]);
        assert_eq!(verdict(&h, "MX.helpdesk.example", "acme.example"), Authentication::Pass);
    }

    #[test]
    fn only_the_topmost_header_of_the_trusted_id_counts() {
        // The attacker's own header sits below the one the receiving server added.
        let h = headers(&[
            "mx.helpdesk.example; dmarc=fail header.from=victim.example",
            "mx.helpdesk.example; dmarc=pass header.from=victim.example",
        ]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Fail);
        // A header of another server says nothing.
        let h = headers(&["evil.test; dmarc=pass header.from=victim.example"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Unknown);
    }

    #[test]
    fn aligned_spf_or_dkim_pass_authenticates_and_unaligned_does_not() {
        let h = headers(&["mx.helpdesk.example; spf=pass smtp.mailfrom=bounce@mail.acme.example"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "acme.example"), Authentication::Pass);
        let h = headers(&["mx.helpdesk.example; spf=pass smtp.mailfrom=x@evil.test; dkim=pass header.d=evil.test"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "acme.example"), Authentication::Unknown);
        // A verdict about another From domain is not about this one.
        let h = headers(&["mx.helpdesk.example; dmarc=pass header.from=evil.test"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "acme.example"), Authentication::Unknown);
    }

    #[test]
    fn quoted_strings_cannot_smuggle_results_and_a_fail_anywhere_wins() {
        // The envelope sender's quoted local part is the sender's to choose.
        let h = headers(&[
            r#"mx.helpdesk.example; spf=none smtp.mailfrom="x; dmarc=pass header.from=victim.example "@evil.test; dmarc=fail header.from=victim.example"#,
        ]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Fail);
        let h = headers(&[
            r#"mx.helpdesk.example; spf=pass smtp.mailfrom="a\";dmarc=pass header.from=victim.example"@evil.test"#,
        ]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Unknown);
        // The quoted local part keeps its domain.
        let h = headers(&[r#"mx.helpdesk.example; spf=pass smtp.mailfrom="a b"@acme.example"#]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "acme.example"), Authentication::Pass);
        // A pass in one filter's header, a fail in the next one's: the fail wins.
        let h = headers(&[
            "mx.helpdesk.example; dkim=pass header.d=victim.example",
            "mx.helpdesk.example; dmarc=fail header.from=victim.example",
        ]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Fail);
    }

    #[test]
    fn a_dmarc_verdict_counts_only_when_it_names_the_from_domain() {
        let h = headers(&["mx.helpdesk.example; dmarc=pass"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Unknown);
        let h = headers(&["mx.helpdesk.example; dmarc=pass header.from=victim.example.evil.test"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Unknown);
    }

    #[test]
    fn headers_below_the_trusted_block_count_for_nothing() {
        let h = vec![
            ("authentication-results".to_string(), "mx.helpdesk.example; spf=none".to_string()),
            ("received".to_string(), "from evil.test by mx.helpdesk.example".to_string()),
            ("authentication-results".to_string(), "mx.helpdesk.example; dmarc=pass header.from=victim.example".into()),
        ];
        assert_eq!(verdict(&h, "mx.helpdesk.example", "victim.example"), Authentication::Unknown);
    }

    #[test]
    fn comments_cannot_smuggle_results() {
        let h = headers(&["mx.helpdesk.example; spf=none (dmarc=pass; dmarc=pass header.from=acme.example)"]);
        assert_eq!(verdict(&h, "mx.helpdesk.example", "acme.example"), Authentication::Unknown);
    }
}
