//! The equipment API (`/api/v1/machines`, `/contracts`): an ERP pushes its fleet and
//! contracts, a field tool enters readings, and the desk reads a machine with its readings
//! and contract. Reads follow the caller's companies (`Caller::may_see_company`); a machine
//! or contract outside them is "not found". Writes of the fleet and contracts are an
//! admin's; readings may be entered by anyone who writes (not supervisors).
//!
//! Bad input is refused with the field named and nothing stored; an import is checked row
//! by row against the file and the database before anything is made, and refused whole
//! with every bad row named.
//!
//! Tests: e2e `equipment::the_api_imports_a_fleet_whole_or_not_at_all_and_bills_its_periods_once`,
//! the sweeps in `inbox::every_route_keeps_to_the_callers_scope_*` and
//! `trust::every_portal_route_keeps_to_the_clients_company`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::domain::Role;
use switchboard_core::store::{
    Contract, Machine, MeterReading, NewContract, NewMachine, NewReading, ReadingOutcome,
};
use switchboard_portal::locale::{iso_date, parse_date};
use switchboard_portal::overage::Terms;
use switchboard_portal::readings::{Counter, parse_count};

use crate::kit::AppState;
use crate::kit::api::{Agent, body, require};
use crate::kit::billing::today;
use crate::kit::equipment::{close_now, record};
use crate::kit::error::ApiError;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

pub fn machine_json(m: &Machine) -> Value {
    json!({
        "id": m.id,
        "company_id": m.company_id,
        "location": m.location,
        "maker": m.maker,
        "model": m.model,
        "serial": m.serial,
        "asset_tag": m.asset_tag,
        "installed_on": m.installed_on.map(iso_date),
        "status": m.status,
        "technician_id": m.technician_id,
        "site_id": m.site_id,
    })
}

pub fn reading_json(r: &MeterReading) -> Value {
    json!({
        "id": r.id,
        "machine_id": r.machine_id,
        "date": iso_date(r.day),
        "mono": r.mono,
        "colour": r.colour,
        "scans": r.scans,
        "source": r.source,
        "photo": r.photo.is_some(),
    })
}

fn contract_json(c: &Contract) -> Value {
    json!({
        "id": c.id,
        "company_id": c.company_id,
        "contact_id": c.contact_id,
        "number": c.number,
        "period": c.period,
        "currency": c.currency,
        "fee": c.fee,
        "terms": serde_json::from_str::<Value>(&c.terms).unwrap_or(Value::Null),
        "start_date": iso_date(c.start_day),
        "renewal_date": c.renewal_day.map(iso_date),
        "end_date": c.end_day.map(iso_date),
        "read_before": c.read_before,
        "document": c.document.is_some(),
    })
}

fn slot_json(s: &switchboard_core::store::ContractMachine) -> Value {
    json!({
        "machine_id": s.machine_id,
        "slot": s.slot,
        "from_date": iso_date(s.from_day),
        "to_date": s.to_day.map(iso_date),
    })
}

fn date_field(field: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| {
            parse_date(s).ok_or_else(|| {
                ApiError::Invalid(format!("{field}: {s:?} is not a date like 2026-11-23"))
            })
        })
        .transpose()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    company_id: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/machines`: the machines the caller may see.
pub async fn list(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let machines = state
        .store
        .machines_for_agent(&caller, q.company_id.as_deref(), q.limit.unwrap_or(500))
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "machines": machines.iter().map(machine_json).collect::<Vec<_>>() })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineBody {
    company_id: String,
    model: String,
    serial: String,
    #[serde(default)]
    maker: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    asset_tag: Option<String>,
    #[serde(default)]
    installed_on: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `POST /api/v1/machines`: one machine.
pub async fn create(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<MachineBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let m = body(b)?;
    let installed_on = date_field("installed_on", m.installed_on.as_deref())?;
    let made = state
        .store
        .add_machine(
            &state.ids,
            &NewMachine {
                company_id: &m.company_id,
                location: m.location.as_deref(),
                maker: m.maker.as_deref(),
                model: &m.model,
                serial: &m.serial,
                asset_tag: m.asset_tag.as_deref(),
                installed_on,
                status: m.status.as_deref().unwrap_or("in_service"),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(machine_json(&made))))
}

/// `POST /api/v1/machines/import`: a CSV file (`portal::machines::read_csv`'s columns).
/// Every row is checked, companies and serials already stored included, before any
/// machine is made; a file with a bad row is refused whole, each row's problem named.
pub async fn import(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    body: axum::body::Bytes,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Invalid("the file is not UTF-8 text".into()))?;
    let made = import_text(&state, text).await?;
    Ok((StatusCode::CREATED, Json(json!({ "imported": made }))))
}

/// Imports a machine file whole or not at all: `Invalid` names every bad row.
pub async fn import_text(state: &AppState, text: &str) -> Result<usize, ApiError> {
    let rows = switchboard_portal::machines::read_csv(text)
        .map_err(|problems| ApiError::Invalid(problems.join("; ")))?;
    let mut problems = Vec::new();
    let mut companies: Vec<&str> = rows.iter().map(|r| r.company_id.as_str()).collect();
    companies.sort_unstable();
    companies.dedup();
    let mut missing = Vec::new();
    for c in companies {
        if state.store.company_name(c).await?.is_none() {
            missing.push(c);
        }
    }
    let serials: Vec<String> = rows.iter().map(|r| r.serial.clone()).collect();
    let taken = state.store.taken_serials(&serials).await?;
    for r in &rows {
        if missing.contains(&r.company_id.as_str()) {
            problems.push(format!("row {}: no company {}", r.row, r.company_id));
        }
        if taken.iter().any(|t| t == r.serial.trim()) {
            problems.push(format!(
                "row {}: serial {} is stored already",
                r.row, r.serial
            ));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems.join("; ")));
    }
    let list: Vec<NewMachine> = rows
        .iter()
        .map(|r| NewMachine {
            company_id: &r.company_id,
            location: r.location.as_deref(),
            maker: r.maker.as_deref(),
            model: &r.model,
            serial: &r.serial,
            asset_tag: r.asset_tag.as_deref(),
            installed_on: r.installed_on,
            status: &r.status,
        })
        .collect();
    Ok(state.store.add_machines(&state.ids, &list).await?.len())
}

/// `GET /api/v1/machines/{machine}`: the machine, its last readings and its contract.
pub async fn show(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
) -> Reply {
    let m = state.store.machine_for_agent(&caller, &id).await?;
    let readings = state.store.meter_readings(&m.id, 24).await?;
    let contract = state
        .store
        .contract_of_machine(&m.id, today(&state))
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({
            "machine": machine_json(&m),
            "readings": readings.iter().map(reading_json).collect::<Vec<_>>(),
            "contract": contract.as_ref().map(contract_json),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingBody {
    #[serde(default)]
    mono: Option<Value>,
    #[serde(default)]
    colour: Option<Value>,
    #[serde(default)]
    scans: Option<Value>,
    /// `YYYY-MM-DD`; today when left out.
    #[serde(default)]
    date: Option<String>,
    /// The submission's key: sending it again stores nothing new.
    key: String,
    #[serde(default)]
    confirmed: bool,
}

/// A counter given as a number or as typed text.
fn counter(v: &Option<Value>, c: Counter) -> Result<Option<i64>, ApiError> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "{}: {other} is not a count",
                c.as_str()
            )));
        }
    };
    parse_count(&text, c).map(Some).map_err(|e| {
        ApiError::Invalid(format!(
            "{}: {}",
            c.as_str(),
            crate::kit::machines::reading_error(&e, switchboard_portal::locale::Lang::En)
        ))
    })
}

/// `POST /api/v1/machines/{machine}/readings`: a reading entered by the desk. 201 when
/// stored, 200 when this submission (or these counts today) was stored before, 409 with
/// `confirm` when it needs confirming.
pub async fn add_reading(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<ReadingBody>, JsonRejection>,
) -> Reply {
    require(user.role, WRITERS)?;
    let m = state.store.machine_for_agent(&caller, &id).await?;
    let r = body(b)?;
    let day = date_field("date", r.date.as_deref())?.unwrap_or_else(|| today(&state));
    if day > today(&state) {
        return Err(ApiError::Invalid("date: it is in the future".into()));
    }
    let key = format!("agent:{}", r.key.trim());
    let new = NewReading {
        machine_id: &m.id,
        day,
        mono: counter(&r.mono, Counter::Mono)?,
        colour: counter(&r.colour, Counter::Colour)?,
        scans: counter(&r.scans, Counter::Scans)?,
        source: "agent",
        user_id: Some(&user.id),
        photo: None,
        key: &key,
        confirmed: r.confirmed,
    };
    match record(&state, &new, switchboard_portal::locale::Lang::En).await? {
        ReadingOutcome::Stored(r) => Ok((StatusCode::CREATED, Json(reading_json(&r)))),
        ReadingOutcome::Duplicate(r) => Ok((StatusCode::OK, Json(reading_json(&r)))),
        ReadingOutcome::Confirm(asks) => Err(ApiError::Conflict(format!(
            "confirm: {} (send again with confirmed: true)",
            asks.join("; ")
        ))),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    machine_id: String,
    slot: String,
    #[serde(default)]
    from_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractBody {
    company_id: String,
    contact_id: String,
    number: String,
    period: String,
    currency: String,
    fee: i64,
    terms: Terms,
    start_date: String,
    #[serde(default)]
    renewal_date: Option<String>,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    read_before: Option<i64>,
    #[serde(default)]
    machines: Vec<Slot>,
}

/// `POST /api/v1/contracts`: a contract with its machines. The terms are checked by the
/// overage rules before anything is stored.
pub async fn create_contract(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<ContractBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = body(b)?;
    switchboard_portal::overage::overage(&c.terms, &[])
        .map_err(|e| ApiError::Invalid(format!("terms: {e}")))?;
    let start = date_field("start_date", Some(&c.start_date))?
        .ok_or_else(|| ApiError::Invalid("start_date: it is empty".into()))?;
    let renewal = date_field("renewal_date", c.renewal_date.as_deref())?;
    let end = date_field("end_date", c.end_date.as_deref())?;
    let mut slots = Vec::with_capacity(c.machines.len());
    for s in &c.machines {
        let m = state
            .store
            .machine(&s.machine_id)
            .await
            .map_err(|_| ApiError::Invalid(format!("machines: no machine {}", s.machine_id)))?;
        if m.company_id != c.company_id {
            return Err(ApiError::Invalid(format!(
                "machines: {} is not of the contract's company",
                m.serial
            )));
        }
        let from = date_field("from_date", s.from_date.as_deref())?.unwrap_or(start);
        slots.push((s, from));
    }
    let terms = serde_json::to_string(&c.terms).map_err(switchboard_core::Error::from)?;
    let made = state
        .store
        .add_contract(
            &state.ids,
            &NewContract {
                company_id: &c.company_id,
                contact_id: &c.contact_id,
                number: &c.number,
                period: &c.period,
                currency: &c.currency.trim().to_ascii_uppercase(),
                fee: c.fee,
                terms: &terms,
                start_day: start,
                renewal_day: renewal,
                end_day: end,
                read_before: c.read_before,
            },
        )
        .await?;
    for (s, from) in slots {
        state
            .store
            .attach_machine(&made.id, &s.machine_id, &s.slot, from)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(contract_json(&made))))
}

/// `GET /api/v1/contracts/{contract}`: the contract, its machines and closed periods.
pub async fn show_contract(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
) -> Reply {
    let c = state.store.contract_for_agent(&caller, &id).await?;
    let slots = state.store.contract_machines(&c.id).await?;
    let periods = state.store.contract_periods(&c.id, 60).await?;
    Ok((
        StatusCode::OK,
        Json(json!({
            "contract": contract_json(&c),
            "machines": slots.iter().map(slot_json).collect::<Vec<_>>(),
            "periods": periods.iter().map(|p| json!({
                "n": p.n,
                "from_date": iso_date(p.from_day),
                "to_date": iso_date(p.to_day - 1),
                "invoice_id": p.invoice_id,
                "calculation": serde_json::from_str::<Value>(&p.calculation).unwrap_or(Value::Null),
            })).collect::<Vec<_>>(),
        })),
    ))
}

/// `POST /api/v1/contracts/{contract}/machines`: a machine into a slot from a day; the
/// machine in that slot until then leaves it (a swap).
pub async fn attach(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<Slot>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = state.store.contract_for_agent(&caller, &id).await?;
    let s = body(b)?;
    let from = date_field("from_date", s.from_date.as_deref())?.unwrap_or_else(|| today(&state));
    state
        .store
        .attach_machine(&c.id, &s.machine_id, &s.slot, from)
        .await?;
    let slots = state.store.contract_machines(&c.id).await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "machines": slots.iter().map(slot_json).collect::<Vec<_>>() })),
    ))
}

/// `POST /api/v1/contracts/{contract}/document`: the contract's PDF (the body).
pub async fn document(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = state.store.contract_for_agent(&caller, &id).await?;
    if !body.starts_with(b"%PDF-") {
        return Err(ApiError::UnsupportedType(
            "the contract's document is a PDF file".into(),
        ));
    }
    let name = format!("{}.pdf", c.number);
    let a = crate::kit::uploads::store_file(&state, &body[..], 25 * 1024 * 1024, &name).await?;
    let json = serde_json::to_string(&a).map_err(switchboard_core::Error::from)?;
    state.store.set_contract_document(&c.id, &json).await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "document": true, "size": a.size })),
    ))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// Close as of this day; default today.
    #[serde(default)]
    today: Option<String>,
}

/// `POST /api/v1/contracts/close`: runs the period job now (it runs hourly anyway); each
/// period is billed once however often it runs.
pub async fn close(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<CloseBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = body(b)?;
    let day = date_field("today", c.today.as_deref())?.unwrap_or_else(|| today(&state));
    let report = close_now(&state, day).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(report).map_err(switchboard_core::Error::from)?),
    ))
}

/// `POST /api/v1/contracts/remind`: reminds clients whose readings are due (as of
/// `today`), each contract's period once.
pub async fn remind(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<CloseBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = body(b)?;
    let day = date_field("today", c.today.as_deref())?.unwrap_or_else(|| today(&state));
    let report = crate::kit::reminders::remind_readings(&state, day).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(report).map_err(switchboard_core::Error::from)?),
    ))
}

fn visit_json(v: &switchboard_core::store::Visit) -> Value {
    let iso = |ms: Option<i64>| ms.map(crate::kit::view::iso);
    json!({
        "id": v.id,
        "number": v.number,
        "machine_id": v.machine_id,
        "company_id": v.company_id,
        "conversation_id": v.conversation_id,
        "technician_id": v.technician_id,
        "technician": v.technician,
        "status": v.status,
        "window_from": crate::kit::view::iso(v.window_from),
        "window_to": crate::kit::view::iso(v.window_to),
        "arrived_at": iso(v.arrived_at),
        "done_at": iso(v.done_at),
        "work_done": v.work_done,
        "parts": serde_json::from_str::<Value>(&v.parts).unwrap_or(Value::Null),
        "signed_by": v.signed_by,
        "machine_status": v.machine_status,
        "report": v.status == "done",
        "version": v.version,
    })
}

/// Who may book and take visits on: everyone who writes (not supervisors).
const WRITERS: &[Role] = &[
    Role::Admin,
    Role::Coordinator,
    Role::Support,
    Role::Technician,
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitListQuery {
    technician_id: Option<String>,
    machine_id: Option<String>,
    #[serde(default)]
    open: bool,
    limit: Option<i64>,
}

/// `GET /api/v1/visits`: the visits the caller may see (`technician_id=me` for its own).
pub async fn visits(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    q: Result<Query<VisitListQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let technician = q
        .technician_id
        .as_deref()
        .map(|t| if t == "me" { user.id.as_str() } else { t });
    let list = state
        .store
        .visits_for_agent(
            &caller,
            &switchboard_core::store::VisitQuery {
                technician_id: technician,
                machine_id: q.machine_id.as_deref(),
                open: q.open,
                limit: q.limit.unwrap_or(200),
            },
        )
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "visits": list.iter().map(visit_json).collect::<Vec<_>>() })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    machine_id: String,
    technician_id: String,
    date: String,
    from: String,
    to: String,
    /// The request it answers: a conversation of the machine's company.
    #[serde(default)]
    conversation_id: Option<String>,
    key: String,
}

/// `POST /api/v1/visits`: books a visit (201; 200 when this key booked it before).
pub async fn book_visit(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    b: Result<Json<BookBody>, JsonRejection>,
) -> Reply {
    require(user.role, WRITERS)?;
    let b = body(b)?;
    let m = state
        .store
        .machine_for_agent(&caller, &b.machine_id)
        .await?;
    let booking = crate::kit::visits::Booking {
        technician_id: b.technician_id,
        date: b.date,
        from: b.from,
        to: b.to,
        conversation_id: b.conversation_id,
        key: b.key,
    };
    let (v, fresh) = crate::kit::visits::book(
        &state,
        &user.id,
        &m,
        &booking,
        switchboard_portal::locale::Lang::En,
    )
    .await?;
    let status = if fresh {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(visit_json(&v))))
}

/// `GET /api/v1/visits/{visit}`.
pub async fn show_visit(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
) -> Reply {
    let v = state.store.visit_for_agent(&caller, &id).await?;
    Ok((StatusCode::OK, Json(visit_json(&v))))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StepBody {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    technician_id: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    work_done: Option<String>,
    /// One part a line (`2x toner black`), or a list of `{name, quantity}`.
    #[serde(default)]
    parts: Option<Value>,
    #[serde(default)]
    signed_by: Option<String>,
    #[serde(default)]
    machine_status: Option<String>,
}

async fn visit_step(
    state: AppState,
    user: switchboard_core::domain::User,
    caller: switchboard_core::store::Caller,
    id: String,
    b: Result<Json<StepBody>, JsonRejection>,
    step: switchboard_portal::visits::Step,
) -> Reply {
    require(user.role, WRITERS)?;
    let v = state.store.visit_for_agent(&caller, &id).await?;
    let b = match b {
        Ok(Json(b)) => b,
        // An empty body is a step with nothing to say (arrive, cancel).
        Err(JsonRejection::MissingJsonContentType(_)) => StepBody::default(),
        Err(e) => return Err(e.into()),
    };
    let parts = match b.parts {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(Value::Array(list)) => {
            let mut lines = Vec::with_capacity(list.len());
            for p in list {
                let name = p["name"].as_str().unwrap_or_default();
                let quantity = p["quantity"].as_u64().unwrap_or(1);
                lines.push(format!("{quantity}x {name}"));
            }
            lines.join("\n")
        }
        Some(_) => {
            return Err(ApiError::Invalid(
                "parts: one a line, or a list of {name, quantity}".into(),
            ));
        }
    };
    let form = crate::kit::visits::StepForm {
        version: b.version,
        technician_id: b.technician_id.unwrap_or_default(),
        date: b.date.unwrap_or_default(),
        from: b.from.unwrap_or_default(),
        to: b.to.unwrap_or_default(),
        work_done: b.work_done.unwrap_or_default(),
        parts,
        signed_by: b.signed_by.unwrap_or_default(),
        machine_status: b.machine_status.unwrap_or_default(),
    };
    let changed = crate::kit::visits::step(
        &state,
        &v,
        step,
        &form,
        switchboard_portal::locale::Lang::En,
    )
    .await?;
    Ok((StatusCode::OK, Json(visit_json(&changed))))
}

/// One handler per step, each its own route (and entry in the API's document).
macro_rules! step_routes {
    ($($name:ident => $step:ident, $doc:literal;)+) => {$(
        #[doc = $doc]
        pub async fn $name(
            State(state): State<AppState>,
            Agent(user, caller): Agent,
            Path(id): Path<String>,
            b: Result<Json<StepBody>, JsonRejection>,
        ) -> Reply {
            visit_step(state, user, caller, id, b, switchboard_portal::visits::Step::$step).await
        }
    )+};
}

step_routes! {
    visit_arrive => Arrive, "`POST /api/v1/visits/{visit}/arrive`.";
    visit_complete => Complete, "`POST /api/v1/visits/{visit}/complete`.";
    visit_cancel => Cancel, "`POST /api/v1/visits/{visit}/cancel`.";
    visit_move => Reschedule, "`POST /api/v1/visits/{visit}/move`.";
}

/// `GET /api/v1/visits/{visit}/report`: the finished visit's PDF.
pub async fn visit_report(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let v = state.store.visit_for_agent(&caller, &id).await?;
    let a = crate::kit::visits::report_file(&state, &v).await?;
    Ok(crate::kit::blobs::send(&state, &a).await)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TechnicianBody {
    technician_id: Option<String>,
}

/// `POST /api/v1/machines/{machine}/technician`: the machine's responsible technician
/// (`null`: nobody).
pub async fn machine_technician(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<TechnicianBody>, JsonRejection>,
) -> Reply {
    // Out of scope first: another company's machine is "not found" to everyone.
    let m = state.store.machine_for_agent(&caller, &id).await?;
    require(user.role, &[Role::Admin, Role::Coordinator, Role::Support])?;
    let b = body(b)?;
    state
        .store
        .set_machine_technician(&state.ids, &m.id, b.technician_id.as_deref())
        .await?;
    let m = state.store.machine(&m.id).await?;
    Ok((StatusCode::OK, Json(machine_json(&m))))
}
