//! Stored files: `/blobs/{key}` for agents, and the one way any file leaves the server
//! ([`send`]), which the widget's download uses too.
//!
//! An agent gets a file only through a message of a conversation it may see; any other key
//! is "not found", as for one never stored. A file goes out with the type it was stored
//! with only when that type is an image or a PDF (told by content when it was taken);
//! anything else is an opaque download. Nothing is ever sniffed or rendered as a page:
//! `nosniff`, a sandboxing policy, and PDFs and unknown types as attachments.
//!
//! **Architecture Invariant:** a stored file is read only through a message that carries
//! it: by an agent who may see that message's conversation (`/blobs/{key}`, in the route
//! table the scope test walks), or by the visitor whose own web-chat conversation shows it
//! (`webchat/attachments.rs`; never through a note); any other key is 404, as for one never
//! stored. `message_blobs`, kept by a trigger on `messages`, indexes which message carries
//! which blob
//! (`attachments::attachments_are_read_only_through_messages_the_reader_may_see`, e2e
//! `webchat::files_are_taken_by_content_and_size_and_given_back_only_to_their_owner_*`,
//! `inbox::every_route_keeps_to_the_callers_scope_*`). A widget upload's type is its magic
//! bytes' (`blob::KnownType::sniff`), and a message names its files by a receipt signed for
//! its visitor, so it carries only files stored for that visitor with the type found.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchboard_core::blob::{BlobKey, KnownType};
use switchboard_core::domain::Attachment;
use tokio_util::io::ReaderStream;

use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::page::WebError;
use crate::kit::session::WebAgent;

/// `GET /blobs/{key}`: a file of a conversation the agent may see.
pub async fn agent_blob(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(key): Path<String>,
) -> Result<Response, WebError> {
    let Ok(key) = BlobKey::parse(&key) else {
        return Err(WebError::NotFound(agent.tr));
    };
    match state.store.attachment_for(&agent.caller, &key).await {
        Ok(a) => Ok(send(&state, &a).await),
        Err(switchboard_core::Error::NotFound(_)) => Err(WebError::NotFound(agent.tr)),
        Err(e) => Err(e.into()),
    }
}

/// How a stored type goes out: its own type and inline for images; its own type as an
/// attachment for PDFs; anything else as opaque bytes to save.
pub fn served_as(stored_mime: &str) -> (&'static str, bool) {
    match KnownType::from_mime(stored_mime) {
        Some(t) if t.is_image() => (t.mime(), true),
        Some(t) => (t.mime(), false),
        None => ("application/octet-stream", false),
    }
}

/// A `Content-Disposition` for `name`: an ASCII fallback and the UTF-8 name (RFC 6266).
pub fn disposition(inline: bool, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Streams a stored file with the headers that keep it inert.
pub async fn send(state: &AppState, a: &Attachment) -> Response {
    let size = match state.blobs.size(&a.blob).await {
        Ok(n) => n,
        Err(switchboard_core::Error::NotFound(_)) => {
            return ApiError::NotFound("the file is no longer stored".into()).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let reader = match state.blobs.open(&a.blob).await {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (mime, inline) = served_as(&a.mime);
    let mut response = Body::from_stream(ReaderStream::new(reader)).into_response();
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&disposition(inline, &a.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Who may read it is checked on every request; a browser keeps its own copy only.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_show_inline_and_only_known_types_keep_their_type() {
        assert_eq!(served_as("image/png"), ("image/png", true));
        assert_eq!(served_as("image/webp"), ("image/webp", true));
        assert_eq!(served_as("application/pdf"), ("application/pdf", false));
        for other in ["text/html", "image/svg+xml", "application/javascript", ""] {
            assert_eq!(
                served_as(other),
                ("application/octet-stream", false),
                "{other}"
            );
        }
    }

    #[test]
    fn names_are_quoted_safely() {
        assert_eq!(
            disposition(false, "manual.pdf"),
            "attachment; filename=\"manual.pdf\"; filename*=UTF-8''manual.pdf"
        );
        assert_eq!(
            disposition(true, "foto \"ação\".png"),
            "inline; filename=\"foto _a__o_.png\"; filename*=UTF-8''foto%20%22a%C3%A7%C3%A3o%22.png"
        );
        assert!(HeaderValue::from_str(&disposition(true, "a\r\nSet-Cookie: x")).is_ok());
    }
}
