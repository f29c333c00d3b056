//! Rows about staff members.

use super::{Result, Store, Tx, now, on_pool, on_tx};

/// A staff member.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct StaffRow {
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// The department whose tickets they get; none means every department.
    pub department: Option<String>,
}

impl Store {
    /// Adds a staff member (or updates name and department of an existing one).
    pub async fn add_staff(&self, email: &str, name: &str, department: Option<&str>) -> Result<()> {
        let at = now();
        on_pool!(self, p => sqlx::query(
                "INSERT INTO staff (email, name, department, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (email) DO UPDATE SET name = excluded.name, department = excluded.department")
            .bind(email).bind(name).bind(department).bind(at).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Removes a staff member; returns whether there was one.
    pub async fn remove_staff(&self, email: &str) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query("DELETE FROM staff WHERE email = $1").bind(email).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Every staff member, by address.
    pub async fn list_staff(&self) -> Result<Vec<StaffRow>> {
        Ok(
            on_pool!(self, p => sqlx::query_as::<_, StaffRow>("SELECT email, name, department FROM staff ORDER BY email")
            .fetch_all(p).await?),
        )
    }
}

impl Tx {
    /// The staff who get notifications about tickets of `department` (those of every
    /// department included).
    pub async fn staff_for(&mut self, department: Option<&str>) -> Result<Vec<String>> {
        Ok(on_tx!(self, c => sqlx::query_scalar(
                "SELECT email FROM staff WHERE department IS NULL OR department = $1 ORDER BY email")
            .bind(department).fetch_all(&mut **c).await?))
    }

    /// Whether `email` belongs to a staff member.
    pub async fn is_staff(&mut self, email: &str) -> Result<bool> {
        let found: Option<String> = on_tx!(self, c => sqlx::query_scalar("SELECT email FROM staff WHERE email = $1")
            .bind(email).fetch_optional(&mut **c).await?);
        Ok(found.is_some())
    }
}
