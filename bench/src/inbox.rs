//! The agent inbox at scale: seeds 100,000 conversations and 1,000,000 messages with bulk
//! multi-row INSERTs through the real schema (the store's triggers fill each list row's
//! activity and the full-text index as they do in production), then times the list's
//! queries as an agent's screen runs them.
//!
//! `cargo run --release -p switchboard-bench --bin inbox-bench -- --backend sqlite|postgres|all`
//! (`--quick` for a small smoke run). Results go to stdout; docs/BENCHMARKS.md keeps them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use switchboard_core::clock::{Ids, ManualClock};
use switchboard_core::domain::{Channel, Priority, Role, Status, Tier};
use switchboard_core::store::{Backend, Caller, ListFilter, ListQuery, SortBy, Store, View};

#[derive(Debug, Parser)]
struct Args {
    /// sqlite, postgres or all.
    #[arg(long, default_value = "all")]
    backend: String,
    #[arg(long, default_value_t = 100_000)]
    conversations: usize,
    #[arg(long, default_value_t = 1_000_000)]
    messages: usize,
    /// Percentage of conversations not resolved (open 60 %, pending 25 %, snoozed 15 % of
    /// them).
    #[arg(long, default_value_t = 20.0)]
    unresolved: f64,
    /// Timed runs of each query (after 10 untimed ones).
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// A small smoke run: 5,000 conversations, 50,000 messages, 30 runs.
    #[arg(long)]
    quick: bool,
    /// Skip ANALYZE after seeding (SQLite then plans without statistics).
    #[arg(long)]
    no_analyze: bool,
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pg: String,
    /// Keep the seeded databases (printed) to look at them afterwards.
    #[arg(long)]
    keep: bool,
}

/// A deterministic generator (SplitMix64): every run seeds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Words of support conversations in Portuguese, Spanish and English, most frequent first;
/// drawn with Zipf's law (the k-th word about 1/k as often as the first).
const VOCABULARY: &[&str] = &[
    "de",
    "the",
    "que",
    "a",
    "o",
    "to",
    "el",
    "e",
    "la",
    "and",
    "não",
    "is",
    "en",
    "my",
    "um",
    "para",
    "por",
    "i",
    "com",
    "it",
    "ação",
    "uma",
    "no",
    "los",
    "you",
    "se",
    "del",
    "we",
    "na",
    "please",
    "obrigado",
    "gracias",
    "thanks",
    "olá",
    "hola",
    "hello",
    "bom",
    "dia",
    "buenas",
    "preciso",
    "necesito",
    "need",
    "ajuda",
    "ayuda",
    "help",
    "fatura",
    "factura",
    "invoice",
    "boleto",
    "pago",
    "payment",
    "pagamento",
    "conta",
    "cuenta",
    "account",
    "pedido",
    "order",
    "entrega",
    "envío",
    "delivery",
    "atrasada",
    "retrasado",
    "late",
    "impressora",
    "impresora",
    "printer",
    "manutenção",
    "mantenimiento",
    "maintenance",
    "técnico",
    "technician",
    "visita",
    "visit",
    "contrato",
    "contract",
    "senha",
    "contraseña",
    "password",
    "cadastro",
    "registro",
    "signup",
    "cobrança",
    "cobro",
    "charge",
    "nota",
    "fiscal",
    "recibo",
    "receipt",
    "reembolso",
    "refund",
    "cancelar",
    "cancel",
    "cancelamento",
    "cancelación",
    "cancellation",
    "erro",
    "error",
    "problema",
    "problem",
    "issue",
    "sistema",
    "system",
    "acesso",
    "acceso",
    "access",
    "login",
    "aplicativo",
    "aplicación",
    "app",
    "site",
    "sitio",
    "website",
    "endereço",
    "dirección",
    "address",
    "telefone",
    "teléfono",
    "phone",
    "email",
    "correo",
    "mensagem",
    "mensaje",
    "message",
    "resposta",
    "respuesta",
    "answer",
    "urgente",
    "urgent",
    "hoje",
    "hoy",
    "today",
    "amanhã",
    "mañana",
    "tomorrow",
    "semana",
    "week",
    "mês",
    "mes",
    "month",
    "ano",
    "año",
    "year",
    "valor",
    "importe",
    "amount",
    "desconto",
    "descuento",
    "discount",
    "plano",
    "plan",
    "assinatura",
    "suscripción",
    "subscription",
    "produto",
    "producto",
    "product",
    "serviço",
    "servicio",
    "service",
    "máquina",
    "machine",
    "peça",
    "pieza",
    "part",
    "troca",
    "cambio",
    "exchange",
    "devolução",
    "devolución",
    "return",
    "garantia",
    "garantía",
    "warranty",
    "leitura",
    "lectura",
    "reading",
    "medidor",
    "meter",
    "consumo",
    "consumption",
    "toner",
    "papel",
    "paper",
    "atolamento",
    "atasco",
    "jam",
    "rede",
    "red",
    "network",
    "configuração",
    "configuración",
    "settings",
    "atualização",
    "actualización",
    "update",
    "relatório",
    "informe",
    "report",
    "agendamento",
    "cita",
    "appointment",
    "horário",
    "horario",
    "schedule",
    "confirmação",
    "confirmación",
    "confirmation",
    "dúvida",
    "duda",
    "question",
    "reclamação",
    "reclamo",
    "complaint",
    "elogio",
    "praise",
    "café",
    "coffee",
    "naïve",
    "résumé",
    "façade",
    "coração",
    "corazón",
    "niño",
    "señal",
    "sinal",
    "signal",
    "João",
    "José",
    "María",
    "Conceição",
    "Muñoz",
];

/// The word searched as "common" (every accent dropped: the index must fold them).
const COMMON_QUERY: &str = "acao";
/// A word of middling frequency.
const MEDIUM_QUERY: &str = "garantia";
/// A word put into 30 messages only.
const RARE_WORD: &str = "xilofone";

const FIRST_NAMES: &[&str] = &[
    "João",
    "José",
    "Antônio",
    "Francisco",
    "Ana",
    "Maria",
    "Conceição",
    "Luís",
    "Sebastião",
    "Inês",
    "Fátima",
    "Lúcia",
    "Begoña",
    "Íñigo",
    "Ramón",
    "Sofía",
    "Martín",
    "Lucía",
    "Zoë",
    "Chloé",
    "Noël",
    "Renée",
    "Olivia",
    "James",
    "Emma",
    "Liam",
    "Noah",
    "Ava",
    "Pedro",
    "Paula",
];
const LAST_NAMES: &[&str] = &[
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Conceição",
    "Gonçalves",
    "Araújo",
    "Lopes",
    "Muñoz",
    "García",
    "Martínez",
    "Rodríguez",
    "Fernández",
    "Pérez",
    "Gómez",
    "Núñez",
    "Peña",
    "Smith",
    "Johnson",
    "Brown",
    "Williams",
    "Jones",
    "Müller",
    "Brontë",
    "Zoë",
    "Castro",
];
const TEAMS: &[&str] = &["billing", "support", "sales", "onboarding", "field"];
const LABELS: &[&str] = &[
    "billing",
    "vip",
    "bug",
    "refund",
    "printer",
    "contract",
    "onboarding",
    "feedback",
    "shipping",
    "invoice",
    "churn-risk",
    "warranty",
];

/// ASCII, lower case, for addresses made from names.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'Á' => 'a',
            'é' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'ô' | 'õ' => 'o',
            'ú' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c.to_ascii_lowercase(),
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// A bind value of a bulk INSERT.
#[derive(Debug, Clone)]
enum V {
    T(String),
    O(Option<String>),
    I(i64),
}

/// Rows inserted in multi-row statements of up to 30,000 binds, committed every
/// `per_tx` rows. On SQLite the binds are anonymous (`?`): SQLite finds a numbered one
/// (`$n`) by walking the statement's list of names, so binding 30,000 of them by number
/// takes quadratic time.
async fn insert(store: &Store, head: &str, rows: &[Vec<V>], per_tx: usize) -> anyhow::Result<()> {
    let numbered = store.backend() == Backend::Postgres;
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(());
    };
    let per_statement = (30_000 / width).max(1);
    for tx_rows in rows.chunks(per_tx.max(per_statement)) {
        let mut tx = store.begin_write().await?;
        for chunk in tx_rows.chunks(per_statement) {
            let mut sql = format!("{head} VALUES ");
            let mut n = 0;
            for (r, row) in chunk.iter().enumerate() {
                if r > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..row.len() {
                    if c > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    if numbered {
                        sql.push_str(&format!("${n}"));
                    } else {
                        sql.push('?');
                    }
                }
                sql.push(')');
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                for v in row {
                    q = match v {
                        V::T(s) => q.bind(s.as_str()),
                        V::O(s) => q.bind(s.as_deref()),
                        V::I(i) => q.bind(*i),
                    };
                }
            }
            q.execute(&mut **tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Who the timed queries run as.
struct Seeded {
    admin: Caller,
    agent: Caller,
    coordinator: Caller,
    seconds: f64,
}

const DAY_MS: i64 = 86_400_000;

async fn seed(store: &Store, args: &Args, now: i64) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let clock = Arc::new(ManualClock::new(now));
    let ids = Ids::new(clock);
    let mut rng = Rng(0x5EED);

    // People: 20 support agents (the first, whom the timed queries run as, works at N2
    // in billing and support), an admin, a coordinator of 5 companies.
    let admin = store
        .create_user(&ids, "admin@bench.example", None, Role::Admin, None)
        .await?;
    let mut agents = Vec::new();
    for i in 0..20 {
        let tier = [Tier::N2, Tier::N1, Tier::N1, Tier::N3, Tier::N2][i % 5];
        let user = store
            .create_user(
                &ids,
                &format!("agent{i}@bench.example"),
                None,
                Role::Support,
                Some(tier),
            )
            .await?;
        if i == 0 {
            store.add_user_team(&user.id, "billing").await?;
            store.add_user_team(&user.id, "support").await?;
        } else {
            store
                .add_user_team(&user.id, TEAMS[i % TEAMS.len()])
                .await?;
        }
        agents.push(user);
    }
    let coordinator = store
        .create_user(&ids, "coord@bench.example", None, Role::Coordinator, None)
        .await?;

    let companies: Vec<String> = (0..200).map(|_| ids.new_id()).collect();
    let rows: Vec<Vec<V>> = companies
        .iter()
        .enumerate()
        .map(|(i, id)| {
            vec![
                V::T(id.clone()),
                V::T(format!("Company {i}")),
                V::I(now - 400 * DAY_MS),
            ]
        })
        .collect();
    insert(
        store,
        "INSERT INTO companies (id, name, created_at)",
        &rows,
        10_000,
    )
    .await?;
    for c in companies.iter().take(5) {
        store.add_user_company(&coordinator.id, c).await?;
    }

    // Contacts: 70% of conversations' count, 70% of them in a company, each with an
    // email address and 40% with a WhatsApp number.
    let n_contacts = (args.conversations * 7 / 10).max(1);
    let mut contacts = Vec::with_capacity(n_contacts);
    let mut contact_rows = Vec::with_capacity(n_contacts);
    let mut identity_rows = Vec::new();
    for i in 0..n_contacts {
        let id = ids.new_id();
        let (first, last) = (*rng.pick(FIRST_NAMES), *rng.pick(LAST_NAMES));
        let company = rng.chance(0.7).then(|| rng.pick(&companies).clone());
        contact_rows.push(vec![
            V::T(id.clone()),
            V::T(format!("{first} {last}")),
            V::O(company.clone()),
            V::I(now - 400 * DAY_MS),
        ]);
        identity_rows.push(vec![
            V::T("email".into()),
            V::T(format!("{}.{}.{i}@mail.example", plain(first), plain(last))),
            V::T(id.clone()),
            V::I(now - 400 * DAY_MS),
        ]);
        if rng.chance(0.4) {
            identity_rows.push(vec![
                V::T("whatsapp".into()),
                V::T(format!("55119{:08}", i)),
                V::T(id.clone()),
                V::I(now - 400 * DAY_MS),
            ]);
        }
        contacts.push((id, company));
    }
    insert(
        store,
        "INSERT INTO contacts (id, name, company_id, created_at)",
        &contact_rows,
        50_000,
    )
    .await?;
    insert(
        store,
        "INSERT INTO contact_identities (kind, value, contact_id, created_at)",
        &identity_rows,
        50_000,
    )
    .await?;
    drop((contact_rows, identity_rows));
    println!(
        "  seeded {} contacts in {:.1} s",
        n_contacts,
        started.elapsed().as_secs_f64()
    );

    // Messages per conversation: 1 to 19, adjusted to the total asked for.
    let n = args.conversations;
    let mut per: Vec<usize> = (0..n).map(|_| 1 + rng.below(19)).collect();
    let mut total: usize = per.iter().sum();
    while total < args.messages {
        let i = rng.below(n);
        per[i] += 1;
        total += 1;
    }
    while total > args.messages.max(n) {
        let i = rng.below(n);
        if per[i] > 1 {
            per[i] -= 1;
            total -= 1;
        }
    }

    // Zipf weights of the vocabulary, cumulated.
    let mut cumulative = Vec::with_capacity(VOCABULARY.len());
    let mut acc = 0.0;
    for k in 0..VOCABULARY.len() {
        acc += 1.0 / (k as f64 + 1.0);
        cumulative.push(acc);
    }
    let mut message_no: usize = 0;
    let word = |rng: &mut Rng| -> &'static str {
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * acc;
        let k = cumulative.partition_point(|&c| c < x);
        VOCABULARY[k.min(VOCABULARY.len() - 1)]
    };

    let unresolved = args.unresolved.clamp(0.0, 100.0) / 100.0;
    let statuses = [
        (Status::Open, unresolved * 0.6),
        (Status::Pending, unresolved * 0.25),
        (Status::Snoozed, unresolved * 0.15),
        (Status::Resolved, 1.0 - unresolved),
    ];
    let priorities = [
        (Priority::None, 0.60),
        (Priority::Low, 0.15),
        (Priority::Medium, 0.12),
        (Priority::High, 0.10),
        (Priority::Urgent, 0.03),
    ];
    let weighted = |rng: &mut Rng, choices: &[(Status, f64)]| -> Status {
        let mut x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        for (s, p) in choices {
            if x < *p {
                return *s;
            }
            x -= p;
        }
        choices[choices.len() - 1].0
    };
    let weighted_p = |rng: &mut Rng| -> Priority {
        let mut x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        for (s, p) in &priorities {
            if x < *p {
                return *s;
            }
            x -= p;
        }
        Priority::None
    };

    let mut conversation_ids: Vec<String> = Vec::with_capacity(n);
    let mut reads: Vec<Vec<V>> = Vec::new();
    let batch = 5_000;
    let mut number = 1000i64;
    for start in (0..n).step_by(batch) {
        let end = (start + batch).min(n);
        let mut conv_rows = Vec::with_capacity(end - start);
        let mut msg_rows = Vec::new();
        for (i, count) in per.iter().enumerate().take(end).skip(start) {
            let id = ids.new_id();
            number += 1;
            let (contact, company) = &contacts[i % contacts.len()];
            let channel = match rng.below(20) {
                0..=5 => Channel::Email,
                6..=12 => Channel::Whatsapp,
                13..=18 => Channel::Webchat,
                _ => Channel::Portal,
            };
            let status = weighted(&mut rng, &statuses);
            let tier = [
                Tier::N1,
                Tier::N1,
                Tier::N1,
                Tier::N1,
                Tier::N1,
                Tier::N1,
                Tier::N1,
                Tier::N2,
                Tier::N2,
                Tier::N3,
            ][rng.below(10)];
            let team = rng.chance(0.8).then(|| (*rng.pick(TEAMS)).to_owned());
            let assignee = rng.chance(0.5).then(|| rng.pick(&agents).id.clone());
            let mut labels: Vec<&str> = Vec::new();
            for _ in 0..rng.below(3) {
                let l = if rng.chance(0.3) {
                    "billing"
                } else {
                    *rng.pick(LABELS)
                };
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            labels.sort_unstable();
            let subject = (channel == Channel::Email).then(|| {
                (0..3 + rng.below(4))
                    .map(|_| word(&mut rng))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            // Messages over the last 90 days, minutes to hours apart.
            let mut t = now - 90 * DAY_MS + i64::try_from(rng.below(88 * 86_400))? * 1000;
            let created = t;
            for k in 0..*count {
                let author = if k == 0 {
                    "contact"
                } else {
                    match rng.below(50) {
                        0..=24 => "contact",
                        25..=43 => "agent",
                        44..=48 => "bot",
                        _ => "system",
                    }
                };
                let mut text: Vec<&str> = (0..8 + rng.below(22)).map(|_| word(&mut rng)).collect();
                message_no += 1;
                if message_no % (args.messages / 30).max(1) == 7 {
                    text.push(RARE_WORD);
                }
                let text = text.join(" ");
                let mid = ids.new_id();
                let inbound = author == "contact";
                msg_rows.push((
                    k,
                    vec![
                        V::T(mid.clone()),
                        V::T(id.clone()),
                        V::T(if inbound { "inbound" } else { "outbound" }.into()),
                        V::T(author.into()),
                        V::O(match author {
                            "contact" => Some(contact.clone()),
                            "agent" => Some(rng.pick(&agents).id.clone()),
                            _ => None,
                        }),
                        V::T(channel.as_str().into()),
                        V::T(text),
                        V::T("[]".into()),
                        V::T(if inbound { "received" } else { "delivered" }.into()),
                        V::O(inbound.then(|| format!("e{mid}"))),
                        V::O(inbound.then(|| format!("{}:e{mid}", channel.as_str()))),
                        V::I(0),
                        V::I(t),
                        V::I(t),
                    ],
                ));
                if k + 1 < *count {
                    t += 60_000 * i64::try_from(1 + rng.below(180))?;
                }
            }
            conv_rows.push(vec![
                V::T(id.clone()),
                V::I(number),
                V::T(format!("{}:main", channel.as_str())),
                V::T(channel.as_str().into()),
                V::T(contact.clone()),
                V::O(company.clone()),
                V::T(format!("t{i}")),
                V::O(subject),
                V::T(status.as_str().into()),
                V::T(weighted_p(&mut rng).as_str().into()),
                V::T(tier.as_str().into()),
                V::O(assignee),
                V::O(team),
                V::T(serde_json::to_string(&labels)?),
                V::I(i64::from(status != Status::Resolved && rng.chance(0.2))),
                V::I(created),
                V::I(t),
                V::I(t),
            ]);
            // Half the conversations were opened by the agent and the admin since.
            for user in [&agents[0].id, &admin.id] {
                if rng.chance(0.5) {
                    reads.push(vec![
                        V::T(user.clone()),
                        V::T(id.clone()),
                        V::I(t - i64::try_from(rng.below(2))? * 3_600_000),
                    ]);
                }
            }
            conversation_ids.push(id);
        }
        insert(
            store,
            "INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, thread_key, subject, status, priority, tier, assignee_id, team, labels, bot_active, created_at, updated_at, last_message_at)",
            &conv_rows,
            50_000,
        )
        .await?;
        // Each conversation's first messages, then their second ones, and so on: as the
        // router stores them, a statement holds one message of many conversations (on
        // PostgreSQL a statement adds one search row per conversation).
        msg_rows.sort_by_key(|(k, _)| *k);
        let msg_rows: Vec<Vec<V>> = msg_rows.into_iter().map(|(_, r)| r).collect();
        insert(
            store,
            "INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel, text, attachments, delivery_state, external_id, idempotency_key, attempts, created_at, updated_at)",
            &msg_rows,
            20_000,
        )
        .await?;
        if end % 20_000 == 0 || end == n {
            println!(
                "  seeded {end} conversations, {message_no} messages in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    insert(
        store,
        "INSERT INTO conversation_reads (user_id, conversation_id, read_at)",
        &reads,
        50_000,
    )
    .await?;
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'conversation_number'")
        .bind(number)
        .execute(store.pool())
        .await?;
    if !args.no_analyze {
        let sql = match store.backend() {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "VACUUM ANALYZE",
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Seeded {
        admin: store.caller(&admin).await?,
        agent: store.caller(&agents[0]).await?,
        coordinator: store.caller(&coordinator).await?,
        seconds,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Times `f` `runs` times after 10 untimed runs; prints and returns p50/p95/p99 in ms and
/// the rows the last run gave.
async fn time<F, Fut>(name: &str, runs: usize, mut f: F) -> anyhow::Result<serde_json::Value>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    let mut rows = 0;
    for _ in 0..10 {
        rows = f().await?;
    }
    let mut took = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        rows = f().await?;
        took.push(t.elapsed());
    }
    took.sort();
    let (p50, p95, p99) = (
        percentile(&took, 50.0),
        percentile(&took, 95.0),
        percentile(&took, 99.0),
    );
    println!("  {name:<58} p50 {p50:>7.2} ms  p95 {p95:>7.2} ms  p99 {p99:>7.2} ms  ({rows} rows)");
    Ok(serde_json::json!({"name": name, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "rows": rows}))
}

async fn measure(
    store: &Store,
    who: &Seeded,
    runs: usize,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    let page = |caller: &Caller, q: ListQuery| {
        let (store, caller) = (store.clone(), caller.clone());
        move || {
            let (store, caller, q) = (store.clone(), caller.clone(), q.clone());
            async move { Ok(store.inbox_list(&caller, &q).await?.items.len()) }
        }
    };
    let filtered = ListFilter {
        statuses: vec![Status::Open],
        channel: Some(Channel::Whatsapp),
        label: Some("billing".into()),
        ..ListFilter::default()
    };
    let search = |text: &str| ListQuery {
        filter: ListFilter {
            search: Some(text.into()),
            ..ListFilter::default()
        },
        ..ListQuery::new(View::All)
    };
    for (who_name, caller) in [("agent", &who.agent), ("admin", &who.admin)] {
        out.push(
            time(
                &format!("first page, All ({who_name})"),
                runs,
                page(caller, ListQuery::new(View::All)),
            )
            .await?,
        );
        out.push(
            time(
                &format!("first page, Mine ({who_name})"),
                runs,
                page(caller, ListQuery::new(View::Mine)),
            )
            .await?,
        );
        out.push(
            time(
                &format!("filtered page: open + WhatsApp + label ({who_name})"),
                runs,
                page(
                    caller,
                    ListQuery {
                        filter: filtered.clone(),
                        ..ListQuery::new(View::All)
                    },
                ),
            )
            .await?,
        );
        // Page 5: the cursor the first four pages lead to.
        let mut q = ListQuery::new(View::All);
        for _ in 0..4 {
            q.after = store.inbox_list(caller, &q).await?.next;
        }
        out.push(
            time(
                &format!("page 5 via cursor, All ({who_name})"),
                runs,
                page(caller, q),
            )
            .await?,
        );
        out.push(
            time(
                &format!("first page by waiting time ({who_name})"),
                runs,
                page(
                    caller,
                    ListQuery {
                        sort: SortBy::Waiting,
                        ..ListQuery::new(View::All)
                    },
                ),
            )
            .await?,
        );
        out.push(
            time(
                &format!("first page by priority ({who_name})"),
                runs,
                page(
                    caller,
                    ListQuery {
                        sort: SortBy::Priority,
                        ..ListQuery::new(View::All)
                    },
                ),
            )
            .await?,
        );
        out.push(
            time(
                &format!("first page, team billing ({who_name})"),
                runs,
                page(caller, ListQuery::new(View::Team("billing".into()))),
            )
            .await?,
        );
        for (kind, word) in [
            ("common", COMMON_QUERY),
            ("middling", MEDIUM_QUERY),
            ("rare", RARE_WORD),
        ] {
            out.push(
                time(
                    &format!("search, {kind} word {word:?} ({who_name})"),
                    runs,
                    page(caller, search(word)),
                )
                .await?,
            );
        }
        out.push(
            time(
                &format!("search, name + word \"silva fatura\" ({who_name})"),
                runs,
                page(caller, search("silva fatura")),
            )
            .await?,
        );
        // The badges from the tallies (what the pages read), and the same counted from
        // the conversations, as they were before migration 39; both must agree.
        anyhow::ensure!(
            store.inbox_counts(caller).await? == store.inbox_counts_recounted(caller).await?,
            "the view tallies disagree with a recount ({who_name})"
        );
        let (s, c) = (store.clone(), caller.clone());
        out.push(
            time(
                &format!("counts of every view ({who_name})"),
                runs,
                move || {
                    let (s, c) = (s.clone(), c.clone());
                    async move { Ok(s.inbox_counts(&c).await?.len()) }
                },
            )
            .await?,
        );
        let (s, c) = (store.clone(), caller.clone());
        out.push(
            time(
                &format!("counts of every view, recounted ({who_name})"),
                runs,
                move || {
                    let (s, c) = (s.clone(), c.clone());
                    async move { Ok(s.inbox_counts_recounted(&c).await?.len()) }
                },
            )
            .await?,
        );
        let (s, c) = (store.clone(), caller.clone());
        out.push(
            time(
                &format!("contacts named \"munoz\" ({who_name})"),
                runs,
                move || {
                    let (s, c) = (s.clone(), c.clone());
                    async move { Ok(s.search_contacts(&c, "munoz", 20).await?.len()) }
                },
            )
            .await?,
        );
    }
    out.push(
        time(
            "first page, All (coordinator of 5 companies)",
            runs,
            page(&who.coordinator, ListQuery::new(View::All)),
        )
        .await?,
    );
    Ok(out)
}

async fn run(store: &Store, args: &Args, name: &str) -> anyhow::Result<serde_json::Value> {
    println!("{name}");
    let now = 1_760_000_000_000;
    store.migrate(now).await?;
    let seeded = seed(store, args, now).await?;
    println!(
        "  seeded {} conversations and {} messages in {:.1} s",
        args.conversations, args.messages, seeded.seconds
    );
    // What the dispatcher's housekeeping does on a running node.
    let folded = store.fold_inbox_tallies().await?;
    println!("  view tallies: {folded} rows folded");
    let mut unfolded = Vec::new();
    let mut fold_seconds = 0.0;
    if store.backend() == Backend::Postgres {
        // Searches as right after a burst, every thread's words still in a words row per
        // statement; then the housekeeping's fold of them all (migration 40), timed.
        unfolded = measure_searches(store, &seeded.agent, args.runs.div_ceil(4).max(5)).await?;
        let started = Instant::now();
        let mut conversations = 0;
        loop {
            let n = store.fold_search_words((1 << 48) - 1, 2000).await?;
            if n == 0 {
                break;
            }
            conversations += n;
        }
        fold_seconds = started.elapsed().as_secs_f64();
        println!("  search words: {conversations} conversations folded in {fold_seconds:.1} s");
        if !args.no_analyze {
            sqlx::raw_sql("VACUUM ANALYZE")
                .execute(store.pool())
                .await?;
        }
    }
    let results = measure(store, &seeded, args.runs).await?;
    Ok(serde_json::json!({
        "seed_seconds": seeded.seconds,
        "fold_seconds": fold_seconds,
        "searches_before_fold": unfolded,
        "queries": results,
    }))
}

/// The support agent's four searches, each named as not yet folded.
async fn measure_searches(
    store: &Store,
    agent: &Caller,
    runs: usize,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    for text in [COMMON_QUERY, MEDIUM_QUERY, RARE_WORD, "silva fatura"] {
        let q = ListQuery {
            filter: ListFilter {
                search: Some(text.into()),
                ..ListFilter::default()
            },
            ..ListQuery::new(View::All)
        };
        out.push(
            time(
                &format!("search {text:?} (agent), words not folded"),
                runs,
                || {
                    let (store, agent, q) = (store.clone(), agent.clone(), q.clone());
                    async move { Ok(store.inbox_list(&agent, &q).await?.items.len()) }
                },
            )
            .await?,
        );
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.conversations = args.conversations.min(5_000);
        args.messages = args.messages.min(50_000);
        args.runs = args.runs.min(30);
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "inbox-bench: {} conversations, {} messages, {} timed runs per query, page size 50, {cores} cores",
        args.conversations, args.messages, args.runs
    );
    let mut report = serde_json::Map::new();
    if matches!(args.backend.as_str(), "sqlite" | "all") {
        let dir = tempfile::tempdir()?;
        let store = Store::connect(&Store::sqlite_url(dir.path())).await?;
        let r = run(&store, &args, "SQLite").await?;
        let size = std::fs::metadata(dir.path().join("switchboard.db"))?.len();
        println!("  database file: {} MB", size / 1_000_000);
        report.insert("sqlite".into(), r);
        store.close().await;
        if args.keep {
            println!("  kept: {}", dir.keep().join("switchboard.db").display());
        }
    }
    if matches!(args.backend.as_str(), "postgres" | "all") {
        let name = format!("sb_inbox_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&args.pg).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(admin.pool())
            .await?;
        let base = args
            .pg
            .rsplit_once('/')
            .map_or(args.pg.as_str(), |(b, _)| b);
        let store = Store::connect(&format!("{base}/{name}")).await?;
        let r = run(&store, &args, "PostgreSQL").await;
        let size: Option<i64> = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(store.pool())
            .await
            .ok();
        store.close().await;
        if args.keep {
            println!("  kept: {base}/{name}");
        } else {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(admin.pool())
            .await?;
        }
        if let Some(size) = size {
            println!("  database size: {} MB", size / 1_000_000);
        }
        report.insert("postgres".into(), r?);
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}
