//! Equipment through the real server: a fleet imported whole or not at all, a contract,
//! readings refused and stored once, a period billed once by the API, the command line
//! and two processes at once; clients reading their machines and entering a reading with
//! a photo on the portal, and never another company's.

use serde_json::{Value, json};

use crate::inbox::Browser;
use crate::support::{Backend, Server};
use crate::trust::{client, company, visitor_contact};

const CSV_BAD: &str = "company_id,model,serial,maker,location,asset_tag,installed_on,status\n\
    {C},IM C3000,RIC-1001,Ricoh,Sala 1,PAT-1,2025-10-01,\n\
    {C},,RIC-1002,Ricoh,,,,\n\
    nope,M3655,KY-1,Kyocera,,,,\n\
    {C},M406,HP-1,HP,,,31/12/2025,broken\n";
const CSV_GOOD: &str = "serial,model,company_id,maker,location\n\
    RIC-1001,IM C3000,{C},Ricoh,\"Av. Paulista, 1578\"\n\
    KY-2002,ECOSYS M3655idn,{C},Kyocera,Depósito\n";

fn terms() -> Value {
    json!({
        "pooling": "pooled",
        "tax_rate_bp": 0,
        "allowances": [
            {"counter": "mono", "included": 5000, "tiers": [{"from": 0, "per_thousand": 3500}, {"from": 10000, "per_thousand": 2500}]}
        ]
    })
}

async fn import(server: &Server, token: &str, csv: &str) -> (u16, Value) {
    let r = server
        .http
        .post(server.url("/api/v1/machines/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

async fn machines(server: &Server, token: &str) -> Vec<Value> {
    let (s, v) = server.get(token, "/api/v1/machines").await;
    assert_eq!(s, 200, "{v}");
    v["machines"].as_array().unwrap().clone()
}

fn id_of(list: &[Value], serial: &str) -> String {
    list.iter()
        .find(|m| m["serial"] == serial)
        .unwrap_or_else(|| panic!("no {serial}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The machines and a contract of one company, through the API.
pub(crate) async fn fleet(
    server: &Server,
    admin: &str,
    company: &str,
    contact: &str,
) -> (String, String, String) {
    let (s, v) = import(server, admin, &CSV_GOOD.replace("{C}", company)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["imported"], 2);
    let list = machines(server, admin).await;
    let (ric, ky) = (id_of(&list, "RIC-1001"), id_of(&list, "KY-2002"));
    let (s, c) = server
        .post(
            admin,
            "/api/v1/contracts",
            &json!({
                "company_id": company, "contact_id": contact, "number": "CT-77", "period": "monthly",
                "currency": "BRL", "fee": 30000, "terms": terms(), "start_date": "2026-01-01",
                "machines": [{"machine_id": ric, "slot": "1"}, {"machine_id": ky, "slot": "2"}]
            }),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    (ric, ky, c["id"].as_str().unwrap().to_owned())
}

async fn reading(server: &Server, token: &str, machine: &str, body: Value) -> (u16, Value) {
    server
        .post(
            token,
            &format!("/api/v1/machines/{machine}/readings"),
            &body,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_imports_a_fleet_whole_or_not_at_all_and_bills_its_periods_once() {
    let server = Server::start(Backend::PostgresRedis).await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;

    // A bad file: every bad row named, nothing stored.
    let (s, v) = import(&server, &admin, &CSV_BAD.replace("{C}", &globex)).await;
    assert_eq!(s, 422, "{v}");
    let msg = v.to_string();
    for want in [
        "row 3: model is empty",
        "row 5: installed_on",
        "row 5: status",
    ] {
        assert!(msg.contains(want), "{want}: {msg}");
    }
    assert!(
        machines(&server, &admin).await.is_empty(),
        "nothing half-imported"
    );
    // A company that does not exist is named by the database check.
    let (s, v) = import(
        &server,
        &admin,
        "company_id,model,serial\nnope,M3655,KY-1\n",
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("row 2: no company nope"), "{v}");

    let (ric, ky, contract) = fleet(&server, &admin, &globex, &ana).await;
    // The same file again: every serial is named as stored, nothing added.
    let (s, v) = import(&server, &admin, &CSV_GOOD.replace("{C}", &globex)).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v.to_string()
            .contains("row 2: serial RIC-1001 is stored already"),
        "{v}"
    );
    assert_eq!(machines(&server, &admin).await.len(), 2);

    // Readings: the installation, then bad ones refused and nothing stored.
    for (m, mono) in [(&ric, 10_000), (&ky, 50_000)] {
        let (s, v) = reading(
            &server,
            &admin,
            m,
            json!({"mono": mono, "date": "2025-12-31", "key": format!("base-{m}")}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    for (body, want) in [
        (
            json!({"mono": "abc", "key": "b1", "date": "2026-01-31"}),
            "not a number",
        ),
        (
            json!({"mono": "-5", "key": "b2", "date": "2026-01-31"}),
            "negative",
        ),
        (
            json!({"mono": "99999999999999", "key": "b3", "date": "2026-01-31"}),
            "at most",
        ),
        (
            json!({"mono": 9_000, "key": "b4", "date": "2026-01-31"}),
            "below",
        ),
        (json!({"key": "b5", "date": "2026-01-31"}), "counter"),
        (
            json!({"mono": 12_000, "key": "b6", "date": "2031-01-31"}),
            "future",
        ),
    ] {
        let (s, v) = reading(&server, &admin, &ric, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert!(v.to_string().to_lowercase().contains(want), "{want}: {v}");
    }
    // Stored once, however often it is sent.
    let jan = json!({"mono": "14.000", "date": "2026-01-31", "key": "jan-ric"});
    assert_eq!(reading(&server, &admin, &ric, jan.clone()).await.0, 201);
    assert_eq!(reading(&server, &admin, &ric, jan).await.0, 200);
    // A jump far past the usual volume is confirmed first.
    let (s, v) = reading(
        &server,
        &admin,
        &ky,
        json!({"mono": 63_000, "date": "2026-01-30", "key": "jan-ky"}),
    )
    .await;
    assert_eq!(s, 201, "no history to compare yet: {v}");
    let (s, v) = reading(
        &server,
        &admin,
        &ky,
        json!({"mono": 900_000, "date": "2026-02-20", "key": "feb-ky"}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(v.to_string().contains("confirm"), "{v}");
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ky}")).await;
    assert_eq!(
        m["readings"].as_array().unwrap().len(),
        2,
        "nothing stored: {m}"
    );
    assert_eq!(m["contract"]["number"], "CT-77");

    // January: 4,000 + 13,000 = 17,000 copies, 5,000 included: 10,000 × R$ 35 / 1000 +
    // 2,000 × R$ 25 / 1000 = R$ 400, plus the R$ 300 fee.
    let (s, r) = server
        .post(
            &admin,
            "/api/v1/contracts/close",
            &json!({"today": "2026-02-01"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["periods"].as_i64(), r["invoices"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let (s, r) = server
        .post(
            &admin,
            "/api/v1/contracts/close",
            &json!({"today": "2026-02-01"}),
        )
        .await;
    assert_eq!(
        (s, r["periods"].as_i64()),
        (200, Some(0)),
        "run twice, billed once: {r}"
    );
    let (_, c) = server
        .get(&admin, &format!("/api/v1/contracts/{contract}"))
        .await;
    let periods = c["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 1, "{c}");
    let steps = &periods[0]["calculation"]["steps"][0];
    assert_eq!(
        (steps["used"].as_i64(), steps["extra"].as_i64()),
        (Some(17_000), Some(12_000)),
        "{c}"
    );
    let invoice = periods[0]["invoice_id"].as_str().unwrap();
    let (_, inv) = server
        .get(&admin, &format!("/api/v1/documents/{invoice}"))
        .await;
    let total = inv["total"]
        .as_i64()
        .or_else(|| inv["document"]["total"].as_i64());
    assert_eq!(total, Some(70_000), "{inv}");

    // February has no reading of RIC-1001: estimated from its average, marked so; two
    // processes closing at once bill it once.
    let run = || {
        let mut cmd = server.command();
        cmd.args(["equipment", "close", "--today", "2026-03-01"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (run(), run());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    let reports: Vec<Value> = [&a, &b]
        .iter()
        .map(|o| serde_json::from_slice(&o.stdout).unwrap())
        .collect();
    let closed: i64 = reports.iter().map(|r| r["periods"].as_i64().unwrap()).sum();
    assert_eq!(closed, 1, "one of the two closed February: {reports:?}");
    let (_, c) = server
        .get(&admin, &format!("/api/v1/contracts/{contract}"))
        .await;
    let feb = &c["periods"][0];
    assert_eq!(feb["n"], 1, "{c}");
    assert_eq!(feb["calculation"]["steps"][0]["estimated"], true, "{c}");
    // A bad request changes nothing.
    let (s, _) = server
        .post(
            &admin,
            "/api/v1/contracts/close",
            &json!({"today": "31/02/2026"}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, v) = server
        .post(
            &admin,
            "/api/v1/contracts",
            &json!({"company_id": globex, "contact_id": ana, "number": "CT-78", "period": "monthly", "currency": "BRL", "fee": 1, "start_date": "2026-01-01",
                    "terms": {"pooling": "pooled", "tax_rate_bp": 0, "allowances": [{"counter": "mono", "included": 1, "tiers": [{"from": 5, "per_thousand": 1}]}]}}),
        )
        .await;
    assert_eq!(s, 422, "bands must start at 0: {v}");
}

/// A multipart reading form from the machine page.
async fn send_reading(
    b: &mut Browser,
    machine: &str,
    key: &str,
    mono: &str,
    extra: &[(&str, &str)],
    photo: Option<&[u8]>,
) -> (u16, String, Option<String>) {
    let mut fields = vec![("key", key), ("mono", mono)];
    fields.extend_from_slice(extra);
    let files: Vec<(&str, &str, &[u8])> = photo
        .map(|p| vec![("photo", "counter.png", p)])
        .unwrap_or_default();
    b.post_multipart(
        &format!("/portal/machines/{machine}/readings"),
        &fields,
        &files,
    )
    .await
}

fn hidden(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name}"))
        .split('"')
        .next()
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_read_their_machines_and_enter_readings() {
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let gil = visitor_contact(&server, &admin, "Hi, Gil from Initech").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    company(&server, &admin, "Initech", &[&gil]).await;
    let (ric, _, contract) = fleet(&server, &admin, &globex, &ana).await;
    let base = json!({"mono": 10_000, "date": "2025-12-31", "key": "base"});
    assert_eq!(reading(&server, &admin, &ric, base).await.0, 201);

    let mut b = client(&server, &ana, "ana@globex.example").await;
    let (s, page) = b.get("/portal/machines").await;
    assert_eq!(s, 200);
    assert!(
        page.contains("RIC-1001") && page.contains("KY-2002") && page.contains("CT-77"),
        "{page:.2000}"
    );
    let (s, page) = b.get(&format!("/portal/machines/{ric}")).await;
    assert_eq!(s, 200);
    let key = hidden(&page, "key");
    let png = crate::webchat::png(300);
    // Typed as people type: grouped by a dot. With the counter's photo.
    let (s, body, to) = send_reading(&mut b, &ric, &key, "10.900", &[], Some(&png)).await;
    assert_eq!(s, 303, "{body:.500}");
    assert!(to.unwrap().ends_with("saved=1"));
    // The same form again (a double tap, a retry): stored once.
    let (s, _, to) = send_reading(&mut b, &ric, &key, "10.900", &[], Some(&png)).await;
    assert_eq!(
        (s, to.as_deref().map(|t| t.ends_with("saved=again"))),
        (303, Some(true))
    );
    // The company's activity log has it, once.
    let (_, log) = b.get("/portal/activity").await;
    assert_eq!(
        log.matches("reading · mono 10900").count(),
        1,
        "{log:.3000}"
    );
    let (_, page) = b.get(&format!("/portal/machines/{ric}")).await;
    assert!(
        page.contains("10.900") || page.contains("10,900"),
        "{page:.3000}"
    );
    let photo = page
        .split(&format!("/portal/machines/{ric}/readings/"))
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let r = b
        .fetch(&format!("/portal/machines/{ric}/readings/{photo}/photo"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), png.as_slice());

    // Refused with its reason, nothing stored: below the last, not a number, empty.
    for (mono, want) in [
        ("10.000", "below"),
        ("dez mil", "not a number"),
        ("", "counter"),
    ] {
        let (s, body, _) = send_reading(&mut b, &ric, "k-bad", mono, &[], None).await;
        assert_eq!(s, 422, "{mono}");
        assert!(body.to_lowercase().contains(want), "{want}: {body:.3000}");
    }
    // A jump: asked first, the photo kept under its tag; a forged tag is refused.
    let (s, body, _) = send_reading(&mut b, &ric, "k-jump", "500.000", &[], Some(&png)).await;
    assert_eq!(s, 200, "{body:.500}");
    assert!(body.contains("id=\"reading-confirm\""), "{body:.3000}");
    let kept = hidden(&body, "kept_photo");
    let tag = hidden(&body, "kept_tag");
    let forged = kept.replace(&kept[kept.len() - 10..], "0000000000");
    let (s, body, _) = send_reading(
        &mut b,
        &ric,
        "k-jump",
        "500.000",
        &[
            ("confirm", "1"),
            ("kept_photo", &forged),
            ("kept_tag", &tag),
        ],
        None,
    )
    .await;
    assert_eq!(s, 422, "{body:.500}");
    let (s, _, to) = send_reading(
        &mut b,
        &ric,
        "k-jump",
        "500.000",
        &[("confirm", "1"), ("kept_photo", &kept), ("kept_tag", &tag)],
        None,
    )
    .await;
    assert_eq!(
        (s, to.as_deref().map(|t| t.ends_with("saved=1"))),
        (303, Some(true))
    );
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
    let rs = m["readings"].as_array().unwrap();
    assert_eq!(rs.len(), 3, "{m}");
    assert_eq!(rs[2]["photo"], true);

    // Every machine at once: KY-2002's first reading stored, RIC-1001's refused in its row
    // (below its last); the same form again stores nothing twice.
    let (s, page) = b.get("/portal/readings").await;
    assert_eq!(s, 200);
    let key = hidden(&page, "key");
    let ky = id_of(&machines(&server, &admin).await, "KY-2002");
    let form = [
        ("key", key.as_str()),
        (&*format!("mono-{ric}"), "400.000"),
        (&*format!("mono-{ky}"), "12"),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, *v)).collect();
    let (s, body) = b.post("/portal/readings", &form).await;
    assert_eq!(s, 422, "{body:.500}");
    assert!(body.contains("id=\"readings-problems\""), "{body:.3000}");
    assert!(body.to_lowercase().contains("below"), "{body:.3000}");
    let (s, _) = b.post("/portal/readings", &form).await;
    assert_eq!(s, 422);
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ky}")).await;
    assert_eq!(
        m["readings"].as_array().unwrap().len(),
        1,
        "KY-2002's first, once: {m}"
    );
    let ky_ok = [("key", key.as_str()), (&*format!("mono-{ky}"), "51.000")];
    let ky_ok: Vec<(&str, &str)> = ky_ok.iter().map(|(k, v)| (*k, *v)).collect();
    for _ in 0..2 {
        let (s, body) = b.post("/portal/readings", &ky_ok).await;
        assert_eq!(s, 200, "{body:.500}");
    }
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ky}")).await;
    assert_eq!(
        m["readings"].as_array().unwrap().len(),
        2,
        "stored once: {m}"
    );

    // A toner request about RIC-1001 from its page: a ticket with the machine's card,
    // counted against the contract; the same form again is one request.
    let (s, page) = b.get(&format!("/portal/tickets/new?machine={ric}")).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("value=\"{ric}\" selected")),
        "{page:.3000}"
    );
    let tkey = crate::tickets::form_key(&page);
    let fields = [
        ("key", tkey.as_str()),
        ("machine", ric.as_str()),
        ("request", "toner"),
        ("toner", "black"),
        ("toner", "cyan"),
        ("subject", ""),
        ("message", "Acabou o toner preto e o ciano."),
    ];
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let (s, body, to) = b.post_multipart("/portal/tickets", &fields, &[]).await;
        assert_eq!(s, 303, "{body:.500}");
        numbers.push(to.unwrap());
    }
    assert_eq!(numbers[0], numbers[1], "one ticket");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    let cards: Vec<String> = sqlx::query_scalar("SELECT payload FROM cards WHERE kind = 'machine'")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(cards.len(), 1, "{cards:?}");
    let card: Value = serde_json::from_str(&cards[0]).unwrap();
    assert_eq!(card["serial"], "RIC-1001");
    assert_eq!(card["request"], "toner");
    assert_eq!(card["toner"], json!(["black", "cyan"]));
    assert_eq!(card["contract"], "CT-77");
    assert_eq!(card["open_requests"], 1);
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM service_requests")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 1);
    // Toner without a colour is refused.
    let (_, page) = b.get("/portal/tickets/new").await;
    let k2 = crate::tickets::form_key(&page);
    let (s, _, _) = b
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", &k2),
                ("machine", &ric),
                ("request", "toner"),
                ("subject", "x"),
            ],
            &[],
        )
        .await;
    assert_eq!(s, 422);
    let (_, page) = b.get(&format!("/portal/machines/{ric}")).await;
    assert!(page.contains("id=\"machine-requests\""), "{page:.3000}");
    let (_, page) = b.get("/portal/contracts/CT-77").await;
    assert!(page.contains("id=\"toner-this-period\""), "{page:.3000}");

    // The contract's page, then another company's client sees none of it.
    let (s, page) = b.get("/portal/contracts/CT-77").await;
    assert_eq!(s, 200);
    assert!(page.contains("CT-77"), "{page:.2000}");
    let mut g = client(&server, &gil, "gil@initech.example").await;
    let (_, page) = g.get("/portal/machines").await;
    assert!(!page.contains("RIC-1001"), "{page:.2000}");
    for path in [
        format!("/portal/machines/{ric}"),
        format!("/portal/machines/{ric}/readings/{photo}/photo"),
        "/portal/contracts/CT-77".to_owned(),
        "/portal/contracts/CT-77/pdf".to_owned(),
        format!("/portal/contracts/{contract}"),
    ] {
        let (s, _) = g.get(&path).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, _, _) = send_reading(&mut g, &ric, "g1", "999.999", &[("confirm", "1")], None).await;
    assert_eq!(s, 404);
    // Ana's machine's field in Gil's readings form is not his to fill.
    g.get("/portal/readings").await;
    let field = format!("mono-{ric}");
    let (s, _) = g
        .post(
            "/portal/readings",
            &[
                ("key", "g2"),
                (&field, "999.999"),
                (&format!("confirm-{ric}"), "1"),
            ],
        )
        .await;
    assert_eq!(s, 200);
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
    assert_eq!(
        m["readings"].as_array().unwrap().len(),
        3,
        "nothing stored for Gil"
    );
    let (_, page) = g.get("/portal/tickets/new").await;
    assert!(
        !page.contains(&ric),
        "Gil's form offers none of Ana's machines"
    );
    let gk = crate::tickets::form_key(&page);
    let (s, _, _) = g
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", &gk),
                ("machine", &ric),
                ("request", "failure"),
                ("subject", "x"),
            ],
            &[],
        )
        .await;
    assert_eq!(s, 422, "another company's machine is not Gil's to name");
    assert_eq!(count().await, 1);
}

/// Dovecot and the capturing SMTP server, the real server on them (with `config`), Ana
/// of Globex who wrote in by mail, and Globex's fleet: `(mail, server, admin token, Ana's
/// contact, [RIC-1001, KY-2002])`.
async fn with_mail_and_fleet(
    config: &str,
) -> (crate::mail::MailServer, Server, String, String, [String; 2]) {
    let mail = crate::mail::MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = crate::mail::server_for(&mail, Backend::Embedded, config).await;
    crate::trust::writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "hello-0@globex.example",
        "",
        "Bom dia, sou a Ana.",
    )
    .await;
    let (_, ana) = crate::trust::conversation_with(&server, &admin, "Bom dia, sou a Ana.").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let (ric, ky, _) = fleet(&server, &admin, &globex, &ana).await;
    (mail, server, admin, ana, [ric, ky])
}

/// A reading sent by mail: the same reader as WhatsApp's, stored once with `email` as its
/// source and answered by mail in the client's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_sent_by_mail_is_stored_and_answered_by_mail() {
    let (mail, server, admin, ana, [ric, _]) = with_mail_and_fleet("[bot]\nenabled = true\n").await;
    let from = "ana@globex.example";
    let base = json!({"mono": 10_000, "date": "2025-12-31", "key": "base"});
    assert_eq!(reading(&server, &admin, &ric, base).await.0, 201);
    crate::inbox::sql(
        &server,
        "UPDATE conversations SET bot_active = 1 WHERE contact_id = $1",
        &[&ana],
    )
    .await;
    crate::trust::writes_in(
        &mail,
        &server,
        &admin,
        from,
        "r1@globex.example",
        "",
        "Leitura da RIC-1001: 12.345",
    )
    .await;
    crate::support::eventually(30, || async {
        let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
        m["readings"]
            .as_array()
            .is_some_and(|r| r.len() == 2 && r[1]["source"] == "email" && r[1]["mono"] == 12_345)
    })
    .await;
    crate::support::eventually(30, || async {
        mail.captured_for(from)
            .iter()
            .any(|(m, _)| m.full_text.contains("Leitura salva para RIC-1001"))
    })
    .await;
}

/// A mail naming a machine is linked to it by the bot with what its words ask (a guess:
/// the machine stays in service); the agent corrects it from the conversation's panel,
/// and a visit booked for that conversation shows its card there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_naming_a_machine_becomes_its_request_and_the_agent_corrects_it() {
    let (mail, server, admin, ana, [ric, _]) = with_mail_and_fleet("[bot]\nenabled = true\n").await;
    let from = "ana@globex.example";
    crate::inbox::add_agent(&server, "desk@acme.test", "admin", &[]);
    crate::inbox::sql(
        &server,
        "UPDATE conversations SET bot_active = 1 WHERE contact_id = $1",
        &[&ana],
    )
    .await;
    let text = "A impressora ric 1001 da expedição está atolando papel desde ontem";
    crate::trust::writes_in(&mail, &server, &admin, from, "q1@globex.example", "", text).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    let request = || async {
        sqlx::query_as::<_, (String, String, String, String)>(
            "SELECT r.conversation_id, r.machine_id, r.kind, r.toner FROM service_requests r",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    crate::support::eventually(30, || async { request().await.len() == 1 }).await;
    let (conversation, machine, kind, _) = request().await.remove(0);
    assert_eq!((machine.as_str(), kind.as_str()), (ric.as_str(), "failure"));
    assert_eq!(
        machine_status(&server, &admin, &ric).await,
        "in_service",
        "a guess puts nothing down"
    );
    let number = server
        .get(&admin, &format!("/api/v1/conversations/{conversation}"))
        .await
        .1["conversation"]["number"]
        .as_i64()
        .unwrap();
    // The agent sees the request in the panel and corrects it: toner, black and cyan.
    let mut rita = Browser::sign_in(&server, "desk@acme.test").await;
    let (s, page) = rita.get(&format!("/conversations/{number}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"side-request\""), "{page:.4000}");
    assert!(
        page.contains(&format!("value=\"{ric}\" selected")),
        "{page:.4000}"
    );
    let (s, _) = rita
        .post(
            &format!("/conversations/{number}/machine"),
            &[
                ("machine", &ric),
                ("request", "toner"),
                ("toner", "black"),
                ("toner", "cyan"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    let (_, _, kind, toner) = request().await.remove(0);
    assert_eq!(
        (kind.as_str(), toner.as_str()),
        ("toner", r#"["black","cyan"]"#)
    );
    // Another company's machine is not this conversation's.
    let gil = visitor_contact(&server, &admin, "Hi, Gil from Initech").await;
    let initech = company(&server, &admin, "Initech", &[&gil]).await;
    let (s, v) = import(
        &server,
        &admin,
        &format!("company_id,model,serial\n{initech},M406,HP-INI-1\n"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let hp = id_of(&machines(&server, &admin).await, "HP-INI-1");
    let (s, _) = rita
        .post(
            &format!("/conversations/{number}/machine"),
            &[("machine", &hp), ("request", "failure")],
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(request().await[0].1, ric);
    // A visit for this request shows its card in this conversation.
    let out = server.cli(&[
        "user",
        "add",
        "--email",
        "lia@acme.test",
        "--name",
        "Lia Campos",
        "--role",
        "technician",
    ]);
    let lia: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (s, v) = server
        .post(
            &admin,
            "/api/v1/visits",
            &json!({"machine_id": ric, "technician_id": lia["id"], "date": day_from_today(2), "from": "14h", "to": "17h",
                    "conversation_id": conversation, "key": "mail-visit"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let cards: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM cards WHERE conversation_id = $1 ORDER BY kind")
            .bind(&conversation)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(cards, ["machine", "visit"]);
}

/// Today's UTC day number and a day `k` days from it as `YYYY-MM-DD`.
fn day_from_today(k: i64) -> String {
    let now = switchboard_core::clock::Ids::new(std::sync::Arc::new(
        switchboard_core::clock::SystemClock,
    ))
    .now_ms();
    switchboard_portal::locale::iso_date(now.div_euclid(86_400_000) + k)
}

async fn visit_count(server: &Server, admin: &str) -> usize {
    let (s, v) = server.get(admin, "/api/v1/visits").await;
    assert_eq!(s, 200, "{v}");
    v["visits"].as_array().unwrap().len()
}

async fn machine_status(server: &Server, admin: &str, machine: &str) -> String {
    let (_, m) = server
        .get(admin, &format!("/api/v1/machines/{machine}"))
        .await;
    m["machine"]["status"]
        .as_str()
        .or_else(|| m["status"].as_str())
        .unwrap_or_else(|| panic!("{m}"))
        .to_owned()
}

/// A failure reported on the portal puts the machine down; the desk books a technician
/// for a window (bad bookings refused, the same form twice one visit); the technician
/// sees only the companies of their visits, arrives (the machine in maintenance; a stale
/// page refused), finishes with the report (the machine back in service); the client
/// follows it live on the request and downloads the report, which no other company's
/// client can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_visits_and_the_client_follows_it() {
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    crate::inbox::add_agent(&server, "rita@acme.test", "admin", &[]);
    let (marcos, _) = crate::inbox::add_agent(
        &server,
        "marcos@acme.test",
        "technician",
        &["--name", "Marcos Lima"],
    );
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let gil = visitor_contact(&server, &admin, "Hi, Gil from Initech").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let initech = company(&server, &admin, "Initech", &[&gil]).await;
    let (ric, _, _) = fleet(&server, &admin, &globex, &ana).await;
    let (s, v) = import(
        &server,
        &admin,
        &format!("company_id,model,serial\n{initech},M406,HP-INI-1\n"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let hp = id_of(&machines(&server, &admin).await, "HP-INI-1");

    // Ana reports a failure: a request about the machine, which is now down.
    let mut b = client(&server, &ana, "ana@globex.example").await;
    let (_, page) = b.get(&format!("/portal/tickets/new?machine={ric}")).await;
    let key = crate::tickets::form_key(&page);
    let (s, body, to) = b
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", &key),
                ("machine", &ric),
                ("request", "failure"),
                ("subject", "Parou de imprimir"),
                ("message", "A impressora da expedição parou com erro SC542."),
            ],
            &[],
        )
        .await;
    assert_eq!(s, 303, "{body:.500}");
    let number: i64 = to
        .unwrap()
        .trim_start_matches("/portal/tickets/")
        .split(['?', '#'])
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(machine_status(&server, &admin, &ric).await, "down");

    // The desk books Marcos from the machine's page, for the request.
    let mut rita = Browser::sign_in(&server, "rita@acme.test").await;
    let (s, page) = rita.get(&format!("/equipment/machines/{ric}")).await;
    assert_eq!(s, 200);
    assert!(page.contains("id=\"schedule-form\""), "{page:.3000}");
    let ticket = page
        .split("id=\"visit-request\"")
        .nth(1)
        .unwrap()
        .split("<option value=\"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let tomorrow = day_from_today(1);
    let yesterday = day_from_today(-1);
    let book =
        |date: String, from: &'static str, to: &'static str, tech: String, key: &'static str| {
            vec![
                ("key", key.to_owned()),
                ("technician", tech),
                ("date", date),
                ("from", from.to_owned()),
                ("to", to.to_owned()),
                ("request", ticket.clone()),
            ]
        };
    for (form, want) in [
        (book(yesterday, "9", "12", marcos.clone(), "bk1"), "passed"),
        (
            book(tomorrow.clone(), "12:00", "9h", marcos.clone(), "bk2"),
            "end after",
        ),
        (
            book(tomorrow.clone(), "9am", "12", marcos.clone(), "bk3"),
            "time of day",
        ),
        (
            book(tomorrow.clone(), "9", "12", String::new(), "bk4"),
            "technician",
        ),
        (
            book(tomorrow.clone(), "9", "12", "not-a-user".into(), "bk5"),
            "technician",
        ),
        (
            book("31/02".into(), "9", "12", marcos.clone(), "bk6"),
            "date",
        ),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, body) = rita
            .post(&format!("/equipment/machines/{ric}/visits"), &form)
            .await;
        assert_eq!(s, 422, "{form:?}");
        assert!(body.contains("id=\"booking-error\""), "{body:.2000}");
        assert!(body.to_lowercase().contains(want), "{want}: {body:.4000}");
    }
    assert_eq!(visit_count(&server, &admin).await, 0, "nothing booked");
    let form = book(tomorrow.clone(), "9h", "12:00", marcos.clone(), "bk-ok");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut visit_pages = Vec::new();
    for _ in 0..2 {
        let r = rita
            .post_response(&format!("/equipment/machines/{ric}/visits"), &form)
            .await;
        assert_eq!(r.status(), 303);
        visit_pages.push(r.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(
        visit_pages[0], visit_pages[1],
        "the same form twice is one visit"
    );
    assert_eq!(visit_count(&server, &admin).await, 1);
    let visit = visit_pages[0]
        .trim_start_matches("/equipment/visits/")
        .to_owned();

    // Ana sees who comes and when on her request, and the page is told live.
    let (_, thread) = b.get(&format!("/portal/tickets/{number}/thread")).await;
    assert!(thread.contains("id=\"ticket-visits\""), "{thread:.3000}");
    assert!(
        thread.contains("Marcos Lima") && thread.contains("09:00–12:00"),
        "{thread:.3000}"
    );
    let mut events = b.fetch(&format!("/portal/tickets/{number}/events")).await;
    assert_eq!(events.status().as_u16(), 200);

    // Marcos: his visits, Globex's machine and request, nothing of Initech's.
    let mut m = Browser::sign_in(&server, "marcos@acme.test").await;
    let (s, list) = m.get("/equipment/visits").await;
    assert_eq!(s, 200);
    assert!(list.contains(&visit), "{list:.3000}");
    assert_eq!(m.get(&format!("/equipment/machines/{ric}")).await.0, 200);
    assert_eq!(m.get(&format!("/conversations/{number}")).await.0, 200);
    assert_eq!(m.get(&format!("/equipment/machines/{hp}")).await.0, 404);
    let (s, page) = m.get(&format!("/equipment/visits/{visit}")).await;
    assert_eq!(s, 200);
    let version = hidden(&page, "version");
    let (s, _) = m
        .post(
            &format!("/equipment/visits/{visit}/arrive"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(machine_status(&server, &admin, &ric).await, "maintenance");
    let changed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
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
    assert_eq!(changed, Ok(true), "the request's page hears of the arrival");
    let (_, thread) = b.get(&format!("/portal/tickets/{number}/thread")).await;
    assert!(thread.contains("visit-on_site"), "{thread:.3000}");
    // The same page again (its version is stale): refused in words, nothing changed.
    let (s, body) = m
        .post(
            &format!("/equipment/visits/{visit}/arrive"),
            &[("version", &version)],
        )
        .await;
    assert_eq!(s, 422, "{body:.500}");
    assert!(body.contains("id=\"visit-error\""), "{body:.3000}");
    // A report without the client's signature is refused; the visit stays on site.
    let (_, page) = m.get(&format!("/equipment/visits/{visit}")).await;
    let version = hidden(&page, "version");
    let (s, body) = m
        .post(
            &format!("/equipment/visits/{visit}/complete"),
            &[
                ("version", &version),
                ("work_done", "Troca do fusor."),
                ("parts", "1 fusor"),
                ("signed_by", ""),
                ("machine_status", "in_service"),
            ],
        )
        .await;
    assert_eq!(s, 422);
    assert!(body.contains("signs"), "{body:.3000}");
    assert!(body.contains("Troca do fusor."), "the typing is kept");
    let (_, v) = server.get(&admin, &format!("/api/v1/visits/{visit}")).await;
    assert_eq!(v["status"], "on_site", "{v}");
    let (s, _) = m
        .post(
            &format!("/equipment/visits/{visit}/complete"),
            &[
                ("version", &version),
                (
                    "work_done",
                    "Troca do fusor e limpeza do caminho do papel. Erro SC542 resolvido.",
                ),
                ("parts", "1 fusor\n2x rolo de alimentação"),
                ("signed_by", "Ana Souza"),
                ("machine_status", "in_service"),
            ],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(machine_status(&server, &admin, &ric).await, "in_service");
    let (_, v) = server.get(&admin, &format!("/api/v1/visits/{visit}")).await;
    assert_eq!(
        (
            v["status"].as_str(),
            v["signed_by"].as_str(),
            v["report"].as_bool()
        ),
        (Some("done"), Some("Ana Souza"), Some(true)),
        "{v}"
    );
    assert_eq!(v["parts"][1]["quantity"], 2, "{v}");

    // Ana downloads the report; Gil, of another company, cannot.
    let (_, thread) = b.get(&format!("/portal/tickets/{number}/thread")).await;
    assert!(thread.contains("visit-done"), "{thread:.3000}");
    let href = format!("/portal/visits/{visit}/report");
    assert!(thread.contains(&href), "{thread:.3000}");
    let r = b.fetch(&href).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for needle in [
        "Marcos Lima",
        "RIC-1001",
        "Ana Souza",
        "rolo de alimentação",
        "SC542",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let (_, page) = b.get(&format!("/portal/machines/{ric}")).await;
    assert!(
        page.contains("id=\"machine-visits\"") && page.contains(&href),
        "{page:.3000}"
    );
    let mut g = client(&server, &gil, "gil@initech.example").await;
    assert_eq!(g.get(&href).await.0, 404);
    // Cancelling a finished visit is refused by the API too.
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/visits/{visit}/cancel"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let cards: Vec<String> = {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&server.database_url())
            .await
            .unwrap();
        sqlx::query_scalar("SELECT payload FROM cards WHERE kind = 'visit'")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    assert_eq!(cards.len(), 1, "one card, updated in place: {cards:?}");
    assert!(cards[0].contains("\"status\":\"done\""), "{cards:?}");
}

/// Readings due: a reminder goes once per contract and period by mail, whoever runs the
/// job and however often; none when every machine is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_due_are_reminded_once_by_the_clients_channel() {
    let (mail, server, admin, _, [ric, ky]) = with_mail_and_fleet("").await;
    let from = "ana@globex.example";
    crate::inbox::sql(&server, "UPDATE contracts SET read_before = 3", &[]).await;
    for m in [&ric, &ky] {
        let (s, v) = reading(
            &server,
            &admin,
            m,
            json!({"mono": 10_000, "date": "2025-12-31", "key": format!("base-{m}")}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let remind = |today: &'static str| {
        let server = &server;
        let admin = admin.clone();
        async move {
            let (s, r) = server
                .post(
                    &admin,
                    "/api/v1/contracts/remind",
                    &json!({ "today": today }),
                )
                .await;
            assert_eq!(s, 200, "{r}");
            r["email"].as_i64().unwrap()
        }
    };
    // Before the span (February's reading day is the 26th): nothing.
    assert_eq!(remind("2026-02-20").await, 0);
    assert_eq!(remind("2026-02-24").await, 1);
    assert_eq!(remind("2026-02-26").await, 0, "once per period");
    // Two processes at once for March: one sends it.
    let run = || {
        let mut cmd = server.command();
        cmd.args(["equipment", "remind", "--today", "2026-03-28"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (a, b) = (run(), run());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    let sent: i64 = [&a, &b]
        .iter()
        .map(|o| {
            serde_json::from_slice::<Value>(&o.stdout).unwrap()["email"]
                .as_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(sent, 1);
    // April: both machines read in the week before the reading day: no reminder.
    for (m, mono) in [(&ric, 12_000), (&ky, 11_000)] {
        let (s, v) = reading(
            &server,
            &admin,
            m,
            json!({"mono": mono, "date": "2026-04-24", "key": format!("apr-{m}")}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    assert_eq!(remind("2026-04-27").await, 0);
    crate::support::eventually(30, || async {
        let reminders: Vec<_> = mail
            .captured_for(from)
            .into_iter()
            .filter(|(m, _)| m.subject.as_deref().is_some_and(|s| s.contains("CT-77")))
            .collect();
        reminders.len() == 2
            && reminders.iter().all(|(m, raw)| {
                m.full_text.contains("RIC-1001")
                    && m.full_text.contains("KY-2002")
                    && (raw.contains("/portal/link/")
                        || m.html.as_deref().unwrap_or("").contains("/portal/link/"))
            })
    })
    .await;
}

/// A technician (made here) and a finished visit of theirs to `machine`, through the API:
/// `(technician's id, visit's id)`.
pub(crate) async fn done_visit(server: &Server, admin: &str, machine: &str) -> (String, String) {
    let out = server.cli(&[
        "user",
        "add",
        "--email",
        "tecnico@acme.test",
        "--name",
        "Técnico Teste",
        "--role",
        "technician",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tech: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tech = tech["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .post(
            admin,
            "/api/v1/visits",
            &json!({"machine_id": machine, "technician_id": tech, "date": day_from_today(1), "from": "8", "to": "10", "key": "sweep"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let visit = v["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .post(admin, &format!("/api/v1/visits/{visit}/arrive"), &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = server
        .post(
            admin,
            &format!("/api/v1/visits/{visit}/complete"),
            &json!({"work_done": "Limpeza", "parts": [{"name": "rolo", "quantity": 2}], "signed_by": "Ana"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    (tech, visit)
}

/// The client's notification centre: two visits booked together reach the client as one
/// mail; a replayed booking adds nothing; a kind the client turned off stays on the
/// portal only; the notifications page lists them once, then as seen; the home says how
/// things stand, and the invoice list's old links land on `/portal/invoices`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_the_client_once_by_their_channel() {
    let (mail, server, admin, ana, [ric, ky]) =
        with_mail_and_fleet("[portal]\nnotice_batch_seconds = 1\n").await;
    let from = "ana@globex.example";
    let out = server.cli(&[
        "user",
        "add",
        "--email",
        "lia@acme.test",
        "--name",
        "Lia Campos",
        "--role",
        "technician",
    ]);
    let lia: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lia = lia["id"].as_str().unwrap().to_owned();
    let book = |machine: &str, key: &str| json!({"machine_id": machine, "technician_id": lia, "date": day_from_today(3), "from": "8", "to": "10", "key": key});
    let mut visits = Vec::new();
    for (m, key) in [(&ric, "n1"), (&ky, "n2"), (&ric, "n1")] {
        let (s, v) = server.post(&admin, "/api/v1/visits", &book(m, key)).await;
        assert!(s == 201 || s == 200, "{v}");
        visits.push(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(visits[0], visits[2], "the same booking again is one visit");
    // One mail with both, once.
    let with_visits = || {
        mail.captured_for(from)
            .into_iter()
            .filter(|(m, _)| m.full_text.contains("Lia Campos"))
            .collect::<Vec<_>>()
    };
    crate::support::eventually(30, || async { !with_visits().is_empty() }).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mails = with_visits();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let text = &mails[0].0.full_text;
    assert!(
        text.contains("RIC-1001") && text.contains("KY-2002"),
        "{text}"
    );

    // Ana turns visit reports off by mail: the next stays on her portal.
    let mut b = client(&server, &ana, from).await;
    let (s, page) = b.get("/portal/notifications").await;
    assert_eq!(s, 200);
    assert_eq!(page.matches("p-notice unread").count(), 2, "{page:.4000}");
    let (_, page) = b.get("/portal/notifications").await;
    assert_eq!(
        page.matches("p-notice unread").count(),
        0,
        "seen once shown"
    );
    let (s, _) = b
        .post(
            "/portal/notifications/preferences",
            &[("pref-visit_done", "none")],
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = b
        .post(
            "/portal/notifications/preferences",
            &[("pref-visit_done", "fax")],
        )
        .await;
    assert_eq!(s, 422);
    for step in ["arrive", "complete"] {
        let (s, v) = server
            .post(
                &admin,
                &format!("/api/v1/visits/{}/{step}", visits[0]),
                &json!({"work_done": "Limpeza", "signed_by": "Ana"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut seen = false;
    for _ in 0..60 {
        let (_, page) = b.get("/portal/notifications").await;
        if page.contains("report is ready") || page.contains("relatório está pronto") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(seen, "the visit done is a notice on the portal");
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        !mail
            .captured_for(from)
            .iter()
            .any(|(m, _)| m.full_text.contains("report is ready")
                || m.full_text.contains("relatório está pronto")),
        "turned off by mail"
    );

    // The home: what is owed, machines, visits, notices; old list links go to the list.
    let (s, home) = b.get("/portal").await;
    assert_eq!(s, 200);
    for id in [
        "home-owed",
        "home-requests",
        "home-machines",
        "home-visits",
        "home-notices",
    ] {
        assert!(home.contains(&format!("id=\"{id}\"")), "{id}: {home:.4000}");
    }
    assert!(
        home.contains("Lia Campos"),
        "the visit still booked: {home:.4000}"
    );
    let r = b.fetch("/portal?sort=number&dir=asc").await;
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        "/portal/invoices?sort=number&dir=asc"
    );
    assert_eq!(b.get("/portal/invoices").await.0, 200);
}

/// The part of the board between `id="{from}"` and the next list (or the section's end).
fn board_part<'a>(page: &'a str, from: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{from}\""))
        .unwrap_or_else(|| panic!("no {from}: {page:.3000}"));
    let rest = &page[at..];
    let end = rest[1..]
        .find("<div id=")
        .or_else(|| rest.find("</section>"))
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

/// The supervisor board counts machines down, invoices past due and readings missing for
/// every company; a coordinator sees only its own companies' (and its conversations), a
/// support agent not the board at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_machines_down_overdue_invoices_and_missing_readings_per_coordinator() {
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let gil = visitor_contact(&server, &admin, "Hola, soy Gil de Initech").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let initech = company(&server, &admin, "Initech", &[&gil]).await;
    let (s, v) = import(&server, &admin, &CSV_GOOD.replace("{C}", &globex)).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = import(
        &server,
        &admin,
        &format!("serial,model,company_id\nHP-3003,LaserJet M406,{initech}\nHP-3004,LaserJet M430,{initech}\n"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let list = machines(&server, &admin).await;
    let (ric, hp3, hp4) = (
        id_of(&list, "RIC-1001"),
        id_of(&list, "HP-3003"),
        id_of(&list, "HP-3004"),
    );
    // Contracts whose clients read the counters, begun 20 days ago: the period's reading
    // day (15 days before its end, 8 to 11 days ahead) is 4 to 7 days past.
    for (company, contact, number, machines) in [
        (
            &globex,
            &ana,
            "CT-G1",
            vec![ric.clone(), id_of(&list, "KY-2002")],
        ),
        (&initech, &gil, "CT-I1", vec![hp3.clone(), hp4.clone()]),
    ] {
        let machines: Vec<Value> = machines
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"machine_id": m, "slot": (i + 1).to_string()}))
            .collect();
        let (s, c) = server
            .post(
                &admin,
                "/api/v1/contracts",
                &json!({
                    "company_id": company, "contact_id": contact, "number": number, "period": "monthly",
                    "currency": "BRL", "fee": 30000, "terms": terms(), "start_date": day_from_today(-20),
                    "read_before": 15, "machines": machines
                }),
            )
            .await;
        assert_eq!(s, 201, "{c}");
    }
    // Globex read one machine today; nobody read Initech's.
    let today = json!({"mono": 1_000, "date": day_from_today(0), "key": "today-ric"});
    assert_eq!(reading(&server, &admin, &ric, today).await.0, 201);
    // One machine down at each company.
    crate::inbox::sql(
        &server,
        "UPDATE machines SET status = 'down' WHERE serial IN ('KY-2002', 'HP-3004')",
        &[],
    )
    .await;
    // An invoice ten days past due at each, one due next week, one paid late.
    let doc =
        json!({"lines": [{"description": "Toner", "quantity_milli": 1000, "unit_price": 10000}]});
    let mut numbers = Vec::new();
    for (contact, due) in [(&ana, -10), (&gil, -10), (&gil, 7), (&ana, -3)] {
        let (s, inv) = server
            .post(
                &admin,
                "/api/v1/invoices",
                &json!({"contact_id": contact, "currency": "BRL", "issue_date": day_from_today(-40),
                        "due_date": day_from_today(due), "document": doc}),
            )
            .await;
        assert_eq!(s, 201, "{inv}");
        numbers.push(inv["number"].as_str().unwrap().to_owned());
    }
    // Sent by the accounting system's own mail (the chat contacts have no address here).
    crate::inbox::sql(&server, "UPDATE invoices SET status = 'sent'", &[]).await;
    let paid = numbers.pop().unwrap();
    crate::inbox::sql(
        &server,
        "UPDATE invoices SET paid = total WHERE number = $1",
        &[paid.as_str()],
    )
    .await;

    // The supervisor: both companies.
    crate::inbox::add_agent(&server, "sue@acme.test", "supervisor", &[]);
    let mut sue = Browser::sign_in(&server, "sue@acme.test").await;
    let (s, page) = sue.get("/dashboard").await;
    assert_eq!(s, 200, "{page:.2000}");
    let down = board_part(&page, "machines-down");
    assert!(
        down.contains("KY-2002") && down.contains("HP-3004"),
        "{down}"
    );
    assert!(
        !down.contains("RIC-1001") && !down.contains("HP-3003"),
        "{down}"
    );
    let overdue = board_part(&page, "overdue");
    assert!(
        overdue.contains(&numbers[0]) && overdue.contains(&numbers[1]),
        "{overdue}"
    );
    assert!(!overdue.contains(&numbers[2]), "not due yet: {overdue}");
    assert!(!overdue.contains(&paid), "paid: {overdue}");
    assert!(overdue.contains("10 days late"), "{overdue}");
    let missing = board_part(&page, "readings-missing");
    for serial in ["KY-2002", "HP-3003", "HP-3004"] {
        assert!(missing.contains(serial), "{serial}: {missing}");
    }
    assert!(!missing.contains("RIC-1001"), "read today: {missing}");

    // A coordinator of Initech: Initech's, nothing of Globex's anywhere on the page.
    crate::inbox::add_agent(
        &server,
        "cory@acme.test",
        "coordinator",
        &["--company", &initech],
    );
    let mut cory = Browser::sign_in(&server, "cory@acme.test").await;
    let (s, page) = cory.get("/dashboard").await;
    assert_eq!(s, 200, "{page:.2000}");
    assert!(board_part(&page, "machines-down").contains("HP-3004"));
    assert!(board_part(&page, "overdue").contains(&numbers[1]));
    let missing = board_part(&page, "readings-missing");
    assert!(
        missing.contains("HP-3003") && missing.contains("HP-3004"),
        "{missing}"
    );
    for other in [
        "Globex",
        "KY-2002",
        "RIC-1001",
        numbers[0].as_str(),
        "CT-G1",
    ] {
        assert!(
            !page.contains(other),
            "{other} shown to Initech's coordinator"
        );
    }
    // Its conversation numbers too: one open conversation, Gil's.
    let cory_token = {
        let out = server.cli(&["user", "token", "--email", "cory@acme.test"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let (s, d) = server.get(&cory_token, "/api/v1/dashboard").await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["dashboard"]["open_total"], 1, "{d}");
    let (_, d) = server.get(&admin, "/api/v1/dashboard").await;
    assert_eq!(d["dashboard"]["open_total"], 2, "{d}");

    // Support agents have no board.
    crate::inbox::add_agent(&server, "sam@acme.test", "support", &[]);
    let mut sam = Browser::sign_in(&server, "sam@acme.test").await;
    assert_eq!(sam.get("/dashboard").await.0, 403);
}

/// The part of a page from `id="{id}"` to the end of its `</section>`.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}: {page:.4000}"));
    let rest = &page[at..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Sites: imported whole or not at all (semicolons and decimal commas as a Brazilian
/// spreadsheet writes them), a machine placed only at its own company's site, and the
/// client's map page listing its sites, machines and visit reports and nothing of another
/// company's; the tile server's origin is the one the page's policy allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_are_imported_whole_and_mapped_for_their_company_only() {
    let server = Server::start_with(
        Backend::PostgresRedis,
        &[(
            "SWITCHBOARD_PORTAL__MAP_TILES",
            "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
        )],
    )
    .await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Globex").await;
    let gil = visitor_contact(&server, &admin, "Hola, soy Gil de Initech").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let initech = company(&server, &admin, "Initech", &[&gil]).await;
    let import_sites = |csv: String| {
        let server = &server;
        let admin = admin.clone();
        async move {
            let r = server
                .http
                .post(server.url("/api/v1/sites/import"))
                .bearer_auth(&admin)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    let sites_of = |company: String, token: String| {
        let server = &server;
        async move {
            let (s, v) = server
                .get(&token, &format!("/api/v1/sites?company_id={company}"))
                .await;
            assert_eq!(s, 200, "{v}");
            v["sites"].as_array().unwrap().clone()
        }
    };
    // One bad row: every problem named, nothing stored.
    let (s, v) = import_sites(format!(
        "company_id;name;address;latitude;longitude\n\
         {globex};Matriz;Av. Paulista, 1578;-23,561414;-46,655881\n\
         {globex};Norte;;-23,5;\n\
         nope;Sul;;;\n"
    ))
    .await;
    assert_eq!(s, 422, "{v}");
    let msg = v.to_string();
    assert!(
        msg.contains("row 3: a latitude needs its longitude"),
        "{msg}"
    );
    let (s, v) = import_sites(format!("company_id,name\n{globex},Matriz\nnope,Sul\n")).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("row 3: no company nope"), "{v}");
    assert!(sites_of(globex.clone(), admin.clone()).await.is_empty());
    let (s, v) = import_sites(format!(
        "company_id;name;address;latitude;longitude\n\
         {globex};Matriz;\"Av. Paulista, 1578 — São Paulo\";-23,561414;-46,655881\n\
         {globex};Depósito;Rua do Porto 9;;\n"
    ))
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["imported"], 2);
    let matriz = v["sites"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["sites"][0]["latitude"], json!(-23.561414));
    let (s, planta) = server
        .post(
            &admin,
            "/api/v1/sites",
            &json!({"company_id": initech, "name": "Planta Monterrey", "latitude": 25.686614, "longitude": "-100,316113"}),
        )
        .await;
    assert_eq!(s, 201, "{planta}");
    let planta = planta["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .post(
            &admin,
            "/api/v1/sites",
            &json!({"company_id": initech, "name": "Planta Monterrey"}),
        )
        .await;
    assert_eq!(s, 409, "one name per company: {v}");

    // Machines at their own company's sites only.
    let (s, v) = import(&server, &admin, &CSV_GOOD.replace("{C}", &globex)).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = import(
        &server,
        &admin,
        &format!("serial,model,company_id\nHP-3003,LaserJet M406,{initech}\n"),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let list = machines(&server, &admin).await;
    let (ric, hp) = (id_of(&list, "RIC-1001"), id_of(&list, "HP-3003"));
    let place = |machine: &str, site: &str| {
        let server = &server;
        let admin = admin.clone();
        let path = format!("/api/v1/machines/{machine}/site");
        let body = json!({ "site_id": site });
        async move { server.post(&admin, &path, &body).await }
    };
    let (s, v) = place(&ric, &matriz).await;
    assert_eq!(
        (s, v["site_id"].as_str()),
        (200, Some(matriz.as_str())),
        "{v}"
    );
    assert_eq!(place(&ric, &planta).await.0, 404, "another company's site");
    assert_eq!(place(&hp, &matriz).await.0, 404);
    assert_eq!(place(&hp, &planta).await.0, 200);
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
    assert_eq!(m["machine"]["site_id"], json!(matriz), "unchanged");
    // The agent's machine page names the site and moves the machine among its company's
    // sites only.
    crate::inbox::add_agent(&server, "desk@acme.test", "admin", &[]);
    let mut root = Browser::sign_in(&server, "desk@acme.test").await;
    let (s, page) = root.get(&format!("/equipment/machines/{ric}")).await;
    assert_eq!(s, 200);
    let card = section(&page, "site-card");
    assert!(
        card.contains("Matriz") && card.contains("Av. Paulista, 1578"),
        "{card}"
    );
    assert!(
        card.contains("Depósito") && !card.contains("Planta"),
        "{card}"
    );
    let site_path = format!("/equipment/machines/{ric}/site");
    let (s, _) = root.post(&site_path, &[("site", &planta)]).await;
    assert_eq!(s, 422, "another company's site");
    let (s, _) = root.post(&site_path, &[("site", "")]).await;
    assert_eq!(s, 303);
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
    assert_eq!(m["machine"]["site_id"], Value::Null, "{m}");
    let (s, _) = root.post(&site_path, &[("site", &matriz)]).await;
    assert_eq!(s, 303);
    let (_, m) = server.get(&admin, &format!("/api/v1/machines/{ric}")).await;
    assert_eq!(m["machine"]["site_id"], json!(matriz), "{m}");
    let (_, visit) = done_visit(&server, &admin, &ric).await;

    // A coordinator of Initech reads Initech's sites, not Globex's.
    let cory = crate::inbox::add_agent(
        &server,
        "cory@acme.test",
        "coordinator",
        &["--company", &initech],
    )
    .1;
    assert!(sites_of(globex.clone(), cory.clone()).await.is_empty());
    assert_eq!(sites_of(initech.clone(), cory).await.len(), 1);

    // Ana's map: her sites, machines and reports; nothing of Initech's.
    let b = client(&server, &ana, "ana@globex.example").await;
    let r = b.fetch("/portal/map").await;
    assert_eq!(r.status(), 200);
    let policy = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("img-src 'self' data: blob: https://*.tiles.example.org;"),
        "{policy}"
    );
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"site-map\""), "{page:.3000}");
    let here = section(&page, &format!("site-{matriz}"));
    assert!(
        here.contains("data-lat=\"-23.561414\"") && here.contains("RIC-1001"),
        "{here}"
    );
    assert!(
        here.contains(&format!("/portal/visits/{visit}/report")),
        "the visit's report from the map: {here}"
    );
    assert!(!here.contains("KY-2002"));
    assert!(
        section(&page, "site-none").contains("KY-2002"),
        "no site yet"
    );
    assert!(page.contains("Depósito") && page.contains("Rua do Porto 9"));
    for other in ["Planta", "HP-3003", "Monterrey"] {
        assert!(!page.contains(other), "{other} on Globex's map");
    }
    let r = b.fetch(&format!("/portal/visits/{visit}/report")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    // Gil's map has his plant; another page's policy stays the default.
    let mut g = client(&server, &gil, "gil@initech.example").await;
    let (s, page) = g.get("/portal/map").await;
    assert_eq!(s, 200);
    assert!(page.contains("Planta Monterrey") && page.contains("HP-3003"));
    assert!(!page.contains("Matriz") && !page.contains("RIC-1001"));
    let r = g.fetch("/portal/machines").await;
    assert!(
        !r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("tiles.example.org")
    );
}

/// The text of one of the client's invoices as PDF.
async fn invoice_pdf(b: &Browser, number: &str) -> String {
    let r = b.fetch(&format!("/portal/invoices/{number}/pdf")).await;
    assert_eq!(r.status(), 200);
    pdf_text(&r.bytes().await.unwrap())
}

/// What `pdftotext` reads in a PDF, spaces made plain.
fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([path.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext read it");
    String::from_utf8_lossy(&out.stdout).replace('\u{a0}', " ")
}

/// A client who writes in English but chooses Portuguese gets its pages, its invoice PDF
/// (words, money and dates) and its visit report in Portuguese; a language that is not one
/// of ours is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_chosen_language_is_the_language_of_its_pages_and_pdfs() {
    use switchboard_portal::locale::{Lang, date, doc_words, money, parse_date};
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Hello, this is Ana from Globex").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let (ric, _, _) = fleet(&server, &admin, &globex, &ana).await;
    let (s, inv) = server
        .post(
            &admin,
            "/api/v1/invoices",
            &json!({"contact_id": ana, "currency": "BRL", "issue_date": "2026-11-20", "due_date": "2026-12-20",
                    "document": {"lines": [{"description": "Toner", "quantity_milli": 1000, "unit_price": 123456}]}}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    crate::inbox::sql(&server, "UPDATE invoices SET status = 'sent'", &[]).await;
    let number = inv["number"].as_str().unwrap().to_owned();
    let mut b = client(&server, &ana, "ana@globex.example").await;
    let due = parse_date("2026-12-20").unwrap();
    let text = invoice_pdf(&b, &number).await;
    assert!(text.contains(doc_words(Lang::En).invoice), "{text}");
    assert!(text.contains(&date(due, Lang::En)), "{text}");

    // Portuguese, chosen on the account page.
    let (s, page) = b
        .post("/portal/account/language", &[("language", "pt-BR")])
        .await;
    assert_eq!(s, 200);
    assert!(page.contains("lang=\"pt-BR\""), "{page:.500}");
    let text = invoice_pdf(&b, &number).await;
    let w = doc_words(Lang::PtBr);
    for want in [
        w.invoice.to_owned(),
        date(due, Lang::PtBr),
        money(123_456, "BRL", 2, Lang::PtBr).replace('\u{a0}', " "),
    ] {
        assert!(text.contains(&want), "{want}: {text}");
    }
    assert!(!text.contains(doc_words(Lang::En).invoice), "{text}");
    let (_, home) = b.get("/portal").await;
    assert!(home.contains("lang=\"pt-BR\""));

    // The visit report, made after the choice, speaks it too.
    let (_, visit) = done_visit(&server, &admin, &ric).await;
    let r = b.fetch(&format!("/portal/visits/{visit}/report")).await;
    assert_eq!(r.status(), 200);
    let text = pdf_text(&r.bytes().await.unwrap());
    let v = switchboard_portal::visits::visit_words(Lang::PtBr);
    assert!(text.contains(v.report), "{}: {text}", v.report);

    // Not one of ours: refused, the choice stands.
    let (s, page) = b
        .post("/portal/account/language", &[("language", "xx")])
        .await;
    assert_eq!(s, 422);
    assert!(
        page.contains("role=\"alert\"") || page.contains("error"),
        "{page:.2000}"
    );
    assert!(invoice_pdf(&b, &number).await.contains(w.invoice));
}
