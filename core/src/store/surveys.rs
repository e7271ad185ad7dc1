//! Surveys after a request is resolved or a visit done: one per subject (a conversation,
//! a visit), answered through its link (its token) or the client's portal, one answer
//! kept (changed in place within the rules the caller passes), and the results a
//! supervisor reads, by agent, technician, team and company, and by month.
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

/// One row of results: who (an id and a name), and the answers' sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyRow {
    pub key: String,
    pub name: String,
    pub csat_answers: i64,
    pub satisfied: i64,
    pub csat_sum: i64,
    pub nps_answers: i64,
    pub promoters: i64,
    pub detractors: i64,
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
    /// By calendar month of the answer (`YYYY-MM`, UTC).
    Month,
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

    /// The answers' sums grouped by `group`, over answers given in `[from, to)`, of what
    /// the caller may see (a coordinator: its companies'; clients nothing).
    pub async fn survey_results(
        &self,
        caller: &Caller,
        group: SurveyGroup,
        from: i64,
        to: i64,
    ) -> Result<Vec<SurveyRow>> {
        let (scope, mut binds): (String, Vec<String>) = match caller.role {
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
            SurveyGroup::Month => ("s.answered_at", "s.answered_at", ""),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {key} AS k, {name} AS n, s.csat, s.nps FROM surveys s {join} \
             WHERE s.answered_at >= $1 AND s.answered_at < $2 AND {scope}"
        )))
        .bind(from)
        .bind(to);
        let mut q = rows;
        for b in binds.drain(..) {
            q = q.bind(b);
        }
        let found = q.fetch_all(&self.pool).await?;
        let mut out: Vec<SurveyRow> = Vec::new();
        for r in &found {
            let (k, n) = if group == SurveyGroup::Month {
                let at: i64 = r.try_get("k")?;
                let m = month_of(at);
                (m.clone(), m)
            } else {
                let k: Option<String> = r.try_get("k")?;
                let n: Option<String> = r.try_get("n")?;
                (k.unwrap_or_default(), n.unwrap_or_default())
            };
            let csat: Option<i64> = r.try_get("csat")?;
            let nps: Option<i64> = r.try_get("nps")?;
            let row = match out.iter_mut().find(|x| x.key == k) {
                Some(x) => x,
                None => {
                    out.push(SurveyRow {
                        key: k.clone(),
                        name: n,
                        csat_answers: 0,
                        satisfied: 0,
                        csat_sum: 0,
                        nps_answers: 0,
                        promoters: 0,
                        detractors: 0,
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            if let Some(c) = csat {
                row.csat_answers += 1;
                row.csat_sum += c;
                row.satisfied += i64::from(c >= 4);
            }
            if let Some(n) = nps {
                row.nps_answers += 1;
                row.promoters += i64::from(n >= 9);
                row.detractors += i64::from(n <= 6);
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

/// `YYYY-MM` of an instant (UTC).
fn month_of(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn months_are_civil() {
        assert_eq!(super::month_of(0), "1970-01");
        // 2026-11-25 12:00 UTC.
        assert_eq!(super::month_of(1_795_608_000_000), "2026-11");
        assert_eq!(super::month_of(1_798_761_599_999), "2026-12");
        assert_eq!(super::month_of(1_798_761_600_000), "2027-01");
    }
}
