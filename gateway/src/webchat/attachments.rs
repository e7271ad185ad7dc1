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
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::Deserialize;
use switchboard_channels::webchat::attachment::{accepted_type, file_name};
use switchboard_core::blob::{BlobKey, BlobKind, SNIFF_BYTES};
use switchboard_core::domain::{Attachment, Identity, IdentityKind};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio_util::io::StreamReader;

use crate::app::AppState;
use crate::error::ApiError;

/// Uploads each visitor may make per minute (bursts up to the same number), and each
/// client address four times that: a new socket is a new visitor id, so the address is
/// what bounds a client that keeps opening sockets.
pub struct UploadLimits {
    per_visitor: governor::DefaultKeyedRateLimiter<String>,
    per_ip: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl std::fmt::Debug for UploadLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadLimits")
    }
}

impl UploadLimits {
    pub fn new(per_minute: u32) -> Self {
        let n = std::num::NonZeroU32::new(per_minute).unwrap_or(std::num::NonZeroU32::MIN);
        let per_ip = n.saturating_mul(std::num::NonZeroU32::new(4).unwrap_or(n));
        Self {
            per_visitor: governor::RateLimiter::keyed(governor::Quota::per_minute(n)),
            per_ip: governor::RateLimiter::keyed(governor::Quota::per_minute(per_ip)),
        }
    }

    /// Takes one upload from the client address's allowance, then the visitor's; false
    /// when either is spent.
    pub fn allow(&self, visitor: &str, ip: std::net::IpAddr) -> bool {
        crate::web::auth::take_both(
            &self.per_ip,
            &crate::webchat::client_key(ip),
            &self.per_visitor,
            visitor.to_owned(),
        )
    }
}

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

fn too_large(max: u64) -> ApiError {
    ApiError::TooLarge(format!("files may be at most {}", human(max)))
}

/// Stores one uploaded file, at most `max` bytes: an image (PNG, JPEG, GIF, WebP) or a
/// PDF, told by its first bytes whatever it is called. The widget's uploads and the
/// portal's forms take files through here.
pub(crate) async fn store_file<R: AsyncRead + Unpin + Send>(
    state: &AppState,
    reader: R,
    max: u64,
    name: &str,
) -> Result<Attachment, ApiError> {
    let mut body = Capped {
        inner: reader,
        left: max,
        over: false,
    };
    // The first bytes decide the type; they are then stored with the rest.
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut body)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(|_| {
            if body.over {
                too_large(max)
            } else {
                unreadable()
            }
        })?;
    if head.is_empty() {
        return Err(ApiError::Invalid("the file is empty".into()));
    }
    let Some(kind) = accepted_type(&head) else {
        return Err(ApiError::UnsupportedType(
            "only images (PNG, JPEG, GIF, WebP) and PDF files can be sent".into(),
        ));
    };
    let mut whole = std::io::Cursor::new(head).chain(&mut body);
    let stored = state
        .blobs
        .put_stream(BlobKind::Attachment, &mut whole)
        .await;
    let blob = match stored {
        Ok(b) => b,
        Err(_) if body.over => return Err(too_large(max)),
        Err(switchboard_core::Error::Invalid(_)) => return Err(too_large(max)),
        Err(switchboard_core::Error::Io(e)) if e.contains("upload") => return Err(unreadable()),
        Err(e) => return Err(e.into()),
    };
    Ok(Attachment {
        name: file_name(name, kind),
        mime: kind.mime().to_owned(),
        size: blob.size(),
        blob: blob.key().clone(),
        content_id: None,
    })
}

fn unreadable() -> ApiError {
    ApiError::BadRequest("the upload broke off; try again".into())
}

fn human(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// A body that fails once it yields more than `left` bytes, so an upload over the limit
/// stops there, whatever it declared.
struct Capped<R> {
    inner: R,
    left: u64,
    over: bool,
}

impl<R: AsyncRead + Unpin> AsyncRead for Capped<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = (buf.filled().len() - before) as u64;
            if n > this.left {
                this.over = true;
                // A failed read hands out nothing.
                buf.set_filled(before);
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upload over the limit",
                )));
            }
            this.left -= n;
        }
        polled
    }
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
        Ok(a) => crate::web::blobs::send(&state, &a).await,
        Err(switchboard_core::Error::NotFound(_)) => not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_capped_body_fails_past_its_limit_and_not_before() {
        let mut exact = Capped {
            inner: &[7u8; 100][..],
            left: 100,
            over: false,
        };
        let mut out = Vec::new();
        exact.read_to_end(&mut out).await.unwrap();
        assert_eq!((out.len(), exact.over), (100, false));

        let mut over = Capped {
            inner: &[7u8; 101][..],
            left: 100,
            over: false,
        };
        assert!(over.read_to_end(&mut Vec::new()).await.is_err());
        assert!(over.over);
    }

    #[test]
    fn an_allowance_is_per_visitor_and_per_address() {
        let limits = UploadLimits::new(2);
        let ip: std::net::IpAddr = [10, 0, 0, 1].into();
        assert!(limits.allow("a", ip) && limits.allow("a", ip));
        assert!(!limits.allow("a", ip));
        assert!(limits.allow("b", ip));
        // New visitor ids from one address: four times the allowance, then no more.
        let fresh: Vec<bool> = (0..6).map(|i| limits.allow(&format!("v{i}"), ip)).collect();
        assert_eq!(fresh.iter().filter(|ok| **ok).count(), 4, "{fresh:?}");
        assert!(limits.allow("z", [10, 0, 0, 2].into()));
    }
}
