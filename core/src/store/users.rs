//! Users, API tokens and companies.

use sha2::{Digest, Sha256};
use sqlx::AssertSqlSafe;

use super::rows::{self, USER_COLUMNS};
use super::{Store, is_unique_violation};
use crate::clock::{Ids, random_token};
use crate::domain::{DEFAULT_CAPACITY, DEFAULT_LOCALE, Identity, Role, Tier, User};
use crate::error::{Error, Result};

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    pub async fn create_user(
        &self,
        ids: &Ids,
        email: &str,
        name: Option<&str>,
        role: Role,
        tier: Option<Tier>,
    ) -> Result<User> {
        let email = Identity::email(email)?.value().to_owned();
        if tier.is_some() && role != Role::Support {
            return Err(Error::invalid("only support agents have a tier"));
        }
        let tier = if role == Role::Support {
            Some(tier.unwrap_or(Tier::N1))
        } else {
            None
        };
        let user = User {
            id: ids.new_id(),
            email,
            name: name.map(str::to_owned),
            role,
            tier,
            created_at: ids.now_ms(),
            active: true,
            locale: DEFAULT_LOCALE.to_owned(),
            capacity: DEFAULT_CAPACITY,
            totp_enabled: false,
        };
        sqlx::query("INSERT INTO users (id, email, name, role, tier, created_at, active, locale, capacity) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8)")
            .bind(&user.id)
            .bind(&user.email)
            .bind(user.name.as_deref())
            .bind(user.role.as_str())
            .bind(user.tier.map(Tier::as_str))
            .bind(user.created_at)
            .bind(&user.locale)
            .bind(user.capacity)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::Conflict(format!("a user with email {} already exists", user.email))
                } else {
                    e.into()
                }
            })?;
        Ok(user)
    }

    /// The user with this email, deactivated or not (`User::active` tells).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    /// Issues a new API token for a user. The token is returned once; only its hash is kept.
    pub async fn issue_api_token(&self, ids: &Ids, user_id: &str, label: &str) -> Result<String> {
        self.issue_expiring_api_token(ids, user_id, label, None)
            .await
    }

    /// A token that stops working `ttl_ms` from now (`None`: until revoked).
    pub async fn issue_expiring_api_token(
        &self,
        ids: &Ids,
        user_id: &str,
        label: &str,
        ttl_ms: Option<i64>,
    ) -> Result<String> {
        let token = format!("sbt_{}", random_token());
        let now = ids.now_ms();
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(label)
            .bind(now)
            .bind(ttl_ms.map(|t| now + t))
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The user of a live token: not revoked, not expired at `now`, user not deactivated.
    pub async fn user_by_token(&self, token: &str, now: i64) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM api_tokens t JOIN users ON users.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2) \
             AND users.active = 1"
        )))
        .bind(token_hash(token))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::user).transpose()
    }

    pub async fn create_company(&self, ids: &Ids, name: &str) -> Result<String> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::invalid("company name is empty"));
        }
        let id = ids.new_id();
        sqlx::query("INSERT INTO companies (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(name)
            .bind(ids.now_ms())
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// Puts a contact into a company (its conversations from now on belong to it too).
    /// The contact's portal user follows (its company is its contact's, never a copy of its
    /// own) and its sessions end, so nothing of the old company stays open in a browser.
    pub async fn set_contact_company(&self, contact_id: &str, company_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE contacts SET company_id = $1 WHERE id = $2")
            .bind(company_id)
            .bind(contact_id)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("contact {contact_id}")));
        }
        sqlx::query("UPDATE conversations SET company_id = $1 WHERE contact_id = $2")
            .bind(company_id)
            .bind(contact_id)
            .execute(&mut **tx)
            .await?;
        end_contact_sessions(&mut tx, contact_id).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Ends the sessions of a contact's portal user: what follows a contact's move or merge.
pub(crate) async fn end_contact_sessions(tx: &mut super::WriteTx, contact_id: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE contact_id = $1 AND role IN ('client_user', 'client_admin'))",
    )
    .bind(contact_id)
    .execute(&mut ***tx)
    .await?;
    Ok(())
}
