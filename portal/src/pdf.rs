//! The invoice as a PDF: A4, the business's mark and address, the client's, the dates, the
//! line table (descriptions wrap; the table continues on a new page with its header
//! repeated), the taxes per rate, the totals, what was paid and what is due, the status,
//! notes and terms, and "Page 1 of 3" at the foot. Text is set in DejaVu Sans, embedded
//! and subset, so São Paulo, señor and ação print as written.
//!
//! Layout is done first into pages of drawing operations, so the page count is known
//! before anything is drawn; then krilla draws them.

use krilla::Document as Pdf;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};

use crate::document::{Document, Party};
use crate::locale::{Lang, date, doc_words, money, percent, quantity};
use crate::totals::Totals;

const W: f32 = 595.0;
const H: f32 = 842.0;
const MARGIN: f32 = 48.0;
const BOTTOM: f32 = H - 64.0;

type Color = (u8, u8, u8);
const INK: Color = (23, 32, 43);
const MUTED: Color = (86, 96, 112);
const RULE: Color = (223, 227, 232);
const BAND: Color = (240, 242, 245);

/// What a PDF shows.
#[derive(Debug, Clone)]
pub struct PdfInvoice<'a> {
    pub lang: Lang,
    /// `invoice` or `estimate`.
    pub kind: &'a str,
    pub number: &'a str,
    /// The shown status (`paid`, `overdue`, …).
    pub status: &'a str,
    pub business: &'a Party,
    /// The brand colour, `#rrggbb`.
    pub accent: &'a str,
    /// Who it is billed to.
    pub bill_to: &'a Party,
    pub issue_day: i64,
    pub due_day: Option<i64>,
    pub currency: &'a str,
    pub exponent: u8,
    pub document: &'a Document,
    pub totals: &'a Totals,
    /// Payments less refunds.
    pub paid: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font cannot be read")]
    Font,
    #[error("the PDF cannot be written: {0}")]
    Write(String),
}

#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        color: Color,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Color,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        color: Color,
    },
}

struct Fonts {
    regular: Font,
    bold: Font,
    regular_face: ttf_parser::Face<'static>,
    bold_face: ttf_parser::Face<'static>,
}

impl Fonts {
    /// The embedded fonts, read and hashed once per process: a ZIP of a thousand invoices
    /// renders a thousand PDFs.
    fn get() -> Result<&'static Self, PdfError> {
        static FONTS: std::sync::OnceLock<Option<Fonts>> = std::sync::OnceLock::new();
        FONTS
            .get_or_init(|| Self::load().ok())
            .as_ref()
            .ok_or(PdfError::Font)
    }

    fn load() -> Result<Self, PdfError> {
        let r = dejavu::sans::regular();
        let b = dejavu::sans::bold();
        Ok(Self {
            regular: Font::new(r.into(), 0).ok_or(PdfError::Font)?,
            bold: Font::new(b.into(), 0).ok_or(PdfError::Font)?,
            regular_face: ttf_parser::Face::parse(r, 0).map_err(|_| PdfError::Font)?,
            bold_face: ttf_parser::Face::parse(b, 0).map_err(|_| PdfError::Font)?,
        })
    }

    /// The width of `text` at `size` points (advances, no kerning).
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        let face = if bold {
            &self.bold_face
        } else {
            &self.regular_face
        };
        let units = f32::from(face.units_per_em());
        let sum: u32 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(u32::from(face.units_per_em()) / 2, u32::from)
            })
            .sum();
        sum as f32 * size / units
    }

    /// `text` broken into lines no wider than `max`.
    fn wrap(&self, text: &str, size: f32, bold: bool, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size, bold) <= max || line.is_empty() {
                    // A single word wider than the column is cut by characters.
                    if line.is_empty() && self.width(word, size, bold) > max {
                        let mut piece = String::new();
                        for c in word.chars() {
                            piece.push(c);
                            if self.width(&piece, size, bold) > max {
                                piece.pop();
                                lines.push(std::mem::take(&mut piece));
                                piece.push(c);
                            }
                        }
                        line = piece;
                    } else {
                        line = candidate;
                    }
                } else {
                    lines.push(std::mem::replace(&mut line, word.to_owned()));
                }
            }
            lines.push(line);
        }
        while lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines
    }
}

fn hex_color(s: &str) -> Color {
    let h = s.trim_start_matches('#');
    let p = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0);
    if h.len() == 6 {
        (p(0), p(2), p(4))
    } else {
        (36, 86, 199)
    }
}

fn status_color(status: &str) -> Color {
    match status {
        "paid" | "accepted" => (20, 102, 53),
        "overdue" | "declined" => (180, 35, 24),
        "partially_paid" => (127, 82, 0),
        "void" | "expired" | "draft" => (86, 96, 112),
        _ => (26, 86, 196),
    }
}

struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout<'_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, color: Color, text: &str) {
        self.ops().push(Op::Text {
            x,
            y,
            size,
            bold,
            color,
            text: text.to_owned(),
        });
    }

    fn right(&mut self, right: f32, y: f32, size: f32, bold: bool, color: Color, text: &str) {
        let w = self.fonts.width(text, size, bold);
        self.text(right - w, y, size, bold, color, text);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        self.ops().push(Op::Rect { x, y, w, h, color });
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32, color: Color) {
        self.ops().push(Op::Rule { x1, x2, y, color });
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN + 10.0;
    }

    /// Starts a new page unless `needed` points still fit.
    fn room(&mut self, needed: f32) -> bool {
        if self.y + needed > BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }
}

// Columns of the line table: description, quantity, unit price, tax, amount.
const COL_DESC: f32 = MARGIN;
const COL_QTY_R: f32 = 330.0;
const COL_UNIT_R: f32 = 420.0;
const COL_TAX_R: f32 = 475.0;
const COL_AMOUNT_R: f32 = W - MARGIN;
const DESC_W: f32 = 250.0;

fn table_header(l: &mut Layout<'_>, lang: Lang) {
    let w = doc_words(lang);
    l.rect(MARGIN, l.y, W - 2.0 * MARGIN, 24.0, BAND);
    let y = l.y + 16.0;
    l.text(COL_DESC + 8.0, y, 9.0, true, MUTED, w.description);
    l.right(COL_QTY_R, y, 9.0, true, MUTED, w.quantity);
    l.right(COL_UNIT_R, y, 9.0, true, MUTED, w.unit_price);
    l.right(COL_TAX_R, y, 9.0, true, MUTED, w.tax);
    l.right(COL_AMOUNT_R - 8.0, y, 9.0, true, MUTED, w.amount);
    l.y += 30.0;
}

fn party(l: &mut Layout<'_>, x: f32, y: f32, heading: &str, p: &Party, lang: Lang) -> f32 {
    let mut y = y;
    l.text(x, y, 8.5, true, MUTED, &heading.to_uppercase());
    y += 15.0;
    if !p.name.is_empty() {
        for line in l.fonts.wrap(&p.name, 11.0, true, 230.0) {
            l.text(x, y, 11.0, true, INK, &line);
            y += 14.0;
        }
    }
    for a in &p.address {
        for line in l.fonts.wrap(a, 9.5, false, 230.0) {
            l.text(x, y, 9.5, false, MUTED, &line);
            y += 13.0;
        }
    }
    if !p.tax_id.is_empty() {
        let t = format!("{} {}", doc_words(lang).tax_id, p.tax_id);
        l.text(x, y, 9.5, false, MUTED, &t);
        y += 13.0;
    }
    y
}

/// The top of the first page: the brand's band, the business's mark (its initial on the
/// accent) and its name. Returns where the name ends.
fn mark(l: &mut Layout<'_>, business: &Party, accent: Color) -> f32 {
    l.rect(0.0, 0.0, W, 6.0, accent);
    l.rect(MARGIN, MARGIN, 28.0, 28.0, accent);
    let initial: String = business
        .name
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or('·', |c| c.to_uppercase().next().unwrap_or(c))
        .to_string();
    let iw = l.fonts.width(&initial, 15.0, true);
    l.text(
        MARGIN + 14.0 - iw / 2.0,
        MARGIN + 19.5,
        15.0,
        true,
        (255, 255, 255),
        &initial,
    );
    let mut y = MARGIN + 20.0;
    for line in l.fonts.wrap(&business.name, 15.0, true, 230.0) {
        l.text(MARGIN + 38.0, y, 15.0, true, INK, &line);
        y += 18.0;
    }
    y
}

/// Every page's foot: who and what on the left, "Page 1 of 3" on the right.
fn feet(l: &mut Layout<'_>, who: &str, lang: Lang) {
    let w = doc_words(lang);
    let n = l.pages.len();
    let fonts = l.fonts;
    for (i, page) in l.pages.iter_mut().enumerate() {
        page.push(Op::Rule {
            x1: MARGIN,
            x2: W - MARGIN,
            y: H - 44.0,
            color: RULE,
        });
        page.push(Op::Text {
            x: MARGIN,
            y: H - 30.0,
            size: 8.5,
            bold: false,
            color: MUTED,
            text: who.to_owned(),
        });
        let foot = format!("{} {} {} {n}", w.page, i + 1, w.of);
        let fw = fonts.width(&foot, 8.5, false);
        page.push(Op::Text {
            x: W - MARGIN - fw,
            y: H - 30.0,
            size: 8.5,
            bold: false,
            color: MUTED,
            text: foot,
        });
    }
}

fn layout(fonts: &Fonts, d: &PdfInvoice<'_>) -> Vec<Vec<Op>> {
    let w = doc_words(d.lang);
    let m = |minor: i64| money(minor, d.currency, d.exponent, d.lang);
    let accent = hex_color(d.accent);
    let mut l = Layout {
        fonts,
        pages: vec![Vec::new()],
        y: MARGIN,
    };

    // Header: the business's mark and name; the document's title, number and status.
    let y = mark(&mut l, d.business, accent);
    let mut left_y = y + 4.0;
    for a in &d.business.address {
        l.text(MARGIN, left_y, 9.0, false, MUTED, a);
        left_y += 12.0;
    }
    if !d.business.tax_id.is_empty() {
        let t = format!("{} {}", w.tax_id, d.business.tax_id);
        l.text(MARGIN, left_y, 9.0, false, MUTED, &t);
        left_y += 12.0;
    }
    let title = if d.kind == "estimate" {
        w.estimate
    } else {
        w.invoice
    };
    l.right(W - MARGIN, MARGIN + 20.0, 22.0, true, INK, title);
    l.right(W - MARGIN, MARGIN + 40.0, 11.0, false, MUTED, d.number);
    let label = w.status(d.status).to_uppercase();
    let sc = status_color(d.status);
    let lw = fonts.width(&label, 9.0, true) + 16.0;
    l.rect(W - MARGIN - lw, MARGIN + 50.0, lw, 18.0, sc);
    l.text(
        W - MARGIN - lw + 8.0,
        MARGIN + 62.5,
        9.0,
        true,
        (255, 255, 255),
        &label,
    );

    // Parties and dates.
    let top = left_y.max(MARGIN + 84.0) + 18.0;
    let after_bill = party(&mut l, MARGIN, top, w.bill_to, d.bill_to, d.lang);
    let mut dy = top;
    let due_label = if d.kind == "estimate" {
        w.valid_until
    } else {
        w.due
    };
    let mut dates = vec![(w.issued, date(d.issue_day, d.lang))];
    if let Some(due) = d.due_day {
        dates.push((due_label, date(due, d.lang)));
    }
    for (k, v) in dates {
        l.text(340.0, dy + 10.0, 9.0, false, MUTED, k);
        l.right(W - MARGIN, dy + 10.0, 10.0, true, INK, &v);
        dy += 18.0;
    }
    let balance = d.totals.total - d.paid;
    if d.kind != "estimate" {
        l.rect(340.0, dy + 2.0, W - MARGIN - 340.0, 30.0, BAND);
        l.text(350.0, dy + 22.0, 10.0, true, INK, w.balance);
        l.right(
            W - MARGIN - 10.0,
            dy + 22.0,
            12.0,
            true,
            INK,
            &m(balance.max(0)),
        );
        dy += 36.0;
    }
    l.y = after_bill.max(dy) + 22.0;

    // Lines.
    table_header(&mut l, d.lang);
    for (line, t) in d.document.lines.iter().zip(&d.totals.lines) {
        let desc = fonts.wrap(&line.description, 10.0, false, DESC_W);
        let height = desc.len() as f32 * 13.0 + 10.0;
        if l.room(height) {
            table_header(&mut l, d.lang);
        }
        let base = l.y + 10.0;
        for (i, dl) in desc.iter().enumerate() {
            l.text(COL_DESC + 8.0, base + i as f32 * 13.0, 10.0, false, INK, dl);
        }
        l.right(
            COL_QTY_R,
            base,
            10.0,
            false,
            INK,
            &quantity(line.quantity_milli, d.lang),
        );
        l.right(COL_UNIT_R, base, 10.0, false, INK, &m(line.unit_price));
        let tax = if line.tax_rate_bp == 0 {
            "—".to_owned()
        } else {
            percent(line.tax_rate_bp, d.lang)
        };
        l.right(COL_TAX_R, base, 10.0, false, MUTED, &tax);
        l.right(COL_AMOUNT_R - 8.0, base, 10.0, false, INK, &m(t.net));
        l.y += height;
        l.rule(MARGIN, W - MARGIN, l.y - 2.0, RULE);
    }

    // Totals.
    let mut rows: Vec<(String, String, bool)> =
        vec![(w.subtotal.to_owned(), m(d.totals.subtotal), false)];
    if d.totals.discount > 0 {
        rows.insert(
            0,
            (
                w.discount.to_owned(),
                format!("−{}", m(d.totals.discount)),
                false,
            ),
        );
    }
    for t in &d.totals.taxes {
        if t.rate_bp > 0 {
            rows.push((
                format!("{} {}", w.tax, percent(t.rate_bp, d.lang)),
                m(t.tax),
                false,
            ));
        }
    }
    rows.push((w.total.to_owned(), m(d.totals.total), true));
    if d.kind != "estimate" {
        if d.paid != 0 {
            rows.push((w.paid.to_owned(), format!("−{}", m(d.paid)), false));
        }
        rows.push((w.balance.to_owned(), m(balance.max(0)), true));
    }
    l.room(rows.len() as f32 * 20.0 + 16.0);
    l.y += 10.0;
    for (k, v, strong) in rows {
        let size = if strong { 11.5 } else { 10.0 };
        let color = if strong { INK } else { MUTED };
        if strong {
            l.rule(340.0, W - MARGIN, l.y - 2.0, RULE);
            l.y += 4.0;
        }
        l.text(340.0, l.y + 10.0, size, strong, color, &k);
        l.right(COL_AMOUNT_R - 8.0, l.y + 10.0, size, strong, INK, &v);
        l.y += 20.0;
    }

    // Notes and terms.
    for (heading, body) in [(w.notes, &d.document.notes), (w.terms, &d.document.terms)] {
        if body.trim().is_empty() {
            continue;
        }
        let lines = fonts.wrap(body.trim(), 9.5, false, W - 2.0 * MARGIN);
        l.room(30.0);
        l.y += 14.0;
        l.text(MARGIN, l.y, 8.5, true, MUTED, &heading.to_uppercase());
        l.y += 14.0;
        for line in lines {
            l.room(13.0);
            l.text(MARGIN, l.y, 9.5, false, INK, &line);
            l.y += 13.0;
        }
    }

    // Feet: who, and where in the document.
    let who = format!("{} · {title} {}", d.business.name, d.number);
    feet(&mut l, &who, d.lang);
    l.pages
}

fn fill(c: Color) -> Fill {
    Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

/// The PDF's bytes.
pub fn render(d: &PdfInvoice<'_>) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::get()?;
    let pages = layout(fonts, d);
    let w = doc_words(d.lang);
    let title = if d.kind == "estimate" {
        w.estimate
    } else {
        w.invoice
    };
    draw(
        fonts,
        pages,
        Metadata::new()
            .title(format!("{title} {}", d.number))
            .creator(d.business.name.clone())
            .language(d.lang.tag().to_owned()),
    )
}

/// Draws laid-out pages into a PDF.
fn draw(fonts: &Fonts, pages: Vec<Vec<Op>>, metadata: Metadata) -> Result<Vec<u8>, PdfError> {
    let mut pdf = Pdf::new();
    pdf.set_metadata(metadata);
    for ops in pages {
        let settings =
            PageSettings::from_wh(W, H).ok_or_else(|| PdfError::Write("page size".into()))?;
        let mut page = pdf.start_page_with(settings);
        let mut s = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    color,
                    text,
                } => {
                    s.set_fill(Some(fill(color)));
                    let font = if bold {
                        fonts.bold.clone()
                    } else {
                        fonts.regular.clone()
                    };
                    s.draw_text(
                        Point::from_xy(x, y),
                        font,
                        size,
                        &text,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rect { x, y, w, h, color } => {
                    if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                        let mut pb = PathBuilder::new();
                        pb.push_rect(rect);
                        if let Some(path) = pb.finish() {
                            s.set_stroke(None);
                            s.set_fill(Some(fill(color)));
                            s.draw_path(&path);
                        }
                    }
                }
                Op::Rule { x1, x2, y, color } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(x1, y);
                    pb.line_to(x2, y);
                    if let Some(path) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(color.0, color.1, color.2).into(),
                            width: 0.75,
                            ..Default::default()
                        }));
                        s.draw_path(&path);
                        s.set_stroke(None);
                    }
                }
            }
        }
        s.finish();
        page.finish();
    }
    pdf.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

/// A visit report as its PDF shows it: every value already in the reader's words (dates
/// and times in the business's time zone), the labels from `visits::visit_words`.
#[derive(Debug, Clone)]
pub struct PdfVisit<'a> {
    pub lang: Lang,
    pub number: i64,
    pub business: &'a Party,
    /// The brand colour, `#rrggbb`.
    pub accent: &'a str,
    pub client: &'a Party,
    /// `(label, value)` of the machine: model, serial, asset tag, location.
    pub machine: &'a [(String, String)],
    pub technician: &'a str,
    pub window: &'a str,
    pub arrived: &'a str,
    pub finished: &'a str,
    /// The request it answered (`#1042 · Toner`), if any.
    pub request: &'a str,
    pub report: &'a crate::visits::Report,
    /// The machine's status after the visit, in words.
    pub machine_after: &'a str,
}

/// Pairs of `(label, value)` in two columns from `y`; returns where they end.
fn pairs(l: &mut Layout<'_>, x: f32, y: f32, width: f32, rows: &[(String, String)]) -> f32 {
    let mut y = y;
    for (k, v) in rows.iter().filter(|(_, v)| !v.trim().is_empty()) {
        l.text(x, y, 9.0, false, MUTED, k);
        for line in l.fonts.wrap(v, 10.0, true, width - 110.0) {
            l.text(x + 110.0, y, 10.0, true, INK, &line);
            y += 13.0;
        }
        y += 3.0;
    }
    y
}

fn visit_layout(fonts: &Fonts, d: &PdfVisit<'_>) -> Vec<Vec<Op>> {
    let w = crate::visits::visit_words(d.lang);
    let accent = hex_color(d.accent);
    let mut l = Layout {
        fonts,
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    // Header: the business's mark and name; the report's title and number.
    let mut y = mark(&mut l, d.business, accent);
    for a in &d.business.address {
        l.text(MARGIN, y + 4.0, 9.0, false, MUTED, a);
        y += 12.0;
    }
    l.right(W - MARGIN, MARGIN + 20.0, 20.0, true, INK, w.report);
    l.right(
        W - MARGIN,
        MARGIN + 40.0,
        11.0,
        false,
        MUTED,
        &format!("{} {}", w.visit, d.number),
    );

    // Client and machine side by side; then the visit.
    let top = y.max(MARGIN + 60.0) + 24.0;
    let after_client = party(&mut l, MARGIN, top, w.client, d.client, d.lang);
    l.text(310.0, top, 8.5, true, MUTED, &w.machine.to_uppercase());
    let after_machine = pairs(&mut l, 310.0, top + 15.0, W - MARGIN - 310.0, d.machine);
    l.y = after_client.max(after_machine) + 18.0;
    l.rule(MARGIN, W - MARGIN, l.y - 8.0, RULE);
    let visit_rows = [
        (w.technician.to_owned(), d.technician.to_owned()),
        (w.window.to_owned(), d.window.to_owned()),
        (w.arrived.to_owned(), d.arrived.to_owned()),
        (w.finished.to_owned(), d.finished.to_owned()),
        (w.request.to_owned(), d.request.to_owned()),
        (w.machine_after.to_owned(), d.machine_after.to_owned()),
    ];
    let at = l.y + 6.0;
    l.y = pairs(&mut l, MARGIN, at, W - 2.0 * MARGIN, &visit_rows) + 10.0;

    // The work, in the technician's words.
    l.room(40.0);
    l.text(MARGIN, l.y, 8.5, true, MUTED, &w.work_done.to_uppercase());
    l.y += 15.0;
    for line in fonts.wrap(&d.report.work_done, 10.0, false, W - 2.0 * MARGIN) {
        l.room(14.0);
        l.text(MARGIN, l.y, 10.0, false, INK, &line);
        l.y += 14.0;
    }
    l.y += 12.0;

    // Parts.
    l.room(60.0);
    l.text(MARGIN, l.y, 8.5, true, MUTED, &w.parts.to_uppercase());
    l.y += 8.0;
    if d.report.parts.is_empty() {
        l.y += 8.0;
        l.text(MARGIN, l.y, 10.0, false, MUTED, w.no_parts);
        l.y += 16.0;
    } else {
        let header = |l: &mut Layout<'_>| {
            l.rect(MARGIN, l.y, W - 2.0 * MARGIN, 22.0, BAND);
            l.text(MARGIN + 8.0, l.y + 15.0, 9.0, true, MUTED, w.part);
            l.right(W - MARGIN - 8.0, l.y + 15.0, 9.0, true, MUTED, w.quantity);
            l.y += 26.0;
        };
        header(&mut l);
        for p in &d.report.parts {
            let lines = fonts.wrap(&p.name, 10.0, false, 400.0);
            let height = lines.len() as f32 * 13.0 + 8.0;
            if l.room(height) {
                header(&mut l);
            }
            let base = l.y + 10.0;
            for (i, line) in lines.iter().enumerate() {
                l.text(MARGIN + 8.0, base + i as f32 * 13.0, 10.0, false, INK, line);
            }
            l.right(
                W - MARGIN - 8.0,
                base,
                10.0,
                false,
                INK,
                &p.quantity.to_string(),
            );
            l.y += height;
            l.rule(MARGIN, W - MARGIN, l.y - 2.0, RULE);
        }
    }

    // The client's signature.
    l.room(70.0);
    l.y += 24.0;
    l.text(MARGIN, l.y, 8.5, true, MUTED, &w.signed_by.to_uppercase());
    l.y += 30.0;
    l.rule(MARGIN, MARGIN + 260.0, l.y, INK);
    l.y += 14.0;
    l.text(MARGIN, l.y, 11.0, true, INK, &d.report.signed_by);

    let who = format!("{} · {} {}", d.business.name, w.visit, d.number);
    feet(&mut l, &who, d.lang);
    l.pages
}

/// A visit report's PDF.
pub fn render_visit(d: &PdfVisit<'_>) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::get()?;
    let pages = visit_layout(fonts, d);
    let w = crate::visits::visit_words(d.lang);
    draw(
        fonts,
        pages,
        Metadata::new()
            .title(format!("{} {}", w.report, d.number))
            .creator(d.business.name.clone())
            .language(d.lang.tag().to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::DocLine;
    use crate::totals::{Discount, Rounding};

    fn sample(lines: usize, lang: Lang) -> (Document, Party, Party) {
        let document = Document {
            lines: (0..lines)
                .map(|i| DocLine {
                    description: if i == 0 {
                        "Manutenção preventiva da impressora — São Paulo, ação nº 7; señor Muñoz".to_owned()
                    } else {
                        format!("Line {i}: toner cartridge, black, high yield, for the second floor printer")
                    },
                    quantity_milli: 1_500,
                    unit_price: 12_345,
                    discount: if i == 1 { Discount::Percent(1_000) } else { Discount::None },
                    tax_rate_bp: 2_300,
                    tax_inclusive: false,
                })
                .collect(),
            rounding: Rounding::PerLine,
            notes: "Obrigado pela preferência.".into(),
            terms: "Payment within 30 days.".into(),
            bill_to: Party::default(),
        };
        let _ = lang;
        let business = Party {
            name: "Acme Serviços".into(),
            address: vec!["Rua Augusta 100".into(), "São Paulo".into()],
            tax_id: "12.345.678/0001-90".into(),
        };
        let client = Party {
            name: "Globex Ltda".into(),
            address: vec!["Av. Paulista 1000".into()],
            tax_id: String::new(),
        };
        (document, business, client)
    }

    fn pdf(lines: usize, lang: Lang) -> Vec<u8> {
        let (document, business, client) = sample(lines, lang);
        let totals = document.totals().unwrap();
        render(&PdfInvoice {
            lang,
            kind: "invoice",
            number: "INV-2026-00042",
            status: "partially_paid",
            business: &business,
            accent: "#2456c7",
            bill_to: &client,
            issue_day: 20_780,
            due_day: Some(20_810),
            currency: "BRL",
            exponent: 2,
            document: &document,
            totals: &totals,
            paid: 10_000,
        })
        .unwrap()
    }

    fn poppler(tool: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool} (poppler-utils, installed by scripts/test): {e}"))
    }

    /// `pdftotext`, a reader we did not write, finds every word, accents included, and
    /// the amounts as Brazilians write them.
    #[test]
    fn pdftotext_reads_accents_totals_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.pdf");
        std::fs::write(&path, pdf(3, Lang::PtBr)).unwrap();
        let out = poppler("pdftotext", &["-layout", path.to_str().unwrap(), "-"]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "Fatura",
            "INV-2026-00042",
            "Manutenção preventiva",
            "Paulo, ação nº 7",
            "señor Muñoz",
            "PAGA EM PARTE",
            "Acme Serviços",
            "Globex Ltda",
            "23 nov 2026",
            "Página 1 de 1",
            "Obrigado pela preferência.",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        // 3 lines of 1.5 × 123.45 = 185.175 → 185.18 each, one with 10 % off (166.66 after
        // rounding 18.5175 → 18.52); tax 23 % per line.
        let totals = sample(3, Lang::PtBr).0.totals().unwrap();
        let total = money(totals.total, "BRL", 2, Lang::PtBr).replace('\u{a0}', " ");
        assert!(
            text.replace('\u{a0}', " ").contains(&total),
            "{total} missing:\n{text}"
        );
    }

    /// A long invoice breaks onto more pages, each numbered, and pdftoppm renders every
    /// page to an image.
    #[test]
    fn long_invoices_break_across_numbered_pages_that_render() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.pdf");
        std::fs::write(&path, pdf(80, Lang::En)).unwrap();
        let info = poppler("pdfinfo", &[path.to_str().unwrap()]);
        let info = String::from_utf8_lossy(&info.stdout);
        let pages: usize = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        assert!(pages >= 3, "{info}");
        let text = poppler("pdftotext", &[path.to_str().unwrap(), "-"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains(&format!("Page {pages} of {pages}")), "{text}");
        // The table header is repeated on every page.
        assert_eq!(text.matches("Unit price").count(), pages, "{text}");
        assert!(text.contains("Line 79:"));
        let prefix = dir.path().join("page");
        let out = poppler(
            "pdftoppm",
            &[
                "-png",
                "-r",
                "40",
                path.to_str().unwrap(),
                prefix.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "png")
            })
            .count();
        assert_eq!(rendered, pages);
        // Kept for people to look at, beside the pages' screenshots.
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let short = dir.path().join("short.pdf");
        std::fs::write(&short, pdf(3, Lang::PtBr)).unwrap();
        let out = poppler(
            "pdftoppm",
            &[
                "-png",
                "-r",
                "80",
                "-singlefile",
                short.to_str().unwrap(),
                shots.join("invoice-pdf").to_str().unwrap(),
            ],
        );
        assert!(out.status.success());
    }

    /// A visit report: `pdftotext` finds the visit, the machine, the work, every part and
    /// the signature, accents included; a long report goes on to a numbered page.
    #[test]
    fn visit_reports_read_back_with_their_parts_and_signature() {
        let (_, business, client) = sample(0, Lang::PtBr);
        let report = crate::visits::report(
            "Troca do fusor, limpeza do caminho do papel e ajuste da bandeja 2. Máquina testada com 50 cópias.",
            "1 fusor\n2x rolo de alimentação\ntoner preto",
            "Joana Conceição",
            "in_service",
        )
        .unwrap();
        let machine = vec![
            ("Modelo".to_owned(), "Ricoh IM C3000".to_owned()),
            ("Nº de série".to_owned(), "E174M123456".to_owned()),
            ("Local".to_owned(), "Galpão 1 · expedição".to_owned()),
        ];
        let render = |report: &crate::visits::Report| {
            render_visit(&PdfVisit {
                lang: Lang::PtBr,
                number: 42,
                business: &business,
                accent: "#2456c7",
                client: &client,
                machine: &machine,
                technician: "Marcos Técnico",
                window: "2 dez 2026, 09:00–12:00",
                arrived: "2 dez 2026, 09:40",
                finished: "2 dez 2026, 11:05",
                request: "#1042 · Defeito",
                report,
                machine_after: "Em operação",
            })
            .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("visit.pdf");
        std::fs::write(&path, render(&report)).unwrap();
        let out = poppler("pdftotext", &["-layout", path.to_str().unwrap(), "-"]);
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "Relatório de visita",
            "Visita 42",
            "Globex Ltda",
            "E174M123456",
            "Galpão 1 · expedição",
            "Marcos Técnico",
            "09:00–12:00",
            "Troca do fusor",
            "rolo de alimentação",
            "Joana Conceição",
            "Em operação",
            "Página 1 de 1",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        let long = crate::visits::Report {
            parts: (0..45)
                .map(|i| crate::visits::Part {
                    name: format!("Peça de reposição número {i}"),
                    quantity: 1,
                })
                .collect(),
            ..report.clone()
        };
        std::fs::write(&path, render(&long)).unwrap();
        let text = poppler("pdftotext", &[path.to_str().unwrap(), "-"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("Página 2 de 2"), "{text}");
        assert!(text.contains("número 44") && text.contains("Joana Conceição"));
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let short = dir.path().join("short.pdf");
        std::fs::write(&short, render(&report)).unwrap();
        let out = poppler(
            "pdftoppm",
            &[
                "-png",
                "-r",
                "80",
                "-singlefile",
                short.to_str().unwrap(),
                shots.join("visit-report-pdf").to_str().unwrap(),
            ],
        );
        assert!(out.status.success());
    }

    #[test]
    fn long_words_are_cut_to_fit_their_column() {
        let fonts = Fonts::load().unwrap();
        let word = "x".repeat(400);
        let lines = fonts.wrap(&word, 10.0, false, 100.0);
        assert!(lines.len() > 3);
        assert!(lines.iter().all(|l| fonts.width(l, 10.0, false) <= 100.0));
        assert_eq!(lines.concat(), word);
    }
}
