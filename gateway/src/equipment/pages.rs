//! The agents' equipment pages: the machines the agent may see (by company), a machine's
//! page (status, contract, consumption chart, readings) where the desk enters a reading
//! or changes the status, and the admins' import of a machine file with its row-by-row
//! report.

use askama::Template;
use axum::Form;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::Role;
use switchboard_core::store::{NewReading, ReadingOutcome};
use switchboard_portal::locale::Lang;

use crate::kit::AppState;
use crate::kit::billing::today;
use crate::kit::equipment::record;
use crate::kit::error::ApiError;
use crate::kit::machines::{
    Chart, ContractView, EqWords, MachineView, ReadingRow, Saved, TypedReading, chart,
    contract_view, eq_words, history, machine_view, status_word, typed,
};
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::WebAgent;
use crate::kit::visits::Booking;

fn lang(agent: &WebAgent) -> Lang {
    Lang::from_tag(agent.tr.lang())
}

/// A machine in the list, with its company's name.
#[derive(Debug, Clone)]
pub struct Row {
    pub m: MachineView,
    pub company: String,
}

#[derive(Template)]
#[template(path = "equipment.html")]
struct ListPage {
    p: Page,
    e: &'static EqWords,
    rows: Vec<Row>,
    companies: Vec<(String, String)>,
    company: String,
    report: Option<(bool, String)>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    company: String,
}

async fn list_page(
    state: &AppState,
    agent: &WebAgent,
    company: &str,
    report: Option<(bool, String)>,
) -> Result<ListPage, WebError> {
    let lang = lang(agent);
    let e = eq_words(lang);
    let company_filter = Some(company).filter(|c| !c.is_empty());
    let machines = state
        .store
        .machines_for_agent(&agent.caller, company_filter, 1_000)
        .await?;
    let companies = state.store.companies_for(&agent.caller).await?;
    let last = crate::kit::machines::last_readings(&state.store, &machines).await?;
    let mut rows = Vec::with_capacity(machines.len());
    for m in &machines {
        rows.push(Row {
            m: machine_view(m, last.get(&m.id), lang),
            company: companies
                .iter()
                .find(|(id, _)| *id == m.company_id)
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
        });
    }
    Ok(ListPage {
        p: Page::agent(state, agent, e.equipment.to_owned(), "equipment").await?,
        e,
        rows,
        companies,
        company: company.to_owned(),
        report,
    })
}

/// `GET /equipment`.
pub async fn list(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<ListParams>,
) -> Result<Response, WebError> {
    let page = list_page(&state, &agent, &q.company, None).await?;
    Ok(render(&page))
}

/// `POST /equipment/import`: an admin's machine file, imported whole or refused with
/// every bad row named.
pub async fn import(
    State(state): State<AppState>,
    agent: WebAgent,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, WebError> {
    if agent.user.role != Role::Admin {
        return Err(WebError::Forbidden(agent.tr));
    }
    let mut text = String::new();
    if let Ok(mut form) = multipart {
        while let Ok(Some(field)) = form.next_field().await {
            if field.name() == Some("file") {
                let bytes = field.bytes().await.unwrap_or_default();
                text = String::from_utf8(bytes.to_vec()).unwrap_or_default();
            } else {
                let _ = field.bytes().await;
            }
        }
    }
    let report = match crate::equipment::api::import_text(&state, &text).await {
        Ok(n) => (true, format!("{n} ✓")),
        Err(ApiError::Invalid(m)) => (false, m),
        Err(e) => return Err(e.into()),
    };
    let ok = report.0;
    let page = list_page(&state, &agent, "", Some(report)).await?;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Template)]
#[template(path = "equipment_machine.html")]
struct MachinePage {
    p: Page,
    e: &'static EqWords,
    m: MachineView,
    company: String,
    contract: Option<ContractView>,
    chart: Chart,
    readings: Vec<ReadingRow>,
    typed: TypedReading,
    error: Option<String>,
    confirm: Vec<String>,
    notice: Option<&'static str>,
    key: String,
    statuses: Vec<(&'static str, &'static str)>,
    can_write: bool,
    can_assign: bool,
    requests: Vec<crate::kit::machines::RequestView>,
    v: &'static switchboard_portal::visits::VisitWords,
    visits: Vec<crate::kit::visits::VisitView>,
    technicians: Vec<(String, String)>,
    responsible: String,
    /// The machine's requests still open, for a visit to answer: `(conversation id,
    /// label)`.
    open_requests: Vec<(String, String)>,
    booking: Booking,
    booking_error: Option<String>,
    /// Today in the business's zone, for the booking form's date.
    today: String,
    toner: Vec<crate::kit::machines::RequestView>,
    documents: Vec<(String, String)>,
    /// The site the machine is at: its name and address.
    site: Option<(String, String)>,
    /// The company's sites, to move the machine to: `(id, name)`.
    sites: Vec<(String, String)>,
}

#[allow(clippy::too_many_arguments)]
async fn machine_page(
    state: &AppState,
    agent: &WebAgent,
    id: &str,
    typed_in: TypedReading,
    error: Option<String>,
    confirm: Vec<String>,
    notice: Option<&'static str>,
    booking: (Booking, Option<String>),
) -> Result<MachinePage, WebError> {
    let lang = lang(agent);
    let e = eq_words(lang);
    let m = state.store.machine_for_agent(&agent.caller, id).await?;
    let readings = state.store.meter_readings(&m.id, 120).await?;
    let contract = state
        .store
        .contract_of_machine(&m.id, today(state))
        .await?
        .map(|c| contract_view(&c, lang));
    let company = state
        .store
        .company_name(&m.company_id)
        .await?
        .unwrap_or_default();
    let mut rows = history(&readings, lang);
    rows.truncate(24);
    let requests = state.store.machine_requests(&m.id, 50).await?;
    let cal = crate::kit::visits::calendar(state);
    let visits = state.store.machine_visits(&m.id, 50).await?;
    let v = switchboard_portal::visits::visit_words(lang);
    let open_requests = requests
        .iter()
        .filter(|r| r.status != "resolved")
        .map(|r| {
            (
                r.conversation_id.clone(),
                format!("#{} · {}", r.number, r.subject),
            )
        })
        .collect();
    let mut documents: Vec<(String, String)> = Vec::new();
    if let Some(c) = contract.as_ref().filter(|c| c.document) {
        documents.push((
            format!("/equipment/contracts/{}/pdf", c.id),
            format!("{} {}", e.contract, c.number),
        ));
    }
    for x in visits.iter().filter(|x| x.status == "done") {
        documents.push((
            format!("/equipment/visits/{}/report", x.id),
            format!("{} {}", v.report, x.number),
        ));
    }
    let toner = requests
        .iter()
        .filter(|r| r.kind == "toner")
        .cloned()
        .collect::<Vec<_>>();
    let company_sites = state
        .store
        .sites_for_agent(&agent.caller, &m.company_id)
        .await?;
    let site = m
        .site_id
        .as_ref()
        .and_then(|id| company_sites.iter().find(|s| &s.id == id))
        .map(|s| (s.name.clone(), s.address.clone().unwrap_or_default()));
    let sites = company_sites.into_iter().map(|s| (s.id, s.name)).collect();
    Ok(MachinePage {
        site,
        sites,
        requests: crate::kit::machines::request_views(&requests, lang),
        toner: crate::kit::machines::request_views(&toner, lang),
        v,
        visits: visits
            .iter()
            .map(|x| crate::kit::visits::visit_view(x, &cal, lang))
            .collect(),
        technicians: state.store.technicians().await?,
        responsible: m.technician_id.clone().unwrap_or_default(),
        open_requests,
        booking: booking.0,
        booking_error: booking.1,
        today: switchboard_portal::locale::iso_date(crate::kit::visits::today_local(state, &cal)),
        documents,
        p: Page::agent(
            state,
            agent,
            format!("{} · {}", m.model, m.serial),
            "equipment",
        )
        .await?,
        e,
        m: machine_view(&m, readings.last(), lang),
        company,
        contract,
        chart: chart(&readings, lang),
        readings: rows,
        typed: typed_in,
        error,
        confirm,
        notice,
        key: state.ids.new_id().replace('-', ""),
        statuses: switchboard_core::store::MACHINE_STATUSES
            .iter()
            .map(|s| (*s, status_word(s, lang)))
            .collect(),
        can_write: agent.user.role.can_reply(),
        can_assign: super::visits::may_assign(agent.user.role),
    })
}

/// `GET /equipment/machines/{machine}`.
pub async fn show(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Result<Response, WebError> {
    let notice = q.notice(eq_words(lang(&agent)));
    let page = machine_page(
        &state,
        &agent,
        &id,
        TypedReading::default(),
        None,
        vec![],
        notice,
        (Booking::default(), None),
    )
    .await?;
    Ok(render(&page))
}

/// The machine page again, with the form as typed and its error or question.
async fn again(
    state: &AppState,
    agent: &WebAgent,
    id: &str,
    t: TypedReading,
    error: Option<String>,
    confirm: Vec<String>,
) -> Result<Response, WebError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = machine_page(
        state,
        agent,
        id,
        t,
        error,
        confirm,
        None,
        (Booking::default(), None),
    )
    .await?;
    Ok((status, render(&page)).into_response())
}

/// The machine page again, with the booking form as typed and its error.
pub(super) async fn machine_again(
    state: &AppState,
    agent: &WebAgent,
    id: &str,
    error: Option<String>,
    booking: Booking,
) -> Result<Response, WebError> {
    let page = machine_page(
        state,
        agent,
        id,
        TypedReading::default(),
        None,
        vec![],
        None,
        (booking, error),
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct ReadingForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    mono: String,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    scans: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /equipment/machines/{machine}/readings`: a reading the desk took (by phone, on
/// a visit).
pub async fn add_reading(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<ReadingForm>,
) -> Result<Response, WebError> {
    let m = state.store.machine_for_agent(&agent.caller, &id).await?;
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    let lang = lang(&agent);
    let t = TypedReading {
        mono: f.mono,
        colour: f.colour,
        scans: f.scans,
    };
    let counts = match typed(&t, lang) {
        Ok(c) => c,
        Err(e) => return again(&state, &agent, &id, t, Some(e), vec![]).await,
    };
    let key = format!(
        "agent:{}:{}:{:?}",
        agent.user.id,
        f.key.trim(),
        (counts.mono, counts.colour, counts.scans)
    );
    let new = NewReading {
        machine_id: &m.id,
        day: today(&state),
        mono: counts.mono,
        colour: counts.colour,
        scans: counts.scans,
        source: "agent",
        user_id: Some(&agent.user.id),
        photo: None,
        key: &key,
        confirmed: f.confirm == "1",
    };
    match record(&state, &new, lang).await {
        Ok(ReadingOutcome::Stored(_)) => {
            Ok(Redirect::to(&format!("/equipment/machines/{}?saved=1", m.id)).into_response())
        }
        Ok(ReadingOutcome::Duplicate(_)) => {
            Ok(Redirect::to(&format!("/equipment/machines/{}?saved=again", m.id)).into_response())
        }
        Ok(ReadingOutcome::Confirm(asks)) => again(&state, &agent, &id, t, None, asks).await,
        Err(switchboard_core::Error::Invalid(msg)) => {
            again(&state, &agent, &id, t, Some(msg), vec![]).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

/// `POST /equipment/machines/{machine}/status`.
pub async fn set_status(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<StatusForm>,
) -> Result<Response, WebError> {
    let m = state.store.machine_for_agent(&agent.caller, &id).await?;
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    match state
        .store
        .set_machine_status(&state.ids, &m.id, &f.status)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/equipment/machines/{}", m.id)).into_response()),
        Err(switchboard_core::Error::Invalid(msg)) => {
            again(
                &state,
                &agent,
                &id,
                TypedReading::default(),
                Some(msg),
                vec![],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct SiteForm {
    #[serde(default)]
    site: String,
}

/// `POST /equipment/machines/{machine}/site`: the machine moves to another of its
/// company's sites (or to none); a site of another company changes nothing.
pub async fn set_site(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<SiteForm>,
) -> Result<Response, WebError> {
    let m = state.store.machine_for_agent(&agent.caller, &id).await?;
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    let site = Some(f.site.trim()).filter(|s| !s.is_empty());
    match state.store.set_machine_site(&state.ids, &m.id, site).await {
        Ok(()) => Ok(Redirect::to(&format!("/equipment/machines/{}", m.id)).into_response()),
        Err(switchboard_core::Error::NotFound(msg)) => {
            again(
                &state,
                &agent,
                &id,
                TypedReading::default(),
                Some(msg),
                vec![],
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /equipment/contracts/{contract}/pdf`: the contract's document, for agents who
/// may see its company.
pub async fn contract_pdf(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = state.store.contract_for_agent(&agent.caller, &id).await?;
    let Some(a) = c
        .document
        .as_deref()
        .and_then(|j| serde_json::from_str::<switchboard_core::domain::Attachment>(j).ok())
    else {
        return Err(ApiError::NotFound(format!("contract {} has no document", c.number)).into());
    };
    Ok(crate::kit::blobs::send(&state, &a).await)
}

/// `POST /conversations/{number}/machine`: an agent links a conversation (a WhatsApp chat,
/// a mail) to the machine it is about and what is asked; the conversation shows the
/// machine's card. The machine must be of the conversation's company; linking again
/// corrects it.
pub async fn link_machine(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(number): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    let Ok(n) = number.parse::<i64>() else {
        return Err(ApiError::NotFound(format!("conversation #{number}")).into());
    };
    let c = state
        .store
        .conversation_by_number_for(&agent.caller, n)
        .await?;
    agent.caller.check_write(&c)?;
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let toner: Vec<String> = form
        .iter()
        .filter(|(k, v)| k == "toner" && crate::kit::machines::TONERS.contains(&v.as_str()))
        .map(|(_, v)| v.clone())
        .collect();
    let m = state
        .store
        .machine_for_agent(&agent.caller, &get("machine"))
        .await?;
    if c.company_id.as_deref() != Some(m.company_id.as_str()) {
        return Err(
            ApiError::Invalid("the machine is not of this conversation's company".into()).into(),
        );
    }
    let kind = get("request");
    let toner = if kind == "toner" { toner } else { Vec::new() };
    let ticket = state.store.ticket_of_conversation(&c.id).await?;
    let link = crate::kit::equipment::Link {
        conversation_id: &c.id,
        ticket_id: ticket.as_ref().map(|t| t.id.as_str()),
        kind: &kind,
        toner: &toner,
        confirmed: true,
        replace: true,
    };
    crate::kit::equipment::link_request(&state, link, &m).await?;
    Ok(Redirect::to(&format!("/conversations/{}", c.number)).into_response())
}
