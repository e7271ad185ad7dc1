//! The HTTP surface: routes, ops endpoints, request ids and request logs.

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::{api, webchat};

/// The read buffer of every websocket. The protocol layer's default (128 KiB) is zeroed
/// each time a socket is polled for reading, which every open socket is whenever an event
/// wakes it: with hundreds of agent sockets that was most of the server's time, and most
/// of each idle socket's memory. Frames larger than this are read in several pieces.
pub const WS_READ_BUFFER: usize = 4 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn routes(state: AppState) -> Router {
    let mut api = Router::new();
    for (spec, route) in api::table() {
        api = api.route(spec.path, route);
    }
    let api = api.fallback(api::not_found);
    Router::new()
        .merge(crate::web::router(state.clone()))
        .merge(crate::portal::router(state.clone()))
        .merge(crate::help::router(state.clone()))
        .route("/", get(home))
        .route("/chat", get(chat_page))
        .route("/widget.js", get(widget_js))
        .route("/webchat/ws", get(webchat::upgrade))
        .route(
            "/webchat/attachments",
            axum::routing::post(webchat::attachments::upload)
                .options(webchat::attachments::preflight)
                // The upload sets its own limit, checked as the body streams in.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/webchat/attachments/{key}",
            get(webchat::attachments::download),
        )
        .route(
            "/webhooks/email/{inbox}",
            axum::routing::post(crate::email::inbound).layer(axum::extract::DefaultBodyLimit::max(
                switchboard_channels::email::parse::MAX_MESSAGE_BYTES,
            )),
        )
        .route(
            "/webhooks/stripe",
            axum::routing::post(crate::billing::stripe_webhook)
                .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024)),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi))
        .nest("/api/v1", api)
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %redacted_path(req.uri().path()), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// The pages' policy: scripts from this origin only (no inline script, no `eval`), no
/// framing, no plugins. Inline styles stay allowed: the chat widget styles itself at run
/// time and a few pages set a width or a colour from data.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
     frame-ancestors 'none'";

/// Headers every response carries unless its handler set its own (a blob download keeps
/// its stricter sandbox policy).
async fn security_headers(State(state): State<AppState>, mut resp: Response) -> Response {
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

/// The API's description, made from the same table the router is built from.
async fn openapi() -> axum::Json<serde_json::Value> {
    axum::Json(crate::openapi::document())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Whether a request may read the operator's detail (`/metrics`, `/readyz`'s checks): one
/// with the configured bearer token; with no token set, one from this machine.
fn ops_allowed(state: &AppState, peer: std::net::SocketAddr, headers: &HeaderMap) -> bool {
    match &state.config.ops.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| crate::email::same_secret(given.trim(), token.expose())),
        None => peer.ip().is_loopback(),
    }
}

/// Ready when the database and the stream both answer. The checks' detail (which may
/// name hosts and users) is for the operator only; everyone else reads the status.
async fn readyz(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    // A dependency that hangs must not hang the probe.
    let limit = std::time::Duration::from_secs(2);
    let timed_out = || switchboard_core::Error::Stream("no answer within 2 s".into());
    let db = tokio::time::timeout(limit, state.store.ping())
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    let stream = tokio::time::timeout(limit, state.stream.health())
        .await
        .unwrap_or_else(|_| Err(timed_out()));
    for (what, r) in [("database", &db), ("stream", &stream)] {
        if let Err(e) = r {
            tracing::warn!(check = what, error = %e, "not ready");
        }
    }
    let status = if db.is_ok() && stream.is_ok() && !state.shutdown.is_cancelled() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
    });
    if ops_allowed(&state, peer, &headers) {
        let show = |r: &switchboard_core::Result<()>| match r {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        body["checks"] = json!({"database": show(&db), "stream": show(&stream)});
        body["stream"] = json!(state.stream.kind());
    }
    (status, axum::Json(body)).into_response()
}

async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !ops_allowed(&state, peer, &headers) {
        return StatusCode::NOT_FOUND.into_response();
    }
    // Queue depth is read at scrape time, so it is current whatever the workers are doing.
    for (topic, group) in [
        (
            switchboard_core::stream::INBOUND,
            switchboard_core::router::GROUP,
        ),
        (
            switchboard_core::stream::OUTBOUND,
            switchboard_core::dispatcher::GROUP,
        ),
    ] {
        if let Ok(depth) = state.stream.depth(topic, group).await {
            state
                .metrics
                .queue_depth
                .get_or_create(&switchboard_core::metrics::TopicLabel {
                    topic: topic.into(),
                })
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn widget_js() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        switchboard_channels::webchat::WIDGET_JS,
    )
        .into_response()
}

async fn home() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>",
        "<title>Switchboard</title><body style='font:16px system-ui;max-width:40em;margin:2em auto;padding:0 1em'>",
        "<h1>Switchboard</h1><ul><li><a href=/login>Agent inbox</a></li><li><a href=/chat>Web chat demo page</a></li>",
        "<li><a href=/readyz>Readiness</a> · <a href=/metrics>Metrics</a></li>",
        "<li>Agent API: <code>/api/v1/conversations</code> with <code>Authorization: Bearer TOKEN</code></li></ul>"
    ))
}

async fn chat_page(State(state): State<AppState>) -> Html<String> {
    let title = html_escape(&state.config.webchat.title);
    // The default title is said in the visitor's language by the widget itself.
    let title_attr = if state.config.webchat.title == crate::config::WebchatConfig::default().title
    {
        String::new()
    } else {
        format!(" data-title=\"{title}\"")
    };
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'>\
         <title>{title}</title><body style='font:16px system-ui;max-width:40em;margin:2em auto;padding:0 1em'>\
         <h1>{title}</h1><p>This page embeds the chat widget with one tag:</p>\
         <pre>&lt;script src=\"{base}/widget.js\" async&gt;&lt;/script&gt;</pre>\
         <script src=\"/widget.js\"{title_attr} data-accent=\"{accent}\" async></script>",
        base = html_escape(state.config.public_url.trim_end_matches('/')),
        accent = html_escape(&state.config.web.accent),
    ))
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
