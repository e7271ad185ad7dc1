//! OAuth2 for mailboxes (Google, Microsoft 365): a refresh token is exchanged at the
//! provider's token endpoint for a short-lived access token, which IMAP (`XOAUTH2`,
//! `OAUTHBEARER`) and SMTP (`XOAUTH2`) present instead of a password. The access token is
//! kept until a minute before it expires, and fetched again after the server refused it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

/// Where and how to get access tokens for one mailbox.
#[derive(Clone)]
pub struct OAuth2Settings {
    /// The token endpoint (`https://oauth2.googleapis.com/token`,
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub refresh_token: String,
    /// Microsoft wants the scopes named on refresh; Google does not.
    pub scope: Option<String>,
}

impl std::fmt::Debug for OAuth2Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2Settings")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("the token endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("the token endpoint refused the refresh token: {0}")]
    Refused(String),
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Access tokens for one mailbox, refreshed when needed.
#[derive(Debug)]
pub struct TokenSource {
    settings: OAuth2Settings,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    pub fn new(settings: OAuth2Settings) -> Self {
        Self {
            settings,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
            cached: Mutex::new(None),
        }
    }

    /// A valid access token: the kept one, or a fresh one.
    pub async fn access_token(&self) -> Result<String, OAuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let s = &self.settings;
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", s.refresh_token.as_str()),
            ("client_id", s.client_id.as_str()),
        ];
        if let Some(secret) = &s.client_secret {
            form.push(("client_secret", secret.as_str()));
        }
        if let Some(scope) = &s.scope {
            form.push(("scope", scope.as_str()));
        }
        let answer = self
            .http
            .post(&s.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?;
        let status = answer.status();
        let body = answer
            .text()
            .await
            .map_err(|e| OAuthError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            let short: String = body.chars().take(300).collect();
            return if status.is_server_error() {
                Err(OAuthError::Unreachable(format!("{status}: {short}")))
            } else {
                Err(OAuthError::Refused(format!("{status}: {short}")))
            };
        }
        let token: TokenAnswer = serde_json::from_str(&body)
            .map_err(|e| OAuthError::Refused(format!("unreadable answer: {e}")))?;
        let life = token.expires_in.unwrap_or(3600).saturating_sub(60).max(1);
        *cached = Some((
            token.access_token.clone(),
            Instant::now() + Duration::from_secs(life),
        ));
        Ok(token.access_token)
    }

    /// Forgets the kept token (the server refused it).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

/// The SASL `XOAUTH2` initial response (before base64).
pub fn xoauth2(user: &str, token: &str) -> String {
    format!("user={user}\x01auth=Bearer {token}\x01\x01")
}

/// The SASL `OAUTHBEARER` initial response (RFC 7628, before base64).
pub fn oauthbearer(user: &str, host: &str, port: u16, token: &str) -> String {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_responses_follow_their_specs() {
        assert_eq!(
            xoauth2("ana@acme.test", "tok"),
            "user=ana@acme.test\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            oauthbearer("a,b=c@acme.test", "imap.acme.test", 993, "tok"),
            "n,a=a=2Cb=3Dc@acme.test,\x01host=imap.acme.test\x01port=993\x01auth=Bearer tok\x01\x01"
        );
    }
}
