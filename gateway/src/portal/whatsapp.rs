//! The portal's chat continues on WhatsApp, and the client chooses the channel their notices
//! go by.
//!
//! "Continue on WhatsApp" (`POST /portal/whatsapp`) keeps a one-time code for the signed-in
//! client (its hash only, for `kit::handover::CODE_MINUTES`) and opens WhatsApp on the business's number
//! with the code written in. The code proves only that the WhatsApp sender got it from the
//! client's portal: when it arrives (`kit::whatsapp::intake`, before the message is
//! stored) the number joins the client's contact, so the conversation goes on there with
//! the same person; a number that is already another contact's is left for people to
//! merge, and a code works once. Notices (`POST /portal/account/notices`) then go by
//! WhatsApp when the client chooses it (`kit::notices`).
//!
//! Tests: e2e `whatsapp::the_portal_chat_continues_on_whatsapp_with_a_one_time_code`,
//! `kit::handover::tests`.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_portal::locale::Lang;

use crate::kit::AppState;
use crate::kit::handover::{CODE_MINUTES, new_code};
use crate::portal::{Client, not_found, private};

/// What the pages say, per language.
#[derive(Debug)]
pub struct WaWords {
    pub heading: &'static str,
    pub lead: &'static str,
    pub button: &'static str,
    pub notices: &'static str,
    pub notices_lead: &'static str,
    pub by_email: &'static str,
    pub by_whatsapp: &'static str,
    pub save: &'static str,
    pub saved: &'static str,
    pub linked: &'static str,
    pub not_linked: &'static str,
    /// The message WhatsApp opens with; `{code}` is the code.
    pub prefill: &'static str,
}

pub fn wa_words(lang: Lang) -> &'static WaWords {
    match lang {
        Lang::En => &WaWords {
            heading: "WhatsApp",
            lead: "Talk to us on WhatsApp and carry on where you left off: the message opens with a one-time code that links your number to your account, so our team sees your earlier conversations.",
            button: "Continue on WhatsApp",
            notices: "Notices",
            notices_lead: "Where we tell you that a request changed or an invoice was issued.",
            by_email: "By email",
            by_whatsapp: "By WhatsApp",
            save: "Save",
            saved: "Saved.",
            linked: "Your WhatsApp number is linked.",
            not_linked: "No WhatsApp number is linked yet: continue on WhatsApp once to link yours. Until then notices go by email.",
            prefill: "Hi! I'd like to continue my conversation from the portal. Code: {code}",
        },
        Lang::Es => &WaWords {
            heading: "WhatsApp",
            lead: "Escríbanos por WhatsApp y siga donde lo dejó: el mensaje se abre con un código de un solo uso que vincula su número a su cuenta, y nuestro equipo ve sus conversaciones anteriores.",
            button: "Continuar en WhatsApp",
            notices: "Avisos",
            notices_lead: "Por dónde le avisamos que una solicitud cambió o que se emitió una factura.",
            by_email: "Por correo",
            by_whatsapp: "Por WhatsApp",
            save: "Guardar",
            saved: "Guardado.",
            linked: "Su número de WhatsApp está vinculado.",
            not_linked: "Aún no hay un número de WhatsApp vinculado: continúe en WhatsApp una vez para vincular el suyo. Mientras tanto, los avisos van por correo.",
            prefill: "¡Hola! Quiero continuar mi conversación del portal. Código: {code}",
        },
        Lang::PtBr => &WaWords {
            heading: "WhatsApp",
            lead: "Fale com a gente pelo WhatsApp e continue de onde parou: a mensagem abre com um código de uso único que vincula seu número à sua conta, e nossa equipe vê suas conversas anteriores.",
            button: "Continuar no WhatsApp",
            notices: "Avisos",
            notices_lead: "Por onde avisamos que uma solicitação mudou ou que uma fatura foi emitida.",
            by_email: "Por e-mail",
            by_whatsapp: "Pelo WhatsApp",
            save: "Salvar",
            saved: "Salvo.",
            linked: "Seu número de WhatsApp está vinculado.",
            not_linked: "Ainda não há um número de WhatsApp vinculado: continue no WhatsApp uma vez para vincular o seu. Até lá, os avisos vão por e-mail.",
            prefill: "Olá! Quero continuar minha conversa do portal. Código: {code}",
        },
    }
}

/// The business number clients are sent to: the first with a number customers can see.
pub fn business_number(state: &AppState) -> Option<String> {
    state.whatsapp.all().into_iter().find_map(|n| {
        let digits: String = n
            .display_phone_number?
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        (digits.len() >= 8).then_some(digits)
    })
}

/// What the account page shows of WhatsApp.
#[derive(Debug, Clone)]
pub struct WaView {
    pub w: &'static WaWords,
    pub by_whatsapp: bool,
    pub linked: bool,
}

/// The account page's WhatsApp part, when the business has a WhatsApp number.
pub async fn view(state: &AppState, client: &Client) -> switchboard_core::Result<Option<WaView>> {
    if business_number(state).is_none() {
        return Ok(None);
    }
    let contact = &client.scope.contact_id;
    let linked = crate::kit::notices::on_whatsapp(&state.store, contact).await?;
    Ok(Some(WaView {
        w: wa_words(client.lang),
        by_whatsapp: state.store.contact_notice_channel(contact).await? == "whatsapp",
        linked,
    }))
}

/// `POST /portal/whatsapp`: a fresh code, and on to WhatsApp with it written in.
pub async fn continue_on_whatsapp(State(state): State<AppState>, client: Client) -> Response {
    let Some(number) = business_number(&state) else {
        return not_found(&state, client.lang);
    };
    let code = new_code();
    let now = state.ids.now_ms();
    if let Err(e) = state
        .store
        .put_wa_handover(
            &code,
            &client.scope.contact_id,
            now,
            now + CODE_MINUTES * 60_000,
        )
        .await
    {
        tracing::warn!(error = %e, "no WhatsApp code kept");
        return (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment").into_response();
    }
    let text = wa_words(client.lang).prefill.replace("{code}", &code);
    private(
        Redirect::to(&format!(
            "https://wa.me/{number}?text={}",
            crate::kit::session::urlencode(&text)
        ))
        .into_response(),
    )
}

#[derive(Debug, Deserialize)]
pub struct NoticesForm {
    #[serde(default)]
    channel: String,
}

/// `POST /portal/account/notices`: the channel the client's notices go by.
pub async fn set_notices(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<NoticesForm>,
) -> Response {
    match state
        .store
        .set_contact_notice_channel(&client.scope.contact_id, &form.channel)
        .await
    {
        Ok(()) => {}
        // Anything but email or whatsapp.
        Err(switchboard_core::Error::Invalid(m)) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, m).into_response();
        }
        Err(e) => {
            tracing::warn!(error = %e, "notice channel not set");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment").into_response();
        }
    }
    let v = crate::portal::users::AccountView {
        notice: Some(wa_words(client.lang).saved.to_owned()),
        ..Default::default()
    };
    crate::portal::users::account_page(&state, &client, v)
        .await
        .unwrap_or_else(|r| r)
}
