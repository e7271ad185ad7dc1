//! The email channel's inbound side over IMAP: one connection to one mailbox folder,
//! logged in by password or OAuth2 (`XOAUTH2`, `OAUTHBEARER`), that lists the messages
//! after a UID, fetches them in batches, marks them processed (flagged `\Seen`, or moved
//! to a folder) and waits for news with IDLE where the server has it.
//!
//! The poller that drives it (and keeps the cursor) is the gateway's: this module holds
//! no state beyond the connection.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Authenticator, Client, Session};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use super::oauth::{oauthbearer, xoauth2};
use super::server::{Login, Security, ServerAddr, tls_config};

pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync + Debug> ImapIo for T {}
type Stream = Box<dyn ImapIo>;

/// Which SASL mechanism carries an OAuth2 token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OAuthMechanism {
    Xoauth2,
    Oauthbearer,
}

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub server: ServerAddr,
    pub login: Login,
    pub oauth_mechanism: OAuthMechanism,
    /// The folder read (`INBOX`).
    pub folder: String,
    /// Where processed messages go; `None` flags them `\Seen` where they are.
    pub processed_folder: Option<String>,
    pub ca_pem: Option<Vec<u8>>,
    /// Longest wait on any one command.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("TLS with {0} failed: {1}")]
    Tls(String, String),
    #[error("the server refused the login: {0}")]
    Login(String),
    #[error("the server does not offer STARTTLS, and it is not on this machine")]
    NoStartTls,
    #[error("IMAP: {0}")]
    Protocol(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> Self {
        ImapError::Protocol(e.to_string())
    }
}

/// The selected folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Folder {
    pub uid_validity: u32,
    pub uid_next: Option<u32>,
    pub exists: u32,
}

/// One fetched message.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    /// The raw message; `None` when it is over the size limit (not downloaded).
    pub raw: Option<Vec<u8>>,
    pub size: u32,
    /// When the server received it (ms since the epoch).
    pub received_at: Option<i64>,
}

struct Bearer {
    first: String,
    sent: bool,
    /// What to answer the server's error challenge with.
    on_error: &'static [u8],
}

impl Authenticator for Bearer {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        if std::mem::replace(&mut self.sent, true) {
            return self.on_error.to_vec();
        }
        self.first.clone().into_bytes()
    }
}

pub struct Connection {
    session: Session<Stream>,
    idle: bool,
    /// The connection is encrypted (TLS or STARTTLS).
    tls: bool,
    moves: bool,
    settings: Arc<ImapSettings>,
}

impl Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.settings.server)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

async fn within<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| ImapError::Timeout(limit.as_secs()))?
}

impl Connection {
    /// Connects, secures and logs in.
    pub async fn open(settings: Arc<ImapSettings>) -> Result<Self, ImapError> {
        let limit = settings.timeout;
        within(limit, Self::open_inner(settings)).await
    }

    async fn open_inner(settings: Arc<ImapSettings>) -> Result<Self, ImapError> {
        let s = &settings.server;
        let at = format!("{}:{}", s.host, s.port);
        let tcp = TcpStream::connect((s.host.as_str(), s.port))
            .await
            .map_err(|e| ImapError::Connect(at.clone(), e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let connector = || -> Result<(TlsConnector, ServerName<'static>), ImapError> {
            let cfg = tls_config(settings.ca_pem.as_deref())
                .map_err(|e| ImapError::Tls(at.clone(), e.to_string()))?;
            let name = ServerName::try_from(s.host.clone())
                .map_err(|e| ImapError::Tls(at.clone(), e.to_string()))?;
            Ok((TlsConnector::from(Arc::new(cfg)), name))
        };
        let mut encrypted = false;
        let stream: Stream = match s.security {
            Security::Tls => {
                let (c, name) = connector()?;
                let tls = c
                    .connect(name, tcp)
                    .await
                    .map_err(|e| ImapError::Tls(at.clone(), e.to_string()))?;
                let mut client = Client::new(Box::new(tls) as Stream);
                client
                    .read_response()
                    .await
                    .map_err(|e| ImapError::Connect(at.clone(), e.to_string()))?;
                return Self::login(client, settings.clone(), true).await;
            }
            Security::StartTls | Security::LoopbackPlain => {
                let mut client = Client::new(tcp);
                client
                    .read_response()
                    .await
                    .map_err(|e| ImapError::Connect(at.clone(), e.to_string()))?;
                // Elsewhere STARTTLS is required. On this machine it is used when offered and
                // a CA to check the server with is configured; plain text otherwise.
                let starttls = s.security == Security::StartTls
                    || (s.security == Security::LoopbackPlain && settings.ca_pem.is_some());
                let upgraded = starttls
                    && client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .is_ok();
                if upgraded {
                    let (c, name) = connector()?;
                    let tls = c
                        .connect(name, client.into_inner())
                        .await
                        .map_err(|e| ImapError::Tls(at.clone(), e.to_string()))?;
                    encrypted = true;
                    Box::new(tls)
                } else if s.security == Security::LoopbackPlain {
                    Box::new(client.into_inner())
                } else {
                    return Err(ImapError::NoStartTls);
                }
            }
        };
        Self::login(Client::new(stream), settings, encrypted).await
    }

    async fn login(
        client: Client<Stream>,
        settings: Arc<ImapSettings>,
        tls: bool,
    ) -> Result<Self, ImapError> {
        let s = &settings.server;
        let session = match &settings.login {
            Login::Password { user, password } => client
                .login(user, password)
                .await
                .map_err(|(e, _)| ImapError::Login(e.to_string()))?,
            Login::OAuth2 { user, tokens } => {
                let token = tokens
                    .access_token()
                    .await
                    .map_err(|e| ImapError::Login(e.to_string()))?;
                let (mech, auth) = match settings.oauth_mechanism {
                    OAuthMechanism::Xoauth2 => (
                        "XOAUTH2",
                        Bearer {
                            first: xoauth2(user, &token),
                            sent: false,
                            on_error: b"",
                        },
                    ),
                    OAuthMechanism::Oauthbearer => (
                        "OAUTHBEARER",
                        Bearer {
                            first: oauthbearer(user, &s.host, s.port, &token),
                            sent: false,
                            on_error: b"\x01",
                        },
                    ),
                };
                match client.authenticate(mech, auth).await {
                    Ok(session) => session,
                    Err((e, _)) => {
                        // Perhaps revoked or expired early: the next attempt fetches anew.
                        tokens.forget().await;
                        return Err(ImapError::Login(e.to_string()));
                    }
                }
            }
        };
        let mut c = Self {
            session,
            idle: false,
            tls,
            moves: false,
            settings,
        };
        let caps = c.session.capabilities().await?;
        c.idle = caps.has_str("IDLE");
        c.moves = caps.has_str("MOVE");
        Ok(c)
    }

    pub fn supports_idle(&self) -> bool {
        self.idle
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Selects the folder read.
    pub async fn select(&mut self) -> Result<Folder, ImapError> {
        let limit = self.settings.timeout;
        let folder = self.settings.folder.clone();
        let mb = within(limit, async {
            self.session.select(&folder).await.map_err(ImapError::from)
        })
        .await?;
        Ok(Folder {
            uid_validity: mb
                .uid_validity
                .ok_or_else(|| ImapError::Protocol("the folder has no UIDVALIDITY".into()))?,
            uid_next: mb.uid_next,
            exists: mb.exists,
        })
    }

    /// The UIDs after `after`, and (for a first or re-synchronisation) only those the
    /// server received on or after `since` (a day, `D-Mon-YYYY`), ascending.
    pub async fn uids(&mut self, after: u32, since: Option<&str>) -> Result<Vec<u32>, ImapError> {
        let limit = self.settings.timeout;
        let query = match since {
            Some(day) => format!("UID {}:* SINCE {day}", after.saturating_add(1)),
            None => format!("UID {}:*", after.saturating_add(1)),
        };
        let set = within(limit, async {
            self.session
                .uid_search(&query)
                .await
                .map_err(ImapError::from)
        })
        .await?;
        // `n:*` always names the highest UID, even one below n.
        let mut uids: Vec<u32> = set.into_iter().filter(|u| *u > after).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Fetches the messages `uids`; one over `max_bytes` comes back without its bytes.
    pub async fn fetch(&mut self, uids: &[u32], max_bytes: u32) -> Result<Vec<Fetched>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.settings.timeout * 4;
        let set = uid_set(uids);
        // Sizes first: a message over the limit is never downloaded.
        let sizes: Vec<(u32, u32, Option<i64>)> = within(limit, async {
            let stream = self
                .session
                .uid_fetch(&set, "(UID RFC822.SIZE INTERNALDATE)")
                .await?;
            let all: Vec<_> = stream.try_collect().await?;
            Ok::<_, ImapError>(
                all.iter()
                    .filter_map(|f| {
                        Some((
                            f.uid?,
                            f.size.unwrap_or(0),
                            f.internal_date().map(|d| d.timestamp_millis()),
                        ))
                    })
                    .collect(),
            )
        })
        .await?;
        let small: Vec<u32> = sizes
            .iter()
            .filter(|(_, size, _)| *size <= max_bytes)
            .map(|(uid, _, _)| *uid)
            .collect();
        let mut bodies = std::collections::HashMap::new();
        if !small.is_empty() {
            let set = uid_set(&small);
            within(limit, async {
                let mut stream = self.session.uid_fetch(&set, "(UID BODY.PEEK[])").await?;
                while let Some(f) = stream.try_next().await? {
                    if let (Some(uid), Some(body)) = (f.uid, f.body()) {
                        bodies.insert(uid, body.to_vec());
                    }
                }
                Ok::<_, ImapError>(())
            })
            .await?;
        }
        let mut out: Vec<Fetched> = sizes
            .into_iter()
            .filter(|(uid, _, _)| uids.contains(uid))
            .map(|(uid, size, received_at)| Fetched {
                uid,
                raw: bodies.remove(&uid),
                size,
                received_at,
            })
            .collect();
        out.sort_by_key(|f| f.uid);
        // A failed FETCH ends its answer early and looks like success: a message asked for
        // and small enough must have come back, or the batch is tried again.
        if let Some(missing) = out.iter().find(|f| f.raw.is_none() && f.size <= max_bytes) {
            return Err(ImapError::Protocol(format!(
                "the server did not return the message with UID {}",
                missing.uid
            )));
        }
        Ok(out)
    }

    /// Marks `uids` processed: moved to the processed folder, or flagged `\Seen`.
    pub async fn mark_processed(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        if uids.is_empty() {
            return Ok(());
        }
        let limit = self.settings.timeout;
        let set = uid_set(uids);
        let target = self.settings.processed_folder.clone();
        let moves = self.moves;
        within(limit, async {
            match target {
                Some(folder) if moves => self.session.uid_mv(&set, &folder).await?,
                Some(folder) => {
                    self.session.uid_copy(&set, &folder).await?;
                    let s = self
                        .session
                        .uid_store(&set, "+FLAGS.SILENT (\\Seen \\Deleted)")
                        .await?;
                    let _: Vec<_> = s.try_collect().await?;
                    let e = self.session.uid_expunge(&set).await?;
                    let _: Vec<_> = e.try_collect().await?;
                }
                None => {
                    let s = self
                        .session
                        .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                        .await?;
                    let _: Vec<_> = s.try_collect().await?;
                }
            }
            Ok::<_, ImapError>(())
        })
        .await
    }

    /// Waits for news: IDLE up to `most` where the server has it, else a plain wait of
    /// `poll`. Returns the connection for the next round. (To stop waiting, drop the
    /// future.)
    pub async fn wait(self, most: Duration, poll: Duration) -> Result<Self, ImapError> {
        // Mail that arrived while the last round's commands ran was announced then (an
        // untagged EXISTS among their answers), and IDLE would not announce it again: read
        // at once instead of waiting.
        let mut news = false;
        while let Ok(r) = self.session.unsolicited_responses.try_recv() {
            news |= matches!(
                r,
                async_imap::types::UnsolicitedResponse::Exists(_)
                    | async_imap::types::UnsolicitedResponse::Recent(_)
            );
        }
        if news {
            return Ok(self);
        }
        if !self.idle {
            tokio::time::sleep(poll).await;
            return Ok(self);
        }
        let Self {
            session,
            idle,
            tls,
            moves,
            settings,
        } = self;
        let mut handle = session.idle();
        within(settings.timeout, async {
            handle.init().await.map_err(ImapError::from)
        })
        .await?;
        {
            let (fut, stop) = handle.wait_with_timeout(most);
            tokio::select! {
                r = fut => { r?; }
                _ = tokio::time::sleep(most) => { drop(stop); }
            }
        }
        let session = within(settings.timeout, async {
            handle.done().await.map_err(ImapError::from)
        })
        .await?;
        Ok(Self {
            session,
            idle,
            tls,
            moves,
            settings,
        })
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

/// A UID set in IMAP syntax, with runs as ranges (`1:5,7,9:12`).
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// An IMAP `SINCE` day (`22-Nov-2026`) `days` before `now_ms`.
pub fn since_day(now_ms: i64, days: u32) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day_ms = 86_400_000i64;
    let days_since_epoch = (now_ms / day_ms) - i64::from(days);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days_since_epoch + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d}-{}-{y}", MONTHS[usize::try_from(m - 1).unwrap_or(0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 10, 7]), "1:3,5,7,9:10");
        assert_eq!(uid_set(&[4]), "4");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn since_days_are_imap_dates() {
        // 2026-11-22T12:00:00Z
        let now = 1_795_348_800_000;
        assert_eq!(since_day(now, 0), "22-Nov-2026");
        assert_eq!(since_day(now, 30), "23-Oct-2026");
        assert_eq!(since_day(now, 365), "22-Nov-2025");
        assert_eq!(since_day(951_782_400_000, 0), "29-Feb-2000");
    }
}
