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
    for what in ["login", "view", "download"] {
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
    let mut anon = Browser::new(&server);
    anon.get("/portal/login").await;
    let mut checked = 0;
    for spec in route_specs() {
        if spec.access == PortalAccess::Public || spec.path == "/portal/logout" {
            continue;
        }
        let path = spec.path.replace("{number}", &w.acme_sent);
        let (status, body) = if spec.method == "GET" {
            gil.get(&path).await
        } else {
            gil.post(&path, &[("n", &w.acme_sent)]).await
        };
        if spec.path.contains("{number}") {
            assert_eq!(status, 404, "gil: {} {path}: {body:.300}", spec.method);
            assert!(!body.contains("Manutenção"), "{path}");
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
    assert!(checked >= 12, "only {checked} checks ran");
    // An agent's session is not a client's.
    crate::inbox::add_agent(&server, "sue@example.com", "supervisor", &[]);
    let admin = crate::inbox::Browser::sign_in(&server, "sue@example.com").await;
    let r = admin.fetch("/portal").await;
    assert_eq!(r.status().as_u16(), 403);
}
