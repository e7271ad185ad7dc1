//! Agent sessions in the browser: the session cookie, the CSRF check on every unsafe
//! request, and the extractor that turns a request into a signed-in agent.
//!
//! - The cookie is `__Host-sb_session` (`Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`):
//!   only its SHA-256 is stored, a new one is issued at login and again when the second
//!   factor passes, and it dies after an idle and an absolute limit.
//! - Every POST (form or htmx) carries the session's CSRF token, as the `_csrf` field or
//!   the `X-CSRF-Token` header (a form with files: its first field); before sign-in, a random `__Host-sb_csrf` cookie plays
//!   the session's part (double submit). A request the browser marks as cross-site
//!   (`Sec-Fetch-Site`), or whose `Origin` is another host, is refused before that.
//!
//! **Architecture Invariant:** only the session cookie's SHA-256 is stored; sign-in issues
//! a new id (a planted one is ended) and passing the second factor another; every unsafe
//! request carries the session's CSRF token and is refused when the browser marks it
//! cross-site or its `Origin` is another host (e2e
//! `inbox::sign_in_rotates_the_session_and_csrf_stops_cross_site_posts`; conformance
//! `accounts::rotation_kills_the_old_token`,
//! `accounts::sessions_end_when_idle_and_at_the_absolute_limit`). A TOTP code is accepted
//! once, within one step either side, even when used twice at once
//! (`accounts::totp_codes_are_taken_once_within_one_step`,
//! `accounts::one_code_used_twice_at_once_passes_once`; browser `inbox.test.mjs`).

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use futures::StreamExt;
use switchboard_core::domain::User;
use switchboard_core::store::{Caller, Session, SessionLimits};

use crate::kit::AppState;
use crate::kit::i18n::{Locale, Tr};

pub const SESSION_COOKIE: &str = "__Host-sb_session";
pub const PRE_CSRF_COOKIE: &str = "__Host-sb_csrf";
/// Forms bigger than this are refused before the CSRF check reads them.
const MAX_FORM: usize = 256 * 1024;

pub fn limits(state: &AppState) -> SessionLimits {
    SessionLimits {
        idle_ms: state.config.web.session_idle_minutes * 60_000,
        absolute_ms: state.config.web.session_absolute_hours * 3_600_000,
    }
}

/// The value of a cookie in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` for `name` that lives `max_age_s` seconds (0: deleted now).
pub fn set_cookie(name: &str, value: &str, max_age_s: i64) -> HeaderValue {
    let v = format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age_s.max(0)
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// What the CSRF check found, kept for the handlers.
#[derive(Clone)]
pub struct Signed {
    pub token: String,
    pub session: Session,
}

/// The language of a request: the signed-in user's setting, else `Accept-Language`.
pub fn locale_of(headers: &HeaderMap, user: Option<&User>) -> Locale {
    user.and_then(|u| Locale::parse(&u.locale))
        .unwrap_or_else(|| {
            Locale::negotiate(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

fn same_host(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // Browsers send Origin on every POST; a missing one is a non-browser client,
        // which still needs the token.
        None => true,
        Some("null") => false,
        Some(origin) => {
            let origin_host = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .trim_end_matches('/');
            host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
        }
    }
}

fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// Reads the session (once per request) and, for every unsafe method, checks where the
/// request comes from and its CSRF token. Runs on every page route.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let now = state.ids.now_ms();
    let signed = match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => match state.store.session(token, now, &limits(&state)).await {
            Ok(Some(session)) => Some(Signed {
                token: token.to_owned(),
                session,
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        None => None,
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let body = if safe {
        body
    } else {
        if cross_site(&parts.headers) || !same_host(&parts.headers) {
            return refuse(&parts.headers, "csrf-cross-site");
        }
        let expected = match &signed {
            Some(s) => Some(s.session.csrf_token.clone()),
            None => cookie(&parts.headers, PRE_CSRF_COOKIE).map(str::to_owned),
        };
        let Some(expected) = expected else {
            return refuse(&parts.headers, "csrf-expired");
        };
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let is_form = content_type.starts_with("application/x-www-form-urlencoded");
        // A form with files: its token is its first field, read from the body's first
        // bytes, and the body goes on as a stream (files are far over `MAX_FORM`).
        if let Some(boundary) = multipart_boundary(content_type) {
            let (prefix, rest) = match read_prefix(body, MULTIPART_PREFIX).await {
                Ok(x) => x,
                Err(_) => return StatusCode::BAD_REQUEST.into_response(),
            };
            let provided = header_token.or_else(|| first_part(&prefix, &boundary, "_csrf"));
            if !provided.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
                return refuse(&parts.headers, "csrf-expired");
            }
            if let Some(s) = signed {
                parts.extensions.insert(s);
            }
            let whole = futures::stream::once(async move { Ok::<_, axum::Error>(prefix) })
                .chain(rest.into_data_stream());
            return next
                .run(Request::from_parts(parts, Body::from_stream(whole)))
                .await;
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        };
        let provided = header_token.or_else(|| {
            if is_form {
                form_urlencoded_value(&bytes, "_csrf")
            } else {
                None
            }
        });
        if !provided.is_some_and(|p| constant_time_eq(p.as_bytes(), expected.as_bytes())) {
            return refuse(&parts.headers, "csrf-expired");
        }
        Body::from(bytes)
    };
    if let Some(s) = signed {
        parts.extensions.insert(s);
    }
    next.run(Request::from_parts(parts, body)).await
}

fn refuse(headers: &HeaderMap, key: &str) -> Response {
    let tr = Tr::new(locale_of(headers, None));
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        tr.t(key),
    )
        .into_response()
}

/// One field of an urlencoded body.
/// How much of a multipart body is read before its first field must have been seen.
const MULTIPART_PREFIX: usize = 4096;

/// The boundary of a `multipart/form-data` content type.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The value of a multipart body's first part, if that part is the field `name` (a small
/// text field whose whole value is inside `prefix`).
pub fn first_part(prefix: &[u8], boundary: &str, name: &str) -> Option<String> {
    let text = std::str::from_utf8(prefix)
        .or_else(|e| std::str::from_utf8(&prefix[..e.valid_up_to()]))
        .ok()?;
    let delimiter = format!("--{boundary}");
    let after = text.strip_prefix(&delimiter)?.strip_prefix("\r\n")?;
    let (head, body) = after.split_once("\r\n\r\n")?;
    let named = head.lines().any(|line| {
        let line = line.trim().to_ascii_lowercase();
        line.starts_with("content-disposition:")
            && line.contains("form-data")
            && line.contains(&format!("name=\"{name}\""))
    });
    if !named {
        return None;
    }
    let (value, _) = body.split_once(&format!("\r\n{delimiter}"))?;
    Some(value.to_owned())
}

/// Reads up to `n` bytes of a body; returns them and the body that is left.
async fn read_prefix(body: Body, n: usize) -> Result<(Bytes, Body), axum::Error> {
    let mut stream = body.into_data_stream();
    let mut prefix = Vec::new();
    while prefix.len() < n {
        match stream.next().await {
            Some(chunk) => prefix.extend_from_slice(&chunk?),
            None => break,
        }
    }
    Ok((Bytes::from(prefix), Body::from_stream(stream)))
}

pub fn form_urlencoded_value(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in agent whose second factor (if it has one) has passed.
pub struct WebAgent {
    pub user: User,
    pub caller: Caller,
    pub csrf: String,
    pub token: String,
    pub tr: Tr,
}

/// Why a page cannot be shown to this request.
pub enum NotSignedIn {
    /// Go to the sign-in page and come back.
    Login(String),
    /// An htmx request: tell htmx to load the sign-in page.
    HtmxLogin,
    /// Signed in, second factor still owed.
    SecondFactor,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::Login(next) => {
                let to = if next.starts_with('/') && !next.starts_with("//") {
                    format!("/login?next={}", urlencode(&next))
                } else {
                    "/login".to_owned()
                };
                Redirect::to(&to).into_response()
            }
            NotSignedIn::HtmxLogin => (
                StatusCode::UNAUTHORIZED,
                [("hx-redirect", HeaderValue::from_static("/login"))],
            )
                .into_response(),
            NotSignedIn::SecondFactor => Redirect::to("/login/2fa").into_response(),
        }
    }
}

/// The CSRF token the guard will expect of a form on a page outside it (the help center's
/// vote): the session's when one is signed in, else the pre-sign-in cookie's, with the
/// cookie to set when it is new.
pub async fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = cookie(headers, SESSION_COOKIE)
        && let Ok(Some(s)) = state
            .store
            .session(token, state.ids.now_ms(), &limits(state))
            .await
    {
        return (s.csrf_token, None);
    }
    crate::kit::auth::pre_csrf(headers)
}

/// `next` as a path on this origin, or `None`. It is read as a browser reads a redirect's
/// address, relative to this origin, and kept only if it stays there; anything a browser
/// would silently clean first (a tab, a new line, a backslash) is refused outright, since
/// `/\t/evil.example` becomes `//evil.example` in a browser.
pub fn local_path(next: &str) -> Option<String> {
    if !next.starts_with('/') || next.len() > 2048 {
        return None;
    }
    if next.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let base = url::Url::parse("http://origin.invalid/").ok()?;
    let joined = base.join(next).ok()?;
    if joined.origin() != base.origin() || next.starts_with("//") {
        return None;
    }
    let mut out = joined.path().to_owned();
    if let Some(q) = joined.query() {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for WebAgent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let htmx = parts.headers.contains_key("hx-request");
        let Some(signed) = parts.extensions.get::<Signed>().cloned() else {
            return Err(if htmx {
                NotSignedIn::HtmxLogin.into_response()
            } else {
                let next = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                NotSignedIn::Login(next).into_response()
            });
        };
        if !signed.session.is_complete() {
            return Err(NotSignedIn::SecondFactor.into_response());
        }
        let user = signed.session.user.clone();
        if !user.role.is_agent() {
            return Err((StatusCode::FORBIDDEN, "agents only").into_response());
        }
        let caller = state
            .store
            .caller(&user)
            .await
            .map_err(|e| crate::kit::error::ApiError::from(e).into_response())?;
        let tr = Tr::new(locale_of(&parts.headers, Some(&user)));
        Ok(WebAgent {
            user,
            caller,
            csrf: signed.session.csrf_token.clone(),
            token: signed.token,
            tr,
        })
    }
}

/// A signed-in admin; anyone else gets 403 before the request's body is even read.
pub struct AdminAgent(pub WebAgent);

impl FromRequestParts<AppState> for AdminAgent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let agent = WebAgent::from_request_parts(parts, state).await?;
        if agent.user.role == switchboard_core::domain::Role::Admin {
            Ok(AdminAgent(agent))
        } else {
            Err(crate::kit::page::WebError::Forbidden(agent.tr).into_response())
        }
    }
}

/// A signed-in agent who may write conversations (not a supervisor); checked before the
/// request's body is read. Which conversations it may write is the store's check.
pub struct WriterAgent(pub WebAgent);

impl FromRequestParts<AppState> for WriterAgent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let agent = WebAgent::from_request_parts(parts, state).await?;
        if agent.user.role.can_reply() {
            Ok(WriterAgent(agent))
        } else {
            Err(crate::kit::page::WebError::Forbidden(agent.tr).into_response())
        }
    }
}

/// The session of a request, whatever its second-factor state (the 2FA page needs it).
pub struct AnySession(pub Option<Signed>);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(AnySession(parts.extensions.get::<Signed>().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-sb_session=abc; __Host-sb_sessionx=no"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn next_is_a_path_on_this_origin_or_nothing() {
        assert_eq!(
            local_path("/conversations/7?tab=notes").as_deref(),
            Some("/conversations/7?tab=notes")
        );
        assert_eq!(local_path("/a/../b").as_deref(), Some("/b"));
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "//evil.example",
            "/\\/evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "evil.example",
            "",
            " /x",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_host(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_host(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_host(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_host(&h));
    }

    #[test]
    fn set_cookie_has_every_attribute() {
        let v = set_cookie(SESSION_COOKIE, "t", 60);
        let v = v.to_str().unwrap();
        for a in [
            "__Host-",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Max-Age=60",
        ] {
            assert!(v.contains(a), "{v} lacks {a}");
        }
        assert!(!v.contains("Domain"));
    }

    #[test]
    fn a_file_form_carries_its_token_as_its_first_field() {
        let ct = "multipart/form-data; boundary=----x7";
        let b = multipart_boundary(ct).unwrap();
        assert_eq!(b, "----x7");
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"q q\"").as_deref(),
            Some("q q")
        );
        assert_eq!(
            multipart_boundary("application/x-www-form-urlencoded"),
            None
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        let body = b"------x7\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok123\r\n------x7\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.png\"\r\n\r\n\x89PNG";
        assert_eq!(first_part(body, &b, "_csrf").as_deref(), Some("tok123"));
        // Another first field, a token cut off by the prefix, or a foreign boundary: none.
        let other = b"------x7\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\n_csrf\r\n------x7\r\n";
        assert_eq!(first_part(other, &b, "_csrf"), None);
        assert_eq!(first_part(&body[..60], &b, "_csrf"), None);
        assert_eq!(first_part(body, "----x8", "_csrf"), None);
    }
}
