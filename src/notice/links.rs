//! Links into the portal, built in this one place from `portal.base_url`: the mail that
//! desk queues and the mail that outbound renders point to the same pages.

use crate::config::PortalConfig;
use crate::domain::TicketNumber;

/// The portal's pages that mail links to.
#[derive(Debug, Clone, Copy)]
pub struct PortalLinks<'a> {
    /// `portal.base_url` without a trailing slash.
    base: &'a str,
}

impl<'a> PortalLinks<'a> {
    /// The links of the portal configured in `portal`.
    pub fn new(portal: &'a PortalConfig) -> PortalLinks<'a> {
        PortalLinks { base: portal.base_url.trim_end_matches('/') }
    }

    /// Where a customer follows ticket `ticket`.
    pub fn request(&self, ticket: TicketNumber) -> String {
        format!("{}/requests/{}", self.base, ticket.0)
    }

    /// Where an invited person sets their password with `token`.
    pub fn signup(&self, token: &str) -> String {
        format!("{}/signup?token={token}", self.base)
    }

    /// Where a person who forgot their password sets a new one with `token`.
    pub fn reset(&self, token: &str) -> String {
        format!("{}/password/reset?token={token}", self.base)
    }

    /// Where a person who signed up proves their address with `token` and sets a password.
    pub fn verify(&self, token: &str) -> String {
        format!("{}/verify?token={token}", self.base)
    }

    /// Where a person asks for a link to set a new password.
    pub fn forgot(&self) -> String {
        format!("{}/password/forgot", self.base)
    }

    /// The log-in page.
    pub fn login(&self) -> String {
        format!("{}/login", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_join_the_base_url_with_one_slash() {
        let mut portal = crate::config::Config::load(None, Vec::new()).unwrap().portal;
        portal.base_url = "https://help.example/desk/".into();
        let links = PortalLinks::new(&portal);
        assert_eq!(links.request(TicketNumber(7)), "https://help.example/desk/requests/7");
        assert_eq!(links.signup("abc"), "https://help.example/desk/signup?token=abc");
    }
}
