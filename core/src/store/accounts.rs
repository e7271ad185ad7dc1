//! Agent accounts: passwords, the TOTP second factor and its recovery codes, browser
//! sessions, single-use links that set a password (reset, invitation), and what an admin
//! does to users (edit, deactivate). The pure parts (hashing, codes, policy) are in
//! [`crate::auth`]; whatever a person presents is kept here only as a hash.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::portal::{CLIENT_COLUMNS, CLIENT_FROM, ClientScope, client_if_any};
use super::rows::{self, USER_COLUMNS};
use super::users::token_hash;
use super::{Backend, Store};
use crate::auth::{self, totp};
use crate::clock::{Ids, random_bytes};
use crate::domain::{MAX_CAPACITY, Role, Tier, User, parse_locale};
use crate::error::{Error, Result};

/// A live browser session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// Forms of this session carry it; see [`Session::csrf_matches`].
    pub csrf_token: String,
    pub second_factor_done: bool,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The user's portal scope, read with the session, when the user is a client (a
    /// portal user with a contact); `None` for staff.
    pub client: Option<ClientScope>,
}

impl Session {
    /// Whether the session may do all its user may: the second factor was passed, or the
    /// user has none. An incomplete session may only pass the second factor.
    pub fn is_complete(&self) -> bool {
        self.second_factor_done || !self.user.totp_enabled
    }

    /// Whether a form's CSRF token is this session's (compared in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        auth::constant_time_eq(self.csrf_token.as_bytes(), token.as_bytes())
    }
}

/// How long a session lives: `idle_ms` after it was last used, and never more than
/// `absolute_ms` after the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

impl Default for SessionLimits {
    /// 2 hours idle, 12 hours in all (a working day, then a fresh login).
    fn default() -> Self {
        Self {
            idle_ms: 2 * 60 * 60 * 1000,
            absolute_ms: 12 * 60 * 60 * 1000,
        }
    }
}

/// A session's `last_seen_at` is written at most this often, to spare a write per
/// request; the idle limit is therefore exact to within this much.
pub const SESSION_TOUCH_MS: i64 = 60_000;

/// Wrong second-factor codes in a row before the second factor locks.
pub const SECOND_FACTOR_MAX_FAILURES: i64 = 5;
/// How long it stays locked.
pub const SECOND_FACTOR_LOCK_MS: i64 = 5 * 60_000;

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// A forgotten password.
    Reset,
    /// A new account, made by an admin, whose person chooses the password.
    Invite,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Invite => "invite",
        }
    }
}

/// A user as the admin's list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserSummary {
    /// With `active` and `totp_enabled`.
    pub user: User,
    pub teams: Vec<String>,
    pub companies: Vec<String>,
    pub last_login_at: Option<i64>,
    /// False for an invited user who has not chosen a password yet.
    pub password_set: bool,
}

/// An admin's edit of a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// An empty name clears it.
    pub name: Option<String>,
    /// Between agent roles only; an agent does not become a client user.
    pub role: Option<Role>,
    /// Only support agents have one; a support agent always has one (N1 unless said).
    pub tier: Option<Tier>,
    /// Replaces all of the user's teams.
    pub teams: Option<Vec<String>>,
    /// Replaces all of the user's companies (ids of existing companies).
    pub companies: Option<Vec<String>>,
    /// en, es or pt-BR.
    pub locale: Option<String>,
    /// 1 to 100 open conversations at once.
    pub capacity: Option<i64>,
}

const NAME_MAX_CHARS: usize = 200;
const TEAM_MAX_CHARS: usize = 64;

/// A secret for a cookie or a link: 256 random bits, hex, with a prefix that tells what
/// it is when one turns up somewhere it should not.
fn new_token(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(random_bytes::<32>()))
}

/// Runs argon2 off the async workers: a hash takes tens of milliseconds of CPU.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(format!("password check stopped: {e}")))
}

fn link_unusable() -> Error {
    Error::invalid("this link has expired or has already been used; ask for a new one")
}

/// What a new password (or a removal) takes away besides sessions: the user's API tokens,
/// its unused portal sign-in links, its websocket tickets and its portal chat ids.
pub(crate) async fn revoke_credentials(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE magic_links SET used_at = $1 WHERE used_at IS NULL AND expires_at > $1 \
         AND (email = (SELECT email FROM users WHERE id = $2) \
              OR contact_id = (SELECT contact_id FROM users WHERE id = $2))",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM ws_tickets WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    // The web-chat ids the portal gave its browsers read the contact's chat: forgotten.
    sqlx::query(
        "DELETE FROM contact_identities WHERE kind = 'visitor' \
         AND contact_id = (SELECT contact_id FROM users WHERE id = $1)",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// A user whether active or not (what an admin edits).
    pub async fn user_including_inactive(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn existing_user(&self, id: &str) -> Result<User> {
        self.user_including_inactive(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("user {id}")))
    }

    // ----- passwords -----

    /// Sets an active user's password (after the policy), and ends all the user's
    /// sessions and unused links: whoever knew the old password is out. A person changing their own
    /// password keeps their session with [`Store::set_password_keeping_session`].
    pub async fn set_password(&self, user_id: &str, password: &str, now: i64) -> Result<()> {
        self.set_password_keeping_session(user_id, password, None, now)
            .await
    }

    /// [`Store::set_password`], ending every session of the user but `keep` (a token).
    pub async fn set_password_keeping_session(
        &self,
        user_id: &str,
        password: &str,
        keep: Option<&str>,
        now: i64,
    ) -> Result<()> {
        let user = self.existing_user(user_id).await?;
        auth::check_password_policy_for(password, &user.email)?;
        let password = password.to_owned();
        let hash = blocking(move || auth::hash_password(&password)).await??;
        let mut tx = self.begin_write().await?;
        Self::store_password(&mut tx, user_id, &hash, now, keep.map(token_hash)).await?;
        tx.commit().await
    }

    async fn store_password(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
        hash: &str,
        now: i64,
        keep_session_hash: Option<String>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_set_at = $2 WHERE id = $3 AND active = 1",
        )
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep_session_hash.unwrap_or_default())
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM account_links WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        revoke_credentials(tx, user_id, now).await
    }

    /// The user whose email and password these are; `None` for an unknown email, a wrong
    /// password, a user without a password yet or a deactivated one. Every answer costs
    /// one argon2 verification, so its timing does not tell which emails exist.
    pub async fn check_password(&self, email: &str, password: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await?;
        let mut hash = None;
        let mut candidate = None;
        if let Some(row) = row {
            hash = row.try_get::<Option<String>, _>("password_hash")?;
            candidate = Some(row.try_get::<String, _>("id")?);
        }
        let Some(hash) = hash else {
            let password = password.to_owned();
            blocking(move || auth::verify_password(auth::DUMMY_HASH, &password)).await?;
            return Ok(None);
        };
        let password = password.to_owned();
        let matches = blocking(move || auth::verify_password(&hash, &password)).await?;
        match candidate {
            // A deactivated user is not found here.
            Some(id) if matches => self.user_by_id(&id).await,
            _ => Ok(None),
        }
    }

    /// Whether the user has chosen a password (an invited one has not, yet).
    pub async fn user_password_set(&self, user_id: &str) -> Result<bool> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        match hash {
            Some(h) => Ok(h.is_some()),
            None => Err(Error::not_found(format!("user {user_id}"))),
        }
    }

    pub async fn record_login(&self, user_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- TOTP second factor -----

    pub async fn totp_enabled(&self, user_id: &str) -> Result<bool> {
        let secret: Option<Option<String>> =
            sqlx::query_scalar("SELECT totp_secret FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        match secret {
            Some(s) => Ok(s.is_some()),
            None => Err(Error::not_found(format!("user {user_id}"))),
        }
    }

    /// Starts enrolment: a fresh secret, returned in base32 for the authenticator app
    /// (see [`totp::otpauth_uri`]). Two-factor authentication is not on until
    /// [`Store::confirm_totp`] sees a code made from it; a factor already on stays as it
    /// is until then.
    ///
    /// A user whose factor is on already must give a current code (or a recovery code):
    /// a session alone, maybe stolen, cannot swap the factor for the thief's.
    pub async fn begin_totp(
        &self,
        user_id: &str,
        current_code: Option<&str>,
        now: i64,
    ) -> Result<String> {
        if self.totp_enabled(user_id).await? {
            let code = current_code.map(str::trim).filter(|c| !c.is_empty());
            let passed = match code {
                Some(code) => self.check_second_factor(user_id, code, now).await?,
                None => false,
            };
            if !passed {
                return Err(Error::forbidden(
                    "enter a current code to set up a new authenticator",
                ));
            }
        }
        let secret = totp::base32(&totp::new_secret());
        let done =
            sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2 AND active = 1")
                .bind(&secret)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        Ok(secret)
    }

    /// The secret of an enrolment under way, so that a mistyped code does not make the
    /// user scan a new one.
    pub async fn pending_totp(&self, user_id: &str) -> Result<Option<String>> {
        let pending: Option<Option<String>> = sqlx::query_scalar(
            "SELECT totp_pending_secret FROM users WHERE id = $1 AND active = 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(pending.flatten())
    }

    /// Ends enrolment with a code from the app: two-factor authentication is on, and the
    /// user gets ten fresh recovery codes (shown once; only their hashes are kept). The
    /// code's step counts as used.
    pub async fn confirm_totp(&self, user_id: &str, code: &str, now: i64) -> Result<Vec<String>> {
        let pending: Option<Option<String>> = sqlx::query_scalar(
            "SELECT totp_pending_secret FROM users WHERE id = $1 AND active = 1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let pending = pending
            .ok_or_else(|| Error::not_found(format!("user {user_id}")))?
            .ok_or_else(|| Error::invalid("two-factor set-up has not been started"))?;
        let secret = totp::from_base32(&pending)
            .ok_or_else(|| Error::invalid("two-factor set-up is damaged; start it again"))?;
        let step = totp::matching_step(&secret, &digits_only(code), now).ok_or_else(|| {
            Error::invalid(
                "the code does not match; check that your phone's clock is right and try again",
            )
        })?;
        let codes = auth::new_recovery_codes();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = $1 \
             WHERE id = $2 AND totp_pending_secret = $3",
        )
        .bind(step)
        .bind(user_id)
        .bind(&pending)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(
                "two-factor set-up was started again meanwhile; use the newest code".into(),
            ));
        }
        Self::replace_recovery_codes(&mut tx, user_id, &codes).await?;
        tx.commit().await?;
        Ok(codes)
    }

    async fn replace_recovery_codes(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
        codes: &[String],
    ) -> Result<()> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        for code in codes {
            let hash = auth::recovery_code_hash(user_id, code)
                .ok_or_else(|| Error::invalid("a recovery code was malformed"))?;
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// New recovery codes in place of all the old ones (used or not).
    pub async fn regenerate_recovery_codes(&self, user_id: &str) -> Result<Vec<String>> {
        if !self.totp_enabled(user_id).await? {
            return Err(Error::invalid("two-factor authentication is off"));
        }
        let codes = auth::new_recovery_codes();
        let mut tx = self.begin_write().await?;
        Self::replace_recovery_codes(&mut tx, user_id, &codes).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Whether `code` passes the second factor: a TOTP code of a step later than the last
    /// one accepted, or an unused recovery code. Either is used up in one conditional
    /// UPDATE, so two requests with one code cannot both pass. False for a user without
    /// two-factor authentication or a deactivated one.
    ///
    /// After [`SECOND_FACTOR_MAX_FAILURES`] wrong codes in a row the user's second factor
    /// is locked for [`SECOND_FACTOR_LOCK_MS`]: every check then fails with
    /// `Error::Conflict`, so a six-digit code cannot be guessed by trying them all.
    pub async fn check_second_factor(&self, user_id: &str, code: &str, now: i64) -> Result<bool> {
        // The attempt is counted before the code is checked, in one conditional UPDATE:
        // however many requests race on however many nodes, at most
        // SECOND_FACTOR_MAX_FAILURES of them get a check before the lock. (A lock whose
        // time is up starts the count again.) A code that passes clears both.
        let expired =
            "(second_factor_locked_until IS NOT NULL AND second_factor_locked_until <= $2)";
        let count = format!("CASE WHEN {expired} THEN 1 ELSE second_factor_failures + 1 END");
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET second_factor_failures = {count}, \
             second_factor_locked_until = CASE WHEN {count} >= $3 THEN $4 WHEN {expired} THEN NULL ELSE second_factor_locked_until END \
             WHERE id = $1 AND active = 1 AND totp_secret IS NOT NULL \
             AND (second_factor_locked_until IS NULL OR second_factor_locked_until <= $2) \
             RETURNING totp_secret"
        )))
        .bind(user_id)
        .bind(now)
        .bind(SECOND_FACTOR_MAX_FAILURES)
        .bind(now + SECOND_FACTOR_LOCK_MS)
        .fetch_optional(&mut **tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else {
            let locked: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM users WHERE id = $1 AND active = 1 AND totp_secret IS NOT NULL",
            )
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
            return match locked {
                Some(_) => Err(Error::Conflict(
                    "too many wrong codes; wait a few minutes and try again".into(),
                )),
                None => Ok(false),
            };
        };
        let stored: String = row.try_get("totp_secret")?;
        let passed = self.use_second_factor(user_id, &stored, code, now).await?;
        if passed {
            sqlx::query(
                "UPDATE users SET second_factor_failures = 0, second_factor_locked_until = NULL WHERE id = $1",
            )
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        }
        Ok(passed)
    }

    /// Uses up `code` if it passes: a TOTP code (for the secret `stored`) or a recovery
    /// code.
    async fn use_second_factor(
        &self,
        user_id: &str,
        stored: &str,
        code: &str,
        now: i64,
    ) -> Result<bool> {
        let typed = digits_only(code);
        if typed.len() == totp::DIGITS as usize && typed.bytes().all(|b| b.is_ascii_digit()) {
            let Some(step) = totp::from_base32(stored)
                .and_then(|secret| totp::matching_step(&secret, &typed, now))
            else {
                return Ok(false);
            };
            let done = sqlx::query(
                "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_secret = $3 \
                 AND (totp_last_step IS NULL OR totp_last_step < $4)",
            )
            .bind(step)
            .bind(user_id)
            .bind(stored)
            .bind(step)
            .execute(&self.pool)
            .await?;
            return Ok(done.rows_affected() == 1);
        }
        let Some(hash) = auth::recovery_code_hash(user_id, code) else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Turns two-factor authentication off and drops the recovery codes. The last step
    /// used is kept, so a code seen before is still refused after a new enrolment.
    pub async fn disable_totp(&self, user_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL WHERE id = $1",
        )
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await
    }

    pub async fn remaining_recovery_codes(&self, user_id: &str) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    // ----- sessions -----

    /// Opens a session for an active user; returns its token (256 random bits) for the
    /// cookie. Only the token's SHA-256 is kept, with a random CSRF token of its own.
    pub async fn create_session(
        &self,
        ids: &Ids,
        user_id: &str,
        second_factor_done: bool,
    ) -> Result<String> {
        let token = new_token("sbs_");
        let now = ids.now_ms();
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, second_factor_done, created_at, last_seen_at) \
             SELECT $1, id, $2, $3, $4, $5 FROM users WHERE id = $6 AND active = 1",
        )
        .bind(token_hash(&token))
        .bind(hex::encode(random_bytes::<32>()))
        .bind(i64::from(second_factor_done))
        .bind(now)
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        Ok(token)
    }

    /// The live session of a token: `None` if unknown, ended, idle for `idle_ms`, older
    /// than `absolute_ms`, or its user was deactivated. Using it keeps it alive
    /// (`last_seen_at` is written at most once per [`SESSION_TOUCH_MS`]).
    pub async fn session(
        &self,
        token: &str,
        now: i64,
        limits: &SessionLimits,
    ) -> Result<Option<Session>> {
        let hash = token_hash(token);
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, {CLIENT_COLUMNS}, s.csrf_token, s.second_factor_done, s.created_at AS session_created_at, s.last_seen_at, \
             (SELECT g.company_id FROM portal_user_companies g WHERE g.user_id = users.id AND g.company_id = s.company_id \
              AND users.role = 'client_admin') AS granted_company \
             FROM {CLIENT_FROM} JOIN sessions s ON s.user_id = users.id WHERE s.token_hash = $1 AND users.active = 1"
        )))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created_at: i64 = row.try_get("session_created_at")?;
        let mut last_seen_at: i64 = row.try_get("last_seen_at")?;
        if now - last_seen_at >= limits.idle_ms || now - created_at >= limits.absolute_ms {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(&hash)
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        if now - last_seen_at >= SESSION_TOUCH_MS {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2 AND last_seen_at < $3",
            )
            .bind(now)
            .bind(&hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
            last_seen_at = now;
        }
        // A client admin working in a company granted to it; the grant is read now, so a
        // revoked one falls back to its own company at the next request.
        let granted: Option<String> = row.try_get("granted_company")?;
        let client = client_if_any(&row)?.map(|mut c| {
            if let Some(g) = granted {
                c.company_id = Some(g);
            }
            c
        });
        Ok(Some(Session {
            user: rows::user(&row)?,
            csrf_token: row.try_get("csrf_token")?,
            second_factor_done: row.try_get::<i64, _>("second_factor_done")? != 0,
            created_at,
            last_seen_at,
            client,
        }))
    }

    /// Replaces a session by a new one (new token, new CSRF token, same login time), as
    /// at every change of privilege (the second factor passed): a token seen before the
    /// change is worth nothing after it. The old token is dead at once.
    pub async fn rotate_session(
        &self,
        ids: &Ids,
        token: &str,
        second_factor_done: bool,
    ) -> Result<String> {
        let fresh = new_token("sbs_");
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let old =
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, created_at")
                .bind(token_hash(token))
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| Error::not_found("session"))?;
        let user_id: String = old.try_get("user_id")?;
        let created_at: i64 = old.try_get("created_at")?;
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, second_factor_done, created_at, last_seen_at) \
             SELECT $1, id, $2, $3, $4, $5 FROM users WHERE id = $6 AND active = 1",
        )
        .bind(token_hash(&fresh))
        .bind(hex::encode(random_bytes::<32>()))
        .bind(i64::from(second_factor_done))
        .bind(created_at)
        .bind(now)
        .bind(&user_id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("session"));
        }
        Ok(fresh)
    }

    /// Whether a session still lives (not ended, within its limits, its user active),
    /// without touching it: what an open socket asks now and then, so a session ended
    /// elsewhere (sign-out everywhere, a new password, removal) closes it too.
    pub async fn session_is_live(
        &self,
        token: &str,
        now: i64,
        limits: &SessionLimits,
    ) -> Result<bool> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT s.created_at, s.last_seen_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND u.active = 1",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some_and(|(created, seen)| {
            now - seen < limits.idle_ms && now - created < limits.absolute_ms
        }))
    }

    /// Logs one session out.
    pub async fn end_session(&self, token: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Logs a user out everywhere; returns how many sessions ended.
    pub async fn end_all_sessions(&self, user_id: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Drops sessions past their limits and links past their expiry (housekeeping; a
    /// stale one is refused anyway). Returns how many rows went.
    pub async fn purge_expired_sessions(&self, now: i64, limits: &SessionLimits) -> Result<u64> {
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE last_seen_at <= $1 OR created_at <= $2")
                .bind(now - limits.idle_ms)
                .bind(now - limits.absolute_ms)
                .execute(&self.pool)
                .await?;
        let links = sqlx::query("DELETE FROM account_links WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(sessions.rows_affected() + links.rows_affected())
    }

    // ----- links that set a password -----

    /// A link token for an active user, valid for `ttl_ms`, to be mailed; only its hash is
    /// kept. It replaces the user's unused links of the same purpose.
    pub async fn issue_account_link(
        &self,
        ids: &Ids,
        user_id: &str,
        purpose: LinkPurpose,
        ttl_ms: i64,
    ) -> Result<String> {
        if ttl_ms <= 0 {
            return Err(Error::invalid("a link must be valid for some time"));
        }
        let token = new_token("sbl_");
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM account_links WHERE user_id = $1 AND (purpose = $2 OR expires_at <= $3)",
        )
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        let done = sqlx::query(
            "INSERT INTO account_links (token_hash, user_id, purpose, created_at, expires_at) \
             SELECT $1, id, $2, $3, $4 FROM users WHERE id = $5 AND active = 1",
        )
        .bind(token_hash(&token))
        .bind(purpose.as_str())
        .bind(now)
        .bind(now + ttl_ms)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        tx.commit().await?;
        Ok(token)
    }

    /// Whose link this is, if it is still usable; does not use it up (for showing the
    /// form that sets the password).
    pub async fn account_link_user(
        &self,
        token: &str,
        purpose: LinkPurpose,
        now: i64,
    ) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM account_links l JOIN users ON users.id = l.user_id \
             WHERE l.token_hash = $1 AND l.purpose = $2 AND l.expires_at > $3 AND users.active = 1"
        )))
        .bind(token_hash(token))
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    /// Uses a link: sets the password (after the policy; a refused password leaves the
    /// link usable), once, before it expires; ends all the user's sessions and other
    /// links. Returns the user, for logging in.
    pub async fn use_account_link(
        &self,
        token: &str,
        purpose: LinkPurpose,
        new_password: &str,
        now: i64,
    ) -> Result<User> {
        let user = self
            .account_link_user(token, purpose, now)
            .await?
            .ok_or_else(link_unusable)?;
        auth::check_password_policy_for(new_password, &user.email)?;
        let password = new_password.to_owned();
        let hash = blocking(move || auth::hash_password(&password)).await??;
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            "DELETE FROM account_links WHERE token_hash = $1 AND purpose = $2 RETURNING user_id, expires_at",
        )
        .bind(token_hash(token))
        .bind(purpose.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(link_unusable)?;
        let user_id: String = taken.try_get("user_id")?;
        let expires_at: i64 = taken.try_get("expires_at")?;
        if expires_at <= now || user_id != user.id {
            return Err(link_unusable());
        }
        Self::store_password(&mut tx, &user_id, &hash, now, None)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => link_unusable(),
                other => other,
            })?;
        tx.commit().await?;
        self.existing_user(&user_id).await
    }

    // ----- administration -----

    /// Invites a person: a user without a password, and an invitation link (valid for
    /// `ttl_ms`) that lets them choose one.
    pub async fn invite_user(
        &self,
        ids: &Ids,
        email: &str,
        name: Option<&str>,
        role: Role,
        tier: Option<Tier>,
        ttl_ms: i64,
    ) -> Result<(User, String)> {
        if ttl_ms <= 0 {
            return Err(Error::invalid("a link must be valid for some time"));
        }
        let user = self.create_user(ids, email, name, role, tier).await?;
        let token = self
            .issue_account_link(ids, &user.id, LinkPurpose::Invite, ttl_ms)
            .await?;
        Ok((user, token))
    }

    /// Every user, active or not, by email, with teams, companies and last login.
    pub async fn list_users(&self) -> Result<Vec<UserSummary>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, users.last_login_at, \
             CAST(CASE WHEN users.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS password_set \
             FROM users ORDER BY users.email"
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut teams: HashMap<String, Vec<String>> = HashMap::new();
        for row in sqlx::query("SELECT user_id, team FROM user_teams ORDER BY team")
            .fetch_all(&self.pool)
            .await?
        {
            teams
                .entry(row.try_get("user_id")?)
                .or_default()
                .push(row.try_get("team")?);
        }
        let mut companies: HashMap<String, Vec<String>> = HashMap::new();
        for row in sqlx::query("SELECT user_id, company_id FROM user_companies ORDER BY company_id")
            .fetch_all(&self.pool)
            .await?
        {
            companies
                .entry(row.try_get("user_id")?)
                .or_default()
                .push(row.try_get("company_id")?);
        }
        rows.iter()
            .map(|row| {
                let user = rows::user(row)?;
                Ok(UserSummary {
                    teams: teams.remove(&user.id).unwrap_or_default(),
                    companies: companies.remove(&user.id).unwrap_or_default(),
                    last_login_at: row.try_get("last_login_at")?,
                    password_set: row.try_get::<i64, _>("password_set")? != 0,
                    user,
                })
            })
            .collect()
    }

    /// The active admins, locked on PostgreSQL until `tx` ends (in id order, so two
    /// such transactions never wait on each other crosswise): the check "someone else
    /// is still an admin" holds until the change commits.
    async fn active_admins(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM users WHERE role = 'admin' AND active = 1 ORDER BY id{}",
            self.for_update()
        )))
        .fetch_all(&mut **tx)
        .await?)
    }

    async fn keep_an_admin(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: &str,
    ) -> Result<()> {
        let admins = self.active_admins(tx).await?;
        if admins.iter().any(|a| a == user_id) && admins.len() == 1 {
            return Err(Error::Conflict(
                "this is the last active admin; make someone else an admin first".into(),
            ));
        }
        Ok(())
    }

    /// An admin's edit; returns the user as it is now.
    pub async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<User> {
        let current = self.existing_user(user_id).await?;
        let role = update.role.unwrap_or(current.role);
        if role.is_agent() != current.role.is_agent() {
            return Err(Error::invalid(
                "an agent cannot become a client user, nor a client user an agent",
            ));
        }
        let tier = if role == Role::Support {
            Some(update.tier.or(current.tier).unwrap_or(Tier::N1))
        } else if update.tier.is_some() {
            return Err(Error::invalid("only support agents have a tier"));
        } else {
            None
        };
        let name = match &update.name {
            Some(n) => {
                let n = n.trim();
                if n.chars().count() > NAME_MAX_CHARS {
                    return Err(Error::invalid(format!(
                        "the name must have at most {NAME_MAX_CHARS} characters"
                    )));
                }
                (!n.is_empty()).then(|| n.to_owned())
            }
            None => current.name.clone(),
        };
        let locale = match &update.locale {
            Some(l) => parse_locale(l)?.to_owned(),
            None => current.locale.clone(),
        };
        let capacity = update.capacity.unwrap_or(current.capacity);
        if !(1..=MAX_CAPACITY).contains(&capacity) {
            return Err(Error::invalid(format!(
                "capacity must be between 1 and {MAX_CAPACITY} conversations"
            )));
        }
        let teams = update.teams.as_deref().map(clean_teams).transpose()?;
        let companies = update.companies.as_deref().map(dedup);

        let mut tx = self.begin_write().await?;
        if current.role == Role::Admin && role != Role::Admin {
            self.keep_an_admin(&mut tx, user_id).await?;
        }
        sqlx::query(
            "UPDATE users SET name = $1, role = $2, tier = $3, locale = $4, capacity = $5 WHERE id = $6",
        )
        .bind(name.as_deref())
        .bind(role.as_str())
        .bind(tier.map(Tier::as_str))
        .bind(&locale)
        .bind(capacity)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        if let Some(teams) = &teams {
            sqlx::query("DELETE FROM user_teams WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for team in teams {
                sqlx::query("INSERT INTO user_teams (user_id, team) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(team)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        if let Some(companies) = &companies {
            sqlx::query("DELETE FROM user_companies WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for company in companies {
                let known: Option<String> =
                    sqlx::query_scalar("SELECT id FROM companies WHERE id = $1")
                        .bind(company)
                        .fetch_optional(&mut **tx)
                        .await?;
                if known.is_none() {
                    return Err(Error::invalid(format!("there is no company {company}")));
                }
                sqlx::query("INSERT INTO user_companies (user_id, company_id) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(company)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.existing_user(user_id).await
    }

    /// Deactivates or reactivates a user. Deactivation blocks login, ends every session,
    /// revokes every API token, and drops websocket tickets and unused links, in one
    /// transaction; the last active admin cannot be deactivated. Reactivation lets the
    /// person log in again with their password; revoked tokens stay revoked.
    pub async fn set_user_active(&self, user_id: &str, active: bool, now: i64) -> Result<()> {
        let current = self.existing_user(user_id).await?;
        let mut tx = self.begin_write().await?;
        if !active && current.role == Role::Admin {
            self.keep_an_admin(&mut tx, user_id).await?;
        }
        let done = sqlx::query("UPDATE users SET active = $1, deactivated_at = $2 WHERE id = $3")
            .bind(i64::from(active))
            .bind((!active).then_some(now))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("user {user_id}")));
        }
        if !active {
            for sql in [
                "DELETE FROM sessions WHERE user_id = $1",
                "DELETE FROM ws_tickets WHERE user_id = $1",
                "DELETE FROM account_links WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut **tx).await?;
            }
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await
    }
}

/// A code as typed, without the spaces people put in (`123 456`).
fn digits_only(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim();
        if !item.is_empty() && !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

fn clean_teams(teams: &[String]) -> Result<Vec<String>> {
    let teams = dedup(teams);
    if let Some(long) = teams.iter().find(|t| t.chars().count() > TEAM_MAX_CHARS) {
        return Err(Error::invalid(format!(
            "the team name {long:?} is longer than {TEAM_MAX_CHARS} characters"
        )));
    }
    Ok(teams)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_are_trimmed_deduplicated_and_bounded() {
        let teams = clean_teams(&[
            " billing".into(),
            "billing ".into(),
            "".into(),
            "sales".into(),
        ])
        .unwrap();
        assert_eq!(teams, ["billing", "sales"]);
        assert!(clean_teams(&["x".repeat(65)]).is_err());
    }

    #[test]
    fn codes_lose_the_spaces_people_type() {
        assert_eq!(digits_only(" 123 456 "), "123456");
    }

    #[test]
    fn session_completeness_and_csrf() {
        let user = User {
            id: "u".into(),
            email: "a@b.co".into(),
            name: None,
            role: Role::Admin,
            tier: None,
            created_at: 0,
            active: true,
            locale: "en".into(),
            capacity: 10,
            totp_enabled: true,
        };
        let mut s = Session {
            user,
            csrf_token: "abc".into(),
            second_factor_done: false,
            created_at: 0,
            last_seen_at: 0,
            client: None,
        };
        assert!(!s.is_complete());
        s.second_factor_done = true;
        assert!(s.is_complete());
        assert!(s.csrf_matches("abc"));
        assert!(!s.csrf_matches("abd"));
        assert!(!s.csrf_matches(""));
    }
}
