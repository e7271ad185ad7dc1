//! The WhatsApp settings page (admins only): each number with its ids, team, rate and
//! templates; numbers added, changed and removed here take effect at once on this node
//! (the webhook, the sender, the inbox's team), and on the others when a delivery names a
//! number they do not know yet. Secrets left blank keep their value; numbers of the
//! configuration file are shown but changed only in the file.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{DoneQuery, require_admin};
use crate::config::WhatsappNumber;
use crate::kit::AppState;
use crate::kit::page::{FieldError, Page, WebError, render};
use crate::kit::session::{AdminAgent, WebAgent};
use crate::kit::whatsapp::{reload, settings_json, stored, sync_templates};

pub struct NumberRow {
    name: String,
    display: String,
    phone_number_id: String,
    account: Option<String>,
    team: Option<String>,
    rate: u32,
    source: String,
    from_page: bool,
    approved: String,
}

#[derive(Template)]
#[template(path = "admin_whatsapp.html")]
struct NumbersPage {
    p: Page,
    numbers: Vec<NumberRow>,
    notice: Option<String>,
    webhook: String,
}

pub async fn list(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let t = agent.tr;
    let notice = match q.done.as_str() {
        "added" => Some(t.t("wa-added")),
        "changed" => Some(t.t("wa-changed")),
        "removed" => Some(t.t("wa-removed")),
        "synced" => Some(t.t("wa-synced")),
        _ => None,
    };
    let mut numbers = Vec::new();
    for n in state.whatsapp.all() {
        let templates = state.store.wa_templates(&n.inbox()).await?;
        let approved = templates.iter().filter(|t| t.status == "APPROVED").count();
        let from_page = state.whatsapp.from_page(&n.name);
        numbers.push(NumberRow {
            display: n
                .display_phone_number
                .clone()
                .unwrap_or_else(|| n.name.clone()),
            name: n.name.clone(),
            phone_number_id: n.phone_number_id.clone(),
            account: n.business_account_id.clone(),
            team: n.team.clone(),
            rate: n.messages_per_second,
            source: t.t(if from_page {
                "wa-source-page"
            } else {
                "wa-source-file"
            }),
            from_page,
            approved: approved.to_string(),
        });
    }
    let p = Page::agent(&state, &agent, t.t("wa-title"), "whatsapp").await?;
    Ok(render(&NumbersPage {
        p,
        numbers,
        notice,
        webhook: format!(
            "{}/webhooks/whatsapp",
            state.config.public_url.trim_end_matches('/')
        ),
    }))
}

/// The form as typed; secrets are never shown back.
#[derive(Debug, Default, Deserialize)]
pub struct NumberForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_phone_number: String,
    #[serde(default)]
    phone_number_id: String,
    #[serde(default)]
    business_account_id: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    messages_per_second: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    verify_token: String,
}

impl NumberForm {
    fn of(n: &WhatsappNumber) -> Self {
        Self {
            name: n.name.clone(),
            display_phone_number: n.display_phone_number.clone().unwrap_or_default(),
            phone_number_id: n.phone_number_id.clone(),
            business_account_id: n.business_account_id.clone().unwrap_or_default(),
            team: n.team.clone().unwrap_or_default(),
            messages_per_second: n.messages_per_second.to_string(),
            ..Self::default()
        }
    }

    /// The number this form describes; a blank secret keeps `before`'s.
    fn number(&self, before: Option<&WhatsappNumber>) -> Result<WhatsappNumber, FieldError> {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let secret =
            |typed: &str, kept: Option<String>, field: &'static str| match (opt(typed), kept) {
                (Some(s), _) | (None, Some(s)) => Ok(s),
                (None, None) => Err(FieldError {
                    field,
                    message: "must be given".into(),
                }),
            };
        let rate = match self.messages_per_second.trim() {
            "" => 20,
            r => r.parse().map_err(|_| FieldError {
                field: "messages_per_second",
                message: "must be a whole number".into(),
            })?,
        };
        let json = serde_json::json!({
            "name": self.name.trim(),
            "phone_number_id": self.phone_number_id.trim(),
            "display_phone_number": opt(&self.display_phone_number),
            "business_account_id": opt(&self.business_account_id),
            "team": opt(&self.team),
            "messages_per_second": rate,
            "token": secret(&self.token, before.map(|b| b.token.expose().to_owned()), "token")?,
            "app_secret": secret(&self.app_secret, before.map(|b| b.app_secret.expose().to_owned()), "app_secret")?,
            "verify_token": secret(&self.verify_token, before.map(|b| b.verify_token.expose().to_owned()), "verify_token")?,
        });
        let n: WhatsappNumber = serde_json::from_value(json).map_err(|e| FieldError {
            field: "name",
            message: e.to_string(),
        })?;
        n.check()
            .map_err(|(field, message)| FieldError { field, message })?;
        Ok(n)
    }
}

#[derive(Template)]
#[template(path = "admin_whatsapp_form.html")]
struct NumberFormPage {
    p: Page,
    heading: String,
    action: String,
    is_new: bool,
    form: NumberForm,
    errors: Vec<FieldError>,
}

async fn form_page(
    state: &AppState,
    agent: &WebAgent,
    name: Option<&str>,
    form: NumberForm,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let (heading, action) = match name {
        Some(n) => (t.t("wa-edit"), format!("/admin/whatsapp/{n}/edit")),
        None => (t.t("wa-add"), "/admin/whatsapp/new".to_owned()),
    };
    let p = Page::agent(state, agent, heading.clone(), "whatsapp").await?;
    let failed = !errors.is_empty();
    let mut resp = render(&NumberFormPage {
        p,
        heading,
        action,
        is_new: name.is_none(),
        form,
        errors,
    });
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// A number of the settings page, or 404 (one of the configuration file is not edited
/// here).
async fn page_number(
    state: &AppState,
    agent: &WebAgent,
    name: &str,
) -> Result<WhatsappNumber, WebError> {
    stored(&state.store)
        .await?
        .into_iter()
        .find(|n| n.name == name)
        .ok_or(WebError::NotFound(agent.tr))
}

async fn save(
    state: &AppState,
    agent: &WebAgent,
    name: Option<&str>,
    mut form: NumberForm,
    before: Option<WhatsappNumber>,
) -> Result<Response, WebError> {
    if let Some(n) = name {
        form.name = n.to_owned();
    }
    let number = match form.number(before.as_ref()) {
        Ok(n) => n,
        Err(e) => return form_page(state, agent, name, form, vec![e]).await,
    };
    let taken = state.whatsapp.all().into_iter().any(|n| {
        n.name != form.name.trim() && n.phone_number_id == number.phone_number_id
            || name.is_none() && n.name == number.name
    });
    if taken {
        let error = FieldError {
            field: "name",
            message: agent.tr.t("wa-error-taken"),
        };
        return form_page(state, agent, name, form, vec![error]).await;
    }
    state
        .store
        .put_wa_number(
            &number.name,
            &settings_json(&number).to_string(),
            state.ids.now_ms(),
        )
        .await?;
    reload(state).await?;
    crate::kit::settings::announce(
        state,
        crate::kit::settings::Change::Whatsapp {
            node: state.node.name.clone(),
        },
    )
    .await;
    let done = if name.is_some() { "changed" } else { "added" };
    Ok(Redirect::to(&format!("/admin/whatsapp?done={done}")).into_response())
}

pub async fn new_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let form = NumberForm {
        messages_per_second: "20".into(),
        ..NumberForm::default()
    };
    form_page(&state, &agent, None, form, Vec::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Form(form): Form<NumberForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    save(&state, &agent, None, form, None).await
}

pub async fn edit_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let n = page_number(&state, &agent, &name).await?;
    form_page(&state, &agent, Some(&name), NumberForm::of(&n), Vec::new()).await
}

pub async fn update(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
    Form(form): Form<NumberForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let before = page_number(&state, &agent, &name).await?;
    save(&state, &agent, Some(&name), form, Some(before)).await
}

pub async fn delete(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    page_number(&state, &agent, &name).await?;
    state.store.delete_wa_number(&name).await?;
    reload(&state).await?;
    crate::kit::settings::announce(
        &state,
        crate::kit::settings::Change::Whatsapp {
            node: state.node.name.clone(),
        },
    )
    .await;
    Ok(Redirect::to("/admin/whatsapp?done=removed").into_response())
}

/// "Read templates now": the Graph API's list, into the composer's cache.
pub async fn sync(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    if !state.whatsapp.all().iter().any(|n| n.name == name) {
        return Err(WebError::NotFound(agent.tr));
    }
    sync_templates(&state, Some(&name)).await;
    Ok(Redirect::to("/admin/whatsapp?done=synced").into_response())
}
