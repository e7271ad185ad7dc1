//! The bot's question classifier: which article answers a message.
//!
//! Each class is a topic of the knowledge base (`brain.rs` says which examples it learns
//! from: titles, questions, the sentences of the bodies). A message becomes word
//! unigrams and bigrams plus character 2–5-grams of each word (so typos and inflections
//! still share most features) and the trade's word groups (`vocab.rs`: "tinteiro" and
//! "cartucho" share the toner's feature), weighted by sublinear TF-IDF; one linear SVM per class
//! (L2-regularized squared hinge, trained by dual coordinate descent) scores it.
//! Lexical retrieval alone (BM25) is the floor this beats: the classifier learns which
//! words tell one article's questions from its neighbours'.
//!
//! With a sentence encoder ([`Embed`], the `semantic` feature), each message's embedding
//! joins its features as a third block, so questions that share meaning but no words are
//! still told apart by the same SVMs.
//!
//! Training shares the classes out over threads and is deterministic (`model::tests::*`).

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_kb::text::{fold, words};

/// A training example: text and the index of its class.
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub class: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// SVM cost: higher fits the examples closer.
    pub c: f32,
    pub max_epochs: usize,
    /// Character n-grams seen in fewer examples than this are dropped.
    pub min_char_df: u32,
    pub seed: u64,
    pub threads: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            c: 1.0,
            max_epochs: 60,
            min_char_df: 2,
            seed: 7,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4),
        }
    }
}

const WORD: u8 = 1;
const BIGRAM: u8 = 2;
const CHARS: u8 = 3;
/// The trade's word groups (`vocab.rs`): one feature for all the words of a group.
const CONCEPT: u8 = 4;

/// FNV-1a of `parts` (kept apart), seeded by `tag`: one hash space per kind of feature.
pub(crate) fn fnv(tag: u8, parts: &[&[u8]]) -> u64 {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            x ^= 0xff;
            x = x.wrapping_mul(0x0100_0000_01b3);
        }
        for b in *p {
            x ^= u64::from(*b);
            x = x.wrapping_mul(0x0100_0000_01b3);
        }
    }
    x
}

/// The raw features of a text: (hash, is_char_gram) → count.
fn raw_features(text: &str) -> HashMap<(u64, bool), f32> {
    let folded = fold(text);
    let ws: Vec<&str> = words(&folded).collect();
    let mut out: HashMap<(u64, bool), f32> = HashMap::with_capacity(ws.len() * 16);
    for (i, w) in ws.iter().enumerate() {
        *out.entry((fnv(WORD, &[w.as_bytes()]), false)).or_default() += 1.0;
        let next = ws.get(i + 1).copied().unwrap_or("");
        if let Some(group) =
            crate::vocab::concept(w).or_else(|| crate::vocab::concept_of_pair(w, next))
        {
            *out.entry((fnv(CONCEPT, &[group.as_bytes()]), false))
                .or_default() += 1.0;
        }
        if i + 1 < ws.len() {
            *out.entry((fnv(BIGRAM, &[w.as_bytes(), ws[i + 1].as_bytes()]), false))
                .or_default() += 1.0;
        }
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        let mut buf = [0u8; 4 * 5];
        for n in 2..=5usize {
            if padded.len() < n {
                break;
            }
            for win in padded.windows(n) {
                let mut len = 0;
                for c in win {
                    len += c.encode_utf8(&mut buf[len..]).len();
                }
                *out.entry((fnv(CHARS, &[&buf[..len]]), true)).or_default() += 1.0;
            }
        }
    }
    out
}

/// A sparse, unit-length feature vector.
pub type Features = Vec<(u32, f32)>;

/// A sentence encoder: texts that mean the same come out close.
pub trait Embed: Send + Sync + std::fmt::Debug {
    /// How many numbers each vector has.
    fn dims(&self) -> usize;
    /// One unit-length vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>>;
}

/// The sentence encoder's block of the features: its vector, scaled by `weight`, after
/// the sparse features.
#[derive(Debug, Clone)]
struct Dense {
    encoder: Arc<dyn Embed>,
    first: u32,
    weight: f32,
}

/// How much the meaning block weighs beside the word and spelling blocks (each 1).
pub const DENSE_WEIGHT: f32 = 1.5;

#[derive(Debug, Clone)]
struct Vocabulary {
    ids: HashMap<u64, u32>,
    is_char: Vec<bool>,
    idf: Vec<f32>,
}

impl Vocabulary {
    /// The text's features; with `dense`, its embedding follows as ids `first..`.
    fn vectorize(&self, text: &str, dense: Option<(&[f32], u32, f32)>) -> Features {
        let raw = raw_features(text);
        let mut v: Features = raw
            .into_iter()
            .filter_map(|((h, _), tf)| {
                let id = *self.ids.get(&h)?;
                Some((id, (1.0 + tf.ln()) * self.idf[id as usize]))
            })
            .collect();
        // In id order, so sums (and so scores) are the same bit for bit every time.
        v.sort_unstable_by_key(|(id, _)| *id);
        let (mut word_norm, mut char_norm) = (0f32, 0f32);
        for (id, x) in &v {
            if self.is_char[*id as usize] {
                char_norm += x * x;
            } else {
                word_norm += x * x;
            }
        }
        // Each block has length one (the meaning block its weight), and the whole one:
        // words and spellings weigh alike.
        let (wn, cn) = (word_norm.sqrt(), char_norm.sqrt());
        let mut blocks = f32::from(u8::from(wn > 0.0) + u8::from(cn > 0.0));
        if let Some((_, _, weight)) = dense {
            blocks += weight * weight;
        }
        let blocks = blocks.sqrt();
        for (id, x) in &mut v {
            let n = if self.is_char[*id as usize] { cn } else { wn };
            *x /= n * blocks;
        }
        if let Some((e, first, weight)) = dense {
            v.extend(
                e.iter()
                    .enumerate()
                    .map(|(i, x)| (first + i as u32, x * weight / blocks)),
            );
        }
        v
    }
}

/// A trained classifier.
#[derive(Debug, Clone)]
pub struct Model {
    vocab: Vocabulary,
    classes: usize,
    /// Feature-major: the weights of feature `f` for every class at `f * classes`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    dense: Option<Dense>,
}

/// The best classes of a message and their scores, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    pub classes: Vec<(usize, f32)>,
    /// How many of the message's features the model knows: 0 means nothing it could read.
    pub known_features: usize,
}

impl Ranked {
    pub fn best(&self) -> Option<(usize, f32)> {
        self.classes.first().copied()
    }
    /// The lead of the best class over the second.
    pub fn margin(&self) -> f32 {
        match (self.classes.first(), self.classes.get(1)) {
            (Some(a), Some(b)) => a.1 - b.1,
            (Some(a), None) => a.1 + 1.0,
            _ => 0.0,
        }
    }
}

impl Model {
    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn features(&self) -> usize {
        self.vocab.idf.len() + self.dense.as_ref().map_or(0, |d| d.encoder.dims())
    }

    /// Whether a sentence encoder reads the messages too.
    pub fn is_semantic(&self) -> bool {
        self.dense.is_some()
    }

    /// Trains on the examples. Classes without any example never win.
    pub fn train(examples: &[Example], classes: usize, options: TrainOptions) -> Model {
        Self::train_with(examples, classes, options, None)
    }

    /// Trains on the examples, with a sentence encoder's vectors as more features when
    /// one is given.
    pub fn train_with(
        examples: &[Example],
        classes: usize,
        options: TrainOptions,
        encoder: Option<&Arc<dyn Embed>>,
    ) -> Model {
        // Vocabulary: document frequencies over the examples.
        let raws: Vec<HashMap<(u64, bool), f32>> =
            examples.iter().map(|e| raw_features(&e.text)).collect();
        let mut df: HashMap<(u64, bool), u32> = HashMap::new();
        for r in &raws {
            for k in r.keys() {
                *df.entry(*k).or_default() += 1;
            }
        }
        let mut keys: Vec<((u64, bool), u32)> = df
            .into_iter()
            .filter(|((_, is_char), n)| !is_char || *n >= options.min_char_df)
            .collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        let n_docs = examples.len() as f32;
        let mut vocab = Vocabulary {
            ids: HashMap::with_capacity(keys.len()),
            is_char: Vec::with_capacity(keys.len()),
            idf: Vec::with_capacity(keys.len()),
        };
        for (i, ((h, is_char), n)) in keys.into_iter().enumerate() {
            vocab.ids.insert(h, i as u32);
            vocab.is_char.push(is_char);
            vocab
                .idf
                .push(((1.0 + n_docs) / (1.0 + n as f32)).ln() + 1.0);
        }
        let dense = encoder.map(|e| Dense {
            encoder: Arc::clone(e),
            first: vocab.idf.len() as u32,
            weight: DENSE_WEIGHT,
        });
        let xs: Vec<Features> = match &dense {
            Some(d) => {
                let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
                examples
                    .iter()
                    .zip(d.encoder.embed(&texts))
                    .map(|(e, v)| vocab.vectorize(&e.text, Some((&v, d.first, d.weight))))
                    .collect()
            }
            None => examples
                .iter()
                .map(|e| vocab.vectorize(&e.text, None))
                .collect(),
        };
        let labels: Vec<usize> = examples.iter().map(|e| e.class).collect();
        let n_features = vocab.idf.len() + dense.as_ref().map_or(0, |d| d.encoder.dims());
        // One binary SVM per class, the classes shared out over threads.
        let threads = options.threads.max(1).min(classes.max(1));
        let mut per_class: Vec<(Vec<f32>, f32)> = vec![(Vec::new(), 0.0); classes];
        std::thread::scope(|s| {
            let chunks: Vec<&mut [(Vec<f32>, f32)]> = per_class
                .chunks_mut(classes.div_ceil(threads).max(1))
                .collect();
            let mut start = 0;
            for chunk in chunks {
                let first = start;
                start += chunk.len();
                let (xs, labels) = (&xs, &labels);
                s.spawn(move || {
                    for (offset, slot) in chunk.iter_mut().enumerate() {
                        *slot = binary_svm(xs, labels, first + offset, n_features, options);
                    }
                });
            }
        });
        let mut weights = vec![0f32; n_features * classes];
        let mut bias = vec![0f32; classes];
        for (k, (w, b)) in per_class.into_iter().enumerate() {
            for (f, x) in w.into_iter().enumerate() {
                weights[f * classes + k] = x;
            }
            bias[k] = b;
        }
        Model {
            vocab,
            classes,
            weights,
            bias,
            dense,
        }
    }

    /// Scores every class; the best `top` come back.
    pub fn rank(&self, text: &str, top: usize) -> Ranked {
        let vector = self
            .dense
            .as_ref()
            .and_then(|d| Some((d.encoder.embed(&[text]).pop()?, d.first, d.weight)));
        let x = self.vocab.vectorize(
            text,
            vector.as_ref().map(|(v, f, w)| (v.as_slice(), *f, *w)),
        );
        // What the message has that the model knows, besides its meaning (appended last).
        let known_features = x.len() - vector.as_ref().map_or(0, |(v, _, _)| v.len());
        let mut scores = self.bias.clone();
        for (f, v) in &x {
            let row = &self.weights[*f as usize * self.classes..(*f as usize + 1) * self.classes];
            for (s, w) in scores.iter_mut().zip(row) {
                *s += v * w;
            }
        }
        let mut classes: Vec<(usize, f32)> = scores.into_iter().enumerate().collect();
        let top = top.clamp(1, classes.len().max(1));
        if classes.len() > top {
            classes.select_nth_unstable_by(top - 1, |a, b| b.1.total_cmp(&a.1));
            classes.truncate(top);
        }
        classes.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ranked {
            classes,
            known_features,
        }
    }
}

/// Dual coordinate descent for the L2-regularized squared-hinge SVM of one class against
/// the rest, with a bias feature of value 1 (Hsieh et al., 2008), shrinking examples whose
/// bound is settled.
fn binary_svm(
    xs: &[Features],
    labels: &[usize],
    class: usize,
    n_features: usize,
    o: TrainOptions,
) -> (Vec<f32>, f32) {
    let n = xs.len();
    let mut w = vec![0f32; n_features];
    let mut b = 0f32;
    if !labels.contains(&class) {
        return (w, -1.0);
    }
    let diag = 0.5 / o.c;
    let y: Vec<f32> = labels
        .iter()
        .map(|l| if *l == class { 1.0 } else { -1.0 })
        .collect();
    let qii: Vec<f32> = xs
        .iter()
        .map(|x| x.iter().map(|(_, v)| v * v).sum::<f32>() + 1.0 + diag)
        .collect();
    let mut alpha = vec![0f32; n];
    let mut active: Vec<usize> = (0..n).collect();
    let mut rng = o.seed ^ (class as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut pg_max_old = f32::INFINITY;
    for _ in 0..o.max_epochs {
        // Fisher–Yates with a xorshift: the same examples give the same model.
        for i in (1..active.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            active.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        let (mut pg_max, mut pg_min) = (f32::NEG_INFINITY, f32::INFINITY);
        let mut keep = Vec::with_capacity(active.len());
        for &i in &active {
            let x = &xs[i];
            let dot: f32 = x.iter().map(|(f, v)| w[*f as usize] * v).sum::<f32>() + b;
            let g = y[i] * dot - 1.0 + diag * alpha[i];
            let pg = if alpha[i] == 0.0 {
                if g > pg_max_old {
                    // Settled at its bound: leave it out of the next rounds.
                    continue;
                }
                g.min(0.0)
            } else {
                g
            };
            keep.push(i);
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qii[i]).max(0.0);
                let d = (alpha[i] - old) * y[i];
                for (f, v) in x {
                    w[*f as usize] += d * v;
                }
                b += d;
            }
        }
        active = keep;
        if pg_max - pg_min <= 0.1 {
            if active.len() == n {
                break;
            }
            // Settled on the shrunk set: look at everything once more.
            active = (0..n).collect();
            pg_max_old = f32::INFINITY;
            continue;
        }
        pg_max_old = if pg_max <= 0.0 { f32::INFINITY } else { pg_max };
    }
    (w, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str, class: usize) -> Example {
        Example {
            text: text.into(),
            class,
        }
    }

    #[test]
    fn it_tells_close_questions_apart_and_reads_typos() {
        let examples = vec![
            ex("my card has not arrived", 0),
            ex("when will my new card come", 0),
            ex("card still not delivered", 0),
            ex("how do I activate my card", 1),
            ex("activate the card i received", 1),
            ex("card activation is not working", 1),
            ex("what is the exchange rate", 2),
            ex("which rate do you use to exchange currency", 2),
        ];
        let m = Model::train(&examples, 4, TrainOptions::default());
        assert_eq!(m.rank("my card hasnt arived yet", 3).best().unwrap().0, 0);
        assert_eq!(m.rank("how to activete card", 3).best().unwrap().0, 1);
        assert_eq!(m.rank("exchange rates?", 3).best().unwrap().0, 2);
        let none = m.rank("🙂🙂", 3);
        assert_eq!(none.known_features, 0);
        // Class 3 had no examples: it never wins.
        assert!(
            m.rank("anything at all", 4)
                .classes
                .iter()
                .all(|(c, s)| *c != 3 || *s < 0.0)
        );
    }

    /// A knowledge base writes "toner" and "jam"; clients write "tinteiro", "cartridge",
    /// "pó preto", "enroscou", "se atoró". The trade's word groups (`vocab.rs`) carry them
    /// to the article written with the other word, where no letters are shared.
    #[test]
    fn the_trade_s_words_reach_the_article_written_with_another() {
        let examples = vec![
            ex("how do I order toner", 0),
            ex("onde peço toner", 0),
            ex("pedir toner negro", 0),
            ex("the paper jammed in tray 2", 1),
            ex("atolamento de papel na bandeja", 1),
            ex("atasco de papel en la bandeja", 1),
            ex("where do I send the meter reading", 2),
            ex("onde mando a leitura do contador", 2),
        ];
        let m = Model::train(&examples, 3, TrainOptions::default());
        for (text, class) in [
            ("tinteiro", 0),
            ("cartridge", 0),
            ("cartuchos", 0),
            ("po preto", 0),
            ("enroscou", 1),
            ("se atoro", 1),
            ("chewed", 1),
            ("contagens", 2),
            ("clicks", 2),
        ] {
            let ranked = m.rank(text, 3);
            assert_eq!(
                ranked.best().map(|b| b.0),
                Some(class),
                "{text}: {ranked:?}"
            );
            assert!(ranked.margin() > 0.1, "{text}: {ranked:?}");
        }
    }

    #[test]
    fn training_is_deterministic() {
        let examples: Vec<Example> = (0..40)
            .map(|i| ex(&format!("question number {i} about topic {}", i % 4), i % 4))
            .collect();
        let a = Model::train(&examples, 4, TrainOptions::default());
        let b = Model::train(
            &examples,
            4,
            TrainOptions {
                threads: 1,
                ..TrainOptions::default()
            },
        );
        assert_eq!(a.rank("topic 2 question", 4), b.rank("topic 2 question", 4));
    }
}
