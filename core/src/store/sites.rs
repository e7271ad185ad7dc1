//! A company's sites (its addresses, with coordinates entered or imported) and which
//! site each machine stands at. A site is one company's: a machine is only ever placed at
//! a site of its own company, and clients and agents read only the sites they may see.

use sqlx::{AssertSqlSafe, Row, any::AnyRow};

use super::{Caller, ClientScope, Store};
use crate::clock::Ids;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Site {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub address: Option<String>,
    /// Millionths of a degree.
    pub lat_e6: Option<i64>,
    pub lon_e6: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewSite<'a> {
    pub company_id: &'a str,
    pub name: &'a str,
    pub address: Option<&'a str>,
    /// `(latitude, longitude)` in millionths of a degree, checked by the caller
    /// (`portal::geo::parse_point`) and again here.
    pub point: Option<(i64, i64)>,
}

const COLUMNS: &str = "id, company_id, name, address, lat_e6, lon_e6, created_at";

fn site(r: &AnyRow) -> Result<Site> {
    Ok(Site {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        lat_e6: r.try_get("lat_e6")?,
        lon_e6: r.try_get("lon_e6")?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    /// Adds sites (one, or an import's): all of them or none. A name is one site per
    /// company; a second is a conflict that names it.
    pub async fn add_sites(&self, ids: &Ids, list: &[NewSite<'_>]) -> Result<Vec<Site>> {
        for s in list {
            if s.name.trim().is_empty() {
                return Err(Error::invalid("every site needs its name"));
            }
            if let Some((lat, lon)) = s.point
                && (lat.abs() > 90_000_000 || lon.abs() > 180_000_000)
            {
                return Err(Error::invalid(format!(
                    "site {}: coordinates out of range",
                    s.name.trim()
                )));
            }
        }
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        let mut made = Vec::with_capacity(list.len());
        for s in list {
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM companies WHERE id = $1")
                    .bind(s.company_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found(format!("company {}", s.company_id)));
            }
            let site = Site {
                id: ids.new_id(),
                company_id: s.company_id.to_owned(),
                name: s.name.trim().to_owned(),
                address: s
                    .address
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
                lat_e6: s.point.map(|p| p.0),
                lon_e6: s.point.map(|p| p.1),
                created_at: now,
            };
            let inserted = sqlx::query(
                "INSERT INTO sites (id, company_id, name, address, lat_e6, lon_e6, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(&site.id)
            .bind(&site.company_id)
            .bind(&site.name)
            .bind(&site.address)
            .bind(site.lat_e6)
            .bind(site.lon_e6)
            .bind(now)
            .execute(&mut **tx)
            .await;
            if let Err(e) = inserted {
                return Err(if super::is_unique_violation(&e) {
                    Error::Conflict(format!(
                        "the company has a site named {} already",
                        site.name
                    ))
                } else {
                    e.into()
                });
            }
            made.push(site);
        }
        tx.commit().await?;
        Ok(made)
    }

    pub async fn site(&self, id: &str) -> Result<Site> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("site {id}")))?;
        site(&row)
    }

    async fn company_sites(&self, company_id: &str) -> Result<Vec<Site>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sites WHERE company_id = $1 ORDER BY name, id"
        )))
        .bind(company_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(site).collect()
    }

    /// The client's company's sites, by name; none without a company.
    pub async fn sites_for_client(&self, scope: &ClientScope) -> Result<Vec<Site>> {
        match &scope.company_id {
            Some(c) => self.company_sites(c).await,
            None => Ok(Vec::new()),
        }
    }

    /// A company's sites for an agent who may see the company (none otherwise).
    pub async fn sites_for_agent(&self, caller: &Caller, company_id: &str) -> Result<Vec<Site>> {
        if !caller.may_see_company(company_id) {
            return Ok(Vec::new());
        }
        self.company_sites(company_id).await
    }

    /// Places a machine at one of its own company's sites, or at none. A site of another
    /// company is not found, as one that does not exist, and nothing changes.
    pub async fn set_machine_site(
        &self,
        ids: &Ids,
        machine_id: &str,
        site_id: Option<&str>,
    ) -> Result<()> {
        let changed = match site_id {
            Some(site) => {
                sqlx::query(
                    "UPDATE machines SET site_id = $1, updated_at = $3 WHERE id = $2 AND EXISTS \
                     (SELECT 1 FROM sites s WHERE s.id = $1 AND s.company_id = machines.company_id)",
                )
                .bind(site)
                .bind(machine_id)
                .bind(ids.now_ms())
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query("UPDATE machines SET site_id = NULL, updated_at = $2 WHERE id = $1")
                    .bind(machine_id)
                    .bind(ids.now_ms())
                    .execute(&self.pool)
                    .await?
            }
        };
        if changed.rows_affected() == 0 {
            return Err(Error::not_found(match site_id {
                Some(s) => format!("site {s} of machine {machine_id}'s company"),
                None => format!("machine {machine_id}"),
            }));
        }
        Ok(())
    }
}
