//! Signed reply addresses: `support+<ticket>-<mac>@domain`, where the MAC (HMAC-SHA256 of
//! the ticket number under a secret key, 20 hex digits: 80 bits) proves that we handed the address
//! out. Our notifications carry it as Reply-To, so a reply finds its ticket even when the
//! client drops the subject tag and References; a forged or altered address never does.
//!
//! Mail to staff carries a staff member's own variant, `support+<ticket>-s<mac>@domain`,
//! whose MAC also covers their address: only a reply through it, from that address, may
//! give commands. Customers never see it, so forging a staff From is not enough.
//!
//! Forged addresses seen are counted for the whole process and logged with the count (the
//! one piece of state in `inbound`, for the admin's eyes only: it decides nothing).

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{EmailAddress, TicketNumber};

/// Hex digits of the MAC kept in the address (80 bits).
const MAC_HEX: usize = 20;

/// Hex digits of the MACs handed out before 80-bit ones (48 bits): accepted only while
/// [`ReplyAddresses::accept_legacy`] says so, for replies to mail sent before the upgrade.
const LEGACY_MAC_HEX: usize = 12;

/// Forged reply addresses seen by this process, for the log.
static FORGED_SEEN: AtomicU64 = AtomicU64::new(0);

/// Counts one more forged reply address; returns the running total.
pub(super) fn count_forged() -> u64 {
    FORGED_SEEN.fetch_add(1, Ordering::Relaxed) + 1
}

/// How many forged reply addresses this process has seen among recipients so far.
pub fn forged_seen() -> u64 {
    FORGED_SEEN.load(Ordering::Relaxed)
}

/// What a recipient address says about a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyAddress {
    /// A valid signed address of this ticket.
    Valid(TicketNumber),
    /// A valid staff address of this ticket, signed for the sender's own address.
    Staff(TicketNumber),
    /// Shaped like one of ours for this ticket, but the MAC does not match.
    Forged(TicketNumber),
}

/// Signs and checks reply addresses for one support address.
#[derive(Clone)]
pub struct ReplyAddresses {
    key: Vec<u8>,
    local: String,
    domain: String,
    accept_legacy: bool,
}

impl std::fmt::Debug for ReplyAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyAddresses").field("local", &self.local).field("domain", &self.domain).finish()
    }
}

impl ReplyAddresses {
    /// Reply addresses of `base` (`support@domain`) signed with `key`.
    pub fn new(base: &EmailAddress, key: &[u8]) -> ReplyAddresses {
        ReplyAddresses {
            key: key.to_vec(),
            local: base.local_part().to_string(),
            domain: base.domain().to_string(),
            accept_legacy: false,
        }
    }

    /// Whether the 12-digit MACs of earlier versions still count as valid (for
    /// `desk.reopen_days` after the upgrade; desk decides from the date it stored). Without
    /// it such an address is a forgery.
    pub fn accept_legacy(mut self, accept: bool) -> ReplyAddresses {
        self.accept_legacy = accept;
        self
    }

    /// The full MAC of `message` in hex; addresses carry its first [`MAC_HEX`] digits.
    fn mac(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A key for another purpose (the portal's captcha, say), derived from this one as the
    /// HMAC of `key:<label>`: what it signs can never pass for a reply address, whose MACs
    /// cover `ticket:…` and `staff:…`, nor the other way round; and the reply key itself
    /// never leaves this type. Each purpose takes its own label.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(b"key:");
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn ticket_mac(&self, ticket: TicketNumber) -> String {
        self.mac(&format!("ticket:{}", ticket.0))
    }

    fn staff_mac(&self, ticket: TicketNumber, staff: &EmailAddress) -> String {
        self.mac(&format!("staff:{}:{}", ticket.0, staff.as_str()))
    }

    /// The signed reply address of `ticket`.
    pub fn for_ticket(&self, ticket: TicketNumber) -> String {
        format!("{}+{}-{}@{}", self.local, ticket.0, &self.ticket_mac(ticket)[..MAC_HEX], self.domain)
    }

    /// The reply address of `ticket` for staff member `staff`: replies through it, from
    /// that address, may give commands.
    pub fn for_staff(&self, ticket: TicketNumber, staff: &EmailAddress) -> String {
        format!("{}+{}-s{}@{}", self.local, ticket.0, &self.staff_mac(ticket, staff)[..MAC_HEX], self.domain)
    }

    /// What `address` says, if it is shaped like one of our reply addresses, for mail
    /// from `from`.
    pub fn check(&self, address: &EmailAddress, from: &EmailAddress) -> Option<ReplyAddress> {
        if !address.domain().eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let tail = address.local_part().strip_prefix(&self.local)?.strip_prefix('+')?;
        let (number, mac) = tail.split_once('-')?;
        let ticket = TicketNumber(number.parse().ok().filter(|n: &i64| *n > 0)?);
        let (mac, expected, valid) = match mac.strip_prefix('s') {
            Some(mac) => (mac, self.staff_mac(ticket, from), ReplyAddress::Staff(ticket)),
            None => (mac, self.ticket_mac(ticket), ReplyAddress::Valid(ticket)),
        };
        let digits = match mac.len() {
            MAC_HEX => MAC_HEX,
            LEGACY_MAC_HEX if self.accept_legacy => LEGACY_MAC_HEX,
            _ => return Some(ReplyAddress::Forged(ticket)),
        };
        // Compare without leaking where the first difference is.
        let same =
            mac.bytes().zip(expected[..digits].bytes()).fold(0u8, |acc, (a, b)| acc | (a.to_ascii_lowercase() ^ b))
                == 0;
        Some(if same { valid } else { ReplyAddress::Forged(ticket) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> EmailAddress {
        EmailAddress::parse("carla@customer.example").unwrap()
    }

    fn addresses() -> ReplyAddresses {
        ReplyAddresses::new(&EmailAddress::parse("support@helpdesk.example").unwrap(), b"test key")
    }

    #[test]
    fn a_signed_address_round_trips_and_cannot_be_forged() {
        let r = addresses();
        let signed = r.for_ticket(TicketNumber(42));
        assert!(signed.starts_with("support+42-") && signed.ends_with("@helpdesk.example"), "{signed}");
        let parsed = EmailAddress::parse(&signed.to_uppercase()).unwrap();
        assert_eq!(r.check(&parsed, &from()), Some(ReplyAddress::Valid(TicketNumber(42))));
        // The MAC of 42 does not open 43.
        let moved = signed.replace("+42-", "+43-");
        assert_eq!(
            r.check(&EmailAddress::parse(&moved).unwrap(), &from()),
            Some(ReplyAddress::Forged(TicketNumber(43)))
        );
        let guessed = EmailAddress::parse("support+42-000000000000@helpdesk.example").unwrap();
        assert_eq!(r.check(&guessed, &from()), Some(ReplyAddress::Forged(TicketNumber(42))));
        // Another key signs differently.
        let other = ReplyAddresses::new(&EmailAddress::parse("support@helpdesk.example").unwrap(), b"other key");
        assert_eq!(other.check(&parsed, &from()), Some(ReplyAddress::Forged(TicketNumber(42))));
    }

    #[test]
    fn derived_keys_differ_by_label_and_by_reply_key_and_are_not_the_key() {
        let r = addresses();
        let captcha = r.derive_key("captcha");
        assert_eq!(captcha, r.derive_key("captcha"), "the same key every time");
        assert_ne!(captcha, r.derive_key("csrf"));
        let other = ReplyAddresses::new(&EmailAddress::parse("support@helpdesk.example").unwrap(), b"other key");
        assert_ne!(captcha, other.derive_key("captcha"));
        assert!(!captcha.windows(8).any(|w| w == b"test key"));
    }

    #[test]
    fn a_staff_address_is_valid_only_from_its_staff_member() {
        let r = addresses();
        let ann = EmailAddress::parse("ann@staff.example").unwrap();
        let signed = EmailAddress::parse(&r.for_staff(TicketNumber(7), &ann)).unwrap();
        assert!(signed.as_str().starts_with("support+7-s"), "{signed}");
        assert_eq!(r.check(&signed, &ann), Some(ReplyAddress::Staff(TicketNumber(7))));
        // The same address from anyone else is a forgery, and a customer's address is no
        // staff address.
        assert_eq!(r.check(&signed, &from()), Some(ReplyAddress::Forged(TicketNumber(7))));
        let customer = EmailAddress::parse(&r.for_ticket(TicketNumber(7))).unwrap();
        assert_eq!(r.check(&customer, &ann), Some(ReplyAddress::Valid(TicketNumber(7))));
        let moved = EmailAddress::parse(&signed.as_str().replace("+7-", "+8-")).unwrap();
        assert_eq!(r.check(&moved, &ann), Some(ReplyAddress::Forged(TicketNumber(8))));
    }

    #[test]
    fn macs_have_80_bits_and_old_48_bit_ones_count_only_while_accepted() {
        let r = addresses();
        let ann = EmailAddress::parse("ann@staff.example").unwrap();
        let customer = r.for_ticket(TicketNumber(42));
        let staff = r.for_staff(TicketNumber(42), &ann);
        let mac_of = |a: &str| a.split_once('@').unwrap().0.rsplit_once('-').unwrap().1.to_string();
        assert_eq!(mac_of(&customer).len(), 20, "{customer}");
        assert_eq!(mac_of(&staff).len(), 21, "s + 20 digits: {staff}");
        // An address of the previous version: the first 12 digits of the same MAC.
        let old_customer =
            EmailAddress::parse(&format!("support+42-{}@helpdesk.example", &mac_of(&customer)[..12])).unwrap();
        let old_staff = EmailAddress::parse(&format!("support+42-{}@helpdesk.example", &mac_of(&staff)[..13])).unwrap();
        assert_eq!(r.check(&old_customer, &from()), Some(ReplyAddress::Forged(TicketNumber(42))));
        assert_eq!(r.check(&old_staff, &ann), Some(ReplyAddress::Forged(TicketNumber(42))));
        let legacy = addresses().accept_legacy(true);
        assert_eq!(legacy.check(&old_customer, &from()), Some(ReplyAddress::Valid(TicketNumber(42))));
        assert_eq!(legacy.check(&old_staff, &ann), Some(ReplyAddress::Staff(TicketNumber(42))));
        assert_eq!(legacy.for_ticket(TicketNumber(42)), customer, "new addresses stay long");
        // Other lengths never match, even a prefix of the right MAC.
        for digits in [8, 16, 19] {
            let cut =
                EmailAddress::parse(&format!("support+42-{}@helpdesk.example", &mac_of(&customer)[..digits])).unwrap();
            assert_eq!(legacy.check(&cut, &from()), Some(ReplyAddress::Forged(TicketNumber(42))), "{digits}");
        }
    }

    #[test]
    fn other_addresses_say_nothing() {
        let r = addresses();
        for a in [
            "support@helpdesk.example",
            "support+x@helpdesk.example",
            "sales+42-abc@helpdesk.example",
            "support+42-abc@other.example",
        ] {
            assert_eq!(r.check(&EmailAddress::parse(a).unwrap(), &from()), None, "{a}");
        }
    }
}
