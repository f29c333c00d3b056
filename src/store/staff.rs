//! Rows about staff members.

use super::{Conn, Result, now, on_conn};
use crate::domain::StaffNotify;

/// A staff member.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StaffRow {
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// The department whose tickets they get; none means every department.
    pub department: Option<String>,
    /// Which notifications they get.
    pub notify: StaffNotify,
}

impl Conn {
    /// Adds a staff member (or updates name, department and preference of an existing one).
    pub async fn add_staff(
        &mut self,
        email: &str,
        name: &str,
        department: Option<&str>,
        notify: StaffNotify,
    ) -> Result<()> {
        let at = now();
        on_conn!(self, c => sqlx::query(
                "INSERT INTO staff (email, name, department, created_at, notify) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (email) DO UPDATE SET name = excluded.name, department = excluded.department,
                                                   notify = excluded.notify")
            .bind(email).bind(name).bind(department).bind(at).bind(notify).execute(&mut *c).await?.rows_affected());
        Ok(())
    }

    /// Removes a staff member; returns whether there was one.
    pub async fn remove_staff(&mut self, email: &str) -> Result<bool> {
        let n = on_conn!(self, c => sqlx::query("DELETE FROM staff WHERE email = $1").bind(email).execute(&mut *c).await?.rows_affected());
        Ok(n == 1)
    }

    /// Every staff member added with `maildesk staff add`, by address.
    pub async fn staff_members(&mut self) -> Result<Vec<StaffRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, StaffRow>(
                "SELECT email, name, department, notify FROM staff ORDER BY email")
            .fetch_all(&mut *c).await?))
    }

    /// The staff member with address `email`, if there is one in the table.
    pub async fn staff_member(&mut self, email: &str) -> Result<Option<StaffRow>> {
        Ok(on_conn!(self, c => sqlx::query_as::<_, StaffRow>(
                "SELECT email, name, department, notify FROM staff WHERE email = $1")
            .bind(email).fetch_optional(&mut *c).await?))
    }
}
