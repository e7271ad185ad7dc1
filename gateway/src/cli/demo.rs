//! `switchboard demo`: seeds a company, contacts, agents and sample conversations, and a
//! fleet (three companies, their sites with coordinates, 30 machines, their contracts and
//! a year of readings, with the ended periods billed; a technician with visits done and
//! one booked) and a week of a hundred conversations on every channel (`demo/week.rs`) once
//! per data dir, then serves and prints where to look.

mod week;

use switchboard_core::domain::{AuthorKind, Channel, Envelope, Identity, IdentityKind, Role, Tier};
use switchboard_core::store::{IngestOutcome, NewOutbound};
use tokio_util::sync::CancellationToken;

use crate::app::Application;
use crate::config::Config;
use crate::kit::AppState;

const ADMIN: &str = "admin@demo.switchboard.local";
const AGENT: &str = "ana@demo.switchboard.local";
const TECHNICIAN: &str = "marcos@demo.switchboard.local";

/// The knowledge base the demo's bot answers from: an office-equipment business's FAQ in
/// English, Spanish and Portuguese (the one `kb-bench faq` measures).
const DEMO_KB: &str = include_str!("../../../bench/data/faq/articles.jsonl");

pub async fn run(mut config: Config) -> anyhow::Result<()> {
    // The demo shows the bot: it answers new chats from the knowledge base below.
    config.bot.enabled = true;
    // The sites' map draws OpenStreetMap's tiles unless a tile server is set (the page
    // lists the same sites without them, offline).
    if config.portal.map_tiles.is_empty() {
        config.portal.map_tiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png".into();
        config.portal.map_attribution = "© OpenStreetMap contributors".into();
    }
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
    if let Some(u) = state.store.user_by_email(TECHNICIAN).await? {
        state
            .store
            .set_password(&u.id, &password, state.ids.now_ms())
            .await?;
    }
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
    let (admin_user, fresh) = match store.user_by_email(ADMIN).await? {
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
                        seed_fleet(state, &company, &s.contact_id).await?;
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
    let admin = store.caller(&admin_user).await?;
    week::seed(state, &admin, &company, &agent.id).await?;
    Ok(())
}

/// A client of another company, by a first chat.
async fn demo_client(
    state: &AppState,
    company: &str,
    visitor: &str,
    name: &str,
    text: &str,
) -> anyhow::Result<String> {
    let mut envelope = Envelope::new(
        state.ids.new_id(),
        Channel::Webchat,
        &state.config.webchat.inbox,
        &format!("{visitor}:seed-0"),
        Identity::new(IdentityKind::Visitor, visitor)?,
        text,
        state.ids.now_ms(),
    );
    envelope.sender_name = Some(name.to_owned());
    for outcome in state.store.ingest_batch(&[envelope]).await? {
        if let IngestOutcome::Stored(s) = outcome {
            state
                .store
                .set_contact_company(&s.contact_id, company)
                .await?;
            return Ok(s.contact_id);
        }
    }
    anyhow::bail!("the demo client {name} was not stored")
}

/// The fleet: three companies with 30 machines at their locations, a contract each
/// (pooled monthly, per machine quarterly, pooled monthly), a year of monthly readings
/// (one machine missed its last, one is down), and every ended period billed.
async fn seed_fleet(state: &AppState, acme: &str, joao: &str) -> anyhow::Result<()> {
    use switchboard_core::store::{NewContract, NewMachine, NewReading};
    let store = &state.store;
    let ids = &state.ids;
    let today = crate::kit::billing::today(state);
    let globex = store.create_company(ids, "Globex Logística").await?;
    let initech = store.create_company(ids, "Initech Advocacia").await?;
    let carla = demo_client(
        state,
        &globex,
        "demo-carla",
        "Carla Mendes",
        "Bom dia! Preciso de toner para a impressora do galpão.",
    )
    .await?;
    let diego = demo_client(
        state,
        &initech,
        "demo-diego",
        "Diego Rojas",
        "Hola, ¿cuándo vence nuestro contrato?",
    )
    .await?;
    // (maker, model, colour?, monthly mono, monthly colour)
    let models = [
        ("Ricoh", "IM C3000", true, 6_000, 2_500),
        ("Kyocera", "ECOSYS M3655idn", false, 9_000, 0),
        ("HP", "LaserJet M406dn", false, 3_000, 0),
        ("Canon", "imageRUNNER C3226i", true, 4_000, 1_800),
        ("Brother", "MFC-L6900DW", false, 2_200, 0),
    ];
    let fleet: [(&str, &str, &[&str], usize); 3] = [
        (
            acme,
            "ACME",
            &[
                "São Paulo · 2º andar",
                "São Paulo · Recepção",
                "Campinas · Depósito",
            ],
            14,
        ),
        (&globex, "GLX", &["Galpão 1", "Escritório central"], 10),
        (&initech, "INI", &["Sala 402"], 6),
    ];
    // A year of months before this one, each reading on the month's last day.
    let (y, m, _) = switchboard_portal::locale::civil(today);
    let this_month = switchboard_portal::locale::day_of(y, m, 1);
    let start = switchboard_portal::overage::add_months(this_month, -12);
    let mut made = Vec::new();
    for (company, prefix, locations, count) in fleet {
        let mut list = Vec::new();
        for i in 0..count {
            let (maker, model, ..) = models[i % models.len()];
            list.push((
                format!("{prefix}{:05}", 40_000 + i * 37),
                format!("PAT-{:03}", i + 1),
                maker,
                model,
                locations[i % locations.len()],
            ));
        }
        let new: Vec<NewMachine> = list
            .iter()
            .enumerate()
            .map(|(i, (serial, tag, maker, model, location))| NewMachine {
                company_id: company,
                location: Some(location),
                maker: Some(maker),
                model,
                serial,
                asset_tag: Some(tag),
                installed_on: Some(start - 30),
                status: if prefix == "ACME" && i == 3 {
                    "down"
                } else {
                    "in_service"
                },
            })
            .collect();
        let machine_ids = store.add_machines(ids, &new).await?;
        seed_sites(state, company, prefix, &list, &machine_ids).await?;
        made.push((company, prefix, machine_ids));
    }
    for (company, prefix, machine_ids) in &made {
        for (i, id) in machine_ids.iter().enumerate() {
            let (.., colour, mono_month, colour_month) = models[i % models.len()];
            let mut mono = 20_000 + (i as i64) * 3_517;
            let mut col = 8_000 + (i as i64) * 1_211;
            for month in 0..=12 {
                // The last month of one machine was never read: it is estimated.
                if *prefix == "GLX" && i == 2 && month == 12 {
                    continue;
                }
                let day = switchboard_portal::overage::add_months(start, month) - 1;
                if day > today {
                    break;
                }
                // Volumes vary by month, busier at the year's end.
                let k = 85 + ((month * 7 + i as i64 * 3) % 30);
                mono += mono_month * k / 100;
                if colour {
                    col += colour_month * k / 100;
                }
                let key = format!("demo:{id}:{month}");
                store
                    .record_reading(
                        ids,
                        &NewReading {
                            machine_id: id,
                            day,
                            mono: Some(mono),
                            colour: colour.then_some(col),
                            scans: Some(mono / 5),
                            source: if month % 3 == 0 { "agent" } else { "portal" },
                            user_id: None,
                            photo: None,
                            key: &key,
                            confirmed: true,
                        },
                        |_| Ok(Vec::new()),
                    )
                    .await?;
            }
        }
        let contact = match *prefix {
            "ACME" => joao,
            "GLX" => carla.as_str(),
            _ => diego.as_str(),
        };
        let (period, pooling, fee, mono_included, colour_included) = match *prefix {
            "ACME" => ("monthly", "pooled", 89_000, 60_000, 6_000),
            "GLX" => ("quarterly", "per_machine", 240_000, 15_000, 3_000),
            _ => ("monthly", "pooled", 42_000, 15_000, 2_000),
        };
        let terms = serde_json::json!({
            "pooling": pooling,
            "tax_rate_bp": 0,
            "allowances": [
                {"counter": "mono", "included": mono_included, "tiers": [{"from": 0, "per_thousand": 3_500}, {"from": 20_000, "per_thousand": 2_800}]},
                {"counter": "colour", "included": colour_included, "tiers": [{"from": 0, "per_thousand": 29_000}]}
            ]
        })
        .to_string();
        let number = format!("CT-{prefix}-2025");
        let c = store
            .add_contract(
                ids,
                &NewContract {
                    company_id: company,
                    contact_id: contact,
                    number: &number,
                    period,
                    currency: "BRL",
                    fee,
                    terms: &terms,
                    start_day: start,
                    renewal_day: Some(switchboard_portal::overage::add_months(start, 24)),
                    end_day: None,
                    read_before: Some(3),
                },
            )
            .await?;
        for (i, id) in machine_ids.iter().enumerate() {
            store
                .attach_machine(&c.id, id, &format!("{}", i + 1), start)
                .await?;
        }
    }
    seed_visits(state, &made, today).await?;
    crate::kit::equipment::close_now(state, today)
        .await
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok(())
}

/// Each company's sites, with their addresses and coordinates, and its machines placed at
/// them by location; Acme has a branch with no coordinates yet.
async fn seed_sites(
    state: &AppState,
    company: &str,
    prefix: &str,
    machines: &[(String, String, &str, &str, &str)],
    machine_ids: &[String],
) -> anyhow::Result<()> {
    use switchboard_core::store::NewSite;
    // (site, address, (lat, lon) in millionths, the machine locations it holds)
    type SiteSeed = (
        &'static str,
        &'static str,
        Option<(i64, i64)>,
        &'static [&'static str],
    );
    let sites: &[SiteSeed] = match prefix {
        "ACME" => &[
            (
                "São Paulo (matriz)",
                "Av. Paulista, 1578 — Bela Vista, São Paulo",
                Some((-23_561_414, -46_655_881)),
                &["São Paulo · 2º andar", "São Paulo · Recepção"],
            ),
            (
                "Campinas (depósito)",
                "Rod. Anhanguera, km 104 — Campinas",
                Some((-22_873_500, -47_105_600)),
                &["Campinas · Depósito"],
            ),
            (
                "Santos (filial)",
                "Rua XV de Novembro, 95 — Centro, Santos",
                None,
                &[],
            ),
        ],
        "GLX" => &[
            (
                "Galpão Lapa",
                "Rua Guaicurus, 1200 — Lapa, São Paulo",
                Some((-23_522_519, -46_703_722)),
                &["Galpão 1"],
            ),
            (
                "Escritório central",
                "Rua Funchal, 418 — Vila Olímpia, São Paulo",
                Some((-23_593_700, -46_687_000)),
                &["Escritório central"],
            ),
        ],
        _ => &[(
            "Centro empresarial",
            "Av. Rio Branco, 156 — Centro, Rio de Janeiro",
            Some((-22_906_800, -43_177_100)),
            &["Sala 402"],
        )],
    };
    let new: Vec<NewSite> = sites
        .iter()
        .map(|(name, address, point, _)| NewSite {
            company_id: company,
            name,
            address: Some(address),
            point: *point,
        })
        .collect();
    let made = state.store.add_sites(&state.ids, &new).await?;
    for ((.., location), id) in machines.iter().zip(machine_ids) {
        if let Some(site) = sites
            .iter()
            .zip(&made)
            .find(|((.., holds), _)| holds.contains(location))
            .map(|(_, site)| site)
        {
            state
                .store
                .set_machine_site(&state.ids, id, Some(&site.id))
                .await?;
        }
    }
    Ok(())
}

/// A technician responsible for Acme's machines, with two finished visits (their
/// reports made on first download) and one booked for tomorrow at the machine that is
/// down.
async fn seed_visits(
    state: &AppState,
    fleet: &[(&str, &str, Vec<String>)],
    today: i64,
) -> anyhow::Result<()> {
    use switchboard_core::store::{NewVisit, VisitChange};
    let store = &state.store;
    let ids = &state.ids;
    let marcos = store
        .create_user(ids, TECHNICIAN, Some("Marcos Lima"), Role::Technician, None)
        .await?;
    let cal = crate::kit::visits::calendar(state);
    let at = |day: i64, minute: u16| {
        cal.local_instant(day, minute)
            .unwrap_or(day * 86_400_000 + i64::from(minute) * 60_000)
    };
    let Some((_, _, acme)) = fleet.iter().find(|(_, p, _)| *p == "ACME") else {
        return Ok(());
    };
    for id in acme {
        store
            .set_machine_technician(ids, id, Some(&marcos.id))
            .await?;
    }
    for (k, (machine, day, done)) in [
        (acme.first(), today - 20, true),
        (
            fleet
                .iter()
                .find(|(_, p, _)| *p == "GLX")
                .and_then(|f| f.2.get(1)),
            today - 60,
            true,
        ),
        (acme.get(3), today + 1, false),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(machine) = machine else { continue };
        let key = format!("demo-visit-{k}");
        let (v, _) = store
            .schedule_visit(
                ids,
                &NewVisit {
                    machine_id: machine,
                    conversation_id: None,
                    technician_id: &marcos.id,
                    window_from: at(day, 9 * 60),
                    window_to: at(day, 12 * 60),
                    key: &key,
                    created_by: None,
                },
            )
            .await?;
        if done {
            store
                .change_visit(ids, &v.id, None, |_| {
                    Ok(VisitChange {
                        status: "done".into(),
                        arrived_at: Some(at(day, 9 * 60 + 35)),
                        done_at: Some(at(day, 11 * 60 + 10)),
                        work_done: Some(
                            "Limpeza do caminho do papel, troca do rolo de alimentação da bandeja 2 e teste com 50 cópias.".into(),
                        ),
                        parts: Some(r#"[{"name":"Rolo de alimentação","quantity":1}]"#.into()),
                        signed_by: Some("João Silva".into()),
                        machine_status: Some("in_service".into()),
                        ..Default::default()
                    })
                })
                .await?;
            // Its survey: Acme's still waits on João's home; Globex answered it.
            let done = store.visit(&v.id).await?;
            crate::kit::surveys::after_visit(state, &done).await;
            if k == 1
                && let Some(s) = store.survey_by_subject(&format!("visit:{}", v.id)).await?
            {
                let answered = store
                    .answer_survey(
                        ids,
                        &s.token,
                        Some(5),
                        Some(9),
                        Some("O Marcos foi rápido e deixou tudo funcionando."),
                        |_| Ok(()),
                    )
                    .await?;
                crate::kit::surveys::answered(state, &answered).await;
            }
        }
    }
    Ok(())
}
