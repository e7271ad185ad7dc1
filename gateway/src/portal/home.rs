//! The client's home (`/portal`): how things stand at a glance. What is owed and the
//! latest invoice, open requests with their status and who comes, machines (the ones down
//! first), readings due, upcoming visits, contract renewals, the latest notices, and the
//! quick actions (a new request, the readings, the invoices, the chat). Every part is
//! read through the client's `ClientScope`; the equipment parts show when the business
//! has equipment on.
//!
//! The invoice list that lived here is at `/portal/invoices`; an old link to `/portal`
//! with the list's parameters is sent there.
//!
//! Tests: e2e `portal::the_home_says_how_things_stand`, browser `equipment.test.mjs`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use switchboard_core::store::TicketQuery;
use switchboard_portal::locale::{Lang, date};
use switchboard_portal::overage::{needs_reading, reading_due};

use super::{Client, Layout, private};
use crate::kit::AppState;
use crate::kit::billing::{amount, today};
use crate::kit::error::ApiError;
use crate::kit::machines::{EqWords, MachineView, eq_words, machine_view};
use crate::kit::page::render;
use crate::kit::visits::{VisitView, calendar, visit_view};

type PageResult = Result<Response, Response>;

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The home's words.
#[derive(Debug)]
pub struct HomeWords {
    pub home: &'static str,
    pub hello: &'static str,
    pub lead: &'static str,
    pub owed: &'static str,
    pub overdue: &'static str,
    pub nothing_owed: &'static str,
    pub latest_invoice: &'static str,
    pub see_invoices: &'static str,
    pub open_requests: &'static str,
    pub no_open_requests: &'static str,
    pub new_request: &'static str,
    pub answer_survey: &'static str,
    pub all_requests: &'static str,
    pub machines_down: &'static str,
    pub all_in_service: &'static str,
    pub readings_due: &'static str,
    pub due_by: &'static str,
    pub no_readings_due: &'static str,
    pub renewals: &'static str,
    pub renews: &'static str,
    pub ends: &'static str,
    pub quick: &'static str,
    pub chat: &'static str,
    pub who_comes: &'static str,
    pub no_upcoming: &'static str,
}

pub fn home_words(lang: Lang) -> &'static HomeWords {
    match lang {
        Lang::En => &HomeWords {
            home: "Home",
            hello: "Hello",
            lead: "How things stand today.",
            owed: "To pay",
            overdue: "overdue",
            nothing_owed: "Nothing to pay. Thank you!",
            latest_invoice: "Latest invoice",
            see_invoices: "See invoices",
            open_requests: "Open requests",
            no_open_requests: "No open requests.",
            new_request: "New request",
            answer_survey: "Answer",
            all_requests: "All requests",
            machines_down: "need attention",
            all_in_service: "Every machine is in service.",
            readings_due: "Readings due",
            due_by: "due by",
            no_readings_due: "No readings due now.",
            renewals: "Contract renewals",
            renews: "renews",
            ends: "ends",
            quick: "Quick actions",
            chat: "Chat with us",
            who_comes: "Technician",
            no_upcoming: "No visits booked.",
        },
        Lang::Es => &HomeWords {
            home: "Inicio",
            hello: "Hola",
            lead: "Cómo están las cosas hoy.",
            owed: "Por pagar",
            overdue: "vencido",
            nothing_owed: "Nada por pagar. ¡Gracias!",
            latest_invoice: "Última factura",
            see_invoices: "Ver facturas",
            open_requests: "Solicitudes abiertas",
            no_open_requests: "No hay solicitudes abiertas.",
            new_request: "Nueva solicitud",
            answer_survey: "Responder",
            all_requests: "Todas las solicitudes",
            machines_down: "necesitan atención",
            all_in_service: "Todas las máquinas están en servicio.",
            readings_due: "Lecturas pendientes",
            due_by: "hasta el",
            no_readings_due: "No hay lecturas pendientes ahora.",
            renewals: "Renovaciones de contrato",
            renews: "se renueva el",
            ends: "termina el",
            quick: "Accesos rápidos",
            chat: "Chatear con nosotros",
            who_comes: "Técnico",
            no_upcoming: "No hay visitas programadas.",
        },
        Lang::PtBr => &HomeWords {
            home: "Início",
            hello: "Olá",
            lead: "Como estão as coisas hoje.",
            owed: "A pagar",
            overdue: "vencido",
            nothing_owed: "Nada a pagar. Obrigado!",
            latest_invoice: "Última fatura",
            see_invoices: "Ver faturas",
            open_requests: "Solicitações abertas",
            no_open_requests: "Nenhuma solicitação aberta.",
            new_request: "Nova solicitação",
            answer_survey: "Responder",
            all_requests: "Todas as solicitações",
            machines_down: "precisam de atenção",
            all_in_service: "Todas as máquinas estão em operação.",
            readings_due: "Leituras pendentes",
            due_by: "até",
            no_readings_due: "Nenhuma leitura pendente agora.",
            renewals: "Renovações de contrato",
            renews: "renova em",
            ends: "termina em",
            quick: "Atalhos",
            chat: "Conversar com a gente",
            who_comes: "Técnico",
            no_upcoming: "Nenhuma visita agendada.",
        },
    }
}

/// What is owed in one currency.
#[derive(Debug, Clone)]
pub struct Owed {
    pub outstanding: String,
    pub overdue: Option<String>,
}

/// An open request as the home lists it.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub number: i64,
    pub subject: String,
    pub status: &'static str,
    pub status_word: &'static str,
    /// The technician of its next visit, and when.
    pub visit: Option<(String, String)>,
}

/// A contract's readings due: its number, the day, the machines still to read.
#[derive(Debug, Clone)]
pub struct Due {
    pub contract: String,
    pub by: String,
    pub machines: String,
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct HomePage {
    l: Layout,
    /// A group's companies, for a client admin managing several: `(id, name, owed,
    /// overdue, machines down, current)`.
    group: Vec<GroupRow>,
    h: &'static HomeWords,
    e: &'static EqWords,
    v: &'static switchboard_portal::visits::VisitWords,
    name: String,
    owed: Vec<Owed>,
    /// `(number, status, status word, amount, due)`.
    latest: Option<(String, String, &'static str, String, String)>,
    requests: Vec<OpenRequest>,
    machines: Vec<MachineView>,
    down: usize,
    due: Vec<Due>,
    visits: Vec<VisitView>,
    /// `(contract number, "renews" or "ends", day)`.
    renewals: Vec<(String, &'static str, String)>,
    equipment: bool,
    notices: Vec<super::notices::NoticeView>,
    nw: &'static super::notices::NoticeWords,
    /// Surveys waiting for an answer: (the link, its question).
    surveys: Vec<(String, String)>,
}

/// One of a group's companies on the home.
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub owed: String,
    pub overdue: String,
    pub down: usize,
    pub current: bool,
}

/// Every company a client admin manages, with what is owed and its machines down, each
/// read through a scope of that company (only companies the store lists as the client's).
async fn group(state: &AppState, client: &Client, today: i64) -> Result<Vec<GroupRow>, Response> {
    if client.companies.len() < 2 {
        return Ok(Vec::new());
    }
    let lang = client.lang;
    let mut out = Vec::with_capacity(client.companies.len());
    for (id, name) in &client.companies {
        let scope = switchboard_core::store::ClientScope {
            company_id: Some(id.clone()),
            ..client.scope.clone()
        };
        let totals = state
            .store
            .client_totals(&scope, today)
            .await
            .map_err(api)?;
        let join = |f: &dyn Fn(&switchboard_core::store::CurrencyTotals) -> i64| {
            totals
                .iter()
                .filter(|t| f(t) > 0)
                .map(|t| amount(f(t), &t.currency, lang))
                .collect::<Vec<_>>()
                .join(" · ")
        };
        let down = state
            .store
            .machines_for_client(&scope)
            .await
            .map_err(api)?
            .iter()
            .filter(|m| m.status == "down")
            .count();
        out.push(GroupRow {
            id: id.clone(),
            name: name.clone(),
            owed: join(&|t| t.outstanding),
            overdue: join(&|t| t.overdue),
            down,
            current: client.scope.company_id.as_deref() == Some(id.as_str()),
        });
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
pub struct CompanyForm {
    company_id: String,
}

/// `POST /portal/company`: work in another of the client's companies; one not granted is
/// "not found" and nothing changes.
pub async fn switch_company(
    State(state): State<AppState>,
    client: Client,
    axum::Form(form): axum::Form<CompanyForm>,
) -> PageResult {
    state
        .store
        .set_session_company(&client.scope, &client.token, Some(&form.company_id))
        .await
        .map_err(api)?;
    // The company entered keeps a line of who came in from the group.
    let name = client
        .companies
        .iter()
        .find(|(id, _)| *id == form.company_id)
        .map(|(_, n)| n.clone());
    let entered = Client {
        scope: switchboard_core::store::ClientScope {
            company_id: Some(form.company_id.clone()),
            ..client.scope.clone()
        },
        ..client
    };
    super::pages::audit(&state, &entered, "company_switched", name.as_deref(), None).await;
    Ok(Redirect::to("/portal").into_response())
}

/// `GET /portal`: the home; the invoice list's old links go to `/portal/invoices`.
pub async fn home(
    State(state): State<AppState>,
    client: Client,
    RawQuery(query): RawQuery,
) -> PageResult {
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        return Ok(Redirect::permanent(&format!("/portal/invoices?{q}")).into_response());
    }
    let lang = client.lang;
    let h = home_words(lang);
    let e = eq_words(lang);
    let today = today(&state);
    let scope = &client.scope;
    let mut equipment = state.config.portal.equipment;

    // What is owed, and the latest invoice.
    let totals = state.store.client_totals(scope, today).await.map_err(api)?;
    let owed = totals
        .iter()
        .filter(|t| t.outstanding > 0)
        .map(|t| Owed {
            outstanding: amount(t.outstanding, &t.currency, lang),
            overdue: (t.overdue > 0).then(|| amount(t.overdue, &t.currency, lang)),
        })
        .collect();
    let latest_query = switchboard_core::store::DocumentQuery {
        kind: "invoice".into(),
        status: None,
        sort: "issued".into(),
        descending: true,
        page: 1,
        per_page: 1,
        today,
    };
    let (latest, _) = state
        .store
        .client_documents(scope, &latest_query)
        .await
        .map_err(api)?;
    let dw = switchboard_portal::locale::doc_words(lang);
    let latest = latest.first().map(|d| {
        let shown = crate::kit::billing::shown(d, today);
        (
            d.number.clone(),
            shown.clone(),
            dw.status(&shown),
            amount(d.total, &d.currency, lang),
            d.due_day.map(|x| date(x, lang)).unwrap_or_default(),
        )
    });

    // Open requests, each with its next visit.
    let sw = crate::kit::words::support_words(lang);
    let (tickets, _) = state
        .store
        .client_tickets(
            scope,
            &TicketQuery {
                state: Some("open".into()),
                page: 1,
                per_page: 5,
            },
        )
        .await
        .map_err(api)?;
    let cal = calendar(&state);
    let mut requests = Vec::with_capacity(tickets.len());
    for t in &tickets {
        let visit = state
            .store
            .ticket_visits(t)
            .await
            .map_err(api)?
            .into_iter()
            .find(|v| v.status == "scheduled" || v.status == "on_site")
            .map(|v| {
                (
                    v.technician.clone(),
                    crate::kit::visits::when(&cal, v.window_from, v.window_to, lang),
                )
            });
        requests.push(OpenRequest {
            number: t.number,
            subject: t.subject.clone(),
            status: t.status.as_str(),
            status_word: sw.status(t.status),
            visit,
        });
    }

    // Equipment: machines (down first), readings due, visits, renewals.
    let (mut machines, mut due, mut visits, mut renewals, mut down) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
    if equipment {
        let mut list = state.store.machines_for_client(scope).await.map_err(api)?;
        list.retain(|m| m.status != "removed");
        // A client with no machines has no equipment to show.
        equipment = !list.is_empty();
        let rank = |s: &str| match s {
            "down" => 0,
            "maintenance" => 1,
            _ => 2,
        };
        list.sort_by_key(|m| rank(&m.status));
        down = list.iter().filter(|m| m.status != "in_service").count();
        let last = crate::kit::machines::last_readings(&state.store, &list)
            .await
            .map_err(api)?;
        machines = list
            .iter()
            .take(6)
            .map(|m| machine_view(m, last.get(&m.id), lang))
            .collect();
        for c in state.store.contracts_for_client(scope).await.map_err(api)? {
            if let Some(read_before) = c.read_before {
                let every = crate::kit::equipment::every(&c);
                if let Some(d) = reading_due(c.start_day, every, c.end_day, read_before, today) {
                    let slots = state.store.contract_machines(&c.id).await.map_err(api)?;
                    let unread: Vec<String> = list
                        .iter()
                        .filter(|m| {
                            slots
                                .iter()
                                .any(|s| s.machine_id == m.id && s.to_day.is_none_or(|t| t > today))
                        })
                        .filter(|m| needs_reading(last.get(&m.id).map(|r| r.day), d.by))
                        .map(|m| m.asset_tag.clone().unwrap_or_else(|| m.serial.clone()))
                        .collect();
                    if !unread.is_empty() {
                        due.push(Due {
                            contract: c.number.clone(),
                            by: date(d.by, lang),
                            machines: unread.join(", "),
                        });
                    }
                }
            }
            // Renewals and ends within the next 60 days.
            for (day, word) in [(c.renewal_day, h.renews), (c.end_day, h.ends)] {
                if let Some(day) = day.filter(|d| *d >= today && *d <= today + 60) {
                    renewals.push((c.number.clone(), word, date(day, lang)));
                }
            }
        }
        visits = state
            .store
            .upcoming_visits_for_client(scope, 5)
            .await
            .map_err(api)?
            .iter()
            .map(|v| visit_view(v, &cal, lang))
            .collect();
    }
    let notices = super::notices::latest(&state, &client, 5)
        .await
        .map_err(api)?;
    let surveys = state
        .store
        .waiting_surveys(&client.scope, state.ids.now_ms(), 3)
        .await
        .map_err(api)?
        .into_iter()
        .map(|s| {
            let w = switchboard_portal::surveys::survey_words(lang);
            let text = if s.visit_id.is_some() {
                w.about_visit.replace("{n}", &s.number.to_string())
            } else {
                w.waiting.replace("{n}", &s.number.to_string())
            };
            (format!("/survey/{}", s.token), text)
        })
        .collect();
    let page = HomePage {
        group: group(&state, &client, today).await?,
        surveys,
        notices,
        nw: super::notices::notice_words(lang),
        l: Layout::client(&state, &client, h.home.to_owned(), "home"),
        h,
        e,
        v: switchboard_portal::visits::visit_words(lang),
        name: scope
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_default(),
        owed,
        latest,
        requests,
        machines,
        down,
        due,
        visits,
        renewals,
        equipment,
    };
    Ok(private(render(&page)))
}
