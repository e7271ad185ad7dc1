//! Configuration: a TOML file, overlaid by `SWITCHBOARD_*` environment variables, plus
//! `DATABASE_URL` and `REDIS_URL`. Every setting has a default, so nothing is needed to
//! start. Nested keys come from the environment with a double underscore:
//! `SWITCHBOARD_WEBCHAT__MAX_MESSAGE_BYTES=8192` sets `webchat.max_message_bytes`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("invalid setting `{key}`{origin}: {message}")]
    Invalid {
        key: String,
        origin: String,
        message: String,
    },
}

/// A value that must never reach a log: `Debug` shows it with any password removed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// `scheme://user:password@host/db` → `scheme://user:***@host/db`; anything that is not a
/// URL with credentials is hidden whole.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".into();
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    // Query strings may carry passwords too.
    let path = path.map(|p| {
        p.split_once('?')
            .map_or(p.to_owned(), |(p, _)| format!("{p}?***"))
    });
    match path {
        Some(p) => format!("{scheme}://{authority}/{p}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// SQLite file, search index and blobs.
    pub data_dir: PathBuf,
    /// Base of links in mail and pages.
    pub public_url: String,
    /// PostgreSQL (`postgres://…`) or SQLite (`sqlite://…`); default: SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// Redis for the stream and realtime fan-out; default: the embedded stream.
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// `text` or `json`.
    pub log_format: String,
    pub webchat: WebchatConfig,
    pub dispatcher: DispatcherConfig,
    pub router: RouterConfig,
    /// How long shutdown waits for work under way.
    pub shutdown_grace_ms: u64,
    /// This node's name among several (consumer names derive from it); default: the host
    /// name. Two processes sharing a database and stream need different ids.
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebchatConfig {
    pub inbox: String,
    pub title: String,
    /// Largest frame a widget may send, in bytes.
    pub max_message_bytes: usize,
    /// Ask name and email before the first message.
    pub prechat_form: bool,
    /// Messages one widget socket may send per minute (bursts up to the same number).
    pub max_messages_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Entries pending this long (their consumer died) are taken over.
    pub reclaim_idle_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: None,
            redis_url: None,
            redis_prefix: "switchboard".into(),
            log_format: "text".into(),
            webchat: WebchatConfig::default(),
            dispatcher: DispatcherConfig::default(),
            router: RouterConfig::default(),
            shutdown_grace_ms: 10_000,
            node_id: None,
        }
    }
}

impl Default for WebchatConfig {
    fn default() -> Self {
        Self {
            inbox: "webchat:default".into(),
            title: "Chat with us".into(),
            max_message_bytes: 16 * 1024,
            prechat_form: false,
            max_messages_per_minute: 60,
        }
    }
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            backoff_base_ms: 500,
            backoff_max_ms: 60_000,
        }
    }
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            reclaim_idle_ms: 30_000,
        }
    }
}

impl Config {
    /// Loads `file` (or `switchboard.toml` when present) and overlays `env`.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let default_file = Path::new("switchboard.toml");
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>().map_err(|e| ConfigError::Toml {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => toml::Table::new(),
        };
        let mut from_env: BTreeMap<String, String> = BTreeMap::new();
        for (var, raw) in env {
            let key = match var.as_str() {
                "DATABASE_URL" => "database_url".to_owned(),
                "REDIS_URL" => "redis_url".to_owned(),
                v => match v.strip_prefix("SWITCHBOARD_") {
                    // Variables the binary reads itself, not settings.
                    Some("CONFIG" | "LOG") | None => continue,
                    Some(rest) => rest.to_lowercase().replace("__", "."),
                },
            };
            if raw.is_empty() && (key == "database_url" || key == "redis_url") {
                continue;
            }
            set_path(&mut table, &key, env_value(&key, raw));
            from_env.insert(key, var.clone());
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let origin = from_env
                    .get(&key)
                    .map(|v| format!(" (from {v})"))
                    .unwrap_or_default();
                ConfigError::Invalid {
                    key,
                    origin,
                    message: e.inner().to_string(),
                }
            })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                origin: String::new(),
                message: message.into(),
            })
        };
        if let Some(url) = &self.database_url
            && switchboard_core::store::Backend::from_url(url.expose()).is_err()
        {
            return bad("database_url", "must start with sqlite: or postgres://");
        }
        if let Some(url) = &self.redis_url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            return bad("redis_url", "must start with redis:// or rediss://");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return bad("log_format", "must be text or json");
        }
        if self.webchat.max_message_bytes < 64 || self.webchat.max_message_bytes > 1024 * 1024 {
            return bad(
                "webchat.max_message_bytes",
                "must be between 64 and 1048576",
            );
        }
        if self.webchat.max_messages_per_minute == 0 {
            return bad("webchat.max_messages_per_minute", "must be at least 1");
        }
        if self.dispatcher.max_attempts == 0 {
            return bad("dispatcher.max_attempts", "must be at least 1");
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return bad("public_url", "must start with http:// or https://");
        }
        Ok(())
    }

    pub fn node_id(&self) -> String {
        self.node_id
            .clone()
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".to_owned())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => switchboard_core::store::Store::sqlite_url(&self.data_dir),
        }
    }
}

/// An environment value typed as TOML would type it (numbers, booleans), else a string.
/// URLs and names always stay strings.
fn env_value(key: &str, raw: &str) -> toml::Value {
    if key.ends_with("url")
        || key.ends_with("prefix")
        || key.ends_with("inbox")
        || key.ends_with("title")
    {
        return toml::Value::String(raw.to_owned());
    }
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !matches!(v, toml::Value::Table(_) | toml::Value::Array(_)))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut cur = table;
    for p in parts {
        let entry = cur
            .entry(p.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(t) = entry else { return };
        cur = t;
    }
    cur.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let c = Config::load(None, &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.redis_url.is_none());
    }

    #[test]
    fn env_overrides_file_and_types_values() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[webchat]\nmax_message_bytes = 2048\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            &env(&[
                ("SWITCHBOARD_LISTEN", "127.0.0.1:9001"),
                ("SWITCHBOARD_WEBCHAT__PRECHAT_FORM", "true"),
                ("REDIS_URL", "redis://127.0.0.1:6379"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.webchat.max_message_bytes, 2048);
        assert!(c.webchat.prechat_form);
        assert!(c.redis_url.is_some());
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = Config::load(
            None,
            &env(&[("SWITCHBOARD_WEBCHAT__MAX_MESSAGE_BYTES", "lots")]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`webchat.max_message_bytes`")
                && e.contains("SWITCHBOARD_WEBCHAT__MAX_MESSAGE_BYTES"),
            "{e}"
        );
        let e = Config::load(None, &env(&[("SWITCHBOARD_LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`listen`"), "{e}");
        let e = Config::load(None, &env(&[("SWITCHBOARD_LISTN", "x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("listn"), "{e}");
        let e = Config::load(None, &env(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`database_url`"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "[webchat]\nprechat = true\n").unwrap();
        let e = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prechat"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = Config::load(
            None,
            &env(&[
                ("DATABASE_URL", "postgres://app:hunter2@db:5432/sb"),
                ("REDIS_URL", "redis://:topsecret@cache:6379/0"),
            ]),
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db:5432/sb"), "{shown}");
        assert_eq!(
            redact_url("postgres://h/db?password=x"),
            "postgres://h/db?***"
        );
    }
}
