//! The roster of staff: members added with `maildesk staff add` (the `staff` table) and
//! those listed under a department of the config, as one list. It answers who is staff,
//! what they are called, who is told about a ticket, and what the CLI lists; adding and
//! removing members lives here.

use serde::Serialize;

use crate::App;
use crate::domain::{EmailAddress, StaffNotify};
use crate::store::{Conn, StoreError};

/// One staff member.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StaffMember {
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// The department whose tickets they get; none means every department.
    pub department: Option<String>,
    /// Which staff notifications they get.
    pub notify: StaffNotify,
    /// Whether they are listed in the config (rather than added with `staff add`).
    pub from_config: bool,
}

/// Every staff member: the table's first, by address, then the config's by department.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// The members.
    pub members: Vec<StaffMember>,
}

impl Roster {
    /// Whether `email` (lower-case) is on the roster.
    pub fn contains(&self, email: &str) -> bool {
        self.members.iter().any(|m| m.email == email)
    }

    /// The name of staff member `email`, if they have one.
    pub fn name_of(&self, email: &str) -> Option<&str> {
        self.members.iter().find(|m| m.email == email && !m.name.is_empty()).map(|m| m.name.as_str())
    }

    /// The staff told about a ticket of `department` assigned to `assignee`, by address:
    /// the members of its department and those of every department, each as they prefer
    /// (one who wants only their own tickets, only when it is assigned to them), and the
    /// assignee always. No one when there is no staff at all.
    pub fn told_about(&self, department: Option<&str>, assignee: Option<&str>) -> Vec<String> {
        if self.members.is_empty() {
            return Vec::new();
        }
        let assigned = |email: &str| assignee == Some(email);
        let only_assigned =
            |email: &str| self.members.iter().any(|m| m.email == email && m.notify == StaffNotify::Assigned);
        let of_department =
            self.members.iter().filter(|m| m.department.is_none() || m.department.as_deref() == department);
        let mut out: Vec<String> = Vec::new();
        for email in of_department.map(|m| m.email.as_str()).chain(assignee) {
            if (!only_assigned(email) || assigned(email)) && !out.iter().any(|o| o == email) {
                out.push(email.to_string());
            }
        }
        out.sort();
        out
    }
}

/// Whether `email` belongs to a staff member: added with `maildesk staff add`, or listed
/// in a department of the config.
pub async fn is_staff(app: &App, db: &mut Conn, email: &EmailAddress) -> Result<bool, StoreError> {
    if in_config(app, email) {
        return Ok(true);
    }
    Ok(db.staff_member(email.as_str()).await?.is_some())
}

/// Whether `email` is ours: one of the desk's own addresses or a staff member's. Such an
/// address never becomes a customer of the portal.
pub async fn is_ours(app: &App, db: &mut Conn, email: &EmailAddress) -> Result<bool, StoreError> {
    Ok(app.config().own_addresses().contains(&email) || is_staff(app, db, email).await?)
}

/// Whether `email` is listed as staff of a department in the config (the staff table is
/// the other place staff are kept).
pub fn in_config(app: &App, email: &EmailAddress) -> bool {
    app.config().departments.iter().any(|d| d.staff.contains(email))
}

/// The roster, read on `db`.
pub async fn load(app: &App, db: &mut Conn) -> Result<Roster, StoreError> {
    let mut members: Vec<StaffMember> = db
        .staff_members()
        .await?
        .into_iter()
        .map(|s| StaffMember {
            email: s.email,
            name: s.name,
            department: s.department,
            notify: s.notify,
            from_config: false,
        })
        .collect();
    for d in &app.config().departments {
        for email in &d.staff {
            members.push(StaffMember {
                email: email.to_string(),
                name: String::new(),
                department: Some(d.name.clone()),
                notify: StaffNotify::All,
                from_config: true,
            });
        }
    }
    Ok(Roster { members })
}

/// The roster (`maildesk staff list`).
pub async fn roster(app: &App) -> Result<Roster, StoreError> {
    load(app, &mut app.store.conn().await?).await
}

/// Adds a staff member, or changes an existing one's name, department and preference.
pub async fn add(
    app: &App,
    email: &EmailAddress,
    name: &str,
    department: Option<&str>,
    notify: StaffNotify,
) -> Result<(), StoreError> {
    let department = department.map(str::trim).filter(|d| !d.is_empty());
    app.store.conn().await?.add_staff(email.as_str(), name.trim(), department, notify).await
}

/// Removes a staff member added with `staff add`; returns whether there was one.
pub async fn remove(app: &App, email: &EmailAddress) -> Result<bool, StoreError> {
    app.store.conn().await?.remove_staff(email.as_str()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(email: &str, department: Option<&str>, notify: StaffNotify, from_config: bool) -> StaffMember {
        let department = department.map(str::to_string);
        StaffMember { email: email.into(), name: String::new(), department, notify, from_config }
    }

    #[test]
    fn who_is_told_about_a_ticket() {
        use StaffNotify::{All, Assigned};
        let roster = Roster {
            members: vec![
                member("all@x.org", None, All, false),
                member("own@x.org", Some("billing"), Assigned, false),
                member("sales@x.org", Some("sales"), All, false),
                member("cfg@x.org", Some("billing"), All, true),
            ],
        };
        assert_eq!(roster.told_about(Some("billing"), None), ["all@x.org", "cfg@x.org"]);
        assert_eq!(roster.told_about(Some("billing"), Some("own@x.org")), ["all@x.org", "cfg@x.org", "own@x.org"]);
        assert_eq!(roster.told_about(None, Some("sales@x.org")), ["all@x.org", "sales@x.org"], "the assignee always");
        assert_eq!(roster.told_about(Some("sales"), None), ["all@x.org", "sales@x.org"]);
        assert!(Roster::default().told_about(Some("billing"), Some("own@x.org")).is_empty(), "no staff at all");
    }
}
