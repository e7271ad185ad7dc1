//! Reads each IMAP mailbox into the inbound stream, one task per mailbox.
//!
//! A round: select the folder; compare its UIDVALIDITY with the cursor kept in the
//! database; list the UIDs after the cursor (the first time, and after the server
//! renumbered the folder, those in the backfill window); fetch them in batches; append
//! each batch's envelopes to the stream in one durable call; only then mark the batch
//! processed on the server and move the cursor. Then wait: IDLE where the server has it,
//! a timer otherwise. A crash or a server restart anywhere in that order loses nothing:
//! what was appended but not marked is fetched again, and its idempotency key (the
//! Message-ID, or the hash of its bytes) stores it once. A message that cannot be read
//! is logged with its reason and passed; it never stalls the mailbox.

use std::sync::Arc;
use std::time::Duration;

use switchboard_channels::email::imap::{Connection, ImapError, ImapSettings, since_day};
use switchboard_channels::email::oauth::{OAuth2Settings, TokenSource};
use switchboard_channels::email::parse::MAX_MESSAGE_BYTES;
use switchboard_channels::email::server::{Login, ServerAddr};
use switchboard_core::store::EmailCursor;
use switchboard_core::stream::INBOUND;
use tokio_util::sync::CancellationToken;

use crate::config::EmailInbox;
use crate::kit::AppState;
use crate::kit::mail::intake::{IntakeError, OverAllowance, read_mail};

/// Messages fetched and appended together.
pub const BATCH: usize = 200;
/// Longest IDLE before the folder is checked anyway (IDLE announces new mail at once).
const IDLE_MOST: Duration = Duration::from_secs(30);
/// How long a node's hold on a mailbox lasts unrenewed: with several nodes, one reads each
/// mailbox, and another takes over this long after it stops renewing (at once when it
/// stops cleanly and lets go). It is renewed every third of that while the node reads.
const LEASE: Duration = Duration::from_secs(10);
/// How often a node that does not hold a mailbox asks for it.
const LEASE_ASK: Duration = Duration::from_secs(2);

/// This node's name as a mailbox reader.
fn holder(state: &AppState) -> String {
    format!("{}-imap", state.node.name)
}

/// Takes or renews this node's lease on the mailbox.
async fn lease(state: &AppState, inbox: &str) -> Result<bool, String> {
    let ttl = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX / 2);
    state
        .store
        .take_email_lease(inbox, &holder(state), state.ids.now_ms(), ttl)
        .await
        .map_err(|e| e.to_string())
}

/// The login of a mailbox, as the config gives it.
pub fn login(inbox: &EmailInbox) -> Option<Login> {
    let user = inbox
        .username
        .clone()
        .unwrap_or_else(|| inbox.address.clone());
    if let Some(o) = &inbox.oauth2 {
        return Some(Login::OAuth2 {
            user,
            tokens: Arc::new(TokenSource::new(OAuth2Settings {
                token_url: o.token_url.clone(),
                client_id: o.client_id.clone(),
                client_secret: o.client_secret.as_ref().map(|s| s.expose().to_owned()),
                refresh_token: o.refresh_token.expose().to_owned(),
                scope: o.scope.clone(),
            })),
        });
    }
    inbox.password.as_ref().map(|p| Login::Password {
        user,
        password: p.expose().to_owned(),
    })
}

/// The IMAP settings of a mailbox, if it is read over IMAP.
pub fn imap_settings(inbox: &EmailInbox) -> Result<Option<ImapSettings>, String> {
    let Some(url) = &inbox.imap_url else {
        return Ok(None);
    };
    let server = ServerAddr::parse(url, "imap").map_err(|e| e.to_string())?;
    let login = login(inbox).ok_or("IMAP needs a password or [oauth2]")?;
    let ca_pem = match &inbox.ca_file {
        Some(f) => Some(std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?),
        None => None,
    };
    Ok(Some(ImapSettings {
        server,
        login,
        oauth_mechanism: inbox.oauth2.as_ref().map_or(
            switchboard_channels::email::imap::OAuthMechanism::Xoauth2,
            |o| o.mechanism,
        ),
        folder: inbox.folder.clone(),
        processed_folder: inbox.processed_folder.clone(),
        ca_pem,
        timeout: Duration::from_secs(30),
    }))
}

/// Reads one mailbox until `stop`; reconnects after any failure, waiting longer each
/// time (up to a minute).
pub async fn run(
    state: AppState,
    inbox: EmailInbox,
    settings: ImapSettings,
    stop: CancellationToken,
) {
    let settings = Arc::new(settings);
    let mut backoff = Duration::from_millis(250);
    let name = inbox.inbox();
    loop {
        // One node reads a mailbox: wait for its lease.
        match lease(&state, &name).await {
            Ok(true) => {}
            Ok(false) => {
                tokio::select! {
                    () = tokio::time::sleep(LEASE_ASK) => continue,
                    () = stop.cancelled() => return,
                }
            }
            Err(e) => tracing::warn!(inbox = %inbox.name, error = %e, "mailbox lease not taken"),
        }
        // The lease is renewed beside the session (which may sit in IDLE for long), and the
        // session ends the moment another node holds the mailbox.
        let renew = async {
            loop {
                tokio::time::sleep(LEASE / 3).await;
                match lease(&state, &name).await {
                    Ok(true) => {}
                    Ok(false) => return String::from("another node took over the mailbox"),
                    Err(e) => {
                        tracing::warn!(inbox = %inbox.name, error = %e, "mailbox lease not renewed");
                    }
                }
            }
        };
        let round = tokio::select! {
            r = session(&state, &inbox, settings.clone(), &stop, &mut backoff) => r,
            lost = renew => Err(lost),
            () = stop.cancelled() => {
                let _ = state.store.release_email_lease(&name, &holder(&state)).await;
                return;
            }
        };
        match round {
            Ok(()) => {
                let _ = state
                    .store
                    .release_email_lease(&name, &holder(&state))
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(inbox = %inbox.name, error = %e, retry_in_ms = backoff.as_millis() as u64, "mailbox not read");
                let _ = state
                    .store
                    .set_email_status(&inbox.inbox(), false, &e, 0, state.ids.now_ms())
                    .await;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// One connection's life: rounds until the stop or an error.
async fn session(
    state: &AppState,
    inbox: &EmailInbox,
    settings: Arc<ImapSettings>,
    stop: &CancellationToken,
    backoff: &mut Duration,
) -> Result<(), String> {
    let name = inbox.inbox();
    let mut conn = Connection::open(settings.clone())
        .await
        .map_err(|e| e.to_string())?;
    loop {
        round(state, inbox, &mut conn).await?;
        *backoff = Duration::from_millis(250);
        state
            .store
            .set_email_status(
                &name,
                true,
                match (conn.supports_idle(), conn.is_tls()) {
                    (true, true) => "connected over TLS (IDLE)",
                    (true, false) => "connected (IDLE)",
                    (false, true) => "connected over TLS (polling)",
                    (false, false) => "connected (polling)",
                },
                0,
                state.ids.now_ms(),
            )
            .await
            .map_err(|e| e.to_string())?;
        if stop.is_cancelled() {
            conn.logout().await;
            return Ok(());
        }
        if !lease(state, &name).await? {
            conn.logout().await;
            return Err("another node took over the mailbox".into());
        }
        conn = conn
            .wait(IDLE_MOST, Duration::from_secs(inbox.poll_seconds))
            .await
            .map_err(|e: ImapError| e.to_string())?;
    }
}

/// Reads what is new; each batch is counted in the mailbox's status as soon as it is
/// durable.
async fn round(state: &AppState, inbox: &EmailInbox, conn: &mut Connection) -> Result<(), String> {
    let name = inbox.inbox();
    let folder = conn.select().await.map_err(|e| e.to_string())?;
    let cursor = state
        .store
        .email_cursor(&name)
        .await
        .map_err(|e| e.to_string())?;
    let window = since_day(state.ids.now_ms(), inbox.backfill_days);
    let (after, since) = match cursor {
        Some(c) if c.uid_validity == folder.uid_validity => (c.last_uid, None),
        Some(c) => {
            tracing::warn!(inbox = %inbox.name, old = c.uid_validity, new = folder.uid_validity, "the server renumbered the folder: reading the backfill window again");
            (0, Some(window.as_str()))
        }
        None => (0, Some(window.as_str())),
    };
    let uids = conn.uids(after, since).await.map_err(|e| e.to_string())?;
    let limit = u32::try_from(MAX_MESSAGE_BYTES).unwrap_or(u32::MAX);
    for chunk in uids.chunks(BATCH) {
        let fetched = conn.fetch(chunk, limit).await.map_err(|e| e.to_string())?;
        let mut lines = Vec::with_capacity(fetched.len());
        for f in &fetched {
            let Some(raw) = &f.raw else {
                tracing::warn!(inbox = %inbox.name, uid = f.uid, size = f.size, limit, "mail not read: over the size limit");
                continue;
            };
            match read_mail(state, inbox, raw, f.received_at, OverAllowance::KeepAside).await {
                Ok(intake) => lines.extend(intake.lines),
                Err(IntakeError::Store(e)) => return Err(e.to_string()),
                Err(e) => {
                    tracing::warn!(inbox = %inbox.name, uid = f.uid, error = %e, "mail not read; passed over");
                }
            }
        }
        // Durable first; only then is the server told, and the cursor moved.
        if !lines.is_empty() {
            state
                .stream
                .append_batch(INBOUND, &lines)
                .await
                .map_err(|e| e.to_string())?;
        }
        conn.mark_processed(chunk)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(&last) = chunk.last() {
            move_cursor(state, &name, folder.uid_validity, last).await?;
        }
        // A long backlog keeps the lease alive batch by batch.
        if !lease(state, &name).await? {
            return Err("another node took over the mailbox".into());
        }
        state
            .store
            .set_email_status(
                &name,
                true,
                "reading",
                i64::try_from(fetched.len()).unwrap_or(0),
                state.ids.now_ms(),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    if uids.is_empty() && cursor.is_none_or(|c| c.uid_validity != folder.uid_validity) {
        // An empty window still fixes the folder's numbering, so the next round reads
        // only what arrives.
        let last = folder.uid_next.map_or(0, |n| n.saturating_sub(1));
        move_cursor(state, &name, folder.uid_validity, last).await?;
    }
    Ok(())
}

async fn move_cursor(
    state: &AppState,
    inbox: &str,
    uid_validity: u32,
    last_uid: u32,
) -> Result<(), String> {
    state
        .store
        .set_email_cursor(
            inbox,
            EmailCursor {
                uid_validity,
                last_uid,
            },
            state.ids.now_ms(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Connects, logs in and selects the folder, then logs out: the settings page's "Test
/// connection" for IMAP.
pub async fn test_imap(inbox: &EmailInbox) -> Result<String, String> {
    let Some(settings) = imap_settings(inbox)? else {
        return Err("no IMAP server is set".into());
    };
    let mut conn = Connection::open(Arc::new(settings))
        .await
        .map_err(|e| e.to_string())?;
    let folder = conn.select().await.map_err(|e| e.to_string())?;
    let idle = conn.supports_idle();
    conn.logout().await;
    Ok(format!(
        "{} messages in {} · {}",
        folder.exists,
        inbox.folder,
        if idle {
            "IDLE supported"
        } else {
            "no IDLE: polling"
        }
    ))
}
