//! The knowledge base in the running server: the search index in the data dir kept in
//! step with the database, the bot's classifier rebuilt when articles change, and the bot
//! itself (the `BotHook` the bot worker calls).
//!
//! Every article change is appended to the `kb` stream topic; each node reads that topic
//! in a consumer group of its own (`kb-<node>`), so every node's index follows every
//! change without a restart and without a full rebuild. At start the index is compared with
//! the database (article versions) and only what differs is indexed again.
//!
//! `Kb` holds the index in `<data_dir>/kb-index` (one writer per data dir: each node has
//! its own), compared with the database at start (`Kb::sync`). Saving an article (import or
//! editor) indexes it on that node at once and appends `{"id","version"}` to the `kb` topic
//! (e2e `kb::article_changes_reach_every_node_and_the_command_line_keeps_its_contract`).
//! The bot's classifier is rebuilt off the async threads within two seconds of a change or
//! a learned question. With `[bot] enabled = true` the router leaves new conversations to
//! the bot (`people_first` off) and a `BotWorker` runs `bots::hook::KbBot`; thresholds per
//! channel and handoff keywords are settings. `kb import` / `export` / `search` / `reindex`
//! and `bot ask` are the command line (`cli/kb.rs`; `bot ask --json -`: one JSON line per
//! input line); an importer that cannot take a running server's index leaves the change to
//! the stream.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchboard_bots::brain::{Brain, BrainOptions};
use switchboard_bots::model::Embed;
use switchboard_bots::policy::Settings;
use switchboard_core::store::Store;
use switchboard_core::store::kb::{ArticleInput, Saved};
use switchboard_core::stream::Stream;
use switchboard_core::{Error, Ids, Result};
use switchboard_kb::{Article, ArticleFilter, IndexError, KbIndex};
use tokio_util::sync::CancellationToken;

/// The stream topic of article changes.
pub const TOPIC: &str = "kb";

fn ix<T>(r: std::result::Result<T, IndexError>) -> Result<T> {
    r.map_err(|e| Error::Conflict(format!("search index: {e}")))
}

/// Tells every node's index that an article changed (the `kb` topic).
pub async fn announce(stream: &dyn Stream, a: &Article) -> Result<()> {
    let payload = serde_json::json!({ "id": a.id, "version": a.version }).to_string();
    stream.append(TOPIC, &payload).await.map(|_| ())
}

/// The sentence encoder `bot.semantic_model` names, loaded (off the async threads: it
/// reads 70–90 MB); `None` when it is not set.
pub async fn encoder(config: &crate::config::BotConfig) -> anyhow::Result<Option<Arc<dyn Embed>>> {
    let Some(dir) = config.semantic_model.clone() else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || load_encoder(&dir)).await?
}

#[cfg(feature = "semantic")]
fn load_encoder(dir: &std::path::Path) -> anyhow::Result<Option<Arc<dyn Embed>>> {
    let m = switchboard_bots::semantic::load(dir)
        .map_err(|e| anyhow::anyhow!("bot.semantic_model: {e}"))?;
    Ok(Some(m))
}

#[cfg(not(feature = "semantic"))]
fn load_encoder(_: &std::path::Path) -> anyhow::Result<Option<Arc<dyn Embed>>> {
    anyhow::bail!("bot.semantic_model: this build has no sentence encoder (`--features semantic`)")
}

/// The knowledge base as the server holds it.
#[derive(Debug)]
pub struct Kb {
    pub store: Store,
    pub stream: Arc<dyn Stream>,
    pub ids: Ids,
    pub index: Arc<KbIndex>,
    brain: RwLock<Arc<Brain>>,
    /// Articles or learned questions changed since the classifier was built.
    dirty: std::sync::atomic::AtomicBool,
    pub settings: Settings,
    /// The sentence encoder the classifier reads messages with, besides their words.
    encoder: Option<Arc<dyn Embed>>,
}

impl Kb {
    /// Opens the index in `<data_dir>/kb-index`, brings it in step with the database and
    /// builds the classifier.
    pub async fn open(
        store: Store,
        stream: Arc<dyn Stream>,
        ids: Ids,
        data_dir: &std::path::Path,
        settings: Settings,
        encoder: Option<Arc<dyn Embed>>,
    ) -> anyhow::Result<Arc<Kb>> {
        let dir = data_dir.join("kb-index");
        let index = tokio::task::spawn_blocking(move || KbIndex::open(&dir))
            .await?
            .map_err(|e| anyhow::anyhow!("knowledge base index: {e}"))?;
        let kb = Arc::new(Kb {
            store,
            stream,
            ids,
            index: Arc::new(index),
            brain: RwLock::new(Arc::new(Brain::build(&[], &[], BrainOptions::default()))),
            dirty: std::sync::atomic::AtomicBool::new(true),
            settings,
            encoder,
        });
        kb.sync().await?;
        kb.rebuild_brain().await?;
        Ok(kb)
    }

    /// Indexes what the index lacks or has older than the database, and drops what the
    /// database no longer has. Returns how many articles it indexed.
    pub async fn sync(&self) -> Result<usize> {
        let stored = self.store.article_versions().await?;
        let index = self.index.clone();
        let (stale, gone) = ix(tokio::task::spawn_blocking(move || index.diff(&stored))
            .await
            .map_err(|e| Error::Conflict(e.to_string()))?)?;
        let fresh = self.read(&stale).await?;
        let n = fresh.len();
        let index = self.index.clone();
        ix(tokio::task::spawn_blocking(move || {
            if !fresh.is_empty() {
                index.upsert(&fresh)?;
            }
            if !gone.is_empty() {
                index.remove(&gone)?;
            }
            Ok::<_, IndexError>(())
        })
        .await
        .map_err(|e| Error::Conflict(e.to_string()))?)?;
        if n > 0 {
            self.mark_dirty();
        }
        Ok(n)
    }

    /// Indexes these articles now (read from the database), so this node searches them at
    /// once; other nodes follow through the stream.
    pub async fn reindex(&self, ids: &[String]) -> Result<()> {
        let fresh = self.read(ids).await?;
        let index = self.index.clone();
        ix(tokio::task::spawn_blocking(move || index.upsert(&fresh))
            .await
            .map_err(|e| Error::Conflict(e.to_string()))?)?;
        self.mark_dirty();
        Ok(())
    }

    /// These articles from the database (those that still exist): one by one for a few,
    /// all in one read for many (a new node's first start).
    async fn read(&self, ids: &[String]) -> Result<Vec<Article>> {
        if ids.len() > 32 {
            let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
            let mut all = self.store.articles(&ArticleFilter::default()).await?;
            all.retain(|a| wanted.contains(a.id.as_str()));
            return Ok(all);
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.article(id).await {
                Ok(a) => out.push(a),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Saves an article (import or editor), indexes it here and tells the other nodes.
    pub async fn save(
        &self,
        input: ArticleInput,
        author: Option<&str>,
    ) -> Result<(Article, Saved)> {
        let (a, saved) = self.store.save_article(&self.ids, input, author).await?;
        if saved != Saved::Unchanged {
            self.changed(&a).await?;
        }
        Ok((a, saved))
    }

    /// An editor's change, based on the version the editor read.
    pub async fn edit(
        &self,
        id: &str,
        input: ArticleInput,
        version: i64,
        author: Option<&str>,
    ) -> Result<Article> {
        let a = self
            .store
            .edit_article(&self.ids, id, input, version, author)
            .await?;
        self.changed(&a).await?;
        Ok(a)
    }

    async fn changed(&self, a: &Article) -> Result<()> {
        self.reindex(std::slice::from_ref(&a.id)).await?;
        if let Err(e) = announce(self.stream.as_ref(), a).await {
            // This node has it; the others catch up at their next start (sync).
            tracing::warn!(error = %e, "article change not announced to other nodes");
        }
        Ok(())
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn brain(&self) -> Arc<Brain> {
        self.brain.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Trains the classifier again on the published articles and learned questions, off
    /// the async threads, when something changed.
    pub async fn rebuild_brain(&self) -> Result<()> {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let articles = self.store.articles(&ArticleFilter::default()).await?;
        let learned = self.store.learned_questions().await?;
        let options = BrainOptions {
            encoder: self.encoder.clone(),
            ..BrainOptions::default()
        };
        let brain = tokio::task::spawn_blocking(move || Brain::build(&articles, &learned, options))
            .await
            .map_err(|e| Error::Conflict(e.to_string()))?;
        *self.brain.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(brain);
        Ok(())
    }

    /// Follows the `kb` topic (this node's own group) and rebuilds the classifier after
    /// changes, until `stop`.
    pub async fn follow(self: Arc<Self>, node: String, stop: CancellationToken) {
        let group = format!("kb-{node}");
        if let Err(e) = self.stream.ensure_group(TOPIC, &group).await {
            tracing::warn!(error = %e, "knowledge base cannot follow article changes");
        }
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                read = self.stream.read(TOPIC, &group, &node, 256, Duration::from_millis(500)) => {
                    match read {
                        Ok(entries) if !entries.is_empty() => {
                            let mut ids: Vec<String> = entries
                                .iter()
                                .filter_map(|e| serde_json::from_str::<serde_json::Value>(&e.payload).ok())
                                .filter_map(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
                                .collect();
                            ids.sort();
                            ids.dedup();
                            match self.reindex(&ids).await {
                                Ok(()) => {
                                    let done: Vec<String> = entries.into_iter().map(|e| e.id).collect();
                                    if let Err(e) = self.stream.ack(TOPIC, &group, &done).await {
                                        tracing::debug!(error = %e, "kb ack failed");
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "article changes not indexed yet"),
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot read article changes");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = self.rebuild_brain().await {
                        tracing::warn!(error = %e, "bot classifier not rebuilt");
                        self.mark_dirty();
                    }
                }
            }
        }
    }
}

impl switchboard_bots::hook::BrainSource for Kb {
    fn brain(&self) -> Arc<Brain> {
        Kb::brain(self)
    }
    fn learned(&self) {
        self.mark_dirty();
    }
}
