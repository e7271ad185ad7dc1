//! A company's portal users, as its client admin manages them: who has access, inviting
//! someone, taking access away, and whether the company requires two-step verification.
//!
//! An address someone types into an invitation is not proof of anything: it never moves
//! a contact or a user of another company (or a staff account) into the inviter's company.
//! The invitee proves the address by using the link mailed to it, as every portal user does.

use sqlx::{AssertSqlSafe, Row};

use super::Store;
use super::portal::{CLIENT_COLUMNS, CLIENT_FROM, ClientScope, client};
use crate::clock::Ids;
use crate::domain::{Identity, Role};
use crate::error::{Error, Result};

/// A portal user as the company's admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortalUser {
    pub id: String,
    pub contact_id: Option<String>,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub two_factor: bool,
    pub password: bool,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
}

fn admin_of(scope: &ClientScope) -> Result<&str> {
    match (&scope.company_id, scope.is_admin()) {
        (Some(c), true) => Ok(c),
        _ => Err(Error::Forbidden(
            "only the company's portal admins manage its users".into(),
        )),
    }
}

impl Store {
    /// The company's active portal users, admins first.
    pub async fn company_portal_users(&self, scope: &ClientScope) -> Result<Vec<PortalUser>> {
        let company = admin_of(scope)?;
        let rows = sqlx::query(
            "SELECT id, contact_id, email, name, role, last_login_at, created_at, \
             CAST(CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS two_factor, \
             CAST(CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS password \
             FROM users WHERE company_id = $1 AND active = 1 AND role IN ('client_admin', 'client_user') \
             ORDER BY CASE role WHEN 'client_admin' THEN 0 ELSE 1 END, email",
        )
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PortalUser {
                    id: r.try_get("id")?,
                    contact_id: r.try_get("contact_id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    role: Role::parse(&r.try_get::<String, _>("role")?)?,
                    two_factor: r.try_get::<i64, _>("two_factor")? != 0,
                    password: r.try_get::<i64, _>("password")? != 0,
                    last_login_at: r.try_get("last_login_at")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Gives `email` access to the inviter's company portal, as `role`. Returns the new
    /// user's scope (its contact is the one a link must be mailed for). Refused: a staff
    /// address, an address of another company's contact or user, one already in.
    pub async fn invite_portal_user(
        &self,
        ids: &Ids,
        inviter: &ClientScope,
        email: &str,
        name: Option<&str>,
        role: Role,
    ) -> Result<ClientScope> {
        let company = admin_of(inviter)?.to_owned();
        if !matches!(role, Role::ClientUser | Role::ClientAdmin) {
            return Err(Error::invalid("a portal user is a client user or admin"));
        }
        let identity = Identity::email(email)?;
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.chars().count() > 120) {
            return Err(Error::invalid("a name may be at most 120 characters"));
        }
        let taken = || Error::Conflict("this address cannot be invited here".into());
        if let Some(user) = self.user_by_email(identity.value()).await? {
            if user.role.is_agent() {
                return Err(taken());
            }
            let row: Option<(Option<String>, i64)> =
                sqlx::query_as("SELECT company_id, active FROM users WHERE id = $1")
                    .bind(&user.id)
                    .fetch_optional(&self.pool)
                    .await?;
            return match row {
                Some((Some(c), 1)) if c == company => Err(Error::Conflict(
                    "this address already has access to the portal".into(),
                )),
                Some((Some(c), 0)) if c == company => {
                    let mut tx = self.begin_write().await?;
                    sqlx::query("UPDATE users SET active = 1, deactivated_at = NULL, role = $1, invited_by = $2 WHERE id = $3")
                        .bind(role.as_str())
                        .bind(&inviter.user_id)
                        .bind(&user.id)
                        .execute(&mut **tx)
                        .await?;
                    tx.commit().await?;
                    self.portal_scope_of(&user.id).await
                }
                _ => Err(taken()),
            };
        }
        let contact = match self.contact_for_identity(&identity).await? {
            Some(c) => {
                let theirs: Option<String> =
                    sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = $1")
                        .bind(&c)
                        .fetch_optional(&self.pool)
                        .await?
                        .flatten();
                match theirs {
                    Some(other) if other != company => return Err(taken()),
                    Some(_) => c,
                    None => {
                        self.set_contact_company(&c, &company).await?;
                        c
                    }
                }
            }
            None => {
                let id = ids.new_id();
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO contacts (id, name, company_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&id)
                .bind(name)
                .bind(&company)
                .bind(ids.now_ms())
                .execute(&mut **tx)
                .await?;
                tx.commit().await?;
                id
            }
        };
        if self.portal_user_of_contact_any(&contact).await? {
            return Err(taken());
        }
        let user_id = ids.new_id();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, name, role, tier, company_id, contact_id, created_at, active, locale, capacity, invited_by) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, 1, 'en', 0, $8)",
        )
        .bind(&user_id)
        .bind(identity.value())
        .bind(name)
        .bind(role.as_str())
        .bind(&company)
        .bind(&contact)
        .bind(ids.now_ms())
        .bind(&inviter.user_id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        self.portal_scope_of(&user_id).await
    }

    async fn portal_user_of_contact_any(&self, contact_id: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE contact_id = $1")
            .bind(contact_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn portal_scope_of(&self, user_id: &str) -> Result<ClientScope> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE users.id = $1"
        )))
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        client(&row)
    }

    /// Takes a user's access away (and ends its sessions). An admin cannot remove itself
    /// or the company's last admin; another company's user is "not found".
    pub async fn remove_portal_user(
        &self,
        scope: &ClientScope,
        user_id: &str,
        now: i64,
    ) -> Result<()> {
        let company = admin_of(scope)?;
        if user_id == scope.user_id {
            return Err(Error::Conflict("you cannot remove yourself".into()));
        }
        let mut tx = self.begin_write().await?;
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM users WHERE id = $1 AND company_id = $2 AND active = 1 AND role IN ('client_admin', 'client_user')",
        )
        .bind(user_id)
        .bind(company)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(role) = role else {
            return Err(Error::not_found(format!("portal user {user_id}")));
        };
        if role == "client_admin" {
            let admins: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users WHERE company_id = $1 AND active = 1 AND role = 'client_admin'",
            )
            .bind(company)
            .fetch_one(&mut **tx)
            .await?;
            if admins <= 1 {
                return Err(Error::Conflict("the company's last admin stays".into()));
            }
        }
        sqlx::query("UPDATE users SET active = 0, deactivated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether the company requires two-step verification of all its portal users.
    pub async fn set_company_requires_2fa(&self, scope: &ClientScope, on: bool) -> Result<()> {
        let company = admin_of(scope)?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE companies SET portal_require_2fa = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(company)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
