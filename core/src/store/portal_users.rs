//! A company's portal users, as its client admin manages them: who has access, inviting
//! someone, taking access away, and whether the company requires two-step verification.
//!
//! An address someone types into an invitation is not proof of anything: it never moves
//! a contact or a user of another company (or a staff account) into the inviter's company.
//! The invitee proves the address by using the link mailed to it, as every portal user does.

use sqlx::Row;

use super::portal::ClientScope;
use super::{NewInvitation, Store};
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

/// What a client admin asks for when inviting someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invite<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub role: Role,
    /// How long the invitation's link lives.
    pub ttl_ms: i64,
}

/// An invitation made: the address, the role, and the link's token (shown once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub email: String,
    pub role: Role,
    pub token: String,
}

/// An invitation the company's admin is waiting on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PendingInvitation {
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
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
             FROM users WHERE contact_id IN (SELECT id FROM contacts WHERE company_id = $1) AND active = 1 AND role IN ('client_admin', 'client_user') \
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

    /// Invites `email` to the inviter's company portal as `role`: a link mailed to the
    /// address, which joins it when it is used ([`Store::join_by_invitation`]). Inviting
    /// moves nobody: the address's contact, if any, keeps its company until its owner uses
    /// the link, and an address of another company (or a staff address) is refused then,
    /// not now, so the answer says nothing of who an address belongs to. Refused now: bad
    /// input, and an address that already has access to this company. A former user of
    /// the company is given access back. Checks and writes are one transaction.
    pub async fn invite_portal_user(
        &self,
        ids: &Ids,
        inviter: &ClientScope,
        invite: &Invite<'_>,
    ) -> Result<Invited> {
        let company = admin_of(inviter)?.to_owned();
        if !matches!(invite.role, Role::ClientUser | Role::ClientAdmin) {
            return Err(Error::invalid("a portal user is a client user or admin"));
        }
        let identity = Identity::email(invite.email)?;
        let name = invite.name.map(str::trim).filter(|n| !n.is_empty());
        if name.is_some_and(|n| n.chars().count() > 120) {
            return Err(Error::invalid("a name may be at most 120 characters"));
        }
        let mut tx = self.begin_write().await?;
        // The address's user, if any, and the company it belongs to now (its contact's).
        let user: Option<(String, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT u.id, c.company_id, u.role, u.active FROM users u LEFT JOIN contacts c ON c.id = u.contact_id WHERE u.email = $1",
        )
        .bind(identity.value())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((id, Some(theirs), user_role, active)) = &user
            && *theirs == company
            && user_role.starts_with("client_")
        {
            if *active == 1 {
                return Err(Error::Conflict(
                    "this address already has access to the portal".into(),
                ));
            }
            sqlx::query("UPDATE users SET active = 1, deactivated_at = NULL, role = $1, invited_by = $2 WHERE id = $3")
                .bind(invite.role.as_str())
                .bind(&inviter.user_id)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        let owner: Option<String> = sqlx::query_scalar(
            "SELECT COALESCE(c.merged_into, c.id) FROM contact_identities i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = 'email' AND i.value = $1",
        )
        .bind(identity.value())
        .fetch_optional(&mut **tx)
        .await?;
        let contact = match owner {
            Some(c) => c,
            None => {
                // A contact of its own, of no company: it joins when the link is used.
                let id = ids.new_id();
                sqlx::query("INSERT INTO contacts (id, name, company_id, created_at) VALUES ($1, $2, NULL, $3)")
                    .bind(&id)
                    .bind(name)
                    .bind(ids.now_ms())
                    .execute(&mut **tx)
                    .await?;
                id
            }
        };
        let token = super::magic_links::insert_invitation(
            &mut tx,
            ids,
            &NewInvitation {
                contact_id: &contact,
                email: identity.value(),
                company_id: &company,
                role: invite.role,
                invited_by: &inviter.user_id,
                ttl_ms: invite.ttl_ms,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Invited {
            email: identity.value().to_owned(),
            role: invite.role,
            token,
        })
    }

    /// The company's invitations not used yet and still usable, newest first.
    pub async fn pending_invitations(
        &self,
        scope: &ClientScope,
        now: i64,
    ) -> Result<Vec<PendingInvitation>> {
        let company = admin_of(scope)?;
        let rows = sqlx::query(
            "SELECT l.email, l.role, l.created_at, l.expires_at FROM magic_links l \
             WHERE l.company_id = $1 AND l.purpose = 'invite' AND l.used_at IS NULL AND l.expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM users u JOIN contacts c ON c.id = u.contact_id \
                             WHERE u.email = l.email AND u.active = 1 AND c.company_id = $1) \
             ORDER BY l.created_at DESC LIMIT 200",
        )
        .bind(company)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for r in &rows {
            let email: String = r.try_get("email")?;
            if seen.insert(email.clone()) {
                out.push(PendingInvitation {
                    email,
                    role: Role::parse(&r.try_get::<String, _>("role")?)?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                });
            }
        }
        Ok(out)
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
            "SELECT role FROM users WHERE id = $1 AND contact_id IN (SELECT id FROM contacts WHERE company_id = $2) AND active = 1 AND role IN ('client_admin', 'client_user')",
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
                "SELECT COUNT(*) FROM users WHERE contact_id IN (SELECT id FROM contacts WHERE company_id = $1) AND active = 1 AND role = 'client_admin'",
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
        super::accounts::revoke_credentials(&mut tx, user_id, now).await?;
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
