//! `switchboard kb …` and `switchboard bot ask …` (DESIGN.md's contract).

use std::path::PathBuf;

use clap::Subcommand;
use std::io::{BufRead, Write};

use serde::Serialize;
use switchboard_bots::brain::{Brain, BrainOptions};
use switchboard_bots::policy::{self, Action, Memory};
use switchboard_core::domain::Channel;
use switchboard_core::store::kb::Saved;
use switchboard_kb::import::{Format, ImportArticle, export_line, parse};
use switchboard_kb::{ArticleFilter, Audience, KbIndex, Lang, SearchQuery};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::kit::AppState;

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Import articles from a .jsonl or .csv file (DESIGN.md's format). Articles with an
    /// `id` already imported are updated; a file with any bad line imports nothing.
    Import { file: PathBuf },
    /// Print every article as JSON Lines, the format `kb import` reads.
    Export,
    /// Search as clients do (published articles only; `--agent` adds internal ones).
    Search {
        query: String,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        agent: bool,
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Rebuild the search index from the database.
    Reindex,
}

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// What the bot would do with a message: answer (which article, how sure) or hand
    /// off (and why). `-` reads one message per line from stdin.
    Ask {
        message: String,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        json: bool,
        /// The channel the message arrives on (thresholds differ).
        #[arg(long, default_value = "webchat")]
        channel: String,
    },
}

fn lang_arg(lang: Option<&str>) -> anyhow::Result<Option<Lang>> {
    match lang {
        None => Ok(None),
        Some(l) => Lang::parse(l)
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("--lang {l:?}: one of en, es, pt")),
    }
}

pub async fn run(cmd: KbCommand, config: Config) -> anyhow::Result<()> {
    let state = AppState::connect(config, CancellationToken::new()).await?;
    match cmd {
        KbCommand::Import { file } => import(&state, &file).await,
        KbCommand::Export => {
            let articles = state.store.articles(&ArticleFilter::default()).await?;
            let by_id: std::collections::HashMap<&str, &str> = articles
                .iter()
                .map(|a| (a.id.as_str(), a.public_id()))
                .collect();
            let mut out = std::io::stdout().lock();
            for a in &articles {
                // The first of a translation group is the one the others translate.
                let of = (a.translation_group != a.id)
                    .then(|| {
                        by_id
                            .get(a.translation_group.as_str())
                            .map(|s| (*s).to_owned())
                    })
                    .flatten();
                writeln!(out, "{}", export_line(&ImportArticle::from_article(a, of)))?;
            }
            Ok(())
        }
        KbCommand::Search {
            query,
            lang,
            json,
            agent,
            limit,
        } => {
            let lang = lang_arg(lang.as_deref())?;
            let index = local_index(&state).await?;
            let q = SearchQuery {
                lang,
                limit,
                ..SearchQuery::new(
                    &query,
                    if agent {
                        Audience::Agent
                    } else {
                        Audience::Client
                    },
                )
            };
            let hits = index
                .search(&q)
                .map_err(|e| anyhow::anyhow!("search: {e}"))?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&hits)?)?;
            } else if hits.is_empty() {
                writeln!(out, "no article matches")?;
            } else {
                for h in hits {
                    writeln!(
                        out,
                        "{:>6.2}  [{}] {}  ({})",
                        h.score, h.lang, h.title, h.public_id
                    )?;
                    writeln!(out, "        {}", h.snippet)?;
                }
            }
            Ok(())
        }
        KbCommand::Reindex => {
            let dir = state.config.data_dir.join("kb-index");
            let index = KbIndex::open(&dir).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e} (is a server running on this data dir?)",
                    dir.display()
                )
            })?;
            let articles = state.store.articles(&ArticleFilter::default()).await?;
            index
                .rebuild(&articles)
                .map_err(|e| anyhow::anyhow!("rebuild: {e}"))?;
            println!("{} articles indexed", articles.len());
            Ok(())
        }
    }
}

/// The index of the data dir: written here (brought up to date first) when no server
/// holds it, else read as the server keeps it.
async fn local_index(state: &AppState) -> anyhow::Result<std::sync::Arc<KbIndex>> {
    match state.open_kb().await {
        Ok(kb) => Ok(kb.index.clone()),
        Err(_) => {
            let dir = state.config.data_dir.join("kb-index");
            Ok(std::sync::Arc::new(
                KbIndex::open_read_only(&dir)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?,
            ))
        }
    }
}

async fn import(state: &AppState, file: &std::path::Path) -> anyhow::Result<()> {
    let format = Format::of_path(file)
        .ok_or_else(|| anyhow::anyhow!("{}: .jsonl or .csv", file.display()))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut articles = match parse(&text, format) {
        Ok(a) => a,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            anyhow::bail!("nothing imported: {} bad line(s)", errors.len());
        }
    };
    // Articles others translate come first, so `translation_of` finds them.
    articles.sort_by_key(|(line, a)| (a.translation_of.is_some(), *line));
    // With no server holding the index, it is updated here; a running server follows
    // the changes from the stream.
    let kb = state.open_kb().await.ok();
    let (mut created, mut updated, mut unchanged) = (0, 0, 0);
    for (line, input) in articles {
        let saved = match &kb {
            Some(kb) => kb.save(input, Some("import")).await,
            None => {
                let r = state
                    .store
                    .save_article(&state.ids, input, Some("import"))
                    .await;
                if let Ok((a, s)) = &r
                    && *s != Saved::Unchanged
                {
                    crate::kit::kb::announce(state.stream.as_ref(), a).await?;
                }
                r
            }
        };
        match saved {
            Ok((_, Saved::Created)) => created += 1,
            Ok((_, Saved::Updated)) => updated += 1,
            Ok((_, Saved::Unchanged)) => unchanged += 1,
            Err(e) => anyhow::bail!(
                "{}: line {line}: {e} ({created} created and {updated} updated before it)",
                file.display()
            ),
        }
    }
    println!("{created} created, {updated} updated, {unchanged} unchanged");
    Ok(())
}

/// `bot ask`'s answer, one JSON object per message.
#[derive(Debug, Serialize)]
struct Asked {
    action: &'static str,
    article_id: Option<String>,
    title: Option<String>,
    confidence: f32,
    reply: String,
    reason: Option<String>,
}

pub async fn bot(cmd: BotCommand, config: Config) -> anyhow::Result<()> {
    let BotCommand::Ask {
        message,
        lang,
        json,
        channel,
    } = cmd;
    let hint = lang_arg(lang.as_deref())?;
    let channel = Channel::parse(&channel).map_err(|e| anyhow::anyhow!("--channel: {e}"))?;
    let settings = config.bot.settings(&config.public_url);
    let options = BrainOptions {
        encoder: crate::kit::kb::encoder(&config.bot).await?,
        ..BrainOptions::default()
    };
    let state = AppState::connect(config, CancellationToken::new()).await?;
    let articles = state.store.articles(&ArticleFilter::default()).await?;
    let learned = state.store.learned_questions().await?;
    let brain =
        tokio::task::spawn_blocking(move || Brain::build(&articles, &learned, options)).await?;
    let answer = |text: &str| {
        let o = policy::decide_in(&brain, &settings, channel, text, Memory::default(), hint);
        let best = o.best.map(|g| (brain.article(g.article), g.confidence));
        Asked {
            action: match o.action {
                Action::Handoff(_) => "handoff",
                Action::Answer | Action::Reply => "answer",
            },
            article_id: best.map(|b| b.0.public_id.clone()),
            title: best.map(|b| b.0.title.clone()),
            confidence: best.map_or(0.0, |b| (b.1 * 1000.0).round() / 1000.0),
            reason: match &o.action {
                Action::Handoff(r) => Some(r.code()),
                _ => None,
            },
            reply: o.text,
        }
    };
    let mut out = std::io::stdout().lock();
    let mut print = |a: &Asked| -> anyhow::Result<()> {
        if json {
            writeln!(out, "{}", serde_json::to_string(a)?)?;
        } else {
            writeln!(
                out,
                "{} ({:.0} %){}\n{}\n",
                a.action,
                a.confidence * 100.0,
                a.reason
                    .as_deref()
                    .map(|r| format!(", {r}"))
                    .unwrap_or_default(),
                a.reply
            )?;
        }
        Ok(())
    };
    if message == "-" {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            print(&answer(&line))?;
        }
    } else {
        print(&answer(&message))?;
    }
    Ok(())
}
