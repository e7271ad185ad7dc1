//! Billing records on every backend: numbers issued once each even when writers race,
//! an accounting system's document pushed twice stored once, and a ledger that records each
//! provider reference once, keeps to the invoice's currency, never refunds more than was
//! paid, and always sums to the invoice's paid amount.

use switchboard_core::store::{NewInvoice, PaymentOutcome};

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    racing_writers_get_distinct_numbers_in_order,
    the_ledger_records_each_reference_once_and_balances,
);

async fn contact(env: &Env, who: &str) -> String {
    let conv = env
        .open(env.email(who, &format!("{who}-m@example.com"), "hi"))
        .await;
    env.store.conversation(&conv).await.unwrap().contact_id
}

fn new<'a>(contact: &'a str, external: Option<&'a str>) -> NewInvoice<'a> {
    NewInvoice {
        kind: "invoice",
        company_id: None,
        contact_id: contact,
        status: "sent",
        currency: "BRL",
        document: "{\"lines\":[]}",
        subtotal: 10_000,
        tax: 500,
        total: 10_500,
        issue_day: 20_000,
        due_day: Some(20_030),
        external_id: external,
    }
}

async fn racing_writers_get_distinct_numbers_in_order(env: Env) {
    let who = contact(&env, "ana@example.com").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = env.store.clone();
        let ids = env.ids.clone();
        let who = who.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_invoice(&ids, &new(&who, None), "invoice:2026", &|n| {
                    format!("INV-2026-{n:05}")
                })
                .await
                .unwrap()
                .number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("INV-2026-{n:05}")).collect();
    assert_eq!(numbers, expected);
    // Another year has its own sequence.
    let next = env
        .store
        .create_invoice(&env.ids, &new(&who, None), "invoice:2027", &|n| {
            format!("INV-2027-{n:05}")
        })
        .await
        .unwrap();
    assert_eq!(next.number, "INV-2027-00001");
    // Pushed twice by an accounting system: stored once, no number spent.
    let a = env
        .store
        .create_invoice(&env.ids, &new(&who, Some("qb-77")), "invoice:2026", &|n| {
            format!("INV-2026-{n:05}")
        })
        .await
        .unwrap();
    let b = env
        .store
        .create_invoice(&env.ids, &new(&who, Some("qb-77")), "invoice:2026", &|n| {
            format!("INV-2026-{n:05}")
        })
        .await
        .unwrap();
    assert_eq!(
        (a.id.as_str(), a.number.as_str()),
        (b.id.as_str(), "INV-2026-00009")
    );
    // Bad documents are refused.
    let mut bad = new(&who, None);
    bad.currency = "XYZ";
    assert!(
        env.store
            .create_invoice(&env.ids, &bad, "invoice:2026", &|n| format!("X{n}"))
            .await
            .is_err()
    );
    let mut bad = new(&who, None);
    bad.kind = "receipt";
    assert!(
        env.store
            .create_invoice(&env.ids, &bad, "invoice:2026", &|n| format!("X{n}"))
            .await
            .is_err()
    );
}

async fn the_ledger_records_each_reference_once_and_balances(env: Env) {
    let who = contact(&env, "bo@example.com").await;
    let inv = env
        .store
        .create_invoice(&env.ids, &new(&who, None), "invoice", &|n| format!("#{n}"))
        .await
        .unwrap();
    let s = &env.store;
    // The same Stripe event delivered eight times at once: one payment.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let ids = env.ids.clone();
        let id = inv.id.clone();
        tasks.push(tokio::spawn(async move {
            s.record_payment(&ids, &id, "payment", 4_000, "brl", "stripe", "pi_1")
                .await
                .unwrap()
        }));
    }
    let mut recorded = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), PaymentOutcome::Recorded { .. }) {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1);
    assert_eq!(s.invoice(&inv.id).await.unwrap().paid, 4_000);
    // Wrong currency, zero, a refund beyond what was paid: refused, nothing changes.
    assert!(
        s.record_payment(&env.ids, &inv.id, "payment", 100, "USD", "manual", "m1")
            .await
            .is_err()
    );
    assert!(
        s.record_payment(&env.ids, &inv.id, "payment", 0, "BRL", "manual", "m2")
            .await
            .is_err()
    );
    assert!(
        s.record_payment(&env.ids, &inv.id, "refund", 4_001, "BRL", "stripe", "re_1")
            .await
            .is_err()
    );
    assert!(
        s.record_payment(&env.ids, "nope", "payment", 1, "BRL", "manual", "m3")
            .await
            .is_err()
    );
    assert_eq!(s.invoice(&inv.id).await.unwrap().paid, 4_000);
    // The rest, a refund, and a late duplicate of the first payment.
    assert_eq!(
        s.record_payment(
            &env.ids, &inv.id, "payment", 6_500, "BRL", "manual", "cash-1"
        )
        .await
        .unwrap(),
        PaymentOutcome::Recorded { paid: 10_500 }
    );
    assert_eq!(
        s.record_payment(&env.ids, &inv.id, "refund", 1_000, "BRL", "stripe", "re_1")
            .await
            .unwrap(),
        PaymentOutcome::Recorded { paid: 9_500 }
    );
    assert_eq!(
        s.record_payment(&env.ids, &inv.id, "payment", 4_000, "BRL", "stripe", "pi_1")
            .await
            .unwrap(),
        PaymentOutcome::Duplicate { paid: 9_500 }
    );
    let ledger = s.ledger(&inv.id).await.unwrap();
    assert_eq!(ledger.len(), 3);
    let sum: i64 = ledger
        .iter()
        .map(|e| {
            if e.kind == "refund" {
                -e.amount
            } else {
                e.amount
            }
        })
        .sum();
    assert_eq!(
        sum,
        s.invoice(&inv.id).await.unwrap().paid,
        "the ledger balances"
    );
}
