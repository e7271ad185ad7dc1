//! `switchboard backup DIR` and `switchboard restore DIR`: everything a node keeps, copied
//! while it runs and put back on a new machine.
//!
//! A backup is a folder: the database (SQLite: a consistent copy made by `VACUUM INTO`
//! while the server writes; PostgreSQL: `pg_dump`'s custom format), the blobs (files,
//! content-addressed, copied after the database so every file the copy refers to is in it),
//! and `backup.json`, what it holds. The search index is not in it: it is rebuilt from the
//! database when the restored node starts. (e2e `ops::a_backup_taken_while_serving_restores_whole_*`)

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use switchboard_core::Ids;
use switchboard_core::clock::SystemClock;
use switchboard_core::store::{Backend, Store};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// A folder that does not exist yet, or is empty.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder made by `switchboard backup`.
    pub dir: PathBuf,
    /// Replace the data this node already has (its database and search index).
    #[arg(long)]
    pub force: bool,
}

/// `backup.json`: what the folder holds.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// `sqlite` or `postgres`: the database the backup can be restored to.
    backend: String,
    created_at: i64,
    version: String,
    blobs: u64,
    blob_bytes: u64,
}

const MANIFEST: &str = "backup.json";
const SQLITE_FILE: &str = "switchboard.db";
const PG_FILE: &str = "database.dump";

pub async fn backup(args: BackupArgs, config: Config) -> anyhow::Result<()> {
    let dir = args.dir;
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "{} is not empty: a backup goes into a new folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let url = config.database_url();
    let store = Store::connect(&url).await?;
    let backend = store.backend();
    match backend {
        Backend::Sqlite => {
            store
                .copy_sqlite_into(&dir.join(SQLITE_FILE))
                .await
                .context("copying the SQLite database")?;
        }
        Backend::Postgres => {
            let out = std::process::Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--no-owner")
                .arg("--file")
                .arg(dir.join(PG_FILE))
                .arg("--dbname")
                .arg(&url)
                .output()
                .context("running pg_dump (install PostgreSQL's client programs)")?;
            if !out.status.success() {
                bail!(
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
    store.close().await;
    // After the database: every blob the copy refers to was written before its row.
    let (blobs, blob_bytes) = copy_tree(&config.data_dir.join("blobs"), &dir.join("blobs"))?;
    let manifest = Manifest {
        backend: backend_name(backend).to_owned(),
        created_at: Ids::new(std::sync::Arc::new(SystemClock)).now_ms(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        blobs,
        blob_bytes,
    };
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    println!(
        "backed up the {} database and {blobs} files ({blob_bytes} bytes) to {}",
        manifest.backend,
        dir.display()
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs, config: Config) -> anyhow::Result<()> {
    let dir = args.dir;
    let manifest: Manifest = serde_json::from_slice(
        &std::fs::read(dir.join(MANIFEST))
            .with_context(|| format!("{} holds no {MANIFEST}: not a backup", dir.display()))?,
    )
    .context("reading backup.json")?;
    let url = config.database_url();
    let backend = if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    if backend_name(backend) != manifest.backend {
        bail!(
            "this backup is of a {} database and this node uses {}",
            manifest.backend,
            backend_name(backend)
        );
    }
    match backend {
        Backend::Sqlite => {
            let target = sqlite_path(&url).context("the SQLite database's path")?;
            if target.exists() && !args.force {
                bail!(
                    "{} exists: --force replaces it with the backup's",
                    target.display()
                );
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // The old write-ahead log would be replayed over the restored file.
            for suffix in ["-wal", "-shm"] {
                let mut side = target.clone().into_os_string();
                side.push(suffix);
                let side = PathBuf::from(side);
                if side.exists() {
                    std::fs::remove_file(&side)?;
                }
            }
            std::fs::copy(dir.join(SQLITE_FILE), &target)
                .with_context(|| format!("copying the database to {}", target.display()))?;
        }
        Backend::Postgres => {
            // A fresh database (migrated, no one in it) is restored into without --force.
            let store = Store::connect(&url).await?;
            let people = store.holds_users().await.unwrap_or(false);
            store.close().await;
            if people && !args.force {
                bail!(
                    "the database already has users: --force replaces its data with the backup's"
                );
            }
            let out = std::process::Command::new("pg_restore")
                .arg("--clean")
                .arg("--if-exists")
                .arg("--no-owner")
                .arg("--exit-on-error")
                .arg("--dbname")
                .arg(&url)
                .arg(dir.join(PG_FILE))
                .output()
                .context("running pg_restore (install PostgreSQL's client programs)")?;
            if !out.status.success() {
                bail!(
                    "pg_restore failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
    let (blobs, bytes) = copy_tree(&dir.join("blobs"), &config.data_dir.join("blobs"))?;
    // The search index is rebuilt from the restored articles when the node starts.
    let index = config.data_dir.join("kb-index");
    if index.exists() {
        std::fs::remove_dir_all(&index)
            .with_context(|| format!("removing the old search index {}", index.display()))?;
    }
    println!(
        "restored the {} database and {blobs} files ({bytes} bytes) from {}; the search index is rebuilt at the next start",
        manifest.backend,
        dir.display()
    );
    Ok(())
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The file of a `sqlite://PATH?options` URL.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Copies the files under `from` into `to` (a missing `from` is an empty tree), leaving
/// out unfinished uploads (`tmp`); files already there with the same size stay. Returns
/// how many files and bytes the tree holds.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0u64, 0u64);
    if !from.exists() {
        return Ok((0, 0));
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(from.join(&rel))? {
            let entry = entry?;
            let name = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if rel.as_os_str().is_empty() && entry.file_name() == "tmp" {
                    continue;
                }
                std::fs::create_dir_all(to.join(&name))?;
                stack.push(name);
            } else if kind.is_file() {
                let size = entry.metadata()?.len();
                let target = to.join(&name);
                if !target.metadata().is_ok_and(|m| m.len() == size) {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::copy(entry.path(), &target)
                        .with_context(|| format!("copying {}", name.display()))?;
                }
                files += 1;
                bytes += size;
            }
        }
    }
    Ok((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_is_read_from_its_url() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/sb/switchboard.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/sb/switchboard.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://data/switchboard.db"),
            Some(PathBuf::from("data/switchboard.db"))
        );
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
