//! The WhatsApp numbers this node serves, the intake every webhook delivery takes, the
//! worker that fetches customers' media, and the template cache.
//!
//! **Intake** (`intake`): the signature is checked with each number's app secret until one
//! matches (constant time each), before the body is read; every event must name a number
//! of that app (else nothing is stored); each message becomes an envelope and each status a
//! receipt, appended to the inbound stream in one durable write, then the media to fetch
//! on the media topic. Only then is the delivery answered 200. A redelivered `wamid` is
//! stored once: the store's idempotency key (`whatsapp:<wamid>`) holds across nodes and
//! backends.
//!
//! **Media** (`run_media`): outside the request, a consumer group on `whatsapp.media`
//! asks the Graph API for each file's short-lived URL, then the bytes, with the number's
//! token, asking afresh on every try (the URL expires in minutes); a file over
//! `whatsapp.max_media_bytes` or of a type not in `whatsapp.media_types` is refused and
//! named; after `whatsapp.media_attempts` failed tries the message shows "media
//! unavailable" with the reason. The message itself is never held back nor lost.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_channels::whatsapp::sender::{Graph, Number, Numbers, WhatsappSender};
use switchboard_channels::whatsapp::{inbound, signature};
use switchboard_core::blob::BlobKind;
use switchboard_core::domain::{Attachment, Channel, Inbound};
use switchboard_core::realtime::Event;
use switchboard_core::stream::{Consume, INBOUND, Stream};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, WhatsappNumber};
use crate::kit::AppState;

/// The stream topic of media to fetch.
pub const MEDIA: &str = "whatsapp.media";
const MEDIA_GROUP: &str = "media";

/// The numbers and the Graph API client.
#[derive(Debug)]
pub struct Whatsapp {
    numbers: RwLock<Vec<WhatsappNumber>>,
    pub graph: Graph,
    /// What the sender reads (kept in step with `numbers`).
    pub sending: Arc<Numbers>,
    pub sender: Arc<WhatsappSender>,
    /// When the numbers were last read again for a delivery that named an unknown one.
    reloaded_at: std::sync::atomic::AtomicI64,
    /// The names of the numbers added on the settings page.
    page: RwLock<std::collections::HashSet<String>>,
    /// User ids already linked to a number on this node.
    linked: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The last message marked read per conversation, so a page opened again sends nothing.
    marked: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

fn for_sender(n: &WhatsappNumber) -> Number {
    Number {
        inbox: n.inbox(),
        phone_number_id: n.phone_number_id.clone(),
        business_account_id: n.business_account_id.clone(),
        token: n.token.expose().to_owned(),
        messages_per_second: n.messages_per_second,
    }
}

impl Whatsapp {
    pub fn new(
        config: &Config,
        blobs: Arc<dyn switchboard_core::blob::BlobStore>,
        ids: switchboard_core::clock::Ids,
    ) -> anyhow::Result<Self> {
        let graph = Graph::new(&config.whatsapp.graph_url, Duration::from_secs(20))
            .map_err(|e| anyhow::anyhow!("whatsapp.graph_url: {e}"))?;
        let sending = Arc::new(Numbers::default());
        let sender = Arc::new(WhatsappSender::new(
            graph.clone(),
            sending.clone(),
            blobs,
            ids,
        ));
        let this = Self {
            numbers: RwLock::new(Vec::new()),
            graph,
            sending,
            sender,
            marked: Default::default(),
            linked: Default::default(),
            page: Default::default(),
            reloaded_at: Default::default(),
        };
        this.set(config.whatsapp.numbers.clone());
        Ok(this)
    }

    pub fn set(&self, numbers: Vec<WhatsappNumber>) {
        self.sending.set(numbers.iter().map(for_sender).collect());
        *self.numbers.write().unwrap_or_else(|p| p.into_inner()) = numbers;
    }

    /// The configuration file's numbers and those of the settings page; a page number
    /// whose name or id the file uses is left out (the file's wins).
    pub fn load(&self, config: &[WhatsappNumber], stored: Vec<WhatsappNumber>) {
        let mut all = config.to_vec();
        let mut page = std::collections::HashSet::new();
        for n in stored {
            if all
                .iter()
                .any(|c| c.name == n.name || c.phone_number_id == n.phone_number_id)
            {
                tracing::warn!(number = %n.name, "a number of the settings page has the name or id of one in the configuration file: the file's is used");
                continue;
            }
            page.insert(n.name.clone());
            all.push(n);
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        *self.page.write().unwrap_or_else(|p| p.into_inner()) = page;
        self.set(all);
    }

    /// Whether the numbers may be read again from the database now (at most every 5 s).
    pub fn may_reload(&self, now_ms: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.reloaded_at.load(Ordering::Relaxed);
        now_ms - last >= 5_000
            && self
                .reloaded_at
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Whether a number was added on the settings page (and may be changed there).
    pub fn from_page(&self, name: &str) -> bool {
        self.page
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }

    pub fn all(&self) -> Vec<WhatsappNumber> {
        self.numbers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn by_inbox(&self, inbox: &str) -> Option<WhatsappNumber> {
        self.all().into_iter().find(|n| n.inbox() == inbox)
    }

    /// The sender's view of a number (for read marks and media).
    pub fn number(&self, inbox: &str) -> Option<Number> {
        self.sending.for_inbox(inbox)
    }

    /// Whether a setup request's verify token is one of ours (constant time each).
    pub fn verify_token_known(&self, token: &str) -> bool {
        self.all()
            .iter()
            .any(|n| crate::kit::auth::same_secret(token, n.verify_token.expose()))
    }
}

/// The numbers kept by the settings page.
pub async fn stored(
    store: &switchboard_core::store::Store,
) -> switchboard_core::Result<Vec<WhatsappNumber>> {
    let mut out = Vec::new();
    for (name, json) in store.wa_numbers().await? {
        match serde_json::from_str::<WhatsappNumber>(&json) {
            Ok(n) => out.push(n),
            Err(e) => {
                tracing::warn!(number = %name, error = %e, "a stored WhatsApp number cannot be read")
            }
        }
    }
    Ok(out)
}

/// A number's settings as the page keeps them (credentials included).
pub fn settings_json(n: &WhatsappNumber) -> serde_json::Value {
    serde_json::json!({
        "name": n.name,
        "phone_number_id": n.phone_number_id,
        "display_phone_number": n.display_phone_number,
        "business_account_id": n.business_account_id,
        "token": n.token.expose(),
        "app_secret": n.app_secret.expose(),
        "verify_token": n.verify_token.expose(),
        "team": n.team,
        "messages_per_second": n.messages_per_second,
    })
}

/// Reads the numbers again (the file's and the page's) and takes them into use at once:
/// the webhook, the sender and each inbox's team.
pub async fn reload(state: &AppState) -> switchboard_core::Result<()> {
    let page = stored(&state.store).await?;
    state.whatsapp.load(&state.config.whatsapp.numbers, page);
    for n in state.whatsapp.all() {
        state
            .store
            .put_inbox(
                &state.ids,
                &n.inbox(),
                Channel::Whatsapp,
                &serde_json::json!({ "team": n.team }),
            )
            .await?;
    }
    Ok(())
}

/// Why a delivery was refused. Nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the signature is missing or wrong")]
    Signature,
    #[error("{0}")]
    Invalid(String),
    #[error("no number here has id {0}")]
    UnknownNumber(String),
    #[error(transparent)]
    Store(#[from] switchboard_core::Error),
}

/// What one delivery became.
#[derive(Debug, Default, Serialize)]
pub struct Accepted {
    pub messages: usize,
    pub statuses: usize,
    pub media: usize,
}

/// A file to fetch for a stored message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaJob {
    pub inbox: String,
    pub wamid: String,
    pub media_id: String,
    pub kind: String,
    #[serde(default)]
    pub mime: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
}

/// Checks, reads and makes durable one webhook delivery (see the module's notes).
pub async fn intake(
    state: &AppState,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Accepted, IntakeError> {
    let header = signature_header.ok_or(IntakeError::Signature)?;
    let secret_of = |numbers: &[WhatsappNumber]| {
        numbers
            .iter()
            .map(|n| n.app_secret.expose().to_owned())
            .find(|secret| signature::valid(secret.as_bytes(), body, header))
    };
    let mut numbers = state.whatsapp.all();
    let mut app_secret = secret_of(&numbers);
    // A number added on another node's settings page: read the numbers again (at most
    // every few seconds, so bad deliveries cannot make every request a query).
    if app_secret.is_none() && state.whatsapp.may_reload(state.ids.now_ms()) {
        reload(state).await?;
        numbers = state.whatsapp.all();
        app_secret = secret_of(&numbers);
    }
    let app_secret = app_secret.ok_or(IntakeError::Signature)?;
    let events = switchboard_channels::whatsapp::read(body)
        .map_err(|e| IntakeError::Invalid(e.to_string()))?;
    let served = |numbers: &[WhatsappNumber], id: &str| {
        numbers
            .iter()
            .any(|n| n.phone_number_id == id && n.app_secret.expose() == app_secret)
    };
    if events.iter().any(|e| !served(&numbers, &e.phone_number_id))
        && state.whatsapp.may_reload(state.ids.now_ms())
    {
        reload(state).await?;
        numbers = state.whatsapp.all();
    }
    let mut lines = Vec::with_capacity(events.len());
    let mut jobs = Vec::new();
    let mut accepted = Accepted::default();
    for e in &events {
        let e = &known_sender(state, e).await?;
        if e.kind == "message" {
            handover(state, e).await?;
            if survey_answer(state, e).await? {
                accepted.messages += 1;
                continue;
            }
        }
        let number = numbers
            .iter()
            .find(|n| n.phone_number_id == e.phone_number_id && n.app_secret.expose() == app_secret)
            .ok_or_else(|| IntakeError::UnknownNumber(e.phone_number_id.clone()))?;
        let inbox = number.inbox();
        let entry = inbound::to_inbound(e, &inbox, state.ids.new_id(), state.ids.now_ms())
            .map_err(|r| IntakeError::Invalid(r.to_string()))?;
        match entry {
            Some(Inbound::Message(env)) => {
                accepted.messages += 1;
                if let Some(m) = env.content.as_ref().and_then(|c| c.media.as_ref()) {
                    jobs.push(
                        serde_json::to_string(&MediaJob {
                            inbox: inbox.clone(),
                            wamid: env.external_id.clone(),
                            media_id: m.id.clone(),
                            kind: m.kind.clone(),
                            mime: m.mime.clone(),
                            filename: m.filename.clone(),
                        })
                        .map_err(switchboard_core::Error::from)?,
                    );
                }
                lines.push(Inbound::Message(env).to_payload()?);
            }
            Some(r @ Inbound::Receipt(_)) => {
                accepted.statuses += 1;
                lines.push(r.to_payload()?);
            }
            None => {}
        }
    }
    if !lines.is_empty() {
        state.stream.append_batch(INBOUND, &lines).await?;
    }
    if !jobs.is_empty() {
        accepted.media = jobs.len();
        state.stream.append_batch(MEDIA, &jobs).await?;
    }
    Ok(accepted)
}

/// A message that names only the customer's user id (the number hidden) is filed under the
/// customer's number when the user id is already linked to one, so it joins the same
/// conversation; a message that names both links them, once, after it is stored.
async fn known_sender(
    state: &AppState,
    e: &switchboard_channels::whatsapp::Event,
) -> Result<switchboard_channels::whatsapp::Event, IntakeError> {
    use switchboard_core::domain::{Identity, IdentityKind};
    let mut e = e.clone();
    let Some(user) = e
        .user_id
        .as_deref()
        .and_then(|u| Identity::whatsapp_user(u).ok())
    else {
        return Ok(e);
    };
    match e.from.as_deref().and_then(|f| Identity::whatsapp(f).ok()) {
        None if e.kind == "message" || e.kind == "system" => {
            if let Some(contact) = state.store.contact_for_identity(&user).await? {
                e.from = state
                    .store
                    .contact_identities(&contact)
                    .await?
                    .into_iter()
                    .find(|(i, verified)| *verified && i.kind() == IdentityKind::Whatsapp)
                    .map(|(i, _)| i.value().to_owned());
            }
        }
        Some(number) => {
            let first_time = {
                let mut linked = state
                    .whatsapp
                    .linked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if linked.len() > 100_000 {
                    linked.clear();
                }
                linked.insert(user.value().to_owned())
            };
            if first_time {
                let state = state.clone();
                tokio::spawn(async move { link(&state, &number, &user).await });
            }
        }
        None => {}
    }
    Ok(e)
}

/// A row chosen on a survey's list (`survey:<token>:<1-5>`, sent by `notify`): the answer
/// is recorded (once, changeable for a day, as on the survey's page) when the sender is
/// the survey's own client, the card and the dashboard follow, and the client is thanked
/// with the page's link for the rest. The choice answers the survey rather than reopening
/// the resolved conversation; a row that cannot answer (closed, someone else's) goes on as
/// an ordinary message, so nothing the client sent is lost.
async fn survey_answer(
    state: &AppState,
    e: &switchboard_channels::whatsapp::Event,
) -> Result<bool, IntakeError> {
    use switchboard_core::domain::Identity;
    let Some((token, csat)) = e
        .interactive
        .as_ref()
        .and_then(|c| switchboard_portal::surveys::read_list_id(&c.id))
    else {
        return Ok(false);
    };
    let survey = match state.store.survey_by_token(token).await {
        Ok(s) => s,
        Err(switchboard_core::Error::NotFound(_)) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let sender = match e.from.as_deref().and_then(|f| Identity::whatsapp(f).ok()) {
        Some(number) => state.store.verified_owner(&number).await?,
        None => None,
    };
    if sender.as_deref() != Some(survey.contact_id.as_str()) {
        tracing::warn!(survey = %survey.id, "a survey's list answered from another number: kept as a message");
        return Ok(false);
    }
    if survey.answered_at.is_some() && survey.csat == Some(csat) {
        // The same tap delivered again: answered already, nothing changes.
        return Ok(true);
    }
    let now = state.ids.now_ms();
    let answered = state
        .store
        .answer_survey(
            &state.ids,
            token,
            Some(csat),
            survey.nps,
            survey.comment.as_deref(),
            |s| {
                switchboard_portal::surveys::may_answer(now, s.expires_at, s.answered_at)
                    .map_err(|e| e.to_string())
            },
        )
        .await;
    let answered = match answered {
        Ok(a) => a,
        Err(switchboard_core::Error::Conflict(_) | switchboard_core::Error::Invalid(_)) => {
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    crate::kit::surveys::answered(state, &answered).await;
    if let Some(conversation) = &answered.conversation_id {
        let lang = switchboard_portal::locale::Lang::from_tag(&answered.lang);
        let text = format!(
            "{} {}/survey/{token}",
            switchboard_portal::surveys::whatsapp_survey(lang).thanks,
            state.config.public_url.trim_end_matches('/')
        );
        let thanks = switchboard_core::store::NewOutbound::text(
            conversation,
            switchboard_core::domain::AuthorKind::System,
            None,
            &text,
        )
        .key(format!("survey-thanks:{}", answered.id));
        state.outbox.queue(&thanks).await?;
    }
    Ok(true)
}

/// A message with a portal client's "continue on WhatsApp" code (`portal::whatsapp`): its
/// number joins that client's contact before the message is filed, so the conversation
/// goes on with the same person. A code works once; a number that is already another
/// contact's stays theirs (people merge contacts, a code never moves one).
async fn handover(
    state: &AppState,
    e: &switchboard_channels::whatsapp::Event,
) -> Result<(), IntakeError> {
    let Some(code) = e.text.as_deref().and_then(crate::kit::handover::code_in) else {
        return Ok(());
    };
    let Some(number) = e
        .from
        .as_deref()
        .and_then(|f| switchboard_core::domain::Identity::whatsapp(f).ok())
    else {
        return Ok(());
    };
    let Some(contact) = state
        .store
        .take_wa_handover(&code, state.ids.now_ms())
        .await?
    else {
        return Ok(());
    };
    match state.store.contact_for_identity(&number).await? {
        None => match state
            .store
            .verify_identity(&state.ids, &contact, &number)
            .await
        {
            Ok(_) => tracing::info!(contact = %contact, "a portal client continues on WhatsApp"),
            // The number wrote meanwhile and has its own contact now: as below.
            Err(e) => {
                tracing::info!(contact = %contact, error = %e, "a portal client's WhatsApp number was not linked")
            }
        },
        Some(owner) if owner == contact => {}
        Some(owner) => {
            tracing::info!(contact = %contact, other = %owner, "a portal client's WhatsApp number belongs to another contact; left for people to merge");
        }
    }
    Ok(())
}

/// Records a user id as the same customer as the number, once the number's contact exists
/// (its message may still be on its way). A user id held by another contact is left as it
/// is: Meta's word links them, but two contacts are merged only by people.
async fn link(
    state: &AppState,
    number: &switchboard_core::domain::Identity,
    user: &switchboard_core::domain::Identity,
) {
    for wait in [100u64, 500, 1000, 2000, 4000] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let Ok(Some(contact)) = state.store.contact_for_identity(number).await else {
            continue;
        };
        match state.store.contact_for_identity(user).await {
            Ok(None) => {
                if let Err(e) = state
                    .store
                    .verify_identity(&state.ids, &contact, user)
                    .await
                {
                    tracing::debug!(error = %e, "user id not linked");
                }
            }
            Ok(Some(owner)) if owner != contact => {
                tracing::info!(contact = %contact, other = %owner, "a WhatsApp user id belongs to another contact; left for people to merge");
            }
            _ => {}
        }
        return;
    }
}

/// Fetches media until `shutdown` (one consumer per node, a few files at once).
pub async fn run_media(state: AppState, shutdown: CancellationToken) {
    let stream: Arc<dyn Stream> = state.stream.clone();
    if let Err(e) = stream.ensure_group(MEDIA, MEDIA_GROUP).await {
        tracing::warn!(error = %e, "media group not ready");
    }
    let consumer = format!("{}-media", state.node.name);
    // What this node had taken before it stopped.
    if let Ok(mine) = stream.pending_for(MEDIA, MEDIA_GROUP, &consumer, 256).await {
        for entry in mine {
            fetch_entry(&state, entry).await;
        }
    }
    let how = Consume {
        topic: MEDIA,
        group: MEDIA_GROUP,
        consumer: &consumer,
        concurrency: 4,
        block: Duration::from_millis(500),
        every: Duration::from_secs(30),
    };
    let handle = |entry| {
        let state = state.clone();
        async move { fetch_entry(&state, entry).await }
    };
    let housekeeping = || async {
        match stream
            .reclaim(MEDIA, MEDIA_GROUP, &consumer, Duration::from_secs(300), 64)
            .await
        {
            Ok(entries) => {
                for entry in entries {
                    fetch_entry(&state, entry).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "media reclaim failed"),
        }
        let _ = stream.trim(MEDIA).await;
    };
    switchboard_core::stream::consume(&stream, how, &shutdown, handle, housekeeping).await;
}

async fn fetch_entry(state: &AppState, entry: switchboard_core::stream::Entry) {
    let job: MediaJob = match serde_json::from_str(&entry.payload) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable media job dropped");
            let _ = state.stream.ack(MEDIA, MEDIA_GROUP, &[entry.id]).await;
            return;
        }
    };
    let outcome = fetch(state, &job).await;
    let (kept, reason) = match outcome {
        Ok(a) => (Some(a), None),
        Err(why) => (None, Some(why)),
    };
    if let Some(why) = &reason {
        tracing::warn!(inbox = %job.inbox, media = %job.media_id, reason = %why, "media not kept");
    }
    // The message may still be on its way through the router: wait for it a little.
    for wait in [0u64, 200, 500, 1000, 2000, 4000] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        match state
            .store
            .settle_remote_media(
                &state.ids,
                Channel::Whatsapp,
                &job.wamid,
                kept.clone(),
                reason.as_deref(),
            )
            .await
        {
            Ok(Some((message, conversation))) => {
                let _ = state
                    .realtime
                    // Published again as it is now: the inbox redraws the thread.
                    .publish(&Event::Message {
                        scope: conversation.scope(),
                        message,
                    })
                    .await;
                let _ = state.stream.ack(MEDIA, MEDIA_GROUP, &[entry.id]).await;
                return;
            }
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "media outcome not recorded; will retry");
                return;
            }
        }
    }
    // Not stored yet: left pending, taken again by the reclaim.
}

/// One file, tried `media_attempts` times with a growing pause; the reason when it is not
/// kept.
async fn fetch(state: &AppState, job: &MediaJob) -> Result<Attachment, String> {
    let cfg = &state.config.whatsapp;
    let number = state
        .whatsapp
        .number(&job.inbox)
        .ok_or_else(|| format!("no number serves {}", job.inbox))?;
    let mut last = String::new();
    for attempt in 0..cfg.media_attempts.max(1) {
        if attempt > 0 {
            let pause = Duration::from_millis(250 << attempt.min(6));
            tokio::time::sleep(pause).await;
        }
        let info = match state
            .whatsapp
            .graph
            .media_info(&number, &job.media_id)
            .await
        {
            Ok(i) => i,
            Err(e) => {
                last = format!("the Graph API did not give the file: {}", e.message);
                if !switchboard_channels::whatsapp::outbound::transient(&e) && e.http != 404 {
                    break;
                }
                continue;
            }
        };
        let mime = info
            .mime_type
            .clone()
            .or_else(|| job.mime.clone())
            .unwrap_or_else(|| "application/octet-stream".into());
        let bare = mime.split(';').next().unwrap_or("").trim().to_lowercase();
        let name = job
            .filename
            .clone()
            .unwrap_or_else(|| format!("{}-{}", job.kind, &job.media_id));
        if !cfg.media_types.iter().any(|t| t == &bare) {
            return Err(format!("{name}: files of type {bare} are not kept"));
        }
        if info.file_size.is_some_and(|s| s > cfg.max_media_bytes) {
            return Err(format!(
                "{name}: {} bytes, over the {}-byte limit",
                info.file_size.unwrap_or(0),
                cfg.max_media_bytes
            ));
        }
        match state
            .whatsapp
            .graph
            .download(&number, &info.url, cfg.max_media_bytes)
            .await
        {
            Ok(bytes) => {
                let blob = state
                    .blobs
                    .put(BlobKind::Attachment, &bytes)
                    .await
                    .map_err(|e| format!("{name}: not stored: {e}"))?;
                return Ok(Attachment {
                    name,
                    mime: bare,
                    size: blob.size(),
                    blob: blob.key().clone(),
                    content_id: None,
                });
            }
            Err(e) if e.http == 413 => {
                return Err(format!(
                    "{name}: over the {}-byte limit",
                    cfg.max_media_bytes
                ));
            }
            Err(e) => last = format!("the file could not be downloaded: {}", e.message),
        }
    }
    Err(last)
}

/// What an agent asked to send beside the words.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extras {
    /// A message of this conversation the reply answers (WhatsApp quotes it).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// An approved template (WhatsApp, and the only thing that goes once the window closed).
    #[serde(default)]
    pub template: Option<switchboard_core::domain::Template>,
    /// An emoji on one of the conversation's messages (empty removes it).
    #[serde(default)]
    pub reaction: Option<ReactionRequest>,
    #[serde(default)]
    pub buttons: Vec<switchboard_core::domain::Button>,
    #[serde(default)]
    pub list: Option<switchboard_core::domain::ListContent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionRequest {
    pub message_id: String,
    pub emoji: String,
}

impl Extras {
    pub fn is_empty(&self) -> bool {
        self.reply_to.is_none()
            && self.template.is_none()
            && self.reaction.is_none()
            && self.buttons.is_empty()
            && self.list.is_none()
    }
}

/// The channel's id of one of the conversation's messages (what a quote or a reaction
/// names); any other message is "not found".
async fn external_of(
    state: &AppState,
    conversation: &switchboard_core::domain::Conversation,
    message_id: &str,
) -> Result<String, crate::kit::error::ApiError> {
    use crate::kit::error::ApiError;
    let not_found = || ApiError::NotFound(format!("message {message_id} not found"));
    let m = state
        .store
        .message(message_id)
        .await
        .map_err(|_| not_found())?;
    if m.conversation_id != conversation.id || m.internal {
        return Err(not_found());
    }
    m.external_id
        .ok_or_else(|| ApiError::Invalid("that message has not reached the customer yet".into()))
}

/// Turns an agent's reply into the text and content to queue, refusing before anything is
/// stored what the conversation's channel cannot carry: a free-form WhatsApp message once
/// the 24-hour window has closed (`window_closed`, naming the templates), a template that
/// is not approved, a template or a reaction off WhatsApp.
pub async fn prepare_reply(
    state: &AppState,
    conversation: &switchboard_core::domain::Conversation,
    text: &str,
    extras: Extras,
) -> Result<(String, Option<switchboard_core::domain::RichContent>), crate::kit::error::ApiError> {
    use crate::kit::error::ApiError;
    use switchboard_channels::whatsapp::outbound::window_open;
    use switchboard_core::domain::{Reaction, RichContent};
    let whatsapp = conversation.channel == Channel::Whatsapp;
    if !whatsapp && (extras.template.is_some() || extras.reaction.is_some()) {
        return Err(ApiError::Invalid(
            "templates and reactions go only to WhatsApp conversations".into(),
        ));
    }
    let mut content = RichContent {
        buttons: extras.buttons,
        list: extras.list,
        ..RichContent::default()
    };
    if let Some(id) = &extras.reply_to {
        content.reply_to = Some(external_of(state, conversation, id).await?);
    }
    let mut text = text.to_owned();
    if let Some(r) = extras.reaction {
        content.reaction = Some(Reaction {
            to: external_of(state, conversation, &r.message_id).await?,
            emoji: r.emoji.clone(),
        });
        if text.trim().is_empty() {
            text = if r.emoji.is_empty() {
                "[reaction removed]".into()
            } else {
                format!("[reaction {}]", r.emoji)
            };
        }
    }
    if let Some(t) = extras.template {
        let known = state.store.wa_templates(&conversation.inbox).await?;
        if !known.is_empty() {
            let found = known
                .iter()
                .find(|k| k.name == t.name && k.language == t.language)
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "no template {} ({}) on this number",
                        t.name, t.language
                    ))
                })?;
            if found.status != "APPROVED" {
                return Err(ApiError::Invalid(format!(
                    "template {} is {}, not approved",
                    t.name, found.status
                )));
            }
            if usize::try_from(found.params).unwrap_or(0) != t.params.len() {
                return Err(ApiError::Invalid(format!(
                    "template {} takes {} parameters; {} given",
                    t.name,
                    found.params,
                    t.params.len()
                )));
            }
            if text.trim().is_empty() {
                text = found.render(&t.params);
            }
        }
        if text.trim().is_empty() {
            text = format!("[template {}]", t.name);
        }
        content.template = Some(t);
    }
    if whatsapp && content.template.is_none() {
        let last = state.store.last_inbound_at(&conversation.id).await?;
        if !window_open(last, state.ids.now_ms()) {
            let names: Vec<String> = state
                .store
                .wa_templates(&conversation.inbox)
                .await?
                .into_iter()
                .filter(|t| t.status == "APPROVED")
                .map(|t| t.name)
                .collect();
            return Err(ApiError::WindowClosed(format!(
                "the customer last wrote more than 24 hours ago: WhatsApp takes only an approved template now{}",
                if names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", names.join(", "))
                }
            )));
        }
        // Meta's limits, checked before anything is stored.
        if let Ok(to) = switchboard_core::domain::Identity::whatsapp("10000000000") {
            let probe = if text.trim().is_empty() { "x" } else { &text };
            if let Err(e) =
                switchboard_channels::whatsapp::outbound::message(&to, probe, Some(&content), None)
            {
                return Err(ApiError::Invalid(e.to_string()));
            }
        }
    }
    Ok((text, (!content.is_empty()).then_some(content)))
}

/// Reads each number's templates from the Graph API into the cache, now and every hour.
pub async fn run_templates(state: AppState, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => sync_templates(&state, None).await,
        }
    }
}

/// One pass of [`run_templates`]: numbers without a business account id are skipped.
pub async fn sync_templates(state: &AppState, only: Option<&str>) {
    for n in state.whatsapp.all() {
        if n.business_account_id.is_none() || only.is_some_and(|o| o != n.name) {
            continue;
        }
        let Some(number) = state.whatsapp.number(&n.inbox()) else {
            continue;
        };
        match state.whatsapp.graph.templates(&number).await {
            Ok(list) => {
                let rows: Vec<switchboard_core::store::WaTemplate> = list
                    .into_iter()
                    .map(|t| switchboard_core::store::WaTemplate {
                        name: t.name,
                        language: t.language,
                        status: t.status,
                        category: t.category,
                        body: t.body,
                        params: i64::try_from(t.params).unwrap_or(0),
                    })
                    .collect();
                if let Err(e) = state
                    .store
                    .put_wa_templates(&n.inbox(), &rows, state.ids.now_ms())
                    .await
                {
                    tracing::warn!(number = %n.name, error = %e, "templates not kept");
                }
            }
            Err(e) => tracing::warn!(number = %n.name, error = %e.message, "templates not read"),
        }
    }
}

/// An agent has a WhatsApp conversation in front of them: the customer's latest message is
/// marked read (blue ticks), with the typing indicator when the agent is typing. Done on a
/// task of its own: the page never waits for Meta, and a failure is only logged.
pub fn seen(state: &AppState, conversation: &switchboard_core::domain::Conversation, typing: bool) {
    if conversation.channel != Channel::Whatsapp {
        return;
    }
    let state = state.clone();
    let conversation_id = conversation.id.clone();
    let inbox = conversation.inbox.clone();
    tokio::spawn(async move {
        let Some(number) = state.whatsapp.number(&inbox) else {
            return;
        };
        let Ok(Some(wamid)) = state.store.last_inbound_external_id(&conversation_id).await else {
            return;
        };
        {
            let mut marked = state
                .whatsapp
                .marked
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !typing && marked.get(&conversation_id) == Some(&wamid) {
                return;
            }
            if marked.len() > 10_000 {
                marked.clear();
            }
            marked.insert(conversation_id.clone(), wamid.clone());
        }
        if let Err(e) = state
            .whatsapp
            .graph
            .mark_read(&number, &wamid, typing)
            .await
        {
            tracing::debug!(error = %e.message, "read mark not sent");
        }
    });
}
