//! Operations against the real binary: a backup taken while the server serves, restored on
//! a new node (a new data folder, a new database), gives back every conversation, every
//! file byte for byte, the agents' sign-ins and the knowledge base's search, rebuilt.

use crate::kb::found;
use crate::support::{Backend, Server, eventually};
use crate::webchat::upload;

fn files(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "tmp") {
                    continue;
                }
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

async fn a_backup_taken_while_serving_restores_whole(backend: Backend) {
    let mut a = Server::start_with(backend, &[]).await;
    let token = a.add_user("ana@example.com", "admin");
    a.import_kb(
        r#"{"id":"qx-1","title":"Replacing the Quixotron drum","body":"Open the front door and lift the drum out.","lang":"en"}"#,
    )
    .await;
    eventually(20, || async {
        found(&a, "quixotron drum").await.len() == 1
    })
    .await;
    // Conversations, and files (an upload is a blob on disk).
    for i in 0..3 {
        a.visitor_writes(&token, &format!("before the backup {i}"))
            .await;
    }
    let w = a.widget(None).await;
    let up = upload(
        &a,
        Some(&w.visitor),
        "meter.png",
        "image/png",
        crate::tickets::PNG.to_vec(),
        &[],
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let blobs_a = files(&a.dir.path().join("blobs"));
    assert!(!blobs_a.is_empty(), "the upload is on disk");
    eventually(20, || async { a.conversations(&token).await.len() == 3 }).await;
    let before: Vec<String> = a
        .conversations(&token)
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();

    // Online: the server keeps taking messages while the backup is made.
    let dir = a.dir.path().join("backup");
    let writer = {
        let port = a.port;
        tokio::spawn(async move {
            let mut w = crate::support::Widget::connect(port, None).await;
            for i in 0..20 {
                w.say(&format!("d{i}"), &format!("during {i}")).await;
            }
        })
    };
    let out = a.cli(&["backup", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    writer.await.unwrap();
    // Into a folder that is not empty: refused, nothing written.
    let again = a.cli(&["backup", dir.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // A new node: its own data folder and database.
    let mut b = Server::start_with(backend, &[]).await;
    b.terminate();
    let out = b.cli(&["restore", dir.to_str().unwrap(), "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.spawn().await;
    // The agent's token works on the restored node; every conversation the backup saw.
    let after = b.conversations(&token).await;
    assert!(
        after.len() >= before.len(),
        "{} of {}",
        after.len(),
        before.len()
    );
    let mut texts = Vec::new();
    for id in &before {
        for m in b.thread(&token, id).await {
            texts.push(m["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    for i in 0..3 {
        assert!(
            texts.iter().any(|t| t == &format!("before the backup {i}")),
            "{texts:?}"
        );
    }
    // Every file, byte for byte.
    let blobs_b = files(&b.dir.path().join("blobs"));
    for f in &blobs_a {
        assert!(blobs_b.contains(f), "{} restored", f.0);
    }
    // The search index, rebuilt from the restored articles.
    eventually(20, || async {
        found(&b, "quixotron drum").await.len() == 1
    })
    .await;
    // A node that already has people is not overwritten without --force.
    b.terminate();
    let refused = b.cli(&["restore", dir.to_str().unwrap()]);
    assert!(!refused.status.success());
    a.terminate();
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_whole_sqlite() {
    a_backup_taken_while_serving_restores_whole(Backend::Embedded).await;
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_whole_postgres() {
    a_backup_taken_while_serving_restores_whole(Backend::PostgresRedis).await;
}
