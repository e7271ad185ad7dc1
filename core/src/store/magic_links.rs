//! Sign-in links for the client portal. The token is 256 random bits (64 hex digits) handed
//! out once; only its SHA-256 is kept, so a copy of the database opens nothing. A link is
//! bound to one contact and the address it was sent to, lives until its expiry, and is used
//! up once, atomically: two requests racing with one link sign in at most once.
//!
//! The one use is taken by an `UPDATE … RETURNING`; looking at a link never uses it
//! (conformance `magic_links::a_link_signs_in_once_before_it_expires`,
//! `magic_links::racing_uses_of_one_link_sign_in_once`: eight racing uses, one sign-in, on
//! every backend).

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::Store;
use crate::clock::{Ids, random_bytes};
use crate::error::{Error, Result};

/// What a new link is for, which sets its default lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewLink<'a> {
    pub contact_id: &'a str,
    /// The address the link is mailed to (it is verified by using the link).
    pub email: &'a str,
    /// `invoice` (in an invoice mail) or `login` (asked for on the sign-in page).
    pub purpose: &'a str,
    pub ttl_ms: i64,
}

/// A used link: who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagicLink {
    pub contact_id: String,
    pub email: String,
    pub purpose: String,
    /// An invitation's company and role, and who invited.
    pub company_id: Option<String>,
    pub role: Option<String>,
    pub invited_by: Option<String>,
}

/// An invitation to a company's portal, as a link carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewInvitation<'a> {
    /// The contact the address is on (or a new one of no company).
    pub contact_id: &'a str,
    pub email: &'a str,
    pub company_id: &'a str,
    pub role: crate::domain::Role,
    pub invited_by: &'a str,
    pub ttl_ms: i64,
}

/// What a link is, without using it (the confirmation page's GET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    Usable {
        expires_at: i64,
    },
    Used,
    Expired,
    /// Never issued, altered, or not a token at all.
    Unknown,
}

/// The stored form of a token; `None` for a string that cannot be one of ours.
fn digest(token: &str) -> Option<String> {
    let t = token.trim();
    (t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex::encode(Sha256::digest(t.to_ascii_lowercase().as_bytes())))
}

/// Writes an invitation link in `tx`; returns its token.
pub(crate) async fn insert_invitation(
    tx: &mut super::WriteTx,
    ids: &Ids,
    new: &NewInvitation<'_>,
) -> Result<String> {
    if new.ttl_ms <= 0 {
        return Err(Error::invalid("a link must live for some time"));
    }
    let token = hex::encode(random_bytes::<32>());
    let hash = digest(&token).ok_or_else(|| Error::invalid("bad token"))?;
    let now = ids.now_ms();
    sqlx::query(
        "INSERT INTO magic_links (hash, contact_id, email, purpose, created_at, expires_at, company_id, role, invited_by) \
         VALUES ($1, $2, $3, 'invite', $4, $5, $6, $7, $8)",
    )
    .bind(&hash)
    .bind(new.contact_id)
    .bind(new.email.trim().to_lowercase())
    .bind(now)
    .bind(now + new.ttl_ms)
    .bind(new.company_id)
    .bind(new.role.as_str())
    .bind(new.invited_by)
    .execute(&mut ***tx)
    .await?;
    Ok(token)
}

impl Store {
    /// Issues a link; returns its token (shown once, never stored).
    pub async fn create_magic_link(&self, ids: &Ids, new: &NewLink<'_>) -> Result<String> {
        if new.ttl_ms <= 0 {
            return Err(Error::invalid("a link must live for some time"));
        }
        let token = hex::encode(random_bytes::<32>());
        let hash = digest(&token).ok_or_else(|| Error::invalid("bad token"))?;
        let now = ids.now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO magic_links (hash, contact_id, email, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&hash)
        .bind(new.contact_id)
        .bind(new.email.trim().to_lowercase())
        .bind(new.purpose)
        .bind(now)
        .bind(now + new.ttl_ms)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Issues an invitation link (purpose `invite`); returns its token.
    pub async fn create_invitation(&self, ids: &Ids, new: &NewInvitation<'_>) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let token = insert_invitation(&mut tx, ids, new).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// A link's state, without using it.
    pub async fn magic_link_state(&self, token: &str, now: i64) -> Result<LinkState> {
        let Some(hash) = digest(token) else {
            return Ok(LinkState::Unknown);
        };
        let row = sqlx::query("SELECT expires_at, used_at FROM magic_links WHERE hash = $1")
            .bind(&hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => LinkState::Unknown,
            Some(r) => {
                let expires_at: i64 = r.try_get(0)?;
                let used_at: Option<i64> = r.try_get(1)?;
                if used_at.is_some() {
                    LinkState::Used
                } else if expires_at <= now {
                    LinkState::Expired
                } else {
                    LinkState::Usable { expires_at }
                }
            }
        })
    }

    /// Uses a link up: `Some` once for a usable link, `None` for any other (used, expired,
    /// unknown), and for every request but one when several race with the same link.
    pub async fn use_magic_link(&self, token: &str, now: i64) -> Result<Option<MagicLink>> {
        let Some(hash) = digest(token) else {
            return Ok(None);
        };
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE magic_links SET used_at = $1 WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING contact_id, email, purpose, company_id, role, invited_by",
        )
        .bind(now)
        .bind(&hash)
        .fetch_optional(&mut **tx)
        .await?;
        tx.commit().await?;
        row.map(|r| {
            Ok(MagicLink {
                contact_id: r.try_get(0)?,
                email: r.try_get(1)?,
                purpose: r.try_get(2)?,
                company_id: r.try_get(3)?,
                role: r.try_get(4)?,
                invited_by: r.try_get(5)?,
            })
        })
        .transpose()
    }
}
