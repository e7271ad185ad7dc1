//! Trust boundaries, tried as an attacker would, through the real binary and, where mail
//! carries the credential, the real mail path (the capturing SMTP server): a link, an
//! address, an invitation or a merge never hands one client another's account.

use serde_json::{Value, json};

use crate::inbox::{Browser, add_agent};
use crate::mail::{MailServer, customer_mail, server_for, smtp_send};
use crate::support::{Backend, Server, eventually};

/// An invoice document the billing API accepts.
const DOC: &str = r#"{"lines":[{"description":"Toner","quantity_milli":1000,"unit_price":10000}]}"#;

/// A customer's mail to the support mailbox (threaded under `in_reply_to` if given, with
/// `cc` named in its Cc); returns once the server has stored it.
pub(crate) async fn writes_in(
    mail: &MailServer,
    server: &Server,
    admin: &str,
    from: &str,
    id: &str,
    extra_headers: &str,
    body: &str,
) {
    let before = all_text(server, admin).await;
    smtp_send(
        mail.port("smtp"),
        from,
        &["support@acme.test"],
        &customer_mail(from, "support@acme.test", id, extra_headers, "Toner", body),
    )
    .await;
    eventually(30, || async {
        all_text(server, admin).await.matches(body).count() > before.matches(body).count()
    })
    .await;
}

/// Every message text the admin can read, joined.
async fn all_text(server: &Server, admin: &str) -> String {
    let mut out = String::new();
    for c in server.conversations(admin).await {
        for m in server.thread(admin, c["id"].as_str().unwrap()).await {
            out.push_str(m["text"].as_str().unwrap_or_default());
            out.push('\n');
        }
    }
    out
}

/// The conversation (and its contact) in which `text` was written.
pub(crate) async fn conversation_with(
    server: &Server,
    admin: &str,
    text: &str,
) -> (String, String) {
    for c in server.conversations(admin).await {
        let id = c["id"].as_str().unwrap().to_owned();
        if server
            .thread(admin, &id)
            .await
            .iter()
            .any(|m| m["text"].as_str().is_some_and(|t| t.contains(text)))
        {
            return (id, c["contact_id"].as_str().unwrap().to_owned());
        }
    }
    panic!("no conversation with {text:?}");
}

pub(crate) async fn company(server: &Server, admin: &str, name: &str, contacts: &[&str]) -> String {
    let (s, c) = server
        .post(admin, "/api/v1/companies", &json!({ "name": name }))
        .await;
    assert_eq!(s, 201, "{c}");
    let id = c["id"].as_str().unwrap().to_owned();
    for contact in contacts {
        let (s, e) = server
            .post(
                admin,
                &format!("/api/v1/companies/{id}/contacts"),
                &json!({ "contact_id": contact }),
            )
            .await;
        assert_eq!(s, 200, "{e}");
    }
    id
}

async fn company_of(server: &Server, admin: &str, conversation: &str) -> Value {
    let (_, c) = server
        .get(admin, &format!("/api/v1/conversations/{conversation}"))
        .await;
    c["conversation"]["company_id"].clone()
}

/// The path of the sign-in link in a mail (`/portal/link/<token>`), if it has one.
fn link_in(server: &Server, text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains("/portal/link/"))?;
    let url = line.trim();
    let at = url.find("/portal/link/")?;
    let _ = server;
    Some(url[at..].split('?').next().unwrap_or_default().to_owned())
}

/// The contact of a new web-chat visitor who wrote `text`.
pub(crate) async fn visitor_contact(server: &Server, admin: &str, text: &str) -> String {
    let mut w = server.widget(None).await;
    w.say("c0", text).await;
    w.expect("ack").await;
    eventually(10, || async {
        all_text(server, admin).await.contains(text)
    })
    .await;
    conversation_with(server, admin, text).await.1
}

/// An invoice made and mailed to `contact` by the admin's API.
async fn mailed_invoice(server: &Server, admin: &str, contact: &str) -> Value {
    let (s, inv) = server
        .post(
            admin,
            "/api/v1/invoices",
            &json!({"contact_id": contact, "currency": "BRL", "document": serde_json::from_str::<Value>(DOC).unwrap(), "send": true}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    inv
}

/// Uses a sign-in link as its holder would (the confirmation page, then its POST).
async fn use_link(server: &Server, path: &str) -> (Browser, u16) {
    let mut b = Browser::new(server);
    let (s, _) = b.get(path).await;
    assert_eq!(s, 200, "the confirmation page of {path}");
    let (s, _) = b.post(path, &[("next", "/portal")]).await;
    (b, s)
}

/// A client signed in with a link minted on the command line for `contact`'s `email`.
pub(crate) async fn client(server: &Server, contact: &str, email: &str) -> Browser {
    let out = server.cli(&[
        "portal",
        "link",
        "--contact",
        contact,
        "--email",
        email,
        "--next",
        "/portal",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = link_in(server, v["url"].as_str().unwrap()).unwrap();
    let (mut b, s) = use_link(server, &path).await;
    assert_eq!(s, 303, "{email} signs in");
    b.get("/portal").await;
    b
}

/// Hole 1: a sign-in link in a mail that a Cc'd consultant also receives signed the
/// consultant in as the client. Now a mail with more than one recipient leads to the
/// sign-in page, and the consultant's own link opens only the consultant's own portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_others_receive_carries_no_sign_in_link() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "t1@globex.example",
        "",
        "Please send the invoice.",
    )
    .await;
    let (_, ana) = conversation_with(&server, &admin, "Please send the invoice.").await;
    company(&server, &admin, "Globex", &[&ana]).await;
    let inv = mailed_invoice(&server, &admin, &ana).await;
    let number = inv["number"].as_str().unwrap().to_owned();
    let id = inv["id"].as_str().unwrap().to_owned();
    eventually(20, || async {
        mail.captured_for("ana@globex.example").len() == 1
    })
    .await;
    // To Ana alone: her own link.
    let (first, _) = mail.captured_for("ana@globex.example").remove(0);
    assert!(link_in(&server, &first.full_text).is_some());

    // Ana answers the invoice's mail with her consultant in Cc; the invoice goes again.
    let mid = first.message_id.clone().unwrap();
    writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "t2@globex.example",
        &format!(
            "In-Reply-To: <{0}>\r\nReferences: <{0}>\r\nCc: Cy <cy@consult.example>\r\n",
            mid.trim_matches(['<', '>'])
        ),
        "Cy, my consultant, will check it.",
    )
    .await;
    let (s, e) = server
        .post(&admin, &format!("/api/v1/documents/{id}/send"), &json!({}))
        .await;
    assert!(s == 200 || s == 202, "{s} {e}");
    eventually(20, || async {
        mail.captured_for("cy@consult.example").len() == 1
    })
    .await;
    let (to_cy, raw) = mail.captured_for("cy@consult.example").remove(0);
    assert!(
        mail.captured_for("ana@globex.example").len() == 2,
        "the same mail went to Ana"
    );
    assert!(!raw.contains("/portal/link/"), "{raw}");
    assert!(
        to_cy
            .full_text
            .contains(&format!("/portal/login?next=/portal/invoices/{number}")),
        "{}",
        to_cy.full_text
    );

    // Cy may ask a link for Cy's own address: it opens Cy's portal, not Ana's invoices.
    let mut cy = Browser::new(&server);
    cy.get("/portal/login").await;
    let (s, _) = cy
        .post("/portal/login", &[("email", "cy@consult.example")])
        .await;
    assert_eq!(s, 200);
    eventually(20, || async {
        mail.captured_for("cy@consult.example").len() == 2
    })
    .await;
    let (own, _) = mail.captured_for("cy@consult.example").remove(1);
    let (mut cy, s) = use_link(&server, &link_in(&server, &own.full_text).unwrap()).await;
    assert_eq!(s, 303);
    let (s, page) = cy.get(&format!("/portal/invoices/{number}")).await;
    assert_eq!(s, 404, "{page}");
}

/// Hole 2: inviting a company-less client's address moved that client and their
/// conversations into the inviter's company at once, even when the invitation was then
/// refused. Now nobody moves until the address's owner uses the link, and only an address
/// of no company joins; the answer is the same whoever the address belongs to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_moves_nobody_until_its_owner_joins() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    for (from, id, text) in [
        ("ana@globex.example", "i1@x", "Ana here."),
        ("lou@example.com", "i2@x", "Lou here."),
        ("gil@initech.example", "i3@x", "Gil here."),
    ] {
        writes_in(&mail, &server, &admin, from, id, "", text).await;
    }
    let (_, ana) = conversation_with(&server, &admin, "Ana here.").await;
    let (lou_conv, _) = conversation_with(&server, &admin, "Lou here.").await;
    let (gil_conv, gil) = conversation_with(&server, &admin, "Gil here.").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    let initech = company(&server, &admin, "Initech", &[&gil]).await;
    let mut ana = client(&server, &ana, "ana@globex.example").await;
    ana.get("/portal/users").await;

    // Both invitations get the same answer; neither moves anyone.
    for who in ["lou@example.com", "gil@initech.example"] {
        let (s, page) = ana
            .post(
                "/portal/users",
                &[("email", who), ("name", ""), ("role", "user")],
            )
            .await;
        assert_eq!(s, 303, "{who}: {page}");
    }
    assert_eq!(company_of(&server, &admin, &lou_conv).await, Value::Null);
    assert_eq!(company_of(&server, &admin, &gil_conv).await, json!(initech));
    let (_, page) = ana.get("/portal/users").await;
    assert!(
        page.contains("lou@example.com"),
        "pending invitations are listed"
    );
    // Someone already in is told so.
    let (s, _) = ana
        .post(
            "/portal/users",
            &[("email", "ana@globex.example"), ("role", "user")],
        )
        .await;
    assert_eq!(s, 422);

    // Gil's link: refused, and Gil stays Initech's.
    eventually(20, || async {
        mail.captured_for("gil@initech.example").len() == 1
            && mail.captured_for("lou@example.com").len() == 1
    })
    .await;
    let (to_gil, _) = mail.captured_for("gil@initech.example").remove(0);
    let (mut gil_browser, s) =
        use_link(&server, &link_in(&server, &to_gil.full_text).unwrap()).await;
    assert_eq!(s, 403);
    assert!(gil_browser.cookie("__Host-sb_session").is_none());
    let (s, _) = gil_browser.get("/portal").await;
    assert_eq!(s, 303, "no session");
    assert_eq!(company_of(&server, &admin, &gil_conv).await, json!(initech));

    // Lou's link: Lou joins Globex, with Lou's conversations.
    let (to_lou, _) = mail.captured_for("lou@example.com").remove(0);
    let (mut lou, s) = use_link(&server, &link_in(&server, &to_lou.full_text).unwrap()).await;
    assert_eq!(s, 303);
    let (s, _) = lou.get("/portal").await;
    assert_eq!(s, 200);
    assert_eq!(company_of(&server, &admin, &lou_conv).await, json!(globex));
    let (_, page) = ana.get("/portal/users").await;
    assert!(page.contains("lou@example.com"));
    assert!(!page.contains("gil@initech.example"));
}

/// Hole 3: an N1 agent merged a contact into another company's contact, and the merged
/// address then signed in to that contact's portal. Now such a merge needs an admin,
/// and even then the merged address's link opens no one else's portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_across_companies_needs_an_admin_and_opens_no_portal() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "m1@x",
        "",
        "Ana asks.",
    )
    .await;
    writes_in(
        &mail,
        &server,
        &admin,
        "eve@evil.example",
        "m2@x",
        "",
        "Eve asks.",
    )
    .await;
    let (_, ana) = conversation_with(&server, &admin, "Ana asks.").await;
    let (eve_conv, eve) = conversation_with(&server, &admin, "Eve asks.").await;
    company(&server, &admin, "Globex", &[&ana]).await;
    client(&server, &ana, "ana@globex.example").await;
    let (_, n1) = add_agent(&server, "nora@acme.test", "support", &["--tier", "N1"]);
    let (s, _) = server
        .get(&n1, &format!("/api/v1/conversations/{eve_conv}"))
        .await;
    assert_eq!(s, 200, "the N1 agent sees both conversations");

    let (s, e) = server
        .post(
            &n1,
            &format!("/api/v1/contacts/{eve}/merge"),
            &json!({ "into": ana }),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    let (_, c) = server
        .get(&admin, &format!("/api/v1/conversations/{eve_conv}"))
        .await;
    assert_eq!(c["conversation"]["contact_id"], json!(eve), "nothing moved");

    // An admin may merge; Eve's address still opens no portal of Ana's.
    let (s, e) = server
        .post(
            &admin,
            &format!("/api/v1/contacts/{eve}/merge"),
            &json!({ "into": ana }),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let mut eve_browser = Browser::new(&server);
    eve_browser.get("/portal/login").await;
    eve_browser
        .post("/portal/login", &[("email", "eve@evil.example")])
        .await;
    eventually(20, || async {
        !mail.captured_for("eve@evil.example").is_empty()
    })
    .await;
    let (m, _) = mail.captured_for("eve@evil.example").remove(0);
    let (mut eve_browser, s) = use_link(&server, &link_in(&server, &m.full_text).unwrap()).await;
    assert_eq!(s, 403);
    let (s, _) = eve_browser.get("/portal").await;
    assert_eq!(s, 303, "not signed in");
}

/// Hole 4: a portal user kept its old company's scope after staff moved its contact.
/// Now the company is the contact's, read at every request, and the move ends sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_contact_moves_its_portal_and_ends_its_sessions() {
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let mut contacts = Vec::new();
    for who in ["ana", "bob", "gil"] {
        contacts.push(visitor_contact(&server, &admin, &format!("{who} writes")).await);
    }
    company(&server, &admin, "Globex", &[&contacts[0], &contacts[1]]).await;
    let initech = company(&server, &admin, "Initech", &[&contacts[2]]).await;
    let mut ana = client(&server, &contacts[0], "ana@globex.example").await;
    client(&server, &contacts[1], "bob@globex.example").await;
    client(&server, &contacts[2], "gil@initech.example").await;
    let (s, page) = ana.get("/portal/users").await;
    assert_eq!(s, 200);
    assert!(page.contains("bob@globex.example") && !page.contains("gil@initech.example"));

    let (s, e) = server
        .post(
            &admin,
            &format!("/api/v1/companies/{initech}/contacts"),
            &json!({ "contact_id": contacts[0] }),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let (s, _) = ana.get("/portal").await;
    assert_eq!(s, 303, "the session ended with the move");
    // Signed in again, Ana sees Initech's people, not Globex's.
    let mut ana = client(&server, &contacts[0], "ana@globex.example").await;
    let (s, page) = ana.get("/portal/users").await;
    assert_eq!(s, 200);
    assert!(page.contains("gil@initech.example") && !page.contains("bob@globex.example"));
}

/// Hole 5: `/kb/gaps` showed every client's unanswered words to any agent. Now an agent
/// sees the gaps of the conversations it may see.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kb_gaps_show_only_what_the_agent_may_see() {
    // The bot is made unsure of everything (a threshold above 1): every question is a gap.
    let mut server = Server::start_with(
        Backend::Embedded,
        &[
            ("SWITCHBOARD_BOT__ENABLED", "true"),
            ("SWITCHBOARD_BOT__THRESHOLD_WEBCHAT", "1.01"),
        ],
    )
    .await;
    let admin_token = server.add_user("root@acme.test", "admin");
    server
        .import_kb(concat!(
            r#"{"id":"toner","title":"Ordering toner","body":"Order toner from the portal.","lang":"en","questions":["how do I order toner","I need toner"]}"#,
            "\n",
            r#"{"id":"invoice","title":"Your invoice","body":"Invoices are in the portal.","lang":"en","questions":["where is my invoice","send me the invoice"]}"#,
            "\n"
        ))
        .await;
    // Words the bot knows, and it is never sure enough: a gap.
    let (_widget, _) = server
        .visitor_writes(
            &admin_token,
            "where is the toner I need and my invoice, the gears grind",
        )
        .await;
    let company = server.cli(&["company", "add", "--name", "Initech"]);
    let company: Value = serde_json::from_slice(&company.stdout).unwrap();
    add_agent(
        &server,
        "cora@acme.test",
        "coordinator",
        &["--company", company["id"].as_str().unwrap()],
    );
    add_agent(&server, "root2@acme.test", "admin", &[]);
    let admin = Browser::sign_in(&server, "root2@acme.test").await;
    eventually(20, || async {
        admin
            .fetch("/kb/gaps")
            .await
            .text()
            .await
            .unwrap()
            .contains("the gears grind")
    })
    .await;
    let mut cora = Browser::sign_in(&server, "cora@acme.test").await;
    let (s, page) = cora.get("/kb/gaps").await;
    assert_eq!(s, 200);
    assert!(!page.contains("the gears grind"), "{page}");
}

/// The token of the first link to `rcpt` whose address contains `marker`.
fn token_mailed(mail: &MailServer, rcpt: &str, marker: &str) -> String {
    let (m, _) = mail.captured_for(rcpt).remove(0);
    let link = m
        .full_text
        .split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap()
        .to_owned();
    link.split("token=").nth(1).unwrap().to_owned()
}

/// Hole 6: agent reset and invitation links were written to the log and mailed to
/// nobody; the request log held portal sign-in tokens. Now they go by mail, and no link
/// or token reaches the log, even at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_invitation_links_go_by_mail_and_never_to_the_log() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    let mut server = server;
    server.env.insert("SBT_CAPTURE_LOG".into(), "1".into());
    server.env.insert("SB_TEST_LOG".into(), "debug".into());
    server.env.insert("RUST_LOG".into(), "debug".into());
    server.terminate();
    server.spawn().await;

    // A forgotten password: the link arrives by mail.
    add_agent(&server, "ana@acme.test", "support", &[]);
    let mut b = Browser::new(&server);
    b.get("/password/forgot").await;
    b.post("/password/forgot", &[("email", "ana@acme.test")])
        .await;
    eventually(20, || async {
        !mail.captured_for("ana@acme.test").is_empty()
    })
    .await;
    let reset_token = token_mailed(&mail, "ana@acme.test", "/password/reset?token=");

    // An invitation to a new agent: by mail too.
    let mut root = Browser::sign_in(&server, "rita@acme.test").await;
    root.get("/admin/users/new").await;
    root.post(
        "/admin/users/new",
        &[
            ("email", "bo@acme.test"),
            ("name", "Bo"),
            ("role", "support"),
            ("tier", "N1"),
            ("locale", "en"),
        ],
    )
    .await;
    eventually(20, || async {
        !mail.captured_for("bo@acme.test").is_empty()
    })
    .await;
    let invite_token = token_mailed(&mail, "bo@acme.test", "/invite?token=");

    // A portal sign-in link, fetched and used.
    writes_in(
        &mail,
        &server,
        &admin,
        "cy@globex.example",
        "l1@x",
        "",
        "Cy writes.",
    )
    .await;
    let (_, cy) = conversation_with(&server, &admin, "Cy writes.").await;
    let out = server.cli(&[
        "portal",
        "link",
        "--contact",
        &cy,
        "--email",
        "cy@globex.example",
        "--next",
        "/portal",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = link_in(&server, v["url"].as_str().unwrap()).unwrap();
    let portal_token = path.rsplit('/').next().unwrap().to_owned();
    let (_, s) = use_link(&server, &path).await;
    assert_eq!(s, 303);

    let log = server.log();
    assert!(
        log.contains("request"),
        "the log was captured: {}",
        log.len()
    );
    for token in [&reset_token, &invite_token, &portal_token] {
        assert!(!log.contains(token.as_str()), "a credential in the log");
    }
}

/// Hole 7: the sign-in limiter charged the typed account even after the client's address
/// was refused, keyed by the whole typed string: big addresses grew the process without
/// end. Now the address is checked first and keys are at most 254 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sign_ins_do_not_grow_the_process() {
    let server = Server::start(Backend::Embedded).await;
    let mut b = Browser::new(&server);
    b.get("/login").await;
    // Spend the client address's allowance first, so the rest are refused by address.
    for i in 0..60 {
        b.post(
            "/login",
            &[("email", &format!("x{i}@example.com")), ("password", "x")],
        )
        .await;
    }
    let before = server.rss_kib();
    for i in 0..150 {
        let huge = format!("{i}{}@example.com", "a".repeat(200_000));
        let (s, _) = b
            .post("/login", &[("email", &huge), ("password", "x")])
            .await;
        assert_eq!(s, 429);
    }
    let grown = server.rss_kib().saturating_sub(before);
    assert!(grown < 12 * 1024, "grew {grown} KiB");
}

/// Hole 8: `next=/%09/evil.example` passed the agent sign-in's check, and a browser drops
/// the tab and follows `//evil.example`. Now `next` is a path on this origin or nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_redirects_off_site() {
    let server = Server::start(Backend::Embedded).await;
    add_agent(&server, "ana@acme.test", "support", &[]);
    let mut b = Browser::new(&server);
    for next in [
        "/\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
    ] {
        b = Browser::new(&server);
        b.get("/login").await;
        let r = b
            .post_response(
                "/login",
                &[
                    ("email", "ana@acme.test"),
                    ("password", crate::inbox::PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, "/conversations", "{next:?}");
        // Signed in already: the login page's redirect checks `next` the same way.
        let r = b
            .fetch(&format!("/login?next={}", next.replace('\t', "%09")))
            .await;
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, "/conversations", "{next:?}");
    }
    let r = b.fetch("/login?next=/conversations/7").await;
    assert_eq!(r.headers()["location"], "/conversations/7");
    let mut client = Browser::new(&server);
    let r = client.fetch("/portal/login?next=/%09/evil.example").await;
    assert_eq!(r.status(), 200);
    let (_, page) = client.get("/portal/login?next=/%09/evil.example").await;
    assert!(!page.contains("evil.example"), "{page}");
}

/// Hole 12 and 13: every response carries the security headers; `/metrics` and the
/// detail of `/readyz` are the operator's (a token here); a direct tier in the team call
/// is refused before the team moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_security_headers_and_ops_detail_is_the_operators() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_OPS__METRICS_TOKEN", "ops-secret-token")],
    )
    .await;
    for path in ["/login", "/portal/login", "/help", "/chat", "/healthz"] {
        let r = server.http.get(server.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
            "{path}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "plain http here"
        );
    }
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 404);
    let metrics = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth("ops-secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"status": "ready"}));
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .bearer_auth("ops-secret-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["database"], "ok");

    let admin = server.add_user("root@acme.test", "admin");
    let (_, conv) = server.visitor_writes(&admin, "hello").await;
    let (s, e) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/team"),
            &json!({"team": "billing", "tier": "N2"}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let (_, c) = server
        .get(&admin, &format!("/api/v1/conversations/{conv}"))
        .await;
    assert_eq!(
        c["conversation"]["team"],
        Value::Null,
        "the team did not move"
    );
}

/// Rows that any change would touch, counted.
pub(crate) async fn row_counts(server: &Server) -> Vec<(&'static str, i64)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url())
        .await
        .unwrap();
    let mut out = Vec::new();
    for table in [
        "conversations",
        "messages",
        "contacts",
        "users",
        "invoices",
        "invoice_payments",
        "tickets",
        "cards",
        "magic_links",
        "portal_audit",
        "machines",
        "meter_readings",
        "contracts",
        "contract_periods",
        "visits",
        "reading_reminders",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
        out.push((table, n));
    }
    let viewed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoices WHERE status = 'viewed'")
        .fetch_one(&pool)
        .await
        .unwrap();
    out.push(("viewed invoices", viewed));
    let statuses: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM machines WHERE status <> 'in_service'")
            .fetch_one(&pool)
            .await
            .unwrap();
    out.push(("machines not in service", statuses));
    pool.close().await;
    out
}

/// The authorization sweep of the portal, built from its route table: for every route
/// that takes an id, a client of another company gets 404 or 403 and nothing changes. A
/// route with an id this sweep does not know fails it, so a new route joins the sweep.
/// (The agents' pages and the API are swept by `inbox::every_route_keeps_to_the_callers_scope_*`
/// from their tables; every id they take is listed here too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_route_keeps_to_the_clients_company() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "s1@x",
        "",
        "Ana, Globex.",
    )
    .await;
    writes_in(
        &mail,
        &server,
        &admin,
        "gil@initech.example",
        "s2@x",
        "",
        "Gil, Initech.",
    )
    .await;
    let (_, ana) = conversation_with(&server, &admin, "Ana, Globex.").await;
    let (_, gil) = conversation_with(&server, &admin, "Gil, Initech.").await;
    let globex = company(&server, &admin, "Globex", &[&ana]).await;
    company(&server, &admin, "Initech", &[&gil]).await;
    let (machine, _, contract) = crate::equipment::fleet(&server, &admin, &globex, &ana).await;
    let pdf = server
        .http
        .post(server.url(&format!("/api/v1/contracts/{contract}/document")))
        .bearer_auth(&admin)
        .body(b"%PDF-1.4\n% contract\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let (_, visit) = crate::equipment::done_visit(&server, &admin, &machine).await;
    let doc = serde_json::from_str::<Value>(DOC).unwrap();
    let mut numbers = std::collections::HashMap::new();
    for (kind, path) in [
        ("invoices", "/api/v1/invoices"),
        ("estimates", "/api/v1/estimates"),
    ] {
        let (s, d) = server
            .post(
                &admin,
                path,
                &json!({"contact_id": ana, "currency": "BRL", "document": doc, "send": true}),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        numbers.insert(kind, d["number"].as_str().unwrap().to_owned());
    }
    let mut ana_b = client(&server, &ana, "ana@globex.example").await;
    let ticket = crate::tickets::open(
        &mut ana_b,
        "Jammed",
        "The tray jams.",
        &[("files", "jam.png", crate::webchat::png(200).as_slice())],
    )
    .await;
    numbers.insert("tickets", ticket.to_string());
    numbers.insert("contracts", "CT-77".to_owned());
    let (_, page) = ana_b.get(&format!("/portal/tickets/{ticket}")).await;
    let key = page
        .split(&format!("/portal/tickets/{ticket}/files/"))
        .nth(1)
        .unwrap()
        .split(['"', '?'])
        .next()
        .unwrap()
        .to_owned();
    let (s, _) = ana_b
        .get(&format!("/portal/tickets/{ticket}/files/{key}"))
        .await;
    assert_eq!(s, 200, "Ana reaches her own file");
    // A reading with the counter's photo, entered by Ana on her machine's page.
    let (_, page) = ana_b.get(&format!("/portal/machines/{machine}")).await;
    let (s, body, _) = ana_b
        .post_multipart(
            &format!("/portal/machines/{machine}/readings"),
            &[("key", &crate::tickets::form_key(&page)), ("mono", "1.234")],
            &[("photo", "counter.png", crate::webchat::png(100).as_slice())],
        )
        .await;
    assert_eq!(s, 303, "{body:.300}");
    let (_, page) = ana_b.get(&format!("/portal/machines/{machine}")).await;
    let reading = page
        .split(&format!("/portal/machines/{machine}/readings/"))
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    for path in [
        format!("/portal/machines/{machine}/readings/{reading}/photo"),
        "/portal/contracts/CT-77/pdf".to_owned(),
        format!("/portal/visits/{visit}/report"),
    ] {
        let (s, _) = ana_b.get(&path).await;
        assert_eq!(s, 200, "Ana reaches {path}");
    }
    let ana_user: String = {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&server.database_url())
            .await
            .unwrap();
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'ana@globex.example'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    let mut gil_b = client(&server, &gil, "gil@initech.example").await;
    let before = row_counts(&server).await;
    let mut checked = 0;
    for spec in switchboard_gateway::portal::route_specs() {
        if !spec.path.contains('{') {
            continue;
        }
        if matches!(
            spec.access,
            switchboard_gateway::portal::PortalAccess::Public
        ) {
            // Sign-in links: a token, not an id (their own tests cover them). A company's
            // own sign-in: a configured name, not a record; one not configured is not
            // found (its flow is browser `sso.test.mjs`).
            if spec.path.starts_with("/portal/sso/{name}") {
                let path = spec.path.replace("{name}", "initech");
                assert_eq!(gil_b.get(&path).await.0, 404, "{path}");
                continue;
            }
            assert!(spec.path.contains("{token}"), "{} is public", spec.path);
            continue;
        }
        let kind = ["invoices", "estimates", "tickets", "contracts"]
            .into_iter()
            .find(|k| spec.path.starts_with(&format!("/portal/{k}/")));
        let mut path = spec.path.to_owned();
        if path.contains("{number}") {
            let kind = kind.unwrap_or_else(|| panic!("{}: not in the sweep", spec.path));
            path = path.replace("{number}", &numbers[kind]);
        }
        path = path
            .replace("{key}", &key)
            .replace("{id}", &ana_user)
            .replace("{machine}", &machine)
            .replace("{reading}", &reading)
            .replace("{visit}", &visit);
        assert!(!path.contains('{'), "{}: not in the sweep", spec.path);
        gil_b.get("/portal").await;
        let (status, body) = if spec.method == "GET" {
            gil_b.get(&path).await
        } else {
            gil_b
                .post(
                    &path,
                    &[
                        ("answer", "accept"),
                        ("text", "hi"),
                        ("amount", "1"),
                        ("mono", "999.999"),
                        ("confirm", "1"),
                    ],
                )
                .await
        };
        assert!(
            status == 404 || status == 403,
            "Gil: {} {path} gave {status}: {body:.300}",
            spec.method
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} routes swept");
    assert_eq!(row_counts(&server).await, before, "nothing changed");

    // Every id the agents' and the API's tables take is one their sweep substitutes.
    let known = [
        "{number}",
        "{user}",
        "{key}",
        "{id}",
        "{file}",
        "{article}",
        "{message}",
        "{name}",
        "{machine}",
        "{contract}",
        "{reading}",
        "{visit}",
        "{hook}",
        "{delivery}",
    ];
    let paths = switchboard_gateway::app::route_specs()
        .into_iter()
        .map(|s| s.path.to_owned())
        .chain(
            switchboard_gateway::app::api_table()
                .into_iter()
                .map(|(r, _)| format!("/api/v1{}", r.path)),
        );
    for path in paths {
        let mut rest = path.as_str();
        while let Some(at) = rest.find('{') {
            let end = rest[at..].find('}').unwrap() + at + 1;
            assert!(
                known.contains(&&rest[at..end]),
                "{path}: an id no sweep knows"
            );
            rest = &rest[end..];
        }
    }
}

/// Hole 10: the portal set a chat id derived from the contact, the same at every sign-in,
/// that outlived sign-out, a new password and removal and read the contact's chat. Now
/// each sign-in gets a fresh id and signing out forgets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portals_chat_id_ends_with_the_session() {
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let contact = visitor_contact(&server, &admin, "hello").await;
    let mut ana = client(&server, &contact, "ana@globex.example").await;
    let first = ana.cookie("sb_visitor").unwrap();
    let mut chat = server.widget(Some(&first)).await;
    chat.say("c1", "my contract number is 4711").await;
    chat.expect("ack").await;
    drop(chat);
    // The id reads the client's chat while signed in.
    eventually(10, || async {
        let mut chat = server.widget(Some(&first)).await;
        crate::webchat::history_texts(&mut chat)
            .await
            .iter()
            .any(|t| t.contains("4711"))
    })
    .await;

    ana.get("/portal").await;
    let (s, _) = ana.post("/portal/logout", &[]).await;
    assert_eq!(s, 303);
    let mut kept = server.widget(Some(&first)).await;
    assert!(
        !crate::webchat::history_texts(&mut kept)
            .await
            .iter()
            .any(|t| t.contains("4711")),
        "a kept id reads nothing after sign-out"
    );

    // The next sign-in gets another id, which reads the client's chat again.
    let again = client(&server, &contact, "ana@globex.example").await;
    let second = again.cookie("sb_visitor").unwrap();
    assert_ne!(first, second);
    let mut chat = server.widget(Some(&second)).await;
    assert!(
        crate::webchat::history_texts(&mut chat)
            .await
            .iter()
            .any(|t| t.contains("4711"))
    );
}

/// Files under the data dir's blob store.
fn stored_files(server: &Server) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        if p.file_name().is_some_and(|n| n == "tmp") {
                            0
                        } else {
                            walk(&p)
                        }
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    walk(&server.dir.path().join("blobs"))
}

/// Hole 9: a new visitor id at every socket bypassed the per-visitor upload limit, and a
/// refused ticket form had stored its files already. Now uploads are limited per client
/// address too, and a form without a subject is refused before any file is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_per_address_and_refused_forms_keep_no_file() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEBCHAT__MAX_MESSAGES_PER_MINUTE", "2")],
    )
    .await;
    let admin = server.add_user("root@acme.test", "admin");
    let mut accepted = 0;
    for _ in 0..12 {
        let w = server.widget(None).await;
        let up = crate::webchat::upload(
            &server,
            Some(&w.visitor),
            "a.png",
            "image/png",
            crate::webchat::png(300),
            &[],
        )
        .await;
        match up.status {
            201 => accepted += 1,
            429 => {}
            other => panic!("upload gave {other}: {}", up.body),
        }
    }
    assert_eq!(
        accepted, 8,
        "four times the per-visitor allowance per address"
    );

    let contact = visitor_contact(&server, &admin, "hello").await;
    let mut ana = client(&server, &contact, "ana@globex.example").await;
    let before = stored_files(&server);
    let (_, page) = ana.get("/portal/tickets/new").await;
    let key = crate::tickets::form_key(&page);
    let (s, body, _) = ana
        .post_multipart(
            "/portal/tickets",
            &[
                ("key", &key),
                ("subject", " "),
                ("message", "see the photo"),
            ],
            &[("files", "jam.png", crate::webchat::png(400).as_slice())],
        )
        .await;
    assert_eq!(s, 422, "{body:.300}");
    assert_eq!(
        stored_files(&server),
        before,
        "no file kept for a refused form"
    );
}

/// Hole 11: a new password left API tokens and open agent sockets working, and a token
/// could not be revoked. Now a new password revokes the user's tokens, a token can revoke
/// itself, and `user token --days` makes one that ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_revokes_tokens_and_a_token_can_revoke_itself() {
    let server = Server::start(Backend::Embedded).await;
    let (_, admin) = add_agent(&server, "root@acme.test", "admin", &[]);
    let (ana_id, ana_token) = add_agent(&server, "ana@acme.test", "support", &[]);
    let out = server.cli(&["user", "token", "--email", "ana@acme.test", "--days", "30"]);
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(second["expires_at"].as_i64().is_some(), "{second}");
    let second = second["token"].as_str().unwrap().to_owned();

    // A token revokes itself; the other goes on.
    let r = server
        .http
        .delete(server.url("/api/v1/tokens/current"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.get(&second, "/api/v1/conversations").await.0, 401);
    assert_eq!(server.get(&ana_token, "/api/v1/conversations").await.0, 200);

    // A new password (by a reset link) ends the rest.
    let (_, v) = server
        .post(
            &admin,
            &format!("/api/v1/users/{ana_id}/reset-link"),
            &json!({}),
        )
        .await;
    let link = v["reset_link"].as_str().unwrap().to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mut d = Browser::new(&server);
    d.get(&format!("/password/reset?token={token}")).await;
    let (s, _) = d
        .post(
            "/password/reset",
            &[("token", &token), ("password", "a brand new passphrase")],
        )
        .await;
    assert_eq!(s, 303);
    assert_eq!(server.get(&ana_token, "/api/v1/conversations").await.0, 401);
    assert_eq!(server.get(&admin, "/api/v1/conversations").await.0, 200);
}

/// Hole 11, the second factor: with a stolen session alone, the thief could set up their
/// own authenticator (enrolling again asked for no code). Now it needs a current code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_authenticator_needs_a_current_code() {
    use crate::portal::{between, totp_now};
    let server = Server::start(Backend::Embedded).await;
    let admin = server.add_user("root@acme.test", "admin");
    let contact = visitor_contact(&server, &admin, "hello").await;
    let mut ana = client(&server, &contact, "ana@globex.example").await;
    ana.get("/portal/account").await;
    let (s, page) = ana.post("/portal/account/2fa/begin", &[]).await;
    assert_eq!(s, 200);
    let secret = between(&page, "id=\"totp-secret\">", "<").to_owned();
    let (s, page) = ana
        .post(
            "/portal/account/2fa/confirm",
            &[("code", &totp_now(&secret))],
        )
        .await;
    assert_eq!(s, 200, "{page:.300}");
    let recovery = between(&page, "id=\"recovery-codes\">", "</ul>")
        .split("<li>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    // The session alone: refused, the factor unchanged.
    for code in ["", "000000"] {
        let (s, _) = ana
            .post("/portal/account/2fa/begin", &[("code", code)])
            .await;
        assert_eq!(s, 403, "{code:?}");
    }
    // With a current (recovery) code: a new secret to scan.
    let (s, page) = ana
        .post("/portal/account/2fa/begin", &[("code", &recovery)])
        .await;
    assert_eq!(s, 200, "{page:.300}");
    assert_ne!(between(&page, "id=\"totp-secret\">", "<"), secret);
}

/// Hole 13, "Viewed": a browser's prefetch of an invoice page marks nothing; the client's
/// real view does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefetch_does_not_mark_an_invoice_viewed() {
    let mail = MailServer::start(&["--user", "support@acme.test:imap-pass"]).await;
    let (server, admin) = server_for(&mail, Backend::Embedded, "").await;
    writes_in(
        &mail,
        &server,
        &admin,
        "ana@globex.example",
        "v1@x",
        "",
        "Ana, invoice.",
    )
    .await;
    let (_, ana) = conversation_with(&server, &admin, "Ana, invoice.").await;
    company(&server, &admin, "Globex", &[&ana]).await;
    let inv = mailed_invoice(&server, &admin, &ana).await;
    let (id, number) = (
        inv["id"].as_str().unwrap().to_owned(),
        inv["number"].as_str().unwrap().to_owned(),
    );
    let status = || async {
        server
            .get(&admin, &format!("/api/v1/documents/{id}"))
            .await
            .1["status"]
            .clone()
    };
    let b = client(&server, &ana, "ana@globex.example").await;
    let session = b.cookie("__Host-sb_session").unwrap();
    let r = server
        .http
        .get(server.url(&format!("/portal/invoices/{number}")))
        .header("cookie", format!("__Host-sb_session={session}"))
        .header("sec-purpose", "prefetch")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status().await, json!("sent"));
    let r = b.fetch(&format!("/portal/invoices/{number}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(status().await, json!("viewed"));
}

/// A group's client admin works in a subsidiary only once the business grants it: the
/// switcher and the home's list of companies, each company's invoices in turn, a company
/// not granted "not found"; the subsidiary's own user sees only its company and cannot
/// switch; a grant taken back ends the access at the next request; nothing grants one to a
/// client user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_admin_works_only_in_the_companies_granted_to_it() {
    let server = Server::start(Backend::PostgresRedis).await;
    let admin = server.add_user("root@acme.test", "admin");
    let ana = visitor_contact(&server, &admin, "Oi, sou a Ana da Holding").await;
    let gil = visitor_contact(&server, &admin, "Oi, sou o Gil da Filial").await;
    let ivo = visitor_contact(&server, &admin, "Oi, sou o Ivo da Outra").await;
    let holding = company(&server, &admin, "Holding Alfa", &[&ana]).await;
    let filial = company(&server, &admin, "Filial Beta", &[&gil]).await;
    let outra = company(&server, &admin, "Outra Gama", &[&ivo]).await;
    let mut numbers = Vec::new();
    for contact in [&ana, &gil, &ivo] {
        let (s, inv) = server
            .post(
                &admin,
                "/api/v1/invoices",
                &json!({"contact_id": contact, "currency": "BRL", "document": serde_json::from_str::<Value>(DOC).unwrap()}),
            )
            .await;
        assert_eq!(s, 201, "{inv}");
        numbers.push(inv["number"].as_str().unwrap().to_owned());
    }
    crate::inbox::sql(&server, "UPDATE invoices SET status = 'sent'", &[]).await;
    let (own, sub, other) = (&numbers[0], &numbers[1], &numbers[2]);
    let mut a = client(&server, &ana, "ana@holding.example").await;
    let mut g = client(&server, &gil, "gil@filial.example").await;
    let _ = client(&server, &ivo, "ivo@outra.example").await;
    let user_id = |email: &str| {
        let server = &server;
        let email = email.to_owned();
        async move {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&server.database_url())
                .await
                .unwrap();
            let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            id
        }
    };
    let ana_user = user_id("ana@holding.example").await;
    let grant = |company: &str, user: &str, granted: bool| {
        let server = &server;
        let admin = admin.clone();
        let path = format!("/api/v1/companies/{company}/managers");
        let body = json!({"user_id": user, "granted": granted});
        async move { server.post(&admin, &path, &body).await }
    };

    // Before any grant: her own company only, no switcher, another company not found.
    let (_, home) = a.get("/portal").await;
    assert!(!home.contains("id=\"company-switcher\""), "{home:.2000}");
    let r = a
        .post_response("/portal/company", &[("company_id", filial.as_str())])
        .await;
    assert_eq!(r.status(), 404);
    let (_, list) = a.get("/portal/invoices").await;
    assert!(list.contains(own.as_str()) && !list.contains(sub.as_str()));

    // Granted Filial Beta by the business.
    let (s, v) = grant(&filial, &ana_user, true).await;
    assert_eq!((s, v["changed"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(
        grant(&filial, &ana_user, true).await.1["changed"],
        false,
        "once"
    );
    let (_, home) = a.get("/portal").await;
    assert!(home.contains("id=\"company-switcher\"") && home.contains("id=\"home-group\""));
    assert!(home.contains("Holding Alfa") && home.contains("Filial Beta"));
    assert!(
        !home.contains("Outra Gama"),
        "only granted companies are listed"
    );
    let r = a
        .post_response("/portal/company", &[("company_id", filial.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    // Filial Beta's activity log says the group's admin came in.
    let (_, log) = g.get("/portal/activity").await;
    assert!(log.contains("Came in from the group"), "{log:.3000}");
    let (_, list) = a.get("/portal/invoices").await;
    assert!(
        list.contains(sub.as_str()) && !list.contains(own.as_str()),
        "{list:.3000}"
    );
    // Not granted: not found, and she stays where she was.
    let r = a
        .post_response("/portal/company", &[("company_id", outra.as_str())])
        .await;
    assert_eq!(r.status(), 404);
    let (_, list) = a.get("/portal/invoices").await;
    assert!(list.contains(sub.as_str()) && !list.contains(other.as_str()));

    // Gil, of Filial Beta: his company only, no switching into the holding.
    let (_, list) = g.get("/portal/invoices").await;
    assert!(list.contains(sub.as_str()) && !list.contains(own.as_str()));
    assert!(!list.contains("id=\"company-switcher\""));
    let r = g
        .post_response("/portal/company", &[("company_id", holding.as_str())])
        .await;
    assert_eq!(r.status(), 404);
    let (_, list) = g.get("/portal/invoices").await;
    assert!(!list.contains(own.as_str()));
    // A client user is never granted another company.
    crate::inbox::sql(
        &server,
        "UPDATE users SET role = 'client_user' WHERE email = 'gil@filial.example'",
        &[],
    )
    .await;
    let gil_user = user_id("gil@filial.example").await;
    assert_eq!(grant(&holding, &gil_user, true).await.0, 422);

    // Taken back: her next request is in her own company again.
    assert_eq!(grant(&filial, &ana_user, false).await.0, 200);
    let (_, list) = a.get("/portal/invoices").await;
    assert!(
        list.contains(own.as_str()) && !list.contains(sub.as_str()),
        "{list:.3000}"
    );
    let r = a
        .post_response("/portal/company", &[("company_id", filial.as_str())])
        .await;
    assert_eq!(r.status(), 404);
}
