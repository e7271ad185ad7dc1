//! User administration (admins only): the list, invitations, editing, deactivation.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::{Role, Tier};
use switchboard_core::store::{LinkPurpose, UserUpdate};

use crate::kit::AppState;
use crate::kit::i18n::locale_options;
use crate::kit::i18n::{Locale, Tr};
use crate::kit::page::{FieldError, Page, WebError, render};
use crate::kit::session::{AdminAgent, WebAgent};

const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60_000;

pub(super) fn require_admin(agent: &WebAgent) -> Result<(), WebError> {
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
            name: crate::kit::view::display_name(&u.user),
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
    /// Added on this page (editable here), or from the configuration file.
    from_page: bool,
}

#[derive(Template)]
#[template(path = "admin_email.html")]
struct EmailPage {
    p: Page,
    mailboxes: Vec<MailboxRow>,
    notice: Option<String>,
}

async fn email_page(
    state: &AppState,
    agent: &WebAgent,
    tested: Option<(&str, bool, String)>,
    notice: Option<String>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let statuses = state.store.email_statuses().await?;
    let mailboxes = state
        .mailboxes
        .all()
        .into_iter()
        .map(|m| {
            let from_page = m.from_page;
            let i = &m.inbox;

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
                from_page,
                tested: tested
                    .as_ref()
                    .filter(|(name, _, _)| *name == i.name)
                    .map(|(_, ok, said)| (*ok, said.clone())),
            }
        })
        .collect();
    let p = Page::agent(state, agent, t.t("email-title"), "email").await?;
    Ok(render(&EmailPage {
        p,
        mailboxes,
        notice,
    }))
}

/// What a settings page's redirect says was done (`?done=added`), for its notice.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

/// The email settings: each mailbox, how its connection is doing, and a test.
pub async fn email(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let notice = match q.done.as_str() {
        "added" => Some(agent.tr.t("email-added")),
        "changed" => Some(agent.tr.t("email-changed")),
        "removed" => Some(agent.tr.t("email-removed")),
        _ => None,
    };
    email_page(&state, &agent, None, notice).await
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
    let Some(inbox) = state.mailboxes.get(&name).map(|m| m.inbox) else {
        return Err(WebError::NotFound(t));
    };
    let inbox = &inbox;
    let mut parts = Vec::new();
    let mut ok = true;
    if inbox.imap_url.is_some() {
        match crate::kit::mail::poller::test_imap(inbox).await {
            Ok(m) => parts.push(format!("IMAP: {m}")),
            Err(e) => {
                ok = false;
                parts.push(format!("IMAP: {e}"));
            }
        }
    }
    if inbox.smtp_url.is_some() {
        let result = state.email_sender.test(&inbox.inbox()).await;
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
        None,
    )
    .await
}

/// A mailbox as the settings page edits it. Secrets left blank on an edit keep their
/// stored value.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct MailboxForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    from_name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    imap_url: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    processed_folder: String,
    #[serde(default)]
    backfill_days: String,
    #[serde(default)]
    poll_seconds: String,
    #[serde(default)]
    smtp_url: String,
    /// `password` or `oauth2`.
    #[serde(default)]
    auth: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    oauth_token_url: String,
    #[serde(default)]
    oauth_client_id: String,
    #[serde(default)]
    oauth_client_secret: String,
    #[serde(default)]
    oauth_refresh_token: String,
    #[serde(default)]
    oauth_scope: String,
    #[serde(default)]
    oauth_mechanism: String,
}

impl MailboxForm {
    fn from_settings(v: &serde_json::Value) -> Self {
        let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        let o = &v["oauth2"];
        Self {
            name: text("name"),
            address: text("address"),
            from_name: text("from_name"),
            language: text("language"),
            imap_url: text("imap_url"),
            folder: text("folder"),
            processed_folder: text("processed_folder"),
            backfill_days: v["backfill_days"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default(),
            poll_seconds: v["poll_seconds"]
                .as_u64()
                .map(|n| n.to_string())
                .unwrap_or_default(),
            smtp_url: text("smtp_url"),
            auth: if o.is_object() { "oauth2" } else { "password" }.to_owned(),
            username: text("username"),
            password: String::new(),
            oauth_token_url: o["token_url"].as_str().unwrap_or("").to_owned(),
            oauth_client_id: o["client_id"].as_str().unwrap_or("").to_owned(),
            oauth_client_secret: String::new(),
            oauth_refresh_token: String::new(),
            oauth_scope: o["scope"].as_str().unwrap_or("").to_owned(),
            oauth_mechanism: o["mechanism"].as_str().unwrap_or("xoauth2").to_owned(),
        }
    }

    /// The settings as stored (secrets included), keeping `before`'s secrets where the
    /// form left them blank; or the field at fault.
    fn settings(
        &self,
        t: Tr,
        before: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, FieldError> {
        use serde_json::{Map, Value, json};
        let mut m = Map::new();
        let put = |m: &mut Map<String, Value>, k: &str, v: &str| {
            if !v.trim().is_empty() {
                m.insert(k.to_owned(), Value::String(v.trim().to_owned()));
            }
        };
        put(&mut m, "name", &self.name.to_lowercase());
        put(&mut m, "address", &self.address.to_lowercase());
        put(&mut m, "from_name", &self.from_name);
        put(&mut m, "language", &self.language);
        put(&mut m, "imap_url", &self.imap_url);
        put(&mut m, "folder", &self.folder);
        put(&mut m, "processed_folder", &self.processed_folder);
        put(&mut m, "smtp_url", &self.smtp_url);
        put(&mut m, "username", &self.username);
        let number = |field: &'static str, v: &str| -> Result<Option<u64>, FieldError> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.trim().parse::<u64>().map(Some).map_err(|_| FieldError {
                field,
                message: t.t("email-error-number"),
            })
        };
        if let Some(n) = number("backfill_days", &self.backfill_days)? {
            m.insert("backfill_days".into(), json!(n));
        }
        if let Some(n) = number("poll_seconds", &self.poll_seconds)? {
            m.insert("poll_seconds".into(), json!(n));
        }
        let kept = |path: &[&str]| -> Option<String> {
            let mut v = before?;
            for p in path {
                v = v.get(*p)?;
            }
            v.as_str().map(str::to_owned)
        };
        if self.auth == "oauth2" {
            let mut o = Map::new();
            put(&mut o, "token_url", &self.oauth_token_url);
            put(&mut o, "client_id", &self.oauth_client_id);
            put(&mut o, "scope", &self.oauth_scope);
            put(&mut o, "mechanism", &self.oauth_mechanism);
            let secret = self.oauth_client_secret.trim().to_owned();
            let secret = if secret.is_empty() {
                kept(&["oauth2", "client_secret"]).unwrap_or_default()
            } else {
                secret
            };
            put(&mut o, "client_secret", &secret);
            let refresh = self.oauth_refresh_token.trim().to_owned();
            let refresh = if refresh.is_empty() {
                kept(&["oauth2", "refresh_token"]).unwrap_or_default()
            } else {
                refresh
            };
            for (field, value) in [
                ("oauth_token_url", &self.oauth_token_url),
                ("oauth_client_id", &self.oauth_client_id),
                ("oauth_refresh_token", &refresh),
            ] {
                if value.trim().is_empty() {
                    return Err(FieldError {
                        field,
                        message: t.t("email-error-required"),
                    });
                }
            }
            put(&mut o, "refresh_token", &refresh);
            m.insert("oauth2".into(), Value::Object(o));
        } else {
            let password = if self.password.is_empty() {
                kept(&["password"]).unwrap_or_default()
            } else {
                self.password.clone()
            };
            if !password.is_empty() {
                m.insert("password".into(), Value::String(password));
            }
        }
        for (field, value) in [("name", &self.name), ("address", &self.address)] {
            if value.trim().is_empty() {
                return Err(FieldError {
                    field,
                    message: t.t("email-error-required"),
                });
            }
        }
        Ok(Value::Object(m))
    }
}

/// The form field a mailbox check is about.
fn mailbox_field(field: &str) -> &'static str {
    match field {
        "name" => "name",
        "address" => "address",
        "language" => "language",
        "imap_url" => "imap_url",
        "smtp_url" => "smtp_url",
        "folder" => "folder",
        "poll_seconds" => "poll_seconds",
        "oauth2" | "oauth2.token_url" => "oauth_token_url",
        _ => "password",
    }
}

#[derive(Template)]
#[template(path = "admin_email_form.html")]
struct MailboxFormPage {
    p: Page,
    heading: String,
    action: String,
    is_new: bool,
    form: MailboxForm,
    locale_options: Vec<(String, String, bool)>,
    errors: Vec<FieldError>,
}

async fn mailbox_form_page(
    state: &AppState,
    agent: &WebAgent,
    name: Option<&str>,
    form: MailboxForm,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    let (heading, action) = match name {
        Some(n) => (t.t("email-edit"), format!("/admin/email/{n}/edit")),
        None => (t.t("email-add"), "/admin/email/new".to_owned()),
    };
    let current = if form.language.is_empty() {
        "en"
    } else {
        form.language.as_str()
    };
    let locale_options = ["en", "es", "pt-BR"]
        .iter()
        .map(|l| {
            (
                (*l).to_owned(),
                crate::kit::i18n::locale_label(l),
                *l == current,
            )
        })
        .collect();
    let p = Page::agent(state, agent, heading.clone(), "email").await?;
    let failed = !errors.is_empty();
    let mut resp = render(&MailboxFormPage {
        p,
        heading,
        action,
        is_new: name.is_none(),
        form,
        locale_options,
        errors,
    });
    if failed {
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

pub async fn email_new_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let form = MailboxForm {
        folder: "INBOX".into(),
        backfill_days: "7".into(),
        poll_seconds: "60".into(),
        auth: "password".into(),
        oauth_mechanism: "xoauth2".into(),
        ..MailboxForm::default()
    };
    mailbox_form_page(&state, &agent, None, form, Vec::new()).await
}

/// The stored settings of a page mailbox, or 404 (a mailbox of the configuration file is
/// not edited here).
async fn stored_settings(
    state: &AppState,
    agent: &WebAgent,
    name: &str,
) -> Result<serde_json::Value, WebError> {
    let found = state
        .store
        .stored_mailboxes()
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, json)| serde_json::from_str(&json).ok());
    found.ok_or(WebError::NotFound(agent.tr))
}

/// Checks and saves a mailbox from the form; the form again with its errors otherwise.
async fn save_mailbox(
    state: &AppState,
    agent: &WebAgent,
    name: Option<&str>,
    mut form: MailboxForm,
    before: Option<serde_json::Value>,
) -> Result<Response, WebError> {
    let t = agent.tr;
    if let Some(n) = name {
        form.name = n.to_owned();
    }
    let settings = match form.settings(t, before.as_ref()) {
        Ok(s) => s,
        Err(e) => return mailbox_form_page(state, agent, name, form, vec![e]).await,
    };
    let inbox: crate::config::EmailInbox = match serde_json::from_value(settings.clone()) {
        Ok(i) => i,
        Err(e) => {
            let error = FieldError {
                field: "name",
                message: e.to_string(),
            };
            return mailbox_form_page(state, agent, name, form, vec![error]).await;
        }
    };
    if let Err((field, message)) = inbox.check() {
        let error = FieldError {
            field: mailbox_field(field),
            message,
        };
        return mailbox_form_page(state, agent, name, form, vec![error]).await;
    }
    if name.is_none() && state.mailboxes.get(&inbox.name).is_some() {
        let error = FieldError {
            field: "name",
            message: t.t("email-error-taken"),
        };
        return mailbox_form_page(state, agent, name, form, vec![error]).await;
    }
    state.mailboxes.save(state, inbox, &settings).await?;
    let done = if name.is_some() { "changed" } else { "added" };
    Ok(Redirect::to(&format!("/admin/email?done={done}")).into_response())
}

pub async fn email_create(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Form(form): Form<MailboxForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    save_mailbox(&state, &agent, None, form, None).await
}

pub async fn email_edit_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let settings = stored_settings(&state, &agent, &name).await?;
    let form = MailboxForm::from_settings(&settings);
    mailbox_form_page(&state, &agent, Some(&name), form, Vec::new()).await
}

pub async fn email_update(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
    Form(form): Form<MailboxForm>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    let before = stored_settings(&state, &agent, &name).await?;
    save_mailbox(&state, &agent, Some(&name), form, Some(before)).await
}

pub async fn email_delete(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    require_admin(&agent)?;
    stored_settings(&state, &agent, &name).await?;
    state.mailboxes.remove(&state, &name).await?;
    Ok(Redirect::to("/admin/email?done=removed").into_response())
}
