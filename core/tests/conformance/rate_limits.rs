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
    // A login allowance of 5 per 15 minutes: which of `n` uses in a row at `t` are granted.
    let granted = |key: &'static str, n: usize, t: i64| {
        let s = s.clone();
        async move {
            let mut got = Vec::new();
            for _ in 0..n {
                got.push(s.take_allowance(key, 5, 15 * MIN, t).await.unwrap());
            }
            got
        }
    };
    // Five at once, the sixth refused.
    assert_eq!(
        granted("login:ana@example.com", 6, t0).await,
        [true, true, true, true, true, false]
    );
    // Another key has its own allowance.
    assert_eq!(granted("login:bob@example.com", 1, t0).await, [true]);
    // One use comes back per interval (3 minutes), not the whole allowance.
    assert_eq!(
        granted("login:ana@example.com", 2, t0 + 3 * MIN).await,
        [true, false]
    );
    // A refusal costs nothing: after one interval more there is again exactly one.
    assert_eq!(
        granted("login:ana@example.com", 2, t0 + 6 * MIN).await,
        [true, false]
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
