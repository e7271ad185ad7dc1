//! The email channel's outbound side: the dispatcher hands a message to [`EmailSender`],
//! which writes it as our mail ([`super::compose`]) and gives it to the mailbox's SMTP
//! server. The server's answer decides what happens next: 2xx is sent; 4xx, a refused
//! connection or a timeout is transient (the dispatcher retries with backoff, so an SMTP
//! server that is down means queued, never lost); 5xx is permanent (a dead letter that
//! keeps the server's words). The `Message-ID` is made from our message's id, so a
//! retry after a lost answer carries the same id and the recipient's client shows it once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use switchboard_core::blob::BlobStore;
use switchboard_core::dispatcher::{Outgoing, SendError, SendReceipt, Sender};
use switchboard_core::domain::{AuthorKind, Channel};
use switchboard_core::store::Store;
use tokio::sync::Mutex;

use super::compose::{Lang, OutgoingFile, OutgoingMail, compose, words};
use super::server::{Login, Security, ServerAddr};
use super::token::ReplyTokens;

/// One mailbox's outbound settings.
#[derive(Debug, Clone)]
pub struct SmtpMailbox {
    /// The inbox it serves (`email:<name>`).
    pub inbox: String,
    pub address: String,
    /// The name our mail is from ("Acme Support").
    pub from_name: String,
    /// The business's name in the mail's layout.
    pub brand: String,
    pub lang: Lang,
    pub server: ServerAddr,
    pub login: Option<Login>,
    /// A private CA (PEM) the server's certificate is checked against, besides the public
    /// roots.
    pub ca_pem: Option<Vec<u8>>,
    /// What comes before `+<token>` in the reply address.
    pub reply_prefix: String,
}

impl SmtpMailbox {
    pub fn domain(&self) -> &str {
        self.address
            .rsplit_once('@')
            .map_or("localhost", |(_, d)| d)
    }
}

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Mints a portal sign-in link at the moment a mail is written, so only the link's hash
/// is ever stored: a retried mail carries a fresh link, and the unused one expires.
#[async_trait]
pub trait LinkMinter: Send + Sync {
    /// A sign-in link for `contact_id` mailed to `email`, landing on `next` (a portal path).
    async fn mint(&self, contact_id: &str, email: &str, next: &str) -> Result<String, String>;
    /// The sign-in page, landing on `next` once signed in: what a mail that others
    /// receive too carries instead of a link.
    fn sign_in_page(&self, next: &str) -> String;
}

/// A message's button whose address is this prefix and a portal path becomes a sign-in link.
pub const PORTAL_LINK: &str = "portal-link:";

/// Sends email conversations' outbound messages.
pub struct EmailSender {
    links: std::sync::OnceLock<Arc<dyn LinkMinter>>,
    /// By inbox; mailboxes added or changed on the settings page take effect at once.
    mailboxes: std::sync::RwLock<HashMap<String, SmtpMailbox>>,
    tokens: ReplyTokens,
    blobs: Arc<dyn BlobStore>,
    store: Store,
    /// Per inbox: the transport, and the access token it was built with (OAuth2).
    transports: Mutex<HashMap<String, (Option<String>, Transport)>>,
    /// Longest wait for the server on one message.
    pub timeout: Duration,
}

impl std::fmt::Debug for EmailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSender").finish_non_exhaustive()
    }
}

/// A subject that answers the conversation's.
pub fn reply_subject(subject: Option<&str>, number: i64, lang: Lang) -> String {
    match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let lower = s.to_lowercase();
            if ["re:", "res:", "aw:", "sv:", "rv:"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                s.to_owned()
            } else {
                format!("Re: {s}")
            }
        }
        None => format!("{} #{number}", words(lang).request),
    }
}

impl EmailSender {
    pub fn new(
        mailboxes: Vec<SmtpMailbox>,
        tokens: ReplyTokens,
        blobs: Arc<dyn BlobStore>,
        store: Store,
    ) -> Self {
        Self {
            links: std::sync::OnceLock::new(),
            mailboxes: std::sync::RwLock::new(
                mailboxes
                    .into_iter()
                    .map(|m| (m.inbox.clone(), m))
                    .collect(),
            ),
            tokens,
            blobs,
            store,
            transports: Mutex::new(HashMap::new()),
            timeout: Duration::from_secs(60),
        }
    }

    /// Sets who mints portal links for buttons that ask for one (once).
    pub fn set_link_minter(&self, minter: Arc<dyn LinkMinter>) {
        let _ = self.links.set(minter);
    }

    /// A button's address for a portal path: a sign-in link when the mail goes to the
    /// contact's one address alone, else the sign-in page.
    async fn button_link(
        &self,
        contact_id: &str,
        to: &[String],
        sole: bool,
        next: &str,
    ) -> Result<String, SendError> {
        let minter = self
            .links
            .get()
            .ok_or_else(|| SendError::Permanent("portal links cannot be made here".into()))?;
        match to.first() {
            Some(address) if sole => minter
                .mint(contact_id, address, next)
                .await
                .map_err(|e| SendError::transient(format!("no sign-in link: {e}"))),
            _ => Ok(minter.sign_in_page(next)),
        }
    }

    /// The first mailbox that sends mail, for mail that belongs to no conversation.
    pub fn any_mailbox(&self) -> Option<SmtpMailbox> {
        let all = self.mailboxes.read().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&String> = all.keys().collect();
        names.sort();
        names.first().and_then(|n| all.get(*n)).cloned()
    }

    /// Sends one mail that belongs to no conversation (a requested sign-in link), from
    /// the first mailbox, marked `Auto-Submitted`. Returns its Message-ID.
    pub async fn send_direct(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        button: Option<(String, String)>,
        lang: Option<Lang>,
    ) -> Result<String, SendError> {
        let m = self
            .any_mailbox()
            .ok_or_else(|| SendError::Permanent("no mailbox sends mail".into()))?;
        let message_id = format!("{}@{}", switchboard_core::clock::random_token(), m.domain());
        let mail = OutgoingMail {
            from_name: m.from_name.clone(),
            from_address: m.address.clone(),
            reply_to: None,
            to: vec![to.to_owned()],
            cc: Vec::new(),
            subject: subject.to_owned(),
            message_id: message_id.clone(),
            in_reply_to: None,
            references: Vec::new(),
            text: text.to_owned(),
            html: None,
            files: Vec::new(),
            automatic: true,
            lang: lang.unwrap_or(m.lang),
            brand: m.brand.clone(),
            signature: None,
            marker: None,
            button,
        };
        self.deliver(&m, &mail).await?;
        Ok(message_id)
    }

    async fn deliver(&self, m: &SmtpMailbox, mail: &OutgoingMail) -> Result<(), SendError> {
        let (raw, rcpt) = compose(mail)
            .map_err(|e| SendError::Permanent(format!("cannot write the mail: {e}")))?;
        let envelope = lettre::address::Envelope::new(
            m.address.parse().ok(),
            rcpt.iter()
                .filter_map(|r| r.parse().ok())
                .collect::<Vec<_>>(),
        )
        .map_err(|e| SendError::Permanent(format!("bad envelope: {e}")))?;
        let transport = self.transport(m).await?;
        match tokio::time::timeout(self.timeout, transport.send_raw(&envelope, &raw)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                if let Some(Login::OAuth2 { tokens, .. }) = &m.login
                    && (!e.is_response()
                        || e.status().is_some_and(|c| c.to_string().starts_with("53")))
                {
                    tokens.forget().await;
                }
                Err(classify(&e))
            }
            Err(_) => Err(SendError::transient(format!(
                "the SMTP server did not answer within {} s",
                self.timeout.as_secs()
            ))),
        }
    }

    pub fn mailbox(&self, inbox: &str) -> Option<SmtpMailbox> {
        self.mailboxes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(inbox)
            .cloned()
    }

    /// Adds or replaces a mailbox's outbound settings (the next message uses them).
    pub async fn upsert(&self, mailbox: SmtpMailbox) {
        self.transports.lock().await.remove(&mailbox.inbox);
        self.mailboxes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(mailbox.inbox.clone(), mailbox);
    }

    /// Stops sending for an inbox: its messages then fail as having no SMTP server.
    pub async fn remove(&self, inbox: &str) {
        self.transports.lock().await.remove(inbox);
        self.mailboxes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(inbox);
    }

    async fn transport(&self, m: &SmtpMailbox) -> Result<Transport, SendError> {
        let token = match &m.login {
            Some(Login::OAuth2 { tokens, .. }) => Some(
                tokens
                    .access_token()
                    .await
                    .map_err(|e| SendError::transient(e.to_string()))?,
            ),
            _ => None,
        };
        let mut cache = self.transports.lock().await;
        if let Some((t, transport)) = cache.get(&m.inbox)
            && *t == token
        {
            return Ok(transport.clone());
        }
        let transport = build_transport(m, token.as_deref())
            .map_err(|e| SendError::Permanent(format!("SMTP settings of {}: {e}", m.inbox)))?;
        cache.insert(m.inbox.clone(), (token, transport.clone()));
        Ok(transport)
    }

    /// Connects and logs in without sending anything ("Test connection").
    pub async fn test(&self, inbox: &str) -> Result<(), String> {
        let m = self
            .mailbox(inbox)
            .ok_or_else(|| format!("{inbox} sends no mail"))?;
        let t = self.transport(&m).await.map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.timeout, t.test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err("the server did not answer NOOP".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer in time".into()),
        }
    }
}

fn build_transport(m: &SmtpMailbox, token: Option<&str>) -> Result<Transport, String> {
    let host = m.server.host.as_str();
    let params = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(host.to_owned());
        if let Some(pem) = &m.ca_pem {
            b = b.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
        }
        b.build_rustls().map_err(|e| e.to_string())
    };
    let tls = match m.server.security {
        Security::Tls => Tls::Wrapper(params()?),
        Security::StartTls => Tls::Required(params()?),
        // On this machine: STARTTLS when offered if a CA to check the server is given.
        Security::LoopbackPlain if m.ca_pem.is_some() => Tls::Opportunistic(params()?),
        Security::LoopbackPlain => Tls::None,
    };
    let mut b = Transport::builder_dangerous(host)
        .port(m.server.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    match (&m.login, token) {
        (Some(Login::Password { user, password }), _) => {
            b = b.credentials(Credentials::new(user.clone(), password.clone()));
        }
        (Some(Login::OAuth2 { user, .. }), Some(token)) => {
            b = b
                .credentials(Credentials::new(user.clone(), token.to_owned()))
                .authentication(vec![Mechanism::Xoauth2]);
        }
        _ => {}
    }
    Ok(b.build())
}

/// What an SMTP failure means for the dispatcher.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    if e.is_permanent() {
        SendError::Permanent(format!("the SMTP server refused the mail: {e}"))
    } else if e.is_transient() {
        SendError::transient(format!("the SMTP server deferred the mail: {e}"))
    } else {
        // No reply code: a refused connection, TLS, a timeout.
        SendError::transient(format!("SMTP: {e}"))
    }
}

#[async_trait]
impl Sender for EmailSender {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(&self, o: &Outgoing) -> Result<SendReceipt, SendError> {
        let c = &o.conversation;
        let m = self.mailbox(&c.inbox).ok_or_else(|| {
            SendError::Permanent(format!(
                "the inbox {} has no SMTP server configured",
                c.inbox
            ))
        })?;
        let m = &m;
        let to: Vec<String> = o
            .recipients
            .iter()
            .filter(|r| r.role == "to")
            .map(|r| r.identity.value().to_owned())
            .collect();
        let cc: Vec<String> = o
            .recipients
            .iter()
            .filter(|r| r.role != "to")
            .map(|r| r.identity.value().to_owned())
            .filter(|a| !a.eq_ignore_ascii_case(&m.address))
            .collect();
        if to.is_empty() {
            return Err(SendError::Permanent(
                "the contact has no email address to write to".into(),
            ));
        }
        let mut files = Vec::new();
        for a in &o.message.attachments {
            let bytes = self.blobs.get(&a.blob).await.map_err(|e| {
                SendError::transient(format!("attachment {} cannot be read: {e}", a.name))
            })?;
            files.push(OutgoingFile {
                name: a.name.clone(),
                mime: a.mime.clone(),
                bytes,
            });
        }
        let signature = match (&o.message.author_kind, &o.message.author_id) {
            (AuthorKind::Agent, Some(id)) => self
                .store
                .user_by_id(id)
                .await
                .ok()
                .flatten()
                .map(|u| u.name.unwrap_or(u.email)),
            _ => None,
        };
        // A sign-in link signs in whoever holds it: only a mail to the contact's one
        // address carries one. A mail with anyone else on it (a Cc'd consultant, a second
        // address) leads to the sign-in page instead, where each asks a link of their own.
        let sole = to.len() == 1 && cc.is_empty();
        let mut button = None;
        if let Some(b) = o
            .message
            .content
            .as_ref()
            .and_then(|c| c.buttons.iter().find(|b| b.url.is_some()))
            && let Some(url) = &b.url
        {
            let url = match url.strip_prefix(PORTAL_LINK) {
                Some(next) => self.button_link(&c.contact_id, &to, sole, next).await?,
                None => url.clone(),
            };
            button = Some((b.title.clone(), url));
        } else if switchboard_core::store::is_ticket(c) && self.links.get().is_some() {
            // A portal ticket's mail leads back to the ticket, signed in.
            let path = format!("/portal/tickets/{}", c.number);
            let url = self.button_link(&c.contact_id, &to, sole, &path).await?;
            let title = words(m.lang)
                .view_ticket
                .replace("{n}", &c.number.to_string());
            button = Some((title, url));
        }
        let domain = m.domain();
        let message_id = format!("{}@{domain}", o.message.id);
        let mail = OutgoingMail {
            from_name: m.from_name.clone(),
            from_address: m.address.clone(),
            reply_to: self.tokens.address_with(&m.reply_prefix, &c.id, domain),
            to,
            cc,
            // The first mail of a conversation we opened (an invoice's) is no reply.
            subject: match o.subject.as_deref() {
                Some(s) if o.references.is_empty() && !s.trim().is_empty() => s.to_owned(),
                other => reply_subject(other, c.number, m.lang),
            },
            message_id: message_id.clone(),
            in_reply_to: o.references.last().cloned(),
            references: o.references.clone(),
            text: o.message.text.clone(),
            html: o.message.html.as_ref().map(|h| h.as_str().to_owned()),
            files,
            automatic: !matches!(o.message.author_kind, AuthorKind::Agent),
            lang: m.lang,
            brand: m.brand.clone(),
            signature,
            marker: self.tokens.marker(&c.id),
            button,
        };
        self.deliver(m, &mail).await?;
        Ok(SendReceipt {
            external_id: Some(message_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_keep_one_re_and_a_subjectless_conversation_is_named_by_its_number() {
        assert_eq!(reply_subject(Some("Toner"), 7, Lang::En), "Re: Toner");
        assert_eq!(reply_subject(Some("RE: Toner"), 7, Lang::En), "RE: Toner");
        assert_eq!(
            reply_subject(Some("Res: Toner"), 7, Lang::PtBr),
            "Res: Toner"
        );
        assert_eq!(reply_subject(None, 7, Lang::PtBr), "Solicitação #7");
        assert_eq!(reply_subject(Some("  "), 9, Lang::Es), "Solicitud #9");
    }
}
