//! Passwords of portal accounts: what a password must be (NIST SP 800-63B: at least 10
//! characters, not one of the most common, not the address; no composition rules), and
//! hashing with argon2id under the parameters of the config. Hashing takes tens of
//! milliseconds on purpose, so it runs on a blocking thread.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::config::PortalConfig;

/// Hashing failed: argon2 refused (it does not with the parameters the config check lets
/// through), or its thread was lost.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// argon2 refused.
    #[error("hashing a password: {0}")]
    Argon2(String),
    /// The blocking thread panicked or was cancelled.
    #[error("hashing a password: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The shortest password accepted, in characters.
pub const MIN_LENGTH: usize = 10;

/// The longest password accepted, in characters (hashing a megabyte is no password).
pub const MAX_LENGTH: usize = 256;

/// The most common passwords of [`MIN_LENGTH`] characters or more, compiled in.
const COMMON: &str = include_str!("../../assets/common-passwords.txt");

/// Why a new password was refused; the message is shown next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("Use at least 10 characters.")]
    TooShort,
    /// More than [`MAX_LENGTH`] characters.
    #[error("Use at most 256 characters.")]
    TooLong,
    /// One of the passwords people use most (and attackers try first).
    #[error("This password is one of the most common ones; choose another.")]
    Common,
    /// The account's own address.
    #[error("Do not use your email address as your password.")]
    IsAddress,
}

/// Checks a new password for the account of `email`.
pub fn check(password: &str, email: &str) -> Result<(), PasswordProblem> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordProblem::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    if lower == email.to_lowercase() || lower == email.split('@').next().unwrap_or_default().to_lowercase() {
        return Err(PasswordProblem::IsAddress);
    }
    if COMMON.lines().filter(|l| !l.starts_with('#')).any(|common| common == lower) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

fn hasher(portal: &PortalConfig) -> Argon2<'static> {
    // The config check refuses parameters argon2 does not take.
    let params = Params::new(portal.argon2_memory_kib, portal.argon2_iterations, portal.argon2_parallelism, None)
        .unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// How many hashes run at once: one per core. Each takes `portal.argon2_memory_kib` (19 MiB
/// by default) while it runs, so that many log-ins at once wait their turn instead of
/// taking a core's worth of memory each and slowing every other one down.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
});

/// Runs `work` (hashing) on a blocking thread once a lane is free. Its block goes back to
/// the system when freed (see [`crate::memory::large_blocks_to_the_system`]).
async fn in_lane<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
    let _lane = HASHING.acquire().await.expect("the semaphore is never closed");
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// The argon2id hash (PHC string) of `password`, with a fresh random salt.
pub async fn hash(portal: &PortalConfig, password: &str) -> Result<String, HashError> {
    let (argon, password) = (hasher(portal), password.to_string());
    let hashed = in_lane(move || {
        argon
            .hash_password_with_salt(password.as_bytes(), &argon2::password_hash::generate_salt())
            .map(|h| h.to_string())
    })
    .await?;
    hashed.map_err(|e| HashError::Argon2(e.to_string()))
}

/// Whether `password` matches `hash` (a PHC string; its own parameters are used, so that
/// hashes made under earlier parameters still verify). With no hash (no such account), a
/// hash of the same cost is computed anyway, so that the answer takes as long.
pub async fn verify(portal: &PortalConfig, hash: Option<&str>, password: &str) -> Result<bool, HashError> {
    let (argon, password) = (hasher(portal), password.to_string());
    let hash = hash.map(str::to_string);
    let ok = in_lane(move || match hash {
        Some(hash) => argon.verify_password(password.as_bytes(), hash.as_str()).is_ok(),
        None => {
            let _ = argon.hash_password_with_salt(password.as_bytes(), &argon2::password_hash::generate_salt());
            false
        }
    })
    .await?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_long_enough_uncommon_and_not_the_address() {
        assert_eq!(check("short", "ann@x.org"), Err(PasswordProblem::TooShort));
        assert_eq!(check("ünïcødé123", "ann@x.org"), Ok(()), "characters are counted, not bytes");
        assert_eq!(check(&"x".repeat(257), "ann@x.org"), Err(PasswordProblem::TooLong));
        assert_eq!(check("Password123", "ann@x.org"), Err(PasswordProblem::Common), "any case");
        assert_eq!(check("qwertyuiop", "ann@x.org"), Err(PasswordProblem::Common));
        assert_eq!(check("Annabelle@x.org", "annabelle@x.org"), Err(PasswordProblem::IsAddress));
        assert_eq!(check("annabelle1", "annabelle1@x.org"), Err(PasswordProblem::IsAddress));
        assert_eq!(check("correct horse battery", "ann@x.org"), Ok(()), "no composition rules");
        assert!(COMMON.lines().filter(|l| !l.starts_with('#')).count() > 1000);
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let mut portal = crate::config::Config::load(None, Vec::new()).unwrap().portal;
        portal.argon2_memory_kib = 1024; // quick in tests
        let one = hash(&portal, "correct horse battery").await.unwrap();
        let two = hash(&portal, "correct horse battery").await.unwrap();
        assert!(one.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{one}");
        assert_ne!(one, two, "a fresh salt each time");
        assert!(verify(&portal, Some(&one), "correct horse battery").await.unwrap());
        assert!(!verify(&portal, Some(&one), "correct horse batterY").await.unwrap());
        assert!(!verify(&portal, None, "anything at all").await.unwrap());
        // A hash made under other parameters verifies under its own.
        portal.argon2_memory_kib = 2048;
        assert!(verify(&portal, Some(&one), "correct horse battery").await.unwrap());
    }
}
