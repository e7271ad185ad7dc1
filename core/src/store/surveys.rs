//! Surveys after a request is resolved or a visit done: one per subject (a conversation,
//! a visit), answered through its link (its token) or the client's portal, one answer
//! kept (changed in place within the rules the caller passes), and the results a
//! supervisor reads, by agent, technician, team and company, with when each was given.
//!
//! The rules of an answer are the portal crate's (`surveys::may_answer`), which the core
//! does not import: the caller's check sees the survey as it is, under a lock, so two
//! answers at once keep one. Tests: conformance `surveys.rs`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Caller, ClientScope, Store};
use crate::clock::{Ids, random_token};
use crate::domain::Role;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    pub id: String,
    /// The link's token: it answers this survey and nothing else.
    pub token: String,
    pub subject: String,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub conversation_id: Option<String>,
    pub visit_id: Option<String>,
    /// The request's or the visit's number.
    pub number: i64,
    pub agent_id: Option<String>,
    pub technician_id: Option<String>,
    pub team: Option<String>,
    /// Where it was sent: `email`, `whatsapp` or `portal`.
    pub channel: String,
    pub lang: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub csat: Option<i64>,
    pub nps: Option<i64>,
    pub comment: Option<String>,
    pub answered_at: Option<i64>,
    pub changed_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewSurvey<'a> {
    pub subject: &'a str,
    pub contact_id: &'a str,
    pub company_id: Option<&'a str>,
    pub conversation_id: Option<&'a str>,
    pub visit_id: Option<&'a str>,
    pub number: i64,
    pub agent_id: Option<&'a str>,
    pub technician_id: Option<&'a str>,
    pub team: Option<&'a str>,
    pub channel: &'a str,
    pub lang: &'a str,
    pub expires_at: i64,
}

/// One answer, for results: who it rates (an id and a name), when it was given (months
/// are the reader's to make) and its scores. The counting (NPS, CSAT) is the portal crate's `Results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyAnswer {
    pub key: String,
    pub name: String,
    pub answered_at: i64,
    pub csat: Option<i64>,
    pub nps: Option<i64>,
}

const COLUMNS: &str = "id, token, subject, contact_id, company_id, conversation_id, visit_id, number, agent_id, technician_id, team, channel, lang, created_at, expires_at, csat, nps, comment, answered_at, changed_at";

fn survey(r: &AnyRow) -> Result<Survey> {
    Ok(Survey {
        id: r.try_get("id")?,
        token: r.try_get("token")?,
        subject: r.try_get("subject")?,
        contact_id: r.try_get("contact_id")?,
        company_id: r.try_get("company_id")?,
        conversation_id: r.try_get("conversation_id")?,
        visit_id: r.try_get("visit_id")?,
        number: r.try_get("number")?,
        agent_id: r.try_get("agent_id")?,
        technician_id: r.try_get("technician_id")?,
        team: r.try_get("team")?,
        channel: r.try_get("channel")?,
        lang: r.try_get("lang")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        csat: r.try_get("csat")?,
        nps: r.try_get("nps")?,
        comment: r.try_get("comment")?,
        answered_at: r.try_get("answered_at")?,
        changed_at: r.try_get("changed_at")?,
    })
}

/// What results are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyGroup {
    Agent,
    Technician,
    Team,
    Company,
}

impl Store {
    /// Makes the survey of a subject, once: `Some` when this call made it, `None` when
    /// the subject has one already.
    pub async fn create_survey(&self, ids: &Ids, s: &NewSurvey<'_>) -> Result<Option<Survey>> {
        if !matches!(s.channel, "email" | "whatsapp" | "portal") {
            return Err(Error::invalid("a survey goes by email, whatsapp or portal"));
        }
        let id = ids.new_id();
        let done = sqlx::query(
            "INSERT INTO surveys (id, token, subject, contact_id, company_id, conversation_id, visit_id, number, agent_id, technician_id, team, channel, lang, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (subject) DO NOTHING",
        )
        .bind(&id)
        .bind(format!("sv_{}", random_token()))
        .bind(s.subject)
        .bind(s.contact_id)
        .bind(s.company_id)
        .bind(s.conversation_id)
        .bind(s.visit_id)
        .bind(s.number)
        .bind(s.agent_id)
        .bind(s.technician_id)
        .bind(s.team)
        .bind(s.channel)
        .bind(s.lang)
        .bind(ids.now_ms())
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        Ok(Some(self.survey_where("id = $1", &id).await?))
    }

    async fn survey_where(&self, condition: &str, value: &str) -> Result<Survey> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM surveys WHERE {condition}"
        )))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("survey"))?;
        survey(&row)
    }

    /// The survey a link opens (its token); another token is not found.
    pub async fn survey_by_token(&self, token: &str) -> Result<Survey> {
        self.survey_where("token = $1", token).await
    }

    /// The survey about a subject (`visit:<id>`, `conversation:<id>`), if one was made.
    pub async fn survey_by_subject(&self, subject: &str) -> Result<Option<Survey>> {
        match self.survey_where("subject = $1", subject).await {
            Ok(s) => Ok(Some(s)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The client's surveys not answered yet and still open (the home's banner).
    pub async fn waiting_surveys(
        &self,
        scope: &ClientScope,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Survey>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM surveys WHERE contact_id = $1 AND answered_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC LIMIT $3"
        )))
        .bind(&scope.contact_id)
        .bind(now)
        .bind(limit.clamp(1, 50))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(survey).collect()
    }

    /// Answers a survey (by its token): under a lock, `check` sees the survey as it is
    /// (`Err` with its words: nothing changes); then the one answer is kept, or changed.
    pub async fn answer_survey<F>(
        &self,
        ids: &Ids,
        token: &str,
        csat: Option<i64>,
        nps: Option<i64>,
        comment: Option<&str>,
        check: F,
    ) -> Result<Survey>
    where
        F: FnOnce(&Survey) -> std::result::Result<(), String> + Send,
    {
        if csat.is_some_and(|c| !(1..=5).contains(&c))
            || nps.is_some_and(|n| !(0..=10).contains(&n))
        {
            return Err(Error::invalid("CSAT is 1 to 5, NPS 0 to 10"));
        }
        if csat.is_none() && nps.is_none() {
            return Err(Error::invalid("an answer gives a CSAT or an NPS"));
        }
        let mut tx = self.begin_write().await?;
        let lock = match self.backend {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM surveys WHERE token = $1{lock}"
        )))
        .bind(token)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found("survey"))?;
        let now_survey = survey(&row)?;
        check(&now_survey).map_err(Error::Invalid)?;
        let now = ids.now_ms();
        sqlx::query(
            "UPDATE surveys SET csat = $1, nps = $2, comment = $3, answered_at = COALESCE(answered_at, $4), \
             changed_at = CASE WHEN answered_at IS NULL THEN NULL ELSE $4 END WHERE id = $5",
        )
        .bind(csat)
        .bind(nps)
        .bind(comment)
        .bind(now)
        .bind(&now_survey.id)
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM surveys WHERE id = $1"
        )))
        .bind(&now_survey.id)
        .fetch_one(&mut **tx)
        .await?;
        let answered = survey(&row)?;
        tx.commit().await?;
        Ok(answered)
    }

    /// The answers given in `[from, to)` with whom they rate by `group`, of what the
    /// caller may see (a coordinator: its companies'; clients nothing).
    pub async fn survey_answers(
        &self,
        caller: &Caller,
        group: SurveyGroup,
        from: i64,
        to: i64,
    ) -> Result<Vec<SurveyAnswer>> {
        let (scope, binds): (String, Vec<String>) = match caller.role {
            Role::Admin | Role::Supervisor => ("1 = 1".into(), Vec::new()),
            Role::Coordinator if !caller.companies.is_empty() => (
                format!(
                    "s.company_id IN ({})",
                    (3..3 + caller.companies.len())
                        .map(|i| format!("${i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                caller.companies.clone(),
            ),
            _ => return Ok(Vec::new()),
        };
        let (key, name, join) = match group {
            SurveyGroup::Agent => (
                "s.agent_id",
                "COALESCE(u.name, u.email)",
                "LEFT JOIN users u ON u.id = s.agent_id",
            ),
            SurveyGroup::Technician => (
                "s.technician_id",
                "COALESCE(u.name, u.email)",
                "LEFT JOIN users u ON u.id = s.technician_id",
            ),
            SurveyGroup::Team => ("s.team", "s.team", ""),
            SurveyGroup::Company => (
                "s.company_id",
                "co.name",
                "LEFT JOIN companies co ON co.id = s.company_id",
            ),
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {key} AS k, {name} AS n, s.answered_at, s.csat, s.nps FROM surveys s {join} \
             WHERE s.answered_at >= $1 AND s.answered_at < $2 AND {scope} ORDER BY s.answered_at"
        )))
        .bind(from)
        .bind(to);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let k: Option<String> = r.try_get("k")?;
                let n: Option<String> = r.try_get("n")?;
                Ok(SurveyAnswer {
                    key: k.unwrap_or_default(),
                    name: n.unwrap_or_default(),
                    answered_at: r.try_get("answered_at")?,
                    csat: r.try_get("csat")?,
                    nps: r.try_get("nps")?,
                })
            })
            .collect()
    }
}
