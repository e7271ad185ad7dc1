//! Posts webhook deliveries over HTTP(S) for the dispatcher: no redirects followed (a
//! subscription's address is the only place its payload goes), a bounded wait, and the
//! start of the answer kept for the delivery log.

use std::time::Duration;

use switchboard_core::webhooks::{HookPoster, HookResponse};

/// The part of a receiver's answer the log keeps.
const KEPT: usize = 1024;

#[derive(Debug, Clone)]
pub struct HttpPoster {
    client: Option<reqwest::Client>,
}

impl HttpPoster {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::error!(error = %e, "no HTTP client for webhooks"))
            .ok();
        Self { client }
    }
}

impl Default for HttpPoster {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl HookPoster for HttpPoster {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<HookResponse, String> {
        let client = self.client.as_ref().ok_or("no HTTP client")?;
        let mut request = client.post(url).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| {
            // reqwest's message names the address, which is the subscriber's own.
            if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                e.to_string()
            }
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok(HookResponse {
            status,
            body: text.chars().take(KEPT).collect(),
        })
    }
}
