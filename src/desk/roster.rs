//! The roster of staff: members added with `maildesk staff add` (the `staff` table) and
//! those listed under a department of the config, as one list. It answers who is staff,
//! what they are called, and what the CLI lists; adding and removing members lives here.

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
    for d in &app.config.departments {
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
