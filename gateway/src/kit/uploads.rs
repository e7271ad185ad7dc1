//! Uploaded files, stored as they stream in: typed by their first bytes (images and PDF),
//! refused the moment they pass their limit, nothing left behind. The widget's uploads
//! and the portal's forms both take files through here.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use switchboard_channels::webchat::attachment::{accepted_type, file_name};
use switchboard_core::blob::{BlobKind, SNIFF_BYTES};
use switchboard_core::domain::Attachment;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::kit::AppState;
use crate::kit::error::ApiError;

pub fn too_large(max: u64) -> ApiError {
    ApiError::TooLarge(format!("files may be at most {}", human(max)))
}

/// Stores one uploaded file, at most `max` bytes: an image (PNG, JPEG, GIF, WebP) or a
/// PDF, told by its first bytes whatever it is called. The widget's uploads and the
/// portal's forms take files through here.
pub async fn store_file<R: AsyncRead + Unpin + Send>(
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
}
