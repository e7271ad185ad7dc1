//! Signing a client in through their company's own identity provider. The provider vouches
//! for one company only: an address it verified signs in that company's person with that
//! address, and never moves anyone, or signs anyone in, into another company.

use super::Store;
use crate::clock::Ids;
use crate::domain::Identity;
use crate::error::{Error, Result};
use crate::store::ClientScope;

impl Store {
    /// The portal user of `company_id` that an address verified by the company's provider
    /// signs in. Refused (`Conflict`): a staff address, an address that is another
    /// company's (as a verified identity or as a portal user), and an unknown address when
    /// `provision` is off. With `provision` on, an unknown address becomes a new contact
    /// of the company, with its portal user.
    pub async fn sso_portal_user(
        &self,
        ids: &Ids,
        company_id: &str,
        email: &str,
        name: Option<&str>,
        provision: bool,
    ) -> Result<ClientScope> {
        let identity = Identity::email(email)?;
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE id = $1")
            .bind(company_id)
            .fetch_one(&self.pool)
            .await?;
        if exists == 0 {
            return Err(Error::Conflict(
                "the provider's company does not exist".into(),
            ));
        }
        let elsewhere = || {
            Err(Error::Conflict(
                "this address belongs to another company".into(),
            ))
        };
        if let Some(user) = self.user_by_email(identity.value()).await? {
            if user.role.is_agent() {
                return Err(Error::Conflict(
                    "this address belongs to a staff account".into(),
                ));
            }
            let theirs: Option<Option<String>> = sqlx::query_scalar(
                "SELECT c.company_id FROM users u JOIN contacts c ON c.id = u.contact_id WHERE u.id = $1",
            )
            .bind(&user.id)
            .fetch_optional(&self.pool)
            .await?;
            if theirs.is_some_and(|c| c.as_deref() != Some(company_id)) {
                return elsewhere();
            }
        }
        let contact = match self.verified_owner(&identity).await? {
            Some(owner) => {
                if self.contact_company(&owner).await?.flatten().as_deref() != Some(company_id) {
                    return elsewhere();
                }
                owner
            }
            None => {
                let claimed = match self.contact_for_identity(&identity).await? {
                    Some(c)
                        if self.contact_company(&c).await?.flatten().as_deref()
                            == Some(company_id) =>
                    {
                        Some(c)
                    }
                    _ => None,
                };
                match claimed {
                    Some(c) => c,
                    None if provision => {
                        let id = ids.new_id();
                        let name = name.map(str::trim).filter(|n| !n.is_empty());
                        sqlx::query("INSERT INTO contacts (id, name, company_id, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(&id)
                            .bind(name.map(|n| n.chars().take(120).collect::<String>()))
                            .bind(company_id)
                            .bind(ids.now_ms())
                            .execute(&self.pool)
                            .await?;
                        id
                    }
                    None => {
                        return Err(Error::Conflict(
                            "no person of the company has this address".into(),
                        ));
                    }
                }
            }
        };
        self.portal_user_for_link(ids, &contact, identity.value())
            .await
    }
}
