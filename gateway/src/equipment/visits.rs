//! The agents' visit pages: the list (a technician's own first), a visit's page with the
//! step it can take next (arrived, finished with its report, moved, cancelled), booking
//! from a machine's page, the machine's responsible technician, and the report's PDF.
//!
//! Every visit and machine is read through the agent's `Caller` (a technician sees the
//! companies of its machines and visits): another is "not found". A step is checked
//! against the visit as it is now and its `version`, so a double tap or the desk and the
//! technician at once change it once; a refusal comes back on the page in words with
//! nothing changed.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::Role;
use switchboard_core::store::VisitQuery;
use switchboard_portal::locale::Lang;
use switchboard_portal::visits::{AFTER_STATUSES, Step, VisitWords, visit_words};

use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::machines::{EqWords, eq_words, status_word};
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::WebAgent;
use crate::kit::visits::{Booking, StepForm, VisitView, book, calendar, step, visit_view};

fn lang(agent: &WebAgent) -> Lang {
    Lang::from_tag(agent.tr.lang())
}

#[derive(Template)]
#[template(path = "equipment_visits.html")]
struct ListPage {
    p: Page,
    v: &'static VisitWords,
    e: &'static EqWords,
    upcoming: Vec<VisitView>,
    past: Vec<VisitView>,
    mine: bool,
    technician: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    who: String,
}

/// `GET /equipment/visits`: upcoming visits soonest first, then the latest past ones; a
/// technician's own unless it asks for all.
pub async fn list(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<ListParams>,
) -> Result<Response, WebError> {
    let lang = lang(&agent);
    let technician = agent.user.role == Role::Technician;
    let mine = q.who == "me" || (technician && q.who != "all");
    let who = mine.then_some(agent.user.id.as_str());
    let cal = calendar(&state);
    let query = |open: bool, limit: i64| VisitQuery {
        technician_id: who,
        machine_id: None,
        open,
        limit,
    };
    let upcoming = state
        .store
        .visits_for_agent(&agent.caller, &query(true, 200))
        .await?;
    let past = state
        .store
        .visits_for_agent(&agent.caller, &query(false, 60))
        .await?
        .into_iter()
        .filter(|v| v.status == "done" || v.status == "cancelled")
        .take(30);
    let v = visit_words(lang);
    let page = ListPage {
        p: Page::agent(&state, &agent, v.visits.to_owned(), "visits").await?,
        v,
        e: eq_words(lang),
        upcoming: upcoming.iter().map(|x| visit_view(x, &cal, lang)).collect(),
        past: past.map(|x| visit_view(&x, &cal, lang)).collect(),
        mine,
        technician,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "equipment_visit.html")]
struct VisitPage {
    p: Page,
    v: &'static VisitWords,
    visit: VisitView,
    /// The request's number (its conversation's too).
    request: Option<i64>,
    technicians: Vec<(String, String)>,
    after: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    typed: StepTyped,
    can_write: bool,
}

/// What a step's form had typed, shown again with its error.
#[derive(Debug, Clone, Default)]
pub struct StepTyped {
    pub work_done: String,
    pub parts: String,
    pub signed_by: String,
    pub machine_status: String,
}

async fn visit_page(
    state: &AppState,
    agent: &WebAgent,
    id: &str,
    error: Option<String>,
    typed: StepTyped,
) -> Result<VisitPage, WebError> {
    let lang = lang(agent);
    let visit = state.store.visit_for_agent(&agent.caller, id).await?;
    let request = match &visit.conversation_id {
        Some(c) => state
            .store
            .conversation_refs(c)
            .await?
            .map(|(number, _)| number),
        None => None,
    };
    let v = visit_words(lang);
    let cal = calendar(state);
    Ok(VisitPage {
        p: Page::agent(
            state,
            agent,
            format!("{} {} · {}", v.visit, visit.number, visit.serial),
            "visits",
        )
        .await?,
        v,
        request,
        technicians: state.store.technicians().await?,
        after: AFTER_STATUSES
            .iter()
            .map(|s| (*s, status_word(s, lang)))
            .collect(),
        error,
        typed,
        can_write: agent.user.role.can_reply(),
        visit: visit_view(&visit, &cal, lang),
    })
}

/// `GET /equipment/visits/{visit}`.
pub async fn show(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let page = visit_page(&state, &agent, &id, None, StepTyped::default()).await?;
    Ok(render(&page))
}

#[derive(Debug, Deserialize, Default)]
pub struct StepBody {
    #[serde(default)]
    version: String,
    #[serde(default)]
    technician: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    work_done: String,
    #[serde(default)]
    parts: String,
    #[serde(default)]
    signed_by: String,
    #[serde(default)]
    machine_status: String,
}

/// One handler per step, each its own route.
macro_rules! step_pages {
    ($($name:ident => $step:ident, $doc:literal;)+) => {$(
        #[doc = $doc]
        pub async fn $name(
            state: State<AppState>,
            agent: WebAgent,
            id: Path<String>,
            f: Form<StepBody>,
        ) -> Result<Response, WebError> {
            take_step(state, agent, id, f, Step::$step).await
        }
    )+};
}

step_pages! {
    arrive => Arrive, "`POST /equipment/visits/{visit}/arrive`.";
    complete => Complete, "`POST /equipment/visits/{visit}/complete`: the report.";
    cancel => Cancel, "`POST /equipment/visits/{visit}/cancel`.";
    move_visit => Reschedule, "`POST /equipment/visits/{visit}/move`: another technician or window.";
}

async fn take_step(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<StepBody>,
    s: Step,
) -> Result<Response, WebError> {
    let visit = state.store.visit_for_agent(&agent.caller, &id).await?;
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    let form = StepForm {
        version: f.version.trim().parse().ok(),
        technician_id: f.technician,
        date: f.date,
        from: f.from,
        to: f.to,
        work_done: f.work_done.clone(),
        parts: f.parts.clone(),
        signed_by: f.signed_by.clone(),
        machine_status: f.machine_status.clone(),
    };
    match step(&state, &visit, s, &form, lang(&agent)).await {
        Ok(v) => Ok(Redirect::to(&format!("/equipment/visits/{}", v.id)).into_response()),
        Err(ApiError::Invalid(msg) | ApiError::Conflict(msg)) => {
            let typed = StepTyped {
                work_done: f.work_done,
                parts: f.parts,
                signed_by: f.signed_by,
                machine_status: f.machine_status,
            };
            let typed = if s == Step::Complete {
                typed
            } else {
                StepTyped::default()
            };
            let page = visit_page(&state, &agent, &id, Some(msg), typed).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /equipment/visits/{visit}/report`: the finished visit's report.
pub async fn report(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let visit = state.store.visit_for_agent(&agent.caller, &id).await?;
    let a = crate::kit::visits::report_file(&state, &visit).await?;
    Ok(crate::kit::blobs::send(&state, &a).await)
}

#[derive(Debug, Deserialize, Default)]
pub struct BookBody {
    #[serde(default)]
    key: String,
    #[serde(default)]
    technician: String,
    #[serde(default)]
    date: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    request: String,
}

/// `POST /equipment/machines/{machine}/visits`: books a visit from the machine's page;
/// the request chosen must be one of the machine's.
pub async fn schedule(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<BookBody>,
) -> Result<Response, WebError> {
    let m = state.store.machine_for_agent(&agent.caller, &id).await?;
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    let lang = lang(&agent);
    let requests = state.store.machine_requests(&m.id, 200).await?;
    let conversation = if f.request.is_empty() {
        None
    } else {
        match requests.iter().find(|r| r.conversation_id == f.request) {
            Some(r) => Some(r.conversation_id.clone()),
            None => {
                return super::pages::machine_again(
                    &state,
                    &agent,
                    &id,
                    Some(visit_words(lang).request.to_owned() + "?"),
                    Booking::default(),
                )
                .await;
            }
        }
    };
    let b = Booking {
        technician_id: f.technician,
        date: f.date,
        from: f.from,
        to: f.to,
        conversation_id: conversation,
        key: f.key,
    };
    match book(&state, &agent.user.id, &m, &b, lang).await {
        Ok((v, _)) => Ok(Redirect::to(&format!("/equipment/visits/{}", v.id)).into_response()),
        Err(ApiError::Invalid(msg) | ApiError::Conflict(msg)) => {
            super::pages::machine_again(&state, &agent, &id, Some(msg), b).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Who makes a technician responsible for a machine: the desk, not technicians.
pub fn may_assign(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Coordinator | Role::Support)
}

#[derive(Debug, Deserialize, Default)]
pub struct TechnicianBody {
    #[serde(default)]
    technician: String,
}

/// `POST /equipment/machines/{machine}/technician`: the machine's responsible technician
/// (empty: nobody).
pub async fn set_technician(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Form(f): Form<TechnicianBody>,
) -> Result<Response, WebError> {
    let m = state.store.machine_for_agent(&agent.caller, &id).await?;
    if !may_assign(agent.user.role) {
        return Err(WebError::Forbidden(agent.tr));
    }
    let who = Some(f.technician.trim()).filter(|t| !t.is_empty());
    match state
        .store
        .set_machine_technician(&state.ids, &m.id, who)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/equipment/machines/{}", m.id)).into_response()),
        Err(switchboard_core::Error::Invalid(msg) | switchboard_core::Error::NotFound(msg)) => {
            super::pages::machine_again(&state, &agent, &id, Some(msg), Booking::default()).await
        }
        Err(e) => Err(e.into()),
    }
}
