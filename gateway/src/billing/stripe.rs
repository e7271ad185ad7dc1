//! Stripe's webhook: `POST /webhooks/stripe`. The signature is checked before the body is
//! read (`portal::stripe`); an event id handled before is answered and does nothing more;
//! a paid checkout records the payment and a refunded charge its refunds, each once per
//! Stripe reference (`Store::record_payment`), so a late, repeated or racing delivery never
//! counts twice and a failed payment never undoes one. What each event did is kept.
//!
//! A bad signature is answered 400. The event's effects come from `portal::stripe::actions`
//! (a paid checkout session pays its `client_reference_id` invoice under its payment
//! intent; a refunded charge records each refund; a failed asynchronous payment records and
//! undoes nothing), applied through the ledger; a refusal (another currency, no such
//! invoice) is answered 200, logged and kept with the event, so Stripe does not retry it
//! forever (e2e `stripe::stripe_events_pay_an_invoice_exactly_once`: forged, stale and
//! unsigned deliveries, a repeat, six racing deliveries of one payment, a late failure, a
//! currency mismatch and a refund delivered twice).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use switchboard_core::store::PaymentOutcome;
use switchboard_portal::stripe::{Action, actions, verified_event};

use crate::kit::AppState;
use crate::kit::error::ApiError;

pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let secret = state
        .config
        .stripe
        .webhook_secret
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("Stripe is not configured here".into()))?;
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now_ms = state.ids.now_ms();
    let event = verified_event(signature, &body, secret.expose(), now_ms / 1000).map_err(|e| {
        tracing::warn!(error = %e, "Stripe delivery refused");
        ApiError::BadRequest(e.to_string())
    })?;
    if state.store.stripe_event_seen(&event.id).await? {
        return Ok((
            StatusCode::OK,
            Json(json!({ "id": event.id, "duplicate": true })),
        ));
    }
    let mut outcomes = Vec::new();
    for action in actions(&event) {
        let (invoice, kind, amount, currency, reference) = match &action {
            Action::Pay {
                invoice,
                amount,
                currency,
                reference,
            } => (invoice, "payment", *amount, currency, reference),
            Action::Refund {
                invoice,
                amount,
                currency,
                reference,
            } => (invoice, "refund", *amount, currency, reference),
            Action::Ignore(why) => {
                outcomes.push(format!("ignored: {why}"));
                continue;
            }
        };
        let outcome = match state
            .store
            .record_payment(
                &state.ids, invoice, kind, amount, currency, "stripe", reference,
            )
            .await
        {
            Ok(PaymentOutcome::Recorded { paid }) => {
                // The cards follow; a failure here is logged, never undoes the payment.
                if let Err(e) = crate::kit::billing::dispatch::after_payment(
                    &state,
                    invoice,
                    reference,
                    amount,
                    kind == "refund",
                )
                .await
                {
                    tracing::warn!(invoice, error = %e, "cards not updated after a payment");
                }
                format!("{kind} recorded; paid {paid}")
            }
            Ok(PaymentOutcome::Duplicate { .. }) => format!("{kind} {reference} recorded before"),
            // Stripe retries what is not answered 2xx: a refusal is answered, kept and logged.
            Err(switchboard_core::Error::Invalid(m) | switchboard_core::Error::Conflict(m)) => {
                tracing::warn!(event = %event.id, invoice, error = %m, "Stripe {kind} refused");
                format!("refused: {m}")
            }
            Err(switchboard_core::Error::NotFound(m)) => {
                tracing::warn!(event = %event.id, invoice, "Stripe {kind} for no known invoice");
                format!("refused: {m}")
            }
            Err(e) => return Err(e.into()),
        };
        outcomes.push(outcome);
    }
    let outcome = outcomes.join("; ");
    state
        .store
        .record_stripe_event(&event.id, &event.kind, &outcome, now_ms)
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "id": event.id, "outcome": outcome })),
    ))
}
