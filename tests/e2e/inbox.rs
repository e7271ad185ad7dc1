//! The agent pages over real HTTP: sessions, CSRF, session fixation, stored XSS, the
//! route-scope check generated from the routers' tables, and two agents at once.

use serde_json::{Value, json};
use switchboard_gateway::kit::page::Access;

use crate::support::{Backend, Server};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser-like client: one cookie jar of its own, no redirects followed.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
    pub(crate) csrf: String,
}

fn attr_after<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)? + marker.len();
    let rest = &html[at..];
    Some(&rest[..rest.find('"')?])
}

impl Browser {
    pub(crate) fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.url(""),
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !val.is_empty() && !v.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), val.to_owned()));
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        if let Some(t) = attr_after(&body, "name=\"csrf-token\" content=\"")
            .or_else(|| attr_after(&body, "name=\"_csrf\" value=\""))
            .filter(|t| !t.is_empty())
        {
            self.csrf = t.to_owned();
        }
        (status, body)
    }

    /// A GET whose answer the caller reads itself (headers, bytes).
    pub(crate) async fn fetch(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap()
    }

    /// A form post from this host's page, with the CSRF token.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let csrf = self.csrf.clone();
        form.push(("_csrf", &csrf));
        self.post_raw(path, &form, &[("origin", &self.base.clone())])
            .await
    }

    /// A form post whose answer the caller reads itself (a redirect's target).
    pub(crate) async fn post_response(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let csrf = self.csrf.clone();
        form.push(("_csrf", &csrf));
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("origin", self.base.clone())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    /// A form with files (`multipart/form-data`), its CSRF token first as our forms put
    /// it. `files` are `(field, file name, bytes)`.
    pub(crate) async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> (u16, String, Option<String>) {
        let boundary = "----sbtest7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        let csrf = self.csrf.clone();
        for (k, v) in std::iter::once(("_csrf", csrf.as_str())).chain(fields.iter().copied()) {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (field, name, bytes) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("origin", self.base.clone())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, r.text().await.unwrap(), location)
    }

    async fn post_raw(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    pub(crate) async fn sign_in(server: &Server, email: &str) -> Self {
        let mut b = Self::new(server);
        b.get("/login").await;
        let (status, _) = b
            .post("/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(status, 303, "sign-in of {email}");
        b.get("/conversations").await;
        b
    }
}

pub(crate) fn add_agent(
    server: &Server,
    email: &str,
    role: &str,
    extra: &[&str],
) -> (String, String) {
    let mut args = vec![
        "user",
        "add",
        "--email",
        email,
        "--role",
        role,
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    let out = server.cli_with_input(&args, &[], &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn sql(server: &Server, statement: &str, binds: &[&str]) {
    let url = server
        .env
        .get("DATABASE_URL")
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}/switchboard.db", server.dir.path().display()));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()));
    for b in binds {
        q = q.bind(*b);
    }
    q.execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test]
async fn sign_in_rotates_the_session_and_csrf_stops_cross_site_posts() {
    let server = Server::start(Backend::Embedded).await;
    add_agent(&server, "ana@example.com", "support", &[]);

    // A session id planted before sign-in is not the one after it.
    let mut b = Browser::new(&server);
    b.cookies
        .push(("__Host-sb_session".into(), "planted-by-someone-else".into()));
    b.get("/login").await;
    let (status, _) = b
        .post(
            "/login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(status, 303);
    let session = b.cookie("__Host-sb_session").unwrap();
    assert_ne!(session, "planted-by-someone-else");
    assert!(session.len() >= 40, "a long random id");
    let (status, html) = b.get("/conversations").await;
    assert_eq!(status, 200, "{html}");

    // Signing in again gives yet another id, and the old one is dead.
    b.get("/login").await;
    b.post(
        "/login",
        &[("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await;
    let again = b.cookie("__Host-sb_session").unwrap();
    assert_ne!(again, session);
    b.get("/conversations").await;
    let mut old = Browser::new(&server);
    old.cookies
        .push(("__Host-sb_session".into(), session.clone()));
    let (status, _) = old.get("/conversations").await;
    assert_eq!(status, 303, "the old session is gone");

    // Wrong password: refused, no session.
    let mut c = Browser::new(&server);
    c.get("/login").await;
    let (status, html) = c
        .post(
            "/login",
            &[
                ("email", "ana@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains("not right"));
    assert!(c.cookie("__Host-sb_session").is_none());

    // A cross-site form post with the victim's cookie, without the token: refused.
    let cookie = b.cookie_header();
    let (status, _) = b
        .post_raw(
            "/logout/everywhere",
            &[],
            &[("origin", "http://evil.example"), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(status, 403);
    // The same from a browser that labels it cross-site (an htmx request from another
    // site), even carrying a token it somehow learnt.
    let token = b.csrf.clone();
    let (status, _) = b
        .post_raw(
            "/logout/everywhere",
            &[("_csrf", &token)],
            &[("sec-fetch-site", "cross-site"), ("hx-request", "true")],
        )
        .await;
    assert_eq!(status, 403);
    // Same site but no token: refused.
    let (status, _) = b.post_raw("/logout/everywhere", &[], &[]).await;
    assert_eq!(status, 403);
    // A wrong token: refused. The session still works after all of these.
    let (status, _) = b
        .post_raw("/logout/everywhere", &[("_csrf", "nope")], &[])
        .await;
    assert_eq!(status, 403);
    let (status, _) = b.get("/conversations").await;
    assert_eq!(status, 200);
    // With the token in the header, as htmx sends it: accepted.
    let (status, _) = b
        .post_raw(
            "/logout/everywhere",
            &[],
            &[("x-csrf-token", &token), ("hx-request", "true")],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _) = b.get("/conversations").await;
    assert_eq!(status, 303, "signed out everywhere");
}

#[tokio::test]
async fn customer_markup_renders_inert_in_list_view_and_search() {
    let server = Server::start(Backend::Embedded).await;
    add_agent(&server, "ana@example.com", "admin", &[]);
    let mut w = server.widget(None).await;
    let evil = "<script>alert(1)</script> <img src=x onerror=alert(2)> <a href=\"javascript:alert(3)\">click</a> zanzibar";
    w.say("c1", evil).await;
    w.expect("ack").await;
    let mut b = Browser::sign_in(&server, "ana@example.com").await;
    let mut pages = Vec::new();
    crate::support::eventually(10, || async {
        let (_, html) = Browser::sign_in(&server, "ana@example.com")
            .await
            .get("/conversations?view=all")
            .await;
        html.contains("zanzibar")
    })
    .await;
    pages.push(b.get("/conversations?view=all").await.1);
    pages.push(b.get("/conversations/list?view=all").await.1);
    pages.push(b.get("/conversations/1001").await.1);
    pages.push(b.get("/conversations/list?view=all&q=zanzibar").await.1);
    pages.push(b.get("/palette?q=zanzibar").await.1);
    for (i, html) in pages.iter().enumerate() {
        assert!(
            html.contains("zanzibar"),
            "page {i} shows the message: {html}"
        );
        for raw in ["<script>alert", "<img src=x", "href=\"javascript:"] {
            assert!(!html.contains(raw), "page {i} contains {raw:?} unescaped");
        }
        // The list and the conversation show the markup as text (search snippets show
        // the words around the match).
        assert!(
            i >= 3 || html.contains("&lt;script&gt;") || html.contains("&lt;img"),
            "page {i} shows it as text"
        );
    }
}

/// Every route of the pages and the API, from their tables: an agent of another team or a
/// coordinator of another company gets "not found" for a conversation outside its scope,
/// a supervisor cannot write, and admin pages are for admins.
async fn route_scope(backend: Backend) {
    let server = Server::start(backend).await;
    let (_, admin_token) = add_agent(&server, "admin@example.com", "admin", &[]);
    add_agent(&server, "ana@example.com", "support", &["--team", "alpha"]);
    add_agent(&server, "sue@example.com", "supervisor", &[]);
    let out = server.cli(&["company", "add", "--name", "Acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acme: Value = serde_json::from_slice(&out.stdout).unwrap();
    let acme = acme["id"].as_str().unwrap().to_owned();
    add_agent(
        &server,
        "cory@example.com",
        "coordinator",
        &["--company", &acme],
    );
    let (_, ana_token) = {
        let out = server.cli(&["user", "token", "--email", "ana@example.com"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (String::new(), v["token"].as_str().unwrap().to_owned())
    };
    let sue_token = {
        let out = server.cli(&["user", "token", "--email", "sue@example.com"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    // A conversation of team beta, no company: outside Ana's and Cory's scope, with a
    // file in it.
    let (mut w, conv) = server.visitor_writes(&admin_token, "hello from beta").await;
    let photo = crate::webchat::upload(
        &server,
        Some(&w.visitor),
        "beta.png",
        "image/png",
        crate::webchat::png(500),
        &[],
    )
    .await;
    assert_eq!(photo.status, 201, "{}", photo.body);
    let photo = photo.body["attachment"].clone();
    let key = photo["blob"].as_str().unwrap().to_owned();
    crate::webchat::send_files(&mut w, "f1", "a photo", &[&photo]).await;
    w.expect("ack").await;
    w.expect("message").await;
    sql(
        &server,
        "UPDATE conversations SET team = 'beta' WHERE id = $1",
        &[&conv],
    )
    .await;
    let number = server
        .get(&admin_token, &format!("/api/v1/conversations/{conv}"))
        .await
        .1["conversation"]["number"]
        .as_i64()
        .unwrap()
        .to_string();
    // Machines and a contract of another company than Cory's.
    let contact = server
        .get(&admin_token, &format!("/api/v1/conversations/{conv}"))
        .await
        .1["conversation"]["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let globex = crate::trust::company(&server, &admin_token, "Globex", &[&contact]).await;
    let (machine, _, contract) =
        crate::equipment::fleet(&server, &admin_token, &globex, &contact).await;
    let (_, visit) = crate::equipment::done_visit(&server, &admin_token, &machine).await;
    // A technician with no machine or visit of Globex's: none of it is theirs.
    add_agent(&server, "tess@example.com", "technician", &[]);
    let tess_token = {
        let out = server.cli(&["user", "token", "--email", "tess@example.com"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let cory_token = {
        let out = server.cli(&["user", "token", "--email", "cory@example.com"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };

    let form: Vec<(&str, &str)> = vec![
        ("text", "hi"),
        ("mode", "reply"),
        ("status", "resolved"),
        ("assignee", ""),
        ("priority", "high"),
        ("tier", "N2"),
        ("reason", "because"),
        ("labels", "x"),
        ("hours", "1"),
        ("version", "0"),
        ("action", "resolve"),
        ("n", &number),
        ("active", "0"),
        ("locale", "en"),
        ("role", "support"),
        ("email", "x@example.com"),
        ("from", &number),
        ("contact", "some-contact-id"),
    ];
    let mut ana = Browser::sign_in(&server, "ana@example.com").await;
    let mut cory = Browser::sign_in(&server, "cory@example.com").await;
    let mut sue = Browser::sign_in(&server, "sue@example.com").await;
    let mut tess = Browser::sign_in(&server, "tess@example.com").await;
    let mut admin = Browser::sign_in(&server, "admin@example.com").await;
    let before = crate::trust::row_counts(&server).await;
    let mut checked = 0;
    for spec in switchboard_gateway::app::route_specs() {
        // Public pages have nothing to guard; signing out everywhere would end the
        // sessions this loop goes on with (its own test covers it).
        if spec.access == Access::Public || spec.path == "/logout/everywhere" {
            continue;
        }
        let path = spec
            .path
            .replace("{number}", &number)
            .replace("{user}", "some-user-id")
            .replace("{key}", &key)
            .replace("{machine}", &machine)
            .replace("{visit}", &visit)
            .replace("{contract}", &contract);
        // What the others may not reach is there: the admin reaches it.
        if spec.path.contains("{key}") {
            let (status, _) = admin.get(&path).await;
            assert_eq!(status, 200, "admin: GET {path}");
        }

        for (who, b) in [("ana", &mut ana), ("cory", &mut cory), ("tess", &mut tess)] {
            let (status, body) = if spec.method == "GET" {
                b.get(&path).await
            } else {
                b.post(&path, &form).await
            };
            let expected: &[u16] = match spec.access {
                Access::Admin | Access::Reports => &[403],
                // The board is a coordinator's too, over its own companies.
                Access::Board if who == "cory" => &[200],
                Access::Board => &[403],
                _ if spec.path.contains("{number}") || spec.path.contains("{key}") => &[404],
                // Equipment follows the companies: Cory's are not Globex, and Tess works
                // for none of Globex's machines.
                _ if (spec.path.contains("{machine}")
                    || spec.path.contains("{visit}")
                    || spec.path.contains("{contract}"))
                    && who != "ana" =>
                {
                    &[404]
                }
                _ => continue,
            };
            assert!(
                expected.contains(&status),
                "{who}: {} {path} gave {status}: {body:.300}",
                spec.method
            );
            checked += 1;
        }
        // The supervisor may read everything but write nothing.
        if spec.access == Access::AgentWrite {
            let (status, body) = sue.post(&path, &form).await;
            assert_eq!(status, 403, "supervisor: POST {path}: {body:.300}");
            checked += 1;
        }
    }
    for (route, _) in switchboard_gateway::app::api_table() {
        let path = format!(
            "/api/v1{}",
            route
                .path
                .replace("{id}", &conv)
                .replace("{machine}", &machine)
                .replace("{contract}", &contract)
                .replace("{visit}", &visit)
        );
        let call = |token: String| {
            let path = path.clone();
            let method = route.method;
            let server = &server;
            async move {
                if method == "GET" {
                    server.get(&token, &path).await
                } else if method == "DELETE" {
                    let r = server
                        .http
                        .delete(server.url(&path))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    (status, r.json().await.unwrap_or(Value::Null))
                } else {
                    server
                        .post(&token, &path, &json!({"text": "hi", "on": true}))
                        .await
                }
            }
        };
        if route.path.contains("{id}") && route.path.starts_with("/conversations") {
            let (status, body) = call(ana_token.clone()).await;
            assert_eq!(status, 404, "ana: {} {path}: {body}", route.method);
            checked += 1;
        }
        if route.path.contains("{machine}")
            || route.path.contains("{contract}")
            || route.path.contains("{visit}")
        {
            for (who, token) in [("cory", &cory_token), ("tess", &tess_token)] {
                let (status, body) = call(token.clone()).await;
                let expected: &[u16] = if route.access == Access::Admin {
                    &[403, 404]
                } else {
                    &[404]
                };
                assert!(
                    expected.contains(&status),
                    "{who}: {} {path} gave {status}: {body}",
                    route.method
                );
                checked += 1;
            }
        }
        if matches!(route.access, Access::AgentWrite | Access::Admin) {
            let (status, body) = call(sue_token.clone()).await;
            assert_eq!(status, 403, "supervisor: {} {path}: {body}", route.method);
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} checks ran");
    assert_eq!(
        crate::trust::row_counts(&server).await,
        before,
        "nothing the refused callers sent changed anything"
    );
}

#[tokio::test]
async fn every_route_keeps_to_the_callers_scope_embedded() {
    route_scope(Backend::Embedded).await;
}

#[tokio::test]
async fn every_route_keeps_to_the_callers_scope_postgres_redis() {
    route_scope(Backend::PostgresRedis).await;
}

#[tokio::test]
async fn two_agents_at_once_lose_nothing() {
    let server = Server::start(Backend::PostgresRedis).await;
    let (_, admin) = add_agent(&server, "admin@example.com", "admin", &[]);
    add_agent(&server, "ana@example.com", "admin", &[]);
    add_agent(&server, "bo@example.com", "admin", &[]);
    let (_, conv) = server.visitor_writes(&admin, "two of us").await;
    let mut ana = Browser::sign_in(&server, "ana@example.com").await;
    let mut bo = Browser::sign_in(&server, "bo@example.com").await;
    let (_, html) = ana.get("/conversations/1001").await;
    let version = attr_after(&html, "data-version=\"").unwrap().to_owned();
    bo.get("/conversations/1001").await;
    // Both reply at the same moment: both are stored, in the order they were accepted.
    let (a, b) = tokio::join!(
        ana.post(
            "/conversations/1001/messages",
            &[("text", "from ana"), ("mode", "reply")]
        ),
        bo.post(
            "/conversations/1001/messages",
            &[("text", "from bo"), ("mode", "reply")]
        ),
    );
    assert_eq!((a.0, b.0), (303, 303));
    let thread = server.thread(&admin, &conv).await;
    let texts: Vec<&str> = thread.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(
        texts.contains(&"from ana") && texts.contains(&"from bo"),
        "{texts:?}"
    );
    // One resolves while the other assigns, both from the same version: the second is
    // refused with a clear message and changes nothing.
    let resolve = [("status", "resolved"), ("version", version.as_str())];
    let urgent = [("priority", "urgent"), ("version", version.as_str())];
    let (r1, r2) = tokio::join!(
        ana.post("/conversations/1001/status", &resolve),
        bo.post("/conversations/1001/priority", &urgent),
    );
    let statuses = [r1.0, r2.0];
    assert!(
        statuses.contains(&303) && statuses.contains(&409),
        "{statuses:?}"
    );
    let loser = if r1.0 == 409 { &r1.1 } else { &r2.1 };
    assert!(loser.contains("changed this conversation"), "{loser:.500}");
    let (_, c) = server
        .get(&admin, &format!("/api/v1/conversations/{conv}"))
        .await;
    let c = &c["conversation"];
    assert!(
        (c["status"] == "resolved") != (c["priority"] == "urgent"),
        "exactly one change applied: {c}"
    );
}

#[tokio::test]
async fn the_api_does_what_the_inbox_does_and_describes_it() {
    let server = Server::start(Backend::Embedded).await;
    let (_, admin) = add_agent(&server, "admin@example.com", "admin", &[]);
    let (ana_id, _) = add_agent(&server, "ana@example.com", "support", &["--tier", "N2"]);
    let (_, conv) = server.visitor_writes(&admin, "api please").await;
    let p = |s: &str| format!("/api/v1/conversations/{conv}/{s}");

    let (s, v) = server
        .post(&admin, &p("assign"), &json!({"assignee_id": ana_id}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["conversation"]["assignee_id"], ana_id.as_str());
    let version = v["conversation"]["version"].as_i64().unwrap();
    // A stale version changes nothing and says why.
    let (s, v) = server
        .post(
            &admin,
            &p("priority"),
            &json!({"priority": "high", "version": version - 1}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = server
        .post(
            &admin,
            &p("priority"),
            &json!({"priority": "high", "version": version}),
        )
        .await;
    assert_eq!(
        (s, v["conversation"]["priority"].as_str()),
        (200, Some("high"))
    );
    let (s, v) = server
        .post(
            &admin,
            &p("tier"),
            &json!({"direction": "up", "reason": ""}),
        )
        .await;
    assert_eq!(s, 422, "a reason is required: {v}");
    let (s, v) = server
        .post(
            &admin,
            &p("tier"),
            &json!({"direction": "up", "reason": "needs N2"}),
        )
        .await;
    assert_eq!(
        (s, v["conversation"]["tier"].as_str()),
        (200, Some("N2")),
        "{v}"
    );
    let (s, v) = server
        .post(&admin, &p("labels"), &json!({"labels": ["Billing", "vip"]}))
        .await;
    assert_eq!(
        v["conversation"]["labels"],
        json!(["billing", "vip"]),
        "{s} {v}"
    );
    let (s, v) = server
        .post(&admin, &p("notes"), &json!({"text": "@ana look"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = server
        .post(&admin, &p("status"), &json!({"status": "snoozed"}))
        .await;
    assert_eq!(s, 422, "a snooze needs a time: {v}");
    let (s, v) = server
        .post(&admin, &p("status"), &json!({"status": "pending"}))
        .await;
    assert_eq!(
        (s, v["conversation"]["status"].as_str()),
        (200, Some("pending"))
    );
    let (s, v) = server
        .post(
            &admin,
            "/api/v1/conversations/bulk",
            &json!({"ids": [conv, "nope"], "status": "resolved"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["ok"], true);
    assert_eq!(v["results"][1]["error"]["code"], "not_found");

    // The list and counts.
    let (s, v) = server
        .get(
            &admin,
            "/api/v1/inbox?view=all&status=resolved&label=billing",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = server.get(&admin, "/api/v1/inbox/counts").await;
    assert!(v["views"].as_array().unwrap().len() >= 3);

    // Saved replies: seeded, and ours.
    let (_, v) = server
        .get(&admin, "/api/v1/canned-responses?locale=pt-BR")
        .await;
    assert!(v["canned_responses"].as_array().unwrap().len() >= 5, "{v}");
    let (s, v) = server
        .post(&admin, "/api/v1/canned-responses", &json!({"shortcut": "thanks", "locale": "en", "title": "Thanks", "body": "Thanks, {{contact.name}}!"}))
        .await;
    assert_eq!(s, 201, "{v}");

    // Users: invite, then change.
    let (s, v) = server
        .post(
            &admin,
            "/api/v1/users",
            &json!({"email": "new@example.com", "role": "support", "tier": "N1"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert!(
        v["invite_link"]
            .as_str()
            .unwrap()
            .contains("/invite?token=")
    );
    let id = v["user"]["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/users/{id}"),
            &json!({"teams": ["alpha"], "capacity": 3}),
        )
        .await;
    assert_eq!((s, v["user"]["capacity"].as_i64()), (200, Some(3)), "{v}");

    // The description lists every route, and every route it lists exists.
    let doc: Value = server
        .http
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        switchboard_gateway::app::api_table().len()
    );
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let url = server.url(&path.replace("{id}", "x"));
            let r = server
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .send()
                .await
                .unwrap();
            // 401 without a token; the events socket refuses a plain GET first (400).
            let want = if path.ends_with("/events") { 400 } else { 401 };
            assert_eq!(
                r.status().as_u16(),
                want,
                "{method} {path} is served (and guarded)"
            );
        }
    }
}

/// The inbox's own socket, opened with a session cookie from a page of this host.
async fn inbox_socket(
    server: &Server,
    b: &Browser,
    origin: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{}/inbox/events", server.port)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", b.cookie_header().parse().unwrap());
    if let Some(o) = origin {
        request.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

async fn next_of(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
) -> Value {
    loop {
        let v = crate::support::next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

#[tokio::test]
async fn who_is_viewing_and_typing_reaches_the_right_people() {
    use futures::SinkExt;
    let server = Server::start(Backend::Embedded).await;
    let (_, admin) = add_agent(&server, "ana@example.com", "admin", &[]);
    add_agent(&server, "bo@example.com", "admin", &[]);
    add_agent(&server, "cy@example.com", "support", &["--team", "other"]);
    let (mut widget, conv) = server.visitor_writes(&admin, "anyone there?").await;
    sql(
        &server,
        "UPDATE conversations SET team = 'vip' WHERE id = $1",
        &[&conv],
    )
    .await;
    let ana = Browser::sign_in(&server, "ana@example.com").await;
    let bo = Browser::sign_in(&server, "bo@example.com").await;
    let cy = Browser::sign_in(&server, "cy@example.com").await;
    let origin = server.url("");
    let origin = origin.trim_end_matches('/');

    // Only pages of this host open it: a cookie riding along from another site does not.
    assert_eq!(
        inbox_socket(&server, &ana, Some("http://evil.example"))
            .await
            .err(),
        Some(403)
    );
    assert_eq!(inbox_socket(&server, &ana, None).await.err(), Some(403));
    let anonymous = Browser::new(&server);
    assert!(
        inbox_socket(&server, &anonymous, Some(origin))
            .await
            .is_err()
    );

    let mut a = inbox_socket(&server, &ana, Some(origin)).await.unwrap();
    let mut b = inbox_socket(&server, &bo, Some(origin)).await.unwrap();
    let mut c = inbox_socket(&server, &cy, Some(origin)).await.unwrap();
    // Ana opens the conversation: Bo sees her there. A socket listens once its upgrade is
    // done, a moment after the handshake answers, so Ana says it again until Bo hears it,
    // as the inbox does while a conversation stays open.
    let mut seen = None;
    for _ in 0..40 {
        a.send(tokio_tungstenite::tungstenite::Message::Text(
            json!({"type": "viewing", "conversation_id": conv})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        if let Ok(v) = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            next_of(&mut b, "viewing"),
        )
        .await
        {
            seen = Some(v);
            break;
        }
    }
    let seen = seen.expect("Bo sees Ana on the conversation");
    assert_eq!(seen["name"], "ana@example.com");
    assert_eq!(seen["conversation_id"], conv.as_str());
    // Ana types: the visitor sees an agent typing.
    a.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"type": "typing", "conversation_id": conv, "on": true})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let typing = widget.expect("typing").await;
    assert_eq!(typing["on"], true, "{typing}");
    // Cy, of another team, saw neither: the next thing Cy gets is a message of a
    // conversation it may see, not Ana's presence.
    let (mut w2, _) = server.visitor_writes(&admin, "second visitor").await;
    let first = crate::support::next_json(&mut c).await;
    assert_ne!(first["type"], "viewing", "{first}");
    assert_ne!(first["type"], "typing", "{first}");
    w2.say("c2", "still here").await;
}

/// Two nodes on one database: sign-in attempts against one account, alternating between
/// them, draw on one allowance (a second node is no second set of guesses), and the
/// client address's allowance is shared too.
#[tokio::test]
async fn sign_in_attempts_are_counted_across_nodes() {
    let first = Server::start_with(
        Backend::PostgresRedis,
        &[
            ("SWITCHBOARD_WEB__LOGIN_ATTEMPTS_PER_ACCOUNT", "4"),
            ("SWITCHBOARD_WEB__LOGIN_ATTEMPTS_PER_IP", "9"),
        ],
    )
    .await;
    let second = first
        .another_node(&[
            ("SWITCHBOARD_WEB__LOGIN_ATTEMPTS_PER_ACCOUNT", "4"),
            ("SWITCHBOARD_WEB__LOGIN_ATTEMPTS_PER_IP", "9"),
        ])
        .await;
    add_agent(&first, "ana@example.com", "support", &[]);
    add_agent(&first, "bea@example.com", "support", &[]);
    let mut a = Browser::new(&first);
    let mut b = Browser::new(&second);
    a.get("/login").await;
    b.get("/login").await;
    let wrong = |email: &'static str| [("email", email), ("password", "wrong wrong wrong")];
    // Four wrong passwords, two on each node: the account's four are spent everywhere.
    for i in 0..4 {
        let node = if i % 2 == 0 { &mut a } else { &mut b };
        let (s, _) = node.post("/login", &wrong("ana@example.com")).await;
        assert_eq!(s, 422, "attempt {i}");
    }
    for node in [&mut a, &mut b] {
        let (s, html) = node
            .post(
                "/login",
                &[("email", "ana@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(s, 429, "{html:.300}");
    }
    // The address's nine: six used above; three more on Bea's account, then even her
    // right password waits, on either node.
    for i in 0..3 {
        let node = if i % 2 == 0 { &mut b } else { &mut a };
        let (s, _) = node.post("/login", &wrong("bea@example.com")).await;
        assert_eq!(s, 422, "attempt {i}");
    }
    let (s, _) = a
        .post(
            "/login",
            &[("email", "bea@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn sign_in_is_throttled_and_a_reset_link_works_once() {
    let server = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_WEB__LOGIN_ATTEMPTS_PER_ACCOUNT", "3")],
    )
    .await;
    let (_, admin) = add_agent(&server, "admin@example.com", "admin", &[]);
    let (ana_id, _) = add_agent(&server, "ana@example.com", "support", &[]);

    // Three wrong passwords, then even the right one waits: the account's allowance is
    // spent.
    let mut b = Browser::new(&server);
    b.get("/login").await;
    for _ in 0..3 {
        let (s, _) = b
            .post(
                "/login",
                &[
                    ("email", "ana@example.com"),
                    ("password", "wrong wrong wrong"),
                ],
            )
            .await;
        assert_eq!(s, 422);
    }
    let (s, html) = b
        .post(
            "/login",
            &[("email", "ana@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, 429, "{html:.300}");
    assert!(html.contains("Too many attempts"));
    // Another account from the same address is not locked by Ana's.
    let (s, _) = b
        .post(
            "/login",
            &[("email", "admin@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(s, 303);

    // "Forgot password" answers the same whether the address exists or not.
    let mut c = Browser::new(&server);
    c.get("/password/forgot").await;
    let (s1, known) = c
        .post("/password/forgot", &[("email", "bo@example.com")])
        .await;
    let (s2, unknown) = c
        .post("/password/forgot", &[("email", "nobody@example.com")])
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(known.len(), unknown.len());

    // A reset link sets a new password once; the old password and the link stop working.
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
    let (s, html) = d.get(&format!("/password/reset?token={token}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("ana@example.com"));
    let (s, html) = d
        .post(
            "/password/reset",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(
        s, 422,
        "a weak password is refused with a reason: {html:.200}"
    );
    let (s, _) = d
        .post(
            "/password/reset",
            &[("token", &token), ("password", "a brand new passphrase")],
        )
        .await;
    assert_eq!(s, 303);
    let (_, html) = d.get(&format!("/password/reset?token={token}")).await;
    assert!(html.contains("expired or has been used"), "{html:.300}");
}

/// Merging from the pages: another contact found by name is merged into this
/// conversation's contact, then its conversation into this one; an agent who cannot see
/// the other contact or conversation gets "not found" and changes nothing.
#[tokio::test]
async fn merges_from_the_pages_stay_in_scope() {
    let server = Server::start(Backend::Embedded).await;
    let (_, admin_token) = add_agent(&server, "admin@example.com", "admin", &[]);
    add_agent(
        &server,
        "ana@example.com",
        "support",
        &["--tier", "N1", "--team", "alpha"],
    );
    let mut w1 = server.widget(None).await;
    w1.say("a1", "first from one").await;
    w1.expect("ack").await;
    let mut w2 = server.widget(None).await;
    w2.say("b1", "second from two").await;
    w2.expect("ack").await;
    crate::support::eventually(10, || async {
        server.conversations(&admin_token).await.len() == 2
    })
    .await;
    sql(
        &server,
        "UPDATE contacts SET name = 'Maria Silva' WHERE id = (SELECT contact_id FROM conversations WHERE number = 1002)",
        &[],
    )
    .await;
    sql(
        &server,
        "UPDATE conversations SET team = 'beta' WHERE number = 1002",
        &[],
    )
    .await;

    let mut admin = Browser::sign_in(&server, "admin@example.com").await;
    let mut ana = Browser::sign_in(&server, "ana@example.com").await;
    let (status, found) = admin
        .get("/conversations/1001/contact-matches?q=maria")
        .await;
    assert_eq!(status, 200, "{found:.500}");
    assert!(found.contains("Maria Silva"), "{found:.800}");
    let other = attr_after(&found, "name=\"contact\" value=\"")
        .unwrap()
        .to_owned();

    // Ana sees #1001 but neither the other contact nor #1002.
    let (status, hidden) = ana.get("/conversations/1001/contact-matches?q=maria").await;
    assert_eq!(status, 200);
    assert!(!hidden.contains("Maria Silva"), "{hidden:.800}");
    let (status, _) = ana
        .post("/conversations/1001/merge-contact", &[("contact", &other)])
        .await;
    assert_eq!(status, 404, "merging a contact out of scope");
    let (status, _) = ana
        .post("/conversations/1001/merge", &[("from", "1002")])
        .await;
    assert_eq!(status, 404, "merging a conversation out of scope");
    let (_, page) = admin.get("/conversations/1001").await;
    assert!(
        !page.contains("name=\"from\" value=\"1002\""),
        "nothing changed: #1002 is still another contact's"
    );

    // The admin merges the contact, then the conversation.
    let (status, body) = admin
        .post("/conversations/1001/merge-contact", &[("contact", &other)])
        .await;
    assert_eq!(status, 303, "{body:.500}");
    let (_, page) = admin.get("/conversations/1001").await;
    assert!(
        page.contains("name=\"from\" value=\"1002\""),
        "#1002 is now this contact's and can be merged here"
    );
    let (status, body) = admin
        .post("/conversations/1001/merge", &[("from", "1002")])
        .await;
    assert_eq!(status, 303, "{body:.500}");
    let (_, page) = admin.get("/conversations/1001").await;
    assert!(page.contains("second from two"), "the messages moved");
    assert!(page.contains("first from one"));
    let (_, merged) = admin.get("/conversations/1002").await;
    assert!(
        merged.contains("was merged into")
            || merged.contains("status-resolved")
            || merged.contains("Resolved"),
        "{merged:.300}"
    );
    // Merging it again is refused with a clear message, nothing moves.
    let (status, _) = admin
        .post("/conversations/1001/merge", &[("from", "1002")])
        .await;
    assert_eq!(status, 422);
}

/// The saved-replies pages: everyone reads them; an agent adds one and changes only its
/// own; a bad shortcut is refused beside its field and changes nothing; a supervisor
/// writes nothing.
#[tokio::test]
async fn saved_replies_are_managed_from_their_page() {
    let server = Server::start(Backend::Embedded).await;
    add_agent(&server, "admin@example.com", "admin", &[]);
    add_agent(&server, "ana@example.com", "support", &["--tier", "N1"]);
    add_agent(&server, "bo@example.com", "support", &["--tier", "N1"]);
    add_agent(&server, "sue@example.com", "supervisor", &[]);
    let mut ana = Browser::sign_in(&server, "ana@example.com").await;
    let mut bo = Browser::sign_in(&server, "bo@example.com").await;
    let mut sue = Browser::sign_in(&server, "sue@example.com").await;

    let (status, list) = ana.get("/saved-replies?locale=en").await;
    assert_eq!(status, 200);
    assert!(list.contains("/greeting"), "the standard set is listed");
    assert!(list.contains("{{contact.name}}"), "placeholders are named");
    assert!(
        !list.contains("href=\"/saved-replies/std-"),
        "standard replies are the admin's"
    );
    let before = list.matches("class=\"saved-item\"").count();

    let (status, body) = ana
        .post(
            "/saved-replies/new",
            &[
                ("shortcut", "no spaces!"),
                ("locale", "en"),
                ("title", "x"),
                ("body", "y"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body:.300}");
    assert!(
        body.contains("href=\"#shortcut\""),
        "the error points at its field"
    );
    let (_, list) = ana.get("/saved-replies?locale=en").await;
    assert_eq!(list.matches("class=\"saved-item\"").count(), before);

    let (status, _) = sue
        .post(
            "/saved-replies/new",
            &[
                ("shortcut", "sue"),
                ("locale", "en"),
                ("title", "x"),
                ("body", "y"),
            ],
        )
        .await;
    assert_eq!(status, 403, "a supervisor writes nothing");

    let form = [
        ("shortcut", "printer-reset"),
        ("locale", "en"),
        ("title", "Printer reset"),
        (
            "body",
            "Hi {{contact.name}}, hold the power button for ten seconds.",
        ),
    ];
    let (status, _) = ana.post("/saved-replies/new", &form).await;
    assert_eq!(status, 303);
    let (_, list) = ana.get("/saved-replies?locale=en&done=added").await;
    assert!(list.contains("Saved reply added."));
    let at = list.find("/printer-reset").unwrap();
    let id = attr_after(&list[at..], "href=\"/saved-replies/")
        .unwrap()
        .to_owned();
    // The composer's menu finds it.
    let (_, menu) = ana.get("/canned?prefix=printer").await;
    assert!(menu.contains("printer-reset"), "{menu:.300}");

    // Bo may read it but not change or remove it.
    let (status, _) = bo.get(&format!("/saved-replies/{id}")).await;
    assert_eq!(status, 403);
    let (status, _) = bo.post(&format!("/saved-replies/{id}"), &form).await;
    assert_eq!(status, 403);
    let (status, _) = bo.post(&format!("/saved-replies/{id}/delete"), &[]).await;
    assert_eq!(status, 403);

    let mut changed = form;
    changed[3] = ("body", "Hold the power button for twenty seconds.");
    let (status, _) = ana.post(&format!("/saved-replies/{id}"), &changed).await;
    assert_eq!(status, 303);
    let (_, list) = ana.get("/saved-replies?locale=en").await;
    assert!(list.contains("twenty seconds"));
    let (status, _) = ana.post(&format!("/saved-replies/{id}/delete"), &[]).await;
    assert_eq!(status, 303);
    let (_, list) = ana.get("/saved-replies?locale=en").await;
    assert!(!list.contains("printer-reset"));
    assert_eq!(list.matches("class=\"saved-item\"").count(), before);
}

/// An agent's notifications: a client's message on its conversation, each SLA target it
/// missed, once each however often the message comes or the sweep runs; its page lists
/// them, the rail counts them, one button reads them all, and another agent sees none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_hears_of_replies_and_breaches_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    // Open round the clock, so the SLA counts now whatever the day.
    std::fs::write(
        &config,
        "[business_hours]\nweek = [\"00:00-24:00\", \"00:00-24:00\", \"00:00-24:00\", \"00:00-24:00\", \"00:00-24:00\", \"00:00-24:00\", \"00:00-24:00\"]\n",
    )
    .unwrap();
    let server = Server::start_with(
        Backend::PostgresRedis,
        &[("SWITCHBOARD_CONFIG", config.to_str().unwrap())],
    )
    .await;
    let (_, admin) = add_agent(&server, "admin@example.com", "admin", &[]);
    let (ana_id, ana) = add_agent(&server, "ana@example.com", "support", &[]);
    let (_, sam) = add_agent(&server, "sam@example.com", "support", &[]);
    let (mut w, conv) = server
        .visitor_writes(&admin, "Oi, a impressora parou")
        .await;
    let (s, v) = server
        .post(
            &admin,
            &format!("/api/v1/conversations/{conv}/assign"),
            &json!({"assignee_id": ana_id}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let kinds = |token: String| {
        let server = &server;
        async move {
            let (s, v) = server.get(&token, "/api/v1/notifications").await;
            assert_eq!(s, 200, "{v}");
            v["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["kind"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let count = |list: &[String], kind: &str| list.iter().filter(|k| *k == kind).count();
    // Her client writes twice; the second message is sent twice (a retry): two notices.
    for (id, text) in [
        ("c2", "Alguém aí?"),
        ("c3", "Mancha tudo de toner"),
        ("c3", "Mancha tudo de toner"),
    ] {
        w.say(id, text).await;
        w.expect("ack").await;
    }
    crate::support::eventually(10, || async {
        count(&kinds(ana.clone()).await, "reply") == 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        count(&kinds(ana.clone()).await, "reply"),
        2,
        "a retry tells no one again"
    );

    // Three days without an answer: the sweep marks the targets missed, and tells her once.
    sql(
        &server,
        "UPDATE conversations SET created_at = created_at - 259200000, people_since = people_since - 259200000",
        &[],
    )
    .await;
    crate::support::eventually(20, || async {
        count(&kinds(ana.clone()).await, "breach") >= 1
    })
    .await;
    let breaches = count(&kinds(ana.clone()).await, "breach");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(
        count(&kinds(ana.clone()).await, "breach"),
        breaches,
        "another sweep adds none"
    );
    assert!(breaches <= 2, "one per target");
    assert!(
        kinds(sam.clone()).await.is_empty(),
        "nothing of hers reaches another"
    );

    // Her page and the rail.
    let mut b = Browser::sign_in(&server, "ana@example.com").await;
    let (s, page) = b.get("/notifications").await;
    assert_eq!(s, 200);
    let number = server
        .get(&admin, &format!("/api/v1/conversations/{conv}"))
        .await
        .1["conversation"]["number"]
        .as_i64()
        .unwrap();
    assert_eq!(
        page.matches(&format!("New message from the client in #{number}"))
            .count(),
        2,
        "{page:.3000}"
    );
    assert!(
        page.contains(&format!("#{number} missed its SLA target")),
        "{page:.3000}"
    );
    let unread = 2 + breaches + count(&kinds(ana.clone()).await, "assigned");
    assert!(
        page.contains(&format!("id=\"notif-count\">{unread}<")),
        "{unread} unread: {page:.2000}"
    );
    let r = b.post_response("/notifications/read", &[]).await;
    assert_eq!(r.status(), 303);
    let (s, v) = server.get(&ana, "/api/v1/notifications?unread=true").await;
    assert_eq!(s, 200);
    assert_eq!(v["notifications"].as_array().unwrap().len(), 0, "{v}");
    let (_, page) = b.get("/notifications").await;
    assert!(!page.contains("id=\"read-all\"") && page.contains("id=\"notif-count\" hidden"));
}
