//! Stripe's webhook against the real binary: signatures checked first, each event and
//! each payment counted once, a failure never undoing a payment, refunds recorded once,
//! mismatched currencies refused without changing anything.

use serde_json::{Value, json};
use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{NewInvoice, Store};

use crate::support::{Backend, Server, eventually};

const SECRET: &str = "whsec_e2e_0123456789abcdef";

fn fixture() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/fixtures/stripe/checkout_session_completed__supabase-stripe-sync-engine.json",
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

async fn deliver(server: &Server, body: &Value, t: i64, secret: &str) -> (u16, Value) {
    let raw = serde_json::to_vec(body).unwrap();
    let r = server
        .http
        .post(server.url("/webhooks/stripe"))
        .header(
            "stripe-signature",
            switchboard_portal::stripe::sign(secret, t, &raw),
        )
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn now() -> i64 {
    Ids::new(std::sync::Arc::new(SystemClock)).now_ms() / 1000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_events_pay_an_invoice_exactly_once() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_STRIPE__WEBHOOK_SECRET", SECRET)],
    )
    .await;
    let agent = server.add_user("ana@example.com", "admin");
    // The accounting system subscribes to paid invoices.
    let (hook_url, got) = crate::webhooks::receiver(0).await;
    let (code, body) = server
        .post(
            &agent,
            "/api/v1/webhooks",
            &json!({"url": hook_url, "events": ["invoice.paid"]}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (_w, conv) = server.visitor_writes(&agent, "hi").await;
    let (_, c) = server
        .get(&agent, &format!("/api/v1/conversations/{conv}"))
        .await;
    let contact = c["conversation"]["contact_id"].as_str().unwrap().to_owned();
    let store = Store::connect(&Store::sqlite_url(server.dir.path()))
        .await
        .unwrap();
    let ids = Ids::new(std::sync::Arc::new(SystemClock));
    let invoice = store
        .create_invoice(
            &ids,
            &NewInvoice {
                kind: "invoice",
                company_id: None,
                contact_id: &contact,
                status: "sent",
                currency: "EUR",
                document: "{}",
                subtotal: 999,
                tax: 0,
                total: 999,
                issue_day: 20_000,
                due_day: None,
                external_id: None,
            },
            "invoice",
            &|n| format!("INV-{n}"),
        )
        .await
        .unwrap();
    let paid = || async { store.invoice(&invoice.id).await.unwrap().paid };
    let mut event = fixture();
    event["data"]["object"]["client_reference_id"] = invoice.id.clone().into();
    event["data"]["object"]["payment_status"] = "paid".into();
    event["data"]["object"]["payment_intent"] = "pi_e2e_1".into();

    // Forged, stale or unsigned: 400, nothing recorded.
    assert_eq!(deliver(&server, &event, now(), "whsec_wrong").await.0, 400);
    assert_eq!(deliver(&server, &event, now() - 3_600, SECRET).await.0, 400);
    let r = server
        .http
        .post(server.url("/webhooks/stripe"))
        .body(serde_json::to_vec(&event).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(paid().await, 0);

    // Paid once, however often and however many at once.
    let (status, body) = deliver(&server, &event, now(), SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(paid().await, 999);
    let (status, body) = deliver(&server, &event, now(), SECRET).await;
    assert_eq!((status, body["duplicate"].clone()), (200, json!(true)));
    let mut racing = Vec::new();
    for i in 0..6 {
        let mut e = event.clone();
        e["id"] = format!("evt_race_{i}").into();
        e["type"] = "checkout.session.async_payment_succeeded".into();
        racing.push(e);
    }
    let results =
        futures::future::join_all(racing.iter().map(|e| deliver(&server, e, now(), SECRET))).await;
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!(paid().await, 999, "the same payment intent counts once");
    // The accounting system hears of it once.
    eventually(10, || {
        let n = got.lock().unwrap().len();
        async move { n >= 1 }
    })
    .await;
    // A late failure undoes nothing.
    let mut failed = event.clone();
    failed["id"] = "evt_failed".into();
    failed["type"] = "checkout.session.async_payment_failed".into();
    assert_eq!(deliver(&server, &failed, now(), SECRET).await.0, 200);
    assert_eq!(paid().await, 999);
    // Another currency: refused, kept, nothing changes.
    let mut usd = event.clone();
    usd["id"] = "evt_usd".into();
    usd["data"]["object"]["currency"] = "usd".into();
    usd["data"]["object"]["payment_intent"] = "pi_e2e_usd".into();
    let (status, body) = deliver(&server, &usd, now(), SECRET).await;
    assert_eq!(status, 200);
    assert!(
        body["outcome"].as_str().unwrap().starts_with("refused"),
        "{body}"
    );
    assert_eq!(paid().await, 999);
    // A refund, delivered twice: taken back once.
    let refund = json!({
        "id": "evt_refund", "object": "event", "type": "charge.refunded", "created": now(),
        "data": {"object": {"id": "ch_1", "object": "charge", "currency": "eur",
            "metadata": {"invoice_id": invoice.id},
            "refunds": {"data": [{"id": "re_e2e_1", "amount": 300}]}}}
    });
    assert_eq!(deliver(&server, &refund, now(), SECRET).await.0, 200);
    let mut again = refund.clone();
    again["id"] = "evt_refund_again".into();
    assert_eq!(deliver(&server, &again, now(), SECRET).await.0, 200);
    eventually(5, || async { paid().await == 699 }).await;
    let ledger = store.ledger(&invoice.id).await.unwrap();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one invoice.paid: {got:?}");
    let v: Value = serde_json::from_str(&got[0].2).unwrap();
    assert_eq!(
        (
            v["type"].clone(),
            v["data"]["invoice"]["id"].clone(),
            v["data"]["payment"]["amount"].clone()
        ),
        (json!("invoice.paid"), json!(invoice.id), json!(999))
    );
}
