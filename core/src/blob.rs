//! Where attachments, WhatsApp media and generated PDFs are kept.
//!
//! Blobs are content-addressed: a blob's key is the SHA-256 of its bytes, so the same file
//! uploaded twice is stored once, a reference can be checked against what is read back, and
//! a key can never name anything but a blob (no path, no traversal).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::clock::random_token;
use crate::domain::text_enum;
use crate::error::{Error, Result};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

text_enum!(
    /// What a blob is for; it decides the largest size accepted, not where the blob is kept.
    BlobKind { Attachment => "attachment", Media => "media", Pdf => "pdf", Image => "image" }
);

/// The largest blob accepted for each kind, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobLimits {
    pub attachment: u64,
    /// WhatsApp documents may be up to 100 MB.
    pub media: u64,
    pub pdf: u64,
    pub image: u64,
}

impl Default for BlobLimits {
    fn default() -> Self {
        Self {
            attachment: 25 * MIB,
            media: 100 * MIB,
            pdf: 20 * MIB,
            image: 10 * MIB,
        }
    }
}

impl BlobLimits {
    pub fn max_bytes(&self, kind: BlobKind) -> u64 {
        match kind {
            BlobKind::Attachment => self.attachment,
            BlobKind::Media => self.media,
            BlobKind::Pdf => self.pdf,
            BlobKind::Image => self.image,
        }
    }

    pub fn with(mut self, kind: BlobKind, max_bytes: u64) -> Self {
        let slot = match kind {
            BlobKind::Attachment => &mut self.attachment,
            BlobKind::Media => &mut self.media,
            BlobKind::Pdf => &mut self.pdf,
            BlobKind::Image => &mut self.image,
        };
        *slot = max_bytes;
        self
    }

    fn too_large(&self, kind: BlobKind, size: Option<u64>) -> Error {
        let limit = human_size(self.max_bytes(kind));
        Error::invalid(match size {
            Some(size) => format!("{kind} of {size} bytes is over the {limit} limit"),
            None => format!("{kind} is over the {limit} limit"),
        })
    }
}

fn human_size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The file types whose content is recognised by its first bytes, and which alone may be
/// shown inline: images and PDF. Anything else is served as an opaque download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
}

/// Bytes [`KnownType::sniff`] needs to see to decide.
pub const SNIFF_BYTES: usize = 12;

impl KnownType {
    pub const ALL: &'static [KnownType] = &[
        KnownType::Png,
        KnownType::Jpeg,
        KnownType::Gif,
        KnownType::Webp,
        KnownType::Pdf,
    ];

    /// The type the content's magic bytes say it is, whatever it is called: the name and
    /// the type a client declares are never trusted.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
        if head.starts_with(PNG) {
            Some(Self::Png)
        } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if head.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// The type a stored mime names, if it is one of these (compared without parameters
    /// and case).
    pub fn from_mime(mime: &str) -> Option<Self> {
        let bare = mime.split(';').next().unwrap_or("").trim();
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.mime().eq_ignore_ascii_case(bare))
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        }
    }

    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }
}

/// The key of a blob: the SHA-256 of its content, as 64 lowercase hex digits.
///
/// Only a well-formed key can be built, so a key taken from a URL or a database row is safe
/// to turn into a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn parse(s: &str) -> Result<Self> {
        let well_formed = s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(format!(
                "blob key {s:?} is not 64 lowercase hex digits"
            )))
        }
    }

    /// The key the given content is stored under.
    pub fn of(content: &[u8]) -> Self {
        Self::from_digest(Sha256::new_with_prefix(content))
    }

    fn from_digest(hasher: Sha256) -> Self {
        Self(hex::encode(hasher.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BlobKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BlobKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BlobKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What is kept about a stored blob (in a message, an attachment row, a card).
///
/// `sha256` repeats the key so a reader needs no knowledge of how keys are made; a
/// reference whose two disagree is refused when deserialized.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BlobRefFields")]
pub struct BlobRef {
    key: BlobKey,
    size: u64,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlobRefFields {
    key: BlobKey,
    size: u64,
    sha256: String,
}

impl TryFrom<BlobRefFields> for BlobRef {
    type Error = Error;
    fn try_from(f: BlobRefFields) -> Result<Self> {
        if f.sha256 != f.key.as_str() {
            return Err(Error::invalid(format!(
                "blob reference {} has sha256 {:?}",
                f.key, f.sha256
            )));
        }
        Ok(Self::new(f.key, f.size))
    }
}

impl BlobRef {
    pub fn new(key: BlobKey, size: u64) -> Self {
        let sha256 = key.as_str().to_owned();
        Self { key, size, sha256 }
    }
    pub fn key(&self) -> &BlobKey {
        &self.key
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// Storage of blobs. Writes are refused beyond the kind's limit; reads of a blob that no
/// longer matches its key fail rather than hand out damaged content.
#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    async fn put(&self, kind: BlobKind, bytes: &[u8]) -> Result<BlobRef>;

    /// Stores what `reader` yields without holding it all in memory. A body over the kind's
    /// limit is refused as soon as it crosses it, and leaves nothing behind.
    async fn put_stream(
        &self,
        kind: BlobKind,
        reader: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<BlobRef>;

    async fn get(&self, key: &BlobKey) -> Result<Vec<u8>>;

    /// Reads a blob as a stream.
    async fn open(&self, key: &BlobKey) -> Result<Box<dyn AsyncRead + Unpin + Send>>;

    async fn exists(&self, key: &BlobKey) -> Result<bool>;

    async fn size(&self, key: &BlobKey) -> Result<u64>;

    /// The blobs last stored (or stored again) before `before_ms`, epoch milliseconds: the
    /// collector's candidates. Unfinished writes older than that are dropped on the way.
    async fn stored_before(&self, before_ms: i64) -> Result<Vec<BlobKey>>;

    /// Deletes a blob; one already gone is no error.
    async fn delete(&self, key: &BlobKey) -> Result<()>;
}

/// Sets a file's modification time to now, as the wall clock says (best effort: the
/// collector only waits longer).
fn touch(path: &Path) {
    use crate::clock::Clock;
    let now = u64::try_from(crate::clock::SystemClock.now_ms()).unwrap_or_default();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(now);
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(at);
    }
}

/// A file's modification time in epoch milliseconds.
fn modified_ms(meta: &std::fs::Metadata) -> Option<i64> {
    let t = meta.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Blobs as files under one directory: `<dir>/ab/cd/<sha256>`.
///
/// The two levels of two hex digits keep directories small enough to list. A blob is
/// written to `<dir>/tmp`, synced, then renamed into place, so a blob under a real key is
/// always complete, and two writers of the same content each rename a whole copy.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    limits: BlobLimits,
}

const TMP_DIR: &str = "tmp";
const CHUNK: usize = 64 * 1024;

impl LocalBlobStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            root: dir.into(),
            limits: BlobLimits::default(),
        }
    }

    /// The embedded default: `<data_dir>/blobs`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join("blobs"))
    }

    pub fn with_limits(mut self, limits: BlobLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limits(&self) -> &BlobLimits {
        &self.limits
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        let k = key.as_str();
        self.root.join(&k[..2]).join(&k[2..4]).join(k)
    }

    async fn temp_file(&self) -> Result<(tokio::fs::File, TempPath)> {
        let dir = self.root.join(TMP_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error("creating", &dir))?;
        let path = dir.join(format!("{}.tmp", random_token()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io_error("creating", &path))?;
        Ok((file, TempPath { path, kept: false }))
    }

    /// Whether a whole copy is already in place; a file of the wrong size is a damaged
    /// copy that the new write replaces.
    async fn holds(&self, dest: &Path, size: u64) -> bool {
        tokio::fs::metadata(dest)
            .await
            .is_ok_and(|m| m.is_file() && m.len() == size)
    }

    async fn commit(
        &self,
        mut file: tokio::fs::File,
        temp: TempPath,
        key: BlobKey,
        size: u64,
    ) -> Result<BlobRef> {
        let temp_path = temp.path().to_owned();
        file.flush()
            .await
            .map_err(io_error("writing", &temp_path))?;
        let dest = self.path_of(&key);
        if self.holds(&dest, size).await {
            // Stored again: its time to be collected starts again too.
            touch(&dest);
            return Ok(BlobRef::new(key, size));
        }
        file.sync_all()
            .await
            .map_err(io_error("syncing", &temp_path))?;
        drop(file);
        let dir = dest.parent().unwrap_or(&self.root);
        self.ensure_dir(dir).await?;
        tokio::fs::rename(&temp_path, &dest)
            .await
            .map_err(io_error("storing", &dest))?;
        temp.keep();
        sync_dir(dir).await?;
        Ok(BlobRef::new(key, size))
    }

    async fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if tokio::fs::metadata(dir).await.is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io_error("creating", dir))?;
        // New directory entries survive a crash only once their parents are synced.
        if let Some(shard) = dir.parent() {
            sync_dir(shard).await?;
        }
        sync_dir(&self.root).await
    }

    fn not_found(key: &BlobKey) -> impl FnOnce(io::Error) -> Error + '_ {
        move |e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::not_found(format!("blob {key}"))
            } else {
                Error::Io(format!("reading blob {key}: {e}"))
            }
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, kind: BlobKind, bytes: &[u8]) -> Result<BlobRef> {
        let size = bytes.len() as u64;
        if size > self.limits.max_bytes(kind) {
            return Err(self.limits.too_large(kind, Some(size)));
        }
        let key = BlobKey::of(bytes);
        if self.holds(&self.path_of(&key), size).await {
            return Ok(BlobRef::new(key, size));
        }
        let (mut file, temp) = self.temp_file().await?;
        file.write_all(bytes)
            .await
            .map_err(io_error("writing", temp.path()))?;
        self.commit(file, temp, key, size).await
    }

    async fn put_stream(
        &self,
        kind: BlobKind,
        reader: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<BlobRef> {
        let limit = self.limits.max_bytes(kind);
        let (mut file, temp) = self.temp_file().await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Error::Io(format!("reading {kind} upload: {e}")))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > limit {
                return Err(self.limits.too_large(kind, None));
            }
            let chunk = &buf[..n];
            hasher.update(chunk);
            file.write_all(chunk)
                .await
                .map_err(io_error("writing", temp.path()))?;
        }
        self.commit(file, temp, BlobKey::from_digest(hasher), size)
            .await
    }

    async fn get(&self, key: &BlobKey) -> Result<Vec<u8>> {
        let bytes = tokio::fs::read(self.path_of(key))
            .await
            .map_err(Self::not_found(key))?;
        let actual = BlobKey::of(&bytes);
        if actual != *key {
            return Err(corrupt(key, &actual));
        }
        Ok(bytes)
    }

    async fn open(&self, key: &BlobKey) -> Result<Box<dyn AsyncRead + Unpin + Send>> {
        let file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(Self::not_found(key))?;
        Ok(Box::new(Verified {
            inner: file,
            hasher: Sha256::new(),
            key: key.clone(),
            state: ReadState::Reading,
        }))
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool> {
        let path = self.path_of(key);
        tokio::fs::try_exists(&path)
            .await
            .map_err(io_error("looking up", &path))
    }

    async fn size(&self, key: &BlobKey) -> Result<u64> {
        let meta = tokio::fs::metadata(self.path_of(key))
            .await
            .map_err(Self::not_found(key))?;
        Ok(meta.len())
    }

    async fn stored_before(&self, before_ms: i64) -> Result<Vec<BlobKey>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let old = |p: &Path| {
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| modified_ms(&m))
                    .is_some_and(|t| t < before_ms)
            };
            let list = |dir: &Path| -> Vec<PathBuf> {
                std::fs::read_dir(dir)
                    .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                    .unwrap_or_default()
            };
            let mut found = Vec::new();
            for shard in list(&root) {
                if shard.file_name().is_some_and(|n| n == TMP_DIR) {
                    for t in list(&shard) {
                        if old(&t) {
                            let _ = std::fs::remove_file(&t);
                        }
                    }
                    continue;
                }
                for sub in list(&shard) {
                    for file in list(&sub) {
                        let key = file
                            .file_name()
                            .and_then(|n| n.to_str())
                            .and_then(|n| BlobKey::parse(n).ok());
                        if let Some(key) = key
                            && old(&file)
                        {
                            found.push(key);
                        }
                    }
                }
            }
            found
        })
        .await
        .map_err(|e| Error::Io(format!("listing blobs: {e}")))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        let path = self.path_of(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("deleting", &path)(e)),
        }
    }
}

fn corrupt(key: &BlobKey, actual: &BlobKey) -> Error {
    Error::Io(format!(
        "blob {key} is corrupt: its content hashes to {actual}"
    ))
}

fn io_error<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |e| Error::Io(format!("{action} {}: {e}", path.display()))
}

#[cfg(unix)]
async fn sync_dir(dir: &Path) -> Result<()> {
    let handle = tokio::fs::File::open(dir)
        .await
        .map_err(io_error("opening", dir))?;
    handle.sync_all().await.map_err(io_error("syncing", dir))
}

#[cfg(not(unix))]
async fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// A temporary file that is removed unless kept, so a refused, failed or abandoned write
/// (an upload whose client went away drops the future mid-stream) leaves nothing behind.
struct TempPath {
    path: PathBuf,
    kept: bool,
}

impl TempPath {
    fn path(&self) -> &Path {
        &self.path
    }
    fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if !self.kept {
            // Drop cannot await; unlinking one file is quick enough to do in place.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Hashes what it hands out and fails at the end if the content does not match the key,
/// so a streamed blob is checked without being held in memory.
struct Verified<R> {
    inner: R,
    hasher: Sha256,
    key: BlobKey,
    state: ReadState,
}

enum ReadState {
    Reading,
    Verified,
    Corrupt(String),
}

impl<R: AsyncRead + Unpin> AsyncRead for Verified<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &this.state {
            ReadState::Reading => {}
            ReadState::Verified => return Poll::Ready(Ok(())),
            ReadState::Corrupt(msg) => {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, msg.clone())));
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            this.hasher.update(read);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() == 0 {
            // Nothing could be read into a full buffer: not the end of the file.
            return Poll::Ready(Ok(()));
        }
        let actual = BlobKey::from_digest(std::mem::take(&mut this.hasher));
        if actual == this.key {
            this.state = ReadState::Verified;
            Poll::Ready(Ok(()))
        } else {
            let msg = corrupt(&this.key, &actual).to_string();
            this.state = ReadState::Corrupt(msg.clone());
            Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, msg)))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use super::*;

    fn store() -> (tempfile::TempDir, LocalBlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::in_data_dir(dir.path());
        (dir, store)
    }

    /// Every file under the store, temporary ones included.
    fn files(store: &LocalBlobStore) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(store.root(), &mut out);
        out
    }

    async fn read_all(mut reader: Box<dyn AsyncRead + Unpin + Send>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).await?;
        Ok(out)
    }

    #[test]
    fn types_are_told_by_their_magic_bytes_not_their_names() {
        let cases: &[(&[u8], Option<KnownType>)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some(KnownType::Png)),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Some(KnownType::Jpeg)),
            (b"\xff\xd8\xff\xdb", Some(KnownType::Jpeg)),
            (b"GIF89a\x01\0\x01\0", Some(KnownType::Gif)),
            (b"GIF87a", Some(KnownType::Gif)),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Some(KnownType::Webp)),
            (b"%PDF-1.7\n%", Some(KnownType::Pdf)),
            // Look-alikes and everything else.
            (b"RIFF\x24\0\0\0WAVEfmt ", None),
            (b"RIFF\x24\0\0\0WEB", None),
            (b"\x89PNG\r\n", None),
            (b"GIF88a", None),
            (b"%PDF", None),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\">", None),
            (b"<!doctype html><script>alert(1)</script>", None),
            (b"PK\x03\x04", None),
            (b"MZ\x90\0", None),
            (b" %PDF-1.4", None),
            (b"", None),
        ];
        for (head, want) in cases {
            assert_eq!(
                KnownType::sniff(head),
                *want,
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        for t in KnownType::ALL {
            assert_eq!(KnownType::from_mime(t.mime()), Some(*t));
        }
        assert_eq!(
            KnownType::from_mime("IMAGE/PNG; charset=binary"),
            Some(KnownType::Png)
        );
        for other in ["text/html", "image/svg+xml", "application/octet-stream", ""] {
            assert_eq!(KnownType::from_mime(other), None, "{other}");
        }
        assert!(KnownType::Webp.is_image() && !KnownType::Pdf.is_image());
    }

    #[tokio::test]
    async fn round_trip() {
        let (_dir, store) = store();
        let content = b"invoice 2024-0042".to_vec();
        let blob = store.put(BlobKind::Pdf, &content).await.unwrap();

        assert_eq!(blob.size(), content.len() as u64);
        assert_eq!(store.get(blob.key()).await.unwrap(), content);
        assert_eq!(
            read_all(store.open(blob.key()).await.unwrap())
                .await
                .unwrap(),
            content
        );
        assert!(store.exists(blob.key()).await.unwrap());
        assert_eq!(store.size(blob.key()).await.unwrap(), content.len() as u64);

        let json = serde_json::to_string(&blob).unwrap();
        assert_eq!(serde_json::from_str::<BlobRef>(&json).unwrap(), blob);
    }

    #[tokio::test]
    async fn the_key_is_the_sha256_of_the_content() {
        let (_dir, store) = store();
        let blob = store.put(BlobKind::Attachment, b"abc").await.unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

        assert_eq!(blob.key().as_str(), sha);
        assert_eq!(blob.sha256(), sha);
        assert_eq!(
            files(&store),
            vec![store.root().join("ba").join("78").join(sha)]
        );
    }

    #[tokio::test]
    async fn the_same_content_is_stored_once() {
        let (_dir, store) = store();
        let first = store.put(BlobKind::Image, b"logo").await.unwrap();
        let again = store.put(BlobKind::Attachment, b"logo").await.unwrap();
        let streamed = store
            .put_stream(BlobKind::Media, &mut &b"logo"[..])
            .await
            .unwrap();

        assert_eq!(first, again);
        assert_eq!(first, streamed);
        assert_eq!(files(&store), vec![store.path_of(first.key())]);
    }

    #[tokio::test]
    async fn an_oversize_put_is_refused_and_leaves_nothing() {
        let (_dir, store) = store();
        let too_big = vec![0u8; 25 * 1024 * 1024 + 1];

        let err = store.put(BlobKind::Attachment, &too_big).await.unwrap_err();

        assert!(matches!(err, Error::Invalid(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("attachment") && msg.contains("25 MiB"),
            "{msg}"
        );
        assert_eq!(files(&store), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn an_oversize_stream_is_refused_and_leaves_nothing() {
        let (_dir, store) = store();
        let limit = 10 * 1024 * 1024;
        let mut reader = tokio::io::repeat(1).take(limit + 1);

        let err = store
            .put_stream(BlobKind::Image, &mut reader)
            .await
            .unwrap_err();

        assert!(matches!(err, Error::Invalid(_)), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("image") && msg.contains("10 MiB"), "{msg}");
        assert_eq!(files(&store), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn a_blob_of_exactly_the_limit_is_accepted() {
        let (_dir, store) = store();
        let store = store.with_limits(BlobLimits::default().with(BlobKind::Pdf, 1000));

        store.put(BlobKind::Pdf, &[7; 1000]).await.unwrap();
        let mut reader = tokio::io::repeat(8).take(1000);
        store.put_stream(BlobKind::Pdf, &mut reader).await.unwrap();

        let err = store.put(BlobKind::Pdf, &[7; 1001]).await.unwrap_err();
        assert!(err.to_string().contains("1000 bytes"), "{err}");
        assert_eq!(files(&store).len(), 2);
    }

    #[test]
    fn limits_default_and_read_from_config() {
        let defaults = BlobLimits::default();
        assert_eq!(defaults.max_bytes(BlobKind::Attachment), 25 * MIB);
        assert_eq!(defaults.max_bytes(BlobKind::Media), 100 * MIB);
        assert_eq!(defaults.max_bytes(BlobKind::Pdf), 20 * MIB);
        assert_eq!(defaults.max_bytes(BlobKind::Image), 10 * MIB);

        let limits: BlobLimits = toml::from_str("image = 2048").unwrap();
        assert_eq!(limits, defaults.with(BlobKind::Image, 2048));
        assert!(toml::from_str::<BlobLimits>("video = 1").is_err());
    }

    #[test]
    fn kinds_round_trip_their_text() {
        for kind in BlobKind::ALL {
            assert_eq!(BlobKind::parse(kind.as_str()).unwrap(), *kind);
        }
        assert!(BlobKind::parse("Pdf").is_err());
    }

    #[test]
    fn invalid_keys_are_refused() {
        let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(BlobKey::parse(good).unwrap().as_str(), good);

        let (upper, long) = (good.to_uppercase(), format!("{good}0"));
        let (dotted, non_hex) = (format!("../{}", &good[3..]), format!("{}g", &good[..63]));
        for bad in [
            "../etc/passwd",
            &upper,
            &good[..63],
            "ba7816bf",
            &long,
            &dotted,
            &non_hex,
            "",
        ] {
            let err = BlobKey::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{bad:?} gave {err}");
        }

        let json = r#"{"key":"../etc/passwd","size":1,"sha256":"../etc/passwd"}"#;
        assert!(serde_json::from_str::<BlobRef>(json).is_err());
        let mismatched = format!(
            r#"{{"key":"{good}","size":3,"sha256":"{}"}}"#,
            "0".repeat(64)
        );
        assert!(serde_json::from_str::<BlobRef>(&mismatched).is_err());
    }

    #[tokio::test]
    async fn an_unknown_key_is_not_found() {
        let (_dir, store) = store();
        let key = BlobKey::of(b"never stored");

        assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
        assert!(matches!(store.open(&key).await, Err(Error::NotFound(_))));
        assert!(matches!(store.size(&key).await, Err(Error::NotFound(_))));
        assert!(!store.exists(&key).await.unwrap());
    }

    #[tokio::test]
    async fn a_corrupted_file_is_detected() {
        let (_dir, store) = store();
        let blob = store
            .put(BlobKind::Attachment, b"contract v1")
            .await
            .unwrap();
        std::fs::write(store.path_of(blob.key()), b"contract v2").unwrap();

        let err = store.get(blob.key()).await.unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err}");
        assert!(err.to_string().contains("corrupt"), "{err}");

        let err = read_all(store.open(blob.key()).await.unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_damaged_copy_is_replaced_by_the_next_put() {
        let (_dir, store) = store();
        let blob = store.put(BlobKind::Attachment, b"contract").await.unwrap();
        std::fs::write(store.path_of(blob.key()), b"contr").unwrap();

        store.put(BlobKind::Attachment, b"contract").await.unwrap();

        assert_eq!(store.get(blob.key()).await.unwrap(), b"contract");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_puts_of_the_same_bytes_give_one_file() {
        let (_dir, store) = store();
        let store = Arc::new(store);
        let content: Arc<[u8]> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();

        // Half stream, because a streamed put cannot see the copy already in place and so
        // always races to rename.
        let puts: Vec<_> = (0..16)
            .map(|i| {
                let (store, content) = (store.clone(), content.clone());
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        store.put(BlobKind::Media, &content).await
                    } else {
                        store.put_stream(BlobKind::Media, &mut &content[..]).await
                    }
                })
            })
            .collect();
        let mut keys = Vec::new();
        for put in puts {
            keys.push(put.await.unwrap().unwrap().key().clone());
        }

        keys.dedup();
        assert_eq!(keys, vec![BlobKey::of(&content)]);
        assert_eq!(files(&store), vec![store.path_of(&keys[0])]);
        assert_eq!(store.get(&keys[0]).await.unwrap(), &content[..]);
    }

    #[tokio::test]
    async fn an_abandoned_stream_leaves_nothing() {
        let (_dir, store) = store();
        let (mut client, mut sender) = tokio::io::duplex(1024);
        sender.write_all(b"the first half of a file").await.unwrap();

        let put = store.put_stream(BlobKind::Attachment, &mut client);
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(200), put).await;

        assert!(abandoned.is_err(), "the upload never ends");
        assert_eq!(files(&store), Vec::<PathBuf>::new());
    }

    #[tokio::test]
    async fn a_5_mib_stream_is_stored() {
        let (_dir, store) = store();
        let size = 5 * 1024 * 1024;
        let mut reader = tokio::io::repeat(b'x').take(size);

        let blob = store
            .put_stream(BlobKind::Media, &mut reader)
            .await
            .unwrap();

        assert_eq!(blob.size(), size);
        assert_eq!(blob.key(), &BlobKey::of(&vec![b'x'; size as usize]));
        assert_eq!(files(&store), vec![store.path_of(blob.key())]);
        let back = read_all(store.open(blob.key()).await.unwrap())
            .await
            .unwrap();
        assert_eq!(back.len() as u64, size);
    }
}
