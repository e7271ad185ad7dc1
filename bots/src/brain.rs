//! What the bot knows: a classifier trained on the published articles, with a calibrated
//! confidence. Internal and draft articles never enter it, so no client-facing answer can
//! come from them.
//!
//! The confidence is a logistic fit of the best score and its lead, calibrated by
//! cross-validation on the knowledge base's own questions
//! (`brain::tests::calibration_fits_what_it_sees`; the resulting tables are in
//! docs/BENCHMARKS.md). A question in Portuguese answered best by an English article gets
//! that article's Portuguese translation.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_kb::{Article, ArticleStatus, Lang, markdown};

use crate::model::{Embed, Example, Model, TrainOptions};

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
    /// articles, about five questions each: the size of a young knowledge base), used when
    /// a knowledge base has too few questions to fit its own (`kb-bench faq` prints it).
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
    model: Model,
    articles: Vec<Known>,
    by_group: HashMap<String, Vec<usize>>,
    calibration: Calibration,
    examples: usize,
}

/// Questions an article is asked by: its own, the learned ones, and its title.
fn examples_of(a: &Article, learned: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut fixed = vec![a.title.clone()];
    // The body's opening says what the article is about when it has few questions.
    let summary = markdown::summary(&a.body, 240);
    if a.questions.len() + learned.len() < 3 && !summary.is_empty() {
        fixed.push(summary);
    }
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
        let mut fixed = Vec::new();
        let mut asked = Vec::new();
        for (class, a) in published.iter().enumerate() {
            let (f, q) = examples_of(a, learned_by.get(a.id.as_str()).map_or(&[], |v| v));
            fixed.extend(f.into_iter().map(|text| Example { text, class }));
            asked.extend(q.into_iter().map(|text| Example { text, class }));
        }
        let classes = published.len();
        let calibration = if options.calibrate && asked.len() >= 200 && classes >= 5 {
            Calibration::fit(&cross_validate(
                &fixed,
                &asked,
                classes,
                options.train,
                options.encoder.as_ref(),
            ))
        } else {
            Calibration::DEFAULT
        };
        let mut all = fixed;
        all.extend(asked);
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
        let mut by_group: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, k) in known.iter().enumerate() {
            by_group
                .entry(k.translation_group.clone())
                .or_default()
                .push(i);
        }
        Brain {
            model,
            articles: known,
            by_group,
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

    /// The article that answers a message best, with its calibrated confidence. In the
    /// client's language when the best article has a translation in it. `None` when the
    /// message has nothing the bot can read.
    pub fn classify(&self, text: &str, lang: Option<Lang>) -> Option<Guess> {
        if self.articles.is_empty() {
            return None;
        }
        let ranked = self.model.rank(text, 5);
        if ranked.known_features == 0 {
            return None;
        }
        let (best, score) = ranked.best()?;
        let margin = ranked.margin();
        let mut article = best;
        if let Some(l) = lang
            && self.articles[best].lang != l.code()
            && let Some(same) = self.by_group.get(&self.articles[best].translation_group)
            && let Some(t) = same.iter().find(|i| self.articles[**i].lang == l.code())
        {
            article = *t;
        }
        Some(Guess {
            article,
            confidence: self.calibration.confidence(score, margin),
            score,
            margin,
        })
    }

    /// The articles close to the best one for a message, best first, at most `n`, one per
    /// topic (translation group) and each in the client's language when it has a
    /// translation in it: what a client may choose from when the bot is not sure which one
    /// they mean. "Close" is a score within [`CLOSE`] of the best's.
    pub fn close(&self, text: &str, lang: Option<Lang>, n: usize) -> Vec<Guess> {
        if self.articles.is_empty() || n == 0 {
            return Vec::new();
        }
        let ranked = self.model.rank(text, n * 3);
        if ranked.known_features == 0 {
            return Vec::new();
        }
        let Some((_, top)) = ranked.best() else {
            return Vec::new();
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for (i, &(class, score)) in ranked.classes.iter().enumerate() {
            if score < top - CLOSE || out.len() == n {
                break;
            }
            let group = self.articles[class].translation_group.as_str();
            if seen.contains(&group) {
                continue;
            }
            seen.push(group);
            let next = ranked.classes.get(i + 1).map_or(score - 1.0, |c| c.1);
            let mut article = class;
            if let Some(l) = lang
                && self.articles[class].lang != l.code()
                && let Some(same) = self.by_group.get(group)
                && let Some(t) = same.iter().find(|i| self.articles[**i].lang == l.code())
            {
                article = *t;
            }
            out.push(Guess {
                article,
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

/// How far below the best article's score another still counts as close (the scores are
/// one-against-the-rest margins: about -1 for "surely not" to 1 for "surely").
pub const CLOSE: f32 = 0.35;

/// (score, margin, right) of each question when its article was learned without it:
/// each question held out once.
fn cross_validate(
    fixed: &[Example],
    asked: &[Example],
    classes: usize,
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
        for (i, e) in asked.iter().enumerate() {
            if i % folds == fold {
                held.push(e);
            } else {
                train.push(e.clone());
            }
        }
        let model = Model::train_with(&train, classes, options, encoder);
        for e in held {
            let r = model.rank(&e.text, 2);
            if let Some((best, score)) = r.best() {
                points.push((score, r.margin(), best == e.class));
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
}
