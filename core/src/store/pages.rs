//! Reads the agent pages need beside the list: a conversation by its human number, a
//! contact's name and company, a conversation's cards including kinds this version does
//! not know. Each read an agent triggers goes through the caller's scope.

use sqlx::AssertSqlSafe;

use super::{Caller, Store, rows};
use crate::domain::{Card, Conversation};
use crate::error::{Error, Result};

/// A contact as the side panel shows it.
#[derive(Debug, Clone, Default)]
pub struct ContactSummary {
    pub id: String,
    pub name: Option<String>,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
}

/// A card as stored: parsed when its kind is known, otherwise its raw fields.
#[derive(Debug, Clone)]
pub struct StoredCard {
    pub id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub card: Option<Card>,
    pub created_at: i64,
}

impl Store {
    /// A conversation by its number (`#1042`), if the caller may see it; otherwise "not
    /// found", as for a number that does not exist.
    pub async fn conversation_by_number_for(
        &self,
        caller: &Caller,
        number: i64,
    ) -> Result<Conversation> {
        let (condition, binds) = caller.condition(2);
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM conversations WHERE number = $1 AND {condition}",
            rows::CONVERSATION_COLUMNS
        )))
        .bind(number);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let row = q
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found(format!("conversation #{number}")))?;
        rows::conversation(&row)
    }

    /// The companies the caller may filter the list by, by name: a coordinator's or a
    /// technician's own companies only; everyone else on the support side, every company (at most 500).
    pub async fn companies_for(&self, caller: &Caller) -> Result<Vec<(String, String)>> {
        use crate::domain::Role;
        let rows: Vec<(String, String)> = match caller.role {
            Role::Coordinator | Role::Technician => {
                if caller.companies.is_empty() {
                    return Ok(Vec::new());
                }
                let list = (1..=caller.companies.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut q = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT id, name FROM companies WHERE id IN ({list}) ORDER BY name, id"
                )));
                for c in &caller.companies {
                    q = q.bind(c.as_str());
                }
                q.fetch_all(&self.pool).await?
            }
            Role::Support | Role::Supervisor | Role::Admin => {
                sqlx::query_as("SELECT id, name FROM companies ORDER BY name, id LIMIT 500")
                    .fetch_all(&self.pool)
                    .await?
            }
            Role::ClientUser | Role::ClientAdmin => Vec::new(),
        };
        Ok(rows)
    }

    /// The contact of a conversation the caller has already been allowed to see.
    pub async fn contact_summary(&self, contact_id: &str) -> Result<ContactSummary> {
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT c.id, c.name, c.company_id, co.name FROM contacts c LEFT JOIN companies co ON co.id = c.company_id WHERE c.id = $1",
        )
        .bind(contact_id)
        .fetch_optional(&self.pool)
        .await?;
        let (id, name, company_id, company_name) =
            row.ok_or_else(|| Error::not_found(format!("contact {contact_id}")))?;
        Ok(ContactSummary {
            id,
            name,
            company_id,
            company_name,
        })
    }

    /// A conversation's cards, oldest first, unknown kinds included.
    pub async fn stored_cards(&self, conversation_id: &str) -> Result<Vec<StoredCard>> {
        let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, conversation_id, kind, payload, created_at, updated_at FROM cards WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, conversation_id, kind, payload, created_at, updated_at)| {
                    let value: serde_json::Value =
                        serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null);
                    let card = serde_json::from_value(value.clone())
                        .ok()
                        .map(|payload| Card {
                            id: id.clone(),
                            conversation_id,
                            payload,
                            created_at,
                            updated_at,
                        });
                    StoredCard {
                        id,
                        kind,
                        payload: value,
                        card,
                        created_at,
                    }
                },
            )
            .collect())
    }
}
