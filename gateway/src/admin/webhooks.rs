//! Outgoing webhooks (admins only): the subscriptions, each one's form, signing secret and
//! delivery log with the last answers and "Send again", as pages and over the JSON API.
//! A delivery is reached only through its own subscription's address.

use askama::Template;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::domain::Role;
use switchboard_core::store::{HOOK_KINDS, HookDelivery, HookInput, Webhook};

use super::pages::{DoneQuery, require_admin};
use crate::kit::AppState;
use crate::kit::api::{Agent, body, require};
use crate::kit::error::ApiError;
use crate::kit::i18n::Tr;
use crate::kit::page::{FieldError, Page, WebError, render};
use crate::kit::session::{AdminAgent, WebAgent};
use crate::kit::view::{exact, iso};

/// Deliveries a subscription's page lists.
const LOG: i64 = 50;

/// An event kind with its words.
pub struct KindRow {
    kind: &'static str,
    label: String,
    checked: bool,
}

fn kinds(t: &Tr, chosen: &[String]) -> Vec<KindRow> {
    HOOK_KINDS
        .iter()
        .map(|k| KindRow {
            kind: k,
            label: t.t(&format!("hooks-kind-{}", k.replace('.', "-"))),
            checked: chosen.iter().any(|c| c == k),
        })
        .collect()
}

pub struct HookRow {
    id: String,
    url: String,
    description: String,
    kinds: Vec<String>,
    active: bool,
    last: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_webhooks.html")]
struct HooksPage {
    p: Page,
    hooks: Vec<HookRow>,
    notice: Option<String>,
}

fn state_label(t: &Tr, state: &str) -> String {
    t.t(&format!("hooks-state-{state}"))
}

pub async fn list(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let t = agent.tr;
    let notice = match q.done.as_str() {
        "removed" => Some(t.t("hooks-removed")),
        _ => None,
    };
    let mut hooks = Vec::new();
    for h in state.store.webhooks().await? {
        let last = state
            .store
            .hook_deliveries(&h.id, 1)
            .await?
            .into_iter()
            .next()
            .map(|d| state_label(&t, &d.state));
        hooks.push(HookRow {
            kinds: h.events.clone(),
            id: h.id,
            url: h.url,
            description: h.description,
            active: h.active,
            last,
        });
    }
    let p = Page::agent(&state, &agent, t.t("hooks-title"), "webhooks").await?;
    Ok(render(&HooksPage { p, hooks, notice }))
}

/// The form as typed (read by `read_form`: its checkboxes repeat one name).
#[derive(Debug, Default)]
pub struct HookForm {
    url: String,
    description: String,
    events: Vec<String>,
    active: String,
}

impl HookForm {
    fn of(h: &Webhook) -> Self {
        Self {
            url: h.url.clone(),
            description: h.description.clone(),
            events: h.events.clone(),
            active: if h.active { "on".into() } else { String::new() },
        }
    }

    fn input(&self) -> HookInput<'_> {
        HookInput {
            url: &self.url,
            description: &self.description,
            events: &self.events,
            active: !self.active.is_empty(),
        }
    }
}

/// Reads a form whose checkboxes repeat one name (`events=a&events=b`).
fn read_form(raw: &str) -> HookForm {
    let mut form = HookForm::default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
    for (k, v) in pairs {
        match k.as_str() {
            "url" => form.url = v,
            "description" => form.description = v,
            "events" => form.events.push(v),
            "active" => form.active = v,
            _ => {}
        }
    }
    form
}

pub struct DeliveryRow {
    id: String,
    kind: String,
    state: String,
    state_class: &'static str,
    state_label: String,
    when_iso: String,
    when: String,
    answer: String,
    attempts: i64,
    payload: String,
    tries: Vec<TryRow>,
    can_resend: bool,
}

pub struct TryRow {
    when: String,
    answer: String,
    duration_ms: i64,
    response: String,
}

#[derive(Template)]
#[template(path = "admin_webhook.html")]
struct HookPage {
    p: Page,
    heading: String,
    action: String,
    id: Option<String>,
    form: HookForm,
    kinds: Vec<KindRow>,
    secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
    errors: Vec<FieldError>,
    notice: Option<String>,
}

fn answer(t: &Tr, status: Option<i64>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(s), _) => s.to_string(),
        (None, Some(e)) => e.to_owned(),
        (None, None) => t.t("hooks-no-answer"),
    }
}

async fn delivery_rows(state: &AppState, t: &Tr, hook: &str) -> Result<Vec<DeliveryRow>, WebError> {
    let mut rows = Vec::new();
    for d in state.store.hook_deliveries(hook, LOG).await? {
        let tries = state
            .store
            .hook_attempts(&d.id)
            .await?
            .into_iter()
            .take(5)
            .map(|a| TryRow {
                when: exact(a.at),
                answer: answer(t, a.status, a.error.as_deref()),
                duration_ms: a.duration_ms,
                response: a.response.unwrap_or_default(),
            })
            .collect();
        let payload = serde_json::from_str::<Value>(&d.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(d.payload.clone());
        rows.push(DeliveryRow {
            state_class: match d.state.as_str() {
                "delivered" => "ok",
                "failed" => "bad",
                _ => "wait",
            },
            state_label: state_label(t, &d.state),
            when_iso: iso(d.created_at),
            when: exact(d.created_at),
            answer: if d.attempts == 0 && d.last_status.is_none() && d.last_error.is_none() {
                String::new()
            } else {
                answer(t, d.last_status, d.last_error.as_deref())
            },
            can_resend: d.state != "sending",
            attempts: d.attempts,
            kind: d.kind,
            state: d.state,
            id: d.id,
            payload,
            tries,
        });
    }
    Ok(rows)
}

async fn hook_page(
    state: &AppState,
    agent: &WebAgent,
    hook: Option<&Webhook>,
    form: HookForm,
    errors: Vec<FieldError>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let (heading, action) = match hook {
        Some(h) => (t.t("hooks-edit"), format!("/admin/webhooks/{}", h.id)),
        None => (t.t("hooks-add"), "/admin/webhooks/new".to_owned()),
    };
    let deliveries = match hook {
        Some(h) => delivery_rows(state, &t, &h.id).await?,
        None => Vec::new(),
    };
    let p = Page::agent(state, agent, heading.clone(), "webhooks").await?;
    let failed = !errors.is_empty();
    let mut resp = render(&HookPage {
        p,
        heading,
        action,
        id: hook.map(|h| h.id.clone()),
        kinds: kinds(&t, &form.events),
        form,
        secret: hook.map(|h| h.secret.clone()),
        deliveries,
        errors,
        notice,
    });
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// The subscription of the address, or 404.
async fn page_hook(state: &AppState, agent: &WebAgent, id: &str) -> Result<Webhook, WebError> {
    match state.store.webhook(id).await {
        Ok(h) => Ok(h),
        Err(switchboard_core::Error::NotFound(_)) => Err(WebError::NotFound(agent.tr)),
        Err(e) => Err(e.into()),
    }
}

/// A store refusal as the form's error: the address's or the events'.
fn form_error(e: &switchboard_core::Error) -> Option<FieldError> {
    match e {
        switchboard_core::Error::Invalid(m) => Some(FieldError {
            field: if m.contains("event") { "events" } else { "url" },
            message: m.clone(),
        }),
        _ => None,
    }
}

pub async fn new_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let form = HookForm {
        active: "on".into(),
        ..HookForm::default()
    };
    hook_page(&state, &agent, None, form, Vec::new(), None).await
}

pub async fn create(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    raw: String,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let form = read_form(&raw);
    match state.store.add_webhook(&state.ids, &form.input()).await {
        Ok(h) => Ok(Redirect::to(&format!("/admin/webhooks/{}?done=added", h.id)).into_response()),
        Err(e) => match form_error(&e) {
            Some(fe) => hook_page(&state, &agent, None, form, vec![fe], None).await,
            None => Err(e.into()),
        },
    }
}

pub async fn show(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let h = page_hook(&state, &agent, &id).await?;
    let t = agent.tr;
    let notice = match q.done.as_str() {
        "added" => Some(t.t("hooks-added")),
        "changed" => Some(t.t("hooks-changed")),
        "resent" => Some(t.t("hooks-resent")),
        _ => None,
    };
    let form = HookForm::of(&h);
    hook_page(&state, &agent, Some(&h), form, Vec::new(), notice).await
}

pub async fn update(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
    raw: String,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let h = page_hook(&state, &agent, &id).await?;
    let form = read_form(&raw);
    match state
        .store
        .update_webhook(&id, &form.input(), state.ids.now_ms())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/admin/webhooks/{id}?done=changed")).into_response()),
        Err(e) => match form_error(&e) {
            Some(fe) => hook_page(&state, &agent, Some(&h), form, vec![fe], None).await,
            None => Err(e.into()),
        },
    }
}

pub async fn delete(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    page_hook(&state, &agent, &id).await?;
    state.store.remove_webhook(&id).await?;
    Ok(Redirect::to("/admin/webhooks?done=removed").into_response())
}

/// The delivery `delivery` of the subscription `hook`: any other is not found.
async fn own_delivery(
    state: &AppState,
    hook: &str,
    delivery: &str,
) -> Result<Option<HookDelivery>, switchboard_core::Error> {
    match state.store.hook_delivery(delivery).await {
        Ok(d) if d.webhook_id == hook => Ok(Some(d)),
        Ok(_) | Err(switchboard_core::Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Puts a delivery back on its way now, and its job on the outbound stream.
async fn resend(state: &AppState, d: &HookDelivery) -> Result<(), switchboard_core::Error> {
    state.store.resend_hook(&d.id, state.ids.now_ms()).await?;
    switchboard_core::webhooks::enqueue(&state.stream, vec![d.id.clone()]).await;
    Ok(())
}

pub async fn resend_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path((hook, delivery)): Path<(String, String)>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let d = own_delivery(&state, &hook, &delivery)
        .await?
        .ok_or(WebError::NotFound(agent.tr))?;
    resend(&state, &d).await?;
    Ok(Redirect::to(&format!("/admin/webhooks/{hook}?done=resent")).into_response())
}

// ---- the JSON API ------------------------------------------------------------------------

type Reply = Result<Json<Value>, ApiError>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookBody {
    url: Option<String>,
    description: Option<String>,
    events: Option<Vec<String>>,
    active: Option<bool>,
}

async fn api_hook(state: &AppState, id: &str) -> Result<Webhook, ApiError> {
    match state.store.webhook(id).await {
        Ok(h) => Ok(h),
        Err(switchboard_core::Error::NotFound(_)) => {
            Err(ApiError::NotFound(format!("webhook {id} not found")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn api_list(State(state): State<AppState>, Agent(user, _): Agent) -> Reply {
    require(user.role, &[Role::Admin])?;
    Ok(Json(
        json!({ "webhooks": state.store.webhooks().await?, "kinds": HOOK_KINDS }),
    ))
}

pub async fn api_create(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<HookBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    require(user.role, &[Role::Admin])?;
    let b = body(b)?;
    let events = b.events.unwrap_or_default();
    let input = HookInput {
        url: b.url.as_deref().unwrap_or_default(),
        description: b.description.as_deref().unwrap_or_default(),
        events: &events,
        active: b.active.unwrap_or(true),
    };
    let hook = state.store.add_webhook(&state.ids, &input).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "webhook": hook })),
    ))
}

pub async fn api_show(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let hook = api_hook(&state, &id).await?;
    let deliveries = state.store.hook_deliveries(&id, LOG).await?;
    Ok(Json(json!({ "webhook": hook, "deliveries": deliveries })))
}

pub async fn api_update(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
    b: Result<Json<HookBody>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let before = api_hook(&state, &id).await?;
    let b = body(b)?;
    let events = b.events.unwrap_or(before.events);
    let url = b.url.unwrap_or(before.url);
    let description = b.description.unwrap_or(before.description);
    let input = HookInput {
        url: &url,
        description: &description,
        events: &events,
        active: b.active.unwrap_or(before.active),
    };
    let hook = state
        .store
        .update_webhook(&id, &input, state.ids.now_ms())
        .await?;
    Ok(Json(json!({ "webhook": hook })))
}

pub async fn api_delete(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    api_hook(&state, &id).await?;
    state.store.remove_webhook(&id).await?;
    Ok(Json(json!({ "removed": id })))
}

/// [`own_delivery`] for the API: another subscription's is not found.
async fn api_delivery_of(
    state: &AppState,
    hook: &str,
    delivery: &str,
) -> Result<HookDelivery, ApiError> {
    own_delivery(state, hook, delivery)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("delivery {delivery} not found")))
}

pub async fn api_delivery(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path((hook, delivery)): Path<(String, String)>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let d = api_delivery_of(&state, &hook, &delivery).await?;
    let attempts = state.store.hook_attempts(&d.id).await?;
    Ok(Json(json!({ "delivery": d, "attempts": attempts })))
}

pub async fn api_resend(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path((hook, delivery)): Path<(String, String)>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let d = api_delivery_of(&state, &hook, &delivery).await?;
    resend(&state, &d).await?;
    Ok(Json(
        json!({ "delivery": state.store.hook_delivery(&d.id).await? }),
    ))
}
