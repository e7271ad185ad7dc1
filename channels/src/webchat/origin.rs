//! Which web pages may open a widget socket. Browsers send the embedding page's origin
//! (`Origin: https://shop.example.com`) on a websocket upgrade, and websockets are not
//! covered by CORS, so this check is what stops another site's script from chatting as
//! its visitors. Non-browser clients can send any header: the check protects visitors'
//! browsers, it does not authenticate clients.

use std::fmt;

/// An origin: scheme, host and port, compared case-insensitively (they are stored
/// lowercased) with the scheme's default port filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an origin: expected http(s)://host[:port] with no path")]
pub struct BadOrigin(pub String);

impl Origin {
    pub fn parse(s: &str) -> Result<Self, BadOrigin> {
        let bad = || BadOrigin(s.to_owned());
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad()),
        };
        // An IPv6 host is bracketed and holds colons of its own.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(bad)?;
                if host.is_empty() || !host.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                    return Err(bad());
                }
                (format!("[{host}]"), after)
            }
            None => {
                let end = rest.find(':').unwrap_or(rest.len());
                let host = &rest[..end];
                if host.is_empty()
                    || !host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                {
                    return Err(bad());
                }
                (host.to_owned(), &rest[end..])
            }
        };
        let port = match port {
            "" => default_port,
            p => {
                let digits = p.strip_prefix(':').ok_or_else(bad)?;
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                digits.parse::<u16>().map_err(|_| bad())?
            }
        };
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The origins a web-chat inbox accepts. Empty allows every origin (and requests with
/// none), which keeps a fresh install's demo page working.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginAllowList(Vec<Origin>);

impl OriginAllowList {
    pub fn new<S: AsRef<str>>(origins: &[S]) -> Result<Self, BadOrigin> {
        origins
            .iter()
            .map(|o| Origin::parse(o.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether a socket whose `Origin` header is `header` may open. With a list, a missing
    /// or unreadable header is refused: a browser always sends one.
    pub fn allows(&self, header: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        header
            .and_then(|h| Origin::parse(h.trim()).ok())
            .is_some_and(|o| self.0.contains(&o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_on_scheme_host_and_port_whatever_the_case() {
        let list =
            OriginAllowList::new(&["https://Shop.Example.com", "http://127.0.0.1:8080"]).unwrap();
        for yes in [
            "https://shop.example.com",
            "HTTPS://SHOP.EXAMPLE.COM",
            "https://shop.example.com:443",
            "http://127.0.0.1:8080",
        ] {
            assert!(list.allows(Some(yes)), "{yes}");
        }
        for no in [
            "http://shop.example.com",
            "https://shop.example.com:8443",
            "https://evil.example.com",
            "https://shop.example.com.evil.com",
            "https://shop.example.co",
            "http://127.0.0.1:8081",
            "http://127.0.0.1",
            "null",
            "",
            "https://shop.example.com/",
            "https://user@shop.example.com",
        ] {
            assert!(!list.allows(Some(no)), "{no}");
        }
        assert!(!list.allows(None));
        let v6 = OriginAllowList::new(&["http://[::1]:3000"]).unwrap();
        assert!(v6.allows(Some("http://[::1]:3000")));
        assert!(!v6.allows(Some("http://[::2]:3000")));
    }

    #[test]
    fn an_empty_list_allows_everything() {
        let list = OriginAllowList::new::<&str>(&[]).unwrap();
        assert!(list.allows(None));
        assert!(list.allows(Some("null")));
        assert!(list.allows(Some("https://anywhere.example")));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "shop.example.com",
            "ftp://shop.example.com",
            "https://",
            "https://shop.example.com/",
            "https://shop.example.com/path",
            "https://shop.example.com:",
            "https://shop.example.com:99999",
            "https://shop.example.com:+1",
            "https://user@shop.example.com",
            "https://shop.example.com?x",
            "https://[::1",
            "https://[]",
            "*",
        ] {
            let e = OriginAllowList::new(&[bad]).unwrap_err();
            assert_eq!(e, BadOrigin(bad.into()));
        }
    }
}
