//! How a mailbox's servers are reached: `imaps://host:993` and `smtps://host:465` over
//! TLS from the first byte; `imap://host:143` and `smtp://host:587` upgraded with
//! STARTTLS, except when the host is this machine, which is spoken to in plain text (a
//! local relay; credentials never cross a network in the clear). And how we log in: a
//! password, or OAuth2 with a refresh token.

use std::sync::Arc;

use super::oauth::TokenSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte.
    Tls,
    /// STARTTLS, refused if the server does not offer it.
    StartTls,
    /// Plain text: loopback hosts only (a relay or mail server on this machine).
    LoopbackPlain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddrError(pub String);

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl ServerAddr {
    /// Reads `imap[s]://host[:port]` (`kind` = "imap") or `smtp[s]://host[:port]`.
    pub fn parse(url: &str, kind: &str) -> Result<Self, AddrError> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| AddrError(format!("{url:?} is not a URL like {kind}s://host:port")))?;
        let scheme = scheme.to_ascii_lowercase();
        let (tls, default_port) = match (kind, scheme.as_str()) {
            ("imap", "imaps") => (true, 993),
            ("imap", "imap") => (false, 143),
            ("smtp", "smtps") => (true, 465),
            ("smtp", "smtp") => (false, 587),
            _ => {
                return Err(AddrError(format!(
                    "{url:?}: the scheme must be {kind}s:// (TLS) or {kind}:// (STARTTLS)"
                )));
            }
        };
        let hostport = rest.trim_end_matches('/');
        if hostport.is_empty() || hostport.contains(['/', '?', '@', ' ']) {
            return Err(AddrError(format!(
                "{url:?}: expected {kind}s://host:port and nothing else"
            )));
        }
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !h.is_empty() => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| AddrError(format!("{url:?}: bad port {p:?}")))?,
            ),
            _ => (hostport.to_owned(), default_port),
        };
        let security = if tls {
            Security::Tls
        } else if is_loopback(&host) {
            Security::LoopbackPlain
        } else {
            Security::StartTls
        };
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
            security,
        })
    }
}

/// How we log in to a mailbox.
#[derive(Debug, Clone)]
pub enum Login {
    Password {
        user: String,
        password: String,
    },
    OAuth2 {
        user: String,
        tokens: Arc<TokenSource>,
    },
}

impl Login {
    pub fn user(&self) -> &str {
        match self {
            Login::Password { user, .. } | Login::OAuth2 { user, .. } => user,
        }
    }
}

/// The TLS client set-up: the public roots, and a private CA when one is given (a
/// company's own mail server).
pub fn tls_config(ca_pem: Option<&[u8]>) -> Result<tokio_rustls::rustls::ClientConfig, AddrError> {
    use tokio_rustls::rustls::{self, RootCertStore};
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        let mut reader = std::io::BufReader::new(pem);
        for cert in rustls_pemfile_certs(&mut reader)? {
            roots
                .add(cert)
                .map_err(|e| AddrError(format!("the CA file holds a bad certificate: {e}")))?;
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| AddrError(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// The certificates of a PEM file.
fn rustls_pemfile_certs(
    reader: &mut dyn std::io::BufRead,
) -> Result<Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>, AddrError> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut pem = Vec::new();
    reader
        .read_to_end(&mut pem)
        .map_err(|e| AddrError(e.to_string()))?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AddrError(format!("the CA file is not PEM: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_security_and_loopback_alone_may_be_plain() {
        let a = ServerAddr::parse("imaps://imap.gmail.com", "imap").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.security),
            ("imap.gmail.com", 993, Security::Tls)
        );
        let a = ServerAddr::parse("imap://mail.acme.test:1143", "imap").unwrap();
        assert_eq!((a.port, a.security), (1143, Security::StartTls));
        let a = ServerAddr::parse("smtp://127.0.0.1:2525/", "smtp").unwrap();
        assert_eq!((a.port, a.security), (2525, Security::LoopbackPlain));
        let a = ServerAddr::parse("smtps://[::1]:4650", "smtp").unwrap();
        assert_eq!((a.host.as_str(), a.security), ("::1", Security::Tls));
        for bad in [
            "imap.gmail.com",
            "http://x",
            "smtp://x:y",
            "imap://user@host",
            "imap://",
            "smtp://h:99999",
        ] {
            assert!(
                ServerAddr::parse(
                    bad,
                    if bad.starts_with("smtp") {
                        "smtp"
                    } else {
                        "imap"
                    }
                )
                .is_err(),
                "{bad}"
            );
        }
        assert!(ServerAddr::parse("smtps://h", "imap").is_err());
    }
}
