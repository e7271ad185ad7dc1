//! Signing in and out: password, second factor (TOTP or a recovery code), password reset
//! and invitation links, the account page (language, two-step setup, sign out
//! everywhere).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::store::{LinkPurpose, UserUpdate};

use crate::kit::AppState;
use crate::kit::auth::{pre_csrf, qr_svg, with_cookie};
use crate::kit::i18n::locale_options;
use crate::kit::i18n::{Locale, Tr};
use crate::kit::page::{FieldError, Page, WebError, render};
use crate::kit::session::{AnySession, SESSION_COOKIE, WebAgent, limits, locale_of, set_cookie};

/// How long a reset link works.
const RESET_TTL_MS: i64 = 60 * 60_000;

fn anon_page(state: &AppState, headers: &HeaderMap, title_key: &str, csrf: &str) -> Page {
    let tr = Tr::new(locale_of(headers, None));
    Page::anonymous(state, tr, tr.t(title_key), csrf.to_owned())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    p: Page,
    errors: Vec<FieldError>,
    has_error: bool,
    email: String,
    next: String,
    notice: Option<String>,
    /// The company sign-in's button: its words and its address.
    sso: Option<(String, String)>,
}

/// The staff's provider's button, when one is set.
fn sso_button(state: &AppState, tr: &Tr, next: &str) -> Option<(String, String)> {
    state.config.sso.agents.as_ref().map(|p| {
        (
            p.label.clone().unwrap_or_else(|| tr.t("sso-default")),
            format!("/sso/start?next={}", crate::kit::session::urlencode(next)),
        )
    })
}

/// The sign-in page again, saying what went wrong (`field` outlined when it was the
/// typed input).
fn login_error(
    state: &AppState,
    headers: &HeaderMap,
    key: &str,
    field: &'static str,
    outline: bool,
    email: &str,
    next: &str,
) -> Response {
    let (csrf, set) = pre_csrf(headers);
    let p = anon_page(state, headers, "login-title", &csrf);
    let message = p.t.t(key);
    let sso = sso_button(state, &p.t, next);
    with_cookie(
        render(&LoginPage {
            p,
            errors: vec![FieldError { field, message }],
            has_error: outline,
            email: email.to_owned(),
            next: next.to_owned(),
            notice: None,
            sso,
        }),
        set,
    )
}

/// The sign-in page saying why the company sign-in did not sign anyone in.
pub(super) fn login_refused(
    state: &AppState,
    headers: &HeaderMap,
    key: &str,
    next: &str,
) -> Response {
    let mut resp = login_error(state, headers, key, "email", false, "", next);
    *resp.status_mut() = axum::http::StatusCode::FORBIDDEN;
    resp.headers_mut()
        .append(header::SET_COOKIE, crate::kit::oidc::forget());
    resp
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    pub next: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

/// Where to land after signing in: a path on this origin, else the inbox.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.and_then(crate::kit::session::local_path)
        .unwrap_or_else(|| "/conversations".to_owned())
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    AnySession(session): AnySession,
    Query(q): Query<NextQuery>,
) -> Response {
    if session.is_some_and(|s| s.session.is_complete()) {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    let (csrf, set) = pre_csrf(&headers);
    let p = anon_page(&state, &headers, "login-title", &csrf);
    let notice = match q.done.as_deref() {
        Some("out") => Some(p.t.t("signed-out")),
        Some("password") => Some(p.t.t("password-saved")),
        _ => None,
    };
    let next = safe_next(q.next.as_deref());
    let sso = sso_button(&state, &p.t, &next);
    with_cookie(
        render(&LoginPage {
            p,
            errors: Vec::new(),
            has_error: false,
            email: String::new(),
            next,
            notice,
            sso,
        }),
        set,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AnySession(old): AnySession,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let next = safe_next(form.next.as_deref());
    let fail = |key: &str, field: &'static str| {
        let mut resp = login_error(&state, &headers, key, field, true, &form.email, &next);
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        resp
    };
    if form.email.trim().is_empty() {
        return Ok(fail("login-email-missing", "email"));
    }
    if form.password.is_empty() {
        return Ok(fail("login-password-missing", "password"));
    }
    if !state.login_limits.allow(&form.email, peer.ip()).await {
        let mut r = fail("login-throttled", "email");
        *r.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
        return Ok(r);
    }
    let Some(user) = state
        .store
        .check_password(&form.email, &form.password)
        .await?
    else {
        // The typed account, if it is an address: a password pasted into the wrong field
        // never reaches the log.
        let account = switchboard_core::domain::Identity::email(form.email.trim())
            .map_or_else(|_| "(not an address)".to_owned(), |i| i.value().to_owned());
        tracing::info!(target: "audit", email = %account, ip = %peer.ip(), "sign-in refused");
        return Ok(fail("login-failed", "email"));
    };
    if !user.role.is_agent() {
        return Ok(fail("login-failed", "email"));
    }
    let resp = start_session(&state, &user.id, old, &next).await?;
    tracing::info!(target: "audit", user = %user.id, ip = %peer.ip(), "signed in");
    Ok(with_cookie(resp, None))
}

/// A new session for a staff account that proved who it is (a password, the company's
/// sign-in), on to the second step when the account has one, else to `next`.
pub(super) async fn start_session(
    state: &AppState,
    user_id: &str,
    old: Option<crate::kit::session::Signed>,
    next: &str,
) -> Result<Response, WebError> {
    // A session from before (maybe planted by someone else) ends: a new id at sign-in.
    if let Some(old) = old {
        state.store.end_session(&old.token).await?;
    }
    let two_step = state.store.totp_enabled(user_id).await?;
    let token = state
        .store
        .create_session(&state.ids, user_id, !two_step)
        .await?;
    if !two_step {
        state
            .store
            .record_login(user_id, state.ids.now_ms())
            .await?;
    }
    let to = if two_step {
        format!("/login/2fa?next={}", crate::kit::session::urlencode(next))
    } else {
        next.to_owned()
    };
    let mut resp = Redirect::to(&to).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, limits(state).absolute_ms / 1000),
    );
    Ok(resp)
}

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage {
    p: Page,
    errors: Vec<FieldError>,
}

pub async fn second_factor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    AnySession(session): AnySession,
) -> Response {
    let Some(s) = session else {
        return Redirect::to("/login").into_response();
    };
    if s.session.is_complete() {
        return Redirect::to("/conversations").into_response();
    }
    let mut p = anon_page(&state, &headers, "twofa-title", &s.session.csrf_token);
    p.t = Tr::new(locale_of(&headers, Some(&s.session.user)));
    p.title = p.t.t("twofa-title");
    with_cookie(
        render(&SecondFactorPage {
            p,
            errors: Vec::new(),
        }),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn second_factor(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AnySession(session): AnySession,
    Query(q): Query<NextQuery>,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    let Some(s) = session else {
        return Ok(Redirect::to("/login").into_response());
    };
    let user = &s.session.user;
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = state.login_limits.allow(&user.email, peer.ip()).await
        && !code.is_empty()
        && match state
            .store
            .check_second_factor(&user.id, &code, state.ids.now_ms())
            .await
        {
            Ok(ok) => ok,
            // Too many wrong codes in a row: locked for a while, told like a wrong code.
            Err(switchboard_core::Error::Conflict(_)) => false,
            Err(e) => return Err(e.into()),
        };
    if !ok {
        tracing::info!(target: "audit", user = %user.id, ip = %peer.ip(), "second factor refused");
        let mut p = anon_page(&state, &headers, "twofa-title", &s.session.csrf_token);
        p.t = Tr::new(locale_of(&headers, Some(user)));
        let message = p.t.t("twofa-wrong");
        let mut resp = render(&SecondFactorPage {
            p,
            errors: vec![FieldError {
                field: "code",
                message,
            }],
        });
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(with_cookie(resp, None));
    }
    // The second factor passed: yet another new session id.
    let token = state
        .store
        .rotate_session(&state.ids, &s.token, true)
        .await?;
    state
        .store
        .record_login(&user.id, state.ids.now_ms())
        .await?;
    let mut resp = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, limits(&state).absolute_ms / 1000),
    );
    Ok(with_cookie(resp, None))
}

pub async fn logout(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> Result<Response, WebError> {
    if let Some(s) = session {
        state.store.end_session(&s.token).await?;
    }
    let mut resp = Redirect::to("/login?done=out").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    Ok(resp)
}

pub async fn logout_everywhere(
    State(state): State<AppState>,
    agent: WebAgent,
) -> Result<Response, WebError> {
    state.store.end_all_sessions(&agent.user.id).await?;
    let mut resp = Redirect::to("/login?done=out").into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0));
    Ok(resp)
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    p: Page,
    errors: Vec<FieldError>,
    sent: bool,
}

pub async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, set) = pre_csrf(&headers);
    let p = anon_page(&state, &headers, "forgot-title", &csrf);
    with_cookie(
        render(&ForgotPage {
            p,
            errors: Vec::new(),
            sent: false,
        }),
        set,
    )
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// Answers the same whether or not the address has an account, and takes as long.
pub async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Result<Response, WebError> {
    let (csrf, set) = pre_csrf(&headers);
    let p = anon_page(&state, &headers, "forgot-title", &csrf);
    if form.email.trim().is_empty() {
        let message = p.t.t("login-email-missing");
        return Ok(with_cookie(
            render(&ForgotPage {
                p,
                errors: vec![FieldError {
                    field: "email",
                    message,
                }],
                sent: false,
            }),
            set,
        ));
    }
    if state.login_limits.allow(&form.email, peer.ip()).await
        && let Some(user) = state.store.user_by_email(&form.email).await?
        && user.role.is_agent()
        && user.active
    {
        let token = state
            .store
            .issue_account_link(&state.ids, &user.id, LinkPurpose::Reset, RESET_TTL_MS)
            .await?;
        let tr = Tr::new(Locale::parse(&user.locale).unwrap_or(p.t.locale));
        let link = format!(
            "{}/password/reset?token={token}",
            state.config.public_url.trim_end_matches('/')
        );
        state.mailer.send(
            &user.email,
            &tr.t("reset-mail-subject"),
            &format!("{}\n\n{link}\n", tr.t("reset-mail-body")),
        );
    }
    Ok(with_cookie(
        render(&ForgotPage {
            p,
            errors: Vec::new(),
            sent: true,
        }),
        set,
    ))
}

#[derive(Template)]
#[template(path = "password_set.html")]
struct SetPasswordPage {
    p: Page,
    errors: Vec<FieldError>,
    heading: String,
    valid: bool,
    email: String,
    token: String,
    action: &'static str,
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn link_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    purpose: LinkPurpose,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let (csrf, set) = pre_csrf(headers);
    let (title, action) = match purpose {
        LinkPurpose::Reset => ("set-password-title", "/password/reset"),
        LinkPurpose::Invite => ("invite-title", "/invite"),
    };
    let p = anon_page(state, headers, title, &csrf);
    let user = state
        .store
        .account_link_user(token, purpose, state.ids.now_ms())
        .await?;
    let heading = p.t.t(title);
    let mut resp = render(&SetPasswordPage {
        p,
        heading,
        valid: user.is_some(),
        email: user.map(|u| u.email).unwrap_or_default(),
        token: token.to_owned(),
        action,
        errors,
    });
    // The token must not leak to other sites through the Referer.
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(with_cookie(resp, set))
}

pub async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    link_page(&state, &headers, &q.token, LinkPurpose::Reset, Vec::new()).await
}

pub async fn invite_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    link_page(&state, &headers, &q.token, LinkPurpose::Invite, Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub struct SetPasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

async fn use_link(
    state: &AppState,
    headers: &HeaderMap,
    form: SetPasswordForm,
    purpose: LinkPurpose,
) -> Result<Response, WebError> {
    match state
        .store
        .use_account_link(&form.token, purpose, &form.password, state.ids.now_ms())
        .await
    {
        Ok(_) => Ok(Redirect::to("/login?done=password").into_response()),
        Err(switchboard_core::Error::Invalid(m)) => {
            let errors = vec![FieldError {
                field: "password",
                message: m,
            }];
            let mut r = link_page(state, headers, &form.token, purpose, errors).await?;
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(r)
        }
        Err(switchboard_core::Error::NotFound(_)) => {
            link_page(state, headers, "", purpose, Vec::new()).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetPasswordForm>,
) -> Result<Response, WebError> {
    use_link(&state, &headers, form, LinkPurpose::Reset).await
}

pub async fn accept_invite(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetPasswordForm>,
) -> Result<Response, WebError> {
    use_link(&state, &headers, form, LinkPurpose::Invite).await
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    p: Page,
    errors: Vec<FieldError>,
    notice: Option<String>,
    totp_enabled: bool,
    pending_secret: Option<String>,
    qr_svg: String,
    recovery_codes: Vec<String>,
    recovery_left: i64,
    locale_options: Vec<(String, String, bool)>,
}

async fn account(
    state: &AppState,
    agent: &WebAgent,
    notice: Option<String>,
    pending_secret: Option<String>,
    recovery_codes: Vec<String>,
    errors: Vec<FieldError>,
) -> Result<Response, WebError> {
    let p = Page::agent(state, agent, agent.tr.t("account-title"), "account").await?;
    let totp_enabled = state.store.totp_enabled(&agent.user.id).await?;
    let qr_svg = pending_secret
        .as_deref()
        .map(|s| {
            let uri = format!(
                "otpauth://totp/{issuer}:{account}?secret={s}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
                issuer = crate::kit::session::urlencode(&state.config.web.business_name),
                account = crate::kit::session::urlencode(&agent.user.email),
            );
            qr_svg(&uri)
        })
        .unwrap_or_default();
    let recovery_left = if totp_enabled {
        state.store.remaining_recovery_codes(&agent.user.id).await?
    } else {
        0
    };
    let mut resp = render(&AccountPage {
        p,
        errors,
        notice,
        totp_enabled,
        pending_secret,
        qr_svg,
        recovery_codes,
        recovery_left,
        locale_options: locale_options(Some(agent.tr.lang())),
    });
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

pub async fn account_page(
    State(state): State<AppState>,
    agent: WebAgent,
) -> Result<Response, WebError> {
    account(&state, &agent, None, None, Vec::new(), Vec::new()).await
}

#[derive(Debug, Deserialize)]
pub struct LocaleForm {
    locale: String,
}

pub async fn set_locale(
    State(state): State<AppState>,
    mut agent: WebAgent,
    Form(form): Form<LocaleForm>,
) -> Result<Response, WebError> {
    let locale = Locale::parse(&form.locale).unwrap_or_default();
    let update = UserUpdate {
        locale: Some(locale.tag().to_owned()),
        ..UserUpdate::default()
    };
    agent.user = state.store.update_user(&agent.user.id, &update).await?;
    agent.tr = Tr::new(locale);
    let notice = agent.tr.t("language-saved");
    account(&state, &agent, Some(notice), None, Vec::new(), Vec::new()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct BeginForm {
    /// A current code, when a factor is on already.
    #[serde(default)]
    code: String,
}

pub async fn begin_totp(
    State(state): State<AppState>,
    agent: WebAgent,
    Form(form): Form<BeginForm>,
) -> Result<Response, WebError> {
    let secret = state
        .store
        .begin_totp(&agent.user.id, Some(&form.code), state.ids.now_ms())
        .await?;
    account(&state, &agent, None, Some(secret), Vec::new(), Vec::new()).await
}

pub async fn confirm_totp(
    State(state): State<AppState>,
    agent: WebAgent,
    Form(form): Form<CodeForm>,
) -> Result<Response, WebError> {
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match state
        .store
        .confirm_totp(&agent.user.id, &code, state.ids.now_ms())
        .await
    {
        Ok(codes) => {
            let notice = agent.tr.t("twofa-enabled");
            account(&state, &agent, Some(notice), None, codes, Vec::new()).await
        }
        Err(switchboard_core::Error::Invalid(_)) => {
            // The same secret again: the app already has it.
            let secret = match state.store.pending_totp(&agent.user.id).await? {
                Some(s) => s,
                None => {
                    state
                        .store
                        .begin_totp(&agent.user.id, None, state.ids.now_ms())
                        .await?
                }
            };
            let errors = vec![FieldError {
                field: "code",
                message: agent.tr.t("twofa-wrong"),
            }];
            account(&state, &agent, None, Some(secret), Vec::new(), errors).await
        }
        Err(e) => Err(e.into()),
    }
}
