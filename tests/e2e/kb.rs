//! The knowledge base across processes, against the real binary, PostgreSQL and Redis:
//! `kb import` while two nodes run (each with its own data dir and index) reaches both
//! nodes' search without a restart, a changed article replaces the old one everywhere, a
//! bad file imports nothing and names its lines; `kb search --json` and `bot ask --json -`
//! speak DESIGN.md's contract.

use serde_json::Value;

use crate::support::{Backend, Server, eventually};

/// The help centre's search results for `q`.
pub(crate) async fn found(server: &Server, q: &str) -> Vec<Value> {
    let r = server
        .http
        .get(server.url("/help/search.json"))
        .query(&[("q", q)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["results"].as_array().cloned().unwrap_or_default()
}

/// `bot ask --json -` with `lines` on its standard input, and `extra` in its environment.
fn bot_ask(server: &Server, extra: &[(&str, &str)], lines: &str) -> std::process::Output {
    server.cli_with_input(&["bot", "ask", "--json", "-"], extra, lines)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn article_changes_reach_every_node_and_the_command_line_keeps_its_contract() {
    let a = Server::start_with(Backend::PostgresRedis, &[("SWITCHBOARD_NODE_ID", "kb-a")]).await;
    let shared: Vec<(&str, String)> = ["DATABASE_URL", "REDIS_URL", "SWITCHBOARD_REDIS_PREFIX"]
        .iter()
        .map(|k| (*k, a.env[*k].clone()))
        .collect();
    let mut extra: Vec<(&str, &str)> = shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.push(("SWITCHBOARD_NODE_ID", "kb-b"));
    let b = Server::start_with(Backend::Embedded, &extra).await;

    // Imported while both run: the importer cannot write the running node's index, so
    // both learn of it from the stream.
    let file = write(
        a.dir.path(),
        "kb.jsonl",
        concat!(
            r#"{"id":"zb-1","title":"Pay with a Zorblax wallet","body":"Open **Invoices** and choose Zorblax.","lang":"en","questions":["can i pay with zorblax"]}"#,
            "\n",
            r#"{"id":"zb-1-pt","title":"Pagar com a carteira Zorblax","body":"Abra **Faturas** e escolha Zorblax.","lang":"pt","translation_of":"zb-1"}"#,
            "\n",
            r#"{"id":"zb-2","title":"Internal: Zorblax refunds","body":"Agents only.","lang":"en","status":"internal"}"#,
            "\n"
        ),
    );
    let out = a.cli(&["kb", "import", &file]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "3 created, 0 updated, 0 unchanged"
    );
    for node in [&a, &b] {
        eventually(20, || async {
            let hits = found(node, "zorblax wallet").await;
            hits.len() == 2
                && hits
                    .iter()
                    .all(|h| h["title"] != "Internal: Zorblax refunds")
        })
        .await;
    }
    // The client's language comes first.
    let hits = found(&b, "pagar com zorblax").await;
    assert_eq!(hits[0]["lang"], "pt");
    // What the widget reads before the visitor writes: a published article, never an
    // internal one, whatever its address.
    let read = |lang: &str, slug: &str| {
        reqwest::Client::new()
            .get(b.url("/help/article.json"))
            .query(&[("lang", lang), ("slug", slug)])
            .send()
    };
    let shown = read("en", "pay-with-a-zorblax-wallet").await.unwrap();
    assert_eq!(shown.status(), 200);
    let shown: serde_json::Value = shown.json().await.unwrap();
    assert_eq!(shown["url"], "/help/en/pay-with-a-zorblax-wallet");
    assert!(
        shown["html"]
            .as_str()
            .unwrap()
            .contains("<strong>Invoices</strong>"),
        "{shown}"
    );
    assert_eq!(
        read("en", "internal-zorblax-refunds")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        read("pt", "pay-with-a-zorblax-wallet")
            .await
            .unwrap()
            .status(),
        404
    );

    // Votes: an unknown article is not there, a bad answer is refused, and one address
    // cannot vote without end by dropping its cookie.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A vote carries the page's CSRF token (the pre-sign-in cookie's, double-submitted).
    let token = "c".repeat(40);
    let vote = |slug: &str, helpful: &str| {
        no_redirect
            .post(a.url(&format!("/help/pt/{slug}/vote")))
            .header("cookie", format!("__Host-sb_csrf={token}"))
            .form(&[("helpful", helpful), ("_csrf", token.as_str())])
            .send()
    };
    assert_eq!(vote("nao-existe", "yes").await.unwrap().status(), 404);
    // Without the token (a form on another site), refused and not counted.
    for forged in [
        no_redirect
            .post(a.url("/help/pt/pagar-com-a-carteira-zorblax/vote"))
            .form(&[("helpful", "yes")]),
        no_redirect
            .post(a.url("/help/pt/pagar-com-a-carteira-zorblax/vote"))
            .header("cookie", format!("__Host-sb_csrf={token}"))
            .form(&[("helpful", "yes"), ("_csrf", "d".repeat(40).as_str())]),
    ] {
        assert_eq!(forged.send().await.unwrap().status(), 403);
    }
    assert_eq!(
        vote("pagar-com-a-carteira-zorblax", "maybe")
            .await
            .unwrap()
            .status(),
        422
    );
    for _ in 0..30 {
        assert_eq!(
            vote("pagar-com-a-carteira-zorblax", "yes")
                .await
                .unwrap()
                .status(),
            303
        );
    }
    assert_eq!(
        vote("pagar-com-a-carteira-zorblax", "yes")
            .await
            .unwrap()
            .status(),
        429
    );

    // A changed article replaces the old text on both nodes; re-importing the same file
    // changes nothing.
    let changed = write(
        a.dir.path(),
        "kb2.jsonl",
        r#"{"id":"zb-1","title":"Pay with a Quuxly wallet","body":"Zorblax is gone; choose Quuxly.","lang":"en"}"#,
    );
    let out = a.cli(&["kb", "import", &changed]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0 created, 1 updated, 0 unchanged"
    );
    for node in [&a, &b] {
        eventually(20, || async {
            let hits = found(node, "quuxly").await;
            hits.len() == 1 && hits[0]["title"] == "Pay with a Quuxly wallet"
        })
        .await;
    }
    let out = a.cli(&["kb", "import", &changed]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0 created, 0 updated, 1 unchanged"
    );

    // A file with a bad line imports nothing and says which line.
    let bad = write(
        a.dir.path(),
        "bad.csv",
        "id,title,body,lang\nok-1,Fine title,Fine body,en\nbad-1,,No title,en\nbad-2,Title,Body,xx\n",
    );
    let out = a.cli(&["kb", "import", &bad]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("line 4"), "{err}");
    assert!(found(&a, "fine title").await.is_empty());
    let out = a.cli(&["kb", "export"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);

    // `kb search --json`: published articles only, unless an agent asks.
    let out = a.cli(&["kb", "search", "zorblax", "--json"]);
    let hits: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(hits.iter().all(|h| h["status"] == "published"));
    let out = a.cli(&["kb", "search", "zorblax refunds", "--json", "--agent"]);
    let hits: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(hits.iter().any(|h| h["public_id"] == "zb-2"));

    // `bot ask --json -`: one JSON line out per line in, in DESIGN.md's shape.
    let out = bot_ask(&a, &[], "how can I pay with quuxly?\nagent please\n\n🙂\n");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for l in &lines {
        for key in [
            "action",
            "article_id",
            "title",
            "confidence",
            "reply",
            "reason",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        let c = l["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
    }
    assert_eq!(lines[0]["article_id"], "zb-1");
    assert_eq!(lines[1]["action"], "handoff");
    assert_eq!(lines[1]["reason"], "person");
    assert_eq!(lines[2]["action"], "answer");
    assert!(lines[2]["article_id"].is_null());
}

/// `bot.semantic_model` naming the multilingual-E5 image (`scripts/test` installs the wheel
/// and sets `SB_E5`): the server starts with it and learns the articles, `bot ask` answers
/// with the same model; a file that is not such an image stops `bot ask` with the setting
/// named, so the command line reads the file it is given.
#[tokio::test]
async fn the_bot_reads_with_the_multilingual_encoder_it_is_given() {
    let image = std::env::var("SB_E5")
        .expect("SB_E5 names the multilingual-E5 image (scripts/test sets it)");
    let mut a = Server::start_with(
        Backend::Embedded,
        &[("SWITCHBOARD_BOT__SEMANTIC_MODEL", image.as_str())],
    )
    .await;
    a.import_kb(concat!(
        r#"{"id":"jam","title":"Clear a paper jam","body":"Open the front door and pull the sheet out gently.","lang":"en","questions":["paper is stuck in the printer"]}"#,
        "\n",
        r#"{"id":"jam-pt","title":"Desatolar o papel","body":"Abra a porta da frente e puxe a folha com cuidado.","lang":"pt","translation_of":"jam","questions":["o papel travou na impressora"]}"#,
        "\n",
        r#"{"id":"jam-es","title":"Quitar un atasco de papel","body":"Abra la puerta frontal y tire de la hoja con cuidado.","lang":"es","translation_of":"jam","questions":["el papel se atoró en la impresora"]}"#,
        "\n",
        r#"{"id":"pay","title":"Pay an invoice","body":"Open Invoices and choose how to pay.","lang":"en","questions":["how do I pay my bill"]}"#,
        "\n",
        r#"{"id":"pay-pt","title":"Pagar uma fatura","body":"Abra Faturas e escolha como pagar.","lang":"pt","translation_of":"pay","questions":["como pago o boleto"]}"#,
        "\n",
        r#"{"id":"pay-es","title":"Pagar una factura","body":"Abra Facturas y elija cómo pagar.","lang":"es","translation_of":"pay","questions":["como pago la factura"]}"#,
        "\n"
    ))
    .await;
    let out = bot_ask(
        &a,
        &[],
        "a folha ficou presa dentro da impressora\nquiero pagar la factura de este mes\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0]["article_id"], "jam-pt", "{answers:?}");
    assert_eq!(answers[1]["article_id"], "pay-es", "{answers:?}");

    let bad = write(a.dir.path(), "not-a-model.bin", "not a model");
    let out = bot_ask(
        &a,
        &[("SWITCHBOARD_BOT__SEMANTIC_MODEL", bad.as_str())],
        "hola\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bot.semantic_model") && err.contains("E5S1"),
        "{err}"
    );
}
