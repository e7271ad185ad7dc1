//! What the bot knows: a classifier trained on the published articles, with a calibrated
//! confidence. Internal and draft articles never enter it, so no client-facing answer can
//! come from them.
//!
//! Each class is a topic: the articles that translate each other learn together from
//! their titles, every sentence of their bodies and their questions in all their
//! languages, so a client's Portuguese question is helped by the Spanish and English
//! ones and the topic's three articles never compete. One more class holds small talk
//! (`data/elsewhere.txt`), so a message about the weather is not answered with the
//! article it shares one word with. The article given is the topic's in the client's
//! language: the one the message's words show, else the likeliest by the knowledge base's
//! own texts in each language, among those the words point to when they point to several
//! (`brain::tests::languages_are_told_apart`,
//! `policy::tests::the_bot_never_answers_in_a_language_the_client_did_not_write_in`,
//! `policy::tests::a_message_of_two_languages_is_answered_in_one_of_them_and_the_conversations_first`).
//!
//! The confidence is a logistic fit of the best score and its lead, calibrated by
//! cross-validation on the knowledge base's own questions and its small-talk lines (whose
//! best article would be a wrong answer)
//! (`brain::tests::calibration_fits_what_it_sees`; the resulting tables are in
//! docs/BENCHMARKS.md).

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_kb::text::{fold, words};
use switchboard_kb::{Article, ArticleStatus, Lang, markdown};

use crate::model::{Embed, Example, Model, TrainOptions, fnv};

/// An article the bot may answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: String,
    pub public_id: String,
    pub lang: String,
    pub title: String,
    pub slug: String,
    /// The body's first words, as plain text.
    pub summary: String,
    pub translation_group: String,
}

/// `p = σ(a·score + b·margin + c)`: the probability that the best article is the right
/// one, from its score and its lead over the second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub a: f32,
    pub b: f32,
    pub c: f32,
    /// How it was obtained: `"cross-validated"` on this knowledge base, or `"default"`.
    pub source: &'static str,
}

impl Calibration {
    /// Fitted by 5-fold cross-validation on the business FAQ of `bench/data/faq` (45
    /// articles, about five questions each: the size of a young knowledge base) as the
    /// classifier was on 2026-11-23 (one class per article, SVM cost 0.5), used when a
    /// knowledge base has too few questions to fit its own. The classifier has changed
    /// since and a fit on that FAQ now differs (`kb-bench faq` prints it); the end-to-end
    /// tests' small knowledge bases are tuned to this one.
    pub const DEFAULT: Calibration = Calibration {
        a: 1.7,
        b: 5.8,
        c: 0.0,
        source: "default",
    };

    pub fn confidence(&self, score: f32, margin: f32) -> f32 {
        sigmoid(self.a * score + self.b * margin + self.c)
    }

    /// Logistic regression on (score, margin) → right, by Newton's method with a little
    /// ridge; falls back to the default when it cannot be fitted.
    pub fn fit(points: &[(f32, f32, bool)]) -> Calibration {
        let positives = points.iter().filter(|p| p.2).count();
        if points.len() < 50 || positives < 10 || positives + 10 > points.len() {
            return Calibration::DEFAULT;
        }
        let mut w = [0f64; 3];
        for _ in 0..50 {
            let mut g = [0f64; 3];
            let mut h = [[0f64; 3]; 3];
            for &(s, m, y) in points {
                let x = [f64::from(s), f64::from(m), 1.0];
                let z = w[0] * x[0] + w[1] * x[1] + w[2];
                let p = 1.0 / (1.0 + (-z).exp());
                let r = p - f64::from(u8::from(y));
                for i in 0..3 {
                    g[i] += r * x[i];
                    for j in 0..3 {
                        h[i][j] += p * (1.0 - p) * x[i] * x[j];
                    }
                }
            }
            for (i, row) in h.iter_mut().enumerate() {
                row[i] += 1e-3;
                g[i] += 1e-3 * w[i];
            }
            let Some(step) = solve3(h, g) else {
                return Calibration::DEFAULT;
            };
            let mut moved = 0f64;
            for i in 0..3 {
                w[i] -= step[i];
                moved = moved.max(step[i].abs());
            }
            if moved < 1e-6 {
                break;
            }
        }
        if w.iter().any(|x| !x.is_finite()) {
            return Calibration::DEFAULT;
        }
        Calibration {
            a: w[0] as f32,
            b: w[1] as f32,
            c: w[2] as f32,
            source: "cross-validated",
        }
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Solves a 3×3 system by Cramer's rule.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    if d.abs() < 1e-12 {
        return None;
    }
    let mut out = [0f64; 3];
    for (col, slot) in out.iter_mut().enumerate() {
        let mut m = a;
        for row in 0..3 {
            m[row][col] = b[row];
        }
        *slot = det(m) / d;
    }
    Some(out)
}

#[derive(Debug, Clone)]
pub struct BrainOptions {
    pub train: TrainOptions,
    /// Fit the confidence on this knowledge base by cross-validation (when it has enough
    /// questions; it costs a few more trainings).
    pub calibrate: bool,
    /// A sentence encoder whose vectors join the lexical features (the `semantic`
    /// feature); `None` is the default, lexical classifier.
    pub encoder: Option<Arc<dyn Embed>>,
}

impl Default for BrainOptions {
    fn default() -> Self {
        Self {
            train: TrainOptions::default(),
            calibrate: true,
            encoder: None,
        }
    }
}

/// The bot's best guess for a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guess {
    /// Index into [`Brain::article`].
    pub article: usize,
    pub confidence: f32,
    pub score: f32,
    pub margin: f32,
}

#[derive(Debug, Clone)]
pub struct Brain {
    /// One class per topic: the articles that translate each other learn together, so
    /// a topic's Portuguese and Spanish questions help each other and never compete.
    model: Model,
    articles: Vec<Known>,
    /// The articles of each topic (class), in the order they were published.
    topics: Vec<Vec<usize>>,
    /// The class of what no article is about (small talk, the news): the last one.
    elsewhere: usize,
    /// The languages of the knowledge base, learned from its own texts: which one a
    /// message is in when its words alone do not say.
    langs: LangProfile,
    calibration: Calibration,
    examples: usize,
}

/// Questions an article is asked by: its own, the learned ones, and its title.
fn examples_of(a: &Article, learned: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut fixed = vec![a.title.clone()];
    // The body says what the article is about in the business's own words: each of its
    // sentences (of a few words at least) is one more example.
    let plain = markdown::plain(&a.body);
    fixed.extend(
        plain
            .split(['.', '\n', ';', '!', '?', ':'])
            .map(str::trim)
            .filter(|s| s.split_whitespace().count() >= 4)
            .map(str::to_owned),
    );
    let mut asked: Vec<String> = a.questions.clone();
    asked.extend(learned.iter().map(|q| (*q).to_owned()));
    (fixed, asked)
}

impl Brain {
    /// Learns the published articles (and the questions learned for them).
    pub fn build(
        articles: &[Article],
        learned: &[(String, String)],
        options: BrainOptions,
    ) -> Brain {
        let published: Vec<&Article> = articles
            .iter()
            .filter(|a| a.status == ArticleStatus::Published)
            .collect();
        let mut learned_by: HashMap<&str, Vec<&str>> = HashMap::new();
        for (id, q) in learned {
            learned_by.entry(id.as_str()).or_default().push(q.as_str());
        }
        // Topics: articles of one translation group (an article alone is its own).
        let mut topic_of: HashMap<&str, usize> = HashMap::new();
        let mut topics: Vec<Vec<usize>> = Vec::new();
        for (i, a) in published.iter().enumerate() {
            let group = if a.translation_group.is_empty() {
                a.id.as_str()
            } else {
                a.translation_group.as_str()
            };
            let next = topics.len();
            let t = *topic_of.entry(group).or_insert(next);
            if t == next {
                topics.push(Vec::new());
            }
            topics[t].push(i);
        }
        let mut fixed = Vec::new();
        let mut asked = Vec::new();
        let mut langs = LangProfile::default();
        for (class, members) in topics.iter().enumerate() {
            for &i in members {
                let a = published[i];
                let (f, q) = examples_of(a, learned_by.get(a.id.as_str()).map_or(&[], |v| v));
                // The article's examples (title, body sentences, questions) are its
                // language's sample too.
                for text in f.iter().chain(&q) {
                    langs.learn(&a.lang, text);
                }
                fixed.extend(f.into_iter().map(|text| Example { text, class }));
                asked.extend(q.into_iter().map(|text| Example { text, class }));
            }
        }
        // What clients write that is no business of the desk's, as one more topic.
        let elsewhere = topics.len();
        let apart: Vec<Example> = ELSEWHERE
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| Example {
                text: l.to_owned(),
                class: elsewhere,
            })
            .collect();
        let classes = topics.len() + 1;
        let calibration = if options.calibrate && asked.len() >= 200 && classes >= 5 {
            Calibration::fit(&cross_validate(
                &fixed,
                &asked,
                &apart,
                (classes, elsewhere),
                options.train,
                options.encoder.as_ref(),
            ))
        } else {
            Calibration::DEFAULT
        };
        let mut all = fixed;
        all.extend(asked);
        all.extend(apart);
        let model = Model::train_with(&all, classes, options.train, options.encoder.as_ref());
        let known: Vec<Known> = published
            .iter()
            .map(|a| Known {
                id: a.id.clone(),
                public_id: a.public_id().to_owned(),
                lang: a.lang.clone(),
                title: a.title.clone(),
                slug: a.slug.clone(),
                summary: markdown::summary(&a.body, 400),
                translation_group: a.translation_group.clone(),
            })
            .collect();
        Brain {
            model,
            articles: known,
            topics,
            elsewhere,
            langs,
            calibration,
            examples: all.len(),
        }
    }

    pub fn article(&self, i: usize) -> &Known {
        &self.articles[i]
    }

    pub fn articles(&self) -> &[Known] {
        &self.articles
    }

    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    pub fn examples(&self) -> usize {
        self.examples
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// Whether a sentence encoder reads the messages besides the words.
    pub fn is_semantic(&self) -> bool {
        self.model.is_semantic()
    }

    /// The article that answers a message best, with its calibrated confidence: the best
    /// topic, in the client's language when the topic has it. `langs` are the languages
    /// the message may be in: its own when known; several when its words point to them
    /// alike, and the knowledge base's own texts choose among those; none when unknown,
    /// and they choose among all. `None` when the message has nothing the bot can read.
    pub fn classify(&self, text: &str, langs: &[Lang]) -> Option<Guess> {
        if self.articles.is_empty() {
            return None;
        }
        let ranked = self.model.rank(text, 5);
        if ranked.known_features == 0 {
            return None;
        }
        let (best, score, margin) = best_topic(&ranked.classes, self.elsewhere)?;
        Some(Guess {
            article: self.in_language(best, text, langs),
            confidence: self.calibration.confidence(score, margin),
            score,
            margin,
        })
    }

    /// The language a message is in, among the knowledge base's, when its words do not
    /// say it clearly: from the letters and words of the articles in each language.
    pub fn language_of(&self, text: &str) -> Option<Lang> {
        self.langs.guess(text).and_then(Lang::parse)
    }

    /// The article of `topic` for a message: in its one language (`langs`) when the topic
    /// has it, else in the likeliest of `langs` (of all when none fits) by the knowledge
    /// base's texts, else the topic's first.
    fn in_language(&self, topic: usize, text: &str, langs: &[Lang]) -> usize {
        let members = &self.topics[topic];
        if members.len() == 1 {
            return members[0];
        }
        let find = |code: &str| {
            members
                .iter()
                .copied()
                .find(|i| self.articles[*i].lang == code)
        };
        if let [l] = langs
            && let Some(i) = find(l.code())
        {
            return i;
        }
        let ranked = self.langs.ranked(text).unwrap_or_default();
        let among = |code: &str| langs.iter().any(|l| l.code() == code);
        ranked
            .iter()
            .filter(|(_, code)| among(code))
            .chain(&ranked)
            .find_map(|(_, code)| find(code))
            .unwrap_or(members[0])
    }

    /// The articles close to the best one for a message, best first, at most `n`, one per
    /// topic and each in the client's language when it has a translation in it: what a
    /// client may choose from when the bot is not sure which one they mean. "Close" is a
    /// score within [`CLOSE`] of the best's.
    pub fn close(&self, text: &str, langs: &[Lang], n: usize) -> Vec<Guess> {
        if self.articles.is_empty() || n == 0 {
            return Vec::new();
        }
        let ranked = self.model.rank(text, n + 1);
        if ranked.known_features == 0 {
            return Vec::new();
        }
        let Some((best, top)) = ranked.best() else {
            return Vec::new();
        };
        if best == self.elsewhere {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, &(topic, score)) in ranked.classes.iter().enumerate() {
            if score < top - CLOSE {
                break;
            }
            if topic == self.elsewhere {
                continue;
            }
            let next = ranked.classes.get(i + 1).map_or(score - 1.0, |c| c.1);
            out.push(Guess {
                article: self.in_language(topic, text, langs),
                confidence: self.calibration.confidence(score, score - next),
                score,
                margin: score - next,
            });
        }
        out
    }

    /// The index of the article with this id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.articles.iter().position(|k| k.id == id)
    }
}

/// What each language of the knowledge base looks like: how often each letter pair and
/// triple (and each word) appears in its articles, a naive Bayes model of the language.
/// The knowledge base's own texts are the language's sample, so the guess is among the
/// languages it has, in its business's words (`brain::tests::languages_are_told_apart`).
#[derive(Debug, Clone, Default)]
struct LangProfile {
    langs: Vec<(String, HashMap<u64, u32>, u64)>,
}

/// The grams of a folded text: letters one to three at a time inside each word (with its
/// edges), and the word itself.
fn lang_grams(text: &str, mut each: impl FnMut(u64)) {
    let folded = fold(text);
    let mut buf = [0u8; 4 * 3];
    for w in words(&folded) {
        let chars: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in 1..=3u8 {
            for win in chars.windows(usize::from(n)) {
                let mut len = 0;
                for c in win {
                    len += c.encode_utf8(&mut buf[len..]).len();
                }
                each(fnv(LANG_GRAM + n, &[&buf[..len]]));
            }
        }
        each(fnv(LANG_GRAM, &[w.as_bytes()]));
    }
}

/// The hash space of the language profile's grams (apart from the classifier's).
const LANG_GRAM: u8 = 16;

impl LangProfile {
    fn learn(&mut self, lang: &str, text: &str) {
        if Lang::parse(lang).is_none() {
            return;
        }
        let at = match self.langs.iter().position(|(l, ..)| l == lang) {
            Some(i) => i,
            None => {
                self.langs.push((lang.to_owned(), HashMap::new(), 0));
                self.langs.len() - 1
            }
        };
        let (_, counts, total) = &mut self.langs[at];
        lang_grams(text, |g| {
            *counts.entry(g).or_default() += 1;
            *total += 1;
        });
    }

    /// The likeliest language, when the knowledge base has several and the text leans
    /// clearly to one (by more than a factor of e³ over the next).
    fn guess(&self, text: &str) -> Option<&str> {
        self.ranked(text)
            .filter(|r| r.len() > 1 && r[0].0 - r[1].0 > 3.0)
            .map(|r| r[0].1)
    }

    /// The knowledge base's languages by how likely the text is in each, likeliest first
    /// (log-likelihoods); `None` when the text has no words.
    fn ranked(&self, text: &str) -> Option<Vec<(f64, &str)>> {
        if self.langs.is_empty() {
            return None;
        }
        let mut grams = Vec::new();
        lang_grams(text, |g| grams.push(g));
        if grams.is_empty() {
            return None;
        }
        let mut scores: Vec<(f64, &str)> = self
            .langs
            .iter()
            .map(|(l, counts, total)| {
                let denom = (*total as f64 + 50_000.0).ln();
                let s: f64 = grams
                    .iter()
                    .map(|g| (f64::from(counts.get(g).copied().unwrap_or(0)) + 0.5).ln() - denom)
                    .sum();
                (s, l.as_str())
            })
            .collect();
        scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        Some(scores)
    }
}

/// The best topic of a ranking, its score and its lead over the next class: when the
/// message looks more like small talk than like any article, the best topic's lead is
/// negative (and so is its confidence's share).
fn best_topic(ranked: &[(usize, f32)], elsewhere: usize) -> Option<(usize, f32, f32)> {
    let (i, &(topic, score)) = ranked
        .iter()
        .enumerate()
        .find(|(_, (c, _))| *c != elsewhere)?;
    let rival = if i > 0 {
        ranked.first().map(|r| r.1)
    } else {
        ranked.get(1).map(|r| r.1)
    };
    Some((topic, score, rival.map_or(score + 1.0, |r| score - r)))
}

/// Small talk, the news, the weather: what no article answers (`bots/data/elsewhere.txt`).
const ELSEWHERE: &str = include_str!("../data/elsewhere.txt");

/// How far below the best article's score another still counts as close (the scores are
/// one-against-the-rest margins: about -1 for "surely not" to 1 for "surely").
pub const CLOSE: f32 = 0.35;

/// (score, margin, right) of each question when its article was learned without it:
/// each question held out once; and of each message no article answers (`apart`, the
/// small talk), held out the same way, whose best article would be a wrong answer. Without
/// those the fit sees only questions that have an article, and learns that a clear lead is
/// enough whatever the score (a knowledge base of many questions per article taught it
/// that: "quanto é 15% de 230?" got the sign-in link's at 0.86).
fn cross_validate(
    fixed: &[Example],
    asked: &[Example],
    apart: &[Example],
    (classes, elsewhere): (usize, usize),
    options: TrainOptions,
    encoder: Option<&Arc<dyn Embed>>,
) -> Vec<(f32, f32, bool)> {
    let mut points = Vec::with_capacity(asked.len());
    // Five folds for small knowledge bases (each model close to the real one), three for
    // big ones (each training costs more).
    let folds = if asked.len() > 3000 { 3 } else { 5 };
    for fold in 0..folds {
        let mut train: Vec<Example> = fixed.to_vec();
        let mut held = Vec::new();
        for (i, e) in asked.iter().enumerate().chain(apart.iter().enumerate()) {
            if i % folds == fold {
                held.push(e);
            } else {
                train.push(e.clone());
            }
        }
        let model = Model::train_with(&train, classes, options, encoder);
        for e in held {
            let r = model.rank(&e.text, 3);
            // A small-talk line is never an article's: its best one is a wrong answer.
            if let Some((best, score, margin)) = best_topic(&r.classes, elsewhere) {
                points.push((score, margin, e.class != elsewhere && best == e.class));
            }
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_fits_what_it_sees() {
        // Right when the margin is large, wrong when small.
        let points: Vec<(f32, f32, bool)> = (0..400)
            .map(|i| {
                let m = i as f32 / 400.0;
                (0.5, m, (i * 7919 % 400) as f32 / 400.0 < m)
            })
            .collect();
        let c = Calibration::fit(&points);
        assert_eq!(c.source, "cross-validated");
        assert!(c.confidence(0.5, 0.9) > 0.8, "{c:?}");
        assert!(c.confidence(0.5, 0.1) < 0.2, "{c:?}");
        assert_eq!(Calibration::fit(&points[..10]).source, "default");
    }

    /// The knowledge base's own articles teach it its languages: messages without a
    /// marker word or an accent still get the right one, and a topic is answered in it.
    #[test]
    fn languages_are_told_apart() {
        let art = |id: &str, lang: &str, title: &str, body: &str, qs: &[&str]| Article {
            translation_group: id.split('-').next().unwrap_or(id).to_owned(),
            ..Article::published(id, lang, title, body, qs)
        };
        let kb = [
            art(
                "toner-en",
                "en",
                "Ordering toner",
                "Toner is included in your contract. Open the portal, choose the device and the colours you need; orders ship the same business day.",
                &[
                    "where do I order toner",
                    "is toner included in the contract",
                ],
            ),
            art(
                "toner-es",
                "es",
                "Pedir tóner",
                "El tóner está incluido en tu contrato. Abre el portal, elige el equipo y los colores que necesitas; los pedidos salen el mismo día hábil.",
                &["dónde pido tóner", "el tóner está incluido en el contrato"],
            ),
            art(
                "toner-pt",
                "pt",
                "Pedir toner",
                "O toner está incluído no seu contrato. Abra o portal, escolha o equipamento e as cores que precisa; os pedidos saem no mesmo dia útil.",
                &["onde peço toner", "o toner está incluído no contrato"],
            ),
            art(
                "jam-en",
                "en",
                "Clearing a paper jam",
                "Open the door shown on the display and pull the sheet slowly in the direction the paper travels.",
                &["paper stuck in the printer"],
            ),
            art(
                "jam-es",
                "es",
                "Atasco de papel",
                "Abre la puerta que indica la pantalla y tira de la hoja despacio en la dirección en que avanza el papel.",
                &["papel atascado en la impresora"],
            ),
            art(
                "jam-pt",
                "pt",
                "Papel atolado",
                "Abra a porta indicada no visor e puxe a folha devagar na direção em que o papel anda.",
                &["papel preso na impressora"],
            ),
        ];
        let brain = Brain::build(&kb, &[], BrainOptions::default());
        for (text, want) in [
            ("toner acabou, como peco mais", "pt"),
            ("se acabo el toner, donde lo pido", "es"),
            ("toner ran out, where to order", "en"),
            ("papel atolado na porta", "pt"),
            ("papel atascado otra vez", "es"),
        ] {
            assert_eq!(
                brain.language_of(text).map(Lang::code),
                Some(want),
                "{text}"
            );
            let g = brain.classify(text, &[]).unwrap();
            assert_eq!(brain.article(g.article).lang, want, "{text}");
        }
        // Nothing to go by: no guess.
        assert_eq!(brain.language_of("🙂"), None);
    }
}
