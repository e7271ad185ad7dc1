//! Clients managing access: a client admin's page of the company's portal users (invite,
//! remove, require two-step verification), every client's own sign-in settings (an
//! optional password, TOTP two-step verification), and the password and second-step
//! sign-in pages.
//!
//! - A magic link stays the default way in. A password is optional, per user.
//! - With TOTP on, every sign-in (link or password) asks for a code before the session is
//!   complete; a session waiting for its code opens no page but the code's.
//! - A company that requires two-step verification sends a user without it to set it up
//!   before anything else.
//!
//! With the store's `core/src/store/portal_users.rs`. A client admin lists, invites (by
//! mail, as user or admin) and removes the company's portal users, and may require two-step
//! verification of all. An invitation is a link carrying the company and role
//! (`magic_links`, migration 23): it moves nobody; the invitee joins on using it, and only
//! an address of no company (or of this one) joins, so a staff address or another company's
//! contact is refused then, and the admin's answer is the same for any address; pending
//! invitations are listed. A portal user's company is its contact's, read at every request,
//! and moving the contact ends its sessions. A link signs in its own address's portal user
//! only (`Store::portal_user_for_link`). A removed user's sessions, links, tokens and chat
//! ids end; nobody removes themselves or the last admin. Every client may set a password
//! (`/portal/login/password` then signs in; an agent's password never does) and TOTP (the
//! agents' store functions); with TOTP on, a sign-in by link or password opens an
//! incomplete session that reaches no page but `/portal/login/2fa`. A company requiring it
//! sends users without it to `/portal/account` first. Tests: conformance
//! `portal::invitations_never_move_another_companys_people`,
//! `portal::moving_a_contact_moves_its_portal_scope`,
//! `portal::a_link_signs_in_its_own_address_only`, e2e
//! `portal::client_admins_manage_users_and_two_step_verification`, the `trust::*` tests
//! (one per trust boundary, `docs/SECURITY.md`), browser `portal.test.mjs`.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use switchboard_core::domain::Role;
use switchboard_core::store::PortalUser;
use switchboard_portal::locale::Lang;

use super::auth::{safe_next, signed_in};
use super::pages::{audit, stamp};
use super::{Client, Layout, message, private};
use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::page::render;
use crate::kit::session::{SESSION_COOKIE, Signed, limits, set_cookie};
use crate::kit::words::{AccountWords, account_words, lang_of, words};

type PageResult = Result<Response, Response>;

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// A user row of the users page.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub admin: bool,
    pub two_factor: bool,
    pub last: String,
    pub me: bool,
}

#[derive(Template)]
#[template(path = "portal/users.html")]
struct UsersPage {
    l: Layout,
    a: &'static AccountWords,
    users: Vec<UserRow>,
    /// Invitations not used yet: address, role, until when the link works.
    pending: Vec<(String, &'static str, String)>,
    notice: Option<String>,
    error: Option<String>,
    email: String,
    name: String,
    require_2fa: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct NoticeQuery {
    done: Option<String>,
}

fn admins_only(state: &AppState, client: &Client) -> Result<(), Box<Response>> {
    if client.scope.is_admin() && client.scope.company_id.is_some() {
        Ok(())
    } else {
        let a = account_words(client.lang);
        Err(Box::new(message(
            state,
            client.lang,
            StatusCode::FORBIDDEN,
            a.users,
            a.admins_only,
        )))
    }
}

async fn users_page(
    state: &AppState,
    client: &Client,
    notice: Option<String>,
    error: Option<String>,
    email: String,
    name: String,
) -> PageResult {
    let a = account_words(client.lang);
    let list: Vec<PortalUser> = state
        .store
        .company_portal_users(&client.scope)
        .await
        .map_err(api)?;
    let pending = state
        .store
        .pending_invitations(&client.scope, state.ids.now_ms())
        .await
        .map_err(api)?
        .into_iter()
        .map(|p| {
            (
                p.email,
                if p.role == Role::ClientAdmin {
                    a.role_admin.split(':').next().unwrap_or("")
                } else {
                    a.role_user.split(':').next().unwrap_or("")
                },
                stamp(p.expires_at, client.lang).0,
            )
        })
        .collect();
    let page = UsersPage {
        l: Layout::client(state, client, a.users.to_owned(), "users"),
        a,
        pending,
        users: list
            .iter()
            .map(|u| UserRow {
                id: u.id.clone(),
                name: u.name.clone().unwrap_or_default(),
                email: u.email.clone(),
                role: if u.role == Role::ClientAdmin {
                    a.role_admin.split(':').next().unwrap_or("")
                } else {
                    a.role_user.split(':').next().unwrap_or("")
                },
                admin: u.role == Role::ClientAdmin,
                two_factor: u.two_factor,
                last: u
                    .last_login_at
                    .map(|t| stamp(t, client.lang).0)
                    .unwrap_or_else(|| a.never.to_owned()),
                me: u.id == client.scope.user_id,
            })
            .collect(),
        notice,
        error: error.clone(),
        email,
        name,
        require_2fa: client.scope.company_requires_2fa,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(private((status, render(&page)).into_response()))
}

/// `GET /portal/users`: the company's portal users (client admins only).
pub async fn list(
    State(state): State<AppState>,
    client: Client,
    query: Result<Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    admins_only(&state, &client).map_err(|r| *r)?;
    let a = account_words(client.lang);
    let notice = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("invited") => Some(a.invited.to_owned()),
        Some("removed") => Some(a.removed.to_owned()),
        Some("saved") => Some(a.saved.to_owned()),
        _ => None,
    };
    users_page(&state, &client, notice, None, String::new(), String::new()).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// `POST /portal/users`: invites someone to the company's portal by mail.
pub async fn invite(
    State(state): State<AppState>,
    client: Client,
    form: Result<Form<InviteForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    admins_only(&state, &client).map_err(|r| *r)?;
    let a = account_words(client.lang);
    let Ok(Form(form)) = form else {
        return users_page(
            &state,
            &client,
            None,
            Some(words(client.lang).email_missing.to_owned()),
            String::new(),
            String::new(),
        )
        .await;
    };
    let role = if form.role == "admin" {
        Role::ClientAdmin
    } else {
        Role::ClientUser
    };
    let days = state.config.portal.invoice_link_days.max(1);
    let invited = state
        .store
        .invite_portal_user(
            &state.ids,
            &client.scope,
            &switchboard_core::store::Invite {
                email: form.email.trim(),
                name: Some(form.name.trim()),
                role,
                ttl_ms: days * 86_400_000,
            },
        )
        .await;
    let invitee = match invited {
        Ok(s) => s,
        Err(switchboard_core::Error::Invalid(m)) => {
            return users_page(&state, &client, None, Some(m), form.email, form.name).await;
        }
        Err(switchboard_core::Error::Conflict(_)) => {
            tracing::info!(target: "audit", by = %client.scope.user_id, "portal invitation refused");
            return users_page(
                &state,
                &client,
                None,
                Some(a.cannot_invite.to_owned()),
                form.email,
                form.name,
            )
            .await;
        }
        Err(e) => return Err(api(e)),
    };
    audit(
        &state,
        &client,
        "invite",
        Some(&invitee.email),
        Some(invitee.role.as_str()),
    )
    .await;
    let url = super::auth::link_url(&state, &invitee.token, "/portal");
    let business = &state.config.web.business_name;
    let who = client
        .scope
        .name
        .clone()
        .unwrap_or_else(|| client.scope.email.clone());
    let fill = |s: &str| s.replace("{business}", business).replace("{who}", &who);
    let cl = switchboard_channels::email::compose::Lang::from_tag(client.lang.tag());
    let (subject, text) = (fill(a.invite_mail_subject), fill(a.invite_mail_text));
    let bg = state.clone();
    let to = invitee.email.clone();
    let button = a.invite_mail_button.to_owned();
    // The page answers at once; the mail goes in the background, like sign-in links.
    tokio::spawn(async move {
        if let Err(e) = bg
            .email_sender
            .send_direct(&to, &subject, &text, Some((button, url)), Some(cl))
            .await
        {
            tracing::warn!(error = %e, "portal invitation not mailed");
        }
    });
    Ok(private(
        Redirect::to("/portal/users?done=invited").into_response(),
    ))
}

/// `POST /portal/users/{id}/remove`.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    Path(id): Path<String>,
) -> PageResult {
    admins_only(&state, &client).map_err(|r| *r)?;
    match state
        .store
        .remove_portal_user(&client.scope, &id, state.ids.now_ms())
        .await
    {
        Ok(()) => {}
        Err(switchboard_core::Error::NotFound(_)) => {
            return Err(super::not_found(&state, client.lang));
        }
        Err(switchboard_core::Error::Conflict(m)) => {
            return users_page(&state, &client, None, Some(m), String::new(), String::new()).await;
        }
        Err(e) => return Err(api(e)),
    }
    audit(&state, &client, "remove_user", Some(&id), None).await;
    Ok(private(
        Redirect::to("/portal/users?done=removed").into_response(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct RequireForm {
    #[serde(default)]
    require: String,
}

/// `POST /portal/users/2fa`: whether everyone must use two-step verification.
pub async fn require_2fa(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<RequireForm>,
) -> PageResult {
    admins_only(&state, &client).map_err(|r| *r)?;
    let on = form.require == "1";
    state
        .store
        .set_company_requires_2fa(&client.scope, on)
        .await
        .map_err(api)?;
    audit(
        &state,
        &client,
        "require_2fa",
        None,
        Some(if on { "on" } else { "off" }),
    )
    .await;
    Ok(private(
        Redirect::to("/portal/users?done=saved").into_response(),
    ))
}

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage {
    l: Layout,
    a: &'static AccountWords,
    notice: Option<String>,
    error: Option<String>,
    required: bool,
    two_factor: bool,
    has_password: bool,
    pending_secret: Option<String>,
    qr_svg: String,
    recovery_codes: Vec<String>,
    /// WhatsApp, when the business has a number: "continue on WhatsApp" and notices.
    wa: Option<crate::portal::whatsapp::WaView>,
    /// The page's language, to select in the language form.
    lang_tag: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct AccountView {
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) pending_secret: Option<String>,
    pub(crate) recovery_codes: Vec<String>,
}

pub(crate) async fn account_page(state: &AppState, client: &Client, v: AccountView) -> PageResult {
    let a = account_words(client.lang);
    let two_factor = state
        .store
        .totp_enabled(&client.scope.user_id)
        .await
        .map_err(api)?;
    let has_password = state
        .store
        .user_password_set(&client.scope.user_id)
        .await
        .map_err(api)?;
    let qr_svg = v
        .pending_secret
        .as_deref()
        .map(|s| {
            let issuer = crate::kit::session::urlencode(&state.config.web.business_name);
            crate::kit::auth::qr_svg(&format!(
                "otpauth://totp/{issuer}:{account}?secret={s}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
                account = crate::kit::session::urlencode(&client.scope.email),
            ))
        })
        .unwrap_or_default();
    let status = if v.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = AccountPage {
        l: Layout::client(state, client, a.security.to_owned(), "account"),
        a,
        required: client.scope.company_requires_2fa && !two_factor,
        notice: v.notice,
        error: v.error,
        two_factor,
        has_password,
        pending_secret: v.pending_secret,
        qr_svg,
        recovery_codes: v.recovery_codes,
        lang_tag: client.lang.tag(),
        wa: crate::portal::whatsapp::view(state, client)
            .await
            .map_err(api)?,
    };
    Ok(private((status, render(&page)).into_response()))
}

/// `GET /portal/account`: the client's password and two-step verification.
pub async fn account(State(state): State<AppState>, client: Client) -> PageResult {
    account_page(&state, &client, AccountView::default()).await
}

#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    #[serde(default)]
    language: String,
}

/// `POST /portal/account/language`: the client's language, for its pages, our mail and its
/// documents.
pub async fn set_language(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<LanguageForm>,
) -> PageResult {
    match state
        .store
        .set_contact_language(&client.scope.contact_id, &form.language)
        .await
    {
        Ok(()) => {}
        Err(switchboard_core::Error::Invalid(m)) => {
            let v = AccountView {
                error: Some(m),
                ..AccountView::default()
            };
            return account_page(&state, &client, v).await;
        }
        Err(e) => return Err(api(e)),
    }
    let client = Client {
        lang: Lang::from_tag(&form.language),
        ..client
    };
    let v = AccountView {
        notice: Some(account_words(client.lang).language_saved.to_owned()),
        ..AccountView::default()
    };
    account_page(&state, &client, v).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /portal/account/password`.
pub async fn set_password(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let a = account_words(client.lang);
    if form.password != form.confirm {
        let v = AccountView {
            error: Some(a.passwords_differ.to_owned()),
            ..AccountView::default()
        };
        return account_page(&state, &client, v).await;
    }
    match state
        .store
        .set_password_keeping_session(
            &client.scope.user_id,
            &form.password,
            Some(&client.token),
            state.ids.now_ms(),
        )
        .await
    {
        Ok(()) => {}
        Err(switchboard_core::Error::Invalid(m)) => {
            let v = AccountView {
                error: Some(m),
                ..AccountView::default()
            };
            return account_page(&state, &client, v).await;
        }
        Err(e) => return Err(api(e)),
    }
    audit(&state, &client, "password", None, None).await;
    let v = AccountView {
        notice: Some(a.password_saved.to_owned()),
        ..AccountView::default()
    };
    account_page(&state, &client, v).await
}

/// `POST /portal/account/2fa/begin`: a new secret to scan.
pub async fn begin_totp(
    State(state): State<AppState>,
    client: Client,
    form: Result<Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let code = form.map(|Form(f)| clean(&f.code)).unwrap_or_default();
    let secret = state
        .store
        .begin_totp(&client.scope.user_id, Some(&code), state.ids.now_ms())
        .await
        .map_err(api)?;
    let v = AccountView {
        pending_secret: Some(secret),
        ..AccountView::default()
    };
    account_page(&state, &client, v).await
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    next: Option<String>,
}

fn clean(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `POST /portal/account/2fa/confirm`: the first code turns it on; the recovery codes
/// are shown once.
pub async fn confirm_totp(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let a = account_words(client.lang);
    match state
        .store
        .confirm_totp(
            &client.scope.user_id,
            &clean(&form.code),
            state.ids.now_ms(),
        )
        .await
    {
        Ok(codes) => {
            audit(&state, &client, "2fa_on", None, None).await;
            let v = AccountView {
                notice: Some(a.enabled.to_owned()),
                recovery_codes: codes,
                ..AccountView::default()
            };
            account_page(&state, &client, v).await
        }
        Err(switchboard_core::Error::Invalid(_)) => {
            // The same secret again: the app already has it.
            let secret = match state.store.pending_totp(&client.scope.user_id).await {
                Ok(Some(s)) => s,
                Ok(None) => state
                    .store
                    .begin_totp(&client.scope.user_id, None, state.ids.now_ms())
                    .await
                    .map_err(api)?,
                Err(e) => return Err(api(e)),
            };
            let v = AccountView {
                error: Some(a.wrong_code.to_owned()),
                pending_secret: Some(secret),
                ..AccountView::default()
            };
            account_page(&state, &client, v).await
        }
        Err(e) => Err(api(e)),
    }
}

/// `POST /portal/account/2fa/disable`: with a current code, unless the company requires it.
pub async fn disable_totp(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let a = account_words(client.lang);
    if client.scope.company_requires_2fa {
        let v = AccountView {
            error: Some(a.cannot_disable.to_owned()),
            ..AccountView::default()
        };
        return account_page(&state, &client, v).await;
    }
    let ok = matches!(
        state
            .store
            .check_second_factor(
                &client.scope.user_id,
                &clean(&form.code),
                state.ids.now_ms()
            )
            .await,
        Ok(true)
    );
    if !ok {
        let v = AccountView {
            error: Some(a.wrong_code.to_owned()),
            ..AccountView::default()
        };
        return account_page(&state, &client, v).await;
    }
    state
        .store
        .disable_totp(&client.scope.user_id)
        .await
        .map_err(api)?;
    audit(&state, &client, "2fa_off", None, None).await;
    let v = AccountView {
        notice: Some(a.disabled.to_owned()),
        ..AccountView::default()
    };
    account_page(&state, &client, v).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordLogin {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/code.html")]
struct CodePage {
    l: Layout,
    a: &'static AccountWords,
    next: String,
    error: Option<String>,
}

/// `POST /portal/login/password`: a client who set a password signs in with it.
pub async fn password_login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed: Option<Extension<Signed>>,
    Form(form): Form<PasswordLogin>,
) -> Response {
    let lang = lang_of(&headers);
    let a = account_words(lang);
    let next = safe_next(form.next.as_deref());
    let refuse =
        |status: StatusCode| message(&state, lang, status, a.sign_in_password, a.bad_password);
    if form.email.trim().is_empty() || form.password.is_empty() {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !state.login_limits.allow(&form.email, peer.ip()).await {
        return refuse(StatusCode::TOO_MANY_REQUESTS);
    }
    let user = match state
        .store
        .check_password(&form.email, &form.password)
        .await
    {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(target: "audit", ip = %peer.ip(), "portal password sign-in refused");
            return refuse(StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e) => return api(e),
    };
    let scope = match state.store.portal_user(&user.id).await {
        Ok(Some(s)) => s,
        // An agent's password never opens the portal (nor says it is an agent's).
        Ok(None) => return refuse(StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => return api(e),
    };
    if let Some(Extension(old)) = signed
        && let Err(e) = state.store.end_session(&old.token).await
    {
        return api(e);
    }
    let session = match state
        .store
        .create_session(&state.ids, &scope.user_id, !scope.two_factor)
        .await
    {
        Ok(s) => s,
        Err(e) => return api(e),
    };
    if let Err(e) = state
        .store
        .audit(
            &state.ids,
            scope.company_id.as_deref(),
            &scope.contact_id,
            Some(&scope.user_id),
            "login",
            None,
            Some(&format!("password from {}", peer.ip())),
        )
        .await
    {
        return api(e);
    }
    tracing::info!(target: "audit", user = %scope.user_id, ip = %peer.ip(), "client signed in by password");
    after_first_step(&state, &scope, &session, &next).await
}

/// After a link or a password: straight in, or on to the code first.
pub(crate) async fn after_first_step(
    state: &AppState,
    scope: &switchboard_core::store::ClientScope,
    session: &str,
    next: &str,
) -> Response {
    if !scope.two_factor {
        if let Err(e) = state
            .store
            .record_login(&scope.user_id, state.ids.now_ms())
            .await
        {
            return api(e);
        }
        return signed_in(state, scope, session, next).await;
    }
    let mut resp = Redirect::to(&format!(
        "/portal/login/2fa?next={}",
        crate::kit::session::urlencode(next)
    ))
    .into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, session, limits(state).absolute_ms / 1000),
    );
    private(resp)
}

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /portal/login/2fa`: the code, for a session waiting for it.
pub async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed: Option<Extension<Signed>>,
    Query(q): Query<NextQuery>,
) -> Response {
    let Some(Extension(s)) = signed else {
        return Redirect::to("/portal/login").into_response();
    };
    let lang = lang_of(&headers);
    let a = account_words(lang);
    let page = CodePage {
        l: Layout::new(
            &state,
            lang,
            a.code_title.to_owned(),
            s.session.csrf_token.clone(),
        ),
        a,
        next: safe_next(q.next.as_deref()),
        error: None,
    };
    private(render(&page))
}

/// `POST /portal/login/2fa`: a right code completes the session (under a new id).
pub async fn code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    signed: Option<Extension<Signed>>,
    Form(form): Form<CodeForm>,
) -> Response {
    let Some(Extension(s)) = signed else {
        return Redirect::to("/portal/login").into_response();
    };
    let lang = lang_of(&headers);
    let a = account_words(lang);
    let next = safe_next(form.next.as_deref());
    // Read with the session, by the guard.
    let Some(scope) = s.session.client.clone() else {
        return Redirect::to("/portal/login").into_response();
    };
    let code = clean(&form.code);
    let ok = state.login_limits.allow(&scope.email, peer.ip()).await
        && !code.is_empty()
        && matches!(
            state
                .store
                .check_second_factor(&scope.user_id, &code, state.ids.now_ms())
                .await,
            Ok(true)
        );
    if !ok {
        tracing::info!(target: "audit", user = %scope.user_id, ip = %peer.ip(), "portal second factor refused");
        let page = CodePage {
            l: Layout::new(
                &state,
                lang,
                a.code_title.to_owned(),
                s.session.csrf_token.clone(),
            ),
            a,
            next,
            error: Some(a.wrong_code.to_owned()),
        };
        return private((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response());
    }
    let token = match state.store.rotate_session(&state.ids, &s.token, true).await {
        Ok(t) => t,
        Err(e) => return api(e),
    };
    if let Err(e) = state
        .store
        .record_login(&scope.user_id, state.ids.now_ms())
        .await
    {
        return api(e);
    }
    signed_in(&state, &scope, &token, &next).await
}
