//! Pieces of signing in that several surfaces share: mail to agents, the pre-sign-in
//! CSRF cookie, a cookie on a response, secrets compared in constant time, the
//! authenticator QR code.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use sha2::{Digest, Sha256};
use switchboard_core::clock::random_token;

use crate::kit::session::{PRE_CSRF_COOKIE, cookie, set_cookie};

/// Mail to agents.
pub trait Mailer: Send + Sync + std::fmt::Debug {
    fn send(&self, to: &str, subject: &str, body: &str);
}

/// Sends agent mail (password resets, invitations) through the first mailbox that sends
/// mail, in the background. The mail carries a credential, so neither its text nor its
/// link is ever written to the log, whether it goes or not.
#[derive(Debug)]
pub struct SmtpMailer(pub Arc<switchboard_channels::email::smtp::EmailSender>);

impl Mailer for SmtpMailer {
    fn send(&self, to: &str, subject: &str, body: &str) {
        let sender = self.0.clone();
        let (to, subject, body) = (to.to_owned(), subject.to_owned(), body.to_owned());
        tokio::spawn(async move {
            match sender.send_direct(&to, &subject, &body, None, None).await {
                Ok(_) => tracing::info!(target: "mail", "mail to an agent sent"),
                Err(e) => tracing::warn!(target: "mail", error = %e, "mail to an agent not sent"),
            }
        });
    }
}

/// The pre-sign-in CSRF token: the cookie's, or a new one to set.
pub fn pre_csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, PRE_CSRF_COOKIE) {
        Some(v) if v.len() >= 32 => (v.to_owned(), None),
        _ => {
            let v = random_token();
            let c = set_cookie(PRE_CSRF_COOKIE, &v, 2 * 3600);
            (v, Some(c))
        }
    }
}

pub fn with_cookie(mut resp: Response, c: Option<HeaderValue>) -> Response {
    if let Some(c) = c {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub fn qr_svg(data: &str) -> String {
    match qrcode::QrCode::new(data.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    // Hashed first, so the comparison does not show the secret's length either.
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    switchboard_core::auth::constant_time_eq(&x, &y)
}
