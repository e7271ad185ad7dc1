//! Canned responses: a standard set in English, Spanish and Brazilian Portuguese comes
//! with the database (migration 0006); agents add their own; admins edit any, an agent
//! only those it wrote.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Caller, Store, is_unique_violation};
use crate::canned::{normalize_locale, normalize_shortcut};
use crate::clock::Ids;
use crate::domain::Role;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: String,
    pub shortcut: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    /// `None` for the standard set.
    pub created_by: Option<String>,
    pub updated_at: i64,
}

/// What an agent writes for a canned response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedInput {
    pub shortcut: String,
    pub locale: String,
    pub title: String,
    pub body: String,
}

impl CannedInput {
    fn normalized(&self) -> Result<Self> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(Error::invalid(
                "a canned response's title must be 1-100 characters",
            ));
        }
        if self.body.trim().is_empty() || self.body.len() > 10_000 {
            return Err(Error::invalid(
                "a canned response's text must be 1 to 10,000 bytes",
            ));
        }
        Ok(Self {
            shortcut: normalize_shortcut(&self.shortcut)?,
            locale: normalize_locale(&self.locale)?,
            title: title.to_owned(),
            body: self.body.trim().to_owned(),
        })
    }
}

const COLUMNS: &str = "id, shortcut, locale, title, body, created_by, updated_at";

fn canned(row: &sqlx::any::AnyRow) -> Result<CannedResponse> {
    Ok(CannedResponse {
        id: row.try_get("id")?,
        shortcut: row.try_get("shortcut")?,
        locale: row.try_get("locale")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn taken(e: sqlx::Error, input: &CannedInput) -> Error {
    if is_unique_violation(&e) {
        Error::Conflict(format!(
            "there is already a /{} response in {}",
            input.shortcut, input.locale
        ))
    } else {
        e.into()
    }
}

impl Store {
    /// Every canned response, or those of one locale, by shortcut.
    pub async fn canned_responses(&self, locale: Option<&str>) -> Result<Vec<CannedResponse>> {
        let rows = match locale {
            Some(l) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM canned_responses WHERE locale = $1 ORDER BY shortcut"
                )))
                .bind(normalize_locale(l)?)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM canned_responses ORDER BY locale, shortcut"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(canned).collect()
    }

    pub async fn canned_response(&self, id: &str) -> Result<CannedResponse> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM canned_responses WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("canned response {id}")))?;
        canned(&row)
    }

    /// The composer's `/shortcut` lookup: responses whose shortcut starts with `prefix`
    /// (with or without its `/`), in `locale`; where that locale has none, in its
    /// language (`pt` for `pt-BR`), then in English. At most 20, by shortcut.
    pub async fn canned_by_prefix(
        &self,
        prefix: &str,
        locale: &str,
    ) -> Result<Vec<CannedResponse>> {
        let prefix = prefix.trim().trim_start_matches('/').to_lowercase();
        let locale = normalize_locale(locale)?;
        let mut tried: Vec<String> = vec![locale.clone()];
        if let Some((lang, _)) = locale.split_once('-') {
            tried.push(lang.to_owned());
        }
        tried.push("en".into());
        tried.dedup();
        for l in &tried {
            let mut found: Vec<CannedResponse> = self
                .canned_responses(Some(l))
                .await?
                .into_iter()
                .filter(|c| c.shortcut.starts_with(&prefix))
                .collect();
            if !found.is_empty() {
                found.truncate(20);
                return Ok(found);
            }
        }
        Ok(Vec::new())
    }

    /// Adds a canned response; any agent who writes answers may (not supervisors).
    pub async fn create_canned(
        &self,
        ids: &Ids,
        caller: &Caller,
        input: &CannedInput,
    ) -> Result<CannedResponse> {
        if !caller.role.can_reply() {
            return Err(Error::forbidden(
                "only agents who answer conversations add canned responses",
            ));
        }
        let input = input.normalized()?;
        let c = CannedResponse {
            id: ids.new_id(),
            shortcut: input.shortcut.clone(),
            locale: input.locale.clone(),
            title: input.title.clone(),
            body: input.body.clone(),
            created_by: Some(caller.user_id.clone()),
            updated_at: ids.now_ms(),
        };
        sqlx::query("INSERT INTO canned_responses (id, shortcut, locale, title, body, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&c.id)
            .bind(&c.shortcut)
            .bind(&c.locale)
            .bind(&c.title)
            .bind(&c.body)
            .bind(c.created_by.as_deref())
            .bind(c.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| taken(e, &input))?;
        Ok(c)
    }

    /// Whether the caller may edit or delete a canned response: admins any, an agent
    /// those it wrote.
    fn may_edit_canned(caller: &Caller, c: &CannedResponse) -> Result<()> {
        let own = c.created_by.as_deref() == Some(caller.user_id.as_str());
        if caller.role == Role::Admin || (own && caller.role.can_reply()) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "only an admin or its author may change the /{} response",
                c.shortcut
            )))
        }
    }

    pub async fn update_canned(
        &self,
        ids: &Ids,
        caller: &Caller,
        id: &str,
        input: &CannedInput,
    ) -> Result<CannedResponse> {
        let current = self.canned_response(id).await?;
        Self::may_edit_canned(caller, &current)?;
        let input = input.normalized()?;
        let now = ids.now_ms();
        sqlx::query("UPDATE canned_responses SET shortcut = $1, locale = $2, title = $3, body = $4, updated_at = $5 WHERE id = $6")
            .bind(&input.shortcut)
            .bind(&input.locale)
            .bind(&input.title)
            .bind(&input.body)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| taken(e, &input))?;
        self.canned_response(id).await
    }

    pub async fn delete_canned(&self, caller: &Caller, id: &str) -> Result<()> {
        let current = self.canned_response(id).await?;
        Self::may_edit_canned(caller, &current)?;
        sqlx::query("DELETE FROM canned_responses WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
