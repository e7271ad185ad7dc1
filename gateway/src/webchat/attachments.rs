//! Files over HTTP for the widget: `POST /webchat/attachments` stores an upload and
//! answers a signed receipt that a `message` frame then names; `GET
//! /webchat/attachments/{key}` hands a file back, only to the visitor whose conversation
//! shows it.
//!
//! An upload passes the same gates as the widget socket: an allowed origin, a visitor id
//! the server signed, and a per-visitor allowance of `webchat.max_messages_per_minute`.
//! Its type is what its first bytes say (images and PDF only), never its name or the type
//! the browser declares, and it is refused as soon as it grows past
//! `webchat.max_attachment_bytes`, leaving nothing behind.

use std::io;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::Deserialize;
use switchboard_core::blob::BlobKey;
use switchboard_core::domain::{Identity, IdentityKind};
use tokio_util::io::StreamReader;

use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::uploads::{store_file, too_large};

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    visitor: Option<String>,
    /// The file's name as the visitor's browser gives it; only ever a label.
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    visitor: Option<String>,
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// A widget on another site uploads across origins: an allowed page's origin is echoed
/// back, so its browser lets the widget read the answer.
fn with_cors(mut response: Response, headers: &HeaderMap, state: &AppState) -> Response {
    if let Some(o) = origin(headers)
        && state.allowed_origins.allows(Some(o))
        && let Ok(v) = HeaderValue::from_str(o)
    {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// The preflight of a cross-origin upload.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.allowed_origins.allows(origin(&headers)) {
        return ApiError::OriginNotAllowed.into_response();
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    with_cors(r, &headers, &state)
}

pub async fn upload(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = store_upload(
        &state,
        query.ok().map(|Query(q)| q),
        &headers,
        peer.ip(),
        body,
    )
    .await;
    let response = match result {
        Ok(receipt) => (
            StatusCode::CREATED,
            axum::Json(serde_json::json!({ "attachment": receipt })),
        )
            .into_response(),
        Err(e) => e.into_response(),
    };
    with_cors(response, &headers, &state)
}

async fn store_upload(
    state: &AppState,
    query: Option<UploadQuery>,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    body: Body,
) -> Result<switchboard_channels::webchat::Uploaded, ApiError> {
    if !state.allowed_origins.allows(origin(headers)) {
        return Err(ApiError::OriginNotAllowed);
    }
    let query = query.unwrap_or(UploadQuery {
        visitor: None,
        name: None,
    });
    // The id in the URL, or the cookie that carries it on the server's own pages.
    let visitor = query
        .visitor
        .or_else(|| crate::webchat::cookie(headers, "sb_visitor"))
        .filter(|v| state.visitors.verify(v))
        .ok_or_else(|| {
            ApiError::Forbidden("unknown visitor: open the chat again and retry".into())
        })?;
    if !state.widget_uploads.allow(&visitor, ip) {
        return Err(ApiError::RateLimited);
    }
    let max = state.config.webchat.max_attachment_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let stream = body.into_data_stream().map_err(io::Error::other);
    let attachment = store_file(
        state,
        StreamReader::new(stream),
        max,
        query.name.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(state.visitors.receipt(&visitor, &attachment))
}

/// A file, to the visitor whose own web-chat conversation shows it; everyone else (no id,
/// a forged one, another visitor, a key never stored) is told it does not exist.
pub async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    // An image in the page is fetched without an `Origin`; one sent must be allowed.
    if origin(&headers).is_some() && !state.allowed_origins.allows(origin(&headers)) {
        return ApiError::OriginNotAllowed.into_response();
    }
    let not_found = || ApiError::NotFound("no such attachment".into()).into_response();
    let Ok(key) = BlobKey::parse(&key) else {
        return not_found();
    };
    let Some(visitor) = query
        .ok()
        .and_then(|Query(q)| q.visitor)
        .or_else(|| crate::webchat::cookie(&headers, "sb_visitor"))
        .filter(|v| state.visitors.verify(v))
        .and_then(|v| Identity::new(IdentityKind::Visitor, &v).ok())
    else {
        return not_found();
    };
    let contact = match state.store.contact_for_identity(&visitor).await {
        Ok(Some(c)) => c,
        Ok(None) => return not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match state
        .store
        .attachment_for_contact(&contact, &state.config.webchat.inbox, &key)
        .await
    {
        Ok(a) => crate::kit::blobs::send(&state, &a).await,
        Err(switchboard_core::Error::NotFound(_)) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
