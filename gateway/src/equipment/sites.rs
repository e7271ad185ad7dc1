//! A company's sites through the API (`/api/v1/sites`): entered one by one or imported
//! from a spreadsheet (all rows or none, each bad row named), read within the caller's
//! companies, and a machine placed at a site of its own company.
//!
//! Tests: e2e `equipment::sites_are_imported_whole_and_mapped_for_their_company_only`,
//! conformance `sites`, and the sweep `inbox::every_route_keeps_to_the_callers_scope_*`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::domain::Role;
use switchboard_core::store::{NewSite, Site};
use switchboard_portal::geo::{degrees, parse_point, read_sites_csv};

use crate::kit::AppState;
use crate::kit::api::{Agent, body, require};
use crate::kit::error::ApiError;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

/// A coordinate as JSON: a number of degrees exactly as stored.
fn coordinate(e6: Option<i64>) -> Value {
    e6.map_or(Value::Null, |v| {
        degrees(v)
            .parse::<serde_json::Number>()
            .map_or(Value::Null, Value::Number)
    })
}

pub fn site_json(s: &Site) -> Value {
    json!({
        "id": s.id,
        "company_id": s.company_id,
        "name": s.name,
        "address": s.address,
        "latitude": coordinate(s.lat_e6),
        "longitude": coordinate(s.lon_e6),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SitesQuery {
    company_id: String,
}

/// `GET /api/v1/sites?company_id=`: a company's sites, if the caller may see it.
pub async fn list(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    q: Result<Query<SitesQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let sites = state.store.sites_for_agent(&caller, &q.company_id).await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "sites": sites.iter().map(site_json).collect::<Vec<_>>() })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteBody {
    company_id: String,
    name: String,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    latitude: Option<Value>,
    #[serde(default)]
    longitude: Option<Value>,
}

/// A coordinate sent as a JSON number or as text (`"-23,5614"`).
fn typed(v: Option<&Value>, field: &str) -> Result<String, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::Invalid(format!(
            "{field}: a number of degrees like -23.561414"
        ))),
    }
}

/// `POST /api/v1/sites`: one site of a company (an admin's).
pub async fn create(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<SiteBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let b = body(b)?;
    let point = parse_point(
        &typed(b.latitude.as_ref(), "latitude")?,
        &typed(b.longitude.as_ref(), "longitude")?,
    )
    .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let made = state
        .store
        .add_sites(
            &state.ids,
            &[NewSite {
                company_id: &b.company_id,
                name: &b.name,
                address: b.address.as_deref(),
                point,
            }],
        )
        .await?;
    let site = made
        .first()
        .ok_or_else(|| ApiError::Invalid("no site was added".into()))?;
    Ok((StatusCode::CREATED, Json(site_json(site))))
}

/// `POST /api/v1/sites/import`: a sites file (CSV: `company_id`, `name`, `address`,
/// `latitude`, `longitude`; commas or semicolons), all rows or none.
pub async fn import(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    text: axum::body::Bytes,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let text = std::str::from_utf8(&text)
        .map_err(|_| ApiError::Invalid("the file is not UTF-8 text".into()))?;
    let rows = read_sites_csv(text).map_err(|p| ApiError::Invalid(p.join("; ")))?;
    let mut missing = Vec::new();
    for r in &rows {
        if !missing.contains(&r.company_id)
            && state.store.company_name(&r.company_id).await?.is_none()
        {
            missing.push(r.company_id.clone());
        }
    }
    let problems: Vec<String> = rows
        .iter()
        .filter(|r| missing.contains(&r.company_id))
        .map(|r| format!("row {}: no company {}", r.row, r.company_id))
        .collect();
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems.join("; ")));
    }
    let list: Vec<NewSite> = rows
        .iter()
        .map(|r| NewSite {
            company_id: &r.company_id,
            name: &r.name,
            address: r.address.as_deref(),
            point: r.point,
        })
        .collect();
    let made = state.store.add_sites(&state.ids, &list).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "imported": made.len(), "sites": made.iter().map(site_json).collect::<Vec<_>>() }),
        ),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSiteBody {
    site_id: Option<String>,
}

/// `POST /api/v1/machines/{machine}/site`: where the machine stands (`null`: no site).
pub async fn machine_site(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<MachineSiteBody>, JsonRejection>,
) -> Reply {
    // Out of scope first: another company's machine is "not found" to everyone.
    let m = state.store.machine_for_agent(&caller, &id).await?;
    require(user.role, &[Role::Admin, Role::Coordinator, Role::Support])?;
    let b = body(b)?;
    state
        .store
        .set_machine_site(&state.ids, &m.id, b.site_id.as_deref())
        .await?;
    let m = state.store.machine(&m.id).await?;
    Ok((StatusCode::OK, Json(super::api::machine_json(&m))))
}
