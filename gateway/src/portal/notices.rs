//! The client's notifications (`/portal/notifications`): every notice about their requests,
//! visits, invoices and readings, newest first (the ones not seen yet marked, then seen),
//! and how each kind reaches them: by mail, by WhatsApp, or only here. Only the signed-in
//! contact's own notices, through its `ClientScope`.
//!
//! Tests: e2e `portal::notices_reach_the_client_once_by_their_channel`.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_core::store::NOTICE_KINDS;
use switchboard_portal::locale::Lang;

use super::pages::stamp;
use super::{Client, Layout, private};
use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::page::render;

type PageResult = Result<Response, Response>;

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The page's words.
#[derive(Debug)]
pub struct NoticeWords {
    pub title: &'static str,
    pub lead: &'static str,
    pub empty: &'static str,
    pub new: &'static str,
    pub how: &'static str,
    pub how_lead: &'static str,
    pub by_email: &'static str,
    pub by_whatsapp: &'static str,
    pub only_here: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
}

pub fn notice_words(lang: Lang) -> &'static NoticeWords {
    match lang {
        Lang::En => &NoticeWords {
            title: "Notifications",
            lead: "What happened with your requests, visits, invoices and readings.",
            empty: "Notices about your requests, visits, invoices and readings will appear here.",
            new: "New",
            how: "How we tell you",
            how_lead: "Each kind of notice also reaches you by the channel you choose; several that come together arrive as one message.",
            by_email: "By email",
            by_whatsapp: "By WhatsApp",
            only_here: "Only here",
            save: "Save",
            saved: "Saved.",
        },
        Lang::Es => &NoticeWords {
            title: "Notificaciones",
            lead: "Lo que pasó con sus solicitudes, visitas, facturas y lecturas.",
            empty: "Aquí aparecerán los avisos sobre sus solicitudes, visitas, facturas y lecturas.",
            new: "Nuevo",
            how: "Cómo le avisamos",
            how_lead: "Cada tipo de aviso también le llega por el canal que elija; varios que llegan juntos van en un solo mensaje.",
            by_email: "Por correo",
            by_whatsapp: "Por WhatsApp",
            only_here: "Solo aquí",
            save: "Guardar",
            saved: "Guardado.",
        },
        Lang::PtBr => &NoticeWords {
            title: "Notificações",
            lead: "O que aconteceu com suas solicitações, visitas, faturas e leituras.",
            empty: "Os avisos sobre suas solicitações, visitas, faturas e leituras aparecerão aqui.",
            new: "Novo",
            how: "Como avisamos você",
            how_lead: "Cada tipo de aviso também chega pelo canal que você escolher; vários que chegam juntos vão em uma só mensagem.",
            by_email: "Por e-mail",
            by_whatsapp: "Por WhatsApp",
            only_here: "Só aqui",
            save: "Salvar",
            saved: "Salvo.",
        },
    }
}

/// A kind of notice in words, for the preferences.
pub fn kind_word(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("ticket_status", Lang::En) => "A request's status",
        ("ticket_status", Lang::Es) => "El estado de una solicitud",
        ("ticket_status", Lang::PtBr) => "A situação de uma solicitação",
        ("new_message", Lang::En) => "A reply to a request",
        ("new_message", Lang::Es) => "Una respuesta a una solicitud",
        ("new_message", Lang::PtBr) => "Uma resposta a uma solicitação",
        ("visit_scheduled", Lang::En) => "A visit booked",
        ("visit_scheduled", Lang::Es) => "Una visita programada",
        ("visit_scheduled", Lang::PtBr) => "Uma visita agendada",
        ("visit_done", Lang::En) => "A visit done",
        ("visit_done", Lang::Es) => "Una visita realizada",
        ("visit_done", Lang::PtBr) => "Uma visita concluída",
        ("invoice_issued", Lang::En) => "A new invoice",
        ("invoice_issued", Lang::Es) => "Una factura nueva",
        ("invoice_issued", Lang::PtBr) => "Uma fatura nova",
        ("invoice_paid", Lang::En) => "A payment received",
        ("invoice_paid", Lang::Es) => "Un pago recibido",
        ("invoice_paid", Lang::PtBr) => "Um pagamento recebido",
        ("invoice_due_soon", Lang::En) => "An invoice due soon",
        ("invoice_due_soon", Lang::Es) => "Una factura por vencer",
        ("invoice_due_soon", Lang::PtBr) => "Uma fatura perto do vencimento",
        ("invoice_overdue", Lang::En) => "An invoice overdue",
        ("invoice_overdue", Lang::Es) => "Una factura vencida",
        ("invoice_overdue", Lang::PtBr) => "Uma fatura vencida",
        ("reading_due", Lang::En) => "Meter readings due",
        ("reading_due", Lang::Es) => "Lecturas de contador pendientes",
        ("reading_due", Lang::PtBr) => "Leituras de contador pendentes",
        (_, Lang::En) => "A survey about our service",
        (_, Lang::Es) => "Una encuesta sobre nuestro servicio",
        (_, Lang::PtBr) => "Uma pesquisa sobre nosso atendimento",
    }
}

/// A notice as the page lists it.
#[derive(Debug, Clone)]
pub struct NoticeView {
    pub text: String,
    pub link: String,
    pub when: String,
    pub when_iso: String,
    pub unread: bool,
}

/// A kind's preference row: `(kind, its words, the channel chosen)`.
type PreferenceRow = (&'static str, &'static str, String);

#[derive(Template)]
#[template(path = "portal/notifications.html")]
struct NoticesPage {
    l: Layout,
    n: &'static NoticeWords,
    notices: Vec<NoticeView>,
    preferences: Vec<PreferenceRow>,
    whatsapp: bool,
    saved: bool,
}

/// The latest notices of the client, for the home and this page.
pub async fn latest(
    state: &AppState,
    client: &Client,
    limit: i64,
) -> switchboard_core::Result<Vec<NoticeView>> {
    let list = state.store.notices_for_client(&client.scope, limit).await?;
    Ok(list
        .iter()
        .map(|x| {
            let (when, when_iso) = stamp(x.created_at, client.lang);
            NoticeView {
                text: crate::kit::notify::text(state, x, client.lang),
                link: x.link.clone(),
                when,
                when_iso,
                unread: x.read_at.is_none(),
            }
        })
        .collect())
}

async fn page(state: &AppState, client: &Client, saved: bool) -> PageResult {
    let n = notice_words(client.lang);
    let notices = latest(state, client, 100).await.map_err(api)?;
    // Seen now: marked read once shown (the page still marks the ones that were new).
    state
        .store
        .mark_notices_read(&client.scope, None, state.ids.now_ms())
        .await
        .map_err(api)?;
    let chosen = state
        .store
        .notice_preferences(&client.scope.contact_id)
        .await
        .map_err(api)?;
    let default = state
        .store
        .contact_notice_channel(&client.scope.contact_id)
        .await
        .map_err(api)?;
    let preferences = NOTICE_KINDS
        .iter()
        .map(|k| {
            let c = chosen
                .iter()
                .find(|(kind, _)| kind == k)
                .map_or_else(|| default.clone(), |(_, c)| c.clone());
            (*k, kind_word(k, client.lang), c)
        })
        .collect();
    let whatsapp = crate::kit::notices::on_whatsapp(&state.store, &client.scope.contact_id)
        .await
        .map_err(api)?
        && !state.whatsapp.all().is_empty();
    let mut l = Layout::client(state, client, n.title.to_owned(), "notifications");
    // Shown here, so seen.
    l.unread = 0;
    let page = NoticesPage {
        l,
        n,
        notices,
        preferences,
        whatsapp,
        saved,
    };
    Ok(private(render(&page)))
}

/// `GET /portal/notifications`.
pub async fn list(State(state): State<AppState>, client: Client) -> PageResult {
    page(&state, &client, false).await
}

/// `POST /portal/notifications/preferences`: a channel per kind (`pref-<kind>`).
pub async fn preferences(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    for (k, v) in &form {
        let Some(kind) = k.strip_prefix("pref-") else {
            continue;
        };
        match state
            .store
            .set_notice_preference(&client.scope.contact_id, kind, v)
            .await
        {
            Ok(()) => {}
            Err(switchboard_core::Error::Invalid(m)) => {
                return Err(private(
                    (StatusCode::UNPROCESSABLE_ENTITY, m).into_response(),
                ));
            }
            Err(e) => return Err(api(e)),
        }
    }
    page(&state, &client, true).await
}
