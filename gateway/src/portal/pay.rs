//! Pay Now: a Stripe Checkout Session for the invoice's balance (or the part the client
//! chose), then a redirect to Stripe's page. The payment is recorded by the webhook, never
//! by the return to our page.
//!
//! - The session is `mode=payment`, one line of the amount in the invoice's currency,
//!   `client_reference_id` = the invoice's id (what the webhook pays), and
//!   `metadata[invoice_id]` (what a refund's charge names).
//! - An `Idempotency-Key` made of the invoice, the amount and what was paid so far: a
//!   double click makes one session; after a payment, a new one.
//! - `stripe.api_base` says where the API is (a test double in tests).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use switchboard_portal::locale::parse_amount;

use super::pages::own;
use super::{Client, message};
use crate::kit::AppState;
use crate::kit::billing::{exponent, shown, today};
use crate::kit::words::words;

#[derive(Debug, Deserialize)]
pub struct PayForm {
    #[serde(default)]
    amount: Option<String>,
}

fn unavailable(state: &AppState, client: &Client, status: StatusCode) -> Response {
    let w = words(client.lang);
    message(state, client.lang, status, w.pay_now, w.pay_unavailable)
}

pub async fn pay(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
    Form(form): Form<PayForm>,
) -> Result<Response, Response> {
    let doc = own(&state, &client, "invoice", &number).await?;
    let Some(secret) = state.config.stripe.secret_key.as_ref() else {
        return Err(unavailable(
            &state,
            &client,
            StatusCode::SERVICE_UNAVAILABLE,
        ));
    };
    let back = format!("/portal/invoices/{}", doc.number);
    let status = shown(&doc, today(&state));
    let balance = doc.total - doc.paid;
    if matches!(status.as_str(), "paid" | "void") || balance <= 0 {
        return Ok(Redirect::to(&back).into_response());
    }
    let exp = exponent(&doc.currency);
    let amount = match form
        .amount
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => balance,
        Some(a) => match parse_amount(a, exp) {
            Some(v) if v > 0 && v <= balance => v,
            _ => return Ok(Redirect::to(&format!("{back}?error=amount")).into_response()),
        },
    };
    let base = state.config.public_url.trim_end_matches('/');
    let w = switchboard_portal::locale::doc_words(client.lang);
    let params: Vec<(&str, String)> = vec![
        ("mode", "payment".into()),
        ("client_reference_id", doc.id.clone()),
        ("metadata[invoice_id]", doc.id.clone()),
        ("metadata[invoice_number]", doc.number.clone()),
        ("customer_email", client.scope.email.clone()),
        ("line_items[0][quantity]", "1".into()),
        (
            "line_items[0][price_data][currency]",
            doc.currency.to_ascii_lowercase(),
        ),
        ("line_items[0][price_data][unit_amount]", amount.to_string()),
        (
            "line_items[0][price_data][product_data][name]",
            format!("{} {}", w.invoice, doc.number),
        ),
        ("success_url", format!("{base}{back}?paid=1")),
        ("cancel_url", format!("{base}{back}")),
        (
            "locale",
            client
                .lang
                .tag()
                .split('-')
                .next()
                .unwrap_or("en")
                .to_owned(),
        ),
    ];
    let key = hex::encode(Sha256::digest(
        format!("{}:{amount}:{}", doc.id, doc.paid).as_bytes(),
    ));
    let url = format!(
        "{}/v1/checkout/sessions",
        state.config.stripe.api_base.trim_end_matches('/')
    );
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .map_err(|_| unavailable(&state, &client, StatusCode::BAD_GATEWAY))?;
    let answer = http
        .post(&url)
        .bearer_auth(secret.expose())
        .header("Idempotency-Key", &key)
        .form(&params)
        .send()
        .await;
    let session: serde_json::Value = match answer {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => {
            let code = r.status();
            let body = r.text().await.unwrap_or_default();
            tracing::warn!(%code, body = %body.chars().take(300).collect::<String>(), "Stripe refused the checkout session");
            return Err(unavailable(&state, &client, StatusCode::BAD_GATEWAY));
        }
        Err(e) => {
            tracing::warn!(error = %e, "Stripe did not answer");
            return Err(unavailable(&state, &client, StatusCode::BAD_GATEWAY));
        }
    };
    let Some(to) = session
        .get("url")
        .and_then(|u| u.as_str())
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    else {
        return Err(unavailable(&state, &client, StatusCode::BAD_GATEWAY));
    };
    super::pages::audit(
        &state,
        &client,
        "pay",
        Some(&doc.number),
        Some(&format!(
            "checkout {} for {amount} {}",
            session.get("id").and_then(|i| i.as_str()).unwrap_or(""),
            doc.currency
        )),
    )
    .await;
    Ok(Redirect::to(to).into_response())
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    answer: String,
}

/// Accept or decline an estimate that is still open. Accepting turns it into a draft
/// invoice with the same lines, for the business to check and send.
pub async fn answer_estimate(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, Response> {
    let api = |e: crate::kit::error::ApiError| e.into_response();
    let doc = own(&state, &client, "estimate", &number).await?;
    let back = format!("/portal/estimates/{}", doc.number);
    let to = match form.answer.as_str() {
        "accept" => "accepted",
        "decline" => "declined",
        _ => return Ok(Redirect::to(&back).into_response()),
    };
    if shown(&doc, today(&state)) != "sent" {
        // Answered before, or expired: the page says which.
        return Ok(Redirect::to(&back).into_response());
    }
    let answered = state
        .store
        .set_document_status(&doc.id, &["sent"], to, state.ids.now_ms())
        .await
        .map_err(|e| api(e.into()))?;
    let mut detail = None;
    if to == "accepted" {
        let document = switchboard_portal::document::Document::parse(&answered.document)
            .map_err(|e| api(crate::kit::error::ApiError::Unavailable(e.to_string())))?;
        let invoice = crate::kit::billing::documents::create_document(
            &state,
            "invoice",
            &crate::kit::billing::documents::NewDocument {
                contact_id: answered.contact_id.clone(),
                company_id: answered.company_id.clone(),
                currency: answered.currency.clone(),
                issue_date: None,
                due_date: None,
                document,
                external_id: Some(format!("estimate:{}", answered.id)),
                send: false,
            },
        )
        .await
        .map_err(api)?;
        detail = Some(format!("accepted; draft invoice {}", invoice.number));
    }
    if let Err(e) = crate::kit::billing::dispatch::refresh_card(&state, &answered).await {
        tracing::warn!(error = %e, "estimate card not updated");
    }
    super::pages::audit(
        &state,
        &client,
        to,
        Some(&answered.number),
        detail.as_deref(),
    )
    .await;
    Ok(Redirect::to(&back).into_response())
}
