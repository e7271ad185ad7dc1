//! Three nodes on one PostgreSQL and one Redis (each the test's own: Redis with AOF), behind
//! a round-robin balancer of the test's own: web-chat visitors write through it, WhatsApp
//! delivers signed webhooks through it (each sent again until answered 200, as Meta does),
//! and customers mail a mailbox in Dovecot that all three nodes are configured to read
//! (one at a time, by lease), while Redis is killed (`kill -9`) and started again on its data, one node is
//! killed (`kill -9`, and left down), the other two are restarted one after the other
//! (SIGTERM, start again), and PostgreSQL is stopped at once (`immediate`: no checkpoint,
//! its clients cut off, crash recovery when it starts again) and started. Every message a visitor had acknowledged and every delivery
//! answered 200 is stored exactly once, each visitor and each WhatsApp number has one
//! conversation, the dead node's taken entries are finished by the others within seconds
//! of its death, and every node's agent sockets see new messages afterwards. The load runs
//! until the test stops it after PostgreSQL's return, so each fault comes under all three
//! kinds of load whatever the machine's speed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::crash::try_stored_texts;
use crate::support::{Backend, Server, eventually, next_json};

const VISITORS: usize = 12;
/// The most messages one visitor writes (the load stops well before, when told to).
const MAX_PER_VISITOR: usize = 2000;
/// Acknowledgements between one fault and the next: each fault comes under load.
const BETWEEN_FAULTS: usize = 200;
/// WhatsApp deliveries come from `NUMBERS` customers' numbers.
const NUMBERS: usize = 8;
/// Sockets opened again after one died (for the log).
static RECONNECTS: AtomicUsize = AtomicUsize::new(0);
/// Messages refused as unavailable (Redis away), sent again (for the log).
static REFUSED: AtomicUsize = AtomicUsize::new(0);

/// A PostgreSQL cluster of the test's own (the shared one serves the other tests), on a
/// free port and a temporary directory, to be stopped and started under load.
struct OwnPostgres {
    bin: PathBuf,
    /// Running as root: the server runs as the `postgres` user (it refuses root).
    root: bool,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl OwnPostgres {
    fn start() -> Self {
        // Debian's server binaries: /usr/lib/postgresql/<version>/bin, the newest.
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server installed")
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|p| p.join("postgres").exists())
            .max()
            .expect("a PostgreSQL server version");
        let dir = tempfile::tempdir().unwrap();
        let pg = Self {
            bin,
            root: Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.trim_ascii() == b"0"),
            dir,
            port: crate::support::free_port(),
            child: None,
        };
        // The server refuses to run as root: then as the `postgres` user.
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(pg.dir.path())
            .status()
            .ok();
        let data = pg.data();
        let init = pg
            .command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(init.success(), "initdb");
        let mut pg = pg;
        pg.spawn();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn spawn(&mut self) {
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres");
        self.child = Some(child);
        crate::support::wait_listening(self.port, "postgres", 10);
    }

    /// An immediate stop: every server process quits at once, nothing flushed beyond the
    /// write-ahead log; the next start recovers from it.
    fn stop_immediately(&mut self) {
        assert!(self.pg_ctl_stop(), "pg_ctl stop");
        if let Some(mut c) = self.child.take() {
            c.wait().unwrap();
        }
    }

    /// `pg_ctl stop -m immediate`; whether it succeeded.
    fn pg_ctl_stop(&self) -> bool {
        self.command("pg_ctl")
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    async fn database(&self) -> String {
        use sqlx::Executor;
        sqlx::any::install_default_drivers();
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        // The port listens before the server takes connections ("the database system is
        // starting up"): asked again for a while.
        let mut tries = 0;
        let mut conn = loop {
            match <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
                Ok(conn) => break conn,
                Err(e) => {
                    tries += 1;
                    assert!(tries < 200, "postgres does not take connections: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        conn.execute("CREATE DATABASE cluster").await.unwrap();
        format!("postgres://postgres@127.0.0.1:{}/cluster", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.pg_ctl_stop();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP balancer on loopback: each connection goes to the next node that accepts one.
async fn balancer(ports: Vec<u16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (ports, next) = (ports.clone(), next.clone());
            tokio::spawn(async move {
                for _ in 0..ports.len() {
                    let i = next.fetch_add(1, Ordering::Relaxed) % ports.len();
                    if let Ok(mut node) = TcpStream::connect(("127.0.0.1", ports[i])).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
                        return;
                    }
                }
            });
        }
    });
    port
}

fn text(v: usize, i: usize) -> String {
    format!("cluster visitor {v} message {i:04}")
}

/// A widget socket through the balancer, or `None` while it cannot get one.
async fn connect(
    port: u16,
    visitor: Option<&str>,
) -> Option<(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    String,
)> {
    let url = match visitor {
        Some(v) => format!("ws://127.0.0.1:{port}/webchat/ws?visitor={v}"),
        None => format!("ws://127.0.0.1:{port}/webchat/ws"),
    };
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .ok()?
    .ok()?;
    let welcome = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .ok()??
        .ok()?;
    let welcome: Value = serde_json::from_str(welcome.to_text().ok()?).ok()?;
    let id = welcome["visitor"].as_str()?.to_owned();
    Some((ws, id))
}

/// One visitor writes messages, 100 ms apart, until `stop`, with up to `WINDOW`
/// unacknowledged at a time, each resent (same client id) until acknowledged, reconnecting
/// through the balancer whenever its socket dies: a node that dies with messages in flight
/// has often stored some whose acknowledgement never left it. Returns the visitor's id and
/// how many messages it wrote.
async fn visitor(
    lb: u16,
    v: usize,
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> (String, usize) {
    const WINDOW: usize = 8;
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut id: Option<String> = None;
    let mut unacked: BTreeSet<usize> = BTreeSet::new();
    let mut fresh = 0;
    let writing = |fresh: usize| fresh < MAX_PER_VISITOR && !stop.load(Ordering::SeqCst);
    'connect: while writing(fresh) || !unacked.is_empty() {
        assert!(
            Instant::now() < deadline,
            "visitor {v}: {unacked:?} never acknowledged"
        );
        let Some((ws, got)) = connect(lb, id.as_deref()).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if let Some(before) = &id {
            assert_eq!(&got, before, "visitor {v} keeps its id");
            RECONNECTS.fetch_add(1, Ordering::Relaxed);
        }
        id = Some(got);
        let (mut tx, mut rx) = ws.split();
        let send = |i: usize| {
            Message::Text(
                json!({"type": "message", "client_id": format!("v{v}-{i}"), "text": text(v, i)})
                    .to_string()
                    .into(),
            )
        };
        // What the last socket left unacknowledged goes again first.
        for &i in &unacked {
            if tx.send(send(i)).await.is_err() {
                continue 'connect;
            }
        }
        while writing(fresh) || !unacked.is_empty() {
            while unacked.len() < WINDOW && writing(fresh) {
                if tx.send(send(fresh)).await.is_err() {
                    continue 'connect;
                }
                unacked.insert(fresh);
                fresh += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(3), rx.next()).await
            else {
                continue 'connect;
            };
            let Ok(f) = serde_json::from_str::<Value>(msg.to_text().unwrap_or_default()) else {
                continue;
            };
            let Some(i) = f["client_id"]
                .as_str()
                .and_then(|c| c.strip_prefix(&format!("v{v}-")))
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            match f["type"].as_str() {
                Some("ack") if unacked.remove(&i) => {
                    acks.fetch_add(1, Ordering::SeqCst);
                }
                // Refused while a node's stream or database is away: sent again.
                Some("error") => {
                    assert_eq!(f["code"], "unavailable", "{f}");
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'connect;
                }
                _ => {}
            }
        }
    }
    (id.unwrap_or_default(), fresh)
}

fn wa_text(i: usize) -> String {
    format!("cluster whatsapp {i:04}")
}

/// WhatsApp's side: signed deliveries through the balancer, 40 ms apart, until `stop`,
/// each sent again until it is answered 200 (a refusal, a dead node's dropped
/// connection). Counts the deliveries answered 200 in `acks`; returns how many there were.
async fn whatsapp(lb: u16, acks: Arc<AtomicUsize>, stop: Arc<AtomicBool>) -> usize {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let from = format!("55119{:08}", i % NUMBERS);
        let body = crate::whatsapp::text_from(&from, &format!("wamid.cluster.{i}"), &wa_text(i));
        let signature = switchboard_channels::whatsapp::signature::sign(
            crate::whatsapp::APP_SECRET.as_bytes(),
            &body,
        );
        loop {
            assert!(Instant::now() < deadline, "delivery {i} never answered 200");
            let r = http
                .post(format!("http://127.0.0.1:{lb}/webhooks/whatsapp"))
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &signature)
                .body(body.clone())
                .send()
                .await;
            match r.map(|r| r.status().as_u16()) {
                Ok(200) => break,
                Ok(s) => assert!(s >= 500, "delivery {i} answered {s}"),
                Err(_) => {}
            }
            REFUSED.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acks.fetch_add(1, Ordering::SeqCst);
        i += 1;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    i
}

fn mail_text(i: usize) -> String {
    format!("cluster mail {i:03}")
}

/// Customers' mail to the support mailbox (SMTP into Dovecot), 100 ms apart, until
/// `stop`. Counts them in `sent` as they go.
async fn mails(smtp: u16, stop: Arc<AtomicBool>, sent: Arc<AtomicUsize>) {
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let from = format!("cliente{}@example.com", i % 4);
        let raw = crate::mail::customer_mail(
            &from,
            "support@acme.test",
            &format!("cluster-{i}@example.com"),
            "",
            &format!("Pedido {i}"),
            &mail_text(i),
        );
        crate::mail::smtp_send(smtp, &from, &["support@acme.test"], &raw).await;
        i += 1;
        sent.store(i, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `BETWEEN_FAULTS` more acknowledgements (the load is running meanwhile);
/// returns how many there are then.
async fn after_more_acks(acks: &AtomicUsize) -> usize {
    let n = acks.load(Ordering::SeqCst) + BETWEEN_FAULTS;
    eventually(120, || async { acks.load(Ordering::SeqCst) >= n }).await;
    acks.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_lose_nothing_through_node_redis_and_postgres_failures() {
    let mut redis = crate::realtime::OwnRedis::start();
    let mut pg = OwnPostgres::start();
    let database = pg.database().await;
    let mail = crate::mail::MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "[email]\nnotify_every_minutes = 0\n[[email.inboxes]]\nname = \"support\"\naddress = \"support@acme.test\"\n\
             imap_url = \"imap://127.0.0.1:{}\"\nsmtp_url = \"smtp://127.0.0.1:{}\"\npassword = \"imap-pass\"\npoll_seconds = 1\n\
             [whatsapp]\ngraph_url = \"http://127.0.0.1:9\"\n[[whatsapp.numbers]]\nname = \"main\"\n\
             phone_number_id = \"{}\"\ntoken = \"cluster-token\"\napp_secret = \"{}\"\nverify_token = \"cluster-verify\"\n",
            mail.port("imap"),
            mail.port("smtp"),
            crate::whatsapp::PNID,
            crate::whatsapp::APP_SECRET
        ),
    )
    .unwrap();
    let mut a = Server::start_with(
        Backend::PostgresRedis,
        &[
            ("SWITCHBOARD_NODE_ID", "node-a"),
            ("DATABASE_URL", &database),
            ("REDIS_URL", &redis.url()),
            ("SWITCHBOARD_CONFIG", config.to_str().unwrap()),
        ],
    )
    .await;
    let mut b = a.another_node(&[("SWITCHBOARD_NODE_ID", "node-b")]).await;
    let mut c = a.another_node(&[("SWITCHBOARD_NODE_ID", "node-c")]).await;
    let agent = a.add_user("ana@example.com", "support");
    let lb = balancer(vec![a.port, b.port, c.port]).await;

    // The load runs until it is stopped after PostgreSQL's return, so every fault below
    // comes while web chat, WhatsApp and mail are all being written.
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..VISITORS)
        .map(|v| tokio::spawn(visitor(lb, v, acks.clone(), stop.clone())))
        .collect();
    let wa_acks = Arc::new(AtomicUsize::new(0));
    let wa_load = tokio::spawn(whatsapp(lb, wa_acks.clone(), stop.clone()));
    let mailed = Arc::new(AtomicUsize::new(0));
    let mail_load = tokio::spawn(mails(mail.port("smtp"), stop.clone(), mailed.clone()));

    // The stream dies and comes back on its append-only file; a node dies and stays
    // down; the two live nodes restart one at a time; PostgreSQL stops at once and starts
    // again. Each fault comes `BETWEEN_FAULTS` acknowledgements after the one before.
    let mut steps = Vec::new();
    steps.push(("Redis killed", after_more_acks(&acks).await));
    redis.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.spawn();
    steps.push(("node b killed", after_more_acks(&acks).await));
    b.kill9();
    let killed = Instant::now();
    steps.push(("node a stopped", after_more_acks(&acks).await));
    assert!(a.terminate().success(), "node a stops cleanly");
    a.spawn().await;
    steps.push(("node c stopped", after_more_acks(&acks).await));
    assert!(c.terminate().success(), "node c stops cleanly");
    c.spawn().await;
    steps.push(("PostgreSQL stopped", after_more_acks(&acks).await));
    let wa_at_stop = wa_acks.load(Ordering::SeqCst);
    let mailed_by_then = mailed.load(Ordering::SeqCst);
    pg.stop_immediately();
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.spawn();
    let pg_back = Instant::now();
    // Then more of each kind of load after PostgreSQL's return (WhatsApp's deliveries need
    // the database: they are answered 200 only once it is back), and the load stops.
    after_more_acks(&acks).await;
    eventually(120, || async {
        wa_acks.load(Ordering::SeqCst) >= wa_at_stop + 2 * NUMBERS
            && mailed.load(Ordering::SeqCst) > mailed_by_then
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let stopped = Instant::now();

    let mut visitors = Vec::new();
    for t in load {
        visitors.push(t.await.unwrap());
    }
    let deliveries = wa_load.await.unwrap();
    mail_load.await.unwrap();
    let mails = mailed.load(Ordering::SeqCst);
    let total: usize = visitors.iter().map(|(_, n)| n).sum();
    eprintln!(
        "cluster: acknowledgements at each fault: {steps:?}; in all {total} web-chat messages, {deliveries} WhatsApp deliveries ({wa_at_stop} by PostgreSQL's stop), {mails} mails ({mailed_by_then} by then)"
    );
    assert!(0 < mailed_by_then, "mail sent before PostgreSQL's stop");
    assert!(deliveries >= NUMBERS, "every WhatsApp number delivered");
    assert_eq!(acks.load(Ordering::SeqCst), total);
    assert_eq!(wa_acks.load(Ordering::SeqCst), deliveries);

    // Every acknowledged message stored once, in one conversation per visitor; what the
    // dead node had taken from the stream is finished by the others. On a timeout, the
    // missing messages are named.
    // The dead node's consumers fall silent: after 10 s the others take its entries over
    // (not after the 30 s any pending entry waits), so well within 25 s of the kill; what
    // failed while PostgreSQL was down is tried again within seconds of its return (not after
    // the 30 s reclaim).
    // PostgreSQL listens before its crash recovery ends, and a node's first queries after
    // it may be refused: the threads are read again until the deadline, and a refusal that
    // lasts is named.
    let deadline = (pg_back + Duration::from_secs(20)).max(stopped + Duration::from_secs(15));
    let threads = loop {
        let threads = match try_stored_texts(&a, &agent).await {
            Ok(threads) => threads,
            Err(refused) => {
                assert!(
                    Instant::now() < deadline,
                    "the threads still cannot be read {:?} after PostgreSQL came back: {refused}",
                    pg_back.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        let missing: Vec<String> = (0..VISITORS)
            .flat_map(|v| (0..visitors[v].1).map(move |i| text(v, i)))
            .chain((0..deliveries).map(wa_text))
            .chain((0..mails).map(mail_text))
            .filter(|t| !threads.values().any(|th| th.iter().any(|m| m.trim() == t)))
            .collect();
        if missing.is_empty() {
            break threads;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {total} acknowledged messages, {deliveries} deliveries and {mails} mails not stored {:?} after the kill, e.g. {:?}",
            missing.len(),
            killed.elapsed(),
            &missing[..missing.len().min(10)]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!(
        "cluster: all {total} messages, {deliveries} deliveries and {mails} mails stored {:?} after node b was killed, {:?} after PostgreSQL came back; {} widget sockets reopened, {} messages and deliveries refused or dropped, sent again",
        killed.elapsed(),
        pg_back.elapsed(),
        RECONNECTS.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed)
    );
    // Each mail once, in all the conversations.
    for i in 0..mails {
        let text = mail_text(i);
        let copies: usize = threads
            .values()
            .map(|th| th.iter().filter(|m| m.trim() == text).count())
            .sum();
        assert_eq!(copies, 1, "{text} stored {copies} times");
    }
    let mail_threads = threads
        .values()
        .filter(|th| th.iter().any(|m| m.starts_with("cluster mail")))
        .count();
    assert!(mail_threads > 0);
    assert_eq!(
        threads.len() - mail_threads,
        VISITORS + NUMBERS,
        "one conversation per visitor and per WhatsApp number"
    );
    for n in 0..NUMBERS {
        let texts: Vec<String> = (0..deliveries)
            .filter(|i| i % NUMBERS == n)
            .map(wa_text)
            .collect();
        let thread = threads.values().find(|t| t.contains(&texts[0])).unwrap();
        let mut stored = thread.clone();
        stored.sort();
        assert_eq!(
            stored, texts,
            "number {n}: each delivery once, in one conversation"
        );
    }
    for (v, (_, written)) in visitors.iter().enumerate() {
        let prefix = format!("cluster visitor {v} message");
        let thread = threads
            .values()
            .find(|t| t.iter().any(|m| m.starts_with(&prefix)))
            .unwrap();
        // (Not in the order written: a message resent after its socket died is stored
        // after later ones the next socket carried.)
        let twice: Vec<&String> = thread
            .iter()
            .filter(|m| thread.iter().filter(|n| n == m).count() > 1)
            .collect();
        assert!(twice.is_empty(), "visitor {v}: stored twice: {twice:?}");
        let others: Vec<&String> = thread.iter().filter(|m| !m.starts_with(&prefix)).collect();
        assert!(
            others.is_empty(),
            "visitor {v}'s conversation holds {others:?}"
        );
        assert_eq!(thread.len(), *written, "visitor {v}");
    }

    // The dead node comes back; an agent on each node sees a visitor's next message.
    b.spawn().await;
    let mut sockets = Vec::new();
    for node in [&a, &b, &c] {
        sockets.push(node.agent_events(&agent).await);
    }
    let (mut ws, _) = connect(lb, Some(&visitors[0].0)).await.unwrap();
    ws.send(Message::Text(
        json!({"type": "message", "client_id": "after", "text": "after the storm"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    for (node, events) in ["a", "b", "c"].into_iter().zip(sockets.iter_mut()) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let e = next_json(events).await;
                if e["type"] == "message" && e["message"]["text"] == "after the storm" {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("node {node}'s agent socket did not see the new message"));
    }
}
