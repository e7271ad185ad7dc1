//! Machines at the clients' companies and their meter readings.
//!
//! A client reads only its own company's machines (`ClientScope`). A reading is stored
//! under a write lock on its machine, after the caller's check has seen the machine's
//! history (the rules are the portal crate's `readings::check`, which the core does not
//! import): a submission repeated with the same key, or the same counts again on the same
//! day, is the reading already stored, so two submissions at once (the portal and
//! WhatsApp) store one. Tests: conformance `equipment.rs`.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{ClientScope, Store};
use crate::clock::Ids;
use crate::error::{Error, Result};

/// What a machine may be.
pub const MACHINE_STATUSES: &[&str] = &["in_service", "down", "maintenance", "removed"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub id: String,
    pub company_id: String,
    pub location: Option<String>,
    pub maker: Option<String>,
    pub model: String,
    pub serial: String,
    pub asset_tag: Option<String>,
    /// Day number (days since 1970-01-01).
    pub installed_on: Option<i64>,
    pub status: String,
    pub technician_id: Option<String>,
    pub last_visit_at: Option<i64>,
    pub created_at: i64,
    /// One of its company's sites.
    pub site_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewMachine<'a> {
    pub company_id: &'a str,
    pub location: Option<&'a str>,
    pub maker: Option<&'a str>,
    pub model: &'a str,
    pub serial: &'a str,
    pub asset_tag: Option<&'a str>,
    pub installed_on: Option<i64>,
    pub status: &'a str,
}

/// A stored reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterReading {
    pub id: String,
    pub machine_id: String,
    pub day: i64,
    pub mono: Option<i64>,
    pub colour: Option<i64>,
    pub scans: Option<i64>,
    /// `portal`, `whatsapp`, `email` or `agent`.
    pub source: String,
    pub user_id: Option<String>,
    /// The counter's photo (the stored file, as the JSON of an `Attachment`).
    pub photo: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewReading<'a> {
    pub machine_id: &'a str,
    pub day: i64,
    pub mono: Option<i64>,
    pub colour: Option<i64>,
    pub scans: Option<i64>,
    pub source: &'a str,
    pub user_id: Option<&'a str>,
    pub photo: Option<&'a str>,
    /// The submission's key: the same key is the same reading.
    pub key: &'a str,
    /// The person confirmed a reading the check asked about.
    pub confirmed: bool,
}

/// What became of a reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingOutcome {
    Stored(MeterReading),
    /// This submission, or the same counts on the same day, was stored before.
    Duplicate(MeterReading),
    /// Nothing stored: the check asks the person to confirm these.
    Confirm(Vec<String>),
}

pub(crate) const MACHINE_COLUMNS: &str = "id, company_id, location, maker, model, serial, asset_tag, installed_on, status, technician_id, last_visit_at, created_at, site_id";
pub(crate) const READING_COLUMNS: &str =
    "id, machine_id, day, mono, colour, scans, source, user_id, photo, created_at";

pub(crate) fn machine(r: &AnyRow) -> Result<Machine> {
    Ok(Machine {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        location: r.try_get("location")?,
        maker: r.try_get("maker")?,
        model: r.try_get("model")?,
        serial: r.try_get("serial")?,
        asset_tag: r.try_get("asset_tag")?,
        installed_on: r.try_get("installed_on")?,
        status: r.try_get("status")?,
        technician_id: r.try_get("technician_id")?,
        last_visit_at: r.try_get("last_visit_at")?,
        created_at: r.try_get("created_at")?,
        site_id: r.try_get("site_id")?,
    })
}

pub(crate) fn reading(r: &AnyRow) -> Result<MeterReading> {
    Ok(MeterReading {
        id: r.try_get("id")?,
        machine_id: r.try_get("machine_id")?,
        day: r.try_get("day")?,
        mono: r.try_get("mono")?,
        colour: r.try_get("colour")?,
        scans: r.try_get("scans")?,
        source: r.try_get("source")?,
        user_id: r.try_get("user_id")?,
        photo: r.try_get("photo")?,
        created_at: r.try_get("created_at")?,
    })
}

fn trimmed(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl Store {
    /// Adds a machine to a company. A serial names one machine, an asset tag one machine
    /// of its company: a second is a conflict that names it.
    pub async fn add_machine(&self, ids: &Ids, m: &NewMachine<'_>) -> Result<Machine> {
        let made = self.add_machines(ids, std::slice::from_ref(m)).await?;
        let id = made
            .first()
            .ok_or_else(|| Error::invalid("no machine was added"))?;
        self.machine(id).await
    }

    /// Adds many machines at once (an import): all of them, or none. A serial or tag that
    /// one of them shares with a machine already stored is a conflict that names it.
    pub async fn add_machines(&self, ids: &Ids, list: &[NewMachine<'_>]) -> Result<Vec<String>> {
        for m in list {
            if m.model.trim().is_empty() || m.serial.trim().is_empty() {
                return Err(Error::invalid("every machine needs its model and serial"));
            }
            if !MACHINE_STATUSES.contains(&m.status) {
                return Err(Error::invalid(format!(
                    "unknown machine status {:?}",
                    m.status
                )));
            }
        }
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let mut companies: Vec<&str> = list.iter().map(|m| m.company_id).collect();
        companies.sort_unstable();
        companies.dedup();
        for company in companies {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM companies WHERE id = $1")
                    .bind(company)
                    .fetch_optional(&mut **tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found(format!("company {company}")));
            }
        }
        let mut made = Vec::with_capacity(list.len());
        for m in list {
            let id = ids.new_id();
            let inserted = sqlx::query(
                "INSERT INTO machines (id, company_id, location, maker, model, serial, asset_tag, installed_on, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(&id)
            .bind(m.company_id)
            .bind(trimmed(m.location))
            .bind(trimmed(m.maker))
            .bind(m.model.trim())
            .bind(m.serial.trim())
            .bind(trimmed(m.asset_tag))
            .bind(m.installed_on)
            .bind(m.status)
            .bind(now)
            .execute(&mut **tx)
            .await;
            if let Err(e) = inserted {
                return Err(if super::is_unique_violation(&e) {
                    Error::Conflict(format!(
                        "a machine with serial {} or asset tag {} exists already",
                        m.serial.trim(),
                        trimmed(m.asset_tag).unwrap_or("—")
                    ))
                } else {
                    e.into()
                });
            }
            made.push(id);
        }
        tx.commit().await?;
        Ok(made)
    }

    /// Which of these serials name a stored machine (an import's report).
    pub async fn taken_serials(&self, serials: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for chunk in serials.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT serial FROM machines WHERE serial IN ({list})"
            )));
            for s in chunk {
                q = q.bind(s.trim());
            }
            let found: Vec<String> = q.fetch_all(&self.pool).await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Sets a machine's status (a visit, a breakdown); an unknown status changes nothing.
    pub async fn set_machine_status(&self, ids: &Ids, id: &str, status: &str) -> Result<()> {
        if !MACHINE_STATUSES.contains(&status) {
            return Err(Error::invalid(format!("unknown machine status {status:?}")));
        }
        let done = sqlx::query("UPDATE machines SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(ids.now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("machine {id}")));
        }
        Ok(())
    }

    /// A machine by id (workers, agents' tools); clients read `machine_for_client`.
    pub async fn machine(&self, id: &str) -> Result<Machine> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MACHINE_COLUMNS} FROM machines WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("machine {id}")))?;
        machine(&row)
    }

    /// The client's company's machines, by location and model. None without a company.
    pub async fn machines_for_client(&self, scope: &ClientScope) -> Result<Vec<Machine>> {
        let Some(company) = &scope.company_id else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MACHINE_COLUMNS} FROM machines WHERE company_id = $1 ORDER BY location, model, serial"
        )))
        .bind(company)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(machine).collect()
    }

    /// One of the client's company's machines; another company's is not found, as one
    /// that does not exist.
    pub async fn machine_for_client(&self, scope: &ClientScope, id: &str) -> Result<Machine> {
        let hidden = || Error::not_found(format!("machine {id}"));
        let company = scope.company_id.as_deref().ok_or_else(hidden)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MACHINE_COLUMNS} FROM machines WHERE id = $1 AND company_id = $2"
        )))
        .bind(id)
        .bind(company)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(hidden)?;
        machine(&row)
    }

    /// A machine the agent may see (`Caller::may_see_company`); another is not found.
    pub async fn machine_for_agent(&self, caller: &super::Caller, id: &str) -> Result<Machine> {
        let m = self.machine(id).await?;
        if !caller.may_see_company(&m.company_id) {
            return Err(Error::not_found(format!("machine {id}")));
        }
        Ok(m)
    }

    /// The machines the agent may see, of one company or of all, by company, location
    /// and model (at most `limit`).
    pub async fn machines_for_agent(
        &self,
        caller: &super::Caller,
        company_id: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Machine>> {
        use crate::domain::Role;
        // The caller's companies in the query itself, so the limit counts only what it may see.
        let mut companies: Vec<&str> = match caller.role {
            Role::Admin | Role::Supervisor | Role::Support => Vec::new(),
            Role::Coordinator | Role::Technician => {
                caller.companies.iter().map(String::as_str).collect()
            }
            Role::ClientUser | Role::ClientAdmin => return Ok(Vec::new()),
        };
        let scoped =
            !companies.is_empty() || matches!(caller.role, Role::Coordinator | Role::Technician);
        if let Some(c) = company_id {
            if scoped && !companies.contains(&c) {
                return Ok(Vec::new());
            }
            companies = vec![c];
        } else if scoped && companies.is_empty() {
            return Ok(Vec::new());
        }
        let condition = if companies.is_empty() {
            "1 = 1".to_owned()
        } else {
            let list = (2..companies.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            format!("company_id IN ({list})")
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MACHINE_COLUMNS} FROM machines WHERE {condition} ORDER BY company_id, location, model, serial LIMIT $1"
        )))
        .bind(limit.clamp(1, 10_000));
        for c in companies {
            q = q.bind(c);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(machine).collect()
    }

    /// A company's machines (the message readers match a serial or tag against them).
    pub async fn company_machines(&self, company_id: &str) -> Result<Vec<Machine>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MACHINE_COLUMNS} FROM machines WHERE company_id = $1 ORDER BY location, model, serial"
        )))
        .bind(company_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(machine).collect()
    }

    /// A machine's readings, oldest first (the last `limit`).
    pub async fn meter_readings(&self, machine_id: &str, limit: i64) -> Result<Vec<MeterReading>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {READING_COLUMNS} FROM meter_readings WHERE machine_id = $1 ORDER BY day DESC, created_at DESC, id DESC LIMIT $2"
        )))
        .bind(machine_id)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows.iter().map(reading).collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    /// Stores a reading once. Under a lock on the machine: a known key, or the same counts
    /// as the latest reading on the same day, is that reading (`Duplicate`); otherwise
    /// `check` sees the machine's history (oldest first, the last 60) and refuses the
    /// reading (`Err` with its words: an invalid input, nothing stored) or names what the
    /// person must confirm (`Confirm` unless `confirmed`).
    pub async fn record_reading<F>(
        &self,
        ids: &Ids,
        r: &NewReading<'_>,
        check: F,
    ) -> Result<ReadingOutcome>
    where
        F: FnOnce(&[MeterReading]) -> std::result::Result<Vec<String>, String> + Send,
    {
        if !matches!(r.source, "portal" | "whatsapp" | "email" | "agent") {
            return Err(Error::invalid(format!(
                "unknown reading source {:?}",
                r.source
            )));
        }
        if r.key.trim().is_empty() {
            return Err(Error::invalid("a reading needs its submission key"));
        }
        let mut tx = self.begin_write().await?;
        let lock = match self.backend {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM machines WHERE id = $1{lock}"
        )))
        .bind(r.machine_id)
        .fetch_optional(&mut **tx)
        .await?;
        if found.is_none() {
            return Err(Error::not_found(format!("machine {}", r.machine_id)));
        }
        let by_key = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {READING_COLUMNS} FROM meter_readings WHERE key = $1"
        )))
        .bind(r.key)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = by_key {
            let existing = reading(&row)?;
            if existing.machine_id != r.machine_id {
                return Err(Error::Conflict(
                    "that submission key belongs to another machine's reading".into(),
                ));
            }
            return Ok(ReadingOutcome::Duplicate(existing));
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {READING_COLUMNS} FROM meter_readings WHERE machine_id = $1 ORDER BY day DESC, created_at DESC, id DESC LIMIT 60"
        )))
        .bind(r.machine_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut history = rows.iter().map(reading).collect::<Result<Vec<_>>>()?;
        history.reverse();
        if let Some(last) = history.last()
            && last.day == r.day
            && (last.mono, last.colour, last.scans) == (r.mono, r.colour, r.scans)
        {
            return Ok(ReadingOutcome::Duplicate(last.clone()));
        }
        let asks = check(&history).map_err(Error::Invalid)?;
        if !asks.is_empty() && !r.confirmed {
            return Ok(ReadingOutcome::Confirm(asks));
        }
        let id = ids.new_id();
        sqlx::query(
            "INSERT INTO meter_readings (id, machine_id, day, mono, colour, scans, source, user_id, photo, key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(r.machine_id)
        .bind(r.day)
        .bind(r.mono)
        .bind(r.colour)
        .bind(r.scans)
        .bind(r.source)
        .bind(r.user_id)
        .bind(r.photo)
        .bind(r.key)
        .bind(ids.now_ms())
        .execute(&mut **tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {READING_COLUMNS} FROM meter_readings WHERE id = $1"
        )))
        .bind(&id)
        .fetch_one(&mut **tx)
        .await?;
        let stored = reading(&row)?;
        tx.commit().await?;
        Ok(ReadingOutcome::Stored(stored))
    }
}

/// A request about a machine, with its conversation (and its ticket when it came from
/// the portal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineRequest {
    pub conversation_id: String,
    /// The portal ticket it came as, if it did.
    pub ticket_id: Option<String>,
    /// The conversation's number (a ticket's number is its conversation's).
    pub number: i64,
    pub subject: String,
    /// The conversation's status (`open`, `pending`, `snoozed`, `resolved`).
    pub status: String,
    /// `failure`, `toner`, `support` or `reading`.
    pub kind: String,
    pub toner: Vec<String>,
    pub contract_id: Option<String>,
    pub machine_id: String,
    pub day: i64,
}

/// What may be asked about a machine.
pub const REQUEST_KINDS: &[&str] = &["failure", "toner", "support", "reading"];
/// The toner colours a request may name.
pub const TONER_COLOURS: &[&str] = &["black", "cyan", "magenta", "yellow"];

/// A request to link: the conversation (and ticket), the machine, what is asked.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub conversation_id: &'a str,
    pub ticket_id: Option<&'a str>,
    pub machine_id: &'a str,
    pub kind: &'a str,
    pub toner: &'a [String],
    pub day: i64,
    /// Replace the conversation's request (an agent's correction); otherwise a second
    /// link (a form sent twice) keeps the first.
    pub replace: bool,
}

impl Store {
    /// Links a conversation to the machine it is about, with the contract the machine
    /// serves that day (toner is counted against it). One request per conversation.
    /// Returns whether this call stored it.
    pub async fn add_machine_request(&self, ids: &Ids, r: &NewRequest<'_>) -> Result<bool> {
        if !REQUEST_KINDS.contains(&r.kind) {
            return Err(Error::invalid(format!("unknown request {:?}", r.kind)));
        }
        if let Some(c) = r
            .toner
            .iter()
            .find(|c| !TONER_COLOURS.contains(&c.as_str()))
        {
            return Err(Error::invalid(format!("unknown toner colour {c:?}")));
        }
        if r.kind == "toner" && r.toner.is_empty() {
            return Err(Error::invalid("a toner request names its colours"));
        }
        let contract = self.contract_of_machine(r.machine_id, r.day).await?;
        let on_conflict = if r.replace {
            "ON CONFLICT (conversation_id) DO UPDATE SET machine_id = excluded.machine_id, kind = excluded.kind, \
             toner = excluded.toner, contract_id = excluded.contract_id, day = excluded.day"
        } else {
            "ON CONFLICT (conversation_id) DO NOTHING"
        };
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO service_requests (conversation_id, ticket_id, machine_id, kind, toner, contract_id, day, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) {on_conflict}"
        )))
        .bind(r.conversation_id)
        .bind(r.ticket_id)
        .bind(r.machine_id)
        .bind(r.kind)
        .bind(serde_json::to_string(r.toner)?)
        .bind(contract.map(|c| c.id))
        .bind(r.day)
        .bind(ids.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A machine's requests, newest first (after a scoped lookup of the machine).
    pub async fn machine_requests(
        &self,
        machine_id: &str,
        limit: i64,
    ) -> Result<Vec<MachineRequest>> {
        self.requests_where("r.machine_id = $1", machine_id, limit)
            .await
    }

    /// A conversation's request, if it is about a machine (after a scoped lookup of the
    /// conversation).
    pub async fn conversation_request(
        &self,
        conversation_id: &str,
    ) -> Result<Option<MachineRequest>> {
        Ok(self
            .requests_where("r.conversation_id = $1", conversation_id, 1)
            .await?
            .into_iter()
            .next())
    }

    /// A contract's requests from day `from` (toner is counted against the contract).
    pub async fn contract_requests(
        &self,
        contract_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<MachineRequest>> {
        let all = self
            .requests_where("r.contract_id = $1", contract_id, limit)
            .await?;
        Ok(all.into_iter().filter(|r| r.day >= from).collect())
    }

    async fn requests_where(
        &self,
        condition: &str,
        id: &str,
        limit: i64,
    ) -> Result<Vec<MachineRequest>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT r.conversation_id, r.ticket_id, c.number, COALESCE(t.subject, c.subject, '') AS subject, c.status, \
             r.kind, r.toner, r.contract_id, r.machine_id, r.day \
             FROM service_requests r JOIN conversations c ON c.id = r.conversation_id LEFT JOIN tickets t ON t.id = r.ticket_id \
             WHERE {condition} ORDER BY r.created_at DESC LIMIT $2"
        )))
        .bind(id)
        .bind(limit.clamp(1, 1_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let toner: String = r.try_get("toner")?;
                Ok(MachineRequest {
                    conversation_id: r.try_get("conversation_id")?,
                    ticket_id: r.try_get("ticket_id")?,
                    number: r.try_get("number")?,
                    subject: r.try_get("subject")?,
                    status: r.try_get("status")?,
                    kind: r.try_get("kind")?,
                    toner: serde_json::from_str(&toner)?,
                    contract_id: r.try_get("contract_id")?,
                    machine_id: r.try_get("machine_id")?,
                    day: r.try_get("day")?,
                })
            })
            .collect()
    }
}
