//! An invoice or estimate as the business wrote it: described lines, rounding, notes and
//! terms, and the parties' addresses. Stored as JSON beside the computed totals; the
//! totals are always computed from it here, so a pushed document cannot carry totals of
//! its own that disagree with its lines.
//!
//! The bill-to is part of it. Beside it in this crate: money, dates and document words in
//! en/es/pt-BR (`locale.rs`, from minor units with the currency's exponent), the invoice
//! PDF (`pdf.rs`: A4 laid out into pages first, so "Page 1 of 3" is known before drawing,
//! then drawn by krilla in embedded DejaVu Sans; the table header repeats on every page;
//! tests read the PDFs with poppler's `pdftotext`, `pdfinfo` and `pdftoppm`:
//! `pdf::tests::*`), and a streaming stored ZIP (`zip.rs`, checked by Debian's `unzip`).

use serde::{Deserialize, Serialize};

use crate::totals::{Discount, Line, Rounding, Totals, TotalsError, totals};

/// The longest description, notes or terms kept (characters).
pub const MAX_TEXT: usize = 4_000;
/// The most lines one document may have.
pub const MAX_LINES: usize = 500;

/// One described line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocLine {
    pub description: String,
    /// Thousandths of a unit.
    pub quantity_milli: i64,
    /// Minor units per unit.
    pub unit_price: i64,
    #[serde(default = "no_discount")]
    pub discount: Discount,
    /// Basis points (2,300 = 23 %).
    #[serde(default)]
    pub tax_rate_bp: u32,
    #[serde(default)]
    pub tax_inclusive: bool,
}

fn no_discount() -> Discount {
    Discount::None
}

fn per_line() -> Rounding {
    Rounding::PerLine
}

impl DocLine {
    pub fn line(&self) -> Line {
        Line {
            quantity_milli: self.quantity_milli,
            unit_price: self.unit_price,
            discount: self.discount,
            tax_rate_bp: self.tax_rate_bp,
            tax_inclusive: self.tax_inclusive,
        }
    }
}

/// A party's name and address, as printed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    #[serde(default)]
    pub name: String,
    /// Address lines, in order.
    #[serde(default)]
    pub address: Vec<String>,
    #[serde(default)]
    pub tax_id: String,
}

/// The document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default)]
    pub lines: Vec<DocLine>,
    #[serde(default = "per_line")]
    pub rounding: Rounding,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub terms: String,
    /// Who it is billed to (the company, if not given).
    #[serde(default)]
    pub bill_to: Party,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is not valid JSON: {0}")]
    Json(String),
    #[error("a document needs at least one line")]
    NoLines,
    #[error("a document has at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("line {0} needs a description")]
    NoDescription(usize),
    #[error("a text is longer than {MAX_TEXT} characters")]
    TooLong,
    #[error(transparent)]
    Totals(#[from] TotalsError),
    #[error("the total is zero: there is nothing to invoice")]
    Zero,
}

impl Document {
    /// Reads a stored or pushed document.
    pub fn parse(json: &str) -> Result<Self, DocumentError> {
        serde_json::from_str(json).map_err(|e| DocumentError::Json(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Checks what a person or a system may submit and computes the totals.
    pub fn check(&self) -> Result<Totals, DocumentError> {
        if self.lines.is_empty() {
            return Err(DocumentError::NoLines);
        }
        if self.lines.len() > MAX_LINES {
            return Err(DocumentError::TooManyLines);
        }
        for (i, l) in self.lines.iter().enumerate() {
            if l.description.trim().is_empty() {
                return Err(DocumentError::NoDescription(i + 1));
            }
            if l.description.chars().count() > MAX_TEXT {
                return Err(DocumentError::TooLong);
            }
        }
        if self.notes.chars().count() > MAX_TEXT || self.terms.chars().count() > MAX_TEXT {
            return Err(DocumentError::TooLong);
        }
        let t = self.totals()?;
        if t.total == 0 {
            return Err(DocumentError::Zero);
        }
        Ok(t)
    }

    pub fn totals(&self) -> Result<Totals, TotalsError> {
        let lines: Vec<Line> = self.lines.iter().map(DocLine::line).collect();
        totals(&lines, self.rounding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_document_is_checked_and_totalled() {
        let d = Document::parse(
            r#"{"lines":[{"description":"Toner","quantity_milli":2000,"unit_price":1999,"tax_rate_bp":2300},
                         {"description":"Visit","quantity_milli":1500,"unit_price":4000,"discount":{"kind":"percent","value":1000}}],
                "notes":"Obrigado"}"#,
        )
        .unwrap();
        let t = d.check().unwrap();
        // 2 × 19.99 = 39.98, tax 23 % = 9.1954 → 9.20; 1.5 × 40 = 60 − 10 % = 54.00.
        assert_eq!(t.subtotal, 3998 + 5400);
        assert_eq!(t.tax, 920);
        assert_eq!(t.total, 3998 + 920 + 5400);
    }

    #[test]
    fn bad_documents_are_refused_in_words() {
        assert_eq!(
            Document::parse(r#"{"lines":[]}"#).unwrap().check(),
            Err(DocumentError::NoLines)
        );
        assert_eq!(
            Document::parse(
                r#"{"lines":[{"description":" ","quantity_milli":1000,"unit_price":5}]}"#
            )
            .unwrap()
            .check(),
            Err(DocumentError::NoDescription(1))
        );
        assert!(matches!(
            Document::parse(r#"{"lines":[],"total":5}"#),
            Err(DocumentError::Json(_))
        ));
        assert_eq!(
            Document::parse(r#"{"lines":[{"description":"x","quantity_milli":0,"unit_price":5}]}"#)
                .unwrap()
                .check(),
            Err(DocumentError::Zero)
        );
    }
}
