//! The supervisor board's rows beside the conversations: machines down, overdue
//! invoices, and what the readings-missing count needs (the client-read contracts in
//! force, the machines serving them, their last readings), within the caller's
//! companies: everything for admins and supervisors, a coordinator's own companies, and
//! nothing for anyone else.

use sqlx::{AssertSqlSafe, Row};

use super::{Caller, Contract, ContractMachine, Invoice, Machine, MeterReading, Store};
use crate::domain::Role;
use crate::error::{Error, Result};

/// What the board reads beside the conversations.
#[derive(Debug, Clone, Default)]
pub struct BoardRows {
    /// Machines down, the longest-known first (at most 200).
    pub machines_down: Vec<Machine>,
    /// Invoices past their due day and not paid in full, the oldest first (at most 500).
    pub overdue: Vec<Invoice>,
    /// Contracts in force today whose client reads the counters.
    pub contracts: Vec<Contract>,
    /// The machines those contracts cover today.
    pub serving: Vec<ContractMachine>,
    /// Those machines, for their names.
    pub machines: Vec<Machine>,
    /// Their latest readings.
    pub last: Vec<MeterReading>,
    /// `(id, name)` of every company named above.
    pub companies: Vec<(String, String)>,
}

/// `company_id IN (...)` for the caller, binds from `$first`; `None` when the caller may
/// not read the board.
fn company_condition(caller: &Caller, first: usize) -> Option<(String, Vec<String>)> {
    match caller.role {
        Role::Admin | Role::Supervisor => Some(("1 = 1".into(), Vec::new())),
        Role::Coordinator if caller.companies.is_empty() => Some(("1 = 0".into(), Vec::new())),
        Role::Coordinator => {
            let list = (first..first + caller.companies.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            Some((format!("company_id IN ({list})"), caller.companies.clone()))
        }
        _ => None,
    }
}

impl Store {
    /// The board's rows for `today` (a day number), within the caller's companies.
    pub async fn board_rows(&self, caller: &Caller, today: i64) -> Result<BoardRows> {
        let Some((scope, binds)) = company_condition(caller, 2) else {
            return Err(Error::forbidden(
                "the board is for admins, supervisors and coordinators",
            ));
        };
        let query = |sql: String| {
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(today);
            for b in &binds {
                q = q.bind(b.clone());
            }
            q
        };
        let mut out = BoardRows::default();
        // $1 is bound everywhere; a condition that needs no day says so.
        for r in query(format!(
            "SELECT {} FROM machines WHERE status = 'down' AND $1 = $1 AND {scope} ORDER BY created_at, id LIMIT 200",
            super::equipment::MACHINE_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.machines_down.push(super::equipment::machine(&r)?);
        }
        for r in query(format!(
            "SELECT {} FROM invoices WHERE kind = 'invoice' AND status NOT IN ('void', 'draft') \
             AND paid < total AND due_day IS NOT NULL AND due_day < $1 AND {scope} ORDER BY due_day, id LIMIT 500",
            super::billing::LIST_COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.overdue.push(super::billing::invoice(&r)?);
        }
        for r in query(format!(
            "SELECT {} FROM contracts WHERE read_before IS NOT NULL AND start_day <= $1 \
             AND (end_day IS NULL OR end_day > $1) AND {scope} ORDER BY company_id, number LIMIT 2000",
            super::contracts::COLUMNS
        ))
        .fetch_all(&self.pool)
        .await?
        {
            out.contracts.push(super::contracts::contract(&r)?);
        }
        let ids: Vec<String> = out.contracts.iter().map(|c| c.id.clone()).collect();
        for chunk in ids.chunks(500) {
            let list = (2..chunk.len() + 2)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT contract_id, machine_id, slot, from_day, to_day FROM contract_machines \
                 WHERE from_day <= $1 AND (to_day IS NULL OR to_day > $1) AND contract_id IN ({list}) \
                 ORDER BY contract_id, slot"
            )))
            .bind(today);
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.serving.push(super::contracts::attachment(&r)?);
            }
        }
        let machine_ids: Vec<String> = out.serving.iter().map(|s| s.machine_id.clone()).collect();
        for chunk in machine_ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT {} FROM machines WHERE id IN ({list})",
                super::equipment::MACHINE_COLUMNS
            )));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.machines.push(super::equipment::machine(&r)?);
            }
        }
        out.last = self.last_readings(&machine_ids).await?;
        let mut company_ids: Vec<String> = out
            .machines_down
            .iter()
            .map(|m| m.company_id.clone())
            .chain(out.overdue.iter().filter_map(|i| i.company_id.clone()))
            .chain(out.contracts.iter().map(|c| c.company_id.clone()))
            .collect();
        company_ids.sort();
        company_ids.dedup();
        for chunk in company_ids.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "SELECT id, name FROM companies WHERE id IN ({list})"
            )));
            for id in chunk {
                q = q.bind(id);
            }
            for r in q.fetch_all(&self.pool).await? {
                out.companies.push((r.try_get(0)?, r.try_get(1)?));
            }
        }
        Ok(out)
    }
}
