//! The client portal against the real binary: magic links that a mail scanner's GET or
//! HEAD never uses up, used once by the confirmation's POST; expired, used and altered
//! links answered with a page and no session; the client's invoices, PDF and ZIP from its
//! own company only; Viewed marked; the activity log; sign-out. And every portal route,
//! walked from the router's own table, keeps a client to its company.

use std::sync::Arc;

use switchboard_core::clock::{Ids, SystemClock};
use switchboard_core::store::{NewInvoice, NewLink, Store};
use switchboard_gateway::portal::{PortalAccess, route_specs};

use crate::inbox::Browser;
use crate::support::{Backend, Server};

const DOC: &str = r#"{"lines":[{"description":"Manutenção preventiva — São Paulo","quantity_milli":2000,"unit_price":12345,"tax_rate_bp":2300},{"description":"Toner","quantity_milli":1000,"unit_price":5000}],"notes":"Obrigado!"}"#;

struct World {
    store: Store,
    ids: Ids,
    acme_contact: String,
    globex_contact: String,
    acme_sent: String,
    acme_draft: String,
    globex_sent: String,
}

async fn world(server: &Server) -> World {
    let agent = server.add_user("admin@example.com", "admin");
    let (_a, conv_a) = server.visitor_writes(&agent, "hello from acme").await;
    let (_b, _) = server.visitor_writes(&agent, "hello from globex").await;
    crate::support::eventually(10, || async {
        server.conversations(&agent).await.len() == 2
    })
    .await;
    let conv_b = server
        .conversations(&agent)
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .find(|c| *c != conv_a)
        .unwrap();
    let contact =
        |c: serde_json::Value| c["conversation"]["contact_id"].as_str().unwrap().to_owned();
    let acme_contact = contact(
        server
            .get(&agent, &format!("/api/v1/conversations/{conv_a}"))
            .await
            .1,
    );
    let globex_contact = contact(
        server
            .get(&agent, &format!("/api/v1/conversations/{conv_b}"))
            .await
            .1,
    );
    let store = Store::connect(&Store::sqlite_url(server.dir.path()))
        .await
        .unwrap();
    let ids = Ids::new(Arc::new(SystemClock));
    let acme = store.create_company(&ids, "Acme Ltda").await.unwrap();
    let globex = store.create_company(&ids, "Globex").await.unwrap();
    store
        .set_contact_company(&acme_contact, &acme)
        .await
        .unwrap();
    store
        .set_contact_company(&globex_contact, &globex)
        .await
        .unwrap();
    let doc = portal_doc();
    let make = async |contact: &str, company: &str, status: &str| {
        store
            .create_invoice(
                &ids,
                &NewInvoice {
                    kind: "invoice",
                    company_id: Some(company),
                    contact_id: contact,
                    status,
                    currency: "BRL",
                    document: DOC,
                    subtotal: doc.subtotal,
                    tax: doc.tax,
                    total: doc.total,
                    issue_day: 20_770,
                    due_day: Some(20_800),
                    external_id: None,
                },
                "invoice:2026",
                &|n| format!("INV-2026-{n:05}"),
            )
            .await
            .unwrap()
            .number
    };
    let acme_sent = make(&acme_contact, &acme, "sent").await;
    let acme_draft = make(&acme_contact, &acme, "draft").await;
    let globex_sent = make(&globex_contact, &globex, "sent").await;
    World {
        store,
        ids,
        acme_contact,
        globex_contact,
        acme_sent,
        acme_draft,
        globex_sent,
    }
}

fn portal_doc() -> switchboard_portal::totals::Totals {
    switchboard_portal::document::Document::parse(DOC)
        .unwrap()
        .check()
        .unwrap()
}

async fn link(w: &World, contact: &str, email: &str, ttl_ms: i64) -> String {
    w.store
        .create_magic_link(
            &w.ids,
            &NewLink {
                contact_id: contact,
                email,
                purpose: "invoice",
                ttl_ms,
            },
        )
        .await
        .unwrap()
}

async fn signed_in(server: &Server, token: &str, next: &str) -> Browser {
    let mut b = Browser::new(server);
    let (status, page) = b.get(&format!("/portal/link/{token}?next={next}")).await;
    assert_eq!(status, 200, "{page:.400}");
    let (status, _) = b
        .post(&format!("/portal/link/{token}"), &[("next", next)])
        .await;
    assert_eq!(status, 303);
    assert!(b.cookie("__Host-sb_session").is_some());
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magic_links_sign_clients_in_once_and_show_their_own_invoices() {
    let server = Server::start(Backend::Embedded).await;
    let w = world(&server).await;
    let token = link(&w, &w.acme_contact, "ana@acme.example", 7 * 86_400_000).await;
    let path = format!("/portal/link/{token}");

    // A mail scanner fetches the link: HEAD and GET change nothing.
    let head = server.http.head(server.url(&path)).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let mut scanner = Browser::new(&server);
    let (status, page) = scanner.get(&path).await;
    assert_eq!(status, 200);
    assert!(page.contains("method=\"post\""), "{page:.600}");
    assert_eq!(head.headers()["cache-control"], "private, no-store");

    // Altered, unknown and expired links: a page that says so, a form for a new one, no session.
    let mut altered = token.clone();
    altered.replace_range(0..1, if token.starts_with('a') { "b" } else { "a" });
    let mut stranger = Browser::new(&server);
    let (status, page) = stranger.get(&format!("/portal/link/{altered}")).await;
    assert_eq!(status, 404);
    assert!(page.contains("not valid") && page.contains("action=\"/portal/login\""));
    let (status, _) = stranger.post(&format!("/portal/link/{altered}"), &[]).await;
    assert_eq!(status, 404);
    assert!(stranger.cookie("__Host-sb_session").is_none());
    let short = link(&w, &w.acme_contact, "ana@acme.example", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, page) = stranger.get(&format!("/portal/link/{short}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"));

    // The client confirms: one use, a session, and the invoice it was sent for.
    let next = format!("/portal/invoices/{}", w.acme_sent);
    let mut ana = Browser::new(&server);
    ana.get(&path).await;
    let (status, _) = ana.post(&path, &[("next", &next)]).await;
    assert_eq!(status, 303);
    assert!(ana.cookie("__Host-sb_session").is_some());
    let (status, page) = scanner.post(&path, &[]).await;
    assert_eq!(status, 410, "a link works once");
    assert!(page.contains("used already"));
    assert!(scanner.cookie("__Host-sb_session").is_none());

    // Home: its company's sent invoice; never the draft, never another company's.
    let (status, home) = ana.get("/portal").await;
    assert_eq!(status, 200);
    assert!(
        home.contains(&w.acme_sent),
        "{}",
        &home[home.len().saturating_sub(2500)..]
    );
    assert!(!home.contains(&w.acme_draft));
    assert!(!home.contains(&w.globex_sent));
    // 2 × 123.45 = 246.90 + 23 % = 303.69 (56.787 → 56.79), + 50.00 = 353.69.
    assert_eq!(portal_doc().total, 35_369);
    assert!(
        home.contains("R$353.69"),
        "the outstanding total: {home:.3000}"
    );

    // The invoice page marks it Viewed once; the PDF opens.
    let before = w
        .store
        .document_by_number("invoice", &w.acme_sent)
        .await
        .unwrap();
    assert_eq!(before.viewed_at, None);
    let (status, page) = ana.get(&next).await;
    assert_eq!(status, 200);
    assert!(page.contains("Manutenção preventiva — São Paulo"));
    let after = w
        .store
        .document_by_number("invoice", &w.acme_sent)
        .await
        .unwrap();
    assert!(after.viewed_at.is_some());
    assert_eq!(after.status, "viewed");
    let pdf = ana.fetch(&format!("{next}/pdf")).await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));

    // Download All: the ZIP holds its own invoices only, whatever numbers are posted.
    let zip = ana_zip(
        &server,
        &ana,
        &[&w.acme_sent, &w.globex_sent, &w.acme_draft],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.zip");
    std::fs::write(&file, &zip).unwrap();
    let list = std::process::Command::new("unzip")
        .arg("-l")
        .arg(&file)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains(&format!("{}.pdf", w.acme_sent)), "{list}");
    assert!(
        !list.contains(&w.globex_sent) && !list.contains(&w.acme_draft),
        "{list}"
    );
    assert!(list.contains("1 file"), "{list}");

    // The activity log shows the sign-in, the view and the downloads.
    let (_, activity) = ana.get("/portal/activity").await;
    for what in ["Signed in", "Opened", "Downloaded"] {
        assert!(activity.contains(what), "{what}: {activity:.2000}");
    }

    // "Email me a link" answers the same for a stranger's address.
    let mut anon = Browser::new(&server);
    anon.get("/portal/login").await;
    let (s1, known) = anon
        .post("/portal/login", &[("email", "ana@acme.example")])
        .await;
    let (s2, unknown) = anon
        .post("/portal/login", &[("email", "nobody@nowhere.example")])
        .await;
    assert_eq!((s1, s2), (200, 200));
    let notice = |p: &str| {
        p[p.find("notice ok").unwrap()..]
            .split("</div>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(notice(&known), notice(&unknown));
    // Asking again and again for one address is limited (5 an hour by default).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            anon.post("/portal/login", &[("email", "carl@nowhere.example")])
                .await
                .0,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);

    // Signing out ends the session.
    let (status, _) = ana.post("/portal/logout", &[]).await;
    assert_eq!(status, 303);
    let r = ana.fetch("/portal").await;
    assert_eq!(r.status().as_u16(), 303);
    let _ = &w.globex_contact;
}

async fn ana_zip(server: &Server, b: &Browser, numbers: &[&str]) -> Vec<u8> {
    let mut form: Vec<(&str, &str)> = numbers.iter().map(|n| ("n", *n)).collect();
    form.push(("_csrf", &b.csrf));
    let cookies = format!(
        "__Host-sb_session={}",
        b.cookie("__Host-sb_session").unwrap()
    );
    let r = server
        .http
        .post(server.url("/portal/invoices/zip"))
        .header("cookie", cookies)
        .header("origin", server.url("").trim_end_matches('/'))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    r.bytes().await.unwrap().to_vec()
}

/// Generated from the portal's route table: a client of Globex asks for Acme's documents on
/// every route that takes a number, and gets "not found"; without a session, every client
/// route sends to sign-in or is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_route_keeps_a_client_to_its_company() {
    let server = Server::start(Backend::Embedded).await;
    let w = world(&server).await;
    let token = link(&w, &w.globex_contact, "gil@globex.example", 60_000).await;
    let mut gil = signed_in(&server, &token, "/portal").await;
    gil.get("/portal").await;
    // Acme's ticket, with a file, for the ticket routes.
    let token = link(&w, &w.acme_contact, "ana@acme.example", 60_000).await;
    let mut ana = signed_in(&server, &token, "/portal").await;
    ana.get("/portal/tickets/new").await;
    let png = crate::tickets::PNG.to_vec();
    let (s, _, at) = ana
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", "k1"),
                ("subject", "Acme printer"),
                ("message", "jams"),
            ],
            &[("files", "jam.png", &png)],
        )
        .await;
    assert_eq!(s, 303);
    let ticket = at
        .unwrap()
        .trim_start_matches("/portal/tickets/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut file = String::new();
    for _ in 0..100 {
        let page = ana
            .fetch(&format!("/portal/tickets/{ticket}/thread"))
            .await
            .text()
            .await
            .unwrap();
        if let Some(rest) = page.split("/files/").nth(1) {
            file = rest.split('"').next().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!file.is_empty(), "the ticket's file is shown");
    let mut anon = Browser::new(&server);
    anon.get("/portal/login").await;
    let mut checked = 0;
    for spec in route_specs() {
        if spec.access == PortalAccess::Public || spec.path == "/portal/logout" {
            continue;
        }
        let ana_user: String = {
            let pool = sqlx::AnyPool::connect(&Store::sqlite_url(server.dir.path()))
                .await
                .unwrap();
            sqlx::query_scalar("SELECT id FROM users WHERE email = 'ana@acme.example'")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        let tickets = spec.path.starts_with("/portal/tickets");
        let (path, secret) = if tickets {
            (
                spec.path
                    .replace("{number}", &ticket)
                    .replace("{key}", &file),
                "Acme printer",
            )
        } else {
            (
                spec.path
                    .replace("{number}", &w.acme_sent)
                    .replace("{id}", &ana_user),
                "Manutenção",
            )
        };
        let (status, body) = if spec.method == "GET" {
            gil.get(&path).await
        } else if tickets {
            let (s, b, _) = gil
                .post_multipart(
                    &path,
                    &[("key", "k2"), ("subject", "x"), ("message", "mine")],
                    &[],
                )
                .await;
            (s, b)
        } else {
            gil.post(&path, &[("n", &w.acme_sent)]).await
        };
        if spec.path.contains("{number}") || spec.path.contains("{id}") {
            assert_eq!(status, 404, "gil: {} {path}: {body:.300}", spec.method);
            assert!(!body.contains(secret), "{path}");
            checked += 1;
        } else {
            assert!(
                !body.contains(&w.acme_sent),
                "gil: {} {path} shows Acme's invoice",
                spec.method
            );
            checked += 1;
        }
        let (status, _) = if spec.method == "GET" {
            anon.get(&path).await
        } else {
            anon.post(&path, &[]).await
        };
        assert!(
            matches!(status, 303 | 403),
            "anonymous: {} {path} gave {status}",
            spec.method
        );
        checked += 1;
    }
    assert!(checked >= 24, "only {checked} checks ran");
    // Gil's own ticket form went through; Acme's ticket is still Acme's alone.
    let (_, list) = gil.get("/portal/tickets?state=all").await;
    assert!(!list.contains("Acme printer"));
    // An agent's session is not a client's.
    crate::inbox::add_agent(&server, "sue@example.com", "supervisor", &[]);
    let admin = crate::inbox::Browser::sign_in(&server, "sue@example.com").await;
    let r = admin.fetch("/portal").await;
    assert_eq!(r.status().as_u16(), 403);
}

/// A test double of Stripe's Checkout Session API, as documented: a form-encoded
/// `POST /v1/checkout/sessions` with the secret key as bearer token, an `Idempotency-Key`
/// that replays the first answer, and a session whose `url` is the hosted payment page.
/// Opening that page pays: the double sends the signed `checkout.session.completed` event
/// (the real payload in `../shared/fixtures/stripe`, with this session in it) to the
/// webhook, then redirects to the session's `success_url`, as Stripe does.
pub(crate) struct FakeStripe {
    pub port: u16,
    pub sessions: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

#[derive(Clone)]
struct FakeState {
    port: u16,
    secret_key: String,
    webhook_secret: String,
    webhook: Arc<std::sync::Mutex<String>>,
    sessions: Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    keys: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

fn stripe_fixture() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/fixtures/stripe/checkout_session_completed__supabase-stripe-sync-engine.json",
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

impl FakeStripe {
    pub(crate) async fn start(
        secret_key: &str,
        webhook_secret: &str,
    ) -> (Self, Arc<std::sync::Mutex<String>>) {
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let webhook = Arc::new(std::sync::Mutex::new(String::new()));
        let st = FakeState {
            port,
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            webhook: webhook.clone(),
            sessions: Arc::default(),
            keys: Arc::default(),
        };
        let sessions = st.sessions.clone();
        let app = axum::Router::new()
            .route("/v1/checkout/sessions", post(fake_create))
            .route("/pay/{id}", get(fake_pay))
            .with_state(st);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (Self { port, sessions }, webhook)
    }
}

async fn fake_create(
    axum::extract::State(st): axum::extract::State<FakeState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    use axum::http::StatusCode;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", st.secret_key) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                serde_json::json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
            ),
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Some(id) = st.keys.lock().unwrap().get(&key) {
        let s = st
            .sessions
            .lock()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .cloned()
            .unwrap();
        return (StatusCode::OK, axum::Json(s));
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap();
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if f("mode").as_deref() != Some("payment") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": {"message": "mode"}})),
        );
    }
    let n = st.sessions.lock().unwrap().len() + 1;
    let id = format!("cs_test_e2e_{n}");
    let mut s = stripe_fixture()["data"]["object"].clone();
    s["id"] = id.clone().into();
    s["amount_total"] = f("line_items[0][price_data][unit_amount]")
        .unwrap()
        .parse::<i64>()
        .unwrap()
        .into();
    s["amount_subtotal"] = s["amount_total"].clone();
    s["currency"] = f("line_items[0][price_data][currency]").unwrap().into();
    s["client_reference_id"] = f("client_reference_id").unwrap().into();
    s["metadata"] = serde_json::json!({"invoice_id": f("metadata[invoice_id]")});
    s["success_url"] = f("success_url").unwrap().into();
    s["cancel_url"] = f("cancel_url").unwrap().into();
    s["customer_email"] = f("customer_email").into();
    s["payment_status"] = "unpaid".into();
    s["status"] = "open".into();
    s["payment_intent"] = serde_json::Value::Null;
    s["url"] = format!("http://127.0.0.1:{}/pay/{id}", st.port).into();
    st.sessions.lock().unwrap().push(s.clone());
    st.keys.lock().unwrap().insert(key, id);
    (StatusCode::OK, axum::Json(s))
}

async fn fake_pay(
    axum::extract::State(st): axum::extract::State<FakeState>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut s = st
        .sessions
        .lock()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .cloned()
        .unwrap();
    s["payment_status"] = "paid".into();
    s["status"] = "complete".into();
    s["payment_intent"] = format!("pi_{id}").into();
    let mut event = stripe_fixture();
    event["id"] = format!("evt_{id}").into();
    event["data"]["object"] = s.clone();
    let raw = serde_json::to_vec(&event).unwrap();
    let t = Ids::new(Arc::new(SystemClock)).now_ms() / 1000;
    let url = st.webhook.lock().unwrap().clone();
    let r = reqwest::Client::new()
        .post(url)
        .header(
            "stripe-signature",
            switchboard_portal::stripe::sign(&st.webhook_secret, t, &raw),
        )
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the webhook took the event");
    axum::response::Redirect::to(s["success_url"].as_str().unwrap()).into_response()
}

/// The whole path of an invoice, on PostgreSQL and Redis with real mail servers: the
/// admin's API creates and sends it; the client gets a mail with the button; a scanner
/// fetches the link and burns nothing; the client confirms, sees the totals, pays part and
/// then the rest through Stripe's Checkout (a double); the webhook marks it Partially paid
/// and then Paid, the card in the conversation follows, and payment cards appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_goes_out_by_mail_and_is_paid_through_checkout() {
    use crate::mail::{MailServer, customer_mail, server_for, smtp_send};
    use crate::support::eventually;
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (stripe, webhook) = FakeStripe::start("sk_test_e2e", "whsec_e2e_portal").await;
    let extra = format!(
        "\n[stripe]\nsecret_key = \"sk_test_e2e\"\nwebhook_secret = \"whsec_e2e_portal\"\napi_base = \"http://127.0.0.1:{}\"\n",
        stripe.port
    );
    let (server, admin) = server_for(&mail, Backend::PostgresRedis, &extra).await;
    *webhook.lock().unwrap() = server.url("/webhooks/stripe");
    smtp_send(
        mail.port("smtp"),
        "ana@globex.example",
        &["support@acme.test"],
        &customer_mail(
            "Ana <ana@globex.example>",
            "support@acme.test",
            "g1@globex.example",
            "",
            "Billing",
            "Please send the invoice.",
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
    let contact = server
        .get(&admin, &format!("/api/v1/conversations/{conv}"))
        .await
        .1["conversation"]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input changes nothing.
    let (s, e) = server
        .post(
            &admin,
            "/api/v1/companies",
            &serde_json::json!({"name": ""}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let (s, company) = server
        .post(
            &admin,
            "/api/v1/companies",
            &serde_json::json!({"name": "Globex"}),
        )
        .await;
    assert_eq!(s, 201);
    let company = company["id"].as_str().unwrap().to_owned();
    let (s, _) = server
        .post(
            &admin,
            &format!("/api/v1/companies/{company}/contacts"),
            &serde_json::json!({"contact_id": contact}),
        )
        .await;
    assert_eq!(s, 200);
    let doc: serde_json::Value = serde_json::from_str(DOC).unwrap();
    for (bad, field) in [
        (
            serde_json::json!({"contact_id": contact, "currency": "XXX", "document": doc}),
            "currency",
        ),
        (
            serde_json::json!({"contact_id": contact, "currency": "BRL", "document": {"lines": []}}),
            "document",
        ),
        (
            serde_json::json!({"contact_id": contact, "currency": "BRL", "due_date": "2026-02-30", "document": doc}),
            "due_date",
        ),
        (
            serde_json::json!({"contact_id": "nobody", "currency": "BRL", "document": doc}),
            "contact_id",
        ),
        (
            serde_json::json!({"contact_id": contact, "currency": "BRL", "document": doc, "total": 1}),
            "total",
        ),
    ] {
        let (s, e) = server.post(&admin, "/api/v1/invoices", &bad).await;
        assert_eq!(s, 422, "{bad}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let (_, none) = server.get(&admin, "/api/v1/invoices").await;
    assert_eq!(
        none["documents"].as_array().unwrap().len(),
        0,
        "nothing stored"
    );
    let support = crate::inbox::add_agent(&server, "sam@acme.test", "support", &[]).1;
    let (s, _) = server
        .post(
            &support,
            "/api/v1/invoices",
            &serde_json::json!({"contact_id": contact, "currency": "BRL", "document": doc}),
        )
        .await;
    assert_eq!(s, 403, "billing is for admins");

    // Created and sent; pushing the same external id again changes nothing.
    let new = serde_json::json!({"contact_id": contact, "currency": "BRL", "issue_date": "2026-11-20", "due_date": "2026-12-20", "document": doc, "external_id": "erp-77", "send": true});
    let (s, inv) = server.post(&admin, "/api/v1/invoices", &new).await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["total"], 35_369);
    assert_eq!(inv["status"], "sent");
    assert_eq!(inv["company_id"], company.as_str());
    let number = inv["number"].as_str().unwrap().to_owned();
    assert_eq!(number, "INV-2026-00001");
    let (_, again) = server.post(&admin, "/api/v1/invoices", &new).await;
    assert_eq!(again["id"], inv["id"]);
    let id = inv["id"].as_str().unwrap().to_owned();

    // The mail: its subject, the big button, a link that works.
    eventually(20, || async {
        mail.captured_for("ana@globex.example").len() == 1
    })
    .await;
    let (m, raw) = mail.captured_for("ana@globex.example").remove(0);
    assert_eq!(
        m.subject.as_deref(),
        Some(format!("Invoice {number} from Acme").as_str())
    );
    assert!(m.auto_submitted, "no person wrote it");
    let html = m.html.clone().unwrap();
    assert!(
        html.contains("View and pay invoice") && html.contains("R$353.69"),
        "{raw}"
    );
    let url = m
        .full_text
        .lines()
        .find(|l| l.contains("/portal/link/"))
        .unwrap()
        .trim()
        .to_owned();
    let path = url.trim_start_matches(&server.url("")).to_owned();
    let path = format!("/{}", path.trim_start_matches('/'));
    assert!(
        path.starts_with("/portal/link/")
            && path.contains(&format!("next=/portal/invoices/{number}")),
        "{path}"
    );
    let store = Store::connect(&server.database_url()).await.unwrap();
    let hash_only: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM magic_links WHERE hash = $1")
        .bind(path.split('/').nth(3).unwrap().split('?').next().unwrap())
        .fetch_one(
            &sqlx::AnyPool::connect(&server.database_url())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(hash_only, 0, "the token itself is never stored");

    // A scanner fetches it first; the client still signs in with it.
    assert_eq!(
        server
            .http
            .head(server.url(&path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        server
            .http
            .get(server.url(&path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let mut ana = Browser::new(&server);
    ana.get(&path).await;
    let token_path = path.split('?').next().unwrap().to_owned();
    let (s, _) = ana
        .post(
            &token_path,
            &[("next", &format!("/portal/invoices/{number}"))],
        )
        .await;
    assert_eq!(s, 303);
    let (_, page) = ana.get(&format!("/portal/invoices/{number}")).await;
    assert!(
        page.contains("id=\"pay-now\""),
        "Stripe is configured: Pay Now shows"
    );
    assert!(page.contains("R$353.69"));

    // The card in the conversation shows the invoice, Viewed now.
    let invoice_conv = store.invoice(&id).await.unwrap().conversation_id.unwrap();
    let card_status = |cards: Vec<switchboard_core::domain::Card>| {
        cards.iter().find_map(|c| match &c.payload {
            switchboard_core::domain::CardPayload::Invoice { status, .. } => {
                Some(status.as_str().to_owned())
            }
            _ => None,
        })
    };
    eventually(10, || async {
        card_status(store.cards(&invoice_conv).await.unwrap()).as_deref() == Some("viewed")
    })
    .await;

    // A bad amount is refused and nothing is asked of Stripe.
    let (s, _) = ana
        .post(
            &format!("/portal/invoices/{number}/pay"),
            &[("amount", "999999")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(stripe.sessions.lock().unwrap().len(), 0);

    // Pay part: a double click makes one session; paying sends the signed webhook.
    let pay = async |ana: &mut Browser, amount: &str| -> String {
        let r = ana
            .post_response(
                &format!("/portal/invoices/{number}/pay"),
                &[("amount", amount)],
            )
            .await;
        assert_eq!(r.status().as_u16(), 303);
        r.headers()["location"].to_str().unwrap().to_owned()
    };
    let first = pay(&mut ana, "100,00").await;
    let second = pay(&mut ana, "100.00").await;
    assert_eq!(first, second, "one session for one amount");
    assert_eq!(stripe.sessions.lock().unwrap().len(), 1);
    let sess = stripe.sessions.lock().unwrap()[0].clone();
    assert_eq!(sess["client_reference_id"], id.as_str());
    assert_eq!(sess["amount_total"], 10_000);
    assert_eq!(sess["currency"], "brl");
    let back = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&first)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status().as_u16(), 303);
    assert!(
        back.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/portal/invoices/{number}?paid=1"))
    );
    let state_of = async |ana: &Browser| -> serde_json::Value {
        ana.fetch(&format!("/portal/invoices/{number}/state"))
            .await
            .json()
            .await
            .unwrap()
    };
    assert_eq!(state_of(&ana).await["status"], "partially_paid");
    assert_eq!(state_of(&ana).await["balance"], "R$253.69");

    // Agents watching see the card change and the payment card arrive.
    let mut events = server.agent_events(&admin).await;
    // The rest: the balance by default.
    let rest = pay(&mut ana, "").await;
    assert_ne!(rest, first);
    assert_eq!(stripe.sessions.lock().unwrap()[1]["amount_total"], 25_369);
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&rest)
        .send()
        .await
        .unwrap();
    assert_eq!(state_of(&ana).await["status"], "paid");
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let ev = crate::support::next_json(&mut events).await;
        let t = ev["type"].as_str().unwrap_or("").to_owned();
        if t == "card_updated" || t == "card_added" {
            kinds.push((
                t,
                ev["card"]["payload"]["kind"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            ));
        }
    }
    assert!(
        kinds.contains(&("card_updated".into(), "invoice".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("card_added".into(), "payment".into())),
        "{kinds:?}"
    );
    let (_, page) = ana.get(&format!("/portal/invoices/{number}")).await;
    assert!(!page.contains("id=\"pay-now\""), "nothing left to pay");

    // The ledger balances; the conversation shows Paid and both payments.
    let (_, d) = server.get(&admin, &format!("/api/v1/documents/{id}")).await;
    assert_eq!(d["paid"], 35_369);
    assert_eq!(d["ledger"].as_array().unwrap().len(), 2);
    let cards = store.cards(&invoice_conv).await.unwrap();
    assert_eq!(card_status(cards.clone()).as_deref(), Some("paid"));
    let payments = cards
        .iter()
        .filter(|c| {
            matches!(
                c.payload,
                switchboard_core::domain::CardPayload::Payment { .. }
            )
        })
        .count();
    assert_eq!(payments, 2);
    let (_, activity) = ana.get("/portal/activity").await;
    assert!(
        activity.contains("checkout cs_test_e2e_1"),
        "{activity:.2000}"
    );

    // Estimates: accepting one makes a draft invoice of its lines, once; a declined one
    // and an expired one cannot be accepted.
    let estimate = |valid: &str| serde_json::json!({"contact_id": contact, "currency": "BRL", "issue_date": "2026-01-02", "due_date": valid, "document": doc, "send": true});
    let (s, open) = server
        .post(&admin, "/api/v1/estimates", &estimate("2099-12-31"))
        .await;
    assert_eq!(s, 201, "{open}");
    let (_, other) = server
        .post(&admin, "/api/v1/estimates", &estimate("2099-12-31"))
        .await;
    let (_, expired) = server
        .post(&admin, "/api/v1/estimates", &estimate("2026-01-03"))
        .await;
    assert_eq!(expired["status"], "expired");
    let en = open["number"].as_str().unwrap().to_owned();
    let (status, page) = ana.get(&format!("/portal/estimates/{en}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"accept\""), "{page:.3000}");
    for _ in 0..2 {
        let (s, _) = ana
            .post(
                &format!("/portal/estimates/{en}/answer"),
                &[("answer", "accept")],
            )
            .await;
        assert_eq!(s, 303);
    }
    let (_, page) = ana.get(&format!("/portal/estimates/{en}")).await;
    assert!(page.contains("You accepted this estimate.") && !page.contains("value=\"accept\""));
    let (_, invoices) = server.get(&admin, "/api/v1/invoices").await;
    let key = format!("estimate:{}", open["id"].as_str().unwrap());
    let converted: Vec<&serde_json::Value> = invoices["documents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["external_id"] == key.as_str())
        .collect();
    assert_eq!(converted.len(), 1, "{invoices}");
    assert_eq!(converted[0]["status"], "draft");
    assert_eq!(converted[0]["total"], open["total"]);
    let on = other["number"].as_str().unwrap().to_owned();
    ana.post(
        &format!("/portal/estimates/{on}/answer"),
        &[("answer", "decline")],
    )
    .await;
    ana.post(
        &format!("/portal/estimates/{on}/answer"),
        &[("answer", "accept")],
    )
    .await;
    let (_, o) = server
        .get(
            &admin,
            &format!("/api/v1/documents/{}", other["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(o["status"], "declined");
    let xn = expired["number"].as_str().unwrap().to_owned();
    ana.post(
        &format!("/portal/estimates/{xn}/answer"),
        &[("answer", "accept")],
    )
    .await;
    let (_, x) = server
        .get(
            &admin,
            &format!("/api/v1/documents/{}", expired["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(x["status"], "expired");

    // CSV import: a file with bad rows is refused whole, naming them; a good one makes one
    // invoice per external id, and importing it again makes nothing new.
    let import = async |csv: String| -> (u16, serde_json::Value) {
        let r = server
            .http
            .post(server.url("/api/v1/invoices/import"))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or_default())
    };
    let (_, before) = server.get(&admin, "/api/v1/invoices").await;
    let count = before["documents"].as_array().unwrap().len();
    let bad = format!(
        "external_id,contact_id,currency,description,quantity,unit_price,tax_rate,issue_date,due_date\n\
         acc-1,{contact},BRL,Visita,1,\"1.000,00\",23,2026-11-01,2026-12-01\n\
         acc-2,nobody,BRL,Visita,1,10,,,\n\
         acc-3,{contact},BRL,Visita,one,10,,,\n\
         acc-4,{contact},BRL,Visita,1,10,,2026-11-10,2026-11-01\n"
    );
    let (s, e) = import(bad).await;
    assert_eq!(s, 422, "{e}");
    let msg = e.to_string();
    for row in ["row 3", "row 4", "row 5"] {
        assert!(msg.contains(row), "{row}: {msg}");
    }
    let (_, after) = server.get(&admin, "/api/v1/invoices").await;
    assert_eq!(
        after["documents"].as_array().unwrap().len(),
        count,
        "nothing stored"
    );
    let good = format!(
        "external_id,contact_id,currency,description,quantity,unit_price,tax_rate,issue_date,due_date\n\
         acc-1,{contact},BRL,\"Visita técnica, São Paulo\",1,\"1.000,00\",23,2026-11-01,2026-12-01\n\
         acc-1,{contact},BRL,Toner,2,50.00,,,\n\
         acc-2,{contact},BRL,Contrato mensal,1,300,,2026-11-01,\n"
    );
    let (s, first) = import(good.clone()).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["documents"].as_array().unwrap().len(), 2);
    let (_, again) = import(good).await;
    assert_eq!(
        again["documents"], first["documents"],
        "the same file again makes nothing new"
    );
    let id = first["documents"][0]["id"].as_str().unwrap();
    let (_, d) = server.get(&admin, &format!("/api/v1/documents/{id}")).await;
    // 1,000.00 + 23 % = 1,230.00, and 2 × 50.00 = 100.00.
    assert_eq!(d["total"], 133_000);
    assert_eq!(d["status"], "draft");
    assert_eq!(
        d["document"]["lines"][0]["description"],
        "Visita técnica, São Paulo"
    );
}

/// A TOTP code for `secret` (base32) at this moment, as an authenticator app shows it.
pub(crate) fn totp_now(secret: &str) -> String {
    use switchboard_core::auth::totp;
    let now = Ids::new(Arc::new(SystemClock)).now_ms();
    totp::code(
        &totp::from_base32(secret).unwrap(),
        totp::step_at(now),
        totp::DIGITS,
    )
}

pub(crate) fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    page.split(start).nth(1).unwrap().split(end).next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_admins_manage_users_and_two_step_verification() {
    let server = Server::start(Backend::Embedded).await;
    let w = world(&server).await;
    crate::inbox::add_agent(&server, "sue@example.com", "admin", &[]);
    let token = link(&w, &w.acme_contact, "ana@acme.example", 60_000).await;
    let mut ana = signed_in(&server, &token, "/portal").await;
    let token = link(&w, &w.globex_contact, "gil@globex.example", 60_000).await;
    let mut gil = signed_in(&server, &token, "/portal").await;

    // Ana is Acme's first portal user: its admin.
    let (s, page) = ana.get("/portal/users").await;
    assert_eq!(s, 200, "{page:.300}");
    assert!(page.contains("ana@acme.example"));
    // Invitations: every address gets the same answer, and nobody moves until the
    // invitee uses the link; someone already in and a bad address are refused.
    for email in [
        "Carla@Acme.example",
        "sue@example.com",
        "gil@globex.example",
    ] {
        let (s, page) = ana
            .post(
                "/portal/users",
                &[("email", email), ("name", "Carla"), ("role", "user")],
            )
            .await;
        assert_eq!(s, 303, "{email}: {page:.300}");
    }
    for (email, why) in [
        ("ana@acme.example", "already has access"),
        ("not an address", "email"),
    ] {
        let (s, page) = ana
            .post("/portal/users", &[("email", email), ("role", "admin")])
            .await;
        assert_eq!(s, 422, "{email}: {page:.300}");
        assert!(page.contains(why), "{email}: {page:.2000}");
    }
    let (_, page) = ana.get("/portal/users?done=invited").await;
    assert!(
        page.contains("carla@acme.example"),
        "pending invitations are listed"
    );
    let pool = sqlx::AnyPool::connect(&Store::sqlite_url(server.dir.path()))
        .await
        .unwrap();
    let gil_company: Option<String> =
        sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = $1")
            .bind(&w.globex_contact)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        gil_company.is_some_and(|c| !c.is_empty()),
        "Gil stays Globex's"
    );
    let staff: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE email = 'sue@example.com' AND role = 'admin' AND contact_id IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(staff, 1, "the staff account is untouched");
    let (carla_contact, acme): (String, String) = sqlx::query_as(
        "SELECT contact_id, company_id FROM magic_links WHERE email = 'carla@acme.example' AND purpose = 'invite'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let ana_id: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'ana@acme.example'")
            .fetch_one(&pool)
            .await
            .unwrap();
    // Carla joins with an invitation link (the mailed one's twin).
    let token = w
        .store
        .create_invitation(
            &w.ids,
            &switchboard_core::store::NewInvitation {
                contact_id: &carla_contact,
                email: "carla@acme.example",
                company_id: &acme,
                role: switchboard_core::domain::Role::ClientUser,
                invited_by: &ana_id,
                ttl_ms: 60_000,
            },
        )
        .await
        .unwrap();
    let mut carla = signed_in(&server, &token, "/portal").await;
    let carla_id: String = sqlx::query_scalar(
        "SELECT id FROM users WHERE email = 'carla@acme.example' AND role = 'client_user'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let (s, _) = carla.get("/portal/users").await;
    assert_eq!(s, 403, "a client user manages nobody");
    let (s, _) = carla
        .post("/portal/users", &[("email", "x@acme.example")])
        .await;
    assert_eq!(s, 403);
    // Gil, Globex's admin, cannot touch Acme's users.
    gil.get("/portal/users").await;
    let (s, _) = gil
        .post(&format!("/portal/users/{carla_id}/remove"), &[])
        .await;
    assert_eq!(s, 404);

    // Two-step verification: set up with a code, then every sign-in asks for one.
    let (s, page) = ana.post("/portal/account/2fa/begin", &[]).await;
    assert_eq!(s, 200);
    let secret = between(&page, "id=\"totp-secret\">", "<").to_owned();
    let (s, page) = ana
        .post("/portal/account/2fa/confirm", &[("code", "000000")])
        .await;
    assert_eq!(s, 422, "a wrong code turns nothing on");
    let secret2 = between(&page, "id=\"totp-secret\">", "<").to_owned();
    assert_eq!(secret, secret2);
    let (s, page) = ana
        .post(
            "/portal/account/2fa/confirm",
            &[("code", &totp_now(&secret))],
        )
        .await;
    assert_eq!(s, 200, "{page:.500}");
    let codes: Vec<String> = between(&page, "id=\"recovery-codes\">", "</ul>")
        .split("<li>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_owned())
        .collect();
    assert!(codes.len() >= 2, "{codes:?}");
    ana.post("/portal/logout", &[]).await;
    let token = link(&w, &w.acme_contact, "ana@acme.example", 60_000).await;
    let mut ana = Browser::new(&server);
    ana.get(&format!("/portal/link/{token}")).await;
    let (s, _) = ana
        .post(&format!("/portal/link/{token}"), &[("next", "/portal")])
        .await;
    assert_eq!(s, 303);
    let r = ana.fetch("/portal").await;
    assert_eq!(r.status().as_u16(), 303, "no page before the code");
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/portal/login/2fa")
    );
    ana.get("/portal/login/2fa").await;
    let (s, _) = ana.post("/portal/login/2fa", &[("code", "123456")]).await;
    assert_eq!(s, 422);
    let (s, _) = ana
        .post(
            "/portal/login/2fa",
            &[("code", &codes[0]), ("next", "/portal")],
        )
        .await;
    assert_eq!(s, 303);
    let (s, _) = ana.get("/portal").await;
    assert_eq!(s, 200);

    // A password, optional: it signs in too, and still asks for the code.
    let (s, page) = ana
        .post(
            "/portal/account/password",
            &[("password", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(s, 422, "{page:.300}");
    let strong = "plum orchard violin 42";
    let (s, _) = ana
        .post(
            "/portal/account/password",
            &[("password", strong), ("confirm", strong)],
        )
        .await;
    assert_eq!(s, 200);
    let mut again = Browser::new(&server);
    again.get("/portal/login").await;
    let (s, _) = again
        .post(
            "/portal/login/password",
            &[
                ("email", "ana@acme.example"),
                ("password", "wrong one entirely"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(again.cookie("__Host-sb_session").is_none());
    let (s, _) = again
        .post(
            "/portal/login/password",
            &[("email", "ana@acme.example"), ("password", strong)],
        )
        .await;
    assert_eq!(s, 303);
    again.get("/portal/login/2fa").await;
    let (s, _) = again
        .post(
            "/portal/login/2fa",
            &[("code", &codes[1]), ("next", "/portal")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(again.get("/portal/invoices").await.0, 200);
    // An agent's password never opens the portal.
    let mut sue = Browser::new(&server);
    sue.get("/portal/login").await;
    let (s, _) = sue
        .post(
            "/portal/login/password",
            &[
                ("email", "sue@example.com"),
                ("password", crate::inbox::PASSWORD),
            ],
        )
        .await;
    assert_eq!(s, 422);

    // The company requires it: Carla must set it up before anything else.
    let (s, _) = ana.post("/portal/users/2fa", &[("require", "1")]).await;
    assert_eq!(s, 303);
    let r = carla.fetch("/portal/invoices").await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/portal/account");
    let (s, page) = carla.get("/portal/account").await;
    assert_eq!(s, 200);
    assert!(page.contains("requires two-step verification"));
    let (s, page) = ana
        .post("/portal/account/2fa/disable", &[("code", &codes[2])])
        .await;
    assert_eq!(s, 422, "{page:.300}");

    // Removing: not oneself, not the last admin; a removed user's session ends.
    let (_, page) = ana.get("/portal/users").await;
    let ana_id: String =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'ana@acme.example'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!page.contains(&format!("/portal/users/{ana_id}/remove")));
    let (s, _) = ana
        .post(&format!("/portal/users/{ana_id}/remove"), &[])
        .await;
    assert_eq!(s, 422);
    let (s, _) = ana
        .post(&format!("/portal/users/{carla_id}/remove"), &[])
        .await;
    assert_eq!(s, 303);
    let r = carla.fetch("/portal/account").await;
    assert_eq!(r.status().as_u16(), 303, "Carla's session ended");
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/portal/login")
    );
    let (_, page) = ana.get("/portal/activity").await;
    for action in [
        "Invited",
        "Removed a user",
        "Turned on two-step verification",
        "Changed the password",
        "Required two-step verification for everyone",
    ] {
        assert!(page.contains(action), "{action} is in the activity log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_write_invoices_on_their_pages_and_edit_drafts() {
    let server = Server::start(Backend::Embedded).await;
    let w = world(&server).await;
    let token = link(&w, &w.acme_contact, "ana@acme.example", 60_000).await;
    signed_in(&server, &token, "/portal").await;
    crate::inbox::add_agent(&server, "rita@example.com", "admin", &[]);
    crate::inbox::add_agent(&server, "sue@example.com", "supervisor", &[]);
    let mut rita = Browser::sign_in(&server, "rita@example.com").await;
    let (s, page) = rita.get("/billing/new").await;
    assert_eq!(s, 200);
    assert!(page.contains("name=\"desc_0\""));
    let count = async || -> i64 {
        let pool = sqlx::AnyPool::connect(&Store::sqlite_url(server.dir.path()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM invoices")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = count().await;
    // Every problem named, nothing stored.
    let (s, page) = rita
        .post(
            "/billing/new",
            &[
                ("kind", "invoice"),
                ("contact", "nobody@example.com"),
                ("currency", "BRL"),
                ("issue", "2026-11-23"),
                ("desc_0", ""),
                ("price_0", "10"),
                ("desc_1", "Toner"),
                ("price_1", "dez"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    for want in [
        "no contact has the address",
        "line 1: describe it",
        "line 2: the price",
    ] {
        assert!(page.contains(want), "{want}: {page:.3000}");
    }
    assert!(page.contains("value=\"Toner\""), "what was typed stays");
    assert_eq!(count().await, before);
    // A draft, by the client's address; its totals are the lines'.
    let r = rita
        .post_response(
            "/billing/new",
            &[
                ("kind", "invoice"),
                ("contact", "ana@acme.example"),
                ("currency", "brl"),
                ("issue", "2026-11-23"),
                ("due", "2026-12-23"),
                ("desc_0", "Manutenção preventiva"),
                ("qty_0", "2"),
                ("price_0", "123,45"),
                ("tax_0", "23"),
                ("desc_1", "Toner"),
                ("price_1", "50,00"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    let id = at
        .trim_start_matches("/billing/documents/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let doc = w.store.invoice(&id).await.unwrap();
    assert_eq!(doc.status, "draft");
    assert_eq!(doc.contact_id, w.acme_contact);
    // 2 × 123.45 = 246.90 + 23 % = 56.79; + 50.00 = 353.69
    assert_eq!((doc.subtotal, doc.tax, doc.total), (29_690, 5_679, 35_369));
    let (_, page) = rita.get(&at).await;
    assert!(page.contains(&format!("/billing/documents/{id}/edit")));
    // Edited: a line more, the other rounding.
    let (s, page) = rita.get(&format!("/billing/documents/{id}/edit")).await;
    assert_eq!(s, 200);
    assert!(
        page.contains("value=\"Manutenção preventiva\""),
        "{page:.3000}"
    );
    let r = rita
        .post_response(
            &format!("/billing/documents/{id}/edit"),
            &[
                ("currency", "BRL"),
                ("issue", "2026-11-23"),
                ("due", "2026-12-23"),
                ("rounding", "per_invoice"),
                ("desc_0", "Manutenção preventiva"),
                ("qty_0", "2"),
                ("price_0", "123,45"),
                ("tax_0", "23"),
                ("desc_1", "Toner"),
                ("price_1", "50"),
                ("desc_2", "Deslocamento"),
                ("price_2", "30"),
            ],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let doc = w.store.invoice(&id).await.unwrap();
    assert_eq!(doc.total, 38_369);
    let (s, _) = rita
        .post(
            &format!("/billing/documents/{id}/edit"),
            &[
                ("currency", "BRL"),
                ("issue", "2026-11-23"),
                ("due", "2026-01-01"),
                ("desc_0", "x"),
                ("price_0", "1"),
            ],
        )
        .await;
    assert_eq!(s, 422, "due before issue");
    assert_eq!(w.store.invoice(&id).await.unwrap().total, 38_369);
    // A sent document is no longer edited; a supervisor writes nothing.
    w.store
        .set_document_status(&id, &["draft"], "sent", 1)
        .await
        .unwrap();
    let r = rita.fetch(&format!("/billing/documents/{id}/edit")).await;
    assert_eq!(r.status().as_u16(), 303);
    let (s, _) = rita
        .post(
            &format!("/billing/documents/{id}/edit"),
            &[
                ("currency", "BRL"),
                ("issue", "2026-11-23"),
                ("desc_0", "x"),
                ("price_0", "1"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(w.store.invoice(&id).await.unwrap().total, 38_369);
    let mut sue = Browser::sign_in(&server, "sue@example.com").await;
    assert_eq!(sue.get("/billing/new").await.0, 403);
    let (s, _) = sue
        .post(
            "/billing/new",
            &[
                ("contact", "ana@acme.example"),
                ("desc_0", "x"),
                ("price_0", "1"),
            ],
        )
        .await;
    assert_eq!(s, 403);
}
