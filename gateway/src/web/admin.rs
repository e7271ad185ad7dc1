//! User administration (admins only): the list, invitations, editing, deactivation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::{Role, Tier};
use switchboard_core::store::{LinkPurpose, UserUpdate};

use super::auth::locale_options;
use super::i18n::{Locale, Tr};
use super::session::{AdminAgent, WebAgent};
use super::{FieldError, Page, WebError, render};
use crate::app::AppState;

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60_000;

fn require_admin(agent: &WebAgent) -> Result<(), WebError> {
    if agent.user.role == Role::Admin {
        Ok(())
    } else {
        Err(WebError::Forbidden(agent.tr))
    }
}

pub struct UserRow {
    id: String,
    name: String,
    email: String,
    role: String,
    tier: String,
    teams: String,
    totp: bool,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    p: Page,
    users: Vec<UserRow>,
    notice: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let t = agent.tr;
    let users = state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.user.role.is_agent())
        .map(|u| UserRow {
            id: u.user.id.clone(),
            name: super::view::display_name(&u.user),
            email: u.user.email.clone(),
            role: t.t(&format!("role-{}", u.user.role.as_str())),
            tier: u
                .user
                .tier
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            teams: u.teams.join(", "),
            totp: u.user.totp_enabled,
            active: u.user.active,
        })
        .collect();
    let p = Page::agent(&state, &agent, t.t("users-title"), "users").await?;
    Ok(render(&UsersPage {
        p,
        users,
        notice: None,
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    teams: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    capacity: String,
    #[serde(skip)]
    active: bool,
}

#[derive(Template)]
#[template(path = "admin_user_form.html")]
struct UserFormPage {
    p: Page,
    heading: String,
    action: String,
    submit: String,
    is_new: bool,
    form: UserForm,
    errors: Vec<FieldError>,
    invite_link: Option<String>,
    role_options: Vec<(String, String, bool)>,
    tier_options: Vec<(String, String, bool)>,
    locale_options: Vec<(String, String, bool)>,
}

async fn form_page(
    state: &AppState,
    agent: &WebAgent,
    user_id: Option<&str>,
    form: UserForm,
    errors: Vec<FieldError>,
    invite_link: Option<String>,
) -> Result<Response, WebError> {
    let t: Tr = agent.tr;
    let is_new = user_id.is_none();
    let heading = t.t(if is_new { "users-invite" } else { "edit-user" });
    let p = Page::agent(state, agent, heading.clone(), "users").await?;
    let role_options = [
        Role::Support,
        Role::Coordinator,
        Role::Supervisor,
        Role::Admin,
    ]
    .into_iter()
    .map(|r| {
        (
            r.as_str().to_owned(),
            t.t(&format!("role-{}", r.as_str())),
            form.role == r.as_str(),
        )
    })
    .collect();
    let tier_options = [Tier::N1, Tier::N2, Tier::N3]
        .into_iter()
        .map(|x| {
            (
                x.as_str().to_owned(),
                x.as_str().to_owned(),
                form.tier == x.as_str(),
            )
        })
        .collect();
    let locale_options = locale_options(Some(form.locale.as_str()).filter(|l| !l.is_empty()));
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut resp = render(&UserFormPage {
        p,
        action: user_id.map_or_else(
            || "/admin/users/new".to_owned(),
            |id| format!("/admin/users/{id}"),
        ),
        submit: t.t(if is_new { "invite-submit" } else { "save" }),
        heading,
        is_new,
        form,
        errors,
        invite_link,
        role_options,
        tier_options,
        locale_options,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

pub async fn new_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let form = UserForm {
        role: "support".into(),
        tier: "N1".into(),
        locale: agent.tr.lang().into(),
        capacity: "10".into(),
        active: true,
        ..UserForm::default()
    };
    form_page(&state, &agent, None, form, Vec::new(), None).await
}

fn update_of(form: &UserForm) -> Result<(Role, UserUpdate), switchboard_core::Error> {
    let role = Role::parse(&form.role)?;
    let tier = if role == Role::Support {
        Some(Tier::parse(if form.tier.is_empty() {
            "N1"
        } else {
            &form.tier
        })?)
    } else {
        None
    };
    let capacity = if form.capacity.trim().is_empty() {
        None
    } else {
        Some(
            form.capacity
                .trim()
                .parse::<i64>()
                .map_err(|_| switchboard_core::Error::invalid("capacity must be a whole number"))?,
        )
    };
    let teams: Vec<String> = form
        .teams
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    Ok((
        role,
        UserUpdate {
            name: Some(form.name.trim().to_owned()),
            role: Some(role),
            tier,
            teams: Some(teams),
            locale: Locale::parse(&form.locale).map(|l| l.tag().to_owned()),
            capacity,
            ..UserUpdate::default()
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Form(form): Form<UserForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let (st, ag) = (&state, &agent);
    let fail = |field: &'static str, message: String, form: UserForm| async move {
        form_page(
            st,
            ag,
            None,
            form,
            vec![FieldError { field, message }],
            None,
        )
        .await
    };
    let (role, update) = match update_of(&form) {
        Ok(u) => u,
        Err(e) => return fail("role", e.to_string(), form).await,
    };
    let user = match state
        .store
        .create_user(
            &state.ids,
            &form.email,
            Some(form.name.trim()).filter(|n| !n.is_empty()),
            role,
            update.tier,
        )
        .await
    {
        Ok(u) => u,
        Err(e @ (switchboard_core::Error::Invalid(_) | switchboard_core::Error::Conflict(_))) => {
            return fail("email", e.to_string(), form).await;
        }
        Err(e) => return Err(e.into()),
    };
    state.store.update_user(&user.id, &update).await?;
    let token = state
        .store
        .issue_account_link(&state.ids, &user.id, LinkPurpose::Invite, INVITE_TTL_MS)
        .await?;
    let link = format!(
        "{}/invite?token={token}",
        state.config.public_url.trim_end_matches('/')
    );
    let tr = Tr::new(Locale::parse(&form.locale).unwrap_or(agent.tr.locale));
    state.mailer.send(
        &user.email,
        &tr.t("invite-mail-subject"),
        &format!("{}\n\n{link}\n", tr.t("invite-mail-body")),
    );
    form_page(&state, &agent, Some(&user.id), form, Vec::new(), Some(link)).await
}

pub async fn edit_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(user_id): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let Some(u) = state
        .store
        .list_users()
        .await?
        .into_iter()
        .find(|u| u.user.id == user_id)
    else {
        return Err(WebError::NotFound(agent.tr));
    };
    let form = UserForm {
        email: u.user.email.clone(),
        name: u.user.name.clone().unwrap_or_default(),
        role: u.user.role.as_str().to_owned(),
        tier: u
            .user
            .tier
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        teams: u.teams.join(", "),
        locale: u.user.locale.clone(),
        capacity: u.user.capacity.to_string(),
        active: u.user.active,
    };
    form_page(&state, &agent, Some(&user_id), form, Vec::new(), None).await
}

pub async fn update(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(user_id): Path<String>,
    Form(form): Form<UserForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    if state
        .store
        .user_including_inactive(&user_id)
        .await?
        .is_none()
    {
        return Err(WebError::NotFound(agent.tr));
    }
    let result = match update_of(&form) {
        Ok((_, update)) => state.store.update_user(&user_id, &update).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(e @ (switchboard_core::Error::Invalid(_) | switchboard_core::Error::Conflict(_))) => {
            form_page(
                &state,
                &agent,
                Some(&user_id),
                form,
                vec![FieldError {
                    field: "role",
                    message: e.to_string(),
                }],
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    active: String,
}

pub async fn set_active(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(user_id): Path<String>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    if user_id == agent.user.id {
        return Err(WebError::Forbidden(agent.tr));
    }
    if state
        .store
        .user_including_inactive(&user_id)
        .await?
        .is_none()
    {
        return Err(WebError::NotFound(agent.tr));
    }
    state
        .store
        .set_user_active(&user_id, form.active == "1", state.ids.now_ms())
        .await?;
    Ok(Redirect::to("/admin/users").into_response())
}

/// One mailbox on the email settings page.
pub struct MailboxRow {
    name: String,
    address: String,
    imap: Option<String>,
    smtp: Option<String>,
    folder: String,
    login: String,
    relay: bool,
    /// `ok`, `error` or `none` (never connected).
    state: String,
    detail: String,
    fetched: i64,
    /// The result of "Test connection" on this mailbox: worked, what was said.
    tested: Option<(bool, String)>,
}

#[derive(Template)]
#[template(path = "admin_email.html")]
struct EmailPage {
    p: Page,
    mailboxes: Vec<MailboxRow>,
}

async fn email_page(
    state: &AppState,
    agent: &WebAgent,
    tested: Option<(&str, bool, String)>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let statuses = state.store.email_statuses().await?;
    let mailboxes = state
        .config
        .email
        .inboxes
        .iter()
        .map(|i| {
            let s = statuses.iter().find(|s| s.inbox == i.inbox());
            MailboxRow {
                name: i.name.clone(),
                address: i.address.clone(),
                imap: i.imap_url.clone(),
                smtp: i.smtp_url.clone(),
                folder: i.folder.clone(),
                login: match (&i.oauth2, &i.password) {
                    (Some(o), _) => format!("OAuth2 ({:?})", o.mechanism).to_uppercase(),
                    (None, Some(_)) => t.t("email-login-password"),
                    (None, None) => t.t("email-not-set"),
                },
                relay: i.http_secret.is_some(),
                state: match s {
                    Some(s) if s.ok => "ok".into(),
                    Some(_) => "error".into(),
                    None => "none".into(),
                },
                detail: s.map_or_else(|| t.t("email-state-none"), |s| s.detail.clone()),
                fetched: s.map_or(0, |s| s.fetched),
                tested: tested
                    .as_ref()
                    .filter(|(name, _, _)| *name == i.name)
                    .map(|(_, ok, said)| (*ok, said.clone())),
            }
        })
        .collect();
    let p = Page::agent(state, agent, t.t("email-title"), "email").await?;
    Ok(render(&EmailPage { p, mailboxes }))
}

/// The email settings: each mailbox, how its connection is doing, and a test.
pub async fn email(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    email_page(&state, &agent, None).await
}

/// "Test connection": logs in to the mailbox's IMAP and SMTP servers (nothing is read,
/// moved or sent) and says how it went.
pub async fn email_test(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let t = agent.tr;
    let Some(inbox) = state.config.email.inboxes.iter().find(|i| i.name == name) else {
        return Err(WebError::NotFound(t));
    };
    let mut parts = Vec::new();
    let mut ok = true;
    if inbox.imap_url.is_some() {
        match crate::email::poller::test_imap(inbox).await {
            Ok(m) => parts.push(format!("IMAP: {m}")),
            Err(e) => {
                ok = false;
                parts.push(format!("IMAP: {e}"));
            }
        }
    }
    if inbox.smtp_url.is_some() {
        let result = match &state.email_sender {
            Some(sender) => sender.test(&inbox.inbox()).await,
            None => Err("no SMTP sender".into()),
        };
        match result {
            Ok(()) => parts.push(format!("SMTP: {}", t.t("email-smtp-ok"))),
            Err(e) => {
                ok = false;
                parts.push(format!("SMTP: {e}"));
            }
        }
    }
    let head = if ok {
        t.t("email-test-ok")
    } else {
        t.t("email-test-failed")
    };
    email_page(
        &state,
        &agent,
        Some((
            inbox.name.as_str(),
            ok,
            format!("{head} {}", parts.join(" · ")),
        )),
    )
    .await
}
