//! Saved replies (canned responses): every agent reads them and inserts them with
//! `/shortcut`; agents who answer add their own and change what they wrote; admins change
//! any, including the standard set. The store enforces who may change what.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::Role;
use switchboard_core::store::{CannedInput, CannedResponse};

use crate::kit::AppState;
use crate::kit::i18n::locale_label;
use crate::kit::page::{FieldError, Page, WebError, render, render_form};
use crate::kit::session::{WebAgent, WriterAgent};

pub struct Row {
    id: String,
    shortcut: String,
    title: String,
    body: String,
    locale: String,
    standard: bool,
    editable: bool,
}

#[derive(Template)]
#[template(path = "saved_replies.html")]
struct ListPage {
    p: Page,
    rows: Vec<Row>,
    locale_options: Vec<(String, String, bool)>,
    can_add: bool,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    locale: String,
    #[serde(default)]
    done: String,
}

const LOCALES: [&str; 3] = ["en", "es", "pt-BR"];

fn editable(agent: &WebAgent, c: &CannedResponse) -> bool {
    agent.user.role == Role::Admin
        || (agent.user.role.can_reply() && c.created_by.as_deref() == Some(agent.user.id.as_str()))
}

pub async fn list(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<ListParams>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let locale = LOCALES.iter().find(|l| **l == q.locale).copied();
    let rows = state
        .store
        .canned_responses(locale)
        .await?
        .into_iter()
        .map(|c| Row {
            editable: editable(&agent, &c),
            id: c.id,
            shortcut: c.shortcut,
            title: c.title,
            body: c.body,
            locale: locale_label(&c.locale),
            standard: c.created_by.is_none(),
        })
        .collect();
    let mut locale_options = vec![(String::new(), t.t("saved-all-languages"), locale.is_none())];
    locale_options.extend(
        LOCALES
            .iter()
            .map(|l| ((*l).to_owned(), locale_label(l), Some(*l) == locale)),
    );
    let notice = match q.done.as_str() {
        "added" => Some(t.t("saved-added")),
        "changed" => Some(t.t("saved-changed")),
        "removed" => Some(t.t("saved-removed")),
        _ => None,
    };
    let p = Page::agent(&state, &agent, t.t("saved-title"), "saved").await?;
    Ok(render(&ListPage {
        p,
        rows,
        locale_options,
        can_add: agent.user.role.can_reply(),
        notice,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct SavedForm {
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
}

impl SavedForm {
    fn input(&self) -> CannedInput {
        CannedInput {
            shortcut: self.shortcut.clone(),
            locale: self.locale.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "saved_reply_form.html")]
struct FormPage {
    p: Page,
    heading: String,
    action: String,
    is_new: bool,
    form: SavedForm,
    locale_options: Vec<(String, String, bool)>,
    errors: Vec<FieldError>,
}

async fn form_page(
    state: &AppState,
    agent: &WebAgent,
    id: Option<&str>,
    form: SavedForm,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let locale_options = LOCALES
        .iter()
        .map(|l| ((*l).to_owned(), locale_label(l), *l == form.locale))
        .collect();
    let (heading, action) = match id {
        Some(id) => (t.t("saved-edit"), format!("/saved-replies/{id}")),
        None => (t.t("saved-new"), "/saved-replies/new".to_owned()),
    };
    let p = Page::agent(state, agent, heading.clone(), "saved").await?;
    let has_errors = !errors.is_empty();
    Ok(render_form(
        &FormPage {
            p,
            heading,
            action,
            is_new: id.is_none(),
            form,
            locale_options,
            errors,
        },
        has_errors,
    ))
}

/// The store's refusal beside the field it names.
fn field_error(e: switchboard_core::Error) -> Result<FieldError, switchboard_core::Error> {
    crate::kit::page::field_error(
        e,
        &[
            ("shortcut", "shortcut"),
            ("locale", "locale"),
            ("language", "locale"),
            ("title", "title"),
        ],
        "body",
    )
}

pub async fn new_page(
    State(state): State<AppState>,
    agent: WebAgent,
) -> Result<Response, WebError> {
    if !agent.user.role.can_reply() {
        return Err(WebError::Forbidden(agent.tr));
    }
    let form = SavedForm {
        locale: agent.tr.lang().to_owned(),
        ..SavedForm::default()
    };
    form_page(&state, &agent, None, form, Vec::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Form(form): Form<SavedForm>,
) -> Result<Response, WebError> {
    match state
        .store
        .create_canned(&state.ids, &agent.caller, &form.input())
        .await
    {
        Ok(_) => Ok(Redirect::to("/saved-replies?done=added").into_response()),
        Err(e) => {
            let error = field_error(e)?;
            form_page(&state, &agent, None, form, vec![error]).await
        }
    }
}

async fn own(state: &AppState, agent: &WebAgent, id: &str) -> Result<CannedResponse, WebError> {
    let c = state.store.canned_response(id).await.map_err(|e| match e {
        switchboard_core::Error::NotFound(_) => WebError::NotFound(agent.tr),
        e => e.into(),
    })?;
    if !editable(agent, &c) {
        return Err(WebError::Forbidden(agent.tr));
    }
    Ok(c)
}

pub async fn edit_page(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let c = own(&state, &agent, &id).await?;
    let form = SavedForm {
        shortcut: c.shortcut,
        locale: c.locale,
        title: c.title,
        body: c.body,
    };
    form_page(&state, &agent, Some(&id), form, Vec::new()).await
}

pub async fn update(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Path(id): Path<String>,
    Form(form): Form<SavedForm>,
) -> Result<Response, WebError> {
    own(&state, &agent, &id).await?;
    match state
        .store
        .update_canned(&state.ids, &agent.caller, &id, &form.input())
        .await
    {
        Ok(_) => Ok(Redirect::to("/saved-replies?done=changed").into_response()),
        Err(e) => {
            let error = field_error(e)?;
            form_page(&state, &agent, Some(&id), form, vec![error]).await
        }
    }
}

pub async fn delete(
    State(state): State<AppState>,
    WriterAgent(agent): WriterAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    own(&state, &agent, &id).await?;
    state.store.delete_canned(&agent.caller, &id).await?;
    Ok(Redirect::to("/saved-replies?done=removed").into_response())
}
