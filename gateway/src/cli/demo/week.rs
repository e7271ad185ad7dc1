//! The demo's week: a hundred conversations of an equipment-service business's last seven
//! days, as its clients write them (Portuguese, Spanish and English; accents missing,
//! slang, several sentences), on web chat, email, WhatsApp and portal tickets, left in
//! every state (open, waiting on the client, resolved, some taken by Ana), so the inbox,
//! the dashboard and the reports are full from the first minute.

use switchboard_core::Result;
use switchboard_core::changes::Change;
use switchboard_core::domain::{Channel, Envelope, Identity, IdentityKind, Status};
use switchboard_core::store::{FirstMessage, IngestOutcome, NewTicket};

use crate::kit::AppState;

/// How many conversations the week holds.
pub const WEEK_CONVERSATIONS: usize = 100;

/// The clients who write: fifty people (ten first names, five families), a third of them
/// of the demo's client company, the others walk-in customers; each writes twice in the
/// week, on two different channels.
const FIRST: &[&str] = &[
    "Fernanda",
    "Ricardo",
    "Lucía",
    "Tom",
    "Patrícia",
    "Jorge",
    "Camila",
    "Miguel",
    "Beatriz",
    "Sarah",
];
const FAMILY: &[(&str, &str)] = &[
    ("Costa", "grafica-costa.example"),
    ("Ramírez", "despacho-ramirez.example"),
    ("Lima", "clinica-lima.example"),
    ("Becker", "becker-law.example"),
    ("Ortega", "colegio-ortega.example"),
];
const PEOPLE: usize = 50;

/// The `p`th client: name, address, WhatsApp number, and whether of the client company.
fn person(p: usize) -> (String, String, String, bool) {
    let first = FIRST[p % FIRST.len()];
    let (family, domain) = FAMILY[(p / FIRST.len()) % FAMILY.len()];
    let plain = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                'á' | 'à' | 'ã' => 'a',
                'í' => 'i',
                'é' => 'e',
                'ó' => 'o',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    (
        format!("{first} {family}"),
        format!("{}.{}@{domain}", plain(first), plain(family)),
        format!("55119870{p:05}"),
        p.is_multiple_of(3),
    )
}

/// What they write, as they write it.
const TEXTS: &[&str] = &[
    "Bom dia! A impressora do 2o andar ta dando atolamento de papel toda hora, ja tirei o papel mas volta. Alguem pode vir ver hj?",
    "oi, preciso da 2a via do boleto de outubro, nao chegou no email",
    "Hola, la copiadora marca error SC542 desde esta mañana y no imprime nada. Necesitamos un tecnico urgente",
    "Hi, our printer shows 'Toner low' but we just replaced the cartridge yesterday. Is the chip faulty?",
    "Boa tarde, segue a leitura do contador da ric-1001: 45.230 paginas pb",
    "buenas, cuanto cuesta agregar una maquina mas al contrato? somos 3 oficinas ahora",
    "Hello, can you send me the invoice for last month as PDF? Our accountant needs it by Friday.",
    "vcs tem toner da MP 2014 em estoque? o nosso acabou e to com relatorio pra imprimir hj",
    "Hola! Cambiamos de direccion de facturacion, ¿donde lo actualizo? La nueva es Av. Reforma 222.",
    "The scanner sends emails with the wrong sender address since the weekend. Nothing changed on our side.",
    "Oi, a maquina da recepcao ta fazendo um barulho estranho quando puxa o papel, tipo um estalo",
    "Necesito la factura de septiembre con otro RFC, la que llego tiene el de la empresa anterior",
    "We were charged for 12,000 extra pages this month but our meter shows much less. Please check.",
    "Bom dia, quero falar com uma pessoa sobre o contrato, o bot nao ta entendendo",
    "hola q tal, la impresora no aparece en la red despues del corte de luz de ayer",
    "Hi there, the technician was supposed to come today between 9 and 12 and nobody showed up.",
    "Ola, pagamos a fatura pelo pix ontem mas ainda aparece como em aberto no portal",
    "La multifuncional imprime con rayas negras en todas las hojas, ya limpie el vidrio",
    "Good morning, we need a quote for a colour machine for our new office in Austin.",
    "Prezados, o contrato vence mes que vem. Gostariamos de renovar com uma maquina mais rapida.",
    "hola, el tecnico dejo la maquina funcionando pero hoy volvio el mismo error E-302",
    "Can someone explain the overage line on invoice INV-2026? We don't understand how it's calculated.",
    "Oi! Como faço pra cadastrar outro usuario no portal? A minha colega tambem precisa ver as faturas",
    "Buenos dias, ¿me pueden mandar el reporte de la visita del martes? No lo encuentro.",
    "The paper tray 2 isn't recognised anymore, the panel says 'tray missing' even when it's in.",
    "A impressora ta pedindo senha pra imprimir e ninguem aqui sabe qual e, socorro",
    "Tenemos que cambiar el correo donde llegan las facturas, ahora es pagos@despacho-ramirez.example",
    "Hi, is it possible to move our monthly reading date to the 25th? We close our books then.",
    "boa tarde, o papel sai amassado no final, parece que ta enrolando no fusor",
    "Hola, ya mande la lectura del contador por WhatsApp pero el portal dice que falta",
    "Hello, please cancel the visit booked for Thursday, the issue solved itself after a restart.",
    "Obrigado pelo atendimento de ontem, o tecnico foi super atencioso!",
];

/// How each of the hundred was left: most open or resolved, some waiting on the client,
/// some taken by the demo's agent.
fn outcome(i: usize) -> (Option<Status>, bool) {
    match i % 10 {
        0..=3 => (Some(Status::Resolved), true),
        4 => (Some(Status::Pending), true),
        5 | 6 => (None, true),
        _ => (None, false),
    }
}

/// Seeds the week once (a fresh data dir): the conversations, their contacts (filed under
/// the client company when they are its people), and what agents did with them.
pub async fn seed(
    state: &AppState,
    admin: &switchboard_core::store::Caller,
    company: &str,
    agent_id: &str,
) -> Result<usize> {
    let store = &state.store;
    let ids = &state.ids;
    let now = ids.now_ms();
    let week_ms = 7 * 24 * 3_600_000_i64;
    let mut made = 0;
    let mut resolved = Vec::new();
    for i in 0..WEEK_CONVERSATIONS {
        let (name, email, phone, of_company) = person(i % PEOPLE);
        let (name, email, phone) = (name.as_str(), email.as_str(), phone.as_str());
        let text = TEXTS[(i * 7 + i / PEOPLE) % TEXTS.len()];
        let at = now - week_ms + week_ms * i64::try_from(i).unwrap_or(0) / 100;
        let key = format!("demo-week-{i}");
        // First chat, mail or WhatsApp; the second time another of them, or (every other
        // client) a ticket on the portal their first message gave them.
        let p = i % PEOPLE;
        let mut lane = if i < PEOPLE {
            p % 3
        } else if p.is_multiple_of(2) {
            3
        } else {
            (p % 3 + 1) % 3
        };
        let scope = if lane == 3 {
            let visitor = format!("demo-week-visitor-{p}");
            let known = [
                Identity::email(email)?,
                Identity::whatsapp(phone)?,
                Identity::new(IdentityKind::Visitor, &visitor)?,
            ];
            portal_scope(state, email, &known, of_company.then_some(company)).await?
        } else {
            None
        };
        if lane == 3 && scope.is_none() {
            // No portal yet for someone who never wrote: they write by mail first.
            lane = 1;
        }
        let conversation = match (lane, scope) {
            (3, Some(scope)) => {
                let subject: String = text.chars().take(60).collect();
                let billing = ["fatura", "invoice", "factura", "boleto"]
                    .iter()
                    .any(|w| text.contains(w));
                let opened = store
                    .open_ticket(
                        ids,
                        &scope,
                        &NewTicket {
                            inbox: "portal",
                            channel: Channel::Portal,
                            subject: &subject,
                            category: if billing { "billing" } else { "technical" },
                            client_key: &key,
                            first: Some(FirstMessage {
                                text,
                                attachments: &[],
                            }),
                        },
                    )
                    .await?;
                opened.1.id
            }
            (n, _) => {
                let whatsapp = Identity::whatsapp(phone).ok().filter(|_| n == 2);
                let (channel, inbox, from) = match (n, whatsapp) {
                    (0, _) => (
                        Channel::Webchat,
                        state.config.webchat.inbox.clone(),
                        Identity::new(
                            IdentityKind::Visitor,
                            &format!("demo-week-visitor-{}", i % PEOPLE),
                        )?,
                    ),
                    (_, Some(number)) => (Channel::Whatsapp, "whatsapp:demo".to_owned(), number),
                    _ => (
                        Channel::Email,
                        "email:support".to_owned(),
                        Identity::email(email)?,
                    ),
                };
                let mut e = Envelope::new(ids.new_id(), channel, &inbox, &key, from, text, at);
                e.sender_name = Some(name.to_owned());
                if channel == Channel::Email {
                    e.subject = Some(text.chars().take(50).collect());
                } else {
                    // The chat's and WhatsApp's people left their address too.
                    e.extra_identities = vec![Identity::email(email)?];
                }
                let mut id = None;
                for outcome in store.ingest_batch(&[e]).await? {
                    if let IngestOutcome::Stored(s) = outcome {
                        if of_company {
                            store.set_contact_company(&s.contact_id, company).await?;
                        }
                        id = Some(s.conversation.id.clone());
                    }
                }
                match id {
                    Some(id) => id,
                    None => continue,
                }
            }
        };
        made += 1;
        let (status, taken) = outcome(i);
        if taken {
            state
                .workflow
                .change(
                    admin,
                    &conversation,
                    &Change::Assignee(Some(agent_id.to_owned())),
                    None,
                )
                .await?;
        }
        if let Some(status) = status {
            state
                .workflow
                .change(admin, &conversation, &Change::Status(status), None)
                .await?;
            if status == Status::Resolved {
                resolved.push(conversation);
            }
        }
    }
    answer_surveys(state, &resolved).await?;
    Ok(made)
}

/// Two of every three clients whose request was resolved have answered its survey, as
/// clients answer (mostly content, a few not); the others' surveys are still waiting.
async fn answer_surveys(state: &AppState, resolved: &[String]) -> Result<()> {
    const ANSWERS: &[(i64, i64, &str)] = &[
        (5, 10, "Resolveram rapidinho, obrigado!"),
        (4, 9, ""),
        (5, 9, "Muy amable el técnico."),
        (3, 7, "Took two days to get an answer."),
        (5, 10, ""),
        (2, 4, "Tive que explicar o problema tres vezes."),
        (4, 8, "Todo bien."),
        (5, 9, ""),
    ];
    let mut n = 0;
    for (i, conversation) in resolved.iter().enumerate() {
        if i % 3 == 2 {
            continue;
        }
        let Some(survey) = state
            .store
            .survey_by_subject(&format!("conversation:{conversation}"))
            .await?
        else {
            continue;
        };
        let (csat, nps, comment) = ANSWERS[n % ANSWERS.len()];
        n += 1;
        let answered = state
            .store
            .answer_survey(
                &state.ids,
                &survey.token,
                Some(csat),
                Some(nps),
                Some(comment).filter(|c| !c.is_empty()),
                |_| Ok(()),
            )
            .await?;
        crate::kit::surveys::answered(state, &answered).await;
    }
    Ok(())
}

/// A portal user for a week's client, found by the identities their first message left
/// (made as a sign-in link to their address would make it), in the company when it is one
/// of its people.
async fn portal_scope(
    state: &AppState,
    email: &str,
    known: &[Identity],
    company: Option<&str>,
) -> Result<Option<switchboard_core::store::ClientScope>> {
    let store = &state.store;
    let mut contact = None;
    for identity in known {
        if let Some(c) = store.contact_for_identity(identity).await? {
            contact = Some(c);
            break;
        }
    }
    let Some(contact) = contact else {
        return Ok(None);
    };
    if let Some(c) = company {
        store.set_contact_company(&contact, c).await?;
    }
    store
        .portal_user_for_link(&state.ids, &contact, email)
        .await
        .map(Some)
}
