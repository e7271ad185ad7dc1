//! The stream contract, on both implementations.

use std::time::Duration;

use switchboard_core::stream::Stream;

use crate::on_every_backend;
use crate::support::Env;

const T: &str = "conformance";
const G: &str = "g";

async fn append_n(s: &dyn Stream, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(s.append(T, &format!("m{i}")).await.unwrap());
    }
    ids
}

on_every_backend!(
    reads_in_order_and_ack_removes,
    entries_before_the_group_exist_are_delivered,
    read_waits_then_returns_nothing,
    one_group_never_hands_an_entry_out_twice,
    dead_consumers_entries_are_reclaimed,
    idle_entries_behind_many_fresh_ones_are_reclaimed,
    groups_are_independent,
    trim_keeps_what_is_pending,
    concurrent_appends_all_land,
    a_restarted_consumer_gets_its_own_pending_back,
    a_silent_consumers_entries_are_taken_over_sooner,
);

/// A consumer that has stopped asking the stream for anything (its node died) loses its
/// pending entries once silent for the time given, sooner than the idle time `reclaim`
/// waits for; one that keeps asking keeps its own even when nothing new comes, and two
/// takers never share an entry. One process's embedded stream has no other node's
/// consumers to take from.
async fn a_silent_consumers_entries_are_taken_over_sooner(env: Env) {
    const SILENT: Duration = Duration::from_millis(500);
    const MARGIN: Duration = Duration::from_millis(150);
    let s = env.stream.as_ref();
    let redis = s.kind() == "redis";
    s.ensure_group(T, G).await.unwrap();
    append_n(s, 4).await;
    let busy = s
        .read(T, G, "busy", 2, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(busy.len(), 2);
    let take = |who: &'static str, silent: Duration| async move {
        s.reclaim_from_silent(T, G, who, silent, 10).await.unwrap()
    };
    assert!(take("taker", Duration::from_secs(60)).await.is_empty());
    tokio::time::sleep(SILENT + MARGIN).await;
    // Busy has had nothing new for a while, and says it is alive: it keeps its entries.
    assert!(take("busy", SILENT).await.is_empty());
    assert!(take("taker", SILENT).await.is_empty());

    let dead = s
        .read(T, G, "dead", 2, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(dead.len(), 2);
    tokio::time::sleep(SILENT + MARGIN).await;
    let taken = take("busy", SILENT).await;
    assert!(take("taker", SILENT).await.is_empty());
    if redis {
        let payloads: Vec<_> = taken.iter().map(|e| e.payload.as_str()).collect();
        assert_eq!(payloads, ["m2", "m3"]);
        assert!(taken.iter().all(|e| e.deliveries == 2), "{taken:?}");
    } else {
        assert!(taken.is_empty(), "{taken:?}");
    }
}

async fn a_restarted_consumer_gets_its_own_pending_back(env: Env) {
    let s = env.stream.as_ref();
    s.ensure_group(T, G).await.unwrap();
    append_n(s, 4).await;
    let mine = s
        .read(T, G, "node-a", 2, Duration::from_millis(10))
        .await
        .unwrap();
    let theirs = s
        .read(T, G, "node-b", 1, Duration::from_millis(10))
        .await
        .unwrap();
    s.ack(T, G, &[mine[0].id.clone()]).await.unwrap();
    // node-a restarts: it gets back what it took and did not finish, at once.
    let back = s.pending_for(T, G, "node-a", 10).await.unwrap();
    assert_eq!(
        back.iter().map(|e| e.payload.as_str()).collect::<Vec<_>>(),
        ["m1"]
    );
    assert!(back[0].deliveries >= 2, "{back:?}");
    let b = s.pending_for(T, G, "node-b", 10).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].payload, theirs[0].payload);
    assert!(s.pending_for(T, G, "node-c", 10).await.unwrap().is_empty());
}

async fn reads_in_order_and_ack_removes(env: Env) {
    let s = env.stream.as_ref();
    s.ensure_group(T, G).await.unwrap();
    s.ensure_group(T, G).await.unwrap(); // idempotent
    append_n(s, 5).await;
    assert_eq!(s.depth(T, G).await.unwrap(), 5);
    let got = s
        .read(T, G, "c1", 3, Duration::from_millis(10))
        .await
        .unwrap();
    let payloads: Vec<_> = got.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, ["m0", "m1", "m2"]);
    assert!(got.iter().all(|e| e.deliveries == 1));
    let rest = s
        .read(T, G, "c1", 10, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].payload, "m3");
    assert_eq!(
        s.depth(T, G).await.unwrap(),
        5,
        "read but unacked entries still count"
    );
    let ids: Vec<String> = got.iter().chain(&rest).map(|e| e.id.clone()).collect();
    s.ack(T, G, &ids).await.unwrap();
    assert_eq!(s.depth(T, G).await.unwrap(), 0);
}

async fn entries_before_the_group_exist_are_delivered(env: Env) {
    let s = env.stream.as_ref();
    append_n(s, 2).await;
    s.ensure_group(T, G).await.unwrap();
    let got = s
        .read(T, G, "c1", 10, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
}

async fn read_waits_then_returns_nothing(env: Env) {
    let s = env.stream.clone();
    s.ensure_group(T, G).await.unwrap();
    let started = std::time::Instant::now();
    assert!(
        s.read(T, G, "c1", 10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "returned after {:?}",
        started.elapsed()
    );
    // A blocked reader wakes up for an append.
    let reader = tokio::spawn({
        let s = s.clone();
        async move {
            s.read(T, G, "c1", 10, Duration::from_secs(5))
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    s.append(T, "late").await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woke after {:?}",
        started.elapsed()
    );
}

async fn one_group_never_hands_an_entry_out_twice(env: Env) {
    let s = env.stream.clone();
    s.ensure_group(T, G).await.unwrap();
    append_n(s.as_ref(), 300).await;
    let mut tasks = Vec::new();
    for c in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = s
                    .read(T, G, &format!("c{c}"), 7, Duration::from_millis(50))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|e| e.payload));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 300, "every entry handed out once");
    assert_eq!(all.len(), 300);
}

async fn dead_consumers_entries_are_reclaimed(env: Env) {
    const IDLE: Duration = Duration::from_millis(500);
    const MARGIN: Duration = Duration::from_millis(100);
    let s = env.stream.as_ref();
    s.ensure_group(T, G).await.unwrap();
    append_n(s, 3).await;
    let taken = s
        .read(T, G, "dead", 2, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    // Not idle long enough yet.
    assert!(
        s.reclaim(T, G, "alive", Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Idle times are wall-clock (Redis keeps them on the server), so the margins are wide
    // enough for a loaded machine: entries idle for 600 ms are taken over with a 500 ms
    // threshold, and a fresh claim must not look 500 ms idle a moment later.
    tokio::time::sleep(IDLE + MARGIN).await;
    let back = s.reclaim(T, G, "alive", IDLE, 10).await.unwrap();
    let payloads: Vec<_> = back.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, ["m0", "m1"]);
    assert!(back.iter().all(|e| e.deliveries == 2), "{back:?}");
    // Once taken over, it is no longer idle.
    assert!(s.reclaim(T, G, "third", IDLE, 10).await.unwrap().is_empty());
    s.ack(T, G, &back.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    tokio::time::sleep(IDLE + MARGIN).await;
    assert!(s.reclaim(T, G, "third", IDLE, 10).await.unwrap().is_empty());
    assert_eq!(s.depth(T, G).await.unwrap(), 1);
}

/// Entries a dead consumer left are found however many fresh pending entries come before
/// them (Redis scans a bounded part of the pending list per XAUTOCLAIM: the cursor must be
/// followed).
async fn idle_entries_behind_many_fresh_ones_are_reclaimed(env: Env) {
    const IDLE: Duration = Duration::from_millis(500);
    const MARGIN: Duration = Duration::from_millis(100);
    let s = env.stream.as_ref();
    s.ensure_group(T, G).await.unwrap();
    append_n(s, 100).await;
    let taken = s
        .read(T, G, "dead", 100, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(taken.len(), 100);
    tokio::time::sleep(IDLE + MARGIN).await;
    // A live consumer takes the first 60 over: they are fresh again, the last 40 idle.
    let busy = s.reclaim(T, G, "busy", IDLE, 60).await.unwrap();
    assert_eq!(busy.len(), 60);
    let back = s.reclaim(T, G, "alive", IDLE, 5).await.unwrap();
    let payloads: Vec<_> = back.iter().map(|e| e.payload.as_str()).collect();
    assert_eq!(payloads, ["m60", "m61", "m62", "m63", "m64"]);
}

async fn groups_are_independent(env: Env) {
    let s = env.stream.as_ref();
    s.ensure_group(T, "a").await.unwrap();
    s.ensure_group(T, "b").await.unwrap();
    append_n(s, 2).await;
    let a = s
        .read(T, "a", "c", 10, Duration::from_millis(10))
        .await
        .unwrap();
    s.ack(T, "a", &a.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    s.trim(T).await.unwrap();
    let b = s
        .read(T, "b", "c", 10, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(b.len(), 2, "group b still sees what group a finished");
}

async fn trim_keeps_what_is_pending(env: Env) {
    let s = env.stream.as_ref();
    s.ensure_group(T, G).await.unwrap();
    append_n(s, 4).await;
    let got = s
        .read(T, G, "c", 4, Duration::from_millis(10))
        .await
        .unwrap();
    // Ack all but the second.
    let acked: Vec<String> = got
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, e)| e.id.clone())
        .collect();
    s.ack(T, G, &acked).await.unwrap();
    s.trim(T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let back = s
        .reclaim(T, G, "c2", Duration::from_millis(50), 10)
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].payload, "m1");
}

async fn concurrent_appends_all_land(env: Env) {
    let s = env.stream.clone();
    s.ensure_group(T, G).await.unwrap();
    let mut tasks = Vec::new();
    for p in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..100 {
                s.append(T, &format!("p{p}-{i}")).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seen = Vec::new();
    loop {
        let got = s
            .read(T, G, "c", 500, Duration::from_millis(50))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        seen.extend(got);
    }
    assert_eq!(seen.len(), 800);
    // Each producer's entries come out in the order it appended them.
    for p in 0..8 {
        let mine: Vec<usize> = seen
            .iter()
            .filter_map(|e| {
                e.payload
                    .strip_prefix(&format!("p{p}-"))
                    .map(|i| i.parse().unwrap())
            })
            .collect();
        assert_eq!(mine, (0..100).collect::<Vec<_>>());
    }
}
