//! Technicians' visits to clients' machines, and the once-per-period claim of a reading
//! reminder.
//!
//! A visit is booked for a machine (and the request it answers: a conversation of the
//! machine's company) with a technician, a user
//! of the `technician` role, for a window; its number comes from the `visit` counter in
//! the booking's transaction, and a booking form sent twice (its key) is one visit. Every
//! later change goes through [`Store::change_visit`]: under a lock on the visit, the
//! caller's rules (the portal crate's `visits::next`) see the visit as it is now and say
//! what it becomes, and the machine's status follows in the same transaction, so two
//! people at once (the technician's phone and the desk) make one change and the other
//! is refused with the visit's status named.
//!
//! Agents read visits through their `Caller` (a technician sees the companies of the
//! machines and visits they are given, `Store::caller`); clients through their
//! `ClientScope`. Tests: conformance `visits.rs`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Caller, ClientScope, Store, Ticket};
use crate::clock::Ids;
use crate::domain::Role;
use crate::error::{Error, Result};

/// A visit, with its technician's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub id: String,
    pub number: i64,
    pub machine_id: String,
    pub company_id: String,
    /// The request's conversation, if it answers one.
    pub conversation_id: Option<String>,
    pub technician_id: String,
    /// The technician's name, else address.
    pub technician: String,
    /// The machine's model and serial, and its company's name.
    pub model: String,
    pub serial: String,
    pub company: String,
    /// `scheduled`, `on_site`, `done` or `cancelled`.
    pub status: String,
    pub window_from: i64,
    pub window_to: i64,
    pub arrived_at: Option<i64>,
    pub done_at: Option<i64>,
    pub work_done: Option<String>,
    /// The portal crate's `visits::Part` list, as JSON.
    pub parts: String,
    pub signed_by: Option<String>,
    /// The machine's status after the visit.
    pub machine_status: Option<String>,
    /// The visit report's PDF (the JSON of an `Attachment`).
    pub report: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a visit is booked with.
#[derive(Debug, Clone)]
pub struct NewVisit<'a> {
    pub machine_id: &'a str,
    /// The request's conversation (of the machine's company).
    pub conversation_id: Option<&'a str>,
    pub technician_id: &'a str,
    pub window_from: i64,
    pub window_to: i64,
    /// The booking form's key: the same key is the same visit.
    pub key: &'a str,
    pub created_by: Option<&'a str>,
}

/// What a change makes of a visit: its new status and the fields it sets (`None` keeps
/// a field as it is).
#[derive(Debug, Clone, Default)]
pub struct VisitChange {
    pub status: String,
    pub technician_id: Option<String>,
    pub window: Option<(i64, i64)>,
    pub arrived_at: Option<i64>,
    pub done_at: Option<i64>,
    pub work_done: Option<String>,
    pub parts: Option<String>,
    pub signed_by: Option<String>,
    /// What the machine becomes, in the same transaction.
    pub machine_status: Option<String>,
}

/// Which visits a list shows.
#[derive(Debug, Clone, Default)]
pub struct VisitQuery<'a> {
    pub technician_id: Option<&'a str>,
    pub machine_id: Option<&'a str>,
    /// Only scheduled and on-site ones.
    pub open: bool,
    pub limit: i64,
}

/// The visit statuses.
pub const VISIT_STATUSES: &[&str] = &["scheduled", "on_site", "done", "cancelled"];

const COLUMNS: &str = "v.id, v.number, v.machine_id, v.company_id, v.conversation_id, v.technician_id, \
    COALESCE(u.name, u.email) AS technician, m.model, m.serial, c.name AS company, v.status, v.window_from, v.window_to, v.arrived_at, \
    v.done_at, v.work_done, v.parts, v.signed_by, v.machine_status, v.report, v.version, \
    v.created_at, v.updated_at";
const FROM: &str = "visits v JOIN users u ON u.id = v.technician_id \
    JOIN machines m ON m.id = v.machine_id JOIN companies c ON c.id = v.company_id";

fn visit(r: &AnyRow) -> Result<Visit> {
    Ok(Visit {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        machine_id: r.try_get("machine_id")?,
        company_id: r.try_get("company_id")?,
        conversation_id: r.try_get("conversation_id")?,
        technician_id: r.try_get("technician_id")?,
        technician: r.try_get("technician")?,
        model: r.try_get("model")?,
        serial: r.try_get("serial")?,
        company: r.try_get("company")?,
        status: r.try_get("status")?,
        window_from: r.try_get("window_from")?,
        window_to: r.try_get("window_to")?,
        arrived_at: r.try_get("arrived_at")?,
        done_at: r.try_get("done_at")?,
        work_done: r.try_get("work_done")?,
        parts: r.try_get("parts")?,
        signed_by: r.try_get("signed_by")?,
        machine_status: r.try_get("machine_status")?,
        report: r.try_get("report")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The active technician a visit or machine is given, or why not.
async fn technician(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<()> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 AND active = 1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    match role.as_deref() {
        None => Err(Error::not_found(format!("user {user_id}"))),
        Some(r) if r == Role::Technician.as_str() => Ok(()),
        Some(_) => Err(Error::invalid("visits are given to technicians only")),
    }
}

impl Store {
    /// The active technicians, by name: `(id, name or address)`.
    pub async fn technicians(&self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, COALESCE(name, email) AS n FROM users WHERE role = $1 AND active = 1 ORDER BY n, id",
        )
        .bind(Role::Technician.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// The companies a technician works for: those of the machines they are responsible
    /// for and of the visits they are given (`Store::caller` adds them to theirs).
    pub(crate) async fn technician_companies(&self, user_id: &str) -> Result<Vec<String>> {
        let companies: Vec<String> = sqlx::query_scalar(
            "SELECT company_id FROM machines WHERE technician_id = $1 \
             UNION SELECT company_id FROM visits WHERE technician_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(companies)
    }

    /// Makes a technician responsible for a machine (`None`: nobody).
    pub async fn set_machine_technician(
        &self,
        ids: &Ids,
        machine_id: &str,
        technician_id: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if let Some(t) = technician_id {
            technician(&mut conn, t).await?;
        }
        let done =
            sqlx::query("UPDATE machines SET technician_id = $1, updated_at = $2 WHERE id = $3")
                .bind(technician_id)
                .bind(ids.now_ms())
                .bind(machine_id)
                .execute(&mut *conn)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("machine {machine_id}")));
        }
        Ok(())
    }

    /// Books a visit: the machine exists, the technician is one, the request (if any) is
    /// of the machine's company, the window ends after it starts. The same key again is
    /// the visit it booked (`false`: booked before); on another machine, a conflict.
    pub async fn schedule_visit(&self, ids: &Ids, v: &NewVisit<'_>) -> Result<(Visit, bool)> {
        if v.window_to <= v.window_from {
            return Err(Error::invalid(
                "the visit's window must end after it starts",
            ));
        }
        if v.key.trim().is_empty() {
            return Err(Error::invalid("a booking needs its form key"));
        }
        let mut tx = self.begin_write().await?;
        let known: Option<(String, String)> =
            sqlx::query_as("SELECT id, machine_id FROM visits WHERE key = $1")
                .bind(v.key)
                .fetch_optional(&mut **tx)
                .await?;
        if let Some((id, machine)) = known {
            drop(tx);
            if machine != v.machine_id {
                return Err(Error::Conflict(
                    "that booking key belongs to another machine's visit".into(),
                ));
            }
            return Ok((self.visit(&id).await?, false));
        }
        let company: Option<String> =
            sqlx::query_scalar("SELECT company_id FROM machines WHERE id = $1")
                .bind(v.machine_id)
                .fetch_optional(&mut **tx)
                .await?;
        let company =
            company.ok_or_else(|| Error::not_found(format!("machine {}", v.machine_id)))?;
        technician(&mut tx, v.technician_id).await?;
        if let Some(conversation) = v.conversation_id {
            let of: Option<Option<String>> =
                sqlx::query_scalar("SELECT company_id FROM conversations WHERE id = $1")
                    .bind(conversation)
                    .fetch_optional(&mut **tx)
                    .await?;
            match of {
                None => return Err(Error::not_found(format!("conversation {conversation}"))),
                Some(c) if c.as_deref() != Some(company.as_str()) => {
                    return Err(Error::invalid(
                        "the request is not of the machine's company",
                    ));
                }
                Some(_) => {}
            }
        }
        let number: i64 = sqlx::query_scalar(
            "INSERT INTO billing_counters (scope, value) VALUES ('visit', 1) \
             ON CONFLICT (scope) DO UPDATE SET value = billing_counters.value + 1 RETURNING value",
        )
        .fetch_one(&mut **tx)
        .await?;
        let id = ids.new_id();
        let now = ids.now_ms();
        // The same form sent twice at once: the second insert does nothing and answers
        // with the visit the first booked.
        let inserted = sqlx::query(
            "INSERT INTO visits (id, number, machine_id, company_id, conversation_id, technician_id, status, window_from, window_to, key, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8, $9, $10, $11, $11) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&id)
        .bind(number)
        .bind(v.machine_id)
        .bind(&company)
        .bind(v.conversation_id)
        .bind(v.technician_id)
        .bind(v.window_from)
        .bind(v.window_to)
        .bind(v.key)
        .bind(v.created_by)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            drop(tx);
            let (id, machine): (String, String) =
                sqlx::query_as("SELECT id, machine_id FROM visits WHERE key = $1")
                    .bind(v.key)
                    .fetch_one(&self.pool)
                    .await?;
            if machine != v.machine_id {
                return Err(Error::Conflict(
                    "that booking key belongs to another machine's visit".into(),
                ));
            }
            return Ok((self.visit(&id).await?, false));
        }
        tx.commit().await?;
        Ok((self.visit(&id).await?, true))
    }

    /// A visit by id (workers); people read `visit_for_agent` or `visit_for_client`.
    pub async fn visit(&self, id: &str) -> Result<Visit> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("visit {id}")))?;
        visit(&row)
    }

    /// A visit the agent may see: of a company it works with (a technician: the
    /// companies of its machines and visits); another is not found.
    pub async fn visit_for_agent(&self, caller: &Caller, id: &str) -> Result<Visit> {
        let v = self.visit(id).await?;
        if !caller.may_see_company(&v.company_id) {
            return Err(Error::not_found(format!("visit {id}")));
        }
        Ok(v)
    }

    /// A visit of the client's company; another is not found.
    pub async fn visit_for_client(&self, scope: &ClientScope, id: &str) -> Result<Visit> {
        let v = self.visit(id).await?;
        if scope.company_id.as_deref() != Some(v.company_id.as_str()) {
            return Err(Error::not_found(format!("visit {id}")));
        }
        Ok(v)
    }

    /// The visits the agent may see, soonest first for open ones, newest first
    /// otherwise (at most `limit`).
    pub async fn visits_for_agent(
        &self,
        caller: &Caller,
        q: &VisitQuery<'_>,
    ) -> Result<Vec<Visit>> {
        let mut conditions: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        // Binds start at $2 ($1 is the limit).
        let bind = |binds: &mut Vec<String>, value: &str| {
            binds.push(value.to_owned());
            format!("${}", binds.len() + 1)
        };
        match caller.role {
            Role::Admin | Role::Supervisor | Role::Support => {}
            Role::Coordinator | Role::Technician => {
                if caller.companies.is_empty() {
                    return Ok(Vec::new());
                }
                let list: Vec<String> = caller
                    .companies
                    .iter()
                    .map(|c| bind(&mut binds, c))
                    .collect();
                conditions.push(format!("v.company_id IN ({})", list.join(",")));
            }
            Role::ClientUser | Role::ClientAdmin => return Ok(Vec::new()),
        }
        if let Some(t) = q.technician_id {
            let p = bind(&mut binds, t);
            conditions.push(format!("v.technician_id = {p}"));
        }
        if let Some(m) = q.machine_id {
            let p = bind(&mut binds, m);
            conditions.push(format!("v.machine_id = {p}"));
        }
        let order = if q.open {
            conditions.push("v.status IN ('scheduled', 'on_site')".into());
            "v.window_from, v.number"
        } else {
            "v.window_from DESC, v.number DESC"
        };
        let condition = if conditions.is_empty() {
            "1 = 1".to_owned()
        } else {
            conditions.join(" AND ")
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {condition} ORDER BY {order} LIMIT $1"
        )))
        .bind(q.limit.clamp(1, 1_000));
        for b in &binds {
            query = query.bind(b.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(visit).collect()
    }

    /// The client's company's visits still to happen (or happening), soonest first.
    pub async fn upcoming_visits_for_client(
        &self,
        scope: &ClientScope,
        limit: i64,
    ) -> Result<Vec<Visit>> {
        let Some(company) = &scope.company_id else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.company_id = $1 AND v.status IN ('scheduled', 'on_site') \
             ORDER BY v.window_from, v.number LIMIT $2"
        )))
        .bind(company)
        .bind(limit.clamp(1, 100))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(visit).collect()
    }

    /// A machine's visits, newest first (after a scoped lookup of the machine).
    pub async fn machine_visits(&self, machine_id: &str, limit: i64) -> Result<Vec<Visit>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.machine_id = $1 ORDER BY v.window_from DESC, v.number DESC LIMIT $2"
        )))
        .bind(machine_id)
        .bind(limit.clamp(1, 1_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(visit).collect()
    }

    /// The latest `per_machine` visits of each of the client's company's machines, in one
    /// query (the sites' map); none without a company.
    pub async fn latest_visits_for_client(
        &self,
        scope: &ClientScope,
        per_machine: i64,
    ) -> Result<Vec<Visit>> {
        let Some(company) = &scope.company_id else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM (SELECT {COLUMNS}, ROW_NUMBER() OVER (PARTITION BY v.machine_id \
             ORDER BY v.window_from DESC, v.number DESC) AS nth FROM {FROM} WHERE v.company_id = $1) latest \
             WHERE nth <= $2 ORDER BY machine_id, nth"
        )))
        .bind(company)
        .bind(per_machine.clamp(1, 100))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(visit).collect()
    }

    /// The visits that answer a ticket (read through its reader's scope), soonest first.
    pub async fn ticket_visits(&self, ticket: &Ticket) -> Result<Vec<Visit>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.conversation_id = $1 ORDER BY v.window_from, v.number"
        )))
        .bind(&ticket.conversation_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(visit).collect()
    }

    /// Changes a visit once. Under a lock on it: a stale `version` is refused (someone
    /// changed it meanwhile); `decide` sees the visit as it is and says what it becomes
    /// (`Err`: nothing changes); the machine's status follows, and a finished visit is
    /// the machine's last. Returns the visit as changed.
    pub async fn change_visit<F>(
        &self,
        ids: &Ids,
        id: &str,
        version: Option<i64>,
        decide: F,
    ) -> Result<Visit>
    where
        F: FnOnce(&Visit) -> Result<VisitChange> + Send,
    {
        let mut tx = self.begin_write().await?;
        let lock = match self.backend {
            super::Backend::Postgres => " FOR UPDATE OF v",
            super::Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.id = $1{lock}"
        )))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("visit {id}")))?;
        let now_visit = visit(&row)?;
        if version.is_some_and(|v| v != now_visit.version) {
            return Err(Error::Conflict(format!(
                "visit {} was changed meanwhile: it is {} now",
                now_visit.number,
                now_visit.status.replace('_', " ")
            )));
        }
        let change = decide(&now_visit)?;
        if !VISIT_STATUSES.contains(&change.status.as_str()) {
            return Err(Error::invalid(format!(
                "unknown visit status {:?}",
                change.status
            )));
        }
        if let Some(t) = &change.technician_id {
            technician(&mut tx, t).await?;
        }
        if let Some((from, to)) = change.window
            && to <= from
        {
            return Err(Error::invalid(
                "the visit's window must end after it starts",
            ));
        }
        if let Some(status) = &change.machine_status
            && !super::MACHINE_STATUSES.contains(&status.as_str())
        {
            return Err(Error::invalid(format!("unknown machine status {status:?}")));
        }
        let now = ids.now_ms();
        let (from, to) = change
            .window
            .unwrap_or((now_visit.window_from, now_visit.window_to));
        sqlx::query(
            "UPDATE visits SET status = $1, technician_id = $2, window_from = $3, window_to = $4, \
             arrived_at = $5, done_at = $6, work_done = $7, parts = $8, signed_by = $9, \
             machine_status = $10, version = version + 1, updated_at = $11 WHERE id = $12",
        )
        .bind(&change.status)
        .bind(
            change
                .technician_id
                .as_deref()
                .unwrap_or(&now_visit.technician_id),
        )
        .bind(from)
        .bind(to)
        .bind(change.arrived_at.or(now_visit.arrived_at))
        .bind(change.done_at.or(now_visit.done_at))
        .bind(
            change
                .work_done
                .as_deref()
                .or(now_visit.work_done.as_deref()),
        )
        .bind(change.parts.as_deref().unwrap_or(&now_visit.parts))
        .bind(
            change
                .signed_by
                .as_deref()
                .or(now_visit.signed_by.as_deref()),
        )
        .bind(
            change
                .machine_status
                .as_deref()
                .filter(|_| change.status == "done")
                .or(now_visit.machine_status.as_deref()),
        )
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        if let Some(status) = &change.machine_status {
            let last_visit = (change.status == "done").then_some(now);
            sqlx::query(
                "UPDATE machines SET status = $1, last_visit_at = COALESCE($2, last_visit_at), updated_at = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(last_visit)
            .bind(now)
            .bind(&now_visit.machine_id)
            .execute(&mut **tx)
            .await?;
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE v.id = $1"
        )))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let changed = visit(&row)?;
        tx.commit().await?;
        Ok(changed)
    }

    /// A conversation's number and contact (a visit's page and report name them).
    pub async fn conversation_refs(&self, conversation_id: &str) -> Result<Option<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT number, contact_id FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Keeps a finished visit's report (an `Attachment`'s JSON).
    pub async fn set_visit_report(&self, id: &str, blob: &str) -> Result<()> {
        let done = sqlx::query("UPDATE visits SET report = $1 WHERE id = $2")
            .bind(blob)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("visit {id}")));
        }
        Ok(())
    }

    /// Claims the reading reminder of a contract's period `n`: `true` for the one caller
    /// that is to send it, whatever the nodes and runs.
    pub async fn claim_reading_reminder(
        &self,
        ids: &Ids,
        contract_id: &str,
        n: i64,
        channel: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO reading_reminders (contract_id, n, channel, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (contract_id, n) DO NOTHING",
        )
        .bind(contract_id)
        .bind(n)
        .bind(channel)
        .bind(ids.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
