//! The email channel against real mail servers: Dovecot (IMAP, LMTP) and a capturing
//! SMTP server on loopback, started per test by `tests/support/mailserver.py`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_channels::email::parse::{ParsedEmail, parse};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout};

use crate::support::{Backend, Server, eventually};

/// The mail servers of one test.
pub struct MailServer {
    _child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    pub ready: Value,
    pub dir: tempfile::TempDir,
}

impl MailServer {
    pub async fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Dovecot runs as an unprivileged user, which must be able to enter the dir.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/mailserver.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg("--dir")
            .arg(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
            .await
            .expect("mail servers did not start in time")
            .unwrap()
            .expect("mail servers exited before they were ready");
        let ready: Value = serde_json::from_str(&line).unwrap();
        Self {
            _child: child,
            stdin,
            stdout,
            ready,
            dir,
        }
    }

    pub fn port(&self, which: &str) -> u16 {
        u16::try_from(self.ready[which].as_u64().unwrap()).unwrap()
    }

    pub fn oauth(&self) -> String {
        self.ready["oauth"].as_str().unwrap().to_owned()
    }

    pub async fn cmd(&mut self, command: &str) -> Value {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "{command}: {v}");
        v
    }

    /// Every mail the SMTP server accepted, oldest first: envelope and message.
    pub fn captured(&self) -> Vec<(Value, Vec<u8>)> {
        let dir = self.dir.path().join("captured");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let meta = std::fs::read(eml.with_extension("json")).unwrap();
                (
                    serde_json::from_slice(&meta).unwrap(),
                    std::fs::read(&eml).unwrap(),
                )
            })
            .collect()
    }

    /// The mail captured for `rcpt`, parsed.
    pub fn captured_for(&self, rcpt: &str) -> Vec<(ParsedEmail, String)> {
        self.captured()
            .into_iter()
            .filter(|(meta, _)| {
                meta["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r.as_str().unwrap().eq_ignore_ascii_case(rcpt))
            })
            .map(|(_, raw)| {
                (
                    parse(&raw).unwrap(),
                    String::from_utf8_lossy(&raw).into_owned(),
                )
            })
            .collect()
    }

    /// Files in a user's Maildir `cur/` flagged seen (`:2,…S…`).
    pub fn seen(&self, user: &str) -> usize {
        let cur = self.dir.path().join(format!("mail/{user}/Maildir/cur"));
        std::fs::read_dir(cur)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.rsplit_once(":2,").is_some_and(|(_, f)| f.contains('S'))
                    })
                    .count()
            })
            .unwrap_or(0)
    }
}

/// Sends one message over SMTP (no TLS, no auth: the loopback capture server).
pub async fn smtp_send(port: u16, from: &str, to: &[&str], raw: &str) {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    async fn expect(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, code: &str) {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await.unwrap();
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }
    expect(&mut r, "220").await;
    w.write_all(b"EHLO tests.local\r\n").await.unwrap();
    expect(&mut r, "250").await;
    w.write_all(format!("MAIL FROM:<{from}>\r\n").as_bytes())
        .await
        .unwrap();
    expect(&mut r, "250").await;
    for t in to {
        w.write_all(format!("RCPT TO:<{t}>\r\n").as_bytes())
            .await
            .unwrap();
        expect(&mut r, "250").await;
    }
    w.write_all(b"DATA\r\n").await.unwrap();
    expect(&mut r, "354").await;
    let body = raw.replace("\r\n", "\n").replace('\n', "\r\n");
    let dotted = body
        .split("\r\n")
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    w.write_all(dotted.as_bytes()).await.unwrap();
    w.write_all(b"\r\n.\r\n").await.unwrap();
    expect(&mut r, "250").await;
    w.write_all(b"QUIT\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest).await;
}

/// A switchboard whose `support` inbox reads and sends through `mail`.
pub(crate) async fn server_for(
    mail: &MailServer,
    backend: Backend,
    extra: &str,
) -> (Server, String) {
    let cfg = tempfile::NamedTempFile::new().unwrap();
    let (cfg_file, cfg_path) = cfg.keep().unwrap();
    drop(cfg_file);
    std::fs::write(
        &cfg_path,
        format!(
            "[web]\nbusiness_name = \"Acme\"\n\n[email]\nnotify_every_minutes = 0\n\n[[email.inboxes]]\nname = \"support\"\naddress = \"support@acme.test\"\nimap_url = \"imap://127.0.0.1:{imap}\"\nsmtp_url = \"smtp://127.0.0.1:{smtp}\"\npassword = \"imap-pass\"\npoll_seconds = 1\n{extra}",
            imap = mail.port("imap"),
            smtp = mail.port("smtp"),
        ),
    )
    .unwrap();
    let server = Server::start_with(
        backend,
        &[
            ("SWITCHBOARD_CONFIG", cfg_path.to_str().unwrap()),
            ("SWITCHBOARD_DISPATCHER__BACKOFF_MAX_MS", "400"),
            ("SWITCHBOARD_DISPATCHER__MAX_ATTEMPTS", "1000"),
        ],
    )
    .await;
    let (_, admin) = crate::inbox::add_agent(&server, "rita@acme.test", "admin", &[]);
    (server, admin)
}

pub(crate) fn customer_mail(
    from: &str,
    to: &str,
    id: &str,
    headers: &str,
    subject: &str,
    body: &str,
) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Tue, 3 Mar 2026 10:00:00 +0000\r\n{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// The agent replies in a conversation over the API; returns the message's id.
async fn agent_reply(server: &Server, token: &str, conv: &str, text: &str) -> String {
    let (status, body) = server
        .post(
            token,
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({ "text": text }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["message"]["id"].as_str().unwrap().to_owned()
}

/// The id of the (first listed) conversation of an inbox.
async fn conversation_of(server: &Server, token: &str, inbox: &str) -> String {
    server
        .conversations(token)
        .await
        .into_iter()
        .find(|c| c["inbox"] == inbox)
        .unwrap_or_else(|| panic!("no conversation in {inbox}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn texts(server: &Server, token: &str, conv: &str) -> Vec<String> {
    server
        .thread(token, conv)
        .await
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A customer writes; the agent replies (the mail carries the thread headers, the reply
/// address and the marker); the customer's Outlook-style and Gmail-style replies, a
/// reply that lost its headers and one that kept only the marker all thread into the same
/// conversation with only their new text visible; a stranger quoting our Message-ID and a
/// forged reply address get conversations of their own; an auto-reply opens nothing; a
/// bounce marks our mail failed with the remote server's words; resolving mails a notice,
/// and a reply reopens; a restart resumes where the mailbox was read up to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_thread_round_trips_through_real_servers() {
    let mut mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let smtp = mail.port("smtp");
    let (mut server, admin) = server_for(&mail, Backend::Embedded, "").await;

    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "c1@example.com",
            "",
            "Toner leaks",
            "The toner leaks everywhere.",
        ),
    )
    .await;
    eventually(20, || async {
        server.conversations(&admin).await.len() == 1
    })
    .await;
    let conv = server.conversations(&admin).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        texts(&server, &admin, &conv).await,
        ["The toner leaks everywhere."]
    );

    // The agent replies: SMTP gets our mail with the thread's headers.
    let reply_id = agent_reply(
        &server,
        &admin,
        &conv,
        "Hi Ana, please try a new cartridge.",
    )
    .await;
    eventually(20, || async {
        mail.captured_for("ana@example.com").len() == 1
    })
    .await;
    let (ours, raw) = mail.captured_for("ana@example.com").remove(0);
    let our_id = format!("{reply_id}@acme.test");
    assert_eq!(ours.message_id.as_deref(), Some(our_id.as_str()));
    assert_eq!(ours.from.as_deref(), Some("support@acme.test"));
    assert_eq!(ours.to, ["ana@example.com"]);
    assert_eq!(ours.in_reply_to.as_deref(), Some("c1@example.com"));
    assert_eq!(ours.references, ["c1@example.com"]);
    assert_eq!(ours.subject.as_deref(), Some("Re: Toner leaks"));
    assert!(!ours.auto_submitted, "a person wrote it");
    assert!(
        ours.html.as_deref().is_some_and(|h| h.contains("Acme")),
        "{raw}"
    );
    let reply_to = raw
        .lines()
        .find(|l| l.starts_with("Reply-To:"))
        .and_then(|l| l.split('<').nth(1))
        .and_then(|l| l.split('>').next())
        .unwrap()
        .to_owned();
    assert!(
        reply_to.starts_with("support+") && reply_to.ends_with("@acme.test"),
        "{reply_to}"
    );
    let marker = ours
        .full_text
        .lines()
        .find(|l| l.starts_with("[ref:"))
        .unwrap()
        .to_owned();
    eventually(10, || async {
        server
            .thread(&admin, &conv)
            .await
            .iter()
            .any(|m| m["id"] == reply_id.as_str() && m["delivery_state"] == "sent")
    })
    .await;

    // Outlook-style reply, with the thread headers.
    smtp_send(smtp, "ana@example.com", &["support@acme.test"], &customer_mail(
        "Ana <ana@example.com>", "support@acme.test", "c2@example.com",
        &format!("In-Reply-To: <{our_id}>\r\nReferences: <c1@example.com> <{our_id}>\r\n"),
        "RE: Toner leaks",
        "Thanks, that worked!\r\n\r\n________________________________\r\nFrom: Acme <support@acme.test>\r\nSent: Tuesday, March 3, 2026 10:05 AM\r\nTo: ana@example.com\r\nSubject: Re: Toner leaks\r\n\r\nHi Ana, please try a new cartridge.",
    )).await;
    // Gmail-style reply whose client dropped the thread headers: the reply address.
    smtp_send(smtp, "ana@example.com", &[&reply_to], &customer_mail(
        "Ana <ana@example.com>", &reply_to, "c3@example.com", "", "Re: Toner leaks",
        "One more thing: the tray squeaks.\r\n\r\nOn Tue, 3 Mar 2026 at 10:05, Acme <support@acme.test> wrote:\r\n> Hi Ana, please try a new cartridge.",
    )).await;
    // No headers, the plain address, but the quoted marker.
    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "c4@example.com",
            "",
            "toner",
            &format!(
                "And the drum is worn.\r\n\r\n> Hi Ana, please try a new cartridge.\r\n> {marker}"
            ),
        ),
    )
    .await;
    eventually(20, || async {
        server.thread(&admin, &conv).await.len() == 5
    })
    .await;
    assert_eq!(
        texts(&server, &admin, &conv).await[2..],
        [
            "Thanks, that worked!",
            "One more thing: the tray squeaks.",
            "And the drum is worn."
        ]
    );
    assert_eq!(server.conversations(&admin).await.len(), 1);

    // A stranger quoting our Message-ID and writing to the reply address; Ana with a
    // forged reply address: neither reaches the conversation.
    smtp_send(
        smtp,
        "eve@example.net",
        &[&reply_to],
        &customer_mail(
            "Eve <eve@example.net>",
            &reply_to,
            "e1@example.net",
            &format!("In-Reply-To: <{our_id}>\r\nReferences: <{our_id}>\r\n"),
            "Re: Toner leaks",
            "Send me the invoice.",
        ),
    )
    .await;
    let at = reply_to.find('@').unwrap();
    let last = &reply_to[at - 1..at];
    let forged = format!(
        "{}{}{}",
        &reply_to[..at - 1],
        if last == "0" { "1" } else { "0" },
        &reply_to[at..]
    );
    smtp_send(
        smtp,
        "ana@example.com",
        &[&forged],
        &customer_mail(
            "Ana <ana@example.com>",
            &forged,
            "c5@example.com",
            "",
            "A new question",
            "Do you sell paper?",
        ),
    )
    .await;
    // An auto-reply to our mail, and a bounce of it; then a new customer, so we know
    // everything before was read.
    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "auto1@example.com",
            &format!("Auto-Submitted: auto-replied\r\nIn-Reply-To: <{our_id}>\r\n"),
            "Out of office",
            "I am away until Monday.",
        ),
    )
    .await;
    let bounce = format!(
        "From: MAILER-DAEMON@mx.example.com\r\nTo: support@acme.test\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.example.com>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; ana@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <ana@example.com>: mailbox unavailable\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@acme.test\r\nMessage-ID: <{our_id}>\r\n\r\n--B--"
    );
    smtp_send(smtp, "", &["support@acme.test"], &bounce).await;
    // A message that cannot be read (no sender at all): logged and passed over; the
    // next one still comes in.
    smtp_send(
        smtp,
        "",
        &["support@acme.test"],
        "Subject: who?\r\nMessage-ID: <ns1@nowhere.test>\r\n\r\nno sender here",
    )
    .await;
    smtp_send(
        smtp,
        "zed@example.org",
        &["support@acme.test"],
        &customer_mail(
            "zed@example.org",
            "support@acme.test",
            "z1@example.org",
            "",
            "Hello",
            "Hello there.",
        ),
    )
    .await;
    eventually(20, || async {
        server.conversations(&admin).await.len() == 4
    })
    .await;
    let convs = server.conversations(&admin).await;
    let mut firsts = Vec::new();
    for c in &convs {
        let id = c["id"].as_str().unwrap();
        if id != conv {
            firsts.push(texts(&server, &admin, id).await.join(" | "));
        }
    }
    firsts.sort();
    assert_eq!(
        firsts,
        ["Do you sell paper?", "Hello there.", "Send me the invoice."]
    );
    assert_eq!(
        server.thread(&admin, &conv).await.len(),
        5,
        "the auto-reply and the bounce opened nothing"
    );
    eventually(20, || async {
        server.thread(&admin, &conv).await.iter().any(|m| {
            m["id"] == reply_id.as_str()
                && m["delivery_state"] == "failed"
                && m["delivery_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("550 5.1.1"))
        })
    })
    .await;

    // Resolving tells Ana by mail (marked automatic); her reply opens it again.
    let (status, body) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(20, || async {
        mail.captured_for("ana@example.com").len() == 2
    })
    .await;
    let (notice, _) = mail.captured_for("ana@example.com").remove(1);
    assert!(notice.auto_submitted, "a notice is automatic mail");
    assert!(
        notice.full_text.contains("as resolved"),
        "{}",
        notice.full_text
    );
    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "c6@example.com",
            &format!("In-Reply-To: <{our_id}>\r\n"),
            "Re: Toner leaks",
            "It leaks again.",
        ),
    )
    .await;
    eventually(20, || async {
        let c: Vec<Value> = server.conversations(&admin).await;
        c.iter()
            .any(|c| c["id"] == conv.as_str() && c["status"] == "open")
    })
    .await;

    // Ana asks for no notices: resolving again mails nothing. A bad language is refused
    // and changes nothing.
    let contact = server
        .conversations(&admin)
        .await
        .into_iter()
        .find(|c| c["id"] == conv.as_str())
        .unwrap()["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/contacts/{contact}/email-preferences");
    let (status, body) = server
        .post(
            &admin,
            &path,
            &json!({"language": "klingon", "notices": false}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = server
        .post(
            &admin,
            &path,
            &json!({"language": "pt-br", "notices": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["language"], "pt-BR");
    let (status, _) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        mail.captured_for("ana@example.com").len(),
        2,
        "no notice to a contact who wants none"
    );

    // Stopped, mail arrives, started again: read once, nothing twice.
    let before = server.thread(&admin, &conv).await.len();
    server.terminate();
    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "c7@example.com",
            &format!("In-Reply-To: <{our_id}>\r\n"),
            "Re: Toner leaks",
            "Are you there?",
        ),
    )
    .await;
    server.spawn().await;
    eventually(20, || async {
        server.thread(&admin, &conv).await.len() == before + 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.thread(&admin, &conv).await.len(), before + 1);
    assert_eq!(server.conversations(&admin).await.len(), 4);
    // Everything read was marked on the server.
    assert_eq!(mail.seen("support@acme.test"), 12);
    mail.cmd("quit").await;
}

/// The number of messages stored for customers (every conversation's inbound messages).
async fn inbound_count(server: &Server) -> i64 {
    let url = server.env["DATABASE_URL"].clone();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// On PostgreSQL and Redis: the IMAP server restarts while a large mailbox is being read,
/// and every message is stored exactly once and marked read on the server; the SMTP
/// server refuses connections for a while, defers (451) and rejects (550): replies wait
/// and go once each when it is back, and a rejected one is a dead letter with the
/// server's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restarts_and_outages_lose_nothing_and_send_nothing_twice() {
    let mut mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let smtp = mail.port("smtp");
    mail.cmd("fill support@acme.test 1500").await;
    let (server, admin) =
        server_for(&mail, Backend::PostgresRedis, "backfill_days = 36500\n").await;
    // Restart the IMAP server as soon as reading has begun.
    eventually(30, || async { inbound_count(&server).await > 0 }).await;
    mail.cmd("restart-imap").await;
    eventually(120, || async { inbound_count(&server).await >= 1500 }).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(inbound_count(&server).await, 1500, "each message once");
    eventually(20, || async { mail.seen("support@acme.test") == 1500 }).await;

    // The server renumbers the folder (a new UIDVALIDITY): everything is read again and
    // nothing is stored twice.
    let fetched = || async {
        let out = server.cli(&["email", "status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["mailboxes"][0]["fetched"].as_i64().unwrap_or(0)
    };
    let before = fetched().await;
    assert!(before >= 1500, "{before}");
    mail.cmd("renumber support@acme.test").await;
    eventually(120, || async { fetched().await >= before + 1500 }).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        inbound_count(&server).await,
        1500,
        "a new numbering stores nothing twice"
    );

    // A conversation to reply in.
    smtp_send(
        smtp,
        "ana@example.com",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@example.com>",
            "support@acme.test",
            "o1@example.com",
            "",
            "Outage",
            "Are you up?",
        ),
    )
    .await;
    let conv = {
        let mut found = None;
        for _ in 0..400 {
            let (_, body) = server.get(&admin, "/api/v1/conversations?limit=20").await;
            if let Some(c) = body["conversations"]
                .as_array()
                .and_then(|a| a.iter().find(|c| c["subject"] == "Outage"))
            {
                found = Some(c["id"].as_str().unwrap().to_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found.expect("the conversation was opened")
    };
    let reply = |text: &'static str| agent_reply(&server, &admin, &conv, text);
    let state = |id: String| {
        let server = &server;
        let admin = admin.clone();
        let conv = conv.clone();
        async move {
            server
                .thread(&admin, &conv)
                .await
                .into_iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap()
        }
    };

    // Down: replies wait, none is lost or failed.
    mail.cmd("smtp-down").await;
    let down = [reply("one").await, reply("two").await, reply("three").await];
    tokio::time::sleep(Duration::from_secs(4)).await;
    for id in &down {
        let m = state(id.clone()).await;
        assert!(
            matches!(m["delivery_state"].as_str(), Some("queued" | "sending")),
            "{m}"
        );
    }
    assert!(mail.captured_for("ana@example.com").is_empty());
    // Deferring: still waiting.
    mail.cmd("smtp-up").await;
    mail.cmd("smtp-mode 451").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mail.captured_for("ana@example.com").is_empty());
    mail.cmd("smtp-mode ok").await;
    eventually(30, || async {
        mail.captured_for("ana@example.com").len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = mail.captured_for("ana@example.com");
    assert_eq!(sent.len(), 3, "each reply once");
    let mut ids: Vec<String> = sent
        .iter()
        .map(|(p, _)| p.message_id.clone().unwrap())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = down.iter().map(|id| format!("{id}@acme.test")).collect();
    expected.sort();
    assert_eq!(ids, expected);
    for id in &down {
        assert_eq!(state(id.clone()).await["delivery_state"], "sent");
    }

    // Rejected for good: a dead letter with the server's words.
    mail.cmd("smtp-mode 550").await;
    let rejected = reply("four").await;
    eventually(20, || async {
        state(rejected.clone()).await["delivery_state"] == "failed"
    })
    .await;
    let m = state(rejected.clone()).await;
    assert!(
        m["delivery_error"]
            .as_str()
            .is_some_and(|e| e.contains("550")),
        "{m}"
    );
    let (_, dead) = server.get(&admin, "/api/v1/dead-letters").await;
    assert!(
        dead["dead_letters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["message_id"] == rejected.as_str()
                && d["error"].as_str().is_some_and(|e| e.contains("550"))),
        "{dead}"
    );
    mail.cmd("quit").await;
}

/// A mailbox logged in with OAuth2: the refresh token is exchanged for an access token
/// and presented with XOAUTH2 (and OAUTHBEARER on a second mailbox) over IMAPS, the
/// server's certificate checked against the configured CA. A refresh token the provider
/// refuses leaves that mailbox failing with the reason on the settings page's state, and
/// the others reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_mailboxes_log_in_with_refresh_tokens_over_tls() {
    let mail = MailServer::start(&[
        "--oauth",
        "support@acme.test:refresh-support",
        "--oauth",
        "sales@acme.test:refresh-sales",
        "--oauth",
        "billing@acme.test:refresh-billing",
    ])
    .await;
    let smtp = mail.port("smtp");
    let imaps = mail.port("imaps");
    let smtps = mail.port("smtps");
    let cert = mail.ready["cert"].as_str().unwrap().to_owned();
    let oauth = mail.oauth();
    let cfg = tempfile::NamedTempFile::new().unwrap();
    let (cfg_file, cfg_path) = cfg.keep().unwrap();
    drop(cfg_file);
    let imap = mail.port("imap");
    let inbox = |name: &str, mechanism: &str, refresh: &str| {
        // sales reads over STARTTLS, the others over TLS from the first byte.
        let imap_url = if name == "sales" {
            format!("imap://localhost:{imap}")
        } else {
            format!("imaps://localhost:{imaps}")
        };
        format!(
            "[[email.inboxes]]\nname = \"{name}\"\naddress = \"{name}@acme.test\"\nimap_url = \"{imap_url}\"\nsmtp_url = \"smtps://localhost:{smtps}\"\nca_file = \"{cert}\"\npoll_seconds = 1\n[email.inboxes.oauth2]\ntoken_url = \"{oauth}/token\"\nclient_id = \"switchboard\"\nclient_secret = \"s3cret\"\nrefresh_token = \"{refresh}\"\nmechanism = \"{mechanism}\"\n\n"
        )
    };
    std::fs::write(
        &cfg_path,
        format!(
            "{}{}{}",
            inbox("support", "xoauth2", "refresh-support"),
            inbox("sales", "oauthbearer", "refresh-sales"),
            inbox("billing", "xoauth2", "revoked-long-ago"),
        ),
    )
    .unwrap();
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_CONFIG", cfg_path.to_str().unwrap())],
    )
    .await;
    let (_, admin) = crate::inbox::add_agent(&server, "rita@acme.test", "admin", &[]);
    for (to, id) in [
        ("support@acme.test", "x1@example.com"),
        ("sales@acme.test", "x2@example.com"),
        ("billing@acme.test", "x3@example.com"),
    ] {
        smtp_send(
            smtp,
            "ana@example.com",
            &[to],
            &customer_mail(
                "ana@example.com",
                to,
                id,
                "",
                "Hello",
                &format!("Hello {to}"),
            ),
        )
        .await;
    }
    eventually(30, || async {
        server.conversations(&admin).await.len() == 2
    })
    .await;
    let mut inboxes: Vec<String> = server
        .conversations(&admin)
        .await
        .iter()
        .map(|c| c["inbox"].as_str().unwrap().to_owned())
        .collect();
    inboxes.sort();
    assert_eq!(inboxes, ["email:sales", "email:support"]);
    // Replies go out over SMTP with TLS, logged in with XOAUTH2 (the server refuses
    // mail without a login).
    for inbox in ["email:support", "email:sales"] {
        let conv = conversation_of(&server, &admin, inbox).await;
        agent_reply(&server, &admin, &conv, "Thanks, on it.").await;
    }
    eventually(30, || async {
        mail.captured_for("ana@example.com").len() == 2
    })
    .await;
    let mut froms: Vec<String> = mail
        .captured_for("ana@example.com")
        .into_iter()
        .map(|(p, _)| p.from.unwrap())
        .collect();
    froms.sort();
    assert_eq!(froms, ["sales@acme.test", "support@acme.test"]);
    // The refused mailbox says why, where an admin looks.
    let out = server.cli(&["email", "status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let billing = status["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["inbox"] == "email:billing")
        .unwrap()
        .clone();
    assert_eq!(billing["ok"], false, "{status}");
    // IMAPS and STARTTLS are both encrypted.
    eventually(20, || async {
        let out = server.cli(&["email", "status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v["mailboxes"].as_array().is_some_and(|all| {
            all.iter()
                .filter(|m| m["inbox"] != "email:billing")
                .all(|m| m["detail"].as_str().is_some_and(|d| d.contains("over TLS")))
                && all.len() == 3
        })
    })
    .await;
    assert!(
        billing["detail"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{status}"
    );
}

/// The settings page's form for the `sales` mailbox of the test mail server.
fn sales_form(mail: &MailServer) -> Vec<(&'static str, String)> {
    vec![
        ("name", "sales".into()),
        ("address", "sales@acme.test".into()),
        ("language", "es".into()),
        (
            "imap_url",
            format!("imap://127.0.0.1:{}", mail.port("imap")),
        ),
        ("folder", "INBOX".into()),
        ("backfill_days", "7".into()),
        ("poll_seconds", "1".into()),
        (
            "smtp_url",
            format!("smtp://127.0.0.1:{}", mail.port("smtp")),
        ),
        ("auth", "password".into()),
        ("password", "sales-pass".into()),
    ]
}

/// Two nodes: a mailbox added on one node's settings page is read by the other without a
/// restart (the `settings` topic), once the first is gone, and removed there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_added_on_one_node_is_read_by_another() {
    use crate::inbox::Browser;
    let mail = MailServer::start(&[
        "--user",
        "support@acme.test:imap-pass",
        "--user",
        "sales@acme.test:sales-pass",
    ])
    .await;
    let smtp = mail.port("smtp");
    let (mut first, admin) = server_for(&mail, Backend::PostgresRedis, "").await;
    let second = first.another_node(&[]).await;
    let mut rita = Browser::sign_in(&first, "rita@acme.test").await;
    rita.get("/admin/email/new").await;
    let (status, _) = post_form(&mut rita, "/admin/email/new", sales_form(&mail)).await;
    assert_eq!(status, 303);
    // The node that saved it goes away; the other must know the mailbox to read it.
    first.terminate();
    smtp_send(
        smtp,
        "ana@example.com",
        &["sales@acme.test"],
        &customer_mail(
            "ana@example.com",
            "sales@acme.test",
            "x1@example.com",
            "",
            "Price list",
            "Do you have a price list?",
        ),
    )
    .await;
    eventually(30, || async {
        second
            .conversations(&admin)
            .await
            .iter()
            .any(|c| c["inbox"] == "email:sales")
    })
    .await;
    // And it sends from it: a reply on the second node goes out as sales@.
    let conv = conversation_of(&second, &admin, "email:sales").await;
    agent_reply(&second, &admin, &conv, "Here it is.").await;
    eventually(20, || async {
        mail.captured_for("ana@example.com").len() == 1
    })
    .await;
    let (sent, _) = mail.captured_for("ana@example.com").remove(0);
    assert_eq!(sent.from.as_deref(), Some("sales@acme.test"));
}

/// A mailbox added on the settings page is read and sends at once, survives a restart,
/// keeps its password when an edit leaves it blank, and stops being read when removed.
/// Bad settings are refused beside their field and store nothing; a mailbox of the
/// configuration file cannot be edited there; only admins reach the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_added_on_the_settings_page_reads_and_sends_at_once() {
    use crate::inbox::Browser;
    let mail = MailServer::start(&[
        "--user",
        "support@acme.test:imap-pass",
        "--user",
        "sales@acme.test:sales-pass",
    ])
    .await;
    let smtp = mail.port("smtp");
    let (mut server, admin) = server_for(&mail, Backend::Embedded, "").await;
    crate::inbox::add_agent(&server, "sam@acme.test", "support", &[]);
    let mut sam = Browser::sign_in(&server, "sam@acme.test").await;
    assert_eq!(sam.get("/admin/email").await.0, 403);
    assert_eq!(sam.get("/admin/email/new").await.0, 403);
    let mut rita = Browser::sign_in(&server, "rita@acme.test").await;
    let (status, page) = rita.get("/admin/email").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("support@acme.test"),
        "the configuration's mailbox is listed"
    );
    rita.get("/admin/email/new").await;

    let good = |over: &[(&'static str, &'static str)]| {
        let mut form = sales_form(&mail);
        for (k, v) in over {
            form.retain(|(f, _)| f != k);
            form.push((k, (*v).to_owned()));
        }
        form
    };
    for (over, field) in [
        (vec![("imap_url", "http://mail.acme.test")], "imap_url"),
        (vec![("address", "not an address")], "address"),
        (vec![("name", "Sales Team")], "name"),
        (vec![("name", "support")], "name"),
        (vec![("backfill_days", "a week")], "backfill_days"),
        (vec![("password", "")], "password"),
    ] {
        let (status, body) = post_form(&mut rita, "/admin/email/new", good(&over)).await;
        assert_eq!(status, 422, "{over:?}");
        assert!(
            body.contains(&format!("href=\"#{field}\"")),
            "{over:?}: the error names {field}"
        );
    }
    let (_, page) = rita.get("/admin/email").await;
    assert!(!page.contains("sales@acme.test"), "nothing was stored");

    let (status, _) = post_form(&mut rita, "/admin/email/new", good(&[])).await;
    assert_eq!(status, 303);
    smtp_send(
        smtp,
        "ana@example.com",
        &["sales@acme.test"],
        &customer_mail(
            "ana@example.com",
            "sales@acme.test",
            "s1@example.com",
            "",
            "Price list",
            "Do you have a price list?",
        ),
    )
    .await;
    eventually(20, || async {
        server
            .conversations(&admin)
            .await
            .iter()
            .any(|c| c["inbox"] == "email:sales")
    })
    .await;
    let conv = conversation_of(&server, &admin, "email:sales").await;
    agent_reply(&server, &admin, &conv, "Aquí está.").await;
    eventually(20, || async {
        mail.captured_for("ana@example.com").len() == 1
    })
    .await;
    let (sent, raw) = mail.captured_for("ana@example.com").remove(0);
    assert_eq!(sent.from.as_deref(), Some("sales@acme.test"));
    assert!(
        raw.contains("Responde a este correo"),
        "the mailbox's language"
    );

    // An edit that leaves the password blank keeps it; a restart keeps the mailbox.
    rita.get("/admin/email/sales/edit").await;
    let (status, _) = post_form(
        &mut rita,
        "/admin/email/sales/edit",
        good(&[("password", ""), ("from_name", "Ventas")]),
    )
    .await;
    assert_eq!(status, 303);
    server.terminate();
    server.spawn().await;
    smtp_send(
        smtp,
        "bo@example.com",
        &["sales@acme.test"],
        &customer_mail(
            "bo@example.com",
            "sales@acme.test",
            "s2@example.com",
            "",
            "Catalogue",
            "And a catalogue?",
        ),
    )
    .await;
    eventually(20, || async {
        server
            .conversations(&admin)
            .await
            .iter()
            .filter(|c| c["inbox"] == "email:sales")
            .count()
            == 2
    })
    .await;

    // The configuration's mailbox is not edited here; a removed one is no longer read.
    let mut rita = Browser::sign_in(&server, "rita@acme.test").await;
    assert_eq!(rita.get("/admin/email/support/edit").await.0, 404);
    rita.get("/admin/email/sales/edit").await;
    let (status, _) = rita.post("/admin/email/sales/delete", &[]).await;
    assert_eq!(status, 303);
    let (_, page) = rita.get("/admin/email").await;
    assert!(!page.contains("sales@acme.test"));
    smtp_send(
        smtp,
        "cy@example.com",
        &["sales@acme.test"],
        &customer_mail(
            "cy@example.com",
            "sales@acme.test",
            "s3@example.com",
            "",
            "Hello",
            "Anyone?",
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        server
            .conversations(&admin)
            .await
            .iter()
            .filter(|c| c["inbox"] == "email:sales")
            .count(),
        2,
        "a removed mailbox is not read"
    );
}

async fn post_form(
    b: &mut crate::inbox::Browser,
    path: &str,
    form: Vec<(&'static str, String)>,
) -> (u16, String) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}

/// Two nodes on one database and stream: one reads the mailbox (its lease), every mail is
/// stored once, and when that node stops the other takes over and reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_a_mailbox_one_reading_at_a_time() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let smtp = mail.port("smtp");
    let (mut first, admin) = server_for(&mail, Backend::PostgresRedis, "").await;
    let mut second = first.another_node(&[]).await;
    let db = first.env["DATABASE_URL"].clone();
    let holder = || async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&db)
            .await
            .unwrap();
        let h: Option<String> =
            sqlx::query_scalar("SELECT holder FROM email_leases WHERE inbox = 'email:support'")
                .fetch_optional(&pool)
                .await
                .unwrap();
        pool.close().await;
        h
    };
    for i in 0..20 {
        smtp_send(
            smtp,
            "ana@example.com",
            &["support@acme.test"],
            &customer_mail(
                "ana@example.com",
                "support@acme.test",
                &format!("n{i}@example.com"),
                "",
                &format!("Question {i}"),
                "Hello?",
            ),
        )
        .await;
    }
    eventually(30, || async {
        first.conversations(&admin).await.len() == 20
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        first.conversations(&admin).await.len(),
        20,
        "each mail once"
    );
    assert!(holder().await.is_some(), "one node holds the mailbox");
    // Only the second runs: it reads.
    first.terminate();
    smtp_send(
        smtp,
        "bo@example.com",
        &["support@acme.test"],
        &customer_mail(
            "bo@example.com",
            "support@acme.test",
            "late1@example.com",
            "",
            "Late",
            "Still there?",
        ),
    )
    .await;
    eventually(60, || async {
        second.conversations(&admin).await.len() == 21
    })
    .await;
    let while_second = holder().await.unwrap();
    // Only the first runs again: it takes over.
    first.spawn().await;
    second.terminate();
    smtp_send(
        smtp,
        "cy@example.com",
        &["support@acme.test"],
        &customer_mail(
            "cy@example.com",
            "support@acme.test",
            "late2@example.com",
            "",
            "Later",
            "Hello?",
        ),
    )
    .await;
    eventually(60, || async {
        first.conversations(&admin).await.len() == 22
    })
    .await;
    let while_first = holder().await.unwrap();
    assert_ne!(while_first, while_second, "the mailbox changed hands");
    // The reading node dies without letting go (kill -9): the other takes the mailbox over
    // once the lease runs out, in seconds (a 10 s lease, asked for every 2 s).
    second.spawn().await;
    first.kill9();
    let died = std::time::Instant::now();
    smtp_send(
        smtp,
        "di@example.com",
        &["support@acme.test"],
        &customer_mail(
            "di@example.com",
            "support@acme.test",
            "late3@example.com",
            "",
            "After the crash",
            "Anyone?",
        ),
    )
    .await;
    eventually(60, || async {
        second.conversations(&admin).await.len() == 23
    })
    .await;
    let took = died.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "the mailbox was read again {took:?} after its reader died"
    );
    assert_eq!(
        holder().await.unwrap(),
        while_second,
        "the second node holds it"
    );
    second.terminate();
}
