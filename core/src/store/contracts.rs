//! Equipment contracts: the machines each covers (in slots, so a machine swapped
//! mid-period leaves its allowance to the one replacing it) and every closed period.
//!
//! The arithmetic is the portal crate's (`contracts::calculate`), which the core does not
//! import: terms and calculations are stored as its JSON. A period is closed once: the
//! period's row, its invoice and the invoice's number are written in one transaction, and
//! the row's primary key turns a second close (the job run twice, or two nodes at once)
//! into nothing (conformance `contracts::a_period_is_billed_once_however_often_it_is_closed`).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::billing::{NewInvoice, insert_invoice};
use super::{Caller, ClientScope, Store};
use crate::clock::Ids;
use crate::domain::Role;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    pub id: String,
    pub company_id: String,
    /// Who the period's invoices are addressed to.
    pub contact_id: String,
    pub number: String,
    /// `monthly` or `quarterly`.
    pub period: String,
    pub currency: String,
    /// The fixed fee per period, in minor units.
    pub fee: i64,
    /// The portal crate's `overage::Terms`, as JSON.
    pub terms: String,
    pub start_day: i64,
    pub renewal_day: Option<i64>,
    pub end_day: Option<i64>,
    /// Days before a period's end the client reads the counters; `None`: the business does.
    pub read_before: Option<i64>,
    /// The contract's PDF (the stored file, as the JSON of an `Attachment`).
    pub document: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewContract<'a> {
    pub company_id: &'a str,
    pub contact_id: &'a str,
    pub number: &'a str,
    pub period: &'a str,
    pub currency: &'a str,
    pub fee: i64,
    pub terms: &'a str,
    pub start_day: i64,
    pub renewal_day: Option<i64>,
    pub end_day: Option<i64>,
    pub read_before: Option<i64>,
}

/// A machine's place in a contract: from a day until a day (exclusive; `None` while it
/// stays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractMachine {
    pub contract_id: String,
    pub machine_id: String,
    pub slot: String,
    pub from_day: i64,
    pub to_day: Option<i64>,
}

/// A closed period and its invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedPeriod {
    pub contract_id: String,
    pub n: i64,
    pub from_day: i64,
    pub to_day: i64,
    /// The portal crate's `contracts::Calculation`, as JSON.
    pub calculation: String,
    pub invoice_id: Option<String>,
    pub closed_at: i64,
}

/// The invoice a closed period issues, numbered in the same transaction.
pub struct PeriodInvoice<'a> {
    pub invoice: NewInvoice<'a>,
    pub counter: &'a str,
    pub number: &'a (dyn Fn(u64) -> String + Sync),
}

pub(crate) const COLUMNS: &str = "id, company_id, contact_id, number, period, currency, fee, terms, start_day, renewal_day, end_day, read_before, document, created_at";
const PERIOD_COLUMNS: &str = "contract_id, n, from_day, to_day, calculation, invoice_id, closed_at";

pub(crate) fn contract(r: &AnyRow) -> Result<Contract> {
    Ok(Contract {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        contact_id: r.try_get("contact_id")?,
        number: r.try_get("number")?,
        period: r.try_get("period")?,
        currency: r.try_get("currency")?,
        fee: r.try_get("fee")?,
        terms: r.try_get("terms")?,
        start_day: r.try_get("start_day")?,
        renewal_day: r.try_get("renewal_day")?,
        end_day: r.try_get("end_day")?,
        read_before: r.try_get("read_before")?,
        document: r.try_get("document")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn attachment(r: &AnyRow) -> Result<ContractMachine> {
    Ok(ContractMachine {
        contract_id: r.try_get("contract_id")?,
        machine_id: r.try_get("machine_id")?,
        slot: r.try_get("slot")?,
        from_day: r.try_get("from_day")?,
        to_day: r.try_get("to_day")?,
    })
}

fn period(r: &AnyRow) -> Result<ClosedPeriod> {
    Ok(ClosedPeriod {
        contract_id: r.try_get("contract_id")?,
        n: r.try_get("n")?,
        from_day: r.try_get("from_day")?,
        to_day: r.try_get("to_day")?,
        calculation: r.try_get("calculation")?,
        invoice_id: r.try_get("invoice_id")?,
        closed_at: r.try_get("closed_at")?,
    })
}

impl Caller {
    /// Whether the caller works with a company's equipment: a coordinator with its
    /// companies', a technician with those of its machines and visits, everyone else of
    /// the desk with all of them.
    pub fn may_see_company(&self, company_id: &str) -> bool {
        match self.role {
            Role::Admin | Role::Supervisor | Role::Support => true,
            Role::Coordinator | Role::Technician => self.companies.iter().any(|c| c == company_id),
            Role::ClientUser | Role::ClientAdmin => false,
        }
    }
}

impl Store {
    /// Adds a contract: its company and contact must exist and belong together; a number
    /// names one contract of its company.
    pub async fn add_contract(&self, ids: &Ids, c: &NewContract<'_>) -> Result<Contract> {
        if c.number.trim().is_empty() {
            return Err(Error::invalid("a contract needs its number"));
        }
        if !matches!(c.period, "monthly" | "quarterly") {
            return Err(Error::invalid("a contract bills monthly or quarterly"));
        }
        if c.fee < 0 {
            return Err(Error::invalid("the fee must not be negative"));
        }
        if c.end_day.is_some_and(|e| e <= c.start_day) {
            return Err(Error::invalid("a contract ends after it starts"));
        }
        if c.read_before.is_some_and(|d| !(0..=60).contains(&d)) {
            return Err(Error::invalid(
                "readings are due 0 to 60 days before a period ends",
            ));
        }
        crate::money::Currency::parse(c.currency)?;
        let company: Option<Option<String>> = sqlx::query_scalar(
            "SELECT company_id FROM contacts WHERE id = $1 AND merged_into IS NULL",
        )
        .bind(c.contact_id)
        .fetch_optional(&self.pool)
        .await?;
        match company {
            None => return Err(Error::not_found(format!("contact {}", c.contact_id))),
            Some(found) if found.as_deref() != Some(c.company_id) => {
                return Err(Error::invalid(
                    "the contact is not of the contract's company",
                ));
            }
            Some(_) => {}
        }
        let id = ids.new_id();
        let now = ids.now_ms();
        let inserted = sqlx::query(
            "INSERT INTO contracts (id, company_id, contact_id, number, period, currency, fee, terms, start_day, renewal_day, end_day, read_before, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(&id)
        .bind(c.company_id)
        .bind(c.contact_id)
        .bind(c.number.trim())
        .bind(c.period)
        .bind(c.currency)
        .bind(c.fee)
        .bind(c.terms)
        .bind(c.start_day)
        .bind(c.renewal_day)
        .bind(c.end_day)
        .bind(c.read_before)
        .bind(now)
        .execute(&self.pool)
        .await;
        if let Err(e) = inserted {
            return Err(if super::is_unique_violation(&e) {
                Error::Conflict(format!("contract {} exists already", c.number.trim()))
            } else {
                e.into()
            });
        }
        self.contract(&id).await
    }

    /// A contract by id (the period job, workers); people read
    /// `contract_for_client_by_number` or `contract_for_agent`.
    pub async fn contract(&self, id: &str) -> Result<Contract> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM contracts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("contract {id}")))?;
        contract(&row)
    }

    /// A contract the agent may see; another is not found.
    pub async fn contract_for_agent(&self, caller: &Caller, id: &str) -> Result<Contract> {
        let c = self.contract(id).await?;
        if !caller.may_see_company(&c.company_id) {
            return Err(Error::not_found(format!("contract {id}")));
        }
        Ok(c)
    }

    /// The client's company's contracts, newest first.
    pub async fn contracts_for_client(&self, scope: &ClientScope) -> Result<Vec<Contract>> {
        let Some(company) = &scope.company_id else {
            return Ok(Vec::new());
        };
        self.company_contracts(company).await
    }

    /// A company's contracts for an agent who may see it (none otherwise).
    pub async fn contracts_for_agent(
        &self,
        caller: &Caller,
        company_id: &str,
    ) -> Result<Vec<Contract>> {
        if !caller.may_see_company(company_id) {
            return Ok(Vec::new());
        }
        self.company_contracts(company_id).await
    }

    async fn company_contracts(&self, company_id: &str) -> Result<Vec<Contract>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM contracts WHERE company_id = $1 ORDER BY start_day DESC, number"
        )))
        .bind(company_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contract).collect()
    }

    /// One of the client's company's contracts by its number (the portal's address).
    pub async fn contract_for_client_by_number(
        &self,
        scope: &ClientScope,
        number: &str,
    ) -> Result<Contract> {
        let hidden = || Error::not_found(format!("contract {number}"));
        let company = scope.company_id.as_deref().ok_or_else(hidden)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM contracts WHERE company_id = $1 AND number = $2"
        )))
        .bind(company)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(hidden)?;
        contract(&row)
    }

    /// Contracts by id, `limit` after `after` (the period job's pages).
    pub async fn contracts_after(&self, after: &str, limit: i64) -> Result<Vec<Contract>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM contracts WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(contract).collect()
    }

    /// Keeps the contract's PDF (an `Attachment`'s JSON).
    pub async fn set_contract_document(&self, id: &str, blob: &str) -> Result<()> {
        let done = sqlx::query("UPDATE contracts SET document = $1 WHERE id = $2")
            .bind(blob)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!("contract {id}")));
        }
        Ok(())
    }

    /// Puts a machine of the contract's company in a slot from a day. A machine serves
    /// one contract at a time; the machine in that slot until then leaves it that day (a
    /// swap).
    pub async fn attach_machine(
        &self,
        contract_id: &str,
        machine_id: &str,
        slot: &str,
        from_day: i64,
    ) -> Result<()> {
        let slot = slot.trim();
        if slot.is_empty() {
            return Err(Error::invalid("a machine needs its slot in the contract"));
        }
        let mut tx = self.begin_write().await?;
        let companies: Option<(String, String)> = sqlx::query_as(
            "SELECT c.company_id, m.company_id FROM contracts c, machines m WHERE c.id = $1 AND m.id = $2",
        )
        .bind(contract_id)
        .bind(machine_id)
        .fetch_optional(&mut **tx)
        .await?;
        match companies {
            None => {
                return Err(Error::not_found(format!(
                    "contract {contract_id} or machine {machine_id}"
                )));
            }
            Some((c, m)) if c != m => {
                return Err(Error::invalid(
                    "the machine is not of the contract's company",
                ));
            }
            Some(_) => {}
        }
        let serving: Option<String> = sqlx::query_scalar(
            "SELECT contract_id FROM contract_machines WHERE machine_id = $1 AND (to_day IS NULL OR to_day > $2)",
        )
        .bind(machine_id)
        .bind(from_day)
        .fetch_optional(&mut **tx)
        .await?;
        if serving.is_some() {
            return Err(Error::Conflict(
                "the machine serves a contract already on that day".into(),
            ));
        }
        sqlx::query(
            "UPDATE contract_machines SET to_day = $1 WHERE contract_id = $2 AND slot = $3 AND to_day IS NULL AND from_day < $1",
        )
        .bind(from_day)
        .bind(contract_id)
        .bind(slot)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO contract_machines (contract_id, machine_id, slot, from_day) VALUES ($1, $2, $3, $4)",
        )
        .bind(contract_id)
        .bind(machine_id)
        .bind(slot)
        .bind(from_day)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes a machine out of its contract from a day (it may be read that day).
    pub async fn detach_machine(
        &self,
        contract_id: &str,
        machine_id: &str,
        day: i64,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE contract_machines SET to_day = $1 WHERE contract_id = $2 AND machine_id = $3 AND to_day IS NULL AND from_day < $1",
        )
        .bind(day)
        .bind(contract_id)
        .bind(machine_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(format!(
                "machine {machine_id} serving contract {contract_id}"
            )));
        }
        Ok(())
    }

    /// The machines a contract covers and covered, by slot and day.
    pub async fn contract_machines(&self, contract_id: &str) -> Result<Vec<ContractMachine>> {
        let rows = sqlx::query(
            "SELECT contract_id, machine_id, slot, from_day, to_day FROM contract_machines WHERE contract_id = $1 ORDER BY slot, from_day",
        )
        .bind(contract_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attachment).collect()
    }

    /// The contract a machine serves on a day.
    pub async fn contract_of_machine(
        &self,
        machine_id: &str,
        day: i64,
    ) -> Result<Option<Contract>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM contracts c JOIN contract_machines cm ON cm.contract_id = c.id \
             WHERE cm.machine_id = $1 AND cm.from_day <= $2 AND (cm.to_day IS NULL OR cm.to_day > $2) LIMIT 1",
            COLUMNS
                .split(", ")
                .map(|c| format!("c.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .bind(machine_id)
        .bind(day)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(contract).transpose()
    }

    /// The contract's closed periods, newest first (the last `limit`).
    pub async fn contract_periods(
        &self,
        contract_id: &str,
        limit: i64,
    ) -> Result<Vec<ClosedPeriod>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS} FROM contract_periods WHERE contract_id = $1 ORDER BY n DESC LIMIT $2"
        )))
        .bind(contract_id)
        .bind(limit.clamp(1, 1_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(period).collect()
    }

    /// The readings of several machines up to a day, oldest first per machine (the
    /// period job: one query per contract).
    pub async fn readings_of_machines(
        &self,
        machine_ids: &[String],
        up_to_day: i64,
    ) -> Result<Vec<super::MeterReading>> {
        let mut out = Vec::new();
        for chunk in machine_ids.chunks(500) {
            let list = (0..chunk.len())
                .map(|i| format!("${}", i + 2))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM meter_readings WHERE day <= $1 AND machine_id IN ({list}) ORDER BY machine_id, day, created_at, id",
                super::equipment::READING_COLUMNS
            )))
            .bind(up_to_day);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(super::equipment::reading(&r)?);
            }
        }
        Ok(out)
    }

    /// The latest reading of each of these machines (the lists' "last reading"), in one
    /// query per 500 machines.
    pub async fn last_readings(&self, machine_ids: &[String]) -> Result<Vec<super::MeterReading>> {
        let mut out = Vec::new();
        for chunk in machine_ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM meter_readings r WHERE machine_id IN ({list}) AND NOT EXISTS \
                 (SELECT 1 FROM meter_readings n WHERE n.machine_id = r.machine_id AND \
                  (n.day > r.day OR (n.day = r.day AND (n.created_at > r.created_at OR (n.created_at = r.created_at AND n.id > r.id)))))",
                super::equipment::READING_COLUMNS
            )));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.push(super::equipment::reading(&r)?);
            }
        }
        Ok(out)
    }

    /// Closes period `n` of a contract with its calculation and, when it bills anything,
    /// its invoice: all in one transaction. `None` when the period was closed already
    /// (by this job before, or by another node now): nothing is written.
    pub async fn close_period(
        &self,
        ids: &Ids,
        closed: &ClosedPeriod,
        invoice: Option<&PeriodInvoice<'_>>,
    ) -> Result<Option<ClosedPeriod>> {
        if closed.to_day <= closed.from_day {
            return Err(Error::invalid("a period ends after it starts"));
        }
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO contract_periods (contract_id, n, from_day, to_day, calculation, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (contract_id, n) DO NOTHING",
        )
        .bind(&closed.contract_id)
        .bind(closed.n)
        .bind(closed.from_day)
        .bind(closed.to_day)
        .bind(&closed.calculation)
        .bind(ids.now_ms())
        .execute(&mut **tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(p) = invoice {
            let id = insert_invoice(&mut tx, ids, &p.invoice, p.counter, p.number).await?;
            sqlx::query(
                "UPDATE contract_periods SET invoice_id = $1 WHERE contract_id = $2 AND n = $3",
            )
            .bind(&id)
            .bind(&closed.contract_id)
            .bind(closed.n)
            .execute(&mut **tx)
            .await?;
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS} FROM contract_periods WHERE contract_id = $1 AND n = $2"
        )))
        .bind(&closed.contract_id)
        .bind(closed.n)
        .fetch_one(&mut **tx)
        .await?;
        let stored = period(&row)?;
        tx.commit().await?;
        Ok(Some(stored))
    }
}
