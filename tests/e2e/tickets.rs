//! Tickets from the portal against the real binary, PostgreSQL, Redis, Dovecot and a
//! capturing SMTP server: a client opens a ticket with a file; it is a conversation of
//! its own in the inbox, with its card and badge; the agent's answer is in the portal
//! thread live and in a mail whose button signs the client in on the ticket; the client's
//! mailed reply threads back into the ticket; resolving turns the card, a portal reply
//! opens it again. Bad forms change nothing; client users see their own tickets, client
//! admins the company's, nobody another company's.

use std::time::Duration;

use serde_json::json;
use switchboard_core::store::{NewLink, Store};

use crate::inbox::Browser;
use crate::mail::{MailServer, customer_mail, server_for, smtp_send};
use crate::support::{Backend, Server, eventually};

/// A 1×1 PNG.
pub(crate) const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A contact who wrote in by mail (so its address is verified).
async fn writes_in(
    server: &Server,
    mail: &MailServer,
    admin: &str,
    store: &Store,
    from: &str,
    id: &str,
) -> String {
    let before = server.conversations(admin).await.len();
    smtp_send(
        mail.port("smtp"),
        from,
        &["support@acme.test"],
        &customer_mail(from, "support@acme.test", id, "", "Hello", "Hello there."),
    )
    .await;
    eventually(20, || async {
        server.conversations(admin).await.len() == before + 1
    })
    .await;
    store
        .contact_for_identity(&switchboard_core::domain::Identity::email(from).unwrap())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no contact for {from}"))
}

async fn sign_in(server: &Server, store: &Store, contact: &str, email: &str) -> Browser {
    let ids = switchboard_core::clock::Ids::new(std::sync::Arc::new(
        switchboard_core::clock::SystemClock,
    ));
    let token = store
        .create_magic_link(
            &ids,
            &NewLink {
                contact_id: contact,
                email,
                purpose: "login",
                ttl_ms: 600_000,
            },
        )
        .await
        .unwrap();
    let mut b = Browser::new(server);
    b.get(&format!("/portal/link/{token}")).await;
    let (status, _) = b
        .post(
            &format!("/portal/link/{token}"),
            &[("next", "/portal/tickets")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(
        b.cookie("sb_visitor").is_some(),
        "the portal's chat gets the client's own visitor id"
    );
    b
}

/// Opens a ticket through the form; returns its number.
pub(crate) async fn open(
    b: &mut Browser,
    subject: &str,
    message: &str,
    files: &[(&str, &str, &[u8])],
) -> i64 {
    let (_, page) = b.get("/portal/tickets/new").await;
    let key = form_key(&page);
    let (status, body, location) = b
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", &key),
                ("subject", subject),
                ("category", "technical"),
                ("message", message),
            ],
            files,
        )
        .await;
    assert_eq!(status, 303, "{body:.500}");
    let location = location.unwrap();
    location
        .trim_start_matches("/portal/tickets/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The form key a ticket form carries.
pub(crate) fn form_key(page: &str) -> String {
    page.split("name=\"key\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

async fn tickets_in_db(url: &str) -> i64 {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
        .fetch_one(&pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_ticket_is_answered_by_mail_and_the_mailed_reply_threads_back() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::PostgresRedis, "").await;
    let db = server.database_url();
    let store = Store::connect(&db).await.unwrap();
    let ana = writes_in(
        &server,
        &mail,
        &admin,
        &store,
        "ana@globex.example",
        "a1@globex.example",
    )
    .await;
    let bruno = writes_in(
        &server,
        &mail,
        &admin,
        &store,
        "bruno@globex.example",
        "b1@globex.example",
    )
    .await;
    let gil = writes_in(
        &server,
        &mail,
        &admin,
        &store,
        "gil@initech.example",
        "g1@initech.example",
    )
    .await;
    let company = |name: &'static str| {
        let server = &server;
        let admin = &admin;
        async move {
            let (s, c) = server
                .post(admin, "/api/v1/companies", &json!({ "name": name }))
                .await;
            assert_eq!(s, 201);
            c["id"].as_str().unwrap().to_owned()
        }
    };
    let globex = company("Globex").await;
    let initech = company("Initech").await;
    for (c, contact) in [(&globex, &ana), (&globex, &bruno), (&initech, &gil)] {
        let (s, e) = server
            .post(
                &admin,
                &format!("/api/v1/companies/{c}/contacts"),
                &json!({ "contact_id": contact }),
            )
            .await;
        assert_eq!(s, 200, "{e}");
    }
    // The ERP subscribes to new tickets.
    let (hook_url, got) = crate::webhooks::receiver(0).await;
    let (code, body) = server
        .post(
            &admin,
            "/api/v1/webhooks",
            &json!({"url": hook_url, "events": ["ticket.created"]}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // Ana signs in first: Globex's client admin. Bruno is a client user.
    let mut ana_b = sign_in(&server, &store, &ana, "ana@globex.example").await;
    let mut bruno_b = sign_in(&server, &store, &bruno, "bruno@globex.example").await;
    let mut gil_b = sign_in(&server, &store, &gil, "gil@initech.example").await;
    let (s, page) = ana_b.get("/portal/tickets").await;
    assert_eq!(s, 200);
    assert!(page.contains("not opened any tickets"), "{page:.2000}");
    assert!(
        page.contains("/widget.js"),
        "the portal has the chat built in"
    );

    // Bad forms change nothing.
    let (_, page) = ana_b.get("/portal/tickets/new").await;
    assert!(page.contains("enctype=\"multipart/form-data\""));
    let key = form_key(&page);
    for (fields, files, why) in [
        (
            vec![("key", key.as_str()), ("subject", " "), ("message", "x")],
            vec![],
            "Enter a subject",
        ),
        (
            vec![("key", key.as_str()), ("subject", "Hi"), ("message", "  ")],
            vec![],
            "write a message or attach a file",
        ),
        (
            vec![("key", key.as_str()), ("subject", "Hi"), ("message", "x")],
            vec![("files", "evil.png", b"<script>alert(1)</script>".as_slice())],
            "only images",
        ),
    ] {
        let (s, body, _) = ana_b
            .post_multipart("/portal/tickets", &fields, &files)
            .await;
        assert_eq!(s, 422, "{why}: {body:.300}");
        assert!(body.contains(why), "{why}: {body:.3000}");
    }
    let big = "x".repeat(20_001);
    let (s, body, _) = ana_b
        .post_multipart(
            "/portal/tickets",
            &[("key", &key), ("subject", "Hi"), ("message", &big)],
            &[],
        )
        .await;
    assert_eq!(s, 422, "{body:.200}");
    // A form without its token is refused before anything is read.
    let saved = std::mem::take(&mut ana_b.csrf);
    let (s, _, _) = ana_b
        .post_multipart(
            "/portal/tickets",
            &[("subject", "Hi"), ("message", "x")],
            &[],
        )
        .await;
    assert_eq!(s, 403);
    ana_b.csrf = saved;
    assert_eq!(tickets_in_db(&db).await, 0, "nothing was opened");

    // The ticket, with a photo; the same form sent twice is one ticket.
    let (_, page) = ana_b.get("/portal/tickets/new").await;
    let key = form_key(&page);
    let fields = [
        ("key", key.as_str()),
        ("subject", "Printer jams on page 2"),
        ("category", "technical"),
        ("message", "It jams on the second page.\nEvery time."),
    ];
    let (s, _, at) = ana_b
        .post_multipart("/portal/tickets", &fields, &[("files", "jam.png", PNG)])
        .await;
    assert_eq!(s, 303);
    let (s, _, again) = ana_b
        .post_multipart("/portal/tickets", &fields, &[("files", "jam.png", PNG)])
        .await;
    assert_eq!(s, 303);
    assert_eq!(at, again);
    assert_eq!(tickets_in_db(&db).await, 1);
    let number: i64 = at
        .unwrap()
        .trim_start_matches("/portal/tickets/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // The inbox: a conversation of its own, in the mailbox, with the client's message and
    // file, the ticket card, and the badge.
    eventually(20, || async {
        server
            .conversations(&admin)
            .await
            .iter()
            .any(|c| c["number"] == number)
    })
    .await;
    let conv = server
        .conversations(&admin)
        .await
        .into_iter()
        .find(|c| c["number"] == number)
        .unwrap();
    assert_eq!(conv["channel"], "email");
    assert_eq!(conv["subject"], "Printer jams on page 2");
    assert!(
        conv["thread_key"].as_str().unwrap().starts_with("ticket:"),
        "{conv}"
    );
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    eventually(20, || async {
        server.thread(&admin, &conv_id).await.len() == 1
    })
    .await;
    let first = &server.thread(&admin, &conv_id).await[0];
    assert_eq!(first["text"], "It jams on the second page.\nEvery time.");
    assert_eq!(first["channel"], "portal");
    assert_eq!(first["attachments"][0]["mime"], "image/png");
    let (_, full) = server
        .get(&admin, &format!("/api/v1/conversations/{conv_id}"))
        .await;
    assert_eq!(full["conversation"]["contact_id"], ana.as_str());
    let cards = serde_json::to_string(&store.cards(&conv_id).await.unwrap()).unwrap();
    assert!(
        cards.contains("Printer jams on page 2") && cards.contains("\"open\""),
        "{cards}"
    );
    let mut agent = Browser::sign_in(&server, "rita@acme.test").await;
    let (_, list) = agent.get("/conversations").await;
    assert!(list.contains("pill ticket"), "the inbox shows the badge");

    // The portal thread, and its file to its own company only.
    let (_, page) = ana_b.get(&format!("/portal/tickets/{number}")).await;
    assert!(page.contains("It jams on the second page."));
    let file = page
        .split(&format!("/portal/tickets/{number}/files/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let path = format!("/portal/tickets/{number}/files/{file}");
    let r = ana_b.fetch(&path).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), PNG);
    for (who, b) in [("bruno", &mut bruno_b), ("gil", &mut gil_b)] {
        let (s, _) = b.get(&path).await;
        assert_eq!(s, 404, "{who} reads the file");
        let (s, body) = b.get(&format!("/portal/tickets/{number}")).await;
        assert_eq!(s, 404, "{who} opens the ticket");
        assert!(!body.contains("Printer jams"));
        let (_, list) = b.get("/portal/tickets?state=all").await;
        assert!(!list.contains("Printer jams"), "{who} lists Ana's ticket");
        let (s, _, _) = b
            .post_multipart(
                &format!("/portal/tickets/{number}/reply"),
                &[("key", "k1"), ("message", "mine now")],
                &[],
            )
            .await;
        assert_eq!(s, 404, "{who} replies to it");
    }
    // Bruno's own ticket: his and his admin's, not Gil's.
    let bruno_ticket = open(&mut bruno_b, "Toner is empty", "Please send toner.", &[]).await;
    let (_, list) = bruno_b.get("/portal/tickets").await;
    assert!(list.contains("Toner is empty") && !list.contains("Printer jams"));
    let (_, list) = ana_b.get("/portal/tickets").await;
    assert!(
        list.contains("Toner is empty") && list.contains("Printer jams"),
        "the client admin sees the company's tickets"
    );
    let (s, _) = gil_b.get(&format!("/portal/tickets/{bruno_ticket}")).await;
    assert_eq!(s, 404);
    // The ERP heard of each ticket once: none of the refused forms.
    eventually(15, || {
        let n = got.lock().unwrap().len();
        async move { n >= 2 }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut numbers: Vec<i64> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(kind, _, body)| {
            assert_eq!(kind, "ticket.created");
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            v["data"]["ticket"]["number"].as_i64().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    let mut want = vec![number, bruno_ticket];
    want.sort_unstable();
    assert_eq!(numbers, want);

    // The agent answers: live on the portal page, and by mail with a sign-in button.
    let events = ana_b
        .fetch(&format!("/portal/tickets/{number}/events"))
        .await;
    assert_eq!(events.status().as_u16(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = events;
    let (s, body) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv_id}/messages"),
            &json!({"text": "Please try the rear tray."}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let changed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: changed") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(changed, Ok(true), "the page hears of the reply");
    let (_, thread) = ana_b.get(&format!("/portal/tickets/{number}/thread")).await;
    assert!(
        thread.contains("Please try the rear tray."),
        "{thread:.2000}"
    );
    eventually(20, || async {
        mail.captured_for("ana@globex.example")
            .iter()
            .any(|(m, _)| m.reply_text.contains("rear tray"))
    })
    .await;
    let (m, raw) = mail
        .captured_for("ana@globex.example")
        .into_iter()
        .find(|(m, _)| m.reply_text.contains("rear tray"))
        .unwrap();
    assert!(
        m.subject
            .as_deref()
            .unwrap_or("")
            .contains("Printer jams on page 2"),
        "{raw}"
    );
    let html = m.html.clone().unwrap_or_default();
    assert!(
        html.contains(&format!("View request #{number} in your portal")),
        "{raw}"
    );
    assert!(
        m.full_text.contains("/portal/link/")
            && m.full_text
                .contains(&format!("next=/portal/tickets/{number}")),
        "{raw}"
    );
    assert!(
        !raw.contains("ticket:") && m.in_reply_to.is_none(),
        "no internal id leaks, and a portal message is no mail to reply to: {raw}"
    );

    // Ana answers the mail: it threads back into the ticket.
    let message_id = m.message_id.clone().unwrap();
    smtp_send(
        mail.port("smtp"),
        "ana@globex.example",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@globex.example>",
            "support@acme.test",
            "a2@globex.example",
            &format!("In-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\n"),
            "Re: Printer jams on page 2",
            "Tried the rear tray, it still jams.",
        ),
    )
    .await;
    eventually(30, || async {
        server
            .thread(&admin, &conv_id)
            .await
            .iter()
            .any(|m| m["text"].as_str().unwrap_or("").contains("still jams"))
    })
    .await;
    let (_, page) = ana_b.get(&format!("/portal/tickets/{number}")).await;
    assert!(page.contains("Tried the rear tray, it still jams."));
    assert_eq!(
        server
            .conversations(&admin)
            .await
            .iter()
            .filter(|c| c["subject"].as_str().unwrap_or("").contains("Printer"))
            .count(),
        1,
        "the mailed reply opened nothing new"
    );

    // Resolved: the card and the portal say so; a reply on the portal opens it again.
    let (s, body) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv_id}/status"),
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let cards = serde_json::to_string(&store.cards(&conv_id).await.unwrap()).unwrap();
    assert!(cards.contains("\"resolved\""), "{cards}");
    let (_, list) = ana_b.get("/portal/tickets?state=resolved").await;
    assert!(list.contains("Printer jams"));
    let (_, page) = ana_b.get(&format!("/portal/tickets/{number}")).await;
    assert!(page.contains("Replying opens it again"));
    let (s, _, _) = ana_b
        .post_multipart(
            &format!("/portal/tickets/{number}/reply"),
            &[("key", "r1"), ("message", "It happened again today.")],
            &[("files", "again.png", PNG)],
        )
        .await;
    assert_eq!(s, 303);
    eventually(20, || async {
        let (_, c) = server
            .get(&admin, &format!("/api/v1/conversations/{conv_id}"))
            .await;
        c["conversation"]["status"] == "open"
            && server
                .thread(&admin, &conv_id)
                .await
                .iter()
                .any(|m| m["text"] == "It happened again today.")
    })
    .await;
    let (_, list) = ana_b.get("/portal/tickets").await;
    assert!(list.contains("Printer jams"), "open again");
}
