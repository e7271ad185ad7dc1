//! Mail intake from a real IMAP server: how fast messages in a Dovecot mailbox become
//! stored, threaded messages, and what the server's memory peaks at meanwhile.
//!
//! It starts real mail servers (`tests/support/mailserver.py`: Dovecot and a capturing
//! SMTP server on loopback), fills one mailbox with `--messages` realistic messages
//! (replies with quoted history, text + HTML, encoded names), then starts the release
//! `switchboard` binary with that mailbox as an IMAP inbox and times from its start until
//! every message is stored as a message or kept aside as machine mail. Reported: messages per second fetched, parsed, threaded and persisted, and the
//! server's peak resident memory (`VmHWM`).
//!
//! `cargo run --release -p switchboard-bench --bin email-ingest-bench -- --backend sqlite`
//! (or `--backend postgres`, which uses `SB_TEST_PG` and `SB_TEST_REDIS`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use switchboard_bench::status_kib;

#[derive(Debug, Parser)]
struct Args {
    /// sqlite (with the embedded stream) or postgres (with Redis).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// The server binary.
    #[arg(long, default_value = "target/release/switchboard")]
    bin: String,
    /// The mail servers' script.
    #[arg(long, default_value = "tests/support/mailserver.py")]
    mailserver: String,
}

struct Mail {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
    ready: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl Mail {
    fn start(script: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .args(["--user", "support@acme.test:imap-pass"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the mail servers")?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let ready = serde_json::from_str(&line).context("the mail servers did not start")?;
        Ok(Self {
            child,
            stdin,
            stdout,
            ready,
            _dir: dir,
        })
    }

    fn cmd(&mut self, c: &str) -> Result<serde_json::Value> {
        writeln!(self.stdin, "{c}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        Ok(serde_json::from_str(&line)?)
    }

    fn port(&self, which: &str) -> Result<u64> {
        self.ready[which].as_u64().context("port")
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// Whether the server answers `GET /readyz` with 200.
async fn readyz(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.is_ok() && head.ends_with(b"200")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut mail = Mail::start(&args.mailserver)?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[email]\nmax_mails_per_sender_per_hour = 1000000\n\n[[email.inboxes]]\nname = \"support\"\naddress = \"support@acme.test\"\nimap_url = \"imap://127.0.0.1:{}\"\npassword = \"imap-pass\"\nbackfill_days = 36500\npoll_seconds = 1\n",
            mail.port("imap")?
        ),
    )?;
    let mut env: Vec<(String, String)> = vec![
        ("SWITCHBOARD_LISTEN".into(), format!("127.0.0.1:{port}")),
        (
            "SWITCHBOARD_DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        (
            "SWITCHBOARD_PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("SWITCHBOARD_CONFIG".into(), config.display().to_string()),
    ];
    let db = switchboard_bench::Database::create(&args.backend, dir.path(), "sbmail").await?;
    env.extend(db.env.iter().cloned());
    let db_url = db.url.clone();
    // The mailbox is full before the server starts: the time measured is the server's
    // alone, from its start (migrations, IMAP login and all) to the last message stored.
    let fill = mail.cmd(&format!("fill support@acme.test {}", args.messages))?;
    let bin = std::fs::canonicalize(&args.bin)
        .with_context(|| format!("{} not found (run `cargo build --release` first)", args.bin))?;
    let t0 = Instant::now();
    let mut server = Command::new(&bin)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .context("starting the server")?;
    let pid = server.id();

    // Counted straight from the database: messages stored plus machine mail kept aside.
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect_lazy(&db_url)?;
    let count = || async {
        let stored: i64 =
            sqlx::query_scalar("SELECT (SELECT count(*) FROM messages WHERE direction = 'inbound') + (SELECT count(*) FROM inbound_noise)")
                .fetch_one(&pool)
                .await
                .unwrap_or(-1);
        stored
    };
    // Ready: the server answers /readyz (its workers, the mailbox reader among them, run).
    let ready = loop {
        if readyz(port).await {
            break t0.elapsed().as_secs_f64();
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("the server was not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rss_ready = status_kib(pid, "VmRSS:")?;
    let target = i64::try_from(args.messages)?;
    loop {
        let last = count().await;
        if last >= target {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("only {last} of {target} stored within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let peak = status_kib(pid, "VmHWM:")?;
    pool.close().await;
    let _ = server.kill();
    let _ = server.wait();
    let _ = db.drop().await;
    println!(
        "{}",
        serde_json::json!({
            "backend": args.backend,
            "messages": args.messages,
            "fill_secs": fill["secs"],
            "ready_secs": (ready * 100.0).round() / 100.0,
            "seconds": (elapsed * 100.0).round() / 100.0,
            "messages_per_second": (args.messages as f64 / elapsed).round(),
            "rss_ready_mib": rss_ready / 1024,
            "rss_peak_mib": peak / 1024,
        })
    );
    Ok(())
}
