//! Stripe webhooks, checked before anything of them is believed: the `Stripe-Signature`
//! header carries a timestamp `t` and one or more `v1` signatures, each an HMAC-SHA256 of
//! `t.raw_body` under the endpoint's secret. The body counts only if some `v1` matches
//! (each compared in constant time, all of them tried: Stripe sends several while a
//! secret is being rolled) and `t` is within the tolerance of now (replays of old
//! deliveries are refused). Only then is the body parsed.
//!
//! Pure: the caller gives the clock's time.
//!
//! The tolerance is 300 s. Tests: `stripe::tests::*`, on the real payloads in
//! `../shared/fixtures/stripe` signed with a test secret.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Stripe's own default tolerance.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp")]
    NoTimestamp,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signature's timestamp is {0} s away from now (tolerance {TOLERANCE_SECS} s)")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches the body")]
    Mismatch,
    #[error("the body is not a Stripe event: {0}")]
    NotAnEvent(String),
}

/// The signature header Stripe would send for `body` at `t` under `secret`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Checks a delivery's signature; returns its timestamp.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = v.parse::<i64>().ok(),
            "v1" => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {} // v0 and schemes to come are not ours to trust
        }
    }
    let t = t.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let drift = now_secs.saturating_sub(t);
    if drift.abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance(drift));
    }
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .map_err(|_| SignatureError::Mismatch)?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    // Every v1 is tried, each in constant time.
    let matched = signatures
        .iter()
        .fold(false, |any, s| m.clone().verify_slice(s).is_ok() | any);
    if matched {
        Ok(t)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The parts of an event the billing side reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// What a verified event asks of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Record a payment (once per reference).
    Pay {
        invoice: String,
        amount: i64,
        currency: String,
        reference: String,
    },
    /// Record a refund (once per refund id).
    Refund {
        invoice: String,
        amount: i64,
        currency: String,
        reference: String,
    },
    /// Nothing to record, and why.
    Ignore(&'static str),
}

fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    v.get(key)?
        .as_str()
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
}

/// What an event means for the ledger. A checkout's payment counts once it is paid
/// (at once, or by `async_payment_succeeded`); a failed asynchronous payment records
/// nothing and undoes nothing; a refunded charge records each of its refunds.
pub fn actions(event: &Event) -> Vec<Action> {
    let o = &event.data.object;
    let currency = text(o, "currency").map(|c| c.to_ascii_uppercase());
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            if text(o, "payment_status").as_deref() != Some("paid") {
                return vec![Action::Ignore("the payment is not complete yet")];
            }
            let (Some(invoice), Some(amount), Some(currency)) = (
                text(o, "client_reference_id"),
                o.get("amount_total").and_then(serde_json::Value::as_i64),
                currency,
            ) else {
                return vec![Action::Ignore("the session names no invoice or amount")];
            };
            let reference = text(o, "payment_intent")
                .or_else(|| text(o, "id"))
                .unwrap_or_default();
            vec![Action::Pay {
                invoice,
                amount,
                currency,
                reference,
            }]
        }
        "checkout.session.async_payment_failed" => {
            vec![Action::Ignore(
                "a failed payment records nothing and undoes nothing",
            )]
        }
        "charge.refunded" => {
            let (Some(invoice), Some(currency)) = (
                o.get("metadata").and_then(|m| text(m, "invoice_id")),
                currency,
            ) else {
                return vec![Action::Ignore("the charge names no invoice")];
            };
            let refunds = o
                .get("refunds")
                .and_then(|r| r.get("data"))
                .and_then(serde_json::Value::as_array)
                .cloned()
                .unwrap_or_default();
            let out: Vec<Action> = refunds
                .iter()
                .filter_map(|r| {
                    Some(Action::Refund {
                        invoice: invoice.clone(),
                        amount: r.get("amount")?.as_i64()?,
                        currency: currency.clone(),
                        reference: text(r, "id")?,
                    })
                })
                .collect();
            if out.is_empty() {
                vec![Action::Ignore("the charge lists no refund")]
            } else {
                out
            }
        }
        _ => vec![Action::Ignore("not a billing event")],
    }
}

/// Verifies, then parses.
pub fn verified_event(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<Event, SignatureError> {
    verify(header, body, secret, now_secs)?;
    serde_json::from_slice(body).map_err(|e| SignatureError::NotAnEvent(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_0123456789abcdef";

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/stripe")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn a_real_event_signed_with_our_secret_is_accepted_and_read() {
        let body = fixture("checkout_session_completed__supabase-stripe-sync-engine.json");
        let now = 1_800_000_000;
        let header = sign(SECRET, now - 10, &body);
        let e = verified_event(Some(&header), &body, SECRET, now).unwrap();
        assert_eq!(e.id, "evt_T8nSaZqtPudigUMqnnbY4D4v");
        assert_eq!(e.kind, "checkout.session.completed");
        assert_eq!(e.data.object["amount_total"], 999);
        assert_eq!(e.data.object["currency"], "eur");
    }

    #[test]
    fn altered_old_future_foreign_or_unsigned_deliveries_are_refused() {
        let body = fixture("payment_intent_succeeded__supabase-stripe-sync-engine.json");
        let now = 1_800_000_000;
        let good = sign(SECRET, now, &body);
        let mut altered = body.clone();
        let at = altered.iter().position(|b| b.is_ascii_digit()).unwrap();
        altered[at] = if altered[at] == b'9' { b'8' } else { b'9' };
        assert_eq!(
            verify(Some(&good), &altered, SECRET, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&sign(SECRET, now - 301, &body)), &body, SECRET, now),
            Err(SignatureError::OutsideTolerance(301))
        );
        assert_eq!(
            verify(Some(&sign(SECRET, now + 400, &body)), &body, SECRET, now),
            Err(SignatureError::OutsideTolerance(-400))
        );
        assert!(verify(Some(&sign(SECRET, now - 300, &body)), &body, SECRET, now).is_ok());
        assert_eq!(
            verify(Some(&sign("whsec_other", now, &body)), &body, SECRET, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(None, &body, SECRET, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("v1=abcd"), &body, SECRET, now),
            Err(SignatureError::NoTimestamp)
        );
        let v0_only = good.replace("v1=", "v0=");
        assert_eq!(
            verify(Some(&v0_only), &body, SECRET, now),
            Err(SignatureError::NoSignature)
        );
        assert_eq!(
            verify(Some("t=abc,v1=zz"), &body, SECRET, now),
            Err(SignatureError::NoTimestamp)
        );
    }

    #[test]
    fn events_become_ledger_actions() {
        let body = fixture("checkout_session_completed__supabase-stripe-sync-engine.json");
        let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["data"]["object"]["client_reference_id"] = "inv-1".into();
        v["data"]["object"]["payment_status"] = "paid".into();
        v["data"]["object"]["payment_intent"] = "pi_9".into();
        let e: Event = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(
            actions(&e),
            [Action::Pay {
                invoice: "inv-1".into(),
                amount: 999,
                currency: "EUR".into(),
                reference: "pi_9".into()
            }]
        );
        v["data"]["object"]["payment_status"] = "unpaid".into();
        let e: Event = serde_json::from_value(v.clone()).unwrap();
        assert!(matches!(actions(&e)[0], Action::Ignore(_)), "async: wait");
        v["type"] = "checkout.session.async_payment_failed".into();
        let e: Event = serde_json::from_value(v.clone()).unwrap();
        assert!(
            matches!(actions(&e)[0], Action::Ignore(_)),
            "failure undoes nothing"
        );
        let refund = serde_json::json!({
            "id": "evt_r", "type": "charge.refunded", "created": 1,
            "data": {"object": {"id": "ch_1", "currency": "brl", "metadata": {"invoice_id": "inv-2"},
              "refunds": {"data": [{"id": "re_1", "amount": 300}, {"id": "re_2", "amount": 200}]}}}
        });
        let e: Event = serde_json::from_value(refund).unwrap();
        assert_eq!(actions(&e).len(), 2);
        assert_eq!(
            actions(&e)[1],
            Action::Refund {
                invoice: "inv-2".into(),
                amount: 200,
                currency: "BRL".into(),
                reference: "re_2".into()
            }
        );
    }

    #[test]
    fn any_of_several_signatures_may_match_while_a_secret_rolls() {
        let body = fixture("stripe-openapi_fixture_event.json");
        let now = 1_800_000_000;
        let old = sign("whsec_old_secret", now, &body);
        let new = sign(SECRET, now, &body);
        let both = format!("{old},{}", new.split(',').nth(1).unwrap());
        assert!(verify(Some(&both), &body, SECRET, now).is_ok());
        let reversed = format!("{new},{}", old.split(',').nth(1).unwrap());
        assert!(verify(Some(&reversed), &body, SECRET, now).is_ok());
        assert!(verify(Some(&both), &body, "whsec_third", now).is_err());
        // Verified but not an event: refused after the check.
        let junk = b"not json";
        assert!(matches!(
            verified_event(Some(&sign(SECRET, now, junk)), junk, SECRET, now),
            Err(SignatureError::NotAnEvent(_))
        ));
    }
}
