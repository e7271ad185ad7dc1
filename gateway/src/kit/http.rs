//! What every response and request log shares: the security headers, the redaction of
//! credentials in logged paths, HTML escaping and the websockets' read buffer.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

use crate::kit::AppState;

/// The read buffer of every websocket. The protocol layer's default (128 KiB) is zeroed
/// each time a socket is polled for reading, which every open socket is whenever an event
/// wakes it: with hundreds of agent sockets that was most of the server's time, and most
/// of each idle socket's memory. Frames larger than this are read in several pieces.
pub const WS_READ_BUFFER: usize = 4 * 1024;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The pages' policy: scripts from this origin only (no inline script, no `eval`), no
/// framing, no plugins. Inline styles stay allowed: the chat widget styles itself at run
/// time and a few pages set a width or a colour from data.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
     frame-ancestors 'none'";

/// Headers every response carries unless its handler set its own (a blob download keeps
/// its stricter sandbox policy).
pub async fn security_headers(State(state): State<AppState>, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let mut put = |name: HeaderName, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    put(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    put(header::X_FRAME_OPTIONS, "DENY");
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Links in mail carry credentials in their path: never tell another site about them.
    put(header::REFERRER_POLICY, "same-origin");
    if state.config.public_url.starts_with("https://") {
        put(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}

/// A request's path as the log may show it: a path that carries a credential (a portal
/// sign-in link's token) keeps its shape, not the credential.
pub fn redacted_path(path: &str) -> std::borrow::Cow<'_, str> {
    const SECRET_AFTER: &[&str] = &["/portal/link/", "/survey/"];
    for prefix in SECRET_AFTER {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return format!("{prefix}[redacted]").into();
        }
    }
    path.into()
}

pub use switchboard_core::html::escape as html_escape;

#[cfg(test)]
mod tests {
    use super::redacted_path;

    #[test]
    fn sign_in_tokens_never_reach_the_log() {
        let token = "a".repeat(64);
        assert_eq!(
            redacted_path(&format!("/portal/link/{token}")),
            "/portal/link/[redacted]"
        );
        assert_eq!(redacted_path("/portal/invoices/7"), "/portal/invoices/7");
        assert_eq!(redacted_path("/portal/link/"), "/portal/link/");
    }
}
