//! The client's equipment: its company's machines and contracts, each machine's page
//! (status, contract, consumption chart, readings) with a reading form and the counter's
//! photo, and each contract's page with every closed period's calculation line by line
//! and the contract's PDF.
//!
//! Every machine and contract is read through the client's `ClientScope`: another
//! company's is "not found", as one that does not exist. A reading is checked by the
//! portal crate's rules (never below the last one; a jump well beyond the machine's usual
//! volume is confirmed first) and stored once per form (its key), whatever is repeated.
//! A photo stored before a confirmation comes back with the form under a tag only this
//! server can make for this contact, so a form cannot claim another file.
//!
//! Tests: e2e `equipment::clients_read_their_machines_and_enter_readings`, browser
//! `equipment.test.mjs`.

use askama::Template;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use futures::TryStreamExt;
use switchboard_core::domain::Attachment;
use switchboard_core::store::{Machine, NewReading, ReadingOutcome};
use tokio_util::io::StreamReader;

use super::{Client, Layout, not_found, private};
use crate::kit::AppState;
use crate::kit::billing::today;
use crate::kit::equipment::record;
use crate::kit::error::ApiError;
use crate::kit::machines::{
    Chart, ContractView, EqWords, MachineView, PeriodView, ReadingRow, Saved, TypedReading, chart,
    contract_view, eq_words, history, machine_view, period_view, typed,
};
use crate::kit::page::render;

type PageResult = Result<Response, Response>;

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// A reading the client entered, in the company's activity log.
async fn reading_logged(state: &AppState, client: &Client, serial: &str, r: &NewReading<'_>) {
    let counts = super::counts_words(r.mono, r.colour, r.scans);
    super::pages::audit(state, client, "reading", Some(serial), Some(&counts)).await;
}

/// A reading form's body: three counters, a photo, a few words.
pub const MAX_FORM_BYTES: usize = 12 * 1024 * 1024;
const PHOTO_TAG: &[u8] = b"switchboard reading photo v1\0";
/// Readings a machine page reads: five years of monthly readings and then some.
const PAGE_READINGS: i64 = 120;

#[derive(Template)]
#[template(path = "portal/machines.html")]
struct MachinesPage {
    l: Layout,
    e: &'static EqWords,
    machines: Vec<MachineView>,
    contracts: Vec<ContractView>,
}

/// `GET /portal/machines`: the company's machines and contracts.
pub async fn list(State(state): State<AppState>, client: Client) -> PageResult {
    let e = eq_words(client.lang);
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let last = crate::kit::machines::last_readings(&state.store, &machines)
        .await
        .map_err(api)?;
    let views = machines
        .iter()
        .map(|m| machine_view(m, last.get(&m.id), client.lang))
        .collect();
    let contracts = state
        .store
        .contracts_for_client(&client.scope)
        .await
        .map_err(api)?
        .iter()
        .map(|c| contract_view(c, client.lang))
        .collect();
    let page = MachinesPage {
        l: Layout::client(&state, &client, e.equipment.to_owned(), "equipment"),
        e,
        machines: views,
        contracts,
    };
    Ok(private(render(&page)))
}

/// What the reading form shows.
#[derive(Debug, Clone, Default)]
pub struct ReadingForm {
    pub key: String,
    pub typed: TypedReading,
    pub error: Option<String>,
    /// The jumps to confirm, in words.
    pub confirm: Vec<String>,
    /// A photo stored before the question, with its tag.
    pub photo: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "portal/machine.html")]
struct MachinePage {
    l: Layout,
    e: &'static EqWords,
    m: MachineView,
    contract: Option<ContractView>,
    chart: Chart,
    readings: Vec<ReadingRow>,
    form: ReadingForm,
    notice: Option<&'static str>,
    requests: Vec<crate::kit::machines::RequestView>,
    v: &'static switchboard_portal::visits::VisitWords,
    visits: Vec<crate::kit::visits::VisitView>,
    toner: Vec<crate::kit::machines::RequestView>,
    documents: Vec<(String, String)>,
}

/// One of the client's company's contracts, by its number; another's is "not found".
async fn own_contract(
    state: &AppState,
    client: &Client,
    number: &str,
) -> Result<switchboard_core::store::Contract, Response> {
    match state
        .store
        .contract_for_client_by_number(&client.scope, number)
        .await
    {
        Ok(c) => Ok(c),
        Err(switchboard_core::Error::NotFound(_)) => Err(not_found(state, client.lang)),
        Err(e) => Err(api(e)),
    }
}

async fn own(state: &AppState, client: &Client, id: &str) -> Result<Machine, Response> {
    match state.store.machine_for_client(&client.scope, id).await {
        Ok(m) => Ok(m),
        Err(switchboard_core::Error::NotFound(_)) => Err(not_found(state, client.lang)),
        Err(e) => Err(api(e)),
    }
}

fn new_key(state: &AppState) -> String {
    state.ids.new_id().replace('-', "")
}

async fn machine_page(
    state: &AppState,
    client: &Client,
    m: &Machine,
    form: ReadingForm,
    notice: Option<&'static str>,
) -> Result<MachinePage, Response> {
    let e = eq_words(client.lang);
    let readings = state
        .store
        .meter_readings(&m.id, PAGE_READINGS)
        .await
        .map_err(api)?;
    let contract = state
        .store
        .contract_of_machine(&m.id, today(state))
        .await
        .map_err(api)?
        .map(|c| contract_view(&c, client.lang));
    let mut rows = history(&readings, client.lang);
    rows.truncate(24);
    let requests = state.store.machine_requests(&m.id, 50).await.map_err(api)?;
    let visits = state.store.machine_visits(&m.id, 50).await.map_err(api)?;
    let v = switchboard_portal::visits::visit_words(client.lang);
    let cal = crate::kit::visits::calendar(state);
    let mut documents = Vec::new();
    if let Some(c) = contract.as_ref().filter(|c| c.document) {
        documents.push((
            format!("/portal/contracts/{}/pdf", urlencode(&c.number)),
            format!("{} {}", e.contract, c.number),
        ));
    }
    for x in visits.iter().filter(|x| x.status == "done") {
        documents.push((
            format!("/portal/visits/{}/report", x.id),
            format!("{} {}", v.report, x.number),
        ));
    }
    let toner: Vec<_> = requests
        .iter()
        .filter(|r| r.kind == "toner")
        .cloned()
        .collect();
    let mut shown_requests = requests;
    shown_requests.truncate(10);
    Ok(MachinePage {
        requests: crate::kit::machines::request_views(&shown_requests, client.lang),
        toner: crate::kit::machines::request_views(&toner, client.lang),
        v,
        visits: visits
            .iter()
            .map(|x| crate::kit::visits::visit_view(x, &cal, client.lang))
            .collect(),
        documents,
        l: Layout::client(
            state,
            client,
            format!("{} · {}", m.model, m.serial),
            "equipment",
        ),
        e,
        m: machine_view(m, readings.last(), client.lang),
        contract,
        chart: chart(&readings, client.lang),
        readings: rows,
        form,
        notice,
    })
}

/// `GET /portal/machines/{id}`.
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> PageResult {
    let m = own(&state, &client, &id).await?;
    let notice = q.notice(eq_words(client.lang));
    let form = ReadingForm {
        key: new_key(&state),
        ..Default::default()
    };
    let page = machine_page(&state, &client, &m, form, notice).await?;
    Ok(private(render(&page)))
}

fn photo_subject(client: &Client, json: &str) -> String {
    format!("{}\0{json}", client.scope.contact_id)
}

/// Reads the reading form: the counters, the key, the confirmation, and a new photo or
/// the one kept from before the question (only with its tag).
async fn read_form(
    state: &AppState,
    client: &Client,
    multipart: Result<Multipart, MultipartRejection>,
    form: &mut ReadingForm,
) -> Result<bool, String> {
    let mut multipart = multipart.map_err(|e| e.body_text())?;
    let mut confirmed = false;
    let mut kept: (String, String) = Default::default();
    let max = state.config.webchat.max_attachment_bytes;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(e.body_text()),
        };
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "photo" => {
                let file_name = field.file_name().unwrap_or("").to_owned();
                if file_name.is_empty() {
                    continue;
                }
                let reader = StreamReader::new(field.map_err(std::io::Error::other));
                let a = match crate::kit::uploads::store_file(state, reader, max, &file_name).await
                {
                    Ok(a) => a,
                    Err(ApiError::Internal(e)) => {
                        tracing::error!(error = %e, "a counter's photo was not stored");
                        return Err(format!("{file_name}: not stored; try again"));
                    }
                    Err(e) => return Err(format!("{file_name}: {e}")),
                };
                if !a.mime.starts_with("image/") {
                    return Err(format!("{file_name}: {}", eq_words(client.lang).photo_hint));
                }
                let json = serde_json::to_string(&a).map_err(|e| e.to_string())?;
                let tag = state.visitors.tag(PHOTO_TAG, &photo_subject(client, &json));
                form.photo = Some((json, tag));
            }
            "key" | "mono" | "colour" | "scans" | "confirm" | "kept_photo" | "kept_tag" => {
                let text = field.text().await.map_err(|e| e.body_text())?;
                match name.as_str() {
                    "key" => form.key = text.trim().chars().take(64).collect(),
                    "mono" => form.typed.mono = text,
                    "colour" => form.typed.colour = text,
                    "scans" => form.typed.scans = text,
                    "confirm" => confirmed = text == "1",
                    "kept_photo" => kept.0 = text,
                    _ => kept.1 = text,
                }
            }
            // `_csrf`, read by the guard; anything else is not ours.
            _ => {
                let _ = field.bytes().await;
            }
        }
    }
    if form.photo.is_none() && !kept.0.is_empty() {
        if !state
            .visitors
            .check_tag(PHOTO_TAG, &photo_subject(client, &kept.0), &kept.1)
        {
            return Err("the photo could not be kept: attach it again".into());
        }
        form.photo = Some(kept);
    }
    Ok(confirmed)
}

/// `POST /portal/machines/{id}/readings`.
pub async fn add_reading(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> PageResult {
    let m = own(&state, &client, &id).await?;
    let mut form = ReadingForm::default();
    let confirmed = read_form(&state, &client, multipart, &mut form).await;
    let answer = |form: ReadingForm, status: StatusCode| {
        let state = state.clone();
        let client = client.clone();
        let m = m.clone();
        async move {
            let page = machine_page(&state, &client, &m, form, None).await?;
            Ok::<Response, Response>(private((status, render(&page)).into_response()))
        }
    };
    if form.key.is_empty() {
        form.key = new_key(&state);
    }
    let confirmed = match confirmed {
        Ok(c) => c,
        Err(e) => {
            form.error = Some(e);
            return Err(answer(form, StatusCode::UNPROCESSABLE_ENTITY).await?);
        }
    };
    let counts = match typed(&form.typed, client.lang) {
        Ok(c) => c,
        Err(e) => {
            form.error = Some(e);
            return Err(answer(form, StatusCode::UNPROCESSABLE_ENTITY).await?);
        }
    };
    let key = format!(
        "portal:{}:{}:{:?}",
        client.scope.contact_id,
        form.key,
        (counts.mono, counts.colour, counts.scans)
    );
    let photo = form.photo.as_ref().map(|p| p.0.clone());
    let new = NewReading {
        machine_id: &m.id,
        day: today(&state),
        mono: counts.mono,
        colour: counts.colour,
        scans: counts.scans,
        source: "portal",
        user_id: Some(&client.scope.user_id),
        photo: photo.as_deref(),
        key: &key,
        confirmed,
    };
    match record(&state, &new, client.lang).await {
        Ok(ReadingOutcome::Stored(_)) => {
            reading_logged(&state, &client, &m.serial, &new).await;
            Ok(private(
                Redirect::to(&format!("/portal/machines/{}?saved=1", m.id)).into_response(),
            ))
        }
        Ok(ReadingOutcome::Duplicate(_)) => Ok(private(
            Redirect::to(&format!("/portal/machines/{}?saved=again", m.id)).into_response(),
        )),
        Ok(ReadingOutcome::Confirm(asks)) => {
            form.confirm = asks;
            Err(answer(form, StatusCode::OK).await?)
        }
        Err(switchboard_core::Error::Invalid(msg)) => {
            form.error = Some(msg);
            Err(answer(form, StatusCode::UNPROCESSABLE_ENTITY).await?)
        }
        Err(e) => Err(api(e)),
    }
}

/// `GET /portal/machines/{id}/readings/{reading}/photo`: the counter's photo, of one of
/// the company's machines only.
pub async fn photo(
    State(state): State<AppState>,
    client: Client,
    Path((id, reading)): Path<(String, String)>,
) -> PageResult {
    let m = own(&state, &client, &id).await?;
    let readings = state
        .store
        .meter_readings(&m.id, PAGE_READINGS)
        .await
        .map_err(api)?;
    let Some(a) = readings
        .iter()
        .find(|r| r.id == reading)
        .and_then(|r| r.photo.as_deref())
        .and_then(|j| serde_json::from_str::<Attachment>(j).ok())
    else {
        return Err(not_found(&state, client.lang));
    };
    Ok(private(crate::kit::blobs::send(&state, &a).await))
}

#[derive(Template)]
#[template(path = "portal/contract.html")]
struct ContractPage {
    l: Layout,
    e: &'static EqWords,
    c: ContractView,
    machines: Vec<(String, MachineView)>,
    periods: Vec<PeriodView>,
    /// Toner asked for this period, per colour.
    toner: String,
    /// Each closed period's copies.
    chart: Chart,
}

/// `GET /portal/contracts/{number}`: the terms, the machines and every closed period's
/// calculation.
pub async fn contract(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> PageResult {
    let c = own_contract(&state, &client, &id).await?;
    let mine = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let slots = state.store.contract_machines(&c.id).await.map_err(api)?;
    let machines = slots
        .iter()
        .filter(|s| s.to_day.is_none_or(|t| t > today(&state)))
        .filter_map(|s| {
            mine.iter()
                .find(|m| m.id == s.machine_id)
                .map(|m| (s.slot.clone(), machine_view(m, None, client.lang)))
        })
        .collect();
    let serial = |id: &str| {
        mine.iter()
            .find(|m| m.id == id)
            .map_or_else(|| "—".to_owned(), |m| m.serial.clone())
    };
    let mut periods = Vec::new();
    let closed = state.store.contract_periods(&c.id, 24).await.map_err(api)?;
    let chart = crate::kit::machines::period_chart(&closed, client.lang);
    for p in closed {
        let invoice = match &p.invoice_id {
            Some(i) => {
                let doc = state.store.invoice(i).await.map_err(api)?;
                (doc.status != "draft").then_some(doc.number)
            }
            None => None,
        };
        periods.push(period_view(&p, &c, &serial, invoice, client.lang));
    }
    let toner = toner_this_period(&state, &c, client.lang)
        .await
        .map_err(api)?;
    let e = eq_words(client.lang);
    let page = ContractPage {
        chart,
        toner,
        l: Layout::client(
            &state,
            &client,
            format!("{} {}", e.contract, c.number),
            "equipment",
        ),
        e,
        c: contract_view(&c, client.lang),
        machines,
        periods,
    };
    Ok(private(render(&page)))
}

/// A path segment with anything but letters, digits and `-._~` percent-encoded.
fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `GET /portal/visits/{visit}/report`: a finished visit's report, of one of the
/// company's machines only.
pub async fn visit_report(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> PageResult {
    let v = match state.store.visit_for_client(&client.scope, &id).await {
        Ok(v) => v,
        Err(switchboard_core::Error::NotFound(_)) => return Err(not_found(&state, client.lang)),
        Err(e) => return Err(api(e)),
    };
    match crate::kit::visits::report_file(&state, &v).await {
        Ok(a) => Ok(private(crate::kit::blobs::send(&state, &a).await)),
        Err(ApiError::NotFound(_)) => Err(not_found(&state, client.lang)),
        Err(e) => Err(e.into_response()),
    }
}

/// `GET /portal/contracts/{number}/pdf`: the contract's document.
pub async fn contract_pdf(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> PageResult {
    let c = own_contract(&state, &client, &id).await?;
    let Some(a) = c
        .document
        .as_deref()
        .and_then(|j| serde_json::from_str::<Attachment>(j).ok())
    else {
        return Err(not_found(&state, client.lang));
    };
    Ok(private(crate::kit::blobs::send(&state, &a).await))
}

/// Each machine's outcome on the readings page: stored (or stored before), or its error
/// and the questions to confirm.
type RowResults = std::collections::HashMap<String, Result<bool, (Option<String>, Vec<String>)>>;

/// One machine's row of the readings page.
#[derive(Debug, Clone)]
pub struct ReadingRowForm {
    pub m: MachineView,
    pub last: Option<ReadingRow>,
    pub typed: TypedReading,
    pub error: Option<String>,
    pub confirm: Vec<String>,
    pub saved: bool,
}

#[derive(Template)]
#[template(path = "portal/readings.html")]
struct ReadingsPage {
    l: Layout,
    e: &'static EqWords,
    rows: Vec<ReadingRowForm>,
    key: String,
    saved: usize,
    problems: usize,
}

async fn readings_page(
    state: &AppState,
    client: &Client,
    typed_in: &std::collections::HashMap<String, String>,
    results: &RowResults,
    key: String,
) -> Result<ReadingsPage, Response> {
    let e = eq_words(client.lang);
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let latest = crate::kit::machines::last_readings(&state.store, &machines)
        .await
        .map_err(api)?;
    let mut rows = Vec::with_capacity(machines.len());
    for m in machines.iter().filter(|m| m.status != "removed") {
        let last = latest
            .get(&m.id)
            .map(std::slice::from_ref)
            .unwrap_or_default();
        let result = results.get(&m.id);
        let saved = matches!(result, Some(Ok(_)));
        let field = |name: &str| {
            if saved {
                String::new()
            } else {
                typed_in
                    .get(&format!("{name}-{}", m.id))
                    .cloned()
                    .unwrap_or_default()
            }
        };
        let (error, confirm) = match result {
            Some(Err((error, confirm))) => (error.clone(), confirm.clone()),
            _ => (None, Vec::new()),
        };
        rows.push(ReadingRowForm {
            m: machine_view(m, last.last(), client.lang),
            last: history(last, client.lang).into_iter().next(),
            typed: TypedReading {
                mono: field("mono"),
                colour: field("colour"),
                scans: field("scans"),
            },
            error,
            confirm,
            saved,
        });
    }
    Ok(ReadingsPage {
        l: Layout::client(state, client, e.readings.to_owned(), "equipment"),
        e,
        saved: results.values().filter(|r| r.is_ok()).count(),
        problems: results.values().filter(|r| r.is_err()).count(),
        rows,
        key,
    })
}

/// `GET /portal/readings`: every machine's counters in one form.
pub async fn readings(State(state): State<AppState>, client: Client) -> PageResult {
    let page = readings_page(
        &state,
        &client,
        &Default::default(),
        &Default::default(),
        new_key(&state),
    )
    .await?;
    Ok(private(render(&page)))
}

/// `POST /portal/readings`: each machine with a counter typed is checked and stored once
/// (per form and machine); the page comes back with what was saved and what needs an
/// answer, the rest of the typing kept.
pub async fn add_readings(
    State(state): State<AppState>,
    client: Client,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> PageResult {
    let typed_in: std::collections::HashMap<String, String> = form.into_iter().collect();
    let key = typed_in
        .get("key")
        .map(|k| k.trim().chars().take(64).collect::<String>())
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| new_key(&state));
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let mut results = std::collections::HashMap::new();
    for m in &machines {
        let get = |name: &str| {
            typed_in
                .get(&format!("{name}-{}", m.id))
                .cloned()
                .unwrap_or_default()
        };
        let t = TypedReading {
            mono: get("mono"),
            colour: get("colour"),
            scans: get("scans"),
        };
        if t.mono.trim().is_empty() && t.colour.trim().is_empty() && t.scans.trim().is_empty() {
            continue;
        }
        let counts = match typed(&t, client.lang) {
            Ok(c) => c,
            Err(e) => {
                results.insert(m.id.clone(), Err((Some(e), Vec::new())));
                continue;
            }
        };
        // The form, the machine and the counts: the same submission again is one reading,
        // other counts typed into the same form are another.
        let reading_key = format!(
            "portal:{}:{key}:{}:{:?}",
            client.scope.contact_id,
            m.id,
            (counts.mono, counts.colour, counts.scans)
        );
        let new = NewReading {
            machine_id: &m.id,
            day: today(&state),
            mono: counts.mono,
            colour: counts.colour,
            scans: counts.scans,
            source: "portal",
            user_id: Some(&client.scope.user_id),
            photo: None,
            key: &reading_key,
            confirmed: get("confirm") == "1",
        };
        let r = match record(&state, &new, client.lang).await {
            Ok(ReadingOutcome::Stored(_)) => {
                reading_logged(&state, &client, &m.serial, &new).await;
                Ok(true)
            }
            Ok(ReadingOutcome::Duplicate(_)) => Ok(false),
            Ok(ReadingOutcome::Confirm(asks)) => Err((None, asks)),
            Err(switchboard_core::Error::Invalid(msg)) => Err((Some(msg), Vec::new())),
            Err(e) => return Err(api(e)),
        };
        results.insert(m.id.clone(), r);
    }
    let status = if results.values().any(Result::is_err) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = readings_page(&state, &client, &typed_in, &results, key).await?;
    Ok(private((status, render(&page)).into_response()))
}

/// The toner asked for in the contract's current period, per colour ("Black 2, Cyan 1").
pub async fn toner_this_period(
    state: &AppState,
    c: &switchboard_core::store::Contract,
    lang: switchboard_portal::locale::Lang,
) -> switchboard_core::Result<String> {
    let every = crate::kit::equipment::every(c);
    let today = today(state);
    let Some(n) = switchboard_portal::overage::period_of(c.start_day, every, today) else {
        return Ok(String::new());
    };
    let (from, _) = switchboard_portal::overage::period(c.start_day, every, n);
    let requests = state.store.contract_requests(&c.id, from, 1_000).await?;
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for colour in requests.iter().flat_map(|r| r.toner.iter()) {
        match counts.iter_mut().find(|(c, _)| *c == colour.as_str()) {
            Some(entry) => entry.1 += 1,
            None => counts.push((colour.as_str(), 1)),
        }
    }
    Ok(counts
        .iter()
        .map(|(c, n)| format!("{} {n}", crate::kit::machines::toner_word(c, lang)))
        .collect::<Vec<_>>()
        .join(", "))
}
