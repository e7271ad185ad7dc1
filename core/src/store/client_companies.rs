//! Companies a client admin manages beside its own: granted by the business (an admin's
//! API call), listed for the portal's company switcher, and chosen per session. Nothing
//! else adds one: a link, an invitation, a merge or a Cc never does.

use sqlx::Row;

use super::{ClientScope, Store};
use crate::clock::Ids;
use crate::error::{Error, Result};

impl Store {
    /// Lets a client admin manage another company (its own needs no grant). Another kind
    /// of user, an unknown user or company is refused; granting twice changes nothing.
    pub async fn grant_client_company(
        &self,
        ids: &Ids,
        user_id: &str,
        company_id: &str,
    ) -> Result<bool> {
        let user = sqlx::query(
            "SELECT users.role, c.company_id FROM users LEFT JOIN contacts c ON c.id = users.contact_id \
             WHERE users.id = $1 AND users.contact_id IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("portal user {user_id}")))?;
        let role: String = user.try_get(0)?;
        if role != "client_admin" {
            return Err(Error::invalid(
                "only a client admin may manage other companies",
            ));
        }
        let own: Option<String> = user.try_get(1)?;
        if self.company_name(company_id).await?.is_none() {
            return Err(Error::not_found(format!("company {company_id}")));
        }
        if own.as_deref() == Some(company_id) {
            return Ok(false);
        }
        let done = sqlx::query(
            "INSERT INTO portal_user_companies (user_id, company_id, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(company_id)
        .bind(ids.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes a grant back: the user's sessions working in that company fall back to its
    /// own at their next request.
    pub async fn revoke_client_company(&self, user_id: &str, company_id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("DELETE FROM portal_user_companies WHERE user_id = $1 AND company_id = $2")
                .bind(user_id)
                .bind(company_id)
                .execute(&mut **tx)
                .await?;
        sqlx::query("UPDATE sessions SET company_id = NULL WHERE user_id = $1 AND company_id = $2")
            .bind(user_id)
            .bind(company_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The companies a client may work in, `(id, name)` by name: its contact's own and,
    /// for a client admin, those granted to it.
    pub async fn client_companies(&self, scope: &ClientScope) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT co.id, co.name FROM users u JOIN contacts c ON c.id = u.contact_id JOIN companies co ON co.id = c.company_id \
             WHERE u.id = $1 \
             UNION SELECT co.id, co.name FROM portal_user_companies g JOIN users u ON u.id = g.user_id \
             JOIN companies co ON co.id = g.company_id WHERE g.user_id = $1 AND u.role = 'client_admin' \
             ORDER BY 2, 1",
        )
        .bind(&scope.user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Works a session in one of the client's companies (`None` or its own: its own). A
    /// company not granted is not found, and nothing changes.
    pub async fn set_session_company(
        &self,
        scope: &ClientScope,
        token: &str,
        company_id: Option<&str>,
    ) -> Result<()> {
        // Its own company needs no grant: stored as chosen, the session reads it back as
        // its own (no grant row matches), the same as none.
        let companies = self.client_companies(scope).await?;
        if let Some(c) = company_id
            && !companies.iter().any(|(id, _)| id == c)
        {
            return Err(Error::not_found(format!("company {c}")));
        }
        sqlx::query("UPDATE sessions SET company_id = $1 WHERE token_hash = $2 AND user_id = $3")
            .bind(company_id)
            .bind(super::users::token_hash(token))
            .bind(&scope.user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
