//! Signed reply addresses: `support+<ticket>-<mac>@domain`, where the MAC (HMAC-SHA256 of
//! the ticket number under a secret key, 12 hex digits) proves that we handed the address
//! out. Our notifications carry it as Reply-To, so a reply finds its ticket even when the
//! client drops the subject tag and References; a forged or altered address never does.
//!
//! Mail to staff carries a staff member's own variant, `support+<ticket>-s<mac>@domain`,
//! whose MAC also covers their address: only a reply through it, from that address, may
//! give commands. Customers never see it, so forging a staff From is not enough.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{EmailAddress, TicketNumber};

/// Hex digits of the MAC kept in the address (48 bits).
const MAC_HEX: usize = 12;

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
}

impl std::fmt::Debug for ReplyAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyAddresses").field("local", &self.local).field("domain", &self.domain).finish()
    }
}

impl ReplyAddresses {
    /// Reply addresses of `base` (`support@domain`) signed with `key`.
    pub fn new(base: &EmailAddress, key: &[u8]) -> ReplyAddresses {
        ReplyAddresses { key: key.to_vec(), local: base.local_part().to_string(), domain: base.domain().to_string() }
    }

    fn mac(&self, message: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        hex::encode(mac.finalize().into_bytes())[..MAC_HEX].to_string()
    }

    fn ticket_mac(&self, ticket: TicketNumber) -> String {
        self.mac(&format!("ticket:{}", ticket.0))
    }

    fn staff_mac(&self, ticket: TicketNumber, staff: &EmailAddress) -> String {
        self.mac(&format!("staff:{}:{}", ticket.0, staff.as_str()))
    }

    /// The signed reply address of `ticket`.
    pub fn for_ticket(&self, ticket: TicketNumber) -> String {
        format!("{}+{}-{}@{}", self.local, ticket.0, self.ticket_mac(ticket), self.domain)
    }

    /// The reply address of `ticket` for staff member `staff`: replies through it, from
    /// that address, may give commands.
    pub fn for_staff(&self, ticket: TicketNumber, staff: &EmailAddress) -> String {
        format!("{}+{}-s{}@{}", self.local, ticket.0, self.staff_mac(ticket, staff), self.domain)
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
        // Compare without leaking where the first difference is.
        let same = mac.len() == expected.len()
            && mac.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase())) == 0;
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
