//! Portal accounts (MISSION ACC1–ACC7): signing up through an invitation, logging in and
//! out, sessions, changing the password and the profile — and the rules that keep them
//! safe: rate limits per client address and per account address, kept in the database so
//! that every node counts the same; sessions whose ids are stored only as hashes, ending
//! when idle and at an absolute age; a password change that ends every other session and
//! voids open reset links; one answer ("wrong address or password") for every failed
//! log-in. The portal's handlers call these functions and render what they return.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing::{info, warn};

use super::captcha::{CaptchaError, CaptchaForm};
use super::invitations::{new_token, token_hash};
use super::passwords::{self, HashError, PasswordProblem};
use crate::App;
use crate::domain::{ContactId, CustomerNotify, EmailAddress, OrganisationId, TokenPurpose};
use crate::notice::{AccountData, Notice};
use crate::store::{AccountRow, Conn, StoreError, Tx, now};

/// Why an account action was refused; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A log-in failed: no such account, a wrong password, a deactivated or unverified
    /// account — never told apart.
    #[error("Wrong address or password.")]
    WrongCredentials,
    /// The new password was refused.
    #[error("{0}")]
    Password(#[from] PasswordProblem),
    /// The current password given to change it is wrong.
    #[error("Your current password is not right.")]
    WrongCurrentPassword,
    /// The link's token is unknown, expired or used.
    #[error("This link has expired or was used already. Ask for a new one.")]
    TokenInvalid,
    /// Too many attempts from this client or for this address; try again after the given
    /// seconds.
    #[error("Too many attempts. Try again in {} minutes.", retry_after.div_ceil(60))]
    RateLimited {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// The store failed (try again later).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("{0}")]
    Hash(#[from] HashError),
}

/// A signed-in visitor, as the session cookie proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The contact.
    pub contact: ContactId,
    /// Their address.
    pub email: String,
    /// Their name (may be empty).
    pub name: String,
    /// Which notifications they want.
    pub notify: CustomerNotify,
    /// Their password was generated: they must change it before anything else.
    pub must_change: bool,
    /// The organisation they are a primary contact of (they see its requests and manage
    /// its contacts, MISSION ACC8); none for a standard contact.
    pub primary_of: Option<OrganisationId>,
    /// The hash of the session's id (what the CSRF token of their forms is bound to).
    pub session_hash: String,
}

/// A session just begun: the cookie's value (shown once, stored only as its hash) and who
/// it signs in.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session id for the cookie.
    pub token: String,
    /// Who is signed in.
    pub signed_in: SignedIn,
}

/// Whom a sign-up link is for: the sign-up page shows the address, fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    /// The address the link proves; only it can register through the link.
    pub email: String,
    /// Their name as we know it, or as they gave it when signing up (may be empty).
    pub name: String,
    /// They have an account already (the link then only says so).
    pub has_account: bool,
}

/// The link that proves an address at sign-up: both open the same form, where the person
/// chooses a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupLink {
    /// An invitation (`/signup?token=…`): sent by staff, or riding on the acknowledgement
    /// of a first request.
    Invitation,
    /// The link of the verification mail of a direct sign-up (`/verify?token=…`).
    Verification,
}

/// Whom the sign-up link `token` of kind `link` is for, if it works (unused and
/// unexpired); nothing is used up by looking.
pub async fn signup_target(app: &App, link: SignupLink, token: &str) -> Result<Option<Invited>, StoreError> {
    let mut db = app.store.conn().await?;
    let hash = token_hash(token);
    let (contact, given) = match link {
        SignupLink::Invitation => match db.peek_invite(&hash).await? {
            Some(contact) => (contact, None),
            None => return Ok(None),
        },
        SignupLink::Verification => match db.peek_account_token(&hash, TokenPurpose::Verify).await? {
            Some(t) => (t.contact_id, t.name),
            None => return Ok(None),
        },
    };
    let Some(row) = db.contact(contact).await? else { return Ok(None) };
    let has_account = db.account(contact).await?.is_some();
    let name = given.filter(|n| !n.trim().is_empty()).unwrap_or(row.name);
    Ok(Some(Invited { email: row.email, name, has_account }))
}

/// Signs up through the sign-up link `token` of kind `link`: the contact whose address the
/// link proves gets an account with `password`, their `name` if given, and a session. The
/// link works once; a verification link's siblings stop working too.
pub async fn sign_up(
    app: &App,
    link: SignupLink,
    token: &str,
    name: &str,
    password: &str,
    client: &str,
) -> Result<NewSession, AccountError> {
    let config = app.config();
    limit(app, &format!("signup:ip:{client}"), config.portal.attempts_per_ip).await?;
    let target = signup_target(app, link, token).await?.ok_or(AccountError::TokenInvalid)?;
    if target.has_account {
        return Err(AccountError::TokenInvalid);
    }
    passwords::check(password, &target.email)?;
    let hash = passwords::hash(&config.portal, password).await?;
    let mut tx = app.store.begin().await?;
    let contact = match link {
        SignupLink::Invitation => tx.redeem_invite(&token_hash(token)).await?,
        SignupLink::Verification => tx.redeem_account_token(&token_hash(token), TokenPurpose::Verify).await?,
    };
    let contact = contact.ok_or(AccountError::TokenInvalid)?;
    if !tx.create_account(contact, &hash, false, true).await? {
        return Err(AccountError::TokenInvalid);
    }
    tx.void_account_tokens(contact, TokenPurpose::Verify).await?;
    let name = clean_name(name);
    if !name.is_empty() {
        let notify = tx.account(contact).await?.map(|a| a.notify).unwrap_or(CustomerNotify::All);
        tx.set_profile(contact, &name, notify).await?;
    }
    let session = begin_session(&mut tx, contact).await?;
    tx.commit().await?;
    info!(contact = contact.0, ?link, "signed up");
    Ok(session)
}

/// Why a direct sign-up was refused; nothing was changed (the form shows why).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The address cannot be a mailbox.
    #[error("Enter your email address, such as name@example.com.")]
    Address,
    /// The captcha was not solved or answered.
    #[error("{0}")]
    Captcha(#[from] CaptchaError),
    /// Refused for another reason (too many attempts, the store).
    #[error("{0}")]
    Account(#[from] AccountError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> RegisterError {
        RegisterError::Account(AccountError::Store(e))
    }
}

/// A direct sign-up (MISSION ACC3) with `name` and `email` from `client`, once the form's
/// captcha holds: the answer is the same whether the address is known or not. An address
/// with no account gets a link that proves it and sets the password (the account exists
/// only then, so nobody can claim an address before its owner, and nothing needs a
/// "not verified" state); an address with an account gets, at most once a day, a mail
/// saying so. Both count in the caps on automatic mail. Our own and staff addresses get
/// nothing (and become no contact).
pub async fn register(
    app: &App,
    name: &str,
    email: &str,
    captcha: &CaptchaForm,
    client: &str,
) -> Result<(), RegisterError> {
    let portal = &app.config().portal;
    limit(app, &format!("register:ip:{client}"), portal.attempts_per_ip).await?;
    let address = EmailAddress::parse(email.trim()).map_err(|_| RegisterError::Address)?;
    super::captcha::verify(app, captcha).await?;
    limit(app, &format!("register:address:{address}"), portal.attempts_per_address).await?;
    let name = clean_name(name);
    let mut tx = app.store.begin().await?;
    let queued = if super::roster::is_ours(app, &mut tx, &address).await? {
        false
    } else if let Some(a) = tx.account_by_email(address.as_str()).await? {
        let data =
            AccountData { contact: Some(a.contact_id), name: Some(a.name).filter(|n| !n.is_empty()), token: None };
        once_a_day(app, &mut tx, &Notice::AccountExists(data), &address).await?
    } else {
        let contact = super::contacts::upsert(app, &mut tx, &address, "").await?;
        let data = AccountData { contact: Some(contact), name: Some(name).filter(|n| !n.is_empty()), token: None };
        super::notify::account_mail(app, &mut tx, &Notice::VerifyAddress(data), &address).await?
    };
    tx.commit().await?;
    if queued {
        app.outbox_wake.notify_one();
    }
    info!(client, "direct sign-up asked for");
    Ok(())
}

/// Why an account could not be made by hand; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The address has an account already.
    #[error("{0} has a portal account already; nothing was changed")]
    Exists(EmailAddress),
    /// The address is the desk's own or a staff member's: the portal is for customers.
    #[error("{0} is the desk's or a staff member's address; the portal is for customers")]
    Ours(EmailAddress),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("{0}")]
    Hash(#[from] HashError),
}

/// Makes the account of `email` (a new contact if unknown) with a generated password,
/// which is returned to be handed over once and never mailed: it must be changed at the
/// first log-in (`maildesk contact invite EMAIL --password`, MISSION ACC6).
pub async fn create_with_password(app: &App, email: &EmailAddress) -> Result<String, CreateError> {
    let mut db = app.store.conn().await?;
    if super::roster::is_ours(app, &mut db, email).await? {
        return Err(CreateError::Ours(email.clone()));
    }
    db.release().await;
    let password = generated_password();
    let hash = passwords::hash(&app.config().portal, &password).await?;
    let mut tx = app.store.begin().await?;
    let contact = super::contacts::upsert(app, &mut tx, email, "").await?;
    if !tx.create_account(contact, &hash, true, true).await? {
        return Err(CreateError::Exists(email.clone()));
    }
    tx.commit().await?;
    info!(contact = contact.0, "account made with a generated password");
    Ok(password)
}

/// A password to hand over once: 20 characters from an alphabet without look-alikes
/// (about 115 bits).
fn generated_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect()
}

/// Logs in with `email` and `password` from `client` (its IP address): a new session,
/// whose id differs from any the visitor had; the visitor's `previous` session, if any,
/// ends with it. Every failure reads the same. Failures count
/// against the client and the address (a successful log-in does not, so an office behind
/// one address is not locked out by its own people); past either limit nothing is tried.
pub async fn log_in(
    app: &App,
    email: &str,
    password: &str,
    client: &str,
    previous: Option<&SignedIn>,
) -> Result<NewSession, AccountError> {
    let portal = &app.config().portal;
    let address = EmailAddress::parse(email).ok();
    let mut buckets = vec![(format!("login:ip:{client}"), portal.attempts_per_ip)];
    if let Some(address) = &address {
        buckets.push((format!("login:address:{address}"), portal.attempts_per_address));
    }
    let (start, window) = window(app);
    for (bucket, allowed) in &buckets {
        let hits = app.store.conn().await?.hits(bucket, start).await?;
        refuse_past(bucket, hits, *allowed, start + window)?;
    }
    let account = match &address {
        Some(address) => app.store.conn().await?.account_by_email(address.as_str()).await?,
        None => None,
    };
    // The hash is checked even without an account, so that the answer takes as long.
    let matches = passwords::verify(portal, account.as_ref().map(|a| a.password_hash.as_str()), password).await?;
    let account = match account {
        Some(a) if matches && a.active && a.verified_at.is_some() => a,
        _ => {
            warn!(address = email.chars().take(100).collect::<String>(), client, "failed log-in");
            let mut db = app.store.conn().await?;
            for (bucket, _) in &buckets {
                db.hit(bucket, start).await?;
            }
            return Err(AccountError::WrongCredentials);
        }
    };
    let mut tx = app.store.begin().await?;
    if let Some(previous) = previous {
        tx.delete_session(&previous.session_hash).await?;
    }
    let session = begin_session(&mut tx, account.contact_id).await?;
    tx.commit().await?;
    info!(contact = account.contact_id.0, client, "logged in");
    Ok(session)
}

/// The visitor the session cookie `token` signs in, if the session exists and has been
/// neither idle for `portal.session_idle_minutes` nor alive for `portal.session_max_days`.
/// Use is recorded at most once a minute.
pub async fn session(app: &App, token: &str) -> Result<Option<SignedIn>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = token_hash(token);
    let mut db = app.store.conn().await?;
    let Some(session) = db.session(&hash).await? else { return Ok(None) };
    let at = now();
    let portal = &app.config().portal;
    let idle = minutes(portal.session_idle_minutes);
    let max = minutes(portal.session_max_days.saturating_mul(24 * 60));
    if at - session.seen_at > idle || at - session.created_at > max {
        db.delete_session(&hash).await?;
        return Ok(None);
    }
    let Some(account) = db.account(session.contact_id).await?.filter(|a| a.active) else {
        db.delete_session(&hash).await?;
        return Ok(None);
    };
    if at - session.seen_at >= 60 {
        db.touch_session(&hash, at).await?;
    }
    Ok(Some(signed_in(account, hash)))
}

/// Ends the visitor's session.
pub async fn log_out(app: &App, who: &SignedIn) -> Result<(), StoreError> {
    app.store.conn().await?.delete_session(&who.session_hash).await?;
    info!(contact = who.contact.0, "logged out");
    Ok(())
}

/// Changes the visitor's password from `current` to `new`: every other session of theirs
/// ends and open reset links stop working; this session goes on, and a generated password
/// no longer has to be changed.
pub async fn change_password(app: &App, who: &SignedIn, current: &str, new: &str) -> Result<(), AccountError> {
    let config = app.config();
    limit(app, &format!("change:contact:{}", who.contact.0), config.portal.attempts_per_address).await?;
    let account = app.store.conn().await?.account(who.contact).await?.ok_or(AccountError::WrongCredentials)?;
    if !passwords::verify(&config.portal, Some(&account.password_hash), current).await? {
        return Err(AccountError::WrongCurrentPassword);
    }
    passwords::check(new, &who.email)?;
    let hash = passwords::hash(&config.portal, new).await?;
    let mut tx = app.store.begin().await?;
    tx.set_password(who.contact, &hash, false).await?;
    let ended = tx.delete_sessions_of(who.contact, Some(&who.session_hash)).await?;
    tx.void_account_tokens(who.contact, TokenPurpose::Reset).await?;
    tx.commit().await?;
    info!(contact = who.contact.0, other_sessions_ended = ended, "password changed");
    Ok(())
}

/// Asks for a password reset for `email` from `client`. Known or not, the answer is the
/// same (and takes about as long): an account gets a mail with a single-use link (its token
/// made as the mail is sent); an address with no account gets, at most once a day, a mail
/// saying that someone tried. Both count in the caps on automatic mail.
pub async fn forgot(app: &App, email: &str, client: &str) -> Result<(), AccountError> {
    let portal = &app.config().portal;
    limit(app, &format!("reset:ip:{client}"), portal.attempts_per_ip).await?;
    let Ok(address) = EmailAddress::parse(email) else { return Ok(()) };
    limit(app, &format!("reset:address:{address}"), portal.attempts_per_address).await?;
    let mut tx = app.store.begin().await?;
    let account = tx.account_by_email(address.as_str()).await?.filter(|a| a.active);
    let queued = match account {
        Some(a) => {
            let name = Some(a.name).filter(|n| !n.is_empty());
            let data = AccountData { contact: Some(a.contact_id), name, token: None };
            super::notify::account_mail(app, &mut tx, &Notice::PasswordReset(data), &address).await?
        }
        None => {
            let data = AccountData { contact: None, name: None, token: None };
            once_a_day(app, &mut tx, &Notice::AccountAttempt(data), &address).await?
        }
    };
    tx.commit().await?;
    if queued {
        app.outbox_wake.notify_one();
    }
    info!(client, "password reset asked for");
    Ok(())
}

/// The address whose password the reset link with `token` sets, if the link works
/// (unused and unexpired); nothing is used up by looking.
pub async fn reset_target(app: &App, token: &str) -> Result<Option<String>, StoreError> {
    let mut db = app.store.conn().await?;
    let Some(t) = db.peek_account_token(&token_hash(token), TokenPurpose::Reset).await? else { return Ok(None) };
    Ok(db.account(t.contact_id).await?.filter(|a| a.active).map(|a| a.email))
}

/// Sets a new password through the reset link with `token`: every session of the account
/// ends, every other reset link stops working, and a new session begins. The link works
/// once.
pub async fn reset(app: &App, token: &str, password: &str, client: &str) -> Result<NewSession, AccountError> {
    let config = app.config();
    limit(app, &format!("reset:ip:{client}"), config.portal.attempts_per_ip).await?;
    let email = reset_target(app, token).await?.ok_or(AccountError::TokenInvalid)?;
    passwords::check(password, &email)?;
    let hash = passwords::hash(&config.portal, password).await?;
    let mut tx = app.store.begin().await?;
    let contact =
        tx.redeem_account_token(&token_hash(token), TokenPurpose::Reset).await?.ok_or(AccountError::TokenInvalid)?;
    tx.set_password(contact, &hash, false).await?;
    let ended = tx.delete_sessions_of(contact, None).await?;
    tx.void_account_tokens(contact, TokenPurpose::Reset).await?;
    let session = begin_session(&mut tx, contact).await?;
    tx.commit().await?;
    info!(contact = contact.0, sessions_ended = ended, "password reset");
    Ok(session)
}

/// Sets the visitor's name and notification preference.
pub async fn update_profile(app: &App, who: &SignedIn, name: &str, notify: CustomerNotify) -> Result<(), StoreError> {
    app.store.conn().await?.set_profile(who.contact, &clean_name(name), notify).await
}

/// The CSRF token of forms shown to a visitor whose session (or, before log-in, whose
/// anonymous cookie) is `binding`: an HMAC under the portal's key, so the server keeps no
/// state and a token from one visitor is worthless for another.
pub fn csrf_token(app: &App, binding: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.portal_key).expect("HMAC takes a key of any length");
    mac.update(b"csrf:");
    mac.update(binding.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `token` is the CSRF token for `binding` (compared in constant time).
pub fn csrf_ok(app: &App, binding: &str, token: &str) -> bool {
    let Ok(given) = hex::decode(token.trim()) else { return false };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&app.portal_key).expect("HMAC takes a key of any length");
    mac.update(b"csrf:");
    mac.update(binding.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// A new random id for an anonymous visitor's cookie (CSRF before log-in).
pub fn new_visitor_id() -> String {
    new_token()
}

/// Forgets what has run out: sessions idle past `portal.session_idle_minutes` or older than
/// `portal.session_max_days`, expired one-time links, and rate-limit windows that ended.
/// Housekeeping calls it; a failure is logged and tried again next time.
pub async fn sweep(app: &App) {
    let portal = &app.config().portal;
    let at = now();
    let idle_before = at - minutes(portal.session_idle_minutes);
    let created_before = at - minutes(portal.session_max_days.saturating_mul(24 * 60));
    let windows_before = at - minutes(portal.rate_window_minutes).max(86_400);
    let swept = async { app.store.conn().await?.sweep_accounts(windows_before, idle_before, created_before).await };
    match swept.await {
        Ok(n) if n > 0 => info!(removed = n, "ended sessions, expired links and old rate-limit counts removed"),
        Ok(_) => {}
        Err(e) => warn!(error = %e, "removing ended sessions failed; trying again later"),
    }
}

/// Queues `notice` to `address` unless one of its kind went to it today: a stranger cannot
/// make us write to someone more than once a day. Returns whether it was queued.
async fn once_a_day(app: &App, tx: &mut Tx, notice: &Notice, address: &EmailAddress) -> Result<bool, AccountError> {
    let at = now();
    let day = at - at.rem_euclid(86_400);
    let first_today = tx.hit(&format!("{}-mail:{address}", notice.kind()), day).await? == 1;
    Ok(first_today && super::notify::account_mail(app, tx, notice, address).await?)
}

/// A name as typed into a form: trimmed, without control characters, at most 200
/// characters.
fn clean_name(name: &str) -> String {
    name.trim().chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Counts one attempt under `bucket` and refuses it past `allowed` in the current window.
pub(super) async fn limit(app: &App, bucket: &str, allowed: u32) -> Result<(), AccountError> {
    let (start, window) = window(app);
    let hits = app.store.conn().await?.hit(bucket, start).await?;
    refuse_past(bucket, hits - 1, allowed, start + window)
}

/// The current rate-limit window: its start and length, in seconds.
fn window(app: &App) -> (i64, i64) {
    let window = minutes(app.config().portal.rate_window_minutes).max(1);
    let at = now();
    (at - at.rem_euclid(window), window)
}

/// Refuses one more attempt under `bucket` when `earlier` attempts of the window ending
/// at `ends` have used up `allowed`.
fn refuse_past(bucket: &str, earlier: i64, allowed: u32, ends: i64) -> Result<(), AccountError> {
    if earlier >= i64::from(allowed) {
        warn!(bucket, attempts = earlier + 1, "rate limit reached");
        let retry_after = u64::try_from(ends - now()).unwrap_or(1).max(1);
        return Err(AccountError::RateLimited { retry_after });
    }
    Ok(())
}

/// Begins a session of `contact` in `db`: a fresh random id, stored as its hash.
async fn begin_session(db: &mut Conn, contact: ContactId) -> Result<NewSession, StoreError> {
    let token = new_token();
    let hash = token_hash(&token);
    db.insert_session(&hash, contact).await?;
    let account = db.account(contact).await?.ok_or_else(|| StoreError::Refused("the account is gone".into()))?;
    Ok(NewSession { token, signed_in: signed_in(account, hash) })
}

fn signed_in(a: AccountRow, session_hash: String) -> SignedIn {
    SignedIn {
        contact: a.contact_id,
        email: a.email,
        name: a.name,
        notify: a.notify,
        must_change: a.must_change,
        primary_of: a.organisation_id.filter(|_| a.is_primary),
        session_hash,
    }
}

fn minutes(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(60)).unwrap_or(i64::MAX / 4)
}
