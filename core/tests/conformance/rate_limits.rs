//! Allowances kept in the database: `n` uses at once, then one per interval; keys apart;
//! uses taken at the same instant from many tasks (as from several nodes) never exceed
//! the allowance; whole keys are forgotten.

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(allowances_are_shared_and_exact);

async fn allowances_are_shared_and_exact(env: Env) {
    let s = env.store.clone();
    const MIN: i64 = 60_000;
    let t0 = 1_800_000_000_000i64;
    // 5 per 15 minutes: five at once, the sixth refused.
    for i in 0..5 {
        assert!(
            s.take_allowance("login:ana@example.com", 5, 15 * MIN, t0)
                .await
                .unwrap(),
            "use {i}"
        );
    }
    assert!(
        !s.take_allowance("login:ana@example.com", 5, 15 * MIN, t0)
            .await
            .unwrap()
    );
    // Another key has its own allowance.
    assert!(
        s.take_allowance("login:bob@example.com", 5, 15 * MIN, t0)
            .await
            .unwrap()
    );
    // One use comes back per interval (3 minutes), not the whole allowance.
    let later = t0 + 3 * MIN;
    assert!(
        s.take_allowance("login:ana@example.com", 5, 15 * MIN, later)
            .await
            .unwrap()
    );
    assert!(
        !s.take_allowance("login:ana@example.com", 5, 15 * MIN, later)
            .await
            .unwrap()
    );
    // A refusal costs nothing: after one interval more there is again exactly one.
    let later = t0 + 6 * MIN;
    assert!(
        s.take_allowance("login:ana@example.com", 5, 15 * MIN, later)
            .await
            .unwrap()
    );
    assert!(
        !s.take_allowance("login:ana@example.com", 5, 15 * MIN, later)
            .await
            .unwrap()
    );

    // Twenty at the same instant against an allowance of 7: exactly 7.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.take_allowance("link:ip:10.0.0.1", 7, 60 * MIN, t0).await })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(granted, 7);

    // Once whole again, keys are forgotten; spent ones stay.
    let forgotten = s.forget_whole_allowances(t0 + 16 * MIN).await.unwrap();
    assert_eq!(forgotten, 1, "bob's key only");
    // 16 minutes on, one of the seven (one per 8.6 minutes) is back.
    assert!(
        s.take_allowance("link:ip:10.0.0.1", 7, 60 * MIN, t0 + 16 * MIN)
            .await
            .unwrap()
    );
    assert!(
        !s.take_allowance("link:ip:10.0.0.1", 7, 60 * MIN, t0 + 16 * MIN)
            .await
            .unwrap()
    );
}
