//! The email inboxes this node serves: those of the configuration file and those added
//! on the settings page (kept in the database), with the reader task of each IMAP mailbox.
//! A mailbox added, changed or removed on the page takes effect at once on this node: its
//! reader restarts with the new settings and the sender uses them for the next message.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use switchboard_channels::email::compose::Lang;
use switchboard_channels::email::server::ServerAddr;
use switchboard_channels::email::smtp::SmtpMailbox;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, EmailInbox};
use crate::kit::AppState;

/// One inbox and where its settings come from.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub inbox: EmailInbox,
    /// Added on the settings page (editable there); otherwise from the configuration file.
    pub from_page: bool,
}

#[derive(Debug, Default)]
pub struct Mailboxes {
    list: RwLock<Vec<Mailbox>>,
    /// The running readers, by inbox name; each stops when its token is cancelled.
    readers: Mutex<HashMap<String, CancellationToken>>,
    /// Cancelled when the server stops; readers started later hang under it.
    workers: Mutex<Option<CancellationToken>>,
}

impl Mailboxes {
    pub fn new(config: &[EmailInbox], stored: Vec<EmailInbox>) -> Self {
        let mut list: Vec<Mailbox> = config
            .iter()
            .map(|i| Mailbox {
                inbox: i.clone(),
                from_page: false,
            })
            .collect();
        for inbox in stored {
            if list.iter().any(|m| m.inbox.name == inbox.name) {
                tracing::warn!(inbox = %inbox.name, "a mailbox of the settings page has the name of one in the configuration file: the file's is used");
                continue;
            }
            list.push(Mailbox {
                inbox,
                from_page: true,
            });
        }
        list.sort_by(|a, b| a.inbox.name.cmp(&b.inbox.name));
        Self {
            list: RwLock::new(list),
            ..Self::default()
        }
    }

    pub fn all(&self) -> Vec<Mailbox> {
        self.list.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(&self, name: &str) -> Option<Mailbox> {
        self.list
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|m| m.inbox.name == name)
            .cloned()
    }

    /// Whether any mailbox's address passes `test` (read in place: every mail asks).
    fn any_address(&self, test: impl Fn(&str) -> bool) -> bool {
        self.list
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|m| test(&m.inbox.address))
    }

    /// The mailbox of an inbox id (`email:<name>`).
    pub fn by_inbox(&self, inbox: &str) -> Option<EmailInbox> {
        let name = inbox.strip_prefix("email:")?;
        self.get(name).map(|m| m.inbox)
    }

    /// Whether `address` is one of our mailboxes' addresses.
    pub fn is_own_address(&self, address: &str) -> bool {
        self.any_address(|a| a.eq_ignore_ascii_case(address))
    }

    /// Whether `domain` is one of our mailboxes' domains.
    pub fn is_own_domain(&self, domain: &str) -> bool {
        self.any_address(|a| {
            a.rsplit_once('@')
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
        })
    }

    fn put(&self, mailbox: Mailbox) {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        list.retain(|m| m.inbox.name != mailbox.inbox.name);
        list.push(mailbox);
        list.sort_by(|a, b| a.inbox.name.cmp(&b.inbox.name));
    }

    fn take_out(&self, name: &str) {
        self.list
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|m| m.inbox.name != name);
    }

    /// Starts the readers of every IMAP mailbox, under `workers`.
    pub fn start_all(&self, state: &AppState, workers: CancellationToken) {
        *self.workers.lock().unwrap_or_else(|p| p.into_inner()) = Some(workers);
        for m in self.all() {
            self.start_reader(state, &m.inbox);
        }
    }

    /// (Re)starts one mailbox's reader; stops it when the mailbox has no IMAP server.
    fn start_reader(&self, state: &AppState, inbox: &EmailInbox) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = readers.remove(&inbox.name) {
            old.cancel();
        }
        let Some(workers) = self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return; // not serving (a command-line run)
        };
        match crate::kit::mail::poller::imap_settings(inbox) {
            Ok(Some(settings)) => {
                let stop = workers.child_token();
                readers.insert(inbox.name.clone(), stop.clone());
                tokio::spawn(crate::kit::mail::poller::run(
                    state.clone(),
                    inbox.clone(),
                    settings,
                    stop,
                ));
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(inbox = %inbox.name, error = %e, "mailbox not read"),
        }
    }

    /// Adds or replaces a page mailbox: stored, then served at once here and, through the
    /// `settings` topic, on every other node.
    pub async fn save(
        &self,
        state: &AppState,
        inbox: EmailInbox,
        settings: &serde_json::Value,
    ) -> switchboard_core::Result<()> {
        state
            .store
            .put_mailbox(&inbox.name, &settings.to_string(), state.ids.now_ms())
            .await?;
        let name = inbox.name.clone();
        self.take_into_use(state, inbox).await;
        crate::kit::settings::announce(
            state,
            crate::kit::settings::Change::Mailbox {
                name,
                node: state.node.name.clone(),
            },
        )
        .await;
        Ok(())
    }

    /// Serves a stored page mailbox on this node: listed, sent from, read (by whichever
    /// node holds its lease).
    pub async fn take_into_use(&self, state: &AppState, inbox: EmailInbox) {
        self.put(Mailbox {
            inbox: inbox.clone(),
            from_page: true,
        });
        match smtp_mailbox(&state.config, &inbox) {
            Ok(Some(m)) => state.email_sender.upsert(m).await,
            Ok(None) => state.email_sender.remove(&inbox.inbox()).await,
            Err(e) => tracing::warn!(inbox = %inbox.name, error = %e, "mailbox sends no mail"),
        }
        self.start_reader(state, &inbox);
    }

    /// Removes a page mailbox: no longer read nor sent from (its conversations stay), here
    /// and on every other node.
    pub async fn remove(&self, state: &AppState, name: &str) -> switchboard_core::Result<bool> {
        let removed = state.store.delete_mailbox(name).await?;
        self.stop_using(state, name).await;
        crate::kit::settings::announce(
            state,
            crate::kit::settings::Change::Mailbox {
                name: name.to_owned(),
                node: state.node.name.clone(),
            },
        )
        .await;
        Ok(removed)
    }

    /// Stops serving a page mailbox on this node.
    pub async fn stop_using(&self, state: &AppState, name: &str) {
        if let Some(stop) = self
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
        {
            stop.cancel();
        }
        self.take_out(name);
        state.email_sender.remove(&format!("email:{name}")).await;
    }
}

/// The outbound side of a mailbox, if it has an SMTP server.
pub fn smtp_mailbox(config: &Config, inbox: &EmailInbox) -> anyhow::Result<Option<SmtpMailbox>> {
    let Some(url) = &inbox.smtp_url else {
        return Ok(None);
    };
    let server = ServerAddr::parse(url, "smtp")
        .map_err(|e| anyhow::anyhow!("email.inboxes {}: smtp_url: {e}", inbox.name))?;
    let ca_pem = match &inbox.ca_file {
        Some(f) => Some(std::fs::read(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?),
        None => None,
    };
    Ok(Some(SmtpMailbox {
        inbox: inbox.inbox(),
        address: inbox.address.clone(),
        from_name: inbox
            .from_name
            .clone()
            .unwrap_or_else(|| config.web.business_name.clone()),
        brand: config.web.business_name.clone(),
        lang: Lang::from_tag(&inbox.language),
        server,
        login: crate::kit::mail::poller::login(inbox),
        ca_pem,
        reply_prefix: inbox.reply_prefix.clone().unwrap_or_else(|| {
            inbox
                .address
                .split('@')
                .next()
                .unwrap_or("reply")
                .to_owned()
        }),
    }))
}

/// The page mailboxes kept in the database, read back; one that no longer reads (an
/// older build's, a file that went away) is logged and left out.
pub async fn stored(store: &switchboard_core::store::Store) -> anyhow::Result<Vec<EmailInbox>> {
    let mut out = Vec::new();
    for (name, json) in store.stored_mailboxes().await? {
        match serde_json::from_str::<EmailInbox>(&json) {
            Ok(inbox) => match inbox.check() {
                Ok(()) => out.push(inbox),
                Err((field, e)) => {
                    tracing::warn!(inbox = %name, field, error = %e, "stored mailbox left out")
                }
            },
            Err(e) => tracing::warn!(inbox = %name, error = %e, "stored mailbox left out"),
        }
    }
    Ok(out)
}
