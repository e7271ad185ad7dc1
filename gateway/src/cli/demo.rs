//! `switchboard demo`: seeds a company, contacts, agents and sample conversations (once
//! per data dir), then serves and prints where to look.

use switchboard_core::domain::{AuthorKind, Channel, Envelope, Identity, IdentityKind, Role, Tier};
use switchboard_core::store::{IngestOutcome, NewOutbound};
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Config;
use crate::kit::AppState;

const ADMIN: &str = "admin@demo.switchboard.local";
const AGENT: &str = "ana@demo.switchboard.local";

/// The knowledge base the demo's bot answers from: an office-equipment business's FAQ in
/// English, Spanish and Portuguese (the one `kb-bench faq` measures).
const DEMO_KB: &str = include_str!("../../../bench/data/faq/articles.jsonl");

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    // The demo shows the bot: it answers new chats from the knowledge base below.
    config.bot.enabled = true;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    seed(&state).await?;
    seed_kb(&state).await?;
    // A fresh sign-in password at every start, shown only here; the API tokens are made
    // after it (a new password revokes a user's tokens).
    let password = format!("demo-{}", &switchboard_core::clock::random_token()[..12]);
    let mut tokens = Vec::new();
    for email in [ADMIN, AGENT] {
        if let Some(u) = state.store.user_by_email(email).await? {
            state
                .store
                .set_password(&u.id, &password, state.ids.now_ms())
                .await?;
            tokens.push(
                state
                    .store
                    .issue_api_token(&state.ids, &u.id, "demo")
                    .await?,
            );
        }
    }
    let [admin_token, agent_token] = <[String; 2]>::try_from(tokens)
        .map_err(|_| anyhow::anyhow!("the demo's users were not made"))?;
    let base = format!("http://{}", state.config.listen.ip()).replace("0.0.0.0", "127.0.0.1");
    let base = format!("{base}:{}", app.port());
    let portal = match portal_link(&state).await {
        Ok(Some(token)) => format!("{base}/portal/link/{token}"),
        Ok(None) => format!("{base}/portal/login"),
        Err(e) => {
            tracing::warn!(error = %e, "no demo portal link");
            format!("{base}/portal/login")
        }
    };
    let text = format!(
        "Switchboard demo is running at {base}\n\
         \x20 Agent inbox:             {base}/login  ({AGENT} or {ADMIN}, password {password})\n\
         \x20 Web chat (as a client):  {base}/chat\n\
         \x20 Agent API (as Ana, N1):  curl -H 'Authorization: Bearer {agent_token}' {base}/api/v1/conversations\n\
         \x20 Admin token:             {admin_token}\n\
         \x20 Client portal (as João): {portal}  (one use, 15 minutes)\n\
         \x20 Help center:             {base}/help  (the bot answers the chat from it)\n\
         \x20 Health and metrics:      {base}/readyz  {base}/metrics\n\
         Stop with Ctrl-C.\n"
    );
    // A closed stdout (piped into `head`, say) must not stop the server.
    let mut out = std::io::stdout();
    let _ = std::io::Write::write_all(&mut out, text.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut out));
    app.run_until_stopped(CancellationToken::new()).await
}

/// Imports the demo's articles (unchanged ones are left as they are).
async fn seed_kb(state: &AppState) -> anyhow::Result<()> {
    let kb = state.open_kb().await?;
    let mut articles =
        switchboard_kb::import::parse(DEMO_KB, switchboard_kb::import::Format::Jsonl)
            .map_err(|e| anyhow::anyhow!("demo articles: {e:?}"))?;
    articles.sort_by_key(|(line, a)| (a.translation_of.is_some(), *line));
    for (_, input) in articles {
        kb.save(input, Some("demo")).await?;
    }
    Ok(())
}

/// A client writing on WhatsApp: a question, then where the machine is.
async fn seed_whatsapp(state: &AppState) -> anyhow::Result<()> {
    use switchboard_core::domain::{Location, RichContent};
    let ids = &state.ids;
    let from = Identity::whatsapp("5215512345678")?;
    let mut question = Envelope::new(
        ids.new_id(),
        Channel::Whatsapp,
        "whatsapp:demo",
        "wamid.demo-1",
        from.clone(),
        "Buenas tardes, la copiadora del segundo piso marca error SC542 y no imprime nada. ¿Pueden mandar a un técnico hoy?",
        ids.now_ms(),
    );
    question.sender_name = Some("Carlos Méndez".into());
    let mut place = Envelope::new(
        ids.new_id(),
        Channel::Whatsapp,
        "whatsapp:demo",
        "wamid.demo-2",
        from,
        "[location] Oficinas Méndez, Av. Insurgentes Sur 1602, CDMX",
        ids.now_ms(),
    );
    place.sender_name = Some("Carlos Méndez".into());
    place.content = Some(RichContent {
        location: Some(Location {
            latitude: "19.3702".into(),
            longitude: "-99.1799".into(),
            name: Some("Oficinas Méndez".into()),
            address: Some("Av. Insurgentes Sur 1602, CDMX".into()),
        }),
        ..RichContent::default()
    });
    state.store.ingest_batch(&[question, place]).await?;
    Ok(())
}

/// A sign-in link for João, whose company has invoices (a new one at every start).
async fn portal_link(state: &AppState) -> anyhow::Result<Option<String>> {
    let visitor = Identity::new(IdentityKind::Visitor, "demo-joao")?;
    let Some(contact) = state.store.contact_for_identity(&visitor).await? else {
        return Ok(None);
    };
    let token = state
        .store
        .create_magic_link(
            &state.ids,
            &switchboard_core::store::NewLink {
                contact_id: &contact,
                email: "joao@acme.example",
                purpose: "login",
                ttl_ms: 15 * 60_000,
            },
        )
        .await?;
    Ok(Some(token))
}

/// Two invoices for João's company: one paid, one open.
async fn seed_invoices(state: &AppState, contact: &str) -> anyhow::Result<()> {
    let lines = [
        (
            r#"{"lines":[{"description":"Toner cartridges, black (4)","quantity_milli":4000,"unit_price":8990,"tax_rate_bp":2100},{"description":"On-site visit","quantity_milli":1000,"unit_price":6000,"tax_rate_bp":2100}]}"#,
            "2026-10-01",
            "2026-10-31",
            true,
        ),
        (
            r#"{"lines":[{"description":"Monthly maintenance contract","quantity_milli":1000,"unit_price":24900,"tax_rate_bp":2100}],"notes":"Thank you for your business."}"#,
            "2026-11-01",
            "2026-12-01",
            false,
        ),
    ];
    for (i, (doc, issued, due, paid)) in lines.into_iter().enumerate() {
        let made = crate::kit::billing::documents::create_document(
            state,
            "invoice",
            &crate::kit::billing::documents::NewDocument {
                contact_id: contact.to_owned(),
                company_id: None,
                currency: "EUR".into(),
                issue_date: Some(issued.into()),
                due_date: Some(due.into()),
                document: switchboard_portal::document::Document::parse(doc)
                    .map_err(|e| anyhow::anyhow!(e))?,
                external_id: Some(format!("demo-{i}")),
                send: false,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        let sent = state
            .store
            .set_document_status(&made.id, &["draft"], "sent", state.ids.now_ms())
            .await?;
        if paid {
            state
                .store
                .record_payment(
                    &state.ids,
                    &sent.id,
                    "payment",
                    sent.total,
                    "EUR",
                    "manual",
                    "demo-transfer",
                )
                .await?;
        }
    }
    Ok(())
}

async fn seed(state: &AppState) -> anyhow::Result<()> {
    let store = &state.store;
    let ids = &state.ids;
    let (_admin, fresh) = match store.user_by_email(ADMIN).await? {
        Some(u) => (u, false),
        None => (
            store
                .create_user(ids, ADMIN, Some("Demo Admin"), Role::Admin, None)
                .await?,
            true,
        ),
    };
    let agent = match store.user_by_email(AGENT).await? {
        Some(u) => u,
        None => {
            store
                .create_user(ids, AGENT, Some("Ana Souza"), Role::Support, Some(Tier::N1))
                .await?
        }
    };
    if !fresh {
        return Ok(());
    }
    let company = store.create_company(ids, "Acme Print Services").await?;
    let samples = [
        (
            "demo-maria",
            "Maria Lopez",
            "maria@acme.example",
            &[
                "Hi! Our printer on floor 2 shows error E-302.",
                "It started after the toner change this morning.",
            ][..],
        ),
        (
            "demo-joao",
            "João Silva",
            "joao@acme.example",
            &["Can I get a copy of last month's invoice?"][..],
        ),
    ];
    for (n, (visitor, name, email, texts)) in samples.iter().enumerate() {
        let mut conversation = None;
        for (i, text) in texts.iter().enumerate() {
            let mut envelope = Envelope::new(
                ids.new_id(),
                Channel::Webchat,
                &state.config.webchat.inbox,
                &format!("{visitor}:seed-{i}"),
                Identity::new(IdentityKind::Visitor, visitor)?,
                text,
                ids.now_ms(),
            );
            envelope.sender_name = Some((*name).to_owned());
            envelope.extra_identities = vec![Identity::new(IdentityKind::Email, email)?];
            for outcome in store.ingest_batch(&[envelope]).await? {
                if let IngestOutcome::Stored(s) = outcome {
                    store.set_contact_company(&s.contact_id, &company).await?;
                    conversation = Some(s.conversation.id.clone());
                    if n == 1 && i == 0 {
                        seed_invoices(state, &s.contact_id).await?;
                    }
                }
            }
        }
        if let (0, Some(conversation)) = (n, conversation) {
            state
                .outbox
                .queue(
                    &NewOutbound::text(
                        &conversation,
                        AuthorKind::Agent,
                        Some(&agent.id),
                        "Hello Maria, I'm looking into E-302 now. Could you send a photo of the display?",
                    )
                    .key("demo:first-reply"),
                )
                .await?;
        }
    }
    seed_whatsapp(state).await?;
    Ok(())
}
