//! The sender blocklist (`maildesk sender block|unblock|list`): mail from a blocked address
//! or domain is recorded but neither ticketed nor answered. Entries are an address or a
//! whole domain, written `@domain` in the store.

use crate::App;
use crate::domain::EmailAddress;
use crate::store::{BlockedSender, StoreError};

/// Why a blocklist entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    /// Neither an address nor a domain.
    #[error("{0:?} is neither an address (ann@example.com) nor a domain (example.com or @example.com)")]
    Invalid(String),
    /// One of our own addresses or our domain: blocking it would block our own mail.
    #[error("{0:?} is our own address or domain")]
    Ours(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored form of `entry`: a lower-cased address, or `@domain`.
pub fn pattern(entry: &str) -> Result<String, SenderError> {
    let entry = entry.trim();
    let invalid = || SenderError::Invalid(entry.to_string());
    let domain = entry.strip_prefix('@').unwrap_or(entry);
    if !domain.contains('@') {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let label_ok =
            |l: &str| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if domain.len() > 253 || !domain.contains('.') || !domain.split('.').all(label_ok) {
            return Err(invalid());
        }
        return Ok(format!("@{domain}"));
    }
    EmailAddress::parse(entry).map(|a| a.as_str().to_string()).map_err(|_| invalid())
}

/// Blocks `entry` (an address or a domain); returns the stored pattern and whether it is new.
pub async fn block(app: &App, entry: &str) -> Result<(String, bool), SenderError> {
    let pattern = pattern(entry)?;
    let config = app.config();
    let ours = config.own_addresses();
    let our_domain = format!("@{}", config.desk.address.domain().to_ascii_lowercase());
    if pattern == our_domain || ours.iter().any(|a| a.as_str() == pattern) {
        return Err(SenderError::Ours(entry.to_string()));
    }
    let added = app.store.conn().await?.block_sender(&pattern).await?;
    Ok((pattern, added))
}

/// Unblocks `entry`; returns the pattern and whether it was blocked.
pub async fn unblock(app: &App, entry: &str) -> Result<(String, bool), SenderError> {
    let pattern = pattern(entry)?;
    let removed = app.store.conn().await?.unblock_sender(&pattern).await?;
    Ok((pattern, removed))
}

/// The blocklist.
pub async fn list(app: &App) -> Result<Vec<BlockedSender>, SenderError> {
    Ok(app.store.conn().await?.blocked_senders().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_addresses_or_domains() {
        assert_eq!(pattern("Spam@Evil.Test").unwrap(), "spam@evil.test");
        assert_eq!(pattern("evil.test").unwrap(), "@evil.test");
        assert_eq!(pattern("@Evil.Test.").unwrap(), "@evil.test");
        for bad in ["", "evil", "@", "a b.test", "x@", "@@evil.test"] {
            assert!(pattern(bad).is_err(), "{bad:?}");
        }
    }
}
